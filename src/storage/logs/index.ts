/**
 * logs/index.ts — log storage of one shard: the columnar log block, the line
 * and stream a row shows to search, and the block's term index and query.
 * Pure code, no I/O, except the store (log-store.ts) over a shard LevelDB.
 */
export { encodeLogBlock, streamKey } from './log-block.js';
export { LOG_BLOCK_VERSION } from './log-block-format.js';
export type { LogBlockHeader } from './log-block-format.js';
export { decodeLogBlock, openLogBlock, readLines, readLogBlockHeader, readTimes } from './log-block-decode.js';
export type { LogLines, OpenedLogBlock } from './log-block-decode.js';
export { LOKI_PUSH_SCOPE, levelOf, logLine, renderValue, sanitizeLabelName, streamLabels } from './log-line.js';
export { bloomAlternatives, compileLineHints, termsAdmit } from './log-hints.js';
export type { HintAlternative, HintLiteral, LineHintPlan } from './log-hints.js';
export type { StreamLabel } from './log-line.js';
export { LOG_INDEX_VERSION, consecutivePositions, queryLogBlock, queryLogBlockWith } from './term-index.js';
export { encodeLogIndex } from './term-index-build.js';
export { TERM_BLOOM_VERSION, buildTermBloom, decodeTermBloom } from './term-bloom.js';
export type { TermBloom } from './term-bloom.js';
export type { EncodedLogIndex, LogQuery, LogQueryResult, LogQueryStats, PhraseCheck, StreamMatcher } from './term-index.js';
export { bloomAdmits, normalizeLogQuery, openLogIndex, queryLogIndex, readIndexTerms } from './term-index.js';
export type { BlockSearchPrune, LogIndexReader } from './term-index.js';
export type { NormalizedLogQuery } from './term-index.js';
export { LogStore } from './log-store.js';
export type { HeadView, LogHit, LogScanQuery } from './log-scan.js';
export { attributesBytes, logRowBytes, logRowMatches, matchesStream } from './log-head.js';
export { readIndexStats, readLabelNames, readLabelValues, readSeries } from './log-labels.js';
export type { HeadVisitor, IndexStats } from './log-labels.js';
export {
  LOG_BLOCK_SPACES,
  LOG_STORE_FORMAT_VERSION,
  LogKeySpace,
  LogValueTag,
  blockKey,
  bucketKey,
  bucketOf,
  bucketStartNs,
  checkTimeRange,
  decodeBlockMeta,
  decodeStreamTable,
  decodeTenantStats,
  tenantPrefix,
} from './log-store-format.js';
export type { LogBlockId, LogBlockMeta, LogStream, LogTenantStats, LogTimeRange } from './log-store-format.js';
