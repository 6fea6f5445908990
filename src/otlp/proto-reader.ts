/**
 * proto-reader.ts — a cursor over protobuf wire bytes for the hand-written
 * OTLP decoders: varints, fixed-width scalars, length-delimited ranges,
 * strings, and skipping unknown fields per the protobuf rules.
 *
 * Every framing defect (a truncated varint, a varint over 10 bytes, a length
 * past the end of its message, an invalid wire type, a known field sent with
 * the wrong wire type, a group that does not close) throws
 * ERR_INVALID_ARGUMENT naming the message being read (`where`) and the byte
 * offset. Nothing here allocates except the strings it returns.
 *
 * Invariant: 0 <= pos <= buf.length; a decoder never reads past the `end` of
 * the message it is in (each length-delimited field is checked against it).
 */
import { OtlpdbError } from '../errors.js';
import { OtlpLimits } from '../limits.js';
import { VALUE_CACHE_SLOTS, ValueCache } from './value-cache.js';

/** WT_VARINT, WT_I64, WT_LEN, WT_I32 are the protobuf wire types otlpdb reads (3 and 4, groups, are only skipped). */
export const WT_VARINT = 0;
/** WT_I64: see WT_VARINT. */
export const WT_I64 = 1;
/** WT_LEN: see WT_VARINT. */
export const WT_LEN = 2;
/** WT_I32: see WT_VARINT. */
export const WT_I32 = 5;
const WT_SGROUP = 3;
const WT_EGROUP = 4;

const TWO_32 = 4294967296;
/** COUNT_TOO_LARGE is what the count readers return for a value above 2^53 - 1. */
export const COUNT_TOO_LARGE = -1;

/** SHORT_STRING_BYTES is the longest string ProtoReader.string caches. */
export const SHORT_STRING_BYTES = 32;
const CACHE_SLOT_BITS = 8;

/** Utf8Text is Buffer's undocumented but long-standing utf8Slice (no argument checks: the bounds are ours). */
interface Utf8Text {
  utf8Slice(start: number, end: number): string;
}

/**
 * ReaderCaches are a ProtoReader's short-string cache and its ValueCache.
 * Every reader of a thread shares one (THREAD_READER_CACHES) unless given
 * its own: a cached string is a pure function of its bytes, and the
 * ValueCache checks what it hands out (value-cache.ts), so what one request
 * left in them is right for the next; keeping them saves about 38 KiB of
 * tables per request (bench/README.md, ingest). Fixed slots: bounded memory.
 * A decode runs synchronously to its end, and two readers alive at once
 * (a decoder inside a decoder) only replace each other's slots.
 */
export class ReaderCaches {
  /** Slot i holds lengths[i] bytes at i * SHORT_STRING_BYTES and their string (length -1: empty slot). */
  readonly bytes = new Uint8Array(VALUE_CACHE_SLOTS * SHORT_STRING_BYTES);
  readonly lengths = new Int32Array(VALUE_CACHE_SLOTS).fill(-1);
  readonly strings: string[] = new Array<string>(VALUE_CACHE_SLOTS).fill('');
  readonly values = new ValueCache();
}

/** THREAD_READER_CACHES is the ReaderCaches every ProtoReader of this thread shares by default. */
const THREAD_READER_CACHES = new ReaderCaches();

/** ProtoReader reads one request body; decoders move `pos` through it. */
export class ProtoReader {
  readonly buf: Uint8Array;
  readonly #view: DataView;
  readonly #text: Utf8Text;
  /** The short-string cache (ReaderCaches). */
  readonly #cacheBytes: Uint8Array;
  readonly #cacheLengths: Int32Array;
  readonly #cacheStrings: string[];
  /** lastSlot is the cache slot of the last string() result, -1 if it was not cached. */
  lastSlot = -1;
  /** values are the shared AnyValues and KeyValues (value-cache.ts), of this thread's readers unless the reader was given its own caches. */
  readonly values: ValueCache;
  pos = 0;
  /** where names the message being read, for error messages. */
  where = 'request';

  constructor(body: Uint8Array, caches: ReaderCaches = THREAD_READER_CACHES) {
    this.#cacheBytes = caches.bytes;
    this.#cacheLengths = caches.lengths;
    this.#cacheStrings = caches.strings;
    this.values = caches.values;
    // A plain Uint8Array view: the decoders index it and copy from it (never keep it).
    this.buf = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    this.#view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    this.#text = Buffer.from(body.buffer, body.byteOffset, body.byteLength) as unknown as Utf8Text;
  }

  /** fail throws the framing error at the current position. */
  fail(problem: string): never {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `malformed protobuf in ${this.where} at byte ${this.pos}: ${problem}`, {
      message: this.where,
      offset: this.pos,
    });
  }

  /** tag reads a field tag (field number << 3 | wire type) before `end`. */
  tag(end: number): number {
    const t = this.uint32(end);
    if (t >>> 3 === 0) this.fail('field number 0');
    return t;
  }

  /** uint32 reads a varint and keeps its low 32 bits, unsigned (protobuf's uint32 and the tag/length reads). */
  uint32(end: number): number {
    const buf = this.buf;
    let p = this.pos;
    if (p < end) {
      const b = buf[p] as number;
      if (b < 0x80) {
        this.pos = p + 1;
        return b;
      }
    }
    let v = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (p >= end) this.fail('truncated varint');
      const b = buf[p++] as number;
      if (shift < 32) v |= (b & 0x7f) << shift;
      shift += 7;
      if (b < 0x80) {
        this.pos = p;
        return v >>> 0;
      }
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** int32 reads a varint as protobuf's int32 (and enums): its low 32 bits, signed. */
  int32(end: number): number {
    return this.uint32(end) | 0;
  }

  /** sint32 reads a zigzag varint (protobuf's sint32). */
  sint32(end: number): number {
    const v = this.uint32(end);
    return (v >>> 1) ^ -(v & 1);
  }

  /** bool reads a varint as a boolean (any non-zero value is true). */
  bool(end: number): boolean {
    const start = this.pos;
    this.uint32(end);
    for (let i = start; i < this.pos; i++) if (((this.buf[i] as number) & 0x7f) !== 0) return true;
    return false;
  }

  /** #varint64Parts reads a varint into [lo, hi] 32-bit halves (the 64 low bits). */
  #varint64(end: number, out: Uint32Array): void {
    const buf = this.buf;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (p >= end) this.fail('truncated varint');
      const b = buf[p++] as number;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if (b < 0x80) {
        this.pos = p;
        out[0] = lo;
        out[1] = hi;
        return;
      }
    }
    this.fail('varint longer than 10 bytes');
  }

  readonly #parts = new Uint32Array(2);

  /** int64 reads a varint as protobuf's int64, as a bigint in [-2^63, 2^63). */
  int64(end: number): bigint {
    const parts = this.#parts;
    this.#varint64(end, parts);
    return int64FromParts(parts[0] as number, parts[1] as number);
  }

  /**
   * int64Small reads a varint as protobuf's int64 and returns it as a number
   * when it is in [0, 2^31), else -1 with the value left in `int64Rest()`:
   * small ints then need no bigint unless they are new to the value cache.
   */
  int64Small(end: number): number {
    const parts = this.#parts;
    this.#varint64(end, parts);
    const lo = parts[0] as number;
    return parts[1] === 0 && lo < 0x8000_0000 ? lo : -1;
  }

  /** int64Rest is the bigint of the varint the last int64Small call read. */
  int64Rest(): bigint {
    return int64FromParts(this.#parts[0] as number, this.#parts[1] as number);
  }

  /** uint64Count reads a varint uint64 as a count: a number, or COUNT_TOO_LARGE above 2^53 - 1. */
  uint64Count(end: number): number {
    const parts = this.#parts;
    this.#varint64(end, parts);
    const hi = parts[1] as number;
    return hi < 0x20_0000 ? hi * TWO_32 + (parts[0] as number) : COUNT_TOO_LARGE;
  }

  /** #need checks that `n` more bytes are there before `end`. */
  #need(n: number, end: number): number {
    const p = this.pos;
    if (p + n > end) this.fail(`${n}-byte value past the end of the message`);
    this.pos = p + n;
    return p;
  }

  /** fixed64 reads protobuf's fixed64 as a bigint (times). */
  fixed64(end: number): bigint {
    return this.#view.getBigUint64(this.#need(8, end), true);
  }

  /** fixed64Count reads a fixed64 as a count: a number, or COUNT_TOO_LARGE above 2^53 - 1. */
  fixed64Count(end: number): number {
    const p = this.#need(8, end);
    const hi = this.#view.getUint32(p + 4, true);
    return hi < 0x20_0000 ? hi * TWO_32 + this.#view.getUint32(p, true) : COUNT_TOO_LARGE;
  }

  /** sfixed64 reads protobuf's sfixed64 as a bigint. */
  sfixed64(end: number): bigint {
    return this.#view.getBigInt64(this.#need(8, end), true);
  }

  /** double reads protobuf's double; -0 becomes 0 (rows store no negative zero, see rows.ts). */
  double(end: number): number {
    const v = this.#view.getFloat64(this.#need(8, end), true);
    return v === 0 ? 0 : v;
  }

  /** fixed32 reads protobuf's fixed32. */
  fixed32(end: number): number {
    return this.#view.getUint32(this.#need(4, end), true);
  }

  /** len reads the length of a length-delimited field and returns where it ends (checked against `end`); pos is then its start. */
  len(end: number): number {
    const n = this.uint32(end);
    const e = this.pos + n;
    if (e > end) this.fail(`length ${n} past the end of the message`);
    return e;
  }

  /**
   * string decodes bytes [start, end) as UTF-8 (invalid sequences become
   * U+FFFD). Strings of at most SHORT_STRING_BYTES bytes (keys, names,
   * enum-like values) go through a direct-mapped cache: a repeated one is
   * returned without decoding or allocating, and `lastSlot` says which slot
   * it is in (-1 for a string not cached).
   */
  string(start: number, end: number): string {
    const n = end - start;
    this.lastSlot = -1;
    if (n === 0) return '';
    if (n > SHORT_STRING_BYTES) return this.#text.utf8Slice(start, end);
    const buf = this.buf;
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
    const slot = h >>> (32 - CACHE_SLOT_BITS);
    const at = slot * SHORT_STRING_BYTES;
    const bytes = this.#cacheBytes;
    if (this.#cacheLengths[slot] === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (bytes[at + i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.lastSlot = slot;
        return this.#cacheStrings[slot] as string;
      }
    }
    const s = this.#text.utf8Slice(start, end);
    for (let i = 0; i < n; i++) bytes[at + i] = buf[start + i] as number;
    this.#cacheLengths[slot] = n;
    this.#cacheStrings[slot] = s;
    this.values.stringValues[slot] = null;
    this.lastSlot = slot;
    return s;
  }

  /** bytes copies bytes [start, end) into a Uint8Array of its own. */
  bytes(start: number, end: number): Uint8Array {
    return this.buf.slice(start, end);
  }

  /**
   * skip passes over a field with tag `tag` that the decoder does not use.
   * `known` is a bit mask of the message's field numbers below 32: a known
   * field with an unexpected wire type is a framing error rather than an
   * unknown field (a silent skip would lose data an exporter meant to send).
   */
  skip(tag: number, end: number, known: number): void {
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field < 32 && ((known >>> field) & 1) === 1) this.fail(`field ${field} has wire type ${wt}, not the one its type uses`);
    switch (wt) {
      case WT_VARINT:
        this.uint32(end);
        return;
      case WT_I64:
        this.#need(8, end);
        return;
      case WT_LEN:
        this.pos = this.len(end);
        return;
      case WT_I32:
        this.#need(4, end);
        return;
      case WT_SGROUP:
        this.#skipGroup(field, end);
        return;
      default:
        this.fail(`invalid wire type ${wt}`);
    }
  }

  /** #skipGroup skips a deprecated group up to its matching end tag, iteratively (nesting bounded by OtlpLimits.protoGroupDepthMax). */
  #skipGroup(field: number, end: number): void {
    const open: number[] = [field];
    while (open.length > 0) {
      const t = this.tag(end);
      const wt = t & 7;
      if (wt === WT_EGROUP) {
        if (t >>> 3 !== open.pop()) this.fail('group end tag does not match its start');
      } else if (wt === WT_SGROUP) {
        if (open.length >= OtlpLimits.protoGroupDepthMax) this.fail(`groups nest deeper than ${OtlpLimits.protoGroupDepthMax}`);
        open.push(t >>> 3);
      } else {
        this.skip(t, end, 0);
      }
    }
  }
}

function int64FromParts(lo: number, hi: number): bigint {
  if (hi < 0x20_0000) return BigInt(hi * TWO_32 + lo);
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

/** fieldMask is the `known` mask of ProtoReader.skip for the given field numbers. */
export function fieldMask(...fields: number[]): number {
  let m = 0;
  for (const f of fields) if (f < 32) m |= 1 << f;
  return m >>> 0;
}
