/**
 * query-logs.ts — `otlpdb query logs '<LogQL>' [--since 1h] [--limit N]
 * [--json] [--server URL]` (DESIGN.md §8): a LogQL query through any node
 * (Loki's GET /loki/api/v1/query_range, so a Loki works as a server too).
 * Log queries print one line per entry, newest first: time (UTC), stream
 * labels, the line, with the query's `|=` literals and `|~` patterns
 * highlighted on a terminal (plain when piped or NO_COLOR is set); metric
 * queries print each series' labels and its values. --json prints Loki's
 * answer as it came.
 *
 * Errors are OtlpdbErrors, mapped to exit codes by cli/otlpdb.ts: a bad
 * flag or a query the node refuses (its message names the position) is
 * ERR_INVALID_ARGUMENT (exit 2); an unreachable server or one without a
 * LogQL engine ERR_UNAVAILABLE (exit 1).
 */
import { checkTenantId } from '../../src/control/tenant.js';
import { OtlpdbError } from '../../src/errors.js';
import { LogsQueryLimits, QueryCliLimits } from '../../src/limits.js';
import { parseGoDuration } from '../../src/query/search-params.js';
import { backtrackShape, backtrackingCharsMax } from '../../src/re2-guard.js';
import { translateRe2 } from '../../src/re2.js';
import { parseIntegerFlag } from '../flags.js';
import { DEFAULT_TARGET, getFromTarget, parseTarget } from './trace.js';

/** QueryLogsOptions are the raw flag values of `otlpdb query logs`. */
export interface QueryLogsOptions {
  readonly server?: string;
  readonly target?: string;
  readonly tenant?: string;
  readonly since?: string;
  readonly limit?: string;
  readonly json?: boolean;
  /** search is a native JSON log search (query-logs-search.ts) instead of LogQL. */
  readonly search?: string;
}

/** QueryLogsIo is where the command writes and whether it may colour; injected for tests. */
export interface QueryLogsIo {
  out(line: string): void;
  err(line: string): void;
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const HIGHLIGHT_ON = '\u001b[1;31m';
const HIGHLIGHT_OFF = '\u001b[0m';

/**
 * HighlightPattern is one thing to highlight: a global RegExp, and the
 * longest line it may run on (V8 backtracks; src/re2-guard.ts bounds how far:
 * a longer line is printed without this pattern's marks).
 */
export interface HighlightPattern {
  readonly re: RegExp;
  readonly lineCharsMax: number;
}

/**
 * highlightPatterns are what a query's line filters look for: each `|=`
 * literal (case-sensitive) and each `|~` regex, in RE2's meaning (src/re2.ts
 * translates it; one RE2 refuses is not highlighted). Negative filters are
 * not highlighted.
 */
export function highlightPatterns(logql: string): HighlightPattern[] {
  const out: HighlightPattern[] = [];
  const re = /\|([=~])\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)/g;
  for (const m of logql.matchAll(re)) {
    let text: string;
    try {
      text = m[2] !== undefined ? (JSON.parse(`"${m[2]}"`) as string) : (m[3] as string);
    } catch {
      continue;
    }
    if (text === '') continue;
    if (m[1] === '=') {
      out.push({ re: new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu'), lineCharsMax: Number.MAX_SAFE_INTEGER });
      continue;
    }
    const tr = translateRe2(text);
    if ('code' in tr) continue;
    try {
      out.push({ re: new RegExp(tr.source, `${tr.flags}g`), lineCharsMax: backtrackingCharsMax(backtrackShape(tr.source)) });
    } catch {
      // a pattern JavaScript cannot compile is just not highlighted
    }
  }
  return out;
}

/** highlight wraps every match of `patterns` in `line` (overlaps merged) in the terminal's bold red. */
export function highlight(line: string, patterns: readonly HighlightPattern[]): string {
  const marks: [number, number][] = [];
  for (const p of patterns) {
    if (line.length > p.lineCharsMax) continue;
    p.re.lastIndex = 0;
    for (const m of line.matchAll(p.re)) if (m[0] !== '' && m.index !== undefined) marks.push([m.index, m.index + m[0].length]);
  }
  if (marks.length === 0) return line;
  marks.sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  let open: [number, number] | null = null;
  const flush = (): void => {
    if (open === null) return;
    out += `${line.slice(at, open[0])}${HIGHLIGHT_ON}${line.slice(open[0], open[1])}${HIGHLIGHT_OFF}`;
    at = open[1];
  };
  for (const m of marks) {
    if (open !== null && m[0] <= open[1]) open = [open[0], Math.max(open[1], m[1])];
    else {
      flush();
      open = [Math.max(m[0], at), m[1]];
    }
  }
  flush();
  return out + line.slice(at);
}

/** clean drops control characters from text a server sent (a line cannot move the terminal's cursor). */
function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '').replace(/\n/g, '⏎');
}

function timeText(ns: string): string {
  if (!/^\d{1,20}$/.test(ns)) return '?'.padEnd(23);
  const d = new Date(Number(BigInt(ns) / 1_000_000n));
  return Number.isNaN(d.getTime()) ? '?'.padEnd(23) : d.toISOString().replace('T', ' ').replace('Z', '');
}

function labelsText(o: unknown): string {
  if (typeof o !== 'object' || o === null) return '{}';
  return `{${Object.entries(o as Record<string, unknown>).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`).join(', ')}}`;
}

/** LokiDoc is the part of a Loki query answer the renderer reads. */
interface LokiDoc {
  readonly data?: { readonly resultType?: unknown; readonly result?: unknown };
  readonly warnings?: unknown;
}

/** renderLokiAnswer renders a query_range answer as lines (see the top of this file). */
export function renderLokiAnswer(doc: LokiDoc, patterns: readonly HighlightPattern[], color: boolean, limit: number): string[] {
  const type = doc.data?.resultType;
  const result = Array.isArray(doc.data?.result) ? (doc.data?.result as unknown[]) : [];
  const lines: string[] = [];
  if (type === 'streams') {
    const entries: { ts: string; labels: string; line: string }[] = [];
    for (const s of result as { stream?: unknown; values?: unknown }[]) {
      const labels = clean(labelsText(s.stream));
      for (const v of Array.isArray(s.values) ? (s.values as unknown[][]) : []) entries.push({ ts: String(v[0]), labels, line: clean(String(v[1])) });
    }
    entries.sort((a, b) => (BigInt(/^\d+$/.test(b.ts) ? b.ts : '0') > BigInt(/^\d+$/.test(a.ts) ? a.ts : '0') ? 1 : -1));
    for (const e of entries) lines.push(`${timeText(e.ts)}  ${e.labels}  ${color ? highlight(e.line, patterns) : e.line}`);
    lines.push(`${entries.length} line(s)${entries.length >= limit ? ` (the limit, ${limit}; --limit shows more)` : ''}`);
  } else if (type === 'matrix' || type === 'vector') {
    for (const s of result as { metric?: unknown; values?: unknown; value?: unknown }[]) {
      lines.push(clean(labelsText(s.metric)));
      const values = type === 'matrix' ? (Array.isArray(s.values) ? (s.values as unknown[][]) : []) : [Array.isArray(s.value) ? (s.value as unknown[]) : []];
      for (const v of values) lines.push(`  ${new Date(Number(v[0]) * 1000).toISOString().replace('T', ' ').replace('Z', '')}  ${clean(String(v[1]))}`);
    }
    lines.push(`${result.length} series`);
  } else if (type === 'scalar') {
    lines.push(clean(String(result[1])));
  } else {
    throw new OtlpdbError('ERR_UNAVAILABLE', `the server answered an unknown result type ${JSON.stringify(type)}`);
  }
  if (Array.isArray(doc.warnings)) for (const w of doc.warnings) lines.push(`warning: ${clean(String(w))}`);
  return lines;
}

/** runQueryLogs runs a LogQL query and prints it; see the top of this file. */
export async function runQueryLogs(logql: string, o: QueryLogsOptions, io: QueryLogsIo, nowMs: number = Date.now()): Promise<number> {
  if (logql.trim() === '') throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'give a LogQL query, for example \'{service_name="cart"} |= "error"\'');
  if (Buffer.byteLength(logql) > LogsQueryLimits.queryBytesMax) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `the query is longer than LogsQueryLimits.queryBytesMax (${LogsQueryLimits.queryBytesMax} bytes)`);
  const server = parseTarget(o.server ?? o.target ?? DEFAULT_TARGET);
  const limit = o.limit === undefined ? LogsQueryLimits.limitDefault : parseIntegerFlag('--limit', o.limit, 1, LogsQueryLimits.limitMax);
  const sinceNs = parseGoDuration(o.since ?? QueryCliLimits.sinceDefault);
  if (sinceNs === null || sinceNs < 1_000_000_000n) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--since ${JSON.stringify(o.since)} is not a duration of at least 1s, such as 15m or 1h`, { flag: '--since' });
  if (sinceNs > BigInt(LogsQueryLimits.rangeMsMax) * 1_000_000n) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--since exceeds LogsQueryLimits.rangeMsMax (${LogsQueryLimits.rangeMsMax / 3_600_000} h)`, { flag: '--since' });
  if (o.tenant !== undefined) {
    const problem = checkTenantId(o.tenant);
    if (problem !== null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--tenant: ${problem}`, { flag: '--tenant' });
  }
  const endNs = BigInt(Math.floor(nowMs)) * 1_000_000n;
  const params = new URLSearchParams({ query: logql, start: String(endNs - sinceNs), end: String(endNs), limit: String(limit), direction: 'backward' });
  const res = await getFromTarget(server, `/loki/api/v1/query_range?${params.toString()}`, o.tenant);
  const message = res.body.trim().slice(0, 500);
  if (res.status === 400) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${server.text} refused the query: ${message}`);
  if (res.status === 404) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--server ${server.text} serves no Loki API (${message}); give the API address of a node`, { flag: '--server' });
  if (res.status !== 200) throw new OtlpdbError('ERR_UNAVAILABLE', `${server.text} answered ${res.status}: ${message}`, { target: server.text, status: res.status });
  let doc: LokiDoc;
  try {
    doc = JSON.parse(res.body) as LokiDoc;
  } catch {
    throw new OtlpdbError('ERR_UNAVAILABLE', `${server.text} answered 200 with a body that is not JSON: ${res.body.slice(0, 80)}`, { target: server.text });
  }
  if (o.json === true) {
    io.out(res.body.trimEnd());
    return 0;
  }
  const noColor = io.env['NO_COLOR'];
  const color = io.isTTY && (noColor === undefined || noColor === '');
  for (const line of renderLokiAnswer(doc, highlightPatterns(logql), color, limit)) io.out(line);
  return 0;
}
