/**
 * proto-traces.ts — ExportTraceServiceRequest protobuf bytes straight to
 * SpanRows (field numbers: src/otlp/proto/.../trace/v1/trace.proto and
 * collector/trace/v1/trace_service.proto).
 *
 * One TracesDecoder per call owns its reader, context and id slab. Every span
 * is decoded whole (so framing is checked everywhere but inside values refused
 * for depth, or attributes, events and links past their limits, which are
 * skipped unread); a span with a problem is counted and not returned.
 */
import { StorageLimits } from '../limits.js';
import type { Resource, Scope, SpanEvent, SpanKind, SpanLink, SpanRow, StatusCode } from '../storage/rows.js';
import { SPAN_ID_BYTES, SPAN_KIND_MAX, STATUS_CODE_MAX, TRACE_ID_BYTES } from '../storage/rows.js';
import { DecodeContext } from './decode-result.js';
import type { OtlpDecodeOptions, OtlpDecodeResult, OtlpRejection } from './decode-result.js';
import { IdSlab, NONE, STATUSES_NO_MESSAGE, checkEnum, droppedPlus, optionalId, requiredId } from './item-values.js';
import { AttrList, readString } from './proto-common.js';
import { walkRequest } from './proto-envelope.js';
import type { EnvelopeNames, ItemPath, ItemSink } from './proto-envelope.js';
import { ProtoReader, WT_I32, WT_I64, WT_LEN, WT_VARINT, fieldMask } from './proto-reader.js';

const SPAN_TRACE_ID = (1 << 3) | WT_LEN;
const SPAN_SPAN_ID = (2 << 3) | WT_LEN;
const SPAN_TRACE_STATE = (3 << 3) | WT_LEN;
const SPAN_PARENT = (4 << 3) | WT_LEN;
const SPAN_NAME = (5 << 3) | WT_LEN;
const SPAN_KIND = (6 << 3) | WT_VARINT;
const SPAN_START = (7 << 3) | WT_I64;
const SPAN_END = (8 << 3) | WT_I64;
const SPAN_ATTR = (9 << 3) | WT_LEN;
const SPAN_DROPPED_ATTR = (10 << 3) | WT_VARINT;
const SPAN_EVENT = (11 << 3) | WT_LEN;
const SPAN_DROPPED_EVENTS = (12 << 3) | WT_VARINT;
const SPAN_LINK = (13 << 3) | WT_LEN;
const SPAN_DROPPED_LINKS = (14 << 3) | WT_VARINT;
const SPAN_STATUS = (15 << 3) | WT_LEN;
const SPAN_FLAGS = (16 << 3) | WT_I32;
const SPAN_MASK = fieldMask(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);

const EVENT_TIME = (1 << 3) | WT_I64;
const EVENT_NAME = (2 << 3) | WT_LEN;
const EVENT_ATTR = (3 << 3) | WT_LEN;
const EVENT_DROPPED = (4 << 3) | WT_VARINT;
const EVENT_MASK = fieldMask(1, 2, 3, 4);

const LINK_TRACE_ID = (1 << 3) | WT_LEN;
const LINK_SPAN_ID = (2 << 3) | WT_LEN;
const LINK_TRACE_STATE = (3 << 3) | WT_LEN;
const LINK_ATTR = (4 << 3) | WT_LEN;
const LINK_DROPPED = (5 << 3) | WT_VARINT;
const LINK_FLAGS = (6 << 3) | WT_I32;
const LINK_MASK = fieldMask(1, 2, 3, 4, 5, 6);

const STATUS_MESSAGE = (2 << 3) | WT_LEN;
const STATUS_CODE = (3 << 3) | WT_VARINT;
const STATUS_MASK = fieldMask(1, 2, 3);

const NAMES: EnvelopeNames = {
  request: 'ExportTraceServiceRequest',
  resource: 'ResourceSpans',
  scope: 'ScopeSpans',
  resourceField: 'resourceSpans',
  scopeField: 'scopeSpans',
  itemField: 'spans',
};

/** decodeTracesProto decodes an ExportTraceServiceRequest into SpanRows; see src/otlp/README.md for the rules. */
export function decodeTracesProto(body: Uint8Array, o: OtlpDecodeOptions): OtlpDecodeResult<SpanRow> {
  const ctx = new DecodeContext(o);
  const r = new ProtoReader(body);
  const sink = new SpanSink(r, ctx);
  walkRequest(r, ctx, NAMES, sink);
  return ctx.result(sink.rows);
}

class SpanSink implements ItemSink {
  readonly r: ProtoReader;
  readonly ctx: DecodeContext;
  readonly slab = new IdSlab();
  readonly rows: SpanRow[] = [];
  readonly attrs = new AttrList();
  readonly innerAttrs = new AttrList();

  constructor(r: ProtoReader, ctx: DecodeContext) {
    this.r = r;
    this.ctx = ctx;
  }

  item(end: number, resource: Resource, scope: Scope, inherited: OtlpRejection | null, path: ItemPath): void {
    const r = this.r;
    const ctx = this.ctx;
    r.where = 'Span';
    ctx.beginItem(inherited);
    const attrs = this.attrs;
    attrs.reset();
    let traceStart = 0;
    let traceEnd = 0;
    let spanStart = 0;
    let spanEnd = 0;
    let parentStart = 0;
    let parentEnd = 0;
    let traceState = '';
    let flags = 0;
    let name = '';
    let kind = 0;
    let startTime = 0n;
    let endTime = 0n;
    let droppedAttrs = 0;
    let events: SpanEvent[] | null = null;
    let eventsCut = 0;
    let droppedEvents = 0;
    let links: SpanLink[] | null = null;
    let linksCut = 0;
    let droppedLinks = 0;
    let status = STATUSES_NO_MESSAGE[0] as SpanRow['status'];
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case SPAN_TRACE_ID:
          traceEnd = r.len(end);
          traceStart = r.pos;
          r.pos = traceEnd;
          break;
        case SPAN_SPAN_ID:
          spanEnd = r.len(end);
          spanStart = r.pos;
          r.pos = spanEnd;
          break;
        case SPAN_PARENT:
          parentEnd = r.len(end);
          parentStart = r.pos;
          r.pos = parentEnd;
          break;
        case SPAN_TRACE_STATE: {
          const e = r.len(end);
          traceState = readString(r, ctx, r.pos, e, 'trace state');
          r.pos = e;
          break;
        }
        case SPAN_NAME: {
          const e = r.len(end);
          name = readString(r, ctx, r.pos, e, 'span name');
          r.pos = e;
          break;
        }
        case SPAN_KIND:
          kind = r.int32(end);
          break;
        case SPAN_START:
          startTime = r.fixed64(end);
          break;
        case SPAN_END:
          endTime = r.fixed64(end);
          break;
        case SPAN_ATTR: {
          const e = r.len(end);
          attrs.add(r, ctx, e);
          r.pos = e;
          break;
        }
        case SPAN_DROPPED_ATTR:
          droppedAttrs = r.uint32(end);
          break;
        case SPAN_EVENT: {
          const e = r.len(end);
          if (events === null) events = [];
          if (events.length < StorageLimits.eventsPerSpanMax) events.push(this.event(e));
          else eventsCut++;
          r.pos = e;
          r.where = 'Span';
          break;
        }
        case SPAN_DROPPED_EVENTS:
          droppedEvents = r.uint32(end);
          break;
        case SPAN_LINK: {
          const e = r.len(end);
          if (links === null) links = [];
          if (links.length < StorageLimits.linksPerSpanMax) links.push(this.link(e));
          else linksCut++;
          r.pos = e;
          r.where = 'Span';
          break;
        }
        case SPAN_DROPPED_LINKS:
          droppedLinks = r.uint32(end);
          break;
        case SPAN_STATUS: {
          const e = r.len(end);
          status = this.status(e);
          r.pos = e;
          r.where = 'Span';
          break;
        }
        case SPAN_FLAGS:
          flags = r.fixed32(end);
          break;
        default:
          r.skip(tag, end, SPAN_MASK);
      }
    }
    const buf = r.buf;
    const traceId = requiredId(ctx, this.slab, buf, traceStart, traceEnd, TRACE_ID_BYTES, 'OTLP_BAD_TRACE_ID', 'trace id');
    const spanId = requiredId(ctx, this.slab, buf, spanStart, spanEnd, SPAN_ID_BYTES, 'OTLP_BAD_SPAN_ID', 'span id');
    const parentSpanId = optionalId(ctx, this.slab, buf, parentStart, parentEnd, SPAN_ID_BYTES, 'OTLP_BAD_PARENT_SPAN_ID', 'parent span id');
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
      flags,
      name,
      kind: kind as SpanKind,
      startTimeUnixNano: startTime,
      endTimeUnixNano: endTime,
      status,
      attributes: attrs.finish(ctx, 'span attributes'),
      droppedAttributesCount: droppedPlus(droppedAttrs, attrs.cut),
      events: events ?? NONE,
      droppedEventsCount: droppedPlus(droppedEvents, eventsCut),
      links: links ?? NONE,
      droppedLinksCount: droppedPlus(droppedLinks, linksCut),
      resource,
      scope,
    };
    if (ctx.endItem()) this.rows.push(row);
    else ctx.refuse(path.format());
  }

  event(end: number): SpanEvent {
    const r = this.r;
    const ctx = this.ctx;
    r.where = 'Span.Event';
    const attrs = this.innerAttrs;
    attrs.reset();
    let time = 0n;
    let name = '';
    let dropped = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case EVENT_TIME:
          time = r.fixed64(end);
          break;
        case EVENT_NAME: {
          const e = r.len(end);
          name = readString(r, ctx, r.pos, e, 'event name');
          r.pos = e;
          break;
        }
        case EVENT_ATTR: {
          const e = r.len(end);
          attrs.add(r, ctx, e);
          r.pos = e;
          break;
        }
        case EVENT_DROPPED:
          dropped = r.uint32(end);
          break;
        default:
          r.skip(tag, end, EVENT_MASK);
      }
    }
    return { timeUnixNano: time, name, attributes: attrs.finish(ctx, 'event attributes'), droppedAttributesCount: droppedPlus(dropped, attrs.cut) };
  }

  link(end: number): SpanLink {
    const r = this.r;
    const ctx = this.ctx;
    r.where = 'Span.Link';
    const attrs = this.innerAttrs;
    attrs.reset();
    let traceStart = 0;
    let traceEnd = 0;
    let spanStart = 0;
    let spanEnd = 0;
    let traceState = '';
    let dropped = 0;
    let flags = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case LINK_TRACE_ID:
          traceEnd = r.len(end);
          traceStart = r.pos;
          r.pos = traceEnd;
          break;
        case LINK_SPAN_ID:
          spanEnd = r.len(end);
          spanStart = r.pos;
          r.pos = spanEnd;
          break;
        case LINK_TRACE_STATE: {
          const e = r.len(end);
          traceState = readString(r, ctx, r.pos, e, 'link trace state');
          r.pos = e;
          break;
        }
        case LINK_ATTR: {
          const e = r.len(end);
          attrs.add(r, ctx, e);
          r.pos = e;
          break;
        }
        case LINK_DROPPED:
          dropped = r.uint32(end);
          break;
        case LINK_FLAGS:
          flags = r.fixed32(end);
          break;
        default:
          r.skip(tag, end, LINK_MASK);
      }
    }
    const buf = r.buf;
    return {
      traceId: requiredId(ctx, this.slab, buf, traceStart, traceEnd, TRACE_ID_BYTES, 'OTLP_BAD_TRACE_ID', 'link trace id'),
      spanId: requiredId(ctx, this.slab, buf, spanStart, spanEnd, SPAN_ID_BYTES, 'OTLP_BAD_SPAN_ID', 'link span id'),
      traceState,
      attributes: attrs.finish(ctx, 'link attributes'),
      droppedAttributesCount: droppedPlus(dropped, attrs.cut),
      flags,
    };
  }

  status(end: number): SpanRow['status'] {
    const r = this.r;
    const ctx = this.ctx;
    r.where = 'Status';
    let code = 0;
    let message = '';
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === STATUS_MESSAGE) {
        const e = r.len(end);
        message = readString(r, ctx, r.pos, e, 'status message');
        r.pos = e;
      } else if (tag === STATUS_CODE) {
        code = r.int32(end);
      } else {
        r.skip(tag, end, STATUS_MASK);
      }
    }
    checkEnum(ctx, code, STATUS_CODE_MAX, 'status code');
    if (message === '' && code >= 0 && code <= STATUS_CODE_MAX) return STATUSES_NO_MESSAGE[code] as SpanRow['status'];
    return { code: code as StatusCode, message };
  }
}
