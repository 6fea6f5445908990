/**
 * shared-times.ts — which series of one chunk block read (metric-store.ts
 * #readChunkBlocks) can share one timestamps array.
 *
 * Series scraped together by one exporter reference one shared timestamp
 * column in a chunk block (chunk-block.ts). A read decodes every block of a
 * series into one column pair sized once; two series that reference a column
 * in every block, the same column of the same block each time, hold the same
 * times, so they can hold one times array: the read then allocates S + 1
 * columns for S such series instead of 2 S (and each decode writes the same
 * times into it again, a copy of equal values).
 *
 * Invariants: a key is the list of (block index, column ref) a series read,
 * in read order; a series that read times of its own (column ref 0) in any
 * block has no key and never shares. Two series share an array only if their
 * keys are equal, so they hold as many samples at the same times. Arrays
 * handed out are shared between series: readers must not write them
 * (store-head.ts SampleRun is read-only).
 */
import { assert } from '../../errors.js';
import type { ColumnAlloc } from './column-pool.js';

/** SharedTimes names, per series of one read, the times it reads, and hands out one array per distinct times. */
export class SharedTimes {
  /** #keys[id] is the series' (block, column) list so far, or null once it read times of its own. */
  readonly #keys = new Map<number, string | null>();
  readonly #arrays = new Map<string, Float64Array>();
  readonly #alloc: ColumnAlloc | undefined;

  /** alloc, when given, lends the times arrays (column-pool.ts), else they are allocated. */
  constructor(alloc?: ColumnAlloc) {
    this.#alloc = alloc;
  }

  #new(n: number): Float64Array {
    return this.#alloc?.take(n) ?? new Float64Array(n);
  }

  /** note records that series `id` reads block `block` (its index in the read) with column ref `ref` (0: its own times). */
  note(id: number, block: number, ref: number): void {
    assert(Number.isSafeInteger(block) && block >= 0 && Number.isSafeInteger(ref) && ref >= 0, 'SharedTimes.note: a block index and a column ref');
    const key = this.#keys.get(id);
    this.#keys.set(id, key === null || ref === 0 ? null : `${key ?? ''}${block}:${ref},`);
  }

  /** timesFor answers series `id`'s times array of n samples: shared with every series that read the same columns, else its own. */
  timesFor(id: number, n: number): Float64Array {
    const key = this.#keys.get(id) ?? null;
    if (key === null) return this.#new(n);
    let ts = this.#arrays.get(key);
    if (ts === undefined) this.#arrays.set(key, (ts = this.#new(n)));
    assert(ts.length === n, 'series that read the same columns hold as many samples');
    return ts;
  }
}
