/**
 * series-columns.test.ts — per-series range queries answered as columns
 * (series-columns.ts: a plain selector, a range function, either shipped to
 * shards) answer exactly what the per-step path answers (the engine with
 * perSeriesColumns false): the same series, the same step times, bit-equal
 * values, the same errors — over seeded series with gaps, resets, NaN, ±Inf
 * and staleness markers, with offset and `@`, series that differ only by
 * `__name__` (merged by a range function where they answer different steps,
 * refused where they share one), on one source and through shardEval
 * (aggregations too: the coordinator combines the shards' partials as
 * columns).
 * Planted: the comparison catches a one-ulp value, a missing point and a
 * column path whose lookback is one millisecond short.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { createPromqlEngine, evaluateShard } from './engine.js';
import { outcomeDiff, runOutcome as run, valuesColumn } from './outcome-test-util.js';
import type { Outcome } from './outcome-test-util.js';
import { MemorySeriesSource } from './memory-source.js';
import type { EvalRange, FloatSeries, SeriesSource } from './source.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;


/** seededSeries are counters and gauges `m` with gaps, resets, NaN, ±Inf and stale markers (some start late), and pairs differing only by name. */
function seededSeries(seed: number): FloatSeries[] {
  const rand = new SeededRand(seed);
  const out: FloatSeries[] = [];
  const make = (labels: FloatSeries['labels'], fromMs: number, toMs: number, aligned: boolean): void => {
    const ts: number[] = [];
    const vs: number[] = [];
    const staleAt: number[] = [];
    let v = rand.intn(100);
    for (let t = fromMs; t < toMs; t += 15_000 + (rand.intn(8) === 0 ? (aligned ? rand.intn(6) * 15_000 : rand.intn(400_000)) : 0)) {
      const r = rand.intn(300);
      if (r === 0) v = 0;
      else v += rand.intn(50);
      if (r === 4) staleAt.push(ts.length);
      ts.push(t);
      vs.push(r === 1 ? NaN : r === 2 ? Infinity : r === 3 ? -Infinity : v);
    }
    out.push({ labels, timestampsMs: Float64Array.from(ts), values: valuesColumn(vs, staleAt) });
  };
  for (let i = 0; i < 16; i++) {
    const aligned = i % 2 === 0;
    const from = T0 + (i % 5 === 3 ? rand.intn(30) * 60_000 : aligned ? 0 : rand.intn(15_000));
    make([{ name: '__name__', value: 'm' }, { name: 'app', value: `a${i % 4}` }, { name: 'pod', value: `p${i}` }], from, T0 + HOUR, aligned);
  }
  // a and b share their labels but for the name and answer different steps; c and d share them and overlap.
  make([{ name: '__name__', value: 'a' }, { name: 'job', value: 'x' }], T0, T0 + HOUR / 2, true);
  make([{ name: '__name__', value: 'b' }, { name: 'job', value: 'x' }], T0 + HOUR / 2 + 20 * 60_000, T0 + HOUR, true);
  make([{ name: '__name__', value: 'c' }, { name: 'job', value: 'y' }], T0, T0 + HOUR, false);
  make([{ name: '__name__', value: 'd' }, { name: 'job', value: 'y' }], T0 + 10 * 60_000, T0 + HOUR, false);
  return out;
}

/** shardedOver spreads series over n in-memory shards (series i on shard i mod n): shardEval answers each shard's evaluateShard. */
function shardedOver(series: readonly FloatSeries[], n: number, perSeriesColumns: boolean): SeriesSource {
  const shards = Array.from({ length: n }, (_, k) => new MemorySeriesSource(series.filter((_, i) => i % n === k)));
  const whole = new MemorySeriesSource(series);
  return {
    stats: whole.stats,
    select: (req, signal) => whole.select(req, signal),
    shardEval: async (req, signal) => (await Promise.all(shards.map((s) => evaluateShard(req.expr, req.range, req.lookbackMs, s, signal, { perSeriesColumns }, req.maxSourceResolution)))).flat(),
  };
}

const QUERIES = [
  'm', 'm offset 7m', `m @ ${(T0 + 40 * 60_000) / 1000}`, '{__name__=~"a|b"}', '{job="y"}', '{__name__=~"m|a"}',
  'rate(m[5m])', 'irate(m[2m])', 'increase(m[10m] offset 3m)', 'delta(m[5m])', 'deriv(m[10m])', 'changes(m[5m])', 'resets(m[15m])',
  'last_over_time(m[10m])', 'count_over_time(m[3m])', 'quantile_over_time(0.9, m[5m])', 'predict_linear(m[10m], 60)',
  'rate({__name__=~"a|b"}[5m])', 'rate({job="y"}[5m])', 'sum_over_time({__name__=~"a|b"}[30m])', 'last_over_time({job="y"}[5m])',
  '(rate(m[5m]))',
  // Aggregations: shipped to the shards, combined as columns (tryPushdownSeries) or step by step (avg, topk).
  'sum by (app) (rate(m[5m]))', 'max(m)', 'count by (app) (m)', 'min without (pod) (last_over_time(m[10m]))', 'group by (job) ({__name__=~"a|b"})',
  'sum by (job) (rate({job="y"}[5m]))', 'avg by (app) (rate(m[5m]))', 'topk(2, m)',
];

const RANGES: readonly EvalRange[] = [
  { startMs: T0, endMs: T0 + HOUR, stepMs: 60_000 },
  { startMs: T0 + 7_500, endMs: T0 + HOUR - 7_500, stepMs: 15_000 },
  { startMs: T0 - 10 * 60_000, endMs: T0 + HOUR + 10 * 60_000, stepMs: 210_000 },
];

t.test('the column path answers the per-step path, on one source and through shards, bit for bit', async (t) => {
  const columns = createPromqlEngine();
  const perStep = createPromqlEngine({ perSeriesColumns: false });
  for (const seed of [1, 2, 3]) {
    const series = seededSeries(seed);
    let compared = 0;
    let errors = 0;
    for (const q of QUERIES) {
      for (const range of RANGES) {
        const want = await run(perStep, q, range, new MemorySeriesSource(series));
        const local = outcomeDiff(await run(columns, q, range, new MemorySeriesSource(series)), want);
        const sharded = outcomeDiff(await run(columns, q, range, shardedOver(series, 3, true)), await run(perStep, q, range, shardedOver(series, 3, false)));
        if (local !== null || sharded !== null) {
          t.fail(`seed ${seed} ${q} ${JSON.stringify(range)}: ${local ?? ''} ${sharded ?? ''}`);
          return;
        }
        compared++;
        if ('error' in want) errors++;
      }
    }
    t.equal(compared, QUERIES.length * RANGES.length, `seed ${seed}: ${compared} answers compared, ${errors} refused by both`);
    t.ok(errors > 0 && errors < compared, `seed ${seed}: some answers are the duplicate-labelset refusal (${errors})`);
  }
});

t.test('series differing only by name: a range function merges them where they answer different steps, as the per-step path regroups', async (t) => {
  const series = seededSeries(1);
  const range = RANGES[0] as EvalRange;
  const got = await run(createPromqlEngine(), 'rate({__name__=~"a|b"}[5m])', range, new MemorySeriesSource(series));
  t.ok('result' in got && got.result.kind === 'matrix' && got.result.series.length === 1, 'one series {job="x"}');
  const refused = await run(createPromqlEngine(), 'rate({job="y"}[5m])', range, new MemorySeriesSource(series));
  t.same(refused, { error: 'ERR_INVALID_ARGUMENT vector cannot contain metrics with the same labelset' }, 'refused with its code');
});

t.test('planted: outcomeDiff catches a one-ulp value and a missing point; a column path with a lookback 1 ms short is caught', async (t) => {
  const series = seededSeries(2);
  const range = RANGES[1] as EvalRange;
  const want = await run(createPromqlEngine({ perSeriesColumns: false }), 'm', range, new MemorySeriesSource(series));
  t.ok('result' in want && want.result.kind === 'matrix', 'a matrix');
  if (!('result' in want) || want.result.kind !== 'matrix') return;
  const s0 = want.result.series[0] as FloatSeries;
  const ulp = Float64Array.from(s0.values);
  const j = ulp.findIndex((v) => Number.isFinite(v) && v !== 0);
  ulp[j] = (ulp[j] as number) * (1 + Number.EPSILON);
  const bumped: Outcome = { result: { kind: 'matrix', series: [{ ...s0, values: ulp }, ...want.result.series.slice(1)] } };
  t.match(outcomeDiff(bumped, want), /point/, 'a one-ulp difference');
  const short: Outcome = { result: { kind: 'matrix', series: [{ ...s0, timestampsMs: s0.timestampsMs.slice(1), values: s0.values.slice(1) }, ...want.result.series.slice(1)] } };
  t.match(outcomeDiff(short, want), /points/, 'a missing point');
  // A sample exactly 5 m before a step (a 10 m gap on the grid): the lookback includes it; one 1 ms short does not.
  const gap: FloatSeries[] = [{ labels: [{ name: '__name__', value: 'g' }], timestampsMs: Float64Array.of(T0, T0 + 600_000), values: Float64Array.of(1, 2) }];
  const grid = RANGES[0] as EvalRange;
  const exact = await run(createPromqlEngine({ perSeriesColumns: false }), 'g', grid, new MemorySeriesSource(gap));
  t.equal(outcomeDiff(await run(createPromqlEngine(), 'g', grid, new MemorySeriesSource(gap)), exact), null, 'the column path keeps the sample 5 m back');
  const planted = await run(createPromqlEngine(), 'g', grid, new MemorySeriesSource(gap), 299_999);
  t.match(outcomeDiff(planted, exact), /points/, 'a lookback 1 ms short differs');
});
