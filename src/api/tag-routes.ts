/**
 * tag-routes.ts — Tempo's tag routes on a node's HTTP API, read across the
 * cluster (query/trace-tags.ts):
 *
 *   GET /api/search/tags                  {"tagNames": [...]}
 *   GET /api/v2/search/tags               {"scopes": [{"name": "span", "tags": [...]}, ...]}
 *   GET /api/search/tag/{tag}/values      {"tagValues": ["GET", "200", ...]}
 *   GET /api/v2/search/tag/{tag}/values   {"tagValues": [{"type": "string", "value": "GET"}, ...]}
 *
 * Parameters: `scope` (names routes: span, resource, intrinsic, none or
 * absent for all), `start`/`end` (unix seconds; end inclusive to the second;
 * absent: the last TraceSearchLimits.rangeDefaultMs; at most rangeMsMax),
 * `limit` (entries; default and max TraceTagLimits.valuesMax),
 * `maxStaleValues` (stop after that many already known entries; absent: no
 * such stop), `q` (only empty or `{}`: a TraceQL filter on tag values is
 * refused with 400), and otlpdb's `consistency=linearizable|stale`. Every
 * bad parameter is 400 ERR_INVALID_ARGUMENT naming it (`details.param`);
 * another method is 405. Answers carry Tempo's `metrics` and otlpdb's
 * `stats` (shards asked and failed, partial).
 *
 * Tags of the v2 values route: `span.<key>`, `resource.<key>`, `.<key>`
 * (either scope), and the intrinsics `name`, `kind`, `status` (also written
 * `span:name`, `span:kind`, `span:status`). Kind and status values have type
 * `keyword`, as Tempo prints them. Other intrinsics and scopes (duration,
 * event., link., ...) are 400: their values are not enumerated here. The v1
 * values route takes an attribute key of either scope and lists the values'
 * string forms.
 *
 * NB, where this differs from Tempo: without start and end the last
 * TraceSearchLimits.rangeDefaultMs is read (Tempo reads only its recent,
 * unflushed data); `limit` bounds the whole answer, not each v2 scope;
 * `scope=event|link|instrumentation` and a non-empty `q` are 400 rather
 * than served; only string, int and bool attributes are tags.
 */
import { checkTenantId } from '../control/tenant.js';
import { OtlpdbError } from '../errors.js';
import { TraceSearchLimits, TraceTagLimits as L } from '../limits.js';
import type { Consistency } from '../query/trace-search-wire.js';
import type { TagsResult } from '../query/trace-tags.js';
import type { TagRead, TagTarget } from '../storage/traces/tag-read.js';
import { INTRINSIC_SPELLINGS } from '../query/traceql/index.js';
import type { IntrinsicName } from '../query/traceql/index.js';
import type { ApiSource } from './types.js';

/** TAG_INTRINSICS are the intrinsics the names routes list for scope intrinsic: every spelling otlpdb's TraceQL parses, sorted. */
export const TAG_INTRINSICS: readonly string[] = Object.values(INTRINSIC_SPELLINGS).flat().sort();

/** intrinsicOf is the IntrinsicName a tag spells, or undefined. */
function intrinsicOf(tag: string): IntrinsicName | undefined {
  for (const [name, spellings] of Object.entries(INTRINSIC_SPELLINGS)) if (spellings.includes(tag)) return name as IntrinsicName;
  return undefined;
}

/** TagRoute is a recognised tag route path. */
export type TagRoute = { readonly route: 'names'; readonly v2: boolean } | { readonly route: 'values'; readonly v2: boolean; readonly tag: string };

const VALUES_PATH = /^\/api\/(v2\/)?search\/tag\/([^/]+)\/values$/;

/** tagRoute recognises a tag route path (any method: a wrong one gets 405), or null. A tag that is not valid percent-encoding is kept as written. */
export function tagRoute(path: string): TagRoute | null {
  if (path === '/api/search/tags') return { route: 'names', v2: false };
  if (path === '/api/v2/search/tags') return { route: 'names', v2: true };
  const m = VALUES_PATH.exec(path);
  if (m === null) return null;
  let tag = m[2] as string;
  try {
    tag = decodeURIComponent(tag);
  } catch {
    // kept as written; it then names no attribute anyone sent
  }
  return { route: 'values', v2: m[1] !== undefined, tag };
}

/** TagRouteAnswer is the HTTP answer of a tag route. */
export interface TagRouteAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly allow?: string;
}

function bad(param: string, why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `invalid ${param}: ${why}`, { param });
}

function failure(err: unknown): TagRouteAnswer {
  const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', `tag read failed: ${String(err)}`);
  return { status: e.httpStatus, body: { error: { code: e.code, message: e.message, ...(Object.keys(e.details).length > 0 ? { details: e.details } : {}) } } };
}

function positiveInt(params: URLSearchParams, name: string, max: number): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,9}$/.test(raw)) throw bad(name, `${JSON.stringify(raw.slice(0, 32))} is not a positive integer`);
  const v = Number(raw);
  if (v < 1) throw bad(name, 'must be at least 1');
  if (v > max) throw bad(name, `${v} exceeds the maximum ${max}`);
  return v;
}

function unixSeconds(params: URLSearchParams, name: string): bigint | null {
  const raw = params.get(name);
  if (raw === null || raw === '') return null;
  if (!/^\d{1,12}$/.test(raw)) throw bad(name, `${JSON.stringify(raw.slice(0, 32))} is not unix seconds`);
  return BigInt(raw) * 1_000_000_000n;
}

/** valuesTarget turns a values route's tag into a read target, or throws 400 naming `tag`. */
export function valuesTarget(tag: string, v2: boolean): TagTarget {
  if (tag === '' || Buffer.byteLength(tag) > L.tagBytesMax) throw bad('tag', `a tag is 1 to ${L.tagBytesMax} bytes`);
  if (!v2) return { kind: 'values', scope: 'any', key: tag };
  const intrinsic = intrinsicOf(tag);
  if (intrinsic === 'name' || intrinsic === 'kind' || intrinsic === 'status') return { kind: 'intrinsic', field: intrinsic };
  if (intrinsic !== undefined) throw bad('tag', `values of the intrinsic ${JSON.stringify(tag)} are not enumerated; name, kind and status are`);
  for (const [prefix, scope] of [['span.', 'span'], ['resource.', 'resource'], ['.', 'any']] as const) {
    if (tag.startsWith(prefix) && tag.length > prefix.length) return { kind: 'values', scope, key: tag.slice(prefix.length) };
  }
  if (/^(event|link|instrumentation)[.:]/.test(tag)) throw bad('tag', `event, link and instrumentation attributes are not tags here`);
  throw bad('tag', `${JSON.stringify(tag.slice(0, 64))} is not span.<key>, resource.<key>, .<key> or an intrinsic (name, kind, status)`);
}

/** tagParams parses the parameters every tag route shares. */
function tagParams(params: URLSearchParams, nowMs: number): { startNs: bigint; endNs: bigint; valuesMax: number; staleValuesMax?: number; consistency: Consistency } {
  const q = params.get('q');
  if (q !== null && q.trim() !== '' && q.trim() !== '{}') throw bad('q', 'a TraceQL filter on tags is not supported; omit q or send {}');
  const consistency = params.get('consistency') ?? 'linearizable';
  if (consistency !== 'linearizable' && consistency !== 'stale') throw bad('consistency', 'linearizable or stale');
  const start = unixSeconds(params, 'start');
  const end = unixSeconds(params, 'end');
  const endNs = end === null ? BigInt(Math.floor(nowMs)) * 1_000_000n + 1n : end + 1_000_000_000n;
  const startNs = start ?? endNs - BigInt(TraceSearchLimits.rangeDefaultMs) * 1_000_000n;
  if (startNs >= endNs) throw bad('start', 'start must be before end');
  if (endNs - startNs > BigInt(TraceSearchLimits.rangeMsMax) * 1_000_000n + 1_000_000_000n) {
    throw bad('end', `the range from start to end exceeds TraceSearchLimits.rangeMsMax (${TraceSearchLimits.rangeMsMax / 3_600_000} h)`);
  }
  const valuesMax = positiveInt(params, 'limit', L.valuesMax) ?? L.valuesMax;
  const stale = positiveInt(params, 'maxStaleValues', L.staleValuesMax);
  return { startNs, endNs, valuesMax, consistency, ...(stale !== undefined ? { staleValuesMax: stale } : {}) };
}

function scopeParam(params: URLSearchParams): 'span' | 'resource' | 'intrinsic' | 'all' {
  const scope = params.get('scope') ?? '';
  if (scope === '' || scope === 'none' || scope === 'all') return 'all';
  if (scope === 'span' || scope === 'resource' || scope === 'intrinsic') return scope;
  if (scope === 'event' || scope === 'link' || scope === 'instrumentation') throw bad('scope', `scope ${scope} is not supported: event, link and instrumentation attributes are not indexed`);
  throw bad('scope', 'span, resource, intrinsic or none');
}

function extras(r: TagsResult): { metrics: unknown; stats: unknown } {
  return {
    metrics: { inspectedBytes: String(r.stats.bytesRead), totalJobs: r.shardsAsked, completedJobs: r.shardsAsked - r.failedShards.length },
    stats: {
      shardsAsked: r.shardsAsked,
      failedShards: r.failedShards,
      partial: r.partial,
      blocksScanned: r.stats.blocksScanned,
      blocksPrunedTime: r.stats.blocksPrunedTime,
      bytesRead: r.stats.bytesRead,
      headRowsScanned: r.stats.headRowsScanned,
    },
  };
}

/**
 * serveTags answers a tag route: 200 with Tempo's JSON, 400 for a bad
 * parameter, tag or tenant, 503 when no shard could answer, 405 for another
 * method, 404 when the node serves no traces.
 */
export async function serveTags(s: ApiSource, route: TagRoute, method: string, params: URLSearchParams, org: string | string[] | undefined, signal: AbortSignal): Promise<TagRouteAnswer> {
  if (method !== 'GET') return { ...failure(new OtlpdbError('ERR_INVALID_ARGUMENT', `method ${method} not allowed on a tag route; allowed: GET`)), status: 405, allow: 'GET' };
  const read = s.readTags;
  if (read === undefined) return { ...failure(new OtlpdbError('ERR_NOT_FOUND', 'this node serves no traces')), status: 404 };
  const tenant = typeof org === 'string' && org !== '' ? org : 'default';
  const tenantProblem = checkTenantId(tenant);
  if (tenantProblem !== null) return failure(new OtlpdbError('ERR_INVALID_ARGUMENT', `X-Scope-OrgID: ${tenantProblem}`));
  try {
    const p = tagParams(params, Date.now());
    const ask = async (target: TagTarget): Promise<TagsResult> => {
      const q: TagRead = { startNs: p.startNs, endNs: p.endNs, target, valuesMax: p.valuesMax, ...(p.staleValuesMax !== undefined ? { staleValuesMax: p.staleValuesMax } : {}) };
      return read.call(s, tenant, q, p.consistency, signal);
    };
    if (route.route === 'values') {
      const r = await ask(valuesTarget(route.tag, route.v2));
      const tagValues = route.v2 ? r.entries.map((e) => ({ type: e.kind, value: e.text })) : [...new Set(r.entries.map((e) => e.text))].sort();
      return { status: 200, body: { tagValues, ...extras(r) } };
    }
    const scope = scopeParam(params);
    const intrinsics = scope === 'all' || scope === 'intrinsic' ? [...TAG_INTRINSICS] : [];
    const scopes: ('span' | 'resource')[] = scope === 'all' ? ['span', 'resource'] : scope === 'intrinsic' ? [] : [scope];
    if (scopes.length === 0) {
      const body = route.v2 ? { scopes: [{ name: 'intrinsic', tags: intrinsics }] } : { tagNames: intrinsics };
      return { status: 200, body };
    }
    const r = await ask({ kind: 'names', scopes });
    if (!route.v2) {
      // NB: Tempo's v1 lists attribute names only unless asked for intrinsics; so does this route.
      const tagNames = scope === 'all' ? [...new Set(r.entries.map((e) => e.text))].sort() : r.entries.map((e) => e.text);
      return { status: 200, body: { tagNames, ...extras(r) } };
    }
    const list: { name: string; tags: string[] }[] = scopes.map((name) => ({ name, tags: r.entries.filter((e) => e.kind === name).map((e) => e.text) }));
    if (intrinsics.length > 0) list.push({ name: 'intrinsic', tags: intrinsics });
    return { status: 200, body: { scopes: list, ...extras(r) } };
  } catch (err) {
    return failure(err);
  }
}
