/**
 * storage/index.ts — the public surface of shard storage: the shard write
 * entry and its rows, the idempotency window, the checksummed block envelope,
 * bloom filters and the log tokenizer.
 */
export { BLOCK_HEADER_BYTES, BLOCK_MAGIC, BLOCK_VERSION, BlockKind, openBlock, sealBlock } from './block.js';
export type { BlockKindValue } from './block.js';
export {
  EXP_SCALE_MAX,
  EXP_SCALE_MIN,
  SEVERITY_NUMBER_MAX,
  SPAN_ID_BYTES,
  SPAN_KIND_MAX,
  STATUS_CODE_MAX,
  TRACE_ID_BYTES,
} from './rows.js';
export type {
  AnyValue,
  Exemplar,
  ExponentialBuckets,
  KeyValue,
  LogRow,
  MetricData,
  MetricPointRow,
  NumberValue,
  Resource,
  Scope,
  SpanEvent,
  SpanKind,
  SpanLink,
  SpanRow,
  StatusCode,
  Temporality,
} from './rows.js';
export { SHARD_ENTRY_VERSION, decodeShardEntry, encodeShardEntry, restampLeaderTime } from './shard-entry.js';
export type { ShardEntry } from './shard-entry.js';
export { KIND_GAUGE, KIND_ROW, KIND_SUM_CUMULATIVE, KIND_SUM_CUMULATIVE_NON_MONOTONIC, KIND_SUM_DELTA, KIND_SUM_DELTA_NON_MONOTONIC, MetricEntryColumns, decodeMetricEntry, hasAddColumns } from './metric-entry.js';
export type { ColumnarMetricStore } from './metric-entry.js';
export { IDEMPOTENCY_SNAPSHOT_VERSION, IdempotencyWindow } from './idempotency.js';
export type { IdempotencyStats, IdempotencyWindowOptions } from './idempotency.js';
export { BLOOM_SEED, BLOOM_VERSION, bloomHas, buildBloom, decodeBloom, encodeBloom } from './bloom.js';
export type { BlockBloom, BloomItem } from './bloom.js';
export { tokenize, tokenizeLine } from './tokenizer.js';
export type { TokenSink, TokenizeCounts, Tokens } from './tokenizer.js';
