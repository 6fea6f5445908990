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
 *       1 bit  qMode                          0: every q_i is Rice(q_i − 1, kq)
 *                                             1: q_i = t_i − t_{i−1} for i >= 1 (a rate over the
 *                                                scrape interval: 680 ms of CPU in 998 ms) unless
 *                                                the sample's exception bit is set; q_0 stored
 *       1 bit  pMode                          0: Rice(zigzag(p_i / g), kp)
 *                                             1: 0 <= p_i <= q_i, p_i / g in bitWidth(floor(q_i / g)) bits
 *       if pMode = 0: 6 bits kp
 *       1 bit  factor; if 1: uvarint(g)       2 <= g <= 2^52 divides every p_i (else g = 1)
 *       value 0:  Rice(q_0 − 1, kq), p_0 field
 *       for i in 1 .. count-1:
 *         Rice(zigzag(e_i), k_t)              timestamp jitter
 *         qMode 0: Rice(q_i − 1, kq)
 *         qMode 1: 1 bit exception; if 1: Rice(q_i − 1, kq)
 *         p_i field
 *
 * The encoder finds p/q by the continued fraction of |v| (the first
 * convergent whose quotient is bit-exact v, so the smallest q), or for qMode
 * 1 takes p_i = round(v_i × q_i) when p_i / q_i is bit-exact v_i (else the
 * sample is an exception with its continued-fraction ratio, scaled so that g
 * still divides p: 91/100 becomes 910/1000, the same double), and keeps the
 * smaller mode; it returns null for NaN, ±Inf, −0 or any value without
 * such a ratio within RATIONAL_Q_MAX. The decoder bounds q (also a timestamp
 * delta in qMode 1), p and (pMode 1) p <= q.
 */
import { CodecLimits } from '../../limits.js';
import { type BitReader, type BitWriter, corrupt, float64Hi, float64Lo } from './bits.js';
import { CHUNK_FORMAT_VERSION, ChunkEncoding } from './chunk-format.js';
import type { CompactTimestampPlan } from './compact-timestamps.js';
import { RICE_K_BITS, bestRiceK, readRice, readRiceK, writeRice } from './rice.js';
import { uvarintBytes, zigzagDecode, zigzagEncode } from './varint.js';

/** RATIONAL_Q_MAX bounds a denominator (2^24: past it p and q cost about what the float does). */
export const RATIONAL_Q_MAX = 2 ** 24;
/** RATIONAL_P_ABS_MAX bounds |p| so its zigzag stays a safe integer. */
const RATIONAL_P_ABS_MAX = 2 ** 52;
/** CF_STEPS_MAX bounds the continued-fraction expansion of one value (denominators grow at least like Fibonacci: 2^24 needs < 40). */
const CF_STEPS_MAX = 48;

/** RationalPMode says how numerators are written. */
export const RationalPMode = { Rice: 0, Bounded: 1 } as const;
/** RationalQMode says where denominators come from. */
export const RationalQMode = { Stored: 0, TimestampDelta: 1 } as const;

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
  pt = new Float64Array(CodecLimits.chunkSamplesDefault);
  qt = new Float64Array(CodecLimits.chunkSamplesDefault);
  /** exception[i] = 1 when sample i of the timestamp-delta candidate stores its own q. */
  exception = new Uint8Array(CodecLimits.chunkSamplesDefault);
  z = new Float64Array(CodecLimits.chunkSamplesDefault);
  readonly pair = new Float64Array(2);
  readonly bitsOut = new Float64Array(1);

  /** ensure makes every column hold at least n entries. */
  ensure(n: number): void {
    if (this.p.length >= n) return;
    this.p = new Float64Array(n);
    this.q = new Float64Array(n);
    this.pt = new Float64Array(n);
    this.qt = new Float64Array(n);
    this.exception = new Uint8Array(n);
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
  const { p, q, pt, qt, exception, pair } = scratch;
  // Value 0 always takes its continued-fraction ratio.
  if (n > 0) {
    if (!ratioOf(values[0] as number, pair)) return false;
    p[0] = pair[0] as number;
    q[0] = pair[1] as number;
    pt[0] = p[0] as number;
    qt[0] = q[0] as number;
    exception[0] = 1;
  }
  let stored = true;
  let fromTimestamps = n >= 2;
  for (let i = 1; i < n; i++) {
    const v = values[i] as number;
    const ratio = ratioOf(v, pair);
    if (stored) {
      if (ratio) {
        p[i] = pair[0] as number;
        q[i] = pair[1] as number;
      } else {
        stored = false;
      }
    }
    if (fromTimestamps) {
      const dt = (ts[i] as number) - (ts[i - 1] as number);
      const pi = Math.round(v * dt) + 0;
      if (dt >= 1 && dt <= RATIONAL_Q_MAX && Number.isFinite(v) && !Object.is(v, -0) && Math.abs(pi) <= RATIONAL_P_ABS_MAX && pi / dt === v) {
        pt[i] = pi;
        qt[i] = dt;
        exception[i] = 0;
      } else if (ratio) {
        pt[i] = pair[0] as number;
        qt[i] = pair[1] as number;
        exception[i] = 1;
      } else {
        fromTimestamps = false;
      }
    }
    if (!stored && !fromTimestamps) return false;
  }
  const a = stored ? planRational(p, q, n, RationalQMode.Stored, scratch) : null;
  const aBits = a === null ? Infinity : (scratch.bitsOut[0] as number);
  const b = fromTimestamps ? planRational(pt, qt, n, RationalQMode.TimestampDelta, scratch) : null;
  const bBits = b === null ? Infinity : (scratch.bitsOut[0] as number);
  const useTs = b !== null && bBits < aBits;
  const choice = useTs ? b : a;
  if (choice === null) return false;
  const ps = useTs ? pt : p;
  const qs = useTs ? qt : q;
  const { kq, kp, pMode, g } = choice;

  w.reset();
  w.writeBits(CHUNK_FORMAT_VERSION, 8);
  w.writeBits(ChunkEncoding.Rational | plan.encodingFlags, 8);
  w.writeUvarint(n);
  if (n === 0) return true;
  plan.writeHeader(w, ts);
  w.writeBits(kq, RICE_K_BITS);
  w.writeBits(useTs ? RationalQMode.TimestampDelta : RationalQMode.Stored, 1);
  w.writeBits(pMode, 1);
  if (pMode === RationalPMode.Rice) w.writeBits(kp, RICE_K_BITS);
  w.writeBits(g >= 2 ? 1 : 0, 1);
  if (g >= 2) w.writeUvarint(g);
  for (let i = 0; i < n; i++) {
    if (i > 0) plan.writeSample(w, i);
    const qi = qs[i] as number;
    if (useTs && i > 0) w.writeBits(exception[i] as number, 1);
    if (i === 0 || !useTs || exception[i] === 1) writeRice(w, qi - 1, kq);
    const pi = (ps[i] as number) / g;
    if (pMode === RationalPMode.Rice) writeRice(w, zigzagEncode(pi), kp);
    else w.writeBits(pi, bitWidth(Math.floor(qi / g)));
  }
  return true;
}

/** RationalPlan is the parameters of one way to write a rational chunk. */
interface RationalPlan {
  readonly kq: number;
  readonly kp: number;
  readonly pMode: number;
  readonly g: number;
}

/**
 * planRational picks kq, the numerator coding and the common factor for
 * (ps, qs); its bit count goes to scratch.bitsOut[0]. In timestamp-delta mode
 * the factor comes from the non-exception numerators, and exceptions are
 * scaled (p, q) × c so that it divides theirs too (ps and qs are rewritten).
 */
function planRational(ps: Float64Array, qs: Float64Array, n: number, qMode: number, scratch: RationalScratch): RationalPlan {
  const { z, bitsOut, exception } = scratch;
  const byTs = qMode === RationalQMode.TimestampDelta;
  let g = 0;
  for (let i = 0; i < n && g !== 1; i++) {
    if (byTs && exception[i] === 1) continue;
    g = gcd(Math.abs(ps[i] as number), g);
  }
  if (g < 2) g = 1;
  if (byTs && g >= 2) {
    // Every exception must take the scaling, or none does.
    for (let i = 0; i < n && g >= 2; i++) {
      if (exception[i] !== 1) continue;
      const c = g / gcd(Math.abs(ps[i] as number), g);
      if ((qs[i] as number) * c > RATIONAL_Q_MAX || Math.abs(ps[i] as number) * c > RATIONAL_P_ABS_MAX) g = 1;
    }
    for (let i = 0; i < n && g >= 2; i++) {
      if (exception[i] !== 1) continue;
      const c = g / gcd(Math.abs(ps[i] as number), g);
      ps[i] = (ps[i] as number) * c;
      qs[i] = (qs[i] as number) * c;
    }
  }
  let qCount = 0;
  for (let i = 0; i < n; i++) {
    if (byTs && exception[i] !== 1) continue;
    z[qCount++] = (qs[i] as number) - 1;
  }
  const kq = bestRiceK(z, 0, qCount, bitsOut);
  const qBits = (bitsOut[0] as number) + (byTs ? Math.max(0, n - 1) : 0);
  let bounded = true;
  let boundedBits = 0;
  for (let i = 0; i < n && bounded; i++) {
    const pi = ps[i] as number;
    const qi = qs[i] as number;
    if (pi < 0 || pi > qi) bounded = false;
    else boundedBits += bitWidth(Math.floor(qi / g));
  }
  for (let i = 0; i < n; i++) z[i] = zigzagEncode((ps[i] as number) / g);
  const kp = bestRiceK(z, 0, n, bitsOut);
  const riceBits = RICE_K_BITS + (bitsOut[0] as number);
  const pMode = bounded && boundedBits <= riceBits ? RationalPMode.Bounded : RationalPMode.Rice;
  const factorBits = g >= 2 ? 8 * uvarintBytes(g) : 0;
  bitsOut[0] = qBits + (pMode === RationalPMode.Bounded ? boundedBits : riceBits) + factorBits;
  return { kq, kp, pMode, g };
}

/** gcd of two integers below 2^53 (gcd(x, 0) = x). */
function gcd(x: number, y: number): number {
  while (y !== 0) {
    const t = x % y;
    x = y;
    y = t;
  }
  return x;
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
  #qMode = 0;
  #g = 1;
  #pAbsMax = RATIONAL_P_ABS_MAX;

  /** header reads the fields after the timestamp header and the first value. */
  header(r: BitReader): void {
    this.#kq = readRiceK(r);
    this.#qMode = r.readBits(1);
    this.#pMode = r.readBits(1);
    this.#kp = this.#pMode === RationalPMode.Rice ? readRiceK(r) : 0;
    this.#g = 1;
    if (r.readBits(1) === 1) {
      const g = r.readUvarint();
      if (!(g >= 2 && g <= RATIONAL_P_ABS_MAX)) throw corrupt(`rational numerator factor ${g}`);
      this.#g = g;
    }
    // Bound p / g before multiplying so that p stays an exact double.
    this.#pAbsMax = Math.floor(RATIONAL_P_ABS_MAX / this.#g);
    this.#value(r, readRice(r, this.#kq) + 1);
  }

  /** next reads one value's q (unless it is dtMs, the timestamp delta, in qMode 1) and p. */
  next(r: BitReader, dtMs: number): void {
    let q: number;
    if (this.#qMode === RationalQMode.TimestampDelta && r.readBit() === 0) {
      if (!(dtMs >= 1 && dtMs <= RATIONAL_Q_MAX)) throw corrupt('rational timestamp-delta denominator out of range', { dtMs });
      q = dtMs;
    } else {
      q = readRice(r, this.#kq) + 1;
    }
    this.#value(r, q);
  }

  #value(r: BitReader, q: number): void {
    if (!(q <= RATIONAL_Q_MAX)) throw corrupt('rational denominator out of range', { q });
    let p: number;
    if (this.#pMode === RationalPMode.Rice) {
      p = zigzagDecode(readRice(r, this.#kp));
      if (!(p <= this.#pAbsMax && p >= -this.#pAbsMax)) throw corrupt('rational numerator out of range');
    } else {
      p = r.readBits(bitWidth(Math.floor(q / this.#g)));
      if (p * this.#g > q) throw corrupt('rational numerator past its denominator', { p, q });
    }
    const v = (p * this.#g) / q;
    this.hi = float64Hi(v);
    this.lo = float64Lo(v);
  }
}
