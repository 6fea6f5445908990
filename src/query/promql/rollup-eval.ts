/**
 * rollup-eval.ts — answering PromQL range functions and plain selectors
 * from the store's 5m / 1h rollups (storage/metrics/rollup.ts: per series
 * and window min, max, sum, count, last and lastT) instead of raw samples,
 * as Thanos answers from downsampled blocks. Pure code, no I/O: the choice
 * of a resolution (chooseRollup) and the per-step answers (rollupRangeValue,
 * rollupInstantValue). The design and its measured effect on results are in
 * README.md ("Rollups").
 *
 * Which aggregate answers which function (Thanos's aggrsFromFunc, with the
 * aggregates our rollups keep):
 *
 *   min_over_time        min of the windows' min
 *   max_over_time        max of the windows' max
 *   sum_over_time        sum of the windows' sum
 *   count_over_time      sum of the windows' count (the samples, not the windows)
 *   avg_over_time        Σ sum / Σ count
 *   last_over_time       the latest window's last
 *   rate, increase       Prometheus's extrapolated rate over the windows'
 *                        (lastT, last) points — a counter's last value per
 *                        window, resets between two windows' lasts adjusted;
 *                        approximate, so only on request (chooseRollup)
 *   a plain selector     the latest window's last within the lookback
 *
 * Every other function (irate, delta, deriv, resets, changes, quantile_over_time,
 * stddev_over_time, …) needs the samples themselves and reads raw.
 *
 * A window belongs to a step's range [start, end] when its lastT lies in it
 * (Prometheus 2.42's windows are inclusive at both ends). So when start and
 * end are multiples of the rollup window and no sample sits exactly on end,
 * min, max, sum, count, avg and last over the windows equal the raw answers;
 * otherwise the two edge windows are taken whole or not at all (see README).
 */
import type { RollupPoint } from '../../storage/metrics/rollup.js';
import { ROLLUP_WINDOW_MS } from '../../storage/metrics/rollup.js';
import { extrapolatedRate } from './range-functions.js';

/** MaxSourceResolution is the `max_source_resolution` query parameter (Thanos's): the coarsest data a query may read; `auto` lets the step decide. */
export type MaxSourceResolution = 'raw' | '5m' | '1h' | 'auto';

/** RollupChoice is the data a selector reads: raw samples, or one of the rollup resolutions. */
export type RollupChoice = 'raw' | '5m' | '1h';

/** ROLLUP_FUNCTIONS lists the functions rollups answer (see the file comment); `''` stands for a plain selector. */
export const ROLLUP_FUNCTIONS: ReadonlySet<string> = new Set(['min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'avg_over_time', 'last_over_time', 'rate', 'increase', '']);

/** parseMaxSourceResolution reads the query parameter (absent: auto); null for a value it does not know. */
export function parseMaxSourceResolution(v: string | null): MaxSourceResolution | null {
  if (v === null || v === '' || v === 'auto') return 'auto';
  if (v === 'raw' || v === '0s' || v === '0') return 'raw';
  if (v === '5m') return '5m';
  if (v === '1h') return '1h';
  return null;
}

/** COUNTER_FUNCTIONS are the rollup functions whose answers are approximate even on window boundaries (README.md "Rollups"). */
const COUNTER_FUNCTIONS: ReadonlySet<string> = new Set(['rate', 'increase']);

/**
 * chooseRollup picks the coarsest rollup window W allowed by `max` (5m
 * allows 5m; 1h and auto allow 5m and 1h) such that the function reads
 * rollups (ROLLUP_FUNCTIONS), stepMs >= W and, for a range function,
 * rangeMs >= W (a plain selector needs the lookback >= W); raw otherwise. An
 * instant query (stepMs 0) always reads raw. rate and increase read rollups
 * only when `max` names a window (never under auto: a counter reset inside
 * a window is invisible to its last value) and rangeMs >= 3 × W (two
 * windows' lasts at least, so the rate is defined at every step). A plain
 * selector, too, reads rollups only when `max` names a window: at a step
 * time t on a window boundary its window ends just before t, so a sample
 * exactly at t (common when scrapes align with steps: the node oracle's
 * promtool range query at step 5m) is missed where raw answers it.
 */
export function chooseRollup(func: string, rangeMs: number, stepMs: number, max: MaxSourceResolution): RollupChoice {
  if (max === 'raw' || !ROLLUP_FUNCTIONS.has(func) || stepMs <= 0) return 'raw';
  const counter = COUNTER_FUNCTIONS.has(func);
  if ((counter || func === '') && max === 'auto') return 'raw';
  const fits = (w: number): boolean => stepMs >= w && rangeMs >= (counter ? 3 * w : w);
  if (max !== '5m' && fits(ROLLUP_WINDOW_MS['1h'])) return '1h';
  if (fits(ROLLUP_WINDOW_MS['5m'])) return '5m';
  return 'raw';
}

/** lowerByLastT is the first index of `points` (sorted by window) whose lastT >= t. */
function lowerByLastT(points: readonly RollupPoint[], t: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((points[mid] as RollupPoint).lastT < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * rollupRangeValue is `func` over the windows of one series whose lastT lies
 * in [startMs, endMs] (rangeMs = endMs - startMs, as the raw evaluator has
 * it), or null where the raw function gives no output (no window; rate
 * with fewer than two windows). `points` are sorted by window.
 */
export function rollupRangeValue(func: string, points: readonly RollupPoint[], startMs: number, endMs: number): number | null {
  const lo = lowerByLastT(points, startMs);
  const hi = lowerByLastT(points, endMs + 1);
  if (hi <= lo) return null;
  switch (func) {
    case 'min_over_time': {
      let m = Infinity;
      for (let i = lo; i < hi; i++) m = Math.min(m, (points[i] as RollupPoint).min);
      return m;
    }
    case 'max_over_time': {
      let m = -Infinity;
      for (let i = lo; i < hi; i++) m = Math.max(m, (points[i] as RollupPoint).max);
      return m;
    }
    case 'sum_over_time':
    case 'count_over_time':
    case 'avg_over_time': {
      let sum = 0;
      let count = 0;
      for (let i = lo; i < hi; i++) {
        sum += (points[i] as RollupPoint).sum;
        count += (points[i] as RollupPoint).count;
      }
      return func === 'sum_over_time' ? sum : func === 'count_over_time' ? count : sum / count;
    }
    case 'last_over_time':
      return (points[hi - 1] as RollupPoint).last;
    case 'rate':
    case 'increase': {
      const ts = new Float64Array(hi - lo);
      const vs = new Float64Array(hi - lo);
      for (let i = lo; i < hi; i++) {
        ts[i - lo] = (points[i] as RollupPoint).lastT;
        vs[i - lo] = (points[i] as RollupPoint).last;
      }
      return extrapolatedRate({ ts, vs, lo: 0, hi: hi - lo, rangeStartMs: startMs, rangeEndMs: endMs, rangeMs: endMs - startMs, stepTimeMs: endMs }, true, func === 'rate');
    }
    default:
      throw new RangeError(`rollupRangeValue: ${func} is not answered from rollups`);
  }
}

/** rollupInstantValue is a plain selector's value at t from rollups: the last of the latest window whose lastT is in [t - lookbackMs, t], or null. */
export function rollupInstantValue(points: readonly RollupPoint[], t: number, lookbackMs: number): number | null {
  const i = lowerByLastT(points, t + 1) - 1;
  if (i < 0) return null;
  const p = points[i] as RollupPoint;
  return p.lastT >= t - lookbackMs ? p.last : null;
}
