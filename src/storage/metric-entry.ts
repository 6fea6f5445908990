/**
 * metric-entry.ts — a second decoder of shard entries (shard-entry.ts) for
 * the common metrics case: an entry of points only (no spans, no logs),
 * decoded straight from its bytes into reused columns instead of one
 * MetricPointRow (and its arrays, strings and bigints) per point.
 *
 * What it decodes: for each gauge or sum point whose fields use the plain
 * msgpack forms msgpackr writes (the "fast grammar" below), the identity
 * parts as byte ranges of the entry (name, description, unit, attributes) plus the resource and
 * scope indexes and the kind, the time in ms and the value as a float64. Any
 * other point (histograms, summaries, exemplars, bytes or nested attribute
 * values, unusual number forms) is decoded as a MetricPointRow by the regular
 * readers (row-wire.ts readPoint) from the point's own bytes, so it is checked
 * and stored exactly as before.
 *
 * The contract that keeps the apply result identical on every replica and to
 * the regular path: decodeMetricEntry either fills the columns with an entry
 * decodeShardEntry would accept, with the same values, or returns false and
 * the caller uses decodeShardEntry (which then reports the defect exactly as
 * before). It never throws for bad bytes and never reports an error of its
 * own. To keep the "same values" half true without msgpackr, every string of
 * the entry must be well-formed UTF-8 (then every UTF-8 decoder, msgpackr's
 * included, gives the same string; an entry with a malformed string goes to
 * decodeShardEntry), maps, extensions and the never-used byte 0xc1 send the
 * whole entry back, and each fast-grammar field is accepted only in the forms
 * whose msgpackr value the regular reader accepts:
 *
 *   point        fixarray(11)
 *   index, u32   positive fixint | uint8 | uint16 | uint32          (a number)
 *   u64          uint64 | int64 >= 0                                 (a bigint)
 *   string       fixstr | str8 | str16 | str32, well-formed UTF-8, at most
 *                StorageLimits.stringBytesMax / 3 bytes (so its UTF-8 length is in bounds)
 *   Number       fixint | uint8..32 | int8..32 | float64 → double;
 *                int64 | uint64 < 2^63 → int (its float64 value, rounded once as Number() does)
 *   gauge        fixarray(2) [0, Number]
 *   sum          fixarray(4) [1, 1|2, bool, Number]
 *   attributes   array of an even count <= 2 × attributesPerListMax of string keys and
 *                values: string | nil | bool | Number forms above
 *   exemplars    fixarray(0)
 *
 * Deferred UTF-8 (`deferKeyUtf8`, the state machine's apply only): the
 * strings of a column point's identity (name, description, unit: identAt..
 * identEnd; attribute keys and values: attrsAt..attrsEnd) are then scanned
 * for their form and length but not checked as UTF-8, and the columns say so
 * (keysUnchecked). The entry is then accepted by decodeShardEntry only if
 * every such string is well-formed, and the caller must establish that
 * before it stores anything (keyUtf8 per point, allKeysUtf8), or hand the
 * entry to decodeShardEntry; MetricStore.addColumns does, checking only the
 * points its raw identity memo does not find (the argument is there). Every
 * other string (tenant, key, resources, scopes, row points) is checked as
 * without it.
 *
 * Pure code; the columns are owned by the caller (one per state machine) and
 * hold a reference to the entry bytes until the next decode.
 *
 * Invariants: after a true return, 0 < n <= StorageLimits.rowsPerEntryMax;
 * for every i < n, kind[i] === KIND_ROW exactly when rows[i] holds the
 * decoded row; every byte range lies inside `bytes`; res[i] < resourceCount
 * and scope[i] < scopeCount.
 */
import { OtlpdbError, assert } from '../errors.js';
import { StorageLimits as L } from '../limits.js';
import type { MetricPointRow, Resource, Scope } from './rows.js';
import { readPoint, readResource, readScope } from './row-wire.js';
import type { RowContext } from './row-wire.js';
import { readEntryHeader } from './entry-header.js';
import type { EntryHeader, EntryPeek } from './entry-header.js';
import { STORAGE_UNPACKR_VIEWS } from './storage-packr.js';
import { Scan, readResourceFast, readScopeFast } from './entry-scan.js';
import { WireReader } from './wire-reader.js';
import type { AddResult } from './shard/signal-store.js';
import { STALE_NAN, noRecordedValue } from './metrics/staleness.js';

/** wellFormedUtf8 is re-exported from entry-scan.ts, where the scanners share it. */
export { wellFormedUtf8 } from './entry-scan.js';

/** KIND_ROW marks a point decoded as a row (rows[i]). */
export const KIND_ROW = 0;
/** KIND_GAUGE is a gauge point in the columns; the KIND_* values are those of identity-memo.ts kindOf (type × 4 + temporality). */
export const KIND_GAUGE = 4;
/** KIND_SUM_DELTA is a delta sum point in the columns. */
export const KIND_SUM_DELTA = 9;
/** KIND_SUM_CUMULATIVE is a cumulative (monotonic) sum point in the columns. */
export const KIND_SUM_CUMULATIVE = 10;
/** KIND_SUM_DELTA_NON_MONOTONIC is a delta sum point with is_monotonic false (identity-memo.ts: + KIND_NON_MONOTONIC, 32). */
export const KIND_SUM_DELTA_NON_MONOTONIC = 41;
/** KIND_SUM_CUMULATIVE_NON_MONOTONIC is a cumulative sum point with is_monotonic false (an UpDownCounter). */
export const KIND_SUM_CUMULATIVE_NON_MONOTONIC = 42;

const EMPTY = new Uint8Array(0);

/**
 * MetricEntryColumns is one decoded points-only entry (see the file comment),
 * reused from entry to entry: arrays grow to the largest entry seen.
 */
export class MetricEntryColumns {
  tenant = '';
  idempotencyKey = '';
  part = 0;
  parts = 0;
  leaderTimeMs = 0;
  /** bytes is the entry the ranges point into. */
  bytes: Uint8Array = EMPTY;
  /** n is the number of points. */
  n = 0;
  /** kind[i] is KIND_GAUGE / KIND_SUM_* for a point in the columns, KIND_ROW for a point in rows. */
  kind = new Uint8Array(0);
  /** res[i] and scope[i] are the point's resource and scope table indexes. */
  res = new Int32Array(0);
  scope = new Int32Array(0);
  /** nameAt[i]..nameEnd[i] is the metric name's UTF-8 bytes; attrsAt[i]..attrsEnd[i] the attribute list's whole msgpack value. */
  nameAt = new Int32Array(0);
  nameEnd = new Int32Array(0);
  /** identAt[i]..identEnd[i] is the msgpack of name, description and unit, headers included (the raw identity memo's name key: unambiguous, and it holds the unit). */
  identAt = new Int32Array(0);
  identEnd = new Int32Array(0);
  /** descAt[i]..descEnd[i] is the description's UTF-8 bytes. */
  descAt = new Int32Array(0);
  descEnd = new Int32Array(0);
  attrsAt = new Int32Array(0);
  attrsEnd = new Int32Array(0);
  /** pointAt[i]..pointEnd[i] is the point's whole tuple (decoded again as a row when the store needs one). */
  pointAt = new Int32Array(0);
  pointEnd = new Int32Array(0);
  /** tMs[i] is floor(timeUnixNano / 10^6); value[i] the sample as a float64. */
  tMs = new Float64Array(0);
  value = new Float64Array(0);
  /** rows[i] is the decoded row when kind[i] === KIND_ROW (stale otherwise). */
  readonly rows: (MetricPointRow | undefined)[] = [];
  /** resourceCount and scopeCount are the sizes of the entry's tables; their byte ranges follow. */
  resourceCount = 0;
  scopeCount = 0;
  resourceAt = new Int32Array(0);
  resourceEnd = new Int32Array(0);
  scopeAt = new Int32Array(0);
  scopeEnd = new Int32Array(0);
  /**
   * keysUnchecked says the column points' identity strings were not checked
   * as UTF-8 (decodeMetricEntry's deferKeyUtf8; see the file comment): until
   * keyUtf8 or allKeysUtf8 says so, the entry is not known to be one
   * decodeShardEntry accepts.
   */
  keysUnchecked = false;
  /** #check is the scan keyUtf8 checks this entry's strings with (made on first use per entry). */
  #check: Scan | null = null;
  #ctx: RowContext | null = null;
  #reader: WireReader | null = null;

  /** reset starts a new entry of `bytes`. */
  reset(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.n = 0;
    this.resourceCount = 0;
    this.scopeCount = 0;
    this.keysUnchecked = false;
    this.#check = null;
    this.#ctx = null;
    this.#reader = null;
  }

  /**
   * keyUtf8 says whether column point i's identity strings (name,
   * description, unit, attribute keys and string values) are well-formed
   * UTF-8: the check decodeMetricEntry leaves to its caller under
   * deferKeyUtf8 (their form and lengths were scanned already).
   */
  keyUtf8(i: number): boolean {
    assert(i >= 0 && i < this.n && this.kind[i] !== KIND_ROW, 'a column point of the entry');
    const s = (this.#check ??= new Scan(this.bytes));
    s.at = this.identAt[i] as number;
    if (!(s.string() && s.string() && s.string())) return false;
    assert(s.at === this.identEnd[i], 'the identity strings end where the decode found them');
    s.at = this.attrsAt[i] as number;
    if (!s.attributes()) return false;
    assert(s.at === this.attrsEnd[i] && !s.bad, 'the attributes end where the decode found them');
    return true;
  }

  /** allKeysUtf8 is keyUtf8 of every column point (true when the decode checked them already). */
  allKeysUtf8(): boolean {
    if (!this.keysUnchecked) return true;
    for (let i = 0; i < this.n; i++) if (this.kind[i] !== KIND_ROW && !this.keyUtf8(i)) return false;
    return true;
  }

  /** release drops the reference to the entry bytes (and decoded rows) once the entry is applied. */
  release(): void {
    this.reset(EMPTY);
    this.rows.length = 0;
  }

  /** grow makes room for `points` points, `resources` resources and `scopes` scopes. */
  grow(points: number, resources: number, scopes: number): void {
    if (this.kind.length < points) {
      const cap = Math.max(points, 2 * this.kind.length);
      this.kind = new Uint8Array(cap);
      this.res = new Int32Array(cap);
      this.scope = new Int32Array(cap);
      this.nameAt = new Int32Array(cap);
      this.nameEnd = new Int32Array(cap);
      this.identAt = new Int32Array(cap);
      this.identEnd = new Int32Array(cap);
      this.descAt = new Int32Array(cap);
      this.descEnd = new Int32Array(cap);
      this.attrsAt = new Int32Array(cap);
      this.attrsEnd = new Int32Array(cap);
      this.pointAt = new Int32Array(cap);
      this.pointEnd = new Int32Array(cap);
      this.tMs = new Float64Array(cap);
      this.value = new Float64Array(cap);
    }
    if (this.resourceAt.length < resources) {
      const cap = Math.max(resources, 2 * this.resourceAt.length);
      this.resourceAt = new Int32Array(cap);
      this.resourceEnd = new Int32Array(cap);
    }
    if (this.scopeAt.length < scopes) {
      const cap = Math.max(scopes, 2 * this.scopeAt.length);
      this.scopeAt = new Int32Array(cap);
      this.scopeEnd = new Int32Array(cap);
    }
  }

  /**
   * context is the entry's tenant and decoded resource and scope tables, built
   * on first use (only entries with a row point or a new series need them).
   * The tables were checked by decodeMetricEntry, so a failure here is a bug.
   */
  context(): RowContext {
    if (this.#ctx !== null) return this.#ctx;
    const w = this.reader();
    const resources: Resource[] = new Array(this.resourceCount);
    for (let i = 0; i < this.resourceCount; i++) resources[i] = readResource(w, unpackRange(this.bytes, this.resourceAt[i] as number, this.resourceEnd[i] as number));
    const scopes: Scope[] = new Array(this.scopeCount);
    for (let i = 0; i < this.scopeCount; i++) scopes[i] = readScope(w, unpackRange(this.bytes, this.scopeAt[i] as number, this.scopeEnd[i] as number));
    this.#ctx = { tenant: this.tenant, resources, scopes };
    return this.#ctx;
  }

  /** reader is this entry's WireReader (stored mode: a failed check is ERR_CORRUPTION). */
  reader(): WireReader {
    this.#reader ??= new WireReader('stored');
    return this.#reader;
  }

  /** row is point i as a MetricPointRow: the one decoded at decode time, or point i's bytes decoded now. */
  row(i: number): MetricPointRow {
    assert(i >= 0 && i < this.n, 'a point of the entry');
    if (this.kind[i] === KIND_ROW) {
      const r = this.rows[i];
      assert(r !== undefined, 'a row point keeps its row');
      return r;
    }
    return readPoint(this.reader(), unpackRange(this.bytes, this.pointAt[i] as number, this.pointEnd[i] as number), this.context());
  }
}

/**
 * ColumnarMetricStore is a metrics store that also takes decoded columns
 * (MetricStore.addColumns). With c.keysUnchecked, addColumns either finds
 * every unchecked string well-formed before it stores anything, or stores
 * nothing and returns null (the entry then goes to decodeShardEntry).
 */
export interface ColumnarMetricStore {
  addColumns(c: MetricEntryColumns, entryTimeMs: number): AddResult | null;
}

/** hasAddColumns says whether a metrics store takes columns (a test double or another store may not). */
export function hasAddColumns<T extends object>(store: T): store is T & ColumnarMetricStore {
  return typeof (store as Partial<ColumnarMetricStore>).addColumns === 'function';
}

function unpackRange(bytes: Uint8Array, at: number, end: number): unknown {
  assert(at >= 0 && at < end && end <= bytes.length, 'a range of the entry');
  const b = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return STORAGE_UNPACKR_VIEWS.unpack(b.subarray(at, end));
}

/**
 * decodeMetricEntry decodes a points-only shard entry into `c` and returns
 * true, or returns false when the entry is not one this decoder takes (other
 * rows, other forms, or any defect): the caller then uses decodeShardEntry.
 * `peek`, when given, is peekEntry's read of this entry's header, used once:
 * the decoder continues from its scan (the same verdict as without it).
 * `deferKeyUtf8` leaves the UTF-8 check of the column points' identity
 * strings to the caller (c.keysUnchecked; see the file comment): a true
 * return then says only that the entry is accepted if those strings are
 * well-formed.
 */
export function decodeMetricEntry(bytes: Uint8Array, c: MetricEntryColumns, peek: EntryPeek | null = null, deferKeyUtf8 = false): boolean {
  assert(peek === null || peek.scan.b === bytes, 'a peek of this entry');
  c.reset(bytes);
  if (bytes.length > L.entryBytesMax) return false;
  const s = peek?.scan ?? new Scan(bytes);
  let ok: boolean;
  try {
    ok = readEntry(s, c, peek?.header ?? null, !deferKeyUtf8);
  } catch (err) {
    // A row point (or table entry) the regular reader refuses is ERR_CORRUPTION: decodeShardEntry reports it.
    // A broken invariant of this code (ERR_INTERNAL) is a bug and is not hidden; anything msgpackr throws on a
    // range the scan checked would be a bug too, but the regular path is the reference, so it decides.
    if (err instanceof OtlpdbError && err.code !== 'ERR_CORRUPTION') throw err;
    ok = false;
  }
  if (!ok) {
    c.reset(EMPTY);
    return false;
  }
  assert(c.n > 0 && c.n <= L.rowsPerEntryMax, 'a decoded entry has points within the limit');
  c.keysUnchecked = deferKeyUtf8;
  return true;
}

function readEntry(s: Scan, c: MetricEntryColumns, peeked: EntryHeader | null, keyUtf8: boolean): boolean {
  // Tables: checked below, decoded only if a row point or a new series needs them (MetricEntryColumns.context).
  // A peeked header was read by the same readEntryHeader, and the scan stands where it left it.
  const h = peeked ?? readEntryHeader(s);
  if (h === null) return false;
  const { tenant, idempotencyKey: key, part, parts, leaderTimeMs, resourcesAt, resources, scopesAt, scopes } = h;
  if (s.byte() !== 0x90) return false; // spans: none
  const n = s.arrayHeader();
  if (n < 1 || n > L.rowsPerEntryMax) return false;
  // decodeShardEntry refuses table entries past the row count.
  if (resources > n || scopes > n) return false;
  c.tenant = tenant;
  c.idempotencyKey = key;
  c.part = part;
  c.parts = parts;
  c.leaderTimeMs = leaderTimeMs;
  c.grow(n, resources, scopes);
  const pointsAt = s.at;
  s.at = resourcesAt;
  s.arrayHeader();
  for (let i = 0; i < resources; i++) {
    c.resourceAt[i] = s.at;
    if (!readResourceFast(s)) {
      s.at = c.resourceAt[i] as number;
      if (!s.skip(0)) return false;
      readResource(c.reader(), unpackRange(c.bytes, c.resourceAt[i] as number, s.at)); // Checks; throws on a defect.
    }
    c.resourceEnd[i] = s.at;
  }
  c.resourceCount = resources;
  assert(s.at === scopesAt, 'resources end where scopes start');
  s.arrayHeader();
  for (let i = 0; i < scopes; i++) {
    c.scopeAt[i] = s.at;
    if (!readScopeFast(s)) {
      s.at = c.scopeAt[i] as number;
      if (!s.skip(0)) return false;
      readScope(c.reader(), unpackRange(c.bytes, c.scopeAt[i] as number, s.at));
    }
    c.scopeEnd[i] = s.at;
  }
  c.scopeCount = scopes;
  s.at = pointsAt;
  for (let i = 0; i < n; i++) {
    const at = s.at;
    c.pointAt[i] = at;
    const fast = readPointFast(s, c, i, resources, scopes, keyUtf8);
    s.utf8 = true; // A point not taken stops wherever it failed; skip() and every later read check UTF-8.
    if (!fast) {
      s.at = at;
      if (!s.skip(0)) return false;
      c.kind[i] = KIND_ROW;
      c.rows[i] = readPoint(c.reader(), unpackRange(c.bytes, at, s.at), c.context());
    }
    c.pointEnd[i] = s.at;
    c.n = i + 1;
  }
  if (s.byte() !== 0x90) return false; // logs: none
  return s.at === s.end && !s.bad;
}

/**
 * readPointFast reads point i in the fast grammar into the columns, or returns
 * false (the caller rewinds). With keyUtf8 false its identity strings are not
 * checked as UTF-8 (decodeMetricEntry's deferKeyUtf8); the caller resets s.utf8.
 */
function readPointFast(s: Scan, c: MetricEntryColumns, i: number, resources: number, scopes: number, keyUtf8: boolean): boolean {
  if (s.byte() !== 0x9b) return false;
  const ri = s.uint();
  if (ri < 0 || ri >= resources) return false;
  const si = s.uint();
  if (si < 0 || si >= scopes) return false;
  const identAt = s.at;
  s.utf8 = keyUtf8;
  if (!s.string()) return false;
  const nameAt = s.strAt;
  const nameEnd = s.at;
  if (!s.string()) return false;
  const descAt = s.strAt;
  const descEnd = s.at;
  if (!s.string()) return false; // unit
  const identEnd = s.at;
  // Data: gauge [0, Number] or sum [1, temporality, monotonic, Number].
  const head = s.byte();
  let kind: number;
  if (head === 0x92) {
    if (s.byte() !== 0) return false;
    kind = KIND_GAUGE;
  } else if (head === 0x94) {
    if (s.byte() !== 1) return false;
    const temporality = s.byte();
    if (temporality !== 1 && temporality !== 2) return false;
    const monotonic = s.byte();
    if (monotonic !== 0xc2 && monotonic !== 0xc3) return false;
    if (monotonic === 0xc3) kind = temporality === 1 ? KIND_SUM_DELTA : KIND_SUM_CUMULATIVE;
    else kind = temporality === 1 ? KIND_SUM_DELTA_NON_MONOTONIC : KIND_SUM_CUMULATIVE_NON_MONOTONIC;
  } else return false;
  // The value and the time go to their columns as soon as they are read: a float kept in a local across the
  // calls below, or returned by one V8 does not inline, is boxed, 16 bytes per point (issue 5 s18). Columns
  // past a point that is not taken are never read (the caller rewinds and decodes it as a row).
  if (!s.number()) return false;
  c.value[i] = s.num;
  const attrsAt = s.at;
  if (!s.attributes()) return false;
  const attrsEnd = s.at;
  s.utf8 = true;
  if (!s.u64Ms()) return false; // startTimeUnixNano
  if (!s.u64Ms()) return false;
  c.tMs[i] = s.ms;
  const flags = s.uint();
  if (flags < 0) return false;
  // A point with no recorded value is Prometheus's staleness marker, whatever value it carries (metrics/staleness.ts).
  if (noRecordedValue(flags)) c.value[i] = STALE_NAN;
  if (s.byte() !== 0x90) return false; // exemplars: none
  if (s.bad) return false;
  c.kind[i] = kind;
  c.res[i] = ri;
  c.scope[i] = si;
  c.nameAt[i] = nameAt;
  c.nameEnd[i] = nameEnd;
  c.identAt[i] = identAt;
  c.identEnd[i] = identEnd;
  c.descAt[i] = descAt;
  c.descEnd[i] = descEnd;
  c.attrsAt[i] = attrsAt;
  c.attrsEnd[i] = attrsEnd;
  return true;
}
