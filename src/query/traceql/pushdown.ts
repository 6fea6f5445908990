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
import type { SpanKind, StatusCode } from '../../storage/rows.js';
import type { SpanMatch, TagScope, TagType } from '../../storage/traces/span-index.js';
import { canonicalNumber } from '../../storage/traces/span-index.js';
import type { AttributeScope, FieldExpr, FieldRef, LiteralValue, Pipeline, SpansetExpr, TraceqlQuery } from './ast.js';
import { TRACEQL_KINDS, TRACEQL_STATUSES, isSpansetExpr } from './ast.js';

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

// ---------------------------------------------------------------- the span match (attribute equalities, && and ||)

/** ALWAYS stands for a condition the indexes cannot narrow (every span may satisfy it). */
const ALWAYS = 'always';
type Narrowing = SpanMatch | typeof ALWAYS;
/** NEVER is the empty disjunction: no span satisfies it (e.g. `span.x = error`: an attribute is never a status). */
const NEVER: SpanMatch = { kind: 'or', args: [] };

function isNever(m: Narrowing): boolean {
  return m !== ALWAYS && m.kind === 'or' && m.args.length === 0;
}

function allOf(parts: readonly Narrowing[]): Narrowing {
  const args: SpanMatch[] = [];
  for (const p of parts) {
    if (p === ALWAYS) continue;
    if (isNever(p)) return NEVER;
    if (p.kind === 'and') args.push(...p.args);
    else args.push(p);
  }
  if (args.length === 0) return ALWAYS;
  return args.length === 1 ? (args[0] as SpanMatch) : { kind: 'and', args };
}

function anyOf(parts: readonly Narrowing[]): Narrowing {
  const args: SpanMatch[] = [];
  for (const p of parts) {
    if (p === ALWAYS) return ALWAYS;
    if (p.kind === 'or') args.push(...p.args);
    else args.push(p);
  }
  return args.length === 1 ? (args[0] as SpanMatch) : { kind: 'or', args };
}

const SCOPE_OF: Readonly<Record<AttributeScope, TagScope | 'any'>> = { span: 'span', resource: 'resource', unscoped: 'any' };

/**
 * attributeEquals is what `attr = literal` asks of the index: the literal's
 * TraceQL form (traceqlIndexForm: numbers in one canonical form, so int,
 * float and duration literals find ints and doubles of the same value),
 * NEVER for a literal no attribute value can equal (status, kind), ALWAYS
 * for one the index cannot answer (nil is absence; NaN equals nothing but
 * is left to the evaluator).
 */
function attributeEquals(field: Extract<FieldRef, { kind: 'attribute' }>, literal: LiteralValue): Narrowing {
  const scope = SCOPE_OF[field.scope];
  const atom = (type: TagType, value: string): SpanMatch => ({ kind: 'attr', scope, key: field.name, type, value });
  switch (literal.type) {
    case 'string':
      return atom('string', literal.value);
    case 'int':
    case 'duration':
      return atom('int', canonicalNumber(literal.value));
    case 'float':
      return Number.isNaN(literal.value) ? ALWAYS : atom('int', canonicalNumber(literal.value));
    case 'bool':
      return atom('bool', literal.value ? 'true' : 'false');
    case 'status':
    case 'kind':
      return NEVER;
    case 'nil':
      return ALWAYS;
  }
}

/** conditionNarrowing is a necessary condition of a filter condition on one span (ALWAYS when none is known). */
function conditionNarrowing(e: FieldExpr): Narrowing {
  switch (e.kind) {
    case 'logical':
      return e.op === '&&' ? allOf([conditionNarrowing(e.lhs), conditionNarrowing(e.rhs)]) : anyOf([conditionNarrowing(e.lhs), conditionNarrowing(e.rhs)]);
    case 'literal':
      // Only the boolean true counts as true (README, "Conditions").
      return e.value.type === 'bool' && e.value.value ? ALWAYS : NEVER;
    case 'attribute':
      // `{ .flag }` holds when the attribute is the boolean true.
      return attributeEquals(e, { type: 'bool', value: true });
    case 'compare': {
      if (e.op !== '=') return ALWAYS;
      let field: FieldExpr = e.lhs;
      let literal: FieldExpr = e.rhs;
      if (literal.kind !== 'literal') [field, literal] = [e.rhs, e.lhs];
      if (literal.kind !== 'literal') return ALWAYS;
      if (field.kind === 'attribute') return attributeEquals(field, literal.value);
      if (field.kind !== 'intrinsic') return ALWAYS;
      const v = literal.value;
      if (field.name === 'name') return v.type === 'string' ? { kind: 'name', value: v.value } : v.type === 'nil' ? ALWAYS : NEVER;
      if (field.name === 'status' && v.type === 'status') return { kind: 'status', code: TRACEQL_STATUSES.indexOf(v.value) as StatusCode };
      if (field.name === 'kind' && v.type === 'kind') return { kind: 'spanKind', value: TRACEQL_KINDS.indexOf(v.value) as SpanKind };
      return ALWAYS;
    }
    default:
      // A bare intrinsic, `!`: the index holds no negations.
      return ALWAYS;
  }
}

/**
 * spansetNarrowing is a condition that some span of the trace satisfies
 * whenever the spanset expression yields a non-empty spanset over it: a
 * filter's condition; for `A || B` either's; for `A && B` and the plain and
 * union structural operators (both sides must have spans) the narrower of
 * the two (NEVER if either is, else the left unless it is ALWAYS); for a
 * negated structural operator the right side's (its result is right-side
 * spans; the left may be empty); for a nested pipeline, its first stage's.
 */
function spansetNarrowing(e: SpansetExpr): Narrowing {
  switch (e.kind) {
    case 'filter':
      return e.condition === null ? ALWAYS : conditionNarrowing(e.condition);
    case 'pipeline':
      return pipelineNarrowing(e);
    case 'spansetOp': {
      const rhs = spansetNarrowing(e.rhs);
      if (e.op.startsWith('!')) return rhs;
      const lhs = spansetNarrowing(e.lhs);
      if (e.op === '||') return anyOf([lhs, rhs]);
      if (isNever(lhs) || isNever(rhs)) return NEVER;
      return lhs === ALWAYS ? rhs : lhs;
    }
  }
}

function pipelineNarrowing(p: Pipeline): Narrowing {
  // The first stage runs over every span and a result needs it non-empty; later stages only narrow its spans.
  const first = p.stages[0];
  return first !== undefined && isSpansetExpr(first) ? spansetNarrowing(first) : ALWAYS;
}

/**
 * extractSpanMatch returns a SpanMatch that some span of every trace the
 * query yields a spanset for satisfies, or null when none is known (every
 * trace may match). Unlike extractPushdown it keeps `||`, nested `&&`, the
 * operands of spanset operators and attribute equalities of every scope,
 * read under TraceQL's rules (arrays by element, numbers by value, `.x` in
 * either scope) as SpanMatch defines them; what the indexes cannot answer
 * (`!`, `!=`, regexes, ranges, nil, other intrinsics) is dropped, so the
 * match only ever over-approximates. Its necessity is checked by brute
 * force in pushdown.test.ts.
 */
export function extractSpanMatch(query: TraceqlQuery): SpanMatch | null {
  const m = pipelineNarrowing(query);
  return m === ALWAYS ? null : m;
}
