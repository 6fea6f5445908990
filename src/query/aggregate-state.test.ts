import sketches from '@datadog/sketches-js';
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { AggregateState, SKETCH_RELATIVE_ACCURACY, decodeAggregateState, encodeAggregateState } from './aggregate-state.js';

// Property: for seeded values and any split of them into parts, the merge
// of the parts' states (in any order, through the wire) equals the state of
// the whole: exactly for count, sum (integer values), min, max, avg and the
// sketch's bins; and every quantile of the merged state is within the
// documented relative error α of the true quantile. A planted merge that
// loses a part, and the library's own DDSketch.merge (which drops negative
// values in 2.1.1), are caught by the same checker.
// Reproduce: OTLPDB_AGG_SEED=<seed> npx tap src/query/aggregate-state.test.ts

const SEED = Number(process.env.OTLPDB_AGG_SEED ?? 4242);
const CASES = Number(process.env.OTLPDB_AGG_CASES ?? 120);
const QUANTILES = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1];

/** values draws n seeded values: integers (exact sums) of mixed sign and magnitude, zeros included. */
function values(rand: SeededRand, n: number, integers: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const kind = rand.intn(10);
    const sign = rand.intn(4) === 0 ? -1 : 1;
    if (kind === 0) out.push(0);
    else if (integers) out.push(sign * rand.intn(kind < 5 ? 1_000 : 1_000_000_000));
    else out.push(sign * (rand.nextU32() / 2 ** 32) * 10 ** rand.intn(9));
  }
  return out;
}

/** split cuts `xs` into 1..8 contiguous or interleaved parts (some empty). */
function split(rand: SeededRand, xs: readonly number[]): number[][] {
  const k = 1 + rand.intn(8);
  const parts: number[][] = Array.from({ length: k }, () => []);
  for (const x of xs) (parts[rand.intn(k)] as number[]).push(x);
  return parts;
}

function stateOf(xs: readonly number[]): AggregateState {
  const s = new AggregateState(true);
  for (const x of xs) s.add(x);
  return s;
}

/** defaultMerge is the coordinator's: every part's state, through the wire, merged in a seeded order. */
function defaultMerge(rand: SeededRand, parts: readonly AggregateState[]): AggregateState {
  const order = parts.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rand.intn(i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const acc = new AggregateState(true);
  for (const i of order) acc.merge(decodeAggregateState(encodeAggregateState(parts[i] as AggregateState)));
  return acc;
}

/** checkSplits is the property checker; it returns the first problem found, or null. */
function checkSplits(seed: number, cases: number, merge: (rand: SeededRand, parts: readonly AggregateState[]) => AggregateState): string | null {
  const rand = new SeededRand(seed);
  for (let c = 0; c < cases; c++) {
    const integers = c % 3 !== 2;
    const xs = values(rand, 1 + rand.intn(3_000), integers);
    const whole = stateOf(xs);
    const merged = merge(rand, split(rand, xs).map(stateOf));
    const sorted = [...xs].sort((a, b) => a - b);
    const exact: [string, number, number][] = [
      ['count', merged.result('count'), xs.length],
      ['min', merged.result('min'), sorted[0] as number],
      ['max', merged.result('max'), sorted[sorted.length - 1] as number],
    ];
    if (integers) exact.push(['sum', merged.result('sum'), whole.result('sum')], ['avg', merged.result('avg'), whole.result('avg')]);
    for (const [what, got, want] of exact) if (got !== want) return `case ${c}: ${what} ${got} != ${want}`;
    if (!integers && Math.abs(merged.result('sum') - whole.result('sum')) > 1e-6 * Math.max(1, Math.abs(whole.result('sum')))) return `case ${c}: float sum beyond round-off`;
    if (JSON.stringify(merged.sketchBins()) !== JSON.stringify(whole.sketchBins())) return `case ${c}: merged sketch bins differ from the whole's`;
    for (const q of QUANTILES) {
      const want = sorted[Math.floor(q * (sorted.length - 1))] as number;
      const got = merged.result('quantile', q);
      if (Math.abs(got - want) > SKETCH_RELATIVE_ACCURACY * Math.abs(want) * (1 + 1e-9)) return `case ${c}: quantile ${q} = ${got}, true ${want}, beyond α = ${SKETCH_RELATIVE_ACCURACY}`;
    }
  }
  return null;
}

t.test(`merging the states of any split equals the state of the whole (${CASES} seeded cases, seed ${SEED})`, async (t) => {
  t.equal(checkSplits(SEED, CASES, defaultMerge), null);
});

t.test('planted: a merge that drops one part is caught', async (t) => {
  const dropLast = (rand: SeededRand, parts: readonly AggregateState[]): AggregateState => defaultMerge(rand, parts.length > 1 ? parts.slice(0, -1) : parts);
  t.match(checkSplits(SEED, CASES, dropLast), /count|min|max|sum|bins|quantile/);
});

t.test("planted: the library's own DDSketch.merge loses negative values once both sketches hold some (why mergeSketch exists)", async (t) => {
  const { LogCollapsingLowestDenseDDSketch } = sketches;
  const mk = (xs: number[]): InstanceType<typeof LogCollapsingLowestDenseDDSketch> => {
    const s = new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY, binLimit: 2048 });
    for (const x of xs) s.accept(x);
    return s;
  };
  const a = [-100, -50, 1, 2];
  const b = [-200, 3, 4];
  const lib = mk(a);
  lib.merge(mk(b));
  const ours = stateOf(a);
  ours.merge(stateOf(b));
  const want = -200;
  t.not(Math.round(lib.getValueAtQuantile(0)), want, 'the library merge misses the smallest (negative) value');
  t.ok(Math.abs(ours.result('quantile', 0.01) - want) <= SKETCH_RELATIVE_ACCURACY * 200, 'ours keeps it');
  t.equal(ours.sketchBins()?.negative.reduce((n, [, c]) => n + c, 0), 3, 'all three negative values are in the merged sketch');
});

t.test('results of an empty state; a state without a sketch refuses quantiles', async (t) => {
  const e = new AggregateState(true);
  t.equal(e.result('count'), 0);
  t.equal(e.result('sum'), 0);
  t.ok(Number.isNaN(e.result('avg')) && Number.isNaN(e.result('min')) && Number.isNaN(e.result('quantile', 0.5)));
  const round = decodeAggregateState(encodeAggregateState(e));
  t.equal(round.count, 0);
  const plain = new AggregateState(false);
  plain.add(3);
  t.throws(() => plain.result('quantile', 0.5), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => plain.merge(new AggregateState(true)), { code: 'ERR_INTERNAL' }, 'states must agree on the sketch');
  t.throws(() => plain.add(Number.NaN), { code: 'ERR_INTERNAL' });
});

t.test('a malformed or inconsistent state from a peer is ERR_CORRUPTION, never trusted', async (t) => {
  const s = stateOf([1, 2, 3, -4, 0]);
  const good = encodeAggregateState(s);
  t.equal(decodeAggregateState(good).result('count'), 5);
  const { Packr } = await import('msgpackr');
  const p = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
  const bins = s.sketchBins();
  const bad: unknown[] = [
    [5, 2, 1, 3],
    [-1, 2, 1, 3, null],
    [5, 2, 4, 3, null],
    [0, 0, 1, 1, null],
    [6, 2, -4, 3, [bins?.zeros, bins?.positive, bins?.negative]],
    [5, 2, -4, 3, [bins?.zeros, [[1e9, 1]], []]],
    [5, 2, -4, 3, [bins?.zeros, [[5, 1], [4, 1]], []]],
    [5, 2, -4, 3, [bins?.zeros, Array.from({ length: 3000 }, (_, i) => [i, 1]), []]],
  ];
  for (const v of bad) t.throws(() => decodeAggregateState(p.pack(v)), { code: 'ERR_CORRUPTION' }, JSON.stringify(v).slice(0, 60));
  t.throws(() => decodeAggregateState(new Uint8Array([0xc1])), { code: 'ERR_CORRUPTION' });
});
