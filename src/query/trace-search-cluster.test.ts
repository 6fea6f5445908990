import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';
import { resourceSpansJson } from '../otlp/otlp-json-writer.js';
import type { SpanRow } from '../storage/rows.js';
import { realisticSpans } from '../storage/traces/traces-test-util.js';
import { parseTraceql } from './traceql/index.js';
import { referenceEvaluate } from './traceql/traceql-reference.js';

// Tempo's GET /api/search against a real 3-node cluster in this process
// (4 shards, R=3): spans written through OTLP/HTTP JSON are found right
// after the write is acknowledged (linearizable by default), the answer
// equals a naive filter over what was sent, tenants are isolated, bad
// parameters are 400, and with two of three nodes stopped a stale search
// still answers from the survivor's replicas.
// Reproduce: OTLPDB_SEARCH_SEED=<seed> npx tap src/query/trace-search-cluster.test.ts

const SEED = Number(process.env.OTLPDB_SEARCH_SEED ?? 31337);
const TRACES = 60;
const POLLS_MAX = 1500;
const POLL_MS = 40;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface SearchDoc {
  traces: { traceID: string; rootServiceName: string; durationMs: number; spanSet: { matched: number; spans: { spanID: string }[] } }[];
  metrics: { totalJobs: number; completedJobs: number };
  stats: { shardsAsked: number; failedShards: unknown[]; partial: boolean };
}

function service(s: SpanRow): string {
  const a = s.resource.attributes.find((kv) => kv.key === 'service.name');
  return a?.value.type === 'string' ? a.value.value : '';
}

/** expectedIds is the naive answer: traces with a span of `svc` whose http.method is `method` (any when undefined). */
function expectedIds(spans: readonly SpanRow[], svc: string, method?: string): string[] {
  const ids = new Set<string>();
  for (const s of spans) {
    if (service(s) !== svc) continue;
    if (method !== undefined && !s.attributes.some((kv) => kv.key === 'http.method' && kv.value.type === 'string' && kv.value.value === method)) continue;
    ids.add(hex(s.traceId).replace(/^0+/, ''));
  }
  return [...ids].sort();
}

async function search(a: HostPort, qs: string, tenant = 'acme'): Promise<{ status: number; doc: SearchDoc }> {
  const r = await httpRequest(a, `/api/search?${qs}`, 'GET', undefined, { 'x-scope-orgid': tenant });
  return { status: r.status, doc: JSON.parse(r.body) as SearchDoc };
}

t.test('trace search across a 3-node cluster', async (t) => {
  const c = await inProcessCluster(t, { n: 3, founders: 3, prefix: 'otlpdb-search-', seedBase: SEED, extra: { shards: 4, replicas: 3, tickMs: 20 }, otlp: true });
  for (const id of [1, 2, 3]) c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders }));
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, POLLS_MAX, POLL_MS), `node ${id} ready`);

  // Realistic spans moved to the last minutes (the receiver refuses old timestamps).
  const raw = realisticSpans(new SeededRand(SEED), TRACES, 'acme');
  const minStart = raw.reduce((m, s) => (s.startTimeUnixNano < m ? s.startTimeUnixNano : m), raw[0]!.startTimeUnixNano);
  const shift = BigInt(Date.now() - 5 * 60_000) * 1_000_000n - minStart;
  const spans = raw.map((s) => ({ ...s, startTimeUnixNano: s.startTimeUnixNano + shift, endTimeUnixNano: s.endTimeUnixNano + shift }));
  const web = (c.nodes.get(1) as OtlpdbNode).otlpHttpAddress() as HostPort;
  for (let i = 0; i < spans.length; i += 200) {
    const body = Buffer.from(JSON.stringify({ resourceSpans: resourceSpansJson(spans.slice(i, i + 200)) }));
    const r = await httpRequest(web, '/v1/traces', 'POST', body, { 'content-type': 'application/json', 'x-scope-orgid': 'acme' });
    t.equal(r.status, 200, `batch ${i / 200} acknowledged`);
  }

  // Linearizable by default: asked right after the acknowledgements, on another node, with no polling.
  const startS = Math.floor(Date.now() / 1000) - 3600;
  const endS = Math.floor(Date.now() / 1000) + 60;
  const range = `start=${startS}&end=${endS}&limit=1000&spss=2`;
  for (const [svc, method] of [['cart', undefined], ['payment', 'POST'], ['frontend', 'GET']] as const) {
    const tags = encodeURIComponent(`service.name=${svc}${method === undefined ? '' : ` http.method=${method}`}`);
    const r = await search(c.api(2), `tags=${tags}&${range}`);
    t.equal(r.status, 200, `search ${svc} ${method ?? ''}`);
    t.same(r.doc.traces.map((x) => x.traceID).sort(), expectedIds(spans, svc, method), `search ${svc} ${method ?? ''} equals the naive answer`);
    t.equal(r.doc.stats.shardsAsked, 4);
    t.equal(r.doc.metrics.completedJobs, 4);
    t.equal(r.doc.stats.partial, false);
    const full = await search(c.api(3), `tags=${tags}&${range}&scan=full`);
    t.same(full.doc.traces.map((x) => x.traceID).sort(), expectedIds(spans, svc, method), 'the same search as a full scan gives the same traces');
    for (const tr of r.doc.traces) t.ok(tr.spanSet.spans.length <= 2 && tr.spanSet.spans.length <= tr.spanSet.matched, 'spss bounds the span sets');
  }
  // TraceQL in q=: the answer equals the reference evaluator run over each trace as sent.
  const byTrace = new Map<string, SpanRow[]>();
  for (const s of spans) byTrace.set(hex(s.traceId), [...(byTrace.get(hex(s.traceId)) ?? []), s]);
  for (const text of ['{ resource.service.name = "cart" && span.http.method = "GET" }', '{ resource.service.name = "frontend" } >> { kind = client && duration > 5ms }', '{ } | count() > 20', '{ name = "redis GET" } | select(span.db.system)']) {
    const r = await search(c.api(1), `q=${encodeURIComponent(text)}&${range}`);
    t.equal(r.status, 200, `TraceQL ${text}`);
    const want = [...byTrace].filter(([, tr]) => (referenceEvaluate(parseTraceql(text), tr) ?? []).length > 0).map(([id]) => id.replace(/^0+/, '')).sort();
    t.same(r.doc.traces.map((x) => x.traceID).sort(), want, `TraceQL ${text} equals the reference (${want.length} traces)`);
  }
  const badQ = await search(c.api(1), `q=${encodeURIComponent('{ .a = }')}`);
  t.equal(badQ.status, 400, 'a TraceQL syntax error is 400');
  t.match(JSON.stringify(badQ.doc), /at 1:/, 'naming the position');

  const all = await search(c.api(3), `${range}`);
  t.equal(all.doc.traces.length, TRACES, 'an empty search lists every trace');
  const newestFirst = all.doc.traces.map((x) => x.traceID);
  const limited = await search(c.api(1), `start=${startS}&end=${endS}&limit=5`);
  t.equal(limited.doc.traces.length, 5, 'limit bounds the traces');
  t.ok(limited.doc.traces.every((x) => newestFirst.includes(x.traceID)), 'limited traces are among all');

  t.equal((await search(c.api(1), range, 'other')).doc.traces.length, 0, 'another tenant sees nothing');
  const bad = await search(c.api(1), 'limit=0');
  t.equal(bad.status, 400, 'a bad parameter is 400');
  t.match(JSON.stringify(bad.doc), /invalid limit/);
  t.equal((await httpRequest(c.api(1), '/api/search', 'POST')).status, 405, 'POST is 405');
  t.equal((await search(c.api(1), `${range}&consistency=sometimes`)).status, 400, 'an unknown consistency is 400');

  // A node stopped while searches run: every search still answers in full (shards it led elect new leaders; the
  // coordinator fails over and waits out the elections within TraceSearchLimits.wallMsMax).
  const wantAll = [...newestFirst].sort();
  const during: Promise<{ status: number; doc: SearchDoc }>[] = [];
  for (let i = 0; i < 6; i++) {
    during.push(search(c.api(1), range));
    if (i === 1) {
      await (c.nodes.get(3) as OtlpdbNode).stop();
      c.nodes.delete(3);
    }
  }
  for (const [i, r] of (await Promise.all(during)).entries()) {
    t.equal(r.status, 200, `search ${i} around the stop answers`);
    t.same(r.doc.traces.map((x) => x.traceID).sort(), wantAll, `search ${i} around the stop is complete`);
    t.same(r.doc.stats.failedShards, [], `search ${i}: no shard failed`);
  }
  const after = await search(c.api(2), range);
  t.same(after.doc.traces.map((x) => x.traceID).sort(), wantAll, 'a linearizable search on the two survivors is complete');

  // Two of three nodes stopped: node 1 still holds a replica of every shard (R=3), so a stale search answers in full.
  await (c.nodes.get(2) as OtlpdbNode).stop();
  c.nodes.delete(2);
  const stale = await search(c.api(1), `${range}&consistency=stale`);
  t.equal(stale.status, 200, 'a stale search answers without a quorum');
  t.same(stale.doc.traces.map((x) => x.traceID).sort(), [...newestFirst].sort(), 'from the survivor, every trace');
  t.equal(stale.doc.stats.failedShards.length, 0);
});
