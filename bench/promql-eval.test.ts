import t from 'tap';
import { createPromqlEngine } from '../src/query/promql/engine.js';
import { MemorySeriesSource } from '../src/query/promql/memory-source.js';
import type { FloatSeries, PromResult } from '../src/query/promql/source.js';
import { EVAL_LOOKBACK_MS, EVAL_SHARDS, EVAL_STEP_MS, evalRange, evalSeries, evalShape, shardedSource } from './promql-eval-data.js';
import { GROUPS, INTERVAL_MS, METRIC_NAME, openMetricsChunks, samplesPerSeries } from './query-metrics-data.js';

// Not a timed test: it checks that bench/promql-eval's workload is what it
// claims (query-metrics's samples, labels and range) and that the timed
// query answers min(series, GROUPS) groups, the same through the sharded
// source. It asserts no timing.

const shape = evalShape(130, 2);

/** openMetricsLines renders series as query-metrics's OpenMetrics lines (`name{labels} value seconds`). */
function openMetricsLines(series: readonly FloatSeries[]): string[] {
  const out: string[] = [];
  for (const s of series) {
    const ls = s.labels.filter((l) => l.name !== '__name__').map((l) => `${l.name}="${l.value}"`).join(',');
    for (let k = 0; k < s.values.length; k++) out.push(`${METRIC_NAME}{${ls}} ${s.values[k] as number} ${(s.timestampsMs[k] as number) / 1000}`);
  }
  return out;
}

function firstDifference(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

t.test('the workload holds exactly query-metrics\'s samples: labels, times every 15 s, values', async (t) => {
  const series = evalSeries(shape);
  t.equal(series.length, 130);
  const n = samplesPerSeries(shape);
  t.equal(n, 480, '2 h at 15 s');
  for (const s of series) {
    if (s.values.length !== n) t.fail(`${s.values.length} samples`);
    for (let k = 0; k < n; k++) if (s.timestampsMs[k] !== shape.t0Ms + k * INTERVAL_MS) t.fail(`sample ${k} at ${s.timestampsMs[k]}`);
  }
  const expected = [...openMetricsChunks(shape)].join('').split('\n').filter((l) => l !== '' && l !== '# EOF');
  const lines = openMetricsLines(series);
  t.equal(firstDifference(lines, expected), -1, 'the same lines as query-metrics\'s OpenMetrics text');
  t.ok(series.some((s) => s.values.some((v, k) => k > 0 && v < (s.values[k - 1] as number))), 'some counters reset');
  // Planted: one value off by one is found.
  const planted = series.map((s, i) => (i === 77 ? { ...s, values: s.values.map((v, k) => (k === 300 ? v + 1 : v)) } : s));
  t.ok(firstDifference(openMetricsLines(planted), expected) >= 0, 'a changed sample is caught');
});

t.test('the range: step 1m from the first sample to the last whole minute', async (t) => {
  const r = evalRange(shape);
  t.equal(r.stepMs, EVAL_STEP_MS);
  t.equal(r.startMs, shape.t0Ms);
  t.equal((r.endMs - r.startMs) / r.stepMs + 1, 120, '120 steps in 2 h');
  t.equal(evalRange(evalShape(1, 24)).endMs - shape.t0Ms, 1439 * 60_000, '1,440 steps in 24 h');
});

t.test('the timed query answers min(series, GROUPS) groups, the same through the shards', async (t) => {
  const series = evalSeries(shape);
  const range = evalRange(shape);
  const engine = createPromqlEngine();
  const opts = { lookbackMs: EVAL_LOOKBACK_MS, signal: new AbortController().signal };
  const q = `sum by (app) (rate(${METRIC_NAME}[5m]))`;
  const local = await engine.evaluate(q, range, new MemorySeriesSource(series), opts);
  const sharded = await engine.evaluate(q, range, shardedSource(series, EVAL_SHARDS), opts);
  const pts = (r: PromResult): Map<string, number[]> => {
    if (r.kind !== 'matrix') throw new Error('expected a matrix');
    return new Map(r.series.map((s) => [JSON.stringify(s.labels), [...s.values]]));
  };
  const a = pts(local);
  const b = pts(sharded);
  t.equal(a.size, Math.min(shape.series, GROUPS));
  t.same([...a.keys()], [...b.keys()], 'the same groups');
  let off = 0;
  let points = 0;
  for (const [k, vs] of a) {
    const ws = b.get(k) ?? [];
    if (ws.length !== vs.length) off++;
    vs.forEach((v, i) => { points++; if (Math.abs(v - (ws[i] ?? NaN)) > 1e-9 * Math.max(1, Math.abs(v))) off++; });
  }
  t.equal(off, 0, `${points} points agree within 1e-9`);
  t.ok(points > 100 * 40, 'most steps answer every group');
});
