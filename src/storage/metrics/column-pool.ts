/**
 * column-pool.ts — Float64Array columns a shard's metrics read decodes into
 * (metric-store.ts #readChunkBlocks: one values column a series, one times
 * column per shared times), lent for one read and taken back when its
 * reader is done, so a query's read does not allocate (and the garbage
 * collector does not sweep) 8 bytes a sample twice over every time.
 *
 * A ColumnLease hands out columns (`take`) and gives them all back at once
 * (`release`); it also lends the part's evaluation its working columns
 * (`takeScratch`: promql EvalScratch, an aggregation's group rows), up to
 * MetricStoreLimits.leaseScratchBytesMax a lease, given back with the
 * rest; the pool keeps what comes back, by capacity class (capacityOf:
 * at most a quarter more than the length asked), up to
 * MetricStoreLimits.readColumnPoolBytesMax of free columns, dropping the
 * rest to the collector.
 *
 * Invariants: a buffer is free in the pool or lent to exactly one open
 * lease, never both; a released lease takes nothing more and releases once;
 * a lease's scratch bytes lent (capacities) stay <= its scratch bound.
 * The lease's owner must release only when nothing reads its columns any
 * more — the answer it builds must not alias them (`holds` tells, so an
 * owner can copy what would). With `poison` (tests), a released column is
 * filled with NaN, so a reader that outlived its lease reads NaN, not
 * another read's samples by chance.
 * Owner: one node's metrics read service (query/metrics-read.ts); leases
 * belong to one shard part each.
 */
import { assert } from '../../errors.js';
import { MetricStoreLimits } from '../../limits.js';

/** ColumnAlloc is what a store read needs of a lease: a zeroed-or-not column of n samples it may write. */
export interface ColumnAlloc {
  take(n: number): Float64Array;
}

/**
 * capacityOf is the pooled length of a column of n samples: at least
 * MetricStoreLimits.readColumnSamplesMin, else the first of the quarter
 * steps between two powers of two at or above n (at most 25% unused).
 */
export function capacityOf(n: number): number {
  assert(Number.isSafeInteger(n) && n >= 0, 'a column length is a count');
  let c = MetricStoreLimits.readColumnSamplesMin;
  while (c < n) c *= 2;
  if (c === MetricStoreLimits.readColumnSamplesMin) return c;
  // c / 2 < n <= c: the quarter steps c/2 + c/8 … c.
  const quarter = c / 8;
  let q = c / 2 + quarter;
  while (q < n) q += quarter;
  assert(q >= n && q <= c, 'a quarter step at or above n');
  return q;
}

/** ColumnPool keeps released columns by capacity for the next leases; see the top of this file. */
export class ColumnPool {
  readonly #free = new Map<number, Float64Array[]>();
  #freeBytes = 0;
  readonly #bytesMax: number;
  readonly #poison: boolean;
  /** scratchBytesMax is what one lease lends as scratch at most (MetricStoreLimits.leaseScratchBytesMax unless a test sets it). */
  readonly scratchBytesMax: number;
  /** reused counts columns handed out from the pool, allocated those made new (tests, benches). */
  reused = 0;
  allocated = 0;

  constructor(o: { bytesMax?: number; poison?: boolean; scratchBytesMax?: number } = {}) {
    this.#bytesMax = o.bytesMax ?? MetricStoreLimits.readColumnPoolBytesMax;
    assert(Number.isSafeInteger(this.#bytesMax) && this.#bytesMax >= 0, 'a pool bound in bytes');
    this.scratchBytesMax = o.scratchBytesMax ?? MetricStoreLimits.leaseScratchBytesMax;
    assert(Number.isSafeInteger(this.scratchBytesMax) && this.scratchBytesMax >= 0, 'a scratch bound in bytes');
    this.#poison = o.poison ?? false;
  }

  /** freeBytes is the bytes of the columns the pool holds free. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** lease opens a lease for one read. */
  lease(): ColumnLease {
    return new ColumnLease(this);
  }

  /** get answers a free buffer of capacity `cap` or a new one (ColumnLease.take). */
  get(cap: number): Float64Array {
    const list = this.#free.get(cap);
    const buf = list?.pop();
    if (buf !== undefined) {
      this.#freeBytes -= buf.byteLength;
      this.reused++;
      return buf;
    }
    this.allocated++;
    return new Float64Array(cap);
  }

  /** put takes buffers back (ColumnLease.release), keeping them while the pool is under its bound. */
  put(bufs: readonly Float64Array[]): void {
    for (const buf of bufs) {
      if (this.#poison) buf.fill(NaN);
      if (this.#freeBytes + buf.byteLength > this.#bytesMax) continue;
      let list = this.#free.get(buf.length);
      if (list === undefined) this.#free.set(buf.length, (list = []));
      list.push(buf);
      this.#freeBytes += buf.byteLength;
    }
  }
}

/** ColumnLease lends one read its columns and gives them back together; see the top of this file. */
export class ColumnLease implements ColumnAlloc {
  readonly #pool: ColumnPool;
  readonly #lent: Float64Array[] = [];
  readonly #buffers = new Set<ArrayBufferLike>();
  #released = false;
  #scratchBytes = 0;

  /** scratchBytes is the bytes (capacities) this lease lent as scratch. */
  get scratchBytes(): number {
    return this.#scratchBytes;
  }

  constructor(pool: ColumnPool) {
    this.#pool = pool;
  }

  /** take lends a column of n samples (a view of a pooled buffer; its contents are whatever the last reader left). */
  take(n: number): Float64Array {
    assert(!this.#released, 'a released lease lends nothing');
    const buf = this.#pool.get(capacityOf(n));
    this.#lent.push(buf);
    this.#buffers.add(buf.buffer);
    return buf.subarray(0, n);
  }

  /**
   * takeScratch lends a column of n float64s to the evaluation (promql
   * source.ts EvalScratch, which a lease is) as take does, or answers null
   * when it would pass the pool's scratch bound for one lease (the
   * evaluation allocates its own then).
   */
  takeScratch(n: number): Float64Array | null {
    assert(!this.#released, 'a released lease lends nothing');
    const bytes = capacityOf(n) * Float64Array.BYTES_PER_ELEMENT;
    if (this.#scratchBytes + bytes > this.#pool.scratchBytesMax) return null;
    this.#scratchBytes += bytes;
    const col = this.take(n);
    assert(this.#scratchBytes <= this.#pool.scratchBytesMax, 'a lease lends scratch within its bound');
    return col;
  }

  /** holds says whether `a` is (a view of) a column this lease lent. */
  holds(a: Float64Array): boolean {
    return this.#buffers.has(a.buffer);
  }

  /** release gives every lent column back to the pool: nothing may read them afterwards. */
  release(): void {
    assert(!this.#released, 'a lease is released once');
    this.#released = true;
    this.#pool.put(this.#lent);
    this.#lent.length = 0;
    this.#buffers.clear();
  }
}
