/**
 * grpc-receiver.ts — OTLP/gRPC on port 4317 (DESIGN.md §8): the Export
 * methods of opentelemetry.proto.collector.{trace,metrics,logs}.v1's
 * TraceService, MetricsService and LogsService, unary, with gzip.
 *
 * grpc-js carries bytes only: the services are declared with identity
 * (de)serializers, and the handler hands the request bytes to the
 * Ingester's protobuf decoder. grpc-js reads a message up to
 * IngestSettings.requestBytesMax and inflates a gzip message only up to the
 * same bound (it stops the inflater there and answers RESOURCE_EXHAUSTED),
 * so admission here happens after the message arrived but before it is
 * decoded.
 *
 * Answers: OK with the Export*ServiceResponse (partial_success when items
 * were refused); INVALID_ARGUMENT for a body that is no request or a bad
 * tenant; RESOURCE_EXHAUSTED over the tenant's rate (with RetryInfo, so the
 * client retries) or for an oversized request (without: it must not);
 * UNAVAILABLE, with RetryInfo, when a shard could not commit in time or the
 * node is overloaded — answered while the client still waits: the write path
 * gets the client's deadline less a reply margin (deadlineOf). RetryInfo
 * travels in the google.rpc.Status of the `grpc-status-details-bin` trailer.
 * The tenant is the `x-scope-orgid` metadata (default `default`).
 *
 * Flow control: every connection and call gets a large HTTP/2 receive window
 * (IngestLimits.grpcConnectionWindowBytes, grpcStreamWindowBytes) instead of
 * HTTP/2's 65,535 bytes. With the default, a client may send 64 KiB over all
 * its calls and then waits for a WINDOW_UPDATE, which the node sends only when
 * its event loop next reads the socket: under load (long apply and flush turns
 * on the main thread) 16 concurrent 141 KB log requests shared 64 KiB per
 * turn, none arrived whole before its deadline, and the whole gRPC phase of
 * bench/ingest ended in DEADLINE_EXCEEDED while the same node answered
 * OTLP/HTTP (whose TCP window the kernel keeps open) at full rate. Requests
 * must reach admission (`Ingester.admit`), where an overloaded node refuses
 * them explicitly, rather than be throttled invisibly by the transport.
 */
import * as grpc from '@grpc/grpc-js';
import type * as http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { checkTenantId } from '../control/tenant.js';
import { OtlpdbError, asOtlpdbError, assert } from '../errors.js';
import { IngestLimits } from '../limits.js';
import { encodeExportResponseProto } from './export-response.js';
import { DEFAULT_TENANT, retryAfterOf } from './http-receiver.js';
import type { Ingester, OtlpSignal } from './ingest.js';
import { encodeRpcStatus } from './rpc-status.js';

/** OTLP_GRPC_SERVICES are the three OTLP collector services and their Export method paths. */
export const OTLP_GRPC_SERVICES: readonly { readonly signal: OtlpSignal; readonly path: string }[] = [
  { signal: 'traces', path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export' },
  { signal: 'metrics', path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export' },
  { signal: 'logs', path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export' },
];

const identity = (b: Buffer): Buffer => b;

/** OtlpGrpcReceiverOptions configure OtlpGrpcReceiver.start. */
export interface OtlpGrpcReceiverOptions {
  readonly host: string;
  readonly port: number;
  readonly ingester: Ingester;
}

/** OtlpGrpcReceiver serves OTLP/gRPC; see the top of this file. */
export class OtlpGrpcReceiver {
  readonly #server: grpc.Server;
  readonly #port: number;
  readonly #host: string;
  #stopping: Promise<void> | null = null;

  private constructor(server: grpc.Server, host: string, port: number) {
    this.#server = server;
    this.#host = host;
    this.#port = port;
  }

  /** start binds host:port without TLS (ERR_UNAVAILABLE when the address is taken). */
  static async start(o: OtlpGrpcReceiverOptions): Promise<OtlpGrpcReceiver> {
    const server = new grpc.Server(grpcServerOptions(o.ingester.settings.requestBytesMax));
    widenReceiveWindows(server, IngestLimits.grpcStreamWindowBytes, IngestLimits.grpcConnectionWindowBytes);
    for (const svc of OTLP_GRPC_SERVICES) {
      const definition: grpc.ServiceDefinition = {
        Export: {
          path: svc.path,
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      };
      server.addService(definition, { Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => void exportCall(o.ingester, svc.signal, call, cb) });
    }
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${o.host}:${o.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err !== null) reject(new OtlpdbError('ERR_UNAVAILABLE', `cannot listen for OTLP/gRPC on ${o.host}:${o.port}: ${err.message}`, { host: o.host, port: o.port }));
        else resolve(bound);
      });
    });
    return new OtlpGrpcReceiver(server, o.host, port);
  }

  /** address is where the receiver listens. */
  address(): { host: string; port: number } {
    return { host: this.#host, port: this.#port };
  }

  /** stop ends every call and closes the listener; idempotent. */
  stop(): Promise<void> {
    if (this.#stopping !== null) return this.#stopping;
    this.#stopping = new Promise<void>((resolve) => {
      this.#server.forceShutdown();
      resolve();
    });
    return this.#stopping;
  }
}

/**
 * grpcServerOptions are the grpc-js server options of the receiver (also
 * bench/ingest-grpc-cost.ts's, so it measures the receiver's transport):
 * messages up to `requestBytesMax` (gzip inflated up to the same bound) and
 * the streams a connection may open. NB: grpc-js's channelz call tracking
 * stays on (its default): turning it off (`grpc.enable_channelz: 0`) made no
 * difference to the CPU per request there (0.567 against 0.572 ms, s18).
 */
export function grpcServerOptions(requestBytesMax: number): grpc.ServerOptions {
  assert(Number.isSafeInteger(requestBytesMax) && requestBytesMax >= 1, 'grpcServerOptions: requestBytesMax is a positive byte count');
  return {
    'grpc.max_receive_message_length': requestBytesMax,
    'grpc.max_send_message_length': 1024 * 1024,
    'grpc.max_concurrent_streams': IngestLimits.grpcConcurrentStreamsMax,
  };
}

/** GrpcServerInternals are the two members of grpc-js 1.14's Server that widenReceiveWindows needs (private in its typings). */
interface GrpcServerInternals {
  commonServerOptions?: http2.ServerOptions;
  createHttp2Server?: (credentials: grpc.ServerCredentials) => http2.Http2Server;
}

/**
 * widenReceiveWindows makes every HTTP/2 connection `server` accepts grant
 * `streamBytes` per call and `connectionBytes` per connection (see the top of
 * this file). Call it before binding.
 *
 * NB: grpc-js 1.14.7 (the latest) reads no option for its server's windows
 * (grpc-node PR #3058, `grpc-node.flow_control_window` on the server, is
 * open), so this sets the SETTINGS of the http2 server grpc-js creates and
 * raises each session's connection window, through two members its typings
 * mark private. The asserts fail loudly if an upgrade renames them, and
 * grpc-receiver.test.ts checks the windows a client is granted.
 */
export function widenReceiveWindows(server: grpc.Server, streamBytes: number, connectionBytes: number): void {
  assert(Number.isSafeInteger(streamBytes) && streamBytes >= 65_535 && streamBytes <= connectionBytes, 'widenReceiveWindows: stream window within [65535, connection window]');
  assert(connectionBytes <= 2 ** 31 - 1, 'widenReceiveWindows: a window fits 31 bits');
  const internals = server as unknown as GrpcServerInternals;
  const options = internals.commonServerOptions;
  const create = internals.createHttp2Server;
  assert(typeof options === 'object' && options !== null, 'grpc-js Server has commonServerOptions (the http2 server options)');
  assert(typeof create === 'function', 'grpc-js Server has createHttp2Server');
  options.settings = { ...options.settings, initialWindowSize: streamBytes };
  internals.createHttp2Server = (credentials) => {
    const h2 = create.call(server, credentials);
    h2.on('session', (session: http2.ServerHttp2Session) => {
      // Sends the WINDOW_UPDATE for the connection right after the server's SETTINGS, before any DATA is due.
      // A session already gone would throw here, in an event handler: it needs no window.
      if (!session.destroyed) session.setLocalWindowSize(connectionBytes);
    });
    return h2;
  };
}

/** exportCall serves one Export call. */
async function exportCall(ingester: Ingester, signal: OtlpSignal, call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): Promise<void> {
  const org = call.metadata.get('x-scope-orgid')[0];
  const tenant = typeof org === 'string' && org !== '' ? org : DEFAULT_TENANT;
  const problem = checkTenantId(tenant);
  if (problem !== null) return cb(grpcError(new OtlpdbError('ERR_INVALID_ARGUMENT', `x-scope-orgid: ${problem}`)));
  const body = call.request;
  let admission;
  try {
    admission = ingester.admit(signal, tenant, body.length);
  } catch (err) {
    return cb(grpcError(asOtlpdbError(err, 'OTLP request failed')));
  }
  try {
    const out = await ingester.ingest({ signal, tenant, format: 'proto', body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), deadlineMs: deadlineOf(call, ingester.settings.requestDeadlineMs) });
    cb(null, Buffer.from(encodeExportResponseProto(out.rejected, out.message, signal)));
  } catch (err) {
    cb(grpcError(asOtlpdbError(err, 'OTLP request failed')));
  } finally {
    ingester.release(admission);
  }
}

/**
 * deadlineOf is the write path's deadline for a call on the performance.now()
 * clock: the client's, capped, else the node's default — less the reply margin
 * (IngestLimits.replyMarginPercent, at most replyMarginMsMax) for a client
 * deadline, so the UNAVAILABLE answer of a part that could not commit
 * reaches the client before it gives up.
 */
export function deadlineOf(call: Pick<grpc.ServerUnaryCall<Buffer, Buffer>, 'getDeadline'>, defaultMs: number, nowMs = performance.now(), wallMs = Date.now()): number {
  const d = call.getDeadline();
  const wall = d instanceof Date ? d.getTime() : d;
  if (!Number.isFinite(wall)) return nowMs + defaultMs;
  const leftMs = Math.max(0, Math.min(wall - wallMs, IngestLimits.requestDeadlineMsMax));
  const marginMs = Math.min(IngestLimits.replyMarginMsMax, Math.floor((leftMs * IngestLimits.replyMarginPercent) / 100));
  assert(marginMs >= 0 && marginMs <= leftMs, 'the reply margin fits the time left');
  return nowMs + leftMs - marginMs;
}

/** grpcError is the status a failed call ends with: the code's gRPC status, and RetryInfo when the client should retry. */
export function grpcError(err: OtlpdbError): Partial<grpc.StatusObject> {
  const retryAfterMs = err.code === 'ERR_LIMIT_EXCEEDED' ? undefined : retryAfterOf(err);
  const metadata = new grpc.Metadata();
  const status = { code: err.grpcStatus, message: err.message, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  metadata.set('grpc-status-details-bin', Buffer.from(encodeRpcStatus(status)));
  return { code: err.grpcStatus, details: err.message, metadata };
}
