/**
 * rate-scan.test.ts — rate, increase, delta, irate and idelta computed in
 * one pass a series (rate-scan.ts), alone and with `sum` folded straight
 * into its group's row, answer bit for bit what RangeFunctions' own
 * functions called once a window answer (range-columns.ts scanRange's call
 * per step, taken when the range function is not RangeFunctions' own) and
 * what the per-step path answers: over seeded counters with frequent resets
 * (also at a window's first and last sample), NaN, ±Inf, negative values,
 * staleness markers, gaps wider than the window, series starting late, on
 * grids aligned and not aligned with the samples, windows wider and
 * narrower than the step, offset and `@`, and series whose output labels
 * collide (merged where they answer different steps, refused where they
 * share one — also under `sum`).
 *
 * Planted in the source and caught (each reverted): a window end exclusive
 * (`ts[hi] < we` in scanRate's forward cursor): "seed 1 rate(m[5m]) …:
 * series 0 point 0: 0.10625 vs 0.08625"; a lost reset (the drop scan one
 * sample short of the window's end, `scanned < hi - 1`): "seed 1
 * rate(m[5m]) …: series 0 point 1: 0.11666666666666668 vs Infinity"; a sum
 * row that never starts a step (`firstK[i] === -2`): "seed 1 sum by (app)
 * (rate(m[5m])) …: 0 series vs 3". The reset test below fails on the first
 * two as well. The cursors' tried advance: the end cursor's kept without
 * its check of the sample before it ("seed 1 rate(m[5m]) …: series 0: 60
 * points vs 56"), the start cursor's kept past a sample at the window's
 * start (`ts[g - 1] <= ws`: "seed 1 rate(m[5m]) … point 11: NaN vs
 * Infinity"). Value facts (FloatSeries.facts): the drop test skipped on
 * either fact, not both (`!== 0`: "seed 1 rate(m[5m] @ …) … series 5
 * point 0: -1.0463716863480337 vs 0.21965464097828521"); the staleness
 * pass skipped for any series that carries facts, 0 included ("seed 1
 * rate(m[5m]) … series 2 point 1: 0.16594599999999998 vs
 * 0.16764242857142858").
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { createPromqlEngine } from './engine.js';
import { outcomeDiff, runOutcome as run, valuesColumn } from './outcome-test-util.js';
import { STALE_NAN, isStaleMarker } from './eval-types.js';
import { MemorySeriesSource } from './memory-source.js';
import type { RangeFn } from './range-functions.js';
import { RangeFunctions } from './range-functions.js';
import { rateKindOf } from './rate-scan.js';
import type { EvalRange, FloatSeries, SelectRequest } from './source.js';
import { VALUES_COUNTER_SAFE, VALUES_FINITE, VALUES_NON_DECREASING } from '../../storage/codec/value-facts.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

/** counters are `m` series with frequent resets (runs of them too), NaN, ±Inf, negative starts, stale markers and gaps, and name-only pairs. */
function counters(seed: number): FloatSeries[] {
  const rand = new SeededRand(seed);
  const out: FloatSeries[] = [];
  const make = (labels: FloatSeries['labels'], fromMs: number, toMs: number, aligned: boolean): void => {
    const ts: number[] = [];
    const vs: number[] = [];
    const staleAt: number[] = [];
    let v = rand.intn(3) === 0 ? -rand.intn(50) : rand.intn(100);
    for (let t = fromMs; t < toMs; t += 15_000 + (rand.intn(10) === 0 ? (aligned ? rand.intn(30) * 15_000 : rand.intn(700_000)) : 0)) {
      const r = rand.intn(60);
      if (r < 3) v = rand.intn(5);
      else v += rand.intn(50) / 4;
      if (r === 6) staleAt.push(ts.length);
      ts.push(t);
      vs.push(r === 3 ? NaN : r === 4 ? Infinity : r === 5 ? -Infinity : v);
    }
    out.push({ labels, timestampsMs: Float64Array.from(ts), values: valuesColumn(vs, staleAt) });
  };
  for (let i = 0; i < 14; i++) {
    const aligned = i % 2 === 0;
    const from = T0 + (i % 5 === 3 ? rand.intn(30) * 60_000 : aligned ? 0 : rand.intn(15_000));
    make([{ name: '__name__', value: 'm' }, { name: 'app', value: `a${i % 3}` }, { name: 'pod', value: `p${i}` }], from, T0 + HOUR, aligned);
  }
  make([{ name: '__name__', value: 'a' }, { name: 'job', value: 'x' }], T0, T0 + HOUR / 2, true);
  make([{ name: '__name__', value: 'b' }, { name: 'job', value: 'x' }], T0 + HOUR / 2 + 20 * 60_000, T0 + HOUR, true);
  make([{ name: '__name__', value: 'c' }, { name: 'job', value: 'y' }], T0, T0 + HOUR, false);
  make([{ name: '__name__', value: 'd' }, { name: 'job', value: 'y' }], T0 + 10 * 60_000, T0 + HOUR, false);
  return out;
}

/** calledPerWindow is RangeFunctions with every function wrapped: not RangeFunctions' own, so scanRange calls it once a window. */
function calledPerWindow(): ReadonlyMap<string, RangeFn> {
  return new Map([...RangeFunctions].map(([name, f]): [string, RangeFn] => [name, (w, s) => f(w, s)]));
}

const FUNCS = ['rate', 'increase', 'delta', 'irate', 'idelta'];
const QUERIES = [
  ...FUNCS.flatMap((f) => [`${f}(m[5m])`, `${f}(m[1m])`, `sum by (app) (${f}(m[5m]))`, `sum(${f}(m[10m] offset 3m))`]),
  'increase(m[10m] offset 3m)', `rate(m[5m] @ ${(T0 + 40 * 60_000) / 1000})`, 'rate(m[45s])',
  'rate({__name__=~"a|b"}[5m])', 'rate({job="y"}[5m])', 'sum(rate({__name__=~"a|b"}[5m]))', 'sum by (job) (increase({job=~"x|y"}[5m]))',
  'max by (app) (rate(m[5m]))', 'avg(irate(m[2m]))', 'count(delta(m[5m]))',
];
const RANGES: readonly EvalRange[] = [
  { startMs: T0, endMs: T0 + HOUR, stepMs: 60_000 },
  { startMs: T0 + 7_321, endMs: T0 + HOUR, stepMs: 15_000 },
  { startMs: T0 - 10 * 60_000, endMs: T0 + HOUR + 10 * 60_000, stepMs: 210_000 },
];

t.test('the generated counters hold staleness markers that read back as markers, not plain NaNs', async (t) => {
  let markers = 0;
  let plainNaNs = 0;
  for (const seed of [1, 2, 3]) {
    for (const s of counters(seed)) {
      for (let j = 0; j < s.values.length; j++) {
        if (isStaleMarker(s.values, j)) markers++;
        else if (Number.isNaN(s.values[j] as number)) plainNaNs++;
      }
    }
  }
  t.ok(markers > 0, `counters() writes staleness markers (${markers})`);
  t.ok(plainNaNs > 0, `and plain NaNs beside them (${plainNaNs})`);
});

t.test('rateKindOf takes only RangeFunctions\' own functions', async (t) => {
  for (const f of FUNCS) t.equal(rateKindOf(RangeFunctions.get(f) as RangeFn), f, f);
  t.equal(rateKindOf(RangeFunctions.get('deriv') as RangeFn), null, 'deriv runs per window');
  t.equal(rateKindOf(calledPerWindow().get('rate') as RangeFn), null, 'a wrapped rate runs per window');
});

t.test('the one-pass scan (and the folded sum) answers the call per window and the per-step path, bit for bit', async (t) => {
  const fast = createPromqlEngine();
  const perWindow = createPromqlEngine({ rangeFunctions: calledPerWindow() });
  const perStep = createPromqlEngine({ rangeFunctions: calledPerWindow(), perSeriesColumns: false });
  for (const seed of [1, 2, 3, 4]) {
    const series = counters(seed);
    let compared = 0;
    let refused = 0;
    let points = 0;
    for (const q of QUERIES) {
      for (const range of RANGES) {
        const want = await run(perWindow, q, range, new MemorySeriesSource(series));
        const got = await run(fast, q, range, new MemorySeriesSource(series));
        const diff = outcomeDiff(got, want) ?? outcomeDiff(await run(perStep, q, range, new MemorySeriesSource(series)), want);
        if (diff !== null) {
          t.fail(`seed ${seed} ${q} ${JSON.stringify(range)}: ${diff}`);
          return;
        }
        compared++;
        if ('error' in want) refused++;
        else if (want.result.kind === 'matrix') for (const s of want.result.series) points += s.values.length;
      }
    }
    t.equal(compared, QUERIES.length * RANGES.length, `seed ${seed}: ${compared} answers (${points} points) equal, ${refused} refused by both`);
    t.ok(refused > 0 && refused < compared, `seed ${seed}: the duplicate-labelset refusal is among them`);
  }
});

t.test('a counter reset at a window\'s first, second and last sample, and a drop from a negative start', async (t) => {
  // Samples every 15 s; drops at 60 s (a window's last sample at step 60 s), 75 s and 135 s; a negative first value.
  const vs = [-5, 3, 9, 12, 2, 1, 4, 8, 9, 3, 6, 7];
  const series: FloatSeries[] = [{ labels: [{ name: '__name__', value: 'm' }], timestampsMs: Float64Array.from(vs, (_, j) => T0 + j * 15_000), values: Float64Array.from(vs) }];
  for (const q of ['rate(m[1m])', 'increase(m[45s])', 'increase(m[2m])', 'sum(increase(m[1m]))']) {
    for (const range of [{ startMs: T0, endMs: T0 + 180_000, stepMs: 15_000 }, { startMs: T0 + 1, endMs: T0 + 180_000, stepMs: 7_000 }]) {
      const want = await run(createPromqlEngine({ rangeFunctions: calledPerWindow() }), q, range, new MemorySeriesSource(series));
      t.equal(outcomeDiff(await run(createPromqlEngine(), q, range, new MemorySeriesSource(series)), want), null, `${q} step ${range.stepMs}`);
    }
  }
});

/** truthFacts is what a store's decoder may claim of a column (storage/codec/value-facts.ts), computed sample by sample. */
function truthFacts(vs: Float64Array): number {
  let finite = true;
  let rising = true;
  for (let j = 0; j < vs.length; j++) {
    if (!Number.isFinite(vs[j] as number)) finite = false;
    if (j > 0 && !((vs[j] as number) >= (vs[j - 1] as number))) rising = false;
  }
  return (finite ? VALUES_FINITE : 0) | (finite && rising ? VALUES_NON_DECREASING : 0);
}

/** FactsSource is a MemorySeriesSource whose selects carry each series' true value facts, as a shard's store read does (FloatSeries.facts). */
class FactsSource extends MemorySeriesSource {
  claimed = 0;
  override async select(req: SelectRequest, signal: AbortSignal): Promise<readonly FloatSeries[]> {
    return (await super.select(req, signal)).map((s) => {
      const facts = truthFacts(s.values);
      if (facts === VALUES_COUNTER_SAFE) this.claimed++;
      return { ...s, facts };
    });
  }
}

t.test('series the store proved finite and non-decreasing (FloatSeries.facts) answer the same bits, the drop test and the staleness pass skipped', async (t) => {
  const fast = createPromqlEngine();
  const perWindow = createPromqlEngine({ rangeFunctions: calledPerWindow() });
  for (const seed of [1, 2, 3]) {
    const rand = new SeededRand(100 + seed);
    // counters()'s series (resets, NaN, ±Inf: finite-only or no facts) and clean counters (both facts; one flat, one with staleness markers: no facts).
    const series = counters(seed);
    for (let i = 0; i < 8; i++) {
      let v = rand.intn(1000) / (i % 2 === 0 ? 1 : 8);
      const ts: number[] = [];
      const vs: number[] = [];
      for (let at = T0 + rand.intn(15_000); at < T0 + HOUR; at += i % 3 === 0 ? 15_000 : 1 + rand.intn(40_000)) {
        ts.push(at);
        vs.push((v += i === 7 ? 0 : rand.intn(40) / 4));
      }
      const values = Float64Array.from(vs);
      // Series 6 holds staleness markers, written straight into its column (a NaN kept in a JS array may lose its payload).
      if (i === 6) for (let j = 5; j < values.length; j += 37) values[j] = STALE_NAN;
      series.push({ labels: [{ name: '__name__', value: 'm' }, { name: 'app', value: `a${i % 3}` }, { name: 'pod', value: `clean${i}` }], timestampsMs: Float64Array.from(ts), values });
    }
    const withFacts = new FactsSource(series);
    for (const q of QUERIES) {
      for (const range of RANGES) {
        const want = await run(perWindow, q, range, new MemorySeriesSource(series));
        const diff = outcomeDiff(await run(fast, q, range, withFacts), want);
        if (diff !== null) {
          t.fail(`seed ${seed} ${q} ${JSON.stringify(range)}: ${diff}`);
          return;
        }
      }
    }
    t.ok(withFacts.claimed > 0, `seed ${seed}: ${withFacts.claimed} selected series carried both facts`);
  }
});
