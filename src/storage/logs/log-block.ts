/**
 * log-block.ts — an immutable columnar log block: the log rows of one tenant
 * and time bucket, sealed in the block envelope (block.ts, BlockKind.logs).
 * Rows keep the order they were given; a row's ordinal (0, 1, ...) is its id
 * in the term index (term-index.ts). Pure code, no I/O.
 *
 * Payload, version 1 (varints are LEB128, varint.ts; "bigvarint" is LEB128
 * of a bigint, at most 10 bytes, canonical; "str" is uvarint byteLength then
 * UTF-8):
 *
 *   u8        LOG_BLOCK_VERSION (2; version 1 had no line packing byte)
 *   str       tenant
 *   uvarint   rows (1 .. LogBlockLimits.rowsPerBlockMax)
 *   u64 BE    minTimeNs  ┐ the block's time range (inclusive), so a reader
 *   u64 BE    maxTimeNs  ┘ prunes by time from the header alone
 *   then eight sections in this order, each [uvarint byteLength][bytes], so a
 *   reader skips the ones it does not need:
 *   0 time       rows × bigvarint zigzag(t[i] - t[i-1]), t[-1] = minTimeNs
 *                (bigint arithmetic: u64 times do not fit doubles; rows in
 *                time order cost ~3 bytes each at millisecond spacing)
 *   1 observed   rows × bigvarint zigzag(observedTimeUnixNano[i] - t[i])
 *   2 severity   u8 0 then uvarint runs, runs × [u8 severityNumber][uvarint runLength >= 1],
 *                or u8 1 then rows × u8 severityNumber (whichever is smaller)
 *   3 sevText    string column (codec/strings.ts: dict or RLE in practice)
 *   4 line       u8 packing (0 plain, 1 raw DEFLATE), uvarint plainBytes, then the
 *                string column of logLine(row) (log-line.ts), deflated when
 *                that is smaller (log lines repeat words, so it usually is)
 *   5 stream     uvarint streams, streams × [uvarint labels, labels × [str name][str value]]
 *                (each stream's labels sorted by name, streams distinct),
 *                then rows × uvarint streamId
 *   6 ids        rows × [u8 mask: bit 0 trace id, bit 1 span id][16 B trace id][8 B span id]
 *                (an id absent from the mask is empty and takes no bytes)
 *   7 rest       msgpack [resources, scopes, rows × [resourceIndex, scopeIndex,
 *                flags, eventName, droppedAttributesCount, Attributes, body]]
 *                in the wire shapes of row-wire.ts; body is 0
 *                when the body is a string (the line column holds it) and
 *                [AnyValue] otherwise. Resources and scopes are deduplicated
 *                by value.
 *
 * NB: the rest section is msgpack (msgpackr, shard-entry's options) in this
 * first version: attributes are not columnar yet, and a query that needs one
 * attribute decodes the whole section.
 *
 * Decoding checks every count, range and id against the header and the
 * limits, and that every section is consumed exactly; any defect is
 * ERR_CORRUPTION, and the envelope's CRC-32C catches flipped bits first.
 */
import { STORAGE_PACKR } from '../storage-packr.js';
import { OtlpdbError, assert } from '../../errors.js';
import { LogBlockLimits, StorageLimits } from '../../limits.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ByteReader, ByteWriter, decodeStringColumn, encodeStringColumn } from '../codec/index.js';
import type { AnyValue, LogRow, Resource, Scope } from '../rows.js';
import { SEVERITY_NUMBER_MAX, SPAN_ID_BYTES, TRACE_ID_BYTES } from '../rows.js';
import { anyValueToWire, attributesToWire, readAnyValue, readAttributes, readResource, readScope, resourceToWire, scopeToWire } from '../row-wire.js';
import { WireReader } from '../wire-reader.js';
import type { StreamLabel } from './log-line.js';
import { logLine, streamLabels } from './log-line.js';

/** LOG_BLOCK_VERSION is byte 0 of a log block payload. */
export const LOG_BLOCK_VERSION = 2;

const SECTIONS = 8;
const SEC_TIME = 0;
const SEC_OBSERVED = 1;
const SEC_SEVERITY = 2;
const SEC_SEV_TEXT = 3;
const SEC_LINE = 4;
const SEC_STREAM = 5;
const SEC_IDS = 6;
const SEC_REST = 7;
const SEV_RUNS = 0;
const SEV_BYTES = 1;
const U64_MAX = (1n << 64n) - 1n;
const MASK_TRACE = 1;
const MASK_SPAN = 2;


/** LogBlockHeader is what a block says about itself before its sections. */
export interface LogBlockHeader {
  readonly tenant: string;
  readonly rows: number;
  readonly minTimeNs: bigint;
  readonly maxTimeNs: bigint;
}

/** LogLines is readLines' output: per row its time, line and stream id, and the block's streams. */
export interface LogLines extends LogBlockHeader {
  readonly timesNs: bigint[];
  readonly lines: string[];
  readonly streamIds: Uint32Array;
  readonly streams: readonly (readonly StreamLabel[])[];
}

function corrupt(message: string, details?: Record<string, unknown>): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `log block: ${message}`, details);
}

// ---------------------------------------------------------------- bigint varints

function writeBigUvarint(w: ByteWriter, v: bigint): void {
  assert(v >= 0n && v < 1n << 70n, 'bigvarint in range');
  while (v >= 0x80n) {
    w.u8(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  w.u8(Number(v));
}

function readBigUvarint(r: ByteReader): bigint {
  let v = 0n;
  for (let i = 0; i < 10; i++) {
    const b = r.u8();
    v |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) {
      if (b === 0 && i > 0) throw corrupt('non-canonical time varint', { pos: r.pos });
      return v;
    }
  }
  throw corrupt('time varint too long', { pos: r.pos });
}

function zigzag(d: bigint): bigint {
  return d >= 0n ? d << 1n : ((-d) << 1n) - 1n;
}

function unzigzag(z: bigint): bigint {
  return (z & 1n) === 0n ? z >> 1n : -((z + 1n) >> 1n);
}

// ---------------------------------------------------------------- encoding

function section(out: ByteWriter, body: Uint8Array): void {
  out.uvarint(body.length);
  out.raw(body);
}

/** STREAM_KEYS memoizes streamKey for frozen label lists only (streamLabels shares one frozen list per resource and level; a mutable list may change). */
const STREAM_KEYS = new WeakMap<readonly StreamLabel[], string>();

/** streamKey is a value key for a label set (labels sorted by name). */
export function streamKey(labels: readonly StreamLabel[]): string {
  const known = Object.isFrozen(labels) ? STREAM_KEYS.get(labels) : undefined;
  if (known !== undefined) return known;
  const key = JSON.stringify(labels.map((l) => [l.name, l.value]));
  if (Object.isFrozen(labels)) STREAM_KEYS.set(labels, key);
  return key;
}

/**
 * encodeLogBlock encodes and seals a block of one tenant's log rows (layout
 * above). Throws ERR_INVALID_ARGUMENT for no rows, mixed tenants or a string
 * with a lone surrogate, ERR_LIMIT_EXCEEDED past LogBlockLimits.
 */
export function encodeLogBlock(rows: readonly LogRow[]): Uint8Array {
  const n = rows.length;
  if (n === 0) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'a log block holds at least one row');
  if (n > LogBlockLimits.rowsPerBlockMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `${n} log rows exceed LogBlockLimits.rowsPerBlockMax (${LogBlockLimits.rowsPerBlockMax})`);
  }
  const tenant = (rows[0] as LogRow).tenant;
  let minTimeNs = U64_MAX;
  let maxTimeNs = 0n;
  for (let i = 0; i < n; i++) {
    const row = rows[i] as LogRow;
    if (row.tenant !== tenant) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `log row ${i} is of tenant ${row.tenant}, not ${tenant}`, { index: i });
    assert(row.timeUnixNano >= 0n && row.timeUnixNano <= U64_MAX, 'log time is u64');
    assert(Number.isInteger(row.severityNumber) && row.severityNumber >= 0 && row.severityNumber <= SEVERITY_NUMBER_MAX, 'severity in range');
    if (row.timeUnixNano < minTimeNs) minTimeNs = row.timeUnixNano;
    if (row.timeUnixNano > maxTimeNs) maxTimeNs = row.timeUnixNano;
  }
  const w = new ByteWriter();
  const out = new ByteWriter();
  out.u8(LOG_BLOCK_VERSION);
  out.str(tenant);
  out.uvarint(n);
  const head = new Uint8Array(16);
  const view = new DataView(head.buffer);
  view.setBigUint64(0, minTimeNs);
  view.setBigUint64(8, maxTimeNs);
  out.raw(head);

  // 0 time
  w.reset();
  let prev = minTimeNs;
  for (const row of rows) {
    writeBigUvarint(w, zigzag(row.timeUnixNano - prev));
    prev = row.timeUnixNano;
  }
  section(out, w.finish());

  // 1 observed time, against the time
  w.reset();
  for (const row of rows) {
    assert(row.observedTimeUnixNano >= 0n && row.observedTimeUnixNano <= U64_MAX, 'observed time is u64');
    writeBigUvarint(w, zigzag(row.observedTimeUnixNano - row.timeUnixNano));
  }
  section(out, w.finish());

  // 2 severity: runs or one byte per row
  w.reset();
  const runs: number[] = [];
  for (let i = 0; i < n; ) {
    const sev = (rows[i] as LogRow).severityNumber;
    let j = i + 1;
    while (j < n && (rows[j] as LogRow).severityNumber === sev) j++;
    runs.push(sev, j - i);
    i = j;
  }
  w.u8(SEV_RUNS);
  w.uvarint(runs.length / 2);
  for (let k = 0; k < runs.length; k += 2) {
    w.u8(runs[k] as number);
    w.uvarint(runs[k + 1] as number);
  }
  if (w.length > 1 + n) {
    w.reset();
    w.u8(SEV_BYTES);
    for (const row of rows) w.u8(row.severityNumber);
  }
  section(out, w.finish());

  // 3 severity text, 4 line
  section(out, encodeStringColumn(rows.map((r) => r.severityText)));
  section(out, packLines(encodeStringColumn(rows.map(logLine))));

  // 5 streams
  w.reset();
  const streamIdOf = new Map<string, number>();
  const streams: StreamLabel[][] = [];
  const streamIds = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const labels = streamLabels(rows[i] as LogRow);
    const key = streamKey(labels);
    let id = streamIdOf.get(key);
    if (id === undefined) {
      id = streams.length;
      if (id >= LogBlockLimits.streamsPerBlockMax) {
        throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a log block of more than ${LogBlockLimits.streamsPerBlockMax} streams`);
      }
      assert(labels.length <= LogBlockLimits.labelsPerStreamMax, 'stream labels within labelsPerStreamMax');
      streamIdOf.set(key, id);
      streams.push(labels);
    }
    streamIds[i] = id;
  }
  w.uvarint(streams.length);
  for (const labels of streams) {
    w.uvarint(labels.length);
    for (const l of labels) {
      w.str(l.name);
      w.str(l.value);
    }
  }
  for (let i = 0; i < n; i++) w.uvarint(streamIds[i] as number);
  section(out, w.finish());

  // 6 ids
  w.reset();
  for (const row of rows) {
    assert(row.traceId.length === 0 || row.traceId.length === TRACE_ID_BYTES, 'trace id is 0 or 16 bytes');
    assert(row.spanId.length === 0 || row.spanId.length === SPAN_ID_BYTES, 'span id is 0 or 8 bytes');
    w.u8((row.traceId.length > 0 ? MASK_TRACE : 0) | (row.spanId.length > 0 ? MASK_SPAN : 0));
    w.raw(row.traceId);
    w.raw(row.spanId);
  }
  section(out, w.finish());

  // 7 rest
  const resources = new Dedup<Resource>(resourceToWire);
  const scopes = new Dedup<Scope>(scopeToWire);
  const rest = rows.map((r) => [
    resources.index(r.resource),
    scopes.index(r.scope),
    r.flags,
    r.eventName,
    r.droppedAttributesCount,
    attributesToWire(r.attributes),
    r.body.type === 'string' ? 0 : [anyValueToWire(r.body)],
  ]);
  section(out, STORAGE_PACKR.pack([resources.wires, scopes.wires, rest]));
  const sealed = sealBlock(BlockKind.logs, out.finish());
  assert(sealed.length > out.length, 'sealed block holds the payload');
  return sealed;
}

/** Dedup assigns table indexes to values, equal by identity first and by wire bytes second. */
class Dedup<T extends object> {
  readonly wires: unknown[] = [];
  readonly #byRef = new Map<T, number>();
  readonly #byBytes = new Map<string, number>();
  readonly #toWire: (v: T) => unknown;

  constructor(toWire: (v: T) => unknown) {
    this.#toWire = toWire;
  }

  index(v: T): number {
    let i = this.#byRef.get(v);
    if (i !== undefined) return i;
    const wire = this.#toWire(v);
    const key = (STORAGE_PACKR.pack(wire) as Buffer).toString('latin1');
    i = this.#byBytes.get(key);
    if (i === undefined) {
      i = this.wires.length;
      this.wires.push(wire);
      this.#byBytes.set(key, i);
    }
    this.#byRef.set(v, i);
    return i;
  }
}

// ---------------------------------------------------------------- decoding

/** OpenedLogBlock is a checked block (envelope, header, section bounds) whose sections are decoded on demand. */
export interface OpenedLogBlock extends LogBlockHeader {
  readonly payload: Uint8Array;
  readonly bounds: readonly (readonly [number, number])[];
}

/** STR_BYTES_MAX bounds a length-prefixed string of a log block (a stored string, or a rendered line). */
const STR_BYTES_MAX = Math.max(StorageLimits.stringBytesMax, LogBlockLimits.renderedCharsMax * 3);

function readStr(r: ByteReader): string {
  return r.str(STR_BYTES_MAX, 'string');
}

/** openLogBlock checks a sealed block's envelope and header once, for several section reads. Throws ERR_CORRUPTION. */
export function openLogBlock(bytes: Uint8Array): OpenedLogBlock {
  const payload = openBlock(bytes, BlockKind.logs);
  const r = new ByteReader(payload);
  const version = r.u8();
  if (version !== LOG_BLOCK_VERSION) throw corrupt(`version ${version} is not ${LOG_BLOCK_VERSION}`);
  const tenant = readStr(r);
  const rows = r.uvarint();
  if (rows < 1 || rows > LogBlockLimits.rowsPerBlockMax) throw corrupt(`${rows} rows`);
  const head = r.take(16);
  const view = new DataView(head.buffer, head.byteOffset, 16);
  const minTimeNs = view.getBigUint64(0);
  const maxTimeNs = view.getBigUint64(8);
  if (minTimeNs > maxTimeNs) throw corrupt('minTimeNs > maxTimeNs');
  const bounds: [number, number][] = [];
  for (let s = 0; s < SECTIONS; s++) {
    const len = r.uvarint();
    const start = r.pos;
    r.take(len);
    bounds.push([start, r.pos]);
  }
  if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes`);
  return { tenant, rows, minTimeNs, maxTimeNs, payload, bounds };
}

function sectionReader(o: OpenedLogBlock, s: number): ByteReader {
  const b = o.bounds[s] as readonly [number, number];
  return new ByteReader(o.payload, b[0], b[1]);
}

function sectionBytes(o: OpenedLogBlock, s: number): Uint8Array {
  const b = o.bounds[s] as readonly [number, number];
  return o.payload.subarray(b[0], b[1]);
}

function done(r: ByteReader, what: string): void {
  if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes in the ${what} section`);
}

function decodeTimes(o: OpenedLogBlock): bigint[] {
  const r = sectionReader(o, SEC_TIME);
  const out: bigint[] = new Array(o.rows);
  let prev = o.minTimeNs;
  for (let i = 0; i < o.rows; i++) {
    prev += unzigzag(readBigUvarint(r));
    if (prev < o.minTimeNs || prev > o.maxTimeNs) throw corrupt(`row ${i} time outside the block's range`, { index: i });
    out[i] = prev;
  }
  done(r, 'time');
  return out;
}

/** LinePacking says how section 4 stores the line column. */
const LinePacking = { plain: 0, deflate: 1 } as const;

/**
 * packLines stores the line column deflated (raw DEFLATE, node:zlib) when
 * that is smaller. A text codec is not the heart of the product: zlib is
 * the well-kept one Node ships.
 */
function packLines(column: Uint8Array): Uint8Array {
  const deflated = deflateRawSync(column, { level: LogBlockLimits.lineDeflateLevel });
  const usePlain = deflated.length >= column.length;
  const body = usePlain ? column : deflated;
  const w = new ByteWriter(body.length + 16);
  w.u8(usePlain ? LinePacking.plain : LinePacking.deflate);
  w.uvarint(column.length);
  w.raw(body);
  return w.finish();
}

/** unpackLines undoes packLines; a bad packing byte, size or stream is ERR_CORRUPTION. */
function unpackLines(section: Uint8Array): Uint8Array {
  const r = new ByteReader(section, 0, section.length);
  const packing = r.u8();
  const plainBytes = r.uvarint();
  if (plainBytes > LogBlockLimits.lineColumnBytesMax) throw corrupt(`line column of ${plainBytes} bytes exceeds lineColumnBytesMax`);
  const body = r.take(r.remaining);
  if (packing === LinePacking.plain) {
    if (body.length !== plainBytes) throw corrupt(`plain line column of ${body.length} bytes, not ${plainBytes}`);
    return body;
  }
  if (packing !== LinePacking.deflate) throw corrupt(`unknown line packing ${packing}`);
  let plain: Buffer;
  try {
    plain = inflateRawSync(body, { maxOutputLength: Math.max(1, plainBytes) });
  } catch (err) {
    throw corrupt(`line column does not inflate: ${String(err)}`);
  }
  if (plain.length !== plainBytes) throw corrupt(`line column inflates to ${plain.length} bytes, not ${plainBytes}`);
  return plain;
}

function decodeStrings(o: OpenedLogBlock, s: number, what: string): string[] {
  const bytes = s === SEC_LINE ? unpackLines(sectionBytes(o, s)) : sectionBytes(o, s);
  const col = decodeStringColumn(bytes);
  if (col.length !== o.rows) throw corrupt(`${what} column of ${col.length} rows, not ${o.rows}`);
  return col;
}

function decodeStreams(o: OpenedLogBlock): { streams: StreamLabel[][]; streamIds: Uint32Array } {
  const r = sectionReader(o, SEC_STREAM);
  const count = r.uvarint();
  if (count < 1 || count > Math.min(o.rows, LogBlockLimits.streamsPerBlockMax)) throw corrupt(`${count} streams`);
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
  const streamIds = new Uint32Array(o.rows);
  for (let i = 0; i < o.rows; i++) {
    const id = r.uvarint();
    if (id >= count) throw corrupt(`row ${i} names stream ${id} of ${count}`, { index: i });
    streamIds[i] = id;
  }
  done(r, 'stream');
  return { streams, streamIds };
}

function decodeSeverity(o: OpenedLogBlock): Uint8Array {
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
  return decodeTimes(block instanceof Uint8Array ? openLogBlock(block) : block);
}

/**
 * readLines decodes only what showing lines needs: time, line and stream of
 * each row (sections 0, 3, 4). Throws ERR_CORRUPTION.
 */
export function readLines(bytes: Uint8Array): LogLines {
  const o = openLogBlock(bytes);
  const timesNs = decodeTimes(o);
  const lines = decodeStrings(o, SEC_LINE, 'line');
  const { streams, streamIds } = decodeStreams(o);
  return { tenant: o.tenant, rows: o.rows, minTimeNs: o.minTimeNs, maxTimeNs: o.maxTimeNs, timesNs, lines, streamIds, streams };
}

/**
 * readLineColumn decodes only the line column of an opened block (section
 * 4: what a line check needs before any row is built). Throws ERR_CORRUPTION.
 */
export function readLineColumn(o: OpenedLogBlock): string[] {
  return decodeStrings(o, SEC_LINE, 'line');
}

/** decodeLogBlock decodes every row of a sealed block, exactly as encoded. Throws ERR_CORRUPTION. */
export function decodeLogBlock(bytes: Uint8Array): LogRow[] {
  return decodeRows(openLogBlock(bytes), null, null);
}

/**
 * decodeLogRowsAt decodes only the rows at `ordinals` (strictly increasing,
 * each < rows) of an opened block, in that order, exactly as decodeLogBlock
 * would give them: the columns are read whole (they are sequential), but a
 * row's attributes, body and ids are built only when it is picked, which is
 * most of a row's cost. `lines`, when the caller already read the line
 * column (readLineColumn), is reused. Throws ERR_CORRUPTION.
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
  const c = decodeLogColumns(o, givenLines);
  if (pick === null) decodeStreams(o); // derived from the rows; checked, not needed to rebuild them
  return buildRows(c, pick);
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
  readonly lines: readonly string[];
  readonly traceIds: readonly Uint8Array[];
  readonly spanIds: readonly Uint8Array[];
  readonly resources: readonly Resource[];
  readonly scopes: readonly Scope[];
  /** rest is each row's unpacked rest tuple (checked when its row is built). */
  readonly rest: readonly unknown[];
}

/** decodeLogColumns decodes every column of an opened block (`lines` reused when given). Throws ERR_CORRUPTION. */
export function decodeLogColumns(o: OpenedLogBlock, givenLines: readonly string[] | null): LogColumns {
  const n = o.rows;
  const times = decodeTimes(o);

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
  const lines = givenLines ?? decodeStrings(o, SEC_LINE, 'line');
  assert(lines.length === n, 'one line a row');

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
    const resources = wr.array(t[0], 'log block resources', n).map((v) => readResource(wr, v));
    const scopes = wr.array(t[1], 'log block scopes', n).map((v) => readScope(wr, v));
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
        body = { type: 'string', value: lines[i] as string };
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
