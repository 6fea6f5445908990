/**
 * histogram.ts — histogram_quantile over classic `le` buckets, as
 * Prometheus 2.42's bucketQuantile computes it (buckets sorted and
 * coalesced, counts forced monotonic, linear interpolation inside the
 * bucket holding the rank).
 */

import type { Sample } from './labels.js';
import { labelsKey } from './labels.js';
import type { PromLabels } from './source.js';

interface Bucket {
  upperBound: number;
  count: number;
}

/** bucketQuantile is the φ-quantile of one histogram's cumulative buckets. */
export function bucketQuantile(q: number, input: readonly Bucket[]): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...input].sort((a, b) => a.upperBound - b.upperBound);
  const lastB = sorted[sorted.length - 1];
  if (lastB === undefined || lastB.upperBound !== Infinity) return NaN;
  const buckets: Bucket[] = [];
  for (const b of sorted) {
    const prev = buckets[buckets.length - 1];
    if (prev !== undefined && prev.upperBound === b.upperBound) prev.count += b.count;
    else buckets.push({ ...b });
  }
  let max = -Infinity;
  for (const b of buckets) {
    if (b.count > max) max = b.count;
    else if (b.count < max) b.count = max;
  }
  if (buckets.length < 2) return NaN;
  const observations = (buckets[buckets.length - 1] as Bucket).count;
  if (observations === 0) return NaN;
  let rank = q * observations;
  let b = 0;
  while (b < buckets.length - 1 && (buckets[b] as Bucket).count < rank) b++;
  if (b === buckets.length - 1) return (buckets[buckets.length - 2] as Bucket).upperBound;
  if (b === 0 && (buckets[0] as Bucket).upperBound <= 0) return (buckets[0] as Bucket).upperBound;
  let bucketStart = 0;
  const bucketEnd = (buckets[b] as Bucket).upperBound;
  let count = (buckets[b] as Bucket).count;
  if (b > 0) {
    const prev = buckets[b - 1] as Bucket;
    bucketStart = prev.upperBound;
    count -= prev.count;
    rank -= prev.count;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

/** histogramQuantile groups a vector's bucket samples by their labels without `le` and the name, and answers each group's quantile. */
export function histogramQuantile(q: number, vec: readonly Sample[]): Sample[] {
  const groups = new Map<string, { labels: PromLabels; buckets: Bucket[] }>();
  for (const s of vec) {
    const le = s.labels.find((l) => l.name === 'le');
    if (le === undefined) continue;
    const ub = parseLe(le.value);
    if (ub === null) continue;
    const labels = s.labels.filter((l) => l.name !== 'le' && l.name !== '__name__');
    const k = labelsKey(labels);
    let g = groups.get(k);
    if (g === undefined) {
      g = { labels, buckets: [] };
      groups.set(k, g);
    }
    g.buckets.push({ upperBound: ub, count: s.value });
  }
  return [...groups.values()].map((g) => ({ labels: g.labels, value: bucketQuantile(q, g.buckets) }));
}

function parseLe(s: string): number | null {
  const l = s.toLowerCase();
  if (l === '+inf' || l === 'inf') return Infinity;
  if (l === '-inf') return -Infinity;
  if (l === 'nan') return NaN;
  const v = Number(s);
  return s.trim() === '' || Number.isNaN(v) ? null : v;
}
