/**
 * linearized-set.ts — the set of operations the WGL search has linearized so
 * far, as a bitset over Uint32Array words with an incrementally maintained
 * hash, plus the compact "window" snapshots the search cache stores.
 *
 * Invariants (the owner is one LinearizedSet; nothing else writes #words):
 * - #count is the number of set bits; #hash is the XOR of idHash(id) over the
 *   set ids (Zobrist hashing), so set/clear update it in O(1).
 * - Every word below #loWordHint is all ones (0xFFFFFFFF).
 * - Every word above #hiWordHint is zero.
 * - Bits at or beyond `size` are never set.
 *
 * Why windows: the search numbers operations in call order, so the linearized
 * set is almost always "every op below some id" plus a few later ones (as many
 * as the history's concurrency). A snapshot stores only the first word that is
 * not all ones (loWord) and the words from there to the last non-zero word.
 * Snapshots of one set are canonical, so two sets are equal iff their
 * snapshots are, and a cache entry costs O(concurrency), not O(history).
 */
import { assert } from '../../src/errors.js';

const WORD_BITS = 32;
const WORD_FULL = 0xffffffff;

/** LinearizedSetWindow is a canonical, immutable snapshot of a LinearizedSet (see the file comment). */
export interface LinearizedSetWindow {
  /** loWord is the index of the first word that is not all ones; every word below it is all ones. */
  readonly loWord: number;
  /** words are the words from loWord to the last non-zero word (empty when there is none). */
  readonly words: Uint32Array;
}

/** idHash is the 32-bit Zobrist key of one id (murmur3's finalizer over a Weyl step). */
export function idHash(id: number): number {
  let x = Math.imul(id + 1, 0x9e3779b1);
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x | 0;
}

/** LinearizedSet is a fixed-size bitset of operation ids with an O(1) hash. */
export class LinearizedSet {
  /** size is the number of ids, 0..size-1. */
  readonly size: number;
  readonly #words: Uint32Array;
  #count = 0;
  #hash = 0;
  #loWordHint = 0;
  #hiWordHint = -1;

  constructor(size: number) {
    assert(Number.isSafeInteger(size), 'LinearizedSet size is an integer');
    assert(size >= 0, 'LinearizedSet size >= 0');
    this.size = size;
    this.#words = new Uint32Array(Math.ceil(size / WORD_BITS));
  }

  /** count is the number of ids in the set. */
  get count(): number {
    return this.#count;
  }

  /** hash is a 32-bit hash of the set's members (equal sets have equal hashes). */
  get hash(): number {
    return this.#hash;
  }

  /** has says whether `id` is in the set. */
  has(id: number): boolean {
    this.#checkId(id);
    return ((this.#words[id >>> 5] as number) & (1 << (id & 31))) !== 0;
  }

  /** set adds `id`, which must not be in the set. */
  set(id: number): void {
    this.#checkId(id);
    const w = id >>> 5;
    const bit = 1 << (id & 31);
    const word = this.#words[w] as number;
    assert((word & bit) === 0, 'LinearizedSet.set: id not already set');
    this.#words[w] = word | bit;
    this.#count++;
    this.#hash ^= idHash(id);
    if (w > this.#hiWordHint) this.#hiWordHint = w;
  }

  /** clear removes `id`, which must be in the set. */
  clear(id: number): void {
    this.#checkId(id);
    const w = id >>> 5;
    const bit = 1 << (id & 31);
    const word = this.#words[w] as number;
    assert((word & bit) !== 0, 'LinearizedSet.clear: id is set');
    this.#words[w] = word & ~bit;
    this.#count--;
    this.#hash ^= idHash(id);
    if (w < this.#loWordHint) this.#loWordHint = w;
  }

  /** matches says whether this set equals the one `window` was taken from. */
  matches(window: LinearizedSetWindow): boolean {
    this.#normalize();
    if (window.loWord !== this.#loWordHint) return false;
    const length = Math.max(0, this.#hiWordHint - this.#loWordHint + 1);
    if (window.words.length !== length) return false;
    const words = this.#words;
    const lo = this.#loWordHint;
    for (let i = 0; i < length; i++) {
      if (window.words[i] !== words[lo + i]) return false;
    }
    return true;
  }

  /** includes says whether every id of the set `window` was taken from is also in this set (subset test). */
  includes(window: LinearizedSetWindow): boolean {
    this.#normalize();
    // Words below window.loWord are full in the other set, so they must be full here.
    if (window.loWord > this.#loWordHint) return false;
    const words = this.#words;
    for (let i = 0; i < window.words.length; i++) {
      const w = window.loWord + i;
      const mine = w < this.#loWordHint ? WORD_FULL : w <= this.#hiWordHint ? (words[w] as number) : 0;
      if (((window.words[i] as number) & ~mine) !== 0) return false;
    }
    return true;
  }

  /** window takes a canonical snapshot of the set (a copy; later changes do not affect it). */
  window(): LinearizedSetWindow {
    this.#normalize();
    const length = Math.max(0, this.#hiWordHint - this.#loWordHint + 1);
    const words = this.#words.slice(this.#loWordHint, this.#loWordHint + length);
    assert(words.length === length, 'LinearizedSet.window: copied the whole window');
    return { loWord: this.#loWordHint, words };
  }

  /** #normalize moves both hints to their canonical positions (first non-full word, last non-zero word). */
  #normalize(): void {
    const words = this.#words;
    while (this.#loWordHint < words.length && words[this.#loWordHint] === WORD_FULL) this.#loWordHint++;
    while (this.#hiWordHint >= 0 && words[this.#hiWordHint] === 0) this.#hiWordHint--;
  }

  #checkId(id: number): void {
    assert(Number.isInteger(id), 'LinearizedSet id is an integer');
    assert(id >= 0 && id < this.size, 'LinearizedSet id in [0, size)');
  }
}
