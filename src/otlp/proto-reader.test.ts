/**
 * proto-reader.test.ts — ProtoReader.fixed64Cached: a run of equal times
 * shares one bigint, and every value read is still exactly fixed64's.
 */
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { ProtoReader, newFixed64Cache } from './proto-reader.js';
import type { Fixed64Cache } from './proto-reader.js';

/** CachedRead is fixed64Cached's shape (the planted bug below has it too). */
type CachedRead = (r: ProtoReader, end: number, cache: Fixed64Cache) => bigint;

const realRead: CachedRead = (r, end, cache) => r.fixed64Cached(end, cache);

/** loOnlyRead is a planted bug: the cache compares the low half only. */
const loOnlyRead: CachedRead = (r, end, cache) => {
  const p = r.pos;
  const view = new DataView(r.buf.buffer, r.buf.byteOffset, r.buf.byteLength);
  const lo = view.getUint32(p, true);
  r.pos = p + 8;
  if (lo === cache.lo) return cache.value;
  cache.lo = lo;
  cache.hi = view.getUint32(p + 4, true);
  cache.value = view.getBigUint64(p, true);
  return cache.value;
};

/**
 * values draws `n` fixed64 values in runs, from a pool in which some values
 * share their low half and differ in the high one, and the other way round
 * (the edges 0 and 2^64 - 1 included).
 */
function values(seed: number, n: number): bigint[] {
  const rand = new SeededRand(seed);
  const pool: bigint[] = [0n, 2n ** 64n - 1n, 0xffff_ffffn, 0xffff_ffffn << 32n];
  for (let i = 0; i < 12; i++) {
    const lo = BigInt(rand.nextU32());
    const hi = BigInt(rand.nextU32());
    pool.push((hi << 32n) | lo, ((hi ^ 1n) << 32n) | lo, (hi << 32n) | (lo ^ 0x8000_0000n));
  }
  const out: bigint[] = [];
  while (out.length < n) {
    const v = pool[rand.intn(pool.length)] as bigint;
    const run = 1 + rand.intn(4);
    for (let k = 0; k < run && out.length < n; k++) out.push(v);
  }
  return out;
}

function bytesOf(vs: readonly bigint[]): Uint8Array {
  const b = new Uint8Array(8 * vs.length);
  const view = new DataView(b.buffer);
  vs.forEach((v, i) => view.setBigUint64(8 * i, v, true));
  return b;
}

/**
 * mismatches reads every value through `read` with two caches in turn (as a
 * point's start and time fields use them) and counts the values that differ
 * from fixed64's; `shared` counts the reads whose value equals the previous
 * one of their cache (cache hits for the real reader; bigints compare by
 * value, so identity itself is not observable).
 */
function mismatches(read: CachedRead, seed: number, n: number): { wrong: number; shared: number } {
  const vs = values(seed, n);
  const bytes = bytesOf(vs);
  const r = new ProtoReader(bytes);
  const plain = new ProtoReader(bytes);
  const caches = [newFixed64Cache(), newFixed64Cache()];
  const last: (bigint | null)[] = [null, null];
  let wrong = 0;
  let shared = 0;
  for (let i = 0; i < vs.length; i++) {
    const cache = caches[i % 2] as Fixed64Cache;
    const before = cache.value;
    const got = read(r, bytes.length, cache);
    const want = plain.fixed64(bytes.length);
    if (got !== want || got !== vs[i]) wrong++;
    if (last[i % 2] !== null && got === before && cache.value === before) shared++;
    last[i % 2] = got;
  }
  return { wrong, shared };
}

t.test('fixed64Cached reads exactly what fixed64 reads, over runs of equal and half-equal values', async (t) => {
  let shared = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const m = mismatches(realRead, seed, 2_000);
    t.equal(m.wrong, 0, `seed ${seed}: every value exact`);
    shared += m.shared;
  }
  t.ok(shared > 1_000, `the draws repeat values, so the cache is hit (${shared} reads)`);
});

t.test('fixed64Cached checks its bounds as fixed64 does', async (t) => {
  const r = new ProtoReader(new Uint8Array(7));
  t.throws(() => r.fixed64Cached(7, newFixed64Cache()), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('planted bug: a cache that compares the low half only is caught', async (t) => {
  let wrong = 0;
  for (let seed = 1; seed <= 20; seed++) wrong += mismatches(loOnlyRead, seed, 2_000).wrong;
  t.ok(wrong > 0, `the check finds the wrong values (${wrong})`);
});
