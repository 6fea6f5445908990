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
import { assert } from '../../errors.js';
import { decodeConfChange } from '../conf-change.js';
import { RawNode } from '../raw-node.js';
import { EntryType } from '../types.js';
import type { ConfState, Entry, GroupId, NodeId, Ready } from '../types.js';
import type { DriverStats, GroupStats, MultiRaftDriverOptions } from './driver-types.js';
import type { StateMachine } from './state-machine.js';
import type { WalStorage } from './wal-storage.js';
import { failSnapshottedProposals, noteReadStates, resolveReads, settleProposals } from './waiters.js';
import type { WaiterMaps } from './waiters.js';

/** GroupState is one hosted group's Raft node, storage, state machine, waiters and counters. */
export interface GroupState extends WaiterMaps {
  readonly raw: RawNode;
  readonly storage: WalStorage;
  readonly sm: StateMachine;
  confState: ConfState;
  applied: number;
  readonly stats: GroupStats;
}

/** openGroupState restores a group's state machine from its storage's snapshot and starts its RawNode at that index. */
export function openGroupState(options: MultiRaftDriverOptions, group: GroupId, storage: WalStorage): GroupState {
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
export function applyReady(g: GroupState, rd: Ready, stats: DriverStats): void {
  if (rd.snapshot !== null) {
    const md = rd.snapshot.metadata;
    g.sm.restore(rd.snapshot.data, md.index);
    g.confState = md.confState;
    g.applied = md.index;
    stats.snapshotsInstalled++;
    failSnapshottedProposals(g, stats, md.index);
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
    settleProposals(g, stats, ents, results, confStates);
  }
  noteReadStates(g, rd.readStates);
  resolveReads(g, g.applied);
}

/**
 * maybeSnapshot is the compaction policy (step 7) for one group: once its
 * applied index is `snapshotEntries` past its snapshot, it snapshots the
 * state machine into the storage and compacts the log but the last
 * `compactKeepEntries` entries. Returns the new snapshot's index, or null
 * when none was due; the caller then purges the WAL and prunes older images.
 */
export async function maybeSnapshot(g: GroupState, stats: DriverStats, snapshotEntries: number, compactKeepEntries: number): Promise<number | null> {
  assert(compactKeepEntries >= 0 && compactKeepEntries < snapshotEntries, '0 <= compactKeepEntries < snapshotEntries');
  const snap = g.storage.snapshot().metadata.index;
  if (g.applied - snap < snapshotEntries) return null;
  const index = g.applied;
  await g.storage.createSnapshot(index, g.confState, g.sm.snapshot());
  stats.snapshotsTaken++;
  const to = index - compactKeepEntries;
  if (to >= g.storage.firstIndex()) g.storage.compact(to);
  return index;
}
