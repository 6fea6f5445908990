/**
 * log-entry-decode.ts — a second decoder of logs-only shard entries
 * (shard-entry.ts), for the apply of every log entry: it reads the records
 * straight from the entry bytes in the fast grammar of log-entry.ts instead
 * of having msgpackr build an array per record, per attribute list and per
 * id first, which decodeShardEntry's readers then turn into LogRows (a
 * quarter of a node's main-thread time under log ingest, most of it
 * garbage).
 *
 * The contract is the other fast decoders' (metric-entry.ts,
 * span-entry.ts): decodeLogEntry either returns the ShardEntry that
 * decodeShardEntry returns for the same bytes (equal values, row for row)
 * or null, and the caller then uses decodeShardEntry, which decides and
 * reports any defect exactly as before. It never throws for bad bytes.
 *
 * Equal values by construction: the values go through the same WireReader
 * (stored mode) calls as row-wire.ts readLog and readPairs, fed with the
 * scanned primitives instead of msgpackr's; the resource and scope tables
 * are decoded by msgpackr and row-wire.ts's readResource / readScope, as in
 * decodeShardEntry. Only the forms msgpackr decodes to the values those
 * readers accept are taken: log-entry.ts's grammar, plus byte strings and
 * the tagged array and kvlist AnyValues (bodies and attribute values, within
 * the same depth and size bounds); a 64-bit integer (uint64 or int64) is a
 * bigint there and an `int` AnyValue here, every other number form (float32
 * aside, which goes back) a `double`. Strings are well-formed UTF-8 of at
 * most STRING_FAST_BYTES_MAX bytes, so any decoder gives msgpackr's string.
 *
 * Pure code; the returned rows own no view of `bytes` (ids are copied by
 * WireReader.id, as before).
 */
import { OtlpdbError } from '../errors.js';
import { StorageLimits as L } from '../limits.js';
import { Scan } from './entry-scan.js';
import { readEntryHeader } from './entry-header.js';
import { LOG_FIELDS } from './log-entry.js';
import { unpackRange } from './metric-entry.js';
import { ANY_ARRAY, ANY_KVLIST, EMPTY_LIST, readResource, readScope } from './row-wire.js';
import type { AnyValue, KeyValue, LogRow, Resource, Scope } from './rows.js';
import { SEVERITY_NUMBER_MAX, SPAN_ID_BYTES, TRACE_ID_BYTES } from './rows.js';
import { SHARD_ENTRY_VERSION } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';
import { EMPTY_ID, WireReader } from './wire-reader.js';

/** ASCII_SHORT_BYTES_MAX is the longest string decoded in JS (when ASCII); longer ones, and any non-ASCII one, go to Buffer's UTF-8 decoder. */
const ASCII_SHORT_BYTES_MAX = 16;
/** REPLACEMENT_CHARACTER is what the UTF-8 decoder puts for each ill-formed sequence. */
const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * decodeLogEntry decodes a logs-only shard entry straight from its bytes, or
 * returns null when it is not one this decoder takes (other rows, other
 * forms, or any defect): the caller then uses decodeShardEntry.
 */
export function decodeLogEntry(bytes: Uint8Array): ShardEntry | null {
  if (bytes.length > L.entryBytesMax) return null;
  try {
    return readEntry(new LogScan(bytes));
  } catch (err) {
    // A table or value the regular readers refuse is ERR_CORRUPTION: decodeShardEntry reports it.
    // A broken invariant of this code (ERR_INTERNAL) is a bug and is not hidden.
    if (err instanceof OtlpdbError && err.code !== 'ERR_CORRUPTION') throw err;
    return null;
  }
}

/**
 * Utf8Sliceable is a Buffer's utf8Slice, the decoder Buffer#toString calls
 * (Node 20; msgpackr calls it too), typed here because @types/node leaves it
 * out: toString's argument handling was a measurable share of the decode.
 */
interface Utf8Sliceable {
  utf8Slice(start: number, end: number): string;
}

/** LogScan is a Scan that also decodes the strings it reads. */
class LogScan extends Scan {
  readonly #buf: Utf8Sliceable;

  constructor(b: Uint8Array) {
    super(b);
    this.#buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength) as unknown as Utf8Sliceable;
  }

  /**
   * text reads a string in the fast grammar and decodes it, or returns null.
   * Short ASCII strings are built in JS; any other goes to the UTF-8
   * decoder, which replaces every ill-formed sequence with U+FFFD: a result
   * with U+FFFD is refused (ill-formed bytes, or a rare well-formed U+FFFD,
   * both left to decodeShardEntry), so what is returned is the decoding of
   * well-formed UTF-8, the string every decoder (msgpackr's too) gives. One
   * pass in native code instead of a JS check of every byte first.
   */
  text(): string | null {
    if (!this.stringBytes()) return null;
    const b = this.b;
    const at = this.strAt;
    const n = this.at - at;
    if (n <= ASCII_SHORT_BYTES_MAX) {
      let ascii = 0;
      for (let i = at; i < at + n; i++) ascii |= b[i] as number;
      if (ascii < 0x80) return shortAscii(b, at, n);
    }
    const v = this.#buf.utf8Slice(at, this.at);
    return v.includes(REPLACEMENT_CHARACTER) ? null : v;
  }
}

/** shortAscii is the string of the n <= ASCII_SHORT_BYTES_MAX ASCII bytes at b[at] (four bytes per fromCharCode call). */
function shortAscii(b: Uint8Array, at: number, n: number): string {
  let out = '';
  let i = at;
  const end = at + n;
  for (; i + 4 <= end; i += 4) out += String.fromCharCode(b[i] as number, b[i + 1] as number, b[i + 2] as number, b[i + 3] as number);
  for (; i < end; i++) out += String.fromCharCode(b[i] as number);
  return out;
}

function readEntry(s: LogScan): ShardEntry | null {
  const h = readEntryHeader(s);
  if (h === null) return null;
  const afterTables = s.at;
  if (s.byte() !== 0x90 || s.byte() !== 0x90) return null; // no spans, no points
  const n = s.arrayHeader();
  if (n < 1 || n > L.rowsPerEntryMax) return null;
  // decodeShardEntry refuses table entries past the row count.
  if (h.resources > n || h.scopes > n) return null;
  const w = new WireReader('stored');
  const resources = w.array(unpackRange(s.b, h.resourcesAt, h.scopesAt), 'resources', n).map((r) => readResource(w, r));
  const scopes = w.array(unpackRange(s.b, h.scopesAt, afterTables), 'scopes', n).map((x) => readScope(w, x));
  if (resources.length !== h.resources || scopes.length !== h.scopes) return null;
  const logs = new Array<LogRow>(n);
  for (let i = 0; i < n; i++) {
    const row = readLog(s, w, h.tenant, resources, scopes);
    if (row === null) return null;
    logs[i] = row;
  }
  if (s.at !== s.end || s.bad) return null;
  return {
    version: SHARD_ENTRY_VERSION,
    tenant: h.tenant,
    idempotencyKey: h.idempotencyKey,
    part: h.part,
    parts: h.parts,
    leaderTimeMs: h.leaderTimeMs,
    spans: [],
    points: [],
    logs,
  };
}

/** u64 is the uint64 (or non-negative int64) Scan.u64 just read, as a bigint (the value msgpackr's int64AsType 'bigint' gives). */
function u64(s: Scan): bigint {
  return s.dv.getBigUint64(s.at - 8);
}

/** readLog reads one record as row-wire.ts readLog builds it, or returns null outside the fast grammar. */
function readLog(s: LogScan, w: WireReader, tenant: string, resources: readonly Resource[], scopes: readonly Scope[]): LogRow | null {
  if (s.arrayHeader() !== LOG_FIELDS) return null;
  const ri = s.uint();
  if (ri < 0 || ri >= resources.length) return null;
  const si = s.uint();
  if (si < 0 || si >= scopes.length) return null;
  if (!s.u64()) return null;
  const timeUnixNano = u64(s);
  if (!s.u64()) return null;
  const observedTimeUnixNano = u64(s);
  const severityNumber = s.uint();
  if (severityNumber < 0 || severityNumber > SEVERITY_NUMBER_MAX) return null;
  const severityText = s.text();
  if (severityText === null) return null;
  const body = anyValue(s, w, 1);
  if (body === null) return null;
  const attributes = readAttributes(s, w);
  if (attributes === null) return null;
  const droppedAttributesCount = s.uint();
  if (droppedAttributesCount < 0) return null;
  const traceId = optionalId(s, w, TRACE_ID_BYTES);
  if (traceId === null) return null;
  const spanId = optionalId(s, w, SPAN_ID_BYTES);
  if (spanId === null) return null;
  const flags = s.uint();
  if (flags < 0) return null;
  const eventName = s.text();
  if (eventName === null || s.bad) return null;
  return {
    tenant,
    timeUnixNano,
    observedTimeUnixNano,
    severityNumber,
    severityText: w.key(severityText, 'log severityText', L.stringBytesMax),
    body,
    attributes,
    droppedAttributesCount,
    traceId,
    spanId,
    flags,
    eventName: w.string(eventName, 'log eventName', L.stringBytesMax),
    resource: resources[ri] as Resource,
    scope: scopes[si] as Scope,
  };
}

/** typeAt is the type byte at the scan position (-1 at the end). */
function typeAt(s: Scan): number {
  return s.at < s.end ? (s.b[s.at] as number) : -1;
}

function isStringType(t: number): boolean {
  return (t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb);
}

/** is64 says whether t is a 64-bit integer form (msgpackr: a bigint). */
function is64(t: number): boolean {
  return t === 0xcf || t === 0xd3;
}

/**
 * anyValue reads an AnyValue at nesting `depth` (1 at the top) as row-wire.ts
 * readAnyValue builds it: nil, booleans, strings, numbers, byte strings
 * (copied by WireReader.bytes) and the tagged array and kvlist forms; null
 * for any other form or a value the reader refuses.
 */
function anyValue(s: LogScan, w: WireReader, depth: number): AnyValue | null {
  const t = typeAt(s);
  if (t === 0xc0) {
    s.at++;
    return { type: 'empty' };
  }
  if (t === 0xc2 || t === 0xc3) {
    s.at++;
    return { type: 'bool', value: t === 0xc3 };
  }
  if (isStringType(t)) {
    const v = s.text();
    return v === null ? null : { type: 'string', value: v };
  }
  if (is64(t)) {
    const v = signed64(s);
    return v === null ? null : { type: 'int', value: v };
  }
  if (t === 0xc4 || t === 0xc5 || t === 0xc6) return bytesValue(s, w);
  if ((t >= 0x90 && t <= 0x9f) || t === 0xdc || t === 0xdd) return nested(s, w, depth);
  return s.number() ? { type: 'double', value: s.num } : null;
}

/** bytesValue reads a byte string (bin8, bin16 or bin32) as a `bytes` AnyValue with WireReader.bytes's copy, or returns null. */
function bytesValue(s: Scan, w: WireReader): AnyValue | null {
  const t = s.byte();
  const width = t === 0xc4 ? 1 : t === 0xc5 ? 2 : 4;
  if (s.at + width > s.end) return null;
  const n = width === 1 ? (s.b[s.at] as number) : width === 2 ? s.dv.getUint16(s.at) : s.dv.getUint32(s.at);
  const at = s.at + width;
  if (n > s.end - at || n > L.bytesValueBytesMax) return null;
  s.at = at + n;
  return { type: 'bytes', value: w.bytes(new Uint8Array(s.b.buffer, s.b.byteOffset + at, n), 'log value', L.bytesValueBytesMax) };
}

/** nested reads a tagged array or kvlist AnyValue at `depth` (row-wire.ts anyValueToWire), or returns null. */
function nested(s: LogScan, w: WireReader, depth: number): AnyValue | null {
  const n = s.arrayHeader();
  if (n < 1 || depth >= L.anyValueDepthMax) return null;
  const tag = s.uint();
  if (tag === ANY_ARRAY) {
    if (n - 1 > L.anyValueArrayElementsMax) return null;
    const values = new Array<AnyValue>(n - 1);
    for (let i = 0; i < n - 1; i++) {
      const v = anyValue(s, w, depth + 1);
      if (v === null) return null;
      values[i] = v;
    }
    return { type: 'array', values };
  }
  if (tag !== ANY_KVLIST) return null;
  const values = readPairs(s, w, n - 1, depth + 1);
  return values === null ? null : { type: 'kvlist', values };
}

/** signed64 reads a uint64 (below 2^63) or an int64 as a bigint, or returns null. */
function signed64(s: Scan): bigint | null {
  const t = s.byte();
  if (s.at + 8 > s.end) return null;
  const hi = s.dv.getUint32(s.at);
  if (t === 0xcf && hi >= 0x8000_0000) return null; // past the int64 range: the regular reader refuses it
  s.at += 8;
  return t === 0xd3 ? s.dv.getBigInt64(s.at - 8) : s.dv.getBigUint64(s.at - 8);
}

/** readAttributes reads a flat attribute list as row-wire.ts readAttributes builds it (interned through `w`), or returns null. */
function readAttributes(s: LogScan, w: WireReader): readonly KeyValue[] | null {
  const n = s.arrayHeader();
  return n < 0 ? null : readPairs(s, w, n, 1);
}

/** readPairs reads n key and value elements as row-wire.ts readPairs does (scalar strings and integers interned through `w`), or returns null. */
function readPairs(s: LogScan, w: WireReader, n: number, depth: number): readonly KeyValue[] | null {
  if (n % 2 !== 0 || n / 2 > L.attributesPerListMax) return null;
  if (n === 0) return EMPTY_LIST;
  const out = new Array<KeyValue>(n / 2);
  for (let i = 0; i < n; i += 2) {
    const k = s.text();
    if (k === null) return null;
    const key = w.key(k, 'log attributes key', L.stringBytesMax);
    const t = typeAt(s);
    let kv: KeyValue;
    if (isStringType(t)) {
      const v = s.text();
      if (v === null) return null;
      kv = w.pair(key, w.scalarValue(v, 'log attributes', L.stringBytesMax), true);
    } else if (is64(t)) {
      const v = signed64(s);
      if (v === null) return null;
      kv = w.pair(key, w.scalarValue(v, 'log attributes', L.stringBytesMax), true);
    } else {
      const v = anyValue(s, w, depth);
      if (v === null) return null;
      kv = w.pair(key, v, false);
    }
    out[i / 2] = kv;
  }
  return out;
}

/** optionalId reads a bin8 of 0 or `length` bytes and returns WireReader.id's copy (or its shared empty id), or null. */
function optionalId(s: Scan, w: WireReader, length: number): Uint8Array | null {
  const n = s.at + 1 < s.end ? (s.b[s.at + 1] as number) : -1;
  const at = s.binAt(n === 0 ? 0 : length);
  if (at < 0) return null;
  return n === 0 ? EMPTY_ID : w.idFrom(s.b, at, length);
}
