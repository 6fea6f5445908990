/**
 * re2-guard.test.ts — the engine choice of query regexes: the backtracking
 * shape read off patterns, the value lengths it allows on V8, an
 * exponential pattern run on the linear engine, and both engines giving the
 * same answers (match, whole match, groups) over seeded random RE2 patterns
 * and values — which also checks re2.ts's translation against a port of
 * Go's regexp.
 */
import t from 'tap';
import { compileRe2 } from './re2.js';
import { Re2Regex, backtrackShape, backtrackingCharsMax } from './re2-guard.js';
import type { BacktrackShape } from './re2-guard.js';
import { Re2Limits } from './limits.js';
import { translateRe2 } from './re2.js';
import { SeededRand } from './fs/seeded-rand.js';

const BOUND = { bytesMax: 4096, name: 'TestLimits.regexBytesMax' };

function shapeOf(re2: string): BacktrackShape {
  const tr = translateRe2(re2);
  if ('code' in tr) throw new Error(`test pattern ${re2} does not translate: ${tr.message}`);
  return backtrackShape(tr.source);
}

t.test('backtrackShape: nesting, unbounded repeats and branching, escapes and classes read as atoms', async (t) => {
  const cases: [string, BacktrackShape][] = [
    ['abc', { nested: false, unbounded: 0, branching: 1 }],
    ['x.*y', { nested: false, unbounded: 1, branching: 1 }],
    ['(a+)+b', { nested: true, unbounded: 2, branching: 1 }],
    ['(?:a|b)*c', { nested: true, unbounded: 1, branching: 2 }],
    ['(?:ab)+', { nested: false, unbounded: 1, branching: 1 }],
    ['(?P<n>a|bc)d', { nested: false, unbounded: 0, branching: 2 }],
    ['a?a?a?aaa', { nested: false, unbounded: 0, branching: 8 }],
    ['\\d{1,3}\\.\\d{1,3}', { nested: false, unbounded: 0, branching: 9 }],
    ['(?:\\d{1,3}\\.){3}', { nested: true, unbounded: 0, branching: 3 }],
    ['a{2,100}', { nested: false, unbounded: 1, branching: 1 }],
    ['[*+?(|]\\*\\(\\|x{', { nested: false, unbounded: 0, branching: 1 }],
    ['(?i).*foo.*bar.*', { nested: false, unbounded: 3, branching: 1 }],
    ['a|b|c', { nested: false, unbounded: 0, branching: 3 }],
    ['(?:a|b)?', { nested: false, unbounded: 0, branching: 4 }],
    ['(?:a?)+', { nested: true, unbounded: 1, branching: 2 }],
  ];
  for (const [re, want] of cases) t.same(shapeOf(re), want, re);
});

t.test('backtrackingCharsMax: nested never, otherwise the longest value within backtrackStepsMax', async (t) => {
  t.equal(backtrackingCharsMax({ nested: true, unbounded: 0, branching: 1 }), -1, 'nested: the linear engine for every value');
  t.equal(backtrackingCharsMax({ nested: false, unbounded: 0, branching: 1 }), Re2Limits.backtrackStepsMax - 1);
  t.equal(backtrackingCharsMax({ nested: false, unbounded: 1, branching: 1 }), Math.floor(Math.sqrt(Re2Limits.backtrackStepsMax)) - 1);
  t.equal(backtrackingCharsMax({ nested: false, unbounded: 0, branching: Re2Limits.backtrackStepsMax * 2 }), -1, 'branching alone past the bound');
  for (const shape of [
    { nested: false, unbounded: 1, branching: 1 },
    { nested: false, unbounded: 2, branching: 4 },
    { nested: false, unbounded: 3, branching: 9 },
  ]) {
    const n = backtrackingCharsMax(shape);
    const steps = (k: number): number => shape.branching * Math.pow(k + 1, shape.unbounded + 1);
    t.ok(n >= 0 && steps(n) <= Re2Limits.backtrackStepsMax && steps(n + 1) > Re2Limits.backtrackStepsMax, `${JSON.stringify(shape)}: ${n} chars is the longest within the bound`);
  }
});

t.test('an exponential pattern runs on the linear engine and answers', async (t) => {
  const re = compileRe2('(a+)+b', true, BOUND, 'test');
  const evil = 'a'.repeat(50_000);
  t.equal(re.backtrackingCharsMax, -1);
  t.equal(re.engineFor(evil), 'linear');
  t.notOk(re.test(evil), 'no b: no match (V8 would backtrack 2^50,000 ways)');
  t.ok(re.test(`${evil}b`));
  const quadratic = compileRe2('x.*y', false, BOUND, 'test');
  t.equal(quadratic.engineFor('x'.repeat(100)), 'backtracking', 'a short value stays on V8');
  t.equal(quadratic.engineFor('x'.repeat(100_000)), 'linear', 'a long one does not (quadratic on V8)');
  t.notOk(quadratic.test('x'.repeat(100_000)));
  const m = compileRe2('(?P<k>[a-z]+)=(\\d+)', false, BOUND, 'test').execOn('linear', 'id: user=42;');
  t.same(m === null ? null : [...m], ['user=42', 'user', '42'], 'exec on the linear engine: numbered groups');
  t.same(m?.groups, { k: 'user' }, 'named groups');
  t.equal(m?.index, 4, 'and where the match starts');
});

/** randomPattern draws an RE2 pattern over a small alphabet, with groups, classes, repeats and alternation. */
function randomPattern(r: SeededRand, depth: number, names: { n: number }): string {
  const atom = (): string => {
    const k = r.intn(depth > 2 ? 7 : 10);
    if (k === 0) return 'a';
    if (k === 1) return 'b';
    if (k === 2) return '.';
    if (k === 3) return '[ab]';
    if (k === 4) return '[^a]';
    if (k === 5) return '\\d';
    if (k === 6) return 'A';
    if (k === 7) return `(?:${randomPattern(r, depth + 1, names)})`;
    if (k === 8) return `(${randomPattern(r, depth + 1, names)})`;
    return `(?P<g${names.n++}>${randomPattern(r, depth + 1, names)})`;
  };
  const quant = ['', '', '', '*', '+', '?', '{1,2}', '{2}', '*?', '+?', '??'];
  const concat = (): string => {
    let out = '';
    const n = 1 + r.intn(3);
    for (let i = 0; i < n; i++) out += atom() + (quant[r.intn(quant.length)] as string);
    return out;
  };
  return r.intn(4) === 0 ? `${concat()}|${concat()}` : concat();
}

function randomValue(r: SeededRand): string {
  const chars = ['a', 'b', 'A', '1', '\n', '😀', 'é'];
  let s = '';
  const n = r.intn(9);
  for (let i = 0; i < n; i++) s += chars[r.intn(chars.length)] as string;
  return s;
}

/** differences lists where the two engines of `re` disagree on `value` (booleans, match starts, anchored extents). */
function differences(re: Re2Regex, anchored: boolean, value: string): string[] {
  const out: string[] = [];
  const js = re.testOn('backtracking', value);
  const linear = re.testOn('linear', value);
  if (js !== linear) out.push(`test: V8 ${js}, linear ${linear}`);
  const a = re.execOn('backtracking', value);
  const b = re.execOn('linear', value);
  // Unanchored, the match's extent may differ (the NB in re2.ts: ECMAScript refuses an empty iteration of a
  // repeated group, RE2 does not); where it starts, and anchored matches, may not.
  const extentDiffers = anchored && a !== null && b !== null && a[0] !== b[0];
  if ((a === null) !== (b === null) || extentDiffers || (a !== null && b !== null && a.index !== b.index)) {
    out.push(`match: V8 ${JSON.stringify(a?.[0])}@${a?.index}, linear ${JSON.stringify(b?.[0])}@${b?.index}`);
  }
  return out;
}

t.test('planted: a mistranslation (no u flag: `.` is one UTF-16 unit) is caught by the comparison', async (t) => {
  const planted = new Re2Regex('a.b', /^(?:a.b)$/, true, 'a.b');
  t.same(differences(planted, true, 'axb'), [], 'agrees on ASCII');
  t.not(differences(planted, true, 'a😀b').length, 0, 'disagrees on an astral character');
  t.same(differences(compileRe2('a.b', true, BOUND, 'test'), true, 'a😀b'), [], 'the real translation agrees');
});

t.test('both engines answer the same over seeded random patterns and values', async (t) => {
  const seed = Number(process.env.RE2_SEED ?? 20261128);
  const r = new SeededRand(seed);
  let compared = 0;
  let matched = 0;
  for (let p = 0; p < 400; p++) {
    const flags = ['', '', '(?i)', '(?s)', '(?m)', '(?is)'][r.intn(6)] as string;
    const pattern = flags + randomPattern(r, 0, { n: 0 });
    for (const anchored of [true, false]) {
      const re = compileRe2(pattern, anchored, BOUND, 'test');
      for (let v = 0; v < 12; v++) {
        const value = randomValue(r);
        const how = `pattern ${JSON.stringify(pattern)} ${anchored ? 'anchored' : 'search'} on ${JSON.stringify(value)} (RE2_SEED=${seed})`;
        for (const d of differences(re, anchored, value)) t.fail(`${d}: ${how}`);
        compared++;
        if (re.testOn('linear', value)) matched++;
      }
    }
  }
  t.ok(matched > compared / 10 && matched < compared - compared / 10, `${matched} of ${compared} matched: both outcomes well represented`);
});
