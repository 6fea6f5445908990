/**
 * token-bucket.ts — the per-tenant ingest rate limit (DESIGN.md §5 step 1):
 * a bucket of `burst` tokens refilled at `ratePerSec`; a request takes one
 * token per item. Time is injected (ms), so the bucket is pure.
 *
 * Invariant: 0 <= tokens <= burst after every call.
 */
import { assert } from '../errors.js';

/** TokenBucket is one tenant's rate limit; see the top of this file. */
export class TokenBucket {
  #ratePerSec: number;
  #burst: number;
  #tokens: number;
  #lastMs: number;

  constructor(ratePerSec: number, burst: number, nowMs: number) {
    this.#ratePerSec = 0;
    this.#burst = 0;
    this.#tokens = 0;
    this.#lastMs = nowMs;
    this.configure(ratePerSec, burst, nowMs);
    this.#tokens = this.#burst;
  }

  /** configure changes rate and burst (the meta config changed), keeping the tokens already earned up to the new burst. */
  configure(ratePerSec: number, burst: number, nowMs: number): void {
    assert(Number.isFinite(ratePerSec) && ratePerSec > 0, 'token bucket rate > 0');
    assert(Number.isFinite(burst) && burst >= 1, 'token bucket burst >= 1');
    this.#refill(nowMs);
    this.#ratePerSec = ratePerSec;
    this.#burst = burst;
    this.#tokens = Math.min(this.#tokens, burst);
  }

  /**
   * take removes `n` tokens when there are that many and returns 0; else it
   * takes nothing and returns the ms to wait until there would be (for
   * Retry-After). A request larger than the burst can never pass: it gets
   * Infinity, and the caller refuses it as too large for the tenant's limit.
   */
  take(n: number, nowMs: number): number {
    assert(Number.isSafeInteger(n) && n >= 0, 'take a whole number of tokens');
    this.#refill(nowMs);
    if (n > this.#burst) return Infinity;
    if (this.#tokens >= n) {
      this.#tokens -= n;
      return 0;
    }
    return Math.ceil(((n - this.#tokens) / this.#ratePerSec) * 1000);
  }

  /** tokens is the bucket's level at `nowMs` (for tests and /metrics). */
  tokens(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens;
  }

  #refill(nowMs: number): void {
    const dt = nowMs - this.#lastMs;
    if (dt > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (dt * this.#ratePerSec) / 1000);
      this.#lastMs = nowMs;
    }
    assert(this.#tokens >= 0 && this.#tokens <= this.#burst, 'tokens within [0, burst]');
  }
}
