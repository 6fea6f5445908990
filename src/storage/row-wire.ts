/**
 * row-wire.ts — rows to and from their msgpack wire tuples (the inside of a
 * shard entry, see shard-entry.ts for the entry layout). Tuples instead of
 * maps: no key names repeated per row, and a fixed arity to check.
 *
 * Wire shapes (msgpack arrays; `bin` is a msgpack byte string; u64/i64 are
 * msgpack 64-bit integers, always written as such because they are bigints):
 *
 *   AnyValue   nil = empty | str | bool | i64 = int | float64 = double | bin
 *              | [0, AnyValue...] = array | [1, key, AnyValue, key, AnyValue...] = kvlist
 *   Attributes [key, AnyValue, key, AnyValue, ...]
 *   Resource   [Attributes, droppedAttributesCount, schemaUrl]
 *   Scope      [name, version, Attributes, droppedAttributesCount, schemaUrl]
 *   Span       [resourceIndex, scopeIndex, traceId bin16, spanId bin8, parentSpanId bin0|8,
 *               traceState, flags, name, kind, startTimeUnixNano u64, endTimeUnixNano u64,
 *               statusCode, statusMessage, Attributes, droppedAttributesCount,
 *               [Event...], droppedEventsCount, [Link...], droppedLinksCount]
 *   Event      [timeUnixNano u64, name, Attributes, droppedAttributesCount]
 *   Link       [traceId bin16, spanId bin8, traceState, Attributes, droppedAttributesCount, flags]
 *   Point      [resourceIndex, scopeIndex, name, description, unit, Data, Attributes,
 *               startTimeUnixNano u64, timeUnixNano u64, flags, [Exemplar...]]
 *   Number     float64 = double | i64 = int
 *   Data       [0, Number] gauge | [1, temporality, monotonic, Number] sum
 *              | [2, temporality, count, sum|nil, min|nil, max|nil, [bound...], [bucketCount...]] histogram
 *              | [3, temporality, count, sum|nil, min|nil, max|nil, scale, zeroCount, zeroThreshold,
 *                 positiveOffset, [count...], negativeOffset, [count...]] exponential histogram
 *              | [4, count, sum, [quantile, value, quantile, value...]] summary
 *   Exemplar   [timeUnixNano u64, Number, traceId bin0|16, spanId bin0|8, Attributes]
 *   Log        [resourceIndex, scopeIndex, timeUnixNano u64, observedTimeUnixNano u64,
 *               severityNumber, severityText, body AnyValue, Attributes, droppedAttributesCount,
 *               traceId bin0|16, spanId bin0|8, flags, eventName]
 *
 * The readers check every field (types, id lengths, enum ranges, counts and
 * lengths against StorageLimits, AnyValue depth) through a WireReader.
 */
import { StorageLimits as L } from '../limits.js';
import type {
  AnyValue,
  Exemplar,
  ExponentialBuckets,
  KeyValue,
  LogRow,
  MetricData,
  MetricPointRow,
  NumberValue,
  Resource,
  Scope,
  SpanEvent,
  SpanKind,
  SpanLink,
  SpanRow,
  StatusCode,
  Temporality,
} from './rows.js';
import { EXP_SCALE_MAX, EXP_SCALE_MIN, SEVERITY_NUMBER_MAX, SPAN_ID_BYTES, SPAN_KIND_MAX, STATUS_CODE_MAX, TRACE_ID_BYTES } from './rows.js';
import type { WireReader } from './wire-reader.js';

const ANY_ARRAY = 0;
const ANY_KVLIST = 1;
const DATA_GAUGE = 0;
const DATA_SUM = 1;
const DATA_HISTOGRAM = 2;
const DATA_EXP_HISTOGRAM = 3;
const DATA_SUMMARY = 4;

// ---------------------------------------------------------------- writing

/** anyValueToWire turns an AnyValue into its wire form. */
export function anyValueToWire(v: AnyValue): unknown {
  switch (v.type) {
    case 'empty':
      return null;
    case 'string':
    case 'bool':
    case 'int':
    case 'double':
    case 'bytes':
      return v.value;
    case 'array':
      return [ANY_ARRAY, ...v.values.map(anyValueToWire)];
    case 'kvlist':
      return [ANY_KVLIST, ...attributesToWire(v.values)];
  }
}

/** attributesToWire flattens a key/value list into [key, value, key, value...]. */
export function attributesToWire(attrs: readonly KeyValue[]): unknown[] {
  const out: unknown[] = new Array(attrs.length * 2);
  for (let i = 0; i < attrs.length; i++) {
    const kv = attrs[i] as KeyValue;
    out[2 * i] = kv.key;
    out[2 * i + 1] = anyValueToWire(kv.value);
  }
  return out;
}

/** resourceToWire is the wire tuple of a Resource. */
export function resourceToWire(r: Resource): unknown[] {
  return [attributesToWire(r.attributes), r.droppedAttributesCount, r.schemaUrl];
}

/** scopeToWire is the wire tuple of a Scope. */
export function scopeToWire(s: Scope): unknown[] {
  return [s.name, s.version, attributesToWire(s.attributes), s.droppedAttributesCount, s.schemaUrl];
}

function numberToWire(v: NumberValue): unknown {
  return v.value;
}

/** spanToWire is the wire tuple of a span, given its resource and scope table indexes. */
export function spanToWire(s: SpanRow, resourceIndex: number, scopeIndex: number): unknown[] {
  return [
    resourceIndex,
    scopeIndex,
    s.traceId,
    s.spanId,
    s.parentSpanId,
    s.traceState,
    s.flags,
    s.name,
    s.kind,
    s.startTimeUnixNano,
    s.endTimeUnixNano,
    s.status.code,
    s.status.message,
    attributesToWire(s.attributes),
    s.droppedAttributesCount,
    s.events.map((e) => [e.timeUnixNano, e.name, attributesToWire(e.attributes), e.droppedAttributesCount]),
    s.droppedEventsCount,
    s.links.map((l) => [l.traceId, l.spanId, l.traceState, attributesToWire(l.attributes), l.droppedAttributesCount, l.flags]),
    s.droppedLinksCount,
  ];
}

function dataToWire(d: MetricData): unknown[] {
  switch (d.type) {
    case 'gauge':
      return [DATA_GAUGE, numberToWire(d.value)];
    case 'sum':
      return [DATA_SUM, d.temporality, d.monotonic, numberToWire(d.value)];
    case 'histogram':
      return [DATA_HISTOGRAM, d.temporality, d.count, d.sum, d.min, d.max, d.bounds, d.bucketCounts];
    case 'exponentialHistogram':
      return [
        DATA_EXP_HISTOGRAM,
        d.temporality,
        d.count,
        d.sum,
        d.min,
        d.max,
        d.scale,
        d.zeroCount,
        d.zeroThreshold,
        d.positive.offset,
        d.positive.bucketCounts,
        d.negative.offset,
        d.negative.bucketCounts,
      ];
    case 'summary':
      return [DATA_SUMMARY, d.count, d.sum, d.quantiles.flatMap((q) => [q.quantile, q.value])];
  }
}

/** pointToWire is the wire tuple of a metric point, given its resource and scope table indexes. */
export function pointToWire(p: MetricPointRow, resourceIndex: number, scopeIndex: number): unknown[] {
  return [
    resourceIndex,
    scopeIndex,
    p.name,
    p.description,
    p.unit,
    dataToWire(p.data),
    attributesToWire(p.attributes),
    p.startTimeUnixNano,
    p.timeUnixNano,
    p.flags,
    p.exemplars.map((e) => [e.timeUnixNano, numberToWire(e.value), e.traceId, e.spanId, attributesToWire(e.filteredAttributes)]),
  ];
}

/** logToWire is the wire tuple of a log record, given its resource and scope table indexes. */
export function logToWire(r: LogRow, resourceIndex: number, scopeIndex: number): unknown[] {
  return [
    resourceIndex,
    scopeIndex,
    r.timeUnixNano,
    r.observedTimeUnixNano,
    r.severityNumber,
    r.severityText,
    anyValueToWire(r.body),
    attributesToWire(r.attributes),
    r.droppedAttributesCount,
    r.traceId,
    r.spanId,
    r.flags,
    r.eventName,
  ];
}

// ---------------------------------------------------------------- reading

/** readAnyValue checks one wire AnyValue at nesting `depth` (1 for a top-level value). */
export function readAnyValue(w: WireReader, v: unknown, what: string, depth: number): AnyValue {
  if (v === null) return { type: 'empty' };
  switch (typeof v) {
    case 'string':
      return { type: 'string', value: w.string(v, what, L.stringBytesMax) };
    case 'boolean':
      return { type: 'bool', value: v };
    case 'bigint':
      return { type: 'int', value: w.i64(v, what) };
    case 'number':
      return { type: 'double', value: v };
    default:
      break;
  }
  if (v instanceof Uint8Array) return { type: 'bytes', value: w.bytes(v, what, L.bytesValueBytesMax) };
  if (!Array.isArray(v) || v.length === 0) w.fail(what, 'is not an AnyValue');
  if (depth >= L.anyValueDepthMax) w.fail(what, `nests deeper than ${L.anyValueDepthMax}`, true);
  const tag = v[0] as unknown;
  if (tag === ANY_ARRAY) {
    if (v.length - 1 > L.anyValueArrayElementsMax) w.fail(what, `has more than ${L.anyValueArrayElementsMax} elements`, true);
    const values: AnyValue[] = new Array(v.length - 1);
    for (let i = 1; i < v.length; i++) values[i - 1] = readAnyValue(w, v[i], what, depth + 1);
    return { type: 'array', values };
  }
  if (tag === ANY_KVLIST) return { type: 'kvlist', values: readPairs(w, v, 1, what, depth + 1) };
  return w.fail(what, 'has an unknown AnyValue tag');
}

/**
 * NONE is the one empty list every reader returns for an empty attribute,
 * event or link list: rows are read-only, and an empty array per row is
 * what a head would otherwise keep (frozen, so a mistaken push throws).
 */
const NONE: readonly never[] = Object.freeze([]);
/** STATUSES_NO_MESSAGE are the shared statuses with an empty message (most spans), frozen like NONE. */
const STATUSES_NO_MESSAGE: readonly SpanRow['status'][] = [0, 1, 2].map((code) => Object.freeze({ code: code as StatusCode, message: '' }));

function readPairs(w: WireReader, v: unknown[], start: number, what: string, depth: number): readonly KeyValue[] {
  const n = v.length - start;
  if (n % 2 !== 0) w.fail(what, 'has an odd number of key/value elements');
  if (n / 2 > L.attributesPerListMax) w.fail(what, `has more than ${L.attributesPerListMax} attributes`, true);
  if (n === 0) return NONE;
  const out: KeyValue[] = new Array(n / 2);
  for (let i = start; i < v.length; i += 2) {
    const key = w.key(v[i], `${what} key`, L.stringBytesMax);
    const x = v[i + 1];
    // Scalars are checked as readAnyValue would, through an interning reader (same checks, same errors).
    const scalar = typeof x === 'string' || typeof x === 'bigint';
    const value = scalar ? w.scalarValue(x, what, L.stringBytesMax) : readAnyValue(w, x, what, depth);
    out[(i - start) / 2] = w.pair(key, value, scalar);
  }
  return out;
}

/** readAttributes checks a flat wire attribute list. */
export function readAttributes(w: WireReader, v: unknown, what: string): readonly KeyValue[] {
  return readPairs(w, w.array(v, what, 2 * L.attributesPerListMax), 0, what, 1);
}

/** readResource checks a wire Resource. */
export function readResource(w: WireReader, v: unknown): Resource {
  const t = w.tuple(v, 'resource', 3);
  return {
    attributes: readAttributes(w, t[0], 'resource attributes'),
    droppedAttributesCount: w.u32(t[1], 'resource droppedAttributesCount'),
    schemaUrl: w.string(t[2], 'resource schemaUrl', L.stringBytesMax),
  };
}

/** readScope checks a wire Scope. */
export function readScope(w: WireReader, v: unknown): Scope {
  const t = w.tuple(v, 'scope', 5);
  return {
    name: w.string(t[0], 'scope name', L.stringBytesMax),
    version: w.string(t[1], 'scope version', L.stringBytesMax),
    attributes: readAttributes(w, t[2], 'scope attributes'),
    droppedAttributesCount: w.u32(t[3], 'scope droppedAttributesCount'),
    schemaUrl: w.string(t[4], 'scope schemaUrl', L.stringBytesMax),
  };
}

/** RowContext is what a row reader needs besides the tuple: the entry's tenant and its resource and scope tables. */
export interface RowContext {
  readonly tenant: string;
  readonly resources: readonly Resource[];
  readonly scopes: readonly Scope[];
}

function refs(w: WireReader, t: unknown[], ctx: RowContext, what: string): { resource: Resource; scope: Scope } {
  const ri = w.uint(t[0], `${what} resourceIndex`, ctx.resources.length - 1);
  const si = w.uint(t[1], `${what} scopeIndex`, ctx.scopes.length - 1);
  return { resource: ctx.resources[ri] as Resource, scope: ctx.scopes[si] as Scope };
}

function readStatus(w: WireReader, code: unknown, message: unknown): SpanRow['status'] {
  const c = w.uint(code, 'span status code', STATUS_CODE_MAX) as StatusCode;
  const m = w.string(message, 'span status message', L.stringBytesMax);
  return m === '' ? (STATUSES_NO_MESSAGE[c] as SpanRow['status']) : { code: c, message: m };
}

/** readSpan checks a wire span. */
export function readSpan(w: WireReader, v: unknown, ctx: RowContext): SpanRow {
  const t = w.tuple(v, 'span', 19);
  const { resource, scope } = refs(w, t, ctx, 'span');
  const eventsRaw = w.array(t[15], 'span events', L.eventsPerSpanMax);
  const events: readonly SpanEvent[] = eventsRaw.length === 0 ? NONE : eventsRaw.map((ev) => {
    const e = w.tuple(ev, 'span event', 4);
    return {
      timeUnixNano: w.u64(e[0], 'event timeUnixNano'),
      name: w.string(e[1], 'event name', L.stringBytesMax),
      attributes: readAttributes(w, e[2], 'event attributes'),
      droppedAttributesCount: w.u32(e[3], 'event droppedAttributesCount'),
    };
  });
  const linksRaw = w.array(t[17], 'span links', L.linksPerSpanMax);
  const links: readonly SpanLink[] = linksRaw.length === 0 ? NONE : linksRaw.map((lv) => {
    const l = w.tuple(lv, 'span link', 6);
    return {
      traceId: w.id(l[0], 'link traceId', TRACE_ID_BYTES, false),
      spanId: w.id(l[1], 'link spanId', SPAN_ID_BYTES, false),
      traceState: w.string(l[2], 'link traceState', L.stringBytesMax),
      attributes: readAttributes(w, l[3], 'link attributes'),
      droppedAttributesCount: w.u32(l[4], 'link droppedAttributesCount'),
      flags: w.u32(l[5], 'link flags'),
    };
  });
  return {
    tenant: ctx.tenant,
    traceId: w.id(t[2], 'span traceId', TRACE_ID_BYTES, false),
    spanId: w.spanId(t[3], 'span spanId', false),
    parentSpanId: w.spanId(t[4], 'span parentSpanId', true),
    traceState: w.string(t[5], 'span traceState', L.stringBytesMax),
    flags: w.u32(t[6], 'span flags'),
    // Span names are low-cardinality by the OpenTelemetry conventions: interned like attribute keys.
    name: w.key(t[7], 'span name', L.stringBytesMax),
    kind: w.uint(t[8], 'span kind', SPAN_KIND_MAX) as SpanKind,
    startTimeUnixNano: w.u64(t[9], 'span startTimeUnixNano'),
    endTimeUnixNano: w.u64(t[10], 'span endTimeUnixNano'),
    status: readStatus(w, t[11], t[12]),
    attributes: readAttributes(w, t[13], 'span attributes'),
    droppedAttributesCount: w.u32(t[14], 'span droppedAttributesCount'),
    events,
    droppedEventsCount: w.u32(t[16], 'span droppedEventsCount'),
    links,
    droppedLinksCount: w.u32(t[18], 'span droppedLinksCount'),
    resource,
    scope,
  };
}

function readNumber(w: WireReader, v: unknown, what: string): NumberValue {
  if (typeof v === 'bigint') return { type: 'int', value: w.i64(v, what) };
  return { type: 'double', value: w.double(v, what) };
}

function readTemporality(w: WireReader, v: unknown): Temporality {
  return w.int(v, 'temporality', 1, 2) as Temporality;
}

function readCounts(w: WireReader, v: unknown, what: string): number[] {
  return w.array(v, what, L.histogramBucketsMax).map((c) => w.count(c, what));
}

function readExpBuckets(w: WireReader, offset: unknown, counts: unknown, what: string): ExponentialBuckets {
  return { offset: w.int(offset, `${what} offset`, -(2 ** 31), 2 ** 31 - 1), bucketCounts: readCounts(w, counts, `${what} bucketCounts`) };
}

function readData(w: WireReader, v: unknown): MetricData {
  if (!Array.isArray(v) || v.length === 0) w.fail('point data', 'is not a tagged array');
  switch (v[0] as unknown) {
    case DATA_GAUGE: {
      const t = w.tuple(v, 'gauge', 2);
      return { type: 'gauge', value: readNumber(w, t[1], 'gauge value') };
    }
    case DATA_SUM: {
      const t = w.tuple(v, 'sum', 4);
      return { type: 'sum', temporality: readTemporality(w, t[1]), monotonic: w.bool(t[2], 'sum monotonic'), value: readNumber(w, t[3], 'sum value') };
    }
    case DATA_HISTOGRAM: {
      const t = w.tuple(v, 'histogram', 8);
      const bounds = w.array(t[6], 'histogram bounds', L.histogramBucketsMax).map((b) => w.double(b, 'histogram bound'));
      const bucketCounts = readCounts(w, t[7], 'histogram bucketCounts');
      if (!(bucketCounts.length === bounds.length + 1 || (bucketCounts.length === 0 && bounds.length === 0))) {
        w.fail('histogram', `has ${bucketCounts.length} bucket counts for ${bounds.length} bounds`);
      }
      for (let i = 1; i < bounds.length; i++) {
        if (!((bounds[i - 1] as number) < (bounds[i] as number))) w.fail('histogram bounds', 'are not strictly increasing');
      }
      return {
        type: 'histogram',
        temporality: readTemporality(w, t[1]),
        count: w.count(t[2], 'histogram count'),
        sum: w.nullableDouble(t[3], 'histogram sum'),
        min: w.nullableDouble(t[4], 'histogram min'),
        max: w.nullableDouble(t[5], 'histogram max'),
        bounds,
        bucketCounts,
      };
    }
    case DATA_EXP_HISTOGRAM: {
      const t = w.tuple(v, 'exponential histogram', 13);
      return {
        type: 'exponentialHistogram',
        temporality: readTemporality(w, t[1]),
        count: w.count(t[2], 'exponential histogram count'),
        sum: w.nullableDouble(t[3], 'exponential histogram sum'),
        min: w.nullableDouble(t[4], 'exponential histogram min'),
        max: w.nullableDouble(t[5], 'exponential histogram max'),
        scale: w.int(t[6], 'exponential histogram scale', EXP_SCALE_MIN, EXP_SCALE_MAX),
        zeroCount: w.count(t[7], 'exponential histogram zeroCount'),
        zeroThreshold: w.double(t[8], 'exponential histogram zeroThreshold'),
        positive: readExpBuckets(w, t[9], t[10], 'exponential histogram positive'),
        negative: readExpBuckets(w, t[11], t[12], 'exponential histogram negative'),
      };
    }
    case DATA_SUMMARY: {
      const t = w.tuple(v, 'summary', 4);
      const flat = w.array(t[3], 'summary quantiles', 2 * L.summaryQuantilesMax);
      if (flat.length % 2 !== 0) w.fail('summary quantiles', 'have an odd number of elements');
      const quantiles: { quantile: number; value: number }[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const quantile = w.double(flat[i], 'summary quantile');
        if (!(quantile >= 0 && quantile <= 1)) w.fail('summary quantile', `${quantile} is outside [0, 1]`);
        quantiles.push({ quantile, value: w.double(flat[i + 1], 'summary quantile value') });
      }
      return { type: 'summary', count: w.count(t[1], 'summary count'), sum: w.double(t[2], 'summary sum'), quantiles };
    }
    default:
      return w.fail('point data', 'has an unknown metric type');
  }
}

/** readPoint checks a wire metric point. */
export function readPoint(w: WireReader, v: unknown, ctx: RowContext): MetricPointRow {
  const t = w.tuple(v, 'point', 11);
  const { resource, scope } = refs(w, t, ctx, 'point');
  const exemplars: Exemplar[] = w.array(t[10], 'point exemplars', L.exemplarsPerPointMax).map((ev) => {
    const e = w.tuple(ev, 'exemplar', 5);
    return {
      timeUnixNano: w.u64(e[0], 'exemplar timeUnixNano'),
      value: readNumber(w, e[1], 'exemplar value'),
      traceId: w.id(e[2], 'exemplar traceId', TRACE_ID_BYTES, true),
      spanId: w.id(e[3], 'exemplar spanId', SPAN_ID_BYTES, true),
      filteredAttributes: readAttributes(w, e[4], 'exemplar filteredAttributes'),
    };
  });
  return {
    tenant: ctx.tenant,
    name: w.string(t[2], 'metric name', L.stringBytesMax),
    description: w.string(t[3], 'metric description', L.stringBytesMax),
    unit: w.string(t[4], 'metric unit', L.stringBytesMax),
    data: readData(w, t[5]),
    attributes: readAttributes(w, t[6], 'point attributes'),
    startTimeUnixNano: w.u64(t[7], 'point startTimeUnixNano'),
    timeUnixNano: w.u64(t[8], 'point timeUnixNano'),
    flags: w.u32(t[9], 'point flags'),
    exemplars,
    resource,
    scope,
  };
}

/** readLog checks a wire log record. */
export function readLog(w: WireReader, v: unknown, ctx: RowContext): LogRow {
  const t = w.tuple(v, 'log', 13);
  const { resource, scope } = refs(w, t, ctx, 'log');
  return {
    tenant: ctx.tenant,
    timeUnixNano: w.u64(t[2], 'log timeUnixNano'),
    observedTimeUnixNano: w.u64(t[3], 'log observedTimeUnixNano'),
    severityNumber: w.uint(t[4], 'log severityNumber', SEVERITY_NUMBER_MAX),
    severityText: w.key(t[5], 'log severityText', L.stringBytesMax),
    body: readAnyValue(w, t[6], 'log body', 1),
    attributes: readAttributes(w, t[7], 'log attributes'),
    droppedAttributesCount: w.u32(t[8], 'log droppedAttributesCount'),
    traceId: w.id(t[9], 'log traceId', TRACE_ID_BYTES, true),
    spanId: w.id(t[10], 'log spanId', SPAN_ID_BYTES, true),
    flags: w.u32(t[11], 'log flags'),
    eventName: w.string(t[12], 'log eventName', L.stringBytesMax),
    resource,
    scope,
  };
}
