/**
 * aggregate-state.ts — mergeable partial aggregate states (DESIGN.md §7
 * step 3): a shard folds its matching values into an AggregateState, the
 * state crosses the wire, and the coordinator merges the shards' states
 * into the state of the whole before it reads the final value.
 *
 * Functions and what their state is:
 * - count, sum, min, max: exact under any split. `sum` is an IEEE-754 sum:
 *   exact (split-independent) while every value and every partial sum is
 *   an integer of magnitude at most 2^53; for other values the merged sum
 *   differs from a one-pass sum only by float round-off.
 * - avg: (sum, count), divided at the end.
 * - quantile(q): a DDSketch (the library @datadog/sketches-js 2.1.1, the
 *   "log collapsing lowest dense" variant). Guarantee (Masson, Rim, Lee,
 *   VLDB 2019): for a sketch built with relative accuracy α, the value it
 *   returns for quantile q is within a factor (1 ± α) of the true q-quantile
 *   of the values added, for positive and negative values alike (zeros are
 *   counted exactly), as long as the quantile does not fall into collapsed
 *   bins. The sketch keeps at most AggregateLimits.sketchBinsMax bins per
 *   sign; past that it collapses the lowest-magnitude bins into one, so
 *   memory stays bounded and only the quantiles of the smallest magnitudes
 *   lose accuracy (with α = 1% and 2,048 bins, positive values spanning a
 *   ratio up to about (1.0202)^2048 ≈ 4·10^17 never collapse). Merging
 *   sketches of the same α is exact: the merged sketch equals the sketch of
 *   the union (same bins, same counts), so the guarantee holds for the
 *   merged answer too.
 *
 * Invariants of an AggregateState:
 *   count >= 0; count === 0 ⇔ min === +Infinity and max === -Infinity;
 *   min <= max when count > 0; the sketch, when present, holds exactly
 *   `count` values (zeros included).
 * Wire form (encodeAggregateState): a msgpack tuple checked on decode
 * (ERR_CORRUPTION when malformed; a sketch never holds more bins than
 * sketchBinsMax per sign, whatever the peer sent).
 */
import sketches from '@datadog/sketches-js';
import { Packr } from 'msgpackr';
import { OtlpdbError, assert } from '../errors.js';
import { AggregateLimits as L } from '../limits.js';

const { LogCollapsingLowestDenseDDSketch } = sketches;
type Sketch = InstanceType<typeof LogCollapsingLowestDenseDDSketch>;

/** AggregateFn names a partial aggregate every signal shares (sum, count, min, max, avg, quantile). */
export type AggregateFn = 'sum' | 'count' | 'min' | 'max' | 'avg' | 'quantile';

/** AGGREGATE_FNS lists the AggregateFn values, for validation. */
export const AGGREGATE_FNS: readonly AggregateFn[] = ['sum', 'count', 'min', 'max', 'avg', 'quantile'];

/** SKETCH_RELATIVE_ACCURACY is α, the relative error of every quantile this module answers (1%). */
export const SKETCH_RELATIVE_ACCURACY = L.sketchRelativeAccuracy;

function newSketch(): Sketch {
  return new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY, binLimit: L.sketchBinsMax });
}

/**
 * AggregateState is one partial aggregate: count, sum, min and max always,
 * and a quantile sketch when the query asks for quantiles. It exists so a
 * shard can send a bounded summary of any number of values and the
 * coordinator can merge summaries in any order to the same result.
 */
export class AggregateState {
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;
  readonly #sketch: Sketch | null;

  /** withSketch: keep a quantile sketch (memory: at most 2 × sketchBinsMax bins). */
  constructor(withSketch: boolean) {
    this.#sketch = withSketch ? newSketch() : null;
  }

  /** count is the number of values added (merged states included). */
  get count(): number {
    return this.#count;
  }
  /** sum is the sum of the values added. */
  get sum(): number {
    return this.#sum;
  }
  /** min is the smallest value added (+Infinity when none). */
  get min(): number {
    return this.#min;
  }
  /** max is the largest value added (-Infinity when none). */
  get max(): number {
    return this.#max;
  }
  /** hasSketch says whether this state answers quantiles. */
  get hasSketch(): boolean {
    return this.#sketch !== null;
  }

  /** add folds one finite value in. */
  add(value: number): void {
    assert(Number.isFinite(value), 'AggregateState.add takes a finite value');
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    this.#sketch?.accept(value);
    this.#check();
  }

  /** merge folds another state in; both must agree on having a sketch. */
  merge(other: AggregateState): void {
    assert(other.#sketch === null === (this.#sketch === null), 'merged states agree on the sketch');
    if (other.#count === 0) return;
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
    if (this.#sketch !== null && other.#sketch !== null) mergeSketch(this.#sketch, other.#sketch);
    this.#check();
  }

  /**
   * result is the final value of `fn` (`q` in [0, 1] for quantile): NaN for
   * avg, min, max and quantiles of no values, 0 for sum and count.
   */
  result(fn: AggregateFn, q?: number): number {
    switch (fn) {
      case 'count':
        return this.#count;
      case 'sum':
        return this.#sum;
      case 'min':
        return this.#count === 0 ? Number.NaN : this.#min;
      case 'max':
        return this.#count === 0 ? Number.NaN : this.#max;
      case 'avg':
        return this.#count === 0 ? Number.NaN : this.#sum / this.#count;
      case 'quantile': {
        assert(q !== undefined && q >= 0 && q <= 1, 'a quantile is in [0, 1]');
        if (this.#sketch === null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'this aggregate keeps no quantile sketch');
        if (this.#count === 0) return Number.NaN;
        // The sketch's extreme quantiles are bin representatives; the exact min and max are known.
        if (q === 0) return this.#min;
        if (q === 1) return this.#max;
        return Math.min(this.#max, Math.max(this.#min, this.#sketch.getValueAtQuantile(q)));
      }
    }
  }

  /** sketchBins lists the sketch's non-empty bins per sign as [key, count] pairs, ascending (the wire form and tests). */
  sketchBins(): { positive: [number, number][]; negative: [number, number][]; zeros: number } | null {
    const s = this.#sketch;
    if (s === null) return null;
    return { positive: storeBins(s.store), negative: storeBins(s.negativeStore), zeros: s.zeroCount };
  }

  #check(): void {
    assert(this.#count >= 0, 'count >= 0');
    assert(this.#count === 0 || this.#min <= this.#max, 'min <= max once a value is in');
    if (this.#sketch !== null) assert(Math.abs(this.#sketch.count - this.#count) < 0.5, 'the sketch holds every value');
  }

  /** restore builds a state from its parts (decodeAggregateState); the bins are added through the sketch's own store. */
  static restore(p: { count: number; sum: number; min: number; max: number; bins: ReturnType<AggregateState['sketchBins']> }): AggregateState {
    const st = new AggregateState(p.bins !== null);
    st.#count = p.count;
    st.#sum = p.sum;
    st.#min = p.min;
    st.#max = p.max;
    const s = st.#sketch;
    if (s !== null && p.bins !== null) {
      for (const [k, c] of p.bins.positive) s.store.add(k, c);
      for (const [k, c] of p.bins.negative) s.negativeStore.add(k, c);
      s.zeroCount = p.bins.zeros;
      s.count = p.bins.zeros + sumCounts(p.bins.positive) + sumCounts(p.bins.negative);
      s.sum = p.sum;
      s.min = p.min;
      s.max = p.max;
    }
    st.#check();
    return st;
  }
}

/**
 * mergeSketch folds sketch `b` into `a`, both of accuracy α.
 * NB: not the library's DDSketch.merge: in 2.1.1 it merges only the
 * positive store once both sketches hold values, so negative values of the
 * merged sketch are lost (the property test with negative values in
 * aggregate-state.test.ts found it). This merges both stores and the zeros.
 */
function mergeSketch(a: Sketch, b: Sketch): void {
  assert(a.mergeable(b), 'sketches of one accuracy');
  if (b.count === 0) return;
  a.store.merge(b.store);
  a.negativeStore.merge(b.negativeStore);
  a.zeroCount += b.zeroCount;
  a.count += b.count;
  a.sum += b.sum;
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
}

function sumCounts(bins: readonly [number, number][]): number {
  let n = 0;
  for (const [, c] of bins) n += c;
  return n;
}

interface DenseStoreView {
  readonly bins: number[];
  readonly minKey: number;
  readonly maxKey: number;
  readonly offset: number;
  readonly count: number;
}

function storeBins(store: DenseStoreView): [number, number][] {
  const out: [number, number][] = [];
  if (store.count === 0) return out;
  for (let key = store.minKey; key <= store.maxKey; key++) {
    const c = store.bins[key - store.offset] ?? 0;
    if (c > 0) out.push([key, c]);
  }
  return out;
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });

/** encodeAggregateState packs a state: [count, sum, min, max, null | [zeros, [key, count]... positive, ... negative]]. */
export function encodeAggregateState(s: AggregateState): Uint8Array {
  const bins = s.sketchBins();
  return packr.pack([s.count, s.sum, s.count === 0 ? null : s.min, s.count === 0 ? null : s.max, bins === null ? null : [bins.zeros, bins.positive, bins.negative]]);
}

function corrupt(why: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `aggregate state: ${why}`);
}

function readBins(v: unknown, what: string): [number, number][] {
  if (!Array.isArray(v) || v.length > L.sketchBinsMax) throw corrupt(`${what} bins are not a list of at most ${L.sketchBinsMax}`);
  let prev = Number.NEGATIVE_INFINITY;
  return v.map((b: unknown) => {
    if (!Array.isArray(b) || b.length !== 2 || !Number.isSafeInteger(b[0]) || Math.abs(b[0] as number) > L.sketchKeyAbsMax) throw corrupt(`${what} bin key is not an integer within ±${L.sketchKeyAbsMax}`);
    if (typeof b[1] !== 'number' || !(b[1] > 0) || !Number.isFinite(b[1])) throw corrupt(`${what} bin count is not positive`);
    if ((b[0] as number) <= prev) throw corrupt(`${what} bin keys are not ascending`);
    prev = b[0] as number;
    return [b[0] as number, b[1]];
  });
}

/** decodeAggregateState checks a peer's state (ERR_CORRUPTION when malformed or inconsistent). */
export function decodeAggregateState(b: Uint8Array): AggregateState {
  let v: unknown;
  try {
    v = packr.unpack(b);
  } catch {
    throw corrupt('not msgpack');
  }
  if (!Array.isArray(v) || v.length !== 5) throw corrupt('not [count, sum, min, max, sketch]');
  const [count, sum, min, max, sk] = v as unknown[];
  if (!Number.isSafeInteger(count) || (count as number) < 0) throw corrupt('count is not a natural number');
  if (typeof sum !== 'number' || !Number.isFinite(sum)) throw corrupt('sum is not finite');
  const n = count as number;
  if (n === 0 ? min !== null || max !== null : typeof min !== 'number' || typeof max !== 'number' || !(min <= max)) throw corrupt('min and max do not fit count');
  let bins: ReturnType<AggregateState['sketchBins']> = null;
  if (sk !== null) {
    if (!Array.isArray(sk) || sk.length !== 3 || !Number.isSafeInteger(sk[0]) || (sk[0] as number) < 0) throw corrupt('sketch is not [zeros, positive, negative]');
    bins = { zeros: sk[0] as number, positive: readBins(sk[1], 'positive'), negative: readBins(sk[2], 'negative') };
    if (Math.abs(bins.zeros + sumCounts(bins.positive) + sumCounts(bins.negative) - n) >= 0.5) throw corrupt('sketch counts do not add up to count');
  }
  return AggregateState.restore({ count: n, sum, min: n === 0 ? Number.POSITIVE_INFINITY : (min as number), max: n === 0 ? Number.NEGATIVE_INFINITY : (max as number), bins });
}
