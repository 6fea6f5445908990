/**
 * query-traces-shard.ts — `node dist/bench/query-traces-shard.js [--traces N]
 * [--searches N] [--flushes N] [--layout pageTerms|pageTermsV2|blockBloom] [--profile] [--cache-ab] [--round-trips-ab] [--summaries-ab]`: one shard's part of
 * bench/query-traces' queries (traceById and searchShard over a TraceStore on
 * a real LevelDB in a temporary directory), without the cluster: N traces
 * shaped like query-traces-data.ts (10-30 spans, customer.id of ~5 traces,
 * trace duration = root's), written in start-time order in `--flushes`
 * flushes (default 1). Figures: latency p50/p99 of trace by id, of the
 * attribute search and of the duration search, each answer checked (by id:
 * the span count; searches: against the data and a full scan), and the
 * full-scan duration search in the same run (ratio); and the TraceQL
 * attribute equality `{ span.customer.id = "c" }` with its span match pushed
 * into the block indexes and without (ShardSearchOptions.spanMatch false),
 * alternating in one run, with blocks pruned, bytes and traces read per
 * search. `--cache-ab` instead alternates the three queries between a store
 * with the node's block cache (storage/traces/block-cache.ts, default bound)
 * and one without, over the same LevelDB, and prints the ratio of each
 * (the cache warms as the run goes: the first reads of a block miss).
 * `--round-trips-ab` instead compares the reads before and after the removal
 * of the round trips the cache left (query-traces-round-trips.ts).
 * `--summaries-ab` instead compares the searches with and without the
 * per-block trace summaries (query-traces-summaries.ts).
 * `--profile` prints the top frames of a CPU profile of the queries
 * only (not of the load). Quick to rerun while profiling. Timing never gates
 * anything.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { SeededRand } from '../src/fs/seeded-rand.js';
import type { KeyValue, Resource, Scope, SpanKind, SpanRow, StatusCode } from '../src/storage/rows.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import { TraceStore } from '../src/storage/traces/trace-store.js';
import { SpanBlockCache } from '../src/storage/traces/block-cache.js';
import { searchShard } from '../src/query/trace-search-shard.js';
import type { ShardSearchOptions } from '../src/query/trace-search-shard.js';
import type { ScanStats } from '../src/storage/shard/signal-store.js';
import { addScanStats, newScanStats } from '../src/storage/shard/signal-store.js';
import type { TraceSearchQuery } from '../src/query/search-params.js';
import { percentileMs } from './ingest-plan.js';
import { topFrames } from './raft-core-cluster.js';
import { CountingKv, roundTripsAb } from './query-traces-round-trips.js';
import { summariesAb } from './query-traces-summaries.js';
import { positiveIntArg } from './cli-args.js';

const SERVICES = ['frontend', 'checkout', 'cart', 'payment', 'inventory', 'auth', 'search', 'shipping', 'email', 'ads', 'currency', 'recommend'];
const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-east-2', 'us-west-2', 'ap-south-1', 'ap-northeast-1', 'sa-east-1'];
const WINDOW_START_NS = 1_790_000_000_000_000_000n;
const WINDOW_NS = 58n * 60_000_000_000n;

/** tracesInStartOrder groups spans by trace (byTrace, by hex trace id) and orders the traces by their first span's start, as live telemetry arrives. */
export function tracesInStartOrder(spans: readonly SpanRow[]): { byTrace: Map<string, SpanRow[]>; ordered: SpanRow[][] } {
  const byTrace = new Map<string, SpanRow[]>();
  for (const s of spans) {
    const k = Buffer.from(s.traceId).toString('hex');
    let list = byTrace.get(k);
    if (list === undefined) byTrace.set(k, (list = []));
    list.push(s);
  }
  const ordered = [...byTrace.values()].sort((a, b) => ((a[0] as SpanRow).startTimeUnixNano < (b[0] as SpanRow).startTimeUnixNano ? -1 : 1));
  return { byTrace, ordered };
}

/** shardSpans makes `traces` traces shaped like query-traces-data.ts's, over 58 minutes. */
export function shardSpans(rand: SeededRand, traces: number, tenant: string): { spans: SpanRow[]; customers: Map<string, Set<string>>; durations: Map<string, bigint> } {
  const resources: Resource[] = SERVICES.map((svc, i) => ({
    attributes: [
      { key: 'service.name', value: { type: 'string', value: svc } },
      { key: 'service.namespace', value: { type: 'string', value: 'shop' } },
      { key: 'host.name', value: { type: 'string', value: `node-${i % 5}` } },
    ],
    droppedAttributesCount: 0,
    schemaUrl: '',
  }));
  const scope: Scope = { name: 'bench-query-traces', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
  const customersN = Math.max(1, Math.floor(traces / 5));
  const spans: SpanRow[] = [];
  const customers = new Map<string, Set<string>>();
  const durations = new Map<string, bigint>();
  for (let tr = 0; tr < traces; tr++) {
    const traceId = rand.bytes(16);
    const hex = Buffer.from(traceId).toString('hex');
    const customer = `c${rand.intn(customersN)}`;
    customers.set(customer, (customers.get(customer) ?? new Set()).add(hex));
    const region = REGIONS[rand.intn(REGIONS.length)] as string;
    const n = 10 + rand.intn(21);
    const start = WINDOW_START_NS + BigInt(rand.intn(Number(WINDOW_NS / 1_000_000n) - 10_000)) * 1_000_000n;
    const ids: Uint8Array[] = [];
    const first = spans.length;
    let end = start;
    for (let i = 0; i < n; i++) {
      const spanId = rand.bytes(8);
      const parent = i === 0 ? new Uint8Array(0) : (ids[rand.intn(ids.length)] as Uint8Array);
      ids.push(spanId);
      const svc = i === 0 ? 0 : rand.intn(SERVICES.length);
      const s = start + BigInt(i) * 1_000_000n + BigInt(rand.intn(5_000_000));
      const e = s + BigInt(Math.floor(Math.exp(11 + (rand.intn(1000) / 1000) * 9)));
      if (e > end) end = e;
      const error = rand.intn(40) === 0;
      const attributes: KeyValue[] = [
        { key: 'http.method', value: { type: 'string', value: 'GET' } },
        { key: 'http.status_code', value: { type: 'int', value: error ? 500n : 200n } },
        { key: 'region', value: { type: 'string', value: region } },
        { key: 'customer.id', value: { type: 'string', value: customer } },
      ];
      spans.push({
        tenant, traceId, spanId, parentSpanId: parent, traceState: '', flags: 0,
        name: `${SERVICES[svc] as string}.op${rand.intn(4)}`,
        kind: (i === 0 ? 2 : 1 + rand.intn(3)) as SpanKind,
        startTimeUnixNano: s, endTimeUnixNano: e,
        status: { code: (error ? 2 : 0) as StatusCode, message: error ? 'failed' : '' },
        attributes, droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0,
        resource: resources[svc] as Resource, scope,
      });
    }
    const root = spans[first] as SpanRow;
    spans[first] = { ...root, endTimeUnixNano: end };
    durations.set(hex, end - start);
  }
  return { spans, customers, durations };
}

async function main(): Promise<void> {
  const traces = positiveIntArg('traces', 1250);
  const searches = positiveIntArg('searches', 30);
  const flushes = positiveIntArg('flushes', 1);
  const profile = process.argv.includes('--profile');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-search-shard-'));
  const db = await ShardDb.open(dir);
  try {
    const rand = new SeededRand(3200);
    const { spans, customers, durations } = shardSpans(rand, traces, 'bench');
    // Start-time order, as live telemetry arrives: each flush holds a stretch of the hour.
    const { byTrace, ordered } = tracesInStartOrder(spans);
    // --layout: how the flush writes skipped-key terms (TraceWriteLayout; the default, page filters of version 3).
    const layout = process.argv.includes('pageTermsV2') ? 'pageTermsV2' : process.argv.includes('blockBloom') ? 'blockBloom' : 'pageTerms';
    const store = new TraceStore({}, null, undefined, layout);
    await store.load(db);
    console.log(`layout ${layout}`);
    const perFlush = Math.ceil(ordered.length / flushes);
    for (let f = 0; f < flushes; f++) {
      store.add('bench', ordered.slice(f * perFlush, (f + 1) * perFlush).flat(), 0);
      store.freeze();
      const batch = new KvWriteBatch();
      await store.writeFrozen({ kv: db, batch, flushIndex: f + 1 });
      await db.write(batch);
      store.dropFrozen();
    }
    const base = { startNs: WINDOW_START_NS, endNs: WINDOW_START_NS + WINDOW_NS, spss: 3 };
    const names = [...customers.keys()];
    const ids = [...byTrace.keys()];
    if (process.argv.includes('--cache-ab')) {
      await cacheAb(db, rand, searches, base, names, ids, byTrace, customers);
      return;
    }
    if (process.argv.includes('--round-trips-ab')) {
      await roundTripsAb(db, rand, searches, base, names);
      return;
    }
    if (process.argv.includes('--summaries-ab')) {
      await summariesAb(db, rand, searches, base, names);
      return;
    }
    const bytes = { byId: 0, attribute: 0, duration: 0 };
    // Load-independent figures per query kind: blocks opened and LevelDB calls (gets + getManys + iterators).
    const blocks = { byId: 0, attribute: 0, duration: 0 };
    const calls = { byId: 0, attribute: 0, duration: 0 };
    const kv = new CountingKv(db, false);
    const time = async (
      q: TraceSearchQuery,
      kind?: 'attribute' | 'duration',
      options?: ShardSearchOptions,
    ): Promise<{ ms: number; ids: string[]; stats: ScanStats; traces: number; partial: boolean }> => {
      const calls0 = kv.calls();
      const t0 = performance.now();
      const a = await searchShard(store, kv, 'bench', q, () => false, undefined, options);
      const ms = performance.now() - t0;
      if (kind !== undefined) {
        bytes[kind] += a.stats.bytesRead;
        blocks[kind] += a.stats.blocksScanned;
        calls[kind] += kv.calls() - calls0;
      }
      return { ms, ids: a.traces.map((t) => Buffer.from(t.traceId).toString('hex')), stats: a.stats, traces: a.inspectedTraces, partial: a.partial };
    };
    const minNs = 300_000_000n;
    const durationQuery: TraceSearchQuery = { ...base, predicate: {}, minTraceDurationNs: minNs, limit: 20 };
    const want = (await searchShard(store, db, 'bench', { ...durationQuery, fullScan: true }, () => false)).traces.map((t) => Buffer.from(t.traceId).toString('hex'));
    const byIdMs: number[] = [];
    const attrMs: number[] = [];
    const durMs: number[] = [];
    const scanMs: number[] = [];
    let wrong = 0;
    const session = new Session();
    if (profile) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    for (let i = 0; i < searches; i++) {
      const id = ids[rand.intn(ids.length)] as string;
      const calls0 = kv.calls();
      const t0 = performance.now();
      const r = await store.traceById(kv, 'bench', Buffer.from(id, 'hex'));
      byIdMs.push(performance.now() - t0);
      bytes.byId += r.stats.bytesRead;
      blocks.byId += r.stats.blocksScanned;
      calls.byId += kv.calls() - calls0;
      if (r.spans.length !== (byTrace.get(id) as SpanRow[]).length) wrong++;
    }
    for (let i = 0; i < searches; i++) {
      const c = names[rand.intn(names.length)] as string;
      const r = await time({ ...base, predicate: { attrs: [['customer.id', c]] }, limit: 100 }, 'attribute');
      attrMs.push(r.ms);
      if (JSON.stringify(r.ids.sort()) !== JSON.stringify([...(customers.get(c) ?? [])].sort())) wrong++;
    }
    // TraceQL `{ span.customer.id = "c" }`: with the span match pushed into the block indexes, and without it (the baseline), alternating.
    // The baseline's candidates are every span of the hour: it reads traces until TraceSearchLimits.tracesFetchedMax and
    // answers partial (the bound working as designed), so a partial answer is counted apart and must hold only right traces.
    const tql = { with: [] as number[], without: [] as number[], statsWith: newScanStats(), statsWithout: newScanStats(), tracesWith: 0, tracesWithout: 0, partialWithout: 0 };
    for (let i = 0; i < searches; i++) {
      const c = names[rand.intn(names.length)] as string;
      const q: TraceSearchQuery = { ...base, predicate: {}, traceql: `{ span.customer.id = ${JSON.stringify(c)} }`, limit: 100 };
      const wantSet = customers.get(c) ?? new Set<string>();
      const wantIds = JSON.stringify([...wantSet].sort());
      for (const pushed of i % 2 === 0 ? [true, false] : [false, true]) {
        const r = await time(q, undefined, { earlyStop: true, spanMatch: pushed });
        (pushed ? tql.with : tql.without).push(r.ms);
        addScanStats(pushed ? tql.statsWith : tql.statsWithout, r.stats);
        if (pushed) tql.tracesWith += r.traces;
        else tql.tracesWithout += r.traces;
        if (!pushed && r.partial) {
          tql.partialWithout++;
          if (r.ids.some((id) => !wantSet.has(id))) wrong++;
        } else if (r.partial || JSON.stringify(r.ids.sort()) !== wantIds) wrong++;
      }
    }
    for (let i = 0; i < searches; i++) {
      const r = await time(durationQuery, 'duration');
      durMs.push(r.ms);
      if (r.ids.length !== 20 || r.ids.some((id) => (durations.get(id) ?? 0n) < minNs)) wrong++;
      if (JSON.stringify(r.ids) !== JSON.stringify(want)) wrong++;
    }
    let frames: string[] = [];
    if (profile) {
      const { profile: cpu } = await session.post('Profiler.stop');
      session.disconnect();
      frames = topFrames(cpu, 25);
    }
    for (let i = 0; i < Math.max(1, Math.floor(searches / 10)); i++) scanMs.push((await time({ ...durationQuery, fullScan: true })).ms);
    const p = (xs: number[], q: number): number => Math.round(percentileMs([...xs].sort((a, b) => a - b), q) * 100) / 100;
    console.log(`query-traces-shard: ${spans.length} spans in ${traces} traces, ${flushes} flush(es); load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    const kb = (k: 'byId' | 'attribute' | 'duration'): string =>
      `${Math.round(bytes[k] / searches / 1024)} KiB read, ${(blocks[k] / searches).toFixed(1)} blocks, ${(calls[k] / searches).toFixed(1)} LevelDB calls`;
    console.log(`  trace by id       p50 ${p(byIdMs, 50)} ms  p99 ${p(byIdMs, 99)} ms  ${kb('byId')}`);
    console.log(`  attribute search  p50 ${p(attrMs, 50)} ms  p99 ${p(attrMs, 99)} ms  ${kb('attribute')}`);
    console.log(`  duration search   p50 ${p(durMs, 50)} ms  p99 ${p(durMs, 99)} ms  ${kb('duration')}  (full scan p50 ${p(scanMs, 50)} ms: ${Math.round((p(scanMs, 50) / Math.max(p(durMs, 50), 0.01)) * 10) / 10}x)`);
    const per1 = (n: number): string => (n / searches).toFixed(1);
    const statLine = (st: ScanStats, traces: number): string =>
      `blocks scanned ${per1(st.blocksScanned)}, pruned by index ${per1(st.blocksPrunedIndex)} bloom ${per1(st.blocksPrunedBloom)}, bytes read ${per1(st.bytesRead)}, traces read ${per1(traces)} (per search)`;
    console.log(`  TraceQL span.customer.id, span match pushed   p50 ${p(tql.with, 50)} ms  p99 ${p(tql.with, 99)} ms; ${statLine(tql.statsWith, tql.tracesWith)}`);
    console.log(`  TraceQL span.customer.id, without (baseline)  p50 ${p(tql.without, 50)} ms  p99 ${p(tql.without, 99)} ms; ${statLine(tql.statsWithout, tql.tracesWithout)}`);
    console.log(`  TraceQL baseline answers partial (stopped at tracesFetchedMax, right traces only): ${tql.partialWithout} of ${searches}`);
    console.log(`  TraceQL baseline / pushed: p50 ${(p(tql.without, 50) / Math.max(0.01, p(tql.with, 50))).toFixed(1)}x, bytes read ${(tql.statsWithout.bytesRead / Math.max(1, tql.statsWith.bytesRead)).toFixed(1)}x`);
    console.log(`  wrong answers: ${wrong}`);
    for (const f of frames) console.log(`  ${f}`);
    if (wrong > 0) process.exitCode = 1;
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * cacheAb runs each query kind `searches` times on a cached and an uncached
 * store over the same LevelDB (every block flushed, the heads empty),
 * alternating which goes first, checks that both answer the same, and
 * prints p50/p99 of each and the uncached/cached ratio of the p50s.
 */
async function cacheAb(
  db: ShardDb,
  rand: SeededRand,
  searches: number,
  base: { startNs: bigint; endNs: bigint; spss: number },
  names: readonly string[],
  ids: readonly string[],
  byTrace: ReadonlyMap<string, SpanRow[]>,
  customers: ReadonlyMap<string, Set<string>>,
): Promise<void> {
  const cache = new SpanBlockCache();
  const cached = new TraceStore({}, cache);
  const plain = new TraceStore();
  await cached.load(db);
  await plain.load(db);
  let wrong = 0;
  const p = (xs: number[], q: number): number => Math.round(percentileMs([...xs].sort((a, b) => a - b), q) * 100) / 100;
  const kinds: { name: string; run: (s: TraceStore, i: number) => Promise<string> }[] = [
    {
      name: 'trace by id',
      run: async (s, i) => {
        const id = ids[i % ids.length] as string;
        const r = await s.traceById(db, 'bench', Buffer.from(id, 'hex'));
        if (r.spans.length !== (byTrace.get(id) as SpanRow[]).length) wrong++;
        return String(r.spans.length);
      },
    },
    {
      name: 'attribute search',
      run: async (s, i) => {
        const c = names[i % names.length] as string;
        const a = await searchShard(s, db, 'bench', { ...base, predicate: { attrs: [['customer.id', c]] }, limit: 100 }, () => false);
        const got = a.traces.map((t) => Buffer.from(t.traceId).toString('hex')).sort();
        if (JSON.stringify(got) !== JSON.stringify([...(customers.get(c) ?? [])].sort())) wrong++;
        return got.join();
      },
    },
    {
      name: 'duration search',
      run: async (s) => {
        const a = await searchShard(s, db, 'bench', { ...base, predicate: {}, minTraceDurationNs: 300_000_000n, limit: 20 }, () => false);
        return a.traces.map((t) => Buffer.from(t.traceId).toString('hex')).join();
      },
    },
  ];
  console.log(`query-traces-shard --cache-ab: ${ids.length} traces; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const k of kinds) {
    const ms = { cached: [] as number[], plain: [] as number[] };
    const picks = Array.from({ length: searches }, () => rand.intn(1 << 30));
    for (let i = 0; i < searches; i++) {
      const answers: string[] = [];
      for (const which of i % 2 === 0 ? (['cached', 'plain'] as const) : (['plain', 'cached'] as const)) {
        const t0 = performance.now();
        answers.push(await k.run(which === 'cached' ? cached : plain, picks[i] as number));
        ms[which].push(performance.now() - t0);
      }
      if (answers[0] !== answers[1]) wrong++;
    }
    const ratio = p(ms.plain, 50) / Math.max(0.01, p(ms.cached, 50));
    console.log(`  ${k.name.padEnd(17)} uncached p50 ${p(ms.plain, 50)} / p99 ${p(ms.plain, 99)} ms; cached p50 ${p(ms.cached, 50)} / p99 ${p(ms.cached, 99)} ms; uncached/cached p50 ${ratio.toFixed(2)}x`);
  }
  const st = cache.stats();
  console.log(`  cache: ${st.hits} hits, ${st.misses} misses, ${st.entries} entries, ${(st.bytes / 1024 / 1024).toFixed(1)} of ${(st.bytesMax / 1024 / 1024).toFixed(0)} MiB`);
  console.log(`  wrong answers: ${wrong}`);
  if (wrong > 0) process.exitCode = 1;
}

if (process.argv[1]?.endsWith('query-traces-shard.js') === true) await main();
