import t from 'tap';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { LogRow } from '../rows.js';
import type { ShardDb } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import { codeOf } from '../storage-test-util.js';
import { logRowMatches } from './log-head.js';
import { LogStore } from './log-store.js';
import { LogKeySpace, decodeBlockMeta, encodeBlockMeta } from './log-store-format.js';
import type { LogBlockMeta } from './log-store-format.js';
import { U64_MAX, flushStore as flush, genStoreRows as genRows, openTestDb, storeDifferential } from './log-store-test-util.js';
import type { NormalizedLogQuery } from './term-index.js';

// The log term index can be switched off on the write side (LogStoreOptions
// .termIndex false, the ingest baseline of bench/query-logs). These tests
// show that blocks written without it carry no postings and no bloom, are
// marked in their meta, and answer every query exactly as the reference
// (and an indexed store) does, also when indexed and unindexed blocks mix.

const SEED = Number(process.env.SEED ?? 0x10b3);

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
  const dbOn = await openTestDb(t, 'otlpdb-logs-unindexed-');
  const dbOff = await openTestDb(t, 'otlpdb-logs-unindexed-');
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
  t.same(await storeDifferential(off, dbOff, rows, new SeededRand(SEED + 1), 30, SEED), [], 'unindexed store = reference');
  t.same(await storeDifferential(on, dbOn, rows, new SeededRand(SEED + 1), 30, SEED), [], 'indexed store = reference (same queries)');
  const stats = newScanStats();
  for await (const _ of off.queryLogs(dbOff, 'acme', { startNs: 0n, endNs: U64_MAX, terms: ['absentxyz'], direction: 'forward', limit: 10 }, stats)) void _;
  t.equal(stats.blocksPrunedBloom + stats.blocksPrunedIndex, 0, 'nothing is pruned by an index that is not there');
  t.ok(stats.blocksScanned >= 3, 'every block was read');
});

t.test('indexed and unindexed blocks of one tenant mix in one read (the option changed across restarts)', async (t) => {
  const rand = new SeededRand(SEED + 7);
  const db = await openTestDb(t, 'otlpdb-logs-unindexed-');
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
  t.same(await storeDifferential(store, db, rows, new SeededRand(SEED + 8), 40, SEED), [], 'a mixed read = reference');
});

t.test('a planted bug in the unindexed row check (phrases ignored) fails the differential', async (t) => {
  class PhraseBlind extends LogStore {
    protected override unindexedRowMatches(row: LogRow, nq: NormalizedLogQuery, lo: bigint, hi: bigint): boolean {
      return logRowMatches(row, { ...nq, phrases: [] }, lo, hi);
    }
  }
  const rand = new SeededRand(SEED + 11);
  const db = await openTestDb(t, 'otlpdb-logs-unindexed-');
  const store = new PhraseBlind({ termIndex: false });
  await store.load(db);
  const rows = genRows(rand, 200);
  store.add('acme', rows, 0);
  await flush(store, db, 1);
  const bad = await storeDifferential(store, db, rows, new SeededRand(SEED + 12), 120, SEED);
  t.ok(bad.length > 0, 'the differential catches a fallback that ignores phrases');
});
