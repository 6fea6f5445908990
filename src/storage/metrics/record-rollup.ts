/**
 * record-rollup.ts — mergeable partial aggregates of histogram, exponential
 * histogram and summary points per time window (5m, 1h), the record
 * counterpart of rollup.ts, with the same last-write-wins rule: a partial
 * keeps its last point apart from the aggregate of the others (the body), and
 * mergeInto(a, b) drops a's last point when b starts at a's last timestamp.
 *
 * An aggregate (RecordAgg) sums over points: points, count, sum (an absent
 * histogram sum counts as 0), and for explicit histograms the bucket counts
 * bucket by bucket while every point has the same bounds; once two different
 * bounds meet, the window is `mixed` and has no bucket sums (count and sum
 * stay exact). NB: exponential histograms and summaries get count and sum
 * only: summing exponential buckets needs rescaling to a common scale, and
 * summary quantiles do not add. NB: bucket sums of cumulative histograms add
 * cumulative counts, as asked; a query over cumulative data reads `last`.
 */
import { assert } from '../../errors.js';
import type { RecordData } from './store-format.js';

/** RecordAgg is the aggregate of some points of one series in one window. */
export interface RecordAgg {
  points: number;
  count: number;
  sum: number;
  /** bounds are the explicit bucket bounds shared by every point (null: not a histogram, or mixed). */
  bounds: number[] | null;
  /** buckets are the bucket counts summed bucket by bucket (null when bounds is). */
  buckets: number[] | null;
  mixed: boolean;
}

/** RecordRollupPartial is one series' partial of one window. */
export interface RecordRollupPartial {
  startMs: number;
  firstT: number;
  lastT: number;
  body: RecordAgg;
  last: RecordAgg;
}

/** RecordRollupPoint is the value of a window. */
export interface RecordRollupPoint {
  readonly startMs: number;
  readonly lastT: number;
  readonly points: number;
  readonly count: number;
  readonly sum: number;
  readonly bounds: readonly number[] | null;
  readonly buckets: readonly number[] | null;
  readonly mixed: boolean;
}

/** emptyAgg is the aggregate of no points. */
export function emptyAgg(): RecordAgg {
  return { points: 0, count: 0, sum: 0, bounds: null, buckets: null, mixed: false };
}

/** aggOf is the aggregate of one point. */
export function aggOf(d: RecordData): RecordAgg {
  const h = d.type === 'histogram';
  return {
    points: 1,
    count: d.count,
    sum: d.sum ?? 0,
    bounds: h ? d.bounds.slice() : null,
    buckets: h ? d.bucketCounts.slice() : null,
    mixed: false,
  };
}

/** addAgg adds b into a. */
export function addAgg(a: RecordAgg, b: RecordAgg): void {
  if (b.points === 0) return;
  if (a.points === 0) {
    a.points = b.points;
    a.count = b.count;
    a.sum = b.sum;
    a.bounds = b.bounds === null ? null : b.bounds.slice();
    a.buckets = b.buckets === null ? null : b.buckets.slice();
    a.mixed = b.mixed;
    return;
  }
  a.points += b.points;
  a.count += b.count;
  a.sum += b.sum;
  if (a.mixed || b.mixed || a.bounds === null || b.bounds === null || a.buckets === null || b.buckets === null || !sameBounds(a.bounds, b.bounds)) {
    a.mixed = a.mixed || b.mixed || (a.bounds !== null && b.bounds !== null && !sameBounds(a.bounds, b.bounds));
    a.bounds = null;
    a.buckets = null;
    return;
  }
  assert(a.buckets.length === b.buckets.length, 'same bounds, same bucket count');
  for (let i = 0; i < a.buckets.length; i++) a.buckets[i] = (a.buckets[i] as number) + (b.buckets[i] as number);
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** recordPartialsOf cuts sorted, timestamp-unique points into one partial per window. */
export function recordPartialsOf(points: readonly { readonly t: number; readonly data: RecordData }[], windowMs: number): RecordRollupPartial[] {
  const out: RecordRollupPartial[] = [];
  let cur: RecordRollupPartial | null = null;
  for (const p of points) {
    const start = Math.floor(p.t / windowMs) * windowMs;
    if (cur === null || cur.startMs !== start) {
      cur = { startMs: start, firstT: p.t, lastT: p.t, body: emptyAgg(), last: aggOf(p.data) };
      out.push(cur);
      continue;
    }
    assert(p.t > cur.lastT, 'points are strictly increasing');
    addAgg(cur.body, cur.last);
    cur.last = aggOf(p.data);
    cur.lastT = p.t;
  }
  return out;
}

/** mergeRecordInto merges partial b (written after a, same window) into a. */
export function mergeRecordInto(a: RecordRollupPartial, b: RecordRollupPartial): void {
  assert(a.startMs === b.startMs, 'partials of one window');
  const replaced = b.firstT === a.lastT;
  if (!replaced) addAgg(a.body, a.last);
  else if (a.body.points === 0) a.firstT = b.firstT;
  addAgg(a.body, b.body);
  a.last = b.last;
  a.lastT = b.lastT;
}

/** recordPointOf is the value of a (merged) partial. */
export function recordPointOf(p: RecordRollupPartial): RecordRollupPoint {
  const all = emptyAgg();
  addAgg(all, p.body);
  addAgg(all, p.last);
  return { startMs: p.startMs, lastT: p.lastT, points: all.points, count: all.count, sum: all.sum, bounds: all.bounds, buckets: all.buckets, mixed: all.mixed };
}
