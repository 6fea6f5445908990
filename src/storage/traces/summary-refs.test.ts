import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ByteWriter } from '../codec/varint.js';
import type { SpanRow } from '../rows.js';
import type { KeyRange, KvEntry, KvRead, ShardDb } from '../shard/shard-db.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import { SpanBlockCache } from './block-cache.js';
import { timeOnlyPredicate } from './summary-refs.js';
import { TraceKeySpace } from './trace-keys.js';
import { TraceStore } from './trace-store.js';
import type { SpanSearch } from './trace-store.js';
import { decodeTraceSummaries, encodeTraceSummaries } from './trace-summaries.js';
import type { TraceSummaryEntry } from './trace-summaries.js';
import { addAndFlush, realisticSpans, rewriteSummaries, tempTraceDb } from './traces-test-util.js';

// The candidate stage of a time-only search (TraceStore.searchSpanRefs) takes
// a block's (trace id, start) pairs from its trace summaries when they say
// exactly what its rows say (summary-refs.ts). What its caller keeps of the
// pairs — per trace the latest start and the number of spans — and the
// frontier's promise must be the same as reading every block.
// Reproduce: OTLPDB_SUMMARY_REFS_SEED=<seed> npx tap src/storage/traces/summary-refs.test.ts

const SEED = Number(process.env.OTLPDB_SUMMARY_REFS_SEED ?? 20261128);
const TENANT = 'acme';
const HOUR_NS = 3_600_000_000_000n;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** spansOver: realistic traces spread over three hours (some cross a bucket), some spans sent again later (a newer version in a later flush). */
function spansOver(rand: SeededRand, traces: number): SpanRow[] {
  const spans = realisticSpans(rand, traces, TENANT);
  const shift = new Map<string, bigint>();
  const out = spans.map((s) => {
    const k = hex(s.traceId);
    let d = shift.get(k);
    if (d === undefined) shift.set(k, (d = BigInt(rand.intn(3)) * HOUR_NS + BigInt(rand.intn(3_600)) * 1_000_000_000n));
    return { ...s, startTimeUnixNano: s.startTimeUnixNano + d, endTimeUnixNano: s.endTimeUnixNano + d };
  });
  for (let i = 0; i < out.length / 40; i++) {
    const s = out[rand.intn(out.length)] as SpanRow;
    const moved = BigInt(rand.intn(2_000)) * 1_000_000n;
    out.push({ ...s, startTimeUnixNano: s.startTimeUnixNano - moved, endTimeUnixNano: s.endTimeUnixNano + moved });
  }
  return out;
}

/** IndexReads counts the gets of block indexes (0x11): the block path reads one per block, the summaries path none. */
class IndexReads implements KvRead {
  gets = 0;
  constructor(readonly inner: KvRead) {}
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    if (key[0] === TraceKeySpace.index) this.gets++;
    return this.inner.get(key);
  }
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return this.inner.getMany(keys);
  }
  pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]> {
    return this.inner.pages(range, pageEntries);
  }
}

/** Kept is what the caller keeps of a candidate stage: per trace its latest start and its spans, and whether every frontier held. */
interface Kept {
  readonly traces: string;
  readonly frontierHeld: boolean;
  readonly blocksScanned: number;
}

async function candidates(store: TraceStore, kv: KvRead, q: SpanSearch): Promise<Kept> {
  const per = new Map<string, { last: bigint; spans: number }>();
  let frontier: bigint | null | undefined;
  let frontierHeld = true;
  const stats = newScanStats();
  for await (const b of store.searchSpanRefs(kv, TENANT, q, stats)) {
    for (const [i, id] of b.traceIds.entries()) {
      const start = b.startsNs[i] as bigint;
      // A span yielded after a batch starts at or before that batch's frontier (null: nothing is left).
      if (frontier === null || (frontier !== undefined && start > frontier)) frontierHeld = false;
      const k = hex(id);
      const c = per.get(k);
      if (c === undefined) per.set(k, { last: start, spans: 1 });
      else {
        c.spans++;
        if (start > c.last) c.last = start;
      }
    }
    frontier = b.frontierNs;
  }
  const traces = [...per].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, c]) => `${k}:${c.last}:${c.spans}`).join(',');
  return { traces, frontierHeld, blocksScanned: stats.blocksScanned };
}

function randomSearch(rand: SeededRand, spans: readonly SpanRow[]): SpanSearch {
  const s = spans[rand.intn(spans.length)] as SpanRow;
  const wide = rand.intn(3) === 0;
  return {
    startNs: wide ? 0n : s.startTimeUnixNano - BigInt(rand.intn(7_200)) * 1_000_000_000n,
    endNs: wide ? 1n << 63n : s.startTimeUnixNano + BigInt(1 + rand.intn(7_200)) * 1_000_000_000n,
    predicate: {},
    limit: [1, 50, 500, 100_000][rand.intn(4)] as number,
  };
}

async function storeWith(t: Test, spans: readonly SpanRow[], cache: SpanBlockCache | null): Promise<{ store: TraceStore; db: ShardDb }> {
  const db = await tempTraceDb(t, 'otlpdb-summary-refs-');
  const store = new TraceStore({}, cache);
  // Flush every 3 adds of 97 spans; what is left stays in the head (some traces then lie in a head and a block).
  await addAndFlush(store, db, TENANT, spans, 97, 3);
  return { store, db };
}

t.test('timeOnlyPredicate: only a predicate with no condition', async (t) => {
  t.ok(timeOnlyPredicate({}));
  t.ok(timeOnlyPredicate({ attrs: [] }));
  t.notOk(timeOnlyPredicate({ name: 'x' }));
  t.notOk(timeOnlyPredicate({ attrs: [['k', 'v']] }));
  t.notOk(timeOnlyPredicate({ minDurationNs: 0n }));
  t.notOk(timeOnlyPredicate({ match: { kind: 'and', args: [] } }));
});

t.test('candidates from trace summaries equal reading every block (seeded differential, cached and uncached)', async (t) => {
  const rand = new SeededRand(SEED);
  const spans = spansOver(rand, 400);
  for (const cache of [null, new SpanBlockCache()]) {
    const { store, db } = await storeWith(t, spans, cache);
    const kv = new IndexReads(db);
    let fewer = 0;
    const cases = Number(process.env.OTLPDB_SUMMARY_REFS_CASES ?? 40);
    for (let i = 0; i < cases; i++) {
      const q = randomSearch(rand, spans);
      const label = `${cache === null ? 'uncached' : 'cached'} case ${i} (reproduce: OTLPDB_SUMMARY_REFS_SEED=${SEED}) ${q.startNs}..${q.endNs} limit ${q.limit}`;
      const before = kv.gets;
      const got = await candidates(store, kv, q);
      const summaryGets = kv.gets - before;
      const want = await candidates(store, kv, { ...q, summaries: false });
      const blockGets = kv.gets - before - summaryGets;
      // A cut by `limit` keeps different spans of a block (trace order against row order): compare only whole answers.
      if (q.limit === 100_000) t.equal(got.traces, want.traces, label);
      t.ok(got.frontierHeld && want.frontierHeld, `${label}: every frontier held`);
      t.equal(got.blocksScanned, want.blocksScanned, `${label}: the same blocks`);
      if (cache === null && summaryGets < blockGets) fewer++;
    }
    // Not vacuous: some searches took blocks from their summaries (no index read), others (marked blocks, head-held traces) read them.
    if (cache === null) t.ok(fewer > 0, `${fewer} of ${cases} searches read fewer indexes`);
  }
});

t.test('planted bug: summaries whose last start is their last kept span\'s give other candidates, and the differential sees it', async (t) => {
  const rand = new SeededRand(SEED + 1);
  const spans = spansOver(rand, 300);
  const { store, db } = await storeWith(t, spans, null);
  const queries = Array.from({ length: 20 }, () => ({ ...randomSearch(rand, spans), limit: 100_000 }));
  // The last start a table says is that of the trace's last kept span (its first few by start): too early for longer traces.
  const keptLast = (e: TraceSummaryEntry): bigint => e.kept.reduce((m, k) => (k.startNs > m ? k.startNs : m), e.firstStartNs);
  t.ok((await rewriteSummaries(db, (e) => ({ ...e, lastStartNs: keptLast(e) }))) > 0, 'tables rewritten');
  let caught = 0;
  for (const q of queries) {
    const got = await candidates(store, db, q);
    const want = await candidates(store, db, { ...q, summaries: false });
    if (got.traces !== want.traces) caught++;
  }
  t.ok(caught > 0, `the planted summaries changed ${caught} of ${queries.length} candidate sets`);
});

t.test('a summary table that lacks a trace of its block is refused (ERR_CORRUPTION)', async (t) => {
  const rand = new SeededRand(SEED + 2);
  const spans = spansOver(rand, 120);
  const { store, db } = await storeWith(t, spans, null);
  let dropped = false;
  const batch = new KvWriteBatch();
  for await (const page of db.pages({ gte: Uint8Array.of(TraceKeySpace.summaries), lt: Uint8Array.of(TraceKeySpace.summaries + 1) })) {
    for (const e of page) {
      const entries = [...decodeTraceSummaries(e.value).entries.values()];
      if (entries.length > 1) {
        batch.put(e.key, encodeTraceSummaries(new ByteWriter(), entries.slice(1)));
        dropped = true;
      }
    }
  }
  await db.write(batch);
  t.ok(dropped, 'an entry dropped');
  await t.rejects(candidates(store, db, { startNs: 0n, endNs: 1n << 63n, predicate: {}, limit: 100_000 }), { code: 'ERR_CORRUPTION' });
});
