/**
 * loki-routes.ts — Loki's HTTP API on a node (shapes as Loki documents
 * them, so Grafana's Loki data source and logcli work):
 *
 *   GET|POST /loki/api/v1/query              query, time, limit, direction
 *   GET|POST /loki/api/v1/query_range        query, start, end, since, step, limit, direction
 *   GET      /loki/api/v1/labels             start, end, since
 *   GET      /loki/api/v1/label/{name}/values start, end, since, query
 *   GET|POST /loki/api/v1/series             match[] (repeated), start, end, since
 *   GET      /loki/api/v1/index/stats        query, start, end
 *   POST     /loki/api/v1/push               (loki-push.ts)
 *
 * Answers: `{"status": "success", "data": {"resultType": "streams" |
 * "matrix" | "vector" | "scalar", "result": [...], "stats": {...}}}` for
 * queries (streams: `{"stream": {labels}, "values": [["<ns>", "<line>"]]}`,
 * with `{"structuredMetadata": {...}}` as a third element when the client
 * sends `X-Loki-Response-Encoding-Flags: categorize-labels`; matrix:
 * `{"metric": {...}, "values": [[<unix s>, "<value>"]]}`); `{"status":
 * "success", "data": [...]}` for labels, values and series; the bare
 * `{"streams", "chunks", "entries", "bytes"}` for index stats. `stats`
 * holds Loki's `summary` and otlpdb's own (`otlpdb`: shards asked, blocks
 * scanned and pruned, entries and bytes read, partial failures); a partial
 * answer also lists `warnings`.
 *
 * Parameters as Loki reads them: times are unix nanoseconds, unix seconds
 * (at most 10 digits, or with a fraction) or RFC3339; `since` and `step`
 * are Prometheus durations or (step) float seconds; `limit` defaults to 100
 * (at most LogsQueryLimits.limitMax); `direction` forward or backward
 * (default backward); absent times: the last hour (labels: 6 h) ending now.
 * POST bodies may carry the parameters form-encoded. otlpdb adds
 * `consistency=linearizable|stale`. Tenant: X-Scope-OrgID (default
 * `default`).
 *
 * Errors as Loki answers them: plain text, 400 for a bad parameter or query
 * (parse errors name the position) and for a query over a limit, 503 when
 * no shard answered, 405 for another method. The query routes answer 503
 * "LogQL engine not wired" while the node has no LogQL engine. A client
 * that goes away cancels the query (its signal).
 */
import { checkTenantId } from '../control/tenant.js';
import { OtlpdbError } from '../errors.js';
import { LogsQueryLimits as L } from '../limits.js';
import type { LogLabels, LogSource, LogqlEngine, LogqlResult, LogSourceStats } from '../query/logql/source.js';
import type { LabelsAnswer } from '../query/logs-query.js';
import { parseSelector } from '../query/logs-selector.js';
import type { LabelsRead } from '../query/logs-wire.js';
import type { Consistency } from '../query/trace-search-wire.js';
import type { IngestOutcome } from '../otlp/ingest.js';
import { gunzipBounded } from '../otlp/http-receiver.js';
import { isJsonPush, parsePushJson, parsePushProto, pushToOtlp } from './loki-push.js';

/** LokiSource is what Loki's routes need of a node. */
export interface LokiSource {
  /** engine is the LogQL engine, or null until one is wired in (the query routes then answer 503). */
  readonly engine: LogqlEngine | null;
  /** source is a cluster LogSource for one query. */
  source(tenant: string, consistency: Consistency): LogSource;
  /** labels runs a label read across the cluster. */
  labels(tenant: string, read: LabelsRead, consistency: Consistency, signal: AbortSignal): Promise<LabelsAnswer>;
  /**
   * push admits a push of `wireBytes` for `tenant` on the ingest path,
   * converts it (convert(bytesMax) returns the OTLP logs request; bytesMax
   * bounds the decompressed body), ingests it and resolves once it is
   * committed.
   */
  push(tenant: string, wireBytes: number, convert: (bytesMax: number) => Promise<Uint8Array>): Promise<IngestOutcome>;
}

/** LokiRoute is a recognised Loki query or label path. */
export type LokiRoute =
  | { readonly route: 'query' | 'query_range' | 'labels' | 'series' | 'index_stats' }
  | { readonly route: 'label_values'; readonly name: string };

/** LokiAnswer is the HTTP answer of a Loki route. */
export interface LokiAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly allow?: string;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const VALUES_PATH = /^\/loki\/api\/v1\/label\/([^/]+)\/values$/;
const ALLOW: Readonly<Record<LokiRoute['route'], string>> = { query: 'GET, POST', query_range: 'GET, POST', labels: 'GET, POST', label_values: 'GET', series: 'GET, POST', index_stats: 'GET' };

/** lokiRoute recognises a Loki query or label path, or null. */
export function lokiRoute(path: string): LokiRoute | null {
  switch (path) {
    case '/loki/api/v1/query':
      return { route: 'query' };
    case '/loki/api/v1/query_range':
      return { route: 'query_range' };
    case '/loki/api/v1/labels':
      return { route: 'labels' };
    case '/loki/api/v1/series':
      return { route: 'series' };
    case '/loki/api/v1/index/stats':
      return { route: 'index_stats' };
  }
  const m = VALUES_PATH.exec(path);
  if (m === null) return null;
  let name = m[1] as string;
  try {
    name = decodeURIComponent(name);
  } catch {
    // kept as written; refused below as an invalid label name
  }
  return { route: 'label_values', name };
}

function text(status: number, body: string, allow?: string): LokiAnswer {
  return { status, contentType: TEXT, body: body.endsWith('\n') ? body : `${body}\n`, ...(allow !== undefined ? { allow } : {}) };
}

function json(value: unknown): LokiAnswer {
  return { status: 200, contentType: JSON_TYPE, body: JSON.stringify(value) };
}

function badParam(param: string, why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `invalid parameter ${param}: ${why}`, { param });
}

/** lokiFailure is Loki's plain-text error for a query or label route: 400 for bad input and limits, else the code's status. */
export function lokiFailure(err: unknown): LokiAnswer {
  const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', String(err));
  const status = e.code === 'ERR_LIMIT_EXCEEDED' || e.code === 'ERR_INVALID_ARGUMENT' ? 400 : e.httpStatus;
  return text(status, e.message);
}

// ---------------------------------------------------------------- parameters

/** parseLokiTime reads a time as Loki does: float seconds (with "."), integer seconds (<= 10 digits) or nanoseconds, or RFC3339. */
export function parseLokiTime(v: string, param: string): bigint {
  if (v.includes('.') && /^\d+\.\d*$/.test(v)) {
    const [s, frac = ''] = v.split('.') as [string, string?];
    const ms = (frac + '000').slice(0, 3);
    return BigInt(s) * 1_000_000_000n + BigInt(ms) * 1_000_000n;
  }
  if (/^\d{1,19}$/.test(v)) return v.length <= 10 ? BigInt(v) * 1_000_000_000n : BigInt(v);
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.exec(v);
  if (m !== null) {
    const ms = Date.parse(`${m[1]}${m[3]}`);
    if (Number.isFinite(ms)) return BigInt(ms) * 1_000_000n + BigInt(((m[2] ?? '.').slice(1) + '000000000').slice(0, 9));
  }
  throw badParam(param, `cannot parse ${JSON.stringify(v.slice(0, 64))} to a valid timestamp`);
}

const DURATION_UNITS: Readonly<Record<string, bigint>> = { ns: 1n, us: 1_000n, µs: 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n, d: 86_400_000_000_000n, w: 604_800_000_000_000n, y: 31_536_000_000_000_000n };

/** parseLokiDuration reads a Prometheus/Go duration ("5m", "1h30m", "250ms") or, when `seconds` is allowed, float seconds. */
export function parseLokiDuration(v: string, param: string, seconds: boolean): bigint {
  if (seconds && /^\d+(\.\d+)?$/.test(v)) {
    const n = BigInt(Math.round(Number(v) * 1e9));
    if (n <= 0n) throw badParam(param, 'zero or negative query resolution step widths are not accepted. Try a positive integer');
    return n;
  }
  const re = /(\d+)(ns|us|µs|ms|s|m|h|d|w|y)/y;
  let at = 0;
  let total = 0n;
  while (at < v.length) {
    re.lastIndex = at;
    const m = re.exec(v);
    if (m === null) throw badParam(param, `cannot parse ${JSON.stringify(v.slice(0, 64))} to a valid duration`);
    total += BigInt(m[1] as string) * (DURATION_UNITS[m[2] as string] as bigint);
    at = re.lastIndex;
  }
  if (v === '' || total <= 0n) throw badParam(param, `${JSON.stringify(v.slice(0, 64))} is not a positive duration`);
  return total;
}

interface RangeParams {
  readonly startNs: bigint;
  readonly endNs: bigint;
}

function rangeOf(p: URLSearchParams, nowNs: bigint, defaultMs: number): RangeParams {
  const endText = p.get('end');
  const endNs = endText === null || endText === '' ? nowNs : parseLokiTime(endText, 'end');
  const since = p.get('since');
  const startText = p.get('start');
  let startNs: bigint;
  if (startText !== null && startText !== '') startNs = parseLokiTime(startText, 'start');
  else if (since !== null && since !== '') startNs = endNs - parseLokiDuration(since, 'since', false);
  else startNs = endNs - BigInt(defaultMs) * 1_000_000n;
  if (startNs < 0n) startNs = 0n;
  if (endNs >= 1n << 64n) throw badParam('end', 'beyond the largest time otlpdb stores (u64 nanoseconds)');
  if (endNs < startNs) throw badParam('end', 'end timestamp must not be before start time');
  if (endNs - startNs > BigInt(L.rangeMsMax) * 1_000_000n) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `the query time range exceeds the limit (query length: ${(endNs - startNs) / 3_600_000_000_000n}h, limit: ${L.rangeMsMax / 3_600_000}h)`, { param: 'start' });
  }
  return { startNs, endNs };
}

function limitOf(p: URLSearchParams): number {
  const v = p.get('limit');
  if (v === null || v === '') return L.limitDefault;
  if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw badParam('limit', 'must be a positive integer');
  const n = Number(v);
  if (n > L.limitMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `max entries limit per query exceeded, limit > max_entries_limit (${n} > ${L.limitMax})`, { param: 'limit' });
  return n;
}

function directionOf(p: URLSearchParams): 'forward' | 'backward' {
  const v = (p.get('direction') ?? 'backward').toLowerCase();
  if (v !== 'forward' && v !== 'backward') throw badParam('direction', 'must be forward or backward');
  return v;
}

function consistencyOf(p: URLSearchParams): Consistency {
  const v = p.get('consistency') ?? 'linearizable';
  if (v !== 'linearizable' && v !== 'stale') throw badParam('consistency', 'linearizable or stale');
  return v;
}

function queryOf(p: URLSearchParams): string {
  const q = p.get('query');
  if (q === null || q.trim() === '') throw badParam('query', 'a query is required');
  if (Buffer.byteLength(q) > L.queryBytesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `query longer than ${L.queryBytesMax} bytes`, { param: 'query' });
  return q;
}

// ---------------------------------------------------------------- rendering

function labelObject(ls: LogLabels): Record<string, string> {
  const o: Record<string, string> = {};
  for (const l of ls) o[l.name] = l.value;
  return o;
}

function seconds(ns: bigint): number {
  return Number(ns / 1_000_000n) / 1000;
}

function sampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** statsJson is a query's stats: Loki's summary and otlpdb's own. */
function statsJson(s: LogSourceStats, execMs: number, returned: number): unknown {
  const execSeconds = execMs / 1000;
  return {
    summary: {
      bytesProcessedPerSecond: execSeconds > 0 ? Math.round(s.bytesRead / execSeconds) : 0,
      linesProcessedPerSecond: execSeconds > 0 ? Math.round(s.entriesRead / execSeconds) : 0,
      totalBytesProcessed: s.bytesRead,
      totalLinesProcessed: s.entriesRead,
      execTime: execSeconds,
      queueTime: 0,
      subqueries: 0,
      totalEntriesReturned: returned,
      splits: 0,
      shards: s.shardsAsked,
    },
    otlpdb: {
      shardsAsked: s.shardsAsked,
      blocksScanned: s.blocksScanned,
      blocksPruned: s.blocksPruned,
      entriesRead: s.entriesRead,
      bytesRead: s.bytesRead,
      partialFailures: s.partialFailures,
    },
  };
}

/** resultJson renders a LogqlResult as Loki's `data` (resultType and result) and counts what it returned. */
export function resultJson(r: LogqlResult, categorize: boolean): { resultType: string; result: unknown; returned: number } {
  switch (r.kind) {
    case 'streams': {
      let returned = 0;
      const result = r.streams.map((s) => ({
        stream: labelObject(s.labels),
        values: s.entries.map((e) => {
          returned++;
          return categorize && e.metadata.length > 0 ? [e.timeNs.toString(), e.line, { structuredMetadata: labelObject(e.metadata) }] : [e.timeNs.toString(), e.line];
        }),
      }));
      return { resultType: 'streams', result, returned };
    }
    case 'matrix':
      return { resultType: 'matrix', result: r.series.map((s) => ({ metric: labelObject(s.labels), values: s.timesNs.map((t, i) => [seconds(t), sampleValue(s.values[i] as number)]) })), returned: r.series.length };
    case 'vector':
      return { resultType: 'vector', result: r.samples.map((s) => ({ metric: labelObject(s.labels), value: [seconds(s.timeNs), sampleValue(s.value)] })), returned: r.samples.length };
    case 'scalar':
      return { resultType: 'scalar', result: [seconds(r.timeNs), sampleValue(r.value)], returned: 1 };
  }
}

// ---------------------------------------------------------------- serving

/** LokiRequest is one parsed request of a Loki query or label route. */
export interface LokiRequest {
  readonly method: string;
  readonly params: URLSearchParams;
  readonly org: string | string[] | undefined;
  /** categorize: the client sent X-Loki-Response-Encoding-Flags: categorize-labels. */
  readonly categorize: boolean;
  readonly signal: AbortSignal;
  /** nowMs is the wall clock (ms) that absent times default to. */
  readonly nowMs: number;
}

/** serveLoki answers a Loki query or label route (see the file comment). */
export async function serveLoki(s: LokiSource | undefined, route: LokiRoute, r: LokiRequest): Promise<LokiAnswer> {
  const allow = ALLOW[route.route];
  if (!allow.split(', ').includes(r.method)) return text(405, `method ${r.method} not allowed; allowed: ${allow}`, allow);
  if (s === undefined) return text(404, 'this node serves no logs');
  const tenant = typeof r.org === 'string' && r.org !== '' ? r.org : 'default';
  const tenantProblem = checkTenantId(tenant);
  if (tenantProblem !== null) return text(400, `X-Scope-OrgID: ${tenantProblem}`);
  const nowNs = BigInt(Math.floor(r.nowMs)) * 1_000_000n;
  const p = r.params;
  const wall = AbortSignal.any([r.signal, AbortSignal.timeout(L.wallMsMax)]);
  try {
    const consistency = consistencyOf(p);
    switch (route.route) {
      case 'query':
      case 'query_range':
        return await serveQuery(s, route.route, tenant, consistency, r, nowNs, wall);
      case 'labels': {
        const range = rangeOf(p, nowNs, L.labelsRangeDefaultMs);
        const q = p.get('query');
        if (q !== null && q !== '') {
          const a = await s.labels(tenant, { op: 'series', ...range, name: null, selectors: [parseSelector(q)] }, consistency, wall);
          const names = new Set<string>();
          if (a.result.op === 'series') for (const ls of a.result.series) for (const l of ls) names.add(l.name);
          return json({ status: 'success', data: [...names].sort() });
        }
        const a = await s.labels(tenant, { op: 'names', ...range, name: null, selectors: [] }, consistency, wall);
        return json({ status: 'success', data: 'values' in a.result ? a.result.values : [] });
      }
      case 'label_values': {
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(route.name)) throw badParam('name', `invalid label name ${JSON.stringify(route.name.slice(0, 64))}`);
        const range = rangeOf(p, nowNs, L.labelsRangeDefaultMs);
        const q = p.get('query');
        if (q !== null && q !== '') {
          const a = await s.labels(tenant, { op: 'series', ...range, name: null, selectors: [parseSelector(q)] }, consistency, wall);
          const values = new Set<string>();
          if (a.result.op === 'series') for (const ls of a.result.series) for (const l of ls) if (l.name === route.name) values.add(l.value);
          return json({ status: 'success', data: [...values].sort() });
        }
        const a = await s.labels(tenant, { op: 'values', ...range, name: route.name, selectors: [] }, consistency, wall);
        return json({ status: 'success', data: 'values' in a.result ? a.result.values : [] });
      }
      case 'series': {
        const matches = p.getAll('match[]').concat(p.getAll('match'));
        if (matches.length === 0) throw badParam('match[]', 'at least one match[] selector is required');
        if (matches.length > L.seriesMatchesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `more than ${L.seriesMatchesMax} match[] selectors`, { param: 'match[]' });
        const selectors = matches.map((m) => parseSelector(m));
        const range = rangeOf(p, nowNs, L.labelsRangeDefaultMs);
        const a = await s.labels(tenant, { op: 'series', ...range, name: null, selectors }, consistency, wall);
        return json({ status: 'success', data: a.result.op === 'series' ? a.result.series.map(labelObject) : [] });
      }
      case 'index_stats': {
        const selector = parseSelector(queryOf(p), true);
        const range = rangeOf(p, nowNs, L.rangeDefaultMs);
        const a = await s.labels(tenant, { op: 'stats', ...range, name: null, selectors: [selector] }, consistency, wall);
        if (a.result.op !== 'stats') throw new OtlpdbError('ERR_INTERNAL', 'a stats read answered something else');
        return json({ streams: a.result.series.length, chunks: a.result.chunks, entries: a.result.entries, bytes: a.result.bytes });
      }
    }
  } catch (err) {
    if (r.signal.aborted) return text(499, 'the client went away');
    return lokiFailure(err);
  }
}

async function serveQuery(s: LokiSource, route: 'query' | 'query_range', tenant: string, consistency: Consistency, r: LokiRequest, nowNs: bigint, signal: AbortSignal): Promise<LokiAnswer> {
  const p = r.params;
  const query = queryOf(p);
  const limit = limitOf(p);
  const direction = directionOf(p);
  let startNs: bigint;
  let endNs: bigint;
  let stepNs = 0n;
  if (route === 'query') {
    const t = p.get('time');
    startNs = endNs = t === null || t === '' ? nowNs : parseLokiTime(t, 'time');
  } else {
    ({ startNs, endNs } = rangeOf(p, nowNs, L.rangeDefaultMs));
    const step = p.get('step');
    stepNs = step === null || step === '' ? BigInt(Math.max(1, Math.floor(Number(endNs - startNs) / 1e9 / 250))) * 1_000_000_000n : parseLokiDuration(step, 'step', true);
    if ((endNs - startNs) / stepNs > BigInt(L.stepsMax)) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `exceeded maximum resolution of ${L.stepsMax} points per timeseries. Try increasing the value of the step parameter`, { param: 'step' });
    }
  }
  const engine = s.engine;
  if (engine === null) return text(503, 'LogQL engine not wired');
  const source = s.source(tenant, consistency);
  const t0 = performance.now();
  const result = await engine.evaluate(query, { startNs, endNs, stepNs, direction, limit, signal }, source);
  const data = resultJson(result, r.categorize);
  const stats = source.stats;
  const warnings = stats.partialFailures.map((f) => (f.shard > 0 ? `shard ${f.shard}: ${f.code}: ${f.message}` : `${f.code}: ${f.message}`));
  return json({
    status: 'success',
    data: { resultType: data.resultType, result: data.result, stats: statsJson(stats, performance.now() - t0, data.returned) },
    ...(warnings.length > 0 ? { warnings } : {}),
  });
}

/** PushRequest is one POST /loki/api/v1/push as the server read it. */
export interface PushRequest {
  readonly method: string;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly org: string | string[] | undefined;
  readonly body: Buffer;
}

/**
 * servePush answers Loki's push (loki-push.ts): 204 once every line is
 * committed; 400 for a malformed body or when some lines were refused (the
 * others are kept, as Loki does), 413 past a size limit, 415 for an
 * encoding other than gzip (JSON) or none, 429 over the tenant's rate, 503
 * when the cluster cannot commit now (retry). Errors are plain text.
 */
export async function servePush(s: LokiSource | undefined, r: PushRequest): Promise<LokiAnswer> {
  if (r.method !== 'POST') return text(405, `method ${r.method} not allowed; allowed: POST`, 'POST');
  if (s === undefined) return text(404, 'this node serves no logs');
  const tenant = typeof r.org === 'string' && r.org !== '' ? r.org : 'default';
  const tenantProblem = checkTenantId(tenant);
  if (tenantProblem !== null) return text(400, `X-Scope-OrgID: ${tenantProblem}`);
  const encoding = (r.contentEncoding ?? '').trim().toLowerCase();
  const json = isJsonPush(r.contentType);
  if (encoding !== '' && encoding !== 'identity' && !(encoding === 'gzip' && json)) return text(415, `unsupported Content-Encoding ${JSON.stringify(encoding)}`);
  try {
    const outcome = await s.push(tenant, r.body.length, async (bytesMax) => {
      const body = encoding === 'gzip' ? await gunzipBounded(r.body, bytesMax) : r.body;
      return pushToOtlp(json ? parsePushJson(body) : parsePushProto(body, bytesMax));
    });
    if (outcome.rejected > 0) return text(400, outcome.message);
    return { status: 204, contentType: TEXT, body: '' };
  } catch (err) {
    const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', String(err));
    return text(e.httpStatus, e.message);
  }
}
