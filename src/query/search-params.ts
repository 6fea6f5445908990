/**
 * search-params.ts — the query parameters of Tempo's `GET /api/search`
 * turned into a TraceSearchQuery (trace-search.ts), or refused with
 * ERR_INVALID_ARGUMENT naming the parameter and what was wrong.
 *
 * Parameters, as Tempo documents them:
 * - `tags`: logfmt `key=value` pairs (values bare or double-quoted with Go
 *   escapes). Every pair must hold on one span (its own attributes or its
 *   resource's), except the trace-level ones. Special keys, as Tempo's tag
 *   search has them: `name` (span name), `status.code` (`unset|ok|error` or
 *   0|1|2), `error=true` (status error), `service.name` (the resource's),
 *   `root.service.name` and `root.name` (the trace's root span).
 * - `minDuration`, `maxDuration`: Go durations (`1.5s`, `100ms`, `1h2m`) of
 *   the whole trace (first start to last end), inclusive.
 * - `limit`: traces returned (default TraceSearchLimits.limitDefault).
 * - `start`, `end`: unix seconds; [start, end) holds a matching span's
 *   start. Absent: the last TraceSearchLimits.rangeDefaultMs.
 * - `spss`: spans listed per span set (default spssDefault).
 * - `q`: a TraceQL query (src/query/traceql), parsed here so a syntax error
 *   is a 400 naming its line:column; the conditions every matching span
 *   must satisfy (extractPushdown) that the indexes answer become the span
 *   predicate (pushdownPredicate), and the shards run the whole query over
 *   each candidate trace. `q` and `tags` exclude each other.
 * - otlpdb's `scan=index|full` (default index): `full` reads every span of
 *   the range without the indexes (TraceSearchQuery.fullScan).
 *
 * Pure code: `nowMs` is passed in.
 */
import { OtlpdbError } from '../errors.js';
import { TraceSearchLimits as L } from '../limits.js';
import type { SpanKind, StatusCode } from '../storage/rows.js';
import { spanPredicate } from '../storage/traces/span-index.js';
import type { SpanPredicate } from '../storage/traces/span-index.js';
import { TRACEQL_KINDS, TRACEQL_STATUSES, extractPushdown, parseTraceql } from './traceql/index.js';
import type { PushdownCondition } from './traceql/index.js';

/** TraceSearchQuery is one search as every shard runs it (trace-search.ts). */
export interface TraceSearchQuery {
  /** startNs and endNs bound a matching span's start: [startNs, endNs). */
  readonly startNs: bigint;
  readonly endNs: bigint;
  /** predicate is what one span must satisfy (a conjunction; the shard's postings answer it). */
  readonly predicate: SpanPredicate;
  /** rootService and rootName are trace-level: the root span's resource service.name and name. */
  readonly rootService?: string;
  readonly rootName?: string;
  /** minTraceDurationNs and maxTraceDurationNs bound the trace's duration (first start to last end), inclusive. */
  readonly minTraceDurationNs?: bigint;
  readonly maxTraceDurationNs?: bigint;
  /** limit is the traces returned, spss the spans listed per span set. */
  readonly limit: number;
  readonly spss: number;
  /**
   * fullScan makes every shard read every span of the range and test the
   * predicate itself, without postings, blooms or head column checks: the
   * baseline the index is measured against (bench/query-traces) and a way to
   * check the index's answers. Same results, more work.
   */
  readonly fullScan?: boolean;
  /** traceql is the TraceQL text of `q` (already parsed once; every shard parses it again); predicate then holds its pushdown. */
  readonly traceql?: string;
  /** bytesScannedMax is each shard part's bytes budget; past it the part stops and answers partial. Absent: QueryLimits.bytesScannedMaxDefault. */
  readonly bytesScannedMax?: number;
}

/**
 * traceSearchQuery is `f` in the one shape every TraceSearchQuery has: all
 * its fields in one order (an absent one undefined), its predicate through
 * spanPredicate. The query a node runs for its own shards (lowered from the
 * IR) and the one a peer's frame carries (trace-search-wire.ts) are then
 * objects of one map, as are an attribute search's and a duration
 * search's, so searchShard and the store's search code, optimised on the
 * first, do not deoptimise at the other (bench/README.md, query-traces, s23).
 */
export function traceSearchQuery(f: TraceSearchQuery): TraceSearchQuery {
  return {
    startNs: f.startNs,
    endNs: f.endNs,
    predicate: spanPredicate(f.predicate),
    rootService: f.rootService,
    rootName: f.rootName,
    minTraceDurationNs: f.minTraceDurationNs,
    maxTraceDurationNs: f.maxTraceDurationNs,
    limit: f.limit,
    spss: f.spss,
    fullScan: f.fullScan,
    traceql: f.traceql,
    bytesScannedMax: f.bytesScannedMax,
  };
}

function bad(param: string, why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `invalid ${param}: ${why}`, { param });
}

const DURATION_UNITS_NS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const DURATION_PART = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
/** DURATION_TEXT_MAX bounds a duration's text (a Go duration is never near it). */
const DURATION_TEXT_MAX = 64;

/**
 * parseGoDuration reads a Go duration (time.ParseDuration without a sign:
 * one or more `<decimal><unit>` parts, units ns us µs ms s m h) as whole
 * nanoseconds, or null when it is not one.
 */
export function parseGoDuration(text: string): bigint | null {
  if (text.length === 0 || text.length > DURATION_TEXT_MAX) return null;
  if (text === '0') return 0n;
  let rest = text;
  let ns = 0;
  while (rest.length > 0) {
    const m = DURATION_PART.exec(rest);
    if (m === null) return null;
    ns += Number(m[1]) * (DURATION_UNITS_NS[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  if (!Number.isFinite(ns) || ns > Number.MAX_SAFE_INTEGER) return null;
  return BigInt(Math.round(ns));
}

/**
 * parseLogfmt reads `key=value` pairs separated by spaces; a value is bare
 * (up to the next space) or double-quoted with backslash escapes. A key
 * without `=value`, an empty key or an unterminated quote is refused.
 */
export function parseLogfmt(text: string, param = 'tags'): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    const keyStart = i;
    while (i < n && text[i] !== '=' && text[i] !== ' ' && text[i] !== '\t' && text[i] !== '"') i++;
    const key = text.slice(keyStart, i);
    if (key === '') throw bad(param, `empty key at offset ${keyStart}`);
    if (text[i] !== '=') throw bad(param, `key ${JSON.stringify(key)} has no =value`);
    i++;
    let value = '';
    if (text[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = text[i] as string;
        if (c === '\\') {
          const e = text[i + 1];
          if (e === undefined) break;
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) throw bad(param, `unterminated quoted value of key ${JSON.stringify(key)}`);
      if (i < n && text[i] !== ' ' && text[i] !== '\t') throw bad(param, `no space after the quoted value of key ${JSON.stringify(key)}`);
    } else {
      const start = i;
      while (i < n && text[i] !== ' ' && text[i] !== '\t') i++;
      value = text.slice(start, i);
    }
    out.push([key, value]);
    if (out.length > L.tagsMax) throw bad(param, `more than TraceSearchLimits.tagsMax (${L.tagsMax}) pairs`);
  }
  return out;
}

const STATUS_NAMES: Readonly<Record<string, StatusCode>> = { unset: 0, ok: 1, error: 2, '0': 0, '1': 1, '2': 2 };

function positiveInt(params: URLSearchParams, name: string, dflt: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return dflt;
  if (!/^\d{1,9}$/.test(raw)) throw bad(name, `${JSON.stringify(raw.slice(0, 32))} is not a positive integer`);
  const v = Number(raw);
  if (v < 1) throw bad(name, 'must be at least 1');
  if (v > max) throw bad(name, `${v} exceeds the maximum ${max}`);
  return v;
}

function unixSeconds(params: URLSearchParams, name: string): bigint | null {
  const raw = params.get(name);
  if (raw === null || raw === '') return null;
  if (!/^\d{1,12}$/.test(raw)) throw bad(name, `${JSON.stringify(raw.slice(0, 32))} is not unix seconds`);
  return BigInt(raw) * 1_000_000_000n;
}

function duration(params: URLSearchParams, name: string): bigint | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  const ns = parseGoDuration(raw);
  if (ns === null) throw bad(name, `${JSON.stringify(raw.slice(0, 32))} is not a duration such as 1.5s or 100ms`);
  return ns;
}

/**
 * pushdownPredicate turns TraceQL's pushdown conditions into the span
 * predicate the trace store's indexes answer. Only conditions the indexes
 * answer exactly or as a superset are taken: the intrinsics name, status
 * and kind, and the duration range.
 * Attribute equalities are not taken here: the span predicate's attribute
 * terms have Tempo's tag form, and TraceQL's `.x = v` also holds for an
 * array element equal to v and for a double equal to an int. Each shard
 * pushes them instead as the span match it derives from the query text
 * (traceql/pushdown.ts extractSpanMatch), which span index format 3 answers
 * through its TraceQL-form value terms.
 */
export function pushdownPredicate(conditions: readonly PushdownCondition[]): SpanPredicate {
  const p: { name?: string; status?: StatusCode; kind?: SpanKind; minDurationNs?: bigint; maxDurationNs?: bigint } = {};
  for (const c of conditions) {
    if (c.kind === 'durationRange') {
      if (c.minNs !== null) p.minDurationNs = c.minInclusive ? c.minNs : c.minNs + 1n;
      if (c.maxNs !== null) p.maxDurationNs = c.maxInclusive ? c.maxNs : c.maxNs - 1n;
      continue;
    }
    const f = c.field;
    const v = c.value;
    if (f.kind !== 'intrinsic') continue;
    if (f.name === 'name' && v.type === 'string') p.name = v.value;
    else if (f.name === 'status' && v.type === 'status') p.status = TRACEQL_STATUSES.indexOf(v.value) as StatusCode;
    else if (f.name === 'kind' && v.type === 'kind') p.kind = TRACEQL_KINDS.indexOf(v.value) as SpanKind;
  }
  return p;
}

/**
 * parseSearchParams turns Tempo's search parameters into a TraceSearchQuery,
 * or throws ERR_INVALID_ARGUMENT naming the parameter.
 */
export function parseSearchParams(params: URLSearchParams, nowMs: number): TraceSearchQuery {
  const qText = params.get('q');
  const traceql = qText === null || qText.trim() === '' ? undefined : qText;
  if (traceql !== undefined && (params.get('tags') ?? '') !== '') throw bad('q', 'q (TraceQL) and tags exclude each other');
  let traceqlPredicate: SpanPredicate = {};
  if (traceql !== undefined) {
    try {
      traceqlPredicate = pushdownPredicate(extractPushdown(parseTraceql(traceql)));
    } catch (err) {
      if (err instanceof OtlpdbError) throw new OtlpdbError(err.code, `invalid q: ${err.message}`, { ...err.details, param: 'q' });
      throw err;
    }
  }
  const scan = params.get('scan') ?? 'index';
  if (scan !== 'index' && scan !== 'full') throw bad('scan', 'index or full');
  const limit = positiveInt(params, 'limit', L.limitDefault, L.limitMax);
  const spss = positiveInt(params, 'spss', L.spssDefault, L.spssMax);
  const nowNs = BigInt(Math.floor(nowMs)) * 1_000_000n;
  const start = unixSeconds(params, 'start');
  const end = unixSeconds(params, 'end');
  // Tempo's end is inclusive to the second: a span at end's second is in range.
  const endNs = end === null ? nowNs + 1n : end + 1_000_000_000n;
  const startNs = start ?? endNs - BigInt(L.rangeDefaultMs) * 1_000_000n;
  if (startNs >= endNs) throw bad('start', 'start must be before end');
  if (endNs - startNs > BigInt(L.rangeMsMax) * 1_000_000n + 1_000_000_000n) {
    throw bad('end', `the range from start to end exceeds TraceSearchLimits.rangeMsMax (${L.rangeMsMax / 3_600_000} h)`);
  }
  const minTraceDurationNs = duration(params, 'minDuration');
  const maxTraceDurationNs = duration(params, 'maxDuration');
  if (minTraceDurationNs !== undefined && maxTraceDurationNs !== undefined && maxTraceDurationNs < minTraceDurationNs) {
    throw bad('maxDuration', 'maxDuration is below minDuration');
  }
  const tagsText = params.get('tags') ?? '';
  if (Buffer.byteLength(tagsText) > L.tagsBytesMax) throw bad('tags', `longer than TraceSearchLimits.tagsBytesMax (${L.tagsBytesMax} bytes)`);
  const attrs: [string, string][] = [];
  let predicate: { service?: string; name?: string; status?: StatusCode } = {};
  let rootService: string | undefined;
  let rootName: string | undefined;
  const once = <T>(key: string, prev: T | undefined, next: T): T => {
    if (prev !== undefined && prev !== next) throw bad('tags', `key ${JSON.stringify(key)} is given twice with different values`);
    return next;
  };
  for (const [key, value] of parseLogfmt(tagsText)) {
    switch (key) {
      case 'name':
        predicate = { ...predicate, name: once(key, predicate.name, value) };
        break;
      case 'service.name':
        predicate = { ...predicate, service: once(key, predicate.service, value) };
        break;
      case 'status.code': {
        const code = STATUS_NAMES[value];
        if (code === undefined) throw bad('tags', `status.code ${JSON.stringify(value)} is not unset, ok or error`);
        predicate = { ...predicate, status: once(key, predicate.status, code) };
        break;
      }
      case 'error':
        if (value !== 'true') throw bad('tags', 'error takes only the value true');
        predicate = { ...predicate, status: once(key, predicate.status, 2 as StatusCode) };
        break;
      case 'root.service.name':
        rootService = once(key, rootService, value);
        break;
      case 'root.name':
        rootName = once(key, rootName, value);
        break;
      default:
        attrs.push([key, value]);
    }
  }
  return traceSearchQuery({
    startNs,
    endNs,
    predicate: traceql !== undefined ? traceqlPredicate : { ...predicate, ...(attrs.length > 0 ? { attrs } : {}) },
    traceql,
    rootService,
    rootName,
    minTraceDurationNs,
    maxTraceDurationNs,
    limit,
    spss,
    ...(scan === 'full' ? { fullScan: true } : {}),
  });
}
