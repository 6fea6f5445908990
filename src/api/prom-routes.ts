/**
 * prom-routes.ts — Prometheus's HTTP API on a node (DESIGN.md §8), shapes
 * and errors as prometheus.io/docs/prometheus/latest/querying/api/
 * documents them:
 *
 *   GET|POST /api/v1/query            query, time, timeout, max_source_resolution
 *   GET|POST /api/v1/query_range      query, start, end, step, timeout, max_source_resolution
 *
 * max_source_resolution (raw | 5m | 1h | auto, the default; Thanos's
 * parameter) caps the rollups a query may read (query/promql/README.md
 * "Rollups"); another value is bad_data.
 *   GET|POST /api/v1/series           match[] (required), start, end, limit
 *   GET|POST /api/v1/labels           match[], start, end, limit
 *   GET      /api/v1/label/{name}/values   match[], start, end, limit
 *   GET      /api/v1/metadata         metric, limit, limit_per_metric
 *   GET      /api/v1/status/buildinfo
 *   POST     /api/v1/write            remote write (prom-remote-write.ts)
 *
 * POST takes the same parameters form-encoded (body values first, then the
 * URL's, as Go's r.FormValue). Success: `{"status":"success","data":…}`,
 * plus `"warnings"` and otlpdb's `"partial": true` when a shard did not
 * answer; `stats=all` adds `data.stats` (Prometheus's timings and samples,
 * and otlpdb's shard counts). Errors:
 * `{"status":"error","errorType":…,"error":…}` with Prometheus's statuses:
 * bad_data 400, execution 422, canceled 499, timeout 503, unavailable 503,
 * not_found 404, internal 500. An OtlpdbError maps by code:
 * ERR_INVALID_ARGUMENT → bad_data, ERR_LIMIT_EXCEEDED and ERR_CORRUPTION →
 * execution, ERR_TIMEOUT → timeout, ERR_UNAVAILABLE → unavailable,
 * ERR_NOT_FOUND → not_found, anything else → internal.
 *
 * otlpdb's extra parameter `consistency=linearizable|stale` (default
 * linearizable) picks the replicas, as on the trace routes; the tenant is
 * X-Scope-OrgID (default `default`). A client that goes away cancels the
 * query (`signal`). The query routes need the PromQL engine: until one is
 * wired they answer 503 `unavailable` "PromQL engine not wired".
 *
 * NB: buildinfo reports version 2.42.0 (the Prometheus release the oracle
 * compares against) so clients pick that API level; revision and branch
 * name otlpdb. /api/v1/metadata answers, per Prometheus metric name, each
 * distinct (type, help, unit) of its series: help is the OTLP description of
 * a series' latest point, unit the Prometheus unit (metrics-prom-view.ts).
 */
import { checkTenantId } from '../control/tenant.js';
import { OtlpdbError } from '../errors.js';
import { MetricsQueryLimits as L } from '../limits.js';
import { compareCodePoints } from '../storage/metrics/series-registry.js';
import type { FloatSeries, PromLabels, PromMatcher, PromResult, SourceStats } from '../query/promql/source.js';
import { matrixAnswerBytes, matrixResultJson } from './prom-json.js';
import { formatPromFloat } from '../query/metrics-prom-records.js';
import { newSourceStats } from '../query/metrics-read.js';
import { LABEL_NAME, MAX_TIME_MS, MIN_TIME_MS, maxSourceResolutionParam, parseDuration, parseSelector, parseTime } from './prom-params.js';
import type { PromApiSource } from './types.js';

/** PromRoute is a recognised Prometheus API path. */
export type PromRoute =
  | { readonly route: 'query' | 'query_range' | 'series' | 'labels' | 'metadata' | 'buildinfo' | 'write' }
  | { readonly route: 'label_values'; readonly name: string };

/** PromAnswer is the HTTP answer of a Prometheus route. */
export interface PromAnswer {
  readonly status: number;
  readonly contentType: string;
  /** body is the answer's text, or its UTF-8 bytes (a range query's matrix, written as bytes: api/prom-json.ts). */
  readonly body: string | Uint8Array;
  readonly allow?: string;
}

/** PromErrorType is Prometheus's errorType. */
export type PromErrorType = 'bad_data' | 'execution' | 'canceled' | 'timeout' | 'unavailable' | 'not_found' | 'internal';

const STATUS: Readonly<Record<PromErrorType, number>> = { bad_data: 400, execution: 422, canceled: 499, timeout: 503, unavailable: 503, not_found: 404, internal: 500 };
const JSON_TYPE = 'application/json';
const FIXED: Readonly<Record<string, PromRoute>> = {
  '/api/v1/query': { route: 'query' },
  '/api/v1/query_range': { route: 'query_range' },
  '/api/v1/series': { route: 'series' },
  '/api/v1/labels': { route: 'labels' },
  '/api/v1/metadata': { route: 'metadata' },
  '/api/v1/status/buildinfo': { route: 'buildinfo' },
  '/api/v1/write': { route: 'write' },
};
const METHODS: Readonly<Record<PromRoute['route'], readonly string[]>> = {
  query: ['GET', 'POST'],
  query_range: ['GET', 'POST'],
  series: ['GET', 'POST'],
  labels: ['GET', 'POST'],
  label_values: ['GET'],
  metadata: ['GET'],
  buildinfo: ['GET'],
  write: ['POST'],
};
const LABEL_VALUES = /^\/api\/v1\/label\/([^/]+)\/values$/;

/** promRoute recognises a Prometheus API path (any method: a wrong one gets 405), or null. */
export function promRoute(path: string): PromRoute | null {
  const fixed = FIXED[path];
  if (fixed !== undefined) return fixed;
  const m = LABEL_VALUES.exec(path);
  if (m === null) return null;
  let name = m[1] as string;
  try {
    name = decodeURIComponent(name);
  } catch {
    // kept as written; refused below as an invalid label name
  }
  return { route: 'label_values', name };
}

/** promError is Prometheus's error answer. */
export function promError(type: PromErrorType, message: string): PromAnswer {
  return { status: STATUS[type], contentType: JSON_TYPE, body: JSON.stringify({ status: 'error', errorType: type, error: message }) };
}

/** errorTypeOf maps an OtlpdbError code to Prometheus's errorType (see the file comment). */
export function errorTypeOf(code: string): PromErrorType {
  switch (code) {
    case 'ERR_INVALID_ARGUMENT':
      return 'bad_data';
    case 'ERR_LIMIT_EXCEEDED':
    case 'ERR_CORRUPTION':
      return 'execution';
    case 'ERR_TIMEOUT':
      return 'timeout';
    case 'ERR_UNAVAILABLE':
    case 'ERR_NOT_LEADER':
    case 'ERR_RATE_LIMITED':
      return 'unavailable';
    case 'ERR_NOT_FOUND':
      return 'not_found';
    default:
      return 'internal';
  }
}

function failure(err: unknown): PromAnswer {
  const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', String(err));
  return promError(errorTypeOf(e.code), e.message);
}

function success(data: unknown, stats: SourceStats | null): PromAnswer {
  return successText(JSON.stringify(data), stats);
}

/** successText is success with `data` already JSON text: the same bytes as JSON.stringify of the whole body. */
function successText(dataJson: string, stats: SourceStats | null): PromAnswer {
  return { status: 200, contentType: JSON_TYPE, body: `{"status":"success","data":${dataJson}${warningsTail(stats)}}` };
}

/** warningsTail is the answer's text after `data`: the shards that did not answer, if any. */
function warningsTail(stats: SourceStats | null): string {
  const failed = stats?.partialFailures ?? [];
  const warnings = failed.map((f) => `shard ${f.shard} did not answer (${f.code}): ${f.message}`);
  return warnings.length > 0 ? `,"warnings":${JSON.stringify(warnings)},"partial":true` : '';
}

/**
 * queryAnswer is a query's success answer: a matrix written straight as
 * UTF-8 bytes (prom-json.ts matrixAnswerBytes), the same bytes as
 * successText(queryDataJson(...)) encoded; anything else, or a matrix whose
 * object form differs, as that text.
 */
export function queryAnswer(r: PromResult, stats: unknown, sourceStats: SourceStats | null): PromAnswer {
  if (r.kind === 'matrix') {
    const tail = `${stats === undefined ? '' : `,"stats":${JSON.stringify(stats)}`}}${warningsTail(sourceStats)}}`;
    const body = matrixAnswerBytes(r.series, '{"status":"success","data":{"resultType":"matrix","result":', tail);
    if (body !== null) return { status: 200, contentType: JSON_TYPE, body };
  }
  return successText(queryDataJson(r, stats), sourceStats);
}

/** queryDataJson is `data` of a query answer as JSON text: a matrix's result written directly (prom-json.ts), anything else through promResultJson; `stats` (when given) last. */
export function queryDataJson(r: PromResult, stats: unknown, direct = true): string {
  const resultJson = direct && r.kind === 'matrix' ? matrixResultJson(r.series) : null;
  if (resultJson === null) {
    const data = promResultJson(r) as Record<string, unknown>;
    if (stats !== undefined) data['stats'] = stats;
    return JSON.stringify(data);
  }
  return `{"resultType":"matrix","result":${resultJson}${stats === undefined ? '' : `,"stats":${JSON.stringify(stats)}`}}`;
}

function metricObject(labels: PromLabels): Record<string, string> {
  const o: Record<string, string> = {};
  for (const l of labels) o[l.name] = l.value;
  return o;
}

/** promResultJson is an engine's answer in Prometheus's `data` shape (times in float seconds, values as strings). */
export function promResultJson(r: PromResult): unknown {
  const sec = (ms: number): number => ms / 1000;
  switch (r.kind) {
    case 'vector':
      return { resultType: 'vector', result: r.samples.map((s) => ({ metric: metricObject(s.labels), value: [sec(s.timestampMs), formatPromFloat(s.value)] })) };
    case 'matrix':
      return {
        resultType: 'matrix',
        result: r.series.map((s) => ({ metric: metricObject(s.labels), values: Array.from(s.timestampsMs, (t, i) => [sec(t), formatPromFloat(s.values[i] as number)]) })),
      };
    case 'scalar':
      return { resultType: 'scalar', result: [sec(r.timestampMs), formatPromFloat(r.value)] };
    case 'string':
      return { resultType: 'string', result: [sec(r.timestampMs), r.value] };
  }
}

/** PromRequest is one request to a Prometheus route, parameters merged from the form body and the URL. */
export interface PromRequest {
  readonly method: string;
  readonly params: URLSearchParams;
  readonly org: string | string[] | undefined;
  /** body is the raw body (only remote write reads it as such). */
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly nowMs: number;
  readonly signal: AbortSignal;
}

/** mergeForm is the parameters of a request: a form-encoded body's values first, then the URL's (Go's r.Form). */
export function mergeForm(query: URLSearchParams, body: Uint8Array, contentType: string | undefined): URLSearchParams {
  const out = new URLSearchParams();
  if (body.length > 0 && (contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(Buffer.from(body).toString('utf8'))) out.append(k, v);
  }
  for (const [k, v] of query) out.append(k, v);
  return out;
}

function consistencyOf(p: URLSearchParams): 'linearizable' | 'stale' {
  const c = p.get('consistency') ?? 'linearizable';
  if (c !== 'linearizable' && c !== 'stale') throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'invalid parameter "consistency": linearizable or stale');
  return c;
}

function matcherSets(p: URLSearchParams): PromMatcher[][] {
  const raw = p.getAll('match[]');
  if (raw.length > L.matchSetsMax) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `more than ${L.matchSetsMax} match[] parameters`);
  return raw.map((m) => parseSelector(m));
}

/** timeParam parses an optional time parameter with Prometheus's parseTimeParam wording. */
function timeParam(raw: string, param: string): number {
  try {
    return parseTime(raw, param);
  } catch {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `invalid parameter "${param}": Invalid time value for '${param}': cannot parse "${raw}" to a valid timestamp`);
  }
}

function range(p: URLSearchParams): { startMs: number; endMs: number } {
  const s = p.get('start');
  const e = p.get('end');
  const startMs = s === null || s === '' ? MIN_TIME_MS : timeParam(s, 'start');
  const endMs = e === null || e === '' ? MAX_TIME_MS : timeParam(e, 'end');
  if (endMs < startMs) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'end timestamp must not be before start time');
  return { startMs, endMs };
}

function limitOf(p: URLSearchParams, name = 'limit'): number {
  const raw = p.get(name);
  if (raw === null || raw === '') return 0;
  if (!/^-?\d{1,15}$/.test(raw)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `invalid parameter "${name}": cannot parse "${raw}" to a valid integer`);
  return Math.max(0, Number(raw));
}

function cut<T>(items: readonly T[], limit: number): { items: readonly T[]; warnings: string[] } {
  if (limit <= 0 || items.length <= limit) return { items, warnings: [] };
  return { items: items.slice(0, limit), warnings: ['results truncated due to limit'] };
}

function withWarnings(a: PromAnswer, warnings: readonly string[]): PromAnswer {
  if (warnings.length === 0) return a;
  const body = JSON.parse(typeof a.body === 'string' ? a.body : Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength).toString('utf8')) as { warnings?: string[] };
  body.warnings = [...(body.warnings ?? []), ...warnings];
  return { ...a, body: JSON.stringify(body) };
}

/** queryTimes validates a query's time parameters as Prometheus does, in its order. */
export function queryTimes(route: 'query' | 'query_range', p: URLSearchParams, nowMs: number): { startMs: number; endMs: number; stepMs: number } {
  if (route === 'query') {
    const raw = p.get('time');
    const t = raw === null || raw === '' ? nowMs : timeParam(raw, 'time');
    return { startMs: t, endMs: t, stepMs: 0 };
  }
  const startMs = parseTime(p.get('start') ?? '', 'start');
  const endMs = parseTime(p.get('end') ?? '', 'end');
  if (endMs < startMs) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'end timestamp must not be before start time');
  const stepMs = parseDuration(p.get('step') ?? '', 'step');
  if (stepMs <= 0) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
  // Go's Duration / Duration: integer division.
  if (Math.floor((endMs - startMs) / stepMs) > L.rangePointsMax) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
  }
  return { startMs, endMs, stepMs };
}

function timeoutOf(p: URLSearchParams): number {
  const raw = p.get('timeout');
  if (raw === null || raw === '') return L.timeoutMsDefault;
  const ms = parseDuration(raw, 'timeout');
  if (ms <= 0) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'invalid parameter "timeout": timeout must be positive');
  return Math.min(ms, L.timeoutMsMax);
}

async function serveQuery(s: PromApiSource, route: 'query' | 'query_range', tenant: string, r: PromRequest): Promise<PromAnswer> {
  const p = r.params;
  const times = queryTimes(route, p, r.nowMs);
  const timeoutMs = timeoutOf(p);
  const consistency = consistencyOf(p);
  const text = p.get('query') ?? '';
  const lookbackRaw = p.get('lookback_delta');
  const lookbackMs = lookbackRaw === null || lookbackRaw === '' ? L.lookbackMsDefault : parseDuration(lookbackRaw, 'lookback_delta');
  if (lookbackMs <= 0) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'invalid parameter "lookback_delta": must be positive');
  const maxSourceResolution = maxSourceResolutionParam(p.get('max_source_resolution'));
  const engine = s.engine;
  if (engine === null) return promError('unavailable', 'PromQL engine not wired');
  const abort = new AbortController();
  let timedOut = false;
  const onClient = (): void => abort.abort();
  r.signal.addEventListener('abort', onClient, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  const source = s.sourceFor(tenant, consistency);
  const began = performance.now();
  try {
    const result = await engine.evaluate(text, times, source, { lookbackMs, signal: abort.signal, maxSourceResolution });
    const shaped = route === 'query_range' && result.kind !== 'matrix' ? toMatrix(result) : result;
    let stats: unknown;
    if (p.get('stats') === 'all') {
      const st = source.stats;
      stats = {
        timings: { evalTotalTime: (performance.now() - began) / 1000, resultSortTime: 0, queryPreparationTime: 0, innerEvalTime: 0, execQueueTime: 0, execTotalTime: (performance.now() - began) / 1000 },
        samples: { totalQueryableSamples: st.samplesRead, peakSamples: st.samplesHeld },
        otlpdb: { shardsAsked: st.shardsAsked, seriesRead: st.seriesRead, samplesRead: st.samplesRead, rollupPointsRead: st.rollupPointsRead, bytesRead: st.bytesRead, samplesDecoded: st.samplesDecoded ?? 0, partialFailures: st.partialFailures },
      };
    }
    return queryAnswer(shaped, stats, source.stats);
  } catch (err) {
    if (timedOut) return promError('timeout', 'query timed out in query execution');
    if (r.signal.aborted) return promError('canceled', 'query was canceled in query execution');
    // Prometheus words a query the engine refuses as a bad `query` parameter.
    if (err instanceof OtlpdbError && err.code === 'ERR_INVALID_ARGUMENT') return promError('bad_data', `invalid parameter "query": ${err.message}`);
    return failure(err);
  } finally {
    clearTimeout(timer);
    r.signal.removeEventListener('abort', onClient);
  }
}

function toMatrix(r: PromResult): PromResult {
  if (r.kind === 'vector') return { kind: 'matrix', series: r.samples.map((x) => ({ labels: x.labels, timestampsMs: Float64Array.of(x.timestampMs), values: Float64Array.of(x.value) })) };
  if (r.kind === 'scalar') return { kind: 'matrix', series: [{ labels: [], timestampsMs: Float64Array.of(r.timestampMs), values: Float64Array.of(r.value) }] };
  return r;
}

const ANY_METRIC: PromMatcher[] = [{ name: '__name__', op: '=~', value: '.+' }];

async function listSeries(s: PromApiSource, tenant: string, p: URLSearchParams, sets: PromMatcher[][], signal: AbortSignal, stats: SourceStats): Promise<readonly FloatSeries[]> {
  const { startMs, endMs } = range(p);
  return s.series(tenant, sets.length > 0 ? sets : [ANY_METRIC], startMs, endMs, consistencyOf(p), signal, stats);
}

async function serveListing(s: PromApiSource, route: PromRoute, tenant: string, r: PromRequest): Promise<PromAnswer> {
  const p = r.params;
  const stats = newSourceStats();
  switch (route.route) {
    case 'series': {
      const sets = matcherSets(p);
      if (sets.length === 0) return promError('bad_data', 'no match[] parameter provided');
      const limit = limitOf(p);
      const all = await listSeries(s, tenant, p, sets, r.signal, stats);
      const c = cut(all, limit);
      return withWarnings(success(c.items.map((x) => metricObject(x.labels)), stats), c.warnings);
    }
    case 'labels': {
      const sets = matcherSets(p);
      const limit = limitOf(p);
      const names = new Set<string>();
      for (const x of await listSeries(s, tenant, p, sets, r.signal, stats)) for (const l of x.labels) names.add(l.name);
      const c = cut([...names].sort(compareCodePoints), limit);
      return withWarnings(success(c.items, stats), c.warnings);
    }
    case 'label_values': {
      if (!LABEL_NAME.test(route.name)) return promError('bad_data', `invalid label name: ${JSON.stringify(route.name)}`);
      const sets = matcherSets(p);
      const limit = limitOf(p);
      const values = new Set<string>();
      const base = sets.length > 0 ? sets : [route.name === '__name__' ? ANY_METRIC : [{ name: route.name, op: '!=', value: '' } as PromMatcher]];
      for (const x of await listSeries(s, tenant, p, base, r.signal, stats)) {
        const v = x.labels.find((l) => l.name === route.name)?.value;
        if (v !== undefined) values.add(v);
      }
      const c = cut([...values].sort(compareCodePoints), limit);
      return withWarnings(success(c.items, stats), c.warnings);
    }
    case 'metadata': {
      const metric = p.get('metric');
      const limit = limitOf(p);
      const perMetric = limitOf(p, 'limit_per_metric');
      const matchers = metric === null || metric === '' ? ANY_METRIC : [{ name: '__name__', op: '=', value: metric } as PromMatcher];
      const fams = await s.metadata(tenant, matchers, consistencyOf(p), r.signal, stats);
      const out: Record<string, { type: string; help: string; unit: string }[]> = {};
      let n = 0;
      for (const f of fams) {
        const get = (k: string): string => f.labels.find((l) => l.name === k)?.value ?? '';
        const name = get('__name__');
        const list = out[name] ?? [];
        if (out[name] === undefined) {
          if (limit > 0 && n >= limit) continue;
          n++;
          out[name] = list;
        }
        if (perMetric > 0 && list.length >= perMetric) continue;
        list.push({ type: get('type') || 'unknown', help: get('help'), unit: get('unit') });
      }
      return success(out, stats);
    }
    default:
      return promError('not_found', 'no such route');
  }
}

/** BUILD_INFO is /api/v1/status/buildinfo's data (see the file comment's NB). */
export const BUILD_INFO = { version: '2.42.0', revision: 'otlpdb', branch: 'otlpdb', buildUser: 'otlpdb', buildDate: '', goVersion: `node ${process.version}` } as const;

/**
 * servePrometheus answers one Prometheus route (not remote write, which
 * prom-remote-write.ts serves). 405 for another method, 404 when the node
 * serves no metrics.
 */
export async function servePrometheus(s: PromApiSource | undefined, route: PromRoute, r: PromRequest): Promise<PromAnswer> {
  const allowed = METHODS[route.route];
  if (!allowed.includes(r.method)) return { ...promError('bad_data', `method ${r.method} not allowed; allowed: ${allowed.join(', ')}`), status: 405, allow: allowed.join(', ') };
  if (route.route === 'buildinfo') return success(BUILD_INFO, null);
  if (s === undefined) return promError('not_found', 'this node serves no metrics');
  const tenant = typeof r.org === 'string' && r.org !== '' ? r.org : 'default';
  const tenantProblem = checkTenantId(tenant);
  if (tenantProblem !== null) return promError('bad_data', `X-Scope-OrgID: ${tenantProblem}`);
  try {
    if (route.route === 'query' || route.route === 'query_range') return await serveQuery(s, route.route, tenant, r);
    return await serveListing(s, route, tenant, r);
  } catch (err) {
    if (r.signal.aborted) return promError('canceled', 'query was canceled');
    return failure(err);
  }
}
