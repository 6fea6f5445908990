/**
 * span-block.ts — the immutable columnar span block of DESIGN.md §6: the
 * spans of one tenant and one time bucket, one column per hot query field so
 * that a query reads only the columns it filters on. Pure code, no I/O.
 *
 * Sealed with block.ts (BlockKind.spans). Payload, SPAN_BLOCK_FORMAT_VERSION 1:
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
import { SpanBlockLimits, StorageLimits as L } from '../../limits.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { corrupt } from '../codec/bits.js';
import { decodeStringColumn, encodeStringColumn } from '../codec/strings.js';
import { ByteReader, ByteWriter } from '../codec/varint.js';
import type { Resource, SpanKind, SpanRow, StatusCode } from '../rows.js';
import { SPAN_ID_BYTES, SPAN_KIND_MAX, STATUS_CODE_MAX, TRACE_ID_BYTES } from '../rows.js';
import { encodeRest, readRest, readRestRecord } from './span-rest.js';

/** SPAN_BLOCK_FORMAT_VERSION is byte 0 of a span block's payload. */
export const SPAN_BLOCK_FORMAT_VERSION = 1;

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

/** SPAN_COLUMN_COUNT is the number of columns format version 1 stores. */
export const SPAN_COLUMN_COUNT = 13;

/** SERVICE_NAME_KEY is the resource attribute the service column is drawn from. */
export const SERVICE_NAME_KEY = 'service.name';

const BIGVARINT_BYTES_MAX = 10;
const U64_MAX = (1n << 64n) - 1n;


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

/**
 * encodeSpanBlock encodes the spans of one tenant as a sealed span block, rows
 * in input order (row ordinal i is spans[i]). Throws ERR_INVALID_ARGUMENT for
 * spans of more than one tenant or ids of the wrong length, ERR_LIMIT_EXCEEDED
 * past SpanBlockLimits.
 */
export function encodeSpanBlock(spans: readonly SpanRow[]): Uint8Array {
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
  const cols: Uint8Array[] = new Array(SPAN_COLUMN_COUNT);
  const w = new ByteWriter();

  // traceId: dictionary, because the spans of one trace cluster in a block.
  const traceIds = new Map<string, number>();
  const dict: Uint8Array[] = [];
  const traceIdOf = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) {
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
    traceIdOf[i] = n;
  }
  w.reset();
  w.uvarint(dict.length);
  for (const id of dict) w.raw(id);
  for (let i = 0; i < rows; i++) w.uvarint(traceIdOf[i] as number);
  cols[SpanColumn.traceId] = w.finish();

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
  cols[SpanColumn.rest] = encodeRest(spans, w);

  w.reset();
  w.u8(SPAN_BLOCK_FORMAT_VERSION);
  w.uvarint(rows);
  w.str(tenant);
  w.uvarint(SPAN_COLUMN_COUNT);
  for (const c of cols) w.uvarint((c as Uint8Array).length);
  for (const c of cols) w.raw(c as Uint8Array);
  return sealBlock(BlockKind.spans, w.finish());
}

// ---------------------------------------------------------------- reading

/**
 * SpanBlockView is an opened span block: the checked directory and views of
 * each column's bytes, so that a reader decodes only the columns it asks for.
 */
export interface SpanBlockView {
  readonly rows: number;
  readonly tenant: string;
  /** columns[c] is the bytes of SpanColumn c (views into the block). */
  readonly columns: readonly Uint8Array[];
}

/** openSpanBlock checks the envelope (ERR_CORRUPTION on any mismatch) and the column directory. */
export function openSpanBlock(bytes: Uint8Array): SpanBlockView {
  const payload = openBlock(bytes, BlockKind.spans);
  const r = new ByteReader(payload);
  const version = r.u8();
  if (version !== SPAN_BLOCK_FORMAT_VERSION) throw corrupt(`span block format version ${version} is not ${SPAN_BLOCK_FORMAT_VERSION}`);
  const rows = r.uvarint();
  if (rows > SpanBlockLimits.rowsMax) throw corrupt(`span block of ${rows} rows is past rowsMax`);
  const tenant = r.str(L.stringBytesMax, 'span block tenant');
  const n = r.uvarint();
  if (n !== SPAN_COLUMN_COUNT) throw corrupt(`span block has ${n} columns, not ${SPAN_COLUMN_COUNT}`);
  const lengths: number[] = [];
  for (let i = 0; i < n; i++) lengths.push(r.uvarint());
  const columns: Uint8Array[] = lengths.map((len) => r.take(len));
  if (r.remaining !== 0) throw corrupt(`span block has ${r.remaining} bytes after its columns`);
  assert(columns.length === SPAN_COLUMN_COUNT, 'every column has bytes');
  return { rows, tenant, columns };
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

function readStrings(view: SpanBlockView, c: number, what: string): string[] {
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
  const r = col(view, c);
  const out = readByteRuns(r, view.rows, max, what);
  done(r, what);
  return out;
}

/** readStartTimes decodes the startTime column (u64 nanoseconds). */
export function readStartTimes(view: SpanBlockView): bigint[] {
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
 * columns are still decoded whole (cheap: a few bytes per row); the msgpack
 * record of `rest`, the bulk of the decode cost, is unpacked for the asked
 * rows only.
 */
export function decodeSpanRows(view: SpanBlockView, rows: ArrayLike<number>): SpanRow[] {
  for (let j = 0; j < rows.length; j++) assert((rows[j] as number) < view.rows, 'decodeSpanRows rows are inside the block');
  const { dict, ids } = readTraceIds(view);
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
  const rest = readRest(view.columns[SpanColumn.rest] as Uint8Array, view.rows);
  const out: SpanRow[] = new Array(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const i = rows[j] as number;
    const rec = readRestRecord(rest, i);
    const start = starts[i] as bigint;
    const end = start + (durations[i] as bigint);
    if (end < 0n || end > U64_MAX) throw corrupt(`span ${i} end time is outside u64`);
    if (serviceOf(rec.resource) !== services[i]) throw corrupt(`span ${i} service column disagrees with its resource`);
    out[j] = {
      tenant: view.tenant,
      traceId: (dict[ids[i] as number] as Uint8Array).slice(),
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
