/**
 * otlp-proto-writer.ts — stored spans back to OTLP protobuf, for Tempo's
 * trace by id with `Accept: application/protobuf`. Grouped exactly as the
 * JSON writer groups them (groupSpans in otlp-json-writer.ts), fields at
 * their default value left out, as proto3 writes them.
 *
 * Messages (field numbers from src/otlp/proto/.../trace/v1/trace.proto,
 * common/v1/common.proto, resource/v1/resource.proto, and Tempo's
 * pkg/tempopb/tempo.proto for the two envelopes):
 *
 *   tempopb.Trace             { repeated ResourceSpans resourceSpans = 1; }
 *       (called `batches` in older Tempo; the same wire bytes as OTLP's
 *       TracesData, which is what the tests decode it as)
 *   tempopb.TraceByIDResponse { Trace trace = 1; TraceByIDMetrics metrics = 2;
 *                               PartialStatus status = 3; string message = 4; }
 *   PartialStatus             { COMPLETE = 0; PARTIAL = 1; }
 *
 *   ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
 *   ScopeSpans    { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
 *   Span          { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
 *                   string name = 5; SpanKind kind = 6; fixed64 start_time_unix_nano = 7;
 *                   fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
 *                   uint32 dropped_attributes_count = 10; repeated Event events = 11;
 *                   uint32 dropped_events_count = 12; repeated Link links = 13;
 *                   uint32 dropped_links_count = 14; Status status = 15; fixed32 flags = 16; }
 *   Event         { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped = 4; }
 *   Link          { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4;
 *                   uint32 dropped = 5; fixed32 flags = 6; }
 *   Status        { string message = 2; StatusCode code = 3; }
 *   AnyValue      { oneof: string 1, bool 2, int64 3, double 4, ArrayValue 5, KeyValueList 6, bytes 7 }
 *
 * The `metrics` field of TraceByIDResponse is left out: Tempo fills it with
 * its own scan counters, which otlpdb does not keep per lookup, and Grafana
 * does not read it.
 */
import { assert } from '../errors.js';
import type { AnyValue, KeyValue, Resource, Scope, SpanRow } from '../storage/rows.js';
import { groupSpans } from './otlp-json-writer.js';
import { ProtoWriter } from './rpc-status.js';

const utf8 = new TextEncoder();

/** PARTIAL_STATUS_PARTIAL is tempopb.PartialStatus PARTIAL (COMPLETE, 0, is never written). */
export const PARTIAL_STATUS_PARTIAL = 1;

function putString(w: ProtoWriter, no: number, s: string): void {
  if (s !== '') w.bytesField(no, utf8.encode(s));
}

function putCount(w: ProtoWriter, no: number, n: number): void {
  if (n !== 0) w.varintField(no, n);
}

/** anyValueProto writes an AnyValue message (empty for the empty value). */
export function anyValueProto(v: AnyValue): Uint8Array {
  const w = new ProtoWriter();
  switch (v.type) {
    case 'empty':
      break;
    case 'string':
      // A oneof member is written even at its default, so "" stays a string.
      w.bytesField(1, utf8.encode(v.value));
      break;
    case 'bool':
      w.varintField(2, v.value ? 1 : 0);
      break;
    case 'int':
      w.int64Field(3, v.value);
      break;
    case 'double':
      w.doubleField(4, v.value);
      break;
    case 'array': {
      const a = new ProtoWriter();
      for (const e of v.values) a.bytesField(1, anyValueProto(e));
      w.bytesField(5, a.finish());
      break;
    }
    case 'kvlist': {
      const l = new ProtoWriter();
      putAttributes(l, 1, v.values);
      w.bytesField(6, l.finish());
      break;
    }
    case 'bytes':
      w.bytesField(7, v.value);
      break;
  }
  return w.finish();
}

function putAttributes(w: ProtoWriter, no: number, kvs: readonly KeyValue[]): void {
  for (const kv of kvs) {
    const k = new ProtoWriter();
    putString(k, 1, kv.key);
    k.bytesField(2, anyValueProto(kv.value));
    w.bytesField(no, k.finish());
  }
}

function resourceProto(r: Resource): Uint8Array {
  const w = new ProtoWriter();
  putAttributes(w, 1, r.attributes);
  putCount(w, 2, r.droppedAttributesCount);
  return w.finish();
}

function scopeProto(s: Scope): Uint8Array {
  const w = new ProtoWriter();
  putString(w, 1, s.name);
  putString(w, 2, s.version);
  putAttributes(w, 3, s.attributes);
  putCount(w, 4, s.droppedAttributesCount);
  return w.finish();
}

/** spanProto writes one Span message (without its resource and scope). */
export function spanProto(s: SpanRow): Uint8Array {
  const w = new ProtoWriter();
  w.bytesField(1, s.traceId);
  w.bytesField(2, s.spanId);
  putString(w, 3, s.traceState);
  if (s.parentSpanId.length > 0) w.bytesField(4, s.parentSpanId);
  putString(w, 5, s.name);
  putCount(w, 6, s.kind);
  if (s.startTimeUnixNano !== 0n) w.fixed64Field(7, s.startTimeUnixNano);
  if (s.endTimeUnixNano !== 0n) w.fixed64Field(8, s.endTimeUnixNano);
  putAttributes(w, 9, s.attributes);
  putCount(w, 10, s.droppedAttributesCount);
  for (const e of s.events) {
    const ev = new ProtoWriter();
    if (e.timeUnixNano !== 0n) ev.fixed64Field(1, e.timeUnixNano);
    putString(ev, 2, e.name);
    putAttributes(ev, 3, e.attributes);
    putCount(ev, 4, e.droppedAttributesCount);
    w.bytesField(11, ev.finish());
  }
  putCount(w, 12, s.droppedEventsCount);
  for (const l of s.links) {
    const lk = new ProtoWriter();
    lk.bytesField(1, l.traceId);
    lk.bytesField(2, l.spanId);
    putString(lk, 3, l.traceState);
    putAttributes(lk, 4, l.attributes);
    putCount(lk, 5, l.droppedAttributesCount);
    if (l.flags !== 0) lk.fixed32Field(6, l.flags);
    w.bytesField(13, lk.finish());
  }
  putCount(w, 14, s.droppedLinksCount);
  const st = new ProtoWriter();
  putString(st, 2, s.status.message);
  putCount(st, 3, s.status.code);
  w.bytesField(15, st.finish());
  if (s.flags !== 0) w.fixed32Field(16, s.flags);
  return w.finish();
}

/**
 * traceProto writes tempopb.Trace (= OTLP TracesData): spans grouped into
 * ResourceSpans, field 1. Tempo's v1 trace by id answers these bytes.
 */
export function traceProto(spans: readonly SpanRow[]): Uint8Array {
  const w = new ProtoWriter();
  for (const g of groupSpans(spans)) {
    const rs = new ProtoWriter();
    rs.bytesField(1, resourceProto(g.resource));
    for (const sc of g.scopes) {
      const ss = new ProtoWriter();
      ss.bytesField(1, scopeProto(sc.scope));
      for (const s of sc.spans) ss.bytesField(2, spanProto(s));
      putString(ss, 3, sc.scope.schemaUrl);
      rs.bytesField(2, ss.finish());
    }
    putString(rs, 3, g.resource.schemaUrl);
    w.bytesField(1, rs.finish());
  }
  return w.finish();
}

/**
 * traceByIdResponseProto writes tempopb.TraceByIDResponse, Tempo's v2 trace
 * by id answer: the trace, and status PARTIAL with `partialMessage` when a
 * bound cut it (null: complete).
 */
export function traceByIdResponseProto(spans: readonly SpanRow[], partialMessage: string | null): Uint8Array {
  assert(partialMessage === null || partialMessage !== '', 'a partial answer says why');
  const w = new ProtoWriter();
  w.bytesField(1, traceProto(spans));
  if (partialMessage !== null) {
    w.varintField(3, PARTIAL_STATUS_PARTIAL);
    putString(w, 4, partialMessage);
  }
  return w.finish();
}
