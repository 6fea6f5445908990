import t from 'tap';
import { codeOf } from './storage-test-util.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits } from '../limits.js';
import { crc32c } from '../raft/wal/index.js';
import { bloomHas, buildBloom, decodeBloom, encodeBloom } from './bloom.js';


t.test('trace ids: no false negatives, false positives within 2x the target, compact bytes', async (t) => {
  const seed = 1234;
  const rand = new SeededRand(seed);
  const n = 10_000;
  const members = Array.from({ length: n }, () => rand.bytes(16));
  const bloom = decodeBloom(encodeBloom(buildBloom(members)));
  t.equal(members.filter((m) => !bloomHas(bloom, m)).length, 0, `no false negatives (seed ${seed})`);
  const probes = 100_000;
  let fp = 0;
  for (let i = 0; i < probes; i++) if (bloomHas(bloom, rand.bytes(16))) fp++;
  const rate = fp / probes;
  const target = StorageLimits.bloomFalsePositiveTarget;
  const bytes = encodeBloom(bloom).length;
  const json = JSON.stringify(bloom.filter.saveAsJSON()).length;
  t.comment(`trace ids: ${n} items, ${bytes} bytes = ${(bytes / n).toFixed(3)} bytes/item (JSON export ${(json / n).toFixed(3)}), false-positive rate ${rate} over ${probes} (target ${target})`);
  t.ok(rate <= 2 * target, `false-positive rate ${rate} <= ${2 * target} (seed ${seed})`);
  t.ok(bytes / n < 1.3, 'about 9.6 bits per item at 1%');
  t.ok(bytes < json, 'smaller than the JSON export');
});

t.test('log terms: no false negatives, false positives within 2x the target', async (t) => {
  const seed = 99;
  const rand = new SeededRand(seed);
  const terms = Array.from({ length: 5000 }, (_, i) => `term${i}-${rand.nextU32().toString(36)}`);
  const bloom = decodeBloom(encodeBloom(buildBloom(terms)));
  t.equal(terms.filter((m) => !bloomHas(bloom, m)).length, 0, 'no false negatives');
  let fp = 0;
  const probes = 100_000;
  for (let i = 0; i < probes; i++) if (bloomHas(bloom, `absent${i}-${rand.nextU32().toString(36)}`)) fp++;
  t.comment(`terms: false-positive rate ${fp / probes}`);
  t.ok(fp / probes <= 2 * StorageLimits.bloomFalsePositiveTarget, `rate ${fp / probes} (seed ${seed})`);
});

t.test('an empty filter says no, and the stored bytes of a fixed filter are pinned (hashing has not changed)', async (t) => {
  const empty = decodeBloom(encodeBloom(buildBloom([])));
  t.notOk(bloomHas(empty, 'x'));
  const pinned = encodeBloom(buildBloom(['GET', 'checkout', '0af7651916cd43dd8448eb211c80319c', new Uint8Array(16).fill(7)]));
  t.equal(pinned.length, 8 + 5, 'size');
  t.equal(crc32c(pinned).toString(16), PINNED_CRC, 'bytes unchanged; if this fails, bump BLOOM_VERSION');
});
const PINNED_CRC = 'b4e24373';

t.test('decodeBloom refuses malformed bytes', async (t) => {
  const good = encodeBloom(buildBloom(['a', 'b', 'c']));
  const edit = (i: number, b: number): Uint8Array => Uint8Array.from(good, (x, j) => (j === i ? b : x));
  t.equal(codeOf(() => decodeBloom(good)), 'ok');
  t.equal(codeOf(() => decodeBloom(good.subarray(0, 7))), 'ERR_CORRUPTION', 'short header');
  t.equal(codeOf(() => decodeBloom(good.subarray(0, good.length - 1))), 'ERR_CORRUPTION', 'truncated bits');
  t.equal(codeOf(() => decodeBloom(edit(0, 2))), 'ERR_CORRUPTION', 'version');
  t.equal(codeOf(() => decodeBloom(edit(1, 0))), 'ERR_CORRUPTION', 'zero hashes');
  t.equal(codeOf(() => decodeBloom(edit(1, 200))), 'ERR_CORRUPTION', 'too many hashes');
  t.equal(codeOf(() => decodeBloom(edit(2, 1))), 'ERR_CORRUPTION', 'reserved');
  t.equal(codeOf(() => decodeBloom(edit(6, (good[6] as number) + 1))), 'ERR_CORRUPTION', 'size does not match the bytes');
  const sizeBits = new DataView(good.buffer).getUint32(4);
  t.not(sizeBits % 8, 0, `${sizeBits} bits leave unused bits in the last byte`);
  t.equal(codeOf(() => decodeBloom(edit(good.length - 1, (good[good.length - 1] as number) | 0x80))), 'ERR_CORRUPTION', 'a bit past the size');
  // A size change within the same byte count is structurally valid; the block checksum (block.ts) catches it.
});
