import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { initHash } from '../../partition/hash.js';
import { randomRows } from '../rows-test-util.js';
import type { SpanRow } from '../rows.js';
import { resourceToWire, scopeToWire, spanToWire } from '../row-wire.js';
import { SpanEntryColumns, decodeSpanEntry } from '../span-entry.js';
import { STORAGE_PACKR } from '../storage-packr.js';
import { canon } from '../storage-test-util.js';
import type { TraceStore } from '../traces/trace-store.js';
import { realisticSpans } from '../traces/traces-test-util.js';
import type { AddResult, ExpireReport, FlushContext, FlushReport, RetentionCutoffs, SignalStats, SignalStore } from './signal-store.js';
import { newScanStats } from './signal-store.js';
import type { KvRead } from './shard-db.js';
import { decodeApplyResult } from './shard-records.js';
import type { ShardStateMachine } from './shard-state-machine.js';
import { shardStoresFactory } from './stores.js';
import { entryOf, shardEntry, tempDir, testMachine, twinReplicas } from './shard-test-util.js';

const hasher = await initHash();

/** RowsOnlyTraces is a trace store seen through the SignalStore interface only (add, addEntry): the state machine cannot use the span columns. */
class RowsOnlyTraces implements SignalStore<SpanRow> {
  readonly signal = 'traces' as const;
  constructor(readonly inner: TraceStore) {}
  load(kv: KvRead): Promise<void> {
    return this.inner.load(kv);
  }
  add(tenant: string, rows: readonly SpanRow[], entryTimeMs: number): AddResult {
    return this.inner.add(tenant, rows, entryTimeMs);
  }
  addEntry(tenant: string, rows: readonly SpanRow[], entryBytes: Uint8Array, entryTimeMs: number): AddResult {
    return this.inner.addEntry(tenant, rows, entryBytes, entryTimeMs);
  }
  headBytes(): number {
    return this.inner.headBytes();
  }
  headRows(): number {
    return this.inner.headRows();
  }
  freeze(): void {
    this.inner.freeze();
  }
  writeFrozen(ctx: FlushContext): Promise<FlushReport> {
    return this.inner.writeFrozen(ctx);
  }
  dropFrozen(): void {
    this.inner.dropFrozen();
  }
  expire(ctx: FlushContext, cutoffs: RetentionCutoffs): Promise<ExpireReport> {
    return this.inner.expire(ctx, cutoffs);
  }
  stats(): SignalStats {
    return this.inner.stats();
  }
}

function hex(i: number): string {
  return i.toString(16).padStart(16, '0');
}

const TENANTS = ['default', 'acme'];

/**
 * workload is a seeded mix: spans-only entries (realistic, random, random
 * with only scalar attributes), spans that come again with other values (last
 * write wins), entries with points or logs, retries of earlier entries
 * (duplicates), and corrupted copies (a random byte, or a planted defect in
 * the last span).
 */
function workload(rand: SeededRand, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const sent: SpanRow[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand.intn(12);
    if (r === 0 && out.length > 0) {
      out.push(out[rand.intn(out.length)] as Uint8Array); // a retry: a duplicate when it was applied
      continue;
    }
    const tenant = TENANTS[rand.intn(TENANTS.length)] as string;
    let spans: SpanRow[];
    if (r <= 3) spans = realisticSpans(rand, 1 + rand.intn(4), tenant);
    else spans = randomRows(rand, { spans: 1 + rand.intn(20), tenant }).spans;
    if (r === 4) spans = spans.map((s) => ({ ...s, attributes: s.attributes.filter((kv) => kv.value.type === 'string' || kv.value.type === 'int') }));
    if (r === 5) {
      // Spans sent before, with new times, names and status: the head keeps the latest, in its first place.
      const again = sent.filter((s) => s.tenant === tenant).slice(-1 - rand.intn(10));
      spans = [...again.map((s) => ({ ...s, name: `${s.name}!`, startTimeUnixNano: s.startTimeUnixNano ^ 1n, status: { code: 2 as const, message: 'again' } })), ...spans];
    }
    sent.push(...spans);
    const rows = randomRows(rand, { points: r === 6 ? 3 : 0, logs: r === 7 ? 3 : 0, tenant });
    const e = { tenant, idempotencyKey: hex(i + 1), part: 0, parts: 1, leaderTimeMs: 1_790_000_000_000 + i * 1000, spans, points: rows.points, logs: rows.logs };
    let bytes: Uint8Array = Uint8Array.from(shardEntry(e));
    if (r === 8) bytes[rand.intn(bytes.length)] = rand.intn(256);
    if (r === 9) bytes = plantBadKind(e);
    out.push(bytes);
  }
  return out;
}

/** plantBadKind writes an entry whose last span has kind 9 (past SPAN_KIND_MAX), skipping encodeShardEntry's checks. */
function plantBadKind(e: { tenant: string; idempotencyKey: string; leaderTimeMs: number; spans: readonly SpanRow[] }): Uint8Array {
  const resources = [...new Set(e.spans.map((s) => s.resource))];
  const scopes = [...new Set(e.spans.map((s) => s.scope))];
  const spans = e.spans.map((s) => spanToWire(s, resources.indexOf(s.resource), scopes.indexOf(s.scope)));
  (spans.at(-1) as unknown[])[8] = 9;
  return STORAGE_PACKR.pack([1, e.tenant, e.idempotencyKey, 0, 1, e.leaderTimeMs, resources.map(resourceToWire), scopes.map(scopeToWire), spans, [], []]);
}

/** dump is every key and value of a replica's published LevelDB view, hex. */
async function dump(sm: ShardStateMachine): Promise<string[]> {
  const read = sm.acquireRead();
  try {
    const out: string[] = [];
    for await (const page of read.kv.pages({})) for (const e of page) out.push(`${Buffer.from(e.key).toString('hex')}=${Buffer.from(e.value).toString('hex')}`);
    return out;
  } finally {
    await read.release();
  }
}

/** headSearch is every head span of a tenant matching a few column predicates, canonical. */
async function headSearch(sm: ShardStateMachine, store: TraceStore, tenant: string): Promise<string[]> {
  const read = sm.acquireRead();
  try {
    const out: string[] = [];
    for (const predicate of [{}, { kind: 3 as const }, { status: 2 as const }, { minDurationNs: 100_000n }]) {
      for await (const batch of store.searchSpans(read.kv, tenant, { startNs: 0n, endNs: 1n << 64n, predicate, limit: 100_000 }, newScanStats())) {
        for (const s of batch) out.push(canon(s));
      }
    }
    return out;
  } finally {
    await read.release();
  }
}

t.test('a replica applying spans-only entries through the columns answers, holds and flushes byte for byte like one applying rows', async (t) => {
  const seed = 707;
  const rand = new SeededRand(seed);
  const entries = workload(rand, 240);
  const { columns, rows } = await twinReplicas(t, 'otlpdb-span-columns-', shardStoresFactory(hasher), (s) => ({ ...s, traces: new RowsOnlyTraces(s.traces as TraceStore) }));
  const colTraces = columns.stores.traces as TraceStore;
  const rowTraces = (rows.stores.traces as RowsOnlyTraces).inner;
  let differ = 0;
  let invalid = 0;
  let duplicates = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entryOf(i + 1, entries[i] as Uint8Array);
    const [x] = columns.apply([e]);
    const [y] = rows.apply([e]);
    if (Buffer.compare(Buffer.from(x as Uint8Array), Buffer.from(y as Uint8Array)) !== 0) {
      differ++;
      t.fail(`entry ${i} (seed ${seed}): results differ`);
    }
    const res = decodeApplyResult(x as Uint8Array);
    if (res.invalid !== null) invalid++;
    if (res.duplicate) duplicates++;
    if (columns.headBytes() !== rows.headBytes() || colTraces.headRows() !== rowTraces.headRows()) t.fail(`entry ${i} (seed ${seed}): head bytes or rows differ`);
    if (i % 60 === 59) {
      for (const tenant of TENANTS) t.same(await headSearch(columns, colTraces, tenant), await headSearch(rows, rowTraces, tenant), `before flush ${i} (seed ${seed}): head reads of ${tenant}`);
      await columns.flush();
      await rows.flush();
      t.same(columns.lastFlush?.reports, rows.lastFlush?.reports, `flush after entry ${i} (seed ${seed}): reports`);
      const [da, db] = [await dump(columns), await dump(rows)];
      t.ok(da.length > 0, 'the flush wrote keys');
      t.ok(da.length === db.length && da.every((kv, k) => kv === db[k]), `flush after entry ${i} (seed ${seed}): LevelDB contents are identical`);
    }
  }
  t.equal(differ, 0, `${entries.length} entries`);
  t.ok(invalid > 10 && duplicates > 5, `${invalid} invalid, ${duplicates} duplicate entries seen`);
  const c = new SpanEntryColumns();
  const taken = entries.filter((e) => decodeSpanEntry(e, c)).length;
  t.ok(taken > 100 && taken < entries.length - 30, `${taken} of ${entries.length} entries took the columns`);
  await columns.close();
  await rows.close();
});

t.test('a defect in the last span of a spans-only entry: ERR_CORRUPTION, and no span of it is applied', async (t) => {
  const rand = new SeededRand(808);
  const d = tempDir('otlpdb-span-columns-bad-');
  t.teardown(() => d.cleanup());
  const sm = testMachine(d.dir, shardStoresFactory(hasher));
  await sm.open({ index: 0, data: new Uint8Array(0) });
  const spans = realisticSpans(rand, 6).slice(0, 50);
  const bad = plantBadKind({ tenant: 'default', idempotencyKey: hex(1), leaderTimeMs: 1_790_000_000_000, spans });
  const [r] = sm.apply([entryOf(1, bad)]);
  const res = decodeApplyResult(r as Uint8Array);
  t.match(res.invalid, /stored span kind/, 'the regular decoder names the defect');
  t.equal(res.spans.accepted, 0);
  t.equal(sm.stores.traces.headRows(), 0, 'nothing of the entry is in the head');
  // The same key, well formed, is then applied (a refused entry is not remembered by the window).
  const [ok] = sm.apply([entryOf(2, shardEntry({ tenant: 'default', idempotencyKey: hex(1), part: 0, parts: 1, leaderTimeMs: 1_790_000_000_000, spans, points: [], logs: [] }))]);
  t.equal(decodeApplyResult(ok as Uint8Array).spans.accepted, spans.length);
  const [again] = sm.apply([entryOf(3, shardEntry({ tenant: 'default', idempotencyKey: hex(1), part: 0, parts: 1, leaderTimeMs: 1_790_000_000_001, spans, points: [], logs: [] }))]);
  t.ok(decodeApplyResult(again as Uint8Array).duplicate, 'a retry through the columns is a duplicate');
  t.equal(sm.stores.traces.headRows(), spans.length);
  await sm.close();
});
