/**
 * parser.ts — a recursive-descent parser from TraceQL text to the AST of
 * ast.ts. Pure; every error is an OtlpdbError whose message names the 1-based
 * line:column and what was expected.
 *
 * Precedence, lowest first, all binary operators left-associative (Tempo's
 * expr.y): `|`; spanset `&&` and `||` (one level, as Tempo); structural `>`
 * `>>` `~` `<` `<<` and their negated (`!>`...) and union (`&>`...) forms. Inside braces: `&&` and `||` (one level, as Tempo);
 * comparisons (at most one per operand chain, non-associative here); `!`.
 *
 * Limits: the text's UTF-8 length (queryBytesMax), the parser's recursion
 * (nestingDepthMax) and the tree's height (astHeightMax) are checked while
 * parsing and refused with ERR_LIMIT_EXCEEDED.
 */
import { OtlpdbError } from '../../errors.js';
import { TraceqlLimits } from '../../limits.js';
import type {
  AggregateFn,
  ComparisonOp,
  FieldExpr,
  FieldRef,
  LiteralValue,
  Pipeline,
  ScalarComparisonOp,
  SpansetExpr,
  SpansetOp,
  Stage,
  TraceqlKind,
  TraceqlQuery,
  TraceqlStatus,
} from './ast.js';
import { STRUCTURAL_OPS, TRACEQL_KINDS, TRACEQL_STATUSES, isSpansetExpr } from './ast.js';
import type { Token, TokenKind } from './lexer.js';
import { INT_ABS_MAX, describeFound, intrinsicBySpelling, positionOf, queryError, tokenize } from './lexer.js';
import { regexProblem } from './regex.js';

const AGGREGATES: ReadonlySet<string> = new Set<AggregateFn>(['count', 'avg', 'min', 'max', 'sum']);
const STRUCTURAL: ReadonlySet<string> = new Set<string>(STRUCTURAL_OPS);
const COMPARISONS: ReadonlySet<TokenKind> = new Set<TokenKind>(['=', '!=', '>', '>=', '<', '<=', '=~', '!~']);
const SCALAR_COMPARISONS: ReadonlySet<TokenKind> = new Set<TokenKind>(['=', '!=', '>', '>=', '<', '<=']);

/**
 * parseTraceql parses one query. Throws ERR_INVALID_ARGUMENT for malformed
 * text and ERR_LIMIT_EXCEEDED for a query past a TraceqlLimits bound.
 */
export function parseTraceql(text: string): TraceqlQuery {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > TraceqlLimits.queryBytesMax) {
    throw new OtlpdbError(
      'ERR_LIMIT_EXCEEDED',
      `TraceQL: query of ${bytes} bytes exceeds TraceqlLimits.queryBytesMax (${TraceqlLimits.queryBytesMax})`,
    );
  }
  return new Parser(text, tokenize(text)).parseQuery();
}

/** Parser holds one parse. Invariant: 0 <= #pos < tokens.length and tokens ends with eof; #depth counts open nestings. */
class Parser {
  readonly #text: string;
  readonly #tokens: readonly Token[];
  #pos = 0;
  #depth = 0;
  readonly #heights = new WeakMap<object, number>();

  constructor(text: string, tokens: readonly Token[]) {
    this.#text = text;
    this.#tokens = tokens;
  }

  parseQuery(): TraceqlQuery {
    const pipeline = this.#pipeline();
    if (this.#peek().kind !== 'eof') this.#fail("expected '|', a spanset operator or end of query");
    return pipeline;
  }

  // ---- tokens ----

  #peek(ahead = 0): Token {
    const t = this.#tokens[Math.min(this.#pos + ahead, this.#tokens.length - 1)];
    if (t === undefined) throw new OtlpdbError('ERR_INTERNAL', 'invariant violated: token stream ends with eof');
    return t;
  }

  #next(): Token {
    const t = this.#peek();
    if (t.kind !== 'eof') this.#pos++;
    return t;
  }

  #expect(kind: TokenKind, what: string): Token {
    if (this.#peek().kind !== kind) this.#fail(what);
    return this.#next();
  }

  #fail(what: string, token: Token = this.#peek()): never {
    throw queryError(this.#text, token.offset, what, describeFound(token));
  }

  #enter(token: Token): void {
    this.#depth++;
    if (this.#depth > TraceqlLimits.nestingDepthMax) {
      const { line, column } = positionOf(this.#text, token.offset);
      throw new OtlpdbError(
        'ERR_LIMIT_EXCEEDED',
        `TraceQL: nesting deeper than TraceqlLimits.nestingDepthMax (${TraceqlLimits.nestingDepthMax}) at ${line}:${column}`,
        { line, column },
      );
    }
  }

  #leave(): void {
    this.#depth--;
  }

  /** #node records the height of a new tree node and refuses trees past astHeightMax. */
  #node<T extends object>(node: T, children: readonly object[], token: Token): T {
    let height = 1;
    for (const c of children) height = Math.max(height, (this.#heights.get(c) ?? 1) + 1);
    if (height > TraceqlLimits.astHeightMax) {
      const { line, column } = positionOf(this.#text, token.offset);
      throw new OtlpdbError(
        'ERR_LIMIT_EXCEEDED',
        `TraceQL: expression taller than TraceqlLimits.astHeightMax (${TraceqlLimits.astHeightMax}) at ${line}:${column}`,
        { line, column },
      );
    }
    this.#heights.set(node, height);
    return node;
  }

  // ---- pipelines and spansets ----

  #pipeline(): Pipeline {
    const first = this.#peek();
    const stages: Stage[] = [this.#stage()];
    while (this.#peek().kind === '|') {
      this.#next();
      stages.push(this.#stage());
    }
    return this.#node({ kind: 'pipeline', stages }, stages, first);
  }

  #stage(): Stage {
    const t = this.#peek();
    if (t.kind === 'word' && this.#peek(1).kind === '(') {
      if (t.text === 'select') return this.#select();
      if (AGGREGATES.has(t.text)) return this.#scalarFilter();
      if (t.text === 'by' || t.text === 'coalesce') this.#fail(`'${t.text}()' is not supported; expected a spanset, an aggregate or select()`);
    }
    return this.#spansetExpr();
  }

  #select(): Stage {
    const start = this.#next();
    this.#expect('(', "expected '(' after select");
    const fields: FieldRef[] = [this.#fieldRef('expected a field to select')];
    while (this.#peek().kind === ',') {
      this.#next();
      if (fields.length >= TraceqlLimits.selectFieldsMax) {
        const { line, column } = positionOf(this.#text, this.#peek().offset);
        throw new OtlpdbError(
          'ERR_LIMIT_EXCEEDED',
          `TraceQL: select() of more than TraceqlLimits.selectFieldsMax (${TraceqlLimits.selectFieldsMax}) fields at ${line}:${column}`,
          { line, column },
        );
      }
      fields.push(this.#fieldRef('expected a field to select'));
    }
    this.#expect(')', "expected ',' or ')'");
    return this.#node({ kind: 'select', fields }, [], start);
  }

  #scalarFilter(): Stage {
    const start = this.#next();
    const fn = start.text as AggregateFn;
    this.#expect('(', `expected '(' after ${fn}`);
    let field: FieldRef | null = null;
    if (fn === 'count') {
      this.#expect(')', "expected ')': count() takes no argument");
    } else {
      field = this.#fieldRef(`expected a field to ${fn}`);
      this.#expect(')', "expected ')'");
    }
    const opToken = this.#peek();
    if (!SCALAR_COMPARISONS.has(opToken.kind)) this.#fail(`expected a comparison (= != > >= < <=) after ${fn}()`);
    this.#next();
    const valueToken = this.#peek();
    const value = this.#literal();
    if (value === null || (value.type !== 'int' && value.type !== 'float' && value.type !== 'duration')) {
      this.#fail('expected a number or a duration', valueToken);
    }
    return this.#node({ kind: 'scalarFilter', fn, field, op: opToken.kind as ScalarComparisonOp, value }, [], start);
  }

  #spansetExpr(): SpansetExpr {
    let lhs = this.#structural();
    while (this.#peek().kind === '&&' || this.#peek().kind === '||') {
      const op = this.#next();
      const rhs = this.#structural();
      lhs = this.#node({ kind: 'spansetOp', op: op.kind as SpansetOp, lhs, rhs }, [lhs, rhs], op);
    }
    return lhs;
  }

  #structural(): SpansetExpr {
    let lhs = this.#spansetPrimary();
    while (STRUCTURAL.has(this.#peek().kind)) {
      const op = this.#next();
      const rhs = this.#spansetPrimary();
      lhs = this.#node({ kind: 'spansetOp', op: op.kind as SpansetOp, lhs, rhs }, [lhs, rhs], op);
    }
    return lhs;
  }

  #spansetPrimary(): SpansetExpr {
    const t = this.#peek();
    if (t.kind === '{') {
      this.#enter(t);
      this.#next();
      if (this.#peek().kind === '}') {
        this.#next();
        this.#leave();
        return this.#node({ kind: 'filter', condition: null }, [], t);
      }
      const condition = this.#booleanExpr();
      this.#expect('}', "expected '}' or an operator");
      this.#leave();
      return this.#node({ kind: 'filter', condition }, [condition], t);
    }
    if (t.kind === '(') {
      this.#enter(t);
      this.#next();
      const inner = this.#pipeline();
      this.#expect(')', "expected ')', '|' or a spanset operator");
      this.#leave();
      const only = inner.stages[0];
      if (inner.stages.length === 1 && only !== undefined && isSpansetExpr(only)) return only;
      return inner;
    }
    this.#fail("expected '{' or '('");
  }

  // ---- field expressions ----

  /** #booleanExpr parses a field expression that must be usable as a condition. */
  #booleanExpr(): FieldExpr {
    const start = this.#peek();
    const expr = this.#logical();
    this.#checkBoolean(expr, start);
    return expr;
  }

  #checkBoolean(expr: FieldExpr, at: Token): void {
    const ok =
      expr.kind === 'compare' ||
      expr.kind === 'logical' ||
      expr.kind === 'not' ||
      expr.kind === 'attribute' ||
      (expr.kind === 'literal' && expr.value.type === 'bool');
    if (!ok) this.#fail('expected a boolean expression (a comparison, a boolean or an attribute)', at);
  }

  #logical(): FieldExpr {
    let lhs = this.#comparison();
    while (this.#peek().kind === '&&' || this.#peek().kind === '||') {
      const op = this.#next();
      const rhsStart = this.#peek();
      const rhs = this.#comparison();
      this.#checkBoolean(rhs, rhsStart);
      lhs = this.#node({ kind: 'logical', op: op.kind as '&&' | '||', lhs, rhs }, [lhs, rhs], op);
    }
    return lhs;
  }

  #comparison(): FieldExpr {
    const lhs = this.#unary();
    const opToken = this.#peek();
    if (!COMPARISONS.has(opToken.kind)) return lhs;
    this.#next();
    const op = opToken.kind as ComparisonOp;
    const rhsToken = this.#peek();
    const rhs = this.#unary();
    if (op === '=~' || op === '!~') {
      if (rhs.kind !== 'literal' || rhs.value.type !== 'string') this.#fail('expected a string regular expression', rhsToken);
      const problem = regexProblem(rhs.value.value);
      if (problem !== null) {
        const { line, column } = positionOf(this.#text, rhsToken.offset);
        throw new OtlpdbError(problem.code, `TraceQL: ${problem.message} at ${line}:${column}`, { line, column });
      }
    }
    return this.#node({ kind: 'compare', op, lhs, rhs }, [lhs, rhs], opToken);
  }

  #unary(): FieldExpr {
    const t = this.#peek();
    if (t.kind === '!') {
      this.#enter(t);
      this.#next();
      const operandStart = this.#peek();
      const operand = this.#unary();
      this.#checkBoolean(operand, operandStart);
      this.#leave();
      return this.#node({ kind: 'not', operand }, [operand], t);
    }
    if (t.kind === '(') {
      this.#enter(t);
      this.#next();
      const inner = this.#logical();
      this.#expect(')', "expected ')' or an operator");
      this.#leave();
      return inner;
    }
    const literal = this.#literal();
    if (literal !== null) return this.#node({ kind: 'literal', value: literal }, [], t);
    return this.#fieldRef('expected a field or a value');
  }

  #fieldRef(what: string): FieldRef {
    const t = this.#peek();
    if (t.kind === 'attribute') {
      this.#next();
      return this.#node({ kind: 'attribute', scope: t.scope ?? 'unscoped', name: t.stringValue ?? '' }, [], t);
    }
    if (t.kind === 'intrinsic') {
      this.#next();
      return this.#node({ kind: 'intrinsic', name: t.intrinsic ?? 'name' }, [], t);
    }
    if (t.kind === 'word') {
      const intrinsic = intrinsicBySpelling(t.text);
      if (intrinsic !== undefined) {
        this.#next();
        return this.#node({ kind: 'intrinsic', name: intrinsic }, [], t);
      }
    }
    this.#fail(what);
  }

  /** #literal consumes a literal (with an optional leading '-' on numbers and durations) or returns null without consuming. */
  #literal(): LiteralValue | null {
    const t = this.#peek();
    switch (t.kind) {
      case 'string':
        this.#next();
        return { type: 'string', value: t.stringValue ?? '' };
      case 'int':
      case 'float':
      case 'duration':
        this.#next();
        return this.#number(t, false);
      case '-': {
        const n = this.#peek(1);
        if (n.kind !== 'int' && n.kind !== 'float' && n.kind !== 'duration') this.#fail('expected a number or a duration after -', n);
        this.#next();
        this.#next();
        return this.#number(n, true);
      }
      case 'word':
        switch (t.text) {
          case 'true':
          case 'false':
            this.#next();
            return { type: 'bool', value: t.text === 'true' };
          case 'nil':
            this.#next();
            return { type: 'nil' };
        }
        if ((TRACEQL_STATUSES as readonly string[]).includes(t.text)) {
          this.#next();
          return { type: 'status', value: t.text as TraceqlStatus };
        }
        if ((TRACEQL_KINDS as readonly string[]).includes(t.text)) {
          this.#next();
          return { type: 'kind', value: t.text as TraceqlKind };
        }
        return null;
      default:
        return null;
    }
  }

  #number(t: Token, negative: boolean): LiteralValue {
    if (t.kind === 'float') return { type: 'float', value: negative ? -(t.floatValue ?? 0) : (t.floatValue ?? 0) };
    const magnitude = t.bigintValue ?? 0n;
    const value = negative ? -magnitude : magnitude;
    if (value >= INT_ABS_MAX) this.#fail(t.kind === 'int' ? 'integer out of range' : 'duration out of range', t);
    // -0 is 0: keep one representation so printing and reparsing agree.
    return t.kind === 'int' ? { type: 'int', value } : { type: 'duration', value };
  }
}
