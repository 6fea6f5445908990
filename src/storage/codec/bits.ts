/**
 * bits.ts — a bit stream writer and reader, the base of the Gorilla and
 * decimal chunk codecs.
 *
 * Bit order: most significant bit first, in bytes written front to back. A
 * field of n bits occupies the next n bit positions; its top bit comes first.
 *
 *   byte:      0                 1
 *   bit:       7 6 5 4 3 2 1 0   7 6 5 4 3 2 1 0
 *   stream:    a a a b b b b b   b c . . . . . .    (a: 3 bits, b: 6 bits, c: 1 bit)
 *
 * The last byte is padded with zero bits. There is no header: the formats
 * built on top (gorilla.ts, decimal.ts) draw their own layout.
 *
 * 64-bit fields are written as two 32-bit halves (hi, lo) so that the hot
 * path stays on 32-bit integer operations; no bigint is created per field.
 *
 * Invariants (BitWriter): 0 <= #bit < 8; bytes [0, #byte) are complete; the
 * bits of #buf[#byte] above the #bit used ones are unspecified until written
 * (writes assign, they never OR into stale bytes). The writer owns its buffer;
 * finish() hands out a copy.
 * Invariants (BitReader): 0 <= #pos <= #end; a read past #end throws
 * ERR_CORRUPTION before touching any byte; the reader never writes its input.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { CodecLimits } from '../../limits.js';

/** corrupt builds the ERR_CORRUPTION every codec throws for bad or truncated input bytes. */
export function corrupt(what: string, details: Record<string, unknown> = {}): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `codec: ${what}`, details);
}

/** BitWriter appends fields of 0..64 bits to a growable buffer. */
export class BitWriter {
  #buf: Uint8Array;
  #byte = 0;
  #bit = 0;
  readonly #bytesMax: number;

  constructor(initialBytes: number = CodecLimits.writerInitialBytes, bytesMax: number = CodecLimits.writerBytesMax) {
    assert(initialBytes > 0, 'BitWriter initialBytes > 0');
    assert(initialBytes <= bytesMax, 'BitWriter initialBytes <= bytesMax');
    this.#buf = new Uint8Array(initialBytes);
    this.#bytesMax = bytesMax;
  }

  /** reset empties the writer and keeps its buffer for the next encoding. */
  reset(): void {
    this.#byte = 0;
    this.#bit = 0;
  }

  /** bitLength is the number of bits written so far. */
  get bitLength(): number {
    return this.#byte * 8 + this.#bit;
  }

  /** byteLength is the number of bytes finish() would return. */
  get byteLength(): number {
    return this.#bit === 0 ? this.#byte : this.#byte + 1;
  }

  #ensure(bytes: number): void {
    const need = this.#byte + bytes + 1;
    if (need <= this.#buf.length) return;
    if (need > this.#bytesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `codec: bit writer would grow to ${need} bytes, past ${this.#bytesMax}`, {
        bytes: need,
        bytesMax: this.#bytesMax,
      });
    }
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const grown = new Uint8Array(Math.min(cap, this.#bytesMax));
    grown.set(this.#buf.subarray(0, this.#byte + 1));
    this.#buf = grown;
  }

  /** writeBits appends the low n bits of v (0 <= n <= 32; higher bits of v are ignored). */
  writeBits(v: number, n: number): void {
    if (!(n >= 0 && n <= 32)) assert(false, `writeBits n in [0, 32], got ${n}`);
    this.#ensure(5);
    const buf = this.#buf;
    while (n > 0) {
      const free = 8 - this.#bit;
      const take = n < free ? n : free;
      const shift = n - take;
      const chunk = ((v >>> shift) & ((1 << take) - 1)) << (free - take);
      if (this.#bit === 0) buf[this.#byte] = chunk;
      else buf[this.#byte] = (buf[this.#byte] as number) | chunk;
      n -= take;
      this.#bit += take;
      if (this.#bit === 8) {
        this.#bit = 0;
        this.#byte++;
      }
    }
  }

  /** writeBit appends one bit (0 or 1). */
  writeBit(b: number): void {
    this.writeBits(b, 1);
  }

  /** write64 appends the low n bits (0 <= n <= 64) of the 64-bit value hi:lo (each an unsigned or signed 32-bit half). */
  write64(hi: number, lo: number, n: number): void {
    if (n <= 32) {
      this.writeBits(lo, n);
    } else {
      if (!(n <= 64)) assert(false, `write64 n in [0, 64], got ${n}`);
      this.writeBits(hi, n - 32);
      this.writeBits(lo, 32);
    }
  }

  /** writeBigInt appends the low n bits (0 <= n <= 64) of v; a convenience off the hot path. */
  writeBigInt(v: bigint, n: number): void {
    const u = BigInt.asUintN(64, v);
    this.write64(Number(u >> 32n), Number(u & 0xffff_ffffn), n);
  }

  /** writeUvarint appends an unsigned LEB128 varint (v a safe integer >= 0) as whole 8-bit fields at any bit alignment. */
  writeUvarint(v: number): void {
    if (!(Number.isSafeInteger(v) && v >= 0)) assert(false, `writeUvarint takes a safe integer >= 0, got ${v}`);
    while (v >= 0x80) {
      this.writeBits((v % 0x80) | 0x80, 8);
      v = Math.floor(v / 0x80);
    }
    this.writeBits(v, 8);
  }

  /** finish returns a copy of the bytes written (the last one zero-padded); the writer may be reset and reused. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.byteLength);
  }
}

/** BitReader reads fields of 0..64 bits from a byte range; reading past its end throws ERR_CORRUPTION. */
export class BitReader {
  #buf: Uint8Array;
  #pos: number;
  #end: number;
  /** hi is the top half of the last read64 (unsigned 32-bit). */
  hi = 0;
  /** lo is the bottom half of the last read64 (unsigned 32-bit). */
  lo = 0;

  constructor(bytes: Uint8Array, byteStart = 0, byteEnd: number = bytes.length) {
    this.#buf = bytes;
    this.#pos = 0;
    this.#end = 0;
    this.reset(bytes, byteStart, byteEnd);
  }

  /** reset points the reader at a new byte range [byteStart, byteEnd) of bytes. */
  reset(bytes: Uint8Array, byteStart = 0, byteEnd: number = bytes.length): void {
    assert(byteStart >= 0 && byteStart <= byteEnd, 'BitReader 0 <= byteStart <= byteEnd');
    assert(byteEnd <= bytes.length, 'BitReader byteEnd <= bytes.length');
    this.#buf = bytes;
    this.#pos = byteStart * 8;
    this.#end = byteEnd * 8;
  }

  /** bitPos is the absolute bit position of the next read. */
  get bitPos(): number {
    return this.#pos;
  }

  /** bitsLeft is the number of bits before the end of the range. */
  get bitsLeft(): number {
    return this.#end - this.#pos;
  }

  /** readBits reads an n-bit unsigned field (0 <= n <= 32). */
  readBits(n: number): number {
    if (!(n >= 0 && n <= 32)) assert(false, `readBits n in [0, 32], got ${n}`);
    let pos = this.#pos;
    if (pos + n > this.#end) throw corrupt('bit stream truncated', { bitPos: pos, bits: n, bitEnd: this.#end });
    const buf = this.#buf;
    let v = 0;
    while (n > 0) {
      const off = pos & 7;
      const avail = 8 - off;
      const take = n < avail ? n : avail;
      const bits = ((buf[pos >>> 3] as number) >>> (avail - take)) & ((1 << take) - 1);
      v = (v << take) | bits;
      n -= take;
      pos += take;
    }
    this.#pos = pos;
    return v >>> 0;
  }

  /**
   * readFields reads `count` consecutive n-bit unsigned fields (0 <= n <= 32)
   * into out[at .. at + count): readBits `count` times, with one bounds check
   * for the run (a truncated run is ERR_CORRUPTION before any field is read)
   * and no call per field; a field of up to 24 bits is cut from an
   * accumulator refilled a byte at a time, a wider one from one 32-bit word
   * (and a fifth byte when it straddles it), not byte by byte.
   */
  readFields(n: number, count: number, out: Float64Array, at: number): void {
    if (!(n >= 0 && n <= 32)) assert(false, `readFields n in [0, 32], got ${n}`);
    assert(Number.isSafeInteger(count) && count >= 0 && at >= 0 && at + count <= out.length, 'readFields: the run fits its column');
    let pos = this.#pos;
    if (pos + n * count > this.#end) throw corrupt('bit stream truncated', { bitPos: pos, bits: n * count, bitEnd: this.#end });
    const buf = this.#buf;
    let i = 0;
    if (n === 0) {
      out.fill(0, at, at + count);
      i = count;
    } else if (n <= 24 && count > 0) {
      // Fields of up to 24 bits: an accumulator of the next `have` unread bits (fewer than 32 after a refill),
      // refilled a byte at a time; it reads no byte past the run's last (inside #end, checked above).
      let byte = pos >>> 3;
      let have = 8 - (pos & 7);
      let acc = (buf[byte++] as number) & ((1 << have) - 1);
      const mask = (1 << n) - 1;
      for (; i < count; i++) {
        while (have < n) {
          acc = (acc << 8) | (buf[byte++] as number);
          have += 8;
        }
        have -= n;
        out[at + i] = (acc >>> have) & mask;
      }
      pos += n * count;
    }
    // A wider field (n <= 32 bits) at bit offset off (< 8) of byte b lies in bytes b .. b + 4: read them as one
    // big-endian word and a fifth byte, while all five are inside the buffer (bits past #end are never used:
    // the run's bound is checked above); the fields left near the buffer's end go bit by bit below.
    const sh = 32 - n;
    const wordEnd = buf.length - 4;
    for (; i < count; i++) {
      const b = pos >>> 3;
      if (b >= wordEnd) break;
      const off = pos & 7;
      const word = ((buf[b] as number) << 24) | ((buf[b + 1] as number) << 16) | ((buf[b + 2] as number) << 8) | (buf[b + 3] as number);
      let v = (word << off) >>> sh;
      if (off > sh) v = (v | ((buf[b + 4] as number) >>> (8 + sh - off))) >>> 0;
      out[at + i] = v;
      pos += n;
    }
    for (; i < count; i++) {
      let left = n;
      let v = 0;
      while (left > 0) {
        const off = pos & 7;
        const avail = 8 - off;
        const take = left < avail ? left : avail;
        v = (v << take) | (((buf[pos >>> 3] as number) >>> (avail - take)) & ((1 << take) - 1));
        left -= take;
        pos += take;
      }
      out[at + i] = v >>> 0;
    }
    this.#pos = pos;
  }

  /**
   * readDeltaRun reads `count` consecutive n-bit fields (1 <= n <= 24) as
   * readFields does and sums them as a compact decimal chunk's delta order
   * does — m += (rMin + field) × g, out[at + i] = m / p — in one loop, with
   * no column of fields between the two; it answers m after the last field.
   * The caller proves beforehand that no per-sample check of the order
   * could fail and that every partial sum stays far under 2^53
   * (compact-decimal-run.ts deltaRunUnchecked): this loop makes no check.
   * Where the fields and rMin are small (a counter's usual chunk) the
   * residuals are summed as an int32 and added to m once a sample, which
   * the bound makes exact; with p = 1 and g = 1 no division a sample (m / 1
   * is m, bit for bit).
   */
  readDeltaRun(n: number, count: number, rMin: number, g: number, m: number, p: number, out: Float64Array, at: number): number {
    if (!(n >= 1 && n <= 24)) assert(false, `readDeltaRun n in [1, 24], got ${n}`);
    assert(Number.isSafeInteger(count) && count >= 1 && at >= 0 && at + count <= out.length, 'readDeltaRun: the run fits its column');
    const pos = this.#pos;
    if (pos + n * count > this.#end) throw corrupt('bit stream truncated', { bitPos: pos, bits: n * count, bitEnd: this.#end });
    const last = deltaFields(this.#buf, pos, n, count, rMin, g, m, p, out, at);
    this.#pos = pos + n * count;
    return last;
  }

  /** readBit reads one bit. */
  readBit(): number {
    const pos = this.#pos;
    if (pos >= this.#end) throw corrupt('bit stream truncated', { bitPos: pos, bits: 1, bitEnd: this.#end });
    this.#pos = pos + 1;
    return ((this.#buf[pos >>> 3] as number) >>> (7 - (pos & 7))) & 1;
  }

  /** read64 reads an n-bit field (0 <= n <= 64) into this.hi and this.lo (no allocation). */
  read64(n: number): void {
    if (n <= 32) {
      this.hi = 0;
      this.lo = this.readBits(n);
    } else {
      if (!(n <= 64)) assert(false, `read64 n in [0, 64], got ${n}`);
      this.hi = this.readBits(n - 32);
      this.lo = this.readBits(32);
    }
  }

  /** readBigInt reads an n-bit field (0 <= n <= 64) as an unsigned bigint; a convenience off the hot path. */
  readBigInt(n: number): bigint {
    this.read64(n);
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** readUvarint reads an unsigned LEB128 varint written by writeUvarint; malformed or > 2^53-1 is ERR_CORRUPTION. */
  readUvarint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < CodecLimits.varintBytesMax; i++) {
      const b = this.readBits(8);
      v += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0 && i > 0) throw corrupt('non-canonical varint', { bitPos: this.#pos });
        if (!Number.isSafeInteger(v)) throw corrupt('varint above 2^53-1', { bitPos: this.#pos });
        return v;
      }
      scale *= 0x80;
    }
    throw corrupt('varint too long', { bitPos: this.#pos });
  }

  /** checkPadding requires that fewer than 8 bits remain and that they are all zero (the writer's padding). */
  checkPadding(): void {
    const left = this.#end - this.#pos;
    if (left >= 8) throw corrupt('trailing bytes after the last field', { bitsLeft: left });
    if (left > 0 && this.readBits(left) !== 0) throw corrupt('non-zero padding bits');
  }
}

// Float64 <-> two 32-bit halves, through one scratch buffer. NB: module-level
// scratch, but stateless between calls (each call writes then reads it), and
// JavaScript runs one call at a time, so no caller can observe another's use.
const f64Scratch = new Float64Array(1);
const u32Scratch = new Uint32Array(f64Scratch.buffer);
f64Scratch[0] = 1;
// The halves below assume a little-endian host (x86-64, arm64): word 0 is lo.
assert(u32Scratch[1] === 0x3ff0_0000 && u32Scratch[0] === 0, 'little-endian host');

/** INT_SUM_FIELD_BITS_MAX, INT_SUM_RMIN_ABS_MAX and INT_SUM_FIELDS_MAX bound the delta runs deltaFields sums as an int32. */
const INT_SUM_FIELD_BITS_MAX = 20;
const INT_SUM_RMIN_ABS_MAX = 2 ** 20;
const INT_SUM_FIELDS_MAX = 256;
assert(INT_SUM_FIELDS_MAX * (INT_SUM_RMIN_ABS_MAX + 2 ** INT_SUM_FIELD_BITS_MAX) < 2 ** 31, 'an int32-summed delta run cannot overflow its sum');

/**
 * deltaFields is BitReader.readDeltaRun's loop over buf from bit `pos` (the
 * run checked inside the reader's range by the caller). NB: a function of
 * its own, not the method's body: as the method's body the loop (then with
 * a double running sum) ran at about 4 ns a field in a focused loop, as a
 * function at 1.3 (s19; why V8 compiled the two apart was not traced, and
 * the int32 sum was not measured both ways). readFields's own loop moved
 * out the same way did not change (1.9-2.0 ns a 7-bit field either way).
 */
function deltaFields(buf: Uint8Array, pos: number, n: number, count: number, rMin: number, g: number, m: number, p: number, out: Float64Array, at: number): number {
  // The accumulator of readFields: the next `have` unread bits, refilled a byte at a time, no byte past the run's last read.
  let byte = pos >>> 3;
  let have = 8 - (pos & 7);
  let acc = (buf[byte++] as number) & ((1 << have) - 1);
  const mask = (1 << n) - 1;
  if (n <= INT_SUM_FIELD_BITS_MAX && rMin <= INT_SUM_RMIN_ABS_MAX && rMin >= -INT_SUM_RMIN_ABS_MAX && count <= INT_SUM_FIELDS_MAX) {
    // The residuals' running sum s stays an int32 (|s| <= 256 × 2^21 < 2^31, asserted at load): the loop carries an integer add, not a
    // double one. m + s × g is the sequential sum's value, bit for bit: every partial sum is an integer the caller
    // bounded far under 2^53 (deltaRunUnchecked), so exact in either order. m / 1 is m: an integer counter (p = 1,
    // g = 1) makes no division a sample.
    let s = 0;
    if (p === 1 && g === 1) {
      for (let i = 0; i < count; i++) {
        while (have < n) {
          acc = (acc << 8) | (buf[byte++] as number);
          have += 8;
        }
        have -= n;
        s = (s + rMin + ((acc >>> have) & mask)) | 0;
        out[at + i] = m + s;
      }
    } else {
      for (let i = 0; i < count; i++) {
        while (have < n) {
          acc = (acc << 8) | (buf[byte++] as number);
          have += 8;
        }
        have -= n;
        s = (s + rMin + ((acc >>> have) & mask)) | 0;
        out[at + i] = (m + s * g) / p;
      }
    }
    return m + s * g;
  }
  for (let i = 0; i < count; i++) {
    while (have < n) {
      acc = (acc << 8) | (buf[byte++] as number);
      have += 8;
    }
    have -= n;
    m += (rMin + ((acc >>> have) & mask)) * g;
    out[at + i] = m / p;
  }
  return m;
}

/** float64Hi returns the top 32 bits (sign, exponent, top of mantissa) of v. */
export function float64Hi(v: number): number {
  f64Scratch[0] = v;
  return u32Scratch[1] as number;
}

/** float64Lo returns the bottom 32 bits of v's mantissa. */
export function float64Lo(v: number): number {
  f64Scratch[0] = v;
  return u32Scratch[0] as number;
}

/** float64FromBits builds the float64 whose bits are hi:lo (NaN payloads may be canonicalized by the engine once held as a number). */
export function float64FromBits(hi: number, lo: number): number {
  u32Scratch[1] = hi;
  u32Scratch[0] = lo;
  return f64Scratch[0] as number;
}

/** clz64 counts the leading zero bits of hi:lo (64 when both are zero). */
export function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

/** ctz32 counts the trailing zero bits of a 32-bit value (32 for zero). */
export function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

/** ctz64 counts the trailing zero bits of hi:lo (64 when both are zero). */
export function ctz64(hi: number, lo: number): number {
  return lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
}

/** TWO_32 is 2^32, the split of a 53-bit integer into two 32-bit halves. */
export const TWO_32 = 0x1_0000_0000;

/** bitWidth53 returns the bits needed for an unsigned integer x < 2^53. */
export function bitWidth53(x: number): number {
  if (x < TWO_32) return 32 - Math.clz32(x);
  return 64 - Math.clz32(Math.floor(x / TWO_32));
}

/** writeWide writes an unsigned integer x < 2^53 in `width` bits (up to 53), through write64 past 32 bits. */
export function writeWide(w: BitWriter, x: number, width: number): void {
  if (width <= 32) {
    w.writeBits(x, width);
    return;
  }
  const hi = Math.floor(x / TWO_32);
  w.write64(hi, x - hi * TWO_32, width);
}
