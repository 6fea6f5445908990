import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { StoreLimits } from '../../limits.js';
import type { SpanRow } from '../rows.js';
import type { KvRead, ShardDb } from '../shard/shard-db.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import { SpanBlockCache } from './block-cache.js';
import { BlockMetaTable } from './block-meta-table.js';
import type { BlockMetaPlant } from './block-meta-table.js';
import { TraceKeySpace as K, decodeBlockMeta } from './trace-keys.js';
import { TraceStore } from './trace-store.js';
import type { SpanSearch } from './trace-store.js';
import { SpaceScanCounter, flushSpans, outcomeCode, realisticSpans, tempTraceDb } from './traces-test-util.js';

// The block metas a store keeps in memory (block-meta-table.ts) stay exactly
// the metas in LevelDB through flushes (new blocks, shadow flags rewritten by
// spans sent again), retention that deletes blocks, and a reload; searches
// through the table answer as a store that reads every meta from LevelDB, and
// open no meta iterator. Two planted bugs (a stale shadow flag, an expired
// block kept) are caught. Seeded; no timing.

const HOUR = StoreLimits.traceBucketNs;
const WIDE: Pick<SpanSearch, 'startNs' | 'endNs'> = { startNs: 0n, endNs: 1n << 62n };

/** shifted moves each trace of `spans` by a seeded whole number of hours (0-3), so blocks fall in four buckets. */
function shifted(rand: SeededRand, spans: readonly SpanRow[]): SpanRow[] {
  const by = new Map<string, bigint>();
  return spans.map((s) => {
    const k = Buffer.from(s.traceId).toString('hex');
    let h = by.get(k);
    if (h === undefined) {
      h = BigInt(rand.intn(4)) * HOUR;
      by.set(k, h);
    }
    return { ...s, startTimeUnixNano: s.startTimeUnixNano + h, endTimeUnixNano: s.endTimeUnixNano + h };
  });
}

/** metasInDb is every meta in LevelDB, as the table's entries print. */
async function metasInDb(kv: KvRead): Promise<string[]> {
  const out: string[] = [];
  for await (const page of kv.pages({ gte: Uint8Array.of(K.meta), lt: Uint8Array.of(K.meta + 1) })) {
    for (const e of page) {
      const m = decodeBlockMeta(e.value);
      out.push(`${Buffer.from(e.key).toString('hex')} ${m.rows} ${m.minStartNs} ${m.maxStartNs} ${String(m.marked)} ${e.key.length + e.value.length}`);
    }
  }
  return out.sort();
}

/** metasInTable is the table's current generation printed as metasInDb prints LevelDB (null: unknown). */
function metasInTable(table: BlockMetaTable): string[] | null {
  const g = table.current();
  if (g === null) return null;
  const out: string[] = [];
  const hex = (n: number, bytes: number): string => n.toString(16).padStart(bytes * 2, '0');
  for (const [tenant, list] of g.entries()) {
    for (const { ref, meta: m, bytes } of list) {
      const key = `${hex(K.meta, 1)}${Buffer.from(tenant).toString('hex')}00${hex(ref.bucket, 8)}${hex(ref.flushIndex, 8)}${hex(ref.part, 2)}`;
      out.push(`${key} ${m.rows} ${m.minStartNs} ${m.maxStartNs} ${String(m.marked)} ${bytes}`);
    }
  }
  return out.sort();
}

/** answers are seeded searches (names, attributes, time windows) of both kinds, one comparable string each, or the error code. */
async function answers(store: TraceStore, kv: KvRead, spans: readonly SpanRow[], seed: number): Promise<string[]> {
  const rand = new SeededRand(seed);
  const out: string[] = [];
  for (let i = 0; i < 12; i++) {
    const s = spans[rand.intn(spans.length)] as SpanRow;
    const attr = s.attributes.find((a) => a.key === 'user.id');
    const from = s.startTimeUnixNano - BigInt(rand.intn(3)) * HOUR;
    const window = rand.intn(2) === 0 ? WIDE : { startNs: from, endNs: from + HOUR + BigInt(rand.intn(1000)) };
    const q: SpanSearch = { ...window, limit: 1 + rand.intn(300), predicate: i % 3 === 0 && attr !== undefined && attr.value.type === 'string' ? { attrs: [['user.id', attr.value.value]] } : i % 3 === 1 ? { name: s.name } : {} };
    const run = async (): Promise<string> => {
      const refs: string[] = [];
      for await (const b of store.searchSpanRefs(kv, 'default', q, newScanStats())) refs.push(...b.traceIds.map((x, j) => `${Buffer.from(x).toString('hex')}@${b.startsNs[j]}`));
      const rows: string[] = [];
      for await (const b of store.searchSpans(kv, 'default', q, newScanStats())) for (const r of b) rows.push(`${Buffer.from(r.spanId).toString('hex')}:${r.name}`);
      return `${refs.join(',')} | ${rows.join(',')}`;
    };
    let a: string;
    try {
      a = await run();
    } catch (err) {
      a = `error ${await outcomeCode(Promise.reject(err))}`;
    }
    out.push(`${JSON.stringify(q.predicate)} ${q.startNs}-${q.endNs} ${q.limit}: ${a}`);
  }
  return out;
}

/** flushInto adds `spans` and flushes them as flush `flushIndex` (traces-test-util flushSpans). */
function flushInto(store: TraceStore, db: ShardDb, spans: readonly SpanRow[], flushIndex: number): Promise<void> {
  return flushSpans(store, db, 'default', spans, flushIndex);
}

interface Run {
  /** tableWrong counts the checks where the table (when known) differed from LevelDB's metas. */
  tableWrong: number;
  /** answersWrong counts the searches that answered otherwise than the reference store. */
  answersWrong: number;
  /** known counts the checks where the table was known. */
  known: number;
  metaScans: number;
}

/**
 * runScenario writes seeded spans in six flushes — later flushes send some earlier spans again, renamed, so
 * older blocks get shadow markers and their metas are rewritten — runs a retention pass that deletes the
 * oldest bucket, two more flushes, and a reload; after each step it compares the table with LevelDB and the
 * searches with a store reading every meta from LevelDB (a fresh store loaded on the same database).
 */
async function runScenario(t: Test, table: BlockMetaTable, seed: number): Promise<Run> {
  const db = await tempTraceDb(t, 'otlpdb-meta-table-');
  const rand = new SeededRand(seed);
  const spans = shifted(rand, realisticSpans(rand, 120));
  const store = new TraceStore({}, new SpanBlockCache(), undefined, undefined, true, table);
  await store.load(db);
  const run: Run = { tableWrong: 0, answersWrong: 0, known: 0, metaScans: 0 };
  const written: SpanRow[] = [];
  const check = async (step: number): Promise<void> => {
    const inTable = metasInTable(table);
    if (inTable !== null) {
      run.known++;
      if (JSON.stringify(inTable) !== JSON.stringify(await metasInDb(db))) run.tableWrong++;
    }
    const ref = new TraceStore({}, null, undefined, undefined, false, null);
    await ref.load(db);
    const counted = new SpaceScanCounter(db, K.meta);
    const got = await answers(store, counted, written, seed * 100 + step);
    if (inTable !== null) run.metaScans += counted.scans;
    const want = await answers(ref, db, written, seed * 100 + step);
    got.forEach((a, i) => {
      if (a !== want[i]) run.answersWrong++;
    });
  };
  const per = Math.ceil(spans.length / 6);
  let flushIndex = 0;
  for (let f = 0; f < 6; f++) {
    const fresh = spans.slice(f * per, (f + 1) * per);
    // Spans sent again, renamed: the later flush's version wins, and the older block gets a marker.
    const again = f === 0 ? [] : written.filter(() => rand.intn(12) === 0).map((s) => ({ ...s, name: `${s.name}-v${f}` }));
    await flushInto(store, db, [...fresh, ...again], ++flushIndex);
    for (const s of [...fresh, ...again]) {
      const at = written.findIndex((w) => Buffer.compare(w.spanId, s.spanId) === 0 && Buffer.compare(w.traceId, s.traceId) === 0);
      if (at >= 0) written[at] = s;
      else written.push(s);
    }
    await check(f);
  }
  // Retention deletes the oldest bucket; between the pass and its write, and after it.
  const minStart = written.reduce((m, s) => (s.startTimeUnixNano < m ? s.startTimeUnixNano : m), written[0]?.startTimeUnixNano ?? 0n);
  const cutoff = (minStart / HOUR + 1n) * HOUR;
  const batch = new KvWriteBatch();
  const report = await store.expire({ kv: db, batch, flushIndex }, { defaultBeforeNs: cutoff, byTenant: new Map() });
  t.ok(report.keys > 0, 'the retention pass deletes blocks');
  await check(10);
  await db.write(batch);
  for (let i = written.length - 1; i >= 0; i--) if ((written[i] as SpanRow).startTimeUnixNano < cutoff) written.splice(i, 1);
  await check(11);
  for (let f = 0; f < 2; f++) {
    const again = written.filter(() => rand.intn(10) === 0).map((s) => ({ ...s, name: `${s.name}-w${f}` }));
    await flushInto(store, db, again, ++flushIndex);
    for (const s of again) written[written.findIndex((w) => Buffer.compare(w.spanId, s.spanId) === 0 && Buffer.compare(w.traceId, s.traceId) === 0)] = s;
    await check(12 + f);
  }
  await store.load(db);
  await check(20);
  return run;
}

t.test('the meta table equals LevelDB through flushes, shadow flags, retention and a reload; searches answer the same', async (t) => {
  for (const seed of [1, 2]) {
    const table = new BlockMetaTable();
    const run = await runScenario(t, table, seed);
    t.equal(run.tableWrong, 0, `seed ${seed}: the table always equals LevelDB's metas`);
    t.equal(run.answersWrong, 0, `seed ${seed}: every search answers as the LevelDB reference`);
    // Known after each flush but unknown from the retention pass until the flush after next rebuilds it.
    t.equal(run.known, 6 + 1 + 1, `seed ${seed}: known after the flushes, again after the rebuild and the reload`);
    t.equal(run.metaScans, 0, `seed ${seed}: searches through a known table open no meta iterator`);
    t.not(table.current(), null);
  }
});

t.test('a store past blocksMax reads its metas from LevelDB and answers the same', async (t) => {
  const table = new BlockMetaTable(3);
  const run = await runScenario(t, table, 4);
  t.equal(run.known, 0, 'never known: more than 3 blocks');
  t.equal(run.answersWrong, 0);
});

for (const plant of ['staleMarks', 'keepExpired'] as const satisfies readonly BlockMetaPlant[]) {
  t.test(`planted: ${plant} is caught`, async (t) => {
    let tableWrong = 0;
    let answersWrong = 0;
    for (const seed of [1, 2]) {
      const run = await runScenario(t, new BlockMetaTable(undefined, plant), seed);
      tableWrong += run.tableWrong;
      answersWrong += run.answersWrong;
    }
    t.ok(tableWrong > 0, `the table differs from LevelDB (${tableWrong} checks)`);
    t.ok(answersWrong > 0, `searches answer otherwise (${answersWrong} searches)`);
  });
}
