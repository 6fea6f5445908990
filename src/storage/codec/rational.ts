/**
 * rational.ts — the rational chunk encoding (ChunkEncoding.Rational): every
 * value is exactly p_i / q_i (one correctly rounded division) for integers
 * with 1 <= q_i <= RATIONAL_Q_MAX. Utilizations and rates are such ratios
 * (system.cpu.utilization = 680 / 998 = 0.6813627254509018): their float64
 * has a full 52-bit mantissa that XOR cannot shrink and no short decimal, but
 * p and q are about ten bits each.
 *
 *   byte 0: CHUNK_FORMAT_VERSION (1)
 *   byte 1: ChunkEncoding.Rational (4)
 *   bit stream (MSB first, zero-padded to a byte):
 *     uvarint(count)                          8-bit groups (LEB128)
 *     if count >= 1:
 *       timestamp header                      uvarint(zigzag(t0)); count >= 2: mode, interval, k  (compact-timestamps.ts)
 *       6 bits kq                             Rice parameter of q_i − 1
 *       1 bit  pMode                          0: Rice(zigzag(p_i), kp)
 *                                             1: 0 <= p_i <= q_i, p_i in bitWidth(q_i) bits (ratios in [0, 1])
 *       if pMode = 0: 6 bits kp
 *       value 0:  Rice(q_0 − 1, kq), p_0 field
 *       for i in 1 .. count-1:
 *         Rice(zigzag(e_i), k_t)              timestamp jitter
 *         Rice(q_i − 1, kq), p_i field
 *
 * The encoder finds p/q by the continued fraction of |v| (the first
 * convergent whose quotient is bit-exact v, so the smallest q) and returns
 * null for NaN, ±Inf, −0 or any value without such a ratio within
 * RATIONAL_Q_MAX. The decoder bounds q, p and (pMode 1) p <= q.
 */
import { CodecLimits } from '../../limits.js';
import { type BitReader, type BitWriter, corrupt, float64Hi, float64Lo } from './bits.js';
import { CHUNK_FORMAT_VERSION, ChunkEncoding } from './chunk-format.js';
import type { CompactTimestampPlan } from './compact-timestamps.js';
import { RICE_K_BITS, bestRiceK, readRice, readRiceK, writeRice } from './rice.js';
import { zigzagDecode, zigzagEncode } from './varint.js';

/** RATIONAL_Q_MAX bounds a denominator (2^24: past it p and q cost about what the float does). */
export const RATIONAL_Q_MAX = 2 ** 24;
/** RATIONAL_P_ABS_MAX bounds |p| so its zigzag stays a safe integer. */
const RATIONAL_P_ABS_MAX = 2 ** 52;
/** CF_STEPS_MAX bounds the continued-fraction expansion of one value (denominators grow at least like Fibonacci: 2^24 needs < 40). */
const CF_STEPS_MAX = 48;

/** RationalPMode says how numerators are written. */
export const RationalPMode = { Rice: 0, Bounded: 1 } as const;

/** ratioOf writes p and q of the smallest-denominator ratio equal to v into out[0], out[1], or returns false. */
export function ratioOf(v: number, out: Float64Array): boolean {
  if (!Number.isFinite(v) || Object.is(v, -0)) return false;
  const x = v < 0 ? -v : v;
  let p0 = 0;
  let q0 = 1;
  let p1 = 1;
  let q1 = 0;
  let y = x;
  for (let step = 0; step < CF_STEPS_MAX; step++) {
    const a = Math.floor(y);
    const p2 = a * p1 + p0;
    const q2 = a * q1 + q0;
    if (q2 > RATIONAL_Q_MAX || p2 > RATIONAL_P_ABS_MAX) return false;
    if (p2 / q2 === x) {
      out[0] = v < 0 ? -p2 : p2;
      out[1] = q2;
      return true;
    }
    const f = y - a;
    if (f === 0) return false;
    y = 1 / f;
    p0 = p1;
    q0 = q1;
    p1 = p2;
    q1 = q2;
  }
  return false;
}

function bitWidth(x: number): number {
  return 32 - Math.clz32(x);
}

/** RationalScratch holds the per-chunk columns of the rational encoder. */
export class RationalScratch {
  p = new Float64Array(CodecLimits.chunkSamplesDefault);
  q = new Float64Array(CodecLimits.chunkSamplesDefault);
  z = new Float64Array(CodecLimits.chunkSamplesDefault);
  readonly pair = new Float64Array(2);
  readonly bitsOut = new Float64Array(1);

  /** ensure makes every column hold at least n entries. */
  ensure(n: number): void {
    if (this.p.length >= n) return;
    this.p = new Float64Array(n);
    this.q = new Float64Array(n);
    this.z = new Float64Array(n);
  }
}

/**
 * encodeRationalChunk encodes a chunk whose timestamps were planned and
 * checked by the caller, or returns null when some value is no small ratio.
 */
export function encodeRationalChunk(
  ts: ArrayLike<number>,
  values: Float64Array,
  plan: CompactTimestampPlan,
  w: BitWriter,
  scratch: RationalScratch,
): Uint8Array | null {
  return writeRationalChunk(ts, values, plan, w, scratch) ? w.finish() : null;
}

/** writeRationalChunk writes the chunk of encodeRationalChunk into w (reset first) and returns true, or returns false. */
export function writeRationalChunk(
  ts: ArrayLike<number>,
  values: Float64Array,
  plan: CompactTimestampPlan,
  w: BitWriter,
  scratch: RationalScratch,
): boolean {
  const n = values.length;
  scratch.ensure(n);
  const { p, q, z, pair, bitsOut } = scratch;
  let bounded = true;
  for (let i = 0; i < n; i++) {
    if (!ratioOf(values[i] as number, pair)) return false;
    const pi = pair[0] as number;
    const qi = pair[1] as number;
    p[i] = pi;
    q[i] = qi;
    if (pi < 0 || pi > qi) bounded = false;
  }
  for (let i = 0; i < n; i++) z[i] = (q[i] as number) - 1;
  const kq = bestRiceK(z, 0, n, bitsOut);
  let boundedBits = 0;
  for (let i = 0; i < n && bounded; i++) boundedBits += bitWidth(q[i] as number);
  for (let i = 0; i < n; i++) z[i] = zigzagEncode(p[i] as number);
  const kp = bestRiceK(z, 0, n, bitsOut);
  const pMode = bounded && boundedBits <= RICE_K_BITS + (bitsOut[0] as number) ? RationalPMode.Bounded : RationalPMode.Rice;

  w.reset();
  w.writeBits(CHUNK_FORMAT_VERSION, 8);
  w.writeBits(ChunkEncoding.Rational, 8);
  w.writeUvarint(n);
  if (n === 0) return true;
  plan.writeHeader(w, ts);
  w.writeBits(kq, RICE_K_BITS);
  w.writeBits(pMode, 1);
  if (pMode === RationalPMode.Rice) w.writeBits(kp, RICE_K_BITS);
  for (let i = 0; i < n; i++) {
    if (i > 0) plan.writeSample(w, i);
    const qi = q[i] as number;
    writeRice(w, qi - 1, kq);
    if (pMode === RationalPMode.Rice) writeRice(w, z[i] as number, kp);
    else w.writeBits(p[i] as number, bitWidth(qi));
  }
  return true;
}

/** RationalValueDecoder reads the values of a rational chunk into hi and lo, one after another, without allocating. */
export class RationalValueDecoder {
  /** hi is the top half of the current value's bits. */
  hi = 0;
  /** lo is the bottom half of the current value's bits. */
  lo = 0;
  #kq = 0;
  #kp = 0;
  #pMode = 0;

  /** header reads the fields after the timestamp header and the first value. */
  header(r: BitReader): void {
    this.#kq = readRiceK(r);
    this.#pMode = r.readBits(1);
    this.#kp = this.#pMode === RationalPMode.Rice ? readRiceK(r) : 0;
    this.next(r);
  }

  /** next reads one value's q and p. */
  next(r: BitReader): void {
    const q = readRice(r, this.#kq) + 1;
    if (!(q <= RATIONAL_Q_MAX)) throw corrupt('rational denominator out of range', { q });
    let p: number;
    if (this.#pMode === RationalPMode.Rice) {
      p = zigzagDecode(readRice(r, this.#kp));
      if (!(p <= RATIONAL_P_ABS_MAX && p >= -RATIONAL_P_ABS_MAX)) throw corrupt('rational numerator out of range');
    } else {
      p = r.readBits(bitWidth(q));
      if (p > q) throw corrupt('rational numerator past its denominator', { p, q });
    }
    const v = p / q;
    this.hi = float64Hi(v);
    this.lo = float64Lo(v);
  }
}
