/**
 * promql-eval-store.ts — `node dist/bench/promql-eval-store.js [--series N]
 * [--hours H] [--flushes F] [--runs R] [--only a,b] [--json]`: the shard side of a
 * metrics query over a real LevelDB metrics store (no cluster, no HTTP):
 * query-metrics's counter (promql-eval-data.ts; defaults 1,000 series × 24 h
 * at 15 s = 5.76 M samples) added to one MetricStore as OTLP rows (monotonic
 * cumulative sums, in 10-minute windows of every series, like the cluster
 * load) and flushed F times (default 1: the cluster's admin flush after the
 * load) into a ShardDb, then, each against a baseline measured in the same
 * run:
 *
 * - baseline: one pass over every sample in memory (sum of values);
 * - store select: MetricStore.select over the whole range, every value
 *   summed (LevelDB iteration, chunk block decoding, the per-series merge);
 * - shard read: ShardSeriesSource.select (readShardSeries: the Prometheus
 *   view, the store read, the FloatSeries the evaluator gets);
 * - aggregation: `sum by (app) (rate(bench_requests_total[5m]))` at step 1m
 *   evaluated over the ShardSeriesSource — what a shard runs for the
 *   cluster's pushed-down aggregation;
 * - part: the same aggregation as a node's shard part runs it for the
 *   cluster (metrics-shard-read.ts evalOnShard with the grid answer:
 *   GroupColumns.grid, the part's lease released after it) — the
 *   aggregation figure's work plus the answer the part ships;
 * - rate: `rate(bench_requests_total[5m])` at step 1m (no aggregation);
 * - selector: `bench_requests_total` at step 1m (a plain range selector).
 *
 * Every run reads through one PromView, as a node's reads do (node.ts keeps
 * one for its MetricsRead), so a series' Prometheus family is computed
 * once, not once a run.
 *
 * Shard read, aggregation, rate and selector decode into columns lent by a
 * ColumnPool (column-pool.ts), released after each run, as a node's shard
 * parts do (query/metrics-shard-read.ts evalOnShard); `--no-pool`
 * allocates them instead (the before of the pool, in the same build).
 *
 * `--only` times only the named figures (select, read, agg, part, rate,
 * selector; a profile of one of them); the others print as 0.
 *
 * Each figure is the median of R timed runs after one untimed run, in wall
 * time and in process CPU time (user + system: what a loaded machine moves
 * least). Each figure also counts the collections V8 reported during its
 * timed runs (perf_hooks 'gc' entries: Mark-Compacts and scavenges, with
 * their durations) and the largest growth of the process's ArrayBuffer
 * bytes over one run. The run
 * checks the answers' shapes and exits 1 on a wrong one. Timing never gates
 * anything; the ratios to the baseline are the figures to compare.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PerformanceObserver, constants as perfConstants, performance } from 'node:perf_hooks';
import { initHash } from '../src/partition/hash.js';
import { createPromqlEngine } from '../src/query/promql/engine.js';
import type { FloatSeries, PromResult } from '../src/query/promql/source.js';
import { PromView } from '../src/query/metrics-prom-view.js';
import { ShardSeriesSource, evalOnShard } from '../src/query/metrics-shard-read.js';
import type { ShardReadContext } from '../src/query/metrics-shard-read.js';
import { MetricStore } from '../src/storage/metrics/metric-store.js';
import { ColumnPool } from '../src/storage/metrics/column-pool.js';
import type { ColumnLease } from '../src/storage/metrics/column-pool.js';
import type { MetricPointRow, Resource, Scope } from '../src/storage/rows.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import { newScanStats } from '../src/storage/shard/signal-store.js';
import { EVAL_LOOKBACK_MS, evalRange, evalShape } from './promql-eval-data.js';
import { GROUPS, INTERVAL_MS, METRIC_NAME, SeriesCursor, samplesPerSeries, seriesLabels } from './query-metrics-data.js';
import type { MetricsShape } from './query-metrics-data.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

/** WINDOW_SAMPLES is the samples of one series one add holds: 10 minutes, as the cluster load sends them. */
const WINDOW_SAMPLES = 40;
const TENANT = 'bench';

const ONLY_AT = process.argv.indexOf('--only');
const NO_POOL = process.argv.includes('--no-pool');
const ONLY = ONLY_AT >= 0 ? new Set((process.argv[ONLY_AT + 1] ?? '').split(',')) : null;

/** CPU_MS is, per figure timed, the median process CPU time (user + system) of its runs: less moved by a loaded machine than wall time. */
const CPU_MS: Record<string, number> = {};

/** GcCount is the collections V8 reported (perf_hooks 'gc' entries) during one figure's timed runs, summed over them. */
interface GcCount {
  majors: number;
  majorMs: number;
  minors: number;
  minorMs: number;
  /** arrayBuffersBytes is the largest growth of process.memoryUsage().arrayBuffers over one run (off-heap buffers live at its end). */
  arrayBuffersBytes: number;
}

/** GC is, per figure timed, its GcCount: Mark-Compacts (major) and scavenges (minor) started inside its timed runs. */
const GC: Record<string, GcCount> = {};

/** GC_WINDOWS is the timed runs' [start, end] in performance.now() ms, per figure: GC entries are attributed by their start time. */
const GC_WINDOWS: { what: string; fromMs: number; toMs: number }[] = [];

/** GC_ENTRIES is every collection V8 reported in this process (start ms, duration ms, kind). */
const GC_ENTRIES: { startMs: number; durationMs: number; kind: number }[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) GC_ENTRIES.push({ startMs: e.startTime, durationMs: e.duration, kind: (e as unknown as { detail: { kind: number } }).detail.kind });
});
gcObserver.observe({ entryTypes: ['gc'] });

/** countGc fills GC from GC_WINDOWS and GC_ENTRIES (after the runs, once the observer has delivered every entry). */
async function countGc(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const e of gcObserver.takeRecords()) GC_ENTRIES.push({ startMs: e.startTime, durationMs: e.duration, kind: (e as unknown as { detail: { kind: number } }).detail.kind });
  gcObserver.disconnect();
  for (const w of GC_WINDOWS) {
    const g = (GC[w.what] ??= { majors: 0, majorMs: 0, minors: 0, minorMs: 0, arrayBuffersBytes: 0 });
    for (const e of GC_ENTRIES) {
      if (e.startMs < w.fromMs || e.startMs > w.toMs) continue;
      if (e.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
        g.majors++;
        g.majorMs += e.durationMs;
      } else if (e.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) {
        g.minors++;
        g.minorMs += e.durationMs;
      }
    }
  }
}

/** timed is the median wall time of f (medianMs) when figure `what` is asked for (all are, without --only; the baseline always), else 0. */
function timed(what: string, runs: number, f: () => Promise<unknown>): Promise<number> {
  return what === 'baseline' || ONLY === null || ONLY.has(what) ? medianMs(what, runs, f) : Promise.resolve(0);
}

/** medianMs runs f once untimed, then `runs` times, and answers the median wall time (the median CPU time goes to CPU_MS[what]). */
async function medianMs(what: string, runs: number, f: () => Promise<unknown>): Promise<number> {
  await f();
  const times: number[] = [];
  const cpu: number[] = [];
  let abGrowth = 0;
  for (let r = 0; r < runs; r++) {
    const ab0 = process.memoryUsage().arrayBuffers;
    const w0 = performance.now();
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await f();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    GC_WINDOWS.push({ what, fromMs: w0, toMs: performance.now() });
    abGrowth = Math.max(abGrowth, process.memoryUsage().arrayBuffers - ab0);
    cpu.push((c.user + c.system) / 1000);
  }
  (GC[what] ??= { majors: 0, majorMs: 0, minors: 0, minorMs: 0, arrayBuffersBytes: 0 }).arrayBuffersBytes = abGrowth;
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  CPU_MS[what] = cpu[Math.floor(cpu.length / 2)] as number;
  return times[Math.floor(times.length / 2)] as number;
}

/** gcText is one figure's collections a run, for the text report: Mark-Compacts and scavenges (count and ms), off-heap growth. */
function gcText(what: string, runs: number): string {
  const g = GC[what];
  if (g === undefined) return '';
  const per = (x: number): string => (x / runs).toFixed(1);
  return `\n  ${''.padEnd(44)} GC a run: ${per(g.majors)} Mark-Compact (${per(g.majorMs)} ms), ${per(g.minors)} scavenges (${per(g.minorMs)} ms); arrayBuffers +${(g.arrayBuffersBytes / 2 ** 20).toFixed(1)} MiB at most`;
}

function matrixShape(r: PromResult): { series: number; points: number } {
  if (r.kind !== 'matrix') throw new Error(`bench/promql-eval-store: expected a matrix, got ${r.kind}`);
  let points = 0;
  for (const s of r.series) points += s.values.length;
  return { series: r.series.length, points };
}

/** load adds every sample of the shape to the store, window by window, flushing `flushes` times at even cuts (the last after the load). */
async function load(store: MetricStore, db: ShardDb, shape: MetricsShape, flushes: number): Promise<number> {
  const n = samplesPerSeries(shape);
  const cursors = Array.from({ length: shape.series }, (_, i) => new SeriesCursor(shape, i));
  const scope: Scope = { name: 'otlpdb-bench-query-metrics', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
  const resources = new Map<string, Resource>();
  const attrs = Array.from({ length: shape.series }, (_, i) => {
    const l = seriesLabels(i);
    let r = resources.get(l.instance);
    if (r === undefined) {
      r = { attributes: [{ key: 'service.name', value: { type: 'string', value: 'bench' } }, { key: 'service.instance.id', value: { type: 'string', value: l.instance } }], droppedAttributesCount: 0, schemaUrl: '' };
      resources.set(l.instance, r);
    }
    return { resource: r, attributes: [{ key: 'app', value: { type: 'string' as const, value: l.app } }, { key: 'pod', value: { type: 'string' as const, value: l.pod } }] };
  });
  const windows = Math.ceil(n / WINDOW_SAMPLES);
  let flushIndex = 0;
  let nextFlush = 1;
  const flush = async (): Promise<void> => {
    store.freeze();
    const batch = new KvWriteBatch();
    await store.writeFrozen({ batch, kv: db, flushIndex: ++flushIndex });
    await db.write(batch);
    store.dropFrozen();
  };
  let samples = 0;
  for (let w = 0; w < windows; w++) {
    const rows: MetricPointRow[] = [];
    for (let i = 0; i < shape.series; i++) {
      const c = cursors[i] as SeriesCursor;
      const a = attrs[i] as (typeof attrs)[number];
      for (let k = w * WINDOW_SAMPLES; k < Math.min(n, (w + 1) * WINDOW_SAMPLES); k++) {
        const t = c.step(k);
        rows.push({
          tenant: TENANT, name: METRIC_NAME, description: '', unit: '',
          data: { type: 'sum', temporality: 2 /* cumulative */, monotonic: true, value: { type: 'double', value: c.value } },
          attributes: a.attributes, startTimeUnixNano: BigInt(c.startMs) * 1_000_000n, timeUnixNano: BigInt(t) * 1_000_000n,
          flags: 0, exemplars: [], resource: a.resource, scope,
        });
      }
    }
    const res = store.add(TENANT, rows, 0);
    if (res.refused !== 0) throw new Error(`bench/promql-eval-store: ${res.refused} refused: ${res.refusals[0]?.reason ?? ''}`);
    samples += rows.length;
    if (nextFlush < flushes && (w + 1) * flushes >= nextFlush * windows) {
      await flush();
      nextFlush++;
    }
  }
  await flush();
  return samples;
}

async function main(): Promise<void> {
  const shape = evalShape(Math.round(arg('series', 1000)), arg('hours', 24));
  const runs = Math.round(arg('runs', 3));
  const flushes = Math.round(arg('flushes', 1));
  const json = process.argv.includes('--json');
  const range = evalRange(shape);
  const steps = (range.endMs - range.startMs) / range.stepMs + 1;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-promql-eval-store-'));
  const db = await ShardDb.open(dir);
  try {
    const store = new MetricStore({ hasher: await initHash() });
    const samples = await load(store, db, shape, flushes);
    // One view for every run, as a node keeps one (node.ts MetricsRead): its per-series families are cached across queries.
    const view = new PromView({ promoteResourceAttributes: [] });
    const ctx = (columns?: ColumnLease): ShardReadContext => ({ shard: 0, store, kv: db, tenant: TENANT, view, stats: newScanStats(), ...(columns === undefined ? {} : { columns }) });
    const pool = NO_POOL ? null : new ColumnPool();
    /** pooled runs f over a context whose reads decode into a lease of the pool (none with --no-pool), released after f. */
    const pooled = async <T>(f: (c: ShardReadContext) => Promise<T>): Promise<T> => {
      const lease = pool?.lease();
      try {
        return await f(ctx(lease));
      } finally {
        lease?.release();
      }
    };
    const budget = { seriesMax: 1_000_000, samplesMax: 1_000_000_000 };
    const engine = createPromqlEngine();
    const opts = { lookbackMs: EVAL_LOOKBACK_MS, signal: new AbortController().signal };
    const matchers = [{ name: '__name__', op: '=' as const, value: METRIC_NAME }];
    const agg = `sum by (app) (rate(${METRIC_NAME}[5m]))`;
    const rate = `rate(${METRIC_NAME}[5m])`;
    const before = os.loadavg();

    // The baseline's data: what the shard read answers, copied once (not timed).
    const readFromMs = range.startMs - EVAL_LOOKBACK_MS;
    const inRange = shape.series * (Math.floor((range.endMs - shape.t0Ms) / INTERVAL_MS) + 1);
    const inMemory: FloatSeries[] = (await new ShardSeriesSource(ctx(), budget).select({ matchers, startMs: readFromMs, endMs: range.endMs, stepMs: range.stepMs }, opts.signal)).map((s) => ({ labels: s.labels, timestampsMs: Float64Array.from(s.timestampsMs), values: Float64Array.from(s.values) }));
    let sink = 0;
    const baselineMs = await timed('baseline', runs, () => {
      for (const s of inMemory) for (let k = 0; k < s.values.length; k++) sink += s.values[k] as number;
      return Promise.resolve();
    });
    let selected = 0;
    const selectMs = await timed('select', runs, async () => {
      selected = 0;
      for await (const batch of store.select(db, TENANT, [{ name: '__name__', op: '=', value: METRIC_NAME }], readFromMs, range.endMs, { resolution: 'raw' }, newScanStats())) {
        for (const s of batch) {
          if (s.kind !== 'samples') continue;
          for (let k = 0; k < s.values.length; k++) sink += s.values[k] as number;
          selected += s.values.length;
        }
      }
    });
    let readSamples = 0;
    const readMs = await timed('read', runs, async () => {
      readSamples = 0;
      await pooled(async (c) => {
        for (const s of await new ShardSeriesSource(c, budget).select({ matchers, startMs: readFromMs, endMs: range.endMs, stepMs: range.stepMs }, opts.signal)) readSamples += s.values.length;
      });
    });
    let aggShape = { series: 0, points: 0 };
    const aggMs = await timed('agg', runs, async () => { aggShape = await pooled(async (c) => matrixShape(await engine.evaluate(agg, range, new ShardSeriesSource(c, budget), opts))); });
    let partPoints = 0;
    const partReq = { expr: agg, startMs: range.startMs, endMs: range.endMs, stepMs: range.stepMs, lookbackMs: EVAL_LOOKBACK_MS, maxSourceResolution: 'auto' as const };
    const partMs = await timed('part', runs, async () => {
      const r = await evalOnShard(engine, ctx(), partReq, budget, opts.signal, pool ?? undefined, true);
      if (r.grid === undefined) throw new Error('bench/promql-eval-store: the part answered no grid');
      partPoints = r.grid.values.length;
    });
    let rateShape = { series: 0, points: 0 };
    const rateMs = await timed('rate', runs, async () => { rateShape = await pooled(async (c) => matrixShape(await engine.evaluate(rate, range, new ShardSeriesSource(c, budget), opts))); });
    let selShape = { series: 0, points: 0 };
    const selMs = await timed('selector', runs, async () => { selShape = await pooled(async (c) => matrixShape(await engine.evaluate(METRIC_NAME, range, new ShardSeriesSource(c, budget), opts))); });
    const after = os.loadavg();
    await countGc();

    const groups = Math.min(shape.series, GROUPS);
    const ok = ONLY !== null || selected === inRange && readSamples === inRange && aggShape.series === groups && partPoints === aggShape.points && rateShape.series === shape.series && selShape.series === shape.series && selShape.points === shape.series * steps;
    const report = {
      series: shape.series, hours: shape.hours, samples, flushes, steps, runs, groups, pool: !NO_POOL,
      baselineMs, selectMs, readMs, aggMs, partMs, rateMs, selMs,
      selectOverBaseline: selectMs / baselineMs, readOverBaseline: readMs / baselineMs, aggOverBaseline: aggMs / baselineMs,
      rateOverBaseline: rateMs / baselineMs, selOverBaseline: selMs / baselineMs,
      cpuMs: CPU_MS, gc: GC,
      loadBefore: before.map((x) => Number(x.toFixed(2))), loadAfter: after.map((x) => Number(x.toFixed(2))), ok, sink,
    };
    if (json) {
      console.log(JSON.stringify(report));
    } else {
      const f = (ms: number): string => ms.toFixed(1).padStart(10);
      const line = (what: string, key: string, ms: number, extra = ''): void =>
        console.log(`  ${what.padEnd(44)} ${f(ms)} ms  ${(ms / baselineMs).toFixed(1).padStart(6)}x baseline  CPU ${f(CPU_MS[key] ?? 0)} ms${extra}${gcText(key, runs)}`);
      console.log(`promql-eval-store: ${shape.series} series × ${shape.hours} h at ${INTERVAL_MS / 1000} s = ${samples.toLocaleString('en-US')} samples in LevelDB (${flushes} flushes); ${steps} steps of 1m; median of ${runs} runs; ${NO_POOL ? 'no column pool' : 'pooled columns'}`);
      console.log(`  load average before/after: ${report.loadBefore.join(' ')} / ${report.loadAfter.join(' ')}`);
      console.log(`  ${'baseline (one pass over every sample)'.padEnd(44)} ${f(baselineMs)} ms`);
      line('store select (every sample)', 'select', selectMs);
      line('shard read (ShardSeriesSource.select)', 'read', readMs);
      line(agg, 'agg', aggMs, `  (${aggShape.series} series, ${aggShape.points} points)`);
      line('the same as a shard part (evalOnShard, grid)', 'part', partMs, `  (${partPoints} points)`);
      line(rate, 'rate', rateMs, `  (${rateShape.series} series, ${rateShape.points} points)`);
      line(METRIC_NAME, 'selector', selMs, `  (${selShape.series} series, ${selShape.points} points)`);
    }
    if (!ok) {
      console.error(`bench/promql-eval-store: unexpected answers: selected ${selected}, read ${readSamples} of ${inRange} samples in range; aggregation ${aggShape.series} series (want ${groups}), rate ${rateShape.series}, selector ${selShape.series} series ${selShape.points} points (want ${shape.series}, ${shape.series * steps})`);
      process.exitCode = 1;
    }
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
