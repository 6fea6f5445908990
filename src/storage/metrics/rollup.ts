/**
 * rollup.ts — mergeable partial aggregates of float samples per time window
 * (5 minutes, 1 hour): the rollups a flush writes and a coarse read merges.
 * Pure code, no I/O.
 *
 * A partial covers the samples of one series in one window written by one
 * flush (or held by a head). Because the store keeps the last write of a
 * timestamp, the last sample of an earlier partial may be replaced by the
 * first sample of a later one (same timestamp, written after a flush). So a
 * partial keeps its last sample apart from the aggregate of the others (the
 * "body"):
 *
 *   body = min, max, sum, count of every sample but the last; last, lastT; firstT
 *
 * mergeInto(a, b) (b written after a): when b.firstT === a.lastT, a's last
 * sample is dropped (replaced); otherwise it joins the body. The result's
 * value is body ⊕ last: count = bodyCount + 1, sum = bodySum + last, and so on.
 * min and max use Math.min / Math.max (a NaN sample makes them NaN).
 *
 * Resolution rule (pickResolution): a read with step S uses the coarsest
 * rollup whose window is ≤ S: 1h when S ≥ 1h, 5m when S ≥ 5m, raw samples
 * otherwise. A coarser window than the step would merge samples of several
 * steps into one point.
 */
import { assert } from '../../errors.js';

/** Resolution is a read's sample resolution: raw samples or one of the rollup windows. */
export type Resolution = 'raw' | '5m' | '1h';

/** ROLLUP_WINDOW_MS is each rollup resolution's window in ms. */
export const ROLLUP_WINDOW_MS = { '5m': 300_000, '1h': 3_600_000 } as const;

/** RollupResolution is a resolution that has rollups. */
export type RollupResolution = keyof typeof ROLLUP_WINDOW_MS;

/** ROLLUP_RESOLUTIONS lists the rollups a flush writes, finest first; the byte is their tag in keys. */
export const ROLLUP_RESOLUTIONS: readonly { readonly res: RollupResolution; readonly tag: number }[] = [
  { res: '5m', tag: 1 },
  { res: '1h', tag: 2 },
];

/** pickResolution is the coarsest resolution whose window is ≤ stepMs (see the file comment). */
export function pickResolution(stepMs: number): Resolution {
  if (stepMs >= ROLLUP_WINDOW_MS['1h']) return '1h';
  if (stepMs >= ROLLUP_WINDOW_MS['5m']) return '5m';
  return 'raw';
}

/** RollupPartial is one series' partial aggregate of one window (mutable while merging). */
export interface RollupPartial {
  /** startMs is the window's start (a multiple of the window). */
  startMs: number;
  firstT: number;
  lastT: number;
  last: number;
  bodyCount: number;
  bodyMin: number;
  bodyMax: number;
  bodySum: number;
}

/** RollupPoint is the value of a window: what a coarse read returns. */
export interface RollupPoint {
  readonly startMs: number;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
  readonly count: number;
  readonly last: number;
  readonly lastT: number;
}

/** partialsOf cuts sorted, timestamp-unique samples into one partial per window. */
export function partialsOf(ts: ArrayLike<number>, vs: ArrayLike<number>, n: number, windowMs: number): RollupPartial[] {
  assert(n <= ts.length && n <= vs.length, 'n within the columns');
  assert(windowMs > 0, 'windowMs > 0');
  const out: RollupPartial[] = [];
  let cur: RollupPartial | null = null;
  for (let i = 0; i < n; i++) {
    const t = ts[i] as number;
    const v = vs[i] as number;
    const start = Math.floor(t / windowMs) * windowMs;
    if (cur === null || cur.startMs !== start) {
      assert(cur === null || start > cur.startMs, 'samples are sorted');
      cur = { startMs: start, firstT: t, lastT: t, last: v, bodyCount: 0, bodyMin: Infinity, bodyMax: -Infinity, bodySum: 0 };
      out.push(cur);
      continue;
    }
    assert(t > cur.lastT, 'samples are strictly increasing');
    addToBody(cur, cur.last);
    cur.last = v;
    cur.lastT = t;
  }
  return out;
}

function addToBody(p: RollupPartial, v: number): void {
  p.bodyCount++;
  p.bodySum += v;
  p.bodyMin = Math.min(p.bodyMin, v);
  p.bodyMax = Math.max(p.bodyMax, v);
}

/** mergeInto merges partial b (written after a, same window) into a. */
export function mergeInto(a: RollupPartial, b: RollupPartial): void {
  assert(a.startMs === b.startMs, 'partials of one window');
  const replaced = b.firstT === a.lastT;
  if (!replaced) addToBody(a, a.last);
  else if (a.bodyCount === 0) a.firstT = b.firstT;
  a.bodyCount += b.bodyCount;
  a.bodySum += b.bodySum;
  a.bodyMin = Math.min(a.bodyMin, b.bodyMin);
  a.bodyMax = Math.max(a.bodyMax, b.bodyMax);
  a.last = b.last;
  a.lastT = b.lastT;
}

/** pointOf is the value of a (merged) partial. */
export function pointOf(p: RollupPartial): RollupPoint {
  return {
    startMs: p.startMs,
    min: Math.min(p.bodyMin, p.last),
    max: Math.max(p.bodyMax, p.last),
    sum: p.bodySum + p.last,
    count: p.bodyCount + 1,
    last: p.last,
    lastT: p.lastT,
  };
}
