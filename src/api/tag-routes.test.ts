import t from 'tap';
import { TraceTagLimits } from '../limits.js';
import type { TagsResult } from '../query/trace-tags.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import type { TagEntry, TagRead } from '../storage/traces/tag-read.js';
import { TAG_INTRINSICS, serveTags, tagRoute, valuesTarget } from './tag-routes.js';
import type { ApiSource } from './types.js';

// The tag routes' parsing and rendering over a source that records what it
// is asked (the cluster test, query/trace-tags-cluster.test.ts, runs them
// against real nodes).

function source(entries: TagEntry[], partial = false): { s: ApiSource; asked: { tenant: string; q: TagRead }[] } {
  const asked: { tenant: string; q: TagRead }[] = [];
  const s = {
    readTags: async (tenant: string, q: TagRead): Promise<TagsResult> => {
      asked.push({ tenant, q });
      return { entries, partial, shardsAsked: 4, failedShards: [], stats: newScanStats() };
    },
  } as unknown as ApiSource;
  return { s, asked };
}

const signal = new AbortController().signal;

t.test('paths and tags', async (t) => {
  t.same(tagRoute('/api/search/tags'), { route: 'names', v2: false });
  t.same(tagRoute('/api/v2/search/tags'), { route: 'names', v2: true });
  t.same(tagRoute('/api/v2/search/tag/span.http%2Fx/values'), { route: 'values', v2: true, tag: 'span.http/x' });
  t.same(tagRoute('/api/search/tag/%E0%A4%A/values'), { route: 'values', v2: false, tag: '%E0%A4%A' }, 'bad percent-encoding is kept as written');
  t.equal(tagRoute('/api/search/tag//values'), null);
  t.equal(tagRoute('/api/search'), null);
  t.same(valuesTarget('span.http.method', true), { kind: 'values', scope: 'span', key: 'http.method' });
  t.same(valuesTarget('resource.service.name', true), { kind: 'values', scope: 'resource', key: 'service.name' });
  t.same(valuesTarget('.a.b', true), { kind: 'values', scope: 'any', key: 'a.b' });
  t.same(valuesTarget('span:status', true), { kind: 'intrinsic', field: 'status' });
  t.same(valuesTarget('name', true), { kind: 'intrinsic', field: 'name' });
  t.same(valuesTarget('name', false), { kind: 'values', scope: 'any', key: 'name' }, 'v1 takes attribute keys');
  for (const bad of ['', 'foo', 'span.', '.', 'duration', 'trace:rootService', 'event.x', 'link:spanID', 'x'.repeat(TraceTagLimits.tagBytesMax + 1)]) {
    t.throws(() => valuesTarget(bad, true), { code: 'ERR_INVALID_ARGUMENT' }, `${JSON.stringify(bad.slice(0, 20))} is refused`);
  }
  t.ok(TAG_INTRINSICS.includes('status') && TAG_INTRINSICS.includes('span:kind') && TAG_INTRINSICS.includes('traceDuration'), 'intrinsics in every spelling');
});

t.test('answers in Tempo shapes', async (t) => {
  const names = source([{ kind: 'resource', text: 'service.name' }, { kind: 'resource', text: 'x' }, { kind: 'span', text: 'http.method' }, { kind: 'span', text: 'x' }]);
  const v1 = await serveTags(names.s, { route: 'names', v2: false }, 'GET', new URLSearchParams('start=10&end=20&limit=7'), 'acme', signal);
  t.same((v1.body as { tagNames: string[] }).tagNames, ['http.method', 'service.name', 'x'], 'v1 names: both scopes, distinct, sorted');
  t.same(names.asked[0], { tenant: 'acme', q: { startNs: 10_000_000_000n, endNs: 21_000_000_000n, target: { kind: 'names', scopes: ['span', 'resource'] }, valuesMax: 7 } });
  const v2 = await serveTags(names.s, { route: 'names', v2: true }, 'GET', new URLSearchParams('maxStaleValues=3'), undefined, signal);
  t.same((v2.body as { scopes: unknown[] }).scopes, [
    { name: 'span', tags: ['http.method', 'x'] },
    { name: 'resource', tags: ['service.name', 'x'] },
    { name: 'intrinsic', tags: TAG_INTRINSICS },
  ]);
  t.equal(names.asked[1]?.tenant, 'default', 'no X-Scope-OrgID: the default tenant');
  t.equal(names.asked[1]?.q.staleValuesMax, 3);
  const intrinsic = await serveTags(names.s, { route: 'names', v2: true }, 'GET', new URLSearchParams('scope=intrinsic'), undefined, signal);
  t.same(intrinsic.body, { scopes: [{ name: 'intrinsic', tags: TAG_INTRINSICS }] });
  t.equal(names.asked.length, 2, 'intrinsics need no shard');

  const vals = source([{ kind: 'bool', text: 'true' }, { kind: 'int', text: '200' }, { kind: 'string', text: '200' }, { kind: 'string', text: 'GET' }], true);
  const typed = await serveTags(vals.s, { route: 'values', v2: true, tag: '.x' }, 'GET', new URLSearchParams(''), 'acme', signal);
  t.same((typed.body as { tagValues: unknown }).tagValues, [
    { type: 'bool', value: 'true' },
    { type: 'int', value: '200' },
    { type: 'string', value: '200' },
    { type: 'string', value: 'GET' },
  ]);
  t.equal((typed.body as { stats: { partial: boolean } }).stats.partial, true, 'partial is passed on');
  const plain = await serveTags(vals.s, { route: 'values', v2: false, tag: 'x' }, 'GET', new URLSearchParams('q=%7B%7D'), 'acme', signal);
  t.same((plain.body as { tagValues: unknown }).tagValues, ['200', 'GET', 'true'], 'v1 values: distinct string forms');
});

t.test('refusals', async (t) => {
  const { s, asked } = source([]);
  const post = await serveTags(s, { route: 'names', v2: false }, 'POST', new URLSearchParams(''), undefined, signal);
  t.same({ status: post.status, allow: post.allow }, { status: 405, allow: 'GET' });
  for (const [qs, param] of [
    ['scope=event', 'scope'],
    ['scope=bogus', 'scope'],
    ['limit=0', 'limit'],
    [`limit=${TraceTagLimits.valuesMax + 1}`, 'limit'],
    ['maxStaleValues=-1', 'maxStaleValues'],
    ['start=5&end=4', 'start'],
    ['start=0&end=99999999', 'end'],
    ['q=%7B.a%3D1%7D', 'q'],
    ['consistency=x', 'consistency'],
  ] as const) {
    const r = await serveTags(s, { route: 'names', v2: true }, 'GET', new URLSearchParams(qs), undefined, signal);
    t.equal(r.status, 400, qs);
    t.match(r.body, { error: { code: 'ERR_INVALID_ARGUMENT', details: { param } } }, `${qs} names ${param}`);
  }
  t.equal((await serveTags(s, { route: 'names', v2: true }, 'GET', new URLSearchParams(''), 'bad tenant!', signal)).status, 400, 'a bad tenant');
  t.equal((await serveTags({} as ApiSource, { route: 'names', v2: true }, 'GET', new URLSearchParams(''), undefined, signal)).status, 404, 'a node without traces');
  t.equal(asked.length, 0, 'no refused request reached the cluster');
});
