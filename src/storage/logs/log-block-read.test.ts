import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { LogRow } from '../rows.js';
import { KvWriteBatch, ShardDb } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import { SpanBlockCache } from '../traces/block-cache.js';
import { encodeLogBlock, encodeLogBlockUnpaged } from './log-block.js';
import { decodeLogBlock } from './log-block-decode.js';
import { compileLineHints } from './log-hints.js';
import { LogKeySpace } from './log-store-format.js';
import { logLine } from './log-line.js';
import { LogStore } from './log-store.js';
import type { LogScanQuery } from './log-scan.js';
import { realisticLogs } from './log-test-util.js';

const SEED = Number(process.env.SEED ?? 0x10cb);
const TENANT = 'acme';
const U64_MAX = (1n << 64n) - 1n;

async function openDb(t: Test): Promise<ShardDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-logread-'));
  const db = await ShardDb.open(dir);
  t.teardown(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return db;
}

/** flushInto writes `rows` as flush 1 of a fresh store over `db` (so two databases can hold different blocks under one key). */
async function flushInto(db: ShardDb, rows: readonly LogRow[]): Promise<void> {
  const w = new LogStore();
  await w.load(db);
  w.add(TENANT, rows, 0);
  w.freeze();
  const batch = new KvWriteBatch();
  await w.writeFrozen({ batch, kv: db, flushIndex: 1 });
  await db.write(batch);
  w.dropFrozen();
}

async function lines(store: LogStore, db: ShardDb, q: LogScanQuery): Promise<string[]> {
  const out: string[] = [];
  for await (const hits of store.selectLogs(db, TENANT, q, newScanStats())) for (const h of hits) out.push(`${h.timeNs} ${logLine(h.row)}`);
  return out;
}

t.test('a store reading through the block cache answers as one without it, and hits the cache on repeated queries', async (t) => {
  const rand = new SeededRand(SEED);
  const db = await openDb(t);
  const rows = realisticLogs(rand, 3_000, TENANT);
  await flushInto(db, rows);
  const cache = new SpanBlockCache();
  const cached = new LogStore({ cache });
  const plain = new LogStore();
  await cached.load(db);
  await plain.load(db);
  const literals = ['refused', 'timeout', 'GET /', 'user carol', 'no such line', 'id=1'];
  for (let round = 0; round < 2; round++) {
    for (let c = 0; c < 12; c++) {
      const lit = literals[c % literals.length] as string;
      const q: LogScanQuery = { startNs: 0n, endNs: U64_MAX, direction: c % 2 === 0 ? 'backward' : 'forward', limit: 1 + rand.intn(300), hints: compileLineHints([{ contains: [lit], caseInsensitive: false }]) };
      t.same(await lines(cached, db, q), await lines(plain, db, q), `round ${round} case ${c}: ${JSON.stringify(lit)} ${q.direction} ${q.limit}`);
    }
  }
  const s = cache.stats();
  t.ok(s.hits > 0 && s.entries > 0, `the second round read from the cache (${s.hits} hits, ${s.misses} misses, ${s.entries} entries)`);
});

/** SameSpaceCache is a planted bug: every lineage gets the same key space, so a reloaded database finds the old one's blocks. */
class SameSpaceCache extends SpanBlockCache {
  override newSpace(): string {
    return 'same/';
  }
}

t.test('a replaced database (a new lineage at load) never serves the old one\'s cached blocks; a planted shared space is caught', async (t) => {
  const rowsA = realisticLogs(new SeededRand(SEED + 1), 500, TENANT);
  // The same times and count (so the same block key and meta), other lines.
  const rowsB = rowsA.map((r) => ({ ...r, body: { type: 'string' as const, value: `${logLine(r)} replaced` } }));
  const q: LogScanQuery = { startNs: 0n, endNs: U64_MAX, direction: 'backward', limit: 50 };
  for (const [name, cache, wantRight] of [['one space a lineage', new SpanBlockCache(), true], ['planted: one space for all', new SameSpaceCache(), false]] as const) {
    const dbA = await openDb(t);
    const dbB = await openDb(t);
    await flushInto(dbA, rowsA);
    await flushInto(dbB, rowsB);
    const store = new LogStore({ cache });
    await store.load(dbA);
    const a = await lines(store, dbA, q);
    t.ok(a.every((l) => !l.endsWith(' replaced')), `${name}: database A's lines`);
    await store.load(dbB);
    const b = await lines(store, dbB, q);
    const right = b.length === 50 && b.every((l) => l.endsWith(' replaced'));
    t.equal(right, wantRight, wantRight ? `${name}: database B's lines after the reload` : `${name}: serves database A's stale lines (caught)`);
  }
});

/** rewriteBlocks re-encodes every block of `db` with `encode` (same rows, so the same meta, postings and keys). */
async function rewriteBlocks(db: ShardDb, encode: (rows: readonly LogRow[]) => Uint8Array): Promise<number> {
  const batch = new KvWriteBatch();
  let n = 0;
  for await (const page of db.pages({ gte: new Uint8Array([LogKeySpace.block]), lt: new Uint8Array([LogKeySpace.block + 1]) })) {
    for (const e of page) {
      batch.put(e.key, encode(decodeLogBlock(new Uint8Array(e.value))));
      n++;
    }
  }
  await db.write(batch);
  return n;
}

/** referenceLines answers a select from the rows: range (inclusive), literal, row filter, time order with ties in apply order, direction, limit. */
function referenceLines(rows: readonly LogRow[], q: LogScanQuery, literal: string): string[] {
  const hits = rows
    .filter((r) => r.timeUnixNano >= q.startNs && r.timeUnixNano <= q.endNs && logLine(r).includes(literal) && (q.rowFilter === undefined || q.rowFilter(r)))
    .sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  if (q.direction === 'backward') hits.reverse();
  return hits.slice(0, q.limit).map((r) => `${r.timeUnixNano} ${logLine(r)}`);
}

t.test('blocks written as version 2 or in pages of any size answer exactly as the reference, through the cache or not', async (t) => {
  const rand = new SeededRand(SEED + 2);
  const rows = realisticLogs(rand, 3_000, TENANT);
  const layouts = [
    ['as flushed (version 3)', null],
    ['version 2', encodeLogBlockUnpaged],
    ['pages of 7 rows', (r: readonly LogRow[]) => encodeLogBlock(r, 7)],
  ] as const;
  const times = rows.map((r) => r.timeUnixNano).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const literals = ['refused', 'timeout', 'GET /', 'user carol', 'no such line', 'id=1', ''];
  for (const [name, encode] of layouts) {
    const db = await openDb(t);
    await flushInto(db, rows);
    if (encode !== null) t.ok((await rewriteBlocks(db, encode)) > 0, `${name}: blocks rewritten`);
    for (const cache of [null, new SpanBlockCache()]) {
      const store = new LogStore({ cache });
      await store.load(db);
      const qr = new SeededRand(SEED + 3);
      const bad: string[] = [];
      for (let c = 0; c < 40; c++) {
        const lit = literals[qr.intn(literals.length)] as string;
        const a = times[qr.intn(times.length)] as bigint;
        const b = times[qr.intn(times.length)] as bigint;
        const q: LogScanQuery = {
          startNs: qr.intn(4) === 0 ? 0n : a < b ? a : b,
          endNs: qr.intn(4) === 0 ? U64_MAX : a < b ? b : a,
          direction: qr.intn(2) === 0 ? 'backward' : 'forward',
          limit: [1, 16, 100, 5_000][qr.intn(4)] as number,
          hints: lit === '' ? null : compileLineHints([{ contains: [lit], caseInsensitive: false }]),
          ...(qr.intn(3) === 0 ? { rowFilter: (r: LogRow) => r.severityNumber >= 9 } : {}),
          // A consumer that reads every hit but expects to stop early (the LogQL engine's select): line checks deferred to the chunks built.
          ...(qr.intn(2) === 0 ? { firstChunkRows: [1, 16, 100][qr.intn(3)] as number } : {}),
        };
        const got = await lines(store, db, q);
        const want = referenceLines(rows, q, lit);
        if (got.join('\n') !== want.join('\n')) bad.push(`query ${c} ${JSON.stringify(lit)} ${q.direction} ${q.limit}: ${got.length} lines, want ${want.length}`);
      }
      t.same(bad.slice(0, 5), [], `${name}, ${cache === null ? 'no cache' : 'cached'}: 40 queries equal the reference (SEED=${SEED})`);
    }
  }
});
