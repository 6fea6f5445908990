import t from 'tap';
import snappy from 'snappyjs';
import { OtlpdbError } from '../errors.js';
import type { FloatSeries, PromqlEngine, SeriesSource, SourceStats } from '../query/promql/source.js';
import { newSourceStats } from '../query/metrics-read.js';
import { parseDuration, parseSelector, parseTime } from './prom-params.js';
import { decodeMetricsProto } from '../otlp/proto-metrics.js';
import { STALE_NAN_BITS, checkRemoteWriteHeaders, decodeWriteRequest, otlpOfWrite, remoteWriteStatus, uncompressSnappy } from './prom-remote-write.js';
import { promRoute, servePrometheus } from './prom-routes.js';
import type { PromRequest } from './prom-routes.js';
import type { PromApiSource } from './types.js';
import { encodeWriteRequest } from './prom-write-test-util.js';

// The Prometheus routes in process, over a fake PromApiSource: parameters
// and errors exactly as Prometheus words them, result shapes, the engine
// not wired (503 unavailable), cancellation; and the remote-write decoder
// on bad input.

const NOW = 1_700_000_000_000;
const series = (name: string, extra: Record<string, string> = {}): FloatSeries => ({
  labels: Object.entries({ __name__: name, ...extra })
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([n, v]) => ({ name: n, value: v })),
  timestampsMs: new Float64Array(0),
  values: new Float64Array(0),
});

function fakeSource(engine: PromqlEngine | null, failed = false): PromApiSource {
  const stats = (s: SourceStats): void => {
    s.shardsAsked += 2;
    if (failed) s.partialFailures.push({ shard: 2, code: 'ERR_UNAVAILABLE', message: 'down' });
  };
  return {
    engine,
    sourceFor: (): SeriesSource => {
      const s: SourceStats = newSourceStats();
      return { stats: s, select: async () => (stats(s), []) };
    },
    series: async (_t, sets, _s, _e, _c, _sig, st) => {
      stats(st);
      const all = [series('up', { job: 'a' }), series('up', { job: 'b' }), series('rpc_count', { job: 'a', method: 'GET' })];
      return all.filter((x) => sets.some((set) => set.every((m) => m.op !== '=' || (x.labels.find((l) => l.name === m.name)?.value ?? '') === m.value)));
    },
    metadata: async () => [series('up', { type: 'gauge' }), series('rpc_seconds', { type: 'histogram', unit: 'seconds', help: 'latency' })],
  };
}

const ENGINE: PromqlEngine = {
  async evaluate(text, range, source, opts) {
    if (text === '') throw new OtlpdbError('ERR_INVALID_ARGUMENT', '1:1: parse error: no expression found in input');
    if (text === 'slow') {
      await new Promise<void>((resolve) => opts.signal.addEventListener('abort', () => resolve(), { once: true }));
      throw new OtlpdbError('ERR_UNAVAILABLE', 'aborted');
    }
    if (text === 'big') throw new OtlpdbError('ERR_LIMIT_EXCEEDED', 'too many samples');
    await source.select({ matchers: [{ name: '__name__', op: '=', value: text }], startMs: range.startMs, endMs: range.endMs, stepMs: range.stepMs }, opts.signal);
    const labels = [{ name: '__name__', value: text }];
    if (range.stepMs === 0) return { kind: 'vector', samples: [{ labels, timestampMs: range.startMs, value: 1e21 }] };
    return { kind: 'matrix', series: [{ labels, timestampsMs: Float64Array.of(range.startMs, range.endMs), values: Float64Array.of(0.5, NaN) }] };
  },
};

async function call(src: PromApiSource | undefined, path: string, qs: string, o: { method?: string; signal?: AbortSignal } = {}): Promise<{ status: number; doc: Record<string, unknown> }> {
  const route = promRoute(path);
  if (route === null) throw new Error(`no route ${path}`);
  const r: PromRequest = { method: o.method ?? 'GET', params: new URLSearchParams(qs), org: 'acme', body: new Uint8Array(0), headers: {}, nowMs: NOW, signal: o.signal ?? new AbortController().signal };
  const a = await servePrometheus(src, route, r);
  return { status: a.status, doc: JSON.parse(typeof a.body === 'string' ? a.body : Buffer.from(a.body).toString('utf8')) as Record<string, unknown> };
}

t.test('parameters parse as Prometheus parses them', async (t) => {
  t.equal(parseTime('1700000000.5', 'time'), 1_700_000_000_500);
  t.equal(parseTime('2023-11-14T22:13:20Z', 'time'), 1_700_000_000_000);
  t.equal(parseTime('2023-11-14T23:13:20.250+01:00', 'time'), 1_700_000_000_250);
  t.throws(() => parseTime('yesterday', 'start'), { message: 'invalid parameter "start": cannot parse "yesterday" to a valid timestamp' });
  t.equal(parseDuration('1m30s', 'step'), 90_000);
  t.equal(parseDuration('15', 'step'), 15_000);
  t.equal(parseDuration('0.5', 'step'), 500);
  t.equal(parseDuration('1d', 'step'), 86_400_000);
  t.throws(() => parseDuration('5 minutes', 'step'), { message: 'invalid parameter "step": cannot parse "5 minutes" to a valid duration' });
  t.same(parseSelector('up{job="a\\"b",x!~\'y.*\'}'), [
    { name: '__name__', op: '=', value: 'up' },
    { name: 'job', op: '=', value: 'a"b' },
    { name: 'x', op: '!~', value: 'y.*' },
  ]);
  t.same(parseSelector('{__name__=~"rpc_.+"}'), [{ name: '__name__', op: '=~', value: 'rpc_.+' }]);
  t.throws(() => parseSelector('{job=~".*"}'), { message: /at least one non-empty matcher/ });
  t.throws(() => parseSelector('up{job="a"'), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => parseSelector('up{job=a}'), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => parseSelector('up{job="a"} extra'), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('query routes: shapes, validation errors, engine errors', async (t) => {
  const s = fakeSource(ENGINE);
  const inst = await call(s, '/api/v1/query', 'query=up&time=1700000000');
  t.equal(inst.status, 200);
  t.same(inst.doc, { status: 'success', data: { resultType: 'vector', result: [{ metric: { __name__: 'up' }, value: [1_700_000_000, '1000000000000000000000'] }] } });
  const rng = await call(s, '/api/v1/query_range', 'query=up&start=1700000000&end=1700000060&step=1m');
  t.same(rng.doc, { status: 'success', data: { resultType: 'matrix', result: [{ metric: { __name__: 'up' }, values: [[1_700_000_000, '0.5'], [1_700_000_060, 'NaN']] }] } });
  const withStats = await call(s, '/api/v1/query', 'query=up&stats=all');
  t.match(withStats.doc, { data: { stats: { samples: { totalQueryableSamples: 0 }, otlpdb: { shardsAsked: 2 } } } }, 'stats=all');
  const bad: [string, string, string][] = [
    ['/api/v1/query_range', 'query=up&end=10&step=1', 'invalid parameter "start": cannot parse "" to a valid timestamp'],
    ['/api/v1/query_range', 'query=up&start=10&end=5&step=1', 'end timestamp must not be before start time'],
    ['/api/v1/query_range', 'query=up&start=0&end=5&step=0', 'zero or negative query resolution step widths are not accepted. Try a positive integer'],
    ['/api/v1/query_range', 'query=up&start=0&end=5&step=x', 'invalid parameter "step": cannot parse "x" to a valid duration'],
    ['/api/v1/query_range', 'query=up&start=0&end=11001&step=1', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)'],
    ['/api/v1/query', 'query=up&time=noon', 'invalid parameter "time": Invalid time value for \'time\': cannot parse "noon" to a valid timestamp'],
    ['/api/v1/query', 'query=up&timeout=soon', 'invalid parameter "timeout": cannot parse "soon" to a valid duration'],
    ['/api/v1/query', 'query=up&consistency=eventual', 'invalid parameter "consistency": linearizable or stale'],
    ['/api/v1/query', 'query=', 'invalid parameter "query": 1:1: parse error: no expression found in input'],
    ['/api/v1/query_range', 'query=up&start=0&end=11000.5&step=1', 'ok'],
    ['/api/v1/query', 'query=up&max_source_resolution=10m', 'invalid parameter "max_source_resolution": "10m" is not raw, 5m, 1h or auto'],
    ['/api/v1/query_range', 'query=up&start=0&end=600&step=300&max_source_resolution=hourly', 'invalid parameter "max_source_resolution": "hourly" is not raw, 5m, 1h or auto'],
    ['/api/v1/query_range', 'query=up&start=0&end=600&step=300&max_source_resolution=1h', 'ok'],
  ];
  for (const [path, qs, error] of bad) {
    const r = await call(s, path, qs);
    if (error === 'ok') {
      t.equal(r.status, 200, `${qs}: accepted`);
      continue;
    }
    t.same({ status: r.status, doc: r.doc }, { status: 400, doc: { status: 'error', errorType: 'bad_data', error } }, qs);
  }
  // max_source_resolution reaches the engine (default auto).
  const seen: (string | undefined)[] = [];
  const spy: PromqlEngine = { evaluate: (text, range, source, opts) => (seen.push(opts.maxSourceResolution), ENGINE.evaluate(text, range, source, opts)) };
  for (const qs of ['query=up', 'query=up&max_source_resolution=raw', 'query=up&max_source_resolution=5m']) await call(fakeSource(spy), '/api/v1/query', qs);
  t.same(seen, ['auto', 'raw', '5m'], 'max_source_resolution is passed to the engine, auto by default');
  const big = await call(s, '/api/v1/query', 'query=big');
  t.same([big.status, big.doc['errorType']], [422, 'execution'], 'a limit is an execution error');
  const slow = await call(s, '/api/v1/query', 'query=slow&timeout=0.05');
  t.same([slow.status, slow.doc['errorType'], slow.doc['error']], [503, 'timeout', 'query timed out in query execution']);
  const client = new AbortController();
  const pending = call(s, '/api/v1/query', 'query=slow', { signal: client.signal });
  client.abort();
  t.same([(await pending).doc['errorType']], ['canceled'], 'a client that goes away cancels the query');
  const unwired = await call(fakeSource(null), '/api/v1/query', 'query=up');
  t.same(unwired, { status: 503, doc: { status: 'error', errorType: 'unavailable', error: 'PromQL engine not wired' } });
  const partial = await call(fakeSource(ENGINE, true), '/api/v1/query', 'query=up');
  t.match(partial.doc, { status: 'success', partial: true, warnings: [/shard 2 did not answer/] }, 'a failed shard makes the answer partial with a warning');
  const method = await call(s, '/api/v1/query', 'query=up', { method: 'DELETE' });
  t.equal(method.status, 405);
});

t.test('listing routes', async (t) => {
  const s = fakeSource(ENGINE);
  t.same((await call(s, '/api/v1/series', 'match[]=up')).doc, { status: 'success', data: [{ __name__: 'up', job: 'a' }, { __name__: 'up', job: 'b' }] });
  t.same((await call(s, '/api/v1/series', '')).doc, { status: 'error', errorType: 'bad_data', error: 'no match[] parameter provided' });
  t.same((await call(s, '/api/v1/series', 'match[]=up&limit=1')).doc, { status: 'success', data: [{ __name__: 'up', job: 'a' }], warnings: ['results truncated due to limit'] });
  t.same((await call(s, '/api/v1/labels', '')).doc, { status: 'success', data: ['__name__', 'job', 'method'] });
  t.same((await call(s, '/api/v1/label/job/values', '')).doc, { status: 'success', data: ['a', 'b'] });
  t.same((await call(s, '/api/v1/label/__name__/values', '')).doc, { status: 'success', data: ['rpc_count', 'up'] });
  t.same((await call(s, '/api/v1/label/9bad/values', '')).doc, { status: 'error', errorType: 'bad_data', error: 'invalid label name: "9bad"' });
  t.same((await call(s, '/api/v1/series', 'match[]=up&start=5&end=1')).doc['errorType'], 'bad_data');
  t.same((await call(s, '/api/v1/metadata', '')).doc, {
    status: 'success',
    data: { up: [{ type: 'gauge', help: '', unit: '' }], rpc_seconds: [{ type: 'histogram', help: 'latency', unit: 'seconds' }] },
  });
  t.same((await call(undefined, '/api/v1/status/buildinfo', '')).doc, { status: 'success', data: { version: '2.42.0', revision: 'otlpdb', branch: 'otlpdb', buildUser: 'otlpdb', buildDate: '', goVersion: `node ${process.version}` } });
  t.equal((await call(undefined, '/api/v1/series', 'match[]=up')).status, 404, 'a node without metrics');
});

t.test('remote write: decode, convert, refuse bad input', async (t) => {
  const stale = new DataView(new ArrayBuffer(8));
  stale.setBigUint64(0, STALE_NAN_BITS, true);
  const body = encodeWriteRequest([
    { labels: [['__name__', 'rw_up'], ['job', 'node'], ['instance', 'h:9100']], samples: [[1.5, 1000], [NaN, 2000], [stale.getFloat64(0, true), 3000, true]] },
  ]);
  const d = decodeWriteRequest(uncompressSnappy(snappy.compress(body)));
  t.equal(d.staleMarkers, 1, 'one staleness marker');
  t.equal(d.samples, 3);
  t.ok(Number.isNaN(d.series[0]?.samples[1]?.value), 'a plain NaN is kept');
  t.same(d.series[0]?.samples.map((s) => s.stale), [false, false, true], 'the marker is kept, known by its bits (not the plain NaN)');
  // In the OTLP request, the marker is the one data point flagged no-recorded-value.
  const otlp = decodeMetricsProto(otlpOfWrite(d), { tenant: 'default', nowMs: 10_000 });
  t.same([otlp.rejected, otlp.rows.map((r) => r.flags)], [0, [0, 0, 1]], 'the third point is flagged, none refused');
  t.same(d.series[0]?.labels.map((l) => l.name), ['__name__', 'instance', 'job']);
  t.ok(otlpOfWrite(d).length > 0);
  t.throws(() => uncompressSnappy(snappy.compress(body).subarray(0, 10)), { code: 'ERR_INVALID_ARGUMENT' }, 'truncated snappy');
  t.throws(() => uncompressSnappy(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x04)), { code: 'ERR_LIMIT_EXCEEDED' }, 'a declared length past the bound');
  t.throws(() => decodeWriteRequest(Uint8Array.of(0x0a, 0x05, 0x0a)), { code: 'ERR_INVALID_ARGUMENT' }, 'truncated protobuf');
  const refuse = (labels: [string, string][], why: RegExp): void => {
    t.throws(() => decodeWriteRequest(encodeWriteRequest([{ labels, samples: [[1, 1]] }])), { code: 'ERR_INVALID_ARGUMENT', message: why }, String(why));
  };
  refuse([['job', 'x']], /no __name__/);
  refuse([['__name__', 'a'], ['bad-name', 'x']], /invalid label name/);
  refuse([['__name__', 'a'], ['job', 'x'], ['job', 'y']], /duplicate label/);
  refuse([['__name__', 'a'], ['job', '']], /empty value/);
  refuse([['__name__', 'a b']], /invalid metric name/);
  t.throws(() => decodeWriteRequest(encodeWriteRequest([{ labels: [['__name__', 'a']], samples: [[1, -5]] }])), { message: /negative timestamp/ });
  t.same(checkRemoteWriteHeaders({ 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0' }), null);
  t.equal(checkRemoteWriteHeaders({ 'content-type': 'application/x-protobuf' })?.status, 415, 'no snappy');
  t.equal(remoteWriteStatus({ rejected: 0, message: '' }).status, 204);
  t.equal(remoteWriteStatus({ rejected: 2, message: 'out of order sample' }).status, 400);
  t.equal(remoteWriteStatus(new OtlpdbError('ERR_RATE_LIMITED', 'slow down', { retryAfterMs: 1500 })).retryAfterSeconds, 2);
  t.equal(remoteWriteStatus(new OtlpdbError('ERR_UNAVAILABLE', 'busy')).status, 503);
  t.equal(remoteWriteStatus(new OtlpdbError('ERR_LIMIT_EXCEEDED', 'big')).status, 413);
});
