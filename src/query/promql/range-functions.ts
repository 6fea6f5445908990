/**
 * range-functions.ts — the functions over a range vector window (rate and
 * its family, *_over_time, deriv, predict_linear, resets, changes), as
 * Prometheus 2.42's promql/functions.go computes them; `rate`/`increase`/
 * `delta` extrapolate as its extrapolatedRate does.
 */

import { quantile } from './aggregations.js';
import { extrapolationFactor } from './extrapolation-factor.js';

/** Window is one series' samples inside one step's window: indexes [lo, hi) of ts/vs, and the window's bounds. */
export interface Window {
  readonly ts: Float64Array;
  readonly vs: Float64Array;
  readonly lo: number;
  readonly hi: number;
  readonly rangeStartMs: number;
  readonly rangeEndMs: number;
  readonly rangeMs: number;
  /** stepMs is the evaluation time of the step (predict_linear's intercept). */
  readonly stepTimeMs: number;
  /**
   * drops, when known, counts the indexes j in (lo, hi) with vs[j] < vs[j - 1]
   * (a counter reset there): 0 lets rate skip its reset scan, which would add
   * nothing (range-columns.ts keeps it; absent, the scan runs).
   */
  readonly drops?: number;
}

/** RangeFn computes one output value from a window and the step's scalar arguments, or null for no output. */
export type RangeFn = (w: Window, scalars: readonly number[]) => number | null;

/** extrapolatedRate is Prometheus's rate/increase/delta: the change over the window, extrapolated to its edges. */
export function extrapolatedRate(w: Window, isCounter: boolean, isRate: boolean): number | null {
  const n = w.hi - w.lo;
  if (n < 2) return null;
  const firstT = w.ts[w.lo] as number;
  const lastT = w.ts[w.hi - 1] as number;
  const firstV = w.vs[w.lo] as number;
  let result = (w.vs[w.hi - 1] as number) - firstV;
  if (isCounter && w.drops !== 0) {
    let prev = firstV;
    for (let i = w.lo + 1; i < w.hi; i++) {
      const cur = w.vs[i] as number;
      if (cur < prev) result += prev;
      prev = cur;
    }
  }
  return extrapolate(result, firstT, lastT, firstV, n, w.rangeStartMs, w.rangeEndMs, isCounter, isRate, w.rangeMs / 1000);
}

/**
 * extrapolate is extrapolatedRate's last part, shared with rate-scan.ts's
 * one-pass loop so both make the same operations in the same order:
 * `result` (the change over the window's n samples, resets added) is
 * extrapolated to the window's edges [startMs, endMs], by at most half an
 * average interval beyond the first and last sample (a counter never below
 * zero), then divided by `rangeSec` for a rate.
 */
export function extrapolate(result: number, firstT: number, lastT: number, firstV: number, n: number, startMs: number, endMs: number, isCounter: boolean, isRate: boolean, rangeSec: number): number {
  let durationToStart = (firstT - startMs) / 1000;
  const durationToEnd = (endMs - lastT) / 1000;
  const sampledInterval = (lastT - firstT) / 1000;
  if (isCounter && result > 0 && firstV >= 0) {
    const durationToZero = sampledInterval * (firstV / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  return result * extrapolationFactor(durationToStart, durationToEnd, sampledInterval, n, isRate, rangeSec);
}

function instantValue(w: Window, isRate: boolean): number | null {
  if (w.hi - w.lo < 2) return null;
  const lastT = w.ts[w.hi - 1] as number;
  const prevT = w.ts[w.hi - 2] as number;
  const last = w.vs[w.hi - 1] as number;
  const prev = w.vs[w.hi - 2] as number;
  let result = isRate && last < prev ? last : last - prev;
  const sampledInterval = lastT - prevT;
  if (sampledInterval === 0) return null;
  if (isRate) result /= sampledInterval / 1000;
  return result;
}

function kahanInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  let nc = c;
  if (Math.abs(sum) >= Math.abs(inc)) nc += (sum - t) + inc;
  else nc += (inc - t) + sum;
  return [t, nc];
}

/** linearRegression is Prometheus's least-squares fit over a window, x in seconds from interceptTimeMs: [slope, intercept]. */
export function linearRegression(w: Window, interceptTimeMs: number): [number, number] {
  let n = 0;
  let sumX = 0, cX = 0, sumY = 0, cY = 0, sumXY = 0, cXY = 0, sumX2 = 0, cX2 = 0;
  const initY = w.vs[w.lo] as number;
  let constY = true;
  for (let i = w.lo; i < w.hi; i++) {
    const v = w.vs[i] as number;
    if (constY && i > w.lo && v !== initY) constY = false;
    n += 1;
    const x = ((w.ts[i] as number) - interceptTimeMs) / 1e3;
    [sumX, cX] = kahanInc(x, sumX, cX);
    [sumY, cY] = kahanInc(v, sumY, cY);
    [sumXY, cXY] = kahanInc(x * v, sumXY, cXY);
    [sumX2, cX2] = kahanInc(x * x, sumX2, cX2);
  }
  if (constY) {
    if (!Number.isFinite(initY) && !Number.isNaN(initY)) return [NaN, NaN];
    return [0, initY];
  }
  sumX += cX;
  sumY += cY;
  sumXY += cXY;
  sumX2 += cX2;
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  const intercept = sumY / n - (slope * sumX) / n;
  return [slope, intercept];
}

function values(w: Window): number[] {
  return Array.from(w.vs.subarray(w.lo, w.hi));
}

function overTime(f: (vs: Float64Array) => number): RangeFn {
  return (w) => (w.hi - w.lo === 0 ? null : f(w.vs.subarray(w.lo, w.hi)));
}

/** RangeFunctions maps each range-vector function name to its computation. */
export const RangeFunctions: ReadonlyMap<string, RangeFn> = new Map<string, RangeFn>([
  ['rate', (w) => extrapolatedRate(w, true, true)],
  ['increase', (w) => extrapolatedRate(w, true, false)],
  ['delta', (w) => extrapolatedRate(w, false, false)],
  ['irate', (w) => instantValue(w, true)],
  ['idelta', (w) => instantValue(w, false)],
  ['deriv', (w) => (w.hi - w.lo < 2 ? null : linearRegression(w, w.ts[w.lo] as number)[0])],
  ['predict_linear', (w, s) => {
    if (w.hi - w.lo < 2) return null;
    const [slope, intercept] = linearRegression(w, w.stepTimeMs);
    return slope * (s[0] ?? 0) + intercept;
  }],
  ['resets', overTime((vs) => {
    let n = 0;
    for (let i = 1; i < vs.length; i++) if ((vs[i] as number) < (vs[i - 1] as number)) n++;
    return n;
  })],
  ['changes', overTime((vs) => {
    let n = 0;
    for (let i = 1; i < vs.length; i++) {
      const cur = vs[i] as number;
      const prev = vs[i - 1] as number;
      if (cur !== prev && !(Number.isNaN(cur) && Number.isNaN(prev))) n++;
    }
    return n;
  })],
  ['avg_over_time', overTime((vs) => {
    let mean = 0;
    let c = 0;
    let count = 0;
    for (const v of vs) {
      count++;
      if (!Number.isFinite(mean) && !Number.isNaN(mean)) {
        if (!Number.isFinite(v) && !Number.isNaN(v) && (mean > 0) === (v > 0)) continue;
        if (Number.isFinite(v)) continue;
      }
      [mean, c] = kahanInc(v / count - mean / count, mean, c);
    }
    return !Number.isFinite(mean) && !Number.isNaN(mean) ? mean : mean + c;
  })],
  ['min_over_time', overTime((vs) => {
    let m = vs[0] as number;
    for (const v of vs) if (v < m || Number.isNaN(m)) m = v;
    return m;
  })],
  ['max_over_time', overTime((vs) => {
    let m = vs[0] as number;
    for (const v of vs) if (v > m || Number.isNaN(m)) m = v;
    return m;
  })],
  ['sum_over_time', overTime((vs) => {
    let sum = 0;
    let c = 0;
    for (const v of vs) [sum, c] = kahanInc(v, sum, c);
    return !Number.isFinite(sum) && !Number.isNaN(sum) ? sum : sum + c;
  })],
  ['count_over_time', overTime((vs) => vs.length)],
  ['last_over_time', overTime((vs) => vs[vs.length - 1] as number)],
  ['present_over_time', overTime(() => 1)],
  ['stdvar_over_time', overTime((vs) => welford(vs))],
  ['stddev_over_time', overTime((vs) => Math.sqrt(welford(vs)))],
  ['quantile_over_time', (w, s) => (w.hi - w.lo === 0 ? null : quantile(s[0] ?? NaN, values(w)))],
]);

function welford(vs: Float64Array): number {
  let count = 0, mean = 0, cMean = 0, aux = 0, cAux = 0;
  for (const v of vs) {
    count++;
    const delta = v - (mean + cMean);
    [mean, cMean] = kahanInc(delta / count, mean, cMean);
    [aux, cAux] = kahanInc(delta * (v - (mean + cMean)), aux, cAux);
  }
  return (aux + cAux) / count;
}
