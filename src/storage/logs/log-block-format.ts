/**
 * log-block-format.ts — the byte layout of a log block (an immutable columnar
 * block of the log rows of one tenant and time bucket, sealed in the block
 * envelope: block.ts, BlockKind.logs) and what both of its sides share: the
 * constants, the bigint varints, the line column's packing. Encoding is
 * log-block.ts, decoding log-block-decode.ts.
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
 * Payload, version 3 (the current one: every column but the times cut into
 * pages of rows, so a read decodes only the pages holding the rows it
 * returns; bench/README.md "## query-logs"):
 *
 *   u8        LOG_BLOCK_VERSION (3)
 *   str       tenant
 *   uvarint   rows
 *   u64 BE    minTimeNs, u64 BE maxTimeNs (as version 2)
 *   uvarint   byteLength, then the time section: u8 layout, then
 *             TIME_BIG:     rows × bigvarint zigzag deltas (version 2's section 0)
 *             TIME_OFFSETS: rows × svarint(t[i] - t[i-1]), t[-1] = minTimeNs, as
 *                           numbers (only when maxTimeNs - minTimeNs < 2^52:
 *                           every delta and offset is then an exact double)
 *   uvarint   byteLength, then the tables: msgpack [resources, scopes], the
 *             block's resources and scopes deduplicated by value (as a version
 *             2 rest section's), which every page's rest section indexes
 *   uvarint   byteLength, then the streams: uvarint streams, streams × [uvarint
 *             labels, labels × [str name][str value]] (version 2's section 5
 *             without its row ids), which every page's stream ids index
 *   uvarint   pageRows (1 .. LogBlockLimits.pageRowsMax); pages = ceil(rows / pageRows),
 *             page p holds rows [p × pageRows, min(rows, (p + 1) × pageRows))
 *   pages × uvarint pageBytes (the page table: where each page starts)
 *   pages × page: sections 1-7 of version 2 in that order, each [uvarint
 *             byteLength][bytes], over the page's rows only (ordinals local to
 *             the page); a page's stream section is its rows' uvarint
 *             stream ids alone and its rest section msgpack [[], [], rows]:
 *             both index the block's tables
 *
 * Version 2 blocks are read as one page of every row.
 *
 * NB: the rest section is msgpack (msgpackr, shard-entry's options) in this
 * first version: attributes are not columnar yet, and a query that needs one
 * attribute decodes the whole section.
 *
 * Decoding checks every count, range and id against the header and the
 * limits, and that every section is consumed exactly; any defect is
 * ERR_CORRUPTION, and the envelope's CRC-32C catches flipped bits first.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { OtlpdbError, assert } from '../../errors.js';
import { LogBlockLimits } from '../../limits.js';
import type { ByteReader } from '../codec/index.js';
import { ByteReader as Reader, ByteWriter } from '../codec/index.js';


/** LOG_BLOCK_VERSION is byte 0 of a log block payload as written now (paged); LOG_BLOCK_VERSION_UNPAGED is the version still read. */
export const LOG_BLOCK_VERSION = 3;
export const LOG_BLOCK_VERSION_UNPAGED = 2;

/** TIME_BIG and TIME_OFFSETS are the layouts of a version 3 block's time section. */
export const TIME_BIG = 0;
export const TIME_OFFSETS = 1;
/** TIME_OFFSETS_SPAN_NS_MAX bounds maxTimeNs - minTimeNs (exclusive) of a block whose times are stored and kept as number offsets. */
export const TIME_OFFSETS_SPAN_NS_MAX = 1n << 52n;

/** SECTIONS and SEC_* number the payload sections (layout above); SEV_* are the severity layouts, MASK_* the id mask bits. */
export const SECTIONS = 8;
export const SEC_TIME = 0;
export const SEC_OBSERVED = 1;
export const SEC_SEVERITY = 2;
export const SEC_SEV_TEXT = 3;
export const SEC_LINE = 4;
export const SEC_STREAM = 5;
export const SEC_IDS = 6;
export const SEC_REST = 7;
export const SEV_RUNS = 0;
export const SEV_BYTES = 1;
export const U64_MAX = (1n << 64n) - 1n;
export const MASK_TRACE = 1;
export const MASK_SPAN = 2;

/** LogBlockHeader is what a block says about itself before its sections. */
export interface LogBlockHeader {
  readonly tenant: string;
  readonly rows: number;
  readonly minTimeNs: bigint;
  readonly maxTimeNs: bigint;
}

/** blockCorrupt is the ERR_CORRUPTION of a damaged log block. */
export function blockCorrupt(message: string, details?: Record<string, unknown>): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `log block: ${message}`, details);
}

// ---------------------------------------------------------------- bigint varints

/** writeBigUvarint appends a bigint (< 2^70) as LEB128. */
export function writeBigUvarint(w: ByteWriter, v: bigint): void {
  assert(v >= 0n && v < 1n << 70n, 'bigvarint in range');
  while (v >= 0x80n) {
    w.u8(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  w.u8(Number(v));
}

/** readBigUvarint reads a canonical LEB128 bigint of at most 10 bytes (ERR_CORRUPTION otherwise). */
export function readBigUvarint(r: ByteReader): bigint {
  let v = 0n;
  for (let i = 0; i < 10; i++) {
    const b = r.u8();
    v |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) {
      if (b === 0 && i > 0) throw blockCorrupt('non-canonical time varint', { pos: r.pos });
      return v;
    }
  }
  throw blockCorrupt('time varint too long', { pos: r.pos });
}

/** skipBigUvarint passes over a bigvarint as readBigUvarint reads it (canonical, at most 10 bytes; ERR_CORRUPTION otherwise) without making its value. */
export function skipBigUvarint(r: ByteReader): void {
  for (let i = 0; i < 10; i++) {
    const b = r.u8();
    if (b < 0x80) {
      if (b === 0 && i > 0) throw blockCorrupt('non-canonical time varint', { pos: r.pos });
      return;
    }
  }
  throw blockCorrupt('time varint too long', { pos: r.pos });
}

/** zigzag maps a signed bigint to an unsigned one (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...). */
export function zigzag(d: bigint): bigint {
  return d >= 0n ? d << 1n : ((-d) << 1n) - 1n;
}

/** unzigzag undoes zigzag. */
export function unzigzag(z: bigint): bigint {
  return (z & 1n) === 0n ? z >> 1n : -((z + 1n) >> 1n);
}

// ---------------------------------------------------------------- line packing

/** LinePacking says how section 4 stores the line column. */
export const LinePacking = { plain: 0, deflate: 1 } as const;

/**
 * packLines stores the line column deflated (raw DEFLATE, node:zlib) when
 * that is smaller. A text codec is not the heart of the product: zlib is
 * the well-kept one Node ships.
 */
export function packLines(column: Uint8Array): Uint8Array {
  const deflated = deflateRawSync(column, { level: LogBlockLimits.lineDeflateLevel });
  const usePlain = deflated.length >= column.length;
  const body = usePlain ? column : deflated;
  const w = new ByteWriter(body.length + 16);
  w.u8(usePlain ? LinePacking.plain : LinePacking.deflate);
  w.uvarint(column.length);
  w.raw(body);
  return w.finish();
}

/** LINE_INFLATE_CHUNK_MIN is zlib's smallest output chunk (zlib.constants.Z_MIN_CHUNK). */
const LINE_INFLATE_CHUNK_MIN = 64;

/** unpackLines undoes packLines; a bad packing byte, size or stream is ERR_CORRUPTION. */
export function unpackLines(section: Uint8Array): Uint8Array {
  const r = new Reader(section, 0, section.length);
  const packing = r.u8();
  const plainBytes = r.uvarint();
  if (plainBytes > LogBlockLimits.lineColumnBytesMax) throw blockCorrupt(`line column of ${plainBytes} bytes exceeds lineColumnBytesMax`);
  const body = r.take(r.remaining);
  if (packing === LinePacking.plain) {
    if (body.length !== plainBytes) throw blockCorrupt(`plain line column of ${body.length} bytes, not ${plainBytes}`);
    return body;
  }
  if (packing !== LinePacking.deflate) throw blockCorrupt(`unknown line packing ${packing}`);
  let plain: Buffer;
  try {
    // One output chunk of the stored size: no second chunk and no concatenation (~15-20% of a page's inflate, s21).
    plain = inflateRawSync(body, { maxOutputLength: Math.max(1, plainBytes), chunkSize: Math.max(LINE_INFLATE_CHUNK_MIN, plainBytes) });
  } catch (err) {
    throw blockCorrupt(`line column does not inflate: ${String(err)}`);
  }
  if (plain.length !== plainBytes) throw blockCorrupt(`line column inflates to ${plain.length} bytes, not ${plainBytes}`);
  return plain;
}
