/**
 * segment-file.ts — WAL segment files: their names, their header, and the
 * scan that reads one back, telling a torn tail (truncate it) from damage
 * before the tail (refuse to open).
 *
 * Segment file `NNNNNNNNNNNNNNNN.wal` (16-digit zero-padded decimal sequence
 * number, starting at 1), all integers little-endian:
 *
 *   0        4         8                  16
 *   +--------+---------+------------------+--------+--------+-- ...
 *   | magic  | version | sequence number  | record | record |
 *   |  u32   |   u32   |       u64        |        |        |
 *   +--------+---------+------------------+--------+--------+-- ...
 *
 * magic is the bytes "OWAL"; the sequence number repeats the file name so a
 * renamed or copied file is caught. Records follow back to back (layout in
 * record-format.ts); there is no padding and no block structure.
 *
 * Tail rule: a record that fails its checks (header cut short, length above
 * recordBytesMax, length past the end of the file, CRC mismatch) in the LAST
 * segment is a torn tail when no valid record starts anywhere after it: the
 * scan then stops there and the caller truncates the file. If a valid record
 * does start after it (the resync scan tries every later offset), or the
 * segment is not the last one, the damage is before the tail and the scan
 * throws ERR_CORRUPTION naming the file and byte offset. A record whose CRC
 * matches but whose payload does not parse, or whose type is unknown, is
 * always corruption: no torn write produces a valid checksum.
 *
 * NB: two ways this rule can refuse to open a log that only lost
 * unacknowledged bytes, chosen over ever dropping acknowledged ones: (1) a
 * disk that persists the sectors of one unsynced write out of order can
 * leave a hole followed by a valid record; (2) entry data that itself
 * contains the image of a valid record can look like one inside a torn
 * record. Either needs an operator (or a later "tolerate tail" option)
 * rather than a silent truncation.
 */
import { OtlpdbError } from '../../errors.js';
import type { DecodedRecord } from './record-format.js';
import { PayloadError, RECORD_CRC_START, RECORD_HEADER_BYTES, decodePayload, isRecordType } from './record-format.js';
import { crc32c } from './crc32c.js';

/** SEGMENT_MAGIC is "OWAL" read as a little-endian u32. */
export const SEGMENT_MAGIC = 0x4c41574f;
/** SEGMENT_VERSION is the format version written in every segment header. */
export const SEGMENT_VERSION = 1;
/** SEGMENT_HEADER_BYTES is the size of the segment header. */
export const SEGMENT_HEADER_BYTES = 16;
/** SEGMENT_SUFFIX ends every segment file name. */
export const SEGMENT_SUFFIX = '.wal';
/** SEGMENT_SEQ_DIGITS is the width of the zero-padded sequence number in a segment file name. */
export const SEGMENT_SEQ_DIGITS = 16;

const SEGMENT_NAME = /^(\d{16})\.wal$/;

/** segmentFileName is the file name of segment `seq`. */
export function segmentFileName(seq: number): string {
  return `${String(seq).padStart(SEGMENT_SEQ_DIGITS, '0')}${SEGMENT_SUFFIX}`;
}

/** parseSegmentFileName returns the sequence number of a segment file name, or null for any other name. */
export function parseSegmentFileName(name: string): number | null {
  const m = SEGMENT_NAME.exec(name);
  if (m === null) return null;
  const seq = Number(m[1]);
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : null;
}

/** encodeSegmentHeader returns the 16 header bytes of segment `seq`. */
export function encodeSegmentHeader(seq: number): Uint8Array {
  const out = new Uint8Array(SEGMENT_HEADER_BYTES);
  const v = new DataView(out.buffer);
  v.setUint32(0, SEGMENT_MAGIC, true);
  v.setUint32(4, SEGMENT_VERSION, true);
  v.setUint32(8, seq >>> 0, true);
  v.setUint32(12, Math.floor(seq / 0x1_0000_0000), true);
  return out;
}

/** TailTruncation reports a torn tail cut off the last segment during recovery, for the node to log. */
export interface TailTruncation {
  readonly file: string;
  /** offsetBytes is where the first bad record started; the file is truncated to this size. */
  readonly offsetBytes: number;
  /** droppedBytes is how many bytes were cut (the torn record and anything after it). */
  readonly droppedBytes: number;
  /** reason says what was wrong with the record at offsetBytes. */
  readonly reason: string;
}

/** ScannedRecord is one valid record of a segment and where it starts. */
export interface ScannedRecord {
  readonly offsetBytes: number;
  readonly record: DecodedRecord;
}

/** SegmentScan is the result of scanning one segment. */
export interface SegmentScan {
  readonly records: ScannedRecord[];
  /** validBytes is the size of the valid prefix: header and whole records (0 when even the header is torn). */
  readonly validBytes: number;
  /** tail is set when a torn tail was found (only ever in the last segment). */
  readonly tail: TailTruncation | null;
}

type Frame = { ok: true; type: number; group: number; end: number } | { ok: false; reason: string };

/** checkFrame checks the record frame at `off`: header present, length bounded and within the file, CRC. */
function checkFrame(bytes: Uint8Array, view: DataView, off: number, recordBytesMax: number): Frame {
  if (off + RECORD_HEADER_BYTES > bytes.length) {
    return { ok: false, reason: `record header cut short (${bytes.length - off} of ${RECORD_HEADER_BYTES} bytes)` };
  }
  const length = view.getUint32(off, true);
  if (RECORD_HEADER_BYTES + length > recordBytesMax) {
    return { ok: false, reason: `length field ${length} exceeds recordBytesMax ${recordBytesMax}` };
  }
  const end = off + RECORD_HEADER_BYTES + length;
  if (end > bytes.length) return { ok: false, reason: `length field ${length} runs past the end of the file` };
  const want = view.getUint32(off + 4, true);
  const got = crc32c(bytes, off + RECORD_CRC_START, end);
  if (want !== got) return { ok: false, reason: `CRC mismatch (stored 0x${want.toString(16)}, computed 0x${got.toString(16)})` };
  return { ok: true, type: bytes[off + 12] as number, group: view.getUint32(off + 8, true), end };
}

function corruption(file: string, offsetBytes: number, reason: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `WAL ${file} is corrupt at byte ${offsetBytes}: ${reason}`, {
    file,
    offsetBytes,
    reason,
  });
}

/**
 * scanSegment reads every record of one segment's bytes. `isLast` says
 * whether a torn tail may be tolerated (see the tail rule above). Throws
 * OtlpdbError ERR_CORRUPTION naming `file` and the byte offset otherwise.
 */
export function scanSegment(bytes: Uint8Array, file: string, seq: number, isLast: boolean, recordBytesMax: number): SegmentScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < SEGMENT_HEADER_BYTES) {
    const reason = `segment header cut short (${bytes.length} of ${SEGMENT_HEADER_BYTES} bytes)`;
    if (!isLast) throw corruption(file, 0, `${reason} in a segment that is not the last`);
    return { records: [], validBytes: 0, tail: { file, offsetBytes: 0, droppedBytes: bytes.length, reason } };
  }
  if (view.getUint32(0, true) !== SEGMENT_MAGIC) throw corruption(file, 0, 'bad segment magic (not a WAL segment)');
  const version = view.getUint32(4, true);
  if (version !== SEGMENT_VERSION) throw corruption(file, 4, `unsupported segment version ${version}`);
  const headerSeq = view.getUint32(12, true) * 0x1_0000_0000 + view.getUint32(8, true);
  if (headerSeq !== seq) throw corruption(file, 8, `header says segment ${headerSeq} but the file name says ${seq}`);

  const records: ScannedRecord[] = [];
  let off = SEGMENT_HEADER_BYTES;
  while (off < bytes.length) {
    const frame = checkFrame(bytes, view, off, recordBytesMax);
    if (!frame.ok) {
      if (!isLast) throw corruption(file, off, `${frame.reason} in a segment that is not the last`);
      const next = findValidRecordAfter(bytes, view, off, recordBytesMax);
      if (next !== -1) throw corruption(file, off, `${frame.reason}, followed by a valid record at byte ${next}`);
      return { records, validBytes: off, tail: { file, offsetBytes: off, droppedBytes: bytes.length - off, reason: frame.reason } };
    }
    if (!isRecordType(frame.type)) throw corruption(file, off, `unknown record type ${frame.type} with a valid CRC`);
    try {
      records.push({ offsetBytes: off, record: decodePayload(frame.group, frame.type, bytes, off + RECORD_HEADER_BYTES, frame.end) });
    } catch (err) {
      if (err instanceof PayloadError) throw corruption(file, off, `payload does not parse: ${err.message}`);
      throw err;
    }
    off = frame.end;
  }
  return { records, validBytes: off, tail: null };
}

/**
 * findValidRecordAfter is the resync scan: the first offset after `bad`
 * where a whole record with a known type and a matching CRC starts, or -1.
 * NB: worst case quadratic in the tail's size for adversarial bytes (every
 * offset with a plausible length costs a CRC); a torn tail is at most one
 * sync's worth of bytes, and a segment is bounded, so this is accepted.
 */
function findValidRecordAfter(bytes: Uint8Array, view: DataView, bad: number, recordBytesMax: number): number {
  for (let p = bad + 1; p + RECORD_HEADER_BYTES <= bytes.length; p++) {
    if (!isRecordType(bytes[p + 12] as number)) continue;
    const frame = checkFrame(bytes, view, p, recordBytesMax);
    if (frame.ok) return p;
  }
  return -1;
}
