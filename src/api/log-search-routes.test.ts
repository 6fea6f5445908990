/**
 * log-search-routes.test.ts — POST/GET /api/v1/logs/search: the route over
 * an injected search (405, 404, 400 naming the JSON path, 413, the GET form,
 * Loki's streams shape with stats and partial), and one real node (two
 * shards, one replica; ports 31240-31242): lines pushed through Loki's
 * push API are found by a boolean search with a phrase, a fuzzy term, a NOT
 * and a line range, before and after a flush (after it, blocks are pruned).
 */
import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';
import type { LogSearchAnswer } from '../query/log-search.js';
import type { LogSearchRequest } from '../query/log-search-query.js';
import { serveLogSearch } from './log-search-routes.js';

const NOW_MS = 1_795_000_000_000;

function answer(): LogSearchAnswer {
  return {
    entries: [
      { stream: [{ name: 'app', value: 'shop' }], timeNs: 3n, line: 'b', metadata: [] },
      { stream: [{ name: 'app', value: 'web' }], timeNs: 2n, line: 'c', metadata: [{ name: 'order_id', value: '7' }] },
      { stream: [{ name: 'app', value: 'shop' }], timeNs: 1n, line: 'a', metadata: [] },
    ],
    stats: { shardsAsked: 2, shardsFailed: 1, shardsCut: 0, blocksScanned: 1, blocksPrunedTime: 0, blocksPrunedBloom: 2, blocksPrunedIndex: 0, bytesRead: 10, headRowsScanned: 3, entriesReturned: 3 },
    partial: true,
    failedShards: [{ shard: 2, code: 'ERR_TIMEOUT', message: 'slow' }],
  };
}

t.test('the route over an injected search', async (t) => {
  const seen: LogSearchRequest[] = [];
  const search = async (_tenant: string, req: LogSearchRequest): Promise<LogSearchAnswer> => {
    seen.push(req);
    return answer();
  };
  const base = { params: new URLSearchParams(), org: undefined, signal: new AbortController().signal, nowMs: NOW_MS };
  const post = (body: string) => serveLogSearch(search, { ...base, method: 'POST', body: Buffer.from(body) });
  t.equal((await serveLogSearch(search, { ...base, method: 'PUT', body: new Uint8Array() })).status, 405);
  t.equal((await serveLogSearch(undefined, { ...base, method: 'POST', body: Buffer.from('{}') })).status, 404);
  const ok = await post(JSON.stringify({ query: { term: 'x' }, limit: 3 }));
  t.equal(ok.status, 200);
  t.same(ok.body, {
    status: 'success',
    data: {
      resultType: 'streams',
      result: [
        { stream: { app: 'shop' }, values: [['3', 'b'], ['1', 'a']] },
        { stream: { app: 'web' }, values: [['2', 'c', { order_id: '7' }]] },
      ],
      stats: answer().stats,
    },
    partial: true,
    warnings: ['shard 2 did not answer (ERR_TIMEOUT): slow'],
  });
  t.equal(seen[0]?.endNs, BigInt(NOW_MS) * 1_000_000n, 'end defaults to now');
  const get = await serveLogSearch(search, { ...base, method: 'GET', body: new Uint8Array(), params: new URLSearchParams({ query: JSON.stringify({ query: { phrase: 'a b' }, direction: 'forward' }) }) });
  t.equal(get.status, 200, 'the GET form');
  t.equal(seen[1]?.direction, 'forward');
  const bad = await post(JSON.stringify({ query: { and: [{ term: 'x' }, { fuzzy: { term: 'y', distance: 3 } }] } }));
  t.equal(bad.status, 400);
  t.match(bad.body, { status: 'error', error: { code: 'ERR_INVALID_ARGUMENT', details: { param: 'query.and[1].fuzzy.distance' } } });
  t.equal((await post('{"query": ')).status, 400, 'not JSON');
  t.equal((await serveLogSearch(search, { ...base, method: 'GET', body: new Uint8Array() })).status, 400, 'GET without query=');
  const over = await post(JSON.stringify({ query: { term: 'x' }, limit: 100_000 }));
  t.equal(over.status, 413);
  t.match(over.body, { error: { code: 'ERR_LIMIT_EXCEEDED', details: { param: 'limit' } } });
  const failing = await serveLogSearch(async () => Promise.reject(new OtlpdbError('ERR_UNAVAILABLE', 'no shard')), { ...base, method: 'POST', body: Buffer.from('{"query": {"term": "x"}}') });
  t.equal(failing.status, 503);
  t.equal((await serveLogSearch(search, { ...base, org: 'bad tenant!', method: 'POST', body: Buffer.from('{"query": {"term": "x"}}') })).status, 400, 'a bad tenant');
});

/** BASE_NS is a minute ago: the ingest path refuses times far from its clock. */
const BASE_NS = BigInt(Date.now() - 60_000) * 1_000_000n;
const LINES: readonly [string, Record<string, string>?][] = [
  ['GET /api/cart status=200 took=12 connection reset by peer'],
  ['POST /api/cart status=503 took=950 upstream timeout', { order_id: '42' }],
  ['debug: cache warm status=200 took=1'],
  ['POST /api/pay status=500 took=40 conection reset'],
  ['GET /healthz status=200 took=0'],
];

t.test('a real node: push, search, flush, search', async (t) => {
  const c = await inProcessCluster(t, { n: 1, founders: 1, prefix: 'otlpdb-logsearch-', seedBase: 0x5ea4, extra: { shards: 2, replicas: 1, tickMs: 20 } });
  // The helper's assigned ports, not free ports picked at random.
  const peer: HostPort = { host: '127.0.0.1', port: 31240 };
  const api: HostPort = { host: '127.0.0.1', port: 31241 };
  const node = await OtlpdbNode.start({ ...c.options(1), peer, api, initialCluster: new Map([[1, peer]]) });
  c.nodes.set(1, node);
  t.ok(await pollUntil(async () => (await httpRequest(api, '/readyz')).status === 200, 1500, 40), 'the node is ready');
  const push = { streams: [{ stream: { app: 'shop' }, values: LINES.map(([line, meta], i) => (meta === undefined ? [(BASE_NS + BigInt(i)).toString(), line] : [(BASE_NS + BigInt(i)).toString(), line, meta])) }] };
  const w = await httpRequest(api, '/loki/api/v1/push', 'POST', Buffer.from(JSON.stringify(push)), { 'content-type': 'application/json', 'x-scope-orgid': 'acme' });
  t.equal(w.status, 204, `push ${w.body}`);

  const body = {
    query: { and: [{ or: [{ phrase: 'connection reset' }, { fuzzy: { term: 'timeot', distance: 1 } }, { fuzzy: { term: 'connection', distance: 1 } }] }, { not: { term: 'debug' } }, { range: { field: 'status', gte: 200, lt: 600 } }] },
    selector: '{app="shop"}',
    start: (BASE_NS - 1_000_000_000n).toString(),
    end: (BASE_NS + 1_000_000_000n).toString(),
    direction: 'forward',
  };
  const search = async (): Promise<{ lines: string[]; stats: Record<string, number> }> => {
    const r = await httpRequest(api, '/api/v1/logs/search', 'POST', Buffer.from(JSON.stringify(body)), { 'content-type': 'application/json', 'x-scope-orgid': 'acme' });
    t.equal(r.status, 200, r.body.slice(0, 300));
    const doc = JSON.parse(r.body) as { data: { result: { values: string[][] }[]; stats: Record<string, number> }; partial: boolean };
    t.equal(doc.partial, false);
    return { lines: doc.data.result.flatMap((s) => s.values.map((v) => v[1] as string)), stats: doc.data.stats };
  };
  const want = [LINES[0]?.[0], LINES[1]?.[0], LINES[3]?.[0]];
  t.same((await search()).lines, want, 'from the head');
  t.equal((await httpRequest(api, '/api/v1/admin/flush', 'POST')).status, 200, 'flush');
  const after = await search();
  t.same(after.lines, want, 'from the blocks');
  t.equal(after.stats.shardsAsked, 2);
  const other = await httpRequest(api, `/api/v1/logs/search?query=${encodeURIComponent(JSON.stringify({ ...body, query: { term: 'zebra' } }))}`, 'GET', undefined, { 'x-scope-orgid': 'acme' });
  const doc = JSON.parse(other.body) as { data: { result: unknown[]; stats: { blocksPrunedBloom: number; blocksScanned: number } } };
  t.same(doc.data.result, [], 'an absent term finds nothing');
  t.ok(doc.data.stats.blocksPrunedBloom >= 1 && doc.data.stats.blocksScanned === 0, `the bloom skipped every block before a line was read (${JSON.stringify(doc.data.stats)})`);
  const tenant = await httpRequest(api, '/api/v1/logs/search', 'POST', Buffer.from(JSON.stringify(body)), { 'x-scope-orgid': 'other' });
  t.same((JSON.parse(tenant.body) as { data: { result: unknown[] } }).data.result, [], 'another tenant sees nothing');
});
