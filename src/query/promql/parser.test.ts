import t from 'tap';
import { OtlpdbError } from '../../errors.js';
import type { Expr } from './ast.js';
import { formatPromql } from './format.js';
import { OracleCorpus } from './oracle-corpus.js';
import { parseDurationMs, unquote } from './literals.js';
import { parsePromql } from './parser.js';

function parseError(q: string): OtlpdbError {
  try {
    parsePromql(q);
  } catch (err) {
    if (err instanceof OtlpdbError) return err;
    throw err;
  }
  throw new Error(`expected ${q} to be refused`);
}

t.test('syntax errors name the position (char and line:col) and what was expected', async (t) => {
  const cases: [string, number, string, RegExp][] = [
    ['sum(foo', 7, '1:8', /unexpected end of input, expected an expression, "," or "\)"/],
    ['foo{a=}', 6, '1:7', /expected a label matcher operator and a quoted value/],
    ['rate(foo[5m]', 12, '1:13', /unexpected end of input/],
    ['foo +\n  ', 8, '2:3', /unexpected end of input/],
    ['', 0, '1:1', /expected an expression/],
  ];
  for (const [q, offset, lc, re] of cases) {
    const e = parseError(q);
    t.equal(e.code, 'ERR_INVALID_ARGUMENT', q);
    t.equal(e.details['offset'], offset, `${JSON.stringify(q)} offset`);
    t.match(e.message, `line ${lc}`, `${JSON.stringify(q)} line:col`);
    t.match(e.message, re, `${JSON.stringify(q)} expectation`);
  }
});

t.test('semantic errors as Prometheus words them', async (t) => {
  const cases: [string, RegExp][] = [
    ['rate(foo)', /expected type range vector in call to function "rate", got instant vector/],
    ['sum(foo[5m])', /expected type instant vector in aggregation expression, got range vector/],
    ['foo[5m] + 1', /binary expression must contain only scalar and instant vector types/],
    ['1 > 2', /comparisons between scalars must use BOOL modifier/],
    ['foo and 1', /set operator "and" not allowed in binary scalar expression/],
    ['foo + bool bar', /bool modifier can only be used on comparisons/],
    ['foo and on (a) group_left bar', /no grouping allowed for "and" operation/],
    ['foo * on (a) group_left (a) bar', /label "a" must not occur in ON and GROUP clause at once/],
    ['round()', /expected at least 1 argument\(s\) in call to "round", got 0/],
    ['round(foo, 1, 2)', /expected at most 2 argument\(s\) in call to "round", got 3/],
    ['time(foo)', /expected 0 argument\(s\) in call to "time", got 1/],
    ['topk(foo)', /wrong number of arguments for aggregate expression provided, expected 2, got 1/],
    ['unknown_fn(foo)', /unknown function with name "unknown_fn"/],
    ['foo offset 5m offset 1m', /offset may not be set multiple times/],
    ['foo @ 1 @ 2', /@ <timestamp> may not be set multiple times/],
    ['(foo + 1) offset 5m', /offset modifier must be preceded by an instant vector selector/],
    ['{job=""}', /vector selector must contain at least one non-empty matcher/],
    ['foo{__name__="bar"}', /metric name must not be set twice/],
    ['label_replace(foo, "1a", "", "", "")', /invalid destination label name in label_replace\(\): 1a/],
    ['-foo[5m]', /unary expression only allowed on expressions of type scalar or instant vector/],
    ['foo{a=~"("}', /invalid regular expression/],
    ['(foo)[5m]', /ranges only allowed for vector selectors/],
    ['limitk(1, foo)', /unsupported aggregation|unsupported syntax/],
  ];
  for (const [q, re] of cases) {
    const e = parseError(q);
    t.equal(e.code, 'ERR_INVALID_ARGUMENT', q);
    t.match(e.message, re, q);
  }
});

t.test('a query past the length bound is ERR_LIMIT_EXCEEDED', async (t) => {
  t.equal(parseError(`foo${' '.repeat(70_000)}`).code, 'ERR_LIMIT_EXCEEDED');
  t.equal(parseError(`${'('.repeat(200)}foo${')'.repeat(200)}`).code, 'ERR_LIMIT_EXCEEDED');
});

t.test('postfix modifiers bind to the nearest operand, as in Prometheus', async (t) => {
  const e = parsePromql('a + b offset 5m');
  t.equal(e.type, 'binary');
  if (e.type !== 'binary') return;
  t.match(e.lhs, { type: 'vectorSelector', name: 'a', offsetMs: 0 });
  t.match(e.rhs, { type: 'vectorSelector', name: 'b', offsetMs: 300_000 });
  const s = parsePromql('1 + max_over_time(rate(x[5m])[10m:1m] @ 100)');
  t.match(s, { type: 'binary', rhs: { type: 'call', args: [{ type: 'subquery', rangeMs: 600_000, stepMs: 60_000, at: { kind: 'time', timeMs: 100_000 } }] } });
  t.match(parsePromql('foo[5m] offset -1m @ start()'), { type: 'matrixSelector', rangeMs: 300_000, selector: { offsetMs: -60_000, at: { kind: 'start' } } });
  t.match(parsePromql('-2 ^ 2'), { type: 'unary', op: '-', expr: { type: 'binary', op: '^' } });
  t.match(parsePromql('a or b @ 1 * 3'), { type: 'binary', op: 'or', rhs: { type: 'binary', op: '*', lhs: { type: 'vectorSelector', name: 'b', at: { kind: 'time', timeMs: 1000 } } } }, 'precedence survives a pushed-down modifier');
  t.match(parseError('(a or b) @ 1').message, /@ modifier must be preceded by an instant vector selector/, 'parentheses stop the push');
});

t.test('precedence and associativity', async (t) => {
  t.equal(formatPromql(parsePromql('a or b and c')), 'a or b and c');
  t.match(parsePromql('a or b and c'), { type: 'binary', op: 'or', rhs: { type: 'binary', op: 'and' } });
  t.match(parsePromql('a - b - c'), { type: 'binary', op: '-', lhs: { type: 'binary', op: '-' } });
  t.match(parsePromql('a ^ b ^ c'), { type: 'binary', op: '^', rhs: { type: 'binary', op: '^' } });
  t.match(parsePromql('a > b + c * d'), { type: 'binary', op: '>', rhs: { type: 'binary', op: '+', rhs: { type: 'binary', op: '*' } } });
});

t.test('literals: numbers, durations, strings', async (t) => {
  t.match(parsePromql('0x1f'), { type: 'number', value: 31 });
  t.match(parsePromql('1.5e3'), { type: 'number', value: 1500 });
  t.match(parsePromql('Inf'), { type: 'number', value: Infinity });
  t.ok(Number.isNaN((parsePromql('NaN') as { value: number }).value));
  t.equal(parseDurationMs('1h30m'), 5_400_000);
  t.equal(parseDurationMs('500ms'), 500);
  t.equal(parseDurationMs('1x'), null);
  t.equal(unquote('"a\\nb\\"c\\u00e9"'), 'a\nb"cé');
  t.equal(unquote("'it\\'s'"), "it's");
  t.equal(unquote('`raw\\n`'), 'raw\\n');
  t.match(parsePromql('foo{a="x", b!="y", c=~"z.*", d!~"w"}'), { matchers: [{ name: '__name__', op: '=', value: 'foo' }, { name: 'a', op: '=' }, { name: 'b', op: '!=' }, { name: 'c', op: '=~' }, { name: 'd', op: '!~' }] });
});

t.test('formatter round trip: parse(format(e)) formats the same, over the oracle corpus and hand-made trees', async (t) => {
  let n = 0;
  for (const q of OracleCorpus) {
    let e: Expr;
    try {
      e = parsePromql(q);
    } catch {
      continue;
    }
    const once = formatPromql(e);
    const twice = formatPromql(parsePromql(once));
    if (once !== twice) t.fail(`${q}: ${once} vs ${twice}`);
    n++;
  }
  t.ok(n > 200, `${n} queries round-tripped`);
  // Trees the pushdown builds need parentheses the text never wrote.
  const a: Expr = { type: 'vectorSelector', name: 'a', matchers: [{ name: '__name__', op: '=', value: 'a' }], offsetMs: 0, at: null };
  const sum: Expr = { type: 'binary', op: '+', lhs: a, rhs: a, returnBool: false, matching: null };
  const tree: Expr = { type: 'binary', op: '*', lhs: sum, rhs: { type: 'unary', op: '-', expr: sum }, returnBool: false, matching: null };
  t.equal(formatPromql(tree), '(a + a) * -(a + a)');
  t.equal(formatPromql(parsePromql(formatPromql(tree))), '(a + a) * -(a + a)');
  const sq: Expr = { type: 'subquery', expr: sum, rangeMs: 600_000, stepMs: 0, offsetMs: 60_000, at: { kind: 'time', timeMs: 1500 } };
  t.equal(formatPromql(sq), '(a + a)[10m:] @ 1.5 offset 1m');
  t.same(parsePromql(formatPromql(sq)), { ...sq, expr: { type: 'paren', expr: sum } });
});
