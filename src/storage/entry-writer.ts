/**
 * entry-writer.ts — writes the msgpack bytes of a shard entry (shard-entry.ts
 * layout, row tuples as row-wire.ts draws them) straight from the rows,
 * without building the wire tuples and without msgpackr's generic `pack`.
 * It exists because that pack and the tuples it walks were the largest single
 * cost of a receive worker (bench/README.md, "Write-path CPU per item").
 *
 * The bytes are exactly those `STORAGE_PACKR.pack` writes for the same
 * entry's wire tuples (entry-writer.test.ts compares them over seeded rows),
 * so nothing stored changes: msgpackr 2.1.4 with storage-packr.ts's options
 * writes
 *
 *   number   an integer in [0, 2^32): positive fixint below 0x80 (useRecords
 *            is false), else uint8 / uint16 / uint32; an integer in
 *            [-2^31, 0): negative fixint from -32, else int8 / int16 / int32;
 *            anything else (fractions, larger magnitudes, NaN, ±Infinity)
 *            float64 (useFloat32 is 0). -0 is the fixint 0.
 *   bigint   int64 in [-2^63, 2^63), else uint64 below 2^64; anything else
 *            cannot be written (msgpackr throws);
 *   string   UTF-8 (a lone surrogate as U+FFFD) behind the shortest header
 *            of its byte length: fixstr < 32, str8 < 256, str16 < 65,536, str32;
 *   bytes    bin8 < 256, bin16 < 65,536, bin32 (a Uint8Array or Buffer);
 *   array    fixarray < 16, array16 < 65,536, array32;
 *   nil, true, false.
 *
 * Anything else where the rows' types promise one of these (another typed
 * array, an object, undefined), and an entry whose bytes would pass
 * StorageLimits.entryBytesMax, makes the writer decline (return null): the
 * caller then takes the msgpackr path, which refuses or encodes exactly as
 * before. So does a row that is not what its type says (a missing list is a
 * TypeError here): the writer never throws for bad rows.
 *
 * Invariants: between calls the scratch holds no entry (`#pos` is reset at
 * the start of every write); the scratch never grows past
 * StorageLimits.entryWriterScratchBytesMax; a returned entry is a
 * copy, never a view of the scratch.
 */
import { OtlpdbError, assert } from '../errors.js';
import { StorageLimits as L } from '../limits.js';
import type { AnyValue, KeyValue, LogRow, MetricData, MetricPointRow, NumberValue, Resource, Scope, SpanRow } from './rows.js';

const SCRATCH_BYTES_INITIAL = 64 * 1024;
const ANY_ARRAY = 0;
const ANY_KVLIST = 1;
const DATA_GAUGE = 0;
const DATA_SUM = 1;
const I64_MIN = -(2n ** 63n);
const I64_END = 2n ** 63n;
const U64_END = 2n ** 64n;
/** SHORT_STRING_CHARS is msgpackr's bound below which it encodes UTF-8 in JavaScript (the same bytes as Buffer's encoder). */
const SHORT_STRING_CHARS = 0x40;

/** INTERN_SCAN_ENTRIES_MAX is the table length from which EntryWriter finds a resource's or scope's bytes through a map instead of comparing them with each entry. */
const INTERN_SCAN_ENTRIES_MAX = L.internScanEntriesMax;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** Declined is thrown inside the writer when the entry needs the msgpackr path; writeEntry turns it into null. */
class Declined {}
const DECLINED = new Declined();

/** Utf8Write is Buffer's utf8Write (no argument checks: the room is ours). */
type Utf8Write = (this: Buffer, s: string, offset: number, length: number) => number;
const utf8Write = (Buffer.prototype as unknown as { utf8Write: Utf8Write }).utf8Write;

/**
 * EntryWriter writes shard entries of one signal: spans only, points only
 * (gauges and sums; a point of another kind or with exemplars makes it
 * decline) or logs only. One per thread is enough: a write runs
 * synchronously to its end.
 */
export class EntryWriter {
  #buf: Buffer = Buffer.allocUnsafe(SCRATCH_BYTES_INITIAL);
  #view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
  #pos = 0;
  readonly #resources = new Map<Resource, number>();
  readonly #scopes = new Map<Scope, number>();
  /** #byBytes maps 'r' or 's' + the latin1 of a resource's or scope's bytes to its table index. */
  readonly #byBytes = new Map<string, number>();
  readonly #resourceBytes: Uint8Array[] = [];
  readonly #scopeBytes: Uint8Array[] = [];
  /** #resIdx[i] and #scopeIdx[i] are row i's table indexes during a write (scratch, reused). */
  #resIdx = new Int32Array(0);
  #scopeIdx = new Int32Array(0);

  /**
   * writeEntry returns the entry's bytes (header fields as encodeShardEntry
   * writes them, resources and scopes deduplicated by identity, then by
   * bytes, in first-use order), or null when it declines (see the file
   * comment). At most one of `spans`, `points` and `logs` is non-empty.
   */
  writeEntry(
    version: number,
    tenant: string,
    idempotencyKey: string,
    part: number,
    parts: number,
    leaderTimeMs: number,
    spans: readonly SpanRow[],
    points: readonly MetricPointRow[],
    logs: readonly LogRow[],
  ): Uint8Array | null {
    assert((spans.length > 0 ? 1 : 0) + (points.length > 0 ? 1 : 0) + (logs.length > 0 ? 1 : 0) <= 1, 'EntryWriter writes rows of one signal');
    this.#pos = 0;
    this.#resources.clear();
    this.#scopes.clear();
    this.#byBytes.clear();
    this.#resourceBytes.length = 0;
    this.#scopeBytes.length = 0;
    try {
      // Rows first, into the scratch after a gap: the tables are only known once every row is interned.
      const rows = spans.length + points.length + logs.length;
      if (this.#resIdx.length < rows) {
        // Grown once to the largest entry's row count (the callers' entries hold at most StorageLimits.rowsPerEntryMax rows).
        const cap = Math.max(rows, 2 * this.#resIdx.length);
        this.#resIdx = new Int32Array(cap);
        this.#scopeIdx = new Int32Array(cap);
      }
      const resIdx = this.#resIdx;
      const scopeIdx = this.#scopeIdx;
      for (let i = 0; i < spans.length; i++) {
        const s = spans[i] as SpanRow;
        resIdx[i] = this.#intern(s.resource, this.#resources, this.#resourceBytes, 'r');
        scopeIdx[i] = this.#intern(s.scope, this.#scopes, this.#scopeBytes, 's');
      }
      for (let i = 0; i < points.length; i++) {
        const p = points[i] as MetricPointRow;
        resIdx[i] = this.#intern(p.resource, this.#resources, this.#resourceBytes, 'r');
        scopeIdx[i] = this.#intern(p.scope, this.#scopes, this.#scopeBytes, 's');
      }
      for (let i = 0; i < logs.length; i++) {
        const r = logs[i] as LogRow;
        resIdx[i] = this.#intern(r.resource, this.#resources, this.#resourceBytes, 'r');
        scopeIdx[i] = this.#intern(r.scope, this.#scopes, this.#scopeBytes, 's');
      }
      this.#pos = 0;
      this.#u8(0x9b); // fixarray of 11
      this.#number(version);
      this.#string(tenant);
      this.#string(idempotencyKey);
      this.#number(part);
      this.#number(parts);
      this.#number(leaderTimeMs);
      this.#table(this.#resourceBytes);
      this.#table(this.#scopeBytes);
      this.#arrayHeader(spans.length);
      for (let i = 0; i < spans.length; i++) this.#span(spans[i] as SpanRow, resIdx[i] as number, scopeIdx[i] as number);
      this.#arrayHeader(points.length);
      for (let i = 0; i < points.length; i++) this.#point(points[i] as MetricPointRow, resIdx[i] as number, scopeIdx[i] as number);
      this.#arrayHeader(logs.length);
      for (let i = 0; i < logs.length; i++) this.#log(logs[i] as LogRow, resIdx[i] as number, scopeIdx[i] as number);
    } catch (err) {
      // A broken invariant of this code (OtlpdbError ERR_INTERNAL from assert) is a bug and is not hidden.
      if (err instanceof OtlpdbError) throw err;
      // DECLINED, or a row that is not what its type says (a TypeError on a missing list...): the msgpackr path decides.
      return null;
    } finally {
      // Drop what the tables and maps hold of this entry's rows.
      this.#resources.clear();
      this.#scopes.clear();
      this.#byBytes.clear();
      this.#resourceBytes.length = 0;
      this.#scopeBytes.length = 0;
    }
    if (this.#pos > L.entryBytesMax) return null;
    const out = new Uint8Array(this.#pos);
    out.set(this.#buf.subarray(0, this.#pos));
    return out;
  }

  /**
   * #intern returns the table index of a resource or scope: by identity, else
   * by its encoded bytes (written at the scratch's start, then kept as a
   * copy), as shard-entry.ts's RefTables does for the msgpackr path. A table
   * shorter than INTERN_SCAN_ENTRIES_MAX is searched by comparing bytes (an
   * entry's tables hold one or a few); a longer one through #byBytes, which
   * gets every entry's key once the table reaches that length.
   */
  #intern<T extends Resource | Scope>(v: T, byObject: Map<T, number>, table: Uint8Array[], prefix: 'r' | 's'): number {
    const known = byObject.get(v);
    if (known !== undefined) return known;
    this.#pos = 0;
    if (prefix === 'r') this.#resource(v as Resource);
    else this.#scope(v as Scope);
    const bytes = this.#buf.subarray(0, this.#pos);
    let index = -1;
    if (table.length < INTERN_SCAN_ENTRIES_MAX) {
      for (let k = 0; k < table.length && index < 0; k++) if (sameBytes(table[k] as Uint8Array, bytes)) index = k;
    } else index = this.#byBytes.get(prefix + bytes.toString('latin1')) ?? -1;
    if (index < 0) {
      index = table.length;
      const copy = new Uint8Array(bytes.length);
      copy.set(bytes);
      table.push(copy);
      if (table.length === INTERN_SCAN_ENTRIES_MAX) {
        for (let k = 0; k < table.length; k++) this.#byBytes.set(prefix + latin1(table[k] as Uint8Array), k);
      } else if (table.length > INTERN_SCAN_ENTRIES_MAX) this.#byBytes.set(prefix + latin1(copy), index);
    }
    byObject.set(v, index);
    assert(index < table.length, 'an interned index is in its table');
    return index;
  }

  #table(table: readonly Uint8Array[]): void {
    this.#arrayHeader(table.length);
    for (const b of table) {
      this.#room(b.length);
      this.#buf.set(b, this.#pos);
      this.#pos += b.length;
    }
  }

  #resource(r: Resource): void {
    this.#arrayHeader(3);
    this.#attributes(r.attributes);
    this.#number(r.droppedAttributesCount);
    this.#string(r.schemaUrl);
  }

  #scope(s: Scope): void {
    this.#arrayHeader(5);
    this.#string(s.name);
    this.#string(s.version);
    this.#attributes(s.attributes);
    this.#number(s.droppedAttributesCount);
    this.#string(s.schemaUrl);
  }

  #span(s: SpanRow, resourceIndex: number, scopeIndex: number): void {
    this.#arrayHeader(19);
    this.#number(resourceIndex);
    this.#number(scopeIndex);
    this.#bin(s.traceId);
    this.#bin(s.spanId);
    this.#bin(s.parentSpanId);
    this.#string(s.traceState);
    this.#number(s.flags);
    this.#string(s.name);
    this.#number(s.kind);
    this.#bigint(s.startTimeUnixNano);
    this.#bigint(s.endTimeUnixNano);
    this.#number(s.status.code);
    this.#string(s.status.message);
    this.#attributes(s.attributes);
    this.#number(s.droppedAttributesCount);
    this.#arrayHeader(s.events.length);
    for (const e of s.events) {
      this.#arrayHeader(4);
      this.#bigint(e.timeUnixNano);
      this.#string(e.name);
      this.#attributes(e.attributes);
      this.#number(e.droppedAttributesCount);
    }
    this.#number(s.droppedEventsCount);
    this.#arrayHeader(s.links.length);
    for (const l of s.links) {
      this.#arrayHeader(6);
      this.#bin(l.traceId);
      this.#bin(l.spanId);
      this.#string(l.traceState);
      this.#attributes(l.attributes);
      this.#number(l.droppedAttributesCount);
      this.#number(l.flags);
    }
    this.#number(s.droppedLinksCount);
  }

  #point(p: MetricPointRow, resourceIndex: number, scopeIndex: number): void {
    this.#arrayHeader(11);
    this.#number(resourceIndex);
    this.#number(scopeIndex);
    this.#string(p.name);
    this.#string(p.description);
    this.#string(p.unit);
    this.#data(p.data);
    this.#attributes(p.attributes);
    this.#bigint(p.startTimeUnixNano);
    this.#bigint(p.timeUnixNano);
    this.#number(p.flags);
    // Exemplars are rare; their tuples stay with the msgpackr path.
    if (p.exemplars.length !== 0) throw DECLINED;
    this.#arrayHeader(0);
  }

  #log(r: LogRow, resourceIndex: number, scopeIndex: number): void {
    this.#arrayHeader(13);
    this.#number(resourceIndex);
    this.#number(scopeIndex);
    this.#bigint(r.timeUnixNano);
    this.#bigint(r.observedTimeUnixNano);
    this.#number(r.severityNumber);
    this.#string(r.severityText);
    this.#anyValue(r.body, 1);
    this.#attributes(r.attributes);
    this.#number(r.droppedAttributesCount);
    this.#bin(r.traceId);
    this.#bin(r.spanId);
    this.#number(r.flags);
    this.#string(r.eventName);
  }

  #data(d: MetricData): void {
    if (d.type === 'gauge') {
      this.#arrayHeader(2);
      this.#number(DATA_GAUGE);
      this.#numberValue(d.value);
    } else if (d.type === 'sum') {
      this.#arrayHeader(4);
      this.#number(DATA_SUM);
      this.#number(d.temporality);
      this.#bool(d.monotonic);
      this.#numberValue(d.value);
    } else {
      // Histograms, exponential histograms and summaries stay with the msgpackr path.
      throw DECLINED;
    }
  }

  #numberValue(v: NumberValue): void {
    if (v.type === 'double') this.#number(v.value);
    else if (v.type === 'int') this.#bigint(v.value);
    else throw DECLINED;
  }

  #attributes(attrs: readonly KeyValue[]): void {
    this.#arrayHeader(attrs.length * 2);
    for (let i = 0; i < attrs.length; i++) {
      const kv = attrs[i] as KeyValue;
      this.#string(kv.key);
      this.#anyValue(kv.value, 1);
    }
  }

  #anyValue(v: AnyValue, depth: number): void {
    // The readers refuse nesting at anyValueDepthMax (depth 1 at the top); leave such values to the msgpackr path.
    if (depth >= L.anyValueDepthMax) throw DECLINED;
    switch (v.type) {
      case 'empty':
        this.#u8(0xc0);
        return;
      case 'string':
        this.#string(v.value);
        return;
      case 'bool':
        this.#bool(v.value);
        return;
      case 'int':
        this.#bigint(v.value);
        return;
      case 'double':
        this.#number(v.value);
        return;
      case 'bytes':
        this.#bin(v.value);
        return;
      case 'array':
        this.#arrayHeader(v.values.length + 1);
        this.#number(ANY_ARRAY);
        for (const x of v.values) this.#anyValue(x, depth + 1);
        return;
      case 'kvlist':
        this.#arrayHeader(v.values.length * 2 + 1);
        this.#number(ANY_KVLIST);
        for (const kv of v.values) {
          this.#string(kv.key);
          this.#anyValue(kv.value, depth + 1);
        }
        return;
      default:
        throw DECLINED;
    }
  }

  /** #arrayHeader writes the header of an array of `n` items (the items follow); a length that is not a u32 (a list that is not one) declines. */
  #arrayHeader(n: number): void {
    if (n >>> 0 !== n) throw DECLINED;
    this.#room(5);
    const b = this.#buf;
    if (n < 0x10) b[this.#pos++] = 0x90 | n;
    else if (n < 0x10000) {
      b[this.#pos++] = 0xdc;
      b[this.#pos++] = n >> 8;
      b[this.#pos++] = n & 0xff;
    } else {
      b[this.#pos++] = 0xdd;
      this.#view.setUint32(this.#pos, n);
      this.#pos += 4;
    }
  }

  #u8(v: number): void {
    this.#room(1);
    this.#buf[this.#pos++] = v;
  }

  #bool(v: boolean): void {
    if (typeof v !== 'boolean') throw DECLINED;
    this.#u8(v ? 0xc3 : 0xc2);
  }

  #number(v: number): void {
    if (typeof v !== 'number') throw DECLINED;
    this.#room(9);
    const b = this.#buf;
    if (v >>> 0 === v) {
      if (v < 0x80) b[this.#pos++] = v;
      else if (v < 0x100) {
        b[this.#pos++] = 0xcc;
        b[this.#pos++] = v;
      } else if (v < 0x10000) {
        b[this.#pos++] = 0xcd;
        b[this.#pos++] = v >> 8;
        b[this.#pos++] = v & 0xff;
      } else {
        b[this.#pos++] = 0xce;
        this.#view.setUint32(this.#pos, v);
        this.#pos += 4;
      }
    } else if (v >> 0 === v) {
      if (v >= -0x20) b[this.#pos++] = 0x100 + v;
      else if (v >= -0x80) {
        b[this.#pos++] = 0xd0;
        b[this.#pos++] = v + 0x100;
      } else if (v >= -0x8000) {
        b[this.#pos++] = 0xd1;
        this.#view.setInt16(this.#pos, v);
        this.#pos += 2;
      } else {
        b[this.#pos++] = 0xd2;
        this.#view.setInt32(this.#pos, v);
        this.#pos += 4;
      }
    } else {
      b[this.#pos++] = 0xcb;
      this.#view.setFloat64(this.#pos, v);
      this.#pos += 8;
    }
  }

  #bigint(v: bigint): void {
    if (typeof v !== 'bigint') throw DECLINED;
    this.#room(9);
    if (v < I64_END && v >= I64_MIN) {
      this.#buf[this.#pos++] = 0xd3;
      this.#view.setBigInt64(this.#pos, v);
    } else if (v < U64_END && v > 0n) {
      this.#buf[this.#pos++] = 0xcf;
      this.#view.setBigUint64(this.#pos, v);
    } else throw DECLINED;
    this.#pos += 8;
  }

  #bin(v: Uint8Array): void {
    if (!(v instanceof Uint8Array) || (v.constructor !== Uint8Array && v.constructor !== Buffer)) throw DECLINED;
    const n = v.length;
    this.#room(n + 5);
    const b = this.#buf;
    if (n < 0x100) {
      b[this.#pos++] = 0xc4;
      b[this.#pos++] = n;
    } else if (n < 0x10000) {
      b[this.#pos++] = 0xc5;
      b[this.#pos++] = n >> 8;
      b[this.#pos++] = n & 0xff;
    } else {
      b[this.#pos++] = 0xc6;
      this.#view.setUint32(this.#pos, n);
      this.#pos += 4;
    }
    b.set(v, this.#pos);
    this.#pos += n;
  }

  #string(s: string): void {
    if (typeof s !== 'string') throw DECLINED;
    const chars = s.length;
    // At most 3 UTF-8 bytes per UTF-16 unit (a surrogate pair is 4 bytes for 2 units), plus the largest header.
    this.#room(chars * 3 + 5);
    const b = this.#buf;
    // Write the text after a 1-byte header, then move it when a longer header is needed (rare: 32+ bytes).
    const start = this.#pos;
    let p = start + 1;
    if (chars < SHORT_STRING_CHARS) {
      for (let i = 0; i < chars; i++) {
        let c1 = s.charCodeAt(i);
        let c2: number;
        if (c1 < 0x80) b[p++] = c1;
        else if (c1 < 0x800) {
          b[p++] = (c1 >> 6) | 0xc0;
          b[p++] = (c1 & 0x3f) | 0x80;
        } else if ((c1 & 0xfc00) === 0xd800 && ((c2 = s.charCodeAt(i + 1)) & 0xfc00) === 0xdc00) {
          c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (c2 & 0x03ff);
          i++;
          b[p++] = (c1 >> 18) | 0xf0;
          b[p++] = ((c1 >> 12) & 0x3f) | 0x80;
          b[p++] = ((c1 >> 6) & 0x3f) | 0x80;
          b[p++] = (c1 & 0x3f) | 0x80;
        } else if ((c1 & 0xf800) === 0xd800) {
          b[p++] = 0xef;
          b[p++] = 0xbf;
          b[p++] = 0xbd;
        } else {
          b[p++] = (c1 >> 12) | 0xe0;
          b[p++] = ((c1 >> 6) & 0x3f) | 0x80;
          b[p++] = (c1 & 0x3f) | 0x80;
        }
      }
    } else {
      p += utf8Write.call(b, s, p, b.length - p);
    }
    const n = p - start - 1;
    if (n < 0x20) {
      b[start] = 0xa0 | n;
      this.#pos = p;
      return;
    }
    const header = n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
    b.copyWithin(start + header, start + 1, p);
    if (header === 2) {
      b[start] = 0xd9;
      b[start + 1] = n;
    } else if (header === 3) {
      b[start] = 0xda;
      b[start + 1] = n >> 8;
      b[start + 2] = n & 0xff;
    } else {
      b[start] = 0xdb;
      this.#view.setUint32(start + 1, n);
    }
    this.#pos = start + header + n;
  }

  /** #room makes `n` more bytes writable at #pos, or declines past entryWriterScratchBytesMax. */
  #room(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    if (need > L.entryWriterScratchBytesMax) throw DECLINED;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    size = Math.min(size, L.entryWriterScratchBytesMax);
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
    this.#view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }
}
