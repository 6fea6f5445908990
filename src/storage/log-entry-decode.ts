/**
 * log-entry-decode.ts — the apply path's decoder of logs-only shard entries
 * (shard-entry.ts) straight from their bytes: the rows are built from the
 * entry's msgpack without msgpackr's intermediate value tree (an array per
 * record, per attribute list, per resource and scope), which the profile of
 * a one-node logs ingest showed as a fifth of the main thread's busy time
 * and much of its garbage (bench/README.md, ingest, s17).
 *
 * decodeLogEntry takes exactly the entries log-entry.ts's checkLogEntry
 * takes (the fast grammar drawn there: scalar bodies and attribute values,
 * well-formed UTF-8 of at most STRING_FAST_BYTES_MAX bytes, bin8 ids of the
 * right lengths, no spans and no points) and returns the entry
 * decodeShardEntry returns for them: the same fields in the same order, the
 * same AnyValue types (msgpack int64 and uint64 forms are 'int', every other
 * number is 'double', as msgpackr's bigints and Numbers are), every value
 * passed through the same WireReader calls (key, scalarValue, pair, id,
 * string), so the interning and the id slab are those of the msgpackr path.
 * For anything else it returns null and the caller decodes with
 * decodeShardEntry, which decides between a valid entry and ERR_CORRUPTION.
 * It never throws for bad bytes. log-entry-decode.test.ts checks it against
 * decodeShardEntry on seeded entries of every shape, flipped and cut.
 *
 * Pure code. Its state: the WireReader the caller passes, and caches per
 * thread that only ever hand out values equal to what decoding gives
 * (STRINGS and PAIRS below, byte-key-cache.ts; the resource and scope
 * tables, log-table-cache.ts).
 */
import { StorageLimits as L } from '../limits.js';
import type { AnyValue, KeyValue, LogRow, Resource, Scope } from './rows.js';
import { SEVERITY_NUMBER_MAX, SPAN_ID_BYTES, TRACE_ID_BYTES } from './rows.js';
import type { EntryPeek } from './entry-header.js';
import { STRING_FAST_BYTES_MAX, Scan, wellFormedUtf8 } from './entry-scan.js';
import type { ShardEntry } from './shard-entry.js';
import { SHARD_ENTRY_VERSION } from './shard-entry.js';
import type { WireReader } from './wire-reader.js';
import { TableCache } from './log-table-cache.js';
import { ByteKeyCache } from './byte-key-cache.js';

/** LOG_FIELDS is the arity of a log record's wire tuple (row-wire.ts). */
const LOG_FIELDS = 13;
/** I64_HI_MAX is the largest high word of a uint64 that is still a signed 64-bit integer (WireReader.i64 refuses the rest). */
const I64_HI_MAX = 0x7fff_ffff;
/** NO_ATTRIBUTES is the one frozen empty attribute list this decoder returns, as row-wire.ts's readers share theirs. */
const NO_ATTRIBUTES: readonly KeyValue[] = Object.freeze([]);
/** EMPTY_BYTES is passed to WireReader.id for an absent id (it returns its shared empty id). */
const EMPTY_BYTES = new Uint8Array(0);

/** Utf8Slicer is Buffer's native UTF-8 and latin1 slices (Buffer.prototype.utf8Slice, latin1Slice: no argument coercion, unlike toString). */
interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

/** Reader is one decode's state: the scan, a Buffer view of the same bytes for UTF-8 slices, and the interning reader. */
interface Reader {
  readonly s: Scan;
  readonly text: Utf8Slicer;
  readonly w: WireReader;
}

/**
 * decodeLogEntry decodes a logs-only entry in the fast grammar whose header
 * `peek` read (peekEntry, rows 'other'), through `w` (a stored-mode reader:
 * decodeShardEntry's shared one), or returns null (see the file comment).
 */
export function decodeLogEntry(bytes: Uint8Array, peek: EntryPeek, w: WireReader): ShardEntry | null {
  if (peek.rows !== 'other' || bytes.length > L.entryBytesMax) return null;
  const h = peek.header;
  const s = new Scan(bytes);
  s.at = peek.scan.at;
  if (s.byte() !== 0x90 || s.byte() !== 0x90) return null; // no spans, no points
  const n = s.arrayHeader();
  if (n < 1 || n > L.rowsPerEntryMax) return null;
  // decodeShardEntry refuses table entries past the row count.
  if (h.resources > n || h.scopes > n) return null;
  const rowsAt = s.at;
  const r: Reader = { s, text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as Utf8Slicer, w };
  s.at = h.resourcesAt;
  const resources = table(r, RESOURCES, h.scopesAt, h.resources, readResource);
  if (resources === null) return null;
  const scopes = table(r, SCOPES, peek.scan.at, h.scopes, readScope);
  if (scopes === null) return null;
  if (s.at !== peek.scan.at || s.bad) return null;
  s.at = rowsAt;
  const logs: LogRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = readLog(r, h.tenant, resources, scopes);
    if (row === null) return null;
    logs[i] = row;
  }
  if (s.at !== s.end || s.bad) return null;
  return { version: SHARD_ENTRY_VERSION, tenant: h.tenant, idempotencyKey: h.idempotencyKey, part: h.part, parts: h.parts, leaderTimeMs: h.leaderTimeMs, spans: [], points: [], logs };
}

/**
 * STRINGS is the decoder's cache of short strings by their UTF-8 bytes
 * (StorageLimits.logStringCacheSlots slots of at most logStringCacheBytesMax
 * bytes, byte-key-cache.ts): attribute keys, short values and severity texts
 * repeat on every record; a hit returns a flat string whose hash V8 already
 * knows. Only well-formed strings are stored, so a hit needs no UTF-8 check.
 * One cache per thread: a decode runs synchronously to its end.
 */
const STRINGS = new ByteKeyCache<string>(L.logStringCacheSlots, L.logStringCacheBytesMax);

/**
 * PAIRS is the decoder's cache of whole attribute pairs by their bytes (the
 * key string and a string or int64 value, at most logPairCacheBytesMax
 * bytes): the KeyValue the reader's key, scalarValue and pair calls gave
 * when those bytes were first decoded, so a hit skips two string decodes
 * and three interning lookups, and outlives the stored reader's
 * replacement every storedReaderEntriesMax entries. Only shared pairs
 * (what `pair(..., true)` returned) are stored.
 */
const PAIRS = new ByteKeyCache<KeyValue>(L.logPairCacheSlots, L.logPairCacheBytesMax);

/** strLength reads a string header (fixstr, str8, str16, str32) and returns the byte length, or -1 (not a string, or past the end). */
function strLength(s: Scan): number {
  const t = s.byte();
  let n: number;
  if (t >= 0xa0 && t <= 0xbf) n = t - 0xa0;
  else if (t === 0xd9) n = s.byte();
  else if (t === 0xda) {
    if (s.at + 2 > s.end) return -1;
    n = s.dv.getUint16(s.at);
    s.at += 2;
  } else if (t === 0xdb) {
    if (s.at + 4 > s.end) return -1;
    n = s.dv.getUint32(s.at);
    s.at += 4;
  } else return -1;
  return n >= 0 && n <= s.end - s.at ? n : -1;
}

/** RESOURCES and SCOPES are the decoded tables shared between entries with the same table bytes (log-table-cache.ts). */
const RESOURCES = new TableCache<Resource>();
const SCOPES = new TableCache<Scope>();

/**
 * table reads the resource or scope table that starts at the scan and ends
 * at `end` (an array of `count` items read by `item`), from `cache` when an
 * earlier entry had the same bytes, or returns null; the scan ends at `end`.
 */
function table<T>(r: Reader, cache: TableCache<T>, end: number, count: number, item: (r: Reader) => T | null): readonly T[] | null {
  const s = r.s;
  const at = s.at;
  const key = end - at <= L.logTableCacheKeyBytesMax ? r.text.latin1Slice(at, end) : null;
  const known = key === null ? undefined : cache.get(key);
  if (known !== undefined) {
    s.at = end;
    return known;
  }
  if (s.arrayHeader() !== count) return null;
  const out: T[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const v = item(r);
    if (v === null) return null;
    out[i] = v;
  }
  if (s.at !== end || s.bad) return null;
  if (key !== null) cache.set(key, out);
  return out;
}

/** str reads a fast-grammar string (what Scan.string takes: well-formed UTF-8 of at most STRING_FAST_BYTES_MAX bytes) and builds it, or returns null. */
function str(r: Reader): string | null {
  const s = r.s;
  const n = strLength(s);
  if (n < 0 || n > STRING_FAST_BYTES_MAX) return null;
  const at = s.at;
  const end = at + n;
  s.at = end;
  if (n <= L.logStringCacheBytesMax) {
    const known = STRINGS.get(s.b, at, end);
    if (known !== undefined) return known;
    if (!wellFormedUtf8(s.b, at, end)) return null;
    const out = r.text.utf8Slice(at, end);
    STRINGS.put(s.b, at, end, out);
    return out;
  }
  return wellFormedUtf8(s.b, at, end) ? r.text.utf8Slice(at, end) : null;
}

/** isStringType says whether a msgpack type byte starts a string (fixstr, str8, str16, str32). */
function isStringType(t: number): boolean {
  return (t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb);
}

/**
 * int64 reads a msgpack int64 or uint64 (what msgpackr decodes to a bigint)
 * as the bigint WireReader.i64 accepts, or returns null (a uint64 past the
 * signed range, which decodeShardEntry refuses).
 */
function int64(s: Scan): bigint | null {
  const t = s.byte();
  if ((t !== 0xcf && t !== 0xd3) || s.at + 8 > s.end) return null;
  if (t === 0xcf && s.dv.getUint32(s.at) > I64_HI_MAX) return null;
  const v = s.dv.getBigInt64(s.at);
  s.at += 8;
  return v;
}

/** u64 reads a time (Scan.u64's forms: uint64, or int64 >= 0) as a bigint, or returns null. */
function u64(s: Scan): bigint | null {
  const at = s.at + 1;
  if (!s.u64()) return null;
  return s.dv.getBigUint64(at);
}

/**
 * anyValue reads a body or a non-interned attribute value as readAnyValue
 * (row-wire.ts) builds it from msgpackr's value: nil, bool, string, int
 * (int64 / uint64 forms) or double (every other number form), or null.
 */
function anyValue(r: Reader): AnyValue | null {
  const s = r.s;
  const t = s.at < s.end ? (s.b[s.at] as number) : -1;
  if (t === 0xc0) {
    s.at++;
    return { type: 'empty' };
  }
  if (t === 0xc2 || t === 0xc3) {
    s.at++;
    return { type: 'bool', value: t === 0xc3 };
  }
  if (isStringType(t)) {
    const v = str(r);
    return v === null ? null : { type: 'string', value: r.w.string(v, 'log body', L.stringBytesMax) };
  }
  if (t === 0xcf || t === 0xd3) {
    const v = int64(s);
    return v === null ? null : { type: 'int', value: r.w.i64(v, 'log body') };
  }
  if (!s.number()) return null;
  return { type: 'double', value: s.num };
}

/**
 * pairEnd is where the attribute pair at b[at] ends when it is a key of the
 * short string forms (fixstr, str8) and a value of those forms or int64 /
 * uint64, within `limit` and at most logPairCacheBytesMax bytes in all (a
 * pair PAIRS may hold); otherwise -1. It only measures: the bytes are
 * checked when the pair is decoded.
 */
function pairEnd(b: Uint8Array, at: number, limit: number): number {
  const end = Math.min(limit, at + L.logPairCacheBytesMax);
  let p = shortStrEnd(b, at, end);
  if (p < 0 || p >= end) return -1;
  const t = b[p] as number;
  p = t === 0xcf || t === 0xd3 ? p + 9 : shortStrEnd(b, p, end);
  return p >= 0 && p <= end ? p : -1;
}

/** shortStrEnd is where a fixstr or str8 string at b[at] ends (possibly past `end`: the caller checks), or -1 for any other form or a header past `end`. */
function shortStrEnd(b: Uint8Array, at: number, end: number): number {
  if (at >= end) return -1;
  const t = b[at] as number;
  if (t >= 0xa0 && t <= 0xbf) return at + 1 + (t - 0xa0);
  if (t === 0xd9 && at + 1 < end) return at + 2 + (b[at + 1] as number);
  return -1;
}

/** attributes reads a flat attribute list as readAttributes does (string and int values interned through the reader), or returns null. */
function attributes(r: Reader, what: string): readonly KeyValue[] | null {
  const s = r.s;
  const w = r.w;
  const n = s.arrayHeader();
  if (n < 0 || n % 2 !== 0 || n / 2 > L.attributesPerListMax) return null;
  if (n === 0) return NO_ATTRIBUTES;
  const out: KeyValue[] = new Array(n / 2);
  for (let i = 0; i < n; i += 2) {
    const at = s.at;
    const end = pairEnd(s.b, at, s.end);
    if (end > 0) {
      const known = PAIRS.get(s.b, at, end);
      if (known !== undefined) {
        s.at = end;
        out[i / 2] = known;
        continue;
      }
    }
    const k = str(r);
    if (k === null) return null;
    const key = w.key(k, what, L.stringBytesMax);
    const t = s.at < s.end ? (s.b[s.at] as number) : -1;
    let kv: KeyValue;
    if (isStringType(t)) {
      const v = str(r);
      if (v === null) return null;
      kv = w.pair(key, w.scalarValue(v, what, L.stringBytesMax), true);
      if (end > 0) PAIRS.put(s.b, at, end, kv);
    } else if (t === 0xcf || t === 0xd3) {
      const v = int64(s);
      if (v === null) return null;
      kv = w.pair(key, w.scalarValue(v, what, L.stringBytesMax), true);
      if (end > 0) PAIRS.put(s.b, at, end, kv);
    } else {
      const v = anyValue(r);
      if (v === null) return null;
      kv = w.pair(key, v, false);
    }
    out[i / 2] = kv;
  }
  return out;
}

/** readResource reads a wire Resource ([attributes, droppedAttributesCount, schemaUrl]) as row-wire.ts's readResource builds it, or returns null. */
function readResource(r: Reader): Resource | null {
  if (r.s.arrayHeader() !== 3) return null;
  const attrs = attributes(r, 'resource attributes');
  if (attrs === null) return null;
  const dropped = r.s.uint();
  const schemaUrl = dropped < 0 ? null : str(r);
  if (schemaUrl === null) return null;
  return { attributes: attrs, droppedAttributesCount: dropped, schemaUrl: r.w.string(schemaUrl, 'resource schemaUrl', L.stringBytesMax) };
}

/** readScope reads a wire Scope ([name, version, attributes, droppedAttributesCount, schemaUrl]) as row-wire.ts's readScope builds it, or returns null. */
function readScope(r: Reader): Scope | null {
  if (r.s.arrayHeader() !== 5) return null;
  const name = str(r);
  const version = name === null ? null : str(r);
  if (name === null || version === null) return null;
  const attrs = attributes(r, 'scope attributes');
  if (attrs === null) return null;
  const dropped = r.s.uint();
  const schemaUrl = dropped < 0 ? null : str(r);
  if (schemaUrl === null) return null;
  const w = r.w;
  return {
    name: w.string(name, 'scope name', L.stringBytesMax),
    version: w.string(version, 'scope version', L.stringBytesMax),
    attributes: attrs,
    droppedAttributesCount: dropped,
    schemaUrl: w.string(schemaUrl, 'scope schemaUrl', L.stringBytesMax),
  };
}

/**
 * id reads a bin8 id of 0 or `length` bytes into the reader's slab, or
 * returns null: WireReader.id's result (the shared empty id, or a copy in
 * the slab), copied from the entry's bytes by WireReader.idAt without a
 * view of them per id.
 */
function id(r: Reader, length: number, what: string): Uint8Array | null {
  const s = r.s;
  const n = s.at + 1 < s.end ? (s.b[s.at + 1] as number) : -1;
  const at = s.binAt(n === 0 ? 0 : length);
  if (at < 0) return null;
  return n === 0 ? r.w.id(EMPTY_BYTES, what, length, true) : r.w.idAt(s.b, at, length);
}

/** readLog reads one wire log record as row-wire.ts's readLog builds it (same fields, same order), or returns null. */
function readLog(r: Reader, tenant: string, resources: readonly Resource[], scopes: readonly Scope[]): LogRow | null {
  const s = r.s;
  const w = r.w;
  if (s.arrayHeader() !== LOG_FIELDS) return null;
  const ri = s.uint();
  const si = s.uint();
  if (ri < 0 || ri >= resources.length || si < 0 || si >= scopes.length) return null;
  const timeUnixNano = u64(s);
  const observedTimeUnixNano = timeUnixNano === null ? null : u64(s);
  if (timeUnixNano === null || observedTimeUnixNano === null) return null;
  const severityNumber = s.uint();
  if (severityNumber < 0 || severityNumber > SEVERITY_NUMBER_MAX) return null;
  const severityText = str(r);
  if (severityText === null) return null;
  const body = anyValue(r);
  if (body === null) return null;
  const attrs = attributes(r, 'log attributes');
  if (attrs === null) return null;
  const dropped = s.uint();
  if (dropped < 0) return null;
  const traceId = id(r, TRACE_ID_BYTES, 'log traceId');
  const spanId = traceId === null ? null : id(r, SPAN_ID_BYTES, 'log spanId');
  if (traceId === null || spanId === null) return null;
  const flags = s.uint();
  const eventName = flags < 0 ? null : str(r);
  if (eventName === null || s.bad) return null;
  return {
    tenant,
    timeUnixNano,
    observedTimeUnixNano,
    severityNumber,
    severityText: w.key(severityText, 'log severityText', L.stringBytesMax),
    body,
    attributes: attrs,
    droppedAttributesCount: dropped,
    traceId,
    spanId,
    flags,
    eventName: w.string(eventName, 'log eventName', L.stringBytesMax),
    resource: resources[ri] as Resource,
    scope: scopes[si] as Scope,
  };
}
