/**
 * rate-scan.ts — rate, increase, delta, irate and idelta over every step of
 * a grid for one series in one pass: two cursors (the window's first and
 * one-past-last sample) and two drop cursors (range-columns.ts's list of
 * counter drops) only move forward as the windows slide, and each step's
 * value is computed in line — no RangeFn call, no Window object, no scalar
 * arguments — where range-columns.ts scanRange calls the function once a
 * step.
 *
 * The arithmetic is range-functions.ts extrapolatedRate's and instantValue's
 * operation for operation (Prometheus 2.42's extrapolatedRate: the change
 * over the window plus, for a counter, the value before each drop in window
 * order; the extrapolation to the window's edges, the 1.1 × average-interval
 * threshold, the clamp at the counter's zero), so a step answers the same
 * bits. The extrapolation's factor is computed once for the windows that
 * share its inputs (extrapolation-factor.ts FactorMemo: a regular series
 * on a grid pays its divisions once, not once a step); a window whose
 * counter clamp at zero moves its start goes through extrapolate itself.
 * Windows are inclusive at both ends, as scanRange's are. Staleness
 * markers are gone before this runs (evaluate.ts evalMatrix).
 *
 * Per sample only the counter-drop test remains: a cursor moving forward
 * first tries its last advance (a regular series on a grid advances by the
 * same count window after window) and keeps it when the two samples around
 * it prove it (times sorted, as lowerBound needs them), else walks sample by
 * sample as before; and a counter's clamp test, one division a window, is
 * skipped where clamp-bound.ts proves it false without one. The drop test
 * itself is skipped for a series the store's decoder proved finite and
 * non-decreasing (RateSeries.nonDecreasing, storage/codec/value-facts.ts):
 * it has no drop to find.
 *
 * The answer goes to a column (values + present, present written at every
 * step) or, folding a `sum` straight into its group's row (aggregate-columns
 * GroupColumns.sumRow), to that row: the first series answering a step
 * starts it, the next ones add — GroupColumns.add's sum, without a column
 * in between.
 *
 * Owner: the caller's scratch arrays; nothing outlives a call.
 */

import type { RangeFn } from './range-functions.js';
import { RangeFunctions, extrapolate } from './range-functions.js';
import { lowerBound, upperBound } from './eval-types.js';
import { FactorMemo } from './extrapolation-factor.js';
import { clampCannotMove } from './clamp-bound.js';
import { assert } from '../../errors.js';

/** RateKind names the range functions rate-scan.ts computes in line. */
export type RateKind = 'rate' | 'increase' | 'delta' | 'irate' | 'idelta';

const kinds: readonly RateKind[] = ['rate', 'increase', 'delta', 'irate', 'idelta'];

/**
 * rateKindOf is the kind to compute in line when `rf` is RangeFunctions'
 * own function of that name (a swapped implementation — a planted-bug
 * test's — runs through scanRange's call per step), else null.
 */
export function rateKindOf(rf: RangeFn): RateKind | null {
  for (const k of kinds) if (RangeFunctions.get(k) === rf) return k;
  return null;
}

/** RateSeries is one series' samples (staleness markers removed). */
export interface RateSeries {
  readonly ts: Float64Array;
  readonly vs: Float64Array;
  /** nonDecreasing, when true, says vs holds no NaN or ±Inf and no vs[j] < vs[j − 1] (the store's decoder proved it: storage/codec/value-facts.ts): a counter has no drop to look for. */
  readonly nonDecreasing?: boolean;
}

/**
 * DropList is a scan's scratch list of a series' counter drops: the j with
 * vs[j] < vs[j - 1] (the comparison extrapolatedRate's reset scan makes),
 * increasing, in at[0 .. n). A counter drops a few times a day, so it stays
 * short; it grows by doubling and is reused series after series.
 */
export class DropList {
  at = new Int32Array(16);
  n = 0;

  push(j: number): void {
    if (this.n === this.at.length) {
      const grown = new Int32Array(2 * this.at.length);
      grown.set(this.at);
      this.at = grown;
    }
    this.at[this.n++] = j;
  }
}

/** RateWindows are a grid's inclusive windows, one per step, and their width. */
export interface RateWindows {
  readonly startMs: Float64Array;
  readonly endMs: Float64Array;
  readonly rangeMs: number;
}

/**
 * RateOut is where a scan writes: `values` and `present` (a column, one
 * entry a step) when `firstK` is null; else a sum row — `values` is the
 * group's running sums, `firstK` its first series per step (-1: none yet),
 * `k` this series' index.
 */
export interface RateOut {
  readonly values: Float64Array;
  readonly present: Uint8Array | null;
  readonly firstK: Int32Array | null;
  readonly k: number;
}

/**
 * scanRate computes `kind` over every window for one series into `out` and
 * answers how many steps have a value. A counter's drops are found as the
 * window's end passes each sample (into `dropList`), not in a pass of
 * their own.
 */
export function scanRate(kind: RateKind, s: RateSeries, w: RateWindows, out: RateOut, dropList: DropList, memo: FactorMemo = new FactorMemo()): number {
  const n = w.startMs.length;
  assert(w.endMs.length === n && out.values.length === n, 'one window and one output entry per step');
  assert((out.present === null) !== (out.firstK === null), 'a column or a sum row');
  const { ts, vs } = s;
  const len = ts.length;
  const starts = w.startMs;
  const ends = w.endMs;
  const { values, present, firstK, k } = out;
  const isCounter = kind === 'rate' || kind === 'increase';
  const noDrops = s.nonDecreasing === true;
  const isRate = kind === 'rate' || kind === 'irate';
  const instant = kind === 'irate' || kind === 'idelta';
  const rangeSec = w.rangeMs / 1000;
  let count = 0;
  let lo = 0;
  let hi = 0;
  dropList.n = 0;
  memo.reset();
  // Every j in [1, scanned) with vs[j] < vs[j - 1] is in dropList (scanned only grows, also when a window moves back).
  let scanned = 1;
  // dLo and dHi index the first drop past lo and the first at or past hi: the window's drops are at[dLo .. dHi).
  let dLo = 0;
  let dHi = 0;
  let prevStart = -Infinity;
  let prevEnd = -Infinity;
  // loStep and hiStep are the cursors' last forward advances; prevLo and prevHi their last positions.
  let loStep = 0;
  let hiStep = 0;
  let prevLo = 0;
  let prevHi = 0;
  for (let i = 0; i < n; i++) {
    const ws = starts[i] as number;
    const we = ends[i] as number;
    // The windows of a grid slide forward; a window that moves back (never seen in practice) is searched afresh.
    // A forward move first tries the cursor's last advance (a regular series on a grid repeats it): two compares, not one a sample.
    if (ws < prevStart) {
      lo = lowerBound(ts, ws);
      dLo = 0;
    } else {
      const g = lo + loStep;
      if (g < len && (ts[g] as number) >= ws && (g === lo || (ts[g - 1] as number) < ws)) lo = g;
      else while (lo < len && (ts[lo] as number) < ws) lo++;
    }
    if (we < prevEnd) {
      hi = upperBound(ts, we);
      dHi = 0;
    } else {
      const g = hi + hiStep;
      if (g < len && (ts[g] as number) > we && (g === hi || (ts[g - 1] as number) <= we)) hi = g;
      else while (hi < len && (ts[hi] as number) <= we) hi++;
    }
    loStep = lo > prevLo ? lo - prevLo : 0;
    hiStep = hi > prevHi ? hi - prevHi : 0;
    prevLo = lo;
    prevHi = hi;
    if (isCounter && !noDrops) {
      for (; scanned < hi; scanned++) if ((vs[scanned] as number) < (vs[scanned - 1] as number)) dropList.push(scanned);
    }
    prevStart = ws;
    prevEnd = we;
    const m = hi - lo;
    if (m < 2) {
      if (present !== null) present[i] = 0;
      continue;
    }
    let v: number;
    if (instant) {
      // range-functions.ts instantValue: the last two samples.
      const lastT = ts[hi - 1] as number;
      const last = vs[hi - 1] as number;
      const prev = vs[hi - 2] as number;
      const sampledMs = lastT - (ts[hi - 2] as number);
      if (sampledMs === 0) {
        if (present !== null) present[i] = 0;
        continue;
      }
      v = isRate && last < prev ? last : last - prev;
      if (isRate) v /= sampledMs / 1000;
    } else {
      // range-functions.ts extrapolatedRate.
      const firstT = ts[lo] as number;
      const lastT = ts[hi - 1] as number;
      const firstV = vs[lo] as number;
      let result = (vs[hi - 1] as number) - firstV;
      const drops = dropList.n;
      if (isCounter && drops > 0) {
        const dropAt = dropList.at;
        while (dLo < drops && (dropAt[dLo] as number) <= lo) dLo++;
        while (dHi < drops && (dropAt[dHi] as number) < hi) dHi++;
        // The value before each drop, in window order: the additions extrapolatedRate's scan makes, in its order.
        for (let d = dLo; d < dHi; d++) result += vs[(dropAt[d] as number) - 1] as number;
      }
      const startGapMs = firstT - ws;
      const endGapMs = we - lastT;
      const sampledMs = lastT - firstT;
      if (startGapMs !== memo.startGapMs || endGapMs !== memo.endGapMs || sampledMs !== memo.sampledMs || m !== memo.n) memo.fill(startGapMs, endGapMs, sampledMs, m, isRate, rangeSec);
      // extrapolate's clamp at zero, tested as it tests it: when it moves the start, the factor is not the memo's.
      // clampCannotMove (clamp-bound.ts) proves most windows' clamp test false without its division.
      if (isCounter && result > 0 && firstV >= 0 && !clampCannotMove(firstV, result, memo.clampRatio) && memo.sampledIntervalSec * (firstV / result) < memo.durationToStartSec) {
        v = extrapolate(result, firstT, lastT, firstV, m, ws, we, isCounter, isRate, rangeSec);
      } else v = result * memo.factor;
    }
    count++;
    if (firstK === null) {
      values[i] = v;
      (present as Uint8Array)[i] = 1;
    } else if (firstK[i] === -1) {
      firstK[i] = k;
      values[i] = v;
    } else values[i] = (values[i] as number) + v;
  }
  return count;
}
