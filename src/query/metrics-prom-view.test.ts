import t from 'tap';
import { initHash } from '../partition/hash.js';
import { MetricStore } from '../storage/metrics/metric-store.js';
import { escapeLabelName, seriesLabels } from '../storage/metrics/series-identity.js';
import { type TempDb, openTempDb, removeTempDb, stringKv, testPointRow } from '../storage/metrics/store-test-util.js';
import { compareCodePoints } from '../storage/metrics/series-registry.js';
import type { KeyValue, MetricData, MetricPointRow } from '../storage/rows.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { PromView, REMOTE_WRITE_SCOPE, mergeCollisions, promFamilyOf, promLabelName, promMetricName, unescapeLabelName } from './metrics-prom-view.js';
import { classicBuckets, expandRecords, formatPromFloat } from './metrics-prom-records.js';
import { readShardSeries } from './metrics-shard-read.js';
import { POINT_FLAG_NO_RECORDED_VALUE, isStaleMarker } from '../storage/metrics/staleness.js';

const CFG = { promoteResourceAttributes: ['k8s.pod.name'] };
const kv = stringKv;

function pointRow(name: string, data: MetricData, attrs: KeyValue[], tMs: number, resource: KeyValue[] = [kv('service.name', 'api'), kv('service.namespace', 'shop'), kv('service.instance.id', 'i-1')], scope = 'lib'): MetricPointRow {
  return testPointRow(name, data, attrs, tMs, { resource, scope });
}
function storedLabels(r: MetricPointRow): { name: string; value: string }[] {
  return seriesLabels(r).filter((l) => l.value !== '').sort((a, b) => compareCodePoints(a.name, b.name));
}

t.test('promMetricName follows otlptranslator: units, _total, _ratio, no doubling', async (t) => {
  t.equal(promMetricName('http.server.duration', 'ms', 'gauge'), 'http_server_duration_milliseconds');
  t.equal(promMetricName('http.server.request.duration', 's', 'unknown'), 'http_server_request_duration_seconds');
  t.equal(promMetricName('system.memory.usage', 'By', 'gauge'), 'system_memory_usage_bytes');
  t.equal(promMetricName('requests', '1', 'counter'), 'requests_total');
  t.equal(promMetricName('requests.total', '', 'counter'), 'requests_total', 'total is moved, not doubled');
  t.equal(promMetricName('cpu.utilization', '1', 'gauge'), 'cpu_utilization_ratio');
  t.equal(promMetricName('throughput', 'By/s', 'gauge'), 'throughput_bytes_per_second');
  t.equal(promMetricName('latency_seconds', 's', 'gauge'), 'latency_seconds', 'unit already a token');
  t.equal(promMetricName('queue', '{items}', 'gauge'), 'queue', 'units in braces are dropped');
  t.equal(promMetricName('2xx.count', '', 'counter'), '_2xx_count_total');
  t.equal(promMetricName('a..b//c', '', 'gauge'), 'a_b_c');
});

t.test('promLabelName sanitizes like Prometheus; unescapeLabelName inverts the store escaping', async (t) => {
  t.equal(promLabelName('http.method'), 'http_method');
  t.equal(promLabelName('123abc'), 'key_123abc');
  t.equal(promLabelName('__reserved__'), '__reserved__');
  t.equal(promLabelName('a..b'), 'a_b');
  t.equal(promLabelName('...'), '');
  for (const k of ['host.name', 'a_b', 'ünï.côdé', 'otel_x', '__y', 'plain', 'resource_z', 'U__q']) t.equal(unescapeLabelName(escapeLabelName(k)), k, k);
});

t.test('promFamilyOf: job, instance, promotion, collisions joined, types', async (t) => {
  const r = pointRow('http.requests', { type: 'sum', temporality: 2, monotonic: true, value: { type: 'int', value: 1n } }, [kv('http.method', 'GET'), kv('http_method', 'X')], 0, [
    kv('service.name', 'api'),
    kv('service.namespace', 'shop'),
    kv('service.instance.id', 'i-1'),
    kv('k8s.pod.name', 'pod-7'),
    kv('host.name', 'h'),
  ]);
  const f = promFamilyOf(r.name, storedLabels(r), CFG);
  t.equal(f.name, 'http_requests_total');
  t.equal(f.type, 'counter');
  t.same(f.labels, [
    { name: 'http_method', value: 'GET;X' },
    { name: 'instance', value: 'i-1' },
    { name: 'job', value: 'shop/api' },
    { name: 'k8s_pod_name', value: 'pod-7' },
  ]);
  const delta = pointRow('d', { type: 'sum', temporality: 1, monotonic: true, value: { type: 'int', value: 1n } }, [], 0);
  t.equal(promFamilyOf('d', storedLabels(delta), CFG).type, 'gauge', 'a delta sum is a gauge without _total');
  t.equal(promFamilyOf('d', storedLabels(delta), CFG).name, 'd');
  const upDownRow = { ...pointRow('free', { type: 'sum', temporality: 2, monotonic: false, value: { type: 'int', value: 1n } }, [], 0), unit: '1' };
  const upDown = storedLabels(upDownRow);
  t.same([promFamilyOf('free', upDown, CFG).name, promFamilyOf('free', upDown, CFG).type], ['free', 'gauge'], 'a non-monotonic sum: no _total, and no _ratio (not a gauge)');
  const withUnit = storedLabels({ ...pointRow('lat', { type: 'gauge', value: { type: 'double', value: 1 } }, [], 0), unit: 'ms' });
  t.equal(promFamilyOf('lat', withUnit, CFG).name, 'lat_milliseconds', 'the stored unit gives the suffix');
  t.equal(promFamilyOf('lat', withUnit, CFG, 'Latency.').help, 'Latency.', 'the description is the help');
  t.equal(promFamilyOf('lat', withUnit, CFG).unit, 'milliseconds', 'the unit as Prometheus names it');
  const rw = pointRow('up', { type: 'gauge', value: { type: 'double', value: 1 } }, [kv('job', 'node'), kv('instance', 'h:9100'), kv('__weird', 'v')], 0, [], REMOTE_WRITE_SCOPE);
  const fr = promFamilyOf('up', storedLabels(rw), CFG);
  t.equal(fr.name, 'up', 'a remote-write series keeps its name');
  t.same(fr.labels, [{ name: '__weird', value: 'v' }, { name: 'instance', value: 'h:9100' }, { name: 'job', value: 'node' }], 'and its labels');
});

t.test('a histogram or summary point flagged no-recorded-value is a staleness marker in every series it expands to', async (t) => {
  const data = { type: 'histogram', temporality: 2, count: 6, sum: 12, min: null, max: null, bounds: [0.1, 1], bucketCounts: [1, 2, 3] } as const;
  const h = pointRow('rpc.duration', data, [], 1000);
  const fam = promFamilyOf(h.name, storedLabels(h), CFG);
  const points = [1000, 2000, 3000].map((tMs, k) => ({ t: tMs, startMs: 0, flags: k === 1 ? POINT_FLAG_NO_RECORDED_VALUE : 0, data: data as never }));
  const series = expandRecords(fam, points);
  t.equal(series.length, 5, 'three buckets, _sum and _count');
  for (const s of series) {
    t.same([0, 1, 2].map((j) => isStaleMarker(s.values, j)), [false, true, false], `${s.labels.map((l) => l.value).join(',')}: the flagged point's sample is the marker`);
  }
  const q = { type: 'summary', count: 4, sum: 8, quantiles: [{ quantile: 0.5, value: 2 }] } as const;
  const qs = expandRecords(promFamilyOf('q', [], CFG), [{ t: 1000, startMs: 0, flags: POINT_FLAG_NO_RECORDED_VALUE, data: q as never }]);
  t.same(qs.map((s) => isStaleMarker(s.values, 0)), [true, true, true], 'a summary\'s quantile, _sum and _count');
});

t.test('histogram, summary and exponential histogram expansion', async (t) => {
  const h = pointRow('rpc.duration', { type: 'histogram', temporality: 2, count: 6, sum: 12, min: null, max: null, bounds: [0.1, 1], bucketCounts: [1, 2, 3] }, [], 1000);
  const fam = promFamilyOf(h.name, storedLabels(h), CFG);
  const series = expandRecords(fam, [{ t: 1000, startMs: 0, flags: 0, data: h.data as never }]);
  const byKey = new Map(series.map((s) => [s.labels.map((l) => `${l.name}=${l.value}`).join(','), s.values[0]]));
  t.equal(byKey.get('__name__=rpc_duration_bucket,instance=i-1,job=shop/api,le=0.1'), 1);
  t.equal(byKey.get('__name__=rpc_duration_bucket,instance=i-1,job=shop/api,le=1'), 3);
  t.equal(byKey.get('__name__=rpc_duration_bucket,instance=i-1,job=shop/api,le=+Inf'), 6);
  t.equal(byKey.get('__name__=rpc_duration_sum,instance=i-1,job=shop/api'), 12);
  t.equal(byKey.get('__name__=rpc_duration_count,instance=i-1,job=shop/api'), 6);
  const s = pointRow('q', { type: 'summary', count: 4, sum: 8, quantiles: [{ quantile: 0.5, value: 2 }] }, [], 1000);
  const ss = expandRecords(promFamilyOf('q', storedLabels(s), CFG), [{ t: 1000, startMs: 0, flags: 0, data: s.data as never }]);
  t.same(
    ss.map((x) => x.labels.find((l) => l.name === '__name__')?.value + (x.labels.find((l) => l.name === 'quantile')?.value ?? '')),
    ['q0.5', 'q_sum', 'q_count'],
  );
  // scale 0: base 2; positive offset 0 → buckets (1,2], (2,4]; negative offset 0 → [-2,-1); zero bucket le = 0.
  const e = { type: 'exponentialHistogram' as const, temporality: 2 as const, count: 10, sum: 3, min: null, max: null, scale: 0, zeroCount: 1, zeroThreshold: 0, positive: { offset: 0, bucketCounts: [4, 3] }, negative: { offset: 0, bucketCounts: [2] } };
  t.same(classicBuckets(e), [
    [-1, 2],
    [0, 3],
    [2, 7],
    [4, 10],
  ]);
  const wide = { ...e, scale: 3, positive: { offset: 0, bucketCounts: Array.from({ length: 400 }, () => 1) }, negative: { offset: 0, bucketCounts: [] }, count: 401 };
  const b = classicBuckets(wide);
  t.ok(b.length <= 161, `downscaled to ${b.length} buckets`);
  t.equal(b[b.length - 1]?.[1], 401, 'no count lost by downscaling');
  t.equal(formatPromFloat(1e-7), '0.0000001');
  t.equal(formatPromFloat(1.5e-25), '0.00000000000000000000000015');
  t.equal(formatPromFloat(1e21), '1000000000000000000000');
  t.equal(formatPromFloat(-2.5e22), '-25000000000000000000000');
  t.equal(formatPromFloat(0.1), '0.1');
  t.equal(formatPromFloat(Infinity), '+Inf');
});

t.test('mergeCollisions: union by timestamp, the earlier series wins a timestamp', async (t) => {
  const L = [{ name: '__name__', value: 'x' }];
  const m = mergeCollisions([
    { labels: L, timestampsMs: Float64Array.of(1, 2), values: Float64Array.of(10, 20) },
    { labels: L, timestampsMs: Float64Array.of(2, 3), values: Float64Array.of(99, 30) },
  ]);
  t.equal(m.length, 1);
  t.same([...(m[0]?.timestampsMs ?? [])], [1, 2, 3]);
  t.same([...(m[0]?.values ?? [])], [10, 20, 30]);
});

t.test('readShardSeries over a real store: matchers on Prometheus labels, histograms, budget', async (t) => {
  const hasher = await initHash();
  const tmp: TempDb = await openTempDb();
  t.teardown(() => removeTempDb(tmp));
  const store = new MetricStore({ hasher });
  const rows: MetricPointRow[] = [];
  for (let i = 0; i < 5; i++) {
    rows.push(pointRow('http.requests', { type: 'sum', temporality: 2, monotonic: true, value: { type: 'double', value: i } }, [kv('code', '200')], 1000 * (i + 1)));
    rows.push(pointRow('http.requests', { type: 'sum', temporality: 2, monotonic: true, value: { type: 'double', value: 10 * i } }, [kv('code', '500')], 1000 * (i + 1)));
    rows.push(pointRow('lat', { type: 'histogram', temporality: 2, count: i, sum: i, min: null, max: null, bounds: [1], bucketCounts: [0, i] }, [], 1000 * (i + 1)));
  }
  // The same series from another scope collides with the first (scope is not a label).
  rows.push(pointRow('http.requests', { type: 'sum', temporality: 2, monotonic: true, value: { type: 'double', value: 77 } }, [kv('code', '200')], 9000, undefined, 'other'));
  store.add('t', rows, 0);
  const view = new PromView(CFG);
  const ctx = { shard: 1, store, kv: tmp.db, tenant: 't', view, stats: newScanStats() };
  const budget = { seriesMax: 100, samplesMax: 1000 };
  const sel = await readShardSeries(ctx, [{ name: '__name__', op: '=', value: 'http_requests_total' }, { name: 'code', op: '=~', value: '2..' }], 0, 10_000, budget, true);
  t.equal(sel.series.length, 1, 'the two scopes merged into one Prometheus series');
  t.same([...(sel.series[0]?.values ?? [])], [0, 1, 2, 3, 4, 77]);
  const buckets = await readShardSeries(ctx, [{ name: '__name__', op: '=', value: 'lat_bucket' }, { name: 'le', op: '=', value: '+Inf' }], 0, 10_000, budget, true);
  t.equal(buckets.series.length, 1);
  t.same([...(buckets.series[0]?.values ?? [])], [0, 1, 2, 3, 4]);
  const regex = await readShardSeries(ctx, [{ name: '__name__', op: '=~', value: 'lat_.*' }], 0, 10_000, budget, false);
  t.same(
    regex.series.map((s) => s.labels.map((l) => l.value).join(',')),
    ['lat_bucket,i-1,shop/api,+Inf', 'lat_bucket,i-1,shop/api,1', 'lat_count,i-1,shop/api', 'lat_sum,i-1,shop/api'],
  );
  await t.rejects(readShardSeries(ctx, [{ name: '__name__', op: '=~', value: '.+' }], 0, 10_000, { seriesMax: 2, samplesMax: 1000 }, true), { code: 'ERR_LIMIT_EXCEEDED' });
  await t.rejects(readShardSeries(ctx, [{ name: '__name__', op: '=~', value: '.+' }], 0, 10_000, { seriesMax: 100, samplesMax: 3 }, true), { code: 'ERR_LIMIT_EXCEEDED' });
  await t.rejects(readShardSeries(ctx, [{ name: 'code', op: '=~', value: '.*' }], 0, 10_000, budget, true), { code: 'ERR_INVALID_ARGUMENT' }, 'a selector matching the empty string only is refused');
});
