/**
 * seeded-rand.ts — the project's one small deterministic random source
 * (mulberry32) outside the simulator: CrashFileSystem's torn writes, the
 * tests of storage, partitioning and the Raft core, and the benchmarks. One
 * seed reproduces a whole run; there is no global state. (The simulator's
 * Prng in jepsen-style-tests/sim adds forking of independent streams.)
 */
import { assert } from '../errors.js';

/** IntnRand is the random source CrashFileSystem needs: a uniform integer in [0, n). Raft's `Rand` has the same shape. */
export interface IntnRand {
  intn(n: number): number;
}

/** SeededRand is mulberry32: 32 bits of state, good enough for tests, identical on every platform. */
export class SeededRand implements IntnRand {
  #state: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), 'seed is an integer');
    this.#state = seed >>> 0;
  }

  /** nextU32 returns the next 32-bit output. */
  nextU32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** intn returns a uniform integer in [0, n) for 1 <= n <= 2^32. */
  intn(n: number): number {
    assert(Number.isSafeInteger(n) && n >= 1, 'intn n >= 1');
    assert(n <= 0x1_0000_0000, 'intn n <= 2^32');
    const r = Math.floor((this.nextU32() / 0x1_0000_0000) * n);
    assert(r >= 0 && r < n, 'intn result in [0, n)');
    return r;
  }

  /** bytes returns `length` random bytes. */
  bytes(length: number): Uint8Array {
    assert(Number.isSafeInteger(length) && length >= 0, 'bytes length >= 0');
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.nextU32() & 0xff;
    return out;
  }

  /** u64 returns a random unsigned 64-bit bigint. */
  u64(): bigint {
    return (BigInt(this.nextU32()) << 32n) | BigInt(this.nextU32());
  }
}
