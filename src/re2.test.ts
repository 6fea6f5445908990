/**
 * re2.test.ts — RE2 patterns mean in JavaScript what they mean in Go's RE2:
 * a table of patterns with strings each must (not) match, every refusal with
 * its code, and the anchoring choice. The expectations are RE2's documented
 * behaviour (github.com/google/re2/wiki/Syntax), not this module's output.
 */
import t from 'tap';
import { compileRe2, re2Problem, translateRe2 } from './re2.js';

const BOUND = { bytesMax: 64, name: 'TestLimits.regexBytesMax' };

const CASES: readonly { readonly re: string; readonly yes: readonly string[]; readonly no: readonly string[] }[] = [
  { re: '(?i)api', yes: ['API', 'Api'], no: ['apix'] },
  { re: '(?s)a.b', yes: ['a\nb'], no: [] },
  { re: 'a.b', yes: ['axb', 'a😀b'], no: ['a\nb'] },
  { re: '(?P<x>a+)b', yes: ['aab'], no: ['b'] },
  { re: 'a\\-b\\/c\\:d', yes: ['a-b/c:d'], no: ['ab/c:d'] },
  { re: '[a\\-z]+', yes: ['a-z', 'zz'], no: ['b'] },
  { re: '\\Aab\\z', yes: ['ab'], no: [] },
  { re: '\\pL+', yes: ['héllo'], no: ['h1'] },
  { re: '\\p{Greek}+', yes: ['αβγ'], no: ['abc'] },
  { re: '\\x{1F600}', yes: ['😀'], no: ['x'] },
  { re: '\\Q1+1=2\\E', yes: ['1+1=2'], no: ['11=2'] },
  { re: 'a{2}', yes: ['aa'], no: ['a'] },
  { re: 'a{2,}', yes: ['aaa'], no: ['a'] },
  { re: 'x{', yes: ['x{'], no: ['x'] },
  { re: '{"k":1}', yes: ['{"k":1}'], no: [] },
  { re: 'a]', yes: ['a]'], no: [] },
  { re: '[]a]+', yes: [']a]'], no: ['b'] },
  { re: '[^]a]', yes: ['b'], no: [']', 'a'] },
  { re: '(?:ab)+', yes: ['abab'], no: ['aba'] },
];

t.test('RE2 patterns match, fully anchored, what RE2 matches', async (t) => {
  for (const c of CASES) {
    const re = compileRe2(c.re, true, BOUND, 'test');
    for (const s of c.yes) t.ok(re.test(s), `${c.re} matches ${JSON.stringify(s)}`);
    for (const s of c.no) t.notOk(re.test(s), `${c.re} does not match ${JSON.stringify(s)}`);
  }
});

t.test('unanchored patterns search anywhere; anchored ones match the whole value', async (t) => {
  t.ok(compileRe2('err', false, BOUND, 'test').test('an error here'));
  t.notOk(compileRe2('err', true, BOUND, 'test').test('an error here'));
  t.ok(compileRe2('a|b', true, BOUND, 'test').test('b'), 'alternation is grouped inside the anchors');
  t.notOk(compileRe2('a|b', true, BOUND, 'test').test('ab'));
});

t.test('what RE2 has not, or JavaScript cannot say, is refused with a stable code', async (t) => {
  const refused: readonly [string, RegExp][] = [
    ['(a)\\1', /backreferences/],
    ['(?<n>a)\\k<n>', /named backreferences/],
    ['a(?=b)', /lookaround/],
    ['a(?!b)', /lookaround/],
    ['(?<=a)b', /lookaround/],
    ['(?<!a)b', /lookaround/],
    ['(?U)a+', /flag "U"/],
    ['a(?i)b', /only at the start/],
    ['a\\', /trailing backslash/],
    ['(a', /invalid regular expression/],
    ['\\x{12', /unclosed/],
  ];
  for (const [re, why] of refused) {
    const p = re2Problem(re, BOUND);
    t.equal(p?.code, 'ERR_INVALID_ARGUMENT', `${re} refused`);
    t.match(p?.message, why, `${re}: ${p?.message}`);
    t.throws(() => compileRe2(re, true, BOUND, 'LogQL'), { code: 'ERR_INVALID_ARGUMENT', message: /^LogQL: / });
  }
  const long = re2Problem('a'.repeat(65), BOUND);
  t.equal(long?.code, 'ERR_LIMIT_EXCEEDED');
  t.match(long?.message, /TestLimits\.regexBytesMax \(64\)/);
  t.equal(re2Problem('a'.repeat(64), BOUND), null, 'the bound itself is allowed');
});

t.test('translation spells flags as RegExp flags, always with u', async (t) => {
  t.same(translateRe2('(?si)x'), { source: 'x', flags: 'uis' });
  t.same(translateRe2('x'), { source: 'x', flags: 'u' });
});
