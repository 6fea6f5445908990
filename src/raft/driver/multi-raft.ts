/**
 * multi-raft.ts — the driver of one node: it hosts many Raft groups (group 0
 * = meta, 1..S = shards) over one shared WAL, and carries out their Readies
 * with one fsync per iteration for all of them (group commit).
 *
 * The driver is split along its concepts; this file keeps the iteration
 * and the entry points:
 *   driver-types.ts     public options, results and counters (re-exported
 *                       here) and the checked settings drawn from the options;
 *   driver-loop.ts      the iteration chain, the self-running loop, failure and stop;
 *   group-state.ts      what is kept per hosted group; applying a Ready (step 5)
 *                       and the per-group snapshot policy (step 7);
 *   waiters.ts          proposal and read waiters (the "Proposals" design);
 *   inbound.ts          admission of the messages `receive` is given;
 *   group-lifecycle.ts  the hosted set at open and the durable steps of
 *                       addGroup/removeGroup ("Membership of the node").
 *
 * ## One iteration (`runIteration`)
 *
 *   1. take the Ready of every group that has one; pipelined, cut
 *      stableCommittedOnly (its committed entries are only entries an
 *      earlier iteration synced). Serial (the default), steps 5a is empty
 *      and every Ready applies in 5b, after the sync and the send;
 *   2. persist each: snapshot (image to the SnapshotStore, metadata to the
 *      WAL buffer), entries, hard state — all buffered;
 *   3. start ONE `wal.sync()` when any Ready had mustSync (group commit);
 *   5a. while it is in flight: apply the committed entries of every Ready
 *      without a snapshot or ConfChange, resolve the proposals and read
 *      barriers they satisfy ("Pipelining" below); then await the sync;
 *   4. send every message of every Ready in one `transport.send` batch;
 *   5b. apply the Readies left: install a received snapshot into the state
 *      machine, apply committed entries (ConfChange entries also to Raft),
 *      resolve proposals and reads;
 *   6. advance every RawNode;
 *   7. compaction policy: a group whose applied index is `snapshotEntries`
 *      past its snapshot snapshots its state machine, compacts its log, and
 *      the WAL purges dead segments; past the WAL's watermarks, the groups
 *      pinning its oldest segments flush ahead or compact by force
 *      ("Pacing the WAL").
 *
 * ## Pacing the WAL
 *
 * Every busy shard writes into every WAL segment, so a segment is dead only
 * once all of them have flushed and compacted past it. Left to their own
 * head bounds, 16 equally busy shards reached the forced bound
 * (walSegmentsSoftMax, 8 segments) together, the forced path started 16
 * flushes at once, and their heads stayed frozen (memory counted, nothing
 * purged) until the last of them ended, tens of seconds on a loaded node,
 * while the write path got what the flushes left of the main thread
 * (bench/README.md "ingest", s19). So:
 * - flush ahead: past walSegmentsFlushAhead segments (75% of the forced
 *   bound by default), while fewer than DriverLimits.walFlushesAheadInFlightMax
 *   flushes run on the node, the driver flushes the durable group whose live
 *   entries sit in the oldest segment past its snapshot, the largest head
 *   first (#flushAhead). Shards then flush one or two at a time, staggered,
 *   and the WAL normally stays under the forced bound;
 * - the forced path (past walSegmentsSoftMax) compacts what needs no flush
 *   at once (an in-memory group's image, a durable group's entries kept
 *   behind its snapshot), and starts flushes only while fewer than
 *   DriverLimits.walForcedFlushesInFlightMax run; the rest wait for a later
 *   pass (forcedFlushesDeferred). Nothing waits for these flushes: apply
 *   waits only for the flush of a head at its hard bound, as before.
 * Durability is unchanged: a durable group's log is compacted only up to a
 * snapshot taken at a flush that completed (maybeFlushOrSnapshot), so an
 * entry leaves the WAL only once its group's applied state is in LevelDB.
 * ## Pipelining (option `pipelined`; off by default for now, see its NB in driver-types.ts)
 *
 * The serial order (sync, then apply) left the CPU idle during every fsync
 * and the disk idle during every apply. Now an iteration applies the
 * entries that became durable in the iteration before it while its own
 * entries are fsynced (etcd's async storage writes: entries are applied
 * only once stable on this node). The sync runs in libuv's pool; the apply
 * yields to the event loop between groups so the WAL's write completion can
 * issue the fsync. A single-voter group so commits an entry in the
 * iteration that writes it and applies it in the next one.
 *
 * What may overlap the fsync: applying committed entries that an earlier
 * iteration's sync made durable (stableCommittedOnly guarantees it: they lie
 * below the unstable offset, which only advance() after a completed sync
 * moves), resolving their proposals (acknowledgements) and read barriers,
 * and, as always, stepping inbound messages, ticks and new proposals into
 * the RawNodes (carried out by the next iteration).
 *
 * What may not, until the sync resolves: applying or acknowledging any
 * entry of this iteration's Readies (the leader counts its own entries
 * toward commit when it appends them, so a single voter's commit index runs
 * ahead of its disk: the Ready's cut, not the commit index, decides what is
 * applied); sending any message (votes, append responses and appends carry
 * state this sync makes durable, and a commit index that may count the
 * leader's unsynced entries); advance() (it marks the entries stable);
 * installing a snapshot or applying a ConfChange (both write the storage
 * being synced: they wait for step 5b); the compaction policy (step 7).
 * The planted bug "acknowledge before the fsync completes" (a Ready cut
 * without stableCommittedOnly) is caught by pipelining.test.ts's crash test.
 *
 * NB: the leader still sends its appends only after its own fsync, so a
 * replicated commit costs leader fsync + round trip + follower fsync. The
 * next step (thesis §10.2.1, etcd's "messages may be sent while entries
 * from the same batch are being persisted") is to hand a leader's MsgApp
 * to the transport before the sync when the Ready changes no term or vote:
 * its commit index may count the leader's unsynced entries, which is safe
 * only because no node applies past its own stable entries (the cut above)
 * and the leader's commit reaches others in a later Ready, after this
 * sync. Votes, vote responses, append responses and heartbeat responses
 * must keep waiting for the sync. Not done: it needs the simulator to model
 * a send split around the sync, and on this 2-core machine three nodes are
 * CPU-bound, so its gain could not be measured here.
 *
 * ## Durable state machines
 *
 * A group whose state machine is a DurableStateMachine (a shard replica on
 * LevelDB; state-machine.ts) keeps its state in its own files, so:
 * - open: the state machine opens its files; Raft restarts at its durable
 *   index and replays the log after it (openGroupState);
 * - step 5 applies entries to its in-memory head; a head at its hard bound is
 *   flushed first (backpressure by stalling apply, identical on no replica
 *   but harmless: refusals never depend on it);
 * - step 7: a flush starts when the head asks (size, age) or the log holds
 *   `snapshotEntries` entries past the durable index; it runs in the
 *   background while iterations go on. Once durable, the next step 7 takes a
 *   Raft snapshot at the flushed index whose image is only a descriptor, and
 *   compacts the log up to it: the log is never compacted past durable state;
 * - a Raft snapshot arriving for such a group is held back (#holdSnapshot)
 *   until the state machine has pulled the sender's durable state into a
 *   staging area; then the core steps it, and step 5 swaps the staged state
 *   in (installSnapshot). The staged state may be newer than the snapshot's
 *   index; the state machine skips the entries it already holds;
 * - removeGroup deletes the replica's files after the WAL forgot the group;
 *   stop waits for flushes and closes them.
 *
 * Iterations run one at a time; ticks, messages and proposals that arrive
 * while one runs are stepped into the RawNodes at once and carried out by the
 * next iteration. Runtime group changes (addGroup, removeGroup) run in the
 * same chain, between iterations.
 *
 * ## Invariants
 *
 * - At most one iteration or group change runs at a time (DriverLoop chain).
 * - Messages of a Ready are handed to the transport only after the sync that
 *   covers its mustSync records (step 3 before 4).
 * - An entry is applied, and its proposal acknowledged, only after the sync
 *   that covers it resolved (serial: 5b follows the sync; pipelined: every
 *   Ready is cut stableCommittedOnly and 5a runs during this iteration's
 *   sync on entries earlier syncs covered).
 * - For every group, state machine applied index === Raft applied index
 *   between iterations (group-state.ts; asserted after step 6).
 * - Waiter maps are bounded per group (waiters.ts); the group map by
 *   DriverLimits.groupsMax, the registry by registryEntriesMax, and a group
 *   is in `#groups` iff the registry and the configured specs say it is
 *   hosted (group-lifecycle.ts).
 * - Once the driver failed or stopped (DriverLoop), no iteration runs and
 *   every waiter has been failed with ERR_UNAVAILABLE.
 * Owner: one driver per node owns the WAL, the SnapshotStore, the group
 * registry, its DriverLoop, every RawNode, WalStorage and state machine of
 * its groups.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { DriverLimits } from '../../limits.js';
import { EntryType, MessageType, StateRole } from '../types.js';
import type { ReadyOptions } from '../raw-node.js';
import { NO_FLOOR, tombstoneOf } from '../tombstone.js';
import type { ReplicaTombstone } from '../tombstone.js';
import type { BasicStatus, ConfChange, ConfState, GroupId, Message, NodeId, RaftStatus, Ready } from '../types.js';
import type { Wal } from '../wal/wal.js';
import { checkTimeout, driverSettings, newDriverStats } from './driver-types.js';
import type {
  Clock,
  ConfChangeResult,
  DriverSettings,
  DriverStats,
  GroupSpec,
  GroupStats,
  MultiRaftDriverOptions,
  ProposeResult,
  ReceiveResult,
  Transport,
} from './driver-types.js';
import { hostGroup, hostedEntry, checkSpec, openHostedGroups, refuseAdd, registryRoom, unhostGroup } from './group-lifecycle.js';
import type { LifecycleIo } from './group-lifecycle.js';
import type { GroupRegistry } from './group-registry.js';
import { applyReady, forceCompact, maybeFlushOrSnapshot, maybeSnapshot, openGroupState, startFlush } from './group-state.js';
import { DriverLoop } from './driver-loop.js';
import { stepInbound } from './inbound.js';
import type { GroupState } from './group-state.js';
import { LatencyHistogram, WAL_SYNC_BUCKETS_MS } from './latency-histogram.js';
import type { HistogramSnapshot } from './latency-histogram.js';
import type { SnapshotStore } from './snapshot-store.js';
import { isDurable } from './state-machine.js';
import type { AnyStateMachine } from './state-machine.js';
import {
  NOT_WAITING,
  ProposalBatch,
  ProposalSlot,
  addProposalWaiter,
  expireWaiters,
  failWaiters,
  proposalRoom,
  readContext,
  readRoom,
} from './waiters.js';
import type { ProposalWaiter } from './waiters.js';

export type {
  Clock,
  ConfChangeResult,
  DriverStats,
  GroupSpec,
  GroupStats,
  MultiRaftDriverOptions,
  ProposeResult,
  RaftTuning,
  ReceiveResult,
  Scheduler,
  Transport,
} from './driver-types.js';

/** PIPELINED is the ReadyOptions of every pipelined iteration: committed entries are handed out only once durable here. */
const PIPELINED: ReadyOptions = Object.freeze({ stableCommittedOnly: true });

/** SERIAL is the ReadyOptions of a driver opened with `pipelined: false`: committed entries apply after the sync of their own Ready. */
const SERIAL: ReadyOptions = Object.freeze({});

/**
 * overlapsSync says whether a Ready's apply may run while the iteration's
 * fsync is in flight: it installs no snapshot and applies no ConfChange
 * (both write the storage being synced). That its committed entries were
 * durable before the iteration is what the Ready's cut guarantees
 * (PIPELINED), not this check: the planted-bug test overrides the cut.
 */
function overlapsSync(rd: Ready): boolean {
  if (rd.snapshot !== null) return false;
  for (const e of rd.committedEntries) if (e.type === EntryType.ConfChange) return false;
  return true;
}

/**
 * policyDue says whether an iteration's compaction policy must look at
 * every group. Its inputs are a group's applied index and head (they move
 * only when a Ready applies entries or a snapshot), the node's heads
 * together (the same), the time (a head's age), and a completed flush
 * (flushedAt, which #maybeCompact checks on every group either way). So an
 * iteration that applied nothing (a ReadIndex round: heartbeats, their
 * answers, read states) skips the rest once a full pass ran less than a
 * tick ago. Before this, every such iteration asked each shard whether a
 * flush was due, and each asked the node's head budget, which sums every
 * replica's head: O(groups²) calls an iteration, several times a query.
 */
export function policyDue(work: readonly { readonly rd: Ready }[], nowMs: number, lastPassMs: number, tickMs: number): boolean {
  if (nowMs - lastPassMs >= tickMs || nowMs < lastPassMs) return true;
  for (const { rd } of work) if (rd.committedEntries.length > 0 || rd.snapshot !== null) return true;
  return false;
}

/**
 * keptNobodyNeeds is how far a group's entries kept behind its snapshot at
 * `snap` may be compacted without sending a snapshot to anyone: to `snap`,
 * or, on a leader, to the lowest match of its other voters and learners
 * when that is lower (a lagging follower still gets entries).
 */
function keptNobodyNeeds(g: GroupState, self: NodeId, snap: number): number {
  assert(snap <= g.applied, 'a snapshot lies at or below the applied index');
  const st = g.raw.status();
  let to = snap;
  if (st.role === StateRole.Leader && st.progress !== undefined) {
    for (const [id, p] of Object.entries(st.progress)) if (Number(id) !== self) to = Math.min(to, p.match);
  }
  assert(to <= snap, 'kept entries are compacted at most up to the snapshot');
  return to;
}

/** yieldToIo lets the event loop run I/O callbacks (the WAL write's completion issues its fsync) before more CPU work. */
function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** DriverInit is what `open` hands the constructor; build drivers with `MultiRaftDriver.open`. */
export interface DriverInit {
  readonly options: MultiRaftDriverOptions;
  readonly wal: Wal;
  readonly store: SnapshotStore;
  readonly groups: Map<GroupId, GroupState>;
  readonly registry: GroupRegistry;
  readonly stale: Map<GroupId, ReplicaTombstone>;
}

/** MultiRaftDriver runs every Raft group of one node over one WAL; see the design at the top of this file. */
export class MultiRaftDriver {
  /** stats counts the driver's work since open. */
  readonly stats: DriverStats = newDriverStats();
  /** nodeId is this node. */
  readonly nodeId: NodeId;
  /** lastRefusal is the last error a refused message caused (for logs and tests). */
  lastRefusal: OtlpdbError | null = null;
  readonly #wal: Wal;
  /** #failed settles once, with the loop's failure, when the driver stops on an error (whenFailed). */
  readonly #failed: Promise<unknown>;
  #resolveFailed: (err: unknown) => void = () => undefined;
  readonly #store: SnapshotStore;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #groups: Map<GroupId, GroupState>;
  readonly #settings: DriverSettings;
  readonly #ticker: { cancel(): void } | null;
  readonly #options: MultiRaftDriverOptions;
  readonly #io: LifecycleIo;
  /** #stale holds the tombstone of every stale incarnation the WAL keeps (group-lifecycle.ts); bounded by WalLimits.groupsMax. */
  readonly #stale: Map<GroupId, ReplicaTombstone>;
  readonly #walSyncHistogram = new LatencyHistogram(WAL_SYNC_BUCKETS_MS);
  readonly #loop: DriverLoop;
  #readSeq = 0;
  /** #policyPassMs is when the compaction policy last looked at every group (the injected clock; policyDue). */
  #policyPassMs = Number.NEGATIVE_INFINITY;

  /** Use `MultiRaftDriver.open` (or `Subclass.open`); the constructor only wires what open recovered. */
  constructor(init: DriverInit) {
    const o = init.options;
    this.#options = o;
    this.nodeId = o.nodeId;
    this.#wal = init.wal;
    this.#store = init.store;
    this.#transport = o.transport;
    this.#clock = o.clock;
    this.#groups = init.groups;
    this.#stale = init.stale;
    this.#io = { wal: init.wal, store: init.store, registry: init.registry, sync: () => this.#timedSync() };
    const settings = driverSettings(o);
    this.#settings = settings;
    this.#failed = new Promise((resolve) => {
      this.#resolveFailed = resolve;
    });
    this.#loop = new DriverLoop({
      nodeId: o.nodeId,
      autoRun: settings.autoRun,
      iterate: () => this.#iterate(),
      runIteration: () => this.runIteration(),
      onFailure: (err) => {
        this.#resolveFailed(err);
        this.#ticker?.cancel();
        this.#failAll(new OtlpdbError('ERR_UNAVAILABLE', `node ${this.nodeId} driver failed: ${String(err)}`));
      },
    });
    this.#ticker = o.scheduler === undefined ? null : o.scheduler.every(settings.tickMs, () => this.tick());
  }

  /**
   * open recovers every group of `options.groups` from the WAL and the
   * snapshot store (bootstrapping groups the WAL has never seen), restores
   * each state machine from its snapshot and restarts Raft with applied =
   * snapshot index, so committed entries after it are replayed by the first
   * iterations. Called on a subclass, it builds that subclass.
   */
  static async open<D extends MultiRaftDriver>(this: new (init: DriverInit) => D, options: MultiRaftDriverOptions): Promise<D> {
    const { wal, store, registry, storages, stale } = await openHostedGroups(options);
    const groups = new Map<GroupId, GroupState>();
    for (const [group, storage] of storages) groups.set(group, await openGroupState(options, group, storage, registry.get(group)?.tombstone.floor ?? NO_FLOOR));
    return new this({ options, wal, store, groups, registry, stale });
  }

  /**
   * addGroup starts hosting a group at runtime (see "Membership of the
   * node" in group-lifecycle.ts): with voters, bootstrapped with that
   * membership as open does; with none, an empty replica the leader fills
   * in. Durable when it resolves. Refused: a hosted group (ERR_CONFLICT), past groupsMax or a
   * full registry (ERR_LIMIT_EXCEEDED), a bad spec (ERR_INVALID_ARGUMENT).
   */
  addGroup(spec: GroupSpec): Promise<void> {
    const bad = checkSpec(spec);
    if (bad !== null) return Promise.reject(bad);
    const group = spec.group;
    return this.#loop.enqueue(async () => {
      const refused = this.#loop.refusal() ?? refuseAdd(this.#io, this.#groups.has(group), this.#groups.size, group, this.nodeId);
      if (refused !== null) throw refused;
      const entry = hostedEntry(spec, this.#io.registry.get(group)?.tombstone ?? this.#stale.get(group));
      await this.#loop.poisonOnError(async () => {
        const storage = await hostGroup(this.#io, spec, entry);
        this.#stale.delete(group);
        this.#groups.set(group, await openGroupState(this.#options, group, storage, entry.tombstone.floor));
      });
      assert(this.#groups.has(group), 'an added group is hosted');
      this.#loop.kick();
    });
  }

  /**
   * removeGroup stops hosting a group (see "Membership of the node" in
   * group-lifecycle.ts): its waiters fail with ERR_UNAVAILABLE, a durable tombstone keeps a restart
   * from recreating it, the WAL forgets it (its segments become purgeable)
   * and its snapshot images are deleted. Later messages for it are refused
   * as unknown group. A group not hosted is ERR_NOT_FOUND.
   */
  removeGroup(group: GroupId): Promise<void> {
    return this.#loop.enqueue(async () => {
      const refused = this.#loop.refusal();
      if (refused !== null) throw refused;
      const g = this.#groups.get(group);
      if (g === undefined) throw new OtlpdbError('ERR_NOT_FOUND', `group ${group} is not hosted on node ${this.nodeId}`, { group });
      const full = registryRoom(this.#io, group);
      if (full !== null) throw full;
      this.#groups.delete(group);
      failWaiters(g, new OtlpdbError('ERR_UNAVAILABLE', `group ${group} was removed from node ${this.nodeId}`, { group }));
      await this.#loop.poisonOnError(async () => {
        const last = g.storage.lastIndex();
        const res = await unhostGroup(this.#io, group, tombstoneOf(g.storage.hardState(), last, g.storage.term(last), g.raw.raft.voteFloor));
        this.stats.purges++;
        this.stats.segmentsDeleted += res.deletedFiles.length;
        // The WAL forgot the group durably; its durable state goes too (a crash before this leaves files a re-add wipes).
        if (g.durable !== null) {
          if (g.flushInFlight !== null) await g.flushInFlight;
          await g.durable.destroy();
        }
      });
      assert(!this.#groups.has(group), 'a removed group is not hosted');
    });
  }

  /** groups lists the ids of the hosted groups. */
  groups(): GroupId[] {
    return [...this.#groups.keys()];
  }

  /** stateMachine returns a group's state machine (for reads after a barrier, and tests). */
  stateMachine(group: GroupId): AnyStateMachine | null {
    return this.#groups.get(group)?.sm ?? null;
  }

  /** status reports a group's Raft state, or null for a group this node does not host. */
  status(group: GroupId): RaftStatus | null {
    return this.#groups.get(group)?.raw.status() ?? null;
  }

  /**
   * basicStatus is status() without per-peer progress and membership, or null
   * for a group this node does not host: what the per-request paths (a
   * proposal's or a read's leader check) need, without building the full
   * status's objects on every call.
   */
  basicStatus(group: GroupId): BasicStatus | null {
    return this.#groups.get(group)?.raw.basicStatus() ?? null;
  }

  /** confState is the membership in force in `group` as this replica applied it, or null for a group it does not host. */
  confState(group: GroupId): ConfState | null {
    return this.#groups.get(group)?.confState ?? null;
  }

  /** groupStats returns a copy of a group's counters (see GroupStats), or null for a group this node does not host. */
  groupStats(group: GroupId): GroupStats | null {
    const st = this.#groups.get(group)?.stats;
    return st === undefined ? null : { ...st };
  }

  /** walSyncHistogram is the latency of every WAL sync the driver made, measured with the injected clock (see latency-histogram.ts). */
  walSyncHistogram(): HistogramSnapshot {
    return this.#walSyncHistogram.snapshot();
  }

  /**
   * reportUnreachable tells every hosted group in which `peer` is a member
   * that a message to it could not be delivered (the leader then probes it
   * instead of streaming appends). Unknown peers and bad ids are ignored.
   */
  reportUnreachable(peer: NodeId): void {
    if (this.#loop.idle || !Number.isSafeInteger(peer) || peer < 1 || peer === this.nodeId) return;
    for (const g of this.#groups.values()) {
      if (g.confState.voters.includes(peer) || g.confState.learners.includes(peer)) g.raw.reportUnreachable(peer);
    }
    this.#loop.kick();
  }

  /**
   * whenFailed resolves with the error that stopped the driver, when one
   * does (it never resolves on a clean stop): the node fails stop on it
   * instead of serving with every group frozen.
   */
  whenFailed(): Promise<unknown> {
    return this.#failed;
  }

  /** failure is the error that stopped the driver (a failed fsync poisons the WAL), or null. */
  get failure(): unknown {
    return this.#loop.failure;
  }

  /** hasWork says whether some group has a Ready to carry out. */
  hasWork(): boolean {
    if (this.#loop.idle) return false;
    for (const g of this.#groups.values()) if (g.raw.hasReady()) return true;
    return false;
  }

  /** tick advances every group's logical clock by one tick and expires waiters past their deadline. */
  tick(): void {
    if (this.#loop.idle) return;
    for (const g of this.#groups.values()) g.raw.tick();
    this.#expire(this.#clock.nowMs());
    this.#loop.kick();
  }

  /**
   * receive steps messages from peer `from` into their groups. Messages for a
   * group this node does not host, from a node that is not `from` or not a
   * member of the group, or that the group refuses (malformed), are counted
   * and dropped; receive never throws.
   */
  receive(from: NodeId, messages: readonly Message[]): ReceiveResult {
    if (!Array.isArray(messages)) {
      this.stats.refusedMalformed++;
      return { accepted: 0, refused: 1 };
    }
    if (this.#loop.idle) return { accepted: 0, refused: messages.length };
    const res = stepInbound(
      this.#groups,
      from,
      messages,
      this.stats,
      (err) => {
        this.lastRefusal = err;
      },
      (g, m) => this.#holdSnapshot(g, from, m),
    );
    if (res.accepted > 0) this.#loop.kick();
    return res;
  }

  /**
   * propose appends `data` to a group's log on this node, which must be its
   * leader, and resolves once the entry is applied here (see "Proposals" in
   * waiters.ts).
   */
  propose(group: GroupId, data: Uint8Array, timeoutMs: number = this.#settings.proposalTimeoutMs): Promise<ProposeResult> {
    const bad = data instanceof Uint8Array ? null : new OtlpdbError('ERR_INVALID_ARGUMENT', 'proposal data is not bytes');
    return this.#proposeAndWait<ProposeResult>(group, bad, timeoutMs, (g, resolve) => ({
      propose: () => g.raw.propose(data),
      resolve: (index, term, result) => resolve({ index, term, result }),
    }));
  }

  /**
   * proposeBatch proposes `datas[k]` to group `groups[k]` for every k (at
   * most DriverLimits.proposalBatchEntriesMax entries; a group may appear
   * more than once) on this node, which must lead each of them, each under
   * the rules of propose, and resolves once every entry has settled: slot k
   * holds the result of entry k, applied here, or the error that ended it
   * (a refusal before proposing, ERR_NOT_LEADER, ERR_TIMEOUT,
   * ERR_PROPOSAL_DROPPED...). It never rejects. One promise for the batch
   * and one small waiter per entry, where propose pays a promise, its
   * closures and the caller's frame per entry: a request to 16 shards pays
   * for one.
   */
  proposeBatch(groups: readonly GroupId[], datas: readonly Uint8Array[], timeoutMs: number = this.#settings.proposalTimeoutMs): Promise<readonly (Uint8Array | OtlpdbError)[]> {
    assert(groups.length === datas.length, 'one group per proposed entry');
    assert(groups.length > 0 && groups.length <= DriverLimits.proposalBatchEntriesMax, 'a batch holds 1..proposalBatchEntriesMax entries');
    const ms = checkTimeout(timeoutMs, 'timeoutMs');
    return new Promise((resolve) => {
      const batch = this.newProposalBatch(groups.length, resolve);
      const deadlineMs = this.#clock.nowMs() + ms;
      let proposed = 0;
      for (let k = 0; k < groups.length; k++) {
        const group = groups[k] as GroupId;
        const data = datas[k];
        const g = this.#groups.get(group);
        const refused = this.#refuseRequest(g, group);
        if (refused !== null) {
          batch.settle(k, refused);
          continue;
        }
        assert(g !== undefined, 'a usable request names a hosted group');
        const err = data instanceof Uint8Array ? (proposalRoom(g) ?? g.raw.propose(data)) : new OtlpdbError('ERR_INVALID_ARGUMENT', 'proposal data is not bytes');
        if (err !== null) {
          batch.settle(k, err);
          continue;
        }
        // On the leader the proposal is the last entry, in the current term.
        const st = g.raw.basicStatus();
        assert(st.role === StateRole.Leader, 'only a leader accepts a proposal (forwarding is disabled)');
        addProposalWaiter(g, this.stats, st.lastIndex, new ProposalSlot(batch, k, st.term, deadlineMs));
        proposed++;
      }
      if (proposed > 0) this.#loop.kick();
    });
  }

  /** newProposalBatch makes proposeBatch's bookkeeping; a seam for tests that plant a bug in it (an answer before every entry settled). */
  protected newProposalBatch(size: number, done: (results: readonly (Uint8Array | OtlpdbError)[]) => void): ProposalBatch {
    return new ProposalBatch(size, done);
  }

  /**
   * proposeConfChange proposes one membership change in a group on this
   * node, which must be its leader (else ERR_NOT_LEADER with
   * details.leaderHint), and resolves once the ConfChange entry is applied
   * here, with the membership then in force. The rules of propose apply
   * (ERR_TIMEOUT: outcome unknown; ERR_PROPOSAL_DROPPED: retry); the core
   * refuses a change while another is pending (ERR_PROPOSAL_DROPPED).
   */
  proposeConfChange(group: GroupId, cc: ConfChange, timeoutMs: number = this.#settings.proposalTimeoutMs): Promise<ConfChangeResult> {
    const bad = typeof cc === 'object' && cc !== null ? null : new OtlpdbError('ERR_INVALID_ARGUMENT', 'a conf change is an object');
    return this.#proposeAndWait<ConfChangeResult>(group, bad, timeoutMs, (g, resolve) => ({
      propose: () => g.raw.proposeConfChange(cc),
      resolve: (index, term, _result, confState) => resolve({ index, term, confState: confState ?? g.confState }),
    }));
  }

  /**
   * #proposeAndWait checks a proposal (driver usable, group hosted, then
   * `bad`, the timeout, room for a waiter), hands it to the core and, once
   * the leader accepted it as its last entry, registers the (index, term)
   * waiter (see "Proposals" in waiters.ts). `make` builds the core call and
   * the waiter's resolve for group `g`. The core's refusal rejects.
   */
  #proposeAndWait<T>(
    group: GroupId,
    bad: OtlpdbError | null,
    timeoutMs: number,
    make: (g: GroupState, resolve: (r: T) => void) => { propose: () => OtlpdbError | null; resolve: ProposalWaiter['resolve'] },
  ): Promise<T> {
    const g = this.#groups.get(group);
    const refused = this.#refuseRequest(g, group);
    if (refused !== null) return Promise.reject(refused);
    assert(g !== undefined, 'a usable request names a hosted group');
    if (bad !== null) return Promise.reject(bad);
    const ms = checkTimeout(timeoutMs, 'timeoutMs');
    const full = proposalRoom(g);
    if (full !== null) return Promise.reject(full);
    return new Promise<T>((resolve, reject) => {
      const call = make(g, resolve);
      const err = call.propose();
      if (err !== null) {
        reject(err);
        return;
      }
      // On the leader the proposal is the last entry, in the current term.
      const st = g.raw.basicStatus();
      assert(st.role === StateRole.Leader, 'only a leader accepts a proposal (forwarding is disabled)');
      addProposalWaiter(g, this.stats, st.lastIndex, { term: st.term, deadlineMs: this.#clock.nowMs() + ms, resolve: call.resolve, reject });
      this.#loop.kick();
    });
  }

  /**
   * read is a linearizable read barrier (ReadIndex, thesis §6.4): it resolves
   * once this node's state machine has applied at least the commit index the
   * leader confirmed after the call, so a read of the state machine then sees
   * every write acknowledged before the call.
   */
  read(group: GroupId, timeoutMs: number = this.#settings.readTimeoutMs): Promise<void> {
    const g = this.#groups.get(group);
    const refused = this.#refuseRequest(g, group);
    if (refused !== null) return Promise.reject(refused);
    assert(g !== undefined, 'a usable request names a hosted group');
    const ms = checkTimeout(timeoutMs, 'timeoutMs');
    const full = readRoom(g);
    if (full !== null) return Promise.reject(full);
    const id = ++this.#readSeq;
    // The term and leader the request is made under (waiters.ts failUnconfirmedReads).
    const st = g.raw.basicStatus();
    const err = g.raw.readIndex(readContext(id));
    if (err !== null) return Promise.reject(err);
    const p = new Promise<void>((resolve, reject) => {
      g.reads.set(id, { index: NOT_WAITING, deadlineMs: this.#clock.nowMs() + ms, term: st.term, lead: st.lead, resolve, reject });
    });
    this.#loop.kick();
    return p;
  }

  /** campaign makes this node start an election in `group` now. */
  campaign(group: GroupId): OtlpdbError | null {
    const g = this.#groups.get(group);
    const refused = this.#refuseRequest(g, group);
    if (refused !== null) return refused;
    g?.raw.campaign();
    this.#loop.kick();
    return null;
  }

  /** transferLeader asks the group's leader to hand leadership to `to` (thesis §3.10). */
  transferLeader(group: GroupId, to: NodeId): OtlpdbError | null {
    const g = this.#groups.get(group);
    const refused = this.#refuseRequest(g, group);
    if (refused !== null) return refused;
    g?.raw.transferLeader(to);
    this.#loop.kick();
    return null;
  }

  /**
   * runIteration carries out one iteration (see the top of this file) after
   * any iteration in progress; it resolves to whether there was work. Tests
   * without autoRun call it to drive the node deterministically. A failure
   * (a WAL write or fsync) stops the driver and is rethrown.
   */
  runIteration(): Promise<boolean> {
    return this.#loop.runIteration();
  }

  /** stop finishes the current iteration, syncs and closes the WAL, and fails every waiter with ERR_UNAVAILABLE. */
  async stop(): Promise<void> {
    if (!this.#loop.markStopped()) return;
    this.#ticker?.cancel();
    await this.#loop.settled();
    this.#failAll(new OtlpdbError('ERR_UNAVAILABLE', `node ${this.nodeId} driver stopped`));
    for (const g of this.#groups.values()) {
      if (g.durable === null) continue;
      if (g.flushInFlight !== null) await g.flushInFlight;
      await g.durable.close();
    }
    if (this.#loop.failure === null) await this.#wal.close();
  }

  /** syncWal makes the buffered WAL records durable; it exists as a seam for tests that plant a bug here. */
  protected async syncWal(): Promise<void> {
    await this.#wal.sync();
  }

  /** #timedSync is every WAL sync of the driver: syncWal, timed into the histogram with the injected clock. */
  async #timedSync(): Promise<void> {
    const startMs = this.#clock.nowMs();
    await this.syncWal();
    this.#walSyncHistogram.observe(this.#clock.nowMs() - startMs);
  }

  #refuseRequest(g: GroupState | undefined, group: GroupId): OtlpdbError | null {
    const refused = this.#loop.refusal();
    if (refused !== null) return refused;
    if (g === undefined) return new OtlpdbError('ERR_INVALID_ARGUMENT', `group ${group} is not hosted on node ${this.nodeId}`, { group });
    return null;
  }

  async #iterate(): Promise<boolean> {
    const pipelined = this.#settings.pipelined;
    const opts = pipelined ? this.readyOptions() : SERIAL;
    const work: { g: GroupState; rd: Ready }[] = [];
    for (const g of this.#groups.values()) if (g.raw.hasReady()) work.push({ g, rd: g.raw.ready(opts) });
    if (work.length === 0) return false;
    // 1-2. Persist every group's Ready into the WAL buffer (snapshot images go to the store first).
    let groupsMustSync = 0;
    for (const { g, rd } of work) {
      if (rd.snapshot !== null) await g.storage.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) g.storage.append(rd.entries);
      if (rd.hardState !== null) g.storage.setHardState(rd.hardState);
      if (rd.mustSync) groupsMustSync++;
    }
    // 3. One fsync for every group (group commit), started now and awaited
    // below: while it runs, 5a applies what was durable before it.
    let syncFailure: unknown = null;
    let syncing = true;
    const synced =
      groupsMustSync > 0
        ? this.#timedSync().then(
            () => undefined,
            (err: unknown) => {
              syncFailure = err;
            },
          )
        : null;
    void synced?.finally(() => {
      syncing = false;
    });
    const later: { g: GroupState; rd: Ready }[] = [];
    try {
      // 5a. Pipelining: apply the committed entries that are durable already
      // (stableCommittedOnly) while the fsync is in flight, yielding to the
      // event loop between groups so the WAL's write completion can issue
      // its fsync. A Ready with a snapshot or a ConfChange applies after the
      // fsync (5b): both touch the storage the fsync is writing.
      let applied = 0;
      for (const w of work) {
        if (!pipelined || !overlapsSync(w.rd)) {
          later.push(w);
          continue;
        }
        const hasEntries = w.rd.committedEntries.length > 0;
        if (hasEntries && applied > 0 && syncing && synced !== null) await yieldToIo();
        await applyReady(w.g, w.rd, this.stats, this.#onFlushError);
        if (hasEntries) applied++;
      }
      if (applied > 0 && synced !== null) this.stats.appliesDuringSync += applied;
    } finally {
      if (synced !== null) await synced;
    }
    if (syncFailure !== null) throw syncFailure;
    if (groupsMustSync > 0) {
      this.stats.walSyncs++;
      this.stats.groupsSyncedMax = Math.max(this.stats.groupsSyncedMax, groupsMustSync);
    }
    // 4. Send, in one batch, only now that the fsync covering every Ready's records is done.
    const out: Message[] = [];
    for (const { rd } of work) for (const m of rd.messages) out.push(m);
    if (out.length > 0) {
      this.#transport.send(out);
      this.stats.messagesSent += out.length;
    }
    // 5b. Apply the rest (snapshots, ConfChanges), serve their reads.
    for (const { g, rd } of later) await applyReady(g, rd, this.stats, this.#onFlushError);
    // 6. Advance.
    for (const { g } of work) {
      g.raw.advance();
      assert(g.raw.basicStatus().applied === g.applied, 'Raft and the state machine agree on the applied index');
    }
    this.stats.iterations++;
    // 7. Compaction policy: every group when its inputs may have changed, else only groups whose flush completed.
    await this.#maybeCompact(policyDue(work, this.#clock.nowMs(), this.#policyPassMs, this.#settings.tickMs));
    return true;
  }

  /**
   * readyOptions is how a pipelined driver cuts each Ready: only entries persisted
   * by an earlier iteration are handed out to apply ("Pipelining" above).
   * It exists as a seam for the test that plants "acknowledge before the
   * fsync completes" (multi-raft.test.ts); production code never overrides it.
   */
  protected readyOptions(): ReadyOptions {
    return PIPELINED;
  }

  /**
   * #maybeCompact runs the compaction policy (step 7) over every group
   * (`full`), or only over the groups whose flush completed since the last
   * look (see policyDue for why the rest can wait).
   */
  async #maybeCompact(full = true): Promise<void> {
    const compacted: { g: GroupState; index: number }[] = [];
    const nowMs = this.#clock.nowMs();
    if (full) this.#policyPassMs = nowMs;
    else this.stats.policyPassesSkipped++;
    for (const g of this.#groups.values()) {
      if (!full && g.flushedAt === null) continue;
      const index =
        g.durable === null
          ? await maybeSnapshot(g, this.stats, this.#settings.snapshotEntries, this.#settings.compactKeepEntries, this.#settings.compactKeepBytesMax)
          : await maybeFlushOrSnapshot(g, this.stats, nowMs, this.#settings, this.#onFlushError);
      if (index !== null) compacted.push({ g, index });
    }
    this.stats.walSegmentsMax = Math.max(this.stats.walSegmentsMax, this.#wal.segmentCount);
    // Pacing the WAL (above): flush the groups pinning old segments ahead of the forced bound, a few at a time.
    if (this.#wal.segmentCount > this.#settings.walSegmentsFlushAhead) await this.#flushAhead(compacted);
    // Quiet groups that pin the oldest segment compact fully once the WAL is past its soft bound (wal.ts, "Compaction").
    if (this.#wal.segmentCount > this.#settings.walSegmentsSoftMax) {
      for (const group of this.#wal.pinningGroups()) {
        const g = this.#groups.get(group);
        if (g === undefined || compacted.some((c) => c.g === g)) continue;
        const room = this.#flushesInFlight() < DriverLimits.walForcedFlushesInFlightMax;
        const index = await forceCompact(g, this.stats, this.#onFlushError, room);
        if (index !== null) compacted.push({ g, index });
      }
    }
    this.stats.walSegments = this.#wal.segmentCount;
    this.stats.flushesInFlight = this.#flushesInFlight();
    if (compacted.length === 0) return;
    // purge() syncs the snapshot and compaction records first; only then are older images unneeded.
    const res = await this.#wal.purge();
    this.stats.purges++;
    this.stats.segmentsDeleted += res.deletedFiles.length;
    this.stats.walSegments = this.#wal.segmentCount;
    for (const { g, index } of compacted) await this.#store.prune(g.group, index);
  }

  /** #flushesInFlight counts the durable groups flushing now, whatever started the flush. */
  #flushesInFlight(): number {
    let n = 0;
    for (const g of this.#groups.values()) if (g.flushInFlight !== null) n++;
    return n;
  }

  /**
   * #flushAhead is the flush-ahead half of "Pacing the WAL": while fewer
   * than DriverLimits.walFlushesAheadInFlightMax flushes run on the node, it
   * starts the flush of the durable group whose live entries sit in the
   * oldest segment (Wal.oldestPins) past its snapshot, the largest head
   * first among those of one segment. A group that pins the oldest segment
   * only with entries a compaction kept behind its snapshot has them
   * compacted, up to the lowest match of its followers when it leads
   * (keptNobodyNeeds), into `compacted`; else every flushed shard's kept
   * entries would hold the oldest segment until the forced bound. An
   * in-memory group (the meta group, quiet under ingest) that pins it
   * takes its snapshot first, as the forced path would one segment later.
   */
  async #flushAhead(compacted: { g: GroupState; index: number }[]): Promise<void> {
    let inFlight = this.#flushesInFlight();
    const candidates: { g: GroupState; seq: number; headBytes: number }[] = [];
    for (const pin of this.#wal.oldestPins()) {
      const g = this.#groups.get(pin.group);
      if (g === undefined) continue;
      const sm = g.durable;
      if (g.flushInFlight !== null || sm?.flushing === true || g.flushedAt !== null) continue;
      let snap = g.storage.snapshot().metadata.index;
      if (pin.maxIndex <= snap || sm === null) {
        if (pin.seq !== 0 || compacted.some((c) => c.g === g)) continue;
        if (sm === null && snap < pin.maxIndex) {
          if (g.applied <= snap || isDurable(g.sm)) continue;
          await g.storage.createSnapshot(g.applied, g.confState, g.sm.snapshot());
          this.stats.snapshotsTaken++;
          snap = g.applied;
        }
        const to = keptNobodyNeeds(g, this.nodeId, snap);
        if (to < g.storage.firstIndex()) continue;
        assert(sm === null || to <= sm.durableIndex(), 'a durable group is compacted only up to durable state');
        g.storage.compact(to);
        this.stats.compactionsAhead++;
        compacted.push({ g, index: snap });
        continue;
      }
      if (inFlight >= DriverLimits.walFlushesAheadInFlightMax) continue;
      if (g.applied <= sm.durableIndex() || sm.appliedIndex() !== g.applied) continue;
      candidates.push({ g, seq: pin.seq, headBytes: sm.headBytes() });
    }
    candidates.sort((a, b) => a.seq - b.seq || b.headBytes - a.headBytes);
    for (const c of candidates) {
      if (inFlight >= DriverLimits.walFlushesAheadInFlightMax) break;
      void startFlush(c.g, this.#onFlushError);
      this.stats.flushesAhead++;
      inFlight++;
    }
    assert(this.#flushesInFlight() === inFlight, 'every flush started here is in flight');
  }

  /** #onFlushError stops the driver: a failed flush leaves the replica's files unknown, as a failed WAL sync does. */
  readonly #onFlushError = (err: unknown): void => {
    this.#loop.fail(err);
  };

  /**
   * #holdSnapshot keeps a Raft snapshot for a durable group from the core
   * until its data is staged: it starts pulling the sender's durable state
   * (one pull per group at a time) and steps the message again once staged.
   * A failed pull drops it; the leader resends the snapshot later.
   */
  #holdSnapshot(g: GroupState, from: NodeId, m: Message): boolean {
    const sm = g.durable;
    const chunk = m.snapshot as Message['snapshot'] | undefined;
    if (sm === null || m.type !== MessageType.Snap || typeof chunk !== 'object' || chunk === null) return false;
    const index = (chunk.metadata as { index?: unknown } | undefined)?.index;
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || !(chunk.data instanceof Uint8Array)) return false; // The core refuses it.
    if (sm.stagedFor(index) || chunk.data.length === 0) return false; // Staged, or the empty bootstrap image (no data to pull).
    if (g.stagingSnapshot) return true;
    if (chunk.offset !== 0 || !chunk.done) return false; // Not a descriptor: the core refuses it.
    g.stagingSnapshot = true;
    sm.stageSnapshot(from, index, chunk.data).then(
      () => {
        g.stagingSnapshot = false;
        if (this.#groups.get(g.group) === g) this.receive(from, [m]);
      },
      (err: unknown) => {
        g.stagingSnapshot = false;
        this.lastRefusal = new OtlpdbError('ERR_UNAVAILABLE', `group ${g.group}: staging snapshot ${index} from node ${from} failed: ${String(err)}`);
      },
    );
    return true;
  }

  /**
   * flush makes every durable group's applied state durable and takes its
   * Raft snapshot there (for `POST /api/v1/admin/flush`, tests and backups).
   * It runs between iterations and resolves when every group is done.
   */
  flush(): Promise<{ readonly groups: number }> {
    return this.#loop.enqueue(async () => {
      const refused = this.#loop.refusal();
      if (refused !== null) throw refused;
      let flushed = 0;
      for (const g of this.#groups.values()) {
        const sm = g.durable;
        if (sm === null) continue;
        if (g.flushInFlight !== null) await g.flushInFlight;
        if (g.applied > sm.durableIndex() && sm.appliedIndex() === g.applied) await startFlush(g, this.#onFlushError);
        if (this.#loop.failure !== null) throw this.#loop.failure;
        flushed++;
      }
      await this.#maybeCompact();
      return { groups: flushed };
    });
  }

  #expire(nowMs: number): void {
    for (const g of this.#groups.values()) expireWaiters(g, this.stats, nowMs);
  }

  #failAll(err: OtlpdbError): void {
    for (const g of this.#groups.values()) failWaiters(g, err);
  }
}
