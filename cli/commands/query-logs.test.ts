/**
 * query-logs.test.ts — `otlpdb query logs` against a node's API server
 * (a bare source whose stand-in engine answers a fixed result and records
 * the parameters it got): lines newest first, matches highlighted on a
 * terminal and plain when piped or NO_COLOR is set, --json as sent,
 * metric answers, and the errors (a refused query, no engine, bad flags).
 */
import t from 'tap';
import { OtlpdbError } from '../../src/errors.js';
import { bareApiSource, serveApi } from '../../src/api/api-test-util.js';
import type { LokiSource } from '../../src/api/loki-routes.js';
import type { LogqlEngine, LogqlParams, LogqlResult } from '../../src/query/logql/source.js';
import { highlight, highlightPatterns, runQueryLogs } from './query-logs.js';
import type { QueryLogsIo } from './query-logs.js';

const T0 = 1_795_000_000_000_000_000n;

function lokiWith(engine: LogqlEngine | null): LokiSource {
  return {
    engine,
    source: () => ({ select: () => (async function* () {})(), stats: { shardsAsked: 2, blocksScanned: 0, blocksPruned: 0, entriesRead: 0, bytesRead: 0, partialFailures: [] } }),
    labels: async () => {
      throw new Error('not used');
    },
    push: async () => ({ accepted: 0, rejected: 0, message: '', parts: 0 }),
  };
}

function capture(isTTY: boolean, env: Record<string, string> = {}): QueryLogsIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l), isTTY, env };
}

t.test('highlighting', async (t) => {
  const ps = highlightPatterns('{a="b"} |= "err" != "x" |~ `(?i)TIME.?OUT`');
  t.equal(ps.length, 2, 'the |= literal and the |~ regex');
  t.equal(highlight('an error: timeout', ps), 'an \u001b[1;31merr\u001b[0mor: \u001b[1;31mtimeout\u001b[0m');
  t.equal(highlight('nothing here', ps), 'nothing here');
});

t.test('query logs against a server', async (t) => {
  let seen: LogqlParams | null = null;
  const engine: LogqlEngine = {
    evaluate: async (text: string, p: LogqlParams): Promise<LogqlResult> => {
      seen = p;
      if (text.startsWith('bad')) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'parse error at line 1, col 1: syntax error');
      if (text.startsWith('rate')) return { kind: 'matrix', series: [{ labels: [{ name: 'app', value: 'shop' }], timesNs: [T0], values: [0.5] }] };
      return {
        kind: 'streams',
        streams: [
          { labels: [{ name: 'app', value: 'shop' }], entries: [{ timeNs: T0 + 2_000_000n, line: 'payment error: declined', metadata: [] }] },
          { labels: [{ name: 'app', value: 'web' }], entries: [{ timeNs: T0 + 5_000_000n, line: 'another error', metadata: [] }, { timeNs: T0, line: 'ok', metadata: [] }] },
        ],
      };
    },
    evaluateShardPart: async () => ({ kind: 'entries', entries: [] }),
  };
  const a = await serveApi(t, bareApiSource({ loki: lokiWith(engine) }));
  const server = `http://${a.host}:${a.port}`;
  const now = Number(T0 / 1_000_000n) + 60_000;

  const tty = capture(true);
  t.equal(await runQueryLogs('{app=~".+"} |= "error"', { server, since: '5m', limit: '50' }, tty, now), 0);
  t.equal(tty.lines.length, 4, 'three lines and a summary');
  t.ok((tty.lines[0] as string).endsWith('another \u001b[1;31merror\u001b[0m'), 'newest first, highlighted');
  t.ok((tty.lines[1] as string).endsWith('{app="shop"}  payment \u001b[1;31merror\u001b[0m: declined'));
  t.equal(tty.lines[3], '3 line(s)');
  t.same(seen === null ? null : { limit: (seen as LogqlParams).limit, span: (seen as LogqlParams).endNs - (seen as LogqlParams).startNs, direction: (seen as LogqlParams).direction }, { limit: 50, span: 300_000_000_000n, direction: 'backward' }, 'the parameters sent');

  const piped = capture(false);
  await runQueryLogs('{app=~".+"} |= "error"', { server }, piped, now);
  t.notOk(piped.lines.some((l) => l.includes('\u001b')), 'plain when piped');
  const noColor = capture(true, { NO_COLOR: '1' });
  await runQueryLogs('{app=~".+"} |= "error"', { server }, noColor, now);
  t.notOk(noColor.lines.some((l) => l.includes('\u001b')), 'plain with NO_COLOR');

  const json = capture(false);
  await runQueryLogs('{app=~".+"}', { server, json: true }, json, now);
  t.equal((JSON.parse(json.lines[0] as string) as { data: { resultType: string } }).data.resultType, 'streams', '--json prints the answer');

  const metric = capture(false);
  await runQueryLogs('rate({app="shop"}[1m])', { server }, metric, now);
  t.equal(metric.lines[0], '{app="shop"}');
  t.ok((metric.lines[1] as string).endsWith(' 0.5'));

  await t.rejects(runQueryLogs('bad query', { server }, capture(false), now), { code: 'ERR_INVALID_ARGUMENT', message: /parse error at line 1/ }, 'a refused query');
  await t.rejects(runQueryLogs('{a="b"}', { server, limit: '0' }, capture(false), now), { code: 'ERR_INVALID_ARGUMENT' }, 'a bad --limit');
  await t.rejects(runQueryLogs('{a="b"}', { server, since: 'soon' }, capture(false), now), { code: 'ERR_INVALID_ARGUMENT' }, 'a bad --since');
  await t.rejects(runQueryLogs('', { server }, capture(false), now), { code: 'ERR_INVALID_ARGUMENT' }, 'an empty query');

  const none = await serveApi(t, bareApiSource({ loki: lokiWith(null) }));
  await t.rejects(runQueryLogs('{a="b"}', { server: `${none.host}:${none.port}` }, capture(false), now), { code: 'ERR_UNAVAILABLE', message: /LogQL engine not wired/ }, 'no engine');
});

t.test('highlighting uses RE2 meaning and never backtracks without bound', async (t) => {
  const [m] = highlightPatterns('{a="b"} |~ `(?m)^b`');
  t.ok(m !== undefined);
  t.equal(highlight('a\nb', m === undefined ? [] : [m]), 'a\n\u001b[1;31mb\u001b[0m', '(?m) as RE2 means it: ^ after a newline');
  t.same(highlightPatterns('{a="b"} |~ `\\Q1+1\\E`').length, 1, 'RE2-only syntax translated, not dropped');
  const [evil] = highlightPatterns('{a="b"} |~ "(a+)+b"');
  t.equal(evil?.lineCharsMax, -1, 'a nested repeat: never run on V8');
  const line = 'a'.repeat(40);
  t.equal(highlight(line, evil === undefined ? [] : [evil]), line, 'the line is printed unmarked (V8 would backtrack 2^40 ways)');
});
