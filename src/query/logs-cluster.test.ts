/**
 * logs-cluster.test.ts — the log reads across a real 3-node cluster in
 * this process (4 shards, R=3): lines written through OTLP/HTTP on node 1
 * and Loki push on node 3 are read through node 2 right after their
 * acknowledgement (linearizable), by the cluster select (k-way merge over
 * peer calls), a pushed shard query (shard.logsEval on every shard's
 * leader) and the label reads; a stale read answers too. Queries run
 * through the LogQL engine (query/logql).
 */
import t from 'tap';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';

const TENANT = 'acme';
const NOW_NS = BigInt(Date.now()) * 1_000_000n;
const BASE_NS = NOW_NS - 60_000_000_000n;
const N = 120;

function otlpBody(): Buffer {
  const records = (service: string): unknown[] =>
    Array.from({ length: N }, (_, i) => i)
      .filter((i) => (i % 2 === 0) === (service === 'even'))
      .map((i) => ({ timeUnixNano: (BASE_NS + BigInt(i) * 1_000_000n).toString(), severityNumber: 9, body: { stringValue: `line ${i} of ${service}` }, traceId: (i + 1).toString(16).padStart(32, '0'), spanId: '0102030405060708' }));
  return Buffer.from(JSON.stringify({ resourceLogs: ['even', 'odd'].map((service) => ({ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeLogs: [{ scope: { name: 'app' }, logRecords: records(service) }] })) }));
}

async function doc(a: HostPort, path: string): Promise<{ status: number; body: string; json: unknown }> {
  const r = await httpRequest(a, path, 'GET', undefined, { 'x-scope-orgid': TENANT });
  let json: unknown = null;
  try {
    json = JSON.parse(r.body);
  } catch {
    // text
  }
  return { status: r.status, body: r.body, json };
}

t.test('log reads across a 3-node cluster', async (t) => {
  const c = await inProcessCluster(t, { n: 3, founders: 3, prefix: 'otlpdb-logs3-', seedBase: 0x1063, extra: { shards: 4, replicas: 3, tickMs: 20 }, otlp: true });
  for (const id of [1, 2, 3]) c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders }));
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, 1500, 40), `node ${id} is ready`);
  const otlp = c.nodes.get(1)?.otlpHttpAddress() as HostPort;
  const wrote = await httpRequest(otlp, '/v1/logs', 'POST', otlpBody(), { 'content-type': 'application/json', 'x-scope-orgid': TENANT });
  t.equal(wrote.status, 200, `OTLP write ${wrote.body}`);
  const push = { streams: [{ stream: { app: 'shop' }, values: [[(BASE_NS + 5n).toString(), 'pushed one'], [(BASE_NS + 7n).toString(), 'pushed two']] }] };
  const pushed = await httpRequest(c.api(3), '/loki/api/v1/push', 'POST', Buffer.from(JSON.stringify(push)), { 'content-type': 'application/json', 'x-scope-orgid': TENANT });
  t.equal(pushed.status, 204, `push ${pushed.body}`);

  const range = `start=${BASE_NS - 1_000_000_000n}&end=${NOW_NS + 60_000_000_000n}`;
  const q = (query: string, extra = ''): Promise<{ status: number; body: string; json: unknown }> => doc(c.api(2), `/loki/api/v1/query_range?${range}&limit=5000&direction=forward&query=${encodeURIComponent(query)}${extra}`);
  const lines = (d: unknown): string[][] => ((d as { data: { result: { values: string[][] }[] } }).data.result ?? []).flatMap((s) => s.values);

  const all = await q('{service_name=~"even|odd"}');
  t.equal(all.status, 200, all.body.slice(0, 200));
  const got = lines(all.json);
  t.equal(got.length, N, 'every line, read on another node right after the acknowledgement');
  const times = got.map((v) => BigInt(v[0] as string)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  t.same(times, Array.from({ length: N }, (_, i) => BASE_NS + BigInt(i) * 1_000_000n), 'the times');
  t.equal((all.json as { data: { stats: { otlpdb: { shardsAsked: number; partialFailures: unknown[] } } } }).data.stats.otlpdb.shardsAsked, 4);
  t.same((all.json as { data: { stats: { otlpdb: { partialFailures: unknown[] } } } }).data.stats.otlpdb.partialFailures, []);
  const newest = lines((await doc(c.api(2), `/loki/api/v1/query_range?${range}&limit=5&query=${encodeURIComponent('{service_name=~".+"}')}`)).json);
  t.same(newest.map((v) => v[0]).sort(), Array.from({ length: 5 }, (_, i) => (BASE_NS + BigInt(N - 5 + i) * 1_000_000n).toString()), 'backward limit 5 merges the newest across shards');
  const viaShards = lines((await q('{service_name="odd"} |= "line 1"')).json);
  t.same(viaShards.map((v) => v[1]).sort(), Array.from({ length: N }, (_, i) => i).filter((i) => i % 2 === 1 && `line ${i} of odd`.includes('line 1')).map((i) => `line ${i} of odd`).sort(), 'a pushed shard query on every shard');
  t.same(lines((await q('{app="shop"}', '&consistency=stale')).json).map((v) => v[1]), ['pushed one', 'pushed two'], 'a stale read of the pushed stream');
  t.same((await doc(c.api(1), `/loki/api/v1/label/service_name/values?${range}`)).json, { status: 'success', data: ['even', 'odd'] }, 'label values');
  t.same((await doc(c.api(1), `/loki/api/v1/series?${range}&match[]=${encodeURIComponent('{app="shop"}')}`)).json, { status: 'success', data: [{ app: 'shop' }] }, 'series');
  const st = (await doc(c.api(3), `/loki/api/v1/index/stats?${range}&query=${encodeURIComponent('{service_name="even"}')}`)).json as Record<string, number>;
  t.same({ streams: st.streams, entries: st.entries }, { streams: 1, entries: N / 2 }, 'index stats count a stream spread over shards once');
});
