/**
 * traceql-test-gen.ts — seeded generators for the TraceQL tests: random
 * traces (trees with orphans, several roots and the odd parent loop;
 * attributes of every type; events, links, statuses, kinds) and random
 * queries drawn from the grammar (as ASTs that the parser would build, so
 * printing and reparsing must give them back). Small value pools make
 * matches likely. Test code only.
 */
import { SeededRand } from '../../fs/seeded-rand.js';
import type { AnyValue, KeyValue, SpanKind, SpanRow, StatusCode } from '../../storage/rows.js';
import type {
  AggregateFn,
  ComparisonOp,
  FieldExpr,
  FieldRef,
  IntrinsicName,
  LiteralValue,
  Pipeline,
  ScalarComparisonOp,
  SpansetExpr,
  SpansetOp,
  Stage,
  TraceqlKind,
  TraceqlStatus,
} from './ast.js';
import { STRUCTURAL_OPS, TRACEQL_KINDS, TRACEQL_STATUSES } from './ast.js';
import { formatTraceql } from './format.js';
import { parseTraceql } from './parser.js';

function pick<T>(r: SeededRand, xs: readonly T[]): T {
  return xs[r.intn(xs.length)] as T;
}

function chance(r: SeededRand, percent: number): boolean {
  return r.intn(100) < percent;
}

const NAMES = ['GET /api', 'POST /api', 'db.query', 'cache', ''];
const SERVICES = ['frontend', 'checkout', 'db'];
const ATTR_KEYS = ['a', 'b', 'http.status_code', 'service.name', 'x y', 'flag'];
const STRINGS = ['GET', 'POST', 'frontend', 'db', '', 'a"b', 'ünï'];
const EVENT_NAMES = ['exception', 'retry', 'log'];
const MESSAGES = ['', 'boom', 'Forbidden'];
const MS = 1_000_000n;
const DURATIONS_NS = [0n, 1n, MS, 5n * MS, 1000n * MS, 60_000n * MS];

function id(r: SeededRand, bytes: number, pool: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[bytes - 1] = 1 + r.intn(pool);
  return out;
}

function randomAnyValue(r: SeededRand, depth = 0): AnyValue {
  switch (r.intn(depth === 0 ? 10 : 6)) {
    case 0:
    case 1:
      return { type: 'string', value: pick(r, STRINGS) };
    case 2:
      return { type: 'int', value: pick(r, [-1n, 0n, 1n, 2n, 200n, 500n, 9_007_199_254_740_993n]) };
    case 3:
      return { type: 'double', value: pick(r, [0.5, 1.5, 200, -1, Number.NaN, 2 ** 63]) };
    case 4:
      return { type: 'bool', value: chance(r, 50) };
    case 5:
      return pick(r, [{ type: 'bytes', value: new Uint8Array([1, 2]) }, { type: 'empty' }, { type: 'kvlist', values: [] }] as const);
    default:
      return { type: 'array', values: Array.from({ length: r.intn(3) }, () => randomAnyValue(r, depth + 1)) };
  }
}

function randomAttributes(r: SeededRand, keys: readonly string[]): KeyValue[] {
  const out: KeyValue[] = [];
  for (const key of keys) if (chance(r, 45)) out.push({ key, value: randomAnyValue(r) });
  return out;
}

/** randomTrace makes one trace of 1..12 spans from a seeded source. */
export function randomTrace(r: SeededRand): SpanRow[] {
  const n = 1 + r.intn(12);
  const traceId = id(r, 16, 3);
  const spanIds = Array.from({ length: n }, (_, i) => {
    const s = new Uint8Array(8);
    s[7] = i + 1;
    // The odd duplicate span id: the first span with an id is the one a child's parent id names.
    if (i > 0 && chance(r, 3)) s[7] = 1;
    return s;
  });
  const spans: SpanRow[] = [];
  for (let i = 0; i < n; i++) {
    let parentSpanId: Uint8Array = new Uint8Array(0);
    const roll = r.intn(100);
    if (i > 0 && roll < 75) parentSpanId = spanIds[r.intn(i)] as Uint8Array;
    else if (roll < 85 && i > 0) parentSpanId = id(r, 8, 40); // usually names no span: an orphan
    else if (roll < 88) parentSpanId = spanIds[r.intn(n)] as Uint8Array; // may be itself or later: loops
    const start = 1_000_000_000n + BigInt(r.intn(5)) * MS;
    const end = chance(r, 5) ? start - MS : start + pick(r, DURATIONS_NS);
    const resourceAttrs = randomAttributes(r, ['a', 'b']);
    if (chance(r, 85)) resourceAttrs.push({ key: 'service.name', value: { type: 'string', value: pick(r, SERVICES) } });
    spans.push({
      tenant: 'default',
      traceId,
      spanId: spanIds[i] as Uint8Array,
      parentSpanId,
      traceState: '',
      flags: 0,
      name: pick(r, NAMES),
      kind: r.intn(6) as SpanKind,
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      status: { code: r.intn(3) as StatusCode, message: pick(r, MESSAGES) },
      attributes: randomAttributes(r, ATTR_KEYS),
      droppedAttributesCount: 0,
      events: Array.from({ length: chance(r, 30) ? 1 + r.intn(2) : 0 }, () => ({
        timeUnixNano: start,
        name: pick(r, EVENT_NAMES),
        attributes: [],
        droppedAttributesCount: 0,
      })),
      droppedEventsCount: 0,
      links: Array.from({ length: chance(r, 20) ? 1 + r.intn(2) : 0 }, () => ({
        traceId: id(r, 16, 2),
        spanId: id(r, 8, 2),
        traceState: '',
        attributes: [],
        droppedAttributesCount: 0,
        flags: 0,
      })),
      droppedLinksCount: 0,
      resource: { attributes: resourceAttrs, droppedAttributesCount: 0, schemaUrl: '' },
      scope: { name: pick(r, ['grpc', 'http']), version: pick(r, ['', '1.0.0']), attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
    });
  }
  return spans;
}

const INTRINSICS: readonly IntrinsicName[] = [
  'name',
  'status',
  'statusMessage',
  'kind',
  'duration',
  'rootName',
  'rootServiceName',
  'traceDuration',
  'eventName',
  'linkTraceId',
  'linkSpanId',
  'spanId',
  'parentSpanId',
  'traceId',
  'childCount',
  'instrumentationName',
  'instrumentationVersion',
];

function randomField(r: SeededRand): FieldRef {
  if (chance(r, 45)) return { kind: 'intrinsic', name: pick(r, INTRINSICS) };
  return { kind: 'attribute', scope: pick(r, ['span', 'resource', 'unscoped'] as const), name: pick(r, ATTR_KEYS) };
}

// Trace ids render without leading zeros (1, 2, 3), span ids with all 16 digits.
const HEX_IDS = ['1', '2', '3', '00000000000000000000000000000001', '0000000000000001', '0000000000000002', '0000000000000003'];

function randomLiteral(r: SeededRand): LiteralValue {
  switch (r.intn(9)) {
    case 0:
      return { type: 'string', value: pick(r, [...STRINGS, ...NAMES, ...SERVICES, ...EVENT_NAMES, ...HEX_IDS, 'boom']) };
    case 1:
      return { type: 'int', value: pick(r, [-1n, 0n, 1n, 2n, 200n, 1_000_000n, 9_007_199_254_740_993n]) };
    case 2:
      return { type: 'float', value: pick(r, [0.5, 1.5, 200, -0.5, 1e21, 2 ** 63]) };
    case 3:
      return { type: 'duration', value: pick(r, [...DURATIONS_NS, 2n * MS, 1_500n * MS]) };
    case 4:
      return { type: 'bool', value: chance(r, 50) };
    case 5:
      return { type: 'status', value: pick(r, TRACEQL_STATUSES) as TraceqlStatus };
    case 6:
      return { type: 'kind', value: pick(r, TRACEQL_KINDS) as TraceqlKind };
    case 7:
      return { type: 'nil' };
    default:
      return { type: 'string', value: pick(r, STRINGS) };
  }
}

/** typedLiteral picks a literal of the field's own type, so that comparisons often hold. */
function typedLiteral(r: SeededRand, field: FieldRef): LiteralValue {
  if (field.kind === 'attribute') {
    return pick(r, [
      { type: 'string', value: pick(r, STRINGS) },
      { type: 'int', value: pick(r, [0n, 1n, 200n, 500n]) },
      { type: 'float', value: pick(r, [0.5, 200]) },
      { type: 'bool', value: chance(r, 50) },
    ] as const);
  }
  switch (field.name) {
    case 'name':
    case 'rootName':
      return { type: 'string', value: pick(r, NAMES) };
    case 'statusMessage':
      return { type: 'string', value: pick(r, MESSAGES) };
    case 'rootServiceName':
      return { type: 'string', value: pick(r, SERVICES) };
    case 'status':
      return { type: 'status', value: pick(r, TRACEQL_STATUSES) as TraceqlStatus };
    case 'kind':
      return { type: 'kind', value: pick(r, TRACEQL_KINDS) as TraceqlKind };
    case 'duration':
    case 'traceDuration':
      return { type: 'duration', value: pick(r, DURATIONS_NS) };
    case 'eventName':
      return { type: 'string', value: pick(r, EVENT_NAMES) };
    case 'childCount':
      return { type: 'int', value: BigInt(r.intn(3)) };
    case 'instrumentationName':
      return { type: 'string', value: pick(r, ['grpc', 'http']) };
    case 'instrumentationVersion':
      return { type: 'string', value: pick(r, ['', '1.0.0']) };
    default:
      return { type: 'string', value: pick(r, HEX_IDS) };
  }
}

const COMPARISONS: readonly ComparisonOp[] = ['=', '!=', '>', '>=', '<', '<=', '=~', '!~'];
const REGEXES = ['GET.*', '.*', 'db|cache', 'fr.nt.*', '', 'GET', '[a-z]+', 'ex.*'];

function randomCompare(r: SeededRand): FieldExpr {
  const op = pick(r, COMPARISONS);
  const lhs: FieldExpr = randomField(r);
  if (op === '=~' || op === '!~') return { kind: 'compare', op, lhs, rhs: { kind: 'literal', value: { type: 'string', value: pick(r, REGEXES) } } };
  const rhs: FieldExpr = chance(r, 10)
    ? randomField(r)
    : { kind: 'literal', value: chance(r, 60) ? typedLiteral(r, lhs) : randomLiteral(r) };
  return chance(r, 15) ? { kind: 'compare', op, lhs: rhs, rhs: lhs } : { kind: 'compare', op, lhs, rhs };
}

function randomCondition(r: SeededRand, depth: number): FieldExpr {
  const roll = r.intn(100);
  if (depth <= 0 || roll < 50) return randomCompare(r);
  if (roll < 75) return { kind: 'logical', op: pick(r, ['&&', '||'] as const), lhs: randomCondition(r, depth - 1), rhs: randomCondition(r, depth - 1) };
  if (roll < 88) return { kind: 'not', operand: randomCondition(r, depth - 1) };
  if (roll < 94) return { kind: 'literal', value: { type: 'bool', value: chance(r, 50) } };
  return { kind: 'attribute', scope: pick(r, ['span', 'unscoped'] as const), name: 'flag' };
}

const SPANSET_OPS: readonly SpansetOp[] = ['&&', '||', '&&', '||', ...STRUCTURAL_OPS];

function randomSpanset(r: SeededRand, depth: number): SpansetExpr {
  const roll = r.intn(100);
  if (depth <= 0 || roll < 45) return { kind: 'filter', condition: chance(r, 12) ? null : randomCondition(r, 2) };
  if (roll < 92) return { kind: 'spansetOp', op: pick(r, SPANSET_OPS), lhs: randomSpanset(r, depth - 1), rhs: randomSpanset(r, depth - 1) };
  // A nested pipeline: the parser keeps one only when it is more than a single spanset expression.
  return { kind: 'pipeline', stages: [randomSpanset(r, depth - 1), randomPipeStage(r, depth - 1)] };
}

const AGGREGATES: readonly AggregateFn[] = ['count', 'avg', 'min', 'max', 'sum'];
const SCALAR_OPS: readonly ScalarComparisonOp[] = ['=', '!=', '>', '>=', '<', '<='];

function randomScalarFilter(r: SeededRand): Stage {
  const fn = pick(r, AGGREGATES);
  const field: FieldRef | null =
    fn === 'count'
      ? null
      : pick(r, [
          { kind: 'intrinsic', name: 'duration' },
          { kind: 'intrinsic', name: 'traceDuration' },
          { kind: 'attribute', scope: 'span', name: 'a' },
          { kind: 'attribute', scope: 'unscoped', name: 'http.status_code' },
          { kind: 'intrinsic', name: 'childCount' },
        ] as const);
  const value: LiteralValue =
    fn === 'count'
      ? { type: 'int', value: BigInt(r.intn(5)) }
      : pick(r, [
          { type: 'duration', value: pick(r, DURATIONS_NS) },
          { type: 'int', value: pick(r, [0n, 1n, 200n]) },
          { type: 'float', value: pick(r, [0.5, 100.5]) },
        ] as const);
  return { kind: 'scalarFilter', fn, field, op: pick(r, SCALAR_OPS), value };
}

function randomPipeStage(r: SeededRand, depth: number): Stage {
  const roll = r.intn(100);
  if (roll < 45) return randomScalarFilter(r);
  if (roll < 70) return { kind: 'select', fields: Array.from({ length: 1 + r.intn(2) }, () => randomField(r)) };
  return randomSpanset(r, Math.min(depth, 1));
}

/** randomQuery makes one query AST of the shape the parser builds. */
export function randomQuery(r: SeededRand): Pipeline {
  const stages: Stage[] = [chance(r, 8) ? randomScalarFilter(r) : randomSpanset(r, 3)];
  const more = r.intn(3);
  for (let i = 0; i < more; i++) stages.push(randomPipeStage(r, 2));
  return { kind: 'pipeline', stages };
}

/** caseRand derives the source of one differential case from a base seed and a case number. */
export function caseRand(baseSeed: number, caseNo: number): SeededRand {
  return new SeededRand((baseSeed ^ Math.imul(caseNo + 1, 0x9e3779b1)) >>> 0);
}

/** randomConjunctionQuery makes `{ c1 && c2 ... } | ...`: the shape extractPushdown pushes conditions from. */
export function randomConjunctionQuery(r: SeededRand): Pipeline {
  const conjunct = (): FieldExpr => {
    const roll = r.intn(100);
    if (roll < 55) return randomCompare(r);
    if (roll < 85) return { kind: 'logical', op: '||', lhs: randomCompare(r), rhs: randomCompare(r) };
    return randomCondition(r, 1);
  };
  let condition = conjunct();
  const more = r.intn(3);
  for (let i = 0; i < more; i++) condition = { kind: 'logical', op: '&&', lhs: condition, rhs: conjunct() };
  const stages: Stage[] = [{ kind: 'filter', condition }];
  if (chance(r, 30)) stages.push(randomPipeStage(r, 1));
  return { kind: 'pipeline', stages };
}

/** literalOf prints a scalar attribute value as a TraceQL literal (an int sometimes as a float), or null when it has none (NaN, infinities, non-scalars). */
function literalOf(r: SeededRand, v: AnyValue): string | null {
  switch (v.type) {
    case 'string':
      return JSON.stringify(v.value);
    case 'bool':
      return String(v.value);
    case 'int':
      return r.intn(3) === 0 && v.value > -(2n ** 53n) && v.value < 2n ** 53n ? `${v.value}.0` : String(v.value);
    case 'double':
      if (!Number.isFinite(v.value)) return null;
      return Number.isInteger(v.value) && Math.abs(v.value) < 2 ** 53 && r.intn(2) === 0 ? String(v.value) : v.value.toExponential();
    default:
      return null;
  }
}

/**
 * randomTargetedQuery makes a query around an attribute equality that one
 * span of `spans` satisfies (so results are common): the equality alone or
 * with a random condition (`&&`, `||`), in a filter, a spanset operation or
 * a pipeline; null when the chosen span has no attribute of a scalar value.
 */
export function randomTargetedQuery(r: SeededRand, spans: readonly SpanRow[]): Pipeline | null {
  const s = spans[r.intn(spans.length)] as SpanRow;
  const [scope, list] = [['span.', s.attributes], ['resource.', s.resource.attributes], ['.', [...s.attributes, ...s.resource.attributes]]][r.intn(3)] as [string, readonly KeyValue[]];
  const kv = list[r.intn(Math.max(1, list.length))];
  if (kv === undefined) return null;
  const value = kv.value.type === 'array' ? kv.value.values[r.intn(Math.max(1, kv.value.values.length))] : kv.value;
  const literal = value === undefined ? null : literalOf(r, value);
  if (literal === null) return null;
  const eq = `${scope}${JSON.stringify(kv.key)} = ${literal}`;
  const other = (): string => {
    const first = randomConjunctionQuery(r).stages[0];
    if (first?.kind !== 'filter' || first.condition === null) return 'true';
    return `(${formatTraceql({ kind: 'pipeline', stages: [first] }).slice(2, -2)})`;
  };
  const cond = [eq, `${eq} && ${other()}`, `${eq} || ${other()}`, `(${other()}) || ${eq}`][r.intn(4)] as string;
  const shape = ['{ %C }', '{ %C } >> { }', '{ } >> { %C }', '{ %C } && { %O }', '{ %O } || { %C }', '{ %O } !> { %C }', '{ %C } &~ { }', '({ %C } | count() > 1) && { }', '{ %C } | select(.a)'][r.intn(9)] as string;
  return parseTraceql(shape.replace(/%[CO]/g, (x) => (x === '%C' ? cond : other())));
}
