/**
 * ir.ts — the one intermediate representation of a query, for every signal
 * (DESIGN.md §7 step 1). A language front end (Tempo's tag search and
 * TraceQL, trace by id and Tempo's tag routes now; PromQL and LogQL later)
 * parses into a QueryIr; validateIr checks it in one place against the
 * query limits; the planner (planner.ts) turns it into shard parts and a
 * coordinator part.
 *
 * Shape, and where later languages fit without changing it:
 * - `signal` and `tenant` (every row carries its tenant, promise 6);
 * - `range`: [startNs, endNs) of the rows' time (span start, sample or log
 *   timestamp), or null for a point lookup (a trace by id needs no time);
 * - `predicates`: a conjunction of IrPredicate, each at a `level` that says
 *   which unit it tests and so where it can run: `span` (indexes and
 *   postings on the shard), `trace` (the whole trace, on its shard), and for
 *   the later languages `series` (PromQL label matchers, LogQL stream
 *   selectors: label postings), `sample` and `line` (LogQL line filters
 *   `|= != |~ !~` are `match` predicates on the intrinsic `logLine`).
 *   A `program` is a predicate run whole where its unit lives (TraceQL's
 *   structural operators and pipelines over one trace);
 * - `projection`: what a matching unit contributes to the answer;
 * - `aggregations`: partial-aggregate functions (aggregate-state.ts) by
 *   grouping fields, and top-k; empty for the trace reads;
 * - `order` and `limits` (results, spans per result, bytes scanned, wall
 *   time), and `consistency` (promise 2).
 *
 * Pure data and pure functions: no I/O, no clock.
 */
import { OtlpdbError } from '../errors.js';
import { QueryLimits as L, TraceSearchLimits, TraceTagLimits } from '../limits.js';
import type { TagRead } from '../storage/traces/tag-read.js';
import { TRACE_ID_BYTES } from '../storage/rows.js';
import { AGGREGATE_FNS } from './aggregate-state.js';
import type { AggregateFn } from './aggregate-state.js';
import type { Consistency } from './trace-search-wire.js';

/** Signal is the kind of telemetry a query reads. */
export type Signal = 'traces' | 'metrics' | 'logs';

/**
 * IntrinsicName names a built-in field of a signal's rows (not an
 * attribute or label): the trace ones now, `metricName`, `logLine` and
 * `severity` for the later languages.
 */
export type IntrinsicName =
  | 'traceId'
  | 'spanName'
  | 'spanStatus'
  | 'spanKind'
  | 'spanDuration'
  | 'service'
  | 'rootService'
  | 'rootName'
  | 'traceDuration'
  | 'metricName'
  | 'logLine'
  | 'severity';

/** IrField is what a predicate tests, an aggregation reads or a grouping keys on. */
export type IrField =
  | { readonly kind: 'intrinsic'; readonly name: IntrinsicName }
  /** attribute: a span/log attribute or its resource's (`any`: either, the span's first). */
  | { readonly kind: 'attribute'; readonly scope: 'span' | 'resource' | 'any'; readonly key: string }
  /** label: a metric series label or a log stream label (PromQL and LogQL). */
  | { readonly kind: 'label'; readonly name: string };

/** IrValue is a typed literal of a predicate. */
export type IrValue =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'duration'; readonly ns: bigint }
  | { readonly type: 'bytes'; readonly value: Uint8Array };

/** IrCmp is a comparison operator. */
export type IrCmp = '=' | '!=' | '>' | '>=' | '<' | '<=';

/** IrLevel is the unit a predicate tests, and so where the planner can run it. */
export type IrLevel = 'span' | 'trace' | 'series' | 'sample' | 'stream' | 'line';

/** IrPredicate is one condition; a query's predicates are a conjunction. */
export type IrPredicate =
  | { readonly op: 'cmp'; readonly level: IrLevel; readonly field: IrField; readonly cmp: IrCmp; readonly value: IrValue }
  /** match: a regular expression (PromQL `=~`, LogQL `|~`) or a substring (LogQL `|=`); negate for `!~`, `!=`. */
  | { readonly op: 'match'; readonly level: IrLevel; readonly field: IrField; readonly syntax: 'regex' | 'substring'; readonly pattern: string; readonly negate: boolean }
  | { readonly op: 'and' | 'or'; readonly args: readonly IrPredicate[] }
  | { readonly op: 'not'; readonly arg: IrPredicate }
  /** program: a query text run whole over each unit at `level` (TraceQL over a trace), on the shard holding it. */
  | { readonly op: 'program'; readonly level: IrLevel; readonly language: 'traceql'; readonly text: string };

/** IrProjection is what each matching unit contributes to the answer. */
export type IrProjection =
  /** traceSummaries: Tempo's search answer, a summary and at most `limits.spansPerResultMax` matching spans per trace. */
  | { readonly kind: 'traceSummaries' }
  /** wholeTrace: every span of the trace (trace by id). */
  | { readonly kind: 'wholeTrace' }
  /** tags: distinct tag names or values (Tempo's tag routes); `read` is the shard read. */
  | { readonly kind: 'tags'; readonly read: TagRead }
  /** rows: the matching rows themselves (samples, log lines) in `order`. */
  | { readonly kind: 'rows' };

/** IrAggregation is one aggregate over the matching rows, grouped by `by`. */
export type IrAggregation =
  | { readonly fn: AggregateFn; readonly field: IrField | null; readonly by: readonly IrField[]; readonly quantile?: number }
  /** topk / bottomk: the k groups with the largest (smallest) value of `field`, kept per shard and again after the merge. */
  | { readonly fn: 'topk' | 'bottomk'; readonly k: number; readonly field: IrField; readonly by: readonly IrField[]; readonly quantile?: undefined };

/** IrOrder is the order of the answer: by time (newest first for `desc`) or by key (group, series, trace id). */
export interface IrOrder {
  readonly by: 'time' | 'key';
  readonly direction: 'asc' | 'desc';
}

/** IrLimits are one query's limits; every one is checked against QueryLimits by validateIr. */
export interface IrLimits {
  /** resultsMax: traces, series, lines or values returned (the `limit` parameter). */
  readonly resultsMax: number;
  /** spansPerResultMax: spans listed per trace (Tempo's `spss`); 0 when the projection lists none. */
  readonly spansPerResultMax: number;
  /** bytesScannedMax: bytes one shard part may read before it stops and answers partial. */
  readonly bytesScannedMax: number;
  /** wallMsMax: the whole query, retries included; shards not answered by then are reported failed. */
  readonly wallMsMax: number;
}

/** QueryIr is one query of any signal; see the top of this file. */
export interface QueryIr {
  readonly signal: Signal;
  readonly tenant: string;
  /** range is [startNs, endNs) of the rows' time, or null for a point lookup (trace by id). */
  readonly range: { readonly startNs: bigint; readonly endNs: bigint } | null;
  readonly predicates: readonly IrPredicate[];
  readonly projection: IrProjection;
  readonly aggregations: readonly IrAggregation[];
  readonly order: IrOrder;
  readonly limits: IrLimits;
  readonly consistency: Consistency;
  /** scan `full` reads every row of the range without the indexes (the baseline of bench/query-traces); same answer. */
  readonly scan: 'index' | 'full';
}

function bad(param: string, why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `invalid ${param}: ${why}`, { param });
}
function over(param: string, why: string): OtlpdbError {
  return new OtlpdbError('ERR_LIMIT_EXCEEDED', `${param}: ${why}`, { param });
}

/** ProjectionSignals says which projections each signal answers. */
const PROJECTION_SIGNALS: Readonly<Record<IrProjection['kind'], readonly Signal[]>> = {
  traceSummaries: ['traces'],
  wholeTrace: ['traces'],
  tags: ['traces'],
  rows: ['metrics', 'logs'],
};

function fieldBytes(f: IrField): number {
  return f.kind === 'intrinsic' ? 0 : Buffer.byteLength(f.kind === 'attribute' ? f.key : f.name);
}

/** walk visits every predicate of a tree, with its depth (1 for a top-level one). */
function walk(p: IrPredicate, depth: number, visit: (p: IrPredicate, depth: number) => void): void {
  visit(p, depth);
  if (p.op === 'and' || p.op === 'or') for (const a of p.args) walk(a, depth + 1, visit);
  else if (p.op === 'not') walk(p.arg, depth + 1, visit);
}

/**
 * traceIdOf is the trace id a query's conjunction pins (a top-level
 * `traceId = <16 bytes>`), or null: the planner's shard pruning.
 */
export function traceIdOf(ir: Pick<QueryIr, 'predicates'>): Uint8Array | null {
  for (const p of ir.predicates) {
    if (p.op === 'cmp' && p.cmp === '=' && p.field.kind === 'intrinsic' && p.field.name === 'traceId' && p.value.type === 'bytes') return p.value.value;
  }
  return null;
}

/**
 * validateIr checks a query against the query limits, in one place for
 * every front end: ERR_INVALID_ARGUMENT for a malformed query, and
 * ERR_LIMIT_EXCEEDED for a query over a limit (time range, results, spans
 * per result, bytes scanned, wall time, predicates, aggregations), each
 * naming the parameter in `details.param`. Returns the IR unchanged.
 */
export function validateIr(ir: QueryIr): QueryIr {
  if (ir.tenant === '' || Buffer.byteLength(ir.tenant) > L.stringBytesMax) throw bad('tenant', 'empty or too long');
  if (!PROJECTION_SIGNALS[ir.projection.kind].includes(ir.signal)) throw bad('projection', `${ir.projection.kind} is not a projection of ${ir.signal}`);
  const lookup = ir.projection.kind === 'wholeTrace';
  if (lookup) {
    const id = traceIdOf(ir);
    if (id === null || id.length !== TRACE_ID_BYTES) throw bad('traceId', `a trace lookup needs one ${TRACE_ID_BYTES}-byte trace id`);
    if (ir.range !== null) throw bad('range', 'a trace lookup has no time range (the trace-id index needs none)');
  } else {
    if (ir.range === null) throw bad('range', 'only a trace lookup may omit the time range');
    if (ir.range.startNs < 0n || ir.range.startNs >= ir.range.endNs) throw bad('start', 'start must be before end');
    // Tempo's end is inclusive to the second, so a range may be one second longer than rangeMsMax.
    if (ir.range.endNs - ir.range.startNs > BigInt(L.rangeMsMax) * 1_000_000n + 1_000_000_000n) {
      throw over('end', `the range from start to end exceeds QueryLimits.rangeMsMax (${L.rangeMsMax / 3_600_000} h)`);
    }
  }
  const lim = ir.limits;
  const resultsMax = ir.projection.kind === 'tags' ? TraceTagLimits.valuesMax : ir.projection.kind === 'traceSummaries' ? TraceSearchLimits.limitMax : L.resultsMax;
  if (!Number.isSafeInteger(lim.resultsMax) || lim.resultsMax < 1) throw bad('limit', 'must be a positive integer');
  if (lim.resultsMax > resultsMax) throw over('limit', `${lim.resultsMax} exceeds the maximum ${resultsMax}`);
  if (!Number.isSafeInteger(lim.spansPerResultMax) || lim.spansPerResultMax < 0) throw bad('spss', 'must be a natural number');
  if (lim.spansPerResultMax > TraceSearchLimits.spssMax) throw over('spss', `${lim.spansPerResultMax} exceeds the maximum ${TraceSearchLimits.spssMax}`);
  if (ir.projection.kind === 'traceSummaries' && lim.spansPerResultMax < 1) throw bad('spss', 'a search lists at least one span per trace');
  if (!Number.isSafeInteger(lim.bytesScannedMax) || lim.bytesScannedMax < 1) throw bad('bytesScannedMax', 'must be a positive integer');
  if (lim.bytesScannedMax > L.bytesScannedMaxCeiling) throw over('bytesScannedMax', `${lim.bytesScannedMax} exceeds QueryLimits.bytesScannedMaxCeiling (${L.bytesScannedMaxCeiling})`);
  if (!Number.isSafeInteger(lim.wallMsMax) || lim.wallMsMax < 1) throw bad('wallMsMax', 'must be a positive integer');
  if (lim.wallMsMax > L.wallMsCeiling) throw over('wallMsMax', `${lim.wallMsMax} ms exceeds QueryLimits.wallMsCeiling (${L.wallMsCeiling} ms)`);
  let nodes = 0;
  for (const top of ir.predicates) {
    walk(top, 1, (p, depth) => {
      nodes++;
      if (nodes > L.predicatesMax) throw over('predicates', `more than QueryLimits.predicatesMax (${L.predicatesMax})`);
      if (depth > L.predicateDepthMax) throw over('predicates', `nested deeper than QueryLimits.predicateDepthMax (${L.predicateDepthMax})`);
      if (p.op === 'cmp' || p.op === 'match') {
        if (fieldBytes(p.field) > L.stringBytesMax) throw over('predicates', `a field name longer than ${L.stringBytesMax} bytes`);
        if (p.op === 'match' && Buffer.byteLength(p.pattern) > L.stringBytesMax) throw over('predicates', `a pattern longer than ${L.stringBytesMax} bytes`);
        if (p.op === 'cmp' && p.value.type === 'string' && Buffer.byteLength(p.value.value) > L.stringBytesMax) throw over('predicates', `a value longer than ${L.stringBytesMax} bytes`);
      } else if ((p.op === 'and' || p.op === 'or') && p.args.length === 0) {
        throw bad('predicates', `an empty ${p.op}`);
      } else if (p.op === 'program' && Buffer.byteLength(p.text) > L.programBytesMax) {
        throw over('q', `longer than QueryLimits.programBytesMax (${L.programBytesMax} bytes)`);
      }
    });
  }
  if (ir.aggregations.length > L.aggregationsMax) throw over('aggregations', `more than QueryLimits.aggregationsMax (${L.aggregationsMax})`);
  for (const a of ir.aggregations) {
    if (ir.signal === 'traces') throw bad('aggregations', 'trace reads aggregate inside their TraceQL program, not in the IR');
    if (a.by.length > L.groupByFieldsMax) throw over('aggregations', `grouped by more than QueryLimits.groupByFieldsMax (${L.groupByFieldsMax}) fields`);
    if (a.fn === 'topk' || a.fn === 'bottomk') {
      if (!Number.isSafeInteger(a.k) || a.k < 1 || a.k > L.resultsMax) throw bad('aggregations', `k must be in [1, ${L.resultsMax}]`);
    } else {
      if (!AGGREGATE_FNS.includes(a.fn)) throw bad('aggregations', `unknown function ${String(a.fn)}`);
      if ((a.fn === 'quantile') !== (a.quantile !== undefined)) throw bad('aggregations', 'quantile, and only quantile, takes a quantile');
      if (a.quantile !== undefined && !(a.quantile >= 0 && a.quantile <= 1)) throw bad('aggregations', 'a quantile is in [0, 1]');
      if (a.field === null && a.fn !== 'count') throw bad('aggregations', `${a.fn} needs a field`);
    }
  }
  return ir;
}
