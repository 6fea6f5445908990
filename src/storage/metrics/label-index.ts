/**
 * label-index.ts — the in-memory inverted index of a metrics head: per
 * tenant, label name → label value → the sorted ids of the series carrying
 * that pair, and `select` over it with Prometheus matcher semantics.
 *
 * The metric name is indexed as the label `__name__`. A tenant's postings
 * live under that tenant only, so a select never returns another tenant's
 * series (a series id is shard-local, not tenant-local: one id space, one
 * owner per id).
 *
 * Matcher semantics (Prometheus `labels.Matcher` and `PostingsForMatchers`):
 * - `=`, `!=` compare whole values; `=~`, `!~` are fully anchored regexes
 *   (`^(?s:re)$`: compiled here as `^(?:re)$` with the `s` and `u` flags).
 * - A series without a label has that label's value "" (Prometheus drops
 *   empty values), so `foo=""` selects series without `foo`, `foo!=""`
 *   series with it, and `foo=~"a|"` series with foo=a or without foo.
 * - A selector must have at least one matcher that does not match "", as
 *   Prometheus demands ("vector selector must contain at least one non-empty
 *   matcher"); otherwise ERR_INVALID_ARGUMENT. A malformed regex is
 *   ERR_INVALID_ARGUMENT; more than matchersMax matchers or a regex longer
 *   than regexBytesMax is ERR_LIMIT_EXCEEDED.
 * NB: regexes are JavaScript's, not Go RE2's: the common syntax agrees, but
 * RE2-only forms (`(?P<n>…)`, `\z`, `(?i)` inline flags) are refused as
 * malformed, and JavaScript backtracking is not linear-time; regexBytesMax
 * bounds the source, not the matching time.
 *
 * Invariants: every postings list is strictly increasing (series ids are
 * assigned increasing and `add` takes each id once, in id order); a label
 * value present in the map has a non-empty list.
 */
import { MetricHeadLimits } from '../../limits.js';
import { compileRe2 } from '../../re2.js';
import type { Re2Bound } from '../../re2.js';
import { OtlpdbError, assert } from '../../errors.js';
import { difference, intersect, union } from '../codec/index.js';
import { type Labels, compareCodePoints } from './series-registry.js';
import type { Re2Regex } from '../../re2-guard.js';

/** METRIC_NAME_LABEL is the label name the metric name is indexed under. */
export const METRIC_NAME_LABEL = '__name__';

/** MatchOp is a Prometheus matcher operator. */
export type MatchOp = '=' | '!=' | '=~' | '!~';

/** Matcher is one label matcher of a selector. */
export interface Matcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
}

/** CompiledMatcher is a validated matcher with its test function. */
export interface CompiledMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
  /** matches says whether a label value ("" for an absent label) satisfies the matcher. */
  matches(value: string): boolean;
}

const EMPTY = new Uint32Array(0);
const POSTINGS_INITIAL = 4;

/** Postings is a growable sorted list of series ids. */
class Postings {
  #ids = new Uint32Array(POSTINGS_INITIAL);
  #n = 0;

  push(id: number): void {
    assert(this.#n === 0 || (this.#ids[this.#n - 1] as number) < id, 'postings ids are pushed increasing');
    if (this.#n === this.#ids.length) {
      const grown = new Uint32Array(this.#ids.length * 2);
      grown.set(this.#ids);
      this.#ids = grown;
    }
    this.#ids[this.#n++] = id;
  }

  get length(): number {
    return this.#n;
  }

  /** view is the ids; valid until the next push. */
  view(): Uint32Array {
    return this.#ids.subarray(0, this.#n);
  }
}

/** TenantIndex is one tenant's postings: label name → value → ids. */
type TenantIndex = Map<string, Map<string, Postings>>;

/**
 * compileMatchers validates matchers and builds their test functions.
 * Throws ERR_INVALID_ARGUMENT or ERR_LIMIT_EXCEEDED (a query is one request,
 * so it fails whole).
 */
export function compileMatchers(matchers: readonly Matcher[]): CompiledMatcher[] {
  if (!Array.isArray(matchers) || matchers.length === 0) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'select: at least one matcher is required');
  }
  if (matchers.length > MetricHeadLimits.matchersMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `select: ${matchers.length} matchers, past ${MetricHeadLimits.matchersMax}`, {
      matchers: matchers.length,
      matchersMax: MetricHeadLimits.matchersMax,
    });
  }
  const out: CompiledMatcher[] = [];
  for (const m of matchers) {
    if (m === null || typeof m !== 'object' || typeof m.name !== 'string' || typeof m.value !== 'string' || m.name.length === 0) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'select: a matcher is {name: non-empty string, op, value: string}');
    }
    const { name, op, value } = m;
    switch (op) {
      case '=':
        out.push({ name, op, value, matches: (v) => v === value });
        break;
      case '!=':
        out.push({ name, op, value, matches: (v) => v !== value });
        break;
      case '=~':
      case '!~': {
        const re = compileRegex(value);
        const neg = op === '!~';
        out.push({ name, op, value, matches: (v) => re.test(v) !== neg });
        break;
      }
      default:
        throw new OtlpdbError('ERR_INVALID_ARGUMENT', `select: unknown matcher operator ${JSON.stringify(op)}`);
    }
  }
  if (out.every((m) => m.matches(''))) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'select: at least one matcher must not match the empty string (vector selector must contain at least one non-empty matcher)');
  }
  return out;
}

/** compileRegex compiles a fully anchored matcher regex; ERR_INVALID_ARGUMENT when malformed, ERR_LIMIT_EXCEEDED when too long. */
export function compileRegex(source: string): Re2Regex {
  // RE2 as the PromQL engine reads it (src/re2.ts, shared by every language).
  return compileRe2(source, true, REGEX_BOUND, 'select');
}

const REGEX_BOUND: Re2Bound = { bytesMax: MetricHeadLimits.regexBytesMax, name: 'MetricHeadLimits.regexBytesMax' };

/** LabelIndex is the postings of one head, scoped by tenant. */
export class LabelIndex {
  readonly #tenants = new Map<string, TenantIndex>();
  #lastId = -1;
  #pairs = 0;
  #postings = 0;

  /** pairs is the number of distinct (tenant, label name, label value) triples indexed. */
  get pairs(): number {
    return this.#pairs;
  }

  /** postings is the total number of ids over every postings list. */
  get postings(): number {
    return this.#postings;
  }

  /**
   * add indexes series id under its tenant, `__name__`=name and each label.
   * Ids must arrive strictly increasing. Returns the number of label pairs
   * the tenant had not seen (for the head's memory accounting).
   */
  add(id: number, tenant: string, name: string, labels: Labels): number {
    assert(Number.isSafeInteger(id) && id > this.#lastId, 'series ids are added strictly increasing');
    assert(id < 2 ** 32, 'series ids are u32');
    this.#lastId = id;
    let ti = this.#tenants.get(tenant);
    if (ti === undefined) {
      ti = new Map();
      this.#tenants.set(tenant, ti);
    }
    let fresh = this.#push(ti, METRIC_NAME_LABEL, name, id);
    for (const l of labels) {
      assert(l.value.length > 0, 'empty label values are dropped before indexing');
      fresh += this.#push(ti, l.name, l.value, id);
    }
    return fresh;
  }

  #push(ti: TenantIndex, name: string, value: string, id: number): number {
    let values = ti.get(name);
    if (values === undefined) {
      values = new Map();
      ti.set(name, values);
    }
    let p = values.get(value);
    let fresh = 0;
    if (p === undefined) {
      p = new Postings();
      values.set(value, p);
      this.#pairs++;
      fresh = 1;
    }
    p.push(id);
    this.#postings++;
    return fresh;
  }

  /**
   * select returns the sorted ids of the tenant's series that satisfy every
   * matcher (semantics in the file comment). Throws ERR_INVALID_ARGUMENT or
   * ERR_LIMIT_EXCEEDED for a bad selector. The result is a fresh array.
   */
  select(tenant: string, matchers: readonly Matcher[]): Uint32Array {
    const compiled = compileMatchers(matchers);
    const ti = this.#tenants.get(tenant);
    if (ti === undefined) return new Uint32Array(0);
    const include: Uint32Array[] = [];
    const exclude: Uint32Array[] = [];
    for (const m of compiled) {
      const values = ti.get(m.name);
      if (!m.matches('')) {
        // Only series carrying the label with a matching value qualify.
        include.push(this.#unionWhere(values, m, true));
      } else {
        // Series without the label qualify; drop those whose value fails.
        exclude.push(this.#unionWhere(values, m, false));
      }
    }
    assert(include.length >= 1, 'compileMatchers guarantees a matcher that does not match ""');
    include.sort((a, b) => a.length - b.length);
    let acc = include[0] as Uint32Array;
    for (let i = 1; i < include.length && acc.length > 0; i++) acc = intersect(acc, include[i] as Uint32Array);
    for (const ex of exclude) {
      if (acc.length === 0) break;
      if (ex.length > 0) acc = difference(acc, ex);
    }
    const out = acc.slice();
    for (let i = 1; i < out.length; i++) assert((out[i - 1] as number) < (out[i] as number), 'select result is strictly increasing');
    return out;
  }

  /** #unionWhere is the union of the postings of the values v of one label with m.matches(v) === want. */
  #unionWhere(values: Map<string, Postings> | undefined, m: CompiledMatcher, want: boolean): Uint32Array {
    if (values === undefined) return EMPTY;
    if (m.op === '=' && want) return values.get(m.value)?.view() ?? EMPTY;
    if (m.op === '!=' && !want) return values.get(m.value)?.view() ?? EMPTY;
    const lists: Uint32Array[] = [];
    let total = 0;
    for (const [v, p] of values) {
      if (m.matches(v) === want) {
        lists.push(p.view());
        total += p.length;
      }
    }
    if (lists.length === 0) return EMPTY;
    if (lists.length === 1) return lists[0] as Uint32Array;
    if (lists.length <= 4) {
      let acc = lists[0] as Uint32Array;
      for (let i = 1; i < lists.length; i++) acc = union(acc, lists[i] as Uint32Array);
      return acc;
    }
    // Many lists: concatenate, sort and deduplicate (one series has one value per label, so there are no duplicates
    // across the lists of one label; the dedup loop asserts it).
    const all = new Uint32Array(total);
    let k = 0;
    for (const l of lists) {
      all.set(l, k);
      k += l.length;
    }
    all.sort();
    for (let i = 1; i < all.length; i++) assert((all[i - 1] as number) < (all[i] as number), 'a series has one value per label');
    return all;
  }

  /** labelNames is the tenant's label names (with `__name__`), sorted by UTF-8 bytes. */
  labelNames(tenant: string): string[] {
    const ti = this.#tenants.get(tenant);
    if (ti === undefined) return [];
    return [...ti.keys()].sort(compareCodePoints);
  }

  /** labelValues is the tenant's values of one label, sorted by UTF-8 bytes. */
  labelValues(tenant: string, name: string): string[] {
    const values = this.#tenants.get(tenant)?.get(name);
    if (values === undefined) return [];
    return [...values.keys()].sort(compareCodePoints);
  }
}
