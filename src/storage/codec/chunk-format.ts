/**
 * chunk-format.ts — what every time-series chunk shares: its two header bytes
 * and the Gorilla delta-of-delta coding of its timestamps.
 *
 * Chunk header (both encodings):
 *
 *   byte 0: format version (CHUNK_FORMAT_VERSION = 1)
 *   byte 1: encoding (ChunkEncoding.Xor = 0, Decimal = 1, XorCompact = 2,
 *           DecimalCompact = 3, Rational = 4), OR-ed with
 *           CHUNK_TIMESTAMPS_EXTERNAL (0x80) when the chunk carries no
 *           timestamp fields at all (only with 2, 3 and 4): its reader
 *           supplies them from a shared timestamp column (timestamp-column.ts,
 *           the metrics store's chunk blocks)
 *   byte 2..: a bit stream (bits.ts order: MSB first), drawn in gorilla.ts,
 *             decimal.ts, compact-xor.ts, compact-decimal.ts and rational.ts
 *
 * Encodings 0 and 1 code timestamps as below; 2, 3 and 4 use the compact
 * timestamps of compact-timestamps.ts. All of them stay decodable forever.
 *
 * Timestamps (integer ms, |t| <= CodecLimits.timestampMsAbsMax) inside the bit stream:
 *
 *   t0:              64 bits, two's complement
 *   t1:              uvarint(zigzag(t1 - t0)) as 8-bit groups (a scrape interval costs 2-3 bytes, not 68 bits)
 *   t_i, i >= 2:     dod = (t_i - t_{i-1}) - (t_{i-1} - t_{i-2})
 *     '0'                       dod = 0
 *     '10'   + 7 bits           dod in [-63, 64]       (two's complement in the field)
 *     '110'  + 9 bits           dod in [-255, 256]
 *     '1110' + 12 bits          dod in [-2047, 2048]
 *     '1111' + 64 bits          any other dod          (two's complement)
 *
 * The decoder re-checks every bound the encoder guarantees (|dod| <= 4 ×
 * timestampMsAbsMax, |delta| <= 2 ×, |t| <= 1 ×) so that every sum stays an
 * exact double and corrupt bytes become ERR_CORRUPTION, never garbage times.
 */
import { OtlpdbError } from '../../errors.js';
import { CodecLimits } from '../../limits.js';
import { type BitReader, type BitWriter, TWO_32, corrupt } from './bits.js';
import { uvarintBytes, zigzagDecode, zigzagEncode } from './varint.js';

/** CHUNK_FORMAT_VERSION is byte 0 of every chunk; a decoder refuses any other value. */
export const CHUNK_FORMAT_VERSION = 1;

/** ChunkEncoding is byte 1 of every chunk: how its values are coded. */
export const ChunkEncoding = {
  /** Xor is Gorilla's XOR of successive float64 bit patterns (gorilla.ts). */
  Xor: 0,
  /** Decimal is values scaled by 10^digits to integers, delta or delta-of-delta coded and bit-packed (decimal.ts). */
  Decimal: 1,
  /** XorCompact is Gorilla XOR values with compact (grid or delta, Rice-coded jitter) timestamps (compact-xor.ts). */
  XorCompact: 2,
  /** DecimalCompact is scaled-integer values with per-chunk order, coding and ulp fix-ups, and compact timestamps (compact-decimal.ts). */
  DecimalCompact: 3,
  /** Rational is values that are exact small ratios p/q (utilizations), with compact timestamps (rational.ts). */
  Rational: 4,
} as const;

/**
 * CHUNK_TIMESTAMPS_EXTERNAL is the flag bit of header byte 1 that says the
 * chunk has no timestamp fields: the compact layout with the timestamp header
 * and every jitter field left out. Only the compact encodings (XorCompact,
 * DecimalCompact, Rational) take it; ChunkIterator.reset must then be given
 * the timestamps, and refuses such a chunk without them (ERR_CORRUPTION).
 */
export const CHUNK_TIMESTAMPS_EXTERNAL = 0x80;

/** ChunkEncodingValue is one of the ChunkEncoding numbers. */
export type ChunkEncodingValue = (typeof ChunkEncoding)[keyof typeof ChunkEncoding];

/** CHUNK_HEADER_BYTES is the length of the byte header before the bit stream. */
export const CHUNK_HEADER_BYTES = 2;

const TS_MAX = CodecLimits.timestampMsAbsMax;

/** checkChunkInput validates the arguments of a chunk encoder (ERR_INVALID_ARGUMENT, ERR_LIMIT_EXCEEDED). */
export function checkChunkInput(ts: ArrayLike<number>, values: Float64Array): void {
  if (ts.length !== values.length) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `codec: ${ts.length} timestamps but ${values.length} values`);
  }
  if (ts.length > CodecLimits.chunkSamplesMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `codec: ${ts.length} samples in one chunk, past ${CodecLimits.chunkSamplesMax}`, {
      samples: ts.length,
      samplesMax: CodecLimits.chunkSamplesMax,
    });
  }
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i] as number;
    if (!(Number.isInteger(t) && t <= TS_MAX && t >= -TS_MAX)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `codec: timestamp ${i} (${t}) is not an integer within ±2^50 ms`, { index: i });
    }
  }
}

/** write64Signed appends a safe integer as a 64-bit two's complement field. */
export function write64Signed(w: BitWriter, v: number): void {
  const hi = Math.floor(v / TWO_32);
  w.write64(hi, v - hi * TWO_32, 64);
}

/** read64Signed reads a 64-bit two's complement field as a number (exact when |v| <= 2^53). */
export function read64Signed(r: BitReader): number {
  r.read64(64);
  return (r.hi | 0) * TWO_32 + r.lo;
}

/** writeDod appends one timestamp delta-of-delta in its Gorilla bucket. */
export function writeDod(w: BitWriter, dod: number): void {
  if (dod === 0) {
    w.writeBits(0, 1);
  } else if (dod >= -63 && dod <= 64) {
    w.writeBits(0b10, 2);
    w.writeBits(dod, 7);
  } else if (dod >= -255 && dod <= 256) {
    w.writeBits(0b110, 3);
    w.writeBits(dod, 9);
  } else if (dod >= -2047 && dod <= 2048) {
    w.writeBits(0b1110, 4);
    w.writeBits(dod, 12);
  } else {
    w.writeBits(0b1111, 4);
    write64Signed(w, dod);
  }
}

/** readDod reads one delta-of-delta written by writeDod. */
export function readDod(r: BitReader): number {
  if (r.readBit() === 0) return 0;
  // The prefix is a unary count of 1 bits (at most 4) after the first 1.
  let ones = 1;
  while (ones < 4 && r.readBit() === 1) ones++;
  if (ones === 4) {
    const dod = read64Signed(r);
    if (!(dod <= 4 * TS_MAX && dod >= -4 * TS_MAX)) throw corrupt('timestamp delta-of-delta out of range');
    return dod;
  }
  const n = ones === 1 ? 7 : ones === 2 ? 9 : 12;
  const v = r.readBits(n);
  const half = 1 << (n - 1);
  return v > half ? v - 2 * half : v;
}

/** dodBits is the length of writeDod's field for dod. */
function dodBits(dod: number): number {
  if (dod === 0) return 1;
  if (dod >= -63 && dod <= 64) return 9;
  if (dod >= -255 && dod <= 256) return 12;
  if (dod >= -2047 && dod <= 2048) return 16;
  return 68;
}

/** gorillaTimestampBits is the exact bit count of TimestampEncoder's fields for ts (t0 included), without writing them. */
export function gorillaTimestampBits(ts: ArrayLike<number>): number {
  const n = ts.length;
  if (n === 0) return 0;
  let bits = 64;
  if (n < 2) return bits;
  let delta = (ts[1] as number) - (ts[0] as number);
  bits += 8 * uvarintBytes(zigzagEncode(delta));
  for (let i = 2; i < n; i++) {
    const d = (ts[i] as number) - (ts[i - 1] as number);
    bits += dodBits(d - delta);
    delta = d;
  }
  return bits;
}

/** TimestampDecoder turns the timestamp fields of a chunk back into times, one at a time, without allocating. */
export class TimestampDecoder {
  #t = 0;
  #delta = 0;
  #first = true;

  /** first reads t0. */
  first(r: BitReader): number {
    const t = read64Signed(r);
    if (!(t <= TS_MAX && t >= -TS_MAX)) throw corrupt('first timestamp out of range', { t });
    this.#t = t;
    this.#delta = 0;
    this.#first = true;
    return t;
  }

  /** next reads the first delta or one delta-of-delta and returns the next time. */
  next(r: BitReader): number {
    const delta = this.#first ? zigzagDecode(r.readUvarint()) : this.#delta + readDod(r);
    this.#first = false;
    if (!(delta <= 2 * TS_MAX && delta >= -2 * TS_MAX)) throw corrupt('timestamp delta out of range');
    const t = this.#t + delta;
    if (!(t <= TS_MAX && t >= -TS_MAX)) throw corrupt('timestamp out of range', { t });
    this.#delta = delta;
    this.#t = t;
    return t;
  }
}

/** TimestampEncoder writes a chunk's timestamps, one at a time. */
export class TimestampEncoder {
  #t = 0;
  #delta = 0;
  #first = true;

  /** first writes t0. */
  first(w: BitWriter, t: number): void {
    write64Signed(w, t);
    this.#t = t;
    this.#delta = 0;
    this.#first = true;
  }

  /** next writes the first delta, then the delta-of-delta, of t. */
  next(w: BitWriter, t: number): void {
    const delta = t - this.#t;
    if (this.#first) w.writeUvarint(zigzagEncode(delta));
    else writeDod(w, delta - this.#delta);
    this.#first = false;
    this.#delta = delta;
    this.#t = t;
  }
}

/** readChunkHeader checks bytes 0 and 1 and returns the encoding (without the CHUNK_TIMESTAMPS_EXTERNAL flag; chunkTimestampsExternal reads that). */
export function readChunkHeader(bytes: Uint8Array): ChunkEncodingValue {
  if (bytes.length < CHUNK_HEADER_BYTES) throw corrupt('chunk shorter than its header', { bytes: bytes.length });
  if (bytes[0] !== CHUNK_FORMAT_VERSION) throw corrupt(`unknown chunk format version ${bytes[0]}`);
  return chunkEncodingOf(bytes[1] as number);
}

/** chunkEncodingOf checks a chunk's header byte 1 (encoding and CHUNK_TIMESTAMPS_EXTERNAL) and answers the encoding; ERR_CORRUPTION when unknown. */
export function chunkEncodingOf(byte1: number): ChunkEncodingValue {
  const enc = byte1 & ~CHUNK_TIMESTAMPS_EXTERNAL;
  if ((byte1 & CHUNK_TIMESTAMPS_EXTERNAL) !== 0 && enc !== ChunkEncoding.XorCompact && enc !== ChunkEncoding.DecimalCompact && enc !== ChunkEncoding.Rational) {
    throw corrupt(`chunk encoding ${enc} cannot have external timestamps`);
  }
  if (
    enc !== ChunkEncoding.Xor &&
    enc !== ChunkEncoding.Decimal &&
    enc !== ChunkEncoding.XorCompact &&
    enc !== ChunkEncoding.DecimalCompact &&
    enc !== ChunkEncoding.Rational
  ) {
    throw corrupt(`unknown chunk encoding ${enc}`);
  }
  return enc;
}

/** chunkTimestampsExternal says whether a chunk (header already checked by readChunkHeader) leaves its timestamps to its reader. */
export function chunkTimestampsExternal(bytes: Uint8Array): boolean {
  return ((bytes[1] as number) & CHUNK_TIMESTAMPS_EXTERNAL) !== 0;
}

/** readSampleCount reads the sample count at the start of the bit stream and bounds it. */
export function readSampleCount(r: BitReader): number {
  const n = r.readUvarint();
  if (n > CodecLimits.chunkSamplesMax) throw corrupt(`chunk claims ${n} samples, past ${CodecLimits.chunkSamplesMax}`);
  return n;
}
