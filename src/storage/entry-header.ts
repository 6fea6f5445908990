/**
 * entry-header.ts — the fast decoders' (metric-entry.ts, span-entry.ts) read
 * of a shard entry's header, straight from its msgpack bytes (layout in
 * shard-entry.ts): the 11-element tuple, version, tenant, idempotency key,
 * part of parts, leader time, and the resource and scope tables skipped over
 * (their positions kept so the caller can check or decode them). Null means
 * "not in the fast grammar": the caller goes back to decodeShardEntry, which
 * decides between a valid entry and ERR_CORRUPTION. Pure code.
 *
 * peekEntry reads the header once for the apply path (shard-state-machine.ts)
 * and says which fast decoder may take the entry, so a log entry is not read
 * by the metric and span decoders only to be declined by both; the decoder
 * then continues from the peek's scan instead of reading the header again.
 *
 * NB: shard-entry.ts imports the fast decoders and this file imports its
 * SHARD_ENTRY_VERSION: a cycle that is safe because the constant is read
 * only when an entry is decoded, never while the modules load.
 */
import { checkTenantId } from '../control/tenant.js';
import { StorageLimits as L } from '../limits.js';
import { AsciiMemo, Scan } from './entry-scan.js';
import { SHARD_ENTRY_VERSION } from './shard-entry.js';

const IDEMPOTENCY_KEY = /^[0-9a-f]{16}$/;
/** ENTRY_TUPLE_FIELDS is the arity of a version 1 shard entry. */
const ENTRY_TUPLE_FIELDS = 11;

/** EntryHeader is what readEntryHeader read; the scan stands just after the scopes table. */
export interface EntryHeader {
  readonly tenant: string;
  readonly idempotencyKey: string;
  readonly part: number;
  readonly parts: number;
  readonly leaderTimeMs: number;
  /** resourcesAt and scopesAt are the offsets of the two tables' array headers; resources and scopes their lengths. */
  readonly resourcesAt: number;
  readonly resources: number;
  readonly scopesAt: number;
  readonly scopes: number;
}

/** TENANT_MEMO and KEY_MEMO remember the last tenant and idempotency key readEntryHeader read on this thread (entry-scan.ts AsciiMemo). */
const TENANT_MEMO = new AsciiMemo();
const KEY_MEMO = new AsciiMemo();

/**
 * readEntryHeader reads an entry's header in the fast grammar (ASCII tenant
 * and key; anything else is null and goes to decodeShardEntry), and skips
 * the resource and scope tables.
 */
export function readEntryHeader(s: Scan): EntryHeader | null {
  if (s.arrayHeader() !== ENTRY_TUPLE_FIELDS) return null;
  if (s.uint() !== SHARD_ENTRY_VERSION) return null;
  // The tenant id and the key are ASCII when valid; anything else goes back to decodeShardEntry.
  const tenant = s.ascii(L.tenantBytesMax, TENANT_MEMO);
  if (tenant === null || checkTenantId(tenant) !== null) return null;
  const idempotencyKey = s.ascii(16, KEY_MEMO);
  if (idempotencyKey === null || !IDEMPOTENCY_KEY.test(idempotencyKey)) return null;
  const part = s.uint();
  const parts = s.uint();
  if (part < 0 || parts < 1 || part >= parts) return null;
  const leaderTimeMs = s.count();
  if (leaderTimeMs < 0) return null;
  const resourcesAt = s.at;
  const resources = s.arrayHeader();
  if (resources < 0 || !s.skipItems(resources)) return null;
  const scopesAt = s.at;
  const scopes = s.arrayHeader();
  if (scopes < 0 || !s.skipItems(scopes)) return null;
  return { tenant, idempotencyKey, part, parts, leaderTimeMs, resourcesAt, resources, scopesAt, scopes };
}

/** MSGPACK_EMPTY_ARRAY is msgpack's fixarray of 0 elements: an entry's empty spans, points or logs list. */
const MSGPACK_EMPTY_ARRAY = 0x90;

/**
 * EntryPeek is an entry's header read by peekEntry: the scan stands just
 * after the scopes table (at the spans list), as readEntryHeader leaves it.
 * `rows` names the first non-empty row list: 'spans' when the spans list is
 * not empty, else 'points' when the points list is not empty, else 'other'
 * (logs, or a defect decodeShardEntry reports).
 */
export interface EntryPeek {
  readonly scan: Scan;
  readonly header: EntryHeader;
  readonly rows: 'spans' | 'points' | 'other';
}

/**
 * peekEntry reads an entry's header in the fast grammar (readEntryHeader),
 * or returns null when it is not in it or is over StorageLimits.entryBytesMax
 * (the fast decoders decline both; decodeShardEntry decides). Only
 * decodeSpanEntry can take an entry whose rows are 'spans', and only
 * decodeMetricEntry one whose rows are 'points': each requires its own list
 * to be non-empty and the lists before it empty.
 */
export function peekEntry(bytes: Uint8Array): EntryPeek | null {
  if (bytes.length > L.entryBytesMax) return null;
  const scan = new Scan(bytes);
  const header = readEntryHeader(scan);
  if (header === null || scan.bad || scan.at + 1 >= scan.end) return null;
  const spans = bytes[scan.at] as number;
  const rows = spans !== MSGPACK_EMPTY_ARRAY ? 'spans' : bytes[scan.at + 1] !== MSGPACK_EMPTY_ARRAY ? 'points' : 'other';
  return { scan, header, rows };
}
