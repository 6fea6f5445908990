/**
 * hash.ts — xxhash64 and xxhash32 (xxhash-wasm) behind a synchronous Hasher.
 *
 * WebAssembly compiles asynchronously, so a process calls `initHash()` once at
 * startup and passes the resulting Hasher to the pure code that needs it (the
 * ring, placement, routing). The Hasher holds no mutable state visible to
 * callers: the same input always gives the same hash, in every process.
 *
 * Byte order:
 * - Input: a string is hashed as its UTF-8 bytes; a Uint8Array as-is. xxhash
 *   itself reads its input as little-endian 32/64-bit lanes (the xxhash spec),
 *   so results are identical to the C reference on every platform.
 * - Output: h64 is an unsigned 64-bit integer as a bigint in [0, 2^64); h32 an
 *   unsigned 32-bit number. When a hash is written as bytes (an idempotency
 *   key, a log record), use `h64ToBytes`: the xxhash canonical form, which is
 *   big-endian, so its hex equals the hash printed in hex (as `xxhsum` does).
 */
import xxhash from 'xxhash-wasm';
import { assert } from '../errors.js';
import { shardForHash } from './key-to-shard.js';
import type { ShardId } from './key-to-shard.js';

/** Hasher is the synchronous hashing interface handed to pure partition code. */
export interface Hasher {
  /** h64 is xxhash64 of the input (UTF-8 for strings) with an optional seed (default 0). */
  h64(input: Uint8Array | string, seed?: bigint): bigint;
  /** h32 is xxhash32 of the input (UTF-8 for strings) with an optional seed (default 0). */
  h32(input: Uint8Array | string, seed?: number): number;
  /**
   * h64ToShard is the shard, in [1, shardCount], of a partition key: jump
   * consistent hash over the key's xxhash64 (seed 0). It is the one call the
   * ingest path makes per row.
   */
  h64ToShard(input: Uint8Array | string, shardCount: number): ShardId;
}

const U64_MAX = (1n << 64n) - 1n;

let cached: Promise<Hasher> | undefined;

/**
 * initHash instantiates the WebAssembly xxhash module and returns a Hasher.
 * It is idempotent: every call shares one instance (the Hasher is stateless,
 * so sharing it is safe). A failed initialisation is not cached, so a later
 * call retries.
 */
export function initHash(): Promise<Hasher> {
  if (cached === undefined) {
    cached = xxhash().then(makeHasher, (err: unknown) => {
      cached = undefined;
      throw err;
    });
  }
  return cached;
}

function makeHasher(api: Awaited<ReturnType<typeof xxhash>>): Hasher {
  const h64 = (input: Uint8Array | string, seed: bigint = 0n): bigint => {
    assert(seed >= 0n && seed <= U64_MAX, 'h64 seed is an unsigned 64-bit integer');
    const h = typeof input === 'string' ? api.h64(input, seed) : api.h64Raw(input, seed);
    return h;
  };
  const h32 = (input: Uint8Array | string, seed = 0): number => {
    assert(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff, 'h32 seed is an unsigned 32-bit integer');
    return typeof input === 'string' ? api.h32(input, seed) : api.h32Raw(input, seed);
  };
  const h64ToShard = (input: Uint8Array | string, shardCount: number): ShardId => shardForHash(h64(input), shardCount);
  return Object.freeze({ h64, h32, h64ToShard });
}

/** h64ToBytes writes a 64-bit hash in xxhash's canonical (big-endian) byte order. */
export function h64ToBytes(hash: bigint): Uint8Array {
  assert(hash >= 0n && hash <= U64_MAX, 'h64ToBytes takes an unsigned 64-bit integer');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, hash, false);
  return out;
}

/** h64FromBytes reads a 64-bit hash written by h64ToBytes. */
export function h64FromBytes(bytes: Uint8Array): bigint {
  assert(bytes.length === 8, 'a canonical xxhash64 is 8 bytes');
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, false);
}
