import t from 'tap';
import { isOtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { BitReader, BitWriter } from './bits.js';

/** corruption says whether f throws ERR_CORRUPTION. */
function corruption(f: () => void): boolean {
  try {
    f();
    return false;
  } catch (err) {
    return isOtlpdbError(err, 'ERR_CORRUPTION');
  }
}

/**
 * readFields cuts fields from 32-bit words while five bytes remain in the
 * buffer and bit by bit near its end: every width, every starting bit
 * offset and runs that end on the buffer's last byte must read what
 * readBits reads field by field.
 */
t.test('readFields reads what readBits reads: every width, offset and run end', async (t) => {
  const rand = new SeededRand(15);
  let mismatches = 0;
  let runs = 0;
  for (let n = 0; n <= 32; n++) {
    for (let lead = 0; lead < 16; lead++) {
      for (const count of [1, 2, 3, 7, 40, 119]) {
        const w = new BitWriter();
        w.writeBits(rand.intn(1 << Math.min(lead, 30)), lead);
        const want: number[] = [];
        for (let i = 0; i < count; i++) {
          // Fields of all ones, all zeros and random bits: a shift off by one shows in either.
          const kind = rand.intn(3);
          const v = n === 0 ? 0 : kind === 0 ? 0xffff_ffff >>> (32 - n) : kind === 1 ? 0 : (rand.intn(0x1_0000) * 0x1_0000 + rand.intn(0x1_0000)) >>> (32 - n);
          w.writeBits(v, n);
          want.push(v >>> 0);
        }
        const tail = rand.intn(3);
        for (let i = 0; i < tail; i++) w.writeBits(0xa5, 8);
        const bytes = w.finish();
        const r = new BitReader(bytes);
        r.readBits(lead);
        const out = new Float64Array(count + 2).fill(-1);
        r.readFields(n, count, out, 1);
        runs++;
        const got = Array.from(out.subarray(1, 1 + count));
        if (out[0] !== -1 || out[count + 1] !== -1 || got.some((v, i) => v !== want[i]) || r.bitPos !== lead + n * count) {
          mismatches++;
          if (mismatches <= 3) t.fail(`width ${n}, lead ${lead}, count ${count}, tail ${tail}: got ${got.slice(0, 8).join(',')} want ${want.slice(0, 8).join(',')}`);
        }
      }
    }
  }
  t.equal(mismatches, 0, `${runs} runs read as readBits reads them`);
});

t.test('a run past the end of the stream is ERR_CORRUPTION before any field is read', async (t) => {
  const w = new BitWriter();
  for (let i = 0; i < 10; i++) w.writeBits(i, 13);
  const bytes = w.finish();
  const r = new BitReader(bytes);
  const out = new Float64Array(11).fill(-1);
  t.ok(corruption(() => r.readFields(13, 11, out, 0)), 'a run of 11 fields in 10 is ERR_CORRUPTION');
  t.equal(out[0], -1, 'no field written');
  t.equal(r.bitPos, 0, 'the reader did not move');
  // A range that ends before the buffer does: the word reads may see the bytes after it, the run's bound may not.
  const r2 = new BitReader(bytes, 0, 8);
  t.ok(corruption(() => r2.readFields(13, 5, out, 0)), 'a run past the range, inside the buffer, is ERR_CORRUPTION');
  r2.readFields(13, 4, out, 0);
  t.same(Array.from(out.subarray(0, 4)), [0, 1, 2, 3]);
});
