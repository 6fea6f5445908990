/**
 * traces/index.ts — span blocks: the columnar span block of one tenant and
 * time bucket (span-block.ts) and its per-block index of postings and a
 * trace-id bloom filter, with the block query (span-index.ts); the traces
 * store of a shard replica (trace-store.ts), its compact head of span bytes
 * (span-head.ts, entry-spans.ts) and its key layout (trace-keys.ts).
 */
export {
  SERVICE_NAME_KEY,
  SPAN_BLOCK_FORMAT_VERSION,
  SPAN_COLUMN_COUNT,
  SpanColumn,
  decodeSpanBlock,
  decodeSpanRows,
  encodeSpanBlock,
  openSpanBlock,
  readBlockColumns,
  readTraceSpans,
  serviceOf,
} from './span-block.js';
export type { BlockColumnName, BlockColumns, SpanBlockOptions, SpanBlockView, SpanPage, TraceSpans } from './span-block.js';
export {
  FORMAT1_ATTR_FLAGS,
  IndexField,
  SCOPE_FLAGS,
  SPAN_INDEX_FORMAT_VERSION,
  SPAN_INDEX_FORMAT_VERSION_NO_VALUE_TERMS,
  TERM_FLAGS_ALL,
  attrIndexValue,
  attrTagType,
  canonicalNumber,
  decodeSpanBlockIndex,
  encodeSpanBlockIndex,
  flagPairs,
  querySpanBlock,
  spanMatchHolds,
  termFlag,
  traceqlIndexForm,
} from './span-index.js';
export type { IndexFieldValue, IndexTerm, SpanBlockIndex, SpanMatch, TagScope, TagType, TraceqlIndexForm, SpanPredicate, SpanQueryOptions, SpanQueryResult, SpanQueryStats } from './span-index.js';
export { TraceStore, estimateSpanBytes, spanMatches } from './trace-store.js';
export { SpanHead, SpanHeadReader, idKey } from './span-head.js';
export { EntrySpanRanges, locateEntrySpans, unpackRange } from './entry-spans.js';
export type { SpanSearch, TraceReadLimits, TraceResult } from './trace-store.js';
export { SPAN_KIND_KEYWORDS, STATUS_KEYWORDS, compareEntries, readTags } from './tag-read.js';
export type { TagEntry, TagIntrinsic, TagRead, TagReadAnswer, TagReadBounds, TagTarget, TagValueType } from './tag-read.js';
export { TraceKeySpace, bucketOf, bucketStartNs } from './trace-keys.js';
export type { BlockMeta, BlockRef, TenantTraceStats, TraceEntry } from './trace-keys.js';
