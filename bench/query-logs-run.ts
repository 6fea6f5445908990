/**
 * query-logs-run.ts — one run of `bench/query-logs.ts`, callable from its
 * test:
 *
 *  1. the seeded lines (query-logs-data.ts) encoded as OTLP/HTTP bodies;
 *  2. ingest baseline: a real cluster through the CLI (`cluster up
 *     --detach`, R = nodes) started with `--log-term-index off`, every body
 *     written (`connections` in flight, round robin over the nodes, 429/503
 *     retried), every head flushed (POST /api/v1/admin/flush), the cluster
 *     stopped; the ingest time is write + flush (the index is built at
 *     flush);
 *  3. the same bodies into a fresh cluster with the index on (the default),
 *     timed alike: the ratio on/off is the index's ingest cost. Steps 2 and
 *     3 repeat `ingestRounds` times, off and on alternated (each round a
 *     fresh pair of clusters), so a drift in the machine's speed falls on
 *     both sides; the figure is the ratio of the sums (all on time over all
 *     off time), each round's ratio printed beside it. The last round's
 *     index-on cluster stays up for the queries;
 *  4. the query kinds (query-logs-queries.ts) through
 *     /loki/api/v1/query_range, one at a time from one client, each to the
 *     next node in turn, every answer compared with the brute-force scan;
 *     the brute-force scan timed in this process, and SQLite FTS5 loaded
 *     with the same lines and timed (query-logs-fts5.ts) when installed;
 *  5. clusters stopped by PID and directories removed, also on errors.
 *
 * Latencies are wall clock at the client, ms, per query; p50/p99 by
 * nearest rank. Ownership: runQueryLogsBench owns the clusters, the SQLite
 * file and the temp dir.
 */
import { BENCH_TENANT, benchRequest, configureBenchTenant, writeAllBodies } from './bench-http.js';
import type { LoadRetries } from './bench-http.js';
import { mainThreadCpuSec, sumCpuSec } from './kv-load.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { assert } from '../src/errors.js';
import { percentileMs } from './ingest-plan.js';
import { startOtlpdb } from './kv-otlpdb.js';
import type { OtlpdbCluster } from './kv-otlpdb.js';
import { Fts5Baseline, loadFts5 } from './query-logs-fts5.js';
import { buildQueryLogsData } from './query-logs-data.js';
import type { QueryLogsData } from './query-logs-data.js';
import type { CountAnswer, LogAnswer, QueryKind, QuerySpec } from './query-logs-queries.js';
import { COUNT_STEP_S, LOG_LIMIT, QUERY_KINDS, bruteCount, bruteLog, buildQuerySpec, logqlOf, queryText, searchBodyOf } from './query-logs-queries.js';

/** BENCH_TENANT is the tenant of every request (bench-http.ts). */
export { BENCH_TENANT } from './bench-http.js';
const DATA_SEED = 8_008;
const FLUSH_TIMEOUT_MS = 600_000;
const FLUSH_ATTEMPTS_MAX = 4;
/** QUERY_ATTEMPTS_MAX bounds the sends of one query whose connection failed. */
const QUERY_ATTEMPTS_MAX = 3;
/** SLOW_QUERY_LOG_MS: a query slower than this is logged with its node and otlpdb's stats (where the time went); `--slow-ms` sets another bound (0 logs every query). */
export const SLOW_QUERY_LOG_MS = 1_000;

/** QueryLogsConfig is what the flags choose. */
export interface QueryLogsConfig {
  readonly nodes: number;
  readonly lines: number;
  readonly queries: number;
  readonly connections: number;
  /** ingestBaseline runs step 2 (the index-off cluster); off saves a load in development. */
  readonly ingestBaseline: boolean;
  /** ingestRounds is how many times steps 2 and 3 run, alternated (1 without the baseline). */
  readonly ingestRounds: number;
  readonly fts5: boolean;
  readonly json: boolean;
  /** slowMs: a query slower than this is logged with otlpdb's stats (SLOW_QUERY_LOG_MS unless --slow-ms). */
  readonly slowMs?: number;
}

/** QueryPorts are the base ports of a cluster (every node on 127.0.0.1, node i on base + i − 1). */
export interface QueryPorts {
  readonly api: number;
  readonly peer: number;
  readonly otlpGrpc: number;
  readonly otlpHttp: number;
}

/** Latency is one system's latencies for one query kind. */
export interface Latency {
  readonly queries: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** KindFigures are one query kind's figures on the three systems, and wrong answers. */
export interface KindFigures {
  readonly kind: QueryKind;
  readonly example: string;
  readonly otlpdb: Latency | null;
  readonly brute: Latency | null;
  readonly fts5: Latency | null;
  /** meanMatches is the mean answer size (lines for log queries, total count for counts). */
  readonly meanMatches: number;
  readonly wrong: number;
  readonly firstWrong: string | null;
}

/** IngestFigures are one cluster's load: seconds to write and to flush, the nodes' CPU seconds in each, and the refusals retried while writing. */
export interface IngestFigures {
  readonly writeSec: number;
  readonly flushSec: number;
  /** writeCpuSec and flushCpuSec sum the nodes' CPU (user + system, every thread: receive workers and LevelDB's included); null when /proc could not be read. */
  readonly writeCpuSec: number | null;
  readonly flushCpuSec: number | null;
  /** writeMainCpuSec and flushMainCpuSec sum the nodes' main threads alone (the event loops: apply, Raft, the flush's encoding); null when /proc could not be read. */
  readonly writeMainCpuSec: number | null;
  readonly flushMainCpuSec: number | null;
  readonly retries: LoadRetries;
}


/** IngestRound is one round of steps 2 and 3: the index-off load (null without the baseline) and the index-on one. */
export interface IngestRound {
  readonly off: IngestFigures | null;
  readonly on: IngestFigures;
}

/** QueryLogsReport is a run's figures. */
export interface QueryLogsReport {
  readonly config: QueryLogsConfig;
  readonly lines: number;
  readonly lineBytes: number;
  readonly requestBytes: number;
  /** ingest holds every round in the order run; the last round's index-on cluster answered the queries. */
  readonly ingest: readonly IngestRound[];
  readonly fts5: { readonly version: string; readonly loadSec: number } | { readonly notice: string };
  readonly kinds: KindFigures[];
  readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
}

async function flushAll(api: string, log: (l: string) => void): Promise<void> {
  // A big flush on a loaded machine can outlast a node's flush deadline or one request: the nodes keep flushing, so ask again.
  for (let attempt = 1; ; attempt++) {
    const flush = await benchRequest(`http://${api}/api/v1/admin/flush`, { method: 'POST' }, FLUSH_TIMEOUT_MS).catch((err: unknown) => ({ status: 0, text: String(err), retryAfterS: 1 }));
    if (flush.status === 200) return;
    if (attempt >= FLUSH_ATTEMPTS_MAX) throw new Error(`bench/query-logs: flush answered ${flush.status}: ${flush.text.slice(0, 200)}`);
    log(`flush attempt ${attempt} answered ${flush.status} (${flush.text.slice(0, 120)}); asking again`);
  }
}

/** loadCluster starts a cluster, writes every body, flushes, and returns the cluster (running) and the ingest figures. */
async function loadCluster(config: QueryLogsConfig, data: QueryLogsData, dir: string, ports: QueryPorts, termIndex: boolean, log: (l: string) => void): Promise<{ cluster: OtlpdbCluster; apis: string[]; ingest: IngestFigures }> {
  log(`starting ${config.nodes} node(s), R=${config.nodes}, log term index ${termIndex ? 'on' : 'off'}, in ${dir}`);
  const cluster = await startOtlpdb({
    dir,
    nodes: config.nodes,
    apiPort: ports.api,
    peerPort: ports.peer,
    // Every node on 127.0.0.1, ports base + (i − 1): the bench stays off 127.0.0.2-9, which fault tests cut with iptables.
    extraArgs: ['--port-step', '1', '--replicas', String(config.nodes), '--otlp-grpc-port', String(ports.otlpGrpc), '--otlp-http-port', String(ports.otlpHttp), '--log-term-index', termIndex ? 'on' : 'off'],
  });
  try {
    const apis = cluster.file.nodes.map((n) => n.api);
    const webs = cluster.file.nodes.map((n) => n.otlpHttp ?? '');
    assert(webs.every((w) => w !== ''), 'cluster up printed every node\'s OTLP/HTTP address');
    await configureBenchTenant(apis, 'bench/query-logs');
    log(`writing ${data.lines.length} lines in ${data.bodies.length} requests (${Math.round(data.bytes / 1e6)} MB)`);
    const c0 = sumCpuSec(cluster.pids);
    const m0 = sumCpuSec(cluster.pids, mainThreadCpuSec);
    const w0 = performance.now();
    const retries = await writeAllBodies({ bench: 'bench/query-logs', bodies: data.bodies, path: '/v1/logs', targets: webs, connections: config.connections, logEvery: 500, log });
    const writeSec = (performance.now() - w0) / 1000;
    const c1 = sumCpuSec(cluster.pids);
    const m1 = sumCpuSec(cluster.pids, mainThreadCpuSec);
    const f0 = performance.now();
    await flushAll(apis[0] as string, log);
    const flushSec = (performance.now() - f0) / 1000;
    const c2 = sumCpuSec(cluster.pids);
    const m2 = sumCpuSec(cluster.pids, mainThreadCpuSec);
    const tenth = (x: number): number => Math.round(x * 10) / 10;
    return {
      cluster,
      apis,
      ingest: {
        writeSec: tenth(writeSec),
        flushSec: tenth(flushSec),
        writeCpuSec: c0 === null || c1 === null ? null : tenth(c1 - c0),
        flushCpuSec: c1 === null || c2 === null ? null : tenth(c2 - c1),
        writeMainCpuSec: m0 === null || m1 === null ? null : tenth(m1 - m0),
        flushMainCpuSec: m1 === null || m2 === null ? null : tenth(m2 - m1),
        retries,
      },
    };
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}

/**
 * queryWithRetry sends one query, again (at most QUERY_ATTEMPTS_MAX times)
 * when the connection fails before an answer: undici reuses a kept-alive
 * socket the server may be closing ("other side closed"). The time of the
 * failed attempts counts in the query's latency; each is logged.
 */
async function queryWithRetry(req: QueryRequest, headers: Record<string, string>, log: (l: string) => void): Promise<{ status: number; text: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await benchRequest(req.url, req.body === null ? { headers } : { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: req.body });
    } catch (err) {
      if (attempt >= QUERY_ATTEMPTS_MAX) throw err;
      log(`  query failed (${err instanceof Error ? `${err.message}${err.cause === undefined ? '' : `: ${String(err.cause)}`}` : String(err)}); sending it again`);
    }
  }
}

/** QueryRequest is one query's HTTP request: a GET of Loki's query_range, or a POST of the JSON search (fuzzy). */
interface QueryRequest {
  readonly url: string;
  readonly body: string | null;
}

/** requestOf is the request of a query to one node: LogQL through /loki/api/v1/query_range, fuzzy through POST /api/v1/logs/search. */
export function requestOf(api: string, q: QuerySpec): QueryRequest {
  if (q.kind === 'fuzzy') return { url: `http://${api}/api/v1/logs/search`, body: searchBodyOf(q, LOG_LIMIT) };
  const params = new URLSearchParams({ query: logqlOf(q), start: String(q.startNs), end: String(q.endNs), limit: String(LOG_LIMIT), direction: 'backward' });
  if (q.kind === 'count') params.set('step', `${COUNT_STEP_S}s`);
  return { url: `http://${api}/loki/api/v1/query_range?${params.toString()}`, body: null };
}

function latency(ms: number[]): Latency {
  const sorted = [...ms].sort((a, b) => a - b);
  const r = (v: number): number => Math.round(v * 100) / 100;
  return { queries: ms.length, p50Ms: r(percentileMs(sorted, 50)), p99Ms: r(percentileMs(sorted, 99)), maxMs: r(sorted[sorted.length - 1] ?? 0) };
}

interface LokiDoc {
  status?: string;
  data?: { resultType?: string; result?: { values?: [string, string][] }[] };
}

/** parseLogAnswer reads a streams answer: every value, newest first. */
export function parseLogAnswer(doc: LokiDoc): LogAnswer {
  const all: [bigint, string][] = [];
  for (const s of doc.data?.result ?? []) for (const [t, line] of s.values ?? []) all.push([BigInt(t), line]);
  all.sort((a, b) => (a[0] > b[0] ? -1 : a[0] < b[0] ? 1 : 0));
  return { timesNs: all.map((x) => x[0]), lines: all.map((x) => x[1]) };
}

/** parseCountAnswer reads a one-series matrix answer (seconds with a fraction) into step end ns → count. */
export function parseCountAnswer(doc: LokiDoc): CountAnswer {
  const out: CountAnswer = new Map();
  for (const s of doc.data?.result ?? []) {
    for (const [t, v] of s.values ?? []) {
      const ns = BigInt(Math.round(Number(t) * 1000)) * 1_000_000n;
      out.set(ns, (out.get(ns) ?? 0) + Number(v));
    }
  }
  return out;
}

/** sameLog compares two log answers exactly; null when equal, else what differs. */
export function sameLog(got: LogAnswer, want: LogAnswer): string | null {
  if (got.lines.length !== want.lines.length) return `${got.lines.length} lines, want ${want.lines.length}`;
  for (let i = 0; i < got.lines.length; i++) {
    if (got.timesNs[i] !== want.timesNs[i] || got.lines[i] !== want.lines[i]) return `line ${i}: ${String(got.timesNs[i])} ${JSON.stringify(got.lines[i]?.slice(0, 60))}, want ${String(want.timesNs[i])} ${JSON.stringify(want.lines[i]?.slice(0, 60))}`;
  }
  return null;
}

/** sameCount compares two count answers exactly (steps with zero are absent in both); null when equal. */
export function sameCount(got: CountAnswer, want: CountAnswer): string | null {
  const keys = new Set([...got.keys(), ...want.keys()]);
  for (const k of keys) {
    if ((got.get(k) ?? 0) !== (want.get(k) ?? 0)) return `step ${k}: ${got.get(k) ?? 0}, want ${want.get(k) ?? 0} (${got.size} steps, want ${want.size})`;
  }
  return null;
}

/** runQueryLogsBench runs the whole bench; see the top of this file. */
export async function runQueryLogsBench(config: QueryLogsConfig, o: { readonly ports: QueryPorts; readonly log: (l: string) => void }): Promise<QueryLogsReport> {
  const taken = await fetch(`http://127.0.0.1:${o.ports.api}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
    () => true,
    () => false,
  );
  if (taken) throw new Error(`bench/query-logs: 127.0.0.1:${o.ports.api} already answers: another cluster runs on the bench's ports; wait for it to stop`);
  const before = loadavg();
  o.log(`generating ${config.lines} lines`);
  const data = buildQueryLogsData(config.lines, Date.now(), DATA_SEED);
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-bench-query-logs-'));
  let cluster: OtlpdbCluster | null = null;
  let fts: Fts5Baseline | null = null;
  try {
    const ingest: IngestRound[] = [];
    const rounds = config.ingestBaseline ? config.ingestRounds : 1;
    let on: Awaited<ReturnType<typeof loadCluster>> | null = null;
    for (let round = 1; round <= rounds; round++) {
      let offFigures: IngestFigures | null = null;
      if (config.ingestBaseline) {
        o.log(`ingest round ${round} of ${rounds}: index off`);
        const off = await loadCluster(config, data, join(root, 'index-off'), o.ports, false, o.log);
        offFigures = off.ingest;
        await off.cluster.stop();
        await rm(join(root, 'index-off'), { recursive: true, force: true });
      }
      o.log(`ingest round ${round} of ${rounds}: index on`);
      on = await loadCluster(config, data, join(root, 'index-on'), o.ports, true, o.log);
      ingest.push({ off: offFigures, on: on.ingest });
      if (round < rounds) {
        await on.cluster.stop();
        await rm(join(root, 'index-on'), { recursive: true, force: true });
      }
    }
    assert(on !== null, 'at least one ingest round ran');
    cluster = on.cluster;
    const apis = on.apis;

    let fts5Figure: QueryLogsReport['fts5'];
    const lib = config.fts5 ? loadFts5() : { ctor: null, reason: 'FTS5 skipped (--no-fts5)' };
    if (lib.ctor !== null) {
      o.log(`loading SQLite FTS5 (${lib.version}) with the same lines`);
      const l0 = performance.now();
      fts = Fts5Baseline.load(lib.ctor, join(root, 'fts5.sqlite'), data);
      fts5Figure = { version: lib.version, loadSec: Math.round((performance.now() - l0) / 100) / 10 };
      assert(fts.rows() === data.lines.length, 'FTS5 holds every line');
    } else {
      fts5Figure = { notice: lib.reason };
      o.log(`NOTICE: ${lib.reason}`);
    }

    let turn = 0;
    const headers = { 'x-scope-orgid': BENCH_TENANT };
    const kinds: KindFigures[] = [];
    for (const kind of QUERY_KINDS) {
      o.log(`${kind}: ${config.queries} queries`);
      // One unrecorded query first on every node (the first query of a kind pays for cold caches and code paths), as the other benches warm up.
      for (const api of apis) await queryWithRetry(requestOf(api, buildQuerySpec(kind, 0, data)), headers, o.log);
      const msO: number[] = [];
      const msB: number[] = [];
      const msF: number[] = [];
      const wrong: string[] = [];
      let matches = 0;
      for (let i = 0; i < config.queries; i++) {
        const q: QuerySpec = buildQuerySpec(kind, i, data);
        const logql = queryText(q);
        const api = apis[turn++ % apis.length] as string;
        const t0 = performance.now();
        const r = await queryWithRetry(requestOf(api, q), headers, o.log);
        const tookMs = performance.now() - t0;
        msO.push(tookMs);
        const doc = r.status === 200 ? (JSON.parse(r.text) as LokiDoc) : null;
        if (tookMs > (config.slowMs ?? SLOW_QUERY_LOG_MS)) o.log(`  slow: ${kind} #${i} on ${api}: ${Math.round(tookMs)} ms, ${logql}; stats ${JSON.stringify((doc?.data as { stats?: unknown } | undefined)?.stats ?? r.text.slice(0, 300))}`);
        const b0 = performance.now();
        const want = kind === 'count' ? bruteCount(data, q) : bruteLog(data, q);
        msB.push(performance.now() - b0);
        let ftsGot: LogAnswer | CountAnswer | null = null;
        // FTS5 has no fuzzy query: that kind is otlpdb against brute force only.
        if (fts !== null && kind !== 'fuzzy') {
          const f0 = performance.now();
          ftsGot = kind === 'count' ? fts.count(q) : fts.log(q);
          msF.push(performance.now() - f0);
        }
        const differ = (got: LogAnswer | CountAnswer): string | null => (want instanceof Map ? sameCount(got as CountAnswer, want) : sameLog(got as LogAnswer, want));
        if (doc === null) wrong.push(`otlpdb ${logql}: ${r.status} ${r.text.slice(0, 200)}`);
        else {
          const d = differ(kind === 'count' ? parseCountAnswer(doc) : parseLogAnswer(doc));
          if (d !== null) wrong.push(`otlpdb ${logql} [${q.startNs}, ${q.endNs}]: ${d}`);
        }
        if (ftsGot !== null) {
          const d = differ(ftsGot);
          if (d !== null) wrong.push(`fts5 ${q.ftsMatch} for ${logql}: ${d}`);
        }
        matches += want instanceof Map ? [...want.values()].reduce((n, v) => n + v, 0) : want.lines.length;
      }
      kinds.push({
        kind,
        example: queryText(buildQuerySpec(kind, 0, data)),
        otlpdb: latency(msO),
        brute: latency(msB),
        fts5: msF.length > 0 ? latency(msF) : null,
        meanMatches: Math.round(matches / config.queries),
        wrong: wrong.length,
        firstWrong: wrong[0] ?? null,
      });
    }
    return {
      config,
      lines: data.lines.length,
      lineBytes: data.lineBytes,
      requestBytes: data.bytes,
      ingest,
      fts5: fts5Figure,
      kinds,
      loadAverage: { before, after: loadavg() },
    };
  } catch (err) {
    // The directory goes in `finally`: say first how each node's log ended.
    for (const sub of ['index-off', 'index-on']) {
      for (let i = 1; i <= config.nodes; i++) {
        const text = await readFile(join(root, sub, `n${i}.log`), 'utf8').catch(() => null);
        if (text !== null) o.log(`${sub} n${i}.log ends: ${text.slice(-600)}`);
      }
    }
    throw err;
  } finally {
    fts?.close();
    await cluster?.stop().catch((e: unknown) => o.log(`bench/query-logs: stopping the cluster: ${String(e)}`));
    await rm(root, { recursive: true, force: true });
  }
}
