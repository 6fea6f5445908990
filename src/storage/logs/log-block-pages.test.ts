/**
 * log-block-pages.test.ts — paged log blocks (version 3): every page size
 * and version 2 decode to the rows encoded; a read's view (LogBlockView)
 * gives exactly the rows and lines of the block from its pages; block times
 * as offsets test a range with both ends inclusive; damaged page tables and
 * time sections are ERR_CORRUPTION. Each check is shown to catch a planted
 * bug (a page table off by one row, a range with an exclusive bound).
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { randomRows } from '../rows-test-util.js';
import type { LogRow } from '../rows.js';
import { canon, expectCorrupt } from '../storage-test-util.js';
import { encodeLogBlock, encodeLogBlockUnpaged } from './log-block.js';
import { decodeBlockTables, decodeLogBlock, readLines } from './log-block-decode.js';
import { LOG_BLOCK_VERSION, LOG_BLOCK_VERSION_UNPAGED, TIME_OFFSETS } from './log-block-format.js';
import type { BlockTimes, OpenedLogBlock } from './log-block-open.js';
import { decodeBlockTimes, openLogBlock } from './log-block-open.js';
import { LogBlockView } from './log-block-read.js';
import { logLine, streamLabels } from './log-line.js';
import { realisticLogs } from './log-test-util.js';

const SEED = Number(process.env.SEED ?? 0x9a6e);

function draw(rand: SeededRand): LogRow[] {
  return rand.intn(2) === 0 ? randomRows(rand, { logs: 1 + rand.intn(300) }).logs : realisticLogs(rand, 1 + rand.intn(700));
}

/** viewMismatches compares a view's lines, rows and times with the rows encoded; empty when they agree. */
function viewMismatches(view: LogBlockView, rows: readonly LogRow[], rand: SeededRand): string[] {
  const bad: string[] = [];
  const picked: number[] = [];
  for (let i = 0; i < rows.length; i++) if (rand.intn(3) === 0) picked.push(i);
  for (const o of picked) {
    if (view.line(o) !== logLine(rows[o] as LogRow)) bad.push(`line ${o}`);
    if (view.times.at(o) !== (rows[o] as LogRow).timeUnixNano) bad.push(`time ${o}`);
  }
  const got = view.rowsAt(picked).map(canon);
  picked.forEach((o, k) => {
    if (got[k] !== canon(rows[o])) bad.push(`row ${o}`);
  });
  return bad;
}

t.test('every page size and version 2 decode to the rows encoded; a view reads rows and lines from their pages', async (t) => {
  t.comment(`seed ${SEED} (rerun with SEED=${SEED})`);
  for (let s = 0; s < 30; s++) {
    const rand = new SeededRand(SEED + s);
    const rows = draw(rand);
    const pageRows = [1, 2, 7, 64, 512, 65_536][rand.intn(6)] as number;
    for (const [what, bytes] of [
      [`pages of ${pageRows}`, encodeLogBlock(rows, pageRows)],
      ['version 2', encodeLogBlockUnpaged(rows)],
    ] as const) {
      const o = openLogBlock(bytes);
      t.equal(o.version, what === 'version 2' ? LOG_BLOCK_VERSION_UNPAGED : LOG_BLOCK_VERSION);
      t.equal(o.pages.length, what === 'version 2' ? 1 : Math.ceil(rows.length / pageRows), `seed ${SEED + s} ${what}: page count`);
      t.same(decodeLogBlock(bytes), rows, `seed ${SEED + s} ${what}: decodeLogBlock`);
      const lines = readLines(bytes);
      t.same(lines.lines, rows.map(logLine), `seed ${SEED + s} ${what}: lines`);
      t.same(Array.from(lines.streamIds, (id) => lines.streams[id]), rows.map(streamLabels), `seed ${SEED + s} ${what}: streams`);
      const view = new LogBlockView({ opened: o, times: decodeBlockTimes(o), tables: decodeBlockTables(o) });
      t.same(viewMismatches(view, rows, rand).slice(0, 5), [], `seed ${SEED + s} ${what}: the view`);
      t.ok(view.pagesDecoded <= o.pages.length, 'each page decoded at most once');
    }
  }
});

t.test('a view decodes only the pages of the rows it is asked for', async (t) => {
  const rows = realisticLogs(new SeededRand(SEED), 1000);
  const o = openLogBlock(encodeLogBlock(rows, 100));
  const view = new LogBlockView({ opened: o, times: decodeBlockTimes(o), tables: decodeBlockTables(o) });
  t.equal(view.line(999), logLine(rows[999] as LogRow));
  t.same(view.rowsAt([950, 990]).map(canon), [rows[950], rows[990]].map(canon));
  t.equal(view.pagesDecoded, 1, 'rows 950..999 are page 9 alone');
});

t.test('planted: a view whose page table is off by one row is caught', async (t) => {
  let caught = 0;
  for (let s = 0; s < 10; s++) {
    const rand = new SeededRand(SEED + 200 + s);
    const rows = realisticLogs(rand, 50 + rand.intn(400));
    const o = openLogBlock(encodeLogBlock(rows, 16));
    const planted: OpenedLogBlock = { ...o, pageRows: o.pageRows + 1 };
    try {
      if (viewMismatches(new LogBlockView({ opened: planted, times: decodeBlockTimes(o), tables: decodeBlockTables(o) }), rows, rand).length > 0) caught++;
    } catch {
      caught++; // an ordinal past a page's end trips an assertion: caught too
    }
  }
  t.equal(caught, 10, 'every planted view disagrees with the rows');
});

/** rangeMismatches compares a range test with bigint comparisons at every row's own time and its neighbours, as bounds. */
function rangeMismatches(times: BlockTimes, rows: readonly LogRow[], test: (lo: bigint, hi: bigint) => (i: number) => boolean, rand: SeededRand): string[] {
  const bad: string[] = [];
  for (let k = 0; k < 40; k++) {
    const a = (rows[rand.intn(rows.length)] as LogRow).timeUnixNano + BigInt(rand.intn(3) - 1);
    const b = (rows[rand.intn(rows.length)] as LogRow).timeUnixNano + BigInt(rand.intn(3) - 1);
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    const inRange = test(lo, hi);
    rows.forEach((r, i) => {
      if (inRange(i) !== (r.timeUnixNano >= lo && r.timeUnixNano <= hi)) bad.push(`row ${i} in [${lo}, ${hi}]`);
    });
  }
  return bad;
}

t.test('block times: offsets and bigints test a range with both ends inclusive; an exclusive bound is caught', async (t) => {
  let plantedCaught = 0;
  for (let s = 0; s < 20; s++) {
    const rand = new SeededRand(SEED + 300 + s);
    // Even seeds: random rows at the u64 edges (spans past 2^52 keep bigints); odd: realistic rows (offsets).
    const rows = s % 2 === 0 ? randomRows(rand, { logs: 1 + rand.intn(200) }).logs : realisticLogs(rand, 1 + rand.intn(500));
    const o = openLogBlock(encodeLogBlock(rows, 32));
    const times = decodeBlockTimes(o);
    t.same(times.bigints(), rows.map((r) => r.timeUnixNano), `seed ${SEED + 300 + s}: times`);
    t.same(rangeMismatches(times, rows, (lo, hi) => times.inRange(lo, hi), rand).slice(0, 5), [], `seed ${SEED + 300 + s}: inRange`);
    const exclusive = (lo: bigint, hi: bigint): ((i: number) => boolean) => times.inRange(lo + 1n, hi);
    if (rangeMismatches(times, rows, exclusive, rand).length > 0) plantedCaught++;
  }
  t.equal(plantedCaught, 20, 'a range test with an exclusive lower bound is caught on every seed');
  const narrow = openLogBlock(encodeLogBlock(realisticLogs(new SeededRand(SEED), 20)));
  t.equal(narrow.payload[narrow.bounds[0]?.[0] as number], TIME_OFFSETS, 'a bucket-wide block stores offsets');
});

t.test('damaged page tables, time sections and pages are ERR_CORRUPTION, never data', async (t) => {
  const rand = new SeededRand(SEED + 400);
  const rows = realisticLogs(rand, 300);
  const bytes = encodeLogBlock(rows, 64);
  const o = openLogBlock(bytes);
  const payload = openBlock(bytes, BlockKind.logs);
  const reseal = (p: Uint8Array): Uint8Array => sealBlock(BlockKind.logs, p);
  const readAll = (b: Uint8Array): void => {
    const opened = openLogBlock(b);
    const view = new LogBlockView({ opened, times: decodeBlockTimes(opened), tables: decodeBlockTables(opened) });
    view.rowsAt(Array.from({ length: opened.rows }, (_, i) => i));
    decodeLogBlock(b);
  };
  // The page table follows the stream table: [uvarint pageRows][uvarint size] × 5.
  const tableAt = (o.streams?.[1] as number) + 1;
  t.equal(payload[tableAt - 1], 64, 'pageRows byte');
  for (const [delta, what] of [
    [1, 'a page one byte longer'],
    [-1, 'a page one byte shorter'],
  ] as const) {
    const bad = payload.slice();
    bad[tableAt] = (bad[tableAt] as number) + delta;
    expectCorrupt(t, () => readAll(reseal(bad)), what);
  }
  const pr = payload.slice();
  pr[tableAt - 1] = 65;
  expectCorrupt(t, () => readAll(reseal(pr)), 'pageRows off by one');
  const layout = payload.slice();
  layout[o.bounds[0]?.[0] as number] = 7;
  expectCorrupt(t, () => readAll(reseal(layout)), 'an unknown time layout');
  let caught = 0;
  for (let k = 0; k < 200; k++) {
    const bad = bytes.slice();
    const at = rand.intn(bad.length);
    bad[at] = (bad[at] as number) ^ (1 << rand.intn(8));
    expectCorrupt(t, () => readAll(bad), `bit flip at ${at}`);
    caught++;
  }
  for (let len = 0; len < bytes.length; len += 1 + rand.intn(301)) expectCorrupt(t, () => readAll(bytes.subarray(0, len)), `truncated to ${len}`);
  t.equal(caught, 200);
});
