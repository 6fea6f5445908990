/**
 * key-to-shard.ts — the shard of a row partition key, for a shard count S
 * fixed at cluster creation.
 *
 * shard = 1 + jumpConsistentHash(xxhash64(key), S). Shard ids are 1..S because
 * they are Raft group ids and group 0 is the meta group (DESIGN.md §3). Jump
 * hash is consistent: growing S to S+1 moves about 1/(S+1) of the keys, all of
 * them into the new shard S+1, so a future shard split copies the fewest rows.
 */
import { jumpConsistentHash } from './jump-hash.js';
import { checkShardCount } from './validate.js';
import type { Hasher } from './hash.js';

/** ShardId is a shard's Raft group id, in [1, S]. */
export type ShardId = number;

// Splitting a bigint through a DataView avoids allocating two more bigints per
// row (measured ~1.4x faster than `Number(hash >> 32n)` and `hash & mask`).
// Module-level scratch is safe: JavaScript runs this synchronously to the end.
const scratch = new DataView(new ArrayBuffer(8));

/** shardForHash maps a 64-bit key hash to its shard in [1, shardCount]. */
export function shardForHash(hash: bigint, shardCount: number): ShardId {
  checkShardCount(shardCount);
  scratch.setBigUint64(0, hash);
  const bucket = jumpConsistentHash(scratch.getUint32(0), scratch.getUint32(4), shardCount);
  return bucket + 1;
}

/** shardForKey maps a partition key (see partition-key.ts) to its shard in [1, shardCount]. */
export function shardForKey(hasher: Hasher, key: Uint8Array | string, shardCount: number): ShardId {
  return hasher.h64ToShard(key, shardCount);
}
