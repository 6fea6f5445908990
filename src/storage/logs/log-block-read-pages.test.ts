import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { KvWriteBatch, ShardDb } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import { SpanBlockCache } from '../traces/block-cache.js';
import type { OpenedLogBlock } from './log-block-open.js';
import type { PageCache } from './log-block-read.js';
import { LogBlockReads } from './log-block-read.js';
import { decodeLogBlock } from './log-block-decode.js';
import { logLine } from './log-line.js';
import { blockMetaGroups } from './log-scan.js';
import { LogKeySpace, blockKey } from './log-store-format.js';
import type { LogBlockId, LogBlockMeta } from './log-store-format.js';
import { LogStore } from './log-store.js';
import { realisticLogs } from './log-test-util.js';

const SEED = Number(process.env.SEED ?? 0x5180);
const TENANT = 'acme';

/** KeyedCache records every key set, so a test sees which entries a read left (page keys end in "p" + a page number). */
class KeyedCache extends SpanBlockCache {
  readonly keys: string[] = [];
  override set(key: string, value: unknown, bytes: number): void {
    this.keys.push(key);
    super.set(key, value, bytes);
  }
}

/** PlantedReads caches the pages of a read that opened its block on a miss (the policy before s18). */
class PlantedReads extends LogBlockReads {
  protected override pagesOnMiss(ck: string, opened: OpenedLogBlock): PageCache | null {
    return this.pageCacheOf(ck, opened);
  }
}

async function flushed(t: Test, rows: number): Promise<{ db: ShardDb; blocks: { id: LogBlockId; meta: LogBlockMeta }[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-logpages-'));
  const db = await ShardDb.open(dir);
  t.teardown(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const w = new LogStore();
  await w.load(db);
  w.add(TENANT, realisticLogs(new SeededRand(SEED), rows, TENANT), 0);
  w.freeze();
  const batch = new KvWriteBatch();
  await w.writeFrozen({ batch, kv: db, flushIndex: 1 });
  await db.write(batch);
  w.dropFrozen();
  const blocks: { id: LogBlockId; meta: LogBlockMeta }[] = [];
  for await (const g of blockMetaGroups(db, TENANT, 0, 2 ** 31, false, newScanStats())) blocks.push(...g.blocks);
  return { db, blocks };
}

/**
 * readRows reads rows `ordinals` of every block through `reads` and returns
 * their lines, and the page entries the read left in `cache` (keys set
 * since `from`).
 */
async function readRows(reads: LogBlockReads, cache: KeyedCache, db: ShardDb, blocks: readonly { id: LogBlockId; meta: LogBlockMeta }[], ordinals: readonly number[]): Promise<{ lines: string[]; pageSets: number }> {
  const from = cache.keys.length;
  const lines: string[] = [];
  for (const { id, meta } of blocks) {
    const view = await reads.block(db, TENANT, id, meta, newScanStats());
    for (const row of view.rowsAt(ordinals.filter((o) => o < meta.rows))) lines.push(logLine(row));
  }
  const pageSets = cache.keys.slice(from).filter((k) => /p\d+$/.test(k) && cache.keys.some((b) => k.startsWith(b) && k.length > b.length && /^p\d+$/.test(k.slice(b.length)))).length;
  return { lines, pageSets };
}

t.test('a block opened on a cache miss leaves no decoded page in the cache; read again while cached, its pages are kept and then served; a planted caching on the miss is caught', async (t) => {
  const { db, blocks } = await flushed(t, 3_000);
  t.ok(blocks.length >= 1, 'the flush wrote a block');
  const ordinals = [0, 1, 300, 301, 2_999];
  // The reference: every block decoded whole, the rows at the ordinals.
  const want: string[] = [];
  for (const { id, meta } of blocks) {
    const bytes = await db.get(blockKey(LogKeySpace.block, TENANT, id));
    const rows = decodeLogBlock(bytes as Uint8Array);
    for (const o of ordinals) if (o < meta.rows) want.push(logLine(rows[o] as (typeof rows)[number]));
  }
  const check = async (reads: LogBlockReads, cache: KeyedCache): Promise<string[]> => {
    const bad: string[] = [];
    const r1 = await readRows(reads, cache, db, blocks, ordinals);
    if (r1.pageSets !== 0) bad.push(`first read (blocks missed) cached ${r1.pageSets} pages`);
    const r2 = await readRows(reads, cache, db, blocks, ordinals);
    if (r2.pageSets === 0) bad.push('second read (blocks hit) cached no page');
    const hits = cache.stats().hits;
    const r3 = await readRows(reads, cache, db, blocks, ordinals);
    if (r3.pageSets !== 0) bad.push(`third read decoded and cached ${r3.pageSets} pages again`);
    if (cache.stats().hits <= hits) bad.push('third read hit nothing');
    for (const [k, r] of [r1, r2, r3].entries()) if (JSON.stringify(r.lines) !== JSON.stringify(want)) bad.push(`read ${k + 1} lines differ from the reference`);
    return bad;
  };
  const cache = new KeyedCache();
  t.same(await check(new LogBlockReads(cache), cache), [], `pages cached from the second read on, the same rows each time (SEED=${SEED})`);
  const plantedCache = new KeyedCache();
  const planted = await check(new PlantedReads(plantedCache), plantedCache);
  t.ok(planted.some((b) => b.startsWith('first read')), `planted: pages cached on the miss is caught (${planted.join('; ')})`);
});

t.test('a cache too small for a block caches neither it nor its pages, and answers alike', async (t) => {
  const { db, blocks } = await flushed(t, 2_000);
  const tiny = new KeyedCache(1024);
  const big = new KeyedCache();
  const ordinals = [5, 6, 700, 1_999];
  for (let round = 0; round < 2; round++) {
    const a = await readRows(new LogBlockReads(tiny), tiny, db, blocks, ordinals);
    const b = await readRows(new LogBlockReads(big), big, db, blocks, ordinals);
    t.same(a.lines, b.lines, `round ${round}: the same rows`);
    t.equal(a.pageSets, 0, `round ${round}: no page cached when the block is never found`);
  }
  t.equal(tiny.stats().entries, 0, 'nothing held by the tiny cache');
});
