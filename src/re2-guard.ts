/**
 * re2-guard.ts — RE2 patterns run on V8's backtracking engine only where
 * backtracking cannot run away, and on a linear-time RE2 engine (re2js, a
 * port of Go's regexp: the engine Prometheus, Loki and Tempo use) elsewhere.
 *
 * Why: every pattern here comes from a query, that is from outside. V8's
 * engine backtracks: `(a+)+b` takes exponential time on `aaaa…`, and even
 * `x.*y` is quadratic in the value's length. One such matcher would hold a
 * node's event loop for minutes. re2js never backtracks, but runs typical
 * patterns 2 to 20 times slower than V8 (measured on log lines), so V8 stays
 * the engine wherever its worst case is bounded.
 *
 * The bound (`backtrackShape`): over the translated pattern (re2.ts),
 *   - a repeating quantifier (`*`, `+`, `{n,}`, `{n,m}` with m > 1) on a group
 *     that itself holds a quantifier or an alternation makes the pattern
 *     **nested**: exponential, always the linear engine;
 *   - otherwise the worst case is about branching × (n + 1)^(unbounded + 1)
 *     steps for a value of n characters, where `unbounded` counts `*`, `+`,
 *     `{n,}` and wide `{n,m}`, and `branching` multiplies the choices of
 *     `?`, narrow `{n,m}` and alternations (the +1 power: an unanchored
 *     search starts at every position). A value short enough for that to
 *     stay under Re2Limits.backtrackStepsMax runs on V8; a longer one on the
 *     linear engine.
 * The estimate is conservative for V8 (which prunes much of this), and both
 * engines answer the same for every pattern (re2-guard.test.ts compares them
 * over seeded random patterns and values).
 */
import { RE2JS } from 're2js';
import { assert } from './errors.js';
import { Re2Limits } from './limits.js';

/** BacktrackShape is what bounds a pattern's backtracking on V8 (see the file comment). */
export interface BacktrackShape {
  readonly nested: boolean;
  readonly unbounded: number;
  readonly branching: number;
}

/** WIDE_REPEAT_CHOICES: a counted repeat with more choices than this counts as unbounded. */
const WIDE_REPEAT_CHOICES = 64;
const COUNTED = /^\{(\d+)(,(\d*))?\}/;

interface Frame {
  inner: boolean;
  branches: number;
}

/** skipEscape returns the index after the escape starting at `source[i] === '\\'` (u-mode JavaScript syntax). */
function skipEscape(source: string, i: number): number {
  const c = source[i + 1];
  if ((c === 'u' || c === 'p' || c === 'P') && source[i + 2] === '{') {
    const close = source.indexOf('}', i + 3);
    return close < 0 ? source.length : close + 1;
  }
  if (c === 'x') return i + 4;
  if (c === 'u') return i + 6;
  if (c === 'c') return i + 3;
  return i + 2;
}

/** skipClass returns the index after the character class starting at `source[i] === '['`. */
function skipClass(source: string, i: number): number {
  let j = i + 1;
  while (j < source.length && source[j] !== ']') j = source[j] === '\\' ? skipEscape(source, j) : j + 1;
  return j + 1;
}

/** backtrackShape reads a translated (JavaScript, u-mode) pattern's backtracking shape. */
export function backtrackShape(source: string): BacktrackShape {
  const stack: Frame[] = [{ inner: false, branches: 1 }];
  let nested = false;
  let unbounded = 0;
  let branching = 1;
  let lastGroup: Frame | null = null; // The group just closed, when the next token may quantify it.
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    let min = -1;
    let max = -1;
    let next = i + 1;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = COUNTED.exec(source.slice(i));
      if (m !== null) {
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        next = i + m[0].length;
      }
    }
    if (min >= 0) {
      if (source[next] === '?') next++; // Lazy: the same choices, tried in another order.
      const repeats = max > 1;
      if (repeats && lastGroup !== null && (lastGroup.inner || lastGroup.branches > 1)) nested = true;
      if (max - min > WIDE_REPEAT_CHOICES) unbounded++;
      else branching *= max - min + 1;
      for (const f of stack) f.inner = true;
      lastGroup = null;
      i = next;
      continue;
    }
    lastGroup = null;
    if (c === '\\') i = skipEscape(source, i);
    else if (c === '[') i = skipClass(source, i);
    else if (c === '(') {
      stack.push({ inner: false, branches: 1 });
      i++;
      if (source[i] === '?') {
        // (?: (?= (?! (?<= (?<! or (?<name>: the group's own syntax, not a quantifier.
        const named = source[i + 1] === '<' && source[i + 2] !== '=' && source[i + 2] !== '!';
        i = named ? source.indexOf('>', i) + 1 : source[i + 1] === '<' ? i + 3 : i + 2;
      }
    } else if (c === ')') {
      const f = stack.pop();
      assert(f !== undefined && stack.length >= 1, 'a translated pattern closes only the groups it opened');
      branching *= f.branches;
      if (f.branches > 1) for (const g of stack) g.inner = true;
      lastGroup = f;
      i++;
    } else if (c === '|') {
      (stack[stack.length - 1] as Frame).branches++;
      i++;
    } else i++;
  }
  const top = stack[0] as Frame;
  branching *= top.branches;
  return { nested, unbounded, branching };
}

/**
 * backtrackingCharsMax is the longest value (UTF-16 units) that a pattern of
 * `shape` may be run on with V8's engine; -1 when never (nested).
 */
export function backtrackingCharsMax(shape: BacktrackShape): number {
  if (shape.nested || shape.branching > Re2Limits.backtrackStepsMax) return -1;
  const n = Math.floor(Math.pow(Re2Limits.backtrackStepsMax / shape.branching, 1 / (shape.unbounded + 1))) - 1;
  return Math.max(-1, n);
}

/** Re2Engine names the engine a value runs on: V8's backtracking one or the linear-time one. */
export type Re2Engine = 'backtracking' | 'linear';

/**
 * Re2Regex is a compiled RE2 pattern with RegExp's `test` and `exec`,
 * choosing per value the engine whose worst case is bounded (see the file
 * comment). Built by compileRe2 (re2.ts) from a checked pattern.
 */
export class Re2Regex {
  /** source is the RE2 pattern as the query wrote it. */
  readonly source: string;
  /** backtrackingCharsMax: values up to this length run on V8; -1: none do. */
  readonly backtrackingCharsMax: number;
  readonly #js: RegExp;
  readonly #anchored: boolean;
  #linear: RE2JS | null = null;

  constructor(source: string, js: RegExp, anchored: boolean, translated: string) {
    assert(!js.global && !js.sticky, 'a matcher regex keeps no lastIndex state');
    this.source = source;
    this.#js = js;
    this.#anchored = anchored;
    this.backtrackingCharsMax = backtrackingCharsMax(backtrackShape(translated));
  }

  /** engineFor names the engine `value` runs on. */
  engineFor(value: string): Re2Engine {
    return value.length <= this.backtrackingCharsMax ? 'backtracking' : 'linear';
  }

  /** test says whether the pattern matches `value` (whole value when anchored, anywhere otherwise). */
  test(value: string): boolean {
    return this.testOn(this.engineFor(value), value);
  }

  /** exec returns the leftmost match with its groups, shaped as RegExp's (index, numbered and named groups), or null. */
  exec(value: string): RegExpExecArray | null {
    return this.execOn(this.engineFor(value), value);
  }

  /** testOn is `test` on a chosen engine (tests compare the two; callers use `test`). */
  testOn(engine: Re2Engine, value: string): boolean {
    if (engine === 'backtracking') return this.#js.test(value);
    const re = this.#linearEngine();
    return this.#anchored ? re.testExact(value) : re.test(value);
  }

  /** execOn is `exec` on a chosen engine (tests compare the two; callers use `exec`). */
  execOn(engine: Re2Engine, value: string): RegExpExecArray | null {
    if (engine === 'backtracking') return this.#js.exec(value);
    const m = this.#linearEngine().matcher(value);
    if (this.#anchored ? !m.matches() : !m.find()) return null;
    const parts: (string | undefined)[] = [];
    for (let g = 0; g <= m.groupCount(); g++) parts.push(m.group(g) ?? undefined);
    const named = m.getNamedGroups();
    const names = Object.keys(named);
    let groups: Record<string, string> | undefined;
    if (names.length > 0) {
      groups = Object.create(null) as Record<string, string>;
      for (const k of names) (groups as Record<string, string | undefined>)[k] = named[k] ?? undefined;
    }
    return Object.assign(parts, { index: m.start(), input: value, groups }) as RegExpExecArray;
  }

  #linearEngine(): RE2JS {
    if (this.#linear === null) this.#linear = RE2JS.compile(this.source);
    return this.#linear;
  }
}

/** linearProblem says why the linear engine (Go's RE2 syntax) refuses `pattern`, or null when it compiles. */
export function linearProblem(pattern: string): string | null {
  try {
    RE2JS.compile(pattern);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
