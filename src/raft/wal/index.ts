/**
 * index.ts — the public surface of the shared WAL: one log for every Raft
 * group of a node. Drivers import from here only.
 */
export { Wal } from './wal.js';
export { WalLimits } from '../../limits.js';
export type { PurgeResult, WalOptions, WalRecovery, WalStats } from './wal.js';
export type { RecoveredGroup } from './group-replay.js';
export type { TailTruncation } from './segment-file.js';
export {
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  SEGMENT_VERSION,
  parseSegmentFileName,
  segmentFileName,
} from './segment-file.js';
export { RECORD_HEADER_BYTES, RecordType } from './record-format.js';
export { MANIFEST_FILE } from './manifest.js';
export { crc32c } from './crc32c.js';
