/**
 * extrapolation-factor.test.ts — a memoized extrapolation factor
 * (extrapolation-factor.ts FactorMemo) gives rate-scan.ts scanRate the bits
 * range-functions.ts extrapolate gives: alone, over seeded inputs (result
 * times the memo's factor equals extrapolate's answer whenever the counter
 * clamp at zero does not move the start); and through scanRate, over
 * windows built so that consecutive ones share all but one part of the
 * memo's key (the sample count, the gap before the first sample, the gap
 * after the last one, the span between them) with that part moving the
 * factor, each compared with extrapolatedRate called on the window.
 *
 * At one window width the gap after the last sample follows from the gap
 * before the first and the span, so any one of those three left out of the
 * key changes nothing; two left out do.
 *
 * Planted in rate-scan.ts and caught (each reverted): the sample count left
 * out of the key ("rate n", "increase n", "delta n" fail), the gaps before
 * and after left out (the "start gap" cases), the span and the gap after
 * left out (the "span" cases), the clamp test dropped (`memo.factor`
 * always: "rate clamp", "increase clamp").
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { FactorMemo } from './extrapolation-factor.js';
import { extrapolate, extrapolatedRate } from './range-functions.js';
import { DropList, scanRate } from './rate-scan.js';
import type { RateKind } from './rate-scan.js';

const bitsOf = (x: number): string => Buffer.from(Float64Array.of(x).buffer).toString('hex');

t.test('result × the memo\'s factor is extrapolate\'s answer, bit for bit, where the clamp does not move the start', async (t) => {
  const rand = new SeededRand(7);
  const memo = new FactorMemo();
  let compared = 0;
  for (let i = 0; i < 20_000; i++) {
    const startMs = rand.intn(1_000_000);
    const rangeMs = 1 + rand.intn(900_000);
    const endMs = startMs + rangeMs;
    const firstT = startMs + rand.intn(rangeMs);
    const lastT = firstT + 1 + rand.intn(Math.max(1, endMs - firstT));
    if (lastT > endMs) continue;
    const n = 2 + rand.intn(200);
    const result = (rand.intn(2_000_001) - 1_000_000) / (1 + rand.intn(1000));
    const firstV = (rand.intn(2_000_001) - 1_000_000) / (1 + rand.intn(1000));
    const isCounter = rand.intn(2) === 0;
    const isRate = rand.intn(2) === 0;
    const rangeSec = rangeMs / 1000;
    memo.fill(firstT - startMs, endMs - lastT, lastT - firstT, n, isRate, rangeSec);
    const clamps = isCounter && result > 0 && firstV >= 0 && memo.sampledIntervalSec * (firstV / result) < memo.durationToStartSec;
    if (clamps) continue;
    const want = extrapolate(result, firstT, lastT, firstV, n, startMs, endMs, isCounter, isRate, rangeSec);
    const got = result * memo.factor;
    if (bitsOf(got) !== bitsOf(want)) {
      t.fail(`case ${i}: ${got} vs ${want}`);
      return;
    }
    compared++;
  }
  t.ok(compared > 10_000, `${compared} factors equal`);
});

/** scanDiff runs scanRate over `windows` (one width) and compares every step with extrapolatedRate on that window: the first difference, or null. */
function scanDiff(kind: RateKind, ts: number[], vs: number[], windows: [number, number][]): string | null {
  const rangeMs = (windows[0] as [number, number])[1] - (windows[0] as [number, number])[0];
  const w = { startMs: Float64Array.from(windows, (x) => x[0]), endMs: Float64Array.from(windows, (x) => x[1]), rangeMs };
  const out = { values: new Float64Array(windows.length), present: new Uint8Array(windows.length), firstK: null, k: 0 };
  const series = { ts: Float64Array.from(ts), vs: Float64Array.from(vs) };
  scanRate(kind, series, w, out, new DropList());
  const isCounter = kind === 'rate' || kind === 'increase';
  for (let i = 0; i < windows.length; i++) {
    const [s, e] = windows[i] as [number, number];
    let lo = 0;
    while (lo < ts.length && (ts[lo] as number) < s) lo++;
    let hi = lo;
    while (hi < ts.length && (ts[hi] as number) <= e) hi++;
    const want = extrapolatedRate({ ts: series.ts, vs: series.vs, lo, hi, rangeStartMs: s, rangeEndMs: e, rangeMs, stepTimeMs: e }, isCounter, kind === 'rate');
    const got = out.present[i] === 1 ? (out.values[i] as number) : null;
    if (want === null || got === null ? want !== got : bitsOf(want) !== bitsOf(got)) return `window ${i} [${s}, ${e}]: ${got} vs ${want}`;
  }
  return null;
}

/** every is n sample times from `fromMs`, `everyMs` apart. */
const every = (fromMs: number, n: number, everyMs: number): number[] => Array.from({ length: n }, (_, j) => fromMs + j * everyMs);

/**
 * CASES are two windows each, of one width, whose key (gap before the
 * first sample, span, sample count; the gap after the last sample follows
 * from the width) differs in one named part that moves the factor.
 */
const CASES: { what: string; ts: number[]; vs?: number[]; windows: [number, number][] }[] = [
  // Gaps of 20 s and a span of 260 s in both; 14 samples 20 s apart (the gaps under the 1.1× average threshold), then 27 10 s apart (over it).
  { what: 'n', ts: [...every(20_000, 14, 20_000), ...every(1_020_000, 27, 10_000)], windows: [[0, 300_000], [1_000_000, 1_300_000]] },
  // 11 samples 25 s apart in both; the first 1 s after the start (the last 49 s before the end), then 25 s after it (25 s before).
  { what: 'start gap', ts: [...every(1_000, 11, 25_000), ...every(1_025_000, 11, 25_000)], windows: [[0, 300_000], [1_000_000, 1_300_000]] },
  // 11 samples, the first 10 s after the start in both; 25 s apart (span 250 s), then 20 s apart (span 200 s).
  { what: 'span', ts: [...every(10_000, 11, 25_000), ...every(1_010_000, 11, 20_000)], windows: [[0, 270_000], [1_000_000, 1_270_000]] },
  // One key in both; a counter far above zero, then one whose zero lies inside the start gap (the clamp moves the start).
  {
    what: 'clamp', ts: [...every(20_000, 11, 25_000), ...every(1_020_000, 11, 25_000)], windows: [[0, 300_000], [1_000_000, 1_300_000]],
    vs: [...every(100_000, 11, 10), ...every(1, 11, 10)],
  },
];

t.test('scanRate with its memo answers extrapolatedRate where consecutive windows differ in one part of the key', async (t) => {
  for (const kind of ['rate', 'increase', 'delta'] as const) {
    for (const c of CASES) {
      const vs = c.vs ?? c.ts.map((_, j) => 1000 + j * 3);
      t.equal(scanDiff(kind, c.ts, vs, c.windows), null, `${kind} ${c.what}`);
    }
  }
});
