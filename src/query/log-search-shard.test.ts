/**
 * log-search-shard.test.ts — the native log search's shard part over a real
 * LogStore (LevelDB; three flushes of 300-row blocks and a head of 300): seeded random
 * boolean queries (term, phrase, fuzzy, line and metadata ranges, and/or/not,
 * with and without a selector, both directions, limits) equal a naive
 * reference evaluator written from the definitions in docs/log-search.md;
 * blocks are pruned by bloom and postings; two planted bugs (fuzzy distance
 * off by one; a `not` tested against the bloom as its child, so blocks are
 * skipped before the NOT applies) are caught; a fuzzy term past
 * fuzzyExpansionsMax stops pruning instead of losing rows; the bytes bound
 * cuts the answer; the k-way merge of shard answers.
 * Reproduce: SEED=<n> npx tap src/query/log-search-shard.test.ts
 * (OTLPDB_SEARCH_CASES=<n> for more random queries.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { LogSearchLimits } from '../limits.js';
import { logLine, streamLabels } from '../storage/logs/log-line.js';
import { LogStore } from '../storage/logs/log-store.js';
import { realisticLogs } from '../storage/logs/log-test-util.js';
import type { LogRow } from '../storage/rows.js';
import { KvWriteBatch, ShardDb } from '../storage/shard/shard-db.js';
import { tokenize } from '../storage/tokenizer.js';
import type { LogEntry, StreamSelectorMatcher } from './logql/source.js';
import type { SearchPlants } from './log-search-eval.js';
import { levenshteinWithin, lineFieldNumber, searchPrune } from './log-search-eval.js';
import type { SearchNode } from './log-search-query.js';
import { parseSearchNode } from './log-search-query.js';
import { mergeSearchAnswers, searchShard } from './log-search.js';
import { matchesSelector } from './logs-selector.js';
import { logEntryOf, metadataOf } from './logs-view.js';
import { newScanStats } from '../storage/shard/signal-store.js';

const SEED = Number(process.env.SEED ?? 0x5ea4c5);
const CASES = Number(process.env.OTLPDB_SEARCH_CASES ?? 50);
const TENANT = 'acme';

// ---------------------------------------------------------------- the naive reference

/** refLevenshtein is the textbook full-matrix edit distance over code points. */
function refLevenshtein(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  const m: number[][] = [];
  for (let i = 0; i <= x.length; i++) {
    m.push([]);
    for (let j = 0; j <= y.length; j++) {
      if (i === 0) (m[i] as number[])[j] = j;
      else if (j === 0) (m[i] as number[])[j] = i;
      else {
        const sub = (m[i - 1] as number[])[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1);
        (m[i] as number[])[j] = Math.min((m[i - 1] as number[])[j]! + 1, (m[i] as number[])[j - 1]! + 1, sub);
      }
    }
  }
  return (m[x.length] as number[])[y.length]!;
}

function refNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() === v && v !== '' && !/^0x/i.test(v) && /^[-+0-9.eE]+$/.test(v) && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** refField reads a line field: a JSON object line's key, else the first whitespace-separated `key=value` chunk. */
function refField(line: string, field: string): number | undefined {
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return refNumber((v as Record<string, unknown>)[field]);
  } catch {
    // not JSON: logfmt below
  }
  for (const chunk of line.split(/\s+/)) {
    const eq = chunk.indexOf('=');
    if (eq <= 0 || chunk.slice(0, eq).includes('"')) continue;
    if (chunk.slice(0, eq) !== field) continue;
    let v = chunk.slice(eq + 1);
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    return refNumber(v);
  }
  return undefined;
}

/** REF_TERMS caches each row's terms: the reference tokenizes a line once, not once per node. */
const REF_TERMS = new WeakMap<LogRow, string[]>();

function refMatches(n: SearchNode, row: LogRow): boolean {
  const line = logLine(row);
  let terms = REF_TERMS.get(row);
  if (terms === undefined) {
    terms = tokenize(line).terms;
    REF_TERMS.set(row, terms);
  }
  switch (n.kind) {
    case 'and':
      return n.children.every((c) => refMatches(c, row));
    case 'or':
      return n.children.some((c) => refMatches(c, row));
    case 'not':
      return !refMatches(n.child, row);
    case 'term':
      return terms.includes(n.term);
    case 'phrase':
      return terms.some((_, i) => n.terms.every((p, k) => terms[i + k] === p));
    case 'fuzzy':
      return terms.some((x) => refLevenshtein(x, n.term) <= n.distance);
    case 'range': {
      const v = n.source === 'line' ? refField(line, n.field) : refNumber(metadataOf(row).find((l) => l.name === n.field)?.value);
      if (v === undefined) return false;
      const b = n.bounds;
      return (b.gt === undefined || v > b.gt) && (b.gte === undefined || v >= b.gte) && (b.lt === undefined || v < b.lt) && (b.lte === undefined || v <= b.lte);
    }
  }
}

// ---------------------------------------------------------------- fixture and generator

interface Fixture {
  readonly db: ShardDb;
  readonly store: LogStore;
  readonly rows: LogRow[];
}

async function fixture(t: Test, rand: SeededRand): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-logsearch-'));
  const db = await ShardDb.open(dir);
  t.teardown(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const store = new LogStore();
  await store.load(db);
  // A numeric attribute on a third of the rows, for metadata ranges.
  const rows = realisticLogs(rand, 1200, TENANT).map((r, i) => (i % 3 === 0 ? { ...r, attributes: [...r.attributes, { key: 'http.status', value: { type: 'int' as const, value: BigInt([200, 404, 500, 503][i % 4] as number) } }] } : r));
  let flushIndex = 0;
  for (let i = 0; i < 3; i++) {
    store.add(TENANT, rows.slice(i * 300, (i + 1) * 300), 0);
    store.freeze();
    const batch = new KvWriteBatch();
    await store.writeFrozen({ batch, kv: db, flushIndex: ++flushIndex });
    await db.write(batch);
    store.dropFrozen();
  }
  store.add(TENANT, rows.slice(900), 0);
  return { db, store, rows };
}

function pick<T>(r: SeededRand, xs: readonly T[]): T {
  return xs[r.intn(xs.length)] as T;
}

/** mutate makes a term 1 or 2 edits away (insert, delete, substitute), so fuzzy queries find near misses. */
function mutate(r: SeededRand, s: string, edits: number): string {
  let cps = [...s];
  for (let e = 0; e < edits; e++) {
    const at = r.intn(cps.length + 1);
    const c = pick(r, [...'abcdeilnorstu0']);
    const op = r.intn(3);
    if (op === 0) cps.splice(at, 0, c);
    else if (op === 1 && cps.length > 1) cps.splice(Math.min(at, cps.length - 1), 1);
    else cps[Math.min(at, cps.length - 1)] = c;
    cps = cps.filter((x) => x !== undefined);
  }
  return cps.join('');
}

function randomLeaf(r: SeededRand, lines: readonly string[]): unknown {
  const toks = tokenize(pick(r, lines)).terms;
  // Half the time the line's longest token (an id, an address: rare), so NOT of a term a block lacks is common.
  const longest = toks.reduce((a, b) => (b.length > a.length ? b : a), 'timeout');
  const tok = (): string => (toks.length === 0 ? 'timeout' : r.intn(2) === 0 ? longest : pick(r, toks));
  switch (r.intn(7)) {
    case 0:
    case 1:
      return { term: r.intn(8) === 0 ? pick(r, ['zebra', 'nonexistent', 'timeout', 'refused']) : tok() };
    case 2: {
      if (toks.length < 2) return { term: tok() };
      const i = r.intn(toks.length - 1);
      return { phrase: toks.slice(i, i + 2 + r.intn(2)).join(' ') };
    }
    case 3: {
      const long = toks.filter((x) => [...x].length >= 4 && !/^[0-9a-f]{16,}$/.test(x));
      const base = long.length === 0 ? 'connection' : pick(r, long);
      const distance = 1 + r.intn(2);
      const term = mutate(r, base, r.intn(distance + 2));
      return tokenize(term).terms.length === 1 ? { fuzzy: { term, distance } } : { term: tok() };
    }
    case 4: {
      const field = pick(r, ['id', 'user_id', 'duration_ms', 'status', 'level']);
      const lo = r.intn(60);
      return { range: r.intn(2) === 0 ? { field, gte: lo, lt: lo + r.intn(60) } : { field, gt: lo } };
    }
    case 5:
      return { range: { field: 'http_status', source: 'metadata', gte: pick(r, [200, 400, 500]), lte: pick(r, [404, 503, 600]) } };
    default:
      return { term: pick(r, ['error', 'info', 'warn', 'get', 'post', 'alice', 'bob']) };
  }
}

function randomQuery(r: SeededRand, lines: readonly string[], depth = 0): unknown {
  const k = depth >= 3 ? 4 : r.intn(6);
  if (k === 0 || k === 1) return { [k === 0 ? 'and' : 'or']: Array.from({ length: 1 + r.intn(3) }, () => randomQuery(r, lines, depth + 1)) };
  if (k === 2) return { not: randomQuery(r, lines, depth + 1) };
  return randomLeaf(r, lines);
}

function randomSelector(r: SeededRand, rows: readonly LogRow[]): StreamSelectorMatcher[] {
  switch (r.intn(4)) {
    case 0: {
      const l = streamLabels(pick(r, rows)).find((x) => x.name === 'service_name');
      return l === undefined ? [] : [{ name: 'service_name', op: '=', value: l.value }];
    }
    case 1:
      return [{ name: 'k8s_namespace_name', op: '!=', value: 'prod' }];
    case 2:
      return [{ name: 'service_name', op: '=~', value: '(checkout|auth)' }];
    default:
      return [];
  }
}

const key = (e: { timeNs: bigint; line: string }): string => `${e.timeNs} ${e.line}`;

interface CaseResult {
  readonly mismatches: number;
  readonly pruned: number;
  readonly nonEmpty: number;
}

async function runCases(t: Test | null, f: Fixture, seed: number, cases: number, plants: SearchPlants, stopAtFirst = false): Promise<CaseResult> {
  const r = new SeededRand(seed);
  const lines = f.rows.map(logLine);
  const times = f.rows.map((x) => x.timeUnixNano).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let mismatches = 0;
  let pruned = 0;
  let nonEmpty = 0;
  for (let c = 0; c < cases; c++) {
    const json = randomQuery(r, lines);
    const query = parseSearchNode(json);
    const matchers = randomSelector(r, f.rows);
    const whole = r.intn(3) === 0;
    const i0 = whole ? 0 : r.intn(times.length);
    const i1 = whole ? times.length - 1 : Math.min(times.length - 1, i0 + r.intn(times.length));
    const startNs = times[i0] as bigint;
    const endNs = times[i1] as bigint;
    const direction = r.intn(2) === 0 ? 'forward' : 'backward';
    const limit = r.intn(3) === 0 ? 1 + r.intn(50) : 5000;
    const expected: LogEntry[] = f.rows
      .map((row, i) => ({ row, i }))
      .filter(({ row }) => row.timeUnixNano >= startNs && row.timeUnixNano <= endNs && matchesSelector(streamLabels(row), matchers) && refMatches(query, row))
      .sort((a, b) => (a.row.timeUnixNano < b.row.timeUnixNano ? -1 : a.row.timeUnixNano > b.row.timeUnixNano ? 1 : a.i - b.i))
      .map(({ row }) => logEntryOf(row));
    if (direction === 'backward') expected.reverse();
    const a = await searchShard({ store: f.store, kv: f.db, tenant: TENANT, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: () => 0, plants }, { query, matchers, startNs, endNs, direction, limit });
    const want = expected.slice(0, limit).map(key);
    const got = a.entries.map(key);
    const same = JSON.stringify(got) === JSON.stringify(want);
    if (!same) mismatches++;
    if (stopAtFirst && mismatches > 0) break;
    if (want.length > 0) nonEmpty++;
    pruned += a.stats.blocksPrunedBloom + a.stats.blocksPrunedIndex;
    if (t !== null && !same) t.fail(`SEED=${seed} case ${c}: ${JSON.stringify(json)} selector ${JSON.stringify(matchers)} ${direction} limit ${limit}: got ${got.length}, want ${want.length}`);
  }
  return { mismatches, pruned, nonEmpty };
}

t.test('random boolean searches equal the naive reference, and prune blocks', async (t) => {
  const f = await fixture(t, new SeededRand(SEED));
  const res = await runCases(t, f, SEED + 1, CASES, {});
  t.equal(res.mismatches, 0, `SEED=${SEED}: every search equals the reference (${CASES} cases, ${res.nonEmpty} non-empty)`);
  t.ok(res.nonEmpty > CASES / 4, `most searches find something (${res.nonEmpty}/${CASES})`);
  t.ok(res.pruned > 0, `blocks were pruned by bloom or postings (${res.pruned})`);
});

t.test('planted bugs are caught by the differential', async (t) => {
  const f = await fixture(t, new SeededRand(SEED + 7));
  // Up to 4 × CASES searches each, stopping at the first mismatch.
  const fuzzy = await runCases(null, f, SEED + 8, 4 * CASES, { fuzzyOffByOne: true }, true);
  t.ok(fuzzy.mismatches > 0, `fuzzy distance off by one is caught (${fuzzy.mismatches} mismatching searches)`);
  const notSkip = await runCases(null, f, SEED + 8, 4 * CASES, { notBeforeSkip: true }, true);
  t.ok(notSkip.mismatches > 0, `a NOT applied before the block skip is caught (${notSkip.mismatches} mismatching searches)`);
});

t.test('pieces of the definitions', async (t) => {
  t.ok(levenshteinWithin('conection', 'connection', 1), 'one insertion');
  t.notOk(levenshteinWithin('teh', 'the', 1), 'a transposition is two edits (Levenshtein, not Damerau)');
  t.ok(levenshteinWithin('teh', 'the', 2));
  t.ok(levenshteinWithin('naïve', 'naive', 1), 'code points, not UTF-16 units');
  t.ok(levenshteinWithin('😀ab', 'ab', 1), 'an astral code point is one edit');
  const r = new SeededRand(SEED + 3);
  for (let i = 0; i < 2000; i++) {
    const a = mutate(r, pick(r, ['timeout', 'connection', 'abc', 'x', 'refused']), r.intn(4));
    const b = mutate(r, pick(r, ['timeout', 'connection', 'abc', 'x', 'refused']), r.intn(4));
    const d = r.intn(3);
    if (levenshteinWithin(a, b, d) !== refLevenshtein(a, b) <= d) t.fail(`SEED=${SEED} ${a} ${b} ${d}`);
  }
  t.equal(lineFieldNumber('{"status": 503, "s": "12.5", "x": "abc"}', 'status'), 503);
  t.equal(lineFieldNumber('{"status": 503, "s": "12.5", "x": "abc"}', 's'), 12.5);
  t.equal(lineFieldNumber('{"status": 503, "s": "12.5", "x": "abc"}', 'x'), undefined);
  t.equal(lineFieldNumber('level=info status=404 took="1.5"', 'took'), 1.5);
  t.equal(lineFieldNumber('level=info status=404 status=500', 'status'), 404, 'the first pair of a key');
  t.equal(lineFieldNumber('msg="a status=7" status=9', 'status'), 9, 'a pair inside a quoted value is not a pair');
  t.equal(lineFieldNumber('nostatus=1', 'status'), undefined);
});

t.test('a fuzzy term past fuzzyExpansionsMax stops pruning instead of losing rows', async (t) => {
  const terms = Array.from({ length: LogSearchLimits.fuzzyExpansionsMax + 10 }, (_, i) => `ab${String.fromCharCode(0x4e00 + i)}`).sort();
  const reader = { rows: 5, terms, termRows: () => Uint32Array.of(1), phraseRows: () => new Uint32Array(0), termIdsHolding: () => null, termRowsById: () => Uint32Array.of(1), termIdsStarting: () => null, termPositionsById: () => ({ rows: Uint32Array.of(1), positions: [Uint32Array.of(0)] }), prefetch: () => {} };
  const q = parseSearchNode({ fuzzy: { term: 'abx', distance: 1 } });
  t.same([...searchPrune(q).candidates(reader)], [0, 1, 2, 3, 4], 'every row is a candidate');
  const few = { ...reader, terms: terms.slice(0, 3) };
  t.same([...searchPrune(q).candidates(few)], [1], 'within the cap the postings are united');
  t.same([...searchPrune(parseSearchNode({ not: { fuzzy: { term: 'abx', distance: 1 } } })).candidates(reader)], [0, 1, 2, 3, 4], 'NOT of an inexact set is every row');
  t.equal(searchPrune(parseSearchNode({ not: { term: 'absent' } })).bloomMay(() => false), true, 'NOT of an absent term may match');
  t.equal(searchPrune(parseSearchNode({ or: [{ term: 'a' }, { term: 'b' }] })).bloomMay((x) => x === 'b'), true);
  t.equal(searchPrune(parseSearchNode({ and: [{ term: 'a' }, { term: 'b' }] })).bloomMay((x) => x === 'b'), false);
});

t.test('the bytes bound cuts a shard answer; a deadline fails it', async (t) => {
  const f = await fixture(t, new SeededRand(SEED + 11));
  const req = { query: parseSearchNode({ and: [] }), matchers: [], startNs: 0n, endNs: (1n << 64n) - 1n, direction: 'forward' as const, limit: 5000 };
  const a = await searchShard({ store: f.store, kv: f.db, tenant: TENANT, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: () => 0, bytesScannedMax: 1 }, req);
  t.ok(a.cut, 'cut past the bytes bound');
  t.ok(a.entries.length < f.rows.length, 'fewer entries');
  const full = await searchShard({ store: f.store, kv: f.db, tenant: TENANT, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: () => 0 }, req);
  t.equal(full.entries.length, f.rows.length, 'an empty `and` matches every line');
  t.notOk(full.cut);
  let code = '';
  try {
    await searchShard({ store: f.store, kv: f.db, tenant: TENANT, deadlineMs: 0, nowMs: () => 1 }, req);
  } catch (err) {
    code = err instanceof OtlpdbError ? err.code : String(err);
  }
  t.equal(code, 'ERR_TIMEOUT');
});

t.test('mergeSearchAnswers: k-way by time, limit, partial, refusals', async (t) => {
  const e = (ns: number, line: string): LogEntry => ({ stream: [], timeNs: BigInt(ns), line, metadata: [] });
  const ans = (entries: LogEntry[], cut = false) => ({ cut, stats: { ...newScanStats(), blocksScanned: 1, bytesRead: 10 }, entriesRead: entries.length, entries });
  const m = mergeSearchAnswers([{ shard: 1, answer: ans([e(9, 'a'), e(5, 'b')]) }, { shard: 2, answer: ans([e(7, 'c'), e(1, 'd')], true) }, { shard: 3, error: new OtlpdbError('ERR_TIMEOUT', 'slow') }], 'backward', 3);
  t.same(m.entries.map((x) => x.line), ['a', 'c', 'b']);
  t.ok(m.partial);
  t.equal(m.stats.shardsAsked, 3);
  t.equal(m.stats.shardsFailed, 1);
  t.equal(m.stats.shardsCut, 1);
  t.equal(m.stats.blocksScanned, 2);
  t.equal(m.stats.bytesRead, 20);
  t.throws(() => mergeSearchAnswers([{ shard: 1, error: new OtlpdbError('ERR_LIMIT_EXCEEDED', 'x') }, { shard: 2, answer: ans([]) }], 'forward', 1), { code: 'ERR_LIMIT_EXCEEDED' });
  t.throws(() => mergeSearchAnswers([{ shard: 1, error: new OtlpdbError('ERR_TIMEOUT', 'x') }], 'forward', 1), { code: 'ERR_UNAVAILABLE' });
});
