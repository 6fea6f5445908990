/**
 * placement.ts — which nodes hold which shards, and what a membership change
 * must move.
 *
 * A Placement lists, for every shard 1..S, its replicas in order; the first is
 * the shard's preferred leader. It is plain JSON because it lives in the Raft
 * meta group (group 0) and is read back by every node: `validatePlacement`
 * checks it when it is written and again when it is read.
 *
 * computePlacement is a pure function of (member set, S, R, vnodes, slack):
 *
 * 1. Ring. Each shard's preference list is the clockwise walk of the
 *    consistent-hash ring (ring.ts); its first R' = min(R, N) nodes are the
 *    shard's ideal replicas. Alone, this moves ~1/(N+1) of the replicas when a
 *    node joins, but with few shards it is badly unbalanced (S=16, R=3, N=6:
 *    the fullest node held 13 replicas where 8 is the even share).
 * 2. Balancing (deterministic repair) into the band [low, high] around the
 *    even share e = S*R'/N, where low = floor(e) - slack and high = ceil(e) +
 *    slack. First, while some node X holds more than `high` (the fullest, ties
 *    by id), move one replica off X: among X's shards, pick the shard and the
 *    node Y first in that shard's preference list among non-replicas below
 *    `high`, minimising rank(Y) - rank(X) (ties: lowest shard id). Then, while
 *    some node Y holds fewer than `low`, give it one replica: among shards
 *    without Y, the replica the ring ranks worst among those whose node holds
 *    more than `low`, minimising the same cost. Each step lowers the total
 *    excess (or deficit) by one, so both loops end within S*R' steps, and each
 *    move follows the ring's own ranking, so the result stays close to the
 *    ring's and keeps most of its small movement (measured in the tests).
 * 3. Leaders (bounded matching). Each shard's leader is one of its replicas,
 *    chosen by augmenting paths (Kuhn), preferring the replica the ring ranks
 *    first: first up to floor(S/N) leaders per node, then up to ceil(S/N),
 *    then one more at a time while some shard has none.
 *    With R' >= 2 and replica loads <= ceil(S*R'/N) + 1, Hall's condition
 *    holds at L = ceil(S/N) + 1 (the shards whose replicas all lie within a
 *    set X of nodes number < |X| * (S/N + 2/R') <= |X| * (ceil(S/N) + 1)),
 *    so leaders never exceed ceil(S/N) + 1 at the default slack of 1 (and
 *    the tests measure ceil(S/N) in practice).
 *
 * Invariants of a valid Placement (validatePlacement):
 * - shards[i].shard === i + 1 for every i, and shards.length === shardCount;
 * - each shard has exactly min(replicationFactor, nodes.length) replicas,
 *   distinct, each a member of `nodes`;
 * - `nodes` is sorted and distinct.
 */
import { OtlpdbError, assert } from '../errors.js';
import { PartitionLimits } from '../limits.js';
import { HashRing } from './ring.js';
import { checkNodeIds, checkReplicationFactor, checkShardCount, checkVnodesPerNode, compareStrings } from './validate.js';
import type { Hasher } from './hash.js';
import type { ShardId } from './key-to-shard.js';

/** PLACEMENT_FORMAT_VERSION is the version of the Placement JSON written to the meta group. */
export const PLACEMENT_FORMAT_VERSION = 1;

/** ShardPlacement is one shard's replicas; replicas[0] is its preferred leader. */
export interface ShardPlacement {
  readonly shard: ShardId;
  readonly replicas: readonly string[];
}

/** Placement is the shard-to-node map of a cluster, as stored in the meta group (plain JSON). */
export interface Placement {
  readonly formatVersion: typeof PLACEMENT_FORMAT_VERSION;
  readonly shardCount: number;
  /** replicationFactor is R as configured; each shard has min(R, nodes.length) replicas. */
  readonly replicationFactor: number;
  readonly vnodesPerNode: number;
  readonly replicaSlackPerNode: number;
  /** nodes are the member node ids, sorted. */
  readonly nodes: readonly string[];
  /** shards[i] is shard i + 1. */
  readonly shards: readonly ShardPlacement[];
}

/** ReplicaMove is one replica to move: add `add` to `shard`, then remove `remove` (null when R changed). */
export interface ReplicaMove {
  readonly shard: ShardId;
  readonly add: string | null;
  readonly remove: string | null;
}

/** LeaderChange is a shard whose preferred leader changed (a leadership transfer, no data moves). */
export interface LeaderChange {
  readonly shard: ShardId;
  readonly from: string;
  readonly to: string;
}

/** NodeLoad counts what one node holds under a placement. */
export interface NodeLoad {
  readonly replicas: number;
  readonly leaders: number;
}

/**
 * computePlacement places every shard on min(R, N) distinct nodes, balanced,
 * with leaders spread, as a pure function of the member set and parameters
 * (see the file comment for the three steps). The member order does not matter.
 */
export function computePlacement(
  hasher: Hasher,
  nodes: Iterable<string>,
  shardCount: number = PartitionLimits.shardCountDefault,
  replicationFactor: number = PartitionLimits.replicationFactorDefault,
  vnodesPerNode: number = PartitionLimits.vnodesPerNodeDefault,
  replicaSlackPerNode: number = PartitionLimits.replicaSlackPerNode,
): Placement {
  checkShardCount(shardCount);
  checkReplicationFactor(replicationFactor);
  checkVnodesPerNode(vnodesPerNode);
  if (!Number.isInteger(replicaSlackPerNode) || replicaSlackPerNode < 0 || replicaSlackPerNode > shardCount) {
    throw new OtlpdbError(
      'ERR_INVALID_ARGUMENT',
      `replicaSlackPerNode ${String(replicaSlackPerNode)} is out of range: expected an integer in [0, ${shardCount}]`,
    );
  }
  const ring = new HashRing(hasher, nodes, vnodesPerNode);
  const ids = ring.nodes;
  const nodeCount = ids.length;
  const perShard = Math.min(replicationFactor, nodeCount);
  const index = new Map(ids.map((id, i) => [id, i]));

  // Step 1: the ring's preference lists, as node indices, and their ranks.
  const prefs: Int32Array[] = [];
  const ranks: Int32Array[] = [];
  for (let s = 1; s <= shardCount; s++) {
    const pref = Int32Array.from(ring.preferenceList(s), (id) => index.get(id) ?? -1);
    const rank = new Int32Array(nodeCount);
    pref.forEach((n, k) => {
      assert(n >= 0, 'preference list names members');
      rank[n] = k;
    });
    prefs.push(pref);
    ranks.push(rank);
  }
  const replicas: Int32Array[] = prefs.map((pref) => pref.slice(0, perShard));
  const load = new Int32Array(nodeCount);
  for (const reps of replicas) for (const n of reps) load[n] = (load[n] ?? 0) + 1;

  // Step 2: repair overloads.
  const even = (shardCount * perShard) / nodeCount;
  const high = Math.ceil(even) + replicaSlackPerNode;
  const low = Math.max(0, Math.floor(even) - replicaSlackPerNode);
  rebalanceReplicas(prefs, ranks, replicas, load, low, high);

  // Step 3: leaders.
  for (let s = 0; s < shardCount; s++) {
    const rank = ranks[s];
    assert(rank !== undefined, 'rank per shard');
    replicas[s]?.sort((a, b) => (rank[a] ?? 0) - (rank[b] ?? 0));
  }
  const leaders = assignLeaders(replicas, nodeCount);

  const shards: ShardPlacement[] = replicas.map((reps, s) => {
    const leader = leaders[s];
    assert(leader !== undefined && leader >= 0, 'every shard has a leader');
    const ordered = [leader, ...Array.from(reps).filter((n) => n !== leader)];
    return { shard: s + 1, replicas: ordered.map((n) => ids[n] ?? '') };
  });
  const placement: Placement = {
    formatVersion: PLACEMENT_FORMAT_VERSION,
    shardCount,
    replicationFactor,
    vnodesPerNode,
    replicaSlackPerNode,
    nodes: [...ids],
    shards,
  };
  return validatePlacement(placement);
}

/**
 * rebalanceReplicas moves replicas until every node holds between `low` and
 * `high` of them (step 2 of the file comment). It mutates `replicas` and
 * `load`. Each move goes to, or comes from, the node that the ring ranks best
 * for some shard, so the result stays close to the ring's own choice.
 */
function rebalanceReplicas(
  prefs: readonly Int32Array[],
  ranks: readonly Int32Array[],
  replicas: Int32Array[],
  load: Int32Array,
  low: number,
  high: number,
): void {
  const total = load.reduce((a, b) => a + b, 0);
  assert(low * load.length <= total, 'the band admits the replica total (low)');
  assert(total <= high * load.length, 'the band admits the replica total (high)');
  const at = (a: Int32Array, i: number): number => a[i] ?? 0;

  // Phase 1: drain nodes above `high`. Each step lowers the total excess by one.
  for (let step = 0; ; step++) {
    assert(step <= total, 'draining ends within total-replica steps');
    let over = -1;
    for (let n = 0; n < load.length; n++) {
      if (at(load, n) > high && (over < 0 || at(load, n) > at(load, over))) over = n;
    }
    if (over < 0) break;
    let best: { shard: number; slot: number; to: number; cost: number } | undefined;
    for (let s = 0; s < replicas.length; s++) {
      const reps = replicas[s];
      const pref = prefs[s];
      const rank = ranks[s];
      assert(reps !== undefined && pref !== undefined && rank !== undefined, 'per-shard arrays align');
      const slot = reps.indexOf(over);
      if (slot < 0) continue;
      for (const y of pref) {
        if (at(load, y) >= high || reps.includes(y)) continue;
        const cost = at(rank, y) - at(rank, over);
        if (best === undefined || cost < best.cost) best = { shard: s, slot, to: y, cost };
        break;
      }
    }
    // A node above `high` holds more shards than some node below it, so one of
    // its shards lacks that node: a move always exists.
    assert(best !== undefined, 'an overloaded node has a movable replica');
    moveReplica(replicas, load, best.shard, best.slot, best.to);
  }

  // Phase 2: fill nodes below `low`, taking from nodes above `low` (so no
  // node drops below `low` and none rises above `high`). Each step lowers the
  // total deficit by one.
  for (let step = 0; ; step++) {
    assert(step <= total, 'filling ends within total-replica steps');
    let under = -1;
    for (let n = 0; n < load.length; n++) {
      if (at(load, n) < low && (under < 0 || at(load, n) < at(load, under))) under = n;
    }
    if (under < 0) break;
    let best: { shard: number; slot: number; cost: number } | undefined;
    for (let s = 0; s < replicas.length; s++) {
      const reps = replicas[s];
      const rank = ranks[s];
      assert(reps !== undefined && rank !== undefined, 'per-shard arrays align');
      if (reps.includes(under)) continue;
      // Give up the replica the ring ranks worst among those that can spare one.
      let slot = -1;
      reps.forEach((x, k) => {
        if (at(load, x) > low && (slot < 0 || at(rank, x) > at(rank, at(reps, slot)))) slot = k;
      });
      if (slot < 0) continue;
      const cost = at(rank, under) - at(rank, at(reps, slot));
      if (best === undefined || cost < best.cost) best = { shard: s, slot, cost };
    }
    // Some node holds more than `low` (the average is at least `low`), hence
    // more shards than `under`, so one of its shards lacks `under`.
    assert(best !== undefined, 'an underloaded node can take a replica');
    moveReplica(replicas, load, best.shard, best.slot, under);
  }
  for (let n = 0; n < load.length; n++) {
    assert(at(load, n) >= low, 'replica load >= low');
    assert(at(load, n) <= high, 'replica load <= high');
  }
}

function moveReplica(replicas: Int32Array[], load: Int32Array, shard: number, slot: number, to: number): void {
  const reps = replicas[shard];
  assert(reps !== undefined, 'shard index in range');
  const from = reps[slot];
  assert(from !== undefined && from !== to, 'a move changes the node');
  assert(!reps.includes(to), 'a move keeps replicas distinct');
  reps[slot] = to;
  load[from] = (load[from] ?? 0) - 1;
  load[to] = (load[to] ?? 0) + 1;
}

/**
 * assignLeaders picks one leader per shard among its replicas so that leader
 * counts are as even as the replica sets allow (step 3 of the file comment).
 * It fills to L = floor(S/N) per node first (a maximum bounded matching, so
 * no node is starved because an earlier shard took its slot), then to
 * ceil(S/N), growing L only when no assignment exists. Kuhn's augmenting paths
 * keep every matched shard matched, so each round only adds leaders.
 */
function assignLeaders(replicas: readonly Int32Array[], nodeCount: number): Int32Array {
  const shardCount = replicas.length;
  const leaderOf = new Int32Array(shardCount).fill(-1);
  const leads = new Int32Array(nodeCount);
  let limit = 0;
  const augment = (s: number, visited: Uint8Array): boolean => {
    const reps = replicas[s];
    assert(reps !== undefined, 'shard index in range');
    for (const y of reps) {
      if ((leads[y] ?? 0) < limit) {
        leaderOf[s] = y;
        leads[y] = (leads[y] ?? 0) + 1;
        return true;
      }
    }
    // Every replica of s is full. If a shard t led by replica y can move to
    // another of its replicas, s takes t's place on y (y's count is
    // unchanged). augment changes nothing unless it succeeds.
    for (const y of reps) {
      if (visited[y] === 1) continue;
      visited[y] = 1;
      for (let t = 0; t < shardCount; t++) {
        if (t !== s && leaderOf[t] === y && augment(t, visited)) {
          leaderOf[s] = y;
          return true;
        }
      }
    }
    return false;
  };
  let unmatched = shardCount;
  for (limit = Math.max(1, Math.floor(shardCount / nodeCount)); unmatched > 0; limit++) {
    assert(limit <= shardCount, 'a leader assignment exists at L = S');
    for (let s = 0; s < shardCount; s++) {
      if (leaderOf[s] === -1 && augment(s, new Uint8Array(nodeCount))) unmatched--;
    }
  }
  for (let s = 0; s < shardCount; s++) {
    const leader = leaderOf[s] ?? -1;
    assert(leader >= 0, 'every shard has a leader');
    assert(replicas[s]?.includes(leader), 'a leader is one of its replicas');
  }
  return leaderOf;
}

/**
 * validatePlacement checks that a value (typically parsed JSON from the meta
 * group) is a well-formed Placement and returns it typed. It throws
 * ERR_INVALID_ARGUMENT naming the first violation; a caller reading its own
 * committed state should report that as ERR_CORRUPTION.
 */
export function validatePlacement(value: unknown): Placement {
  const bad = (what: string): never => {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `invalid placement: ${what}`);
  };
  if (typeof value !== 'object' || value === null) return bad('not an object');
  const p = value as Record<string, unknown>;
  if (p.formatVersion !== PLACEMENT_FORMAT_VERSION) {
    bad(`formatVersion ${String(p.formatVersion)}: expected ${PLACEMENT_FORMAT_VERSION}`);
  }
  const shardCount = p.shardCount as number;
  const replicationFactor = p.replicationFactor as number;
  checkShardCount(shardCount);
  checkReplicationFactor(replicationFactor);
  checkVnodesPerNode(p.vnodesPerNode as number);
  if (!Number.isInteger(p.replicaSlackPerNode) || (p.replicaSlackPerNode as number) < 0) bad('replicaSlackPerNode');
  if (!Array.isArray(p.nodes)) return bad('nodes is not an array');
  const nodes = p.nodes as unknown[];
  if (!nodes.every((n) => typeof n === 'string')) bad('nodes must be strings');
  const sorted = checkNodeIds(nodes as string[]);
  if (sorted.some((id, i) => id !== nodes[i])) bad('nodes are not sorted');
  const members = new Set(sorted);
  const perShard = Math.min(replicationFactor, sorted.length);
  if (!Array.isArray(p.shards) || p.shards.length !== shardCount) {
    bad(`shards must be an array of ${shardCount} entries`);
  }
  (p.shards as unknown[]).forEach((entry, i) => {
    const e = entry as Partial<ShardPlacement> | null;
    if (e === null || typeof e !== 'object' || e.shard !== i + 1) bad(`shards[${i}].shard must be ${i + 1}`);
    const reps = e?.replicas;
    if (!Array.isArray(reps) || reps.length !== perShard) bad(`shard ${i + 1} must have ${perShard} replicas`);
    const seen = new Set<string>();
    for (const r of reps as unknown[]) {
      if (typeof r !== 'string' || !members.has(r)) bad(`shard ${i + 1} names ${JSON.stringify(r)}, not a member`);
      if (seen.has(r as string)) bad(`shard ${i + 1} lists ${JSON.stringify(r)} twice`);
      seen.add(r as string);
    }
  });
  return value as Placement;
}

/**
 * diffPlacement lists the replica moves that turn `from` into `to`, by shard
 * then in `to`'s replica order. Each move is carried out later, one shard at a
 * time, by Raft membership changes: add `add` as a learner, let it catch up,
 * promote it, then remove `remove` (transferring leadership first if `remove`
 * leads). Both placements must have the same shard count (S is fixed).
 */
export function diffPlacement(from: Placement, to: Placement): ReplicaMove[] {
  validatePlacement(from);
  validatePlacement(to);
  if (from.shardCount !== to.shardCount) {
    throw new OtlpdbError(
      'ERR_INVALID_ARGUMENT',
      `shardCount ${to.shardCount} differs from ${from.shardCount}: the shard count is fixed at cluster creation`,
    );
  }
  const moves: ReplicaMove[] = [];
  for (let i = 0; i < to.shardCount; i++) {
    const before = from.shards[i]?.replicas ?? [];
    const after = to.shards[i]?.replicas ?? [];
    const added = after.filter((n) => !before.includes(n));
    const removed = before.filter((n) => !after.includes(n));
    for (let k = 0; k < Math.max(added.length, removed.length); k++) {
      moves.push({ shard: i + 1, add: added[k] ?? null, remove: removed[k] ?? null });
    }
  }
  return moves;
}

/** diffLeaders lists the shards whose preferred leader differs between two placements. */
export function diffLeaders(from: Placement, to: Placement): LeaderChange[] {
  const changes: LeaderChange[] = [];
  const count = Math.min(from.shards.length, to.shards.length);
  for (let i = 0; i < count; i++) {
    const a = from.shards[i]?.replicas[0];
    const b = to.shards[i]?.replicas[0];
    if (a !== undefined && b !== undefined && a !== b) changes.push({ shard: i + 1, from: a, to: b });
  }
  return changes;
}

/** placementLoad counts the replicas and leaders of every member (members holding nothing count 0). */
export function placementLoad(placement: Placement): Map<string, NodeLoad> {
  const out = new Map<string, { replicas: number; leaders: number }>();
  for (const id of [...placement.nodes].sort(compareStrings)) out.set(id, { replicas: 0, leaders: 0 });
  for (const { replicas } of placement.shards) {
    replicas.forEach((id, k) => {
      const l = out.get(id);
      assert(l !== undefined, 'replicas are members');
      l.replicas += 1;
      if (k === 0) l.leaders += 1;
    });
  }
  return out;
}

/** replicasOf is the replica list of one shard (leader first). */
export function replicasOf(placement: Placement, shard: ShardId): readonly string[] {
  const entry = placement.shards[shard - 1];
  if (entry === undefined) {
    throw new OtlpdbError(
      'ERR_INVALID_ARGUMENT',
      `shardId ${shard} is out of range: expected an integer in [1, ${placement.shardCount}]`,
    );
  }
  assert(entry.shard === shard, 'shards[i].shard === i + 1');
  return entry.replicas;
}
