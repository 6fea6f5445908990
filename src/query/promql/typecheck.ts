/**
 * typecheck.ts — the static types of expressions and the checks
 * Prometheus's parser runs after parsing (checkAST): argument types and
 * arity, `bool` only on comparisons, set operators only between vectors,
 * vector matching only between instant vectors.
 */

import { OtlpdbError } from '../../errors.js';
import type { Expr, ValueType } from './ast.js';
import { isComparisonOp, isSetOp, unwrapParens } from './ast.js';
import { FunctionTypes, typeName } from './function-types.js';

function semanticError(message: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', message, { promErrorType: 'bad_data' });
}

/** exprType is an expression's static type. */
export function exprType(e: Expr): ValueType {
  switch (e.type) {
    case 'vectorSelector': return 'vector';
    case 'matrixSelector': return 'matrix';
    case 'subquery': return 'matrix';
    case 'number': return 'scalar';
    case 'string': return 'string';
    case 'paren': return exprType(e.expr);
    case 'unary': return exprType(e.expr);
    case 'binary': return exprType(e.lhs) === 'scalar' && exprType(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'aggregate': return 'vector';
    case 'call': return FunctionTypes.get(e.func)?.returns ?? 'vector';
  }
}

function expectType(e: Expr, want: ValueType, context: string): void {
  const got = exprType(e);
  if (got !== want) throw semanticError(`expected type ${typeName(want)} in ${context}, got ${typeName(got)}`);
}

/** checkExpr type-checks a tree as Prometheus's checkAST does. */
export function checkExpr(e: Expr): void {
  switch (e.type) {
    case 'vectorSelector': case 'number': case 'string': return;
    case 'matrixSelector':
      if (e.rangeMs <= 0) throw semanticError('range vector selector duration must be greater than 0');
      return;
    case 'paren': checkExpr(e.expr); return;
    case 'subquery': {
      checkExpr(e.expr);
      const t = exprType(e.expr);
      if (t !== 'vector') throw semanticError(`subquery is only allowed on instant vector, got ${typeName(t)} instead`);
      if (e.rangeMs <= 0) throw semanticError('subquery range must be greater than 0');
      return;
    }
    case 'unary': {
      checkExpr(e.expr);
      const t = exprType(e.expr);
      if (t !== 'scalar' && t !== 'vector') throw semanticError(`unary expression only allowed on expressions of type scalar or instant vector, got "${typeName(t)}"`);
      return;
    }
    case 'binary': {
      checkExpr(e.lhs);
      checkExpr(e.rhs);
      const lt = exprType(e.lhs);
      const rt = exprType(e.rhs);
      if ((lt !== 'scalar' && lt !== 'vector') || (rt !== 'scalar' && rt !== 'vector')) throw semanticError('binary expression must contain only scalar and instant vector types');
      if (e.returnBool && !isComparisonOp(e.op)) throw semanticError('bool modifier can only be used on comparisons');
      if (isComparisonOp(e.op) && lt === 'scalar' && rt === 'scalar' && !e.returnBool) throw semanticError('comparisons between scalars must use BOOL modifier');
      if (isSetOp(e.op) && (lt === 'scalar' || rt === 'scalar')) throw semanticError(`set operator "${e.op}" not allowed in binary scalar expression`);
      if (e.matching !== null && (lt !== 'vector' || rt !== 'vector') && !(isSetOp(e.op) && e.matching.labels.length === 0 && !e.matching.on)) {
        throw semanticError('vector matching only allowed between instant vectors');
      }
      return;
    }
    case 'aggregate': {
      checkExpr(e.expr);
      expectType(e.expr, 'vector', 'aggregation expression');
      if (e.param !== null) {
        checkExpr(e.param);
        expectType(e.param, e.op === 'count_values' ? 'string' : 'scalar', 'aggregation parameter');
      }
      return;
    }
    case 'call': {
      const ft = FunctionTypes.get(e.func);
      if (ft === undefined) throw semanticError(`unknown function with name ${JSON.stringify(e.func)}`);
      const n = e.args.length;
      const min = ft.variadic === 0 ? ft.args.length : ft.variadic > 0 ? ft.args.length - ft.variadic : ft.args.length;
      const max = ft.variadic === 0 ? ft.args.length : ft.variadic > 0 ? ft.args.length : Infinity;
      if (ft.variadic === 0 && n !== min) throw semanticError(`expected ${min} argument(s) in call to "${e.func}", got ${n}`);
      if (n < min) throw semanticError(`expected at least ${min} argument(s) in call to "${e.func}", got ${n}`);
      if (n > max) throw semanticError(`expected at most ${max} argument(s) in call to "${e.func}", got ${n}`);
      e.args.forEach((a, i) => {
        checkExpr(a);
        const want = ft.args[Math.min(i, ft.args.length - 1)] ?? 'vector';
        expectType(a, want, `call to function "${e.func}"`);
      });
      if (e.func === 'label_replace' || e.func === 'label_join') {
        const dst = unwrapParens(e.args[1] ?? e);
        if (dst.type === 'string' && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(dst.value)) throw semanticError(`invalid destination label name in ${e.func}(): ${dst.value}`);
      }
      return;
    }
  }
}
