/**
 * metrics-prom-records.ts — histogram, exponential histogram and summary
 * points (the store's records) as Prometheus float series, the expansion
 * metrics-prom-view.ts describes. Pure.
 *
 * Classic histogram point: `_bucket{le=b}` for each bound b, the cumulative
 * count of buckets up to b; `_bucket{le="+Inf"}` = count; `_sum` (when OTLP
 * has one); `_count`. A point without buckets gives only `+Inf`, `_sum`,
 * `_count`.
 *
 * Exponential histogram point → classic buckets, documented conversion:
 * with base = 2^(2^-scale), positive bucket at index i covers
 * (base^i, base^(i+1)] and becomes le = base^(i+1); negative bucket at
 * index i covers [-base^(i+1), -base^i) and becomes le = -base^i; the zero
 * bucket becomes le = zeroThreshold (le = 0 when the threshold is 0).
 * Counts are cumulated from the most negative bound; `+Inf` is the count.
 * When the point has more than MetricsQueryLimits.expBucketsMax buckets it
 * is downscaled first (adjacent pairs merged, scale − 1, as OTLP defines
 * downscaling) until it fits. So histogram_quantile interpolates within one
 * exponential bucket, as it does for any classic bucket.
 * NB: points of one series at different scales give different `le` sets;
 * histogram_quantile at a step reads each `le` series' latest sample within
 * the lookback, so a scale change mixes bucket layouts for up to 5 minutes.
 *
 * Summary point: `{quantile=q}` per quantile on the base name, `_sum`,
 * `_count`. Bound and quantile values are spelled as Prometheus does
 * (formatPromFloat: shortest round-trip, `+Inf`).
 *
 * A point flagged no-recorded-value answers Prometheus's staleness marker in
 * every series it expands to, as Prometheus's OTLP translator writes it.
 */
import { MetricsQueryLimits } from '../limits.js';
import type { RecordData, RecordPoint } from '../storage/metrics/store-format.js';
import { STALE_NAN, noRecordedValue } from '../storage/metrics/staleness.js';
import type { ExponentialBuckets } from '../storage/rows.js';
import type { FloatSeries, PromLabel } from './promql/source.js';
import type { PromFamily } from './metrics-prom-view.js';
import { withName } from './metrics-prom-view.js';

/** formatPromFloat spells a float as Prometheus does in labels and JSON values (Go's FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent; `+Inf`, `-Inf`, `NaN`). */
export function formatPromFloat(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  const s = String(v);
  // Only an exponent form needs rewriting (most values have none: no regex for them).
  if (!s.includes('e')) return s;
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (m === null) return s;
  const sign = m[1] as string;
  const digits = (m[2] as string) + (m[3] ?? '');
  const point = 1 + Number(m[4]);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** classicBuckets is a histogram point's (upper bound, cumulative count) pairs, ascending, without `+Inf`. */
export function classicBuckets(d: RecordData): [number, number][] {
  const out: [number, number][] = [];
  if (d.type === 'histogram') {
    let acc = 0;
    for (let i = 0; i < d.bounds.length; i++) {
      acc += d.bucketCounts[i] ?? 0;
      out.push([d.bounds[i] as number, acc]);
    }
    return out;
  }
  if (d.type !== 'exponentialHistogram') return out;
  let scale = d.scale;
  let pos = d.positive;
  let neg = d.negative;
  while (pos.bucketCounts.length + neg.bucketCounts.length > MetricsQueryLimits.expBucketsMax) {
    pos = downscale(pos);
    neg = downscale(neg);
    scale--;
  }
  const base = Math.pow(2, Math.pow(2, -scale));
  let acc = 0;
  // Negative buckets from the most negative (highest index) up.
  for (let k = neg.bucketCounts.length - 1; k >= 0; k--) {
    acc += neg.bucketCounts[k] as number;
    out.push([-Math.pow(base, neg.offset + k), acc]);
  }
  acc += d.zeroCount;
  out.push([d.zeroThreshold, acc]);
  for (let k = 0; k < pos.bucketCounts.length; k++) {
    acc += pos.bucketCounts[k] as number;
    out.push([Math.pow(base, pos.offset + k + 1), acc]);
  }
  // Bounds must increase strictly: drop a repeated bound (a zero threshold equal to the first positive lower bound), keeping the later count.
  const strict: [number, number][] = [];
  for (const b of out) {
    const last = strict[strict.length - 1];
    if (last !== undefined && b[0] <= last[0]) last[1] = b[1];
    else strict.push([b[0], b[1]]);
  }
  return strict;
}

/** downscale merges adjacent exponential buckets (index i → floor(i / 2)), OTLP's scale − 1. */
function downscale(b: ExponentialBuckets): ExponentialBuckets {
  if (b.bucketCounts.length === 0) return b;
  const offset = Math.floor(b.offset / 2);
  const counts: number[] = [];
  for (let k = 0; k < b.bucketCounts.length; k++) {
    const j = Math.floor((b.offset + k) / 2) - offset;
    counts[j] = (counts[j] ?? 0) + (b.bucketCounts[k] as number);
  }
  return { offset, bucketCounts: Array.from(counts, (c) => c ?? 0) };
}

/**
 * SeriesBuilder collects the samples of the series one family expands to,
 * keyed by their extra label. A point with no recorded value gives every
 * series a staleness marker at its time, written into the built column (a
 * JS array would quiet the marker's signalling NaN: storage/metrics/staleness.ts).
 */
class SeriesBuilder {
  readonly #series = new Map<string, { labels: PromLabel[]; ts: number[]; vs: number[]; staleAt: number[] }>();
  readonly #family: PromFamily;
  constructor(family: PromFamily) {
    this.#family = family;
  }
  add(name: string, extra: PromLabel | undefined, t: number, v: number, stale: boolean): void {
    const k = `${name}\u0000${extra?.value ?? ''}`;
    let s = this.#series.get(k);
    if (s === undefined) {
      s = { labels: withName(this.#family.labels, name, extra), ts: [], vs: [], staleAt: [] };
      this.#series.set(k, s);
    }
    if (stale) s.staleAt.push(s.ts.length);
    s.ts.push(t);
    s.vs.push(v);
  }
  build(): FloatSeries[] {
    return [...this.#series.values()].map((s) => {
      const values = Float64Array.from(s.vs);
      for (const j of s.staleAt) values[j] = STALE_NAN;
      return { labels: s.labels, timestampsMs: Float64Array.from(s.ts), values };
    });
  }
}

/**
 * expandRecords is the float series a histogram or summary family's points
 * (sorted by time, one per timestamp, as the store answers them) become.
 */
export function expandRecords(family: PromFamily, points: readonly RecordPoint[]): FloatSeries[] {
  const b = new SeriesBuilder(family);
  const base = family.name;
  for (const p of points) {
    const d = p.data;
    const stale = noRecordedValue(p.flags);
    if (d.type === 'summary') {
      for (const q of d.quantiles) b.add(base, { name: 'quantile', value: formatPromFloat(q.quantile) }, p.t, q.value, stale);
      b.add(`${base}_sum`, undefined, p.t, d.sum, stale);
      b.add(`${base}_count`, undefined, p.t, d.count, stale);
      continue;
    }
    for (const [le, c] of classicBuckets(d)) b.add(`${base}_bucket`, { name: 'le', value: formatPromFloat(le) }, p.t, c, stale);
    b.add(`${base}_bucket`, { name: 'le', value: '+Inf' }, p.t, d.count, stale);
    if (d.sum !== null) b.add(`${base}_sum`, undefined, p.t, d.sum, stale);
    b.add(`${base}_count`, undefined, p.t, d.count, stale);
  }
  return b.build();
}
