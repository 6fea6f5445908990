import t from 'tap';
import { initHash } from './hash.js';
import { jumpConsistentHash } from './jump-hash.js';
import { shardForHash, shardForKey } from './key-to-shard.js';
import { SeededRand } from '../fs/seeded-rand.js';
import type { Hasher } from './hash.js';

const MASK64 = (1n << 64n) - 1n;

/** referenceJump is the paper's C++ code transcribed with bigint, as the oracle for the fast version. */
function referenceJump(key: bigint, buckets: number): number {
  let k = key;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & MASK64;
    j = Math.floor((b + 1) * (2147483648 / (Number(k >> 33n) + 1)));
  }
  return b;
}

const fastJump = (key: bigint, buckets: number): number =>
  jumpConsistentHash(Number(key >> 32n), Number(key & 0xffffffffn), buckets);

t.test('jump hash matches published vectors (Lamping & Veach; go-jump, Guava)', (t) => {
  const vectors: [bigint, number, number][] = [
    [1n, 1, 0],
    [42n, 57, 43],
    [0xdead10ccn, 1, 0],
    [0xdead10ccn, 666, 361],
    [256n, 1024, 520],
    [0n, 1, 0],
    [4n, 2, 1],
    [7n, 2, 0],
    [1n, 128, 55],
    [129n, 128, 120],
    [MASK64, 128, 92],
    [128n, 100_000_000, 38172097],
  ];
  for (const [key, buckets, want] of vectors) {
    t.equal(fastJump(key, buckets), want, `jump(${key}, ${buckets})`);
    t.equal(referenceJump(key, buckets), want, `reference jump(${key}, ${buckets})`);
  }
  t.end();
});

t.test('the 32-bit-halves jump hash equals the bigint reference on seeded keys', (t) => {
  const rng = new SeededRand(7);
  let mismatches = 0;
  for (let i = 0; i < 20_000; i++) {
    const key = rng.u64();
    const buckets = 1 + rng.intn(5000);
    if (fastJump(key, buckets) !== referenceJump(key, buckets)) mismatches++;
  }
  t.equal(mismatches, 0);
  t.end();
});

/** keysFor makes `count` deterministic partition keys shaped like span keys. */
function keysFor(count: number, seed: number): Uint8Array[] {
  const rng = new SeededRand(seed);
  return Array.from({ length: count }, () => rng.bytes(24));
}

type ShardOf = (key: Uint8Array, shardCount: number) => number;

/** chiSquare is Pearson's statistic of the shard counts against a uniform spread. */
function chiSquare(shardOf: ShardOf, keys: readonly Uint8Array[], shardCount: number): number {
  const counts = new Array<number>(shardCount).fill(0);
  for (const k of keys) {
    const s = shardOf(k, shardCount);
    counts[s - 1] = (counts[s - 1] ?? 0) + 1;
  }
  const expected = keys.length / shardCount;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

/** growthReport is what growing S to S+1 does to the keys: how many move, and how many move somewhere other than the new shard. */
function growthReport(shardOf: ShardOf, keys: readonly Uint8Array[], shardCount: number): {
  movedFraction: number;
  movedElsewhere: number;
} {
  let moved = 0;
  let movedElsewhere = 0;
  for (const k of keys) {
    const before = shardOf(k, shardCount);
    const after = shardOf(k, shardCount + 1);
    if (before !== after) {
      moved++;
      if (after !== shardCount + 1) movedElsewhere++;
    }
  }
  return { movedFraction: moved / keys.length, movedElsewhere };
}

/**
 * growthIsConsistent is the checker: no key moves anywhere but the new shard,
 * and the number that move is within 5 standard deviations of the binomial
 * expectation n/(S+1).
 */
function growthIsConsistent(
  report: { movedFraction: number; movedElsewhere: number },
  shardCount: number,
  keyCount: number,
): boolean {
  const p = 1 / (shardCount + 1);
  const moved = report.movedFraction * keyCount;
  const sigma = Math.sqrt(keyCount * p * (1 - p));
  return report.movedElsewhere === 0 && Math.abs(moved - keyCount * p) <= 5 * sigma;
}

// The 99.9th percentile of chi-square with k-1 degrees of freedom for the
// shard counts used below (k = 16: 37.70; k = 7: 22.46; k = 256: 334.2).
const CHI2_P999: Record<number, number> = { 7: 22.46, 16: 37.7, 256: 334.2 };

t.test('keys spread uniformly over shards (chi-square, 100k keys, p = 0.001)', async (t) => {
  const h = await initHash();
  const keys = keysFor(100_000, 11);
  const shardOf: ShardOf = (k, s) => shardForKey(h, k, s);
  for (const s of [7, 16, 256]) {
    const chi2 = chiSquare(shardOf, keys, s);
    t.comment(`S=${s}: chi-square ${chi2.toFixed(1)} (bound ${CHI2_P999[s]})`);
    t.ok(chi2 < (CHI2_P999[s] ?? 0), `S=${s}: chi-square ${chi2.toFixed(1)} below the p=0.001 bound`);
  }
});

t.test('the uniformity check catches a weak hash (planted bug)', async (t) => {
  const h = await initHash();
  const keys = keysFor(100_000, 11).map((k) => k.slice(0, 2)); // few distinct values
  // A "hash" that sums the bytes: consistent, but clustered.
  const weak: ShardOf = (k, s) => shardForHash(BigInt(k.reduce((a, b) => a + b, 0)), s);
  const chi2 = chiSquare(weak, keys, 16);
  t.ok(chi2 > (CHI2_P999[16] ?? 0), `weak hash chi-square ${chi2.toFixed(0)} is flagged`);
  t.ok(chiSquare((k, s) => shardForKey(h, k, s), keys, 16) < (CHI2_P999[16] ?? 0), 'xxhash on the same keys passes');
});

t.test('growing S to S+1 moves ~1/(S+1) of the keys, all into the new shard', async (t) => {
  const h = await initHash();
  const keys = keysFor(100_000, 12);
  const shardOf: ShardOf = (k, s) => shardForKey(h, k, s);
  for (const s of [1, 2, 3, 7, 15, 16, 63, 255]) {
    const report = growthReport(shardOf, keys, s);
    t.comment(`S=${s} -> ${s + 1}: moved ${(report.movedFraction * 100).toFixed(2)}% (ideal ${(100 / (s + 1)).toFixed(2)}%)`);
    t.ok(growthIsConsistent(report, s, keys.length), `S=${s} -> ${s + 1} is consistent`);
  }
});

t.test('the growth checker catches modulo hashing (planted bug)', async (t) => {
  const h = await initHash();
  const keys = keysFor(20_000, 13);
  const modulo: ShardOf = (k, s) => Number(h.h64(k) % BigInt(s)) + 1;
  const report = growthReport(modulo, keys, 16);
  t.ok(report.movedFraction > 0.9, `modulo moves ${(report.movedFraction * 100).toFixed(0)}% of keys`);
  t.notOk(growthIsConsistent(report, 16, keys.length), 'the checker rejects it');
});

t.test('key to shard is deterministic and independent of input form', async (t) => {
  const h: Hasher = await initHash();
  const key = new TextEncoder().encode('tenant-a/trace-42');
  t.equal(shardForKey(h, key, 16), shardForKey(h, 'tenant-a/trace-42', 16), 'string and UTF-8 bytes agree');
  t.equal(shardForKey(h, key, 16), shardForHash(h.h64(key), 16), 'shardForKey = shardForHash(h64)');
  // Pinned values: a change here silently re-routes every stored row, so it
  // must be a deliberate, migrated format change.
  t.equal(shardForKey(h, 'tenant-a/trace-42', 16), 11);
  t.equal(shardForHash(0xef46db3751d8e999n, 16), 8);
  t.equal(shardForHash(0xd24ec4f1a98c6e5bn, 1024), 895);
  t.equal(shardForHash(0xd24ec4f1a98c6e5bn, 1024), referenceJump(0xd24ec4f1a98c6e5bn, 1024) + 1);
});
