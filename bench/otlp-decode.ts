/**
 * otlp-decode.ts — `node dist/bench/otlp-decode.js [--ms 400] [--rounds 7] [--batches 8] [--only traces|metrics|logs] [--no-json] [--json]`:
 * OTLP request decoding throughput (src/otlp) on realistic pre-encoded
 * batches, against protobufjs decoding the same bytes in the same run.
 *
 * Workloads (seeded, built once before timing; `--batches` distinct requests
 * per signal, decoded round-robin):
 * - traces: 512 spans per request, ~300 bytes each on the wire (16-byte trace
 *   id, 8-byte span and parent ids, a name, kind, status, two times and 10
 *   attributes: strings and ints as HTTP server spans carry), one resource of
 *   6 attributes, one scope;
 * - metrics: 512 points per request: 32 metrics of 16 points, a mix of
 *   gauges, cumulative sums (double and int) and 10-bucket histograms, 3
 *   attributes per point;
 * - logs: 512 records per request, a ~100-character string body, 5
 *   attributes, trace and span ids, severity.
 *
 * Figures: items/s for decodeXProto (ours: rows, validation, ids copied) and
 * for protobufjs `Type.decode` (a generic decode to message objects with Long
 * 64-bit fields, no validation), and their ratio; the same for decodeXJson
 * against `JSON.parse` of the same OTLP/JSON alone. Each measurement runs for
 * --ms after a warm-up; each round measures ours then the baseline right
 * after. Printed: the best round of each rate (the least disturbed on a
 * shared machine) and the median over rounds of the per-round ratio (a load
 * change between rounds cancels out in a pair). Timing never gates anything.
 */
import { performance } from 'node:perf_hooks';
import { assert } from '../src/errors.js';
import { SeededRand } from '../src/fs/seeded-rand.js';
import {
  decodeLogsJson,
  decodeLogsProto,
  decodeMetricsJson,
  decodeMetricsProto,
  decodeTracesJson,
  decodeTracesProto,
} from '../src/otlp/index.js';
import type { OtlpDecodeOptions, OtlpDecodeResult } from '../src/otlp/index.js';
import { TEST_NOW_MS, loadOtlpTypes } from '../src/otlp/otlp-test-gen.js';
import type { Obj } from '../src/otlp/otlp-test-gen.js';
import { toOtlpJson } from '../src/otlp/otlp-test-json.js';

/** OtlpDecodeBench bounds the benchmark's knobs. */
const OtlpDecodeBench = {
  itemsPerBatch: 512,
  msMax: 60_000,
  batchesMax: 256,
  roundsMax: 100,
} as const;

function arg(name: string, fallback: number, max: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v <= 0 || v > max) throw new Error(`--${name} must be an integer in [1, ${max}]`);
  return v;
}

const MS = arg('ms', 400, OtlpDecodeBench.msMax);
const ROUNDS = arg('rounds', 7, OtlpDecodeBench.roundsMax);
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const NO_JSON = process.argv.includes('--no-json');
const BATCHES = arg('batches', 8, OtlpDecodeBench.batchesMax);
const JSON_OUT = process.argv.includes('--json');
const OPTS: OtlpDecodeOptions = { tenant: 'default', nowMs: TEST_NOW_MS };
const NOW_NS = BigInt(TEST_NOW_MS - 60_000) * 1_000_000n;
const N = OtlpDecodeBench.itemsPerBatch;

const ROUTES = ['/api/users/{id}', '/api/orders', '/healthz', '/api/cart/{id}/items', '/login'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];

function kv(key: string, value: Obj): Obj {
  return { key, value };
}

function resource(rand: SeededRand): Obj {
  return {
    attributes: [
      kv('service.name', { stringValue: `checkout-${rand.intn(4)}` }),
      kv('service.version', { stringValue: '1.42.0' }),
      kv('deployment.environment', { stringValue: 'production' }),
      kv('host.name', { stringValue: `ip-10-0-${rand.intn(255)}-${rand.intn(255)}.ec2.internal` }),
      kv('telemetry.sdk.language', { stringValue: 'nodejs' }),
      kv('k8s.pod.name', { stringValue: `checkout-7d9f8b6c5-${rand.intn(99999)}` }),
    ],
  };
}

function tracesBatch(rand: SeededRand): Obj {
  const spans: Obj[] = [];
  let traceId = rand.bytes(16);
  let parent = rand.bytes(8);
  for (let i = 0; i < N; i++) {
    if (i % 8 === 0) {
      traceId = rand.bytes(16);
      parent = rand.bytes(8);
    }
    const start = NOW_NS + BigInt(rand.intn(1_000_000_000));
    const method = METHODS[rand.intn(METHODS.length)] as string;
    const route = ROUTES[rand.intn(ROUTES.length)] as string;
    spans.push({
      traceId,
      spanId: rand.bytes(8),
      parentSpanId: i % 8 === 0 ? new Uint8Array(0) : parent,
      name: `${method} ${route}`,
      kind: 2,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + BigInt(rand.intn(50_000_000))),
      attributes: [
        kv('http.method', { stringValue: method }),
        kv('http.route', { stringValue: route }),
        kv('http.target', { stringValue: route.replace('{id}', String(rand.intn(100000))) }),
        kv('http.status_code', { intValue: String([200, 200, 200, 404, 500][rand.intn(5)]) }),
        kv('net.host.name', { stringValue: 'checkout' }),
        kv('net.host.port', { intValue: '8080' }),
        kv('http.flavor', { stringValue: '1.1' }),
        kv('http.user_agent', { stringValue: 'curl/8.5.0' }),
        kv('net.peer.ip', { stringValue: `10.0.${rand.intn(255)}.${rand.intn(255)}` }),
        kv('http.scheme', { stringValue: 'https' }),
      ],
      status: { code: rand.intn(10) === 0 ? 2 : 0 },
    });
  }
  return { resourceSpans: [{ resource: resource(rand), scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.52.0' }, spans }] }] };
}

function metricsBatch(rand: SeededRand): Obj {
  const metrics: Obj[] = [];
  for (let m = 0; m < N / 16; m++) {
    const points: Obj[] = [];
    for (let p = 0; p < 16; p++) {
      const point: Obj = {
        attributes: [kv('http.request.method', { stringValue: METHODS[p % 4] as string }), kv('http.route', { stringValue: ROUTES[p % 5] as string }), kv('http.response.status_code', { intValue: '200' })],
        startTimeUnixNano: String(NOW_NS - 3_600_000_000_000n),
        timeUnixNano: String(NOW_NS),
      };
      if (m % 4 === 3) {
        const counts = Array.from({ length: 11 }, () => String(rand.intn(1000)));
        Object.assign(point, { count: '5000', sum: rand.intn(1e6) / 3, bucketCounts: counts, explicitBounds: [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000] });
      } else if (m % 4 === 2) point.asInt = String(rand.intn(1e9));
      else point.asDouble = rand.intn(1e9) / 7;
      points.push(point);
    }
    const name = `http.server.metric_${m}`;
    if (m % 4 === 3) metrics.push({ name, unit: 'ms', histogram: { aggregationTemporality: 2, dataPoints: points } });
    else if (m % 4 === 0) metrics.push({ name, unit: '1', gauge: { dataPoints: points } });
    else metrics.push({ name, unit: '{request}', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: points } });
  }
  return { resourceMetrics: [{ resource: resource(rand), scopeMetrics: [{ scope: { name: 'checkout' }, metrics }] }] };
}

function logsBatch(rand: SeededRand): Obj {
  const logRecords: Obj[] = [];
  for (let i = 0; i < N; i++) {
    const t = String(NOW_NS + BigInt(rand.intn(1_000_000_000)));
    logRecords.push({
      timeUnixNano: t,
      observedTimeUnixNano: t,
      severityNumber: 9,
      severityText: 'INFO',
      body: { stringValue: `order ${rand.intn(1e6)} accepted for customer ${rand.intn(1e5)} after ${rand.intn(500)} ms; items=${rand.intn(20)} total=${rand.intn(1e4)}.99 EUR` },
      attributes: [
        kv('logger.name', { stringValue: 'checkout.orders' }),
        kv('thread.name', { stringValue: `worker-${rand.intn(16)}` }),
        kv('code.function', { stringValue: 'acceptOrder' }),
        kv('order.items', { intValue: String(rand.intn(20)) }),
        kv('customer.tier', { stringValue: ['gold', 'silver', 'bronze'][rand.intn(3)] as string }),
      ],
      traceId: rand.bytes(16),
      spanId: rand.bytes(8),
      flags: 1,
    });
  }
  return { resourceLogs: [{ resource: resource(rand), scopeLogs: [{ scope: { name: 'pino' }, logRecords }] }] };
}

/** rate runs `op` over the batches round-robin for MS after a warm-up and returns items per second. */
function rate(bodies: readonly Uint8Array[], op: (b: Uint8Array) => unknown): number {
  let sink = 0;
  for (let i = 0; i < 2 * bodies.length; i++) sink += op(bodies[i % bodies.length] as Uint8Array) === undefined ? 0 : 1;
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < MS) {
    for (let i = 0; i < 8; i++) sink += op(bodies[ops++ % bodies.length] as Uint8Array) === undefined ? 0 : 1;
    now = performance.now();
  }
  assert(sink > 0, 'the operations ran');
  return (ops * N) / ((now - start) / 1000);
}

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
}

interface Figures {
  readonly signal: string;
  readonly unit: string;
  readonly protoBytesPerItem: number;
  readonly oursProto: number;
  readonly protobufjs: number;
  readonly ratioProto: number;
  readonly oursJson: number;
  readonly jsonParse: number;
  readonly ratioJson: number;
}

function main(): void {
  const types = loadOtlpTypes();
  const rand = new SeededRand(20260101);
  const out: Figures[] = [];
  const signals = [
    ['traces', 'spans', tracesBatch, decodeTracesProto, decodeTracesJson],
    ['metrics', 'points', metricsBatch, decodeMetricsProto, decodeMetricsJson],
    ['logs', 'records', logsBatch, decodeLogsProto, decodeLogsJson],
  ] as const;
  for (const [signal, unit, batch, proto, json] of signals) {
    const type = types[signal];
    const msgs = Array.from({ length: BATCHES }, () => batch(rand));
    const protoBodies = msgs.map((m) => type.encode(type.fromObject(m)).finish());
    const jsonBodies = msgs.map((m) => Buffer.from(JSON.stringify(toOtlpJson(new SeededRand(1), m))));
    for (const b of protoBodies) {
      const r: OtlpDecodeResult<unknown> = proto(b, OPTS);
      assert(r.rows.length === N && r.rejected === 0, `the ${signal} workload decodes whole`);
    }
    for (const b of jsonBodies) assert(json(b, OPTS).rows.length === N, `the ${signal} JSON workload decodes whole`);
    if (ONLY !== undefined && ONLY !== signal) continue;
    let oursProto = 0;
    let protobufjs = 0;
    let oursJson = 0;
    let jsonParse = 0;
    const protoRatios: number[] = [];
    const jsonRatios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const a = rate(protoBodies, (b) => proto(b, OPTS));
      const b0 = rate(protoBodies, (b) => type.decode(b));
      oursProto = Math.max(oursProto, a);
      protobufjs = Math.max(protobufjs, b0);
      protoRatios.push(a / b0);
      if (NO_JSON) continue;
      const c = rate(jsonBodies, (b) => json(b, OPTS));
      const d = rate(jsonBodies, (b) => JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as unknown);
      oursJson = Math.max(oursJson, c);
      jsonParse = Math.max(jsonParse, d);
      jsonRatios.push(c / d);
    }
    const bytes = protoBodies.reduce((s, b) => s + b.length, 0) / (BATCHES * N);
    out.push({ signal, unit, protoBytesPerItem: Math.round(bytes), oursProto, protobufjs, ratioProto: median(protoRatios), oursJson, jsonParse, ratioJson: median(jsonRatios) });
  }
  if (JSON_OUT) {
    console.log(JSON.stringify({ ms: MS, rounds: ROUNDS, batches: BATCHES, itemsPerBatch: N, figures: out }));
    return;
  }
  const k = (v: number): string => `${(v / 1000).toFixed(0)}k`;
  console.log(`otlp-decode: ${BATCHES} batches of ${N} items per signal, best of ${ROUNDS} rounds of ${MS} ms; ratio: median of the rounds' ratios`);
  console.log('signal   bytes/item  ours proto/s  protobufjs/s  ratio | ours JSON/s  JSON.parse/s  ratio');
  for (const f of out) {
    console.log(
      `${f.signal.padEnd(8)} ${String(f.protoBytesPerItem).padStart(10)}  ${`${k(f.oursProto)} ${f.unit}`.padStart(12)}  ${k(f.protobufjs).padStart(12)}  ${f.ratioProto.toFixed(2).padStart(5)} | ${k(f.oursJson).padStart(11)}  ${k(f.jsonParse).padStart(12)}  ${f.ratioJson.toFixed(2).padStart(5)}`,
    );
  }
}

main();
