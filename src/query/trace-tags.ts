/**
 * trace-tags.ts — a tag read across the cluster (DESIGN.md §7), the
 * coordinator of Tempo's tag routes (/api/search/tags, /api/v2/search/tags,
 * /api/search/tag/{tag}/values, /api/v2/search/tag/{tag}/values): every
 * shard's part (TraceStore.readTags, storage/traces/tag-read.ts) in parallel
 * over the peer method shard.readTags (frames in trace-tags-wire.ts), then a
 * merge.
 *
 * Replica choice, failover and backoff are trace-search.ts's, with its
 * bounds (TraceSearchLimits: attemptsPerShardMax, shardCallMs, wallMsMax,
 * the backoff): `linearizable` asks the shard leader after a ReadIndex
 * barrier, `stale` this node's replica when it hosts one. A shard no replica
 * answered is listed in `failedShards` and the answer is partial; only when
 * every shard failed is the read ERR_UNAVAILABLE.
 *
 * NB: the routing loop is a copy of TraceSearch's (#searchShard), which
 * another change is editing; once both settle it should become one shared
 * function over (encode request, decode answer, run here).
 *
 * Merge: the union of every shard's entries, distinct, sorted by (kind,
 * text), cut at the query's valuesMax and at TraceTagLimits.valueBytesMax
 * (partial when cut).
 *
 * Owner: the node owns one TraceTags; it registers shard.readTags on the
 * node's transport.
 */
import { OtlpdbError, assert } from '../errors.js';
import { TraceSearchLimits as S, TraceTagLimits as L } from '../limits.js';
import { NONE, StateRole } from '../raft/types.js';
import type { GroupId, NodeId } from '../raft/types.js';
import { reconnectDelayMs } from '../transport/backoff.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { ShardStateMachine } from '../storage/shard/shard-state-machine.js';
import type { TagEntry, TagRead, TagReadAnswer } from '../storage/traces/tag-read.js';
import { compareEntries } from '../storage/traces/tag-read.js';
import { TraceStore } from '../storage/traces/trace-store.js';
import type { FailedShard, TraceSearchDeps } from './trace-search.js';
import type { Consistency } from './trace-search-wire.js';
import { SHARD_READ_TAGS, decodeTagsAnswer, decodeTagsRequest, encodeTagsAnswer, encodeTagsRequest } from './trace-tags-wire.js';

/** TraceTagsDeps are what a tag read needs from its node: the same as a search's. */
export type TraceTagsDeps = TraceSearchDeps;

const BACKOFF = { baseMs: S.retryBackoffBaseMs, maxMs: S.retryBackoffMaxMs, jitterPercent: 50 } as const;

/** TagsResult is a whole tag read's answer. */
export interface TagsResult {
  /** entries are distinct, sorted by (kind, text), at most the query's valuesMax. */
  readonly entries: TagEntry[];
  /** partial: a shard failed or stopped at a bound, or the merge was cut, so entries may be missing. */
  readonly partial: boolean;
  readonly shardsAsked: number;
  readonly failedShards: FailedShard[];
  readonly stats: ScanStats;
}

/**
 * mergeTagAnswers is the coordinator's merge: the distinct entries of every
 * answer, sorted, cut at valuesMax entries and valueBytesMax bytes.
 */
export function mergeTagAnswers(answers: readonly TagReadAnswer[], valuesMax: number, valueBytesMax: number = L.valueBytesMax): { entries: TagEntry[]; cut: boolean } {
  const all = new Map<string, TagEntry>();
  for (const a of answers) for (const e of a.entries) all.set(`${e.kind}\u0000${e.text}`, e);
  const sorted = [...all.values()].sort(compareEntries);
  let bytes = 0;
  let keep = 0;
  for (; keep < sorted.length && keep < valuesMax; keep++) {
    const b = Buffer.byteLength((sorted[keep] as TagEntry).text);
    if (bytes + b > valueBytesMax) break;
    bytes += b;
  }
  const cut = keep < sorted.length;
  sorted.length = keep;
  assert(sorted.length <= valuesMax && bytes <= valueBytesMax, 'a merged answer stays within its bounds');
  return { entries: sorted, cut };
}

/** TraceTags runs tag reads for its node and serves its shards' parts; see the top of this file. */
export class TraceTags {
  readonly #d: TraceTagsDeps;

  constructor(deps: TraceTagsDeps) {
    this.#d = deps;
  }

  /** register installs shard.readTags on the node's transport. */
  register(): void {
    this.#d.transport.handle(SHARD_READ_TAGS, async (payload, ctx) => {
      const r = decodeTagsRequest(payload);
      const deadline = this.#d.nowMs() + Math.min(S.shardCallMs, ctx.deadlineMs);
      return encodeTagsAnswer(await this.#runHere(r.group, r.tenant, r.consistency, r.query, deadline));
    });
  }

  /** read runs `q` for `tenant` on every shard and merges the answers. ERR_UNAVAILABLE when there is no placement yet or no shard answered. */
  async read(tenant: string, q: TagRead, consistency: Consistency, signal?: AbortSignal): Promise<TagsResult> {
    const shardCount = this.#d.shardCount();
    if (shardCount < 1) throw new OtlpdbError('ERR_UNAVAILABLE', 'the cluster is bootstrapping: no shard placement yet; retry');
    const deadline = this.#d.nowMs() + S.wallMsMax;
    const shards: GroupId[] = [];
    for (let s = 1; s <= shardCount; s++) shards.push(s);
    const outcomes = await Promise.all(shards.map((s) => this.#readShard(s, tenant, q, consistency, deadline, signal)));
    if (signal?.aborted === true) throw new OtlpdbError('ERR_UNAVAILABLE', 'the tag read was cancelled: its client went away');
    const failedShards: FailedShard[] = [];
    const answers: TagReadAnswer[] = [];
    const stats = newScanStats();
    let partial = false;
    for (const o of outcomes) {
      if ('error' in o) {
        failedShards.push({ shard: o.shard, code: o.error.code, message: o.error.message });
        continue;
      }
      partial ||= o.answer.partial;
      answers.push(o.answer);
      for (const k of Object.keys(stats) as (keyof ScanStats)[]) stats[k] += o.answer.stats[k];
    }
    if (failedShards.length === shardCount) {
      const first = failedShards[0] as FailedShard;
      throw new OtlpdbError('ERR_UNAVAILABLE', `no shard answered the tag read (shard ${first.shard}: ${first.message})`, { shards: shardCount });
    }
    const merged = mergeTagAnswers(answers, q.valuesMax);
    return { entries: merged.entries, partial: partial || merged.cut || failedShards.length > 0, shardsAsked: shardCount, failedShards, stats };
  }

  /** readHere runs a shard's part on this node, through the wire codec so a local and a remote answer look the same. */
  async readHere(group: GroupId, tenant: string, consistency: Consistency, q: TagRead, deadlineMs: number): Promise<TagReadAnswer> {
    return decodeTagsAnswer(encodeTagsAnswer(await this.#runHere(group, tenant, consistency, q, deadlineMs)), q);
  }

  async #runHere(group: GroupId, tenant: string, consistency: Consistency, q: TagRead, deadlineMs: number): Promise<TagReadAnswer> {
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
      return await store.readTags(read.kv, tenant, q, () => this.#d.nowMs() > deadlineMs);
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

  async #readShard(
    shard: GroupId,
    tenant: string,
    q: TagRead,
    consistency: Consistency,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<{ shard: GroupId; answer: TagReadAnswer } | { shard: GroupId; error: OtlpdbError }> {
    const replicas = this.#d.replicasOf(shard);
    let target = this.#firstTarget(shard, consistency, replicas);
    let last = new OtlpdbError('ERR_UNAVAILABLE', `shard ${shard} has no known replica`, { shard });
    const tried = new Set<NodeId>();
    let failures = 0;
    for (let attempt = 0; attempt < S.attemptsPerShardMax; attempt++) {
      if (target === NONE) target = replicas[attempt % Math.max(1, replicas.length)] ?? NONE;
      if (target === NONE) break;
      const leftMs = Math.floor(deadline - this.#d.nowMs());
      if (leftMs < 1 || signal?.aborted === true) {
        last = new OtlpdbError('ERR_TIMEOUT', `shard ${shard}: the tag read's time (TraceSearchLimits.wallMsMax) ran out`, { shard });
        break;
      }
      tried.add(target);
      try {
        if (target === this.#d.self) return { shard, answer: await this.readHere(shard, tenant, consistency, q, this.#d.nowMs() + Math.min(leftMs, S.shardCallMs)) };
        const bytes = await this.#d.transport.call(target, SHARD_READ_TAGS, encodeTagsRequest({ group: shard, tenant, consistency, query: q }), Math.min(leftMs, S.shardCallMs));
        return { shard, answer: decodeTagsAnswer(bytes, q) };
      } catch (err) {
        const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', String(err));
        last = e;
        if (!e.retryable && e.code !== 'ERR_CORRUPTION') break;
        const hint = Number(e.details['leaderHint'] ?? NONE);
        if (e.code === 'ERR_NOT_LEADER' && hint !== NONE && hint !== target) {
          target = hint;
          continue;
        }
        // Fail over: the next placed replica not tried yet, else the next in order after a pause.
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
