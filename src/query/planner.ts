/**
 * planner.ts — from a validated QueryIr and a snapshot of the shard map to
 * a QueryPlan (DESIGN.md §7 step 2). Pure: no I/O, no clock; the node takes
 * the snapshot (placement, its own replicas' roles) when the query starts,
 * and execution (shard-fanout.ts) follows the plan.
 *
 * 1. Shard pruning: a query pinned to one trace id (a top-level
 *    `traceId = id`) touches the one shard its partition key hashes to
 *    (DESIGN.md §4: a whole trace lives in one shard); everything else fans
 *    out to every shard.
 * 2. Replica choice per shard, by consistency: `linearizable` starts at the
 *    shard leader (this node when it leads, else the leader it knows, else
 *    the first placed replica), which serves after a ReadIndex barrier;
 *    `stale` starts at this node's own replica when it hosts one. The rest
 *    of the placed replicas follow in placement order: the failover order.
 * 3. The split:
 *    - the shard part: the filters (span predicates through the indexes,
 *      trace-level filters and programs on the whole trace), the partial
 *      aggregates (one AggregateState per group and input field, with a
 *      sketch only when a quantile is asked) and top-k per shard (a shard
 *      keeps its best `limit`: the rest cannot reach the answer), and the
 *      per-shard bytes-scanned budget;
 *    - the coordinator part: the merge (k-way by time or by key, the
 *      distinct union of tags, or the one shard's answer), the final
 *      aggregation (avg = sum / count, quantiles from the merged sketch,
 *      top-k again), the order and the limit.
 *
 * Invariants of a plan: targets are distinct shards in ascending order,
 * each a shard in [1, shardCount]; every target's `first` is one of its
 * `replicas` or this node's id; shardPart.kind matches the projection.
 */
import { OtlpdbError, assert } from '../errors.js';
import type { GroupId, NodeId } from '../raft/types.js';
import { NONE } from '../raft/types.js';
import type { TagRead } from '../storage/traces/tag-read.js';
import type { AggregateFn } from './aggregate-state.js';
import { traceIdOf } from './ir.js';
import type { IrAggregation, IrField, IrOrder, IrPredicate, QueryIr } from './ir.js';
import type { TraceSearchQuery } from './search-params.js';
import { lowerTraceSearch } from './trace-ir.js';

/** LocalReplica is this node's view of one of its replicas: whether it leads, and the leader it knows (NONE when none). */
export interface LocalReplica {
  readonly leader: boolean;
  readonly lead: NodeId;
}

/** ShardMapSnapshot is what the planner reads of the cluster, taken once when the query starts. */
export interface ShardMapSnapshot {
  readonly self: NodeId;
  /** shardCount is the recorded shard count; 0 before a placement exists. */
  readonly shardCount: number;
  readonly replicasOf: (shard: GroupId) => readonly NodeId[];
  /** local is this node's replica of `shard`, or null when it hosts none. */
  readonly local: (shard: GroupId) => LocalReplica | null;
  /** shardOfTrace is the shard a tenant's trace id hashes to (partition/key-to-shard.ts over spanPartitionKey). */
  readonly shardOfTrace: (tenant: string, traceId: Uint8Array) => GroupId;
}

/** ShardTarget is one shard of a plan: the replica asked first, and the placed replicas for failover. */
export interface ShardTarget {
  readonly shard: GroupId;
  readonly first: NodeId;
  readonly replicas: readonly NodeId[];
}

/** PartialAggregate is what a shard computes for the aggregations that read one field with one grouping. */
export interface PartialAggregate {
  readonly field: IrField | null;
  readonly by: readonly IrField[];
  /** withSketch: some final aggregation over it is a quantile. */
  readonly withSketch: boolean;
  /** topK: the shard keeps its k best groups (largest when desc) by this state's max; null keeps every group. */
  readonly topK: { readonly k: number; readonly desc: boolean } | null;
}

/** FinalAggregate is one coordinator-side aggregation over a merged partial. */
export interface FinalAggregate {
  readonly partial: number;
  readonly fn: AggregateFn | 'topk' | 'bottomk';
  readonly quantile?: number;
  readonly k?: number;
}

/** ShardPart is what every targeted shard runs. */
export type ShardPart =
  | { readonly kind: 'traceSearch'; readonly query: TraceSearchQuery }
  | { readonly kind: 'traceById'; readonly traceId: Uint8Array }
  | { readonly kind: 'tagRead'; readonly read: TagRead }
  | {
      readonly kind: 'rows';
      readonly predicates: readonly IrPredicate[];
      readonly partials: readonly PartialAggregate[];
      /** rowsMax: the shard's own top-k cut (its best `limit` rows in `order`), when there is no aggregation. */
      readonly rowsMax: number;
      readonly bytesScannedMax: number;
    };

/** CoordinatorPart is what the node that took the query does with the shards' answers. */
export interface CoordinatorPart {
  readonly merge: 'single' | 'kwayByTime' | 'kwayByKey' | 'distinctUnion';
  readonly finals: readonly FinalAggregate[];
  readonly order: IrOrder;
  readonly limit: number;
}

/** QueryPlan is an IR planned against one shard map; see the top of this file. */
export interface QueryPlan {
  readonly ir: QueryIr;
  readonly targets: readonly ShardTarget[];
  /** prunedShards counts the shards the plan does not ask. */
  readonly prunedShards: number;
  readonly shardPart: ShardPart;
  readonly coordinator: CoordinatorPart;
}

/** replicaChoice is the replica a shard is asked first for `consistency`. */
export function replicaChoice(map: ShardMapSnapshot, shard: GroupId, consistency: QueryIr['consistency']): NodeId {
  const local = map.local(shard);
  const replicas = map.replicasOf(shard);
  if (consistency === 'stale' && local !== null) return map.self;
  if (local?.leader === true) return map.self;
  if (local !== null && local.lead !== NONE) return local.lead;
  return replicas[0] ?? NONE;
}

function sameField(a: IrField | null, b: IrField | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** splitAggregations turns the IR's aggregations into shard partials and coordinator finals (one partial per field and grouping). */
export function splitAggregations(aggs: readonly IrAggregation[]): { partials: PartialAggregate[]; finals: FinalAggregate[] } {
  const partials: { field: IrField | null; by: readonly IrField[]; withSketch: boolean; topK: PartialAggregate['topK'] }[] = [];
  const finals: FinalAggregate[] = [];
  for (const a of aggs) {
    const topK = a.fn === 'topk' || a.fn === 'bottomk' ? { k: a.k, desc: a.fn === 'topk' } : null;
    let i = partials.findIndex((p) => sameField(p.field, a.field) && JSON.stringify(p.by) === JSON.stringify(a.by) && JSON.stringify(p.topK) === JSON.stringify(topK));
    if (i < 0) {
      partials.push({ field: a.field, by: a.by, withSketch: false, topK });
      i = partials.length - 1;
    }
    const p = partials[i] as (typeof partials)[number];
    if (a.fn === 'quantile') p.withSketch = true;
    if (a.fn === 'topk' || a.fn === 'bottomk') finals.push({ partial: i, fn: a.fn, k: a.k });
    else finals.push({ partial: i, fn: a.fn, ...(a.quantile !== undefined ? { quantile: a.quantile } : {}) });
  }
  return { partials, finals };
}

/**
 * planQuery plans a validated IR (ir.ts validateIr) against `map`.
 * ERR_UNAVAILABLE when the cluster has no placement yet.
 */
export function planQuery(ir: QueryIr, map: ShardMapSnapshot): QueryPlan {
  if (map.shardCount < 1) throw new OtlpdbError('ERR_UNAVAILABLE', 'the cluster is bootstrapping: no shard placement yet; retry');
  const id = traceIdOf(ir);
  const shards: GroupId[] = [];
  if (id !== null) {
    const s = map.shardOfTrace(ir.tenant, id);
    assert(Number.isSafeInteger(s) && s >= 1 && s <= map.shardCount, 'a trace id hashes to a shard');
    shards.push(s);
  } else {
    for (let s = 1; s <= map.shardCount; s++) shards.push(s);
  }
  const targets = shards.map((shard) => ({ shard, first: replicaChoice(map, shard, ir.consistency), replicas: map.replicasOf(shard) }));
  let shardPart: ShardPart;
  let coordinator: CoordinatorPart;
  switch (ir.projection.kind) {
    case 'wholeTrace':
      assert(id !== null, 'a whole-trace read is pinned to a trace id');
      shardPart = { kind: 'traceById', traceId: id };
      coordinator = { merge: 'single', finals: [], order: ir.order, limit: 1 };
      break;
    case 'traceSummaries':
      shardPart = { kind: 'traceSearch', query: lowerTraceSearch(ir) };
      coordinator = { merge: 'kwayByTime', finals: [], order: ir.order, limit: ir.limits.resultsMax };
      break;
    case 'tags':
      shardPart = { kind: 'tagRead', read: ir.projection.read };
      coordinator = { merge: 'distinctUnion', finals: [], order: ir.order, limit: ir.limits.resultsMax };
      break;
    case 'rows': {
      const { partials, finals } = splitAggregations(ir.aggregations);
      shardPart = { kind: 'rows', predicates: ir.predicates, partials, rowsMax: ir.limits.resultsMax, bytesScannedMax: ir.limits.bytesScannedMax };
      coordinator = { merge: partials.length > 0 || ir.order.by === 'key' ? 'kwayByKey' : 'kwayByTime', finals, order: ir.order, limit: ir.limits.resultsMax };
      break;
    }
  }
  const plan: QueryPlan = { ir, targets, prunedShards: map.shardCount - targets.length, shardPart, coordinator };
  assert(plan.targets.length >= 1 && plan.targets.length <= map.shardCount, 'a plan asks 1..shardCount shards');
  return plan;
}
