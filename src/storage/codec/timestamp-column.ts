/**
 * timestamp-column.ts — one column of strictly increasing timestamps, stored
 * once and shared by every chunk whose samples have exactly these times (the
 * metrics store's chunk blocks, store-format.ts: 88 of the 90 series of a
 * real Node.js capture were scraped together and have identical times).
 *
 * The column is cut into pieces of `pieceSamples` times (the store uses its
 * chunk size, so piece j holds the times of every sharing series' chunk j),
 * each coded like the timestamps of a compact chunk (compact-timestamps.ts),
 * with the piece's t0 relative to the previous piece's last time:
 *
 *   bit stream (MSB first, zero-padded to a byte):
 *     uvarint(count)                         1 <= count <= CodecLimits.timestampColumnSamplesMax
 *     uvarint(pieceSamples)                  1 <= pieceSamples <= CodecLimits.chunkSamplesMax
 *     per piece p (ceil(count / pieceSamples) pieces, the last may be short):
 *       uvarint(zigzag(t0 − base))           base = 0 for the first piece, else the last time of piece p − 1
 *       if the piece has >= 2 times:
 *         1 bit mode | uvarint(zigzag(I)) | 6 bits k      (compact-timestamps.ts)
 *         per time i >= 1: Rice(zigzag(e_i), k)           (absent when k = TIMESTAMP_K_EXACT)
 *
 * The decoder bounds the count and the piece size before allocating (one
 * Float64Array of count), bounds every time like a chunk does, checks that
 * the times strictly increase (a store column always does) and that the
 * padding is zero, so damaged bytes are ERR_CORRUPTION, never wrong times.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { CodecLimits } from '../../limits.js';
import { BitReader, BitWriter, corrupt } from './bits.js';
import { CompactTimestampDecoder, CompactTimestampPlan } from './compact-timestamps.js';

const TS_MAX = CodecLimits.timestampMsAbsMax;

/**
 * TimestampColumnEncoder writes timestamp columns; it keeps its plan and
 * writer between columns (one per flush is enough).
 */
export class TimestampColumnEncoder {
  readonly #plan = new CompactTimestampPlan();
  readonly #w = new BitWriter();

  /**
   * encode writes `ts` (strictly increasing integers within
   * ±timestampMsAbsMax, 1 to timestampColumnSamplesMax of them) in pieces of
   * pieceSamples. Throws ERR_INVALID_ARGUMENT or ERR_LIMIT_EXCEEDED on bad input.
   */
  encode(ts: Float64Array, pieceSamples: number): Uint8Array {
    const n = ts.length;
    if (!(Number.isSafeInteger(pieceSamples) && pieceSamples >= 1 && pieceSamples <= CodecLimits.chunkSamplesMax)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `timestamp column: pieceSamples must be in [1, ${CodecLimits.chunkSamplesMax}]`);
    }
    if (n < 1 || n > CodecLimits.timestampColumnSamplesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `timestamp column of ${n} times, outside [1, ${CodecLimits.timestampColumnSamplesMax}]`, {
        samples: n,
        samplesMax: CodecLimits.timestampColumnSamplesMax,
      });
    }
    for (let i = 0; i < n; i++) {
      const t = ts[i] as number;
      if (!(Number.isInteger(t) && t <= TS_MAX && t >= -TS_MAX)) {
        throw new OtlpdbError('ERR_INVALID_ARGUMENT', `timestamp column: time ${i} (${t}) is not an integer within ±2^50 ms`, { index: i });
      }
      if (i > 0 && !(t > (ts[i - 1] as number))) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `timestamp column: time ${i} does not increase`, { index: i });
    }
    const w = this.#w;
    w.reset();
    w.writeUvarint(n);
    w.writeUvarint(pieceSamples);
    let base = 0;
    for (let from = 0; from < n; from += pieceSamples) {
      const piece = ts.subarray(from, Math.min(n, from + pieceSamples));
      this.#plan.plan(piece);
      this.#plan.writeHeader(w, piece, base);
      for (let i = 1; i < piece.length; i++) this.#plan.writeSample(w, i);
      base = piece[piece.length - 1] as number;
    }
    return w.finish();
  }
}

/** TimestampColumnShape is what a column's first two fields say: its times and its piece size. */
export interface TimestampColumnShape {
  readonly count: number;
  readonly pieceSamples: number;
}

/** timestampColumnShape reads and bounds a column's count and piece size without decoding its times. Throws ERR_CORRUPTION. */
export function timestampColumnShape(bytes: Uint8Array): TimestampColumnShape {
  const r = new BitReader(bytes);
  const count = r.readUvarint();
  if (count < 1 || count > CodecLimits.timestampColumnSamplesMax) throw corrupt(`timestamp column claims ${count} times`);
  const pieceSamples = r.readUvarint();
  if (pieceSamples < 1 || pieceSamples > CodecLimits.chunkSamplesMax) throw corrupt(`timestamp column pieces of ${pieceSamples} times`);
  return { count, pieceSamples };
}

/** TimestampColumnDecoder reads columns written by TimestampColumnEncoder. */
export class TimestampColumnDecoder {
  readonly #r = new BitReader(new Uint8Array(0));
  readonly #cts = new CompactTimestampDecoder();

  /** decode reads a whole column (a new Float64Array). Throws ERR_CORRUPTION on damaged bytes. */
  decode(bytes: Uint8Array): Float64Array {
    const r = this.#r;
    r.reset(bytes);
    const n = r.readUvarint();
    if (n < 1 || n > CodecLimits.timestampColumnSamplesMax) throw corrupt(`timestamp column claims ${n} times`);
    const pieceSamples = r.readUvarint();
    if (pieceSamples < 1 || pieceSamples > CodecLimits.chunkSamplesMax) throw corrupt(`timestamp column pieces of ${pieceSamples} times`);
    const out = new Float64Array(n);
    let base = 0;
    for (let from = 0; from < n; from += pieceSamples) {
      const count = Math.min(pieceSamples, n - from);
      let t = this.#cts.header(r, count, base);
      out[from] = t;
      for (let i = 1; i < count; i++) {
        t = this.#cts.next(r);
        out[from + i] = t;
      }
      base = t;
    }
    for (let i = 1; i < n; i++) if (!((out[i] as number) > (out[i - 1] as number))) throw corrupt(`timestamp column: time ${i} does not increase`);
    r.checkPadding();
    assert(out.length === n, 'timestamp column: one time per count');
    return out;
  }
}
