/**
 * promql-eval-data.ts — the in-memory workload of `bench/promql-eval.ts`:
 * query-metrics's counter (query-metrics-data.ts: same labels, same seeded
 * increments and resets, every 15 s) held as FloatSeries for a
 * MemorySeriesSource, so the PromQL evaluator is timed alone, with no
 * cluster, storage or HTTP; the shape of the timed query's range; and a
 * source that spreads the series over in-memory shards evaluated with
 * evaluateShard (the cluster's pushdown path, in one process). Pure: no
 * I/O, no clock.
 */
import { assert } from '../src/errors.js';
import { evaluateShard } from '../src/query/promql/engine.js';
import { MemorySeriesSource } from '../src/query/promql/memory-source.js';
import type { EvalRange, FloatSeries, SeriesSource } from '../src/query/promql/source.js';
import { INTERVAL_MS, METRIC_NAME, SeriesCursor, samplesPerSeries, seriesLabels } from './query-metrics-data.js';
import type { MetricsShape } from './query-metrics-data.js';

/** EVAL_T0_MS is the first sample's time (a minute boundary, fixed so runs compare). */
export const EVAL_T0_MS = 1_767_225_600_000;
/** EVAL_STEP_MS is the timed range query's step (issue 7: step 1m). */
export const EVAL_STEP_MS = 60_000;
/** EVAL_SEED seeds the increments and resets. */
export const EVAL_SEED = 20_261_128;
/** EVAL_LOOKBACK_MS is Prometheus's default lookback delta. */
export const EVAL_LOOKBACK_MS = 300_000;
/** EVAL_SHARDS is how many in-memory shards the sharded figure spreads the series over. */
export const EVAL_SHARDS = 3;

/** evalShape is the data's shape for `series` series over `hours` hours. */
export function evalShape(series: number, hours: number): MetricsShape {
  assert(Number.isSafeInteger(series) && series >= 1, 'promql-eval series >= 1');
  assert(hours > 0, 'promql-eval hours > 0');
  return { series, hours, seed: EVAL_SEED, t0Ms: EVAL_T0_MS };
}

/** evalSeries builds every series of a shape, labels sorted by name with `__name__` first. */
export function evalSeries(shape: MetricsShape): FloatSeries[] {
  const n = samplesPerSeries(shape);
  const out: FloatSeries[] = [];
  for (let i = 0; i < shape.series; i++) {
    const l = seriesLabels(i);
    const labels = [
      { name: '__name__', value: METRIC_NAME },
      { name: 'app', value: l.app },
      { name: 'instance', value: l.instance },
      { name: 'job', value: l.job },
      { name: 'pod', value: l.pod },
    ];
    const timestampsMs = new Float64Array(n);
    const values = new Float64Array(n);
    const c = new SeriesCursor(shape, i);
    for (let k = 0; k < n; k++) {
      timestampsMs[k] = c.step(k);
      values[k] = c.value;
    }
    out.push({ labels, timestampsMs, values });
  }
  return out;
}

/** evalRange is the timed query's range: the whole data at EVAL_STEP_MS, from the first sample's minute to the last. */
export function evalRange(shape: MetricsShape): EvalRange {
  const lastMs = shape.t0Ms + (samplesPerSeries(shape) - 1) * INTERVAL_MS;
  const endMs = shape.t0Ms + Math.floor((lastMs - shape.t0Ms) / EVAL_STEP_MS) * EVAL_STEP_MS;
  return { startMs: shape.t0Ms, endMs, stepMs: EVAL_STEP_MS };
}

/** shardedSource spreads series over n in-memory shards (series i on shard i mod n); shardEval answers every shard's evaluateShard, select the whole. */
export function shardedSource(series: readonly FloatSeries[], n: number): SeriesSource {
  assert(Number.isSafeInteger(n) && n >= 1, 'promql-eval shards >= 1');
  const shards = Array.from({ length: n }, (_, k) => new MemorySeriesSource(series.filter((_, i) => i % n === k)));
  const whole = new MemorySeriesSource(series);
  return {
    stats: whole.stats,
    select: (req, signal) => whole.select(req, signal),
    shardEval: async (req, signal) => {
      const answers = await Promise.all(shards.map((s) => evaluateShard(req.expr, req.range, req.lookbackMs, s, signal, {}, req.maxSourceResolution)));
      return answers.flat();
    },
  };
}
