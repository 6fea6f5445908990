import t from 'tap';
import snappy from 'snappyjs';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';
import { encodeWriteRequest } from './prom-write-test-util.js';

// The Prometheus API against a real 3-node cluster in this process (4
// shards, R=3), with metrics sent over OTLP/HTTP JSON and Prometheus remote
// write: series, labels, label values and metadata show the Prometheus view
// (names with _total and _bucket, job and instance, a promoted resource
// attribute), read linearizably right after the acknowledgements on other
// nodes; remote-write series come back unchanged; the PromQL engine reads
// through the cluster SeriesSource (a raw range selector gathered by select
// across shards, and a range function pushed to every shard: shardEval's
// union of the shards' own evaluations). (A node without an engine is
// tested in prom-routes.test.ts.)

const POLLS_MAX = 1500;
const POLL_MS = 40;
/** WRITE_ATTEMPTS bounds the retries of one write while the cluster settles. */
const WRITE_ATTEMPTS = 40;
const T0 = Date.now() - 60_000;

const kv = (key: string, value: string): unknown => ({ key, value: { stringValue: value } });
const ns = (ms: number): string => `${BigInt(ms) * 1_000_000n}`;

function otlpMetrics(): unknown {
  const resource = (service: string, inst: string): unknown => ({ attributes: [kv('service.name', service), kv('service.namespace', 'shop'), kv('service.instance.id', inst), kv('host.name', `host-${inst}`), kv('cloud.region', 'eu')] });
  const rms = [];
  for (const inst of ['a', 'b', 'c']) {
    rms.push({
      resource: resource('api', inst),
      scopeMetrics: [
        {
          scope: { name: 'lib', version: '1' },
          metrics: [
            {
              name: 'http.requests',
              unit: '1',
              sum: {
                aggregationTemporality: 2,
                isMonotonic: true,
                dataPoints: ['GET', 'POST'].flatMap((m) => [0, 1, 2].map((i) => ({ attributes: [kv('http.method', m)], timeUnixNano: ns(T0 + i * 15_000), asDouble: 10 * i + (m === 'GET' ? 1 : 2) }))),
              },
            },
            // Instance a's gauge and c's histogram end with a point flagged no-recorded-value (flags 1; the gauge's without a value): staleness markers.
            { name: 'queue.depth', gauge: { dataPoints: [{ timeUnixNano: ns(T0), asInt: '7' }, ...(inst === 'a' ? [{ timeUnixNano: ns(T0 + 15_000), flags: 1 }] : [])] } },
            {
              name: 'rpc.duration',
              histogram: {
                aggregationTemporality: 2,
                dataPoints: [
                  { timeUnixNano: ns(T0), count: '6', sum: 3, bucketCounts: ['1', '2', '3'], explicitBounds: [0.1, 1] },
                  ...(inst === 'c' ? [{ timeUnixNano: ns(T0 + 15_000), flags: 1, count: '6', sum: 3, bucketCounts: ['1', '2', '3'], explicitBounds: [0.1, 1] }] : []),
                ],
              },
            },
          ],
        },
      ],
    });
  }
  return { resourceMetrics: rms };
}

async function getJson(a: HostPort, path: string): Promise<{ status: number; doc: { status: string; data?: unknown; errorType?: string; error?: string; partial?: boolean } }> {
  const r = await httpRequest(a, path, 'GET', undefined, { 'x-scope-orgid': 'acme' });
  return { status: r.status, doc: JSON.parse(r.body) as { status: string; data?: unknown } };
}

t.test('Prometheus API across a 3-node cluster', async (t) => {
  const c = await inProcessCluster(t, {
    n: 3,
    founders: 3,
    prefix: 'otlpdb-prom-',
    seedBase: 7070,
    extra: { shards: 4, replicas: 3, tickMs: 20, promoteResourceAttributes: ['host.name'] },
    otlp: true,
  });
  for (const id of [1, 2, 3]) c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders }));
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, POLLS_MAX, POLL_MS), `node ${id} ready`);

  const web = (c.nodes.get(1) as OtlpdbNode).otlpHttpAddress() as HostPort;
  // A loaded machine may still be placing shards after /readyz: the write is retried until acknowledged (a retry is deduplicated by its idempotency key).
  const otlpBody = Buffer.from(JSON.stringify(otlpMetrics()));
  const sent = await pollUntil(async () => (await httpRequest(web, '/v1/metrics', 'POST', otlpBody, { 'content-type': 'application/json', 'x-scope-orgid': 'acme' })).status === 200, WRITE_ATTEMPTS, 250);
  t.ok(sent, 'OTLP metrics acknowledged');

  const series = await getJson(c.api(2), `/api/v1/series?match[]=http_requests_total&match[]=${encodeURIComponent('{__name__="queue_depth",instance="a"}')}`);
  t.equal(series.status, 200);
  const expected = [];
  for (const inst of ['a', 'b', 'c']) {
    for (const m of ['GET', 'POST']) expected.push({ __name__: 'http_requests_total', host_name: `host-${inst}`, http_method: m, instance: inst, job: 'shop/api' });
  }
  expected.push({ __name__: 'queue_depth', host_name: 'host-a', instance: 'a', job: 'shop/api' });
  t.same(
    series.doc.data,
    expected.sort((x, y) => (JSON.stringify(Object.entries(x)) < JSON.stringify(Object.entries(y)) ? -1 : 1)),
    'series: Prometheus names, job/instance, the promoted host.name, not cloud.region',
  );
  const buckets = await getJson(c.api(3), `/api/v1/series?match[]=${encodeURIComponent('rpc_duration_bucket{instance="b"}')}`);
  t.same(
    (buckets.doc.data as { le: string }[]).map((s) => s.le),
    ['+Inf', '0.1', '1'],
    'histogram buckets with le, +Inf included',
  );
  t.same((await getJson(c.api(1), '/api/v1/label/__name__/values')).doc.data, ['http_requests_total', 'queue_depth', 'rpc_duration_bucket', 'rpc_duration_count', 'rpc_duration_sum']);
  t.same((await getJson(c.api(1), '/api/v1/labels?match[]=queue_depth')).doc.data, ['__name__', 'host_name', 'instance', 'job']);
  t.same((await getJson(c.api(3), '/api/v1/label/instance/values')).doc.data, ['a', 'b', 'c']);
  t.same((await getJson(c.api(2), '/api/v1/metadata')).doc.data, {
    http_requests_total: [{ type: 'counter', help: '', unit: '' }],
    queue_depth: [{ type: 'gauge', help: '', unit: '' }],
    rpc_duration: [{ type: 'histogram', help: '', unit: '' }],
  });
  t.match((await getJson(c.api(1), '/api/v1/status/buildinfo')).doc, { status: 'success', data: { version: '2.42.0' } });

  // Remote write: stored through the OTLP path, shown unchanged.
  const rw = encodeWriteRequest([
    { labels: [['__name__', 'node_load1'], ['job', 'node'], ['instance', 'h:9100']], samples: [[0.5, T0], [0.75, T0 + 15_000]] },
    { labels: [['__name__', 'node_load1'], ['job', 'node'], ['instance', 'h2:9100']], samples: [[1, T0]] },
  ]);
  const headers = { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0', 'x-scope-orgid': 'acme' };
  let last = '';
  const stored = await pollUntil(async () => {
    const w = await httpRequest(c.api(3), '/api/v1/write', 'POST', Buffer.from(snappy.compress(rw)), headers);
    last = `${w.status} ${w.body}`;
    return w.status === 204;
  }, WRITE_ATTEMPTS, 250);
  t.ok(stored, `remote write stored (${last})`);
  t.same((await getJson(c.api(1), '/api/v1/series?match[]=node_load1')).doc.data, [
    { __name__: 'node_load1', instance: 'h2:9100', job: 'node' },
    { __name__: 'node_load1', instance: 'h:9100', job: 'node' },
  ]);
  const truncated = await httpRequest(c.api(3), '/api/v1/write', 'POST', Buffer.from(snappy.compress(rw)).subarray(0, 12), headers);
  t.equal(truncated.status, 400, 'truncated snappy is 400');
  const badProto = await httpRequest(c.api(3), '/api/v1/write', 'POST', Buffer.from(snappy.compress(Uint8Array.of(0x0a, 0x09, 0x0a))), headers);
  t.equal(badProto.status, 400, 'bad protobuf is 400');
  const plain = await httpRequest(c.api(3), '/api/v1/write', 'POST', Buffer.from(rw), { 'content-type': 'application/x-protobuf' });
  t.equal(plain.status, 415, 'not snappy is 415');
  const huge = await httpRequest(c.api(3), '/api/v1/write', 'POST', Buffer.alloc(17 * 1024 * 1024), headers);
  t.equal(huge.status, 413, 'an oversized body is 413');

  // The PromQL engine reads through the cluster source: a raw range selector at an instant just after the last sample.
  const start = Math.floor(T0 / 1000);
  const at = start + 31;
  const q = `/api/v1/query?query=${encodeURIComponent('http_requests_total[1m]')}&time=${at}&stats=all`;
  const viaSelect = await getJson(c.api(1), q);
  t.equal(viaSelect.status, 200);
  const data = viaSelect.doc.data as { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[]; stats: { otlpdb: { shardsAsked: number; seriesRead: number; samplesRead: number; samplesDecoded: number } } };
  t.equal(data.result.length, 6, 'select merges every shard');
  t.same(
    data.result.find((r) => r.metric['instance'] === 'b' && r.metric['http_method'] === 'GET')?.values,
    [
      [T0 / 1000, '1'],
      [(T0 + 15_000) / 1000, '11'],
      [(T0 + 30_000) / 1000, '21'],
    ],
  );
  t.equal(data.stats.otlpdb.shardsAsked, 4);
  t.equal(data.stats.otlpdb.samplesRead, 18, 'six series, three samples each');
  t.ok(data.stats.otlpdb.samplesDecoded >= data.stats.otlpdb.samplesRead, `stats=all says what the shards decoded too (${data.stats.otlpdb.samplesDecoded})`);
  const viaShards = await getJson(c.api(2), `/api/v1/query?query=${encodeURIComponent('last_over_time(http_requests_total[1m])')}&time=${at}`);
  const pushed = (viaShards.doc.data as { result: { metric: Record<string, string>; value: [number, string] }[] }).result;
  t.equal(pushed.length, 6, 'a range function pushed to every shard: the union of the shards');
  t.same(pushed.find((r) => r.metric['instance'] === 'b' && r.metric['http_method'] === 'GET')?.value, [at, '21'], 'its value');
  const form = await httpRequest(c.api(3), '/api/v1/query', 'POST', Buffer.from(`query=${encodeURIComponent('http_requests_total[1m]')}&time=${at}`), {
    'content-type': 'application/x-www-form-urlencoded',
    'x-scope-orgid': 'acme',
  });
  t.equal((JSON.parse(form.body) as { data: { result: unknown[] } }).data.result.length, 6, 'POST form-encoded query');
  const formSeries = await httpRequest(c.api(2), '/api/v1/series', 'POST', Buffer.from(`match[]=${encodeURIComponent('node_load1{instance="h2:9100"}')}`), {
    'content-type': 'application/x-www-form-urlencoded',
    'x-scope-orgid': 'acme',
  });
  t.same(JSON.parse(formSeries.body), { status: 'success', data: [{ __name__: 'node_load1', instance: 'h2:9100', job: 'node' }] }, 'POST form-encoded series');

  // A NaN is stored; a staleness marker is kept as one: not a sample of a range, and the end of the series for an instant query.
  const nan = encodeWriteRequest([{ labels: [['__name__', 'rw_nan']], samples: [[NaN, T0], [0, T0 + 15_000, true]] }]);
  t.ok(await pollUntil(async () => (await httpRequest(c.api(1), '/api/v1/write', 'POST', Buffer.from(snappy.compress(nan)), headers)).status === 204, WRITE_ATTEMPTS, 250), 'NaN written');
  const nanDoc = await getJson(c.api(2), `/api/v1/query?query=${encodeURIComponent('rw_nan[1m]')}&time=${at}`);
  t.same((nanDoc.doc.data as { result: unknown[] }).result, [{ metric: { __name__: 'rw_nan' }, values: [[T0 / 1000, 'NaN']] }]);
  const instant = async (expr: string, time: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]> =>
    ((await getJson(c.api(3), `/api/v1/query?query=${encodeURIComponent(expr)}&time=${time}`)).doc.data as { result: { metric: Record<string, string>; value: [number, string] }[] }).result;
  t.same(await instant('rw_nan', at), [], 'after the marker the series answers nothing (no 5-minute lookback to the NaN)');
  t.same((await instant('rw_nan', T0 / 1000 + 5)).map((r) => r.value[1]), ['NaN'], 'before it, the NaN');
  // OTLP points flagged no-recorded-value, as Prometheus's OTLP translator reads them.
  t.same((await instant('queue_depth', at)).map((r) => r.metric['instance']).sort(), ['b', 'c'], "instance a's gauge ended with a flagged point");
  t.same((await instant('rpc_duration_count', at)).map((r) => r.metric['instance']).sort(), ['a', 'b'], "instance c's histogram ended with a flagged point");
  t.same((await instant('rpc_duration_bucket{le="+Inf"}', T0 / 1000 + 5)).map((r) => r.metric['instance']).sort(), ['a', 'b', 'c'], 'before, all three');
  const viaShardsUnwired = await getJson(c.api(3), `/api/v1/series?match[]=${encodeURIComponent('{job=~"shop/.*"}')}&consistency=stale`);
  t.equal(viaShardsUnwired.status, 200, 'stale listing on any replica');
  const badMatch = await getJson(c.api(1), `/api/v1/series?match[]=${encodeURIComponent('{job=~"("}')}`);
  t.same([badMatch.status, badMatch.doc.errorType], [400, 'bad_data'], 'a bad regex is bad_data');
});
