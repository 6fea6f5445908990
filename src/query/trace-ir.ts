/**
 * trace-ir.ts — the trace front ends' side of the IR (ir.ts): Tempo's
 * search (tags or TraceQL, already parsed into a TraceSearchQuery by
 * search-params.ts), trace by id and Tempo's tag reads become a QueryIr;
 * and the planner's lowering back to the trace shard parts the peers speak
 * (the search's TraceSearchQuery frame, the lookup's trace id, the tag
 * read), refusing any IR a trace shard cannot run.
 *
 * lowerTraceSearch(traceSearchIr(q)) is q again (a seeded round-trip test
 * in planner.test.ts checks it), so routing through the IR changes no
 * answer.
 *
 * Pure code.
 */
import { OtlpdbError, assert } from '../errors.js';
import { QueryLimits, TraceLookupLimits, TraceSearchLimits } from '../limits.js';
import type { SpanKind, StatusCode } from '../storage/rows.js';
import type { TagRead } from '../storage/traces/tag-read.js';
import type { SpanPredicate } from '../storage/traces/span-index.js';
import type { IntrinsicName, IrCmp, IrField, IrPredicate, IrValue, QueryIr } from './ir.js';
import { traceSearchQuery } from './search-params.js';
import type { TraceSearchQuery } from './search-params.js';
import type { Consistency } from './trace-search-wire.js';

const intrinsic = (name: IntrinsicName): IrField => ({ kind: 'intrinsic', name });
const str = (value: string): IrValue => ({ type: 'string', value });
const int = (value: number): IrValue => ({ type: 'int', value });
const dur = (ns: bigint): IrValue => ({ type: 'duration', ns });
const cmp = (level: 'span' | 'trace', name: IntrinsicName, op: IrCmp, value: IrValue): IrPredicate => ({ op: 'cmp', level, field: intrinsic(name), cmp: op, value });

/** traceSearchIr is Tempo's search `q` for `tenant` as a QueryIr (not yet validated). */
export function traceSearchIr(tenant: string, q: TraceSearchQuery, consistency: Consistency): QueryIr {
  const p = q.predicate;
  const preds: IrPredicate[] = [];
  if (p.service !== undefined) preds.push(cmp('span', 'service', '=', str(p.service)));
  if (p.name !== undefined) preds.push(cmp('span', 'spanName', '=', str(p.name)));
  if (p.kind !== undefined) preds.push(cmp('span', 'spanKind', '=', int(p.kind)));
  if (p.status !== undefined) preds.push(cmp('span', 'spanStatus', '=', int(p.status)));
  for (const [key, value] of p.attrs ?? []) preds.push({ op: 'cmp', level: 'span', field: { kind: 'attribute', scope: 'any', key }, cmp: '=', value: str(value) });
  if (p.traceId !== undefined) preds.push(cmp('span', 'traceId', '=', { type: 'bytes', value: p.traceId }));
  if (p.minDurationNs !== undefined) preds.push(cmp('span', 'spanDuration', '>=', dur(p.minDurationNs)));
  if (p.maxDurationNs !== undefined) preds.push(cmp('span', 'spanDuration', '<=', dur(p.maxDurationNs)));
  if (q.rootService !== undefined) preds.push(cmp('trace', 'rootService', '=', str(q.rootService)));
  if (q.rootName !== undefined) preds.push(cmp('trace', 'rootName', '=', str(q.rootName)));
  if (q.minTraceDurationNs !== undefined) preds.push(cmp('trace', 'traceDuration', '>=', dur(q.minTraceDurationNs)));
  if (q.maxTraceDurationNs !== undefined) preds.push(cmp('trace', 'traceDuration', '<=', dur(q.maxTraceDurationNs)));
  if (q.traceql !== undefined) preds.push({ op: 'program', level: 'trace', language: 'traceql', text: q.traceql });
  return {
    signal: 'traces',
    tenant,
    range: { startNs: q.startNs, endNs: q.endNs },
    predicates: preds,
    projection: { kind: 'traceSummaries' },
    aggregations: [],
    order: { by: 'time', direction: 'desc' },
    limits: { resultsMax: q.limit, spansPerResultMax: q.spss, bytesScannedMax: q.bytesScannedMax ?? QueryLimits.bytesScannedMaxDefault, wallMsMax: TraceSearchLimits.wallMsMax },
    consistency,
    scan: q.fullScan === true ? 'full' : 'index',
  };
}

/** traceByIdIr is a trace lookup as a QueryIr: a point read, always linearizable (promise 2). */
export function traceByIdIr(tenant: string, traceId: Uint8Array): QueryIr {
  return {
    signal: 'traces',
    tenant,
    range: null,
    predicates: [cmp('span', 'traceId', '=', { type: 'bytes', value: traceId })],
    projection: { kind: 'wholeTrace' },
    aggregations: [],
    order: { by: 'time', direction: 'asc' },
    limits: { resultsMax: 1, spansPerResultMax: 0, bytesScannedMax: QueryLimits.bytesScannedMaxDefault, wallMsMax: TraceLookupLimits.lookupMsMax },
    consistency: 'linearizable',
    scan: 'index',
  };
}

/** tagReadIr is a Tempo tag read as a QueryIr. */
export function tagReadIr(tenant: string, read: TagRead, consistency: Consistency): QueryIr {
  return {
    signal: 'traces',
    tenant,
    range: { startNs: read.startNs, endNs: read.endNs },
    predicates: [],
    projection: { kind: 'tags', read },
    aggregations: [],
    order: { by: 'key', direction: 'asc' },
    limits: { resultsMax: read.valuesMax, spansPerResultMax: 0, bytesScannedMax: QueryLimits.bytesScannedMaxDefault, wallMsMax: TraceSearchLimits.wallMsMax },
    consistency,
    scan: 'index',
  };
}

function cannot(why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `a trace search cannot run this query: ${why}`, { param: 'q' });
}

function strOf(v: IrValue): string {
  if (v.type !== 'string') throw cannot(`a ${v.type} where a string is compared`);
  return v.value;
}
function intOf(v: IrValue, max: number): number {
  if (v.type !== 'int' || !Number.isSafeInteger(v.value) || v.value < 0 || v.value > max) throw cannot(`a ${v.type} where a code in [0, ${max}] is compared`);
  return v.value;
}
function nsOf(v: IrValue): bigint {
  if (v.type !== 'duration') throw cannot(`a ${v.type} where a duration is compared`);
  return v.ns;
}

/**
 * lowerTraceSearch is the shard part of a validated trace-search IR: the
 * TraceSearchQuery of the peer frame shard.searchTraces. Only what the
 * trace shards evaluate is accepted (equalities and duration bounds on
 * span intrinsics and attributes, the root and trace-duration filters,
 * one TraceQL program); anything else is ERR_INVALID_ARGUMENT, never
 * silently dropped.
 */
export function lowerTraceSearch(ir: QueryIr): TraceSearchQuery {
  assert(ir.signal === 'traces' && ir.projection.kind === 'traceSummaries' && ir.range !== null, 'lowerTraceSearch takes a trace search IR');
  const p: { service?: string; name?: string; kind?: SpanKind; status?: StatusCode; attrs?: [string, string][]; traceId?: Uint8Array; minDurationNs?: bigint; maxDurationNs?: bigint } = {};
  const q: { rootService?: string; rootName?: string; minTraceDurationNs?: bigint; maxTraceDurationNs?: bigint; traceql?: string } = {};
  const once = <T>(prev: T | undefined, what: string): void => {
    if (prev !== undefined) throw cannot(`${what} is given twice`);
  };
  for (const pr of ir.predicates) {
    if (pr.op === 'program') {
      if (pr.language !== 'traceql' || pr.level !== 'trace') throw cannot('a program other than TraceQL over a trace');
      once(q.traceql, 'the TraceQL program');
      q.traceql = pr.text;
      continue;
    }
    if (pr.op !== 'cmp') throw cannot(`a top-level ${pr.op} predicate`);
    const f = pr.field;
    if (f.kind === 'attribute') {
      if (pr.level !== 'span' || pr.cmp !== '=' || f.scope !== 'any') throw cannot('an attribute test other than span-level `.key = value`');
      (p.attrs ??= []).push([f.key, strOf(pr.value)]);
      continue;
    }
    if (f.kind !== 'intrinsic') throw cannot('a label predicate');
    const key = `${pr.level}:${f.name}:${pr.cmp}`;
    switch (key) {
      case 'span:service:=':
        once(p.service, 'service');
        p.service = strOf(pr.value);
        break;
      case 'span:spanName:=':
        once(p.name, 'span name');
        p.name = strOf(pr.value);
        break;
      case 'span:spanKind:=':
        once(p.kind, 'span kind');
        p.kind = intOf(pr.value, 5) as SpanKind;
        break;
      case 'span:spanStatus:=':
        once(p.status, 'span status');
        p.status = intOf(pr.value, 2) as StatusCode;
        break;
      case 'span:traceId:=':
        once(p.traceId, 'trace id');
        if (pr.value.type !== 'bytes') throw cannot('a trace id that is not bytes');
        p.traceId = pr.value.value;
        break;
      case 'span:spanDuration:>=':
        once(p.minDurationNs, 'minimum span duration');
        p.minDurationNs = nsOf(pr.value);
        break;
      case 'span:spanDuration:<=':
        once(p.maxDurationNs, 'maximum span duration');
        p.maxDurationNs = nsOf(pr.value);
        break;
      case 'trace:rootService:=':
        once(q.rootService, 'root service');
        q.rootService = strOf(pr.value);
        break;
      case 'trace:rootName:=':
        once(q.rootName, 'root name');
        q.rootName = strOf(pr.value);
        break;
      case 'trace:traceDuration:>=':
        once(q.minTraceDurationNs, 'minimum trace duration');
        q.minTraceDurationNs = nsOf(pr.value);
        break;
      case 'trace:traceDuration:<=':
        once(q.maxTraceDurationNs, 'maximum trace duration');
        q.maxTraceDurationNs = nsOf(pr.value);
        break;
      default:
        throw cannot(`the predicate ${key}`);
    }
  }
  const predicate: SpanPredicate = p;
  // One shape whatever the predicates (search-params.ts): the node's own shard parts and its peers' decoded ones alike.
  return traceSearchQuery({
    startNs: ir.range.startNs,
    endNs: ir.range.endNs,
    predicate,
    ...q,
    limit: ir.limits.resultsMax,
    spss: ir.limits.spansPerResultMax,
    ...(ir.scan === 'full' ? { fullScan: true } : {}),
    ...(ir.limits.bytesScannedMax !== QueryLimits.bytesScannedMaxDefault ? { bytesScannedMax: ir.limits.bytesScannedMax } : {}),
  });
}
