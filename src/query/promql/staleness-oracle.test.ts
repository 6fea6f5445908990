/**
 * staleness-oracle.test.ts — staleness markers checked against Prometheus
 * 2.42 itself. The main oracle loads Prometheus with promtool from
 * OpenMetrics, which cannot carry a marker, so its data has none; here a
 * Prometheus on an empty TSDB takes the same samples by remote write (its
 * own receiver stores markers), and a 3-node otlpdb cluster in this process
 * takes them two ways: by remote write (the `rw_*` series, markers as sent)
 * and as OTLP/HTTP JSON with points flagged no-recorded-value (the `otlp_*`
 * series: the flag, not the value, makes the marker; some flagged points
 * carry no value at all). Then instant queries just after, between and long
 * after the markers, and range queries over the whole span, must answer the
 * same on both (relative tolerance 1e-9, same label sets): selectors,
 * `*_over_time`, `rate`/`increase`/`resets`/`changes` over counters cut by
 * markers, aggregations, `absent`, `timestamp`, `offset`.
 *
 * The samples lie in the last hour (Prometheus's head takes them in order).
 * Planted: the cluster half is run once more against a copy of the
 * samples with every marker left out (a store that drops markers, as
 * otlpdb's remote write did before): the comparison must fail.
 * Where Prometheus is not installed the test says so loudly and fails when
 * CI=true.
 */
import t from 'tap';
import snappy from 'snappyjs';
import { OtlpdbNode } from '../../node.js';
import type { HostPort } from '../../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../../node-test-util.js';
import { encodeWriteRequest } from '../../api/prom-write-test-util.js';
import type { TestSeries } from '../../api/prom-write-test-util.js';
import type { OracleCase, RunningPrometheus } from './prometheus-oracle-util.js';
import { compareResponses, httpRunner, prometheusPresent, runOracle, startPrometheusOver } from './prometheus-oracle-util.js';

const PORT = 30_318;
const STEP_MS = 15_000;
const MIN = 60_000;
/** T0 is 50 minutes ago on a whole minute: every sample is within Prometheus's head window. */
const T0 = Math.floor((Date.now() - 50 * MIN) / MIN) * MIN;
const WRITE_ATTEMPTS = 40;
const RW_HEADERS = { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0' };

/** Sample is [value, time ms, stale]: a stale sample is a marker (its value is sent only where a flagged OTLP point keeps one). */
type Sample = [number, number, boolean];

/** shapes are the series' sample lists by `k` label: a gap cut by a marker, an end by a marker, markers every fourth sample, and no marker (lookback expiry). */
function shapes(counter: boolean): Map<string, Sample[]> {
  const out = new Map<string, Sample[]>();
  const make = (k: string, fromMin: number, toMin: number, staleAt: (i: number, tMs: number) => boolean): void => {
    const samples: Sample[] = [];
    let v = counter ? 100 : 5;
    for (let tMs = T0 + fromMin * MIN, i = 0; tMs <= T0 + toMin * MIN; tMs += STEP_MS, i++) {
      v = counter ? v + (i % 7) + (i === 50 ? -80 : 0) : ((i * 37) % 11) - 3.5;
      samples.push([v, tMs, staleAt(i, tMs)]);
    }
    out.set(k, samples);
  };
  // gap: samples, a marker at 10m, nothing until 20m, samples again to 40m.
  make('gap', 0, 40, (_i, tMs) => tMs === T0 + 10 * MIN);
  const gap = out.get('gap') as Sample[];
  out.set('gap', gap.filter(([, tMs]) => tMs <= T0 + 10 * MIN || tMs >= T0 + 20 * MIN));
  make('end', 0, 25, (_i, tMs) => tMs === T0 + 25 * MIN);
  make('flap', 5, 35, (i) => i % 4 === 3);
  make('plain', 0, 25, () => false);
  return out;
}

const GAUGES = shapes(false);
const COUNTERS = shapes(true);

function rwSeries(name: string, byK: Map<string, Sample[]>, keepMarkers: boolean): TestSeries[] {
  return [...byK].map(([k, samples]) => ({
    labels: [['__name__', name], ['k', k]] as const,
    samples: samples.filter(([, , stale]) => keepMarkers || !stale).map(([v, tMs, stale]): [number, number, boolean] => [v, tMs, stale]),
  }));
}

/** otlpBody is the `otlp_*` series as one OTLP/HTTP JSON export: a gauge and a cumulative monotonic sum, markers as points flagged no-recorded-value (every other one without a value). */
function otlpBody(): unknown {
  const points = (byK: Map<string, Sample[]>): unknown[] =>
    [...byK].flatMap(([k, samples]) =>
      samples.map(([v, tMs, stale], i) => ({
        attributes: [{ key: 'k', value: { stringValue: k } }],
        timeUnixNano: String(BigInt(tMs) * 1_000_000n),
        ...(stale ? { flags: 1, ...(i % 2 === 0 ? {} : { asDouble: v }) } : { asDouble: v }),
      })),
    );
  return {
    resourceMetrics: [
      {
        resource: { attributes: [] },
        scopeMetrics: [
          {
            scope: { name: 'staleness-oracle' },
            metrics: [
              { name: 'otlp_gauge', gauge: { dataPoints: points(GAUGES) } },
              { name: 'otlp_count', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: points(COUNTERS) } },
            ],
          },
        ],
      },
    ],
  };
}

const QUERIES_G = ['G', 'G{k="gap"}', 'count_over_time(G[10m])', 'last_over_time(G[10m])', 'max_over_time(G[2m])', 'changes(G[10m])', 'sum(G)', 'count by (k) (G)', 'absent(G{k="end"})', 'timestamp(G)', 'G offset 5m', 'avg_over_time(G[5m])'];
const QUERIES_C = ['rate(C[5m])', 'increase(C[10m])', 'resets(C[15m])', 'irate(C[2m])', 'sum(rate(C[5m]))', 'C'];

function cases(): OracleCase[] {
  const out: OracleCase[] = [];
  const queries = [
    ...QUERIES_G.flatMap((q) => [q.replaceAll('G', 'rw_gauge'), q.replaceAll('G', 'otlp_gauge')]),
    ...QUERIES_C.flatMap((q) => [q.replaceAll('C', 'rw_count_total'), q.replaceAll('C', 'otlp_count_total')]),
  ];
  // Instants: just after the gap's marker, inside the gap, just after the end's marker, later within its lookback, and past every series.
  const instants = [10 * MIN + 5_000, 14 * MIN, 25 * MIN + 20_000, 28 * MIN, 33 * MIN + 7_000, 39 * MIN, 44 * MIN];
  for (const q of queries) {
    for (const at of instants) out.push({ query: q, range: { startMs: T0 + at, endMs: T0 + at, stepMs: 0 } });
    out.push({ query: q, range: { startMs: T0, endMs: T0 + 46 * MIN, stepMs: 30_000 } });
    out.push({ query: q, range: { startMs: T0 + 2 * MIN, endMs: T0 + 45 * MIN, stepMs: 37_000 } });
  }
  return out;
}

async function remoteWrite(url: string, series: TestSeries[], tenant?: string): Promise<string> {
  const body = Buffer.from(snappy.compress(encodeWriteRequest(series)));
  const res = await fetch(url, { method: 'POST', body, headers: { ...RW_HEADERS, ...(tenant === undefined ? {} : { 'x-scope-orgid': tenant }) } });
  return `${res.status} ${(await res.text()).slice(0, 200)}`;
}

t.test('staleness markers: otlpdb (remote write and OTLP flags) answers as Prometheus 2.42', async (t) => {
  if (!prometheusPresent(t, 'the staleness oracle')) return;
  const c = await inProcessCluster(t, { n: 3, founders: 3, prefix: 'otlpdb-stale-oracle-', seedBase: 0x57a1, extra: { shards: 4, replicas: 3, tickMs: 20 }, otlp: true });
  for (const id of [1, 2, 3]) c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders }));
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, 1500, 40), `node ${id} is ready`);

  let prom: RunningPrometheus | null = null;
  try {
    prom = await startPrometheusOver(null, PORT, { remoteWriteReceiver: true });
    const prometheusSeries = [...rwSeries('rw_gauge', GAUGES, true), ...rwSeries('rw_count_total', COUNTERS, true), ...rwSeries('otlp_gauge', GAUGES, true), ...rwSeries('otlp_count_total', COUNTERS, true)];
    t.match(await remoteWrite(`${prom.url}/api/v1/write`, prometheusSeries), /^204/, 'Prometheus took the samples and markers by remote write');

    const api = (id: number): HostPort => c.api(id);
    const rwUrl = `http://${api(2).host}:${api(2).port}/api/v1/write`;
    let last = '';
    t.ok(await pollUntil(async () => (last = await remoteWrite(rwUrl, [...rwSeries('rw_gauge', GAUGES, true), ...rwSeries('rw_count_total', COUNTERS, true)])).startsWith('204'), WRITE_ATTEMPTS, 250), `otlpdb took the remote write (${last})`);
    const otlp = c.nodes.get(1)?.otlpHttpAddress() as HostPort;
    const otlpBytes = Buffer.from(JSON.stringify(otlpBody()));
    let answer = { status: 0, body: '' };
    for (let k = 0; k < WRITE_ATTEMPTS && answer.status !== 200; k++) {
      answer = await httpRequest(otlp, '/v1/metrics', 'POST', otlpBytes, { 'content-type': 'application/json' });
      if (answer.status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    t.equal(answer.status, 200, `OTLP export acknowledged: ${answer.body.slice(0, 200)}`);
    t.notMatch(answer.body, /rejected/, 'no point refused (flagged points without a value included)');

    const node = httpRunner(`http://${api(3).host}:${api(3).port}`);
    const all = cases();
    const outcome = await runOracle(all, httpRunner(prom.url), node);
    t.ok(outcome.nonEmpty > all.length / 2, `most cases answer something (${outcome.nonEmpty} of ${all.length})`);
    t.same(outcome.mismatches.slice(0, 5), [], `${all.length} cases, ${outcome.mismatches.length} mismatches`);

    // Planted: a tenant written without its markers (what dropping them stores) must disagree with Prometheus.
    t.ok(await pollUntil(async () => (await remoteWrite(rwUrl, rwSeries('rw_gauge', GAUGES, false), 'planted')).startsWith('204'), WRITE_ATTEMPTS, 250), 'planted tenant written');
    const planted = async (query: string, range: OracleCase['range']): Promise<ReturnType<typeof compareResponses>> => {
      const form = new URLSearchParams({ query, time: String(range.startMs / 1000) });
      const res = await fetch(`http://${api(1).host}:${api(1).port}/api/v1/query`, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-scope-orgid': 'planted' } });
      return compareResponses(await httpRunner(prom?.url as string)(query, range), await res.json() as Parameters<typeof compareResponses>[1]);
    };
    t.not(await planted('rw_gauge', { startMs: T0 + 14 * MIN, endMs: T0 + 14 * MIN, stepMs: 0 }), null, 'planted: markers dropped → the gap answers a stale value, caught');
  } finally {
    await prom?.stop();
  }
});
