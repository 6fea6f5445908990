/**
 * evaluate.test.ts — the engine on small hand-made corpora where Loki's
 * answer is known: window boundaries, limit/direction/ties, parsers and
 * `__error__`, structured metadata, formatting stages, absent_over_time, and
 * which queries are pushed to shards (shardEval) and which gather entries.
 */
import t from 'tap';
import { LogqlLimits } from '../../limits.js';
import { logqlEngine } from './engine.js';
import { MemoryLogSource } from './memory-log-source.js';
import { sortedLabels } from './pipeline.js';
import type { LogEntry, LogShardEvalRequest, LogSource, LogqlParams, LogqlResult } from './source.js';

const S = 1_000_000_000n;
const T0 = 1_800_000_000n * S;

function entry(sec: number, line: string, stream: Record<string, string> = { app: 'a' }, metadata: Record<string, string> = {}): LogEntry {
  return { stream: sortedLabels(Object.entries(stream)), timeNs: T0 + BigInt(sec) * S, line, metadata: sortedLabels(Object.entries(metadata)) };
}

function params(p: Partial<LogqlParams> = {}): LogqlParams {
  return { startNs: T0, endNs: T0 + 3600n * S, stepNs: 0n, direction: 'backward', limit: 100, signal: new AbortController().signal, ...p };
}

/** sharded wraps entries as three shards plus a counting shardEval. */
function sharded(entries: readonly LogEntry[]): { source: LogSource; calls: { shardEval: string[]; selects: number } } {
  const calls = { shardEval: [] as string[], selects: 0 };
  const shards = [0, 1, 2].map((k) => new MemoryLogSource(entries.filter((_, i) => i % 3 === k)));
  const whole = new MemoryLogSource(entries);
  const source: LogSource = {
    stats: whole.stats,
    select(req, signal) {
      calls.selects++;
      return whole.select(req, signal);
    },
    async shardEval(req: LogShardEvalRequest, signal: AbortSignal) {
      calls.shardEval.push(req.expr);
      const answers = await Promise.all(shards.map((s) => logqlEngine.evaluateShardPart(req, s, signal)));
      if (answers[0]?.kind === 'entries') return { kind: 'entries', entries: answers.flatMap((a) => (a.kind === 'entries' ? a.entries : [])) };
      return { kind: 'partials', series: answers.flatMap((a) => (a.kind === 'partials' ? a.series : [])) };
    },
  };
  return { source, calls };
}

function lines(r: LogqlResult): string[] {
  if (r.kind !== 'streams') return [];
  return r.streams.flatMap((s) => s.entries.map((e) => e.line));
}

function vector(r: LogqlResult): Record<string, number> {
  if (r.kind !== 'vector') return {};
  return Object.fromEntries(r.samples.map((s) => [s.labels.map((l) => `${l.name}=${l.value}`).join(','), s.value]));
}

t.test('windows are (t - range, t]: an entry exactly range before t is out, one at t is in', async (t) => {
  const corpus = [entry(0, 'x'), entry(30, 'y'), entry(60, 'z')];
  for (const source of [new MemoryLogSource(corpus), sharded(corpus).source]) {
    const r = await logqlEngine.evaluate('count_over_time({app="a"}[1m])', params({ endNs: T0 + 60n * S }), source);
    t.same(vector(r), { 'app=a': 2 }, '(0s, 60s] holds y and z, not x');
    const late = await logqlEngine.evaluate('count_over_time({app="a"}[1m])', params({ endNs: T0 + 90n * S }), source);
    t.same(vector(late), { 'app=a': 1 }, '(30s, 90s] holds z only');
    const off = await logqlEngine.evaluate('count_over_time({app="a"}[1m] offset 30s)', params({ endNs: T0 + 90n * S }), source);
    t.same(vector(off), { 'app=a': 2 }, 'offset 30s moves the window to (0s, 60s]');
  }
});

t.test('log queries: limit, direction and ties cut in a stable order', async (t) => {
  const corpus = [entry(1, 'b', { app: 'a', s: '2' }), entry(1, 'a', { app: 'a', s: '1' }), entry(2, 'c'), entry(0, 'd')];
  for (const source of [new MemoryLogSource(corpus), sharded(corpus).source]) {
    t.same(lines(await logqlEngine.evaluate('{app="a"}', params({ limit: 2 }), source)), ['a', 'c'], 'backward: c (2s) then a (1s, its stream sorts before b\'s); streams in label order');
    const fwd = await logqlEngine.evaluate('{app="a"}', params({ limit: 3, direction: 'forward' }), source);
    t.same(lines(fwd), ['a', 'b', 'd'], 'forward: d (0s), then a and b tied at 1s; grouped by stream');
    t.equal(fwd.kind === 'streams' ? fwd.streams.length : 0, 3);
  }
});

t.test('parsers, _extracted, __error__ and structured metadata', async (t) => {
  const corpus = [
    entry(1, '{"app":"x","user":{"id":7},"tags":[1],"lat":"2s"}', { app: 'a' }, { trace_id: 't1' }),
    entry(2, 'not json', { app: 'a' }),
    entry(3, 'level=info msg="hi there" lat=5s', { app: 'a' }, { trace_id: 't2' }),
  ];
  const source = new MemoryLogSource(corpus);
  const r = await logqlEngine.evaluate('{app="a"} | json', params(), source);
  t.equal(r.kind, 'streams');
  if (r.kind !== 'streams') return;
  const labelSets = r.streams.map((s) => Object.fromEntries(s.labels.map((l) => [l.name, l.value])));
  t.ok(labelSets.some((l) => l.app === 'a' && l.app_extracted === 'x' && l.user_id === '7' && l.lat === '2s' && l.tags === undefined), 'nested keys flatten with _, arrays are skipped, a stream label collision gets _extracted');
  const errored = r.streams.filter((s) => s.labels.some((l) => l.name === '__error__' && l.value === 'JSONParserErr'));
  t.equal(errored.flatMap((s) => s.entries).length, 2, 'lines that are not JSON objects carry __error__');
  const withMeta = r.streams.find((s) => s.labels.some((l) => l.name === 'user_id'));
  t.same(withMeta?.entries[0]?.metadata, [{ name: 'trace_id', value: 't1' }], 'structured metadata stays on the entry');
  t.same(lines(await logqlEngine.evaluate('{app="a"} | trace_id="t2"', params(), source)), ['level=info msg="hi there" lat=5s'], 'label filters see structured metadata');
  await t.rejects(logqlEngine.evaluate('count_over_time({app="a"} | json [1h])', params(), source), { code: 'ERR_INVALID_ARGUMENT', message: /pipeline error: 'JSONParserErr'/ });
  t.same(vector(await logqlEngine.evaluate('count_over_time({app="a"} | json | __error__="" | keep app [1h])', params(), source)), { 'app=a': 1 });
  t.same(
    vector(await logqlEngine.evaluate('sum(sum_over_time({app="a"} | logfmt | unwrap duration(lat) | __error__="" [1h]))', params(), source)),
    { '': 5 },
    'duration() converts to seconds; the JSON line fails logfmt quietly (no lat) and the error line has no lat',
  );
  const lf = await logqlEngine.evaluate('{app="a"} | logfmt | lat > 1s', params(), source);
  t.same(lines(lf).sort(), ['level=info msg="hi there" lat=5s', 'not json'].sort().filter((l) => l !== 'not json'), 'numeric filters drop lines without the label');
  const conv = await logqlEngine.evaluate('{app="a"} | logfmt | msg > 1', params(), source);
  t.match(conv, { streams: [{ labels: [{ name: '__error__', value: 'LabelFilterErr' }] }] }, 'a value that does not convert keeps the line with LabelFilterErr');
});

t.test('line_format, label_format, drop and keep', async (t) => {
  const source = new MemoryLogSource([entry(1, 'level=warn status=503 path=/x', { app: 'a', env: 'prod' })]);
  const r = await logqlEngine.evaluate('{app="a"} | logfmt | line_format "{{.status}} {{ .path | upper }} {{ default \\"-\\" .nope }}" | label_format code=status, both="{{.level}}/{{.env}}" | drop env | keep code, both, level', params(), source);
  t.match(r, { kind: 'streams', streams: [{ labels: [{ name: 'both', value: 'warn/prod' }, { name: 'code', value: '503' }, { name: 'level', value: 'warn' }], entries: [{ line: '503 /X -' }] }] });
});

t.test('absent_over_time answers 1 with the selector equalities when nothing matched', async (t) => {
  const source = new MemoryLogSource([entry(0, 'x')]);
  t.same(vector(await logqlEngine.evaluate('absent_over_time({app="a", env=~".+"}[1m])', params({ endNs: T0 + 30n * S }), source)), { 'app=a': 1 });
  t.same(vector(await logqlEngine.evaluate('absent_over_time({app="a"}[1m])', params({ endNs: T0 + 30n * S }), source)), {});
});

t.test('pushdown: log queries and pushable range aggregations go to shardEval, the rest gathers entries', async (t) => {
  const corpus = Array.from({ length: 30 }, (_, i) => entry(i, `v=${i} lvl=${i % 2 === 0 ? 'even' : 'odd'}`, { app: 'a', p: String(i % 2) }));
  const cases: [string, boolean][] = [
    ['{app="a"} |= "v=1"', true],
    ['sum(count_over_time({app="a"}[1m]))', true],
    ['rate({app="a"}[1m])', true],
    ['avg_over_time({app="a"} | logfmt | unwrap v [1m]) by (lvl)', true],
    ['max_over_time({app="a"} | logfmt | unwrap v [1m])', true],
    ['quantile_over_time(0.5, {app="a"} | logfmt | unwrap v [1m])', false],
    ['stddev_over_time({app="a"} | logfmt | unwrap v [1m])', false],
    ['absent_over_time({app="a"}[1m])', false],
  ];
  for (const [q, pushed] of cases) {
    const { source, calls } = sharded(corpus);
    const p = params({ startNs: T0, endNs: T0 + 40n * S, stepNs: q.startsWith('{') ? 0n : 10n * S });
    const got = await logqlEngine.evaluate(q, p, source);
    const want = await logqlEngine.evaluate(q, p, new MemoryLogSource(corpus));
    t.same(got, want, `${q}: sharded equals one source`);
    t.equal(calls.shardEval.length > 0, pushed, `${q}: ${pushed ? 'pushed' : 'not pushed'}`);
    t.equal(calls.selects > 0, !pushed, `${q}: ${pushed ? 'no' : 'a'} coordinator select`);
  }
  const avg = await logqlEngine.evaluateShardPart({ expr: 'avg_over_time({app="a"} | logfmt | unwrap v [1m])', startNs: T0 + 10n * S, endNs: T0 + 10n * S, stepNs: 0n, direction: 'forward', limit: 10 }, new MemoryLogSource(corpus), new AbortController().signal);
  t.match(avg, { kind: 'partials', series: [{ stepsNs: [T0 + 10n * S], values: [[30, 6]] }] }, 'avg partials are [sum, count] per series and step: v = 0, 2, ..., 10 in (−50s, 10s] for p=0');
  await t.rejects(
    logqlEngine.evaluateShardPart({ expr: 'sum(count_over_time({app="a"}[1m]))', startNs: T0, endNs: T0, stepNs: 0n, direction: 'forward', limit: 10 }, new MemoryLogSource(corpus), new AbortController().signal),
    { code: 'ERR_INVALID_ARGUMENT' },
    'a shard runs only a log query or one pushable range aggregation',
  );
});

t.test('an abort between batches cancels the query', async (t) => {
  const corpus = Array.from({ length: 5000 }, (_, i) => entry(i % 3000, `line ${i}`));
  const ac = new AbortController();
  const inner = new MemoryLogSource(corpus);
  const source: LogSource = {
    stats: inner.stats,
    async *select(req, signal) {
      for await (const b of inner.select(req, signal)) {
        yield b;
        ac.abort();
      }
    },
  };
  await t.rejects(logqlEngine.evaluate('count_over_time({app="a"}[1h])', params({ signal: ac.signal }), source), { code: 'ERR_UNAVAILABLE' });
});

t.test('bounds: series past seriesMax and ties past entriesHeldMax are ERR_LIMIT_EXCEEDED', async (t) => {
  const many = Array.from({ length: LogqlLimits.seriesMax + 1 }, (_, i) => entry(1 + (i % 3000), `id=${i}`));
  await t.rejects(logqlEngine.evaluate('count_over_time({app="a"} | logfmt [1h])', params(), new MemoryLogSource(many)), { code: 'ERR_LIMIT_EXCEEDED', message: /seriesMax/ });
  t.same(vector(await logqlEngine.evaluate('count(count_over_time({app="a"} | logfmt | drop id [1h]))', params(), new MemoryLogSource(many))), { '': 1 }, 'the same entries in one series are fine');
  const tied = Array.from({ length: LogqlLimits.entriesHeldMax + 1 }, (_, i) => entry(5, `l${i}`));
  await t.rejects(logqlEngine.evaluate('{app="a"}', params({ limit: 1 }), new MemoryLogSource(tied)), { code: 'ERR_LIMIT_EXCEEDED', message: /entriesHeldMax/ });
});
