/**
 * trace-search-wire.ts — the peer frames of a trace search:
 *
 *   shard.searchTraces  request  [group, tenant, consistency, query]
 *                       answer   [partial, inspectedTraces, inspectedSpans, stats, traces]
 *
 *   query   = [startNs, endNs, service, name, kind, status, attrs, minSpanNs, maxSpanNs,
 *              rootService, rootName, minTraceNs, maxTraceNs, limit, spss, fullScan, traceql
 *              (, bytesScannedMax)]
 *             (ns as decimal strings; an absent field is nil). The 18th field
 *             is sent only when the query's bytes budget differs from
 *             QueryLimits.bytesScannedMaxDefault, so a default query's frame
 *             is the 17-field frame of earlier versions (which refuse 18
 *             fields with ERR_INVALID_ARGUMENT rather than ignore a budget).
 *   stats   = [blocksScanned, blocksPrunedTime, blocksPrunedBloom, blocksPrunedIndex, bytesRead, headRowsScanned]
 *   trace   = [traceId(16 B), rootServiceName, rootTraceName, startNs, durationNs, matched, [span...]]
 *   span    = [spanId(8 B), name, startNs, durationNs, [[key, AnyValue as OTLP JSON]...]]
 *
 * A peer's frame is outside input: every decoder checks types, lengths and
 * bounds and throws ERR_INVALID_ARGUMENT (a request) or ERR_CORRUPTION (an
 * answer) instead of trusting it.
 */
import { Packr } from 'msgpackr';
import { OtlpdbError } from '../errors.js';
import { QueryLimits, TraceSearchLimits as L, TraceqlLimits } from '../limits.js';
import { anyValueJson } from '../otlp/otlp-json-writer.js';
import { plainBytes } from '../plain-bytes.js';
import type { AnyValue, SpanKind, StatusCode } from '../storage/rows.js';
import { SPAN_ID_BYTES, TRACE_ID_BYTES } from '../storage/rows.js';
import { readScanStatsTuple, scanStatsTuple } from '../storage/shard/signal-store.js';
import type { SpanPredicate } from '../storage/traces/span-index.js';
import { traceSearchQuery } from './search-params.js';
import type { TraceSearchQuery } from './search-params.js';
import { compareSummaries } from './trace-search-shard.js';
import type { ShardSearchAnswer, TraceSummary } from './trace-search-shard.js';

/** SHARD_SEARCH_TRACES is the peer method of a shard's part of a trace search. */
export const SHARD_SEARCH_TRACES = 'shard.searchTraces';

/** Consistency is a read's consistency: the leader after ReadIndex (linearizable, the default) or any replica as it is (stale). */
export type Consistency = 'linearizable' | 'stale';

/** ShardSearchRequest is one shard.searchTraces call. */
export interface ShardSearchRequest {
  readonly group: number;
  readonly tenant: string;
  readonly consistency: Consistency;
  readonly query: TraceSearchQuery;
}

/**
 * WireTraceSummary is a TraceSummary as it crosses the wire: attribute
 * values already rendered as OTLP JSON (the coordinator only passes them on).
 */
export type WireTraceSummary = Omit<TraceSummary, 'spans'> & {
  readonly spans: readonly (Omit<TraceSummary['spans'][number], 'attributes'> & { readonly attributes: readonly { readonly key: string; readonly value: unknown }[] })[];
};

/** WireShardAnswer is a ShardSearchAnswer with WireTraceSummary traces. */
export type WireShardAnswer = Omit<ShardSearchAnswer, 'traces'> & { readonly traces: WireTraceSummary[] };

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
const NS_TEXT = /^\d{1,20}$/;
/** STRING_BYTES_MAX bounds any one string of a frame (tenant, names, attribute keys and values). */
const STRING_BYTES_MAX = 64 * 1024;

function badRequest(why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `${SHARD_SEARCH_TRACES} request: ${why}`);
}
function badAnswer(why: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `${SHARD_SEARCH_TRACES} answer: ${why}`);
}

const ns = (v: bigint | undefined): string | null => (v === undefined ? null : v.toString());
const opt = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** encodeSearchRequest packs a shard.searchTraces request. */
export function encodeSearchRequest(r: ShardSearchRequest): Uint8Array {
  const q = r.query;
  const p = q.predicate;
  return packr.pack([
    r.group,
    r.tenant,
    r.consistency,
    [
      ns(q.startNs), ns(q.endNs), opt(p.service), opt(p.name), opt(p.kind), opt(p.status), p.attrs === undefined ? null : p.attrs.map(([k, v]) => [k, v]),
      ns(p.minDurationNs), ns(p.maxDurationNs), opt(q.rootService), opt(q.rootName), ns(q.minTraceDurationNs), ns(q.maxTraceDurationNs), q.limit, q.spss, q.fullScan === true, opt(q.traceql),
      ...(q.bytesScannedMax !== undefined && q.bytesScannedMax !== QueryLimits.bytesScannedMaxDefault ? [q.bytesScannedMax] : []),
    ],
  ]);
}

function str(v: unknown, what: string, fail: (why: string) => OtlpdbError): string {
  if (typeof v !== 'string' || Buffer.byteLength(v) > STRING_BYTES_MAX) throw fail(`${what} is not a string of at most ${STRING_BYTES_MAX} bytes`);
  return v;
}
function optStr(v: unknown, what: string, fail: (why: string) => OtlpdbError): string | undefined {
  return v === null || v === undefined ? undefined : str(v, what, fail);
}
function nsOf(v: unknown, what: string, fail: (why: string) => OtlpdbError): bigint {
  if (typeof v !== 'string' || !NS_TEXT.test(v)) throw fail(`${what} is not a decimal ns count`);
  const n = BigInt(v);
  if (n >= 1n << 64n) throw fail(`${what} exceeds u64`);
  return n;
}
function optNs(v: unknown, what: string, fail: (why: string) => OtlpdbError): bigint | undefined {
  return v === null || v === undefined ? undefined : nsOf(v, what, fail);
}
function int(v: unknown, what: string, min: number, max: number, fail: (why: string) => OtlpdbError): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw fail(`${what} is not an integer in [${min}, ${max}]`);
  return v;
}
function bytes(v: unknown, length: number, what: string, fail: (why: string) => OtlpdbError): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== length) throw fail(`${what} is not ${length} bytes`);
  return v;
}
/** unpack reads a plain view of `b` (plain-bytes.ts): a local answer is packr's Buffer, a peer's a view of its frame; msgpackr and the ids it answers meet one map either way. */
function unpack(b: Uint8Array, fail: (why: string) => OtlpdbError): unknown {
  try {
    return packr.unpack(plainBytes(b));
  } catch {
    throw fail('not msgpack');
  }
}

/** decodeSearchRequest checks a shard.searchTraces request (ERR_INVALID_ARGUMENT when malformed). */
export function decodeSearchRequest(b: Uint8Array): ShardSearchRequest {
  const v = unpack(b, badRequest);
  if (!Array.isArray(v) || v.length !== 4) throw badRequest('not [group, tenant, consistency, query]');
  const group = int(v[0], 'group', 1, 0xffff_ffff, badRequest);
  const tenant = str(v[1], 'tenant', badRequest);
  const consistency = v[2];
  if (consistency !== 'linearizable' && consistency !== 'stale') throw badRequest('consistency is not linearizable or stale');
  const q: unknown = v[3];
  if (!Array.isArray(q) || (q.length !== 17 && q.length !== 18)) throw badRequest('query is not a 17- or 18-field tuple');
  const bytesScannedMax = q.length === 18 ? int(q[17], 'bytesScannedMax', 1, QueryLimits.bytesScannedMaxCeiling, badRequest) : undefined;
  if (typeof q[15] !== 'boolean') throw badRequest('fullScan is not a boolean');
  const attrsRaw: unknown = q[6];
  let attrs: [string, string][] | undefined;
  if (attrsRaw !== null && attrsRaw !== undefined) {
    if (!Array.isArray(attrsRaw) || attrsRaw.length > L.tagsMax) throw badRequest(`attrs is not a list of at most ${L.tagsMax} pairs`);
    attrs = attrsRaw.map((kv: unknown, i) => {
      if (!Array.isArray(kv) || kv.length !== 2) throw badRequest(`attrs[${i}] is not a pair`);
      return [str(kv[0], `attrs[${i}] key`, badRequest), str(kv[1], `attrs[${i}] value`, badRequest)];
    });
  }
  const kind = q[4] === null || q[4] === undefined ? undefined : (int(q[4], 'kind', 0, 5, badRequest) as SpanKind);
  const status = q[5] === null || q[5] === undefined ? undefined : (int(q[5], 'status', 0, 2, badRequest) as StatusCode);
  const service = optStr(q[2], 'service', badRequest);
  const name = optStr(q[3], 'name', badRequest);
  const minDurationNs = optNs(q[7], 'minSpanNs', badRequest);
  const maxDurationNs = optNs(q[8], 'maxSpanNs', badRequest);
  const predicate: SpanPredicate = { service, name, kind, status, attrs, minDurationNs, maxDurationNs };
  const startNs = nsOf(q[0], 'startNs', badRequest);
  const endNs = nsOf(q[1], 'endNs', badRequest);
  if (startNs >= endNs) throw badRequest('startNs is not before endNs');
  const traceql = optStr(q[16], 'traceql', badRequest);
  if (traceql !== undefined && Buffer.byteLength(traceql) > TraceqlLimits.queryBytesMax) throw badRequest(`traceql is longer than TraceqlLimits.queryBytesMax (${TraceqlLimits.queryBytesMax} bytes)`);
  const rootService = optStr(q[9], 'rootService', badRequest);
  const rootName = optStr(q[10], 'rootName', badRequest);
  const minTraceDurationNs = optNs(q[11], 'minTraceNs', badRequest);
  const maxTraceDurationNs = optNs(q[12], 'maxTraceNs', badRequest);
  // One shape (search-params.ts): a peer's query and the node's own parts are objects of one map in searchShard.
  const query = traceSearchQuery({
    startNs,
    endNs,
    predicate,
    rootService,
    rootName,
    minTraceDurationNs,
    maxTraceDurationNs,
    limit: int(q[13], 'limit', 1, L.limitMax, badRequest),
    spss: int(q[14], 'spss', 1, L.spssMax, badRequest),
    fullScan: q[15] === true ? true : undefined,
    traceql,
    bytesScannedMax,
  });
  return { group, tenant, consistency, query };
}

/** encodeSearchAnswer packs a shard's answer; an answer past TraceSearchLimits.answerBytesMax keeps fewer traces and says partial. */
export function encodeSearchAnswer(a: ShardSearchAnswer): Uint8Array {
  const s = a.stats;
  const traces = a.traces.map((t) => [
    t.traceId, t.rootServiceName, t.rootTraceName, t.startNs.toString(), t.durationNs.toString(), t.matched,
    t.spans.map((sp) => [sp.spanId, sp.name, sp.startNs.toString(), sp.durationNs.toString(), sp.attributes.map((kv) => [kv.key, anyValueJson(kv.value as AnyValue)])]),
  ]);
  let partial = a.partial;
  for (;;) {
    const out = packr.pack([partial, a.inspectedTraces, a.inspectedSpans, scanStatsTuple(s), traces]);
    if (out.length <= L.answerBytesMax || traces.length === 0) return out;
    traces.length = Math.floor(traces.length / 2);
    partial = true;
  }
}

/** decodeSearchAnswer checks a shard's answer (ERR_CORRUPTION when malformed). */
export function decodeSearchAnswer(b: Uint8Array, limit: number, spss: number): WireShardAnswer {
  const v = unpack(b, badAnswer);
  if (!Array.isArray(v) || v.length !== 5 || typeof v[0] !== 'boolean') throw badAnswer('not [partial, inspectedTraces, inspectedSpans, stats, traces]');
  const n = (x: unknown, what: string): number => int(x, what, 0, Number.MAX_SAFE_INTEGER, badAnswer);
  const stats = readScanStatsTuple(v[3], badAnswer);
  const tr: unknown = v[4];
  if (!Array.isArray(tr) || tr.length > limit) throw badAnswer(`traces is not a list of at most ${limit}`);
  const traces: WireTraceSummary[] = tr.map((t: unknown, i) => {
    if (!Array.isArray(t) || t.length !== 7) throw badAnswer(`trace ${i} is not a 7-tuple`);
    const spans: unknown = t[6];
    if (!Array.isArray(spans) || spans.length > spss) throw badAnswer(`trace ${i} lists more than spss spans`);
    return {
      traceId: bytes(t[0], TRACE_ID_BYTES, `trace ${i} id`, badAnswer),
      rootServiceName: str(t[1], `trace ${i} rootServiceName`, badAnswer),
      rootTraceName: str(t[2], `trace ${i} rootTraceName`, badAnswer),
      startNs: nsOf(t[3], `trace ${i} start`, badAnswer),
      durationNs: nsOf(t[4], `trace ${i} duration`, badAnswer),
      matched: n(t[5], `trace ${i} matched`),
      spans: spans.map((sp: unknown, j) => {
        if (!Array.isArray(sp) || sp.length !== 5 || !Array.isArray(sp[4]) || sp[4].length > L.tagsMax + 1) throw badAnswer(`trace ${i} span ${j} is malformed`);
        return {
          spanId: bytes(sp[0], SPAN_ID_BYTES, `trace ${i} span ${j} id`, badAnswer),
          name: str(sp[1], `trace ${i} span ${j} name`, badAnswer),
          startNs: nsOf(sp[2], `trace ${i} span ${j} start`, badAnswer),
          durationNs: nsOf(sp[3], `trace ${i} span ${j} duration`, badAnswer),
          attributes: (sp[4] as unknown[]).map((kv: unknown) => {
            if (!Array.isArray(kv) || kv.length !== 2 || typeof kv[1] !== 'object' || kv[1] === null || Array.isArray(kv[1])) throw badAnswer(`trace ${i} span ${j} attribute is malformed`);
            return { key: str(kv[0], 'attribute key', badAnswer), value: kv[1] as unknown };
          }),
        };
      }),
    };
  });
  // The coordinator merges the shards' runs k-way: a run out of order is a damaged answer (another replica is asked).
  for (let i = 1; i < traces.length; i++) if (compareSummaries(traces[i - 1] as WireTraceSummary, traces[i] as WireTraceSummary) > 0) throw badAnswer(`trace ${i} is out of order`);
  return { partial: v[0], inspectedTraces: n(v[1], 'inspectedTraces'), inspectedSpans: n(v[2], 'inspectedSpans'), stats, traces };
}
