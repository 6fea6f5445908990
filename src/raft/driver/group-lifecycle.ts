/**
 * group-lifecycle.ts — which groups a node hosts, and the durable steps that
 * change that set: the hosted set computed at open from the configured specs
 * and the group registry (group-registry.ts), and the I/O sequences of
 * `MultiRaftDriver.addGroup` and `removeGroup`. Plain functions; the driver
 * runs them inside its iteration chain and owns the group map they feed.
 *
 * ## Membership of the node: runtime groups
 *
 * `addGroup` and `removeGroup` change the set of hosted groups while the
 * node runs. They run inside the iteration chain (never concurrently with an
 * iteration) and are durable through the group registry (file `GROUPS` in
 * the driver dir) and the WAL:
 *   addGroup:    [a stale incarnation retired: registry tombstone, then WAL
 *                forgetGroup + sync] → registry entry "hosted" (with the
 *                founding membership and the tombstone) → bootstrap
 *                records + sync → the group is hosted.
 *   removeGroup: the group leaves the map (waiters fail ERR_UNAVAILABLE) →
 *                registry tombstone → WAL forgetGroup + sync → snapshot
 *                images pruned → WAL purge.
 * A crash before the registry write is durable leaves no trace of an add (a
 * stale WAL incarnation is already forgotten) and undoes a remove; after it,
 * open finishes the change: a hosted entry whose WAL holds nothing is
 * bootstrapped from the registry, a tombstoned group still in the WAL is
 * forgotten and its images pruned.
 *
 * A **stale incarnation** is a group the WAL holds that is neither hosted
 * nor tombstoned: its node was restarted with a group list that no longer
 * names it. Open leaves its records alone (a restart with the list put
 * back hosts it again, log and all) and computes the tombstone it would
 * leave (`staleTombstone`); an addGroup of that group retires it as
 * removeGroup would, tombstone first, so its term, vote and vote floor pass
 * to the new incarnation (../tombstone.ts) even across a crash. At open the hosted groups are (configured
 * groups not tombstoned) ∪ (registry groups marked hosted); a registry entry
 * overrides the configured membership of its group.
 *
 * ## Invariants
 *
 * - A group is in the driver's group map iff the registry and the configured
 *   specs say it is hosted (between chain steps).
 * - The group map is bounded by DriverLimits.groupsMax, the registry by
 *   registryEntriesMax (checked here before every write).
 * Owner: the driver owns the WAL, SnapshotStore and GroupRegistry these
 * functions write; they hold no state of their own.
 */
import { posix } from 'node:path';
import { OtlpdbError, assert } from '../../errors.js';
import { DriverLimits } from '../../limits.js';
import { NO_FLOOR, NO_TOMBSTONE, incarnationHardState, tombstoneOf } from '../tombstone.js';
import type { ReplicaTombstone } from '../tombstone.js';
import type { ConfState, GroupId, NodeId } from '../types.js';
import type { RecoveredGroup } from '../wal/group-replay.js';
import { GROUP_ID_MAX } from '../wal/record-format.js';
import { Wal } from '../wal/wal.js';
import type { PurgeResult } from '../wal/wal.js';
import type { GroupSpec, MultiRaftDriverOptions } from './driver-types.js';
import { GroupRegistry, RegistryState } from './group-registry.js';
import type { RegistryEntry } from './group-registry.js';
import { FileSnapshotStore } from './snapshot-store.js';
import type { SnapshotStore } from './snapshot-store.js';
import { WalStorage } from './wal-storage.js';

/** PRUNE_ALL is a keepIndex above every snapshot index: prune deletes every image of the group. */
const PRUNE_ALL = Number.MAX_SAFE_INTEGER;

function checkNodeIds(ids: unknown, what: string): OtlpdbError | null {
  if (!Array.isArray(ids)) return new OtlpdbError('ERR_INVALID_ARGUMENT', `${what} is not an array`);
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || (id as number) < 1) return new OtlpdbError('ERR_INVALID_ARGUMENT', `${what}: node id ${String(id)} is not a positive integer`);
  }
  if (new Set(ids).size !== ids.length) return new OtlpdbError('ERR_INVALID_ARGUMENT', `${what} lists a node twice`);
  return null;
}

/** checkSpec validates a GroupSpec given to open or addGroup; null when it is usable. */
export function checkSpec(spec: GroupSpec): OtlpdbError | null {
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

/**
 * OpenedGroups is what openHostedGroups recovered: the shared WAL, the image
 * store, the registry, the storage of every hosted group, and the tombstone
 * of every stale incarnation (see "Membership of the node").
 */
export interface OpenedGroups {
  readonly wal: Wal;
  readonly store: SnapshotStore;
  readonly registry: GroupRegistry;
  readonly storages: Map<GroupId, WalStorage>;
  readonly stale: Map<GroupId, ReplicaTombstone>;
}

/**
 * staleTombstone is the tombstone a stale incarnation leaves: its recovered
 * hard state and the position of its last entry (or of its snapshot when
 * the log is compacted to it). A torn tail can keep a Ready's entries
 * without that Ready's hard state; nothing of that Ready was sent (the
 * driver sends after the sync), so its term is taken without a vote.
 */
export function staleTombstone(rec: RecoveredGroup): ReplicaTombstone {
  const snap = rec.snapshot;
  let index = snap?.index ?? 0;
  let term = snap?.term ?? 0;
  const lastEntry = rec.entries[rec.entries.length - 1];
  if (lastEntry !== undefined && lastEntry.index >= index) {
    index = lastEntry.index;
    term = lastEntry.term;
  } else if (rec.compactedIndex > index) {
    throw new OtlpdbError('ERR_CORRUPTION', `group ${rec.group}: compacted index ${rec.compactedIndex} is past its snapshot ${index}`, { group: rec.group });
  }
  const hs = rec.hardState ?? { term: 0, vote: 0, commit: 0 };
  const hard = term > hs.term ? { term, vote: 0, commit: hs.commit } : hs;
  const t = tombstoneOf(hard, index, term, NO_FLOOR);
  assert(t.floor.index === index && t.floor.term === term, 'a stale incarnation\'s floor is its last entry');
  return t;
}

/**
 * openHostedGroups is the durable half of `MultiRaftDriver.open`: it checks
 * the options, opens the WAL, the snapshot store and the registry, computes
 * the hosted groups (see "Membership of the node"), finishes removals a
 * crash interrupted, and recovers (or bootstraps) the storage of every
 * hosted group, all made durable by one sync.
 */
export async function openHostedGroups(options: MultiRaftDriverOptions): Promise<OpenedGroups> {
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
    const storage = await WalStorage.recover(wal, store, group, recovery.groups.get(group), bootstrapOf(spec));
    // Again at every open: a crash after addGroup's registry write but before its hard state was synced bootstraps here.
    startFrom(storage, registry.get(group)?.tombstone ?? NO_TOMBSTONE);
    storages.set(group, storage);
  }
  const stale = new Map<GroupId, ReplicaTombstone>();
  for (const [group, rec] of recovery.groups) {
    if (!hosted.has(group) && registry.get(group) === undefined) stale.set(group, staleTombstone(rec));
  }
  await wal.sync(); // Bootstrap records, recovery's re-compactions, finished removals.
  assert(storages.size === hosted.size, 'every hosted group has a storage');
  return { wal, store, registry, storages, stale };
}

/**
 * startFrom gives an incarnation its predecessor's term and vote
 * (incarnationHardState; the vote floor goes to the Raft config at open),
 * buffering the hard state when that changes it: idempotent, so open can
 * apply it to every hosted group with a tombstone.
 */
function startFrom(storage: WalStorage, tombstone: ReplicaTombstone): void {
  if (tombstone.term === 0) return;
  const hs = storage.hardState();
  const next = incarnationHardState(tombstone, hs);
  if (next.term !== hs.term || next.vote !== hs.vote) storage.setHardState(next);
  assert(storage.hardState().term >= tombstone.term, 'an incarnation starts at least at its predecessor\'s term');
}

/** LifecycleIo is what a runtime group change writes: the driver's WAL, image store and registry, and its (timed) WAL sync. */
export interface LifecycleIo {
  readonly wal: Wal;
  readonly store: SnapshotStore;
  readonly registry: GroupRegistry;
  readonly sync: () => Promise<void>;
}

/**
 * hostedEntry is the registry entry addGroup writes for `spec`. It carries
 * the tombstone of the group's previous replica on this node, if any
 * (`previous`: the group's registry tombstone, or a stale incarnation's),
 * so the new incarnation starts at that term and vote with that vote floor
 * (../tombstone.ts).
 */
export function hostedEntry(spec: GroupSpec, previous: ReplicaTombstone = NO_TOMBSTONE): RegistryEntry {
  return {
    group: spec.group,
    state: RegistryState.Hosted,
    voters: [...spec.voters],
    learners: [...(spec.learners ?? [])],
    tombstone: previous,
  };
}

/** refuseAdd says why `group` cannot be added to a node hosting `hostedCount` groups (ERR_CONFLICT, ERR_LIMIT_EXCEEDED), or null. */
export function refuseAdd(io: LifecycleIo, isHosted: boolean, hostedCount: number, group: GroupId, nodeId: NodeId): OtlpdbError | null {
  if (isHosted) return new OtlpdbError('ERR_CONFLICT', `group ${group} is already hosted on node ${nodeId}`, { group });
  if (hostedCount >= DriverLimits.groupsMax) {
    return new OtlpdbError('ERR_LIMIT_EXCEEDED', `node ${nodeId} already hosts groupsMax ${DriverLimits.groupsMax} groups`, { group });
  }
  return registryRoom(io, group);
}

/** registryRoom refuses a registry write for `group` with ERR_LIMIT_EXCEEDED when the registry is full; null when there is room. */
export function registryRoom(io: LifecycleIo, group: GroupId): OtlpdbError | null {
  if (io.registry.hasRoomFor(group)) return null;
  return new OtlpdbError('ERR_LIMIT_EXCEEDED', `the group registry is full (registryEntriesMax ${DriverLimits.registryEntriesMax})`, { group });
}

/**
 * hostGroup carries out the durable steps of addGroup (see "Membership of
 * the node") and returns the new group's storage, bootstrapped with the
 * spec's membership and synced. The caller checked refuseAdd.
 */
export async function hostGroup(io: LifecycleIo, spec: GroupSpec, entry: RegistryEntry): Promise<WalStorage> {
  const group = spec.group;
  assert(entry.group === group && entry.state === RegistryState.Hosted, 'addGroup writes a hosted entry for its own group');
  if (io.wal.hasGroup(group)) {
    // A stale incarnation (see "Membership of the node"): retired as removeGroup retires a replica, its tombstone (which
    // `entry` carries: staleTombstone at open) durable before the WAL forgets it, and forgotten before the registry names
    // the new one. A crash in between leaves a tombstoned group, whose tombstone a later addGroup starts from.
    assert(io.registry.get(group) === undefined, 'a group the registry names is hosted or was forgotten at open');
    assert(entry.tombstone.term > 0, 'a stale incarnation leaves a term');
    await io.registry.put({ group, state: RegistryState.Removed, voters: [], learners: [], tombstone: entry.tombstone });
    io.wal.forgetGroup(group);
    await io.sync();
  }
  await io.store.prune(group, PRUNE_ALL);
  await io.registry.put(entry);
  const storage = await WalStorage.recover(io.wal, io.store, group, undefined, bootstrapOf(spec));
  startFrom(storage, entry.tombstone);
  await io.sync();
  return storage;
}

/**
 * unhostGroup carries out the durable steps of removeGroup after the group
 * left the driver's map (see "Membership of the node"): tombstone (with the
 * replica's term, vote and vote floor, `tombstone`), WAL forget + sync,
 * images pruned, WAL purge, whose result it returns.
 */
export async function unhostGroup(io: LifecycleIo, group: GroupId, tombstone: ReplicaTombstone): Promise<PurgeResult> {
  await io.registry.put({ group, state: RegistryState.Removed, voters: [], learners: [], tombstone });
  io.wal.forgetGroup(group);
  await io.sync();
  await io.store.prune(group, PRUNE_ALL);
  return io.wal.purge();
}
