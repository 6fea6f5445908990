import t from 'tap';
import type { Test } from 'tap';
import { isOtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { CodecLimits } from '../../limits.js';
import { sumPackedRun } from './compact-decimal-run.js';

const M_MAX = CodecLimits.decimalScaledAbsMax;

/** reference is CompactDecimalValueDecoder.next's arithmetic and checks, sample by sample: what sumPackedRun must equal. */
function reference(order: number, xs: Float64Array, count: number, rMin: number, g: number, bound: number, m0: number, p: number, m: number, d: number, out: Float64Array, at: number): { m: number; d: number } | 'corrupt' {
  for (let i = 0; i < count; i++) {
    let x = rMin + (xs[i] as number);
    if (!(x <= bound && x >= -bound)) return 'corrupt';
    x *= g;
    if (order === 0) m = m0 + x;
    else if (order === 1) m += x;
    else {
      d += x;
      if (!(d <= 2 * M_MAX && d >= -2 * M_MAX)) return 'corrupt';
      m += d;
    }
    if (!(m <= M_MAX && m >= -M_MAX)) return 'corrupt';
    out[at + i] = m / p;
  }
  return { m, d };
}

/** Case is one run: its fields and where it starts. */
interface Case {
  order: number;
  width: number;
  rMin: number;
  g: number;
  m0: number;
  m: number;
  d: number;
  p: number;
  xs: Float64Array;
}

/** cases draws runs of every order: small counters (the unchecked loops) and runs near or past the bounds (the checked loop, and its throws). */
function* cases(rand: SeededRand): Generator<Case> {
  for (let c = 0; c < 3000; c++) {
    const order = c % 3;
    const width = rand.intn(33);
    const near = rand.intn(4) === 0; // a run that starts near a bound
    const g = rand.intn(3) === 0 ? 1 + rand.intn(5000) : 1;
    const fieldMax = width === 0 ? 0 : 2 ** width - 1;
    const rMin = rand.intn(2) === 0 ? -rand.intn(Math.min(fieldMax, 1000) + 1) : near ? -Math.floor(fieldMax / 2) : 0;
    const big = (M_MAX / 2) * (0.9 + rand.intn(300) / 1000);
    const m0 = near ? (rand.intn(2) === 0 ? big : -big) : rand.intn(1_000_000);
    const m = near ? m0 : m0 + rand.intn(1000);
    const d = order === 2 ? (near ? (rand.intn(2) === 0 ? 1 : -1) * M_MAX * 0.9 : rand.intn(100)) : 0;
    const p = [1, 10, 100, 1000, 7][rand.intn(5)] as number;
    const count = 1 + rand.intn(240);
    const xs = new Float64Array(count);
    for (let i = 0; i < count; i++) xs[i] = rand.intn(3) === 0 ? fieldMax : Math.floor((rand.intn(0x1_0000) / 0x1_0000) * (fieldMax + 1));
    yield { order, width, rMin, g, m0, m, d, p, xs };
  }
}

/** SumRun is a run summer under test: sumPackedRun, or a planted bug. */
type SumRun = typeof sumPackedRun;

function mismatches(t: Test, sum: SumRun, report: boolean): { bad: number; fast: number; corrupt: number } {
  const rand = new SeededRand(7);
  let bad = 0;
  let corrupt = 0;
  let fast = 0;
  for (const c of cases(rand)) {
    const count = c.xs.length;
    const bound = Math.floor((4 * M_MAX) / c.g);
    const want = new Float64Array(count + 2).fill(-1);
    const got = new Float64Array(count + 2).fill(-1);
    const ref = reference(c.order, c.xs, count, c.rMin, c.g, bound, c.m0, c.p, c.m, c.d, want, 1);
    const run = { m: c.m, d: c.d };
    let threw = false;
    try {
      sum(c.order, c.xs, count, c.width, c.rMin, c.g, bound, c.m0, c.p, run, got, 1);
    } catch (err) {
      if (!isOtlpdbError(err, 'ERR_CORRUPTION')) throw err;
      threw = true;
    }
    let ok: boolean;
    if (ref === 'corrupt') {
      corrupt++;
      ok = threw;
    } else {
      if (Math.abs(c.m) < M_MAX / 4) fast++;
      ok = !threw && run.m === ref.m && run.d === ref.d && want.every((v, i) => Object.is(v, got[i]));
    }
    if (!ok) {
      bad++;
      if (report && bad <= 3) t.fail(`order ${c.order} width ${c.width} rMin ${c.rMin} g ${c.g} m ${c.m} d ${c.d}: ${ref === 'corrupt' ? 'want ERR_CORRUPTION' : threw ? 'threw' : 'values differ'}`);
    }
  }
  return { bad, fast, corrupt };
}

t.test('sumPackedRun equals the per-sample checked arithmetic: same values, and ERR_CORRUPTION exactly when a check fails', async (t) => {
  const r = mismatches(t, sumPackedRun, true);
  t.equal(r.bad, 0, 'no run differs');
  t.ok(r.fast > 1000, `small runs were drawn (${r.fast})`);
  t.ok(r.corrupt > 50, `runs past a bound were drawn (${r.corrupt})`);
});

t.test('planted bugs in a run summer are caught', async (t) => {
  const planted: [string, SumRun][] = [
    ['the last field left out (a run one short)', (o, xs, count, ...rest) => sumPackedRun(o, xs, count - 1, ...rest)],
    ['residuals read without their minimum (a sign bug for a negative rMin)', (o, xs, count, width, _rMin, ...rest) => sumPackedRun(o, xs, count, width, 0, ...rest)],
    ['the factor left out (a scale bug)', (o, xs, count, width, rMin, _g, ...rest) => sumPackedRun(o, xs, count, width, rMin, 1, ...rest)],
    ['a wider field assumed (the reach under-bounded, no check near a bound)', (o, xs, count, width, rMin, g, bound, m0, p, run, out, at) => {
      // Unchecked arithmetic everywhere: what a reach bound that always passes would do.
      let m = run.m;
      let d = run.d;
      for (let i = 0; i < count; i++) {
        const x = (rMin + (xs[i] as number)) * g;
        if (o === 0) m = m0 + x;
        else if (o === 1) m += x;
        else m += d += x;
        out[at + i] = m / p;
      }
      run.m = m;
      run.d = d;
      void width;
      void bound;
    }],
  ];
  for (const [what, sum] of planted) t.ok(mismatches(t, sum, false).bad > 0, `caught: ${what}`);
});
