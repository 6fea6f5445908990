/**
 * json-logs.ts — an OTLP/JSON ExportLogsServiceRequest straight to LogRows,
 * identical to what decodeLogsProto gives for the same request.
 */
import type { AnyValue, LogRow, Resource, Scope } from '../storage/rows.js';
import { SEVERITY_NUMBER_MAX, SPAN_ID_BYTES, TRACE_ID_BYTES } from '../storage/rows.js';
import { DecodeContext } from './decode-result.js';
import type { OtlpDecodeOptions, OtlpDecodeResult, OtlpRejection } from './decode-result.js';
import { IdSlab, checkEnum, checkLogTime, droppedPlus } from './item-values.js';
import { anyValue, attributes, checkedString, hexId, walkJson } from './json-common.js';
import type { JsonItemSink } from './json-common.js';
import { HexIds, enumField, obj, parseJsonBody, rethrowWithin, toInvalidArgument, u32, u64 } from './json-fields.js';
import type { JObj } from './json-fields.js';
import type { EnvelopeNames, ItemPath } from './proto-envelope.js';

const NAMES: EnvelopeNames = {
  request: 'ExportLogsServiceRequest',
  resource: 'ResourceLogs',
  scope: 'ScopeLogs',
  resourceField: 'resourceLogs',
  scopeField: 'scopeLogs',
  itemField: 'logRecords',
};
const SNAKE = ['resource_logs', 'scope_logs', 'log_records'] as const;
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
/** SEVERITY_NAMES are the SeverityNumber enum names by value (SEVERITY_NUMBER_INFO2 is 10). */
const SEVERITY_NAMES = ['SEVERITY_NUMBER_UNSPECIFIED', ...LEVELS.flatMap((l) => ['', '2', '3', '4'].map((n) => `SEVERITY_NUMBER_${l}${n}`))];

/** decodeLogsJson decodes an OTLP/JSON ExportLogsServiceRequest into LogRows; see src/otlp/README.md for the rules. */
export function decodeLogsJson(body: Uint8Array, o: OtlpDecodeOptions): OtlpDecodeResult<LogRow> {
  const ctx = new DecodeContext(o);
  const sink = new JsonLogSink(ctx);
  try {
    walkJson(ctx, parseJsonBody(body), NAMES, SNAKE, sink);
  } catch (err) {
    throw toInvalidArgument(err);
  }
  return ctx.result(sink.rows);
}

class JsonLogSink implements JsonItemSink {
  readonly ctx: DecodeContext;
  readonly slab = new IdSlab();
  readonly hex = new HexIds();
  readonly rows: LogRow[] = [];

  constructor(ctx: DecodeContext) {
    this.ctx = ctx;
  }

  item(o: JObj, resource: Resource, scope: Scope, inherited: OtlpRejection | null, path: ItemPath): void {
    const ctx = this.ctx;
    ctx.beginItem(inherited);
    const time = u64(o, 'timeUnixNano', 'time_unix_nano');
    const observed = u64(o, 'observedTimeUnixNano', 'observed_time_unix_nano');
    const severity = enumField(o, 'severityNumber', 'severity_number', SEVERITY_NAMES);
    const severityText = checkedString(ctx, o, 'severityText', 'severity_text', 'severity text');
    let body: AnyValue;
    try {
      body = anyValue(ctx, obj(o, 'body', 'body'), 1, false);
    } catch (err) {
      return rethrowWithin(err, 'body');
    }
    const a = attributes(ctx, o, 'attributes', 'attributes', 'log attributes');
    const eventName = checkedString(ctx, o, 'eventName', 'event_name', 'event name');
    const traceId = hexId(ctx, this.hex, this.slab, o, 'traceId', 'trace_id', TRACE_ID_BYTES, false, 'OTLP_BAD_TRACE_ID', 'trace id');
    const spanId = hexId(ctx, this.hex, this.slab, o, 'spanId', 'span_id', SPAN_ID_BYTES, false, 'OTLP_BAD_SPAN_ID', 'span id');
    checkEnum(ctx, severity, SEVERITY_NUMBER_MAX, 'severity number');
    checkLogTime(ctx, time, observed);
    const row: LogRow = {
      tenant: ctx.tenant,
      // A record without a time takes its observed time, as in proto-logs.ts (the logs store buckets and expires by time).
      timeUnixNano: time === 0n ? observed : time,
      observedTimeUnixNano: observed,
      severityNumber: severity,
      severityText,
      body,
      attributes: a.attributes,
      droppedAttributesCount: droppedPlus(u32(o, 'droppedAttributesCount', 'dropped_attributes_count'), a.cut),
      traceId,
      spanId,
      flags: u32(o, 'flags', 'flags'),
      eventName,
      resource,
      scope,
    };
    if (ctx.endItem()) this.rows.push(row);
    else ctx.refuse(path.format());
  }
}
