/**
 * wal-pacing.test.ts — a long write into several durable groups keeps the
 * WAL under its forced bound: the groups pinning the oldest segments flush
 * ahead of it, a few at a time (multi-raft.ts, "Pacing the WAL"); and a
 * crash (power cut) loses no acknowledged entry, because the log is
 * compacted only up to durable state.
 *
 * One node, four durable groups (durable-kv-test-util.ts) that flush only
 * when the driver's WAL policies ask (no head bound, no age), tiny
 * segments. Every group takes the same share of the writes, as a node's
 * shards do under ingest, so without the flush-ahead they all pin every
 * segment until the forced path flushes them together.
 */
import t from 'tap';
import type { Test } from 'tap';
import { DriverLimits } from '../../limits.js';
import { DurableKv } from './durable-kv-test-util.js';
import type { DurableKvDisk, DurableKvOptions } from './durable-kv-test-util.js';
import { flushAheadDefault } from './driver-types.js';
import { encodeKvCommand } from './state-machine.js';
import { TestCluster } from './test-cluster.js';

const SEED = Number(process.env['WAL_PACING_SEED'] ?? 23);
const GROUPS = [1, 2, 3, 4];
const SOFT_MAX = 6;
const WRITES = 800;

interface Outcome {
  /** segmentsMax is the WAL's high-water mark (DriverStats.walSegmentsMax). */
  readonly segmentsMax: number;
  readonly flushesAhead: number;
  readonly flushesForced: number;
  /** lost lists acknowledged puts missing after the crash and restart (or why the restart failed). */
  readonly lost: string[];
}

async function run(t: Test, flushAhead: number | undefined, kv: DurableKvOptions = {}): Promise<Outcome> {
  const disks = new Map<number, DurableKvDisk>(GROUPS.map((g) => [g, { index: 0, image: new Uint8Array(0) }]));
  const sms = new Map<number, DurableKv>();
  const c = new TestCluster({
    seed: SEED,
    nodes: [1],
    groups: GROUPS,
    snapshotEntries: 100_000,
    compactKeepEntries: 4,
    walSegmentsSoftMax: SOFT_MAX,
    ...(flushAhead === undefined ? {} : { walSegmentsFlushAhead: flushAhead }),
    wal: { segmentBytesMax: 4 * 1024 },
    makeStateMachine: (_id, group) => {
      const sm = new DurableKv(disks.get(group) as DurableKvDisk, kv);
      sms.set(group, sm);
      return sm;
    },
  });
  await c.startAll();
  await c.untilLeaders();
  const acked: { group: number; key: string; value: string }[] = [];
  for (let k = 0; k < WRITES; k++) {
    const group = GROUPS[k % GROUPS.length] as number;
    const key = `k${k}`;
    const value = `v${k}-${'x'.repeat(48)}`;
    const p = c.driver(1).propose(group, encodeKvCommand({ op: 'put', key, value }));
    await c.settle();
    await p;
    acked.push({ group, key, value });
    if (k % 16 === 0) await c.tick(1); // Time passes: policy passes run on ticks too.
  }
  const { flushesAhead, flushesForced, walSegmentsMax: segmentsMax } = c.driver(1).stats;
  // Power cut, restart from the files and the disks: every acknowledged put must be there.
  c.crash(1);
  const lost: string[] = [];
  try {
    await c.start(1);
    await c.untilLeaders();
    await c.tick(3);
    for (const a of acked) if (sms.get(a.group)?.get(a.key) !== a.value) lost.push(`group ${a.group} ${a.key}`);
  } catch (err) {
    lost.push(`restart failed: ${String(err)}`);
  }
  t.comment(
    `flushAhead ${flushAhead ?? `default (${flushAheadDefault(SOFT_MAX)})`}${kv.lieAboutDurable === true ? ', planted lying flush' : ''}: ` +
      `${segmentsMax} segments at most, ${flushesAhead} flushes ahead, ${flushesForced} forced; ${lost.length} of ${acked.length} acknowledged puts lost (WAL_PACING_SEED=${SEED})`,
  );
  return { segmentsMax, flushesAhead, flushesForced, lost: lost.slice(0, 5) };
}

t.test('flush-ahead keeps the WAL under its forced bound under a long write, and a crash loses nothing', async (t) => {
  t.ok(flushAheadDefault(SOFT_MAX) < SOFT_MAX, 'the default watermark is below the forced bound');
  const paced = await run(t, undefined);
  t.ok(paced.flushesAhead > 0, 'groups flushed ahead of the forced bound');
  t.ok(paced.segmentsMax <= SOFT_MAX, `the WAL stays at or under walSegmentsSoftMax (${SOFT_MAX}): ${paced.segmentsMax} segments at most`);
  t.equal(paced.flushesForced, 0, 'the forced path never had to start a flush');
  t.same(paced.lost, [], 'every acknowledged put is there after a power cut');

  // Planted: no flush-ahead (the s18 behaviour). The WAL reaches the forced bound and the forced path flushes.
  const unpaced = await run(t, Infinity);
  t.ok(unpaced.segmentsMax > SOFT_MAX, `planted: without flush-ahead the WAL passes its bound (${unpaced.segmentsMax} segments), and the bound above catches it`);
  t.ok(unpaced.flushesForced > 0, 'planted: the forced path flushed');
  t.same(unpaced.lost, [], 'the forced path loses nothing either');
});

t.test('a flush that claims durability early is caught by the crash check', async (t) => {
  // Planted: the state machine says an index is durable one flush before its disk holds it, so the
  // driver compacts the log past durable state; the power cut must then lose acknowledged puts.
  const lying = await run(t, undefined, { lieAboutDurable: true });
  t.ok(lying.flushesAhead > 0, 'flushes ran');
  t.ok(lying.lost.length > 0, `planted: compaction past the durable state is caught (${lying.lost.join('; ')})`);
});

t.test('the forced path starts at most walForcedFlushesInFlightMax flushes at once', async (t) => {
  t.ok(DriverLimits.walForcedFlushesInFlightMax < 8, 'the bound is below the 8 groups of this test');
  const groups = [1, 2, 3, 4, 5, 6, 7, 8];
  const disks = new Map<number, DurableKvDisk>(groups.map((g) => [g, { index: 0, image: new Uint8Array(0) }]));
  const c = new TestCluster({
    seed: SEED,
    nodes: [1],
    groups,
    snapshotEntries: 100_000,
    compactKeepEntries: 4,
    walSegmentsSoftMax: SOFT_MAX,
    walSegmentsFlushAhead: Infinity,
    wal: { segmentBytesMax: 4 * 1024 },
    // Slow flushes: many iterations run while they are in flight.
    makeStateMachine: (_id, group) => new DurableKv(disks.get(group) as DurableKvDisk, { flushTurns: 50 }),
  });
  await c.startAll();
  await c.untilLeaders();
  let inFlightMax = 0;
  for (let k = 0; k < 400; k++) {
    const group = groups[k % groups.length] as number;
    const p = c.driver(1).propose(group, encodeKvCommand({ op: 'put', key: `k${k}`, value: `v${k}-${'x'.repeat(48)}` }));
    await c.settle();
    await p;
    inFlightMax = Math.max(inFlightMax, c.driver(1).stats.flushesInFlight);
  }
  const st = c.driver(1).stats;
  t.comment(`forced flushes ${st.flushesForced}, deferred ${st.forcedFlushesDeferred}, at most ${inFlightMax} in flight (WAL_PACING_SEED=${SEED})`);
  t.ok(st.flushesForced > 0, 'the forced path flushed');
  t.ok(st.forcedFlushesDeferred > 0, 'some forced flushes waited for room');
  t.ok(inFlightMax <= DriverLimits.walForcedFlushesInFlightMax, `at most ${DriverLimits.walForcedFlushesInFlightMax} flushes in flight: ${inFlightMax}`);
  await c.driver(1).stop();
});
