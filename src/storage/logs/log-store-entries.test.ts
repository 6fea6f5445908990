/**
 * log-store-entries.test.ts — a logs store over version 3 term indexes
 * (entry chunks under keys of their own, term-entries.ts): blocks whose
 * index is version 2 (written before s17) still answer, mixed with version
 * 3 ones, exactly as the reference; a term query reads the dictionary and
 * its chunks, not every chunk; a damaged or missing chunk in LevelDB is
 * ERR_CORRUPTION, never rows; retention deletes a block's chunks with it.
 */
import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { LogRow } from '../rows.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import type { ShardDb } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import { decodeLogBlock } from './log-block-decode.js';
import type { LogScanQuery } from './log-scan.js';
import { LogStore } from './log-store.js';
import { LogKeySpace, bucketStartNs } from './log-store-format.js';
import { BASE_BUCKET, U64_MAX, flushStore as flush, genStoreRows as genRows, openTestDb, storeAnswer as answer, storeDifferential } from './log-store-test-util.js';
import { LOG_INDEX_VERSION_WHOLE } from './term-index.js';
import { encodeLogIndex } from './term-index-build.js';
import { OpenedIndex } from './term-postings.js';

const SEED = Number(process.env.SEED ?? 0x36e3);

async function entriesOf(db: ShardDb, space: number): Promise<{ key: Uint8Array; value: Uint8Array }[]> {
  const out: { key: Uint8Array; value: Uint8Array }[] = [];
  for await (const page of db.pages({ gte: new Uint8Array([space]), lt: new Uint8Array([space + 1]) })) for (const e of page) out.push({ key: e.key, value: e.value });
  return out;
}

/** startsWith says whether key `k` begins with `prefix`. */
function startsWith(k: Uint8Array, prefix: Uint8Array): boolean {
  return k.length >= prefix.length && Buffer.from(k.subarray(0, prefix.length)).equals(Buffer.from(prefix));
}

/** toVersion2 rewrites every other block's index as version 2 (as written before s17), deleting its chunks; returns how many. */
async function toVersion2(db: ShardDb): Promise<number> {
  const blocks = await entriesOf(db, LogKeySpace.block);
  const chunks = await entriesOf(db, LogKeySpace.entries);
  const batch = new KvWriteBatch();
  let n = 0;
  blocks.forEach((b, i) => {
    if (i % 2 === 1) return;
    const rows = decodeLogBlock(b.value);
    const rest = b.key.subarray(1);
    const pkey = Uint8Array.of(LogKeySpace.postings, ...rest);
    batch.put(pkey, encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_WHOLE).postings);
    for (const c of chunks) if (startsWith(c.key.subarray(1), rest)) batch.del(c.key);
    n++;
  });
  await db.write(batch);
  return n;
}

async function setup(t: Test, seed: number, rowsPerFlush = 1_500): Promise<{ db: ShardDb; rows: LogRow[] }> {
  const rand = new SeededRand(seed);
  const db = await openTestDb(t, 'otlpdb-logs-entries-');
  const store = new LogStore();
  await store.load(db);
  const rows: LogRow[] = [];
  for (let f = 1; f <= 3; f++) {
    const batch = genRows(rand, rowsPerFlush + rand.intn(500));
    rows.push(...batch);
    store.add('acme', batch, 0);
    await flush(store, db, f);
  }
  return { db, rows };
}

t.test('version 2 blocks (written before s17) still answer, mixed with version 3 ones, as the reference', async (t) => {
  const { db, rows } = await setup(t, SEED);
  const chunksBefore = (await entriesOf(db, LogKeySpace.entries)).length;
  t.ok(chunksBefore > 0, `${chunksBefore} entry chunks written`);
  const rewritten = await toVersion2(db);
  const chunksAfter = (await entriesOf(db, LogKeySpace.entries)).length;
  t.ok(rewritten > 0 && chunksAfter > 0 && chunksAfter < chunksBefore, `${rewritten} blocks now version 2; ${chunksAfter} chunks of version 3 blocks left`);
  const store = new LogStore();
  await store.load(db);
  t.same(await storeDifferential(store, db, rows, new SeededRand(SEED + 1), 60, SEED), [], 'a mixed read = reference');
});

t.test('a term query pruned at the index reads the dictionaries and the chunks of its term, not every chunk', async (t) => {
  const { db } = await setup(t, SEED + 2, 9_000);
  const store = new LogStore();
  await store.load(db);
  const bytesOf = async (space: number): Promise<number> => (await entriesOf(db, space)).reduce((n, e) => n + e.value.length, 0);
  const chunks = (await entriesOf(db, LogKeySpace.entries)).length;
  const blocks = (await entriesOf(db, LogKeySpace.block)).length;
  t.ok(chunks >= 3 * blocks, `${chunks} chunks in ${blocks} blocks`);
  const whole = (await bytesOf(LogKeySpace.meta)) + (await bytesOf(LogKeySpace.bloom)) + (await bytesOf(LogKeySpace.postings)) + (await bytesOf(LogKeySpace.entries));
  const stats = newScanStats();
  // "get" is in every block's bloom and dictionary; no stream has this service: every block is pruned at its index.
  const q: LogScanQuery = { startNs: 0n, endNs: U64_MAX, terms: ['get'], streamMatchers: [{ name: 'service_name', op: '=', value: 'no-such-service' }], direction: 'forward', limit: 10 };
  t.same(await answer(store, db, q, stats), [], 'no rows');
  t.equal(stats.blocksPrunedIndex, blocks, 'every block pruned at its index');
  t.equal(stats.blocksScanned, 0, 'no block read');
  // Exactly: every meta, bloom and dictionary, and per block the one chunk holding "get".
  const chunkBytes = new Map((await entriesOf(db, LogKeySpace.entries)).map((e) => [Buffer.from(e.key).toString('hex'), e.value.length]));
  let getChunks = 0;
  for (const p of await entriesOf(db, LogKeySpace.postings)) {
    const idx = new OpenedIndex(p.value);
    const c = idx.chunkOf(idx.termId('get'));
    const k = Buffer.from(Uint8Array.of(LogKeySpace.entries, ...p.key.subarray(1), c >> 8, c & 0xff)).toString('hex');
    getChunks += chunkBytes.get(k) ?? NaN;
  }
  const want = (await bytesOf(LogKeySpace.meta)) + (await bytesOf(LogKeySpace.bloom)) + (await bytesOf(LogKeySpace.postings)) + getChunks;
  t.equal(stats.bytesRead, want, `${stats.bytesRead} B read: metas, blooms, dictionaries and one chunk a block (of ${whole} B with every chunk)`);
});

t.test('a damaged or missing entry chunk in LevelDB is ERR_CORRUPTION, never rows', async (t) => {
  const { db } = await setup(t, SEED + 3);
  const chunks = await entriesOf(db, LogKeySpace.entries);
  const q: LogScanQuery = { startNs: 0n, endNs: U64_MAX, terms: ['get'], direction: 'forward', limit: 1000 };
  const damaged = new KvWriteBatch();
  for (const c of chunks) {
    const v = Uint8Array.from(c.value);
    v[v.length - 1] = (v[v.length - 1] as number) ^ 0x10;
    damaged.put(c.key, v);
  }
  await db.write(damaged);
  const store = new LogStore();
  await store.load(db);
  await t.rejects(answer(store, db, q), { code: 'ERR_CORRUPTION' }, 'every chunk with a flipped bit');
  const gone = new KvWriteBatch();
  for (const c of chunks) gone.del(c.key);
  await db.write(gone);
  const again = new LogStore();
  await again.load(db);
  await t.rejects(answer(again, db, q), { code: 'ERR_CORRUPTION' }, 'every chunk deleted');
});

t.test("retention deletes a block's entry chunks with it", async (t) => {
  const { db } = await setup(t, SEED + 4);
  const store = new LogStore();
  await store.load(db);
  t.ok((await entriesOf(db, LogKeySpace.entries)).length > 0, 'chunks written');
  const batch = new KvWriteBatch();
  const rep = await store.expire({ batch, kv: db, flushIndex: 10 }, { defaultBeforeNs: null, byTenant: new Map([['acme', bucketStartNs(BASE_BUCKET + 3)]]) });
  await db.write(batch);
  t.equal(rep.buckets, 3, 'every bucket expired');
  t.equal((await entriesOf(db, LogKeySpace.entries)).length, 0, 'no chunk left');
  t.equal((await entriesOf(db, LogKeySpace.postings)).length, 0, 'no dictionary left');
  t.equal(store.stats().indexBytes, 0, 'no index bytes counted');
});
