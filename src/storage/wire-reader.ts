/**
 * wire-reader.ts — checked reads of values decoded by msgpackr, shared by the
 * decoders of stored formats (the shard entry, the idempotency window).
 *
 * A WireReader turns every failed check into one OtlpdbError: ERR_CORRUPTION
 * when it reads stored bytes, ERR_INVALID_ARGUMENT / ERR_LIMIT_EXCEEDED when
 * it checks input that is about to be written. Pure code.
 *
 * Ids (trace and span ids) are copied into slabs of StorageLimits.idSlabBytes
 * owned by the reader and returned as views: a decoded entry's ids then share
 * a few ArrayBuffers instead of holding one each (an ArrayBuffer costs ~90
 * bytes of heap plus an off-heap allocation, more than the id). Decoders create
 * one reader per decoded message, so a slab is pinned only by the ids of one
 * message (at most idSlabBytes - 1 bytes wasted per message).
 */
import { OtlpdbError, assert } from '../errors.js';
import { StorageLimits } from '../limits.js';
import type { AnyValue, KeyValue } from './rows.js';
import { SPAN_ID_BYTES, TRACE_ID_BYTES } from './rows.js';

/** WireMode says whose fault a failed check is: stored bytes ('stored') or a caller's input ('input'). */
export type WireMode = 'stored' | 'input';

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** sameBytes says whether `a` equals b[at, at + a.length) (the caller knows b holds that many bytes). */
function sameBytes(a: Uint8Array, b: Uint8Array, at: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[at + i]) return false;
  return true;
}

/** EMPTY_ID is the one empty id every reader returns for an absent optional id (length 0, so nothing can change it). */
const EMPTY_ID = new Uint8Array(0);

/** WireReader checks decoded msgpack values field by field; `what` names the field in the error. */
export class WireReader {
  readonly mode: WireMode;
  /** #slab holds the ids copied so far; ids are views of it. Invariant: 0 <= #slabAt <= #slab.length. */
  #slab: Uint8Array = EMPTY_ID;
  #slabAt = 0;
  /** #lastTraceId is the last trace-id-sized id returned: consecutive rows of one trace share one array. */
  #lastId: Uint8Array = EMPTY_ID;
  /** #keys interns attribute keys within one message (at most StorageLimits.internedKeysPerReaderMax). */
  readonly #keys = new Map<string, string>();
  /** #values interns short string and int attribute values within one message (at most StorageLimits.internedValuesPerReaderMax). */
  readonly #values = new Map<string | bigint, AnyValue>();
  /** #pairs interns attributes whose key and value are both interned (at most StorageLimits.internedValuesPerReaderMax in all). */
  readonly #pairs = new Map<string, Map<AnyValue, KeyValue>>();
  #pairCount = 0;
  /** #spanIds are the span ids read so far (id key -> array): a parent span id shares its parent's array. */
  readonly #spanIds = new Map<string, Uint8Array>();

  constructor(mode: WireMode) {
    this.mode = mode;
  }

  /** fail throws the error of this mode; `overLimit` picks ERR_LIMIT_EXCEEDED for input. */
  fail(what: string, problem: string, overLimit = false): never {
    if (this.mode === 'stored') throw new OtlpdbError('ERR_CORRUPTION', `stored ${what}: ${problem}`, { field: what });
    throw new OtlpdbError(overLimit ? 'ERR_LIMIT_EXCEEDED' : 'ERR_INVALID_ARGUMENT', `${what}: ${problem}`, { field: what });
  }

  /** array checks an array of at most `max` elements. */
  array(v: unknown, what: string, max: number): unknown[] {
    if (!Array.isArray(v)) this.fail(what, 'is not an array');
    if (v.length > max) this.fail(what, `has ${v.length} elements, more than ${max}`, true);
    return v as unknown[];
  }

  /** tuple checks an array of exactly `n` elements. */
  tuple(v: unknown, what: string, n: number): unknown[] {
    if (!Array.isArray(v)) this.fail(what, 'is not an array');
    if (v.length !== n) this.fail(what, `has ${v.length} fields, not ${n}`);
    return v as unknown[];
  }

  /** string checks a string of at most `maxBytes` UTF-8 bytes. */
  string(v: unknown, what: string, maxBytes: number): string {
    if (typeof v !== 'string') this.fail(what, 'is not a string');
    // A UTF-16 code unit takes at most 3 UTF-8 bytes, so short strings skip the exact count.
    if (v.length * 3 > maxBytes && Buffer.byteLength(v, 'utf8') > maxBytes) this.fail(what, `is longer than ${maxBytes} bytes`, true);
    return v;
  }

  /**
   * key checks a string like `string` and returns one shared copy per distinct
   * value within this message: attribute keys repeat on every row, and one
   * string kept instead of one per row is what the head retains.
   */
  key(v: unknown, what: string, maxBytes: number): string {
    const k = this.string(v, what, maxBytes);
    const known = this.#keys.get(k);
    if (known !== undefined) return known;
    if (this.#keys.size < StorageLimits.internedKeysPerReaderMax) this.#keys.set(k, k);
    return k;
  }

  /**
   * scalarValue checks a string (of at most `maxBytes` UTF-8 bytes) or a
   * 64-bit integer and returns its AnyValue, one shared object per distinct
   * value within this message for strings of at most
   * StorageLimits.internedValueCharsMax UTF-16 units and for integers:
   * low-cardinality attribute values (methods, status codes, systems) repeat
   * on every row.
   */
  scalarValue(v: string | bigint, what: string, maxBytes: number): AnyValue {
    const known = this.#values.get(v);
    if (known !== undefined) return known;
    let out: AnyValue;
    if (typeof v === 'string') {
      out = { type: 'string', value: this.string(v, what, maxBytes) };
      if (v.length > StorageLimits.internedValueCharsMax) return out;
    } else {
      out = { type: 'int', value: this.i64(v, what) };
    }
    if (this.#values.size < StorageLimits.internedValuesPerReaderMax) this.#values.set(v, out);
    return out;
  }

  /**
   * pair is the attribute {key, value}, one shared object per distinct pair
   * within this message when both came from `key` and `scalarValue` (the
   * caller says so with `shared`).
   */
  pair(key: string, value: AnyValue, shared: boolean): KeyValue {
    if (!shared) return { key, value };
    let byValue = this.#pairs.get(key);
    if (byValue === undefined) {
      byValue = new Map();
      this.#pairs.set(key, byValue);
    }
    const known = byValue.get(value);
    if (known !== undefined) return known;
    const kv: KeyValue = { key, value };
    if (this.#pairCount < StorageLimits.internedValuesPerReaderMax) {
      byValue.set(value, kv);
      this.#pairCount++;
    }
    return kv;
  }

  /**
   * spanId is `id(v, what, SPAN_ID_BYTES, optional)` that returns the array
   * of an equal span id read before by this reader (a parent span id is
   * usually the span id of an earlier span of the message), at most
   * StorageLimits.internedValuesPerReaderMax of them.
   */
  spanId(v: unknown, what: string, optional: boolean): Uint8Array {
    const b = this.id(v, what, SPAN_ID_BYTES, optional);
    if (b.length === 0) return b;
    const k = String.fromCharCode(b[0] as number, b[1] as number, b[2] as number, b[3] as number, b[4] as number, b[5] as number, b[6] as number, b[7] as number);
    const known = this.#spanIds.get(k);
    if (known !== undefined) return known;
    if (this.#spanIds.size < StorageLimits.internedValuesPerReaderMax) this.#spanIds.set(k, b);
    return b;
  }

  /** uint checks an integer in [0, max]. */
  uint(v: unknown, what: string, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(what, 'is not an integer');
    if (v < 0 || v > max) this.fail(what, `${v} is outside [0, ${max}]`);
    return v;
  }

  /** int checks an integer in [min, max]. */
  int(v: unknown, what: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(what, 'is not an integer');
    if (v < min || v > max) this.fail(what, `${v} is outside [${min}, ${max}]`);
    return v;
  }

  /** u32 checks an unsigned 32-bit integer. */
  u32(v: unknown, what: string): number {
    return this.uint(v, what, 0xffff_ffff);
  }

  /** count checks a non-negative safe integer. */
  count(v: unknown, what: string): number {
    return this.uint(v, what, Number.MAX_SAFE_INTEGER);
  }

  /** u64 checks a bigint in [0, 2^64). */
  u64(v: unknown, what: string): bigint {
    if (typeof v !== 'bigint') this.fail(what, 'is not a 64-bit integer');
    if (v < 0n || v > U64_MAX) this.fail(what, 'is outside the unsigned 64-bit range');
    return v;
  }

  /** i64 checks a bigint in [-2^63, 2^63). */
  i64(v: unknown, what: string): bigint {
    if (typeof v !== 'bigint') this.fail(what, 'is not a 64-bit integer');
    if (v < I64_MIN || v > I64_MAX) this.fail(what, 'is outside the signed 64-bit range');
    return v;
  }

  /** double checks a number (NaN and infinities are valid doubles). */
  double(v: unknown, what: string): number {
    if (typeof v !== 'number') this.fail(what, 'is not a number');
    return v;
  }

  /** nullableDouble checks a number or null. */
  nullableDouble(v: unknown, what: string): number | null {
    return v === null ? null : this.double(v, what);
  }

  /** bool checks a boolean. */
  bool(v: unknown, what: string): boolean {
    if (typeof v !== 'boolean') this.fail(what, 'is not a boolean');
    return v;
  }

  /**
   * bytes checks a byte string of at most `maxBytes` bytes and returns a copy
   * as a plain Uint8Array of its own (the decoder may hand views of its input,
   * which a kept value must not pin).
   */
  bytes(v: unknown, what: string, maxBytes: number): Uint8Array {
    if (!(v instanceof Uint8Array)) this.fail(what, 'is not a byte string');
    if (v.length > maxBytes) this.fail(what, `is longer than ${maxBytes} bytes`, true);
    const out = new Uint8Array(v.length);
    out.set(v);
    return out;
  }

  /**
   * id checks a byte string of exactly `length` bytes, or of 0 bytes when
   * `optional`, and returns a copy in this reader's id slab (or the shared
   * empty id). The checks and their errors are those of `bytes`.
   */
  id(v: unknown, what: string, length: number, optional: boolean): Uint8Array {
    if (!(v instanceof Uint8Array)) this.fail(what, 'is not a byte string');
    if (v.length > length) this.fail(what, `is longer than ${length} bytes`, true);
    if (v.length !== length && !(optional && v.length === 0)) this.fail(what, `is ${v.length} bytes, not ${optional ? `0 or ${length}` : length}`);
    if (length === 0 || v.length === 0) return EMPTY_ID;
    return this.#slabId(v, 0, length);
  }

  /**
   * idAt is `id` for an id of exactly `length` bytes (1..idSlabBytes) at
   * b[at, at + length), which the caller has checked are there and are the
   * whole byte string: the same copy in this reader's id slab, without a
   * view of the source made per id (log-entry-decode.ts reads ids from an
   * entry's bytes; bench/README.md, "## ingest", s20).
   */
  idAt(b: Uint8Array, at: number, length: number): Uint8Array {
    assert(length > 0 && Number.isInteger(at) && at >= 0 && at + length <= b.length, 'an id lies in its bytes');
    return this.#slabId(b, at, length);
  }

  /** #slabId copies b[at, at + length) into the id slab, or returns the last trace-sized id when equal. */
  #slabId(b: Uint8Array, at: number, length: number): Uint8Array {
    assert(length <= StorageLimits.idSlabBytes, 'an id fits one slab');
    // The spans (or log records) of one trace usually follow each other: they share one array.
    const last = this.#lastId;
    if (last.length === length && sameBytes(last, b, at)) return last;
    if (this.#slabAt + length > this.#slab.length) {
      this.#slab = new Uint8Array(StorageLimits.idSlabBytes);
      this.#slabAt = 0;
    }
    const slab = this.#slab;
    const from = this.#slabAt;
    // Byte by byte: an id is 8 or 16 bytes, and set() would want a view of the source.
    for (let i = 0; i < length; i++) slab[from + i] = b[at + i] as number;
    // The constructor, not subarray: subarray looks up a species constructor per call.
    const out = new Uint8Array(slab.buffer, from, length);
    this.#slabAt = from + length;
    assert(this.#slabAt <= slab.length, 'the slab cursor stays in the slab');
    if (length === TRACE_ID_BYTES) this.#lastId = out;
    return out;
  }
}
