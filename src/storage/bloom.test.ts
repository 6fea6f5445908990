import t from 'tap';
import { codeOf } from './storage-test-util.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits } from '../limits.js';
import { crc32c } from '../raft/wal/index.js';
import bloomFilters from 'bloom-filters';
import { BLOOM_SEED, bitIndexes, bitIndexesReference, bloomHas, bloomHasReference, bloomOfReference, buildBloom, decodeBloom, encodeBloom, referenceFilter } from './bloom.js';
import type { BloomItem } from './bloom.js';


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
  const json = JSON.stringify(referenceFilter(bloom).saveAsJSON()).length;
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

/** randomItem is a seeded string (ASCII, BMP, astral, lone surrogates) or byte string, 0..80 units long. */
function randomItem(rand: SeededRand): BloomItem {
  const n = rand.intn(81);
  if (rand.intn(2) === 0) return rand.bytes(n);
  let s = '';
  for (let i = 0; i < n; i++) {
    const kind = rand.intn(10);
    if (kind < 5) s += String.fromCharCode(0x20 + rand.intn(0x5f));
    else if (kind < 7) s += String.fromCharCode(0x80 + rand.intn(0xd800 - 0x80));
    else if (kind < 8) s += String.fromCodePoint(0x10000 + rand.intn(0x100000));
    else s += String.fromCharCode(0xd800 + rand.intn(0x800)); // a lone high or low surrogate
  }
  return s;
}

t.test("the bit indexes are bloom-filters' own, over seeded strings and byte strings", async (t) => {
  const seed = Number(process.env.OTLPDB_BLOOM_SEED ?? 4242);
  const rand = new SeededRand(seed);
  let differ = 0;
  let plantedDiffer = 0;
  for (let k = 0; k < 3000; k++) {
    const item = randomItem(rand);
    const size = 1 + rand.intn(200_000);
    const hashes = 1 + rand.intn(StorageLimits.bloomHashesMax);
    const ref = bitIndexesReference(item, size, hashes);
    if (JSON.stringify(bitIndexes(item, size, hashes)) !== JSON.stringify(ref)) differ++;
    // Planted: strings hashed as TextEncoder's UTF-8 (lone surrogates become U+FFFD) instead of xxhashjs's conversion.
    const planted = typeof item === 'string' ? bitIndexes(new TextEncoder().encode(item), size, hashes) : bitIndexes(item, size, hashes);
    if (JSON.stringify(planted) !== JSON.stringify(ref)) plantedDiffer++;
  }
  t.equal(differ, 0, `every item's indexes match (seed ${seed})`);
  t.ok(plantedDiffer > 0, `planted: TextEncoder's UTF-8 is caught (${plantedDiffer} items differ)`);
});

t.test("a built filter's bytes are those bloom-filters' own add builds, and lookups agree", async (t) => {
  const rand = new SeededRand(77);
  for (let round = 0; round < 20; round++) {
    const items = Array.from({ length: 1 + rand.intn(300) }, () => randomItem(rand));
    const ref = bloomFilters.BloomFilter.create(items.length, StorageLimits.bloomFalsePositiveTarget);
    ref.seed = BLOOM_SEED;
    for (const item of items) ref.add(typeof item === 'string' ? item : Buffer.from(item.buffer, item.byteOffset, item.byteLength));
    const built = buildBloom(items);
    t.same(encodeBloom(built), encodeBloom(bloomOfReference(ref)), `round ${round}: same bytes`);
    const probes = [...items.slice(0, 20), ...Array.from({ length: 20 }, () => randomItem(rand))];
    t.ok(probes.every((p) => bloomHas(built, p) === bloomHasReference(built, p)), `round ${round}: lookups agree`);
  }
});
