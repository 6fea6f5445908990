/**
 * evaluate.ts — runs a parsed TraceQL query over ONE whole trace (a trace
 * lives in one shard, so this is the shard-side executor of structural and
 * pipeline stages). Pure: no I/O, no clock.
 *
 * Model (README.md cites Tempo for each rule):
 * - A spanset expression is evaluated over a universe of spans (all the
 *   trace's spans for the first stage, the incoming spanset's spans for a
 *   later stage); tree relations are always those of the whole trace.
 * - `{ c }` yields the spans of the universe where c is true.
 * - `A && B` yields the spans of both when both are non-empty; `A || B` the
 *   spans of either. `A > B`, `A >> B`, `A ~ B`, `A < B`, `A << B` yield the
 *   spans of B that are a child / descendant / sibling / parent / ancestor
 *   of some span of A; `A !> B` ... the spans of B that are not; `A &> B` ...
 *   the spans of both sides that are so related.
 * - A pipeline feeds each stage the previous spanset; an empty spanset or a
 *   failed scalar filter ends it with no result; select() adds fields.
 * Complexity: each operator is O(spans) after an O(spans) index build.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { TraceqlLimits } from '../../limits.js';
import type { SpanRow } from '../../storage/rows.js';
import type { FieldExpr, FieldRef, Pipeline, ScalarFilter, SpansetExpr, SpansetOp, Stage, StructuralRelation, TraceqlQuery } from './ast.js';
import { isSpansetExpr } from './ast.js';
import { formatFieldRef } from './format.js';
import { compileTraceqlRegex } from './regex.js';
import { TraceContext } from './trace-context.js';
import type { TraceqlValue } from './values.js';
import { FALSE, TRUE, compareNumeric, compareValues, literalValue, matchRegex } from './values.js';
import type { Re2Regex } from '../../re2-guard.js';

/** TraceqlSelected is one selected field of a span: its printed name and value. */
export interface TraceqlSelected {
  readonly field: string;
  readonly value: TraceqlValue;
}

/** TraceqlSpanMatch is one span of a result spanset: its index in the input, the row, and the selected fields it has. */
export interface TraceqlSpanMatch {
  readonly index: number;
  readonly span: SpanRow;
  readonly selected: readonly TraceqlSelected[];
}

/** TraceqlSpanset is one result spanset; its spans are in input order and never empty. */
export interface TraceqlSpanset {
  readonly spans: readonly TraceqlSpanMatch[];
}

/** Spanset is the evaluator's working set: sorted span indices and the fields selected so far. */
interface Spanset {
  readonly spans: readonly number[];
  readonly selects: readonly FieldRef[];
}

const EMPTY: Spanset = { spans: [], selects: [] };

/** CONVERSE maps a relation to its converse: a is the parent of b iff b is a child of a, and so on. */
const CONVERSE: Readonly<Record<StructuralRelation, StructuralRelation>> = { '>': '<', '<': '>', '>>': '<<', '<<': '>>', '~': '~' };

/**
 * TraceqlProgram is a parsed query made ready to run over many traces: its
 * regular expressions are compiled once (the planner builds one per query
 * and shard, then calls evaluate for each candidate trace).
 */
export class TraceqlProgram {
  readonly query: TraceqlQuery;
  readonly #regexes: ReadonlyMap<string, Re2Regex>;

  constructor(query: TraceqlQuery) {
    this.query = query;
    const regexes = new Map<string, Re2Regex>();
    collectRegexes(query, regexes);
    this.#regexes = regexes;
  }

  /**
   * evaluate runs the query over the spans of one trace and returns the
   * matching spansets: none, or one (TraceQL without `by()` yields at most
   * one spanset per trace). Throws ERR_LIMIT_EXCEEDED for a trace of more
   * than TraceqlLimits.traceSpansMax spans.
   */
  evaluate(spans: readonly SpanRow[]): TraceqlSpanset[] {
    if (spans.length > TraceqlLimits.traceSpansMax) {
      throw new OtlpdbError(
        'ERR_LIMIT_EXCEEDED',
        `TraceQL: trace of ${spans.length} spans exceeds TraceqlLimits.traceSpansMax (${TraceqlLimits.traceSpansMax})`,
      );
    }
    const ev = new Evaluator(new TraceContext(spans), this.#regexes);
    const all = spans.map((_, i) => i);
    const result = ev.pipeline(this.query, all);
    if (result.spans.length === 0) return [];
    const selects = dedupeSelects(result.selects);
    const matches = result.spans.map((i) => {
      const selected: TraceqlSelected[] = [];
      for (const f of selects) {
        const value = ev.ctx.fieldValue(i, f);
        if (value !== undefined) selected.push({ field: formatFieldRef(f), value });
      }
      return { index: i, span: spans[i] as SpanRow, selected };
    });
    assert(matches.length > 0, 'a returned spanset is not empty');
    return [{ spans: matches }];
  }
}

/** evaluateTraceql runs a query over one trace: `new TraceqlProgram(query).evaluate(spans)` (see there). */
export function evaluateTraceql(query: TraceqlQuery, spans: readonly SpanRow[]): TraceqlSpanset[] {
  return new TraceqlProgram(query).evaluate(spans);
}

function collectRegexes(stageOrExpr: Stage | FieldExpr, out: Map<string, Re2Regex>): void {
  switch (stageOrExpr.kind) {
    case 'pipeline':
      for (const s of stageOrExpr.stages) collectRegexes(s, out);
      return;
    case 'spansetOp':
      collectRegexes(stageOrExpr.lhs, out);
      collectRegexes(stageOrExpr.rhs, out);
      return;
    case 'filter':
      if (stageOrExpr.condition !== null) collectRegexes(stageOrExpr.condition, out);
      return;
    case 'logical':
      collectRegexes(stageOrExpr.lhs, out);
      collectRegexes(stageOrExpr.rhs, out);
      return;
    case 'not':
      collectRegexes(stageOrExpr.operand, out);
      return;
    case 'compare': {
      const rhs = stageOrExpr.rhs;
      if ((stageOrExpr.op === '=~' || stageOrExpr.op === '!~') && rhs.kind === 'literal' && rhs.value.type === 'string') {
        if (!out.has(rhs.value.value)) out.set(rhs.value.value, compileTraceqlRegex(rhs.value.value));
      }
      return;
    }
    default:
      return;
  }
}

function dedupeSelects(fields: readonly FieldRef[]): FieldRef[] {
  const seen = new Set<string>();
  const out: FieldRef[] = [];
  for (const f of fields) {
    const key = formatFieldRef(f);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(f);
    }
  }
  return out;
}

function union(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x < y)) {
      out.push(x as number);
      i++;
    } else if (x === undefined || y < x) {
      out.push(y);
      j++;
    } else {
      out.push(x);
      i++;
      j++;
    }
  }
  return out;
}

/** Evaluator holds one evaluation: the trace's context and the query's compiled regular expressions. */
class Evaluator {
  readonly ctx: TraceContext;
  readonly #regexes: ReadonlyMap<string, Re2Regex>;

  constructor(ctx: TraceContext, regexes: ReadonlyMap<string, Re2Regex>) {
    this.ctx = ctx;
    this.#regexes = regexes;
  }

  pipeline(p: Pipeline, universe: readonly number[]): Spanset {
    assert(p.stages.length >= 1, 'a pipeline has a stage');
    let current: Spanset = { spans: universe, selects: [] };
    for (const stage of p.stages) {
      if (isSpansetExpr(stage)) {
        const next = this.spanset(stage, current.spans);
        current = { spans: next.spans, selects: [...current.selects, ...next.selects] };
      } else if (stage.kind === 'scalarFilter') {
        if (!this.#scalarFilter(stage, current.spans)) return EMPTY;
      } else {
        current = { spans: current.spans, selects: [...current.selects, ...stage.fields] };
      }
      if (current.spans.length === 0) return EMPTY;
    }
    return current;
  }

  spanset(e: SpansetExpr, universe: readonly number[]): Spanset {
    switch (e.kind) {
      case 'filter':
        return { spans: e.condition === null ? universe : universe.filter((i) => truthy(this.#field(e.condition as FieldExpr, i))), selects: [] };
      case 'pipeline':
        return this.pipeline(e, universe);
      case 'spansetOp': {
        const a = this.spanset(e.lhs, universe);
        const b = this.spanset(e.rhs, universe);
        const selects = [...a.selects, ...b.selects];
        switch (e.op) {
          case '&&':
            return a.spans.length > 0 && b.spans.length > 0 ? { spans: union(a.spans, b.spans), selects } : EMPTY;
          case '||': {
            const spans = union(a.spans, b.spans);
            return spans.length > 0 ? { spans, selects } : EMPTY;
          }
          default: {
            const spans = this.#structuralOp(e.op, a.spans, b.spans);
            return spans.length > 0 ? { spans, selects } : EMPTY;
          }
        }
      }
    }
  }

  /**
   * #structuralOp: `A rel B` is the B spans related to some A span; `A !rel B`
   * the B spans related to none; `A &rel B` the related spans of both sides,
   * i.e. also the A spans to which some B span is so related (found as the
   * converse relation from B).
   */
  #structuralOp(op: Exclude<SpansetOp, '&&' | '||'>, a: readonly number[], b: readonly number[]): number[] {
    if (op.startsWith('!')) {
      const related = new Set(this.#structural(op.slice(1) as StructuralRelation, a, b));
      return b.filter((i) => !related.has(i));
    }
    if (op.startsWith('&')) {
      const rel = op.slice(1) as StructuralRelation;
      return union(this.#structural(rel, a, b), this.#structural(CONVERSE[rel], b, a));
    }
    return this.#structural(op as StructuralRelation, a, b);
  }

  /** #structural returns the spans of b related to some span of a by op. */
  #structural(op: StructuralRelation, a: readonly number[], b: readonly number[]): number[] {
    const { parent, childStart, childList } = this.ctx;
    const n = parent.length;
    switch (op) {
      case '>': {
        const inA = new Uint8Array(n);
        for (const i of a) inA[i] = 1;
        return b.filter((i) => {
          const p = parent[i] as number;
          return p !== -1 && inA[p] === 1;
        });
      }
      case '>>': {
        // Mark every strict descendant of a span of a (the parent links form a forest).
        const below = new Uint8Array(n);
        const stack: number[] = [];
        const pushChildren = (i: number): void => {
          for (let k = childStart[i] as number; k < (childStart[i + 1] as number); k++) stack.push(childList[k] as number);
        };
        for (const i of a) pushChildren(i);
        while (stack.length > 0) {
          const i = stack.pop() as number;
          if (below[i] === 1) continue;
          below[i] = 1;
          pushChildren(i);
        }
        return b.filter((i) => below[i] === 1);
      }
      case '<': {
        const isParent = new Uint8Array(n);
        for (const i of a) {
          const p = parent[i] as number;
          if (p !== -1) isParent[p] = 1;
        }
        return b.filter((i) => isParent[i] === 1);
      }
      case '<<': {
        const above = new Uint8Array(n);
        for (const i of a) {
          let p = parent[i] as number;
          while (p !== -1 && above[p] === 0) {
            above[p] = 1;
            p = parent[p] as number;
          }
        }
        return b.filter((i) => above[i] === 1);
      }
      case '~': {
        const inA = new Uint8Array(n);
        const perParent = new Uint32Array(n);
        for (const i of a) {
          inA[i] = 1;
          const p = parent[i] as number;
          if (p !== -1) perParent[p] = (perParent[p] as number) + 1;
        }
        return b.filter((i) => {
          const p = parent[i] as number;
          return p !== -1 && (perParent[p] as number) - (inA[i] as number) > 0;
        });
      }
    }
  }

  #scalarFilter(f: ScalarFilter, spans: readonly number[]): boolean {
    const result = f.fn === 'count' ? ({ type: 'int', value: BigInt(spans.length) } as const) : this.#aggregate(f, spans);
    const rhs = literalValue(f.value);
    if (result === undefined || rhs === undefined) return false;
    return compareValues(result, f.op, rhs);
  }

  /** #aggregate folds the numeric values of a field; undefined when no span has one. */
  #aggregate(f: ScalarFilter, spans: readonly number[]): TraceqlValue | undefined {
    assert(f.field !== null, 'an aggregate other than count has a field');
    const field = f.field;
    const values: NumericValue[] = [];
    for (const i of spans) {
      const v = this.ctx.fieldValue(i, field);
      if (v !== undefined && (v.type === 'int' || v.type === 'float' || v.type === 'duration')) values.push(v);
    }
    if (values.length === 0) return undefined;
    if (f.fn === 'min' || f.fn === 'max') {
      // NaN has no order: min and max skip it (sum and avg do not, and become NaN).
      const ordered = values.filter((v) => !(v.type === 'float' && Number.isNaN(v.value)));
      if (ordered.length === 0) return undefined;
      let best = ordered[0] as NumericValue;
      for (const v of ordered.slice(1)) {
        const order = compareNumeric(v.value, best.value);
        if (order !== null && (f.fn === 'min' ? order < 0 : order > 0)) best = v;
      }
      return best;
    }
    const allWhole = values.every((v) => v.type !== 'float');
    switch (f.fn) {
      case 'sum':
      case 'avg': {
        let sum: NumericValue;
        if (allWhole) {
          let s = 0n;
          for (const v of values) s += v.value as bigint;
          sum = { type: 'int', value: s };
        } else {
          let s = 0;
          for (const v of values) s += Number(v.value);
          sum = { type: 'float', value: s };
        }
        if (f.fn === 'sum') return sum;
        return { type: 'float', value: Number(sum.value) / values.length };
      }
      default:
        throw new OtlpdbError('ERR_INTERNAL', `invariant violated: unknown aggregate ${f.fn}`);
    }
  }

  #field(e: FieldExpr, i: number): TraceqlValue | undefined {
    switch (e.kind) {
      case 'literal':
        return literalValue(e.value);
      case 'attribute':
      case 'intrinsic':
        return this.ctx.fieldValue(i, e);
      case 'not':
        return truthy(this.#field(e.operand, i)) ? FALSE : TRUE;
      case 'logical': {
        const l = truthy(this.#field(e.lhs, i));
        if (e.op === '&&') return l && truthy(this.#field(e.rhs, i)) ? TRUE : FALSE;
        return l || truthy(this.#field(e.rhs, i)) ? TRUE : FALSE;
      }
      case 'compare': {
        const lNil = e.lhs.kind === 'literal' && e.lhs.value.type === 'nil';
        const rNil = e.rhs.kind === 'literal' && e.rhs.value.type === 'nil';
        if (lNil || rNil) {
          const other = rNil ? this.#field(e.lhs, i) : this.#field(e.rhs, i);
          if (e.op === '=') return other === undefined ? TRUE : FALSE;
          if (e.op === '!=') return other !== undefined ? TRUE : FALSE;
          return FALSE;
        }
        const l = this.#field(e.lhs, i);
        if (l === undefined) return FALSE;
        if (e.op === '=~' || e.op === '!~') {
          assert(e.rhs.kind === 'literal' && e.rhs.value.type === 'string', 'a regex operand is a string literal');
          return matchRegex(l, this.#regex(e.rhs.value.value), e.op === '!~') ? TRUE : FALSE;
        }
        const r = this.#field(e.rhs, i);
        if (r === undefined) return FALSE;
        return compareValues(l, e.op, r) ? TRUE : FALSE;
      }
    }
  }

  #regex(pattern: string): Re2Regex {
    const re = this.#regexes.get(pattern);
    assert(re !== undefined, 'every regex of the query was compiled by TraceqlProgram');
    return re;
  }
}

/** NumericValue is a value of the numeric family, the only values avg/min/max/sum fold. */
type NumericValue = Extract<TraceqlValue, { type: 'int' | 'float' | 'duration' }>;

/** truthy is the condition rule: only the boolean true counts as true (absent, false and non-booleans do not). */
function truthy(v: TraceqlValue | undefined): boolean {
  return v !== undefined && v.type === 'bool' && v.value;
}
