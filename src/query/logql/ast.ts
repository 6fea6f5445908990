/**
 * ast.ts — the typed syntax tree of LogQL (grafana.com/docs/loki/latest/query/).
 * The parser builds it, the formatter prints it back (parse(format(ast))
 * equals ast), the evaluators and the pushdown split walk it. Durations are
 * nanoseconds as bigint; numbers are JavaScript numbers.
 */
import type { StreamSelectorMatcher } from './source.js';

/** MatchOp is a string matcher of stream selectors, label filters, drop and keep. */
export type MatchOp = '=' | '!=' | '=~' | '!~';

/** CompareOp is a numeric comparison of a label filter (`=` is read as `==`). */
export type CompareOp = '==' | '!=' | '>' | '>=' | '<' | '<=';

/** LineFilterOp is a line filter: contains, does not contain, regex matches, does not match, pattern matches (`|>`), does not match (`!>`). */
export type LineFilterOp = '|=' | '!=' | '|~' | '!~' | '|>' | '!>';

/** LineFilter is `|= "a" or "b"`: `values` are the `or` alternatives (for `!=`/`!~`/`!>` the line must match none). */
export interface LineFilter {
  readonly kind: 'lineFilter';
  readonly op: LineFilterOp;
  readonly values: readonly string[];
}

/** LabelFilterExpr is the condition of a label filter stage (and of the filters after `unwrap`). */
export type LabelFilterExpr =
  | { readonly kind: 'string'; readonly name: string; readonly op: MatchOp; readonly value: string }
  | { readonly kind: 'number'; readonly name: string; readonly op: CompareOp; readonly value: number }
  | { readonly kind: 'duration'; readonly name: string; readonly op: CompareOp; readonly valueNs: bigint }
  | { readonly kind: 'bytes'; readonly name: string; readonly op: CompareOp; readonly value: number }
  | { readonly kind: 'and' | 'or'; readonly lhs: LabelFilterExpr; readonly rhs: LabelFilterExpr };

/** ExtractParam is one `label="path"` of a json parser or `label="key"` of logfmt (`label` alone means path = label). */
export interface ExtractParam {
  readonly label: string;
  readonly path: string;
}

/** LabelMatchItem is one item of drop/keep: a name, optionally with a matcher on its value. */
export interface LabelMatchItem {
  readonly name: string;
  readonly matcher: { readonly op: MatchOp; readonly value: string } | null;
}

/** LabelFormatItem is one `dst=src` (rename) or `dst="{{template}}"` of label_format. */
export interface LabelFormatItem {
  readonly dst: string;
  readonly src: { readonly kind: 'rename'; readonly name: string } | { readonly kind: 'template'; readonly template: string };
}

/** Stage is one stage of a log pipeline. */
export type Stage =
  | LineFilter
  | { readonly kind: 'json'; readonly params: readonly ExtractParam[] }
  | { readonly kind: 'logfmt'; readonly strict: boolean; readonly keepEmpty: boolean; readonly params: readonly ExtractParam[] }
  | { readonly kind: 'regexp'; readonly pattern: string }
  | { readonly kind: 'pattern'; readonly pattern: string }
  | { readonly kind: 'unpack' }
  | { readonly kind: 'labelFilter'; readonly expr: LabelFilterExpr }
  | { readonly kind: 'lineFormat'; readonly template: string }
  | { readonly kind: 'decolorize' }
  | { readonly kind: 'labelFormat'; readonly items: readonly LabelFormatItem[] }
  | { readonly kind: 'drop' | 'keep'; readonly items: readonly LabelMatchItem[] };

/** LogExpr is a log query: a stream selector and its pipeline. */
export interface LogExpr {
  readonly kind: 'log';
  readonly matchers: readonly StreamSelectorMatcher[];
  readonly stages: readonly Stage[];
}

/** RangeFn names the range aggregations; the `_over_time` ones other than count/bytes/absent need `unwrap`. */
export type RangeFn =
  | 'count_over_time'
  | 'rate'
  | 'rate_counter'
  | 'bytes_over_time'
  | 'bytes_rate'
  | 'absent_over_time'
  | 'sum_over_time'
  | 'avg_over_time'
  | 'min_over_time'
  | 'max_over_time'
  | 'stddev_over_time'
  | 'stdvar_over_time'
  | 'quantile_over_time'
  | 'first_over_time'
  | 'last_over_time';

/** RANGE_FNS lists every range aggregation. */
export const RANGE_FNS: readonly RangeFn[] = [
  'count_over_time',
  'rate',
  'rate_counter',
  'bytes_over_time',
  'bytes_rate',
  'absent_over_time',
  'sum_over_time',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'quantile_over_time',
  'first_over_time',
  'last_over_time',
];

/** LOG_RANGE_FNS are the range aggregations over log lines (no unwrap allowed); `rate` also takes an unwrap. */
export const LOG_RANGE_FNS: ReadonlySet<RangeFn> = new Set<RangeFn>(['count_over_time', 'rate', 'bytes_over_time', 'bytes_rate', 'absent_over_time']);

/** Unwrap is `| unwrap [duration|duration_seconds|bytes](label)` and the label filters that follow it. */
export interface Unwrap {
  readonly label: string;
  readonly conversion: 'duration' | 'duration_seconds' | 'bytes' | null;
  readonly postFilters: readonly LabelFilterExpr[];
}

/** Grouping is `by (a, b)` or `without (a, b)`. */
export interface Grouping {
  readonly without: boolean;
  readonly labels: readonly string[];
}

/** RangeAggregation is `fn([param,] log | unwrap x [range] [offset d]) [by (...)]`. */
export interface RangeAggregation {
  readonly kind: 'range';
  readonly fn: RangeFn;
  /** param is quantile_over_time's φ, else null. */
  readonly param: number | null;
  readonly log: LogExpr;
  readonly unwrap: Unwrap | null;
  readonly rangeNs: bigint;
  readonly offsetNs: bigint;
  readonly grouping: Grouping | null;
}

/** VectorOp names the vector aggregations; `sort`/`sort_desc` keep every series and order an instant answer by value. */
export type VectorOp = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'stddev' | 'stdvar' | 'topk' | 'bottomk' | 'sort' | 'sort_desc';

/** VECTOR_OPS lists every vector aggregation. */
export const VECTOR_OPS: readonly VectorOp[] = ['sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'sort', 'sort_desc'];

/** VectorAggregation is `op [by|without (...)] ([k,] expr)`. */
export interface VectorAggregation {
  readonly kind: 'vector';
  readonly op: VectorOp;
  /** param is topk/bottomk's k, else null. */
  readonly param: number | null;
  readonly grouping: Grouping | null;
  readonly expr: MetricExpr;
}

/** BinaryOp names the binary operators. */
export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '^' | '==' | '!=' | '>' | '>=' | '<' | '<=' | 'and' | 'or' | 'unless';

/**
 * VectorMatching is `on (...)` / `ignoring (...)` and an optional
 * `group_left (...)` / `group_right (...)`: `group` null is one-to-one;
 * `left` is many-to-one (the left side is the "many" side), `right`
 * one-to-many; `include` lists the labels copied from the "one" side.
 */
export interface VectorMatching {
  readonly on: boolean;
  readonly labels: readonly string[];
  readonly group: { readonly side: 'left' | 'right'; readonly include: readonly string[] } | null;
}

/** BinaryExpr is `lhs op [bool] [on|ignoring (...) [group_left|group_right (...)]] rhs`. */
export interface BinaryExpr {
  readonly kind: 'binary';
  readonly op: BinaryOp;
  readonly bool: boolean;
  readonly matching: VectorMatching | null;
  readonly lhs: MetricExpr;
  readonly rhs: MetricExpr;
}

/** NumberLiteral is a scalar literal. */
export interface NumberLiteral {
  readonly kind: 'number';
  readonly value: number;
}

/** VectorLiteral is `vector(n)`: one series without labels holding n at every step (Loki's `... or vector(0)`). */
export interface VectorLiteral {
  readonly kind: 'vectorLiteral';
  readonly value: number;
}

/**
 * LabelReplaceExpr is `label_replace(expr, "dst", "replacement", "src", "regex")`
 * (Prometheus' function): where `regex` (fully anchored) matches the value of
 * `src`, `dst` becomes the expanded replacement (`$1`, `${name}`; empty
 * removes `dst`); elsewhere the series is unchanged.
 */
export interface LabelReplaceExpr {
  readonly kind: 'labelReplace';
  readonly expr: MetricExpr;
  readonly dst: string;
  readonly replacement: string;
  readonly src: string;
  readonly regex: string;
}

/** MetricExpr is a metric query. */
export type MetricExpr = RangeAggregation | VectorAggregation | BinaryExpr | NumberLiteral | VectorLiteral | LabelReplaceExpr;

/** LogqlExpr is any LogQL query. */
export type LogqlExpr = LogExpr | MetricExpr;
