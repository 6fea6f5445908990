/**
 * logs-selector.ts — Loki stream selectors outside the LogQL engine: the
 * `match[]` of /series, the `query` of /index/stats, the labels of a Loki
 * push, and the per-entry check of the matchers a LogSource gets.
 *
 * Syntax: `{` matcher (`,` matcher)* `}` (also `{}` where allowed), a
 * matcher `name op value` with op `=`, `!=`, `=~`, `!~`, name
 * [a-zA-Z_][a-zA-Z0-9_]*, value a Go string literal ("..." with \" \\ \n
 * \t \r \xHH \uHHHH escapes, or `raw`). Errors are ERR_INVALID_ARGUMENT
 * naming the position.
 *
 * Regexes (`=~`, `!~`) are RE2 as in Loki, fully anchored; they run as
 * JavaScript regular expressions: leading inline flags `(?i)`, `(?s)`,
 * `(?m)` (any combination) become flags, the rest is kept as written. A
 * pattern JavaScript refuses is ERR_INVALID_ARGUMENT.
 * NB: RE2 constructs with a different meaning in JavaScript (\z, \Q...\E,
 * [[:alpha:]], inline flags past the start) are refused or differ; the
 * engine in query/logql has the full translation.
 *
 * Pure code.
 */
import { OtlpdbError } from '../errors.js';
import { LogsQueryLimits as L } from '../limits.js';
import type { StreamMatcher } from '../storage/logs/term-index.js';
import { compileLogqlRegex } from './logql/regex.js';
import type { LogLabels, StreamSelectorMatcher } from './logql/source.js';
import type { Re2Regex } from '../re2-guard.js';

const NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;

function bad(text: string, at: number, why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `parse error at 1:${at + 1}: ${why} in ${JSON.stringify(text.slice(0, 200))}`, { position: at + 1 });
}

/** readGoString reads a Go string literal at `at`, returning its value and the index after it. */
function readGoString(text: string, at: number): { value: string; end: number } {
  const q = text[at];
  if (q === '`') {
    const close = text.indexOf('`', at + 1);
    if (close < 0) throw bad(text, at, 'unterminated raw string');
    return { value: text.slice(at + 1, close), end: close + 1 };
  }
  if (q !== '"') throw bad(text, at, 'expected a quoted string');
  let out = '';
  let i = at + 1;
  for (;;) {
    if (i >= text.length) throw bad(text, at, 'unterminated string');
    const c = text[i] as string;
    if (c === '"') return { value: out, end: i + 1 };
    if (c === '\n') throw bad(text, i, 'newline in string');
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const e = text[i + 1];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v' };
    if (e !== undefined && simple[e] !== undefined) {
      out += simple[e];
      i += 2;
      continue;
    }
    const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    const digits = text.slice(i + 2, i + 2 + hexLen);
    if (hexLen === 0 || !new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(digits)) throw bad(text, i, 'invalid escape');
    const cp = parseInt(digits, 16);
    if (cp > 0x10ffff) throw bad(text, i, 'invalid code point');
    out += String.fromCodePoint(cp);
    i += 2 + hexLen;
  }
}

/** parseSelector parses a stream selector (see the file comment); `allowEmpty` accepts `{}`. */
export function parseSelector(text: string, allowEmpty = false): StreamSelectorMatcher[] {
  if (Buffer.byteLength(text) > L.queryBytesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `selector longer than ${L.queryBytesMax} bytes`);
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  ws();
  if (text[i] !== '{') throw bad(text, i, 'expected {');
  i++;
  const out: StreamSelectorMatcher[] = [];
  ws();
  if (text[i] === '}') {
    i++;
  } else {
    for (;;) {
      ws();
      NAME.lastIndex = i;
      const m = NAME.exec(text);
      if (m === null) throw bad(text, i, 'expected a label name');
      i += m[0].length;
      ws();
      let op: StreamSelectorMatcher['op'];
      if (text.startsWith('=~', i)) op = '=~';
      else if (text.startsWith('!~', i)) op = '!~';
      else if (text.startsWith('!=', i)) op = '!=';
      else if (text[i] === '=') op = '=';
      else throw bad(text, i, 'expected one of = != =~ !~');
      i += op.length;
      ws();
      const s = readGoString(text, i);
      i = s.end;
      out.push({ name: m[0], op, value: s.value });
      if (out.length > L.matchersMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a selector of more than ${L.matchersMax} matchers`);
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        break;
      }
      throw bad(text, i, 'expected , or }');
    }
  }
  ws();
  if (i !== text.length) throw bad(text, i, 'unexpected text after the selector');
  if (out.length === 0 && !allowEmpty) throw bad(text, 0, 'a selector needs at least one matcher');
  for (const m of out) compileMatcherRegex(m);
  return out;
}

/** compileMatcherRegex is the anchored regex of a regex matcher (null for = and !=). ERR_INVALID_ARGUMENT when it does not compile. */
export function compileMatcherRegex(m: StreamSelectorMatcher): Re2Regex | null {
  if (m.op !== '=~' && m.op !== '!~') return null;
  // The same RE2 translation and bound as LogQL's own matchers (logql/regex.ts).
  return compileLogqlRegex(m.value, true);
}

/** SplitMatchers are a selector's matchers split by where they run: `=`/`!=` on the stream postings, regexes per stream. */
export interface SplitMatchers {
  readonly postings: StreamMatcher[];
  /** check tests the regex matchers on a stream's labels (true when there are none). */
  readonly check: ((labels: LogLabels) => boolean) | null;
}

/** labelValue is a label's value in a sorted label list, or "" when it is missing (Prometheus semantics). */
export function labelValue(labels: LogLabels, name: string): string {
  for (const l of labels) if (l.name === name) return l.value;
  return '';
}

/** splitMatchers splits (and compiles) a selector's matchers; see SplitMatchers. */
export function splitMatchers(ms: readonly StreamSelectorMatcher[]): SplitMatchers {
  const postings: StreamMatcher[] = [];
  const regexes: { name: string; re: Re2Regex; negate: boolean }[] = [];
  for (const m of ms) {
    const re = compileMatcherRegex(m);
    if (re === null) postings.push({ name: m.name, op: m.op as '=' | '!=', value: m.value });
    else regexes.push({ name: m.name, re, negate: m.op === '!~' });
  }
  const check = regexes.length === 0 ? null : (labels: LogLabels): boolean => regexes.every((r) => r.re.test(labelValue(labels, r.name)) !== r.negate);
  return { postings, check };
}

/** matchesSelector says whether labels satisfy every matcher. */
export function matchesSelector(labels: LogLabels, ms: readonly StreamSelectorMatcher[]): boolean {
  const s = splitMatchers(ms);
  for (const m of s.postings) if ((labelValue(labels, m.name) === m.value) !== (m.op === '=')) return false;
  return s.check === null || s.check(labels);
}
