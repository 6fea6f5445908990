/**
 * trace-search-shard.ts — the shard part of a trace search (DESIGN.md §7
 * step 2): on one shard replica, find the traces whose spans match a
 * TraceSearchQuery and summarise each the way Tempo's search answers.
 *
 * A trace lives in one shard (DESIGN.md §4), so everything trace-level
 * (root span, trace duration, the spans of a span set) is decided here and
 * the coordinator only merges. Steps:
 *
 *  1. candidates: TraceStore.searchSpanRefs with the query's span predicate
 *     over [startNs, endNs) — postings, blooms and time pruning do the work,
 *     and only the trace id and start of each matching span are read (no
 *     span row is decoded) — grouped by trace, each with the start of its
 *     latest matching span; a full scan (`fullScan`) reads whole rows with
 *     searchSpans and tests the predicate here instead. For a TraceQL
 *     search the predicate also carries the query's span match
 *     (extractSpanMatch: attribute equalities of every scope, `&&`, `||`,
 *     the operands of spanset operators), which the block indexes answer
 *     like tag terms; so a candidate is a trace with a span satisfying the
 *     pushdown whose start is in the range;
 *  2. the candidates newest first (latest matching span start descending,
 *     trace id ascending), each read whole (traceById) and summarised:
 *     trace-level filters (root service, root name, trace duration), then
 *     its matching spans (latest versions) as one span set — for a TraceQL
 *     search, the spans of the spanset the query yields over the whole
 *     trace (its predicate is only the pushdown, a necessary condition);
 *     A candidate of a search whose span predicate is the time range alone
 *     (a duration search) that lies wholly in one block is answered from
 *     that block's trace summaries instead (trace-search-summary.ts), with
 *     the same result and no page read;
 *  3. at most `limit` summaries.
 *
 * Early stop: searchSpanRefs reads the newest blocks first and says with
 * every batch how late an unread matching span may still start (its
 * frontier). A candidate whose latest matching start is after the frontier
 * can no longer move, and every trace not seen yet sorts after it, so such
 * candidates are summarised (step 2) as soon as they appear, in order, and
 * the scan stops once `limit` traces passed. The answer is the one reading
 * every candidate first gives (ShardSearchOptions.earlyStop false; the
 * seeded differential test in trace-search-shard.test.ts checks it);
 * inspectedSpans then counts only the spans read before the stop.

 * Every stage is bounded (TraceSearchLimits: candidate spans, candidate
 * traces, traces read, the deadline); a stage stopped by a bound marks the
 * answer `partial` instead of growing or failing.
 *
 * Ordering note: a shard keeps the `limit` traces whose matching spans
 * started last; the coordinator then orders every shard's traces by trace
 * start. With a trace-level filter that rejects candidates, the traces read
 * are bounded by tracesFetchedMax.
 */
import { OtlpdbError, assert } from '../errors.js';
import { TraceSearchLimits as L } from '../limits.js';
import type { AnyValue, SpanRow } from '../storage/rows.js';
import type { KvRead } from '../storage/shard/shard-db.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import { addScanStats, newScanStats } from '../storage/shard/signal-store.js';
import { serviceOf } from '../storage/traces/span-block.js';
import type { SpanMatch, SpanPredicate } from '../storage/traces/span-index.js';
import { attrIndexValue, spanPredicate } from '../storage/traces/span-index.js';
import { idKey } from '../storage/traces/span-head.js';
import type { TraceSummaryEntry } from '../storage/traces/trace-summaries.js';
import type { TraceRefs, TraceStore } from '../storage/traces/trace-store.js';
import { spanMatches } from '../storage/traces/trace-store.js';
import type { TraceSearchQuery } from './search-params.js';
import { summaryAnswers, summaryFromEntry } from './trace-search-summary.js';
import { TraceqlProgram, extractSpanMatch, formatDuration, parseTraceql } from './traceql/index.js';
import type { TraceqlSelected, TraceqlValue } from './traceql/index.js';

/** ROOT_NOT_RECEIVED is Tempo's root service name of a trace whose root span is not stored. */
export const ROOT_NOT_RECEIVED = '<root span not yet received>';

/** MatchedSpan is one span of a span set. */
export interface MatchedSpan {
  readonly spanId: Uint8Array;
  readonly name: string;
  readonly startNs: bigint;
  readonly durationNs: bigint;
  /** attributes are the span's values of `service.name` and of the query's attribute keys (span first, then resource). */
  readonly attributes: readonly { readonly key: string; readonly value: AnyValue }[];
}

/** TraceSummary is one trace of a search answer. */
export interface TraceSummary {
  readonly traceId: Uint8Array;
  readonly rootServiceName: string;
  readonly rootTraceName: string;
  readonly startNs: bigint;
  readonly durationNs: bigint;
  /** matched is how many spans of the trace matched; spans lists at most spss of them, by start time. */
  readonly matched: number;
  readonly spans: readonly MatchedSpan[];
}

/** ShardSearchAnswer is one shard's part of a search. */
export interface ShardSearchAnswer {
  readonly traces: TraceSummary[];
  /** partial says a bound (candidates, traces read, deadline) stopped the shard before it saw everything. */
  readonly partial: boolean;
  /** inspectedTraces counts the traces settled (read whole or answered from summaries); inspectedSpans the spans that matched the span predicate. */
  readonly inspectedTraces: number;
  /** summarizedTraces counts the traces of inspectedTraces answered from block trace summaries, without reading their spans (a shard answer only: the wire does not carry it). */
  readonly summarizedTraces?: number;
  readonly inspectedSpans: number;
  readonly stats: ScanStats;
}

/** ShardSearchBounds overrides TraceSearchLimits for tests (smaller bounds reach `partial` quickly). */
export interface ShardSearchBounds {
  readonly candidateSpansMax: number;
  readonly candidateTracesMax: number;
  readonly tracesFetchedMax: number;
}

/** ShardSearchOptions choose how a shard part runs; the answer is the same either way. */
export interface ShardSearchOptions {
  /**
   * earlyStop (the default) summarises candidates as soon as no unread span
   * can move them ahead (searchSpanRefs' frontier) and stops the scan at
   * `limit` traces; false reads every candidate first (the differential
   * tests' reference path).
   */
  readonly earlyStop: boolean;
  /**
   * plantDropResourceMatches is a planted bug for tests only (node.ts
   * TEST_PLANTS `traceql-pushdown-drops-resource-matches`): the TraceQL span
   * match ignores resource attributes, so traces matched only through a
   * resource attribute are lost. It exists so the cluster differential test
   * can show it catches a pushdown that drops matches.
   */
  readonly plantDropResourceMatches?: boolean;
  /**
   * spanMatch false leaves the TraceQL span match (extractSpanMatch) out of
   * the predicate: candidates then come from the intrinsic pushdown alone,
   * as before attribute pushdown. Same answer, more work: the baseline
   * bench/query-traces-shard measures the span match against.
   */
  readonly spanMatch?: boolean;
  /**
   * summaries false never answers a trace from its block's trace summaries
   * (trace-search-summary.ts): every candidate is read whole, as before the
   * table; nor takes a block's candidates from them (storage/traces/
   * summary-refs.ts): every block of the candidate stage is read. Same
   * answer, more reads: the differential tests' reference and the benches'
   * "before".
   */
  readonly summaries?: boolean;
  /**
   * summaryRefs false keeps the trace summaries out of the candidate stage
   * only (storage/traces/summary-refs.ts: every block is read for its
   * pairs) while settling still uses them. Same answer: the bench's A/B of
   * the candidate stage alone.
   */
  readonly summaryRefs?: boolean;
  /**
   * pageFilters false reads every block whose skipped-terms bloom may hold a
   * skipped key's value whole, as before the per-page filters
   * (storage/traces/page-filters.ts). Same answer, more reads: the
   * differential tests' reference and the benches' "before".
   */
  readonly pageFilters?: boolean;
  /**
   * soleSummaries false settles a candidate whose block summary says "sole"
   * as any other (trace-id index scan, then the summary); the answer is the
   * same. For the benches' "before" and the tests' reference.
   */
  readonly soleSummaries?: boolean;
}

const DEFAULT_OPTIONS: ShardSearchOptions = { earlyStop: true };

/** Candidate is a trace with a matching span, and the latest start of its matching spans; done once read and summarised. */
interface Candidate {
  readonly key: string;
  readonly traceId: Uint8Array;
  lastStartNs: bigint;
  done: boolean;
  /** sole is the trace's "sole" block summary when every span noted came with it (SpanRefBatch.soles), else null. */
  sole: TraceSummaryEntry | null;
}

const DEFAULT_BOUNDS: ShardSearchBounds = {
  candidateSpansMax: L.candidateSpansMax,
  candidateTracesMax: L.candidateTracesMax,
  tracesFetchedMax: L.tracesFetchedMax,
};

function hexOf(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

/** compareSummaries orders traces newest first (trace start descending), then by trace id, for a deterministic merge. */
export function compareSummaries(a: Pick<TraceSummary, 'startNs' | 'traceId'>, b: Pick<TraceSummary, 'startNs' | 'traceId'>): number {
  if (a.startNs !== b.startNs) return a.startNs > b.startNs ? -1 : 1;
  const ha = hexOf(a.traceId);
  const hb = hexOf(b.traceId);
  return ha < hb ? -1 : ha > hb ? 1 : 0;
}

function selectedAttributes(s: SpanRow, q: TraceSearchQuery): MatchedSpan['attributes'] {
  const keys = ['service.name', ...(q.predicate.attrs ?? []).map(([k]) => k)];
  const out: { key: string; value: AnyValue }[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) continue;
    seen.add(key);
    const own = key === 'service.name' ? undefined : s.attributes.find((kv) => kv.key === key);
    const kv = own ?? s.resource.attributes.find((r) => r.key === key);
    if (kv !== undefined && attrIndexValue(kv.value) !== undefined) out.push({ key, value: kv.value });
  }
  return out;
}

/** anyValueOf is a TraceQL value as an OTLP AnyValue (status and kind as their keywords, a duration as its TraceQL text), or undefined for an opaque one. */
function anyValueOf(v: TraceqlValue): AnyValue | undefined {
  switch (v.type) {
    case 'string':
      return { type: 'string', value: v.value };
    case 'int':
      return { type: 'int', value: v.value };
    case 'float':
      return { type: 'double', value: v.value };
    case 'bool':
      return { type: 'bool', value: v.value };
    case 'duration':
      return { type: 'string', value: formatDuration(v.value) };
    case 'status':
    case 'kind':
      return { type: 'string', value: v.value };
    case 'array': {
      const values: AnyValue[] = [];
      for (const e of v.values) {
        const a = anyValueOf(e);
        if (a !== undefined) values.push(a);
      }
      return { type: 'array', values };
    }
    case 'other':
      return undefined;
  }
}

/** selectedValues are the fields a TraceQL select(...) asked for, as attributes. */
function selectedValues(selected: readonly TraceqlSelected[]): MatchedSpan['attributes'] {
  const out: { key: string; value: AnyValue }[] = [];
  for (const s of selected) {
    const value = anyValueOf(s.value);
    if (value !== undefined) out.push({ key: s.field, value });
  }
  return out;
}

/** durationPasses is the trace-duration filter of a search (minDuration and maxDuration, inclusive). */
function durationPasses(durationNs: bigint, q: TraceSearchQuery): boolean {
  if (q.minTraceDurationNs !== undefined && durationNs < q.minTraceDurationNs) return false;
  if (q.maxTraceDurationNs !== undefined && durationNs > q.maxTraceDurationNs) return false;
  return true;
}

/**
 * CandidateHeap holds the unsettled candidates as a binary heap in
 * compareCandidates order (newest latest matching start first, then trace
 * id). An entry records the start it was pushed with; once the candidate
 * moved (a later push) or was settled the entry is stale and dropped when it
 * reaches the top. Entries are at most the spans noted, which
 * TraceSearchLimits.candidateSpansMax bounds.
 */
class CandidateHeap {
  readonly #items: { c: Candidate; startNs: bigint }[] = [];

  /** push adds candidate c as of its latest matching start `startNs`. */
  push(c: Candidate, startNs: bigint): void {
    assert(c.lastStartNs === startNs, 'a candidate is pushed with its current start');
    const a = this.#items;
    a.push({ c, startNs });
    let i = a.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (this.#before(up, i)) break;
      [a[up], a[i]] = [a[i] as { c: Candidate; startNs: bigint }, a[up] as { c: Candidate; startNs: bigint }];
      i = up;
    }
  }

  /** peekLive drops stale entries off the top and returns the first live candidate, or null. */
  peekLive(): Candidate | null {
    for (;;) {
      const top = this.#items[0];
      if (top === undefined) return null;
      if (!top.c.done && top.c.lastStartNs === top.startNs) return top.c;
      this.pop();
    }
  }

  /** pop removes the top entry. */
  pop(): void {
    const a = this.#items;
    assert(a.length > 0, 'pop from a non-empty heap');
    const last = a.pop() as { c: Candidate; startNs: bigint };
    if (a.length === 0) return;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && !this.#before(m, l)) m = l;
      if (r < a.length && !this.#before(m, r)) m = r;
      if (m === i) return;
      [a[m], a[i]] = [a[i] as { c: Candidate; startNs: bigint }, a[m] as { c: Candidate; startNs: bigint }];
      i = m;
    }
  }

  /** #before says entry i sorts before entry j (compareCandidates on the pushed starts). */
  #before(i: number, j: number): boolean {
    const a = this.#items[i] as { c: Candidate; startNs: bigint };
    const b = this.#items[j] as { c: Candidate; startNs: bigint };
    if (a.startNs !== b.startNs) return a.startNs > b.startNs;
    return a.c.key <= b.c.key;
  }
}

/**
 * summarizeTrace is the search's view of one whole trace, or null when the
 * trace fails a trace-level filter or none of its spans matches.
 */
export function summarizeTrace(spans: readonly SpanRow[], q: TraceSearchQuery, program: TraceqlProgram | null = null): TraceSummary | null {
  if (spans.length === 0) return null;
  let start = (spans[0] as SpanRow).startTimeUnixNano;
  let end = (spans[0] as SpanRow).endTimeUnixNano;
  let root: SpanRow | null = null;
  for (const s of spans) {
    if (s.startTimeUnixNano < start) start = s.startTimeUnixNano;
    if (s.endTimeUnixNano > end) end = s.endTimeUnixNano;
    if (s.parentSpanId.length === 0 && (root === null || s.startTimeUnixNano < root.startTimeUnixNano)) root = s;
  }
  const durationNs = end > start ? end - start : 0n;
  if (!durationPasses(durationNs, q)) return null;
  const rootServiceName = root === null ? ROOT_NOT_RECEIVED : serviceOf(root.resource);
  const rootTraceName = root === null ? '' : root.name;
  if (q.rootService !== undefined && (root === null || rootServiceName !== q.rootService)) return null;
  if (q.rootName !== undefined && (root === null || rootTraceName !== q.rootName)) return null;
  const matching: { span: SpanRow; selected: readonly TraceqlSelected[] }[] = [];
  if (program === null) {
    for (const s of spans) if (spanMatches(s, q.predicate, q.startNs, q.endNs)) matching.push({ span: s, selected: [] });
  } else {
    const sets = program.evaluate(spans);
    assert(sets.length <= 1, 'TraceQL without by() yields at most one spanset a trace');
    for (const m of sets[0]?.spans ?? []) matching.push({ span: m.span, selected: m.selected });
  }
  if (matching.length === 0) return null;
  matching.sort((a, b) => (a.span.startTimeUnixNano < b.span.startTimeUnixNano ? -1 : a.span.startTimeUnixNano > b.span.startTimeUnixNano ? 1 : 0));
  const listed = matching.slice(0, q.spss).map(({ span: s, selected }) => ({
    spanId: s.spanId,
    name: s.name,
    startNs: s.startTimeUnixNano,
    durationNs: s.endTimeUnixNano > s.startTimeUnixNano ? s.endTimeUnixNano - s.startTimeUnixNano : 0n,
    attributes: program === null ? selectedAttributes(s, q) : [...selectedAttributes(s, q), ...selectedValues(selected)],
  }));
  return { traceId: (spans[0] as SpanRow).traceId, rootServiceName, rootTraceName, startNs: start, durationNs, matched: matching.length, spans: listed };
}

/** plantSpanOnly is the planted bug of ShardSearchOptions.plantDropResourceMatches: every attribute atom reads span attributes only. */
function plantSpanOnly(m: SpanMatch): SpanMatch {
  if (m.kind === 'and' || m.kind === 'or') return { kind: m.kind, args: m.args.map(plantSpanOnly) };
  return m.kind === 'attr' ? { ...m, scope: 'span' } : m;
}

/**
 * searchShard runs the shard part of `q` for `tenant` on one replica's
 * pinned read (store and kv from ShardStateMachine.acquireRead). `expired`
 * says the caller's budget ran out (its deadline passed, or the scan so far,
 * `scanned`, read more bytes than allowed): the shard then stops and
 * answers partial.
 */
export async function searchShard(
  store: TraceStore,
  kv: KvRead,
  tenant: string,
  q: TraceSearchQuery,
  expired: (scanned: Readonly<ScanStats>) => boolean,
  bounds: ShardSearchBounds = DEFAULT_BOUNDS,
  options: ShardSearchOptions = DEFAULT_OPTIONS,
): Promise<ShardSearchAnswer> {
  assert(q.limit >= 1 && q.spss >= 1, 'searchShard limit and spss >= 1');
  assert(bounds.candidateSpansMax >= 1 && bounds.candidateTracesMax >= 1 && bounds.tracesFetchedMax >= 1, 'searchShard bounds >= 1');
  const stats = newScanStats();
  // Every shard parses the query again: the text crossed the wire, the AST did not.
  const ast = q.traceql === undefined ? null : parseTraceql(q.traceql);
  const program = ast === null ? null : new TraceqlProgram(ast);
  // TraceQL narrows candidates further with its span match (attribute equalities, && and ||) on every path.
  const spanMatch = ast === null || options.spanMatch === false ? null : extractSpanMatch(ast);
  // spanPredicate: a TraceQL query's predicate in the one shape the others have (span-index.ts).
  const predicate: SpanPredicate = spanMatch === null ? q.predicate : spanPredicate({ ...q.predicate, match: options.plantDropResourceMatches === true ? plantSpanOnly(spanMatch) : spanMatch });
  let partial = false;
  let inspectedSpans = 0;
  let spansRead = 0;
  let inspectedTraces = 0;
  const traces: TraceSummary[] = [];
  const candidates = new Map<string, Candidate>();
  // Unsettled candidates, newest first: settle pops only those past the frontier instead of
  // re-scanning every candidate per batch. A candidate that moves is pushed again; its old
  // entry is stale (its start no longer matches) and skipped when popped.
  const heap = new CandidateHeap();
  /** note counts one matching span; false when the candidate-traces bound stops the scan. */
  const note = (traceId: Uint8Array, startNs: bigint, sole: TraceSummaryEntry | null = null): boolean => {
    inspectedSpans++;
    // idKey, not hexOf: a batch's trace ids are small on-heap arrays, and hexOf's `id.buffer` would move
    // each one's bytes off the heap (one backing store per noted span, every later GC slower). Both keys
    // order traces alike (one char per byte, in byte order), which the candidate heap's tie-break relies on.
    const key = idKey(traceId);
    const c = candidates.get(key);
    if (c !== undefined && c.sole !== sole) c.sole = null;
    if (c === undefined) {
      if (candidates.size >= bounds.candidateTracesMax) return false;
      const fresh = { key, traceId, lastStartNs: startNs, done: false, sole: options.soleSummaries === false ? null : sole };
      candidates.set(key, fresh);
      heap.push(fresh, startNs);
    } else if (startNs > c.lastStartNs) {
      assert(!c.done, 'a summarised candidate never moves: its spans left start at or before the frontier');
      c.lastStartNs = startNs;
      heap.push(c, startNs);
    }
    return true;
  };
  const filtersDuration = q.minTraceDurationNs !== undefined || q.maxTraceDurationNs !== undefined;
  const useSummaries = options.summaries !== false && summaryAnswers(q);
  let summarized = 0;
  /**
   * settle reads and summarises, newest first, the candidates no unread span
   * can move (latest matching start after `frontierNs`; all of them when
   * null), until `limit` traces; true when the shard is done.
   */
  const settle = async (frontierNs: bigint | null): Promise<boolean> => {
    for (;;) {
      const c = heap.peekLive();
      if (c === null || (frontierNs !== null && c.lastStartNs <= frontierNs)) break;
      if (traces.length >= q.limit) return true;
      if (inspectedTraces >= bounds.tracesFetchedMax || expired(stats)) {
        partial = true;
        return true;
      }
      heap.pop();
      c.done = true;
      let known: TraceRefs | undefined;
      // A trace its block's summary says is sole there (and no head holds): settled with no read at all.
      const sole = useSummaries && c.sole !== null ? store.soleSummary(tenant, c.traceId, c.sole) : null;
      const soleAnswer = sole === null ? undefined : summaryFromEntry(c.traceId, sole, q);
      if (soleAnswer !== undefined) {
        inspectedTraces++;
        summarized++;
        if (soleAnswer !== null) traces.push(soleAnswer);
        continue;
      }
      if (useSummaries) {
        // A trace wholly in one block is often answered by that block's trace summaries: no page is read.
        known = await store.traceRefs(kv, tenant, c.traceId, stats);
        const entry = await store.traceSummary(kv, tenant, c.traceId, stats, known);
        const answer = entry === null ? undefined : summaryFromEntry(c.traceId, entry, q);
        if (answer !== undefined) {
          inspectedTraces++;
          summarized++;
          if (answer !== null) traces.push(answer);
          continue;
        }
      }
      if (filtersDuration) {
        // The trace-id index alone often says the trace's duration fails: then no page is read.
        // It is scanned once: the same entries serve traceById when the trace must be read.
        known ??= await store.traceRefs(kv, tenant, c.traceId, stats);
        const extent = await store.traceExtent(kv, tenant, c.traceId, stats, known);
        if (extent !== null && !durationPasses(extent.maxEndNs > extent.minStartNs ? extent.maxEndNs - extent.minStartNs : 0n, q)) {
          inspectedTraces++;
          continue;
        }
      }
      const t = await store.traceById(kv, tenant, c.traceId, known);
      inspectedTraces++;
      addScanStats(stats, t.stats);
      if (t.truncated) partial = true;
      let summary: TraceSummary | null;
      try {
        summary = summarizeTrace(t.spans, q, program);
      } catch (err) {
        // A trace past TraceqlLimits.traceSpansMax is not evaluated: the answer says it is partial.
        if (!(err instanceof OtlpdbError) || err.code !== 'ERR_LIMIT_EXCEEDED') throw err;
        partial = true;
        continue;
      }
      if (summary !== null) traces.push(summary);
    }
    return traces.length >= q.limit;
  };
  const search = {
    startNs: q.startNs,
    endNs: q.endNs,
    limit: bounds.candidateSpansMax,
    ...(options.pageFilters === false ? { pageFilters: false } : {}),
    ...(options.summaries === false || options.summaryRefs === false ? { summaries: false } : {}),
  };
  if (q.fullScan === true) {
    // A full scan asks the store for every span of the range and tests the predicate here; it never stops early.
    scan: for await (const batch of store.searchSpans(kv, tenant, { ...search, predicate: {} }, stats)) {
      for (const s of batch) {
        spansRead++;
        if (!spanMatches(s, predicate, q.startNs, q.endNs)) continue;
        if (!note(s.traceId, s.startTimeUnixNano)) {
          partial = true;
          break scan;
        }
      }
      if (expired(stats)) {
        partial = true;
        break;
      }
    }
  } else {
    scan: for await (const batch of store.searchSpanRefs(kv, tenant, { ...search, predicate }, stats)) {
      for (let i = 0; i < batch.traceIds.length; i++) {
        spansRead++;
        if (!note(batch.traceIds[i] as Uint8Array, batch.startsNs[i] as bigint, batch.soles[i] ?? null)) {
          partial = true;
          break scan;
        }
      }
      if (expired(stats)) {
        partial = true;
        break;
      }
      if (options.earlyStop && batch.frontierNs !== null && (await settle(batch.frontierNs))) break;
    }
  }
  if (spansRead >= bounds.candidateSpansMax) partial = true;
  await settle(null);
  traces.sort(compareSummaries);
  assert(traces.length <= q.limit, 'a shard answers at most limit traces');
  assert(summarized <= inspectedTraces, 'summarised traces are settled traces');
  return { traces, partial, inspectedTraces, summarizedTraces: summarized, inspectedSpans, stats };
}
