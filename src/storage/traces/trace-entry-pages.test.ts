import t from 'tap';
import { OtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ByteWriter } from '../codec/varint.js';
import type { SpanRow } from '../rows.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import type { KeyRange, KvEntry, KvRead, ShardDb } from '../shard/shard-db.js';
import { SpanBlockCache } from './block-cache.js';
import { TraceKeySpace, decodeTraceEntry, encodeTraceEntry, readRef, tenantPrefixBytes } from './trace-keys.js';
import type { TraceEntry } from './trace-keys.js';
import { TraceStore } from './trace-store.js';
import { addAndFlush, realisticSpans, tempTraceDb } from './traces-test-util.js';

const SEED = Number(process.env.OTLPDB_SEARCH_SEED ?? 20261130);
const TENANT = 'acme';

/** CallCounter is a KvRead over `inner` that counts its LevelDB calls: gets, getManys and iterators opened. */
class CallCounter implements KvRead {
  calls = 0;
  constructor(readonly inner: KvRead) {}
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.calls++;
    return this.inner.get(key);
  }
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.calls++;
    return this.inner.getMany(keys);
  }
  pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]> {
    this.calls++;
    return this.inner.pages(range, pageEntries);
  }
}

/** rewriteEntries rewrites every trace-id index entry through `change`; returns how many it rewrote. */
async function rewriteEntries(db: ShardDb, change: (e: TraceEntry) => TraceEntry): Promise<number> {
  const batch = new KvWriteBatch();
  const w = new ByteWriter();
  let n = 0;
  const offset = tenantPrefixBytes(TENANT) + 16;
  for await (const page of db.pages({ gte: Uint8Array.of(TraceKeySpace.traceId), lt: Uint8Array.of(TraceKeySpace.traceId + 1) })) {
    for (const e of page) {
      const ref = readRef(e.key, offset);
      batch.put(e.key, Uint8Array.from(encodeTraceEntry(w, ref.bucket, change(decodeTraceEntry(e.value, ref.bucket)))));
      n++;
    }
  }
  await db.write(batch);
  return n;
}

const traceIdsOf = (spans: readonly SpanRow[]): Uint8Array[] => {
  const seen = new Map<string, Uint8Array>();
  for (const s of spans) seen.set(Buffer.from(s.traceId).toString('hex'), s.traceId);
  return [...seen.values()];
};

const answer = async (store: TraceStore, kv: KvRead, id: Uint8Array): Promise<string> =>
  store.traceById(kv, TENANT, id).then(
    (r) => JSON.stringify(r.spans.map((s) => Buffer.from(s.spanId).toString('hex'))),
    (err: unknown) => (err instanceof OtlpdbError ? `threw ${err.code}` : 'threw'),
  );

t.test('a trace-id entry names its pages: a cold lookup is 2 LevelDB calls (index scan, one getMany of head and pages), entries without pages 3, same answers', async (t) => {
  const rand = new SeededRand(SEED);
  const spans = realisticSpans(rand, 300, TENANT);
  const db = await tempTraceDb(t, 'otlpdb-entry-pages-');
  await addAndFlush(new TraceStore(), db, TENANT, spans, 997, 2);
  const ids = traceIdsOf(spans);
  const measure = async (): Promise<{ answers: string[]; calls: number[] }> => {
    const answers: string[] = [];
    const calls: number[] = [];
    for (const id of ids) {
      const kv = new CallCounter(db);
      const store = new TraceStore(); // no block cache: every lookup is a first read
      answers.push(await answer(store, kv, id));
      calls.push(kv.calls);
    }
    return { answers, calls };
  };
  const withPages = await measure();
  const oneBlock = withPages.calls.filter((c) => c === 2).length;
  t.ok(oneBlock > ids.length / 2, `${oneBlock} of ${ids.length} lookups take 2 calls (a trace in one block)`);
  // The same database with entries as written before s13 (no pages).
  t.ok((await rewriteEntries(db, (e) => ({ spans: e.spans, minStartNs: e.minStartNs, maxEndNs: e.maxEndNs }))) > 0, 'entries rewritten without pages');
  const without = await measure();
  t.same(without.answers, withPages.answers, 'the same spans for every trace');
  t.equal(without.calls.filter((c) => c === 3).length, oneBlock, 'entries without pages: 3 calls for a trace in one block');
  // A trace in b blocks: 1 + b calls with pages, 1 + 2b without (a head-only trace: 1 and 1).
  t.ok(
    without.calls.every((c, i) => c === 2 * (withPages.calls[i] as number) - 1),
    'one getMany per block with pages, a get and a getMany per block without',
  );
  // With a block cache a head already read is not fetched again; the answers stay the same.
  const cached = new TraceStore({}, new SpanBlockCache());
  t.same(await Promise.all(ids.map((id) => answer(cached, db, id))), withPages.answers, 'cached: the same spans');
});

t.test('planted bug: entries naming the next page (or one page too few) are refused as ERR_CORRUPTION', async (t) => {
  for (const [what, change] of [
    ['pages shifted by one', (e: TraceEntry): TraceEntry => (e.pages === undefined ? e : { ...e, pages: { first: e.pages.first + 1, last: e.pages.last + 1 } })],
    ['the last page dropped', (e: TraceEntry): TraceEntry => (e.pages === undefined || e.pages.last === e.pages.first ? e : { ...e, pages: { first: e.pages.first, last: e.pages.last - 1 } })],
  ] as const) {
    const rand = new SeededRand(SEED + 1);
    const spans = realisticSpans(rand, 300, TENANT);
    const db = await tempTraceDb(t, 'otlpdb-entry-pages-planted-');
    const store = new TraceStore();
    await addAndFlush(store, db, TENANT, spans, 997, 2);
    const ids = traceIdsOf(spans);
    const want = await Promise.all(ids.map((id) => answer(store, db, id)));
    t.ok(want.every((a) => !a.startsWith('threw')), `${what}: every lookup answers before the plant`);
    await rewriteEntries(db, change);
    let refused = 0;
    let wrong = 0;
    for (const [i, id] of ids.entries()) {
      const got = await answer(store, db, id);
      if (got === 'threw ERR_CORRUPTION') refused++;
      else if (got !== want[i]) wrong++;
    }
    t.equal(wrong, 0, `${what}: no wrong answer`);
    t.ok(refused > 0, `${what}: ${refused} of ${ids.length} lookups refused`);
  }
});
