/**
 * multi-raft.ts — the driver of one node: it hosts many Raft groups (group 0
 * = meta, 1..S = shards) over one shared WAL, and carries out their Readies
 * with one fsync per iteration for all of them (group commit).
 *
 * ## One iteration (`runIteration`)
 *
 *   1. take the Ready of every group that has one;
 *   2. persist each: snapshot (image to the SnapshotStore, metadata to the
 *      WAL buffer), entries, hard state — all buffered;
 *   3. ONE `wal.sync()` when any Ready had mustSync (group commit);
 *   4. send every message of every Ready in one `transport.send` batch;
 *   5. apply: install a received snapshot into the state machine, apply
 *      committed entries (ConfChange entries also to Raft), resolve the
 *      proposals and read barriers they satisfy;
 *   6. advance every RawNode;
 *   7. compaction policy: a group whose applied index is `snapshotEntries`
 *      past its snapshot snapshots its state machine, compacts its log, and
 *      the WAL purges dead segments.
 * Iterations run one at a time; ticks, messages and proposals that arrive
 * while one runs are stepped into the RawNodes at once and carried out by the
 * next iteration.
 *
 * ## Proposals
 *
 * Only the leader accepts a proposal: followers refuse it with
 * ERR_NOT_LEADER and `details.leaderHint` (the core's proposal forwarding is
 * disabled). Chosen over forwarding because a forwarded proposal has no index
 * the follower could wait on without a request id inside the data, which
 * would make every state machine parse an envelope; the client (or the
 * router) retries at the hinted leader. After the leader's RawNode accepts
 * the proposal, the entry is the last in its log: the waiter is keyed by
 * that (index, term), etcd-style. When the entry at that index is applied on
 * this node the waiter resolves if the term matches and is rejected with
 * ERR_PROPOSAL_DROPPED (retryable) if another term's entry landed there. A
 * leader that steps down keeps its waiters: the entry may still commit, and
 * calling it dropped could make a client retry a write that happens. The
 * deadline (ERR_TIMEOUT, outcome unknown) bounds every wait; a snapshot
 * installed over a waiting index also ends it with ERR_TIMEOUT (outcome
 * unknown).
 *
 * ## Membership of the node: runtime groups
 *
 * `addGroup` and `removeGroup` change the set of hosted groups while the
 * node runs. They run inside the iteration chain (never concurrently with an
 * iteration) and are durable through the group registry (group-registry.ts,
 * file `GROUPS` in the driver dir) and the WAL:
 *   addGroup:    [WAL forgetGroup of a stale incarnation + sync] → registry
 *                entry "hosted" (with the founding membership) → bootstrap
 *                records + sync → the group is hosted.
 *   removeGroup: the group leaves the map (waiters fail ERR_UNAVAILABLE) →
 *                registry tombstone → WAL forgetGroup + sync → snapshot
 *                images pruned → WAL purge.
 * A crash before the registry write is durable leaves no trace of an add (a
 * stale WAL incarnation is already forgotten) and undoes a remove; after it,
 * open finishes the change: a hosted entry whose WAL holds nothing is
 * bootstrapped from the registry, a tombstoned group still in the WAL is
 * forgotten and its images pruned. At open the hosted groups are (configured
 * groups not tombstoned) ∪ (registry groups marked hosted); a registry entry
 * overrides the configured membership of its group.
 *
 * ## Invariants
 *
 * - At most one iteration runs at a time (`#chain`).
 * - Messages of a Ready are handed to the transport only after the sync that
 *   covers its mustSync records (step 3 before 4).
 * - For every group, state machine applied index === Raft applied index
 *   between iterations.
 * - Waiter maps are bounded per group (DriverLimits); the group map by
 *   DriverLimits.groupsMax, the registry by registryEntriesMax.
 * - A group is in `#groups` iff the registry and the configured specs say it
 *   is hosted (between chain steps).
 * Owner: one driver per node owns the WAL, the SnapshotStore, every RawNode,
 * WalStorage and state machine of its groups.
 */
import { posix } from 'node:path';
import { OtlpdbError, assert, isOtlpdbError } from '../../errors.js';
import type { FileSystem } from '../../fs/file-system.js';
import { decodeConfChange } from '../conf-change.js';
import { GROUP_ID_MAX } from '../wal/record-format.js';
import { RawNode } from '../raw-node.js';
import { EntryType, StateRole } from '../types.js';
import type { ConfChange, ConfState, Config, Entry, GroupId, Message, NodeId, RaftStatus, Rand, Ready } from '../types.js';
import { Wal } from '../wal/wal.js';
import type { WalOptions } from '../wal/wal.js';
import { DriverLimits } from '../../limits.js';
import { GroupRegistry, RegistryState } from './group-registry.js';
import { LatencyHistogram, WAL_SYNC_BUCKETS_MS } from './latency-histogram.js';
import type { HistogramSnapshot } from './latency-histogram.js';
import { FileSnapshotStore } from './snapshot-store.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { StateMachine } from './state-machine.js';
import { WalStorage } from './wal-storage.js';

/** Transport is how a driver hands messages to the network; the network calls `receive` on the peer's driver. */
export interface Transport {
  /** send queues messages for delivery to their `to` nodes; it must not throw and may drop (Raft retries). */
  send(messages: readonly Message[]): void;
}

/** Clock is the driver's source of time for deadlines, in milliseconds. */
export interface Clock {
  nowMs(): number;
}

/** Scheduler runs the driver's tick timer; tests omit it and call tick() themselves. */
export interface Scheduler {
  every(intervalMs: number, fn: () => void): { cancel(): void };
}

/**
 * GroupSpec names a group this node hosts and its founding membership (used
 * only when the WAL has never seen it). Empty voters and learners: a replica
 * that learns its membership, log and snapshot from the group's leader.
 */
export interface GroupSpec {
  readonly group: GroupId;
  readonly voters: readonly NodeId[];
  readonly learners?: readonly NodeId[];
}

/** RaftTuning is the part of a group's Config a driver's caller may set. */
export type RaftTuning = Partial<Omit<Config, 'id' | 'group' | 'storage' | 'rand' | 'applied' | 'disableProposalForwarding'>>;

/** MultiRaftDriverOptions configure `MultiRaftDriver.open`. */
export interface MultiRaftDriverOptions {
  readonly nodeId: NodeId;
  readonly fs: FileSystem;
  /** dir holds `wal/` (the shared WAL) and `snap/<group>/` (snapshot images). */
  readonly dir: string;
  readonly transport: Transport;
  readonly rand: Rand;
  readonly clock: Clock;
  readonly groups: readonly GroupSpec[];
  readonly makeStateMachine: (group: GroupId) => StateMachine;
  /** scheduler, when set, ticks every tickMs. */
  readonly scheduler?: Scheduler;
  /** autoRun runs iterations by itself whenever there is work (default: true when a scheduler is given). */
  readonly autoRun?: boolean;
  readonly tickMs?: number;
  readonly raft?: RaftTuning;
  readonly proposalTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  /** snapshotEntries: snapshot a group once applied is this many entries past its snapshot. */
  readonly snapshotEntries?: number;
  /** compactKeepEntries: entries kept behind a new snapshot for slow followers. */
  readonly compactKeepEntries?: number;
  readonly wal?: WalOptions;
}

/** ProposeResult says where a proposal landed and what the state machine answered. */
export interface ProposeResult {
  readonly index: number;
  readonly term: number;
  readonly result: Uint8Array;
}

/** ConfChangeResult says where a membership change landed and the membership in force after it was applied here. */
export interface ConfChangeResult {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/**
 * GroupStats counts one group's work on this node since open (or since the
 * group was added): proposals (normal and ConfChange) this node accepted as
 * leader, how many of those resolved or were dropped, and ConfChange
 * entries applied here.
 */
export interface GroupStats {
  proposals: number;
  proposalsResolved: number;
  proposalsDropped: number;
  confChanges: number;
}

/** ReceiveResult counts what one receive() call stepped and refused. */
export interface ReceiveResult {
  readonly accepted: number;
  readonly refused: number;
}

/** DriverStats counts a driver's work since open, for tests and metrics. */
export interface DriverStats {
  iterations: number;
  /** walSyncs counts the iterations that synced the WAL (one sync each, whatever the number of groups). */
  walSyncs: number;
  /** groupsSyncedMax is the most groups with a mustSync Ready one sync covered. */
  groupsSyncedMax: number;
  messagesSent: number;
  messagesReceived: number;
  refusedUnknownGroup: number;
  refusedUnknownNode: number;
  refusedMalformed: number;
  refusedStepErrors: number;
  proposalsResolved: number;
  proposalsDropped: number;
  timeouts: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  purges: number;
  segmentsDeleted: number;
}

interface ProposalWaiter {
  readonly term: number;
  readonly deadlineMs: number;
  /** resolve gets the state machine's result, and the membership after the entry when it is a ConfChange (else null). */
  readonly resolve: (index: number, term: number, result: Uint8Array, confState: ConfState | null) => void;
  readonly reject: (e: OtlpdbError) => void;
}

interface ReadWaiter {
  index: number;
  readonly deadlineMs: number;
  readonly resolve: () => void;
  readonly reject: (e: OtlpdbError) => void;
}

interface GroupState {
  readonly group: GroupId;
  readonly raw: RawNode;
  readonly storage: WalStorage;
  readonly sm: StateMachine;
  confState: ConfState;
  applied: number;
  /** proposals: waiting proposals by log index. Bounded by proposalsPendingPerGroupMax. */
  readonly proposals: Map<number, ProposalWaiter>;
  /** reads: waiting read barriers by request id; index is -1 until the ReadState arrives. */
  readonly reads: Map<number, ReadWaiter>;
  readonly stats: GroupStats;
}

/** DriverInit is what `open` hands the constructor; build drivers with `MultiRaftDriver.open`. */
export interface DriverInit {
  readonly options: MultiRaftDriverOptions;
  readonly wal: Wal;
  readonly store: SnapshotStore;
  readonly groups: Map<GroupId, GroupState>;
  readonly registry: GroupRegistry;
}

const READ_CONTEXT_BYTES = 8;
/** PRUNE_ALL is a keepIndex above every snapshot index: prune deletes every image of the group. */
const PRUNE_ALL = Number.MAX_SAFE_INTEGER;
const NOT_WAITING = -1;

function checkTimeout(ms: number, name: string): number {
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms > DriverLimits.timeoutMsMax) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${name} ${ms} must be an integer in (0, ${DriverLimits.timeoutMsMax}]`);
  }
  return ms;
}

function checkNodeIds(ids: unknown, what: string): OtlpdbError | null {
  if (!Array.isArray(ids)) return new OtlpdbError('ERR_INVALID_ARGUMENT', `${what} is not an array`);
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || (id as number) < 1) return new OtlpdbError('ERR_INVALID_ARGUMENT', `${what}: node id ${String(id)} is not a positive integer`);
  }
  if (new Set(ids).size !== ids.length) return new OtlpdbError('ERR_INVALID_ARGUMENT', `${what} lists a node twice`);
  return null;
}

/** checkSpec validates a GroupSpec given to open or addGroup; null when it is usable. */
function checkSpec(spec: GroupSpec): OtlpdbError | null {
  if (typeof spec !== 'object' || spec === null) return new OtlpdbError('ERR_INVALID_ARGUMENT', 'a group spec is an object');
  if (!Number.isInteger(spec.group) || spec.group < 0 || spec.group > GROUP_ID_MAX) {
    return new OtlpdbError('ERR_INVALID_ARGUMENT', `group id ${spec.group} is not a u32`, { group: spec.group });
  }
  const learners = spec.learners ?? [];
  const bad = checkNodeIds(spec.voters, 'voters') ?? checkNodeIds(learners, 'learners');
  if (bad !== null) return bad;
  if (spec.voters.length === 0 && learners.length > 0) {
    return new OtlpdbError('ERR_INVALID_ARGUMENT', `group ${spec.group}: learners without voters`, { group: spec.group });
  }
  if (spec.voters.some((v) => learners.includes(v))) {
    return new OtlpdbError('ERR_INVALID_ARGUMENT', `group ${spec.group}: a node is both voter and learner`, { group: spec.group });
  }
  if (spec.voters.length + learners.length > DriverLimits.registryMembersPerGroupMax) {
    return new OtlpdbError('ERR_LIMIT_EXCEEDED', `group ${spec.group}: more than ${DriverLimits.registryMembersPerGroupMax} founding members`, {
      group: spec.group,
    });
  }
  return null;
}

/** bootstrapOf is the founding membership of a spec, or undefined for a joining replica (no members). */
function bootstrapOf(spec: GroupSpec): ConfState | undefined {
  if (spec.voters.length === 0) return undefined;
  return { voters: [...spec.voters], learners: [...(spec.learners ?? [])] };
}

/** MultiRaftDriver runs every Raft group of one node over one WAL; see the design at the top of this file. */
export class MultiRaftDriver {
  /** stats counts the driver's work since open. */
  readonly stats: DriverStats = {
    iterations: 0,
    walSyncs: 0,
    groupsSyncedMax: 0,
    messagesSent: 0,
    messagesReceived: 0,
    refusedUnknownGroup: 0,
    refusedUnknownNode: 0,
    refusedMalformed: 0,
    refusedStepErrors: 0,
    proposalsResolved: 0,
    proposalsDropped: 0,
    timeouts: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    purges: 0,
    segmentsDeleted: 0,
  };
  /** nodeId is this node. */
  readonly nodeId: NodeId;
  /** lastRefusal is the last error a refused message caused (for logs and tests). */
  lastRefusal: OtlpdbError | null = null;
  readonly #wal: Wal;
  readonly #store: SnapshotStore;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #groups: Map<GroupId, GroupState>;
  readonly #autoRun: boolean;
  readonly #proposalTimeoutMs: number;
  readonly #readTimeoutMs: number;
  readonly #snapshotEntries: number;
  readonly #compactKeepEntries: number;
  readonly #ticker: { cancel(): void } | null;
  readonly #options: MultiRaftDriverOptions;
  readonly #registry: GroupRegistry;
  readonly #walSyncHistogram = new LatencyHistogram(WAL_SYNC_BUCKETS_MS);
  #chain: Promise<unknown> = Promise.resolve();
  #loopRunning = false;
  #loopAgain = false;
  #readSeq = 0;
  #failure: unknown = null;
  #stopped = false;

  /** Use `MultiRaftDriver.open` (or `Subclass.open`); the constructor only wires what open recovered. */
  constructor(init: DriverInit) {
    const o = init.options;
    this.#options = o;
    this.#registry = init.registry;
    this.nodeId = o.nodeId;
    this.#wal = init.wal;
    this.#store = init.store;
    this.#transport = o.transport;
    this.#clock = o.clock;
    this.#groups = init.groups;
    this.#autoRun = o.autoRun ?? o.scheduler !== undefined;
    this.#proposalTimeoutMs = checkTimeout(o.proposalTimeoutMs ?? DriverLimits.proposalTimeoutMsDefault, 'proposalTimeoutMs');
    this.#readTimeoutMs = checkTimeout(o.readTimeoutMs ?? DriverLimits.readTimeoutMsDefault, 'readTimeoutMs');
    this.#snapshotEntries = o.snapshotEntries ?? DriverLimits.snapshotEntriesDefault;
    this.#compactKeepEntries = o.compactKeepEntries ?? DriverLimits.compactKeepEntriesDefault;
    assert(Number.isSafeInteger(this.#snapshotEntries) && this.#snapshotEntries > 0, 'snapshotEntries > 0');
    assert(
      Number.isSafeInteger(this.#compactKeepEntries) && this.#compactKeepEntries >= 0 && this.#compactKeepEntries < this.#snapshotEntries,
      '0 <= compactKeepEntries < snapshotEntries',
    );
    const tickMs = o.tickMs ?? DriverLimits.tickMsDefault;
    assert(Number.isSafeInteger(tickMs) && tickMs > 0, 'tickMs > 0');
    this.#ticker = o.scheduler === undefined ? null : o.scheduler.every(tickMs, () => this.tick());
  }

  /**
   * open recovers every group of `options.groups` from the WAL and the
   * snapshot store (bootstrapping groups the WAL has never seen), restores
   * each state machine from its snapshot and restarts Raft with applied =
   * snapshot index, so committed entries after it are replayed by the first
   * iterations. Called on a subclass, it builds that subclass.
   */
  static async open<D extends MultiRaftDriver>(this: new (init: DriverInit) => D, options: MultiRaftDriverOptions): Promise<D> {
    const specs = options.groups;
    if (!Array.isArray(specs) || specs.length > DriverLimits.groupsMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `a driver is configured with 0..${DriverLimits.groupsMax} groups`);
    }
    if (!Number.isSafeInteger(options.nodeId) || options.nodeId < 1) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `node id ${options.nodeId} must be a positive integer`);
    }
    const configured = new Map<GroupId, GroupSpec>();
    for (const spec of specs) {
      const bad = checkSpec(spec);
      if (bad !== null) throw bad;
      if (configured.has(spec.group)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `group ${spec.group} listed twice`);
      configured.set(spec.group, spec);
    }
    const { wal, recovery } = await Wal.open(options.fs, posix.join(options.dir, 'wal'), options.wal);
    const store = new FileSnapshotStore(options.fs, posix.join(options.dir, 'snap'));
    const registry = await GroupRegistry.load(options.fs, options.dir); // Wal.open made options.dir durable.
    // Hosted = (configured, not tombstoned) ∪ (registry: hosted); a registry entry overrides the configured membership.
    const hosted = new Map<GroupId, GroupSpec>();
    for (const [group, spec] of configured) if (registry.get(group) === undefined) hosted.set(group, spec);
    const tombstoned: GroupId[] = [];
    for (const e of registry.entries()) {
      if (e.state === RegistryState.Hosted) hosted.set(e.group, { group: e.group, voters: e.voters, learners: e.learners });
      else tombstoned.push(e.group);
    }
    if (hosted.size > DriverLimits.groupsMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `${hosted.size} hosted groups exceed groupsMax ${DriverLimits.groupsMax}`);
    }
    // Finish removals a crash interrupted: the tombstone is durable, the WAL forget or the prune may not be.
    for (const group of tombstoned) {
      if (wal.hasGroup(group)) wal.forgetGroup(group);
      await store.prune(group, PRUNE_ALL);
    }
    const storages = new Map<GroupId, WalStorage>();
    for (const [group, spec] of hosted) {
      storages.set(group, await WalStorage.recover(wal, store, group, recovery.groups.get(group), bootstrapOf(spec)));
    }
    await wal.sync(); // Bootstrap records, recovery's re-compactions, finished removals.
    const groups = new Map<GroupId, GroupState>();
    for (const [group, storage] of storages) groups.set(group, MultiRaftDriver.#groupState(options, group, storage));
    return new this({ options, wal, store, groups, registry });
  }

  /** #groupState restores a group's state machine from its storage's snapshot and starts its RawNode at that index. */
  static #groupState(options: MultiRaftDriverOptions, group: GroupId, storage: WalStorage): GroupState {
    const snap = storage.snapshot();
    const sm = options.makeStateMachine(group);
    sm.restore(snap.data, snap.metadata.index);
    assert(sm.appliedIndex() === snap.metadata.index, 'a restored state machine is at its snapshot index');
    const raw = new RawNode({
      ...options.raft,
      id: options.nodeId,
      group,
      storage,
      rand: options.rand,
      applied: snap.metadata.index,
      disableProposalForwarding: true,
    });
    return {
      group,
      raw,
      storage,
      sm,
      confState: storage.initialState().confState,
      applied: snap.metadata.index,
      proposals: new Map(),
      reads: new Map(),
      stats: { proposals: 0, proposalsResolved: 0, proposalsDropped: 0, confChanges: 0 },
    };
  }

  /**
   * addGroup starts hosting a group at runtime (see "Membership of the
   * node"): with voters, bootstrapped with that membership as open does;
   * with none, an empty replica the leader fills in. Durable when it
   * resolves. Refused: a hosted group (ERR_CONFLICT), past groupsMax or a
   * full registry (ERR_LIMIT_EXCEEDED), a bad spec (ERR_INVALID_ARGUMENT).
   */
  addGroup(spec: GroupSpec): Promise<void> {
    const bad = checkSpec(spec);
    if (bad !== null) return Promise.reject(bad);
    const group = spec.group;
    const entry = { group, state: RegistryState.Hosted, voters: [...spec.voters], learners: [...(spec.learners ?? [])] };
    return this.#enqueue(async () => {
      const refused = this.#refuseChange();
      if (refused !== null) throw refused;
      if (this.#groups.has(group)) throw new OtlpdbError('ERR_CONFLICT', `group ${group} is already hosted on node ${this.nodeId}`, { group });
      if (this.#groups.size >= DriverLimits.groupsMax) {
        throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `node ${this.nodeId} already hosts groupsMax ${DriverLimits.groupsMax} groups`, { group });
      }
      if (!this.#registry.hasRoomFor(group)) {
        throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `the group registry is full (registryEntriesMax ${DriverLimits.registryEntriesMax})`, { group });
      }
      await this.#poisonOnError(async () => {
        if (this.#wal.hasGroup(group)) {
          // A stale incarnation (a group dropped from the configuration): forget it durably before the registry names the new one.
          this.#wal.forgetGroup(group);
          await this.#timedSync();
        }
        await this.#store.prune(group, PRUNE_ALL);
        await this.#registry.put(entry);
        const storage = await WalStorage.recover(this.#wal, this.#store, group, undefined, bootstrapOf(spec));
        await this.#timedSync();
        this.#groups.set(group, MultiRaftDriver.#groupState(this.#options, group, storage));
      });
      assert(this.#groups.has(group), 'an added group is hosted');
      this.#kick();
    });
  }

  /**
   * removeGroup stops hosting a group (see "Membership of the node"): its
   * waiters fail with ERR_UNAVAILABLE, a durable tombstone keeps a restart
   * from recreating it, the WAL forgets it (its segments become purgeable)
   * and its snapshot images are deleted. Later messages for it are refused
   * as unknown group. A group not hosted is ERR_NOT_FOUND.
   */
  removeGroup(group: GroupId): Promise<void> {
    return this.#enqueue(async () => {
      const refused = this.#refuseChange();
      if (refused !== null) throw refused;
      const g = this.#groups.get(group);
      if (g === undefined) throw new OtlpdbError('ERR_NOT_FOUND', `group ${group} is not hosted on node ${this.nodeId}`, { group });
      if (!this.#registry.hasRoomFor(group)) {
        throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `the group registry is full (registryEntriesMax ${DriverLimits.registryEntriesMax})`, { group });
      }
      this.#groups.delete(group);
      this.#failGroup(g, new OtlpdbError('ERR_UNAVAILABLE', `group ${group} was removed from node ${this.nodeId}`, { group }));
      await this.#poisonOnError(async () => {
        await this.#registry.put({ group, state: RegistryState.Removed, voters: [], learners: [] });
        this.#wal.forgetGroup(group);
        await this.#timedSync();
        await this.#store.prune(group, PRUNE_ALL);
        const res = await this.#wal.purge();
        this.stats.purges++;
        this.stats.segmentsDeleted += res.deletedFiles.length;
      });
      assert(!this.#groups.has(group), 'a removed group is not hosted');
    });
  }

  /** groups lists the ids of the hosted groups. */
  groups(): GroupId[] {
    return [...this.#groups.keys()];
  }

  /** stateMachine returns a group's state machine (for reads after a barrier, and tests). */
  stateMachine(group: GroupId): StateMachine | null {
    return this.#groups.get(group)?.sm ?? null;
  }

  /** status reports a group's Raft state, or null for a group this node does not host. */
  status(group: GroupId): RaftStatus | null {
    return this.#groups.get(group)?.raw.status() ?? null;
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
    if (this.#failure !== null || this.#stopped || !Number.isSafeInteger(peer) || peer < 1 || peer === this.nodeId) return;
    for (const g of this.#groups.values()) {
      if (g.confState.voters.includes(peer) || g.confState.learners.includes(peer)) g.raw.reportUnreachable(peer);
    }
    this.#kick();
  }

  /** failure is the error that stopped the driver (a failed fsync poisons the WAL), or null. */
  get failure(): unknown {
    return this.#failure;
  }

  /** hasWork says whether some group has a Ready to carry out. */
  hasWork(): boolean {
    if (this.#failure !== null || this.#stopped) return false;
    for (const g of this.#groups.values()) if (g.raw.hasReady()) return true;
    return false;
  }

  /** tick advances every group's logical clock by one tick and expires waiters past their deadline. */
  tick(): void {
    if (this.#failure !== null || this.#stopped) return;
    for (const g of this.#groups.values()) g.raw.tick();
    this.#expire(this.#clock.nowMs());
    this.#kick();
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
    if (this.#failure !== null || this.#stopped) return { accepted: 0, refused: messages.length };
    let accepted = 0;
    let refused = 0;
    for (let k = 0; k < messages.length; k++) {
      if (k >= DriverLimits.receiveMessagesMax) {
        refused += messages.length - k;
        this.stats.refusedMalformed += messages.length - k;
        break;
      }
      const m = messages[k] as unknown as Message | null;
      if (typeof m !== 'object' || m === null || typeof m.group !== 'number') {
        this.stats.refusedMalformed++;
        refused++;
        continue;
      }
      const g = this.#groups.get(m.group);
      if (g === undefined) {
        this.stats.refusedUnknownGroup++;
        refused++;
        continue;
      }
      if (m.from !== from || !this.#isMember(g, from)) {
        this.stats.refusedUnknownNode++;
        refused++;
        continue;
      }
      let err: unknown;
      try {
        err = g.raw.step(m);
      } catch (e) {
        err = e; // The core validates input and returns errors; a throw here is still refused, never propagated.
      }
      if (err !== null) {
        this.stats.refusedStepErrors++;
        this.lastRefusal = isOtlpdbError(err) ? err : new OtlpdbError('ERR_INTERNAL', `step threw: ${String(err)}`);
        refused++;
        continue;
      }
      accepted++;
    }
    this.stats.messagesReceived += accepted;
    if (accepted > 0) this.#kick();
    return { accepted, refused };
  }

  /**
   * propose appends `data` to a group's log on this node, which must be its
   * leader, and resolves once the entry is applied here (see "Proposals").
   */
  propose(group: GroupId, data: Uint8Array, timeoutMs: number = this.#proposalTimeoutMs): Promise<ProposeResult> {
    const g = this.#groups.get(group);
    const refused = this.#refuseRequest(g, group);
    if (refused !== null) return Promise.reject(refused);
    assert(g !== undefined, 'a usable request names a hosted group');
    if (!(data instanceof Uint8Array)) return Promise.reject(new OtlpdbError('ERR_INVALID_ARGUMENT', 'proposal data is not bytes'));
    const ms = checkTimeout(timeoutMs, 'timeoutMs');
    if (g.proposals.size >= DriverLimits.proposalsPendingPerGroupMax) {
      return Promise.reject(
        new OtlpdbError('ERR_UNAVAILABLE', `group ${group} has ${g.proposals.size} proposals waiting (proposalsPendingPerGroupMax)`, { group }),
      );
    }
    return new Promise<ProposeResult>((resolve, reject) => {
      const err = this.#waitProposal(g, ms, () => g.raw.propose(data), (index, term, result) => resolve({ index, term, result }), reject);
      if (err !== null) reject(err);
    });
  }

  /**
   * proposeConfChange proposes one membership change in a group on this
   * node, which must be its leader (else ERR_NOT_LEADER with
   * details.leaderHint), and resolves once the ConfChange entry is applied
   * here, with the membership then in force. The rules of propose apply
   * (ERR_TIMEOUT: outcome unknown; ERR_PROPOSAL_DROPPED: retry); the core
   * refuses a change while another is pending (ERR_PROPOSAL_DROPPED).
   */
  proposeConfChange(group: GroupId, cc: ConfChange, timeoutMs: number = this.#proposalTimeoutMs): Promise<ConfChangeResult> {
    const g = this.#groups.get(group);
    const refused = this.#refuseRequest(g, group);
    if (refused !== null) return Promise.reject(refused);
    assert(g !== undefined, 'a usable request names a hosted group');
    if (typeof cc !== 'object' || cc === null) return Promise.reject(new OtlpdbError('ERR_INVALID_ARGUMENT', 'a conf change is an object'));
    const ms = checkTimeout(timeoutMs, 'timeoutMs');
    if (g.proposals.size >= DriverLimits.proposalsPendingPerGroupMax) {
      return Promise.reject(
        new OtlpdbError('ERR_UNAVAILABLE', `group ${group} has ${g.proposals.size} proposals waiting (proposalsPendingPerGroupMax)`, { group }),
      );
    }
    return new Promise<ConfChangeResult>((resolve, reject) => {
      const err = this.#waitProposal(
        g,
        ms,
        () => g.raw.proposeConfChange(cc),
        (index, term, _result, confState) => resolve({ index, term, confState: confState ?? g.confState }),
        reject,
      );
      if (err !== null) reject(err);
    });
  }

  /**
   * #waitProposal hands a proposal to the core and, once the leader accepted
   * it as its last entry, registers the (index, term) waiter (see
   * "Proposals"). Returns the core's refusal, or null.
   */
  #waitProposal(
    g: GroupState,
    ms: number,
    proposeFn: () => OtlpdbError | null,
    resolve: ProposalWaiter['resolve'],
    reject: (e: OtlpdbError) => void,
  ): OtlpdbError | null {
    const group = g.group;
    const err = proposeFn();
    if (err !== null) return err;
    // On the leader the proposal is the last entry, in the current term.
    const st = g.raw.basicStatus();
    assert(st.role === StateRole.Leader, 'only a leader accepts a proposal (forwarding is disabled)');
    const index = st.lastIndex;
    const prev = g.proposals.get(index);
    if (prev !== undefined) {
      // The entry that waiter proposed was replaced in our log by this term's; it was never committed (Leader Completeness).
      g.proposals.delete(index);
      this.stats.proposalsDropped++;
      g.stats.proposalsDropped++;
      prev.reject(new OtlpdbError('ERR_PROPOSAL_DROPPED', `proposal at ${index} was overwritten by a later leader`, { group, index }));
    }
    g.proposals.set(index, { term: st.term, deadlineMs: this.#clock.nowMs() + ms, resolve, reject });
    g.stats.proposals++;
    assert(g.proposals.size <= DriverLimits.proposalsPendingPerGroupMax, 'proposal waiters within proposalsPendingPerGroupMax');
    this.#kick();
    return null;
  }

  /**
   * read is a linearizable read barrier (ReadIndex, thesis §6.4): it resolves
   * once this node's state machine has applied at least the commit index the
   * leader confirmed after the call, so a read of the state machine then sees
   * every write acknowledged before the call.
   */
  read(group: GroupId, timeoutMs: number = this.#readTimeoutMs): Promise<void> {
    const g = this.#groups.get(group);
    const refused = this.#refuseRequest(g, group);
    if (refused !== null) return Promise.reject(refused);
    assert(g !== undefined, 'a usable request names a hosted group');
    const ms = checkTimeout(timeoutMs, 'timeoutMs');
    if (g.reads.size >= DriverLimits.readsPendingPerGroupMax) {
      return Promise.reject(
        new OtlpdbError('ERR_UNAVAILABLE', `group ${group} has ${g.reads.size} reads waiting (readsPendingPerGroupMax)`, { group }),
      );
    }
    const id = ++this.#readSeq;
    const ctx = new Uint8Array(READ_CONTEXT_BYTES);
    new DataView(ctx.buffer).setFloat64(0, id, true);
    const err = g.raw.readIndex(ctx);
    if (err !== null) return Promise.reject(err);
    const p = new Promise<void>((resolve, reject) => {
      g.reads.set(id, { index: NOT_WAITING, deadlineMs: this.#clock.nowMs() + ms, resolve, reject });
    });
    this.#kick();
    return p;
  }

  /** campaign makes this node start an election in `group` now. */
  campaign(group: GroupId): OtlpdbError | null {
    const g = this.#groups.get(group);
    const refused = this.#refuseRequest(g, group);
    if (refused !== null) return refused;
    g?.raw.campaign();
    this.#kick();
    return null;
  }

  /** transferLeader asks the group's leader to hand leadership to `to` (thesis §3.10). */
  transferLeader(group: GroupId, to: NodeId): OtlpdbError | null {
    const g = this.#groups.get(group);
    const refused = this.#refuseRequest(g, group);
    if (refused !== null) return refused;
    g?.raw.transferLeader(to);
    this.#kick();
    return null;
  }

  /**
   * runIteration carries out one iteration (see the top of this file) after
   * any iteration in progress; it resolves to whether there was work. Tests
   * without autoRun call it to drive the node deterministically. A failure
   * (a WAL write or fsync) stops the driver and is rethrown.
   */
  runIteration(): Promise<boolean> {
    const run = this.#chain.then(() => this.#iterateGuarded());
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** stop finishes the current iteration, syncs and closes the WAL, and fails every waiter with ERR_UNAVAILABLE. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#ticker?.cancel();
    await this.#chain;
    this.#failAll(new OtlpdbError('ERR_UNAVAILABLE', `node ${this.nodeId} driver stopped`));
    if (this.#failure === null) await this.#wal.close();
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

  /** #enqueue runs `fn` in the iteration chain, after any iteration or group change in progress. */
  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** #poisonOnError runs I/O whose failure leaves the node's files unknown: the driver stops, as after a failed iteration. */
  async #poisonOnError(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (this.#failure === null) {
        this.#failure = err;
        this.#ticker?.cancel();
        this.#failAll(new OtlpdbError('ERR_UNAVAILABLE', `node ${this.nodeId} driver failed: ${String(err)}`));
      }
      throw err;
    }
  }

  #refuseChange(): OtlpdbError | null {
    if (this.#failure !== null) return new OtlpdbError('ERR_UNAVAILABLE', `node ${this.nodeId} driver failed`, { cause: String(this.#failure) });
    if (this.#stopped) return new OtlpdbError('ERR_UNAVAILABLE', `node ${this.nodeId} driver stopped`);
    return null;
  }

  #refuseRequest(g: GroupState | undefined, group: GroupId): OtlpdbError | null {
    if (this.#failure !== null) return new OtlpdbError('ERR_UNAVAILABLE', `node ${this.nodeId} driver failed`, { cause: String(this.#failure) });
    if (this.#stopped) return new OtlpdbError('ERR_UNAVAILABLE', `node ${this.nodeId} driver stopped`);
    if (g === undefined) return new OtlpdbError('ERR_INVALID_ARGUMENT', `group ${group} is not hosted on node ${this.nodeId}`, { group });
    return null;
  }

  #isMember(g: GroupState, id: NodeId): boolean {
    const cs = g.confState;
    if (cs.voters.length === 0 && cs.learners.length === 0) return true; // A joining replica learns its group from the leader.
    return cs.voters.includes(id) || cs.learners.includes(id);
  }

  #kick(): void {
    if (!this.#autoRun || this.#stopped || this.#failure !== null) return;
    if (this.#loopRunning) {
      this.#loopAgain = true;
      return;
    }
    this.#loopRunning = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    try {
      for (let n = 0; n < DriverLimits.iterationsPerKickMax; n++) {
        this.#loopAgain = false;
        const worked = await this.runIteration();
        if (!worked && !this.#loopAgain) return;
      }
      // Bounded: yield to the event loop, then go on.
      setImmediate(() => this.#kick());
    } catch {
      // The failure is recorded in #failure and every waiter was rejected with it.
    } finally {
      this.#loopRunning = false;
    }
  }

  async #iterateGuarded(): Promise<boolean> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#stopped) return false;
    try {
      return await this.#iterate();
    } catch (err) {
      this.#failure = err;
      this.#ticker?.cancel();
      this.#failAll(new OtlpdbError('ERR_UNAVAILABLE', `node ${this.nodeId} driver failed: ${String(err)}`));
      throw err;
    }
  }

  async #iterate(): Promise<boolean> {
    const work: { g: GroupState; rd: Ready }[] = [];
    for (const g of this.#groups.values()) if (g.raw.hasReady()) work.push({ g, rd: g.raw.ready() });
    if (work.length === 0) return false;
    // 1-2. Persist every group's Ready into the WAL buffer (snapshot images go to the store first).
    let groupsMustSync = 0;
    for (const { g, rd } of work) {
      if (rd.snapshot !== null) await g.storage.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) g.storage.append(rd.entries);
      if (rd.hardState !== null) g.storage.setHardState(rd.hardState);
      if (rd.mustSync) groupsMustSync++;
    }
    // 3. One fsync for every group (group commit).
    if (groupsMustSync > 0) {
      await this.#timedSync();
      this.stats.walSyncs++;
      this.stats.groupsSyncedMax = Math.max(this.stats.groupsSyncedMax, groupsMustSync);
    }
    // 4. Send, in one batch.
    const out: Message[] = [];
    for (const { rd } of work) for (const m of rd.messages) out.push(m);
    if (out.length > 0) {
      this.#transport.send(out);
      this.stats.messagesSent += out.length;
    }
    // 5. Apply, serve reads.
    for (const { g, rd } of work) this.#apply(g, rd);
    // 6. Advance.
    for (const { g } of work) {
      g.raw.advance();
      assert(g.raw.status().applied === g.applied, 'Raft and the state machine agree on the applied index');
    }
    this.stats.iterations++;
    // 7. Compaction policy.
    await this.#maybeCompact();
    return true;
  }

  #apply(g: GroupState, rd: Ready): void {
    if (rd.snapshot !== null) {
      const md = rd.snapshot.metadata;
      g.sm.restore(rd.snapshot.data, md.index);
      g.confState = md.confState;
      g.applied = md.index;
      this.stats.snapshotsInstalled++;
      for (const [index, w] of g.proposals) {
        if (index > md.index) continue;
        g.proposals.delete(index);
        this.stats.timeouts++;
        w.reject(new OtlpdbError('ERR_TIMEOUT', `proposal at ${index}: a snapshot replaced the log; outcome unknown`, { group: g.group, index }));
      }
    }
    const ents = rd.committedEntries;
    if (ents.length > 0) {
      assert((ents[0] as Entry).index === g.applied + 1, 'committed entries follow the applied index');
      // confStates[k]: the membership after entry k when it is a ConfChange (allocated only when one is applied).
      let confStates: (ConfState | null)[] | null = null;
      for (let k = 0; k < ents.length; k++) {
        const e = ents[k] as Entry;
        if (e.type !== EntryType.ConfChange) continue;
        const cs = g.raw.applyConfChange(decodeConfChange(e.data));
        g.storage.setConfState(cs);
        g.confState = cs;
        g.stats.confChanges++;
        confStates ??= new Array<ConfState | null>(ents.length).fill(null);
        confStates[k] = cs;
      }
      const results = g.sm.apply(ents);
      assert(results.length === ents.length, 'the state machine returns one result per entry');
      g.applied = (ents[ents.length - 1] as Entry).index;
      assert(g.sm.appliedIndex() === g.applied, 'the state machine applied every committed entry');
      if (g.proposals.size > 0) {
        for (let k = 0; k < ents.length; k++) {
          const e = ents[k] as Entry;
          const w = g.proposals.get(e.index);
          if (w === undefined) continue;
          g.proposals.delete(e.index);
          if (e.term === w.term) {
            this.stats.proposalsResolved++;
            g.stats.proposalsResolved++;
            w.resolve(e.index, e.term, results[k] as Uint8Array, confStates?.[k] ?? null);
          } else {
            this.stats.proposalsDropped++;
            g.stats.proposalsDropped++;
            w.reject(
              new OtlpdbError('ERR_PROPOSAL_DROPPED', `proposal at ${e.index} (term ${w.term}) lost to an entry of term ${e.term}`, {
                group: g.group,
                index: e.index,
              }),
            );
          }
        }
      }
    }
    for (const rs of rd.readStates) {
      if (rs.context.length !== READ_CONTEXT_BYTES) continue;
      const id = new DataView(rs.context.buffer, rs.context.byteOffset, READ_CONTEXT_BYTES).getFloat64(0, true);
      const w = g.reads.get(id);
      if (w !== undefined) w.index = rs.index;
    }
    if (g.reads.size > 0) {
      for (const [id, w] of g.reads) {
        if (w.index === NOT_WAITING || w.index > g.applied) continue;
        g.reads.delete(id);
        w.resolve();
      }
    }
  }

  async #maybeCompact(): Promise<void> {
    const compacted: { g: GroupState; index: number }[] = [];
    for (const g of this.#groups.values()) {
      const snap = g.storage.snapshot().metadata.index;
      if (g.applied - snap < this.#snapshotEntries) continue;
      const index = g.applied;
      await g.storage.createSnapshot(index, g.confState, g.sm.snapshot());
      this.stats.snapshotsTaken++;
      const to = index - this.#compactKeepEntries;
      if (to >= g.storage.firstIndex()) g.storage.compact(to);
      compacted.push({ g, index });
    }
    if (compacted.length === 0) return;
    // purge() syncs the snapshot and compaction records first; only then are older images unneeded.
    const res = await this.#wal.purge();
    this.stats.purges++;
    this.stats.segmentsDeleted += res.deletedFiles.length;
    for (const { g, index } of compacted) await this.#store.prune(g.group, index);
  }

  #expire(nowMs: number): void {
    for (const g of this.#groups.values()) {
      for (const [index, w] of g.proposals) {
        if (w.deadlineMs > nowMs) continue;
        g.proposals.delete(index);
        this.stats.timeouts++;
        w.reject(new OtlpdbError('ERR_TIMEOUT', `proposal at ${index} in group ${g.group} not applied before its deadline`, { group: g.group, index }));
      }
      for (const [id, w] of g.reads) {
        if (w.deadlineMs > nowMs) continue;
        g.reads.delete(id);
        this.stats.timeouts++;
        w.reject(new OtlpdbError('ERR_TIMEOUT', `read barrier in group ${g.group} not confirmed before its deadline`, { group: g.group }));
      }
    }
  }

  #failAll(err: OtlpdbError): void {
    for (const g of this.#groups.values()) this.#failGroup(g, err);
  }

  #failGroup(g: GroupState, err: OtlpdbError): void {
    for (const w of g.proposals.values()) w.reject(err);
    g.proposals.clear();
    for (const w of g.reads.values()) w.reject(err);
    g.reads.clear();
  }
}
