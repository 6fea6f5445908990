/**
 * clamp-bound.test.ts — clampCannotMove (clamp-bound.ts) is never true for
 * a window whose counter clamp at zero moves its start (extrapolatedRate's
 * test `sampledInterval * (firstV / result) < durationToStart`, evaluated
 * as extrapolate evaluates it), over seeded inputs spread wide and inputs
 * placed within a few ulps of the test's boundary, where a bound without
 * its margin fails; and it is true for most windows of a counter whose
 * value is large against its change (what makes it worth having).
 *
 * The boundary check is shown catching a planted bug in the test itself:
 * the ratio without CLAMP_RATIO_MARGIN (`durationToStart / sampledInterval`
 * as is) passes the test for windows whose clamp does move the start.
 * Planted in clamp-bound.ts and caught (each reverted): the margin set to
 * 1 ("no window the clamp moves ..." fails at the boundary cases); the
 * zero-duration case answering 0 for any durationToStart (fails on the
 * spread cases).
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { clampCannotMove, clampFreeRatio } from './clamp-bound.js';

/** clampMoves is extrapolate's test, operation for operation (range-functions.ts). */
function clampMoves(firstV: number, result: number, durationToStart: number, sampledInterval: number): boolean {
  return result > 0 && firstV >= 0 && sampledInterval * (firstV / result) < durationToStart;
}

const f64 = new Float64Array(1);
const u64 = new BigInt64Array(f64.buffer);
/** nudge moves x by k ulps (x > 0). */
function nudge(x: number, k: number): number {
  f64[0] = x;
  u64[0] = (u64[0] as bigint) + BigInt(k);
  return f64[0] as number;
}

interface Case {
  readonly firstV: number;
  readonly result: number;
  readonly d: number;
  readonly s: number;
}

/** cases are seeded windows: spread (values from 1e-3 to 1e12, durations from ms) and boundary (firstV a few ulps around result × d / s). */
function cases(seed: number): Case[] {
  const rand = new SeededRand(seed);
  const out: Case[] = [];
  for (let i = 0; i < 40_000; i++) {
    const d = rand.intn(8) === 0 ? 0 : rand.intn(330_000) / 1000;
    const s = (1 + rand.intn(600_000)) / 1000;
    const result = (1 + rand.intn(1_000_000)) * 10 ** (rand.intn(12) - 6);
    if (i % 2 === 0) {
      out.push({ firstV: rand.intn(1_000_000_000) * 10 ** (rand.intn(10) - 5), result, d, s });
    } else {
      const edge = (result * d) / s;
      if (edge > 0) for (let k = -4; k <= 4; k++) out.push({ firstV: nudge(edge, k), result, d, s });
    }
  }
  return out;
}

/** violations are the cases where `ratioOf`'s bound says "cannot move" and the clamp does move the start. */
function violations(all: readonly Case[], ratioOf: (d: number, s: number) => number): number {
  let bad = 0;
  for (const c of all) if (clampCannotMove(c.firstV, c.result, ratioOf(c.d, c.s)) && clampMoves(c.firstV, c.result, c.d, c.s)) bad++;
  return bad;
}

t.test('no window the clamp moves passes the bound; most large counters do', async (t) => {
  for (const seed of [1, 2, 3]) {
    const all = cases(seed);
    t.equal(violations(all, clampFreeRatio), 0, `seed ${seed}: no window the clamp moves passes the bound`);
    let moves = 0;
    let passes = 0;
    for (const c of all) {
      if (clampMoves(c.firstV, c.result, c.d, c.s)) moves++;
      if (clampCannotMove(c.firstV, c.result, clampFreeRatio(c.d, c.s))) passes++;
    }
    t.ok(moves > 1_000, `seed ${seed}: the cases hold windows the clamp moves (${moves})`);
    t.ok(passes > 1_000, `seed ${seed}: the bound passes for many windows (${passes})`);
  }
  // A counter at 1e6 rising 30 over a 5-minute window of 15 s samples starting 7 s after the window's start.
  t.ok(clampCannotMove(1e6, 30, clampFreeRatio(7, 285)), 'a large counter skips the division');
  t.notOk(clampCannotMove(0, 30, clampFreeRatio(7, 285)), 'a counter starting at zero does not');
});

t.test('the check catches a bound without its margin (planted in the test)', async (t) => {
  const all = cases(1);
  t.ok(violations(all, (d, s) => (d === 0 ? 0 : d / s)) > 0, 'the ratio without margin passes windows the clamp moves');
});

t.test('durations the proof does not cover never pass', async (t) => {
  t.equal(clampFreeRatio(1, 0), Infinity, 'no sampled interval');
  t.equal(clampFreeRatio(2 ** -500, 1), Infinity, 'a subnormal-range start gap');
  t.equal(clampFreeRatio(1, 2 ** -500), Infinity, 'a subnormal-range interval');
  t.equal(clampFreeRatio(0, 1), 0, 'no start gap: nothing to move');
  t.equal(clampFreeRatio(NaN, 1), Infinity, 'NaN');
  t.notOk(clampCannotMove(1, 2 ** -500, 0), 'a tiny change is left to the test');
  t.notOk(clampCannotMove(Infinity, 1e300, 1e10), 'an overflowing product is left to the test');
});
