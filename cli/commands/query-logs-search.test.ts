/**
 * query-logs-search.test.ts — `otlpdb query logs --search '<json>'` against
 * a node's API server (port 31250) whose injected search records the
 * request and answers a fixed result: lines newest first, the query's terms,
 * phrases and fuzzy matches highlighted on a terminal (not under `not`),
 * plain when piped, --json as sent, --since/--limit filled in, a bare query
 * node or a whole request, and a malformed search refused before it is sent.
 */
import t from 'tap';
import { ApiServer } from '../../src/api/server.js';
import { bareApiSource } from '../../src/api/api-test-util.js';
import type { LogSearchAnswer } from '../../src/query/log-search.js';
import type { LogSearchRequest } from '../../src/query/log-search-query.js';
import type { QueryLogsIo } from './query-logs.js';
import { runQueryLogsSearch, searchHighlighter } from './query-logs-search.js';

const T0 = 1_795_000_000_000_000_000n;
const ON = '\u001b[1;31m';
const OFF = '\u001b[0m';

function capture(isTTY: boolean): QueryLogsIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l), isTTY, env: {} };
}

t.test('highlighting a search', async (t) => {
  const h = searchHighlighter({ and: [{ term: 'Timeout' }, { phrase: 'connection reset' }, { not: { term: 'debug' } }, { fuzzy: { term: 'conection', distance: 1 } }] });
  t.equal(h('upstream TIMEOUT, timeouts'), `upstream ${ON}TIMEOUT${OFF}, timeouts`, 'whole tokens, any case');
  t.equal(h('Connection  reset by debug'), `${ON}Connection  reset${OFF} by debug`, 'a phrase; a NOT term is not highlighted');
  t.equal(h('conection lost'), `${ON}conection${OFF} lost`, 'a token within the fuzzy distance');
  t.equal(searchHighlighter({ bad: 1 })('x'), 'x', 'a query that does not parse highlights nothing');
});

t.test('query logs --search against a server', async (t) => {
  const seen: LogSearchRequest[] = [];
  const answer: LogSearchAnswer = {
    entries: [
      { stream: [{ name: 'app', value: 'shop' }], timeNs: T0 + 5_000_000n, line: 'upstream timeout', metadata: [] },
      { stream: [{ name: 'app', value: 'shop' }], timeNs: T0, line: 'connection reset', metadata: [] },
    ],
    stats: { shardsAsked: 2, shardsFailed: 0, shardsCut: 0, blocksScanned: 1, blocksPrunedTime: 0, blocksPrunedBloom: 1, blocksPrunedIndex: 0, bytesRead: 5, headRowsScanned: 0, entriesReturned: 2 },
    partial: false,
    failedShards: [],
  };
  const api = await ApiServer.start({
    host: '127.0.0.1',
    port: 31250,
    source: bareApiSource({
      searchLogs: async (_tenant: string, req: LogSearchRequest) => {
        seen.push(req);
        return answer;
      },
    }),
  });
  t.teardown(() => api.stop());
  const server = `http://127.0.0.1:${api.address().port}`;
  const now = Number(T0 / 1_000_000n) + 60_000;

  const tty = capture(true);
  t.equal(await runQueryLogsSearch('{"or": [{"term": "timeout"}, {"phrase": "connection reset"}]}', { server, since: '5m', limit: '10' }, tty, now), 0);
  t.equal(tty.lines.length, 3, 'two lines and the count');
  t.match(tty.lines[0] ?? '', new RegExp(`upstream ${ON.replace('[', '\\[')}timeout`), 'newest first, highlighted');
  t.equal(seen[0]?.limit, 10, '--limit');
  t.equal(seen[0]?.endNs, T0 + 60_000_000_000n, 'end: now');
  t.equal(seen[0]?.startNs, T0 - 240_000_000_000n, 'start: --since before now');

  const piped = capture(false);
  await runQueryLogsSearch('{"query": {"term": "timeout"}, "selector": "{app=\\"shop\\"}", "limit": 3}', { server }, piped, now);
  t.notOk(piped.lines.join('\n').includes(ON), 'plain when piped');
  t.same(seen[1]?.matchers, [{ name: 'app', op: '=', value: 'shop' }], 'a whole request keeps its selector');
  t.equal(seen[1]?.limit, 3, 'and its limit');

  const json = capture(false);
  await runQueryLogsSearch('{"term": "timeout"}', { server, json: true }, json, now);
  t.match(JSON.parse(json.lines[0] ?? '{}'), { status: 'success', data: { resultType: 'streams', stats: { shardsAsked: 2 } } }, '--json prints the answer');

  const before = seen.length;
  await t.rejects(runQueryLogsSearch('{"fuzzy": {"term": "x", "distance": 5}}', { server }, capture(false), now), { code: 'ERR_INVALID_ARGUMENT', details: { param: 'query.fuzzy.distance' } });
  await t.rejects(runQueryLogsSearch('{not json', { server }, capture(false), now), { code: 'ERR_INVALID_ARGUMENT' });
  t.equal(seen.length, before, 'malformed searches never reach the server');
});
