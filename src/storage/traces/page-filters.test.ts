import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ByteWriter } from '../codec/varint.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import type { KeyRange, KvEntry, KvRead } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import type { ScanStats } from '../shard/signal-store.js';
import { searchShard } from '../../query/trace-search-shard.js';
import type { TraceSearchQuery } from '../../query/search-params.js';
import { SpanBlockCache } from './block-cache.js';
import { decodePageFilters, sealPageFilters } from './page-filters.js';
import { decodeSpanBlockIndex } from './span-index.js';
import { TraceKeySpace, readRef, tenantPrefixBytes } from './trace-keys.js';
import { TraceStore } from './trace-store.js';
import { damageValue, deleteKeys, keysIn, outcomeCode, tempTraceDb } from './traces-test-util.js';
import { CUSTOMERS, TENANT, customerSpans, json, randomSearch, storeWith } from './page-filters-test-util.js';

const SEED = Number(process.env.OTLPDB_SEARCH_SEED ?? 20261129);

t.test('the flush writes page filters of version 3 (2 with layout pageTermsV2) in place of the index\'s skipped-terms bloom; layout blockBloom keeps version 1 beside it', async (t) => {
  for (const layout of ['pageTerms', 'blockBloom'] as const) {
    const db = await storeWith(t, customerSpans(new SeededRand(SEED), 400), 1, new TraceStore({}, null, undefined, layout));
    const filters = await keysIn(db, TraceKeySpace.pageFilters);
    t.ok(filters.length >= 1, `${layout}: ${filters.length} blocks with page filters`);
    for (const k of filters) {
      const index = decodeSpanBlockIndex((await db.get(Uint8Array.of(TraceKeySpace.index, ...k.subarray(1)))) as Uint8Array);
      const f = decodePageFilters((await db.get(k)) as Uint8Array);
      t.ok(index.skippedKeys.has('customer.id'), 'customer.id is a skipped key');
      t.equal(f.filters.length, Math.ceil(index.rows / 256), 'one filter a page');
      if (layout === 'blockBloom') {
        t.not(index.skippedTerms, null, 'the block-level bloom stays (asked first)');
        t.equal(f.skipped, undefined, 'version 1: no skipped keys in the filters');
      } else {
        t.equal(index.skippedTerms, null, 'no block-level bloom: the page filters hold its terms');
        t.same([...(f.skipped?.skippedKeys ?? [])], [...index.skippedKeys].sort(), 'the filters carry the index\'s skipped keys');
        t.same([...(f.skipped?.skippedValueKeys ?? [])], [...index.skippedValueKeys].sort(), 'and its skipped value keys');
      }
    }
  }
});

t.test('searches through page filters equal reading whole blocks and a full scan (seeded differential), and read less', async (t) => {
  const rand = new SeededRand(SEED + 1);
  const spans = customerSpans(rand, 600);
  for (const [layout, cache] of [['pageTerms', null], ['pageTerms', new SpanBlockCache()], ['pageTermsV2', null], ['blockBloom', null]] as const) {
    const store = new TraceStore({}, cache, undefined, layout);
    const db = await storeWith(t, spans, 3, store);
    const bytes = { filtered: 0, whole: 0 };
    let found = 0;
    const cases = Number(process.env.OTLPDB_SEARCH_CASES ?? 40);
    for (let i = 0; i < cases; i++) {
      const q = randomSearch(rand, spans);
      const label = `${layout} ${cache === null ? 'uncached' : 'cached'} case ${i} (reproduce: OTLPDB_SEARCH_SEED=${SEED}): ${JSON.stringify(q, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`;
      const got = await searchShard(store, db, TENANT, q, () => false);
      const whole = await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, pageFilters: false });
      t.equal(json(got), json(whole), label);
      t.equal(json(got), json(await searchShard(store, db, TENANT, { ...q, fullScan: true }, () => false)), `${label} as a full scan`);
      bytes.filtered += got.stats.bytesRead;
      bytes.whole += whole.stats.bytesRead;
      if (got.traces.length > 0) found++;
    }
    t.ok(found > cases / 3, `${found} of ${cases} searches find traces (not vacuous)`);
    t.ok(bytes.filtered < bytes.whole, `${layout}: page filters read ${bytes.filtered} bytes, whole blocks ${bytes.whole}`);
  }
});

t.test('planted wrong page filters (each page given the next page\'s filter) lose matches, and the differential sees it', async (t) => {
  const rand = new SeededRand(SEED + 2);
  const spans = customerSpans(rand, 400);
  const store = new TraceStore();
  const db = await storeWith(t, spans, 2, store);
  const queries = Array.from({ length: 20 }, () => randomSearch(rand, spans));
  const want: string[] = [];
  for (const q of queries) want.push(json(await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, pageFilters: false })));
  const b = new KvWriteBatch();
  for (const k of await keysIn(db, TraceKeySpace.pageFilters)) {
    const f = decodePageFilters((await db.get(k)) as Uint8Array);
    t.not(f.skipped, undefined, 'page filters of version 2');
    b.put(k, sealPageFilters(new ByteWriter(), { ...f, filters: f.filters.map((_x, p) => f.filters[(p + 1) % f.filters.length] ?? null) }));
  }
  await db.write(b);
  let caught = 0;
  for (const [i, q] of queries.entries()) {
    if (json(await searchShard(store, db, TENANT, q, () => false)) !== want[i]) caught++;
    t.equal(json(await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, pageFilters: false })), want[i], `query ${i}: the reference reads whole blocks`);
  }
  t.ok(caught > 0, `wrong filters changed ${caught} of ${queries.length} answers`);
});

t.test('damaged page filters are refused (ERR_CORRUPTION); blocks without them read whole, with the same answers', async (t) => {
  const rand = new SeededRand(SEED + 3);
  const spans = customerSpans(rand, 300);
  const store = new TraceStore();
  const db = await storeWith(t, spans, 1, store);
  const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: { attrs: [['customer.id', 'c7']] }, limit: 1000, spss: 3 };
  const want = json(await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, pageFilters: false }));
  const keys = await keysIn(db, TraceKeySpace.pageFilters);
  t.ok(keys.length >= 1, `${keys.length} page filter values`);
  await damageValue(db, keys[0] as Uint8Array, 0x04);
  t.equal(await outcomeCode(searchShard(store, db, TENANT, q, () => false)), 'ERR_CORRUPTION', 'one flipped bit in page filters');
  await deleteKeys(db, keys);
  const stats: ScanStats = newScanStats();
  const a = await searchShard(store, db, TENANT, q, () => false);
  Object.assign(stats, a.stats);
  t.equal(json(a), want, 'same answer without page filters');
  t.ok(stats.blocksScanned >= 1, 'the blocks are read whole');
});

/** SpaceGetCounter is a KvRead over `inner` that counts the values got (get and getMany) of one key space. */
class SpaceGetCounter implements KvRead {
  gets = 0;
  constructor(
    readonly inner: KvRead,
    readonly space: number,
  ) {}
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    if (key[0] === this.space) this.gets++;
    return this.inner.get(key);
  }
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    for (const k of keys) if (k[0] === this.space) this.gets++;
    return this.inner.getMany(keys);
  }
  pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]> {
    return this.inner.pages(range, pageEntries);
  }
}

t.test('blocks of both layouts in one database: a tag or TraceQL search on the skipped key reads no index of a version-2 block, and answers as a full scan', async (t) => {
  const rand = new SeededRand(SEED + 4);
  const spans = customerSpans(rand, 600);
  const db = await tempTraceDb(t, 'otlpdb-page-filters-mixed-');
  const half = spans.length >> 1;
  // Flush 1 by the layout before version 2, flush 2 by a new store over the same database (as after an upgrade).
  const older = new TraceStore({}, null, undefined, 'blockBloom');
  await older.load(db);
  const newer = new TraceStore();
  for (const [flushIndex, store, part] of [[1, older, spans.slice(0, half)], [2, newer, spans.slice(half)]] as const) {
    if (store === newer) await newer.load(db);
    store.add(TENANT, part, 1_000);
    store.freeze();
    const batch = new KvWriteBatch();
    await store.writeFrozen({ batch, kv: db, flushIndex });
    await db.write(batch);
    store.dropFrozen();
  }
  const versions = new Set<number>();
  for (const k of await keysIn(db, TraceKeySpace.pageFilters)) {
    const f = decodePageFilters((await db.get(k)) as Uint8Array);
    versions.add(f.skipped === undefined ? 1 : f.block === undefined ? 2 : 3);
  }
  t.same([...versions].sort(), [1, 3], 'page filters of both versions');
  const v1Blocks = (await keysIn(db, TraceKeySpace.meta)).filter((k) => readRef(k, tenantPrefixBytes(TENANT)).flushIndex === 1).length;
  t.ok(v1Blocks >= 1, `${v1Blocks} blocks of the older layout`);
  // The blocks that must read their index: the older layout's, and version-2 blocks that index customer.id (few values there).
  let decided = 0;
  for (const k of await keysIn(db, TraceKeySpace.pageFilters)) if (decodePageFilters((await db.get(k)) as Uint8Array).skipped?.skippedKeys.has('customer.id') === true) decided++;
  t.ok(decided >= 1, `${decided} version-2 blocks skip customer.id`);
  const indexed = (await keysIn(db, TraceKeySpace.meta)).length - decided;
  let found = 0;
  for (let i = 0; i < 30; i++) {
    const c = `c${rand.intn(CUSTOMERS + 20)}`;
    const base = { startNs: 0n, endNs: 1n << 63n, limit: 1000, spss: 3 };
    // Tag searches and TraceQL equalities alternate: both are decided by the page filters of version 2.
    const q: TraceSearchQuery = i % 2 === 0 ? { ...base, predicate: { attrs: [['customer.id', c]] } } : { ...base, predicate: {}, traceql: `{ span.customer.id = ${JSON.stringify(c)} }` };
    const counter = new SpaceGetCounter(db, TraceKeySpace.index);
    const got = await searchShard(newer, counter, TENANT, q, () => false);
    t.equal(json(got), json(await searchShard(newer, db, TENANT, { ...q, fullScan: true }, () => false)), `case ${i} (seed ${SEED + 4}) as a full scan`);
    const reference = new SpaceGetCounter(db, TraceKeySpace.index);
    await searchShard(newer, reference, TENANT, q, () => false, undefined, { earlyStop: true, pageFilters: false });
    t.ok(counter.gets < reference.gets, `case ${i}: ${counter.gets} index values read, ${reference.gets} without page filters`);
    t.ok(counter.gets <= indexed, `case ${i}: at most the ${indexed} blocks not decided by version-2 filters read their index`);
    if (got.traces.length > 0) found++;
  }
  t.ok(found >= 10, `${found} of 30 searches find traces (not vacuous)`);
});
