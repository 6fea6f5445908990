import t from 'tap';
import { h64FromBytes, h64ToBytes, initHash } from './hash.js';

const utf8 = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

t.test('xxhash64 matches the reference vectors (xxhsum / XXH64 spec)', async (t) => {
  const h = await initHash();
  t.equal(h.h64(''), 0xef46db3751d8e999n, 'XXH64("", 0)');
  t.equal(h.h64('a'), 0xd24ec4f1a98c6e5bn, 'XXH64("a", 0)');
  t.equal(h.h64('abc'), 0x44bc2cf5ad770999n, 'XXH64("abc", 0)');
  t.equal(h.h64(new Uint8Array(0)), 0xef46db3751d8e999n, 'bytes and strings agree on ""');
  t.equal(h.h64(utf8.encode('abc')), h.h64('abc'), 'bytes and strings agree on "abc"');
  t.not(h.h64('abc', 1n), h.h64('abc'), 'the seed changes the hash');
});

t.test('xxhash32 matches the reference vectors', async (t) => {
  const h = await initHash();
  t.equal(h.h32(''), 0x02cc5d05, 'XXH32("", 0)');
  t.equal(h.h32('abc'), 0x32d153ff, 'XXH32("abc", 0)');
  t.equal(h.h32(utf8.encode('abc')), 0x32d153ff, 'bytes agree with strings');
});

t.test('strings are hashed as UTF-8', async (t) => {
  const h = await initHash();
  t.equal(h.h64('é'), h.h64(Uint8Array.of(0xc3, 0xa9)));
  t.equal(h.h64('😀'), h.h64(utf8.encode('😀')));
});

t.test('canonical bytes are big-endian: their hex is the hash in hex', async (t) => {
  const h = await initHash();
  const v = h.h64('a');
  t.equal(hex(h64ToBytes(v)), 'd24ec4f1a98c6e5b');
  t.equal(h64FromBytes(h64ToBytes(v)), v, 'round trip');
  t.equal(hex(h64ToBytes(0n)), '0000000000000000');
  t.equal(hex(h64ToBytes((1n << 64n) - 1n)), 'ffffffffffffffff');
  t.throws(() => h64ToBytes(1n << 64n), { code: 'ERR_INTERNAL' }, 'refuses values past 64 bits');
});

t.test('initHash is idempotent', async (t) => {
  const [a, b] = await Promise.all([initHash(), initHash()]);
  t.equal(a, b, 'concurrent calls share one hasher');
  t.equal(await initHash(), a, 'a later call returns the same hasher');
  t.ok(Object.isFrozen(a), 'the hasher cannot be modified by a caller');
});

t.test('h64ToShard returns a shard in [1, S] and refuses bad S', async (t) => {
  const h = await initHash();
  for (const s of [1, 2, 16, 4096]) {
    const shard = h.h64ToShard('some-key', s);
    t.ok(shard >= 1 && shard <= s, `shard ${shard} in [1, ${s}]`);
  }
  t.equal(h.h64ToShard('x', 1), 1, 'one shard holds everything');
  for (const bad of [0, -1, 1.5, 4097, Number.NaN]) {
    t.throws(() => h.h64ToShard('x', bad), { code: 'ERR_INVALID_ARGUMENT' }, `shardCount ${bad}`);
  }
});
