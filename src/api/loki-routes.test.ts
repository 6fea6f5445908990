/**
 * loki-routes.test.ts — Loki's API against a real node in this process (one
 * node, 2 shards): logs written over OTLP/HTTP and over Loki push (JSON and
 * protobuf with snappy) are listed by /labels, /label/{name}/values,
 * /series and /index/stats exactly as a naive computation over what was
 * sent, pushed streams keep their labels; query_range through the LogQL
 * engine (query/logql; pushed to every shard, line hints) answers Loki's
 * shapes; after a flush a hint prunes blocks;
 * bad parameters and bad push bodies are refused as Loki does; and without
 * an engine the query routes answer 503.
 */
import http from 'node:http';
import snappy from 'snappyjs';
import t from 'tap';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';
import { ProtoWriter } from '../otlp/rpc-status.js';
import { bareApiSource, serveApi } from './api-test-util.js';
import type { LokiSource } from './loki-routes.js';
import { parseLokiDuration, parseLokiTime } from './loki-routes.js';

const TENANT = 'acme';
const NOW_NS = BigInt(Date.now()) * 1_000_000n;
const BASE_NS = NOW_NS - 120_000_000_000n;

interface Line {
  readonly service: string;
  readonly level: string;
  readonly sev: number;
  readonly timeNs: bigint;
  readonly line: string;
}

/** LINES are the OTLP records: two services, levels, lines with and without "error". */
const LINES: Line[] = Array.from({ length: 40 }, (_, i) => {
  const service = i % 3 === 0 ? 'api' : 'web';
  const err = i % 5 === 0;
  return { service, level: err ? 'error' : 'info', sev: err ? 17 : 9, timeNs: BASE_NS + BigInt(i) * 1_000_000_000n, line: err ? `request ${i} failed: error code=E${i}` : `GET /items/${i} 200 ok` };
});

function otlpBody(lines: readonly Line[]): Buffer {
  const byService = new Map<string, Line[]>();
  for (const l of lines) byService.set(l.service, [...(byService.get(l.service) ?? []), l]);
  return Buffer.from(
    JSON.stringify({
      resourceLogs: [...byService].map(([service, ls]) => ({
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeLogs: [
          {
            scope: { name: 'app' },
            logRecords: ls.map((l) => ({
              timeUnixNano: l.timeNs.toString(),
              severityNumber: l.sev,
              severityText: l.level.toUpperCase(),
              body: { stringValue: l.line },
              attributes: [{ key: 'http.method', value: { stringValue: 'GET' } }],
              traceId: '0102030405060708090a0b0c0d0e0f10',
              spanId: '0102030405060708',
            })),
          },
        ],
      })),
    }),
  );
}

/** PUSHED are the Loki-pushed lines: stream {app="shop", env="prod"} (JSON) and {app="shop", env="dev", level="WARN"} (protobuf). */
const PUSH_JSON = { streams: [{ stream: { app: 'shop', env: 'prod' }, values: [[(BASE_NS + 500n).toString(), 'checkout started'], [(BASE_NS + 900n).toString(), 'checkout error card declined', { order_id: '42' }]] }] };

function pushProto(labels: string, entries: readonly { timeNs: bigint; line: string; meta?: [string, string][] }[]): Buffer {
  const req = new ProtoWriter();
  const stream = new ProtoWriter();
  stream.bytesField(1, new TextEncoder().encode(labels));
  for (const e of entries) {
    const ts = new ProtoWriter();
    ts.int64Field(1, e.timeNs / 1_000_000_000n);
    ts.varintField(2, Number(e.timeNs % 1_000_000_000n));
    const entry = new ProtoWriter();
    entry.bytesField(1, ts.finish());
    entry.bytesField(2, new TextEncoder().encode(e.line));
    for (const [n, v] of e.meta ?? []) {
      const p = new ProtoWriter();
      p.bytesField(1, new TextEncoder().encode(n));
      p.bytesField(2, new TextEncoder().encode(v));
      entry.bytesField(3, p.finish());
    }
    stream.bytesField(2, entry.finish());
  }
  req.bytesField(1, stream.finish());
  return Buffer.from(snappy.compress(req.finish()));
}

async function get(a: HostPort, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; doc: unknown }> {
  const r = await httpRequest(a, path, 'GET', undefined, { 'x-scope-orgid': TENANT, ...headers });
  let doc: unknown = null;
  try {
    doc = JSON.parse(r.body);
  } catch {
    // plain text
  }
  return { status: r.status, body: r.body, doc };
}

const range = `start=${BASE_NS - 1_000_000_000n}&end=${NOW_NS + 60_000_000_000n}`;

t.test('parameters: Loki times and durations', async (t) => {
  t.equal(parseLokiTime('1700000000', 'start'), 1_700_000_000_000_000_000n, 'seconds');
  t.equal(parseLokiTime('1700000000.5', 'start'), 1_700_000_000_500_000_000n, 'float seconds');
  t.equal(parseLokiTime('1700000000000000001', 'start'), 1_700_000_000_000_000_001n, 'nanoseconds');
  t.equal(parseLokiTime('2023-11-14T22:13:20.25Z', 'start'), 1_700_000_000_250_000_000n, 'RFC3339');
  t.throws(() => parseLokiTime('yesterday', 'start'), { code: 'ERR_INVALID_ARGUMENT' });
  t.equal(parseLokiDuration('1h30m', 'since', false), 5_400_000_000_000n);
  t.equal(parseLokiDuration('15', 'step', true), 15_000_000_000n);
  t.throws(() => parseLokiDuration('5x', 'step', true), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('without an engine the query routes answer 503 and label routes still work', async (t) => {
  const loki: LokiSource = {
    engine: null,
    source: () => {
      throw new Error('not reached');
    },
    labels: async () => ({ result: { op: 'names', values: ['a'] }, stats: { shardsAsked: 1, blocksScanned: 0, blocksPruned: 0, entriesRead: 0, bytesRead: 0, partialFailures: [] } }),
    push: async () => ({ accepted: 0, rejected: 0, message: '', parts: 0 }),
  };
  const a = await serveApi(t, bareApiSource({ loki }));
  const q = await get(a, '/loki/api/v1/query_range?query=%7Ba%3D%22b%22%7D');
  t.equal(q.status, 503);
  t.match(q.body, /LogQL engine not wired/);
  t.same((await get(a, '/loki/api/v1/labels')).doc, { status: 'success', data: ['a'] });
  t.equal((await httpRequest(a, '/loki/api/v1/labels', 'DELETE')).status, 405);
});

t.test('a client that goes away cancels its query', async (t) => {
  let aborted = false;
  let started = false;
  const loki: LokiSource = {
    engine: {
      evaluate: (_text, p) =>
        new Promise((_, reject) => {
          started = true;
          p.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
      evaluateShardPart: async () => ({ kind: 'entries', entries: [] }),
    },
    source: () => ({ select: () => (async function* () {})(), stats: { shardsAsked: 0, blocksScanned: 0, blocksPruned: 0, entriesRead: 0, bytesRead: 0, partialFailures: [] } }),
    labels: async () => {
      throw new Error('not used');
    },
    push: async () => ({ accepted: 0, rejected: 0, message: '', parts: 0 }),
  };
  const a = await serveApi(t, bareApiSource({ loki }));
  const req = http.request({ host: a.host, port: a.port, path: '/loki/api/v1/query_range?query=%7Ba%3D%22b%22%7D', agent: false });
  req.on('error', () => undefined);
  req.end();
  t.ok(await pollUntil(async () => started, 500, 10), 'the query started');
  req.destroy();
  t.ok(await pollUntil(async () => aborted, 500, 10), 'the engine saw its signal abort');
});

t.test('Loki API on a real node', async (t) => {
  const c = await inProcessCluster(t, { n: 1, founders: 1, prefix: 'otlpdb-loki-', seedBase: 0x10c1, extra: { shards: 2, replicas: 1, tickMs: 20 }, otlp: true });
  const node = await OtlpdbNode.start({ ...c.options(1), initialCluster: c.founders });
  c.nodes.set(1, node);
  const api = c.api(1);
  const otlp = node.otlpHttpAddress() as HostPort;
  t.ok(await pollUntil(async () => (await httpRequest(api, '/readyz')).status === 200, 1500, 40), 'the node is ready');

  // Writes: OTLP/HTTP JSON, Loki push JSON, Loki push protobuf+snappy.
  let w = await httpRequest(otlp, '/v1/logs', 'POST', otlpBody(LINES), { 'content-type': 'application/json', 'x-scope-orgid': TENANT });
  t.equal(w.status, 200, `OTLP write ${w.body}`);
  w = await httpRequest(api, '/loki/api/v1/push', 'POST', Buffer.from(JSON.stringify(PUSH_JSON)), { 'content-type': 'application/json', 'x-scope-orgid': TENANT });
  t.equal(w.status, 204, `JSON push ${w.body}`);
  const proto = pushProto('{app="shop", env="dev", level="WARN"}', [{ timeNs: BASE_NS + 700n, line: 'cart updated', meta: [['trace_id', 'aabbccddeeff00112233445566778899']] }]);
  w = await httpRequest(api, '/loki/api/v1/push', 'POST', proto, { 'content-type': 'application/x-protobuf', 'x-scope-orgid': TENANT });
  t.equal(w.status, 204, `protobuf push ${w.body}`);
  w = await httpRequest(api, '/loki/api/v1/push', 'POST', proto, { 'content-type': 'application/x-protobuf', 'x-scope-orgid': TENANT });
  t.equal(w.status, 204, 'a retried push is accepted (and stored once: idempotency key)');

  const check = async (phase: string): Promise<void> => {
    t.same((await get(api, `/loki/api/v1/labels?${range}`)).doc, { status: 'success', data: ['app', 'env', 'level', 'service_name'] }, `${phase}: labels`);
    t.same((await get(api, `/loki/api/v1/label/service_name/values?${range}`)).doc, { status: 'success', data: ['api', 'web'] }, `${phase}: values`);
    t.same((await get(api, `/loki/api/v1/label/level/values?${range}`)).doc, { status: 'success', data: ['WARN', 'error', 'info'] }, `${phase}: level values (a pushed level is kept as pushed)`);
    t.same((await get(api, `/loki/api/v1/label/env/values?${range}&query=${encodeURIComponent('{app="shop"}')}`)).doc, { status: 'success', data: ['dev', 'prod'] }, `${phase}: values with a selector`);
    const series = (await get(api, `/loki/api/v1/series?${range}&match[]=${encodeURIComponent('{app="shop"}')}&match[]=${encodeURIComponent('{service_name=~"a.*", level!="info"}')}`)).doc as { data: Record<string, string>[] };
    const sorted = series.data.map((s) => JSON.stringify(s)).sort();
    t.same(sorted, [JSON.stringify({ app: 'shop', env: 'dev', level: 'WARN' }), JSON.stringify({ app: 'shop', env: 'prod' }), JSON.stringify({ level: 'error', service_name: 'api' })], `${phase}: series (pushed labels unchanged)`);
    const web = LINES.filter((l) => l.service === 'web');
    const stats = (await get(api, `/loki/api/v1/index/stats?${range}&query=${encodeURIComponent('{service_name="web"}')}`)).doc as Record<string, number>;
    t.equal(stats.streams, 2, `${phase}: index stats streams (web info and web error)`);
    t.equal(stats.entries, web.length, `${phase}: index stats entries`);
    t.equal(stats.bytes, web.reduce((n, l) => n + Buffer.byteLength(l.line), 0), `${phase}: index stats bytes`);
    t.ok((stats.chunks ?? 0) >= 1, `${phase}: index stats chunks`);
    t.same((await get(api, `/loki/api/v1/labels?${range}`, { 'x-scope-orgid': 'other' })).doc, { status: 'success', data: [] }, `${phase}: tenants are isolated`);

    // Queries through the LogQL engine (query/logql): every log query over the cluster runs pushed to the shards.
    const q = (await get(api, `/loki/api/v1/query_range?${range}&direction=forward&limit=1000&query=${encodeURIComponent('{service_name="web"}')}`)).doc as {
      status: string;
      data: { resultType: string; result: { stream: Record<string, string>; values: string[][] }[]; stats: { otlpdb: { shardsAsked: number } } };
    };
    t.equal(q.status, 'success', `${phase}: query_range`);
    t.equal(q.data.resultType, 'streams');
    const values = q.data.result.flatMap((s) => s.values);
    t.equal(values.length, web.length, `${phase}: every web line`);
    t.same(values.map((v) => v[0]).sort(), web.map((l) => l.timeNs.toString()).sort(), `${phase}: their times`);
    for (const s of q.data.result) {
      const ts = s.values.map((v) => BigInt(v[0] as string));
      t.ok(ts.every((x, i) => i === 0 || (ts[i - 1] as bigint) <= x), `${phase}: forward order within a stream`);
    }
    t.equal(q.data.stats.otlpdb.shardsAsked, 2);
    const lim = (await get(api, `/loki/api/v1/query_range?${range}&limit=3&query=${encodeURIComponent('{service_name=~".+"}')}`)).doc as { data: { result: { values: string[][] }[] } };
    const newest = lim.data.result.flatMap((s) => s.values.map((v) => v[0] as string)).sort();
    t.same(newest, LINES.map((l) => l.timeNs.toString()).sort().slice(-3), `${phase}: backward limit 3 keeps the newest`);
    const filtered = (await get(api, `/loki/api/v1/query_range?${range}&limit=1000&query=${encodeURIComponent('{level="error"} |= "code=E1"')}`)).doc as { data: { result: { values: string[][] }[] } };
    t.same(filtered.data.result.flatMap((s) => s.values.map((v) => v[1] as string)).sort(), LINES.filter((l) => l.line.includes('code=E1')).map((l) => l.line).sort(), `${phase}: a line filter`);
    const pushed = (await get(api, `/loki/api/v1/query_range?${range}&limit=1000&query=${encodeURIComponent('{app="shop"}')}`, { 'x-loki-response-encoding-flags': 'categorize-labels' })).doc as {
      data: { result: { stream: Record<string, string>; values: unknown[][] }[] };
    };
    const shop = pushed.data.result.flatMap((s) => s.values);
    t.same(shop.map((v) => v[1]).sort(), ['cart updated', 'checkout error card declined', 'checkout started'], `${phase}: a pushed-down shard query (retried push stored once)`);
    t.same(shop.find((v) => v[1] === 'checkout error card declined')?.[2], { structuredMetadata: { order_id: '42' } }, `${phase}: structured metadata`);
    t.same(shop.find((v) => v[1] === 'cart updated')?.[2], { structuredMetadata: { trace_id: 'aabbccddeeff00112233445566778899' } }, `${phase}: a pushed trace_id`);
    const meta = (await get(api, `/loki/api/v1/query_range?${range}&limit=1&query=${encodeURIComponent('{service_name="api"}')}`, { 'x-loki-response-encoding-flags': 'categorize-labels' })).doc as { data: { result: { values: unknown[][] }[] } };
    t.same(meta.data.result[0]?.values[0]?.[2], { structuredMetadata: { http_method: 'GET', span_id: '0102030405060708', trace_id: '0102030405060708090a0b0c0d0e0f10' } }, `${phase}: OTLP attributes and ids as metadata`);
  };
  await check('head');
  t.equal((await httpRequest(api, '/api/v1/admin/flush', 'POST')).status, 200, 'flush');
  await check('blocks');
  const miss = (await get(api, `/loki/api/v1/query_range?${range}&query=${encodeURIComponent('{service_name=~".+"} |= "no such words here"')}`)).doc as { data: { result: unknown[]; stats: { otlpdb: { blocksPruned: number; blocksScanned: number } } } };
  t.same(miss.data.result, [], 'a hint nothing matches');
  t.ok(miss.data.stats.otlpdb.blocksPruned >= 1 && miss.data.stats.otlpdb.blocksScanned === 0, `the hint pruned every block (${JSON.stringify(miss.data.stats.otlpdb)})`);

  // Bad parameters: 400 plain text, as Loki.
  const bad = async (path: string, what: string, status = 400): Promise<void> => {
    const r = await get(api, path);
    t.equal(r.status, status, `${what}: ${r.body.trim()}`);
    t.equal(r.doc, null, `${what}: plain text`);
  };
  const sel = encodeURIComponent('{app="shop"}');
  await bad(`/loki/api/v1/query_range?query=${sel}&limit=0`, 'limit 0');
  await bad(`/loki/api/v1/query_range?query=${sel}&limit=100000`, 'limit over the maximum');
  await bad(`/loki/api/v1/query_range?query=${sel}&direction=sideways`, 'bad direction');
  await bad(`/loki/api/v1/query_range?query=${sel}&start=20&end=10`, 'end before start');
  await bad(`/loki/api/v1/query_range?query=${sel}&start=nope`, 'bad start');
  await bad(`/loki/api/v1/query_range?query=${sel}&step=1ms&since=1h`, 'too many steps');
  await bad(`/loki/api/v1/query_range?query=${sel}&step=0`, 'a zero step');
  await bad(`/loki/api/v1/query_range?query=${sel}&end=9999-12-31T00:00:00Z`, 'an end past u64 nanoseconds');
  await bad(`/loki/api/v1/labels?start=9999-12-30T00:00:00Z&end=9999-12-31T00:00:00Z`, 'a label read past u64 nanoseconds');
  await bad(`/loki/api/v1/query_range?query=${encodeURIComponent('{app=}')}`, 'a parse error');
  await bad('/loki/api/v1/query_range', 'no query');
  await bad('/loki/api/v1/series', 'no match[]');
  await bad(`/loki/api/v1/series?match[]=${encodeURIComponent('{app=~"("}')}`, 'a bad regex');
  await bad('/loki/api/v1/label/bad-name/values', 'a bad label name');
  await bad('/loki/api/v1/index/stats?query=nope', 'a bad stats selector');
  await bad(`/loki/api/v1/labels?consistency=eventual`, 'bad consistency');
  t.equal((await httpRequest(api, '/loki/api/v1/labels', 'GET', undefined, { 'x-scope-orgid': 'bad tenant!' })).status, 400, 'a bad tenant');
  t.equal((await httpRequest(api, `/loki/api/v1/query_range?query=${sel}`, 'PUT')).status, 405, 'another method');

  // Bad push bodies.
  const push = async (body: Buffer, type: string, what: string, status: number): Promise<void> => {
    const r = await httpRequest(api, '/loki/api/v1/push', 'POST', body, { 'content-type': type, 'x-scope-orgid': TENANT });
    t.equal(r.status, status, `${what}: ${r.body.trim()}`);
  };
  await push(proto.subarray(0, proto.length - 3), 'application/x-protobuf', 'truncated snappy', 400);
  await push(Buffer.from(snappy.compress(new Uint8Array([0x0a, 0x05, 0x0a, 0x09, 0x7b]))), 'application/x-protobuf', 'bad protobuf', 400);
  await push(pushProto('{app=shop}', [{ timeNs: BASE_NS, line: 'x' }]), 'application/x-protobuf', 'a bad label string', 400);
  await push(pushProto('{app!="shop"}', [{ timeNs: BASE_NS, line: 'x' }]), 'application/x-protobuf', 'a label string that is not equalities', 400);
  await push(Buffer.from('{"streams":[{"stream":{"a":"b"},"values":[["abc","x"]]}]}'), 'application/json', 'a bad timestamp', 400);
  await push(Buffer.from('not json'), 'application/json', 'not JSON', 400);
  await push(Buffer.from(JSON.stringify({ streams: [{ stream: { 'bad-name': 'x' }, values: [[BASE_NS.toString(), 'x']] }] })), 'application/json', 'a bad label name', 400);
  await push(Buffer.alloc(5 * 1024 * 1024, 0x20), 'application/json', 'oversized', 413);
  await push(Buffer.from(JSON.stringify({ streams: [{ stream: { a: 'b' }, values: [['1000', 'too old']] }] })), 'application/json', 'a line too old is refused', 400);
  t.equal((await httpRequest(api, '/loki/api/v1/push', 'GET')).status, 405, 'push is POST only');
});
