/**
 * compact-decimal.ts — the compact decimal chunk encoding
 * (ChunkEncoding.DecimalCompact): values as integers m_i = round(v_i × 10^D),
 * with three choices made per chunk by exact bit count, and the compact
 * timestamps (compact-timestamps.ts).
 *
 *   order:   0 level  r_i = m_i − m_0                 (noisy gauges: no doubled range)
 *            1 delta  r_i = m_i − m_{i−1}             (counters, steps)
 *            2 dod    r_i = d_i − d_{i−1}, d_i = m_i − m_{i−1}   (steady rates)
 *   coding:  0 packed (r_i − min) in w bits           (uniform residuals)
 *            1 Rice(zigzag(r_i), k)                   (mostly-zero or small residuals: a
 *                                                      repeated value costs 1 bit)
 *   factor:  residuals divided by their greatest common divisor g when g >= 2
 *            (bytes counted in pages: memory.usage moves in 4096s)
 *   divisor: D = DIVISOR_ESCAPE (15) says the scale is not 10^D but an integer L
 *            (2 <= L <= DIVISOR_MAX) stored after the flags: v_i = m_i / L, for
 *            values that are exact ratios over one common denominator
 *            (system.memory.utilization = pages / 6,170,905 total pages)
 *   fix-ups: 0 every v_i is exactly m_i / 10^D
 *            1 v_i is u_i ulps away from m_i / 10^D   (float sums such as
 *              4820.2300000000005 or 0.20551799999999998: a decimal that
 *              picked up rounding error), u_i Rice coded
 *
 *   byte 0: CHUNK_FORMAT_VERSION (1)
 *   byte 1: ChunkEncoding.DecimalCompact (3)
 *   bit stream (MSB first, zero-padded to a byte):
 *     uvarint(count)                          8-bit groups (LEB128)
 *     if count >= 1:
 *       timestamp header                      uvarint(zigzag(t0)); count >= 2: mode, interval, k
 *       4 bits D                              <= CodecLimits.decimalDigitsMax, or DIVISOR_ESCAPE (15)
 *       2 bits order                          0, 1 or 2
 *       1 bit  coding                         0 packed, 1 Rice
 *       1 bit  fix-ups                        (always 0 with a divisor)
 *       1 bit  factor                         only with residuals (count > first)
 *       if D = DIVISOR_ESCAPE: uvarint(L)     2 <= L <= DIVISOR_MAX
 *       uvarint(zigzag(m_0))
 *       if order = 2 and count >= 2: uvarint(zigzag(d_1))
 *       if count > first (first = 2 for order 2, else 1):
 *         if factor: uvarint(g)               2 <= g <= 2^52; the fields below hold r_i / g
 *         packed: uvarint(zigzag(min r / g)), 6 bits w (<= 54)
 *         Rice:   6 bits k (<= 53)
 *       if fix-ups: 6 bits kU, Rice(zigzag(u_0), kU)
 *       for i in 1 .. count-1:
 *         Rice(zigzag(e_i), k_t)              timestamp jitter
 *         residual field                      if i >= first: (r_i / g − min) in w bits, or Rice(zigzag(r_i / g), k)
 *         Rice(zigzag(u_i), kU)               if fix-ups
 *
 *   value: base = m_i / 10^D, or m_i / L (one correctly rounded division); bits(v_i) =
 *   bits(base) + u_i as a 64-bit integer, which must keep base's sign bit.
 *
 * The encoder only returns a chunk when every value comes back bit for bit:
 * never for NaN, ±Inf or −0, never with |m| > decimalScaledAbsMax or |u| >
 * ULP_FIXUP_MAX; otherwise it returns null and the caller keeps XOR. The
 * decoder re-checks every bound, so damage is ERR_CORRUPTION.
 */
import { VALUES_COUNTER_SAFE, VALUES_FINITE } from './value-facts.js';
import { assert } from '../../errors.js';
import { CodecLimits } from '../../limits.js';
import type { BitWriter } from './bits.js';
import { type BitReader, TWO_32, bitWidth53, corrupt, float64FromBits, float64Hi, float64Lo, writeWide } from './bits.js';
import { CHUNK_FORMAT_VERSION, ChunkEncoding } from './chunk-format.js';
import type { CompactTimestampPlan } from './compact-timestamps.js';
import { RICE_K_BITS, RICE_Z_MAX, bestRiceK, readRice, readRiceK, writeRice } from './rice.js';
import { zigzagDecode, zigzagEncode } from './varint.js';
import { ratioOf } from './rational.js';
import { type PackedRun, deltaRunUnchecked, sumPackedRun } from './compact-decimal-run.js';

/** DIVISOR_ESCAPE in the D field says the scale is an integer divisor L stored after the flags, not 10^D. */
export const DIVISOR_ESCAPE = 15;
/** DIVISOR_MAX bounds the common denominator L (2^24, as rational.ts bounds a denominator). */
export const DIVISOR_MAX = 2 ** 24;
assert(DIVISOR_ESCAPE > CodecLimits.decimalDigitsMax && DIVISOR_ESCAPE < 2 ** 4, 'the divisor escape is a D value no decimal uses');

/** zigzagFast is zigzagEncode without its argument check, for hot loops over values already bounded by |n| <= 2^52. */
function zigzagFast(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

const M_MAX = CodecLimits.decimalScaledAbsMax;
/** ULP_FIXUP_MAX bounds |u_i|, the ulps between a value and its decimal; past it the decimal is no help. */
export const ULP_FIXUP_MAX = 2 ** 24;
/** WIDTH_MAX is the widest packed field: (r − min) <= 8 × M_MAX = 2^53 needs 54 bits. */
const WIDTH_MAX = 54;
const DIGITS_BITS = 4;
/** POW10[d] is 10^d, exact as a double for d <= 22. */
const POW10: readonly number[] = Array.from({ length: CodecLimits.decimalDigitsMax + 1 }, (_, d) => 10 ** d);

/** DecimalOrder says what the residuals of a compact decimal chunk are. */
export const DecimalOrder = { Level: 0, Delta: 1, DeltaOfDelta: 2 } as const;
/** DecimalCoding says how the residuals are written. */
export const DecimalCoding = { Packed: 0, Rice: 1 } as const;

function varintBits(v: number): number {
  let n = 8;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n += 8;
  }
  return n;
}

/** ulpsFrom returns bits(v) − bits(base) as an integer when both are finite with one sign bit and it is small, else NaN. */
function ulpsFrom(v: number, base: number): number {
  const hv = float64Hi(v);
  const lv = float64Lo(v);
  const hb = float64Hi(base);
  const lb = float64Lo(base);
  if (hv >>> 31 !== hb >>> 31) return NaN;
  const dh = hv - hb;
  if (dh > 1 || dh < -1) return NaN;
  const u = dh * TWO_32 + (lv - lb);
  return u <= ULP_FIXUP_MAX && u >= -ULP_FIXUP_MAX ? u : NaN;
}

/**
 * CompactDecimalScratch holds the per-chunk columns of the encoder (scaled
 * values, ulp fix-ups, residual candidates) so that encoding allocates
 * nothing per chunk once warm.
 */
export class CompactDecimalScratch {
  m = new Float64Array(CodecLimits.chunkSamplesDefault);
  u = new Float64Array(CodecLimits.chunkSamplesDefault);
  r = new Float64Array(CodecLimits.chunkSamplesDefault);
  z = new Float64Array(CodecLimits.chunkSamplesDefault);
  readonly bitsOut = new Float64Array(1);
  readonly pair = new Float64Array(2);

  /** ensure makes every column hold at least n entries. */
  ensure(n: number): void {
    if (this.m.length >= n) return;
    this.m = new Float64Array(n);
    this.u = new Float64Array(n);
    this.r = new Float64Array(n);
    this.z = new Float64Array(n);
  }
}

/** scaleExact fills m with v × 10^D at the fewest digits D that make every value exact, or returns -1. */
function scaleExact(values: Float64Array, m: Float64Array): number {
  const n = values.length;
  let digits = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v) || Object.is(v, -0)) return -1;
    let d = digits;
    while (d < POW10.length) {
      const p = POW10[d] as number;
      if (Math.round(v * p) / p === v) break;
      d++;
    }
    if (d === POW10.length) return -1;
    digits = d;
  }
  const p = POW10[digits] as number;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    const s = Math.round(v * p) + 0; // + 0 turns a -0 into +0, as the decoder's zigzag will
    if (!(s <= M_MAX && s >= -M_MAX) || s / p !== v) return -1;
    m[i] = s;
  }
  return digits;
}

/**
 * scaleByDivisor fills m with v_i × L for the least common denominator L of
 * the values' smallest exact ratios (ratioOf), when 2 <= L <= DIVISOR_MAX and
 * every m_i / L is bit-exact v_i; it returns L, or -1.
 */
function scaleByDivisor(values: Float64Array, m: Float64Array, pair: Float64Array): number {
  const n = values.length;
  let lcm = 1;
  for (let i = 0; i < n; i++) {
    if (!ratioOf(values[i] as number, pair)) return -1;
    const q = pair[1] as number;
    let a = lcm;
    let b = q;
    while (b !== 0) {
      const t = a % b;
      a = b;
      b = t;
    }
    lcm = (lcm / a) * q;
    if (lcm > DIVISOR_MAX) return -1;
  }
  if (lcm < 2) return -1;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    const s = Math.round(v * lcm) + 0;
    if (!(s <= M_MAX && s >= -M_MAX) || s / lcm !== v) return -1;
    m[i] = s;
  }
  return lcm;
}

/** FIXUP_PROBES is how many evenly spaced values choose D for a chunk with fix-ups (then every value is checked at that D). */
const FIXUP_PROBES = 8;

/**
 * scaleWithFixups fills m and u at the D whose estimated cost (range of m
 * plus size of the fix-ups, over FIXUP_PROBES evenly spaced values) is least,
 * or returns -1 when some value is not within ULP_FIXUP_MAX ulps of its
 * decimal at that D. Probing keeps this at about one pass over the chunk
 * instead of one per digit count.
 */
function scaleWithFixups(values: Float64Array, m: Float64Array, u: Float64Array): number {
  const n = values.length;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v) || Object.is(v, -0)) return -1;
  }
  const probes = Math.min(n, FIXUP_PROBES);
  let bestDigits = -1;
  let bestCost = Infinity;
  for (let d = 0; d < POW10.length; d++) {
    const p = POW10[d] as number;
    let mMin = Infinity;
    let mMax = -Infinity;
    let uAbsMax = 0;
    let ok = true;
    for (let j = 0; j < probes && ok; j++) {
      const v = values[probes === 1 ? 0 : Math.floor((j * (n - 1)) / (probes - 1))] as number;
      const s = Math.round(v * p) + 0; // + 0 turns a -0 into +0, as the decoder's zigzag will
      if (!(s <= M_MAX && s >= -M_MAX)) ok = false;
      const du = ulpsFrom(v, s / p);
      if (Number.isNaN(du)) ok = false;
      else if (Math.abs(du) > uAbsMax) uAbsMax = Math.abs(du);
      if (s < mMin) mMin = s;
      if (s > mMax) mMax = s;
    }
    if (!ok) continue;
    const cost = bitWidth53(mMax - mMin) + (uAbsMax === 0 ? 0 : bitWidth53(2 * uAbsMax) + 1);
    if (cost < bestCost) {
      bestCost = cost;
      bestDigits = d;
    }
  }
  if (bestDigits < 0) return -1;
  const p = POW10[bestDigits] as number;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    const s = Math.round(v * p) + 0;
    if (!(s <= M_MAX && s >= -M_MAX)) return -1;
    const du = ulpsFrom(v, s / p);
    if (Number.isNaN(du)) return -1;
    m[i] = s;
    u[i] = du;
  }
  return bestDigits;
}

/** residualsOf fills r[first .. n) with the residuals of order and returns first. */
function residualsOf(m: Float64Array, n: number, order: number, r: Float64Array): number {
  if (order === DecimalOrder.Level) {
    const m0 = m[0] as number;
    for (let i = 1; i < n; i++) r[i] = (m[i] as number) - m0;
    return 1;
  }
  if (order === DecimalOrder.Delta) {
    for (let i = 1; i < n; i++) r[i] = (m[i] as number) - (m[i - 1] as number);
    return 1;
  }
  for (let i = 2; i < n; i++) r[i] = (m[i] as number) - 2 * (m[i - 1] as number) + (m[i - 2] as number);
  return 2;
}

/**
 * encodeCompactDecimalChunk encodes a chunk whose timestamps were planned
 * (plan.plan(ts)) and checked (checkChunkInput) by the caller, or returns
 * null when some value cannot come back bit for bit.
 */
export function encodeCompactDecimalChunk(
  ts: ArrayLike<number>,
  values: Float64Array,
  plan: CompactTimestampPlan,
  w: BitWriter,
  scratch: CompactDecimalScratch,
): Uint8Array | null {
  return writeCompactDecimalChunk(ts, values, plan, w, scratch) ? w.finish() : null;
}

/** writeCompactDecimalChunk writes the chunk of encodeCompactDecimalChunk into w (reset first) and returns true, or returns false. */
export function writeCompactDecimalChunk(
  ts: ArrayLike<number>,
  values: Float64Array,
  plan: CompactTimestampPlan,
  w: BitWriter,
  scratch: CompactDecimalScratch,
): boolean {
  const n = values.length;
  scratch.ensure(n);
  const { m, u, r, z, bitsOut } = scratch;
  let fixups = false;
  let divisor = 0;
  let digits = n === 0 ? 0 : scaleExact(values, m);
  if (digits < 0) {
    // Exact ratios over one common denominator before decimals with ulp fix-ups.
    divisor = scaleByDivisor(values, m, scratch.pair);
    if (divisor >= 2) {
      digits = DIVISOR_ESCAPE;
    } else {
      divisor = 0;
      digits = scaleWithFixups(values, m, u);
      if (digits < 0) return false;
      fixups = true;
    }
  }
  // Pick order and coding by exact bit count of the residual fields and their header.
  let bestOrder: number = DecimalOrder.Delta;
  let bestCoding: number = DecimalCoding.Packed;
  let bestBits = Infinity;
  let bestK = 0;
  let bestMin = 0;
  let bestWidth = 0;
  let bestFactor = 1;
  for (let order = 0; order <= 2; order++) {
    if (order === DecimalOrder.DeltaOfDelta && n < 3) continue;
    const first = residualsOf(m, n, order, r);
    const g = factorOut(r, first, n);
    const factorBits = g >= 2 ? varintBits(g) : 0;
    let rMin = Infinity;
    let rMax = -Infinity;
    let zMax = 0;
    for (let i = first; i < n; i++) {
      const x = r[i] as number;
      if (x < rMin) rMin = x;
      if (x > rMax) rMax = x;
      const zx = zigzagFast(x);
      z[i] = zx;
      if (zx > zMax) zMax = zx;
    }
    const extra = factorBits + (order === DecimalOrder.DeltaOfDelta ? varintBits(zigzagEncode((m[1] as number) - (m[0] as number))) : 0);
    if (n <= first) {
      if (extra < bestBits) {
        bestBits = extra;
        bestOrder = order;
        bestCoding = DecimalCoding.Packed;
      }
      continue;
    }
    const width = bitWidth53(rMax - rMin);
    const packedBits = extra + varintBits(zigzagEncode(rMin)) + 6 + width * (n - first);
    // Rice needs every zigzagged residual within RICE_Z_MAX (only |r| = 2^52 exactly is not).
    const k = zMax <= RICE_Z_MAX ? bestRiceK(z, first, n, bitsOut) : 0;
    const riceBitsTotal = zMax <= RICE_Z_MAX ? extra + RICE_K_BITS + (bitsOut[0] as number) : Infinity;
    if (packedBits < bestBits) {
      bestBits = packedBits;
      bestOrder = order;
      bestCoding = DecimalCoding.Packed;
      bestMin = rMin;
      bestWidth = width;
      bestFactor = g;
    }
    if (riceBitsTotal < bestBits) {
      bestBits = riceBitsTotal;
      bestOrder = order;
      bestCoding = DecimalCoding.Rice;
      bestK = k;
      bestFactor = g;
    }
  }
  const first = n === 0 ? 1 : residualsOf(m, n, bestOrder, r);
  if (bestFactor >= 2) {
    for (let i = first; i < n; i++) r[i] = (r[i] as number) / bestFactor;
  }
  let kU = 0;
  if (fixups) {
    for (let i = 0; i < n; i++) z[i] = zigzagFast(u[i] as number);
    kU = bestRiceK(z, 0, n, bitsOut);
  }

  w.reset();
  w.writeBits(CHUNK_FORMAT_VERSION, 8);
  w.writeBits(ChunkEncoding.DecimalCompact | plan.encodingFlags, 8);
  w.writeUvarint(n);
  if (n === 0) return true;
  plan.writeHeader(w, ts);
  w.writeBits(digits, DIGITS_BITS);
  w.writeBits(bestOrder, 2);
  w.writeBits(bestCoding, 1);
  w.writeBits(fixups ? 1 : 0, 1);
  w.writeBits(bestFactor >= 2 ? 1 : 0, 1);
  if (digits === DIVISOR_ESCAPE) w.writeUvarint(divisor);
  w.writeUvarint(zigzagEncode(m[0] as number));
  if (bestOrder === DecimalOrder.DeltaOfDelta && n >= 2) w.writeUvarint(zigzagEncode((m[1] as number) - (m[0] as number)));
  if (n > first) {
    if (bestFactor >= 2) w.writeUvarint(bestFactor);
    if (bestCoding === DecimalCoding.Packed) {
      w.writeUvarint(zigzagEncode(bestMin));
      w.writeBits(bestWidth, 6);
    } else {
      w.writeBits(bestK, RICE_K_BITS);
    }
  }
  if (fixups) {
    w.writeBits(kU, RICE_K_BITS);
    writeRice(w, z[0] as number, kU);
  }
  for (let i = 1; i < n; i++) {
    plan.writeSample(w, i);
    if (i >= first) {
      const x = r[i] as number;
      if (bestCoding === DecimalCoding.Packed) writeWide(w, x - bestMin, bestWidth);
      else writeRice(w, zigzagEncode(x), bestK);
    }
    if (fixups) writeRice(w, z[i] as number, kU);
  }
  return true;
}

/**
 * factorOut divides r[first .. n) by their greatest common divisor when it is
 * 2 or more and returns it (1 otherwise, r untouched). Residuals are integers
 * with |r| <= 2^52, so % and / are exact.
 */
function factorOut(r: Float64Array, first: number, n: number): number {
  let g = 0;
  for (let i = first; i < n && g !== 1; i++) {
    let a = Math.abs(r[i] as number);
    let b = g;
    while (b !== 0) {
      const t = a % b;
      a = b;
      b = t;
    }
    g = a;
  }
  if (g < 2) return 1;
  for (let i = first; i < n; i++) r[i] = (r[i] as number) / g;
  return g;
}

/** CompactDecimalValueDecoder reads the values of a compact decimal chunk into hi and lo, one after another, without allocating. */
export class CompactDecimalValueDecoder {
  /** hi is the top half of the current value's bits. */
  hi = 0;
  /** lo is the bottom half of the current value's bits. */
  lo = 0;
  /** value is the current value as a number (hi:lo as a double). */
  value = 0;
  /** runFacts is what the header proves about the last decodeRun's values (value-facts.ts); 0 before any. */
  runFacts = 0;
  #p = 1;
  #order = 0;
  #coding = 0;
  #fixups = false;
  #first = 1;
  #m0 = 0;
  #m = 0;
  #d = 0;
  #rMin = 0;
  #width = 0;
  #k = 0;
  #kU = 0;
  #g = 1;
  #residualAbsMax = 4 * M_MAX;
  #i = 0;
  /** #fields holds one chunk's packed residual fields while decodeRun sums them (grown, then reused; at most CodecLimits.chunkSamplesMax). */
  #fields = new Float64Array(128);
  /** #run carries m and d into and out of sumPackedRun. */
  readonly #run: PackedRun = { m: 0, d: 0 };

  /** header reads the value fields after the timestamp header (count >= 1) and sets v_0. */
  header(r: BitReader, count: number): void {
    const digits = r.readBits(DIGITS_BITS);
    if (digits > CodecLimits.decimalDigitsMax && digits !== DIVISOR_ESCAPE) throw corrupt(`compact decimal chunk with ${digits} digits`);
    const order = r.readBits(2);
    if (order > DecimalOrder.DeltaOfDelta) throw corrupt(`unknown compact decimal order ${order}`);
    this.#order = order;
    this.#coding = r.readBits(1);
    this.#fixups = r.readBits(1) === 1;
    const factor = r.readBits(1) === 1;
    if (digits === DIVISOR_ESCAPE) {
      if (this.#fixups) throw corrupt('compact decimal chunk with a divisor and ulp fix-ups');
      const divisor = r.readUvarint();
      if (!(divisor >= 2 && divisor <= DIVISOR_MAX)) throw corrupt(`compact decimal divisor ${divisor}`);
      this.#p = divisor;
    } else {
      this.#p = POW10[digits] as number;
    }
    this.#m0 = checkScaled(zigzagDecode(r.readUvarint()));
    this.#m = this.#m0;
    this.#d = 0;
    this.#rMin = 0;
    this.#width = 0;
    this.#k = 0;
    this.#kU = 0;
    this.#g = 1;
    this.#residualAbsMax = 4 * M_MAX;
    this.#i = 0;
    this.#first = order === DecimalOrder.DeltaOfDelta ? 2 : 1;
    if (order === DecimalOrder.DeltaOfDelta && count >= 2) this.#d = checkDelta(zigzagDecode(r.readUvarint()));
    if (factor && count <= this.#first) throw corrupt('compact decimal factor without residuals');
    if (count > this.#first) {
      if (factor) {
        const g = r.readUvarint();
        if (!(g >= 2 && g <= 4 * M_MAX)) throw corrupt(`compact decimal factor ${g}`);
        this.#g = g;
      }
      // Bound before multiplying so that x × g stays an exact double.
      this.#residualAbsMax = Math.floor((4 * M_MAX) / this.#g);
      if (this.#coding === DecimalCoding.Packed) {
        const rMin = zigzagDecode(r.readUvarint());
        if (!(rMin <= 4 * M_MAX && rMin >= -4 * M_MAX)) throw corrupt('compact decimal residual minimum out of range');
        this.#rMin = rMin;
        this.#width = r.readBits(6);
        if (this.#width > WIDTH_MAX) throw corrupt(`compact decimal residual width ${this.#width}`);
      } else {
        this.#k = readRiceK(r);
      }
    }
    if (this.#fixups) this.#kU = readRiceK(r);
    this.#setValue(r);
  }

  /** next reads v_{i+1} (its fields follow its timestamp in the stream). */
  next(r: BitReader): void {
    const i = ++this.#i;
    if (i >= this.#first) {
      const x = this.#readResidual(r);
      if (this.#order === DecimalOrder.Level) {
        this.#m = checkScaled(this.#m0 + x);
      } else if (this.#order === DecimalOrder.Delta) {
        this.#m = checkScaled(this.#m + x);
      } else {
        this.#d = checkDelta(this.#d + x);
        this.#m = checkScaled(this.#m + this.#d);
      }
    } else {
      // Order 2, i = 1: d_1 came with the header.
      this.#m = checkScaled(this.#m + this.#d);
    }
    this.#setValue(r);
  }

  /**
   * decodeRun reads a whole chunk's values (header included: call it where
   * header would be called, count >= 1) into out[at .. at + count), for a
   * chunk whose stream holds value fields only (external timestamps: no
   * timestamp field between two values). It makes exactly header's and
   * next's checks and leaves the decoder as count − 1 calls of next would;
   * a value is written as a number, which keeps its bits (a compact decimal
   * value is finite, never a NaN whose payload a number could lose). Packed
   * residuals without fix-ups are read in one run (BitReader.readFields) and
   * summed in a loop of their own; a delta-order run of fields up to 24 bits
   * that no check can fail (a counter's usual chunk) is read and summed in
   * one loop (BitReader.readDeltaRun).
   */
  decodeRun(r: BitReader, count: number, out: Float64Array, at: number): void {
    assert(count >= 1 && at >= 0 && at + count <= out.length, 'decodeRun: the run fits its column');
    this.header(r, count);
    out[at] = this.value;
    const order = this.#order;
    const first = this.#first;
    const p = this.#p;
    const fixups = this.#fixups;
    let m = this.#m;
    let d = this.#d;
    let value = this.value;
    let from = 1;
    if (!fixups && this.#coding === DecimalCoding.Packed && this.#width <= 32 && count > first) {
      // Packed residuals without fix-ups are back to back: read them in one run, then sum them up.
      const fields = count - first;
      if (order === DecimalOrder.Delta && this.#width >= 1 && this.#width <= 24 && deltaRunUnchecked(fields, this.#width, this.#rMin, this.#g, this.#residualAbsMax, m)) {
        // A counter's usual chunk: its fields read and summed in one loop (BitReader.readDeltaRun), no column between.
        m = r.readDeltaRun(this.#width, fields, this.#rMin, this.#g, m, p, out, at + 1);
      } else {
        if (this.#fields.length < fields) this.#fields = new Float64Array(Math.max(fields, 2 * this.#fields.length));
        const xs = this.#fields;
        r.readFields(this.#width, fields, xs, 0);
        if (first === 2) {
          // Order 2, i = 1: d_1 came with the header.
          m += d;
          if (!(m <= M_MAX && m >= -M_MAX)) throw corrupt('compact decimal scaled value out of range');
          out[at + 1] = m / p;
        }
        const run = this.#run;
        run.m = m;
        run.d = d;
        sumPackedRun(order, xs, fields, this.#width, this.#rMin, this.#g, this.#residualAbsMax, this.#m0, p, run, out, at + first);
        m = run.m;
        d = run.d;
      }
      value = out[at + count - 1] as number;
      from = count;
    }
    // rising: every m so far >= the one before it (the value-by-value loop below checks; the runs above are judged from the header).
    let rising = true;
    for (let i = from; i < count; i++) {
      const before = m;
      if (i >= first) {
        const x = this.#readResidual(r);
        if (order === DecimalOrder.Level) {
          m = this.#m0 + x;
        } else if (order === DecimalOrder.Delta) {
          m += x;
        } else {
          d += x;
          if (!(d <= 2 * M_MAX && d >= -2 * M_MAX)) throw corrupt('compact decimal delta out of range');
          m += d;
        }
      } else {
        // Order 2, i = 1: d_1 came with the header.
        m += d;
      }
      if (!(m <= M_MAX && m >= -M_MAX)) throw corrupt('compact decimal scaled value out of range');
      if (m < before) rising = false;
      if (fixups) {
        this.#m = m;
        this.#setValue(r);
        value = this.value;
      } else {
        value = m / p;
      }
      out[at + i] = value;
    }
    this.#m = m;
    this.#d = d;
    this.#i = count - 1;
    this.value = value;
    this.hi = float64Hi(value);
    this.lo = float64Lo(value);
    this.runFacts = this.#runFacts(count, from === 1 && rising);
  }

  /**
   * #runFacts is what decodeRun proved about the chunk's values
   * (value-facts.ts): finite always (m / p, |m| ≤ M_MAX, p ≥ 1, and a
   * fix-up moves a value by ulps); non-decreasing, without fix-ups, for one
   * value, for delta order with packed residuals and rMin ≥ 0 (every
   * residual rMin + field ≥ 0, times g ≥ 1, is added to m), or when the
   * value-by-value loop saw every m (`checked`) at or above the one before
   * it — m / p is monotone in m.
   */
  #runFacts(count: number, checked: boolean): number {
    if (count === 1) return VALUES_COUNTER_SAFE;
    if (this.#fixups) return VALUES_FINITE;
    const proved = this.#order === DecimalOrder.Delta && this.#coding === DecimalCoding.Packed && this.#rMin >= 0;
    return proved || checked ? VALUES_COUNTER_SAFE : VALUES_FINITE;
  }

  #readResidual(r: BitReader): number {
    let x: number;
    if (this.#coding === DecimalCoding.Rice) {
      x = zigzagDecode(readRice(r, this.#k));
    } else {
      const width = this.#width;
      let field: number;
      if (width <= 32) {
        field = r.readBits(width);
      } else {
        r.read64(width);
        field = r.hi * TWO_32 + r.lo;
      }
      x = this.#rMin + field;
    }
    const bound = this.#residualAbsMax;
    if (!(x <= bound && x >= -bound)) throw corrupt('compact decimal residual out of range');
    return this.#g === 1 ? x : x * this.#g;
  }

  #setValue(r: BitReader): void {
    const base = this.#m / this.#p;
    let hi = float64Hi(base);
    let lo = float64Lo(base);
    if (!this.#fixups) {
      this.hi = hi;
      this.lo = lo;
      this.value = base;
      return;
    }
    const u = zigzagDecode(readRice(r, this.#kU));
    if (!(u <= ULP_FIXUP_MAX && u >= -ULP_FIXUP_MAX)) throw corrupt('compact decimal ulp fix-up out of range');
    const sum = lo + u;
    const carry = Math.floor(sum / TWO_32);
    const hi2 = hi + carry;
    if (!(hi2 >= 0 && hi2 <= 0xffff_ffff) || hi2 >>> 31 !== hi >>> 31) throw corrupt('compact decimal ulp fix-up crosses the sign');
    hi = hi2;
    lo = sum - carry * TWO_32;
    this.hi = hi;
    this.lo = lo;
    this.value = float64FromBits(hi, lo);
  }
}

function checkScaled(m: number): number {
  if (!(m <= M_MAX && m >= -M_MAX)) throw corrupt('compact decimal scaled value out of range');
  return m;
}

function checkDelta(d: number): number {
  if (!(d <= 2 * M_MAX && d >= -2 * M_MAX)) throw corrupt('compact decimal delta out of range');
  return d;
}
