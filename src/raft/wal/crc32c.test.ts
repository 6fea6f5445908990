import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { crc32c, crc32cBitwise } from './crc32c.js';

t.test('crc32c matches the standard check value and the RFC 3720 B.4 vectors', async (t) => {
  t.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283, 'check value of "123456789"');
  t.equal(crc32c(new Uint8Array(32)), 0x8a9136aa, '32 zero bytes');
  t.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43, '32 0xFF bytes');
  t.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e, '32 ascending bytes');
  t.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c, '32 descending bytes');
  t.equal(crc32c(new Uint8Array(0)), 0, 'empty input');
});

t.test('slice-by-8 agrees with the bitwise reference on every length and alignment', async (t) => {
  const rand = new SeededRand(42);
  const buf = Uint8Array.from({ length: 300 }, () => rand.intn(256));
  let mismatches = 0;
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= buf.length; end++) {
      if (crc32c(buf, start, end) !== crc32cBitwise(buf.subarray(start, end))) mismatches++;
    }
  }
  t.equal(mismatches, 0, 'no (start, end) pair disagrees');
});

t.test('crc32c continues across pieces', async (t) => {
  const data = new TextEncoder().encode('the quick brown fox jumps over the lazy dog');
  for (const cut of [0, 1, 7, 8, 9, 20, data.length]) {
    const first = crc32c(data, 0, cut);
    t.equal(crc32c(data, cut, data.length, first), crc32c(data), `split at ${cut}`);
  }
});

t.test('the word path (runs of 64 bytes and more) agrees with the bitwise reference at every alignment, continued or not', async (t) => {
  const rand = new SeededRand(4242);
  const backing = Uint8Array.from({ length: 9000 }, () => rand.intn(256));
  let mismatches = 0;
  let runs = 0;
  for (let viewOffset = 0; viewOffset < 8; viewOffset++) {
    const view = backing.subarray(viewOffset);
    for (let k = 0; k < 40; k++) {
      // A prefix [from, start) continued by [start, end): crc32c(a ++ b) === crc32c(b, crc32c(a)).
      const from = rand.intn(8);
      const start = from + (k % 2 === 0 ? 0 : 1 + rand.intn(70));
      const end = Math.min(view.length, start + 64 + rand.intn(k < 20 ? 200 : 8000));
      const prior = crc32cBitwise(view.subarray(from, start));
      if (crc32c(view, start, end, start === from ? 0 : prior) !== crc32cBitwise(view.subarray(from, end))) mismatches++;
      runs++;
    }
  }
  t.equal(mismatches, 0, `none of ${runs} runs disagrees`);
});
