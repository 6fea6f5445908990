/**
 * rollup-read.ts — the engine's side of rollups: where chooseRollup
 * (rollup-eval.ts) allows, a range function over a range selector, or a
 * plain selector, reads one point per 5m/1h window (SelectRequest.rollup)
 * instead of raw samples, and the function runs over those points.
 *
 * A window's point sits at its lastT, so the raw evaluator's windowing by
 * timestamp in [start, end] is rollup-eval.ts's windowing by lastT, and each
 * rollup function is a raw function over one aggregate's points
 * (ROLLUP_PLANS; equal to rollupRangeValue, which rollup-read.test.ts checks):
 *
 *   min_over_time   min_over_time  of the windows' min
 *   max_over_time   max_over_time  of max
 *   sum_over_time   sum_over_time  of sum
 *   count_over_time sum_over_time  of count
 *   avg_over_time   sum_over_time of sum ÷ sum_over_time of count (two reads)
 *   last_over_time  last_over_time of last
 *   rate, increase  rate, increase of last
 *   a selector      the selector over last (lookback as for raw samples)
 *
 * Pure of I/O beyond the injected source.
 */
import type { CallNode, Expr, VectorSelectorNode } from './ast.js';
import { unwrapParens } from './ast.js';
import type { EvalCtx, Grid, MatrixVal, RawSeries, Val } from './eval-types.js';
import { checkAbort, dropStaleMarkers, executionError, stepTime } from './eval-types.js';
import { applyCall } from './functions.js';
import type { Sample } from './labels.js';
import { sampleKey } from './labels.js';
import type { RollupChoice } from './rollup-eval.js';
import { chooseRollup } from './rollup-eval.js';
import type { RollupAggregate, SelectRollup } from './source.js';
import { PromqlLimits } from '../../limits.js';

/** RollupPlan is how a function is answered from rollups: the raw function over one aggregate's points (avg: sum over sum ÷ sum over count). */
export interface RollupPlan {
  readonly aggregate: RollupAggregate;
  readonly func: string;
}

/** ROLLUP_PLANS maps each function rollups answer (rollup-eval.ts ROLLUP_FUNCTIONS, but the selector) to its plan; avg_over_time is two plans divided. */
export const ROLLUP_PLANS: ReadonlyMap<string, readonly RollupPlan[]> = new Map<string, readonly RollupPlan[]>([
  ['min_over_time', [{ aggregate: 'min', func: 'min_over_time' }]],
  ['max_over_time', [{ aggregate: 'max', func: 'max_over_time' }]],
  ['sum_over_time', [{ aggregate: 'sum', func: 'sum_over_time' }]],
  ['count_over_time', [{ aggregate: 'count', func: 'sum_over_time' }]],
  ['avg_over_time', [{ aggregate: 'sum', func: 'sum_over_time' }, { aggregate: 'count', func: 'sum_over_time' }]],
  ['last_over_time', [{ aggregate: 'last', func: 'last_over_time' }]],
  ['rate', [{ aggregate: 'last', func: 'rate' }]],
  ['increase', [{ aggregate: 'last', func: 'increase' }]],
]);

/** rollupOf is the rollup request for a choice, or undefined for raw. */
export function rollupOf(choice: RollupChoice, aggregate: RollupAggregate): SelectRollup | undefined {
  return choice === 'raw' ? undefined : { resolution: choice, aggregate };
}

/** selectorRollup is what a plain selector reads at this grid: its latest window's last, or raw (undefined). */
export function selectorRollup(grid: Grid, ctx: EvalCtx): SelectRollup | undefined {
  return rollupOf(chooseRollup('', ctx.lookbackMs, grid.stepMs, ctx.maxSourceResolution), 'last');
}

async function readMatrix(sel: VectorSelectorNode, rangeMs: number, grid: Grid, ctx: EvalCtx, rollup: SelectRollup): Promise<MatrixVal> {
  const ends = new Float64Array(grid.n);
  const starts = new Float64Array(grid.n);
  for (let i = 0; i < grid.n; i++) {
    const base = sel.at !== null && sel.at.kind === 'time' ? sel.at.timeMs : stepTime(grid, i);
    ends[i] = base - sel.offsetMs;
    starts[i] = (ends[i] as number) - rangeMs;
  }
  const startMs = Math.min(starts[0] as number, starts[grid.n - 1] as number);
  const endMs = Math.max(ends[0] as number, ends[grid.n - 1] as number);
  const read = await ctx.source.select({ matchers: sel.matchers, startMs, endMs, stepMs: grid.stepMs, rollup }, ctx.signal);
  checkAbort(ctx.signal);
  if (read.length > PromqlLimits.seriesMax) throw executionError(`a selector matched more than ${PromqlLimits.seriesMax} series`);
  let total = 0;
  for (const s of read) total += s.values.length;
  ctx.budget.add(total);
  const series: RawSeries[] = read.map(dropStaleMarkers);
  return { type: 'matrix', series, rangeMs, windowStartMs: starts, windowEndMs: ends };
}

/**
 * tryRollupCall answers a call from rollups when chooseRollup allows (one
 * argument, a range selector, a function of ROLLUP_PLANS), or null for the
 * caller to evaluate it over raw samples.
 */
export async function tryRollupCall(e: CallNode, grid: Grid, ctx: EvalCtx): Promise<Val | null> {
  const plans = ROLLUP_PLANS.get(e.func);
  if (plans === undefined || e.args.length !== 1) return null;
  const arg: Expr = unwrapParens(e.args[0] as Expr);
  if (arg.type !== 'matrixSelector') return null;
  const choice = chooseRollup(e.func, arg.rangeMs, grid.stepMs, ctx.maxSourceResolution);
  if (choice === 'raw') return null;
  const outs: Val[] = [];
  for (const p of plans) {
    const m = await readMatrix(arg.selector, arg.rangeMs, grid, ctx, { resolution: choice, aggregate: p.aggregate });
    outs.push(applyCall({ ...e, func: p.func }, [m], grid, ctx));
  }
  const [first, second] = outs;
  if (first === undefined || first.type !== 'vector') throw executionError('a rollup plan answered no vector');
  if (second === undefined) return first;
  if (second.type !== 'vector') throw executionError('a rollup plan answered no vector');
  const steps: Sample[][] = first.steps.map((sums, i) => {
    const counts = new Map((second.steps[i] ?? []).map((s) => [sampleKey(s), s.value]));
    return sums.map((s) => ({ labels: s.labels, value: s.value / (counts.get(sampleKey(s)) ?? NaN) }));
  });
  return { type: 'vector', steps };
}
