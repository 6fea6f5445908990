import t from 'tap';
import { decodeMetricsProto } from '../src/otlp/proto-metrics.js';
import type { AnyValue } from '../src/storage/rows.js';
import type { PromApiResponse } from '../src/query/promql/prometheus-oracle-util.js';
import { prometheusBinaries } from '../src/query/promql/prometheus-oracle-util.js';
import { parseQueryMetricsArgs, queryMetricsPorts } from './query-metrics.js';
import { GROUPS, MetricsBodies, SeriesCursor, openMetricsChunks, planBodies, samplesPerSeries, seriesLabels } from './query-metrics-data.js';
import type { MetricsShape } from './query-metrics-data.js';
import { judgeAnswers, latencyOf, ratio, runQueryMetricsBench } from './query-metrics-run.js';

// Not a timed test: it checks the bench's flags, that its two loads (OTLP
// bodies and OpenMetrics text) carry the same samples, that its answer
// judge catches wrong answers, and that one tiny real run (3 nodes and
// Prometheus) answers every query the same on both. It asserts no timing.

const shape: MetricsShape = { series: 230, hours: 1, seed: 5, t0Ms: 1_795_800_000_000 };

t.test('flags: defaults, every flag, refusals', async (t) => {
  t.same(parseQueryMetricsArgs([]), { scale: 1, hours: 24, aggQueries: 20, instantQueries: 100, warmups: 2, connections: 4, pointsPerBody: 8_000, waitCompaction: true, cpuProfDir: null, nodeV8Flags: [], traceGcDir: null, json: false, portBase: 31_100 });
  t.same(parseQueryMetricsArgs(['--scale', '0.05', '--hours', '2', '--queries', '3', '--instant', '4', '--warmups', '0', '--connections', '2', '--points', '500', '--no-compaction-wait', '--cpu-prof', '/tmp/p', '--node-v8', '--min-semi-space-size=16', '--node-v8', '--max-semi-space-size=32', '--trace-gc', '/tmp/g', '--json', '--port-base', '32100']), {
    scale: 0.05, hours: 2, aggQueries: 3, instantQueries: 4, warmups: 0, connections: 2, pointsPerBody: 500, waitCompaction: false, cpuProfDir: '/tmp/p', nodeV8Flags: ['--min-semi-space-size=16', '--max-semi-space-size=32'], traceGcDir: '/tmp/g', json: true, portBase: 32_100,
  });
  t.same(queryMetricsPorts(32_100), { api: 32_100, peer: 32_110, otlpGrpc: 32_120, otlpHttp: 32_130, prometheus: 32_140 });
  t.throws(() => parseQueryMetricsArgs(['--port-base', '80']), /--port-base/);
  t.throws(() => parseQueryMetricsArgs(['--scale', '0']), /--scale/);
  t.throws(() => parseQueryMetricsArgs(['--scale', '1.5']), /--scale/);
  t.throws(() => parseQueryMetricsArgs(['--hours']), /--hours/);
  t.throws(() => parseQueryMetricsArgs(['--query', '5']), /unknown argument/);
  t.throws(() => parseQueryMetricsArgs(['--node-v8', '--inspect']), /--node-v8/);
  t.throws(() => parseQueryMetricsArgs(['--node-v8']), /--node-v8/);
  t.throws(() => parseQueryMetricsArgs(['--trace-gc']), /--trace-gc/);
});

t.test('the OTLP bodies and the OpenMetrics text hold the same samples', async (t) => {
  const plan = planBodies(shape, 5_000);
  const bodies = new MetricsBodies(shape, plan);
  t.equal(bodies.total, bodies.windows * bodies.blocks);
  const fromOtlp = new Map<string, string>();
  let points = 0;
  for (let w = 0; w < bodies.windows; w++) {
    for (let b = 0; b < bodies.blocks; b++) {
      const body = bodies.body(w, b);
      const r = decodeMetricsProto(body.bytes, { tenant: 'default', nowMs: shape.t0Ms + 3_600_000 });
      t.equal(r.rejected, 0, 'the receiver decodes every point');
      if (r.rows.length !== body.points) t.fail(`body ${w}/${b}: ${r.rows.length} rows, ${body.points} points`);
      points += body.points;
      for (const row of r.rows) {
        const str = (v: AnyValue | undefined): string => (v?.type === 'string' ? v.value : '?');
        const attr = (key: string): string => str(row.attributes.find((a) => a.key === key)?.value);
        const res = (key: string): string => str(row.resource.attributes.find((a) => a.key === key)?.value);
        const data = row.data as { type: string; monotonic: boolean; temporality: number; value: { value: number } };
        if (data.type !== 'sum' || !data.monotonic || data.temporality !== 2) t.fail('a monotonic cumulative sum');
        const key = `${row.name}{app="${attr('app')}",instance="${res('service.instance.id')}",job="${res('service.name')}",pod="${attr('pod')}"} ${data.value.value} ${Number(row.timeUnixNano / 1_000_000n) / 1000}`;
        fromOtlp.set(key, '');
      }
    }
  }
  t.equal(points, shape.series * samplesPerSeries(shape), 'every sample once');
  const lines = [...openMetricsChunks(shape, 10_000)].join('').split('\n');
  t.equal(lines.at(-2), '# EOF');
  const samples = lines.slice(0, -2);
  t.equal(samples.length, points);
  t.ok(samples.every((l) => fromOtlp.has(l)), 'every OpenMetrics line is a sample of the OTLP bodies');
  t.equal(new Set(samples).size, fromOtlp.size, 'and no other');
});

t.test('the data: groups, one series per pod, counters that reset', async (t) => {
  t.equal(new Set(Array.from({ length: 10_000 }, (_, i) => seriesLabels(i).app)).size, GROUPS);
  t.equal(new Set(Array.from({ length: 10_000 }, (_, i) => seriesLabels(i).pod)).size, 10_000);
  let resets = 0;
  for (let i = 0; i < 50; i++) {
    const c = new SeriesCursor({ ...shape, hours: 24 }, i);
    let last = -1;
    for (let k = 0; k < 5_760; k++) {
      c.step(k);
      if (c.value < last) resets++;
      last = c.value;
    }
  }
  t.ok(resets > 20 && resets < 300, `${resets} resets in 50 series × 24 h (about two a day)`);
  t.throws(() => new SeriesCursor(shape, 0).step(1), /in order/);
});

t.test('the judge: equal answers pass; a wrong value, a missing series, an empty pair fail', async (t) => {
  const vec = (v: string, pods: string[]): PromApiResponse => ({ status: 'success', data: { resultType: 'vector', result: pods.map((pod) => ({ metric: { pod }, value: [1, v] })) } }) as PromApiResponse;
  t.equal(judgeAnswers(vec('5', ['a']), vec('5', ['a']), 1), null);
  t.match(judgeAnswers(vec('5', ['a']), vec('6', ['a']), 1), /differs/);
  t.match(judgeAnswers(vec('5', ['a', 'b']), vec('5', ['a']), 2), /missing/);
  t.match(judgeAnswers(vec('5', []), vec('5', []), 1), /0 series/);
  t.equal(latencyOf([3, 1, 2]).p50Ms, 2);
  t.equal(ratio(3, 2), 1.5);
});

// The real run starts 3 nodes, promtool and Prometheus: ~30 s on a quiet
// machine, ~100 s on a loaded one. CI's 20-minute budget cannot hold it, and
// src/query/promql/node-oracle.test.ts already checks otlpdb's answers
// against Prometheus through real nodes; run it with OTLPDB_BENCH_RUN=1.
t.test('a tiny real run: otlpdb answers as Prometheus does (OTLPDB_BENCH_RUN=1)', { skip: process.env['OTLPDB_BENCH_RUN'] === '1' ? false : 'set OTLPDB_BENCH_RUN=1 to run it' }, async (t) => {
  if (prometheusBinaries() === null) {
    const msg = '!!! PROMETHEUS IS NOT INSTALLED: bench/query-metrics smoke run did NOT run (apt-get install prometheus) !!!';
    t.comment(msg);
    if (process.env['CI'] === 'true') t.fail(msg);
    return;
  }
  const lines: string[] = [];
  const r = await runQueryMetricsBench(
    { scale: 0.0012, hours: 1, aggQueries: 2, instantQueries: 4, warmups: 1, connections: 2, pointsPerBody: 3_000, waitCompaction: false, cpuProfDir: null, nodeV8Flags: [], traceGcDir: null, json: false, portBase: 31_150 },
    { ports: queryMetricsPorts(31_150), log: (l) => lines.push(l) },
  );
  t.equal(r.series, 12);
  t.equal(r.samples, 12 * 240);
  t.equal(r.groups, 12);
  t.equal(r.requests, 1, 'one request holds the whole hour');
  for (const f of [r.aggregation, r.instant]) {
    t.equal(f.wrong, 0, `${f.query}: no wrong answers (${f.firstWrong ?? ''}); log: ${lines.slice(-3).join(' | ')}`);
    t.ok(f.compared > 0 && f.otlpdb.queries === f.compared && f.prometheus.queries === f.compared, `${f.query}: ${f.compared} answers compared`);
  }
});
