/**
 * logs-test-engine.ts — a stand-in LogqlEngine for the tests of the cluster
 * side of Loki's API (the real engine lives in query/logql and is wired in
 * by the node's `logqlEngine` option). It understands only
 * `{selector}` optionally followed by `|= "literal"`, and a leading
 * `pushed ` that runs the query through LogSource.shardEval (its shard side
 * selects with the same selector). It returns every entry as a stream
 * answer, grouped by stream in first-seen order. Test code only.
 */
import { OtlpdbError } from '../errors.js';
import { streamKey } from '../storage/logs/log-block.js';
import type { LogEntry, LogShardAnswer, LogShardEvalRequest, LogSource, LogqlEngine, LogqlParams, LogqlResult, LogqlStream, SelectLogsRequest } from './logql/source.js';
import { parseSelector } from './logs-selector.js';

function parseQuery(text: string): { pushed: boolean; selector: string; literal: string | null } {
  let t = text.trim();
  const pushed = t.startsWith('pushed ');
  if (pushed) t = t.slice('pushed '.length);
  const m = /^(\{.*\})\s*(?:\|=\s*"((?:[^"\\]|\\.)*)")?$/s.exec(t);
  if (m === null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'parse error at line 1, col 1: the test engine reads {selector} |= "literal" only');
  return { pushed, selector: m[1] as string, literal: m[2] === undefined ? null : (JSON.parse(`"${m[2]}"`) as string) };
}

function selectOf(text: string, p: Pick<LogqlParams, 'startNs' | 'endNs' | 'direction'>, limit: number | null): { req: SelectLogsRequest; literal: string | null } {
  const q = parseQuery(text);
  return {
    req: { matchers: parseSelector(q.selector), startNs: p.startNs, endNs: p.endNs, direction: p.direction, limit: q.literal === null ? limit : null, hints: q.literal === null ? [] : [{ contains: [q.literal], caseInsensitive: false }] },
    literal: q.literal,
  };
}

async function selectAll(source: LogSource, req: SelectLogsRequest, literal: string | null, limit: number, signal: AbortSignal): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const batch of source.select(req, signal)) {
    for (const e of batch) {
      if (literal !== null && !e.line.includes(literal)) continue;
      if (out.length === limit) return out;
      out.push(e);
    }
  }
  return out;
}

function streams(entries: readonly LogEntry[]): LogqlResult {
  const byKey = new Map<string, { labels: LogEntry['stream']; entries: LogqlStream['entries'][number][] }>();
  for (const e of entries) {
    const k = streamKey(e.stream);
    let s = byKey.get(k);
    if (s === undefined) {
      s = { labels: e.stream, entries: [] };
      byKey.set(k, s);
    }
    s.entries.push({ timeNs: e.timeNs, line: e.line, metadata: e.metadata });
  }
  return { kind: 'streams', streams: [...byKey.values()] };
}

/** selectorTestEngine is the stand-in engine (see the file comment). */
export const selectorTestEngine: LogqlEngine = {
  async evaluate(text: string, params: LogqlParams, source: LogSource): Promise<LogqlResult> {
    const q = parseQuery(text);
    if (q.pushed) {
      if (source.shardEval === undefined) throw new OtlpdbError('ERR_INTERNAL', 'the source cannot push queries down');
      const req: LogShardEvalRequest = { expr: text.trim().slice('pushed '.length), startNs: params.startNs, endNs: params.endNs, stepNs: params.stepNs, direction: params.direction, limit: params.limit };
      const a = await source.shardEval(req, params.signal);
      return streams(a.kind === 'entries' ? a.entries : []);
    }
    const s = selectOf(text, params, params.limit);
    return streams(await selectAll(source, s.req, s.literal, params.limit, params.signal));
  },
  async evaluateShardPart(req: LogShardEvalRequest, source: LogSource, signal: AbortSignal): Promise<LogShardAnswer> {
    const s = selectOf(req.expr, req, req.limit);
    return { kind: 'entries', entries: await selectAll(source, s.req, s.literal, req.limit, signal) };
  },
};
