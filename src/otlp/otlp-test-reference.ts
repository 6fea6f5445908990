/**
 * otlp-test-reference.ts — test support: the slow, obvious converter from a
 * protobufjs-decoded export request to rows, written from the rules in
 * src/otlp/README.md and sharing no code with the decoders (only the limits
 * and the row types). The differential tests compare the fast decoders
 * against it. `plant` lets a test swap in a deliberate bug.
 */
import { OtlpLimits, StorageLimits } from '../limits.js';
import type { AnyValue, Exemplar, KeyValue, LogRow, MetricData, MetricPointRow, NumberValue, Resource, Scope, SpanRow } from '../storage/rows.js';

/** RefResult is what the reference computes: rows, the refused item count, the truncation count. */
export interface RefResult<Row> {
  rows: Row[];
  rejected: number;
  truncatedValues: number;
}

/** RefOptions set the tenant and clock, and an optional planted bug (a row transform). */
export interface RefOptions {
  readonly tenant: string;
  readonly nowMs: number;
  readonly plant?: (row: unknown) => unknown;
}

type M = Record<string, unknown>;
const U32_MAX = 0xffff_ffff;

function has(m: M, f: string): boolean {
  return Object.hasOwn(m, f) && m[f] !== null && m[f] !== undefined;
}
function str(m: M, f: string): string {
  return has(m, f) ? (m[f] as string) : '';
}
function num(m: M, f: string): number {
  return has(m, f) ? (m[f] as number) : 0;
}
function big(m: M, f: string): bigint {
  return has(m, f) ? BigInt(String(m[f])) : 0n;
}
function arr(m: M, f: string): M[] {
  return has(m, f) ? (m[f] as M[]) : [];
}
function bytes(m: M, f: string): Uint8Array {
  return has(m, f) ? new Uint8Array(m[f] as Uint8Array) : new Uint8Array(0);
}
function dbl(v: number): number {
  return v === 0 ? 0 : v;
}

/** Item tracks the first problem and the truncations of one item. */
class Item {
  problem: string | null = null;
  truncated = 0;
  fail(code: string): void {
    if (this.problem === null) this.problem = code;
  }
}

class Ref {
  rejected = 0;
  truncated = 0;
  readonly minNs: bigint;
  readonly maxNs: bigint;

  constructor(readonly o: RefOptions) {
    this.minNs = BigInt(Math.max(0, o.nowMs - OtlpLimits.timestampPastMsMax)) * 1_000_000n;
    this.maxNs = BigInt(o.nowMs + OtlpLimits.timestampFutureMsMax) * 1_000_000n;
  }

  s(it: Item, v: string): string {
    if (Buffer.byteLength(v) > StorageLimits.stringBytesMax) {
      it.fail('OTLP_VALUE_TOO_LONG');
      return '';
    }
    return v;
  }

  any(it: Item, m: M | null, depth: number, attr: boolean): AnyValue {
    if (m === null || m === undefined) return { type: 'empty' };
    if (has(m, 'stringValue')) {
      const v = m.stringValue as string;
      if (!attr) return { type: 'string', value: this.s(it, v) };
      const b = Buffer.from(v);
      if (b.length <= OtlpLimits.attributeValueBytesMax) return { type: 'string', value: v };
      let e = OtlpLimits.attributeValueBytesMax;
      while (e > 0 && ((b[e] as number) & 0xc0) === 0x80) e--;
      it.truncated++;
      return { type: 'string', value: b.subarray(0, e).toString('utf8') };
    }
    if (has(m, 'boolValue')) return { type: 'bool', value: m.boolValue as boolean };
    if (has(m, 'intValue')) return { type: 'int', value: BigInt(String(m.intValue)) };
    if (has(m, 'doubleValue')) return { type: 'double', value: dbl(m.doubleValue as number) };
    if (has(m, 'bytesValue')) {
      const b = bytes(m, 'bytesValue');
      if (b.length > StorageLimits.bytesValueBytesMax) {
        it.fail('OTLP_VALUE_TOO_LONG');
        return { type: 'empty' };
      }
      return { type: 'bytes', value: b };
    }
    if (has(m, 'arrayValue') || has(m, 'kvlistValue')) {
      if (depth >= StorageLimits.anyValueDepthMax) {
        it.fail('OTLP_ANY_VALUE_TOO_DEEP');
        return { type: 'empty' };
      }
      if (has(m, 'arrayValue')) {
        const vs = arr(m.arrayValue as M, 'values').map((v) => this.any(it, v, depth + 1, attr));
        if (vs.length > StorageLimits.anyValueArrayElementsMax) it.fail('OTLP_LIMIT_EXCEEDED');
        return { type: 'array', values: vs.slice(0, StorageLimits.anyValueArrayElementsMax) };
      }
      const kvs = arr(m.kvlistValue as M, 'values').map((kv) => this.kv(it, kv, depth + 1, attr));
      if (kvs.length > StorageLimits.attributesPerListMax) it.fail('OTLP_LIMIT_EXCEEDED');
      const kept = kvs.slice(0, StorageLimits.attributesPerListMax);
      if (new Set(kept.map((k) => k.key)).size !== kept.length) it.fail('OTLP_DUPLICATE_ATTRIBUTE_KEY');
      return { type: 'kvlist', values: kept };
    }
    return { type: 'empty' };
  }

  kv(it: Item, m: M, depth: number, attr: boolean): KeyValue {
    return { key: this.s(it, str(m, 'key')), value: this.any(it, has(m, 'value') ? (m.value as M) : null, depth, attr) };
  }

  /** attrs keeps the first attributesPerItemMax; returns the list and how many were cut. */
  attrs(it: Item, list: M[]): { attributes: KeyValue[]; cut: number } {
    const kept = list.slice(0, OtlpLimits.attributesPerItemMax).map((kv) => this.kv(it, kv, 1, true));
    if (new Set(kept.map((k) => k.key)).size !== kept.length) it.fail('OTLP_DUPLICATE_ATTRIBUTE_KEY');
    return { attributes: kept, cut: list.length - kept.length };
  }

  dropped(sent: number, cut: number): number {
    return Math.min(U32_MAX, sent + cut);
  }

  reqId(it: Item, b: Uint8Array, n: number, code: string): Uint8Array {
    if (b.length !== n || b.every((x) => x === 0)) {
      it.fail(code);
      return new Uint8Array(0);
    }
    return b;
  }

  optId(it: Item, b: Uint8Array, n: number, code: string): Uint8Array {
    if (b.length === 0) return b;
    if (b.length !== n) {
      it.fail(code);
      return new Uint8Array(0);
    }
    return b.every((x) => x === 0) ? new Uint8Array(0) : b;
  }

  time(it: Item, t: bigint): void {
    if (t < this.minNs || t > this.maxNs) it.fail('OTLP_TIMESTAMP_OUT_OF_RANGE');
  }

  enumIn(it: Item, v: number, max: number): void {
    if (v < 0 || v > max) it.fail('OTLP_BAD_ENUM');
  }

  resource(m: M | null, schemaUrl: string): { value: Resource; problem: string | null } {
    const it = new Item();
    const url = this.s(it, schemaUrl);
    const r = m ?? {};
    const a = this.attrs(it, arr(r, 'attributes'));
    this.truncated += it.truncated;
    return { value: { attributes: a.attributes, droppedAttributesCount: this.dropped(num(r, 'droppedAttributesCount'), a.cut), schemaUrl: url }, problem: it.problem };
  }

  scope(m: M | null, schemaUrl: string, inherited: string | null): { value: Scope; problem: string | null } {
    const it = new Item();
    it.problem = inherited;
    const url = this.s(it, schemaUrl);
    const r = m ?? {};
    const name = this.s(it, str(r, 'name'));
    const version = this.s(it, str(r, 'version'));
    const a = this.attrs(it, arr(r, 'attributes'));
    this.truncated += it.truncated;
    return {
      value: { name, version, attributes: a.attributes, droppedAttributesCount: this.dropped(num(r, 'droppedAttributesCount'), a.cut), schemaUrl: url },
      problem: it.problem,
    };
  }

  finish<Row>(it: Item, row: Row, rows: Row[]): void {
    if (it.problem !== null) {
      this.rejected++;
      return;
    }
    this.truncated += it.truncated;
    rows.push((this.o.plant ? this.o.plant(row) : row) as Row);
  }

  walk<Row>(req: M, rField: string, sField: string, iField: string, item: (m: M, res: Resource, sc: Scope, inherited: string | null, rows: Row[]) => void): RefResult<Row> {
    const rows: Row[] = [];
    for (const rm of arr(req, rField)) {
      const res = this.resource(has(rm, 'resource') ? (rm.resource as M) : null, str(rm, 'schemaUrl'));
      for (const sm of arr(rm, sField)) {
        const sc = this.scope(has(sm, 'scope') ? (sm.scope as M) : null, str(sm, 'schemaUrl'), res.problem);
        for (const im of arr(sm, iField)) item(im, res.value, sc.value, sc.problem, rows);
      }
    }
    return { rows, rejected: this.rejected, truncatedValues: this.truncated };
  }

  span(m: M, resource: Resource, scope: Scope, inherited: string | null, rows: SpanRow[]): void {
    const it = new Item();
    it.problem = inherited;
    const traceState = this.s(it, str(m, 'traceState'));
    const name = this.s(it, str(m, 'name'));
    const a = this.attrs(it, arr(m, 'attributes'));
    const evs = arr(m, 'events');
    const events = evs.slice(0, StorageLimits.eventsPerSpanMax).map((e) => {
      const ename = this.s(it, str(e, 'name'));
      const ea = this.attrs(it, arr(e, 'attributes'));
      return { timeUnixNano: big(e, 'timeUnixNano'), name: ename, attributes: ea.attributes, droppedAttributesCount: this.dropped(num(e, 'droppedAttributesCount'), ea.cut) };
    });
    const lks = arr(m, 'links');
    const links = lks.slice(0, StorageLimits.linksPerSpanMax).map((l) => {
      const lts = this.s(it, str(l, 'traceState'));
      const la = this.attrs(it, arr(l, 'attributes'));
      return {
        traceId: this.reqId(it, bytes(l, 'traceId'), 16, 'OTLP_BAD_TRACE_ID'),
        spanId: this.reqId(it, bytes(l, 'spanId'), 8, 'OTLP_BAD_SPAN_ID'),
        traceState: lts,
        attributes: la.attributes,
        droppedAttributesCount: this.dropped(num(l, 'droppedAttributesCount'), la.cut),
        flags: num(l, 'flags'),
      };
    });
    const st = has(m, 'status') ? (m.status as M) : {};
    const statusMessage = this.s(it, str(st, 'message'));
    const statusCode = num(st, 'code');
    this.enumIn(it, statusCode, 2);
    const traceId = this.reqId(it, bytes(m, 'traceId'), 16, 'OTLP_BAD_TRACE_ID');
    const spanId = this.reqId(it, bytes(m, 'spanId'), 8, 'OTLP_BAD_SPAN_ID');
    const parentSpanId = this.optId(it, bytes(m, 'parentSpanId'), 8, 'OTLP_BAD_PARENT_SPAN_ID');
    const kind = num(m, 'kind');
    this.enumIn(it, kind, 5);
    const start = big(m, 'startTimeUnixNano');
    const end = big(m, 'endTimeUnixNano');
    this.time(it, start);
    if (end < start) it.fail('OTLP_BAD_TIMESTAMP');
    else this.time(it, end);
    const row: SpanRow = {
      tenant: this.o.tenant,
      traceId,
      spanId,
      parentSpanId,
      traceState,
      flags: num(m, 'flags'),
      name,
      kind: kind as SpanRow['kind'],
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      status: { code: statusCode as SpanRow['status']['code'], message: statusMessage },
      attributes: a.attributes,
      droppedAttributesCount: this.dropped(num(m, 'droppedAttributesCount'), a.cut),
      events,
      droppedEventsCount: this.dropped(num(m, 'droppedEventsCount'), evs.length - events.length),
      links,
      droppedLinksCount: this.dropped(num(m, 'droppedLinksCount'), lks.length - links.length),
      resource,
      scope,
    };
    this.finish(it, row, rows);
  }

  log(m: M, resource: Resource, scope: Scope, inherited: string | null, rows: LogRow[]): void {
    const it = new Item();
    it.problem = inherited;
    const severityText = this.s(it, str(m, 'severityText'));
    const body = this.any(it, has(m, 'body') ? (m.body as M) : null, 1, false);
    const a = this.attrs(it, arr(m, 'attributes'));
    const eventName = this.s(it, str(m, 'eventName'));
    const traceId = this.optId(it, bytes(m, 'traceId'), 16, 'OTLP_BAD_TRACE_ID');
    const spanId = this.optId(it, bytes(m, 'spanId'), 8, 'OTLP_BAD_SPAN_ID');
    const severity = num(m, 'severityNumber');
    this.enumIn(it, severity, 24);
    const time = big(m, 'timeUnixNano');
    const observed = big(m, 'observedTimeUnixNano');
    if (time !== 0n) this.time(it, time);
    else if (observed !== 0n) this.time(it, observed);
    else it.fail('OTLP_BAD_TIMESTAMP');
    const row: LogRow = {
      tenant: this.o.tenant,
      timeUnixNano: time === 0n ? observed : time, // unknown time: the observed time (proto-logs.ts says why)
      observedTimeUnixNano: observed,
      severityNumber: severity,
      severityText,
      body,
      attributes: a.attributes,
      droppedAttributesCount: this.dropped(num(m, 'droppedAttributesCount'), a.cut),
      traceId,
      spanId,
      flags: num(m, 'flags'),
      eventName,
      resource,
      scope,
    };
    this.finish(it, row, rows);
  }

  count(it: Item, v: bigint): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      it.fail('OTLP_COUNT_TOO_LARGE');
      return 0;
    }
    return Number(v);
  }

  counts(it: Item, m: M, f: string): number[] {
    const cs = arr(m, f).map((c) => this.count(it, BigInt(String(c))));
    if (cs.length > StorageLimits.histogramBucketsMax) it.fail('OTLP_LIMIT_EXCEEDED');
    return cs.slice(0, StorageLimits.histogramBucketsMax);
  }

  optDouble(m: M, f: string): number | null {
    return Object.hasOwn(m, f) && m[f] !== null ? dbl(m[f] as number) : null;
  }

  numberValue(it: Item, m: M): NumberValue {
    if (has(m, 'asDouble')) return { type: 'double', value: dbl(m.asDouble as number) };
    if (has(m, 'asInt')) return { type: 'int', value: BigInt(String(m.asInt)) };
    // OTLP: a point flagged FLAG_NO_RECORDED_VALUE (flags bit 0) is valid without a value.
    if ((num(m, 'flags') & 1) !== 0) return { type: 'double', value: NaN };
    it.fail('OTLP_POINT_NO_VALUE');
    return { type: 'double', value: 0 };
  }

  metric(m: M, resource: Resource, scope: Scope, inherited: string | null, rows: MetricPointRow[]): void {
    const mt = new Item();
    mt.problem = inherited;
    const name = this.s(mt, str(m, 'name'));
    const description = this.s(mt, str(m, 'description'));
    const unit = this.s(mt, str(m, 'unit'));
    const kinds = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];
    const kind = kinds.filter((k) => has(m, k)).pop();
    if (kind === undefined) {
      this.rejected++;
      return;
    }
    const d = m[kind] as M;
    const temporality = num(d, 'aggregationTemporality');
    if (kind !== 'gauge' && kind !== 'summary' && temporality !== 1 && temporality !== 2) mt.fail('OTLP_BAD_TEMPORALITY');
    for (const p of arr(d, 'dataPoints')) {
      const it = new Item();
      it.problem = mt.problem;
      let data: MetricData;
      if (kind === 'gauge') data = { type: 'gauge', value: this.numberValue(it, p) };
      else if (kind === 'sum') data = { type: 'sum', temporality: temporality as 1 | 2, monotonic: has(d, 'isMonotonic') && (d.isMonotonic as boolean), value: this.numberValue(it, p) };
      else if (kind === 'histogram') {
        const count = this.count(it, big(p, 'count'));
        const bucketCounts = this.counts(it, p, 'bucketCounts');
        const bounds = arr(p, 'explicitBounds').map((b) => dbl(b as unknown as number));
        if (bounds.length > StorageLimits.histogramBucketsMax) it.fail('OTLP_LIMIT_EXCEEDED');
        if (!(bucketCounts.length === bounds.length + 1 || (bucketCounts.length === 0 && bounds.length === 0))) it.fail('OTLP_BAD_HISTOGRAM');
        else if (bounds.some((b, i) => Number.isNaN(b) || (i > 0 && !((bounds[i - 1] as number) < b)))) it.fail('OTLP_BAD_HISTOGRAM');
        data = { type: 'histogram', temporality: temporality as 1 | 2, count, sum: this.optDouble(p, 'sum'), min: this.optDouble(p, 'min'), max: this.optDouble(p, 'max'), bounds, bucketCounts };
      } else if (kind === 'exponentialHistogram') {
        const count = this.count(it, big(p, 'count'));
        const zeroCount = this.count(it, big(p, 'zeroCount'));
        const side = (f: string): { offset: number; bucketCounts: number[] } => {
          const b = has(p, f) ? (p[f] as M) : {};
          return { offset: num(b, 'offset'), bucketCounts: this.counts(it, b, 'bucketCounts') };
        };
        const positive = side('positive');
        const negative = side('negative');
        const scale = num(p, 'scale');
        if (scale < -10 || scale > 20) it.fail('OTLP_BAD_HISTOGRAM');
        data = {
          type: 'exponentialHistogram',
          temporality: temporality as 1 | 2,
          count,
          sum: this.optDouble(p, 'sum'),
          min: this.optDouble(p, 'min'),
          max: this.optDouble(p, 'max'),
          scale,
          zeroCount,
          zeroThreshold: dbl(num(p, 'zeroThreshold')),
          positive,
          negative,
        };
      } else {
        const count = this.count(it, big(p, 'count'));
        const quantiles = arr(p, 'quantileValues').map((q) => ({ quantile: dbl(num(q, 'quantile')), value: dbl(num(q, 'value')) }));
        for (const q of quantiles) if (!(q.quantile >= 0 && q.quantile <= 1)) it.fail('OTLP_BAD_SUMMARY');
        if (quantiles.length > StorageLimits.summaryQuantilesMax) it.fail('OTLP_LIMIT_EXCEEDED');
        data = { type: 'summary', count, sum: dbl(num(p, 'sum')), quantiles: quantiles.slice(0, StorageLimits.summaryQuantilesMax) };
      }
      const attrsIn = arr(p, 'attributes');
      if (attrsIn.length > OtlpLimits.attributesPerItemMax) it.fail('OTLP_TOO_MANY_ATTRIBUTES');
      const a = this.attrs(it, attrsIn);
      const xs = arr(p, 'exemplars');
      if (xs.length > StorageLimits.exemplarsPerPointMax) it.fail('OTLP_LIMIT_EXCEEDED');
      const exemplars: Exemplar[] = xs.slice(0, StorageLimits.exemplarsPerPointMax).map((x) => {
        const value = has(x, 'asDouble') ? { type: 'double' as const, value: dbl(x.asDouble as number) } : has(x, 'asInt') ? { type: 'int' as const, value: BigInt(String(x.asInt)) } : null;
        if (value === null) it.fail('OTLP_POINT_NO_VALUE');
        const fa = arr(x, 'filteredAttributes');
        if (fa.length > OtlpLimits.attributesPerItemMax) it.fail('OTLP_TOO_MANY_ATTRIBUTES');
        return {
          timeUnixNano: big(x, 'timeUnixNano'),
          value: value ?? { type: 'double', value: 0 },
          traceId: this.optId(it, bytes(x, 'traceId'), 16, 'OTLP_BAD_TRACE_ID'),
          spanId: this.optId(it, bytes(x, 'spanId'), 8, 'OTLP_BAD_SPAN_ID'),
          filteredAttributes: this.attrs(it, fa).attributes,
        };
      });
      const time = big(p, 'timeUnixNano');
      this.time(it, time);
      const row: MetricPointRow = {
        tenant: this.o.tenant,
        name,
        description,
        unit,
        data,
        attributes: a.attributes,
        startTimeUnixNano: big(p, 'startTimeUnixNano'),
        timeUnixNano: time,
        flags: num(p, 'flags'),
        exemplars,
        resource,
        scope,
      };
      this.finish(it, row, rows);
    }
  }
}

/** refTraces converts a protobufjs-decoded ExportTraceServiceRequest. */
export function refTraces(req: M, o: RefOptions): RefResult<SpanRow> {
  const r = new Ref(o);
  return r.walk<SpanRow>(req, 'resourceSpans', 'scopeSpans', 'spans', (m, res, sc, inh, rows) => r.span(m, res, sc, inh, rows));
}

/** refMetrics converts a protobufjs-decoded ExportMetricsServiceRequest. */
export function refMetrics(req: M, o: RefOptions): RefResult<MetricPointRow> {
  const r = new Ref(o);
  return r.walk<MetricPointRow>(req, 'resourceMetrics', 'scopeMetrics', 'metrics', (m, res, sc, inh, rows) => r.metric(m, res, sc, inh, rows));
}

/** refLogs converts a protobufjs-decoded ExportLogsServiceRequest. */
export function refLogs(req: M, o: RefOptions): RefResult<LogRow> {
  const r = new Ref(o);
  return r.walk<LogRow>(req, 'resourceLogs', 'scopeLogs', 'logRecords', (m, res, sc, inh, rows) => r.log(m, res, sc, inh, rows));
}

/**
 * firstDifference names the first place where `a` and `b` differ (bigints,
 * numbers with NaN equal to NaN and -0 distinct from 0, byte arrays of the
 * same class, arrays, plain objects), or returns null when they are equal.
 */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | null {
  if (typeof a !== typeof b) return `${path}: ${typeof a} vs ${typeof b}`;
  if (typeof a === 'number') return Object.is(a, b) ? null : `${path}: ${a} vs ${String(b)}`;
  if (typeof a !== 'object' || a === null || b === null) return a === b ? null : `${path}: ${String(a)} vs ${String(b)}`;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array)) return `${path}: bytes vs not bytes`;
    if (a.constructor !== b.constructor) return `${path}: ${a.constructor.name} vs ${b.constructor.name}`;
    return Buffer.from(a).equals(Buffer.from(b)) ? null : `${path}: ${Buffer.from(a).toString('hex')} vs ${Buffer.from(b).toString('hex')}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs not array`;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b as object).sort();
  if (ka.join() !== kb.join()) return `${path}: keys ${ka.join()} vs ${kb.join()}`;
  for (const k of ka) {
    const d = firstDifference((a as M)[k], (b as M)[k], `${path}.${k}`);
    if (d !== null) return d;
  }
  return null;
}
