/**
 * reconcile.ts — the pure planners that move a running cluster towards what
 * the meta group says it should be. Nodes run them on a timer and carry out
 * at most one returned action per group per round, so every decision is a
 * pure function of plain data and can be tested without processes.
 *
 * Three planners, each for one owner:
 *
 * - `planGroupMembership` runs on the leader of a group (a shard, or the meta
 *   group with its own target). It moves the group's Raft membership towards
 *   a target replica set in the only order that never lowers the number of
 *   up-to-date voters: add the missing replica as a learner, wait until it
 *   has caught up, promote it, and only then remove a voter the target no
 *   longer names (transferring leadership away first if that voter is the
 *   leader itself). When the membership matches, it spreads leadership: a
 *   leader that is not the shard's preferred leader hands over to it once the
 *   preferred replica is a caught-up voter that is reachable.
 * - `planMetaMembers` runs on the meta leader and gives the meta group's
 *   target: every recorded node is a member; voters are the current voters
 *   plus caught-up learners in id order, up to metaVotersMax (no demotion,
 *   so a join never costs a voter).
 * - `planHosting` runs on every node and says which shard replicas it must
 *   open (named by the placement, not hosted yet: an empty replica that
 *   learns everything from the leader) or close (not named, and the group's
 *   leader has removed it from the membership).
 *
 * The meta leader's node life cycle (joining → active → leaving → removed)
 * is in `planNodeLifecycle`.
 */
import { assert } from '../errors.js';
import type { Placement } from '../partition/placement.js';
import type { ConfState, GroupId, NodeId, ProgressStatus } from '../raft/types.js';
import type { NodeInfo } from './meta-command.js';

/** GroupAction is one step of a group's membership or leadership. */
export type GroupAction =
  | { readonly kind: 'addLearner'; readonly node: NodeId }
  | { readonly kind: 'promote'; readonly node: NodeId }
  | { readonly kind: 'remove'; readonly node: NodeId }
  | { readonly kind: 'transferLeader'; readonly to: NodeId };

/** LeaderView is what the leader of one group knows about it. */
export interface LeaderView {
  readonly self: NodeId;
  readonly confState: ConfState;
  /** progress of every member, as the leader tracks it. */
  readonly progress: Readonly<Record<NodeId, ProgressStatus>>;
  readonly lastIndex: number;
  /** commit is the leader's commit index. */
  readonly commit: number;
}

/** GroupTarget is where a group's membership should go. */
export interface GroupTarget {
  /** replicas is the target membership; every one of them should end up a voter unless `learners` names it. */
  readonly replicas: readonly NodeId[];
  /** learners are target members that stay non-voting (the meta group past metaVotersMax). */
  readonly learners?: readonly NodeId[];
  /** preferredLeader, when set, is who should lead once the membership matches. */
  readonly preferredLeader?: NodeId;
}

/**
 * caughtUp says whether a member's log is close enough to the leader's to
 * count it as a voter without stalling commits: its match index is within
 * `lagEntriesMax` of the leader's commit index.
 */
export function caughtUp(view: LeaderView, node: NodeId, lagEntriesMax: number): boolean {
  const p = view.progress[node];
  return p !== undefined && p.match + lagEntriesMax >= view.commit;
}

/**
 * planGroupMembership returns the next membership or leadership step of a
 * group on its leader, or null when the group is where it should be (or must
 * wait). `reachable` says whether the leader's transport reaches a node.
 */
export function planGroupMembership(
  view: LeaderView,
  target: GroupTarget,
  reachable: (node: NodeId) => boolean,
  lagEntriesMax: number,
): GroupAction | null {
  assert(target.replicas.length > 0, 'a group target names a replica');
  assert(lagEntriesMax >= 0, 'lag is not negative');
  const voters = new Set(view.confState.voters);
  const learners = new Set(view.confState.learners);
  const wanted = new Set(target.replicas);
  const wantedLearners = new Set(target.learners ?? []);
  // 1. Add every missing replica as a learner first.
  for (const n of target.replicas) if (!voters.has(n) && !learners.has(n)) return { kind: 'addLearner', node: n };
  // 2. Promote caught-up learners the target wants as voters.
  for (const n of target.replicas) {
    if (learners.has(n) && !wantedLearners.has(n) && caughtUp(view, n, lagEntriesMax)) return { kind: 'promote', node: n };
  }
  // 3. Remove what the target no longer names, once no wanted voter is still a learner.
  const promotionsPending = target.replicas.some((n) => learners.has(n) && !wantedLearners.has(n));
  for (const n of view.confState.learners) if (!wanted.has(n)) return { kind: 'remove', node: n };
  if (!promotionsPending) {
    for (const n of view.confState.voters) {
      if (wanted.has(n)) continue;
      if (n !== view.self) return { kind: 'remove', node: n };
      const to = bestTransferee(view, target.replicas, reachable, lagEntriesMax);
      return to === null ? null : { kind: 'transferLeader', to };
    }
  }
  // 4. Spread leadership.
  const pref = target.preferredLeader;
  if (pref !== undefined && pref !== view.self && voters.has(pref) && reachable(pref)) {
    const p = view.progress[pref];
    if (p !== undefined && p.match === view.lastIndex) return { kind: 'transferLeader', to: pref };
  }
  return null;
}

/** bestTransferee picks the reachable, caught-up voter among `candidates` with the highest match index (ties: lowest id). */
export function bestTransferee(
  view: LeaderView,
  candidates: readonly NodeId[],
  reachable: (node: NodeId) => boolean,
  lagEntriesMax: number,
): NodeId | null {
  let best: NodeId | null = null;
  let bestMatch = -1;
  for (const n of [...candidates].sort((a, b) => a - b)) {
    if (n === view.self || !view.confState.voters.includes(n) || !reachable(n)) continue;
    if (!caughtUp(view, n, lagEntriesMax)) continue;
    const m = view.progress[n]?.match ?? -1;
    if (m > bestMatch) {
      best = n;
      bestMatch = m;
    }
  }
  return best;
}

/**
 * planMetaMembers gives the meta group's target: every recorded node is a
 * member; the voters are the current voters still recorded, then caught-up
 * learners in id order, up to `votersMax`; everyone else is a learner.
 */
export function planMetaMembers(view: LeaderView, nodes: readonly NodeId[], votersMax: number, lagEntriesMax: number): GroupTarget {
  assert(votersMax >= 1, 'the meta group has a voter');
  const members = [...new Set(nodes)].sort((a, b) => a - b);
  const voters = view.confState.voters.filter((v) => members.includes(v)).sort((a, b) => a - b);
  for (const n of members) {
    if (voters.length >= votersMax) break;
    if (voters.includes(n)) continue;
    if (view.confState.learners.includes(n) && caughtUp(view, n, lagEntriesMax)) voters.push(n);
  }
  if (voters.length === 0) voters.push(view.self); // Never plan a group without a voter.
  return { replicas: members, learners: members.filter((n) => !voters.includes(n)) };
}

/** NodeLifecycleAction is one step of the meta leader's node life cycle. */
export type NodeLifecycleAction =
  | { readonly kind: 'activate'; readonly node: NodeInfo }
  | { readonly kind: 'setPlacement'; readonly nodes: readonly string[] }
  | { readonly kind: 'removeNode'; readonly id: string };

/**
 * planNodeLifecycle returns the meta leader's next step for the node list:
 * a joining node that is a meta member becomes active; the placement follows
 * the active nodes; a leaving node the placement no longer names, and no
 * shard membership includes (`inShardMembership`, from the shard leaders'
 * reports; null when some report is missing, which blocks removal), is
 * removed from the node list.
 */
export function planNodeLifecycle(
  nodes: readonly NodeInfo[],
  placement: Placement | null,
  metaMembers: ReadonlySet<NodeId>,
  inShardMembership: ((id: string) => boolean) | null,
): NodeLifecycleAction | null {
  for (const n of nodes) if (n.state === 'joining' && metaMembers.has(Number(n.id))) return { kind: 'activate', node: { ...n, state: 'active' } };
  const active = nodes.filter((n) => n.state === 'active').map((n) => n.id);
  if (active.length === 0) return null;
  const named = placement?.nodes ?? [];
  if (named.length !== active.length || named.some((id) => !active.includes(id))) return { kind: 'setPlacement', nodes: active };
  if (inShardMembership === null) return null;
  for (const n of nodes) {
    if (n.state === 'leaving' && !named.includes(n.id) && !inShardMembership(n.id)) return { kind: 'removeNode', id: n.id };
  }
  return null;
}

/** HostingPlan is which shard replicas a node must open and close. */
export interface HostingPlan {
  readonly open: readonly GroupId[];
  readonly close: readonly GroupId[];
}

/**
 * planHosting compares the shards a node hosts with the placement: open the
 * ones it names for `self` that are not hosted; close a hosted shard it no
 * longer names once `removedFrom(group)` says the group's membership (as its
 * leader applied it) excludes `self`.
 */
export function planHosting(
  self: NodeId,
  placement: Placement,
  hosted: ReadonlySet<GroupId>,
  removedFrom: (group: GroupId) => boolean,
): HostingPlan {
  const open: GroupId[] = [];
  const close: GroupId[] = [];
  const me = String(self);
  for (const s of placement.shards) {
    const named = s.replicas.includes(me);
    if (named && !hosted.has(s.shard)) open.push(s.shard);
    if (!named && hosted.has(s.shard) && removedFrom(s.shard)) close.push(s.shard);
  }
  return { open, close };
}

/**
 * MoveView is the cluster-wide picture of replica moves a controller uses to
 * start one at a time: `moving` are shards with a learner catching up,
 * `needing` are shards whose membership differs from the placement.
 */
export interface MoveView {
  readonly moving: ReadonlySet<GroupId>;
  readonly needing: ReadonlySet<GroupId>;
}

/**
 * mayStartMove says whether the leader of `shard` may start a move (add a
 * learner): only when no other shard is moving, and only the lowest-numbered
 * shard that needs one, so the cluster moves one shard at a time. Steps that
 * finish a move (promote, remove) are never held back.
 */
export function mayStartMove(shard: GroupId, view: MoveView): boolean {
  for (const m of view.moving) if (m !== shard) return false;
  for (const n of view.needing) if (n < shard) return false;
  return true;
}

/**
 * moveView derives the MoveView from shard leaders' reports (the report of the
 * leader with the highest term per shard) and the placement's replicas.
 */
export function moveView(
  leaders: ReadonlyMap<GroupId, { readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[] }>,
  placed: ReadonlyMap<GroupId, readonly NodeId[]>,
): MoveView {
  const moving = new Set<GroupId>();
  const needing = new Set<GroupId>();
  for (const [shard, target] of placed) {
    const r = leaders.get(shard);
    if (r === undefined) continue;
    if (r.learners.length > 0) moving.add(shard);
    const same = r.voters.length === target.length && target.every((n) => r.voters.includes(n));
    if (!same || r.learners.length > 0) needing.add(shard);
  }
  return { moving, needing };
}
