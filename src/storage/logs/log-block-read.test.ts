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
import { compileLineHints } from './log-hints.js';
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
