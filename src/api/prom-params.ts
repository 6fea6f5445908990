/**
 * prom-params.ts — the parameters of Prometheus's HTTP API, parsed as
 * Prometheus parses them (web/api/v1/api.go): times (`parseTime`: unix
 * seconds as a float, or RFC 3339), durations (`parseDuration`: float
 * seconds, or a Prometheus duration like `1h30m`, `5m`, `15s`, `100ms`,
 * `1d`, `1w`, `1y`), and series selectors of `match[]` (`parseSelector`:
 * `name`, `name{l="v",…}` or `{…}` with `=`, `!=`, `=~`, `!~`; strings in
 * double, single or back quotes with Go's escapes). Pure; every refusal is
 * ERR_INVALID_ARGUMENT with Prometheus's message, which the routes answer
 * as `bad_data`.
 */
import { OtlpdbError } from '../errors.js';
import { MetricsQueryLimits, PromqlLimits } from '../limits.js';
import { compileRe2 } from '../re2.js';
import type { Re2Regex } from '../re2-guard.js';
import type { PromMatcher } from '../query/promql/source.js';
import type { MaxSourceResolution } from '../query/promql/rollup-eval.js';
import { parseMaxSourceResolution } from '../query/promql/rollup-eval.js';

function bad(message: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', message);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** MIN_TIME_MS and MAX_TIME_MS are the times Prometheus's API takes as "no bound" (its minTime / maxTime, in ms). */
export const MIN_TIME_MS = -9_223_372_036_854;
/** MAX_TIME_MS: see MIN_TIME_MS. */
export const MAX_TIME_MS = 9_223_372_036_854;

/** parseTime parses a time parameter to integer ms; `param` names it in the error, as Prometheus does. */
export function parseTime(raw: string, param: string): number {
  const t = raw.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) {
    const s = Number(t);
    const ms = Math.round(s * 1000);
    if (Number.isFinite(s) && ms >= MIN_TIME_MS && ms <= MAX_TIME_MS) return ms;
  } else if (RFC3339.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  } else if (t === '-292273086-05-16T16:47:06Z') return MIN_TIME_MS;
  else if (t === '292277025-08-18T07:12:54.999999999Z') return MAX_TIME_MS;
  throw bad(`invalid parameter "${param}": cannot parse "${raw}" to a valid timestamp`);
}

const UNIT_MS: Readonly<Record<string, number>> = { y: 365 * 86_400_000, w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const DURATION = /^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$/;

/** parseDuration parses a duration parameter to ms (float seconds, or Prometheus's duration syntax). */
export function parseDuration(raw: string, param: string): number {
  const t = raw.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) {
    const s = Number(t);
    const ms = Math.round(s * 1000);
    if (Number.isFinite(s) && Math.abs(ms) <= MAX_TIME_MS) return ms;
    throw bad(`invalid parameter "${param}": cannot parse "${raw}" to a valid duration. It overflows int64`);
  }
  const m = DURATION.exec(t);
  if (t !== '' && m !== null) {
    let ms = 0;
    const units = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
    for (let i = 0; i < units.length; i++) {
      const n = m[2 + 2 * i];
      if (n !== undefined) ms += Number(n) * (UNIT_MS[units[i] as string] as number);
    }
    if (Number.isSafeInteger(ms)) return ms;
  }
  throw bad(`invalid parameter "${param}": cannot parse "${raw}" to a valid duration`);
}

const IDENT_START = /[a-zA-Z_:]/;
const IDENT = /[a-zA-Z0-9_:]/;
const LABEL_START = /[a-zA-Z_]/;
const LABEL = /[a-zA-Z0-9_]/;
const ESCAPES: Readonly<Record<string, string>> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

/** SelectorParser reads one series selector; its errors carry the 1-based column as Prometheus's do (`1:5: parse error: …`). */
class SelectorParser {
  #i = 0;
  readonly #s: string;
  constructor(s: string) {
    this.#s = s;
  }
  fail(why: string): never {
    throw bad(`1:${this.#i + 1}: parse error: ${why}`);
  }
  #ws(): void {
    while (this.#i < this.#s.length && /\s/.test(this.#s[this.#i] as string)) this.#i++;
  }
  #word(start: RegExp, rest: RegExp): string {
    const from = this.#i;
    if (!start.test(this.#s[this.#i] ?? '')) return '';
    while (this.#i < this.#s.length && rest.test(this.#s[this.#i] as string)) this.#i++;
    return this.#s.slice(from, this.#i);
  }
  #string(): string {
    const q = this.#s[this.#i];
    if (q !== '"' && q !== "'" && q !== '`') this.fail('unexpected character in label matcher: expected a string');
    this.#i++;
    let out = '';
    for (;;) {
      const c = this.#s[this.#i++];
      if (c === undefined) this.fail('unterminated quoted string');
      if (c === q) return out;
      if (c === '\\' && q !== '`') {
        const e = this.#s[this.#i++] ?? '';
        if (e in ESCAPES) out += ESCAPES[e];
        else if (e === 'x' || e === 'u' || e === 'U') {
          const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
          const hex = this.#s.slice(this.#i, this.#i + n);
          if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) this.fail('invalid escape sequence');
          out += String.fromCodePoint(parseInt(hex, 16));
          this.#i += n;
        } else this.fail(`unknown escape sequence "\\${e}"`);
        continue;
      }
      out += c;
    }
  }
  parse(): PromMatcher[] {
    const matchers: PromMatcher[] = [];
    this.#ws();
    const name = this.#word(IDENT_START, IDENT);
    if (name !== '') matchers.push({ name: '__name__', op: '=', value: name });
    this.#ws();
    if (this.#s[this.#i] === '{') {
      this.#i++;
      for (;;) {
        this.#ws();
        if (this.#s[this.#i] === '}') break;
        const label = this.#s[this.#i] === '"' ? this.#string() : this.#word(LABEL_START, LABEL);
        if (label === '') this.fail('unexpected character inside braces: expected a label name');
        this.#ws();
        const op = (['=~', '!~', '!=', '='] as const).find((o) => this.#s.startsWith(o, this.#i));
        if (op === undefined) this.fail(`unexpected character after label name "${label}": expected a label matching operator`);
        this.#i += op.length;
        this.#ws();
        matchers.push({ name: label, op, value: this.#string() });
        if (matchers.length > MetricsQueryLimits.matchersMax) this.fail(`more than ${MetricsQueryLimits.matchersMax} matchers`);
        this.#ws();
        if (this.#s[this.#i] === ',') {
          this.#i++;
          continue;
        }
        if (this.#s[this.#i] !== '}') this.fail('unexpected character inside braces: expected "," or "}"');
      }
      this.#i++;
    } else if (name === '') this.fail('unexpected input: expected a metric name or "{"');
    this.#ws();
    if (this.#i < this.#s.length) this.fail(`unexpected character: ${JSON.stringify(this.#s[this.#i])}`);
    if (name !== '' && matchers.some((m, i) => i > 0 && m.name === '__name__')) this.fail(`metric name must not be set twice: "${name}"`);
    return matchers;
  }
}

/** REGEX_BOUND: a `match[]` matcher's regex is bounded as a PromQL one is. */
const REGEX_BOUND = { bytesMax: PromqlLimits.regexBytesMax, name: 'PromqlLimits.regexBytesMax' };

/**
 * parseSelector parses one series selector of `match[]`. Like Prometheus it
 * demands a matcher that does not match the empty string ("vector selector
 * must contain at least one non-empty matcher").
 */
export function parseSelector(raw: string): PromMatcher[] {
  const ms = new SelectorParser(raw).parse();
  const matchesEmpty = (m: PromMatcher): boolean => {
    switch (m.op) {
      case '=':
        return m.value === '';
      case '!=':
        return m.value !== '';
      default: {
        let re: Re2Regex;
        try {
          re = compileRe2(m.value, true, REGEX_BOUND, 'match[]');
        } catch {
          throw bad(`1:1: parse error: invalid regular expression ${JSON.stringify(m.value)}`);
        }
        return re.test('') === (m.op === '=~');
      }
    }
  };
  if (ms.every(matchesEmpty)) throw bad('1:1: parse error: vector selector must contain at least one non-empty matcher');
  return ms;
}

/** LABEL_NAME is a valid (legacy) Prometheus label name. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * maxSourceResolutionParam reads `max_source_resolution` (Thanos's
 * parameter: raw, 5m, 1h or auto, the default; promql/README.md "Rollups"
 * says what each reads); any other value is ERR_INVALID_ARGUMENT, answered
 * as bad_data.
 */
export function maxSourceResolutionParam(raw: string | null): MaxSourceResolution {
  const r = parseMaxSourceResolution(raw);
  if (r === null) throw bad(`invalid parameter "max_source_resolution": ${JSON.stringify(raw)} is not raw, 5m, 1h or auto`);
  return r;
}
