// The compaction policy's skip (multi-raft.ts policyDue): an iteration that applied nothing looks only at groups whose flush completed.
import t from 'tap';
import { EntryType } from '../types.js';
import type { Ready } from '../types.js';
import { policyDue } from './multi-raft.js';
import { encodeKvCommand } from './state-machine.js';
import { TestCluster } from './test-cluster.js';

function ready(over: Partial<Ready>): { rd: Ready } {
  return { rd: { softState: null, hardState: null, snapshot: null, entries: [], mustSync: false, messages: [], committedEntries: [], readStates: [], ...over } };
}

const put = (k: string, v: string): Uint8Array => encodeKvCommand({ op: 'put', key: k, value: v });

t.test('policyDue: every group after applied entries, a snapshot, a tick of time, or a clock that went back', (t) => {
  const entry = { index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array(0) };
  t.equal(policyDue([ready({})], 1_000, 950, 100), false, 'nothing applied, within a tick: only flushed groups');
  t.equal(policyDue([], 1_000, 950, 100), false, 'no work at all');
  t.equal(policyDue([ready({ committedEntries: [entry] })], 1_000, 950, 100), true, 'applied entries move heads and applied indexes');
  t.equal(policyDue([ready({}), ready({ snapshot: { metadata: { index: 5, term: 1, confState: { voters: [1], learners: [] } }, data: new Uint8Array(0) } })], 1_000, 950, 100), true, 'a snapshot');
  t.equal(policyDue([ready({})], 1_050, 950, 100), true, 'a tick passed: heads age');
  t.equal(policyDue([ready({})], 900, 950, 100), true, 'the clock went back');
  t.equal(policyDue([ready({})], 0, Number.NEGATIVE_INFINITY, 100), true, 'the first pass');
  t.end();
});

t.test('read barriers skip the full policy pass; applied entries still snapshot on a frozen clock', async (t) => {
  const c = new TestCluster({ seed: 7, nodes: [1, 2, 3], groups: [1, 2], snapshotEntries: 10, compactKeepEntries: 2 });
  await c.startAll();
  await c.untilLeaders();
  const lead = c.leaderOf(1) as number;
  const d = c.driver(lead);
  const snaps0 = d.stats.snapshotsTaken;
  // No tick from here on: the clock is frozen, so only the applied entries can make the policy look.
  const ps: Promise<unknown>[] = [];
  for (let k = 0; k < 25; k++) ps.push(d.propose(1, put(`k${k}`, `v${k}`)));
  await c.settle();
  await Promise.all(ps);
  t.ok(d.stats.snapshotsTaken > snaps0, `the leader snapshotted group 1 on its apply iterations (${d.stats.snapshotsTaken - snaps0} snapshots)`);
  t.ok((d.status(1)?.firstIndex ?? 0) > 10, 'and compacted its log');
  const skipped0 = d.stats.policyPassesSkipped;
  const snaps1 = d.stats.snapshotsTaken;
  const reads: Promise<void>[] = [];
  for (let k = 0; k < 5; k++) reads.push(d.read(1));
  await c.settle();
  await Promise.all(reads);
  t.ok(d.stats.policyPassesSkipped > skipped0, 'the read rounds (heartbeats, answers, read states) skipped the full pass');
  t.equal(d.stats.snapshotsTaken, snaps1, 'and had nothing to snapshot');
  t.equal(c.kv(lead, 1).get('k24'), 'v24', 'the reads see the writes');
});
