/**
 * byte-key-cache.ts — a direct-mapped cache of decoded values by the exact
 * bytes they were decoded from (log-entry-decode.ts): short strings, and
 * whole attribute pairs (key and scalar value) of logs-only entries. Keys,
 * short values and severity texts repeat on every record: a hit costs a
 * hash and a compare of the bytes instead of a decode, a UTF-8 check and
 * the reader's interning lookups.
 *
 * Invariants: a value is put only after its bytes decoded completely and
 * without error, so a hit returns what decoding those bytes returns (the
 * values are immutable or read-only rows: sharing one between entries and
 * tenants changes nothing a reader of them sees). Each of the `slots`
 * slots keeps at most `bytesMax` bytes; a new value replaces the one in
 * its slot. One cache per thread and use: a decode runs synchronously to
 * its end, and `slot` is only meaningful between a get and the put after
 * it. Pure code.
 */
import { assert } from '../errors.js';

/** ByteKeyCache is the direct-mapped cache of the file comment. */
export class ByteKeyCache<T> {
  readonly #bytes: Uint8Array;
  /** #lengths[i] is slot i's byte length; -1 for an empty slot. */
  readonly #lengths: Int16Array;
  readonly #values: (T | undefined)[];
  readonly #mask: number;
  /** bytesMax is the longest key (bytes) the cache keeps; callers check it before get. */
  readonly bytesMax: number;
  /** slot is the slot the last get looked in (put stores there). */
  slot = 0;

  /** The constructor takes the slot count (a power of two) and the longest key in bytes (at most 0x7fff). */
  constructor(slots: number, bytesMax: number) {
    assert(Number.isSafeInteger(slots) && slots >= 1 && (slots & (slots - 1)) === 0, 'ByteKeyCache slots is a power of two');
    assert(Number.isSafeInteger(bytesMax) && bytesMax >= 1 && bytesMax <= 0x7fff, 'a key length fits an Int16Array');
    this.#bytes = new Uint8Array(slots * bytesMax);
    this.#lengths = new Int16Array(slots).fill(-1);
    this.#values = new Array<T | undefined>(slots).fill(undefined);
    this.#mask = slots - 1;
    this.bytesMax = bytesMax;
  }

  /** get is the value of the bytes b[at, end) (at most bytesMax of them) when cached, else undefined; `slot` receives the slot to put it in. */
  get(b: Uint8Array, at: number, end: number): T | undefined {
    const n = end - at;
    let h = 0x811c9dc5 ^ n;
    for (let i = at; i < end; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
    // FNV-1a's low bits only see the bytes' low bits: mix the high half down before taking a slot.
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    const slot = (h >>> 0) & this.#mask;
    this.slot = slot;
    if (this.#lengths[slot] !== n) return undefined;
    const base = slot * this.bytesMax;
    const bytes = this.#bytes;
    for (let i = 0; i < n; i++) if (bytes[base + i] !== b[at + i]) return undefined;
    return this.#values[slot];
  }

  /** put stores `v`, decoded without error from b[at, end), in the slot the last get (of the same bytes) looked in. */
  put(b: Uint8Array, at: number, end: number, v: T): void {
    assert(end - at <= this.bytesMax, 'a cached key fits its slot');
    const slot = this.slot;
    this.#bytes.set(b.subarray(at, end), slot * this.bytesMax);
    this.#lengths[slot] = end - at;
    this.#values[slot] = v;
  }
}
