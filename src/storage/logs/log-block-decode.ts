/**
 * log-block-decode.ts — reading a log block (layout in log-block-format.ts):
 * the envelope, header and pages checked once (openLogBlock,
 * log-block-open.ts), then only the sections a reader needs — times, lines,
 * streams — or every column of a page (decodePageColumns) from which rows
 * are built one by one (logRowsAt).
 * Decoding checks every count, range and id against the header and the
 * limits, and that every section is consumed exactly; any defect is
 * ERR_CORRUPTION, and the envelope's CRC-32C catches flipped bits first.
 * Pure code, no I/O.
 */
import { STORAGE_PACKR } from '../storage-packr.js';
import { OtlpdbError, assert } from '../../errors.js';
import { LogBlockLimits, StorageLimits } from '../../limits.js';
import { ByteReader, decodeStringColumn, openStringColumn } from '../codec/index.js';
import type { StringColumnView } from '../codec/index.js';
import { MsgpackWalk } from '../codec/msgpack-walk.js';
import type { AnyValue, LogRow, Resource, Scope } from '../rows.js';
import { SEVERITY_NUMBER_MAX, SPAN_ID_BYTES, TRACE_ID_BYTES } from '../rows.js';
import { readAnyValue, readAttributes, readResource, readScope } from '../row-wire.js';
import { WireReader } from '../wire-reader.js';
import type { StreamLabel } from './log-line.js';
import type { LogBlockHeader } from './log-block-format.js';
import {
  MASK_SPAN,
  MASK_TRACE,
  SEC_IDS,
  SEC_LINE,
  SEC_OBSERVED,
  SEC_REST,
  SEC_SEVERITY,
  SEC_SEV_TEXT,
  SEC_STREAM,
  SEV_BYTES,
  SEV_RUNS,
  U64_MAX,
  blockCorrupt as corrupt,
  readBigUvarint,
  skipBigUvarint,
  unpackLines,
  unzigzag,
} from './log-block-format.js';
import type { BlockTimes, LogSections, OpenedLogBlock } from './log-block-open.js';
import { STR_BYTES_MAX, decodeBlockTimes, openLogBlock } from './log-block-open.js';
import { streamKey } from './log-block.js';

/** LogLines is readLines' output: per row its time, line and stream id, and the block's streams. */
export interface LogLines extends LogBlockHeader {
  readonly timesNs: bigint[];
  readonly lines: string[];
  readonly streamIds: Uint32Array;
  readonly streams: readonly (readonly StreamLabel[])[];
}

export { openLogBlock };
export type { OpenedLogBlock };

function readStr(r: ByteReader): string {
  return r.str(STR_BYTES_MAX, 'string');
}

function sectionReader(o: LogSections, s: number): ByteReader {
  const b = o.bounds[s] as readonly [number, number];
  return new ByteReader(o.payload, b[0], b[1]);
}

function sectionBytes(o: LogSections, s: number): Uint8Array {
  const b = o.bounds[s] as readonly [number, number];
  return o.payload.subarray(b[0], b[1]);
}

function done(r: ByteReader, what: string): void {
  if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes in the ${what} section`);
}

function decodeStrings(o: LogSections, s: number, what: string): string[] {
  const bytes = s === SEC_LINE ? unpackLines(sectionBytes(o, s)) : sectionBytes(o, s);
  const col = decodeStringColumn(bytes);
  if (col.length !== o.rows) throw corrupt(`${what} column of ${col.length} rows, not ${o.rows}`);
  return col;
}

function readStreamTable(r: ByteReader, rowsMax: number): StreamLabel[][] {
  const count = r.uvarint();
  if (count < 1 || count > Math.min(rowsMax, LogBlockLimits.streamsPerBlockMax)) throw corrupt(`${count} streams`);
  const streams: StreamLabel[][] = [];
  const seen = new Set<string>();
  for (let s = 0; s < count; s++) {
    const k = r.uvarint();
    if (k > LogBlockLimits.labelsPerStreamMax) throw corrupt(`stream ${s} has ${k} labels`);
    const labels: StreamLabel[] = [];
    for (let j = 0; j < k; j++) {
      const name = readStr(r);
      const value = readStr(r);
      const before = labels[j - 1];
      if (before !== undefined && !(before.name < name)) throw corrupt(`stream ${s} labels are not sorted and distinct`);
      labels.push({ name, value });
    }
    const key = streamKey(labels);
    if (seen.has(key)) throw corrupt(`stream ${s} repeats an earlier stream`);
    seen.add(key);
    streams.push(labels);
  }
  return streams;
}

/** decodeBlockStreams decodes a version 3 block's stream table (null for version 2). Throws ERR_CORRUPTION. */
export function decodeBlockStreams(o: OpenedLogBlock): StreamLabel[][] | null {
  if (o.streams === null) return null;
  const r = new ByteReader(o.payload, o.streams[0], o.streams[1]);
  const streams = readStreamTable(r, o.rows);
  done(r, 'stream table');
  return streams;
}

/** decodeStreams decodes a run's stream section: its own table then ids (version 2), or ids into the block's table (`shared`, version 3). */
function decodeStreams(o: LogSections, shared: StreamLabel[][] | null): { streams: StreamLabel[][]; streamIds: Uint32Array } {
  const r = sectionReader(o, SEC_STREAM);
  const streams = shared ?? readStreamTable(r, o.rows);
  const count = streams.length;
  const streamIds = new Uint32Array(o.rows);
  for (let i = 0; i < o.rows; i++) {
    const id = r.uvarint();
    if (id >= count) throw corrupt(`row ${i} names stream ${id} of ${count}`, { index: i });
    streamIds[i] = id;
  }
  done(r, 'stream');
  return { streams, streamIds };
}

/**
 * decodePageStreams decodes page `p`'s stream ids and the streams they
 * index: the block's table (`shared`, decodeBlockStreams; version 3) or
 * the page's own (version 2, whose one page holds it). Throws ERR_CORRUPTION.
 */
export function decodePageStreams(o: OpenedLogBlock, p: number, shared: StreamLabel[][] | null): { streams: StreamLabel[][]; streamIds: Uint32Array } {
  assert(Number.isSafeInteger(p) && p >= 0 && p < o.pages.length, 'a page of the block');
  assert((shared === null) === (o.streams === null), "a version 3 block's stream table");
  return decodeStreams(o.pages[p] as LogSections, shared);
}

function decodeSeverity(o: LogSections): Uint8Array {
  const n = o.rows;
  const sev = new Uint8Array(n);
  const r = sectionReader(o, SEC_SEVERITY);
  const layout = r.u8();
  if (layout === SEV_BYTES) {
    sev.set(r.take(n));
  } else if (layout === SEV_RUNS) {
    const runs = r.uvarint();
    if (runs < 1 || runs > n) throw corrupt(`${runs} severity runs`);
    let at = 0;
    for (let k = 0; k < runs; k++) {
      const v = r.u8();
      const len = r.uvarint();
      if (len < 1 || len > n - at) throw corrupt(`severity run of ${len} rows at row ${at}`);
      sev.fill(v, at, at + len);
      at += len;
    }
    if (at !== n) throw corrupt(`severity runs cover ${at} rows, not ${n}`);
  } else {
    throw corrupt(`severity layout ${layout}`);
  }
  for (let i = 0; i < n; i++) if ((sev[i] as number) > SEVERITY_NUMBER_MAX) throw corrupt(`row ${i} severity ${sev[i]}`, { index: i });
  done(r, 'severity');
  return sev;
}

/** readLogBlockHeader checks a sealed block and returns its header (tenant, rows, time range). */
export function readLogBlockHeader(bytes: Uint8Array): LogBlockHeader {
  const o = openLogBlock(bytes);
  return { tenant: o.tenant, rows: o.rows, minTimeNs: o.minTimeNs, maxTimeNs: o.maxTimeNs };
}

/** readTimes decodes only the time column of a block (for time filtering after an index lookup). */
export function readTimes(block: Uint8Array | OpenedLogBlock): bigint[] {
  return decodeBlockTimes(block instanceof Uint8Array ? openLogBlock(block) : block).bigints();
}

/**
 * readLines decodes only what showing lines needs: time, line and stream of
 * each row (streams numbered across the block's pages). Throws ERR_CORRUPTION.
 */
export function readLines(bytes: Uint8Array): LogLines {
  const o = openLogBlock(bytes);
  const timesNs = readTimes(o);
  const lines = readLineColumn(o);
  const streams: (readonly StreamLabel[])[] = [];
  const idOf = new Map<string, number>();
  const streamIds = new Uint32Array(o.rows);
  let first = 0;
  const shared = decodeBlockStreams(o);
  for (const page of o.pages) {
    const got = decodeStreams(page, shared);
    const local = got.streams.map((labels) => {
      const key = streamKey(labels);
      let id = idOf.get(key);
      if (id === undefined) {
        id = streams.length;
        idOf.set(key, id);
        streams.push(labels);
      }
      return id;
    });
    for (let i = 0; i < page.rows; i++) streamIds[first + i] = local[got.streamIds[i] as number] as number;
    first += page.rows;
  }
  return { tenant: o.tenant, rows: o.rows, minTimeNs: o.minTimeNs, maxTimeNs: o.maxTimeNs, timesNs, lines, streamIds, streams };
}

/**
 * readLineColumn decodes only the line column of an opened block, every
 * page's. Throws ERR_CORRUPTION.
 */
export function readLineColumn(o: OpenedLogBlock): string[] {
  return o.pages.flatMap((page) => decodeStrings(page, SEC_LINE, 'line'));
}

/** decodeLogBlock decodes every row of a sealed block, exactly as encoded. Throws ERR_CORRUPTION. */
export function decodeLogBlock(bytes: Uint8Array): LogRow[] {
  return decodeRows(openLogBlock(bytes), null, null);
}

/**
 * decodeLogRowsAt decodes only the rows at `ordinals` (strictly increasing,
 * each < rows) of an opened block, in that order, exactly as decodeLogBlock
 * would give them: only the pages holding them are decoded, and of those a
 * row's attributes, body and ids are built only when it is picked. `lines`,
 * when the caller already read the line column (readLineColumn), is reused.
 * Throws ERR_CORRUPTION.
 */
export function decodeLogRowsAt(o: OpenedLogBlock, ordinals: ArrayLike<number>, lines: readonly string[] | null): LogRow[] {
  for (let k = 0; k < ordinals.length; k++) {
    const x = ordinals[k] as number;
    assert(Number.isSafeInteger(x) && x >= 0 && x < o.rows, 'an ordinal names a row of the block');
    assert(k === 0 || x > (ordinals[k - 1] as number), 'ordinals are strictly increasing');
  }
  assert(lines === null || lines.length === o.rows, 'a line column of the block');
  return decodeRows(o, ordinals, lines);
}

function decodeRows(o: OpenedLogBlock, pick: ArrayLike<number> | null, givenLines: readonly string[] | null): LogRow[] {
  const times = decodeBlockTimes(o);
  const tables = decodeBlockTables(o);
  const shared = pick === null ? decodeBlockStreams(o) : null;
  const out: LogRow[] = [];
  let k = 0;
  for (let p = 0; p < o.pages.length; p++) {
    const page = o.pages[p] as LogSections;
    const first = p * o.pageRows;
    const local: number[] = [];
    if (pick === null) for (let i = 0; i < page.rows; i++) local.push(i);
    else for (; k < pick.length && (pick[k] as number) < first + page.rows; k++) local.push((pick[k] as number) - first);
    if (local.length === 0) continue;
    const c = decodePageColumns(o, p, times, givenLines === null ? null : givenLines.slice(first, first + page.rows), tables);
    if (pick === null) decodeStreams(page, shared); // derived from the rows; checked, not needed to rebuild them
    out.push(...buildRows(c, local));
  }
  return out;
}

/** decodePageLines decodes only the line column of page `p` of an opened block (what a line check needs). Throws ERR_CORRUPTION. */
export function decodePageLines(o: OpenedLogBlock, p: number): string[] {
  assert(Number.isSafeInteger(p) && p >= 0 && p < o.pages.length, 'a page of the block');
  return decodeStrings(o.pages[p] as LogSections, SEC_LINE, 'line');
}

/**
 * openPageLines opens the line column of page `p` of an opened block for
 * reading a line at a time (codec/strings.ts StringColumnView): inflated and
 * its lengths checked once, a line made only when asked for (a line check
 * of one candidate of a page need not make the page's 256 strings). Throws
 * ERR_CORRUPTION.
 */
export function openPageLines(o: OpenedLogBlock, p: number): StringColumnView {
  assert(Number.isSafeInteger(p) && p >= 0 && p < o.pages.length, 'a page of the block');
  const page = o.pages[p] as LogSections;
  const col = openStringColumn(unpackLines(sectionBytes(page, SEC_LINE)));
  if (col.rows !== page.rows) throw corrupt(`line column of ${col.rows} rows, not ${page.rows}`);
  return col;
}

/** LogTables are a version 3 block's resources and scopes (decodeBlockTables), shared by its pages. */
export interface LogTables {
  readonly resources: readonly Resource[];
  readonly scopes: readonly Scope[];
}

/** decodeBlockTables decodes a version 3 block's resource and scope tables (null for version 2). Throws ERR_CORRUPTION. */
export function decodeBlockTables(o: OpenedLogBlock): LogTables | null {
  if (o.tables === null) return null;
  const wr = new WireReader('stored');
  let raw: unknown;
  try {
    raw = STORAGE_PACKR.unpack(o.payload.subarray(o.tables[0], o.tables[1]));
  } catch (err) {
    throw corrupt(`tables section is not valid msgpack (${(err as Error).message})`);
  }
  try {
    const t = wr.tuple(raw, 'log block tables', 2);
    return {
      resources: wr.array(t[0], 'log block resources', o.rows).map((v) => readResource(wr, v)),
      scopes: wr.array(t[1], 'log block scopes', o.rows).map((v) => readScope(wr, v)),
    };
  } catch (err) {
    if (err instanceof OtlpdbError) throw err;
    throw corrupt(`tables section could not be checked (${(err as Error).message})`);
  }
}

/** decodePageColumns decodes every column of page `p` of an opened block, with the block's times and tables (`lines`, the page's, reused when given); ordinals in it are local to the page. Throws ERR_CORRUPTION. */
export function decodePageColumns(o: OpenedLogBlock, p: number, times: BlockTimes, lines: LineColumn | readonly string[] | null, tables: LogTables | null): LogColumns {
  assert(Number.isSafeInteger(p) && p >= 0 && p < o.pages.length, 'a page of the block');
  assert(times.length === o.rows, 'the block\'s times');
  const page = o.pages[p] as LogSections;
  const first = p * o.pageRows;
  const timesNs: bigint[] = new Array(page.rows);
  for (let i = 0; i < page.rows; i++) timesNs[i] = times.at(first + i);
  assert((tables === null) === (o.tables === null), 'a version 3 block\'s tables');
  return decodeLogColumns(page, lines, timesNs, tables);
}

/**
 * decodePageColumnsAt decodes page `p` of an opened version 3 block for the
 * rows `local` alone (increasing ordinals local to the page): what a read
 * that builds a few rows of a page it will not keep needs (LogBlockView on
 * a block read on a cache miss: a rare word's one or two rows a page).
 * Every section is still walked whole and checked as decodeLogColumns
 * checks it; the other rows' observed times, ids, lines and rest tuples are
 * passed over, not made (the rest section by MsgpackWalk, each kept row's
 * tuple unpacked alone). The columns hold those rows only (the other
 * entries empty): build exactly `local` from them (logRowsAt), and never
 * keep them for other rows. `lines` is the page's line column when the
 * caller opened it. Throws ERR_CORRUPTION.
 */
export function decodePageColumnsAt(
  o: OpenedLogBlock,
  p: number,
  times: BlockTimes,
  lines: StringColumnView | null,
  tables: LogTables,
  local: readonly number[],
): LogColumns {
  assert(Number.isSafeInteger(p) && p >= 0 && p < o.pages.length, 'a page of the block');
  assert(times.length === o.rows, 'the block\'s times');
  assert(o.tables !== null, 'a version 3 block\'s tables');
  const page = o.pages[p] as LogSections;
  const n = page.rows;
  const first = p * o.pageRows;
  const want = new Uint8Array(n);
  const timesNs: bigint[] = new Array(n);
  for (let k = 0; k < local.length; k++) {
    const i = local[k] as number;
    assert(Number.isSafeInteger(i) && i >= 0 && i < n, 'a row of the page');
    assert(k === 0 || i > (local[k - 1] as number), 'rows increase');
    want[i] = 1;
    timesNs[i] = times.at(first + i);
  }
  const ro = sectionReader(page, SEC_OBSERVED);
  const observed: bigint[] = new Array(n);
  for (let i = 0; i < n; i++) {
    if (want[i] === 0) {
      skipBigUvarint(ro);
      continue;
    }
    const v = (timesNs[i] as bigint) + unzigzag(readBigUvarint(ro));
    if (v < 0n || v > U64_MAX) throw corrupt(`row ${i} observed time outside u64`, { index: i });
    observed[i] = v;
  }
  done(ro, 'observed');
  const sev = decodeSeverity(page);
  const sevText = decodeStrings(page, SEC_SEV_TEXT, 'severity text');
  const col = lines ?? openPageLines(o, p);
  assert(col.rows === n, 'one line a row');
  const ri = sectionReader(page, SEC_IDS);
  const traceIds: Uint8Array[] = new Array(n);
  const spanIds: Uint8Array[] = new Array(n);
  const empty = new Uint8Array(0);
  for (let i = 0; i < n; i++) {
    const mask = ri.u8();
    if (mask > (MASK_TRACE | MASK_SPAN)) throw corrupt(`row ${i} id mask ${mask}`, { index: i });
    if (want[i] === 0) {
      if ((mask & MASK_TRACE) !== 0) ri.skip(TRACE_ID_BYTES);
      if ((mask & MASK_SPAN) !== 0) ri.skip(SPAN_ID_BYTES);
      continue;
    }
    traceIds[i] = (mask & MASK_TRACE) !== 0 ? ri.take(TRACE_ID_BYTES) : empty;
    spanIds[i] = (mask & MASK_SPAN) !== 0 ? ri.take(SPAN_ID_BYTES) : empty;
  }
  done(ri, 'ids');
  const rb = page.bounds[SEC_REST] as readonly [number, number];
  const w = new MsgpackWalk(page.payload, rb[0], rb[1], 'log block rest section');
  if (w.arrayLength() !== 3) throw corrupt('rest section: not [resources, scopes, rows]');
  if (w.arrayLength() !== 0 || w.arrayLength() !== 0) throw corrupt('a page with tables of its own');
  if (w.arrayLength() !== n) throw corrupt(`rest section: not ${n} rows`);
  const rest: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const at = w.pos;
    w.skip(1);
    if (want[i] === 0) continue;
    try {
      rest[i] = STORAGE_PACKR.unpack(page.payload.subarray(at, w.pos));
    } catch (err) {
      throw corrupt(`rest section row ${i} is not valid msgpack (${(err as Error).message})`, { index: i });
    }
  }
  if (!w.done) throw corrupt('rest section: trailing bytes');
  return { tenant: page.tenant, rows: n, timesNs, observedNs: observed, severity: sev, severityText: sevText, lines: col, traceIds, spanIds, resources: tables.resources, scopes: tables.scopes, rest };
}

/**
 * LineColumn is a run of rows' lines read one at a time: a page's line
 * column opened (codec/strings.ts StringColumnView, which makes a line's
 * string only when asked for, so a whole page decoded to build a few rows,
 * or kept in the cache, holds its inflated bytes rather than a string a
 * row), or lines at hand (linesOf).
 */
export interface LineColumn {
  readonly rows: number;
  at(i: number): string;
}

/** linesOf is lines already decoded as a LineColumn. */
export function linesOf(lines: readonly string[]): LineColumn {
  return { rows: lines.length, at: (i) => lines[i] as string };
}

/** openLines opens the line column of a run of rows (a version 2 block or a page). Throws ERR_CORRUPTION. */
function openLines(o: LogSections): LineColumn {
  const col = openStringColumn(unpackLines(sectionBytes(o, SEC_LINE)));
  if (col.rows !== o.rows) throw corrupt(`line column of ${col.rows} rows, not ${o.rows}`);
  return col;
}

/**
 * LogColumns are every column of a block decoded once, the rest section
 * unpacked and its resources and scopes read, so that any row is then built
 * alone (logRowsAt). log-block-read.ts keeps them in the node's block cache.
 * Immutable and shared: rows built from them copy their ids and build
 * their own attributes and body; resources and scopes are shared, as
 * decodeLogBlock shares them between the rows of a block.
 */
export interface LogColumns {
  readonly tenant: string;
  readonly rows: number;
  readonly timesNs: readonly bigint[];
  readonly observedNs: readonly bigint[];
  readonly severity: Uint8Array;
  readonly severityText: readonly string[];
  /** lines is the line column, a line made when its row is built (or asked for: LogBlockView.line). */
  readonly lines: LineColumn;
  readonly traceIds: readonly Uint8Array[];
  readonly spanIds: readonly Uint8Array[];
  readonly resources: readonly Resource[];
  readonly scopes: readonly Scope[];
  /** rest is each row's unpacked rest tuple (checked when its row is built). */
  readonly rest: readonly unknown[];
}

/** decodeLogColumns decodes every column of a run of rows (a version 2 block or a page) given their times (`lines` reused when given). Throws ERR_CORRUPTION. */
export function decodeLogColumns(o: LogSections, givenLines: LineColumn | readonly string[] | null, times: readonly bigint[], tables: LogTables | null = null): LogColumns {
  const n = o.rows;
  assert(times.length === n, 'one time a row');

  const ro = sectionReader(o, SEC_OBSERVED);
  const observed: bigint[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = (times[i] as bigint) + unzigzag(readBigUvarint(ro));
    if (v < 0n || v > U64_MAX) throw corrupt(`row ${i} observed time outside u64`, { index: i });
    observed[i] = v;
  }
  done(ro, 'observed');

  const sev = decodeSeverity(o);
  const sevText = decodeStrings(o, SEC_SEV_TEXT, 'severity text');
  const lines = givenLines === null ? openLines(o) : Array.isArray(givenLines) ? linesOf(givenLines as readonly string[]) : (givenLines as LineColumn);
  assert(lines.rows === n, 'one line a row');

  const ri = sectionReader(o, SEC_IDS);
  const traceIds: Uint8Array[] = new Array(n);
  const spanIds: Uint8Array[] = new Array(n);
  const empty = new Uint8Array(0);
  for (let i = 0; i < n; i++) {
    const mask = ri.u8();
    if (mask > (MASK_TRACE | MASK_SPAN)) throw corrupt(`row ${i} id mask ${mask}`, { index: i });
    // Views; a built row copies its own (rows own their bytes).
    traceIds[i] = (mask & MASK_TRACE) !== 0 ? ri.take(TRACE_ID_BYTES) : empty;
    spanIds[i] = (mask & MASK_SPAN) !== 0 ? ri.take(SPAN_ID_BYTES) : empty;
  }
  done(ri, 'ids');

  const wr = new WireReader('stored');
  let raw: unknown;
  try {
    raw = STORAGE_PACKR.unpack(sectionBytes(o, SEC_REST));
  } catch (err) {
    throw corrupt(`rest section is not valid msgpack (${(err as Error).message})`);
  }
  try {
    const t = wr.tuple(raw, 'log block rest', 3);
    const ownResources = wr.array(t[0], 'log block resources', n);
    const ownScopes = wr.array(t[1], 'log block scopes', n);
    if (tables !== null && (ownResources.length > 0 || ownScopes.length > 0)) throw corrupt('a page with tables of its own');
    const resources = tables?.resources ?? ownResources.map((v) => readResource(wr, v));
    const scopes = tables?.scopes ?? ownScopes.map((v) => readScope(wr, v));
    const rest = wr.tuple(t[2], 'log block rows', n);
    return { tenant: o.tenant, rows: n, timesNs: times, observedNs: observed, severity: sev, severityText: sevText, lines, traceIds, spanIds, resources, scopes, rest };
  } catch (err) {
    if (err instanceof OtlpdbError) throw err;
    throw corrupt(`rest section could not be checked (${(err as Error).message})`);
  }
}

/** logRowsAt builds the rows at `ordinals` (each < rows) of decoded columns, in that order. Throws ERR_CORRUPTION. */
export function logRowsAt(c: LogColumns, ordinals: ArrayLike<number>): LogRow[] {
  for (let k = 0; k < ordinals.length; k++) {
    const x = ordinals[k] as number;
    assert(Number.isSafeInteger(x) && x >= 0 && x < c.rows, 'an ordinal names a row of the block');
  }
  return buildRows(c, ordinals);
}

function buildRows(c: LogColumns, pick: ArrayLike<number> | null): LogRow[] {
  const wr = new WireReader('stored');
  const { resources, scopes, rest, lines } = c;
  const rows: LogRow[] = new Array(pick === null ? c.rows : pick.length);
  try {
    for (let k = 0; k < rows.length; k++) {
      const i = pick === null ? k : (pick[k] as number);
      const f = wr.tuple(rest[i], 'log block row', 7);
      const resource = resources[wr.uint(f[0], 'log resourceIndex', resources.length - 1)] as Resource;
      const scope = scopes[wr.uint(f[1], 'log scopeIndex', scopes.length - 1)] as Scope;
      let body: AnyValue;
      if (f[6] === 0) {
        body = { type: 'string', value: lines.at(i) };
      } else {
        body = readAnyValue(wr, wr.tuple(f[6], 'log body', 1)[0], 'log body', 1);
        if (body.type === 'string') wr.fail('log body', 'is a string outside the line column');
      }
      rows[k] = {
        tenant: c.tenant,
        timeUnixNano: c.timesNs[i] as bigint,
        observedTimeUnixNano: c.observedNs[i] as bigint,
        severityNumber: c.severity[i] as number,
        severityText: c.severityText[i] as string,
        body,
        attributes: readAttributes(wr, f[5], 'log attributes'),
        droppedAttributesCount: wr.u32(f[4], 'log droppedAttributesCount'),
        traceId: (c.traceIds[i] as Uint8Array).slice(),
        spanId: (c.spanIds[i] as Uint8Array).slice(),
        flags: wr.u32(f[2], 'log flags'),
        eventName: wr.string(f[3], 'log eventName', StorageLimits.stringBytesMax),
        resource,
        scope,
      };
    }
  } catch (err) {
    if (err instanceof OtlpdbError) throw err;
    throw corrupt(`rest section could not be checked (${(err as Error).message})`);
  }
  return rows;
}

