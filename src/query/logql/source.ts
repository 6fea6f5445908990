/**
 * source.ts — the boundary between the LogQL engine (parse, evaluate,
 * split for shards; this folder) and where log entries come from: an
 * in-memory corpus in tests, one shard replica's LogStore on the node serving
 * a shard part, or the whole cluster on a coordinator (src/query/logs-*.ts).
 *
 * The engine is written against LogSource only, so the same evaluator runs
 * on a coordinator and on a shard. A log stream is spread over shards (a
 * record is placed by trace id, or by stream and request; DESIGN.md §4), so
 * pushdown is: a log query's whole pipeline runs per entry on each shard,
 * which answers its first `limit` entries in the query's direction (the
 * coordinator merges k-way by time and cuts at `limit`); a metric query's
 * range aggregation runs on each shard as a partial state per output series
 * and step (count_over_time, rate, bytes_over_time, bytes_rate,
 * sum_over_time as sums; min/max_over_time as min/max; avg_over_time as sum
 * and count), combined exactly by the coordinator; everything else gathers
 * entries through `select`.
 *
 * Units: times in nanoseconds since the Unix epoch as bigint; ranges
 * inclusive at both ends.
 */

/** LogLabel is one label of a log stream or one structured-metadata pair. */
export interface LogLabel {
  readonly name: string;
  readonly value: string;
}

/** LogLabels are sorted by name, no duplicate names. */
export type LogLabels = readonly LogLabel[];

/** StreamSelectorMatcher is one stream selector matcher; regexes are fully anchored RE2 syntax, as in Loki. */
export interface StreamSelectorMatcher {
  readonly name: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

/** LogEntry is one log record as LogQL sees it. */
export interface LogEntry {
  /** stream is the record's stream labels (resource attributes with dots as underscores, and `level`). */
  readonly stream: LogLabels;
  readonly timeNs: bigint;
  readonly line: string;
  /** metadata is the structured metadata: log attributes, trace_id, span_id. */
  readonly metadata: LogLabels;
}

/**
 * LineHint is what a source may use to skip blocks before the engine checks
 * each line exactly: every entry the query can keep contains all `contains`
 * substrings (case-sensitive, or case-insensitive when `caseInsensitive`).
 * A hint only narrows what is read; the engine still applies every filter.
 */
export interface LineHint {
  readonly contains: readonly string[];
  readonly caseInsensitive: boolean;
}

/** SelectLogsRequest asks for the entries of the selected streams in [startNs, endNs], in `direction` order. */
export interface SelectLogsRequest {
  readonly matchers: readonly StreamSelectorMatcher[];
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly direction: 'forward' | 'backward';
  /** limit is the most entries wanted, or null for all of them (a metric query; the source's own bounds still hold). */
  readonly limit: number | null;
  /** hints are alternatives (an `or` of line filters gives several): an entry can match only if it satisfies one of them; empty = no hint. */
  readonly hints: readonly LineHint[];
  /**
   * want, when set, is how many entries the consumer expects to take before
   * it stops pulling (a log query's limit: its pipeline may drop some, so
   * `limit` stays null). A hint for the work's granularity, never a bound:
   * a source builds its first batch about this size (logs-shard-source.ts),
   * so a consumer that stops there made no more.
   */
  readonly want?: number;
}

/** LogShardEvalRequest is a query (LogQL text the engine formats from its AST) for every shard to run over its own entries. */
export interface LogShardEvalRequest {
  readonly expr: string;
  readonly startNs: bigint;
  readonly endNs: bigint;
  /** stepNs is the metric query's step (0 for an instant query and for log queries). */
  readonly stepNs: bigint;
  readonly direction: 'forward' | 'backward';
  readonly limit: number;
}

/** ShardPartialSeries is one output series of a pushed metric query on one shard: a partial state per step. */
export interface ShardPartialSeries {
  readonly labels: LogLabels;
  /** stepsNs are the evaluation times that have a value, ascending. */
  readonly stepsNs: readonly bigint[];
  /** values[i] is the partial state at stepsNs[i]: [sum] or [min] or [max] or [sum, count], by the pushed aggregation. */
  readonly values: readonly (readonly number[])[];
}

/** LogShardAnswer is the union of every shard's answer to a LogShardEvalRequest. */
export type LogShardAnswer =
  | { readonly kind: 'entries'; readonly entries: readonly LogEntry[] }
  | { readonly kind: 'partials'; readonly series: readonly ShardPartialSeries[] };

/** LogSourceStats count what a source did for one query; the API reports them. */
export interface LogSourceStats {
  shardsAsked: number;
  blocksScanned: number;
  blocksPruned: number;
  entriesRead: number;
  bytesRead: number;
  readonly partialFailures: { readonly shard: number; readonly code: string; readonly message: string }[];
}

/**
 * CountEntriesRequest asks a source to count entries rather than hand them
 * over (LogSource.countEntries): those of the selected streams in [startNs,
 * endNs] whose line passes `lineTest`, as `select` would give them with no
 * limit. endNs − startNs < 2^53.
 */
export interface CountEntriesRequest {
  readonly matchers: readonly StreamSelectorMatcher[];
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly hints: readonly LineHint[];
  /** lineTest is the query's line filters (exact), or null when it has none. */
  readonly lineTest: ((line: string) => boolean) | null;
  /** lineBytes asks for each entry's line's UTF-8 bytes. */
  readonly lineBytes: boolean;
}

/** CountEntriesVisitor receives each counted entry once: its stream labels (lists shared between entries), its time as ns past the request's startNs, its line's bytes (0 unless asked), and its structured metadata, or null when it has none. */
export interface CountEntriesVisitor {
  entry(stream: LogLabels, offsetNs: number, lineBytes: number, metadata: LogLabels | null): void;
}

/**
 * LogSource is where the engine reads log entries. `select` yields batches
 * of at most LogqlLimits' batch size in the request's direction, ordered by
 * time (ties in a stable order) across the whole source. `shardEval`, when
 * present, runs a pushed-down query on every shard and answers their union.
 */
export interface LogSource {
  select(req: SelectLogsRequest, signal: AbortSignal): AsyncIterable<readonly LogEntry[]>;
  shardEval?(req: LogShardEvalRequest, signal: AbortSignal): Promise<LogShardAnswer>;
  /** countEntries, when present, visits the entries a request selects without building them (a shard's range aggregation over lines; query/logql/range-count.ts). */
  countEntries?(req: CountEntriesRequest, visit: CountEntriesVisitor, signal: AbortSignal): Promise<void>;
  readonly stats: LogSourceStats;
}

/** LogqlStream is one stream of a log query's answer: labels after the pipeline, entries in the query's direction. */
export interface LogqlStream {
  readonly labels: LogLabels;
  readonly entries: readonly { readonly timeNs: bigint; readonly line: string; readonly metadata: LogLabels }[];
}

/** LogqlSeries is one series of a metric query's answer: a value at each step that has one, ascending. */
export interface LogqlSeries {
  readonly labels: LogLabels;
  readonly timesNs: readonly bigint[];
  readonly values: readonly number[];
}

/** LogqlResult is what a LogQL evaluation answers, as Loki's API types it. */
export type LogqlResult =
  | { readonly kind: 'streams'; readonly streams: readonly LogqlStream[] }
  | { readonly kind: 'matrix'; readonly series: readonly LogqlSeries[] }
  | { readonly kind: 'vector'; readonly samples: readonly { readonly labels: LogLabels; readonly timeNs: bigint; readonly value: number }[] }
  | { readonly kind: 'scalar'; readonly timeNs: bigint; readonly value: number };

/** LogqlParams are one evaluation's range and shape (Loki's query and query_range parameters). */
export interface LogqlParams {
  readonly startNs: bigint;
  readonly endNs: bigint;
  /** stepNs is the metric query's step; 0 for an instant query. */
  readonly stepNs: bigint;
  readonly direction: 'forward' | 'backward';
  /** limit is the most entries a log query returns (Loki's `limit`, default 100). */
  readonly limit: number;
  /** signal aborts the evaluation (the client went away, or the wall-time bound passed). */
  readonly signal: AbortSignal;
}

/**
 * LogqlEngine is what the API routes call. A parse error is
 * ERR_INVALID_ARGUMENT naming the position and what was expected (the route
 * answers 400 with Loki's plain-text error); a bound passed is
 * ERR_LIMIT_EXCEEDED.
 */
export interface LogqlEngine {
  evaluate(text: string, params: LogqlParams, source: LogSource): Promise<LogqlResult>;
  /** evaluateShardPart is the shard side of `LogSource.shardEval`: run a pushed query over one shard's own entries. */
  evaluateShardPart(req: LogShardEvalRequest, source: LogSource, signal: AbortSignal): Promise<LogShardAnswer>;
}
