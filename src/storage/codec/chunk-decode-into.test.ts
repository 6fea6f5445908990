import t from 'tap';
import { isOtlpdbError } from '../../errors.js';
import { CodecLimits } from '../../limits.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ChunkIterator, SeriesEncoder } from './chunk.js';
import { CHUNK_TIMESTAMPS_EXTERNAL, ChunkEncoding } from './chunk-format.js';
import { fromBits } from './codec-test-util.js';
import { encodeChunk } from './gorilla.js';

/** STALE is Prometheus's staleness marker's bits (0x7ff0000000000002): a NaN whose payload must survive. */
const STALE: readonly [number, number] = [0x7ff0_0000, 2];

/** DecodeInto is a whole-chunk decoder under test: ChunkIterator.decodeInto, or a planted bug. */
type DecodeInto = (it: ChunkIterator, ts: Float64Array, vs: Float64Array, bits: Uint32Array, at: number) => number;

const realDecodeInto: DecodeInto = (it, ts, vs, bits, at) => it.decodeInto(ts, vs, bits, at);

/** sampleKinds are the series shapes a chunk holds: each lands on a different encoding or decimal option. */
function series(rand: SeededRand, kind: number, n: number): { ts: Float64Array; vs: Float64Array } {
  const ts = new Float64Array(n);
  let t0 = 1_795_754_521_000 + rand.intn(1000);
  for (let i = 0; i < n; i++) ts[i] = t0 += 15_000 + (rand.intn(3) === 0 ? rand.intn(7) - 3 : 0);
  const vs = new Float64Array(n);
  const bits = new Uint32Array(vs.buffer);
  let acc = rand.intn(1000);
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 0: // a counter with resets: compact decimal, delta order
        acc = rand.intn(40) === 0 ? rand.intn(10) : acc + rand.intn(100);
        vs[i] = acc;
        break;
      case 1: // float sums of decimals: ulp fix-ups
        vs[i] = acc += [0.68, 0.49, 0.11, 0.3][i % 4] as number;
        break;
      case 2: // a steady rate: delta of delta
        vs[i] = 1000 + 7 * i + (rand.intn(10) === 0 ? 1 : 0);
        break;
      case 3: // pages of 4 KiB: a common factor
        vs[i] = 24_682_389_504 + 4096 * rand.intn(4000);
        break;
      case 4: // ratios: over one denominator (the divisor escape) or over many (rational)
        vs[i] = n % 2 === 0 ? rand.intn(6_170_905) / 6_170_905 : rand.intn(2000) / (1 + rand.intn(1000));
        break;
      case 5: // noisy gauge with a few decimals: level order, packed
        vs[i] = rand.intn(1_000_000) / 100;
        break;
      case 6: // arbitrary floats with staleness markers: XOR
        if (rand.intn(5) === 0) {
          bits[2 * i + 1] = STALE[0];
          bits[2 * i] = STALE[1];
        } else {
          vs[i] = Math.sin(i + rand.intn(100)) * 1e6;
        }
        break;
      default: // repeated values: Rice with 1-bit residuals
        vs[i] = rand.intn(8) === 0 ? acc++ : acc;
    }
  }
  return { ts, vs };
}

/** reference decodes with next(), one sample at a time: the decoder decodeInto must equal. */
function reference(bytes: Uint8Array, column: Float64Array | undefined, n: number): { ts: Float64Array; vs: Float64Array } {
  const it = new ChunkIterator();
  if (column === undefined) it.reset(bytes);
  else it.reset(bytes, column, 0);
  const ts = new Float64Array(n);
  const vs = new Float64Array(n);
  const bits = new Uint32Array(vs.buffer);
  let j = 0;
  while (it.next()) {
    ts[j] = it.t;
    bits[2 * j] = it.vLo;
    bits[2 * j + 1] = it.vHi;
    j++;
  }
  return { ts, vs };
}

/**
 * decodeIntoMismatch is this file's checker: decode `bytes` with `decode`
 * into columns at an offset (with guard samples around it) and compare the
 * count, the times, every value's bits and the untouched guards with the
 * per-sample decoder's. It answers the first difference, or null.
 */
function decodeIntoMismatch(bytes: Uint8Array, column: Float64Array | undefined, decode: DecodeInto): string | null {
  const it = new ChunkIterator();
  if (column === undefined) it.reset(bytes);
  else it.reset(bytes, column, 0);
  const n = it.count;
  const want = reference(bytes, column, n);
  const at = 3;
  const ts = new Float64Array(n + 2 * at).fill(-1);
  const vs = new Float64Array(n + 2 * at).fill(-1);
  const bits = new Uint32Array(vs.buffer);
  const got = decode(it, ts, vs, bits, at);
  if (got !== n) return `decoded ${got} samples, want ${n}`;
  for (let j = 0; j < ts.length; j++) {
    const inside = j >= at && j < at + n;
    if (!inside && (ts[j] !== -1 || vs[j] !== -1)) return `wrote guard slot ${j}`;
  }
  const wantBits = new Uint32Array(want.vs.buffer);
  for (let j = 0; j < n; j++) {
    if (ts[at + j] !== want.ts[j]) return `time ${j}: ${ts[at + j]} want ${want.ts[j]}`;
    const hi = bits[2 * (at + j) + 1];
    const lo = bits[2 * (at + j)];
    if (hi !== wantBits[2 * j + 1] || lo !== wantBits[2 * j]) return `value ${j}: bits ${hi?.toString(16)}:${lo?.toString(16)} want ${wantBits[2 * j + 1]?.toString(16)}:${wantBits[2 * j]?.toString(16)}`;
  }
  if (n > 0 && (it.t !== want.ts[n - 1] || !Object.is(it.v, want.vs[n - 1]) && !Number.isNaN(it.v))) return 'the iterator does not end on the last sample';
  if (it.next()) return 'the iterator is not done after decodeInto';
  return null;
}

/** chunksOf encodes seeded series of every kind, with their own times and against a column (external). */
function chunksOf(seeds: number): { name: string; bytes: Uint8Array; column: Float64Array | undefined }[] {
  const out: { name: string; bytes: Uint8Array; column: Float64Array | undefined }[] = [];
  const enc = new SeriesEncoder();
  for (let seed = 1; seed <= seeds; seed++) {
    const rand = new SeededRand(seed);
    const kind = seed % 8;
    const n = rand.intn(5) === 0 ? 1 + rand.intn(3) : 1 + rand.intn(240);
    const { ts, vs } = series(rand, kind, n);
    out.push({ name: `seed ${seed} kind ${kind} n ${n}`, bytes: enc.encodeChunk(ts, vs), column: undefined });
    out.push({ name: `seed ${seed} kind ${kind} n ${n} (external)`, bytes: enc.encodeChunk(ts, vs, true), column: ts });
    out.push({ name: `seed ${seed} kind ${kind} n ${n} (plain XOR)`, bytes: encodeChunk(ts, vs), column: undefined });
  }
  return out;
}

t.test('decodeInto equals the per-sample decoder on every encoding, with and without a timestamp column (seeded)', async (t) => {
  const chunks = chunksOf(400);
  const encodings = new Map<number, number>();
  let external = 0;
  for (const c of chunks) {
    const enc = (c.bytes[1] as number) & ~CHUNK_TIMESTAMPS_EXTERNAL;
    encodings.set(enc, (encodings.get(enc) ?? 0) + 1);
    if (c.column !== undefined) external++;
    const m = decodeIntoMismatch(c.bytes, c.column, realDecodeInto);
    if (m !== null) t.fail(`${c.name}: ${m}`);
  }
  t.pass(`${chunks.length} chunks, ${external} with external times`);
  for (const e of [ChunkEncoding.Xor, ChunkEncoding.XorCompact, ChunkEncoding.DecimalCompact, ChunkEncoding.Rational]) {
    t.ok((encodings.get(e) ?? 0) > 0, `encoding ${e} covered (${encodings.get(e) ?? 0} chunks)`);
  }
});

t.test('decodeInto keeps a staleness marker bit for bit and decodes a lone value', async (t) => {
  const ts = Float64Array.of(1000, 2000, 3000);
  const vs = fromBits([[0x4059_0000, 0], STALE, [0x4059_4000, 0]]);
  const enc = new SeriesEncoder();
  for (const external of [false, true]) {
    const bytes = enc.encodeChunk(ts, vs, external);
    t.equal(decodeIntoMismatch(bytes, external ? ts : undefined, realDecodeInto), null, `external ${external}`);
  }
  const one = enc.encodeChunk(ts.subarray(0, 1), Float64Array.of(42), true);
  t.equal((one[1] as number) & ~CHUNK_TIMESTAMPS_EXTERNAL, ChunkEncoding.DecimalCompact, 'a lone integer is compact decimal');
  t.equal(decodeIntoMismatch(one, ts, realDecodeInto), null, 'one sample');
});

t.test('damaged chunks: decodeInto throws ERR_CORRUPTION exactly when the per-sample decoder does', async (t) => {
  const rand = new SeededRand(77);
  let damaged = 0;
  let refused = 0;
  for (const c of chunksOf(60)) {
    for (let trial = 0; trial < 12; trial++) {
      const bad = trial < 4 ? c.bytes.subarray(0, Math.max(2, c.bytes.length - 1 - trial)) : c.bytes.slice();
      if (trial >= 4) {
        const i = 2 + rand.intn(Math.max(1, bad.length - 2));
        if (i < bad.length) bad[i] = (bad[i] as number) ^ (1 << rand.intn(8));
      }
      damaged++;
      let wantErr: unknown = null;
      try {
        reference(bad, c.column, 4096);
      } catch (err) {
        wantErr = err;
      }
      // decodeInto alone on the damaged bytes (the checker would run the reference first).
      let gotErr: unknown = null;
      let mismatch: string | null = null;
      try {
        const it = new ChunkIterator();
        if (c.column === undefined) it.reset(bad);
        else it.reset(bad, c.column, 0);
        const vs = new Float64Array(it.count);
        it.decodeInto(new Float64Array(it.count), vs, new Uint32Array(vs.buffer), 0);
      } catch (err) {
        gotErr = err;
      }
      if (gotErr === null && wantErr === null) mismatch = decodeIntoMismatch(bad, c.column, realDecodeInto);
      if (wantErr !== null) {
        refused++;
        if (!(isOtlpdbError(gotErr) && gotErr.code === 'ERR_CORRUPTION')) t.fail(`${c.name} trial ${trial}: the reference refused, decodeInto answered ${String(gotErr ?? mismatch)}`);
      } else if (gotErr !== null || mismatch !== null) {
        t.fail(`${c.name} trial ${trial}: the reference decoded, decodeInto ${String(gotErr ?? mismatch)}`);
      }
    }
  }
  t.ok(refused > damaged / 4, `${refused} of ${damaged} damaged chunks refused by both`);
});

t.test('damaged counters near the scaled bound: decodeInto (one delta run) refuses exactly what the per-sample decoder refuses', async (t) => {
  // An integer counter a little under decimalScaledAbsMax, with external times: the chunk block's common case, decoded by
  // BitReader.readDeltaRun only where deltaRunUnchecked proves no check can fail. Every bit after the two format bytes
  // is flipped in turn; a widened field or a moved minimum must reach past the bound and be refused by both.
  const rand = new SeededRand(5);
  const enc = new SeriesEncoder();
  let flips = 0;
  let refused = 0;
  let bad = 0;
  for (let c = 0; c < 4; c++) {
    const n = 60 + 30 * c;
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    let v = CodecLimits.decimalScaledAbsMax - 100 * n - rand.intn(1000);
    for (let i = 0; i < n; i++) {
      ts[i] = 1_795_754_521_000 + 15_000 * i;
      vs[i] = v += rand.intn(100);
    }
    const good = enc.encodeChunk(ts, vs, true);
    t.equal(decodeIntoMismatch(good, ts, realDecodeInto), null, `counter ${c} decodes`);
    for (let bit = 16; bit < 8 * good.length; bit++) {
      const damaged = good.slice();
      damaged[bit >>> 3] = (damaged[bit >>> 3] as number) ^ (0x80 >>> (bit & 7));
      flips++;
      let wantErr = false;
      try {
        reference(damaged, ts, 4096);
      } catch (err) {
        if (!isOtlpdbError(err, 'ERR_CORRUPTION')) throw err;
        wantErr = true;
      }
      // decodeInto alone first (the checker runs the reference before it), then, when both decode, the checker.
      let got: string | null = null;
      try {
        const it = new ChunkIterator();
        it.reset(damaged, ts, 0);
        const out = new Float64Array(it.count);
        it.decodeInto(new Float64Array(it.count), out, new Uint32Array(out.buffer), 0);
      } catch (err) {
        if (!isOtlpdbError(err, 'ERR_CORRUPTION')) throw err;
        got = 'ERR_CORRUPTION';
      }
      if (got === null && !wantErr) got = decodeIntoMismatch(damaged, ts, realDecodeInto);
      if (wantErr) refused++;
      if (wantErr ? got !== 'ERR_CORRUPTION' : got !== null) {
        bad++;
        if (bad <= 3) t.fail(`counter ${c} bit ${bit}: the reference ${wantErr ? 'refused' : 'decoded'}, decodeInto ${got ?? 'decoded'}`);
      }
    }
  }
  t.equal(bad, 0, 'no flip answered apart');
  t.ok(refused > 20, `${refused} of ${flips} flips refused by both`);
});

t.test('planted bugs: the checker catches a decodeInto one slot off and one that loses a staleness marker', async (t) => {
  const ts = Float64Array.of(1000, 2000, 3000, 4000);
  const enc = new SeriesEncoder();
  const counter = enc.encodeChunk(ts, Float64Array.of(10, 20, 35, 40), true);
  const stale = enc.encodeChunk(ts, fromBits([[0x4024_0000, 0], STALE, [0x4041_8000, 0], [0x4044_0000, 0]]));
  t.equal(decodeIntoMismatch(counter, ts, realDecodeInto), null, 'the real decoder passes');
  t.equal(decodeIntoMismatch(stale, undefined, realDecodeInto), null, 'the real decoder passes with a marker');
  // One slot off: every sample written one index later than asked.
  const offByOne: DecodeInto = (it, tsOut, vsOut, bits, at) => it.decodeInto(tsOut, vsOut, bits, at + 1);
  t.not(decodeIntoMismatch(counter, ts, offByOne), null, 'a wrong offset is caught');
  // A lost marker: values passed through numbers and NaNs made canonical (0x7ff8000000000000).
  const lostMarker: DecodeInto = (it, tsOut, vsOut, bits, at) => {
    const n = it.decodeInto(tsOut, vsOut, bits, at);
    for (let j = at; j < at + n; j++) if (Number.isNaN(vsOut[j] as number)) { bits[2 * j + 1] = 0x7ff8_0000; bits[2 * j] = 0; }
    return n;
  };
  t.match(decodeIntoMismatch(stale, undefined, lostMarker), /value 1/, 'a lost staleness marker is caught');
  t.equal(decodeIntoMismatch(counter, ts, lostMarker), null, 'the same plant on a chunk without NaN changes nothing (the plant is the marker)');
});
