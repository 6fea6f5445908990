/**
 * parser.ts — recursive descent from LogQL text to the AST of ast.ts. Pure;
 * every error is an OtlpdbError whose message names the 1-based line:column
 * and what was expected (ERR_INVALID_ARGUMENT), or the LogqlLimits bound a
 * query passes (ERR_LIMIT_EXCEEDED).
 *
 * Binary operator precedence, lowest first (Prometheus'): `or`; `and`
 * `unless`; comparisons; `+ -`; `* / %`; `^` (right-associative). Label
 * filters: `or` binds looser than `and` (and `,`, which means `and`).
 *
 * NB: past the ~500-line mark; the log-pipeline grammar (#stage and the
 * label filters) should move to its own file once the token cursor is a
 * shared class instead of this class's private methods.
 */
import { OtlpdbError } from '../../errors.js';
import { LogqlLimits } from '../../limits.js';
import type {
  BinaryOp,
  CompareOp,
  ExtractParam,
  Grouping,
  LabelFilterExpr,
  LabelFormatItem,
  LabelMatchItem,
  LineFilterOp,
  LogExpr,
  LogqlExpr,
  MatchOp,
  MetricExpr,
  RangeAggregation,
  RangeFn,
  Stage,
  Unwrap,
  VectorMatching,
  VectorOp,
} from './ast.js';
import { LOG_RANGE_FNS, RANGE_FNS, VECTOR_OPS } from './ast.js';
import type { Token, TokenKind } from './lexer.js';
import { describeFound, logqlError, positionOf, tokenize } from './lexer.js';
import { compileLogqlRegex, regexProblem } from './regex.js';
import type { StreamSelectorMatcher } from './source.js';
import { LABEL_NAME } from './label-replace.js';
import { parseLinePattern, parsePattern } from './pattern.js';
import { parseJsonPath } from './pipeline.js';
import { parseTemplate } from './template.js';

const RANGE_FN_SET: ReadonlySet<string> = new Set(RANGE_FNS);
const VECTOR_OP_SET: ReadonlySet<string> = new Set(VECTOR_OPS);
const MATCH_OPS: ReadonlySet<TokenKind> = new Set<TokenKind>(['=', '!=', '=~', '!~']);
const COMPARE_OPS: ReadonlySet<TokenKind> = new Set<TokenKind>(['=', '==', '!=', '>', '>=', '<', '<=']);
const LINE_FILTER_OPS: ReadonlySet<TokenKind> = new Set<TokenKind>(['|=', '!=', '|~', '!~', '|>', '!>']);
const PRECEDENCE: ReadonlyMap<string, number> = new Map([
  ['or', 1],
  ['and', 2],
  ['unless', 2],
  ['==', 3],
  ['!=', 3],
  ['>', 3],
  ['>=', 3],
  ['<', 3],
  ['<=', 3],
  ['+', 4],
  ['-', 4],
  ['*', 5],
  ['/', 5],
  ['%', 5],
  ['^', 6],
]);
const STAGE_KEYWORDS: ReadonlySet<string> = new Set(['json', 'logfmt', 'regexp', 'pattern', 'unpack', 'line_format', 'label_format', 'drop', 'keep', 'decolorize']);
const COMPARISONS: ReadonlySet<string> = new Set(['==', '!=', '>', '>=', '<', '<=']);
const SET_OPS: ReadonlySet<string> = new Set(['and', 'or', 'unless']);
/** Range aggregations that accept `by`/`without` (Loki: the unwrapped ones other than rate). */
const GROUPABLE_RANGE_FNS: ReadonlySet<RangeFn> = new Set<RangeFn>([
  'sum_over_time',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'quantile_over_time',
  'first_over_time',
  'last_over_time',
]);

/** parseLogql parses one query; throws ERR_INVALID_ARGUMENT for malformed text and ERR_LIMIT_EXCEEDED past a LogqlLimits bound. */
export function parseLogql(text: string): LogqlExpr {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > LogqlLimits.queryBytesMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: query of ${bytes} bytes exceeds LogqlLimits.queryBytesMax (${LogqlLimits.queryBytesMax})`);
  }
  return new Parser(text, tokenize(text)).parseQuery();
}

/** isScalarExpr says whether a metric expression is a scalar (only number literals), not a vector. */
export function isScalarExpr(e: MetricExpr): boolean {
  return e.kind === 'number' || (e.kind === 'binary' && isScalarExpr(e.lhs) && isScalarExpr(e.rhs));
}

/** Parser holds one parse. Invariant: 0 <= #pos < tokens.length and tokens ends with eof. */
class Parser {
  readonly #text: string;
  readonly #tokens: readonly Token[];
  #pos = 0;
  #depth = 0;

  constructor(text: string, tokens: readonly Token[]) {
    this.#text = text;
    this.#tokens = tokens;
  }

  parseQuery(): LogqlExpr {
    if (this.#peek().kind === '{') {
      const log = this.#logExpr();
      if (this.#peek().kind !== 'eof') this.#fail("expected a pipeline stage ('|', '|=', '!=', '|~', '!~', '|>', '!>') or end of query");
      return log;
    }
    const e = this.#expr(0);
    if (this.#peek().kind !== 'eof') this.#fail('expected a binary operator or end of query');
    return e;
  }

  // ---- tokens ----

  #peek(ahead = 0): Token {
    return this.#tokens[Math.min(this.#pos + ahead, this.#tokens.length - 1)] as Token;
  }

  #next(): Token {
    const t = this.#peek();
    if (t.kind !== 'eof') this.#pos++;
    return t;
  }

  #isWord(word: string, ahead = 0): boolean {
    const t = this.#peek(ahead);
    return t.kind === 'word' && t.text === word;
  }

  #expect(kind: TokenKind, what: string): Token {
    if (this.#peek().kind !== kind) this.#fail(what);
    return this.#next();
  }

  #fail(what: string, token: Token = this.#peek()): never {
    throw logqlError(this.#text, token.offset, what, describeFound(token));
  }

  #enter(): void {
    if (++this.#depth > LogqlLimits.nestingDepthMax) {
      const { line, column } = positionOf(this.#text, this.#peek().offset);
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: nesting deeper than LogqlLimits.nestingDepthMax (${LogqlLimits.nestingDepthMax}) at ${line}:${column}`, { line, column });
    }
  }

  #string(what: string): string {
    return this.#expect('string', what).stringValue as string;
  }

  #regex(token: Token, pattern: string): void {
    const problem = regexProblem(pattern);
    if (problem !== null) {
      if (problem.code === 'ERR_LIMIT_EXCEEDED') throw new OtlpdbError(problem.code, `LogQL: ${problem.message}`);
      throw logqlError(this.#text, token.offset, problem.message, describeFound(token));
    }
  }

  // ---- metric expressions ----

  #expr(minPrec: number): MetricExpr {
    this.#enter();
    let lhs = this.#unary();
    for (;;) {
      const t = this.#peek();
      const op = t.kind === 'word' ? t.text : t.kind;
      const prec = PRECEDENCE.get(op);
      if (prec === undefined || prec < minPrec || (t.kind === 'word' && !SET_OPS.has(op)) || (t.kind !== 'word' && SET_OPS.has(op))) break;
      this.#next();
      let bool = false;
      if (this.#isWord('bool')) {
        if (!COMPARISONS.has(op)) this.#fail(`'bool' is only allowed after a comparison operator`);
        this.#next();
        bool = true;
      }
      let matching: VectorMatching | null = null;
      if (this.#isWord('on') || this.#isWord('ignoring')) {
        const on = this.#next().text === 'on';
        const labels = this.#labelList();
        let group: VectorMatching['group'] = null;
        if (this.#isWord('group_left') || this.#isWord('group_right')) {
          const g = this.#next();
          if (SET_OPS.has(op)) this.#fail(`set operator '${op}' takes no ${g.text} (it matches many-to-many)`, g);
          // As Prometheus: a '(' right after group_x opens its label list, never the right operand.
          const include = this.#peek().kind === '(' ? this.#labelList() : [];
          const both = on ? include.find((l) => labels.includes(l)) : undefined;
          if (both !== undefined) this.#fail(`label '${both}' must not be listed in both on (...) and ${g.text} (...)`, g);
          group = { side: g.text === 'group_left' ? 'left' : 'right', include };
        }
        matching = { on, labels, group };
      }
      if (this.#isWord('group_left') || this.#isWord('group_right')) this.#fail(`${this.#peek().text} needs on (...) or ignoring (...) before it`);
      const rhs = this.#expr(op === '^' ? prec : prec + 1);
      const scalars = isScalarExpr(lhs) && isScalarExpr(rhs);
      if (SET_OPS.has(op) && (isScalarExpr(lhs) || isScalarExpr(rhs))) this.#fail(`set operator '${op}' needs vectors on both sides`, t);
      if (COMPARISONS.has(op) && scalars && !bool) this.#fail(`a comparison between scalars needs 'bool'`, t);
      if (matching !== null && (isScalarExpr(lhs) || isScalarExpr(rhs))) this.#fail(`'on'/'ignoring' need vectors on both sides`, t);
      lhs = { kind: 'binary', op: op as BinaryOp, bool, matching, lhs, rhs };
    }
    this.#depth--;
    return lhs;
  }

  #unary(): MetricExpr {
    const t = this.#peek();
    if (t.kind === '-' || t.kind === '+') {
      this.#next();
      const n = this.#peek();
      if (n.kind !== 'number') this.#fail('expected a number after a sign');
      this.#next();
      return { kind: 'number', value: t.kind === '-' ? -(n.numberValue as number) : (n.numberValue as number) };
    }
    if (t.kind === 'number') {
      this.#next();
      return { kind: 'number', value: t.numberValue as number };
    }
    if (t.kind === '(') {
      this.#next();
      const e = this.#expr(0);
      this.#expect(')', "expected ')'");
      return e;
    }
    if (t.kind === 'word' && t.text === 'vector' && this.#peek(1).kind === '(') {
      this.#next();
      this.#next();
      const sign = this.#peek().kind === '-' ? (this.#next(), -1) : 1;
      const n = this.#expect('number', "expected vector()'s number");
      this.#expect(')', "expected ')'");
      return { kind: 'vectorLiteral', value: sign * (n.numberValue as number) };
    }
    if (t.kind === 'word' && t.text === 'label_replace' && this.#peek(1).kind === '(') return this.#labelReplace();
    if (t.kind === 'word' && RANGE_FN_SET.has(t.text)) return this.#rangeAgg();
    if (t.kind === 'word' && VECTOR_OP_SET.has(t.text)) return this.#vectorAgg();
    if (t.kind === '{') this.#fail('a log query cannot be an operand; wrap it in a range aggregation such as count_over_time(... [5m])');
    return this.#fail('expected a number, a range aggregation (count_over_time, rate, ...), a vector aggregation (sum, topk, ...) or \'(\'');
  }

  #labelReplace(): MetricExpr {
    const fnTok = this.#next();
    this.#enter();
    this.#next();
    const expr = this.#expr(0);
    if (isScalarExpr(expr)) this.#fail('label_replace needs a vector, not a scalar', fnTok);
    const args: string[] = [];
    const names = ['the destination label', 'the replacement', 'the source label', 'the regular expression'];
    let regexTok = fnTok;
    for (const what of names) {
      this.#expect(',', `expected ',' and ${what} (a quoted string)`);
      if (what === 'the regular expression') regexTok = this.#peek();
      args.push(this.#string(`expected ${what} (a quoted string)`));
    }
    this.#expect(')', "expected ')'");
    this.#depth--;
    const [dst, replacement, src, regex] = args as [string, string, string, string];
    if (!LABEL_NAME.test(dst)) this.#fail(`label_replace's destination '${dst}' is not a valid label name`, fnTok);
    if (!LABEL_NAME.test(src)) this.#fail(`label_replace's source '${src}' is not a valid label name`, fnTok);
    this.#regex(regexTok, regex);
    return { kind: 'labelReplace', expr, dst, replacement, src, regex };
  }

  #labelList(): string[] {
    this.#expect('(', "expected '(' and a list of label names");
    const labels: string[] = [];
    if (this.#peek().kind !== ')') {
      for (;;) {
        labels.push(this.#expect('word', 'expected a label name').text);
        if (this.#peek().kind !== ',') break;
        this.#next();
      }
    }
    this.#expect(')', "expected ',' or ')'");
    return labels;
  }

  #grouping(): Grouping | null {
    if (!this.#isWord('by') && !this.#isWord('without')) return null;
    const without = this.#next().text === 'without';
    return { without, labels: this.#labelList() };
  }

  #vectorAgg(): MetricExpr {
    const opTok = this.#next();
    const op = opTok.text as VectorOp;
    let grouping = this.#grouping();
    this.#enter();
    this.#expect('(', `expected '(' after ${op}`);
    let param: number | null = null;
    if (op === 'topk' || op === 'bottomk') {
      const k = this.#expect('number', `expected ${op}'s k (a positive integer)`);
      param = k.numberValue as number;
      if (!Number.isSafeInteger(param) || param < 1) this.#fail(`${op}'s k must be a positive integer`, k);
      this.#expect(',', "expected ','");
    }
    const expr = this.#expr(0);
    if (isScalarExpr(expr)) this.#fail(`${op} needs a vector, not a scalar`, opTok);
    this.#expect(')', "expected ')'");
    this.#depth--;
    const after = this.#grouping();
    if (after !== null) {
      if (grouping !== null) this.#fail(`${op} has two groupings`);
      grouping = after;
    }
    return { kind: 'vector', op, param, grouping, expr };
  }

  #rangeAgg(): RangeAggregation {
    const fnTok = this.#next();
    const fn = fnTok.text as RangeFn;
    this.#enter();
    this.#expect('(', `expected '(' after ${fn}`);
    let param: number | null = null;
    if (fn === 'quantile_over_time') {
      let sign = 1;
      if (this.#peek().kind === '-') {
        this.#next();
        sign = -1;
      }
      param = sign * (this.#expect('number', "expected quantile_over_time's φ (a number)").numberValue as number);
      this.#expect(',', "expected ','");
    }
    if (this.#peek().kind !== '{') this.#fail('expected a log query (a stream selector)');
    const log = this.#logExpr();
    let unwrap: Unwrap | null = null;
    if (this.#peek().kind === '|' && this.#isWord('unwrap', 1)) {
      this.#next();
      this.#next();
      unwrap = this.#unwrap();
    }
    const open = this.#expect('[', "expected a pipeline stage, '| unwrap' or a range such as [5m]");
    const range = this.#expect('duration', 'expected a range duration such as 5m');
    if ((range.durationNs as bigint) <= 0n) this.#fail('the range must be positive', range);
    this.#expect(']', "expected ']'");
    let offsetNs = 0n;
    if (this.#isWord('offset')) {
      this.#next();
      offsetNs = this.#expect('duration', 'expected an offset duration').durationNs as bigint;
    }
    this.#expect(')', "expected ')' (or 'offset')");
    this.#depth--;
    const grouping = this.#grouping();
    const unwrapped = !LOG_RANGE_FNS.has(fn) || (fn === 'rate' && unwrap !== null);
    if (LOG_RANGE_FNS.has(fn) && fn !== 'rate' && unwrap !== null) this.#fail(`${fn} counts log lines and takes no unwrap`, fnTok);
    if (!LOG_RANGE_FNS.has(fn) && unwrap === null) this.#fail(`${fn} needs '| unwrap <label>' before the range`, open);
    if (grouping !== null && (!unwrapped || !GROUPABLE_RANGE_FNS.has(fn))) this.#fail(`${fn} takes no by/without (use a vector aggregation around it)`, fnTok);
    return { kind: 'range', fn, param, log, unwrap, rangeNs: range.durationNs as bigint, offsetNs, grouping };
  }

  #unwrap(): Unwrap {
    let conversion: Unwrap['conversion'] = null;
    let label: string;
    const t = this.#expect('word', 'expected the label to unwrap');
    if ((t.text === 'duration' || t.text === 'duration_seconds' || t.text === 'bytes') && this.#peek().kind === '(') {
      this.#next();
      conversion = t.text;
      label = this.#expect('word', 'expected a label name').text;
      this.#expect(')', "expected ')'");
    } else label = t.text;
    const postFilters: LabelFilterExpr[] = [];
    while (this.#peek().kind === '|' && this.#peek(1).kind !== 'eof') {
      this.#next();
      postFilters.push(this.#labelFilterOr());
    }
    return { label, conversion, postFilters };
  }

  // ---- log queries ----

  #logExpr(): LogExpr {
    const matchers = this.#selector();
    const stages: Stage[] = [];
    for (;;) {
      const t = this.#peek();
      if (LINE_FILTER_OPS.has(t.kind)) {
        stages.push(this.#lineFilter());
      } else if (t.kind === '|' && !this.#isWord('unwrap', 1)) {
        this.#next();
        stages.push(this.#stage());
      } else break;
      if (stages.length > LogqlLimits.stagesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: more than LogqlLimits.stagesMax (${LogqlLimits.stagesMax}) pipeline stages`);
    }
    return { kind: 'log', matchers, stages };
  }

  #selector(): StreamSelectorMatcher[] {
    const open = this.#expect('{', "expected '{'");
    const matchers: StreamSelectorMatcher[] = [];
    if (this.#peek().kind !== '}') {
      for (;;) {
        const name = this.#expect('word', 'expected a label name').text;
        const opTok = this.#peek();
        if (!MATCH_OPS.has(opTok.kind)) this.#fail("expected '=', '!=', '=~' or '!~'");
        this.#next();
        const valueTok = this.#peek();
        const value = this.#string('expected a quoted label value');
        if (opTok.kind === '=~' || opTok.kind === '!~') this.#regex(valueTok, value);
        matchers.push({ name, op: opTok.kind as MatchOp, value });
        if (this.#peek().kind !== ',') break;
        this.#next();
      }
    }
    this.#expect('}', "expected ',' or '}'");
    const matchesNonEmpty = matchers.some((m) => {
      if (m.op === '=') return m.value !== '';
      if (m.op === '=~') return !compileLogqlRegex(m.value, true).test('');
      return false;
    });
    if (!matchesNonEmpty) this.#fail('a stream selector needs at least one equality or regex matcher that does not match the empty value', open);
    return matchers;
  }

  #lineFilter(): Stage {
    const opTok = this.#next();
    const op = opTok.kind as LineFilterOp;
    const values: string[] = [];
    for (;;) {
      const vt = this.#peek();
      const v = this.#string('expected a quoted string after the line filter');
      if (op === '|~' || op === '!~') this.#regex(vt, v);
      if (op === '|>' || op === '!>') {
        const problem = parseLinePattern(v);
        if (typeof problem === 'string') this.#fail(`invalid pattern (${problem})`, vt);
      }
      values.push(v);
      if (this.#isWord('or') && this.#peek(1).kind === 'string') {
        this.#next();
        continue;
      }
      break;
    }
    return { kind: 'lineFilter', op, values };
  }

  #stage(): Stage {
    const t = this.#peek();
    if (t.kind === '(') return { kind: 'labelFilter', expr: this.#labelFilterOr() };
    if (t.kind !== 'word') this.#fail('expected a parser (json, logfmt, regexp, pattern, unpack), a label filter, line_format, label_format, decolorize, drop or keep');
    // Stage keywords are reserved (as in Loki): `| unpack != "x"` is unpack and a line filter.
    if (!STAGE_KEYWORDS.has(t.text)) {
      const next = this.#peek(1).kind;
      if (!MATCH_OPS.has(next) && !COMPARE_OPS.has(next)) this.#fail('expected a parser (json, logfmt, regexp, pattern, unpack), a label filter (name op value), line_format, label_format, drop or keep');
      return { kind: 'labelFilter', expr: this.#labelFilterOr() };
    }
    this.#next();
    switch (t.text) {
      case 'json':
        return { kind: 'json', params: this.#params() };
      case 'logfmt': {
        let strict = false;
        let keepEmpty = false;
        while (this.#peek().kind === 'flag') {
          const f = this.#next();
          if (f.text === '--strict') strict = true;
          else if (f.text === '--keep-empty') keepEmpty = true;
          else this.#fail('expected --strict or --keep-empty', f);
        }
        return { kind: 'logfmt', strict, keepEmpty, params: this.#params() };
      }
      case 'regexp': {
        const vt = this.#peek();
        const pattern = this.#string('expected a quoted regular expression');
        this.#regex(vt, pattern);
        if (!/\(\?P?<[A-Za-z_][A-Za-z0-9_]*>/.test(pattern)) this.#fail('the regexp parser needs at least one named capture group (?P<name>...)', vt);
        return { kind: 'regexp', pattern };
      }
      case 'pattern': {
        const vt = this.#peek();
        const pattern = this.#string('expected a quoted pattern');
        const problem = parsePattern(pattern);
        if (typeof problem === 'string') this.#fail(`invalid pattern (${problem})`, vt);
        return { kind: 'pattern', pattern };
      }
      case 'unpack':
        return { kind: 'unpack' };
      case 'decolorize':
        return { kind: 'decolorize' };
      case 'line_format': {
        const vt = this.#peek();
        const template = this.#string('expected a quoted template');
        this.#template(vt, template);
        return { kind: 'lineFormat', template };
      }
      case 'label_format': {
        const items: LabelFormatItem[] = [];
        for (;;) {
          const dst = this.#expect('word', 'expected a label name').text;
          this.#expect('=', "expected '='");
          const vt = this.#peek();
          if (vt.kind === 'word') {
            this.#next();
            items.push({ dst, src: { kind: 'rename', name: vt.text } });
          } else {
            const template = this.#string('expected a label name or a quoted template');
            this.#template(vt, template);
            items.push({ dst, src: { kind: 'template', template } });
          }
          if (this.#peek().kind !== ',') break;
          this.#next();
        }
        const seen = new Set<string>();
        for (const it of items) {
          if (seen.has(it.dst)) this.#fail(`label_format sets '${it.dst}' twice`, t);
          seen.add(it.dst);
        }
        return { kind: 'labelFormat', items };
      }
      case 'drop':
      case 'keep': {
        const items: LabelMatchItem[] = [];
        for (;;) {
          const nameTok = this.#expect('word', 'expected a label name');
          const name = nameTok.text;
          let matcher: LabelMatchItem['matcher'] = null;
          const opTok = this.#peek();
          // `!=` and `!~` are also line filters: after a drop/keep item they are its matcher only when written right after the name.
          const adjacent = opTok.offset === nameTok.offset + nameTok.text.length;
          if (MATCH_OPS.has(opTok.kind) && (adjacent || opTok.kind === '=' || opTok.kind === '=~')) {
            this.#next();
            const vt = this.#peek();
            const value = this.#string('expected a quoted value');
            if (opTok.kind === '=~' || opTok.kind === '!~') this.#regex(vt, value);
            matcher = { op: opTok.kind as MatchOp, value };
          }
          items.push({ name, matcher });
          if (this.#peek().kind !== ',') break;
          this.#next();
        }
        return { kind: t.text, items };
      }
      default:
        return this.#fail('expected a parser (json, logfmt, regexp, pattern, unpack), a label filter, line_format, label_format, decolorize, drop or keep', t);
    }
  }

  #template(token: Token, template: string): void {
    if (Buffer.byteLength(template, 'utf8') > LogqlLimits.templateBytesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: template exceeds LogqlLimits.templateBytesMax (${LogqlLimits.templateBytesMax})`);
    }
    const parsed = parseTemplate(template);
    if (typeof parsed === 'string') this.#fail(`invalid template (${parsed})`, token);
  }

  #params(): ExtractParam[] {
    const params: ExtractParam[] = [];
    if (this.#peek().kind !== 'word' || this.#isWord('unwrap')) return params;
    for (;;) {
      const label = this.#expect('word', 'expected a label name').text;
      let path = label;
      if (this.#peek().kind === '=') {
        this.#next();
        const pt = this.#peek();
        path = this.#string('expected a quoted expression');
        if (parseJsonPath(path) === null) this.#fail('expected a path such as a.b[0]["c d"]', pt);
      }
      params.push({ label, path });
      if (this.#peek().kind !== ',') break;
      this.#next();
    }
    return params;
  }

  #labelFilterOr(): LabelFilterExpr {
    this.#enter();
    let lhs = this.#labelFilterAnd();
    while (this.#isWord('or')) {
      this.#next();
      lhs = { kind: 'or', lhs, rhs: this.#labelFilterAnd() };
    }
    this.#depth--;
    return lhs;
  }

  #labelFilterAnd(): LabelFilterExpr {
    let lhs = this.#labelFilterAtom();
    while (this.#isWord('and') || this.#peek().kind === ',') {
      this.#next();
      lhs = { kind: 'and', lhs, rhs: this.#labelFilterAtom() };
    }
    return lhs;
  }

  #labelFilterAtom(): LabelFilterExpr {
    if (this.#peek().kind === '(') {
      this.#next();
      const e = this.#labelFilterOr();
      this.#expect(')', "expected ')'");
      return e;
    }
    const name = this.#expect('word', "expected a label name or '('").text;
    const opTok = this.#peek();
    if (!MATCH_OPS.has(opTok.kind) && !COMPARE_OPS.has(opTok.kind)) this.#fail("expected a comparison ('=', '!=', '=~', '!~', '==', '>', '>=', '<', '<=')");
    this.#next();
    let v = this.#peek();
    let negative = false;
    if (v.kind === '-') {
      this.#next();
      negative = true;
      v = this.#peek();
    }
    if (v.kind === 'string' && !negative) {
      if (!MATCH_OPS.has(opTok.kind)) this.#fail(`'${opTok.text}' compares numbers, durations or byte sizes, not strings`, opTok);
      this.#next();
      if (opTok.kind === '=~' || opTok.kind === '!~') this.#regex(v, v.stringValue as string);
      return { kind: 'string', name, op: opTok.kind as MatchOp, value: v.stringValue as string };
    }
    if (!COMPARE_OPS.has(opTok.kind)) this.#fail(`'${opTok.text}' needs a quoted string`, v);
    const op: CompareOp = opTok.kind === '=' ? '==' : (opTok.kind as CompareOp);
    this.#next();
    if (v.kind === 'number') return { kind: 'number', name, op, value: (negative ? -1 : 1) * (v.numberValue as number) };
    if (v.kind === 'duration') return { kind: 'duration', name, op, valueNs: (negative ? -1n : 1n) * (v.durationNs as bigint) };
    if (v.kind === 'bytes' && !negative) return { kind: 'bytes', name, op, value: v.numberValue as number };
    return this.#fail('expected a quoted string, a number, a duration or a byte size', v);
  }
}
