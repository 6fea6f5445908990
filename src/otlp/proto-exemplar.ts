/**
 * proto-exemplar.ts — protobuf decoding of one metrics Exemplar (field
 * numbers: src/otlp/proto/.../metrics/v1/metrics.proto), shared by the
 * number, histogram and exponential histogram points of proto-metrics.ts.
 */
import type { Exemplar, NumberValue } from '../storage/rows.js';
import { SPAN_ID_BYTES, TRACE_ID_BYTES } from '../storage/rows.js';
import type { DecodeContext } from './decode-result.js';
import { optionalId } from './item-values.js';
import type { IdSlab } from './item-values.js';
import type { AttrList } from './proto-common.js';
import { WT_I64, WT_LEN, fieldMask } from './proto-reader.js';
import type { ProtoReader } from './proto-reader.js';

const X_ATTR = (7 << 3) | WT_LEN;
const X_TIME = (2 << 3) | WT_I64;
const X_DOUBLE = (3 << 3) | WT_I64;
const X_INT = (6 << 3) | WT_I64;
const X_SPAN_ID = (4 << 3) | WT_LEN;
const X_TRACE_ID = (5 << 3) | WT_LEN;
const X_MASK = fieldMask(2, 3, 4, 5, 6, 7);

/**
 * readExemplar decodes the Exemplar message in [r.pos, end): its ids are
 * optional, a missing value or more than OtlpLimits.attributesPerItemMax
 * filtered attributes refuse the point. `attrs` is a reusable list.
 */
export function readExemplar(r: ProtoReader, ctx: DecodeContext, slab: IdSlab, attrs: AttrList, end: number): Exemplar {
  const where = r.where;
  r.where = 'Exemplar';
  attrs.reset();
  let time = 0n;
  let value: NumberValue | null = null;
  let traceStart = 0;
  let traceEnd = 0;
  let spanStart = 0;
  let spanEnd = 0;
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case X_TIME:
        time = r.fixed64(end);
        break;
      case X_DOUBLE:
        value = { type: 'double', value: r.double(end) };
        break;
      case X_INT:
        value = { type: 'int', value: r.sfixed64(end) };
        break;
      case X_TRACE_ID:
        traceEnd = r.len(end);
        traceStart = r.pos;
        r.pos = traceEnd;
        break;
      case X_SPAN_ID:
        spanEnd = r.len(end);
        spanStart = r.pos;
        r.pos = spanEnd;
        break;
      case X_ATTR: {
        const e = r.len(end);
        attrs.add(r, ctx, e);
        r.pos = e;
        break;
      }
      default:
        r.skip(tag, end, X_MASK);
    }
  }
  r.where = where;
  if (value === null) {
    ctx.reject('OTLP_POINT_NO_VALUE', 'an exemplar has neither as_double nor as_int');
    value = { type: 'double', value: 0 };
  }
  attrs.refuseCut(ctx, 'an exemplar');
  const buf = r.buf;
  return {
    timeUnixNano: time,
    value,
    traceId: optionalId(ctx, slab, buf, traceStart, traceEnd, TRACE_ID_BYTES, 'OTLP_BAD_TRACE_ID', 'exemplar trace id'),
    spanId: optionalId(ctx, slab, buf, spanStart, spanEnd, SPAN_ID_BYTES, 'OTLP_BAD_SPAN_ID', 'exemplar span id'),
    filteredAttributes: attrs.finish(ctx, 'exemplar filtered attributes'),
  };
}
