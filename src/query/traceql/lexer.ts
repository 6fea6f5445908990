/**
 * lexer.ts — turns TraceQL text into tokens. Pure: no state outside one call.
 *
 * Decisions (README.md cites Tempo for each):
 * - Attribute names run until a space or one of `{ } ( ) = ~ ! < > & | ^ ,`
 *   (Tempo's attribute runes), so `span.http.status_code` and `span.a-b/c`
 *   are single names; double-quoted parts (`span."a b"`, with only `\"` and
 *   `\\` escapes, as Tempo) may be mixed with unquoted ones.
 * - `span.` and `resource.` scope attributes; `.x` is unscoped. Tempo's other
 *   attribute scopes (`event.`, `link.`, `instrumentation.`, `parent.`) are
 *   refused with a message saying so, not misread.
 * - Numbers: integers (bigint, |n| <= 2^63), floats (with `.` or an exponent),
 *   durations (a number and a unit, possibly compound like `1h30m`; fractions
 *   are truncated to whole nanoseconds, as Go's time.ParseDuration does).
 * - Strings: double-quoted with `\" \\ \n \t \r \uXXXX` escapes, or
 *   backtick-quoted raw strings (handy for regular expressions).
 */
import { OtlpdbError } from '../../errors.js';
import type { IntrinsicName } from './ast.js';
import { INTRINSIC_SPELLINGS } from './ast.js';

/** TokenKind names every token the lexer produces. */
export type TokenKind =
  | '{'
  | '}'
  | '('
  | ')'
  | ','
  | '|'
  | '&&'
  | '||'
  | '!'
  | '='
  | '!='
  | '>'
  | '>='
  | '<'
  | '<='
  | '=~'
  | '!~'
  | '>>'
  | '<<'
  | '~'
  | '!>'
  | '!>>'
  | '!<'
  | '!<<'
  | '&>'
  | '&>>'
  | '&<'
  | '&<<'
  | '&~'
  | '-'
  | 'string'
  | 'int'
  | 'float'
  | 'duration'
  | 'word'
  | 'attribute'
  | 'intrinsic'
  | 'eof';

/** Token is one lexeme with its source offset (UTF-16 index) and, for literals and fields, its decoded value. */
export interface Token {
  readonly kind: TokenKind;
  /** text is the token's source text (empty for eof). */
  readonly text: string;
  readonly offset: number;
  readonly stringValue?: string;
  readonly bigintValue?: bigint;
  readonly floatValue?: number;
  readonly scope?: 'span' | 'resource' | 'unscoped';
  readonly intrinsic?: IntrinsicName;
}

/** INT_ABS_MAX is 2^63: the largest magnitude an integer literal may have before its sign is applied. */
export const INT_ABS_MAX = 1n << 63n;

const DURATION_UNITS_NS: readonly (readonly [string, bigint])[] = [
  // Longest spelling first, so `ms` is not read as `m` followed by `s`.
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n], // U+00B5 micro sign
  ['μs', 1_000n], // U+03BC Greek mu, which Go accepts too
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
];

const UNSUPPORTED_SCOPES = new Set(['event', 'link', 'instrumentation', 'parent', 'trace']);

const INTRINSIC_BY_SPELLING: ReadonlyMap<string, IntrinsicName> = new Map(
  (Object.entries(INTRINSIC_SPELLINGS) as [IntrinsicName, readonly string[]][]).flatMap(([name, spellings]) =>
    spellings.map((s) => [s, name] as const),
  ),
);

/** intrinsicBySpelling resolves an intrinsic spelling (`name`, `span:name`) or returns undefined. */
export function intrinsicBySpelling(spelling: string): IntrinsicName | undefined {
  return INTRINSIC_BY_SPELLING.get(spelling);
}

/** isAttributeChar says whether a character may appear in an unquoted attribute name (Tempo's attribute runes). */
export function isAttributeChar(ch: string): boolean {
  if (/\s/u.test(ch)) return false;
  return !'{}()=~!<>&|^,"`'.includes(ch);
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

function isWordStart(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z_]/.test(ch);
}

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9_]/.test(ch);
}

/** positionOf converts a UTF-16 offset of `text` to a 1-based line and a 1-based column counted in code points. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  const column = [...text.slice(lineStart, offset)].length + 1;
  return { line, column };
}

/** describeFound renders the text found at an error position, shortened, for messages. */
export function describeFound(token: Token): string {
  if (token.kind === 'eof') return 'end of query';
  const chars = [...token.text];
  const shown = chars.length > 24 ? `${chars.slice(0, 24).join('')}…` : token.text;
  return `'${shown}'`;
}

/** queryError builds the ERR_INVALID_ARGUMENT of a malformed query: "<what> at L:C, found <x>" with structured details. */
export function queryError(text: string, offset: number, what: string, found: string | null): OtlpdbError {
  const { line, column } = positionOf(text, offset);
  const suffix = found === null ? '' : `, found ${found}`;
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `TraceQL: ${what} at ${line}:${column}${suffix}`, {
    line,
    column,
    ...(found === null ? {} : { found }),
  });
}

/**
 * tokenize splits a query into tokens, ending with one eof token. Malformed
 * text (an unknown character, an unterminated string, a bad escape or
 * duration unit, an unsupported scope) throws ERR_INVALID_ARGUMENT naming
 * the position.
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (at: number, what: string): never => {
    const ch = [...text.slice(at)][0];
    throw queryError(text, at, what, ch === undefined ? 'end of query' : `'${ch}'`);
  };
  const push = (kind: TokenKind, start: number, extra: Partial<Token> = {}): void => {
    tokens.push({ kind, text: text.slice(start, i), offset: start, ...extra });
  };

  while (i < text.length) {
    const ch = text[i] as string;
    const start = i;
    if (/\s/u.test(ch)) {
      i++;
      continue;
    }
    const three = text.slice(i, i + 3);
    switch (three) {
      case '!>>':
      case '!<<':
      case '&>>':
      case '&<<':
        i += 3;
        push(three, start);
        continue;
    }
    const two = text.slice(i, i + 2);
    switch (two) {
      case '!>':
      case '!<':
      case '&>':
      case '&<':
      case '&~':
      case '&&':
      case '||':
      case '!=':
      case '>=':
      case '<=':
      case '=~':
      case '!~':
      case '>>':
      case '<<':
        i += 2;
        push(two, start);
        continue;
    }
    switch (ch) {
      case '{':
      case '}':
      case '(':
      case ')':
      case ',':
      case '|':
      case '!':
      case '=':
      case '>':
      case '<':
      case '~':
      case '-':
        i++;
        push(ch, start);
        continue;
      case '"':
      case '`': {
        const value = readString(ch);
        push('string', start, { stringValue: value });
        continue;
      }
      case '.': {
        i++;
        const name = readAttributeName(start);
        push('attribute', start, { scope: 'unscoped', stringValue: name });
        continue;
      }
    }
    if (isDigit(ch)) {
      readNumber(start);
      continue;
    }
    if (isWordStart(ch)) {
      while (isWordChar(text[i])) i++;
      const word = text.slice(start, i);
      if (text[i] === ':' && isWordStart(text[i + 1])) {
        i++;
        while (isWordChar(text[i])) i++;
        const spelling = text.slice(start, i);
        const intrinsic = intrinsicBySpelling(spelling);
        if (intrinsic === undefined) {
          throw queryError(text, start, 'unknown or unsupported intrinsic', `'${spelling}'`);
        }
        push('intrinsic', start, { intrinsic });
        continue;
      }
      if (text[i] === '.' && (word === 'span' || word === 'resource')) {
        i++;
        const name = readAttributeName(start);
        push('attribute', start, { scope: word, stringValue: name });
        continue;
      }
      if (text[i] === '.' && UNSUPPORTED_SCOPES.has(word)) {
        throw queryError(text, start, `attribute scope '${word}.' is not supported (only span., resource. and unscoped .)`, null);
      }
      push('word', start);
      continue;
    }
    if (ch === '&') fail(start, "expected '&&'");
    fail(start, 'unexpected character');
  }
  tokens.push({ kind: 'eof', text: '', offset: text.length });
  return tokens;

  function readString(quote: string): string {
    const start = i;
    i++;
    let out = '';
    while (true) {
      if (i >= text.length) throw queryError(text, start, 'unterminated string', null);
      const c = text[i] as string;
      if (c === quote) {
        i++;
        return out;
      }
      if (c === '\\' && quote === '"') {
        const e = text[i + 1];
        switch (e) {
          case '"':
          case '\\':
            out += e;
            i += 2;
            continue;
          case 'n':
            out += '\n';
            i += 2;
            continue;
          case 't':
            out += '\t';
            i += 2;
            continue;
          case 'r':
            out += '\r';
            i += 2;
            continue;
          case 'u': {
            const hex = text.slice(i + 2, i + 6);
            if (!/^[0-9A-Fa-f]{4}$/.test(hex)) fail(i, 'expected four hex digits after \\u');
            out += String.fromCharCode(Number.parseInt(hex, 16));
            i += 6;
            continue;
          }
          default:
            fail(i, 'unknown escape (supported: \\" \\\\ \\n \\t \\r \\uXXXX)');
        }
      }
      out += c;
      i++;
    }
  }

  function readAttributeName(tokenStart: number): string {
    let name = '';
    while (i < text.length) {
      const c = text[i] as string;
      if (c === '"') {
        const partStart = i;
        i++;
        while (true) {
          if (i >= text.length) throw queryError(text, partStart, 'unterminated quoted attribute name', null);
          const q = text[i] as string;
          if (q === '"') {
            i++;
            break;
          }
          if (q === '\\') {
            const e = text[i + 1];
            if (e !== '"' && e !== '\\') fail(i, 'unknown escape in attribute name (supported: \\" \\\\)');
            name += e;
            i += 2;
            continue;
          }
          name += q;
          i++;
        }
        continue;
      }
      if (!isAttributeChar(c)) break;
      name += c;
      i++;
    }
    if (name === '') throw queryError(text, tokenStart, 'expected an attribute name', null);
    return name;
  }

  function readNumber(start: number): void {
    while (isDigit(text[i])) i++;
    let isFloat = false;
    if (text[i] === '.' && isDigit(text[i + 1])) {
      isFloat = true;
      i++;
      while (isDigit(text[i])) i++;
    }
    const mantissaEnd = i;
    if ((text[i] === 'e' || text[i] === 'E') && (isDigit(text[i + 1]) || ((text[i + 1] === '+' || text[i + 1] === '-') && isDigit(text[i + 2])))) {
      i += 2;
      while (isDigit(text[i])) i++;
      const value = Number(text.slice(start, i));
      if (!Number.isFinite(value)) fail(start, 'float out of range');
      push('float', start, { floatValue: value });
      return;
    }
    const unit = unitAt(i);
    if (unit === undefined) {
      if (isWordChar(text[i]) || text[i] === 'µ' || text[i] === 'μ') fail(i, 'unknown duration unit (ns, us, µs, ms, s, m, h)');
      if (isFloat) {
        push('float', start, { floatValue: Number(text.slice(start, i)) });
      } else {
        const value = BigInt(text.slice(start, i));
        if (value > INT_ABS_MAX) fail(start, 'integer out of range');
        push('int', start, { bigintValue: value });
      }
      return;
    }
    // A duration: one or more number+unit parts.
    let total = durationPartNs(text.slice(start, mantissaEnd), unit[1]);
    i += unit[0].length;
    while (isDigit(text[i])) {
      const partStart = i;
      while (isDigit(text[i])) i++;
      if (text[i] === '.' && isDigit(text[i + 1])) {
        i++;
        while (isDigit(text[i])) i++;
      }
      const partUnit = unitAt(i);
      if (partUnit === undefined) fail(i, 'expected a duration unit (ns, us, µs, ms, s, m, h)');
      const u = partUnit as readonly [string, bigint];
      total += durationPartNs(text.slice(partStart, i), u[1]);
      i += u[0].length;
    }
    if (isWordChar(text[i])) fail(i, 'unknown duration unit (ns, us, µs, ms, s, m, h)');
    if (total > INT_ABS_MAX) fail(start, 'duration out of range');
    push('duration', start, { bigintValue: total });
  }

  function unitAt(at: number): readonly [string, bigint] | undefined {
    for (const u of DURATION_UNITS_NS) {
      if (text.startsWith(u[0], at) && !isWordChar(text[at + u[0].length])) return u;
    }
    // A compound duration continues with digits right after the unit (`1h30m`).
    for (const u of DURATION_UNITS_NS) {
      if (text.startsWith(u[0], at) && isDigit(text[at + u[0].length])) return u;
    }
    return undefined;
  }
}

/** durationPartNs converts "1.5" and a unit in ns to whole nanoseconds, truncating the fraction (exact, no float). */
function durationPartNs(number: string, unitNs: bigint): bigint {
  const dot = number.indexOf('.');
  if (dot < 0) return BigInt(number) * unitNs;
  const whole = number.slice(0, dot);
  const frac = number.slice(dot + 1);
  const scale = 10n ** BigInt(frac.length);
  return (BigInt(whole + frac) * unitNs) / scale;
}
