/**
 * send-retried.ts — how the OTLP workloads (set, logs, counter) send one
 * request: first to one node, then, on no answer, a 429 or a 5xx, byte for
 * byte to the next nodes (so a node's idempotency key dedupes a retry of a
 * request that did commit), up to an attempt bound; and what the client
 * then knows:
 *   ok       a 200 whose partial success rejected nothing;
 *   fail     every attempt was refused outright (connection refused, or a
 *            4xx other than 408/429, which stores nothing);
 *   unknown  anything else (a timeout, a 5xx after a send that may have
 *            committed, a 200 that rejected some items).
 */
import { assert } from '../../src/errors.js';
import type { Outcome } from '../harness/history.js';
import { attempt } from './client-http.js';
import type { WorkloadContext } from './types.js';

/** AttemptStatus is one attempt's result: an HTTP status, a refused connection, or no answer. */
export type AttemptStatus = number | 'refused' | 'unknown';

/** RetriedSend is what one retried request came to. */
export interface RetriedSend {
  readonly outcome: Outcome;
  /** refused is true when the request was refused outright by a node (a 4xx), so nothing of it may be stored. */
  readonly refused: boolean;
  readonly attempts: number;
  /** node is the node the last attempt went to. */
  readonly node: number;
  /** error is the last failure seen, when the outcome is not ok. */
  readonly error?: string;
}

/** outcomeOf decides an operation's outcome from its attempts' statuses (see the file comment). */
export function outcomeOf(statuses: readonly AttemptStatus[]): { outcome: Outcome; refused: boolean } {
  const last = statuses[statuses.length - 1];
  assert(last !== undefined, 'a request was sent at least once');
  if (last === 200) return { outcome: 'ok', refused: false };
  const definite = (s: AttemptStatus): boolean => s === 'refused' || (typeof s === 'number' && s >= 400 && s < 500 && s !== 429 && s !== 408);
  if (statuses.every(definite)) return { outcome: 'fail', refused: statuses.some((s) => typeof s === 'number') };
  return { outcome: 'unknown', refused: false };
}

function retryable(s: AttemptStatus): boolean {
  return s === 'refused' || s === 'unknown' || s === 429 || s === 408 || (typeof s === 'number' && s >= 500);
}

/**
 * rejectedItems reads an OTLP export answer's partial success: how many
 * items (spans, data points or log records) the node rejected.
 */
export function rejectedItems(body: string): number {
  const doc = JSON.parse(body === '' ? '{}' : body) as {
    partialSuccess?: { rejectedSpans?: string | number; rejectedDataPoints?: string | number; rejectedLogRecords?: string | number };
  };
  const p = doc.partialSuccess;
  return Number(p?.rejectedSpans ?? 0) + Number(p?.rejectedDataPoints ?? 0) + Number(p?.rejectedLogRecords ?? 0);
}

/**
 * sendRetried POSTs `body` (OTLP/JSON) to `path` of the nodes' OTLP HTTP
 * receivers, starting at `firstNode`, at most `attemptsMax` times.
 */
export async function sendRetried(ctx: WorkloadContext, firstNode: number, path: string, body: string, attemptsMax: number): Promise<RetriedSend> {
  assert(attemptsMax >= 1, 'a request is sent at least once');
  const statuses: AttemptStatus[] = [];
  let node = firstNode;
  let error: string | undefined;
  for (let i = 0; i < attemptsMax; i++) {
    if (i > 0) node = (node % ctx.cluster.nodes.length) + 1;
    const a = await attempt(ctx.cluster.node(node).otlpHttp, 'POST', path, body);
    let s: AttemptStatus = a.kind === 'answer' ? a.status : a.kind;
    if (a.kind === 'answer' && a.status === 200 && rejectedItems(a.body) > 0) s = 'unknown';
    statuses.push(s);
    error = a.kind === 'answer' ? (a.status === 200 ? (s === 200 ? undefined : `partial success: ${a.body.slice(0, 200)}`) : `HTTP ${a.status}: ${a.body.slice(0, 200)}`) : a.error;
    if (s === 200 || !retryable(s)) break;
  }
  const { outcome, refused } = outcomeOf(statuses);
  return { outcome, refused, attempts: statuses.length, node, ...(outcome === 'ok' || error === undefined ? {} : { error }) };
}
