/**
 * otlp-test-gen.ts — test support: seeded random OTLP export requests as
 * protobufjs-ready plain objects (camelCase field names, 64-bit integers as
 * decimal strings, bytes as Uint8Array), and the protobufjs types loaded from
 * the .proto files of src/otlp/proto to encode and decode them.
 *
 * The generator mixes valid items with every per-item defect the decoders
 * refuse (bad ids, times out of the window, bad enums, missing values,
 * mismatched histograms, deep nesting, duplicate keys, long strings...), plus
 * edge cases (empty lists, absent optionals, unicode, extreme integers, NaN
 * and infinities). Not a test file: the tests import it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as Protobuf from 'protobufjs';
import { SeededRand } from '../fs/seeded-rand.js';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof Protobuf;

/** TEST_NOW_MS is the receiver clock the tests decode with. */
export const TEST_NOW_MS = 1_750_000_000_000;
const NOW_NS = BigInt(TEST_NOW_MS) * 1_000_000n;
const HOUR_NS = 3_600_000_000_000n;

/** Obj is a plain protobufjs-ready message object. */
export type Obj = Record<string, unknown>;

/** OtlpTypes are the request types of one protobufjs root. */
export interface OtlpTypes {
  readonly traces: Protobuf.Type;
  readonly metrics: Protobuf.Type;
  readonly logs: Protobuf.Type;
}

/**
 * PROTO_DIR is src/otlp/proto: beside this file when run from source (tsx),
 * or back in the source tree when run from dist/ (tsc does not copy .proto
 * files; the benchmark runs from dist).
 */
const PROTO_DIR = [new URL('./proto/', import.meta.url), new URL('../../../src/otlp/proto/', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((d) => existsSync(d)) ?? fileURLToPath(new URL('./proto/', import.meta.url));
const FILES = [
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
];

function loadRoot(): Protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) => PROTO_DIR + target;
  root.loadSync(FILES, { keepCase: false });
  root.resolveAll();
  return root;
}

function typesOf(root: Protobuf.Root): OtlpTypes {
  return {
    traces: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    metrics: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
    logs: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
  };
}

/** loadOtlpTypes loads the request types as the .proto files declare them (repeated scalars packed). */
export function loadOtlpTypes(): OtlpTypes {
  return typesOf(loadRoot());
}

/** loadUnpackedOtlpTypes loads the request types with every repeated scalar encoded unpacked (one tag per element). */
export function loadUnpackedOtlpTypes(): OtlpTypes {
  const root = loadRoot();
  const unpack = (type: string, field: string): void => {
    const f = root.lookupType(type).fields[field];
    if (f === undefined) throw new Error(`no field ${type}.${field}`);
    f.setOption('packed', false);
  };
  unpack('opentelemetry.proto.metrics.v1.HistogramDataPoint', 'bucketCounts');
  unpack('opentelemetry.proto.metrics.v1.HistogramDataPoint', 'explicitBounds');
  unpack('opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint.Buckets', 'bucketCounts');
  return typesOf(root);
}

/**
 * loadExtendedOtlpTypes loads request types whose messages carry extra
 * fields the decoders do not know (numbers 90..99, every wire type): bytes
 * encoded with them must decode as if the extras were absent.
 */
export function loadExtendedOtlpTypes(): OtlpTypes {
  const root = loadRoot();
  const extend = [
    'opentelemetry.proto.trace.v1.Span',
    'opentelemetry.proto.trace.v1.ResourceSpans',
    'opentelemetry.proto.trace.v1.ScopeSpans',
    'opentelemetry.proto.common.v1.AnyValue',
    'opentelemetry.proto.common.v1.KeyValue',
    'opentelemetry.proto.common.v1.InstrumentationScope',
    'opentelemetry.proto.resource.v1.Resource',
    'opentelemetry.proto.metrics.v1.Metric',
    'opentelemetry.proto.metrics.v1.NumberDataPoint',
    'opentelemetry.proto.metrics.v1.HistogramDataPoint',
    'opentelemetry.proto.logs.v1.LogRecord',
    'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
  ];
  for (const name of extend) {
    const t = root.lookupType(name);
    t.add(new protobuf.Field('xVarint', 90, 'uint64'));
    t.add(new protobuf.Field('xFixed64', 91, 'fixed64'));
    t.add(new protobuf.Field('xBytes', 92, 'bytes'));
    t.add(new protobuf.Field('xFixed32', 93, 'fixed32'));
    t.add(new protobuf.Field('xPacked', 94, 'uint32', 'repeated'));
  }
  root.resolveAll();
  return typesOf(root);
}

/** addUnknownFields sets the extra fields of loadExtendedOtlpTypes on `o` at random. */
function unknowns(rand: SeededRand, o: Obj): Obj {
  if (rand.intn(4) !== 0) return o;
  o.xVarint = String(rand.u64());
  o.xFixed64 = String(rand.u64());
  o.xBytes = rand.bytes(rand.intn(5));
  o.xFixed32 = rand.nextU32();
  o.xPacked = [1, 300, 70000];
  return o;
}

/** Gen draws random OTLP requests from one seed. */
export class Gen {
  readonly rand: SeededRand;
  /** rare is the chance (per mille) of each defect; 0 generates valid items only. */
  readonly rarePerMille: number;

  constructor(seed: number, rarePerMille = 15) {
    this.rand = new SeededRand(seed);
    this.rarePerMille = rarePerMille;
  }

  chance(perMille: number): boolean {
    return this.rand.intn(1000) < perMille;
  }

  rare(): boolean {
    return this.chance(this.rarePerMille);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.rand.intn(xs.length)] as T;
  }

  string(): string {
    if (this.rare() && this.chance(100)) return this.chance(500) ? 'é'.repeat(33_000) : 'x'.repeat(70_000); // over attributeValueBytesMax
    return this.pick(['', 'a', 'http.method', 'GET', 'service.name', 'héllo wörld', '日本語のテキスト', 'emoji 😀 ok', 'a much longer string value, past sixteen bytes', '\u0000nul', 'k8s.pod.name']);
  }

  int64(): string {
    return this.pick(['0', '1', '-1', '42', '-9223372036854775808', '9223372036854775807', '9007199254740993', String(this.rand.nextU32()), String(-this.rand.intn(1_000_000))]);
  }

  double(): number {
    return this.pick([0, 1.5, -2.25, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308, 5e-324, this.rand.nextU32() / 7, -this.rand.intn(1000)]);
  }

  anyValue(depth: number): Obj {
    if (depth === 1 && this.rare()) return this.nested(6 + this.rand.intn(4)); // around StorageLimits.anyValueDepthMax
    const k = this.rand.intn(9);
    if (k === 7 && depth < 4) {
      const values: Obj[] = [];
      for (let i = this.rand.intn(3); i > 0; i--) values.push(this.anyValue(depth + 1));
      return { arrayValue: { values } };
    }
    if (k === 8 && depth < 4) return { kvlistValue: { values: this.keyValues(this.rand.intn(3), depth + 1) } };
    switch (k) {
      case 0:
        return {};
      case 1:
        return { boolValue: this.chance(500) };
      case 2:
        return { intValue: this.int64() };
      case 3:
        return { doubleValue: this.double() };
      case 4:
        return { bytesValue: this.rand.bytes(this.rand.intn(6)) };
      default:
        return { stringValue: this.string() };
    }
  }

  /** nested is a chain of `levels` arrays and kvlists around a scalar. */
  nested(levels: number): Obj {
    let v: Obj = { stringValue: 'leaf' };
    for (let i = 0; i < levels; i++) v = this.chance(500) ? { arrayValue: { values: [v] } } : { kvlistValue: { values: [{ key: 'k', value: v }] } };
    return v;
  }

  keyValues(n: number, depth: number): Obj[] {
    const out: Obj[] = [];
    for (let i = 0; i < n; i++) {
      const kv: Obj = { key: `k${i}.${this.pick(['a', 'b', 'ü'])}` };
      if (!this.chance(50)) kv.value = this.anyValue(depth);
      out.push(unknowns(this.rand, kv));
    }
    if (n > 1 && this.rare()) (out[n - 1] as Obj).key = (out[0] as Obj).key; // duplicate key
    return out;
  }

  attributes(): Obj[] {
    if (this.rare() && this.chance(150)) return this.keyValues(260, 1); // over attributesPerItemMax
    return this.keyValues(this.rand.intn(5), 1);
  }

  id(length: number, optional: boolean): Uint8Array {
    if (optional && this.chance(300)) return new Uint8Array(0);
    if (this.rare()) return this.pick([new Uint8Array(length), new Uint8Array(0), this.rand.bytes(length - 1), this.rand.bytes(length + 1)]);
    const b = this.rand.bytes(length);
    b[0] = (b[0] as number) | 1;
    return b;
  }

  time(): string {
    if (this.rare()) return this.pick(['0', String(NOW_NS - 200n * HOUR_NS), String(NOW_NS + HOUR_NS), '18446744073709551615']);
    return String(NOW_NS - BigInt(this.rand.nextU32()) * 1000n);
  }

  count(): string {
    if (this.rare()) return this.pick(['9007199254740992', '18446744073709551615']);
    return String(this.rand.intn(1000));
  }

  enumValue(max: number): number {
    if (this.rare()) return this.pick([max + 1, -1, 1000]);
    return this.rand.intn(max + 1);
  }

  resource(): Obj | undefined {
    if (this.chance(100)) return undefined;
    return unknowns(this.rand, { attributes: this.attributes(), droppedAttributesCount: this.chance(800) ? 0 : this.rand.nextU32() });
  }

  scope(): Obj | undefined {
    if (this.chance(100)) return undefined;
    return unknowns(this.rand, { name: this.string(), version: this.string(), attributes: this.attributes(), droppedAttributesCount: this.rand.intn(3) });
  }

  envelope(itemsField: string, scopesField: string, item: () => Obj): Obj {
    const out: Obj[] = [];
    for (let r = this.rand.intn(3); r > 0; r--) {
      const scopes: Obj[] = [];
      for (let s = this.rand.intn(3); s > 0; s--) {
        const items: Obj[] = [];
        for (let i = this.rand.intn(5); i > 0; i--) items.push(item());
        scopes.push(unknowns(this.rand, { scope: this.scope(), [itemsField]: items, schemaUrl: this.string() }));
      }
      out.push(unknowns(this.rand, { resource: this.resource(), [scopesField]: scopes, schemaUrl: this.string() }));
    }
    return { out };
  }

  /** traces draws an ExportTraceServiceRequest. */
  traces(): Obj {
    const { out } = this.envelope('spans', 'scopeSpans', () => this.span());
    return unknowns(this.rand, { resourceSpans: out });
  }

  span(): Obj {
    const start = this.time();
    const end = this.rare() ? String(BigInt(start) - 1n) : start === '18446744073709551615' ? start : String(BigInt(start) + BigInt(this.rand.intn(1_000_000)));
    const s: Obj = {
      traceId: this.id(16, false),
      spanId: this.id(8, false),
      traceState: this.chance(500) ? '' : 'vendor=value',
      parentSpanId: this.id(8, true),
      flags: this.pick([0, 1, 0x301, 0xffffffff]),
      name: this.rare() && this.chance(100) ? 'n'.repeat(262_145) : this.string(),
      kind: this.enumValue(5),
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      attributes: this.attributes(),
      droppedAttributesCount: this.rand.intn(3),
      events: [] as Obj[],
      droppedEventsCount: this.rand.intn(2),
      links: [] as Obj[],
      droppedLinksCount: this.rand.intn(2),
    };
    for (let i = this.rand.intn(3); i > 0; i--) {
      (s.events as Obj[]).push({ timeUnixNano: this.time(), name: this.string(), attributes: this.attributes(), droppedAttributesCount: this.rand.intn(2) });
    }
    for (let i = this.rand.intn(3); i > 0; i--) {
      (s.links as Obj[]).push({
        traceId: this.id(16, false),
        spanId: this.id(8, false),
        traceState: this.string(),
        attributes: this.attributes(),
        droppedAttributesCount: this.rand.intn(2),
        flags: this.rand.intn(1024),
      });
    }
    if (!this.chance(200)) s.status = { code: this.enumValue(2), message: this.chance(700) ? '' : this.string() };
    return unknowns(this.rand, s);
  }

  /** metrics draws an ExportMetricsServiceRequest. */
  metrics(): Obj {
    const { out } = this.envelope('metrics', 'scopeMetrics', () => this.metric());
    return { resourceMetrics: out };
  }

  temporality(): number {
    return this.rare() ? this.pick([0, 3]) : 1 + this.rand.intn(2);
  }

  metric(): Obj {
    const m: Obj = { name: this.string(), description: this.string(), unit: this.pick(['', 'ms', 'By', '1']) };
    if (this.chance(100)) m.metadata = this.keyValues(2, 1);
    const n = this.rand.intn(4);
    const points = (f: () => Obj): Obj[] => {
      const ps: Obj[] = [];
      for (let i = 0; i < n; i++) ps.push(f());
      return ps;
    };
    const kind = this.rare() ? 5 : this.rand.intn(5);
    switch (kind) {
      case 0:
        m.gauge = { dataPoints: points(() => this.numberPoint()) };
        break;
      case 1:
        m.sum = { dataPoints: points(() => this.numberPoint()), aggregationTemporality: this.temporality(), isMonotonic: this.chance(500) };
        break;
      case 2:
        m.histogram = { dataPoints: points(() => this.histogramPoint()), aggregationTemporality: this.temporality() };
        break;
      case 3:
        m.exponentialHistogram = { dataPoints: points(() => this.expHistogramPoint()), aggregationTemporality: this.temporality() };
        break;
      case 4:
        m.summary = { dataPoints: points(() => this.summaryPoint()) };
        break;
      default:
        break; // no data
    }
    return unknowns(this.rand, m);
  }

  pointCommon(p: Obj): Obj {
    p.attributes = this.attributes();
    if (!this.chance(300)) p.startTimeUnixNano = this.time();
    p.timeUnixNano = this.time();
    p.flags = this.pick([0, 0, 1]);
    const exemplars: Obj[] = [];
    for (let i = this.rand.intn(3); i > 0; i--) {
      const x: Obj = { filteredAttributes: this.chance(900) ? this.keyValues(this.rand.intn(3), 1) : this.attributes(), timeUnixNano: this.time() };
      if (!this.rare()) {
        if (this.chance(500)) x.asDouble = this.double();
        else x.asInt = this.int64();
      }
      x.traceId = this.id(16, true);
      x.spanId = this.id(8, true);
      exemplars.push(x);
    }
    p.exemplars = exemplars;
    return p;
  }

  numberPoint(): Obj {
    const p = this.pointCommon({});
    if (!this.rare()) {
      if (this.chance(500)) p.asDouble = this.double();
      else p.asInt = this.int64();
    }
    return unknowns(this.rand, p);
  }

  histogramPoint(): Obj {
    const p = this.pointCommon({ count: this.count() });
    if (this.chance(700)) p.sum = this.double();
    if (this.chance(500)) p.min = this.double();
    if (this.chance(500)) p.max = this.double();
    const nb = this.rand.intn(5);
    const bounds: number[] = [];
    for (let i = 0; i < nb; i++) bounds.push(i * 10 - 5 + (this.rare() ? -100 : 0));
    const counts: string[] = [];
    const nc = nb === 0 && this.chance(500) ? 0 : nb + 1 + (this.rare() ? 1 : 0);
    for (let i = 0; i < nc; i++) counts.push(this.count());
    p.explicitBounds = bounds;
    p.bucketCounts = counts;
    return unknowns(this.rand, p);
  }

  buckets(): Obj | undefined {
    if (this.chance(200)) return undefined;
    const counts: string[] = [];
    for (let i = this.rand.intn(5); i > 0; i--) counts.push(this.count());
    return { offset: this.pick([0, -3, 7, -2147483648, 2147483647]), bucketCounts: counts };
  }

  expHistogramPoint(): Obj {
    const p = this.pointCommon({ count: this.count(), scale: this.rare() ? this.pick([-11, 21]) : this.rand.intn(31) - 10, zeroCount: this.count(), zeroThreshold: this.pick([0, 1e-9]) });
    if (this.chance(700)) p.sum = this.double();
    if (this.chance(500)) p.min = this.double();
    if (this.chance(500)) p.max = this.double();
    const pos = this.buckets();
    if (pos !== undefined) p.positive = pos;
    const neg = this.buckets();
    if (neg !== undefined) p.negative = neg;
    return p;
  }

  summaryPoint(): Obj {
    const p = this.pointCommon({ count: this.count(), sum: this.double() });
    delete p.exemplars;
    const qs: Obj[] = [];
    for (let i = this.rand.intn(4); i > 0; i--) qs.push({ quantile: this.rare() ? this.pick([1.5, -0.1, Number.NaN]) : this.pick([0, 0.5, 0.99, 1]), value: this.double() });
    p.quantileValues = qs;
    return p;
  }

  /** logs draws an ExportLogsServiceRequest. */
  logs(): Obj {
    const { out } = this.envelope('logRecords', 'scopeLogs', () => this.log());
    return { resourceLogs: out };
  }

  log(): Obj {
    const l: Obj = {
      timeUnixNano: this.chance(200) ? '0' : this.time(),
      observedTimeUnixNano: this.chance(100) ? '0' : this.time(),
      severityNumber: this.enumValue(24),
      severityText: this.pick(['', 'INFO', 'ERROR', 'warn']),
      attributes: this.attributes(),
      droppedAttributesCount: this.rand.intn(2),
      flags: this.pick([0, 1]),
      traceId: this.id(16, true),
      spanId: this.id(8, true),
      eventName: this.pick(['', 'browser.click']),
    };
    if (!this.chance(100)) l.body = this.anyValue(1);
    return unknowns(this.rand, l);
  }
}
