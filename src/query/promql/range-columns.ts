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
import { VALUES_COUNTER_SAFE } from '../../storage/codec/value-facts.js';
import { OtlpdbError, assert } from '../../errors.js';
import { dropMetricName, labelsKey } from './labels.js';
import type { RangeFn, Window } from './range-functions.js';
import type { PromLabels } from './source.js';
import { PromqlLimits } from '../../limits.js';
import type { RateOut } from './rate-scan.js';
import { DropList, rateKindOf, scanRate } from './rate-scan.js';
import { FactorMemo } from './extrapolation-factor.js';

/** SumSink is where scanRange may fold a `sum` straight into its group's row (aggregate-columns.ts GroupColumns.sumRow) instead of visiting a column. */
export interface SumSink {
  /** sumRow is the running sums and first series per step of the group of a series with these labels, or null when the aggregation is not a sum. */
  sumRow(labels: PromLabels): { readonly value: Float64Array; readonly firstK: Int32Array } | null;
}

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

/** markTaken notes a column's present steps as taken by its key and says whether one was taken already. */
function markTaken(steps: Uint8Array, present: Uint8Array, n: number): boolean {
  let duplicate = false;
  for (let i = 0; i < n; i++) {
    if (present[i] === 0) continue;
    if (steps[i] === 1) duplicate = true;
    steps[i] = 1;
  }
  return duplicate;
}

function duplicateLabelsetError(): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', 'vector cannot contain metrics with the same labelset', { promErrorType: 'execution' });
}

/**
 * scanRange evaluates range function `rf` of call `e` (its evaluated
 * arguments `vals`) over every step of `grid`, handing each series' column
 * to `visit` in series order; it charges the budget with the samples the
 * columns hold and answers their number. RangeFunctions' rate, increase,
 * delta, irate and idelta run in one pass a series (rate-scan.ts); with a
 * `sink` whose sumRow answers, a series whose output labels no other series
 * has is folded into its group's row there and not visited.
 */
export function scanRange(e: CallNode, rf: RangeFn, vals: readonly Val[], grid: Grid, ctx: EvalCtx, visit: (c: RangeColumn) => void, sink?: SumSink): number {
  const mi = matrixArgIndex(e);
  const m = vals[mi] as MatrixVal;
  assert(m !== undefined && m.type === 'matrix', 'a range function has a range-vector argument');
  assert(m.windowStartMs.length === grid.n && m.windowEndMs.length === grid.n, 'a matrix has one window per step');
  const scalarVals = vals.filter((_, j) => j !== mi);
  const kind = rateKindOf(rf);
  // The scalar arguments a step (quantile_over_time's φ, …); the rate scan (kind !== null) takes none, so it builds no step's list.
  const scalars: number[][] = kind !== null ? [] : Array.from({ length: grid.n }, (_, i) => scalarVals.map((v) => (v.type === 'scalar' ? (v.values[i] as number) : NaN)));
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
  const windowStarts = m.windowStartMs;
  const windowEnds = m.windowEndMs;
  const stepTimes = new Float64Array(grid.n);
  for (let i = 0; i < grid.n; i++) stepTimes[i] = stepTime(grid, i);
  let held = 0;
  let duplicate = false;
  // dropAt[0 .. drops) are the j with vs[j] < vs[j - 1] in the current series, increasing (Window.drops: the same
  // comparison rate's reset scan makes); a counter drops a few times a day, so this list is short.
  let dropAt = new Int32Array(16);
  const windows = { startMs: windowStarts, endMs: windowEnds, rangeMs: m.rangeMs };
  const column: RateOut = { values, present, firstK: null, k: 0 };
  const dropList = new DropList();
  const memo = new FactorMemo();
  for (let k = 0; k < m.series.length; k++) {
    if (k % PromqlLimits.abortCheckEvery === 0) checkAbort(ctx.signal);
    const s = m.series[k];
    if (s === undefined) continue;
    const key = keys[k] as string;
    const steps = taken.get(key);
    if (kind !== null) {
      const row = steps === undefined && sink !== undefined ? sink.sumRow(labelsOf[k] as PromLabels) : null;
      const rs = { ts: s.timestampsMs, vs: s.values, nonDecreasing: ((s.facts ?? 0) & VALUES_COUNTER_SAFE) === VALUES_COUNTER_SAFE };
      if (row !== null) {
        held += scanRate(kind, rs, windows, { values: row.value, present: null, firstK: row.firstK, k }, dropList, memo);
        continue;
      }
      const count = scanRate(kind, rs, windows, column, dropList, memo);
      held += count;
      if (steps !== undefined) duplicate = markTaken(steps, present, grid.n) || duplicate;
      if (count > 0) visit({ k, labels: labelsOf[k] as PromLabels, key, values, present, count });
      continue;
    }
    const ts = s.timestampsMs;
    const len = ts.length;
    const vs = s.values;
    let drops = 0;
    for (let j = 1; j < len; j++) {
      if (!((vs[j] as number) < (vs[j - 1] as number))) continue;
      if (drops === dropAt.length) {
        const grown = new Int32Array(2 * dropAt.length);
        grown.set(dropAt);
        dropAt = grown;
      }
      dropAt[drops++] = j;
    }
    // dLo and dHi index the first drop past lo and the first at or past hi: the window's drops are dHi − dLo.
    let dLo = 0;
    let dHi = 0;
    const w: MutableWindow = { ts, vs, lo: 0, hi: 0, rangeStartMs: 0, rangeEndMs: 0, rangeMs: m.rangeMs, stepTimeMs: 0, drops: 0 };
    present.fill(0);
    let count = 0;
    let lo = 0;
    let hi = 0;
    let prevStart = -Infinity;
    let prevEnd = -Infinity;
    for (let i = 0; i < grid.n; i++) {
      const ws = windowStarts[i] as number;
      const we = windowEnds[i] as number;
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
      if (drops === 0) {
        w.drops = 0;
      } else {
        // lo and hi only move forward but for a window searched afresh: then the drop indexes start over.
        if (dLo > 0 && (dropAt[dLo - 1] as number) > lo) dLo = 0;
        if (dHi > 0 && (dropAt[dHi - 1] as number) >= hi) dHi = 0;
        while (dLo < drops && (dropAt[dLo] as number) <= lo) dLo++;
        while (dHi < drops && (dropAt[dHi] as number) < hi) dHi++;
        w.drops = dHi - dLo;
      }
      const v = rf(w, scalars[i] as number[]);
      if (v === null) continue;
      values[i] = v;
      present[i] = 1;
      count++;
    }
    if (steps !== undefined) duplicate = markTaken(steps, present, grid.n) || duplicate;
    held += count;
    if (count > 0) visit({ k, labels: labelsOf[k] as PromLabels, key, values, present, count });
  }
  // As the per-step evaluation did: the samples are charged, then a step holding one label set twice is refused.
  ctx.budget.add(held);
  if (duplicate) throw duplicateLabelsetError();
  return held;
}
