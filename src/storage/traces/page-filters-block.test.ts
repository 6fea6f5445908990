/**
 * page-filters-block.test.ts — page filters of version 3 (page-filters.ts):
 * the block-level filter asked before the pages'. A search on a skipped key
 * answers as reading whole blocks and as a full scan, opens fewer blocks
 * than version 2 (the s13 regression: a block of P pages lacking the value
 * was opened with probability 1 - 0.975^P), a planted wrong block filter is
 * caught, and damaged values are refused.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { openBlock, sealBlock, BlockKind } from '../block.js';
import { ByteWriter } from '../codec/varint.js';
import type { SpanRow } from '../rows.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import { searchShard } from '../../query/trace-search-shard.js';
import type { TraceSearchQuery } from '../../query/search-params.js';
import { SpanBlockCache } from './block-cache.js';
import { buildBloom, decodeBloom, encodeBloom } from '../bloom.js';
import { decodePageFilters, pagesMayHoldAttrs, sealPageFilters } from './page-filters.js';
import { attrTermKey } from './span-index.js';
import { TraceKeySpace } from './trace-keys.js';
import { TraceStore } from './trace-store.js';
import { damageValue, keysIn, outcomeCode } from './traces-test-util.js';
import { TENANT, customerSpans, json, storeWith } from './page-filters-test-util.js';

const SEED = Number(process.env.OTLPDB_SEARCH_SEED ?? 20261214);
/** SELECTIVE_CUSTOMERS: about one trace a customer, as the bench's selective search (a block lacks most values). */
const SELECTIVE_CUSTOMERS = 1500;

/** selectiveSearch is a tag search or the TraceQL equality on one customer (a few do not exist). */
function selectiveSearch(rand: SeededRand): TraceSearchQuery {
  const c = `c${rand.intn(SELECTIVE_CUSTOMERS + 50)}`;
  const base = { startNs: 0n, endNs: 1n << 63n, limit: [3, 1000][rand.intn(2)] as number, spss: 3 };
  return rand.intn(3) === 0 ? { ...base, predicate: {}, traceql: `{ span.customer.id = ${JSON.stringify(c)} }` } : { ...base, predicate: { attrs: [['customer.id', c]] } };
}

function spansOf(seed: number): SpanRow[] {
  return customerSpans(new SeededRand(seed), 1200, SELECTIVE_CUSTOMERS);
}

t.test('the flush writes version 3 (a block filter) by default and version 2 (none) with layout pageTermsV2, in about the same bytes', async (t) => {
  const spans = spansOf(SEED);
  const bytes = { pageTerms: 0, pageTermsV2: 0 };
  for (const layout of ['pageTerms', 'pageTermsV2'] as const) {
    const db = await storeWith(t, spans, 2, new TraceStore({}, null, undefined, layout));
    const keys = await keysIn(db, TraceKeySpace.pageFilters);
    t.ok(keys.length >= 2, `${layout}: ${keys.length} blocks with page filters`);
    for (const k of keys) {
      const v = (await db.get(k)) as Uint8Array;
      bytes[layout] += v.length;
      const f = decodePageFilters(v);
      t.not(f.skipped, undefined, `${layout}: skipped keys carried`);
      if (layout === 'pageTerms') t.ok(f.block !== undefined && f.block !== null, 'version 3: a block filter');
      else t.equal(f.block, undefined, 'version 2: no block filter');
    }
  }
  // Version 3 splits about version 2's bits a term between the block and its pages (limits.ts): no more than 25% larger.
  t.ok(bytes.pageTerms <= bytes.pageTermsV2 * 1.25, `version 3 ${bytes.pageTerms} B, version 2 ${bytes.pageTermsV2} B`);
});

t.test('version 3 answers as whole blocks and a full scan (seeded differential) and opens fewer blocks than version 2', async (t) => {
  const spans = spansOf(SEED + 1);
  const rand = new SeededRand(SEED + 2);
  const cases = Number(process.env.OTLPDB_SEARCH_CASES ?? 24);
  const queries = Array.from({ length: cases }, () => selectiveSearch(rand));
  const opened: Record<string, number> = {};
  let found = 0;
  for (const [layout, cache] of [['pageTerms', null], ['pageTerms', new SpanBlockCache()], ['pageTermsV2', null]] as const) {
    const store = new TraceStore({}, cache, undefined, layout);
    const db = await storeWith(t, spans, 3, store);
    const label = `${layout} ${cache === null ? 'uncached' : 'cached'}`;
    opened[label] = 0;
    for (const [i, q] of queries.entries()) {
      const what = `${label} case ${i} (reproduce: OTLPDB_SEARCH_SEED=${SEED}): ${JSON.stringify(q, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`;
      const got = await searchShard(store, db, TENANT, q, () => false);
      t.equal(json(got), json(await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, pageFilters: false })), `${what}: as whole blocks`);
      t.equal(json(got), json(await searchShard(store, db, TENANT, { ...q, fullScan: true }, () => false)), `${what}: as a full scan`);
      opened[label] += got.stats.blocksScanned;
      if (layout === 'pageTerms' && cache === null && got.traces.length > 0) found++;
    }
  }
  t.ok(found > cases / 3, `${found} of ${cases} searches find traces (not vacuous)`);
  t.ok((opened['pageTerms uncached'] as number) < (opened['pageTermsV2 uncached'] as number), `blocks opened: version 3 ${opened['pageTerms uncached']}, version 2 ${opened['pageTermsV2 uncached']}`);
  t.equal(opened['pageTerms cached'], opened['pageTerms uncached'], 'the cache does not change which blocks open');
});

t.test('planted: each block given the next block\'s block filter loses matches, and the differential sees it', async (t) => {
  const spans = spansOf(SEED + 3);
  const rand = new SeededRand(SEED + 4);
  const store = new TraceStore();
  const db = await storeWith(t, spans, 2, store);
  const queries = Array.from({ length: 20 }, () => selectiveSearch(rand));
  const want: string[] = [];
  for (const q of queries) want.push(json(await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, pageFilters: false })));
  const keys = await keysIn(db, TraceKeySpace.pageFilters);
  const filters = await Promise.all(keys.map(async (k) => decodePageFilters((await db.get(k)) as Uint8Array)));
  t.ok(keys.length >= 2, `${keys.length} blocks`);
  const b = new KvWriteBatch();
  keys.forEach((k, i) => {
    const f = filters[i];
    const next = filters[(i + 1) % filters.length];
    if (f === undefined || next === undefined) return;
    t.ok(f.block !== undefined, 'version 3');
    b.put(k, sealPageFilters(new ByteWriter(), { ...f, block: next.block ?? null }));
  });
  await db.write(b);
  let caught = 0;
  for (const [i, q] of queries.entries()) {
    if (json(await searchShard(store, db, TENANT, q, () => false)) !== want[i]) caught++;
    t.equal(json(await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, pageFilters: false })), want[i], `query ${i}: the reference reads whole blocks`);
  }
  t.ok(caught > 0, `wrong block filters changed ${caught} of ${queries.length} answers`);
});

t.test('damaged version-3 page filters are refused (ERR_CORRUPTION): a flipped bit, a cut block filter, an unknown version', async (t) => {
  const spans = spansOf(SEED + 5);
  const store = new TraceStore();
  const db = await storeWith(t, spans, 1, store);
  const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: { attrs: [['customer.id', 'c7']] }, limit: 1000, spss: 3 };
  const keys = await keysIn(db, TraceKeySpace.pageFilters);
  const k = keys[0] as Uint8Array;
  const good = (await db.get(k)) as Uint8Array;
  const payload = openBlock(good, BlockKind.blockMeta);
  t.equal(payload[0], 3, 'version 3 written');
  const cut = sealBlock(BlockKind.blockMeta, payload.subarray(0, payload.length - 1));
  const unknown = sealBlock(BlockKind.blockMeta, Uint8Array.of(4, ...payload.subarray(1)));
  t.equal(await outcomeCode(Promise.resolve().then(() => decodePageFilters(cut))), 'ERR_CORRUPTION', 'a value one byte short');
  t.equal(await outcomeCode(Promise.resolve().then(() => decodePageFilters(unknown))), 'ERR_CORRUPTION', 'version 4');
  await damageValue(db, k, 0x10);
  t.equal(await outcomeCode(searchShard(store, db, TENANT, q, () => false)), 'ERR_CORRUPTION', 'one flipped bit, through a search');
});

t.test('a page filter is decoded when first asked: a bad filter header is ERR_CORRUPTION then, and the others answer', async (t) => {
  const good = encodeBloom(buildBloom([attrTermKey('customer.id', 'c1')], 0.01));
  const bad = Uint8Array.from(good);
  bad[0] = 9; // bloom.ts version 9
  const w = new ByteWriter();
  w.u8(3);
  w.u8(4);
  w.uvarint(256);
  w.uvarint(2);
  for (const keys of [['customer.id'], [], []]) {
    w.uvarint(keys.length);
    for (const k of keys) w.str(k);
  }
  for (const bloom of [good, good, bad]) {
    w.uvarint(bloom.length);
    w.raw(bloom);
  }
  const f = decodePageFilters(sealBlock(BlockKind.blockMeta, w.finish()));
  t.equal(f.filters.length, 2, 'decoded without asking the pages');
  t.same(pagesMayHoldAttrs({ ...f, filters: [f.filters[0] ?? null] }, [['customer.id', 'c1']]), [0], 'the good page answers');
  t.equal(await outcomeCode(Promise.resolve().then(() => pagesMayHoldAttrs(f, [['customer.id', 'c1']]))), 'ERR_CORRUPTION', 'asking the bad page');
  // Planted: the bytes of page 0 answering for page 1 (a lazy filter bound to the wrong bytes) change what page 1 says.
  const block = buildBloom([attrTermKey('customer.id', 'c1'), attrTermKey('customer.id', 'c2')], 0.01);
  const other = decodePageFilters(sealPageFilters(new ByteWriter(), { ...f, block, filters: [f.filters[0] ?? null, decodeBloom(encodeBloom(buildBloom([attrTermKey('customer.id', 'c2')], 0.01)))] }));
  t.same(pagesMayHoldAttrs(other, [['customer.id', 'c2']]), [1], 'page 1 holds c2');
  t.same(pagesMayHoldAttrs({ ...other, filters: [other.filters[0] ?? null, other.filters[0] ?? null] }, [['customer.id', 'c2']]).length, 0, 'planted: page 0 bytes for page 1 lose it');
});
