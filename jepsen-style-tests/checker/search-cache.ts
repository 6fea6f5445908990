/**
 * search-cache.ts — the memo of the WGL search: the configurations already
 * explored (or being explored), so that the search never expands one twice.
 *
 * A configuration is (K, U, state): K the linearized operations with a known
 * output, U the linearized operations with an unknown outcome, state the model
 * state after them. Lowe's cache ("Testing for linearizability", 2017) prunes
 * a configuration equal to a remembered one. This cache also prunes one that a
 * remembered configuration dominates: (K, U1, s) dominates (K, U2, s) when
 * U1 ⊆ U2, because every way to finish from (K, U2, s) also finishes from
 * (K, U1, s): which operations may go next depends only on K (unknown
 * operations have no return event to wait for), the states agree, and the
 * extra unknown operations never need to take effect. Pruning by a dominating
 * configuration is the subsumption of model checking: the explored set stays
 * closed under successors up to domination, so a completion exists iff the
 * search finds one. Without it, every subset of the pending unknown writes
 * would be explored after a violation (exponential in their number).
 *
 * Buckets are keyed by K's hash and then by the state key, so a lookup scans
 * only the entries that can equal or dominate it: a register history writes
 * many distinct values, and one K can be remembered with hundreds of states
 * (seed 16 of the simulator's sweep scanned 27 entries of other states for
 * each one of its own state when the buckets were keyed by K alone).
 *
 * Invariants (the owner is one search of one partition):
 * - Entries are only added, never removed; the cache dies with its search.
 * - Each bucket holds the entries whose K has the bucket's hash and whose
 *   state has the bucket's state key.
 * - bytesEstimate is the sum of the entries' estimated sizes; the search stops
 *   with 'unknown' when it passes its cacheBytesMax, so the map is bounded.
 */
import { assert } from '../../src/errors.js';
import type { LinearizedSet, LinearizedSetWindow } from './linearized-set.js';

/** CACHE_ENTRY_OVERHEAD_BYTES estimates the V8 cost of one entry besides its words (object, two typed arrays, bucket slot). */
export const CACHE_ENTRY_OVERHEAD_BYTES = 256;

interface CacheEntry<S> {
  readonly known: LinearizedSetWindow;
  readonly unknown: LinearizedSetWindow;
  readonly stateKey: string | number;
  readonly state: S;
}

/** SearchCache remembers explored configurations (K, U, state) for one search. */
export class SearchCache<S> {
  readonly #buckets = new Map<number, Map<string | number, CacheEntry<S>[]>>();
  readonly #equal: ((a: S, b: S) => boolean) | undefined;
  #entries = 0;
  #bytesEstimate = 0;

  /** equal, when given, must also hold before two states with equal keys count as the same. */
  constructor(equal?: (a: S, b: S) => boolean) {
    this.#equal = equal;
  }

  /** entries is the number of configurations remembered. */
  get entries(): number {
    return this.#entries;
  }

  /** bytesEstimate is the estimated memory of the remembered configurations. */
  get bytesEstimate(): number {
    return this.#bytesEstimate;
  }

  /**
   * addIfNew remembers (known, unknown, state) and returns true, or returns
   * false if a remembered configuration equals or dominates it (the search
   * need not explore it).
   */
  addIfNew(known: LinearizedSet, unknown: LinearizedSet, stateKey: string | number, state: S): boolean {
    const hash = known.hash;
    let byState = this.#buckets.get(hash);
    if (byState === undefined) {
      byState = new Map();
      this.#buckets.set(hash, byState);
    }
    let bucket = byState.get(stateKey);
    if (bucket === undefined) {
      bucket = [];
      byState.set(stateKey, bucket);
    } else {
      // Newest first: the answer does not depend on the order, and the
      // dominating entry is usually the newest (seed 66 of the sweep: 1.59M of
      // its 2.33M dominated lookups, found after 18 older entries on average
      // when scanned oldest first).
      for (let i = bucket.length - 1; i >= 0; i--) {
        const entry = bucket[i] as CacheEntry<S>;
        assert(entry.stateKey === stateKey, 'SearchCache bucket holds one state key');
        if (this.#equal !== undefined && !this.#equal(entry.state, state)) continue;
        if (known.matches(entry.known) && unknown.includes(entry.unknown)) return false;
      }
    }
    const entry: CacheEntry<S> = { known: known.window(), unknown: unknown.window(), stateKey, state };
    bucket.push(entry);
    this.#entries++;
    this.#bytesEstimate += CACHE_ENTRY_OVERHEAD_BYTES + entry.known.words.byteLength + entry.unknown.words.byteLength;
    assert(this.#bytesEstimate > 0, 'SearchCache bytesEstimate grows with entries');
    return true;
  }
}
