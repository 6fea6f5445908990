/**
 * rollup-points.ts — what a source answers for a select with `rollup`
 * (source.ts SelectRollup): one point per window at its lastT carrying one
 * aggregate. From stored rollup points (pointsSeries) or, where a source
 * holds only raw samples (the in-memory source; histogram and summary
 * series expanded to floats on a shard), by rolling the samples up with the
 * store's own code (rollupRaw: partialsOf, pointOf), so both agree.
 * Pure code, no I/O.
 */
import type { RollupPoint } from '../../storage/metrics/rollup.js';
import { ROLLUP_WINDOW_MS, partialsOf, pointOf } from '../../storage/metrics/rollup.js';
import type { FloatSeries, PromLabels, RollupAggregate, SelectRollup } from './source.js';

/** rawRangeForRollup is the raw range [lo, hi] whose samples make up every window a rollup select over [startMs, endMs] answers. */
export function rawRangeForRollup(startMs: number, endMs: number, r: SelectRollup): [number, number] {
  const w = ROLLUP_WINDOW_MS[r.resolution];
  return [Math.floor(startMs / w) * w, Math.floor(endMs / w) * w + w - 1];
}

/** pointsSeries is a series of one aggregate of rollup points (sorted by window, so by lastT): timestamps lastT. */
export function pointsSeries(labels: PromLabels, points: readonly RollupPoint[], aggregate: RollupAggregate): FloatSeries {
  const ts = new Float64Array(points.length);
  const vs = new Float64Array(points.length);
  points.forEach((p, i) => {
    ts[i] = p.lastT;
    vs[i] = p[aggregate];
  });
  return { labels, timestampsMs: ts, values: vs };
}

/** rollupRaw rolls a series' raw samples (those of rawRangeForRollup) up into the points a rollup select answers. */
export function rollupRaw(s: FloatSeries, r: SelectRollup): FloatSeries {
  const points = partialsOf(s.timestampsMs, s.values, s.timestampsMs.length, ROLLUP_WINDOW_MS[r.resolution]).map(pointOf);
  return pointsSeries(s.labels, points, r.aggregate);
}
