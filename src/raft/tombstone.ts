/**
 * tombstone.ts — what a replica removed from a group leaves behind on its
 * node, so that a later replica of the same group on the same node (a new
 * incarnation under the same node id) keeps the promises the old one made.
 *
 * Why: node ids name replicas across incarnations. A shard that moves away
 * from a node and later back gets a new, empty replica under the old id,
 * while a lagging member may still hold a membership in which the old
 * incarnation was a voter. Raft's safety needs a voter to keep its log and
 * its vote (§5.2, §5.4.1); an empty replica granting its vote would let that
 * stale candidate win without the entries the old incarnation acknowledged,
 * erasing committed entries (the jepsen suite found this, mix C seed 2).
 *
 * The tombstone keeps exactly what voting needs: the old incarnation's term
 * and vote (so no term goes back and no vote is cast twice in one term) and
 * the position of its last log entry, the **vote floor**. The new
 * incarnation starts at that term and judges a candidate's log against
 * max(its own log, the floor), as if it still held the old log's last
 * entry: every entry the old incarnation acknowledged is at or below that
 * position, so Leader Completeness (§5.4.3) holds by the usual argument.
 * Unlike etcd and TiKV, which give every incarnation a new replica id, this
 * keeps node ids as replica ids (placement, routing and leader hints use
 * them); a node id that left the cluster is never admitted again
 * (node-membership.ts), so the tombstone on the node's disk always exists.
 *
 * Pure functions over plain data; the driver persists tombstones in its
 * group registry, the simulator and the test network in memory.
 */
import { assert } from '../errors.js';
import type { HardState, NodeId, VoteFloor } from './types.js';

/** ReplicaTombstone is the durable trace of a removed replica: its last term and vote, and the vote floor. */
export interface ReplicaTombstone {
  readonly term: number;
  readonly vote: NodeId;
  readonly floor: VoteFloor;
}

/** NO_FLOOR is the floor of a replica that never had a predecessor: every log is at or above it. */
export const NO_FLOOR: VoteFloor = { index: 0, term: 0 };

/** NO_TOMBSTONE is what a group never hosted on this node before leaves: nothing to keep. */
export const NO_TOMBSTONE: ReplicaTombstone = { term: 0, vote: 0, floor: NO_FLOOR };

/** floorAtLeast says whether a log ending at (index, term) is at or above `floor` in log order (§5.4.1). */
export function floorAtLeast(floor: VoteFloor, index: number, term: number): boolean {
  return term > floor.term || (term === floor.term && index >= floor.index);
}

/**
 * tombstoneOf is the tombstone a replica leaves when it is removed: its
 * durable hard state and the position of its durable log's last entry,
 * combined with the floor it was started with (a replica that never caught
 * up past its predecessor's floor must pass that floor on).
 */
export function tombstoneOf(hs: HardState, lastIndex: number, lastTerm: number, startedWith: VoteFloor): ReplicaTombstone {
  assert(lastIndex >= 0 && lastTerm >= 0, 'a log position is not negative');
  assert(lastTerm <= hs.term, 'no log entry is from a later term than the hard state');
  assert(startedWith.term <= hs.term, 'an incarnation starts at least at its floor\'s term');
  const floor = floorAtLeast(startedWith, lastIndex, lastTerm) ? { index: lastIndex, term: lastTerm } : startedWith;
  return { term: hs.term, vote: hs.vote, floor };
}

/**
 * incarnationHardState is the hard state a new incarnation starts with, from
 * the one its fresh storage holds (`fresh`: zero, or a founding membership's
 * bootstrap): the later of the two terms with that term's vote, and the
 * fresh commit index.
 */
export function incarnationHardState(t: ReplicaTombstone, fresh: HardState): HardState {
  if (t.term > fresh.term) return { term: t.term, vote: t.vote, commit: fresh.commit };
  if (t.term === fresh.term && fresh.vote === 0) return { term: t.term, vote: t.vote, commit: fresh.commit };
  return fresh;
}
