/**
 * parser.test.ts — LogQL parsing and printing: Loki's documented examples
 * parse and print back to the same tree; seeded random trees round-trip;
 * malformed queries are refused naming the position and what was expected;
 * the LogqlLimits bounds hold.
 */
import t from 'tap';
import { LogqlLimits } from '../../limits.js';
import type { LogqlExpr } from './ast.js';
import { formatLogql } from './format.js';
import { caseRand, randomLogExpr, randomMetric } from './logql-test-gen.js';
import { parseLogql } from './parser.js';

const stable = (e: LogqlExpr): string => JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

const EXAMPLES = [
  '{container="query-frontend",namespace="loki-dev"} |= "metrics.go" | logfmt | duration > 10s and throughput_mb < 500',
  '{app="mysql",name=~"mysql.+"}',
  '{name!~"mysql-\\\\d+", env="prod"}',
  '{job="mysql"} |= "error" != "timeout"',
  '{name="kafka"} |~ "tsdb-ops.*io:2003"',
  '{app="foo"} |= "a" or "b" |~ `(?i)ERR\\w+`',
  '{app="foo"} | json first_server="servers[0]", ua="request.headers[\\"User-Agent\\"]"',
  '{app="foo"} | json | __error__ != "JSONParserErr"',
  '{app="foo"} | logfmt --strict --keep-empty host, status="status_code"',
  '{app="foo"} | regexp "(?P<method>\\\\w+) (?P<path>[\\\\w|/]+) \\\\((?P<status>\\\\d+?)\\\\) (?P<duration>.*)"',
  '{job="nginx"} | pattern `<ip> - - <_> "<method> <uri> <_>" <status> <size> <_> "<agent>" <_>`',
  '{app="foo"} | unpack | level =~ "err.*" or (status >= 500, size > 20MB)',
  '{app="foo"} | logfmt | line_format "{{.query}} {{ .duration | ToUpper }}" | label_format dst=src, msg="{{ default \\"none\\" .msg }}"',
  '{app="foo"} | logfmt | drop level, method="GET", path=~"/api.*" | keep level, status',
  'count_over_time({job="mysql"}[5m])',
  'sum by (host) (rate({job="mysql"} |= "error" != "timeout" | json | duration > 10s [1m]))',
  'topk(10, sum(rate({region="us-east1"}[5m])) by (name))',
  'quantile_over_time(0.99, {cluster="ops-tools1",container="ingress-nginx"} | json | __error__ = "" | unwrap request_time [1m]) by (path)',
  'sum by (org_id) (sum_over_time({cluster="ops-tools1",container="loki-dev"} |= "metrics.go" | logfmt | unwrap bytes(bytes_processed) [1m]))',
  'avg_over_time({app="a"} | logfmt | unwrap duration_seconds(latency) | __error__="" [5m] offset 1h) without (pod)',
  'sum(rate({app="foo", level="warn"}[1m])) / sum(rate({app="foo", level="error"}[1m])) > bool 0.5',
  'sum(count_over_time({app="a"}[1m])) by (level) and on (level) sum(count_over_time({app="b"}[1m])) by (level, env) or absent_over_time({app="c"}[1m])',
  '2 * 3 ^ 2 ^ 0.5 - 1',
  'sum(rate({app="a"}[1m])) or vector(0)',
  'bottomk by (level) (2, bytes_rate({app="a"}[30s])) unless ignoring (env) bytes_over_time({app="b"}[30s])',
  'sum by (level, env) (rate({a="b"}[1m])) / on (level) group_left (team) sum by (level, team) (rate({a="c"}[1m]))',
  'sum by (level) (rate({a="b"}[1m])) - ignoring (env) group_right sum by (level, env) (rate({a="c"}[1m]))',
  'label_replace(rate({a="b"}[1m]), "foo", "$1", "service", "(.*):.*")',
  'sort_desc(sum by (a) (rate({a="b"}[1m])))',
  '{a="b"} |> "<_> error <_>" or "<_> fatal <_>" !> "<_> debug <_>" | decolorize',
  'rate_counter({a="b"} | logfmt | unwrap n [1m])',
];

t.test('Loki documentation examples parse and print back to the same tree', async (t) => {
  for (const q of EXAMPLES) {
    const e = parseLogql(q);
    const printed = formatLogql(e);
    t.equal(stable(parseLogql(printed)), stable(e), `round trip: ${q}\n  printed: ${printed}`);
  }
});

t.test('precedence: * over +, ^ right-associative, and over or, or-alternatives of line filters', async (t) => {
  const e = parseLogql('1 + 2 * 3');
  t.match(e, { kind: 'binary', op: '+', rhs: { kind: 'binary', op: '*' } });
  t.match(parseLogql('2 ^ 3 ^ 2'), { kind: 'binary', op: '^', lhs: { kind: 'number', value: 2 }, rhs: { kind: 'binary', op: '^' } });
  t.match(parseLogql('{a="b"} | x="1" or y="2" and z="3"'), { stages: [{ kind: 'labelFilter', expr: { kind: 'or', rhs: { kind: 'and' } } }] });
  t.match(parseLogql('{a="b"} |= "x" or "y" != "z"'), { stages: [{ kind: 'lineFilter', op: '|=', values: ['x', 'y'] }, { kind: 'lineFilter', op: '!=', values: ['z'] }] });
  t.match(parseLogql('{a="b"} | size > 1.5KiB, d >= 1m30s'), { stages: [{ expr: { kind: 'and', lhs: { kind: 'bytes', value: 1536 }, rhs: { kind: 'duration', valueNs: 90_000_000_000n } } }] });
  t.match(parseLogql('{a="b"} | keep x !~ "y"'), { stages: [{ kind: 'keep', items: [{ name: 'x', matcher: null }] }, { kind: 'lineFilter', op: '!~' }] }, 'a spaced !~ after keep is a line filter');
  t.match(parseLogql('{a="b"} | keep x!~"y"'), { stages: [{ kind: 'keep', items: [{ name: 'x', matcher: { op: '!~', value: 'y' } }] }] }, 'an adjacent one is the item matcher');
});

t.test('seeded random queries print and reparse to the same tree', async (t) => {
  let n = 0;
  for (let i = 0; i < 2000; i++) {
    const r = caseRand(424242, i);
    const e: LogqlExpr = i % 2 === 0 ? randomLogExpr(r) : randomMetric(r);
    const text = formatLogql(e);
    if (stable(parseLogql(text)) !== stable(e)) {
      t.fail(`round trip failed (seed 424242 case ${i}): ${text}`);
      return;
    }
    n++;
  }
  t.equal(n, 2000);
});

const ERRORS: readonly (readonly [string, RegExp])[] = [
  ['{a="b"} |= ', /expected a quoted string after the line filter at 1:12, found end of query/],
  ['{a=""}', /at least one equality or regex matcher that does not match the empty value at 1:1/],
  ['{a=~".*"}', /does not match the empty value at 1:1/],
  ['{}', /at 1:1/],
  ['{a="b"', /expected ',' or '}' at 1:7/],
  ['{a="b"} | json | x > "s"', /'>' compares numbers, durations or byte sizes, not strings at 1:20/],
  ['{a="b"} | bogus', /expected a parser .* at 1:11, found 'bogus'/],
  ['{a="b"} |~ "(unclosed"', /invalid regular expression .* at 1:12/],
  ['{a="b"} |~ "(a)\\\\1"', /RE2 has no backreferences\) at 1:12/],
  ['count_over_time({a="b"} | unwrap x [1m])', /count_over_time counts log lines and takes no unwrap at 1:1/],
  ['sum_over_time({a="b"} [1m])', /sum_over_time needs '\| unwrap <label>' before the range at 1:23/],
  ['count_over_time({a="b"}[1m]) by (x)', /takes no by\/without/],
  ['rate({a="b"})', /expected a pipeline stage, '\| unwrap' or a range such as \[5m\] at 1:13/],
  ['sum(', /expected a number, a range aggregation .* at 1:5, found end of query/],
  ['1 > 2', /a comparison between scalars needs 'bool' at 1:3/],
  ['1 and 2', /set operator 'and' needs vectors on both sides/],
  ['topk(0, count_over_time({a="b"}[1m]))', /topk's k must be a positive integer at 1:6/],
  ['{a="b"} | pattern "<a><b>"', /invalid pattern \(two captures in a row/],
  ['{a="b"} | pattern "plain"', /invalid pattern \(at least one named capture/],
  ['{a="b"} | regexp "(\\\\w+)"', /needs at least one named capture group/],
  ['{a="b"} | line_format "{{ .a | nope }}"', /invalid template/],
  ['{a="b"} | label_format x=y, x=z', /label_format sets 'x' twice/],
  ['{a="b"}\n  | json |= 5', /expected a quoted string after the line filter at 2:13, found '5'/],
  ['count_over_time({a="b"}[5x])', /expected a number, a duration .* at 1:25/],
  ['{a="b"} |= "\\q"', /unknown escape/],
  ['{a="b"} | json x="a[\\"\\\\q\\"]"', /expected a path such as/],
  ['{a="b"} | json x="a..b["', /expected a path such as .* at 1:18/],
  ['sum(1)', /sum needs a vector, not a scalar/],
  ['count_over_time({a="b"}[1m]) + {a="b"}', /a log query cannot be an operand/],
  ['{a="b"} | x = 1 | sum', /expected a parser/],
];

t.test('malformed queries name the position and what was expected', async (t) => {
  for (const [q, re] of ERRORS) {
    try {
      parseLogql(q);
      t.fail(`accepted: ${q}`);
    } catch (err) {
      t.match(err, { code: 'ERR_INVALID_ARGUMENT', message: re }, q);
    }
  }
});

t.test('limits: query bytes, nesting, regex bytes and stages are ERR_LIMIT_EXCEEDED', async (t) => {
  t.throws(() => parseLogql(`{a="${'x'.repeat(LogqlLimits.queryBytesMax)}"}`), { code: 'ERR_LIMIT_EXCEEDED' });
  const deep = `${'('.repeat(LogqlLimits.nestingDepthMax + 1)}1${')'.repeat(LogqlLimits.nestingDepthMax + 1)}`;
  t.throws(() => parseLogql(deep), { code: 'ERR_LIMIT_EXCEEDED' });
  t.throws(() => parseLogql(`{a="b"} |~ "${'a'.repeat(LogqlLimits.regexBytesMax + 1)}"`), { code: 'ERR_LIMIT_EXCEEDED' });
  t.throws(() => parseLogql(`{a="b"}${' |= "x"'.repeat(LogqlLimits.stagesMax + 1)}`), { code: 'ERR_LIMIT_EXCEEDED' });
});

t.test('quoted strings with escapes, control characters and non-ASCII text round-trip', async (t) => {
  for (const v of ['a"b', 'back\\slash', 'line\nbreak\ttab\r', '\u0001\u007f', 'čeněk ſ K 🙂', '{{.x}}', '']) {
    const e = { kind: 'log' as const, matchers: [{ name: 'a', op: '=' as const, value: 'b' }], stages: [{ kind: 'lineFilter' as const, op: '|=' as const, values: [v] }] };
    t.same(parseLogql(formatLogql(e)), e, JSON.stringify(v));
  }
  t.same(parseLogql('{a="b"} |= `raw \\d "quotes"`'), { kind: 'log', matchers: [{ name: 'a', op: '=', value: 'b' }], stages: [{ kind: 'lineFilter', op: '|=', values: ['raw \\d "quotes"'] }] }, 'backticks are raw');
  t.match(parseLogql('{a="b"} # a comment\n |= "x"'), { stages: [{ kind: 'lineFilter', values: ['x'] }] }, '# comments run to the end of the line');
});
