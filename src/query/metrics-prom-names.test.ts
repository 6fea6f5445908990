/**
 * metrics-prom-names.test.ts — the Prometheus view's metric names and units
 * against the cases of Prometheus's own OTLP translator
 * (prometheus/otlptranslator metric_namer_test.go, TestMetricNamer_Build,
 * the UTF8Allowed = false, WithMetricSuffixes = true, no-namespace rows:
 * Prometheus 3's default UnderscoreEscapingWithSuffixes), and the metadata a
 * real store gives end to end: unit and monotonic flag in the series
 * identity, the description beside it (changed without a new series, kept
 * across a flush and a restart), /api/v1/metadata's type, help and unit.
 */
import t from 'tap';
import { initHash } from '../partition/hash.js';
import { MetricStore } from '../storage/metrics/metric-store.js';
import { Flusher, type TempDb, openTempDb, removeTempDb, testPointRow } from '../storage/metrics/store-test-util.js';
import type { KeyValue, MetricData, MetricPointRow } from '../storage/rows.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { type PromMetricType, PromView, promMetricName, promUnitName } from './metrics-prom-view.js';
import { readShardMetadata, readShardSeries } from './metrics-shard-read.js';

/** Go's MetricType → the naming type promMetricName takes. */
const COUNTER: PromMetricType = 'counter';
const GAUGE: PromMetricType = 'gauge';
const OTHER: PromMetricType = 'unknown'; // histograms, summaries, non-monotonic counters, unknown

/** TRANSLATOR_CASES: [test name, metric name, unit, type, want metric name, want unit name]. */
const TRANSLATOR_CASES: readonly (readonly [string, string, string, PromMetricType, string, string])[] = [
  ['counter metric with total suffix', 'requests', '', COUNTER, 'requests_total', ''],
  ['gauge with unit 1 gets ratio suffix', 'cpu_usage', '1', GAUGE, 'cpu_usage_ratio', ''],
  ['counter with unit 1 does not get ratio suffix', 'items', '1', COUNTER, 'items_total', ''],
  ['metric with time unit', 'response_time', 'ms', GAUGE, 'response_time_milliseconds', 'milliseconds'],
  ['metric with bytes unit', 'memory_usage', 'By', GAUGE, 'memory_usage_bytes', 'bytes'],
  ['metric with per unit', 'requests', '1/s', GAUGE, 'requests_per_second', 'per_second'],
  ['metric with complex per unit', 'throughput', 'By/s', GAUGE, 'throughput_bytes_per_second', 'bytes_per_second'],
  ['metric with unknown unit', 'custom_metric', 'custom_unit', GAUGE, 'custom_metric_custom_unit', 'custom_unit'],
  ['metric with unit containing braces is ignored', 'custom_metric', '{custom}', GAUGE, 'custom_metric', ''],
  ['metric with per unit containing braces is ignored', 'custom_metric', 'By/{custom}', GAUGE, 'custom_metric_bytes', 'bytes'],
  ['metric name already contains total suffix', 'requests_total', '', COUNTER, 'requests_total', ''],
  ['metric name already contains ratio suffix', 'cpu_usage_ratio', '1', GAUGE, 'cpu_usage_ratio', ''],
  ['metric name already contains unit suffix', 'response_time_seconds', 's', GAUGE, 'response_time_seconds', 'seconds'],
  ['metric name already contains type and unit suffix', 'cpu_seconds_total', 's', COUNTER, 'cpu_seconds_total', 'seconds'],
  ['metric with per unit, counter', 'requests', '1/s', COUNTER, 'requests_per_second_total', 'per_second'],
  ['metric with multiple underscores normalized', 'metric__with__multiple__underscores', 'unit__multiple__underscores', GAUGE, 'metric_with_multiple_underscores_unit_multiple_underscores', 'unit_multiple_underscores'],
  ['metric with special chars in unit', 'custom_metric', 'unit@with#special/chars', GAUGE, 'custom_metric_unit_with_special_per_chars', 'unit_with_special_per_chars'],
  ['metric name with only special characters', '@#$%', '', GAUGE, '', ''],
  ['metric with special characters replaced', 'metric@with#special$chars', '', GAUGE, 'metric_with_special_chars', ''],
  ['metric with multiple consecutive special chars', 'metric@@##$$name', '', GAUGE, 'metric_name', ''],
  ['metric starting with digit gets underscore prefix', '123metric', '', GAUGE, '_123metric', ''],
  ['histogram metric type', 'request_duration', 's', OTHER, 'request_duration_seconds', 'seconds'],
  ['exponential histogram metric type', 'request_size', 'By', OTHER, 'request_size_bytes', 'bytes'],
  ['summary metric type', 'response_time', 'ms', OTHER, 'response_time_milliseconds', 'milliseconds'],
  ['non-monotonic counter metric type', 'active_connections', '', OTHER, 'active_connections', ''],
  ['unknown metric type', 'unknown_metric', '', OTHER, 'unknown_metric', ''],
  ['metric with days unit', 'uptime', 'd', GAUGE, 'uptime_days', 'days'],
  ['metric with hours unit', 'duration', 'h', GAUGE, 'duration_hours', 'hours'],
  ['metric with minutes unit', 'timeout', 'min', GAUGE, 'timeout_minutes', 'minutes'],
  ['metric with microseconds unit', 'latency', 'us', GAUGE, 'latency_microseconds', 'microseconds'],
  ['metric with nanoseconds unit', 'precision_time', 'ns', GAUGE, 'precision_time_nanoseconds', 'nanoseconds'],
  ['metric with kibibytes unit', 'cache_size', 'KiBy', GAUGE, 'cache_size_kibibytes', 'kibibytes'],
  ['metric with mebibytes unit', 'memory', 'MiBy', GAUGE, 'memory_mebibytes', 'mebibytes'],
  ['metric with gibibytes unit', 'storage', 'GiBy', GAUGE, 'storage_gibibytes', 'gibibytes'],
  ['metric with tibibytes unit', 'capacity', 'TiBy', GAUGE, 'capacity_tibibytes', 'tibibytes'],
  ['metric with kilobytes unit', 'transfer', 'KBy', GAUGE, 'transfer_kilobytes', 'kilobytes'],
  ['metric with megabytes unit', 'download', 'MBy', GAUGE, 'download_megabytes', 'megabytes'],
  ['metric with gigabytes unit', 'backup', 'GBy', GAUGE, 'backup_gigabytes', 'gigabytes'],
  ['metric with terabytes unit', 'archive', 'TBy', GAUGE, 'archive_terabytes', 'terabytes'],
  ['metric with meters unit', 'distance', 'm', GAUGE, 'distance_meters', 'meters'],
  ['metric with volts unit', 'voltage', 'V', GAUGE, 'voltage_volts', 'volts'],
  ['metric with amperes unit', 'current', 'A', GAUGE, 'current_amperes', 'amperes'],
  ['metric with joules unit', 'energy', 'J', GAUGE, 'energy_joules', 'joules'],
  ['metric with watts unit', 'power', 'W', GAUGE, 'power_watts', 'watts'],
  ['metric with grams unit', 'weight', 'g', GAUGE, 'weight_grams', 'grams'],
  ['metric with celsius unit', 'temperature', 'Cel', GAUGE, 'temperature_celsius', 'celsius'],
  ['metric with hertz unit', 'frequency', 'Hz', GAUGE, 'frequency_hertz', 'hertz'],
  ['metric with percent unit', 'cpu_usage', '%', GAUGE, 'cpu_usage_percent', 'percent'],
  ['metric with per minute unit', 'requests', '1/m', GAUGE, 'requests_per_minute', 'per_minute'],
  ['metric with per hour unit', 'events', '1/h', GAUGE, 'events_per_hour', 'per_hour'],
  ['metric with per day unit', 'transactions', '1/d', GAUGE, 'transactions_per_day', 'per_day'],
  ['metric with per week unit', 'reports', '1/w', GAUGE, 'reports_per_week', 'per_week'],
  ['metric with per month unit', 'invoices', '1/mo', GAUGE, 'invoices_per_month', 'per_month'],
  ['metric with per year unit', 'renewals', '1/y', GAUGE, 'renewals_per_year', 'per_year'],
  ['metric with unknown per unit', 'custom', '1/custom_unit', GAUGE, 'custom_per_custom_unit', 'per_custom_unit'],
  ['metric with empty per unit', 'metric', 'By/', GAUGE, 'metric_bytes', 'bytes'],
  ['metric with whitespace in unit', 'metric', ' By / s ', GAUGE, 'metric_bytes_per_second', 'bytes_per_second'],
  ['metric with only slash in unit', 'metric', '/', GAUGE, 'metric', ''],
  ['http.request.duration/Prometheus-style', 'http.request.duration', 'ms', OTHER, 'http_request_duration_milliseconds', 'milliseconds'],
  ['http.requests/Prometheus-style', 'http.requests', '1', COUNTER, 'http_requests_total', ''],
];

t.test('promMetricName and promUnitName give otlptranslator’s answers (metric_namer_test.go)', async (t) => {
  for (const [what, name, unit, type, wantName, wantUnit] of TRANSLATOR_CASES) {
    t.equal(promMetricName(name, unit, type), wantName, `${what}: name`);
    t.equal(promUnitName(unit), wantUnit, `${what}: unit`);
  }
});

t.test('the table catches a planted translator bug (unit `1` gives _ratio to counters too)', async (t) => {
  const planted = (name: string, unit: string, type: PromMetricType): string => promMetricName(name, unit, type === 'counter' && unit === '1' ? 'gauge' : type);
  const wrong = TRANSLATOR_CASES.filter(([, name, unit, type, want]) => planted(name, unit, type) !== want).map(([what]) => what);
  t.ok(wrong.length > 0, `caught by: ${wrong.join(', ')}`);
});

function point(name: string, unit: string, description: string, data: MetricData, tMs: number, attrs: KeyValue[] = []): MetricPointRow {
  return testPointRow(name, data, attrs, tMs, { unit, description });
}
const sum = (v: number, monotonic: boolean, temporality: 1 | 2 = 2): MetricData => ({ type: 'sum', temporality, monotonic, value: { type: 'double', value: v } });
const gauge = (v: number): MetricData => ({ type: 'gauge', value: { type: 'double', value: v } });

t.test('a store keeps unit, monotonicity and description; the view names and describes from them', async (t) => {
  const hasher = await initHash();
  const tmp: TempDb = await openTempDb();
  t.teardown(() => removeTempDb(tmp));
  const budget = { seriesMax: 100, samplesMax: 1000 };
  let store = new MetricStore({ hasher });
  const rows = [
    point('http.server.duration', 'ms', 'Duration of HTTP requests.', gauge(1), 1000),
    point('process.memory', 'By', '', gauge(2), 1000),
    point('queue.size', '{items}', 'Items waiting.', sum(3, false), 1000), // an UpDownCounter
    point('http.requests', '1', 'Requests served.', sum(4, true), 1000),
    point('jobs.done', '', '', sum(5, true, 1), 1000), // delta: a gauge, no _total
  ];
  t.equal(store.add('t', rows, 0).accepted, rows.length);
  const meta = async (s: MetricStore, view = new PromView({ promoteResourceAttributes: [] })): Promise<string[]> => {
    const r = readShardMetadata({ shard: 1, store: s, kv: tmp.db, tenant: 't', view, stats: newScanStats() }, [{ name: '__name__', op: '=~', value: '.+' }], budget);
    return r.series.map((f) => f.labels.map((l) => `${l.name}=${l.value}`).join(' '));
  };
  const want = [
    '__name__=http_requests_total help=Requests served. type=counter',
    '__name__=http_server_duration_milliseconds help=Duration of HTTP requests. type=gauge unit=milliseconds',
    '__name__=jobs_done type=gauge',
    '__name__=process_memory_bytes type=gauge unit=bytes',
    '__name__=queue_size help=Items waiting. type=gauge',
  ];
  t.same(await meta(store), want, 'names, types, help and units as Prometheus’s OTLP receiver gives them');

  // A new description: the same series (no new id), a new help, the view's cache follows.
  const view = new PromView({ promoteResourceAttributes: [] });
  t.same(await meta(store, view), want);
  const seriesBefore = store.stats().secondary;
  store.add('t', [point('http.requests', '1', 'Requests served, all codes.', sum(6, true), 2000)], 0);
  t.equal(store.stats().secondary, seriesBefore, 'a changed description is no new series');
  t.match((await meta(store, view))[0], /help=Requests served, all codes\. type=counter/, 'the new help, through a warm view cache');
  const sel = await readShardSeries({ shard: 1, store, kv: tmp.db, tenant: 't', view, stats: newScanStats() }, [{ name: '__name__', op: '=', value: 'http_requests_total' }], 0, 10_000, budget, true);
  t.same([...(sel.series[0]?.values ?? [])], [4, 6], 'one series across the description change');

  // Two writers disagree: the latest point's description wins; a flush and a restart keep it.
  store.add('t', [point('http.requests', '1', 'Writer B wording.', sum(7, true), 3000), point('http.requests', '1', 'Writer A wording.', sum(8, true), 4000)], 0);
  const f = new Flusher(store, tmp.db);
  await f.flush();
  store = new MetricStore({ hasher });
  await store.load(tmp.db);
  const after = await meta(store);
  t.match(after[0], /help=Writer A wording\. type=counter/, 'the last write wins, durably');
  t.same(after.slice(1), want.slice(1), 'the other families survive the restart unchanged');
});
