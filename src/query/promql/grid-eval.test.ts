/**
 * grid-eval.test.ts — a shard's grid answer built straight from its
 * aggregation's columns (PromqlEngine.evaluateGrid, GroupColumns.grid)
 * holds exactly what laying its series answer on the grid holds
 * (evaluate, then grid-partials.ts seriesToGrid, the path it replaces):
 * the same label sets in the same order, the same presence bits, the same
 * value bits (NaN payloads, stale markers, -0, ±Inf), over seeded series
 * with gaps, resets and special values, every column aggregation, on grids
 * that do and do not line up with the samples. Expressions the engine does
 * not fold into columns answer evaluate's result unchanged.
 * Planted in GroupColumns.grid and caught here (see bench/README.md): a
 * group left out, a step's bit not set, groups in creation order instead
 * of label order, and a value of the next step.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { createPromqlEngine } from './engine.js';
import { isStaleMarker } from './eval-types.js';
import type { GridPartials } from './grid-partials.js';
import { seriesToGrid } from './grid-partials.js';
import { MemorySeriesSource } from './memory-source.js';
import { valuesColumn } from './outcome-test-util.js';
import type { EvalRange, FloatSeries, GridEvalResult, PromqlOptions } from './source.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

/** seededSeries are counters `m` over 5 apps with gaps, resets, NaN, ±Inf, -0 and stale markers, some starting late or ending early. */
function seededSeries(seed: number): FloatSeries[] {
  const rand = new SeededRand(seed);
  const out: FloatSeries[] = [];
  for (let i = 0; i < 23; i++) {
    const ts: number[] = [];
    const vs: number[] = [];
    const staleAt: number[] = [];
    let v = rand.intn(100);
    const from = T0 + (i % 5 === 3 ? rand.intn(30) * 60_000 : rand.intn(15_000));
    const to = T0 + HOUR - (i % 7 === 2 ? rand.intn(20) * 60_000 : 0);
    for (let t = from; t < to; t += 15_000 + (rand.intn(8) === 0 ? rand.intn(400_000) : 0)) {
      const r = rand.intn(300);
      if (r === 0) v = 0;
      else v += rand.intn(50);
      if (r === 4) staleAt.push(ts.length);
      ts.push(t);
      vs.push(r === 1 ? NaN : r === 2 ? Infinity : r === 3 ? -Infinity : r === 5 ? -0 : v);
    }
    out.push({ labels: [{ name: '__name__', value: 'm' }, { name: 'app', value: `a${(i * 3) % 5}` }, { name: 'pod', value: `p${i}` }], timestampsMs: Float64Array.from(ts), values: valuesColumn(vs, staleAt) });
  }
  return out;
}

/** FOLDED are aggregations the engine folds into columns: evaluateGrid must answer them as a grid. */
const FOLDED = [
  'sum by (app) (rate(m[5m]))', 'sum(rate(m[5m]))', 'min without (pod) (last_over_time(m[10m]))', 'max by (app) (irate(m[2m]))',
  'count by (app) (rate(m[5m]))', 'group by (app) (delta(m[5m]))', 'avg by (app) (increase(m[10m] offset 3m))',
  'stddev by (app) (rate(m[5m]))', 'stdvar(deriv(m[5m]))', 'sum by (pod) (changes(m[5m]))', 'sum by (nope) (max_over_time(m[1m]))',
];
/** OTHERS are expressions evaluated another way: evaluateGrid answers evaluate's result. */
const OTHERS = ['rate(m[5m])', 'sum by (app) (m)', 'topk(2, rate(m[5m]))', 'sum(rate(m[5m])) * 2'];

const RANGES: readonly EvalRange[] = [
  { startMs: T0, endMs: T0 + HOUR, stepMs: 60_000 },
  { startMs: T0 + 7_500, endMs: T0 + HOUR - 7_500, stepMs: 15_000 },
  { startMs: T0 - 10 * 60_000, endMs: T0 + HOUR + 10 * 60_000, stepMs: 210_000 },
  { startMs: T0 + 1_000, endMs: T0 + 1_000 + 8 * 60_000, stepMs: 60_000 },
  { startMs: T0 + 30 * 60_000, endMs: T0 + 30 * 60_000, stepMs: 60_000 },
];

const engine = createPromqlEngine();

function opts(): PromqlOptions {
  return { lookbackMs: 300_000, signal: new AbortController().signal };
}

/** gridDiff is null when two grids hold the same labels, bits and value bits, else what differs first. */
function gridDiff(got: GridPartials, want: GridPartials): string | null {
  if (got.steps !== want.steps) return `steps ${got.steps} vs ${want.steps}`;
  if (JSON.stringify(got.labels) !== JSON.stringify(want.labels)) return `labels ${JSON.stringify(got.labels)} vs ${JSON.stringify(want.labels)}`;
  if (got.present.length !== want.present.length) return `bitmap bytes ${got.present.length} vs ${want.present.length}`;
  for (let i = 0; i < got.present.length; i++) if (got.present[i] !== want.present[i]) return `bitmap byte ${i}: ${got.present[i]} vs ${want.present[i]}`;
  if (got.values.length !== want.values.length) return `values ${got.values.length} vs ${want.values.length}`;
  const a = new Uint32Array(got.values.buffer, got.values.byteOffset, got.values.length * 2);
  const b = new Uint32Array(want.values.buffer, want.values.byteOffset, want.values.length * 2);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const v = i >>> 1;
    // Two NaNs made by arithmetic (Inf - Inf in stdvar) are the same answer: V8 does not keep a computed NaN's sign
    // or payload the same between its interpreter and optimized code, so their bits differ from run to run. Only the
    // staleness marker's payload means something, and it must match bit for bit.
    if (Number.isNaN(got.values[v]) && Number.isNaN(want.values[v]) && !isStaleMarker(got.values, v) && !isStaleMarker(want.values, v)) continue;
    return `value ${v}: ${got.values[v]} vs ${want.values[v]} (bits differ)`;
  }
  return null;
}

t.test('evaluateGrid lays a folded aggregation on the grid exactly as seriesToGrid lays evaluate\'s matrix', async (t) => {
  let compared = 0;
  let points = 0;
  for (const seed of [1, 2, 3, 4]) {
    const source = new MemorySeriesSource(seededSeries(seed));
    for (const q of FOLDED) {
      for (const range of RANGES) {
        const got = await engine.evaluateGrid?.(q, range, source, opts());
        const want = await engine.evaluate(q, range, source, opts());
        if (got === undefined || got.kind !== 'grid' || want.kind !== 'matrix') {
          t.fail(`seed ${seed} ${q} ${JSON.stringify(range)}: answered ${got?.kind ?? 'nothing'} and ${want.kind}`);
          return;
        }
        const laid = seriesToGrid(want.series, range);
        if (laid === null) {
          t.fail('evaluate\'s matrix is on the grid');
          return;
        }
        const d = gridDiff(got.grid, laid);
        if (d !== null) {
          t.fail(`seed ${seed} ${q} ${JSON.stringify(range)}: ${d}`);
          return;
        }
        compared++;
        points += laid.values.length;
      }
    }
  }
  t.equal(compared, 4 * FOLDED.length * RANGES.length, `${compared} grids compared, ${points} points`);
  t.ok(points > 20_000, 'the answers are not trivial');
});

t.test('evaluateGrid answers evaluate\'s result for what it does not fold, and for an instant query', async (t) => {
  const source = new MemorySeriesSource(seededSeries(5));
  const instant = { startMs: T0 + HOUR / 2, endMs: T0 + HOUR / 2, stepMs: 0 };
  const cases: [string, EvalRange][] = [...OTHERS.map((q): [string, EvalRange] => [q, RANGES[0] as EvalRange]), ['sum by (app) (rate(m[5m]))', instant]];
  for (const [q, range] of cases) {
    const got: GridEvalResult | undefined = await engine.evaluateGrid?.(q, range, source, opts());
    const want = await engine.evaluate(q, range, source, opts());
    t.same(got, want, `${q} ${range.stepMs === 0 ? 'instant' : 'range'}: evaluate's answer`);
  }
});

t.test('the grid charges the budget as the series did', async (t) => {
  const q = 'sum by (app) (rate(m[5m]))';
  const range = RANGES[1] as EvalRange;
  const ok = async (samplesMax: number, grid: boolean): Promise<boolean> => {
    const e = createPromqlEngine({ samplesMax });
    const source = new MemorySeriesSource(seededSeries(6));
    const p = grid ? e.evaluateGrid?.(q, range, source, opts()) : e.evaluate(q, range, source, opts());
    return p === undefined ? false : p.then(() => true, () => false);
  };
  // The least bound the series path passes (its reads plus its answer's points), by bisection.
  let lo = 0;
  let hi = 10_000_000;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await ok(mid, false)) hi = mid;
    else lo = mid;
  }
  t.ok(hi > 1000, `the series path needs a bound of ${hi}`);
  t.equal(await ok(hi, true), true, 'the grid passes at that bound');
  t.equal(await ok(hi - 1, true), false, 'and not one below it');
});
