/**
 * promql-eval.ts — `node dist/bench/promql-eval.js [--series N] [--hours H]
 * [--runs R] [--json]`: the PromQL evaluator alone (src/query/promql, no
 * cluster, storage or HTTP) on query-metrics's counter held in memory
 * (promql-eval-data.ts; defaults 1,000 series × 24 h at 15 s), each figure
 * against a baseline measured in the same run:
 *
 * - baseline: one pass over every sample (sum of values), the least any
 *   evaluation of a range function over all the data must do;
 * - aggregation: `sum by (app) (rate(bench_requests_total[5m]))` at step 1m
 *   through a MemorySeriesSource (no pushdown);
 * - rate: `rate(bench_requests_total[5m])` at step 1m (one output series per
 *   input series: the range function and the answer's shape, no grouping);
 * - sharded: the aggregation over 3 in-memory shards through shardEval
 *   (each shard evaluates it with evaluateShard, the coordinator combines
 *   the partials), the path a cluster query takes;
 * - selector: `bench_requests_total` at step 1m (a plain range selector);
 * - rate and selector again with the per-step path (EngineOptions
 *   perSeriesColumns false: per-step sample vectors regrouped into series),
 *   the before figure of series-columns.ts in the same process.
 *
 * Each figure is the median of R timed runs after one untimed run. Timing
 * never gates anything; the ratios to the baseline are the figures to compare.
 */
import { loadavg } from 'node:os';
import { createPromqlEngine } from '../src/query/promql/engine.js';
import { MemorySeriesSource } from '../src/query/promql/memory-source.js';
import type { PromResult } from '../src/query/promql/source.js';
import { EVAL_LOOKBACK_MS, EVAL_SHARDS, evalRange, evalSeries, evalShape, shardedSource } from './promql-eval-data.js';
import { GROUPS, METRIC_NAME, samplesPerSeries } from './query-metrics-data.js';


function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

/** medianMs runs f once untimed, then `runs` times, and answers the median wall time. */
async function medianMs(runs: number, f: () => Promise<unknown>): Promise<number> {
  await f();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    await f();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

function matrixShape(r: PromResult): { series: number; points: number } {
  if (r.kind !== 'matrix') throw new Error(`bench/promql-eval: expected a matrix, got ${r.kind}`);
  let points = 0;
  for (const s of r.series) points += s.values.length;
  return { series: r.series.length, points };
}

async function main(): Promise<void> {
  const shape = evalShape(Math.round(arg('series', 1000)), arg('hours', 24));
  const runs = Math.round(arg('runs', 3));
  const json = process.argv.includes('--json');
  const series = evalSeries(shape);
  const range = evalRange(shape);
  const samples = shape.series * samplesPerSeries(shape);
  const steps = (range.endMs - range.startMs) / range.stepMs + 1;
  const engine = createPromqlEngine();
  const perStep = createPromqlEngine({ perSeriesColumns: false });
  const opts = { lookbackMs: EVAL_LOOKBACK_MS, signal: new AbortController().signal };
  const local = new MemorySeriesSource(series);
  const shards = shardedSource(series, EVAL_SHARDS);
  const agg = `sum by (app) (rate(${METRIC_NAME}[5m]))`;
  const rate = `rate(${METRIC_NAME}[5m])`;
  const before = loadavg();

  let sink = 0;
  const baselineMs = await medianMs(runs, () => {
    for (const s of series) for (let k = 0; k < s.values.length; k++) sink += s.values[k] as number;
    return Promise.resolve();
  });
  let aggShape = { series: 0, points: 0 };
  const aggMs = await medianMs(runs, async () => { aggShape = matrixShape(await engine.evaluate(agg, range, local, opts)); });
  let rateShape = { series: 0, points: 0 };
  const rateMs = await medianMs(runs, async () => { rateShape = matrixShape(await engine.evaluate(rate, range, local, opts)); });
  let shardedShape = { series: 0, points: 0 };
  const shardedMs = await medianMs(runs, async () => { shardedShape = matrixShape(await engine.evaluate(agg, range, shards, opts)); });
  let selShape = { series: 0, points: 0 };
  const selMs = await medianMs(runs, async () => { selShape = matrixShape(await engine.evaluate(METRIC_NAME, range, local, opts)); });
  const rateStepsMs = await medianMs(runs, async () => { matrixShape(await perStep.evaluate(rate, range, local, opts)); });
  const selStepsMs = await medianMs(runs, async () => { matrixShape(await perStep.evaluate(METRIC_NAME, range, local, opts)); });
  const after = loadavg();

  const groups = Math.min(shape.series, GROUPS);
  const ok = aggShape.series === groups && shardedShape.series === groups && rateShape.series === shape.series && aggShape.points === shardedShape.points && selShape.series === shape.series;
  const report = {
    series: shape.series, hours: shape.hours, samples, steps, runs, groups,
    baselineMs, aggMs, rateMs, shardedMs, selMs, rateStepsMs, selStepsMs,
    aggOverBaseline: aggMs / baselineMs, rateOverBaseline: rateMs / baselineMs, shardedOverBaseline: shardedMs / baselineMs,
    aggSeries: aggShape.series, aggPoints: aggShape.points, rateSeries: rateShape.series, ratePoints: rateShape.points,
    loadBefore: before.map((x) => Number(x.toFixed(2))), loadAfter: after.map((x) => Number(x.toFixed(2))), ok, sink,
  };
  if (json) {
    console.log(JSON.stringify(report));
  } else {
    const f = (ms: number): string => ms.toFixed(1).padStart(10);
    console.log(`promql-eval: ${shape.series} series × ${shape.hours} h at 15 s = ${samples.toLocaleString('en-US')} samples; ${steps} steps of 1m; median of ${runs} runs`);
    console.log(`  load average before/after: ${report.loadBefore.join(' ')} / ${report.loadAfter.join(' ')}`);
    console.log(`  baseline (one pass over every sample)      ${f(baselineMs)} ms`);
    console.log(`  ${agg.padEnd(42)} ${f(aggMs)} ms  ${report.aggOverBaseline.toFixed(1)}x baseline  (${aggShape.series} series, ${aggShape.points} points)`);
    console.log(`  ${rate.padEnd(42)} ${f(rateMs)} ms  ${report.rateOverBaseline.toFixed(1)}x baseline  (${rateShape.series} series, ${rateShape.points} points)`);
    console.log(`  ${`the aggregation over ${EVAL_SHARDS} shards (pushdown)`.padEnd(42)} ${f(shardedMs)} ms  ${report.shardedOverBaseline.toFixed(1)}x baseline`);
    console.log(`  ${METRIC_NAME.padEnd(42)} ${f(selMs)} ms  ${(selMs / baselineMs).toFixed(1)}x baseline  (${selShape.series} series, ${selShape.points} points)`);
    console.log(`  ${'rate, per-step path (before series columns)'.padEnd(42)} ${f(rateStepsMs)} ms  ${(rateStepsMs / rateMs).toFixed(1)}x the column path`);
    console.log(`  ${'selector, per-step path'.padEnd(42)} ${f(selStepsMs)} ms  ${(selStepsMs / selMs).toFixed(1)}x the column path`);
  }
  if (!ok) {
    console.error(`bench/promql-eval: unexpected answer shapes: aggregation ${aggShape.series} series, sharded ${shardedShape.series}, rate ${rateShape.series} (want ${groups}, ${groups}, ${shape.series})`);
    process.exitCode = 1;
  }
}

await main();
