/**
 * series-columns.ts — a range query whose answer is per series, answered
 * as series directly, one column per series, instead of a vector of samples
 * per step regrouped into series by label key (evaluate.ts stepsToSeries):
 *
 * - a plain selector (`m`): each series' column is found with one index
 *   that only moves forward (the reference times of a grid do not go back),
 *   not a binary search a step (evaluate.ts selectorSteps);
 * - a range function over a range selector (`rate(m[5m])`): range-columns.ts
 *   scanRange's columns, compacted (functions.ts applyRange spread them into
 *   per-step samples);
 * - either of them shipped to the shards (pushdown.ts): the shards' series
 *   are the answer once checked on the grid, instead of being spread into
 *   per-step vectors (pushdown.ts seriesToSteps) and regrouped.
 *
 * The answers are exactly the per-step path's: the same sample (or RangeFn
 * value) at each step, the same budget charges, the same errors; series
 * whose labels are equal are merged as stepsToSeries merges them (a range
 * function's series that differ only by `__name__` and answer different
 * steps). Where the per-step path would do something unusual — a selector
 * matching two series with equal labels, a shard series with two points on
 * a step or with equal labels to another — the per-step path runs on what
 * was already read, so nothing is read twice.
 *
 * Owner: one evaluation; nothing outlives it.
 */

import type { AggregateNode, CallNode, Expr, VectorSelectorNode } from './ast.js';
import { unwrapParens } from './ast.js';
import type { EvalCtx, Grid, RawSeries } from './eval-types.js';
import { checkAbort, executionError, isStaleMarker, stepTime, upperBound } from './eval-types.js';
import { evalArgs, readSelector, selectorSteps, stepsToSeries } from './evaluate.js';
import { checkUnique, labelsKey } from './labels.js';
import { foldPartialColumns, isPerSeries, isPushableAggregate, seriesToSteps, ship, shipGrid, stepIndex } from './pushdown.js';
import { foldGridColumns, gridToSeries } from './grid-partials.js';
import { aggregateStep } from './aggregations.js';
import { ColumnAggregateOps } from './aggregate-columns.js';
import type { RangeColumn } from './range-columns.js';
import { matrixArgIndex, rangeOutputLabels, scanRange } from './range-columns.js';
import { tryRollupCall } from './rollup-read.js';
import type { FloatSeries, PromLabels } from './source.js';
import { PromqlLimits } from '../../limits.js';
import { assert } from '../../errors.js';

/**
 * perSeriesColumns answers a range query's top-level expression as series
 * when it is per series (see the top of this file), or null for the
 * per-step path. `pushing` says the engine ships per-series expressions to
 * the shards.
 */
export async function perSeriesColumns(expr: Expr, grid: Grid, ctx: EvalCtx): Promise<FloatSeries[] | null> {
  const top = unwrapParens(expr);
  const pushing = ctx.pushdown && ctx.source.shardEval !== undefined;
  if (pushing) return isPerSeries(top) ? shippedSeries(await ship(top, grid, ctx), grid) : null;
  if (top.type === 'vectorSelector') return selectorSeries(top, grid, ctx);
  if (top.type === 'call' && ctx.rangeFunctions.has(top.func)) return rangeCallSeries(top, grid, ctx);
  return null;
}

/** SeriesOut collects columns into series: a column whose key no other column has is compacted at once, the others merged per key first. */
class SeriesOut {
  readonly #grid: Grid;
  readonly #repeated: ReadonlySet<string>;
  readonly #out: FloatSeries[] = [];
  readonly #merged = new Map<string, { labels: PromLabels; values: Float64Array; present: Uint8Array }>();

  /** keys are the keys of every column that may come (repeats found here). */
  constructor(grid: Grid, keys: readonly string[]) {
    this.#grid = grid;
    const seen = new Set<string>();
    const repeated = new Set<string>();
    for (const k of keys) {
      if (seen.has(k)) repeated.add(k);
      seen.add(k);
    }
    this.#repeated = repeated;
  }

  add(c: Pick<RangeColumn, 'labels' | 'key' | 'values' | 'present' | 'count'>): void {
    if (c.count === 0) return;
    if (!this.#repeated.has(c.key)) {
      this.#out.push(compact(c.labels, c.values, c.present, c.count, this.#grid));
      return;
    }
    let m = this.#merged.get(c.key);
    if (m === undefined) this.#merged.set(c.key, (m = { labels: c.labels, values: new Float64Array(this.#grid.n), present: new Uint8Array(this.#grid.n) }));
    for (let i = 0; i < this.#grid.n; i++) {
      if (c.present[i] === 0) continue;
      // scanRange refuses two columns of one key on one step before any answer is used; keep the first as the per-step path would list it.
      if (m.present[i] === 1) continue;
      m.present[i] = 1;
      m.values[i] = c.values[i] as number;
    }
  }

  series(): FloatSeries[] {
    for (const m of this.#merged.values()) {
      let count = 0;
      for (let i = 0; i < this.#grid.n; i++) count += m.present[i] as number;
      if (count > 0) this.#out.push(compact(m.labels, m.values, m.present, count, this.#grid));
    }
    return this.#out;
  }
}

/** compact is a column's present steps as a series at the grid's step times. */
function compact(labels: PromLabels, values: Float64Array, present: Uint8Array, count: number, grid: Grid): FloatSeries {
  const ts = new Float64Array(count);
  const vs = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < grid.n; i++) {
    if (present[i] === 0) continue;
    ts[j] = stepTime(grid, i);
    vs[j] = values[i] as number;
    j++;
  }
  assert(j === count, 'a column holds count present steps');
  return { labels, timestampsMs: ts, values: vs };
}

/** selectorSeries is a plain selector's answer as series (evaluate.ts selectorSteps, one forward-moving index per series). */
async function selectorSeries(sel: VectorSelectorNode, grid: Grid, ctx: EvalCtx): Promise<FloatSeries[]> {
  const read = await readSelector(sel, grid, ctx);
  const keys = read.series.map((s) => labelsKey(s.labels));
  if (new Set(keys).size !== keys.length) return stepsToSeries(selectorSteps(read, grid, ctx), grid);
  const { series, refs } = read;
  const values = new Float64Array(grid.n);
  const present = new Uint8Array(grid.n);
  const out = new SeriesOut(grid, keys);
  let held = 0;
  for (let k = 0; k < series.length; k++) {
    if (k % PromqlLimits.abortCheckEvery === 0) checkAbort(ctx.signal);
    const s = series[k] as RawSeries;
    const ts = s.timestampsMs;
    const len = ts.length;
    present.fill(0);
    let count = 0;
    // hi is upperBound(ts, ref): it only moves forward while the reference times do.
    let hi = 0;
    let prevRef = -Infinity;
    for (let i = 0; i < grid.n; i++) {
      const ref = refs[i] as number;
      if (ref < prevRef) hi = upperBound(ts, ref);
      else while (hi < len && (ts[hi] as number) <= ref) hi++;
      prevRef = ref;
      const j = hi - 1;
      if (j < 0) continue;
      if ((ts[j] as number) < ref - ctx.lookbackMs || isStaleMarker(s.values, j)) continue;
      values[i] = s.values[j] as number;
      present[i] = 1;
      count++;
    }
    held += count;
    out.add({ labels: s.labels, key: keys[k] as string, values, present, count });
  }
  ctx.budget.add(held);
  return out.series();
}

/** rangeCallSeries is a range function's answer as series (scanRange's columns); from rollups, where chooseRollup allows, through the per-step path. */
async function rangeCallSeries(e: CallNode, grid: Grid, ctx: EvalCtx): Promise<FloatSeries[]> {
  const rf = ctx.rangeFunctions.get(e.func);
  assert(rf !== undefined, 'rangeCallSeries evaluates a range function');
  const rolled = await tryRollupCall(e, grid, ctx);
  if (rolled !== null) {
    if (rolled.type !== 'vector') throw executionError('a rollup plan answered no vector');
    return stepsToSeries(rolled.steps, grid);
  }
  const vals = await evalArgs(e, grid, ctx);
  const m = vals[matrixArgIndex(e)];
  if (m === undefined || m.type !== 'matrix') throw executionError('expected a range vector argument');
  const out = new SeriesOut(grid, rangeOutputLabels(e, m).map(labelsKey));
  scanRange(e, rf, vals, grid, ctx, (c) => out.add(c));
  return out.series();
}

/**
 * shippedSeries is the shards' answer to a per-series expression as the
 * engine's series: each series as it came, its points moved to the grid's
 * step times, when every series has its own labels and at most one point a
 * step, in time order; else what seriesToSteps, checkUnique and
 * stepsToSeries make of them (the per-step path).
 */
export function shippedSeries(series: readonly FloatSeries[], grid: Grid): FloatSeries[] {
  // As seriesToSteps: every point is placed on the grid (an error for one off it) before any other check.
  const steps: Int32Array[] = series.map((s) => {
    const idx = new Int32Array(s.timestampsMs.length);
    for (let j = 0; j < idx.length; j++) idx[j] = stepIndex(s.timestampsMs[j] as number, grid);
    return idx;
  });
  let usual = new Set(series.map((s) => labelsKey(s.labels))).size === series.length;
  for (let k = 0; usual && k < steps.length; k++) {
    const idx = steps[k] as Int32Array;
    for (let j = 1; j < idx.length; j++) if (!((idx[j] as number) > (idx[j - 1] as number))) usual = false;
  }
  if (!usual) {
    const vecs = seriesToSteps(series, grid);
    for (const vec of vecs) checkUnique(vec);
    return stepsToSeries(vecs, grid);
  }
  const out: FloatSeries[] = [];
  for (let k = 0; k < series.length; k++) {
    const s = series[k] as FloatSeries;
    const idx = steps[k] as Int32Array;
    if (idx.length === 0) continue;
    let onGrid = true;
    for (let j = 0; j < idx.length && onGrid; j++) onGrid = s.timestampsMs[j] === stepTime(grid, idx[j] as number);
    const timestampsMs = onGrid ? s.timestampsMs : Float64Array.from(idx, (i) => stepTime(grid, i));
    out.push({ labels: s.labels, timestampsMs, values: s.values });
  }
  return out;
}

/**
 * tryPushdownSeries answers a range query's top-level pushable aggregation
 * (not avg, no parameter, its combining op one GroupColumns computes) as
 * series straight from the combining columns — what tryPushdown's per-step
 * vectors regrouped by stepsToSeries answer, without a sample per group ×
 * step — or null for tryPushdown (nothing shipped then). The partials come
 * on the step grid (shipGrid, grid-partials.ts) when the source offers it
 * and EvalCtx.gridPartials allows, else as series. When the partials do not
 * fold (foldPartials' null) the per-step combine runs on them as series.
 */
export async function tryPushdownSeries(e: Expr, grid: Grid, ctx: EvalCtx): Promise<FloatSeries[] | null> {
  if (ctx.source.shardEval === undefined || e.type === 'paren' || !isPushableAggregate(e)) return null;
  const combine: AggregateNode = { ...e, op: ctx.combineOp(e.op) };
  if (e.op === 'avg' || e.param !== null || !ColumnAggregateOps.has(combine.op)) return null;
  let partial: readonly FloatSeries[];
  if (ctx.gridPartials && ctx.source.shardEvalGrid !== undefined) {
    const answer = await shipGrid(e, grid, ctx);
    if ('series' in answer) partial = answer.series;
    else {
      const groups = foldGridColumns(combine, answer.grids, grid, ctx);
      if (groups !== null) return groups.series(grid, null);
      partial = answer.grids.flatMap((g) => gridToSeries(g, grid));
    }
  } else partial = await ship(e, grid, ctx);
  const groups = foldPartialColumns(combine, partial, grid, ctx);
  if (groups !== null) return groups.series(grid, null);
  return stepsToSeries(seriesToSteps(partial, grid).map((vec) => aggregateStep(combine, null, vec)), grid);
}
