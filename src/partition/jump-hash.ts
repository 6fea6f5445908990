/**
 * jump-hash.ts — jump consistent hash (Lamping & Veach, "A Fast, Minimal
 * Memory, Consistent Hash Algorithm", 2014), computed on two 32-bit halves so
 * that the hot path never allocates a bigint.
 *
 * Property relied on by key-to-shard.ts: growing the bucket count from n to
 * n+1 moves a key only into the new bucket n, and moves about 1/(n+1) of all
 * keys. The result is bit-identical to the paper's C++ reference, including its
 * double-precision step, so a key maps to the same bucket in any language.
 */

const TWO_POW_32 = 4294967296;
const TWO_POW_31 = 2147483648;
// The 64-bit LCG multiplier of the paper, 2862933555777941757 = 0x27BB2EE6_87B0B0FD.
const MUL_HI = 0x27bb2ee6;
const MUL_LO = 0x87b0b0fd;
const MUL_LO_0 = MUL_LO & 0xffff;
const MUL_LO_1 = MUL_LO >>> 16;

/**
 * jumpConsistentHash maps a 64-bit key, given as its high and low unsigned
 * 32-bit halves, to a bucket in [0, buckets). The caller validates `buckets`
 * (a positive int32); the loop runs about ln(buckets) + 1 times.
 */
export function jumpConsistentHash(keyHi: number, keyLo: number, buckets: number): number {
  let hi = keyHi >>> 0;
  let lo = keyLo >>> 0;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // key = key * MUL + 1 (mod 2^64). The low word's 32x32 -> 64-bit product
    // is built from 16-bit limbs so every intermediate is an exact double.
    const a0 = lo & 0xffff;
    const a1 = lo >>> 16;
    const mid = a0 * MUL_LO_1 + a1 * MUL_LO_0; // < 2^33
    const low = a0 * MUL_LO_0 + (mid % 65536) * 65536; // < 2^33
    const newLo = low % TWO_POW_32;
    const carry = (low - newLo) / TWO_POW_32;
    const highOfLow = a1 * MUL_LO_1 + Math.floor(mid / 65536) + carry;
    const cross = Math.imul(hi, MUL_LO) + Math.imul(lo, MUL_HI);
    hi = (highOfLow + cross) >>> 0;
    lo = newLo;
    if (lo === TWO_POW_32 - 1) {
      lo = 0;
      hi = (hi + 1) >>> 0;
    } else {
      lo += 1;
    }
    // j = (b + 1) * (2^31 / ((key >> 33) + 1)), truncated, as in the paper.
    j = Math.floor((b + 1) * (TWO_POW_31 / ((hi >>> 1) + 1)));
  }
  return b;
}
