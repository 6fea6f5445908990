/**
 * pushdown.ts — what a planner may push to shards: conditions that EVERY span
 * of EVERY result of a query satisfies, so a shard can use its postings
 * (service, name, status, kind, attribute key=value) and duration ranges to
 * find candidate traces before running the evaluator on them.
 *
 * The conditions are necessary, not sufficient: a trace can match only if it
 * holds ONE span satisfying all of them together; the evaluator still runs
 * the whole query over each candidate trace.
 *
 * extractPushdown returns conditions only from a query whose FIRST stage is a
 * single spanset filter `{ ... }` (later stages of the pipeline only narrow
 * its spans, so they never invalidate them). It collects, among the top-level
 * `&&` conjuncts of that filter's condition:
 * - `field = literal` (either side) where field is an attribute (any scope)
 *   or the intrinsic name, statusMessage, status or kind, and the literal is
 *   a string, int, float, bool, status or kind;
 * - `duration op literal` (either side) with op in = > >= < <= and an int or
 *   duration literal, folded into one nanosecond range.
 * It returns nothing (an empty list) when:
 * - the first stage is a structural or logical spanset operation (`>`, `>>`,
 *   `~`, `<`, `<<`, their `!` and `&` forms, `&&`, `||` between spansets),
 *   a parenthesized pipeline, a
 *   scalar filter (`count() > 2` alone) or `select(...)`;
 * - the filter is `{ }`, or its condition is an `||` or a `!` at the top (an
 *   `||` or `!` nested as one conjunct only drops that conjunct);
 * - no conjunct has one of the shapes above (regex, `!=`, `nil`, field
 *   against field, other intrinsics: those are left to the evaluator).
 *
 * How a shard must read each condition (the type rules of values.ts):
 * - an unscoped attribute `.x = v` holds when the span attribute x equals v
 *   or, when the span has no attribute x, the resource attribute x does:
 *   check the union of the span and resource postings;
 * - an int or float literal equals an int or double attribute of the same
 *   numeric value (`= 200` matches 200 and 200.0);
 * - an array attribute equals v when one of its elements does.
 */
import type { FieldExpr, FieldRef, LiteralValue, TraceqlQuery } from './ast.js';

/** PushdownEquality says the span's field equals the literal (under the rules in this file's comment). */
export interface PushdownEquality {
  readonly kind: 'equals';
  readonly field: FieldRef;
  readonly value: LiteralValue;
}

/** PushdownDurationRange bounds the span's duration in nanoseconds; a null bound is open. */
export interface PushdownDurationRange {
  readonly kind: 'durationRange';
  readonly minNs: bigint | null;
  readonly minInclusive: boolean;
  readonly maxNs: bigint | null;
  readonly maxInclusive: boolean;
}

/** PushdownCondition is one condition every matching span satisfies. */
export type PushdownCondition = PushdownEquality | PushdownDurationRange;

const EQUALITY_INTRINSICS = new Set(['name', 'statusMessage', 'status', 'kind']);
const INTRINSIC_LITERAL: Readonly<Record<string, LiteralValue['type']>> = {
  name: 'string',
  statusMessage: 'string',
  status: 'status',
  kind: 'kind',
};

/** extractPushdown returns the conditions of a query a shard may push into its indexes (see the file comment for exactly when). */
export function extractPushdown(query: TraceqlQuery): PushdownCondition[] {
  const first = query.stages[0];
  if (first === undefined || first.kind !== 'filter' || first.condition === null) return [];
  const conjuncts: FieldExpr[] = [];
  collectConjuncts(first.condition, conjuncts);
  const out: PushdownCondition[] = [];
  let range: { minNs: bigint | null; minInclusive: boolean; maxNs: bigint | null; maxInclusive: boolean } | null = null;
  for (const c of conjuncts) {
    if (c.kind !== 'compare') continue;
    let field: FieldRef;
    let literal: LiteralValue;
    let op = c.op;
    if ((c.lhs.kind === 'attribute' || c.lhs.kind === 'intrinsic') && c.rhs.kind === 'literal') {
      field = c.lhs;
      literal = c.rhs.value;
    } else if ((c.rhs.kind === 'attribute' || c.rhs.kind === 'intrinsic') && c.lhs.kind === 'literal') {
      field = c.rhs;
      literal = c.lhs.value;
      op = flip(op);
    } else {
      continue;
    }
    if (field.kind === 'intrinsic' && field.name === 'duration') {
      if (literal.type !== 'int' && literal.type !== 'duration') continue;
      const ns = literal.value;
      range ??= { minNs: null, minInclusive: true, maxNs: null, maxInclusive: true };
      if (op === '=' || op === '>' || op === '>=') range = tightenMin(range, ns, op !== '>');
      if (op === '=' || op === '<' || op === '<=') range = tightenMax(range, ns, op !== '<');
      continue;
    }
    if (op !== '=') continue;
    if (literal.type === 'nil' || literal.type === 'duration') continue;
    if (field.kind === 'intrinsic') {
      if (!EQUALITY_INTRINSICS.has(field.name) || INTRINSIC_LITERAL[field.name] !== literal.type) continue;
    }
    out.push({ kind: 'equals', field, value: literal });
  }
  if (range !== null) out.push({ kind: 'durationRange', ...range });
  return out;
}

function collectConjuncts(e: FieldExpr, out: FieldExpr[]): void {
  if (e.kind === 'logical' && e.op === '&&') {
    collectConjuncts(e.lhs, out);
    collectConjuncts(e.rhs, out);
  } else {
    out.push(e);
  }
}

function flip<T extends string>(op: T): T {
  const flipped: Record<string, string> = { '>': '<', '>=': '<=', '<': '>', '<=': '>=' };
  return (flipped[op] ?? op) as T;
}

type Range = { minNs: bigint | null; minInclusive: boolean; maxNs: bigint | null; maxInclusive: boolean };

function tightenMin(r: Range, ns: bigint, inclusive: boolean): Range {
  if (r.minNs === null || ns > r.minNs || (ns === r.minNs && !inclusive)) return { ...r, minNs: ns, minInclusive: inclusive };
  return r;
}

function tightenMax(r: Range, ns: bigint, inclusive: boolean): Range {
  if (r.maxNs === null || ns < r.maxNs || (ns === r.maxNs && !inclusive)) return { ...r, maxNs: ns, maxInclusive: inclusive };
  return r;
}
