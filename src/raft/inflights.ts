/**
 * inflights.ts — the append messages a leader has sent to one follower in
 * Replicate state and not yet seen acknowledged (etcd's tracker.Inflights).
 *
 * Invariants:
 * - 0 <= count <= capacity; 0 <= bytes.
 * - The recorded last indexes increase from the oldest to the newest slot.
 * - Full when count === capacity or bytes >= bytesMax: the sender pauses.
 * Storage is a ring buffer of two parallel number arrays that grows up to
 * `capacity` (no allocation per message once grown).
 */
import { assert } from '../errors.js';

/** Inflights is a ring buffer of (last index, bytes) per in-flight append, bounded by count and bytes. */
export class Inflights {
  /** capacity is the maximum number of in-flight messages (inflightMsgsMax). */
  readonly capacity: number;
  /** bytesMax is the maximum of in-flight entry bytes (inflightBytesMax); 0 means unbounded. */
  readonly bytesMax: number;
  #start = 0;
  #count = 0;
  #bytes = 0;
  #indexes: number[] = [];
  #sizes: number[] = [];

  constructor(capacity: number, bytesMax: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, 'inflights capacity > 0');
    assert(bytesMax >= 0, 'inflights bytesMax >= 0');
    this.capacity = capacity;
    this.bytesMax = bytesMax;
  }

  /** count is the number of messages in flight. */
  get count(): number {
    return this.#count;
  }

  /** bytes is the number of entry bytes in flight. */
  get bytes(): number {
    return this.#bytes;
  }

  /** clone copies the buffer (for tests and status). */
  clone(): Inflights {
    const c = new Inflights(this.capacity, this.bytesMax);
    this.forEach((index, bytes) => c.add(index, bytes));
    return c;
  }

  /** add records an append whose last entry is `index`, carrying `bytes` entry bytes. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'cannot add to full inflights');
    assert(bytes >= 0, 'inflight bytes >= 0');
    let next = this.#start + this.#count;
    if (next >= this.capacity) next -= this.capacity;
    if (next >= this.#indexes.length) {
      // Grow lazily (only while the ring has not wrapped into its prefix).
      assert(next === this.#indexes.length, 'inflights grow contiguously');
      this.#indexes.push(index);
      this.#sizes.push(bytes);
    } else {
      this.#indexes[next] = index;
      this.#sizes[next] = bytes;
    }
    this.#count++;
    this.#bytes += bytes;
  }

  /** freeLE frees every in-flight append whose last index is <= `to` (they were acknowledged). */
  freeLE(to: number): void {
    if (this.#count === 0) return;
    let idx = this.#start;
    let freed = 0;
    let freedBytes = 0;
    const cap = this.capacity;
    while (freed < this.#count) {
      const index = this.#indexes[idx] as number;
      if (index > to) break;
      freedBytes += this.#sizes[idx] as number;
      freed++;
      idx++;
      if (idx >= cap) idx -= cap;
    }
    this.#count -= freed;
    this.#bytes -= freedBytes;
    this.#start = this.#count === 0 ? 0 : idx;
    assert(this.#count >= 0, 'inflights count >= 0');
    assert(this.#bytes >= 0, 'inflights bytes >= 0');
  }

  /** freeFirstOne frees the oldest in-flight append (a heartbeat response proves the link works; etcd). */
  freeFirstOne(): void {
    if (this.#count === 0) return;
    this.freeLE(this.#indexes[this.#start] as number);
  }

  /** full says whether the sender must pause (count or byte limit reached). */
  full(): boolean {
    return this.#count === this.capacity || (this.bytesMax !== 0 && this.#bytes >= this.bytesMax);
  }

  /** reset frees everything. */
  reset(): void {
    this.#start = 0;
    this.#count = 0;
    this.#bytes = 0;
    this.#indexes.length = 0;
    this.#sizes.length = 0;
  }

  /** forEach visits the in-flight appends from the oldest. */
  forEach(fn: (index: number, bytes: number) => void): void {
    let idx = this.#start;
    for (let k = 0; k < this.#count; k++) {
      fn(this.#indexes[idx] as number, this.#sizes[idx] as number);
      idx++;
      if (idx >= this.capacity) idx -= this.capacity;
    }
  }
}
