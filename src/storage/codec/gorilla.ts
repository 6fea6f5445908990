/**
 * gorilla.ts — the Gorilla XOR chunk encoding (Pelkonen et al., VLDB 2015, §4.1):
 * delta-of-delta timestamps and XOR-compressed float64 values, one sample
 * after another in one bit stream.
 *
 *   byte 0: CHUNK_FORMAT_VERSION (1)
 *   byte 1: ChunkEncoding.Xor (0)
 *   bit stream (MSB first, zero-padded to a byte):
 *     uvarint(count)                      as 8-bit groups (LEB128)
 *     if count >= 1:
 *       t0                                64 bits two's complement        (chunk-format.ts)
 *       v0                                64 raw bits of the float64
 *       for i in 1 .. count-1:
 *         timestamp                       i = 1: uvarint(zigzag(t1 - t0)); then a dod
 *                                         '0' | '10'+7 | '110'+9 | '1110'+12 | '1111'+64   (chunk-format.ts)
 *         value: x = bits(v_i) XOR bits(v_{i-1})
 *           '0'                           x = 0 (same value)
 *           '10' + m bits                 x fits the previous window: lead(x) >= L and trail(x) >= T;
 *                                         m = 64 - L - T meaningful bits (x >> T)
 *           '11' + 5 bits L + 6 bits m-1 + m bits
 *                                         a new window: L = min(lead(x), 31), T = trail(x), m = 64 - L - T
 *
 * Values are taken as bit patterns (through a Uint32Array view of the input
 * Float64Array) and decoded into bit patterns, so NaN payloads (Prometheus'
 * stale marker 0x7ff0000000000002), ±Inf and -0 round-trip bit-exactly.
 *
 * The decoder state (XorValueDecoder) is a handful of numbers; decoding one
 * sample allocates nothing.
 */
import { BitWriter, clz64, corrupt, ctz64 } from './bits.js';
import type { BitReader } from './bits.js';
import { CHUNK_FORMAT_VERSION, ChunkEncoding, TimestampEncoder, checkChunkInput } from './chunk-format.js';

/** LEAD_MAX is the largest leading-zero count the 5-bit field holds. */
const LEAD_MAX = 31;

/** XorValueEncoder writes one value after another as Gorilla XOR fields. */
export class XorValueEncoder {
  #hi = 0;
  #lo = 0;
  #lead = -1;
  #trail = 0;

  /** first writes v0's 64 raw bits. */
  first(w: BitWriter, hi: number, lo: number): void {
    w.write64(hi, lo, 64);
    this.#hi = hi;
    this.#lo = lo;
    this.#lead = -1;
    this.#trail = 0;
  }

  /** next writes the XOR of hi:lo with the previous value. */
  next(w: BitWriter, hi: number, lo: number): void {
    const xh = (hi ^ this.#hi) >>> 0;
    const xl = (lo ^ this.#lo) >>> 0;
    this.#hi = hi;
    this.#lo = lo;
    if (xh === 0 && xl === 0) {
      w.writeBits(0, 1);
      return;
    }
    let lead = clz64(xh, xl);
    const trail = ctz64(xh, xl);
    if (this.#lead >= 0 && lead >= this.#lead && trail >= this.#trail) {
      w.writeBits(0b10, 2);
      writeShifted(w, xh, xl, this.#trail, 64 - this.#lead - this.#trail);
      return;
    }
    if (lead > LEAD_MAX) lead = LEAD_MAX;
    const m = 64 - lead - trail;
    w.writeBits(0b11, 2);
    w.writeBits(lead, 5);
    w.writeBits(m - 1, 6);
    writeShifted(w, xh, xl, trail, m);
    this.#lead = lead;
    this.#trail = trail;
  }
}

/** writeShifted writes the m bits of (xh:xl >> shift). */
function writeShifted(w: BitWriter, xh: number, xl: number, shift: number, m: number): void {
  let hi: number;
  let lo: number;
  if (shift === 0) {
    hi = xh;
    lo = xl;
  } else if (shift < 32) {
    lo = ((xl >>> shift) | (xh << (32 - shift))) >>> 0;
    hi = xh >>> shift;
  } else {
    lo = xh >>> (shift - 32);
    hi = 0;
  }
  w.write64(hi, lo, m);
}

/** XorValueDecoder reads the values written by XorValueEncoder into hi and lo (unsigned 32-bit halves). */
export class XorValueDecoder {
  /** hi is the top half of the current value's bits. */
  hi = 0;
  /** lo is the bottom half of the current value's bits. */
  lo = 0;
  #lead = -1;
  #trail = 0;

  /** first reads v0. */
  first(r: BitReader): void {
    r.read64(64);
    this.hi = r.hi;
    this.lo = r.lo;
    this.#lead = -1;
    this.#trail = 0;
  }

  /** next reads the next value. */
  next(r: BitReader): void {
    if (r.readBit() === 0) return;
    let lead: number;
    let trail: number;
    if (r.readBit() === 0) {
      if (this.#lead < 0) throw corrupt('XOR value reuses a window before any was set');
      lead = this.#lead;
      trail = this.#trail;
    } else {
      lead = r.readBits(5);
      const m = r.readBits(6) + 1;
      trail = 64 - lead - m;
      if (trail < 0) throw corrupt('XOR value window wider than 64 bits', { lead, bits: m });
      this.#lead = lead;
      this.#trail = trail;
    }
    r.read64(64 - lead - trail);
    let xh = r.hi;
    let xl = r.lo;
    if (trail >= 32) {
      xh = (xl << (trail - 32)) >>> 0;
      xl = 0;
    } else if (trail > 0) {
      xh = ((xh << trail) | (xl >>> (32 - trail))) >>> 0;
      xl = (xl << trail) >>> 0;
    }
    this.hi = (this.hi ^ xh) >>> 0;
    this.lo = (this.lo ^ xl) >>> 0;
  }
}

/**
 * encodeChunk encodes samples with the Gorilla XOR encoding (ChunkEncoding.Xor).
 * ts are integer ms within ±CodecLimits.timestampMsAbsMax (any order; sorted
 * times compress best); values are taken bit for bit. Throws
 * ERR_INVALID_ARGUMENT or ERR_LIMIT_EXCEEDED for bad input. Pass a writer to
 * reuse its buffer across chunks.
 */
export function encodeChunk(ts: ArrayLike<number>, values: Float64Array, w: BitWriter = new BitWriter()): Uint8Array {
  checkChunkInput(ts, values);
  writeXorChunk(ts, values, w, new TimestampEncoder(), new XorValueEncoder());
  return w.finish();
}

/**
 * writeXorChunk writes the chunk of encodeChunk into w (reset first) without
 * copying it out, for a caller that compares encodings before it picks one;
 * the input must have passed checkChunkInput.
 */
export function writeXorChunk(ts: ArrayLike<number>, values: Float64Array, w: BitWriter, te: TimestampEncoder, ve: XorValueEncoder): void {
  w.reset();
  w.writeBits(CHUNK_FORMAT_VERSION, 8);
  w.writeBits(ChunkEncoding.Xor, 8);
  const n = ts.length;
  w.writeUvarint(n);
  if (n > 0) {
    const bits = new Uint32Array(values.buffer, values.byteOffset, n * 2);
    te.first(w, ts[0] as number);
    ve.first(w, bits[1] as number, bits[0] as number);
    for (let i = 1; i < n; i++) {
      te.next(w, ts[i] as number);
      ve.next(w, bits[2 * i + 1] as number, bits[2 * i] as number);
    }
  }
}
