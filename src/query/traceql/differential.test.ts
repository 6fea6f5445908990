/**
 * differential.test.ts — random TraceQL queries over random traces: the
 * evaluator must agree with the naive reference (traceql-reference.ts) on
 * every case, and every generated query must print and reparse to itself.
 * A planted bug (swapping `>` and `>>`; reading `a != b` as `!(a = b)`) must
 * be caught. Seeded: TRACEQL_SEED overrides the base seed and TRACEQL_CASES
 * the number of cases; a failure prints both seeds and the query.
 */
import t from 'tap';
import type { SpanRow } from '../../storage/rows.js';
import type { FieldExpr, Pipeline, SpansetExpr, Stage } from './ast.js';
import type { TraceqlSpanset } from './evaluate.js';
import { evaluateTraceql } from './evaluate.js';
import { formatTraceql } from './format.js';
import { parseTraceql } from './parser.js';
import { referenceEvaluate } from './traceql-reference.js';
import { caseRand, randomQuery, randomTrace } from './traceql-test-gen.js';
import type { TraceqlValue } from './values.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

const BASE_SEED = envInt('TRACEQL_SEED', 20261127);
const CASES = envInt('TRACEQL_CASES', 4000);

type Evaluate = (query: Pipeline, spans: readonly SpanRow[]) => TraceqlSpanset[];

function render(v: TraceqlValue): string {
  switch (v.type) {
    case 'string':
      return `str:${v.value}`;
    case 'int':
    case 'duration':
      return `${v.value}n`;
    case 'float':
      return Object.is(v.value, -0) ? '0' : String(v.value);
    case 'bool':
    case 'status':
    case 'kind':
      return `${v.type}:${String(v.value)}`;
    case 'array':
      return `[${v.values.map(render).join(',')}]`;
    case 'other':
      return 'opaque';
  }
}

function actualOf(result: TraceqlSpanset[]): unknown {
  if (result.length > 1) return `${result.length} spansets (at most one without by())`;
  if (result.length === 0) return null;
  return (result[0] as TraceqlSpanset).spans.map((m) => ({
    index: m.index,
    selected: m.selected.map((s) => ({ field: s.field, value: render(s.value) })),
  }));
}

interface Failure {
  readonly caseNo: number;
  readonly query: string;
  readonly expected: unknown;
  readonly actual: unknown;
  readonly spans: number;
}

/** runDifferential runs `cases` seeded cases and returns the first disagreement, or null. */
function runDifferential(evaluate: Evaluate, baseSeed: number, cases: number, stats?: { matched: number; roundTrips: number }): Failure | null {
  for (let caseNo = 0; caseNo < cases; caseNo++) {
    const r = caseRand(baseSeed, caseNo);
    const spans = randomTrace(r);
    const generated = randomQuery(r);
    const text = formatTraceql(generated);
    const parsed = parseTraceql(text);
    if (stats !== undefined && JSON.stringify(parsed, big) === JSON.stringify(generated, big)) stats.roundTrips++;
    const expected = referenceEvaluate(parsed, spans);
    const actual = actualOf(evaluate(parsed, spans));
    if (expected !== null && stats !== undefined) stats.matched++;
    if (JSON.stringify(expected) !== JSON.stringify(actual)) {
      return { caseNo, query: text, expected, actual, spans: spans.length };
    }
  }
  return null;
}

function big(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' && Object.is(value, -0)) return '-0';
  return value;
}

t.test('evaluator equals the naive reference on random queries over random traces', async (t) => {
  const stats = { matched: 0, roundTrips: 0 };
  const failure = runDifferential(evaluateTraceql, BASE_SEED, CASES, stats);
  if (failure !== null) {
    t.fail(
      `disagreement: TRACEQL_SEED=${BASE_SEED} case ${failure.caseNo} (spans ${failure.spans})\n` +
        `query: ${failure.query}\nexpected: ${JSON.stringify(failure.expected)}\nactual:   ${JSON.stringify(failure.actual)}`,
    );
  }
  t.equal(stats.roundTrips, CASES, 'every generated query prints and reparses to the same AST');
  // The generator must exercise both outcomes, or agreement proves little.
  t.ok(stats.matched > CASES / 10, `enough cases match (${stats.matched}/${CASES})`);
  t.ok(stats.matched < CASES - CASES / 10, `enough cases do not match (${CASES - stats.matched}/${CASES})`);
});

/** swapChildDescendant rewrites a query with `>` and `>>` exchanged: a deliberately wrong evaluator. */
function swapChildDescendant(p: Pipeline): Pipeline {
  const spanset = (e: SpansetExpr): SpansetExpr => {
    if (e.kind === 'filter') return e;
    if (e.kind === 'pipeline') return swapChildDescendant(e);
    const op = e.op === '>' ? '>>' : e.op === '>>' ? '>' : e.op;
    return { kind: 'spansetOp', op, lhs: spanset(e.lhs), rhs: spanset(e.rhs) };
  };
  return { kind: 'pipeline', stages: p.stages.map((s: Stage) => (s.kind === 'select' || s.kind === 'scalarFilter' ? s : spanset(s))) };
}

/** notEqualAsNegation rewrites `a != b` to `!(a = b)`, which wrongly makes `!=` true on a missing attribute. */
function notEqualAsNegation(p: Pipeline): Pipeline {
  const field = (e: FieldExpr): FieldExpr => {
    switch (e.kind) {
      case 'compare': {
        const nil = (x: FieldExpr): boolean => x.kind === 'literal' && x.value.type === 'nil';
        if (e.op === '!=' && !nil(e.lhs) && !nil(e.rhs)) return { kind: 'not', operand: { kind: 'compare', op: '=', lhs: e.lhs, rhs: e.rhs } };
        return e;
      }
      case 'logical':
        return { kind: 'logical', op: e.op, lhs: field(e.lhs), rhs: field(e.rhs) };
      case 'not':
        return { kind: 'not', operand: field(e.operand) };
      default:
        return e;
    }
  };
  const spanset = (e: SpansetExpr): SpansetExpr => {
    if (e.kind === 'filter') return { kind: 'filter', condition: e.condition === null ? null : field(e.condition) };
    if (e.kind === 'pipeline') return notEqualAsNegation(e);
    return { kind: 'spansetOp', op: e.op, lhs: spanset(e.lhs), rhs: spanset(e.rhs) };
  };
  return { kind: 'pipeline', stages: p.stages.map((s: Stage) => (s.kind === 'select' || s.kind === 'scalarFilter' ? s : spanset(s))) };
}

t.test('the differential test catches a planted bug: > and >> swapped', async (t) => {
  const failure = runDifferential((q, spans) => evaluateTraceql(swapChildDescendant(q), spans), BASE_SEED, CASES);
  t.ok(failure !== null, 'a disagreement is found');
  if (failure !== null) t.comment(`caught at case ${failure.caseNo}: ${failure.query}`);
});

t.test('the differential test catches a planted bug: != true on a missing attribute', async (t) => {
  const failure = runDifferential((q, spans) => evaluateTraceql(notEqualAsNegation(q), spans), BASE_SEED, CASES);
  t.ok(failure !== null, 'a disagreement is found');
  if (failure !== null) t.comment(`caught at case ${failure.caseNo}: ${failure.query}`);
});
