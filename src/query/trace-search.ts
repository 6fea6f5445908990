/**
 * trace-search.ts — a trace search across the cluster (DESIGN.md §7), the
 * coordinator of Tempo's `GET /api/search`: every shard's part
 * (trace-search-shard.ts) in parallel over peer RPC, then a merge.
 *
 * Replica choice per shard:
 * - `linearizable` (the default, promise 2): the shard leader, after a
 *   ReadIndex barrier, so the answer holds every write acknowledged before
 *   the search began. Routing as trace-lookup.ts: this node when it leads,
 *   else the leader it knows, else the placed replicas in order, following
 *   ERR_NOT_LEADER hints;
 * - `stale`: this node's replica when it hosts one, else the placed
 *   replicas in order; any replica answers from what it has applied.
 * A replica that fails or does not answer in time (retryable errors) hands
 * the shard to the next one, at most TraceSearchLimits.attemptsPerShardMax
 * calls per shard; a shard no replica answered is reported in `failedShards`
 * and the answer is `partial` — the search never fails because one shard did,
 * unless every shard did.
 *
 * Merge: every shard's traces ordered by compareSummaries (trace start
 * descending, then trace id), the first `limit` kept. Stats are summed.
 *
 * Owner: the node owns one TraceSearch; it registers shard.searchTraces on
 * the node's transport.
 */
import { ErrorCodes, OtlpdbError, assert } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { TraceSearchLimits as L } from '../limits.js';
import type { MultiRaftDriver } from '../raft/driver/multi-raft.js';
import { NONE, StateRole } from '../raft/types.js';
import type { GroupId, NodeId, Rand } from '../raft/types.js';
import { reconnectDelayMs } from '../transport/backoff.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { ShardStateMachine } from '../storage/shard/shard-state-machine.js';
import { TraceStore } from '../storage/traces/trace-store.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import type { TraceSearchQuery } from './search-params.js';
import { compareSummaries, searchShard } from './trace-search-shard.js';
import type { ShardSearchAnswer } from './trace-search-shard.js';
import { SHARD_SEARCH_TRACES, decodeSearchAnswer, decodeSearchRequest, encodeSearchAnswer, encodeSearchRequest } from './trace-search-wire.js';
import type { Consistency, WireShardAnswer, WireTraceSummary } from './trace-search-wire.js';

/** TraceSearchDeps are what a search needs from its node (the same shape as TraceLookupDeps). */
export interface TraceSearchDeps {
  readonly self: NodeId;
  readonly transport: PeerTransport;
  readonly driver: () => MultiRaftDriver | null;
  /** shardCount is the recorded shard count (0 before the placement is known). */
  readonly shardCount: () => number;
  readonly replicasOf: (shard: GroupId) => readonly NodeId[];
  /** nowMs is a monotonic clock in ms (deadlines). */
  readonly nowMs: () => number;
  /** rand jitters the backoff between shard calls; sleep waits it out. */
  readonly rand: Rand;
  readonly sleep: (ms: number) => Promise<void>;
}

const BACKOFF = { baseMs: L.retryBackoffBaseMs, maxMs: L.retryBackoffMaxMs, jitterPercent: 50 } as const;

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ErrorCodes, code);
}

/** ShardOutcome is one shard's part of a search: its answer, or the last error when no replica answered. */
type ShardOutcome = { readonly shard: GroupId; readonly answer: WireShardAnswer } | { readonly shard: GroupId; readonly error: OtlpdbError };

/** FailedShard names a shard no replica answered, and the last error. */
export interface FailedShard {
  readonly shard: GroupId;
  readonly code: string;
  readonly message: string;
}

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

function sumStats(into: ScanStats, from: ScanStats): void {
  into.blocksScanned += from.blocksScanned;
  into.blocksPrunedTime += from.blocksPrunedTime;
  into.blocksPrunedBloom += from.blocksPrunedBloom;
  into.blocksPrunedIndex += from.blocksPrunedIndex;
  into.bytesRead += from.bytesRead;
  into.headRowsScanned += from.headRowsScanned;
}

/** TraceSearch runs searches for its node and serves its shards' parts; see the top of this file. */
export class TraceSearch {
  readonly #d: TraceSearchDeps;

  constructor(deps: TraceSearchDeps) {
    this.#d = deps;
  }

  /** register installs shard.searchTraces on the node's transport. */
  register(): void {
    this.#d.transport.handle(SHARD_SEARCH_TRACES, async (payload, ctx) => {
      const r = decodeSearchRequest(payload);
      // ctx.deadlineMs is the caller's budget for this call, in ms from its arrival.
      const deadline = this.#d.nowMs() + Math.min(L.shardCallMs, ctx.deadlineMs);
      return encodeSearchAnswer(await this.#runHere(r.group, r.tenant, r.consistency, r.query, deadline));
    });
  }

  /**
   * search runs `q` for `tenant` on every shard and merges the answers.
   * ERR_UNAVAILABLE when the cluster has no placement yet or no shard answered.
   */
  async search(tenant: string, q: TraceSearchQuery, consistency: Consistency, signal?: AbortSignal): Promise<SearchResult> {
    const shardCount = this.#d.shardCount();
    if (shardCount < 1) throw new OtlpdbError('ERR_UNAVAILABLE', 'the cluster is bootstrapping: no shard placement yet; retry');
    const deadline = this.#d.nowMs() + L.wallMsMax;
    const shards: GroupId[] = [];
    for (let s = 1; s <= shardCount; s++) shards.push(s);
    const cancelled = (): OtlpdbError => new OtlpdbError('ERR_UNAVAILABLE', 'the search was cancelled: its client went away');
    const isAborted = (): boolean => signal?.aborted === true;
    if (isAborted()) throw cancelled();
    // A cancelled search answers at once: shard calls still in flight are left to their deadlines, and no further call or retry starts.
    let onAbort: (() => void) | null = null;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(cancelled());
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    let outcomes: ShardOutcome[];
    try {
      outcomes = await Promise.race([Promise.all(shards.map((s) => this.#searchShard(s, tenant, q, consistency, deadline, signal))), aborted]);
    } finally {
      if (onAbort !== null) signal?.removeEventListener('abort', onAbort);
    }
    if (isAborted()) throw cancelled();
    const failedShards: FailedShard[] = [];
    const traces: WireTraceSummary[] = [];
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
      sumStats(stats, o.answer.stats);
      for (const t of o.answer.traces) traces.push(t);
    }
    if (failedShards.length === shardCount) {
      const first = failedShards[0] as FailedShard;
      // Every shard refusing the same way (a query a shard cannot run) is that refusal; anything else is the cluster being unavailable.
      const same = failedShards.every((f) => f.code === first.code) && !(isErrorCode(first.code) && ErrorCodes[first.code].retryable);
      const code: ErrorCode = same && isErrorCode(first.code) ? first.code : 'ERR_UNAVAILABLE';
      throw new OtlpdbError(code, `no shard answered the search (shard ${first.shard}: ${first.message})`, { shards: shardCount });
    }
    traces.sort(compareSummaries);
    if (traces.length > q.limit) traces.length = q.limit;
    return { traces, partial: partial || failedShards.length > 0, shardsAsked: shardCount, failedShards, inspectedTraces, inspectedSpans, stats };
  }

  /**
   * searchHere runs a shard's part on this node: as its leader after a
   * ReadIndex barrier (linearizable), or on whatever replica it hosts (stale).
   */
  async searchHere(group: GroupId, tenant: string, consistency: Consistency, q: TraceSearchQuery, deadlineMs: number): Promise<WireShardAnswer> {
    // Through the wire codec even locally, so a local and a remote part look the same to the merge.
    return decodeSearchAnswer(encodeSearchAnswer(await this.#runHere(group, tenant, consistency, q, deadlineMs)), q.limit, q.spss);
  }

  async #runHere(group: GroupId, tenant: string, consistency: Consistency, q: TraceSearchQuery, deadlineMs: number): Promise<ShardSearchAnswer> {
    const driver = this.#d.driver();
    const st = driver?.status(group) ?? null;
    if (driver === null || st === null) throw new OtlpdbError('ERR_NOT_LEADER', `node ${this.#d.self} hosts no replica of shard ${group}`, { group, leaderHint: NONE });
    if (consistency === 'linearizable') {
      if (st.role !== StateRole.Leader) throw new OtlpdbError('ERR_NOT_LEADER', `node ${this.#d.self} does not lead shard ${group}`, { group, leaderHint: st.lead });
      await driver.read(group);
    }
    const sm = driver.stateMachine(group);
    assert(sm instanceof ShardStateMachine, 'a shard group runs the shard state machine');
    const read = sm.acquireRead();
    try {
      const store = read.stores.traces;
      assert(store instanceof TraceStore, 'the traces store is a TraceStore');
      return await searchShard(store, read.kv, tenant, q, () => this.#d.nowMs() > deadlineMs);
    } finally {
      await read.release();
    }
  }

  #firstTarget(shard: GroupId, consistency: Consistency, replicas: readonly NodeId[]): NodeId {
    const local = this.#d.driver()?.status(shard) ?? null;
    if (consistency === 'stale' && local !== null) return this.#d.self;
    if (local?.role === StateRole.Leader) return this.#d.self;
    if (local !== null && local.lead !== NONE) return local.lead;
    return replicas[0] ?? NONE;
  }

  async #searchShard(
    shard: GroupId,
    tenant: string,
    q: TraceSearchQuery,
    consistency: Consistency,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<ShardOutcome> {
    const replicas = this.#d.replicasOf(shard);
    let target = this.#firstTarget(shard, consistency, replicas);
    let last = new OtlpdbError('ERR_UNAVAILABLE', `shard ${shard} has no known replica`, { shard });
    const tried = new Set<NodeId>();
    let failures = 0;
    for (let attempt = 0; attempt < L.attemptsPerShardMax; attempt++) {
      if (target === NONE) target = replicas[attempt % Math.max(1, replicas.length)] ?? NONE;
      if (target === NONE) break;
      const leftMs = Math.floor(deadline - this.#d.nowMs());
      if (leftMs < 1 || signal?.aborted === true) {
        last = new OtlpdbError('ERR_TIMEOUT', `shard ${shard}: the search's time (TraceSearchLimits.wallMsMax) ran out; last error: ${last.message}`, { shard });
        break;
      }
      tried.add(target);
      try {
        if (target === this.#d.self) return { shard, answer: await this.searchHere(shard, tenant, consistency, q, this.#d.nowMs() + Math.min(leftMs, L.shardCallMs)) };
        const bytes = await this.#d.transport.call(target, SHARD_SEARCH_TRACES, encodeSearchRequest({ group: shard, tenant, consistency, query: q }), Math.min(leftMs, L.shardCallMs));
        return { shard, answer: decodeSearchAnswer(bytes, q.limit, q.spss) };
      } catch (err) {
        const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', String(err));
        last = e;
        if (!e.retryable && e.code !== 'ERR_CORRUPTION') break;
        const hint = Number(e.details['leaderHint'] ?? NONE);
        // A hint is followed once a round: after a leader dies its followers keep naming it until they elect another.
        if (e.code === 'ERR_NOT_LEADER' && hint !== NONE && hint !== target && !tried.has(hint)) {
          target = hint;
          continue;
        }
        // Fail over: the next placed replica not tried yet, else the next in order after a pause
        // (a shard electing a leader answers ERR_NOT_LEADER without a hint everywhere for a while).
        const untried = replicas.find((r) => !tried.has(r));
        const i = replicas.indexOf(target);
        target = untried ?? replicas[(i + 1) % Math.max(1, replicas.length)] ?? NONE;
        if (untried === undefined) {
          failures++;
          const pauseMs = Math.min(reconnectDelayMs(failures, this.#d.rand, BACKOFF), Math.floor(deadline - this.#d.nowMs()));
          if (pauseMs < 1) break;
          await this.#d.sleep(pauseMs);
          tried.clear();
        }
      }
    }
    return { shard, error: last };
  }
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
