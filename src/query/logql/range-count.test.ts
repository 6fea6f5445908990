/**
 * range-count.test.ts — a shard's range aggregations over lines counted
 * without building entries (range-count.ts over ShardLogSource.countEntries,
 * storage/logs/log-count.ts) against the same shard part gathered entry by
 * entry (engine.ts gatherSamples, itself checked against the LogQL
 * reference by differential.test.ts): seeded random count_over_time, rate,
 * bytes_over_time and bytes_rate queries (line filters, `=`/`!=`/regex
 * matchers, offsets, ranges, steps, instant queries) over a real
 * LogStore whose rows sit in blocks (with and without their term index)
 * and in the head, with structured metadata on some rows, times on whole milliseconds
 * (ties, rows at window ends); every answer must be equal,
 * series for series and step for step. Planted bugs (a window one step
 * off, metadata ignored) must each be caught. Reproduce:
 * SEED=<n> npx tap src/query/logql/range-count.test.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { encodeLogBlock } from '../../storage/logs/log-block.js';
import { decodeLogBlock, openLogBlock } from '../../storage/logs/log-block-decode.js';
import { hasMetadata } from '../../storage/logs/log-count.js';
import { pageMetadataRows } from '../../storage/logs/log-count-page.js';
import { streamLabels } from '../../storage/logs/log-line.js';
import { LogStore } from '../../storage/logs/log-store.js';
import { realisticLogs } from '../../storage/logs/log-test-util.js';
import type { LogRow } from '../../storage/rows.js';
import { KvWriteBatch, ShardDb } from '../../storage/shard/shard-db.js';
import { OtlpdbError } from '../../errors.js';
import { ShardLogSource } from '../logs-shard-source.js';
import type { RangeAggregation } from './ast.js';
import { logqlEngine } from './engine.js';
import { evaluationSteps } from './metric.js';
import { parseLogql } from './parser.js';
import type { CountPlant } from './range-count.js';
import { countRangePart, countable } from './range-count.js';
import type { LogShardAnswer, ShardPartialSeries } from './source.js';

const SEED = Number(process.env.SEED ?? 0xc0047);
const TENANT = 'acme';
const CASES = 120;
const MS = 1_000_000n;

interface Fixture {
  readonly db: ShardDb;
  readonly store: LogStore;
  readonly rows: LogRow[];
}

/** fixture stores 1,500 realistic rows (half with trace ids, a third with attributes): three flushes of 400, the rest in the head. */
async function fixture(t: Test, rand: SeededRand, termIndex = true): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-range-count-'));
  const db = await ShardDb.open(dir);
  t.teardown(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const store = new LogStore({ termIndex });
  await store.load(db);
  // Times on whole milliseconds: ties, and rows exactly at window ends (the steps and ranges below are whole milliseconds too).
  const rows = realisticLogs(rand, 1500, TENANT).map((r) => ({ ...r, timeUnixNano: (r.timeUnixNano / MS) * MS }));
  for (let i = 0; i < 3; i++) {
    store.add(TENANT, rows.slice(i * 400, (i + 1) * 400), 0);
    store.freeze();
    const batch = new KvWriteBatch();
    await store.writeFrozen({ batch, kv: db, flushIndex: i + 1 });
    await db.write(batch);
    store.dropFrozen();
  }
  store.add(TENANT, rows.slice(1200), 0);
  return { db, store, rows };
}

const FNS = ['count_over_time', 'rate', 'bytes_over_time', 'bytes_rate'];
const FILTERS = ['', '|= "error"', '!= "GET"', '|~ "(?i)time(out)?"', '|= "a" or "ms"', '|= "e" != "user"', '|~ "[0-9]{3}"', '!~ "^\\\\{"'];

/** randomQuery draws a countable range aggregation over the fixture's labels. */
function randomQuery(rand: SeededRand, rows: readonly LogRow[]): string {
  const labels = streamLabels(rows[rand.intn(rows.length)] as LogRow);
  const ms: string[] = [];
  for (const l of labels) {
    const k = rand.intn(6);
    if (k === 0) ms.push(`${l.name}="${l.value}"`);
    else if (k === 1) ms.push(`${l.name}!="${l.value}"`);
    else if (k === 2) ms.push(`${l.name}=~"${l.value.slice(0, 2)}.*"`);
  }
  ms.push('service_name=~".+"');
  const fn = FNS[rand.intn(FNS.length)] as string;
  const filter = FILTERS[rand.intn(FILTERS.length)] as string;
  const rangeMs = [1, 50, 200, 700][rand.intn(4)] as number;
  const offset = rand.intn(4) === 0 ? ` offset ${1 + rand.intn(300)}ms` : '';
  return `${fn}({${ms.join(', ')}} ${filter} [${rangeMs}ms]${offset})`;
}

/** normalized is a shard answer's partials as a sorted, comparable text (series order is not part of an answer). */
function normalized(series: readonly ShardPartialSeries[]): string[] {
  return series.map((s) => `${JSON.stringify(s.labels)} ${s.stepsNs.map((t, i) => `${t}=${JSON.stringify(s.values[i])}`).join(' ')}`).sort();
}

function partialsOf(a: LogShardAnswer): readonly ShardPartialSeries[] {
  if (a.kind !== 'partials') throw new OtlpdbError('ERR_INTERNAL', 'a metric shard part answers partials');
  return a.series;
}

/** runCases compares counted and gathered answers over `cases` seeded queries; it answers how many agreed and how many were non-empty, and the first disagreement. */
async function runCases(f: Fixture, seed: number, plant: CountPlant): Promise<{ agreed: number; nonEmpty: number; failure: string | null }> {
  const rand = new SeededRand(seed);
  const t0 = (f.rows[0] as LogRow).timeUnixNano;
  const tEnd = (f.rows[f.rows.length - 1] as LogRow).timeUnixNano;
  let agreed = 0;
  let nonEmpty = 0;
  for (let c = 0; c < CASES; c++) {
    const text = randomQuery(rand, f.rows);
    const node = parseLogql(text) as RangeAggregation;
    const span = tEnd - t0;
    const startNs = ((t0 + (span * BigInt(rand.intn(100))) / 100n) / MS) * MS;
    const stepNs = [0n, 1_000_000n, 37_000_000n, 250_000_000n][rand.intn(4)] as bigint;
    const endNs = stepNs === 0n ? startNs : startNs + BigInt(rand.intn(60)) * stepNs;
    const steps = evaluationSteps(startNs, endNs, stepNs);
    const signal = new AbortController().signal;
    const src = new ShardLogSource({ store: f.store, kv: f.db, tenant: TENANT, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: () => 0 });
    const counted = await countRangePart(node, steps, stepNs, src, signal, plant);
    if (counted === null) return { agreed, nonEmpty, failure: `case ${c}: ${text} was not counted` };
    const plain = new ShardLogSource({ store: f.store, kv: f.db, tenant: TENANT, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: () => 0 });
    // The same source without countEntries: the engine gathers every entry.
    const gathering = { select: plain.select.bind(plain), stats: plain.stats };
    const gathered = partialsOf(await logqlEngine.evaluateShardPart({ expr: text, startNs, endNs, stepNs, direction: 'backward', limit: 100 }, gathering, signal));
    const a = normalized(counted);
    const b = normalized(gathered);
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      return { agreed, nonEmpty, failure: `SEED=${seed} case ${c}: ${text} start=${startNs} end=${endNs} step=${stepNs}\ncounted:  ${a.join(' | ').slice(0, 1500)}\ngathered: ${b.join(' | ').slice(0, 1500)}` };
    }
    agreed++;
    if (b.length > 0) nonEmpty++;
  }
  return { agreed, nonEmpty, failure: null };
}

t.test('counted range aggregations equal the gathered ones', async (t) => {
  const f = await fixture(t, new SeededRand(SEED));
  const o = await runCases(f, SEED + 1, 'none');
  if (o.failure !== null) t.fail(o.failure);
  t.equal(o.agreed, CASES, `${CASES} queries agree`);
  t.ok(o.nonEmpty > CASES / 2, `most answers hold series (${o.nonEmpty} of ${CASES})`);
});

t.test('counted range aggregations equal the gathered ones over blocks without their index', async (t) => {
  const f = await fixture(t, new SeededRand(SEED + 2), false);
  const o = await runCases(f, SEED + 3, 'none');
  if (o.failure !== null) t.fail(o.failure);
  t.equal(o.agreed, CASES, `${CASES} queries agree`);
});

t.test('the engine counts a shard part when it can, and gathers otherwise', async (t) => {
  t.ok(countable(parseLogql('count_over_time({a="b"} |= "x" != "y" [1m])') as RangeAggregation), 'line filters only');
  t.ok(countable(parseLogql('bytes_rate({a="b"} [1m])') as RangeAggregation), 'no stage');
  t.notOk(countable(parseLogql('count_over_time({a="b"} | json [1m])') as RangeAggregation), 'a parser');
  t.notOk(countable(parseLogql('count_over_time({a="b"} |= "x" | level="error" [1m])') as RangeAggregation), 'a label filter');
  t.notOk(countable(parseLogql('sum_over_time({a="b"} | logfmt | unwrap n [1m])') as RangeAggregation), 'an unwrap');
  const f = await fixture(t, new SeededRand(SEED + 7));
  const src = new ShardLogSource({ store: f.store, kv: f.db, tenant: TENANT, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: () => 0 });
  const t0 = (f.rows[0] as LogRow).timeUnixNano;
  const req = { expr: 'count_over_time({service_name=~".+"} |= "e" [10s])', startNs: t0 + 5_000_000_000n, endNs: t0 + 5_000_000_000n, stepNs: 0n, direction: 'backward' as const, limit: 100 };
  await logqlEngine.evaluateShardPart(req, src, new AbortController().signal);
  t.ok(src.stats.entriesRead > 0, 'entries were counted');
  t.ok(src.scan.blocksScanned > 0, 'blocks were read');
});

for (const plant of ['window-off-by-one', 'metadata-ignored'] as const) {
  t.test(`the comparison catches a planted bug: ${plant}`, async (t) => {
    const f = await fixture(t, new SeededRand(SEED));
    const o = await runCases(f, SEED + 1, plant);
    t.ok(o.failure !== null, 'a disagreement is found');
    t.comment(`caught after ${o.agreed} agreeing queries`);
  });
}

t.test('pageMetadataRows marks exactly the rows with metadata, and refuses a damaged page', async (t) => {
  const rand = new SeededRand(SEED + 3);
  for (const pageRows of [1, 7, 256]) {
    const rows = realisticLogs(rand, 300, TENANT);
    const block = encodeLogBlock(rows, pageRows);
    const o = openLogBlock(block);
    const decoded = decodeLogBlock(block);
    const marks: number[] = [];
    for (let p = 0; p < o.pages.length; p++) marks.push(...pageMetadataRows(o, p));
    t.same(marks, decoded.map((r) => (hasMetadata(r) ? 1 : 0)), `pages of ${pageRows}: one mark a row, as the rows say`);
    t.ok(marks.includes(0) && marks.includes(1), 'both kinds of row present');
  }
  // A page whose rest section is cut short (the envelope's checksum passed: the bounds say it is shorter).
  const o = openLogBlock(encodeLogBlock(realisticLogs(rand, 20, TENANT), 20));
  const page = o.pages[0] as (typeof o.pages)[number];
  const rest = page.bounds[7] as readonly [number, number];
  const cut = { ...o, pages: [{ ...page, bounds: [...page.bounds.slice(0, 7), [rest[0], rest[1] - 3] as const] }] };
  t.throws(() => pageMetadataRows(cut, 0), { code: 'ERR_CORRUPTION' }, 'a cut rest section is ERR_CORRUPTION');
  const bad = new Uint8Array(page.payload);
  bad[rest[0]] = 0xc1;
  t.throws(() => pageMetadataRows({ ...o, pages: [{ ...page, bounds: page.bounds, payload: bad }] }, 0), { code: 'ERR_CORRUPTION' }, 'an unknown type byte is ERR_CORRUPTION');
});
