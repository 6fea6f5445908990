import t from 'tap';
import { roundTripMismatch } from './codec-test-util.js';
import { isOtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { CodecLimits } from '../../limits.js';
import { ChunkIterator, SeriesEncoder, decodeChunk } from './chunk.js';
import { CHUNK_TIMESTAMPS_EXTERNAL, ChunkEncoding } from './chunk-format.js';
import { encodeChunk } from './gorilla.js';
import { TimestampColumnDecoder, TimestampColumnEncoder } from './timestamp-column.js';

/** increasing builds n strictly increasing times of one of several shapes (seeded). */
function increasing(rand: SeededRand, n: number): Float64Array {
  const ts = new Float64Array(n);
  const shape = rand.intn(4);
  const interval = [1000, 10_000, 1, 60_000][rand.intn(4)] as number;
  let t = rand.intn(2) === 0 ? 1_795_754_521_622 + rand.intn(1000) : -(2 ** 50) + rand.intn(1000);
  for (let i = 0; i < n; i++) {
    if (shape === 0) t += interval;
    else if (shape === 1) t = i === 0 ? t : (ts[0] as number) + i * (interval + 8) + rand.intn(7) - 3; // jitter around a grid
    else if (shape === 2) t += 1 + rand.intn(interval + 40); // drift and outliers
    else t += rand.intn(20) === 0 ? 1 + rand.intn(2 ** 30) : interval; // gaps
    ts[i] = t;
  }
  return ts;
}

/** values builds a value column: decimals, ratios or raw doubles (seeded). */
function values(rand: SeededRand, n: number): Float64Array {
  const kind = rand.intn(4);
  const vs = new Float64Array(n);
  let level = rand.intn(1000);
  for (let i = 0; i < n; i++) {
    if (kind === 0) vs[i] = rand.intn(100_000) / 100;
    else if (kind === 1) vs[i] = rand.intn(1000) / (1 + rand.intn(999));
    else if (kind === 2) vs[i] = (level += rand.intn(3));
    else vs[i] = rand.intn(2 ** 30) / 3 ** 7 + Math.sqrt(i + 2);
  }
  return vs;
}

t.test('a timestamp column round-trips at any length and piece size', async (t) => {
  const rand = new SeededRand(7);
  const enc = new TimestampColumnEncoder();
  const dec = new TimestampColumnDecoder();
  let checked = 0;
  for (let round = 0; round < 300; round++) {
    const n = 1 + rand.intn(round % 10 === 0 ? 2000 : 200);
    const piece = [1, 2, 7, 120, 480, CodecLimits.chunkSamplesDefault][rand.intn(6)] as number;
    const ts = increasing(rand, n);
    const out = dec.decode(enc.encode(ts, piece));
    t.equal(out.length, n);
    for (let i = 0; i < n; i++) {
      if (out[i] !== ts[i]) {
        t.fail(`round ${round}: time ${i} is ${out[i]}, want ${ts[i]}`);
        break;
      }
    }
    checked++;
  }
  t.equal(checked, 300);
});

t.test('a regular 1 s column of 7,200 times costs a few bytes; the encoder refuses times that do not increase', async (t) => {
  const ts = Float64Array.from({ length: 7200 }, (_, i) => 1_795_754_400_000 + i * 1000);
  const bytes = new TimestampColumnEncoder().encode(ts, 120);
  t.ok(bytes.length <= 2 + 2 + 60 * 5 + 6, `${bytes.length} bytes`);
  const bad = Float64Array.of(1000, 2000, 2000);
  t.throws(() => new TimestampColumnEncoder().encode(bad, 120), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new TimestampColumnEncoder().encode(new Float64Array(0), 120), { code: 'ERR_LIMIT_EXCEEDED' });
});

t.test('a damaged column is ERR_CORRUPTION or different times, never a crash; truncation and a bad count are always caught', async (t) => {
  const rand = new SeededRand(11);
  const dec = new TimestampColumnDecoder();
  const ts = increasing(rand, 300);
  const bytes = new TimestampColumnEncoder().encode(ts, 120);
  for (let cut = 0; cut < bytes.length; cut++) {
    t.throws(() => dec.decode(bytes.subarray(0, cut)), { code: 'ERR_CORRUPTION' }, `cut at ${cut}`);
  }
  for (let i = 0; i < bytes.length; i++) {
    const bad = bytes.slice();
    bad[i] = (bad[i] as number) ^ (1 << rand.intn(8));
    try {
      dec.decode(bad);
    } catch (e) {
      if (!isOtlpdbError(e, 'ERR_CORRUPTION')) t.fail(`byte ${i}: ${String(e)}`);
    }
  }
  // A count past the limit is refused before any allocation.
  const huge = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f, 1);
  t.throws(() => dec.decode(huge), { code: 'ERR_CORRUPTION' });
});

t.test('chunks with external timestamps round-trip with their column and are never larger than chunks with their own', async (t) => {
  const rand = new SeededRand(3);
  const enc = new SeriesEncoder();
  const it = new ChunkIterator();
  const seen = new Set<number>();
  for (let round = 0; round < 400; round++) {
    const n = rand.intn(130);
    const ts = increasing(rand, n);
    const vs = values(rand, n);
    const own = enc.encodeChunk(ts, vs);
    const bytes = enc.encodeChunk(ts, vs, true);
    t.ok((bytes[1] as number) & CHUNK_TIMESTAMPS_EXTERNAL, 'the flag is set');
    seen.add((bytes[1] as number) & ~CHUNK_TIMESTAMPS_EXTERNAL);
    if (bytes.length > own.length) t.fail(`round ${round}: ${bytes.length} bytes external, ${own.length} own`);
    const mismatch = roundTripMismatchExternal(ts, vs, bytes, it);
    if (mismatch !== null) t.fail(`round ${round}: ${mismatch}`);
    // The own-timestamp chunk is unchanged by the new path.
    t.equal(roundTripMismatch(ts, vs, () => own), null);
  }
  t.same([...seen].sort(), [ChunkEncoding.XorCompact, ChunkEncoding.DecimalCompact, ChunkEncoding.Rational], 'all three compact encodings were exercised');
});

function roundTripMismatchExternal(ts: Float64Array, vs: Float64Array, bytes: Uint8Array, it: ChunkIterator): string | null {
  // Embedded in a longer column at an offset, as the chunk blocks do.
  const column = new Float64Array(ts.length + 5);
  column.set(ts, 3);
  const out = decodeChunk(bytes, it, column, 3);
  if (out.ts.length !== ts.length) return `decoded ${out.ts.length} samples, want ${ts.length}`;
  const a = new Uint32Array(vs.buffer, vs.byteOffset, vs.length * 2);
  const b = new Uint32Array(out.values.buffer, 0, out.values.length * 2);
  for (let i = 0; i < ts.length; i++) {
    if (out.ts[i] !== ts[i]) return `ts[${i}] differs`;
    if (a[2 * i] !== b[2 * i] || a[2 * i + 1] !== b[2 * i + 1]) return `values[${i}] bits differ`;
  }
  return null;
}

t.test('a chunk without timestamps is refused without a column, and a column is refused for a chunk with its own', async (t) => {
  const ts = Float64Array.of(1000, 2000, 3001);
  const vs = Float64Array.of(1, 2, 3);
  const enc = new SeriesEncoder();
  const external = enc.encodeChunk(ts, vs, true);
  const own = enc.encodeChunk(ts, vs);
  const it = new ChunkIterator();
  const isCorruption = { code: 'ERR_CORRUPTION' };
  t.throws(() => it.reset(external), isCorruption, 'no column');
  t.throws(() => it.reset(own, ts), isCorruption, 'a column for a chunk with its own times');
  t.throws(() => it.reset(external, ts, 1), isCorruption, 'a column too short from its offset');
  // The flag on an encoding that always codes its timestamps (plain XOR) is refused.
  const plain = encodeChunk(Float64Array.of(5), Float64Array.of(Math.PI));
  t.equal(plain[1], ChunkEncoding.Xor);
  const flagged = plain.slice();
  flagged[1] = (flagged[1] as number) | CHUNK_TIMESTAMPS_EXTERNAL;
  t.throws(() => it.reset(flagged, Float64Array.of(5)), isCorruption, 'plain XOR with the flag');
  t.equal(roundTripMismatchExternal(ts, vs, external, it), null);
});
