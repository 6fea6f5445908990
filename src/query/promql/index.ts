/**
 * index.ts — the PromQL engine's public surface (explicit named exports).
 */

export type {
  AggregateNode, AggregateOp, AtModifier, BinaryNode, BinaryOp, CallNode, Expr, MatrixSelectorNode, NumberNode, ParenNode,
  StringNode, SubqueryNode, UnaryNode, ValueType, VectorMatching, VectorSelectorNode,
} from './ast.js';
export { parsePromql } from './parser.js';
export { parseDurationMs } from './literals.js';
export { exprType } from './typecheck.js';
export { formatPromql } from './format.js';
export type { EngineOptions } from './engine.js';
export { createPromqlEngine, evaluateShard, promqlEngine } from './engine.js';
export { MemorySeriesSource } from './memory-source.js';
export type { PromApiResponse } from './api-json.js';
export { toPromApiJson } from './api-json.js';
export type {
  EvalRange, FloatSeries, PromLabel, PromLabels, PromMatchOp, PromMatcher, PromqlEngine, PromqlOptions, PromResult, PromSample,
  SelectRequest, SeriesSource, ShardEvalRequest, SourceStats,
} from './source.js';
