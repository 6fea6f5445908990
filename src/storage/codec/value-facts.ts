/**
 * value-facts.ts — what a decoder knows about a column of values it wrote,
 * from the chunk's header, without looking at the values again: a bit set
 * handed along with the column from the chunk decoder to the PromQL scan.
 *
 * - VALUES_FINITE: no value is a NaN (so no staleness marker) or ±Inf. A
 *   compact decimal chunk proves it: its values are m / p with |m| ≤ 2^53
 *   and p ≥ 1 (the encoder refuses NaN and ±Inf).
 * - VALUES_NON_DECREASING: every value is >= the one before it (the
 *   comparison a counter's drop test makes, `vs[j] < vs[j − 1]`, is false
 *   for every j). A compact decimal chunk of delta order with packed
 *   residuals, no ulp fix-ups and a residual minimum >= 0 proves it: each m
 *   adds a residual >= 0 (times a factor >= 1) to the one before, and the
 *   division by p > 0 is monotone under rounding. It is only ever claimed
 *   together with VALUES_FINITE.
 *
 * Facts are joined when columns are put end to end (joinFacts: the AND of
 * both, and for VALUES_NON_DECREASING one compare across the seam) and
 * dropped (0) where a column is built any other way. 0 always is a correct
 * answer: a reader that finds no fact does the work the fact would spare.
 */

/** VALUES_FINITE says a column holds no NaN and no ±Inf. */
export const VALUES_FINITE = 1;

/** VALUES_NON_DECREASING says every value of a column is >= the one before it (claimed only with VALUES_FINITE). */
export const VALUES_NON_DECREASING = 2;

/** VALUES_COUNTER_SAFE is both facts: a rate scan needs neither the staleness pass nor the drop test. */
export const VALUES_COUNTER_SAFE = VALUES_FINITE | VALUES_NON_DECREASING;

/**
 * joinFacts is the facts of vs[0 .. at + n) given `before`, the facts of
 * vs[0 .. at), and `after`, those of vs[at .. at + n): both sides' facts,
 * and non-decreasing across the seam only if vs[at] >= vs[at − 1]. An empty
 * side (at = 0 or n = 0) adds nothing: `before` must then be the facts of
 * nothing only when at = 0 (a caller joining into a column from a later
 * index starts from the first part's own facts, not from 0).
 */
export function joinFacts(before: number, after: number, vs: Float64Array, at: number, n: number): number {
  if (at === 0) return after;
  if (n === 0) return before;
  const both = before & after;
  if ((both & VALUES_NON_DECREASING) === 0) return both;
  return (vs[at] as number) >= (vs[at - 1] as number) ? both : both & ~VALUES_NON_DECREASING;
}
