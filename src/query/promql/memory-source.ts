/**
 * memory-source.ts — a SeriesSource over series held in memory: the oracle
 * and differential tests' source, and a reference for what `select` must
 * answer (every matching series once, sorted by labels, samples inside
 * [startMs, endMs]).
 */

import { OtlpdbError } from '../../errors.js';
import { PromqlLimits } from '../../limits.js';
import { lowerBound, upperBound } from './eval-types.js';
import { compareLabels, compileMatchers } from './labels.js';
import { rawRangeForRollup, rollupRaw } from './rollup-points.js';
import type { FloatSeries, SelectRequest, SeriesSource, SourceStats } from './source.js';

/** MemorySeriesSource answers `select` from a fixed set of series (sorted by labels once, at construction). */
export class MemorySeriesSource implements SeriesSource {
  readonly #series: readonly FloatSeries[];
  readonly stats: SourceStats = { shardsAsked: 0, seriesRead: 0, samplesRead: 0, samplesHeld: 0, bytesRead: 0, rollupPointsRead: 0, partialFailures: [] };

  constructor(series: readonly FloatSeries[]) {
    this.#series = [...series].sort((a, b) => compareLabels(a.labels, b.labels));
  }

  /** select answers the matching series' samples inside the request's inclusive range (with `rollup`, their windows rolled up: rollup-points.ts). */
  select(req: SelectRequest, signal: AbortSignal): Promise<readonly FloatSeries[]> {
    if (signal.aborted) return Promise.reject(new OtlpdbError('ERR_UNAVAILABLE', 'the select was cancelled'));
    const match = compileMatchers(req.matchers);
    const out: FloatSeries[] = [];
    const [from, to] = req.rollup === undefined ? [req.startMs, req.endMs] : rawRangeForRollup(req.startMs, req.endMs, req.rollup);
    for (const s of this.#series) {
      if (!match(s.labels)) continue;
      const lo = lowerBound(s.timestampsMs, from);
      const hi = upperBound(s.timestampsMs, to);
      if (hi <= lo) continue;
      const raw = { labels: s.labels, timestampsMs: s.timestampsMs.subarray(lo, hi), values: s.values.subarray(lo, hi) };
      const one = req.rollup === undefined ? raw : rollupRaw(raw, req.rollup);
      out.push(one);
      this.stats.samplesRead += one.values.length;
      if (req.rollup !== undefined) this.stats.rollupPointsRead += one.values.length;
      if (out.length > PromqlLimits.seriesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `the selector matched more than ${PromqlLimits.seriesMax} series`);
    }
    this.stats.seriesRead += out.length;
    return Promise.resolve(out);
  }
}
