/**
 * values.ts — the values TraceQL compares and the one comparison rule.
 *
 * Type rules (README.md, after Tempo's docs and enum_statics.go):
 * - int, float and duration form one numeric family and compare by value
 *   (durations in nanoseconds), exactly even between a 64-bit int and a float.
 * - strings compare with = != and lexicographically (UTF-16 code units);
 *   `=~` / `!~` are full-match regular expressions on strings only.
 * - booleans, statuses and kinds compare with = and != only.
 * - any other pairing is false, never an error — `!=` included.
 * - an array attribute matches `op x` when some element does; `!=` and `!~`
 *   match when no element matches `=` / `=~`.
 * - NaN: every comparison is false except `!=`.
 */
import type { ComparisonOp, LiteralValue, TraceqlKind, TraceqlStatus } from './ast.js';
import type { Re2Regex } from '../../re2-guard.js';

/** TraceqlValue is the value of a field of one span, or of a literal (nil aside); `undefined` elsewhere means absent. */
export type TraceqlValue =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'int'; readonly value: bigint }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'duration'; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'status'; readonly value: TraceqlStatus }
  | { readonly type: 'kind'; readonly value: TraceqlKind }
  | { readonly type: 'array'; readonly values: readonly TraceqlValue[] }
  /** other is a present value TraceQL cannot compare (bytes, a key-value list, an empty AnyValue, a nested array). */
  | { readonly type: 'other' };

/** TRUE and FALSE are the boolean values results share. */
export const TRUE: TraceqlValue = { type: 'bool', value: true };
/** FALSE: see TRUE. */
export const FALSE: TraceqlValue = { type: 'bool', value: false };

/** literalValue converts a non-nil literal to a value (nil has none: it only appears as an operand of = and !=). */
export function literalValue(literal: LiteralValue): TraceqlValue | undefined {
  return literal.type === 'nil' ? undefined : literal;
}

type Numeric = bigint | number;

function numericOf(v: TraceqlValue): Numeric | undefined {
  switch (v.type) {
    case 'int':
    case 'duration':
    case 'float':
      return v.value;
    default:
      return undefined;
  }
}

/** compareNumeric orders two numbers exactly (bigint against float included); null when a NaN is involved. */
export function compareNumeric(a: Numeric, b: Numeric): -1 | 0 | 1 | null {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) || Number.isNaN(b)) return null;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === 'number') {
    const r = compareNumeric(b, a);
    return r === null ? null : ((-r) as -1 | 0 | 1);
  }
  const f = b as number;
  if (Number.isNaN(f)) return null;
  if (f === Infinity) return -1;
  if (f === -Infinity) return 1;
  const whole = Math.trunc(f);
  const w = BigInt(whole);
  if (a < w) return -1;
  if (a > w) return 1;
  const frac = f - whole;
  return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

function fromOrder(op: ComparisonOp, order: -1 | 0 | 1 | null): boolean {
  if (order === null) return op === '!=';
  switch (op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    default:
      return false;
  }
}

/** compareScalars applies op to two present non-array values (regex ops take a compiled regex as rhs elsewhere). */
function compareScalars(l: TraceqlValue, op: ComparisonOp, r: TraceqlValue): boolean {
  const ln = numericOf(l);
  const rn = numericOf(r);
  if (ln !== undefined && rn !== undefined) return fromOrder(op, compareNumeric(ln, rn));
  if (l.type === 'string' && r.type === 'string') return fromOrder(op, l.value < r.value ? -1 : l.value > r.value ? 1 : 0);
  if ((l.type === 'bool' && r.type === 'bool') || (l.type === 'status' && r.type === 'status') || (l.type === 'kind' && r.type === 'kind')) {
    if (op === '=') return l.value === r.value;
    if (op === '!=') return l.value !== r.value;
  }
  return false;
}

/**
 * compareValues applies a non-regex comparison to two present values. An
 * array on one side matches elementwise (some element for positive ops, no
 * element matching `=` for `!=`); arrays on both sides never match.
 */
export function compareValues(l: TraceqlValue, op: ComparisonOp, r: TraceqlValue): boolean {
  if (l.type === 'array' && r.type === 'array') return false;
  if (l.type === 'array' || r.type === 'array') {
    const arrayOnLeft = l.type === 'array';
    const elems = l.type === 'array' ? l.values : r.type === 'array' ? r.values : [];
    const other = arrayOnLeft ? r : l;
    const test = (e: TraceqlValue, o: ComparisonOp): boolean => (arrayOnLeft ? compareScalars(e, o, other) : compareScalars(other, o, e));
    if (op === '!=') return !elems.some((e) => test(e, '='));
    return elems.some((e) => test(e, op));
  }
  return compareScalars(l, op, r);
}

/** matchRegex applies `=~` (negate false) or `!~` (negate true) to a present value; non-strings never match either. */
export function matchRegex(l: TraceqlValue, re: Re2Regex, negate: boolean): boolean {
  if (l.type === 'string') return re.test(l.value) !== negate;
  if (l.type === 'array') {
    const any = l.values.some((e) => e.type === 'string' && re.test(e.value));
    return negate ? !any : any;
  }
  return false;
}
