/**
 * re2.ts — Go's RE2 regular expressions (the syntax of PromQL, LogQL and
 * TraceQL matchers, and of Prometheus's label index) on JavaScript's engine.
 * One translation for every language, so a pattern means the same in a query
 * engine, in a shard's postings and in a test's reference evaluator.
 *
 * What is translated (RE2 spelling → JavaScript, compiled with the `u` flag so
 * `.` and classes work on code points as RE2 does):
 *   a leading flag group `(?i)`, `(?s)`, `(?m)`, `(?is)`...  → RegExp flags
 *   `(?P<name>...)`                                          → `(?<name>...)`
 *   `\` + ASCII punctuation (`\-`, `\/`, `\:`, ...)            → `\xHH`
 *     (RE2 accepts any escaped punctuation; JavaScript's `u` mode accepts
 *     only its own syntax characters, so `a\-b` would not compile)
 *   `\A` and `\z` (outside a class)                          → `^` and `$`
 *     (`$` without the m flag is the end of the text in both)
 *   `\pL`, `\PL` (one-letter Unicode classes)                 → `\p{L}`, `\P{L}`
 *   `\x{10FFFF}`                                             → `\u{10FFFF}`
 *   `\p{Greek}` (a script)                                   → `\p{Script=Greek}`
 *   `\Q...\E` (quoted text)                                   → each character escaped
 *   a `{`, `}` or `]` that is not syntax there (RE2 reads it     → escaped
 *     as a literal; JavaScript's `u` mode refuses it)
 * What is refused (RE2 has no such thing, or JavaScript cannot say it):
 *   backreferences `\1`, `\k<name>`; lookaround `(?=`, `(?!`, `(?<=`, `(?<!`;
 *   the ungreedy flag `U` and flag groups anywhere but the start;
 *   a pattern longer than the caller's bound (ERR_LIMIT_EXCEEDED).
 *
 * Anchoring: matchers are fully anchored (`=~ "a"` means `^(?:a)$`) in all
 * three languages; LogQL's line filters and `regexp` parser search anywhere.
 *
 * Engines: JavaScript's engine backtracks where RE2 runs in linear time (a
 * pattern such as `(a+)+b` takes exponential time on `aaaa…`); compileRe2
 * returns an Re2Regex (re2-guard.ts) that runs a value on V8 only where the
 * pattern's worst case for that value is bounded, and on re2js (a port of
 * Go's regexp, linear time) otherwise. A pattern must compile on both.
 *
 * Anchoring and `(?m)`: Prometheus anchors a matcher as `^(?:` + pattern +
 * `)$`, and a `(?m)` inside stays inside the group, so the outer anchors
 * still mean the text's ends. JavaScript's m flag would turn them into line
 * anchors; so `(?m)` is translated, not passed on: the pattern's own `^`
 * and `$` become `(?:^|(?<=\n))` and `(?:$|(?=\n))`.
 *
 * NB: the two engines agree on whether a value matches and where the
 * leftmost match starts (re2-guard.test.ts), but an unanchored match's
 * extent, and groups, can differ for patterns whose repeated group can
 * match empty: ECMAScript refuses an empty iteration (`([^a]??)?` takes one
 * character on V8, none in RE2). Groups are read only by LogQL's `regexp`
 * parser and by `label_replace`; a value short enough for V8 gets
 * ECMAScript's answer there, as every value did before the linear engine.
 */
import { OtlpdbError } from './errors.js';
import { Re2Regex, linearProblem } from './re2-guard.js';

/** Re2Problem says why a pattern was refused, with the code a caller reports. */
export interface Re2Problem {
  readonly code: 'ERR_INVALID_ARGUMENT' | 'ERR_LIMIT_EXCEEDED';
  readonly message: string;
}

/** Re2Bound is a caller's length bound of a pattern: its UTF-8 bytes at most, and the limit's name for messages. */
export interface Re2Bound {
  readonly bytesMax: number;
  readonly name: string;
}

/** Re2Translation is a pattern in JavaScript's spelling: a source and flags for `new RegExp`. */
export interface Re2Translation {
  readonly source: string;
  readonly flags: string;
}

const LEADING_FLAGS = /^\(\?([a-zA-Z]+)\)/;
const FLAGS_KNOWN = new Set(['i', 'm', 's']);
const QUANTIFIER = /^\{\d+(,\d*)?\}/;
/** LINE_START and LINE_END are RE2's `^` and `$` under `(?m)`: at the text's ends or next to a newline (the m flag itself is not used: see "Anchoring"). */
const LINE_START = '(?:^|(?<=\\n))';
const LINE_END = '(?:$|(?=\\n))';
/** UNICODE_CATEGORY matches a general category's name (`L`, `Lu`); RE2's other `\p{Name}` are scripts (`\p{Greek}`). */
const UNICODE_CATEGORY = /^[A-Z][a-z]?$/;

/**
 * translateRe2 rewrites an RE2 pattern into JavaScript's spelling (see the
 * file comment), or returns the problem that makes it unsayable. Anchoring is
 * the caller's choice and not applied here.
 */
export function translateRe2(pattern: string): Re2Translation | Re2Problem {
  let body = pattern;
  const flags = new Set<string>();
  const lead = LEADING_FLAGS.exec(body);
  if (lead !== null) {
    for (const f of lead[1] as string) {
      if (!FLAGS_KNOWN.has(f)) return invalid(`the flag ${JSON.stringify(f)} is not supported (only i, m and s)`);
      flags.add(f);
    }
    body = body.slice(lead[0].length);
  }
  const multiLine = flags.has('m');
  let out = '';
  let inClass = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\') {
      const n = body[i + 1];
      if (n === undefined) return invalid('trailing backslash');
      i++;
      if (/[1-9]/.test(n)) return invalid('RE2 has no backreferences');
      if (n === 'k' && body[i + 1] === '<') return invalid('RE2 has no named backreferences');
      if (n === 'Q') {
        const end = body.indexOf('\\E', i + 1);
        const quoted = end < 0 ? body.slice(i + 1) : body.slice(i + 1, end);
        for (const q of quoted) out += /[\w\s]/.test(q) ? q : `\\u{${q.codePointAt(0)?.toString(16) ?? '0'}}`;
        i = end < 0 ? body.length : end + 1;
        continue;
      }
      if ((n === 'x' || n === 'p' || n === 'P') && body[i + 1] === '{') {
        const close = body.indexOf('}', i + 2);
        if (close < 0) return invalid(`unclosed \\${n}{`);
        const inner = body.slice(i + 2, close);
        if (n === 'x') out += `\\u{${inner}}`;
        else out += `\\${n}{${UNICODE_CATEGORY.test(inner) ? inner : `Script=${inner}`}}`;
        i = close;
      } else if (!inClass && n === 'A') out += '^';
      else if (!inClass && n === 'z') out += '$';
      else if ((n === 'p' || n === 'P') && /[A-Za-z]/.test(body[i + 1] ?? '')) {
        out += `\\${n}{${body[i + 1] as string}}`;
        i++;
      } else if (/[!-/:-@[-`{-~]/.test(n)) out += `\\x${n.charCodeAt(0).toString(16).padStart(2, '0')}`;
      else out += `\\${n}`;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // A `]` or `^]` right after the opening bracket is a literal in RE2.
      if (body[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (body[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '{' || c === '}' || c === ']') {
      const quantifier = c === '{' ? QUANTIFIER.exec(body.slice(i)) : null;
      if (quantifier !== null && out.length > 0) {
        out += quantifier[0];
        i += quantifier[0].length - 1;
      } else out += `\\${c}`;
      continue;
    }
    if (c === '(' && body[i + 1] === '?') {
      const rest = body.slice(i + 2);
      if (rest.startsWith('P<')) {
        out += '(?<';
        i += 3;
        continue;
      }
      if (/^(<?[=!])/.test(rest)) return invalid('RE2 has no lookaround');
      if (rest.startsWith(':') || rest.startsWith('<')) {
        out += '(?';
        i++;
        continue;
      }
      return invalid('flag groups are supported only at the start of the pattern');
    }
    if (multiLine && c === '^') out += LINE_START;
    else if (multiLine && c === '$') out += LINE_END;
    else out += c;
  }
  flags.delete('m');
  return { source: out, flags: `u${[...flags].sort().join('')}` };
}

/**
 * re2Problem says why `pattern` is not a valid RE2 pattern under `bound`, or
 * null when it is; a parser reports it at the pattern's position.
 */
export function re2Problem(pattern: string, bound: Re2Bound): Re2Problem | null {
  const bytes = Buffer.byteLength(pattern, 'utf8');
  if (bytes > bound.bytesMax) {
    return { code: 'ERR_LIMIT_EXCEEDED', message: `regular expression of ${bytes} bytes exceeds ${bound.name} (${bound.bytesMax})` };
  }
  const t = translateRe2(pattern);
  if ('code' in t) return t;
  try {
    new RegExp(t.source, t.flags);
  } catch (err) {
    return invalid((err as Error).message);
  }
  const linear = linearProblem(pattern);
  return linear === null ? null : invalid(linear);
}

/**
 * compileRe2 compiles an RE2 pattern, fully anchored when `anchored` (every
 * matcher) or searching anywhere (LogQL line filters); a refusal throws
 * OtlpdbError with the problem's code, its message prefixed with `context`
 * ("LogQL", "select", ...).
 */
export function compileRe2(pattern: string, anchored: boolean, bound: Re2Bound, context: string): Re2Regex {
  const problem = re2Problem(pattern, bound);
  if (problem !== null) throw new OtlpdbError(problem.code, `${context}: ${problem.message}`, { pattern: pattern.slice(0, 128) });
  return buildRe2(pattern, anchored, context);
}

/**
 * buildRe2 compiles a pattern whose length its caller already bounded (as
 * compileRe2 does with re2Problem): a pattern either engine refuses throws
 * ERR_INVALID_ARGUMENT, its message prefixed with `context`.
 */
export function buildRe2(pattern: string, anchored: boolean, context: string): Re2Regex {
  const t = translateRe2(pattern);
  if ('code' in t) throw new OtlpdbError(t.code, `${context}: ${t.message}`);
  const linear = linearProblem(pattern);
  if (linear !== null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${context}: ${invalid(linear).message}`);
  return new Re2Regex(pattern, new RegExp(anchored ? `^(?:${t.source})$` : t.source, t.flags), anchored, t.source);
}

function invalid(why: string): Re2Problem {
  return { code: 'ERR_INVALID_ARGUMENT', message: `invalid regular expression (${why})` };
}
