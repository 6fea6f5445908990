/**
 * source.ts — the boundary between the PromQL engine (parse, evaluate,
 * split for shards; this folder) and where series come from: an in-memory
 * set in tests, one shard replica's MetricStore on the node serving a shard
 * part, or the whole cluster on a coordinator (src/query/metrics-*.ts).
 *
 * The engine is written against SeriesSource only, so the same evaluator
 * runs on a coordinator and on a shard. Pushdown (DESIGN.md §7): a source
 * that spans shards offers `shardEval`; the engine then hands it the
 * subexpressions that are exact when evaluated per shard and combined
 * (range functions over a selector, since a series lives whole in one
 * shard; and the aggregations that merge exactly — sum, count, min, max,
 * group, topk, bottomk, avg as sum and count — combined by the same
 * aggregation over the union of the shards' answers). Everything else
 * gathers series through `select`.
 *
 * Units: times in integer milliseconds since the Unix epoch; ranges
 * inclusive at both ends, as Prometheus's selectors are.
 */
import type { MaxSourceResolution } from './rollup-eval.js';
import type { GridPartials, ShardGridAnswer } from './grid-partials.js';
import type { Expr } from './ast.js';

/** PromLabel is one label of a Prometheus series. */
export interface PromLabel {
  readonly name: string;
  readonly value: string;
}

/** PromLabels are a series' labels sorted by name, `__name__` included when the series has a name; no empty values. */
export type PromLabels = readonly PromLabel[];

/** PromMatchOp is a label matcher's operator; regexes are fully anchored RE2 syntax, as in Prometheus. */
export type PromMatchOp = '=' | '!=' | '=~' | '!~';

/** PromMatcher is one label matcher of a selector (`__name__` for the metric name). */
export interface PromMatcher {
  readonly name: string;
  readonly op: PromMatchOp;
  readonly value: string;
}

/** FloatSeries is one series' float samples: timestamps ascending and distinct, values aligned. */
export interface FloatSeries {
  readonly labels: PromLabels;
  readonly timestampsMs: Float64Array;
  readonly values: Float64Array;
  /**
   * facts, when present, is what the store's decoder proved about values
   * (storage/codec/value-facts.ts: no NaN or ±Inf, non-decreasing); absent
   * or 0 proves nothing. Only a shard's own read sets it (it does not travel
   * on the wire); whoever builds new values builds a series without it.
   */
  readonly facts?: number;
}

/** SelectRequest asks for the samples of every series the matchers select, with timestamps in [startMs, endMs]. */
export interface SelectRequest {
  readonly matchers: readonly PromMatcher[];
  readonly startMs: number;
  readonly endMs: number;
  /** stepMs is the query's step (0 for an instant query). */
  readonly stepMs: number;
  /** rollup, when present, asks for rollup points instead of raw samples (see SelectRollup); the engine sets it where chooseRollup allows. */
  readonly rollup?: SelectRollup;
}

/** RollupAggregate names the aggregate of a rollup window a select answers (storage/metrics/rollup.ts RollupPoint). */
export type RollupAggregate = 'min' | 'max' | 'sum' | 'count' | 'last';

/**
 * SelectRollup asks a source for one point per rollup window of
 * `resolution` instead of raw samples: at the window's lastT, the window's
 * `aggregate`, for every window whose start lies in
 * [floor(startMs / window) × window, endMs] (so a window's lastT may be past
 * endMs; the engine windows by lastT, rollup-eval.ts). A source answers
 * from stored rollups where it has them and rolls up raw samples itself
 * (partialsOf, pointOf) elsewhere, so both give the same points.
 */
export interface SelectRollup {
  readonly resolution: '5m' | '1h';
  readonly aggregate: RollupAggregate;
}

/** EvalRange is the steps a query is evaluated at: startMs, startMs + stepMs, ... <= endMs; an instant query has startMs = endMs and stepMs = 0. */
export interface EvalRange {
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
}

/** ShardEvalRequest is one subexpression to evaluate on every shard over the query's steps. */
export interface ShardEvalRequest {
  /** expr is PromQL text the engine parses again on the shard (it formats it from its AST); a shard's node keeps it parsed (parse-cache.ts). */
  readonly expr: string;
  readonly range: EvalRange;
  /** lookbackMs is the query's lookback delta (Prometheus's default 5 minutes). */
  readonly lookbackMs: number;
  /** maxSourceResolution is the query's `max_source_resolution` (rollup-eval.ts), applied again on the shard. */
  readonly maxSourceResolution: MaxSourceResolution;
}

/** SourceStats count what a source did for one query; the API reports them. */
export interface SourceStats {
  shardsAsked: number;
  seriesRead: number;
  samplesRead: number;
  /** samplesHeld counts the samples and points the shards answered the coordinator with (what it holds; MetricsQueryLimits.samplesMax bounds it). */
  samplesHeld: number;
  /** rollupPointsRead counts the rollup points among samplesRead (reads that chooseRollup sent to 5m/1h rollups). */
  rollupPointsRead: number;
  bytesRead: number;
  /** samplesDecoded counts the samples the shards took from storage before cutting them to the asked range (ScanStats.samplesDecoded); absent, none counted. */
  samplesDecoded?: number;
  /** partialFailures names shards that did not answer; a non-empty list makes the answer partial. */
  readonly partialFailures: { readonly shard: number; readonly code: string; readonly message: string }[];
}

/**
 * SeriesSource is where the engine reads series. `select` answers every
 * matching series once (a source merges replicas and shards), sorted by
 * labels, and refuses with ERR_LIMIT_EXCEEDED past its series or sample
 * bounds instead of growing. `shardEval`, when present, evaluates a
 * pushed-down subexpression on every shard and answers the union of the
 * shards' range results (one FloatSeries per series per shard; a series
 * may come from several shards when the expression aggregates).
 * `shardEvalGrid`, when present, is shardEval answering the shards' series
 * laid on the query's step grid (grid-partials.ts), which the engine folds
 * into its combining columns without placing each point.
 */
export interface SeriesSource {
  select(req: SelectRequest, signal: AbortSignal): Promise<readonly FloatSeries[]>;
  shardEval?(req: ShardEvalRequest, signal: AbortSignal): Promise<readonly FloatSeries[]>;
  shardEvalGrid?(req: ShardEvalRequest, signal: AbortSignal): Promise<ShardGridAnswer>;
  /**
   * parse, when present, is how the engine parses a query text evaluated
   * over this source: the node's cache scoped to the source's tenant
   * (parse-cache.ts); absent, parsePromql each time. It answers what
   * parsePromql does, frozen.
   */
  readonly parse?: (text: string) => Expr;
  readonly stats: SourceStats;
}

/** PromSample is one sample of an instant vector. */
export interface PromSample {
  readonly labels: PromLabels;
  readonly timestampMs: number;
  readonly value: number;
}

/** PromResult is what a PromQL evaluation answers, as Prometheus's API types it (a range query always answers a matrix). */
export type PromResult =
  | { readonly kind: 'vector'; readonly samples: readonly PromSample[] }
  | { readonly kind: 'matrix'; readonly series: readonly FloatSeries[] }
  | { readonly kind: 'scalar'; readonly timestampMs: number; readonly value: number }
  | { readonly kind: 'string'; readonly timestampMs: number; readonly value: string };

/** PromqlOptions are one evaluation's settings; bounds come from src/limits.ts. */
export interface PromqlOptions {
  /** lookbackMs is the lookback delta (Prometheus's default 300,000). */
  readonly lookbackMs: number;
  /** signal aborts the evaluation (the client went away, or the wall-time bound passed). */
  readonly signal: AbortSignal;
  /** maxSourceResolution caps the data selectors read (rollup-eval.ts chooseRollup; absent: `auto`). */
  readonly maxSourceResolution?: MaxSourceResolution;
  /** scratch, when given, lends the evaluation its working columns (EvalScratch); the caller takes them back only after the answer is built. */
  readonly scratch?: EvalScratch;
}

/**
 * EvalScratch lends an evaluation the columns it works in while it runs
 * (an aggregation's group rows: aggregate-columns.ts), so a shard part does
 * not allocate them, and the collector does not sweep them, at every query:
 * a node's shard part passes its ColumnLease (storage/metrics/column-pool.ts,
 * query/metrics-shard-read.ts evalOnShard), which takes them back with the
 * read columns once the answer is built. A lent column holds whatever its
 * last user left; nothing an evaluation answers may alias one.
 */
export interface EvalScratch {
  /** takeScratch lends a column of n float64s, or answers null past the lender's bound (the caller allocates its own then). */
  takeScratch(n: number): Float64Array | null;
}

/**
 * PromqlEngine is what the API routes call: evaluate PromQL text over a
 * source at an instant (range.stepMs = 0) or over a range. A parse error is
 * ERR_INVALID_ARGUMENT naming the position and what was expected (the route
 * answers Prometheus's `bad_data`); a bound passed is ERR_LIMIT_EXCEEDED.
 */
export interface PromqlEngine {
  evaluate(text: string, range: EvalRange, source: SeriesSource, opts: PromqlOptions): Promise<PromResult>;
  /**
   * evaluateGrid, when present, is evaluate answering a range query whose
   * top is an aggregation computed as columns on the step grid
   * (GridPartials, as grid-partials.ts seriesToGrid would lay evaluate's
   * matrix) without a series a group in between: a shard's grid answer.
   * Any other expression answers evaluate's result.
   */
  evaluateGrid?(text: string, range: EvalRange, source: SeriesSource, opts: PromqlOptions): Promise<GridEvalResult>;
}

/** GridEvalResult is PromqlEngine.evaluateGrid's answer: the points on the step grid, or evaluate's result where the engine did not compute columns. */
export type GridEvalResult = PromResult | { readonly kind: 'grid'; readonly grid: GridPartials };
