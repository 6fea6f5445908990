/**
 * query.ts — `otlpdb query traces '<TraceQL>' [--since 1h] [--limit N]
 * [--json]` (DESIGN.md §8): a TraceQL search through any node (Tempo's
 * GET /api/search?q=..., so a Tempo works as a target too), printed as one
 * line per trace — trace id, start (UTC), duration, root service and name,
 * matched spans — newest first, or the raw answer with --json.
 *
 * Errors are OtlpdbErrors, mapped to exit codes by cli/otlpdb.ts: a bad
 * flag or a query the node refuses (a TraceQL syntax error names its
 * line:column) is ERR_INVALID_ARGUMENT (exit 2); an unreachable target
 * ERR_UNAVAILABLE (exit 1).
 */
import { checkTenantId } from '../../src/control/tenant.js';
import { OtlpdbError } from '../../src/errors.js';
import { QueryCliLimits, TraceSearchLimits } from '../../src/limits.js';
import { parseGoDuration } from '../../src/query/search-params.js';
import { parseIntegerFlag } from '../flags.js';
import { DEFAULT_TARGET, errorOf, getFromTarget, parseTarget } from './trace.js';

/** QueryTracesOptions are the raw flag values of `otlpdb query traces`. */
export interface QueryTracesOptions {
  readonly target?: string;
  readonly tenant?: string;
  readonly since?: string;
  readonly limit?: string;
  readonly json?: boolean;
}

/** QueryIo is where the command writes; injected for tests. */
export interface QueryIo {
  out(line: string): void;
  err(line: string): void;
}

/** SearchTrace is one trace of a Tempo search answer, as far as the table reads it. */
interface SearchTrace {
  readonly traceID?: unknown;
  readonly rootServiceName?: unknown;
  readonly rootTraceName?: unknown;
  readonly startTimeUnixNano?: unknown;
  readonly durationMs?: unknown;
  readonly spanSet?: { readonly matched?: unknown };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** startText is a start time in ns as `YYYY-MM-DD HH:MM:SS.mmm` UTC, or '?' when unreadable. */
function startText(ns: unknown): string {
  if (typeof ns !== 'string' || !/^\d{1,20}$/.test(ns)) return '?';
  const ms = Number(BigInt(ns) / 1_000_000n);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '?' : d.toISOString().replace('T', ' ').replace('Z', '');
}

function durationText(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '<1ms';
  if (ms < 1) return '<1ms';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/** clip cuts a cell to `n` characters (control characters dropped), marking a cut with '…'. */
function clip(s: string, n: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '');
  return clean.length <= n ? clean.padEnd(n) : `${clean.slice(0, n - 1)}…`;
}

/** renderTraceTable renders a search answer's traces as aligned lines (header first), and a summary line. */
export function renderTraceTable(doc: { traces?: readonly SearchTrace[]; stats?: { partial?: unknown; failedShards?: readonly unknown[] } }, limit: number): string[] {
  const traces = doc.traces ?? [];
  const lines = [`${'TRACE ID'.padEnd(32)}  ${'START (UTC)'.padEnd(23)}  ${'DURATION'.padStart(9)}  ${'ROOT SERVICE'.padEnd(20)}  ${'ROOT NAME'.padEnd(32)}  MATCHED`];
  for (const t of traces) {
    const matched = typeof t.spanSet?.matched === 'number' ? String(t.spanSet.matched) : '?';
    lines.push(
      `${clip(str(t.traceID), 32)}  ${startText(t.startTimeUnixNano).padEnd(23)}  ${durationText(t.durationMs).padStart(9)}  ${clip(str(t.rootServiceName), 20)}  ${clip(str(t.rootTraceName), 32)}  ${matched}`,
    );
  }
  const partial = doc.stats?.partial === true ? `; PARTIAL: ${doc.stats.failedShards?.length ?? 0} shard(s) failed or a bound cut the search` : '';
  lines.push(`${traces.length} trace(s)${traces.length >= limit ? ` (the limit, ${limit}; --limit shows more)` : ''}${partial}`);
  return lines;
}

/** runQueryTraces runs a TraceQL search and prints it; see the top of this file. */
export async function runQueryTraces(traceql: string, o: QueryTracesOptions, io: QueryIo, nowMs: number = Date.now()): Promise<number> {
  if (traceql.trim() === '') throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'give a TraceQL query, for example \'{ status = error }\'');
  if (Buffer.byteLength(traceql) > QueryCliLimits.queryBytesMax) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `the query is longer than QueryCliLimits.queryBytesMax (${QueryCliLimits.queryBytesMax} bytes)`);
  }
  const target = parseTarget(o.target ?? DEFAULT_TARGET);
  const limit = o.limit === undefined ? TraceSearchLimits.limitDefault : parseIntegerFlag('--limit', o.limit, 1, TraceSearchLimits.limitMax);
  const sinceNs = parseGoDuration(o.since ?? QueryCliLimits.sinceDefault);
  if (sinceNs === null || sinceNs < 1_000_000_000n) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--since ${JSON.stringify(o.since)} is not a duration of at least 1s, such as 15m or 1h`, { flag: '--since' });
  if (sinceNs > BigInt(TraceSearchLimits.rangeMsMax) * 1_000_000n) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--since exceeds the searchable range (TraceSearchLimits.rangeMsMax, ${TraceSearchLimits.rangeMsMax / 3_600_000} h)`, { flag: '--since' });
  }
  if (o.tenant !== undefined) {
    const problem = checkTenantId(o.tenant);
    if (problem !== null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--tenant: ${problem}`, { flag: '--tenant' });
  }
  const endS = Math.floor(nowMs / 1000);
  const startS = endS - Number(sinceNs / 1_000_000_000n);
  const params = new URLSearchParams({ q: traceql, start: String(startS), end: String(endS), limit: String(limit) });
  const res = await getFromTarget(target, `/api/search?${params.toString()}`, o.tenant);
  const answer = errorOf(res.body);
  if (res.status === 400) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${target.text} refused the query: ${answer.message}`);
  if (res.status === 404) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--target ${target.text} serves no trace search (${answer.message}); give the API address of a node`, { flag: '--target' });
  if (res.status !== 200) throw new OtlpdbError('ERR_UNAVAILABLE', `${target.text} answered ${res.status}: ${answer.message}`, { target: target.text, status: res.status });
  let doc: unknown;
  try {
    doc = JSON.parse(res.body);
  } catch {
    throw new OtlpdbError('ERR_UNAVAILABLE', `${target.text} answered 200 with a body that is not JSON: ${res.body.slice(0, 80)}`, { target: target.text });
  }
  if (o.json === true) {
    io.out(res.body.trimEnd());
    return 0;
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { traces?: unknown }).traces)) {
    throw new OtlpdbError('ERR_UNAVAILABLE', `${target.text} answered 200 without a traces list`, { target: target.text });
  }
  for (const line of renderTraceTable(doc as Parameters<typeof renderTraceTable>[0], limit)) io.out(line);
  return 0;
}
