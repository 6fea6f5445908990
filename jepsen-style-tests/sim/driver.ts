/**
 * driver.ts — one simulated node: its Raft RawNode, its disk, its state
 * machine, and the loop that carries out each Ready in phases.
 *
 * Invariants:
 * - `raw` is null exactly when the node is down (crashed, or removed from
 *   the group); a down node holds no volatile state but its disk.
 * - `applied` is the index of the last entry (or snapshot) the state machine
 *   reflects; it never decreases within one life (checked by invariants.ts).
 * - Each Ready is carried out in the phases of `DriverPhases` (persist, sync,
 *   send, apply, advance) in the order the hooks choose; between two phases
 *   the nemesis may crash the node (`crashAfter`), which abandons the rest.
 * - `pendingReads` holds ReadStates not yet served (their index is above
 *   `applied`); at most DriverReadsPendingMax of them.
 *
 * Owner: the cluster creates, crashes and restarts nodes; the driver alone
 * writes the node's disk and state machine.
 */
import { SimLimits } from '../../src/limits.js';
import { assert } from '../../src/errors.js';
import { NO_FLOOR, RawNode, decodeConfChange } from '../../src/raft/index.js';
import type { Raft } from '../../src/raft/index.js';
import { EntryType, StateRole } from '../../src/raft/types.js';
import type { Config, ConfChange, ConfState, Entry, Message, NodeId, Ready, ReadState, Snapshot, VoteFloor } from '../../src/raft/types.js';
import type { SimDisk } from './disk.js';
import type { Invariants } from './invariants.js';
import { KvStore, decodeKvCommand } from './kv.js';
import type { KvApplied } from './kv.js';

/** DriverPhase names one phase of carrying out a Ready. */
export type DriverPhase = 'persist' | 'sync' | 'send' | 'apply' | 'advance';

/** DriverPhases is the correct order (src/raft/types.ts): persist, fsync, send, apply, advance. */
export const DriverPhases: readonly DriverPhase[] = ['persist', 'sync', 'send', 'apply', 'advance'];

const STABLE_ONLY = Object.freeze({ stableCommittedOnly: true });

/** DriverReadiesPerStepMax bounds the Readies one node carries out in one step (the core quiesces well before). */
export const DriverReadiesPerStepMax = SimLimits.readiesPerStepMax;

/** DriverReadsPendingMax bounds the ReadStates a node keeps waiting for its applied index. */
export const DriverReadsPendingMax = SimLimits.readsPendingMax;

/**
 * DriverHooks lets TEST code plant driver bugs. `phaseOrder` replaces
 * DriverPhases (for example send before persist); it must list every phase
 * exactly once.
 */
export interface DriverHooks {
  readonly phaseOrder?: readonly DriverPhase[];
  /**
   * stableCommittedOnly cuts every Ready with RawNode's stableCommittedOnly,
   * as the real driver does (multi-raft.ts, "Pipelining"); with it, apply may
   * come before sync (PipelinedPhases).
   */
  readonly stableCommittedOnly?: boolean;
  /** wipeTombstone (a planted bug) starts a rejoined node with nothing of its predecessor: no term, no vote, no vote floor (cluster.ts rejoin). */
  readonly wipeTombstone?: boolean;
}

/** PipelinedPhases is the real driver's pipelined order: durable committed entries apply while the Ready's own entries are synced. */
export const PipelinedPhases: readonly DriverPhase[] = ['persist', 'apply', 'sync', 'send', 'advance'];

/** MakeRaft lets TEST code run a Raft subclass with a planted bug. */
export type MakeRaft = (config: Config) => Raft;

/** DriverEvents is how a node tells the cluster what happened while it carried out a Ready. */
export interface DriverEvents {
  /** now is the current tick. */
  readonly now: number;
  /** send puts a message on the network. */
  send(m: Message): void;
  /** applied reports a client command applied at `index` by `node`. */
  applied(node: SimNode, index: number, result: KvApplied): void;
  /** confChanged reports a configuration change applied at `index` by `node`. */
  confChanged(node: SimNode, index: number, cc: ConfChange): void;
  /** snapshotInstalled reports that `node` replaced its state machine with a snapshot. */
  snapshotInstalled(node: SimNode, snap: Snapshot): void;
  /** readServed reports a ReadState served at `node` once applied reached its index. */
  readServed(node: SimNode, rs: ReadState): void;
  /** leaderElected reports that `node` became leader of `term`. */
  leaderElected(node: SimNode, term: number): void;
  /** crashAfter asks the nemesis whether `node` crashes right after `phase` of a Ready. */
  crashAfter(node: SimNode, phase: DriverPhase, ready: Ready): boolean;
  /** readyDone reports that `node` carried out a whole Ready that applied `appliedEntries` entries. */
  readyDone(node: SimNode, appliedEntries: number): void;
  /** trace mixes an event into the run's trace hash. */
  trace(kind: number, a: number, b: number, c: number): void;
}

/** NodeConfig is the per-seed Raft configuration shared by every node. */
export type NodeConfig = Omit<Config, 'id' | 'group' | 'storage' | 'rand' | 'applied'>;

/** SimNode is one replica of the simulated group. */
export class SimNode {
  readonly id: NodeId;
  readonly disk: SimDisk;
  raw: RawNode | null = null;
  kv: KvStore = new KvStore();
  applied = 0;
  confState: ConfState = { voters: [], learners: [] };
  role: StateRole = StateRole.Follower;
  lead: NodeId = 0;
  /** life counts restarts (0 for the first life). */
  life = 0;
  /** removed is set once the node is out of the group for good. */
  removed = false;
  /** voteFloor is the vote floor this incarnation started with (a rejoined node's tombstone, src/raft/tombstone.ts). */
  voteFloor: VoteFloor = NO_FLOOR;
  pendingReads: ReadState[] = [];

  constructor(id: NodeId, disk: SimDisk) {
    this.id = id;
    this.disk = disk;
  }

  /** up says whether the node is running. */
  get up(): boolean {
    return this.raw !== null;
  }

  /**
   * start (re)creates the RawNode from the disk's live storage: the state
   * machine is the storage's snapshot, and Config.applied is its index, so
   * committed entries after it are applied again.
   */
  start(config: NodeConfig, rand: Config['rand'], makeRaft: MakeRaft | undefined): void {
    assert(this.raw === null, 'start a node that is down');
    assert(!this.removed, 'never restart a removed node');
    const storage = this.disk.live;
    const snap = storage.snapshot();
    this.kv = KvStore.restore(snap.data);
    this.applied = snap.metadata.index;
    this.confState = snap.metadata.confState;
    this.role = StateRole.Follower;
    this.lead = 0;
    this.pendingReads = [];
    const full: Config = { ...config, id: this.id, group: 0, storage, rand, applied: this.applied, voteFloor: this.voteFloor };
    this.raw = makeRaft === undefined ? new RawNode(full) : new RawNode(full, makeRaft);
  }

  /** stop drops the RawNode and every volatile thing (the caller crashes the disk). */
  stop(): void {
    this.raw = null;
    this.role = StateRole.Follower;
    this.lead = 0;
    this.pendingReads = [];
  }

  /**
   * handleReadies carries out every Ready the node has, phase by phase.
   * Returns false when the node crashed in between phases.
   */
  handleReadies(inv: Invariants, ev: DriverEvents, hooks: DriverHooks): boolean {
    const order = hooks.phaseOrder ?? DriverPhases;
    assert(order.length === DriverPhases.length, 'phase order lists every phase');
    for (let n = 0; n < DriverReadiesPerStepMax; n++) {
      const raw = this.raw;
      if (raw === null || !raw.hasReady()) return raw !== null;
      const rd = raw.ready(hooks.stableCommittedOnly === true ? STABLE_ONLY : undefined);
      for (let p = 0; p < order.length; p++) {
        const phase = order[p] as DriverPhase;
        this.#runPhase(phase, rd, raw, inv, ev);
        if (p + 1 < order.length && ev.crashAfter(this, phase, rd)) return false;
      }
      ev.readyDone(this, rd.committedEntries.length);
    }
    assert(this.raw === null || !this.raw.hasReady(), `node ${this.id} quiesces within DriverReadiesPerStepMax readies`);
    return true;
  }

  #runPhase(phase: DriverPhase, rd: Ready, raw: RawNode, inv: Invariants, ev: DriverEvents): void {
    switch (phase) {
      case 'persist':
        return this.#persist(rd, raw, inv, ev);
      case 'sync':
        // A Ready without mustSync (only the commit index moved) stays
        // volatile until a later Ready's fsync.
        if (rd.mustSync) {
          this.disk.sync();
          inv.synced(this.id, this.disk.live.hardState().term);
        }
        return;
      case 'send':
        for (const m of rd.messages) {
          inv.messageSent(m);
          ev.send(m);
        }
        return;
      case 'apply':
        return this.#apply(rd, raw, inv, ev);
      case 'advance':
        raw.advance();
        return;
    }
  }

  #persist(rd: Ready, raw: RawNode, inv: Invariants, ev: DriverEvents): void {
    const disk = this.disk;
    if (rd.hardState !== null) {
      inv.hardStateObserved(this.id, rd.hardState);
      disk.setHardState(rd.hardState);
    }
    if (rd.snapshot !== null) {
      const snap = rd.snapshot;
      disk.applySnapshot(snap);
      inv.snapshotApplied(this.id, snap);
      this.kv = KvStore.restore(snap.data);
      assert(snap.metadata.index >= this.applied, 'an installed snapshot moves applied forward');
      this.applied = snap.metadata.index;
      this.confState = snap.metadata.confState;
      inv.appliedObserved(this.id, this.applied);
      ev.trace(1, this.id, snap.metadata.index, snap.metadata.term);
      ev.snapshotInstalled(this, snap);
    }
    if (rd.entries.length > 0) {
      const first = (rd.entries[0] as Entry).index;
      const live = disk.live;
      const prevTerm = first - 1 >= live.firstIndex() - 1 && first - 1 <= live.lastIndex() ? live.term(first - 1) : -1;
      disk.append(rd.entries);
      inv.entriesPersisted(this.id, rd.entries, prevTerm);
    }
    if (rd.softState !== null) {
      this.role = rd.softState.role;
      this.lead = rd.softState.leader;
      if (rd.softState.role === StateRole.Leader) {
        const term = raw.raft.term;
        inv.becameLeader(this.id, term, disk.live);
        ev.leaderElected(this, term);
      }
    }
  }

  #apply(rd: Ready, raw: RawNode, inv: Invariants, ev: DriverEvents): void {
    for (const e of rd.committedEntries) {
      if (e.index <= this.applied) continue; // Covered by a snapshot installed in this Ready.
      assert(e.index === this.applied + 1, `node ${this.id} applies ${e.index} right after ${this.applied}`);
      inv.entryApplied(this.id, e);
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChange(e.data);
        const cs = raw.applyConfChange(cc);
        this.disk.live.setConfState(cs);
        this.confState = cs;
        this.applied = e.index;
        ev.confChanged(this, e.index, cc);
      } else {
        this.applied = e.index;
        if (e.data.length > 0) ev.applied(this, e.index, this.kv.apply(decodeKvCommand(e.data)));
      }
      ev.trace(2, this.id, e.index, e.term);
    }
    inv.appliedObserved(this.id, this.applied);
    for (const rs of rd.readStates) this.pendingReads.push(rs);
    assert(this.pendingReads.length <= DriverReadsPendingMax, 'pending reads within DriverReadsPendingMax');
    this.serveReads(ev);
  }

  /** serveReads answers every pending ReadState whose index the state machine has reached. */
  serveReads(ev: DriverEvents): void {
    if (this.pendingReads.length === 0) return;
    const keep: ReadState[] = [];
    for (const rs of this.pendingReads) {
      if (rs.index <= this.applied) ev.readServed(this, rs);
      else keep.push(rs);
    }
    this.pendingReads = keep;
  }
}
