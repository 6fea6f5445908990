import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { StoreLimits } from '../../limits.js';
import type { SpanRow } from '../rows.js';
import type { KeyRange, KvEntry, KvRead, ShardDb } from '../shard/shard-db.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import { TraceKeySpace as K } from './trace-keys.js';
import { TraceStore } from './trace-store.js';
import { SpaceScanCounter, realisticSpans, tempTraceDb } from './traces-test-util.js';

// A flush reads the trace-id index for each of its traces (exact distinct
// count, shadow markers on older blocks). It does so in one ordered scan
// merged with the sorted trace ids while the tenant's index is small next to
// the flush, else with one seek per trace (trace-store.ts, "Costs"). These
// tests feed the same seeded flushes (new traces, spans of older traces sent
// again, older traces grown into a later hour bucket, two tenants) to a store
// that scans and one that seeks, and require byte-identical databases after
// every flush; small pages put entries of one trace on both sides of a page
// boundary. A planted merge bug (a page's first entry lost) is caught.
// Seeded; no timing.

const SEED = Number(process.env.OTLPDB_FLUSH_PROBES_SEED ?? 23);
const TENANTS = ['acme', 'beta'];
const FLUSHES = 6;

/** Paged is a KvRead whose scans come in pages of `pageEntries`, optionally losing the first entry of every page after the first (the planted bug). */
class Paged implements KvRead {
  constructor(
    readonly inner: KvRead,
    readonly pageEntries: number,
    readonly loseFirstOfLaterPages = false,
  ) {}
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return this.inner.getMany(keys);
  }
  async *pages(range: KeyRange): AsyncGenerator<readonly KvEntry[]> {
    let n = 0;
    for await (const page of this.inner.pages(range, this.pageEntries)) yield this.loseFirstOfLaterPages && n++ > 0 ? page.slice(1) : page;
  }
}

/** flushInputs are the seeded spans of each flush, per tenant. */
function flushInputs(rand: SeededRand): Map<string, SpanRow[]>[] {
  const older = new Map<string, SpanRow[]>(TENANTS.map((x) => [x, []]));
  const out: Map<string, SpanRow[]>[] = [];
  for (let f = 0; f < FLUSHES; f++) {
    const m = new Map<string, SpanRow[]>();
    for (const tenant of TENANTS) {
      const fresh = realisticSpans(rand, 20 + rand.intn(30), tenant);
      const old = older.get(tenant) as SpanRow[];
      const again: SpanRow[] = [];
      for (let i = 0; i < 15 && old.length > 0; i++) {
        const s = old[rand.intn(old.length)] as SpanRow;
        // The same span sent again, or a new span of an older trace an hour later (another bucket, another block).
        if (rand.intn(2) === 0) again.push(s);
        else again.push({ ...s, spanId: rand.bytes(8), startTimeUnixNano: s.startTimeUnixNano + StoreLimits.traceBucketNs, endTimeUnixNano: s.endTimeUnixNano + StoreLimits.traceBucketNs });
      }
      const unique = new Map<string, SpanRow>();
      for (const s of [...fresh, ...again]) unique.set(Buffer.concat([s.traceId, s.spanId]).toString('hex'), s);
      m.set(tenant, [...unique.values()]);
      old.push(...fresh);
    }
    out.push(m);
  }
  return out;
}

/** dump is every key and value of the database, hex, in key order. */
async function dump(db: KvRead): Promise<string[]> {
  const out: string[] = [];
  for await (const page of db.pages({})) for (const e of page) out.push(`${Buffer.from(e.key).toString('hex')}=${Buffer.from(e.value).toString('hex')}`);
  return out;
}

/** run flushes `inputs` into a store with the given scan bound over `kv(db)`; returns the dumps after each flush and the trace-id index scans. */
async function run(db: ShardDb, inputs: Map<string, SpanRow[]>[], scanBound: number, kv: (db: ShardDb) => KvRead): Promise<{ dumps: string[][]; scans: number; stats: string }> {
  const store = new TraceStore({}, null, scanBound);
  await store.load(db);
  const counter = new SpaceScanCounter(kv(db), K.traceId);
  const dumps: string[][] = [];
  for (let f = 0; f < inputs.length; f++) {
    for (const [tenant, spans] of inputs[f] as Map<string, SpanRow[]>) store.add(tenant, spans, 1_000);
    store.freeze();
    const batch = new KvWriteBatch();
    await store.writeFrozen({ batch, kv: counter, flushIndex: f + 1 });
    await db.write(batch, true);
    store.dropFrozen();
    dumps.push(await dump(db));
  }
  return { dumps, scans: counter.scans, stats: JSON.stringify(store.stats(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) };
}

t.test('the ordered scan and the per-trace seeks write the same databases', async (t) => {
  const inputs = flushInputs(new SeededRand(SEED));
  const traces = inputs.reduce((n, m) => n + [...m.values()].reduce((k, spans) => k + new Set(spans.map((s) => Buffer.from(s.traceId).toString('hex'))).size, 0), 0);
  const scan = await run(await tempTraceDb(t, 'otlpdb-flush-scan-'), inputs, 16, (db) => new Paged(db, 5));
  const seek = await run(await tempTraceDb(t, 'otlpdb-flush-seek-'), inputs, 0, (db) => db);
  t.equal(scan.scans, FLUSHES * TENANTS.length, 'the scanning store read the index once per tenant and flush');
  t.equal(seek.scans, traces, 'the seeking store read it once per trace');
  for (let f = 0; f < FLUSHES; f++) t.strictSame(scan.dumps[f], seek.dumps[f], `flush ${f + 1}: same keys and values`);
  t.equal(scan.stats, seek.stats, 'same stats');
  const markers = (scan.dumps[FLUSHES - 1] as string[]).filter((kv) => kv.startsWith(K.shadow.toString(16).padStart(2, '0'))).length;
  t.ok(markers > 0, `the flushes wrote shadow markers (${markers})`);
});

t.test('planted: a merge that loses an entry at a page boundary is caught', async (t) => {
  const inputs = flushInputs(new SeededRand(SEED));
  const bad = await run(await tempTraceDb(t, 'otlpdb-flush-bad-'), inputs, 16, (db) => new Paged(db, 3, true));
  const seek = await run(await tempTraceDb(t, 'otlpdb-flush-ref-'), inputs, 0, (db) => db);
  t.notSame(bad.dumps[FLUSHES - 1], seek.dumps[FLUSHES - 1], 'the databases differ');
});
