/**
 * http-client.ts — the one small HTTP/JSON client a node uses to talk to
 * another node's API (joining a cluster). Bounded: a deadline on the whole
 * request and a cap on the response body.
 */
import http from 'node:http';
import { OtlpdbError } from './errors.js';
import { NodeLimits } from './limits.js';
import { formatHostPort } from './node-config.js';
import type { HostPort } from './node-config.js';

/** JsonResponse is a status and a parsed JSON body (null when the body is not JSON). */
export interface JsonResponse {
  readonly status: number;
  readonly json: unknown;
}

/** requestJson sends one request with an optional JSON body and parses the answer; network failures reject. */
export function requestJson(a: HostPort, method: string, path: string, body: string | null, timeoutMs: number): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (body !== null) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const req = http.request({ host: a.host, port: a.port, path, method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes > NodeLimits.httpClientBodyBytesMax) {
          req.destroy(new OtlpdbError('ERR_LIMIT_EXCEEDED', `${method} ${formatHostPort(a)}${path}: response past ${NodeLimits.httpClientBodyBytesMax} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          // Not JSON: the status says enough.
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new OtlpdbError('ERR_TIMEOUT', `${method} ${formatHostPort(a)}${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}
