/**
 * logs-query.ts — the shard-wide log reads of a node (DESIGN.md §7) behind
 * Loki's API: a cluster LogSource for the LogQL engine (select fanned out
 * and merged k-way by time; shardEval fanned out and united), the label
 * reads (/labels, /label/{name}/values, /series, /index/stats), and the
 * shard handlers that answer them (peer methods in logs-wire.ts).
 *
 * Routing, failover, backoff, the deadline and cancellation are
 * shard-fanout.ts's (planner.ts replicaChoice): `linearizable`, the default,
 * asks each shard's leader after a ReadIndex barrier; `stale` any replica,
 * this node's first. A shard no replica answered, or whose answer was cut at
 * LogsQueryLimits.answerBytesMax, is a partial failure in the source's
 * stats; only when every shard failed is the read an error.
 *
 * select: each shard answers its first `limit` entries in the direction
 * (every entry, up to shardEntriesMax, for limit null); the coordinator
 * merges the runs k-way by time (merge.ts; ties in shard order) and yields
 * batches of at most batchEntriesMax, stopping at `limit`.
 * NB: one call per shard, no cursor paging: a shard answer cut by bytes is
 * reported, not continued.
 *
 * shardEval: the engine injected at construction (null until the lead wires
 * the LogQL engine in) runs each shard's part over that shard's
 * ShardLogSource; answers are united: entries merged by time in the
 * direction and cut at the request's limit, partial series concatenated
 * (the engine combines them).
 *
 * Owner: the node owns one LogsQuery; register() installs the handlers on
 * its transport.
 */
import { OtlpdbError, assert } from '../errors.js';
import { LogsQueryLimits as L, LogStoreLimits } from '../limits.js';
import type { GroupId } from '../raft/types.js';
import { streamKey } from '../storage/logs/log-block.js';
import { LogStore } from '../storage/logs/log-store.js';
import type { ShardRead } from '../storage/shard/shard-state-machine.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import type { LogEntry, LogLabels, LogShardAnswer, LogShardEvalRequest, LogSource, LogSourceStats, LogqlEngine, SelectLogsRequest } from './logql/source.js';
import { byTimeAsc, byTimeDesc, kWayMerge } from './merge.js';
import { allFailedError, everyShard, fanOut, isQueryRefusal, runHere } from './shard-fanout.js';
import type { FanoutBounds, FanoutDeps, ShardOutcome } from './shard-fanout.js';
import { matchesSelector, splitMatchers } from './logs-selector.js';
import { ShardLogSource, addScanToSourceStats, checkSelect, newLogSourceStats } from './logs-shard-source.js';
import {
  SHARD_LOGS_EVAL,
  SHARD_LOGS_LABELS,
  SHARD_LOGS_SELECT,
  decodeEntriesAnswer,
  decodeEvalAnswer,
  decodeEvalRequest,
  decodeLabelsAnswer,
  decodeLabelsRequest,
  decodeSelectRequest,
  encodeEntriesAnswer,
  encodeEvalAnswer,
  encodeEvalRequest,
  encodeLabelsAnswer,
  encodeLabelsRequest,
  encodeSelectRequest,
} from './logs-wire.js';
import type { LabelsRead, LabelsResult, ShardCallHeader, ShardEntriesAnswer, ShardEvalAnswer } from './logs-wire.js';
import type { Consistency } from './trace-search-wire.js';

/** LOG_FANOUT_BOUNDS are the fan-out bounds of every log read. */
const LOG_FANOUT_BOUNDS: FanoutBounds = L;

/** engineMissing is the error of a pushed query on a node without a LogQL engine. */
export function engineMissing(): OtlpdbError {
  return new OtlpdbError('ERR_UNAVAILABLE', 'LogQL engine not wired');
}

function cancelled(): OtlpdbError {
  return new OtlpdbError('ERR_UNAVAILABLE', 'the log query was cancelled: its client went away');
}

/** LabelsAnswer is a merged label read with its stats. */
export interface LabelsAnswer {
  readonly result: LabelsResult;
  readonly stats: LogSourceStats;
}

/** LogsQuery runs a node's shard-wide log reads and serves its shards' parts; see the top of this file. */
export class LogsQuery {
  readonly #d: FanoutDeps;
  readonly #engine: LogqlEngine | null;

  /** engine is the LogQL engine the pushed shard parts run (null: those parts answer ERR_UNAVAILABLE "LogQL engine not wired"). */
  /** plantDropMetadata is the test-only planted bug `logql-shard-drops-metadata` (node.ts TEST_PLANTS): pushed log queries lose structured metadata on the shard. */
  readonly #plantDropMetadata: boolean;

  constructor(deps: FanoutDeps, engine: LogqlEngine | null, opts: { readonly plantDropMetadata?: boolean } = {}) {
    this.#plantDropMetadata = opts.plantDropMetadata === true;
    this.#d = deps;
    this.#engine = engine;
  }

  /** engine is the injected LogQL engine, or null. */
  get engine(): LogqlEngine | null {
    return this.#engine;
  }

  /** register installs shard.logsSelect, shard.logsEval and shard.logsLabels on the node's transport. */
  register(): void {
    const deadline = (ctxMs: number): number => this.#d.nowMs() + Math.min(L.shardCallMs, ctxMs);
    this.#d.transport.handle(SHARD_LOGS_SELECT, async (payload, ctx) => {
      const r = decodeSelectRequest(payload);
      return encodeEntriesAnswer(await this.#selectHere(r.header, r.req, deadline(ctx.deadlineMs), ctx.signal));
    });
    this.#d.transport.handle(SHARD_LOGS_EVAL, async (payload, ctx) => {
      const r = decodeEvalRequest(payload);
      return encodeEvalAnswer(await this.#evalHere(r.header, r.req, deadline(ctx.deadlineMs), ctx.signal));
    });
    this.#d.transport.handle(SHARD_LOGS_LABELS, async (payload, ctx) => {
      const r = decodeLabelsRequest(payload);
      const a = await this.#labelsHere(r.header, r.read, deadline(ctx.deadlineMs), ctx.signal);
      return encodeLabelsAnswer(a.stats, a.result);
    });
  }

  /** source is a cluster LogSource for one query of `tenant` at `consistency` (its stats are that query's). */
  source(tenant: string, consistency: Consistency): ClusterLogSource {
    return new ClusterLogSource(this, tenant, consistency);
  }

  /** fan runs one shard call on every shard (shard-fanout.ts) at `consistency`. */
  fan<A>(
    what: string,
    consistency: Consistency,
    here: (h: ShardCallHeader, deadlineMs: number, signal: AbortSignal) => Promise<A>,
    remote: (h: ShardCallHeader, peer: number, timeoutMs: number, signal: AbortSignal) => Promise<A>,
    tenant: string,
    signal: AbortSignal,
    only: ReadonlySet<number> | null = null,
  ): Promise<ShardOutcome<A>[]> {
    return fanOut(
      this.#d,
      LOG_FANOUT_BOUNDS,
      only === null ? consistency : everyShard(this.#d, consistency).filter((t) => only.has(t.shard)),
      {
        what,
        here: (shard, deadlineMs, parts) => here({ group: shard, tenant, consistency }, deadlineMs, parts),
        remote: (peer, shard, timeoutMs, parts) => remote({ group: shard, tenant, consistency }, peer, timeoutMs, parts),
      },
      signal,
    );
  }

  /** selectShards runs a select's shard parts and returns the outcomes (local parts pass through the wire codec too). */
  selectShards(tenant: string, consistency: Consistency, req: SelectLogsRequest, signal: AbortSignal): Promise<ShardOutcome<ShardEntriesAnswer>[]> {
    return this.fan(
      'log select',
      consistency,
      async (h, deadlineMs, parts) => decodeEntriesAnswer(encodeEntriesAnswer(await this.#selectHere(h, req, deadlineMs, parts)), req.direction, req.limit),
      async (h, peer, timeoutMs, parts) => decodeEntriesAnswer(await this.#d.transport.call(peer, SHARD_LOGS_SELECT, encodeSelectRequest(h, req), timeoutMs, parts), req.direction, req.limit),
      tenant,
      signal,
    );
  }

  /** evalShards runs a pushed query's shard parts (on the shards `only` names, when given). */
  evalShards(tenant: string, consistency: Consistency, req: LogShardEvalRequest, signal: AbortSignal, only: ReadonlySet<number> | null = null): Promise<ShardOutcome<ShardEvalAnswer>[]> {
    return this.fan(
      'log query',
      consistency,
      async (h, deadlineMs, parts) => decodeEvalAnswer(encodeEvalAnswer(await this.#evalHere(h, req, deadlineMs, parts)), req),
      async (h, peer, timeoutMs, parts) => decodeEvalAnswer(await this.#d.transport.call(peer, SHARD_LOGS_EVAL, encodeEvalRequest(h, req), timeoutMs, parts), req),
      tenant,
      signal,
      only,
    );
  }

  /** shardCount is the cluster's recorded shard count (0 before the placement is known). */
  shardCount(): number {
    return this.#d.shardCount();
  }

  /**
   * labels runs a label read on every shard and merges: names and values
   * the sorted distinct union; series distinct; stats summed, streams
   * counted once. Past LogStoreLimits.labelResultsMax the merge is cut and
   * the stats record it.
   */
  async labels(tenant: string, read: LabelsRead, consistency: Consistency, signal: AbortSignal): Promise<LabelsAnswer> {
    const outcomes = await this.fan(
      'label read',
      consistency,
      async (h, deadlineMs, parts) => {
        const a = await this.#labelsHere(h, read, deadlineMs, parts);
        return decodeLabelsAnswer(encodeLabelsAnswer(a.stats, a.result), read);
      },
      async (h, peer, timeoutMs, parts) => decodeLabelsAnswer(await this.#d.transport.call(peer, SHARD_LOGS_LABELS, encodeLabelsRequest(h, read), timeoutMs, parts), read),
      tenant,
      signal,
    );
    const stats = newLogSourceStats();
    stats.shardsAsked = outcomes.length;
    const results: LabelsResult[] = [];
    for (const o of outcomes) {
      if ('error' in o) {
        stats.partialFailures.push({ shard: o.shard, code: o.error.code, message: o.error.message });
        continue;
      }
      addScanToSourceStats(stats, o.answer.stats);
      results.push(o.answer.result);
    }
    if (stats.partialFailures.length === outcomes.length) throw allFailedError(stats.partialFailures, 'label read');
    return { result: mergeLabels(read, results, stats), stats };
  }

  // The parts below check their cancel (the caller gave up) where the source checks its deadline: between blocks.
  async #selectHere(h: ShardCallHeader, req: SelectLogsRequest, deadlineMs: number, signal: AbortSignal): Promise<ShardEntriesAnswer> {
    checkSelect(req);
    return this.#onShard(h, deadlineMs, signal, async (read) => {
      const src = this.#shardSource(read, h.tenant, deadlineMs);
      const entries: LogEntry[] = [];
      for await (const batch of src.select(req, signal)) for (const e of batch) entries.push(e);
      return { cut: false, stats: src.scan, entriesRead: src.stats.entriesRead, entries };
    });
  }

  async #evalHere(h: ShardCallHeader, req: LogShardEvalRequest, deadlineMs: number, signal: AbortSignal): Promise<ShardEvalAnswer> {
    const engine = this.#engine;
    if (engine === null) throw engineMissing();
    return this.#onShard(h, deadlineMs, signal, async (read) => {
      const src = this.#shardSource(read, h.tenant, deadlineMs);
      const a: LogShardAnswer = await engine.evaluateShardPart(req, src, signal);
      if (a.kind === 'entries') {
        const entries = this.#plantDropMetadata ? a.entries.map((e) => ({ ...e, metadata: [] })) : a.entries;
        return { kind: 'entries', cut: false, stats: src.scan, entriesRead: src.stats.entriesRead, entries };
      }
      return { kind: 'partials', cut: false, stats: src.scan, entriesRead: src.stats.entriesRead, series: a.series };
    });
  }

  async #labelsHere(h: ShardCallHeader, read: LabelsRead, deadlineMs: number, signal: AbortSignal): Promise<{ stats: ScanStats; result: LabelsResult }> {
    return this.#onShard(h, deadlineMs, signal, async (r) => {
      const store = logStoreOf(r);
      const stats = newScanStats();
      const range = { startNs: read.startNs, endNs: read.endNs };
      switch (read.op) {
        case 'names':
          return { stats, result: { op: 'names', values: await store.labelNames(r.kv, h.tenant, range, stats) } };
        case 'values':
          return { stats, result: { op: 'values', values: await store.labelValues(r.kv, h.tenant, read.name as string, range, stats) } };
        case 'series': {
          const found = new Map<string, LogLabels>();
          for (const sel of read.selectors.length === 0 ? [[]] : read.selectors) {
            const split = splitMatchers(sel);
            for (const s of await store.series(r.kv, h.tenant, split.postings, range, stats)) {
              if (split.check === null || split.check(s)) found.set(streamKey(s), s);
            }
          }
          return { stats, result: { op: 'series', series: [...found.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map((e) => e[1]) } };
        }
        case 'stats': {
          const sel = read.selectors[0] ?? [];
          const s = await store.indexStats(r.kv, h.tenant, (labels) => matchesSelector(labels, sel), range, stats);
          return { stats, result: { op: 'stats', chunks: s.chunks, entries: s.entries, bytes: s.bytes, series: s.series } };
        }
      }
    });
  }

  #onShard<T>(h: ShardCallHeader, deadlineMs: number, signal: AbortSignal, fn: (read: ShardRead) => Promise<T>): Promise<T> {
    return runHere(this.#d, h.group as GroupId, h.consistency, deadlineMs, fn, signal);
  }

  #shardSource(read: ShardRead, tenant: string, deadlineMs: number): ShardLogSource {
    return new ShardLogSource({ store: logStoreOf(read), kv: read.kv, tenant, deadlineMs, nowMs: this.#d.nowMs });
  }
}

function logStoreOf(read: ShardRead): LogStore {
  const store = read.stores.logs;
  assert(store instanceof LogStore, 'the logs store is a LogStore');
  return store;
}

/** mergeLabels unites shard results of one read (see LogsQuery.labels). */
export function mergeLabels(read: LabelsRead, results: readonly LabelsResult[], stats: LogSourceStats): LabelsResult {
  const max = LogStoreLimits.labelResultsMax;
  const cutNote = (what: string): void => {
    stats.partialFailures.push({ shard: 0, code: 'ERR_LIMIT_EXCEEDED', message: `more than LogStoreLimits.labelResultsMax (${max}) ${what}; the answer is cut` });
  };
  if (read.op === 'names' || read.op === 'values') {
    const all = new Set<string>();
    for (const r of results) if ('values' in r) for (const v of r.values) all.add(v);
    const values = [...all].sort();
    if (values.length > max) {
      values.length = max;
      cutNote(read.op === 'names' ? 'label names' : 'label values');
    }
    return { op: read.op, values };
  }
  const series = new Map<string, LogLabels>();
  let chunks = 0;
  let entries = 0;
  let bytes = 0;
  for (const r of results) {
    if (r.op === 'stats') {
      chunks += r.chunks;
      entries += r.entries;
      bytes += r.bytes;
    }
    if (r.op === 'series' || r.op === 'stats') for (const s of r.series) series.set(streamKey(s), s);
  }
  const sorted = [...series.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map((e) => e[1]);
  if (sorted.length > max && read.op === 'series') {
    sorted.length = max;
    cutNote('series');
  }
  if (read.op === 'series') return { op: 'series', series: sorted };
  return { op: 'stats', chunks, entries, bytes, series: sorted };
}

/** firstRoundLimit is what the first round of a pushed log query asks of each of `shards` shards (see shardEval). */
export function firstRoundLimit(limit: number, shards: number): number {
  assert(Number.isSafeInteger(limit) && limit >= 1, 'a log query has a limit');
  return Math.min(limit, Math.max(L.firstRoundEntriesMin, Math.ceil((2 * limit) / Math.max(1, shards))));
}

/** mergeEntries merges shards' answers (each in the direction's order) k-way by time and keeps the first `limit`. */
export function mergeEntries(answers: readonly (readonly LogEntry[])[], direction: 'forward' | 'backward', limit: number): LogEntry[] {
  const cmp = direction === 'forward' ? byTimeAsc<LogEntry>((e) => e.timeNs) : byTimeDesc<LogEntry>((e) => e.timeNs);
  const entries: LogEntry[] = [];
  for (const batch of kWayMerge(answers, cmp)) {
    for (const e of batch) {
      if (entries.length === limit) return entries;
      entries.push(e);
    }
  }
  return entries;
}

/**
 * firstRoundPlan names the shards a pushed log query must ask again for
 * `limit` after a first round that asked each for `k` (< limit): those
 * that answered k entries and whose last entry is not strictly past the
 * `limit`-th of the merge (every full shard when fewer were merged).
 * Strictly: a shard's unseen entries are no earlier in the direction than
 * its last one, so when that is strictly past the merged `limit`-th they
 * cannot enter the first `limit`; ties are asked again.
 */
export function firstRoundPlan(byShard: ReadonlyMap<number, readonly LogEntry[]>, k: number, limit: number, direction: 'forward' | 'backward'): Set<number> {
  assert(k >= 1 && k < limit, 'a first round asks less than the limit');
  const merged = mergeEntries([...byShard.keys()].sort((a, b) => a - b).map((s) => byShard.get(s) as readonly LogEntry[]), direction, limit);
  const bound = merged.length === limit ? (merged[limit - 1] as LogEntry).timeNs : null;
  const out = new Set<number>();
  for (const [shard, entries] of byShard) {
    assert(entries.length <= k, 'a shard answers at most what it was asked');
    if (entries.length < k) continue;
    const last = (entries[entries.length - 1] as LogEntry).timeNs;
    const past = bound !== null && (direction === 'backward' ? last < bound : last > bound);
    if (!past) out.add(shard);
  }
  return out;
}

/** ClusterLogSource is a LogSource over every shard of the cluster for one query (see the top of this file). */
export class ClusterLogSource implements LogSource {
  readonly stats: LogSourceStats = newLogSourceStats();
  readonly #q: LogsQuery;
  readonly #tenant: string;
  readonly #consistency: Consistency;

  constructor(q: LogsQuery, tenant: string, consistency: Consistency) {
    this.#q = q;
    this.#tenant = tenant;
    this.#consistency = consistency;
  }

  #collect<A extends { readonly stats: ScanStats; readonly entriesRead: number; readonly cut: boolean }>(outcomes: readonly ShardOutcome<A>[], what: string): A[] {
    this.stats.shardsAsked += outcomes.length;
    const answers: A[] = [];
    for (const o of outcomes) {
      if ('error' in o) {
        // A shard refusing the query itself (a pipeline error, a bound passed) refuses it everywhere: the query fails, it is not partial.
        if (isQueryRefusal(o.error)) throw o.error;
        this.stats.partialFailures.push({ shard: o.shard, code: o.error.code, message: o.error.message });
        continue;
      }
      addScanToSourceStats(this.stats, o.answer.stats);
      this.stats.entriesRead += o.answer.entriesRead;
      if (o.answer.cut) this.stats.partialFailures.push({ shard: o.shard, code: 'ERR_LIMIT_EXCEEDED', message: `shard ${o.shard}: its answer was cut at LogsQueryLimits.answerBytesMax (${L.answerBytesMax} bytes)` });
      answers.push(o.answer);
    }
    if (answers.length === 0) throw allFailedError(outcomes.map((o) => ('error' in o ? { shard: o.shard, code: o.error.code, message: o.error.message } : { shard: o.shard, code: 'ERR_INTERNAL', message: '' })), what);
    return answers;
  }

  async *select(req: SelectLogsRequest, signal: AbortSignal): AsyncGenerator<readonly LogEntry[]> {
    checkSelect(req);
    const answers = this.#collect(await this.#q.selectShards(this.#tenant, this.#consistency, req, signal), 'log select');
    const cmp = req.direction === 'forward' ? byTimeAsc<LogEntry>((e) => e.timeNs) : byTimeDesc<LogEntry>((e) => e.timeNs);
    let left = req.limit ?? Number.MAX_SAFE_INTEGER;
    for (const batch of kWayMerge(answers.map((a) => a.entries), cmp, L.batchEntriesMax)) {
      if (signal.aborted) throw cancelled();
      const out = batch.length > left ? batch.slice(0, left) : batch;
      left -= out.length;
      if (out.length > 0) yield out;
      if (left === 0) return;
    }
  }

  /**
   * shardEval runs a pushed query on every shard and unites the answers.
   * A log query (entries) runs in two rounds: first each shard is asked for
   * its first k = max(firstRoundEntriesMin, ⌈2 × limit / shards⌉) entries
   * (at most `limit`); after the merge, a shard is asked again, for
   * `limit`, only when it answered k (it may hold more) and its last entry
   * is not strictly past the merged `limit`-th (or fewer than `limit` were
   * merged). Exact: a shard not asked again holds nothing past what it
   * answered that can rank before the merged `limit`-th entry, so the
   * merge's first `limit` equal those of one round that asked every shard
   * for `limit` (firstRoundPlan, logs-topk.test.ts).
   */
  async shardEval(req: LogShardEvalRequest, signal: AbortSignal): Promise<LogShardAnswer> {
    if (this.#q.engine === null) throw engineMissing();
    const k = firstRoundLimit(req.limit, this.#q.shardCount());
    const first = await this.#q.evalShards(this.#tenant, this.#consistency, { ...req, limit: k }, signal);
    const answers = this.#collect(first, 'log query');
    const kinds = new Set(answers.map((a) => a.kind));
    if (kinds.size !== 1) throw new OtlpdbError('ERR_INTERNAL', 'shards answered a pushed query with different kinds');
    if (answers[0]?.kind === 'partials') return { kind: 'partials', series: answers.flatMap((a) => (a.kind === 'partials' ? a.series : [])) };
    const byShard = new Map<number, readonly LogEntry[]>();
    for (const o of first) if ('answer' in o && o.answer.kind === 'entries') byShard.set(o.shard, o.answer.entries);
    const again = k < req.limit ? firstRoundPlan(byShard, k, req.limit, req.direction) : new Set<number>();
    if (again.size > 0) {
      const second = await this.#q.evalShards(this.#tenant, this.#consistency, req, signal, again);
      this.#collect(second, 'log query');
      for (const o of second) if ('answer' in o && o.answer.kind === 'entries') byShard.set(o.shard, o.answer.entries);
    }
    return { kind: 'entries', entries: mergeEntries([...byShard.keys()].sort((a, b) => a - b).map((s) => byShard.get(s) as readonly LogEntry[]), req.direction, req.limit) };
  }
}
