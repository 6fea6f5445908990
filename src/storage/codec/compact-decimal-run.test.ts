import t from 'tap';
import type { Test } from 'tap';
import { isOtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { CodecLimits } from '../../limits.js';
import { BitReader, BitWriter, writeWide } from './bits.js';
import { deltaRunUnchecked, sumPackedRun } from './compact-decimal-run.js';

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

/** DeltaRead reads a delta-order run of packed fields from a reader and sums them (BitReader.readDeltaRun, or a planted bug). */
type DeltaRead = (r: BitReader, n: number, count: number, rMin: number, g: number, m: number, p: number, out: Float64Array, at: number) => number;

const readDeltaRun: DeltaRead = (r, ...rest) => r.readDeltaRun(...rest);

/**
 * deltaMismatches draws delta-order runs (fields of 1-24 bits at every
 * leading bit offset, with a marker after them; small and large rMin, with
 * and without a factor and a decimal scale, counts past the int32 sum's
 * 256) that deltaRunUnchecked admits, and counts those where `read` differs
 * from the per-sample reference: a value's bits, m after the run, or the
 * reader's position after it (the marker read back).
 */
function deltaMismatches(t: Test, read: DeltaRead, report: boolean): { bad: number; runs: number; intSum: number } {
  const rand = new SeededRand(11);
  const w = new BitWriter();
  let bad = 0;
  let runs = 0;
  let intSum = 0;
  for (let c = 0; c < 4000; c++) {
    const width = 1 + rand.intn(24);
    const fieldMax = 2 ** width - 1;
    const lead = rand.intn(8);
    const count = rand.intn(5) === 0 ? 1 + rand.intn(400) : 1 + rand.intn(240);
    const g = rand.intn(3) === 0 ? 1 + rand.intn(5000) : 1;
    const p = [1, 1, 10, 100, 7][rand.intn(5)] as number;
    const rMin = rand.intn(4) === 0 ? (rand.intn(2) === 0 ? 1 : -1) * (2 ** 20 + rand.intn(2 ** 22)) : -rand.intn(Math.min(fieldMax, 1000) + 1) + (rand.intn(2) === 0 ? rand.intn(50) : 0);
    const m = rand.intn(4) === 0 ? (rand.intn(2) === 0 ? 1 : -1) * rand.intn(2 ** 30) * 2 ** 10 : rand.intn(1_000_000) - 1000;
    const bound = Math.floor((4 * M_MAX) / g);
    if (!deltaRunUnchecked(count, width, rMin, g, bound, m)) continue;
    runs++;
    if (width <= 20 && Math.abs(rMin) <= 2 ** 20 && count <= 256) intSum++;
    const xs = new Float64Array(count);
    for (let i = 0; i < count; i++) xs[i] = rand.intn(3) === 0 ? fieldMax : Math.floor((rand.intn(0x1_0000) / 0x1_0000) * (fieldMax + 1));
    w.reset();
    w.writeBits(rand.intn(256) & ((1 << lead) - 1), lead);
    for (let i = 0; i < count; i++) writeWide(w, xs[i] as number, width);
    w.writeBits(0x5a, 8);
    const bytes = w.finish();
    const want = new Float64Array(count + 2).fill(-1);
    const ref = reference(1, xs, count, rMin, g, bound, 0, p, m, 0, want, 1);
    const got = new Float64Array(count + 2).fill(-1);
    const r = new BitReader(bytes);
    r.readBits(lead);
    let ok: boolean;
    try {
      const mOut = read(r, width, count, rMin, g, m, p, got, 1);
      ok = ref !== 'corrupt' && mOut === ref.m && want.every((v, i) => Object.is(v, got[i])) && r.readBits(8) === 0x5a;
    } catch (err) {
      if (!isOtlpdbError(err, 'ERR_CORRUPTION')) throw err;
      ok = false;
    }
    if (!ok) {
      bad++;
      if (report && bad <= 3) t.fail(`width ${width} lead ${lead} count ${count} rMin ${rMin} g ${g} p ${p} m ${m}: differs`);
    }
  }
  return { bad, runs, intSum };
}

t.test('BitReader.readDeltaRun equals the per-sample delta arithmetic wherever deltaRunUnchecked admits a run', async (t) => {
  const r = deltaMismatches(t, readDeltaRun, true);
  t.equal(r.bad, 0, 'no run differs');
  t.ok(r.intSum > 1000, `runs summed as an int32 were drawn (${r.intSum})`);
  t.ok(r.runs - r.intSum > 300, `runs summed as doubles were drawn (${r.runs - r.intSum})`);
});

t.test('BitReader.readDeltaRun: a run past the range is ERR_CORRUPTION before any value is written', async (t) => {
  const w = new BitWriter();
  for (let i = 0; i < 10; i++) w.writeBits(i, 7);
  const r = new BitReader(w.finish());
  const out = new Float64Array(12).fill(-1);
  t.throws(() => r.readDeltaRun(7, 12, 0, 1, 0, 1, out, 0), { code: 'ERR_CORRUPTION' });
  t.ok(out.every((v) => v === -1), 'nothing written');
  t.equal(r.readDeltaRun(7, 10, 0, 1, 0, 1, out, 0), 45, 'the run that fits sums to 0 + 1 + ... + 9');
});

t.test('planted bugs in a delta run reader are caught', async (t) => {
  const planted: [string, DeltaRead][] = [
    ['the last field left out (a run one short)', (r, n, count, rMin, g, m, p, out, at) => {
      if (count === 1) return r.readDeltaRun(n, count, rMin, g, m, p, out, at);
      const last = r.readDeltaRun(n, count - 1, rMin, g, m, p, out, at);
      r.readBits(n);
      return last;
    }],
    ['rMin dropped (a sign bug)', (r, n, count, _rMin, ...rest) => r.readDeltaRun(n, count, 0, ...rest)],
    ['the factor dropped (a scale bug)', (r, n, count, rMin, _g, ...rest) => r.readDeltaRun(n, count, rMin, 1, ...rest)],
    ['the scale taken as 1 (no division)', (r, n, count, rMin, g, m, _p, out, at) => r.readDeltaRun(n, count, rMin, g, m, 1, out, at)],
    ['the start value dropped (the int32 sum without m)', (r, n, count, rMin, g, m, p, out, at) => r.readDeltaRun(n, count, rMin, g, m === 0 ? 1 : 0, p, out, at)],
    ['one bit too narrow', (r, n, count, rMin, g, m, p, out, at) => {
      if (n === 1) return r.readDeltaRun(n, count, rMin, g, m + 1, p, out, at);
      const last = r.readDeltaRun(n - 1, count, rMin, g, m, p, out, at);
      for (let left = count; left > 0; left -= Math.min(left, 32)) r.readBits(Math.min(left, 32));
      return last;
    }],
  ];
  for (const [what, read] of planted) t.ok(deltaMismatches(t, read, false).bad > 0, `caught: ${what}`);
});
