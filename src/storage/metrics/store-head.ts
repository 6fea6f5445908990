/**
 * store-head.ts — one generation of unflushed points of the metrics store
 * (the head, or the frozen head) and the pure helpers that cut and merge its
 * samples. Owner: MetricStore (metric-store.ts); nothing here does I/O.
 *
 * Invariants: a FloatHead's times are strictly increasing per series (a write
 * at the last time replaces its value), and its chunks lie in its own slabs; a
 * Head's records per series are strictly increasing in t; FloatHead.keys()
 * lists each id once, in first-set order.
 */
import type { ColumnAlloc } from './column-pool.js';
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
 * a chunk). A chunk is named by its slab's index and its offset (in float64s),
 * not by a view: no object per chunk. The slabs are freed with the head.
 */
export class HeadSlabs {
  /** slabs are the slabs so far; the last one is being filled. */
  readonly slabs: Float64Array[] = [];
  #used = 0;
  #nextSamples = SLAB_SAMPLES_FIRST;
  /** slab is the index of the slab the last `take` cut from. */
  slab = -1;

  /** take cuts a zeroed chunk of `samples` samples (2 × samples float64s) and returns its offset in slabs[this.slab]. */
  take(samples: number): number {
    assert(samples >= 1 && samples <= CHUNK_SAMPLES_MAX, 'a chunk size');
    const doubles = samples * 2;
    const cur = this.slabs[this.slabs.length - 1];
    if (cur === undefined || this.#used + doubles > cur.length) {
      this.slabs.push(new Float64Array(this.#nextSamples * 2));
      this.#used = 0;
      this.#nextSamples = Math.min(this.#nextSamples * 2, SLAB_SAMPLES_MAX);
    }
    const at = this.#used;
    this.#used += doubles;
    this.slab = this.slabs.length - 1;
    assert(this.#used <= (this.slabs[this.slab] as Float64Array).length, 'a whole chunk in the slab');
    return at;
  }
}

/** S_* are the fields of a FloatHead series record, S_STRIDE int32 words each (one record in half a cache line; words 5-7 unused). */
const S_N = 0;
const S_SLAB = 1;
const S_START = 2;
const S_OFF = 3;
const S_END = 4;
const S_STRIDE = 8;

/**
 * FloatHead is the float samples of every series of one head, strictly
 * increasing in t per series, in chunks of (t, v) pairs cut from the head's
 * slabs: chunk sizes double from CHUNK_SAMPLES_FIRST to CHUNK_SAMPLES_MAX, and
 * a full chunk is kept, not copied. Per-series state is one record of
 * S_STRIDE int32 words per series id in one Int32Array (the sample count, the
 * current chunk's slab, start, write offset and end) instead of an object with
 * array views per series: the append path of bench/apply.ts touched three
 * objects per sample before (the columns object, its chunk view, the chunk),
 * each a cache miss when series interleave (time-major ingest), and now
 * touches one record's cache line and the chunk. NB: until s21 the record's
 * fields were five parallel columns, five cache lines per append (bench/README.md,
 * issue 5 s21). Full chunks are listed per series as (slab, offset, samples)
 * triples. Memory: at most 2 × 16 B per sample + 16 × CHUNK_SAMPLES_FIRST B
 * per series (plus the slabs' unused tails) and 4 × S_STRIDE = 32 B per
 * series id below the largest; the head's accounted 16 B per sample
 * (MetricStoreLimits.headSampleBytes) counts the data, as before.
 *
 * Invariants (n, slab, start, off, end: series id's record fields S_*): n > 0
 * exactly for the ids in #ids; then the current chunk holds at least one
 * sample (a new chunk is cut only to append), so the last sample is at off - 2
 * in slabs[slab]; start <= off <= end.
 */
export class FloatHead {
  readonly #slabs = new HeadSlabs();
  /** #rec holds series id's fields at id * S_STRIDE + S_*; #cap is how many records it has room for. */
  #rec = new Int32Array(0);
  #cap = 0;
  /** #full[id] is the full chunks of series id, as flat (slab, offset, samples) triples. */
  readonly #full: (number[] | undefined)[] = [];
  /** #ids is the series with samples, in first-push order. */
  readonly #ids: number[] = [];

  /** #pushT and #pushV carry push's sample into pushAt (one slot each; see pushAt). */
  readonly #pushT = new Float64Array(1);
  readonly #pushV = new Float64Array(1);

  /** push appends (t, v) to series id, or replaces the value at its last time (false then); t is never below the last time. */
  push(id: number, t: number, v: number): boolean {
    this.#pushT[0] = t;
    this.#pushV[0] = v;
    return this.pushAt(id, this.#pushT, this.#pushV, 0);
  }

  /**
   * pushAt is push of (ts[i], vs[i]). The columnar add (MetricStore.addColumns)
   * calls it with the entry's columns, so that no float crosses a call that
   * V8 does not inline: such an argument is boxed as a 16-byte heap number,
   * two per point (measured: 32 B per point of a node's apply).
   */
  pushAt(id: number, ts: Float64Array, vs: Float64Array, i: number): boolean {
    assert(i >= 0 && i < ts.length && i < vs.length, 'a sample of the columns');
    const t = ts[i] as number;
    const v = vs[i] as number;
    if (id >= this.#cap) this.#grow(id + 1);
    const rec = this.#rec;
    const r = id * S_STRIDE;
    const n = rec[r + S_N] as number;
    let off: number;
    let slab: Float64Array;
    if (n === 0) {
      off = this.#cut(r, CHUNK_SAMPLES_FIRST);
      slab = this.#slabs.slabs[rec[r + S_SLAB] as number] as Float64Array;
      this.#ids.push(id);
    } else {
      off = rec[r + S_OFF] as number;
      slab = this.#slabs.slabs[rec[r + S_SLAB] as number] as Float64Array;
      const lastT = slab[off - 2] as number;
      if (t === lastT) {
        slab[off - 1] = v;
        return false;
      }
      assert(t > lastT, 'head samples are increasing');
      if (off === rec[r + S_END]) {
        const start = rec[r + S_START] as number;
        const samples = (off - start) / 2;
        let full = this.#full[id];
        if (full === undefined) this.#full[id] = full = [];
        full.push(rec[r + S_SLAB] as number, start, samples);
        off = this.#cut(r, Math.min(2 * samples, CHUNK_SAMPLES_MAX));
        slab = this.#slabs.slabs[rec[r + S_SLAB] as number] as Float64Array;
      }
    }
    slab[off] = t;
    slab[off + 1] = v;
    rec[r + S_OFF] = off + 2;
    rec[r + S_N] = n + 1;
    return true;
  }

  /** #cut gives the series whose record is at `r` a new current chunk of `samples` samples and returns its offset. */
  #cut(r: number, samples: number): number {
    const off = this.#slabs.take(samples);
    const rec = this.#rec;
    rec[r + S_SLAB] = this.#slabs.slab;
    rec[r + S_START] = off;
    rec[r + S_OFF] = off;
    rec[r + S_END] = off + 2 * samples;
    return off;
  }

  #grow(size: number): void {
    const cap = Math.max(size, 2 * this.#cap, 1024);
    const g = new Int32Array(cap * S_STRIDE);
    g.set(this.#rec);
    this.#rec = g;
    this.#cap = cap;
  }

  /** get is series id's samples (a view for reads and flushes), or undefined when it has none. */
  get(id: number): FloatColumns | undefined {
    return this.samplesOf(id) > 0 ? new FloatColumns(this, id) : undefined;
  }

  /** keys is the ids with samples, in the order they first got one. */
  keys(): readonly number[] {
    return this.#ids;
  }

  /** samplesOf is series id's sample count. */
  samplesOf(id: number): number {
    return id < this.#cap ? (this.#rec[id * S_STRIDE + S_N] as number) : 0;
  }

  /** copyOut copies series id's samples into ts and vs (each at least samplesOf(id) long). */
  copyOut(id: number, ts: Float64Array, vs: Float64Array): void {
    let j = 0;
    const slabs = this.#slabs.slabs;
    const copy = (c: Float64Array, at: number, samples: number): void => {
      for (let i = 0; i < samples; i++, j++) {
        ts[j] = c[at + 2 * i] as number;
        vs[j] = c[at + 2 * i + 1] as number;
      }
    };
    const full = this.#full[id] ?? [];
    for (let k = 0; k < full.length; k += 3) copy(slabs[full[k] as number] as Float64Array, full[k + 1] as number, full[k + 2] as number);
    const r = id * S_STRIDE;
    const start = this.#rec[r + S_START] as number;
    copy(slabs[this.#rec[r + S_SLAB] as number] as Float64Array, start, ((this.#rec[r + S_OFF] as number) - start) / 2);
    assert(j === this.#rec[r + S_N], 'every sample copied');
  }
}

/** FloatColumns is one series' float samples in a head, as reads and flushes see them (FloatHead.get). */
export class FloatColumns {
  readonly #head: FloatHead;
  readonly #id: number;

  constructor(head: FloatHead, id: number) {
    this.#head = head;
    this.#id = id;
  }

  get n(): number {
    return this.#head.samplesOf(this.#id);
  }

  /** columns copies the samples out as two contiguous columns (reads and flushes; not on the append path). */
  columns(): { ts: Float64Array; vs: Float64Array } {
    const n = this.n;
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    this.#head.copyOut(this.#id, ts, vs);
    return { ts, vs };
  }
}

/** Head is one generation of unflushed points (the head, or the frozen head). */
export class Head {
  /** floats is the float samples of every series (chunks in slabs, per-series state in columns). */
  readonly floats = new FloatHead();
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
  /** descPages is the description pages (index → copy) this head's flush writes, taken at freeze (series-descriptions.ts). */
  descPages = new Map<number, string[]>();
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
export function mergeSamples(ts: ArrayLike<number>, vs: ArrayLike<number>, minMs: number, maxMs: number): { timestamps: Float64Array; values: Float64Array } {
  if (ts.length === 0) return { timestamps: EMPTY_F64, values: EMPTY_F64 };
  let order: number[] | null = null;
  for (let i = 1; i < ts.length; i++) {
    if ((ts[i] as number) < (ts[i - 1] as number)) {
      order = Array.from({ length: ts.length }, (_, j) => j).sort((a, b) => (ts[a] as number) - (ts[b] as number) || a - b);
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

/** SampleRun is one series' samples from one source (its chunk blocks, a head), strictly increasing in t unless `increasing` is false. Read-only: series that read the same timestamp columns share one ts (shared-times.ts). */
export interface SampleRun {
  readonly ts: Float64Array;
  readonly vs: Float64Array;
  /** increasing false says the times may repeat or go back (blocks of several flushes rewrote a time). */
  readonly increasing?: boolean;
  /** facts, when present, is what the decoder proved about vs (codec/value-facts.ts); absent or 0: nothing. */
  readonly facts?: number;
}

/** lowerBound is the first index of the sorted ts whose time is >= t (n when none is). */
export function lowerBound(ts: Float64Array, t: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ts[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** upperBound is the first index of the sorted ts whose time is > t (ts.length when none is). */
export function upperBound(ts: Float64Array, t: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ts[mid] as number) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * mergeRuns is mergeSamples over runs given in write order, each strictly
 * increasing in t unless it says otherwise. When every run starts after the one before it ends (one
 * flush per bucket, the head after them: the usual read) their
 * concatenation is already merged: the window [minMs, maxMs] is cut from
 * each run by binary search and copied once into the answer — or, when it
 * lies in one run, answered as views of that run, not copied (the caller
 * gives up the runs). Otherwise (a rewrite of a time across flushes, runs
 * out of order, a run not increasing) the runs are concatenated and mergeSamples sorts them.
 * The one copy of the usual read goes to columns `alloc` lends, when given.
 * Only the one-run answer carries its run's value facts (codec/value-facts.ts).
 */
export function mergeRuns(runs: readonly SampleRun[], minMs: number, maxMs: number, alloc?: ColumnAlloc): { timestamps: Float64Array; values: Float64Array; facts?: number } {
  let total = 0;
  let lastT = -Infinity;
  let ordered = true;
  let nonEmpty = 0;
  let only: SampleRun | null = null;
  for (const r of runs) {
    assert(r.ts.length === r.vs.length, 'a run has a value per time');
    const n = r.ts.length;
    if (n === 0) continue;
    total += n;
    nonEmpty++;
    only = r;
    if (!((r.ts[0] as number) > lastT) || r.increasing === false) ordered = false;
    lastT = r.ts[n - 1] as number;
  }
  if (total === 0) return { timestamps: EMPTY_F64, values: EMPTY_F64 };
  if (!ordered) {
    const ts = new Float64Array(total);
    const vs = new Float64Array(total);
    let at = 0;
    for (const r of runs) {
      ts.set(r.ts, at);
      vs.set(r.vs, at);
      at += r.ts.length;
    }
    return mergeSamples(ts, vs, minMs, maxMs);
  }
  if (nonEmpty === 1 && only !== null) {
    const from = lowerBound(only.ts, minMs);
    const to = upperBound(only.ts, maxMs);
    if (to <= from) return { timestamps: EMPTY_F64, values: EMPTY_F64 };
    // A run's facts hold for any slice of it (value-facts.ts); only this one-run answer keeps them (NB: a read whose window takes the head's samples too loses them).
    return { timestamps: only.ts.subarray(from, to), values: only.vs.subarray(from, to), facts: only.facts ?? 0 };
  }
  let n = 0;
  for (const r of runs) n += Math.max(0, upperBound(r.ts, maxMs) - lowerBound(r.ts, minMs));
  if (n === 0) return { timestamps: EMPTY_F64, values: EMPTY_F64 };
  const timestamps = alloc?.take(n) ?? new Float64Array(n);
  const values = alloc?.take(n) ?? new Float64Array(n);
  let at = 0;
  for (const r of runs) {
    const from = lowerBound(r.ts, minMs);
    const to = upperBound(r.ts, maxMs);
    if (to <= from) continue;
    timestamps.set(r.ts.subarray(from, to), at);
    values.set(r.vs.subarray(from, to), at);
    at += to - from;
  }
  assert(at === n, 'every sample of the window copied');
  return { timestamps, values };
}
