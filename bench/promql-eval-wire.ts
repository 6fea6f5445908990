/**
 * promql-eval-wire.ts — `node dist/bench/promql-eval-wire.js [--series N]
 * [--hours H] [--shards S] [--runs R] [--json]`: the non-shard part of a
 * pushed-down aggregation, in one process, both ways in the same run: the
 * shards' answers to `sum by (app) (rate(bench_requests_total[5m]))` at step
 * 1m (query-metrics's counter, promql-eval-data.ts; defaults 1,000 series ×
 * 24 h, 16 shards as a cluster has, series spread over them at random as
 * its hash spreads them) are computed once, untimed; then each
 * run times what follows a shard's evaluation in a cluster query:
 *
 * - series form (before): each answer encoded as the peer frame carries it
 *   (metrics-read-wire.ts: a (timestamps, values) pair a series), decoded,
 *   the partials folded by the engine placing each point by its timestamp
 *   (createPromqlEngine({ gridPartials: false })), the answer's JSON built
 *   as objects and JSON.stringify'd;
 * - grid form (after): each answer laid on the grid (grid-partials.ts
 *   seriesToGrid), encoded, decoded, folded straight into the combining
 *   columns, the JSON written as text (api/prom-json.ts).
 *
 * Both JSON texts must be equal (the run exits 1 otherwise). Figures: the
 * median of R runs after one untimed run, wall and process CPU time.
 *
 * Also timed, the last step of a shard's evaluation, what its grid answer
 * is built from (every shard's aggregation columns, GroupColumns, filled
 * untimed): **shard answer series** (before) — a series a group
 * (GroupColumns.series), sorted by labels, laid on the grid (seriesToGrid);
 * **shard answer grid** (after) — GroupColumns.grid, the grid straight from
 * the columns (what PromqlEngine.evaluateGrid answers a shard part with).
 * Both must give the same bytes (else exit 1).
 */
import { SeededRand } from '../src/fs/seeded-rand.js';
import { newScanStats } from '../src/storage/shard/signal-store.js';
import { decodeMetricsAnswer, encodeMetricsAnswer } from '../src/query/metrics-read-wire.js';
import { createPromqlEngine, evaluateShard } from '../src/query/promql/engine.js';
import { gridSteps, seriesToGrid } from '../src/query/promql/grid-partials.js';
import type { GridPartials } from '../src/query/promql/grid-partials.js';
import { MemorySeriesSource } from '../src/query/promql/memory-source.js';
import type { FloatSeries, SeriesSource } from '../src/query/promql/source.js';
import { queryDataJson } from '../src/api/prom-routes.js';
import { GroupColumns } from '../src/query/promql/aggregate-columns.js';
import type { AggregateNode } from '../src/query/promql/ast.js';
import { makeGrid } from '../src/query/promql/eval-types.js';
import { stepIndex } from '../src/query/promql/pushdown.js';
import { compareLabels } from '../src/query/promql/labels.js';
import { parsePromql } from '../src/query/promql/parser.js';
import { EVAL_LOOKBACK_MS, evalRange, evalSeries, evalShape } from './promql-eval-data.js';
import { METRIC_NAME } from './query-metrics-data.js';

const BUDGET = { seriesMax: 100_000, samplesMax: 50_000_000 };
const SHARD_SEED = 7_102;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

/** medianOf runs f once untimed, then `runs` times: the median wall and CPU (user + system) ms. */
async function medianOf(runs: number, f: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  await f();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await f();
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const mid = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return { wallMs: mid(wall), cpuMs: mid(cpu) };
}

function frame(series: readonly FloatSeries[], grid?: GridPartials): Uint8Array {
  return encodeMetricsAnswer({ stats: newScanStats(), seriesRead: 0, samplesRead: 0, series: grid === undefined ? series : [], rollupPointsRead: 0, ...(grid === undefined ? {} : { grid }) });
}

async function main(): Promise<void> {
  const shape = evalShape(Math.round(arg('series', 1000)), arg('hours', 24));
  const shardCount = Math.round(arg('shards', 16));
  const runs = Math.round(arg('runs', 5));
  const json = process.argv.includes('--json');
  const series = evalSeries(shape);
  const range = evalRange(shape);
  const agg = `sum by (app) (rate(${METRIC_NAME}[5m]))`;
  const signal = new AbortController().signal;
  const opts = { lookbackMs: EVAL_LOOKBACK_MS, signal };
  // Series spread over the shards at random (seeded), as the cluster's hash spreads them: each shard answers most groups.
  const rand = new SeededRand(SHARD_SEED);
  const shardOf = series.map(() => rand.intn(shardCount));
  const answers: FloatSeries[][] = [];
  for (let k = 0; k < shardCount; k++) {
    const shard = new MemorySeriesSource(series.filter((_, i) => shardOf[i] === k));
    answers.push(await evaluateShard(agg, range, EVAL_LOOKBACK_MS, shard, signal, {}, 'raw'));
  }
  const whole = new MemorySeriesSource([]);
  const source: SeriesSource = {
    stats: whole.stats,
    select: () => Promise.reject(new Error('bench/promql-eval-wire: the aggregation is pushed down')),
    shardEval: () => Promise.resolve(answers.flatMap((a) => decodeMetricsAnswer(frame(a), BUDGET).series)),
    shardEvalGrid: (req) => Promise.resolve({
      grids: answers.map((a) => {
        const g = seriesToGrid(a, req.range);
        if (g === null) throw new Error('bench/promql-eval-wire: a shard answer off the grid');
        return decodeMetricsAnswer(frame([], g), BUDGET, gridSteps(req.range)).grid as GridPartials;
      }),
    }),
  };
  const seriesForm = createPromqlEngine({ gridPartials: false });
  const gridForm = createPromqlEngine();
  let before = '';
  let after = '';
  const seriesFig = await medianOf(runs, async () => { before = queryDataJson(await seriesForm.evaluate(agg, range, source, opts), undefined, false); });
  const gridFig = await medianOf(runs, async () => { after = queryDataJson(await gridForm.evaluate(agg, range, source, opts), undefined, true); });
  // Each shard's aggregation columns, filled untimed from its answer (one group a series), for the shard answer figures.
  const grid = makeGrid(range.startMs, range.endMs, range.stepMs);
  const top = parsePromql(agg) as AggregateNode;
  const columns = answers.map((a) => {
    const g = new GroupColumns({ ...top, param: null }, grid.n);
    const values = new Float64Array(grid.n);
    const present = new Uint8Array(grid.n);
    a.forEach((s, k) => {
      present.fill(0);
      for (let j = 0; j < s.values.length; j++) {
        const i = stepIndex(s.timestampsMs[j] as number, grid);
        present[i] = 1;
        values[i] = s.values[j] as number;
      }
      g.add({ k, labels: s.labels, key: JSON.stringify(s.labels), values, present, count: s.values.length });
    });
    return g;
  });
  let viaSeries: GridPartials[] = [];
  let direct: GridPartials[] = [];
  const answerSeriesFig = await medianOf(runs, () => {
    viaSeries = columns.map((g) => seriesToGrid(g.series(grid, null).sort((x, y) => compareLabels(x.labels, y.labels)), range) as GridPartials);
    return Promise.resolve();
  });
  const answerGridFig = await medianOf(runs, () => {
    direct = columns.map((g) => g.grid(null));
    return Promise.resolve();
  });
  const same = (x: GridPartials, y: GridPartials): boolean =>
    JSON.stringify(x.labels) === JSON.stringify(y.labels) && Buffer.compare(Buffer.from(x.present), Buffer.from(y.present)) === 0 &&
    Buffer.compare(Buffer.from(x.values.buffer, x.values.byteOffset, x.values.byteLength), Buffer.from(y.values.buffer, y.values.byteOffset, y.values.byteLength)) === 0;
  const answersSame = viaSeries.length === shardCount && viaSeries.every((x, k) => x !== null && same(x, direct[k] as GridPartials));
  let points = 0;
  for (const a of answers) for (const s of a) points += s.values.length;
  const ok = before === after && before.length > 0 && answersSame;
  const report = {
    series: shape.series, hours: shape.hours, shards: shardCount, partialPoints: points, jsonBytes: after.length, runs, seriesForm: seriesFig, gridForm: gridFig, cpuRatio: gridFig.cpuMs / seriesFig.cpuMs,
    shardAnswerSeries: answerSeriesFig, shardAnswerGrid: answerGridFig, shardAnswerCpuRatio: answerGridFig.cpuMs / answerSeriesFig.cpuMs, ok,
  };
  if (json) console.log(JSON.stringify(report));
  else {
    console.log(`promql-eval-wire: ${shape.series} series × ${shape.hours} h, ${shardCount} shards, ${points.toLocaleString('en-US')} partial points, a ${after.length.toLocaleString('en-US')}-byte answer; median of ${runs} runs`);
    console.log(`  series form (frame, fold by timestamp, JSON objects): wall ${seriesFig.wallMs.toFixed(1)} ms, CPU ${seriesFig.cpuMs.toFixed(1)} ms`);
    console.log(`  grid form (frame, fold from bitmaps, JSON text):      wall ${gridFig.wallMs.toFixed(1)} ms, CPU ${gridFig.cpuMs.toFixed(1)} ms  (${report.cpuRatio.toFixed(2)}x CPU)`);
    console.log(`  shard answer as series, then laid on the grid:        wall ${answerSeriesFig.wallMs.toFixed(1)} ms, CPU ${answerSeriesFig.cpuMs.toFixed(1)} ms`);
    console.log(`  shard answer straight from the columns (grid()):      wall ${answerGridFig.wallMs.toFixed(1)} ms, CPU ${answerGridFig.cpuMs.toFixed(1)} ms  (${report.shardAnswerCpuRatio.toFixed(2)}x CPU)`);
  }
  if (!ok) {
    console.error(answersSame ? 'bench/promql-eval-wire: the two forms answered different JSON' : 'bench/promql-eval-wire: the shard answers built two ways differ');
    process.exitCode = 1;
  }
}

await main();
