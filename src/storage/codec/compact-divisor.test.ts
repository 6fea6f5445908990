import t from 'tap';
import { roundTripMismatch } from './codec-test-util.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { BitReader, BitWriter } from './bits.js';
import { SeriesEncoder, decodeChunk } from './chunk.js';
import { CHUNK_HEADER_BYTES, ChunkEncoding, checkChunkInput } from './chunk-format.js';
import { CompactDecimalScratch, DIVISOR_ESCAPE, DIVISOR_MAX, encodeCompactDecimalChunk } from './compact-decimal.js';
import { CompactTimestampPlan } from './compact-timestamps.js';

/** compactDecimal encodes with ChunkEncoding.DecimalCompact alone (null when no scale makes every value exact). */
function compactDecimal(ts: ArrayLike<number>, values: Float64Array): Uint8Array | null {
  checkChunkInput(ts, values);
  const plan = new CompactTimestampPlan();
  plan.plan(ts);
  return encodeCompactDecimalChunk(ts, values, plan, new BitWriter(), new CompactDecimalScratch());
}

/** digitsOf reads the D field of a compact decimal chunk with regular timestamps (t0, mode, interval, k before it). */
function digitsOf(bytes: Uint8Array): number {
  const r = new BitReader(bytes, CHUNK_HEADER_BYTES);
  const n = r.readUvarint();
  r.readUvarint();
  if (n >= 2) {
    r.readBits(1);
    r.readUvarint();
    r.readBits(6);
  }
  return r.readBits(4);
}

t.test('ratios over one common denominator take the divisor scale and round-trip bit for bit', async (t) => {
  const rand = new SeededRand(17);
  for (let round = 0; round < 200; round++) {
    const n = 1 + rand.intn(120);
    const total = 2 + rand.intn(DIVISOR_MAX - 2); // e.g. the pages of a machine's memory
    const ts = Float64Array.from({ length: n }, (_, i) => 1_795_754_521_000 + i * 1000);
    let used = rand.intn(total);
    const vs = Float64Array.from({ length: n }, () => {
      used = Math.min(total, Math.max(0, used + rand.intn(2001) - 1000));
      return used / total;
    });
    const bytes = compactDecimal(ts, vs);
    if (bytes === null) {
      t.fail(`round ${round}: no compact decimal chunk for ratios over ${total}`);
      continue;
    }
    t.equal(roundTripMismatch(ts, vs, () => bytes), null, `round ${round}`);
    t.equal(roundTripMismatch(ts, vs, (a, b) => new SeriesEncoder().encodeChunk(a, b)), null, `round ${round}: the choice`);
  }
});

t.test('the utilizations of the Node capture (used pages / 6,170,905) take the divisor scale: well under the ~46 bits a value of a stored p/q', async (t) => {
  const total = 6_170_905;
  const pages = [144931, 143242, 140416, 142136, 142925, 131696, 131696, 131767, 155943, 155890, 156745, 142485];
  const ts = Float64Array.from(pages, (_, i) => 1_795_754_521_622 + i * 1000);
  const vs = Float64Array.from(pages, (p) => p / total);
  const bytes = new SeriesEncoder().encodeChunk(ts, vs);
  t.equal(bytes[1], ChunkEncoding.DecimalCompact);
  t.equal(digitsOf(bytes), DIVISOR_ESCAPE);
  t.ok(bytes.length < 50, `${bytes.length} bytes for 12 values (t0 and the timestamp header included)`);
  t.equal(roundTripMismatch(ts, vs, () => bytes), null);
});

t.test('planted bugs: a divisor of 0, 1 or past DIVISOR_MAX, or a divisor with ulp fix-ups, is ERR_CORRUPTION', async (t) => {
  // One sample (no timestamp fields after t0): header, count, t0, D, order, coding, fix-ups, factor, divisor, m_0.
  const build = (fixups: number, divisor: number): Uint8Array => {
    const w = new BitWriter();
    w.writeBits(1, 8);
    w.writeBits(ChunkEncoding.DecimalCompact, 8);
    w.writeUvarint(1);
    w.writeUvarint(2000);
    w.writeBits(DIVISOR_ESCAPE, 4);
    w.writeBits(1, 2);
    w.writeBits(1, 1);
    w.writeBits(fixups, 1);
    w.writeBits(0, 1);
    w.writeUvarint(divisor);
    w.writeUvarint(6);
    if (fixups === 1) {
      w.writeBits(0, 6);
      w.writeBits(1, 1);
    }
    return w.finish();
  };
  const good = decodeChunk(build(0, 7));
  t.equal(good.values[0], 3 / 7, 'm_0 = zigzag 6 → 3, over 7');
  for (const [what, bytes] of [
    ['divisor 0', build(0, 0)],
    ['divisor 1', build(0, 1)],
    ['divisor past DIVISOR_MAX', build(0, DIVISOR_MAX + 1)],
    ['divisor with fix-ups', build(1, 7)],
  ] as const) {
    t.throws(() => decodeChunk(bytes), { code: 'ERR_CORRUPTION' }, what);
  }
});
