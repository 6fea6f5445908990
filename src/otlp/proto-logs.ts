/**
 * proto-logs.ts — ExportLogsServiceRequest protobuf bytes straight to LogRows
 * (field numbers: src/otlp/proto/.../logs/v1/logs.proto and
 * collector/logs/v1/logs_service.proto).
 */
import type { AnyValue, LogRow, Resource, Scope } from '../storage/rows.js';
import { SEVERITY_NUMBER_MAX, SPAN_ID_BYTES, TRACE_ID_BYTES } from '../storage/rows.js';
import { DecodeContext } from './decode-result.js';
import type { OtlpDecodeOptions, OtlpDecodeResult, OtlpRejection } from './decode-result.js';
import { EMPTY_VALUE, IdSlab, checkEnum, checkLogTime, droppedPlus, optionalId } from './item-values.js';
import { AttrList, readAnyValue, readString } from './proto-common.js';
import { walkRequest } from './proto-envelope.js';
import type { EnvelopeNames, ItemPath, ItemSink } from './proto-envelope.js';
import { ProtoReader, WT_I32, WT_I64, WT_LEN, WT_VARINT, fieldMask } from './proto-reader.js';

const NAMES: EnvelopeNames = {
  request: 'ExportLogsServiceRequest',
  resource: 'ResourceLogs',
  scope: 'ScopeLogs',
  resourceField: 'resourceLogs',
  scopeField: 'scopeLogs',
  itemField: 'logRecords',
};

const LOG_TIME = (1 << 3) | WT_I64;
const LOG_SEVERITY = (2 << 3) | WT_VARINT;
const LOG_SEVERITY_TEXT = (3 << 3) | WT_LEN;
const LOG_BODY = (5 << 3) | WT_LEN;
const LOG_ATTR = (6 << 3) | WT_LEN;
const LOG_DROPPED = (7 << 3) | WT_VARINT;
const LOG_FLAGS = (8 << 3) | WT_I32;
const LOG_TRACE_ID = (9 << 3) | WT_LEN;
const LOG_SPAN_ID = (10 << 3) | WT_LEN;
const LOG_OBSERVED = (11 << 3) | WT_I64;
const LOG_EVENT_NAME = (12 << 3) | WT_LEN;
const LOG_MASK = fieldMask(1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12);

/** decodeLogsProto decodes an ExportLogsServiceRequest into LogRows; see src/otlp/README.md for the rules. */
export function decodeLogsProto(body: Uint8Array, o: OtlpDecodeOptions): OtlpDecodeResult<LogRow> {
  const ctx = new DecodeContext(o);
  const r = new ProtoReader(body);
  const sink = new LogSink(r, ctx);
  walkRequest(r, ctx, NAMES, sink);
  return ctx.result(sink.rows);
}

class LogSink implements ItemSink {
  readonly r: ProtoReader;
  readonly ctx: DecodeContext;
  readonly slab = new IdSlab();
  readonly rows: LogRow[] = [];
  readonly attrs = new AttrList();

  constructor(r: ProtoReader, ctx: DecodeContext) {
    this.r = r;
    this.ctx = ctx;
  }

  item(end: number, resource: Resource, scope: Scope, inherited: OtlpRejection | null, path: ItemPath): void {
    const r = this.r;
    const ctx = this.ctx;
    r.where = 'LogRecord';
    ctx.beginItem(inherited);
    const attrs = this.attrs;
    attrs.reset();
    let time = 0n;
    let observed = 0n;
    let severity = 0;
    let severityText = '';
    let body: AnyValue = EMPTY_VALUE;
    let dropped = 0;
    let flags = 0;
    let traceStart = 0;
    let traceEnd = 0;
    let spanStart = 0;
    let spanEnd = 0;
    let eventName = '';
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case LOG_TIME:
          time = r.fixed64(end);
          break;
        case LOG_OBSERVED:
          observed = r.fixed64(end);
          break;
        case LOG_SEVERITY:
          severity = r.int32(end);
          break;
        case LOG_SEVERITY_TEXT: {
          const e = r.len(end);
          severityText = readString(r, ctx, r.pos, e, 'severity text');
          r.pos = e;
          break;
        }
        case LOG_BODY: {
          const e = r.len(end);
          body = readAnyValue(r, ctx, e, 1, false);
          r.pos = e;
          break;
        }
        case LOG_ATTR: {
          const e = r.len(end);
          attrs.add(r, ctx, e);
          r.pos = e;
          break;
        }
        case LOG_DROPPED:
          dropped = r.uint32(end);
          break;
        case LOG_FLAGS:
          flags = r.fixed32(end);
          break;
        case LOG_TRACE_ID:
          traceEnd = r.len(end);
          traceStart = r.pos;
          r.pos = traceEnd;
          break;
        case LOG_SPAN_ID:
          spanEnd = r.len(end);
          spanStart = r.pos;
          r.pos = spanEnd;
          break;
        case LOG_EVENT_NAME: {
          const e = r.len(end);
          eventName = readString(r, ctx, r.pos, e, 'event name');
          r.pos = e;
          break;
        }
        default:
          r.skip(tag, end, LOG_MASK);
      }
    }
    const buf = r.buf;
    const traceId = optionalId(ctx, this.slab, buf, traceStart, traceEnd, TRACE_ID_BYTES, 'OTLP_BAD_TRACE_ID', 'trace id');
    const spanId = optionalId(ctx, this.slab, buf, spanStart, spanEnd, SPAN_ID_BYTES, 'OTLP_BAD_SPAN_ID', 'span id');
    checkEnum(ctx, severity, SEVERITY_NUMBER_MAX, 'severity number');
    checkLogTime(ctx, time, observed);
    const row: LogRow = {
      tenant: ctx.tenant,
      // A record without a time (0: unknown) takes its observed time, as Loki's OTLP ingest does: the logs store
      // buckets and expires by timeUnixNano, and a 0 there put an acknowledged record in the 1970 bucket, which the
      // next retention pass deleted.
      timeUnixNano: time === 0n ? observed : time,
      observedTimeUnixNano: observed,
      severityNumber: severity,
      severityText,
      body,
      attributes: attrs.finish(ctx, 'log attributes'),
      droppedAttributesCount: droppedPlus(dropped, attrs.cut),
      traceId,
      spanId,
      flags,
      eventName,
      resource,
      scope,
    };
    if (ctx.endItem()) this.rows.push(row);
    else ctx.refuse(path.format());
  }
}
