import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { BlockCacheLimits } from '../../limits.js';
import type { SpanRow } from '../rows.js';
import { KvWriteBatch, ShardDb } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import { SpanBlockCache } from './block-cache.js';
import { TraceStore } from './trace-store.js';
import type { SpanSearch } from './trace-store.js';
import { realisticSpans } from './traces-test-util.js';

// The block cache: its bound and order, and that a store reading through it
// answers exactly as one that reads every block from LevelDB, also after its
// database is replaced by another lineage (a snapshot installed) whose block
// keys name other blocks. Seeded; no timing.

const KIB = 1024;

t.test('the LRU keeps at most bytesMax, evicts the least recently used, refuses an entry over its share', async (t) => {
  const c = new SpanBlockCache(100 * KIB);
  for (let i = 0; i < 10; i++) c.set(`k${i}`, i, 10 * KIB);
  t.equal(c.stats().bytes, 100 * KIB);
  t.equal(c.get('k0'), 0, 'k0 is now the most recently used');
  c.set('k10', 10, 10 * KIB);
  t.equal(c.get('k1'), undefined, 'k1, the least recently used, was evicted');
  t.equal(c.get('k0'), 0, 'k0 stayed');
  t.ok(c.stats().bytes <= 100 * KIB);
  c.set('big', 'x', Math.floor((100 * KIB) / BlockCacheLimits.entryShareDivisor) + 1);
  t.equal(c.get('big'), undefined, 'an entry over bytesMax / entryShareDivisor is not kept');
  c.set('k0', 'again', 5 * KIB);
  t.equal(c.get('k0'), 'again', 'a key set again takes the new value');
  const off = new SpanBlockCache(0);
  off.set('a', 1, 1);
  t.equal(off.get('a'), undefined, 'bytesMax 0 keeps nothing');
  t.not(c.newSpace(), c.newSpace(), 'every space is new');
  t.throws(() => new SpanBlockCache(BlockCacheLimits.bytesMax + 1));
});

function tempDb(t: Test): () => Promise<ShardDb> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-block-cache-'));
  const dbs: ShardDb[] = [];
  t.teardown(async () => {
    for (const db of dbs) await db.close().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  });
  let n = 0;
  return async () => {
    const db = await ShardDb.open(path.join(root, `db${n++}`));
    dbs.push(db);
    return db;
  };
}

/** flushAll writes `spans` into `db` in `flushes` flushes (flush indexes 1..), through a store that is then dropped. */
async function flushAll(db: ShardDb, spans: readonly SpanRow[], flushes: number): Promise<void> {
  const w = new TraceStore();
  await w.load(db);
  const per = Math.ceil(spans.length / flushes);
  for (let f = 0; f < flushes; f++) {
    w.add('default', spans.slice(f * per, (f + 1) * per), 0);
    w.freeze();
    const batch = new KvWriteBatch();
    await w.writeFrozen({ kv: db, batch, flushIndex: f + 1 });
    await db.write(batch);
    w.dropFrozen();
  }
}

const WIDE: Pick<SpanSearch, 'startNs' | 'endNs'> = { startNs: 0n, endNs: 1n << 62n };

/** answers is every trace looked up and a seeded set of searches, as one comparable string per read. */
async function answers(store: TraceStore, db: ShardDb, spans: readonly SpanRow[], seed: number): Promise<string[]> {
  const rand = new SeededRand(seed);
  const out: string[] = [];
  const ids = new Map<string, Uint8Array>();
  for (const s of spans) ids.set(Buffer.from(s.traceId).toString('hex'), s.traceId);
  for (const id of ids.values()) {
    const r = await store.traceById(db, 'default', id);
    out.push(`${Buffer.from(id).toString('hex')}: ${r.spans.map((s) => Buffer.from(s.spanId).toString('hex')).join(',')} ${r.truncated}`);
  }
  for (let i = 0; i < 8; i++) {
    const s = spans[rand.intn(spans.length)] as SpanRow;
    const attr = s.attributes[rand.intn(Math.max(1, s.attributes.length))];
    const q: SpanSearch = {
      ...WIDE,
      limit: 1 + rand.intn(200),
      predicate: attr === undefined || attr.value.type !== 'string' ? { name: s.name } : { attrs: [[attr.key, attr.value.value]] },
    };
    const rows: string[] = [];
    for await (const b of store.searchSpans(db, 'default', q, newScanStats())) for (const r of b) rows.push(Buffer.from(r.spanId).toString('hex'));
    const refs: string[] = [];
    for await (const b of store.searchSpanRefs(db, 'default', q, newScanStats())) refs.push(...b.traceIds.map((x) => Buffer.from(x).toString('hex')));
    out.push(`search ${JSON.stringify(q.predicate)} ${q.limit}: ${rows.join(',')} | ${refs.join(',')}`);
  }
  // Tag reads: names (block indexes only) and the values of an indexed and of a skipped key (user.id: the blocks are read).
  for (const target of [{ kind: 'names', scopes: ['span', 'resource'] }, { kind: 'values', scope: 'any', key: 'http.method' }, { kind: 'values', scope: 'span', key: 'user.id' }] as const) {
    const a = await store.readTags(db, 'default', { ...WIDE, target, valuesMax: 5000 }, () => false);
    out.push(`tags ${JSON.stringify(target)}: ${a.partial} ${a.entries.map((e) => `${e.kind}:${e.text}`).join(',')}`);
  }
  return out;
}

t.test('a store reading through the cache answers as one reading LevelDB, cold and warm', async (t) => {
  const open = tempDb(t);
  const db = await open();
  const spans = realisticSpans(new SeededRand(61), 120);
  await flushAll(db, spans, 3);
  const plain = new TraceStore();
  await plain.load(db);
  const cache = new SpanBlockCache();
  const cached = new TraceStore({}, cache);
  await cached.load(db);
  const want = await answers(plain, db, spans, 7);
  t.same(await answers(cached, db, spans, 7), want, 'cold cache (seed 7)');
  t.same(await answers(cached, db, spans, 7), want, 'warm cache (seed 7)');
  t.ok(cache.stats().hits > 0, `the second round hit the cache (${JSON.stringify(cache.stats())})`);
  // A cache too small to keep a block still answers right (every read misses).
  const tiny = new TraceStore({}, new SpanBlockCache(4 * KIB));
  await tiny.load(db);
  t.same(await answers(tiny, db, spans, 7), want, 'a tiny cache');
});

/** PlantedSharedSpace is the bug "a reloaded database keeps the old lineage's space": every space is the same. */
class PlantedSharedSpace extends SpanBlockCache {
  override newSpace(): string {
    return 'same/';
  }
}

t.test('a database of another lineage (same block keys, other blocks) is never answered from the old one', async (t) => {
  const open = tempDb(t);
  const a = await open();
  const b = await open();
  // Same flush index (1) and the same hour bucket, different traces: the same block keys name different blocks.
  const spansA = realisticSpans(new SeededRand(1), 60);
  const spansB = realisticSpans(new SeededRand(2), 60);
  await flushAll(a, spansA, 1);
  await flushAll(b, spansB, 1);
  const plainB = new TraceStore();
  await plainB.load(b);
  const wantB = await answers(plainB, b, spansB, 3);
  const run = async (cache: SpanBlockCache): Promise<string[] | string> => {
    const store = new TraceStore({}, cache);
    await store.load(a);
    await answers(store, a, spansA, 3); // warm the cache with lineage A
    await store.load(b); // the database replaced (a snapshot installed)
    return answers(store, b, spansB, 3).catch((err: unknown) => `threw ${String(err)}`);
  };
  t.same(await run(new SpanBlockCache()), wantB, 'after load, lineage B answers as B');
  const planted = await run(new PlantedSharedSpace());
  t.notSame(planted, wantB, 'planted: a shared space answers B from A\'s blocks, and the comparison catches it');
});
