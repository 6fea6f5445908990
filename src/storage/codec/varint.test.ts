import t from 'tap';
import { isOtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { BitReader, BitWriter, clz64, ctz64 } from './bits.js';
import {
  ByteReader,
  ByteWriter,
  readDeltasSigned,
  readDeltasSorted,
  uvarintBytes,
  writeDeltasSigned,
  writeDeltasSorted,
  zigzagDecode,
  zigzagEncode,
} from './varint.js';

t.test('bits: fields of every width round-trip at every alignment (seeded)', async (t) => {
  const seed = 11;
  const rand = new SeededRand(seed);
  const w = new BitWriter(1); // start tiny to exercise growth
  const fields: [number, number, number][] = []; // [hi, lo, n]
  for (let k = 0; k < 5000; k++) {
    const n = rand.intn(65);
    let hi = n > 32 ? rand.nextU32() >>> (64 - n) : 0;
    let lo = n === 0 ? 0 : n >= 32 ? rand.nextU32() : rand.nextU32() >>> (32 - n);
    if (k % 7 === 0) {
      hi = n > 32 ? 2 ** (n - 32) - 1 : 0;
      lo = n >= 32 ? 0xffff_ffff : 2 ** n - 1;
    }
    fields.push([hi, lo, n]);
    w.write64(hi, lo, n);
  }
  const bytes = w.finish();
  t.equal(bytes.length, Math.ceil(w.bitLength / 8), 'length is the bits rounded up');
  const r = new BitReader(bytes);
  let bad = 0;
  for (const [hi, lo, n] of fields) {
    r.read64(n);
    if (r.hi !== hi || r.lo !== lo) bad++;
  }
  t.equal(bad, 0, `seed ${seed}: every field reads back`);
  r.checkPadding();
  t.throws(() => r.readBits(8), { code: 'ERR_CORRUPTION' }, 'reading past the end');
  t.throws(() => new BitReader(Uint8Array.of(0xff)).readBits(9), { code: 'ERR_CORRUPTION' }, '9 bits of 8');
  t.throws(() => new BitReader(Uint8Array.of(0x01)).checkPadding(), { code: 'ERR_CORRUPTION' }, 'non-zero padding');
  t.throws(() => new BitWriter(1, 2).writeBits(0, 32), { code: 'ERR_LIMIT_EXCEEDED' }, 'writer bytesMax');
  const big = new BitWriter();
  big.writeBigInt(0x8000_0000_0000_0001n, 64);
  big.writeBigInt(-1n, 40);
  const bigBytes = big.finish();
  t.same([...bigBytes.subarray(0, 8)], [0x80, 0, 0, 0, 0, 0, 0, 1], 'a bigint field, MSB first');
  const bigReader = new BitReader(bigBytes);
  t.equal(bigReader.readBigInt(64), 0x8000_0000_0000_0001n, 'readBigInt 64');
  t.equal(bigReader.readBigInt(40), 2n ** 40n - 1n, 'readBigInt 40 of a negative bigint');
  t.equal(clz64(0, 1), 63, 'clz64');
  t.equal(ctz64(0x8000_0000, 0), 63, 'ctz64');
  t.equal(clz64(0, 0), 64, 'clz64 of zero');
});

t.test('bits: bit-level varints and their corruption checks', async (t) => {
  const w = new BitWriter();
  w.writeBits(1, 3); // misalign
  const values = [0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
  for (const v of values) w.writeUvarint(v);
  const r = new BitReader(w.finish());
  r.readBits(3);
  t.same(values.map(() => r.readUvarint()), values, 'uvarints at a 3-bit offset');
  t.throws(() => new BitReader(Uint8Array.of(0x80, 0x00)).readUvarint(), { code: 'ERR_CORRUPTION' }, 'non-canonical');
  t.throws(() => new BitReader(new Uint8Array(9).fill(0xff)).readUvarint(), { code: 'ERR_CORRUPTION' }, 'too long');
  t.throws(() => new BitReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)).readUvarint(), { code: 'ERR_CORRUPTION' }, 'past 2^53');
});

t.test('varint: edge values, zigzag, and every truncation', async (t) => {
  const values = [0, 1, 127, 128, 16383, 16384, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 49, Number.MAX_SAFE_INTEGER];
  const w = new ByteWriter(1);
  for (const v of values) w.uvarint(v);
  const bytes = w.finish();
  t.equal(bytes.length, values.reduce((s, v) => s + uvarintBytes(v), 0), 'uvarintBytes matches');
  const r = new ByteReader(bytes);
  t.same(values.map(() => r.uvarint()), values, 'uvarints');
  t.equal(r.remaining, 0, 'nothing left');
  for (const v of values) {
    const one = new ByteWriter();
    one.uvarint(v);
    const b = one.finish();
    for (let len = 0; len < b.length; len++) {
      t.throws(() => new ByteReader(b.subarray(0, len)).uvarint(), { code: 'ERR_CORRUPTION' }, `${v} truncated to ${len}`);
    }
  }
  t.throws(() => new ByteReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x00)).uvarint(), { code: 'ERR_CORRUPTION' }, 'non-canonical long');
  t.throws(() => new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10)).uvarint(), { code: 'ERR_CORRUPTION' }, 'past 2^53');
  t.throws(() => new ByteReader(new Uint8Array(9).fill(0x80)).uvarint(), { code: 'ERR_CORRUPTION' }, 'too long');
  for (const v of [0, -1, 1, -2, 2 ** 52, -(2 ** 52), 12345, -12345]) t.equal(zigzagDecode(zigzagEncode(v)), v, `zigzag ${v}`);
  t.same([0, -1, 1, -2].map(zigzagEncode), [0, 1, 2, 3], 'zigzag order');
  t.throws(() => zigzagEncode(2 ** 53), { code: 'ERR_INTERNAL' }, 'zigzag past 2^52 is a programmer error');
  t.throws(() => new ByteWriter(1, 4).uvarint(2 ** 40), { code: 'ERR_LIMIT_EXCEEDED' }, 'ByteWriter bytesMax');
});

t.test('varint: delta helpers round-trip (seeded property) and refuse bad input', async (t) => {
  let failures = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const rand = new SeededRand(seed);
    const n = rand.intn(300);
    const sorted: number[] = [];
    let x = rand.intn(1000);
    for (let i = 0; i < n; i++) sorted.push((x += rand.intn(4) === 0 ? rand.intn(2 ** 31) * 1000 : rand.intn(3)));
    const signed = Array.from({ length: n }, () => (rand.intn(2) === 0 ? -1 : 1) * rand.intn(2 ** 32) * rand.intn(2 ** 19));
    const w = new ByteWriter();
    writeDeltasSorted(w, sorted);
    writeDeltasSigned(w, signed);
    const r = new ByteReader(w.finish());
    const a = new Float64Array(n);
    const b: number[] = new Array<number>(n).fill(0);
    readDeltasSorted(r, n, a);
    readDeltasSigned(r, n, b);
    if (r.remaining !== 0 || a.some((v, i) => v !== sorted[i]) || b.some((v, i) => v !== signed[i])) {
      failures++;
      t.fail(`seed ${seed}: deltas differ`);
    }
  }
  t.equal(failures, 0, '200 seeds');
  t.throws(() => writeDeltasSorted(new ByteWriter(), [3, 2]), { code: 'ERR_INVALID_ARGUMENT' }, 'unsorted');
  t.throws(() => writeDeltasSigned(new ByteWriter(), [-(2 ** 52), 2 ** 52]), { code: 'ERR_INVALID_ARGUMENT' }, 'difference past 2^52');
  try {
    readDeltasSorted(new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f)), 2, [0, 0]);
    t.fail('a delta sum past 2^53 decoded');
  } catch (err) {
    t.ok(isOtlpdbError(err, 'ERR_CORRUPTION'), 'a delta sum past 2^53 is ERR_CORRUPTION');
  }
});

t.test('planted bug: the varint round-trip check catches a decoder that drops the top group', async (t) => {
  const values = [5, 300, 2 ** 40];
  const w = new ByteWriter();
  for (const v of values) w.uvarint(v);
  const bytes = w.finish();
  const honest = (): number[] => {
    const r = new ByteReader(bytes);
    return values.map(() => r.uvarint());
  };
  // A buggy reader that stops one group early (an off-by-one in the loop bound).
  const buggy = (): number[] => {
    let p = 0;
    return values.map(() => {
      let v = 0;
      let scale = 1;
      for (;;) {
        const b = bytes[p++] as number;
        if (b < 0x80) break;
        v += (b & 0x7f) * scale;
        scale *= 128;
      }
      return v;
    });
  };
  const check = (decode: () => number[]): boolean => decode().every((v, i) => v === values[i]);
  t.ok(check(honest), 'the honest reader passes');
  t.notOk(check(buggy), 'the off-by-one reader is caught');
});
