/**
 * metrics-read-limits.test.ts — MetricsQueryLimits's sample bounds on a
 * real 3-node cluster in this process (4 shards, R=3), with small bounds
 * (OtlpdbNodeOptions.metricsQueryLimits), as Prometheus's query.max-samples
 * bounds what a query holds, not what it reads:
 *
 * - `sum(rate(m[5m]))` reads every sample (more than samplesMax) and is
 *   answered: the shards answer a few points each;
 * - the plain selector `m` at step 15 s would hold more than samplesMax
 *   points on its coordinator: refused, 422 `execution`, ERR_LIMIT_EXCEEDED;
 * - a node whose shard parts may read fewer samples than a shard holds
 *   refuses the same aggregation.
 * The aggregation's stats show it read more than samplesMax: the bound on
 * samples read that came before would have refused it.
 */
import t from 'tap';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';

const POLLS_MAX = 1500;
const POLL_MS = 40;
const WRITE_ATTEMPTS = 40;
const SERIES = 8;
const POINTS = 61;
const T0 = Math.floor((Date.now() - 30 * 60_000) / 60_000) * 60_000;
const END = T0 + (POINTS - 1) * 15_000;
/** READ is every sample of the data: what the aggregation reads. */
const READ = SERIES * POINTS;
const HELD_MAX = 200;

const ns = (ms: number): string => `${BigInt(ms) * 1_000_000n}`;

function otlpCounter(): unknown {
  const dataPoints = [];
  for (let s = 0; s < SERIES; s++) {
    for (let i = 0; i < POINTS; i++) {
      dataPoints.push({ attributes: [{ key: 'pod', value: { stringValue: `p${s}` } }], startTimeUnixNano: ns(T0 - 60_000), timeUnixNano: ns(T0 + i * 15_000), asDouble: 10 * i + s });
    }
  }
  return {
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'lim' } }] },
      scopeMetrics: [{ scope: { name: 'x' }, metrics: [{ name: 'm', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints } }] }],
    }],
  };
}

type Doc = { status: string; data?: { result?: unknown[]; stats?: { samples: { totalQueryableSamples: number; peakSamples: number } } }; errorType?: string; error?: string };

async function queryRange(a: HostPort, q: string, stepS: number): Promise<{ status: number; doc: Doc }> {
  const path = `/api/v1/query_range?query=${encodeURIComponent(q)}&start=${T0 / 1000}&end=${END / 1000}&step=${stepS}&stats=all`;
  const r = await httpRequest(a, path, 'GET');
  return { status: r.status, doc: JSON.parse(r.body) as Doc };
}

t.test('a query is bounded by the samples it holds, not by those it reads', async (t) => {
  t.ok(READ > HELD_MAX, 'the aggregation reads more than a query may hold');
  const roomy = { samplesMax: HELD_MAX, shardSamplesMax: READ };
  const c = await inProcessCluster(t, {
    n: 3,
    founders: 3,
    prefix: 'otlpdb-prom-limits-',
    seedBase: 7170,
    extra: { shards: 4, replicas: 3, tickMs: 20 },
    otlp: true,
  });
  for (const id of [1, 2, 3]) {
    const limits = id === 3 ? { samplesMax: HELD_MAX, shardSamplesMax: 10 } : roomy;
    c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders, metricsQueryLimits: limits }));
  }
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, POLLS_MAX, POLL_MS), `node ${id} ready`);
  const web = (c.nodes.get(1) as OtlpdbNode).otlpHttpAddress() as HostPort;
  const body = Buffer.from(JSON.stringify(otlpCounter()));
  t.ok(await pollUntil(async () => (await httpRequest(web, '/v1/metrics', 'POST', body, { 'content-type': 'application/json' })).status === 200, WRITE_ATTEMPTS, 250), 'written');

  const agg = await queryRange(c.api(1), 'sum(rate(m_total[5m]))', 60);
  t.equal(agg.status, 200, `the aggregation is answered (${agg.doc.error ?? ''})`);
  t.equal(agg.doc.data?.result?.length, 1, 'one series');
  const st = agg.doc.data?.stats?.samples;
  t.equal(st?.totalQueryableSamples, READ, 'it read every sample');
  t.ok(st !== undefined && st.peakSamples > 0 && st.peakSamples <= HELD_MAX, `it held ${st?.peakSamples} points, within ${HELD_MAX}`);
  t.ok(st !== undefined && st.totalQueryableSamples > HELD_MAX, 'a bound on samples read would have refused it');

  const raw = await queryRange(c.api(2), 'm_total', 15);
  t.equal(raw.status, 422, 'the selector at step 15 s would hold every sample: refused');
  t.equal(raw.doc.errorType, 'execution');
  t.match(raw.doc.error ?? '', /too many samples/);

  const narrow = await queryRange(c.api(3), 'sum(rate(m_total[5m]))', 60);
  t.equal(narrow.status, 422, 'a node whose shard parts may read 10 samples refuses the aggregation');
  t.match(narrow.doc.error ?? '', /more than 10 samples/);
});
