import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { isOtlpdbError } from '../../errors.js';
import { MetricStoreLimits } from '../../limits.js';
import { initHash } from '../../partition/hash.js';
import { BLOCK_HEADER_BYTES } from '../block.js';
import { ByteReader } from '../codec/index.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import type { MetricPointRow } from '../rows.js';
import type { Matcher } from './label-index.js';
import { MetricStore } from './metric-store.js';
import { MetricKeySpace } from './store-format.js';
import { Flusher, gauge, openTempDb, readFloats, removeTempDb, row } from './store-test-util.js';

const hasher = await initHash();
const ALL: Matcher[] = [{ name: '__name__', op: '=~', value: '.+' }];
const TENANT = 'acme';
const P = MetricStoreLimits.chunkBlockSeries;

/** chunkValues lists the chunk block values in the db. */
async function chunkValues(flusher: Flusher): Promise<{ key: Uint8Array; value: Uint8Array }[]> {
  const out: { key: Uint8Array; value: Uint8Array }[] = [];
  for await (const page of flusher.db.pages({ gte: Uint8Array.of(MetricKeySpace.Chunks), lt: Uint8Array.of(MetricKeySpace.Chunks + 1) })) {
    for (const e of page) out.push({ key: e.key, value: e.value });
  }
  return out;
}

t.test('the store writes one chunk block per id page with one shared timestamp column, reads back every sample, and refuses a damaged column', async (t) => {
  const tmp = await openTempDb();
  try {
    const store = new MetricStore({ hasher, seriesMax: 1000, chunkSamples: 16 });
    const flusher = new Flusher(store, tmp.db);
    const rand = new SeededRand(21);
    const seriesN = P + 30; // two pages
    const scrapes = 50;
    const rows: MetricPointRow[] = [];
    const t0 = 1_795_754_521_622;
    const want = new Map<string, number>();
    for (let i = 0; i < scrapes; i++) {
      const tMs = t0 + i * 1000 + rand.intn(5) - 2; // one scrape: every series gets the same time
      for (let s = 0; s < seriesN; s++) {
        const v = s % 3 === 0 ? i * s : rand.intn(10_000) / 100;
        rows.push(row(TENANT, { name: `m${s}`, host: 'a', tMs, data: gauge(v) }));
        want.set(`${s}:${i}`, v);
      }
    }
    const added = store.add(TENANT, rows, 0);
    t.equal(added.accepted, rows.length);
    await flusher.flush();
    const values = await chunkValues(flusher);
    t.equal(values.length, 2, 'one chunk block per id page');
    for (const { value } of values) {
      const r = new ByteReader(value.subarray(BLOCK_HEADER_BYTES));
      r.u8();
      t.equal(r.uvarint(), 1, 'one timestamp column shared by the page');
    }
    const floats = await readFloats(store, tmp.db, TENANT, ALL, 0, Infinity);
    t.equal(floats.size, seriesN);
    let samples = 0;
    for (const points of floats.values()) samples += points.length;
    t.equal(samples, seriesN * scrapes, 'every sample reads back');

    // Planted bug: damage the shared column of the first block (the byte after its length prefix).
    const first = values[0] as { key: Uint8Array; value: Uint8Array };
    const r = new ByteReader(first.value.subarray(BLOCK_HEADER_BYTES));
    r.u8();
    r.uvarint();
    r.uvarint();
    const columnAt = first.value.length - r.remaining;
    const bad = first.value.slice();
    bad[columnAt + 2] = (bad[columnAt + 2] as number) ^ 0x10;
    const batch = new KvWriteBatch();
    batch.put(first.key, bad);
    await tmp.db.write(batch);
    let err: unknown = null;
    try {
      await readFloats(store, tmp.db, TENANT, ALL, 0, Infinity);
    } catch (e) {
      err = e;
    }
    t.ok(isOtlpdbError(err, 'ERR_CORRUPTION'), `a damaged shared column is ERR_CORRUPTION (${String(err)})`);
  } finally {
    await removeTempDb(tmp);
  }
});

t.test('a page past chunkBlockBytesTarget is written as several parts and reads back whole', async (t) => {
  const tmp = await openTempDb();
  try {
    const store = new MetricStore({ hasher, seriesMax: 1000, chunkSamples: 120 });
    const flusher = new Flusher(store, tmp.db);
    const rand = new SeededRand(23);
    const scrapes = 1500;
    const t0 = 1_795_754_400_000;
    const rows: MetricPointRow[] = [];
    for (let i = 0; i < scrapes; i++) {
      for (let s = 0; s < P; s++) rows.push(row(TENANT, { name: `m${s}`, host: 'a', tMs: t0 + i * 1000, data: gauge(Math.sqrt(rand.intn(2 ** 30)) * Math.PI) }));
    }
    t.equal(store.add(TENANT, rows, 0).accepted, rows.length);
    await flusher.flush();
    const values = await chunkValues(flusher);
    t.ok(values.length >= 2, `${values.length} parts for one page`);
    for (const { value } of values) t.ok(value.length <= MetricStoreLimits.chunkBlockBytesTarget + 64 * 1024, `a part of ${value.length} bytes`);
    const floats = await readFloats(store, tmp.db, TENANT, ALL, 0, Infinity);
    t.equal(floats.size, P);
    let samples = 0;
    for (const points of floats.values()) samples += points.length;
    t.equal(samples, P * scrapes, 'every sample reads back');
  } finally {
    await removeTempDb(tmp);
  }
});
