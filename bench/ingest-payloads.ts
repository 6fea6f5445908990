/**
 * ingest-payloads.ts — the request bodies of `bench/ingest.ts`: realistic
 * OTLP export requests encoded once per run by protobufjs (the reference
 * encoder over src/otlp/proto, not our own decoder's mirror image), then
 * copied and patched in a few fixed-width places per request, so that every
 * request of a run is a distinct body without re-encoding on the load
 * generator's core.
 *
 * Shapes (seeded; SeededRand, no unseeded randomness):
 * - traces: one resource (service, host, k8s attributes), one scope, `batch`
 *   spans of ~300 bytes, each with IngestBenchLimits.spanAttributes
 *   attributes; runs of spansPerTrace spans share a trace id (one root, the
 *   rest its children).
 * - metrics: one resource whose `host.name` names the load slot, one scope,
 *   metricNames metrics (gauges and cumulative sums) of batch/metricNames
 *   points each; the points of a metric differ by a `cpu` attribute, so the
 *   `batch` points of a body are `batch` distinct series.
 * - logs: one resource, one scope, `batch` log records with a ~80-byte body,
 *   five attributes, a severity, and the trace and span id of a request.
 *
 * What a request patches (makeBody):
 * - traces and logs: the first 8 bytes of every trace id become the slot and
 *   the request's sequence number (u32 big-endian each); the last 8 stay the
 *   template's, distinct per trace. So no two requests of a run share a trace
 *   id, and no two bodies are equal (the receiver's idempotency key is a hash
 *   of the body: an equal body would be a duplicate, acknowledged and not
 *   stored again).
 * - metrics: the slot's 8 decimal digits in host.name, and every point's
 *   time_unix_nano (fixed64) = baseMs + seq ms. A slot sends its requests one
 *   after the other, so each of its series gets strictly increasing
 *   timestamps: the store refuses an older sample ("out of order") and keeps
 *   one sample per equal timestamp, either of which would make stored differ
 *   from acknowledged.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Protobuf from 'protobufjs';
import type { OtlpSignal } from '../src/otlp/ingest.js';
import type { Obj } from '../src/otlp/otlp-test-gen.js';
import { assert } from '../src/errors.js';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { IngestBenchLimits, IngestLimits } from '../src/limits.js';
import { repoRoot } from './kv-otlpdb.js';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof Protobuf;

/** REQUEST_TYPES are the collector request messages by signal. */
const REQUEST_TYPES: Readonly<Record<OtlpSignal, string>> = {
  traces: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
  metrics: 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
  logs: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
};

/**
 * requestType loads `signal`'s request type from the .proto files in the
 * source tree (src/otlp/proto; the build does not copy them to dist/, so
 * otlp-test-gen's loader, which looks beside its own module, finds nothing
 * when the bench runs from dist/).
 */
function requestType(signal: OtlpSignal): Protobuf.Type {
  const dir = join(repoRoot(), 'src', 'otlp', 'proto');
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) => join(dir, target);
  root.loadSync(['opentelemetry/proto/collector/trace/v1/trace_service.proto', 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto', 'opentelemetry/proto/collector/logs/v1/logs_service.proto'], { keepCase: false });
  root.resolveAll();
  return root.lookupType(REQUEST_TYPES[signal]);
}

/** BodyTemplate is one encoded request and where makeBody patches it. */
export interface BodyTemplate {
  readonly signal: OtlpSignal;
  /** items is the spans, data points or log records of the body. */
  readonly items: number;
  readonly bytes: Uint8Array;
  /** traceIdOffsets are the offsets of every trace id (traces and logs; empty for metrics). */
  readonly traceIdOffsets: readonly number[];
  /** timeOffsets are the offsets of every point's time_unix_nano (metrics; empty otherwise). */
  readonly timeOffsets: readonly number[];
  /** slotOffset is the offset of the 8 slot digits in host.name (metrics), or -1. */
  readonly slotOffset: number;
}

const NS_PER_MS = 1_000_000n;
/** SLOT_SENTINEL is the host.name placeholder of a metric template: 8 ASCII bytes makeBody overwrites with the slot's digits. */
const SLOT_SENTINEL = '~SLOT~~~';
/** TIME_SENTINEL_NS is added to the metric template's point times so that their 8 bytes occur nowhere else. */
const TIME_SENTINEL_NS = 777_777n;
const SLOT_DIGITS = 8;
const U32 = 0x1_0000_0000;

const str = (key: string, value: string): Obj => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): Obj => ({ key, value: { intValue: String(value) } });

function resource(rand: SeededRand, hostName: string): Obj {
  return {
    attributes: [
      str('service.name', 'checkout'),
      str('service.version', '2.14.1'),
      str('service.instance.id', `checkout-${rand.intn(1_000_000)}`),
      str('host.name', hostName),
      str('k8s.namespace.name', 'shop'),
      str('k8s.pod.name', `checkout-7f9c${rand.intn(10_000)}`),
      str('telemetry.sdk.language', 'nodejs'),
    ],
  };
}

const ROUTES = ['/orders/{id}', '/cart', '/checkout', '/products/{sku}', '/users/{id}'];
const METHODS = ['GET', 'POST', 'PUT', 'GET'];

function span(rand: SeededRand, traceId: Uint8Array, rootId: Uint8Array | null, startNs: bigint): Obj {
  const route = ROUTES[rand.intn(ROUTES.length)] as string;
  const method = METHODS[rand.intn(METHODS.length)] as string;
  const status = rand.intn(20) === 0 ? 500 : 200;
  const spanId = rand.bytes(8);
  spanId[0] = (spanId[0] as number) | 1;
  const attributes = [
    str('http.method', method),
    str('http.route', route),
    int('http.status_code', status),
    str('http.scheme', 'https'),
    str('net.host.name', 'checkout'),
    int('net.host.port', 8080),
    str('net.peer.ip', `10.1.${rand.intn(256)}.${rand.intn(256)}`),
    str('http.user_agent', 'okhttp/4.12'),
    str('http.flavor', '1.1'),
    int('app.items', rand.intn(12)),
  ];
  assert(attributes.length === IngestBenchLimits.spanAttributes, 'every span has spanAttributes attributes');
  const s: Obj = {
    traceId,
    spanId,
    name: `${method} ${route}`,
    kind: rootId === null ? 2 : 3,
    startTimeUnixNano: String(startNs),
    endTimeUnixNano: String(startNs + BigInt(1 + rand.intn(50_000_000))),
    attributes,
    status: { code: status === 500 ? 2 : 0 },
  };
  if (rootId !== null) s.parentSpanId = rootId;
  return s;
}

function traceId(rand: SeededRand): Uint8Array {
  const id = rand.bytes(16);
  id[15] = (id[15] as number) | 1; // the patched first half may be zero; the template's half never is
  return id;
}

function tracesRequest(rand: SeededRand, batch: number, nowMs: number): Obj {
  const spans: Obj[] = [];
  const base = BigInt(nowMs - 30_000) * NS_PER_MS;
  for (let t = 0; t < batch / IngestBenchLimits.spansPerTrace; t++) {
    const id = traceId(rand);
    const start = base + BigInt(rand.intn(20_000)) * NS_PER_MS;
    const root = span(rand, id, null, start);
    spans.push(root);
    for (let c = 1; c < IngestBenchLimits.spansPerTrace; c++) spans.push(span(rand, id, root.spanId as Uint8Array, start + BigInt(c) * NS_PER_MS));
  }
  return {
    resourceSpans: [{ resource: resource(rand, 'node-17.shop.internal'), scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.52.1' }, spans }] }],
  };
}

const METRICS: readonly { name: string; unit: string; sum: boolean }[] = [
  { name: 'system.cpu.time', unit: 's', sum: true },
  { name: 'system.cpu.utilization', unit: '1', sum: false },
  { name: 'system.memory.usage', unit: 'By', sum: false },
  { name: 'system.network.io', unit: 'By', sum: true },
  { name: 'http.server.request.count', unit: '{request}', sum: true },
  { name: 'process.runtime.nodejs.eventloop.delay', unit: 'ms', sum: false },
  { name: 'db.client.connections.usage', unit: '{connection}', sum: false },
  { name: 'queue.messages.processed', unit: '{message}', sum: true },
];

function metricsRequest(rand: SeededRand, batch: number, nowMs: number): Obj {
  assert(METRICS.length === IngestBenchLimits.metricNames, 'one shape per metric name');
  const perMetric = batch / IngestBenchLimits.metricNames;
  const time = String(BigInt(nowMs) * NS_PER_MS + TIME_SENTINEL_NS);
  const start = String(BigInt(nowMs - 3_600_000) * NS_PER_MS);
  const metrics = METRICS.map((m) => {
    const dataPoints: Obj[] = [];
    for (let i = 0; i < perMetric; i++) {
      dataPoints.push({
        attributes: [int('cpu', i), str('state', ['user', 'system', 'idle'][i % 3] as string), str('region', 'eu-west-1')],
        startTimeUnixNano: start,
        timeUnixNano: time,
        asDouble: Math.round(rand.nextU32() / 4_294_967.296) / 100,
      });
    }
    return m.sum
      ? { name: m.name, unit: m.unit, sum: { dataPoints, aggregationTemporality: 2, isMonotonic: true } }
      : { name: m.name, unit: m.unit, gauge: { dataPoints } };
  });
  return {
    resourceMetrics: [{ resource: resource(rand, `bench-host-${SLOT_SENTINEL}`), scopeMetrics: [{ scope: { name: 'otlpdb-bench', version: '1' }, metrics }] }],
  };
}

const LOG_LINES = [
  'order placed: 3 items, total 84.20 EUR, payment authorised by provider',
  'cache miss for product catalogue page; fetched from upstream in 12 ms',
  'retrying payment capture after timeout from provider (attempt 2 of 5)',
  'user session refreshed; token expires in 3600 s; scopes: cart orders',
];

function logsRequest(rand: SeededRand, batch: number, nowMs: number): Obj {
  const logRecords: Obj[] = [];
  const base = BigInt(nowMs - 30_000) * NS_PER_MS;
  for (let i = 0; i < batch; i++) {
    const t = base + BigInt(rand.intn(20_000_000)) * 1000n;
    const spanId = rand.bytes(8);
    spanId[0] = (spanId[0] as number) | 1;
    const error = rand.intn(10) === 0;
    logRecords.push({
      timeUnixNano: String(t),
      observedTimeUnixNano: String(t + 1_000_000n),
      severityNumber: error ? 17 : 9,
      severityText: error ? 'ERROR' : 'INFO',
      body: { stringValue: LOG_LINES[rand.intn(LOG_LINES.length)] as string },
      attributes: [
        str('logger.name', 'checkout.orders'),
        str('thread.name', `worker-${rand.intn(8)}`),
        str('code.function', 'placeOrder'),
        int('code.lineno', 100 + rand.intn(400)),
        str('http.route', ROUTES[rand.intn(ROUTES.length)] as string),
      ],
      traceId: traceId(rand),
      spanId,
      flags: 1,
    });
  }
  return { resourceLogs: [{ resource: resource(rand, 'node-17.shop.internal'), scopeLogs: [{ scope: { name: 'pino', version: '9.1.0' }, logRecords }] }] };
}

/** occurrences lists every offset of `needle` in `hay`. */
function occurrences(hay: Buffer, needle: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) out.push(at);
  return out;
}

/** collectTraceIds lists the trace ids of a traces or logs request object, each once. */
function collectTraceIds(request: Obj, signal: 'traces' | 'logs'): Uint8Array[] {
  const seen = new Map<string, Uint8Array>();
  const [rField, sField, iField] = signal === 'traces' ? ['resourceSpans', 'scopeSpans', 'spans'] : ['resourceLogs', 'scopeLogs', 'logRecords'];
  for (const r of request[rField] as Obj[]) {
    for (const s of r[sField] as Obj[]) {
      for (const item of s[iField] as Obj[]) {
        const id = item.traceId as Uint8Array;
        seen.set(Buffer.from(id).toString('hex'), id);
      }
    }
  }
  return [...seen.values()];
}

/**
 * buildTemplate encodes one request of `signal` with `batch` items whose
 * times lie around `nowMs` (the run's start), drawn from `seed`, and finds
 * the places makeBody patches.
 */
export function buildTemplate(signal: OtlpSignal, batch: number, nowMs: number, seed: number): BodyTemplate {
  assert((IngestBenchLimits.batchSizes as readonly number[]).includes(batch), 'buildTemplate batch is an allowed size');
  assert(Number.isSafeInteger(nowMs) && nowMs > 0, 'buildTemplate nowMs is a wall-clock time');
  const rand = new SeededRand(seed);
  const request = signal === 'traces' ? tracesRequest(rand, batch, nowMs) : signal === 'metrics' ? metricsRequest(rand, batch, nowMs) : logsRequest(rand, batch, nowMs);
  const type = requestType(signal);
  const bytes = Buffer.from(type.encode(type.fromObject(request)).finish());
  assert(bytes.length <= IngestLimits.requestBytesMax, 'a template fits the receiver\'s request bound');
  let traceIdOffsets: number[] = [];
  let timeOffsets: number[] = [];
  let slotOffset = -1;
  if (signal === 'metrics') {
    const time = Buffer.alloc(8);
    time.writeBigUInt64LE(BigInt(nowMs) * NS_PER_MS + TIME_SENTINEL_NS);
    timeOffsets = occurrences(bytes, time);
    assert(timeOffsets.length === batch, 'the metric template has one time per point, found by its sentinel');
    const slots = occurrences(bytes, Buffer.from(SLOT_SENTINEL));
    assert(slots.length === 1, 'the metric template has one slot placeholder');
    slotOffset = slots[0] as number;
  } else {
    for (const id of collectTraceIds(request, signal)) traceIdOffsets.push(...occurrences(bytes, id));
    traceIdOffsets = traceIdOffsets.sort((a, b) => a - b);
    assert(traceIdOffsets.length === batch, 'every item carries one trace id, found in the encoding');
  }
  return { signal, items: batch, bytes, traceIdOffsets, timeOffsets, slotOffset };
}

/**
 * makeBody is request `seq` of load slot `slot`: a copy of the template with
 * its patch points set (see the top of this file). `baseMs` is the metric
 * time of a slot's request 0. Distinct (slot, seq) give distinct bodies.
 */
export function makeBody(t: BodyTemplate, slot: number, seq: number, baseMs: number): Buffer {
  assert(Number.isSafeInteger(slot) && slot >= 0 && slot < U32 && slot < 10 ** SLOT_DIGITS, 'makeBody slot fits its fields');
  assert(Number.isSafeInteger(seq) && seq >= 0 && seq < U32, 'makeBody seq is a u32');
  const out = Buffer.from(t.bytes);
  if (t.signal === 'metrics') {
    out.write(String(slot).padStart(SLOT_DIGITS, '0'), t.slotOffset, SLOT_DIGITS, 'latin1');
    const ns = BigInt(baseMs + seq) * NS_PER_MS;
    for (const at of t.timeOffsets) out.writeBigUInt64LE(ns, at);
  } else {
    for (const at of t.traceIdOffsets) {
      out.writeUInt32BE(slot, at);
      out.writeUInt32BE(seq, at + 4);
    }
  }
  assert(out.length === t.bytes.length, 'a patched body keeps its length');
  return out;
}
