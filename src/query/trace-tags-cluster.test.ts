import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';
import { resourceSpansJson } from '../otlp/otlp-json-writer.js';
import type { AnyValue, KeyValue, SpanRow } from '../storage/rows.js';
import { realisticSpans } from '../storage/traces/traces-test-util.js';

// Tempo's tag routes against a real 3-node cluster in this process (4
// shards, R=3): spans written through OTLP/HTTP JSON (half of them flushed
// into blocks before the other half is sent) are listed right after the
// write is acknowledged; every route's answer equals a naive computation
// over what was sent; tenants are isolated; bad parameters are 400 and
// other methods 405.
// Reproduce: OTLPDB_TAGS_SEED=<seed> npx tap src/query/trace-tags-cluster.test.ts

const SEED = Number(process.env.OTLPDB_TAGS_SEED ?? 5150);
const TRACES = 40;
const POLLS_MAX = 1500;
const POLL_MS = 40;
const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUSES = ['unset', 'ok', 'error'];

type Scope = 'span' | 'resource';

function text(v: AnyValue): [string, string] | undefined {
  if (v.type === 'string') return ['string', v.value];
  if (v.type === 'int') return ['int', v.value.toString()];
  if (v.type === 'bool') return ['bool', String(v.value)];
  return undefined;
}

function lists(s: SpanRow): [Scope, readonly KeyValue[]][] {
  return [
    ['span', s.attributes],
    ['resource', s.resource.attributes],
  ];
}

/** names is the naive set of attribute keys of typed values in `scopes`. */
function names(spans: readonly SpanRow[], scopes: readonly Scope[]): string[] {
  const out = new Set<string>();
  for (const s of spans) for (const [scope, list] of lists(s)) if (scopes.includes(scope)) for (const kv of list) if (text(kv.value) !== undefined) out.add(kv.key);
  return [...out].sort();
}

/** values is the naive list of typed values of `key` in `scopes`, sorted as the route sorts them (type, then value). */
function values(spans: readonly SpanRow[], key: string, scopes: readonly Scope[]): { type: string; value: string }[] {
  const out = new Map<string, { type: string; value: string }>();
  for (const s of spans) {
    for (const [scope, list] of lists(s)) {
      if (!scopes.includes(scope)) continue;
      for (const kv of list) {
        const v = kv.key === key ? text(kv.value) : undefined;
        if (v !== undefined) out.set(v.join('\u0000'), { type: v[0], value: v[1] });
      }
    }
  }
  return [...out.values()].sort((a, b) => (a.type !== b.type ? (a.type < b.type ? -1 : 1) : a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

const sortedSet = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

interface Doc {
  tagNames?: string[];
  tagValues?: unknown[];
  scopes?: { name: string; tags: string[] }[];
  stats?: { partial: boolean; shardsAsked: number; failedShards: unknown[] };
  error?: { code: string; message: string; details?: { param?: string } };
}

async function get(a: HostPort, path: string, tenant = 'acme'): Promise<{ status: number; doc: Doc }> {
  const r = await httpRequest(a, path, 'GET', undefined, { 'x-scope-orgid': tenant });
  return { status: r.status, doc: JSON.parse(r.body) as Doc };
}

t.test('tag routes across a 3-node cluster', async (t) => {
  const c = await inProcessCluster(t, { n: 3, founders: 3, prefix: 'otlpdb-tags-', seedBase: SEED, extra: { shards: 4, replicas: 3, tickMs: 20 }, otlp: true });
  for (const id of [1, 2, 3]) c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders }));
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, POLLS_MAX, POLL_MS), `node ${id} ready`);

  // Realistic spans in the last minutes, with a typed attribute in both scopes and a double (not a tag).
  const rand = new SeededRand(SEED);
  const raw = realisticSpans(rand, TRACES, 'acme');
  const minStart = raw.reduce((m, s) => (s.startTimeUnixNano < m ? s.startTimeUnixNano : m), raw[0]!.startTimeUnixNano);
  const shift = BigInt(Date.now() - 5 * 60_000) * 1_000_000n - minStart;
  const resources = new Map<unknown, SpanRow['resource']>();
  const spans: SpanRow[] = raw.map((s, i) => {
    let res = resources.get(s.resource);
    if (res === undefined) {
      res = { ...s.resource, attributes: [...s.resource.attributes, { key: 'deploy.canary', value: { type: 'bool', value: resources.size % 2 === 0 } }] };
      resources.set(s.resource, res);
    }
    return {
      ...s,
      startTimeUnixNano: s.startTimeUnixNano + shift,
      endTimeUnixNano: s.endTimeUnixNano + shift,
      attributes: [...s.attributes, { key: 'deploy.canary', value: { type: 'string', value: `c${i % 3}` } }, { key: 'load', value: { type: 'double', value: 0.5 } }],
      resource: res,
    };
  });
  const web = (c.nodes.get(1) as OtlpdbNode).otlpHttpAddress() as HostPort;
  const send = async (part: SpanRow[], tenant: string): Promise<void> => {
    for (let i = 0; i < part.length; i += 200) {
      const body = Buffer.from(JSON.stringify({ resourceSpans: resourceSpansJson(part.slice(i, i + 200)) }));
      const r = await httpRequest(web, '/v1/traces', 'POST', body, { 'content-type': 'application/json', 'x-scope-orgid': tenant });
      t.equal(r.status, 200, `${tenant} batch acknowledged`);
    }
  };
  const half = Math.floor(spans.length / 2);
  await send(spans.slice(0, half), 'acme');
  t.equal((await httpRequest(c.api(1), '/api/v1/admin/flush', 'POST')).status, 200, 'the first half flushed into blocks');
  await send(spans.slice(half), 'acme');
  const otherSpans = realisticSpans(new SeededRand(SEED + 1), 3, 'other').map((s) => ({
    ...s,
    startTimeUnixNano: s.startTimeUnixNano + shift,
    endTimeUnixNano: s.endTimeUnixNano + shift,
    attributes: [{ key: 'only.other', value: { type: 'string', value: 'x' } } as KeyValue],
  }));
  await send(otherSpans, 'other');

  const nowS = Math.floor(Date.now() / 1000);
  const range = `start=${nowS - 3600}&end=${nowS + 60}`;
  // Linearizable by default: asked right after the acknowledgements, on other nodes, with no polling.
  const v1 = await get(c.api(2), `/api/search/tags?${range}`);
  t.equal(v1.status, 200);
  t.same(v1.doc.tagNames, names(spans, ['span', 'resource']), 'v1 tag names: every attribute key of both scopes');
  t.notOk(v1.doc.tagNames?.includes('load'), 'a double attribute is not a tag');
  t.same({ partial: v1.doc.stats?.partial, shards: v1.doc.stats?.shardsAsked }, { partial: false, shards: 4 });

  const v2 = await get(c.api(3), `/api/v2/search/tags?${range}`);
  t.same(v2.doc.scopes?.map((s) => s.name), ['span', 'resource', 'intrinsic']);
  t.same(v2.doc.scopes?.[0]?.tags, names(spans, ['span']), 'v2 span scope');
  t.same(v2.doc.scopes?.[1]?.tags, names(spans, ['resource']), 'v2 resource scope');
  t.ok(v2.doc.scopes?.[2]?.tags.includes('status'), 'v2 intrinsics');
  const onlyResource = await get(c.api(1), `/api/v2/search/tags?${range}&scope=resource`);
  t.same(onlyResource.doc.scopes, [{ name: 'resource', tags: names(spans, ['resource']) }], 'scope=resource');
  const intrinsic = await get(c.api(1), `/api/v2/search/tags?scope=intrinsic`);
  t.same(intrinsic.doc.scopes?.map((s) => s.name), ['intrinsic'], 'scope=intrinsic');

  for (const [tag, key, scopes] of [
    ['span.http.status_code', 'http.status_code', ['span']],
    ['span.deploy.canary', 'deploy.canary', ['span']],
    ['resource.deploy.canary', 'deploy.canary', ['resource']],
    ['.deploy.canary', 'deploy.canary', ['span', 'resource']],
    ['resource.service.name', 'service.name', ['resource']],
    ['span.user.id', 'user.id', ['span']],
    ['span.service.name', 'service.name', ['span']],
  ] as const) {
    const r = await get(c.api(2), `/api/v2/search/tag/${encodeURIComponent(tag)}/values?${range}`);
    t.equal(r.status, 200, tag);
    t.same(r.doc.tagValues, values(spans, key, scopes), `v2 values of ${tag}`);
  }
  const v1Values = await get(c.api(3), `/api/search/tag/deploy.canary/values?${range}`);
  t.same(v1Values.doc.tagValues, sortedSet(values(spans, 'deploy.canary', ['span', 'resource']).map((v) => v.value)), 'v1 values: string forms of both scopes');
  const kind = await get(c.api(1), `/api/v2/search/tag/kind/values?${range}`);
  t.same(kind.doc.tagValues, sortedSet(spans.map((s) => KINDS[s.kind] as string)).map((value) => ({ type: 'keyword', value })), 'kind keywords');
  t.same((await get(c.api(2), `/api/v2/search/tag/span%3Akind/values?${range}`)).doc.tagValues, kind.doc.tagValues, 'span:kind spells kind');
  const status = await get(c.api(1), `/api/v2/search/tag/status/values?${range}`);
  t.same(status.doc.tagValues, sortedSet(spans.map((s) => STATUSES[s.status.code] as string)).map((value) => ({ type: 'keyword', value })), 'status keywords');
  const name = await get(c.api(1), `/api/v2/search/tag/name/values?${range}`);
  t.same(name.doc.tagValues, sortedSet(spans.map((s) => s.name)).map((value) => ({ type: 'string', value })), 'span names');

  const limited = await get(c.api(1), `/api/search/tags?${range}&limit=2`);
  t.equal(limited.doc.tagNames?.length, 2, 'limit bounds the answer');
  t.equal(limited.doc.stats?.partial, true, 'and marks it partial');

  // Tenants.
  t.same((await get(c.api(1), `/api/search/tags?${range}`, 'other')).doc.tagNames, names(otherSpans, ['span', 'resource']), 'another tenant sees its own tags');
  t.same((await get(c.api(1), `/api/search/tags?${range}`, 'nobody')).doc.tagNames, [], 'a tenant without spans sees none');
  t.same((await get(c.api(1), `/api/search/tag/only.other/values?${range}`)).doc.tagValues, [], "one tenant's values are not another's");

  // Refusals.
  for (const [path, param] of [
    ['/api/v2/search/tags?scope=event', 'scope'],
    ['/api/search/tags?limit=0', 'limit'],
    ['/api/search/tags?start=9&end=3', 'start'],
    ['/api/v2/search/tag/span.x/values?q=%7B.a%3D1%7D', 'q'],
    ['/api/v2/search/tag/foo/values', 'tag'],
    ['/api/v2/search/tag/duration/values', 'tag'],
    ['/api/v2/search/tag/event.exception/values', 'tag'],
    ['/api/search/tags?maxStaleValues=x', 'maxStaleValues'],
    ['/api/search/tags?consistency=sometimes', 'consistency'],
  ] as const) {
    const r = await get(c.api(1), path);
    t.equal(r.status, 400, `${path} is 400`);
    t.same({ code: r.doc.error?.code, param: r.doc.error?.details?.param }, { code: 'ERR_INVALID_ARGUMENT', param }, `${path} names ${param}`);
  }
  t.equal((await get(c.api(1), '/api/search/tags', 'bad tenant!')).status, 400, 'a bad tenant is 400');
  for (const path of ['/api/search/tags', '/api/v2/search/tags', '/api/search/tag/a/values', '/api/v2/search/tag/.a/values']) {
    const r = await httpRequest(c.api(1), path, 'POST');
    t.equal(r.status, 405, `POST ${path} is 405`);
    t.equal(r.headers['allow'], 'GET');
  }
  // A stale read answers from whatever replica it reaches; once the replicas have applied the writes, the same names.
  const want = JSON.stringify(names(spans, ['span', 'resource']));
  t.ok(
    await pollUntil(async () => JSON.stringify((await get(c.api(3), `/api/search/tags?${range}&consistency=stale`)).doc.tagNames) === want, POLLS_MAX, POLL_MS),
    'a stale read gives the same names once the replicas caught up',
  );
});
