/**
 * bloom.ts — the per-block bloom filters of DESIGN.md §6: trace ids of a span
 * block, terms of a log block. A query skips a block whose filter says "no".
 *
 * Built on the bloom-filters package (BloomFilter: enhanced double hashing of
 * xxhash64 via xxhashjs). Its JSON export stores the bit array as base64 plus
 * field names; the compact form below stores the raw bit array, about 25%
 * smaller (measured in bloom.test.ts: ~1.2 bytes per item at 1% against
 * ~1.6 for the JSON) and parsed without a base64 pass.
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
 * NB: a lookup costs ~20 µs (bloom-filters hashes with xxhashjs, pure JS
 * 64-bit emulation; bloom.test.ts's 100,000 probes take about 2 s). If block
 * pruning becomes hot, hash with xxhash-wasm over the same BitSet layout as
 * format version 2.
 */
import bloomFilters from 'bloom-filters';
import { OtlpdbError, assert } from '../errors.js';
import { StorageLimits } from '../limits.js';

/** BLOOM_VERSION is the compact bloom format version. */
export const BLOOM_VERSION = 1;
/** BLOOM_SEED is the hash seed of every stored filter (bloom-filters' own default, written down so it cannot drift). */
export const BLOOM_SEED = 0x1234567890;
const HEADER_BYTES = 8;

/** BloomItem is what a filter holds: a term (string) or an id (raw bytes, e.g. a 16-byte trace id). */
export type BloomItem = string | Uint8Array;

/** BlockBloom is one built or decoded filter. */
export interface BlockBloom {
  readonly filter: InstanceType<typeof bloomFilters.BloomFilter>;
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
  const filter = bloomFilters.BloomFilter.create(Math.max(1, items.length), falsePositiveTarget);
  filter.seed = BLOOM_SEED;
  for (const item of items) filter.add(hashable(item));
  assert(filter._nbHashes >= 1 && filter._nbHashes <= StorageLimits.bloomHashesMax, 'bloom hash count in range');
  return { filter };
}

/** bloomHas says whether `item` may be in the filter (false means certainly not). */
export function bloomHas(bloom: BlockBloom, item: BloomItem): boolean {
  return bloom.filter.has(hashable(item));
}

/** encodeBloom writes the compact form (layout above). */
export function encodeBloom(bloom: BlockBloom): Uint8Array {
  const f = bloom.filter;
  const bits = f._filter.array;
  assert(bits.length === Math.ceil(f._size / 8), 'bit array length matches the size');
  assert(f.seed === BLOOM_SEED, 'stored filters use BLOOM_SEED');
  const out = new Uint8Array(HEADER_BYTES + bits.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, BLOOM_VERSION);
  v.setUint8(1, f._nbHashes);
  v.setUint16(2, 0);
  v.setUint32(4, f._size);
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
  const filter = new bloomFilters.BloomFilter(sizeBits, hashes);
  filter.seed = BLOOM_SEED;
  assert(filter._filter.array.length === n, 'BitSet allocates ceil(size/8) bytes');
  filter._filter.array.set(bytes.subarray(HEADER_BYTES));
  return { filter };
}
