/**
 * block-cache.ts — a node-wide, byte-bounded LRU of opened span blocks and
 * their decoded indexes, shared by the traces stores of every shard replica
 * on the node (storage/shard/stores.ts makes one per node).
 *
 * Why: a search opens, per block of its time range, the block's index (one
 * LevelDB get, a CRC32C over it, the term table parsed) and for the blocks
 * its index cannot rule out the whole block (the head and every page: a get,
 * a getMany, a CRC32C per page, the pages joined). On the loaded 2-core
 * machine each LevelDB call is a trip through libuv's thread pool that
 * costs milliseconds, and they dominated the profile of a shard's search
 * (bench/query-traces-shard.ts --cache-ab prints the ratio). Blocks are
 * immutable once written, so what was opened and checked once can serve
 * every later read of the same block.
 *
 * Keys: `space` + block key bytes. A block key names (tenant, bucket,
 * flushIndex, part), and flushIndex is unique and increasing per replica
 * lineage (shard/signal-store.ts FlushContext), so within one lineage a key
 * never names two different blocks. A lineage ends when the replica's
 * database is replaced (a snapshot installed) or reloaded: the traces store
 * then takes a new space (TraceStore.load), so no entry of the old database
 * is ever found again; they age out of the LRU.
 *
 * Invariants:
 * - #bytes is the sum of the entries' accounted bytes and stays at most
 *   #bytesMax after every call;
 * - an entry larger than #bytesMax / BlockCacheLimits.entryShareDivisor is
 *   never kept (one huge block must not flush the whole cache);
 * - Map order is recency order: the first entry is the least recently used.
 *
 * Values are shared between readers and must never be mutated (every value
 * type is readonly). Pure: no I/O, no clock.
 */
import { assert } from '../../errors.js';
import { BlockCacheLimits } from '../../limits.js';

interface Entry {
  readonly value: unknown;
  readonly bytes: number;
}

/** SpanBlockCacheStats are the cache's counters since it was made (for /metrics-style reports and benches). */
export interface SpanBlockCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
  readonly bytes: number;
  readonly bytesMax: number;
}

/** SpanBlockCache is the byte-bounded LRU described at the top of this file. */
export class SpanBlockCache {
  readonly #bytesMax: number;
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #spaces = 0;
  #hits = 0;
  #misses = 0;

  /** The constructor takes the byte bound (0 turns the cache off: nothing is kept). */
  constructor(bytesMax: number = BlockCacheLimits.bytesMaxDefault) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax >= 0, 'cache bytesMax >= 0');
    assert(bytesMax <= BlockCacheLimits.bytesMax, 'cache bytesMax within BlockCacheLimits.bytesMax');
    this.#bytesMax = bytesMax;
  }

  /** newSpace is a key prefix no earlier caller got: one per traces store database lineage. */
  newSpace(): string {
    this.#spaces++;
    return `${this.#spaces.toString(36)}/`;
  }

  /** get is the value under `key`, made most recently used, or undefined. */
  get<V>(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.value as V;
  }

  /** set keeps `value` under `key` at an accounted `bytes`, evicting the least recently used entries past the bound. */
  set(key: string, value: unknown, bytes: number): void {
    assert(Number.isSafeInteger(bytes) && bytes > 0, 'a cache entry accounts bytes > 0');
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= old.bytes;
    }
    if (bytes > this.#bytesMax / BlockCacheLimits.entryShareDivisor) return;
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    for (const [k, e] of this.#entries) {
      if (this.#bytes <= this.#bytesMax) break;
      this.#entries.delete(k);
      this.#bytes -= e.bytes;
    }
    assert(this.#bytes >= 0 && this.#bytes <= this.#bytesMax, 'cache bytes within bytesMax');
  }

  /** stats are the counters and the current size. */
  stats(): SpanBlockCacheStats {
    return { hits: this.#hits, misses: this.#misses, entries: this.#entries.size, bytes: this.#bytes, bytesMax: this.#bytesMax };
  }
}

/** spanBlockCacheKey is the cache key of a value under LevelDB key `key` in `space` (kind: 'i' index, 'v' whole block view, 'h' split head, 's' trace summaries, 'p' page filters, 'g' one page's value). */
export function spanBlockCacheKey(space: string, kind: 'i' | 'v' | 'h' | 's' | 'p' | 'g', key: Uint8Array): string {
  return `${space}${kind}${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')}`;
}
