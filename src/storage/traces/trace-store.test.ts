import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { OtlpdbError } from '../../errors.js';
import { canon, codeOf } from '../storage-test-util.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { SpanPageLimits, StoreLimits, TraceStoreLimits } from '../../limits.js';
import type { AnyValue, KeyValue, SpanRow } from '../rows.js';
import { decodeShardEntry, encodeShardEntry, SHARD_ENTRY_VERSION } from '../shard-entry.js';
import type { KeyRange, KvEntry, KvRead } from '../shard/shard-db.js';
import { KvWriteBatch, ShardDb } from '../shard/shard-db.js';
import type { FlushReport, ScanStats } from '../shard/signal-store.js';
import { newScanStats } from '../shard/signal-store.js';
import type { SpanPredicate } from './span-index.js';
import { TraceKeySpace, bucketOf, tenantPrefix, tenantPrefixBytes, tracePrefix } from './trace-keys.js';
import type { SpanSearch } from './trace-store.js';
import { TraceStore, estimateSpanBytes } from './trace-store.js';
import { readBlockView } from './block-read.js';
import { decodeSpanRows, encodeSpanBlock } from './span-block.js';
import { realisticSpans } from './traces-test-util.js';

const HOUR = StoreLimits.traceBucketNs;
const U64_END = 1n << 64n;
const TENANTS = ['acme', 'beta'];

// ---------------------------------------------------------------- harness

/** tempDir makes a directory removed at teardown, after closing every ShardDb opened on it through `open`. */
function tempDir(t: Test): { dir: string; open: () => Promise<ShardDb> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-traces-'));
  const dbs: ShardDb[] = [];
  t.teardown(async () => {
    for (const db of dbs) await db.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    open: async () => {
      const db = await ShardDb.open(dir);
      dbs.push(db);
      return db;
    },
  };
}

/** Flusher runs the state machine's part of a flush with an increasing flushIndex. */
class Flusher {
  flushIndex = 0;
  held: { batch: KvWriteBatch; report: FlushReport } | null = null;
  constructor(readonly store: TraceStore, readonly db: ShardDb) {}

  /** begin freezes and writes the frozen head into a batch that is not yet durable. */
  async begin(kv: KvRead = this.db): Promise<FlushReport> {
    this.store.freeze();
    const batch = new KvWriteBatch();
    this.flushIndex += 1 + (this.flushIndex % 3);
    const report = await this.store.writeFrozen({ batch, kv, flushIndex: this.flushIndex });
    this.held = { batch, report };
    return report;
  }

  /** end makes the held batch durable and drops the frozen head. */
  async end(): Promise<FlushReport> {
    const held = this.held;
    if (held === null) throw new Error('no flush in progress');
    await this.db.write(held.batch);
    this.store.dropFrozen();
    this.held = null;
    return held.report;
  }

  async flush(kv: KvRead = this.db): Promise<FlushReport> {
    await this.begin(kv);
    return this.end();
  }
}

/** HidingKv is a KvRead that hides one key space from scans: the tool for planting bugs in the stores' use of an index. */
class HidingKv implements KvRead {
  constructor(readonly inner: KvRead, readonly hidden: number) {}
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return this.inner.getMany(keys);
  }
  async *pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]> {
    for await (const page of this.inner.pages(range, pageEntries)) yield page.filter((e) => e.key[0] !== this.hidden);
  }
}

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    if (err instanceof OtlpdbError) return err.code;
    throw err;
  }
}

// ---------------------------------------------------------------- the reference, written apart from the store

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');


function refValue(v: AnyValue): string | undefined {
  if (v.type === 'string') return v.value;
  if (v.type === 'int' || v.type === 'bool') return String(v.value);
  return undefined;
}

function refHas(list: readonly KeyValue[], k: string, v: string): boolean {
  return list.some((kv) => kv.key === k && refValue(kv.value) === v);
}

function refService(s: SpanRow): string {
  const kv = s.resource.attributes.find((a) => a.key === 'service.name' && a.value.type === 'string');
  return kv === undefined ? '' : (kv.value as { value: string }).value;
}

function refMatches(s: SpanRow, q: SpanSearch): boolean {
  const p = q.predicate;
  if (s.startTimeUnixNano < q.startNs || s.startTimeUnixNano >= q.endNs) return false;
  if (p.service !== undefined && refService(s) !== p.service) return false;
  if (p.name !== undefined && s.name !== p.name) return false;
  if (p.kind !== undefined && s.kind !== p.kind) return false;
  if (p.status !== undefined && s.status.code !== p.status) return false;
  if (p.traceId !== undefined && hex(p.traceId) !== hex(s.traceId)) return false;
  const d = s.endTimeUnixNano - s.startTimeUnixNano;
  if (p.minDurationNs !== undefined && d < p.minDurationNs) return false;
  if (p.maxDurationNs !== undefined && d > p.maxDurationNs) return false;
  for (const [k, v] of p.attrs ?? []) if (!refHas(s.attributes, k, v) && !refHas(s.resource.attributes, k, v)) return false;
  return true;
}

const idOf = (s: SpanRow): string => `${s.tenant}/${hex(s.traceId)}/${hex(s.spanId)}`;

/** Model is what the store must hold: the latest version of every span, and what the flushes made durable. */
class Model {
  /** latest maps tenant/trace/span to the latest version added. */
  readonly latest = new Map<string, SpanRow>();
  readonly keys: string[] = [];
  /** head and frozen mirror the store's heads (for the durable counts). */
  head = new Map<string, SpanRow>();
  frozen: Map<string, SpanRow> | null = null;
  /** stored lists every block row written by a durable flush. */
  readonly stored: { tenant: string; trace: string; bucket: number }[] = [];

  add(rows: readonly SpanRow[]): void {
    for (const s of rows) {
      const id = idOf(s);
      if (!this.latest.has(id)) this.keys.push(id);
      this.latest.set(id, s);
      this.head.set(id, s);
    }
  }
  freeze(): void {
    this.frozen = this.head;
    this.head = new Map();
  }
  durable(): void {
    for (const s of (this.frozen as Map<string, SpanRow>).values()) this.stored.push({ tenant: s.tenant, trace: hex(s.traceId), bucket: bucketOf(s.startTimeUnixNano) });
    this.frozen = null;
  }
  /** expire forgets every stored row and latest span of buckets before endBucket (rewrites keep a span's start, so its bucket). */
  expire(tenant: string, endBucket: number): void {
    for (const [id, s] of this.latest) if (s.tenant === tenant && bucketOf(s.startTimeUnixNano) < endBucket && !this.head.has(id)) this.latest.delete(id);
    const keep = this.stored.filter((r) => r.tenant !== tenant || r.bucket >= endBucket);
    this.stored.length = 0;
    this.stored.push(...keep);
  }
  spans(tenant: string): SpanRow[] {
    return [...this.latest.values()].filter((s) => s.tenant === tenant);
  }
  storedStats(tenant: string): { rows: number; secondary: number } {
    const rows = this.stored.filter((r) => r.tenant === tenant);
    return { rows: rows.length, secondary: new Set(rows.map((r) => r.trace)).size };
  }
}

// ---------------------------------------------------------------- checkers (each returns its problems; a test shows each one failing)

type SearchFn = (kv: KvRead, tenant: string, q: SpanSearch, stats: ScanStats) => AsyncGenerator<SpanRow[]>;

async function checkSearch(search: SearchFn, kv: KvRead, model: Model, tenant: string, q: SpanSearch): Promise<string[]> {
  const problems: string[] = [];
  const got: string[] = [];
  const stats = newScanStats();
  for await (const batch of search(kv, tenant, q, stats)) {
    if (batch.length === 0 || batch.length > TraceStoreLimits.searchBatchRowsMax) problems.push(`batch of ${batch.length} rows`);
    for (const s of batch) got.push(canon(s));
  }
  const want = new Set(model.spans(tenant).filter((s) => refMatches(s, q)).map(canon));
  if (new Set(got).size !== got.length) problems.push('a span was returned twice');
  for (const g of got) if (!want.has(g)) problems.push(`unexpected span ${g.slice(0, 120)}`);
  if (want.size <= q.limit && got.length !== want.size) problems.push(`got ${got.length} spans, want ${want.size}`);
  if (want.size > q.limit && got.length !== q.limit) problems.push(`got ${got.length} spans, want the limit ${q.limit}`);
  return problems;
}

async function checkTrace(store: TraceStore, kv: KvRead, model: Model, tenant: string, traceId: Uint8Array): Promise<string[]> {
  const res = await store.traceById(kv, tenant, traceId);
  const want = model
    .spans(tenant)
    .filter((s) => hex(s.traceId) === hex(traceId))
    .map(canon)
    .sort();
  const got = res.spans.map(canon).sort();
  const problems: string[] = [];
  if (res.truncated) problems.push('truncated');
  if (canon(got) !== canon(want)) problems.push(`trace ${hex(traceId)}: got ${got.length} spans, want ${want.length} (or different versions)`);
  return problems;
}

function checkStats(store: TraceStore, model: Model): string[] {
  const problems: string[] = [];
  let rows = 0;
  let secondary = 0;
  for (const tenant of TENANTS) {
    const want = model.storedStats(tenant);
    const got = store.tenantStats(tenant);
    rows += want.rows;
    secondary += want.secondary;
    if (got.rows !== want.rows || got.secondary !== want.secondary) problems.push(`${tenant}: stats ${got.rows}/${got.secondary}, want ${want.rows}/${want.secondary}`);
  }
  const all = store.stats();
  if (all.rows !== rows || all.secondary !== secondary) problems.push(`total stats ${all.rows}/${all.secondary}, want ${rows}/${secondary}`);
  return problems;
}

/** checkBytes compares the stats' byte counts of every tenant with the keys and values in the database (stats records excluded). */
async function checkBytes(store: TraceStore, kv: KvRead): Promise<string[]> {
  const problems: string[] = [];
  for (const tenant of TENANTS) {
    let data = 0;
    let index = 0;
    for (const space of [TraceKeySpace.block, TraceKeySpace.page, TraceKeySpace.index, TraceKeySpace.traceId, TraceKeySpace.meta, TraceKeySpace.shadow, TraceKeySpace.summaries, TraceKeySpace.pageFilters]) {
      const prefix = tenantPrefix(space, tenant);
      const end = Uint8Array.from(prefix);
      end[end.length - 1] = 1;
      for await (const page of kv.pages({ gte: prefix, lt: end })) {
        for (const e of page) {
          if (space === TraceKeySpace.block || space === TraceKeySpace.page || space === TraceKeySpace.summaries) data += e.key.length + e.value.length;
          else index += e.key.length + e.value.length;
        }
      }
    }
    const st = store.tenantStats(tenant);
    if (st.dataBytes !== data || st.indexBytes !== index) problems.push(`${tenant}: stats bytes ${st.dataBytes}/${st.indexBytes}, database ${data}/${index}`);
  }
  return problems;
}

/** checkExpired lists the keys of `tenant` in buckets before endBucket that are still in the database. */
async function checkExpired(kv: KvRead, tenant: string, endBucket: number): Promise<string[]> {
  const problems: string[] = [];
  for (const space of [TraceKeySpace.block, TraceKeySpace.page, TraceKeySpace.index, TraceKeySpace.meta, TraceKeySpace.shadow, TraceKeySpace.traceId, TraceKeySpace.summaries, TraceKeySpace.pageFilters]) {
    const prefix = tenantPrefix(space, tenant);
    const end = Uint8Array.from(prefix);
    end[end.length - 1] = 1;
    const at = tenantPrefixBytes(tenant) + (space === TraceKeySpace.traceId ? 16 : 0);
    for await (const page of kv.pages({ gte: prefix, lt: end })) {
      for (const e of page) {
        const bucket = Number(Buffer.from(e.key).readBigUInt64BE(at));
        if (bucket < endBucket) problems.push(`key space 0x${space.toString(16)} keeps bucket ${bucket}`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------- workload

/** Workload draws seeded adds: new traces over a few hours (some crossing an hour), more spans of known traces, and rewrites of known spans. */
class Workload {
  readonly base = 1_790_000_000_000_000_000n - (1_790_000_000_000_000_000n % HOUR);
  constructor(readonly rand: SeededRand, readonly model: Model) {}

  fresh(tenant: string): SpanRow[] {
    const out: SpanRow[] = [];
    for (const trace of chunkByTrace(realisticSpans(this.rand, 1 + this.rand.intn(3), tenant))) {
      const h = BigInt(this.rand.intn(4));
      const crosses = this.rand.intn(4) === 0;
      for (const s of trace) {
        const shift = (h + (crosses && this.rand.intn(2) === 0 ? 1n : 0n)) * HOUR;
        out.push({ ...s, startTimeUnixNano: s.startTimeUnixNano + shift, endTimeUnixNano: s.endTimeUnixNano + shift });
      }
    }
    return out;
  }

  known(tenant: string): SpanRow | undefined {
    const keys = this.model.keys.filter((k) => k.startsWith(`${tenant}/`));
    if (keys.length === 0) return undefined;
    return this.model.latest.get(keys[this.rand.intn(keys.length)] as string);
  }

  /** more adds spans to a known trace (same trace id, same hour as a known span). */
  more(tenant: string): SpanRow[] {
    const k = this.known(tenant);
    if (k === undefined) return this.fresh(tenant);
    return realisticSpans(this.rand, 1, tenant)
      .slice(0, 1 + this.rand.intn(3))
      .map((s) => ({ ...s, traceId: k.traceId, startTimeUnixNano: k.startTimeUnixNano + 1000n, endTimeUnixNano: k.startTimeUnixNano + 50_000n }));
  }

  /** rewrite sends known spans again, changed, with the same ids and start. */
  rewrite(tenant: string): SpanRow[] {
    const out: SpanRow[] = [];
    for (let i = 0; i < 1 + this.rand.intn(4); i++) {
      const k = this.known(tenant);
      if (k === undefined) break;
      const n = this.rand.intn(1000);
      out.push({ ...k, name: `${k.name}~${n}`, status: { code: 2, message: `rewritten ${n}` }, endTimeUnixNano: k.endTimeUnixNano + BigInt(n) });
    }
    // One entry never holds a span twice in this workload (the head would keep the last anyway).
    const seen = new Map(out.map((s) => [idOf(s), s]));
    return [...seen.values()];
  }

  batch(tenant: string): SpanRow[] {
    const r = this.rand.intn(10);
    if (r < 5) return this.fresh(tenant);
    if (r < 7) return this.more(tenant);
    return this.rewrite(tenant);
  }

  predicate(tenant: string): SpanSearch {
    const rand = this.rand;
    const k = this.known(tenant);
    const p: { -readonly [K in keyof SpanPredicate]: SpanPredicate[K] } = {};
    if (k !== undefined) {
      if (rand.intn(3) === 0) p.service = refService(k);
      if (rand.intn(4) === 0) p.name = k.name;
      if (rand.intn(5) === 0) p.kind = k.kind;
      if (rand.intn(5) === 0) p.status = k.status.code;
      if (rand.intn(6) === 0) p.traceId = k.traceId;
      if (rand.intn(4) === 0) {
        const kv = [...k.attributes, ...k.resource.attributes][rand.intn(k.attributes.length + k.resource.attributes.length)] as KeyValue;
        const v = refValue(kv.value);
        if (v !== undefined) p.attrs = [[kv.key, v]];
      }
      if (rand.intn(5) === 0) p.minDurationNs = BigInt(rand.intn(50_000));
      if (rand.intn(8) === 0) p.maxDurationNs = BigInt(rand.intn(500_000));
    }
    let startNs = 0n;
    let endNs = U64_END - 1n;
    if (rand.intn(2) === 0) {
      startNs = this.base + BigInt(rand.intn(5 * 60)) * (HOUR / 60n);
      endNs = startNs + BigInt(1 + rand.intn(3 * 60)) * (HOUR / 60n);
    }
    return { startNs, endNs, predicate: p, limit: rand.intn(4) === 0 ? 1 + rand.intn(30) : TraceStoreLimits.searchLimitMax };
  }
}

function chunkByTrace(spans: readonly SpanRow[]): SpanRow[][] {
  const out: SpanRow[][] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last !== undefined && hex((last[0] as SpanRow).traceId) === hex(s.traceId)) last.push(s);
    else out.push([s]);
  }
  return out;
}

function searchOf(store: TraceStore): SearchFn {
  return (kv, tenant, q, stats) => store.searchSpans(kv, tenant, q, stats);
}

async function checkAll(store: TraceStore, kv: KvRead, model: Model, work: Workload, label: string): Promise<string[]> {
  const problems: string[] = [];
  for (const tenant of TENANTS) {
    for (let i = 0; i < 4; i++) {
      const q = work.predicate(tenant);
      for (const p of await checkSearch(searchOf(store), kv, model, tenant, q)) problems.push(`${label} search ${tenant} ${canon(q)}: ${p}`);
    }
    const k = work.known(tenant);
    const ids = [work.rand.bytes(16), ...(k === undefined ? [] : [k.traceId])];
    for (const id of ids) for (const p of await checkTrace(store, kv, model, tenant, id)) problems.push(`${label} ${tenant}: ${p}`);
  }
  for (const p of checkStats(store, model)) problems.push(`${label}: ${p}`);
  for (const p of await checkBytes(store, kv)) problems.push(`${label}: ${p}`);
  return problems;
}

// ---------------------------------------------------------------- tests

for (const seed of [1, 2, 3, 20261127]) {
  t.test(`reads equal the reference across flushes, tenants, head, frozen head and blocks; expiry and restart (seed ${seed})`, async (t) => {
    const tmp = tempDir(t);
    const db = await tmp.open();
    const rand = new SeededRand(seed);
    const model = new Model();
    const work = new Workload(rand, model);
    let store = new TraceStore();
    await store.load(db);
    const f = new Flusher(store, db);
    const problems: string[] = [];
    let checks = 0;
    for (let step = 0; step < 60 && problems.length === 0; step++) {
      const r = rand.intn(20);
      if (r < 12) {
        const tenant = TENANTS[rand.intn(TENANTS.length)] as string;
        const rows = work.batch(tenant);
        store.add(tenant, rows, 0);
        model.add(rows);
      } else if (r < 15) {
        if (f.held === null) {
          await f.begin();
          model.freeze();
        } else {
          await f.end();
          model.durable();
        }
      } else if (r < 16 && f.held === null) {
        await f.flush();
        model.freeze();
        model.durable();
      } else {
        checks++;
        problems.push(...(await checkAll(store, db, model, work, `seed ${seed} step ${step}`)));
      }
    }
    if (f.held !== null) {
      await f.end();
      model.durable();
    }
    problems.push(...(await checkAll(store, db, model, work, `seed ${seed} end`)));
    t.same(problems, [], `seed ${seed}: reads equal the reference (${checks} checks)`);
    t.ok(store.stats().rows > 0, 'something was flushed');

    // Restart: everything flushed, then a fresh store over the reopened directory.
    await f.flush();
    model.freeze();
    model.durable();
    const before = store.stats();
    await db.close();
    const db2 = await tmp.open();
    store = new TraceStore();
    await store.load(db2);
    t.same(store.stats(), before, `seed ${seed}: stats survive a restart`);
    t.same(await checkAll(store, db2, model, work, `seed ${seed} restarted`), [], `seed ${seed}: reads survive a restart`);

    // Expiry at a random hour: exactly the old buckets go.
    const endBucket = bucketOf(work.base) + 1 + rand.intn(3);
    const batch = new KvWriteBatch();
    const report = await store.expire({ batch, kv: db2, flushIndex: f.flushIndex + 1 }, { defaultBeforeNs: BigInt(endBucket) * HOUR, byTenant: new Map([['beta', null]]) });
    t.ok((await checkExpired(db2, 'acme', endBucket)).length > 0, 'checkExpired catches old keys (planted: the batch is not written yet)');
    await db2.write(batch);
    model.expire('acme', endBucket);
    t.ok(report.buckets >= 1 && report.keys > report.buckets, `expire deleted ${report.buckets} buckets, ${report.keys} keys`);
    t.same(await checkExpired(db2, 'acme', endBucket), [], 'no key of an expired bucket remains');
    t.ok((await checkExpired(db2, 'beta', endBucket)).length > 0, 'the tenant without retention keeps its old buckets');
    t.same(await checkAll(store, db2, model, work, `seed ${seed} expired`), [], `seed ${seed}: reads and stats after expiry`);

    // Expire everything: no key and no byte remains.
    const all = new KvWriteBatch();
    await store.expire({ batch: all, kv: db2, flushIndex: f.flushIndex + 2 }, { defaultBeforeNs: U64_END - 1n, byTenant: new Map() });
    await db2.write(all);
    for (const tenant of TENANTS) {
      model.expire(tenant, bucketOf(U64_END - 1n));
      t.same(await checkExpired(db2, tenant, bucketOf(U64_END - 1n) + 1), [], `${tenant}: no key remains`);
      t.same(store.tenantStats(tenant), { rows: 0, secondary: 0, dataBytes: 0, indexBytes: 0 }, `${tenant}: stats are zero`);
    }
    t.same(await checkAll(store, db2, model, work, `seed ${seed} all expired`), [], `seed ${seed}: reads after expiring everything`);
    const reloaded = new TraceStore();
    await reloaded.load(db2);
    t.same(reloaded.stats(), store.stats(), 'the stats records are gone too');

    // Planted: one stray index key, and checkBytes sees it.
    const stray = new KvWriteBatch();
    stray.put(Uint8Array.from([...tenantPrefix(TraceKeySpace.traceId, 'acme'), 1, 2, 3]), Uint8Array.of(1));
    await db2.write(stray);
    t.ok((await checkBytes(store, db2)).length > 0, 'checkBytes catches bytes the stats do not count');
  });
}

t.test('planted bug: a search that drops the heads fails the differential check', async (t) => {
  const tmp = tempDir(t);
  const db = await tmp.open();
  const seed = 5;
  const rand = new SeededRand(seed);
  const model = new Model();
  const work = new Workload(rand, model);
  const store = new TraceStore();
  await store.load(db);
  const f = new Flusher(store, db);
  for (let i = 0; i < 6; i++) {
    const rows = work.batch('acme');
    store.add('acme', rows, 0);
    model.add(rows);
    if (i === 2) {
      await f.flush();
      model.freeze();
      model.durable();
    }
  }
  const all: SpanSearch = { startNs: 0n, endNs: U64_END - 1n, predicate: {}, limit: TraceStoreLimits.searchLimitMax };
  t.same(await checkSearch(searchOf(store), db, model, 'acme', all), [], `seed ${seed}: the store passes`);
  // The planted search: the same blocks, through a store that never saw the head.
  const blind = new TraceStore();
  await blind.load(db);
  const problems = await checkSearch(searchOf(blind), db, model, 'acme', all);
  t.ok(problems.length > 0, `seed ${seed}: the check catches the dropped head: ${problems[0] ?? ''}`);
  const k = [...model.head.values()][0] as SpanRow;
  t.ok(k !== undefined, 'the head holds spans');
  t.same(await checkTrace(store, db, model, 'acme', k.traceId), [], 'traceById passes');
  store.freeze();
  model.freeze();
  t.same(await checkTrace(store, db, model, 'acme', k.traceId), [], 'traceById passes with a frozen head');
  t.ok((await checkTrace(blind, db, model, 'acme', k.traceId)).length > 0, 'the trace check catches the dropped heads');
});

t.test('duplicates: the latest version wins across head, frozen head and flushes, once', async (t) => {
  const tmp = tempDir(t);
  const db = await tmp.open();
  const rand = new SeededRand(11);
  const model = new Model();
  const store = new TraceStore();
  await store.load(db);
  const f = new Flusher(store, db);
  const spans = realisticSpans(rand, 3, 'acme');
  const version = (n: number): SpanRow[] => spans.map((s) => ({ ...s, name: `${s.name} v${n}`, status: { code: 1, message: `v${n}` } }));
  const all: SpanSearch = { startNs: 0n, endNs: U64_END - 1n, predicate: {}, limit: TraceStoreLimits.searchLimitMax };
  const v1Only: SpanSearch = { ...all, predicate: { status: 1, name: `${(spans[0] as SpanRow).name} v1` } };
  const check = async (label: string): Promise<void> => {
    t.same(await checkSearch(searchOf(store), db, model, 'acme', all), [], `${label}: search`);
    t.same(await checkSearch(searchOf(store), db, model, 'acme', v1Only), [], `${label}: a search matching only the stale version`);
    t.same(await checkTrace(store, db, model, 'acme', (spans[0] as SpanRow).traceId), [], `${label}: traceById`);
    t.same(checkStats(store, model), [], `${label}: stats`);
  };
  for (const [n, label] of [
    [1, 'v1 in the head'],
    [2, 'v2 in the head over nothing'],
  ] as const) {
    store.add('acme', version(n), 0);
    model.add(version(n));
    await check(label);
  }
  await f.flush();
  model.freeze();
  model.durable();
  t.equal(store.tenantStats('acme').rows, spans.length, 'the head held each span once');
  store.add('acme', version(3), 0);
  model.add(version(3));
  await check('v3 in the head over v2 in a block');
  await f.begin();
  model.freeze();
  store.add('acme', version(4), 0);
  model.add(version(4));
  await check('v4 in the head over v3 frozen over v2 in a block');
  await f.end();
  model.durable();
  await f.flush();
  model.freeze();
  model.durable();
  await check('v2, v3, v4 in three flushes');
  t.equal(store.tenantStats('acme').rows, 3 * spans.length, 'stats count stored versions');
  t.equal(store.tenantStats('acme').secondary, 3, 'but each trace once');
  const res = await store.traceById(db, 'acme', (spans[0] as SpanRow).traceId);
  t.ok(
    res.spans.every((s) => s.status.message === 'v4'),
    'traceById returns the latest version',
  );
  t.ok(res.stats.blocksScanned === 3, `traceById read the three blocks of the trace (${res.stats.blocksScanned})`);

  // Planted bugs through an injected KvRead that hides the trace-id index.
  const hiding = new HidingKv(db, TraceKeySpace.traceId);
  t.ok((await checkSearch(searchOf(store), hiding, model, 'acme', all)).length > 0, 'the search check catches stale versions when the newer blocks are not looked up');
  const noMarkers = new HidingKv(db, TraceKeySpace.shadow);
  t.ok((await checkSearch(searchOf(store), noMarkers, model, 'acme', all)).length > 0, 'the search check catches stale versions when the shadow markers are lost');
  t.ok((await checkTrace(store, hiding, model, 'acme', (spans[0] as SpanRow).traceId)).length > 0, 'the trace check catches a trace-id index that finds nothing');
  const plantedStore = new TraceStore();
  await plantedStore.load(db);
  const pf = new Flusher(plantedStore, db);
  pf.flushIndex = 1000;
  plantedStore.add('acme', version(5), 0);
  model.add(version(5));
  model.freeze();
  await pf.flush(hiding);
  model.durable();
  t.ok(checkStats(plantedStore, model).length > 0, 'the stats check catches a trace counted twice (the probe does not see earlier blocks)');
});

t.test('traceById across 3 flushes and 2 buckets, without a time hint', async (t) => {
  const tmp = tempDir(t);
  const db = await tmp.open();
  const rand = new SeededRand(21);
  const store = new TraceStore();
  await store.load(db);
  const f = new Flusher(store, db);
  const model = new Model();
  const traceId = rand.bytes(16);
  const base = 1_790_000_000_000_000_000n - (1_790_000_000_000_000_000n % HOUR);
  const part = (hour: bigint, n: number): SpanRow[] =>
    realisticSpans(rand, 1, 'acme')
      .slice(0, n)
      .map((s, i) => ({ ...s, traceId, startTimeUnixNano: base + hour * HOUR + HOUR - 10n + BigInt(i), endTimeUnixNano: base + hour * HOUR + HOUR + 5n }));
  const other = realisticSpans(rand, 20, 'acme');
  const added = [part(0n, 2), part(1n, 2), part(0n, 1)];
  for (const rows of added) {
    store.add('acme', [...rows, ...other.splice(0, 30)], 0);
    model.add(rows);
    await f.flush();
  }
  const res = await store.traceById(db, 'acme', traceId);
  const want = added.flat();
  t.equal(res.spans.length, want.length, 'every span of the trace');
  t.same(res.spans.map(canon).sort(), want.map(canon).sort(), 'exactly the spans added');
  t.equal(res.stats.blocksScanned, 3, 'one block per flush, found through the trace-id index');
  t.equal(res.truncated, false, 'not truncated');
  t.same(new Set(res.spans.map((s) => bucketOf(s.startTimeUnixNano))).size, 2, 'the trace spans two buckets');
  const none = await store.traceById(db, 'acme', rand.bytes(16));
  t.same([none.spans.length, none.stats.blocksScanned], [0, 0], 'an unknown trace reads no block');
  const otherTenant = await store.traceById(db, 'beta', traceId);
  t.equal(otherTenant.spans.length, 0, 'a trace id of one tenant is invisible to another');
});

t.test('blocks a store wrote in format 1 or 2 (one value each) read like format 3 (head and page values) through every read, and expire', async (t) => {
  const rand = new SeededRand(41);
  const spans = realisticSpans(rand, 120, 'acme');
  const ids = [...new Map(spans.map((s) => [Buffer.from(s.traceId).toString('hex'), s.traceId])).values()];
  const all: SpanSearch = { startNs: 0n, endNs: U64_END - 1n, predicate: {}, limit: TraceStoreLimits.searchLimitMax };
  const answers = async (store: TraceStore, db: ShardDb): Promise<unknown> => {
    const byId = [];
    for (const id of ids) byId.push((await store.traceById(db, 'acme', id)).spans.map(canon).sort());
    const found: string[] = [];
    for await (const b of store.searchSpans(db, 'acme', all, newScanStats())) for (const x of b) found.push(canon(x));
    const refs: string[] = [];
    for await (const b of store.searchSpanRefs(db, 'acme', { ...all, predicate: { name: (spans[3] as SpanRow).name } }, newScanStats())) {
      b.traceIds.forEach((id, i) => refs.push(`${Buffer.from(id).toString('hex')}@${String(b.startsNs[i])}`));
    }
    const tags = await store.readTags(db, 'acme', { startNs: 0n, endNs: U64_END - 1n, target: { kind: 'values', scope: 'any', key: 'user.id' }, valuesMax: 1000 }, () => false);
    return { byId, found: found.sort(), refs, tags: tags.entries };
  };
  for (const format of [1, 2] as const) {
    const tmp = tempDir(t);
    const db = await tmp.open();
    const store = new TraceStore();
    await store.load(db);
    const f = new Flusher(store, db);
    store.add('acme', spans.slice(0, 1000), 0);
    await f.flush();
    store.add('acme', spans.slice(1000), 0);
    await f.flush();
    const want = await answers(store, db);
    t.ok(JSON.stringify(want).length > 1000, 'the answers hold data (the comparison is not vacuous)');
    // Rewrite every block as the older code wrote it: one value under the block key, no page keys.
    const rewrite = new KvWriteBatch();
    let blocks = 0;
    for await (const page of db.pages({ gte: Uint8Array.of(TraceKeySpace.block), lt: Uint8Array.of(TraceKeySpace.block + 1) })) {
      for (const e of page) {
        const ref = { bucket: Number(Buffer.from(e.key).readBigUInt64BE(tenantPrefixBytes('acme'))), flushIndex: Number(Buffer.from(e.key).readBigUInt64BE(tenantPrefixBytes('acme') + 8)), part: Buffer.from(e.key).readUInt16BE(tenantPrefixBytes('acme') + 16) };
        const view = await readBlockView(db, 'acme', ref, newScanStats());
        const rows = decodeSpanRows(view, Array.from({ length: view.rows }, (_, i) => i));
        rewrite.put(e.key, encodeSpanBlock(rows, { formatVersion: format }));
        blocks++;
      }
    }
    for await (const page of db.pages({ gte: Uint8Array.of(TraceKeySpace.page), lt: Uint8Array.of(TraceKeySpace.page + 1) })) for (const e of page) rewrite.del(e.key);
    await db.write(rewrite);
    t.ok(blocks >= 2, `${blocks} blocks rewritten in format ${format}`);
    t.same(await answers(store, db), want, `format ${format}: traceById, searchSpans, searchSpanRefs and readTags answer the same`);
    const restarted = new TraceStore();
    await restarted.load(db);
    t.same(await answers(restarted, db), want, `format ${format}: and after a restart`);
    const batch = new KvWriteBatch();
    await restarted.expire({ batch, kv: db, flushIndex: 100 }, { defaultBeforeNs: U64_END - 1n, byTenant: new Map() });
    await db.write(batch);
    const left: string[] = [];
    for await (const page of db.pages({ gte: Uint8Array.of(0x10), lt: Uint8Array.of(0x20) })) for (const e of page) left.push(Buffer.from(e.key).toString('hex'));
    t.same(left, [], `format ${format}: expire deletes every key of the old blocks`);
  }
});

t.test('a flipped byte is ERR_CORRUPTION from every read, never data', async (t) => {
  const tmp = tempDir(t);
  const db = await tmp.open();
  const rand = new SeededRand(31);
  // No meta table: the searches read every meta from LevelDB, so a meta damaged under the live store is read (a loaded table checks them at load).
  const store = new TraceStore({}, null, undefined, undefined, true, null);
  await store.load(db);
  const spans = realisticSpans(rand, 30, 'acme');
  store.add('acme', spans, 0);
  await new Flusher(store, db).flush();
  const traceId = (spans[0] as SpanRow).traceId;
  const all: SpanSearch = { startNs: 0n, endNs: U64_END - 1n, predicate: {}, limit: TraceStoreLimits.searchLimitMax };
  const reads = {
    traceById: () => store.traceById(db, 'acme', traceId),
    search: async () => {
      for await (const b of store.searchSpans(db, 'acme', all, newScanStats())) void b;
    },
    searchByTrace: async () => {
      for await (const b of store.searchSpans(db, 'acme', { ...all, predicate: { traceId } }, newScanStats())) void b;
    },
    load: () => new TraceStore().load(db),
  };
  const first = async (prefix: Uint8Array): Promise<KvEntry> => {
    for await (const page of db.pages({ gte: prefix, lt: Buffer.concat([prefix, Buffer.alloc(20, 0xff)]) })) if (page[0] !== undefined) return page[0];
    throw new Error('no key under the prefix');
  };
  const cases: [string, Uint8Array, (value: Uint8Array) => number, (keyof typeof reads)[]][] = [
    ['span block', Uint8Array.of(TraceKeySpace.block), (v) => v.length >> 1, ['traceById', 'search', 'searchByTrace']],
    ['span block page', Uint8Array.of(TraceKeySpace.page), (v) => v.length >> 1, ['traceById', 'search', 'searchByTrace']],
    ['span block index', Uint8Array.of(TraceKeySpace.index), (v) => v.length - 3, ['search', 'searchByTrace']],
    ['block meta', Uint8Array.of(TraceKeySpace.meta), (v) => v.length - 1, ['search', 'searchByTrace', 'load']],
    ['trace-id entry count', tracePrefix('acme', traceId), () => 0, ['traceById']],
    ['tenant stats', Uint8Array.of(TraceKeySpace.stats), (v) => v.length - 1, ['load']],
  ];
  for (const name of Object.keys(reads) as (keyof typeof reads)[]) t.equal(await codeOfAsync(reads[name]), 'ok', `${name} reads undamaged data (the check is not vacuous)`);
  for (const [what, space, at, affected] of cases) {
    const e = await first(space);
    const damaged = Uint8Array.from(e.value);
    const i = at(damaged);
    damaged[i] = (damaged[i] as number) ^ 0x01;
    const b = new KvWriteBatch();
    b.put(e.key, damaged);
    await db.write(b);
    for (const name of affected) t.equal(await codeOfAsync(reads[name]), 'ERR_CORRUPTION', `${what} flipped: ${name} is ERR_CORRUPTION`);
    const restore = new KvWriteBatch();
    restore.put(e.key, e.value);
    await db.write(restore);
  }
  for (const name of Object.keys(reads) as (keyof typeof reads)[]) t.equal(await codeOfAsync(reads[name]), 'ok', `${name} reads again once restored`);
});

t.test('figures: index overhead of one flush of ~8k realistic spans', async (t) => {
  const tmp = tempDir(t);
  const db = await tmp.open();
  const seed = 42;
  const spans = realisticSpans(new SeededRand(seed), 500, 'default');
  const store = new TraceStore();
  await store.load(db);
  store.add('default', spans, 0);
  const headBytes = store.headBytes();
  const r = await new Flusher(store, db).flush();
  const ratio = r.indexBytes / r.dataBytes;
  t.comment(
    `${r.rows} spans, ${store.stats().secondary} traces, ${r.blocks} block(s): dataBytes ${r.dataBytes} (${(r.dataBytes / r.rows).toFixed(1)} B/span), ` +
      `indexBytes ${r.indexBytes} (${(r.indexBytes / r.rows).toFixed(1)} B/span), index/data ${(100 * ratio).toFixed(2)}%, head estimate ${(headBytes / r.rows).toFixed(0)} B/span`,
  );
  t.equal(r.rows, spans.length, 'every span flushed');
  t.same(store.stats(), { rows: r.rows, secondary: 500, dataBytes: r.dataBytes, indexBytes: r.indexBytes }, 'stats equal the flush report');
  t.ok(ratio < 0.1, `index overhead ${(100 * ratio).toFixed(2)}% is under the 10% target (seed ${seed})`);
});

t.test('read limits: traceById truncates and says so; search batches stay within their bound', async (t) => {
  const tmp = tempDir(t);
  const db = await tmp.open();
  const rand = new SeededRand(51);
  const traceId = rand.bytes(16);
  const spansOf = (n: number): SpanRow[] =>
    realisticSpans(rand, 1, 'acme')
      .concat(realisticSpans(rand, 1, 'acme'))
      .slice(0, n)
      .map((s) => ({ ...s, traceId }));
  const store = new TraceStore();
  await store.load(db);
  const f = new Flusher(store, db);
  for (let i = 0; i < 3; i++) {
    store.add('acme', spansOf(2), 0);
    await f.flush();
  }
  store.add('acme', spansOf(2), 0);
  const whole = await store.traceById(db, 'acme', traceId);
  t.same([whole.spans.length, whole.truncated], [8, false], 'the whole trace, not truncated');

  const few = new TraceStore({ spansPerTraceMax: 5 });
  await few.load(db);
  const cut = await few.traceById(db, 'acme', traceId);
  t.same([cut.spans.length, cut.truncated], [5, true], 'spansPerTraceMax truncates and says so');
  const blocks = new TraceStore({ traceBlocksMax: 2 });
  await blocks.load(db);
  const cutBlocks = await blocks.traceById(db, 'acme', traceId);
  t.same([cutBlocks.spans.length, cutBlocks.truncated, cutBlocks.stats.blocksScanned], [4, true, 2], 'traceBlocksMax truncates and says so');

  const model = new Model();
  const small = new TraceStore({ searchBatchRowsMax: 7 });
  await small.load(db);
  const rows = realisticSpans(rand, 10, 'acme');
  small.add('acme', rows, 0);
  model.add(rows);
  const sizes: number[] = [];
  const stats = newScanStats();
  for await (const b of small.searchSpans(db, 'acme', { startNs: 0n, endNs: U64_END - 1n, predicate: {}, limit: TraceStoreLimits.searchLimitMax }, stats)) sizes.push(b.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  t.equal(total, rows.length + 6, 'every span of the head and the blocks');
  t.ok(
    sizes.slice(0, -1).every((n) => n === 7) && (sizes[sizes.length - 1] as number) <= 7,
    `batches of 7, the last one shorter (${sizes.join(',')})`,
  );
  t.equal(stats.headRowsScanned, rows.length, 'every head row was checked once');
});

t.test('scan stats say how blocks were skipped', async (t) => {
  const tmp = tempDir(t);
  const db = await tmp.open();
  const rand = new SeededRand(61);
  const store = new TraceStore();
  await store.load(db);
  const f = new Flusher(store, db);
  const work = new Workload(rand, new Model());
  const spans: SpanRow[] = [];
  for (let h = 0n; h < 4n; h++) {
    const rows = realisticSpans(rand, 20, 'acme').map((s) => ({ ...s, startTimeUnixNano: s.startTimeUnixNano + h * HOUR, endTimeUnixNano: s.endTimeUnixNano + h * HOUR }));
    spans.push(...rows);
    store.add('acme', rows, 0);
    await f.flush();
  }
  const all = { startNs: 0n, endNs: U64_END - 1n, predicate: {}, limit: TraceStoreLimits.searchLimitMax };
  const run = async (q: SpanSearch): Promise<{ stats: ScanStats; rows: number }> => {
    const stats = newScanStats();
    let rows = 0;
    for await (const b of store.searchSpans(db, 'acme', q, stats)) rows += b.length;
    return { stats, rows };
  };
  const full = await run(all);
  t.same([full.rows, full.stats.blocksScanned, full.stats.blocksPrunedTime], [spans.length, 4, 0], 'a full scan opens the 4 blocks');
  t.ok(full.stats.bytesRead > 0, 'and counts the bytes it read');
  const first = spans[0] as SpanRow;
  const byTrace = await run({ ...all, predicate: { traceId: first.traceId } });
  t.equal(byTrace.stats.blocksScanned, 1, 'a trace-id search opens the one block of the trace');
  t.equal(byTrace.stats.blocksPrunedBloom, 3, 'the bloom filters skip the others (seeded: no false positive here)');
  const hour = await run({ ...all, startNs: work.base, endNs: work.base + HOUR });
  t.same([hour.stats.blocksScanned, hour.stats.blocksPrunedTime], [1, 0], 'a one-hour range reads only its bucket (the others are outside the key range)');
  const inside = await run({ ...all, startNs: work.base, endNs: first.startTimeUnixNano - 1_000_000_000n });
  t.ok(inside.stats.blocksPrunedTime + inside.stats.blocksScanned === 1, 'a range inside one bucket reads or time-prunes that one block');
  const none = await run({ ...all, predicate: { name: 'no such span' } });
  t.same([none.rows, none.stats.blocksPrunedIndex, none.stats.blocksScanned], [0, 4, 0], 'an absent name is answered by the postings');
});

t.test('head accounting: rows and held bytes follow adds, replacements, freeze and drop', async (t) => {
  const tmp = tempDir(t);
  const db = await tmp.open();
  const store = new TraceStore();
  await store.load(db);
  const [a, b] = realisticSpans(new SeededRand(71), 1, 'acme') as [SpanRow, SpanRow];
  /** held is what a fresh store reports for these adds: the same bytes held, whatever else the store did before. */
  const held = (...adds: SpanRow[][]): number => {
    const fresh = new TraceStore();
    for (const rows of adds) fresh.add('acme', rows, 0);
    return fresh.headBytes();
  };
  t.equal(store.headBytes(), 0, 'an empty store holds nothing');
  const res = store.add('acme', [a, b], 0);
  t.same(res, { accepted: 2, refused: 0, refusals: [] }, 'valid rows are all accepted');
  const two = store.headBytes();
  t.equal(store.headRows(), 2, 'two spans');
  t.ok(two > 0 && two === held([a, b]), `two spans hold ${two} bytes`);
  const a2 = { ...a, name: `${a.name} with a much longer name than before` };
  store.add('acme', [a2], 0);
  t.equal(store.headRows(), 2, 'a replacement keeps the count');
  t.ok(store.headBytes() > two, 'a replacement adds its bytes: the replaced version stays in the head until the flush');
  const withReplacement = store.headBytes();
  store.freeze();
  t.same([store.headRows(), store.headBytes()], [0, withReplacement], 'frozen: no head rows, the frozen bytes still count');
  store.add('acme', [a], 0);
  t.same([store.headRows(), store.headBytes()], [1, withReplacement + held([a])], 'head and frozen head add up');
  const batch = new KvWriteBatch();
  await store.writeFrozen({ batch, kv: db, flushIndex: 1 });
  await db.write(batch);
  store.dropFrozen();
  t.same([store.headRows(), store.headBytes()], [1, held([a])], 'dropFrozen releases the frozen bytes');
  const many = realisticSpans(new SeededRand(72), 200, 'acme');
  const big = new TraceStore();
  big.add('acme', many, 0);
  const perSpan = big.headBytes() / many.length;
  const estimated = many.reduce((n, s) => n + estimateSpanBytes(s), 0) / many.length;
  t.ok(perSpan > 100 && perSpan < estimated, `a realistic span holds ${perSpan.toFixed(0)} B in the head, less than the row estimate of ${estimated.toFixed(0)} B`);
  t.equal(codeOf(() => store.add('beta', [a], 0)), 'ERR_INTERNAL', 'a row of another tenant is a programmer error');
  t.equal(codeOf(() => store.freeze() === undefined && store.freeze()), 'ERR_INTERNAL', 'a second freeze before dropFrozen is a programmer error');
});

t.test('addEntry keeps a copy of the entry: a caller that reuses its buffer changes nothing in the head', async (t) => {
  const tmp = tempDir(t);
  const db = await tmp.open();
  const store = new TraceStore();
  await store.load(db);
  const spans = realisticSpans(new SeededRand(73), 3, 'acme');
  const bytes = new Uint8Array(
    encodeShardEntry({ version: SHARD_ENTRY_VERSION, tenant: 'acme', idempotencyKey: '0000000000000001', part: 0, parts: 1, leaderTimeMs: 1, spans, points: [], logs: [] }),
  );
  const rows = decodeShardEntry(bytes).spans;
  t.same(store.addEntry('acme', rows, bytes, 1), { accepted: spans.length, refused: 0, refusals: [] }, 'every span accepted');
  bytes.fill(0x5a); // The caller reuses its buffer.
  const trace = await store.traceById(db, 'acme', (spans[0] as SpanRow).traceId);
  const want = spans.filter((s) => Buffer.compare(s.traceId, (spans[0] as SpanRow).traceId) === 0);
  t.same(new Set(trace.spans.map(canon)), new Set(want.map(canon)), 'traceById reads the spans as added');
  const f = new Flusher(store, db);
  const report = await f.flush();
  t.equal(report.rows, spans.length, 'the flush writes every span');
  t.same(new Set((await store.traceById(db, 'acme', (spans[0] as SpanRow).traceId)).spans.map(canon)), new Set(want.map(canon)), 'and the block holds them');
});

t.test('a long search leaves the event loop between blocks past searchSliceMs (lookups interleave with it)', async (t) => {
  const { SpanBlockCache } = await import('./block-cache.js');
  const rand = new SeededRand(77);
  const tmp = tempDir(t);
  const db = await tmp.open();
  // turnsDuring counts the event-loop turns (setImmediate ticks) while one search over every block runs.
  const turnsDuring = async (store: TraceStore): Promise<{ turns: number; blocks: number }> => {
    const all: SpanSearch = { startNs: 0n, endNs: U64_END - 1n, predicate: {}, limit: TraceStoreLimits.searchLimitMax };
    const warm = newScanStats();
    for await (const b of store.searchSpans(db, 'acme', all, warm)) void b; // the cache holds every block after this
    let turns = 0;
    let running = true;
    const tick = (): void => {
      if (!running) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const stats = newScanStats();
    for await (const b of store.searchSpans(db, 'acme', all, stats)) void b;
    running = false;
    return { turns, blocks: stats.blocksScanned };
  };
  const writer = new TraceStore({}, new SpanBlockCache(64 * 1024 * 1024));
  await writer.load(db);
  const flusher = new Flusher(writer, db);
  for (let f = 0; f < 24; f++) {
    writer.add('acme', realisticSpans(rand, 20, 'acme'), 0);
    await flusher.flush();
  }
  // searchSliceMs 0: every block after the first waits a turn; the default (5 ms) slices by time, which a test does not assert.
  const sliced = new TraceStore({ searchSliceMs: 0 }, new SpanBlockCache(64 * 1024 * 1024));
  await sliced.load(db);
  const a = await turnsDuring(sliced);
  t.ok(a.blocks >= 24, `the search scanned every block (${a.blocks})`);
  t.ok(a.turns >= a.blocks - 1, `sliced: ${a.turns} event-loop turns during a search of ${a.blocks} cached blocks`);
  // Planted: no slicing (a slice longer than any search); a search over cached blocks then holds the thread to its end.
  const unsliced = new TraceStore({ searchSliceMs: 1e9 }, new SpanBlockCache(64 * 1024 * 1024));
  await unsliced.load(db);
  const b = await turnsDuring(unsliced);
  t.ok(b.turns < b.blocks - 1, `caught: unsliced, ${b.turns} turns during ${b.blocks} blocks`);
});

t.test('a search leaves the event loop between the pages of one block too (a full scan decodes a page at a time)', async (t) => {
  const { SpanBlockCache } = await import('./block-cache.js');
  const rand = new SeededRand(78);
  const tmp = tempDir(t);
  const db = await tmp.open();
  const writer = new TraceStore({}, new SpanBlockCache(64 * 1024 * 1024));
  await writer.load(db);
  // One flush of ~1,200 spans: one block of several pages (SpanPageLimits.pageRowsDefault a page).
  writer.add('acme', realisticSpans(rand, 60, 'acme'), 0);
  await new Flusher(writer, db).flush();
  const all: SpanSearch = { startNs: 0n, endNs: U64_END - 1n, predicate: {}, limit: TraceStoreLimits.searchLimitMax };
  const run = async (store: TraceStore): Promise<{ turns: number; blocks: number; rows: number }> => {
    await store.load(db);
    for await (const b of store.searchSpans(db, 'acme', all, newScanStats())) void b; // cached
    let turns = 0;
    let running = true;
    const tick = (): void => {
      if (!running) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const stats = newScanStats();
    let rows = 0;
    for await (const b of store.searchSpans(db, 'acme', all, stats)) rows += b.length;
    running = false;
    return { turns, blocks: stats.blocksScanned, rows };
  };
  const sliced = await run(new TraceStore({ searchSliceMs: 0 }, new SpanBlockCache(64 * 1024 * 1024)));
  t.equal(sliced.blocks, 1, 'one block');
  const pages = Math.ceil(sliced.rows / SpanPageLimits.pageRowsDefault);
  t.ok(pages >= 3, `${sliced.rows} rows in ${pages} pages`);
  t.ok(sliced.turns >= pages - 1, `sliced: ${sliced.turns} event-loop turns inside one block of ${pages} pages`);
  // Planted: the whole block decoded at once (a slice longer than the search): no turn inside it.
  const whole = await run(new TraceStore({ searchSliceMs: 1e9 }, new SpanBlockCache(64 * 1024 * 1024)));
  t.equal(whole.rows, sliced.rows, 'the same rows');
  t.ok(whole.turns < pages - 1, `caught: unsliced, ${whole.turns} turns in a block of ${pages} pages`);
});
