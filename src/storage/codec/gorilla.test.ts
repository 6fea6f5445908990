import t from 'tap';
import { fromBits, roundTripMismatch } from './codec-test-util.js';
import type { Decode } from './codec-test-util.js';

/** Encode is the util's Encode for encoders that never decline. */
type Encode = (ts: ArrayLike<number>, values: Float64Array) => Uint8Array;
import type { Test } from 'tap';
import { isOtlpdbError } from '../../errors.js';
import { CodecLimits } from '../../limits.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { SeriesEncoder, decodeChunk, encodeSeries } from './chunk.js';
import { ChunkEncoding } from './chunk-format.js';
import { encodeDecimalChunk } from './decimal.js';
import { encodeChunk } from './gorilla.js';




const encoders: readonly (readonly [string, Encode])[] = [
  ['xor', (ts, v) => encodeChunk(ts, v)],
  ['series', (ts, v) => new SeriesEncoder().encodeChunk(ts, v)],
];

function series(rand: SeededRand, kind: number, n: number): { ts: number[]; values: Float64Array } {
  const ts: number[] = [];
  const values = new Float64Array(n);
  let t = rand.intn(2) === 0 ? 1_700_000_000_000 + rand.intn(1_000_000) : -rand.intn(2 ** 31) * 1000;
  const step = [1000, 15_000, 60_000, 1][rand.intn(4)] as number;
  let x = rand.intn(1000);
  for (let i = 0; i < n; i++) {
    ts.push(t);
    const jitter = rand.intn(8) === 0 ? rand.intn(5000) - 2500 : 0;
    t += rand.intn(16) === 0 ? rand.intn(2 ** 31) * 1000 - 2 ** 30 * 1000 : step + jitter;
    switch (kind) {
      case 0: // counter by integers
        x += rand.intn(10);
        values[i] = x;
        break;
      case 1: // gauge with two decimals
        x += (rand.intn(201) - 100) / 100;
        values[i] = Math.round(x * 100) / 100;
        break;
      case 2: // random-walk float
        values[i] = (x += (rand.nextU32() / 2 ** 32 - 0.5) * 3.7);
        break;
      case 3: // random bit patterns (NaNs with payloads, subnormals, infinities)
        values.set(fromBits([[rand.nextU32(), rand.nextU32()]]), i);
        break;
      default: // few distinct values, including -0 and the stale marker
        values.set(fromBits([[[0, 0x8000_0000, 0x7ff0_0000, 0x3ff0_0000][rand.intn(4)] as number, rand.intn(3)]]), i);
    }
  }
  return { ts, values };
}

t.test('edge cases round-trip bit-exactly in both encodings', async (t) => {
  const cases: [string, number[], Float64Array][] = [
    ['empty', [], new Float64Array(0)],
    ['one sample', [0], Float64Array.of(1.5)],
    ['negative time', [-(2 ** 50)], Float64Array.of(-1)],
    ['all equal', [1, 2, 3, 4, 5, 6], new Float64Array(6).fill(42.25)],
    ['huge gaps', [-(2 ** 50), 2 ** 50, -(2 ** 50), 0, 2 ** 50, 2 ** 50], Float64Array.of(1, 2, 3, 4, 5, 6)],
    ['dod bucket edges', [0, 0, 0, -63, -63 * 2 + 64, -63 + 1, 0, 256, 256 - 255 + 256, 4000, 8000 + 2048 + 4000, 1e9], new Float64Array(12)],
    ['decreasing', [100, 90, 80, 10, -50], Float64Array.of(5, 4, 3, 2, 1)],
    [
      'special values',
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      fromBits([
        [0x7ff0_0000, 2], // Prometheus stale marker
        [0x7ff8_0000, 0], // quiet NaN
        [0xfff8_0000, 1], // negative NaN with payload
        [0x7ff0_0000, 0], // +Inf
        [0xfff0_0000, 0], // -Inf
        [0x8000_0000, 0], // -0
        [0, 0], // +0
        [0, 1], // smallest subnormal
        [0x7fef_ffff, 0xffff_ffff], // max double
        [0x7ff0_0000, 2], // stale again
      ]),
    ],
    ['max safe-ish decimals', [0, 1, 2, 3], Float64Array.of(2 ** 50, -(2 ** 50), 2 ** 50, -(2 ** 50))],
    ['nine digits', [0, 1, 2], Float64Array.of(0.123456789, 1e-9, 999999.999999999)],
    ['-0 forces xor', [0, 1], Float64Array.of(1, -0)],
  ];
  for (const [name, ts, values] of cases) {
    for (const [ename, encode] of encoders) {
      t.equal(roundTripMismatch(ts, values, encode), null, `${name} (${ename})`);
    }
  }
});

t.test('the series encoder picks (compact) decimal where it is smaller and (compact) XOR otherwise', async (t) => {
  const enc = new SeriesEncoder();
  const ts = Array.from({ length: 120 }, (_, i) => 1_700_000_000_000 + i * 15_000);
  const gauge = Float64Array.from(ts, (_, i) => Math.round((50 + Math.sin(i / 7) * 20) * 100) / 100);
  const dec = enc.encodeChunk(ts, gauge);
  t.equal(dec[1], ChunkEncoding.DecimalCompact, 'two-decimal gauge is compact decimal');
  const walk = Float64Array.from(ts, (_, i) => Math.sin(i) * Math.PI);
  t.equal(enc.encodeChunk(ts, walk)[1], ChunkEncoding.XorCompact, 'irrational floats are compact XOR (its timestamps beat Gorilla dod even on a steady 15 s)');
  t.equal(enc.chunksDecimal, 1, 'one decimal chunk counted');
  t.equal(enc.chunksXor, 1, 'one XOR chunk counted');
  t.equal(encodeDecimalChunk(ts.slice(0, 2), Float64Array.of(1, NaN)), null, 'NaN has no decimal form');
  t.equal(encodeDecimalChunk(ts.slice(0, 1), Float64Array.of(0.1 + 0.2)), null, '0.30000000000000004 needs 17 digits');
  t.equal(encodeDecimalChunk(ts.slice(0, 1), Float64Array.of(2 ** 51)), null, 'past decimalScaledAbsMax');
  t.equal(encodeDecimalChunk(ts.slice(0, 1), Float64Array.of(-0)), null, '-0 has no decimal form');
  const constant = encodeDecimalChunk(ts, new Float64Array(120).fill(7));
  t.ok(constant !== null && constant.length <= 34, `a constant chunk packs into width 0: 16 header bytes, 3 for the first delta, 118 one-bit dods (${constant?.length} bytes)`);
});

t.test('property: random series round-trip exactly (seeded)', async (t) => {
  const seeds = 300;
  let failures = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const rand = new SeededRand(seed);
    const kind = rand.intn(5);
    const n = rand.intn(4) === 0 ? rand.intn(4) : rand.intn(400);
    const { ts, values } = series(rand, kind, n);
    for (const [ename, encode] of encoders) {
      const m = roundTripMismatch(ts, values, encode);
      if (m !== null) {
        failures++;
        t.fail(`seed ${seed} kind ${kind} n ${n} (${ename}): ${m}`);
      }
    }
    // encodeSeries cuts chunks; decoding them all gives the series back.
    const chunks = encodeSeries(ts, values, 1 + rand.intn(150));
    const all = chunks.map((c) => decodeChunk(c));
    const got = new Float64Array(all.reduce((s, c) => s + c.values.length, 0));
    let off = 0;
    for (const c of all) {
      got.set(c.values, off);
      off += c.values.length;
    }
    const want = new Uint32Array(values.buffer);
    const have = new Uint32Array(got.buffer);
    if (want.length !== have.length || want.some((w, i) => have[i] !== w)) t.fail(`seed ${seed}: encodeSeries chunks differ`);
  }
  t.equal(failures, 0, `${seeds} seeds`);
});

function expectCorruption(t: Test, bytes: Uint8Array, what: string): void {
  try {
    decodeChunk(bytes);
    t.fail(`${what}: decoded without error`);
  } catch (err) {
    if (!isOtlpdbError(err, 'ERR_CORRUPTION')) t.fail(`${what}: threw ${String(err)}`);
  }
}

t.test('every truncation and any extra byte is ERR_CORRUPTION', async (t) => {
  const ts = [1000, 2000, 3000, 4100, 9000, 9001, 2 ** 40];
  const cases: [string, Float64Array][] = [
    ['xor', Float64Array.of(1.5, 2.25, NaN, -0, 1e300, 3.14159, 3.14159)],
    ['decimal', Float64Array.of(1.5, 2.25, 3, 4.75, 5, 6.5, 1e6)],
  ];
  for (const [name, values] of cases) {
    const bytes = name === 'xor' ? encodeChunk(ts, values) : (encodeDecimalChunk(ts, values) as Uint8Array);
    t.equal(bytes[1], name === 'xor' ? ChunkEncoding.Xor : ChunkEncoding.Decimal, `${name} encoding chosen`);
    for (let len = 0; len < bytes.length; len++) expectCorruption(t, bytes.subarray(0, len), `${name} truncated to ${len}`);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expectCorruption(t, longer, `${name} with an extra zero byte`);
    const badVersion = bytes.slice();
    badVersion[0] = 2;
    expectCorruption(t, badVersion, `${name} with version 2`);
    const badEnc = bytes.slice();
    badEnc[1] = 9;
    expectCorruption(t, badEnc, `${name} with encoding 9`);
  }
  expectCorruption(t, Uint8Array.of(1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f), 'a count past chunkSamplesMax');
});

t.test('random byte corruption is ERR_CORRUPTION or a decode, never another error (seeded)', async (t) => {
  const seed = 77;
  const rand = new SeededRand(seed);
  const { ts, values } = series(rand, 1, 50);
  const base = [encodeChunk(ts, values), new SeriesEncoder().encodeChunk(ts, values)];
  for (let k = 0; k < 2000; k++) {
    const bytes = (base[k % 2] as Uint8Array).slice();
    const flips = 1 + rand.intn(3);
    for (let f = 0; f < flips; f++) {
      const at = rand.intn(bytes.length);
      bytes[at] = (bytes[at] as number) ^ (1 << rand.intn(8));
    }
    try {
      decodeChunk(bytes);
    } catch (err) {
      if (!isOtlpdbError(err, 'ERR_CORRUPTION')) t.fail(`seed ${seed} mutation ${k}: ${String(err)}`);
    }
  }
  t.pass('2000 mutations');
});

t.test('bad arguments are refused with their codes', async (t) => {
  t.throws(() => encodeChunk([1.5], Float64Array.of(1)), { code: 'ERR_INVALID_ARGUMENT' }, 'fractional ms');
  t.throws(() => encodeChunk([2 ** 51], Float64Array.of(1)), { code: 'ERR_INVALID_ARGUMENT' }, 'time past 2^50');
  t.throws(() => encodeChunk([NaN], Float64Array.of(1)), { code: 'ERR_INVALID_ARGUMENT' }, 'NaN time');
  t.throws(() => encodeChunk([1, 2], Float64Array.of(1)), { code: 'ERR_INVALID_ARGUMENT' }, 'length mismatch');
  const n = CodecLimits.chunkSamplesMax + 1;
  t.throws(() => encodeChunk(new Float64Array(n), new Float64Array(n)), { code: 'ERR_LIMIT_EXCEEDED' }, 'too many samples');
  t.throws(() => encodeSeries([1], Float64Array.of(1), 0), { code: 'ERR_INVALID_ARGUMENT' }, 'samplesPerChunk 0');
});

t.test('planted bugs: the round-trip checker catches a corrupted chunk and an off-by-one decoder', async (t) => {
  const rand = new SeededRand(5);
  const { ts, values } = series(rand, 2, 100);
  const encode: Encode = (a, b) => encodeChunk(a, b);
  t.equal(roundTripMismatch(ts, values, encode), null, 'the honest codec passes');
  // Bug 1: one flipped bit in the encoded value stream.
  const flipBit: Encode = (a, b) => {
    const bytes = encodeChunk(a, b);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0x10;
    return bytes;
  };
  t.not(roundTripMismatch(ts, values, flipBit), null, 'a flipped bit is caught');
  // Bug 2: a decoder that drops the last sample (an off-by-one in the loop).
  const offByOne: Decode = (bytes) => {
    const d = decodeChunk(bytes);
    return { ts: d.ts.subarray(0, d.ts.length - 1), values: d.values.subarray(0, d.values.length - 1) };
  };
  t.not(roundTripMismatch(ts, values, encode, offByOne), null, 'an off-by-one decoder is caught');
  // Bug 2b: one flipped bit in a decimal chunk's packed residuals.
  const gauge = series(new SeededRand(6), 1, 100);
  const decimal: Encode = (a, b) => encodeDecimalChunk(a, b) as Uint8Array;
  t.equal(decimal(gauge.ts, gauge.values)[1], ChunkEncoding.Decimal, 'the gauge is decimal-encodable');
  t.equal(roundTripMismatch(gauge.ts, gauge.values, decimal), null, 'the honest decimal codec passes');
  const flipDecimal: Encode = (a, b) => {
    const bytes = decimal(a, b);
    bytes[bytes.length - 2] = (bytes[bytes.length - 2] as number) ^ 0x01;
    return bytes;
  };
  t.not(roundTripMismatch(gauge.ts, gauge.values, flipDecimal), null, 'a flipped decimal bit is caught');
  // Bug 3: a NaN payload canonicalized (what a decoder going through JS numbers might do).
  const stale = fromBits([[0x7ff0_0000, 2]]);
  const canon: Decode = (bytes) => {
    const d = decodeChunk(bytes);
    return { ts: d.ts, values: Float64Array.from(d.values, (v) => (Number.isNaN(v) ? NaN : v)) };
  };
  t.not(roundTripMismatch([0], stale, encode, canon), null, 'a lost stale-marker payload is caught');
});
