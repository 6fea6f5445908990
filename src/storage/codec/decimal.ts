/**
 * decimal.ts — the decimal chunk encoding: where every value of a chunk is a
 * decimal with at most D <= CodecLimits.decimalDigitsMax digits after the
 * point (counters, gauges reported with 2 decimals, percentages), the values
 * are stored as the integers m_i = v_i × 10^D, delta or delta-of-delta coded
 * and bit-packed at one width (frame of reference: residual − min). Gorilla
 * XOR does badly on such values because 0.1-steps flip many mantissa bits.
 *
 *   byte 0: CHUNK_FORMAT_VERSION (1)
 *   byte 1: ChunkEncoding.Decimal (1)
 *   bit stream (MSB first, zero-padded to a byte):
 *     uvarint(count)                         8-bit groups (LEB128)
 *     if count >= 1:
 *       8 bits  D                            digits, <= decimalDigitsMax
 *       8 bits  mode                         0: residual r_i = m_i − m_{i−1}          (i >= 1)
 *                                            1: residual r_i = d_i − d_{i−1}, d_i = m_i − m_{i−1}  (i >= 2)
 *       uvarint(zigzag(m_0))
 *       if mode = 1 and count >= 2: uvarint(zigzag(d_1))
 *       if there are residuals:
 *         uvarint(zigzag(min residual))
 *         8 bits  w                          width of (r_i − min), <= 54
 *       t0                                   64 bits two's complement  (chunk-format.ts)
 *       for i in 1 .. count-1:
 *         timestamp                          i = 1: zigzag varint delta; then a Gorilla dod (chunk-format.ts)
 *         w bits  r_i − min                  (only for i with a residual: mode 1 has none at i = 1)
 *
 *   value v_i = m_i / 10^D  (one correctly rounded division by an exact power of ten)
 *
 * The encoder only picks this encoding when every value round-trips through
 * that division bit-exactly (so never for NaN, ±Inf or -0) and |m_i| <=
 * CodecLimits.decimalScaledAbsMax; otherwise encodeDecimalChunk returns null
 * and the caller keeps XOR. The decoder re-checks every bound, so corrupt
 * bytes become ERR_CORRUPTION, never inexact arithmetic.
 */
import { CodecLimits } from '../../limits.js';
import { BitWriter, TWO_32, bitWidth53, corrupt, writeWide } from './bits.js';
import type { BitReader } from './bits.js';
import { CHUNK_FORMAT_VERSION, ChunkEncoding, TimestampEncoder, checkChunkInput } from './chunk-format.js';
import { zigzagDecode, zigzagEncode } from './varint.js';

const M_MAX = CodecLimits.decimalScaledAbsMax;
/** WIDTH_MAX is the widest residual field: a delta-of-delta residual − min <= 8 × M_MAX = 2^53 needs 54 bits. */
const WIDTH_MAX = 54;

/** POW10[d] is 10^d, exact as a double for d <= 22. */
const POW10: readonly number[] = Array.from({ length: CodecLimits.decimalDigitsMax + 1 }, (_, d) => 10 ** d);

/** DecimalMode says what the bit-packed residuals are. */
export const DecimalMode = {
  /** Delta: r_i = m_i − m_{i−1}. */
  Delta: 0,
  /** DeltaOfDelta: r_i = (m_i − m_{i−1}) − (m_{i−1} − m_{i−2}). */
  DeltaOfDelta: 1,
} as const;

/** decimalDigits returns the fewest digits d <= decimalDigitsMax with round(v × 10^d) / 10^d === v, or -1. */
export function decimalDigits(v: number): number {
  if (!Number.isFinite(v) || Object.is(v, -0)) return -1;
  for (let d = 0; d < POW10.length; d++) {
    const p = POW10[d] as number;
    const m = Math.round(v * p);
    if (m / p === v) return m <= M_MAX && m >= -M_MAX ? d : -1;
  }
  return -1;
}

/**
 * DecimalScratch holds the scaled integers of one chunk so that repeated
 * encodings reuse one buffer instead of allocating per chunk.
 */
export class DecimalScratch {
  scaled = new Float64Array(CodecLimits.chunkSamplesDefault);

  /** ensure makes scaled hold at least n entries. */
  ensure(n: number): Float64Array {
    if (this.scaled.length < n) this.scaled = new Float64Array(n);
    return this.scaled;
  }
}

/**
 * encodeDecimalChunk encodes samples with the decimal encoding, or returns
 * null when some value would not round-trip bit-exactly (then use XOR).
 * Same arguments and errors as encodeChunk.
 */
export function encodeDecimalChunk(
  ts: ArrayLike<number>,
  values: Float64Array,
  w: BitWriter = new BitWriter(),
  scratch: DecimalScratch = new DecimalScratch(),
): Uint8Array | null {
  checkChunkInput(ts, values);
  const n = values.length;
  // Pass 1: the digits D of the chunk (the most any value needs).
  let digits = 0;
  for (let i = 0; i < n; i++) {
    const d = decimalDigits(values[i] as number);
    if (d < 0) return null;
    if (d > digits) digits = d;
  }
  // Pass 2: scale, and check every value's round trip at D.
  const p = POW10[digits] as number;
  const m = scratch.ensure(n);
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    const s = Math.round(v * p);
    if (!(s <= M_MAX && s >= -M_MAX) || s / p !== v) return null;
    m[i] = s;
  }
  // Pass 3: residual ranges of both modes; pick the cheaper.
  let dMin = Infinity;
  let dMax = -Infinity;
  let ddMin = Infinity;
  let ddMax = -Infinity;
  for (let i = 1; i < n; i++) {
    const d = (m[i] as number) - (m[i - 1] as number);
    if (d < dMin) dMin = d;
    if (d > dMax) dMax = d;
    if (i >= 2) {
      const dd = d - ((m[i - 1] as number) - (m[i - 2] as number));
      if (dd < ddMin) ddMin = dd;
      if (dd > ddMax) ddMax = dd;
    }
  }
  const deltaWidth = n >= 2 ? bitWidth53(dMax - dMin) : 0;
  const dodWidth = n >= 3 ? bitWidth53(ddMax - ddMin) : 0;
  // Bits of each mode beyond what they share (varints counted at 8 bits per 7).
  const deltaBits = n >= 2 ? deltaWidth * (n - 1) + varintBits(zigzagEncode(dMin)) : 0;
  const dodBits =
    n >= 2 ? dodWidth * Math.max(0, n - 2) + varintBits(zigzagEncode((m[1] as number) - (m[0] as number))) + (n >= 3 ? varintBits(zigzagEncode(ddMin)) : 0) : 0;
  const mode = n >= 3 && dodBits < deltaBits ? DecimalMode.DeltaOfDelta : DecimalMode.Delta;
  const rMin = mode === DecimalMode.Delta ? dMin : ddMin;
  const width = mode === DecimalMode.Delta ? deltaWidth : dodWidth;

  w.reset();
  w.writeBits(CHUNK_FORMAT_VERSION, 8);
  w.writeBits(ChunkEncoding.Decimal, 8);
  w.writeUvarint(n);
  if (n === 0) return w.finish();
  w.writeBits(digits, 8);
  w.writeBits(mode, 8);
  w.writeUvarint(zigzagEncode(m[0] as number));
  const firstResidual = mode === DecimalMode.Delta ? 1 : 2;
  if (mode === DecimalMode.DeltaOfDelta) w.writeUvarint(zigzagEncode((m[1] as number) - (m[0] as number)));
  if (n > firstResidual) {
    w.writeUvarint(zigzagEncode(rMin));
    w.writeBits(width, 8);
  }
  const te = new TimestampEncoder();
  te.first(w, ts[0] as number);
  for (let i = 1; i < n; i++) {
    te.next(w, ts[i] as number);
    if (i < firstResidual) continue;
    const d = (m[i] as number) - (m[i - 1] as number);
    const r = mode === DecimalMode.Delta ? d : d - ((m[i - 1] as number) - (m[i - 2] as number));
    writeWide(w, r - rMin, width);
  }
  return w.finish();
}

function varintBits(v: number): number {
  let n = 8;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n += 8;
  }
  return n;
}

/** DecimalValueDecoder reads the values of a decimal chunk, one after another, without allocating. */
export class DecimalValueDecoder {
  /** value is the current value. */
  value = 0;
  #p = 1;
  #mode = 0;
  #m = 0;
  #d = 0;
  #rMin = 0;
  #width = 0;
  #i = 0;

  /** header reads the fields after the count (count >= 1) and sets value to v_0. */
  header(r: BitReader, count: number): void {
    const digits = r.readBits(8);
    if (digits > CodecLimits.decimalDigitsMax) throw corrupt(`decimal chunk with ${digits} digits`);
    const mode = r.readBits(8);
    if (mode !== DecimalMode.Delta && mode !== DecimalMode.DeltaOfDelta) throw corrupt(`unknown decimal mode ${mode}`);
    this.#p = POW10[digits] as number;
    this.#mode = mode;
    this.#m = checkScaled(zigzagDecode(r.readUvarint()));
    this.#d = 0;
    this.#rMin = 0;
    this.#width = 0;
    this.#i = 0;
    if (mode === DecimalMode.DeltaOfDelta && count >= 2) this.#d = checkDelta(zigzagDecode(r.readUvarint()));
    const firstResidual = mode === DecimalMode.Delta ? 1 : 2;
    if (count > firstResidual) {
      const rMin = zigzagDecode(r.readUvarint());
      if (!(rMin <= 4 * M_MAX && rMin >= -4 * M_MAX)) throw corrupt('decimal residual minimum out of range');
      this.#rMin = rMin;
      this.#width = r.readBits(8);
      if (this.#width > WIDTH_MAX) throw corrupt(`decimal residual width ${this.#width}`);
    }
    this.value = this.#m / this.#p;
  }

  /** next reads v_{i+1} (its fields follow its timestamp in the stream). */
  next(r: BitReader): void {
    const i = ++this.#i;
    if (this.#mode === DecimalMode.Delta) {
      this.#d = checkDelta(this.#rMin + this.#readWide(r));
    } else if (i >= 2) {
      this.#d = checkDelta(this.#d + this.#rMin + this.#readWide(r));
    }
    this.#m = checkScaled(this.#m + this.#d);
    this.value = this.#m / this.#p;
  }

  #readWide(r: BitReader): number {
    const width = this.#width;
    if (width <= 32) return r.readBits(width);
    r.read64(width);
    return r.hi * TWO_32 + r.lo;
  }
}

function checkScaled(m: number): number {
  if (!(m <= M_MAX && m >= -M_MAX)) throw corrupt('decimal scaled value out of range');
  return m;
}

function checkDelta(d: number): number {
  if (!(d <= 2 * M_MAX && d >= -2 * M_MAX)) throw corrupt('decimal delta out of range');
  return d;
}
