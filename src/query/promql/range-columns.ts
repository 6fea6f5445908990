/**
 * range-columns.ts — a range-vector function (rate, *_over_time, ...)
 * evaluated over every step of a grid one series at a time, as columns: the
 * window of step i+1 is found from step i's by two indexes that only move
 * forward (the windows of a grid slide forward), not by two binary searches
 * a step, and the function reads one reused window object, so a series ×
 * step costs no allocation. What a step answers is exactly what
 * functions.ts's per-step evaluation answered: the same window bounds
 * (inclusive at both ends), the same RangeFn on the same samples.
 *
 * The answer is handed to a visitor series by series in one scratch column
 * (values + presence), reused for the next series: functions.ts spreads it
 * into per-step vectors, aggregate-columns.ts folds it into its groups'
 * columns without building a sample per series × step.
 *
 * Invariant: a visited column holds, for each step i with present[i] = 1,
 * the function's value at step i; steps with present[i] = 0 have no output.
 * Two series whose output labels are equal never both answer one step
 * (Prometheus's "vector cannot contain metrics with the same labelset").
 */

import type { CallNode } from './ast.js';
import { unwrapParens } from './ast.js';
import type { EvalCtx, Grid, MatrixVal, Val } from './eval-types.js';
import { checkAbort, lowerBound, stepTime, upperBound } from './eval-types.js';
import { OtlpdbError, assert } from '../../errors.js';
import { dropMetricName, labelsKey } from './labels.js';
import type { RangeFn, Window } from './range-functions.js';
import type { PromLabels } from './source.js';
import { PromqlLimits } from '../../limits.js';

/** RangeColumn is one series' answer over a grid, lent to a visitor: valid only until the visitor returns. */
export interface RangeColumn {
  /** k is the series' index in the matrix (the order Prometheus sees the series in). */
  readonly k: number;
  /** labels are the output labels (the series' labels without `__name__`, but for last_over_time). */
  readonly labels: PromLabels;
  /** key is labelsKey(labels). */
  readonly key: string;
  readonly values: Float64Array;
  readonly present: Uint8Array;
  /** count is how many steps are present. */
  readonly count: number;
}

type MutableWindow = { -readonly [K in keyof Window]: Window[K] };

/** matrixArgIndex is the index of a range function call's range-vector argument. */
export function matrixArgIndex(e: CallNode): number {
  return e.args.findIndex((a) => { const u = unwrapParens(a); return u.type === 'matrixSelector' || u.type === 'subquery'; });
}

/** rangeOutputLabels are the labels a range function call answers for each series of its matrix (without `__name__`, but for last_over_time). */
export function rangeOutputLabels(e: CallNode, m: MatrixVal): PromLabels[] {
  const keepName = e.func === 'last_over_time';
  return m.series.map((s) => (keepName ? s.labels : dropMetricName(s.labels)));
}

function duplicateLabelsetError(): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', 'vector cannot contain metrics with the same labelset', { promErrorType: 'execution' });
}

/**
 * scanRange evaluates range function `rf` of call `e` (its evaluated
 * arguments `vals`) over every step of `grid`, handing each series' column
 * to `visit` in series order; it charges the budget with the samples the
 * columns hold and answers their number.
 */
export function scanRange(e: CallNode, rf: RangeFn, vals: readonly Val[], grid: Grid, ctx: EvalCtx, visit: (c: RangeColumn) => void): number {
  const mi = matrixArgIndex(e);
  const m = vals[mi] as MatrixVal;
  assert(m !== undefined && m.type === 'matrix', 'a range function has a range-vector argument');
  assert(m.windowStartMs.length === grid.n && m.windowEndMs.length === grid.n, 'a matrix has one window per step');
  const scalarVals = vals.filter((_, j) => j !== mi);
  const scalars: number[][] = Array.from({ length: grid.n }, (_, i) => scalarVals.map((v) => (v.type === 'scalar' ? (v.values[i] as number) : NaN)));
  const labelsOf = rangeOutputLabels(e, m);
  const keys = labelsOf.map(labelsKey);
  // Series whose output labels collide must never answer the same step: remember, per colliding key, the steps taken.
  const seen = new Set<string>();
  const taken = new Map<string, Uint8Array>();
  for (const key of keys) {
    if (seen.has(key) && !taken.has(key)) taken.set(key, new Uint8Array(grid.n));
    seen.add(key);
  }
  const values = new Float64Array(grid.n);
  const present = new Uint8Array(grid.n);
  const stepTimes = new Float64Array(grid.n);
  for (let i = 0; i < grid.n; i++) stepTimes[i] = stepTime(grid, i);
  let held = 0;
  let duplicate = false;
  // dropsBefore[x] counts the j < x with vs[j] < vs[j - 1] in the current series (Window.drops: the same comparison rate's reset scan makes).
  let dropsBefore = new Int32Array(0);
  for (let k = 0; k < m.series.length; k++) {
    if (k % PromqlLimits.abortCheckEvery === 0) checkAbort(ctx.signal);
    const s = m.series[k];
    if (s === undefined) continue;
    const ts = s.timestampsMs;
    const len = ts.length;
    const vs = s.values;
    if (dropsBefore.length < len + 1) dropsBefore = new Int32Array(Math.max(len + 1, 2 * dropsBefore.length));
    dropsBefore[0] = 0;
    if (len > 0) dropsBefore[1] = 0;
    for (let j = 1; j < len; j++) dropsBefore[j + 1] = (dropsBefore[j] as number) + ((vs[j] as number) < (vs[j - 1] as number) ? 1 : 0);
    const w: MutableWindow = { ts, vs, lo: 0, hi: 0, rangeStartMs: 0, rangeEndMs: 0, rangeMs: m.rangeMs, stepTimeMs: 0, drops: 0 };
    present.fill(0);
    let count = 0;
    let lo = 0;
    let hi = 0;
    let prevStart = -Infinity;
    let prevEnd = -Infinity;
    for (let i = 0; i < grid.n; i++) {
      const ws = m.windowStartMs[i] as number;
      const we = m.windowEndMs[i] as number;
      // The windows of a grid slide forward; a window that moves back (never seen in practice) is searched afresh.
      if (ws < prevStart) lo = lowerBound(ts, ws);
      else while (lo < len && (ts[lo] as number) < ws) lo++;
      if (we < prevEnd) hi = upperBound(ts, we);
      else while (hi < len && (ts[hi] as number) <= we) hi++;
      prevStart = ws;
      prevEnd = we;
      if (hi <= lo) continue;
      w.lo = lo;
      w.hi = hi;
      w.rangeStartMs = ws;
      w.rangeEndMs = we;
      w.stepTimeMs = stepTimes[i] as number;
      w.drops = (dropsBefore[hi] as number) - (dropsBefore[lo + 1] as number);
      const v = rf(w, scalars[i] as number[]);
      if (v === null) continue;
      values[i] = v;
      present[i] = 1;
      count++;
    }
    const key = keys[k] as string;
    const steps = taken.get(key);
    if (steps !== undefined) {
      for (let i = 0; i < grid.n; i++) {
        if (present[i] === 0) continue;
        if (steps[i] === 1) duplicate = true;
        steps[i] = 1;
      }
    }
    held += count;
    if (count > 0) visit({ k, labels: labelsOf[k] as PromLabels, key, values, present, count });
  }
  // As the per-step evaluation did: the samples are charged, then a step holding one label set twice is refused.
  ctx.budget.add(held);
  if (duplicate) throw duplicateLabelsetError();
  return held;
}
