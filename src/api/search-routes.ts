/**
 * search-routes.ts — Tempo's `GET /api/search` on a node's HTTP API: the
 * parameters parsed (query/search-params.ts), the search run across the
 * cluster (query/trace-search.ts), the answer in Tempo's shape. An extra
 * parameter, `consistency=linearizable|stale` (default linearizable), picks
 * the replicas (DESIGN.md §1 promise 2). A client that goes away cancels
 * the search through `signal`.
 */
import { checkTenantId } from '../control/tenant.js';
import { OtlpdbError } from '../errors.js';
import { parseSearchParams } from '../query/search-params.js';
import type { Consistency } from '../query/trace-search-wire.js';
import type { ApiSource } from './types.js';

/** SEARCH_PATH is Tempo's search route. */
export const SEARCH_PATH = '/api/search';

/** SearchRouteAnswer is the HTTP answer of a search route. */
export interface SearchRouteAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly allow?: string;
}

function failure(err: unknown): SearchRouteAnswer {
  const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', `search failed: ${String(err)}`);
  return { status: e.httpStatus, body: { error: { code: e.code, message: e.message, ...(Object.keys(e.details).length > 0 ? { details: e.details } : {}) } } };
}

/**
 * serveSearch answers GET /api/search: 200 with Tempo's search JSON, 400
 * for a bad parameter or tenant, 503 when no shard could answer, 405 for
 * another method, 404 when the node serves no traces.
 */
export async function serveSearch(s: ApiSource, method: string, query: URLSearchParams, org: string | string[] | undefined, signal: AbortSignal): Promise<SearchRouteAnswer> {
  if (method !== 'GET') return { ...failure(new OtlpdbError('ERR_INVALID_ARGUMENT', `method ${method} not allowed on ${SEARCH_PATH}; allowed: GET`)), status: 405, allow: 'GET' };
  const search = s.searchTraces;
  if (search === undefined) return { ...failure(new OtlpdbError('ERR_NOT_FOUND', 'this node serves no traces')), status: 404 };
  const tenant = typeof org === 'string' && org !== '' ? org : 'default';
  const tenantProblem = checkTenantId(tenant);
  if (tenantProblem !== null) return failure(new OtlpdbError('ERR_INVALID_ARGUMENT', `X-Scope-OrgID: ${tenantProblem}`));
  try {
    const consistency = query.get('consistency') ?? 'linearizable';
    if (consistency !== 'linearizable' && consistency !== 'stale') throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'invalid consistency: linearizable or stale', { param: 'consistency' });
    const q = parseSearchParams(query, Date.now());
    return { status: 200, body: await search.call(s, tenant, q, consistency as Consistency, signal) };
  } catch (err) {
    return failure(err);
  }
}
