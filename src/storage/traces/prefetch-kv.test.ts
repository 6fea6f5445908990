/**
 * prefetch-kv.test.ts — a search on a skipped key gets its blocks' page
 * filters in one getMany per run of blocks (prefetch-kv.ts): the same
 * answers and bytes as without, fewer LevelDB calls; a prefetch that pairs
 * values with the wrong keys (planted) is caught by the same differential.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { KeyRange, KvEntry, KvRead } from '../shard/shard-db.js';
import { searchShard } from '../../query/trace-search-shard.js';
import type { TraceSearchQuery } from '../../query/search-params.js';
import { SpanBlockCache } from './block-cache.js';
import { PrefetchKv } from './prefetch-kv.js';
import { TraceKeySpace, readRef, tenantPrefixBytes } from './trace-keys.js';
import { TraceStore } from './trace-store.js';
import { keysIn } from './traces-test-util.js';
import { TENANT, customerSpans, json, storeWith } from './page-filters-test-util.js';

const SEED = Number(process.env.OTLPDB_SEARCH_SEED ?? 20261215);
const CUSTOMERS = 1500;

/** CallCounter counts the LevelDB calls (get, getMany, pages) made through it; `rotate` plants a getMany that pairs each key with the next key's value. */
class CallCounter implements KvRead {
  calls = 0;
  /** pageFilterGets and pageFilterManyKeys count page filter keys asked one by one and in getMany. */
  pageFilterGets = 0;
  pageFilterManyKeys = 0;
  constructor(
    readonly inner: KvRead,
    readonly rotate = false,
  ) {}
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.calls++;
    if (key[0] === TraceKeySpace.pageFilters) this.pageFilterGets++;
    return this.inner.get(key);
  }
  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.calls++;
    for (const k of keys) if (k[0] === TraceKeySpace.pageFilters) this.pageFilterManyKeys++;
    const got = await this.inner.getMany(keys);
    return this.rotate && keys.every((k) => k[0] === TraceKeySpace.pageFilters) ? got.map((_v, i) => got[(i + 1) % got.length]) : got;
  }
  pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]> {
    this.calls++;
    return this.inner.pages(range, pageEntries);
  }
}

function search(rand: SeededRand): TraceSearchQuery {
  const c = `c${rand.intn(CUSTOMERS + 50)}`;
  const base = { startNs: 0n, endNs: 1n << 63n, limit: [2, 1000][rand.intn(2)] as number, spss: 3 };
  return rand.intn(3) === 0 ? { ...base, predicate: {}, traceql: `{ span.customer.id = ${JSON.stringify(c)} }` } : { ...base, predicate: { attrs: [['customer.id', c]] } };
}

t.test('PrefetchKv answers each prefetched key once, as the snapshot would, in one getMany', async (t) => {
  const store = new TraceStore();
  const db = await storeWith(t, customerSpans(new SeededRand(SEED), 1200, CUSTOMERS), 3, store);
  const keys = await keysIn(db, TraceKeySpace.pageFilters);
  t.ok(keys.length >= 3, `${keys.length} blocks with page filters`);
  const refs = keys.map((k) => readRef(k, tenantPrefixBytes(TENANT)));
  const counter = new CallCounter(db);
  const p = new PrefetchKv(counter);
  await p.prefetchPageFilters(TENANT, refs, null);
  t.equal(counter.calls, 1, 'one getMany');
  for (const k of keys) t.same(await p.get(k), await db.get(k), 'the snapshot\'s value');
  t.equal(counter.calls, 1, 'no further call for prefetched keys');
  await p.get(keys[0] as Uint8Array);
  t.equal(counter.calls, 2, 'a value is handed out once: asked again, it is read');
  t.equal(p.calls, 1, 'prefetch calls counted');
});

t.test('searches with the prefetch equal whole-block reads and a full scan and get page filters in getMany; a rotated prefetch is caught', async (t) => {
  const spans = customerSpans(new SeededRand(SEED + 1), 1500, CUSTOMERS);
  const rand = new SeededRand(SEED + 2);
  const queries = Array.from({ length: 24 }, () => search(rand));
  for (const cache of [null, new SpanBlockCache()]) {
    const store = new TraceStore({}, cache);
    const db = await storeWith(t, spans, 4, store);
    const fetched = { one: 0, many: 0 };
    let found = 0;
    let caught = 0;
    for (const [i, q] of queries.entries()) {
      const what = `${cache === null ? 'uncached' : 'cached'} case ${i} (reproduce: OTLPDB_SEARCH_SEED=${SEED})`;
      const counter = new CallCounter(db);
      const got = await searchShard(store, counter, TENANT, q, () => false);
      const ref = await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, pageFilters: false });
      t.equal(json(got), json(ref), `${what}: as whole blocks`);
      t.equal(json(got), json(await searchShard(store, db, TENANT, { ...q, fullScan: true }, () => false)), `${what}: as a full scan`);
      fetched.one += counter.pageFilterGets;
      fetched.many += counter.pageFilterManyKeys;
      if (got.traces.length > 0) found++;
      // Planted: a prefetch whose values belong to other blocks (only an uncached run fetches every block's).
      const planted = await searchShard(store, new CallCounter(db, true), TENANT, q, () => false).then(json, (e: unknown) => `threw ${String(e)}`);
      if (planted !== json(ref)) caught++;
    }
    t.ok(found >= 6, `${found} of ${queries.length} searches find traces (not vacuous)`);
    if (cache === null) {
      t.ok(caught > 0, `a rotated prefetch changed ${caught} of ${queries.length} answers`);
      // Without the prefetch every block's page filters came one get each.
      t.ok(fetched.many > fetched.one, `page filters: ${fetched.many} fetched in getMany, ${fetched.one} one by one`);
    }
  }
});
