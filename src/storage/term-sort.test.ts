import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { sortTermIds } from './term-sort.js';
import { TermIds } from './tokenizer.js';

/** pooled lays `terms` out as sortTermIds reads them: one code-unit pool and each term's start. */
function pooled(terms: readonly string[]): { pool: Uint16Array; starts: Int32Array } {
  const starts = new Int32Array(terms.length + 1);
  for (let i = 0; i < terms.length; i++) starts[i + 1] = (starts[i] as number) + (terms[i] as string).length;
  const pool = new Uint16Array(starts[terms.length] as number);
  terms.forEach((term, i) => {
    for (let k = 0; k < term.length; k++) pool[(starts[i] as number) + k] = term.charCodeAt(k);
  });
  return { pool, starts };
}

function sortedByIds(terms: readonly string[]): string[] {
  const { pool, starts } = pooled(terms);
  return Array.from(sortTermIds(pool, starts, terms.length), (id) => terms[id] as string);
}

// Units that make ties deep and wide: shared prefixes, "-", ".", digits, both sides of 0x7f/0x80, surrogates of both halves, the largest unit.
const UNITS = ['a', 'b', 'c', '0', '1', '9', '-', '.', '_', 'z', '\u007f', '\u0080', '\u00e9', '\u4e2d', '\ud83d', '\ude00', '\uffff'];

t.test('sortTermIds orders distinct terms as the default string sort does', async (t) => {
  const rand = new SeededRand(0x5027);
  for (let round = 0; round < 200; round++) {
    const seen = new Set<string>();
    const n = rand.intn(round < 20 ? 16 : 600);
    const prefix = ['', 'req', 'req-', '10.0.0.'][rand.intn(4)] as string;
    while (seen.size < n) {
      let term = rand.intn(3) === 0 ? prefix : '';
      const len = 1 + rand.intn(rand.intn(4) === 0 ? 40 : 6);
      for (let k = 0; k < len; k++) term += UNITS[rand.intn(rand.intn(2) === 0 ? 4 : UNITS.length)] as string;
      seen.add(term);
    }
    const terms = [...seen];
    const want = terms.slice().sort();
    const got = sortedByIds(terms);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.same(got, want, `round ${round}: ${n} terms`);
      return;
    }
  }
  t.pass('200 seeded sets of up to 600 terms');
});

t.test('sortTermIds: prefixes first, a term before every longer term it begins, empty and one-term sets', async (t) => {
  t.same(sortedByIds(['ab', 'a', 'abc', 'b', '', 'aa']), ['', 'a', 'aa', 'ab', 'abc', 'b']);
  const chain = Array.from({ length: 40 }, (_, i) => 'x'.repeat(40 - i));
  t.same(sortedByIds(chain), chain.slice().sort(), 'a chain of prefixes, longest first');
  t.same(sortedByIds([]), []);
  t.same(sortedByIds(['only']), ['only']);
  t.same(sortedByIds(['\uffff', '\ud83d\ude00', 'z', '\u00e9']), ['z', '\u00e9', '\ud83d\ude00', '\uffff'], 'code units, not code points');
});

t.test('TermIds.sortedIds: every id once, in its terms order', async (t) => {
  const ids = new TermIds(1_000, 'a test');
  for (const term of ['status', 'get', '10.0.0.1', 'a1b2c3d4', 'été', 'get2', 'ge']) ids.idOf(term);
  const order = Array.from(ids.sortedIds());
  t.same(order.slice().sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6], 'every id once');
  t.same(
    order.map((id) => ids.terms[id]),
    ids.terms.slice().sort(),
  );
});
