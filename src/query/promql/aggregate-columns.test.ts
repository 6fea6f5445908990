/**
 * aggregate-columns.test.ts — the column path (range-columns.ts,
 * aggregate-columns.ts) answers exactly what the per-step path answers:
 * for every aggregation it computes, over range functions of seeded series
 * with gaps, resets, NaN, ±Inf and staleness markers, each step's vector
 * holds the same groups in the same order with bit-equal values; and the
 * duplicate-labelset refusal is kept. The reference is the per-step path
 * itself: the inner call evaluated to per-step vectors, then aggregateStep
 * at each step (as evaluate.ts did before columns); the sliding window's
 * reference is two binary searches a step (evaluate.ts windowBounds).
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { AggregateNode, Expr } from './ast.js';
import { unwrapParens } from './ast.js';
import { ColumnAggregateOps } from './aggregate-columns.js';
import { aggregateStep } from './aggregations.js';
import type { EvalCtx, Grid } from './eval-types.js';
import { Budget, makeGrid, stepTime } from './eval-types.js';
import { createPromqlEngine } from './engine.js';
import { evalExpr, evalMatrix, resolveAt, stepsToSeries, windowBounds } from './evaluate.js';
import type { Sample } from './labels.js';
import { compareLabels, dropMetricName, labelsKey } from './labels.js';
import { MemorySeriesSource } from './memory-source.js';
import { parsePromql } from './parser.js';
import { combineOp } from './pushdown.js';
import { RangeFunctions } from './range-functions.js';
import { valuesColumn } from './outcome-test-util.js';
import type { FloatSeries } from './source.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;


/** seededSeries are counters and gauges with gaps, resets, NaN, ±Inf and stale markers; a few series start late so groups miss steps. */
function seededSeries(seed: number): FloatSeries[] {
  const rand = new SeededRand(seed);
  const out: FloatSeries[] = [];
  for (let i = 0; i < 24; i++) {
    const ts: number[] = [];
    const vs: number[] = [];
    const staleAt: number[] = [];
    let v = rand.intn(100);
    // Even series sit on the 15 s grid from T0 (samples exactly on window edges), odd ones off it; every fifth starts late.
    const aligned = i % 2 === 0;
    const startMs = T0 + (i % 5 === 3 ? rand.intn(30) * 60_000 : aligned ? 0 : rand.intn(15_000));
    for (let t = startMs; t < T0 + HOUR; t += 15_000 + (rand.intn(8) === 0 ? (aligned ? rand.intn(6) * 15_000 : rand.intn(90_000)) : 0)) {
      const r = rand.intn(400);
      if (r === 0) v = 0;
      else v += rand.intn(50);
      if (r === 4) staleAt.push(ts.length);
      ts.push(t);
      vs.push(r === 1 ? NaN : r === 2 ? Infinity : r === 3 ? -Infinity : i % 7 === 6 ? v / 3 - 20 : v);
    }
    const labels = [
      { name: '__name__', value: 'm' },
      { name: 'app', value: `a${i % 4}` },
      ...(i % 3 === 0 ? [] : [{ name: 'env', value: `e${i % 2}` }]),
      { name: 'pod', value: `p${i}` },
    ];
    out.push({ labels, timestampsMs: Float64Array.from(ts), values: valuesColumn(vs, staleAt) });
  }
  return out;
}

function ctxOver(series: readonly FloatSeries[]): EvalCtx {
  return {
    source: new MemorySeriesSource(series),
    lookbackMs: 300_000,
    signal: new AbortController().signal,
    budget: new Budget(),
    pushdown: false,
    rangeFunctions: RangeFunctions,
    combineOp,
    gridPartials: true,
    maxSourceResolution: 'raw',
  };
}

/** stepsDiff describes the first difference between two per-step answers (labels, order, bit-equal values), or null. */
function stepsDiff(a: readonly (readonly Sample[])[], b: readonly (readonly Sample[])[]): string | null {
  if (a.length !== b.length) return `${a.length} steps vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as readonly Sample[];
    const y = b[i] as readonly Sample[];
    if (x.length !== y.length) return `step ${i}: ${x.length} samples vs ${y.length}`;
    for (let j = 0; j < x.length; j++) {
      const p = x[j] as Sample;
      const q = y[j] as Sample;
      if (labelsKey(p.labels) !== labelsKey(q.labels)) return `step ${i} sample ${j}: labels ${labelsKey(p.labels)} vs ${labelsKey(q.labels)}`;
      if (!Object.is(p.value, q.value)) return `step ${i} sample ${j}: ${p.value} vs ${q.value}`;
    }
  }
  return null;
}

async function columnAndReference(text: string, series: readonly FloatSeries[], grid: Grid): Promise<[Sample[][], Sample[][]]> {
  const e = resolveAt(parsePromql(text), grid.startMs, grid.endMs);
  const agg = unwrapParens(e) as AggregateNode;
  const got = await evalExpr(e, grid, ctxOver(series));
  const inner = await evalExpr(agg.expr as Expr, grid, ctxOver(series));
  if (got.type !== 'vector' || inner.type !== 'vector') throw new Error('expected vectors');
  return [got.steps, inner.steps.map((vec) => aggregateStep(agg, null, vec))];
}

const inners = [
  'rate(m[5m])', 'increase(m[2m])', 'delta(m[5m])', 'irate(m[1m])', 'avg_over_time(m[5m])', 'max_over_time(m[3m])', 'min_over_time(m[3m])',
  'sum_over_time(m[5m])', 'count_over_time(m[1m])', 'stddev_over_time(m[5m])', 'deriv(m[5m])', 'predict_linear(m[5m], 60)',
  'quantile_over_time(0.9, m[5m])', 'changes(m[5m])', 'resets(m[10m])', 'last_over_time(m[1m])', 'rate(m[5m] offset 2m)',
  'rate(m[5m] @ 1700001200)', 'max_over_time(rate(m[2m])[5m:30s])',
];
const groupings = ['by (app)', 'without (pod)', '', 'by (env)', 'by (__name__)'];

t.test('the column path answers the per-step path, bit for bit, groups in the same order', async (t) => {
  const series = seededSeries(7);
  const grids = [makeGrid(T0, T0 + HOUR, 60_000), makeGrid(T0 + 7_000, T0 + HOUR - 13_000, 17_000), makeGrid(T0 + 30 * 60_000, T0 + 30 * 60_000, 0)];
  let compared = 0;
  let nonEmpty = 0;
  for (const op of ColumnAggregateOps) {
    for (const inner of inners) {
      for (const g of groupings) {
        for (const grid of grids) {
          const text = `${op} ${g} (${inner})`;
          const [got, want] = await columnAndReference(text, series, grid);
          const diff = stepsDiff(got, want);
          if (diff !== null) t.fail(`${text} over ${grid.n} steps: ${diff}`);
          compared++;
          if (got.some((v) => v.length > 1)) nonEmpty++;
        }
      }
    }
  }
  t.equal(compared, ColumnAggregateOps.size * inners.length * groupings.length * grids.length, 'every case compared');
  t.ok(nonEmpty > compared / 2, `most answers hold several groups (${nonEmpty} of ${compared})`);
});

t.test('the sliding window reads what two binary searches a step read (range-columns.ts)', async (t) => {
  const series = seededSeries(11);
  const grids = [makeGrid(T0, T0 + HOUR, 60_000), makeGrid(T0 + 7_000, T0 + HOUR - 13_000, 15_000), makeGrid(T0 + 30 * 60_000, T0 + 30 * 60_000, 0)];
  let points = 0;
  for (const inner of inners) {
    const call = unwrapParens(parsePromql(inner));
    if (call.type !== 'call') throw new Error('expected a call');
    const rf = RangeFunctions.get(call.func);
    if (rf === undefined) throw new Error(`no range function ${call.func}`);
    for (const grid of grids) {
      const e = resolveAt(call, grid.startMs, grid.endMs);
      if (e.type !== 'call') throw new Error('expected a call');
      const got = await evalExpr(e, grid, ctxOver(series));
      const mi = e.args.findIndex((a) => { const u = unwrapParens(a); return u.type === 'matrixSelector' || u.type === 'subquery'; });
      const m = await evalMatrix(e.args[mi] as Expr, grid, ctxOver(series));
      const scalars = e.args.filter((_, j) => j !== mi).map((a) => { const u = unwrapParens(a); return u.type === 'number' ? u.value : NaN; });
      const want: Sample[][] = Array.from({ length: grid.n }, () => []);
      for (const s of m.series) {
        const labels = call.func === 'last_over_time' ? s.labels : dropMetricName(s.labels);
        for (let i = 0; i < grid.n; i++) {
          const [lo, hi] = windowBounds(m, s, i);
          if (hi <= lo) continue;
          const v = rf({ ts: s.timestampsMs, vs: s.values, lo, hi, rangeStartMs: m.windowStartMs[i] as number, rangeEndMs: m.windowEndMs[i] as number, rangeMs: m.rangeMs, stepTimeMs: stepTime(grid, i) }, scalars);
          if (v !== null) (want[i] as Sample[]).push({ labels, value: v });
        }
      }
      if (got.type !== 'vector') throw new Error('expected a vector');
      const diff = stepsDiff(got.steps, want);
      if (diff !== null) t.fail(`${inner} over ${grid.n} steps: ${diff}`);
      for (const v of want) points += v.length;
    }
  }
  t.ok(points > 10_000, `many points compared (${points})`);
});

t.test('a group whose first series misses a step lists after the groups that have a sample there first', async (t) => {
  const s = (a: string, g: string, ts: number[]): FloatSeries => ({
    labels: [{ name: '__name__', value: 'm' }, { name: 'a', value: a }, { name: 'g', value: g }],
    timestampsMs: Float64Array.from(ts), values: Float64Array.from(ts, (_, i) => i * 10),
  });
  // Series order (by labels): a=1 (group x, only late), a=2 (group y, always), a=3 (group x, always): at early steps y comes before x.
  const every = Array.from({ length: 40 }, (_, i) => T0 + i * 15_000);
  const series = [s('1', 'x', every.slice(20)), s('2', 'y', every), s('3', 'x', every)];
  const grid = makeGrid(T0 + 60_000, T0 + 9 * 60_000, 60_000);
  const [got, want] = await columnAndReference('sum by (g) (rate(m[1m]))', series, grid);
  t.equal(stepsDiff(got, want), null, 'same order as the per-step path');
  const apps = got.map((v) => v.map((x) => x.labels.find((l) => l.name === 'g')?.value).join(''));
  t.ok(apps.includes('yx') && apps.includes('xy'), `both orders occur (${apps.join(',')})`);
});

t.test('two series with one label set after the name is dropped are refused where they share a step', async (t) => {
  const mk = (name: string, from: number, to: number): FloatSeries => {
    const ts = Array.from({ length: (to - from) / 15_000 }, (_, i) => from + i * 15_000);
    return { labels: [{ name: '__name__', value: name }, { name: 'x', value: '1' }], timestampsMs: Float64Array.from(ts), values: Float64Array.from(ts, (_, i) => i) };
  };
  const grid = makeGrid(T0, T0 + HOUR, 60_000);
  const overlap = [mk('a', T0, T0 + HOUR), mk('b', T0 + 30 * 60_000, T0 + HOUR)];
  await t.rejects(evalExpr(parsePromql('sum(rate({x="1"}[5m]))'), grid, ctxOver(overlap)), { code: 'ERR_INVALID_ARGUMENT', message: /same labelset/ });
  await t.rejects(evalExpr(parsePromql('rate({x="1"}[5m])'), grid, ctxOver(overlap)), { code: 'ERR_INVALID_ARGUMENT', message: /same labelset/ });
  // Apart in time (no window holds both), both paths answer.
  const apart = [mk('a', T0, T0 + 10 * 60_000), mk('b', T0 + 30 * 60_000, T0 + HOUR)];
  const [got, want] = await columnAndReference('sum(rate({x="1"}[5m]))', apart, grid);
  t.equal(stepsDiff(got, want), null, 'series apart in time aggregate as the per-step path does');
});

t.test('planted: stepsDiff catches a swapped group order and a one-ulp difference', async (t) => {
  const grid = makeGrid(T0, T0 + HOUR, 60_000);
  const [got] = await columnAndReference('sum by (app) (rate(m[5m]))', seededSeries(7), grid);
  const step = got.findIndex((v) => v.length >= 2);
  t.ok(step >= 0, 'a step with two groups');
  const swapped = got.map((v, i) => (i === step ? [v[1] as Sample, v[0] as Sample, ...v.slice(2)] : v));
  t.match(stepsDiff(swapped, got), /labels/, 'a swapped order is caught');
  const first = got[step]?.[0] as Sample;
  const bumped = got.map((v, i) => (i === step ? [{ labels: first.labels, value: first.value * (1 + Number.EPSILON) + Number.MIN_VALUE }, ...v.slice(1)] : v));
  t.match(stepsDiff(bumped, got), /vs/, 'a one-ulp difference is caught');
});

t.test('a range query answers the groups\' columns as series equal to the per-step vectors regrouped', async (t) => {
  const series = seededSeries(5);
  const range = { startMs: T0, endMs: T0 + HOUR, stepMs: 30_000 };
  const grid = makeGrid(range.startMs, range.endMs, range.stepMs);
  const engine = createPromqlEngine();
  let points = 0;
  for (const op of ColumnAggregateOps) {
    for (const text of [`${op} by (app) (rate(m[5m]))`, `${op} without (pod) (max_over_time(m[2m]))`]) {
      const r = await engine.evaluate(text, range, new MemorySeriesSource(series), { lookbackMs: 300_000, signal: new AbortController().signal });
      const [steps] = await columnAndReference(text, series, grid);
      const want = stepsToSeries(steps, grid).sort((a, b) => compareLabels(a.labels, b.labels));
      if (r.kind !== 'matrix') throw new Error('expected a matrix');
      t.equal(r.series.length, want.length, `${text}: series`);
      r.series.forEach((s, i) => {
        const w = want[i];
        if (w === undefined || labelsKey(s.labels) !== labelsKey(w.labels)) t.fail(`${text}: series ${i} labels`);
        else if (!s.timestampsMs.every((x, j) => x === w.timestampsMs[j]) || s.timestampsMs.length !== w.timestampsMs.length) t.fail(`${text}: series ${i} times`);
        else if (!s.values.every((x, j) => Object.is(x, w.values[j]))) t.fail(`${text}: series ${i} values`);
        points += s.values.length;
      });
    }
  }
  t.ok(points > 1000, `${points} points compared`);
});
