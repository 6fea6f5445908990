/**
 * span-block.ts — the immutable columnar span block of DESIGN.md §6: the
 * spans of one tenant and one time bucket, one column per hot query field so
 * that a query reads only the columns it filters on. Pure code, no I/O.
 *
 * Sealed with block.ts (BlockKind.spans). Three payload formats are read;
 * the store writes format 3 (encodeSplitSpanBlock), encodeSpanBlock writes
 * format 2 (format 1 only when a test asks for it).
 *
 * Format 1 (whole columns):
 *
 *   u8       formatVersion (1)
 *   uvarint  rows
 *   str      tenant                       (str = uvarint utf8Length, UTF-8 bytes)
 *   uvarint  columns (= SPAN_COLUMN_COUNT)
 *   columns × uvarint byteLength          (the directory; columns follow in SpanColumn order)
 *   column bytes, back to back:
 *
 *   traceId       uvarint dictSize, dictSize × 16 B (first-seen order), rows × uvarint dictId
 *   spanId        rows × 8 B
 *   parentSpanId  rows × (u8 0 | u8 1 + 8 B)
 *   traceState    string column (codec/strings: plain, dict or dict+RLE)
 *   flags         rows × uvarint (u32)
 *   name          string column
 *   kind          byte runs: uvarint runs, runs × [u8 value][uvarint runLength >= 1]
 *   startTime     bigvarint minStart, rows × bigvarint(start − minStart)       (input order kept)
 *   duration      rows × bigvarint(zigzag(end − start))                        (end < start is legal OTLP input)
 *   statusCode    byte runs (as kind)
 *   statusMessage string column
 *   service       string column: the first string `service.name` resource attribute, else ''
 *                 (derived: decode rebuilds the resource from `rest`)
 *   rest          uvarint tablesBytes, msgpack [[Resource...], [Scope...], [key...]]
 *                 (resources and scopes deduplicated, row-wire.ts tuples; key is the
 *                 block's dictionary of span, event and link attribute keys), then
 *                 rows × [uvarint bytes][msgpack [resourceIndex, scopeIndex, KeyedAttrs,
 *                 droppedAttributesCount, [Event...], droppedEventsCount, [Link...],
 *                 droppedLinksCount]]; KeyedAttrs = [keyId, AnyValue, keyId, AnyValue...]
 *                 and Event / Link are row-wire.ts tuples with KeyedAttrs for Attributes
 *                 (keys nested inside kvlist values stay strings)
 *
 * Format 2 (paged, SPAN_BLOCK_FORMAT_VERSION): the same 13 columns, each cut
 * into pages of pageRows rows (SpanPageLimits.pageRowsDefault; the last page
 * may be short), so that a trace-by-id lookup checks and decodes only the
 * pages that hold its trace (readTraceSpans). A column is its head (shared
 * by the pages) then its page chunks, back to back:
 *
 *   u8       formatVersion (2)
 *   uvarint  rows
 *   str      tenant
 *   uvarint  columns (= SPAN_COLUMN_COUNT)
 *   uvarint  pageRows (>= 1)                 pages = ceil(rows / pageRows)
 *   columns × uvarint columnBytes            (head + every chunk)
 *   columns × uvarint headBytes
 *   pages × columns × uvarint chunkBytes     (the page directory)
 *   uvarint  traces (= the traceId dictionary's size)
 *   traces × [uvarint firstPage][uvarint lastPage − firstPage]     (the trace directory)
 *   u32      dirCrc32c     over every byte above, then every column head in column order
 *   pages × u32 pageCrc32c over the page's chunks in column order
 *   columns: head, then page 0's chunk, page 1's chunk ...
 *
 *   +---------+-----------+------------+---------+--------+-----------+--------------------------------+
 *   | header  | col bytes | head bytes | page dir| trace  | dirCrc    | pageCrc × pages | col 0: head  |
 *   | v2 rows |  × 13     |  × 13      | p × 13  | dir    |  u32      |   u32 each      | p0 p1 ... | col 1 ...
 *   +---------+-----------+------------+---------+--------+-----------+--------------------------------+
 *
 *   traceId  head: uvarint dictSize, dictSize × 16 B (first-seen order); chunk: the page rows' dictionary ids
 *   rest     head: uvarint tablesBytes, tables msgpack; chunk: the page rows' [uvarint bytes][record]
 *   others   no head; chunk: format 1's encoding of the column over the page's rows
 *
 * So traceId, spanId, parentSpanId, flags, duration and rest read whole
 * exactly as format 1's (span-index.ts and tag-read.ts read rest so); the
 * string, byte-run and startTime columns are read page by page. The
 * envelope's CRC32C still covers the whole block (whole-block reads check
 * it, as in format 1); a lookup checks instead dirCrc32c and the CRC32C of
 * the pages it decodes. A trace's pages are a range: the flush writes the
 * spans of a trace next to each other, so it is one page or two.
 *
 * Format 3 (split, SPAN_BLOCK_SPLIT_FORMAT): format 2 cut into LevelDB values
 * (trace-keys.ts names their keys), because LevelDB returns a value whole:
 * a trace-by-id lookup then fetches its one or two pages instead of the
 * whole block. The head is sealed (BlockKind.spans); a page value is not
 * (its CRC32C sits in the head):
 *
 *   head (block key)   u8 formatVersion (3), then format 2's bytes from `rows`
 *                      through the page CRC32Cs unchanged (dirCrc32c is format
 *                      2's: over version byte 2, not 3), then the 13 column
 *                      heads back to back (no chunk)
 *   page p (page key)  page p's 13 chunks back to back in column order; its
 *                      length is the page directory's row p, its CRC32C
 *                      pageCrc32c[p]
 *
 *   +----+--------------------------------------------------+----------------+
 *   | v3 | rows .. trace dir | dirCrc | pageCrc × pages       | heads × 13     |   head
 *   +----+--------------------------------------------------+----------------+
 *   +-------------+-------------+-----+--------------+
 *   | p: traceId  | p: spanId   | ... | p: rest      |                           page p
 *   +-------------+-------------+-----+--------------+
 *
 * A whole-block reader joins the head and every page back into format 2's
 * payload in memory (joinSplitBlock); a lookup reads the head, then only
 * its trace's pages (splitTracePages, readSplitTraceSpans).
 *
 * bigvarint is unsigned LEB128 of a bigint below 2^70 (at most 10 bytes):
 * times are u64 and a zigzagged duration needs 65 bits, past the 53 bits of
 * codec/varint.ts. Decoding checks every length, id, enum range, run sum and
 * that no byte is left over; any failure is ERR_CORRUPTION.
 *
 * NB: attributes, events and links (span-rest.ts) are msgpack per row (one length-prefixed
 * record each, so a scan decodes only the rows it needs), with attribute keys
 * replaced by ids into a block key dictionary (this took the realistic data
 * set of the tests from 138 to 90 bytes per span). They are still the
 * largest part of a block; a columnar attribute layout (key dictionary,
 * typed value columns) is the next step once a benchmark shows where the
 * bytes are.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { SpanBlockLimits, SpanPageLimits, StorageLimits as L } from '../../limits.js';
import { crc32c } from '../../raft/wal/index.js';
import { BLOCK_HEADER_BYTES, BLOCK_MAGIC, BLOCK_VERSION, BlockKind, openBlock, sealBlock } from '../block.js';
import { corrupt } from '../codec/bits.js';
import { decodeStringColumn, encodeStringColumn } from '../codec/strings.js';
import { ByteReader, ByteWriter } from '../codec/varint.js';
import type { Resource, SpanKind, SpanRow, StatusCode } from '../rows.js';
import { SPAN_ID_BYTES, SPAN_KIND_MAX, STATUS_CODE_MAX, TRACE_ID_BYTES } from '../rows.js';
import type { RestTables, SpanRest } from './span-rest.js';
import { RestBuilder, encodeRest, readRest, readRestRecord, readRestRecords, readRestTables, restHeadBytes } from './span-rest.js';

/** SPAN_BLOCK_FORMAT_VERSION is byte 0 of the span block payloads this code writes (2, paged); readers take 1 and 2. */
export const SPAN_BLOCK_FORMAT_VERSION = 2;

/** SpanColumn numbers the columns of a span block in their stored order. Stable: append only, with a format version bump. */
export const SpanColumn = {
  traceId: 0,
  spanId: 1,
  parentSpanId: 2,
  traceState: 3,
  flags: 4,
  name: 5,
  kind: 6,
  startTime: 7,
  duration: 8,
  statusCode: 9,
  statusMessage: 10,
  service: 11,
  rest: 12,
} as const;

/** SPAN_COLUMN_COUNT is the number of columns formats 1 and 2 store. */
export const SPAN_COLUMN_COUNT = 13;

/** SERVICE_NAME_KEY is the resource attribute the service column is drawn from. */
export const SERVICE_NAME_KEY = 'service.name';

const BIGVARINT_BYTES_MAX = 10;
const U64_MAX = (1n << 64n) - 1n;
const EMPTY = new Uint8Array(0);


// ---------------------------------------------------------------- small codecs



/** writeBigUvarint appends unsigned LEB128 of 0 <= v < 2^70 (u64 times, zigzagged u64 differences). */
export function writeBigUvarint(w: ByteWriter, v: bigint): void {
  assert(v >= 0n && v < 1n << 70n, 'bigvarint in [0, 2^70)');
  if (v <= BigInt(Number.MAX_SAFE_INTEGER)) {
    w.uvarint(Number(v));
    return;
  }
  while (v >= 0x80n) {
    w.u8(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  w.u8(Number(v));
}

/** readBigUvarint reads what writeBigUvarint wrote: canonical, at most 10 bytes (ERR_CORRUPTION otherwise). */
export function readBigUvarint(r: ByteReader): bigint {
  // The first 7 bytes (49 bits) accumulate in a double, exactly.
  let lo = 0;
  let scale = 1;
  for (let i = 0; i < 7; i++) {
    const b = r.u8();
    lo += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (b === 0 && i > 0) throw corrupt('non-canonical bigvarint', { pos: r.pos });
      return BigInt(lo);
    }
    scale *= 0x80;
  }
  let v = BigInt(lo);
  let shift = 49n;
  for (let i = 7; i < BIGVARINT_BYTES_MAX; i++) {
    const b = r.u8();
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) {
      if (b === 0) throw corrupt('non-canonical bigvarint', { pos: r.pos });
      return v;
    }
    shift += 7n;
  }
  throw corrupt('bigvarint too long', { pos: r.pos });
}

/** zigzagBig maps a signed bigint to an unsigned one (0, -1, 1, -2 ... to 0, 1, 2, 3 ...). */
export function zigzagBig(d: bigint): bigint {
  return d >= 0n ? d << 1n : (-d << 1n) - 1n;
}

/** unzigzagBig inverts zigzagBig. */
export function unzigzagBig(z: bigint): bigint {
  return (z & 1n) === 0n ? z >> 1n : -((z + 1n) >> 1n);
}

function writeByteRuns(w: ByteWriter, values: ArrayLike<number>): void {
  let runs = 0;
  for (let i = 0; i < values.length; i++) if (i === 0 || values[i] !== values[i - 1]) runs++;
  w.uvarint(runs);
  for (let i = 0; i < values.length; ) {
    const v = values[i] as number;
    let j = i + 1;
    while (j < values.length && values[j] === v) j++;
    w.u8(v);
    w.uvarint(j - i);
    i = j;
  }
}

function readByteRuns(r: ByteReader, rows: number, max: number, what: string): Uint8Array {
  const out = new Uint8Array(rows);
  const runs = r.uvarint();
  if (runs > rows) throw corrupt(`${what}: ${runs} runs for ${rows} rows`);
  let at = 0;
  for (let i = 0; i < runs; i++) {
    const v = r.u8();
    if (v > max) throw corrupt(`${what}: value ${v} is past ${max}`);
    const n = r.uvarint();
    if (n < 1 || n > rows - at) throw corrupt(`${what}: run of ${n} overflows ${rows} rows`);
    out.fill(v, at, at + n);
    at += n;
  }
  if (at !== rows) throw corrupt(`${what}: runs cover ${at} of ${rows} rows`);
  return out;
}

/** serviceOf is the span's service: the first string `service.name` attribute of its resource, else ''. */
export function serviceOf(resource: Resource): string {
  for (const kv of resource.attributes) {
    if (kv.key === SERVICE_NAME_KEY && kv.value.type === 'string') return kv.value.value;
  }
  return '';
}

// ---------------------------------------------------------------- encoding

/** SpanBlockOptions choose the format encodeSpanBlock writes (tests write format 1 to show old blocks still read). */
export interface SpanBlockOptions {
  /** formatVersion is 1 (whole columns) or 2 (paged, the default). */
  readonly formatVersion?: 1 | 2;
  /** pageRows is the rows of a page of format 2 (SpanPageLimits.pageRowsDefault by default). */
  readonly pageRows?: number;
}

function checkSpans(spans: readonly SpanRow[]): string {
  const rows = spans.length;
  if (rows > SpanBlockLimits.rowsMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `span block of ${rows} rows exceeds SpanBlockLimits.rowsMax (${SpanBlockLimits.rowsMax})`);
  }
  const tenant = rows > 0 ? (spans[0] as SpanRow).tenant : '';
  for (const s of spans) {
    if (s.tenant !== tenant) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'a span block holds the spans of one tenant', { tenant, other: s.tenant });
    if (s.traceId.length !== TRACE_ID_BYTES || s.spanId.length !== SPAN_ID_BYTES) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'span ids must be 16 (trace) and 8 (span) bytes');
    }
    if (s.parentSpanId.length !== 0 && s.parentSpanId.length !== SPAN_ID_BYTES) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'a parent span id is 0 or 8 bytes');
    }
  }
  return tenant;
}

/** traceDictionary is the traceId column's dictionary (first-seen order) and each row's id in it. */
function traceDictionary(spans: readonly SpanRow[]): { dict: Uint8Array[]; idOf: Uint32Array } {
  const traceIds = new Map<string, number>();
  const dict: Uint8Array[] = [];
  const idOf = new Uint32Array(spans.length);
  for (let i = 0; i < spans.length; i++) {
    const id = (spans[i] as SpanRow).traceId;
    const key = Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1');
    let n = traceIds.get(key);
    if (n === undefined) {
      n = dict.length;
      if (n >= SpanBlockLimits.traceIdsMax) {
        throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `span block of more than SpanBlockLimits.traceIdsMax (${SpanBlockLimits.traceIdsMax}) trace ids`);
      }
      traceIds.set(key, n);
      dict.push(id);
    }
    idOf[i] = n;
  }
  return { dict, idOf };
}

/**
 * encodeRowColumns writes the columns of `spans` other than traceId and
 * rest into `cols` (format 1 encodings): the whole block's in format 1, one
 * page's in format 2.
 */
function encodeRowColumns(spans: readonly SpanRow[], cols: Uint8Array[], w: ByteWriter): void {
  const rows = spans.length;
  w.reset();
  for (const s of spans) w.raw(s.spanId);
  cols[SpanColumn.spanId] = w.finish();

  w.reset();
  for (const s of spans) {
    w.u8(s.parentSpanId.length === 0 ? 0 : 1);
    w.raw(s.parentSpanId);
  }
  cols[SpanColumn.parentSpanId] = w.finish();

  cols[SpanColumn.traceState] = encodeStringColumn(spans.map((s) => s.traceState));
  w.reset();
  for (const s of spans) w.uvarint(s.flags);
  cols[SpanColumn.flags] = w.finish();
  cols[SpanColumn.name] = encodeStringColumn(spans.map((s) => s.name));
  w.reset();
  writeByteRuns(
    w,
    spans.map((s) => s.kind),
  );
  cols[SpanColumn.kind] = w.finish();

  let minStart = U64_MAX;
  for (const s of spans) if (s.startTimeUnixNano < minStart) minStart = s.startTimeUnixNano;
  if (rows === 0) minStart = 0n;
  w.reset();
  writeBigUvarint(w, minStart);
  for (const s of spans) writeBigUvarint(w, s.startTimeUnixNano - minStart);
  cols[SpanColumn.startTime] = w.finish();
  w.reset();
  for (const s of spans) writeBigUvarint(w, zigzagBig(s.endTimeUnixNano - s.startTimeUnixNano));
  cols[SpanColumn.duration] = w.finish();

  w.reset();
  writeByteRuns(
    w,
    spans.map((s) => s.status.code),
  );
  cols[SpanColumn.statusCode] = w.finish();
  cols[SpanColumn.statusMessage] = encodeStringColumn(spans.map((s) => s.status.message));
  cols[SpanColumn.service] = encodeStringColumn(spans.map((s) => serviceOf(s.resource)));
}

/**
 * encodeSpanBlock encodes the spans of one tenant as a sealed span block, rows
 * in input order (row ordinal i is spans[i]); format 2 (paged) unless
 * `options` asks for 1. Throws ERR_INVALID_ARGUMENT for spans of more than
 * one tenant or ids of the wrong length, ERR_LIMIT_EXCEEDED past
 * SpanBlockLimits. A lookup reads fewest pages when the spans of a trace are
 * adjacent (the flush writes them so).
 */
export function encodeSpanBlock(spans: readonly SpanRow[], options: SpanBlockOptions = {}): Uint8Array {
  const tenant = checkSpans(spans);
  const rows = spans.length;
  const version = options.formatVersion ?? SPAN_BLOCK_FORMAT_VERSION;
  const pageRows = options.pageRows ?? SpanPageLimits.pageRowsDefault;
  assert(version === 1 || version === 2, 'span block format 1 or 2');
  assert(Number.isSafeInteger(pageRows) && pageRows >= 1 && pageRows <= SpanPageLimits.pageRowsMax, 'pageRows in [1, pageRowsMax]');
  const w = new ByteWriter();
  const { dict, idOf } = traceDictionary(spans);
  w.reset();
  w.uvarint(dict.length);
  for (const id of dict) w.raw(id);
  const traceHead = w.finish();
  const rest = encodeRest(spans, w);

  if (version === 1) {
    const cols: Uint8Array[] = new Array(SPAN_COLUMN_COUNT);
    w.reset();
    w.raw(traceHead);
    for (let i = 0; i < rows; i++) w.uvarint(idOf[i] as number);
    cols[SpanColumn.traceId] = w.finish();
    encodeRowColumns(spans, cols, w);
    cols[SpanColumn.rest] = rest;
    w.reset();
    w.u8(1);
    w.uvarint(rows);
    w.str(tenant);
    w.uvarint(SPAN_COLUMN_COUNT);
    for (const c of cols) w.uvarint((c as Uint8Array).length);
    for (const c of cols) w.raw(c as Uint8Array);
    return sealBlock(BlockKind.spans, w.finish());
  }

  // Format 2: heads[c] is column c's shared part, chunks[p][c] its bytes of page p.
  const pages = Math.ceil(rows / pageRows);
  const heads: Uint8Array[] = Array.from({ length: SPAN_COLUMN_COUNT }, () => EMPTY);
  heads[SpanColumn.traceId] = traceHead;
  const restHead = restHeadBytes(rest);
  heads[SpanColumn.rest] = rest.subarray(0, restHead);
  const chunks: Uint8Array[][] = [];
  const restReader = new ByteReader(rest, restHead);
  for (let p = 0; p < pages; p++) {
    const first = p * pageRows;
    const end = Math.min(rows, first + pageRows);
    const cols: Uint8Array[] = new Array(SPAN_COLUMN_COUNT);
    encodeRowColumns(spans.slice(first, end), cols, w);
    w.reset();
    for (let i = first; i < end; i++) w.uvarint(idOf[i] as number);
    cols[SpanColumn.traceId] = w.finish();
    const at = restReader.pos;
    for (let i = first; i < end; i++) restReader.take(restReader.uvarint());
    cols[SpanColumn.rest] = rest.subarray(at, restReader.pos);
    chunks.push(cols);
  }
  assert(restReader.remaining === 0, 'the pages cover the rest column');
  // The trace directory: the pages of each trace, so a lookup checks and decodes only those.
  const firstPage = new Int32Array(dict.length).fill(-1);
  const lastPage = new Int32Array(dict.length);
  for (let i = 0; i < rows; i++) {
    const t = idOf[i] as number;
    const p = Math.floor(i / pageRows);
    if (firstPage[t] === -1) firstPage[t] = p;
    lastPage[t] = p;
  }
  w.reset();
  w.u8(2);
  w.uvarint(rows);
  w.str(tenant);
  w.uvarint(SPAN_COLUMN_COUNT);
  w.uvarint(pageRows);
  for (let c = 0; c < SPAN_COLUMN_COUNT; c++) {
    let len = (heads[c] as Uint8Array).length;
    for (const page of chunks) len += (page[c] as Uint8Array).length;
    w.uvarint(len);
  }
  for (const h of heads) w.uvarint(h.length);
  for (const page of chunks) for (const c of page) w.uvarint(c.length);
  w.uvarint(dict.length);
  for (let t = 0; t < dict.length; t++) {
    w.uvarint(firstPage[t] as number);
    w.uvarint((lastPage[t] as number) - (firstPage[t] as number));
  }
  const dirBytes = w.finish();
  let dirCrc = crc32c(dirBytes);
  for (const h of heads) dirCrc = crc32c(h, 0, h.length, dirCrc);
  w.reset();
  w.raw(dirBytes);
  writeU32(w, dirCrc);
  for (const page of chunks) {
    let crc = 0;
    for (const c of page) crc = crc32c(c, 0, c.length, crc);
    writeU32(w, crc);
  }
  for (let c = 0; c < SPAN_COLUMN_COUNT; c++) {
    w.raw(heads[c] as Uint8Array);
    for (const page of chunks) w.raw(page[c] as Uint8Array);
  }
  return sealBlock(BlockKind.spans, w.finish());
}

function writeU32(w: ByteWriter, v: number): void {
  assert(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff, 'a u32');
  w.u8(v >>> 24);
  w.u8((v >>> 16) & 0xff);
  w.u8((v >>> 8) & 0xff);
  w.u8(v & 0xff);
}

function readU32(r: ByteReader): number {
  const b = r.take(4);
  return (((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) >>> 0;
}

// ---------------------------------------------------------------- reading

/** SpanPage is one page of a paged (format 2) block: its first row, its rows and its bytes of each column. */
export interface SpanPage {
  readonly firstRow: number;
  readonly rows: number;
  /** chunks[c] is the page's bytes of SpanColumn c (traceId: the rows' dictionary ids; rest: the rows' records). */
  readonly chunks: readonly Uint8Array[];
}

/**
 * SpanBlockView is an opened span block: the checked directory and views of
 * each column's bytes, so that a reader decodes only the columns it asks for.
 */
export interface SpanBlockView {
  readonly rows: number;
  readonly tenant: string;
  /**
   * columns[c] is the bytes of SpanColumn c (views into the block). In
   * format 1, and in format 2 for traceId, spanId, parentSpanId, flags,
   * duration and rest, they read as format 1's column; the other columns of
   * format 2 are coded per page (read them through `pages`).
   */
  readonly columns: readonly Uint8Array[];
  /** paged says the block is format 2: `pages` and `heads` describe it. */
  readonly paged: boolean;
  /** pages are format 2's pages in row order (none in format 1). */
  readonly pages: readonly SpanPage[];
  /** heads[c] is column c's shared part in format 2 (traceId: the dictionary; rest: the tables; empty otherwise). */
  readonly heads: readonly Uint8Array[];
}

/** PagedLayout is format 2's directory, parsed but not yet checked against its CRC32Cs. */
interface PagedLayout {
  readonly view: SpanBlockView;
  /** traceDir holds each trace's [firstPage, lastPage − firstPage], in dictionary order. */
  readonly traceDir: Uint32Array;
  /** dirEnd is where the directory (everything dirCrc covers before the heads) ends in the payload. */
  readonly dirEnd: number;
  readonly dirCrc: number;
  readonly pageCrcs: Uint32Array;
}

/** openSpanBlock checks the envelope (ERR_CORRUPTION on any mismatch) and the column directory. */
export function openSpanBlock(bytes: Uint8Array): SpanBlockView {
  const payload = openBlock(bytes, BlockKind.spans);
  const r = new ByteReader(payload);
  const version = r.u8();
  if (version === 2) return parsePaged(payload, r).view;
  if (version !== 1) throw corrupt(`span block format version ${version} is not 1 or 2`);
  const { rows, tenant } = readHeader(r);
  const lengths: number[] = [];
  for (let i = 0; i < SPAN_COLUMN_COUNT; i++) lengths.push(r.uvarint());
  const columns: Uint8Array[] = lengths.map((len) => r.take(len));
  if (r.remaining !== 0) throw corrupt(`span block has ${r.remaining} bytes after its columns`);
  assert(columns.length === SPAN_COLUMN_COUNT, 'every column has bytes');
  return { rows, tenant, columns, paged: false, pages: [], heads: [] };
}

function readHeader(r: ByteReader): { rows: number; tenant: string } {
  const rows = r.uvarint();
  if (rows > SpanBlockLimits.rowsMax) throw corrupt(`span block of ${rows} rows is past rowsMax`);
  const tenant = r.str(L.stringBytesMax, 'span block tenant');
  const n = r.uvarint();
  if (n !== SPAN_COLUMN_COUNT) throw corrupt(`span block has ${n} columns, not ${SPAN_COLUMN_COUNT}`);
  return { rows, tenant };
}

/** PagedDirectory is the directory formats 2 and 3 share (everything between the version byte and the column bytes), its lengths checked against the bytes left, no CRC yet. */
interface PagedDirectory {
  readonly rows: number;
  readonly tenant: string;
  readonly pageRows: number;
  readonly pageCount: number;
  /** lengths[c] is column c's bytes (head + every chunk); headLengths[c] its head's. */
  readonly lengths: readonly number[];
  readonly headLengths: readonly number[];
  /** chunkLengths[p * SPAN_COLUMN_COUNT + c] is page p's bytes of column c. */
  readonly chunkLengths: Uint32Array;
  /** traceDir holds each trace's [firstPage, lastPage − firstPage], in dictionary order. */
  readonly traceDir: Uint32Array;
  /** dirEnd is where the directory (everything dirCrc covers before the heads) ends in the payload. */
  readonly dirEnd: number;
  readonly dirCrc: number;
  readonly pageCrcs: Uint32Array;
}

/** parseDirectory reads the paged directory after the version byte, up to and including the page CRC32Cs. */
function parseDirectory(r: ByteReader): PagedDirectory {
  const { rows, tenant } = readHeader(r);
  const pageRows = r.uvarint();
  if (pageRows < 1 || pageRows > SpanPageLimits.pageRowsMax) throw corrupt(`span block pages of ${pageRows} rows`);
  const pageCount = Math.ceil(rows / pageRows);
  const lengths: number[] = [];
  for (let c = 0; c < SPAN_COLUMN_COUNT; c++) lengths.push(r.uvarint());
  const headLengths: number[] = [];
  for (let c = 0; c < SPAN_COLUMN_COUNT; c++) headLengths.push(r.uvarint());
  // Each directory varint takes a byte at least: check before allocating by a count read from the block.
  if (r.remaining < pageCount * SPAN_COLUMN_COUNT) throw corrupt(`span block page directory of ${pageCount} pages overruns the block`);
  const chunkLengths = new Uint32Array(pageCount * SPAN_COLUMN_COUNT);
  for (let i = 0; i < chunkLengths.length; i++) chunkLengths[i] = r.uvarint();
  const traces = r.uvarint();
  if (traces > rows || traces > SpanBlockLimits.traceIdsMax || r.remaining < 2 * traces) throw corrupt(`span block trace directory of ${traces} traces`);
  const traceDir = new Uint32Array(2 * traces);
  for (let t = 0; t < traces; t++) {
    const first = r.uvarint();
    const span = r.uvarint();
    if (first + span >= pageCount) throw corrupt(`trace ${t} pages ${first}+${span} are past ${pageCount} pages`);
    traceDir[2 * t] = first;
    traceDir[2 * t + 1] = span;
  }
  const dirEnd = r.pos;
  const dirCrc = readU32(r);
  if (r.remaining < 4 * pageCount) throw corrupt(`span block page checksums overrun the block`);
  const pageCrcs = new Uint32Array(pageCount);
  for (let p = 0; p < pageCount; p++) pageCrcs[p] = readU32(r);
  return { rows, tenant, pageRows, pageCount, lengths, headLengths, chunkLengths, traceDir, dirEnd, dirCrc, pageCrcs };
}

/** parsePaged reads format 2's directory after the version byte: every length is checked against the bytes, no CRC is. */
function parsePaged(payload: Uint8Array, r: ByteReader): PagedLayout {
  const d = parseDirectory(r);
  const { rows, tenant, pageRows, pageCount, lengths, headLengths, chunkLengths } = d;
  const columns: Uint8Array[] = [];
  const heads: Uint8Array[] = [];
  const chunks: Uint8Array[][] = Array.from({ length: pageCount }, () => new Array<Uint8Array>(SPAN_COLUMN_COUNT));
  for (let c = 0; c < SPAN_COLUMN_COUNT; c++) {
    const column = r.take(lengths[c] as number);
    const cr = new ByteReader(column);
    heads.push(cr.take(headLengths[c] as number));
    for (let p = 0; p < pageCount; p++) (chunks[p] as Uint8Array[])[c] = cr.take(chunkLengths[p * SPAN_COLUMN_COUNT + c] as number);
    if (cr.remaining !== 0) throw corrupt(`span column ${c} has ${cr.remaining} bytes past its pages`);
    columns.push(column);
  }
  if (r.remaining !== 0) throw corrupt(`span block has ${r.remaining} bytes after its columns`);
  const pages: SpanPage[] = chunks.map((ch, p) => ({ firstRow: p * pageRows, rows: Math.min(pageRows, rows - p * pageRows), chunks: ch }));
  assert(payload.length >= d.dirEnd, 'the directory is inside the payload');
  return { view: { rows, tenant, columns, paged: true, pages, heads }, traceDir: d.traceDir, dirEnd: d.dirEnd, dirCrc: d.dirCrc, pageCrcs: d.pageCrcs };
}

/** pageView is page p of a paged view as a format-1 view of its rows (traceId and rest are the page's ids and records only). */
function pageView(view: SpanBlockView, page: SpanPage): SpanBlockView {
  return { rows: page.rows, tenant: view.tenant, columns: page.chunks, paged: false, pages: [], heads: [] };
}

/** payloadUnchecked is openBlock without the whole-block CRC32C (a paged lookup checks its pages' CRCs instead). */
function payloadUnchecked(bytes: Uint8Array): Uint8Array {
  if (bytes.length < BLOCK_HEADER_BYTES) throw corrupt(`span block of ${bytes.length} bytes is shorter than its header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(0) !== BLOCK_MAGIC) throw corrupt('span block magic mismatch', { field: 'magic' });
  if (dv.getUint8(2) !== BLOCK_VERSION) throw corrupt('span block envelope version mismatch', { field: 'version' });
  if (dv.getUint8(3) !== BlockKind.spans) throw corrupt(`block kind ${dv.getUint8(3)} is not spans`, { field: 'kind' });
  if (dv.getUint32(4) !== bytes.length - BLOCK_HEADER_BYTES) throw corrupt('span block length mismatch', { field: 'payloadBytes' });
  return bytes.subarray(BLOCK_HEADER_BYTES);
}

/** TraceSpans is readTraceSpans' answer: the trace's rows and how many block bytes were checksummed for them. */
export interface TraceSpans {
  readonly spans: SpanRow[];
  readonly checkedBytes: number;
}

/**
 * readTraceSpans decodes the rows of one trace from a sealed span block, in
 * stored order (none when the block lacks the trace). Format 2 checks the
 * envelope fields, the CRC32C of the directory (with the trace dictionary
 * and the rest tables) and the CRC32C of the trace's pages only, and
 * decodes only those pages; format 1 opens and checks the whole block. Any
 * mismatch is ERR_CORRUPTION.
 */
export function readTraceSpans(bytes: Uint8Array, traceId: Uint8Array): TraceSpans {
  assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
  const payload = payloadUnchecked(bytes);
  const r = new ByteReader(payload);
  if (r.u8() !== 2) {
    const view = openSpanBlock(bytes);
    const { dict, ids } = readTraceIds(view);
    const at = dict.findIndex((id) => idsEqual(id, 0, traceId));
    const rows: number[] = [];
    for (let i = 0; i < ids.length; i++) if (ids[i] === at) rows.push(i);
    return { spans: at < 0 ? [] : decodeSpanRows(view, rows), checkedBytes: bytes.length };
  }
  const layout = parsePaged(payload, r);
  const { view } = layout;
  let crc = crc32c(payload, 0, layout.dirEnd);
  for (const h of view.heads) crc = crc32c(h, 0, h.length, crc);
  if (crc !== layout.dirCrc) throw corrupt('span block directory checksum mismatch', { field: 'dirCrc32c' });
  const checkedBytes = BLOCK_HEADER_BYTES + layout.dirEnd + view.heads.reduce((n, h) => n + h.length, 0);
  const found = findTrace(view.heads, layout.traceDir, traceId);
  if (found === null) return { spans: [], checkedBytes };
  let pageBytes = 0;
  const spans = decodeTracePages(view, found, (p) => {
    const page = view.pages[p] as SpanPage;
    let pc = 0;
    for (const c of page.chunks) {
      pc = crc32c(c, 0, c.length, pc);
      pageBytes += c.length;
    }
    if (pc !== layout.pageCrcs[p]) throw corrupt(`span block page ${p} checksum mismatch`, { field: 'pageCrc32c', page: p });
    return page;
  });
  return { spans, checkedBytes: checkedBytes + pageBytes };
}

/** FoundTrace is a trace's place in a paged block: its dictionary id, its pages (inclusive) and the dictionary bytes. */
interface FoundTrace {
  readonly t: number;
  readonly first: number;
  readonly last: number;
  readonly size: number;
  readonly dictBytes: Uint8Array;
}

/** findTrace looks a trace id up in a paged block's dictionary (heads[traceId]) and trace directory; null when the block lacks it. */
function findTrace(heads: readonly Uint8Array[], traceDir: Uint32Array, traceId: Uint8Array): FoundTrace | null {
  const head = new ByteReader(heads[SpanColumn.traceId] as Uint8Array);
  const size = head.uvarint();
  if (size !== traceDir.length / 2 || head.remaining !== size * TRACE_ID_BYTES) throw corrupt(`trace id dictionary of ${size} disagrees with its directory`);
  const dictBytes = head.take(size * TRACE_ID_BYTES);
  for (let t = 0; t < size; t++) {
    if (!idsEqual(dictBytes, t * TRACE_ID_BYTES, traceId)) continue;
    const first = traceDir[2 * t] as number;
    return { t, first, last: first + (traceDir[2 * t + 1] as number), size, dictBytes };
  }
  return null;
}

/** decodeTracePages decodes the rows of trace `f` from its pages, each got (and checked) through `pageOf`. */
function decodeTracePages(view: { readonly rows: number; readonly tenant: string; readonly heads: readonly Uint8Array[] }, f: FoundTrace, pageOf: (p: number) => SpanPage): SpanRow[] {
  let tables: RestTables | null = null;
  const out: SpanRow[] = [];
  const id = f.dictBytes.slice(f.t * TRACE_ID_BYTES, (f.t + 1) * TRACE_ID_BYTES);
  for (let p = f.first; p <= f.last; p++) {
    const page = pageOf(p);
    const ir = new ByteReader(page.chunks[SpanColumn.traceId] as Uint8Array);
    const local: number[] = [];
    for (let i = 0; i < page.rows; i++) {
      const tid = ir.uvarint();
      if (tid >= f.size) throw corrupt(`trace id ${tid} is past the dictionary of ${f.size}`);
      if (tid === f.t) local.push(i);
    }
    done(ir, 'traceId');
    if (local.length === 0) continue;
    tables ??= readRestTables(view.heads[SpanColumn.rest] as Uint8Array, view.rows);
    const rest: SpanRest = { ...tables, records: readRestRecords(page.chunks[SpanColumn.rest] as Uint8Array, page.rows) };
    const pv: SpanBlockView = { rows: page.rows, tenant: view.tenant, columns: page.chunks, paged: false, pages: [], heads: [] };
    out.push(...decodeRowsOf(pv, local, () => id.slice(), rest, 0));
  }
  return out;
}

// ---------------------------------------------------------------- format 3 (split)

const PAGED_VERSION_BYTE = Uint8Array.of(2);

/** SPAN_BLOCK_SPLIT_FORMAT is the payload version of a split block's head (format 3): format 2 with its pages stored as values of their own. */
export const SPAN_BLOCK_SPLIT_FORMAT = 3;

/** SplitSpanBlock is a block in format 3: the sealed head, and each page's value (page p's chunks in column order, checked by the head's pageCrc32c[p]). */
export interface SplitSpanBlock {
  readonly head: Uint8Array;
  readonly pages: readonly Uint8Array[];
}

/**
 * encodeSplitSpanBlock encodes the spans as format 2 and splits it (format
 * 3): the head keeps the version byte (3), the directory, dirCrc32c, the
 * page CRC32Cs and the column heads; each page's chunks become one value,
 * so that a reader fetches from LevelDB only the pages it decodes.
 */
export function encodeSplitSpanBlock(spans: readonly SpanRow[], options: { readonly pageRows?: number } = {}): SplitSpanBlock {
  const sealed = encodeSpanBlock(spans, { formatVersion: 2, ...(options.pageRows === undefined ? {} : { pageRows: options.pageRows }) });
  const payload = payloadUnchecked(sealed);
  const r = new ByteReader(payload);
  assert(r.u8() === 2, 'encodeSpanBlock wrote format 2');
  const layout = parsePaged(payload, r);
  const { view } = layout;
  const headsStart = layout.dirEnd + 4 + 4 * view.pages.length;
  const w = new ByteWriter();
  w.reset();
  w.u8(SPAN_BLOCK_SPLIT_FORMAT);
  w.raw(payload.subarray(1, headsStart));
  for (const h of view.heads) w.raw(h);
  const head = sealBlock(BlockKind.spans, w.finish());
  const pages = view.pages.map((page) => {
    let n = 0;
    for (const c of page.chunks) n += c.length;
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of page.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  });
  assert(pages.length >= 1 || view.rows === 0, 'a block of rows has pages');
  return { head, pages };
}

/**
 * SplitBlockBuilder is encodeSplitSpanBlock page by page: addPage(spans)
 * encodes the block's next page (pageRows rows, the last page may hold
 * fewer) into its value at once and keeps only bytes and the trace
 * dictionary, finish() seals the head. A flush adds a page of rows decoded
 * from the head at a time (block-write.ts), so no decoded row outlives its
 * page; the head and pages are encodeSplitSpanBlock's bytes for the same
 * rows (span-block-batches.test.ts compares them).
 */
export class SplitBlockBuilder {
  readonly #w = new ByteWriter();
  readonly #pageRows: number;
  readonly #rest = new RestBuilder();
  /** #dictIds maps a trace id (idKey form) to its number in #dict, first-seen order (traceDictionary's). */
  readonly #dictIds = new Map<string, number>();
  readonly #dict: Uint8Array[] = [];
  /** #firstPage[t] and #lastPage[t] are the pages of trace t (the trace directory). */
  readonly #firstPage: number[] = [];
  readonly #lastPage: number[] = [];
  /** #pages[p] is page p's value (its chunks in column order); #chunkBytes[p * SPAN_COLUMN_COUNT + c] its chunk c's length. */
  readonly #pages: Uint8Array[] = [];
  readonly #chunkBytes: number[] = [];
  #tenant: string | null = null;
  #rows = 0;
  #short = false;
  #sealed = false;

  constructor(pageRows: number = SpanPageLimits.pageRowsDefault) {
    assert(Number.isSafeInteger(pageRows) && pageRows >= 1 && pageRows <= SpanPageLimits.pageRowsMax, 'pageRows in [1, pageRowsMax]');
    this.#pageRows = pageRows;
  }

  /** rows is how many rows the pages added hold. */
  get rows(): number {
    return this.#rows;
  }

  /** addPage encodes `spans` as the block's next page; throws as encodeSpanBlock does for wrong ids, a second tenant or a block past SpanBlockLimits. */
  addPage(spans: readonly SpanRow[]): void {
    assert(!this.#sealed, 'pages are added before finish');
    assert(spans.length >= 1 && spans.length <= this.#pageRows, 'a page holds 1 ..= pageRows rows');
    assert(!this.#short, 'only the last page holds fewer than pageRows rows');
    if (this.#rows + spans.length > SpanBlockLimits.rowsMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `span block of ${this.#rows + spans.length} rows exceeds SpanBlockLimits.rowsMax (${SpanBlockLimits.rowsMax})`);
    }
    const tenant = checkSpans(spans);
    if (this.#tenant === null) this.#tenant = tenant;
    else if (tenant !== this.#tenant) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'a span block holds the spans of one tenant', { tenant: this.#tenant, other: tenant });
    const p = this.#pages.length;
    const w = this.#w;
    const cols: Uint8Array[] = new Array(SPAN_COLUMN_COUNT);
    encodeRowColumns(spans, cols, w);
    w.reset();
    for (const s of spans) {
      const key = Buffer.from(s.traceId.buffer, s.traceId.byteOffset, s.traceId.byteLength).toString('latin1');
      let t = this.#dictIds.get(key);
      if (t === undefined) {
        t = this.#dict.length;
        if (t >= SpanBlockLimits.traceIdsMax) {
          throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `span block of more than SpanBlockLimits.traceIdsMax (${SpanBlockLimits.traceIdsMax}) trace ids`);
        }
        this.#dictIds.set(key, t);
        this.#dict.push(s.traceId);
        this.#firstPage.push(p);
        this.#lastPage.push(p);
      }
      this.#lastPage[t] = p;
      w.uvarint(t);
    }
    cols[SpanColumn.traceId] = w.finish();
    w.reset();
    for (const s of spans) {
      const r = this.#rest.record(s);
      w.uvarint(r.length);
      w.raw(r);
    }
    cols[SpanColumn.rest] = w.finish();
    let n = 0;
    for (const c of cols) n += (c as Uint8Array).length;
    const page = new Uint8Array(n);
    let at = 0;
    for (const c of cols) {
      page.set(c as Uint8Array, at);
      this.#chunkBytes.push((c as Uint8Array).length);
      at += (c as Uint8Array).length;
    }
    this.#pages.push(page);
    this.#rows += spans.length;
    this.#short = spans.length < this.#pageRows;
  }

  /** finish seals the head (format 3) of the pages added; the block is the head and the pages' values. */
  finish(): SplitSpanBlock {
    assert(!this.#sealed, 'a block is sealed once');
    this.#sealed = true;
    const w = this.#w;
    const pages = this.#pages.length;
    const heads: Uint8Array[] = Array.from({ length: SPAN_COLUMN_COUNT }, () => EMPTY);
    w.reset();
    w.uvarint(this.#dict.length);
    for (const id of this.#dict) w.raw(id);
    heads[SpanColumn.traceId] = w.finish();
    const tables = this.#rest.tables();
    w.reset();
    w.uvarint(tables.length);
    w.raw(tables);
    heads[SpanColumn.rest] = w.finish();
    // The directory exactly as encodeSpanBlock writes format 2 (its CRC covers the version byte 2), then split as encodeSplitSpanBlock does.
    w.reset();
    w.u8(2);
    w.uvarint(this.#rows);
    w.str(this.#tenant ?? '');
    w.uvarint(SPAN_COLUMN_COUNT);
    w.uvarint(this.#pageRows);
    for (let c = 0; c < SPAN_COLUMN_COUNT; c++) {
      let len = (heads[c] as Uint8Array).length;
      for (let p = 0; p < pages; p++) len += this.#chunkBytes[p * SPAN_COLUMN_COUNT + c] as number;
      w.uvarint(len);
    }
    for (const h of heads) w.uvarint(h.length);
    for (const len of this.#chunkBytes) w.uvarint(len);
    w.uvarint(this.#dict.length);
    for (let t = 0; t < this.#dict.length; t++) {
      w.uvarint(this.#firstPage[t] as number);
      w.uvarint((this.#lastPage[t] as number) - (this.#firstPage[t] as number));
    }
    const dirBytes = w.finish();
    let dirCrc = crc32c(dirBytes);
    for (const h of heads) dirCrc = crc32c(h, 0, h.length, dirCrc);
    w.reset();
    w.u8(SPAN_BLOCK_SPLIT_FORMAT);
    w.raw(dirBytes.subarray(1));
    writeU32(w, dirCrc);
    for (const page of this.#pages) writeU32(w, crc32c(page));
    for (const h of heads) w.raw(h);
    const head = sealBlock(BlockKind.spans, w.finish());
    assert(pages >= 1 || this.#rows === 0, 'a block of rows has pages');
    assert(this.#chunkBytes.length === pages * SPAN_COLUMN_COUNT, 'a chunk length per page and column');
    return { head, pages: this.#pages };
  }
}

/** SplitBlockHead is an opened format-3 head: the checked directory and column heads, without any page. */
export interface SplitBlockHead {
  readonly rows: number;
  readonly tenant: string;
  readonly pageCount: number;
  readonly heads: readonly Uint8Array[];
  readonly dir: PagedDirectory;
  /** payload is the head's payload; its bytes before `headsStart` are the directory and the CRC32Cs. */
  readonly payload: Uint8Array;
  readonly headsStart: number;
}

/** isSplitHead says whether a stored span block value is a format-3 head (its pages are stored apart); the envelope is not checked here. */
export function isSplitHead(bytes: Uint8Array): boolean {
  return bytes.length > BLOCK_HEADER_BYTES && bytes[BLOCK_HEADER_BYTES] === SPAN_BLOCK_SPLIT_FORMAT;
}

/** openSplitHead checks a format-3 head (envelope CRC32C, directory CRC32C, every length) and parses it (ERR_CORRUPTION on any mismatch). */
export function openSplitHead(bytes: Uint8Array): SplitBlockHead {
  const payload = openBlock(bytes, BlockKind.spans);
  const r = new ByteReader(payload);
  const version = r.u8();
  if (version !== SPAN_BLOCK_SPLIT_FORMAT) throw corrupt(`span block head format ${version} is not ${SPAN_BLOCK_SPLIT_FORMAT}`);
  const dir = parseDirectory(r);
  const headsStart = r.pos;
  const heads: Uint8Array[] = [];
  for (let c = 0; c < SPAN_COLUMN_COUNT; c++) heads.push(r.take(dir.headLengths[c] as number));
  if (r.remaining !== 0) throw corrupt(`span block head has ${r.remaining} bytes after its column heads`);
  // dirCrc32c is format 2's: its version byte (2) then the directory, then the heads.
  let crc = crc32c(PAGED_VERSION_BYTE);
  crc = crc32c(payload, 1, dir.dirEnd, crc);
  for (const h of heads) crc = crc32c(h, 0, h.length, crc);
  if (crc !== dir.dirCrc) throw corrupt('span block directory checksum mismatch', { field: 'dirCrc32c' });
  for (let c = 0; c < SPAN_COLUMN_COUNT; c++) {
    let n = dir.headLengths[c] as number;
    for (let p = 0; p < dir.pageCount; p++) n += dir.chunkLengths[p * SPAN_COLUMN_COUNT + c] as number;
    if (n !== dir.lengths[c]) throw corrupt(`span column ${c} of ${dir.lengths[c]} bytes disagrees with its head and pages (${n})`);
  }
  return { rows: dir.rows, tenant: dir.tenant, pageCount: dir.pageCount, heads, dir, payload, headsStart };
}

/** splitPage checks page p's value against the head (length, CRC32C) and cuts it into its column chunks (ERR_CORRUPTION on a mismatch). */
function splitPage(h: SplitBlockHead, p: number, bytes: Uint8Array | undefined): SpanPage {
  assert(p >= 0 && p < h.pageCount, 'a page of the block');
  if (bytes === undefined) throw corrupt(`span block page ${p} is missing`, { page: p });
  let n = 0;
  for (let c = 0; c < SPAN_COLUMN_COUNT; c++) n += h.dir.chunkLengths[p * SPAN_COLUMN_COUNT + c] as number;
  if (bytes.length !== n) throw corrupt(`span block page ${p} of ${bytes.length} bytes, its directory says ${n}`, { page: p });
  if (crc32c(bytes) !== h.dir.pageCrcs[p]) throw corrupt(`span block page ${p} checksum mismatch`, { field: 'pageCrc32c', page: p });
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (let c = 0; c < SPAN_COLUMN_COUNT; c++) {
    const len = h.dir.chunkLengths[p * SPAN_COLUMN_COUNT + c] as number;
    chunks.push(bytes.subarray(at, at + len));
    at += len;
  }
  const firstRow = p * h.dir.pageRows;
  return { firstRow, rows: Math.min(h.dir.pageRows, h.rows - firstRow), chunks };
}

/**
 * splitBlockTraceIds are the trace ids of a format-3 block, from its head's
 * trace-id dictionary (no page is read): each a view of the head's bytes,
 * in dictionary order. The dictionary must agree with the trace directory.
 */
export function splitBlockTraceIds(h: SplitBlockHead): Uint8Array[] {
  const head = new ByteReader(h.heads[SpanColumn.traceId] as Uint8Array);
  const size = head.uvarint();
  if (size !== h.dir.traceDir.length / 2 || head.remaining !== size * TRACE_ID_BYTES) throw corrupt(`trace id dictionary of ${size} disagrees with its directory`);
  const dict = head.take(size * TRACE_ID_BYTES);
  const ids: Uint8Array[] = [];
  for (let t = 0; t < size; t++) ids.push(dict.subarray(t * TRACE_ID_BYTES, (t + 1) * TRACE_ID_BYTES));
  assert(ids.length === size, 'one id per dictionary entry');
  return ids;
}

/** splitTracePages is the pages (first ..= last) a trace's rows are on in a format-3 block, or null when the block lacks the trace. */
export function splitTracePages(h: SplitBlockHead, traceId: Uint8Array): { readonly first: number; readonly last: number } | null {
  assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
  const f = findTrace(h.heads, h.dir.traceDir, traceId);
  return f === null ? null : { first: f.first, last: f.last };
}

/**
 * readSplitTraceSpans decodes the rows of one trace from a format-3 block,
 * given its head and the values of the pages splitTracePages named
 * (pages[i] is page first + i), each checked by its CRC32C.
 */
export function readSplitTraceSpans(h: SplitBlockHead, traceId: Uint8Array, pages: readonly (Uint8Array | undefined)[]): TraceSpans {
  assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
  const f = findTrace(h.heads, h.dir.traceDir, traceId);
  if (f === null) return { spans: [], checkedBytes: h.payload.length };
  assert(pages.length === f.last - f.first + 1, 'one value per page of the trace');
  let checkedBytes = h.payload.length;
  const spans = decodeTracePages(h, f, (p) => {
    const bytes = pages[p - f.first];
    checkedBytes += bytes?.length ?? 0;
    return splitPage(h, p, bytes);
  });
  return { spans, checkedBytes };
}

/**
 * readSplitPageRows decodes every row of some pages of a format-3 block,
 * given its head and those pages' values (values[i] is page pages[i]), each
 * checked by its CRC32C: out[i] are page pages[i]'s rows in row order
 * (`checkOnly`: every page checked, none decoded, every out[i] empty).
 * With `needles` (bytes every row a search wants holds in its rest record,
 * none of them in the head: span-index.ts valueNeedle), only the rows whose
 * record holds every needle are decoded (recordsHolding), the others left
 * out: the caller checks the rows it gets anyway.
 */
export function readSplitPageRows(h: SplitBlockHead, pages: readonly number[], values: readonly (Uint8Array | undefined)[], checkOnly = false, needles: readonly Uint8Array[] = []): SpanRow[][] {
  assert(pages.length === values.length, 'one value per page');
  if (checkOnly) {
    // Length and CRC32C of each page, nothing decoded.
    for (const [i, p] of pages.entries()) splitPage(h, p, values[i]);
    return pages.map(() => []);
  }
  const head = new ByteReader(h.heads[SpanColumn.traceId] as Uint8Array);
  const size = head.uvarint();
  if (size !== h.dir.traceDir.length / 2 || head.remaining !== size * TRACE_ID_BYTES) throw corrupt(`trace id dictionary of ${size} disagrees with its directory`);
  const dictBytes = head.take(size * TRACE_ID_BYTES);
  const tables = readRestTables(h.heads[SpanColumn.rest] as Uint8Array, h.rows);
  return pages.map((p, i) => {
    const page = splitPage(h, p, values[i]);
    const ir = new ByteReader(page.chunks[SpanColumn.traceId] as Uint8Array);
    const tids = new Uint32Array(page.rows);
    for (let j = 0; j < page.rows; j++) {
      const tid = ir.uvarint();
      if (tid >= size) throw corrupt(`trace id ${tid} is past the dictionary of ${size}`);
      tids[j] = tid;
    }
    done(ir, 'traceId');
    const chunk = page.chunks[SpanColumn.rest] as Uint8Array;
    const rest: SpanRest = { ...tables, records: readRestRecords(chunk, page.rows) };
    const pv: SpanBlockView = { rows: page.rows, tenant: h.tenant, columns: page.chunks, paged: false, pages: [], heads: [] };
    const at = (j: number): number => (tids[j] as number) * TRACE_ID_BYTES;
    const rows = needles.length === 0 ? Array.from({ length: page.rows }, (_, j) => j) : recordsHolding(chunk, rest.records, needles);
    return rows.length === 0 ? [] : decodeRowsOf(pv, rows, (j) => dictBytes.slice(at(j), at(j) + TRACE_ID_BYTES), rest, 0);
  });
}

/**
 * recordsHolding are the rows (ascending) whose record, a view of `chunk`
 * (records in order, as readRestRecords cuts them), holds every needle's
 * bytes wholly: one Buffer.indexOf sweep over the chunk per needle. A
 * necessary condition only (a value may sit inside a longer one).
 */
function recordsHolding(chunk: Uint8Array, records: readonly Uint8Array[], needles: readonly Uint8Array[]): number[] {
  const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  let keep: Uint8Array | null = null;
  for (const n of needles) {
    assert(n.length > 0, 'a needle holds bytes');
    const mark = new Uint8Array(records.length);
    let r = 0;
    for (let found = buf.indexOf(n); found >= 0 && r < records.length; found = buf.indexOf(n, found + 1)) {
      const from = chunk.byteOffset + found;
      // The first record that ends at or after the occurrence's end; it holds it when it starts at or before it.
      while (r < records.length && (records[r] as Uint8Array).byteOffset + (records[r] as Uint8Array).byteLength < from + n.length) r++;
      if (r < records.length && (records[r] as Uint8Array).byteOffset <= from) mark[r] = 1;
    }
    if (keep === null) keep = mark;
    else for (let i = 0; i < keep.length; i++) keep[i] = (keep[i] as number) & (mark[i] as number);
  }
  const out: number[] = [];
  if (keep !== null) for (let i = 0; i < keep.length; i++) if (keep[i] === 1) out.push(i);
  return out;
}

/**
 * joinSplitBlock rebuilds a whole-block view of a format-3 block from its
 * head and every page value (each checked by its CRC32C), as a format-2
 * payload in memory, so that every whole-block reader (queries, indexes,
 * tags) reads it unchanged.
 */
export function joinSplitBlock(h: SplitBlockHead, pages: readonly (Uint8Array | undefined)[]): SpanBlockView {
  if (pages.length !== h.pageCount) throw corrupt(`span block of ${h.pageCount} pages got ${pages.length}`);
  const split = pages.map((bytes, p) => splitPage(h, p, bytes));
  let total = h.payload.length;
  for (const b of pages) total += (b as Uint8Array).length;
  const out = new Uint8Array(total);
  out.set(h.payload.subarray(0, h.headsStart), 0);
  out[0] = 2;
  let at = h.headsStart;
  for (let c = 0; c < SPAN_COLUMN_COUNT; c++) {
    const head = h.heads[c] as Uint8Array;
    out.set(head, at);
    at += head.length;
    for (const page of split) {
      const chunk = page.chunks[c] as Uint8Array;
      out.set(chunk, at);
      at += chunk.length;
    }
  }
  assert(at === total, 'the joined payload is exactly the head and the pages');
  const r = new ByteReader(out);
  r.u8();
  return parsePaged(out, r).view;
}

function idsEqual(bytes: Uint8Array, at: number, id: Uint8Array): boolean {
  for (let i = 0; i < TRACE_ID_BYTES; i++) if (bytes[at + i] !== id[i]) return false;
  return true;
}

function col(view: SpanBlockView, c: number): ByteReader {
  return new ByteReader(view.columns[c] as Uint8Array);
}

function done(r: ByteReader, what: string): void {
  if (r.remaining !== 0) throw corrupt(`span column ${what} has ${r.remaining} trailing bytes`);
}

/** readTraceIds decodes the traceId column: the dictionary and each row's dictionary id. */
export function readTraceIds(view: SpanBlockView): { readonly dict: Uint8Array[]; readonly ids: Uint32Array } {
  const r = col(view, SpanColumn.traceId);
  const size = r.uvarint();
  if (size > view.rows || size > SpanBlockLimits.traceIdsMax) throw corrupt(`trace id dictionary of ${size} for ${view.rows} rows`);
  const dict: Uint8Array[] = [];
  for (let i = 0; i < size; i++) dict.push(r.take(TRACE_ID_BYTES).slice());
  const ids = new Uint32Array(view.rows);
  for (let i = 0; i < view.rows; i++) {
    const id = r.uvarint();
    if (id >= size) throw corrupt(`trace id ${id} is past the dictionary of ${size}`);
    ids[i] = id;
  }
  done(r, 'traceId');
  return { dict, ids };
}

function readSpanIds(view: SpanBlockView): Uint8Array[] {
  const r = col(view, SpanColumn.spanId);
  const out: Uint8Array[] = [];
  for (let i = 0; i < view.rows; i++) out.push(r.take(SPAN_ID_BYTES).slice());
  done(r, 'spanId');
  return out;
}

/** readSpanIdsOf copies the span ids of the given rows only (the column is fixed-width). */
function readSpanIdsOf(view: SpanBlockView, rows: ArrayLike<number>): Uint8Array[] {
  const column = view.columns[SpanColumn.spanId] as Uint8Array;
  if (column.length !== view.rows * SPAN_ID_BYTES) throw corrupt(`span column spanId has ${column.length} bytes for ${view.rows} rows`);
  return Array.from(rows, (i) => column.slice(i * SPAN_ID_BYTES, (i + 1) * SPAN_ID_BYTES));
}

/** readParentIdsOf walks the parent column and copies the parent ids of the given rows only. */
function readParentIdsOf(view: SpanBlockView, rows: ArrayLike<number>): Uint8Array[] {
  const r = col(view, SpanColumn.parentSpanId);
  const at = new Int32Array(view.rows).fill(-1);
  for (let i = 0; i < view.rows; i++) {
    const has = r.u8();
    if (has > 1) throw corrupt(`parent span id presence byte ${has}`);
    if (has === 1) {
      at[i] = r.pos;
      r.take(SPAN_ID_BYTES);
    }
  }
  done(r, 'parentSpanId');
  const column = view.columns[SpanColumn.parentSpanId] as Uint8Array;
  return Array.from(rows, (i) => {
    const p = at[i] as number;
    return p < 0 ? new Uint8Array(0) : column.slice(p, p + SPAN_ID_BYTES);
  });
}

/** concatPages reads a column coded per page (format 2) page by page; a format-1 view is read whole. */
function concatPages<T>(view: SpanBlockView, read: (v: SpanBlockView) => T[]): T[] {
  if (!view.paged) return read(view);
  const out: T[] = [];
  for (const page of view.pages) {
    const part = read(pageView(view, page));
    assert(part.length === page.rows, 'a page reader returns the page rows');
    for (const v of part) out.push(v);
  }
  return out;
}

function readStrings(view: SpanBlockView, c: number, what: string): string[] {
  if (view.paged) return concatPages(view, (v) => readStrings(v, c, what));
  const out = decodeStringColumn(view.columns[c] as Uint8Array);
  if (out.length !== view.rows) throw corrupt(`span column ${what} has ${out.length} rows, not ${view.rows}`);
  return out;
}

function readFlags(view: SpanBlockView): number[] {
  const r = col(view, SpanColumn.flags);
  const out: number[] = [];
  for (let i = 0; i < view.rows; i++) {
    const f = r.uvarint();
    if (f > 0xffff_ffff) throw corrupt(`span flags ${f} is past u32`);
    out.push(f);
  }
  done(r, 'flags');
  return out;
}

function readRuns(view: SpanBlockView, c: number, max: number, what: string): Uint8Array {
  if (view.paged) {
    const out = new Uint8Array(view.rows);
    for (const page of view.pages) out.set(readRuns(pageView(view, page), c, max, what), page.firstRow);
    return out;
  }
  const r = col(view, c);
  const out = readByteRuns(r, view.rows, max, what);
  done(r, what);
  return out;
}

/** readStartTimes decodes the startTime column (u64 nanoseconds). */
export function readStartTimes(view: SpanBlockView): bigint[] {
  if (view.paged) return concatPages(view, readStartTimes);
  const r = col(view, SpanColumn.startTime);
  const min = readBigUvarint(r);
  if (min > U64_MAX) throw corrupt('span block min start time is past u64');
  const out: bigint[] = new Array(view.rows);
  for (let i = 0; i < view.rows; i++) {
    const t = min + readBigUvarint(r);
    if (t > U64_MAX) throw corrupt('span start time is past u64');
    out[i] = t;
  }
  done(r, 'startTime');
  return out;
}

/** readDurations decodes the duration column: end − start in nanoseconds (negative when the span ends before it starts). */
export function readDurations(view: SpanBlockView): bigint[] {
  const r = col(view, SpanColumn.duration);
  const out: bigint[] = new Array(view.rows);
  for (let i = 0; i < view.rows; i++) out[i] = unzigzagBig(readBigUvarint(r));
  done(r, 'duration');
  return out;
}

/** skipBigUvarint passes over one bigvarint without building it (at most 10 bytes, else ERR_CORRUPTION). */
function skipBigUvarint(r: ByteReader): void {
  for (let i = 0; i < BIGVARINT_BYTES_MAX; i++) if (r.u8() < 0x80) return;
  throw corrupt('bigvarint too long', { pos: r.pos });
}

/** readStartTimesOf decodes the start times of the rows set in `mask` (others stay undefined). */
function readStartTimesOf(view: SpanBlockView, mask: Uint8Array): (bigint | undefined)[] {
  assert(!view.paged, 'readStartTimesOf reads a format-1 view or one page');
  const r = col(view, SpanColumn.startTime);
  const min = readBigUvarint(r);
  const out: (bigint | undefined)[] = new Array(view.rows);
  for (let i = 0; i < view.rows; i++) {
    if (mask[i] === 0) {
      skipBigUvarint(r);
      continue;
    }
    const t = min + readBigUvarint(r);
    if (t > U64_MAX) throw corrupt('span start time is past u64');
    out[i] = t;
  }
  done(r, 'startTime');
  return out;
}

/** readDurationsOf decodes the durations of the rows set in `mask` (others stay undefined). */
function readDurationsOf(view: SpanBlockView, mask: Uint8Array): (bigint | undefined)[] {
  assert(!view.paged, 'readDurationsOf reads a format-1 view or one page');
  const r = col(view, SpanColumn.duration);
  const out: (bigint | undefined)[] = new Array(view.rows);
  for (let i = 0; i < view.rows; i++) {
    if (mask[i] === 0) skipBigUvarint(r);
    else out[i] = unzigzagBig(readBigUvarint(r));
  }
  done(r, 'duration');
  return out;
}

/** decodeSpanBlock decodes every row of a sealed span block, in stored order (ERR_CORRUPTION on any bad byte). */
export function decodeSpanBlock(bytes: Uint8Array): SpanRow[] {
  const view = openSpanBlock(bytes);
  return decodeSpanRows(view, Uint32Array.from({ length: view.rows }, (_, i) => i));
}

/**
 * decodeSpanRows decodes only the given rows (ascending or not, each < rows)
 * of an opened span block, in the order given. The fixed-width and string
 * columns are still decoded whole in format 1, in the pages that hold asked
 * rows in format 2 (cheap: a few bytes per row); the msgpack record of
 * `rest`, the bulk of the decode cost, is unpacked for the asked rows only.
 */
export function decodeSpanRows(view: SpanBlockView, rows: ArrayLike<number>): SpanRow[] {
  for (let j = 0; j < rows.length; j++) assert((rows[j] as number) < view.rows, 'decodeSpanRows rows are inside the block');
  const { dict, ids } = readTraceIds(view);
  const rest = readRest(view.columns[SpanColumn.rest] as Uint8Array, view.rows);
  const traceIdOf = (i: number): Uint8Array => (dict[ids[i] as number] as Uint8Array).slice();
  if (!view.paged) return decodeRowsOf(view, rows, traceIdOf, rest, 0);
  // Format 2: decode page by page, only the pages that hold asked rows.
  const byPage = new Map<number, number[]>();
  const first = view.pages[0]?.rows ?? 1;
  for (let j = 0; j < rows.length; j++) {
    const p = Math.floor((rows[j] as number) / first);
    let list = byPage.get(p);
    if (list === undefined) byPage.set(p, (list = []));
    list.push(j);
  }
  const out: SpanRow[] = new Array(rows.length);
  for (const [p, js] of byPage) {
    const page = view.pages[p] as SpanPage;
    const local = js.map((j) => (rows[j] as number) - page.firstRow);
    const part = decodeRowsOf(pageView(view, page), local, (i) => traceIdOf(page.firstRow + i), rest, page.firstRow);
    js.forEach((j, k) => (out[j] = part[k] as SpanRow));
  }
  return out;
}

/**
 * decodeSpanRowsByPage is decodeSpanRows in parts: rows (ascending) of a
 * paged view decoded one page at a time, each page's rows yielded as they
 * are decoded (the trace ids and rest records read once, as decodeSpanRows
 * does), so a caller can stop or leave the event loop between pages
 * instead of after a whole block. The parts, concatenated, are exactly
 * decodeSpanRows(view, rows). Rows not ascending, or a format-1 view: one
 * part, decodeSpanRows's.
 */
export function* decodeSpanRowsByPage(view: SpanBlockView, rows: ArrayLike<number>): Generator<SpanRow[]> {
  let ascending = true;
  for (let j = 1; j < rows.length && ascending; j++) ascending = (rows[j - 1] as number) < (rows[j] as number);
  if (!view.paged || !ascending || rows.length === 0) {
    if (rows.length > 0) yield decodeSpanRows(view, rows);
    return;
  }
  for (let j = 0; j < rows.length; j++) assert((rows[j] as number) < view.rows, 'decodeSpanRowsByPage rows are inside the block');
  const { dict, ids } = readTraceIds(view);
  const rest = readRest(view.columns[SpanColumn.rest] as Uint8Array, view.rows);
  const traceIdOf = (i: number): Uint8Array => (dict[ids[i] as number] as Uint8Array).slice();
  const first = view.pages[0]?.rows ?? 1;
  let from = 0;
  while (from < rows.length) {
    const p = Math.floor((rows[from] as number) / first);
    const page = view.pages[p] as SpanPage;
    let to = from + 1;
    while (to < rows.length && Math.floor((rows[to] as number) / first) === p) to++;
    const local: number[] = [];
    for (let j = from; j < to; j++) local.push((rows[j] as number) - page.firstRow);
    yield decodeRowsOf(pageView(view, page), local, (i) => traceIdOf(page.firstRow + i), rest, page.firstRow);
    from = to;
  }
}

/**
 * decodeRowsOf decodes rows of a format-1 view (a whole block, or one page
 * of a format-2 block): `traceIdOf(i)` gives row i's trace id and
 * `rest.records[restBase + i]` its record.
 */
function decodeRowsOf(view: SpanBlockView, rows: ArrayLike<number>, traceIdOf: (i: number) => Uint8Array, rest: SpanRest, restBase: number): SpanRow[] {
  assert(!view.paged, 'decodeRowsOf reads a format-1 view or one page');
  for (let j = 0; j < rows.length; j++) assert((rows[j] as number) < view.rows, 'decodeRowsOf rows are inside the view');
  const spanIds = readSpanIdsOf(view, rows);
  const parents = readParentIdsOf(view, rows);
  const traceStates = readStrings(view, SpanColumn.traceState, 'traceState');
  const flags = readFlags(view);
  const names = readStrings(view, SpanColumn.name, 'name');
  const kinds = readRuns(view, SpanColumn.kind, SPAN_KIND_MAX, 'kind');
  const mask = new Uint8Array(view.rows);
  for (let j = 0; j < rows.length; j++) mask[rows[j] as number] = 1;
  const starts = readStartTimesOf(view, mask);
  const durations = readDurationsOf(view, mask);
  const codes = readRuns(view, SpanColumn.statusCode, STATUS_CODE_MAX, 'statusCode');
  const messages = readStrings(view, SpanColumn.statusMessage, 'statusMessage');
  const services = readStrings(view, SpanColumn.service, 'service');
  const out: SpanRow[] = new Array(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const i = rows[j] as number;
    const rec = readRestRecord(rest, restBase + i);
    const start = starts[i] as bigint;
    const end = start + (durations[i] as bigint);
    if (end < 0n || end > U64_MAX) throw corrupt(`span ${i} end time is outside u64`);
    if (serviceOf(rec.resource) !== services[i]) throw corrupt(`span ${i} service column disagrees with its resource`);
    out[j] = {
      tenant: view.tenant,
      traceId: traceIdOf(i),
      spanId: spanIds[j] as Uint8Array,
      parentSpanId: parents[j] as Uint8Array,
      traceState: traceStates[i] as string,
      flags: flags[i] as number,
      name: names[i] as string,
      kind: kinds[i] as SpanKind,
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      status: { code: codes[i] as StatusCode, message: messages[i] as string },
      attributes: rec.attributes,
      droppedAttributesCount: rec.droppedAttributesCount,
      events: rec.events,
      droppedEventsCount: rec.droppedEventsCount,
      links: rec.links,
      droppedLinksCount: rec.droppedLinksCount,
      resource: rec.resource,
      scope: rec.scope,
    };
  }
  return out;
}

/** BlockColumnName names a column readBlockColumns can return. */
export type BlockColumnName = 'traceId' | 'spanId' | 'name' | 'service' | 'startTime' | 'duration' | 'status' | 'kind';

/** BlockColumns holds the columns asked of readBlockColumns (the others are absent); every array has `rows` entries. */
export interface BlockColumns {
  readonly rows: number;
  traceId?: Uint8Array[];
  spanId?: Uint8Array[];
  name?: string[];
  service?: string[];
  startTime?: bigint[];
  /** duration is end − start in nanoseconds. */
  duration?: bigint[];
  /** status is each row's status code. */
  status?: Uint8Array;
  kind?: Uint8Array;
}

/** readBlockColumns decodes only the named columns of a sealed span block (the checksum still covers the whole block). */
export function readBlockColumns(bytes: Uint8Array | SpanBlockView, names: readonly BlockColumnName[]): BlockColumns {
  const view = bytes instanceof Uint8Array ? openSpanBlock(bytes) : bytes;
  const out: BlockColumns = { rows: view.rows };
  for (const name of new Set(names)) {
    switch (name) {
      case 'traceId': {
        const { dict, ids } = readTraceIds(view);
        out.traceId = Array.from(ids, (id) => dict[id] as Uint8Array);
        break;
      }
      case 'spanId':
        out.spanId = readSpanIds(view);
        break;
      case 'name':
        out.name = readStrings(view, SpanColumn.name, 'name');
        break;
      case 'service':
        out.service = readStrings(view, SpanColumn.service, 'service');
        break;
      case 'startTime':
        out.startTime = readStartTimes(view);
        break;
      case 'duration':
        out.duration = readDurations(view);
        break;
      case 'status':
        out.status = readRuns(view, SpanColumn.statusCode, STATUS_CODE_MAX, 'statusCode');
        break;
      case 'kind':
        out.kind = readRuns(view, SpanColumn.kind, SPAN_KIND_MAX, 'kind');
        break;
    }
  }
  return out;
}
