/**
 * set-checker.ts — the pure checker of the set workload. Given what was sent
 * (each request's spans and outcome) and what the trace reads found
 * afterwards, it counts:
 *   lost        an acknowledged span not found;
 *   unexpected  a span found that was never sent, or found although its
 *               request was refused outright (4xx: nothing may be stored);
 *   duplicates  a span found more than once (a retried request stored twice);
 *   unreadable  a trace whose read failed on every node (nothing can be
 *               proven about it, so the workload is not valid).
 * Spans of requests with unknown or retryable-failed outcomes may or may
 * not be present; either is legal.
 */
import { assert } from '../../src/errors.js';
import type { Outcome } from '../harness/history.js';
import { capAnomalies } from '../report/results.js';

/** SentSpan names one span sent by the set workload. */
export interface SentSpan {
  readonly traceId: string;
  readonly spanId: string;
}

/** SentRequest is one set-workload request: its spans and what the client learnt. */
export interface SentRequest {
  readonly spans: readonly SentSpan[];
  readonly outcome: Outcome;
  /** refused is true when the request was refused outright (4xx), so none of its spans may be stored. */
  readonly refused: boolean;
}

/** TraceRead is what the final read of one trace id found: the span ids (with repeats), or a failure. */
export type TraceRead = { readonly ok: true; readonly spanIds: readonly string[] } | { readonly ok: false; readonly error: string };

/** SetCheck is the checker's verdict and counts. */
export interface SetCheck {
  readonly valid: boolean;
  readonly lost: number;
  readonly unexpected: number;
  readonly duplicates: number;
  readonly unreadable: number;
  readonly anomalies: readonly string[];
}

/** checkSet compares what was sent with what was read back (trace ids are lower-case hex on both sides). */
export function checkSet(sent: readonly SentRequest[], reads: ReadonlyMap<string, TraceRead>): SetCheck {
  const expected = new Map<string, Map<string, SentRequest>>();
  for (const r of sent) {
    for (const s of r.spans) {
      let byTrace = expected.get(s.traceId);
      if (byTrace === undefined) expected.set(s.traceId, (byTrace = new Map()));
      assert(!byTrace.has(s.spanId), 'every sent span id is unique within its trace');
      byTrace.set(s.spanId, r);
    }
  }
  const anomalies: string[] = [];
  let lost = 0;
  let unexpected = 0;
  let duplicates = 0;
  let unreadable = 0;
  for (const [traceId, read] of reads) {
    const byTrace = expected.get(traceId);
    if (!read.ok) {
      unreadable++;
      anomalies.push(`trace ${traceId} could not be read after recovery: ${read.error}`);
      continue;
    }
    const seen = new Map<string, number>();
    for (const id of read.spanIds) seen.set(id, (seen.get(id) ?? 0) + 1);
    for (const [spanId, times] of seen) {
      const req = byTrace?.get(spanId);
      if (req === undefined) {
        unexpected++;
        anomalies.push(`span ${traceId}/${spanId} was found but never sent`);
      } else if (req.refused) {
        unexpected++;
        anomalies.push(`span ${traceId}/${spanId} was found although its request was refused`);
      }
      if (times > 1) {
        duplicates++;
        anomalies.push(`span ${traceId}/${spanId} was found ${times} times`);
      }
    }
  }
  for (const r of sent) {
    if (r.outcome !== 'ok') continue;
    for (const s of r.spans) {
      const read = reads.get(s.traceId);
      if (read === undefined) {
        unreadable++;
        anomalies.push(`trace ${s.traceId} of an acknowledged span was never read`);
      } else if (read.ok && !read.spanIds.includes(s.spanId)) {
        lost++;
        anomalies.push(`acknowledged span ${s.traceId}/${s.spanId} was not found`);
      }
    }
  }
  const valid = lost === 0 && unexpected === 0 && duplicates === 0 && unreadable === 0;
  assert(valid === (anomalies.length === 0), 'an invalid set has anomalies to show');
  return { valid, lost, unexpected, duplicates, unreadable, anomalies: capAnomalies(anomalies) };
}
