/**
 * store-head.ts — one generation of unflushed points of the metrics store
 * (the head, or the frozen head) and the pure helpers that cut and merge its
 * samples. Owner: MetricStore (metric-store.ts); nothing here does I/O.
 *
 * Invariants: a FloatColumns' times are strictly increasing (a write at the
 * last time replaces its value), and its chunks are views of its head's slabs; a Head's records per series are strictly
 * increasing in t; DenseIdMap.keys() lists each id once, in first-set order.
 */
import { assert } from '../../errors.js';
import type { RecordPoint, StoredExemplar } from './store-format.js';

/**
 * Slab and chunk sizes of the head's float columns, in samples (a sample is
 * two float64s, t then v). NB: layout constants of this file, not user
 * limits, so they are not in limits.ts.
 */
const CHUNK_SAMPLES_FIRST = 8;
const CHUNK_SAMPLES_MAX = 1024;
const SLAB_SAMPLES_FIRST = 2048;
const SLAB_SAMPLES_MAX = 32768;
assert(CHUNK_SAMPLES_FIRST >= 1 && CHUNK_SAMPLES_FIRST <= CHUNK_SAMPLES_MAX, 'chunks grow from the first size to the max');
assert(CHUNK_SAMPLES_MAX <= SLAB_SAMPLES_FIRST && SLAB_SAMPLES_FIRST <= SLAB_SAMPLES_MAX, 'a chunk fits in any slab');

/**
 * HeadSlabs hands out the chunks of one head's float columns from a few large
 * Float64Arrays (slabs, off the JS heap), so appending never copies a column
 * and the GC neither scans nor moves the samples. Slabs double from
 * SLAB_SAMPLES_FIRST to SLAB_SAMPLES_MAX samples (a small head stays small);
 * the space left at a slab's end when a chunk does not fit is wasted (less than
 * a chunk). The slabs are freed with the head.
 */
export class HeadSlabs {
  #slab = new Float64Array(0);
  #used = 0;
  #nextSamples = SLAB_SAMPLES_FIRST;

  /** take is a zeroed view of `samples` samples (2 × samples float64s). */
  take(samples: number): Float64Array {
    assert(samples >= 1 && samples <= CHUNK_SAMPLES_MAX, 'a chunk size');
    const doubles = samples * 2;
    if (this.#used + doubles > this.#slab.length) {
      this.#slab = new Float64Array(this.#nextSamples * 2);
      this.#used = 0;
      this.#nextSamples = Math.min(this.#nextSamples * 2, SLAB_SAMPLES_MAX);
    }
    const out = this.#slab.subarray(this.#used, this.#used + doubles);
    this.#used += doubles;
    assert(out.length === doubles, 'a whole chunk');
    return out;
  }
}

/**
 * FloatColumns is one series' float samples in a head, strictly increasing in
 * t, in chunks of (t, v) pairs taken from the head's slabs: chunk sizes double
 * from CHUNK_SAMPLES_FIRST to CHUNK_SAMPLES_MAX, and a full chunk is kept, not
 * copied. Before, plain arrays grew by copying (1.5× + 16 slots) on the JS
 * heap, and the copies were most of the scavenger's work in bench/apply.ts.
 * Memory: at most 2 × 16 B per sample + 16 × CHUNK_SAMPLES_FIRST B per series
 * (plus the slabs' unused tails), of the order of the plain arrays' 1.5 × 16 B
 * + 256 B; the head's accounted 16 B per sample (MetricStoreLimits.headSampleBytes)
 * counts the data, as before.
 */
export class FloatColumns {
  readonly #slabs: HeadSlabs;
  /** #full is the chunks before #cur, each full. */
  readonly #full: Float64Array[] = [];
  #cur: Float64Array;
  /** #curN is the samples in #cur (>= 1 once a sample is pushed). */
  #curN = 0;
  #n = 0;
  #lastT = -Infinity;

  constructor(slabs: HeadSlabs) {
    this.#slabs = slabs;
    this.#cur = slabs.take(CHUNK_SAMPLES_FIRST);
  }

  get n(): number {
    return this.#n;
  }

  /** push appends (t, v), or replaces the value at the last time (false then); t is never below the last time. */
  push(t: number, v: number): boolean {
    if (this.#n > 0 && t === this.#lastT) {
      this.#cur[2 * this.#curN - 1] = v;
      return false;
    }
    assert(this.#n === 0 || t > this.#lastT, 'head samples are increasing');
    let cur = this.#cur;
    if (2 * this.#curN === cur.length) {
      this.#full.push(cur);
      cur = this.#cur = this.#slabs.take(Math.min(cur.length, CHUNK_SAMPLES_MAX));
      this.#curN = 0;
    }
    const k = 2 * this.#curN;
    cur[k] = t;
    cur[k + 1] = v;
    this.#curN++;
    this.#n++;
    this.#lastT = t;
    return true;
  }

  /** columns copies the samples out as two contiguous columns (reads and flushes; not on the append path). */
  columns(): { ts: Float64Array; vs: Float64Array } {
    const ts = new Float64Array(this.#n);
    const vs = new Float64Array(this.#n);
    let j = 0;
    const copy = (c: Float64Array, samples: number): void => {
      for (let i = 0; i < samples; i++, j++) {
        ts[j] = c[2 * i] as number;
        vs[j] = c[2 * i + 1] as number;
      }
    };
    for (const c of this.#full) copy(c, c.length / 2);
    copy(this.#cur, this.#curN);
    assert(j === this.#n, 'every sample copied');
    return { ts, vs };
  }
}

/** DenseIdMap maps series ids to values through an array indexed by id (a head touches most series; faster than a Map). */
export class DenseIdMap<V> {
  readonly #values: (V | undefined)[] = [];
  readonly #ids: number[] = [];

  get(id: number): V | undefined {
    return this.#values[id];
  }

  set(id: number, v: V): void {
    if (this.#values[id] === undefined) this.#ids.push(id);
    while (this.#values.length < id) this.#values.push(undefined);
    this.#values[id] = v;
  }

  /** keys is the ids in the order they were first set. */
  keys(): readonly number[] {
    return this.#ids;
  }
}

/** Head is one generation of unflushed points (the head, or the frozen head). */
export class Head {
  /** slabs hold the samples of `floats`. */
  readonly slabs = new HeadSlabs();
  readonly floats = new DenseIdMap<FloatColumns>();
  readonly records = new Map<number, RecordPoint[]>();
  readonly exemplars = new Map<number, StoredExemplar[]>();
  /** seriesFrom is the first series id this head created; seriesTo is one past its last (set at freeze). */
  readonly seriesFrom: number;
  seriesTo = -1;
  rows = 0;
  points = 0;
  bytes = 0;
  /** lastTPages is the pages (index → copy) of last timestamps this head's flush writes, taken at freeze. */
  lastTPages = new Map<number, Float64Array>();
  /** flushIndex is the flush that writes this head (set by writeFrozen); reads skip its durable copy. */
  flushIndex = -1;
  /** minT and maxT bound the times of the head's points (reads slice time by them). */
  minT = Infinity;
  maxT = -Infinity;
  /** buckets is, per tenant, the buckets writeFrozen put data in (expire leaves them to a later pass). */
  readonly buckets = new Map<string, Set<number>>();

  constructor(seriesFrom: number) {
    this.seriesFrom = seriesFrom;
  }
}

const EMPTY_F64 = new Float64Array(0);

/** forEachBucket calls fn for each run of the sorted times ts[0, n) that falls in one bucket. */
export function forEachBucket(ts: ArrayLike<number>, n: number, bucketMs: number, fn: (bucket: number, from: number, to: number) => void): void {
  let from = 0;
  while (from < n) {
    const bucket = Math.floor((ts[from] as number) / bucketMs);
    const end = (bucket + 1) * bucketMs;
    let to = from + 1;
    while (to < n && (ts[to] as number) < end) to++;
    fn(bucket, from, to);
    from = to;
  }
}

/** lastWins sorts items by time (stably: write order kept within a time) and keeps the last of each time. */
export function lastWins<T>(items: T[], timeOf: (x: T) => number): T[] {
  const sorted = items.map((x, i) => ({ x, i, t: timeOf(x) })).sort((a, b) => a.t - b.t || a.i - b.i);
  const out: T[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const next = sorted[i + 1];
    const cur = sorted[i] as (typeof sorted)[number];
    if (next !== undefined && next.t === cur.t) continue;
    out.push(cur.x);
  }
  return out;
}

/** mergeSamples sorts samples given in write order by time, keeps the last write of each timestamp, and cuts [minMs, maxMs]. */
export function mergeSamples(ts: number[], vs: number[], minMs: number, maxMs: number): { timestamps: Float64Array; values: Float64Array } {
  if (ts.length === 0) return { timestamps: EMPTY_F64, values: EMPTY_F64 };
  let order: number[] | null = null;
  for (let i = 1; i < ts.length; i++) {
    if ((ts[i] as number) < (ts[i - 1] as number)) {
      order = ts.map((_, j) => j).sort((a, b) => (ts[a] as number) - (ts[b] as number) || a - b);
      break;
    }
  }
  const outT: number[] = [];
  const outV: number[] = [];
  const n = ts.length;
  for (let k = 0; k < n; k++) {
    const i = order === null ? k : (order[k] as number);
    const t = ts[i] as number;
    if (t < minMs || t > maxMs) continue;
    if (outT.length > 0 && outT[outT.length - 1] === t) outV[outV.length - 1] = vs[i] as number;
    else {
      outT.push(t);
      outV.push(vs[i] as number);
    }
  }
  return { timestamps: Float64Array.from(outT), values: Float64Array.from(outV) };
}
