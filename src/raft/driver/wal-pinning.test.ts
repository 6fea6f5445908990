/**
 * wal-pinning.test.ts — a quiet group does not keep the busy groups' log on
 * disk (wal.ts "Compaction", DriverLimits.walSegmentsSoftMaxDefault).
 *
 * Group 1 takes a few entries and then none; group 2 takes hundreds and
 * snapshots every `snapshotEntries`. Group 1 never reaches its own snapshot
 * threshold, so its first entries pin the oldest segment and, without the
 * forced compaction, every later segment with it.
 */
import t from 'tap';
import type { Test } from 'tap';
import { encodeKvCommand } from './state-machine.js';
import { TestCluster } from './test-cluster.js';

const NODES = [1, 2, 3];
const SEED = Number(process.env['WAL_PINNING_SEED'] ?? 17);

function put(key: string, value: string): Uint8Array {
  return encodeKvCommand({ op: 'put', key, value });
}

/** run writes 3 entries to group 1, then `busy` to group 2, and returns node 1's WAL segment count and driver stats; every node then restarts and must hold every key. */
async function run(
  t: Test,
  walSegmentsSoftMax: number,
  busy: number,
  walSegmentsFlushAhead?: number,
): Promise<{ segments: number; forced: number; ahead: number; keysOk: boolean }> {
  const c = new TestCluster({
    seed: SEED,
    nodes: NODES,
    groups: [1, 2],
    snapshotEntries: 40,
    compactKeepEntries: 10,
    walSegmentsSoftMax,
    ...(walSegmentsFlushAhead === undefined ? {} : { walSegmentsFlushAhead }),
    wal: { segmentBytesMax: 4 * 1024 },
  });
  await c.startAll();
  await c.untilLeaders();
  const propose = async (group: number, key: string, value: string): Promise<void> => {
    const p = c.driver(c.leaderOf(group) as number).propose(group, put(key, value));
    await c.settle();
    await p;
  };
  for (let k = 0; k < 3; k++) await propose(1, `quiet${k}`, `v${k}`);
  for (let k = 0; k < busy; k++) await propose(2, `busy${k}`, `value-${k}-${'x'.repeat(64)}`);
  await c.tick(2);
  const segments = c.driver(1).stats.walSegments;
  const forced = c.driver(1).stats.forcedCompactions;
  const ahead = c.driver(1).stats.compactionsAhead;
  // Forced compaction must not lose what it compacted: every node restarts from its files and holds every key.
  for (const id of NODES) {
    c.crash(id);
    await c.start(id);
  }
  await c.untilLeaders();
  await c.tick(5);
  let keysOk = true;
  for (const id of NODES) {
    for (let k = 0; k < 3; k++) keysOk &&= c.kv(id, 1).get(`quiet${k}`) === `v${k}`;
    keysOk &&= c.kv(id, 2).get(`busy${busy - 1}`) === `value-${busy - 1}-${'x'.repeat(64)}`;
  }
  t.comment(
    `walSegmentsSoftMax ${walSegmentsSoftMax}, flush-ahead ${walSegmentsFlushAhead ?? 'default'}: ${segments} segments, ${forced} forced compactions, ${ahead} ahead, keys ok ${keysOk} (WAL_PINNING_SEED=${SEED})`,
  );
  return { segments, forced, ahead, keysOk };
}

t.test('a quiet group is compacted when it pins the WAL past walSegmentsSoftMax; nothing is lost', async (t) => {
  // The forced path alone (no flush-ahead, as before s19).
  const bounded = await run(t, 4, 300, Infinity);
  t.ok(bounded.forced > 0, 'the quiet group was compacted by force');
  t.ok(bounded.segments <= 4 + 2, `the WAL stays near its soft bound: ${bounded.segments} segments`);
  t.ok(bounded.keysOk, 'every key of both groups survives a restart of every node');

  // Planted bug: no forced compaction (an unbounded soft bound). The quiet group pins every segment.
  const pinned = await run(t, Infinity, 300);
  t.equal(pinned.forced, 0);
  t.ok(pinned.segments > 3 * bounded.segments, `planted: without it the WAL grows to ${pinned.segments} segments, and the bound above catches it`);
});

t.test('with flush-ahead (the default) the quiet group is compacted before the forced bound; nothing is lost', async (t) => {
  const ahead = await run(t, 4, 300);
  t.ok(ahead.ahead > 0, 'the quiet group was compacted ahead of the forced bound');
  t.ok(ahead.segments <= 4, `the WAL stays at or under its soft bound: ${ahead.segments} segments`);
  t.ok(ahead.keysOk, 'every key of both groups survives a restart of every node');
});
