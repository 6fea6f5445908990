/**
 * store-head.ts — one generation of unflushed points of the metrics store
 * (the head, or the frozen head) and the pure helpers that cut and merge its
 * samples. Owner: MetricStore (metric-store.ts); nothing here does I/O.
 *
 * Invariants: a FloatColumns' times are strictly increasing (a write at the
 * last time replaces its value); a Head's records per series are strictly
 * increasing in t; DenseIdMap.keys() lists each id once, in first-set order.
 */
import { assert } from '../../errors.js';
import type { RecordPoint, StoredExemplar } from './store-format.js';

/**
 * FloatColumns is one series' float samples in a head, strictly increasing in
 * t. Plain arrays (packed doubles), not typed arrays: a head grows thousands of
 * columns, and growing an on-heap array is far cheaper than reallocating a
 * typed array's backing store (measured: the growth was half of the append
 * cost in bench/metric-store.ts).
 */
export class FloatColumns {
  readonly ts: number[] = [];
  readonly vs: number[] = [];

  get n(): number {
    return this.ts.length;
  }

  push(t: number, v: number): boolean {
    const n = this.ts.length;
    if (n > 0 && this.ts[n - 1] === t) {
      this.vs[n - 1] = v;
      return false;
    }
    assert(n === 0 || t > (this.ts[n - 1] as number), 'head samples are increasing');
    this.ts.push(t);
    this.vs.push(v);
    return true;
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
