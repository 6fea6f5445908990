/**
 * runtime-groups.test.ts — hosting groups at runtime: addGroup (bootstrap or
 * empty joining replica), membership changes through proposeConfChange
 * (Raft thesis §4.1: one change at a time; §4.2.1: new servers join as
 * non-voting learners and catch up first), removeGroup, and the durability
 * of both across restarts and crashes.
 */
import t from 'tap';
import assert from 'node:assert/strict';
import type { CrashFileSystem } from '../../fs/crash-file-system.js';
import { ConfChangeType, EntryType, MessageType, ProgressState, StateRole } from '../types.js';
import type { Entry, GroupId, NodeId } from '../types.js';
import type { RecoveredGroup } from '../wal/group-replay.js';
import { staleTombstone } from './group-lifecycle.js';
import { newMessage } from '../message.js';
import { GroupRegistry } from './group-registry.js';
import { MultiRaftDriver } from './multi-raft.js';
import { encodeKvCommand } from './state-machine.js';
import { TestCluster } from './test-cluster.js';

function put(key: string, value: string): Uint8Array {
  return encodeKvCommand({ op: 'put', key, value });
}

/** untilLeader ticks until `group` has a leader (bounded) and returns it. */
async function untilLeader(c: TestCluster, group: GroupId, ticksMax = 300): Promise<NodeId> {
  for (let k = 0; k < ticksMax; k++) {
    const lead = c.leaderOf(group);
    if (lead !== null) return lead;
    await c.tick();
  }
  throw new Error(`no leader in group ${group} after ${ticksMax} ticks`);
}

/** settled runs a driver promise to completion while the cluster iterates and delivers. */
async function settled<T>(c: TestCluster, p: Promise<T>, ticksMax = 300): Promise<T> {
  let done = false;
  const q = p.finally(() => {
    done = true;
  });
  q.catch(() => undefined);
  for (let k = 0; k < ticksMax && !done; k++) await c.tick();
  return q;
}

/** untilApplied ticks until node `id` applied at least `index` in `group` (bounded). */
async function untilApplied(c: TestCluster, id: NodeId, group: GroupId, index: number, ticksMax = 500): Promise<void> {
  for (let k = 0; k < ticksMax; k++) {
    if ((c.driver(id).status(group)?.applied ?? 0) >= index) return;
    await c.tick();
  }
  throw new Error(`node ${id} did not apply ${index} in group ${group}`);
}

/** addGroupCrashingAfter runs addGroup on node 1 with its disk crashing after `n` mutating operations, then crashes and restarts the node; it says whether addGroup resolved. */
async function addGroupCrashingAfter(c: TestCluster, spec: { group: GroupId; voters: NodeId[] }, n: number): Promise<boolean> {
  const fs = c.node(1).fs as CrashFileSystem;
  fs.crashAfterOps(n);
  const resolved = await c
    .driver(1)
    .addGroup(spec)
    .then(
      () => true,
      () => false,
    );
  fs.disarm();
  c.crash(1);
  await c.start(1);
  return resolved;
}

async function walSegments(c: TestCluster, id: NodeId): Promise<number> {
  return (await c.node(id).fs.readdir('/node/wal')).filter((n) => n.endsWith('.wal')).length;
}

t.test('addGroup bootstraps a group at runtime; a restart with the original specs hosts it again', async (t) => {
  const c = new TestCluster({ seed: 11, nodes: [1, 2, 3], groups: [0] });
  await c.startAll();
  await c.untilLeaders();
  for (const id of [1, 2, 3]) await c.driver(id).addGroup({ group: 7, voters: [1, 2, 3] });
  t.ok([1, 2, 3].every((id) => c.driver(id).groups().includes(7)), 'every node hosts group 7');
  await t.rejects(c.driver(1).addGroup({ group: 7, voters: [1, 2, 3] }), { code: 'ERR_CONFLICT' }, 'a hosted group is refused');
  await t.rejects(c.driver(1).addGroup({ group: 8, voters: [], learners: [2] }), { code: 'ERR_INVALID_ARGUMENT' }, 'learners without voters');
  const lead = await untilLeader(c, 7);
  const r = await settled(c, c.driver(lead).propose(7, put('a', '1')));
  await untilApplied(c, 1, 7, r.index);
  t.same(c.driver(1).confState(7), { voters: [1, 2, 3], learners: [] }, 'confState is the founding membership');
  await c.stop(1);
  await c.start(1); // Its specs list only group 0.
  t.same(c.driver(1).groups().sort(), [0, 7], 'the restarted node hosts the runtime group');
  await untilApplied(c, 1, 7, r.index);
  t.equal(c.kv(1, 7).get('a'), '1', 'with its state');
});

t.test('an empty replica joins as a learner, catches up by snapshot and log, is promoted; a voter is removed', async (t) => {
  const G = 5;
  const c = new TestCluster({
    seed: 12,
    nodes: [1, 2, 3, 4],
    groups: [],
    specsFor: (id) => (id === 4 ? [] : [{ group: G, voters: [1, 2, 3] }]),
    snapshotEntries: 20,
    compactKeepEntries: 5,
  });
  await c.startAll();
  const lead = await untilLeader(c, G);
  const writes: Promise<unknown>[] = [];
  for (let k = 0; k < 60; k++) writes.push(c.driver(lead).propose(G, put(`k${k}`, String(k))));
  await settled(c, Promise.all(writes));
  t.ok((c.driver(lead).status(G)?.applied ?? 0) > 60, 'the leader applied the writes');
  t.ok(c.driver(lead).stats.snapshotsTaken > 0, 'and compacted its log: the learner needs a snapshot');

  await c.driver(4).addGroup({ group: G, voters: [] });
  t.same(c.driver(4).confState(G), { voters: [], learners: [] }, 'an empty replica knows no membership yet');
  const follower = [1, 2, 3].find((id) => id !== lead) as NodeId;
  const nl = c.driver(follower).proposeConfChange(G, { type: ConfChangeType.AddLearner, nodeId: 4 });
  await t.rejects(nl, { code: 'ERR_NOT_LEADER' }, 'a follower refuses a conf change');
  await nl.catch((e: { details: { leaderHint: number } }) => t.equal(e.details.leaderHint, lead, 'with the leader hint'));

  const add = c.driver(lead).proposeConfChange(G, { type: ConfChangeType.AddLearner, nodeId: 4 });
  const second = c.driver(lead).proposeConfChange(G, { type: ConfChangeType.AddNode, nodeId: 4 });
  await t.rejects(second, { code: 'ERR_PROPOSAL_DROPPED' }, 'one membership change at a time (thesis §4.1)');
  const added = await settled(c, add);
  t.same(added.confState, { voters: [1, 2, 3], learners: [4] }, 'the result carries the membership after the change');
  const leaderApplied = c.driver(lead).status(G)?.applied ?? 0;
  await untilApplied(c, 4, G, leaderApplied);
  t.ok(c.driver(4).stats.snapshotsInstalled >= 1, 'node 4 caught up through a snapshot');
  t.same(c.driver(4).confState(G), { voters: [1, 2, 3], learners: [4] }, 'node 4 learned the membership');
  for (let k = 0; k < 60; k++) t.equal(c.kv(4, G).get(`k${k}`), String(k), `node 4 has k${k}`);

  const promoted = await settled(c, c.driver(lead).proposeConfChange(G, { type: ConfChangeType.AddNode, nodeId: 4 }));
  t.same(promoted.confState, { voters: [1, 2, 3, 4], learners: [] }, 'node 4 is promoted to voter');
  const after = await settled(c, c.driver(lead).propose(G, put('after', 'promotion')));
  await untilApplied(c, 4, G, after.index);
  t.equal(c.kv(4, G).get('after'), 'promotion', 'node 4 applies new writes by log');

  const victim = [1, 2, 3].find((id) => id !== lead) as NodeId;
  const removed = await settled(c, c.driver(lead).proposeConfChange(G, { type: ConfChangeType.RemoveNode, nodeId: victim }));
  t.notOk(removed.confState.voters.includes(victim), `node ${victim} is no longer a voter`);
  t.equal(removed.confState.voters.length, 3, 'three voters remain');
  await untilApplied(c, 4, G, removed.index);
  t.same(c.driver(4).confState(G), removed.confState, 'every replica applies the same membership');
  const st = c.driver(lead).groupStats(G);
  t.ok(st !== null && st.confChanges === 3, `confChanges counted: ${st?.confChanges}`);
  t.ok(st !== null && st.proposals >= 63 && st.proposalsResolved >= 63, 'proposals and resolutions counted per group');
  t.equal(st?.proposalsDropped, 0, 'the refused second change never became a waiter');
});

t.test('removeGroup: waiters fail, messages refused, a restart does not recreate it, addGroup again starts fresh', async (t) => {
  const c = new TestCluster({ seed: 13, nodes: [1], groups: [0, 7] });
  await c.startAll();
  await c.untilLeaders();
  const d = c.driver(1);
  await settled(c, d.propose(7, put('old', 'x')));
  const last = d.status(7); // Everything acknowledged so far is at or below last.commit.
  const waiting = d.propose(7, put('never', 'x'));
  await d.removeGroup(7);
  await t.rejects(waiting, { code: 'ERR_UNAVAILABLE' }, 'a waiter of the removed group fails');
  t.notOk(d.groups().includes(7), 'not hosted any more');
  t.equal(d.confState(7), null);
  await t.rejects(d.removeGroup(7), { code: 'ERR_NOT_FOUND' }, 'removing twice');
  const before = d.stats.refusedUnknownGroup;
  const res = d.receive(2, [newMessage(7, 1, { type: MessageType.Heartbeat, to: 1, from: 2, term: 5 })]);
  t.same(res, { accepted: 0, refused: 1 }, 'a message for the removed group is refused');
  t.equal(d.stats.refusedUnknownGroup, before + 1, 'counted as unknown group');
  t.same(await c.node(1).fs.readdir('/node/snap/7').catch(() => []), [], 'its snapshot images are pruned');
  const tomb = (await GroupRegistry.load(c.node(1).fs, '/node')).get(7)?.tombstone;
  t.ok(last !== null && tomb !== undefined, 'the removal left a tombstone');
  t.equal(tomb?.term, last?.term, 'the tombstone keeps the replica\'s term');
  t.ok((tomb?.floor.index ?? 0) >= (last?.commit ?? 1) && (last?.commit ?? 0) > 0, `its vote floor (${tomb?.floor.index}) is at or past every entry it acknowledged (${last?.commit})`);
  t.equal(tomb?.floor.term, last?.term, 'at the term of its last entry');

  await c.stop(1);
  await c.start(1); // Its specs DO list group 7.
  t.same(c.driver(1).groups(), [0], 'the tombstone keeps the configured group from coming back');

  await c.driver(1).addGroup({ group: 7, voters: [1] });
  t.ok((c.driver(1).status(7)?.term ?? 0) >= (tomb?.term ?? 1), 'the new incarnation starts at its predecessor\'s term');
  await untilLeader(c, 7);
  t.equal(c.kv(1, 7).get('old'), undefined, 'the new incarnation starts fresh');
  await settled(c, c.driver(1).propose(7, put('new', 'y')));
  await c.stop(1);
  await c.start(1);
  t.same(c.driver(1).groups().sort(), [0, 7], 're-added group is hosted after a restart');
  t.same((await GroupRegistry.load(c.node(1).fs, '/node')).get(7)?.tombstone, tomb, 'its registry entry keeps the tombstone it started from, so the floor survives restarts');
  await untilLeader(c, 7);
  await untilApplied(c, 1, 7, c.driver(1).status(7)?.commit ?? 0);
  t.equal(c.kv(1, 7).get('new'), 'y', 'with the new state');
  t.equal(c.kv(1, 7).get('old'), undefined, 'and none of the old');
});

t.test('the WAL segments a removed group pinned are purged', async (t) => {
  const c = new TestCluster({
    seed: 14,
    nodes: [1],
    groups: [0, 7],
    snapshotEntries: 10,
    compactKeepEntries: 0,
    // No forced compaction (raft/driver/wal-pinning.test.ts covers it): group 7 is to pin the WAL until it is removed.
    walSegmentsSoftMax: Infinity,
    wal: { segmentBytesMax: 1024 },
  });
  await c.startAll();
  await c.untilLeaders();
  const d = c.driver(1);
  await settled(c, d.propose(7, put('pin', 'x'))); // Group 7 never compacts: its first entries pin the first segment.
  for (let k = 0; k < 200; k++) await settled(c, d.propose(0, put(`k${k}`, 'v'.repeat(40))));
  const pinned = await walSegments(c, 1);
  t.ok(pinned >= 5, `group 7 pins ${pinned} segments although group 0 compacted`);
  await d.removeGroup(7);
  const left = await walSegments(c, 1);
  t.ok(left <= 2, `after removeGroup ${left} segments are left`);
});

/** ClockedSyncDriver takes 3 ms of the test clock for each WAL sync. */
let clockedCluster: TestCluster | null = null;
class ClockedSyncDriver extends MultiRaftDriver {
  protected override async syncWal(): Promise<void> {
    await super.syncWal();
    if (clockedCluster !== null) clockedCluster.nowMs += 3;
  }
}

t.test('the WAL sync histogram counts every sync with its duration on the injected clock', async (t) => {
  const c = new TestCluster({ seed: 15, nodes: [1, 2, 3], groups: [0, 1], driverClass: ClockedSyncDriver });
  clockedCluster = c;
  await c.startAll();
  await c.untilLeaders();
  const lead = c.leaderOf(1) as NodeId;
  await settled(c, c.driver(lead).propose(1, put('a', 'b')));
  const d = c.driver(lead);
  const h = d.walSyncHistogram();
  t.ok(d.stats.walSyncs > 0, 'the driver synced');
  t.equal(h.count, d.stats.walSyncs, 'one observation per iteration sync');
  t.equal(h.counts.length, h.bucketsMs.length + 1, 'a +Inf bucket');
  t.equal(h.counts[h.bucketsMs.indexOf(5)], h.count, 'every 3 ms sync is in the 5 ms bucket');
  t.equal(h.sumMs, 3 * h.count);
  clockedCluster = null;
});

t.test('reportUnreachable reaches the groups the peer is a member of', async (t) => {
  const c = new TestCluster({ seed: 16, nodes: [1, 2, 3], groups: [0] });
  await c.startAll();
  await c.untilLeaders();
  const lead = c.leaderOf(0) as NodeId;
  const d = c.driver(lead);
  const peer = [1, 2, 3].find((id) => id !== lead) as NodeId;
  await settled(c, d.propose(0, put('a', 'b')));
  t.equal(d.status(0)?.progress?.[peer]?.state, ProgressState.Replicate, 'the leader streams appends to the peer');
  t.doesNotThrow(() => d.reportUnreachable(999), 'an unknown peer is ignored');
  d.reportUnreachable(peer);
  t.equal(d.status(0)?.progress?.[peer]?.state, ProgressState.Probe, 'after reportUnreachable the leader probes the peer');
  t.equal(d.status(0)?.role, StateRole.Leader);
});

t.test('crash: right after addGroup resolves the group is hosted; before its registry write is durable it leaves no trace', async (t) => {
  const spec = { group: 9, voters: [1] };
  // Count the mutating file operations of one addGroup.
  const probe = new TestCluster({ seed: 17, nodes: [1], groups: [0] });
  await probe.startAll();
  await probe.untilLeaders();
  const pfs = probe.node(1).fs as CrashFileSystem;
  const before = pfs.stats.mutatingOps;
  await probe.driver(1).addGroup(spec);
  const ops = pfs.stats.mutatingOps - before;
  t.ok(ops > 5, `addGroup makes ${ops} mutating file operations`);
  probe.crash(1);
  await probe.start(1);
  t.ok(probe.driver(1).groups().includes(9), 'a crash right after addGroup resolved: still hosted');

  let hostedFrom = -1;
  for (let n = 1; n <= ops + 1; n++) {
    const c = new TestCluster({ seed: 17, nodes: [1], groups: [0] });
    await c.startAll();
    await c.untilLeaders();
    const resolved = await addGroupCrashingAfter(c, spec, n);
    const hosted = c.driver(1).groups().includes(9);
    if (resolved) t.ok(hosted, `n=${n}: resolved, so hosted after the crash`);
    if (hosted && hostedFrom < 0) hostedFrom = n;
    if (!hosted && hostedFrom >= 0) t.fail(`n=${n}: not hosted although an earlier crash point kept it`);
    if (hosted) {
      t.same(c.driver(1).confState(9), { voters: [1], learners: [] }, `n=${n}: hosted with its founding membership`);
    } else {
      await c.driver(1).addGroup(spec); // No half-created state stands in the way.
    }
    await untilLeader(c, 9);
    const r = await settled(c, c.driver(1).propose(9, put('k', String(n))));
    t.ok(r.index > 1, `n=${n}: the group works after the crash (hosted=${hosted})`);
  }
  t.ok(hostedFrom > 1, `crashes before op ${hostedFrom} leave no group; from it on the group is hosted`);
});

t.test('a stale incarnation (its group dropped from the configured list) passes its tombstone to the next one, at every crash point', async (t) => {
  // The node first hosts group 7 as a configured group, then restarts with a list that omits it: the WAL keeps the
  // group's records, nothing removed it. addGroup of 7 must start from what that incarnation promised (its term,
  // vote and last entry), as after removeGroup (tombstone.ts) — also when it crashes part way.
  let configured: GroupId[] = [0, 7];
  const cluster = (): TestCluster => new TestCluster({ seed: 19, nodes: [1], groups: [0, 7], specsFor: () => configured.map((group) => ({ group, voters: [1] })) });
  const spec = { group: 7, voters: [1] };
  /** stale starts a node whose WAL holds group 7 (acknowledged puts, then a restart without it). */
  const stale = async (): Promise<{ c: TestCluster; term: number; commit: number }> => {
    configured = [0, 7];
    const c = cluster();
    await c.startAll();
    await c.untilLeaders();
    for (let k = 0; k < 3; k++) await settled(c, c.driver(1).propose(7, put(`k${k}`, 'v')));
    const st = c.driver(1).status(7);
    assert.ok(st !== null && st.commit > 1 && st.term > 1);
    await c.stop(1);
    configured = [0];
    await c.start(1);
    return { c, term: st.term, commit: st.commit };
  };
  const checkStarted = async (c: TestCluster, term: number, commit: number, tag: string): Promise<void> => {
    const tomb = (await GroupRegistry.load(c.node(1).fs, '/node')).get(7)?.tombstone;
    t.ok(tomb !== undefined && tomb.term >= term, `${tag}: the registry keeps the stale incarnation's term (${tomb?.term} >= ${term})`);
    t.ok((tomb?.floor.index ?? 0) >= commit, `${tag}: its vote floor (${tomb?.floor.index}) covers every acknowledged entry (${commit})`);
    t.ok((c.driver(1).status(7)?.term ?? 0) >= term, `${tag}: the new incarnation starts at that term`);
  };

  const probe = await stale();
  t.same(probe.c.driver(1).groups(), [0], 'the group left the configured list: not hosted');
  const pfs = probe.c.node(1).fs as CrashFileSystem;
  const before = pfs.stats.mutatingOps;
  await probe.c.driver(1).addGroup(spec);
  const ops = pfs.stats.mutatingOps - before;
  await checkStarted(probe.c, probe.term, probe.commit, 'no crash');
  await untilLeader(probe.c, 7);
  t.equal(probe.c.kv(1, 7).get('k0'), undefined, 'the new incarnation starts without the old state');

  for (let n = 1; n <= ops; n++) {
    const { c, term, commit } = await stale();
    const resolved = await addGroupCrashingAfter(c, spec, n);
    if (!c.driver(1).groups().includes(7)) {
      t.notOk(resolved, `n=${n}: a resolved addGroup is hosted after the crash`);
      await c.driver(1).addGroup(spec);
    }
    await checkStarted(c, term, commit, `n=${n}`);
  }
});

t.test('staleTombstone: the last entry, the snapshot when the log is compacted to it, a torn hard state, a damaged WAL view', async (t) => {
  const e = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array() });
  const rec = (o: Partial<RecoveredGroup>): RecoveredGroup => ({ group: 7, hardState: null, snapshot: null, compactedIndex: 0, entries: [], ...o });
  t.same(staleTombstone(rec({ hardState: { term: 4, vote: 2, commit: 6 }, entries: [e(5, 3), e(6, 4), e(7, 4)] })), { term: 4, vote: 2, floor: { index: 7, term: 4 } });
  const snap = { index: 9, term: 3, confState: { voters: [1], learners: [] } };
  t.same(staleTombstone(rec({ hardState: { term: 5, vote: 0, commit: 9 }, snapshot: snap, compactedIndex: 9 })), { term: 5, vote: 0, floor: { index: 9, term: 3 } }, 'compacted to its snapshot');
  t.same(staleTombstone(rec({ hardState: { term: 2, vote: 1, commit: 3 }, entries: [e(1, 1), e(2, 2), e(3, 3)] })), { term: 3, vote: 0, floor: { index: 3, term: 3 } }, 'entries of a later term than the surviving hard state: that term, no vote');
  t.throws(() => staleTombstone(rec({ hardState: { term: 2, vote: 1, commit: 3 }, snapshot: snap, compactedIndex: 12 })), { code: 'ERR_CORRUPTION' }, 'compacted past its snapshot with no entries');
});
