/**
 * http-server.ts — the one way a node makes an HTTP server (the API and the
 * OTLP/HTTP receiver): every timeout and the connection bound named in
 * limits.ts, and idle keep-alive connections kept HttpServerLimits.keepAliveMsMax.
 */
import http from 'node:http';
import { assert } from './errors.js';
import { HttpServerLimits } from './limits.js';

/** HttpServerBounds are one server's limits. */
export interface HttpServerBounds {
  /** requestTimeoutMs bounds a whole request (headers and body). */
  readonly requestTimeoutMs: number;
  /** headersTimeoutMs bounds the time to the end of the headers. */
  readonly headersTimeoutMs: number;
  /** connectionsMax bounds concurrent connections; past it new ones are closed at once. */
  readonly connectionsMax: number;
}

/** createHttpServer makes a server with `b`'s bounds and HttpServerLimits.keepAliveMsMax for idle keep-alive connections. */
export function createHttpServer(b: HttpServerBounds): http.Server {
  assert(b.headersTimeoutMs > 0 && b.headersTimeoutMs <= b.requestTimeoutMs, 'headers timeout within the request timeout');
  assert(Number.isSafeInteger(b.connectionsMax) && b.connectionsMax >= 1, 'connectionsMax >= 1');
  const server = http.createServer({ requestTimeout: b.requestTimeoutMs, headersTimeout: b.headersTimeoutMs, keepAliveTimeout: HttpServerLimits.keepAliveMsMax });
  server.maxConnections = b.connectionsMax;
  return server;
}
