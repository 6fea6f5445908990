/**
 * parser.ts — PromQL text to the typed AST (ast.ts): lezer-promql's tree
 * walked into our nodes, then type-checked as Prometheus's parser checks.
 *
 * lezer-promql is an editor grammar: it groups postfix modifiers (`offset`,
 * `@`, `[range:step]`) around a whole binary or unary expression
 * (`a + b offset 5m` parses as `(a + b) offset 5m`). Prometheus binds them
 * to the nearest operand, so `attachPostfix` pushes them down to the
 * rightmost operand; parentheses the text wrote are kept as ParenNode, which
 * stops the push as in Prometheus.
 */

import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import { OtlpdbError } from '../../errors.js';
import { PromqlLimits } from '../../limits.js';
import type { AggregateOp, AtModifier, BinaryNode, BinaryOp, Expr, VectorMatching, VectorSelectorNode } from './ast.js';
import { isSetOp } from './ast.js';
import { FunctionTypes } from './function-types.js';
import { compileAnchored, parseDurationMs, parseNumber, unquote } from './literals.js';
import { checkExpr } from './typecheck.js';
import type { PromMatchOp, PromMatcher } from './source.js';

/** parsePromql parses and type-checks PromQL text; a bad query is ERR_INVALID_ARGUMENT naming the position and what was expected. */
export function parsePromql(text: string): Expr {
  if (Buffer.byteLength(text, 'utf8') > PromqlLimits.queryBytesMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `the query is longer than ${PromqlLimits.queryBytesMax} bytes`);
  }
  if (text.trim() === '') throw syntaxError(text, 0, 'unexpected end of input', 'an expression');
  const tree = parser.parse(text);
  const top = tree.topNode;
  const err = firstError(top);
  if (err !== null) {
    const call = /([a-zA-Z_][a-zA-Z0-9_]*)\s*\($/.exec(text.slice(0, err.from + 1));
    const name = call?.[1];
    if (name !== undefined && !FunctionTypes.has(name) && !aggregateOps.includes(name) && !['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'].includes(name)) {
      throw semanticError(`unknown function with name ${JSON.stringify(name)}`);
    }
    const bad = text.slice(err.from, Math.max(err.to, err.from + 1));
    const what = err.from >= text.length ? 'unexpected end of input' : `unexpected ${JSON.stringify(bad)}`;
    throw syntaxError(text, err.from, what, expectedAt(err));
  }
  const first = top.firstChild;
  if (first === null) throw syntaxError(text, 0, 'unexpected end of input', 'an expression');
  const w = new Walker(text);
  const expr = w.expr(first);
  checkExpr(expr);
  return expr;
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  return `${line}:${col}`;
}

function syntaxError(text: string, offset: number, what: string, expected: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `parse error at char ${offset + 1} (line ${lineCol(text, offset)}): ${what}, expected ${expected}`, { offset, promErrorType: 'bad_data' });
}

function semanticError(message: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', message, { promErrorType: 'bad_data' });
}

function firstError(n: SyntaxNode): SyntaxNode | null {
  if (n.type.isError) return n;
  for (let c = n.firstChild; c !== null; c = c.nextSibling) {
    const e = firstError(c);
    if (e !== null) return e;
  }
  return null;
}

function expectedAt(err: SyntaxNode): string {
  switch (err.parent?.name) {
    case 'LabelMatchers': return 'a label matcher or "}"';
    case 'UnquotedLabelMatcher': case 'QuotedLabelMatcher': return 'a label matcher operator and a quoted value';
    case 'FunctionCallBody': return 'an expression, "," or ")"';
    case 'GroupingLabels': return 'a label name, "," or ")"';
    case 'MatrixSelector': case 'SubqueryExpr': case 'DurationExpr': return 'a duration such as 5m';
    case 'BinaryExpr': return 'an expression after the operator';
    default: return 'an expression';
  }
}

const aggregateOps: readonly string[] = ['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'quantile', 'topk', 'bottomk', 'count_values'];

const binaryOps: Readonly<Record<string, BinaryOp>> = {
  Add: '+', Sub: '-', Mul: '*', Div: '/', Mod: '%', Pow: '^', Atan2: 'atan2', Eql: '==', Neq: '!=', Gtr: '>', Lss: '<', Gte: '>=', Lte: '<=',
  And: 'and', Or: 'or', Unless: 'unless',
};

const matchOps: Readonly<Record<string, PromMatchOp>> = { EqlSingle: '=', Neq: '!=', EqlRegex: '=~', NeqRegex: '!~' };

function children(n: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = n.firstChild; c !== null; c = c.nextSibling) out.push(c);
  return out;
}

class Walker {
  readonly #text: string;
  #depth = 0;

  constructor(text: string) {
    this.#text = text;
  }

  src(n: SyntaxNode): string {
    return this.#text.slice(n.from, n.to);
  }

  fail(n: SyntaxNode, what: string, expected: string): never {
    throw syntaxError(this.#text, n.from, what, expected);
  }

  str(n: SyntaxNode): string {
    const s = unquote(this.src(n));
    if (s === null) this.fail(n, `invalid string literal ${this.src(n)}`, 'a quoted string');
    return s;
  }

  duration(n: SyntaxNode): number {
    const s = this.src(n).trim();
    const d = parseDurationMs(s);
    if (d === null) this.fail(n, `unsupported duration ${JSON.stringify(s)}`, 'a duration such as 5m');
    return d;
  }

  expr(n: SyntaxNode): Expr {
    if (++this.#depth > PromqlLimits.exprDepthMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `the query nests deeper than ${PromqlLimits.exprDepthMax} levels`);
    try {
      return this.exprInner(n);
    } finally {
      this.#depth--;
    }
  }

  exprInner(n: SyntaxNode): Expr {
    const cs = children(n);
    switch (n.name) {
      case 'PromQL': case 'Expr': {
        const c = cs[0];
        if (c === undefined) this.fail(n, 'unexpected end of input', 'an expression');
        return this.expr(c);
      }
      case 'NumberDurationLiteral': {
        const text = this.src(n);
        // lezer lexes a signed literal (`-2`) as one token; Prometheus reads it as unary minus, which binds looser than `^`.
        const sign = text[0] === '-' || text[0] === '+' ? text[0] : '';
        const v = parseNumber(sign === '' ? text : text.slice(1));
        if (v === null) this.fail(n, `bad number ${JSON.stringify(text)}`, 'a number');
        return sign === '' ? { type: 'number', value: v } : { type: 'unary', op: sign, expr: { type: 'number', value: v } };
      }
      case 'StringLiteral': return { type: 'string', value: this.str(n) };
      case 'ParenExpr': return { type: 'paren', expr: this.expr(this.only(n, cs)) };
      case 'UnaryExpr': {
        const op = cs[0] !== undefined && this.src(cs[0]) === '-' ? '-' : '+';
        const inner = this.expr(cs[cs.length - 1] ?? n);
        return { type: 'unary', op, expr: inner };
      }
      case 'VectorSelector': return this.vectorSelector(n, cs);
      case 'MatrixSelector': {
        const inner = this.expr(cs[0] ?? n);
        const rangeMs = this.duration(cs[1] ?? n);
        return attachPostfix(inner, (leaf) => {
          if (leaf.type !== 'vectorSelector') throw semanticError('ranges only allowed for vector selectors');
          if (leaf.offsetMs !== 0 || leaf.at !== null) throw semanticError('no offset or @ modifier allowed before range');
          return { type: 'matrixSelector', selector: leaf, rangeMs };
        });
      }
      case 'SubqueryExpr': {
        const inner = this.expr(cs[0] ?? n);
        const durs = cs.slice(1).filter((c) => c.name === 'DurationExpr');
        const rangeMs = this.duration(durs[0] ?? n);
        const stepMs = durs[1] === undefined ? 0 : this.duration(durs[1]);
        return attachPostfix(inner, (leaf) => ({ type: 'subquery', expr: leaf, rangeMs, stepMs, offsetMs: 0, at: null }));
      }
      case 'OffsetExpr': {
        const inner = this.expr(cs[0] ?? n);
        const od = cs.find((c) => c.name === 'OffsetDurationExpr');
        if (od === undefined) this.fail(n, 'missing offset duration', 'a duration');
        const neg = od.firstChild?.name === 'UnaryOp' && this.src(od.firstChild) === '-';
        const ms = this.duration(neg ? (od.lastChild ?? od) : od) * (neg ? -1 : 1);
        return attachPostfix(inner, (leaf) => {
          if (leaf.type === 'vectorSelector') {
            if (leaf.offsetMs !== 0) throw semanticError('offset may not be set multiple times');
            return { ...leaf, offsetMs: ms };
          }
          if (leaf.type === 'matrixSelector') {
            if (leaf.selector.offsetMs !== 0) throw semanticError('offset may not be set multiple times');
            return { ...leaf, selector: { ...leaf.selector, offsetMs: ms } };
          }
          if (leaf.type === 'subquery') {
            if (leaf.offsetMs !== 0) throw semanticError('offset may not be set multiple times');
            return { ...leaf, offsetMs: ms };
          }
          throw semanticError('offset modifier must be preceded by an instant vector selector or range vector selector or a subquery');
        });
      }
      case 'StepInvariantExpr': {
        const inner = this.expr(cs[0] ?? n);
        const last = cs[cs.length - 1];
        let at: AtModifier;
        if (last?.name === 'AtModifierPreprocessors') at = this.src(last).startsWith('start') ? { kind: 'start' } : { kind: 'end' };
        else {
          const v = parseNumber(this.src(last ?? n));
          if (v === null || !Number.isFinite(v)) throw semanticError(`invalid @ timestamp ${this.src(last ?? n)}`);
          at = { kind: 'time', timeMs: Math.round(v * 1000) };
        }
        return attachPostfix(inner, (leaf) => {
          if (leaf.type === 'vectorSelector') {
            if (leaf.at !== null) throw semanticError('@ <timestamp> may not be set multiple times');
            return { ...leaf, at };
          }
          if (leaf.type === 'matrixSelector') {
            if (leaf.selector.at !== null) throw semanticError('@ <timestamp> may not be set multiple times');
            return { ...leaf, selector: { ...leaf.selector, at } };
          }
          if (leaf.type === 'subquery') {
            if (leaf.at !== null) throw semanticError('@ <timestamp> may not be set multiple times');
            return { ...leaf, at };
          }
          throw semanticError('@ modifier must be preceded by an instant vector selector or range vector selector or a subquery');
        });
      }
      case 'BinaryExpr': return this.binary(n, cs);
      case 'AggregateExpr': return this.aggregate(n, cs);
      case 'FunctionCall': {
        const name = this.src(cs[0] ?? n);
        if (!FunctionTypes.has(name)) throw semanticError(`unknown function with name ${JSON.stringify(name)}`);
        const body = cs.find((c) => c.name === 'FunctionCallBody');
        const args = body === undefined ? [] : children(body).map((c) => this.expr(c));
        return { type: 'call', func: name, args };
      }
      default:
        return this.fail(n, `unsupported syntax ${JSON.stringify(this.src(n))}`, 'an expression Prometheus 2.42 supports');
    }
  }

  only(n: SyntaxNode, cs: SyntaxNode[]): SyntaxNode {
    const c = cs[0];
    if (c === undefined || cs.length !== 1) this.fail(n, 'unexpected input', 'one expression in parentheses');
    return c;
  }

  vectorSelector(n: SyntaxNode, cs: SyntaxNode[]): VectorSelectorNode {
    let name = '';
    const matchers: PromMatcher[] = [];
    for (const c of cs) {
      if (c.name === 'Identifier' || c.name === 'MetricName') name = this.src(c);
      else if (c.name === 'LabelMatchers') {
        for (const m of children(c)) {
          if (m.name === 'QuotedLabelName') {
            // A bare quoted name `{"foo"}` selects the metric name (Prometheus 3 syntax).
            matchers.push({ name: '__name__', op: '=', value: this.str(m.firstChild ?? m) });
            continue;
          }
          const parts = children(m);
          const ln = parts[0];
          const op = parts[1];
          const val = parts[2];
          if (ln === undefined || op === undefined || val === undefined) this.fail(m, 'incomplete label matcher', 'name, operator and value');
          const labelName = ln.name === 'QuotedLabelName' ? this.str(ln.firstChild ?? ln) : this.src(ln);
          const mop = matchOps[op.firstChild?.name ?? ''];
          if (mop === undefined) this.fail(op, `unknown matcher ${this.src(op)}`, 'one of = != =~ !~');
          const value = this.str(val);
          if (mop === '=~' || mop === '!~') checkRegex(value);
          matchers.push({ name: labelName, op: mop, value });
        }
      }
    }
    if (name !== '') {
      if (matchers.some((m) => m.name === '__name__')) throw semanticError(`metric name must not be set twice: ${JSON.stringify(name)} or ${JSON.stringify(matchers.find((m) => m.name === '__name__')?.value ?? '')}`);
      matchers.unshift({ name: '__name__', op: '=', value: name });
    }
    if (matchers.length > PromqlLimits.matchersMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a selector has more than ${PromqlLimits.matchersMax} matchers`);
    if (!matchers.some((m) => !matchesEmpty(m))) this.fail(n, 'vector selector must contain at least one non-empty matcher', 'a matcher that does not match the empty string');
    return { type: 'vectorSelector', name, matchers, offsetMs: 0, at: null };
  }

  binary(n: SyntaxNode, cs: SyntaxNode[]): Expr {
    const lhsNode = cs[0];
    const rhsNode = cs[cs.length - 1];
    if (lhsNode === undefined || rhsNode === undefined || cs.length < 3) this.fail(n, 'incomplete binary expression', 'two operands');
    let op: BinaryOp | null = null;
    let returnBool = false;
    let matching: VectorMatching | null = null;
    for (const c of cs.slice(1, -1)) {
      const o = binaryOps[c.name];
      if (o !== undefined) op = o;
      else if (c.name === 'BoolModifier') returnBool = true;
      else if (c.name === 'MatchingModifierClause') matching = this.matching(c);
      else this.fail(c, `unsupported ${JSON.stringify(this.src(c))}`, 'a binary operator modifier');
    }
    if (op === null) this.fail(n, 'missing operator', 'a binary operator');
    const lhs = this.expr(lhsNode);
    const rhs = this.expr(rhsNode);
    if (isSetOp(op)) {
      if (matching !== null && matching.card !== 'one-to-one') throw semanticError(`no grouping allowed for "${op}" operation`);
      matching = { card: 'many-to-many', on: matching?.on ?? false, labels: matching?.labels ?? [], include: [] };
    }
    return rebalance({ type: 'binary', op, lhs, rhs, returnBool, matching });
  }

  matching(n: SyntaxNode): VectorMatching {
    let on = false;
    let labels: string[] = [];
    let include: string[] = [];
    let card: VectorMatching['card'] = 'one-to-one';
    let last = '';
    for (const c of children(n)) {
      if (c.name === 'On') { on = true; last = 'on'; } else if (c.name === 'Ignoring') { on = false; last = 'on'; } else if (c.name === 'GroupLeft') { card = 'many-to-one'; last = 'group'; } else if (c.name === 'GroupRight') { card = 'one-to-many'; last = 'group'; } else if (c.name === 'GroupingLabels') {
        const ls = this.groupingLabels(c);
        if (last === 'group') include = ls; else labels = ls;
      } else this.fail(c, `unsupported ${JSON.stringify(this.src(c))}`, 'on, ignoring, group_left or group_right');
    }
    if (on) {
      for (const l of include) if (labels.includes(l)) throw semanticError(`label "${l}" must not occur in ON and GROUP clause at once`);
    }
    return { card, on, labels, include };
  }

  groupingLabels(n: SyntaxNode): string[] {
    return children(n).map((c) => (c.name === 'QuotedLabelName' ? this.str(c.firstChild ?? c) : this.src(c)));
  }

  aggregate(n: SyntaxNode, cs: SyntaxNode[]): Expr {
    const op = this.src(cs[0] ?? n) as AggregateOp;
    if (!aggregateOps.includes(op)) this.fail(n, `unsupported aggregation ${JSON.stringify(op)}`, 'an aggregation Prometheus 2.42 supports');
    let grouping: string[] = [];
    let without = false;
    let args: Expr[] = [];
    for (const c of cs.slice(1)) {
      if (c.name === 'AggregateModifier') {
        without = c.firstChild?.name === 'Without';
        const gl = children(c).find((x) => x.name === 'GroupingLabels');
        grouping = gl === undefined ? [] : this.groupingLabels(gl);
      } else if (c.name === 'FunctionCallBody') args = children(c).map((x) => this.expr(x));
    }
    const needsParam = op === 'quantile' || op === 'topk' || op === 'bottomk' || op === 'count_values';
    const want = needsParam ? 2 : 1;
    if (args.length !== want) throw semanticError(`wrong number of arguments for aggregate expression provided, expected ${want}, got ${args.length}`);
    const expr = args[args.length - 1] as Expr;
    const param = needsParam ? (args[0] as Expr) : null;
    return { type: 'aggregate', op, expr, param, grouping, without };
  }
}

/** precedence is Prometheus's binary operator precedence (higher binds tighter). */
function precedence(op: BinaryOp): number {
  switch (op) {
    case 'or': return 1;
    case 'and': case 'unless': return 2;
    case '==': case '!=': case '>': case '<': case '>=': case '<=': return 3;
    case '+': case '-': return 4;
    case '*': case '/': case '%': case 'atan2': return 5;
    case '^': return 6;
  }
}

/**
 * rebalance restores Prometheus's precedence where lezer's grouping of a
 * postfix modifier (pushed down by attachPostfix) or of a signed literal
 * left an operand bound too loosely: `a or b @ 1 * 3` is `a or ((b @ 1) * 3)`,
 * and unary minus binds looser than `^` (`-2 ^ 2` is -4). Parentheses the
 * text wrote are ParenNodes and are never crossed.
 */
function rebalance(b: BinaryNode): Expr {
  const p = precedence(b.op);
  const l = b.lhs;
  if (l.type === 'binary' && (precedence(l.op) < p || (precedence(l.op) === p && b.op === '^'))) {
    return { ...l, rhs: rebalance({ ...b, lhs: l.rhs }) };
  }
  if (l.type === 'unary' && b.op === '^') return { ...l, expr: rebalance({ ...b, lhs: l.expr }) };
  const r = b.rhs;
  if (r.type === 'binary' && (precedence(r.op) < p || (precedence(r.op) === p && b.op !== '^'))) {
    return { ...r, lhs: rebalance({ ...b, rhs: r.lhs }) };
  }
  return b;
}

/** attachPostfix applies a postfix modifier to the rightmost operand of a binary or unary expression, as Prometheus binds it. */
function attachPostfix(e: Expr, f: (leaf: Expr) => Expr): Expr {
  if (e.type === 'binary') return { ...e, rhs: attachPostfix(e.rhs, f) };
  if (e.type === 'unary') return { ...e, expr: attachPostfix(e.expr, f) };
  return f(e);
}

function matchesEmpty(m: PromMatcher): boolean {
  switch (m.op) {
    case '=': return m.value === '';
    case '!=': return m.value !== '';
    case '=~': return compileAnchored(m.value).test('');
    case '!~': return !compileAnchored(m.value).test('');
  }
}

function checkRegex(re: string): void {
  if (re.length > PromqlLimits.regexBytesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a regex is longer than ${PromqlLimits.regexBytesMax} bytes`);
  try {
    compileAnchored(re);
  } catch (err) {
    throw semanticError(`invalid regular expression ${JSON.stringify(re)}: ${(err as Error).message}`);
  }
}

