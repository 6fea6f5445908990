/**
 * shard-entry.ts — the shard write entry: what the OTLP receiver proposes as
 * one Raft entry per shard part, and what every replica's state machine
 * applies. Encoding is msgpack (msgpackr with the fixed options of storage-packr.ts, so
 * that every node writes the same bytes for the same entry); decoding checks
 * everything and either returns a fully valid entry or throws ERR_CORRUPTION —
 * never another error, never a partly valid entry.
 *
 * Layout, version 1 (one msgpack array; row tuples are drawn in row-wire.ts):
 *
 *   [ version = 1,
 *     tenant            str (a valid tenant id: control/tenant.ts checkTenantId),
 *     idempotencyKey    str (16 lower-case hex chars: xxhash64 of tenant and body,
 *                            canonical big-endian form, see partition/hash.ts h64ToBytes),
 *     part              u32 (0-based, < parts),
 *     parts             u32 (>= 1),
 *     leaderTimeMs      uint (the proposing leader's wall clock; the idempotency window's only time source),
 *     resources         [Resource...]   (deduplicated; rows refer to them by index),
 *     scopes            [Scope...]      (deduplicated likewise),
 *     spans             [Span...],
 *     points            [Point...],
 *     logs              [Log...] ]
 *
 * The tenant is stored once per entry; every row of an entry belongs to it
 * (encoding refuses a row of another tenant), and decoding gives each row the
 * entry's tenant.
 */
import { STORAGE_PACKR, STORAGE_UNPACKR_VIEWS } from './storage-packr.js';
import { checkTenantId } from '../control/tenant.js';
import { OtlpdbError, assert } from '../errors.js';
import { StorageLimits as L } from '../limits.js';
import type { LogRow, MetricPointRow, Resource, Scope, SpanRow } from './rows.js';
import { logToWire, pointToWire, readLog, readPoint, readResource, readScope, readSpan, resourceToWire, scopeToWire, spanToWire } from './row-wire.js';
import type { RowContext } from './row-wire.js';
import { MetricEntryColumns, decodeMetricEntry } from './metric-entry.js';
import { WireReader } from './wire-reader.js';
import { EntryWriter } from './entry-writer.js';
import { SpanEntryColumns, decodeSpanEntry } from './span-entry.js';
import { checkLogEntry } from './log-entry.js';
import type { EntryPeek } from './entry-header.js';
import { decodeLogEntry } from './log-entry-decode.js';

/** SHARD_ENTRY_VERSION is the entry format version this code writes and reads. */
export const SHARD_ENTRY_VERSION = 1;

/** ShardEntry is one shard part of one OTLP request. */
export interface ShardEntry {
  readonly version: typeof SHARD_ENTRY_VERSION;
  readonly tenant: string;
  /** idempotencyKey is xxhash64(tenant, body) as 16 lower-case hex characters (a string: comparable, printable, map-keyable). */
  readonly idempotencyKey: string;
  /** part is this entry's index among the request's shard parts, in [0, parts). */
  readonly part: number;
  readonly parts: number;
  /** leaderTimeMs is the proposing leader's wall clock in ms since the epoch; replicas never read their own clock. */
  readonly leaderTimeMs: number;
  readonly spans: readonly SpanRow[];
  readonly points: readonly MetricPointRow[];
  readonly logs: readonly LogRow[];
}


const IDEMPOTENCY_KEY = /^[0-9a-f]{16}$/;

/**
 * EntryCheck is how encodeShardEntry proves that the entry it wrote decodes
 * (an entry that does not would poison the Raft log: every replica would fail
 * to apply it, so it must never be proposed):
 *
 * - 'full' decodes the bytes with decodeShardEntry's rules (msgpack and every
 *   row read again): the reference, for tests;
 * - 'fast' (the default) gives the same verdict for less: a points-only,
 *   spans-only or logs-only entry is written straight from its rows by
 *   EntryWriter (entry-writer.ts: the same bytes msgpackr writes, without the
 *   wire tuples) and read from its bytes by decodeMetricEntry
 *   (metric-entry.ts), decodeSpanEntry (span-entry.ts) or checkLogEntry
 *   (log-entry.ts), which accept only entries decodeShardEntry accepts. Any other entry, or one the writer or the
 *   reader declines, goes the msgpackr way: a points-only entry is read by
 *   decodeMetricEntry again, any other by decodeShardEntry's own readers
 *   over the wire tuples just packed, skipping the msgpack decode. That is the same
 *   verdict because msgpackr gives back every value the readers accept
 *   (strings, numbers, bigints, booleans, null, byte strings, arrays) with
 *   the same type and a value that passes the same checks (a lone surrogate
 *   comes back as U+FFFD, of the same UTF-8 length); a value of any other
 *   type is refused before packing even where msgpackr would have turned it
 *   into an accepted one. shard-entry.test.ts compares the two checks over
 *   seeded rows with planted defects.
 * - 'packed' is 'fast' without EntryWriter: always the msgpackr path (what
 *   'fast' was before the writer), for the writer's tests and
 *   bench/write-path.ts's A/B.
 */
export type EntryCheck = 'fast' | 'packed' | 'full';

/**
 * encodeShardEntry encodes an entry. It checks its input with the decoder's
 * rules (check when written, check when read; see EntryCheck): bad input
 * throws ERR_INVALID_ARGUMENT, input over a StorageLimits bound
 * ERR_LIMIT_EXCEEDED.
 */
export function encodeShardEntry(entry: ShardEntry, check: EntryCheck = 'fast'): Uint8Array {
  assert(entry.version === SHARD_ENTRY_VERSION, 'encodeShardEntry version');
  const rowCount = entry.spans.length + entry.points.length + entry.logs.length;
  if (rowCount > L.rowsPerEntryMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `shard entry of ${rowCount} rows exceeds StorageLimits.rowsPerEntryMax (${L.rowsPerEntryMax})`);
  }
  if (check === 'fast') {
    const direct = encodeDirect(entry);
    if (direct !== null) return direct;
  }
  const tables = new RefTables();
  const tenantOf = (row: { tenant: string }, what: string): void => {
    if (row.tenant !== entry.tenant) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `a ${what} of tenant ${JSON.stringify(row.tenant)} in an entry of tenant ${JSON.stringify(entry.tenant)}`);
    }
  };
  const spans = entry.spans.map((s) => (tenantOf(s, 'span'), spanToWire(s, tables.resource(s.resource), tables.scope(s.scope))));
  const points = entry.points.map((p) => (tenantOf(p, 'point'), pointToWire(p, tables.resource(p.resource), tables.scope(p.scope))));
  const logs = entry.logs.map((r) => (tenantOf(r, 'log'), logToWire(r, tables.resource(r.resource), tables.scope(r.scope))));
  const wire = [
    entry.version,
    entry.tenant,
    entry.idempotencyKey,
    entry.part,
    entry.parts,
    entry.leaderTimeMs,
    tables.resources,
    tables.scopes,
    spans,
    points,
    logs,
  ];
  let bytes: Uint8Array;
  try {
    bytes = STORAGE_PACKR.pack(wire);
  } catch (err) {
    // Only input msgpack cannot represent gets here (a bigint outside 64 bits, a value of a foreign type).
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `shard entry cannot be encoded: ${(err as Error).message}`);
  }
  if (bytes.length > L.entryBytesMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `shard entry of ${bytes.length} bytes exceeds StorageLimits.entryBytesMax (${L.entryBytesMax})`);
  }
  if (check === 'full') decodeWith(bytes, new WireReader('input'));
  else if (!pointsOnlyAccepted(entry, bytes)) checkWire(wire);
  return bytes;
}

/** ENTRY_WRITER is the direct writer of encodeDirect (one per thread: a write runs synchronously to its end). */
const ENTRY_WRITER = new EntryWriter();

/** SPAN_CHECK_COLUMNS is the scratch of the spans-only check, like CHECK_COLUMNS below. */
let SPAN_CHECK_COLUMNS: SpanEntryColumns | null = null;

/**
 * encodeDirect writes a points-only, spans-only or logs-only entry with EntryWriter and
 * checks it from its bytes; null when the entry is of another shape or the
 * writer or the check declines (the caller then takes the msgpackr path,
 * which encodes the same bytes or refuses the entry as it always did). It
 * never throws for bad rows.
 */
function encodeDirect(entry: ShardEntry): Uint8Array | null {
  const spansOnly = entry.spans.length > 0 && entry.points.length === 0 && entry.logs.length === 0;
  const pointsOnly = entry.points.length > 0 && entry.spans.length === 0 && entry.logs.length === 0;
  const logsOnly = entry.logs.length > 0 && entry.spans.length === 0 && entry.points.length === 0;
  if (!spansOnly && !pointsOnly && !logsOnly) return null;
  for (const s of entry.spans) if (s.tenant !== entry.tenant) return null;
  for (const p of entry.points) if (p.tenant !== entry.tenant) return null;
  for (const r of entry.logs) if (r.tenant !== entry.tenant) return null;
  const bytes = ENTRY_WRITER.writeEntry(entry.version, entry.tenant, entry.idempotencyKey, entry.part, entry.parts, entry.leaderTimeMs, entry.spans, entry.points, entry.logs);
  if (bytes === null) return null;
  assert(bytes.length <= L.entryBytesMax, 'the writer declines entries over entryBytesMax');
  let ok: boolean;
  if (pointsOnly) {
    CHECK_COLUMNS ??= new MetricEntryColumns();
    ok = decodeMetricEntry(bytes, CHECK_COLUMNS);
    CHECK_COLUMNS.release();
  } else if (logsOnly) {
    ok = checkLogEntry(bytes);
  } else {
    SPAN_CHECK_COLUMNS ??= new SpanEntryColumns();
    ok = decodeSpanEntry(bytes, SPAN_CHECK_COLUMNS);
    SPAN_CHECK_COLUMNS.release();
  }
  return ok ? bytes : null;
}

/**
 * CHECK_COLUMNS is the scratch of the points-only check (module-level scratch
 * is safe: encodeShardEntry runs synchronously to its end); released after
 * each check, so it never pins an entry.
 */
let CHECK_COLUMNS: MetricEntryColumns | null = null;

/** pointsOnlyAccepted says whether decodeMetricEntry accepts a points-only entry (false: not points-only, or declined). */
function pointsOnlyAccepted(entry: ShardEntry, bytes: Uint8Array): boolean {
  if (entry.spans.length > 0 || entry.logs.length > 0) return false;
  CHECK_COLUMNS ??= new MetricEntryColumns();
  const ok = decodeMetricEntry(bytes, CHECK_COLUMNS);
  CHECK_COLUMNS.release();
  return ok;
}

/** checkWire runs decodeShardEntry's readers over an entry's wire tuples, in input mode (its errors are decodeWith's). */
function checkWire(wire: unknown[]): void {
  const w = new WireReader('input');
  try {
    readEntry(w, wire);
  } catch (err) {
    if (err instanceof OtlpdbError) throw err;
    w.fail('entry', `could not be checked (${(err as Error).message})`);
  }
}

/** decodeShardEntry decodes and checks a stored entry; any defect throws ERR_CORRUPTION naming the field. */
export function decodeShardEntry(bytes: Uint8Array): ShardEntry {
  return decodeWith(bytes, storedReader());
}

/**
 * decodeStoredEntry is decodeShardEntry with a given stored-mode reader
 * instead of the shared one (tests: a fresh reader per entry is the
 * reference the shared one must match).
 */
export function decodeStoredEntry(bytes: Uint8Array, w: WireReader): ShardEntry {
  assert(w.mode === 'stored', 'decodeStoredEntry reads stored bytes');
  return decodeWith(bytes, w);
}

/**
 * STORED_READER is the stored-mode WireReader decodeShardEntry shares between
 * consecutive entries (STORED_READER_USES of them, then a fresh one): attribute
 * keys, values and pairs interned by one entry are shared by the next ones,
 * and their ids fill one id slab instead of a slab per entry. Rows are
 * read-only, so sharing equal values between entries (of any tenant) changes
 * nothing a reader of them can see. A decode runs synchronously to its end,
 * so one reader per thread is never used by two decodes at once.
 */
let STORED_READER: WireReader | null = null;
let STORED_READER_USES = 0;

/** storedReader is STORED_READER, replaced after StorageLimits.storedReaderEntriesMax entries (its interning maps are bounded, but stop sharing once full). */
function storedReader(): WireReader {
  if (STORED_READER === null || STORED_READER_USES >= L.storedReaderEntriesMax) {
    STORED_READER = new WireReader('stored');
    STORED_READER_USES = 0;
  }
  STORED_READER_USES++;
  return STORED_READER;
}

/**
 * decodeLogsOnlyEntry is decodeShardEntry for the apply path's logs-only
 * entries in the fast grammar (log-entry-decode.ts: the same entry, read from
 * the bytes without msgpackr's value tree, through the same shared reader),
 * or null for any other entry: the caller then calls decodeShardEntry, which
 * decides. `peek` is peekEntry's read of `bytes`.
 */
export function decodeLogsOnlyEntry(bytes: Uint8Array, peek: EntryPeek): ShardEntry | null {
  return decodeLogEntry(bytes, peek, storedReader());
}

function decodeWith(bytes: Uint8Array, w: WireReader): ShardEntry {
  if (bytes.length > L.entryBytesMax) w.fail('entry', `is ${bytes.length} bytes, more than ${L.entryBytesMax}`, true);
  let raw: unknown;
  try {
    // Byte strings come back as views of `bytes`; WireReader.id and WireReader.bytes copy what the entry keeps.
    // A plain Uint8Array source (not a Buffer) makes those views plain typed arrays, cheaper to create than Buffers.
    raw = STORAGE_UNPACKR_VIEWS.unpack(bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    // msgpackr throws plain Errors (and RangeErrors on absurd lengths or nesting) for malformed bytes.
    return w.fail('entry', `is not valid msgpack (${(err as Error).message})`);
  }
  try {
    return readEntry(w, raw);
  } catch (err) {
    if (err instanceof OtlpdbError) throw err;
    // A stack overflow on pathological nesting is the only other failure; it is still bad bytes.
    return w.fail('entry', `could not be checked (${(err as Error).message})`);
  }
}

function readEntry(w: WireReader, raw: unknown): ShardEntry {
  const t = w.tuple(raw, 'entry', 11);
  if (t[0] !== SHARD_ENTRY_VERSION) w.fail('entry version', `${String(t[0])} is not ${SHARD_ENTRY_VERSION}`);
  const tenant = w.string(t[1], 'tenant', L.tenantBytesMax);
  const tenantProblem = checkTenantId(tenant);
  if (tenantProblem !== null) w.fail('tenant', tenantProblem);
  const idempotencyKey = w.string(t[2], 'idempotencyKey', 16);
  if (!IDEMPOTENCY_KEY.test(idempotencyKey)) w.fail('idempotencyKey', 'is not 16 lower-case hex characters');
  const part = w.u32(t[3], 'part');
  const parts = w.u32(t[4], 'parts');
  if (parts < 1 || part >= parts) w.fail('part', `${part} of ${parts} is not in [0, parts)`);
  const leaderTimeMs = w.count(t[5], 'leaderTimeMs');
  const spansRaw = w.array(t[8], 'spans', L.rowsPerEntryMax);
  const pointsRaw = w.array(t[9], 'points', L.rowsPerEntryMax);
  const logsRaw = w.array(t[10], 'logs', L.rowsPerEntryMax);
  const rows = spansRaw.length + pointsRaw.length + logsRaw.length;
  if (rows > L.rowsPerEntryMax) w.fail('entry', `has ${rows} rows, more than ${L.rowsPerEntryMax}`, true);
  const ctx: RowContext = {
    tenant,
    // A table entry no row refers to is harmless; more entries than rows is not written by encode, so refuse it.
    resources: w.array(t[6], 'resources', rows).map((r) => readResource(w, r)),
    scopes: w.array(t[7], 'scopes', rows).map((s) => readScope(w, s)),
  };
  const entry: ShardEntry = {
    version: SHARD_ENTRY_VERSION,
    tenant,
    idempotencyKey,
    part,
    parts,
    leaderTimeMs,
    spans: spansRaw.map((s) => readSpan(w, s, ctx)),
    points: pointsRaw.map((p) => readPoint(w, p, ctx)),
    logs: logsRaw.map((l) => readLog(w, l, ctx)),
  };
  assert(entry.spans.length + entry.points.length + entry.logs.length === rows, 'decoded row count');
  return entry;
}

/**
 * RefTables deduplicates resources and scopes while encoding: first by object
 * identity (the receiver shares one object per OTLP ResourceSpans), then by
 * the encoded bytes of the wire tuple, so equal values in separate objects
 * also share one slot.
 */
class RefTables {
  readonly resources: unknown[] = [];
  readonly scopes: unknown[] = [];
  readonly #byResource = new Map<Resource, number>();
  readonly #byScope = new Map<Scope, number>();
  readonly #byBytes = new Map<string, number>();

  resource(r: Resource): number {
    return this.#intern(r, this.#byResource, this.resources, resourceToWire, 'r');
  }

  scope(s: Scope): number {
    return this.#intern(s, this.#byScope, this.scopes, scopeToWire, 's');
  }

  #intern<T>(v: T, byObject: Map<T, number>, table: unknown[], toWire: (v: T) => unknown[], prefix: string): number {
    const known = byObject.get(v);
    if (known !== undefined) return known;
    const wire = toWire(v);
    let key: string;
    try {
      key = prefix + Buffer.from(STORAGE_PACKR.pack(wire)).toString('latin1');
    } catch (err) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `resource or scope cannot be encoded: ${(err as Error).message}`);
    }
    let index = this.#byBytes.get(key);
    if (index === undefined) {
      index = table.length;
      table.push(wire);
      this.#byBytes.set(key, index);
    }
    byObject.set(v, index);
    assert(index < table.length, 'interned index in table');
    return index;
  }
}

/** MSGPACK_FLOAT64 is msgpack's float64 marker; leaderTimeMs of any time after February 1970 (>= 2^32 ms) is written with it. */
const MSGPACK_FLOAT64 = 0xcb;

/**
 * restampLeaderTime returns `entry` with its leaderTimeMs set to `nowMs`, the
 * clock of the shard leader about to propose it (the receiver that encoded
 * the entry may be another node with another clock). It rewrites the eight
 * bytes of the float64 in a copy when both times are written that way (every
 * realistic wall-clock time is: msgpackr writes a number >= 2^32 as a
 * float64), and otherwise decodes and re-encodes. The entry must be valid
 * (decodeShardEntry's rules): a malformed one is ERR_CORRUPTION.
 */
export function restampLeaderTime(entry: Uint8Array, nowMs: number): Uint8Array {
  return restamp(entry, nowMs, false);
}

/**
 * restampLeaderTimeInPlace is restampLeaderTime without the copy: when the
 * float64 can be patched it is patched in `entry` itself (only the eight
 * bytes of leaderTimeMs, within entry's own range of its buffer), and
 * `entry` is returned; otherwise a new encoding is. The caller must own the
 * bytes: nothing else may hold them (a Raft log that already has them, a
 * retry that will send them again). ShardService.proposeHere, which is
 * handed its entry, is the one caller.
 */
export function restampLeaderTimeInPlace(entry: Uint8Array, nowMs: number): Uint8Array {
  return restamp(entry, nowMs, true);
}

function restamp(entry: Uint8Array, nowMs: number, inPlace: boolean): Uint8Array {
  assert(Number.isSafeInteger(nowMs) && nowMs >= 0, 'restampLeaderTime nowMs is a wall-clock time');
  const at = leaderTimeOffset(entry);
  if (at >= 0 && nowMs >= 2 ** 32) {
    const out = inPlace ? entry : new Uint8Array(entry);
    new DataView(out.buffer, out.byteOffset, out.byteLength).setFloat64(at + 1, nowMs, false);
    return out;
  }
  return encodeShardEntry({ ...decodeShardEntry(entry), leaderTimeMs: nowMs });
}

/**
 * leaderTimeOffset is the offset of the float64 marker of leaderTimeMs in an
 * encoded entry, or -1 when the header is not laid out as encodeShardEntry
 * writes it for a realistic time. It walks the array header, version,
 * tenant, key, part and parts (each a msgpack fixint/uint or str).
 */
function leaderTimeOffset(b: Uint8Array): number {
  if (b.length < 1 || b[0] !== 0x9b) return -1; // fixarray of 11
  let i = 1;
  const skipUint = (): boolean => {
    const m = b[i];
    if (m === undefined) return false;
    if (m <= 0x7f) i += 1;
    else if (m === 0xcc) i += 2;
    else if (m === 0xcd) i += 3;
    else if (m === 0xce) i += 5;
    else return false;
    return i <= b.length;
  };
  const skipStr = (): boolean => {
    const m = b[i];
    if (m === undefined) return false;
    if (m >= 0xa0 && m <= 0xbf) i += 1 + (m & 0x1f);
    else if (m === 0xd9 && i + 1 < b.length) i += 2 + (b[i + 1] as number);
    else if (m === 0xda && i + 2 < b.length) i += 3 + (((b[i + 1] as number) << 8) | (b[i + 2] as number));
    else return false;
    return i <= b.length;
  };
  if (!skipUint() || !skipStr() || !skipStr() || !skipUint() || !skipUint()) return -1;
  return b[i] === MSGPACK_FLOAT64 && i + 9 <= b.length ? i : -1;
}
