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
 * not be present; either is legal. It is checkSequences (seq-checker.ts)
 * with traces as the streams and span ids as the items.
 */
import type { Outcome } from '../harness/history.js';
import { checkSequences } from './seq-checker.js';
import type { SeqCheck, SentItems, SeqWords, StreamRead } from './seq-checker.js';

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
export type SetCheck = SeqCheck;

/** SPAN_WORDS name a set anomaly's things: span `trace/span` of trace `trace`. */
const SPAN_WORDS: SeqWords = { item: 'span', stream: 'trace', name: (traceId, spanId) => `${traceId}/${spanId}` };

/** checkSet compares what was sent with what was read back (trace ids are lower-case hex on both sides). */
export function checkSet(sent: readonly SentRequest[], reads: ReadonlyMap<string, TraceRead>): SetCheck {
  const items: SentItems<string>[] = [];
  for (const r of sent) {
    const byTrace = new Map<string, string[]>();
    for (const s of r.spans) {
      let ids = byTrace.get(s.traceId);
      if (ids === undefined) byTrace.set(s.traceId, (ids = []));
      ids.push(s.spanId);
    }
    for (const [traceId, spanIds] of byTrace) items.push({ stream: traceId, seqs: spanIds, outcome: r.outcome, refused: r.refused });
  }
  const streams = new Map<string, StreamRead<string>>();
  for (const [traceId, read] of reads) streams.set(traceId, read.ok ? { ok: true, seqs: read.spanIds } : read);
  return checkSequences(SPAN_WORDS, items, streams);
}
