/**
 * client-http.ts — one HTTP attempt of a workload client, classified the
 * way the checkers need: an answer (status and body), a definite failure
 * (the connection was refused, so the request never reached a node), or an
 * unknown outcome (a timeout or a reset after the request may have been
 * read).
 */
import { requestText } from '../../src/http-client.js';
import { JepsenLimits } from '../../src/limits.js';
import type { HostPort } from '../../src/node-config.js';

/** Attempt is the result of one request. */
export type Attempt =
  | { readonly kind: 'answer'; readonly status: number; readonly body: string }
  | { readonly kind: 'refused'; readonly error: string }
  | { readonly kind: 'unknown'; readonly error: string };

/** attempt sends one request with the suite's client deadline and classifies what happened. */
export async function attempt(a: HostPort, method: string, path: string, body: string | null, headers: Readonly<Record<string, string>> = {}): Promise<Attempt> {
  try {
    const r = await requestText(a, method, path, body, JepsenLimits.opTimeoutMs, JepsenLimits.responseBytesMax, headers);
    return { kind: 'answer', status: r.status, body: r.body };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const error = `${code ?? 'error'}: ${(err as Error).message}`;
    return code === 'ECONNREFUSED' ? { kind: 'refused', error } : { kind: 'unknown', error };
  }
}
