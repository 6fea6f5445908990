/**
 * lexer.ts — turns LogQL text into tokens. Pure: no state outside one call.
 *
 * - Strings: double-quoted with Go escapes (`\" \\ \n \t \r \uXXXX`), or
 *   backtick-quoted raw strings (handy for regular expressions).
 * - Numbers: `12`, `0.5`, `1e3`; a number followed by a unit is a duration
 *   (`5m`, `1h30m`, `250ms`; Go units plus `d`, `w`, `y`) or a byte size
 *   (`20MB`, `1KiB`, `5B`).
 * - Words: `[A-Za-z_][A-Za-z0-9_]*` (label names, keywords, functions).
 * - Flags: `--strict`, `--keep-empty` (logfmt).
 */
import { OtlpdbError } from '../../errors.js';
import { isBytesUnit, parseBytes, parseDurationNs } from './values.js';

/** TokenKind names every token the lexer produces. */
export type TokenKind =
  | '{'
  | '}'
  | '('
  | ')'
  | '['
  | ']'
  | ','
  | '|'
  | '|='
  | '|~'
  | '|>'
  | '!>'
  | '!='
  | '!~'
  | '='
  | '=~'
  | '=='
  | '>'
  | '>='
  | '<'
  | '<='
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '^'
  | 'string'
  | 'number'
  | 'duration'
  | 'bytes'
  | 'word'
  | 'flag'
  | 'eof';

/** Token is one lexeme with its source offset (UTF-16 index) and its decoded value. */
export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly offset: number;
  readonly stringValue?: string;
  readonly numberValue?: number;
  readonly durationNs?: bigint;
}

/** positionOf converts a UTF-16 offset to a 1-based line and column (column in code points). */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: [...text.slice(lineStart, offset)].length + 1 };
}

/** describeFound renders a token for an error message, shortened. */
export function describeFound(token: Token): string {
  if (token.kind === 'eof') return 'end of query';
  const chars = [...token.text];
  return `'${chars.length > 24 ? `${chars.slice(0, 24).join('')}…` : token.text}'`;
}

/** logqlError builds the ERR_INVALID_ARGUMENT of a malformed query: "LogQL: <what> at L:C, found <x>" with details. */
export function logqlError(text: string, offset: number, what: string, found: string | null): OtlpdbError {
  const { line, column } = positionOf(text, offset);
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `LogQL: ${what} at ${line}:${column}${found === null ? '' : `, found ${found}`}`, {
    line,
    column,
    ...(found === null ? {} : { found }),
  });
}

const TWO: ReadonlySet<string> = new Set(['|=', '|~', '|>', '!>', '!=', '!~', '=~', '==', '>=', '<=']);
const ONE: ReadonlySet<string> = new Set(['{', '}', '(', ')', '[', ']', ',', '|', '=', '>', '<', '+', '-', '*', '/', '%', '^']);

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isWordStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_]/.test(c);
const isWordChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);

/** tokenize splits a query into tokens ending with eof; malformed text throws ERR_INVALID_ARGUMENT naming the position. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (at: number, what: string): never => {
    const ch = [...text.slice(at)][0];
    throw logqlError(text, at, what, ch === undefined ? 'end of query' : `'${ch}'`);
  };
  while (i < text.length) {
    const ch = text[i] as string;
    const start = i;
    if (/\s/u.test(ch)) {
      i++;
      continue;
    }
    if (ch === '#') {
      // A comment runs to the end of the line, as in Loki.
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (text.startsWith('--', i) && isWordStart(text[i + 2])) {
      i += 2;
      while (isWordChar(text[i]) || text[i] === '-') i++;
      tokens.push({ kind: 'flag', text: text.slice(start, i), offset: start });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (TWO.has(two)) {
      i += 2;
      tokens.push({ kind: two as TokenKind, text: two, offset: start });
      continue;
    }
    if (ONE.has(ch)) {
      i++;
      tokens.push({ kind: ch as TokenKind, text: ch, offset: start });
      continue;
    }
    if (ch === '"' || ch === '`') {
      const value = readString(ch);
      tokens.push({ kind: 'string', text: text.slice(start, i), offset: start, stringValue: value });
      continue;
    }
    if (isDigit(ch) || (ch === '.' && isDigit(text[i + 1]))) {
      while (isDigit(text[i])) i++;
      if (text[i] === '.' && isDigit(text[i + 1])) {
        i++;
        while (isDigit(text[i])) i++;
      }
      if ((text[i] === 'e' || text[i] === 'E') && (isDigit(text[i + 1]) || ((text[i + 1] === '+' || text[i + 1] === '-') && isDigit(text[i + 2])))) {
        i += 2;
        while (isDigit(text[i])) i++;
        tokens.push({ kind: 'number', text: text.slice(start, i), offset: start, numberValue: Number(text.slice(start, i)) });
        continue;
      }
      if (!isWordChar(text[i]) && text[i] !== 'µ' && text[i] !== 'μ') {
        tokens.push({ kind: 'number', text: text.slice(start, i), offset: start, numberValue: Number(text.slice(start, i)) });
        continue;
      }
      // A unit follows: read the whole run of digits, dots and letters.
      while (isWordChar(text[i]) || text[i] === '.' || text[i] === 'µ' || text[i] === 'μ') i++;
      const word = text.slice(start, i);
      const ns = parseDurationNs(word);
      if (ns !== null) {
        tokens.push({ kind: 'duration', text: word, offset: start, durationNs: ns });
        continue;
      }
      const unit = /[A-Za-z]+$/.exec(word)?.[0] ?? '';
      const bytes = parseBytes(word);
      if (bytes !== null && isBytesUnit(unit)) {
        tokens.push({ kind: 'bytes', text: word, offset: start, numberValue: bytes });
        continue;
      }
      fail(start, 'expected a number, a duration (ns, us, ms, s, m, h, d, w, y) or a byte size (B, KB, KiB, MB, ...)');
    }
    if (isWordStart(ch)) {
      while (isWordChar(text[i])) i++;
      tokens.push({ kind: 'word', text: text.slice(start, i), offset: start });
      continue;
    }
    fail(start, 'unexpected character');
  }
  tokens.push({ kind: 'eof', text: '', offset: text.length });
  return tokens;

  function readString(quote: string): string {
    const start = i;
    i++;
    let out = '';
    for (;;) {
      if (i >= text.length) throw logqlError(text, start, 'unterminated string', null);
      const c = text[i] as string;
      if (c === quote) {
        i++;
        return out;
      }
      if (c === '\\' && quote === '"') {
        const e = text[i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r' };
        if (e !== undefined && simple[e] !== undefined) {
          out += simple[e];
          i += 2;
          continue;
        }
        if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) fail(i, 'expected four hex digits after \\u');
          out += String.fromCharCode(Number.parseInt(hex, 16));
          i += 6;
          continue;
        }
        fail(i, 'unknown escape (supported: \\" \\\\ \\n \\t \\r \\uXXXX; use a backtick string for regular expressions)');
      }
      out += c;
      i++;
    }
  }
}
