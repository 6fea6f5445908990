/**
 * head.ts — the in-memory metrics head of one shard replica: float samples
 * appended per series into an open buffer, cut into an encoded chunk
 * (SeriesEncoder: Gorilla XOR or decimal, whichever is smaller) every
 * CodecLimits.chunkSamplesDefault samples, plus the series registry and the
 * label index. Pure and deterministic: no I/O, no clock; every time comes from
 * a sample, so replicas applying the same entries hold identical heads and
 * refuse identical samples.
 *
 * Append rules (Prometheus TSDB head rules, per series):
 * - timestamp < the series' last timestamp → refused, "out of order sample";
 * - timestamp == last and the value's float64 bits equal the last value's →
 *   accepted and ignored (outcome Unchanged), as Prometheus does for a
 *   resent scrape; with different bits → refused, "duplicate sample for
 *   timestamp" (Prometheus ErrDuplicateSampleForTimestamp);
 * - a timestamp must be an integer with |t| <= CodecLimits.timestampMsAbsMax;
 * - any float64 value is accepted, NaN payloads (staleness markers) kept.
 * Refusals are per-sample outcomes, never throws; a batch reports counts by
 * reason and the first refusal's OtlpdbError.
 *
 * Memory accounting (`bytes`, deterministic, from data only):
 *   encoded chunk bytes + chunkOverheadBytes per chunk
 *   + 16 bytes × open-buffer capacity (samples; it grows 8, 16, … up to the chunk
 *     size, and shrinks back to 8 when the buffer is cut into a chunk)
 *   + series key bytes + seriesOverheadBytes per series
 *   + postingOverheadBytes per posting + labelValueOverheadBytes per new label pair.
 * Before a sample is accepted, the head refuses it with outcome HeadFull
 * (ERR_UNAVAILABLE: retryable, "head full, flush needed") when bytes plus the
 * sample's growth (a new series' index cost, an open-buffer growth) would pass
 * headBytesMax. ERR_UNAVAILABLE rather than ERR_RATE_LIMITED: the condition
 * is the shard's, not a tenant's rate, it ends with a flush, and OTLP clients
 * retry UNAVAILABLE/503 unconditionally.
 *
 * Invariants: bytes <= headBytesMax + the bytes of one chunk (a chunk cut is
 * not refused; its encoded size is known only after encoding); per series,
 * timestamps across chunks then the open buffer are strictly increasing;
 * every sealed chunk holds exactly chunkSamples samples; 0 <= openN < chunkSamples
 * after every append.
 */
import { CodecLimits, MetricHeadLimits } from '../../limits.js';
import { type ErrorCode, OtlpdbError, assert } from '../../errors.js';
import { ChunkIterator, SeriesEncoder } from '../codec/index.js';
import { LabelIndex, type Matcher } from './label-index.js';
import { type Labels, PREPARE_NEW, PREPARE_REFUSED, type SeriesHasher, type SeriesInfo, SeriesRegistry } from './series-registry.js';

/** AppendOutcome is the result of appending one sample. */
export const AppendOutcome = {
  /** Appended: the sample is stored. */
  Appended: 0,
  /** Unchanged: same timestamp and same value bits as the series' last sample; ignored, not an error. */
  Unchanged: 1,
  /** OutOfOrder: older than the series' last sample. */
  OutOfOrder: 2,
  /** DuplicateTimestamp: same timestamp as the last sample, different value. */
  DuplicateTimestamp: 3,
  /** InvalidSample: the timestamp is not an integer within ±timestampMsAbsMax. */
  InvalidSample: 4,
  /** InvalidSeries: the tenant, metric name or labels are malformed. */
  InvalidSeries: 5,
  /** SeriesTooLarge: a name, value, label count or key is past its bound. */
  SeriesTooLarge: 6,
  /** SeriesLimit: the sample would create a series past seriesMax. */
  SeriesLimit: 7,
  /** HeadFull: the head's bytes are at headBytesMax; retry after a flush. */
  HeadFull: 8,
} as const;

/** AppendOutcomeValue is one AppendOutcome. */
export type AppendOutcomeValue = (typeof AppendOutcome)[keyof typeof AppendOutcome];

/** AppendOutcomeName is the name of one AppendOutcome. */
export type AppendOutcomeName = keyof typeof AppendOutcome;

/** AppendOutcomeInfo is the error code (null when accepted) and the Prometheus-like reason of each outcome. */
export const AppendOutcomeInfo: Readonly<Record<AppendOutcomeValue, { readonly name: AppendOutcomeName; readonly code: ErrorCode | null; readonly reason: string }>> = {
  [AppendOutcome.Appended]: { name: 'Appended', code: null, reason: 'appended' },
  [AppendOutcome.Unchanged]: { name: 'Unchanged', code: null, reason: 'duplicate sample with the same value ignored' },
  [AppendOutcome.OutOfOrder]: { name: 'OutOfOrder', code: 'ERR_INVALID_ARGUMENT', reason: 'out of order sample' },
  [AppendOutcome.DuplicateTimestamp]: { name: 'DuplicateTimestamp', code: 'ERR_INVALID_ARGUMENT', reason: 'duplicate sample for timestamp' },
  [AppendOutcome.InvalidSample]: { name: 'InvalidSample', code: 'ERR_INVALID_ARGUMENT', reason: 'timestamp is not an integer within ±2^50 ms' },
  [AppendOutcome.InvalidSeries]: { name: 'InvalidSeries', code: 'ERR_INVALID_ARGUMENT', reason: 'invalid series identity' },
  [AppendOutcome.SeriesTooLarge]: { name: 'SeriesTooLarge', code: 'ERR_LIMIT_EXCEEDED', reason: 'series identity past a label limit' },
  [AppendOutcome.SeriesLimit]: { name: 'SeriesLimit', code: 'ERR_LIMIT_EXCEEDED', reason: 'series limit reached' },
  [AppendOutcome.HeadFull]: { name: 'HeadFull', code: 'ERR_UNAVAILABLE', reason: 'head full, flush needed' },
};

/** isAccepted says whether an outcome leaves the sample stored (Appended or Unchanged). */
export function isAccepted(o: AppendOutcomeValue): boolean {
  return o === AppendOutcome.Appended || o === AppendOutcome.Unchanged;
}

/** MetricHeadOptions overrides the head's bounds (tests use small ones). */
export interface MetricHeadOptions {
  readonly hasher: SeriesHasher;
  /** headBytesMax defaults to MetricHeadLimits.headBytesMax. */
  readonly headBytesMax?: number;
  /** seriesMax defaults to MetricHeadLimits.seriesMax. */
  readonly seriesMax?: number;
  /** chunkSamples defaults to CodecLimits.chunkSamplesDefault. */
  readonly chunkSamples?: number;
}

/** HeadStats is a head's counters; identical on replicas that applied the same samples. */
export interface HeadStats {
  readonly series: number;
  readonly samples: number;
  readonly chunks: number;
  readonly chunksXor: number;
  readonly chunksDecimal: number;
  readonly chunkBytes: number;
  readonly openSamples: number;
  readonly bytes: number;
}

/** AppendBatchResult counts the outcomes of one appendBatch. */
export interface AppendBatchResult {
  /** accepted is Appended + Unchanged. */
  readonly accepted: number;
  readonly refused: number;
  /** byOutcome counts every outcome (index = AppendOutcomeValue). */
  readonly byOutcome: readonly number[];
  /** firstRefusal is the OtlpdbError of the first refused sample, with its index in details. */
  readonly firstRefusal: OtlpdbError | null;
}

/** SeriesState is one series' samples: sealed chunks and the open buffer. */
class SeriesState {
  readonly chunks: Uint8Array[] = [];
  readonly chunkMinT: number[] = [];
  readonly chunkMaxT: number[] = [];
  openTs: Float64Array;
  openV: Float64Array;
  openN = 0;
  lastT = -Infinity;
  lastHi = 0;
  lastLo = 0;

  constructor(capacity: number) {
    this.openTs = new Float64Array(capacity);
    this.openV = new Float64Array(capacity);
  }
}

const OPEN_SAMPLE_BYTES = 16;

/**
 * MetricHead holds the unflushed metric samples of one shard replica. It is
 * driven by the shard's apply loop; nothing in it reads a clock.
 */
export class MetricHead {
  readonly #registry: SeriesRegistry;
  readonly #index = new LabelIndex();
  readonly #series: SeriesState[] = [];
  readonly #encoder = new SeriesEncoder();
  readonly #headBytesMax: number;
  readonly #chunkSamples: number;
  readonly #bits = new Float64Array(1);
  readonly #bitsU32 = new Uint32Array(this.#bits.buffer);
  #bytes = 0;
  #samples = 0;
  #chunks = 0;
  #chunkBytes = 0;
  #openSamples = 0;

  /** lastRefusal is the OtlpdbError of the last refused append (null after an accepted one). */
  lastRefusal: OtlpdbError | null = null;

  constructor(opts: MetricHeadOptions) {
    const headBytesMax = opts.headBytesMax ?? MetricHeadLimits.headBytesMax;
    const chunkSamples = opts.chunkSamples ?? CodecLimits.chunkSamplesDefault;
    assert(Number.isSafeInteger(headBytesMax) && headBytesMax > 0, 'headBytesMax > 0');
    assert(headBytesMax <= MetricHeadLimits.headBytesMax, 'headBytesMax <= MetricHeadLimits.headBytesMax');
    assert(Number.isSafeInteger(chunkSamples) && chunkSamples >= 1, 'chunkSamples >= 1');
    assert(chunkSamples <= CodecLimits.chunkSamplesMax, 'chunkSamples <= chunkSamplesMax');
    this.#registry = new SeriesRegistry(opts.hasher, opts.seriesMax);
    this.#headBytesMax = headBytesMax;
    this.#chunkSamples = chunkSamples;
  }

  /** bytes is the accounted memory of the head (see the file comment). */
  get bytes(): number {
    return this.#bytes;
  }

  /** headBytesMax is this head's byte bound. */
  get headBytesMax(): number {
    return this.#headBytesMax;
  }

  /**
   * append stores one sample of the series (tenant, name, labels) and returns
   * its outcome; a refusal leaves the head unchanged and sets lastRefusal.
   */
  append(tenant: string, name: string, labels: Labels, timestampMs: number, value: number): AppendOutcomeValue {
    this.lastRefusal = null;
    if (!(Number.isInteger(timestampMs) && Math.abs(timestampMs) <= CodecLimits.timestampMsAbsMax)) {
      return this.#refuse(AppendOutcome.InvalidSample, `timestamp ${timestampMs}`);
    }
    if (typeof value !== 'number') return this.#refuse(AppendOutcome.InvalidSample, 'value is not a number');
    const reg = this.#registry;
    let id = reg.prepare(tenant, name, labels);
    if (id === PREPARE_REFUSED) {
      const err = reg.refusal;
      assert(err !== null, 'a refused prepare says why');
      this.lastRefusal = err;
      return err.code === 'ERR_LIMIT_EXCEEDED' ? AppendOutcome.SeriesTooLarge : AppendOutcome.InvalidSeries;
    }
    let s: SeriesState;
    if (id === PREPARE_NEW) {
      if (reg.size >= reg.seriesMax) {
        return this.#refuse(AppendOutcome.SeriesLimit, `series limit ${reg.seriesMax} reached, new series refused`, { seriesMax: reg.seriesMax });
      }
      // Upper bound of the index cost: every pair new (labels plus __name__). The exact cost is charged after indexing.
      const worst =
        reg.preparedKeyBytes +
        MetricHeadLimits.seriesOverheadBytes +
        (labels.length + 1) * (MetricHeadLimits.postingOverheadBytes + MetricHeadLimits.labelValueOverheadBytes) +
        this.#openCapacity(0) * OPEN_SAMPLE_BYTES;
      if (this.#bytes + worst > this.#headBytesMax) return this.#headFull();
      id = reg.create();
      assert(id >= 0, 'create succeeds under seriesMax');
      const si = reg.info(id);
      const fresh = this.#index.add(id, si.tenant, si.name, si.labels);
      s = new SeriesState(this.#openCapacity(0));
      this.#series.push(s);
      assert(this.#series.length === reg.size, 'one state per series');
      const cost =
        reg.preparedKeyBytes +
        MetricHeadLimits.seriesOverheadBytes +
        (si.labels.length + 1) * MetricHeadLimits.postingOverheadBytes +
        fresh * MetricHeadLimits.labelValueOverheadBytes +
        s.openTs.length * OPEN_SAMPLE_BYTES;
      assert(cost <= worst, 'the charged series cost is within its bound');
      this.#bytes += cost;
    } else {
      s = this.#series[id] as SeriesState;
      if (timestampMs <= s.lastT) {
        if (timestampMs < s.lastT) return this.#refuse(AppendOutcome.OutOfOrder, `timestamp ${timestampMs} < last ${s.lastT}`);
        this.#bits[0] = value;
        if (this.#bitsU32[0] === s.lastLo && this.#bitsU32[1] === s.lastHi) return AppendOutcome.Unchanged;
        return this.#refuse(AppendOutcome.DuplicateTimestamp, `timestamp ${timestampMs}`);
      }
      if (s.openN === s.openTs.length) {
        const grow = (this.#openCapacity(s.openN) - s.openN) * OPEN_SAMPLE_BYTES;
        if (this.#bytes + grow > this.#headBytesMax) return this.#headFull();
      } else if (this.#bytes >= this.#headBytesMax) {
        return this.#headFull();
      }
    }
    this.#push(s, timestampMs, value);
    return AppendOutcome.Appended;
  }

  /**
   * appendBatch appends samples given as columns (index i of each array is
   * one sample) for one tenant, writing each sample's outcome into outcomes
   * when given. Throws ERR_INVALID_ARGUMENT only when the columns disagree in
   * length, ERR_LIMIT_EXCEEDED past batchSamplesMax (the batch is malformed);
   * everything about one sample is reported per sample.
   */
  appendBatch(
    tenant: string,
    names: readonly string[],
    labels: readonly Labels[],
    timestampsMs: ArrayLike<number>,
    values: ArrayLike<number>,
    outcomes?: Uint8Array,
  ): AppendBatchResult {
    const n = names.length;
    if (labels.length !== n || timestampsMs.length !== n || values.length !== n || (outcomes !== undefined && outcomes.length < n)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'metrics head: appendBatch columns differ in length');
    }
    if (n > MetricHeadLimits.batchSamplesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `metrics head: ${n} samples in one batch, past ${MetricHeadLimits.batchSamplesMax}`);
    }
    const byOutcome = new Array<number>(Object.keys(AppendOutcome).length).fill(0);
    let firstRefusal: OtlpdbError | null = null;
    let accepted = 0;
    for (let i = 0; i < n; i++) {
      const o = this.append(tenant, names[i] as string, labels[i] as Labels, timestampsMs[i] as number, values[i] as number);
      byOutcome[o] = (byOutcome[o] as number) + 1;
      if (outcomes !== undefined) outcomes[i] = o;
      if (isAccepted(o)) accepted++;
      else if (firstRefusal === null) {
        const err = this.lastRefusal;
        assert(err !== null, 'a refusal says why');
        firstRefusal = new OtlpdbError(err.code, err.message, { ...err.details, index: i, outcome: AppendOutcomeInfo[o].name });
      }
    }
    assert(accepted <= n, 'accepted <= samples');
    return { accepted, refused: n - accepted, byOutcome, firstRefusal };
  }

  /** select returns the sorted ids of the tenant's series matching every matcher (label-index.ts semantics; throws on a bad selector). */
  select(tenant: string, matchers: readonly Matcher[]): Uint32Array {
    return this.#index.select(tenant, matchers);
  }

  /** labelNames is the tenant's label names, `__name__` included, sorted. */
  labelNames(tenant: string): string[] {
    return this.#index.labelNames(tenant);
  }

  /** labelValues is the tenant's values of one label, sorted. */
  labelValues(tenant: string, name: string): string[] {
    return this.#index.labelValues(tenant, name);
  }

  /** series is the identity of a series id. */
  series(id: number): SeriesInfo {
    return this.#registry.info(id);
  }

  /** seriesChunks is the sealed encoded chunks of a series, oldest first (shared; do not modify). */
  seriesChunks(id: number): readonly Uint8Array[] {
    return this.#state(id).chunks;
  }

  /**
   * samples iterates a series' samples with minT <= t <= maxT, oldest first,
   * over sealed chunks and then the open buffer, decoding one chunk at a time
   * and skipping chunks outside the range. Pass `it` to reuse an iterator.
   * NB: an append to the head invalidates an iterator in use (the open buffer
   * is cut in place); the apply loop and queries take turns.
   */
  samples(seriesId: number, minT: number, maxT: number, it: HeadSampleIterator = new HeadSampleIterator()): HeadSampleIterator {
    it.reset(this.#state(seriesId), minT, maxT);
    return it;
  }

  /** stats is the head's counters. */
  stats(): HeadStats {
    return {
      series: this.#registry.size,
      samples: this.#samples,
      chunks: this.#chunks,
      chunksXor: this.#encoder.chunksXor,
      chunksDecimal: this.#encoder.chunksDecimal,
      chunkBytes: this.#chunkBytes,
      openSamples: this.#openSamples,
      bytes: this.#bytes,
    };
  }

  #state(id: number): SeriesState {
    const s = this.#series[id];
    if (s === undefined) throw new OtlpdbError('ERR_NOT_FOUND', `metrics head: no series ${id}`);
    return s;
  }

  /** #openCapacity is the open-buffer capacity after growing from n samples (the initial one for 0). */
  #openCapacity(n: number): number {
    if (n === 0) return Math.min(MetricHeadLimits.openSamplesInitial, this.#chunkSamples);
    return Math.min(n * 2, this.#chunkSamples);
  }

  #push(s: SeriesState, t: number, v: number): void {
    assert(t > s.lastT, 'samples of a series are strictly increasing in time');
    if (s.openN === s.openTs.length) {
      const cap = this.#openCapacity(s.openN);
      assert(cap > s.openN, 'the open buffer grows before it is full at the chunk size');
      const ts = new Float64Array(cap);
      const vs = new Float64Array(cap);
      ts.set(s.openTs);
      vs.set(s.openV);
      this.#bytes += (cap - s.openTs.length) * OPEN_SAMPLE_BYTES;
      s.openTs = ts;
      s.openV = vs;
    }
    s.openTs[s.openN] = t;
    s.openV[s.openN] = v;
    s.openN++;
    s.lastT = t;
    this.#bits[0] = v;
    s.lastLo = this.#bitsU32[0] as number;
    s.lastHi = this.#bitsU32[1] as number;
    this.#samples++;
    this.#openSamples++;
    if (s.openN === this.#chunkSamples) this.#cut(s);
    assert(s.openN < this.#chunkSamples, 'the open buffer is below the chunk size after an append');
  }

  /** #cut seals the open buffer into an encoded chunk and shrinks the buffer to its initial capacity. */
  #cut(s: SeriesState): void {
    const n = s.openN;
    const chunk = this.#encoder.encodeChunk(s.openTs.subarray(0, n), s.openV.subarray(0, n));
    s.chunks.push(chunk);
    s.chunkMinT.push(s.openTs[0] as number);
    s.chunkMaxT.push(s.openTs[n - 1] as number);
    s.openN = 0;
    // Shrink the buffer back to its initial capacity: a head holds many series whose next chunk fills slowly, and
    // the accounted bytes should be the samples', not a full chunk's worth of empty slots per series.
    const cap = this.#openCapacity(0);
    if (s.openTs.length > cap) {
      this.#bytes -= (s.openTs.length - cap) * OPEN_SAMPLE_BYTES;
      s.openTs = new Float64Array(cap);
      s.openV = new Float64Array(cap);
    }
    this.#openSamples -= n;
    this.#chunks++;
    this.#chunkBytes += chunk.length;
    this.#bytes += chunk.length + MetricHeadLimits.chunkOverheadBytes;
  }

  #refuse(o: AppendOutcomeValue, message: string, details: Record<string, unknown> = {}): AppendOutcomeValue {
    const info = AppendOutcomeInfo[o];
    assert(info.code !== null, 'only refusals carry an error');
    this.lastRefusal = new OtlpdbError(info.code, `metrics head: ${info.reason}: ${message}`, { ...details, reason: info.reason });
    return o;
  }

  #headFull(): AppendOutcomeValue {
    return this.#refuse(AppendOutcome.HeadFull, `${this.#bytes} of ${this.#headBytesMax} bytes`, { bytes: this.#bytes, headBytesMax: this.#headBytesMax });
  }
}

/** HeadSampleIterator walks one series' samples in a time range; it allocates nothing per sample. */
export class HeadSampleIterator {
  /** t is the current sample's timestamp (ms). */
  t = 0;
  /** v is the current sample's value. */
  v = 0;
  readonly #chunk = new ChunkIterator();
  #s: SeriesState | null = null;
  #minT = 0;
  #maxT = 0;
  /** #ci is the chunk being read, chunks.length for the open buffer; #inChunk says the ChunkIterator points at chunk #ci. */
  #ci = 0;
  #inChunk = false;
  #oi = 0;
  #done = true;

  /** reset points the iterator at a series and a closed time range [minT, maxT]. */
  reset(s: SeriesState, minT: number, maxT: number): void {
    this.#s = s;
    this.#minT = minT;
    this.#maxT = maxT;
    this.#ci = 0;
    this.#inChunk = false;
    this.#oi = 0;
    this.#done = !(minT <= maxT);
  }

  /** next moves to the next sample in range; false when there is none. Throws ERR_CORRUPTION if a chunk fails to decode. */
  next(): boolean {
    if (this.#done) return false;
    const s = this.#s;
    assert(s !== null, 'next after reset');
    while (this.#ci < s.chunks.length) {
      if (!this.#inChunk) {
        if ((s.chunkMaxT[this.#ci] as number) < this.#minT) {
          this.#ci++;
          continue;
        }
        if ((s.chunkMinT[this.#ci] as number) > this.#maxT) return this.#finish();
        this.#chunk.reset(s.chunks[this.#ci] as Uint8Array);
        this.#inChunk = true;
      }
      const c = this.#chunk;
      while (c.next()) {
        if (c.t < this.#minT) continue;
        if (c.t > this.#maxT) return this.#finish();
        this.t = c.t;
        this.v = c.v;
        return true;
      }
      this.#inChunk = false;
      this.#ci++;
    }
    while (this.#oi < s.openN) {
      const t = s.openTs[this.#oi] as number;
      const v = s.openV[this.#oi] as number;
      this.#oi++;
      if (t < this.#minT) continue;
      if (t > this.#maxT) return this.#finish();
      this.t = t;
      this.v = v;
      return true;
    }
    return this.#finish();
  }

  #finish(): false {
    this.#done = true;
    return false;
  }
}
