/**
 * compact-decimal-run.ts — summing one compact decimal chunk's packed
 * residuals (compact-decimal.ts CompactDecimalValueDecoder.decodeRun) into
 * its values: the loop a counter's read spends most of its decode in.
 *
 * A packed field of w bits is in [0, 2^w − 1], so a run's residuals lie in
 * [rMin, rMin + 2^w − 1] before any is read. When that interval is inside
 * the residual bound, and the scaled values (and, for the delta-of-delta
 * order, the deltas) the run can reach from where it starts stay well inside
 * their bounds whatever the residuals are, no sample can fail a check: the
 * run is summed by a loop of its order with no check per sample. Otherwise
 * the checked loop makes the per-sample checks of CompactDecimalValueDecoder.next,
 * in its order, and throws where it would. Both write the same values.
 *
 * The reach is bounded with FAST_REACH_MAX, half the scaled bound, so the
 * few roundings of the bound's arithmetic (a product past 2^53) cannot
 * let a run through that a check would stop.
 */
import { corrupt } from './bits.js';
import { CodecLimits } from '../../limits.js';

const M_MAX = CodecLimits.decimalScaledAbsMax;
/** FAST_REACH_MAX bounds the scaled values (and deltas) a run may reach for the unchecked loops: half of decimalScaledAbsMax. */
const FAST_REACH_MAX = M_MAX / 2;

/** FIELD_MAX[w] is a w-bit field's largest value, 2^w − 1 (w <= 54, the widest packed field; exact as a double). */
const FIELD_MAX: Float64Array = Float64Array.from({ length: 55 }, (_, w) => 2 ** w - 1);

/**
 * deltaRunUnchecked says whether a delta-order run of `count` packed fields
 * of `width` bits, residual (rMin + field) × g, starting at scaled value m,
 * can fail none of CompactDecimalValueDecoder.next's checks whatever its
 * fields are: every residual inside ±bound, every value it can reach
 * within FAST_REACH_MAX. sumPackedRun's unchecked delta loop and
 * BitReader.readDeltaRun run only where it is true.
 */
export function deltaRunUnchecked(count: number, width: number, rMin: number, g: number, bound: number, m: number): boolean {
  const xLo = rMin;
  const xHi = rMin + (FIELD_MAX[width] as number);
  if (!(xLo >= -bound && xHi <= bound)) return false;
  const xAbs = Math.max(Math.abs(xLo), Math.abs(xHi)) * g;
  return Math.abs(m) + count * xAbs <= FAST_REACH_MAX;
}

/** PackedRun carries a run's scaled value m and delta d in (where the run starts) and out (after its last sample). */
export interface PackedRun {
  m: number;
  d: number;
}

/**
 * sumPackedRun turns `count` packed fields xs[0 .. count) of `width` bits
 * into values out[at .. at + count): residual x = (rMin + field) × g
 * (|rMin + field| <= bound, else ERR_CORRUPTION), then by `order` (0 level:
 * m = m0 + x; 1 delta: m += x; 2 delta of delta: d += x, m += d) and value
 * m / p, with CompactDecimalValueDecoder.next's checks (|d| <= 2 M_MAX,
 * |m| <= M_MAX). run.m and run.d are where the run starts, and are left
 * after its last sample.
 */
export function sumPackedRun(
  order: number,
  xs: Float64Array,
  count: number,
  width: number,
  rMin: number,
  g: number,
  bound: number,
  m0: number,
  p: number,
  run: PackedRun,
  out: Float64Array,
  at: number,
): void {
  let m = run.m;
  let d = run.d;
  const xLo = rMin;
  const xHi = rMin + (width === 0 ? 0 : 2 ** width - 1);
  if (xLo >= -bound && xHi <= bound) {
    const xAbs = Math.max(Math.abs(xLo), Math.abs(xHi)) * g;
    if (order === 0 && Math.abs(m0) + xAbs <= FAST_REACH_MAX) {
      for (let i = 0; i < count; i++) out[at + i] = (m0 + (rMin + (xs[i] as number)) * g) / p;
      if (count > 0) m = m0 + (rMin + (xs[count - 1] as number)) * g;
      run.m = m;
      return;
    }
    if (order === 1 && deltaRunUnchecked(count, width, rMin, g, bound, m)) {
      if (p === 1 && g === 1) {
        // An integer counter's usual chunk (D = 0, no factor): m / 1 is m, bit for bit, so no division a sample.
        for (let i = 0; i < count; i++) {
          m += rMin + (xs[i] as number);
          out[at + i] = m;
        }
      } else if (p === 1) {
        for (let i = 0; i < count; i++) {
          m += (rMin + (xs[i] as number)) * g;
          out[at + i] = m;
        }
      } else {
        for (let i = 0; i < count; i++) {
          m += (rMin + (xs[i] as number)) * g;
          out[at + i] = m / p;
        }
      }
      run.m = m;
      return;
    }
    // Delta of delta: |d| stays under dReach, |m| under |m| + count × dReach (which bounds dReach too: count >= 1).
    const dReach = Math.abs(d) + count * xAbs;
    if (order === 2 && Math.abs(m) + count * dReach <= FAST_REACH_MAX) {
      for (let i = 0; i < count; i++) {
        d += (rMin + (xs[i] as number)) * g;
        m += d;
        out[at + i] = m / p;
      }
      run.m = m;
      run.d = d;
      return;
    }
  }
  for (let i = 0; i < count; i++) {
    let x = rMin + (xs[i] as number);
    if (!(x <= bound && x >= -bound)) throw corrupt('compact decimal residual out of range');
    if (g !== 1) x *= g;
    if (order === 0) {
      m = m0 + x;
    } else if (order === 1) {
      m += x;
    } else {
      d += x;
      if (!(d <= 2 * M_MAX && d >= -2 * M_MAX)) throw corrupt('compact decimal delta out of range');
      m += d;
    }
    if (!(m <= M_MAX && m >= -M_MAX)) throw corrupt('compact decimal scaled value out of range');
    out[at + i] = m / p;
  }
  run.m = m;
  run.d = d;
}
