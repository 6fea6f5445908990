import t from 'tap';
import { fromBits, roundTripMismatch } from './codec-test-util.js';
import type { Decode, Encode } from './codec-test-util.js';
import type { Test } from 'tap';
import { isOtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { BitReader, BitWriter, float64FromBits } from './bits.js';
import { SeriesEncoder, decodeChunk } from './chunk.js';
import { ChunkEncoding, checkChunkInput } from './chunk-format.js';
import { CompactDecimalScratch, encodeCompactDecimalChunk } from './compact-decimal.js';
import { CompactTimestampPlan, TIMESTAMP_K_EXACT, TimestampMode } from './compact-timestamps.js';
import { encodeCompactXorChunk } from './compact-xor.js';
import { encodeDecimalChunk } from './decimal.js';
import { XorValueEncoder, encodeChunk } from './gorilla.js';
import { RATIONAL_Q_MAX, RationalScratch, encodeRationalChunk, ratioOf } from './rational.js';
import { RICE_ESCAPE_QUOTIENT, RICE_K_MAX, RICE_Z_MAX, readRice, riceBits, writeRice } from './rice.js';


const TWO_32 = 0x1_0000_0000;

/** compactXor encodes with ChunkEncoding.XorCompact alone. */
function compactXor(ts: ArrayLike<number>, values: Float64Array): Uint8Array {
  checkChunkInput(ts, values);
  const plan = new CompactTimestampPlan();
  plan.plan(ts);
  return encodeCompactXorChunk(ts, values, plan, new BitWriter(), new XorValueEncoder());
}

/** compactDecimal encodes with ChunkEncoding.DecimalCompact alone (null when the values have no exact decimal form). */
function compactDecimal(ts: ArrayLike<number>, values: Float64Array): Uint8Array | null {
  checkChunkInput(ts, values);
  const plan = new CompactTimestampPlan();
  plan.plan(ts);
  return encodeCompactDecimalChunk(ts, values, plan, new BitWriter(), new CompactDecimalScratch());
}

/** rational encodes with ChunkEncoding.Rational alone (null unless every value is a small ratio). */
function rational(ts: ArrayLike<number>, values: Float64Array): Uint8Array | null {
  checkChunkInput(ts, values);
  const plan = new CompactTimestampPlan();
  plan.plan(ts);
  return encodeRationalChunk(ts, values, plan, new BitWriter(), new RationalScratch());
}

const encoders: readonly (readonly [string, Encode])[] = [
  ['compact xor', compactXor],
  ['compact decimal', compactDecimal],
  ['rational', rational],
  ['series', (ts, v) => new SeriesEncoder().encodeChunk(ts, v)],
];



/** randomPattern is a float64 from the awkward corners: NaN payloads, ±0, ±Inf, subnormals, max, or any 64 bits. */
function randomPattern(rand: SeededRand): number {
  const pick = rand.intn(8);
  const lo = rand.intn(TWO_32);
  switch (pick) {
    case 0:
      return float64FromBits(0x7ff0_0000 | (1 + rand.intn(0xf_ffff)), lo); // NaN with a payload
    case 1:
      return float64FromBits(0xfff8_0000 | rand.intn(0x8_0000), lo); // negative NaN
    case 2:
      return [0, -0, Infinity, -Infinity][rand.intn(4)] as number;
    case 3:
      return float64FromBits(rand.intn(2) === 0 ? 0 : 0x8000_0000, 1 + rand.intn(1000)); // subnormal
    case 4:
      return float64FromBits(0x7fef_ffff, 0xffff_ffff - rand.intn(4));
    default:
      return float64FromBits(rand.intn(TWO_32), lo);
  }
}

/**
 * series builds a seeded random series of one of several shapes; values are
 * written as bit patterns where NaN payloads matter.
 */
function series(rand: SeededRand, kind: number, n: number): { ts: Float64Array; values: Float64Array } {
  const ts = new Float64Array(n);
  const values = new Float64Array(n);
  const bits = new Uint32Array(values.buffer);
  const tsShape = rand.intn(5);
  const interval = [1000, 15_000, 1, 10_000, 60_000][rand.intn(5)] as number;
  let t = rand.intn(3) === 0 ? -(2 ** 50) + rand.intn(1000) : rand.intn(2) === 0 ? 2 ** 50 - n * 70_000 : 1_700_000_000_000 + rand.intn(1e6);
  let level = rand.intn(1000) - 500;
  const digits = rand.intn(10);
  for (let i = 0; i < n; i++) {
    // Timestamps: steady, jittered, drifting, huge jumps, or any order within ±2^50.
    if (tsShape === 0) t += interval;
    else if (tsShape === 1) t = (i === 0 ? t : (ts[0] as number) + i * interval) + rand.intn(7) - 3;
    else if (tsShape === 2) t += interval + rand.intn(3);
    else if (tsShape === 3) t += rand.intn(10) === 0 ? rand.intn(2 ** 30) * 1024 : interval;
    else t = rand.intn(2 ** 30) * 2 ** 20 * (rand.intn(2) === 0 ? 1 : -1);
    if (t > 2 ** 50) t = 2 ** 50;
    if (t < -(2 ** 50)) t = -(2 ** 50);
    ts[i] = t;
    let v: number;
    switch (kind) {
      case 0: // bit patterns from the corners
        v = randomPattern(rand);
        break;
      case 1: // decimal gauge at `digits`
        v = Math.round((rand.intn(2_000_000) - 1_000_000) * 10 ** (digits - 6)) / 10 ** digits;
        break;
      case 2: // decimal counter that picked up float-sum error (4820.2300000000005-like)
        level += rand.intn(100);
        v = level / 100 + (rand.intn(3) === 0 ? 0.1 + 0.2 - 0.3 : 0);
        break;
      case 3: // few levels, long runs
        if (rand.intn(10) === 0) level = rand.intn(4) * 2 ** 20;
        v = level;
        break;
      case 5: // ratios (utilizations), some negative or above 1
        v = (rand.intn(2000) - (digits === 0 ? 1000 : 0)) / (1 + rand.intn(digits < 5 ? 1000 : RATIONAL_Q_MAX));
        break;
      default: // a mix: decimals with one pattern from the corners now and then
        v = rand.intn(20) === 0 ? randomPattern(rand) : rand.intn(100000) / 1000;
    }
    values[i] = v;
    if (kind === 0 || kind === 4) {
      // Keep the exact payload: write the pattern, not the number.
      const f = new Float64Array([v]);
      const u = new Uint32Array(f.buffer);
      bits[2 * i] = u[0] as number;
      bits[2 * i + 1] = u[1] as number;
    }
  }
  return { ts, values };
}

t.test('Rice fields round-trip at every k, with escapes, and refuse a value past RICE_Z_MAX', async (t) => {
  const cases = [0, 1, 2, 5, 63, 64, 1000, 2 ** 31, 2 ** 32 + 7, 2 ** 52 + 3, RICE_Z_MAX];
  t.equal(RICE_Z_MAX, Number.MAX_SAFE_INTEGER, 'every coded value is a safe integer');
  for (const k of [0, 1, 3, 17, 32, 33, RICE_K_MAX]) {
    const w = new BitWriter();
    let bits = 0;
    for (const z of cases) {
      writeRice(w, z, k);
      bits += riceBits(z, k);
    }
    t.equal(w.bitLength, bits, `k ${k}: riceBits counts what writeRice writes`);
    const r = new BitReader(w.finish());
    t.same(
      cases.map(() => readRice(r, k)),
      cases,
      `k ${k}`,
    );
  }
  t.equal(riceBits(0, 0), 1, 'zero at k 0 is one bit');
  t.equal(riceBits(78, 0), RICE_ESCAPE_QUOTIENT + 8, 'an outlier escapes to a varint');
  const w = new BitWriter();
  w.writeBits((1 << RICE_ESCAPE_QUOTIENT) - 1, RICE_ESCAPE_QUOTIENT);
  const w2 = new BitWriter();
  w2.writeBits(0b11110, 5);
  w2.write64(0x1f_ffff, 0xffff_ffff, 53);
  t.throws(() => readRice(new BitReader(w2.finish()), 53), { code: 'ERR_CORRUPTION' }, 'quotient × 2^53 past RICE_Z_MAX');
});

t.test('compact timestamps: a steady interval costs 1 bit a sample, scrape jitter about 2', async (t) => {
  const n = 120;
  const steady = Array.from({ length: n }, (_, i) => 1_795_754_521_622 + i * 1000);
  const plan = new CompactTimestampPlan();
  plan.plan(steady);
  t.equal(plan.intervalMs, 1000);
  t.equal(plan.k, TIMESTAMP_K_EXACT, 'a steady interval needs no per-sample fields');
  t.equal(plan.bits, 1 + 16 + 6, `steady: ${plan.bits} bits for ${n - 1} samples (mode, interval, k)`);
  const rand = new SeededRand(3);
  const jittered = steady.map((x, i) => (i === 0 ? x : x + rand.intn(5) - 2));
  plan.plan(jittered);
  t.equal(plan.mode, TimestampMode.Grid, 'jitter around a schedule picks the grid');
  t.ok(plan.bits / (n - 1) < 3.5, `jittered uniform ±2 ms: ${(plan.bits / (n - 1)).toFixed(2)} bits a sample (Gorilla dod: ~9)`);
  const drifting = steady.map((_, i) => 1_795_754_521_622 + i * 1000 + Math.floor((i * i) / 8));
  plan.plan(drifting);
  t.equal(plan.mode, TimestampMode.Delta, 'a drifting clock picks deltas');
  const chunk = new SeriesEncoder().encodeChunk(steady, new Float64Array(n).fill(1.5));
  t.equal(chunk[1], ChunkEncoding.DecimalCompact, 'a constant chunk is compact decimal');
  t.ok(chunk.length <= 16, `a constant steady chunk of ${n} samples is ${chunk.length} bytes`);
});

t.test('compact decimal: ulp fix-ups, repeated values and levels', async (t) => {
  const ts = Array.from({ length: 60 }, (_, i) => 1_795_754_521_622 + i * 1000);
  // Float sums of decimals (system.cpu.time-like): 4820.2300000000005 is 1 ulp above 4820.23.
  let acc = 4819.55;
  const cpu = Float64Array.from(ts, (_, i) => (acc += [0.68, 0.49, 0.11, 0.3][i % 4] as number));
  t.ok(cpu.some((v) => Math.round(v * 100) / 100 !== v), 'the sums carry rounding error');
  const bytes = compactDecimal(ts, cpu);
  t.not(bytes, null, 'encodable with fix-ups');
  t.equal(roundTripMismatch(ts, cpu, compactDecimal), null, 'bit-exact');
  t.ok(bytes !== null && bytes.length < encodeChunk(ts, cpu).length / 2, `fix-up decimal ${bytes?.length} B vs Gorilla ${encodeChunk(ts, cpu).length} B`);
  const runs = Float64Array.from(ts, (_, i) => (i < 20 ? 16_777_216 : i < 45 ? 33_554_432 : 8_388_608));
  const r = compactDecimal(ts, runs);
  t.ok(r !== null && r.length <= 40, `three levels in 60 samples: ${r?.length} B`);
  t.equal(roundTripMismatch(ts, runs, compactDecimal), null, 'levels bit-exact');
  // Bytes that move in 4 KiB pages: the common factor 4096 takes 12 bits off every residual.
  const rand = new SeededRand(12);
  const pages = Float64Array.from(ts, () => 24_682_389_504 + 4096 * rand.intn(4000));
  const unfactored = Float64Array.from(pages, (v, i) => (i === 30 ? v + 1 : v));
  const withFactor = compactDecimal(ts, pages);
  const without = compactDecimal(ts, unfactored);
  t.ok(withFactor !== null && without !== null && withFactor.length + 59 * 10 / 8 < without.length, `4 KiB pages ${withFactor?.length} B, one odd byte count ${without?.length} B`);
  t.equal(roundTripMismatch(ts, pages, compactDecimal), null, 'factored residuals bit-exact');
  t.equal(roundTripMismatch(ts, Float64Array.from(ts, (_, i) => -(2 ** 50) + (i % 2) * 2 ** 51), compactDecimal), null, 'a factor of 2^51 at the scaled limits');
  t.equal(compactDecimal(ts.slice(0, 2), Float64Array.of(1, NaN)), null, 'NaN has no decimal form');
  t.equal(compactDecimal(ts.slice(0, 1), Float64Array.of(-0)), null, '-0 has no decimal form');
  t.equal(compactDecimal(ts.slice(0, 2), Float64Array.of(1, 2 ** 51)), null, 'past decimalScaledAbsMax');
  t.equal(compactDecimal(ts.slice(0, 2), Float64Array.of(Math.PI * 1e-12, 1)), null, 'a value 2^24+ ulps from any 9-digit decimal');
  t.equal(compactDecimal(ts.slice(0, 2), Float64Array.of(-1e-300, 1)), null, 'a tiny negative rounds to +0: the sign cannot be fixed up');
  t.equal(roundTripMismatch([0, 1, 2], Float64Array.of(-4820.2300000000005, -2.5, -0.30000000000000004), compactDecimal), null, 'negative values with fix-ups');
});

t.test('edge cases round-trip bit-exactly in the compact encodings', async (t) => {
  const cases: [string, number[], Float64Array][] = [
    ['empty', [], new Float64Array(0)],
    ['one sample', [0], Float64Array.of(1.5)],
    ['two samples', [5, 4], Float64Array.of(1.5, 3)],
    ['negative time', [-(2 ** 50)], Float64Array.of(-1)],
    ['huge gaps', [-(2 ** 50), 2 ** 50, -(2 ** 50), 0, 2 ** 50, 2 ** 50], Float64Array.of(1, 2, 3, 4, 5, 6)],
    ['decreasing', [100, 90, 80, 10, -50], Float64Array.of(5, 4, 3, 2, 1)],
    [
      'special values',
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      fromBits([
        [0x7ff0_0000, 2],
        [0x7ff8_0000, 0],
        [0xfff8_0000, 1],
        [0x7ff0_0000, 0],
        [0xfff0_0000, 0],
        [0x8000_0000, 0],
        [0, 0],
        [0, 1],
        [0x7fef_ffff, 0xffff_ffff],
        [0x7ff0_0000, 2],
      ]),
    ],
    ['max decimals', [0, 1, 2, 3], Float64Array.of(2 ** 50, -(2 ** 50), 2 ** 50, -(2 ** 50))],
    ['nine digits', [0, 1, 2], Float64Array.of(0.123456789, 1e-9, 999999.999999999)],
    ['tiny subnormal fix-ups', [0, 1, 2], fromBits([[0, 1], [0, 7], [0, 0]])],
  ];
  for (const [name, ts, values] of cases) {
    for (const [ename, encode] of encoders) {
      const m = roundTripMismatch(ts, values, encode);
      if (m !== 'skipped') t.equal(m, null, `${name} (${ename})`);
    }
  }
});

t.test('property: random series round-trip exactly through every compact encoder (seeded)', async (t) => {
  const seeds = 400;
  let failures = 0;
  let decimalChunks = 0;
  let rationalChunks = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const rand = new SeededRand(seed);
    const kind = rand.intn(6);
    const n = rand.intn(4) === 0 ? rand.intn(4) : rand.intn(300);
    const { ts, values } = series(rand, kind, n);
    for (const [ename, encode] of encoders) {
      const m = roundTripMismatch(ts, values, encode);
      if (m === 'skipped') continue;
      if (ename === 'compact decimal') decimalChunks++;
      if (ename === 'rational') rationalChunks++;
      if (m !== null) {
        failures++;
        t.fail(`seed ${seed} kind ${kind} n ${n} (${ename}): ${m}`);
      }
    }
    const plain = encodeChunk(ts, values);
    const choice = new SeriesEncoder().encodeChunk(ts, values);
    if (choice.length > plain.length) t.fail(`seed ${seed}: the choice (${choice.length}) is larger than plain XOR (${plain.length})`);
  }
  t.equal(failures, 0, `${seeds} seeds`);
  t.ok(decimalChunks > seeds / 4, `${decimalChunks} series took the compact decimal path`);
  t.ok(rationalChunks > seeds / 8, `${rationalChunks} series took the rational path`);
});

t.test('rational: utilizations are small ratios; the smallest denominator is found; non-ratios are refused', async (t) => {
  const pair = new Float64Array(2);
  t.ok(ratioOf(0.6813627254509018, pair), '0.6813627254509018 is a ratio');
  t.same(Array.from(pair), [340, 499], '= 340 / 499 (680 ms of 998)');
  t.ok(ratioOf(-2.5, pair) && pair[0] === -5 && pair[1] === 2, '-2.5 = -5 / 2');
  t.ok(ratioOf(0, pair) && pair[0] === 0 && pair[1] === 1, '0 = 0 / 1');
  for (const v of [NaN, Infinity, -Infinity, -0, Math.PI, 1e300, 2 ** -60]) t.notOk(ratioOf(v, pair), `${v} is no small ratio`);
  const ts = Array.from({ length: 60 }, (_, i) => 1_795_754_521_622 + i * 1000 + (i % 2));
  const util = Float64Array.from(ts, (_, i) => ((i * 37) % 100) * 10 / (998 + (i % 5)));
  const bytes = rational(ts, util);
  t.not(bytes, null, 'encodable');
  t.equal(roundTripMismatch(ts, util, rational), null, 'bit-exact');
  t.ok(bytes !== null && bytes.length < compactXor(ts, util).length / 2, `rational ${bytes?.length} B vs compact XOR ${compactXor(ts, util).length} B`);
  t.equal(new SeriesEncoder().encodeChunk(ts, util)[1], ChunkEncoding.Rational, 'the series encoder picks it');
  t.equal(rational(ts.slice(0, 2), Float64Array.of(0.5, Math.PI)), null, 'one irrational refuses the chunk');
  // A rate over the scrape interval (system.cpu.utilization: 10 ms ticks of CPU over the ms between
  // exports), with one sample in eight measured over a slightly different interval (an exception).
  const rand = new SeededRand(21);
  const tj = Array.from({ length: 60 }, (_, i) => 1_795_754_521_622 + i * 1000 + rand.intn(5) - 2);
  const rate = Float64Array.from(tj, (t, i) => {
    const dt = i === 0 ? 1000 : t - (tj[i - 1] as number);
    return (10 * rand.intn(101)) / (i % 8 === 3 ? dt + 1 : dt);
  });
  const byTs = rational(tj, rate);
  t.equal(roundTripMismatch(tj, rate, rational), null, 'rates over the interval, with exceptions, bit-exact');
  t.ok(byTs !== null && byTs.length <= 110, `rates over the interval: ${byTs?.length} B for 60 samples`);
});

function expectCorruption(t: Test, bytes: Uint8Array, what: string): void {
  try {
    decodeChunk(bytes);
    t.fail(`${what}: decoded without error`);
  } catch (err) {
    if (!isOtlpdbError(err, 'ERR_CORRUPTION')) t.fail(`${what}: threw ${String(err)}`);
  }
}

t.test('every truncation and an extra byte of a compact chunk is ERR_CORRUPTION; random damage never another error', async (t) => {
  const ts = [1000, 2000, 3001, 3999, 9000, 9001, 2 ** 40];
  let acc = 10.1;
  const sums = Float64Array.from(ts, () => (acc += 0.7));
  const cases: [string, Uint8Array | null][] = [
    ['compact xor', compactXor(ts, Float64Array.of(1.5, 2.25, NaN, -0, 1e300, 3.14159, 3.14159))],
    ['compact decimal', compactDecimal(ts, Float64Array.of(1.5, 2.25, 3, 4.75, 5, 6.5, 1e6))],
    ['compact decimal with fix-ups', compactDecimal(ts, sums)],
    ['rational', rational(ts, Float64Array.of(0.5, 340 / 499, 0, 7, 1 / 3, 2 / 3, 999 / 1000))],
    ['rational with signed numerators', rational(ts, Float64Array.of(-0.5, 340 / 499, 0, 7, -1 / 3, 2 / 3, 999 / 1000))],
  ];
  for (const [name, bytes] of cases) {
    if (bytes === null) {
      t.fail(`${name}: not encodable`);
      continue;
    }
    for (let len = 0; len < bytes.length; len++) expectCorruption(t, bytes.subarray(0, len), `${name} truncated to ${len}`);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expectCorruption(t, longer, `${name} with an extra zero byte`);
  }
  const seed = 91;
  const rand = new SeededRand(seed);
  const bases = cases.map(([, b]) => b as Uint8Array);
  for (let k = 0; k < 3000; k++) {
    const bytes = (bases[k % bases.length] as Uint8Array).slice();
    const flips = 1 + rand.intn(3);
    for (let f = 0; f < flips; f++) {
      const at = 2 + rand.intn(bytes.length - 2);
      bytes[at] = (bytes[at] as number) ^ (1 << rand.intn(8));
    }
    try {
      decodeChunk(bytes);
    } catch (err) {
      if (!isOtlpdbError(err, 'ERR_CORRUPTION')) t.fail(`seed ${seed} mutation ${k}: ${String(err)}`);
    }
  }
  t.pass('3000 mutations: ERR_CORRUPTION or a decode');
  // A claimed count past chunkSamplesMax is refused before any column is allocated.
  expectCorruption(t, Uint8Array.of(1, ChunkEncoding.XorCompact, 0xff, 0xff, 0xff, 0xff, 0x0f), 'compact xor count past chunkSamplesMax');
  expectCorruption(t, Uint8Array.of(1, ChunkEncoding.DecimalCompact, 0xff, 0xff, 0xff, 0xff, 0x0f), 'compact decimal count past chunkSamplesMax');
  expectCorruption(t, Uint8Array.of(1, ChunkEncoding.Rational, 0xff, 0xff, 0xff, 0xff, 0x0f), 'rational count past chunkSamplesMax');
});

t.test('planted bugs: the round-trip checker catches a wrong interval, a decoder that drops fix-ups and a flipped jitter bit', async (t) => {
  const ts = Array.from({ length: 60 }, (_, i) => 1_795_754_521_622 + i * 1000 + (i % 3));
  let acc = 1816.24;
  const sums = Float64Array.from(ts, (_, i) => (acc += [0.14, 0.18, 0.22][i % 3] as number));
  t.equal(roundTripMismatch(ts, sums, compactDecimal), null, 'the honest codec passes');
  // Bug 1: an encoder whose planned interval is off by one ms.
  const offInterval: Encode = (a, b) => {
    const plan = new CompactTimestampPlan();
    plan.plan(a);
    plan.intervalMs += 1;
    return encodeCompactXorChunk(a, b, plan, new BitWriter(), new XorValueEncoder());
  };
  t.not(roundTripMismatch(ts, sums, offInterval), null, 'an off-by-one interval is caught');
  // Bug 2: a decoder that ignores the ulp fix-ups (returns the plain decimals).
  const dropFixups: Decode = (bytes) => {
    const d = decodeChunk(bytes);
    return { ts: d.ts, values: Float64Array.from(d.values, (v) => Math.round(v * 100) / 100) };
  };
  t.not(roundTripMismatch(ts, sums, compactDecimal, dropFixups), null, 'dropped fix-ups are caught');
  // Bug 3: one flipped bit in the middle of a compact XOR stream (a jitter or value field).
  const flip: Encode = (a, b) => {
    const bytes = compactXor(a, b);
    const at = bytes.length >> 1;
    bytes[at] = (bytes[at] as number) ^ 0x04;
    return bytes;
  };
  t.not(roundTripMismatch(ts, sums, flip), null, 'a flipped bit is caught');
  // Bug 4: a rational decoder that keeps p / q in single precision.
  const util = Float64Array.from(ts, (_, i) => ((i * 37) % 100) / 499);
  t.equal(roundTripMismatch(ts, util, rational), null, 'the honest rational codec passes');
  const single: Decode = (bytes) => {
    const d = decodeChunk(bytes);
    return { ts: d.ts, values: Float64Array.from(d.values, (v) => Math.fround(v)) };
  };
  t.not(roundTripMismatch(ts, util, rational, single), null, 'a single-precision ratio is caught');
});

t.test('golden bytes: every chunk encoding ever written decodes to the same samples (stored data), and the encoders still write them', async (t) => {
  const ts = [1_700_000_000_000, 1_700_000_015_000, 1_700_000_030_001, 1_700_000_045_000];
  let acc = 4819.55;
  const sums = Float64Array.from(ts, (_, i) => (acc += [0.68, 0.49, 0.11, 0.3][i] as number));
  const cases: [string, string, Float64Array, Encode][] = [
    ['Xor (0)', '0100040000018bcfe568003ff8000000000000b0ea01c26fffb015fb3a32c848', Float64Array.of(1.5, 2.25, 2.25, 1e6), (a, b) => encodeChunk(a, b)],
    ['Decimal (1)', '0101040201ac02960195011b0000018bcfe56800b0ea01808000000bf5f5e06a', Float64Array.of(1.5, 2.25, 2.25, 1e6), (a, b) => encodeDecimalChunk(a, b)],
    ['XorCompact (2)', '01020480a0abfef962587500807ff0000000000000c2076033ffec1e600490fdaa22168c', Float64Array.of(1.5, NaN, -0, Math.PI), compactXor],
    ['DecimalCompact (3), fix-ups', '01030480a0abfef962587500804eceeb3a140ce132c5c0', sums, compactDecimal],
    [
      'DecimalCompact (3), factor',
      '01030480a0abfef962587500800d8080fbf2b70180202d554daf92ade0',
      Float64Array.of(24682389504, 24689377280, 24700882944, 24693837824),
      compactDecimal,
    ],
    ['Rational (4)', '01040480a0abfef962587500804305bca22f463800ee6160', Float64Array.of(340 / 499, 245 / 501, 0, 110 / 999), rational],
  ];
  for (const [name, hex, values, encode] of cases) {
    const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
    t.equal(roundTripMismatch(ts, values, () => bytes), null, `${name} decodes to its samples`);
    const again = encode(ts, values);
    t.equal(again === null ? null : Buffer.from(again).toString('hex'), hex, `${name} is still written byte for byte`);
  }
});
