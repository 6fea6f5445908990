/**
 * cluster.ts — the simulated cluster of one seed: nodes, network, nemesis,
 * clients and invariants, advanced one step (one tick of global time) at a
 * time.
 *
 * A step, in order:
 *   1. the nemesis acts (due restarts and heals, then new faults; reports of
 *      undeliverable messages from the previous step reach their senders);
 *   2. every message due this tick is delivered (`step`) to its live receiver;
 *   3. every live node ticks once;
 *   4. clients time out and issue operations;
 *   5. every live node, in id order, carries out its Readies (driver.ts),
 *      during which the invariants are checked as data is persisted, sent
 *      and applied, and the nemesis may crash a node between phases;
 *   6. removals decided by applied configuration changes take effect.
 *
 * Invariants:
 * - `nodes` holds the latest incarnation of every node id ever created,
 *   founders 1..clusterSize and joiners after; a removed node stays, down,
 *   and never restarts. When a removed id is added back, a new incarnation
 *   with a wiped disk replaces it (its `life` continues the old count, so its
 *   random stream is new).
 * - `now` is the current tick; it only increases.
 * - Nothing in this file reads a clock or Math.random(): every draw comes
 *   from a stream forked off the seed, by a fixed label.
 */
import { SimLimits } from '../../src/limits.js';
import { assert } from '../../src/errors.js';
import { incarnationHardState, tombstoneOf } from '../../src/raft/index.js';
import { ConfChangeType, MessageType, StateRole } from '../../src/raft/types.js';
import type { ConfChange, Message, NodeId, Ready, ReadState, Snapshot } from '../../src/raft/types.js';
import { SimDisk } from './disk.js';
import { SimNode } from './driver.js';
import type { DriverEvents, DriverHooks, DriverPhase, MakeRaft } from './driver.js';
import { Invariants } from './invariants.js';
import type { KvApplied } from './kv.js';
import { Nemesis } from './nemesis.js';
import { Network } from './network.js';
import type { DropReason } from './network.js';
import { Prng } from './prng.js';
import type { Scenario } from './scenario.js';
import { Workload } from './workload.js';

/** ClockUnitsPerTick spaces the logical clock of client histories: tick * ClockUnitsPerTick + event number within the tick. */
export const ClockUnitsPerTick = 1 << 16;

/** DropReportsPerStepMax bounds the undeliverable-message reports handed to senders in one step. */
const DropReportsPerStepMax = SimLimits.dropReportsPerStepMax;

/** ClusterOptions are what a test may inject into a cluster. */
export interface ClusterOptions {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly makeRaft?: MakeRaft;
  readonly driverHooks?: DriverHooks;
}

/** ClusterStats counts what happened in the cluster (network, disk and nemesis have their own). */
export interface ClusterStats {
  leaderChanges: number;
  confChangesApplied: number;
  snapshotsSent: number;
  snapshotChunksSent: number;
  snapshotsInstalled: number;
  nodesAdded: number;
  nodesRemoved: number;
  /** nodesRejoined counts removed ids that came back as a new, wiped incarnation. */
  nodesRejoined: number;
}

/** Cluster is one seed's simulated world. */
export class Cluster implements DriverEvents {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly network: Network;
  readonly invariants: Invariants;
  readonly workload: Workload;
  readonly nemesis: Nemesis;
  readonly stats: ClusterStats = {
    leaderChanges: 0,
    confChangesApplied: 0,
    snapshotsSent: 0,
    snapshotChunksSent: 0,
    snapshotsInstalled: 0,
    nodesAdded: 0,
    nodesRemoved: 0,
    nodesRejoined: 0,
  };
  now = 0;
  #tickEvents = 0;
  #trace = 0x811c9dc5;
  #traceEvents = 0;
  readonly #rand: Prng;
  readonly #makeRaft: MakeRaft | undefined;
  readonly #hooks: DriverHooks;
  #ids: NodeId[] = [];
  #removals: NodeId[] = [];
  #confApplied = new Set<number>();
  #dropReports: { from: NodeId; to: NodeId; snap: boolean }[] = [];

  constructor(options: ClusterOptions) {
    this.seed = options.seed;
    this.scenario = options.scenario;
    this.#rand = new Prng(options.seed);
    this.#makeRaft = options.makeRaft;
    this.#hooks = options.driverHooks ?? {};
    this.invariants = new Invariants(options.seed);
    this.network = new Network(options.scenario.network, this.#rand.fork('network'));
    this.network.onDrop = (m, reason) => this.#onDrop(m, reason);
    const size = options.scenario.clusterSize;
    const founders: NodeId[] = [];
    for (let id = 1; id <= size; id++) founders.push(id);
    for (const id of founders) {
      const node = new SimNode(id, new SimDisk({ voters: founders, learners: [] }));
      this.nodes.set(id, node);
      node.start(options.scenario.raft, this.#nodeRand(node), this.#makeRaft);
    }
    this.#ids = [...founders];
    this.nemesis = new Nemesis(options.scenario.faults, this.#rand.fork('nemesis'), size + 1);
    this.workload = new Workload(options.scenario.workload, this.#rand.fork('workload'), () => this.clock(), founders);
  }

  #nodeRand(node: SimNode): Prng {
    return this.#rand.fork(`node-${node.id}-life-${node.life}`);
  }

  /** clock is the logical time of client events: strictly increasing, ordered like ticks. */
  clock(): number {
    this.#tickEvents++;
    assert(this.#tickEvents < ClockUnitsPerTick, 'client events per tick within ClockUnitsPerTick');
    return this.now * ClockUnitsPerTick + this.#tickEvents;
  }

  /** trace mixes an event into the run's trace hash (the determinism fingerprint). */
  trace(kind: number, a: number, b: number, c: number): void {
    let h = this.#trace;
    h = Math.imul(h ^ kind, 0x01000193);
    h = Math.imul(h ^ a, 0x01000193);
    h = Math.imul(h ^ b, 0x01000193);
    h = Math.imul(h ^ c, 0x01000193);
    this.#trace = h >>> 0;
    this.#traceEvents++;
  }

  /** traceHash is the hash of every traced event so far, with their count. */
  get traceHash(): string {
    return `${this.#trace.toString(16).padStart(8, '0')}:${this.#traceEvents}`;
  }

  /** nodeIds lists the ids of nodes not removed, in order. */
  nodeIds(): readonly NodeId[] {
    return this.#ids;
  }

  /** node looks a node up. */
  node(id: NodeId): SimNode | undefined {
    return this.nodes.get(id);
  }

  /** memberIds lists the nodes not removed (up or down). */
  memberIds(): NodeId[] {
    return [...this.#ids];
  }

  /** liveNodes lists the nodes up right now, in id order. */
  liveNodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const id of this.#ids) {
      const n = this.nodes.get(id);
      if (n !== undefined && n.up) out.push(n);
    }
    return out;
  }

  /** leader is the live node that believes it leads the highest term, or null. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const n of this.liveNodes()) {
      if (n.role !== StateRole.Leader || n.raw === null) continue;
      const term = n.raw.raft.term;
      if (term > bestTerm) {
        best = n;
        bestTerm = term;
      }
    }
    return best;
  }

  /** crash kills a node: its RawNode and unsynced writes are gone, its traffic is dropped. */
  crash(id: NodeId): void {
    const node = this.nodes.get(id);
    assert(node !== undefined && node.up, 'crash a live node');
    node.stop();
    node.disk.crash();
    this.network.setUp(id, false);
    this.invariants.crashed(id);
    this.workload.nodeDown(id, this.#ids);
    this.trace(5, id, node.life, 0);
  }

  /** restart brings a crashed node back from its durable state alone. */
  restart(id: NodeId): void {
    const node = this.nodes.get(id);
    assert(node !== undefined && !node.up && !node.removed, 'restart a crashed member');
    this.invariants.restarted(id, node.disk.durable());
    node.disk.recover();
    node.life++;
    node.start(this.scenario.raft, this.#nodeRand(node), this.#makeRaft);
    this.network.setUp(id, true);
    this.trace(6, id, node.life, node.applied);
  }

  /**
   * rejoin brings a removed node id back as a new incarnation with an empty
   * log, running before any membership lists it again: as a node that a
   * group's replica left and comes back to creates the empty replica first
   * and is added as a learner afterwards. All it keeps of the old
   * incarnation is the tombstone (src/raft/tombstone.ts: term, vote, vote
   * floor), which `otlpdb` keeps in its group registry; a stale member's old
   * membership may still count it a voter. `wipeTombstone` (a planted bug)
   * starts it with nothing at all.
   */
  rejoin(id: NodeId): void {
    const previous = this.nodes.get(id);
    assert(previous !== undefined && previous.removed && !previous.up, 'rejoin a removed node');
    const disk = new SimDisk();
    const node = new SimNode(id, disk);
    if (this.#hooks.wipeTombstone !== true) {
      const image = previous.disk.durable();
      const last = image.entries.at(-1) ?? { index: image.snapshot.metadata.index, term: image.snapshot.metadata.term };
      const t = tombstoneOf(image.hardState, last.index, last.term, previous.voteFloor);
      disk.setHardState(incarnationHardState(t, disk.live.initialState().hardState));
      disk.sync();
      node.voteFloor = t.floor;
    }
    node.life = previous.life + 1;
    this.nodes.set(id, node);
    this.invariants.wiped(id);
    this.#ids = [...this.#ids, id].sort((a, b) => a - b);
    node.start(this.scenario.raft, this.#nodeRand(node), this.#makeRaft);
    this.network.setUp(id, true);
    this.stats.nodesRejoined++;
    this.trace(12, id, node.life, 0);
  }

  /** abandonRejoin removes again a rejoined node that no membership took in before the run healed. */
  abandonRejoin(id: NodeId): void {
    const node = this.nodes.get(id);
    assert(node !== undefined && !node.removed, 'abandon a rejoined node');
    this.#removals.push(id);
    this.#applyRemovals();
  }

  /** compact snapshots a node's state machine at its applied index and drops its log up to `keep` entries below. */
  compact(node: SimNode, keep: number): boolean {
    const index = node.applied;
    if (index <= node.disk.live.snapshot().metadata.index) return false;
    const ok = node.disk.compact(index, node.confState, node.kv.snapshot(), Math.max(0, index - keep));
    if (ok) this.trace(9, node.id, index, keep);
    return ok;
  }

  #onDrop(m: Message, reason: DropReason): void {
    // A real transport learns that a connection failed (and a snapshot
    // stream broke); it cannot learn that a datagram was lost.
    const snap = m.type === MessageType.Snap;
    if ((reason === 'partition' || reason === 'down' || snap) && this.#dropReports.length < DropReportsPerStepMax) {
      this.#dropReports.push({ from: m.from, to: m.to, snap });
    }
  }

  #deliverDropReports(): void {
    const reports = this.#dropReports;
    this.#dropReports = [];
    for (const r of reports) {
      const raw = this.nodes.get(r.from)?.raw ?? null;
      if (raw === null) continue;
      if (r.snap) raw.reportSnapshot(r.to, true);
      else raw.reportUnreachable(r.to);
    }
  }

  // DriverEvents: how nodes report what they did while carrying out a Ready.

  /** send puts a message on the network (DriverEvents). */
  send(m: Message): void {
    if (m.type === MessageType.Snap && m.snapshot !== null) {
      this.stats.snapshotChunksSent++;
      if (m.snapshot.offset === 0) this.stats.snapshotsSent++;
    }
    this.trace(3, m.from * 1024 + m.to, m.type * 65536 + (m.term & 0xffff), m.index);
    this.network.send(m, this.now);
  }

  /** applied forwards a command's result to the workload (DriverEvents). */
  applied(node: SimNode, index: number, result: KvApplied): void {
    this.workload.writeApplied(node, index, result);
  }

  /** confChanged creates a joining node or schedules a removal the first time a change is applied (DriverEvents). */
  confChanged(_node: SimNode, index: number, cc: ConfChange): void {
    if (this.#confApplied.has(index)) return;
    this.#confApplied.add(index);
    this.stats.confChangesApplied++;
    this.trace(10, index, cc.type, cc.nodeId);
    if (cc.type === ConfChangeType.RemoveNode) {
      this.#removals.push(cc.nodeId);
      return;
    }
    if (this.nodes.has(cc.nodeId)) return;
    const joiner = new SimNode(cc.nodeId, new SimDisk());
    this.nodes.set(cc.nodeId, joiner);
    this.#ids = [...this.#ids, cc.nodeId].sort((a, b) => a - b);
    joiner.start(this.scenario.raft, this.#nodeRand(joiner), this.#makeRaft);
    this.network.setUp(cc.nodeId, true);
    this.stats.nodesAdded++;
  }

  /** snapshotInstalled lets clients waiting on the node learn results the snapshot holds (DriverEvents). */
  snapshotInstalled(node: SimNode, snap: Snapshot): void {
    this.stats.snapshotsInstalled++;
    this.workload.snapshotInstalled(node, snap.metadata.index);
  }

  /** readServed answers a client's read (DriverEvents). */
  readServed(node: SimNode, rs: ReadState): void {
    this.workload.readServed(node, rs.context);
  }

  /** leaderElected counts leadership changes (DriverEvents). */
  leaderElected(node: SimNode, term: number): void {
    this.stats.leaderChanges++;
    this.trace(4, node.id, term, 0);
    this.nemesis.leaderElected(this, node);
  }

  /** crashAfter lets the nemesis crash a node in between the phases of a Ready (DriverEvents). */
  crashAfter(node: SimNode, phase: DriverPhase, rd: Ready): boolean {
    return this.nemesis.crashAfterPhase(this, node, phase, rd);
  }

  /** readyDone lets the nemesis act right after a Ready (DriverEvents). */
  readyDone(node: SimNode, appliedEntries: number): void {
    this.nemesis.afterReady(this, node, appliedEntries);
  }

  #applyRemovals(): void {
    const removals = this.#removals;
    this.#removals = [];
    for (const id of removals) {
      const node = this.nodes.get(id);
      if (node === undefined || node.removed) continue;
      if (node.up) this.crash(id);
      node.removed = true;
      this.network.setUp(id, false);
      this.#ids = this.#ids.filter((x) => x !== id);
      this.stats.nodesRemoved++;
      this.trace(11, id, 0, 0);
    }
  }

  /** step advances the world by one tick (the order is documented at the top of this file). */
  step(): void {
    this.now++;
    this.#tickEvents = 0;
    this.invariants.setStep(this.now);
    this.nemesis.step(this);
    this.#deliverDropReports();
    for (const m of this.network.deliver(this.now)) {
      const raw = this.nodes.get(m.to)?.raw ?? null;
      if (raw !== null) raw.step(m);
    }
    for (const n of this.liveNodes()) (n.raw as NonNullable<SimNode['raw']>).tick();
    this.workload.step(this.now, this);
    for (const n of this.liveNodes()) {
      if (n.up) n.handleReadies(this.invariants, this, this.#hooks);
    }
    this.#applyRemovals();
  }

  /** heal ends every fault: no new faults, no partition, no loss or duplication, every crashed member restarted; clients stop issuing. */
  heal(): void {
    this.nemesis.calm(this);
    this.network.setPartition(null);
    this.network.calm();
    for (const id of this.#ids) {
      const node = this.nodes.get(id);
      if (node !== undefined && !node.up && !node.removed) this.restart(id);
    }
    this.workload.stopped = true;
  }
}
