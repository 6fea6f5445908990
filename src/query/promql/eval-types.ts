/**
 * eval-types.ts — the values the evaluator passes between nodes, the step
 * grid it evaluates over, and the per-query context (source, lookback,
 * signal, sample budget).
 *
 * Invariant: a Val evaluated over a Grid has one entry per step of that
 * grid (scalar values, vector steps); a MatrixVal carries its windows.
 */

import type { MaxSourceResolution } from './rollup-eval.js';
import { VALUES_FINITE } from '../../storage/codec/value-facts.js';
import { isStaleMarker } from '../../storage/metrics/staleness.js';
import { OtlpdbError, assert } from '../../errors.js';
import { PromqlLimits } from '../../limits.js';
import type { AggregateOp } from './ast.js';
import type { Sample } from './labels.js';
import type { RangeFn } from './range-functions.js';
import type { EvalScratch, PromLabels, SeriesSource } from './source.js';

/** Grid is the regular set of steps a node is evaluated at: startMs + i * stepMs for i < n (stepMs 0 and n 1 for an instant). */
export interface Grid {
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  readonly n: number;
}

/** makeGrid builds a grid from a range; past PromqlLimits.stepsMax steps it is ERR_LIMIT_EXCEEDED. */
export function makeGrid(startMs: number, endMs: number, stepMs: number): Grid {
  if (stepMs === 0 || startMs === endMs) return { startMs, endMs: startMs, stepMs: 0, n: 1 };
  const n = Math.floor((endMs - startMs) / stepMs) + 1;
  if (n > PromqlLimits.stepsMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `exceeded maximum resolution of ${PromqlLimits.stepsMax} points per timeseries. Try decreasing the query resolution (?step=XX)`);
  }
  assert(n >= 1 && stepMs > 0, 'a range grid has at least one step');
  return { startMs, endMs: startMs + (n - 1) * stepMs, stepMs, n };
}

/** stepTime is the time of step i of a grid. */
export function stepTime(g: Grid, i: number): number {
  return g.startMs + i * g.stepMs;
}

/** RawSeries is one series' samples as read (or as a subquery produced them). */
export interface RawSeries {
  readonly labels: PromLabels;
  readonly timestampsMs: Float64Array;
  readonly values: Float64Array;
  /** facts, when present, is what the store's decoder proved about values (FloatSeries.facts; storage/codec/value-facts.ts). */
  readonly facts?: number;
}

/** MatrixVal is a range vector: series and, per step, the inclusive window [windowStartMs[i], windowEndMs[i]] to read. */
export interface MatrixVal {
  readonly type: 'matrix';
  readonly series: readonly RawSeries[];
  readonly rangeMs: number;
  readonly windowStartMs: Float64Array;
  readonly windowEndMs: Float64Array;
}

/** Val is what evaluating a node over a grid answers. */
export type Val =
  | { readonly type: 'scalar'; readonly values: Float64Array }
  | { readonly type: 'vector'; readonly steps: Sample[][] }
  | MatrixVal
  | { readonly type: 'string'; readonly value: string };

/** VectorVal is the vector arm of Val. */
export type VectorVal = Extract<Val, { type: 'vector' }>;

/** Budget counts the samples one query holds; past PromqlLimits.samplesMax it is ERR_LIMIT_EXCEEDED (Prometheus's query.max-samples). */
export class Budget {
  #samples = 0;
  readonly #max: number;

  constructor(max: number = PromqlLimits.samplesMax) {
    assert(max >= 1 && max <= PromqlLimits.samplesMax, 'a budget is positive and within PromqlLimits.samplesMax');
    this.#max = max;
  }

  /** add charges n samples. */
  add(n: number): void {
    assert(Number.isSafeInteger(n) && n >= 0, 'a budget charge is a count of samples');
    this.#samples += n;
    if (this.#samples > this.#max) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', 'query processing would load too many samples into memory in query execution', { samplesMax: this.#max });
    }
  }

  get samples(): number {
    return this.#samples;
  }
}

/** EvalCtx is one evaluation's settings and shared state. */
export interface EvalCtx {
  readonly source: SeriesSource;
  readonly lookbackMs: number;
  readonly signal: AbortSignal;
  readonly budget: Budget;
  /** pushdown says the engine may hand exact-per-shard subtrees to source.shardEval. */
  readonly pushdown: boolean;
  /** rangeFunctions computes the range-vector functions (RangeFunctions; a planted-bug test swaps one). */
  readonly rangeFunctions: ReadonlyMap<string, RangeFn>;
  /** combineOp names the aggregation that merges shards' partials of an op (pushdown.ts combineOp; a planted-bug test swaps it). */
  readonly combineOp: (op: AggregateOp) => AggregateOp;
  /** gridPartials lets the engine take pushed partial aggregates on the step grid (source.shardEvalGrid) when the source offers it. */
  readonly gridPartials: boolean;
  /** maxSourceResolution caps what selectors read (rollup-eval.ts chooseRollup; rollup-read.ts). */
  readonly maxSourceResolution: MaxSourceResolution;
  /** scratch lends the evaluation its working columns (PromqlOptions.scratch); absent, they are allocated. */
  readonly scratch?: EvalScratch;
}

/** checkAbort throws when the evaluation's signal aborted (the client went away or the deadline passed). */
export function checkAbort(signal: AbortSignal): void {
  if (signal.aborted) throw new OtlpdbError('ERR_UNAVAILABLE', 'the PromQL query was cancelled: its client went away or its deadline passed');
}

/** executionError is a runtime PromQL error (Prometheus's errorType "execution"). */
export function executionError(message: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', message, { promErrorType: 'execution' });
}

// lowerBound and upperBound: one binary search for the store's columns and the evaluator's (store-head.ts).
export { lowerBound, upperBound } from '../../storage/metrics/store-head.js';

// STALE_NAN and isStaleMarker: the store writes the marker for OTLP points flagged no-recorded-value (staleness.ts).
export { STALE_NAN, isStaleMarker } from '../../storage/metrics/staleness.js';

/**
 * mayHoldNaN is false when `values` holds no NaN (and no infinity): the sum
 * of every value times zero is NaN exactly when one of them is NaN or ±Inf,
 * with no branch a sample (about a third of a compare-and-branch loop's
 * time). True asks the caller to look sample by sample.
 */
export function mayHoldNaN(values: Float64Array): boolean {
  const n = values.length;
  let z = 0;
  let j = 0;
  for (; j + 4 <= n; j += 4) z += (values[j] as number) * 0 + (values[j + 1] as number) * 0 + (values[j + 2] as number) * 0 + (values[j + 3] as number) * 0;
  for (; j < n; j++) z += (values[j] as number) * 0;
  return z !== z;
}

/**
 * dropStaleMarkers removes staleness markers from a series, as Prometheus
 * drops them from range windows (the same series when it holds none). A
 * series whose decoder proved it finite (VALUES_FINITE) holds none and is
 * not looked at.
 */
export function dropStaleMarkers(s: RawSeries): RawSeries {
  if (((s.facts ?? 0) & VALUES_FINITE) !== 0) return s;
  const values = s.values;
  // Most series hold no NaN at all: a branch-free pass tells (mayHoldNaN), the marker's bits are read only when it finds a NaN or an infinity.
  if (!mayHoldNaN(values)) return s;
  let any = false;
  for (let j = 0; j < values.length && !any; j++) {
    const v = values[j] as number;
    if (v !== v) any = isStaleMarker(values, j);
  }
  if (!any) return s;
  const ts: number[] = [];
  const vs: number[] = [];
  for (let j = 0; j < s.values.length; j++) {
    if (isStaleMarker(s.values, j)) continue;
    ts.push(s.timestampsMs[j] as number);
    vs.push(s.values[j] as number);
  }
  return { labels: s.labels, timestampsMs: Float64Array.from(ts), values: Float64Array.from(vs) };
}
