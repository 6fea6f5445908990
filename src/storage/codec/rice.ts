/**
 * rice.ts — Rice codes (Golomb codes with a power-of-two divisor) for small
 * unsigned integers, with an escape for outliers. The compact chunk encodings
 * (compact.ts) code timestamp jitter, value residuals and ulp fix-ups with it.
 *
 * A field for z (0 <= z <= RICE_Z_MAX) with parameter k (0 <= k <= RICE_K_MAX),
 * q = floor(z / 2^k):
 *
 *   q < RICE_ESCAPE_QUOTIENT:   q bits '1', one '0', then the k low bits of z
 *   otherwise:                  RICE_ESCAPE_QUOTIENT bits '1', then uvarint(z) as 8-bit groups
 *
 *   k = 1, z = 5:   '11' '0' '1'            (q = 2, low bit 1)
 *   k = 0, z = 78:  '111111' + uvarint(78)  (escape: 6 + 8 bits instead of 79)
 *
 * The decoder bounds the quotient (at most RICE_ESCAPE_QUOTIENT ones), k and
 * z, so corrupt bytes are ERR_CORRUPTION and every result is an exact double.
 */
import type { BitReader, BitWriter } from './bits.js';
import { TWO_32, corrupt } from './bits.js';

/** RICE_ESCAPE_QUOTIENT is the number of leading 1 bits that announce an escaped (uvarint) value. */
export const RICE_ESCAPE_QUOTIENT = 6;
/** RICE_K_MAX is the largest Rice parameter: z below 2^53 never needs more low bits. */
export const RICE_K_MAX = 53;
/** RICE_K_BITS is the width of a stored Rice parameter. */
export const RICE_K_BITS = 6;
/**
 * RICE_Z_MAX is the largest coded value, the largest safe integer (the escape
 * is a uvarint); callers check their zigzagged values against it and choose
 * another coding when one is past it (only |n| = 2^52 exactly can be).
 */
export const RICE_Z_MAX = 2 ** 53 - 1;

/** POW2[k] is 2^k, exact, for 0 <= k <= RICE_K_MAX. */
const POW2: readonly number[] = Array.from({ length: RICE_K_MAX + 1 }, (_, k) => 2 ** k);

/** varintBits is the bit length of uvarint(z) in 8-bit groups. */
function varintBits(z: number): number {
  let n = 8;
  while (z >= 0x80) {
    z = Math.floor(z / 0x80);
    n += 8;
  }
  return n;
}

/** riceBits is the length in bits of the field for z with parameter k. */
export function riceBits(z: number, k: number): number {
  const q = Math.floor(z / (POW2[k] as number));
  return q < RICE_ESCAPE_QUOTIENT ? q + 1 + k : RICE_ESCAPE_QUOTIENT + varintBits(z);
}

/** riceWindowBits adds to out[0 .. 4) the bits of zs[from .. to) at k = k0 .. k0 + 3, one division per value. */
function riceWindowBits(zs: Float64Array, from: number, to: number, k0: number, out: Float64Array): void {
  out.fill(0);
  const p = POW2[k0] as number;
  for (let i = from; i < to; i++) {
    const z = zs[i] as number;
    let q = Math.floor(z / p);
    for (let j = 0; j < 4; j++) {
      out[j] = (out[j] as number) + (q < RICE_ESCAPE_QUOTIENT ? q + 1 + k0 + j : RICE_ESCAPE_QUOTIENT + varintBits(z));
      q = Math.floor(q / 2);
    }
  }
}

const windowScratch = new Float64Array(4);

/**
 * bestRiceK returns the k in [0, RICE_K_MAX] that codes zs[from .. to) in the
 * fewest bits, and that count in bitsOut[0]. It tries the four k from
 * log2(mean) − 2 (the classic estimate and its neighbours), and k = 0 as
 * well when most values are zero (sparse residuals: a few escapes make the
 * mean mislead), not all 54.
 */
export function bestRiceK(zs: Float64Array, from: number, to: number, bitsOut: Float64Array): number {
  if (to <= from) {
    bitsOut[0] = 0;
    return 0;
  }
  let sum = 0;
  let zeros = 0;
  for (let i = from; i < to; i++) {
    const z = zs[i] as number;
    sum += z;
    if (z === 0) zeros++;
  }
  const mean = sum / (to - from);
  const guess = mean < 1 ? 0 : Math.floor(Math.log2(mean));
  const k0 = Math.max(0, Math.min(RICE_K_MAX - 3, guess - 2));
  let bestK = 0;
  let best = Infinity;
  // NB: module-level scratch, stateless between calls (filled, then read, within this call).
  riceWindowBits(zs, from, to, k0, windowScratch);
  for (let j = 0; j < 4; j++) {
    if ((windowScratch[j] as number) < best) {
      best = windowScratch[j] as number;
      bestK = k0 + j;
    }
  }
  if (k0 > 0 && 2 * zeros >= to - from) {
    riceWindowBits(zs, from, to, 0, windowScratch);
    for (let j = 0; j < 2; j++) {
      if ((windowScratch[j] as number) < best) {
        best = windowScratch[j] as number;
        bestK = j;
      }
    }
  }
  bitsOut[0] = best;
  return bestK;
}

/** writeRice appends the field for z (0 <= z <= RICE_Z_MAX) with parameter k. */
export function writeRice(w: BitWriter, z: number, k: number): void {
  const p = POW2[k] as number;
  const q = Math.floor(z / p);
  if (q >= RICE_ESCAPE_QUOTIENT) {
    w.writeBits((1 << RICE_ESCAPE_QUOTIENT) - 1, RICE_ESCAPE_QUOTIENT);
    w.writeUvarint(z);
    return;
  }
  // q ones then a zero: (2^(q+1) - 2) in q + 1 bits.
  w.writeBits((1 << (q + 1)) - 2, q + 1);
  const low = z - q * p;
  if (k <= 32) {
    w.writeBits(low, k);
  } else {
    const hi = Math.floor(low / TWO_32);
    w.write64(hi, low - hi * TWO_32, k);
  }
}

/** readRice reads a field written by writeRice with the same k; ERR_CORRUPTION for a value past RICE_Z_MAX. */
export function readRice(r: BitReader, k: number): number {
  let q = 0;
  while (q < RICE_ESCAPE_QUOTIENT && r.readBit() === 1) q++;
  let z: number;
  if (q === RICE_ESCAPE_QUOTIENT) {
    z = r.readUvarint();
  } else if (k <= 32) {
    z = q * (POW2[k] as number) + r.readBits(k);
  } else {
    r.read64(k);
    z = q * (POW2[k] as number) + r.hi * TWO_32 + r.lo;
  }
  if (!(z <= RICE_Z_MAX)) throw corrupt('Rice-coded value out of range', { z });
  return z;
}

/** readRiceK reads a stored Rice parameter and bounds it. */
export function readRiceK(r: BitReader): number {
  const k = r.readBits(RICE_K_BITS);
  if (k > RICE_K_MAX) throw corrupt(`Rice parameter ${k} past ${RICE_K_MAX}`);
  return k;
}
