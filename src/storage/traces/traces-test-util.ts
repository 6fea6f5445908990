/**
 * traces-test-util.ts — a seeded generator of realistically shaped traces for
 * the span block tests and size figures: a few services with shared resource
 * objects, a few repeated span names per service, traces of 2–30 spans whose
 * spans sit together and whose start times grow through a one-minute bucket,
 * log-normal-ish durations, a few low-cardinality attributes (http.method,
 * http.status_code, db.system) and one high-cardinality one (http.target with
 * a numeric id, user.id). Test code only.
 */
import { tempShardDb } from '../storage-test-util.js';
import { OtlpdbError } from '../../errors.js';
import type { SeededRand } from '../../fs/seeded-rand.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import type { ShardDb } from '../shard/shard-db.js';
import type { KeyRange, KvEntry, KvRead } from '../shard/shard-db.js';
import type { KeyValue, Resource, Scope, SpanKind, SpanRow, StatusCode } from '../rows.js';
import { SPAN_ID_BYTES, TRACE_ID_BYTES } from '../rows.js';
import { ByteWriter } from '../codec/varint.js';
import { TraceKeySpace } from './trace-keys.js';
import type { TraceStore } from './trace-store.js';
import { decodeTraceSummaries, encodeTraceSummaries } from './trace-summaries.js';
import type { TraceSummaryEntry } from './trace-summaries.js';

const SERVICES = ['frontend', 'checkout', 'cart', 'payment', 'inventory', 'auth'];
const OPERATIONS = ['GET /api/cart', 'POST /api/checkout', 'SELECT orders', 'redis GET', 'grpc.Payment/Charge', 'auth.verify', 'render'];
const METHODS = ['GET', 'POST', 'PUT'];
const STATUS_CODES = [200n, 200n, 200n, 201n, 404n, 500n];
const BUCKET_START_NS = 1_790_000_000_000_000_000n;

function pick<T>(rand: SeededRand, xs: readonly T[]): T {
  return xs[rand.intn(xs.length)] as T;
}

/** realisticSpans makes the spans of `traces` traces of one tenant, trace by trace. */
export function realisticSpans(rand: SeededRand, traces: number, tenant = 'default'): SpanRow[] {
  const resources: Resource[] = SERVICES.map((svc, i) => ({
    attributes: [
      { key: 'service.name', value: { type: 'string', value: svc } },
      { key: 'service.version', value: { type: 'string', value: `1.${i}.0` } },
      { key: 'host.name', value: { type: 'string', value: `node-${i % 3}` } },
      { key: 'telemetry.sdk.language', value: { type: 'string', value: 'nodejs' } },
    ],
    droppedAttributesCount: 0,
    schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
  }));
  const scope: Scope = { name: '@opentelemetry/instrumentation-http', version: '0.52.0', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
  const spans: SpanRow[] = [];
  for (let tr = 0; tr < traces; tr++) {
    const traceId = rand.bytes(TRACE_ID_BYTES);
    const traceStart = BUCKET_START_NS + BigInt(rand.intn(60_000)) * 1_000_000n;
    const n = 2 + rand.intn(29);
    const ids: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const spanId = rand.bytes(SPAN_ID_BYTES);
      const parent = i === 0 ? new Uint8Array(0) : (ids[rand.intn(ids.length)] as Uint8Array);
      ids.push(spanId);
      const svc = rand.intn(SERVICES.length);
      const start = traceStart + BigInt(i * 1000 + rand.intn(1_000_000));
      const durationNs = BigInt(Math.floor(Math.exp(8 + rand.intn(1000) / 100)));
      const error = rand.intn(50) === 0;
      const attributes: KeyValue[] = [
        { key: 'http.method', value: { type: 'string', value: pick(rand, METHODS) } },
        { key: 'http.status_code', value: { type: 'int', value: error ? 500n : pick(rand, STATUS_CODES) } },
        { key: 'http.target', value: { type: 'string', value: `/api/orders/${rand.intn(1_000_000)}` } },
        { key: 'user.id', value: { type: 'string', value: `u${rand.intn(100_000)}` } },
      ];
      if (rand.intn(3) === 0) attributes.push({ key: 'db.system', value: { type: 'string', value: pick(rand, ['postgresql', 'redis']) } });
      spans.push({
        tenant,
        traceId,
        spanId,
        parentSpanId: parent,
        traceState: '',
        flags: 0x101,
        name: OPERATIONS[(svc + rand.intn(2)) % OPERATIONS.length] as string,
        kind: (i === 0 ? 2 : pick(rand, [1, 3, 3])) as SpanKind,
        startTimeUnixNano: start,
        endTimeUnixNano: start + durationNs,
        status: { code: (error ? 2 : 0) as StatusCode, message: error ? 'upstream failed' : '' },
        attributes,
        droppedAttributesCount: 0,
        events: error ? [{ timeUnixNano: start + 10n, name: 'exception', attributes: [], droppedAttributesCount: 0 }] : [],
        droppedEventsCount: 0,
        links: [],
        droppedLinksCount: 0,
        resource: resources[svc] as Resource,
        scope,
      });
    }
  }
  return spans;
}

/** SpaceScanCounter is a KvRead over `inner` that counts the iterators opened over one key space (a range whose lower bound starts with `space`). */
export class SpaceScanCounter implements KvRead {
  scans = 0;
  constructor(
    readonly inner: KvRead,
    readonly space: number,
  ) {}
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return this.inner.getMany(keys);
  }
  pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]> {
    if (range.gte?.[0] === this.space) this.scans++;
    return this.inner.pages(range, pageEntries);
  }
}

/** tempTraceDb is storage-test-util's tempShardDb, under the name the trace tests call it by. */
export const tempTraceDb = tempShardDb;

/** addAndFlush adds `spans` to `store` `chunk` at a time and flushes after every `flushEvery` chunks (flush indexes 1, 2, ...); what is left stays in the head. */
export async function addAndFlush(store: TraceStore, db: ShardDb, tenant: string, spans: readonly SpanRow[], chunk: number, flushEvery: number): Promise<void> {
  let flushIndex = 0;
  for (let i = 0; i < spans.length; i += chunk) {
    store.add(tenant, spans.slice(i, i + chunk), 1_000);
    if ((i / chunk) % flushEvery === flushEvery - 1) await flushHead(store, db, ++flushIndex);
  }
}

/** flushHead flushes `store`'s head as flush `flushIndex`: freeze, the frozen head written in one batch, then dropFrozen. */
export async function flushHead(store: TraceStore, db: ShardDb, flushIndex: number): Promise<void> {
  store.freeze();
  const batch = new KvWriteBatch();
  await store.writeFrozen({ kv: db, batch, flushIndex });
  await db.write(batch);
  store.dropFrozen();
}

/** flushSpans adds `spans` to `store` for `tenant` (time 0) and flushes them as flush `flushIndex` (flushHead). */
export async function flushSpans(store: TraceStore, db: ShardDb, tenant: string, spans: readonly SpanRow[], flushIndex: number): Promise<void> {
  store.add(tenant, spans, 0);
  await flushHead(store, db, flushIndex);
}

/** keysIn lists the keys of one trace key space (every tenant). */
export async function keysIn(db: KvRead, space: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const page of db.pages({ gte: Uint8Array.of(space), lt: Uint8Array.of(space + 1) })) for (const e of page) out.push(e.key);
  return out;
}

/** damageValue flips the bits of `mask` in the middle byte of the value stored under `key`. */
export async function damageValue(db: ShardDb, key: Uint8Array, mask: number): Promise<void> {
  const damaged = Uint8Array.from((await db.get(key)) as Uint8Array);
  const at = damaged.length >> 1;
  damaged[at] = (damaged[at] as number) ^ mask;
  const b = new KvWriteBatch();
  b.put(key, damaged);
  await db.write(b);
}

/** deleteKeys deletes `keys` in one batch. */
export async function deleteKeys(db: ShardDb, keys: readonly Uint8Array[]): Promise<void> {
  const b = new KvWriteBatch();
  for (const k of keys) b.del(k);
  await db.write(b);
}

/** outcomeCode is 'ok' when `p` resolves, else the OtlpdbError code it rejects with ('other' for anything else). */
export function outcomeCode(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (err: unknown) => (err instanceof OtlpdbError ? err.code : 'other'),
  );
}

/** rewriteSummaries re-seals every block's trace summary table in `db` with `change` applied to each entry (a planted wrong summary); it returns how many tables it rewrote. */
export async function rewriteSummaries(db: ShardDb, change: (e: TraceSummaryEntry) => TraceSummaryEntry): Promise<number> {
  const batch = new KvWriteBatch();
  let tables = 0;
  for await (const page of db.pages({ gte: Uint8Array.of(TraceKeySpace.summaries), lt: Uint8Array.of(TraceKeySpace.summaries + 1) })) {
    for (const e of page) {
      batch.put(e.key, encodeTraceSummaries(new ByteWriter(), [...decodeTraceSummaries(e.value).entries.values()].map(change)));
      tables++;
    }
  }
  await db.write(batch);
  return tables;
}
