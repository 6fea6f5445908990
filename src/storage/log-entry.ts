/**
 * log-entry.ts — a check of logs-only shard entries (shard-entry.ts) straight
 * from their bytes, for encodeShardEntry's self-check of what EntryWriter
 * wrote (entry-writer.ts). It exists because the msgpackr path checked a log
 * entry by running decodeShardEntry's readers over its wire tuples, which
 * builds every LogRow only to drop it.
 *
 * checkLogEntry returns true only for an entry decodeShardEntry accepts: it
 * reads the header with readEntryHeader, the resource and scope tables with
 * readResourceFast / readScopeFast, and each record in the grammar below,
 * in which every field is one of the msgpack forms whose msgpackr value the
 * regular reader (row-wire.ts readLog) accepts, with the same bounds:
 *
 *   log        array of 13 (any array header)
 *   index      u32 below the table's size (resource, then scope)
 *   times      uint64 | int64 >= 0 (twice)
 *   severity   u32 <= SEVERITY_NUMBER_MAX
 *   strings    well-formed UTF-8 of at most STRING_FAST_BYTES_MAX bytes (severityText, eventName)
 *   body       nil | bool | string | Number (entry-scan.ts number(): the forms readAnyValue takes)
 *   attributes Scan.attributes (string keys; nil, bool, string or Number values; <= attributesPerListMax)
 *   counts     u32 (droppedAttributesCount, flags)
 *   traceId    bin8 of 0 or 16 bytes; spanId bin8 of 0 or 8 bytes
 *
 * and no spans and no points. Anything else (a nested or bytes body or
 * attribute, other forms, any defect) is false, and the caller goes the
 * msgpackr way, which decides. It never throws for bad bytes. Pure code.
 */
import { StorageLimits as L } from '../limits.js';
import { Scan, readResourceFast, readScopeFast } from './entry-scan.js';
import { readEntryHeader } from './entry-header.js';
import { SEVERITY_NUMBER_MAX, SPAN_ID_BYTES, TRACE_ID_BYTES } from './rows.js';

/** LOG_FIELDS is the arity of a log record's wire tuple (row-wire.ts). */
const LOG_FIELDS = 13;

/** checkLogEntry says whether `bytes` is a logs-only entry in the fast grammar (see the file comment), hence one decodeShardEntry accepts. */
export function checkLogEntry(bytes: Uint8Array): boolean {
  if (bytes.length > L.entryBytesMax) return false;
  const s = new Scan(bytes);
  const h = readEntryHeader(s);
  if (h === null) return false;
  const afterTables = s.at;
  if (s.byte() !== 0x90) return false; // spans: none
  if (s.byte() !== 0x90) return false; // points: none
  const n = s.arrayHeader();
  if (n < 1 || n > L.rowsPerEntryMax) return false;
  // decodeShardEntry refuses table entries past the row count.
  if (h.resources > n || h.scopes > n) return false;
  const rowsAt = s.at;
  s.at = h.resourcesAt;
  s.arrayHeader();
  for (let i = 0; i < h.resources; i++) if (!readResourceFast(s)) return false;
  s.arrayHeader();
  for (let i = 0; i < h.scopes; i++) if (!readScopeFast(s)) return false;
  if (s.at !== afterTables) return false;
  s.at = rowsAt;
  for (let i = 0; i < n; i++) if (!readLogFast(s, h.resources, h.scopes)) return false;
  return s.at === s.end && !s.bad;
}

/** readLogFast checks one log record in the fast grammar, or returns false. */
function readLogFast(s: Scan, resources: number, scopes: number): boolean {
  if (s.arrayHeader() !== LOG_FIELDS) return false;
  const ri = s.uint();
  if (ri < 0 || ri >= resources) return false;
  const si = s.uint();
  if (si < 0 || si >= scopes) return false;
  if (!s.u64() || !s.u64()) return false;
  const severity = s.uint();
  if (severity < 0 || severity > SEVERITY_NUMBER_MAX) return false;
  if (!s.string()) return false; // severityText
  if (!scalar(s)) return false; // body
  if (!s.attributes()) return false;
  if (s.uint() < 0) return false; // droppedAttributesCount
  if (!optionalBin(s, TRACE_ID_BYTES) || !optionalBin(s, SPAN_ID_BYTES)) return false;
  if (s.uint() < 0) return false; // flags
  if (!s.string()) return false; // eventName
  return !s.bad;
}

/** scalar reads a nil, boolean, string or Number AnyValue (the forms Scan.attributes takes as values). */
function scalar(s: Scan): boolean {
  const t = s.at < s.end ? (s.b[s.at] as number) : -1;
  if (t === 0xc0 || t === 0xc2 || t === 0xc3) {
    s.at++;
    return true;
  }
  if ((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb)) return s.string();
  return s.number();
}

/** optionalBin reads a bin8 of 0 or n bytes. */
function optionalBin(s: Scan, n: number): boolean {
  const length = s.at + 1 < s.end ? s.b[s.at + 1] : -1;
  return s.binAt(length === 0 ? 0 : n) >= 0;
}
