/**
 * head-test-util.ts — a naive oracle of the metrics head (arrays scanned in
 * full, matchers evaluated series by series) and a seeded random workload, for
 * the property tests of head.test.ts and label-index.test.ts.
 */
import { SeededRand } from '../../fs/seeded-rand.js';
import { isOtlpdbError } from '../../errors.js';
import type { Hasher } from '../../partition/hash.js';
import { AppendOutcome, type AppendOutcomeValue, HeadSampleIterator, MetricHead } from './head.js';
import type { Matcher, MatchOp } from './label-index.js';
import type { Labels } from './series-registry.js';

/** OracleSeries is one series as the oracle keeps it. */
interface OracleSeries {
  readonly id: number;
  readonly tenant: string;
  /** labels holds every non-empty label and `__name__`. */
  readonly labels: Map<string, string>;
  readonly ts: number[];
  readonly vs: number[];
}

const bits = new Float64Array(1);
const bitsU32 = new Uint32Array(bits.buffer);
function sameBits(a: number, b: number): boolean {
  bits[0] = a;
  const lo = bitsU32[0];
  const hi = bitsU32[1];
  bits[0] = b;
  return lo === bitsU32[0] && hi === bitsU32[1];
}

/** Oracle is the obvious, slow model of MetricHead's append rules and select semantics. */
export class Oracle {
  readonly series: OracleSeries[] = [];
  readonly #byKey = new Map<string, OracleSeries>();
  constructor(readonly seriesMax: number) {}

  append(tenant: string, name: string, labels: Labels, t: number, v: number): AppendOutcomeValue {
    const m = new Map<string, string>([['__name__', name]]);
    for (const l of labels) if (l.value !== '') m.set(l.name, l.value);
    const key = JSON.stringify([tenant, [...m].sort()]);
    let s = this.#byKey.get(key);
    if (s === undefined) {
      if (this.series.length >= this.seriesMax) return AppendOutcome.SeriesLimit;
      s = { id: this.series.length, tenant, labels: m, ts: [], vs: [] };
      this.series.push(s);
      this.#byKey.set(key, s);
    } else {
      const lastT = s.ts[s.ts.length - 1] as number;
      if (t < lastT) return AppendOutcome.OutOfOrder;
      if (t === lastT) return sameBits(v, s.vs[s.vs.length - 1] as number) ? AppendOutcome.Unchanged : AppendOutcome.DuplicateTimestamp;
    }
    s.ts.push(t);
    s.vs.push(v);
    return AppendOutcome.Appended;
  }

  /** select returns the matching ids, or 'invalid' when Prometheus would refuse the selector. */
  select(tenant: string, matchers: readonly Matcher[]): number[] | 'invalid' {
    const tests: ((v: string) => boolean)[] = [];
    for (const m of matchers) {
      const test = oracleTest(m);
      if (test === null) return 'invalid';
      tests.push(test);
    }
    if (tests.every((f) => f(''))) return 'invalid';
    return this.series
      .filter((s) => s.tenant === tenant && matchers.every((m, i) => (tests[i] as (v: string) => boolean)(s.labels.get(m.name) ?? '')))
      .map((s) => s.id);
  }
}

function oracleTest(m: Matcher): ((v: string) => boolean) | null {
  switch (m.op) {
    case '=':
      return (v) => v === m.value;
    case '!=':
      return (v) => v !== m.value;
    case '=~':
    case '!~': {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${m.value})$`, 'su');
      } catch {
        return null;
      }
      return m.op === '=~' ? (v) => re.test(v) : (v) => !re.test(v);
    }
  }
}

const TENANTS = ['acme', 'zeta'];
const NAMES = ['up', 'cpu', 'http.requests'];
const LABEL_NAMES = ['job', 'inst', 'env', 'zone'];
const LABEL_VALUES = ['a', 'b', 'v1', 'v2', 'é', ''];
const REGEXES = ['a', 'v.*', 'v[12]', '', '.*', '.+', 'a|b', '(a|v1)?', 'é|x', '[', 'up|cpu', 'http\\..*'];
const VALUES = [0, -0, 1, 1.5, 2.25, NaN, 1e300, -7];
const OPS: MatchOp[] = ['=', '!=', '=~', '!~'];

function pick<T>(rand: SeededRand, xs: readonly T[]): T {
  return xs[rand.intn(xs.length)] as T;
}

/** randomMatchers draws a selector of 1..3 matchers over the workload's names and values. */
export function randomMatchers(rand: SeededRand): Matcher[] {
  const n = 1 + rand.intn(3);
  const out: Matcher[] = [];
  // Usually lead with a selective matcher, as real queries do, so that most selectors are valid and non-empty.
  const lead = rand.intn(4);
  if (lead === 0) out.push({ name: '__name__', op: '=', value: pick(rand, NAMES) });
  else if (lead === 1) out.push({ name: pick(rand, LABEL_NAMES), op: '=~', value: pick(rand, ['a|b', 'v.*', '.+', 'a']) });
  for (let i = out.length; i < n + (out.length > 0 ? 1 : 0); i++) {
    const op = pick(rand, OPS);
    const name = rand.intn(4) === 0 ? '__name__' : rand.intn(10) === 0 ? 'missing' : pick(rand, LABEL_NAMES);
    const value = op === '=' || op === '!=' ? (name === '__name__' ? pick(rand, NAMES) : pick(rand, LABEL_VALUES)) : pick(rand, REGEXES);
    out.push({ name, op, value });
  }
  return out;
}

/** SelectImpl is how the check runs a select (the head's, or a planted broken one). */
export type SelectImpl = (head: MetricHead, tenant: string, matchers: readonly Matcher[]) => Uint32Array;

const honestSelect: SelectImpl = (head, tenant, matchers) => head.select(tenant, matchers);

/** CheckOptions shape one run of the property check. */
export interface CheckOptions {
  readonly seed: number;
  readonly appends: number;
  readonly selects: number;
  readonly chunkSamples: number;
  readonly seriesMax: number;
  readonly select?: SelectImpl;
}

/**
 * checkAgainstOracle feeds the same random appends to a head and the oracle
 * and compares every outcome, random selects and the samples of every
 * selected series in a random range. It returns the first mismatch or null.
 */
export function checkAgainstOracle(hasher: Hasher, o: CheckOptions): string | null {
  const rand = new SeededRand(o.seed);
  const head = new MetricHead({ hasher, chunkSamples: o.chunkSamples, seriesMax: o.seriesMax });
  const oracle = new Oracle(o.seriesMax);
  const select = o.select ?? honestSelect;
  const clock = new Map<string, number>();
  for (let i = 0; i < o.appends; i++) {
    const tenant = pick(rand, TENANTS);
    const name = pick(rand, NAMES);
    const labels: { name: string; value: string }[] = [];
    for (const ln of LABEL_NAMES) if (rand.intn(2) === 0) labels.push({ name: ln, value: pick(rand, LABEL_VALUES.slice(0, 3)) });
    if (rand.intn(8) === 0) labels.reverse();
    if (rand.intn(8) === 0) labels.push({ name: 'zz', value: '' });
    const key = JSON.stringify([tenant, name, labels]);
    // Mostly moving forward; sometimes a repeat (duplicate) or a step back (out of order).
    const last = clock.get(key) ?? 1_000_000 + rand.intn(1000);
    const r = rand.intn(20);
    const tsMs = r === 0 ? last - 1 - rand.intn(50) : r === 1 ? last : last + 1 + rand.intn(30_000);
    clock.set(key, Math.max(last, tsMs));
    const v = rand.intn(3) === 0 ? pick(rand, VALUES) : rand.intn(1000) / 100;
    const want = oracle.append(tenant, name, labels, tsMs, v);
    const got = head.append(tenant, name, labels, tsMs, v);
    if (got !== want) return `append ${i} ${key} t=${tsMs} v=${v}: head ${got}, oracle ${want}`;
  }
  if (head.stats().series !== oracle.series.length) return `series: head ${head.stats().series}, oracle ${oracle.series.length}`;
  const it = new HeadSampleIterator();
  for (let q = 0; q < o.selects; q++) {
    const tenant = pick(rand, TENANTS);
    const matchers = randomMatchers(rand);
    const want = oracle.select(tenant, matchers);
    let got: Uint32Array | 'invalid';
    try {
      got = select(head, tenant, matchers);
    } catch (err) {
      if (!isOtlpdbError(err, 'ERR_INVALID_ARGUMENT')) throw err;
      got = 'invalid';
    }
    const desc = `select ${tenant} ${JSON.stringify(matchers)}`;
    if (want === 'invalid' || got === 'invalid') {
      if (want !== got) return `${desc}: head ${got === 'invalid' ? 'invalid' : `[${got.join(',')}]`}, oracle ${JSON.stringify(want)}`;
      continue;
    }
    if (got.join(',') !== want.join(',')) return `${desc}: head [${got.join(',')}], oracle [${want.join(',')}]`;
    for (const id of want) {
      const s = oracle.series[id];
      if (s === undefined) return `oracle lost series ${id}`;
      const span = (s.ts[s.ts.length - 1] as number) - (s.ts[0] as number);
      const minT = (s.ts[0] as number) - 10 + rand.intn(span + 20);
      const maxT = rand.intn(4) === 0 ? minT - 1 : minT + rand.intn(span + 20);
      head.samples(id, minT, maxT, it);
      let k = 0;
      for (let j = 0; j < s.ts.length; j++) {
        const tj = s.ts[j] as number;
        if (tj < minT || tj > maxT) continue;
        if (!it.next()) return `series ${id} [${minT}, ${maxT}]: head ended at ${k}, oracle has t=${tj}`;
        if (it.t !== tj || !Object.is(it.v, s.vs[j])) return `series ${id} sample ${k}: head (${it.t}, ${it.v}), oracle (${tj}, ${s.vs[j]})`;
        k++;
      }
      if (it.next()) return `series ${id} [${minT}, ${maxT}]: head has extra (${it.t}, ${it.v}) after ${k}`;
    }
  }
  return null;
}
