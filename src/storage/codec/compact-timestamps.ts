/**
 * compact-timestamps.ts — the timestamps of the compact chunk encodings
 * (compact.ts): a varint first time, one interval for the chunk, and per
 * sample the Rice-coded jitter against a regular grid or against the
 * previous time plus the interval, whichever is smaller for the chunk.
 *
 * Gorilla's delta-of-delta (chunk-format.ts) pays 9 bits for every ±1..63 ms
 * of scrape jitter and sees each late sample twice (late, then early again);
 * a real 1 s capture jitters by ±2 ms on most samples, so its timestamps cost
 * ~8 bits each. Against a grid the same jitter costs ~2 bits.
 *
 * Layout (inside the bit stream, after the sample count; count >= 1):
 *
 *   uvarint(zigzag(t0))                    8-bit groups
 *   if count >= 2:
 *     1 bit  mode                          0: grid   t_i = t0 + i·I + e_i
 *                                          1: delta  t_i = t_{i−1} + I + e_i
 *     uvarint(zigzag(I))                   the interval, ms
 *     6 bits k                             Rice parameter (rice.ts), <= 53, or
 *                                          TIMESTAMP_K_EXACT (63): every e_i = 0, no fields
 *   per sample i >= 1 (interleaved with the values, see compact-xor.ts, compact-decimal.ts):
 *     Rice(zigzag(e_i), k)                 (absent when k = TIMESTAMP_K_EXACT)
 *
 * External timestamps (planExternal): the chunk's header byte 1 carries
 * CHUNK_TIMESTAMPS_EXTERNAL and none of the fields above is written; the
 * reader supplies the timestamps (a shared column, timestamp-column.ts).
 *
 * A timestamp column (timestamp-column.ts) writes t0 relative to a base (the
 * previous piece's last time): uvarint(zigzag(t0 − base)); chunks use base 0.
 *
 * The encoder takes I = round((t_{n−1} − t0) / (n − 1)) for the grid and the
 * median delta for delta mode; it never picks
 * delta mode when a zigzagged e_i would pass RICE_Z_MAX (grid residuals stay
 * under 2^52). The decoder bounds
 * |t0| <= timestampMsAbsMax, |I| <= 2×, the grid point |t0 + i·I| <= 4× and
 * every t_i <= 1× that limit, so every sum is an exact double and damage is
 * ERR_CORRUPTION.
 */
import { assert } from '../../errors.js';
import { CodecLimits } from '../../limits.js';
import { type BitReader, type BitWriter, corrupt } from './bits.js';
import { CHUNK_TIMESTAMPS_EXTERNAL } from './chunk-format.js';
import { RICE_K_BITS, RICE_K_MAX, RICE_Z_MAX, bestRiceK, readRice, writeRice } from './rice.js';
import { uvarintBytes, zigzagDecode, zigzagEncode } from './varint.js';

/** zigzagFast is zigzagEncode without its argument check, for hot loops over values already bounded by |n| <= 2^52. */
function zigzagFast(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

const TS_MAX = CodecLimits.timestampMsAbsMax;

/** TIMESTAMP_K_EXACT in the k field says every timestamp sits exactly on its grid or interval: no per-sample fields at all. */
export const TIMESTAMP_K_EXACT = 63;

/** TimestampMode says what the per-sample jitter is measured against. */
export const TimestampMode = {
  /** Grid: e_i = t_i − (t0 + i·I); right for scrapes that jitter around a fixed schedule. */
  Grid: 0,
  /** Delta: e_i = (t_i − t_{i−1}) − I; right for clocks that drift. */
  Delta: 1,
} as const;

/**
 * CompactTimestampPlan is the cheapest coding of one chunk's timestamps,
 * computed once per chunk and shared by every value encoding of that chunk.
 * Invariant: zs[1 .. n) hold the zigzagged jitter of the chosen mode; bits is
 * the exact bit count of the fields after t0.
 */
export class CompactTimestampPlan {
  /** external is true after planExternal: no timestamp fields at all, and writers set CHUNK_TIMESTAMPS_EXTERNAL. */
  external = false;
  mode: number = TimestampMode.Grid;
  intervalMs = 0;
  k = 0;
  bits = 0;
  zs = new Float64Array(CodecLimits.chunkSamplesDefault);
  #other = new Float64Array(CodecLimits.chunkSamplesDefault);
  #sorted = new Float64Array(CodecLimits.chunkSamplesDefault);
  readonly #bitsOut = new Float64Array(1);

  /**
   * planExternal plans a chunk whose timestamps live outside it (a shared
   * column): bits = 0, writeHeader and writeSample write nothing, and
   * encodingFlags is CHUNK_TIMESTAMPS_EXTERNAL.
   */
  planExternal(): void {
    this.external = true;
    this.mode = TimestampMode.Grid;
    this.intervalMs = 0;
    this.k = 0;
    this.bits = 0;
  }

  /** encodingFlags are the bits a chunk writer ORs into header byte 1 (CHUNK_TIMESTAMPS_EXTERNAL or 0). */
  get encodingFlags(): number {
    return this.external ? CHUNK_TIMESTAMPS_EXTERNAL : 0;
  }

  /** plan picks the mode and Rice parameter for ts (integers within ±timestampMsAbsMax, checked by the caller). */
  plan(ts: ArrayLike<number>): void {
    this.external = false;
    const n = ts.length;
    if (this.zs.length < n) {
      this.zs = new Float64Array(n);
      this.#other = new Float64Array(n);
      this.#sorted = new Float64Array(n);
    }
    this.mode = TimestampMode.Grid;
    this.intervalMs = 0;
    this.k = 0;
    this.bits = 0;
    if (n < 2) return;
    const t0 = ts[0] as number;
    // The grid's interval is the mean slope; the delta mode's is the median delta, so that a
    // drifting clock whose drift does not sum to zero still codes most deltas as 0.
    const interval = Math.round(((ts[n - 1] as number) - t0) / (n - 1));
    assert(Math.abs(interval) <= 2 * TS_MAX, 'timestamp interval within 2 × timestampMsAbsMax');
    const sorted = this.#sorted.subarray(0, n - 1);
    for (let i = 1; i < n; i++) sorted[i - 1] = (ts[i] as number) - (ts[i - 1] as number);
    sorted.sort();
    const deltaInterval = sorted[(n - 1) >> 1] as number;
    const grid = this.zs;
    const delta = this.#other;
    let g = t0;
    let gridMax = 0;
    let deltaMax = 0;
    for (let i = 1; i < n; i++) {
      const t = ts[i] as number;
      g += interval;
      const zg = zigzagFast(t - g);
      const zd = zigzagFast(t - (ts[i - 1] as number) - deltaInterval);
      grid[i] = zg;
      delta[i] = zd;
      if (zg > gridMax) gridMax = zg;
      if (zd > deltaMax) deltaMax = zd;
    }
    assert(gridMax <= RICE_Z_MAX, 'grid residuals stay under 2^52');
    const headerGrid = 1 + 8 * uvarintBytes(zigzagEncode(interval)) + RICE_K_BITS;
    const headerDelta = 1 + 8 * uvarintBytes(zigzagEncode(deltaInterval)) + RICE_K_BITS;
    if (gridMax === 0) {
      // Exactly regular: no per-sample fields.
      this.intervalMs = interval;
      this.k = TIMESTAMP_K_EXACT;
      this.bits = headerGrid;
      return;
    }
    if (deltaMax === 0) {
      this.mode = TimestampMode.Delta;
      this.intervalMs = deltaInterval;
      this.k = TIMESTAMP_K_EXACT;
      this.bits = headerDelta;
      this.zs = delta;
      this.#other = grid;
      return;
    }
    const kGrid = bestRiceK(grid, 1, n, this.#bitsOut);
    const bitsGrid = this.#bitsOut[0] as number;
    const kDelta = deltaMax <= RICE_Z_MAX ? bestRiceK(delta, 1, n, this.#bitsOut) : 0;
    const bitsDelta = deltaMax <= RICE_Z_MAX ? (this.#bitsOut[0] as number) : Infinity;
    if (headerDelta + bitsDelta < headerGrid + bitsGrid) {
      this.mode = TimestampMode.Delta;
      this.intervalMs = deltaInterval;
      this.k = kDelta;
      this.bits = headerDelta + bitsDelta;
      this.zs = delta;
      this.#other = grid;
    } else {
      this.intervalMs = interval;
      this.k = kGrid;
      this.bits = headerGrid + bitsGrid;
    }
  }

  /** writeHeader writes t0 (as t0 − baseMs) and, for two or more samples, mode, interval and k; nothing when external. */
  writeHeader(w: BitWriter, ts: ArrayLike<number>, baseMs = 0): void {
    if (this.external) return;
    w.writeUvarint(zigzagEncode((ts[0] as number) - baseMs));
    if (ts.length < 2) return;
    w.writeBits(this.mode, 1);
    w.writeUvarint(zigzagEncode(this.intervalMs));
    w.writeBits(this.k, RICE_K_BITS);
  }

  /** writeSample writes the jitter field of sample i >= 1. */
  writeSample(w: BitWriter, i: number): void {
    if (!this.external && this.k !== TIMESTAMP_K_EXACT) writeRice(w, this.zs[i] as number, this.k);
  }
}

/** CompactTimestampDecoder reads the timestamps written by CompactTimestampPlan, one at a time, without allocating. */
export class CompactTimestampDecoder {
  #t = 0;
  #grid = 0;
  #interval = 0;
  #mode = 0;
  #k = 0;

  /** header reads t0 (stored as t0 − baseMs) and (count >= 2) the mode, interval and k; it returns t0. */
  header(r: BitReader, count: number, baseMs = 0): number {
    const d0 = zigzagDecode(r.readUvarint());
    if (!(d0 <= 2 * TS_MAX && d0 >= -2 * TS_MAX)) throw corrupt('first timestamp out of range', { d: d0 });
    const t0 = baseMs + d0;
    if (!(t0 <= TS_MAX && t0 >= -TS_MAX)) throw corrupt('first timestamp out of range', { t: t0 });
    this.#t = t0;
    this.#grid = t0;
    this.#interval = 0;
    this.#mode = 0;
    this.#k = 0;
    if (count >= 2) {
      this.#mode = r.readBits(1);
      const interval = zigzagDecode(r.readUvarint());
      if (!(interval <= 2 * TS_MAX && interval >= -2 * TS_MAX)) throw corrupt('timestamp interval out of range');
      this.#interval = interval;
      const k = r.readBits(RICE_K_BITS);
      if (k > RICE_K_MAX && k !== TIMESTAMP_K_EXACT) throw corrupt(`timestamp Rice parameter ${k}`);
      this.#k = k;
    }
    return t0;
  }

  /** next reads one jitter field and returns the next time. */
  next(r: BitReader): number {
    const e = this.#k === TIMESTAMP_K_EXACT ? 0 : zigzagDecode(readRice(r, this.#k));
    let t: number;
    if (this.#mode === TimestampMode.Grid) {
      const g = this.#grid + this.#interval;
      if (!(g <= 4 * TS_MAX && g >= -4 * TS_MAX)) throw corrupt('timestamp grid out of range');
      this.#grid = g;
      t = g + e;
    } else {
      t = this.#t + this.#interval + e;
    }
    if (!(t <= TS_MAX && t >= -TS_MAX)) throw corrupt('timestamp out of range', { t });
    this.#t = t;
    return t;
  }
}
