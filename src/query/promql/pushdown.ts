/**
 * pushdown.ts — which subtrees run on the shards (SeriesSource.shardEval)
 * and how the coordinator combines the shards' answers.
 *
 * Exact per shard, because a series lives whole in one shard:
 *   - a plain instant selector (not the argument of timestamp(), which needs
 *     the stored sample's own time);
 *   - a range function (rate, *_over_time, ...; not absent_over_time) over a
 *     range selector, its other arguments number literals.
 * Exact after a combine, over such a per-series argument:
 *   - sum, min, max, group, topk, bottomk: each shard aggregates, the
 *     coordinator applies the same aggregation (same grouping) to the union;
 *   - count: the coordinator sums the shards' counts;
 *   - avg: shipped as sum and count, divided on the coordinator.
 * Everything else gathers series through `select`.
 */

import type { AggregateNode, AggregateOp, Expr } from './ast.js';
import { unwrapParens } from './ast.js';
import { aggregateStep } from './aggregations.js';
import { ColumnAggregateOps, GroupColumns, countGroups } from './aggregate-columns.js';
import type { EvalCtx, Grid, Val } from './eval-types.js';
import { checkAbort, executionError } from './eval-types.js';
import { formatPromql } from './format.js';
import type { Sample } from './labels.js';
import { checkUnique, labelsKey, sampleKey } from './labels.js';
import { RangeFunctions } from './range-functions.js';
import type { FloatSeries } from './source.js';
import type { ShardGridAnswer } from './grid-partials.js';
import { PromqlLimits } from '../../limits.js';

const mergeable: ReadonlySet<AggregateOp> = new Set<AggregateOp>(['sum', 'count', 'min', 'max', 'group', 'topk', 'bottomk', 'avg']);

/** combineOp is the aggregation that merges the shards' partial answers of op (count merges by sum). */
export function combineOp(op: AggregateOp): AggregateOp {
  return op === 'count' ? 'sum' : op;
}

/** isPerSeries says whether an expression is exact when evaluated on each shard alone and the answers united. */
export function isPerSeries(e: Expr): boolean {
  const u = unwrapParens(e);
  if (u.type === 'vectorSelector') return true;
  if (u.type !== 'call' || !RangeFunctions.has(u.func)) return false;
  return u.args.every((a) => {
    const x = unwrapParens(a);
    return x.type === 'matrixSelector' || x.type === 'number';
  }) && u.args.some((a) => unwrapParens(a).type === 'matrixSelector');
}

/** isPushableAggregate says whether an aggregation merges exactly from per-shard partial aggregates. */
export function isPushableAggregate(e: Expr): e is AggregateNode {
  const u = unwrapParens(e);
  if (u.type !== 'aggregate' || !mergeable.has(u.op)) return false;
  if (u.param !== null && unwrapParens(u.param).type !== 'number') return false;
  return isPerSeries(u.expr);
}

/** stepIndex is the grid step a shard's point at t answers (a point off the grid is a broken shard answer). */
export function stepIndex(t: number, grid: Grid): number {
  const i = grid.stepMs === 0 ? 0 : Math.round((t - grid.startMs) / grid.stepMs);
  if (!(i >= 0 && i < grid.n)) throw executionError(`a shard answered a point at ${t}, off the query's steps`);
  return i;
}

/** seriesToSteps spreads shard answers (one point per step) back onto the grid's per-step vectors. */
export function seriesToSteps(series: readonly FloatSeries[], grid: Grid): Sample[][] {
  const steps: Sample[][] = Array.from({ length: grid.n }, () => []);
  for (const s of series) {
    const key = labelsKey(s.labels);
    for (let j = 0; j < s.timestampsMs.length; j++) {
      (steps[stepIndex(s.timestampsMs[j] as number, grid)] as Sample[]).push({ labels: s.labels, value: s.values[j] as number, key });
    }
  }
  return steps;
}

/** ship evaluates e on every shard (SeriesSource.shardEval) and answers the union of their series, charging the budget. */
export async function ship(e: Expr, grid: Grid, ctx: EvalCtx): Promise<readonly FloatSeries[]> {
  const shardEval = ctx.source.shardEval;
  if (shardEval === undefined) throw executionError('the source has no shardEval');
  const series = await shardEval.call(ctx.source, { expr: formatPromql(e), range: { startMs: grid.startMs, endMs: grid.endMs, stepMs: grid.stepMs }, lookbackMs: ctx.lookbackMs, maxSourceResolution: ctx.maxSourceResolution }, ctx.signal);
  checkAbort(ctx.signal);
  let n = 0;
  for (const s of series) n += s.values.length;
  ctx.budget.add(n);
  return series;
}

/** shipGrid is ship through source.shardEvalGrid: the shards' answers on the grid (or as series when one could not), charging the budget alike. */
export async function shipGrid(e: Expr, grid: Grid, ctx: EvalCtx): Promise<ShardGridAnswer> {
  const shardEvalGrid = ctx.source.shardEvalGrid;
  if (shardEvalGrid === undefined) throw executionError('the source has no shardEvalGrid');
  const answer = await shardEvalGrid.call(ctx.source, { expr: formatPromql(e), range: { startMs: grid.startMs, endMs: grid.endMs, stepMs: grid.stepMs }, lookbackMs: ctx.lookbackMs, maxSourceResolution: ctx.maxSourceResolution }, ctx.signal);
  checkAbort(ctx.signal);
  let n = 0;
  if ('grids' in answer) for (const g of answer.grids) n += g.values.length;
  else for (const s of answer.series) n += s.values.length;
  ctx.budget.add(n);
  return answer;
}

/**
 * foldPartials folds the shards' partial series into the columns of the
 * combining aggregation (aggregate-columns.ts), in the order seriesToSteps
 * would list them at each step, so the answer is aggregateStep's; null when
 * a series has two points on one step or past PromqlLimits.groupStepCellsMax
 * groups × steps (then the per-step path decides).
 */
function foldPartials(combine: AggregateNode, series: readonly FloatSeries[], grid: Grid, ctx: EvalCtx): Sample[][] | null {
  return foldPartialColumns(combine, series, grid, ctx)?.steps(null) ?? null;
}

/** foldPartialColumns is foldPartials answering the combining aggregation's columns (null in the same cases). */
export function foldPartialColumns(combine: AggregateNode, series: readonly FloatSeries[], grid: Grid, ctx: EvalCtx): GroupColumns | null {
  if (countGroups(combine, series.map((s) => s.labels)) * grid.n > PromqlLimits.groupStepCellsMax) return null;
  const groups = new GroupColumns(combine, grid.n);
  const values = new Float64Array(grid.n);
  const present = new Uint8Array(grid.n);
  for (let k = 0; k < series.length; k++) {
    if (k % PromqlLimits.abortCheckEvery === 0) checkAbort(ctx.signal);
    const s = series[k] as FloatSeries;
    present.fill(0);
    for (let j = 0; j < s.timestampsMs.length; j++) {
      const i = stepIndex(s.timestampsMs[j] as number, grid);
      if (present[i] === 1) return null;
      present[i] = 1;
      values[i] = s.values[j] as number;
    }
    if (s.timestampsMs.length > 0) groups.add({ k, labels: s.labels, key: labelsKey(s.labels), values, present, count: s.timestampsMs.length });
  }
  return groups;
}

/** combined merges the shards' partials with the combining aggregation: as columns when GroupColumns computes it, else step by step. */
function combined(combine: AggregateNode, p: number | null, series: readonly FloatSeries[], grid: Grid, ctx: EvalCtx): Sample[][] {
  if (p === null && ColumnAggregateOps.has(combine.op)) {
    const steps = foldPartials({ ...combine, param: null }, series, grid, ctx);
    if (steps !== null) return steps;
  }
  return seriesToSteps(series, grid).map((vec) => aggregateStep(combine, p, vec));
}

/** tryPushdown evaluates e through shardEval when it is pushable, or answers null for the caller to evaluate it itself. */
export async function tryPushdown(e: Expr, grid: Grid, ctx: EvalCtx): Promise<Val | null> {
  if (ctx.source.shardEval === undefined || e.type === 'paren') return null;
  if (isPushableAggregate(e)) {
    if (e.op === 'avg') {
      const sum: AggregateNode = { ...e, op: 'sum' };
      const sums = combined(sum, null, await ship(sum, grid, ctx), grid, ctx);
      const counts = combined(sum, null, await ship({ ...e, op: 'count' }, grid, ctx), grid, ctx);
      const steps = sums.map((total, i) => {
        const count = new Map((counts[i] ?? []).map((s) => [sampleKey(s), s.value]));
        return total.map((s) => ({ labels: s.labels, value: s.value / (count.get(sampleKey(s)) ?? NaN) }));
      });
      return { type: 'vector', steps };
    }
    const param = e.param === null ? null : unwrapParens(e.param);
    const p = param !== null && param.type === 'number' ? param.value : null;
    const partial = await ship(e, grid, ctx);
    return { type: 'vector', steps: combined({ ...e, op: ctx.combineOp(e.op) }, p, partial, grid, ctx) };
  }
  if (isPerSeries(e)) {
    const steps = seriesToSteps(await ship(e, grid, ctx), grid);
    for (const vec of steps) checkUnique(vec);
    return { type: 'vector', steps };
  }
  return null;
}
