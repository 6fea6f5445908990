/**
 * varint.ts — byte-aligned integer coding: unsigned LEB128 varints for safe
 * integers (0 .. 2^53-1), zigzag for signed ones, a growable ByteWriter, a
 * bounds-checked ByteReader, and delta helpers for integer arrays.
 *
 * Unsigned LEB128 (little-endian groups of 7 bits, high bit = "more"):
 *
 *   value 300 = 0b10_0101100
 *   byte 0: 1 0101100   (continuation, low 7 bits)
 *   byte 1: 0 0000010   (last, next 7 bits)
 *
 * At most 8 bytes (CodecLimits.varintBytesMax) for 53 bits; a varint whose
 * last byte is 0 after a continuation (non-canonical), longer than 8 bytes,
 * or above 2^53-1 is ERR_CORRUPTION.
 *
 * Zigzag maps signed to unsigned so that small magnitudes stay small:
 *   0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3, ...   (n >= 0 ? 2n : -2n - 1)
 * defined for |n| <= 2^52 so the result stays a safe integer.
 *
 * Delta layouts (no count: the caller's format stores it):
 *   sorted:   uvarint(v0) uvarint(v1 - v0) ... uvarint(v[n-1] - v[n-2])   (non-decreasing, v >= 0)
 *   unsorted: svarint(v0) svarint(v1 - v0) ...                            (svarint = uvarint(zigzag))
 *
 * Invariants (ByteWriter): 0 <= length <= bytes.length <= bytesMax; it owns
 * its buffer and finish() returns a copy. (ByteReader): start <= pos <= end;
 * every read is bounds-checked before it touches a byte.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { CodecLimits } from '../../limits.js';
import { corrupt } from './bits.js';

/** ZIGZAG_ABS_MAX is the largest |n| zigzagEncode accepts (so 2|n| stays a safe integer). */
export const ZIGZAG_ABS_MAX = 2 ** 52;

/** zigzagEncode maps a signed integer (|n| <= 2^52) to an unsigned one: 0,-1,1,-2 -> 0,1,2,3. */
export function zigzagEncode(n: number): number {
  if (!(Number.isSafeInteger(n) && n <= ZIGZAG_ABS_MAX && n >= -ZIGZAG_ABS_MAX)) {
    assert(false, `zigzagEncode takes an integer with |n| <= 2^52, got ${n}`);
  }
  return n >= 0 ? 2 * n : -2 * n - 1;
}

/** zigzagDecode inverts zigzagEncode. */
export function zigzagDecode(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** uvarintBytes returns the encoded length of an unsigned varint. */
export function uvarintBytes(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** ByteWriter appends bytes and varints to a growable buffer, refusing to grow past bytesMax. */
export class ByteWriter {
  /** bytes is the buffer; only [0, length) is meaningful. */
  bytes: Uint8Array;
  /** length is the number of bytes written. */
  length = 0;
  readonly #bytesMax: number;

  constructor(initialBytes: number = CodecLimits.writerInitialBytes, bytesMax: number = CodecLimits.writerBytesMax) {
    assert(initialBytes > 0, 'ByteWriter initialBytes > 0');
    assert(initialBytes <= bytesMax, 'ByteWriter initialBytes <= bytesMax');
    this.bytes = new Uint8Array(initialBytes);
    this.#bytesMax = bytesMax;
  }

  /** reset empties the writer and keeps its buffer. */
  reset(): void {
    this.length = 0;
  }

  /** ensure makes room for n more bytes (ERR_LIMIT_EXCEEDED past bytesMax). */
  ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.bytes.length) return;
    if (need > this.#bytesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `codec: byte writer would grow to ${need} bytes, past ${this.#bytesMax}`, {
        bytes: need,
        bytesMax: this.#bytesMax,
      });
    }
    let cap = this.bytes.length * 2;
    while (cap < need) cap *= 2;
    const grown = new Uint8Array(Math.min(cap, this.#bytesMax));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** u8 appends one byte. */
  u8(v: number): void {
    this.ensure(1);
    this.bytes[this.length++] = v;
  }

  /** uvarint appends an unsigned varint (v a safe integer >= 0). */
  uvarint(v: number): void {
    this.ensure(CodecLimits.varintBytesMax);
    const buf = this.bytes;
    let p = this.length;
    if (v >>> 0 === v) {
      // Fast path: an unsigned 32-bit integer, with 32-bit operations.
      let x = v;
      while (x >= 0x80) {
        buf[p++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      buf[p++] = x;
      this.length = p;
      return;
    }
    if (!(Number.isSafeInteger(v) && v >= 0)) assert(false, `uvarint takes a safe integer >= 0, got ${v}`);
    while (v >= 0x80) {
      buf[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[p++] = v;
    this.length = p;
  }

  /** svarint appends a signed integer (|v| <= 2^52) as uvarint(zigzag(v)). */
  svarint(v: number): void {
    this.uvarint(zigzagEncode(v));
  }

  /** raw appends bytes as they are. */
  raw(src: Uint8Array): void {
    this.ensure(src.length);
    this.bytes.set(src, this.length);
    this.length += src.length;
  }

  /** str appends a string as uvarint(UTF-8 byte length) then its UTF-8 bytes. */
  str(s: string): void {
    const b = UTF8_ENCODER.encode(s);
    this.uvarint(b.length);
    this.raw(b);
  }

  /** finish returns a copy of the bytes written; the writer may be reset and reused. */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** ByteReader reads bytes and varints from [start, end) of a buffer; any read past end is ERR_CORRUPTION. */
export class ByteReader {
  readonly bytes: Uint8Array;
  /** pos is the index of the next byte to read. */
  pos: number;
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end: number = bytes.length) {
    assert(start >= 0 && start <= end, 'ByteReader 0 <= start <= end');
    assert(end <= bytes.length, 'ByteReader end <= bytes.length');
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  /** remaining is the number of unread bytes. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** u8 reads one byte. */
  u8(): number {
    if (this.pos >= this.end) throw corrupt('byte stream truncated', { pos: this.pos });
    return this.bytes[this.pos++] as number;
  }

  /** uvarint reads an unsigned varint (canonical, <= 8 bytes, <= 2^53-1). */
  uvarint(): number {
    const buf = this.bytes;
    let p = this.pos;
    const end = this.end;
    // Fast path: up to 4 bytes (28 bits) with 32-bit operations.
    let v = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw corrupt('varint truncated', { pos: p });
      const b = buf[p++] as number;
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        if (b === 0 && shift > 0) throw corrupt('non-canonical varint', { pos: p });
        this.pos = p;
        return v;
      }
    }
    let scale = 2 ** 28;
    for (let i = 4; i < CodecLimits.varintBytesMax; i++) {
      if (p >= end) throw corrupt('varint truncated', { pos: p });
      const b = buf[p++] as number;
      v += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0) throw corrupt('non-canonical varint', { pos: p });
        if (!Number.isSafeInteger(v)) throw corrupt('varint above 2^53-1', { pos: p });
        this.pos = p;
        return v;
      }
      scale *= 0x80;
    }
    throw corrupt('varint too long', { pos: p });
  }

  /** svarint reads a zigzag varint. */
  svarint(): number {
    return zigzagDecode(this.uvarint());
  }

  /** skip passes over the next n bytes and answers where they start (no view: a reader that keeps offsets makes no garbage). */
  skip(n: number): number {
    if (!(n >= 0 && n <= this.end - this.pos)) throw corrupt('byte stream truncated', { pos: this.pos, want: n });
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** take returns a view of the next n bytes (no copy). */
  take(n: number): Uint8Array {
    if (!(n >= 0 && n <= this.end - this.pos)) throw corrupt('byte stream truncated', { pos: this.pos, want: n });
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * str reads what ByteWriter.str wrote: ERR_CORRUPTION when the length is
   * past `bytesMax` or the bytes are not UTF-8 (`what` names the field).
   */
  str(bytesMax: number, what: string): string {
    const n = this.uvarint();
    if (n > bytesMax) throw corrupt(`${what} of ${n} bytes is past ${bytesMax}`, { pos: this.pos });
    try {
      return UTF8_DECODER.decode(this.take(n));
    } catch (err) {
      if (err instanceof OtlpdbError) throw err;
      throw corrupt(`${what} is not UTF-8`, { pos: this.pos });
    }
  }
}

const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** writeDeltasSorted appends a non-decreasing array of safe integers >= 0 as uvarint(v0) then uvarint gaps. */
export function writeDeltasSorted(w: ByteWriter, values: ArrayLike<number>): void {
  let prev = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!(Number.isSafeInteger(v) && v >= prev)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `codec: sorted deltas need non-decreasing safe integers >= 0 (index ${i})`, {
        index: i,
      });
    }
    w.uvarint(v - prev);
    prev = v;
  }
}

/** readDeltasSorted reads count values written by writeDeltasSorted into out[0, count). */
export function readDeltasSorted(r: ByteReader, count: number, out: { [i: number]: number; length: number }): void {
  assert(out.length >= count, 'readDeltasSorted out has room');
  let prev = 0;
  for (let i = 0; i < count; i++) {
    prev += r.uvarint();
    if (!Number.isSafeInteger(prev)) throw corrupt('sorted delta sum above 2^53-1', { index: i });
    out[i] = prev;
  }
}

/** writeDeltasSigned appends safe integers in any order as zigzag varints of successive differences (|difference| <= 2^52). */
export function writeDeltasSigned(w: ByteWriter, values: ArrayLike<number>): void {
  let prev = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    const d = v - prev;
    if (!(Number.isSafeInteger(v) && Number.isSafeInteger(d) && Math.abs(d) <= ZIGZAG_ABS_MAX)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `codec: signed deltas need safe integers with |difference| <= 2^52 (index ${i})`, {
        index: i,
      });
    }
    w.svarint(d);
    prev = v;
  }
}

/** readDeltasSigned reads count values written by writeDeltasSigned into out[0, count). */
export function readDeltasSigned(r: ByteReader, count: number, out: { [i: number]: number; length: number }): void {
  assert(out.length >= count, 'readDeltasSigned out has room');
  let prev = 0;
  for (let i = 0; i < count; i++) {
    prev += r.svarint();
    if (!Number.isSafeInteger(prev)) throw corrupt('signed delta sum outside the safe integers', { index: i });
    out[i] = prev;
  }
}
