/**
 * log-block-sparse.test.ts — what a block read on a cache miss does
 * cheaply (s21): a few rows of a page decoded alone (decodePageColumnsAt,
 * LogBlockView without a page cache), a line made only for the row asked
 * for (openPageLines), the page table's bounds made on first read, and
 * the time column read with its short deltas inline. Each gives exactly
 * what the whole decode gives; the comparison is shown to catch a planted
 * bug (a page's rows read from its neighbour).
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { randomRows } from '../rows-test-util.js';
import type { LogRow } from '../rows.js';
import { canon, expectCorrupt } from '../storage-test-util.js';
import { ByteReader, ByteWriter } from '../codec/index.js';
import { LinePacking, packLines, unpackLines } from './log-block-format.js';
import { encodeLogBlock } from './log-block.js';
import { decodeBlockTables, decodeLogBlock, decodePageColumnsAt, decodePageLines, logRowsAt, openPageLines } from './log-block-decode.js';
import type { LogTables } from './log-block-decode.js';
import type { OpenedLogBlock } from './log-block-open.js';
import { decodeBlockTimes, openLogBlock } from './log-block-open.js';
import { LogBlockView, SPARSE_ROWS_SHARE } from './log-block-read.js';
import { logLine } from './log-line.js';
import { realisticLogs } from './log-test-util.js';

const SEED = Number(process.env.SEED ?? 0x5a21);

function draw(rand: SeededRand): LogRow[] {
  return rand.intn(2) === 0 ? randomRows(rand, { logs: 1 + rand.intn(300) }).logs : realisticLogs(rand, 1 + rand.intn(900));
}

/** sparseMismatches builds a few rows of every page alone (decodePageColumnsAt) and compares them with the rows encoded. */
function sparseMismatches(o: OpenedLogBlock, rows: readonly LogRow[], rand: SeededRand): string[] {
  const bad: string[] = [];
  const times = decodeBlockTimes(o);
  const tables = decodeBlockTables(o) as LogTables;
  for (let p = 0; p < o.pages.length; p++) {
    const n = (o.pages[p] as { rows: number }).rows;
    const local: number[] = [];
    for (let i = 0; i < n; i++) if (rand.intn(8) === 0) local.push(i);
    if (local.length === 0) local.push(rand.intn(n));
    const lines = rand.intn(2) === 0 ? openPageLines(o, p) : null;
    const got = logRowsAt(decodePageColumnsAt(o, p, times, lines, tables, local), local);
    local.forEach((i, k) => {
      const want = rows[p * o.pageRows + i] as LogRow;
      if (canon(got[k]) !== canon(want)) bad.push(`page ${p} row ${i}`);
    });
  }
  return bad;
}

t.test('a few rows of a page decoded alone are exactly the rows encoded, at every page size', async (t) => {
  t.comment(`seed ${SEED} (rerun with SEED=${SEED})`);
  for (let s = 0; s < 30; s++) {
    const rand = new SeededRand(SEED + s);
    const rows = draw(rand);
    const pageRows = [1, 2, 7, 64, 256, 65_536][rand.intn(6)] as number;
    const o = openLogBlock(encodeLogBlock(rows, pageRows));
    t.same(sparseMismatches(o, rows, rand).slice(0, 5), [], `seed ${SEED + s}, pages of ${pageRows}`);
  }
});

t.test('planted: rows read from the neighbouring page are caught', async (t) => {
  let caught = 0;
  for (let s = 0; s < 10; s++) {
    const rand = new SeededRand(SEED + 100 + s);
    const rows = realisticLogs(rand, 100 + rand.intn(400));
    const o = openLogBlock(encodeLogBlock(rows, 16));
    // Every page but the last answers with the next page's sections.
    const shifted = o.pages.map((pg, p) => (p + 1 < o.pages.length && (o.pages[p + 1] as { rows: number }).rows === pg.rows ? (o.pages[p + 1] as typeof pg) : pg));
    const planted: OpenedLogBlock = { ...o, pages: shifted };
    if (sparseMismatches(planted, rows, rand).length > 0) caught++;
  }
  t.equal(caught, 10, 'every planted block disagrees with the rows');
});

t.test('a view without a page cache builds few rows of a page alone, and every row and line it gives is the block\'s', async (t) => {
  for (let s = 0; s < 20; s++) {
    const rand = new SeededRand(SEED + 200 + s);
    const rows = realisticLogs(rand, 200 + rand.intn(1500));
    const o = openLogBlock(encodeLogBlock(rows, 128));
    const view = new LogBlockView({ opened: o, times: decodeBlockTimes(o), tables: decodeBlockTables(o) });
    // One to SPARSE_ROWS_SHARE-th of a page's rows (sparse) or more (whole), a line checked first on some.
    const share = rand.intn(2) === 0 ? 128 / SPARSE_ROWS_SHARE : 128;
    const picked: number[] = [];
    for (let i = 0; i < rows.length; i++) if (rand.intn(128) < share / 4) picked.push(i);
    for (const o2 of picked) if (rand.intn(2) === 0 && view.line(o2) !== logLine(rows[o2] as LogRow)) t.fail(`line ${o2}`);
    const got = view.rowsAt(picked).map(canon);
    t.same(
      picked.filter((o2, k) => got[k] !== canon(rows[o2])),
      [],
      `seed ${SEED + 200 + s}: ${picked.length} rows`,
    );
    // Asked again (another chunk of the same read): the same rows.
    t.same(view.rowsAt(picked.slice(0, 3)).map(canon), picked.slice(0, 3).map((o2) => canon(rows[o2])), 'asked again');
    t.ok(view.pagesDecoded <= o.pages.length, 'pages counted once each');
  }
});

t.test('a page\'s lines opened a line at a time are its lines; all() is the whole column', async (t) => {
  for (let s = 0; s < 10; s++) {
    const rand = new SeededRand(SEED + 300 + s);
    const rows = draw(rand);
    const o = openLogBlock(encodeLogBlock(rows, 1 + rand.intn(100)));
    for (let p = 0; p < o.pages.length; p++) {
      const col = openPageLines(o, p);
      const whole = decodePageLines(o, p);
      t.equal(col.rows, whole.length);
      const i = rand.intn(col.rows);
      if (col.at(i) !== whole[i]) t.fail(`page ${p} line ${i}`);
      if (rand.intn(4) === 0) t.same(col.all(), whole, `page ${p}: every line`);
    }
  }
});

t.test('block times with deltas of every width (one to eight varint bytes) read as encoded', async (t) => {
  const rand = new SeededRand(SEED + 400);
  const base = realisticLogs(rand, 400);
  const start = 1_700_000_000_000_000_000n;
  let t0 = start;
  // Gaps of 0 to ~2^45 ns: every varint width the offsets layout stores (a block's span stays under 2^52).
  const rows = base.map((r, i) => {
    const bits = rand.intn(46);
    t0 += (1n << BigInt(bits)) + BigInt(rand.intn(1 << Math.min(bits, 30)));
    return { ...r, timeUnixNano: i === 0 ? start : t0 };
  });
  const o = openLogBlock(encodeLogBlock(rows, 64));
  t.same(decodeBlockTimes(o).bigints(), rows.map((r) => r.timeUnixNano), 'every time as encoded');
  t.same(decodeLogBlock(encodeLogBlock(rows, 64)).map((r) => r.timeUnixNano), rows.map((r) => r.timeUnixNano), 'the whole decode agrees');
});

t.test('a deflated line column inflates to exactly its stored size; a size one off either way, or 0, is ERR_CORRUPTION', async (t) => {
  const rand = new SeededRand(SEED + 500);
  for (const n of [0, 1, 63, 64, 65, 5000, 70_000]) {
    const column = new TextEncoder().encode(Array.from({ length: n }, () => 'abc '[rand.intn(4)]).join(''));
    const packed = packLines(column);
    t.same(Buffer.from(unpackLines(packed)), Buffer.from(column), `${n} bytes round-trip`);
    if (packed[0] !== LinePacking.deflate) continue;
    // Re-state the size: [u8 packing][uvarint plainBytes][body].
    const r = new ByteReader(packed, 1);
    const size = r.uvarint();
    const body = packed.subarray(r.pos);
    for (const wrong of [size - 1, size + 1, 0]) {
      if (wrong < 0 || wrong === size) continue;
      const w = new ByteWriter(body.length + 16);
      w.u8(LinePacking.deflate);
      w.uvarint(wrong);
      w.raw(body);
      expectCorrupt(t, () => unpackLines(w.finish()), `${n} bytes stated as ${wrong}`);
    }
  }
});
