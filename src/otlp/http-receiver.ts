/**
 * http-receiver.ts — OTLP/HTTP on port 4318 (DESIGN.md §8): `POST /v1/traces`,
 * `/v1/metrics` and `/v1/logs` with `application/x-protobuf` or
 * `application/json` bodies, optionally `Content-Encoding: gzip`, as the
 * OTLP specification's OTLP/HTTP section prescribes.
 *
 * Order of checks, each refusing before any later work is done:
 *   path (404) → method (405, Allow: POST) → content type (415) → content
 *   encoding (415) → tenant (`X-Scope-OrgID`, default `default`; 400) →
 *   declared length (413) → admission: tenant rate (429) and node load (503)
 *   → body read, cut off past IngestSettings.requestBytesMax (413) → the tenant
 *   rate again for a body that declared no length (chunked; 429) → gunzip,
 *   cut off at the same bound (a gzip bomb inflates no further; 413) →
 *   decode (400 when the body is no OTLP request; 415 for a format this
 *   build does not decode) → write → 200.
 * Error answers carry a google.rpc.Status in the request's content type;
 * 429 and 503 carry Retry-After (seconds). Success carries the
 * Export*ServiceResponse, with partial_success when items were refused.
 *
 * Invariants: a request's admission is released exactly once, whatever
 * happens to the connection; nothing is kept of a body past the bound; the
 * bytes of a body being read are always within its admission (a chunked
 * body grows it chunk by chunk, refused with 503 when the node is full).
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { gunzip } from 'node:zlib';
import { checkTenantId } from '../control/tenant.js';
import { OtlpdbError, asOtlpdbError, assert } from '../errors.js';
import { createHttpServer } from '../http-server.js';
import { HttpServerLimits, IngestLimits } from '../limits.js';
import { encodeExportResponseProto, exportResponseJson } from './export-response.js';
import type { Admission, BodyFormat, Ingester, OtlpSignal } from './ingest.js';
import { encodeRpcStatus, rpcStatusJson } from './rpc-status.js';

/** DEFAULT_TENANT is the tenant of a request without X-Scope-OrgID. */
export const DEFAULT_TENANT = 'default';

const PATHS: ReadonlyMap<string, OtlpSignal> = new Map([
  ['/v1/traces', 'traces'],
  ['/v1/metrics', 'metrics'],
  ['/v1/logs', 'logs'],
]);

const CONTENT_TYPES: Readonly<Record<BodyFormat, string>> = { proto: 'application/x-protobuf', json: 'application/json' };

/** OtlpHttpReceiverOptions configure OtlpHttpReceiver.start. */
export interface OtlpHttpReceiverOptions {
  readonly host: string;
  readonly port: number;
  readonly ingester: Ingester;
}

/** OtlpHttpReceiver serves OTLP/HTTP; see the top of this file. */
export class OtlpHttpReceiver {
  readonly #server: http.Server;
  readonly #ingester: Ingester;
  #stopping: Promise<void> | null = null;

  private constructor(server: http.Server, ingester: Ingester) {
    this.#server = server;
    this.#ingester = ingester;
  }

  /** start listens on host:port (ERR_UNAVAILABLE when the address is taken). */
  static async start(o: OtlpHttpReceiverOptions): Promise<OtlpHttpReceiver> {
    const server = createHttpServer({
      requestTimeoutMs: IngestLimits.requestDeadlineMsMax,
      headersTimeoutMs: HttpServerLimits.otlpHeadersTimeoutMs,
      connectionsMax: HttpServerLimits.otlpConnectionsMax,
    });
    const r = new OtlpHttpReceiver(server, o.ingester);
    server.on('request', (req, res) => r.#serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new OtlpdbError('ERR_UNAVAILABLE', `cannot listen for OTLP/HTTP on ${o.host}:${o.port}: ${err.code ?? err.message}`, { host: o.host, port: o.port })),
      );
      server.listen(o.port, o.host, () => resolve());
    });
    server.on('error', () => {});
    return r;
  }

  /** address is where the receiver listens. */
  address(): { host: string; port: number } {
    const a = this.#server.address() as AddressInfo | null;
    assert(a !== null && typeof a === 'object', 'a started receiver has an address');
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
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const format = formatOf(req.headers['content-type']);
    const fail = (err: OtlpdbError, httpStatus = err.httpStatus, headers: Record<string, string> = { connection: 'close' }): void => {
      if (res.headersSent) return;
      const retryAfterMs = retryAfterOf(err);
      const status = { code: err.grpcStatus, message: err.message, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
      const body = format === 'proto' ? Buffer.from(encodeRpcStatus(status)) : Buffer.from(JSON.stringify(rpcStatusJson(status)));
      const h: Record<string, string | number> = { 'content-type': CONTENT_TYPES[format ?? 'json'], 'content-length': body.length, ...headers };
      if (retryAfterMs !== undefined) h['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
      res.writeHead(httpStatus, h);
      res.end(body);
    };
    const signal = PATHS.get(path);
    if (signal === undefined) return drain(req, () => fail(new OtlpdbError('ERR_NOT_FOUND', `no OTLP endpoint at ${path}: use /v1/traces, /v1/metrics or /v1/logs`)));
    if (req.method !== 'POST') return drain(req, () => fail(new OtlpdbError('ERR_INVALID_ARGUMENT', `method ${req.method ?? ''} not allowed on ${path}; allowed: POST`), 405, { allow: 'POST', connection: 'close' }));
    if (format === null) {
      const err = new OtlpdbError('ERR_INVALID_ARGUMENT', `content type ${JSON.stringify(req.headers['content-type'] ?? '')} is not application/x-protobuf or application/json`);
      return drain(req, () => fail(err, 415));
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip') {
      return drain(req, () => fail(new OtlpdbError('ERR_INVALID_ARGUMENT', `content encoding ${JSON.stringify(encoding)} is not gzip or identity`), 415));
    }
    const orgHeader = req.headers['x-scope-orgid'];
    const tenant = typeof orgHeader === 'string' && orgHeader !== '' ? orgHeader : DEFAULT_TENANT;
    const tenantProblem = checkTenantId(tenant);
    if (tenantProblem !== null) return drain(req, () => fail(new OtlpdbError('ERR_INVALID_ARGUMENT', `X-Scope-OrgID: ${tenantProblem}`)));
    const declared = Number(req.headers['content-length'] ?? '0');
    const bytesMax = this.#ingester.settings.requestBytesMax;
    const tooLarge = (): OtlpdbError => new OtlpdbError('ERR_LIMIT_EXCEEDED', `request body larger than requestBytesMax (${bytesMax}) bytes`);
    let admission: Admission;
    try {
      if (Number.isFinite(declared) && declared > bytesMax) throw tooLarge();
      admission = this.#ingester.admit(signal, tenant, Number.isSafeInteger(declared) && declared > 0 ? declared : 0);
    } catch (err) {
      // Refused before reading: answer and close, so the client stops sending.
      fail(asOtlpdbError(err, 'OTLP request failed'));
      req.pause();
      return;
    }
    const release = (): void => this.#ingester.release(admission);
    // Answers from here on keep the connection (the body is read in full or refused with a close).
    res.on('close', release);
    const chunks: Buffer[] = [];
    let got = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      got += chunk.length;
      if (got > bytesMax) {
        refused = true;
        chunks.length = 0;
        fail(tooLarge(), 413, { connection: 'close' });
        req.pause();
        return;
      }
      // A body past what admission reserved (a chunked one declares no length) grows the reservation as it
      // arrives, so the bytes held while reading stay within the node's in-flight bound too.
      if (got > admission.bytes) {
        try {
          this.#ingester.grow(admission, got);
        } catch (err) {
          refused = true;
          chunks.length = 0;
          fail(asOtlpdbError(err, 'OTLP request failed'));
          req.pause();
          return;
        }
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (refused) return;
      void this.#finish(signal, format, tenant, encoding === 'gzip', Buffer.concat(chunks), admission)
        .then((out) => {
          if (res.headersSent) return;
          const body = format === 'proto' ? Buffer.from(encodeExportResponseProto(out.rejected, out.message, signal)) : Buffer.from(JSON.stringify(exportResponseJson(out.rejected, out.message, signal)));
          res.writeHead(200, { 'content-type': CONTENT_TYPES[format], 'content-length': body.length });
          res.end(body);
        })
        .catch((err: unknown) => fail(asOtlpdbError(err, 'OTLP request failed'), undefined, {}))
        .finally(release);
    });
  }

  async #finish(signal: OtlpSignal, format: BodyFormat, tenant: string, gzipped: boolean, wire: Buffer, admission: Admission) {
    this.#ingester.growWire(admission, wire.length);
    const body = gzipped ? await gunzipBounded(wire, this.#ingester.settings.requestBytesMax) : wire;
    this.#ingester.grow(admission, body.length);
    const deadlineMs = performance.now() + this.#ingester.settings.requestDeadlineMs;
    return this.#ingester.ingest({ signal, tenant, format, body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), deadlineMs });
  }
}

/** gunzipBounded inflates at most `bytesMax` bytes: more is ERR_LIMIT_EXCEEDED, a broken stream ERR_INVALID_ARGUMENT. */
export function gunzipBounded(wire: Buffer, bytesMax: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(wire, { maxOutputLength: bytesMax }, (err, out) => {
      if (err === null) return resolve(out);
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
        return reject(new OtlpdbError('ERR_LIMIT_EXCEEDED', `gzip body inflates past requestBytesMax (${bytesMax}) bytes`));
      }
      reject(new OtlpdbError('ERR_INVALID_ARGUMENT', `body is not valid gzip: ${err.message}`));
    });
  });
}

/** formatOf maps a Content-Type header to a body format, or null when it is neither OTLP encoding. */
function formatOf(contentType: string | undefined): BodyFormat | null {
  const media = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (media === 'application/x-protobuf' || media === 'application/protobuf') return 'proto';
  if (media === 'application/json') return 'json';
  return null;
}


/** retryAfterOf is the delay a retryable error suggests (429 and 503 always carry one), or undefined. */
export function retryAfterOf(err: OtlpdbError): number | undefined {
  const hinted = err.details['retryAfterMs'];
  if (typeof hinted === 'number' && Number.isFinite(hinted) && hinted >= 0) return Math.ceil(hinted);
  const status = err.httpStatus;
  return status === 429 || status === 503 ? IngestLimits.retryAfterSecondsDefault * 1000 : undefined;
}

/**
 * drain answers a refused request at once and discards its body: the answer
 * says `Connection: close`, so the socket ends after it and a client cannot
 * keep streaming into a refused request.
 */
function drain(req: http.IncomingMessage, answer: () => void): void {
  answer();
  req.on('error', () => {});
  req.resume();
}
