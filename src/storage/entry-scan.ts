/**
 * entry-scan.ts — the validating msgpack scanner the fast shard-entry
 * decoders share (metric-entry.ts for points-only entries, span-entry.ts for
 * spans-only entries). It reads values straight from the entry bytes in the
 * forms msgpackr writes, without building them, and refuses (returns -1,
 * false or null) every form it does not know; the decoders then hand the
 * entry back to decodeShardEntry, the reference. See metric-entry.ts for the
 * fast grammar and the contract that keeps the two decoders in agreement.
 *
 * Pure code, no allocation per value read (ascii() builds its string unless
 * its memo holds it).
 */
import { StorageLimits as L } from '../limits.js';

/** STRING_FAST_BYTES_MAX is the longest string the fast grammar takes: its UTF-8 re-encoding cannot exceed stringBytesMax. */
export const STRING_FAST_BYTES_MAX = Math.floor(L.stringBytesMax / 3);
/** SKIP_DEPTH_MAX bounds the nesting the validating skip follows (deeper: back to decodeShardEntry). */
const SKIP_DEPTH_MAX = 2 * L.anyValueDepthMax + 8;
const TWO_32 = 4294967296;
/** 2^32 = 4294 × 10^6 + 967296: ns = hi × 2^32 + lo is split so that floor(ns / 10^6) is exact in float64. */
const TWO_32_MS = 4294;
const TWO_32_REM_NS = 967296;

/** ASCII_MEMO_BYTES_MAX is StorageLimits.asciiMemoBytesMax: the longest string an AsciiMemo keeps (a tenant id, an idempotency key). */
export const ASCII_MEMO_BYTES_MAX = L.asciiMemoBytesMax;

/**
 * AsciiMemo is the last string one caller of Scan.ascii read and its bytes:
 * consecutive entries repeat their tenant, and a request's parts their
 * idempotency key, so most reads return the remembered string instead of
 * building one per entry (about 500 bytes of garbage per entry; bench/README.md, ingest).
 * One per call site and thread; it holds at most ASCII_MEMO_BYTES_MAX bytes.
 */
export class AsciiMemo {
  /**
   * bytes[0, length) are the ASCII bytes of `s`: a copy (never a view of an
   * entry), written in place (a new copy per miss was about 200 bytes of
   * garbage per entry on a replica whose consecutive entries each carry a new
   * key; bench/README.md, issue 5 s18).
   */
  readonly bytes = new Uint8Array(ASCII_MEMO_BYTES_MAX);
  length = 0;
  s = '';
}

/**
 * Scan reads msgpack values from entry bytes. A read past the end sets `bad`
 * and returns a value no caller accepts (-1, false), so callers check results,
 * not positions.
 */
export class Scan {
  readonly b: Uint8Array;
  readonly dv: DataView;
  readonly end: number;
  at = 0;
  bad = false;
  /** strAt is where the last string's bytes start (string() leaves `at` at their end). */
  strAt = 0;
  /** num is the last number() read. */
  num = 0;
  /** ms is the last u64Ms() read, in ms. */
  ms = 0;
  /** pairs is the number of key/value pairs of the last attributes() read. */
  pairs = 0;
  /** hi and lo are the last u64() read, as its two 32-bit halves. */
  hi = 0;
  lo = 0;
  /**
   * utf8 says whether string() (and attributes()) check that a string is
   * well-formed UTF-8. Only metric-entry.ts turns it off, for a point's
   * identity strings, when its caller checks them later (MetricEntryColumns.keysUnchecked);
   * skip() always checks.
   */
  utf8 = true;

  constructor(b: Uint8Array) {
    this.b = b;
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.end = b.length;
  }

  /** byte is the next byte (-1 past the end). */
  byte(): number {
    if (this.at >= this.end) {
      this.bad = true;
      return -1;
    }
    return this.b[this.at++] as number;
  }

  #need(n: number): boolean {
    if (this.at + n > this.end) {
      this.bad = true;
      return false;
    }
    return true;
  }

  /** arrayHeader is an array's element count, or -1 (not an array, or more elements than bytes left). */
  arrayHeader(): number {
    const t = this.byte();
    let n: number;
    if (t >= 0x90 && t <= 0x9f) n = t - 0x90;
    else if (t === 0xdc) {
      if (!this.#need(2)) return -1;
      n = this.dv.getUint16(this.at);
      this.at += 2;
    } else if (t === 0xdd) {
      if (!this.#need(4)) return -1;
      n = this.dv.getUint32(this.at);
      this.at += 4;
    } else return -1;
    return n <= this.end - this.at ? n : -1;
  }

  /** uint is an unsigned integer in a positive fixint, uint8, uint16 or uint32 (a msgpackr number in [0, 2^32)), or -1. */
  uint(): number {
    const t = this.byte();
    if (t >= 0 && t < 0x80) return t;
    if (t === 0xcc) return this.#need(1) ? (this.b[this.at++] as number) : -1;
    if (t === 0xcd) {
      if (!this.#need(2)) return -1;
      const v = this.dv.getUint16(this.at);
      this.at += 2;
      return v;
    }
    if (t === 0xce) {
      if (!this.#need(4)) return -1;
      const v = this.dv.getUint32(this.at);
      this.at += 4;
      return v;
    }
    return -1;
  }

  /** count is `uint`, or a float64 holding a safe non-negative integer (msgpackr writes integers past 2^32 so), or -1. */
  count(): number {
    if (this.at < this.end && this.b[this.at] === 0xcb) {
      this.at++;
      if (!this.#need(8)) return -1;
      const v = this.dv.getFloat64(this.at);
      this.at += 8;
      return Number.isSafeInteger(v) && v >= 0 ? v : -1;
    }
    return this.uint();
  }

  /**
   * u64Ms reads a uint64, or an int64 >= 0 (msgpackr bigints in [0, 2^64)),
   * into `ms` as floor(value / 10^6), and returns true; false for any other
   * form. The result is a field, not the return value: a float returned by a
   * call V8 does not inline is boxed, 16 bytes per point time (issue 5 s18).
   */
  u64Ms(): boolean {
    const t = this.byte();
    if (t !== 0xcf && t !== 0xd3) return false;
    if (!this.#need(8)) return false;
    const hi = this.dv.getUint32(this.at);
    const lo = this.dv.getUint32(this.at + 4);
    this.at += 8;
    if (t === 0xd3 && hi >= 0x8000_0000) return false;
    // rest < 2^32 × 967296 + 2^32 < 2^53: exact; the quotient is corrected in case the division rounded up.
    const rest = hi * TWO_32_REM_NS + lo;
    let q = Math.floor(rest / 1e6);
    if (q * 1e6 > rest) q--;
    this.ms = hi * TWO_32_MS + q;
    return true;
  }

  /** u64 reads a uint64, or an int64 >= 0 (the msgpackr bigints WireReader.u64 takes), into hi and lo; false for any other form. */
  u64(): boolean {
    const t = this.byte();
    if (t !== 0xcf && t !== 0xd3) return false;
    if (!this.#need(8)) return false;
    const hi = this.dv.getUint32(this.at);
    if (t === 0xd3 && hi >= 0x8000_0000) return false;
    this.hi = hi;
    this.lo = this.dv.getUint32(this.at + 4);
    this.at += 8;
    return true;
  }

  /** binAt reads a byte string of exactly n bytes (n <= 255) in the bin8 form msgpackr writes and returns where its bytes start, or -1. */
  binAt(n: number): number {
    if (this.byte() !== 0xc4 || this.byte() !== n || !this.#need(n)) return -1;
    const at = this.at;
    this.at += n;
    return at;
  }

  /** number reads a Number (see the file comment) into `num`, or returns false. */
  number(): boolean {
    const t = this.byte();
    if (t < 0) return false;
    if (t < 0x80) {
      this.num = t;
      return true;
    }
    if (t >= 0xe0) {
      this.num = t - 0x100;
      return true;
    }
    const dv = this.dv;
    const at = this.at;
    switch (t) {
      case 0xcb:
        if (!this.#need(8)) return false;
        this.num = dv.getFloat64(at);
        this.at += 8;
        return true;
      case 0xcc:
        if (!this.#need(1)) return false;
        this.num = dv.getUint8(at);
        this.at += 1;
        return true;
      case 0xcd:
        if (!this.#need(2)) return false;
        this.num = dv.getUint16(at);
        this.at += 2;
        return true;
      case 0xce:
        if (!this.#need(4)) return false;
        this.num = dv.getUint32(at);
        this.at += 4;
        return true;
      case 0xd0:
        if (!this.#need(1)) return false;
        this.num = dv.getInt8(at);
        this.at += 1;
        return true;
      case 0xd1:
        if (!this.#need(2)) return false;
        this.num = dv.getInt16(at);
        this.at += 2;
        return true;
      case 0xd2:
        if (!this.#need(4)) return false;
        this.num = dv.getInt32(at);
        this.at += 4;
        return true;
      case 0xcf:
      case 0xd3: {
        if (!this.#need(8)) return false;
        const hi = t === 0xd3 ? dv.getInt32(at) : dv.getUint32(at);
        if (t === 0xcf && hi >= 0x8000_0000) return false; // past the int64 range: the regular reader refuses it
        // One rounding, as Number(bigint) does: hi × 2^32 is exact, the sum is rounded once.
        this.num = hi * TWO_32 + dv.getUint32(at + 4);
        this.at += 8;
        return true;
      }
      default:
        return false;
    }
  }

  /** #strLen is the byte length of a string whose type byte is t (read), or -1 when t is not a string type. */
  #strLen(t: number): number {
    if (t >= 0xa0 && t <= 0xbf) return t - 0xa0;
    if (t === 0xd9) return this.#need(1) ? (this.b[this.at++] as number) : -1;
    if (t === 0xda) {
      if (!this.#need(2)) return -1;
      const n = this.dv.getUint16(this.at);
      this.at += 2;
      return n;
    }
    if (t === 0xdb) {
      if (!this.#need(4)) return -1;
      const n = this.dv.getUint32(this.at);
      this.at += 4;
      return n;
    }
    return -1;
  }

  /** string reads a well-formed UTF-8 string (not checked as UTF-8 while `utf8` is false) of at most STRING_FAST_BYTES_MAX bytes (its bytes start at strAt), or returns false. */
  string(): boolean {
    const n = this.#strLen(this.byte());
    if (n < 0 || n > STRING_FAST_BYTES_MAX || !this.#need(n)) return false;
    this.strAt = this.at;
    this.at += n;
    return !this.utf8 || wellFormedUtf8(this.b, this.strAt, this.at);
  }

  /**
   * ascii reads a string of at most maxBytes ASCII bytes, or returns null.
   * With a memo whose bytes equal the string's, it returns the memo's string
   * instead of building one (equal ASCII bytes are an equal string).
   */
  ascii(maxBytes: number, memo: AsciiMemo | null = null): string | null {
    const n = this.#strLen(this.byte());
    if (n < 0 || n > maxBytes || !this.#need(n)) return null;
    const b = this.b;
    const at = this.at;
    if (memo !== null && memo.length === n) {
      const m = memo.bytes;
      let same = true;
      for (let i = 0; i < n && same; i++) same = m[i] === b[at + i];
      if (same) {
        this.at += n;
        return memo.s;
      }
    }
    for (let i = 0; i < n; i++) if ((b[at + i] as number) >= 0x80) return null;
    // One string of the code units (a string built by += makes one string per character).
    const out = n === 0 ? '' : String.fromCharCode.apply(null, b.subarray(at, at + n) as unknown as number[]);
    if (memo !== null && n <= ASCII_MEMO_BYTES_MAX) {
      const m = memo.bytes;
      for (let i = 0; i < n; i++) m[i] = b[at + i] as number;
      memo.length = n;
      memo.s = out;
    }
    this.at += n;
    return out;
  }

  /** attributes reads an attribute list in the fast grammar, or returns false. */
  attributes(): boolean {
    const n = this.arrayHeader();
    if (n < 0 || n % 2 !== 0 || n / 2 > L.attributesPerListMax) return false;
    if (!this.utf8) return this.#attributesUnchecked(n);
    for (let i = 0; i < n; i += 2) {
      if (!this.string()) return false;
      const t = this.at < this.end ? (this.b[this.at] as number) : -1;
      if (t === 0xc0 || t === 0xc2 || t === 0xc3) this.at++;
      else if ((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb)) {
        if (!this.string()) return false;
      } else if (!this.number()) return false;
    }
    this.pairs = n / 2;
    return true;
  }

  /**
   * #attributesUnchecked is the rest of `attributes` (n keys and values, the
   * array header read) while `utf8` is false: the same forms are taken, but a
   * fixstr key or value, a positive fixint and nil or a boolean are stepped
   * over here, without a call per value (the common forms of a point's
   * attributes); any other form goes through string() or number() as in
   * `attributes`. NB: no UTF-8 check here, as none in string() while `utf8` is
   * false; after a refusal `at` may stand earlier than where `attributes`
   * would have stopped (every caller rewinds after a refusal).
   */
  #attributesUnchecked(n: number): boolean {
    const b = this.b;
    const end = this.end;
    let at = this.at;
    for (let i = 0; i < n; i++) {
      if (at >= end) {
        this.bad = true;
        return false;
      }
      const t = b[at] as number;
      if (t >= 0xa0 && t <= 0xbf) {
        at += 1 + (t - 0xa0); // fixstr: at most 31 bytes, under STRING_FAST_BYTES_MAX
        if (at > end) {
          this.bad = true;
          return false;
        }
        continue;
      }
      // A key (even i) is a string; a value may also be nil, a boolean or a number.
      if ((i & 1) === 1 && (t < 0x80 || t === 0xc0 || t === 0xc2 || t === 0xc3)) {
        at++;
        continue;
      }
      this.at = at;
      if ((i & 1) === 0 || (t >= 0xd9 && t <= 0xdb)) {
        if (!this.string()) return false;
      } else if (!this.number()) return false;
      at = this.at;
    }
    this.at = at;
    this.pairs = n / 2;
    return true;
  }

  /** skipItems skips n values with `skip`. */
  skipItems(n: number): boolean {
    for (let i = 0; i < n; i++) if (!this.skip(0)) return false;
    return true;
  }

  /**
   * skip steps over one value of any form the entry grammar allows (nil,
   * booleans, numbers, strings, byte strings, arrays), checking that it is
   * complete and that its strings are well-formed UTF-8; maps, extensions and
   * 0xc1 (and nesting past SKIP_DEPTH_MAX) return false.
   */
  skip(depth: number): boolean {
    if (depth > SKIP_DEPTH_MAX) return false;
    const t = this.byte();
    if (t < 0) return false;
    if (t < 0x80 || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return true;
    if (t >= 0x90 && t <= 0x9f) return this.#skipArray(t - 0x90, depth);
    if ((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb)) {
      this.at--;
      return this.#skipString();
    }
    switch (t) {
      case 0xc4:
      case 0xc5:
      case 0xc6: {
        const w = t === 0xc4 ? 1 : t === 0xc5 ? 2 : 4;
        if (!this.#need(w)) return false;
        const n = w === 1 ? (this.b[this.at] as number) : w === 2 ? this.dv.getUint16(this.at) : this.dv.getUint32(this.at);
        this.at += w;
        if (!this.#need(n)) return false;
        this.at += n;
        return true;
      }
      case 0xca:
      case 0xce:
      case 0xd2:
        return this.#advance(4);
      case 0xcb:
      case 0xcf:
      case 0xd3:
        return this.#advance(8);
      case 0xcc:
      case 0xd0:
        return this.#advance(1);
      case 0xcd:
      case 0xd1:
        return this.#advance(2);
      case 0xdc:
      case 0xdd: {
        this.at--;
        const n = this.arrayHeader();
        return n >= 0 && this.#skipArray(n, depth);
      }
      default:
        return false;
    }
  }

  #skipString(): boolean {
    const n = this.#strLen(this.byte());
    if (n < 0 || !this.#need(n)) return false;
    const at = this.at;
    this.at += n;
    return wellFormedUtf8(this.b, at, this.at);
  }

  #skipArray(n: number, depth: number): boolean {
    if (n > this.end - this.at) return false;
    for (let i = 0; i < n; i++) if (!this.skip(depth + 1)) return false;
    return true;
  }

  #advance(n: number): boolean {
    if (!this.#need(n)) return false;
    this.at += n;
    return true;
  }
}

/** wellFormedUtf8 says whether b[at, end) is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
export function wellFormedUtf8(b: Uint8Array, at: number, end: number): boolean {
  let i = at;
  // Four ASCII bytes at a time first (labels and names mostly are ASCII); the loop below checks from the first word that is not.
  while (i + 4 <= end && (((b[i] as number) | (b[i + 1] as number) | (b[i + 2] as number) | (b[i + 3] as number)) & 0x80) === 0) i += 4;
  while (i < end) {
    const c = b[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      if (i + 1 >= end || ((b[i + 1] as number) & 0xc0) !== 0x80) return false;
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (i + 2 >= end) return false;
      const c1 = b[i + 1] as number;
      if ((c1 & 0xc0) !== 0x80 || ((b[i + 2] as number) & 0xc0) !== 0x80) return false;
      if (c === 0xe0 && c1 < 0xa0) return false; // overlong
      if (c === 0xed && c1 >= 0xa0) return false; // a surrogate
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (i + 3 >= end) return false;
      const c1 = b[i + 1] as number;
      if ((c1 & 0xc0) !== 0x80 || ((b[i + 2] as number) & 0xc0) !== 0x80 || ((b[i + 3] as number) & 0xc0) !== 0x80) return false;
      if (c === 0xf0 && c1 < 0x90) return false; // overlong
      if (c === 0xf4 && c1 >= 0x90) return false; // past U+10FFFF
      i += 4;
    } else return false;
  }
  return true;
}

/** utf16Length is the UTF-16 length (a JavaScript string's `length`) of the well-formed UTF-8 in b[at, end). */
export function utf16Length(b: Uint8Array, at: number, end: number): number {
  let n = 0;
  for (let i = at; i < end; i++) {
    const c = b[i] as number;
    if ((c & 0xc0) !== 0x80) n += c >= 0xf0 ? 2 : 1; // A lead byte; four-byte forms are surrogate pairs.
  }
  return n;
}

/** readResourceFast checks a wire Resource in the fast grammar (row-wire.ts: [Attributes, droppedAttributesCount, schemaUrl]), or returns false. */
export function readResourceFast(s: Scan): boolean {
  return s.arrayHeader() === 3 && s.attributes() && s.uint() >= 0 && s.string();
}

/** readScopeFast checks a wire Scope in the fast grammar ([name, version, Attributes, droppedAttributesCount, schemaUrl]), or returns false. */
export function readScopeFast(s: Scan): boolean {
  return s.arrayHeader() === 5 && s.string() && s.string() && s.attributes() && s.uint() >= 0 && s.string();
}
