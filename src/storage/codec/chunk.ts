/**
 * chunk.ts — decoding any time-series chunk (XOR, decimal, compact XOR or
 * compact decimal, told apart by header byte 1; layouts in chunk-format.ts,
 * gorilla.ts, decimal.ts, compact-xor.ts, compact-decimal.ts), and the
 * per-chunk choice of the smallest encoding.
 *
 * ChunkIterator decodes one sample per next() into its own fields and
 * allocates nothing per sample; decodeChunk builds two columns with it.
 *
 * A chunk with CHUNK_TIMESTAMPS_EXTERNAL (chunk-format.ts) has no timestamp
 * fields: reset takes its timestamps from a column the caller decoded (the
 * metrics store's shared timestamp columns), and refuses the chunk without
 * one, or a column given for a chunk that has its own timestamps.
 *
 * Invariants (ChunkIterator): #index counts the samples produced, 0 <= #index
 * <= #count; #external is null or holds at least #externalFrom + #count
 * times; after the last sample it checks the stream's zero padding, so a
 * chunk with trailing garbage is ERR_CORRUPTION; after any throw the iterator
 * stays done until reset.
 */
import { BitReader, BitWriter, corrupt, float64FromBits, float64Hi, float64Lo } from './bits.js';
import {
  CHUNK_HEADER_BYTES,
  ChunkEncoding,
  type ChunkEncodingValue,
  TimestampDecoder,
  TimestampEncoder,
  checkChunkInput,
  CHUNK_FORMAT_VERSION,
  CHUNK_TIMESTAMPS_EXTERNAL,
  chunkEncodingOf,
  gorillaTimestampBits,
  readSampleCount,
} from './chunk-format.js';
import { CompactDecimalScratch, CompactDecimalValueDecoder, writeCompactDecimalChunk } from './compact-decimal.js';
import { CompactTimestampDecoder, CompactTimestampPlan } from './compact-timestamps.js';
import { writeCompactXorChunk } from './compact-xor.js';
import { DecimalValueDecoder } from './decimal.js';
import { XorValueDecoder, XorValueEncoder, writeXorChunk } from './gorilla.js';
import { RationalScratch, RationalValueDecoder, writeRationalChunk } from './rational.js';
import { uvarintBytes, zigzagEncode } from './varint.js';
import { CodecLimits } from '../../limits.js';
import { OtlpdbError, assert } from '../../errors.js';

/** ChunkIterator walks the samples of one chunk without allocating per sample. */
export class ChunkIterator {
  /** t is the current sample's timestamp (ms). */
  t = 0;
  /** v is the current sample's value (for a NaN, read vHi/vLo to keep its exact payload). */
  v = 0;
  /** vHi is the top 32 bits of the current value's float64 pattern. */
  vHi = 0;
  /** vLo is the bottom 32 bits of the current value's float64 pattern. */
  vLo = 0;
  /** facts is what the chunk's header proves about the values the last decodeInto wrote (value-facts.ts; 0: nothing). */
  facts = 0;
  #r: BitReader = new BitReader(new Uint8Array(0));
  #ts = new TimestampDecoder();
  #xor = new XorValueDecoder();
  #dec = new DecimalValueDecoder();
  #cts = new CompactTimestampDecoder();
  #cdec = new CompactDecimalValueDecoder();
  #rat = new RationalValueDecoder();
  #encoding: ChunkEncodingValue = ChunkEncoding.Xor;
  #count = 0;
  #index = 0;
  #external: Float64Array | null = null;
  #externalFrom = 0;

  constructor(bytes?: Uint8Array) {
    if (bytes !== undefined) this.reset(bytes);
  }

  /**
   * reset points the iterator at a chunk; it checks the header (ERR_CORRUPTION)
   * and reads the sample count. A chunk with external timestamps needs
   * `timestamps` (its times are timestamps[from .. from + count)); giving them
   * to a chunk with its own, or too few of them, is ERR_CORRUPTION.
   */
  reset(bytes: Uint8Array, timestamps?: Float64Array, from = 0): void {
    this.resetRange(bytes, 0, bytes.length, false, timestamps, from);
  }

  /**
   * resetRange is reset for the chunk in bytes[start, end), without a view
   * of it; with versionImplied the chunk is stored without its byte 0
   * (CHUNK_FORMAT_VERSION, implied by its container: a chunk block's column
   * series, chunk-block.ts), so bytes[start] is header byte 1. The same
   * checks as reset (ERR_CORRUPTION).
   */
  resetRange(bytes: Uint8Array, start: number, end: number, versionImplied: boolean, timestamps?: Float64Array, from = 0): void {
    assert(start >= 0 && start <= end && end <= bytes.length, 'ChunkIterator.resetRange: a range of bytes');
    this.#count = 0;
    this.#index = 0;
    this.#external = null;
    let h = start;
    if (versionImplied) {
      if (end - start < CHUNK_HEADER_BYTES - 1) throw corrupt('chunk shorter than its header', { bytes: end - start + 1 });
    } else {
      if (end - start < CHUNK_HEADER_BYTES) throw corrupt('chunk shorter than its header', { bytes: end - start });
      if (bytes[start] !== CHUNK_FORMAT_VERSION) throw corrupt(`unknown chunk format version ${bytes[start]}`);
      h = start + 1;
    }
    const byte1 = bytes[h] as number;
    this.#encoding = chunkEncodingOf(byte1);
    const external = (byte1 & CHUNK_TIMESTAMPS_EXTERNAL) !== 0;
    if (external !== (timestamps !== undefined)) {
      throw corrupt(external ? 'chunk without timestamps read without a timestamp column' : 'chunk with its own timestamps where a timestamp column was given');
    }
    this.#r.reset(bytes, h + 1, end);
    const count = readSampleCount(this.#r);
    if (timestamps !== undefined) {
      assert(Number.isSafeInteger(from) && from >= 0, 'ChunkIterator.reset: from is a non-negative integer');
      if (from + count > timestamps.length) throw corrupt(`chunk of ${count} samples past its timestamp column (${from} of ${timestamps.length} used)`);
      this.#external = timestamps;
      this.#externalFrom = from;
    }
    if (count === 0) this.#r.checkPadding();
    this.#count = count;
  }

  /** count is the number of samples in the chunk. */
  get count(): number {
    return this.#count;
  }

  /** encoding is the chunk's value encoding. */
  get encoding(): ChunkEncodingValue {
    return this.#encoding;
  }

  /** next decodes the next sample into t, v, vHi, vLo; false when the chunk is done. Throws ERR_CORRUPTION on bad bytes. */
  next(): boolean {
    const i = this.#index;
    if (i >= this.#count) return false;
    this.#index = this.#count; // stays done if a read below throws
    const r = this.#r;
    const enc = this.#encoding;
    const ext = this.#external;
    if (enc === ChunkEncoding.XorCompact) {
      if (i === 0) {
        this.t = ext !== null ? (ext[this.#externalFrom] as number) : this.#cts.header(r, this.#count);
        this.#xor.first(r);
      } else {
        this.t = ext !== null ? (ext[this.#externalFrom + i] as number) : this.#cts.next(r);
        this.#xor.next(r);
      }
      this.vHi = this.#xor.hi;
      this.vLo = this.#xor.lo;
      this.v = float64FromBits(this.vHi, this.vLo);
    } else if (enc === ChunkEncoding.DecimalCompact) {
      if (i === 0) {
        this.t = ext !== null ? (ext[this.#externalFrom] as number) : this.#cts.header(r, this.#count);
        this.#cdec.header(r, this.#count);
      } else {
        this.t = ext !== null ? (ext[this.#externalFrom + i] as number) : this.#cts.next(r);
        this.#cdec.next(r);
      }
      this.vHi = this.#cdec.hi;
      this.vLo = this.#cdec.lo;
      this.v = this.#cdec.value;
    } else if (enc === ChunkEncoding.Rational) {
      if (i === 0) {
        this.t = ext !== null ? (ext[this.#externalFrom] as number) : this.#cts.header(r, this.#count);
        this.#rat.header(r);
      } else {
        const prev = this.t;
        this.t = ext !== null ? (ext[this.#externalFrom + i] as number) : this.#cts.next(r);
        this.#rat.next(r, this.t - prev);
      }
      this.vHi = this.#rat.hi;
      this.vLo = this.#rat.lo;
      this.v = float64FromBits(this.vHi, this.vLo);
    } else if (enc === ChunkEncoding.Xor) {
      if (i === 0) {
        this.t = this.#ts.first(r);
        this.#xor.first(r);
      } else {
        this.t = this.#ts.next(r);
        this.#xor.next(r);
      }
      this.vHi = this.#xor.hi;
      this.vLo = this.#xor.lo;
      this.v = float64FromBits(this.vHi, this.vLo);
    } else {
      if (i === 0) {
        this.#dec.header(r, this.#count);
        this.t = this.#ts.first(r);
      } else {
        this.t = this.#ts.next(r);
        this.#dec.next(r);
      }
      this.v = this.#dec.value;
      this.vHi = float64Hi(this.v);
      this.vLo = float64Lo(this.v);
    }
    if (i + 1 === this.#count) r.checkPadding();
    this.#index = i + 1;
    return true;
  }

  /**
   * decodeInto decodes every sample of the chunk (just reset, none read yet)
   * into ts[at ..] and vs[at ..] and answers how many; vsBits is a
   * Uint32Array over vs's bytes (2 words a value), so a NaN keeps its exact
   * payload (a staleness marker). ts null writes no times: only for a chunk
   * with external timestamps, whose reader holds them already (a chunk
   * block's column). It makes next()'s checks: the same bytes are
   * ERR_CORRUPTION. A compact decimal chunk with external timestamps — the
   * metrics store's common case — is decoded in one run
   * (CompactDecimalValueDecoder.decodeRun) and its times copied in one set,
   * not sample by sample; its header's facts about the values
   * (value-facts.ts) are left in `facts` (0 for every other chunk).
   */
  decodeInto(ts: Float64Array | null, vs: Float64Array, vsBits: Uint32Array, at: number): number {
    const n = this.#count;
    assert(this.#index === 0, 'decodeInto: the chunk is read from its first sample');
    assert(Number.isSafeInteger(at) && at >= 0 && at + n <= vs.length && (ts === null || ts.length === vs.length), 'decodeInto: the columns hold the chunk');
    assert(vsBits.buffer === vs.buffer && vsBits.byteOffset === vs.byteOffset && vsBits.length === 2 * vs.length, 'decodeInto: vsBits views vs');
    const ext = this.#external;
    assert(ts !== null || ext !== null, 'decodeInto: only a chunk with external timestamps is decoded without its times');
    this.facts = 0;
    if (n === 0) return 0;
    if (ext !== null && this.#encoding === ChunkEncoding.DecimalCompact) {
      this.#index = n; // stays done if a read below throws
      const from = this.#externalFrom;
      if (ts !== null) ts.set(ext.subarray(from, from + n), at);
      this.#cdec.decodeRun(this.#r, n, vs, at);
      this.#r.checkPadding();
      this.facts = this.#cdec.runFacts;
      this.t = ext[from + n - 1] as number;
      this.v = this.#cdec.value;
      this.vHi = this.#cdec.hi;
      this.vLo = this.#cdec.lo;
      return n;
    }
    let j = at;
    while (this.next()) {
      if (ts !== null) ts[j] = this.t;
      vsBits[2 * j] = this.vLo;
      vsBits[2 * j + 1] = this.vHi;
      j++;
    }
    return j - at;
  }
}

/** DecodedChunk is a chunk as two columns. */
export interface DecodedChunk {
  readonly ts: Float64Array;
  readonly values: Float64Array;
}

/**
 * decodeChunk decodes a chunk of any encoding into columns; values keep their
 * exact bit patterns. A chunk with external timestamps takes them from
 * timestamps[from ..] (ChunkIterator.reset). Throws ERR_CORRUPTION.
 */
export function decodeChunk(bytes: Uint8Array, it: ChunkIterator = new ChunkIterator(), timestamps?: Float64Array, from = 0): DecodedChunk {
  it.reset(bytes, timestamps, from);
  const n = it.count;
  const ts = new Float64Array(n);
  const values = new Float64Array(n);
  const bits = new Uint32Array(values.buffer);
  let i = 0;
  while (it.next()) {
    ts[i] = it.t;
    bits[2 * i] = it.vLo;
    bits[2 * i + 1] = it.vHi;
    i++;
  }
  return { ts, values };
}

/**
 * SeriesEncoder encodes chunks, choosing per chunk the smallest of plain
 * Gorilla XOR, compact XOR, compact decimal and, when the values have no
 * decimal form, rational (ties go to the earlier one in that order, so a
 * chunk is never larger than plain XOR); it keeps its buffers between chunks.
 * It writes no legacy decimal chunks: compact decimal codes the same values
 * with a smaller header and cheaper timestamps.
 */
export class SeriesEncoder {
  readonly #xorWriter = new BitWriter();
  readonly #decWriter = new BitWriter();
  readonly #ratWriter = new BitWriter();
  readonly #plan = new CompactTimestampPlan();
  readonly #tsEncoder = new TimestampEncoder();
  readonly #xorValues = new XorValueEncoder();
  readonly #scratch = new CompactDecimalScratch();
  readonly #ratScratch = new RationalScratch();
  /** chunksXor counts the chunks this encoder wrote as XOR (plain or compact). */
  chunksXor = 0;
  /** chunksDecimal counts the chunks this encoder wrote as decimal (compact). */
  chunksDecimal = 0;
  /** chunksRational counts the chunks this encoder wrote as rational. */
  chunksRational = 0;

  /**
   * encodeChunk encodes one chunk with the smallest encoding. With
   * externalTimestamps the chunk leaves its timestamps out
   * (CHUNK_TIMESTAMPS_EXTERNAL: compact XOR, compact decimal or rational
   * without timestamp fields; ts still drives the rational rates) and its
   * reader must supply the same ts. Throws ERR_INVALID_ARGUMENT or
   * ERR_LIMIT_EXCEEDED like encodeChunk.
   */
  encodeChunk(ts: ArrayLike<number>, values: Float64Array, externalTimestamps = false): Uint8Array {
    checkChunkInput(ts, values);
    if (externalTimestamps) this.#plan.planExternal();
    else this.#plan.plan(ts);
    const n = ts.length;
    // External timestamps: plain XOR (which always codes its own) is out; compact XOR codes none.
    const plainTsBits = externalTimestamps ? Infinity : gorillaTimestampBits(ts);
    const compactTsBits = n === 0 || externalTimestamps ? 0 : 8 * uvarintBytes(zigzagEncode(ts[0] as number)) + this.#plan.bits;
    const decimal = writeCompactDecimalChunk(ts, values, this.#plan, this.#decWriter, this.#scratch);
    // An XOR chunk holds at least its header, timestamps, v0's 64 bits and one bit per later value:
    // a decimal chunk no longer than that wins without writing the XOR one.
    const xorBitsMin = 16 + 8 * uvarintBytes(n) + Math.min(plainTsBits, compactTsBits) + (n === 0 ? 0 : 64 + n - 1);
    if (decimal && this.#decWriter.byteLength * 8 <= xorBitsMin) {
      this.chunksDecimal++;
      return this.#decWriter.finish();
    }
    // Plain and compact XOR share their value fields: compare the timestamp fields alone, write one.
    const xw = this.#xorWriter;
    if (compactTsBits < plainTsBits) writeCompactXorChunk(ts, values, this.#plan, xw, this.#xorValues);
    else writeXorChunk(ts, values, xw, this.#tsEncoder, this.#xorValues);
    let best = xw;
    if (decimal) {
      if (this.#decWriter.byteLength < best.byteLength) best = this.#decWriter;
    } else if (writeRationalChunk(ts, values, this.#plan, this.#ratWriter, this.#ratScratch)) {
      // Ratios have no short decimal; a chunk with one has no use for this (slower) path.
      if (this.#ratWriter.byteLength < best.byteLength) best = this.#ratWriter;
    }
    if (best === xw) this.chunksXor++;
    else if (decimal) this.chunksDecimal++;
    else this.chunksRational++;
    return best.finish();
  }
}

/**
 * encodeSeries cuts a series into chunks of samplesPerChunk samples and
 * encodes each with the smallest encoding (SeriesEncoder; header byte 1 says which).
 */
export function encodeSeries(
  ts: ArrayLike<number>,
  values: Float64Array,
  samplesPerChunk: number = CodecLimits.chunkSamplesDefault,
  enc: SeriesEncoder = new SeriesEncoder(),
): Uint8Array[] {
  if (!(Number.isSafeInteger(samplesPerChunk) && samplesPerChunk >= 1 && samplesPerChunk <= CodecLimits.chunkSamplesMax)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `codec: samplesPerChunk must be in [1, ${CodecLimits.chunkSamplesMax}]`);
  }
  if (ts.length !== values.length) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `codec: ${ts.length} timestamps but ${values.length} values`);
  }
  const chunks: Uint8Array[] = [];
  const tsCol = ts instanceof Float64Array ? ts : Float64Array.from(ts);
  for (let start = 0; start < values.length; start += samplesPerChunk) {
    const end = Math.min(values.length, start + samplesPerChunk);
    chunks.push(enc.encodeChunk(tsCol.subarray(start, end), values.subarray(start, end)));
  }
  return chunks;
}
