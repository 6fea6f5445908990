import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import type { AnyValue, SpanRow, StatusCode } from '../storage/rows.js';
import type { ShardDb } from '../storage/shard/shard-db.js';
import { TraceStore } from '../storage/traces/trace-store.js';
import { addAndFlush, realisticSpans, tempTraceDb } from '../storage/traces/traces-test-util.js';
import type { TraceSearchQuery } from './search-params.js';
import { pushdownPredicate } from './search-params.js';
import { extractPushdown, formatTraceql, parseTraceql } from './traceql/index.js';
import { referenceEvaluate } from './traceql/traceql-reference.js';
import { randomConjunctionQuery, randomQuery as randomTraceqlQuery, randomTrace } from './traceql/traceql-test-gen.js';
import { ROOT_NOT_RECEIVED, searchShard } from './trace-search-shard.js';
import type { ShardSearchAnswer } from './trace-search-shard.js';

const SEED = Number(process.env.OTLPDB_SEARCH_SEED ?? 20261127);
const TENANT = 'acme';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** storeWith adds `spans` 97 at a time, flushing every `flushEvery` adds; what is left stays in the head. */
async function storeWith(t: Test, spans: readonly SpanRow[], flushEvery: number, store = new TraceStore()): Promise<{ store: TraceStore; db: ShardDb }> {
  const db = await tempTraceDb(t, 'otlpdb-search-');
  await addAndFlush(store, db, TENANT, spans, 97, flushEvery);
  return { store, db };
}

// ------------------------------------------------ the naive reference, from the definition

function strOf(v: AnyValue): string | undefined {
  if (v.type === 'string') return v.value;
  if (v.type === 'int') return String(v.value);
  if (v.type === 'bool') return String(v.value);
  return undefined;
}
function service(s: SpanRow): string {
  const a = s.resource.attributes.find((kv) => kv.key === 'service.name');
  return a !== undefined && a.value.type === 'string' ? a.value.value : '';
}
function spanOk(s: SpanRow, q: TraceSearchQuery): boolean {
  const p = q.predicate;
  if (s.startTimeUnixNano < q.startNs || s.startTimeUnixNano >= q.endNs) return false;
  if (p.name !== undefined && s.name !== p.name) return false;
  if (p.service !== undefined && service(s) !== p.service) return false;
  if (p.status !== undefined && s.status.code !== p.status) return false;
  for (const [k, v] of p.attrs ?? []) {
    const has = [...s.attributes, ...s.resource.attributes].some((kv) => kv.key === k && strOf(kv.value) === v);
    if (!has) return false;
  }
  return true;
}

/** referenceSearch answers q over raw spans: every trace with a matching span and passing the trace filters, then `limit` by latest matching start. */
function referenceSearch(spans: readonly SpanRow[], q: TraceSearchQuery): { id: string; start: bigint; matched: number; root: string }[] {
  const byTrace = new Map<string, SpanRow[]>();
  for (const s of spans) byTrace.set(hex(s.traceId), [...(byTrace.get(hex(s.traceId)) ?? []), s]);
  const hits: { id: string; last: bigint; start: bigint; matched: number; root: string }[] = [];
  for (const [id, all] of byTrace) {
    const matching = all.filter((s) => spanOk(s, q));
    if (matching.length === 0) continue;
    let start = all[0]!.startTimeUnixNano;
    let end = 0n;
    for (const s of all) {
      if (s.startTimeUnixNano < start) start = s.startTimeUnixNano;
      if (s.endTimeUnixNano > end) end = s.endTimeUnixNano;
    }
    const root = all.filter((s) => s.parentSpanId.length === 0).sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1))[0];
    const d = end - start;
    if (q.minTraceDurationNs !== undefined && d < q.minTraceDurationNs) continue;
    if (q.maxTraceDurationNs !== undefined && d > q.maxTraceDurationNs) continue;
    if (q.rootService !== undefined && (root === undefined || service(root) !== q.rootService)) continue;
    if (q.rootName !== undefined && (root === undefined || root.name !== q.rootName)) continue;
    let last = 0n;
    for (const s of matching) if (s.startTimeUnixNano > last) last = s.startTimeUnixNano;
    hits.push({ id, last, start, matched: matching.length, root: root === undefined ? ROOT_NOT_RECEIVED : service(root) });
  }
  return hits
    .sort((a, b) => (a.last !== b.last ? (a.last > b.last ? -1 : 1) : a.id < b.id ? -1 : 1))
    .slice(0, q.limit)
    .map(({ id, start, matched, root }) => ({ id, start, matched, root }))
    .sort((a, b) => (a.start !== b.start ? (a.start > b.start ? -1 : 1) : a.id < b.id ? -1 : 1));
}

function randomQuery(rand: SeededRand, spans: readonly SpanRow[]): TraceSearchQuery {
  const s = spans[rand.intn(spans.length)]!;
  const minStart = spans.reduce((m, x) => (x.startTimeUnixNano < m ? x.startTimeUnixNano : m), s.startTimeUnixNano);
  const wide = rand.intn(3) !== 0;
  const startNs = wide ? minStart : s.startTimeUnixNano - BigInt(rand.intn(30_000)) * 1_000_000n;
  const endNs = wide ? (1n << 63n) : s.startTimeUnixNano + BigInt(1 + rand.intn(30_000)) * 1_000_000n;
  const attrs: [string, string][] = [];
  const pick = rand.intn(8);
  const pred: { name?: string; service?: string; status?: StatusCode; attrs?: [string, string][] } = {};
  if (pick & 1) pred.name = s.name;
  if (pick & 2) pred.service = service(s);
  if (pick & 4) {
    const kv = s.attributes[rand.intn(s.attributes.length)]!;
    attrs.push([kv.key, strOf(kv.value) ?? '']);
  }
  if (rand.intn(4) === 0) attrs.push(['http.method', ['GET', 'POST', 'PUT'][rand.intn(3)]!]);
  if (rand.intn(6) === 0) pred.status = 2;
  if (attrs.length > 0) pred.attrs = attrs;
  const q: TraceSearchQuery = {
    startNs,
    endNs,
    predicate: pred,
    limit: [1, 3, 20, 1000][rand.intn(4)]!,
    spss: 1 + rand.intn(5),
    ...(rand.intn(4) === 0 ? { minTraceDurationNs: BigInt(rand.intn(2_000_000)) } : {}),
    ...(rand.intn(6) === 0 ? { maxTraceDurationNs: BigInt(rand.intn(200_000_000)) } : {}),
    ...(rand.intn(6) === 0 ? { rootService: service(s) } : {}),
  };
  return q;
}

function summary(a: ShardSearchAnswer): { id: string; start: bigint; matched: number; root: string }[] {
  return a.traces.map((x) => ({ id: hex(x.traceId), start: x.startNs, matched: x.matched, root: x.rootServiceName }));
}

t.test('searchShard equals the naive reference on random queries over head and blocks', async (t) => {
  const rand = new SeededRand(SEED);
  const spans = realisticSpans(rand, 400, TENANT);
  // Drop some roots so "<root span not yet received>" occurs.
  const kept = spans.filter((s, i) => s.parentSpanId.length !== 0 || i % 7 !== 0);
  const { store, db } = await storeWith(t, kept, 5);
  let nonEmpty = 0;
  const cases = Number(process.env.OTLPDB_SEARCH_CASES ?? 60);
  for (let i = 0; i < cases; i++) {
    const q = randomQuery(rand, kept);
    const got = await searchShard(store, db, TENANT, q, () => false);
    const want = referenceSearch(kept, q);
    t.same(summary(await searchShard(store, db, TENANT, { ...q, fullScan: true }, () => false)), want, `query ${i} as a full scan`);
    if (want.length > 0) nonEmpty++;
    t.same(summary(got), want, `query ${i} (reproduce: OTLPDB_SEARCH_SEED=${SEED}): ${JSON.stringify(q, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
    t.equal(got.partial, false);
    for (const tr of got.traces) t.ok(tr.spans.length <= q.spss && tr.spans.length <= tr.matched, 'span sets hold at most spss spans');
  }
  t.ok(nonEmpty > cases / 3, `most random queries find traces (${nonEmpty} of ${cases})`);
  t.ok(kept.some((s) => s.parentSpanId.length === 0), 'roots exist');
});

t.test('another tenant sees nothing', async (t) => {
  const rand = new SeededRand(SEED + 1);
  const spans = realisticSpans(rand, 50, TENANT);
  const { store, db } = await storeWith(t, spans, 2);
  const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: {}, limit: 1000, spss: 3 };
  t.equal((await searchShard(store, db, TENANT, q, () => false)).traces.length, 50);
  t.equal((await searchShard(store, db, 'other', q, () => false)).traces.length, 0);
});

t.test('bounds and an expired deadline answer partial, never more than the limit', async (t) => {
  const rand = new SeededRand(SEED + 2);
  const spans = realisticSpans(rand, 100, TENANT);
  const { store, db } = await storeWith(t, spans, 3);
  const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: {}, limit: 1000, spss: 3 };
  const byTraces = await searchShard(store, db, TENANT, q, () => false, { candidateSpansMax: 1_000_000, candidateTracesMax: 10, tracesFetchedMax: 1000 });
  t.equal(byTraces.partial, true);
  t.equal(byTraces.traces.length, 10);
  const bySpans = await searchShard(store, db, TENANT, q, () => false, { candidateSpansMax: 5, candidateTracesMax: 1000, tracesFetchedMax: 1000 });
  t.equal(bySpans.partial, true);
  const byFetch = await searchShard(store, db, TENANT, { ...q, minTraceDurationNs: 1n << 62n }, () => false, { candidateSpansMax: 1_000_000, candidateTracesMax: 1000, tracesFetchedMax: 7 });
  t.equal(byFetch.partial, true);
  t.equal(byFetch.inspectedTraces, 7);
  t.equal(byFetch.traces.length, 0);
  const expired = await searchShard(store, db, TENANT, q, () => true);
  t.equal(expired.partial, true);
  t.equal(expired.traces.length, 0);
});

t.test('the differential test catches a planted bug (a reference that ignores the trace filters disagrees)', async (t) => {
  const rand = new SeededRand(SEED + 3);
  const spans = realisticSpans(rand, 60, TENANT);
  const { store, db } = await storeWith(t, spans, 2);
  const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: {}, limit: 1000, spss: 3, minTraceDurationNs: 3_000_000n };
  const got = summary(await searchShard(store, db, TENANT, q, () => false));
  const buggy = referenceSearch(spans, { ...q, minTraceDurationNs: undefined } as unknown as TraceSearchQuery);
  t.not(JSON.stringify(got, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)), JSON.stringify(buggy, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  t.same(got, referenceSearch(spans, q));
});

t.test('TraceQL searches equal the reference evaluator run over every stored trace', async (t) => {
  const seed = SEED + 10;
  const rand = new SeededRand(seed);
  const traces: SpanRow[][] = [];
  for (let i = 0; i < 160; i++) {
    const traceId = new Uint8Array(16);
    new DataView(traceId.buffer).setUint32(0, i + 1);
    traceId[15] = 7;
    const seen = new Set<string>();
    // The store keeps one span per (trace id, span id): the generator's odd duplicate id is dropped here, so the reference sees what is stored.
    const spans = randomTrace(rand)
      .filter((s) => !seen.has(hex(s.spanId)) && (seen.add(hex(s.spanId)), true))
      .map((s) => ({ ...s, tenant: TENANT, traceId }));
    traces.push(spans);
  }
  const all = traces.flat();
  const { store, db } = await storeWith(t, all, 3);
  let nonEmpty = 0;
  const cases = Number(process.env.OTLPDB_SEARCH_CASES ?? 24);
  for (let i = 0; i < cases; i++) {
    const ast = i % 2 === 0 ? randomConjunctionQuery(rand) : randomTraceqlQuery(rand);
    const text = formatTraceql(ast);
    const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: pushdownPredicate(extractPushdown(parseTraceql(text))), traceql: text, limit: 1000, spss: 1000 };
    const want = new Map<string, number>();
    for (const spans of traces) {
      const ref = referenceEvaluate(parseTraceql(text), spans);
      if (ref !== null && ref.length > 0) want.set(hex(spans[0]!.traceId), ref.length);
    }
    if (want.size > 0) nonEmpty++;
    for (const fullScan of i % 4 === 0 ? [false, true] : [false]) {
      const got = await searchShard(store, db, TENANT, { ...q, ...(fullScan ? { fullScan } : {}) }, () => false);
      const gotMap = new Map(got.traces.map((x) => [hex(x.traceId), x.matched]));
      t.same(
        [...gotMap].sort(),
        [...want].sort(),
        `TraceQL case ${i}${fullScan ? ' (full scan)' : ''} (reproduce: OTLPDB_SEARCH_SEED=${SEED}): ${text}; pushdown ${JSON.stringify(q.predicate, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
    }
  }
  t.ok(nonEmpty > cases / 8, `queries that match something: ${nonEmpty} of ${cases}`);
});

t.test('planted bug: a pushdown that is not a necessary condition loses traces, and the TraceQL differential sees it', async (t) => {
  const rand = new SeededRand(SEED + 11);
  const spans = realisticSpans(rand, 40, TENANT);
  const { store, db } = await storeWith(t, spans, 2);
  const text = '{ kind = client } | count() > 0';
  const honest = await searchShard(store, db, TENANT, { startNs: 0n, endNs: 1n << 63n, predicate: pushdownPredicate(extractPushdown(parseTraceql(text))), traceql: text, limit: 1000, spss: 3 }, () => false);
  // The wrong pushdown claims every match is also an error: candidates shrink to traces with an error span.
  const wrong = await searchShard(store, db, TENANT, { startNs: 0n, endNs: 1n << 63n, predicate: { kind: 3, status: 2 }, traceql: text, limit: 1000, spss: 3 }, () => false);
  const want = new Set<string>();
  const byTrace = new Map<string, SpanRow[]>();
  for (const s of spans) byTrace.set(hex(s.traceId), [...(byTrace.get(hex(s.traceId)) ?? []), s]);
  for (const [id, tr] of byTrace) if ((referenceEvaluate(parseTraceql(text), tr) ?? []).length > 0) want.add(id);
  t.same(new Set(honest.traces.map((x) => hex(x.traceId))), want);
  t.not(wrong.traces.length, want.size, 'the wrong pushdown misses traces the reference finds');
});

// ------------------------------------------------ early stop

const HOUR_NS = 3_600_000_000_000n;

/** spreadSpans are realisticSpans spread over four hour buckets (whole traces shifted), plus some spans sent again later with a new start (a newer version in a later flush). */
function spreadSpans(rand: SeededRand, traces: number): SpanRow[] {
  const spans = realisticSpans(rand, traces, TENANT);
  const shift = new Map<string, bigint>();
  const out = spans.map((s) => {
    const k = hex(s.traceId);
    let d = shift.get(k);
    if (d === undefined) {
      d = BigInt(rand.intn(4)) * HOUR_NS + BigInt(rand.intn(3_000)) * 1_000_000_000n;
      shift.set(k, d);
    }
    return { ...s, startTimeUnixNano: s.startTimeUnixNano + d, endTimeUnixNano: s.endTimeUnixNano + d };
  });
  const again: SpanRow[] = [];
  for (let i = 0; i < out.length / 20; i++) {
    const s = out[rand.intn(out.length)]!;
    const moved = BigInt(rand.intn(2 * 3_600)) * 1_000_000_000n - HOUR_NS;
    again.push({ ...s, startTimeUnixNano: s.startTimeUnixNano + moved, endTimeUnixNano: s.endTimeUnixNano + moved, name: rand.intn(2) === 0 ? s.name : 'resent' });
  }
  return [...out, ...again];
}

const shape = (a: ShardSearchAnswer): unknown => ({ traces: summary(a), partial: a.partial });

t.test('early stop returns the same traces as reading every candidate (seeded differential), and reads less', async (t) => {
  const rand = new SeededRand(SEED + 20);
  const spans = spreadSpans(rand, 300);
  const { store, db } = await storeWith(t, spans, 4);
  const cases = Number(process.env.OTLPDB_SEARCH_CASES ?? 24);
  let fewer = 0;
  for (let i = 0; i < cases; i++) {
    const q = { ...randomQuery(rand, spans), limit: [1, 3, 20][rand.intn(3)]! };
    const early = await searchShard(store, db, TENANT, q, () => false);
    const all = await searchShard(store, db, TENANT, q, () => false, undefined, { earlyStop: false });
    const label = `case ${i} (reproduce: OTLPDB_SEARCH_SEED=${SEED}): ${JSON.stringify(q, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`;
    t.same(shape(early), shape(all), label);
    t.same(summary(early), summary(await searchShard(store, db, TENANT, { ...q, fullScan: true }, () => false)), `${label} as a full scan`);
    t.ok(early.inspectedSpans <= all.inspectedSpans, 'early stop never reads more');
    if (early.inspectedSpans < all.inspectedSpans) fewer++;
  }
  t.ok(fewer > cases / 4, `early stop read fewer spans in ${fewer} of ${cases} cases`);
});

t.test('a bucket read in groups of 2 block metas (searchBucketBlocksMax) answers as one read whole', async (t) => {
  const rand = new SeededRand(SEED + 22);
  const spans = spreadSpans(rand, 300);
  const whole = await storeWith(t, spans, 2);
  const grouped = await storeWith(t, spans, 2, new TraceStore({ searchBucketBlocksMax: 2 }));
  const cases = Math.max(10, Math.floor(Number(process.env.OTLPDB_SEARCH_CASES ?? 24) / 2));
  for (let i = 0; i < cases; i++) {
    const q = { ...randomQuery(rand, spans), limit: [1, 3, 20][rand.intn(3)]! };
    const label = `case ${i} (reproduce: OTLPDB_SEARCH_SEED=${SEED}): ${JSON.stringify(q, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`;
    t.same(shape(await searchShard(grouped.store, grouped.db, TENANT, q, () => false)), shape(await searchShard(whole.store, whole.db, TENANT, q, () => false)), label);
  }
});

/** ExtentStore's traceExtent: 'off' answers null (every trace is read whole), 'true' the store's own, 'lie' an extent of 0 ns (a planted bug that drops traces). */
class ExtentStore extends TraceStore {
  mode: 'off' | 'true' | 'lie' = 'true';
  calls = 0;
  override async traceExtent(...args: Parameters<TraceStore['traceExtent']>): ReturnType<TraceStore['traceExtent']> {
    const e = await super.traceExtent(...args);
    if (e === null || this.mode === 'off') return null;
    this.calls++;
    return this.mode === 'true' ? e : { minStartNs: e.minStartNs, maxEndNs: e.minStartNs };
  }
}

/** READ_WHOLE reads every candidate the prefilter lets through (no block trace summaries: they would answer first). */
const READ_WHOLE = { earlyStop: true, summaries: false } as const;

t.test('the duration prefilter (traceExtent) answers as reading every trace, and a planted wrong extent is caught', async (t) => {
  const rand = new SeededRand(SEED + 23);
  const spans = spreadSpans(rand, 300);
  const store = new ExtentStore();
  const { db } = await storeWith(t, spans, 3, store);
  const json = (a: ShardSearchAnswer): string => JSON.stringify(shape(a), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  let caught = 0;
  for (let i = 0; i < 10; i++) {
    const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: {}, minTraceDurationNs: BigInt(1 + rand.intn(50_000_000)), limit: 3 + rand.intn(20), spss: 3 };
    store.mode = 'off';
    const want = json(await searchShard(store, db, TENANT, q, () => false, undefined, READ_WHOLE));
    store.mode = 'true';
    t.equal(json(await searchShard(store, db, TENANT, q, () => false, undefined, READ_WHOLE)), want, `case ${i}: equals the search that reads every trace whole`);
    store.mode = 'lie';
    if (json(await searchShard(store, db, TENANT, q, () => false, undefined, READ_WHOLE)) !== want) caught++;
  }
  t.ok(store.calls > 0, `the prefilter answered ${store.calls} times (not vacuous)`);
  t.ok(caught > 0, `a wrong extent changed ${caught} of 10 answers`);
});

/** LyingStore claims, while `lie` is set, a frontier an hour lower than the truth: settled candidates may still move. */
class LyingStore extends TraceStore {
  lie = false;
  override async *searchSpanRefs(...args: Parameters<TraceStore['searchSpanRefs']>): ReturnType<TraceStore['searchSpanRefs']> {
    for await (const b of super.searchSpanRefs(...args)) yield { ...b, frontierNs: b.frontierNs === null || !this.lie ? b.frontierNs : b.frontierNs - HOUR_NS };
  }
}

t.test('planted bug: a frontier that is too low settles traces too early, and the differential sees it', async (t) => {
  const rand = new SeededRand(SEED + 21);
  const liar = new LyingStore();
  const { db } = await storeWith(t, spreadSpans(rand, 200), 3, liar);
  const json = (a: ShardSearchAnswer): string => JSON.stringify(shape(a), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  let caught = 0;
  for (let i = 0; i < 10; i++) {
    const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: {}, limit: 5 + rand.intn(30), spss: 3 };
    liar.lie = false;
    const want = json(await searchShard(liar, db, TENANT, q, () => false, undefined, { earlyStop: false }));
    liar.lie = true;
    const got = await searchShard(liar, db, TENANT, q, () => false).then(json, (err: unknown) => `threw ${String(err)}`);
    if (got !== want) caught++;
  }
  t.ok(caught > 0, `the lying frontier changed ${caught} of 10 answers`);
});

t.test('a skipped key is found by its value bytes: not by a longer value holding it, and through resources and int forms too', async (t) => {
  const rand = new SeededRand(SEED + 30);
  const base = realisticSpans(rand, 120, TENANT);
  const tagged = base.map((s, i): SpanRow => {
    // About 150 distinct values a block: past attrValuesPerKeyMax, so the keys are skipped, not indexed.
    const tr = (i * 7) % 150;
    // One resource object carries cust=c5: a span under it matches c5 whatever its own attributes say.
    const resource = i % 11 === 0 ? { ...s.resource, attributes: [...s.resource.attributes, { key: 'cust', value: { type: 'string' as const, value: 'c5' } }] } : s.resource;
    return { ...s, resource, attributes: [...s.attributes, { key: 'cust', value: { type: 'string', value: `c${tr}` } }, { key: 'num', value: { type: 'int', value: 9_000_000_000n + BigInt(tr) } }] };
  });
  const { store, db } = await storeWith(t, tagged, 2);
  for (const [k, v] of [['cust', 'c1'], ['cust', 'c5'], ['cust', 'c12'], ['num', '9000000007'], ['cust', 'nowhere']] as const) {
    const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: { attrs: [[k, v]] }, limit: 1000, spss: 3 };
    const got = summary(await searchShard(store, db, TENANT, q, () => false));
    t.same(got, referenceSearch(tagged, q), `${k}=${v} equals the reference`);
    t.same(got, summary(await searchShard(store, db, TENANT, { ...q, fullScan: true }, () => false)), `${k}=${v} equals the full scan`);
    if (v !== 'nowhere') t.ok(got.length > 0, `${k}=${v} finds traces`);
  }
});
