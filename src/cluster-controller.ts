/**
 * cluster-controller.ts — the part of a node that moves the running cluster
 * towards what the meta group records: who the members are, where each
 * shard's replicas live, and who leads each shard. The decisions are the
 * pure planners of src/control/reconcile.ts; this file gathers their inputs
 * from the driver, the transport and the meta state machine, and carries out
 * what they return.
 *
 * One round (`round()`, every ReconcileLimits.reconcileIntervalMs):
 *   1. peers: the transport dials every recorded node (and every initial
 *      member), and forgets removed ones;
 *   2. registration: this node records itself (setNode) once the meta group
 *      has a leader, with its peer and API addresses;
 *   3. on the meta leader: bootstrap (record the initial members, then the
 *      initial placement), the meta group's membership (learner → voter,
 *      removal of nodes no longer recorded), and the node life cycle
 *      (joining → active → placement → leaving → removed);
 *   4. on every shard leader: the shard's membership towards its placement,
 *      then leadership towards its preferred replica;
 *   5. hosting: open the shard replicas the placement names here, close the
 *      ones it no longer names once their leader has removed this node.
 *
 * Ownership and invariants:
 * - rounds never overlap (#running); each group has at most one membership
 *   step in flight (#busy), and the core allows one pending conf change;
 * - every step is idempotent against the recorded state, so a round that
 *   fails half-way (a leader change, a timeout) is simply retried by the next;
 * - the controller never removes a voter before the replacement is a
 *   caught-up voter (planGroupMembership's order).
 */
import { OtlpdbError, assert } from './errors.js';
import { MetaStateMachine } from './control/meta-state-machine.js';
import type { MetaCommand, MetaResult } from './control/meta-command.js';
import { bestTransferee, mayStartMove, moveView, planGroupMembership, planHosting, planMetaMembers, planNodeLifecycle } from './control/reconcile.js';
import type { GroupAction, GroupTarget, LeaderView, MoveView } from './control/reconcile.js';
import { NodeDefaults, ReconcileLimits } from './limits.js';
import { formatHostPort, parseHostPort } from './node-config.js';
import type { HostPort } from './node-config.js';
import type { NodeLog } from './node-log.js';
import { computePlacement } from './partition/placement.js';
import type { Placement } from './partition/placement.js';
import type { Hasher } from './partition/hash.js';
import type { MultiRaftDriver } from './raft/driver/multi-raft.js';
import { ConfChangeType, StateRole } from './raft/types.js';
import type { GroupId, NodeId } from './raft/types.js';
import type { PeerTransport } from './transport/peer-transport.js';
import { pack, unpack } from 'msgpackr';

/** NODE_REPORT is the transport method that returns a node's GroupReports. */
export const NODE_REPORT = 'node.report';

/** GroupReport is one hosted group as its replica on some node sees it. */
export interface GroupReport {
  readonly group: GroupId;
  readonly node: NodeId;
  readonly leader: NodeId;
  readonly isLeader: boolean;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** ClusterControllerDeps is what the controller needs from its node. */
export interface ClusterControllerDeps {
  readonly self: NodeId;
  readonly peer: HostPort;
  readonly api: () => HostPort;
  readonly driver: MultiRaftDriver;
  readonly transport: PeerTransport;
  readonly log: NodeLog;
  readonly hasher: Hasher;
  /** initial is the bootstrap membership (empty for a node that joined). */
  readonly initial: ReadonlyMap<NodeId, HostPort>;
  /** bootstrapPlacement is the placement the initial members computed to create their shards (null for a joined node). */
  readonly bootstrapPlacement: Placement | null;
  /** proposeMeta runs a command on the meta group (forwarding to its leader). */
  readonly proposeMeta: (c: MetaCommand) => Promise<MetaResult>;
}

const META = NodeDefaults.metaGroup;

/** encodeReports and decodeReports carry GroupReports over the transport (msgpackr). */
export function encodeReports(reports: readonly GroupReport[]): Uint8Array {
  return pack(reports.map((r) => [r.group, r.node, r.leader, r.isLeader, r.term, r.commit, r.applied, r.voters, r.learners]));
}

/** decodeReports parses a peer's reports; malformed input is ERR_INVALID_ARGUMENT. */
export function decodeReports(bytes: Uint8Array): GroupReport[] {
  let v: unknown;
  try {
    v = unpack(bytes);
  } catch (err) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `node report is not msgpack: ${String(err)}`);
  }
  if (!Array.isArray(v) || v.length > ReconcileLimits.reportGroupsMax) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'node report is not a bounded list');
  const ints = (x: unknown): x is number[] => Array.isArray(x) && x.length <= ReconcileLimits.reportGroupsMax && x.every((n) => Number.isSafeInteger(n) && n >= 0);
  return v.map((row: unknown) => {
    if (!Array.isArray(row) || row.length !== 9) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'node report row has the wrong shape');
    const [group, node, leader, isLeader, term, commit, applied, voters, learners] = row as unknown[];
    const nums = [group, node, leader, term, commit, applied];
    if (!nums.every((n) => Number.isSafeInteger(n) && (n as number) >= 0) || typeof isLeader !== 'boolean' || !ints(voters) || !ints(learners)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'node report row has a bad field');
    }
    return {
      group: group as number,
      node: node as number,
      leader: leader as number,
      isLeader,
      term: term as number,
      commit: commit as number,
      applied: applied as number,
      voters,
      learners,
    };
  });
}

/** ClusterController carries out the reconciliation rounds of one node (see the top of this file). */
export class ClusterController {
  readonly #d: ClusterControllerDeps;
  #running = false;
  #stopped = false;
  readonly #busy = new Set<GroupId>();
  #registering = false;
  /** #roundReports are the reports gathered in the current round (null until a step asks). */
  #roundReports: Promise<GroupReport[]> | null = null;
  /** #moves is the last cluster-wide view of replica moves (refreshed every moveViewRefreshMs). */
  #moves: { readonly atMs: number; readonly view: MoveView } | null = null;
  /** #startedMoves are the shards this node started moving, with when (bounded by the shards it leads). */
  readonly #startedMoves = new Map<GroupId, number>();
  readonly #learned = new Map<NodeId, HostPort>();
  #lastPeers = new Map<NodeId, HostPort>();
  /** seenSelf is set once this node has seen itself recorded in the meta group. */
  #seenSelf = false;
  #lastTransferMs = new Map<GroupId, number>();
  /** removed is set once the meta group no longer records this node: it hosts nothing more. */
  #removed = false;

  constructor(deps: ClusterControllerDeps) {
    this.#d = deps;
  }

  /** removed says whether this node has been removed from the cluster. */
  get removed(): boolean {
    return this.#removed;
  }

  /** stop makes later rounds do nothing (steps in flight finish on their own). */
  stop(): void {
    this.#stopped = true;
  }

  /** metaState returns the local meta state machine, or null while the meta group is not hosted. */
  metaState(): MetaStateMachine | null {
    const sm = this.#d.driver.stateMachine(META);
    return sm instanceof MetaStateMachine ? sm : null;
  }

  /** localReports lists every hosted group as this node sees it. */
  localReports(): GroupReport[] {
    const out: GroupReport[] = [];
    for (const group of this.#d.driver.groups().sort((a, b) => a - b)) {
      const s = this.#d.driver.status(group);
      if (s === null) continue;
      out.push({
        group,
        node: this.#d.self,
        leader: s.lead,
        isLeader: s.role === StateRole.Leader,
        term: s.term,
        commit: s.commit,
        applied: s.applied,
        voters: [...s.confState.voters],
        learners: [...s.confState.learners],
      });
    }
    return out;
  }

  /**
   * memberIds lists the nodes to ask for cluster-wide answers (flush, stats,
   * reports): once the local meta state is authoritative (#recordedOnly),
   * exactly the recorded nodes and this one, so a removed initial member is
   * not asked forever (the transport forgets it too, and every call to it
   * would fail); before that, the initial members and whatever is recorded.
   */
  memberIds(): NodeId[] {
    const sm = this.metaState();
    const ids = new Set<NodeId>(this.#recordedOnly(sm) ? [] : this.#d.initial.keys());
    for (const n of sm?.nodes() ?? []) ids.add(Number(n.id));
    ids.add(this.#d.self);
    return [...ids].sort((a, b) => a - b);
  }

  /** recordedOnly says the meta state names the members by itself: it has a placement and recorded nodes. */
  #recordedOnly(sm: MetaStateMachine | null): sm is MetaStateMachine {
    return sm !== null && sm.placement() !== null && sm.nodes().length > 0;
  }

  /**
   * gatherReports asks every other known node for its reports (in parallel,
   * each within reportDeadlineMs) and adds this node's own; a node that does
   * not answer is left out.
   */
  async gatherReports(): Promise<GroupReport[]> {
    const others = this.memberIds().filter((id) => id !== this.#d.self);
    const answers = await Promise.allSettled(
      others.map(async (id) => decodeReports(await this.#d.transport.call(id, NODE_REPORT, new Uint8Array(0), ReconcileLimits.reportDeadlineMs))),
    );
    const out = this.localReports();
    for (const a of answers) if (a.status === 'fulfilled') out.push(...a.value);
    return out;
  }

  /** #reports gathers every node's reports once per round; the steps of a round share them. */
  #reports(): Promise<GroupReport[]> {
    this.#roundReports ??= this.gatherReports();
    return this.#roundReports;
  }

  /** round carries out one reconciliation round; errors are logged, and the next round retries. */
  async round(): Promise<void> {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    this.#roundReports = null;
    try {
      this.#refreshPeers();
      const sm = this.metaState();
      if (sm === null) return;
      this.#register(sm);
      const meta = this.#d.driver.status(META);
      if (meta?.role === StateRole.Leader) await this.#leadMeta(sm);
      const placement = sm.placement();
      if (placement === null) return;
      await this.#refreshMoveView(placement);
      this.#leadShards(placement);
      await this.#host(placement);
    } catch (err) {
      this.#d.log.event('reconcile_failed', { error: String(err) }, undefined, 'warn');
    } finally {
      this.#running = false;
    }
  }

  /**
   * learnPeers adds members learned outside the meta group (a join answer);
   * they are dialed until the local meta state records the cluster.
   */
  learnPeers(peers: ReadonlyMap<NodeId, HostPort>): void {
    for (const [id, a] of peers) if (id !== this.#d.self && this.#learned.size < ReconcileLimits.learnedPeersMax) this.#learned.set(id, a);
    this.#refreshPeers();
  }

  /**
   * refreshPeers gives the transport the nodes to dial: once the local meta
   * state has a placement, exactly the recorded nodes (so a removed node is
   * forgotten); before that, the initial members, the peers a join answer
   * named, and whatever is recorded so far.
   */
  #refreshPeers(): void {
    const peers = new Map<NodeId, HostPort>();
    const sm = this.metaState();
    const recorded = sm?.nodes() ?? [];
    if (!this.#recordedOnly(sm)) {
      for (const [id, a] of this.#d.initial) peers.set(id, a);
      for (const [id, a] of this.#learned) peers.set(id, a);
    }
    for (const n of recorded) {
      try {
        peers.set(Number(n.id), parseHostPort('peer', n.peerAddress, NodeDefaults.peerPort));
      } catch {
        // A malformed recorded address is skipped (setNode validates what it records).
      }
    }
    peers.delete(this.#d.self);
    const same = (a: HostPort | undefined, b: HostPort): boolean => a !== undefined && a.host === b.host && a.port === b.port;
    if (peers.size === this.#lastPeers.size && [...peers].every(([id, a]) => same(this.#lastPeers.get(id), a))) return;
    this.#lastPeers = peers;
    this.#d.transport.setPeers(peers);
  }

  /**
   * register records this node's addresses in the meta group when they are
   * missing or stale. An initial member records itself (the bootstrap does
   * too); a joined node is recorded by its join request. A node that was
   * recorded (or is an initial member) and is no longer, once a placement
   * exists, was removed from the cluster.
   */
  #register(sm: MetaStateMachine): void {
    if (this.#registering) return;
    const me = sm.node(String(this.#d.self));
    const peer = formatHostPort(this.#d.peer);
    const api = formatHostPort(this.#d.api());
    if (me === null) {
      const wasMember = this.#seenSelf || this.#d.initial.has(this.#d.self);
      if (sm.placement() !== null) {
        if (wasMember) this.#markRemoved();
        return;
      }
      if (!this.#d.initial.has(this.#d.self)) return;
    } else {
      this.#seenSelf = true;
      if (me.peerAddress === peer && me.apiAddress === api) return;
    }
    const state = me?.state ?? 'active';
    this.#registering = true;
    this.#d
      .proposeMeta({ op: 'setNode', node: { id: String(this.#d.self), peerAddress: peer, apiAddress: api, state } })
      .catch((err: unknown) => this.#d.log.event('register_failed', { error: String(err) }, META, 'warn'))
      .finally(() => {
        this.#registering = false;
      });
  }

  #markRemoved(): void {
    if (this.#removed) return;
    this.#removed = true;
    this.#d.log.event('node_removed', {}, undefined, 'warn');
  }

  async #leadMeta(sm: MetaStateMachine): Promise<void> {
    const placement = sm.placement();
    if (placement === null) {
      await this.#bootstrap(sm);
      return;
    }
    const st = this.#d.driver.status(META);
    if (st?.progress === undefined) return;
    const view: LeaderView = { self: this.#d.self, confState: st.confState, progress: st.progress, lastIndex: st.lastIndex, commit: st.commit };
    const recorded = sm.nodes();
    const target = planMetaMembers(
      view,
      recorded.map((n) => Number(n.id)),
      NodeDefaults.metaVotersMax,
      ReconcileLimits.catchUpLagEntriesMax,
    );
    const step = planGroupMembership(view, target, (n) => this.#reachable(n), ReconcileLimits.catchUpLagEntriesMax);
    if (step !== null && step.kind !== 'transferLeader') {
      this.#step(META, step);
      return;
    }
    if (step?.kind === 'transferLeader' && !target.replicas.includes(this.#d.self)) {
      this.#step(META, step);
      return;
    }
    const members = new Set<NodeId>([...st.confState.voters, ...st.confState.learners]);
    const leaving = recorded.some((n) => n.state === 'leaving');
    let inShards: ((id: string) => boolean) | null = null;
    if (leaving) inShards = shardMembership(await this.#reports(), placement.shardCount);
    const life = planNodeLifecycle(recorded, placement, members, inShards);
    if (life === null) return;
    switch (life.kind) {
      case 'activate':
        await this.#propose({ op: 'setNode', node: life.node });
        break;
      case 'setPlacement': {
        const next = computePlacement(this.#d.hasher, life.nodes, placement.shardCount, placement.replicationFactor);
        await this.#propose({ op: 'setPlacement', placement: next });
        this.#d.log.event('placement_changed', { nodes: life.nodes }, META);
        break;
      }
      case 'removeNode':
        await this.#propose({ op: 'removeNode', id: life.id });
        this.#d.log.event('node_forgotten', { id: life.id }, META);
        break;
    }
  }

  /** bootstrap records the placement the initial members created their shards with, once they all recorded themselves. */
  async #bootstrap(sm: MetaStateMachine): Promise<void> {
    const p = this.#d.bootstrapPlacement;
    if (p === null) return; // A joined node never bootstraps; a recorded placement exists before it can lead.
    // Every initial member records itself (with its API address) first; the placement may only name recorded nodes.
    for (const id of this.#d.initial.keys()) if (sm.node(String(id)) === null) return;
    await this.#propose({ op: 'setPlacement', placement: p });
    this.#d.log.event('placement_bootstrapped', { shards: p.shardCount, replicas: p.replicationFactor, nodes: p.nodes }, META);
  }

  #leadShards(placement: Placement): void {
    for (const s of placement.shards) {
      const st = this.#d.driver.status(s.shard);
      if (st === null || st.role !== StateRole.Leader || st.progress === undefined) continue;
      const replicas = s.replicas.map(Number);
      const target: GroupTarget = { replicas, preferredLeader: replicas[0] };
      const view: LeaderView = { self: this.#d.self, confState: st.confState, progress: st.progress, lastIndex: st.lastIndex, commit: st.commit };
      const step = planGroupMembership(view, target, (n) => this.#reachable(n), ReconcileLimits.catchUpLagEntriesMax);
      if (step === null) continue;
      if (step.kind === 'addLearner' && !this.#mayStartMove(s.shard)) continue; // One shard moves at a time.
      this.#step(s.shard, step);
    }
  }

  /**
   * #refreshMoveView renews the cluster-wide view of replica moves from every
   * node's reports, at most every moveViewRefreshMs.
   */
  async #refreshMoveView(placement: Placement): Promise<void> {
    const now = performance.now();
    if (this.#moves !== null && now - this.#moves.atMs < ReconcileLimits.moveViewRefreshMs) return;
    const leaders = new Map<GroupId, GroupReport>();
    for (const r of await this.#reports()) {
      if (r.group === META || !r.isLeader) continue;
      const prev = leaders.get(r.group);
      if (prev === undefined || r.term > prev.term) leaders.set(r.group, r);
    }
    const placed = new Map(placement.shards.map((s) => [s.shard, s.replicas.map(Number)]));
    this.#moves = { atMs: performance.now(), view: moveView(leaders, placed) };
  }

  /** #mayStartMove applies mayStartMove to the last view plus the moves this node started since (the view may not show them yet). */
  #mayStartMove(shard: GroupId): boolean {
    const v = this.#moves;
    if (v === null) return false;
    const now = performance.now();
    const moving = new Set(v.view.moving);
    for (const [g, at] of this.#startedMoves) {
      if (now - at < 2 * ReconcileLimits.moveViewRefreshMs) moving.add(g);
      else this.#startedMoves.delete(g);
    }
    const ok = mayStartMove(shard, { moving, needing: v.view.needing });
    if (ok) this.#startedMoves.set(shard, now);
    return ok;
  }

  /** step starts one membership or leadership step of a group unless one is in flight. */
  #step(group: GroupId, a: GroupAction): void {
    if (this.#busy.has(group)) return;
    if (a.kind === 'transferLeader') {
      const now = performance.now();
      if (now - (this.#lastTransferMs.get(group) ?? -Infinity) < ReconcileLimits.transferBackoffMs) return;
      this.#lastTransferMs.set(group, now);
      const err = this.#d.driver.transferLeader(group, a.to);
      this.#d.log.event('leader_transfer', { to: a.to, error: err === null ? null : err.message }, group);
      return;
    }
    const type = a.kind === 'addLearner' ? ConfChangeType.AddLearner : a.kind === 'promote' ? ConfChangeType.AddNode : ConfChangeType.RemoveNode;
    this.#busy.add(group);
    this.#d.log.event('membership_step', { step: a.kind, target: a.node }, group);
    this.#d.driver
      .proposeConfChange(group, { type, nodeId: a.node })
      .then((r) => this.#d.log.event('membership_changed', { voters: r.confState.voters, learners: r.confState.learners }, group))
      .catch((err: unknown) => this.#d.log.event('membership_step_failed', { step: a.kind, target: a.node, error: String(err) }, group, 'warn'))
      .finally(() => this.#busy.delete(group));
  }

  async #host(placement: Placement): Promise<void> {
    const hosted = new Set(this.#d.driver.groups().filter((g) => g !== META));
    const needsLeaderView = placement.shards.some((s) => hosted.has(s.shard) && !s.replicas.includes(String(this.#d.self)));
    const leaderConf = new Map<GroupId, readonly NodeId[]>();
    if (needsLeaderView) {
      for (const r of await this.#reports()) {
        if (r.isLeader) leaderConf.set(r.group, [...r.voters, ...r.learners]);
      }
    }
    const removedFrom = (g: GroupId): boolean => {
      const local = this.#d.driver.confState(g);
      if (local !== null && local.voters.length > 0 && !local.voters.includes(this.#d.self) && !local.learners.includes(this.#d.self)) return true;
      const lc = leaderConf.get(g);
      return lc !== undefined && !lc.includes(this.#d.self);
    };
    const plan = planHosting(this.#d.self, placement, hosted, removedFrom);
    for (const g of plan.open.slice(0, ReconcileLimits.hostingStepsPerRoundMax)) {
      await this.#d.driver.addGroup({ group: g, voters: [] });
      this.#d.log.event('replica_opened', {}, g);
    }
    for (const g of plan.close.slice(0, ReconcileLimits.hostingStepsPerRoundMax)) {
      await this.#d.driver.removeGroup(g);
      this.#d.log.event('replica_closed', {}, g);
    }
  }

  async #propose(c: MetaCommand): Promise<void> {
    const r = await this.#d.proposeMeta(c);
    if (r.kind === 'refused') this.#d.log.event('meta_refused', { op: c.op, code: r.code, message: r.message }, META, 'warn');
  }

  #reachable(n: NodeId): boolean {
    if (n === this.#d.self) return true;
    return this.#d.transport.peerStatus(n)?.state === 'connected';
  }

  /**
   * drain hands every group this node leads to another caught-up voter and
   * waits until it leads none, or `deadlineMs` passes; it resolves with the
   * groups still led (best effort: shutdown goes on either way).
   */
  async drain(deadlineMs: number): Promise<GroupId[]> {
    assert(deadlineMs >= 0, 'a drain deadline is not negative');
    this.stop();
    const end = performance.now() + deadlineMs;
    const led = (): GroupId[] => this.#d.driver.groups().filter((g) => this.#d.driver.status(g)?.role === StateRole.Leader);
    let asked = new Map<GroupId, number>();
    for (;;) {
      const still = led();
      if (still.length === 0 || performance.now() >= end) return still;
      const now = performance.now();
      for (const g of still) {
        if (now - (asked.get(g) ?? -Infinity) < ReconcileLimits.drainRetryMs) continue;
        const st = this.#d.driver.status(g);
        if (st?.progress === undefined) continue;
        const view: LeaderView = { self: this.#d.self, confState: st.confState, progress: st.progress, lastIndex: st.lastIndex, commit: st.commit };
        const to = bestTransferee(view, st.confState.voters, (n) => this.#reachable(n), 0);
        if (to === null) continue;
        asked.set(g, now);
        this.#d.driver.transferLeader(g, to);
      }
      asked = new Map([...asked].filter(([g]) => still.includes(g)));
      await new Promise((r) => setTimeout(r, ReconcileLimits.drainPollMs));
    }
  }
}

/**
 * shardMembership builds "is this node in some shard's membership" from the
 * leaders' reports, or null when some shard has no leader report (then no
 * removal may proceed).
 */
export function shardMembership(reports: readonly GroupReport[], shardCount: number): ((id: string) => boolean) | null {
  const members = new Set<string>();
  const led = new Set<GroupId>();
  for (const r of reports) {
    if (!r.isLeader || r.group === META) continue;
    led.add(r.group);
    for (const n of [...r.voters, ...r.learners]) members.add(String(n));
  }
  for (let g = 1; g <= shardCount; g++) if (!led.has(g)) return null;
  return (id) => members.has(id);
}

