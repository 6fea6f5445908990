/**
 * index.ts — the public surface of TraceQL: parse, print, evaluate over one
 * trace, and extract the conditions a planner may push down to shards.
 */
export type {
  AggregateFn,
  AttributeScope,
  ComparisonOp,
  FieldExpr,
  FieldRef,
  IntrinsicName,
  LiteralValue,
  LogicalOp,
  Pipeline,
  ScalarComparisonOp,
  ScalarFilter,
  SelectStage,
  SpansetExpr,
  SpansetFilter,
  SpansetOp,
  SpansetOperation,
  Stage,
  TraceqlKind,
  TraceqlQuery,
  TraceqlStatus,
} from './ast.js';
export { INTRINSIC_SPELLINGS, TRACEQL_KINDS, TRACEQL_STATUSES, isSpansetExpr } from './ast.js';
export { parseTraceql } from './parser.js';
export { formatTraceql, formatFieldRef, formatLiteral, formatDuration } from './format.js';
export type { TraceqlSelected, TraceqlSpanMatch, TraceqlSpanset } from './evaluate.js';
export { TraceqlProgram, evaluateTraceql } from './evaluate.js';
export type { TraceqlValue } from './values.js';
export type { PushdownCondition, PushdownDurationRange, PushdownEquality } from './pushdown.js';
export { extractPushdown, extractSpanMatch } from './pushdown.js';
