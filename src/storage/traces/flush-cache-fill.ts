/**
 * flush-cache-fill.ts — FlushCacheFill keeps what a flush wrote that every
 * search asks first (each block's page filters and its format-3 head) in
 * the node's block cache once the flush is durable, instead of leaving the
 * first search after the flush to read each of them back from LevelDB.
 *
 * Why: the block cache (block-cache.ts) fills on reads only, so every flush
 * made the next searches cold: an attribute search after a flush asked
 * LevelDB for the page filters of every new block of its range (one getMany
 * of up to TraceStoreLimits.prefetchBlocksMax a run) and for the heads of
 * the blocks they let through, and decoded each (bench/query-traces-cold.ts
 * counts it; bench/README.md, s16). A database keeps the metadata it just
 * wrote: the bytes are in hand and already checked.
 *
 * Lifecycle, driven by TraceStore: `begin` at the start of writeFrozen
 * drops whatever an earlier flush left (a flush whose batch never became
 * durable never commits); `note` during writeFrozen keeps a reference to
 * each value put into the batch; `commit` in dropFrozen — after the batch is
 * durable, in the cache space the flush began in (else nothing: the
 * database was replaced meanwhile) — opens each value as its read would
 * (block-read.ts cacheWritten) and puts it in the cache.
 *
 * Invariants:
 * - #bytes is the sum of the noted values' lengths and stays at most
 *   #bytesMax (the cache's bytesMax / TraceStoreLimits.flushFillShareDivisor);
 *   a value past the bound is not noted (the read path still finds it);
 * - nothing reaches the cache before commit, so the cache never holds a
 *   value that is not durable under its key;
 * - the noted bytes are the batch's own arrays: nobody mutates them after
 *   the put (the batch itself relies on that).
 * NB: every replica of a shard fills its node's cache, though only the
 * leader serves linearizable searches; the share bound keeps the cost of
 * the followers' fills to at most that share of the cache a flush.
 */
import { assert } from '../../errors.js';
import { TraceStoreLimits } from '../../limits.js';
import type { BlockCacheRef } from './block-read.js';
import { cacheWritten } from './block-read.js';

/** FillKind is what a flush keeps: 'h' a block's head (the value under its block key), 'p' its page filters. */
export type FillKind = 'h' | 'p';

interface Noted {
  readonly kind: FillKind;
  readonly key: Uint8Array;
  readonly bytes: Uint8Array;
}

/** FlushFillReport says what one commit put into the cache (tests, benches). */
export interface FlushFillReport {
  readonly kept: number;
  readonly skipped: number;
}

/** FlushCacheFill is one traces store's fill of the block cache by its flushes; see the top of this file. */
export class FlushCacheFill {
  readonly #noted: Noted[] = [];
  #bytes = 0;
  #bytesMax = 0;
  #skipped = 0;
  /** #space is the cache space the flush began in: a commit into any other (the database was replaced meanwhile) keeps nothing. */
  #space: BlockCacheRef | null = null;

  /** begin starts a flush's fill for the store's cache space `c` (null: no cache, nothing is noted), dropping anything an earlier flush left. */
  begin(c: BlockCacheRef | null): void {
    this.#noted.length = 0;
    this.#bytes = 0;
    this.#skipped = 0;
    this.#space = c;
    const cacheBytesMax = c === null ? 0 : c.cache.stats().bytesMax;
    assert(Number.isSafeInteger(cacheBytesMax) && cacheBytesMax >= 0, 'cacheBytesMax >= 0');
    this.#bytesMax = Math.floor(cacheBytesMax / TraceStoreLimits.flushFillShareDivisor);
  }

  /** note keeps `bytes`, put into the flush's batch under `key`, for commit (not when over the share bound). */
  note(kind: FillKind, key: Uint8Array, bytes: Uint8Array): void {
    if (this.#bytes + bytes.length > this.#bytesMax) {
      this.#skipped++;
      return;
    }
    this.#noted.push({ kind, key, bytes });
    this.#bytes += bytes.length;
    assert(this.#bytes <= this.#bytesMax, 'noted bytes within the share bound');
  }

  /**
   * commit puts every noted value into `c`, the store's cache space now
   * (the flush is durable), and forgets them; when `c` is null or not the
   * space the flush began in (a snapshot or reload replaced the database,
   * whose block keys may name other blocks), they are dropped.
   */
  commit(c: BlockCacheRef | null): FlushFillReport {
    let kept = 0;
    const same = c !== null && c === this.#space;
    if (same) for (const n of this.#noted) if (cacheWritten(c, n.kind, n.key, n.bytes)) kept++;
    const report = { kept, skipped: this.#skipped + this.#noted.length - kept };
    this.#space = null;
    this.#noted.length = 0;
    this.#bytes = 0;
    this.#skipped = 0;
    return report;
  }
}
