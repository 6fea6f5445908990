/**
 * backoff.ts — the reconnect delay of the peer transport: exponential in the
 * number of consecutive failures, capped, with jitter from an injected
 * random source so that tests are reproducible and peers that lost a node at
 * the same moment do not redial it in lockstep.
 */
import { assert } from '../errors.js';
import type { Rand } from '../raft/types.js';
import { TransportLimits } from '../limits.js';

/** BackoffPolicy configures reconnectDelayMs; defaults come from TransportLimits. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly jitterPercent: number;
}

/** DEFAULT_BACKOFF is the policy a transport uses unless its options override it. */
export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: TransportLimits.reconnectBackoffBaseMs,
  maxMs: TransportLimits.reconnectBackoffMaxMs,
  jitterPercent: TransportLimits.reconnectJitterPercent,
};

/** checkBackoffPolicy refuses a policy whose delays would be zero, negative or uncapped. */
export function checkBackoffPolicy(p: BackoffPolicy): void {
  assert(Number.isSafeInteger(p.baseMs) && p.baseMs >= 1, 'backoff baseMs >= 1');
  assert(Number.isSafeInteger(p.maxMs) && p.maxMs >= p.baseMs, 'backoff maxMs >= baseMs');
  assert(Number.isSafeInteger(p.jitterPercent) && p.jitterPercent >= 0 && p.jitterPercent < 100, 'jitterPercent in [0, 100)');
}

/**
 * reconnectDelayMs is the wait before redial number `failures` (1 after the
 * first failure): min(maxMs, baseMs * 2^(failures-1)), reduced by a uniform
 * jitter of up to jitterPercent. The result is in [1, maxMs].
 */
export function reconnectDelayMs(failures: number, rand: Rand, p: BackoffPolicy = DEFAULT_BACKOFF): number {
  assert(Number.isSafeInteger(failures) && failures >= 1, 'failures >= 1');
  // 2^30 already exceeds any sane cap; bounding the exponent keeps the product exact.
  const exp = Math.min(failures - 1, 30);
  const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** exp);
  const jitterMs = p.jitterPercent === 0 ? 0 : rand.intn(Math.floor((ceiling * p.jitterPercent) / 100) + 1);
  const delay = Math.max(1, ceiling - jitterMs);
  assert(delay >= 1 && delay <= p.maxMs, 'delay in [1, maxMs]');
  return delay;
}
