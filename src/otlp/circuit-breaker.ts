/**
 * circuit-breaker.ts — one breaker per peer, so that a dead or drowning node
 * is not hammered by every request's retries (DESIGN.md §5 step 3).
 *
 * States: `closed` (calls go through; consecutive failures are counted),
 * `open` (after failuresToOpen consecutive failures: calls are refused
 * without trying, for openMs), `halfOpen` (after openMs: one probe call is
 * let through at a time; its success closes the breaker, its failure opens
 * it again for openMs). Time is injected (ms, any monotonic origin), so the
 * breaker is pure and its tests are exact.
 *
 * Invariants: failures < failuresToOpen while closed; at most one probe in
 * flight while half-open; openUntilMs is set exactly while open.
 */
import { assert } from '../errors.js';

/** BreakerState is a breaker's state as /metrics and tests see it. */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

/** BreakerPolicy configures a CircuitBreaker. */
export interface BreakerPolicy {
  /** failuresToOpen consecutive failures open the breaker. */
  readonly failuresToOpen: number;
  /** openMs is how long an open breaker refuses before it lets a probe through. */
  readonly openMs: number;
}

/** CircuitBreaker guards the calls to one peer; see the top of this file. */
export class CircuitBreaker {
  readonly #p: BreakerPolicy;
  #failures = 0;
  #openUntilMs: number | null = null;
  #probing = false;
  /** opened counts transitions into `open` (exported in /metrics). */
  opened = 0;

  constructor(policy: BreakerPolicy) {
    assert(Number.isSafeInteger(policy.failuresToOpen) && policy.failuresToOpen >= 1, 'failuresToOpen >= 1');
    assert(Number.isSafeInteger(policy.openMs) && policy.openMs >= 1, 'openMs >= 1');
    this.#p = policy;
  }

  /** state is the breaker's state at `nowMs`. */
  state(nowMs: number): BreakerState {
    if (this.#openUntilMs === null) return 'closed';
    return nowMs < this.#openUntilMs ? 'open' : 'halfOpen';
  }

  /**
   * tryAcquire says whether a call may go out now. While half-open it admits
   * one probe; the caller must then report success or failure exactly once.
   */
  tryAcquire(nowMs: number): boolean {
    const s = this.state(nowMs);
    if (s === 'closed') return true;
    if (s === 'open' || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  /** success records a call that reached the peer and got an answer (any answer the peer chose to give). */
  success(): void {
    this.#failures = 0;
    this.#openUntilMs = null;
    this.#probing = false;
  }

  /** failure records a call the peer did not answer (unreachable, timed out, closed). */
  failure(nowMs: number): void {
    if (this.#openUntilMs !== null) {
      // A failed probe (or a late failure of a call made before opening) opens it again.
      this.#openUntilMs = nowMs + this.#p.openMs;
      this.#probing = false;
      return;
    }
    this.#failures++;
    if (this.#failures >= this.#p.failuresToOpen) {
      this.#failures = 0;
      this.#openUntilMs = nowMs + this.#p.openMs;
      this.opened++;
    }
    assert(this.#failures < this.#p.failuresToOpen, 'closed breaker below its threshold');
  }
}
