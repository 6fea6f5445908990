/**
 * prefetch-kv.ts — a KvRead that fetches, in one getMany, the page filters
 * (page-filters.ts) a search on a skipped key is about to ask of a group of
 * blocks, and answers each block's get of them from what it fetched.
 *
 * Why: such a search (the bench's attribute search: fewer matches than its
 * limit, so no early stop) asks every block of the range for its page
 * filters, one block after the other; with a cold block cache that is one
 * LevelDB get — one trip through libuv's thread pool — per block, in
 * series. Fetched together, a group of blocks costs one call.
 *
 * Invariants: every value is got from the caller's snapshot (`inner`), so
 * an answer from the prefetch is the answer `inner.get` would give; a
 * prefetched value is handed out once and then dropped, and a prefetch
 * replaces the previous one, so at most
 * TraceStoreLimits.prefetchBlocksMax values are held. Keys the block cache
 * already holds are not fetched (the cached read does not ask for them).
 * NB: values prefetched and then not asked for (the search stopped at its
 * limit first) are read from LevelDB but not counted in ScanStats.bytesRead:
 * a read counts a value's bytes when it uses it, as before.
 */
import { assert } from '../../errors.js';
import { TraceStoreLimits } from '../../limits.js';
import type { KeyRange, KvEntry, KvRead } from '../shard/shard-db.js';
import type { BlockCacheRef } from './block-read.js';
import { spanBlockCacheKey } from './block-cache.js';
import type { BlockRef } from './trace-keys.js';
import { TraceKeySpace as K, blockKey } from './trace-keys.js';

const keyString = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');

/** PrefetchKv is a KvRead over `inner` whose get answers a prefetched key from the last prefetch (once), any other key from `inner`. */
export class PrefetchKv implements KvRead {
  readonly #inner: KvRead;
  readonly #got = new Map<string, Uint8Array | undefined>();
  /** calls counts the getMany calls prefetch made (tests). */
  calls = 0;

  constructor(inner: KvRead) {
    this.#inner = inner;
  }

  /**
   * prefetchPageFilters fetches the page filters of `refs` (at most
   * TraceStoreLimits.prefetchBlocksMax) that `cache` lacks, in one getMany,
   * replacing what an earlier prefetch left.
   */
  async prefetchPageFilters(tenant: string, refs: readonly BlockRef[], cache: BlockCacheRef | null): Promise<void> {
    assert(refs.length <= TraceStoreLimits.prefetchBlocksMax, 'a prefetch covers at most prefetchBlocksMax blocks');
    this.#got.clear();
    const keys = refs.map((ref) => blockKey(K.pageFilters, tenant, ref)).filter((k) => cache === null || cache.cache.get(spanBlockCacheKey(cache.space, 'p', k)) === undefined);
    if (keys.length <= 1) return;
    this.calls++;
    const values = await this.#inner.getMany(keys);
    assert(values.length === keys.length, 'getMany answers every key');
    keys.forEach((k, i) => this.#got.set(keyString(k), values[i]));
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const k = keyString(key);
    if (this.#got.has(k)) {
      const v = this.#got.get(k);
      this.#got.delete(k);
      return Promise.resolve(v);
    }
    return this.#inner.get(key);
  }

  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return this.#inner.getMany(keys);
  }

  pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]> {
    return this.#inner.pages(range, pageEntries);
  }
}
