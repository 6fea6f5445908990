/**
 * log-search-routes.ts — otlpdb's native JSON log search on a node's HTTP
 * API (docs/log-search.md; an extension beyond Loki):
 *
 *   POST /api/v1/logs/search   body: the search request (application/json)
 *   GET  /api/v1/logs/search?query=<the same JSON, URL-encoded>
 *
 * The answer is Loki's streams shape, so Loki clients and the CLI print it
 * the same way, plus the search's stats:
 *
 *   {"status": "success", "data": {"resultType": "streams",
 *     "result": [{"stream": {labels}, "values": [["<ns>", "<line>", {metadata}]...]}...],
 *     "stats": {shardsAsked, shardsFailed, shardsCut, blocksScanned, blocksPrunedTime,
 *               blocksPrunedBloom, blocksPrunedIndex, bytesRead, headRowsScanned,
 *               entriesReturned}},
 *    "partial": false, "warnings": [...]}
 *
 * Streams appear in the order of their first entry; each stream's values
 * keep the answer's time order (the direction). Errors are otlpdb's JSON
 * error body: 400 ERR_INVALID_ARGUMENT (malformed, naming the JSON path in
 * `details.param`), 413 ERR_LIMIT_EXCEEDED (over a limit), 503 when no shard
 * answered, 405 another method, 404 a node without logs.
 */
import { checkTenantId } from '../control/tenant.js';
import { OtlpdbError } from '../errors.js';
import type { LogSearchAnswer } from '../query/log-search.js';
import type { LogSearchRequest } from '../query/log-search-query.js';
import { parseSearchBody } from '../query/log-search-query.js';

/** LOG_SEARCH_PATH is the native log search route. */
export const LOG_SEARCH_PATH = '/api/v1/logs/search';

/** LogSearchFn runs one search for a tenant across the cluster (the node's LogSearch). */
export type LogSearchFn = (tenant: string, req: LogSearchRequest, signal: AbortSignal) => Promise<LogSearchAnswer>;

/** LogSearchRouteAnswer is the HTTP answer of the route. */
export interface LogSearchRouteAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly allow?: string;
}

/** LogSearchHttpRequest is what the route needs of an HTTP request. */
export interface LogSearchHttpRequest {
  readonly method: string;
  readonly params: URLSearchParams;
  readonly body: Uint8Array;
  readonly org: string | string[] | undefined;
  readonly signal: AbortSignal;
  /** nowMs is the wall clock absent times default to. */
  readonly nowMs: number;
}

function failure(err: unknown, status?: number): LogSearchRouteAnswer {
  const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', `log search failed: ${String(err)}`);
  const st = status ?? e.httpStatus;
  return { status: st, body: { status: 'error', error: { code: e.code, message: e.message, ...(Object.keys(e.details).length > 0 ? { details: e.details } : {}) } } };
}

/** searchAnswerJson renders a merged search in Loki's streams shape with the stats (see the file comment). */
export function searchAnswerJson(a: LogSearchAnswer): unknown {
  const streams = new Map<string, { stream: Record<string, string>; values: unknown[] }>();
  for (const e of a.entries) {
    const key = JSON.stringify(e.stream.map((l) => [l.name, l.value]));
    let s = streams.get(key);
    if (s === undefined) {
      s = { stream: Object.fromEntries(e.stream.map((l) => [l.name, l.value])), values: [] };
      streams.set(key, s);
    }
    s.values.push(e.metadata.length > 0 ? [e.timeNs.toString(), e.line, Object.fromEntries(e.metadata.map((l) => [l.name, l.value]))] : [e.timeNs.toString(), e.line]);
  }
  const warnings = a.failedShards.map((f) => `shard ${f.shard} did not answer (${f.code}): ${f.message}`);
  if (a.stats.shardsCut > 0) warnings.push(`${a.stats.shardsCut} shard answer(s) were cut (bytes read or answer size); the result may miss entries`);
  return { status: 'success', data: { resultType: 'streams', result: [...streams.values()], stats: a.stats }, partial: a.partial, ...(warnings.length > 0 ? { warnings } : {}) };
}

/** serveLogSearch answers the route (see the file comment). */
export async function serveLogSearch(search: LogSearchFn | undefined, r: LogSearchHttpRequest): Promise<LogSearchRouteAnswer> {
  if (r.method !== 'GET' && r.method !== 'POST') {
    return { ...failure(new OtlpdbError('ERR_INVALID_ARGUMENT', `method ${r.method} not allowed on ${LOG_SEARCH_PATH}; allowed: GET, POST`), 405), allow: 'GET, POST' };
  }
  if (search === undefined) return failure(new OtlpdbError('ERR_NOT_FOUND', 'this node serves no logs'), 404);
  const tenant = typeof r.org === 'string' && r.org !== '' ? r.org : 'default';
  const tenantProblem = checkTenantId(tenant);
  if (tenantProblem !== null) return failure(new OtlpdbError('ERR_INVALID_ARGUMENT', `X-Scope-OrgID: ${tenantProblem}`));
  try {
    let text: string;
    if (r.method === 'POST') text = Buffer.from(r.body).toString('utf8');
    else {
      const q = r.params.get('query');
      if (q === null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'log search: query: the GET form needs query=<the search JSON>', { param: 'query' });
      text = q;
    }
    const req = parseSearchBody(text, BigInt(Math.floor(r.nowMs)) * 1_000_000n);
    return { status: 200, body: searchAnswerJson(await search(tenant, req, r.signal)) };
  } catch (err) {
    return failure(err);
  }
}
