/**
 * logs/index.ts — log storage of one shard: the columnar log block, the line
 * and stream a row shows to search, and the block's term index and query.
 * Pure code, no I/O.
 */
export { LOG_BLOCK_VERSION, decodeLogBlock, encodeLogBlock, openLogBlock, readLines, readLogBlockHeader, readTimes, streamKey } from './log-block.js';
export type { LogBlockHeader, LogLines, OpenedLogBlock } from './log-block.js';
export { levelOf, logLine, renderValue, streamLabels } from './log-line.js';
export type { StreamLabel } from './log-line.js';
export { LOG_INDEX_VERSION, consecutivePositions, encodeLogIndex, queryLogBlock, queryLogBlockWith } from './term-index.js';
export type { EncodedLogIndex, LogQuery, LogQueryResult, LogQueryStats, PhraseCheck, StreamMatcher } from './term-index.js';
