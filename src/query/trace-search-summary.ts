/**
 * trace-search-summary.ts — a search's answer for one trace from its block's
 * trace summary (storage/traces/trace-summaries.ts) instead of its spans:
 * the shard part (trace-search-shard.ts) asks it first for each candidate it
 * settles and reads the trace (traceById) only when it declines.
 *
 * It answers only where the summary holds everything summarizeTrace would
 * look at, so the answer is the same:
 * - a tag search (no TraceQL) whose span predicate is the time range alone
 *   (Tempo's duration search: minDuration/maxDuration, root.service.name,
 *   root.name, no other tags), and not a full scan (the baseline);
 * - the trace lies wholly in one block and no head (TraceStore.traceSummary
 *   returns null otherwise);
 * - every span of the trace starts inside the search range (then every span
 *   matches, `matched` is the span count);
 * - the summary keeps the spans listed (min(spss, spans)) and their
 *   service.name values are strings or absent.
 * Pure: no I/O.
 */
import type { SpanPredicate } from '../storage/traces/span-index.js';
import type { TraceSummaryEntry } from '../storage/traces/trace-summaries.js';
import type { TraceSearchQuery } from './search-params.js';
import type { MatchedSpan, TraceSummary } from './trace-search-shard.js';
import { ROOT_NOT_RECEIVED } from './trace-search-shard.js';

/** timeOnly says a span predicate sets no condition besides the search's time range. */
function timeOnly(p: SpanPredicate): boolean {
  return (
    p.service === undefined &&
    p.name === undefined &&
    p.kind === undefined &&
    p.status === undefined &&
    (p.attrs === undefined || p.attrs.length === 0) &&
    p.traceId === undefined &&
    p.minDurationNs === undefined &&
    p.maxDurationNs === undefined &&
    p.match === undefined
  );
}

/** summaryAnswers says a search can be answered from block trace summaries at all (before any is read). */
export function summaryAnswers(q: TraceSearchQuery): boolean {
  return q.traceql === undefined && q.fullScan !== true && timeOnly(q.predicate);
}

/**
 * summaryFromEntry is the search's answer for trace `traceId`, which `e` summarises:
 * its TraceSummary, null when it fails a trace-level filter, or undefined
 * when the summary cannot say (read the trace). Call only when
 * summaryAnswers(q).
 */
export function summaryFromEntry(traceId: Uint8Array, e: TraceSummaryEntry, q: TraceSearchQuery): TraceSummary | null | undefined {
  if (e.firstStartNs < q.startNs || e.lastStartNs >= q.endNs) return undefined;
  const listed = Math.min(q.spss, e.spans);
  if (e.kept.length < listed || !e.servicesExact) return undefined;
  const durationNs = e.lastEndNs > e.firstStartNs ? e.lastEndNs - e.firstStartNs : 0n;
  if (q.minTraceDurationNs !== undefined && durationNs < q.minTraceDurationNs) return null;
  if (q.maxTraceDurationNs !== undefined && durationNs > q.maxTraceDurationNs) return null;
  const rootServiceName = e.root === null ? ROOT_NOT_RECEIVED : e.root.service;
  const rootTraceName = e.root === null ? '' : e.root.name;
  if (q.rootService !== undefined && (e.root === null || rootServiceName !== q.rootService)) return null;
  if (q.rootName !== undefined && (e.root === null || rootTraceName !== q.rootName)) return null;
  const spans: MatchedSpan[] = e.kept.slice(0, listed).map((k) => ({
    spanId: k.spanId,
    name: k.name,
    startNs: k.startNs,
    durationNs: k.endNs > k.startNs ? k.endNs - k.startNs : 0n,
    attributes: k.service === undefined ? [] : [{ key: 'service.name', value: { type: 'string', value: k.service } }],
  }));
  return { traceId, rootServiceName, rootTraceName, startNs: e.firstStartNs, durationNs, matched: e.spans, spans };
}
