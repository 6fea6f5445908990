/**
 * latency-histogram.ts — a fixed-bucket latency histogram (Prometheus
 * style) for driver timings such as the WAL fsync of each iteration.
 *
 * Counts are per bucket, NOT cumulative: counts[k] is the number of
 * observations with bucketsMs[k-1] < ms <= bucketsMs[k] (k = 0: ms <=
 * bucketsMs[0]); counts has one more element than bucketsMs, the last being
 * the +Inf bucket (ms > the last bound). A Prometheus exporter sums them up
 * to render `_bucket{le=...}`.
 *
 * Invariants: sum(counts) === count; sumMs >= 0; the bounds are strictly
 * increasing. Memory is fixed at construction (no per-observation growth).
 */
import { assert } from '../../errors.js';

/** WAL_SYNC_BUCKETS_MS are the upper bounds, in milliseconds, of the WAL sync latency buckets (a last +Inf bucket follows). */
export const WAL_SYNC_BUCKETS_MS: readonly number[] = Object.freeze([0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000]);

/** HistogramSnapshot is a copy of a histogram's state; counts are per bucket (see the top of this file), the last is +Inf. */
export interface HistogramSnapshot {
  readonly bucketsMs: readonly number[];
  readonly counts: readonly number[];
  readonly sumMs: number;
  readonly count: number;
}

/** LatencyHistogram counts observations into fixed buckets; see the top of this file. */
export class LatencyHistogram {
  readonly #bucketsMs: readonly number[];
  readonly #counts: number[];
  #sumMs = 0;
  #count = 0;

  constructor(bucketsMs: readonly number[]) {
    assert(bucketsMs.length > 0, 'a histogram has at least one bound');
    for (let k = 1; k < bucketsMs.length; k++) {
      assert((bucketsMs[k] as number) > (bucketsMs[k - 1] as number), 'bucket bounds strictly increase');
    }
    this.#bucketsMs = bucketsMs;
    this.#counts = new Array<number>(bucketsMs.length + 1).fill(0);
  }

  /** observe records one duration; a negative one (a clock that stepped back) counts as 0. */
  observe(ms: number): void {
    assert(Number.isFinite(ms), 'an observed duration is finite');
    const v = Math.max(0, ms);
    let k = 0;
    while (k < this.#bucketsMs.length && v > (this.#bucketsMs[k] as number)) k++;
    this.#counts[k] = (this.#counts[k] as number) + 1;
    this.#sumMs += v;
    this.#count++;
  }

  /** snapshot returns a copy of the bounds, per-bucket counts, sum and count. */
  snapshot(): HistogramSnapshot {
    return { bucketsMs: this.#bucketsMs, counts: [...this.#counts], sumMs: this.#sumMs, count: this.#count };
  }
}
