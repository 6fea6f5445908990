/**
 * value-cache.ts — the caches that let the rows of a request (and of the
 * requests after it on the same thread, proto-reader.ts ReaderCaches)
 * share their repeated attribute values and pairs instead of allocating one
 * per row (a span batch repeats http.method=GET hundreds of times): rows are
 * read-only, so sharing is invisible to readers and halves the decode's
 * garbage. Short strings themselves are cached by ProtoReader.string.
 *
 * All tables are direct-mapped with a fixed number of slots (a miss replaces
 * the slot): bounded memory, no eviction policy. Owned by a ReaderCaches;
 * every lookup checks what the slot holds, so a slot another reader refilled
 * is a miss, never a wrong value.
 */
import type { AnyValue, KeyValue } from '../storage/rows.js';

/** VALUE_CACHE_SLOTS is the number of slots of each table (a power of two). */
export const VALUE_CACHE_SLOTS = 256;
const PAIR_SLOTS = 1024;

/** ValueCache holds the shared AnyValues of short strings (by string-cache slot) and small ints, and shared KeyValues. */
export class ValueCache {
  /** stringValues[slot] is the AnyValue of the string in ProtoReader's string slot, or null. */
  readonly stringValues: (AnyValue | null)[] = new Array<AnyValue | null>(VALUE_CACHE_SLOTS).fill(null);
  readonly #intKeys = new Int32Array(VALUE_CACHE_SLOTS).fill(-1);
  readonly #intValues: (AnyValue | null)[] = new Array<AnyValue | null>(VALUE_CACHE_SLOTS).fill(null);
  readonly #pairKeys: string[] = new Array<string>(PAIR_SLOTS).fill('');
  readonly #pairValues: (AnyValue | null)[] = new Array<AnyValue | null>(PAIR_SLOTS).fill(null);
  readonly #pairs: (KeyValue | null)[] = new Array<KeyValue | null>(PAIR_SLOTS).fill(null);

  /** stringValue is the shared AnyValue of string `s` held in string-cache slot `slot`. */
  stringValue(slot: number, s: string): AnyValue {
    let v = this.stringValues[slot];
    // The slot's string is checked too: readers sharing these caches may have refilled the string slot in between.
    if (v === null || v === undefined || v.type !== 'string' || v.value !== s) {
      v = { type: 'string', value: s };
      this.stringValues[slot] = v;
    }
    return v;
  }

  /** intValue is the shared AnyValue of a small non-negative int `n` (< 2^31). */
  intValue(n: number): AnyValue {
    const slot = n & (VALUE_CACHE_SLOTS - 1);
    const known = this.#intValues[slot];
    if (this.#intKeys[slot] === n && known !== null && known !== undefined) return known;
    const v: AnyValue = { type: 'int', value: BigInt(n) };
    this.#intKeys[slot] = n;
    this.#intValues[slot] = v;
    return v;
  }

  /** pair is the shared {key, value} for a key from the string cache (slot `keySlot`) and a shared value. */
  pair(keySlot: number, key: string, value: AnyValue, valueHash: number): KeyValue {
    const slot = (Math.imul(keySlot, 0x9e3779b1) ^ valueHash) & (PAIR_SLOTS - 1);
    const known = this.#pairs[slot];
    if (known !== null && known !== undefined && this.#pairKeys[slot] === key && this.#pairValues[slot] === value) return known;
    const kv: KeyValue = { key, value };
    this.#pairKeys[slot] = key;
    this.#pairValues[slot] = value;
    this.#pairs[slot] = kv;
    return kv;
  }
}
