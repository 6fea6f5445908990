/**
 * log-block-rest.ts — a log block's rest section (section 7,
 * log-block-format.ts) written as msgpack straight from the rows, byte for
 * byte what STORAGE_PACKR.pack gives for the section's value
 *
 *   [resources, scopes, rows × [resourceIndex, scopeIndex, flags, eventName,
 *    droppedAttributesCount, attributesToWire(attributes), body]]
 *
 * (body 0 for a string body, else [anyValueToWire(body)]), without building
 * that value: no array per row, per attribute list or per value. It exists
 * because building the value and packing it was the largest part of a logs
 * flush's per-row work (bench/README.md, "## log-flush", s16). The readers
 * are unchanged: they unpack the section with msgpackr as before.
 *
 * The forms written by hand are msgpackr's (2.1.4, STORAGE_PACKR's options:
 * no records, no bundled strings, no float32):
 *
 *   array     0x90|n (n < 16), 0xdc u16, 0xdd u32
 *   string    by its UTF-8 byte length L: 0xa0|L (L < 32), 0xd9 u8, 0xda u16,
 *             0xdb u32; a lone surrogate is written as U+FFFD (EF BF BD)
 *   number    an integer in [0, 2^32): fixint (< 128), 0xcc, 0xcd, 0xce; in
 *             [-2^31, 0): negative fixint (>= -32), 0xd0, 0xd1, 0xd2; any
 *             other number 0xcb float64 (-0 is the integer 0, as msgpackr)
 *   bigint    in [-2^63, 2^63): 0xd3 int64
 *   nil 0xc0, false 0xc2, true 0xc3
 *
 * Anything else (bytes, arrays, kvlists, a bigint outside int64, the tables)
 * is packed by STORAGE_PACKR and its bytes appended: msgpack values are
 * self-delimiting and STORAGE_PACKR keeps no state between values (no
 * records, no shared structures), so a value's bytes are the same alone as
 * inside its parent. log-block-rest.test.ts checks the whole section
 * against STORAGE_PACKR.pack over random rows of every value type. Pure
 * code, no I/O.
 */
import { assert } from '../../errors.js';
import type { ByteWriter } from '../codec/index.js';
import { anyValueToWire } from '../row-wire.js';
import type { AnyValue, KeyValue, LogRow } from '../rows.js';
import { STORAGE_PACKR } from '../storage-packr.js';

/** STRING_JS_LOOP_UNITS_MAX is the longest string (UTF-16 units) encoded by a JS loop; longer ones go through TextEncoder.encodeInto (as msgpackr, whose cut is the same). */
const STRING_JS_LOOP_UNITS_MAX = 0x40;
/** STRING_HEADER_BYTES_MAX is the largest msgpack string header (0xdb u32). */
const STRING_HEADER_BYTES_MAX = 5;
/** BIG_INT64_MIN and BIG_INT64_MAX bound a bigint written as int64 (0xd3). */
const BIG_INT64_MIN = -(1n << 63n);
const BIG_INT64_MAX = (1n << 63n) - 1n;

const UTF8 = new TextEncoder();

/**
 * TAIL_COPY_LOOP_BYTES_MAX is the longest rest tail writeRestSection copies
 * byte by byte; a longer one is copied by one native `set` of a view (the
 * view's allocation costs about what a JS loop copies in this many bytes).
 */
const TAIL_COPY_LOOP_BYTES_MAX = 48;

/**
 * RestTails are the rest-section bytes of rows after their two table
 * indexes (flags, eventName, droppedAttributesCount, attributes, body),
 * written beforehand: row i's are bytes[starts[i], ends[i]). A flush writes
 * them in apply order, where a row's objects lie together in memory, and
 * copies them in time order (log-flush-write.ts).
 */
export interface RestTails {
  readonly bytes: Uint8Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

/**
 * writeRestSection appends the rest section of `rows` to `w` (see the file
 * comment). `resourceIndex[i]` and `scopeIndex[i]` are row i's indexes into
 * the tables; `tables` is the section's [resources, scopes] value (a paged
 * block's pages write two empty tables: they index the block's). With
 * `tails`, row i's bytes after its indexes are copied from them instead of
 * written from the row; they must be writeRestTail's bytes of that row.
 */
export function writeRestSection(
  w: ByteWriter,
  rows: readonly LogRow[],
  resourceIndex: Uint32Array,
  scopeIndex: Uint32Array,
  tables: readonly [readonly unknown[], readonly unknown[]],
  tails?: RestTails,
): void {
  const n = rows.length;
  assert(resourceIndex.length >= n && scopeIndex.length >= n, 'a table index per row');
  assert(tails === undefined || (tails.starts.length >= n && tails.ends.length >= n), 'a tail per row');
  w.u8(0x93);
  packed(w, tables[0]);
  packed(w, tables[1]);
  arrayHeader(w, n);
  for (let i = 0; i < n; i++) {
    w.u8(0x97);
    uint32(w, resourceIndex[i] as number);
    uint32(w, scopeIndex[i] as number);
    if (tails === undefined) {
      writeRestTail(w, rows[i] as LogRow);
      continue;
    }
    const from = tails.starts[i] as number;
    const to = tails.ends[i] as number;
    w.ensure(to - from);
    const b = w.bytes;
    const src = tails.bytes;
    let p = w.length;
    if (to - from > TAIL_COPY_LOOP_BYTES_MAX) {
      b.set(src.subarray(from, to), p);
      p += to - from;
    } else {
      for (let k = from; k < to; k++) b[p++] = src[k] as number;
    }
    w.length = p;
  }
}

/** writeRestTail appends the rest-section bytes of `r` after its table indexes (see RestTails). */
export function writeRestTail(w: ByteWriter, r: LogRow): void {
  number(w, r.flags);
  string(w, r.eventName);
  number(w, r.droppedAttributesCount);
  attributes(w, r.attributes);
  if (r.body.type === 'string') {
    w.u8(0);
  } else {
    w.u8(0x91);
    value(w, r.body);
  }
}

/** encodeRestTails writes the tails of `rows` in their order into one slab (see RestTails). */
export function encodeRestTails(rows: readonly LogRow[], w: ByteWriter): RestTails {
  const n = rows.length;
  const starts = new Uint32Array(n);
  const ends = new Uint32Array(n);
  w.reset();
  for (let i = 0; i < n; i++) {
    starts[i] = w.length;
    writeRestTail(w, rows[i] as LogRow);
    ends[i] = w.length;
  }
  return { bytes: w.bytes, starts, ends };
}

/** packed appends STORAGE_PACKR's bytes of `v` (a value not written by hand). */
function packed(w: ByteWriter, v: unknown): void {
  w.raw(STORAGE_PACKR.pack(v));
}

/** arrayHeader appends the header of an array of `n` items. */
function arrayHeader(w: ByteWriter, n: number): void {
  assert(n >>> 0 === n, 'an array length is a u32');
  if (n < 0x10) {
    w.u8(0x90 | n);
    return;
  }
  w.ensure(5);
  const b = w.bytes;
  let p = w.length;
  if (n < 0x10000) {
    b[p++] = 0xdc;
  } else {
    b[p++] = 0xdd;
    b[p++] = n >>> 24;
    b[p++] = (n >>> 16) & 0xff;
  }
  b[p++] = (n >>> 8) & 0xff;
  b[p++] = n & 0xff;
  w.length = p;
}

/** uint32 appends an integer in [0, 2^32) in its shortest unsigned form. */
function uint32(w: ByteWriter, v: number): void {
  w.ensure(5);
  const b = w.bytes;
  let p = w.length;
  if (v < 0x80) {
    b[p++] = v;
  } else if (v < 0x100) {
    b[p++] = 0xcc;
    b[p++] = v;
  } else if (v < 0x10000) {
    b[p++] = 0xcd;
    b[p++] = v >>> 8;
    b[p++] = v & 0xff;
  } else {
    b[p++] = 0xce;
    b[p++] = v >>> 24;
    b[p++] = (v >>> 16) & 0xff;
    b[p++] = (v >>> 8) & 0xff;
    b[p++] = v & 0xff;
  }
  w.length = p;
}

/** SCRATCH_VIEW is the scratch that turns a double or an int64 into its 8 big-endian bytes. */
const SCRATCH_VIEW = new DataView(new ArrayBuffer(8));

/** number appends a JS number as msgpackr does (see the file comment). */
function number(w: ByteWriter, v: number): void {
  if (v >>> 0 === v) {
    uint32(w, v);
    return;
  }
  w.ensure(9);
  const b = w.bytes;
  let p = w.length;
  if (v >> 0 === v) {
    if (v >= -0x20) {
      b[p++] = 0x100 + v;
    } else if (v >= -0x80) {
      b[p++] = 0xd0;
      b[p++] = v + 0x100;
    } else if (v >= -0x8000) {
      b[p++] = 0xd1;
      b[p++] = (v >> 8) & 0xff;
      b[p++] = v & 0xff;
    } else {
      b[p++] = 0xd2;
      b[p++] = (v >> 24) & 0xff;
      b[p++] = (v >> 16) & 0xff;
      b[p++] = (v >> 8) & 0xff;
      b[p++] = v & 0xff;
    }
  } else {
    b[p++] = 0xcb;
    SCRATCH_VIEW.setFloat64(0, v);
    for (let k = 0; k < 8; k++) b[p++] = SCRATCH_VIEW.getUint8(k);
  }
  w.length = p;
}

/**
 * string appends a msgpack string. As msgpackr, the UTF-8 bytes are written
 * after a header sized for the worst case of the UTF-16 length, then moved
 * when the byte length needs a shorter or longer header.
 */
function string(w: ByteWriter, s: string): void {
  const units = s.length;
  w.ensure(STRING_HEADER_BYTES_MAX + 3 * units);
  const b = w.bytes;
  const start = w.length;
  const headerGuess = units < 0x20 ? 1 : units < 0x100 ? 2 : units < 0x10000 ? 3 : 5;
  let p = start + headerGuess;
  if (units < STRING_JS_LOOP_UNITS_MAX) {
    for (let i = 0; i < units; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        b[p++] = c;
      } else if (c < 0x800) {
        b[p++] = (c >> 6) | 0xc0;
        b[p++] = (c & 0x3f) | 0x80;
      } else if ((c & 0xfc00) === 0xd800 && i + 1 < units && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c & 0x03ff) << 10) + (s.charCodeAt(i + 1) & 0x03ff);
        i++;
        b[p++] = (c >> 18) | 0xf0;
        b[p++] = ((c >> 12) & 0x3f) | 0x80;
        b[p++] = ((c >> 6) & 0x3f) | 0x80;
        b[p++] = (c & 0x3f) | 0x80;
      } else if ((c & 0xf800) === 0xd800) {
        b[p++] = 0xef;
        b[p++] = 0xbf;
        b[p++] = 0xbd;
      } else {
        b[p++] = (c >> 12) | 0xe0;
        b[p++] = ((c >> 6) & 0x3f) | 0x80;
        b[p++] = (c & 0x3f) | 0x80;
      }
    }
  } else {
    p += UTF8.encodeInto(s, b.subarray(p)).written;
  }
  const length = p - start - headerGuess;
  const header = length < 0x20 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
  assert(header >= headerGuess, 'UTF-8 is at least as long as UTF-16 in units');
  if (header !== headerGuess) b.copyWithin(start + header, start + headerGuess, p);
  const h = start;
  if (header === 1) {
    b[h] = 0xa0 | length;
  } else if (header === 2) {
    b[h] = 0xd9;
    b[h + 1] = length;
  } else if (header === 3) {
    b[h] = 0xda;
    b[h + 1] = length >>> 8;
    b[h + 2] = length & 0xff;
  } else {
    b[h] = 0xdb;
    b[h + 1] = length >>> 24;
    b[h + 2] = (length >>> 16) & 0xff;
    b[h + 3] = (length >>> 8) & 0xff;
    b[h + 4] = length & 0xff;
  }
  w.length = start + header + length;
}

/** attributes appends an attribute list as its wire form [key, value, key, value, ...]. */
function attributes(w: ByteWriter, kvs: readonly KeyValue[]): void {
  arrayHeader(w, 2 * kvs.length);
  for (const kv of kvs) {
    string(w, kv.key);
    value(w, kv.value);
  }
}

/** value appends anyValueToWire(v)'s msgpack. */
function value(w: ByteWriter, v: AnyValue): void {
  switch (v.type) {
    case 'string':
      string(w, v.value);
      return;
    case 'empty':
      w.u8(0xc0);
      return;
    case 'bool':
      w.u8(v.value ? 0xc3 : 0xc2);
      return;
    case 'double':
      number(w, v.value);
      return;
    case 'int':
      if (v.value >= BIG_INT64_MIN && v.value <= BIG_INT64_MAX) {
        w.ensure(9);
        w.bytes[w.length++] = 0xd3;
        SCRATCH_VIEW.setBigInt64(0, v.value);
        for (let k = 0; k < 8; k++) w.bytes[w.length++] = SCRATCH_VIEW.getUint8(k);
        return;
      }
      packed(w, v.value);
      return;
    case 'bytes':
    case 'array':
    case 'kvlist':
      packed(w, anyValueToWire(v));
      return;
  }
}
