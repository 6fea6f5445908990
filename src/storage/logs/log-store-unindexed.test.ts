import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { LogStoreLimits } from '../../limits.js';
import type { LogRow } from '../rows.js';
import { KvWriteBatch, ShardDb } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import { canon, codeOf } from '../storage-test-util.js';
import { logRowMatches } from './log-head.js';
import type { LogScanQuery } from './log-scan.js';
import { LogStore } from './log-store.js';
import { LogKeySpace, bucketOf, bucketStartNs, decodeBlockMeta, encodeBlockMeta } from './log-store-format.js';
import type { LogBlockMeta } from './log-store-format.js';
import { oracleQuery, randomQuery, realisticLogs } from './log-test-util.js';
import type { NormalizedLogQuery } from './term-index.js';

// The log term index can be switched off on the write side (LogStoreOptions
// .termIndex false, the ingest baseline of bench/query-logs). These tests
// show that blocks written without it carry no postings and no bloom, are
// marked in their meta, and answer every query exactly as the reference
// (and an indexed store) does, also when indexed and unindexed blocks mix.

const SEED = Number(process.env.SEED ?? 0x10b3);
const U64_MAX = (1n << 64n) - 1n;
const BASE_BUCKET = bucketOf(1_795_000_000_000_000_000n);

async function openDb(t: Test): Promise<ShardDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-logs-unindexed-'));
  const db = await ShardDb.open(dir);
  t.teardown(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return db;
}

async function flush(store: LogStore, db: ShardDb, flushIndex: number): Promise<{ indexBytes: number }> {
  store.freeze();
  const batch = new KvWriteBatch();
  const r = await store.writeFrozen({ batch, kv: db, flushIndex });
  await db.write(batch);
  store.dropFrozen();
  return r;
}

function genRows(rand: SeededRand, n: number): LogRow[] {
  return realisticLogs(rand, n, 'acme').map((row) => {
    const time = bucketStartNs(BASE_BUCKET + rand.intn(3)) + BigInt(rand.intn(3600)) * 1_000_000_000n + BigInt(rand.intn(1000));
    return { ...row, timeUnixNano: time, observedTimeUnixNano: time };
  });
}

function drawQuery(rand: SeededRand, rows: readonly LogRow[]): LogScanQuery {
  const lq = randomQuery(rand, rows);
  return {
    startNs: lq.minTimeNs ?? 0n,
    endNs: lq.maxTimeNs ?? U64_MAX,
    streamMatchers: lq.streamMatchers,
    terms: lq.terms,
    phrases: lq.phrases,
    direction: rand.intn(2) === 0 ? 'forward' : 'backward',
    limit: [1, 5, 40, LogStoreLimits.queryRowsMax][rand.intn(4)] as number,
  };
}

function reference(rows: readonly LogRow[], q: LogScanQuery): string[] {
  const idx = oracleQuery(rows, { streamMatchers: q.streamMatchers, terms: q.terms, phrases: q.phrases, minTimeNs: q.startNs, maxTimeNs: q.endNs });
  const hits = idx.map((i) => rows[i] as LogRow).sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  if (q.direction === 'backward') hits.reverse();
  return hits.slice(0, q.limit).map(canon);
}

async function answer(store: LogStore, db: ShardDb, q: LogScanQuery): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of store.queryLogs(db, 'acme', q, newScanStats())) for (const h of batch) out.push(canon(h.row));
  return out;
}

/** differential runs `n` random queries and returns the first mismatches with the seed to reproduce them. */
async function differential(store: LogStore, db: ShardDb, rows: readonly LogRow[], rand: SeededRand, n: number): Promise<string[]> {
  const bad: string[] = [];
  for (let i = 0; i < n && bad.length < 3; i++) {
    const q = drawQuery(rand, rows);
    const want = reference(rows, q);
    const got = await answer(store, db, q);
    if (got.length !== want.length || got.some((g, k) => g !== want[k])) bad.push(`query ${i} ${canon(q)}: got ${got.length}, want ${want.length} (SEED=${SEED})`);
  }
  return bad;
}

async function spaceKeys(db: ShardDb, space: number): Promise<number> {
  let n = 0;
  for await (const page of db.pages({ gte: new Uint8Array([space]), lt: new Uint8Array([space + 1]) })) n += page.length;
  return n;
}

t.test('a block meta keeps the unindexed mark; older and indexed metas read as indexed; unknown flags are corruption', async (t) => {
  const m: LogBlockMeta = { minTimeNs: 5n, maxTimeNs: 9n, rows: 3, streams: 1, truncatedRows: 0, lineBytes: 30 };
  t.same(decodeBlockMeta(encodeBlockMeta(m)), m, 'indexed: no flag written or read');
  t.same(decodeBlockMeta(encodeBlockMeta({ ...m, unindexed: true })), { ...m, unindexed: true });
  t.equal(encodeBlockMeta({ ...m, unindexed: true }).length, encodeBlockMeta(m).length + 1, 'one flag byte');
  const legacy = { ...m, truncatedRows: null, lineBytes: null };
  t.same(decodeBlockMeta(encodeBlockMeta(legacy)), legacy, 'a meta before issue 8 stays indexed');
  // A flag value other than 1 behind a valid checksum (the payload re-sealed) is refused.
  const payload = new Uint8Array(openBlock(encodeBlockMeta({ ...m, unindexed: true }), BlockKind.blockMeta));
  payload[payload.length - 1] = 2;
  const bad = sealBlock(BlockKind.blockMeta, payload);
  t.equal(codeOf(() => decodeBlockMeta(bad)), 'ERR_CORRUPTION');
});

t.test('index off: no postings or bloom on disk, metas marked, answers equal the reference and an indexed store', async (t) => {
  const rand = new SeededRand(SEED);
  const dbOn = await openDb(t);
  const dbOff = await openDb(t);
  const on = new LogStore();
  const off = new LogStore({ termIndex: false });
  await on.load(dbOn);
  await off.load(dbOff);
  const rows: LogRow[] = [];
  for (let f = 1; f <= 3; f++) {
    const batch = genRows(rand, 80 + rand.intn(60));
    rows.push(...batch);
    on.add('acme', batch, 0);
    off.add('acme', batch, 0);
    const rOn = await flush(on, dbOn, f);
    const rOff = await flush(off, dbOff, f);
    t.ok(rOff.indexBytes < rOn.indexBytes, `flush ${f}: less index written without the term index (${rOff.indexBytes} < ${rOn.indexBytes})`);
  }
  t.equal(await spaceKeys(dbOff, LogKeySpace.postings), 0, 'no postings');
  t.equal(await spaceKeys(dbOff, LogKeySpace.bloom), 0, 'no blooms');
  t.ok((await spaceKeys(dbOn, LogKeySpace.postings)) > 0, 'the indexed store wrote postings');
  let metas = 0;
  for await (const page of dbOff.pages({ gte: new Uint8Array([LogKeySpace.meta]), lt: new Uint8Array([LogKeySpace.meta + 1]) })) {
    for (const e of page) {
      metas++;
      t.equal(decodeBlockMeta(e.value).unindexed, true, 'every meta is marked');
    }
  }
  t.ok(metas >= 3, 'blocks were written');
  // Some rows in the head too: a read mixes head and blocks.
  const late = genRows(rand, 30);
  rows.push(...late);
  on.add('acme', late, 0);
  off.add('acme', late, 0);
  t.same(await differential(off, dbOff, rows, new SeededRand(SEED + 1), 30), [], 'unindexed store = reference');
  t.same(await differential(on, dbOn, rows, new SeededRand(SEED + 1), 30), [], 'indexed store = reference (same queries)');
  const stats = newScanStats();
  for await (const _ of off.queryLogs(dbOff, 'acme', { startNs: 0n, endNs: U64_MAX, terms: ['absentxyz'], direction: 'forward', limit: 10 }, stats)) void _;
  t.equal(stats.blocksPrunedBloom + stats.blocksPrunedIndex, 0, 'nothing is pruned by an index that is not there');
  t.ok(stats.blocksScanned >= 3, 'every block was read');
});

t.test('indexed and unindexed blocks of one tenant mix in one read (the option changed across restarts)', async (t) => {
  const rand = new SeededRand(SEED + 7);
  const db = await openDb(t);
  const rows: LogRow[] = [];
  let store = new LogStore();
  await store.load(db);
  for (let f = 1; f <= 4; f++) {
    // Odd flushes indexed, even ones not: a new store on the same LevelDB, as a restarted node with the other flag.
    store = new LogStore({ termIndex: f % 2 === 1 });
    await store.load(db);
    const batch = genRows(rand, 60 + rand.intn(40));
    rows.push(...batch);
    store.add('acme', batch, 0);
    await flush(store, db, f);
  }
  t.ok((await spaceKeys(db, LogKeySpace.postings)) > 0, 'some blocks are indexed');
  t.same(await differential(store, db, rows, new SeededRand(SEED + 8), 40), [], 'a mixed read = reference');
});

t.test('a planted bug in the unindexed row check (phrases ignored) fails the differential', async (t) => {
  class PhraseBlind extends LogStore {
    protected override unindexedRowMatches(row: LogRow, nq: NormalizedLogQuery, lo: bigint, hi: bigint): boolean {
      return logRowMatches(row, { ...nq, phrases: [] }, lo, hi);
    }
  }
  const rand = new SeededRand(SEED + 11);
  const db = await openDb(t);
  const store = new PhraseBlind({ termIndex: false });
  await store.load(db);
  const rows = genRows(rand, 200);
  store.add('acme', rows, 0);
  await flush(store, db, 1);
  const bad = await differential(store, db, rows, new SeededRand(SEED + 12), 120);
  t.ok(bad.length > 0, 'the differential catches a fallback that ignores phrases');
});
