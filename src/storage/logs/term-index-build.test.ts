import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { encodePostings } from '../codec/index.js';
import { postingsBytesMax, putPostings } from './term-index-build.js';

const ROWS = 16_384;

/** encodedWithLength is what putPostings must write: encodePostings' bytes after their length as a uvarint. */
function encodedWithLength(ids: Uint32Array): number[] {
  const body = Array.from(encodePostings(ids));
  const len: number[] = [];
  let v = body.length;
  while (v >= 0x80) {
    len.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  len.push(v);
  return [...len, ...body];
}

t.test("putPostings writes encodePostings' bytes: both containers, every density", async (t) => {
  const rand = new SeededRand(0x9057);
  const seen = { delta: 0, bitmap: 0 };
  for (let round = 0; round < 2_000; round++) {
    // A density from every other row to one row in thousands, and a start anywhere.
    const step = 1 + rand.intn([2, 8, 40, 3_000][round % 4] as number);
    const ids: number[] = [];
    for (let id = rand.intn(ROWS / 2); id < ROWS && ids.length < 400; id += 1 + rand.intn(step)) ids.push(id);
    if (ids.length < 2) continue;
    const col = Uint32Array.from(ids);
    const want = encodedWithLength(col);
    // Garbage around the write: putPostings must clear the bitmap's words and stay inside its bound.
    const buf = new Uint8Array(8 + 5 + postingsBytesMax(col.length, ROWS) + 8).fill(0xa5);
    const end = putPostings(buf, 8, col, col.length);
    const got = Array.from(buf.subarray(8, end));
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.same(got, want, `round ${round}: ${ids.length} ids, step ${step}`);
      return;
    }
    if (buf.subarray(end).some((b) => b !== 0xa5)) {
      t.fail(`round ${round}: written past its bytes`);
      return;
    }
    seen[want[(want[0] as number) < 0x80 ? 2 : 3] === 1 ? 'bitmap' : 'delta']++;
  }
  t.ok(seen.delta > 100 && seen.bitmap > 100, `both containers written (${seen.delta} delta, ${seen.bitmap} bitmap)`);
});

t.test('putPostings: a tie between the containers is delta, as encodePostings', async (t) => {
  // Six ids in one word: the bitmap is 1 + 1 + 4 bytes, the deltas 6; a seventh id makes the bitmap smaller.
  for (const ids of [
    [0, 1, 2, 3, 4, 5],
    [0, 1, 2, 3, 4, 5, 6],
    [33, 40, 41, 50, 60, 63],
  ]) {
    const col = Uint32Array.from(ids);
    const buf = new Uint8Array(5 + postingsBytesMax(col.length, ROWS));
    t.same(Array.from(buf.subarray(0, putPostings(buf, 0, col, col.length))), encodedWithLength(col), ids.join(','));
  }
});
