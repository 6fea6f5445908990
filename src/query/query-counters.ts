/**
 * query-counters.ts — QueryCounters, the in-flight and cancelled counts of
 * one kind of query on a node (searches, trace lookups), so a test or
 * /metrics can see that a query whose client went away really stopped.
 *
 * Invariants: inflight counts the runs started and not yet settled (>= 0);
 * cancelled only grows.
 */
import { assert } from '../errors.js';

/** QueryCounts is a snapshot of QueryCounters. */
export interface QueryCounts {
  readonly inflight: number;
  readonly cancelled: number;
}

/** QueryCounters counts one kind of query: those in flight, and those that failed because their client cancelled them. */
export class QueryCounters {
  #inflight = 0;
  #cancelled = 0;

  /** track runs one query, counted in flight until it settles, and as cancelled when it fails after `signal` aborted. */
  async track<T>(signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    this.#inflight++;
    try {
      return await run();
    } catch (err) {
      if (signal?.aborted === true) this.#cancelled++;
      throw err;
    } finally {
      this.#inflight--;
      assert(this.#inflight >= 0, 'inflight >= 0');
    }
  }

  /** counts are the queries in flight and those cancelled since start. */
  counts(): QueryCounts {
    assert(this.#inflight >= 0 && this.#cancelled >= 0, 'counts >= 0');
    return { inflight: this.#inflight, cancelled: this.#cancelled };
  }
}
