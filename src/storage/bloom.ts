/**
 * bloom.ts — the per-block bloom filters of DESIGN.md §6: trace ids of a span
 * block, terms of a log block. A query skips a block whose filter says "no".
 *
 * Bit for bit the bloom-filters package's BloomFilter (enhanced double
 * hashing of xxhash64 via xxhashjs), which bloom.test.ts keeps as the
 * reference; the filters themselves are plain records (BlockBloom). Its JSON
 * export stores the bit array as base64 plus field names; the compact form
 * below stores the raw bit array, about 25% smaller (measured in
 * bloom.test.ts: ~1.2 bytes per item at 1% against ~1.6 for the JSON) and
 * parsed without a base64 pass.
 *
 * Layout, version 1 (big-endian):
 *
 *   0         1         2           4            8
 *   +---------+---------+-----------+------------+---------------------------+
 *   | version | hashes  | reserved  | sizeBits   | bits: ceil(sizeBits/8) B  |
 *   |  u8     |  u8     | u16 = 0   |   u32      | (bloom-filters BitSet)    |
 *   +---------+---------+-----------+------------+---------------------------+
 *
 * Version 1 also fixes the hashing: bloom-filters 3.0.4's Hashing with seed
 * BLOOM_SEED. A package upgrade that changes its hashing must bump the
 * version (bloom.test.ts pins the bytes of a small filter to catch it).
 * Seal the bytes with block.ts (BlockKind.bloom) when written to LevelDB.
 *
 * The bits are computed here, not by bloom-filters' Hashing (xxhashjs, pure
 * JS 64-bit emulation: ~20 µs an item, a third of a traces flush's time on a
 * node, bench/README.md "ingest"), with the same result: bloom-filters 3.0.4
 * sets, for i in 0..hashes-1, bit |(a + i·b + floor((i³ - i)/6)) mod size|
 * where a and b are xxhashjs's `h64(item, seed + 1).toNumber()` and
 * `h64(item, seed + 2).toNumber()`: the low 32 bits of xxhash64 with the
 * seed cut to its low 32 bits (cuint's fromNumber), of the item's bytes (a
 * string through xxhashjs's own UTF-8 conversion, utf8Like below, which pairs
 * any surrogate with the next code unit). xxhash64 itself is xxhash-wasm's.
 * bloom.test.ts compares every bit index with bloom-filters' own over seeded
 * strings (lone surrogates included) and byte strings, and pins the bytes.
 */
import bloomFilters from 'bloom-filters';
import xxhash from 'xxhash-wasm';
import { OtlpdbError, assert } from '../errors.js';
import { StorageLimits } from '../limits.js';

/** XXH is xxhash-wasm's API: compiled once when this module loads (WebAssembly compiles asynchronously). */
const XXH = await xxhash();

/** BLOOM_VERSION is the compact bloom format version. */
export const BLOOM_VERSION = 1;
/** BLOOM_SEED is the hash seed of every stored filter (bloom-filters' own default, written down so it cannot drift). */
export const BLOOM_SEED = 0x1234567890;
const HEADER_BYTES = 8;

/** BloomItem is what a filter holds: a term (string) or an id (raw bytes, e.g. a 16-byte trace id). */
export type BloomItem = string | Uint8Array;

/**
 * BlockBloom is one built or decoded filter: its bit array in bloom-filters'
 * BitSet layout (bit i is bit i % 8 of byte floor(i / 8)), its size in bits
 * and its hash count. A plain record rather than a bloom-filters
 * BloomFilter: that class's constructor seeds a seedrandom generator (two
 * of them) whatever the caller does with it, which was about a third of a
 * trace attribute search's CPU when every page filter of every block
 * opened made one (bench/README.md query-traces, s15).
 * Invariant: bits.length === ceil(sizeBits / 8); 1 <= hashes <= StorageLimits.bloomHashesMax.
 */
export interface BlockBloom {
  readonly bits: Uint8Array;
  readonly sizeBits: number;
  readonly hashes: number;
}

type ReferenceFilter = InstanceType<typeof bloomFilters.BloomFilter>;

/**
 * optimalSizeBits and optimalHashes are bloom-filters 3.0.4's formulas
 * (optimalFilterSize, optimalHashes), which BloomFilter.create uses: the
 * stored sizes of filters built before and after this file stopped
 * calling create are the same (bloom.test.ts compares bytes with create's).
 */
function optimalSizeBits(items: number, falsePositiveTarget: number): number {
  return Math.ceil(-((items * Math.log(falsePositiveTarget)) / Math.pow(Math.log(2), 2)));
}

function optimalHashes(sizeBits: number, items: number): number {
  return Math.ceil((sizeBits / items) * Math.log(2));
}

/** bloomEncodedBytes is the size encodeBloom writes for a filter buildBloom makes of `items` items at `falsePositiveTarget` (no items sizes as one). */
export function bloomEncodedBytes(items: number, falsePositiveTarget: number): number {
  assert(items >= 0 && Number.isSafeInteger(items), 'items is a count');
  assert(falsePositiveTarget > 0 && falsePositiveTarget < 1, 'falsePositiveTarget in (0, 1)');
  return HEADER_BYTES + Math.ceil(optimalSizeBits(Math.max(1, items), falsePositiveTarget) / 8);
}

/** referenceFilter is the bloom-filters BloomFilter holding the same bits (tests and bloomHasReference only: its constructor is dear). */
export function referenceFilter(bloom: BlockBloom): ReferenceFilter {
  const f = new bloomFilters.BloomFilter(bloom.sizeBits, bloom.hashes);
  f.seed = BLOOM_SEED;
  assert(f._filter.array.length === bloom.bits.length, 'BitSet allocates ceil(size/8) bytes');
  f._filter.array.set(bloom.bits);
  return f;
}

/** bloomOfReference is the BlockBloom of a bloom-filters BloomFilter built with BLOOM_SEED (tests compare the two builds). */
export function bloomOfReference(f: ReferenceFilter): BlockBloom {
  assert(f.seed === BLOOM_SEED, 'stored filters use BLOOM_SEED');
  return { bits: Uint8Array.from(f._filter.array), sizeBits: f._size, hashes: f._nbHashes };
}

function hashable(item: BloomItem): string | Buffer {
  return typeof item === 'string' ? item : Buffer.from(item.buffer, item.byteOffset, item.byteLength);
}

/**
 * buildBloom builds a filter sized for `items.length` items at the given
 * false-positive probability. Duplicates are harmless (they only oversize).
 */
export function buildBloom(items: readonly BloomItem[], falsePositiveTarget: number = StorageLimits.bloomFalsePositiveTarget): BlockBloom {
  assert(falsePositiveTarget > 0 && falsePositiveTarget < 1, 'falsePositiveTarget in (0, 1)');
  if (items.length > StorageLimits.bloomItemsMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a bloom filter of ${items.length} items exceeds StorageLimits.bloomItemsMax (${StorageLimits.bloomItemsMax})`);
  }
  const n = Math.max(1, items.length);
  const sizeBits = optimalSizeBits(n, falsePositiveTarget);
  const hashes = optimalHashes(sizeBits, n);
  assert(sizeBits >= 1, 'a filter has at least one bit');
  assert(hashes >= 1 && hashes <= StorageLimits.bloomHashesMax, 'bloom hash count in range');
  const bits = new Uint8Array(Math.ceil(sizeBits / 8));
  for (const item of items) {
    const h = itemHashes(item);
    for (let i = 0; i < hashes; i++) {
      const at = bitIndex(i, h, sizeBits);
      bits[at >>> 3] = (bits[at >>> 3] as number) | (1 << (at & 7));
    }
  }
  return { bits, sizeBits, hashes };
}

/** bloomHas says whether `item` may be in the filter (false means certainly not). */
export function bloomHas(bloom: BlockBloom, item: BloomItem): boolean {
  const h = itemHashes(item);
  const { bits, hashes, sizeBits } = bloom;
  for (let i = 0; i < hashes; i++) {
    const at = bitIndex(i, h, sizeBits);
    if (((bits[at >>> 3] as number) & (1 << (at & 7))) === 0) return false;
  }
  return true;
}

/** bloomHasReference is bloomHas through bloom-filters' own hashing (bloom.test.ts compares the two). */
export function bloomHasReference(bloom: BlockBloom, item: BloomItem): boolean {
  return referenceFilter(bloom).has(hashable(item));
}

/** bitIndexesReference are the bit indexes bloom-filters' own hashing gives `item` in a filter of `size` bits and `hashes` hashes. */
export function bitIndexesReference(item: BloomItem, size: number, hashes: number): number[] {
  const f = new bloomFilters.BloomFilter(size, hashes);
  f.seed = BLOOM_SEED;
  return f._hashing.getIndexes(hashable(item), size, hashes, BLOOM_SEED);
}

/** bitIndexes are the bit indexes this file's hashing gives `item` (see the file comment). */
export function bitIndexes(item: BloomItem, size: number, hashes: number): number[] {
  const h = itemHashes(item);
  const out: number[] = [];
  for (let i = 0; i < hashes; i++) out.push(bitIndex(i, h, size));
  return out;
}

// xxhashjs cuts a number seed to its low 32 bits (cuint's fromNumber); bloom-filters hashes with seed + 1 and seed + 2.
const SEED_A = BigInt((BLOOM_SEED + 1) >>> 0);
const SEED_B = BigInt((BLOOM_SEED + 2) >>> 0);
const LOW32 = 0xffffffffn;

/** ItemHashes are an item's two hashes (a, b), each the low 32 bits of an xxhash64, reused. */
const HASHES = { a: 0, b: 0 };

function itemHashes(item: BloomItem): { readonly a: number; readonly b: number } {
  const bytes = typeof item === 'string' ? utf8Like(item) : item;
  HASHES.a = Number(XXH.h64Raw(bytes, SEED_A) & LOW32);
  HASHES.b = Number(XXH.h64Raw(bytes, SEED_B) & LOW32);
  return HASHES;
}

/** bitIndex is bloom-filters 3.0.4's doubleHashing(i, a, b, size). */
function bitIndex(i: number, h: { readonly a: number; readonly b: number }, size: number): number {
  return Math.abs((h.a + i * h.b + Math.floor((Math.pow(i, 3) - i) / 6)) % size);
}

/** UTF8_SCRATCH is utf8Like's output buffer, grown as needed (4 bytes per code unit at most). */
let UTF8_SCRATCH = new Uint8Array(256);

/**
 * utf8Like is xxhashjs 0.2.2's toUTF8Array: UTF-8, except that any
 * surrogate (high or low, paired or not) is combined with the next code
 * unit (NaN past the end reads as 0). Returns a view of a reused buffer.
 */
function utf8Like(str: string): Uint8Array {
  if (UTF8_SCRATCH.length < str.length * 4) UTF8_SCRATCH = new Uint8Array(str.length * 4);
  const out = UTF8_SCRATCH;
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i);
    if (c < 0x80) out[n++] = c;
    else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c >= 0xe000) {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      i++;
      c = 0x10000 + (((c & 0x3ff) << 10) | (str.charCodeAt(i) & 0x3ff));
      out[n++] = 0xf0 | (c >> 18);
      out[n++] = 0x80 | ((c >> 12) & 0x3f);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return out.subarray(0, n);
}

/** encodeBloom writes the compact form (layout above). */
export function encodeBloom(bloom: BlockBloom): Uint8Array {
  const bits = bloom.bits;
  assert(bits.length === Math.ceil(bloom.sizeBits / 8), 'bit array length matches the size');
  assert(bloom.hashes >= 1 && bloom.hashes <= StorageLimits.bloomHashesMax, 'bloom hash count in range');
  const out = new Uint8Array(HEADER_BYTES + bits.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, BLOOM_VERSION);
  v.setUint8(1, bloom.hashes);
  v.setUint16(2, 0);
  v.setUint32(4, bloom.sizeBits);
  out.set(bits, HEADER_BYTES);
  return out;
}

/** decodeBloom reads the compact form; any structural defect throws ERR_CORRUPTION. */
export function decodeBloom(bytes: Uint8Array): BlockBloom {
  const corrupt = (what: string): never => {
    throw new OtlpdbError('ERR_CORRUPTION', `bloom filter: ${what}`);
  };
  if (bytes.length < HEADER_BYTES) corrupt(`${bytes.length} bytes is shorter than the header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint8(0) !== BLOOM_VERSION) corrupt(`version ${v.getUint8(0)} is not ${BLOOM_VERSION}`);
  const hashes = v.getUint8(1);
  if (hashes < 1 || hashes > StorageLimits.bloomHashesMax) corrupt(`${hashes} hash functions is outside [1, ${StorageLimits.bloomHashesMax}]`);
  if (v.getUint16(2) !== 0) corrupt('reserved bytes are not zero');
  const sizeBits = v.getUint32(4);
  if (sizeBits < 1) corrupt('size is zero');
  const n = Math.ceil(sizeBits / 8);
  if (bytes.length !== HEADER_BYTES + n) corrupt(`${bytes.length - HEADER_BYTES} bit bytes do not hold ${sizeBits} bits`);
  if (sizeBits % 8 !== 0 && (bytes[bytes.length - 1] as number) >> (sizeBits % 8) !== 0) corrupt('bits past the size are set');
  // A view, not a copy: callers hand in bytes they keep unchanged (a block value read from LevelDB, a cache entry).
  return { bits: bytes.subarray(HEADER_BYTES), sizeBits, hashes };
}
