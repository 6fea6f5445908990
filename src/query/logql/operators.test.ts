/**
 * operators.test.ts — hand-made cases where Loki's answer is known for the
 * LogQL features of issue 8: vector matching with group_left/group_right
 * (result labels, included labels, Loki's many-to-many / many-to-one /
 * grouping errors), label_replace (Go's `$` expansion, anchoring, removal,
 * collisions), sort/sort_desc (instant order, no effect on a matrix), pattern
 * line filters `|>`/`!>` (Loki's documented examples) and their hints, and
 * decolorize. Each case runs over one source and over three shards.
 */
import t from 'tap';
import type { Test } from 'tap';
import { logqlEngine } from './engine.js';
import { lineHints } from './hints.js';
import { expandReplacement } from './label-replace.js';
import { MemoryLogSource } from './memory-log-source.js';
import { parseLogql } from './parser.js';
import { parseLinePattern, testLinePattern } from './pattern.js';
import type { PatternPart } from './pattern.js';
import { sortedLabels } from './pipeline.js';
import type { LogEntry, LogSource, LogqlParams, LogqlResult } from './source.js';

const S = 1_000_000_000n;
const T0 = 1_800_000_000n * S;

function entry(sec: number, line: string, stream: Record<string, string>): LogEntry {
  return { stream: sortedLabels(Object.entries(stream)), timeNs: T0 + BigInt(sec) * S, line, metadata: [] };
}

/** CORPUS: app a has error/prod ×3, error/dev ×1, info/prod ×2; app b has error/prod ×4, info/dev ×5. */
const CORPUS: LogEntry[] = [
  ...[1, 2, 3].map((i) => entry(i, `a error prod ${i}`, { app: 'a', level: 'error', env: 'prod' })),
  entry(4, 'a error dev', { app: 'a', level: 'error', env: 'dev' }),
  ...[5, 6].map((i) => entry(i, `a info prod ${i}`, { app: 'a', level: 'info', env: 'prod' })),
  ...[7, 8, 9, 10].map((i) => entry(i, `b error prod ${i}`, { app: 'b', level: 'error', env: 'prod' })),
  ...[11, 12, 13, 14, 15].map((i) => entry(i, `b info dev ${i}`, { app: 'b', level: 'info', env: 'dev' })),
];

function sources(corpus: readonly LogEntry[]): [string, LogSource][] {
  const shards = [0, 1, 2].map((k) => new MemoryLogSource(corpus.filter((_, i) => i % 3 === k)));
  const whole = new MemoryLogSource(corpus);
  whole.shardEval = async (req, signal) => {
    const answers = await Promise.all(shards.map((s) => logqlEngine.evaluateShardPart(req, s, signal)));
    if (answers[0]?.kind === 'entries') return { kind: 'entries', entries: answers.flatMap((a) => (a.kind === 'entries' ? a.entries : [])) };
    return { kind: 'partials', series: answers.flatMap((a) => (a.kind === 'partials' ? a.series : [])) };
  };
  return [
    ['one source', new MemoryLogSource(corpus)],
    ['sharded', whole],
  ];
}

function params(p: Partial<LogqlParams> = {}): LogqlParams {
  return { startNs: T0 + 60n * S, endNs: T0 + 60n * S, stepNs: 0n, direction: 'backward', limit: 100, signal: new AbortController().signal, ...p };
}

/** samples renders an instant vector in answer order as "labels=value". */
function samples(r: LogqlResult): string[] {
  if (r.kind !== 'vector') return [`not a vector: ${r.kind}`];
  return r.samples.map((s) => `{${s.labels.map((l) => `${l.name}=${l.value}`).join(',')}}=${s.value}`);
}

async function each(query: string, check: (r: LogqlResult, which: string) => void, p: Partial<LogqlParams> = {}, corpus = CORPUS): Promise<void> {
  for (const [which, source] of sources(corpus)) check(await logqlEngine.evaluate(query, params(p), source), which);
}

async function refused(t: Test, query: string, message: RegExp): Promise<void> {
  for (const [which, source] of sources(CORPUS)) await t.rejects(logqlEngine.evaluate(query, params(), source), { code: 'ERR_INVALID_ARGUMENT', message }, `${which}: ${query}`);
}

const A = (by: string): string => `sum by (${by}) (count_over_time({app="a"}[1m]))`;
const B = (by: string): string => `sum by (${by}) (count_over_time({app="b"}[1m]))`;

t.test('group_left: the many side keeps its labels; the one side may be matched by on or ignoring', async (t) => {
  await each(`${A('level, env')} / on (level) group_left ${B('level')}`, (r, w) => t.same(samples(r), ['{env=dev,level=error}=0.25', '{env=prod,level=error}=0.75', '{env=prod,level=info}=0.4'], w));
  await each(`${A('level, env')} / ignoring (env) group_left () ${B('level')}`, (r, w) => t.same(samples(r), ['{env=dev,level=error}=0.25', '{env=prod,level=error}=0.75', '{env=prod,level=info}=0.4'], w));
});

t.test('group_right: the right side is the many side; the operator still applies left op right', async (t) => {
  await each(`${B('level')} - on (level) group_right ${A('level, env')}`, (r, w) => t.same(samples(r), ['{env=dev,level=error}=3', '{env=prod,level=error}=1', '{env=prod,level=info}=3'], w));
  // A comparison without bool filters and keeps the left (the "one") side's value.
  await each(`${B('level')} > on (level) group_right ${A('level, env')}`, (r, w) => t.same(samples(r), ['{env=dev,level=error}=4', '{env=prod,level=error}=4', '{env=prod,level=info}=5'], w));
  await each(`${B('level')} < bool on (level) group_right ${A('level, env')}`, (r, w) => t.same(samples(r), ['{env=dev,level=error}=0', '{env=prod,level=error}=0', '{env=prod,level=info}=0'], w));
});

t.test('group_x (labels) copies those labels from the one side, and removes them where it has none', async (t) => {
  await each(`${A('level, env')} * on (level) group_left (app) ${B('level, app')}`, (r, w) => t.same(samples(r), ['{app=b,env=dev,level=error}=4', '{app=b,env=prod,level=error}=12', '{app=b,env=prod,level=info}=10'], w));
  await each(`${A('level, env, app')} * on (level) group_left (app) ${B('level')}`, (r, w) => t.same(samples(r), ['{env=dev,level=error}=4', '{env=prod,level=error}=12', '{env=prod,level=info}=10'], w));
});

t.test("Loki's matching errors: many-to-many, implicit many-to-one, grouping labels that do not keep results apart", async (t) => {
  await refused(t, `${A('level, env')} + on (level) group_left ${A('level, env')}`, /duplicate series on the right hand-side .*many-to-many matching not allowed/);
  await refused(t, `${A('level, env')} + on (level) group_right ${A('level, env')}`, /duplicate series on the left hand-side/);
  await refused(t, `${A('level, env')} / on (level) ${B('level')}`, /many-to-one matching must be explicit \(group_left\/group_right\)/);
  await refused(t, `${A('level, env')} / on (level) group_left (env) ${B('level')}`, /grouping labels must ensure unique matches/);
  // As Loki: the one side's duplicates are refused even when the other side is empty.
  await refused(t, `sum by (level) (count_over_time({app="none"}[1m])) + on (level) ${A('level, env')}`, /duplicate series on the right hand-side/);
});

t.test('vector matching parse errors name the position', async (t) => {
  const cases: [string, RegExp][] = [
    [`${A('level')} + group_left ${B('level')}`, /group_left needs on \(\.\.\.\) or ignoring \(\.\.\.\) before it at 1:51/],
    [`${A('level')} and on (level) group_left ${B('level')}`, /set operator 'and' takes no group_left .* at 1:64/],
    [`${A('level')} / on (level) group_right (level) ${B('level')}`, /label 'level' must not be listed in both on \(\.\.\.\) and group_right/],
    [`${A('level')} / on (level) group_left (sum(x)) ${B('level')}`, /expected ',' or '\)' at 1:\d+, found '\('/],
  ];
  for (const [q, re] of cases) t.throws(() => parseLogql(q), { code: 'ERR_INVALID_ARGUMENT', message: re }, q);
});

t.test("label_replace: anchored regex, Go's $ expansion, an empty result removes the label, a miss changes nothing", async (t) => {
  await each(`label_replace(${A('level')}, "lvl", "$1-x", "level", "(e.*)")`, (r, w) => t.same(samples(r), ['{level=error,lvl=error-x}=4', '{level=info}=2'], w));
  await each(`label_replace(${A('level')}, "lvl", "rr", "level", "rr")`, (r, w) => t.same(samples(r), ['{level=error}=4', '{level=info}=2'], w), {}, CORPUS);
  await each(`label_replace(${A('level, env')}, "env", "", "env", "dev")`, (r, w) => t.same(samples(r), ['{env=prod,level=error}=3', '{env=prod,level=info}=2', '{level=error}=1'], w));
  await each(`label_replace(${A('level')}, "x", "\${name}_$$_$1x", "level", "(?P<name>[a-z])(.*)")`, (r, w) => t.same(samples(r), ['{level=error,x=e_$_}=4', '{level=info,x=i_$_}=2'], w));
  await each(`label_replace(${A('level')}, "x", "v", "missing", "")`, (r, w) => t.same(samples(r), ['{level=error,x=v}=4', '{level=info,x=v}=2'], w), {}, CORPUS);
  await refused(t, `label_replace(${A('level')}, "level", "same", "level", ".*")`, /label_replace made two series with the same labels/);
});

t.test('expandReplacement follows Go: $$, ${n}, $name as the longest name, malformed $ kept', async (t) => {
  const m = /^(?<word>[a-z]+)-(\d+)$/u.exec('abc-42') as RegExpExecArray;
  const cases: [string, string][] = [
    ['$1', 'abc'],
    ['$2', '42'],
    ['${2}x', '42x'],
    ['$2x', ''],
    ['$word.$0', 'abc.abc-42'],
    ['$$1', '$1'],
    ['$', '$'],
    ['${word', '${word'],
    ['$-', '$-'],
    ['$9', ''],
    ['$01', ''],
  ];
  for (const [tpl, want] of cases) t.equal(expandReplacement(tpl, m), want, tpl);
});

t.test('label_replace parse errors', async (t) => {
  t.throws(() => parseLogql('label_replace(1, "a", "b", "c", "d")'), { message: /label_replace needs a vector, not a scalar at 1:1/ });
  t.throws(() => parseLogql(`label_replace(${A('level')}, "a-b", "", "level", ".*")`), { message: /destination 'a-b' is not a valid label name at 1:1/ });
  t.throws(() => parseLogql(`label_replace(${A('level')}, "a", "", "level", "(")`), { message: /invalid regular expression .* at 1:\d+/ });
  t.throws(() => parseLogql(`label_replace(${A('level')}, "a", "")`), { message: /expected ',' and the source label \(a quoted string\) at 1:\d+/ });
});

t.test('sort and sort_desc order an instant answer by value; a range answer stays in label order', async (t) => {
  await each(`sort(${A('level, env')})`, (r, w) => t.same(samples(r), ['{env=dev,level=error}=1', '{env=prod,level=info}=2', '{env=prod,level=error}=3'], w));
  await each(`sort_desc(${A('level, env')})`, (r, w) => t.same(samples(r), ['{env=prod,level=error}=3', '{env=prod,level=info}=2', '{env=dev,level=error}=1'], w));
  await each(`label_replace(sort_desc(${A('level, env')}), "x", "y", "env", "dev")`, (r, w) => t.same(samples(r), ['{env=prod,level=error}=3', '{env=prod,level=info}=2', '{env=dev,level=error,x=y}=1'], w));
  await each(`sort_desc by (env) (${A('level, env')})`, (r, w) => t.same(samples(r), ['{env=dev,level=error}=1', '{env=prod,level=error}=3', '{env=prod,level=info}=2'], w));
  await each(`${A('level, env')} * 1`, (r, w) => t.same(samples(r), ['{env=dev,level=error}=1', '{env=prod,level=error}=3', '{env=prod,level=info}=2'], w));
  for (const [which, source] of sources(CORPUS)) {
    const r = await logqlEngine.evaluate(`sort_desc(${A('level')})`, params({ startNs: T0 + 60n * S, endNs: T0 + 120n * S, stepNs: 60n * S }), source);
    t.same(r.kind === 'matrix' ? r.series.map((s) => s.labels.map((l) => l.value).join()) : r.kind, ['error', 'info'], `${which}: matrix in label order`);
  }
});

t.test("pattern line filters follow Loki's documented examples", async (t) => {
  const cases: [string, string, boolean][] = [
    ['<_> bar', 'foo bar baz', false],
    ['<_> baz', 'foo bar baz', true],
    ['foo <_>', 'foo bar baz', true],
    ['<_> bar <_>', ' bar ', false],
    ['<_>bar<_>', ' bar ', true],
    ['bar <_>', 'foo bar baz', true],
    ['<_>', '', false],
    ['', '', true],
    ['', 'x', false],
    ['foo', 'xfoo', true],
    ['foo', 'foox', false],
  ];
  for (const [pattern, line, want] of cases) t.equal(testLinePattern(parseLinePattern(pattern) as PatternPart[], line), want, `${JSON.stringify(line)} |> ${JSON.stringify(pattern)}`);
  const corpus = [entry(1, 'GET /a 200 12ms', { app: 'p' }), entry(2, 'POST /b 500 3ms', { app: 'p' }), entry(3, 'GET /c 404 7ms', { app: 'p' })];
  const lines = (r: LogqlResult): string[] => (r.kind === 'streams' ? r.streams.flatMap((s) => s.entries.map((e) => e.line)) : []);
  await each('{app="p"} |> "GET <_> 200 <_>" or "<_> 500 <_>"', (r, w) => t.same(lines(r), ['POST /b 500 3ms', 'GET /a 200 12ms'], w), { startNs: T0, endNs: T0 + 10n * S }, corpus);
  await each('{app="p"} !> "GET <_>"', (r, w) => t.same(lines(r), ['POST /b 500 3ms'], w), { startNs: T0, endNs: T0 + 10n * S }, corpus);
  await each('count_over_time({app="p"} |> "<_> 404 <_>" [1m])', (r, w) => t.same(samples(r), ['{app=p}=1'], w), { startNs: T0 + 10n * S, endNs: T0 + 10n * S }, corpus);
  t.same(lineHints(parseLogql('{a="b"} |> "<_> GET <_> 200 <_>" or "POST <_>"') as never), [
    { contains: [' GET ', ' 200 '], caseInsensitive: false },
    { contains: ['POST '], caseInsensitive: false },
  ]);
  t.same(lineHints(parseLogql('{a="b"} |> "<_>"') as never), [], 'a pattern without literals requires nothing');
  t.throws(() => parseLogql('{a="b"} |> "<x> y"'), { message: /invalid pattern \(named captures are not allowed .*\) at 1:12/ });
  t.throws(() => parseLogql('{a="b"} !> "<_><_>"'), { message: /two captures in a row .* at 1:12/ });
});

t.test('decolorize strips ANSI colours; later filters see the plain line, and hints stop at it', async (t) => {
  const corpus = [entry(1, '\u001b[31mERROR\u001b[0m disk full', { app: 'c' }), entry(2, '\u001b[1;32mINFO\u001b[0m ok', { app: 'c' }), entry(3, 'plain ERROR', { app: 'c' })];
  const lines = (r: LogqlResult): string[] => (r.kind === 'streams' ? r.streams.flatMap((s) => s.entries.map((e) => e.line)) : []);
  await each('{app="c"} | decolorize |= "ERROR d"', (r, w) => t.same(lines(r), ['ERROR disk full'], w), { startNs: T0, endNs: T0 + 10n * S }, corpus);
  await each('{app="c"} | decolorize |> "INFO <_>"', (r, w) => t.same(lines(r), ['INFO ok'], w), { startNs: T0, endNs: T0 + 10n * S }, corpus);
  t.same(lineHints(parseLogql('{a="b"} |= "x" | decolorize |= "y"') as never), [{ contains: ['x'], caseInsensitive: false }], 'filters after decolorize give no hint');
});

t.test("rate_counter is Loki's extrapolated counter rate (resets counted, nanosecond times as Loki reads them)", async (t) => {
  const corpus = [entry(10, 'n=1', { app: 'k' }), entry(20, 'n=5', { app: 'k' }), entry(30, 'n=2', { app: 'k' }), entry(35, 'n=7', { app: 'j' })];
  // increase 2 - 1 plus the reset at 5 = 6; extrapolated by (2e7 + 60) / 2e7 (Loki's units); per second of the 1m range.
  const want = (6 * ((2e7 + 60) / 2e7)) / 60;
  await each('rate_counter({app=~"k|j"} | logfmt | unwrap n [1m])', (r, w) => {
    t.same(samples(r).map((x) => x.replace(/=[\d.e-]+$/, '')), ['{app=j}', '{app=k}'], w);
    t.ok(r.kind === 'vector' && Math.abs((r.samples[1]?.value ?? 0) - want) < 1e-12 && r.samples[0]?.value === 0, `${w}: ${JSON.stringify(samples(r))} (one sample gives 0)`);
  }, { startNs: T0 + 40n * S, endNs: T0 + 40n * S }, corpus);
  t.throws(() => parseLogql('rate_counter({a="b"}[1m])'), { message: /rate_counter needs '\| unwrap <label>' before the range/ });
  t.throws(() => parseLogql('rate_counter({a="b"} | unwrap x [1m]) by (a)'), { message: /rate_counter takes no by\/without/ });
});
