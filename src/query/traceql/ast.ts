/**
 * ast.ts — the typed tree of one TraceQL query, as the parser builds it and
 * the printer, the evaluator and the pushdown extractor read it. Plain data:
 * no methods, no positions (two parses of equivalent text give equal trees, so
 * printing and reparsing can be checked with a deep equality).
 *
 * Shape (README.md gives the grammar):
 * - A query is a Pipeline of stages separated by `|`.
 * - A stage is a spanset expression, a scalar filter (`count() > 2`) or a
 *   `select(...)`.
 * - A spanset expression is a filter `{ ... }`, a spanset operation
 *   (`&&`, `||`, or a structural one: `>`, `>>`, `~`, `<`, `<<`, each also
 *   negated `!>` and as a union `&>`) or a parenthesized Pipeline of two
 *   or more stages (a parenthesized single spanset expression is just itself).
 * - Inside braces is a field expression: comparisons, `&&`, `||`, `!`,
 *   literals and field references.
 */

/** TraceqlStatus is the status enum of TraceQL (`error`, `ok`, `unset`). */
export type TraceqlStatus = 'error' | 'ok' | 'unset';
/** TraceqlKind is the span kind enum of TraceQL. */
export type TraceqlKind = 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** TRACEQL_STATUSES lists the status keywords in OTLP code order (0 unset, 1 ok, 2 error). */
export const TRACEQL_STATUSES: readonly TraceqlStatus[] = ['unset', 'ok', 'error'];
/** TRACEQL_KINDS lists the kind keywords in OTLP SpanKind order (0 unspecified ... 5 consumer). */
export const TRACEQL_KINDS: readonly TraceqlKind[] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

/**
 * LiteralValue is a typed constant of the query. Integers and durations are
 * bigint (durations in nanoseconds) so that 64-bit attribute values and
 * nanosecond times compare exactly; floats are numbers.
 */
export type LiteralValue =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'int'; readonly value: bigint }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'duration'; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'status'; readonly value: TraceqlStatus }
  | { readonly type: 'kind'; readonly value: TraceqlKind }
  | { readonly type: 'nil' };

/**
 * IntrinsicName names an intrinsic field. The unscoped spellings (`name`,
 * `duration`...) and Tempo's scoped ones (`span:name`, `trace:duration`...)
 * parse to the same name; the printer uses the first spelling of
 * INTRINSIC_SPELLINGS.
 */
export type IntrinsicName =
  | 'name'
  | 'status'
  | 'statusMessage'
  | 'kind'
  | 'duration'
  | 'rootName'
  | 'rootServiceName'
  | 'traceDuration'
  | 'eventName'
  | 'linkTraceId'
  | 'linkSpanId'
  | 'spanId'
  | 'parentSpanId'
  | 'traceId'
  | 'childCount'
  | 'instrumentationName'
  | 'instrumentationVersion';

/** INTRINSIC_SPELLINGS maps each intrinsic to its accepted spellings, the printed one first. */
export const INTRINSIC_SPELLINGS: Readonly<Record<IntrinsicName, readonly string[]>> = {
  name: ['name', 'span:name'],
  status: ['status', 'span:status'],
  statusMessage: ['statusMessage', 'span:statusMessage'],
  kind: ['kind', 'span:kind'],
  duration: ['duration', 'span:duration'],
  rootName: ['rootName', 'trace:rootName'],
  rootServiceName: ['rootServiceName', 'trace:rootService'],
  traceDuration: ['traceDuration', 'trace:duration'],
  eventName: ['event:name'],
  linkTraceId: ['link:traceID'],
  linkSpanId: ['link:spanID'],
  spanId: ['span:id'],
  parentSpanId: ['span:parentID'],
  traceId: ['trace:id'],
  childCount: ['childCount', 'span:childCount'],
  instrumentationName: ['instrumentation:name'],
  instrumentationVersion: ['instrumentation:version'],
};

/** AttributeScope is where an attribute is looked up: the span, its resource, or the span then the resource (`.x`). */
export type AttributeScope = 'span' | 'resource' | 'unscoped';

/** FieldRef is a reference to a value of a span: an attribute or an intrinsic. */
export type FieldRef =
  | { readonly kind: 'attribute'; readonly scope: AttributeScope; readonly name: string }
  | { readonly kind: 'intrinsic'; readonly name: IntrinsicName };

/** ComparisonOp is a comparison usable in a field expression and (without the regex ones) in a scalar filter. */
export type ComparisonOp = '=' | '!=' | '>' | '>=' | '<' | '<=' | '=~' | '!~';
/** ScalarComparisonOp is a comparison of a scalar filter (`| count() > 2`). */
export type ScalarComparisonOp = '=' | '!=' | '>' | '>=' | '<' | '<=';
/** LogicalOp joins two field expressions. */
export type LogicalOp = '&&' | '||';

/** FieldExpr is the condition inside `{ }`. */
export type FieldExpr =
  | { readonly kind: 'literal'; readonly value: LiteralValue }
  | FieldRef
  | { readonly kind: 'compare'; readonly op: ComparisonOp; readonly lhs: FieldExpr; readonly rhs: FieldExpr }
  | { readonly kind: 'logical'; readonly op: LogicalOp; readonly lhs: FieldExpr; readonly rhs: FieldExpr }
  | { readonly kind: 'not'; readonly operand: FieldExpr };

/** StructuralRelation is a tree relation between a left span and a right span: child, descendant, sibling, parent, ancestor. */
export type StructuralRelation = '>' | '>>' | '~' | '<' | '<<';

/**
 * SpansetOp combines two spanset expressions: logically (`&&`, `||`),
 * structurally (`>`, `>>`, `~`, `<`, `<<`: the right spans so related to a
 * left span), negated (`!>` ...: the right spans NOT so related to any left
 * span) or as a union (`&>` ...: the related spans of both sides).
 */
export type SpansetOp =
  | '&&'
  | '||'
  | StructuralRelation
  | `!${StructuralRelation}`
  | `&${StructuralRelation}`;

/** STRUCTURAL_OPS lists every structural spanset operator (plain, negated, union). */
export const STRUCTURAL_OPS: readonly SpansetOp[] = ['>', '>>', '~', '<', '<<', '!>', '!>>', '!~', '!<', '!<<', '&>', '&>>', '&~', '&<', '&<<'];

/** SpansetFilter is `{ condition }`; a null condition is `{ }` and matches every span. */
export interface SpansetFilter {
  readonly kind: 'filter';
  readonly condition: FieldExpr | null;
}

/** SpansetOperation is `lhs op rhs` over spansets. */
export interface SpansetOperation {
  readonly kind: 'spansetOp';
  readonly op: SpansetOp;
  readonly lhs: SpansetExpr;
  readonly rhs: SpansetExpr;
}

/** SpansetExpr is anything that yields a spanset from the spans it is given. */
export type SpansetExpr = SpansetFilter | SpansetOperation | Pipeline;

/** AggregateFn is an aggregate of a scalar filter. */
export type AggregateFn = 'count' | 'avg' | 'min' | 'max' | 'sum';

/** ScalarFilter is `aggregate op literal`, e.g. `count() > 2` or `avg(duration) > 1s`; field is null exactly for count. */
export interface ScalarFilter {
  readonly kind: 'scalarFilter';
  readonly fn: AggregateFn;
  readonly field: FieldRef | null;
  readonly op: ScalarComparisonOp;
  readonly value: LiteralValue;
}

/** SelectStage is `select(a, b, ...)`: it keeps the spanset and asks for the named fields of its spans. */
export interface SelectStage {
  readonly kind: 'select';
  readonly fields: readonly FieldRef[];
}

/** Stage is one element of a pipeline. */
export type Stage = SpansetExpr | ScalarFilter | SelectStage;

/**
 * Pipeline is `stage | stage | ...`. Invariant: at least one stage, and a
 * nested pipeline (an operand of a spanset operation) is never a single
 * spanset expression (the parser unwraps those parentheses).
 */
export interface Pipeline {
  readonly kind: 'pipeline';
  readonly stages: readonly Stage[];
}

/** TraceqlQuery is a whole parsed query. */
export type TraceqlQuery = Pipeline;

/** isSpansetExpr says whether a stage is a spanset expression (as opposed to a scalar filter or a select). */
export function isSpansetExpr(stage: Stage): stage is SpansetExpr {
  return stage.kind === 'filter' || stage.kind === 'spansetOp' || stage.kind === 'pipeline';
}
