import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from './fs/seeded-rand.js';
import { OtlpdbNode } from './node.js';
import { httpRequest, inProcessCluster, pollUntil } from './node-test-util.js';
import { StateRole } from './raft/types.js';
import { randomRows } from './storage/rows-test-util.js';
import { encodeShardEntry } from './storage/shard-entry.js';
import { decodeApplyResult } from './storage/shard/shard-records.js';

// A real node (this process, real fsync and LevelDB, tiny WAL segments):
// shard 1 takes hundreds of entries and is flushed every 50; shard 2 takes
// three and the meta group almost none, so both would pin the WAL's oldest
// segment for ever (wal.ts, "Compaction"). Past walSegmentsSoftMax the
// driver compacts them by force: durable shards through their flush and
// snapshot, the meta group by an image. The WAL stays near its bound, and
// every acknowledged row is there after a restart. No assertion on speed.

const SEED = Number(process.env['WAL_PINNING_SEED'] ?? 606);
const POLLS_MAX = 1500;
const POLL_MS = 20;
const BUSY_ENTRIES = 300;
const FLUSH_EVERY = 50;
const SEGMENT_BYTES = 32 * 1024;

async function run(
  t: Test,
  walSegmentsSoftMax: number,
  walSegmentsFlushAhead?: number,
): Promise<{ segments: number; forced: number; ahead: number; acked: number; storedAfterRestart: number }> {
  const c = await inProcessCluster(t, {
    n: 1,
    founders: 1,
    prefix: 'otlpdb-walpin-',
    seedBase: SEED,
    extra: {
      shards: 2,
      replicas: 1,
      tickMs: 20,
      compactKeepEntries: 4,
      walSegmentsSoftMax,
      ...(walSegmentsFlushAhead === undefined ? {} : { walSegmentsFlushAhead }),
      walSegmentBytesMax: SEGMENT_BYTES,
    },
  });
  const start = async (): Promise<OtlpdbNode> => {
    const node = await OtlpdbNode.start({ ...c.options(1), initialCluster: c.founders });
    c.nodes.set(1, node);
    t.ok(await pollUntil(async () => (await httpRequest(c.api(1), '/readyz')).status === 200, POLLS_MAX, POLL_MS), 'the node is ready');
    return node;
  };
  let node = await start();
  const rand = new SeededRand(SEED);
  let seq = 0;
  let acked = 0;
  const write = async (group: number): Promise<void> => {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const r = randomRows(rand, { spans: 0, points: 0, logs: 4 });
    const logs = r.logs.map((x, i) => ({ ...x, timeUnixNano: nowNs + BigInt(i), observedTimeUnixNano: nowNs + BigInt(i) }));
    const key = (++seq).toString(16).padStart(16, '0');
    const data = encodeShardEntry({ version: 1, tenant: 'default', idempotencyKey: key, part: 0, parts: 1, leaderTimeMs: Date.now(), spans: [], points: [], logs });
    if (!(await pollUntil(async () => node.driver.status(group)?.role === StateRole.Leader, POLLS_MAX, POLL_MS))) throw new Error(`node 1 never led shard ${group}`);
    acked += decodeApplyResult((await node.driver.propose(group, data)).result).logs.accepted;
  };
  for (let k = 0; k < 3; k++) await write(2);
  for (let k = 1; k <= BUSY_ENTRIES; k++) {
    await write(1);
    if (k % FLUSH_EVERY === 0) await node.flushCluster();
  }
  // One more flush and a few idle iterations, so the last compactions and purges run.
  await node.flushCluster();
  await new Promise((r) => setTimeout(r, 500));
  const segments = node.driver.stats.walSegments;
  const forced = node.driver.stats.forcedCompactions;
  const ahead = node.driver.stats.compactionsAhead + node.driver.stats.flushesAhead;
  await node.stop();
  c.nodes.delete(1);
  node = await start();
  const storedAfterRestart = (await node.clusterStats()).logs.records;
  t.comment(
    `walSegmentsSoftMax ${walSegmentsSoftMax}, flush-ahead ${walSegmentsFlushAhead ?? 'default'}: ${segments} segments of ${SEGMENT_BYTES} bytes, ${forced} forced compactions, ${ahead} flushes and compactions ahead; ${acked} records acknowledged, ${storedAfterRestart} after a restart (WAL_PINNING_SEED=${SEED})`,
  );
  await node.stop();
  c.nodes.delete(1);
  return { segments, forced, ahead, acked, storedAfterRestart };
}

t.test('quiet groups do not pin the WAL of a real node: it stays near walSegmentsSoftMax, and nothing is lost', async (t) => {
  // The forced path alone (flush-ahead off, as before s19).
  const bounded = await run(t, 4, Infinity);
  t.ok(bounded.forced > 0, 'the quiet groups were compacted by force');
  t.ok(bounded.segments <= 4 + 2, `the WAL stays near its soft bound: ${bounded.segments} segments`);
  t.equal(bounded.storedAfterRestart, bounded.acked, 'every acknowledged record is there after a restart');

  // Planted bug: no forced compaction. Shard 2 and the meta group pin every segment.
  const pinned = await run(t, Infinity);
  t.equal(pinned.forced, 0);
  t.ok(pinned.segments > 2 * bounded.segments, `planted: without it the WAL keeps ${pinned.segments} segments, and the bound above catches it`);
  t.equal(pinned.storedAfterRestart, pinned.acked);
});

t.test('with flush-ahead (the default) the quiet groups are flushed or compacted before the forced bound; nothing is lost', async (t) => {
  const ahead = await run(t, 4);
  t.ok(ahead.ahead > 0, 'the quiet groups were handled ahead of the forced bound');
  t.ok(ahead.segments <= 4, `the WAL stays at or under its soft bound: ${ahead.segments} segments`);
  t.equal(ahead.storedAfterRestart, ahead.acked, 'every acknowledged record is there after a restart');
});
