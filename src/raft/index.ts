/**
 * index.ts — the public surface of the pure Raft core. Drivers (the
 * simulator, the benchmark, a real node) import from here only.
 */
export { RawNode } from './raw-node.js';
export type { ReadyOptions } from './raw-node.js';
export { Raft, CAMPAIGN_TRANSFER, CampaignType } from './raft.js';
export { MemoryStorage } from './memory-storage.js';
export { NO_FLOOR, NO_TOMBSTONE, floorAtLeast, incarnationHardState, tombstoneOf } from './tombstone.js';
export type { ReplicaTombstone } from './tombstone.js';
export {
  applyChangeToConfState,
  decodeConfChange,
  encodeConfChange,
  validateConfChange,
  CONF_CHANGE_CONTEXT_BYTES_MAX,
} from './conf-change.js';
export { RaftLog, TERM_COMPACTED, TERM_UNAVAILABLE } from './raft-log.js';
export { ProgressTracker } from './tracker.js';
export { Progress } from './progress.js';
export { Inflights } from './inflights.js';
export { ENTRY_OVERHEAD_BYTES, entrySizeBytes } from './entry-size.js';
export { checkMessage, newMessage } from './message.js';
export { READ_CONTEXT_BYTES_MAX } from './read-only.js';
export {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  ProgressState,
  StateRole,
} from './types.js';
export type {
  ConfChange,
  ConfState,
  Config,
  Entry,
  GroupId,
  HardState,
  Message,
  NodeId,
  ProgressStatus,
  BasicStatus,
  RaftStatus,
  Rand,
  ReadState,
  Ready,
  SnapshotChunk,
  Snapshot,
  SnapshotMetadata,
  SoftState,
  Storage,
  VoteFloor,
} from './types.js';
export type { MessageFields } from './message.js';
