/**
 * index.ts — the public surface of src/partition: hashing, key-to-shard, the
 * consistent-hash ring, shard placement and row partition keys (DESIGN.md §4).
 */
export { initHash, h64ToBytes, h64FromBytes } from './hash.js';
export type { Hasher } from './hash.js';
export { jumpConsistentHash } from './jump-hash.js';
export { shardForHash, shardForKey } from './key-to-shard.js';
export type { ShardId } from './key-to-shard.js';
export { HashRing } from './ring.js';
export {
  PLACEMENT_FORMAT_VERSION,
  computePlacement,
  diffLeaders,
  diffPlacement,
  placementLoad,
  replicasOf,
  validatePlacement,
} from './placement.js';
export type { LeaderChange, NodeLoad, Placement, ReplicaMove, ShardPlacement } from './placement.js';
export {
  PartitionKeyKind,
  TRACE_ID_BYTES,
  logPartitionKey,
  seriesPartitionKey,
  spanPartitionKey,
} from './partition-key.js';
export { PartitionLimits } from '../limits.js';
export {
  checkNodeIds,
  checkReplicationFactor,
  checkShardCount,
  checkShardId,
  checkVnodesPerNode,
} from './validate.js';
