/**
 * query-metrics-run.ts — one run of `bench/query-metrics.ts`, callable from
 * its test:
 *
 *  1. a real 3-node cluster through the CLI (`cluster up --detach
 *     --port-step 1`: every node on 127.0.0.1, R=3), its default tenant
 *     given an ingest rate the load never reaches;
 *  2. the data (query-metrics-data.ts) written over OTLP/HTTP protobuf,
 *     time-major, many points per request, `connections` requests in
 *     flight round robin over the nodes (429/503 and dropped connections
 *     retried; a rejected point fails the run); then every head flushed,
 *     so the queries read blocks;
 *  3. the same samples as OpenMetrics through `promtool tsdb
 *     create-blocks-from openmetrics` into a Prometheus 2.42 on
 *     `ports.prometheus` (promql/prometheus-oracle-util.ts); then, unless
 *     told not to, the wait for Prometheus's first compaction of the 2 h
 *     blocks promtool wrote (it starts a minute after start-up), so it is
 *     measured as a long-running server that compacted its blocks and is
 *     not compacting during the queries;
 *  4. the queries, interleaved (each round: the aggregation on both, then
 *     the selective instant query on both, which system goes first
 *     alternating), after `warmups` unrecorded rounds: `sum by (app)
 *     (rate(m[5m]))` over the whole data at step 1m (query_range), and
 *     `m{pod="p-N"}` at a seeded time and pod (query). Every answer pair is
 *     compared (promql/prometheus-oracle-util.ts compareResponses: 1e-9
 *     relative, same label sets) and must be non-trivial (the aggregation
 *     min(series, GROUPS) groups, the instant query one series), so a wrong
 *     or empty answer fails the run instead of being timed;
 *  5. the cluster and Prometheus stopped by PID, their directories removed,
 *     also on errors.
 *
 * Latency is the client's wall clock per query (POST form, JSON parsed),
 * ms; p50/p99 by nearest rank. Ownership: runQueryMetricsBench owns the
 * cluster, Prometheus and their directories.
 */
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { assert } from '../src/errors.js';
import { SeededRand } from '../src/fs/seeded-rand.js';
import type { PromApiResponse, PromqlRunner, RunningPrometheus } from '../src/query/promql/prometheus-oracle-util.js';
import { compareResponses, httpRunner, startPrometheusOver } from '../src/query/promql/prometheus-oracle-util.js';
import { decodeExportResponse, percentileMs } from './ingest-plan.js';
import { startOtlpdb } from './kv-otlpdb.js';
import { sumCpuSec } from './kv-load.js';
import type { OtlpdbCluster } from './kv-otlpdb.js';
import { GROUPS, METRIC_NAME, MetricsBodies, openMetricsChunks, planBodies, samplesPerSeries } from './query-metrics-data.js';
import type { MetricsShape } from './query-metrics-data.js';

/** FULL_SERIES is the issue's series count (scale 1). */
export const FULL_SERIES = 10_000;
const DATA_SEED = 7_100;
const QUERY_SEED = 7_101;
const SEND_RETRIES_MAX = 50;
const REQUEST_TIMEOUT_MS = 120_000;
const FLUSH_TIMEOUT_MS = 600_000;
const FLUSH_ATTEMPTS_MAX = 4;
/** PROMTOOL_DEADLINE_MS bounds promtool (it parses the whole file once per 2 h block) and Prometheus's start. */
const PROMTOOL_DEADLINE_MS = 3_600_000;
/** COMPACTION_WAIT_MS bounds the wait for Prometheus's first compaction. */
const COMPACTION_WAIT_MS = 900_000;

/** IDLE_WINDOW_MS is how long the nodes' idle CPU is sampled, before and after the timed rounds (ms; /proc counts in 10 ms ticks). */
const IDLE_WINDOW_MS = 3_000;

/** QueryMetricsConfig is what the flags choose. */

export interface QueryMetricsConfig {
  /** scale is the fraction of FULL_SERIES loaded (at least one series). */
  readonly scale: number;
  readonly hours: number;
  readonly aggQueries: number;
  readonly instantQueries: number;
  readonly warmups: number;
  readonly connections: number;
  readonly pointsPerBody: number;
  /** waitCompaction waits for Prometheus's first compaction before querying (off in the smoke test: it takes a minute). */
  readonly waitCompaction: boolean;
  /** cpuProfDir, when set, runs the nodes with `--cpu-prof` writing there (a profile per node when it stops). */
  readonly cpuProfDir: string | null;
  /** nodeV8Flags are V8 heap flags the nodes run with (`--node-v8 --min-semi-space-size=16`: an A/B of the young generation's size). */
  readonly nodeV8Flags: readonly string[];
  /** traceGcDir, when set, runs the nodes with `--trace-gc` and copies their logs there before the data is removed. */
  readonly traceGcDir: string | null;
  readonly json: boolean;
  /** portBase is the first port: node APIs from it, then peer +10, OTLP gRPC +20, OTLP HTTP +30, Prometheus +40 (bench/query-metrics.ts). */
  readonly portBase: number;
}

/** QueryMetricsPorts are the cluster's base ports (node i: base + i - 1, all on 127.0.0.1) and Prometheus's port. */
export interface QueryMetricsPorts {
  readonly api: number;
  readonly peer: number;
  readonly otlpGrpc: number;
  readonly otlpHttp: number;
  readonly prometheus: number;
}

/** Latency is one query kind's latencies on one system. */
export interface Latency {
  readonly queries: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** QueryFigures are one query kind on both systems, the ratios otlpdb/Prometheus and the answers that differed. */
export interface QueryFigures {
  readonly query: string;
  readonly otlpdb: Latency;
  readonly prometheus: Latency;
  readonly ratioP50: number;
  readonly ratioP99: number;
  readonly compared: number;
  readonly wrong: number;
  readonly firstWrong: string | null;
  /** nodeCpuMsP50 and nodeCpuMsTotal are the CPU time (user + system, every thread) the 3 nodes spent during otlpdb's timed queries, the median per query and the sum; null when /proc could not be read. */
  readonly nodeCpuMsP50: number | null;
  readonly nodeCpuMsTotal: number | null;
}

/** QueryMetricsReport is a run's figures. */
export interface QueryMetricsReport {
  readonly config: QueryMetricsConfig;
  readonly series: number;
  readonly samples: number;
  readonly groups: number;
  readonly requests: number;
  readonly requestBytes: number;
  readonly loadSec: number;
  readonly samplesPerSec: number;
  readonly flushSec: number;
  readonly prometheusLoadSec: number;
  readonly compactionWaitSec: number;
  readonly aggregation: QueryFigures;
  readonly instant: QueryFigures;
  readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
  /**
   * nodeIdleCpuMsPerSec is the 3 nodes' CPU time (every thread) a second of
   * wall time with no query running, measured over IDLE_WINDOW_MS before and
   * after the timed rounds: what a query's nodeCpuMs counts beside its own
   * work (Raft ticks, LevelDB compactions, flushes) is about this times its
   * wall time. Null when /proc could not be read.
   */
  readonly nodeIdleCpuMsPerSec: { readonly before: number | null; readonly after: number | null };
}

/** shapeOf is the data a config asks for, ending on the minute before `nowMs`. */
export function shapeOf(config: QueryMetricsConfig, nowMs: number): MetricsShape {
  const series = Math.max(1, Math.round(FULL_SERIES * config.scale));
  const endMs = Math.floor(nowMs / 60_000) * 60_000 - 60_000;
  return { series, hours: config.hours, seed: DATA_SEED, t0Ms: endMs - config.hours * 3_600_000 };
}

/** latencyOf summarises latencies in ms. */
export function latencyOf(ms: readonly number[]): Latency {
  const sorted = [...ms].sort((a, b) => a - b);
  const r = (v: number): number => Math.round(v * 10) / 10;
  return { queries: ms.length, p50Ms: r(percentileMs(sorted, 50)), p99Ms: r(percentileMs(sorted, 99)), maxMs: r(sorted[sorted.length - 1] ?? 0) };
}

/** ratio is a/b to two decimals (0 when b is 0). */
export function ratio(a: number, b: number): number {
  return b === 0 ? 0 : Math.round((a / b) * 100) / 100;
}

/** resultSeries counts the series of a vector or matrix answer (-1 for an error or another type). */
export function resultSeries(r: PromApiResponse): number {
  if (r.status !== 'success' || !Array.isArray(r.data.result)) return -1;
  if (r.data.resultType !== 'vector' && r.data.resultType !== 'matrix') return -1;
  return r.data.result.length;
}

/**
 * judgeAnswers compares one pair of answers and checks the answer is the
 * one the data must give (wantSeries series): null when right, else what
 * is wrong. Both empty, or both refused, is wrong here: the bench times
 * real answers only.
 */
export function judgeAnswers(prometheus: PromApiResponse, otlpdb: PromApiResponse, wantSeries: number): string | null {
  const n = resultSeries(prometheus);
  if (n !== wantSeries) return `prometheus answered ${n} series (${prometheus.status}${prometheus.status === 'error' ? `: ${prometheus.error}` : ''}), want ${wantSeries}`;
  const d = compareResponses(prometheus, otlpdb);
  if (d !== null) return `otlpdb differs from prometheus: ${d}${otlpdb.status === 'error' ? ` (${otlpdb.error})` : ''}`;
  return null;
}

async function request(url: string, init: RequestInit = {}, timeoutMs = REQUEST_TIMEOUT_MS): Promise<{ status: number; bytes: Uint8Array; retryAfterS: number }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const retryAfterS = Number(res.headers.get('retry-after') ?? '1');
  return { status: res.status, bytes, retryAfterS: Number.isFinite(retryAfterS) ? retryAfterS : 1 };
}

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

/**
 * writeAll sends every body. Sender w owns the host blocks b with b mod
 * senders = w and walks the windows in order, its blocks within each
 * window: a series' samples then reach the store in time order (it refuses
 * an older sample), and the senders move through time together, as
 * scrapers do. The first failure stops every sender.
 */
async function writeAll(bodies: MetricsBodies, targets: readonly string[], connections: number, log: (l: string) => void): Promise<{ bytes: number; points: number }> {
  let sent = 0;
  let bytes = 0;
  let points = 0;
  let failed = false;
  const step = Math.max(1, Math.floor(bodies.total / 20));
  const senders = Math.min(connections, bodies.blocks);
  const send = async (body: { bytes: Uint8Array; points: number }, target: string): Promise<void> => {
    for (let attempt = 0; !failed; attempt++) {
      // A dropped connection is retried like a 503: the body's idempotency key makes a repeat harmless (DESIGN.md §1.3).
      const r = await request(`http://${target}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: body.bytes }).catch((err: unknown) => {
        log(`  a request failed: ${err instanceof Error ? `${err.message}${err.cause === undefined ? '' : `: ${String(err.cause)}`}` : String(err)}; retrying`);
        return { status: 503, bytes: new Uint8Array(0), retryAfterS: 1 };
      });
      if (r.status === 200) {
        const rejected = decodeExportResponse(r.bytes).rejected;
        if (rejected > 0) throw new Error(`bench/query-metrics: otlpdb rejected ${rejected} of ${body.points} points: ${text(r.bytes).slice(0, 300)}`);
        return;
      }
      if ((r.status !== 429 && r.status !== 503) || attempt >= SEND_RETRIES_MAX) throw new Error(`bench/query-metrics: a write answered ${r.status}: ${text(r.bytes).slice(0, 300)}`);
      await new Promise((res) => setTimeout(res, Math.min(5, r.retryAfterS) * 1000));
    }
  };
  const sender = async (w: number): Promise<void> => {
    for (let window = 0; window < bodies.windows; window++) {
      for (let block = w; block < bodies.blocks; block += senders) {
        if (failed) return;
        const body = bodies.body(window, block);
        await send(body, targets[(window + block) % targets.length] as string);
        sent++;
        bytes += body.bytes.length;
        points += body.points;
        if (sent % step === 0) log(`  written ${sent} of ${bodies.total} requests (${points.toLocaleString('en-US')} samples)`);
      }
    }
  };
  await Promise.all(Array.from({ length: senders }, (_, w) => sender(w).catch((err: unknown) => {
    failed = true;
    throw err;
  })));
  return { bytes, points };
}

async function writeOpenMetrics(shape: MetricsShape, path: string): Promise<void> {
  const out = createWriteStream(path);
  try {
    for (const chunk of openMetricsChunks(shape)) {
      if (!out.write(chunk)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
}

/** promMetric reads one unlabelled sample of Prometheus's own /metrics, or null. */
async function promMetric(url: string, name: string): Promise<number | null> {
  const body = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  return m === null ? null : Number(m[1]);
}

/** waitCompaction waits until Prometheus ran its first compaction and its block count held still for 10 s. */
async function waitCompaction(url: string, log: (l: string) => void): Promise<void> {
  const until = performance.now() + COMPACTION_WAIT_MS;
  let lastBlocks: number | null = null;
  let stableSince = 0;
  for (;;) {
    if (performance.now() > until) throw new Error(`bench/query-metrics: Prometheus's compaction did not settle within ${COMPACTION_WAIT_MS} ms`);
    const triggered = (await promMetric(url, 'prometheus_tsdb_compactions_triggered_total')) ?? 0;
    const blocks = await promMetric(url, 'prometheus_tsdb_blocks_loaded');
    if (triggered >= 1 && blocks !== null && blocks === lastBlocks) {
      if (performance.now() - stableSince >= 10_000) {
        log(`  prometheus: ${blocks} blocks after compaction`);
        return;
      }
    } else {
      lastBlocks = blocks;
      stableSince = performance.now();
    }
    await new Promise((res) => setTimeout(res, 2_000));
  }
}

async function flushAll(api: string, log: (l: string) => void): Promise<void> {
  // A flush of millions of samples on a loaded machine can outlast one node's flush deadline: the nodes keep flushing, so ask again.
  for (let attempt = 1; ; attempt++) {
    const f = await request(`http://${api}/api/v1/admin/flush`, { method: 'POST' }, FLUSH_TIMEOUT_MS).catch((err: unknown) => ({ status: 0, bytes: new TextEncoder().encode(String(err)), retryAfterS: 1 }));
    if (f.status === 200) return;
    if (attempt >= FLUSH_ATTEMPTS_MAX) throw new Error(`bench/query-metrics: flush answered ${f.status}: ${text(f.bytes).slice(0, 200)}`);
    log(`flush attempt ${attempt} answered ${f.status} (${text(f.bytes).slice(0, 120)}); asking again`);
  }
}

/** runQueryMetricsBench runs the whole bench; see the top of this file. */
export async function runQueryMetricsBench(config: QueryMetricsConfig, o: { readonly ports: QueryMetricsPorts; readonly log: (l: string) => void }): Promise<QueryMetricsReport> {
  for (const port of [o.ports.api, o.ports.prometheus]) {
    // Another run on the same ports would answer our queries while ours fail to bind: refuse.
    const taken = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) }).then(() => true, () => false);
    if (taken) throw new Error(`bench/query-metrics: 127.0.0.1:${port} already answers: another run uses the bench's ports; wait for it to stop`);
  }
  const before = loadavg();
  const shape = shapeOf(config, Date.now());
  const plan = planBodies(shape, config.pointsPerBody);
  const bodies = new MetricsBodies(shape, plan);
  const samples = shape.series * samplesPerSeries(shape);
  const groups = Math.min(shape.series, GROUPS);
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-bench-qmetrics-'));
  let cluster: OtlpdbCluster | null = null;
  let prom: RunningPrometheus | null = null;
  try {
    o.log(`starting 3 nodes, R=3, in ${root}`);
    cluster = await startOtlpdb({
      dir: join(root, 'cluster'), nodes: 3, apiPort: o.ports.api, peerPort: o.ports.peer,
      extraArgs: ['--replicas', '3', '--port-step', '1', '--otlp-grpc-port', String(o.ports.otlpGrpc), '--otlp-http-port', String(o.ports.otlpHttp)],
      nodeArgs: [...(config.cpuProfDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', config.cpuProfDir]), ...config.nodeV8Flags, ...(config.traceGcDir === null ? [] : ['--trace-gc'])],
    });
    const apis = cluster.file.nodes.map((n) => n.api);
    const webs = cluster.file.nodes.map((n) => n.otlpHttp ?? '');
    assert(webs.every((w) => w !== ''), 'cluster up printed every node\'s OTLP/HTTP address');
    const settings = { ingestBytesPerSecondMax: 1024 * 1024 * 1024, ingestBurstBytesMax: 2 * 1024 * 1024 * 1024 };
    const put = await request(`http://${apis[0] as string}/api/v1/tenants/default`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(settings) });
    if (put.status !== 200) throw new Error(`bench/query-metrics: PUT tenant answered ${put.status}: ${text(put.bytes)}`);
    for (const api of apis) await request(`http://${api}/api/v1/tenants/default`);

    o.log(`writing ${samples.toLocaleString('en-US')} samples (${shape.series} series × ${shape.hours} h at 15 s) in ${bodies.total} requests of up to ${plan.hostsPerBody * 100 * plan.windowSamples} points`);
    const w0 = performance.now();
    const written = await writeAll(bodies, webs, config.connections, o.log);
    const loadSec = (performance.now() - w0) / 1000;
    assert(written.points === samples, 'every sample was written');
    o.log(`written in ${loadSec.toFixed(1)} s (${Math.round(samples / loadSec).toLocaleString('en-US')} samples/s); flushing`);
    const f0 = performance.now();
    await flushAll(apis[0] as string, o.log);
    const flushSec = (performance.now() - f0) / 1000;

    o.log('writing the same samples as OpenMetrics; promtool; prometheus');
    const p0 = performance.now();
    prom = await startPrometheusOver((path) => writeOpenMetrics(shape, path), o.ports.prometheus, { deadlineMs: PROMTOOL_DEADLINE_MS });
    const prometheusLoadSec = (performance.now() - p0) / 1000;
    const c0 = performance.now();
    if (config.waitCompaction) {
      o.log('waiting for Prometheus\'s first compaction');
      await waitCompaction(prom.url, o.log);
    }
    const compactionWaitSec = (performance.now() - c0) / 1000;

    const prometheus = httpRunner(prom.url);
    const nodes = apis.map((a) => httpRunner(`http://${a}`));
    const endMs = shape.t0Ms + shape.hours * 3_600_000;
    const aggQuery = `sum by (app) (rate(${METRIC_NAME}[5m]))`;
    const aggRange = { startMs: shape.t0Ms, endMs, stepMs: 60_000 };
    const rand = new SeededRand(QUERY_SEED);
    let turn = 0;
    // The nodes' CPU time around each otlpdb query (all three: the coordinator and the shards' leaders), from /proc.
    const pids = cluster.pids;
    const nodesCpuSec = (): number | null => sumCpuSec(pids);
    const timed = async (run: PromqlRunner, query: string, range: { startMs: number; endMs: number; stepMs: number }): Promise<{ ms: number; r: PromApiResponse; cpuMs: number | null }> => {
      const c0 = nodesCpuSec();
      const t0 = performance.now();
      const r = await run(query, range);
      const ms = performance.now() - t0;
      const c1 = nodesCpuSec();
      return { ms, r, cpuMs: c0 === null || c1 === null ? null : (c1 - c0) * 1000 };
    };
    const kinds = {
      aggregation: { query: aggQuery, otlpdb: [] as number[], prometheus: [] as number[], cpuMs: [] as (number | null)[], compared: 0, wrong: [] as string[] },
      instant: { query: `${METRIC_NAME}{pod="p-N"}`, otlpdb: [] as number[], prometheus: [] as number[], cpuMs: [] as (number | null)[], compared: 0, wrong: [] as string[] },
    };
    const round = async (kind: keyof typeof kinds, query: string, range: { startMs: number; endMs: number; stepMs: number }, wantSeries: number, record: boolean): Promise<void> => {
      const node = nodes[turn % nodes.length] as PromqlRunner;
      const promFirst = turn % 2 === 0;
      turn++;
      const a = await timed(promFirst ? prometheus : node, query, range);
      const b = await timed(promFirst ? node : prometheus, query, range);
      const [p, x] = promFirst ? [a, b] : [b, a];
      const k = kinds[kind];
      const wrong = judgeAnswers(p.r, x.r, wantSeries);
      if (!record) {
        if (wrong !== null) k.wrong.push(`warm-up ${query}: ${wrong}`);
        return;
      }
      k.prometheus.push(p.ms);
      k.otlpdb.push(x.ms);
      k.cpuMs.push(x.cpuMs);
      k.compared++;
      if (wrong !== null) k.wrong.push(`${query} ${JSON.stringify(range)}: ${wrong}`);
    };
    const instantCase = (): { query: string; range: { startMs: number; endMs: number; stepMs: number } } => {
      const pod = rand.intn(shape.series);
      // A time a whole second after the fifth minute (within the lookback of a sample), anywhere in the data.
      const span = Math.max(1, Math.floor((endMs - shape.t0Ms - 300_000) / 1000));
      const at = shape.t0Ms + 300_000 + rand.intn(span) * 1000;
      return { query: `${METRIC_NAME}{pod="p-${pod}"}`, range: { startMs: at, endMs: at, stepMs: 0 } };
    };
    const idleCpuMsPerSec = async (): Promise<number | null> => {
      const c0 = nodesCpuSec();
      const t0 = performance.now();
      await new Promise((res) => setTimeout(res, IDLE_WINDOW_MS));
      const c1 = nodesCpuSec();
      return c0 === null || c1 === null ? null : Math.round(((c1 - c0) * 1000 * 1000) / (performance.now() - t0));
    };
    let idleBefore: number | null = null;
    o.log(`queries: ${config.warmups} warm-up rounds, then ${config.aggQueries} aggregations and ${config.instantQueries} instant queries on each system, interleaved`);
    const rounds = Math.max(config.aggQueries, config.instantQueries);
    for (let i = -config.warmups; i < rounds; i++) {
      const record = i >= 0;
      if (i === 0) idleBefore = await idleCpuMsPerSec();
      if (!record || i < config.aggQueries) await round('aggregation', aggQuery, aggRange, groups, record);
      if (!record || i < config.instantQueries) {
        const c = instantCase();
        await round('instant', c.query, c.range, 1, record);
      }
      if (record && (i + 1) % 5 === 0) o.log(`  round ${i + 1} of ${rounds}`);
    }
    const idleAfter = await idleCpuMsPerSec();
    const figures = (k: (typeof kinds)[keyof typeof kinds]): QueryFigures => {
      const x = latencyOf(k.otlpdb);
      const p = latencyOf(k.prometheus);
      const cpu = k.cpuMs.every((c) => c !== null) && k.cpuMs.length > 0 ? (k.cpuMs as number[]) : null;
      return {
        query: k.query, otlpdb: x, prometheus: p, ratioP50: ratio(x.p50Ms, p.p50Ms), ratioP99: ratio(x.p99Ms, p.p99Ms), compared: k.compared, wrong: k.wrong.length, firstWrong: k.wrong[0] ?? null,
        nodeCpuMsP50: cpu === null ? null : Math.round(latencyOf(cpu).p50Ms), nodeCpuMsTotal: cpu === null ? null : Math.round(cpu.reduce((a, b) => a + b, 0)),
      };
    };
    return {
      config,
      series: shape.series,
      samples,
      groups,
      requests: bodies.total,
      requestBytes: written.bytes,
      loadSec: Math.round(loadSec * 10) / 10,
      samplesPerSec: Math.round(samples / loadSec),
      flushSec: Math.round(flushSec * 10) / 10,
      prometheusLoadSec: Math.round(prometheusLoadSec * 10) / 10,
      compactionWaitSec: Math.round(compactionWaitSec * 10) / 10,
      aggregation: figures(kinds.aggregation),
      instant: figures(kinds.instant),
      loadAverage: { before, after: loadavg() },
      nodeIdleCpuMsPerSec: { before: idleBefore, after: idleAfter },
    };
  } finally {
    await prom?.stop().catch((e: unknown) => o.log(`bench/query-metrics: stopping prometheus: ${String(e)}`));
    await cluster?.stop().catch((e: unknown) => o.log(`bench/query-metrics: stopping the cluster: ${String(e)}`));
    if (config.traceGcDir !== null) await keepNodeLogs(join(root, 'cluster'), config.traceGcDir, o.log);
    await rm(root, { recursive: true, force: true });
  }
}

/** keepNodeLogs copies the nodes' logs (`nN.log` in the cluster's directory: their `--trace-gc` lines) into `dir`. */
async function keepNodeLogs(clusterDir: string, dir: string, log: (l: string) => void): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    for (const f of await readdir(clusterDir)) if (/^n\d+\.log$/.test(f)) await copyFile(join(clusterDir, f), join(dir, f));
  } catch (e) {
    log(`bench/query-metrics: keeping the node logs: ${String(e)}`);
  }
}
