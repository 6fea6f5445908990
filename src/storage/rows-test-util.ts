/**
 * rows-test-util.ts — a seeded generator of valid rows, for the shard entry
 * round-trip tests here and the ingest differential tests later. Every row it
 * makes passes decodeShardEntry's checks; values cover the edges (empty and
 * absent ids, 64-bit times and ints at their extremes, NaN and infinities,
 * nested AnyValues up to the depth limit, Unicode strings). Test code only.
 */
import type { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits as L } from '../limits.js';
import type { AnyValue, KeyValue, LogRow, MetricData, MetricPointRow, NumberValue, Resource, Scope, SpanKind, SpanRow, StatusCode } from './rows.js';
import { SEVERITY_NUMBER_MAX, SPAN_ID_BYTES, TRACE_ID_BYTES } from './rows.js';
import { SHARD_ENTRY_VERSION } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';

/** RowCounts says how many rows of each signal randomRows makes. */
export interface RowCounts {
  readonly spans?: number;
  readonly points?: number;
  readonly logs?: number;
  /** tenant of every row (default 'default'). */
  readonly tenant?: string;
}

/** RandomRows are the rows randomRows made. */
export interface RandomRows {
  readonly spans: SpanRow[];
  readonly points: MetricPointRow[];
  readonly logs: LogRow[];
}

const WORDS = ['GET', 'checkout', 'db.query', 'ünïcødé', '日本語', '🚀', '', 'service.name', 'http.status_code', 'k8s.pod.name', 'error'];

function pick<T>(rand: SeededRand, xs: readonly T[]): T {
  return xs[rand.intn(xs.length)] as T;
}

/** randomString is a short string of words, sometimes empty, sometimes with non-ASCII characters. */
export function randomString(rand: SeededRand): string {
  const n = rand.intn(4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(rand.intn(3) === 0 ? pick(rand, WORDS) : rand.nextU32().toString(36));
  return parts.join(' ');
}

function randomU64(rand: SeededRand): bigint {
  switch (rand.intn(5)) {
    case 0:
      return 0n;
    case 1:
      return (1n << 64n) - 1n;
    default:
      // Realistic nanosecond times around 2026, with noise.
      return 1_790_000_000_000_000_000n + BigInt(rand.nextU32()) * 1000n + BigInt(rand.intn(1000));
  }
}

function randomI64(rand: SeededRand): bigint {
  switch (rand.intn(4)) {
    case 0:
      return -(1n << 63n);
    case 1:
      return (1n << 63n) - 1n;
    default:
      return BigInt(rand.nextU32()) - BigInt(rand.nextU32());
  }
}

function randomDouble(rand: SeededRand): number {
  switch (rand.intn(8)) {
    case 0:
      return NaN;
    case 1:
      return Infinity;
    case 2:
      return -Infinity;
    case 3:
      return rand.intn(1000); // integral doubles are written as msgpack ints and must come back as doubles
    default:
      return (rand.nextU32() - 2 ** 31) / (rand.intn(1000) + 1) + 0.5;
  }
}

function randomCount(rand: SeededRand): number {
  return rand.intn(4) === 0 ? Number.MAX_SAFE_INTEGER - rand.intn(10) : rand.intn(100_000);
}

/** randomAnyValue is a random AnyValue nested at most `depthLeft` levels (1 = scalar only). */
export function randomAnyValue(rand: SeededRand, depthLeft: number): AnyValue {
  const choices = depthLeft > 1 ? 8 : 6;
  switch (rand.intn(choices)) {
    case 0:
      return { type: 'empty' };
    case 1:
      return { type: 'string', value: randomString(rand) };
    case 2:
      return { type: 'bool', value: rand.intn(2) === 0 };
    case 3:
      return { type: 'int', value: randomI64(rand) };
    case 4:
      return { type: 'double', value: randomDouble(rand) };
    case 5:
      return { type: 'bytes', value: rand.bytes(rand.intn(20)) };
    case 6:
      return { type: 'array', values: Array.from({ length: rand.intn(4) }, () => randomAnyValue(rand, depthLeft - 1)) };
    default:
      return { type: 'kvlist', values: randomAttributes(rand, depthLeft - 1, 3) };
  }
}

/** randomAttributes is a random attribute list of up to `max` entries. */
export function randomAttributes(rand: SeededRand, depthLeft: number = L.anyValueDepthMax, max = 6): KeyValue[] {
  return Array.from({ length: rand.intn(max + 1) }, () => ({ key: randomString(rand) || 'k', value: randomAnyValue(rand, Math.max(1, depthLeft)) }));
}

function randomId(rand: SeededRand, bytes: number, optional: boolean): Uint8Array {
  return optional && rand.intn(3) === 0 ? new Uint8Array(0) : rand.bytes(bytes);
}

function randomNumber(rand: SeededRand): NumberValue {
  return rand.intn(2) === 0 ? { type: 'int', value: randomI64(rand) } : { type: 'double', value: randomDouble(rand) };
}

function randomData(rand: SeededRand): MetricData {
  const temporality = rand.intn(2) === 0 ? 1 : 2;
  const nullable = (): number | null => (rand.intn(3) === 0 ? null : randomDouble(rand));
  switch (rand.intn(5)) {
    case 0:
      return { type: 'gauge', value: randomNumber(rand) };
    case 1:
      return { type: 'sum', temporality, monotonic: rand.intn(2) === 0, value: randomNumber(rand) };
    case 2: {
      const n = rand.intn(6);
      const bounds = Array.from({ length: n }, (_, i) => i * 10 + rand.intn(10) / 10 - 5);
      return {
        type: 'histogram',
        temporality,
        count: randomCount(rand),
        sum: nullable(),
        min: nullable(),
        max: nullable(),
        bounds,
        bucketCounts: n === 0 && rand.intn(2) === 0 ? [] : Array.from({ length: n + 1 }, () => randomCount(rand)),
      };
    }
    case 3:
      return {
        type: 'exponentialHistogram',
        temporality,
        count: randomCount(rand),
        sum: nullable(),
        min: nullable(),
        max: nullable(),
        scale: rand.intn(31) - 10,
        zeroCount: randomCount(rand),
        zeroThreshold: rand.intn(2) === 0 ? 0 : 1e-9,
        positive: { offset: rand.intn(200) - 100, bucketCounts: Array.from({ length: rand.intn(8) }, () => randomCount(rand)) },
        negative: { offset: rand.intn(200) - 100, bucketCounts: Array.from({ length: rand.intn(8) }, () => randomCount(rand)) },
      };
    default:
      return {
        type: 'summary',
        count: randomCount(rand),
        sum: randomDouble(rand),
        quantiles: Array.from({ length: rand.intn(5) }, (_, i) => ({ quantile: i / 4, value: randomDouble(rand) })),
      };
  }
}

/**
 * randomRows makes valid rows of one tenant. Resources and scopes come from a
 * small pool of shared objects, plus value-equal copies, so that entry
 * deduplication is exercised both by identity and by value.
 */
export function randomRows(rand: SeededRand, counts: RowCounts): RandomRows {
  const tenant = counts.tenant ?? 'default';
  const resources: Resource[] = Array.from({ length: 1 + rand.intn(3) }, () => ({
    attributes: [{ key: 'service.name', value: { type: 'string', value: `svc-${rand.intn(5)}` } }, ...randomAttributes(rand, 2, 3)],
    droppedAttributesCount: rand.intn(3),
    schemaUrl: rand.intn(2) === 0 ? '' : 'https://opentelemetry.io/schemas/1.26.0',
  }));
  const scopes: Scope[] = Array.from({ length: 1 + rand.intn(3) }, () => ({
    name: pick(rand, ['io.opentelemetry.http', 'otlpdb', '']),
    version: randomString(rand),
    attributes: randomAttributes(rand, 2, 2),
    droppedAttributesCount: rand.intn(2),
    schemaUrl: '',
  }));
  const resource = (): Resource => {
    const r = pick(rand, resources);
    return rand.intn(4) === 0 ? { ...r, attributes: [...r.attributes] } : r;
  };
  const scope = (): Scope => {
    const s = pick(rand, scopes);
    return rand.intn(4) === 0 ? { ...s } : s;
  };
  const spans: SpanRow[] = Array.from({ length: counts.spans ?? 0 }, () => ({
    tenant,
    traceId: rand.bytes(TRACE_ID_BYTES),
    spanId: rand.bytes(SPAN_ID_BYTES),
    parentSpanId: randomId(rand, SPAN_ID_BYTES, true),
    traceState: rand.intn(4) === 0 ? 'vendor=abc,other=1' : '',
    flags: rand.intn(2) === 0 ? 0x101 : rand.nextU32(),
    name: randomString(rand),
    kind: rand.intn(6) as SpanKind,
    startTimeUnixNano: randomU64(rand),
    endTimeUnixNano: randomU64(rand),
    status: { code: rand.intn(3) as StatusCode, message: rand.intn(3) === 0 ? randomString(rand) : '' },
    attributes: randomAttributes(rand),
    droppedAttributesCount: rand.intn(3),
    events: Array.from({ length: rand.intn(3) }, () => ({
      timeUnixNano: randomU64(rand),
      name: randomString(rand),
      attributes: randomAttributes(rand, 3, 3),
      droppedAttributesCount: rand.intn(2),
    })),
    droppedEventsCount: rand.intn(2),
    links: Array.from({ length: rand.intn(3) }, () => ({
      traceId: rand.bytes(TRACE_ID_BYTES),
      spanId: rand.bytes(SPAN_ID_BYTES),
      traceState: '',
      attributes: randomAttributes(rand, 2, 2),
      droppedAttributesCount: rand.intn(2),
      flags: rand.intn(0x200),
    })),
    droppedLinksCount: rand.intn(2),
    resource: resource(),
    scope: scope(),
  }));
  const points: MetricPointRow[] = Array.from({ length: counts.points ?? 0 }, () => ({
    tenant,
    name: pick(rand, ['http.server.duration', 'process.cpu.time', 'queue.length', 'ünïcødé_metric']),
    description: randomString(rand),
    unit: pick(rand, ['ms', 's', 'By', '1', '']),
    data: randomData(rand),
    attributes: randomAttributes(rand, 2, 4),
    startTimeUnixNano: randomU64(rand),
    timeUnixNano: randomU64(rand),
    flags: rand.intn(2),
    exemplars: Array.from({ length: rand.intn(3) }, () => ({
      timeUnixNano: randomU64(rand),
      value: randomNumber(rand),
      traceId: randomId(rand, TRACE_ID_BYTES, true),
      spanId: randomId(rand, SPAN_ID_BYTES, true),
      filteredAttributes: randomAttributes(rand, 1, 2),
    })),
    resource: resource(),
    scope: scope(),
  }));
  const logs: LogRow[] = Array.from({ length: counts.logs ?? 0 }, () => ({
    tenant,
    timeUnixNano: randomU64(rand),
    observedTimeUnixNano: randomU64(rand),
    severityNumber: rand.intn(SEVERITY_NUMBER_MAX + 1),
    severityText: pick(rand, ['INFO', 'WARN', 'ERROR', '']),
    body: rand.intn(2) === 0 ? { type: 'string', value: `GET /api/v1/users/${rand.nextU32()} 200 ${rand.intn(999)}ms` } : randomAnyValue(rand, L.anyValueDepthMax),
    attributes: randomAttributes(rand),
    droppedAttributesCount: rand.intn(2),
    traceId: randomId(rand, TRACE_ID_BYTES, true),
    spanId: randomId(rand, SPAN_ID_BYTES, true),
    flags: rand.intn(2),
    eventName: rand.intn(4) === 0 ? 'device.app.lifecycle' : '',
    resource: resource(),
    scope: scope(),
  }));
  return { spans, points, logs };
}

/** seededEntry is a one-part shard entry of `tenant` holding `rows`, with a seeded idempotency key and leader time: the entries of the apply-path tests. */
export function seededEntry(rand: SeededRand, tenant: string, rows: Partial<Pick<ShardEntry, 'spans' | 'points' | 'logs'>>): ShardEntry {
  return {
    version: SHARD_ENTRY_VERSION,
    tenant,
    idempotencyKey: rand.u64().toString(16).padStart(16, '0'),
    part: 0,
    parts: 1,
    leaderTimeMs: 1_790_000_000_000 + rand.intn(1_000_000),
    spans: rows.spans ?? [],
    points: rows.points ?? [],
    logs: rows.logs ?? [],
  };
}
