/**
 * evaluate.ts — the PromQL evaluator's core: selectors with lookback,
 * `offset` and `@`, range selectors, subqueries, and the dispatch of calls,
 * aggregations and binary operators over a step grid, with Prometheus
 * 2.42's semantics (windows inclusive at both ends, subquery steps aligned
 * to multiples of their step, `@ start()`/`@ end()` resolved to the query's
 * range before evaluation).
 *
 * A node is evaluated once over the whole grid (as Prometheus's rangeEval
 * does), so a selector reads its source once per query.
 */

import type { AggregateNode, AtModifier, CallNode, Expr, SubqueryNode, VectorSelectorNode } from './ast.js';
import { unwrapParens } from './ast.js';
import type { GroupCache } from './aggregations.js';
import { aggregateStep } from './aggregations.js';
import { evalBinary } from './binary.js';
import type { EvalCtx, Grid, MatrixVal, RawSeries, Val, VectorVal } from './eval-types.js';
import { checkAbort, dropStaleMarkers, executionError, isStaleMarker, lowerBound, makeGrid, stepTime, upperBound } from './eval-types.js';
import { applyCall } from './functions.js';
import type { Sample } from './labels.js';
import { checkUnique, dropMetricName, sampleKey } from './labels.js';
import { isPerSeries, tryPushdown } from './pushdown.js';
import { matrixArgIndex, rangeOutputLabels, scanRange } from './range-columns.js';
import { ColumnAggregateOps, GroupColumns, countGroups } from './aggregate-columns.js';
import { selectorRollup, tryRollupCall } from './rollup-read.js';
import type { SelectRollup } from './source.js';
import { PromqlLimits } from '../../limits.js';

/** SubqueryStepMsDefault is a subquery's step when the text gives none: Prometheus's default evaluation_interval (1m). */
export const SubqueryStepMsDefault = 60_000;

/** resolveAt replaces `@ start()`/`@ end()` by the query's start and end, as Prometheus's preprocessing does (shards then see fixed times). */
export function resolveAt(e: Expr, startMs: number, endMs: number): Expr {
  const fix = (at: AtModifier | null): AtModifier | null =>
    at === null || at.kind === 'time' ? at : { kind: 'time', timeMs: at.kind === 'start' ? startMs : endMs };
  const r = (x: Expr): Expr => resolveAt(x, startMs, endMs);
  switch (e.type) {
    case 'vectorSelector': return { ...e, at: fix(e.at) };
    case 'matrixSelector': return { ...e, selector: { ...e.selector, at: fix(e.selector.at) } };
    case 'subquery': return { ...e, expr: r(e.expr), at: fix(e.at) };
    case 'number': case 'string': return e;
    case 'paren': return { ...e, expr: r(e.expr) };
    case 'unary': return { ...e, expr: r(e.expr) };
    case 'binary': return { ...e, lhs: r(e.lhs), rhs: r(e.rhs) };
    case 'aggregate': return { ...e, expr: r(e.expr), param: e.param === null ? null : r(e.param) };
    case 'call': return { ...e, args: e.args.map(r) };
  }
}

/** refTimeMs is the time a selector or subquery reads at for eval time t: its `@` time (or t), minus its offset. */
function refTimeMs(at: AtModifier | null, offsetMs: number, t: number): number {
  const base = at !== null && at.kind === 'time' ? at.timeMs : t;
  return base - offsetMs;
}

/** evalExpr evaluates an expression over a grid. */
export async function evalExpr(e: Expr, grid: Grid, ctx: EvalCtx, allowPush = true): Promise<Val> {
  checkAbort(ctx.signal);
  if (allowPush && ctx.pushdown) {
    const pushed = await tryPushdown(e, grid, ctx);
    if (pushed !== null) return pushed;
  }
  switch (e.type) {
    case 'number': return { type: 'scalar', values: new Float64Array(grid.n).fill(e.value) };
    case 'string': return { type: 'string', value: e.value };
    case 'paren': return evalExpr(e.expr, grid, ctx, allowPush);
    case 'vectorSelector': return evalVectorSelector(e, grid, ctx);
    case 'matrixSelector': case 'subquery': return evalMatrix(e, grid, ctx);
    case 'unary': {
      const v = await evalExpr(e.expr, grid, ctx);
      if (e.op === '+') return v;
      if (v.type === 'scalar') return { type: 'scalar', values: v.values.map((x) => -x) };
      if (v.type !== 'vector') throw executionError('unary minus needs a scalar or an instant vector');
      const steps = v.steps.map((s) => s.map((x) => ({ labels: dropMetricName(x.labels), value: -x.value })));
      for (const s of steps) checkUnique(s);
      return { type: 'vector', steps };
    }
    case 'binary': {
      const lhs = await evalExpr(e.lhs, grid, ctx);
      const rhs = await evalExpr(e.rhs, grid, ctx);
      return evalBinary(e, lhs, rhs, grid, ctx);
    }
    case 'aggregate': {
      const columns = await tryColumnAggregate(e, grid, ctx);
      if (columns !== null) return columns;
      const param = e.param === null ? null : await evalExpr(e.param, grid, ctx);
      const v = await evalExpr(e.expr, grid, ctx);
      return aggregateSteps(e, param, v, grid, ctx);
    }
    case 'call': {
      const rolled = await tryRollupCall(e, grid, ctx);
      if (rolled !== null) return rolled;
      return applyCall(e, await evalArgs(e, grid, ctx), grid, ctx);
    }
  }
}

/** evalArgs evaluates a call's arguments (range vectors through evalMatrix). */
export async function evalArgs(e: CallNode, grid: Grid, ctx: EvalCtx): Promise<Val[]> {
  const vals: Val[] = [];
  for (const a of e.args) {
    const u = unwrapParens(a);
    if (u.type === 'matrixSelector' || u.type === 'subquery') vals.push(await evalMatrix(u, grid, ctx));
    else vals.push(await evalExpr(a, grid, ctx, e.func !== 'timestamp'));
  }
  return vals;
}

/** aggregateSteps applies an aggregation step by step to its evaluated argument (aggregations.ts aggregateStep). */
function aggregateSteps(e: AggregateNode, param: Val | null, v: Val, grid: Grid, ctx: EvalCtx): VectorVal {
  if (v.type !== 'vector') throw executionError('aggregation over a non-vector');
  const steps: Sample[][] = [];
  const groupCache: GroupCache = new WeakMap();
  for (let i = 0; i < grid.n; i++) {
    if (i % PromqlLimits.abortCheckEvery === 0) checkAbort(ctx.signal);
    let p: number | string | null = null;
    if (param !== null) p = param.type === 'string' ? param.value : param.type === 'scalar' ? (param.values[i] as number) : NaN;
    const out = aggregateStep(e, p, v.steps[i] ?? [], groupCache);
    ctx.budget.add(out.length);
    steps.push(out);
  }
  return { type: 'vector', steps };
}

/**
 * tryColumnAggregate evaluates an aggregation of a range function
 * (`sum by (app) (rate(m[5m]))`) as columns (range-columns.ts,
 * aggregate-columns.ts), or answers null for the per-step path: an op
 * GroupColumns does not compute, or a call the shards evaluate (pushdown).
 * Past PromqlLimits.groupStepCellsMax groups × steps it aggregates step by step.
 */
async function tryColumnAggregate(e: AggregateNode, grid: Grid, ctx: EvalCtx): Promise<VectorVal | null> {
  const r = await foldColumnAggregate(e, grid, ctx);
  return r instanceof GroupColumns ? { type: 'vector', steps: r.steps(ctx.budget) } : r;
}

/** foldColumnAggregate is tryColumnAggregate answering its groups' columns themselves when it computed them (a shard ships them as series). */
export async function foldColumnAggregate(e: AggregateNode, grid: Grid, ctx: EvalCtx): Promise<GroupColumns | VectorVal | null> {
  if (e.param !== null || !ColumnAggregateOps.has(e.op)) return null;
  const inner = unwrapParens(e.expr);
  if (inner.type !== 'call') return null;
  const rf = ctx.rangeFunctions.get(inner.func);
  if (rf === undefined) return null;
  if (ctx.pushdown && ctx.source.shardEval !== undefined && isPerSeries(inner)) return null;
  checkAbort(ctx.signal);
  const rolled = await tryRollupCall(inner, grid, ctx);
  if (rolled !== null) return aggregateSteps(e, null, rolled, grid, ctx);
  const vals = await evalArgs(inner, grid, ctx);
  const m = vals[matrixArgIndex(inner)];
  if (m === undefined || m.type !== 'matrix') throw executionError('expected a range vector argument');
  if (countGroups(e, rangeOutputLabels(inner, m)) * grid.n > PromqlLimits.groupStepCellsMax) return aggregateSteps(e, null, applyCall(inner, vals, grid, ctx), grid, ctx);
  const groups = new GroupColumns(e, grid.n, ctx.scratch ?? null);
  scanRange(inner, rf, vals, grid, ctx, (c) => groups.add(c), groups);
  return groups;
}

/** selectSeries reads every series a selector matches in [startMs, endMs] from the source, charging the budget. */
async function selectSeries(sel: VectorSelectorNode, startMs: number, endMs: number, grid: Grid, ctx: EvalCtx, rollup?: SelectRollup): Promise<readonly RawSeries[]> {
  const req = { matchers: sel.matchers, startMs, endMs, stepMs: grid.stepMs };
  const series = await ctx.source.select(rollup === undefined ? req : { ...req, rollup }, ctx.signal);
  checkAbort(ctx.signal);
  if (series.length > PromqlLimits.seriesMax) throw executionError(`a selector matched more than ${PromqlLimits.seriesMax} series`);
  let total = 0;
  for (const s of series) total += s.values.length;
  ctx.budget.add(total);
  return series;
}

/** SelectorRead is what a plain selector read over a grid: its series and, per step, the time it reads at. */
export interface SelectorRead {
  readonly series: readonly RawSeries[];
  readonly refs: Float64Array;
}

/** readSelector reads the series of a plain selector over a grid (from rollups, each window's last at its lastT, where chooseRollup allows), charging the budget. */
export async function readSelector(sel: VectorSelectorNode, grid: Grid, ctx: EvalCtx): Promise<SelectorRead> {
  const refs = new Float64Array(grid.n);
  for (let i = 0; i < grid.n; i++) refs[i] = refTimeMs(sel.at, sel.offsetMs, stepTime(grid, i));
  const minRef = Math.min(refs[0] as number, refs[grid.n - 1] as number);
  const maxRef = Math.max(refs[0] as number, refs[grid.n - 1] as number);
  const series = await selectSeries(sel, minRef - ctx.lookbackMs, maxRef, grid, ctx, selectorRollup(grid, ctx));
  return { series, refs };
}

/** selectorSteps answers, per step, each series' latest sample within the lookback before the step's reference time (inclusive), charging the budget. */
export function selectorSteps(read: SelectorRead, grid: Grid, ctx: EvalCtx): Sample[][] {
  const { series, refs } = read;
  const steps: Sample[][] = Array.from({ length: grid.n }, () => []);
  let held = 0;
  for (let k = 0; k < series.length; k++) {
    if (k % PromqlLimits.abortCheckEvery === 0) checkAbort(ctx.signal);
    const s = series[k] as RawSeries;
    for (let i = 0; i < grid.n; i++) {
      const ref = refs[i] as number;
      const j = upperBound(s.timestampsMs, ref) - 1;
      if (j < 0) continue;
      const t = s.timestampsMs[j] as number;
      if (t < ref - ctx.lookbackMs || isStaleMarker(s.values, j)) continue;
      (steps[i] as Sample[]).push({ labels: s.labels, value: s.values[j] as number, sampleTimeMs: t });
      held++;
    }
  }
  ctx.budget.add(held);
  return steps;
}

/** evalVectorSelector answers, per step, each series' latest sample within the lookback before the step's reference time (readSelector, selectorSteps). */
export async function evalVectorSelector(sel: VectorSelectorNode, grid: Grid, ctx: EvalCtx): Promise<VectorVal> {
  return { type: 'vector', steps: selectorSteps(await readSelector(sel, grid, ctx), grid, ctx) };
}

/** evalMatrix evaluates a range selector or a subquery into series and per-step windows. */
export async function evalMatrix(e: Expr, grid: Grid, ctx: EvalCtx): Promise<MatrixVal> {
  const u = unwrapParens(e);
  if (u.type === 'matrixSelector') {
    const sel = u.selector;
    const ends = new Float64Array(grid.n);
    const starts = new Float64Array(grid.n);
    for (let i = 0; i < grid.n; i++) {
      ends[i] = refTimeMs(sel.at, sel.offsetMs, stepTime(grid, i));
      starts[i] = (ends[i] as number) - u.rangeMs;
    }
    const read = await selectSeries(sel, Math.min(starts[0] as number, starts[grid.n - 1] as number), Math.max(ends[0] as number, ends[grid.n - 1] as number), grid, ctx);
    const series = read.map(dropStaleMarkers);
    return { type: 'matrix', series, rangeMs: u.rangeMs, windowStartMs: starts, windowEndMs: ends };
  }
  if (u.type === 'subquery') return evalSubquery(u, grid, ctx);
  throw executionError(`expected a range vector, got ${u.type}`);
}

/** evalSubquery evaluates the inner expression at the multiples of its step covering every outer window, then windows it like a range selector. */
async function evalSubquery(sq: SubqueryNode, grid: Grid, ctx: EvalCtx): Promise<MatrixVal> {
  const stepMs = sq.stepMs === 0 ? SubqueryStepMsDefault : sq.stepMs;
  const ends = new Float64Array(grid.n);
  const starts = new Float64Array(grid.n);
  for (let i = 0; i < grid.n; i++) {
    ends[i] = refTimeMs(sq.at, sq.offsetMs, stepTime(grid, i));
    starts[i] = (ends[i] as number) - sq.rangeMs;
  }
  const lo = Math.min(starts[0] as number, starts[grid.n - 1] as number);
  const hi = Math.max(ends[0] as number, ends[grid.n - 1] as number);
  let innerStart = Math.trunc(lo / stepMs) * stepMs;
  if (innerStart < lo) innerStart += stepMs;
  if (innerStart > hi) return { type: 'matrix', series: [], rangeMs: sq.rangeMs, windowStartMs: starts, windowEndMs: ends };
  const inner = makeGrid(innerStart, hi, stepMs);
  const innerGrid: Grid = inner.n === 1 ? { startMs: innerStart, endMs: innerStart, stepMs, n: 1 } : inner;
  const v = await evalExpr(sq.expr, innerGrid, ctx);
  if (v.type !== 'vector') throw executionError('subquery is only allowed on instant vector');
  return { type: 'matrix', series: stepsToSeries(v.steps, innerGrid), rangeMs: sq.rangeMs, windowStartMs: starts, windowEndMs: ends };
}

/** stepsToSeries regroups per-step vectors into series (one per label set, in order of first appearance). */
export function stepsToSeries(steps: readonly (readonly Sample[])[], grid: Grid): RawSeries[] {
  const byKey = new Map<string, { labels: Sample['labels']; ts: number[]; vs: number[] }>();
  steps.forEach((vec, i) => {
    const t = stepTime(grid, i);
    for (const s of vec) {
      const k = sampleKey(s);
      let acc = byKey.get(k);
      if (acc === undefined) {
        acc = { labels: s.labels, ts: [], vs: [] };
        byKey.set(k, acc);
      }
      acc.ts.push(t);
      acc.vs.push(s.value);
    }
  });
  return [...byKey.values()].map((a) => ({ labels: a.labels, timestampsMs: Float64Array.from(a.ts), values: Float64Array.from(a.vs) }));
}

/** windowBounds is the [lo, hi) index range of a series' samples inside step i's window of a matrix. */
export function windowBounds(m: MatrixVal, s: RawSeries, i: number): [number, number] {
  return [lowerBound(s.timestampsMs, m.windowStartMs[i] as number), upperBound(s.timestampsMs, m.windowEndMs[i] as number)];
}
