/**
 * receiver-test-util.ts — test support for the OTLP receiver tests
 * (receivers.test.ts, fuzz.test.ts): a raw-bytes gRPC client for the three
 * Export methods, a raw HTTP POST that reports a reset instead of throwing,
 * and small protobuf readers for the answers (google.rpc.Status with its
 * RetryInfo, Export*ServiceResponse.partial_success). Not a test file: the
 * tests import it; nothing in src imports it.
 */
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import type { HostPort } from '../node-config.js';
import type { OtlpSignal } from './decode-result.js';
import { OTLP_GRPC_SERVICES } from './grpc-receiver.js';
import { RETRY_INFO_TYPE_URL } from './rpc-status.js';

/** HTTP_PATHS are the OTLP/HTTP paths by signal. */
export const HTTP_PATHS: Readonly<Record<OtlpSignal, string>> = { traces: '/v1/traces', metrics: '/v1/metrics', logs: '/v1/logs' };

/** GRPC_PATHS are the OTLP/gRPC Export method paths by signal. */
export const GRPC_PATHS: Readonly<Record<OtlpSignal, string>> = Object.fromEntries(OTLP_GRPC_SERVICES.map((s) => [s.signal, s.path])) as Record<OtlpSignal, string>;

/** RawHttpAnswer is a whole HTTP answer, or `error` when the exchange failed before one arrived (reset, timeout). */
export interface RawHttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly error?: string;
}

/** postRaw sends one request with exactly `headers` and `body` (no Content-Length added when `chunked`), and never rejects. */
export function postRaw(a: HostPort, path: string, body: Buffer, headers: Record<string, string>, o: { readonly method?: string; readonly chunked?: boolean; readonly timeoutMs?: number } = {}): Promise<RawHttpAnswer> {
  return new Promise((resolve) => {
    let done = false;
    const settle = (r: RawHttpAnswer): void => {
      if (done) return;
      done = true;
      resolve(r);
    };
    const h: Record<string, string | number> = { ...headers };
    if (o.chunked === true) h['transfer-encoding'] = 'chunked';
    else if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-length')) h['content-length'] = body.length;
    const req = http.request({ host: a.host, port: a.port, path, method: o.method ?? 'POST', headers: h, agent: false, timeout: o.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => settle({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err) => settle({ status: 0, headers: {}, body: Buffer.alloc(0), error: `response: ${err.message}` }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', (err) => settle({ status: 0, headers: {}, body: Buffer.alloc(0), error: `request: ${err.message}` }));
    req.end(body);
  });
}

/** GrpcAnswer is the end of one unary call: its status code, details, the response bytes (OK only) and the grpc-status-details-bin trailer. */
export interface GrpcAnswer {
  readonly code: number;
  readonly details: string;
  readonly response: Buffer | null;
  readonly statusDetails: Buffer | null;
}

const identity = (b: Buffer): Buffer => b;

/** RawGrpcClient calls the OTLP Export methods with raw request bytes. */
export class RawGrpcClient {
  readonly #client: grpc.Client;

  constructor(a: HostPort, options: grpc.ClientOptions = {}) {
    this.#client = new grpc.Client(`${a.host}:${a.port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024, ...options });
  }

  /** exportRaw sends `body` to `signal`'s Export method; it never rejects (a transport failure is an UNAVAILABLE answer). */
  exportRaw(signal: OtlpSignal, body: Buffer, o: { readonly tenant?: string; readonly deadlineMs?: number } = {}): Promise<GrpcAnswer> {
    const md = new grpc.Metadata();
    if (o.tenant !== undefined) md.set('x-scope-orgid', o.tenant);
    return new Promise((resolve) => {
      this.#client.makeUnaryRequest(GRPC_PATHS[signal], identity, identity, body, md, { deadline: Date.now() + (o.deadlineMs ?? 30_000) }, (err, res) => {
        if (err === null || err === undefined) return resolve({ code: grpc.status.OK, details: '', response: res ?? Buffer.alloc(0), statusDetails: null });
        const bin = err.metadata?.get('grpc-status-details-bin')[0];
        resolve({ code: err.code, details: err.details, response: null, statusDetails: Buffer.isBuffer(bin) ? bin : null });
      });
    });
  }

  close(): void {
    this.#client.close();
  }
}

/** ProtoField is one field of a message: number, wire type and its varint value or bytes. */
interface ProtoField {
  readonly no: number;
  readonly wt: number;
  readonly n: bigint;
  readonly b: Buffer;
}

/** protoFields splits a message into its top-level fields (varint and length-delimited only; anything else throws). */
export function protoFields(buf: Buffer): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const byte = buf[pos++] as number;
      v |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return v;
    }
    throw new Error('varint too long');
  };
  while (pos < buf.length) {
    const tag = Number(varint());
    const no = tag >>> 3;
    const wt = tag & 7;
    if (wt === 0) out.push({ no, wt, n: varint(), b: Buffer.alloc(0) });
    else if (wt === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new Error('length past the end');
      out.push({ no, wt, n: 0n, b: buf.subarray(pos, pos + len) });
      pos += len;
    } else throw new Error(`unexpected wire type ${wt}`);
  }
  return out;
}

/** DecodedStatus is a google.rpc.Status as the tests read it: code, message, and the RetryInfo delay when one is attached. */
export interface DecodedStatus {
  readonly code: number;
  readonly message: string;
  readonly retryDelayMs: number | null;
}

/** decodeRpcStatus reads google.rpc.Status { code = 1; message = 2; details = 3 (Any { type_url = 1; value = 2 }) } and a RetryInfo { retry_delay = 1 (Duration { seconds = 1; nanos = 2 }) } among the details. */
export function decodeRpcStatus(buf: Buffer): DecodedStatus {
  let code = 0;
  let message = '';
  let retryDelayMs: number | null = null;
  for (const f of protoFields(buf)) {
    if (f.no === 1 && f.wt === 0) code = Number(f.n);
    else if (f.no === 2 && f.wt === 2) message = f.b.toString('utf8');
    else if (f.no === 3 && f.wt === 2) {
      const any = protoFields(f.b);
      const typeUrl = any.find((x) => x.no === 1)?.b.toString('utf8');
      const value = any.find((x) => x.no === 2)?.b ?? Buffer.alloc(0);
      if (typeUrl !== RETRY_INFO_TYPE_URL) continue;
      const duration = protoFields(value).find((x) => x.no === 1)?.b ?? Buffer.alloc(0);
      let ms = 0;
      for (const d of protoFields(duration)) {
        if (d.no === 1) ms += Number(d.n) * 1000;
        if (d.no === 2) ms += Number(d.n) / 1e6;
      }
      retryDelayMs = ms;
    }
  }
  return { code, message, retryDelayMs };
}

/** PartialSuccess is Export*ServiceResponse.partial_success: the rejected item count (field 1) and error_message (field 2); zeros when absent. */
export interface PartialSuccess {
  readonly rejected: number;
  readonly message: string;
}

/** decodeExportResponse reads the partial_success (field 1) of an Export*ServiceResponse. */
export function decodeExportResponse(buf: Buffer): PartialSuccess {
  const ps = protoFields(buf).find((f) => f.no === 1 && f.wt === 2);
  if (ps === undefined) return { rejected: 0, message: '' };
  let rejected = 0;
  let message = '';
  for (const f of protoFields(ps.b)) {
    if (f.no === 1 && f.wt === 0) rejected = Number(f.n);
    if (f.no === 2 && f.wt === 2) message = f.b.toString('utf8');
  }
  return { rejected, message };
}

/** rssBytes is the process's resident set size now. */
export function rssBytes(): number {
  return process.memoryUsage().rss;
}
