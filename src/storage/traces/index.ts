/**
 * traces/index.ts — span blocks: the columnar span block of one tenant and
 * time bucket (span-block.ts) and its per-block index of postings and a
 * trace-id bloom filter, with the block query (span-index.ts).
 */
export {
  SERVICE_NAME_KEY,
  SPAN_BLOCK_FORMAT_VERSION,
  SPAN_COLUMN_COUNT,
  SpanColumn,
  decodeSpanBlock,
  encodeSpanBlock,
  openSpanBlock,
  readBlockColumns,
  serviceOf,
} from './span-block.js';
export type { BlockColumnName, BlockColumns, SpanBlockView } from './span-block.js';
export { IndexField, SPAN_INDEX_FORMAT_VERSION, attrIndexValue, decodeSpanBlockIndex, encodeSpanBlockIndex, querySpanBlock } from './span-index.js';
export type { IndexFieldValue, SpanBlockIndex, SpanPredicate, SpanQueryOptions, SpanQueryResult, SpanQueryStats } from './span-index.js';
