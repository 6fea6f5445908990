/**
 * hints.test.ts — LineHints: what they derive for Loki's typical filters, and
 * their soundness property: for seeded random line filters (literals and
 * random regexes, `(?i)`, `or` alternatives, chains) and random lines, a
 * line that passes every filter satisfies one of the hints. Planted bugs in
 * the derivation (case-insensitivity dropped; `or` alternatives cut to the
 * first) must be caught by the property. LOGQL_HINT_SEED overrides the seed.
 */
import t from 'tap';
import type { SeededRand } from '../../fs/seeded-rand.js';
import type { LogExpr, Stage } from './ast.js';
import { formatLogExpr } from './format.js';
import { hintsAdmit, lineHints } from './hints.js';
import { caseRand, pick } from './logql-test-gen.js';
import { compilePipeline } from './pipeline.js';
import { parseLogql } from './parser.js';
import type { LineHint } from './source.js';

const hintsOf = (q: string): LineHint[] => lineHints(parseLogql(q) as LogExpr);

t.test('hints of typical filters', async (t) => {
  t.same(hintsOf('{a="b"}'), [], 'no filter: no hint');
  t.same(hintsOf('{a="b"} |= "error"'), [{ contains: ['error'], caseInsensitive: false }]);
  t.same(hintsOf('{a="b"} |= "error" or "warn"'), [
    { contains: ['error'], caseInsensitive: false },
    { contains: ['warn'], caseInsensitive: false },
  ]);
  t.same(hintsOf('{a="b"} |= "error" |= "db"'), [{ contains: ['error', 'db'], caseInsensitive: false }], 'a chain is a conjunction');
  t.same(hintsOf('{a="b"} |~ "error.*timeout"'), [{ contains: ['error', 'timeout'], caseInsensitive: false }]);
  t.same(hintsOf('{a="b"} |~ "(?i)error.*timeout"'), [{ contains: ['error', 'timeout'], caseInsensitive: true }]);
  t.same(hintsOf('{a="b"} |~ "GET|POST"'), [
    { contains: ['GET'], caseInsensitive: false },
    { contains: ['POST'], caseInsensitive: false },
  ]);
  t.same(hintsOf('{a="b"} |~ "time(out)?s"'), [
    { contains: ['times'], caseInsensitive: false },
    { contains: ['timeouts'], caseInsensitive: false },
  ]);
  t.same(hintsOf('{a="b"} |~ "status=5\\\\d\\\\d"'), [{ contains: ['status=5'], caseInsensitive: false }]);
  t.same(hintsOf('{a="b"} |~ "x*"'), [], 'a pattern that matches the empty line requires nothing');
  t.same(hintsOf('{a="b"} != "error" !~ "x"'), [], 'negative filters require nothing');
  t.same(hintsOf('{a="b"} |= "x" or ""'), [], 'an empty alternative requires nothing');
  t.same(hintsOf('{a="b"} | line_format "{{.a}}" |= "error"'), [], 'filters after line_format test another line');
  t.same(hintsOf('{a="b"} |= "error" | json | level="x" |= "db"'), [{ contains: ['error', 'db'], caseInsensitive: false }], 'parsers and label filters keep the line');
  t.same(hintsOf('{a="b"} |= "A" |~ "(?i)b"'), [{ contains: ['A', 'b'], caseInsensitive: true }], 'mixing makes the hint case-insensitive (weaker, still sound)');
  t.throws(() => hintsOf('{a="b"} |~ "a(?i)b"'), { code: 'ERR_INVALID_ARGUMENT' }, 'inner flag groups are refused (JavaScript has none; see README)');
});

const ALPHABET = ['a', 'b', 'e', 'r', 'o', 'E', 'R', 'O', 'x', ' ', '.', '1', '5', 'ſ', 'K', 'k', 's', 'S', '\n'];
const WORDS = ['err', 'ERR', 'or', 'a.b', 'sk', 'SK', 'ok', 'e', 'r5', 'Kr', ''];

function randomRegex(r: SeededRand, depth = 0): string {
  const atom = (): string => {
    switch (r.intn(depth < 2 ? 9 : 6)) {
      case 0:
      case 1:
        return pick(r, ['e', 'r', 'o', 'k', 's', 'x', 'E']);
      case 2:
        return pick(r, ['.', '\\d', '[a-e]', '\\.', '\\s', '[^x]']);
      case 3:
        return pick(r, ['err', 'ok', 'sk', 'a\\.b']);
      case 4:
        return '\\b';
      case 5:
        return pick(r, ['^', '$']);
      default:
        return `(${r.intn(2) === 0 ? '?:' : ''}${randomRegex(r, depth + 1)}${r.intn(2) === 0 ? `|${randomRegex(r, depth + 1)}` : ''})`;
    }
  };
  let out = '';
  const n = 1 + r.intn(4);
  for (let i = 0; i < n; i++) {
    const a = atom();
    // JavaScript refuses a quantified assertion.
    const assertion = a === '^' || a === '$' || a === '\\b';
    out += a + (!assertion && r.intn(4) === 0 ? pick(r, ['?', '*', '+', '{1,2}', '{2}', '??', '+?', '{0,1}']) : '');
  }
  if (depth === 0 && r.intn(4) === 0) out += `|${randomRegex(r, 1)}`;
  return out;
}

function randomFilters(r: SeededRand): LogExpr {
  const stages: Stage[] = [];
  const n = 1 + r.intn(3);
  for (let i = 0; i < n; i++) {
    const op = pick(r, ['|=', '|~', '|~', '!=', '!~'] as const);
    const alts = 1 + (r.intn(3) === 0 ? 1 : 0);
    const values = Array.from({ length: alts }, () => (op === '|=' || op === '!=' ? pick(r, WORDS) : `${r.intn(3) === 0 ? '(?i)' : ''}${randomRegex(r)}`));
    stages.push({ kind: 'lineFilter', op, values });
  }
  return { kind: 'log', matchers: [{ name: 'a', op: '=', value: 'b' }], stages };
}

function randomLine(r: SeededRand): string {
  let out = '';
  const n = r.intn(14);
  for (let i = 0; i < n; i++) out += r.intn(3) === 0 ? pick(r, WORDS) : pick(r, ALPHABET);
  return out;
}

type Derive = (log: LogExpr) => LineHint[];

/** soundness checks `cases` random filter sets against random lines; returns the first counterexample or null. */
function soundness(derive: Derive, seed: number, cases: number, stats?: { passed: number; hinted: number }): string | null {
  for (let c = 0; c < cases; c++) {
    const r = caseRand(seed, c);
    const log = randomFilters(r);
    const text = formatLogExpr(log);
    const parsed = parseLogql(text) as LogExpr;
    const hints = derive(parsed);
    if (stats !== undefined && hints.length > 0) stats.hinted++;
    const pipeline = compilePipeline(parsed);
    for (let i = 0; i < 40; i++) {
      const line = randomLine(r);
      const passes = pipeline.run({ stream: [{ name: 'a', value: 'b' }], timeNs: 0n, line, metadata: [] }) !== null;
      if (!passes) continue;
      if (stats !== undefined) stats.passed++;
      if (!hintsAdmit(hints, line)) return `seed ${seed} case ${c}: query ${text}\nline ${JSON.stringify(line)} passes but no hint admits it: ${JSON.stringify(hints)}`;
    }
  }
  return null;
}

const SEED = Number(process.env.LOGQL_HINT_SEED ?? 777);

t.test('soundness: a line that passes the filters satisfies one of the hints', async (t) => {
  const stats = { passed: 0, hinted: 0 };
  const failure = soundness(lineHints, SEED, 3000, stats);
  t.equal(failure, null, failure ?? 'sound');
  t.comment(`lines passing: ${stats.passed}, filter sets with hints: ${stats.hinted}/3000`);
  t.ok(stats.passed > 5000, 'enough lines pass the filters for the property to mean something');
  t.ok(stats.hinted > 1000, 'enough filter sets derive hints');
});

t.test('the soundness property catches planted bugs', async (t) => {
  const dropCase: Derive = (log) => lineHints(log).map((h) => ({ ...h, caseInsensitive: false }));
  const firstAlternative: Derive = (log) => lineHints(log).slice(0, 1);
  const f1 = soundness(dropCase, SEED, 3000);
  const f2 = soundness(firstAlternative, SEED, 3000);
  t.ok(f1 !== null, 'case-insensitivity dropped is caught');
  t.ok(f2 !== null, '`or` alternatives cut to the first is caught');
  t.comment(f1 ?? '');
  t.comment(f2 ?? '');
});
