/**
 * logs-shard-source.test.ts — the LogEntry view and the shard-local
 * LogSource over a real LogStore (LevelDB, head and flushed blocks): seeded
 * random selects (`=`, `!=`, regex matchers, both directions, limits) equal
 * a naive reference over the rows; with line hints every matching row is
 * still returned while blocks are pruned; a planted naive hint compiler is
 * caught losing rows; a select of every entry past shardEntriesMax refuses.
 * Reproduce: SEED=<n> npx tap src/query/logs-shard-source.test.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { compileLineHints } from '../storage/logs/log-hints.js';
import type { LineHintPlan } from '../storage/logs/log-hints.js';
import { LOKI_PUSH_SCOPE, logLine, streamLabels } from '../storage/logs/log-line.js';
import { LogStore } from '../storage/logs/log-store.js';
import { realisticLogs } from '../storage/logs/log-test-util.js';
import type { LogRow } from '../storage/rows.js';
import { KvWriteBatch, ShardDb } from '../storage/shard/shard-db.js';
import { tokenize } from '../storage/tokenizer.js';
import type { LogEntry, SelectLogsRequest, StreamSelectorMatcher } from './logql/source.js';
import { matchesSelector } from './logs-selector.js';
import { ShardLogSource } from './logs-shard-source.js';
import type { ShardSourceDeps } from './logs-shard-source.js';
import { logEntryOf } from './logs-view.js';

const SEED = Number(process.env.SEED ?? 0x5e1ec7);
const TENANT = 'acme';

t.test('the LogEntry view', async (t) => {
  const base = realisticLogs(new SeededRand(1), 1)[0] as LogRow;
  const row: LogRow = {
    ...base,
    severityNumber: 17,
    body: { type: 'kvlist', values: [{ key: 'msg', value: { type: 'string', value: 'hi' } }, { key: 'n', value: { type: 'int', value: 3n } }] },
    attributes: [
      { key: 'http.method', value: { type: 'string', value: 'GET' } },
      { key: '2xx-count', value: { type: 'int', value: 7n } },
      { key: 'trace_id', value: { type: 'string', value: 'shadowed' } },
    ],
    traceId: new Uint8Array(16).fill(1),
    spanId: new Uint8Array(8).fill(2),
  };
  const e = logEntryOf(row);
  t.equal(e.line, '{"msg":"hi","n":3}', 'a map body as JSON');
  t.same(e.stream, streamLabels(row), 'stream labels are log-line.ts streamLabels');
  t.ok(e.stream.some((l) => l.name === 'level' && l.value === 'error'), 'level from the severity');
  t.ok(e.stream.some((l) => l.name === 'service_name'), 'dots as underscores');
  t.same(e.metadata, [
    { name: '_2xx_count', value: '7' },
    { name: 'http_method', value: 'GET' },
    { name: 'span_id', value: '0202020202020202' },
    { name: 'trace_id', value: '01010101010101010101010101010101' },
  ]);
  const pushed: LogRow = {
    ...base,
    severityNumber: 13,
    scope: { ...base.scope, name: LOKI_PUSH_SCOPE },
    resource: { attributes: [{ key: 'app', value: { type: 'string', value: 'shop' } }, { key: 'level', value: { type: 'string', value: 'WARN' } }], droppedAttributesCount: 0, schemaUrl: '' },
  };
  t.same(logEntryOf(pushed).stream, [
    { name: 'app', value: 'shop' },
    { name: 'level', value: 'WARN' },
  ], 'a pushed stream is shown exactly as pushed');
});

interface Fixture {
  readonly db: ShardDb;
  readonly store: LogStore;
  readonly rows: LogRow[];
}

/** fixture stores 1,500 realistic rows: `flushes` flushes of `perFlush` rows (several blocks), the rest in the head; `sorted` orders the rows by time first, so the flushes' blocks do not overlap. */
async function fixture(t: Test, rand: SeededRand, o: { flushes: number; perFlush: number; sorted: boolean } = { flushes: 3, perFlush: 400, sorted: false }): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-logsrc-'));
  const db = await ShardDb.open(dir);
  t.teardown(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const store = new LogStore();
  await store.load(db);
  const rows = realisticLogs(rand, 1500, TENANT);
  if (o.sorted) rows.sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  let flushIndex = 0;
  for (let i = 0; i < o.flushes; i++) {
    store.add(TENANT, rows.slice(i * o.perFlush, (i + 1) * o.perFlush), 0);
    store.freeze();
    const batch = new KvWriteBatch();
    await store.writeFrozen({ batch, kv: db, flushIndex: ++flushIndex });
    await db.write(batch);
    store.dropFrozen();
  }
  store.add(TENANT, rows.slice(o.flushes * o.perFlush), 0);
  return { db, store, rows };
}

function source(f: Fixture, extra: Partial<ShardSourceDeps> = {}): ShardLogSource {
  return new ShardLogSource({ store: f.store, kv: f.db, tenant: TENANT, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: () => 0, ...extra });
}

async function collect(src: ShardLogSource, req: SelectLogsRequest): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const b of src.select(req, new AbortController().signal)) out.push(...b);
  return out;
}

function randomMatchers(rand: SeededRand, rows: readonly LogRow[]): StreamSelectorMatcher[] {
  const labels = streamLabels(rows[rand.intn(rows.length)] as LogRow);
  const out: StreamSelectorMatcher[] = [];
  for (const l of labels) {
    switch (rand.intn(6)) {
      case 0:
        out.push({ name: l.name, op: '=', value: l.value });
        break;
      case 1:
        out.push({ name: l.name, op: '!=', value: l.value });
        break;
      case 2:
        out.push({ name: l.name, op: '=~', value: `${l.value.slice(0, 2)}.*` });
        break;
      case 3:
        out.push({ name: l.name, op: '!~', value: `(?i)${l.value.toUpperCase()}` });
        break;
    }
  }
  if (out.length === 0) out.push({ name: 'service_name', op: '=~', value: '.+' });
  return out;
}

const key = (e: { timeNs: bigint; line: string }): string => `${e.timeNs} ${e.line}`;

t.test('random selects equal the naive reference; hints keep every match and prune blocks', async (t) => {
  const rand = new SeededRand(SEED);
  const f = await fixture(t, rand);
  const times = f.rows.map((r) => r.timeUnixNano).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let pruned = 0;
  for (let c = 0; c < 60; c++) {
    const matchers = randomMatchers(rand, f.rows);
    const i0 = rand.intn(times.length);
    const i1 = Math.min(times.length - 1, i0 + rand.intn(times.length));
    const startNs = times[i0] as bigint;
    const endNs = times[i1] as bigint;
    const direction = rand.intn(2) === 0 ? 'forward' : 'backward';
    // Stable by time: equal times keep apply order; backward is the exact reverse.
    const expected = f.rows
      .map((row, i) => ({ row, i }))
      .filter(({ row }) => row.timeUnixNano >= startNs && row.timeUnixNano <= endNs && matchesSelector(streamLabels(row), matchers))
      .sort((a, b) => (a.row.timeUnixNano < b.row.timeUnixNano ? -1 : a.row.timeUnixNano > b.row.timeUnixNano ? 1 : a.i - b.i))
      .map(({ row }) => logEntryOf(row));
    if (direction === 'backward') expected.reverse();
    const limit = rand.intn(3) === 0 ? null : 1 + rand.intn(200);
    const got = await collect(source(f), { matchers, startNs, endNs, direction, limit, hints: [] });
    t.same(got.map(key), expected.slice(0, limit ?? expected.length).map(key), `SEED=${SEED} case ${c}: ${JSON.stringify(matchers)} ${direction} ${limit}`);
    // A hint: a substring of a matching line; every line containing it comes back.
    const pick = expected[rand.intn(Math.max(1, expected.length))];
    if (pick === undefined) continue;
    const cps = [...pick.line];
    const s0 = rand.intn(cps.length);
    const lit = cps.slice(s0, s0 + 3 + rand.intn(12)).join('');
    const src = source(f);
    const hinted = await collect(src, { matchers, startNs, endNs, direction, limit: null, hints: [{ contains: [lit], caseInsensitive: false }] });
    const have = new Set(hinted.map(key));
    const missing = expected.filter((e) => e.line.includes(lit) && !have.has(key(e)));
    t.same(missing.map(key), [], `SEED=${SEED} case ${c}: hint ${JSON.stringify(lit)} keeps every match`);
    pruned += src.stats.blocksPruned;
  }
  t.ok(pruned > 0, `hints pruned blocks (${pruned})`);
});

t.test('a planted naive hint compiler is caught losing rows', async (t) => {
  const f = await fixture(t, new SeededRand(SEED + 1));
  const naive = (hints: readonly { contains: readonly string[] }[]): LineHintPlan | null =>
    hints.length === 0 ? null : { alternatives: hints.map((h) => ({ exact: h.contains.flatMap((s) => tokenize(s).terms), pieces: [], foldLongS: false, literals: h.contains })) };
  const rand = new SeededRand(SEED + 2);
  let lost = 0;
  for (let c = 0; c < 60 && lost === 0; c++) {
    const row = f.rows[rand.intn(1200)] as LogRow;
    const line = logLine(row);
    const s0 = rand.intn(Math.max(1, line.length - 4));
    const lit = line.slice(s0, s0 + 2 + rand.intn(6));
    const all = await collect(source(f, { compileHints: naive }), { matchers: [{ name: 'service_name', op: '=~', value: '.+' }], startNs: 0n, endNs: (1n << 64n) - 1n, direction: 'forward', limit: null, hints: [{ contains: [lit], caseInsensitive: false }] });
    const have = new Set(all.map(key));
    lost += f.rows.filter((r) => logLine(r).includes(lit) && !have.has(key(logEntryOf(r)))).length;
  }
  t.ok(lost > 0, 'the naive compiler drops matching rows');
});

t.test('a hinted select answers exactly the lines holding the literal (rows are checked before decoding); a planted wrong literal check is caught', async (t) => {
  const f = await fixture(t, new SeededRand(SEED + 3));
  const rand = new SeededRand(SEED + 4);
  // Planted bug: the row check looks for the literal without its first character's case kept (lower-cased).
  const wrongCase = (hints: readonly { contains: readonly string[]; caseInsensitive: boolean }[]): LineHintPlan | null => {
    const p = compileLineHints(hints);
    return p === null ? null : { alternatives: p.alternatives.map((a) => ({ ...a, literals: a.literals.map((l) => l.toLowerCase()) })) };
  };
  const all = { matchers: [{ name: 'service_name', op: '=~', value: '.+' }] as StreamSelectorMatcher[], startNs: 0n, endNs: (1n << 64n) - 1n, limit: null, hints: [] };
  let lost = 0;
  let cases = 0;
  for (let c = 0; c < 40; c++) {
    const row = f.rows[rand.intn(f.rows.length)] as LogRow;
    const line = logLine(row);
    const s0 = rand.intn(Math.max(1, line.length - 4));
    const lit = line.slice(s0, s0 + 3 + rand.intn(10));
    if (lit === '') continue;
    const direction = rand.intn(2) === 0 ? 'forward' : 'backward';
    const req: SelectLogsRequest = { ...all, direction, hints: [{ contains: [lit], caseInsensitive: false }] };
    const everything = await collect(source(f), { ...req, hints: [] });
    const want = everything.filter((e) => e.line.includes(lit)).map(key);
    const got = (await collect(source(f), req)).map(key);
    if (compileLineHints(req.hints) !== null) t.same(got, want, `SEED=${SEED} case ${c}: hint ${JSON.stringify(lit)} ${direction}: the matching lines, in order, no other`);
    else t.same(got.filter((k) => want.includes(k)), want, `SEED=${SEED} case ${c}: hint ${JSON.stringify(lit)} (no usable term: not checked by rows) keeps every match`);
    cases++;
    if (lit !== lit.toLowerCase()) {
      const planted = new Set((await collect(source(f, { compileHints: wrongCase }), req)).map(key));
      lost += want.filter((k) => !planted.has(k)).length;
    }
  }
  t.ok(cases > 20, `${cases} hinted selects checked`);
  t.ok(lost > 0, `the planted lower-casing row check loses matching rows (${lost})`);
});

t.test('a consumer that stops after its first batch stops the block reads: hits are handed on as the store settles them', async (t) => {
  // Six flushes of 250 time-ordered rows: one block each, none overlapping, nothing in the head. A limit-N reader
  // (collectLogEntries) breaks off once it has enough; the store reads blocks lazily from the query's end, which
  // only helps if the source does not hold hits back until a full batch (256) arrived.
  const f = await fixture(t, new SeededRand(SEED + 5), { flushes: 6, perFlush: 250, sorted: true });
  const req: SelectLogsRequest = { matchers: [{ name: 'service_name', op: '=~', value: '.+' }], startNs: 0n, endNs: (1n << 64n) - 1n, direction: 'forward', limit: null, hints: [] };
  const full = source(f);
  t.equal((await collect(full, req)).length, 1500, 'every row');
  const lazy = source(f);
  for await (const batch of lazy.select(req, new AbortController().signal)) {
    t.ok(batch.length >= 1 && batch.length <= 250, `the first batch (${batch.length} entries) comes from the first block`);
    break;
  }
  t.ok(full.scan.blocksScanned >= 6, `reading everything scans every block (${full.scan.blocksScanned})`);
  t.equal(lazy.scan.blocksScanned, 1, 'stopping after the first batch scanned one block (holding hits for a full batch of 256 needed two)');
});

t.test('a select with `want` builds its first batch at most that size and reads every hit alike', async (t) => {
  // One flush of 1,500 rows: its blocks hold far more hits than a limit-16 query takes. The LogQL engine selects every
  // hit (limit null) and stops pulling at its limit; `want` makes the store build entries a small chunk at a time.
  const f = await fixture(t, new SeededRand(SEED + 6), { flushes: 1, perFlush: 1_500, sorted: true });
  const base: SelectLogsRequest = { matchers: [{ name: 'service_name', op: '=~', value: '.+' }], startNs: 0n, endNs: (1n << 64n) - 1n, direction: 'backward', limit: null, hints: [] };
  const firstBatch = async (src: ShardLogSource, req: SelectLogsRequest): Promise<number> => {
    for await (const batch of src.select(req, new AbortController().signal)) return batch.length;
    return 0;
  };
  for (const want of [1, 5, 16, 100]) {
    const req = { ...base, want };
    t.same((await collect(source(f), req)).map(key), (await collect(source(f), base)).map(key), `want ${want}: every hit, in the same order`);
    const n = await firstBatch(source(f), req);
    t.ok(n >= 1 && n <= want, `want ${want}: the first batch holds ${n} entries`);
  }
  t.ok((await firstBatch(source(f), base)) > 100, 'without want the first batch is a full chunk');
});

t.test('a log query of limit k reads k + 1 entries of a shard whose times are distinct: the engine peeks one past its limit (s22); a planted want of k is caught', async (t) => {
  // One flush of 1,500 time-ordered rows. collectLogEntries takes `limit` entries and one more (is it tied with the
  // last kept?): with `want` = limit + 1 the store's first chunk holds all it needs; with `want` = limit it built a
  // second chunk twice that size for the one entry it peeks at (keyword + 5 min: 48 rows a shard for 16, s22).
  const f = await fixture(t, new SeededRand(SEED + 7), { flushes: 1, perFlush: 1_500, sorted: true });
  const { logqlEngine } = await import('./logql/engine.js');
  const expr = '{service_name=~".+"}';
  const everything = await collect(source(f), { matchers: [{ name: 'service_name', op: '=~', value: '.+' }], startNs: 0n, endNs: (1n << 64n) - 1n, direction: 'backward', limit: null, hints: [] });
  const times = new Set(everything.map((e) => e.timeNs));
  t.equal(times.size, everything.length, 'the fixture\'s times are distinct');
  /** entriesRead runs the shard part of a limit-`limit` query over `src` and checks its answer. */
  const entriesRead = async (src: ShardLogSource, limit: number): Promise<number> => {
    const a = await logqlEngine.evaluateShardPart({ expr, startNs: 0n, endNs: (1n << 64n) - 1n, stepNs: 0n, direction: 'backward', limit }, src, new AbortController().signal);
    t.same(a.kind === 'entries' ? a.entries.map(key) : null, everything.slice(0, limit).map(key), `limit ${limit}: the newest entries`);
    return src.stats.entriesRead;
  };
  for (const limit of [1, 16, 100]) t.equal(await entriesRead(source(f), limit), limit + 1, `limit ${limit}: ${limit} entries and the one after`);
  // The plant: the request as the engine made it before s22 (want = limit).
  class WantLimit extends ShardLogSource {
    override select(req: SelectLogsRequest, signal: AbortSignal): AsyncGenerator<readonly LogEntry[]> {
      return super.select({ ...req, ...(req.want !== undefined ? { want: req.want - 1 } : {}) }, signal);
    }
  }
  const planted = new WantLimit({ store: f.store, kv: f.db, tenant: TENANT, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: () => 0 });
  t.ok((await entriesRead(planted, 16)) > 17, 'a want of the limit alone reads a second chunk: the check above catches it');
});
