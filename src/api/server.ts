/**
 * server.ts — the node's HTTP API (DESIGN.md §8, port 3200) on node:http.
 *
 * Routes so far: Prometheus's API (/api/v1/query, query_range, series,
 * labels, label/{name}/values, metadata, status/buildinfo, write;
 * prom-routes.ts, prom-remote-write.ts), /healthz, /readyz, /api/v1/cluster, /metrics, Tempo's
 * trace by id (/api/traces/{id}, /api/v2/traces/{id}; OTLP JSON, or
 * protobuf with `Accept: application/protobuf`) and /api/echo, the
 * control KV and locks (/api/v1/kv/, /api/v1/locks/; control-routes.ts), Loki's
 * API (/loki/api/v1/*: queries, labels, series, index stats, push;
 * loki-routes.ts, loki-push.ts; Loki's plain-text errors) and
 * the fault-injection admin routes (/api/v1/admin/faults; admin-routes.ts; and
 * /api/v1/admin/clock; clock-routes.ts). Every error
 * body is `{"error":{"code","message"}}` with a stable OtlpdbError code; the
 * status comes from the code, except 404 (no such route) and 405 (wrong
 * method), which HTTP defines by the route and not by the error.
 *
 * Ownership and invariants:
 * - the server owns its sockets; stop() closes the listener and every
 *   connection, so after it resolves nothing of the server remains;
 * - no request body is buffered beyond ApiLimits.requestBodyBytesMax
 *   (ControlApiLimits.kvPutBodyBytesMax for PUT /api/v1/kv/{key},
 *   AdminApiLimits.faultsBodyBytesMax for the admin routes,
 *   MetricsQueryLimits.remoteWriteBodyBytesMax for POST /api/v1/write,
 *   LogsQueryLimits.pushBodyBytesMax for Loki push): a larger one is
 *   refused with 413 and the connection closed; only the control, admin,
 *   Prometheus and Loki routes keep a body at all (the query routes of both
 *   for form-encoded POST parameters);
 * - the source is only read by the node routes; the control routes change
 *   the meta group only through source.control, the admin routes the
 *   transport faults only through source.admin.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkTenantId } from '../control/tenant.js';
import { resourceSpansJson } from '../otlp/otlp-json-writer.js';
import { traceByIdResponseProto, traceProto } from '../otlp/otlp-proto-writer.js';
import { createHttpServer } from '../http-server.js';
import { ApiLimits, LogSearchLimits, LogsQueryLimits, MetricsQueryLimits } from '../limits.js';
import { OtlpdbError, assert } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { ApiSource } from './types.js';
import { adminBodyLimit, isAdminPath, serveAdmin } from './admin-routes.js';
import { isClockPath, serveClock } from './clock-routes.js';
import { bodyLimitFor, isControlPath, serveControl } from './control-routes.js';
import { prometheusText } from './prometheus-text.js';
import { SEARCH_PATH, serveSearch } from './search-routes.js';
import { mergeForm, promRoute, servePrometheus } from './prom-routes.js';
import { serveRemoteWrite } from './prom-remote-write.js';
import { serveTags, tagRoute } from './tag-routes.js';
import { lokiRoute, serveLoki, servePush } from './loki-routes.js';
import { LOKI_PUSH_PATH } from './loki-push.js';
import { LOG_SEARCH_PATH, serveLogSearch } from './log-search-routes.js';
import { clusterDocument, readiness } from './views.js';


type Handler = (source: ApiSource) => { status: number; contentType: string; body: string };

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json';
/** PROTOBUF_TYPE is the media type of Tempo's protobuf answers, asked for with `Accept`. */
const PROTOBUF_TYPE = 'application/protobuf';
const PROM_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function json(status: number, value: unknown): { status: number; contentType: string; body: string } {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(value) };
}

/** errorBody is the JSON shape of every API error. */
export function errorBody(code: ErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}): unknown {
  return { error: { code, message, ...(Object.keys(details).length > 0 ? { details } : {}) } };
}

const ROUTES: ReadonlyMap<string, Readonly<Partial<Record<string, Handler>>>> = new Map([
  ['/healthz', { GET: () => ({ status: 200, contentType: TEXT, body: 'ok' }) }],
  [
    '/readyz',
    {
      GET: (s: ApiSource) => {
        const r = readiness(s);
        if (r.ready) return { status: 200, contentType: TEXT, body: 'ok' };
        const err = new OtlpdbError('ERR_UNAVAILABLE', `group ${r.group} is not ready: ${r.reason}`, { group: r.group, reason: r.reason });
        return json(err.httpStatus, errorBody(err.code, err.message, err.details));
      },
    },
  ],
  ['/api/v1/cluster', { GET: (s: ApiSource) => json(200, clusterDocument(s)) }],
  ['/metrics', { GET: (s: ApiSource) => ({ status: 200, contentType: PROM_TYPE, body: prometheusText(s) }) }],
  // Tempo's echo (Grafana's "Save & test"): Go's http.Error(w, "echo", 200), hence the newline.
  ['/api/echo', { GET: () => ({ status: 200, contentType: TEXT, body: 'echo\n' }) }],
]);

type AsyncResponse = { status: number; contentType: string; body: string | Uint8Array };

/**
 * ASYNC_ROUTES are the routes that wait on other nodes. A handler returns
 * the work to run, or undefined when the source cannot serve it (then the
 * synchronous table answers, or 405 with Allow for a path only listed here).
 * A flush that failed on any node answers 503 with every node's outcome.
 */
const ASYNC_ROUTES = new Map<string, Record<string, (s: ApiSource) => (() => Promise<AsyncResponse>) | undefined>>([
  [
    '/api/v1/cluster',
    {
      GET: (s) => {
        const gather = s.clusterGroups;
        return gather === undefined ? undefined : async () => json(200, clusterDocument(s, await gather.call(s)));
      },
    },
  ],
  [
    '/api/v1/stats',
    {
      GET: (s) => {
        const stats = s.clusterStats;
        return stats === undefined ? undefined : async () => json(200, await stats.call(s));
      },
    },
  ],
  [
    '/api/v1/admin/flush',
    {
      POST: (s) => {
        const flush = s.flushCluster;
        if (flush === undefined) return undefined;
        return async () => {
          const doc = await flush.call(s);
          const failed = doc.nodes.filter((n) => n.error !== undefined);
          if (failed.length === 0) return json(200, doc);
          const err = new OtlpdbError('ERR_UNAVAILABLE', `flush failed on node(s) ${failed.map((n) => n.node).join(', ')}`, { nodes: doc.nodes });
          return json(err.httpStatus, errorBody(err.code, err.message, err.details));
        };
      },
    },
  ],
]);

/** TraceRequest is a parsed GET /api/traces/{id} or /api/v2/traces/{id}. */
interface TraceRequest {
  readonly method: string;
  readonly v2: boolean;
  readonly idText: string;
  readonly tenant: string;
  /** protobuf: the client asked for `Accept: application/protobuf`. */
  readonly protobuf: boolean;
}

const TRACE_PATH = /^\/api\/(v2\/)?traces\/([^/]*)$/;
const TRACE_ID_HEX = /^[0-9a-fA-F]{1,32}$/;

/** TRACE_PARTIAL_MESSAGE is the message of a trace answer a bound cut (v2 `message`, with status PARTIAL). */
const TRACE_PARTIAL_MESSAGE = 'the trace was cut at a size limit';

/**
 * wantsProtobuf says whether an Accept header lists application/protobuf
 * (parameters and case ignored). Tempo compares the whole header; a list
 * that names it is taken too.
 */
export function wantsProtobuf(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((range) => (range.split(';')[0] ?? '').trim().toLowerCase() === PROTOBUF_TYPE);
}

/** traceRequest recognises a trace-by-id path (any method: a wrong one gets 405). */
function traceRequest(method: string, path: string, org: string | string[] | undefined, accept: string | undefined): TraceRequest | null {
  const m = TRACE_PATH.exec(path);
  if (m === null) return null;
  const tenant = typeof org === 'string' && org !== '' ? org : 'default';
  let idText: string;
  try {
    idText = decodeURIComponent(m[2] ?? '');
  } catch {
    idText = m[2] ?? ''; // A bad %-escape is not hex either: refused below.
  }
  return { method, v2: m[1] !== undefined, idText, tenant, protobuf: wantsProtobuf(accept) };
}

/**
 * serveTrace answers Tempo's trace by id. v1: `{"batches":[ResourceSpans...]}`
 * in OTLP JSON, or with `Accept: application/protobuf` the bytes of
 * tempopb.Trace. v2: tempopb.TraceByIDResponse, in JSON
 * `{"trace":{"resourceSpans":[...]}}` plus `"status":"PARTIAL","message"`
 * when a bound cut the trace (Tempo's jsonpb writes the enum by name and
 * leaves COMPLETE out), or its protobuf bytes. 404 when the trace is
 * unknown, 400 for an id that is not 1..32 hex digits (shorter ids are
 * left-padded with zeros, as Tempo does) or a bad tenant. Errors stay JSON.
 */
async function serveTrace(s: ApiSource, r: TraceRequest, signal: AbortSignal): Promise<AsyncResponse & { allow?: string }> {
  if (r.method !== 'GET') {
    return { ...json(405, errorBody('ERR_INVALID_ARGUMENT', `method ${r.method} not allowed on trace by id; allowed: GET`)), allow: 'GET' };
  }
  const lookup = s.traceById;
  if (lookup === undefined) return json(404, errorBody('ERR_NOT_FOUND', 'this node serves no traces'));
  if (!TRACE_ID_HEX.test(r.idText)) return json(400, errorBody('ERR_INVALID_ARGUMENT', `trace id ${JSON.stringify(r.idText.slice(0, 64))} is not 1 to 32 hex digits`));
  const tenantProblem = checkTenantId(r.tenant);
  if (tenantProblem !== null) return json(400, errorBody('ERR_INVALID_ARGUMENT', `X-Scope-OrgID: ${tenantProblem}`));
  const id = Buffer.from(r.idText.padStart(32, '0'), 'hex');
  try {
    const t = await lookup.call(s, r.tenant, new Uint8Array(id), signal);
    if (t.spans.length === 0) return json(404, errorBody('ERR_NOT_FOUND', `trace ${r.idText} not found`));
    const partial = t.truncated ? TRACE_PARTIAL_MESSAGE : null;
    if (r.protobuf) {
      return { status: 200, contentType: PROTOBUF_TYPE, body: r.v2 ? traceByIdResponseProto(t.spans, partial) : traceProto(t.spans) };
    }
    if (r.v2) return json(200, { trace: { resourceSpans: resourceSpansJson(t.spans) }, ...(partial !== null ? { status: 'PARTIAL', message: partial } : {}) });
    return json(200, { batches: resourceSpansJson(t.spans) });
  } catch (err) {
    const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', `trace lookup failed: ${String(err)}`);
    return json(e.httpStatus, errorBody(e.code, e.message));
  }
}

/** ApiServerOptions configure ApiServer.start. */
export interface ApiServerOptions {
  readonly host: string;
  /** port to listen on; 0 lets the OS choose (see address()). */
  readonly port: number;
  readonly source: ApiSource;
}

/** ApiServer serves one node's HTTP API. */
export class ApiServer {
  readonly #server: http.Server;
  readonly #source: ApiSource;
  #stopping: Promise<void> | null = null;

  private constructor(server: http.Server, source: ApiSource) {
    this.#server = server;
    this.#source = source;
  }

  /** start listens on host:port; a port in use is ERR_UNAVAILABLE. */
  static async start(opts: ApiServerOptions): Promise<ApiServer> {
    const server = createHttpServer({ requestTimeoutMs: ApiLimits.requestTimeoutMs, headersTimeoutMs: ApiLimits.headersTimeoutMs, connectionsMax: ApiLimits.connectionsMax });
    const api = new ApiServer(server, opts.source);
    server.on('request', (req, res) => api.#serve(req, res));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: opts.host, port: opts.port }, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new OtlpdbError('ERR_UNAVAILABLE', `cannot listen on ${opts.host}:${opts.port}: ${String(err)}`, {
        host: opts.host,
        port: opts.port,
      });
    }
    server.on('error', () => {});
    return api;
  }

  /** address is where the server listens (the OS-chosen port when started with 0). */
  address(): { host: string; port: number } {
    const a = this.#server.address() as AddressInfo | null;
    assert(a !== null && typeof a === 'object', 'a started server has an address');
    return { host: a.address, port: a.port };
  }

  /** stop closes the listener and every connection; idempotent. */
  stop(): Promise<void> {
    if (this.#stopping !== null) return this.#stopping;
    this.#stopping = new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#stopping;
  }

  #serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (status: number, contentType: string, body: string | Uint8Array, close = false, allow?: string): void => {
      if (res.headersSent) return;
      const headers: Record<string, string | number> = { 'content-type': contentType, 'content-length': Buffer.byteLength(body) };
      if (close) headers.connection = 'close';
      if (allow !== undefined) headers.allow = allow;
      // Which node answered: `cluster up` checks it, so a stranger on the port is never taken for its node.
      headers['x-otlpdb-node'] = String(this.#source.nodeId);
      res.writeHead(status, headers);
      res.end(body);
    };
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    const control = isControlPath(path);
    const clock = isClockPath(path);
    const admin = isAdminPath(path) || clock;
    const prom = promRoute(path);
    const lokiPush = path === LOKI_PUSH_PATH;
    const loki = lokiRoute(path);
    const logSearch = path === LOG_SEARCH_PATH;
    // Loki's push and remote write carry a body; the Prometheus and Loki query routes may carry their parameters form-encoded in a POST body.
    const keepBody = control || admin || prom !== null || lokiPush || loki !== null || logSearch;
    const limit =
      prom?.route === 'write' ? MetricsQueryLimits.remoteWriteBodyBytesMax : admin ? adminBodyLimit() : lokiPush ? LogsQueryLimits.pushBodyBytesMax : logSearch ? LogSearchLimits.bodyBytesMax : bodyLimitFor(method, path);
    const tooLarge = (): void => {
      const err = new OtlpdbError('ERR_LIMIT_EXCEEDED', `request body larger than ${limit} bytes`, { limitBytes: limit });
      send(err.httpStatus, JSON_TYPE, JSON.stringify(errorBody(err.code, err.message, err.details)), true);
      // Stop reading the rest of an oversized body; the connection closes after the answer.
      req.unpipe();
      req.pause();
    };
    const declared = Number(req.headers['content-length'] ?? '0');
    if (Number.isFinite(declared) && declared > limit) {
      tooLarge();
      return;
    }
    let bodyBytes = 0;
    let refused = false;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
      if (!refused && bodyBytes > limit) {
        refused = true;
        chunks.length = 0;
        tooLarge();
      }
      // Only the control and admin routes read a body; it is kept only within its limit.
      if (!refused && keepBody) chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      if (control) {
        const owner = req.headers['x-otlpdb-owner'];
        const key = req.headers['idempotency-key'];
        const request = {
          method,
          path,
          query: new URLSearchParams(url.slice(path.length + 1)),
          owner: typeof owner === 'string' && owner !== '' ? owner : (req.socket.remoteAddress ?? 'unknown'),
          body: Buffer.concat(chunks),
          ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
        };
        void serveControl(this.#source.control, request).then((r) => send(r.status, r.contentType, r.body, false, r.allow));
        return;
      }
      if (clock) {
        const r = serveClock(this.#source.clock, { method, path, body: Buffer.concat(chunks) });
        send(r.status, r.contentType, r.body, false, r.allow);
        return;
      }
      if (admin) {
        const r = serveAdmin(this.#source.admin, { method, path, body: Buffer.concat(chunks) });
        send(r.status, r.contentType, r.body, false, r.allow);
        return;
      }
      if (prom !== null) {
        // A Prometheus query, too, stops when its client goes away.
        const abort = new AbortController();
        res.on('close', () => void (res.writableFinished || abort.abort()));
        const body = Buffer.concat(chunks);
        if (prom.route === 'write' && method === 'POST') {
          void serveRemoteWrite(this.#source.prometheus, req.headers, body).then((r) => {
            if (r.retryAfterSeconds !== undefined && !res.headersSent) res.setHeader('retry-after', String(r.retryAfterSeconds));
            send(r.status, TEXT, r.body);
          });
          return;
        }
        const params = mergeForm(new URLSearchParams(url.slice(path.length + 1)), body, req.headers['content-type']);
        const request = { method, params, org: req.headers['x-scope-orgid'], body, headers: req.headers, nowMs: this.#source.clock?.wallMs() ?? Date.now(), signal: abort.signal };
        void servePrometheus(this.#source.prometheus, prom, request).then((r) => send(r.status, r.contentType, r.body, false, r.allow));
        return;
      }
      if (lokiPush) {
        const enc = req.headers['content-encoding'];
        void servePush(this.#source.loki, { method, contentType: req.headers['content-type'], contentEncoding: typeof enc === 'string' ? enc : undefined, org: req.headers['x-scope-orgid'], body: Buffer.concat(chunks) }).then((r) =>
          send(r.status, r.contentType, r.body, false, r.allow),
        );
        return;
      }
      if (loki !== null) {
        // A Loki query stops when its client goes away (DESIGN.md §7 step 5).
        const abort = new AbortController();
        res.on('close', () => void (res.writableFinished || abort.abort()));
        const params = new URLSearchParams(url.slice(path.length + 1));
        const form = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
        if (method === 'POST' && form) for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) params.append(k, v);
        const flags = req.headers['x-loki-response-encoding-flags'];
        const categorize = typeof flags === 'string' && flags.split(',').some((f) => f.trim() === 'categorize-labels');
        void serveLoki(this.#source.loki, loki, { method, params, org: req.headers['x-scope-orgid'], categorize, signal: abort.signal, nowMs: this.#source.clock?.wallMs() ?? Date.now() }).then((r) =>
          send(r.status, r.contentType, r.body, false, r.allow),
        );
        return;
      }
      if (logSearch) {
        // A log search, too, stops when its client goes away.
        const abort = new AbortController();
        res.on('close', () => void (res.writableFinished || abort.abort()));
        const source = this.#source;
        const search = source.searchLogs === undefined ? undefined : source.searchLogs.bind(source);
        void serveLogSearch(search, {
          method,
          params: new URLSearchParams(url.slice(path.length + 1)),
          body: Buffer.concat(chunks),
          org: req.headers['x-scope-orgid'],
          signal: abort.signal,
          nowMs: source.clock?.wallMs() ?? Date.now(),
        }).then((r) => send(r.status, JSON_TYPE, JSON.stringify(r.body), false, r.allow));
        return;
      }
      const tags = tagRoute(path);
      if (tags !== null) {
        const abort = new AbortController();
        res.on('close', () => void (res.writableFinished || abort.abort()));
        void serveTags(this.#source, tags, method, new URLSearchParams(url.slice(path.length + 1)), req.headers['x-scope-orgid'], abort.signal).then((r) => send(r.status, JSON_TYPE, JSON.stringify(r.body), false, r.allow));
        return;
      }
      if (path === SEARCH_PATH) {
        // The search stops when its client goes away (DESIGN.md §7 step 5).
        const abort = new AbortController();
        res.on('close', () => {
          if (!res.writableFinished) abort.abort();
        });
        void serveSearch(this.#source, method, new URLSearchParams(url.slice(path.length + 1)), req.headers['x-scope-orgid'], abort.signal).then((r) =>
          send(r.status, JSON_TYPE, JSON.stringify(r.body), false, r.allow),
        );
        return;
      }
      const trace = traceRequest(method, path, req.headers['x-scope-orgid'], req.headers.accept);
      if (trace !== null) {
        // A lookup, too, stops when its client goes away (no further call or retry starts).
        const abort = new AbortController();
        res.on('close', () => {
          if (!res.writableFinished) abort.abort();
        });
        void serveTrace(this.#source, trace, abort.signal).then((r) => send(r.status, r.contentType, r.body, false, r.allow));
        return;
      }
      const asyncRoute = ASYNC_ROUTES.get(path);
      const run = asyncRoute?.[method]?.(this.#source);
      if (run !== undefined) {
        void run()
          .catch((err: unknown) => {
            const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', `route ${path} failed: ${String(err)}`);
            return json(e.httpStatus, errorBody(e.code, e.message));
          })
          .then((r) => send(r.status, r.contentType, r.body));
        return;
      }
      if (asyncRoute !== undefined && asyncRoute[method] === undefined && !ROUTES.has(path)) {
        const allow = Object.keys(asyncRoute).join(', ');
        const r = json(405, errorBody('ERR_INVALID_ARGUMENT', `method ${method} not allowed on ${path}; allowed: ${allow}`));
        send(r.status, r.contentType, r.body, false, allow);
        return;
      }
      const r = this.#route(method, url);
      send(r.status, r.contentType, r.body, false, r.allow);
    });
    req.on('error', () => res.destroy());
  }

  #route(method: string, url: string): { status: number; contentType: string; body: string; allow?: string } {
    const path = url.split('?')[0] ?? '/';
    const route = ROUTES.get(path);
    if (route === undefined) {
      return json(404, errorBody('ERR_INVALID_ARGUMENT', `no such path: ${path}`));
    }
    const handler = route[method];
    if (handler === undefined) {
      const allow = Object.keys(route).join(', ');
      return { ...json(405, errorBody('ERR_INVALID_ARGUMENT', `method ${method} not allowed on ${path}; allowed: ${allow}`)), allow };
    }
    try {
      return handler(this.#source);
    } catch (err) {
      const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', `route ${path} failed: ${String(err)}`);
      return json(e.httpStatus, errorBody(e.code, e.message));
    }
  }
}
