/**
 * format.ts — the AST back to PromQL text. The engine ships pushed-down
 * subexpressions to shards as text (ShardEvalRequest.expr), so
 * parsePromql(formatPromql(e)) must mean e: the formatter adds parentheses
 * wherever precedence would otherwise rebind an operand.
 */

import type { AtModifier, BinaryOp, Expr, VectorMatching, VectorSelectorNode } from './ast.js';
import type { PromMatcher } from './source.js';

/** formatPromql prints an expression as PromQL text that parses back to the same expression. */
export function formatPromql(e: Expr): string {
  switch (e.type) {
    case 'number': return formatNumber(e.value);
    case 'string': return JSON.stringify(e.value);
    case 'paren': return `(${formatPromql(e.expr)})`;
    case 'vectorSelector': return formatSelector(e, '');
    case 'matrixSelector': return formatSelector(e.selector, `[${formatDuration(e.rangeMs)}]`);
    case 'subquery': {
      const inner = needsParensForPostfix(e.expr) ? `(${formatPromql(e.expr)})` : formatPromql(e.expr);
      return `${inner}[${formatDuration(e.rangeMs)}:${e.stepMs === 0 ? '' : formatDuration(e.stepMs)}]${formatModifiers(e.offsetMs, e.at)}`;
    }
    case 'unary': {
      const inner = e.expr.type === 'binary' || e.expr.type === 'unary' ? `(${formatPromql(e.expr)})` : formatPromql(e.expr);
      return `${e.op}${inner}`;
    }
    case 'binary': {
      const p = precedence(e.op);
      const lp = e.lhs.type === 'binary' ? precedence(e.lhs.op) : Infinity;
      const rp = e.rhs.type === 'binary' ? precedence(e.rhs.op) : Infinity;
      const rightAssoc = e.op === '^';
      const lhsParens = lp < p || (lp === p && rightAssoc) || e.lhs.type === 'unary';
      const rhsParens = rp < p || (rp === p && !rightAssoc);
      const l = lhsParens ? `(${formatPromql(e.lhs)})` : formatPromql(e.lhs);
      const r = rhsParens ? `(${formatPromql(e.rhs)})` : formatPromql(e.rhs);
      return `${l} ${e.op}${e.returnBool ? ' bool' : ''}${formatMatching(e.matching)} ${r}`;
    }
    case 'aggregate': {
      const mod = e.grouping.length > 0 || e.without ? ` ${e.without ? 'without' : 'by'} (${e.grouping.join(', ')})` : '';
      const args = e.param === null ? formatPromql(e.expr) : `${formatPromql(e.param)}, ${formatPromql(e.expr)}`;
      return `${e.op}${mod} (${args})`;
    }
    case 'call': return `${e.func}(${e.args.map(formatPromql).join(', ')})`;
  }
}

function needsParensForPostfix(e: Expr): boolean {
  return e.type === 'binary' || e.type === 'unary' || e.type === 'subquery' || e.type === 'matrixSelector';
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

function formatMatching(m: VectorMatching | null): string {
  if (m === null) return '';
  let s = '';
  if (m.on || m.labels.length > 0) s += ` ${m.on ? 'on' : 'ignoring'} (${m.labels.join(', ')})`;
  if (m.card === 'many-to-one') s += ` group_left (${m.include.join(', ')})`;
  if (m.card === 'one-to-many') s += ` group_right (${m.include.join(', ')})`;
  return s;
}

function formatSelector(s: VectorSelectorNode, range: string): string {
  const rest: PromMatcher[] = s.name === '' ? [...s.matchers] : s.matchers.filter((m) => !(m.name === '__name__' && m.op === '=' && m.value === s.name));
  const braces = rest.length > 0 || s.name === '' ? `{${rest.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(', ')}}` : '';
  return `${s.name}${braces}${range}${formatModifiers(s.offsetMs, s.at)}`;
}

function formatModifiers(offsetMs: number, at: AtModifier | null): string {
  let s = '';
  if (at !== null) s += at.kind === 'time' ? ` @ ${formatNumber(at.timeMs / 1000)}` : ` @ ${at.kind}()`;
  if (offsetMs !== 0) s += ` offset ${offsetMs < 0 ? '-' : ''}${formatDuration(Math.abs(offsetMs))}`;
  return s;
}

/** formatNumber prints a float as a PromQL literal (Inf, NaN, or JavaScript's shortest round-trip form). */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** formatDuration prints milliseconds as a Prometheus duration (`1h30m`, `500ms`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const units: [string, number][] = [['y', 31_536_000_000], ['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  let rest = ms;
  let out = '';
  for (const [u, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${u}`;
      rest -= n * size;
    }
  }
  return out;
}
