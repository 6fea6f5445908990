/**
 * test-prng.ts — a seeded generator for the partition tests (mulberry32), so
 * every statistical test sees the same keys on every run. Test-only: nothing
 * outside *.test.ts imports it.
 */
import { assert } from '../errors.js';

/** TestPrng yields a reproducible stream of numbers and bytes from one seed. */
export class TestPrng {
  #state: number;

  constructor(seed: number) {
    assert(Number.isInteger(seed), 'seed is an integer');
    this.#state = seed >>> 0;
  }

  /** nextU32 is the next unsigned 32-bit value. */
  nextU32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** nextInt is uniform in [0, bound). */
  nextInt(bound: number): number {
    assert(Number.isInteger(bound) && bound > 0 && bound <= 2 ** 32, 'bound in (0, 2^32]');
    return Math.floor((this.nextU32() / 2 ** 32) * bound);
  }

  /** bytes is `length` random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.nextU32() & 0xff;
    return out;
  }

  /** u64 is a random unsigned 64-bit bigint. */
  u64(): bigint {
    return (BigInt(this.nextU32()) << 32n) | BigInt(this.nextU32());
  }
}
