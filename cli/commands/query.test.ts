import t from 'tap';
import { renderTraceTable, runQueryTraces } from './query.js';

t.test('renderTraceTable: aligned rows, newest first as given, a summary naming the limit and partial answers', async (t) => {
  const doc = {
    traces: [
      { traceID: '5b8efff798038103d269b633813fc60c', rootServiceName: 'checkout', rootTraceName: 'POST /checkout', startTimeUnixNano: '1795000000123000000', durationMs: 300, spanSet: { matched: 2 } },
      { traceID: 'abc', rootServiceName: '<root span not yet received>', rootTraceName: '', startTimeUnixNano: '1795000000000000000', durationMs: 0, spanSet: { matched: 1 } },
      { traceID: 'def', rootServiceName: 'svc\u001b[31m', rootTraceName: 'x'.repeat(40), startTimeUnixNano: 'bad', durationMs: 61_500 },
    ],
    stats: { partial: true, failedShards: [{}] },
  };
  t.same(renderTraceTable(doc, 3), [
    'TRACE ID                          START (UTC)               DURATION  ROOT SERVICE          ROOT NAME                         MATCHED',
    '5b8efff798038103d269b633813fc60c  2026-11-18 11:06:40.123      300ms  checkout              POST /checkout                    2',
    'abc                               2026-11-18 11:06:40.000       <1ms  <root span not yet …                                    1',
    'def                               ?                            1m02s  svc[31m               xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…  ?',
    '3 trace(s) (the limit, 3; --limit shows more); PARTIAL: 1 shard(s) failed or a bound cut the search',
  ]);
  t.same(renderTraceTable({ traces: [] }, 20), [renderTraceTable({ traces: [] }, 20)[0], '0 trace(s)']);
});

t.test('flags are checked before anything is sent', async (t) => {
  const io = { out: () => undefined, err: () => undefined };
  const code = async (q: string, o: Record<string, string>): Promise<string> => {
    try {
      await runQueryTraces(q, { target: 'http://127.0.0.1:1', ...o }, io);
      return 'none';
    } catch (err) {
      return (err as { code: string }).code;
    }
  };
  t.equal(await code('', {}), 'ERR_INVALID_ARGUMENT', 'an empty query');
  t.equal(await code('{ }', { since: 'soon' }), 'ERR_INVALID_ARGUMENT', 'a bad --since');
  t.equal(await code('{ }', { since: '500ms' }), 'ERR_INVALID_ARGUMENT', '--since under 1s');
  t.equal(await code('{ }', { since: '10000h' }), 'ERR_INVALID_ARGUMENT', '--since past the searchable range');
  t.equal(await code('{ }', { limit: '0' }), 'ERR_INVALID_ARGUMENT', '--limit 0');
  t.equal(await code('{ }', { tenant: 'a b' }), 'ERR_INVALID_ARGUMENT', 'a bad tenant');
  t.equal(await code('{ }', { target: 'ftp://x' }), 'ERR_INVALID_ARGUMENT', 'a bad target');
  t.equal(await code('{ }', {}), 'ERR_UNAVAILABLE', 'nothing listening: unavailable, naming the target');
});
