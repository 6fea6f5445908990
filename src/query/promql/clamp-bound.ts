/**
 * clamp-bound.ts — a test without a division that tells, for most windows
 * of a counter, that extrapolatedRate's clamp at zero cannot move the
 * window's start, so rate-scan.ts skips the clamp's own test (one division
 * a window: `firstV / result`).
 *
 * Prometheus 2.42's extrapolatedRate moves the start when
 *
 *   sampledInterval * (firstV / result) < durationToStart       (1)
 *
 * evaluated in doubles (result > 0, firstV >= 0). With R = the ratio
 * durationToStart / sampledInterval computed once for the window's key
 * (FactorMemo) and widened by CLAMP_RATIO_MARGIN, `firstV > result * R`
 * proves (1) false: each of the five roundings involved (R's division and
 * widening, the product, (1)'s division and product) is off by at most
 * 2^-53 relative when no operand or result is subnormal, so their product
 * stays far inside the 2^-20 margin, and (1)'s left side is at least
 * durationToStart. The proof needs normal numbers: `clampFreeRatio` answers
 * +Infinity (the test never passes) when either duration is under
 * DURATION_MIN_SEC (but a zero durationToStart) or the ratio is not a
 * finite double of at least RATIO_MIN, and `clampCannotMove` is false when `result` is under
 * RESULT_MIN; an overflowing product is +Infinity and the test is false.
 * When the test is false, the caller evaluates (1) as before, so a window
 * answers the same bits either way.
 *
 * A counter's value is usually far larger than its change over a window
 * (firstV / result in the hundreds or more against a ratio under 1.1), so
 * the test passes for nearly every window.
 */

/** CLAMP_RATIO_MARGIN widens the ratio by 2^-20 relative: far more than the 5 × 2^-53 the roundings can take. */
export const CLAMP_RATIO_MARGIN = 1 + 2 ** -20;
/** RATIO_MIN is the least ratio, and DURATION_MIN_SEC the least nonzero duration, the proof covers (their products stay normal). */
const RATIO_MIN = 2 ** -400;
const DURATION_MIN_SEC = 2 ** -400;
/** RESULT_MIN is the least window change the proof covers. */
const RESULT_MIN = 2 ** -400;

/**
 * clampFreeRatio is the widened ratio durationToStart / sampledInterval (in
 * seconds, as extrapolate has them) for clampCannotMove; 0 when
 * durationToStart is 0 (no start to move: (1) is never true, its left side
 * being >= 0), +Infinity when the proof does not cover the ratio.
 */
export function clampFreeRatio(durationToStartSec: number, sampledIntervalSec: number): number {
  if (!(sampledIntervalSec >= DURATION_MIN_SEC)) return Infinity;
  if (durationToStartSec === 0) return 0;
  if (!(durationToStartSec >= DURATION_MIN_SEC)) return Infinity;
  const ratio = durationToStartSec / sampledIntervalSec;
  if (!(ratio >= RATIO_MIN && ratio < Infinity)) return Infinity;
  return ratio * CLAMP_RATIO_MARGIN;
}

/**
 * clampCannotMove is true only when extrapolatedRate's clamp test (1) is
 * false for a window with this first value and change: `ratio` is the
 * window key's clampFreeRatio. False says nothing; the caller tests (1).
 */
export function clampCannotMove(firstV: number, result: number, ratio: number): boolean {
  return result >= RESULT_MIN && firstV > result * ratio;
}
