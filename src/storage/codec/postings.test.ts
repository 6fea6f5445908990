import t from 'tap';
import { isOtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { GALLOP_RATIO, PostingsContainer, PostingsCursor, decodePostings, difference, encodePostings, gallop, intersect, intersectEncoded, union } from './postings.js';

function sortedUnique(rand: SeededRand, n: number, universe: number): Uint32Array {
  const set = new Set<number>();
  for (let i = 0; i < n; i++) set.add(universe >= 2 ** 32 ? rand.nextU32() : rand.intn(universe));
  return Uint32Array.from([...set].sort((a, b) => a - b));
}

/** oracle computes the set operations with Sets, the slow obvious way. */
function oracle(a: Uint32Array, b: Uint32Array): { and: number[]; or: number[]; not: number[] } {
  const sb = new Set(b);
  return {
    and: [...a].filter((x) => sb.has(x)),
    or: [...new Set([...a, ...b])].sort((x, y) => x - y),
    not: [...a].filter((x) => !sb.has(x)),
  };
}

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type Ops = {
  encode: (ids: Uint32Array) => Uint8Array;
  decode: (bytes: Uint8Array) => Uint32Array;
  intersect: (a: Uint32Array, b: Uint32Array) => Uint32Array;
};
const honest: Ops = { encode: (ids) => encodePostings(ids), decode: decodePostings, intersect: (a, b) => intersect(a, b) };

/** mismatch is the checker: round trip both lists, and every set operation against the Set oracle. */
function mismatch(a: Uint32Array, b: Uint32Array, ops: Ops = honest): string | null {
  try {
    if (!same(ops.decode(ops.encode(a)), a)) return 'a does not round-trip';
    if (!same(ops.decode(ops.encode(b)), b)) return 'b does not round-trip';
    const o = oracle(a, b);
    if (!same(ops.intersect(a, b), o.and)) return 'intersect';
    if (!same(ops.intersect(b, a), o.and)) return 'intersect (swapped)';
    if (!same(intersectEncoded(ops.encode(a), ops.encode(b)), o.and)) return 'intersectEncoded';
    // Every container, forced, round-trips and intersects with every other.
    const span = (x: Uint32Array): number => (x.length === 0 ? 0 : (x[x.length - 1] as number) - (x[0] as number));
    const small = span(a) < 1 << 24 && span(b) < 1 << 24; // forced bitmaps of a 2^32 span would be 512 MiB
    const containers = small ? [PostingsContainer.DeltaVarint, PostingsContainer.Bitmap] : [PostingsContainer.DeltaVarint];
    for (const ka of containers) {
      const ea = encodePostings(a, undefined, ka);
      if (!same(ops.decode(ea), a)) return `a does not round-trip in container ${ka}`;
      for (const kb of containers) {
        const eb = encodePostings(b, undefined, kb);
        if (!same(intersectEncoded(ea, eb), o.and)) return `intersectEncoded containers ${ka} x ${kb}`;
      }
      // seek lands on the first id >= target, in either container.
      const c = new PostingsCursor(ea);
      let prevTarget = -1;
      for (let q = 0; q < b.length && q < 50; q++) {
        const target = b[q] as number;
        if (target < prevTarget) continue;
        prevTarget = target;
        const want = a.find((x) => x >= target);
        const ok = c.seek(target);
        if (ok !== (want !== undefined) || (ok && c.value !== want)) return `seek(${target}) in container ${ka}`;
      }
    }
    if (!same(union(a, b), o.or)) return 'union';
    if (!same(difference(a, b), o.not)) return 'difference';
    const reuse = new Uint32Array(a.length + b.length + 3);
    if (!same(union(a, b, reuse), o.or)) return 'union into a reused buffer';
  } catch (err) {
    return `threw ${String(err)}`;
  }
  return null;
}

t.test('edge cases', async (t) => {
  const E = new Uint32Array(0);
  const cases: [string, Uint32Array, Uint32Array][] = [
    ['both empty', E, E],
    ['one empty', Uint32Array.of(1, 2, 3), E],
    ['one item each, equal', Uint32Array.of(7), Uint32Array.of(7)],
    ['max u32', Uint32Array.of(0, 0xffff_ffff), Uint32Array.of(0xffff_fffe, 0xffff_ffff)],
    ['huge gaps', Uint32Array.of(0, 2 ** 31, 0xffff_ffff), Uint32Array.of(1, 2 ** 31)],
    ['dense run', Uint32Array.from({ length: 1000 }, (_, i) => i), Uint32Array.from({ length: 500 }, (_, i) => 2 * i)],
    ['disjoint', Uint32Array.of(1, 3, 5), Uint32Array.of(2, 4, 6)],
    ['skewed (gallops)', Uint32Array.of(5, 500, 70_000), Uint32Array.from({ length: 100_000 }, (_, i) => i * 3 + 2)],
  ];
  for (const [name, a, b] of cases) t.equal(mismatch(a, b), null, name);
  t.equal(encodePostings([]).length, 3, 'an empty list is 3 bytes');
  const dense = Uint32Array.from({ length: 5000 }, (_, i) => 1000 + i * 2);
  t.equal(encodePostings(dense)[1], PostingsContainer.Bitmap, 'a dense list is a bitmap');
  t.ok(encodePostings(dense).length <= 1260, 'a half-dense list takes about 2 bits per id (313 words)');
  t.equal(encodePostings(Uint32Array.of(1, 1000, 1_000_000))[1], PostingsContainer.DeltaVarint, 'a sparse list is delta varint');
  t.equal(mismatch(Uint32Array.of(0xffff_ffe0, 0xffff_ffff), Uint32Array.from({ length: 32 }, (_, i) => 0xffff_ffe0 + i)), null, 'a bitmap at the top of u32');
  const big = Uint32Array.from({ length: 64 }, (_, i) => i * 7);
  t.equal(gallop(big, 0, 0), 0, 'gallop to the first');
  t.equal(gallop(big, 0, 7 * 63 + 1), 64, 'gallop past the end');
  t.equal(gallop(big, 10, 7 * 40), 40, 'gallop from the middle');
});

t.test('property: round trips and set operations equal the Set oracle (seeded)', async (t) => {
  let failures = 0;
  const seeds = 400;
  for (let seed = 1; seed <= seeds; seed++) {
    const rand = new SeededRand(seed);
    const universe = [16, 1000, 1 << 20, 2 ** 32][rand.intn(4)] as number;
    const na = rand.intn(4) === 0 ? rand.intn(3) : rand.intn(2000);
    // Sometimes very different sizes, so that galloping runs.
    const nb = rand.intn(3) === 0 ? na * GALLOP_RATIO * 2 + rand.intn(100) : rand.intn(2000);
    const a = sortedUnique(rand, na, universe);
    const b = sortedUnique(rand, nb, universe);
    const m = mismatch(a, b);
    if (m !== null) {
      failures++;
      t.fail(`seed ${seed} (|a| ${a.length}, |b| ${b.length}, universe ${universe}): ${m}`);
    }
  }
  t.equal(failures, 0, `${seeds} seeds`);
});

t.test('a misaligned bitmap inside a pooled Node Buffer decodes (Buffer#slice is a view)', async (t) => {
  const ids = Uint32Array.from({ length: 200 }, (_, i) => 3 + i * 2);
  const enc = encodePostings(ids);
  t.equal(enc[1], PostingsContainer.Bitmap);
  // A view at an odd offset of a larger buffer, as classic-level hands out values.
  const pool = Buffer.alloc(enc.length + 64, 0xaa);
  pool.set(enc, 33);
  const view = pool.subarray(33, 33 + enc.length);
  t.same([...decodePostings(view)], [...ids]);
});

t.test('bad input: refused arguments, truncations and corruptions', async (t) => {
  t.throws(() => encodePostings([2, 1]), { code: 'ERR_INVALID_ARGUMENT' }, 'unsorted');
  t.throws(() => encodePostings([1, 1]), { code: 'ERR_INVALID_ARGUMENT' }, 'duplicate');
  t.throws(() => encodePostings([-1]), { code: 'ERR_INVALID_ARGUMENT' }, 'negative');
  t.throws(() => encodePostings([2 ** 32]), { code: 'ERR_INVALID_ARGUMENT' }, 'past u32');
  t.throws(() => encodePostings([1.5]), { code: 'ERR_INVALID_ARGUMENT' }, 'fractional');
  for (const bytes of [encodePostings([3, 300, 70_000, 0xffff_ffff]), encodePostings([33, 40, 64, 65, 127], undefined, PostingsContainer.Bitmap)]) {
    for (let len = 0; len < bytes.length; len++) {
      t.throws(() => decodePostings(bytes.subarray(0, len)), { code: 'ERR_CORRUPTION' }, `container ${bytes[1]} truncated to ${len}`);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    t.throws(() => decodePostings(longer), { code: 'ERR_CORRUPTION' }, `container ${bytes[1]} with a trailing byte`);
  }
  t.throws(() => decodePostings(Uint8Array.of(1, 1, 2, 0, 1, 1, 0, 0, 0)), { code: 'ERR_CORRUPTION' }, 'bitmap popcount differs from count');
  t.throws(() => decodePostings(Uint8Array.of(1, 1, 1, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0)), { code: 'ERR_CORRUPTION' }, 'bitmap empty last word');
  t.throws(() => decodePostings(Uint8Array.of(1, 1, 1, 0xff, 0xff, 0xff, 0x3f, 2, 1, 0, 0, 0, 1, 0, 0, 0)), { code: 'ERR_CORRUPTION' }, 'bitmap past u32');
  const unaligned = new Uint8Array(20);
  const bm = encodePostings([33, 40, 64, 65, 127], undefined, PostingsContainer.Bitmap);
  unaligned.set(bm, 1);
  t.same([...decodePostings(unaligned.subarray(1, 1 + bm.length))], [33, 40, 64, 65, 127], 'a bitmap at an unaligned offset');
  t.throws(() => decodePostings(Uint8Array.of(1, 0, 2, 5, 0)), { code: 'ERR_CORRUPTION' }, 'a zero gap');
  t.throws(() => decodePostings(Uint8Array.of(1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1)), { code: 'ERR_CORRUPTION' }, 'past u32');
  t.throws(() => decodePostings(Uint8Array.of(2, 0, 0)), { code: 'ERR_CORRUPTION' }, 'unknown version');
  t.throws(() => decodePostings(Uint8Array.of(1, 9, 0)), { code: 'ERR_CORRUPTION' }, 'unknown container');
  t.throws(() => decodePostings(Uint8Array.of(1, 0, 0x7f, 1)), { code: 'ERR_CORRUPTION' }, 'count past the bytes');
  const seed = 3;
  const rand = new SeededRand(seed);
  const bases = [encodePostings(sortedUnique(rand, 200, 5000)), encodePostings(sortedUnique(rand, 200, 600))];
  t.same([bases[0]?.[1], bases[1]?.[1]], [PostingsContainer.DeltaVarint, PostingsContainer.Bitmap], 'both containers mutated');
  for (let k = 0; k < 4000; k++) {
    const base = bases[k % 2] as Uint8Array;
    const m = base.slice();
    const at = rand.intn(m.length);
    m[at] = (m[at] as number) ^ (1 << rand.intn(8));
    for (const f of [() => decodePostings(m), () => intersectEncoded(m, base), () => intersectEncoded(base, m)]) {
      try {
        f();
      } catch (err) {
        if (!isOtlpdbError(err, 'ERR_CORRUPTION')) t.fail(`seed ${seed} mutation ${k}: ${String(err)}`);
      }
    }
  }
});

t.test('planted bugs: the oracle check catches a lossy encoding and a merge that skips', async (t) => {
  const rand = new SeededRand(8);
  const a = sortedUnique(rand, 300, 2000);
  const b = sortedUnique(rand, 300, 2000);
  t.equal(mismatch(a, b), null, 'the honest operations pass');
  const flipped: Ops = {
    ...honest,
    encode: (ids) => {
      const bytes = encodePostings(ids);
      if (bytes.length > 4) bytes[4] = (bytes[4] as number) ^ 1;
      return bytes;
    },
  };
  t.not(mismatch(a, b, flipped), null, 'a flipped bit is caught');
  const skipping: Ops = {
    ...honest,
    // A merge with an off-by-one: it advances both sides twice on a match.
    intersect: (x, y) => {
      const out: number[] = [];
      let i = 0;
      let j = 0;
      while (i < x.length && j < y.length) {
        if ((x[i] as number) < (y[j] as number)) i++;
        else if ((x[i] as number) > (y[j] as number)) j++;
        else {
          out.push(x[i] as number);
          i += 2;
          j++;
        }
      }
      return Uint32Array.from(out);
    },
  };
  t.not(mismatch(a, b, skipping), null, 'a skipping merge is caught');
});
