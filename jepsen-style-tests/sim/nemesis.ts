/**
 * nemesis.ts — the fault schedule: crashes and restarts (also in between the
 * phases of a Ready), partitions that come and heal, membership changes,
 * leader transfers and log compaction. Every decision is drawn from the
 * nemesis' own stream, so faults are a pure function of the seed.
 *
 * Invariants:
 * - At most `faults.crashedMax` nodes are down at once (removed nodes do not
 *   count); each crashed node has one restart scheduled.
 * - At most one partition is in force; it has one heal scheduled.
 * - Membership changes go through the leader, one at a time, and never take
 *   the voters below SimVotersMin or the nodes above SimNodesMax.
 * - Once `calm()` is called no new fault starts.
 */
import { ConfChangeType, StateRole } from '../../src/raft/types.js';
import type { NodeId, Ready } from '../../src/raft/types.js';
import type { Cluster } from './cluster.js';
import type { DriverPhase, SimNode } from './driver.js';
import { NodeIdMax, makePartition } from './network.js';
import type { Prng } from './prng.js';
import type { FaultRates } from './scenario.js';
import { SimNodesMax, SimVotersMin } from './scenario.js';

/**
 * RejoinProposeTicksMax bounds how long a rejoined node runs, empty and in no
 * membership, before the nemesis proposes its learner addition: the window in
 * which a stale candidate may ask it for a vote.
 */
const RejoinProposeTicksMax = 150;

/** LearnerCatchUpEntriesMax is how far behind the leader a learner may be when the nemesis promotes it. */
const LearnerCatchUpEntriesMax = 20;

/** NemesisStats counts the faults injected. */
export interface NemesisStats {
  crashes: number;
  phaseCrashes: number;
  restarts: number;
  partitions: number;
  confChangesProposed: number;
  transfers: number;
  compactions: number;
  /** rejoinsProposed counts learner additions that reuse a removed node's id (a wiped new incarnation). */
  rejoinsProposed: number;
}

/** Nemesis decides, step by step, which fault happens next. */
export class Nemesis {
  readonly #rates: FaultRates;
  readonly #rand: Prng;
  /** #rejoinRand decides re-adds on its own stream, so seeds without removals draw exactly as before. */
  readonly #rejoinRand: Prng;
  readonly #restartAt = new Map<NodeId, number>();
  readonly #crashAt = new Map<NodeId, number>();
  readonly #isolateAt = new Map<NodeId, number>();
  #healAt = -1;
  #calm = false;
  /** #pendingRejoin is a rejoined node running before its learner addition is proposed (at most one). */
  #pendingRejoin: { readonly id: NodeId; readonly proposeAt: number } | null = null;
  #nextNodeId: NodeId;
  /** stats counts the faults injected. */
  readonly stats: NemesisStats = {
    crashes: 0,
    phaseCrashes: 0,
    restarts: 0,
    partitions: 0,
    confChangesProposed: 0,
    transfers: 0,
    compactions: 0,
    rejoinsProposed: 0,
  };

  constructor(rates: FaultRates, rand: Prng, firstJoinerId: NodeId) {
    this.#rates = rates;
    this.#rand = rand;
    this.#rejoinRand = rand.fork('rejoin');
    this.#nextNodeId = firstJoinerId;
  }

  /** calm stops new faults (the run is healing); a rejoined node not yet proposed for addition leaves again. */
  calm(c: Cluster): void {
    this.#calm = true;
    if (this.#pendingRejoin !== null) c.abandonRejoin(this.#pendingRejoin.id);
    this.#pendingRejoin = null;
    this.#restartAt.clear();
    this.#crashAt.clear();
    this.#isolateAt.clear();
    this.#healAt = -1;
  }

  #crashedCount(c: Cluster): number {
    let n = 0;
    for (const node of c.nodes.values()) if (!node.removed && !node.up) n++;
    return n;
  }

  #crash(c: Cluster, node: SimNode): void {
    c.crash(node.id);
    this.stats.crashes++;
    this.#restartAt.set(node.id, c.now + this.#rand.range(this.#rates.restartTicksMin, this.#rates.restartTicksMax));
  }

  /** crashAfterPhase decides whether `node` crashes right after `phase` of a Ready that must sync or moves the commit index; it crashes it if so. */
  crashAfterPhase(c: Cluster, node: SimNode, _phase: DriverPhase, rd: Ready): boolean {
    // Only Readies that change durable state or the commit index are worth
    // a crash in between phases: that is where ordering bugs hide.
    if (this.#calm || (!rd.mustSync && rd.hardState === null) || this.#rates.phaseCrashPerReady === 0) return false;
    if (!this.#rand.chance(this.#rates.phaseCrashPerReady)) return false;
    if (this.#crashedCount(c) >= this.#rates.crashedMax) return false;
    this.stats.phaseCrashes++;
    this.#crash(c, node);
    return true;
  }

  /** leaderElected may schedule a crash or an isolation of a newly elected leader ("kill / partition the leader"). */
  leaderElected(c: Cluster, node: SimNode): void {
    const rates = this.#rates;
    if (this.#calm || rates.newLeaderFaultPerElection === 0) return;
    if (!this.#rand.chance(rates.newLeaderFaultPerElection)) return;
    const at = c.now + this.#rand.range(0, rates.newLeaderFaultTicksMax);
    const isolate = this.#rand.chance(rates.newLeaderIsolateBias);
    const pending = isolate ? this.#isolateAt : this.#crashAt;
    const prev = pending.get(node.id);
    if (prev === undefined || prev > at) pending.set(node.id, at);
  }

  /** afterReady may isolate a leader right after it applied entries (leaderCommitIsolatePerReady). */
  afterReady(c: Cluster, node: SimNode, appliedEntries: number): void {
    const p = this.#rates.leaderCommitIsolatePerReady;
    if (this.#calm || p === 0 || appliedEntries === 0 || node.role !== StateRole.Leader) return;
    if (this.#rand.chance(p)) this.#isolate(c, node.id);
  }

  #isolate(c: Cluster, id: NodeId): void {
    const members = c.memberIds();
    if (members.length < 2 || !members.includes(id)) return;
    c.network.setPartition(makePartition('isolate-leader', members, id, this.#rand));
    this.#healAt = c.now + this.#rand.range(this.#rates.partitionTicksMin, this.#rates.partitionTicksMax);
    this.stats.partitions++;
    c.trace(7, 0, this.#healAt, id);
  }

  /** step runs the nemesis at the start of a step: due restarts and heals, then new faults. */
  step(c: Cluster): void {
    const now = c.now;
    for (const [id, at] of this.#restartAt) {
      if (at > now) continue;
      this.#restartAt.delete(id);
      const node = c.nodes.get(id);
      if (node !== undefined && !node.removed && !node.up) {
        c.restart(id);
        this.stats.restarts++;
      }
    }
    if (this.#healAt >= 0 && this.#healAt <= now) {
      c.network.setPartition(null);
      this.#healAt = -1;
    }
    if (this.#calm) return;
    const r = this.#rand;
    const rates = this.#rates;

    for (const [id, at] of this.#crashAt) {
      if (at > now) continue;
      this.#crashAt.delete(id);
      const node = c.nodes.get(id);
      if (node !== undefined && node.up && this.#crashedCount(c) < rates.crashedMax) this.#crash(c, node);
    }
    for (const [id, at] of this.#isolateAt) {
      if (at > now) continue;
      this.#isolateAt.delete(id);
      // Replaces any partition in force: the old one heals as this one starts.
      if (c.nodes.get(id)?.up === true) this.#isolate(c, id);
    }

    if (r.chance(rates.crashPerStep) && this.#crashedCount(c) < rates.crashedMax) {
      const live = c.liveNodes();
      const leader = c.leader();
      if (leader !== null && r.chance(rates.crashLeaderBias)) this.#crash(c, leader);
      else if (live.length > 0) this.#crash(c, r.pick(live));
    }

    if (c.network.partition === null && r.chance(rates.partitionPerStep)) {
      const members = c.memberIds();
      if (members.length >= 2) {
        const shape = r.pick(rates.shapes);
        const leader = c.leader();
        c.network.setPartition(makePartition(shape, members, leader?.id ?? 0, r));
        this.#healAt = now + r.range(rates.partitionTicksMin, rates.partitionTicksMax);
        this.stats.partitions++;
        c.trace(7, shape.length, this.#healAt, members.length);
      }
    }

    if (rates.confChangePerStep > 0 && r.chance(rates.confChangePerStep)) this.#changeMembership(c);

    if (rates.transferPerStep > 0 && r.chance(rates.transferPerStep)) {
      const leader = c.leader();
      if (leader !== null && leader.raw !== null) {
        const others = leader.confState.voters.filter((v) => v !== leader.id);
        if (others.length > 0) {
          leader.raw.transferLeader(r.pick(others));
          this.stats.transfers++;
        }
      }
    }

    for (const node of c.liveNodes()) {
      if (r.chance(rates.compactPerNodeStep) && c.compact(node, r.range(0, rates.compactKeepEntriesMax))) this.stats.compactions++;
    }
  }

  /**
   * #rejoin decides, with the seed's rejoinBias, to bring a removed node back
   * (a new incarnation on a wiped disk, running at once) and to propose its
   * learner addition later. Only a node whose removal has taken effect and
   * that the leader's membership no longer lists. Returns the id to add as a
   * learner now, or 0.
   */
  #rejoin(c: Cluster, voters: readonly NodeId[]): NodeId {
    const pending = this.#pendingRejoin;
    if (pending !== null) return pending.proposeAt <= c.now ? pending.id : 0;
    if (this.#rates.rejoinBias === 0) return 0;
    const removed: NodeId[] = [];
    for (const n of c.nodes.values()) if (n.removed && !voters.includes(n.id)) removed.push(n.id);
    if (removed.length === 0 || !this.#rejoinRand.chance(this.#rates.rejoinBias)) return 0;
    const id = this.#rejoinRand.pick(removed);
    c.rejoin(id);
    this.#pendingRejoin = { id, proposeAt: c.now + this.#rejoinRand.range(0, RejoinProposeTicksMax) };
    return 0;
  }

  #changeMembership(c: Cluster): void {
    const leader = c.leader();
    if (leader === null || leader.raw === null) return;
    const r = this.#rand;
    const { voters, learners } = leader.confState;
    let cc: { type: ConfChangeType; nodeId: NodeId } | null = null;
    const learner = learners.length > 0 ? r.pick(learners) : 0;
    const learnerNode = c.nodes.get(learner);
    if (learnerNode !== undefined && learnerNode.applied + LearnerCatchUpEntriesMax >= leader.applied) {
      cc = { type: ConfChangeType.AddNode, nodeId: learner };
    } else if (voters.length > SimVotersMin && (r.chance(0.5) || voters.length + learners.length >= SimNodesMax)) {
      // Mostly a follower; sometimes the leader removes itself.
      const followers = voters.filter((v) => v !== leader.id);
      const victim = r.chance(0.2) || followers.length === 0 ? leader.id : r.pick(followers);
      cc = { type: ConfChangeType.RemoveNode, nodeId: victim };
    } else if (learners.length === 0 && c.memberIds().length < SimNodesMax) {
      const rejoin = this.#rejoin(c, voters);
      if (rejoin !== 0) cc = { type: ConfChangeType.AddLearner, nodeId: rejoin };
      else if (this.#pendingRejoin === null && this.#nextNodeId <= NodeIdMax) cc = { type: ConfChangeType.AddLearner, nodeId: this.#nextNodeId };
    }
    if (cc === null) return;
    const err = leader.raw.proposeConfChange(cc);
    if (err === null) {
      this.stats.confChangesProposed++;
      if (cc.type === ConfChangeType.AddLearner && cc.nodeId === this.#nextNodeId) this.#nextNodeId++;
      else if (cc.type === ConfChangeType.AddLearner) {
        this.stats.rejoinsProposed++;
        this.#pendingRejoin = null;
      }
      c.trace(8, cc.type, cc.nodeId, leader.id);
    }
  }
}
