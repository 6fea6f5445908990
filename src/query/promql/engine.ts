/**
 * engine.ts — the PromqlEngine the API routes call, and evaluateShard, the
 * shard side of a pushed-down subexpression. Both parse, resolve `@ start()`
 * / `@ end()`, evaluate over the step grid and shape the answer as
 * Prometheus's API types it (a range query always answers a matrix, sorted
 * by labels).
 */

import { OtlpdbError, assert } from '../../errors.js';
import type { AggregateOp, Expr } from './ast.js';
import type { EvalCtx, Grid, Val } from './eval-types.js';
import { Budget, checkAbort, makeGrid, stepTime } from './eval-types.js';
import { evalExpr, foldColumnAggregate, resolveAt, stepsToSeries, windowBounds } from './evaluate.js';
import { unwrapParens } from './ast.js';
import { GroupColumns } from './aggregate-columns.js';
import { perSeriesColumns, tryPushdownSeries } from './series-columns.js';
import { compareLabels } from './labels.js';
import { parsePromql } from './parser.js';
import { exprType } from './typecheck.js';
import { combineOp } from './pushdown.js';
import type { RangeFn } from './range-functions.js';
import { RangeFunctions } from './range-functions.js';
import type { EvalRange, EvalScratch, FloatSeries, GridEvalResult, PromqlEngine, PromqlOptions, PromResult, SeriesSource } from './source.js';
import { typeName } from './function-types.js';
import type { MaxSourceResolution } from './rollup-eval.js';

/** EngineOptions choose an engine variant: pushdown on or off, and (for planted-bug tests only) swapped internals. */
export interface EngineOptions {
  /** pushdown lets the engine use source.shardEval when the source offers it (default true). */
  readonly pushdown?: boolean;
  /** samplesMax overrides the per-query sample bound (tests). */
  readonly samplesMax?: number;
  /** rangeFunctions overrides range-function implementations (planted-bug tests). */
  readonly rangeFunctions?: ReadonlyMap<string, RangeFn>;
  /** combineOp overrides how shard partials merge (planted-bug tests). */
  readonly combineOp?: (op: AggregateOp) => AggregateOp;
  /** perSeriesColumns (default true) answers per-series range queries as columns (series-columns.ts); false runs the per-step path (tests compare both, bench/promql-eval times both). */
  readonly perSeriesColumns?: boolean;
  /** gridPartials (default true) takes a top-level pushed aggregation's partials on the step grid (source.shardEvalGrid, grid-partials.ts); false ships them as series (the A/B of the compact form). */
  readonly gridPartials?: boolean;
}

function checkRange(range: EvalRange): void {
  const ok = Number.isSafeInteger(range.startMs) && Number.isSafeInteger(range.endMs) && Number.isSafeInteger(range.stepMs) && range.stepMs >= 0 && range.endMs >= range.startMs;
  if (!ok) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'the evaluation range needs integer milliseconds, end >= start and step >= 0', { promErrorType: 'bad_data' });
  if (range.stepMs === 0 && range.endMs !== range.startMs) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'zero or negative query resolution step widths are not accepted', { promErrorType: 'bad_data' });
}

function makeCtx(source: SeriesSource, lookbackMs: number, signal: AbortSignal, o: EngineOptions, pushdown: boolean, maxSourceResolution: MaxSourceResolution, scratch?: EvalScratch): EvalCtx {
  return {
    ...(scratch === undefined ? {} : { scratch }),
    maxSourceResolution,
    source,
    lookbackMs,
    signal,
    budget: new Budget(o.samplesMax),
    pushdown,
    rangeFunctions: o.rangeFunctions ?? RangeFunctions,
    combineOp: o.combineOp ?? combineOp,
    gridPartials: o.gridPartials ?? true,
  };
}

/** sortSeries orders series by labels, as Prometheus sorts a matrix. */
function sortSeries<T extends { readonly labels: FloatSeries['labels'] }>(xs: T[]): T[] {
  return xs.sort((a, b) => compareLabels(a.labels, b.labels));
}

function toResult(v: Val, grid: Grid, instant: boolean): PromResult {
  if (v.type === 'string') return { kind: 'string', timestampMs: grid.startMs, value: v.value };
  if (v.type === 'scalar') {
    if (instant) return { kind: 'scalar', timestampMs: grid.startMs, value: v.values[0] as number };
    const ts = Float64Array.from({ length: grid.n }, (_, i) => stepTime(grid, i));
    return { kind: 'matrix', series: [{ labels: [], timestampsMs: ts, values: Float64Array.from(v.values) }] };
  }
  if (v.type === 'matrix') {
    const series: FloatSeries[] = [];
    for (const s of v.series) {
      const [lo, hi] = windowBounds(v, s, 0);
      if (hi > lo) series.push({ labels: s.labels, timestampsMs: s.timestampsMs.slice(lo, hi), values: s.values.slice(lo, hi) });
    }
    return { kind: 'matrix', series: sortSeries(series) };
  }
  if (instant) return { kind: 'vector', samples: (v.steps[0] ?? []).map((s) => ({ labels: s.labels, timestampMs: grid.startMs, value: s.value })) };
  return { kind: 'matrix', series: sortSeries(stepsToSeries(v.steps, grid)) };
}

/**
 * columnAnswer answers a top-level aggregation computed as columns
 * (evaluate.ts foldColumnAggregate) as its GroupColumns; pushed to the
 * shards, the combining columns' series (series-columns.ts
 * tryPushdownSeries), without a sample per group × step; and a per-series
 * expression — a selector, a range function — as series
 * (series-columns.ts); null for anything else (evalExpr decides then).
 */
async function columnAnswer(expr: Expr, grid: Grid, ctx: EvalCtx, perSeries: boolean): Promise<GroupColumns | FloatSeries[] | null> {
  const top = unwrapParens(expr);
  if (top.type !== 'aggregate') return perSeries ? perSeriesColumns(top, grid, ctx) : null;
  if (ctx.pushdown && ctx.source.shardEval !== undefined) return perSeries ? tryPushdownSeries(top, grid, ctx) : null;
  const folded = await foldColumnAggregate(top, grid, ctx);
  if (folded instanceof GroupColumns) return folded;
  return folded === null ? null : stepsToSeries(folded.steps, grid);
}

/** columnSeries is columnAnswer with the groups' columns as series, one per group. */
async function columnSeries(expr: Expr, grid: Grid, ctx: EvalCtx, perSeries: boolean): Promise<FloatSeries[] | null> {
  const a = await columnAnswer(expr, grid, ctx, perSeries);
  return a instanceof GroupColumns ? a.series(grid, ctx.budget) : a;
}

/** prepare parses a query (through `parse`, a tenant's cached parser, when given), resolves start()/end(), and checks its type against the range. */
function prepare(text: string, range: EvalRange, parse: (text: string) => Expr = parsePromql): { expr: Expr; grid: Grid } {
  checkRange(range);
  const parsed = parse(text);
  const t = exprType(parsed);
  if (range.stepMs > 0 && t !== 'scalar' && t !== 'vector') {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `invalid expression type "${typeName(t)}" for range query, must be Scalar or instant Vector`, { promErrorType: 'bad_data' });
  }
  return { expr: resolveAt(parsed, range.startMs, range.endMs), grid: makeGrid(range.startMs, range.endMs, range.stepMs) };
}

/** createPromqlEngine builds an engine variant (see EngineOptions); promqlEngine is the default one. */
export function createPromqlEngine(o: EngineOptions = {}): PromqlEngine {
  return {
    async evaluate(text, range, source, opts) {
      const r = await run(text, range, source, opts, false);
      assert(r.kind !== 'grid', 'evaluate answers no grid');
      return r;
    },
    evaluateGrid(text, range, source, opts) {
      return run(text, range, source, opts, true);
    },
  };

  /** run is evaluate, answering a top-level aggregation's columns on the grid when asGrid (evaluateGrid). */
  async function run(text: string, range: EvalRange, source: SeriesSource, opts: PromqlOptions, asGrid: boolean): Promise<GridEvalResult> {
    checkAbort(opts.signal);
    const { expr, grid } = prepare(text, range, source.parse);
    const ctx = makeCtx(source, opts.lookbackMs, opts.signal, o, (o.pushdown ?? true) && source.shardEval !== undefined, opts.maxSourceResolution ?? 'auto', opts.scratch);
    if (range.stepMs > 0) {
      const a = await columnAnswer(expr, grid, ctx, o.perSeriesColumns ?? true);
      if (a instanceof GroupColumns) return asGrid ? { kind: 'grid', grid: a.grid(ctx.budget) } : { kind: 'matrix', series: sortSeries(a.series(grid, ctx.budget)) };
      if (a !== null) return { kind: 'matrix', series: sortSeries(a) };
    }
    const v = await evalExpr(expr, grid, ctx);
    return toResult(v, grid, range.stepMs === 0);
  }
}

/** promqlEngine is the engine the API routes call (pushdown on whenever the source offers shardEval). */
export const promqlEngine: PromqlEngine = createPromqlEngine();

/**
 * evaluateShard evaluates a pushed-down subexpression over one shard's local
 * source: the shard handler's half of SeriesSource.shardEval. It answers a
 * matrix (one point per series per step; an instant evaluation gives one
 * point per series), sorted by labels, and never pushes further.
 */
export async function evaluateShard(
  text: string,
  range: EvalRange,
  lookbackMs: number,
  localSource: SeriesSource,
  signal: AbortSignal,
  o: EngineOptions = {},
  maxSourceResolution: MaxSourceResolution = 'auto',
): Promise<FloatSeries[]> {
  checkAbort(signal);
  const { expr, grid } = prepare(text, range, localSource.parse);
  const ctx = makeCtx(localSource, lookbackMs, signal, o, false, maxSourceResolution);
  const columns = await columnSeries(expr, grid, ctx, o.perSeriesColumns ?? true);
  if (columns !== null) return sortSeries(columns);
  const v = await evalExpr(expr, grid, ctx);
  if (v.type === 'vector') return sortSeries(stepsToSeries(v.steps, grid));
  if (v.type === 'scalar') return [{ labels: [], timestampsMs: Float64Array.from({ length: grid.n }, (_, i) => stepTime(grid, i)), values: Float64Array.from(v.values) }];
  throw new OtlpdbError('ERR_INVALID_ARGUMENT', `a shard evaluates instant vectors or scalars, not ${v.type}`, { promErrorType: 'bad_data' });
}
