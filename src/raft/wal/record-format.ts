/**
 * record-format.ts — the byte layout of WAL records and of their payloads,
 * and the encoder that frames them into a reusable buffer.
 *
 * Record (all integers little-endian):
 *
 *   0        4        8        12  13                 13+length
 *   +--------+--------+--------+---+--------- ... -----+
 *   | length | crc32c | group  |typ| payload           |
 *   |  u32   |  u32   |  u32   |u8 | `length` bytes    |
 *   +--------+--------+--------+---+--------- ... -----+
 *                     |<------ covered by crc32c ----->|
 *
 * `length` counts the payload only; a record occupies RECORD_HEADER_BYTES +
 * length bytes. The CRC (plain CRC-32C, not masked) covers group, type and
 * payload. The length is not covered: a bit flip there is caught because the
 * CRC then runs over the wrong bytes, and recovery's resync scan (see
 * segment-file.ts) tells a torn tail from a damaged middle.
 *
 * Payloads (u64 = a safe integer as two u32, low word first; a high word
 * above 0x1FFFFF is corruption):
 *
 *   Entries          firstIndex u64 | count u32 | count x (term u64 | entryType u8 | dataLength u32 | data)
 *                    entries are contiguous: entry k has index firstIndex + k
 *   HardState        term u64 | vote u64 | commit u64
 *   Compact          index u64                      (entries <= index are no longer needed)
 *   SnapshotSaved    snapshot metadata (below)       (a snapshot of this node's own state machine; the log stays)
 *   SnapshotApplied  snapshot metadata (below)       (a snapshot installed from the leader; it replaces the whole log)
 *   GroupRemoved     (empty)                         (the node stopped hosting the group: every earlier record of
 *                                                     the group is void; later records start a new incarnation)
 *
 *   snapshot metadata: index u64 | term u64 | voterCount u32 | voterCount x u64 | learnerCount u32 | learnerCount x u64
 */
import { OtlpdbError, assert } from '../../errors.js';
import type { Entry, EntryType, HardState, SnapshotMetadata } from '../types.js';
import { crc32c } from './crc32c.js';

/** RECORD_HEADER_BYTES is the fixed part of a record: length, crc, group, type. */
export const RECORD_HEADER_BYTES = 13;
/** RECORD_CRC_START is the offset, within a record, where the CRC-covered bytes begin (the group field). */
export const RECORD_CRC_START = 8;
/** ENTRY_HEADER_BYTES is the fixed part of one entry inside an Entries payload: term, type, data length. */
export const ENTRY_HEADER_BYTES = 13;
/** ENTRIES_PAYLOAD_HEADER_BYTES is the fixed part of an Entries payload: first index and count. */
export const ENTRIES_PAYLOAD_HEADER_BYTES = 12;
/** HARD_STATE_PAYLOAD_BYTES is the size of a HardState payload. */
export const HARD_STATE_PAYLOAD_BYTES = 24;
/** GROUP_ID_MAX is the largest group id a record can carry (u32). */
export const GROUP_ID_MAX = 0xffff_ffff;

/** RecordType names the kinds of WAL record; the values are the on-disk type byte and must never change. */
export const RecordType = {
  Entries: 1,
  HardState: 2,
  Compact: 3,
  SnapshotSaved: 4,
  SnapshotApplied: 5,
  GroupRemoved: 6,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** isRecordType says whether a type byte read from disk names a known record type. */
export function isRecordType(b: number): b is RecordType {
  return b >= RecordType.Entries && b <= RecordType.GroupRemoved;
}

const U64_HIGH_MAX = 0x1f_ffff; // 2^53 - 1 >>> 32

/**
 * PayloadError is thrown by the payload decoders when a record whose CRC
 * matched does not parse; the caller turns it into ERR_CORRUPTION naming the
 * file and offset it knows.
 */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

/**
 * ByteWriter appends little-endian fields to one growable buffer that is
 * reused across syncs (no per-record allocation once it has grown).
 * Invariant: 0 <= length <= bytes.length.
 */
export class ByteWriter {
  bytes: Uint8Array;
  length = 0;
  #view: DataView;
  readonly #bytesMax: number;

  constructor(initialBytes: number, bytesMax: number) {
    assert(initialBytes > 0 && initialBytes <= bytesMax, '0 < initialBytes <= bytesMax');
    this.bytes = new Uint8Array(initialBytes);
    this.#view = new DataView(this.bytes.buffer);
    this.#bytesMax = bytesMax;
  }

  /** reset empties the writer, keeping its buffer. */
  reset(): void {
    this.length = 0;
  }

  /** ensure makes room for `n` more bytes, refusing (ERR_LIMIT_EXCEEDED) to grow past bytesMax. */
  ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.bytes.length) return;
    if (need > this.#bytesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `WAL write buffer would grow to ${need} bytes, past ${this.#bytesMax}`, {
        bytes: need,
        bytesMax: this.#bytesMax,
      });
    }
    let cap = this.bytes.length;
    while (cap < need) cap *= 2;
    cap = Math.min(cap, this.#bytesMax);
    const grown = new Uint8Array(cap);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.bytes[this.length++] = v;
  }

  u32(v: number): void {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff, 'u32 in range');
    this.ensure(4);
    this.#view.setUint32(this.length, v, true);
    this.length += 4;
  }

  u64(v: number): void {
    assert(Number.isSafeInteger(v) && v >= 0, 'u64 is a non-negative safe integer');
    this.ensure(8);
    this.#view.setUint32(this.length, v >>> 0, true);
    this.#view.setUint32(this.length + 4, Math.floor(v / 0x1_0000_0000), true);
    this.length += 8;
  }

  raw(data: Uint8Array): void {
    this.ensure(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /** setU32At overwrites a u32 already written (a record's length and CRC). */
  setU32At(at: number, v: number): void {
    assert(at >= 0 && at + 4 <= this.length, 'setU32At within what was written');
    this.#view.setUint32(at, v >>> 0, true);
  }
}

/**
 * ByteReader reads little-endian fields from `bytes[pos, end)`, throwing
 * PayloadError instead of reading past `end`. It never allocates for a field
 * it has not bounds-checked first.
 */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  pos: number;
  readonly end: number;

  constructor(bytes: Uint8Array, pos: number, end: number) {
    assert(0 <= pos && pos <= end && end <= bytes.length, 'reader range within the buffer');
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
    this.end = end;
  }

  #need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new PayloadError(`${what} runs past the end of the payload`);
  }

  u8(what: string): number {
    this.#need(1, what);
    return this.#bytes[this.pos++] as number;
  }

  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): number {
    this.#need(8, what);
    const lo = this.#view.getUint32(this.pos, true);
    const hi = this.#view.getUint32(this.pos + 4, true);
    if (hi > U64_HIGH_MAX) throw new PayloadError(`${what} is not a safe integer`);
    this.pos += 8;
    return hi * 0x1_0000_0000 + lo;
  }

  /** bytes returns a copy of the next n bytes (entries outlive the segment buffer they were read from). */
  bytes(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const out = this.#bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  remaining(): number {
    return this.end - this.pos;
  }
}

/** beginRecord reserves a record header in `w` and returns the record's start; finishRecord fills it in. */
export function beginRecord(w: ByteWriter, group: number, type: RecordType): number {
  assert(Number.isInteger(group) && group >= 0 && group <= GROUP_ID_MAX, 'group id fits in u32');
  const start = w.length;
  w.u32(0); // length, filled in by finishRecord
  w.u32(0); // crc, filled in by finishRecord
  w.u32(group);
  w.u8(type);
  return start;
}

/** finishRecord fills the length and CRC of the record begun at `start`; returns the record's size in bytes. */
export function finishRecord(w: ByteWriter, start: number, recordBytesMax: number): number {
  const size = w.length - start;
  const payloadBytes = size - RECORD_HEADER_BYTES;
  assert(payloadBytes >= 0, 'record has its header');
  if (size > recordBytesMax) {
    w.length = start; // Drop the partial record so the writer stays usable.
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `WAL record of ${size} bytes exceeds recordBytesMax ${recordBytesMax}`, {
      recordBytes: size,
      recordBytesMax,
    });
  }
  w.setU32At(start, payloadBytes);
  w.setU32At(start + 4, crc32c(w.bytes, start + RECORD_CRC_START, w.length));
  return size;
}

/** entriesRecordBytes is the size of an Entries record holding exactly `ents`. */
export function entriesRecordBytes(ents: readonly Entry[]): number {
  let n = RECORD_HEADER_BYTES + ENTRIES_PAYLOAD_HEADER_BYTES;
  for (const e of ents) n += ENTRY_HEADER_BYTES + e.data.length;
  return n;
}

/** encodeEntriesPayload writes an Entries payload; `ents` must be contiguous. */
export function encodeEntriesPayload(w: ByteWriter, ents: readonly Entry[], from: number, to: number): void {
  assert(to > from, 'an Entries record holds at least one entry');
  const first = ents[from] as Entry;
  w.u64(first.index);
  w.u32(to - from);
  for (let k = from; k < to; k++) {
    const e = ents[k] as Entry;
    assert(e.index === first.index + (k - from), 'entries of a record are contiguous');
    w.u64(e.term);
    w.u8(e.type);
    w.u32(e.data.length);
    w.raw(e.data);
  }
}

/** decodeEntriesPayload reads an Entries payload (bounds-checked; no allocation beyond the record's own bytes). */
export function decodeEntriesPayload(r: ByteReader): Entry[] {
  const firstIndex = r.u64('first index');
  const count = r.u32('entry count');
  if (count === 0) throw new PayloadError('Entries record with no entries');
  if (count * ENTRY_HEADER_BYTES > r.remaining()) throw new PayloadError(`entry count ${count} cannot fit in the payload`);
  if (!Number.isSafeInteger(firstIndex + count)) throw new PayloadError('entry index overflows');
  const out: Entry[] = new Array<Entry>(count);
  for (let k = 0; k < count; k++) {
    const term = r.u64('entry term');
    const type = r.u8('entry type');
    if (type !== 0 && type !== 1) throw new PayloadError(`unknown entry type ${type}`);
    const len = r.u32('entry data length');
    const data = r.bytes(len, 'entry data');
    out[k] = { term, index: firstIndex + k, type: type as EntryType, data };
  }
  if (r.remaining() !== 0) throw new PayloadError(`${r.remaining()} bytes after the last entry`);
  return out;
}

/** encodeHardState writes a HardState payload. */
export function encodeHardState(w: ByteWriter, hs: HardState): void {
  w.u64(hs.term);
  w.u64(hs.vote);
  w.u64(hs.commit);
}

/** decodeHardState reads a HardState payload. */
export function decodeHardState(r: ByteReader): HardState {
  const term = r.u64('hard state term');
  const vote = r.u64('hard state vote');
  const commit = r.u64('hard state commit');
  return { term, vote, commit };
}

/** encodeSnapshotMetadata writes snapshot metadata (SnapshotSaved, SnapshotApplied and the manifest). */
export function encodeSnapshotMetadata(w: ByteWriter, m: SnapshotMetadata): void {
  w.u64(m.index);
  w.u64(m.term);
  w.u32(m.confState.voters.length);
  for (const v of m.confState.voters) w.u64(v);
  w.u32(m.confState.learners.length);
  for (const l of m.confState.learners) w.u64(l);
}

function decodeIds(r: ByteReader, what: string): number[] {
  const n = r.u32(`${what} count`);
  if (n * 8 > r.remaining()) throw new PayloadError(`${what} count ${n} cannot fit in the payload`);
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push(r.u64(what));
  return out;
}

/** decodeSnapshotMetadata reads snapshot metadata. */
export function decodeSnapshotMetadata(r: ByteReader): SnapshotMetadata {
  const index = r.u64('snapshot index');
  const term = r.u64('snapshot term');
  const voters = decodeIds(r, 'voter');
  const learners = decodeIds(r, 'learner');
  return { index, term, confState: { voters, learners } };
}

/** DecodedRecord is one record read back: its group, type and decoded payload. */
export type DecodedRecord =
  | { readonly type: typeof RecordType.Entries; readonly group: number; readonly entries: Entry[] }
  | { readonly type: typeof RecordType.HardState; readonly group: number; readonly hardState: HardState }
  | { readonly type: typeof RecordType.Compact; readonly group: number; readonly index: number }
  | {
      readonly type: typeof RecordType.SnapshotSaved | typeof RecordType.SnapshotApplied;
      readonly group: number;
      readonly snapshot: SnapshotMetadata;
    }
  | { readonly type: typeof RecordType.GroupRemoved; readonly group: number };

/** decodePayload decodes the payload of a record whose frame and CRC were already checked; throws PayloadError. */
export function decodePayload(group: number, type: RecordType, bytes: Uint8Array, start: number, end: number): DecodedRecord {
  const r = new ByteReader(bytes, start, end);
  let rec: DecodedRecord;
  switch (type) {
    case RecordType.Entries:
      rec = { type, group, entries: decodeEntriesPayload(r) };
      break;
    case RecordType.HardState:
      rec = { type, group, hardState: decodeHardState(r) };
      break;
    case RecordType.Compact:
      rec = { type, group, index: r.u64('compact index') };
      break;
    case RecordType.SnapshotSaved:
    case RecordType.SnapshotApplied:
      rec = { type, group, snapshot: decodeSnapshotMetadata(r) };
      break;
    case RecordType.GroupRemoved:
      rec = { type, group };
      break;
  }
  if (r.remaining() !== 0) throw new PayloadError(`${r.remaining()} unexpected bytes after the payload`);
  return rec;
}
