import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { canon } from '../storage-test-util.js';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { OtlpdbError } from '../../errors.js';
import { LogStoreLimits, StoreLimits } from '../../limits.js';
import type { LogRow } from '../rows.js';
import { KvWriteBatch, ShardDb } from '../shard/shard-db.js';
import type { FlushReport, ScanStats } from '../shard/signal-store.js';
import { newScanStats } from '../shard/signal-store.js';
import { encodeLogBlock, streamKey } from './log-block.js';
import type { StreamLabel } from './log-line.js';
import { streamLabels } from './log-line.js';
import type { HeadView, LogHit, LogScanQuery } from './log-scan.js';
import { LogStore } from './log-store.js';
import { logRowMatches } from './log-head.js';
import { LogKeySpace, bucketOf, bucketStartNs } from './log-store-format.js';
import { oracleQuery, randomQuery, realisticLogs } from './log-test-util.js';
import type { StreamMatcher } from './term-index.js';
import { normalizeLogQuery, queryLogBlock } from './term-index.js';
import { encodeLogIndex } from './term-index-build.js';

const SEED = Number(process.env.SEED ?? 0x1065);
const U64_MAX = (1n << 64n) - 1n;
const BUCKET_NS = StoreLimits.logBucketNs;
/** BASE_BUCKET is the first bucket the generated rows use (late 2026). */
const BASE_BUCKET = bucketOf(1_795_000_000_000_000_000n);
const TENANTS = ['acme', 'globex', 'initech'];

// ---------------------------------------------------------------- harness

/**
 * Harness is one store on a real LevelDB with the reference: every row ever
 * added per tenant, in apply order, and what the flushes reported. It plays
 * the shard state machine's part (freeze, writeFrozen, write, dropFrozen).
 */
class Harness {
  db: ShardDb;
  store: LogStore;
  readonly dir: string;
  readonly makeStore: () => LogStore;
  flushIndex = 0;
  readonly added = new Map<string, LogRow[]>();
  readonly flushed = new Map<string, number>();
  dataBytes = 0;
  indexBytes = 0;

  private constructor(dir: string, db: ShardDb, makeStore: () => LogStore) {
    this.dir = dir;
    this.db = db;
    this.makeStore = makeStore;
    this.store = makeStore();
  }

  static async open(t: Test, makeStore: () => LogStore = () => new LogStore()): Promise<Harness> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-logs-'));
    const h = new Harness(dir, await ShardDb.open(dir), makeStore);
    await h.store.load(h.db);
    t.teardown(async () => {
      await h.db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    return h;
  }

  add(tenant: string, rows: readonly LogRow[]): void {
    const r = this.store.add(tenant, rows, 0);
    if (r.accepted !== rows.length || r.refused !== 0) throw new Error('add refused a row');
    const list = this.added.get(tenant) ?? [];
    list.push(...rows);
    this.added.set(tenant, list);
  }

  /** freezeAndWrite freezes and writes the batch, leaving the frozen head in place (dropFrozen not called). */
  async freezeAndWrite(): Promise<FlushReport> {
    this.store.freeze();
    const batch = new KvWriteBatch();
    const report = await this.store.writeFrozen({ batch, kv: this.db, flushIndex: ++this.flushIndex });
    await this.db.write(batch);
    this.dataBytes += report.dataBytes;
    this.indexBytes += report.indexBytes;
    return report;
  }

  drop(): void {
    this.store.dropFrozen();
    // Everything added so far is now in blocks.
    for (const [tenant, rows] of this.added) this.flushed.set(tenant, rows.length);
  }

  async flush(): Promise<FlushReport> {
    const r = await this.freezeAndWrite();
    this.drop();
    return r;
  }

  /** restart closes and reopens the LevelDB and loads a new store (call with empty heads). */
  async restart(): Promise<void> {
    await this.db.close();
    this.db = await ShardDb.open(this.dir);
    this.store = this.makeStore();
    await this.store.load(this.db);
  }

  /** diskBytes sums keys and values per logs key space, straight from LevelDB. */
  async diskBytes(): Promise<{ data: number; index: number; keys: number }> {
    let data = 0;
    let index = 0;
    let keys = 0;
    for await (const page of this.db.pages({ gte: new Uint8Array([LogKeySpace.block]), lt: new Uint8Array([LogKeySpace.stats]) })) {
      for (const e of page) {
        keys++;
        if (e.key[0] === LogKeySpace.block) data += e.key.length + e.value.length;
        else index += e.key.length + e.value.length;
      }
    }
    return { data, index, keys };
  }
}

/** genRows draws realistic rows of `tenant` spread over buckets, with equal times and identical records. */
function genRows(rand: SeededRand, tenant: string, n: number, buckets = 4): LogRow[] {
  const out: LogRow[] = [];
  for (const row of realisticLogs(rand, n, tenant)) {
    const prev = out[out.length - 1];
    if (prev !== undefined && rand.intn(12) === 0) {
      out.push(prev); // an identical record is a distinct record
      continue;
    }
    const time =
      prev !== undefined && rand.intn(8) === 0
        ? prev.timeUnixNano
        : bucketStartNs(BASE_BUCKET + rand.intn(buckets)) + BigInt(rand.intn(3600)) * 1_000_000_000n + BigInt(rand.intn(1000));
    out.push({ ...row, timeUnixNano: time, observedTimeUnixNano: time + 7n });
  }
  return out;
}


async function collect(gen: AsyncGenerator<LogHit[]>): Promise<{ hits: LogHit[]; batches: number[] }> {
  const hits: LogHit[] = [];
  const batches: number[] = [];
  for await (const b of gen) {
    batches.push(b.length);
    hits.push(...b);
  }
  return { hits, batches };
}

/** referenceQuery answers a query from every row ever added: the oracle filter, then time order with ties in apply order. */
function referenceQuery(rows: readonly LogRow[], q: LogScanQuery): LogRow[] {
  const idx = oracleQuery(rows, { streamMatchers: q.streamMatchers, terms: q.terms, phrases: q.phrases, minTimeNs: q.startNs, maxTimeNs: q.endNs });
  const hits = idx.map((i) => rows[i] as LogRow).sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  if (q.direction === 'backward') hits.reverse();
  return hits.slice(0, q.limit);
}

function drawScanQuery(rand: SeededRand, rows: readonly LogRow[]): LogScanQuery {
  const lq = randomQuery(rand, rows);
  let startNs = lq.minTimeNs ?? 0n;
  let endNs = lq.maxTimeNs ?? U64_MAX;
  if (rand.intn(5) === 0) {
    // A range on bucket edges: exercises meta pruning of whole buckets.
    startNs = bucketStartNs(BASE_BUCKET + rand.intn(4));
    endNs = startNs + BUCKET_NS * BigInt(rand.intn(2)) + BUCKET_NS - 1n;
  }
  return {
    startNs,
    endNs,
    streamMatchers: lq.streamMatchers,
    terms: lq.terms,
    phrases: lq.phrases,
    direction: rand.intn(2) === 0 ? 'forward' : 'backward',
    limit: [1, 3, 17, 200, LogStoreLimits.queryRowsMax][rand.intn(5)] as number,
  };
}

/**
 * differential runs `n` random queries against the store and the reference
 * and returns the mismatches (empty when they agree).
 */
async function differential(h: Harness, rand: SeededRand, n: number, stats: ScanStats = newScanStats()): Promise<string[]> {
  const bad: string[] = [];
  for (let i = 0; i < n; i++) {
    const tenant = TENANTS[rand.intn(TENANTS.length)] as string;
    const rows = h.added.get(tenant) ?? [];
    if (rows.length === 0) continue;
    const q = drawScanQuery(rand, rows);
    const want = referenceQuery(rows, q).map(canon);
    const { hits, batches } = await collect(h.store.queryLogs(h.db, tenant, q, stats));
    const got = hits.map((x) => canon(x.row));
    if (batches.some((b) => b < 1 || b > LogStoreLimits.queryBatchRowsMax)) bad.push(`query ${i}: batch sizes ${batches.join(',')}`);
    if (hits.some((x) => x.timeNs !== x.row.timeUnixNano)) bad.push(`query ${i}: a hit's timeNs is not its row's time`);
    if (got.length !== want.length || got.some((g, k) => g !== want[k])) {
      bad.push(`query ${i} (${tenant}, ${canon(q)}): got ${got.length} rows, want ${want.length}`);
    }
  }
  return bad;
}

function refLabels(rows: readonly LogRow[], startNs: bigint, endNs: bigint): StreamLabel[][] {
  const b0 = bucketOf(startNs);
  const b1 = bucketOf(endNs);
  return rows.filter((r) => bucketOf(r.timeUnixNano) >= b0 && bucketOf(r.timeUnixNano) <= b1).map(streamLabels);
}

function matches(labels: readonly StreamLabel[], ms: readonly StreamMatcher[]): boolean {
  return ms.every((m) => (m.op === '=') === ((labels.find((l) => l.name === m.name)?.value ?? '') === m.value));
}

/** labelDifferential checks labelNames, labelValues and series against the reference over random bucket ranges. */
async function labelDifferential(h: Harness, rand: SeededRand, n: number): Promise<string[]> {
  const bad: string[] = [];
  for (let i = 0; i < n; i++) {
    const tenant = TENANTS[rand.intn(TENANTS.length)] as string;
    const rows = h.added.get(tenant) ?? [];
    const a = BigInt(BASE_BUCKET - 1 + rand.intn(6)) * BUCKET_NS + BigInt(rand.intn(1000));
    const b = a + BigInt(rand.intn(3)) * BUCKET_NS;
    const range = { startNs: a, endNs: b };
    const sets = refLabels(rows, a, b);
    const stats = newScanStats();
    const names = await h.store.labelNames(h.db, tenant, range, stats);
    const wantNames = [...new Set(sets.flatMap((s) => s.map((l) => l.name)))].sort();
    if (canon(names) !== canon(wantNames)) bad.push(`labelNames ${tenant} ${a}..${b}: ${canon(names)} want ${canon(wantNames)}`);
    const name = ['service_name', 'level', 'host_name', 'k8s_namespace_name', 'nope'][rand.intn(5)] as string;
    const values = await h.store.labelValues(h.db, tenant, name, range, stats);
    const wantValues = [...new Set(sets.flatMap((s) => s.filter((l) => l.name === name).map((l) => l.value)))].sort();
    if (canon(values) !== canon(wantValues)) bad.push(`labelValues ${tenant} ${name}: ${canon(values)} want ${canon(wantValues)}`);
    const ms: StreamMatcher[] = [];
    for (let k = rand.intn(3); k > 0; k--) {
      ms.push({ name: ['service_name', 'level', 'k8s_namespace_name'][rand.intn(3)] as string, op: rand.intn(3) === 0 ? '!=' : '=', value: ['checkout', 'prod', 'info', 'error', ''][rand.intn(5)] as string });
    }
    const series = await h.store.series(h.db, tenant, ms, range, stats);
    const wantSeries = new Map<string, StreamLabel[]>();
    for (const s of sets) if (matches(s, ms)) wantSeries.set(streamKey(s), s);
    const wantSorted = [...wantSeries.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).map((e) => e[1]);
    if (canon(series) !== canon(wantSorted)) bad.push(`series ${tenant} ${canon(ms)}: ${series.length} want ${wantSorted.length}`);
  }
  return bad;
}

function failWithSeed(t: Test, bad: string[], what: string): void {
  t.same(bad.slice(0, 5), [], `${what} (SEED=${SEED})`);
}

// ---------------------------------------------------------------- tests

t.test('randomized: queries and label reads equal the reference across head, frozen head and blocks', async (t) => {
  const rand = new SeededRand(SEED);
  const h = await Harness.open(t);
  const stats = newScanStats();
  for (let round = 0; round < 14; round++) {
    for (let k = 1 + rand.intn(3); k > 0; k--) {
      const tenant = TENANTS[rand.intn(TENANTS.length)] as string;
      h.add(tenant, genRows(rand, tenant, 1 + rand.intn(120)));
    }
    switch (rand.intn(3)) {
      case 0:
        await h.flush();
        break;
      case 1: {
        // Frozen and written but not dropped, plus a fresh head: a read must see each row once.
        await h.freezeAndWrite();
        const tenant = TENANTS[rand.intn(TENANTS.length)] as string;
        h.add(tenant, genRows(rand, tenant, 1 + rand.intn(60)));
        failWithSeed(t, await differential(h, rand, 12, stats), `round ${round}: frozen written, head fresh`);
        h.drop();
        break;
      }
      default: {
        // Frozen, not yet written.
        h.store.freeze();
        const tenant = TENANTS[rand.intn(TENANTS.length)] as string;
        h.add(tenant, genRows(rand, tenant, 1 + rand.intn(60)));
        failWithSeed(t, await differential(h, rand, 12, stats), `round ${round}: frozen unwritten`);
        const batch = new KvWriteBatch();
        const r = await h.store.writeFrozen({ batch, kv: h.db, flushIndex: ++h.flushIndex });
        h.dataBytes += r.dataBytes;
        h.indexBytes += r.indexBytes;
        await h.db.write(batch);
        h.drop();
        // The head rows added after the freeze are not flushed yet.
        for (const [tn, rows] of h.added) h.flushed.set(tn, rows.length - (tn === tenant ? h.store.headRows() : 0));
      }
    }
    failWithSeed(t, await differential(h, rand, 12, stats), `round ${round}`);
    failWithSeed(t, await labelDifferential(h, rand, 4), `round ${round} labels`);
  }
  t.ok(stats.blocksScanned > 0, 'blocks were decoded');
  t.ok(stats.blocksPrunedTime > 0, 'blocks were pruned by time');
  t.ok(stats.blocksPrunedBloom > 0, 'blocks were pruned by bloom');
  t.ok(stats.blocksPrunedIndex > 0, 'blocks were pruned by postings');
  t.ok(stats.headRowsScanned > 0 && stats.bytesRead > 0, 'head rows and bytes were counted');

  await h.flush();
  const disk = await h.diskBytes();
  const s = h.store.stats();
  t.equal(s.rows, [...h.added.values()].reduce((n, r) => n + r.length, 0), 'stats rows are every record');
  t.equal(s.secondary, 0);
  t.equal(s.dataBytes, h.dataBytes, 'dataBytes sum the flush reports');
  t.equal(s.indexBytes, h.indexBytes, 'indexBytes sum the flush reports');
  t.equal(s.dataBytes, disk.data, 'dataBytes are the block keys and values on disk');
  t.equal(s.indexBytes, disk.index, 'indexBytes are the index keys and values on disk');
  for (const tenant of TENANTS) t.equal(h.store.tenantStats(tenant).records, h.added.get(tenant)?.length ?? 0, `${tenant} records`);

  await h.restart();
  t.same(h.store.stats(), s, 'stats survive a restart');
  failWithSeed(t, await differential(h, rand, 40), 'after restart');
  failWithSeed(t, await labelDifferential(h, rand, 10), 'labels after restart');
});

t.test('ordering: equal times keep apply order; backward is the exact reverse; limit cuts', async (t) => {
  const h = await Harness.open(t);
  const base = realisticLogs(new SeededRand(3), 1, 'acme')[0] as LogRow;
  const time = bucketStartNs(BASE_BUCKET) + 5n;
  const mk = (i: number, tm = time): LogRow => ({ ...base, timeUnixNano: tm, observedTimeUnixNano: tm, body: { type: 'string', value: `event number ${i}` } });
  h.add('acme', [mk(0), mk(1), mk(2, time - 1n)]);
  await h.flush();
  h.add('acme', [mk(3), mk(4, time + 1n)]);
  await h.flush();
  h.add('acme', [mk(5)]);
  h.store.freeze();
  h.add('acme', [mk(6), mk(5)]);
  const q = (direction: 'forward' | 'backward', limit: number): Promise<string[]> =>
    collect(h.store.queryLogs(h.db, 'acme', { startNs: 0n, endNs: U64_MAX, direction, limit }, newScanStats())).then((r) =>
      r.hits.map((x) => (x.row.body.type === 'string' ? x.row.body.value.slice(13) : '?')),
    );
  const fwd = ['2', '0', '1', '3', '5', '6', '5', '4'];
  t.same(await q('forward', 100), fwd, 'blocks, frozen head, head: by time, ties in apply order, duplicates kept');
  t.same(await q('backward', 100), fwd.slice().reverse());
  t.same(await q('forward', 3), fwd.slice(0, 3));
  t.same(await q('backward', 2), ['4', '5']);
});

t.test('a read paused between batches sees each record once while a flush runs and its frozen head is dropped', async (t) => {
  const rand = new SeededRand(SEED + 5);
  const h = await Harness.open(t);
  h.add('acme', genRows(rand, 'acme', 700));
  await h.flush();
  h.add('acme', genRows(rand, 'acme', 700));
  for (const direction of ['forward', 'backward'] as const) {
    const q: LogScanQuery = { startNs: 0n, endNs: U64_MAX, direction, limit: LogStoreLimits.queryRowsMax };
    const want = referenceQuery(h.added.get('acme') as LogRow[], q).map(canon);
    const gen = h.store.queryLogs(h.db, 'acme', q, newScanStats());
    const first = await gen.next();
    const got = first.done === true ? [] : first.value.map((x) => canon(x.row));
    await h.flush(); // the head this read captured becomes blocks, and is dropped
    h.add('acme', genRows(rand, 'acme', 50)); // and newer rows arrive
    for await (const b of gen) got.push(...b.map((x) => canon(x.row)));
    t.same(got.length, want.length, `${direction}: as many rows as when the read began`);
    t.ok(got.every((g, i) => g === want[i]), `${direction}: the same rows in the same order`);
  }
});

t.test('expire deletes exactly the buckets that ended before the cutoff', async (t) => {
  const rand = new SeededRand(SEED + 1);
  const h = await Harness.open(t);
  for (const tenant of ['acme', 'globex']) h.add(tenant, genRows(rand, tenant, 300));
  await h.flush();
  for (const tenant of ['acme', 'globex']) h.add(tenant, genRows(rand, tenant, 200));
  await h.flush();
  const before = await h.diskBytes();
  const globexBefore = h.store.tenantStats('globex');
  // Cutoff inside bucket BASE+2: buckets BASE and BASE+1 end before it; BASE+2 does not.
  const cutoff = bucketStartNs(BASE_BUCKET + 2) + BUCKET_NS / 2n;
  const batch = new KvWriteBatch();
  const rep = await h.store.expire({ batch, kv: h.db, flushIndex: h.flushIndex }, { defaultBeforeNs: null, byTenant: new Map([['acme', cutoff]]) });
  await h.db.write(batch);
  t.equal(rep.buckets, 2, 'two buckets of acme');
  const after = await h.diskBytes();
  t.equal(rep.keys, before.keys - after.keys, 'every deleted key is counted');
  const keep = bucketStartNs(BASE_BUCKET + 2);
  const kept = (h.added.get('acme') as LogRow[]).filter((r) => r.timeUnixNano >= keep);
  h.added.set('acme', kept);
  const s = h.store.tenantStats('acme');
  t.equal(s.records, kept.length, 'records drop to the kept rows');
  t.same(h.store.tenantStats('globex'), globexBefore, 'another tenant is untouched');
  t.equal(h.store.stats().dataBytes, after.data, 'dataBytes match the disk');
  t.equal(h.store.stats().indexBytes, after.index, 'indexBytes match the disk');
  const all = await collect(h.store.queryLogs(h.db, 'acme', { startNs: 0n, endNs: U64_MAX, direction: 'forward', limit: 5000 }, newScanStats()));
  t.equal(all.hits.length, kept.length);
  t.ok(all.hits.every((x) => x.timeNs >= keep), 'no record of an expired bucket is read');
  failWithSeed(t, await differential(h, rand, 30), 'queries after expiry');
  failWithSeed(t, await labelDifferential(h, rand, 10), 'labels after expiry');
  const names = await h.store.labelNames(h.db, 'acme', { startNs: 0n, endNs: keep - 1n }, newScanStats());
  t.same(names, [], 'no label keys of expired buckets remain');

  await h.restart();
  t.same(h.store.tenantStats('acme'), s, 'expired stats survive a restart');
  const again = new KvWriteBatch();
  const rep2 = await h.store.expire({ batch: again, kv: h.db, flushIndex: h.flushIndex }, { defaultBeforeNs: null, byTenant: new Map([['acme', cutoff]]) });
  t.same(rep2, { buckets: 0, keys: 0 }, 'a second pass finds nothing');
  // Everything goes.
  const all2 = new KvWriteBatch();
  await h.store.expire({ batch: all2, kv: h.db, flushIndex: h.flushIndex }, { defaultBeforeNs: U64_MAX, byTenant: new Map() });
  await h.db.write(all2);
  t.same(h.store.stats(), { rows: 0, secondary: 0, dataBytes: 0, indexBytes: 0 }, 'stats reach zero with the data');
  t.equal((await h.diskBytes()).keys, 0);
});

t.test('a flipped byte in any stored value is ERR_CORRUPTION, never data', async (t) => {
  const rand = new SeededRand(SEED + 2);
  const h = await Harness.open(t);
  const rows = genRows(rand, 'acme', 200, 1);
  h.add('acme', rows);
  await h.flush();
  const first = rows[0] as LogRow;
  const term = first.body.type === 'string' ? (first.body.value.match(/[a-z]{3,}/)?.[0] ?? 'get') : 'get';
  const reads: Record<string, () => Promise<unknown>> = {
    query: () => collect(h.store.queryLogs(h.db, 'acme', { startNs: 0n, endNs: U64_MAX, terms: [term], direction: 'forward', limit: 5000 }, newScanStats())),
    series: () => h.store.series(h.db, 'acme', [], { startNs: 0n, endNs: U64_MAX }, newScanStats()),
    load: () => new LogStore().load(h.db),
  };
  const cases: [number, keyof typeof reads][] = [
    [LogKeySpace.block, 'query'],
    [LogKeySpace.postings, 'query'],
    [LogKeySpace.bloom, 'query'],
    [LogKeySpace.meta, 'query'],
    [LogKeySpace.streams, 'series'],
    [LogKeySpace.stats, 'load'],
  ];
  t.ok((await collect(h.store.queryLogs(h.db, 'acme', { startNs: 0n, endNs: U64_MAX, terms: [term], direction: 'forward', limit: 5000 }, newScanStats()))).hits.length > 0, 'the query matches before damage');
  for (const [space, read] of cases) {
    let entry: { key: Uint8Array; value: Uint8Array } | undefined;
    for await (const page of h.db.pages({ gte: new Uint8Array([space]), lt: new Uint8Array([space + 1]), limit: 1 })) entry = page[0];
    if (entry === undefined) throw new Error(`no key in space ${space}`);
    const original = new Uint8Array(entry.value);
    for (const at of [3, Math.floor(entry.value.length / 2), entry.value.length - 1]) {
      const damaged = new Uint8Array(entry.value); // a copy: a LevelDB value may be a Buffer, whose slice() is a view
      damaged[at] = (damaged[at] as number) ^ 0x10;
      const b = new KvWriteBatch();
      b.put(entry.key, damaged);
      await h.db.write(b);
      await t.rejects(reads[read] as () => Promise<unknown>, { code: 'ERR_CORRUPTION' }, `space 0x${space.toString(16)} byte ${at} via ${read}`);
      const fix = new KvWriteBatch();
      fix.put(entry.key, original);
      await h.db.write(fix);
    }
  }
  await t.resolves(reads.query as () => Promise<unknown>, 'repaired values read again');
});

t.test('a planted bug (a read that skips the frozen head) fails the differential check', async (t) => {
  /** SkipsFrozen reads the head only: the bug the checker must catch. */
  class SkipsFrozen extends LogStore {
    protected override headViews(tenant: string): HeadView[] {
      return super.headViews(tenant).filter((v) => v.rank === Number.MAX_SAFE_INTEGER);
    }
  }
  const scenario = async (h: Harness): Promise<string[]> => {
    const rand = new SeededRand(SEED + 3);
    for (const tenant of TENANTS) h.add(tenant, genRows(rand, tenant, 80));
    await h.flush();
    for (const tenant of TENANTS) h.add(tenant, genRows(rand, tenant, 80));
    h.store.freeze();
    for (const tenant of TENANTS) h.add(tenant, genRows(rand, tenant, 40));
    return differential(h, rand, 30);
  };
  t.same(await scenario(await Harness.open(t)), [], 'the store passes');
  const bad = await scenario(await Harness.open(t, () => new SkipsFrozen()));
  t.ok(bad.length > 0, `the planted bug is caught (${bad.length} of 30 queries differ)`);
});

t.test('bad query arguments are refused with stable codes', async (t) => {
  const h = await Harness.open(t);
  h.add('acme', genRows(new SeededRand(5), 'acme', 10));
  const run = (q: Partial<LogScanQuery>): Promise<unknown> =>
    collect(h.store.queryLogs(h.db, 'acme', { startNs: 0n, endNs: U64_MAX, direction: 'forward', limit: 10, ...q }, newScanStats()));
  await t.rejects(run({ limit: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  await t.rejects(run({ limit: LogStoreLimits.queryRowsMax + 1 }), { code: 'ERR_INVALID_ARGUMENT' });
  await t.rejects(run({ startNs: 10n, endNs: 5n }), { code: 'ERR_INVALID_ARGUMENT' });
  await t.rejects(run({ terms: ['two words'] }), { code: 'ERR_INVALID_ARGUMENT' });
  await t.rejects(run({ terms: Array.from({ length: 100 }, (_, i) => `t${i}`) }), { code: 'ERR_LIMIT_EXCEEDED' });
  t.ok(new OtlpdbError('ERR_CORRUPTION', 'x').code === 'ERR_CORRUPTION');
});

t.test('label keys: long names and values are cut in the key and read whole; NUL and 0x01 are escaped', async (t) => {
  const h = await Harness.open(t);
  const base = realisticLogs(new SeededRand(7), 1, 'acme')[0] as LogRow;
  const long = 'n'.repeat(600);
  const attrs: [string, string][][] = [
    [[`${long}1`, 'x'], [`${long}2`, 'y'], ['svc', 'v'.repeat(2000)]],
    [['svc', 'a\u0000b\u0001c'], ['euro', '€'.repeat(400)]],
    [['svc', 'a'], ['svc\u0000x', 'nul name']],
    [['svc', 'a\u0000'], ['euro', '€'.repeat(401)]],
  ];
  const time = bucketStartNs(BASE_BUCKET) + 1n;
  const rows = attrs.map((kvs, i): LogRow => ({
    ...base,
    timeUnixNano: time + BigInt(i),
    observedTimeUnixNano: time,
    resource: { attributes: kvs.map(([key, value]) => ({ key, value: { type: 'string', value } })), droppedAttributesCount: 0, schemaUrl: '' },
  }));
  h.add('acme', rows.slice(0, 2));
  await h.flush();
  h.add('acme', rows.slice(2));
  const check = async (when: string): Promise<void> => {
    const range = { startNs: 0n, endNs: U64_MAX };
    const sets = rows.map(streamLabels);
    const names = [...new Set(sets.flatMap((s) => s.map((l) => l.name)))].sort();
    t.same(await h.store.labelNames(h.db, 'acme', range, newScanStats()), names, `${when}: names`);
    for (const name of names) {
      const want = [...new Set(sets.flatMap((s) => s.filter((l) => l.name === name).map((l) => l.value)))].sort();
      t.same(await h.store.labelValues(h.db, 'acme', name, range, newScanStats()), want, `${when}: values of a ${name.length}-char name`);
    }
    const series = await h.store.series(h.db, 'acme', [{ name: 'svc', op: '!=', value: 'a' }], range, newScanStats());
    t.same(series.map(streamKey).sort(), [sets[0], sets[1], sets[3]].map((s) => streamKey(s as StreamLabel[])).sort(), `${when}: series`);
  };
  await check('head and block');
  await h.flush();
  await check('blocks');
});

t.test('a bucket of more than blockRowsMax rows is cut into parts that read back in order', async (t) => {
  const h = await Harness.open(t);
  const base = realisticLogs(new SeededRand(8), 1, 'acme')[0] as LogRow;
  const n = LogStoreLimits.blockRowsMax + 3;
  const t0 = bucketStartNs(BASE_BUCKET);
  // Applied newest first, so the flush must sort; every 1000th row shares its time with the next.
  const rows = Array.from({ length: n }, (_, i): LogRow => {
    const time = t0 + BigInt(n - i - (i % 1000 === 0 ? 1 : 0)) * 1000n;
    return { ...base, timeUnixNano: time, observedTimeUnixNano: time, body: { type: 'string', value: `row ${i}` } };
  });
  h.add('acme', rows);
  const r = await h.flush();
  t.equal(r.blocks, 2, 'two parts');
  const q: LogScanQuery = { startNs: 0n, endNs: U64_MAX, terms: ['row'], direction: 'backward', limit: LogStoreLimits.queryRowsMax };
  const got = (await collect(h.store.queryLogs(h.db, 'acme', q, newScanStats()))).hits.map((x) => canon(x.row));
  t.same(got, referenceQuery(rows, q).map(canon), 'the newest rows, across the part boundary');
  const fwd = (await collect(h.store.queryLogs(h.db, 'acme', { ...q, direction: 'forward' }, newScanStats()))).hits.map((x) => canon(x.row));
  t.same(fwd, referenceQuery(rows, { ...q, direction: 'forward' }).map(canon), 'the oldest rows');
});

t.test('a limit-N query reads only the blocks at its end of a bucket, and stays exact when flushes overlap in time', async (t) => {
  const h = await Harness.open(t);
  const base = realisticLogs(new SeededRand(9), 1, 'acme')[0] as LogRow;
  const t0 = bucketStartNs(BASE_BUCKET);
  const row = (i: number, timeStep: number, tag: string): LogRow => {
    const time = t0 + BigInt(timeStep) * 1000n;
    return { ...base, timeUnixNano: time, observedTimeUnixNano: time, body: { type: 'string', value: `row ${tag} ${i}` } };
  };
  const n = 3 * LogStoreLimits.blockRowsMax + 5;
  const first = Array.from({ length: n }, (_, i) => row(i, i - (i % 7 === 1 ? 1 : 0), 'a')); // Some times shared by neighbours.
  h.add('acme', first);
  const blocks = (await h.flush()).blocks;
  t.ok(blocks >= 4, `one flush, ${blocks} time-ordered blocks (the last holds the 5 newest rows)`);
  const query = async (rows: readonly LogRow[], q: LogScanQuery, what: string): Promise<ScanStats> => {
    const stats = newScanStats();
    const got = (await collect(h.store.queryLogs(h.db, 'acme', q, stats))).hits.map((x) => canon(x.row));
    t.same(got, referenceQuery(rows, q).map(canon), what);
    return stats;
  };
  const q: LogScanQuery = { startNs: 0n, endNs: U64_MAX, terms: ['row'], direction: 'backward', limit: 100 };
  const back = (await query(first, q, 'the newest 100')).blocksScanned;
  t.equal(back, 2, `backward: only the 5-row newest block and the one before it are read, of ${blocks}`);
  t.equal((await query(first, { ...q, direction: 'forward' }, 'the oldest 100')).blocksScanned, 1, 'forward: only the oldest block is read');
  // A second flush whose rows fall between and on the first one's times: every block of it overlaps.
  const second = Array.from({ length: LogStoreLimits.blockRowsMax + 7 }, (_, i) => row(i, 6 * i + (i % 3), 'b'));
  h.add('acme', second);
  await h.flush();
  const all = [...first, ...second];
  for (const direction of ['backward', 'forward'] as const) {
    for (const limit of [1, 100, 4_999]) await query(all, { ...q, direction, limit }, `${direction}, limit ${limit}, over overlapping flushes`);
  }
});

t.test('the head filter (logRowMatches) answers exactly as queryLogBlock, upper-case terms included', async (t) => {
  const rand = new SeededRand(SEED + 4);
  const rows = genRows(rand, 'acme', 400, 1);
  const block = encodeLogBlock(rows);
  const index = encodeLogIndex(rows);
  const bad: string[] = [];
  for (let k = 0; k < 200; k++) {
    const q0 = randomQuery(rand, rows);
    const q = { ...q0, terms: (q0.terms ?? []).map((x) => (rand.intn(2) === 0 ? x.toUpperCase() : x)) };
    const want = [...queryLogBlock(block, index, q).rows];
    const nq = normalizeLogQuery(q);
    const got = rows.flatMap((r, i) => (logRowMatches(r, nq, q.minTimeNs ?? 0n, q.maxTimeNs ?? U64_MAX) ? [i] : []));
    if (canon(got) !== canon(want)) bad.push(`query ${k}: ${got.length} vs ${want.length}`);
  }
  failWithSeed(t, bad, 'head filter against queryLogBlock');
});

t.test('head bytes: accounted on add, kept while frozen, released at drop', async (t) => {
  const h = await Harness.open(t);
  t.equal(h.store.headBytes(), 0);
  h.add('acme', genRows(new SeededRand(6), 'acme', 50));
  const b = h.store.headBytes();
  t.ok(b >= 50 * LogStoreLimits.headRowOverheadBytes, 'at least the per-row overhead');
  t.equal(h.store.headRows(), 50);
  h.store.freeze();
  t.equal(h.store.headRows(), 0, 'headRows counts the head only');
  t.equal(h.store.headBytes(), b, 'the frozen head still counts');
  const batch = new KvWriteBatch();
  await h.store.writeFrozen({ batch, kv: h.db, flushIndex: 1 });
  await h.db.write(batch);
  h.store.dropFrozen();
  t.equal(h.store.headBytes(), 0);
});

t.test('figures: one flush of realistic logs (dataBytes, indexBytes)', async (t) => {
  const h = await Harness.open(t);
  const rows = realisticLogs(new SeededRand(SEED), 10_000, 'acme');
  h.add('acme', rows);
  const r = await h.flush();
  t.equal(r.rows, 10_000);
  t.ok(r.dataBytes > 0 && r.indexBytes > 0);
  const bySpace = new Map<number, number>();
  for await (const page of h.db.pages({ gte: new Uint8Array([LogKeySpace.block]), lt: new Uint8Array([LogKeySpace.stats]) })) {
    for (const e of page) bySpace.set(e.key[0] as number, (bySpace.get(e.key[0] as number) ?? 0) + e.key.length + e.value.length);
  }
  t.equal([...bySpace.values()].reduce((a, b) => a + b, 0), r.dataBytes + r.indexBytes, 'the report covers every key written');
  t.comment(`bytes by key space: ${[...bySpace].map(([k, v]) => `0x${k.toString(16)} ${v}`).join(', ')}`);
  t.comment(
    `10,000 realistic rows, ${r.blocks} block(s): dataBytes ${r.dataBytes} (${(r.dataBytes / r.rows).toFixed(1)} B/row), ` +
      `indexBytes ${r.indexBytes} (${(r.indexBytes / r.rows).toFixed(1)} B/row), index/data ${(r.indexBytes / r.dataBytes).toFixed(3)}`,
  );
});
