/**
 * rollup-eval.test.ts — rollup answers against raw answers on seeded data:
 * gauges (random walks with gaps) and counters (steady increments with
 * resets), scraped every 15 s at an offset that never lands on a window
 * boundary, rolled up by the store's own code (rollup.ts partialsOf,
 * mergeInto over two flushes, pointOf). Where README.md ("Rollups") says
 * the answers are equal (ranges and steps on window boundaries) they must be
 * equal to 1e-9; rate and increase must stay within the measured bound; a
 * planted bug (partials merged in the wrong order; `sum` where `last` is
 * needed) must be caught.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { type RollupPartial, type RollupPoint, mergeInto, partialsOf, pointOf } from '../../storage/metrics/rollup.js';
import { RangeFunctions } from './range-functions.js';
import { type RollupChoice, chooseRollup, parseMaxSourceResolution, rollupInstantValue, rollupRangeValue } from './rollup-eval.js';

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 3_600_000); // an hour boundary
const SCRAPE_MS = 15_000;
const OFFSET_MS = 7_000; // 7 + 15k s is never a multiple of 300 s
const HOURS = 6;
const LOOKBACK_MS = 300_000;

interface Series {
  readonly kind: 'gauge' | 'counter';
  readonly ts: Float64Array;
  readonly vs: Float64Array;
}

function makeSeries(rand: SeededRand, kind: Series['kind'], resets = true): Series {
  const ts: number[] = [];
  const vs: number[] = [];
  let v = kind === 'counter' ? rand.intn(1000) : 50;
  for (let t = T0 + OFFSET_MS; t < T0 + HOURS * 3_600_000; t += SCRAPE_MS) {
    if (rand.intn(40) === 0) continue; // a missed scrape
    if (kind === 'counter') v = resets && rand.intn(500) === 0 ? rand.intn(5) : v + rand.intn(20);
    else v += rand.intn(11) - 5 + rand.intn(100) / 100;
    ts.push(t);
    vs.push(v);
  }
  return { kind, ts: Float64Array.from(ts), vs: Float64Array.from(vs) };
}

type Merge = (a: RollupPartial, b: RollupPartial) => RollupPartial;
const rightOrder: Merge = (a, b) => {
  mergeInto(a, b);
  return a;
};

/** rollupsOf rolls a series up into windows of windowMs as two flushes (cut at `cutAt`) whose partials `merge` combines, earlier first. */
function rollupsOf(s: Series, windowMs: number, cutAt: number, merge: Merge = rightOrder): RollupPoint[] {
  const a = partialsOf(s.ts, s.vs, cutAt, windowMs);
  const b = partialsOf(s.ts.subarray(cutAt), s.vs.subarray(cutAt), s.ts.length - cutAt, windowMs);
  const byStart = new Map<number, RollupPartial>();
  for (const p of a) byStart.set(p.startMs, p);
  for (const p of b) {
    const prev = byStart.get(p.startMs);
    byStart.set(p.startMs, prev === undefined ? p : merge(prev, p));
  }
  return [...byStart.values()].sort((x, y) => x.startMs - y.startMs).map(pointOf);
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if ((a[m] as number) < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** rawRange is the engine's own range function over the raw samples in [start, end]. */
function rawRange(func: string, s: Series, start: number, end: number): number | null {
  const fn = RangeFunctions.get(func);
  if (fn === undefined) throw new Error(func);
  return fn({ ts: s.ts, vs: s.vs, lo: lowerBound(s.ts, start), hi: lowerBound(s.ts, end + 1), rangeStartMs: start, rangeEndMs: end, rangeMs: end - start, stepTimeMs: end }, []);
}

function rawInstant(s: Series, t: number): number | null {
  const j = lowerBound(s.ts, t + 1) - 1;
  return j >= 0 && (s.ts[j] as number) >= t - LOOKBACK_MS ? (s.vs[j] as number) : null;
}

const EXACT = ['min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'avg_over_time', 'last_over_time'];

/** compare runs every function at every aligned step and names the first answer out of bounds (null: none); it also returns the worst rate/increase error. */
function compare(series: readonly Series[], windowMs: number, rangeMs: number, roll: (s: Series) => RollupPoint[], rangeValue = rollupRangeValue): { problem: string | null; worstRate: number } {
  let worstRate = 0;
  for (const [k, s] of series.entries()) {
    const pts = roll(s);
    for (let end = T0 + rangeMs; end <= T0 + HOURS * 3_600_000; end += windowMs) {
      const start = end - rangeMs;
      for (const f of EXACT) {
        const want = rawRange(f, s, start, end);
        const got = rangeValue(f, pts, start, end);
        if (want === null || got === null ? want !== got : Math.abs(want - got) > 1e-9 * Math.max(1, Math.abs(want))) return { problem: `series ${k} ${f} over [${start}, ${end}]: raw ${want}, rollup ${got}`, worstRate };
      }
      const wantI = rawInstant(s, end);
      const gotI = rollupInstantValue(pts, end, LOOKBACK_MS);
      if (wantI !== gotI) return { problem: `series ${k} selector at ${end}: raw ${wantI}, rollup ${gotI}`, worstRate };
      const res: RollupChoice = windowMs === 300_000 ? '5m' : '1h';
      if (s.kind !== 'counter' || chooseRollup('rate', rangeMs, windowMs, res) !== res) continue;
      for (const f of ['rate', 'increase']) {
        const want = rawRange(f, s, start, end);
        const got = rangeValue(f, pts, start, end);
        if (want === null && got === null) continue;
        if (want === null || got === null) return { problem: `series ${k} ${f} over [${start}, ${end}]: raw ${want}, rollup ${got}`, worstRate };
        worstRate = Math.max(worstRate, Math.abs(got - want) / Math.max(Math.abs(want), 1e-12));
      }
    }
  }
  return { problem: null, worstRate };
}

function dataset(seed: number, resets = true): Series[] {
  const rand = new SeededRand(seed);
  return Array.from({ length: 12 }, (_, i) => makeSeries(rand, i % 2 === 0 ? 'gauge' : 'counter', resets));
}

const SEED = 20261128;
/** RATE_BOUND is the documented bound (README.md "Rollups") of rate/increase from rollups, relative to raw, for counters without resets. */
const RATE_BOUND = 0.05;

t.test('rollup answers equal raw answers on window boundaries; rate and increase within the bound', async (t) => {
  for (const resets of [false, true]) {
  const series = dataset(SEED, resets);
  for (const [windowMs, rangeMs] of [
    [300_000, 300_000],
    [300_000, 3_600_000],
    [3_600_000, 3_600_000],
    [3_600_000, 3 * 3_600_000],
  ] as const) {
    const r = compare(series, windowMs, rangeMs, (s) => rollupsOf(s, windowMs, Math.floor(s.ts.length / 3)));
    t.equal(r.problem, null, `window ${windowMs / 60_000}m range ${rangeMs / 60_000}m (seed ${SEED})`);
    if (!resets) t.ok(r.worstRate <= RATE_BOUND, `rate/increase worst relative error ${r.worstRate.toFixed(4)} <= ${RATE_BOUND} (window ${windowMs / 60_000}m, range ${rangeMs / 60_000}m)`);
    t.comment(`${resets ? 'with' : 'without'} resets, window ${windowMs / 60_000}m range ${rangeMs / 60_000}m: rate/increase worst relative error ${r.worstRate.toFixed(4)}`);
  }
  }
});

t.test('the comparison catches planted bugs', async (t) => {
  const series = dataset(SEED);
  const wrongOrder: Merge = (a, b) => {
    mergeInto(b, a); // the later flush merged into the earlier one's place: `last` comes from the older flush
    return b;
  };
  const merged = compare(series, 300_000, 3_600_000, (s) => rollupsOf(s, 300_000, Math.floor(s.ts.length / 3), wrongOrder));
  t.not(merged.problem, null, `partials merged in the wrong order: ${merged.problem}`);
  const sumForLast: typeof rollupRangeValue = (f, pts, start, end) => (f === 'last_over_time' ? rollupRangeValue('sum_over_time', pts, end - 1, end + 300_000) : rollupRangeValue(f, pts, start, end));
  const summed = compare(series, 300_000, 3_600_000, (s) => rollupsOf(s, 300_000, Math.floor(s.ts.length / 3)), sumForLast);
  t.not(summed.problem, null, `sum where last is needed: ${summed.problem}`);
});

t.test('chooseRollup: step and range at least the window, supported functions, max_source_resolution', async (t) => {
  t.equal(chooseRollup('sum_over_time', 3_600_000, 3_600_000, 'auto'), '1h');
  t.equal(chooseRollup('sum_over_time', 3_600_000, 600_000, 'auto'), '5m', 'step 10m: 5m windows');
  t.equal(chooseRollup('sum_over_time', 120_000, 3_600_000, 'auto'), 'raw', 'a range under the window reads raw');
  t.equal(chooseRollup('rate', 3_600_000, 3_600_000, '5m'), '5m', 'max_source_resolution=5m caps the window');
  t.equal(chooseRollup('rate', 3_600_000, 3_600_000, '1h'), '5m', 'rate needs three windows in its range');
  t.equal(chooseRollup('rate', 3_600_000, 3_600_000, 'auto'), 'raw', 'rate reads rollups only on request');
  t.equal(chooseRollup('rate', 3_600_000, 3_600_000, 'raw'), 'raw');
  t.equal(chooseRollup('irate', 3_600_000, 3_600_000, 'auto'), 'raw', 'irate needs raw samples');
  t.equal(chooseRollup('quantile_over_time', 3_600_000, 3_600_000, 'auto'), 'raw');
  t.equal(chooseRollup('', 300_000, 3_600_000, '1h'), '5m', 'a plain selector: the lookback is its range');
  t.equal(chooseRollup('', 300_000, 3_600_000, 'auto'), 'raw', 'a plain selector reads rollups only on request');
  t.equal(chooseRollup('sum_over_time', 3_600_000, 0, 'auto'), 'raw', 'an instant query reads raw');
  t.same(['auto', '5m', '1h', 'raw', 'x'].map(parseMaxSourceResolution), ['auto', '5m', '1h', 'raw', null]);
});
