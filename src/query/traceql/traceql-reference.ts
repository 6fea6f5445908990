/**
 * traceql-reference.ts — a NAIVE reference evaluator of TraceQL, for the
 * differential tests only. It is written from the language definition in
 * README.md by brute force (every relation is found by scanning every span,
 * every ancestor by walking up from scratch) and shares no evaluation code
 * with evaluate.ts, trace-context.ts or values.ts: only the AST types and the
 * printer (for the names of selected fields) are common. Test code only.
 */
import type { SpanRow, AnyValue } from '../../storage/rows.js';
import type { FieldExpr, FieldRef, LiteralValue, Pipeline, ScalarFilter, SpansetExpr, Stage } from './ast.js';
import { formatFieldRef } from './format.js';

/** RefValue is the reference's own value shape ('none' is absent). */
type RefValue =
  | { t: 'none' }
  | { t: 'str'; v: string }
  | { t: 'num'; v: bigint | number }
  | { t: 'bool'; v: boolean }
  | { t: 'status'; v: string }
  | { t: 'kind'; v: string }
  | { t: 'list'; v: RefValue[] }
  | { t: 'opaque' };

/** ReferenceSpan is one span of a reference result: its input index and its selected fields (values rendered as text). */
export interface ReferenceSpan {
  readonly index: number;
  readonly selected: readonly { readonly field: string; readonly value: string }[];
}

const NONE: RefValue = { t: 'none' };

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

/** trimmed drops leading zeros: trace ids are written as Tempo writes them. */
function trimmed(h: string): string {
  let k = 0;
  while (k < h.length && h[k] === '0') k++;
  return h.slice(k);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function convert(v: AnyValue, top: boolean): RefValue {
  if (v.type === 'string') return { t: 'str', v: v.value };
  if (v.type === 'int') return { t: 'num', v: v.value };
  if (v.type === 'double') return { t: 'num', v: v.value };
  if (v.type === 'bool') return { t: 'bool', v: v.value };
  if (v.type === 'array' && top) return { t: 'list', v: v.values.map((e) => convert(e, false)) };
  return { t: 'opaque' };
}

/** renderRef renders a value as text, the way the test renders the real evaluator's values. */
export function renderRef(v: RefValue): string {
  switch (v.t) {
    case 'none':
      return 'none';
    case 'opaque':
      return 'opaque';
    case 'list':
      return `[${v.v.map(renderRef).join(',')}]`;
    case 'num':
      return typeof v.v === 'bigint' ? `${v.v}n` : Object.is(v.v, -0) ? '0' : String(v.v);
    default:
      return `${v.t}:${String(v.v)}`;
  }
}

/** referenceEvaluate runs a query over one trace, naively; null means no spanset, else the spans in input order. */
export function referenceEvaluate(query: Pipeline, spans: readonly SpanRow[]): ReferenceSpan[] | null {
  const n = spans.length;

  // The parent of a span: the first span (other than itself) whose id is its parent id, unless the span lies on a loop.
  const rawParent = (i: number): number => {
    const s = spans[i] as SpanRow;
    if (s.parentSpanId.length === 0) return -1;
    for (let j = 0; j < n; j++) if (sameBytes((spans[j] as SpanRow).spanId, s.parentSpanId)) return j === i ? -1 : j;
    return -1;
  };
  const onLoop = (i: number): boolean => {
    let p = rawParent(i);
    for (let step = 0; step <= n && p !== -1; step++) {
      if (p === i) return true;
      p = rawParent(p);
    }
    return false;
  };
  const parentOf = (i: number): number => (onLoop(i) ? -1 : rawParent(i));
  const isAncestor = (a: number, b: number): boolean => {
    let p = parentOf(b);
    for (let step = 0; step <= n && p !== -1; step++) {
      if (p === a) return true;
      p = parentOf(p);
    }
    return false;
  };

  const root = (): SpanRow | undefined => {
    let best: SpanRow | undefined;
    for (const s of spans) if (s.parentSpanId.length === 0 && (best === undefined || s.startTimeUnixNano < best.startTimeUnixNano)) best = s;
    return best;
  };

  const attr = (kvs: readonly { key: string; value: AnyValue }[], key: string): RefValue => {
    const kv = kvs.find((x) => x.key === key);
    return kv === undefined ? NONE : convert(kv.value, true);
  };

  const field = (i: number, f: FieldRef): RefValue => {
    const s = spans[i] as SpanRow;
    if (f.kind === 'attribute') {
      if (f.scope === 'span') return attr(s.attributes, f.name);
      if (f.scope === 'resource') return attr(s.resource.attributes, f.name);
      const own = attr(s.attributes, f.name);
      return own.t !== 'none' ? own : attr(s.resource.attributes, f.name);
    }
    switch (f.name) {
      case 'name':
        return { t: 'str', v: s.name };
      case 'status':
        return { t: 'status', v: ['unset', 'ok', 'error'][s.status.code] as string };
      case 'statusMessage':
        return { t: 'str', v: s.status.message };
      case 'kind':
        return { t: 'kind', v: ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'][s.kind] as string };
      case 'duration':
        return { t: 'num', v: s.endTimeUnixNano - s.startTimeUnixNano };
      case 'rootName': {
        const r = root();
        return r === undefined ? NONE : { t: 'str', v: r.name };
      }
      case 'rootServiceName': {
        const r = root();
        if (r === undefined) return NONE;
        const v = attr(r.resource.attributes, 'service.name');
        return v.t === 'str' ? v : NONE;
      }
      case 'traceDuration': {
        let lo = (spans[0] as SpanRow).startTimeUnixNano;
        let hi = (spans[0] as SpanRow).endTimeUnixNano;
        for (const x of spans) {
          if (x.startTimeUnixNano < lo) lo = x.startTimeUnixNano;
          if (x.endTimeUnixNano > hi) hi = x.endTimeUnixNano;
        }
        return { t: 'num', v: hi - lo };
      }
      case 'eventName':
        return s.events.length === 0 ? NONE : { t: 'list', v: s.events.map((e) => ({ t: 'str', v: e.name })) };
      case 'linkTraceId':
        return s.links.length === 0 ? NONE : { t: 'list', v: s.links.map((l) => ({ t: 'str', v: trimmed(hex(l.traceId)) })) };
      case 'linkSpanId':
        return s.links.length === 0 ? NONE : { t: 'list', v: s.links.map((l) => ({ t: 'str', v: hex(l.spanId) })) };
      case 'spanId':
        return { t: 'str', v: hex(s.spanId) };
      case 'parentSpanId':
        return s.parentSpanId.length === 0 ? NONE : { t: 'str', v: hex(s.parentSpanId) };
      case 'traceId':
        return { t: 'str', v: trimmed(hex(s.traceId)) };
      case 'childCount': {
        let c = 0n;
        for (let j = 0; j < n; j++) if (parentOf(j) === i) c++;
        return { t: 'num', v: c };
      }
      case 'instrumentationName':
        return { t: 'str', v: s.scope.name };
      case 'instrumentationVersion':
        return { t: 'str', v: s.scope.version };
    }
  };

  const lit = (l: LiteralValue): RefValue => {
    switch (l.type) {
      case 'nil':
        return NONE;
      case 'string':
        return { t: 'str', v: l.value };
      case 'int':
      case 'duration':
      case 'float':
        return { t: 'num', v: l.value };
      case 'bool':
        return { t: 'bool', v: l.value };
      case 'status':
        return { t: 'status', v: l.value };
      case 'kind':
        return { t: 'kind', v: l.value };
    }
  };

  /** order of two numbers: <0, 0, >0, or NaN when unordered. */
  const numOrder = (a: bigint | number, b: bigint | number): number => {
    if (typeof a === 'number' && Number.isNaN(a)) return NaN;
    if (typeof b === 'number' && Number.isNaN(b)) return NaN;
    if (typeof a === 'bigint' && typeof b === 'bigint') return a === b ? 0 : a < b ? -1 : 1;
    // A non-integral float is below 2^52 in magnitude, where Number(bigint) keeps the order; an integral one converts exactly.
    const asBig = (x: number): bigint | null => (Number.isFinite(x) && Number.isInteger(x) ? BigInt(x) : null);
    if (typeof a === 'bigint' && typeof b === 'number') {
      const bb = asBig(b);
      if (bb !== null) return a === bb ? 0 : a < bb ? -1 : 1;
      const af = Number(a);
      return af === b ? 0 : af < b ? -1 : 1;
    }
    if (typeof a === 'number' && typeof b === 'bigint') return -numOrder(b, a);
    const x = a as number;
    const y = b as number;
    return x === y ? 0 : x < y ? -1 : 1;
  };

  const holds = (op: string, ord: number): boolean => {
    if (Number.isNaN(ord)) return op === '!=';
    return (
      (op === '=' && ord === 0) ||
      (op === '!=' && ord !== 0) ||
      (op === '<' && ord < 0) ||
      (op === '<=' && ord <= 0) ||
      (op === '>' && ord > 0) ||
      (op === '>=' && ord >= 0)
    );
  };

  const scalarCmp = (a: RefValue, op: string, b: RefValue): boolean => {
    if (a.t === 'num' && b.t === 'num') return holds(op, numOrder(a.v, b.v));
    if (a.t === 'str' && b.t === 'str') return holds(op, a.v === b.v ? 0 : a.v < b.v ? -1 : 1);
    if ((a.t === 'bool' || a.t === 'status' || a.t === 'kind') && a.t === b.t && (op === '=' || op === '!=')) {
      return (a.v === b.v) === (op === '=');
    }
    return false;
  };

  const cmp = (a: RefValue, op: string, b: RefValue): boolean => {
    if (a.t === 'list' && b.t === 'list') return false;
    if (a.t === 'list') return op === '!=' ? a.v.every((e) => !scalarCmp(e, '=', b)) : a.v.some((e) => scalarCmp(e, op, b));
    if (b.t === 'list') return op === '!=' ? b.v.every((e) => !scalarCmp(a, '=', e)) : b.v.some((e) => scalarCmp(a, op, e));
    return scalarCmp(a, op, b);
  };

  const isNilLiteral = (e: FieldExpr): boolean => e.kind === 'literal' && e.value.type === 'nil';

  const value = (e: FieldExpr, i: number): RefValue => {
    switch (e.kind) {
      case 'literal':
        return lit(e.value);
      case 'attribute':
      case 'intrinsic':
        return field(i, e);
      case 'not':
        return { t: 'bool', v: !isTrue(value(e.operand, i)) };
      case 'logical': {
        const l = isTrue(value(e.lhs, i));
        const r = isTrue(value(e.rhs, i));
        return { t: 'bool', v: e.op === '&&' ? l && r : l || r };
      }
      case 'compare': {
        if (isNilLiteral(e.lhs) || isNilLiteral(e.rhs)) {
          const other = isNilLiteral(e.rhs) ? value(e.lhs, i) : value(e.rhs, i);
          if (e.op === '=') return { t: 'bool', v: other.t === 'none' };
          if (e.op === '!=') return { t: 'bool', v: other.t !== 'none' };
          return { t: 'bool', v: false };
        }
        const l = value(e.lhs, i);
        const r = value(e.rhs, i);
        if (l.t === 'none' || r.t === 'none') return { t: 'bool', v: false };
        if (e.op === '=~' || e.op === '!~') {
          const re = new RegExp(`^(?:${(r as { v: string }).v})$`, 'u');
          const strs = l.t === 'str' ? [l.v] : l.t === 'list' ? l.v.flatMap((x) => (x.t === 'str' ? [x.v] : [])) : null;
          if (strs === null) return { t: 'bool', v: false };
          if (l.t === 'str') return { t: 'bool', v: re.test(l.v) === (e.op === '=~') };
          const any = strs.some((s) => re.test(s));
          return { t: 'bool', v: e.op === '=~' ? any : !any };
        }
        return { t: 'bool', v: cmp(l, e.op, r) };
      }
    }
  };

  const isTrue = (v: RefValue): boolean => v.t === 'bool' && v.v === true;

  type Result = { set: Set<number>; selects: FieldRef[] };

  const spanset = (e: SpansetExpr, universe: Set<number>): Result => {
    if (e.kind === 'filter') {
      const set = new Set<number>();
      for (const i of universe) if (e.condition === null || isTrue(value(e.condition, i))) set.add(i);
      return { set, selects: [] };
    }
    if (e.kind === 'pipeline') return pipeline(e, universe);
    const a = spanset(e.lhs, universe);
    const b = spanset(e.rhs, universe);
    const selects = [...a.selects, ...b.selects];
    const set = new Set<number>();
    if (e.op === '&&') {
      if (a.set.size > 0 && b.set.size > 0) for (const i of [...a.set, ...b.set]) set.add(i);
    } else if (e.op === '||') {
      for (const i of [...a.set, ...b.set]) set.add(i);
    } else {
      // R(x, y): the left span x and the right span y are in the operator's relation.
      const rel = e.op.replace(/^[!&]/, '');
      const R = (x: number, y: number): boolean =>
        (rel === '>' && parentOf(y) === x) ||
        (rel === '<' && parentOf(x) === y) ||
        (rel === '>>' && isAncestor(x, y)) ||
        (rel === '<<' && isAncestor(y, x)) ||
        (rel === '~' && x !== y && parentOf(x) !== -1 && parentOf(x) === parentOf(y));
      for (const y of b.set) {
        const some = [...a.set].some((x) => R(x, y));
        if (e.op.startsWith('!') ? !some : some) set.add(y);
      }
      if (e.op.startsWith('&')) {
        for (const x of a.set) if ([...b.set].some((y) => R(x, y))) set.add(x);
      }
    }
    // An empty spanset carries no selected fields.
    return { set, selects: set.size === 0 ? [] : selects };
  };

  const scalarPasses = (f: ScalarFilter, set: Set<number>): boolean => {
    let result: RefValue;
    if (f.fn === 'count') {
      result = { t: 'num', v: BigInt(set.size) };
    } else {
      const nums: (bigint | number)[] = [];
      for (const i of [...set].sort((x, y) => x - y)) {
        const v = field(i, f.field as FieldRef);
        if (v.t === 'num') nums.push(v.v);
      }
      if (f.fn === 'min' || f.fn === 'max') {
        const ordered = nums.filter((x) => !(typeof x === 'number' && Number.isNaN(x)));
        if (ordered.length === 0) return false;
        let best = ordered[0] as bigint | number;
        for (const x of ordered) if (f.fn === 'min' ? numOrder(x, best) < 0 : numOrder(x, best) > 0) best = x;
        result = { t: 'num', v: best };
      } else {
        if (nums.length === 0) return false;
        const total: bigint | number = nums.every((x) => typeof x === 'bigint')
          ? nums.reduce<bigint>((acc, x) => acc + (x as bigint), 0n)
          : nums.reduce<number>((acc, x) => acc + Number(x), 0);
        result = f.fn === 'sum' ? { t: 'num', v: total } : { t: 'num', v: Number(total) / nums.length };
      }
    }
    return cmp(result, f.op, lit(f.value));
  };

  const pipeline = (p: Pipeline, universe: Set<number>): Result => {
    let current: Result = { set: universe, selects: [] };
    for (const stage of p.stages as readonly Stage[]) {
      if (stage.kind === 'select') {
        current = { set: current.set, selects: [...current.selects, ...stage.fields] };
      } else if (stage.kind === 'scalarFilter') {
        if (!scalarPasses(stage, current.set)) return { set: new Set(), selects: [] };
      } else {
        const r = spanset(stage, current.set);
        current = { set: r.set, selects: [...current.selects, ...r.selects] };
      }
      if (current.set.size === 0) return { set: new Set(), selects: [] };
    }
    return current;
  };

  const all = new Set<number>();
  for (let i = 0; i < n; i++) all.add(i);
  const result = pipeline(query, all);
  if (result.set.size === 0) return null;
  const names: string[] = [];
  const fields: FieldRef[] = [];
  for (const f of result.selects) {
    const name = formatFieldRef(f);
    if (!names.includes(name)) {
      names.push(name);
      fields.push(f);
    }
  }
  return [...result.set]
    .sort((x, y) => x - y)
    .map((i) => ({
      index: i,
      selected: fields.flatMap((f, k) => {
        const v = field(i, f);
        return v.t === 'none' ? [] : [{ field: names[k] as string, value: renderRef(v) }];
      }),
    }));
}
