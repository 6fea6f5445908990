/**
 * function-types.ts — the signature of every PromQL function the engine
 * knows: argument types, how many trailing arguments are optional, and the
 * result type. The parser checks calls against it as Prometheus's
 * promql/parser/functions.go does.
 */

import type { ValueType } from './ast.js';

/** FunctionType is one function's signature. */
export interface FunctionType {
  readonly args: readonly ValueType[];
  /** variadic: 0 exact arity; n > 0 the last n arguments are optional; -1 the last argument repeats (at least once). */
  readonly variadic: number;
  readonly returns: ValueType;
}

const v = (n: number): FunctionType => ({ args: n === 0 ? [] : ['vector'], variadic: n, returns: 'vector' });
const vec: FunctionType = { args: ['vector'], variadic: 0, returns: 'vector' };
const mat: FunctionType = { args: ['matrix'], variadic: 0, returns: 'vector' };

/** FunctionTypes maps each supported function name to its signature (Prometheus 2.42's set, minus holt_winters and the native-histogram functions). */
export const FunctionTypes: ReadonlyMap<string, FunctionType> = new Map<string, FunctionType>([
  ...['abs', 'ceil', 'floor', 'exp', 'ln', 'log2', 'log10', 'sqrt', 'sgn', 'sort', 'sort_desc', 'timestamp', 'absent',
    'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'cos', 'cosh', 'sin', 'sinh', 'tan', 'tanh', 'deg', 'rad'].map((n) => [n, vec] as const),
  ...['rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'resets', 'changes', 'absent_over_time',
    'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'stddev_over_time',
    'stdvar_over_time', 'last_over_time', 'present_over_time'].map((n) => [n, mat] as const),
  ...['minute', 'hour', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'month', 'year'].map((n) => [n, v(1)] as const),
  ['quantile_over_time', { args: ['scalar', 'matrix'], variadic: 0, returns: 'vector' }],
  ['predict_linear', { args: ['matrix', 'scalar'], variadic: 0, returns: 'vector' }],
  ['histogram_quantile', { args: ['scalar', 'vector'], variadic: 0, returns: 'vector' }],
  ['clamp', { args: ['vector', 'scalar', 'scalar'], variadic: 0, returns: 'vector' }],
  ['clamp_min', { args: ['vector', 'scalar'], variadic: 0, returns: 'vector' }],
  ['clamp_max', { args: ['vector', 'scalar'], variadic: 0, returns: 'vector' }],
  ['round', { args: ['vector', 'scalar'], variadic: 1, returns: 'vector' }],
  ['label_replace', { args: ['vector', 'string', 'string', 'string', 'string'], variadic: 0, returns: 'vector' }],
  ['label_join', { args: ['vector', 'string', 'string', 'string'], variadic: -1, returns: 'vector' }],
  ['time', { args: [], variadic: 0, returns: 'scalar' }],
  ['pi', { args: [], variadic: 0, returns: 'scalar' }],
  ['scalar', { args: ['vector'], variadic: 0, returns: 'scalar' }],
  ['vector', { args: ['scalar'], variadic: 0, returns: 'vector' }],
]);

/** typeName is a value type as Prometheus's error messages spell it. */
export function typeName(t: ValueType): string {
  switch (t) {
    case 'vector': return 'instant vector';
    case 'matrix': return 'range vector';
    default: return t;
  }
}
