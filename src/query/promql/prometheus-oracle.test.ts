/**
 * The oracle: the same seeded metrics loaded into a real Prometheus 2.42
 * (promtool create-blocks-from openmetrics) and into the engine's in-memory
 * source; every corpus query (instant and range) must answer the same
 * (relative tolerance 1e-9, same label sets, same result type, same
 * error-or-not). Where Prometheus is not installed the test says so loudly
 * and fails when CI=true. A planted bug (rate without extrapolation) shows
 * the oracle catches a wrong engine.
 */
import t from 'tap';
import type { Test } from 'tap';
import { createPromqlEngine, promqlEngine } from './engine.js';
import { MemorySeriesSource } from './memory-source.js';
import { OracleCorpus, randomOracleQueries } from './oracle-corpus.js';
import { makeOracleDataset, oracleOtlpBodies, oracleSeries } from './oracle-dataset.js';
import type { OracleMismatch, RunningPrometheus } from './prometheus-oracle-util.js';
import { engineRunner, httpRunner, oracleCases, prometheusPresent, runOracle, startPrometheus } from './prometheus-oracle-util.js';
import type { RangeFn } from './range-functions.js';
import { RangeFunctions } from './range-functions.js';

const seed = 7;
const port = 30_302;

function report(t: Test, mismatches: readonly OracleMismatch[]): void {
  for (const m of mismatches.slice(0, 20)) {
    t.comment(`MISMATCH ${JSON.stringify(m.query)} range=${JSON.stringify(m.range)}: ${m.difference}\n  prometheus: ${m.want}\n  otlpdb:     ${m.got}`);
  }
}

t.test('the corpus holds at least 200 distinct queries', async (t) => {
  t.ok(new Set(OracleCorpus).size >= 200, `${new Set(OracleCorpus).size} queries`);
});

t.test('oracleOtlpBodies shapes the dataset as OTLP: per-bucket counts that sum to the count, one body per resource', async (t) => {
  const ds = makeOracleDataset(seed);
  const bodies = oracleOtlpBodies(ds) as { resourceMetrics: { resource: { attributes: { key: string }[] }; scopeMetrics: { metrics: { name: string; histogram?: { dataPoints: { count: string; bucketCounts: string[]; explicitBounds: number[] }[] }; sum?: { isMonotonic: boolean; aggregationTemporality: number } }[] }[] }[] }[];
  t.equal(bodies.length, 6, 'two jobs × three instances');
  for (const b of bodies) {
    const rm = b.resourceMetrics[0];
    t.same(rm?.resource.attributes.map((a) => a.key), ['service.name', 'service.instance.id']);
    for (const m of rm?.scopeMetrics[0]?.metrics ?? []) {
      if (m.sum !== undefined && !(m.name.endsWith('_total') && m.sum.isMonotonic && m.sum.aggregationTemporality === 2)) t.fail(`${m.name} is not a monotonic cumulative *_total sum`);
      for (const p of m.histogram?.dataPoints ?? []) {
        if (p.bucketCounts.reduce((a, c) => a + Number(c), 0) !== Number(p.count)) t.fail('bucket counts do not sum to count');
        if (p.bucketCounts.length !== p.explicitBounds.length + 1) t.fail('one more bucket than bounds');
      }
    }
  }
});

t.test('oracle: the engine answers the corpus as Prometheus 2.42 does', async (t) => {
  if (!prometheusPresent(t, 'the PromQL oracle')) return;
  const series = oracleSeries(makeOracleDataset(seed));
  let prom: RunningPrometheus | null = null;
  try {
    prom = await startPrometheus(series, port);
    const random = randomOracleQueries(seed, 80);
    const cases = oracleCases([...OracleCorpus, ...random]);
    const prometheus = httpRunner(prom.url);
    const { mismatches, nonEmpty, errors } = await runOracle(cases, prometheus, engineRunner(promqlEngine, new MemorySeriesSource(series)));
    report(t, mismatches);
    t.equal(mismatches.length, 0, `${cases.length} cases over ${OracleCorpus.length} corpus and ${random.length} random queries (seed ${seed}), ${mismatches.length} mismatches`);
    t.ok(nonEmpty > cases.length * 0.75, `${nonEmpty} cases answered a non-empty result, ${errors} were refused by both`);

    await t.test('planted bug: rate without extrapolation is caught', async (t) => {
      const noExtrapolation: RangeFn = (w) => (w.hi - w.lo < 2 ? null : ((w.vs[w.hi - 1] as number) - (w.vs[w.lo] as number)) / (w.rangeMs / 1000));
      const planted = createPromqlEngine({ rangeFunctions: new Map([...RangeFunctions, ['rate', noExtrapolation]]) });
      const rateCases = oracleCases(OracleCorpus.filter((q) => q.includes('rate(')));
      const { mismatches: caught } = await runOracle(rateCases, prometheus, engineRunner(planted, new MemorySeriesSource(series)));
      t.ok(caught.length > 0, `the oracle reports ${caught.length} mismatches for the planted engine`);
      t.comment(`e.g. ${caught[0]?.query}: ${caught[0]?.difference}`);
    });
  } finally {
    await prom?.stop();
  }
});
