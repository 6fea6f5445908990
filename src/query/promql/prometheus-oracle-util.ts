/**
 * prometheus-oracle-util.ts — the oracle's machinery: start a real
 * Prometheus over the oracle dataset (promtool create-blocks-from
 * openmetrics, then `prometheus` on a loopback port), run queries through
 * pluggable runners answering Prometheus's API JSON, and compare answers
 * (relative tolerance 1e-9, NaN equal to NaN, same label sets, same result
 * type, same error-or-not).
 *
 * A runner is `(query, range) => Promise<PromApiResponse>`, so the same
 * corpus runs against Prometheus, against the engine over an in-memory
 * source, or against a real otlpdb node's /api/v1/query.
 */

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PromApiResponse } from './api-json.js';
import { toPromApiJson } from './api-json.js';
import { labelsKey } from './labels.js';
import type { EvalRange, FloatSeries, PromqlEngine, SeriesSource } from './source.js';
import { OracleCorpus } from './oracle-corpus.js';
import { oracleOpenMetrics, OracleT0Ms } from './oracle-dataset.js';


export type { PromApiResponse };

/** PromqlRunner answers one query over one range (stepMs 0: instant) in Prometheus's API shape. */
export type PromqlRunner = (query: string, range: EvalRange) => Promise<PromApiResponse>;

const sec = (ms: number): number => ms / 1000;

/** engineRunner runs queries through a PromqlEngine over a source. */
export function engineRunner(engine: PromqlEngine, source: SeriesSource, lookbackMs = 300_000): PromqlRunner {
  return async (query, range) => {
    try {
      const r = await engine.evaluate(query, range, source, { lookbackMs, signal: new AbortController().signal });
      return toPromApiJson(r);
    } catch (err) {
      const e = err as { code?: string; message: string; details?: { promErrorType?: string } };
      if (e.code === undefined) throw err;
      return { status: 'error', errorType: e.details?.promErrorType ?? e.code, error: e.message };
    }
  };
}

/** httpRunner runs queries against a Prometheus-compatible HTTP API (Prometheus itself, or an otlpdb node). */
export function httpRunner(baseUrl: string): PromqlRunner {
  return async (query, range) => {
    const form = new URLSearchParams({ query });
    let path = '/api/v1/query';
    if (range.stepMs === 0) form.set('time', String(sec(range.startMs)));
    else {
      path = '/api/v1/query_range';
      form.set('start', String(sec(range.startMs)));
      form.set('end', String(sec(range.endMs)));
      form.set('step', String(sec(range.stepMs)));
    }
    const res = await fetch(`${baseUrl}${path}`, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return (await res.json()) as PromApiResponse;
  };
}

function parseValue(s: unknown): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  return Number(s);
}

/** floatsEqual compares two answers' values: relative tolerance 1e-9, NaN equal to NaN, infinities exactly. */
export function floatsEqual(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) || Math.abs(a - b) < 1e-12;
}

function keyOf(metric: Record<string, string>): string {
  return labelsKey(Object.keys(metric).sort().map((name) => ({ name, value: metric[name] ?? '' })));
}

/** compareResponses answers null when two answers agree, or the first difference. */
export function compareResponses(want: PromApiResponse, got: PromApiResponse): string | null {
  if (want.status !== got.status) return `status ${want.status} vs ${got.status}`;
  if (want.status === 'error' || got.status === 'error') return null;
  if (want.data.resultType !== got.data.resultType) return `resultType ${want.data.resultType} vs ${got.data.resultType}`;
  const t = want.data.resultType;
  if (t === 'scalar' || t === 'string') {
    const [wt, wv] = want.data.result as [number, string];
    const [gt, gv] = got.data.result as [number, string];
    if (wt !== gt) return `time ${wt} vs ${gt}`;
    if (t === 'string' ? wv !== gv : !floatsEqual(parseValue(wv), parseValue(gv))) return `value ${wv} vs ${gv}`;
    return null;
  }
  const index = (rs: unknown): Map<string, [number, string][]> => {
    const m = new Map<string, [number, string][]>();
    for (const r of rs as { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[]) {
      const k = keyOf(r.metric);
      if (m.has(k)) m.set(`${k}#dup${m.size}`, r.values ?? (r.value === undefined ? [] : [r.value]));
      else m.set(k, r.values ?? (r.value === undefined ? [] : [r.value]));
    }
    return m;
  };
  const w = index(want.data.result);
  const g = index(got.data.result);
  for (const k of w.keys()) if (!g.has(k)) return `series ${k.replace(/\xff/g, '=').replace(/\xfe/g, ',')} missing`;
  for (const k of g.keys()) if (!w.has(k)) return `series ${k.replace(/\xff/g, '=').replace(/\xfe/g, ',')} unexpected`;
  for (const [k, wp] of w) {
    const gp = g.get(k) ?? [];
    if (wp.length !== gp.length) return `series ${k.replace(/\xff/g, '=').replace(/\xfe/g, ',')}: ${wp.length} points vs ${gp.length}`;
    for (let i = 0; i < wp.length; i++) {
      const [wt, wv] = wp[i] as [number, string];
      const [gt, gv] = gp[i] as [number, string];
      if (wt !== gt || !floatsEqual(parseValue(wv), parseValue(gv))) return `series ${k.replace(/\xff/g, '=').replace(/\xfe/g, ',')} point ${i}: [${wt}, ${wv}] vs [${gt}, ${gv}]`;
    }
  }
  return null;
}

/** OracleCase is one query over one range. */
export interface OracleCase {
  readonly query: string;
  readonly range: EvalRange;
}

/**
 * oracleCases are the corpus's runs over the oracle dataset: every query as
 * an instant query at two times (one inside a gauge's gap) and as a range
 * query over two hours at step 1m; every fourth also at an odd step (37 s)
 * that no subquery step divides.
 */
export function oracleCases(corpus: readonly string[] = OracleCorpus): OracleCase[] {
  const out: OracleCase[] = [];
  corpus.forEach((query, i) => {
    for (const at of [OracleT0Ms + 9_003_000, OracleT0Ms + 4_200_000]) out.push({ query, range: { startMs: at, endMs: at, stepMs: 0 } });
    out.push({ query, range: { startMs: OracleT0Ms + 3_600_000, endMs: OracleT0Ms + 10_800_000, stepMs: 60_000 } });
    if (i % 4 === 0) out.push({ query, range: { startMs: OracleT0Ms + 1_800_000, endMs: OracleT0Ms + 7_200_000, stepMs: 37_000 } });
  });
  return out;
}

/** OracleMismatch is one case where the runners disagree, with both answers. */
export interface OracleMismatch {
  readonly query: string;
  readonly range: EvalRange;
  readonly difference: string;
  readonly want: string;
  readonly got: string;
}

/** OracleOutcome is a corpus run: the mismatches, and how many cases both answered non-empty or refused (so agreement is not vacuous). */
export interface OracleOutcome {
  readonly mismatches: OracleMismatch[];
  readonly nonEmpty: number;
  readonly errors: number;
}

function isNonEmpty(r: PromApiResponse): boolean {
  if (r.status !== 'success') return false;
  return !Array.isArray(r.data.result) || r.data.result.length > 0;
}

/** runOracle runs every case through both runners and lists where they disagree. */
export async function runOracle(cases: readonly OracleCase[], want: PromqlRunner, got: PromqlRunner): Promise<OracleOutcome> {
  const mismatches: OracleMismatch[] = [];
  let nonEmpty = 0;
  let errors = 0;
  for (const c of cases) {
    const w = await want(c.query, c.range);
    const g = await got(c.query, c.range);
    if (isNonEmpty(w)) nonEmpty++;
    if (w.status === 'error') errors++;
    const d = compareResponses(w, g);
    if (d !== null) mismatches.push({ query: c.query, range: c.range, difference: d, want: JSON.stringify(w).slice(0, 1500), got: JSON.stringify(g).slice(0, 1500) });
  }
  return { mismatches, nonEmpty, errors };
}

/** RunningPrometheus is a started Prometheus: its URL, and stop() (kills it by PID and removes its directory). */
export interface RunningPrometheus {
  readonly url: string;
  stop(): Promise<void>;
}

/** prometheusBinaries answers the paths of prometheus and promtool, or null when either is missing. */
export function prometheusBinaries(): { prometheus: string; promtool: string } | null {
  const find = (name: string): string | null => {
    for (const dir of ['/usr/bin', '/usr/local/bin', '/bin']) if (existsSync(join(dir, name))) return join(dir, name);
    return null;
  };
  const prometheus = find('prometheus');
  const promtool = find('promtool');
  return prometheus === null || promtool === null ? null : { prometheus, promtool };
}

/** OracleTest is the part of a tap test prometheusPresent reports through. */
export interface OracleTest {
  comment(message: string): void;
  fail(message: string): void;
}

/**
 * prometheusPresent answers whether prometheus and promtool are installed;
 * when they are not, it says loudly that `what` did NOT run (on the test and
 * on stderr) and fails the test when CI=true, where .ci/run installs them.
 */
export function prometheusPresent(t: OracleTest, what: string): boolean {
  if (prometheusBinaries() !== null) return true;
  const msg = `!!! PROMETHEUS IS NOT INSTALLED: ${what} did NOT run (apt-get install prometheus; .ci/run installs it) !!!`;
  t.comment(msg);
  console.error(msg);
  if (process.env['CI'] === 'true') t.fail(msg);
  return false;
}

/** startPrometheus loads series into a fresh TSDB with promtool and starts Prometheus over it on 127.0.0.1:port, waiting until it is ready. */
export async function startPrometheus(series: readonly FloatSeries[], port: number, deadlineMs = 60_000): Promise<RunningPrometheus> {
  return startPrometheusOver((om) => writeFileSync(om, oracleOpenMetrics(series)), port, { deadlineMs });
}

/** PrometheusStartOptions tune startPrometheusOver: the deadline of promtool and of readiness (each), extra `promtool tsdb create-blocks-from openmetrics` flags (bench/query-metrics: `--max-block-duration`), and whether Prometheus accepts remote write (`--web.enable-remote-write-receiver`). */
export interface PrometheusStartOptions {
  readonly deadlineMs?: number;
  readonly promtoolArgs?: readonly string[];
  readonly remoteWriteReceiver?: boolean;
}

/**
 * startPrometheusOver is startPrometheus for data too large to hold as one
 * string: `writeOpenMetrics` writes the OpenMetrics file at the path it is
 * given (bench/query-metrics streams millions of samples), then promtool
 * and Prometheus run as for the oracle. `writeOpenMetrics` null starts
 * Prometheus on an empty TSDB (data then arrives by remote write:
 * `remoteWriteReceiver`; OpenMetrics cannot carry staleness markers).
 */
export async function startPrometheusOver(writeOpenMetrics: ((path: string) => Promise<void> | void) | null, port: number, o: PrometheusStartOptions = {}): Promise<RunningPrometheus> {
  const deadlineMs = o.deadlineMs ?? 60_000;
  const bins = prometheusBinaries();
  if (bins === null) throw new Error('prometheus or promtool is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'otlpdb-prom-oracle-'));
  let child: ChildProcess | null = null;
  const stop = async (): Promise<void> => {
    if (child !== null && child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tsdb = join(dir, 'tsdb');
    if (writeOpenMetrics !== null) {
      const om = join(dir, 'data.om');
      await writeOpenMetrics(om);
      const created = spawnSync(bins.promtool, ['tsdb', 'create-blocks-from', 'openmetrics', ...(o.promtoolArgs ?? []), om, tsdb], { encoding: 'utf8', timeout: deadlineMs });
      if (created.status !== 0) throw new Error(`promtool failed: ${created.stderr}${created.stdout}`);
      rmSync(om, { force: true });
    }
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, 'global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\n');
    child = spawn(bins.prometheus, [`--config.file=${config}`, `--storage.tsdb.path=${tsdb}`, `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=100y', '--query.lookback-delta=5m', '--log.level=warn', ...(o.remoteWriteReceiver === true ? ['--web.enable-remote-write-receiver'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000); });
    const url = `http://127.0.0.1:${port}`;
    const until = performance.now() + deadlineMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
      try {
        const r = await fetch(`${url}/-/ready`);
        if (r.status === 200) break;
      } catch { /* not listening yet */ }
      if (performance.now() > until) throw new Error(`prometheus not ready within ${deadlineMs} ms: ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
