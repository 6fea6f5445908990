/**
 * query-traces-run.ts — one run of `bench/query-traces.ts`, callable from its
 * test:
 *
 *  1. a real cluster through the CLI (`cluster up --detach`, R = nodes), its
 *     tenant `bench` given an ingest rate the load never reaches;
 *  2. the seeded traces (query-traces-data.ts) written over OTLP/HTTP
 *     protobuf, `connections` requests in flight, round robin over the
 *     nodes, 429/503 retried after Retry-After; then every head flushed
 *     (POST /api/v1/admin/flush), so the queries read blocks as they will
 *     in production;
 *  3. three kinds of query, after one unrecorded query of each kind on every
 *     node (logged as the cold figures), one at a time from one client, each
 *     to the next node in turn, each answer checked against the facts of the data:
 *     trace by id (GET /api/traces/{id}: every span back), a selective
 *     attribute equality (Tempo tag search `customer.id=cN` over the hour:
 *     exactly the customer's traces), and a broad duration range (tag search
 *     `minDuration=` over the hour with limit 20: 20 traces, each at least
 *     that long); then the two searches again with `scan=full` (the same
 *     search without the indexes) for the index/scan ratio;
 *  4. the cluster stopped by PID and its directory removed, also on errors.
 *
 * Latencies are wall clock at the client, ms, per query; p50/p99 by
 * nearest rank. Ownership: runQueryTracesBench owns the cluster and its dir.
 */
import { BENCH_TENANT, benchRequest, configureBenchTenant, writeAllBodies } from './bench-http.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { assert } from '../src/errors.js';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { percentileMs } from './ingest-plan.js';
import { startOtlpdb } from './kv-otlpdb.js';
import type { OtlpdbCluster } from './kv-otlpdb.js';
import { ByIdPaths } from './query-traces-by-id.js';
import type { ByIdBreakdown, ByIdLookup } from './query-traces-by-id.js';
import { buildQueryTracesData } from './query-traces-data.js';
import type { QueryTracesArrival } from './query-traces-data.js';
import type { TraceFacts } from './query-traces-data.js';
import { sampleOf, searchTail } from './query-traces-tail.js';
import type { SearchSample, SearchTail } from './query-traces-tail.js';

/** BENCH_TENANT is the tenant of every request (bench-http.ts). */
export { BENCH_TENANT } from './bench-http.js';
const DATA_SEED = 3200;
/** DURATION_MIN_MS is the broad search's minDuration: about two thirds of the traces last longer. */
export const DURATION_MIN_MS = 300;
/** FLUSH_TIMEOUT_MS bounds one flush request; FLUSH_ATTEMPTS_MAX the flush requests (a 2M-span flush on a loaded machine takes minutes). */
const FLUSH_TIMEOUT_MS = 300_000;
const FLUSH_ATTEMPTS_MAX = 4;

/** QueryTracesConfig is what the flags choose. */
export interface QueryTracesConfig {
  readonly nodes: number;
  readonly traces: number;
  readonly byIdQueries: number;
  readonly searchQueries: number;
  readonly scanQueries: number;
  readonly connections: number;
  /** arrival is the order the traces are written in (query-traces-data.ts). */
  readonly arrival: QueryTracesArrival;
  /** portBase, when set, puts every node on 127.0.0.1 with ports from it (query-traces.ts portBasePorts); null: node i on 127.0.0.i. */
  readonly portBase: number | null;
  /** nodeArgs are Node flags every node runs with (`--trace-gc`, `--import=preload.mjs`: naming the pauses a query meets). */
  readonly nodeArgs: readonly string[];
  /** queryLog, when set, is a file that gets one JSON line per timed query: kind, place, node, start (epoch ms), latency. */
  readonly queryLog: string | null;
  readonly json: boolean;
}

/** QueryPorts are the base ports of the cluster (node i listens on 127.0.0.i, or with `step` on 127.0.0.1 at base + step × (i - 1)). */
export interface QueryPorts {
  readonly api: number;
  readonly peer: number;
  readonly otlpGrpc: number;
  readonly otlpHttp: number;
  readonly step?: number;
}

/** LatencyFigures are one query kind's latencies and how many answers were wrong. */
export interface LatencyFigures {
  readonly queries: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly wrong: number;
  /** firstWrong describes the first wrong answer, for the report. */
  readonly firstWrong: string | null;
  /** work is the mean per query of the shards' work as the search answer's `stats` reports it (searches only; null for lookups). */
  readonly work: SearchWork | null;
}

/** SearchWork is what the shards did for one search, from its answer's `stats`: blocks read and pruned, spans inspected, bytes read. */
export interface SearchWork {
  readonly blocksScanned: number;
  readonly blocksPruned: number;
  readonly inspectedSpans: number;
  readonly bytesRead: number;
}

/** QueryTracesReport is a run's figures. */
export interface QueryTracesReport {
  readonly config: QueryTracesConfig;
  readonly spans: number;
  readonly traces: number;
  readonly requestBytes: number;
  readonly writeSec: number;
  readonly flushSec: number;
  readonly byId: LatencyFigures;
  /** byIdPaths splits trace by id by path (leader asked or forwarded) over two passes (query-traces-by-id.ts). */
  readonly byIdPaths: ByIdBreakdown;
  readonly attribute: LatencyFigures;
  readonly duration: LatencyFigures;
  /** attributeTail and durationTail are each kind's first and slowest searches, the slowest asked again (query-traces-tail.ts). */
  readonly attributeTail: SearchTail;
  readonly durationTail: SearchTail;
  readonly attributeScan: LatencyFigures;
  readonly durationScan: LatencyFigures;
  readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
}

function figures(latencies: number[], wrong: string[], docs: readonly SearchDoc[] | null = null): LatencyFigures {
  const sorted = [...latencies].sort((a, b) => a - b);
  const r = (v: number): number => Math.round(v * 100) / 100;
  let work: SearchWork | null = null;
  if (docs !== null && docs.length > 0) {
    const mean = (f: (s: NonNullable<SearchDoc['stats']>) => number): number => Math.round(docs.reduce((n, d) => n + (d.stats === undefined ? 0 : f(d.stats)), 0) / docs.length);
    work = {
      blocksScanned: mean((s) => s.blocksScanned ?? 0),
      blocksPruned: mean((s) => (s.blocksPrunedTime ?? 0) + (s.blocksPrunedBloom ?? 0) + (s.blocksPrunedIndex ?? 0)),
      inspectedSpans: mean((s) => s.inspectedSpans ?? 0),
      bytesRead: mean((s) => s.bytesRead ?? 0),
    };
  }
  return { queries: latencies.length, p50Ms: r(percentileMs(sorted, 50)), p99Ms: r(percentileMs(sorted, 99)), maxMs: r(sorted[sorted.length - 1] ?? 0), wrong: wrong.length, firstWrong: wrong[0] ?? null, work };
}

interface SearchDoc {
  traces?: { traceID: string; durationMs: number }[];
  stats?: { partial?: boolean; blocksScanned?: number; blocksPrunedTime?: number; blocksPrunedBloom?: number; blocksPrunedIndex?: number; inspectedSpans?: number; bytesRead?: number };
}

/** runQueryTracesBench runs the whole bench; see the top of this file. */
export async function runQueryTracesBench(config: QueryTracesConfig, o: { readonly ports: QueryPorts; readonly log: (l: string) => void }): Promise<QueryTracesReport> {
  // Another run on the same ports (another worktree's bench) would answer our queries while our nodes fail to bind: refuse.
  const taken = await fetch(`http://127.0.0.1:${o.ports.api}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
    () => true,
    () => false,
  );
  if (taken) throw new Error(`bench/query-traces: 127.0.0.1:${o.ports.api} already answers: another cluster runs on the bench's ports; wait for it to stop`);
  const before = loadavg();
  o.log(`generating ${config.traces} traces`);
  const data = buildQueryTracesData(config.traces, Date.now(), DATA_SEED, config.arrival);
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-bench-query-'));
  let cluster: OtlpdbCluster | null = null;
  try {
    o.log(`starting ${config.nodes} node(s), R=${config.nodes}, in ${root}`);
    cluster = await startOtlpdb({
      dir: join(root, 'cluster'),
      nodes: config.nodes,
      apiPort: o.ports.api,
      peerPort: o.ports.peer,
      nodeArgs: config.nodeArgs,
      extraArgs: [
        '--replicas', String(config.nodes), '--otlp-grpc-port', String(o.ports.otlpGrpc), '--otlp-http-port', String(o.ports.otlpHttp),
        ...(o.ports.step === undefined ? [] : ['--port-step', String(o.ports.step)]),
      ],
    });
    const apis = cluster.file.nodes.map((n) => n.api);
    const webs = cluster.file.nodes.map((n) => n.otlpHttp ?? '');
    assert(webs.every((w) => w !== ''), 'cluster up printed every node\'s OTLP/HTTP address');
    await configureBenchTenant(apis, 'bench/query-traces');

    o.log(`writing ${data.spans} spans in ${data.bodies.length} requests (${Math.round(data.bytes / 1e6)} MB)`);
    const w0 = performance.now();
    await writeAllBodies({ bench: 'bench/query-traces', bodies: data.bodies, path: '/v1/traces', targets: webs, connections: config.connections, logEvery: 200, log: o.log });
    const writeSec = (performance.now() - w0) / 1000;
    const f0 = performance.now();
    // A flush of millions of spans on a loaded machine can outlast one node's flush deadline
    // (ShardServiceLimits.flushDeadlineMs) or one request: the nodes keep flushing, so ask again.
    for (let attempt = 1; ; attempt++) {
      const flush = await benchRequest(`http://${apis[0] as string}/api/v1/admin/flush`, { method: 'POST' }, FLUSH_TIMEOUT_MS).catch((err: unknown) => ({ status: 0, text: String(err), retryAfterS: 1 }));
      if (flush.status === 200) break;
      if (attempt >= FLUSH_ATTEMPTS_MAX) throw new Error(`bench/query-traces: flush answered ${flush.status}: ${flush.text.slice(0, 200)}`);
      o.log(`flush attempt ${attempt} answered ${flush.status} (${flush.text.slice(0, 120)}); asking again`);
    }
    const flushSec = (performance.now() - f0) / 1000;

    const rand = new SeededRand(DATA_SEED + 1);
    let turn = 0;
    const nextApi = (): string => apis[turn++ % apis.length] as string;
    const headers = { 'x-scope-orgid': BENCH_TENANT };
    const range = `start=${data.windowStartS}&end=${data.windowEndS}`;
    // The query log: one line per timed query, in memory until the run ends (bounded by the run's query counts).
    const queryLines: string[] = [];
    let phase = 'warm-up';
    const place = new Map<string, number>();
    const note = (api: string, startMs: number, ms: number): void => {
      if (config.queryLog === null) return;
      const n = place.get(phase) ?? 0;
      place.set(phase, n + 1);
      queryLines.push(JSON.stringify({ kind: phase, i: n, api, startMs, ms: Math.round(ms * 100) / 100 }));
    };
    const timed = async (path: string): Promise<{ ms: number; status: number; text: string }> => {
      const api = nextApi();
      const startMs = Date.now();
      const t0 = performance.now();
      const r = await benchRequest(`http://${api}${path}`, { headers });
      const ms = performance.now() - t0;
      note(api, startMs, ms);
      return { ms, status: r.status, text: r.text };
    };

    // One unrecorded query of each kind first on every node (its first query pays for cold caches and code paths),
    // as bench/query-metrics and bench/query-logs warm up; the cold times are logged, not hidden.
    const warmRand = new SeededRand(DATA_SEED + 2);
    const warm = async (kind: string, pathOf: () => string): Promise<void> => {
      const ms: number[] = [];
      phase = `warm-up ${kind}`;
      for (const api of apis) {
        const startMs = Date.now();
        const t0 = performance.now();
        await benchRequest(`http://${api}${pathOf()}`, { headers });
        ms.push(performance.now() - t0);
        note(api, startMs, ms[ms.length - 1] as number);
      }
      o.log(`warm-up, ${kind}: one query a node, ${ms.map((x) => x.toFixed(1)).join(' / ')} ms (not counted)`);
    };
    await warm('trace by id', () => `/api/traces/${(data.traces[warmRand.intn(data.traces.length)] as TraceFacts).traceIdHex}`);
    await warm('attribute search', () => `/api/search?tags=${encodeURIComponent(`customer.id=${(data.traces[warmRand.intn(data.traces.length)] as TraceFacts).customer}`)}&${range}&limit=100`);
    await warm('duration search', () => `/api/search?minDuration=${DURATION_MIN_MS}ms&${range}&limit=20`);

    phase = 'by-id';
    o.log(`trace by id: ${config.byIdQueries} queries`);
    const byIdMs: number[] = [];
    const byIdWrong: string[] = [];
    const paths = await ByIdPaths.open(cluster.file.nodes);
    const lookups: ByIdLookup[] = [];
    for (let i = 0; i < config.byIdQueries; i++) {
      const f = data.traces[rand.intn(data.traces.length)] as TraceFacts;
      const api = apis[turn % apis.length] as string;
      const r = await timed(`/api/traces/${f.traceIdHex}`);
      byIdMs.push(r.ms);
      lookups.push(paths.classify(i, f.traceIdHex, api, r.ms));
      const doc = r.status === 200 ? (JSON.parse(r.text) as { batches: { scopeSpans: { spans: unknown[] }[] }[] }) : null;
      const spans = doc?.batches.reduce((n, b) => n + b.scopeSpans.reduce((m, s) => m + s.spans.length, 0), 0) ?? -1;
      if (spans !== f.spans) byIdWrong.push(`trace ${f.traceIdHex}: ${r.status}, ${spans} spans, want ${f.spans}${r.status === 200 ? '' : `: ${r.text.slice(0, 300)}`}`);
    }

    phase = 'by-id-again';
    const secondPass = await paths.again(lookups, note);

    const byCustomer = new Map<string, string[]>();
    for (const f of data.traces) byCustomer.set(f.customer, [...(byCustomer.get(f.customer) ?? []), f.traceIdHex]);
    const customers = [...byCustomer.keys()];
    const samples = { attribute: [] as SearchSample[], duration: [] as SearchSample[] };
    const attributeSearch = async (n: number, scan: string): Promise<LatencyFigures> => {
      const ms: number[] = [];
      const wrong: string[] = [];
      const docs: SearchDoc[] = [];
      for (let i = 0; i < n; i++) {
        const c = customers[rand.intn(customers.length)] as string;
        const path = `/api/search?tags=${encodeURIComponent(`customer.id=${c}`)}&${range}&limit=100${scan}`;
        const r = await timed(path);
        ms.push(r.ms);
        if (scan === '') samples.attribute.push(sampleOf(i, path, r.ms, r.text));
        const doc = r.status === 200 ? (JSON.parse(r.text) as SearchDoc) : null;
        if (doc !== null) docs.push(doc);
        const got = (doc?.traces ?? []).map((t) => t.traceID).sort();
        const want = [...(byCustomer.get(c) ?? [])].sort();
        if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`customer ${c}: ${r.status}, ${got.length} traces, want ${want.length}`);
      }
      return figures(ms, wrong, docs);
    };
    const longEnough = data.traces.filter((f) => f.durationNs >= BigInt(DURATION_MIN_MS) * 1_000_000n).length;
    const durationSearch = async (n: number, scan: string): Promise<LatencyFigures> => {
      const ms: number[] = [];
      const wrong: string[] = [];
      const docs: SearchDoc[] = [];
      for (let i = 0; i < n; i++) {
        const path = `/api/search?minDuration=${DURATION_MIN_MS}ms&${range}&limit=20${scan}`;
        const r = await timed(path);
        ms.push(r.ms);
        if (scan === '') samples.duration.push(sampleOf(i, path, r.ms, r.text));
        const doc = r.status === 200 ? (JSON.parse(r.text) as SearchDoc) : null;
        if (doc !== null) docs.push(doc);
        const traces = doc?.traces ?? [];
        const want = Math.min(20, longEnough);
        if (traces.length !== want || traces.some((t) => t.durationMs < DURATION_MIN_MS)) wrong.push(`duration: ${r.status}, ${traces.length} traces, want ${want}`);
      }
      return figures(ms, wrong, docs);
    };
    o.log(`attribute search: ${config.searchQueries} queries; duration search: ${config.searchQueries}`);
    phase = 'attribute';
    const attribute = await attributeSearch(config.searchQueries, '');
    phase = 'duration';
    const duration = await durationSearch(config.searchQueries, '');
    // The slowest searches asked again at once: cold (fast the second time) or more work (blocks, bytes).
    phase = 'tail-again';
    const attributeTail = await searchTail(samples.attribute, timed);
    const durationTail = await searchTail(samples.duration, timed);
    o.log(`the same as full scans: ${config.scanQueries} each`);
    phase = 'attribute-scan';
    const attributeScan = await attributeSearch(config.scanQueries, '&scan=full');
    phase = 'duration-scan';
    const durationScan = await durationSearch(config.scanQueries, '&scan=full');
    // Trace by id's third pass: as many other traces, each to the node its first-pass counterpart asked.
    phase = 'by-id-third';
    const thirdPass = await paths.again(lookups.map((l) => ({ traceIdHex: (data.traces[rand.intn(data.traces.length)] as TraceFacts).traceIdHex, api: l.api })), note);
    const byIdPaths = await paths.breakdown(lookups, secondPass, thirdPass);
    if (config.queryLog !== null) await writeFile(config.queryLog, queryLines.length === 0 ? '' : `${queryLines.join('\n')}\n`);
    return {
      config,
      spans: data.spans,
      traces: data.traces.length,
      requestBytes: data.bytes,
      writeSec: Math.round(writeSec * 10) / 10,
      flushSec: Math.round(flushSec * 10) / 10,
      byId: figures(byIdMs, byIdWrong),
      byIdPaths,
      attribute,
      duration,
      attributeTail,
      durationTail,
      attributeScan,
      durationScan,
      loadAverage: { before, after: loadavg() },
    };
  } finally {
    await cluster?.stop().catch((e: unknown) => o.log(`bench/query-traces: stopping the cluster: ${String(e)}`));
    await rm(root, { recursive: true, force: true });
  }
}
