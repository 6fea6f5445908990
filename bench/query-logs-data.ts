/**
 * query-logs-data.ts — the seeded log lines of `bench/query-logs.ts`, kept
 * compactly for the in-process baselines, and the OTLP/HTTP request bodies
 * that load them into otlpdb.
 *
 * Lines come from the LogQL tests' generator (`randomCorpus`,
 * src/query/logql/logql-test-gen.ts: web access logs, application logs with
 * multi-line stack traces, JSON logs, logfmt logs over several services,
 * levels and environments), drawn LINES_PER_DRAW at a time from one
 * SeededRand. Only the times are the bench's own: line i of n is at
 * windowStart + i × (window / n) (ns, distinct, increasing), so arrival
 * order is time order (live telemetry) and "the newest 100 matches" has
 * one answer. The window is the hour that ends two minutes before the run.
 *
 * Requests are OTLP ExportLogsServiceRequest bodies encoded by protobufjs
 * (the reference encoder over src/otlp/proto), LINES_PER_REQUEST lines each,
 * one ResourceLogs per stream (resource attributes service.name, env,
 * format; severity from the level: the stream labels the generator names).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Protobuf from 'protobufjs';
import { assert } from '../src/errors.js';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { randomCorpus } from '../src/query/logql/logql-test-gen.js';
import { repoRoot } from './kv-otlpdb.js';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof Protobuf;

/** LINES_PER_REQUEST is how many lines one request body holds. */
export const LINES_PER_REQUEST = 1_000;
const LINES_PER_DRAW = 10_000;
/** WINDOW_MS is the time the lines span. */
export const WINDOW_MS = 58 * 60_000;
const SEVERITY: Readonly<Record<string, number>> = { debug: 5, info: 9, warn: 13, error: 17 };

/** StreamKey is one stream's labels as the bench filters them. */
export interface StreamKey {
  readonly service: string;
  readonly env: string;
  readonly format: string;
  readonly level: string;
}

/** QueryLogsData is every line (time, text, stream) and the request bodies. */
export interface QueryLogsData {
  readonly lines: string[];
  /** offsetsNs[i] is line i's time minus windowStartNs (exact in a double: < 2^53). */
  readonly offsetsNs: Float64Array;
  /** streamOf[i] indexes `streams`. */
  readonly streamOf: Uint16Array;
  readonly streams: StreamKey[];
  readonly windowStartNs: bigint;
  readonly windowEndNs: bigint;
  readonly bodies: Buffer[];
  readonly bytes: number;
  /** lineBytes is the UTF-8 bytes of every line. */
  readonly lineBytes: number;
}

function requestType(): Protobuf.Type {
  const dir = join(repoRoot(), 'src', 'otlp', 'proto');
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) => join(dir, target);
  root.loadSync(['opentelemetry/proto/collector/logs/v1/logs_service.proto'], { keepCase: false });
  root.resolveAll();
  return root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
}

const str = (key: string, value: string): object => ({ key, value: { stringValue: value } });

/** timeNs is line i's absolute time. */
export function timeNs(d: QueryLogsData, i: number): bigint {
  return d.windowStartNs + BigInt(d.offsetsNs[i] as number);
}

/** buildQueryLogsData draws `n` lines (seeded) in the hour before `nowMs` and encodes them as OTLP bodies. */
export function buildQueryLogsData(n: number, nowMs: number, seed: number): QueryLogsData {
  assert(Number.isSafeInteger(n) && n >= 1, 'buildQueryLogsData n >= 1');
  const type = requestType();
  const rand = new SeededRand(seed);
  const windowEndNs = BigInt(nowMs - 2 * 60_000) * 1_000_000n;
  const windowStartNs = windowEndNs - BigInt(WINDOW_MS) * 1_000_000n;
  const stepNs = Math.floor((WINDOW_MS * 1_000_000) / n);
  assert(stepNs >= 1, 'at most one line per nanosecond');
  const lines: string[] = new Array<string>(n);
  const offsetsNs = new Float64Array(n);
  const streamOf = new Uint16Array(n);
  const streams: StreamKey[] = [];
  const streamIds = new Map<string, number>();
  const bodies: Buffer[] = [];
  let bytes = 0;
  let lineBytes = 0;
  let byStream = new Map<number, object[]>();
  const flush = (): void => {
    if (byStream.size === 0) return;
    const resourceLogs = [...byStream].map(([sid, logRecords]) => {
      const s = streams[sid] as StreamKey;
      return {
        resource: { attributes: [str('service.name', s.service), str('env', s.env), str('format', s.format)] },
        scopeLogs: [{ scope: { name: 'bench-query-logs' }, logRecords }],
      };
    });
    const body = Buffer.from(type.encode(type.fromObject({ resourceLogs })).finish());
    bodies.push(body);
    bytes += body.length;
    byStream = new Map();
  };
  for (let i0 = 0; i0 < n; i0 += LINES_PER_DRAW) {
    const drawn = randomCorpus(rand, Math.min(LINES_PER_DRAW, n - i0));
    for (let k = 0; k < drawn.length; k++) {
      const i = i0 + k;
      const e = drawn[k] as (typeof drawn)[number];
      const label = (name: string): string => e.stream.find((l) => l.name === name)?.value ?? '';
      const key: StreamKey = { service: label('service_name'), env: label('env'), format: label('format'), level: label('level') };
      const sk = `${key.service}\u0000${key.env}\u0000${key.format}\u0000${key.level}`;
      let sid = streamIds.get(sk);
      if (sid === undefined) {
        sid = streams.length;
        streams.push(key);
        streamIds.set(sk, sid);
      }
      const off = i * stepNs;
      lines[i] = e.line;
      offsetsNs[i] = off;
      streamOf[i] = sid;
      lineBytes += Buffer.byteLength(e.line);
      let list = byStream.get(sid);
      if (list === undefined) {
        list = [];
        byStream.set(sid, list);
      }
      const t = String(windowStartNs + BigInt(off));
      list.push({ timeUnixNano: t, observedTimeUnixNano: t, severityNumber: SEVERITY[key.level] ?? 0, severityText: key.level.toUpperCase(), body: { stringValue: e.line } });
      if ((i + 1) % LINES_PER_REQUEST === 0) flush();
    }
  }
  flush();
  return { lines, offsetsNs, streamOf, streams, windowStartNs, windowEndNs, bodies, bytes, lineBytes };
}
