/**
 * ast.ts — the typed PromQL syntax tree the parser builds from the lezer
 * tree, the evaluator walks and the formatter prints back to text (to ship
 * subexpressions to shards). Shapes follow Prometheus's promql/parser/ast.go.
 *
 * Units: durations and offsets in integer milliseconds; `@` timestamps in
 * milliseconds since the Unix epoch.
 */

import type { PromMatcher } from './source.js';

/** ValueType is the static type of an expression, as Prometheus's type checker names them. */
export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** AtModifier is a selector's or subquery's `@`: a fixed time, or the query's start() or end(). */
export type AtModifier = { readonly kind: 'time'; readonly timeMs: number } | { readonly kind: 'start' } | { readonly kind: 'end' };

/** VectorSelectorNode is an instant selector `name{matchers} offset o @ t`. */
export interface VectorSelectorNode {
  readonly type: 'vectorSelector';
  /** name is the metric name written before the braces ('' when absent; then a `__name__` matcher may name it). */
  readonly name: string;
  /** matchers are every matcher, the name's `__name__="name"` included. */
  readonly matchers: readonly PromMatcher[];
  readonly offsetMs: number;
  readonly at: AtModifier | null;
}

/** MatrixSelectorNode is a range selector `selector[range]`; offset and `@` live on the inner selector. */
export interface MatrixSelectorNode {
  readonly type: 'matrixSelector';
  readonly selector: VectorSelectorNode;
  readonly rangeMs: number;
}

/** SubqueryNode is `expr[range:step] offset o @ t`; stepMs 0 means the query's step (Prometheus's default evaluation interval). */
export interface SubqueryNode {
  readonly type: 'subquery';
  readonly expr: Expr;
  readonly rangeMs: number;
  readonly stepMs: number;
  readonly offsetMs: number;
  readonly at: AtModifier | null;
}

/** NumberNode is a number literal. */
export interface NumberNode {
  readonly type: 'number';
  readonly value: number;
}

/** StringNode is a string literal. */
export interface StringNode {
  readonly type: 'string';
  readonly value: string;
}

/** ParenNode keeps the parentheses the text wrote, so postfix operators bind as Prometheus binds them. */
export interface ParenNode {
  readonly type: 'paren';
  readonly expr: Expr;
}

/** UnaryNode is `-expr` or `+expr`. */
export interface UnaryNode {
  readonly type: 'unary';
  readonly op: '-' | '+';
  readonly expr: Expr;
}

/** BinaryOp is every binary operator. */
export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '^' | 'atan2' | '==' | '!=' | '>' | '<' | '>=' | '<=' | 'and' | 'or' | 'unless';

/** VectorMatching is a binary operation's `on`/`ignoring` and `group_left`/`group_right` clause. */
export interface VectorMatching {
  /** card is the matching's cardinality: one-to-one by default; many-to-many for the set operators. */
  readonly card: 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';
  /** on says the labels are an `on` list (else `ignoring`). */
  readonly on: boolean;
  readonly labels: readonly string[];
  /** include are the `group_left(...)`/`group_right(...)` labels copied from the one side. */
  readonly include: readonly string[];
}

/** BinaryNode is `lhs op [bool] [matching] rhs`. */
export interface BinaryNode {
  readonly type: 'binary';
  readonly op: BinaryOp;
  readonly lhs: Expr;
  readonly rhs: Expr;
  readonly returnBool: boolean;
  /** matching is null when the text wrote no on/ignoring/group clause (the defaults then apply). */
  readonly matching: VectorMatching | null;
}

/** AggregateOp is every aggregation operator. */
export type AggregateOp = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'group' | 'stddev' | 'stdvar' | 'quantile' | 'topk' | 'bottomk' | 'count_values';

/** AggregateNode is `op by|without (labels) ([param,] expr)`. */
export interface AggregateNode {
  readonly type: 'aggregate';
  readonly op: AggregateOp;
  readonly expr: Expr;
  readonly param: Expr | null;
  readonly grouping: readonly string[];
  readonly without: boolean;
}

/** CallNode is a function call. */
export interface CallNode {
  readonly type: 'call';
  readonly func: string;
  readonly args: readonly Expr[];
}

/** Expr is any PromQL expression. */
export type Expr = VectorSelectorNode | MatrixSelectorNode | SubqueryNode | NumberNode | StringNode | ParenNode | UnaryNode | BinaryNode | AggregateNode | CallNode;

/** isComparisonOp says whether op is a comparison (the operators `bool` may modify). */
export function isComparisonOp(op: BinaryOp): boolean {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
}

/** isSetOp says whether op is a set operator (many-to-many, no grouping). */
export function isSetOp(op: BinaryOp): boolean {
  return op === 'and' || op === 'or' || op === 'unless';
}

/** unwrapParens strips parentheses; the evaluator and the planner see through them as Prometheus does. */
export function unwrapParens(e: Expr): Expr {
  let x = e;
  while (x.type === 'paren') x = x.expr;
  return x;
}
