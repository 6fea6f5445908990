/**
 * query-logs-search.ts — `otlpdb query logs --search '<json>' [--since 1h]
 * [--limit N] [--json] [--server URL]`: otlpdb's native JSON log search
 * (docs/log-search.md) through any node (GET /api/v1/logs/search?query=).
 * The JSON is either a whole request ({"query": ..., "selector": ...}) or
 * just its query node ({"and": [...]}); --since and --limit fill `start`,
 * `end` and `limit` when the request does not give them. Lines print as
 * `query logs` prints them (time, stream labels, line), newest first, with
 * the terms and phrases the query looks for outside any `not` highlighted
 * on a terminal (whole tokens, case-insensitive; fuzzy terms highlight the
 * tokens within their distance). --json prints the answer as it came.
 *
 * Errors: a malformed search is ERR_INVALID_ARGUMENT (exit 2) with the
 * parser's message naming the JSON path — checked here first, so a typo
 * never leaves the machine; an unreachable server ERR_UNAVAILABLE (exit 1).
 */
import { checkTenantId } from '../../src/control/tenant.js';
import { OtlpdbError } from '../../src/errors.js';
import { LogSearchLimits, LogsQueryLimits, QueryCliLimits } from '../../src/limits.js';
import { levenshteinWithin, positiveTerms } from '../../src/query/log-search-eval.js';
import { parseSearchRequest } from '../../src/query/log-search-query.js';
import { parseGoDuration } from '../../src/query/search-params.js';
import { parseIntegerFlag } from '../flags.js';
import { highlight, renderLokiAnswer } from './query-logs.js';
import type { HighlightPattern, QueryLogsIo, QueryLogsOptions } from './query-logs.js';
import { DEFAULT_TARGET, getFromTarget, parseTarget } from './trace.js';

const WORD = '[\\p{L}\\p{N}\\p{M}_]';
const NOT_WORD = '[^\\p{L}\\p{N}\\p{M}_]';

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * searchHighlighter is a line highlighter for a search's query node: whole
 * tokens equal to a term, phrases (their tokens with separators between),
 * and tokens within a fuzzy term's distance.
 */
export function searchHighlighter(query: unknown): (line: string) => string {
  let node;
  try {
    node = parseSearchRequest({ query }, 0n).query;
  } catch {
    return (line) => line;
  }
  const p = positiveTerms(node);
  const patterns: HighlightPattern[] = [];
  // Escaped words and phrases: no backtracking beyond the word boundaries, any line length.
  const whole = (body: string): HighlightPattern => ({ re: new RegExp(`(?<!${WORD})${body}(?!${WORD})`, 'giu'), lineCharsMax: Number.MAX_SAFE_INTEGER });
  for (const term of p.terms) patterns.push(whole(escape(term)));
  for (const ph of p.phrases) patterns.push(whole(ph.map(escape).join(`${NOT_WORD}+`)));
  const fuzzy = p.fuzzy;
  return (line) => {
    const extra: HighlightPattern[] = [];
    if (fuzzy.length > 0) {
      const near = new Set<string>();
      for (const m of line.matchAll(new RegExp(`${WORD}+`, 'gu'))) {
        const tok = m[0].toLowerCase();
        if (fuzzy.some((f) => levenshteinWithin(tok, f.term, f.distance))) near.add(m[0]);
      }
      for (const tok of near) extra.push(whole(escape(tok)));
    }
    return highlight(line, [...patterns, ...extra]);
  };
}

/** runQueryLogsSearch runs a native JSON search and prints it; see the top of this file. */
export async function runQueryLogsSearch(searchJson: string, o: QueryLogsOptions, io: QueryLogsIo, nowMs: number = Date.now()): Promise<number> {
  if (Buffer.byteLength(searchJson) > LogSearchLimits.bodyBytesMax) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--search is longer than LogSearchLimits.bodyBytesMax (${LogSearchLimits.bodyBytesMax} bytes)`, { flag: '--search' });
  let given: unknown;
  try {
    given = JSON.parse(searchJson);
  } catch (err) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--search is not JSON: ${(err as Error).message}`, { flag: '--search' });
  }
  const server = parseTarget(o.server ?? o.target ?? DEFAULT_TARGET);
  const sinceNs = parseGoDuration(o.since ?? QueryCliLimits.sinceDefault);
  if (sinceNs === null || sinceNs < 1_000_000_000n) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--since ${JSON.stringify(o.since)} is not a duration of at least 1s, such as 15m or 1h`, { flag: '--since' });
  if (o.tenant !== undefined) {
    const problem = checkTenantId(o.tenant);
    if (problem !== null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--tenant: ${problem}`, { flag: '--tenant' });
  }
  const whole = typeof given === 'object' && given !== null && !Array.isArray(given) && 'query' in given;
  const req: Record<string, unknown> = whole ? { ...(given as Record<string, unknown>) } : { query: given };
  const endNs = BigInt(Math.floor(nowMs)) * 1_000_000n;
  req.end ??= endNs.toString();
  req.start ??= (endNs - sinceNs).toString();
  if (o.limit !== undefined) req.limit = parseIntegerFlag('--limit', o.limit, 1, LogsQueryLimits.limitMax);
  try {
    parseSearchRequest(req, endNs);
  } catch (err) {
    if (err instanceof OtlpdbError) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--search: ${err.message}`, { flag: '--search', ...err.details });
    throw err;
  }
  const res = await getFromTarget(server, `/api/v1/logs/search?query=${encodeURIComponent(JSON.stringify(req))}`, o.tenant);
  const message = res.body.trim().slice(0, 500);
  if (res.status === 400 || res.status === 413) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${server.text} refused the search: ${message}`);
  if (res.status === 404) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--server ${server.text} serves no log search (${message}); give the API address of an otlpdb node`, { flag: '--server' });
  if (res.status !== 200) throw new OtlpdbError('ERR_UNAVAILABLE', `${server.text} answered ${res.status}: ${message}`, { target: server.text, status: res.status });
  let doc: { data?: { resultType?: unknown; result?: unknown; stats?: unknown }; warnings?: unknown; partial?: unknown };
  try {
    doc = JSON.parse(res.body) as typeof doc;
  } catch {
    throw new OtlpdbError('ERR_UNAVAILABLE', `${server.text} answered 200 with a body that is not JSON: ${res.body.slice(0, 80)}`, { target: server.text });
  }
  if (o.json === true) {
    io.out(res.body.trimEnd());
    return 0;
  }
  const noColor = io.env['NO_COLOR'];
  const color = io.isTTY && (noColor === undefined || noColor === '');
  const limit = typeof req.limit === 'number' ? req.limit : LogsQueryLimits.limitDefault;
  const lighter = searchHighlighter(req.query);
  // renderLokiAnswer highlights with patterns; a search highlights per line, so it renders plain and colours here.
  for (const line of renderLokiAnswer(doc, [], false, limit)) io.out(color ? lighter(line) : line);
  if (doc.partial === true) io.out('warning: the answer is partial (some shard did not answer or was cut)');
  return 0;
}
