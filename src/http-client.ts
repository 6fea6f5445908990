/**
 * http-client.ts — the one small HTTP client for talking to a node's API
 * (a node joining a cluster, and the `cluster` CLI commands). Bounded: a
 * deadline on the whole request and a cap on the response body.
 */
import http from 'node:http';
import { OtlpdbError } from './errors.js';
import { NodeLimits } from './limits.js';
import { formatHostPort } from './node-config.js';
import type { HostPort } from './node-config.js';

/** TextResponse is a status, the body as text, and the X-Otlpdb-Node header of the node that answered (when present). */
export interface TextResponse {
  readonly status: number;
  readonly body: string;
  readonly node: string | undefined;
}

/** JsonResponse is a status and a parsed JSON body (null when the body is not JSON). */
export interface JsonResponse {
  readonly status: number;
  readonly json: unknown;
}

/**
 * requestText sends one request with an optional JSON body and extra
 * headers (X-Scope-OrgID, Accept); network failures, the deadline
 * (ERR_TIMEOUT) and a body past `bodyBytesMax` (ERR_LIMIT_EXCEEDED) reject.
 */
export function requestText(
  a: HostPort,
  method: string,
  path: string,
  body: string | null,
  timeoutMs: number,
  bodyBytesMax: number = NodeLimits.httpClientBodyBytesMax,
  extraHeaders: Readonly<Record<string, string>> = {},
): Promise<TextResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...extraHeaders };
    if (body !== null) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const req = http.request({ host: a.host, port: a.port, path, method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes > bodyBytesMax) {
          req.destroy(new OtlpdbError('ERR_LIMIT_EXCEEDED', `${method} ${formatHostPort(a)}${path}: response past ${bodyBytesMax} bytes`));
          return;
        }
        chunks.push(c);
      });
      const node = res.headers['x-otlpdb-node'];
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), node: typeof node === 'string' ? node : undefined }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new OtlpdbError('ERR_TIMEOUT', `${method} ${formatHostPort(a)}${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

/** requestJson is requestText with the body parsed as JSON (null when it is not JSON). */
export async function requestJson(a: HostPort, method: string, path: string, body: string | null, timeoutMs: number): Promise<JsonResponse> {
  const r = await requestText(a, method, path, body, timeoutMs);
  let json: unknown = null;
  try {
    json = JSON.parse(r.body);
  } catch {
    // Not JSON: the status says enough.
  }
  return { status: r.status, json };
}
