import t from 'tap';
import type { Test } from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import type { SpanRow } from '../storage/rows.js';
import type { ShardDb } from '../storage/shard/shard-db.js';
import { SpanBlockCache } from '../storage/traces/block-cache.js';
import { TraceKeySpace, blockKey, decodeBlockMeta } from '../storage/traces/trace-keys.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { decodeTraceSummaries, summaryOf } from '../storage/traces/trace-summaries.js';
import { TraceStore } from '../storage/traces/trace-store.js';
import type { TraceSummaryEntry } from '../storage/traces/trace-summaries.js';
import { SpaceScanCounter, addAndFlush, damageValue, deleteKeys, flushHead, keysIn, outcomeCode, realisticSpans, rewriteSummaries, tempTraceDb } from '../storage/traces/traces-test-util.js';
import type { TraceSearchQuery } from './search-params.js';
import { searchShard } from './trace-search-shard.js';
import type { ShardSearchAnswer } from './trace-search-shard.js';

const SEED = Number(process.env.OTLPDB_SEARCH_SEED ?? 20261128);
const TENANT = 'acme';
const HOUR_NS = 3_600_000_000_000n;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** json is an answer's traces (every field), partial flag and spans inspected as text; ids as hex, whether a Buffer (toJSON) or a Uint8Array. */
const json = (a: ShardSearchAnswer): string =>
  JSON.stringify({ traces: a.traces, partial: a.partial, inspectedSpans: a.inspectedSpans }, function (this: Record<string, unknown>, k: string, v: unknown) {
    const raw = this[k];
    return raw instanceof Uint8Array ? hex(raw) : typeof v === 'bigint' ? String(v) : v;
  });

/** storeWith adds `spans` 97 at a time, flushing every `flushEvery` adds; what is left stays in the head. */
async function storeWith(t: Test, spans: readonly SpanRow[], flushEvery: number, store: TraceStore): Promise<ShardDb> {
  const db = await tempTraceDb(t, 'otlpdb-summary-');
  await addAndFlush(store, db, TENANT, spans, 97, flushEvery);
  return db;
}

/**
 * summarySpans: realistic traces over three hours (some cross a bucket, so
 * they lie in two blocks), some roots dropped, some spans with an int
 * service.name (a summary cannot list those), some sent again later (two
 * versions in two flushes).
 */
function summarySpans(rand: SeededRand, traces: number): SpanRow[] {
  const spans = realisticSpans(rand, traces, TENANT);
  const shift = new Map<string, bigint>();
  const out: SpanRow[] = [];
  spans.forEach((s, i) => {
    const k = hex(s.traceId);
    let d = shift.get(k);
    if (d === undefined) {
      d = BigInt(rand.intn(3)) * HOUR_NS + BigInt(rand.intn(3_600)) * 1_000_000_000n;
      shift.set(k, d);
    }
    if (s.parentSpanId.length === 0 && i % 9 === 0) return;
    let row: SpanRow = { ...s, startTimeUnixNano: s.startTimeUnixNano + d, endTimeUnixNano: s.endTimeUnixNano + d };
    if (i % 31 === 0) row = { ...row, resource: { ...row.resource, attributes: [{ key: 'service.name', value: { type: 'int', value: 7n } }] } };
    out.push(row);
  });
  for (let i = 0; i < out.length / 25; i++) {
    const s = out[rand.intn(out.length)] as SpanRow;
    out.push({ ...s, name: `${s.name}-again`, endTimeUnixNano: s.endTimeUnixNano + BigInt(rand.intn(1_000)) * 1_000_000n });
  }
  return out;
}

/** durationQuery is a random search the summaries may answer: the time range, trace-level filters, limit and spss. */
function durationQuery(rand: SeededRand, spans: readonly SpanRow[]): TraceSearchQuery {
  const s = spans[rand.intn(spans.length)] as SpanRow;
  const wide = rand.intn(3) !== 0;
  const startNs = wide ? 0n : s.startTimeUnixNano - BigInt(rand.intn(3_600)) * 1_000_000_000n;
  const endNs = wide ? 1n << 63n : s.startTimeUnixNano + BigInt(1 + rand.intn(3_600)) * 1_000_000_000n;
  const svc = s.resource.attributes.find((kv) => kv.key === 'service.name');
  return {
    startNs,
    endNs,
    predicate: {},
    limit: [1, 5, 20, 1000][rand.intn(4)] as number,
    spss: 1 + rand.intn(5),
    ...(rand.intn(2) === 0 ? { minTraceDurationNs: BigInt(rand.intn(400)) * 1_000_000n } : {}),
    ...(rand.intn(5) === 0 ? { maxTraceDurationNs: BigInt(rand.intn(600)) * 1_000_000n } : {}),
    ...(rand.intn(5) === 0 && svc?.value.type === 'string' ? { rootService: svc.value.value } : {}),
    ...(rand.intn(6) === 0 ? { rootName: s.name } : {}),
  };
}

t.test('answers from block trace summaries equal reading every trace (seeded differential, every field)', async (t) => {
  const rand = new SeededRand(SEED);
  const spans = summarySpans(rand, 400);
  for (const cache of [null, new SpanBlockCache()]) {
    const store = new TraceStore({}, cache);
    const db = await storeWith(t, spans, 4, store);
    let summarized = 0;
    let read = 0;
    const cases = Number(process.env.OTLPDB_SEARCH_CASES ?? 40);
    for (let i = 0; i < cases; i++) {
      const q = durationQuery(rand, spans);
      const label = `${cache === null ? 'uncached' : 'cached'} case ${i} (reproduce: OTLPDB_SEARCH_SEED=${SEED}): ${JSON.stringify(q, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`;
      const got = await searchShard(store, db, TENANT, q, () => false);
      const want = await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, summaries: false });
      t.equal(json(got), json(want), label);
      t.equal(want.summarizedTraces, 0, 'summaries: false answers nothing from summaries');
      summarized += got.summarizedTraces ?? 0;
      read += got.inspectedTraces - (got.summarizedTraces ?? 0);
    }
    // Not vacuous: both paths ran (one-block traces from summaries; split, head-held and inexact ones read).
    t.ok(summarized > cases, `${summarized} traces answered from summaries`);
    t.ok(read > 0, `${read} traces read whole`);
  }
});

t.test('a tag, TraceQL or full-scan search never uses summaries', async (t) => {
  const rand = new SeededRand(SEED + 1);
  const spans = summarySpans(rand, 100);
  const store = new TraceStore();
  const db = await storeWith(t, spans, 2, store);
  const base: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: {}, limit: 20, spss: 3 };
  t.ok(((await searchShard(store, db, TENANT, base, () => false)).summarizedTraces ?? 0) > 0, 'the plain search does (not vacuous)');
  for (const q of [
    { ...base, predicate: { attrs: [['http.method', 'GET'] as const] } },
    { ...base, predicate: { name: (spans[0] as SpanRow).name } },
    { ...base, traceql: '{ }' },
    { ...base, fullScan: true },
  ]) {
    t.equal((await searchShard(store, db, TENANT, q, () => false)).summarizedTraces, 0, JSON.stringify(q, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  }
});

t.test('planted wrong summaries: the differential catches a wrong root or span, a wrong extent (the index check, or a wrong answer on the sole path)', async (t) => {
  const plants: [string, (e: TraceSummaryEntry) => TraceSummaryEntry][] = [
    ['a root name off by one letter', (e) => (e.root === null ? e : { ...e, root: { ...e.root, name: `${e.root.name}x` } })],
    ['a root span that is not there', (e) => (e.root === null ? { ...e, root: { service: 'ghost', name: 'ghost' } } : e)],
    ['a first span listed 1 ns longer', (e) => ({ ...e, kept: e.kept.map((k, i) => (i === 0 ? { ...k, endNs: k.endNs + 1n } : k)) })],
    ['a trace that ends 1 s later', (e) => ({ ...e, lastEndNs: e.lastEndNs + 1_000_000_000n })],
  ];
  for (const [what, change] of plants) {
    const rand = new SeededRand(SEED + 2);
    const spans = summarySpans(rand, 200);
    const store = new TraceStore();
    const db = await storeWith(t, spans, 3, store);
    const queries = Array.from({ length: 20 }, () => durationQuery(rand, spans));
    const want: string[] = [];
    for (const q of queries) want.push(json(await searchShard(store, db, TENANT, q, () => false)));
    t.ok((await rewriteSummaries(db, change)) > 0, `${what}: tables rewritten`);
    let caught = 0;
    for (const [i, q] of queries.entries()) {
      const got = await searchShard(store, db, TENANT, q, () => false).then(json, (err: unknown) => (err instanceof OtlpdbError ? `threw ${err.code}` : 'threw'));
      const reference = json(await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, summaries: false }));
      t.equal(reference, want[i], `${what}: the reference reads pages, not summaries`);
      if (got !== reference) caught++;
    }
    t.ok(caught > 0, `${what}: caught in ${caught} of ${queries.length} queries`);
  }
});

t.test('a damaged summary table is refused (ERR_CORRUPTION); blocks without tables read as before', async (t) => {
  const rand = new SeededRand(SEED + 3);
  const spans = summarySpans(rand, 150);
  const store = new TraceStore();
  const db = await storeWith(t, spans, 3, store);
  const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: {}, limit: 1000, spss: 3, minTraceDurationNs: 1n };
  const want = json(await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, summaries: false }));
  const keys = await keysIn(db, TraceKeySpace.summaries);
  t.ok(keys.length > 1, `${keys.length} tables`);
  await damageValue(db, keys[0] as Uint8Array, 0x01);
  t.equal(await outcomeCode(searchShard(store, db, TENANT, q, () => false)), 'ERR_CORRUPTION', 'one flipped bit in a table');
  // Blocks written before the table: no 0x16 key at all.
  await deleteKeys(db, keys);
  const old = await searchShard(store, db, TENANT, q, () => false);
  t.equal(json(old), want, 'same answer without tables');
  t.equal(old.summarizedTraces, 0, 'nothing answered from summaries');
});

t.test('sole summaries settle a trace without its trace-id index scan, with the same answers (seeded differential)', async (t) => {
  const rand = new SeededRand(SEED + 5);
  const spans = summarySpans(rand, 400);
  for (const cache of [null, new SpanBlockCache()]) {
    const store = new TraceStore({}, cache);
    const db = await storeWith(t, spans, 4, store);
    let scansSole = 0;
    let scansWithout = 0;
    for (let i = 0; i < 30; i++) {
      const q = durationQuery(rand, spans);
      const label = `${cache === null ? 'uncached' : 'cached'} case ${i} (reproduce: OTLPDB_SEARCH_SEED=${SEED})`;
      const sole = new SpaceScanCounter(db, TraceKeySpace.traceId);
      const without = new SpaceScanCounter(db, TraceKeySpace.traceId);
      const got = await searchShard(store, sole, TENANT, q, () => false);
      t.equal(json(got), json(await searchShard(store, without, TENANT, q, () => false, undefined, { earlyStop: true, soleSummaries: false })), `${label}: as without sole summaries`);
      t.equal(json(got), json(await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: true, summaries: false })), `${label}: as reading every trace`);
      scansSole += sole.scans;
      scansWithout += without.scans;
    }
    // Not vacuous: the sole path skipped trace-id index scans.
    t.ok(scansSole < scansWithout, `${scansSole} trace-id index scans with sole summaries, ${scansWithout} without`);
  }
});

/**
 * soleViolations lists the traces of `spans` whose summary says "sole" in a
 * block whose meta says "no shadow markers" while the trace-id index names
 * more than one block for the trace: the invariant the sole path relies on.
 */
async function soleViolations(store: TraceStore, db: ShardDb, spans: readonly SpanRow[]): Promise<{ violations: string[]; sole: number }> {
  const violations: string[] = [];
  let sole = 0;
  const seen = new Set<string>();
  for (const s of spans) {
    const k = hex(s.traceId);
    if (seen.has(k)) continue;
    seen.add(k);
    const refs = await store.traceRefs(db, TENANT, s.traceId, newScanStats());
    for (const { ref } of refs.refs) {
      const table = decodeTraceSummaries((await db.get(blockKey(TraceKeySpace.summaries, TENANT, ref))) as Uint8Array);
      const meta = decodeBlockMeta((await db.get(blockKey(TraceKeySpace.meta, TENANT, ref))) as Uint8Array);
      const e = summaryOf(table, s.traceId);
      if (e?.sole !== true || meta.marked !== false) continue;
      sole++;
      if (refs.refs.length !== 1) violations.push(`${k} is sole in ${JSON.stringify(ref)} but in ${refs.refs.length} blocks`);
    }
  }
  return { violations, sole };
}

t.test('a summary says sole only for a trace wholly in its block while the block is unmarked; planted "every trace sole" is caught', async (t) => {
  const rand = new SeededRand(SEED + 6);
  const spans = summarySpans(rand, 300);
  const store = new TraceStore();
  const db = await storeWith(t, spans, 3, store);
  const before = await soleViolations(store, db, spans);
  t.same(before.violations, [], 'no violation as the flush writes it');
  t.ok(before.sole > 10, `${before.sole} sole summaries in unmarked blocks (not vacuous)`);
  t.ok((await rewriteSummaries(db, (e) => ({ ...e, sole: true }))) > 0, 'tables rewritten with every trace sole');
  const after = await soleViolations(store, db, spans);
  t.ok(after.violations.length > 0, `planted: ${after.violations.length} violations found`);
});

t.test('a trace one flush cuts into two blocks (its spans straddle an hour bucket) is sole in neither; planted "counted once" is caught', async (t) => {
  const rand = new SeededRand(SEED + 7);
  // Every trace moved so its first span starts 1 us before an hour ends: its later spans fall in the next hour's
  // bucket, so the one flush below writes the trace into two blocks (and many traces stay in one).
  const spans: SpanRow[] = [];
  const moved = new Map<string, bigint>();
  for (const s of summarySpans(rand, 120)) {
    const k = hex(s.traceId);
    let d = moved.get(k);
    if (d === undefined) {
      d = HOUR_NS - (s.startTimeUnixNano % HOUR_NS) - 1_000n;
      moved.set(k, d);
    }
    spans.push({ ...s, startTimeUnixNano: s.startTimeUnixNano + d, endTimeUnixNano: s.endTimeUnixNano + d });
  }
  const store = new TraceStore();
  const db = await storeWith(t, spans, 1_000, store);
  await flushHead(store, db, 1);
  const { violations, sole } = await soleViolations(store, db, spans);
  t.same(violations, [], 'no trace of two blocks is sole');
  t.ok(sole > 0, `${sole} sole summaries (not vacuous)`);
  let split = 0;
  for (const k of moved.keys()) if ((await store.traceRefs(db, TENANT, Buffer.from(k, 'hex'), newScanStats())).refs.length > 1) split++;
  t.ok(split > 0, `${split} traces in two blocks of the one flush (not vacuous)`);
});
