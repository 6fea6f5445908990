/**
 * term-bloom.ts — the bloom filter of a log block's terms (term-index.ts),
 * stored under the block's 0x32 key sealed as BlockKind.bloom. A query tests
 * it before anything else of the block is read.
 *
 * Two payload versions are read; a flush writes version 2:
 *
 *   1  bloom.ts's compact form (bloom-filters 3.0.4, xxhash64 via xxhashjs).
 *      Written by flushes before version 2; still read (decodeTermBloom).
 *   2  the same header and bit order, its own hashing:
 *
 *   0         1         2           4            8
 *   +---------+---------+-----------+------------+---------------------------+
 *   | version | hashes  | reserved  | sizeBits   | bits: ceil(sizeBits/8) B  |
 *   |  u8 = 2 |  u8     | u16 = 0   |   u32 BE   | bit j: byte j>>3, bit j&7 |
 *   +---------+---------+-----------+------------+---------------------------+
 *
 *   A term's bits are (h1 + i·h2) mod sizeBits for i in 0..hashes-1 (double
 *   hashing, Kirsch and Mitzenmacher), h1 and h2 two 32-bit hashes of the
 *   term's UTF-16 code units (termHashes: FNV-1a and a murmur3-style mix,
 *   each finished by murmur3's fmix32; h2 forced odd). Sized as bloom.ts
 *   sizes: sizeBits = ceil(-n·ln p / ln²2), hashes = ceil(sizeBits/n · ln 2).
 *
 * Why version 2: building version 1 hashed each term through xxhashjs's
 * 64-bit emulation, ~25 µs a term, which was a quarter of a flush's index
 * cost (bench/log-flush.ts); version 2 hashes a term in well under a
 * microsecond, and a query's probe gets as cheap. term-bloom.test.ts checks
 * the false-positive rate, no false negatives, the pinned bytes of a small
 * filter, and that version 1 filters still answer. Pure code.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { StorageLimits } from '../../limits.js';
import { BLOOM_VERSION, bloomHas, decodeBloom } from '../bloom.js';

/** TERM_BLOOM_VERSION is byte 0 of the term bloom a flush writes (see the file comment). */
export const TERM_BLOOM_VERSION = 2;
const HEADER_BYTES = 8;

/** TermBloom is a decoded term bloom of either version: `has` false means the term is certainly absent. */
export interface TermBloom {
  has(term: string): boolean;
}

function corrupt(what: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `term bloom: ${what}`);
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** HASHES is termHashes' output, reused (the hot loops call it once per term). */
const HASHES = new Uint32Array(2);

/** termHashes writes a term's two 32-bit hashes into HASHES (see the file comment). */
function termHashes(term: string): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ term.length;
  for (let i = 0; i < term.length; i++) {
    const c = term.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    let k = Math.imul(c, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    b ^= Math.imul(k, 0x1b873593);
    b = (b << 13) | (b >>> 19);
    b = (Math.imul(b, 5) + 0xe6546b64) | 0;
  }
  HASHES[0] = fmix32(a);
  HASHES[1] = fmix32(b) | 1;
}

/**
 * buildTermBloom builds the version 2 payload of a filter holding `terms`
 * (distinct, or duplicates only oversize it), sized for `falsePositiveTarget`.
 * Throws ERR_LIMIT_EXCEEDED past StorageLimits.bloomItemsMax.
 */
export function buildTermBloom(terms: readonly string[], falsePositiveTarget: number = StorageLimits.bloomFalsePositiveTarget): Uint8Array {
  assert(falsePositiveTarget > 0 && falsePositiveTarget < 1, 'falsePositiveTarget in (0, 1)');
  if (terms.length > StorageLimits.bloomItemsMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a term bloom of ${terms.length} terms exceeds StorageLimits.bloomItemsMax (${StorageLimits.bloomItemsMax})`);
  }
  const n = Math.max(1, terms.length);
  const sizeBits = Math.ceil(-(n * Math.log(falsePositiveTarget)) / (Math.LN2 * Math.LN2));
  const hashes = Math.ceil((sizeBits / n) * Math.LN2);
  assert(hashes >= 1 && hashes <= StorageLimits.bloomHashesMax, 'term bloom hash count in range');
  assert(sizeBits >= 1 && sizeBits <= 0xffff_ffff, 'term bloom size fits u32');
  const out = new Uint8Array(HEADER_BYTES + Math.ceil(sizeBits / 8));
  const v = new DataView(out.buffer);
  v.setUint8(0, TERM_BLOOM_VERSION);
  v.setUint8(1, hashes);
  v.setUint32(4, sizeBits);
  for (const term of terms) {
    termHashes(term);
    const h1 = HASHES[0] as number;
    const h2 = HASHES[1] as number;
    for (let i = 0; i < hashes; i++) {
      const bit = (h1 + i * h2) % sizeBits;
      const at = HEADER_BYTES + (bit >>> 3);
      out[at] = (out[at] as number) | (1 << (bit & 7));
    }
  }
  return out;
}

/** Version2 is a decoded version 2 filter (a view of its payload's bits). */
class Version2 implements TermBloom {
  readonly #bits: Uint8Array;
  readonly #hashes: number;
  readonly #sizeBits: number;

  constructor(bits: Uint8Array, hashes: number, sizeBits: number) {
    assert(bits.length === Math.ceil(sizeBits / 8), 'bits hold sizeBits');
    this.#bits = bits;
    this.#hashes = hashes;
    this.#sizeBits = sizeBits;
  }

  has(term: string): boolean {
    termHashes(term);
    const h1 = HASHES[0] as number;
    const h2 = HASHES[1] as number;
    for (let i = 0; i < this.#hashes; i++) {
      const bit = (h1 + i * h2) % this.#sizeBits;
      if (((this.#bits[bit >>> 3] as number) & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }
}

/** decodeTermBloom reads a term bloom payload of version 1 or 2 (the sealed value opened). Throws ERR_CORRUPTION. */
export function decodeTermBloom(payload: Uint8Array): TermBloom {
  if (payload.length < HEADER_BYTES) throw corrupt(`${payload.length} bytes is shorter than the header`);
  const version = payload[0] as number;
  if (version === BLOOM_VERSION) {
    const b = decodeBloom(payload);
    return { has: (term) => bloomHas(b, term) };
  }
  if (version !== TERM_BLOOM_VERSION) throw corrupt(`version ${version} is neither ${BLOOM_VERSION} nor ${TERM_BLOOM_VERSION}`);
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const hashes = v.getUint8(1);
  const sizeBits = v.getUint32(4);
  if (v.getUint16(2) !== 0) throw corrupt('reserved bytes are not zero');
  if (hashes < 1 || hashes > StorageLimits.bloomHashesMax) throw corrupt(`${hashes} hashes`);
  if (sizeBits < 1) throw corrupt('a filter of no bits');
  if (payload.length !== HEADER_BYTES + Math.ceil(sizeBits / 8)) throw corrupt(`${payload.length} bytes for ${sizeBits} bits`);
  return new Version2(payload.subarray(HEADER_BYTES), hashes, sizeBits);
}
