/**
 * prng.ts — the seeded random source of the simulator.
 *
 * Invariants:
 * - Every draw is a pure function of the 32-bit seed and the fork labels that
 *   led to this stream; nothing here reads a clock or Math.random().
 * - `fork(label)` does not consume draws from its parent, so adding a draw in
 *   one subsystem (say the workload) never shifts another (the network).
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counting
 * generator, 128 bits of state), seeded through splitmix32 so that nearby
 * seeds give unrelated streams.
 */
import { assert } from '../../src/errors.js';
import type { Rand } from '../../src/raft/types.js';

/** PrngWarmupDraws is how many outputs are discarded after seeding, as the sfc32 authors advise. */
const PrngWarmupDraws = 12;

/** splitmix32 advances a 32-bit state and returns a well-mixed 32-bit output (state, output). */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z = z ^ (z >>> 15);
  return [next, z >>> 0];
}

/** hashLabel is FNV-1a over the UTF-16 code units of a fork label, mixed with the parent seed. */
function hashLabel(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return splitmix32(h)[1];
}

/**
 * Prng is the simulator's random stream. It implements the Raft core's
 * `Rand` (intn) so each simulated node can be handed its own forked stream,
 * and adds the draws the simulator needs (float, chance, pick, shuffle).
 */
export class Prng implements Rand {
  /** seed is the 32-bit seed this stream was created from (after any forks). */
  readonly seed: number;
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    assert(Number.isInteger(seed), 'prng seed is an integer');
    assert(seed >= 0 && seed <= 0xffffffff, 'prng seed fits in 32 bits');
    this.seed = seed >>> 0;
    const [s1, a] = splitmix32(this.seed);
    const [s2, b] = splitmix32(s1);
    const [, c] = splitmix32(s2);
    this.#a = a;
    this.#b = b;
    this.#c = c;
    this.#d = 1;
    for (let i = 0; i < PrngWarmupDraws; i++) this.nextU32();
  }

  /** nextU32 returns a uniform 32-bit unsigned integer (sfc32). */
  nextU32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = ((c << 21) | (c >>> 11)) + t;
    this.#c |= 0;
    return t >>> 0;
  }

  /** float returns a uniform number in [0, 1) with 32 bits of precision. */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** intn returns a uniform integer in [0, n) for 1 <= n <= 2^32 (the Raft core's Rand). */
  intn(n: number): number {
    assert(Number.isInteger(n), 'intn bound is an integer');
    assert(n >= 1 && n <= 4294967296, 'intn bound in [1, 2^32]');
    // Multiply-shift (Lemire) without rejection: the bias is below n / 2^32,
    // far below anything the simulator can observe.
    return Math.floor(this.float() * n);
  }

  /** range returns a uniform integer in [lo, hi] (both inclusive). */
  range(lo: number, hi: number): number {
    assert(hi >= lo, 'range hi >= lo');
    return lo + this.intn(hi - lo + 1);
  }

  /** chance returns true with probability p (p outside [0, 1] is clamped by the comparison). */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** pick returns a uniform element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from a non-empty array');
    const item = items[this.intn(items.length)];
    return item as T;
  }

  /** shuffle permutes an array in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.intn(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** fork derives an independent stream named by `label`; it does not advance this stream. */
  fork(label: string): Prng {
    return new Prng(hashLabel(this.seed, label));
  }
}
