import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { OtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ByteWriter } from '../codec/varint.js';
import type { SpanRow } from '../rows.js';
import type { KvRead } from '../shard/shard-db.js';
import { KvWriteBatch, ShardDb } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import { SpanBlockCache } from './block-cache.js';
import type { BlockMeta } from './trace-keys.js';
import { TraceKeySpace as K, blockKey, decodeBlockMeta, encodeBlockMeta, prefixRange, readRef, spaceRange, tenantPrefixBytes } from './trace-keys.js';
import { TraceStore } from './trace-store.js';
import type { SpanSearch } from './trace-store.js';
import { SpaceScanCounter, flushSpans, realisticSpans } from './traces-test-util.js';

// The block meta's shadow flag (trace-keys.ts BlockMeta.marked): a search
// skips the marker scan of a block whose meta says "no markers", so a flag
// left false on a marked block would return stale span versions. These tests
// check the flag against the markers, that a search with it answers as the
// reference (no stale version), that it skips the scans, and plant the bug
// (a marked block's flag cleared) to show the search check catches it.
// Seeded; no timing.

const TENANT = 'acme';
const SEED = Number(process.env.OTLPDB_SHADOW_SEED ?? 61);
const WIDE: Pick<SpanSearch, 'startNs' | 'endNs'> = { startNs: 0n, endNs: 1n << 62n };

async function tempDb(t: Test): Promise<ShardDb> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-shadow-flag-'));
  const db = await ShardDb.open(path.join(root, 'db'));
  t.teardown(async () => {
    await db.close().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  });
  return db;
}

/** tagged is `spans` with attribute ver=`v` added (a version of the same span ids). */
function tagged(spans: readonly SpanRow[], v: string): SpanRow[] {
  return spans.map((s) => ({ ...s, attributes: [...s.attributes, { key: 'ver', value: { type: 'string', value: v } }] }));
}

/** flush adds `spans` and flushes them as flush `flushIndex` (traces-test-util flushSpans). */
function flush(store: TraceStore, db: ShardDb, spans: readonly SpanRow[], flushIndex: number): Promise<void> {
  return flushSpans(store, db, TENANT, spans, flushIndex);
}

/** metas is every block meta of the tenant with its key. */
async function metas(db: KvRead): Promise<{ key: Uint8Array; meta: BlockMeta; markers: number }[]> {
  const out: { key: Uint8Array; meta: BlockMeta; markers: number }[] = [];
  for await (const page of db.pages(spaceRange(K.meta))) {
    for (const e of page) {
      const ref = readRef(e.key, tenantPrefixBytes(TENANT));
      let markers = 0;
      for await (const marks of db.pages(prefixRange(blockKey(K.shadow, TENANT, ref)))) markers += marks.length;
      out.push({ key: e.key, meta: decodeBlockMeta(e.value), markers });
    }
  }
  return out;
}

/** staleRows counts the rows of a ver=v1 search that are older versions (trace `replaced` was rewritten as v2). */
async function staleRows(store: TraceStore, kv: KvRead, replaced: Uint8Array): Promise<{ stale: number; rows: number }> {
  let stale = 0;
  let rows = 0;
  for await (const batch of store.searchSpans(kv, TENANT, { ...WIDE, predicate: { attrs: [['ver', 'v1']] }, limit: 10_000 }, newScanStats())) {
    for (const s of batch) {
      rows++;
      if (Buffer.from(s.traceId).equals(Buffer.from(replaced))) stale++;
    }
  }
  let refs = 0;
  for await (const b of store.searchSpanRefs(kv, TENANT, { ...WIDE, predicate: { attrs: [['ver', 'v1']] }, limit: 10_000 }, newScanStats())) {
    for (const id of b.traceIds) if (Buffer.from(id).equals(Buffer.from(replaced))) refs++;
  }
  return { stale: stale + refs, rows };
}

/** rewriteMetas puts every marked block's meta back with `marked` set to `to` (undefined: the format before the flag). */
async function rewriteMetas(db: ShardDb, to: boolean | undefined): Promise<number> {
  const batch = new KvWriteBatch();
  const w = new ByteWriter();
  let n = 0;
  for (const m of await metas(db)) {
    if (m.markers === 0) continue;
    const { marked: _old, ...rest } = m.meta;
    batch.put(m.key, encodeBlockMeta(w, to === undefined ? rest : { ...rest, marked: to }));
    n++;
  }
  await db.write(batch);
  return n;
}

t.test('the meta codec: the flag round-trips, a meta without it reads as unknown, a bad flag is refused', async (t) => {
  const w = new ByteWriter();
  const base: BlockMeta = { rows: 3, traces: 2, dataBytes: 100, indexBytes: 50, minStartNs: 5n, maxStartNs: 9n, maxEndNs: 12n };
  t.same(decodeBlockMeta(encodeBlockMeta(w, base)), base, 'no flag: unknown');
  t.same(decodeBlockMeta(encodeBlockMeta(w, { ...base, marked: false })), { ...base, marked: false });
  t.same(decodeBlockMeta(encodeBlockMeta(w, { ...base, marked: true })), { ...base, marked: true });
  t.equal(encodeBlockMeta(w, { ...base, marked: false }).length, encodeBlockMeta(w, { ...base, marked: true }).length, 'setting the flag keeps the size');
  // A flag byte of 2: the same payload, resealed (the seal's CRC is right, the byte is not).
  const bad = encodeBlockMeta(w, { ...base, marked: true });
  const { BlockKind, openBlock, sealBlock } = await import('../block.js');
  const payload = Uint8Array.from(openBlock(bad, BlockKind.blockMeta));
  payload[payload.length - 1] = 2;
  try {
    decodeBlockMeta(sealBlock(BlockKind.blockMeta, payload));
    t.fail('a flag of 2 was accepted');
  } catch (err) {
    t.ok(err instanceof OtlpdbError && err.code === 'ERR_CORRUPTION', 'a flag of 2 is corruption');
  }
});

t.test('a flush flags exactly the blocks it marks; searches skip unmarked blocks and drop stale versions; a cleared flag is caught', async (t) => {
  const rand = new SeededRand(SEED);
  const db = await tempDb(t);
  const base = realisticSpans(rand, 30, TENANT);
  const replaced = (base[0] as SpanRow).traceId;
  const first = base.filter((s) => Buffer.from(s.traceId).equals(Buffer.from(replaced)));
  for (const cache of [null, new SpanBlockCache()]) {
    const label = cache === null ? 'uncached' : 'cached';
    // A new database per case would need a new dir; the same spans in a fresh store over a cleared db instead.
    const clear = new KvWriteBatch();
    for await (const page of db.pages({ gte: Uint8Array.of(0), lt: Uint8Array.of(0xff) })) for (const e of page) clear.del(e.key);
    await db.write(clear);
    const store = new TraceStore({}, cache);
    await store.load(db);
    await flush(store, db, tagged(base, 'v1'), 1);
    t.ok((await metas(db)).every((m) => m.meta.marked === false && m.markers === 0), `${label}: a first flush writes unmarked metas`);
    // Flush 2 rewrites the first trace (v2) and adds new traces: only blocks holding that trace get markers.
    await flush(store, db, [...tagged(first, 'v2'), ...tagged(realisticSpans(rand, 5, TENANT), 'v1')], 2);
    await flush(store, db, tagged(first, 'v3'), 3);
    const after = await metas(db);
    t.ok(
      after.every((m) => m.meta.marked === m.markers > 0),
      `${label}: every meta's flag says whether its block has markers (${after.map((m) => `${m.meta.marked}/${m.markers}`).join(' ')})`,
    );
    const markedBlocks = after.filter((m) => m.markers > 0).length;
    t.ok(markedBlocks >= 2, `${label}: the rewritten trace marked its older blocks (${markedBlocks})`);
    t.ok(after.length > markedBlocks, `${label}: and some blocks stay unmarked`);
    t.ok(store.stats().indexBytes > 0, 'stats are kept');

    const counter = new SpaceScanCounter(db, K.shadow);
    const good = await staleRows(store, counter, replaced);
    t.equal(good.stale, 0, `${label}: no stale version of the rewritten trace is found`);
    t.ok(good.rows > 0, `${label}: the search finds the other v1 spans (${good.rows})`);
    t.ok(counter.scans > 0 && counter.scans <= 2 * markedBlocks, `${label}: only marked blocks are scanned for markers (${counter.scans} scans, ${markedBlocks} marked of ${after.length})`);

    // Planted bug: the marked blocks' flags cleared (a flush that forgot #markMetas). The cache keeps
    // no metas and the store's meta table (block-meta-table.ts) reads them at load, so after a reload
    // the next search sees the lie.
    t.equal(await rewriteMetas(db, false), markedBlocks);
    await store.load(db);
    const planted = await staleRows(store, db, replaced);
    t.ok(planted.stale > 0, `${label}: a cleared flag returns stale versions (${planted.stale}): the check catches it`);
    // A meta written before the flag: the search scans and is right again.
    await rewriteMetas(db, undefined);
    await store.load(db);
    t.equal((await staleRows(store, db, replaced)).stale, 0, `${label}: a meta without the flag is scanned`);
    // And a later flush leaves a meta without the flag as it is (still scanned, still right).
    await flush(store, db, tagged(first, 'v4'), 4);
    t.ok((await metas(db)).every((m) => m.markers === 0 || m.meta.marked !== false), `${label}: no marked block reads unmarked after flush 4`);
    t.equal((await staleRows(store, db, replaced)).stale, 0, `${label}: still no stale version`);
  }
});
