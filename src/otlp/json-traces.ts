/**
 * json-traces.ts — an OTLP/JSON ExportTraceServiceRequest straight to
 * SpanRows, identical to what decodeTracesProto gives for the same request.
 */
import { StorageLimits } from '../limits.js';
import type { Resource, Scope, SpanEvent, SpanKind, SpanLink, SpanRow, StatusCode } from '../storage/rows.js';
import { SPAN_ID_BYTES, SPAN_KIND_MAX, STATUS_CODE_MAX, TRACE_ID_BYTES } from '../storage/rows.js';
import { DecodeContext } from './decode-result.js';
import type { OtlpDecodeOptions, OtlpDecodeResult, OtlpRejection } from './decode-result.js';
import { IdSlab, NONE, STATUSES_NO_MESSAGE, checkEnum, droppedPlus } from './item-values.js';
import { attributes, checkedString, hexId, walkJson } from './json-common.js';
import type { JsonItemSink } from './json-common.js';
import { HexIds, arr, asObj, enumField, obj, parseJsonBody, rethrowWithin, toInvalidArgument, u32, u64 } from './json-fields.js';
import type { JObj } from './json-fields.js';
import type { EnvelopeNames, ItemPath } from './proto-envelope.js';

const NAMES: EnvelopeNames = {
  request: 'ExportTraceServiceRequest',
  resource: 'ResourceSpans',
  scope: 'ScopeSpans',
  resourceField: 'resourceSpans',
  scopeField: 'scopeSpans',
  itemField: 'spans',
};
const SNAKE = ['resource_spans', 'scope_spans', 'spans'] as const;
const KIND_NAMES = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

/** decodeTracesJson decodes an OTLP/JSON ExportTraceServiceRequest into SpanRows; see src/otlp/README.md for the rules. */
export function decodeTracesJson(body: Uint8Array, o: OtlpDecodeOptions): OtlpDecodeResult<SpanRow> {
  const ctx = new DecodeContext(o);
  const sink = new JsonSpanSink(ctx);
  try {
    walkJson(ctx, parseJsonBody(body), NAMES, SNAKE, sink);
  } catch (err) {
    throw toInvalidArgument(err);
  }
  return ctx.result(sink.rows);
}

class JsonSpanSink implements JsonItemSink {
  readonly ctx: DecodeContext;
  readonly slab = new IdSlab();
  readonly hex = new HexIds();
  readonly rows: SpanRow[] = [];

  constructor(ctx: DecodeContext) {
    this.ctx = ctx;
  }

  item(o: JObj, resource: Resource, scope: Scope, inherited: OtlpRejection | null, path: ItemPath): void {
    const ctx = this.ctx;
    ctx.beginItem(inherited);
    const traceState = checkedString(ctx, o, 'traceState', 'trace_state', 'trace state');
    const name = checkedString(ctx, o, 'name', 'name', 'span name');
    const kind = enumField(o, 'kind', 'kind', KIND_NAMES);
    const startTime = u64(o, 'startTimeUnixNano', 'start_time_unix_nano');
    const endTime = u64(o, 'endTimeUnixNano', 'end_time_unix_nano');
    const a = attributes(ctx, o, 'attributes', 'attributes', 'span attributes');
    const eventsRaw = arr(o, 'events', 'events');
    let events: SpanEvent[] | null = null;
    const ne = Math.min(eventsRaw.length, StorageLimits.eventsPerSpanMax);
    for (let i = 0; i < ne; i++) {
      if (events === null) events = [];
      try {
        events.push(this.event(asObj(eventsRaw[i], '')));
      } catch (err) {
        rethrowWithin(err, `events[${i}]`);
      }
    }
    const linksRaw = arr(o, 'links', 'links');
    let links: SpanLink[] | null = null;
    const nl = Math.min(linksRaw.length, StorageLimits.linksPerSpanMax);
    for (let i = 0; i < nl; i++) {
      if (links === null) links = [];
      try {
        links.push(this.link(asObj(linksRaw[i], '')));
      } catch (err) {
        rethrowWithin(err, `links[${i}]`);
      }
    }
    const status = this.status(obj(o, 'status', 'status'));
    const traceId = hexId(ctx, this.hex, this.slab, o, 'traceId', 'trace_id', TRACE_ID_BYTES, true, 'OTLP_BAD_TRACE_ID', 'trace id');
    const spanId = hexId(ctx, this.hex, this.slab, o, 'spanId', 'span_id', SPAN_ID_BYTES, true, 'OTLP_BAD_SPAN_ID', 'span id');
    const parentSpanId = hexId(ctx, this.hex, this.slab, o, 'parentSpanId', 'parent_span_id', SPAN_ID_BYTES, false, 'OTLP_BAD_PARENT_SPAN_ID', 'parent span id');
    checkEnum(ctx, kind, SPAN_KIND_MAX, 'span kind');
    ctx.checkTime(startTime, 'start time');
    if (endTime < startTime) ctx.reject('OTLP_BAD_TIMESTAMP', `end time ${endTime} is before start time ${startTime}`);
    else ctx.checkTime(endTime, 'end time');
    const row: SpanRow = {
      tenant: ctx.tenant,
      traceId,
      spanId,
      parentSpanId,
      traceState,
      flags: u32(o, 'flags', 'flags'),
      name,
      kind: kind as SpanKind,
      startTimeUnixNano: startTime,
      endTimeUnixNano: endTime,
      status,
      attributes: a.attributes,
      droppedAttributesCount: droppedPlus(u32(o, 'droppedAttributesCount', 'dropped_attributes_count'), a.cut),
      events: events ?? NONE,
      droppedEventsCount: droppedPlus(u32(o, 'droppedEventsCount', 'dropped_events_count'), eventsRaw.length - ne),
      links: links ?? NONE,
      droppedLinksCount: droppedPlus(u32(o, 'droppedLinksCount', 'dropped_links_count'), linksRaw.length - nl),
      resource,
      scope,
    };
    if (ctx.endItem()) this.rows.push(row);
    else ctx.refuse(path.format());
  }

  event(e: JObj): SpanEvent {
    const ctx = this.ctx;
    const name = checkedString(ctx, e, 'name', 'name', 'event name');
    const a = attributes(ctx, e, 'attributes', 'attributes', 'event attributes');
    return {
      timeUnixNano: u64(e, 'timeUnixNano', 'time_unix_nano'),
      name,
      attributes: a.attributes,
      droppedAttributesCount: droppedPlus(u32(e, 'droppedAttributesCount', 'dropped_attributes_count'), a.cut),
    };
  }

  link(l: JObj): SpanLink {
    const ctx = this.ctx;
    const traceState = checkedString(ctx, l, 'traceState', 'trace_state', 'link trace state');
    const a = attributes(ctx, l, 'attributes', 'attributes', 'link attributes');
    return {
      traceId: hexId(ctx, this.hex, this.slab, l, 'traceId', 'trace_id', TRACE_ID_BYTES, true, 'OTLP_BAD_TRACE_ID', 'link trace id'),
      spanId: hexId(ctx, this.hex, this.slab, l, 'spanId', 'span_id', SPAN_ID_BYTES, true, 'OTLP_BAD_SPAN_ID', 'link span id'),
      traceState,
      attributes: a.attributes,
      droppedAttributesCount: droppedPlus(u32(l, 'droppedAttributesCount', 'dropped_attributes_count'), a.cut),
      flags: u32(l, 'flags', 'flags'),
    };
  }

  status(s: JObj | undefined): SpanRow['status'] {
    if (s === undefined) return STATUSES_NO_MESSAGE[0] as SpanRow['status'];
    const ctx = this.ctx;
    let message: string;
    let code: number;
    try {
      message = checkedString(ctx, s, 'message', 'message', 'status message');
      code = enumField(s, 'code', 'code', STATUS_NAMES);
    } catch (err) {
      return rethrowWithin(err, 'status');
    }
    checkEnum(ctx, code, STATUS_CODE_MAX, 'status code');
    if (message === '' && code >= 0 && code <= STATUS_CODE_MAX) return STATUSES_NO_MESSAGE[code] as SpanRow['status'];
    return { code: code as StatusCode, message };
  }
}
