import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { isOtlpdbError } from '../../errors.js';
import { MetricStoreLimits } from '../../limits.js';
import { initHash } from '../../partition/hash.js';
import { KvWriteBatch, ShardDb } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import type { Exemplar, MetricData, MetricPointRow } from '../rows.js';
import type { Matcher } from './label-index.js';
import { MetricStore } from './metric-store.js';
import { MetricKeySpace } from './store-format.js';
import {
  Flusher,
  NaiveMetrics,
  type TempDb,
  addSummary,
  diff,
  gauge,
  openTempDb,
  readFloats,
  readRecordRollups,
  readRecords,
  readRollups,
  removeTempDb,
  row,
} from './store-test-util.js';

const hasher = await initHash();
const ALL: Matcher[] = [{ name: '__name__', op: '=~', value: '.+' }];
const T0 = 1_700_000_000_000;
const TENANT = 'acme';
const B = MetricStoreLimits.bucketMs;

async function withDbs<T>(n: number, fn: (dbs: TempDb[]) => Promise<T>): Promise<T> {
  const dbs: TempDb[] = [];
  try {
    for (let i = 0; i < n; i++) dbs.push(await openTempDb());
    return await fn(dbs);
  } finally {
    for (const d of dbs) await removeTempDb(d);
  }
}

function histogram(rand: SeededRand): MetricData {
  const bounds = rand.intn(4) === 0 ? [1, 5, 10] : [1, 2, 5, 10, 50];
  const bucketCounts = Array.from({ length: bounds.length + 1 }, () => rand.intn(20));
  const count = bucketCounts.reduce((a, b) => a + b, 0);
  return { type: 'histogram', temporality: 2, count, sum: count * 3.5, min: count === 0 ? null : 0.5, max: count === 0 ? null : 60, bounds, bucketCounts };
}

function exemplar(rand: SeededRand, tMs: number): Exemplar {
  return {
    timeUnixNano: BigInt(tMs) * 1_000_000n + 7n,
    value: { type: 'double', value: rand.intn(100) / 4 },
    traceId: rand.bytes(16),
    spanId: rand.bytes(8),
    filteredAttributes: [{ key: 'user', value: { type: 'string', value: `u${rand.intn(3)}` } }],
  };
}

/** Workload makes one entry of rows: mostly newer points, some at the series' last time, some older. */
class Workload {
  clock = T0;
  readonly #last = new Map<string, number>();
  constructor(readonly rand: SeededRand) {}

  entry(): MetricPointRow[] {
    const rand = this.rand;
    this.clock += 10_000 + rand.intn(90_000);
    const rows: MetricPointRow[] = [];
    const n = 1 + rand.intn(8);
    for (let i = 0; i < n; i++) {
      const kind = rand.intn(10);
      const name = kind < 6 ? `m${kind % 4}` : kind < 8 ? 's0' : 'h0';
      const host = `h${rand.intn(6)}`;
      const k = `${name}/${host}`;
      const last = this.#last.get(k);
      let tMs = this.clock - rand.intn(3) * 1000;
      const r = rand.intn(10);
      if (last !== undefined && r === 0) tMs = last; // a rewrite of the last point
      else if (last !== undefined && r === 1) tMs = last - 1 - rand.intn(50_000); // out of order
      this.#last.set(k, Math.max(tMs, last ?? -Infinity));
      const value = (rand.intn(4000) - 2000) / 4;
      const data: MetricData =
        name === 'h0'
          ? histogram(rand)
          : name === 's0'
            ? { type: 'sum', temporality: 2, monotonic: true, value: rand.intn(2) === 0 ? { type: 'double', value } : { type: 'int', value: BigInt(rand.intn(1000)) } }
            : gauge(value);
      const exemplars = rand.intn(5) === 0 ? [exemplar(rand, tMs)] : [];
      rows.push(row(TENANT, { name, host, tMs, data, exemplars }));
    }
    return rows;
  }
}

interface Replica {
  store: MetricStore;
  flusher: Flusher;
  tmp: TempDb;
}

function replica(tmp: TempDb, seriesMax: number, selectBucketsPerBatch?: number): Replica {
  const store = new MetricStore({ hasher, seriesMax, chunkSamples: 16, ...(selectBucketsPerBatch === undefined ? {} : { selectBucketsPerBatch }) });
  return { store, flusher: new Flusher(store, tmp.db), tmp };
}

/** restart closes and reopens a replica's db and loads a new store from it (its head must be empty). */
async function restart(r: Replica, seriesMax: number): Promise<void> {
  await r.tmp.db.close();
  r.tmp.db = await ShardDb.open(r.tmp.dir);
  const store = new MetricStore({ hasher, seriesMax, chunkSamples: 16, selectBucketsPerBatch: 1 });
  await store.load(r.tmp.db);
  const flushIndex = r.flusher.flushIndex;
  r.store = store;
  r.flusher = new Flusher(store, r.tmp.db);
  r.flusher.flushIndex = flushIndex;
}

/**
 * checkReads compares raw, rollup and record reads of every replica with the
 * model over a random range; it returns the first difference.
 */
async function checkReads(rand: SeededRand, model: NaiveMetrics, replicas: readonly Replica[], clock: number): Promise<string | null> {
  const minMs = T0 - 60_000 + rand.intn(Math.max(1, clock - T0));
  const maxMs = rand.intn(3) === 0 ? clock + 10_000 : minMs + rand.intn(4 * 3_600_000);
  for (const [i, r] of replicas.entries()) {
    const where = `replica ${i} [${minMs}, ${maxMs}]`;
    const d1 = diff(model.floats(minMs, maxMs), await readFloats(r.store, r.tmp.db, TENANT, ALL, minMs, maxMs), `${where} raw`);
    if (d1 !== null) return d1;
    const res = rand.intn(2) === 0 ? '5m' : '1h';
    const d2 = diff(model.rollups(minMs, maxMs, res === '5m' ? 300_000 : 3_600_000), await readRollups(r.store, r.tmp.db, TENANT, ALL, minMs, maxMs, res), `${where} ${res}`);
    if (d2 !== null) return d2;
    const recs = await readRecords(r.store, r.tmp.db, TENANT, ALL, minMs, maxMs);
    const got = new Map([...recs].map(([k, ps]) => [k, ps.map((p) => ({ t: p.t, data: p.data }))]));
    const d3 = diff(model.records(minMs, maxMs), got, `${where} records`);
    if (d3 !== null) return d3;
    const d4 = diff(
      model.recordRollups(minMs, maxMs, res === '5m' ? 300_000 : 3_600_000),
      await readRecordRollups(r.store, r.tmp.db, TENANT, ALL, minMs, maxMs, res),
      `${where} record rollups ${res}`,
    );
    if (d4 !== null) return d4;
  }
  return null;
}

/**
 * runDifferential applies one seeded workload to two replicas that flush at
 * different points (one also restarts) and to the model; it returns the first
 * difference in an AddResult or a read, or null.
 */
async function runDifferential(seed: number, entries: number, plant?: (r: Replica) => Promise<void>): Promise<string | null> {
  const seriesMax = 30;
  return withDbs(2, async ([ta, tb]) => {
    const rand = new SeededRand(seed);
    const work = new Workload(new SeededRand(seed + 1));
    const model = new NaiveMetrics(seriesMax);
    const a = replica(ta as TempDb, seriesMax);
    const b = replica(tb as TempDb, seriesMax, 1); // reads cut into one-bucket slices
    for (let e = 0; e < entries; e++) {
      const rows = work.entry();
      const want = model.add(rows);
      want.codes = want.codes.slice(0, 16);
      for (const [i, r] of [a, b].entries()) {
        const got = addSummary(r.store.add(TENANT, rows, 0));
        const d = diff(want, got, `entry ${e} replica ${i} add`);
        if (d !== null) return d;
      }
      if (rand.intn(8) === 0) await a.flusher.flush();
      if (rand.intn(20) === 0) {
        await b.flusher.flush();
        if (plant !== undefined) await plant(b);
        if (rand.intn(2) === 0) await restart(b, seriesMax);
      }
      if (rand.intn(10) === 0) {
        const d = await checkReads(rand, model, [a, b], work.clock);
        if (d !== null) return `entry ${e}: ${d}`;
        // Every replica holds the same series under the same ids.
        const ia = [...a.store.seriesIds(TENANT, ALL)];
        const ib = [...b.store.seriesIds(TENANT, ALL)];
        const d2 = diff(ia, ib, `entry ${e} series ids`);
        if (d2 !== null) return d2;
      }
    }
    await a.flusher.flush();
    return checkReads(rand, model, [a, b], work.clock);
  });
}

t.test('randomized add/flush/restart sequences: replicas that flush at different points answer every add and every read like the model', async (t) => {
  for (let seed = 1; seed <= 6; seed++) {
    const d = await runDifferential(seed * 7919, 300);
    t.equal(d, null, `seed ${seed * 7919}`);
    if (d !== null) t.comment(`failing seed ${seed * 7919}: ${d}`);
  }
});

t.test('the differential check catches a planted bug: a replica that loses its last timestamps at a flush', async (t) => {
  // The planted bug deletes the lastT pages after each flush and reloads, as a store would that kept
  // last timestamps only in its head: it then accepts out-of-order samples the other replica refuses.
  const plant = async (r: Replica): Promise<void> => {
    const batch = new KvWriteBatch();
    for await (const page of r.tmp.db.pages({ gte: Uint8Array.of(MetricKeySpace.LastT), lt: Uint8Array.of(MetricKeySpace.LastT + 1) })) {
      for (const e of page) batch.del(e.key);
    }
    await r.tmp.db.write(batch);
    await restart(r, 30);
  };
  const d = await runDifferential(7919, 300, plant);
  t.comment(`seed 7919 with the planted bug: ${d ?? 'no difference'}`);
  t.not(d, null, 'the checker reports a difference');
  t.match(d ?? '', /add/, 'in an AddResult');
});

t.test('the read checker catches a planted merge bug: the first write of a timestamp winning', async (t) => {
  const model = new NaiveMetrics(10);
  model.add([row(TENANT, { name: 'm', host: 'a', tMs: T0, data: gauge(1) }), row(TENANT, { name: 'm', host: 'a', tMs: T0, data: gauge(2) })]);
  const good = model.floats(0, Infinity);
  const planted = new Map([...good].map(([k]) => [k, [[T0, 1]] as [number, number][]]));
  t.not(diff(good, planted), null);
});

t.test('last write wins at one timestamp, in the head and across a flush; older samples are refused with a stable code', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 100);
    const at = (tMs: number, v: number): MetricPointRow => row(TENANT, { name: 'up', host: 'a', tMs, data: gauge(v) });
    t.same(addSummary(r.store.add(TENANT, [at(T0, 1), at(T0, 2)], 0)), { accepted: 2, refused: 0, codes: [] });
    await r.flusher.flush();
    const res = r.store.add(TENANT, [at(T0, 3), at(T0 - 1, 9), at(T0 + 1000, 4)], 0);
    t.same(addSummary(res), { accepted: 2, refused: 1, codes: ['ERR_INVALID_ARGUMENT'] });
    t.equal(res.refusals[0]?.row, 1);
    t.match(res.refusals[0]?.reason ?? '', /out of order sample/);
    const got = await readFloats(r.store, r.tmp.db, TENANT, ALL, 0, Infinity);
    t.same([...got.values()], [
      [
        [T0, 3],
        [T0 + 1000, 4],
      ],
    ]);
    await r.flusher.flush();
    t.same(await readFloats(r.store, r.tmp.db, TENANT, ALL, 0, Infinity), got, 'same after a flush');
    t.equal(r.store.stats().secondary, 1);
  });
});

t.test('the series limit counts every series ever created, whatever the flushes', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 2);
    const p = (host: string): MetricPointRow => row(TENANT, { name: 'up', host, tMs: T0, data: gauge(1) });
    t.equal(r.store.add(TENANT, [p('a'), p('b')], 0).accepted, 2);
    await r.flusher.flush();
    const res = r.store.add(TENANT, [p('c'), p('a')], 0);
    t.same(addSummary(res), { accepted: 1, refused: 1, codes: ['ERR_LIMIT_EXCEEDED'] });
  });
});

t.test('histograms, exponential histograms, summaries and exemplars round trip through a flush and a restart', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 100);
    const rand = new SeededRand(42);
    const rows: MetricPointRow[] = [];
    const ex = exemplar(rand, T0);
    for (let i = 0; i < 50; i++) {
      const tMs = T0 + i * 60_000;
      rows.push(row(TENANT, { name: 'lat', host: 'a', tMs, data: histogram(rand), exemplars: i === 3 ? [ex] : [] }));
      rows.push(
        row(TENANT, {
          name: 'lat_exp',
          host: 'a',
          tMs,
          data: {
            type: 'exponentialHistogram',
            temporality: 1,
            count: 10 + i,
            sum: 1.5 * i,
            min: null,
            max: 9,
            scale: 3,
            zeroCount: i % 3,
            zeroThreshold: 0.001,
            positive: { offset: -2 + (i % 2), bucketCounts: [1, 2, i] },
            negative: { offset: 0, bucketCounts: i % 2 === 0 ? [] : [4] },
          },
        }),
      );
      rows.push(
        row(TENANT, {
          name: 'rpc',
          host: 'a',
          tMs,
          data: { type: 'summary', count: i, sum: i * 2.25, quantiles: [0.5, 0.99].map((q) => ({ quantile: q, value: i * q })) },
        }),
      );
    }
    t.equal(r.store.add(TENANT, rows, 0).refused, 0);
    const model = new NaiveMetrics(100);
    model.add(rows);
    const before = await readRecords(r.store, r.tmp.db, TENANT, ALL, 0, Infinity);
    const asModel = (m: typeof before): Map<string, { t: number; data: MetricData }[]> => new Map([...m].map(([k, ps]) => [k, ps.map((p) => ({ t: p.t, data: p.data }))]));
    t.equal(diff(model.records(0, Infinity), asModel(before)), null, 'from the head');
    await r.flusher.flush();
    t.equal(diff(model.records(0, Infinity), asModel(await readRecords(r.store, r.tmp.db, TENANT, ALL, 0, Infinity))), null, 'after a flush');
    await restart(r, 100);
    const after = await readRecords(r.store, r.tmp.db, TENANT, ALL, 0, Infinity);
    t.equal(diff(model.records(0, Infinity), asModel(after)), null, 'after a restart');
    // The exemplar comes back with its trace and span ids.
    const exs: { traceId: string; spanId: string; pointT: number }[] = [];
    for await (const batch of r.store.selectExemplars(r.tmp.db, TENANT, [{ name: '__name__', op: '=', value: 'lat' }], 0, Infinity, newScanStats())) {
      for (const s of batch) for (const e of s.exemplars) exs.push({ traceId: Buffer.from(e.exemplar.traceId).toString('hex'), spanId: Buffer.from(e.exemplar.spanId).toString('hex'), pointT: e.pointT });
    }
    t.same(exs, [{ traceId: Buffer.from(ex.traceId).toString('hex'), spanId: Buffer.from(ex.spanId).toString('hex'), pointT: T0 + 3 * 60_000 }]);
  });
});

t.test('restart keeps series ids, stats, reads and the out-of-order rule', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 100);
    const rows: MetricPointRow[] = [];
    for (let i = 0; i < 100; i++) rows.push(row(TENANT, { name: `m${i % 5}`, host: `h${i % 7}`, tMs: T0 + i * 15_000, data: gauge(i) }));
    r.store.add(TENANT, rows, 0);
    r.store.add('other', [row('other', { name: 'up', host: 'x', tMs: T0, data: gauge(1) })], 0);
    await r.flusher.flush();
    const ids = [...r.store.seriesIds(TENANT, ALL)];
    const stats = r.store.stats();
    const tenantStats = r.store.tenantStats(TENANT);
    const reads = await readFloats(r.store, r.tmp.db, TENANT, ALL, 0, Infinity);
    const names = r.store.labelNames(TENANT);
    await restart(r, 100);
    t.same([...r.store.seriesIds(TENANT, ALL)], ids);
    t.same(r.store.stats(), stats);
    t.same(r.store.tenantStats(TENANT), tenantStats);
    t.equal(stats.rows, 101);
    t.equal(stats.secondary, 35 + 1);
    t.equal(diff(reads, await readFloats(r.store, r.tmp.db, TENANT, ALL, 0, Infinity)), null);
    t.same(r.store.labelNames(TENANT), names);
    t.same(r.store.labelValues(TENANT, 'resource_U__host_2e_name', [{ name: '__name__', op: '=', value: 'm0' }]), ['h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
    const older = row(TENANT, { name: 'm0', host: 'h0', tMs: T0, data: gauge(1) });
    t.same(addSummary(r.store.add(TENANT, [older], 0)), { accepted: 0, refused: 1, codes: ['ERR_INVALID_ARGUMENT'] }, 'the last timestamp survived');
    // A new series after the restart takes the next id.
    r.store.add(TENANT, [row(TENANT, { name: 'new', host: 'z', tMs: T0, data: gauge(1) })], 0);
    t.same([...r.store.seriesIds(TENANT, [{ name: '__name__', op: '=', value: 'new' }])], [36]);
  });
});

t.test('expire deletes exactly the buckets wholly before the cutoff, with their stats', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 100);
    const start = Math.ceil(T0 / B) * B;
    const rand = new SeededRand(5);
    const rows: MetricPointRow[] = [];
    for (let i = 0; i < 5 * 120; i++) {
      const tMs = start + i * 60_000; // 5 buckets of 2h
      rows.push(row(TENANT, { name: 'lat', host: 'a', tMs, data: histogram(rand), exemplars: i % 50 === 0 ? [exemplar(rand, tMs)] : [] }));
      rows.push(row(TENANT, { name: 'up', host: 'a', tMs, data: gauge(i) }));
    }
    r.store.add(TENANT, rows, 0);
    await r.flusher.flush();
    const before = r.store.stats();
    const cutoffMs = start + 2 * B + 30 * 60_000; // inside the third bucket: two buckets go
    const batch = new KvWriteBatch();
    const report = await r.store.expire({ batch, kv: r.tmp.db, flushIndex: 1000 }, { defaultBeforeNs: BigInt(cutoffMs) * 1_000_000n, byTenant: new Map() });
    await r.tmp.db.write(batch);
    t.equal(report.buckets, 2);
    const floats = await readFloats(r.store, r.tmp.db, TENANT, ALL, 0, Infinity);
    const ts = [...floats.values()][0]?.map((p) => p[0]) ?? [];
    t.equal(ts[0], start + 2 * B, 'the first kept sample starts the third bucket');
    t.equal(ts.length, 3 * 120);
    const recs = await readRecords(r.store, r.tmp.db, TENANT, ALL, 0, Infinity);
    t.equal([...recs.values()][0]?.[0]?.t, start + 2 * B);
    // No key of the metrics spaces is left in an expired bucket.
    let left = 0;
    for await (const page of r.tmp.db.pages({ gte: Uint8Array.of(MetricKeySpace.Chunks), lt: Uint8Array.of(MetricKeySpace.TenantStats) })) {
      for (const e of page) {
        const off = e.key[0] === MetricKeySpace.Rollups || e.key[0] === MetricKeySpace.RecordRollups ? 1 + TENANT.length + 1 + 1 : 1 + TENANT.length + 1;
        const bucket = Number(new DataView(e.key.buffer, e.key.byteOffset).getBigUint64(off));
        if (bucket < start / B + 2) left++;
      }
    }
    t.equal(left, 0);
    const after = r.store.stats();
    t.equal(after.rows, before.rows - 2 * 2 * 120);
    t.ok(after.dataBytes < before.dataBytes);
    t.equal(after.secondary, before.secondary, 'series stay');
    await restart(r, 100);
    t.same(r.store.stats(), after, 'stats after expire are durable');
  });
});

t.test('a flipped byte in any stored value is ERR_CORRUPTION, never data', async (t) => {
  const spaces = [MetricKeySpace.Chunks, MetricKeySpace.Records, MetricKeySpace.Rollups, MetricKeySpace.RecordRollups, MetricKeySpace.Series, MetricKeySpace.LastT, MetricKeySpace.Exemplars];
  for (const space of spaces) {
    await withDbs(1, async ([tmp]) => {
      const r = replica(tmp as TempDb, 100);
      const rand = new SeededRand(space);
      const rows: MetricPointRow[] = [];
      for (let i = 0; i < 40; i++) {
        rows.push(row(TENANT, { name: 'up', host: 'a', tMs: T0 + i * 1000, data: gauge(i), exemplars: [exemplar(rand, T0 + i * 1000)] }));
        rows.push(row(TENANT, { name: 'lat', host: 'a', tMs: T0 + i * 1000, data: histogram(rand) }));
      }
      r.store.add(TENANT, rows, 0);
      await r.flusher.flush();
      let target: { key: Uint8Array; value: Uint8Array } | undefined;
      for await (const page of r.tmp.db.pages({ gte: Uint8Array.of(space), lt: Uint8Array.of(space + 1) })) target ??= page[0];
      if (target === undefined) {
        t.fail(`no key in space ${space}`);
        return;
      }
      const damaged = target.value.slice();
      const at = 12 + rand.intn(damaged.length - 12);
      damaged[at] = (damaged[at] as number) ^ 0x10;
      const batch = new KvWriteBatch();
      batch.put(target.key, damaged);
      await r.tmp.db.write(batch);
      const read = async (): Promise<void> => {
        if (space === MetricKeySpace.Series || space === MetricKeySpace.LastT) {
          await new MetricStore({ hasher }).load(r.tmp.db);
          return;
        }
        await readFloats(r.store, r.tmp.db, TENANT, ALL, 0, Infinity);
        await readRollups(r.store, r.tmp.db, TENANT, ALL, 0, Infinity, '5m');
        await readRecords(r.store, r.tmp.db, TENANT, ALL, 0, Infinity);
        await readRecordRollups(r.store, r.tmp.db, TENANT, ALL, 0, Infinity, '1h');
        await readRecordRollups(r.store, r.tmp.db, TENANT, ALL, 0, Infinity, '5m');
        for await (const batch of r.store.selectExemplars(r.tmp.db, TENANT, ALL, 0, Infinity, newScanStats())) void batch;
      };
      const err = await read().then(
        () => null,
        (e: unknown) => e,
      );
      t.ok(isOtlpdbError(err, 'ERR_CORRUPTION'), `space 0x${space.toString(16)} byte ${at}: ${String(err)}`);
    });
  }
});

t.test('rollup reads pick up head, frozen head and flushed partials; resolution picks the window', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 100);
    const model = new NaiveMetrics(100);
    const add = (rows: MetricPointRow[]): void => {
      model.add(rows);
      r.store.add(TENANT, rows, 0);
    };
    const start = Math.ceil(T0 / 3_600_000) * 3_600_000;
    const at = (tMs: number, v: number): MetricPointRow => row(TENANT, { name: 'up', host: 'a', tMs, data: gauge(v) });
    add([at(start, 5), at(start + 60_000, 7)]);
    await r.flusher.flush();
    add([at(start + 60_000, -3), at(start + 120_000, 10)]); // replaces the flushed last point of the window
    r.store.freeze(); // a frozen head, not yet written
    add([at(start + 180_000, 1)]);
    const got = await readRollups(r.store, r.tmp.db, TENANT, ALL, start, start + 3_600_000, '5m');
    t.equal(diff(model.rollups(start, start + 3_600_000, 300_000), got), null);
    t.same([...got.values()][0]?.[0], { startMs: start, min: -3, max: 10, sum: 13, count: 4, last: 1, lastT: start + 180_000 });
    // A step picks the resolution: 10 minutes → 5m rollups, 30 s → raw samples.
    for await (const batch of r.store.select(r.tmp.db, TENANT, ALL, start, start + 3_600_000, { stepMs: 600_000 }, newScanStats())) {
      t.equal(batch[0]?.kind, 'rollups');
      if (batch[0]?.kind === 'rollups') t.equal(batch[0].resolution, '5m');
    }
    for await (const batch of r.store.select(r.tmp.db, TENANT, ALL, start, start + 3_600_000, { stepMs: 30_000 }, newScanStats())) t.equal(batch[0]?.kind, 'samples');
    r.store.dropFrozen();
  });
});

t.test('tenants: a read never returns another tenant\'s series', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 100);
    r.store.add('a', [row('a', { name: 'up', host: 'x', tMs: T0, data: gauge(1) })], 0);
    r.store.add('b', [row('b', { name: 'up', host: 'x', tMs: T0, data: gauge(2) })], 0);
    await r.flusher.flush();
    const ra = await readFloats(r.store, r.tmp.db, 'a', ALL, 0, Infinity);
    t.same([...ra.values()], [[[T0, 1]]]);
    const rb = await readFloats(r.store, r.tmp.db, 'b', ALL, 0, Infinity);
    t.same([...rb.values()], [[[T0, 2]]]);
    t.same(r.store.labelValues('a', '__name__'), ['up']);
    t.equal(r.store.tenantStats('b').rows, 1);
  });
});

t.test('a frozen head whose batch is durable but not yet dropped is read once, not twice', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 100);
    const start = Math.ceil(T0 / 3_600_000) * 3_600_000;
    const rows = [0, 1, 2].map((i) => row(TENANT, { name: 'up', host: 'a', tMs: start + i * 1000, data: gauge(i + 1) }));
    rows.push(row(TENANT, { name: 'lat', host: 'a', tMs: start, data: { type: 'summary', count: 2, sum: 3, quantiles: [] } }));
    r.store.add(TENANT, rows, 0);
    r.store.freeze();
    const batch = new KvWriteBatch();
    await r.store.writeFrozen({ batch, kv: r.tmp.db, flushIndex: 9 });
    await r.tmp.db.write(batch);
    // Durable and still frozen: every read sees each point once.
    const roll = await readRollups(r.store, r.tmp.db, TENANT, ALL, start, start + 1000, '5m');
    t.same([...roll.values()][0]?.[0], { startMs: start, min: 1, max: 3, sum: 6, count: 3, last: 3, lastT: start + 2000 });
    const recRoll = await readRecordRollups(r.store, r.tmp.db, TENANT, ALL, start, start + 1000, '1h');
    t.equal([...recRoll.values()][0]?.[0]?.points, 1);
    t.equal([...recRoll.values()][0]?.[0]?.count, 2);
    r.store.dropFrozen();
    t.same(await readRollups(r.store, r.tmp.db, TENANT, ALL, start, start + 1000, '5m'), roll, 'the same once dropped');
    const stats = newScanStats();
    for await (const batch of r.store.select(r.tmp.db, TENANT, ALL, start, start + 5000, {}, stats)) void batch;
    t.equal(stats.blocksScanned, 1, 'one chunk run read');
    t.ok(stats.bytesRead > 0);
    t.equal(stats.headRowsScanned, 0);
  });
});

t.test('expire leaves a bucket the frozen head writes into for a later pass', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 100);
    const start = Math.ceil(T0 / B) * B;
    r.store.add(TENANT, [row(TENANT, { name: 'up', host: 'a', tMs: start, data: gauge(1) })], 0);
    await r.flusher.flush();
    r.store.add(TENANT, [row(TENANT, { name: 'up', host: 'a', tMs: start + 1000, data: gauge(2) })], 0);
    r.store.freeze();
    const batch = new KvWriteBatch();
    await r.store.writeFrozen({ batch, kv: r.tmp.db, flushIndex: 50 });
    const cutoffs = { defaultBeforeNs: BigInt(start + 2 * B) * 1_000_000n, byTenant: new Map<string, bigint | null>() };
    const first = await r.store.expire({ batch, kv: r.tmp.db, flushIndex: 50 }, cutoffs);
    await r.tmp.db.write(batch);
    r.store.dropFrozen();
    t.equal(first.buckets, 0, 'not while the frozen head writes into it');
    const again = new KvWriteBatch();
    const second = await r.store.expire({ batch: again, kv: r.tmp.db, flushIndex: 51 }, cutoffs);
    await r.tmp.db.write(again);
    t.equal(second.buckets, 1);
    t.same(await readFloats(r.store, r.tmp.db, TENANT, ALL, 0, Infinity), new Map());
    t.equal(r.store.stats().rows, 0);
    let left = 0;
    for await (const page of r.tmp.db.pages({ gte: Uint8Array.of(MetricKeySpace.Chunks), lt: Uint8Array.of(MetricKeySpace.TenantStats) })) left += page.length;
    t.equal(left, 0, 'every data key of the bucket is gone');
  });
});

t.test('reads come in batches bounded in time: one slice of buckets per batch, never empty', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 100, 1);
    const start = Math.ceil(T0 / B) * B;
    const at = (tMs: number): MetricPointRow => row(TENANT, { name: 'up', host: 'a', tMs, data: gauge(tMs - start) });
    r.store.add(TENANT, [at(start), at(start + B)], 0);
    await r.flusher.flush();
    r.store.add(TENANT, [at(start + 2 * B + 5)], 0); // in the head
    const slices: number[][] = [];
    const stats = newScanStats();
    for await (const batch of r.store.select(r.tmp.db, TENANT, ALL, start - 10 * B, start + 10 * B, {}, stats)) {
      t.equal(batch.length, 1);
      const s = batch[0];
      if (s?.kind === 'samples') slices.push([...s.timestamps]);
    }
    t.same(slices, [[start], [start + B], [start + 2 * B + 5]]);
    t.equal(stats.blocksScanned, 2);
    t.equal(stats.headRowsScanned, 3, 'the head is checked once per slice');
  });
});

t.test('refusals are per row: a malformed identity refuses its row only, and at most refusalsReportedMax are listed', async (t) => {
  await withDbs(1, async ([tmp]) => {
    const r = replica(tmp as TempDb, 100);
    const many = row(TENANT, { name: 'up', host: 'a', tMs: T0, data: gauge(1) });
    const tooMany: MetricPointRow = {
      ...many,
      attributes: Array.from({ length: 80 }, (_, i) => ({ key: `k${i}`, value: { type: 'string' as const, value: 'v' } })),
    };
    const res = r.store.add(TENANT, [many, tooMany, many], 0);
    t.same(addSummary(res), { accepted: 2, refused: 1, codes: ['ERR_LIMIT_EXCEEDED'] });
    t.equal(res.refusals[0]?.row, 1);
    const old = Array.from({ length: 40 }, () => row(TENANT, { name: 'up', host: 'a', tMs: T0 - 1, data: gauge(1) }));
    const res2 = r.store.add(TENANT, old, 0);
    t.equal(res2.refused, 40);
    t.equal(res2.refusals.length, 16);
    t.same(
      res2.refusals.map((x) => x.row),
      Array.from({ length: 16 }, (_, i) => i),
    );
  });
});
