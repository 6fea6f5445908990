/**
 * group-state.ts — what the driver keeps for one hosted Raft group: its
 * RawNode, WAL-backed storage, state machine, the membership and applied
 * index as this replica applied them, its waiters (waiters.ts) and its
 * counters; how a group's state is rebuilt from its storage, how a Ready's
 * snapshot and committed entries are applied to it (step 5 of an
 * iteration), and when it takes a snapshot of its own (step 7).
 *
 * ## Invariants
 *
 * - Between iterations `sm.appliedIndex() === applied === raw.status().applied`.
 * - `confState` is the membership of the last ConfChange or snapshot applied
 *   here (the storage's initial state until then).
 * Owner: the MultiRaftDriver that hosts the group owns its GroupState and
 * everything in it; the state machine is created by the driver's caller
 * (`makeStateMachine`) and handed over.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { decodeConfChange } from '../conf-change.js';
import { entrySizeBytes } from '../entry-size.js';
import { RawNode } from '../raw-node.js';
import { EntryType } from '../types.js';
import type { ConfState, Entry, GroupId, NodeId, Ready, VoteFloor } from '../types.js';
import type { DriverStats, GroupStats, MultiRaftDriverOptions } from './driver-types.js';
import { isDurable } from './state-machine.js';
import type { AnyStateMachine, DurableStateMachine } from './state-machine.js';
import type { WalStorage } from './wal-storage.js';
import { failSnapshottedProposals, failUnconfirmedReads, noteReadStates, resolveReads, settleProposals } from './waiters.js';
import type { WaiterMaps } from './waiters.js';

/** GroupState is one hosted group's Raft node, storage, state machine, waiters and counters. */
export interface GroupState extends WaiterMaps {
  readonly raw: RawNode;
  readonly storage: WalStorage;
  readonly sm: AnyStateMachine;
  confState: ConfState;
  applied: number;
  readonly stats: GroupStats;
  /** durable is the state machine when it is a DurableStateMachine (see "Durable state machines" in multi-raft.ts), else null. */
  readonly durable: DurableStateMachine | null;
  /** flushedAt is a flush made durable whose Raft snapshot is not taken yet (durable groups only). */
  flushedAt: { readonly index: number; readonly confState: ConfState } | null;
  /** flushInFlight is the flush in progress (durable groups only). */
  flushInFlight: Promise<void> | null;
  /** stagingSnapshot says a snapshot is being pulled from a peer (durable groups only); its Raft message waits. */
  stagingSnapshot: boolean;
}

/**
 * openGroupState restores a group's state machine and starts its RawNode at
 * the state machine's applied index: for an in-memory state machine, from the
 * storage's snapshot image; for a durable one, from its own files (opened
 * with the WAL's snapshot; a replica whose files are ahead of the log — left
 * behind by an earlier incarnation of the group on this node — is wiped and
 * reopened empty).
 */
export async function openGroupState(options: MultiRaftDriverOptions, group: GroupId, storage: WalStorage, voteFloor: VoteFloor): Promise<GroupState> {
  const snap = storage.snapshot();
  let sm = options.makeStateMachine(group);
  if (isDurable(sm)) {
    await sm.open({ index: snap.metadata.index, data: snap.data });
    if (sm.appliedIndex() > storage.lastIndex()) {
      await sm.destroy();
      sm = options.makeStateMachine(group);
      assert(isDurable(sm), 'a group keeps its kind of state machine');
      await sm.open({ index: snap.metadata.index, data: snap.data });
    }
    if (sm.appliedIndex() < snap.metadata.index || sm.appliedIndex() > storage.lastIndex()) {
      throw new OtlpdbError(
        'ERR_CORRUPTION',
        `group ${group}: durable state at ${sm.appliedIndex()} does not cover the log's snapshot ${snap.metadata.index} (log ends at ${storage.lastIndex()})`,
        { group },
      );
    }
  } else {
    sm.restore(snap.data, snap.metadata.index);
    assert(sm.appliedIndex() === snap.metadata.index, 'a restored state machine is at its snapshot index');
  }
  const applied = sm.appliedIndex();
  const raw = new RawNode({
    ...options.raft,
    id: options.nodeId,
    group,
    storage,
    rand: options.rand,
    applied,
    disableProposalForwarding: true,
    voteFloor,
  });
  return {
    group,
    raw,
    storage,
    sm,
    confState: storage.initialState().confState,
    applied,
    proposals: new Map(),
    reads: new Map(),
    stats: { proposals: 0, proposalsResolved: 0, proposalsDropped: 0, confChanges: 0 },
    durable: isDurable(sm) ? sm : null,
    flushedAt: null,
    flushInFlight: null,
    stagingSnapshot: false,
  };
}

/** isMember says whether node `id` may send this group messages: a member of its applied membership, or anyone while it has none. */
export function isMember(g: GroupState, id: NodeId): boolean {
  const cs = g.confState;
  if (cs.voters.length === 0 && cs.learners.length === 0) return true; // A joining replica learns its group from the leader.
  return cs.voters.includes(id) || cs.learners.includes(id);
}

/**
 * applyReady is step 5 of an iteration for one group: install a received
 * snapshot into the state machine, apply the committed entries (ConfChange
 * entries also to Raft and the storage), then resolve the proposals and
 * read barriers they satisfy (waiters.ts). Called after the Ready was
 * persisted and synced, before the RawNode advances.
 */
export async function applyReady(g: GroupState, rd: Ready, stats: DriverStats, onFlushError: (err: unknown) => void): Promise<void> {
  if (rd.snapshot !== null) {
    const md = rd.snapshot.metadata;
    if (isDurable(g.sm)) await g.sm.installSnapshot(md.index, rd.snapshot.data);
    else g.sm.restore(rd.snapshot.data, md.index);
    g.confState = md.confState;
    g.applied = md.index;
    g.flushedAt = null;
    stats.snapshotsInstalled++;
    failSnapshottedProposals(g, stats, md.index);
  }
  const ents = rd.committedEntries;
  if (ents.length > 0) {
    assert((ents[0] as Entry).index === g.applied + 1, 'committed entries follow the applied index');
    // Backpressure: a durable head at its hard bound is flushed before it takes more.
    if (g.durable !== null && g.durable.mustFlushBeforeApply()) {
      if (g.flushInFlight === null && g.durable.appliedIndex() === g.applied) void startFlush(g, onFlushError);
      if (g.flushInFlight !== null) {
        stats.applyFlushWaits++;
        await g.flushInFlight;
      }
    }
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
    // A durable state installed from a peer may be ahead of the log: it skips entries it already holds.
    if (g.durable !== null) assert(g.sm.appliedIndex() >= g.applied, 'the durable state machine covers every committed entry');
    else assert(g.sm.appliedIndex() === g.applied, 'the state machine applied every committed entry');
    settleProposals(g, stats, ents, results, confStates);
  }
  noteReadStates(g, rd.readStates);
  // A new term, leader or role: the core dropped the reads it had not confirmed under the old ones (waiters.ts "Read barriers").
  if (g.reads.size > 0 && (rd.softState !== null || rd.hardState !== null)) {
    const st = g.raw.basicStatus();
    failUnconfirmedReads(g, st.term, st.lead);
  }
  resolveReads(g, g.applied);
}

/**
 * startFlush starts a flush of a durable group at its applied index (the
 * state machine freezes its head synchronously) and records, once durable,
 * the index and membership the next Raft snapshot is taken at. A failed
 * flush goes to `onError` (the driver stops, as for a failed WAL sync).
 */
export function startFlush(g: GroupState, onError: (err: unknown) => void): Promise<void> {
  const sm = g.durable;
  assert(sm !== null, 'only durable groups flush');
  assert(g.flushInFlight === null && !sm.flushing, 'one flush at a time per group');
  assert(sm.appliedIndex() === g.applied, 'a flush starts where Raft has applied');
  const at = { index: g.applied, confState: g.confState };
  const p = sm.flush().then(
    (index) => {
      assert(index === at.index, 'a flush makes the applied index durable');
      if (at.index > (g.flushedAt?.index ?? 0)) g.flushedAt = at;
    },
    (err: unknown) => onError(err),
  );
  g.flushInFlight = p.finally(() => {
    g.flushInFlight = null;
  });
  return g.flushInFlight;
}

/**
 * maybeFlushOrSnapshot is the compaction policy (step 7) for a durable
 * group: a flush made durable becomes a Raft snapshot (its image the state
 * machine's descriptor) and the log is compacted up to it but the last
 * `compactKeepEntries` entries; and a flush starts when the head asks for
 * one (size, age) or the log holds `snapshotEntries` entries past the durable
 * index. Returns the new snapshot's index, or null.
 */
export async function maybeFlushOrSnapshot(
  g: GroupState,
  stats: DriverStats,
  nowMs: number,
  settings: { readonly snapshotEntries: number; readonly compactKeepEntries: number; readonly compactKeepBytesMax: number },
  onFlushError: (err: unknown) => void,
): Promise<number | null> {
  const sm = g.durable;
  assert(sm !== null, 'durable groups only');
  let taken: number | null = null;
  const at = g.flushedAt;
  if (at !== null && at.index <= g.applied) {
    g.flushedAt = null;
    if (at.index > g.storage.snapshot().metadata.index) {
      await g.storage.createSnapshot(at.index, at.confState, sm.snapshotDescriptor(at.index));
      stats.snapshotsTaken++;
      const to = compactionPoint(g, at.index, settings.compactKeepEntries, settings.compactKeepBytesMax);
      if (to >= g.storage.firstIndex()) g.storage.compact(to);
      taken = at.index;
    }
  }
  const behind = g.applied - sm.durableIndex();
  if (g.flushInFlight === null && !sm.flushing && behind > 0 && sm.appliedIndex() === g.applied) {
    if (sm.flushDue(nowMs) || behind >= settings.snapshotEntries) void startFlush(g, onFlushError);
  }
  return taken;
}

/**
 * compactionPoint is where a compaction behind a snapshot at `index` stops:
 * it keeps at most `keepEntries` entries behind the snapshot for slow
 * followers, and at most `keepBytesMax` bytes of them (the entries stay in
 * memory until compacted: a thousand 1 MiB entries in each of 16 groups
 * would be 16 GiB). Returns the last index to compact.
 */
export function compactionPoint(g: GroupState, index: number, keepEntries: number, keepBytesMax: number): number {
  assert(keepEntries >= 0 && index <= g.storage.lastIndex(), 'compaction keeps a count behind an index in the log');
  const lo = Math.max(g.storage.firstIndex(), index - keepEntries + 1);
  if (keepEntries === 0 || lo > index) return index - keepEntries;
  const kept = g.storage.entries(lo, index + 1, Number.MAX_SAFE_INTEGER);
  let bytes = 0;
  for (let k = kept.length - 1; k >= 0; k--) {
    bytes += entrySizeBytes(kept[k] as Entry);
    if (bytes > keepBytesMax) return lo + k;
  }
  return index - keepEntries;
}

/**
 * forceCompact compacts `g` up to its latest snapshot, keeping no entries
 * behind it: its entries pin the WAL's oldest segment and the WAL is past
 * walSegmentsSoftMax (wal.ts, "Compaction"). A group whose log holds
 * nothing at or below its snapshot takes a new snapshot first: an in-memory
 * group at its applied index, at once; a durable group starts a flush when
 * `flushRoom` says the node runs fewer than
 * DriverLimits.walForcedFlushesInFlightMax (else a later pass does), whose
 * snapshot (maybeFlushOrSnapshot) lets a later call compact. Returns the
 * index compacted to, or null when nothing could be compacted yet. A
 * follower that then needs the dropped entries gets a snapshot instead.
 */
export async function forceCompact(g: GroupState, stats: DriverStats, onFlushError: (err: unknown) => void, flushRoom: boolean): Promise<number | null> {
  let snap = g.storage.snapshot().metadata.index;
  if (snap < g.storage.firstIndex()) {
    const sm = g.durable;
    if (sm !== null) {
      if (g.flushInFlight === null && !sm.flushing && g.applied > sm.durableIndex() && sm.appliedIndex() === g.applied) {
        if (!flushRoom) {
          stats.forcedFlushesDeferred++;
          return null;
        }
        void startFlush(g, onFlushError);
        stats.flushesForced++;
      }
      return null;
    }
    if (g.applied <= snap) return null;
    assert(!isDurable(g.sm), 'an in-memory state machine snapshots itself');
    await g.storage.createSnapshot(g.applied, g.confState, g.sm.snapshot());
    stats.snapshotsTaken++;
    snap = g.applied;
  }
  assert(snap >= g.storage.firstIndex(), 'the snapshot is inside the log');
  g.storage.compact(snap);
  stats.forcedCompactions++;
  return snap;
}

/**
 * maybeSnapshot is the compaction policy (step 7) for one group: once its
 * applied index is `snapshotEntries` past its snapshot, it snapshots the
 * state machine into the storage and compacts the log but the last
 * `compactKeepEntries` entries. Returns the new snapshot's index, or null
 * when none was due; the caller then purges the WAL and prunes older images.
 */
export async function maybeSnapshot(
  g: GroupState,
  stats: DriverStats,
  snapshotEntries: number,
  compactKeepEntries: number,
  compactKeepBytesMax: number,
): Promise<number | null> {
  assert(compactKeepEntries >= 0 && compactKeepEntries < snapshotEntries, '0 <= compactKeepEntries < snapshotEntries');
  const sm = g.sm;
  assert(!isDurable(sm), 'durable groups take snapshots at their flushes (maybeFlushOrSnapshot)');
  const snap = g.storage.snapshot().metadata.index;
  if (g.applied - snap < snapshotEntries) return null;
  const index = g.applied;
  await g.storage.createSnapshot(index, g.confState, sm.snapshot());
  stats.snapshotsTaken++;
  const to = compactionPoint(g, index, compactKeepEntries, compactKeepBytesMax);
  if (to >= g.storage.firstIndex()) g.storage.compact(to);
  return index;
}
