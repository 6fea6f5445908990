import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { TraceStoreLimits } from '../../limits.js';
import type { SpanRow } from '../rows.js';
import type { KeyRange, KvEntry, KvRead, ShardDb } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import { SpanBlockCache } from './block-cache.js';
import { cacheWritten } from './block-read.js';
import { FlushCacheFill } from './flush-cache-fill.js';
import { TraceKeySpace as K } from './trace-keys.js';
import { TraceStore } from './trace-store.js';
import type { SpanSearch } from './trace-store.js';
import { flushSpans, keysIn, realisticSpans, tempTraceDb } from './traces-test-util.js';

// A flush that keeps the heads and page filters it wrote in the block cache
// (flush-cache-fill.ts): the searches right after each flush answer as a
// store reading every block from LevelDB, without reading those values back;
// the fill is bounded; bytes that do not open are not kept; a fill that keys
// values wrongly is caught by the comparison. Seeded; no timing.

const WIDE: Pick<SpanSearch, 'startNs' | 'endNs'> = { startNs: 0n, endNs: 1n << 62n };

/** ValueReads counts the LevelDB reads of block heads (0x10) and page filters (0x17) by gets and getManys. */
class ValueReads implements KvRead {
  heads = 0;
  filters = 0;
  constructor(readonly inner: KvRead) {}
  #count(k: Uint8Array): void {
    if (k[0] === K.block) this.heads++;
    if (k[0] === K.pageFilters) this.filters++;
  }
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#count(key);
    return this.inner.get(key);
  }
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    for (const k of keys) this.#count(k);
    return this.inner.getMany(keys);
  }
  pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]> {
    return this.inner.pages(range, pageEntries);
  }
}

/** searches are seeded attribute searches (skipped user.id and indexed keys) and tag reads, as one comparable string each. */
async function answers(store: TraceStore, kv: KvRead, spans: readonly SpanRow[], seed: number): Promise<string[]> {
  const rand = new SeededRand(seed);
  const out: string[] = [];
  for (let i = 0; i < 10; i++) {
    const s = spans[rand.intn(spans.length)] as SpanRow;
    const attr = s.attributes.find((a) => a.key === 'user.id') ?? s.attributes[rand.intn(Math.max(1, s.attributes.length))];
    const q: SpanSearch = { ...WIDE, limit: 1 + rand.intn(200), predicate: attr === undefined || attr.value.type !== 'string' ? { name: s.name } : { attrs: [[attr.key, attr.value.value]] } };
    const refs: string[] = [];
    for await (const b of store.searchSpanRefs(kv, 'default', q, newScanStats())) refs.push(...b.traceIds.map((x) => Buffer.from(x).toString('hex')));
    const rows: string[] = [];
    for await (const b of store.searchSpans(kv, 'default', q, newScanStats())) for (const r of b) rows.push(Buffer.from(r.spanId).toString('hex'));
    out.push(`${JSON.stringify(q.predicate)} ${q.limit}: ${refs.join(',')} | ${rows.join(',')}`);
  }
  const ids = [...new Set(spans.map((s) => Buffer.from(s.traceId).toString('hex')))].slice(0, 20);
  for (const id of ids) {
    const r = await store.traceById(kv, 'default', Buffer.from(id, 'hex'));
    out.push(`${id}: ${r.spans.map((s) => Buffer.from(s.spanId).toString('hex')).join(',')}`);
  }
  const tags = await store.readTags(kv, 'default', { ...WIDE, target: { kind: 'values', scope: 'span', key: 'user.id' }, valuesMax: 5000 }, () => false);
  out.push(`tags: ${tags.entries.map((e) => e.text).join(',')}`);
  return out;
}

/** flushInto adds `spans` and flushes them as flush `flushIndex` (traces-test-util flushSpans). */
function flushInto(store: TraceStore, db: ShardDb, spans: readonly SpanRow[], flushIndex: number): Promise<void> {
  return flushSpans(store, db, 'default', spans, flushIndex);
}

/** run flushes `spans` in three flushes through a store over `cache` (fill on or off) and after each flush compares its answers with a store reading LevelDB; it returns the answers and the head and page-filter reads. */
async function run(t: Test, cache: SpanBlockCache, fill: boolean, spans: readonly SpanRow[], seed: number): Promise<{ got: string[][]; want: string[][]; heads: number; filters: number }> {
  const db = await tempTraceDb(t, 'otlpdb-flush-fill-');
  const store = new TraceStore({}, cache, undefined, undefined, fill);
  await store.load(db);
  const got: string[][] = [];
  const want: string[][] = [];
  let heads = 0;
  let filters = 0;
  const per = Math.ceil(spans.length / 3);
  for (let f = 0; f < 3; f++) {
    await flushInto(store, db, spans.slice(f * per, (f + 1) * per), f + 1);
    const kv = new ValueReads(db);
    got.push(await answers(store, kv, spans, seed + f));
    heads += kv.heads;
    filters += kv.filters;
    const plain = new TraceStore();
    await plain.load(db);
    want.push(await answers(plain, db, spans, seed + f));
  }
  return { got, want, heads, filters };
}


t.test('searches right after each flush answer as LevelDB does, and read back no head or page filters the flush wrote', async (t) => {
  const spans = realisticSpans(new SeededRand(91), 150);
  const on = await run(t, new SpanBlockCache(), true, spans, 5);
  t.same(on.got, on.want, 'fill on: every answer after every flush equals a store reading LevelDB');
  const off = await run(t, new SpanBlockCache(), false, spans, 5);
  t.same(off.got, off.want, 'fill off (the reads fill the cache): the same answers');
  t.equal(on.filters, 0, `fill on: no page filters read back from LevelDB (fill off read ${off.filters})`);
  t.ok(off.filters > 0, 'fill off reads page filters back, so the count can fail');
  t.ok(on.heads < off.heads, `fill on reads fewer block heads back (${on.heads} < ${off.heads})`);
});

t.test('a fill keeps at most the cache bound / flushFillShareDivisor a flush and drops what a failed flush noted', async (t) => {
  const db = await tempTraceDb(t, 'otlpdb-flush-fill-bound-');
  const writer = new TraceStore();
  await writer.load(db);
  await flushInto(writer, db, realisticSpans(new SeededRand(95), 60), 1);
  const key = (await keysIn(db, K.pageFilters))[0] as Uint8Array;
  const bytes = (await db.get(key)) as Uint8Array;
  // A cache whose flush share holds exactly three such values.
  const bytesMax = 3 * bytes.length * TraceStoreLimits.flushFillShareDivisor;
  const f = new FlushCacheFill();
  const cache = new SpanBlockCache(bytesMax);
  const c = { cache, space: cache.newSpace() };
  f.begin(c);
  for (let i = 0; i < 20; i++) f.note('p', Uint8Array.of(K.pageFilters, i), bytes);
  t.same(f.commit(c), { kept: 3, skipped: 17 }, 'three values fit the share, seventeen are skipped');
  t.equal(cache.stats().entries, 3);
  f.begin(c);
  f.note('p', Uint8Array.of(K.pageFilters, 1), bytes);
  f.begin(c); // the flush's batch failed; the next flush begins
  t.same(f.commit(c), { kept: 0, skipped: 0 }, 'a new begin drops what the failed flush noted');
  f.begin(c);
  f.note('p', Uint8Array.of(K.pageFilters, 2), bytes);
  t.same(f.commit({ cache, space: cache.newSpace() }), { kept: 0, skipped: 1 }, 'the database was replaced during the flush (a new space): nothing is kept');
  t.equal(cache.stats().entries, 3, 'nothing more reached the cache');
  // A small cache still answers right (most of a flush is not kept, reads fill the rest).
  const spans = realisticSpans(new SeededRand(92), 60);
  const small = await run(t, new SpanBlockCache(64 * 1024), true, spans, 9);
  t.same(small.got, small.want, 'a 64 KiB cache answers as LevelDB');
});

t.test('page filters that do not open are not kept: the read finds and reports them', async (t) => {
  const db = await tempTraceDb(t, 'otlpdb-flush-fill-bad-');
  const writer = new TraceStore();
  await writer.load(db);
  await flushInto(writer, db, realisticSpans(new SeededRand(93), 60), 1);
  const key = (await keysIn(db, K.pageFilters))[0] as Uint8Array;
  const good = (await db.get(key)) as Uint8Array;
  const bad = Uint8Array.from(good);
  bad[bad.length >> 1] = (bad[bad.length >> 1] as number) ^ 0x10;
  const cache = new SpanBlockCache();
  const c = { cache, space: cache.newSpace() };
  t.equal(cacheWritten(c, 'p', key, bad), false, 'a flipped bit: not kept');
  t.equal(cache.stats().entries, 0);
  t.equal(cacheWritten(c, 'p', key, good), true, 'the written bytes: kept');
});

/** PlantedShiftedFill is the bug "a flush keeps each block's page filters under the previous block's key": while `shifting`, a page-filters entry goes under the key of the one set before it. */
class PlantedShiftedFill extends SpanBlockCache {
  shifting = false;
  #prev: string | null = null;
  override set(key: string, value: unknown, bytes: number): void {
    const kind = key[key.indexOf('/') + 1];
    if (!this.shifting || kind !== 'p') return super.set(key, value, bytes);
    const prev = this.#prev;
    this.#prev = key;
    if (prev !== null) super.set(prev, value, bytes);
  }
}

t.test('planted: a fill that keys page filters wrongly is caught by the comparison', async (t) => {
  const db = await tempTraceDb(t, 'otlpdb-flush-fill-planted-');
  const cache = new PlantedShiftedFill();
  const store = new TraceStore({}, cache);
  await store.load(db);
  const spans = realisticSpans(new SeededRand(94), 150);
  // Three flushes, each of its own blocks: each flush's page filters are kept under the previous block's key.
  cache.shifting = true;
  const per = Math.ceil(spans.length / 3);
  for (let f = 0; f < 3; f++) await flushInto(store, db, spans.slice(f * per, (f + 1) * per), f + 1);
  cache.shifting = false;
  const plain = new TraceStore();
  await plain.load(db);
  const want = await answers(plain, db, spans, 17);
  const got = await answers(store, db, spans, 17);
  const differ = got.filter((a, i) => a !== want[i]).length;
  t.ok((await keysIn(db, K.pageFilters)).length >= 2, 'the flushes wrote page filters for several blocks');
  t.ok(differ > 0, `planted: ${differ} of ${want.length} answers differ, so the comparison catches it`);
});
