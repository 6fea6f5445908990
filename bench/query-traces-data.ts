/**
 * query-traces-data.ts — the seeded traces of `bench/query-traces.ts` and
 * what the queries over them must answer.
 *
 * Shape (SeededRand; no unseeded randomness): `traces` traces of 10 to 30
 * spans (20 on average), each starting at a random time in the hour before
 * the run (ending at least 2 minutes before it), as a tree under one root;
 * 12 services, 4 span names each; every span carries http.method,
 * http.status_code, region (8 values) and customer.id — the trace's customer,
 * one of `traces / 5` (about 5 traces each, the selective attribute). Span
 * durations are log-normal-ish; a trace's duration is its root's.
 *
 * Requests are OTLP ExportTraceServiceRequest bodies encoded by protobufjs
 * (the reference encoder over src/otlp/proto), TRACES_PER_REQUEST traces
 * each, one ResourceSpans per service.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Protobuf from 'protobufjs';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { repoRoot } from './kv-otlpdb.js';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof Protobuf;

const SERVICES = ['frontend', 'checkout', 'cart', 'payment', 'inventory', 'auth', 'search', 'shipping', 'email', 'ads', 'currency', 'recommend'];
const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-east-2', 'us-west-2', 'ap-south-1', 'ap-northeast-1', 'sa-east-1'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
/** TRACES_PER_REQUEST is how many traces one request body holds (about 1,000 spans). */
export const TRACES_PER_REQUEST = 50;

/** TraceFacts is what a query must find of one trace. */
export interface TraceFacts {
  readonly traceIdHex: string;
  readonly spans: number;
  readonly customer: string;
  readonly startNs: bigint;
  readonly durationNs: bigint;
}

/** QueryTracesData is the run's request bodies and the facts of every trace. */
export interface QueryTracesData {
  readonly bodies: Buffer[];
  readonly traces: TraceFacts[];
  readonly spans: number;
  readonly bytes: number;
  /** windowStartS and windowEndS bound every span start, in unix seconds. */
  readonly windowStartS: number;
  readonly windowEndS: number;
}

function requestType(): Protobuf.Type {
  const dir = join(repoRoot(), 'src', 'otlp', 'proto');
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) => join(dir, target);
  root.loadSync(['opentelemetry/proto/collector/trace/v1/trace_service.proto'], { keepCase: false });
  root.resolveAll();
  return root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
}

const str = (key: string, value: string): object => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): object => ({ key, value: { intValue: value } });

/**
 * QueryTracesArrival is the order the bench writes its traces in. 'time':
 * by trace start, as live telemetry arrives (an SDK exports a span soon after
 * it ends), so each flush holds a stretch of the hour. 'random': the hour in
 * random order, so every block spans the whole hour and no search can skip a
 * block by time; the worst case for newest-first early stops.
 */
export type QueryTracesArrival = 'time' | 'random';

/** buildQueryTracesData makes `traces` traces whose spans start in the hour before `nowMs`, written in `arrival` order. */
export function buildQueryTracesData(traces: number, nowMs: number, seed: number, arrival: QueryTracesArrival = 'time'): QueryTracesData {
  const type = requestType();
  const rand = new SeededRand(seed);
  const customers = Math.max(1, Math.floor(traces / 5));
  const windowEndMs = nowMs - 2 * 60_000;
  const windowStartMs = windowEndMs - 58 * 60_000;
  const facts: TraceFacts[] = [];
  const bodies: Buffer[] = [];
  let spansTotal = 0;
  let bytes = 0;
  let bySvc = new Map<number, object[]>();
  const built: { startNs: bigint; spans: { svc: number; obj: Record<string, unknown> }[] }[] = [];
  const flush = (): void => {
    if (bySvc.size === 0) return;
    const resourceSpans = [...bySvc].map(([svc, spans]) => ({
      resource: { attributes: [str('service.name', SERVICES[svc] as string), str('service.namespace', 'shop'), str('host.name', `node-${svc % 5}`)] },
      scopeSpans: [{ scope: { name: 'bench-query-traces' }, spans }],
    }));
    const body = Buffer.from(type.encode(type.fromObject({ resourceSpans })).finish());
    bodies.push(body);
    bytes += body.length;
    bySvc = new Map();
  };
  for (let tr = 0; tr < traces; tr++) {
    const traceId = rand.bytes(16);
    traceId[0] = (traceId[0] as number) | 0x10; // no leading zero nibble: the hex form is always 32 digits
    const customer = `c${rand.intn(customers)}`;
    const region = REGIONS[rand.intn(REGIONS.length)] as string;
    const n = 10 + rand.intn(21);
    const startMs = windowStartMs + rand.intn(windowEndMs - windowStartMs - 10_000);
    const startNs = BigInt(startMs) * 1_000_000n + BigInt(rand.intn(1_000_000));
    const ids: Uint8Array[] = [];
    let endNs = startNs;
    const spanObjs: { svc: number; obj: Record<string, unknown>; end: bigint }[] = [];
    for (let i = 0; i < n; i++) {
      const spanId = rand.bytes(8);
      spanId[0] = (spanId[0] as number) | 1;
      const parent = i === 0 ? undefined : ids[rand.intn(ids.length)];
      ids.push(spanId);
      const svc = i === 0 ? 0 : rand.intn(SERVICES.length);
      const s = startNs + BigInt(i) * 1_000_000n + BigInt(rand.intn(5_000_000));
      const d = BigInt(Math.floor(Math.exp(11 + (rand.intn(1000) / 1000) * 9)));
      const e = s + d;
      if (e > endNs) endNs = e;
      const error = rand.intn(40) === 0;
      spanObjs.push({
        svc,
        end: e,
        obj: {
          traceId,
          spanId,
          ...(parent === undefined ? {} : { parentSpanId: parent }),
          name: `${SERVICES[svc] as string}.op${rand.intn(4)}`,
          kind: i === 0 ? 2 : 1 + rand.intn(3),
          startTimeUnixNano: String(s),
          endTimeUnixNano: String(e),
          attributes: [str('http.method', METHODS[rand.intn(METHODS.length)] as string), int('http.status_code', error ? 500 : 200), str('region', region), str('customer.id', customer)],
          status: error ? { code: 2, message: 'failed' } : {},
        },
      });
    }
    // The root lasts the whole trace, so the trace's duration is its root's.
    const root = spanObjs[0] as { obj: Record<string, unknown> };
    root.obj['endTimeUnixNano'] = String(endNs);
    spansTotal += n;
    facts.push({ traceIdHex: Buffer.from(traceId).toString('hex'), spans: n, customer, startNs, durationNs: endNs - startNs });
    built.push({ startNs, spans: spanObjs });
  }
  // A stable sort: traces starting at the same nanosecond keep their order.
  if (arrival === 'time') built.sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  for (let tr = 0; tr < built.length; tr++) {
    for (const s of (built[tr] as (typeof built)[number]).spans) {
      let list = bySvc.get(s.svc);
      if (list === undefined) {
        list = [];
        bySvc.set(s.svc, list);
      }
      list.push(s.obj);
    }
    if ((tr + 1) % TRACES_PER_REQUEST === 0) flush();
  }
  flush();
  return { bodies, traces: facts, spans: spansTotal, bytes, windowStartS: Math.floor(windowStartMs / 1000), windowEndS: Math.ceil(windowEndMs / 1000) };
}
