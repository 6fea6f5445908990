/**
 * extrapolation-factor.ts — the factor extrapolatedRate multiplies a
 * window's change by, computed once for the windows that share its inputs.
 *
 * range-functions.ts extrapolate makes, a window, seven divisions of which
 * only one depends on the window's values (`firstV / result`, for a
 * counter's clamp at zero); the others depend on four numbers: the
 * distances from the window's start to its first sample and from its last
 * sample to its end, the span between the first and last sample (all in
 * ms, as doubles) and the sample count. A regular series on a grid (a
 * scrape interval, a step that is a multiple of it) gives every window the
 * same four numbers, so rate-scan.ts keeps the last window's key and factor
 * (FactorMemo) and pays the divisions only when the key changes. Equal
 * inputs to the same operations give equal bits, so a memoized factor is
 * exactly the one extrapolate would have computed; the clamp is still
 * tested every window and, when it moves the start, the window goes
 * through extrapolate itself.
 *
 * Owner: a FactorMemo belongs to one scan of one series (rate-scan.ts
 * scanRate); nothing outlives it.
 */

import { clampFreeRatio } from './clamp-bound.js';

/**
 * FactorMemo is the key and the results of the last extrapolationFactor a
 * scan computed. NaN keys never compare equal, so a fresh memo misses.
 */
export class FactorMemo {
  /** startGapMs, endGapMs, sampledMs and n are the key: firstT − startMs, endMs − lastT, lastT − firstT (ms) and the window's samples. */
  startGapMs = NaN;
  endGapMs = NaN;
  sampledMs = NaN;
  n = -1;
  /** durationToStartSec and sampledIntervalSec are extrapolate's values for the key (the clamp's inputs). */
  durationToStartSec = 0;
  sampledIntervalSec = 0;
  /** factor is extrapolate's factor for the key, before any clamp at zero. */
  factor = 0;
  /** clampRatio is the key's clamp-bound.ts clampFreeRatio: windows with firstV > result × clampRatio skip the clamp's test. */
  clampRatio = Infinity;

  /** fill computes the memo's values for a new key with extrapolate's operations in its order (no clamp). */
  fill(startGapMs: number, endGapMs: number, sampledMs: number, n: number, isRate: boolean, rangeSec: number): void {
    const durationToStart = startGapMs / 1000;
    const sampledInterval = sampledMs / 1000;
    const factor = extrapolationFactor(durationToStart, endGapMs / 1000, sampledInterval, n, isRate, rangeSec);
    this.startGapMs = startGapMs;
    this.endGapMs = endGapMs;
    this.sampledMs = sampledMs;
    this.n = n;
    this.durationToStartSec = durationToStart;
    this.sampledIntervalSec = sampledInterval;
    this.factor = factor;
    this.clampRatio = clampFreeRatio(durationToStart, sampledInterval);
  }

  /** reset forgets the key (a new series, or a scan with other isRate/rangeSec). */
  reset(): void {
    this.startGapMs = NaN;
    this.n = -1;
  }
}

/**
 * extrapolationFactor is the factor Prometheus's extrapolatedRate multiplies
 * a window's delta by: the sampled interval stretched to the window's edges
 * (by at most half an average interval past the first and last sample),
 * divided by `rangeSec` for a rate. Durations in seconds; `durationToStart`
 * is already clamped at a counter's zero by the caller when that applies.
 * extrapolate (range-functions.ts) and FactorMemo share it, so the memo's
 * factor is the same float operations in the same order, bit for bit.
 */
export function extrapolationFactor(durationToStart: number, durationToEnd: number, sampledInterval: number, n: number, isRate: boolean, rangeSec: number): number {
  const averageDurationBetweenSamples = sampledInterval / (n - 1);
  const threshold = averageDurationBetweenSamples * 1.1;
  let extrapolateToInterval = sampledInterval;
  extrapolateToInterval += durationToStart < threshold ? durationToStart : averageDurationBetweenSamples / 2;
  extrapolateToInterval += durationToEnd < threshold ? durationToEnd : averageDurationBetweenSamples / 2;
  let factor = extrapolateToInterval / sampledInterval;
  if (isRate) factor /= rangeSec;
  return factor;
}
