/**
 * index.ts — the in-memory metrics head of a shard replica: series identity
 * (series-registry.ts), label postings and matchers (label-index.ts), and
 * samples in open buffers and encoded chunks (head.ts). Pure: no I/O, no clock.
 */
export { AppendOutcome, AppendOutcomeInfo, HeadSampleIterator, MetricHead, isAccepted } from './head.js';
export type { AppendBatchResult, AppendOutcomeName, AppendOutcomeValue, HeadStats, MetricHeadOptions } from './head.js';
export { LabelIndex, METRIC_NAME_LABEL, compileMatchers, compileRegex } from './label-index.js';
export type { CompiledMatcher, MatchOp, Matcher } from './label-index.js';
export { PREPARE_NEW, PREPARE_REFUSED, SeriesRegistry, compareCodePoints, isWellFormed } from './series-registry.js';
export type { Label, Labels, SeriesHasher, SeriesInfo } from './series-registry.js';
