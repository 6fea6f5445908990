/**
 * index.ts — the public surface of LogQL: parse, print, the engine the API
 * routes and shards call, line hints for block pruning, and the helpers a
 * LogSource needs (selector matching, the canonical entry order).
 */
export type {
  BinaryExpr,
  BinaryOp,
  CompareOp,
  ExtractParam,
  Grouping,
  LabelFilterExpr,
  LabelFormatItem,
  LabelMatchItem,
  LabelReplaceExpr,
  LineFilter,
  LineFilterOp,
  LogExpr,
  LogqlExpr,
  MatchOp,
  MetricExpr,
  NumberLiteral,
  RangeAggregation,
  RangeFn,
  Stage,
  Unwrap,
  VectorAggregation,
  VectorLiteral,
  VectorMatching,
  VectorOp,
} from './ast.js';
export { RANGE_FNS, VECTOR_OPS } from './ast.js';
export { parseLogql } from './parser.js';
export { formatLogql, formatLogExpr, quoteLogql } from './format.js';
export { logqlEngine, compareOutputEntries, sortOutputEntries } from './engine.js';
export { lineHints, hintMatches, hintsAdmit, regexRequirements } from './hints.js';
export { compileSelector, selectorMatches } from './pipeline.js';
