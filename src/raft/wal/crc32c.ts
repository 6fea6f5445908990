/**
 * crc32c.ts — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of every WAL record, table-driven slice-by-8 in pure JavaScript.
 *
 * Pure JS on purpose: the SIMD npm package (@node-rs/crc32) ships its
 * prebuilt binary through optional dependencies, which a machine without a
 * matching binary silently lacks. Slice-by-8 folds 8 bytes per step with 8
 * lookups; measured in bench/wal.ts next to the record encoder.
 */

const POLY_REFLECTED = 0x82f63b78;

/** TABLES holds 8 tables of 256 entries; table k maps a byte to its CRC shifted through k further zero bytes. */
const TABLES: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY_REFLECTED : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + i] as number;
      t[k * 256 + i] = ((prev >>> 8) ^ (t[prev & 0xff] as number)) >>> 0;
    }
  }
  return t;
})();

/** TABLES_I32 are TABLES as signed 32-bit words: the word path's lookups then stay 32-bit integer operations. */
const TABLES_I32: Int32Array = new Int32Array(TABLES.buffer, TABLES.byteOffset, TABLES.length);

/** LITTLE_ENDIAN: a Uint32Array over bytes reads them as the little-endian words the slice-by-8 step folds (else the byte path serves). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** WORDS_MIN_BYTES is the shortest run read by whole words: below it the word view costs more than it saves. */
const WORDS_MIN_BYTES = 64;

/**
 * crc32c computes the CRC-32C of `data[start, end)`. Pass a previous result
 * as `crc` to continue a checksum over several pieces:
 * crc32c(b, 0, b.length, crc32c(a)) === crc32c(a ++ b).
 *
 * A run of at least WORDS_MIN_BYTES on a little-endian machine is read
 * through an Int32Array view from its first 4-byte aligned byte (two word
 * loads a step instead of eight byte loads: ~1.5x on a 470 KB log block,
 * s21); the same tables and steps, so the same result (crc32c.test.ts
 * against the bitwise reference at every alignment).
 */
export function crc32c(data: Uint8Array, start = 0, end: number = data.length, crc = 0): number {
  if (LITTLE_ENDIAN && end - start >= WORDS_MIN_BYTES) return crc32cWords(data, start, end, crc);
  const T = TABLES;
  let c = ~crc >>> 0;
  let i = start;
  const end8 = start + ((end - start) & ~7);
  // The typed-array reads below are in bounds by construction (i < end8 <= end <= data.length,
  // table indexes < 2048), so `as number` only satisfies noUncheckedIndexedAccess.
  for (; i < end8; i += 8) {
    const a =
      (c ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24))) >>> 0;
    const b =
      ((data[i + 4] as number) | ((data[i + 5] as number) << 8) | ((data[i + 6] as number) << 16) | ((data[i + 7] as number) << 24)) >>> 0;
    c =
      (T[1792 + (a & 0xff)] as number) ^
      (T[1536 + ((a >>> 8) & 0xff)] as number) ^
      (T[1280 + ((a >>> 16) & 0xff)] as number) ^
      (T[1024 + (a >>> 24)] as number) ^
      (T[768 + (b & 0xff)] as number) ^
      (T[512 + ((b >>> 8) & 0xff)] as number) ^
      (T[256 + ((b >>> 16) & 0xff)] as number) ^
      (T[b >>> 24] as number);
  }
  for (; i < end; i++) c = (T[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** crc32cWords is crc32c's step over little-endian words: bytes one at a time up to a 4-byte aligned address, then 8 bytes a step read as two words, then the tail. */
function crc32cWords(data: Uint8Array, start: number, end: number, crc: number): number {
  const T = TABLES_I32;
  let c = ~crc;
  let i = start;
  for (; i < end && ((data.byteOffset + i) & 3) !== 0; i++) c = (T[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  const steps = (end - i) >>> 3;
  if (steps > 0) {
    const w = new Int32Array(data.buffer, data.byteOffset + i, 2 * steps);
    for (let j = 0; j < w.length; j += 2) {
      const a = c ^ (w[j] as number);
      const b = w[j + 1] as number;
      c =
        (T[1792 + (a & 0xff)] as number) ^
        (T[1536 + ((a >>> 8) & 0xff)] as number) ^
        (T[1280 + ((a >>> 16) & 0xff)] as number) ^
        (T[1024 + (a >>> 24)] as number) ^
        (T[768 + (b & 0xff)] as number) ^
        (T[512 + ((b >>> 8) & 0xff)] as number) ^
        (T[256 + ((b >>> 16) & 0xff)] as number) ^
        (T[b >>> 24] as number);
    }
    i += 8 * steps;
  }
  for (; i < end; i++) c = (T[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** crc32cBitwise is the one-bit-at-a-time reference the tests compare the table-driven version against. */
export function crc32cBitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY_REFLECTED : c >>> 1;
  }
  return ~c >>> 0;
}
