/**
 * trace-search.ts — a trace search across the cluster (DESIGN.md §7), the
 * coordinator of Tempo's `GET /api/search`: every shard's part
 * (trace-search-shard.ts) in parallel over peer RPC, then a merge.
 *
 * A search is a QueryIr (trace-ir.ts: traceSearchIr), validated (ir.ts)
 * and planned (planner.ts: every shard, the replica by consistency, the
 * shard part lowered back to the shard.searchTraces frame, the coordinator
 * part a k-way merge by trace start). Failover, backoff, the deadline and
 * cancellation are shard-fanout.ts's, with TraceSearchLimits' bounds: the leader after a
 * ReadIndex barrier for `linearizable` (the default, promise 2: the answer
 * holds every write acknowledged before the search began), any replica for
 * `stale`. A shard no replica answered is reported in `failedShards` and
 * the answer is `partial` — the search never fails because one shard did,
 * unless every shard did.
 *
 * Merge: every shard's traces, each shard's run sorted by compareSummaries
 * (trace start descending, then trace id), merged k-way (merge.ts) and cut
 * at `limit`. Stats are summed. Each shard part also stops, partial, once
 * it has read more than its bytes budget (QueryLimits.bytesScannedMaxDefault
 * unless the query says less; checked between batches and traces, so it
 * may overrun by one batch or one trace).
 *
 * Owner: the node owns one TraceSearch; it registers shard.searchTraces on
 * the node's transport.
 */
import { QueryCounters } from './query-counters.js';
import type { QueryCounts } from './query-counters.js';
import { assert } from '../errors.js';
import { QueryLimits, TraceSearchLimits as L } from '../limits.js';
import type { GroupId } from '../raft/types.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import { addScanStats, newScanStats } from '../storage/shard/signal-store.js';
import { TraceStore } from '../storage/traces/trace-store.js';
import { validateIr } from './ir.js';
import { kWayMerge, takeMerged } from './merge.js';
import { planQuery } from './planner.js';
import type { QueryPlan } from './planner.js';
import { allFailedError, fanOut, runHere, shardMapOf } from './shard-fanout.js';
import { traceSearchIr } from './trace-ir.js';
import { SEARCH_BATCH_PARTS_MAX, SHARD_SEARCH_TRACES_BATCH, searchBatch, serveSearchBatch } from './trace-search-batch.js';
import type { FailedShard, FanoutDeps } from './shard-fanout.js';

export type { FailedShard } from './shard-fanout.js';
import type { TraceSearchQuery } from './search-params.js';
import { compareSummaries, searchShard } from './trace-search-shard.js';
import type { ShardSearchAnswer, ShardSearchOptions } from './trace-search-shard.js';
import { SHARD_SEARCH_TRACES, decodeSearchAnswer, decodeSearchRequest, encodeSearchAnswer, encodeSearchRequest } from './trace-search-wire.js';
import type { Consistency, WireShardAnswer, WireTraceSummary } from './trace-search-wire.js';

/** TraceSearchDeps are what a search needs from its node (shard-fanout.ts). */
export type TraceSearchDeps = FanoutDeps;

/** SearchResult is a whole search's answer. */
export interface SearchResult {
  readonly traces: WireTraceSummary[];
  /** partial: a shard failed or stopped at a bound, so traces may be missing. */
  readonly partial: boolean;
  readonly shardsAsked: number;
  readonly failedShards: FailedShard[];
  readonly inspectedTraces: number;
  readonly inspectedSpans: number;
  readonly stats: ScanStats;
}

/** TraceSearch runs searches for its node and serves its shards' parts; see the top of this file. */
export class TraceSearch {
  readonly #d: TraceSearchDeps;
  readonly #shardOptions: ShardSearchOptions | undefined;
  readonly #counters = new QueryCounters();

  /** shardOptions are the options of this node's shard parts (searchShard's defaults when absent; a test plants bugs through them). */
  constructor(deps: TraceSearchDeps, shardOptions?: ShardSearchOptions) {
    this.#d = deps;
    this.#shardOptions = shardOptions;
  }

  /** register installs shard.searchTraces on the node's transport. */
  register(): void {
    this.#d.transport.handle(SHARD_SEARCH_TRACES, async (payload, ctx) => {
      const r = decodeSearchRequest(payload);
      // ctx.deadlineMs is the caller's budget for this call, in ms from its arrival.
      const deadline = this.#d.nowMs() + Math.min(L.shardCallMs, ctx.deadlineMs);
      return encodeSearchAnswer(await this.#runHere(r.group, r.tenant, r.consistency, r.query, deadline, ctx.signal));
    });
    this.#d.transport.handle(SHARD_SEARCH_TRACES_BATCH, async (payload, ctx) => {
      const deadline = this.#d.nowMs() + Math.min(L.shardCallMs, ctx.deadlineMs);
      return serveSearchBatch(payload, (r) => this.#runHere(r.group, r.tenant, r.consistency, r.query, deadline, ctx.signal));
    });
  }

  /**
   * search runs `q` for `tenant` on every shard (shard-fanout.ts) and merges
   * the answers. ERR_UNAVAILABLE when the cluster has no placement yet, the
   * client went away, or no shard answered (unless every shard refused the
   * query alike: then that refusal).
   */
  async search(tenant: string, q: TraceSearchQuery, consistency: Consistency, signal?: AbortSignal): Promise<SearchResult> {
    return this.run(planQuery(validateIr(traceSearchIr(tenant, q, consistency)), shardMapOf(this.#d, null)), signal);
  }

  /**
   * run executes a trace-search plan (planner.ts): its shard part on every
   * target over shard-fanout.ts, then its coordinator part — a k-way merge
   * of the shards' answers (each sorted by compareSummaries, checked on
   * decode) cut at the limit.
   */
  async run(plan: QueryPlan, signal?: AbortSignal): Promise<SearchResult> {
    const part = plan.shardPart;
    assert(part.kind === 'traceSearch' && plan.coordinator.merge === 'kwayByTime', 'run takes a trace-search plan');
    return this.#counters.track(signal, () => this.#run(plan, part.query, signal));
  }

  /** counters are the searches in flight and those cancelled by their client since start. */
  counters(): QueryCounts {
    return this.#counters.counts();
  }

  async #run(plan: QueryPlan, q: TraceSearchQuery, signal: AbortSignal | undefined): Promise<SearchResult> {
    const { tenant, consistency } = plan.ir;
    const outcomes = await fanOut(
      this.#d,
      { ...L, wallMsMax: plan.ir.limits.wallMsMax },
      plan.targets,
      {
        what: 'search',
        here: (shard, deadlineMs, parts) => this.searchHere(shard, tenant, consistency, q, deadlineMs, parts),
        remote: async (peer, shard, timeoutMs, parts) =>
          decodeSearchAnswer(await this.#d.transport.call(peer, SHARD_SEARCH_TRACES, encodeSearchRequest({ group: shard, tenant, consistency, query: q }), timeoutMs, parts), q.limit, q.spss),
        // A peer first for two or more shards gets them in one call (trace-search-batch.ts).
        batch: (peer, shards, timeoutMs, parts) => searchBatch(this.#d.transport, peer, shards, timeoutMs, { tenant, consistency, query: q }, parts),
        batchPartsMax: SEARCH_BATCH_PARTS_MAX,
      },
      signal,
    );
    const failedShards: FailedShard[] = [];
    const runs: WireTraceSummary[][] = [];
    const stats = newScanStats();
    let partial = false;
    let inspectedTraces = 0;
    let inspectedSpans = 0;
    for (const o of outcomes) {
      if ('error' in o) {
        failedShards.push({ shard: o.shard, code: o.error.code, message: o.error.message });
        continue;
      }
      partial ||= o.answer.partial;
      inspectedTraces += o.answer.inspectedTraces;
      inspectedSpans += o.answer.inspectedSpans;
      addScanStats(stats, o.answer.stats);
      runs.push(o.answer.traces);
    }
    if (failedShards.length === outcomes.length) throw allFailedError(failedShards, 'search');
    const traces = takeMerged(kWayMerge(runs, compareSummaries), plan.coordinator.limit).rows;
    return { traces, partial: partial || failedShards.length > 0, shardsAsked: outcomes.length, failedShards, inspectedTraces, inspectedSpans, stats };
  }

  /**
   * searchHere runs a shard's part on this node: as its leader after a
   * ReadIndex barrier (linearizable), or on whatever replica it hosts (stale).
   * `signal` cancels it (runHere): it stops at its next budget check.
   */
  async searchHere(group: GroupId, tenant: string, consistency: Consistency, q: TraceSearchQuery, deadlineMs: number, signal?: AbortSignal): Promise<WireShardAnswer> {
    // Through the wire codec even locally, so a local and a remote part look the same to the merge.
    return decodeSearchAnswer(encodeSearchAnswer(await this.#runHere(group, tenant, consistency, q, deadlineMs, signal)), q.limit, q.spss);
  }

  #runHere(group: GroupId, tenant: string, consistency: Consistency, q: TraceSearchQuery, deadlineMs: number, signal: AbortSignal | undefined): Promise<ShardSearchAnswer> {
    return runHere(
      this.#d,
      group,
      consistency,
      deadlineMs,
      (read) => {
        const store = read.stores.traces;
        assert(store instanceof TraceStore, 'the traces store is a TraceStore');
        return searchShard(store, read.kv, tenant, q, shardPartBudget(q, deadlineMs, this.#d.nowMs, signal), undefined, this.#shardOptions);
      },
      signal,
    );
  }
}

/**
 * shardPartBudget is a shard part's stop condition: its deadline passed
 * (on the `nowMs` clock), the scan read more than the query's bytes
 * budget (QueryLimits.bytesScannedMaxDefault when it names none), or its
 * caller cancelled it (`signal`). The part then stops and answers partial
 * (runHere turns a cancelled part's answer into its cancel error).
 */
export function shardPartBudget(q: Pick<TraceSearchQuery, 'bytesScannedMax'>, deadlineMs: number, nowMs: () => number, signal?: AbortSignal): (scanned: Readonly<ScanStats>) => boolean {
  const bytesMax = q.bytesScannedMax ?? QueryLimits.bytesScannedMaxDefault;
  assert(bytesMax >= 1, 'a bytes budget >= 1');
  if (signal === undefined) return (scanned) => nowMs() > deadlineMs || scanned.bytesRead > bytesMax;
  return (scanned) => signal.aborted || nowMs() > deadlineMs || scanned.bytesRead > bytesMax;
}

/** tempoTraceId is a trace id as Tempo's search prints it: lower-case hex without leading zeros. */
export function tempoTraceId(id: Uint8Array): string {
  const hex = Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex').replace(/^0+/, '');
  return hex === '' ? '0' : hex;
}

/**
 * tempoSearchJson renders a search result in Tempo's /api/search shape
 * (`traces` with `spanSet` and `spanSets`, `metrics`), plus otlpdb's
 * `stats` (shards asked and failed, blocks scanned and pruned, bytes read,
 * partial) that Grafana ignores.
 */
export function tempoSearchJson(r: SearchResult): unknown {
  return {
    traces: r.traces.map((t) => {
      const spanSet = {
        spans: t.spans.map((s) => ({
          spanID: Buffer.from(s.spanId).toString('hex'),
          name: s.name,
          startTimeUnixNano: s.startNs.toString(),
          durationNanos: s.durationNs.toString(),
          ...(s.attributes.length > 0 ? { attributes: s.attributes } : {}),
        })),
        matched: t.matched,
      };
      return {
        traceID: tempoTraceId(t.traceId),
        rootServiceName: t.rootServiceName,
        rootTraceName: t.rootTraceName,
        startTimeUnixNano: t.startNs.toString(),
        durationMs: Number(t.durationNs / 1_000_000n),
        spanSet,
        spanSets: [spanSet],
      };
    }),
    metrics: {
      inspectedTraces: r.inspectedTraces,
      inspectedBytes: String(r.stats.bytesRead),
      totalBlocks: r.stats.blocksScanned + r.stats.blocksPrunedTime + r.stats.blocksPrunedBloom + r.stats.blocksPrunedIndex,
      completedJobs: r.shardsAsked - r.failedShards.length,
      totalJobs: r.shardsAsked,
    },
    stats: {
      shardsAsked: r.shardsAsked,
      failedShards: r.failedShards,
      partial: r.partial,
      inspectedSpans: r.inspectedSpans,
      blocksScanned: r.stats.blocksScanned,
      blocksPrunedTime: r.stats.blocksPrunedTime,
      blocksPrunedBloom: r.stats.blocksPrunedBloom,
      blocksPrunedIndex: r.stats.blocksPrunedIndex,
      bytesRead: r.stats.bytesRead,
      headRowsScanned: r.stats.headRowsScanned,
    },
  };
}
