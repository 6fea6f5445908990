import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { sparkline } from '../render/sparkline.js';
import { parseStartOptions } from './start.js';
import { renderInstant, renderRange, runQueryMetrics, seriesText } from './query-metrics.js';

t.test('sparkline: scaled blocks, gaps, NaN, resampling', async (t) => {
  t.equal(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8), '▁▂▃▄▅▆▇█');
  t.equal(sparkline([1, null, NaN, 1], 10), '▄ ·▄');
  t.equal(sparkline(Array.from({ length: 100 }, (_, i) => i), 10).length, 10, 'resampled to the width');
  t.equal(sparkline([], 10), '');
});

t.test('renderers', async (t) => {
  t.equal(seriesText({ __name__: 'up', job: 'a"b', instance: 'x' }), 'up{instance="x", job="a\\"b"}');
  t.equal(seriesText({ job: 'a' }), '{job="a"}');
  t.same(renderInstant({ resultType: 'vector', result: [{ metric: { __name__: 'up', job: 'api' }, value: [1, '1'] }] }), ['SERIES         VALUE', 'up{job="api"}  1', '1 series']);
  t.same(renderInstant({ resultType: 'scalar', result: [1, '42'] }), ['scalar: 42']);
  t.same(renderRange({ resultType: 'matrix', result: [{ metric: { __name__: 'x' }, values: [[100, '1'], [110, '3'], [130, '2']] }] }, 100, 130, 10, 60), ['x', '  ▁█ ▅  min 1  max 3  last 2', '1 series, 4 steps of 10s']);
});

t.test('against a Prometheus-shaped server: instant, range, errors; bad flags refused before sending', async (t) => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    const u = new URL(req.url ?? '/', 'http://x');
    const q = u.searchParams.get('query');
    res.setHeader('content-type', 'application/json');
    if (q === 'bad(') {
      res.statusCode = 400;
      res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: '1:5: parse error: unclosed left parenthesis' }));
    } else if (q === 'down') {
      res.statusCode = 503;
      res.end(JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'PromQL engine not wired' }));
    } else if (u.pathname === '/api/v1/query_range') {
      const start = Number(u.searchParams.get('start'));
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { __name__: 'up' }, values: [[start, '1'], [start + 60, '2']] }] }, warnings: ['shard 2 did not answer'] }));
    } else {
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { __name__: 'up' }, value: [1, '1'] }] } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const server_ = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) };
  t.equal(await runQueryMetrics('up', { server: server_, time: '1700000000' }, io), 0);
  t.same(out, ['SERIES  VALUE', 'up      1', '1 series']);
  t.match(seen[0], /^\/api\/v1\/query\?query=up&time=1700000000$/);
  out.length = 0;
  t.equal(await runQueryMetrics('up', { server: server_, range: '2m', step: '1m', time: '1700000000' }, io), 0);
  t.match(seen[1], /^\/api\/v1\/query_range\?query=up&start=1699999880&end=1700000000&step=60$/);
  t.same(out[0], 'up');
  t.same(err, ['warning: shard 2 did not answer']);
  out.length = 0;
  t.equal(await runQueryMetrics('up', { server: server_, range: '2h', step: '1h', time: '1700000000', maxSourceResolution: '5m' }, io), 0);
  t.match(seen[2], /&step=3600&max_source_resolution=5m$/, '--max-source-resolution is sent as max_source_resolution');
  err.length = 0;
  out.length = 0;
  t.equal(await runQueryMetrics('up', { server: server_, json: true }, io), 0);
  t.match(out[0], /^\{"status":"success"/);
  const code = async (q: string, o: Record<string, string>): Promise<string> => {
    try {
      await runQueryMetrics(q, { server: server_, ...o }, io);
      return 'none';
    } catch (e) {
      return (e as { code: string }).code;
    }
  };
  const before = seen.length;
  t.equal(await code('', {}), 'ERR_INVALID_ARGUMENT', 'an empty query');
  t.equal(await code('up', { range: 'soon' }), 'ERR_INVALID_ARGUMENT', 'a bad --range');
  t.equal(await code('up', { step: '1m' }), 'ERR_INVALID_ARGUMENT', '--step without --range');
  t.equal(await code('up', { range: '30d', step: '1s' }), 'ERR_INVALID_ARGUMENT', 'past 11,000 steps');
  t.equal(await code('up', { range: '1h', step: '100ms' }), 'ERR_INVALID_ARGUMENT', 'a step under 1s');
  t.equal(await code('up', { time: 'noon' }), 'ERR_INVALID_ARGUMENT', 'a bad --time');
  t.equal(await code('up', { tenant: 'a b' }), 'ERR_INVALID_ARGUMENT', 'a bad tenant');
  t.equal(await code('up', { target: 'http://x' }), 'ERR_INVALID_ARGUMENT', '--server and --target together');
  t.equal(await code('up', { width: '2' }), 'ERR_INVALID_ARGUMENT', 'a bad --width');
  t.equal(await code('up', { maxSourceResolution: '10m' }), 'ERR_INVALID_ARGUMENT', 'a bad --max-source-resolution');
  t.equal(seen.length, before, 'nothing was sent for a bad flag');
  t.equal(await code('bad(', {}), 'ERR_INVALID_ARGUMENT', 'bad_data from the node');
  t.equal(await code('down', {}), 'ERR_UNAVAILABLE', 'unavailable from the node');
  t.equal(await code('up', { server: 'http://127.0.0.1:1' }), 'ERR_UNAVAILABLE', 'nothing listening');
});

t.test('otlpdb start --promote-resource-attributes reaches the node options', async (t) => {
  const base = { id: '1', data: '/d', peer: '127.0.0.1', initialCluster: '1=127.0.0.1:7400' };
  t.same(parseStartOptions({ ...base, promoteResourceAttributes: 'k8s.pod.name, host.name,' }).promoteResourceAttributes, ['k8s.pod.name', 'host.name']);
  t.equal(parseStartOptions(base).promoteResourceAttributes, undefined, 'none by default');
  t.throws(() => parseStartOptions({ ...base, promoteResourceAttributes: Array.from({ length: 300 }, (_, i) => `k${i}`).join(',') }), { code: 'ERR_INVALID_ARGUMENT' });
});
