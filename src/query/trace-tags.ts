/**
 * trace-tags.ts — a tag read across the cluster (DESIGN.md §7), the
 * coordinator of Tempo's tag routes (/api/search/tags, /api/v2/search/tags,
 * /api/search/tag/{tag}/values, /api/v2/search/tag/{tag}/values): every
 * shard's part (TraceStore.readTags, storage/traces/tag-read.ts) in parallel
 * over the peer method shard.readTags (frames in trace-tags-wire.ts), then a
 * merge.
 *
 * A tag read is a QueryIr (trace-ir.ts: tagReadIr; projection `tags`),
 * validated and planned (planner.ts) like a search. Failover, backoff, the
 * deadline and cancellation are shard-fanout.ts's, with the search's bounds (TraceSearchLimits):
 * `linearizable` asks the shard leader after a ReadIndex barrier, `stale`
 * this node's replica when it hosts one. A shard no replica answered is
 * listed in `failedShards` and the answer is partial; only when every shard
 * failed is the read an error.
 *
 * Merge: the union of every shard's entries, distinct, sorted by (kind,
 * text), cut at the query's valuesMax and at TraceTagLimits.valueBytesMax
 * (partial when cut).
 *
 * Owner: the node owns one TraceTags; it registers shard.readTags on the
 * node's transport.
 */
import { assert } from '../errors.js';
import { TraceSearchLimits as S, TraceTagLimits as L } from '../limits.js';
import type { GroupId } from '../raft/types.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import { addScanStats, newScanStats } from '../storage/shard/signal-store.js';
import type { TagEntry, TagRead, TagReadAnswer } from '../storage/traces/tag-read.js';
import { compareEntries } from '../storage/traces/tag-read.js';
import { TraceStore } from '../storage/traces/trace-store.js';
import { validateIr } from './ir.js';
import { planQuery } from './planner.js';
import { allFailedError, cancellableCheck, fanOut, runHere, shardMapOf } from './shard-fanout.js';
import { tagReadIr } from './trace-ir.js';
import type { FailedShard, FanoutDeps } from './shard-fanout.js';
import type { Consistency } from './trace-search-wire.js';
import { SHARD_READ_TAGS, decodeTagsAnswer, decodeTagsRequest, encodeTagsAnswer, encodeTagsRequest } from './trace-tags-wire.js';

/** TraceTagsDeps are what a tag read needs from its node: the same as a search's. */
export type TraceTagsDeps = FanoutDeps;

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
      return encodeTagsAnswer(await this.#runHere(r.group, r.tenant, r.consistency, r.query, deadline, ctx.signal));
    });
  }

  /**
   * read runs `q` for `tenant` on every shard (shard-fanout.ts) and merges
   * the answers. ERR_UNAVAILABLE when there is no placement yet, the client
   * went away, or no shard answered (unless every shard refused alike).
   */
  async read(tenant: string, q: TagRead, consistency: Consistency, signal?: AbortSignal): Promise<TagsResult> {
    const plan = planQuery(validateIr(tagReadIr(tenant, q, consistency)), shardMapOf(this.#d, null));
    assert(plan.shardPart.kind === 'tagRead' && plan.coordinator.merge === 'distinctUnion', 'a tag read plans a tag read');
    const outcomes = await fanOut(
      this.#d,
      { ...S, wallMsMax: plan.ir.limits.wallMsMax },
      plan.targets,
      {
        what: 'tag read',
        here: (shard, deadlineMs, parts) => this.readHere(shard, tenant, consistency, q, deadlineMs, parts),
        remote: async (peer, shard, timeoutMs, parts) =>
          decodeTagsAnswer(await this.#d.transport.call(peer, SHARD_READ_TAGS, encodeTagsRequest({ group: shard, tenant, consistency, query: q }), timeoutMs, parts), q),
      },
      signal,
    );
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
      addScanStats(stats, o.answer.stats);
    }
    if (failedShards.length === outcomes.length) throw allFailedError(failedShards, 'tag read');
    const merged = mergeTagAnswers(answers, plan.coordinator.limit);
    return { entries: merged.entries, partial: partial || merged.cut || failedShards.length > 0, shardsAsked: outcomes.length, failedShards, stats };
  }

  /** readHere runs a shard's part on this node, through the wire codec so a local and a remote answer look the same. */
  async readHere(group: GroupId, tenant: string, consistency: Consistency, q: TagRead, deadlineMs: number, signal?: AbortSignal): Promise<TagReadAnswer> {
    return decodeTagsAnswer(encodeTagsAnswer(await this.#runHere(group, tenant, consistency, q, deadlineMs, signal)), q);
  }

  #runHere(group: GroupId, tenant: string, consistency: Consistency, q: TagRead, deadlineMs: number, signal: AbortSignal | undefined): Promise<TagReadAnswer> {
    return runHere(
      this.#d,
      group,
      consistency,
      deadlineMs,
      (read) => {
        const store = read.stores.traces;
        assert(store instanceof TraceStore, 'the traces store is a TraceStore');
        return store.readTags(read.kv, tenant, q, cancellableCheck(() => this.#d.nowMs() > deadlineMs, signal));
      },
      signal,
    );
  }
}
