/**
 * span-entry.ts — a second decoder of shard entries (shard-entry.ts) for the
 * common traces case: an entry of spans only (no points, no logs), checked
 * straight from its bytes into reused columns (the values the trace store's
 * compact head keeps per span, span-head.ts) instead of one SpanRow (with
 * its attribute objects, bigints and id views) per span. It mirrors
 * metric-entry.ts, whose contract it keeps:
 *
 * decodeSpanEntry either fills the columns with an entry decodeShardEntry
 * would accept, with the same values, or returns false and the caller uses
 * decodeShardEntry (which then reports the defect exactly as before). It
 * never throws for bad bytes and never reports an error of its own. Strings
 * must be well-formed UTF-8, and every field is accepted only in the forms
 * whose msgpackr value the regular reader (row-wire.ts readSpan) accepts:
 *
 *   span         array16(19) (what msgpackr writes for 19 fields) or any array header of 19
 *   index, u32   positive fixint | uint8 | uint16 | uint32, indexes below the table sizes
 *   traceId      bin8 of 16 bytes;  spanId bin8 of 8 bytes;  parentSpanId bin8 of 0 or 8 bytes
 *   u64          uint64 | int64 >= 0
 *   kind         u32 <= SPAN_KIND_MAX;  status code u32 <= STATUS_CODE_MAX
 *   string       as metric-entry.ts (well-formed UTF-8, at most stringBytesMax / 3 bytes)
 *   attributes   as metric-entry.ts (string keys; string | nil | bool | Number values)
 *   events       array of <= eventsPerSpanMax fixarray(4) [u64, string, attributes, u32]
 *   links        array of <= linksPerSpanMax fixarray(6) [traceId, spanId, string, attributes, u32, u32]
 *
 * A span outside that grammar (bytes or nested attribute values, unusual
 * number forms) is decoded as a SpanRow by readSpan from the span's own bytes
 * (after a validating skip) and its columns are taken from that row, so it
 * is checked exactly as before; only the entry as a whole goes back to
 * decodeShardEntry (other rows, other table forms, any defect).
 *
 * The columns per span are what SpanHead.add needs: the byte range of the
 * span tuple (EntrySpanRanges, the same ranges locateEntrySpans finds), the
 * trace and span ids, kind and status code, start and end time, and
 * estimateSpanBytes of the span as a SpanRow would have it (computed from
 * the UTF-8 bytes: UTF-16 length of the three strings, item counts).
 * TraceStore.addEntry fills the same columns from decoded rows (setRow), so
 * both paths go through one SpanHead.add.
 *
 * Pure code; the columns are owned by the caller (one per state machine) and
 * hold a reference to the entry bytes until release().
 *
 * Invariants: after a true return, 0 < count <= StorageLimits.rowsPerEntryMax;
 * for every i < count, the span's range lies in `bytes` after the context,
 * traceIds[16i, 16i + 16) and spanIds[8i, 8i + 8) are its ids, and
 * kindStatus[i] = kind | statusCode << 4.
 */
import { OtlpdbError, assert } from '../errors.js';
import { StorageLimits as L, TraceStoreLimits } from '../limits.js';
import { Scan, readResourceFast, readScopeFast, utf16Length } from './entry-scan.js';
import { readResource, readScope, readSpan } from './row-wire.js';
import type { RowContext } from './row-wire.js';
import type { SpanRow } from './rows.js';
import { SPAN_ID_BYTES, SPAN_KIND_MAX, STATUS_CODE_MAX, TRACE_ID_BYTES } from './rows.js';
import { readEntryHeader } from './entry-header.js';
import type { EntryHeader, EntryPeek } from './entry-header.js';
import type { AddResult } from './shard/signal-store.js';
import { EntrySpanRanges, unpackRange } from './traces/entry-spans.js';
import { WireReader } from './wire-reader.js';

const EMPTY = new Uint8Array(0);
/** SPAN_FIELDS and the event and link arities are those of row-wire.ts. */
const SPAN_FIELDS = 19;
const EVENT_FIELDS = 4;
const LINK_FIELDS = 6;
/** LO and HI are the Uint32Array indexes of the low and high halves of a BigUint64Array element on this machine. */
const LO = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
const HI = 1 - LO;

/**
 * spanEstimateBytes is estimateSpanBytes from its parts: `chars` UTF-16 units
 * of the span's own strings (name, traceState, status message) and `items`
 * attributes, events and links.
 */
export function spanEstimateBytes(chars: number, items: number): number {
  return TraceStoreLimits.headSpanBytesBase + TraceStoreLimits.headBytesPerChar * chars + TraceStoreLimits.headBytesPerItem * items;
}

/**
 * estimateSpanBytes is the memory estimate of one decoded span (SpanRow): a
 * fixed base (the row object, its ids, times), 2 bytes per UTF-16 unit of the
 * span's own strings, and a flat cost per attribute, event and link.
 * Resource and scope objects are shared by the spans of one request, so they
 * are not counted. A flush cuts blocks by it (StoreLimits.blockBytesTarget),
 * as it did when the head held rows, so the blocks written stay the same.
 * It is no longer the head's accounting: the head keeps span bytes, and
 * SpanHead.bytes() counts what it really holds (~279 B per realistic span
 * against this estimate's ~893 B; bench/apply).
 * NB: measured on bench/apply's realistic spans (heap snapshot, decoded rows
 * plus the old head's maps) a row-held span retained ~850 B; rows with many
 * distinct short attributes can retain more than estimated.
 */
export function estimateSpanBytes(s: SpanRow): number {
  const chars = s.name.length + s.traceState.length + s.status.message.length;
  return spanEstimateBytes(chars, s.attributes.length + s.events.length + s.links.length);
}

/**
 * SpanEntryColumns is one spans-only entry's header and per-span columns
 * (see the file comment), reused from entry to entry: the columns grow to the
 * largest entry seen. It extends the ranges locateEntrySpans fills, so the
 * row path (TraceStore.addEntry) fills the same object.
 */
export class SpanEntryColumns extends EntrySpanRanges {
  tenant = '';
  idempotencyKey = '';
  part = 0;
  parts = 0;
  leaderTimeMs = 0;
  /** bytes is the entry the ranges point into. */
  bytes: Uint8Array = EMPTY;
  /** traceIds holds 16 bytes per span, spanIds 8. */
  traceIds = new Uint8Array(0);
  spanIds = new Uint8Array(0);
  /** kindStatus[i] is the span's kind | status code << 4. */
  kindStatus = new Uint8Array(0);
  /** startNs and endNs are the span's times; startNs32 and endNs32 alias them as 32-bit halves (LO, HI). */
  startNs = new BigUint64Array(0);
  endNs = new BigUint64Array(0);
  startNs32 = new Uint32Array(0);
  endNs32 = new Uint32Array(0);
  /** estimates[i] is estimateSpanBytes of the span. */
  estimates = new Uint32Array(0);
  /** rowSpans counts the spans decodeSpanEntry read as rows (outside the fast grammar); tests read it. */
  rowSpans = 0;
  #ctx: RowContext | null = null;
  #reader: WireReader | null = null;

  /** reset starts a new entry of `bytes`. */
  reset(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.count = 0;
    this.rowSpans = 0;
    this.#ctx = null;
    this.#reader = null;
  }

  /** release drops the reference to the entry bytes once the entry is applied. */
  release(): void {
    this.reset(EMPTY);
  }

  override reserve(n: number): void {
    super.reserve(n);
    if (this.kindStatus.length >= n) return;
    const cap = Math.max(n, this.spanStarts.length);
    this.traceIds = new Uint8Array(cap * TRACE_ID_BYTES);
    this.spanIds = new Uint8Array(cap * SPAN_ID_BYTES);
    this.kindStatus = new Uint8Array(cap);
    this.startNs = new BigUint64Array(cap);
    this.endNs = new BigUint64Array(cap);
    this.startNs32 = new Uint32Array(this.startNs.buffer);
    this.endNs32 = new Uint32Array(this.endNs.buffer);
    this.estimates = new Uint32Array(cap);
  }

  /** setRow takes span i's columns from its decoded row (the row path, and spans outside the fast grammar). */
  setRow(i: number, s: SpanRow): void {
    assert(i >= 0 && i < this.kindStatus.length, 'a reserved span');
    assert(s.traceId.length === TRACE_ID_BYTES && s.spanId.length === SPAN_ID_BYTES, 'a decoded span has full ids');
    this.traceIds.set(s.traceId, i * TRACE_ID_BYTES);
    this.spanIds.set(s.spanId, i * SPAN_ID_BYTES);
    this.kindStatus[i] = s.kind | (s.status.code << 4);
    this.startNs[i] = s.startTimeUnixNano;
    this.endNs[i] = s.endTimeUnixNano;
    this.estimates[i] = estimateSpanBytes(s);
  }

  /** context is the entry's tenant and decoded tables (only spans read as rows need them); they were checked, so a failure is a bug. */
  context(): RowContext {
    if (this.#ctx !== null) return this.#ctx;
    const w = this.reader();
    const resources = w.array(unpackRange(this.bytes, this.contextStart, this.scopesStart), 'resources', L.rowsPerEntryMax).map((r) => readResource(w, r));
    const scopes = w.array(unpackRange(this.bytes, this.scopesStart, this.contextEnd), 'scopes', L.rowsPerEntryMax).map((s) => readScope(w, s));
    this.#ctx = { tenant: this.tenant, resources, scopes };
    return this.#ctx;
  }

  /** reader is this entry's WireReader (stored mode: a failed check is ERR_CORRUPTION). */
  reader(): WireReader {
    this.#reader ??= new WireReader('stored');
    return this.#reader;
  }
}

/** ColumnarTraceStore is a traces store that also takes decoded span columns (TraceStore.addSpanColumns). */
export interface ColumnarTraceStore {
  addSpanColumns(c: SpanEntryColumns, entryTimeMs: number): AddResult;
}

/** hasAddSpanColumns says whether a traces store takes span columns (a test double or another store may not). */
export function hasAddSpanColumns<T extends object>(store: T): store is T & ColumnarTraceStore {
  return typeof (store as Partial<ColumnarTraceStore>).addSpanColumns === 'function';
}

/**
 * decodeSpanEntry decodes a spans-only shard entry into `c` and returns
 * true, or returns false when the entry is not one this decoder takes (other
 * rows, other forms, or any defect): the caller then uses decodeShardEntry.
 * `peek`, when given, is peekEntry's read of this entry's header, used once:
 * the decoder continues from its scan (the same verdict as without it).
 */
export function decodeSpanEntry(bytes: Uint8Array, c: SpanEntryColumns, peek: EntryPeek | null = null): boolean {
  assert(peek === null || peek.scan.b === bytes, 'a peek of this entry');
  c.reset(bytes);
  if (bytes.length > L.entryBytesMax) return false;
  const s = peek?.scan ?? new Scan(bytes);
  let ok: boolean;
  try {
    ok = readEntry(s, c, peek?.header ?? null);
  } catch (err) {
    // A row span (or table entry) the regular reader refuses is ERR_CORRUPTION: decodeShardEntry reports it.
    // A broken invariant of this code (ERR_INTERNAL) is a bug and is not hidden.
    if (err instanceof OtlpdbError && err.code !== 'ERR_CORRUPTION') throw err;
    ok = false;
  }
  if (!ok) {
    c.reset(EMPTY);
    return false;
  }
  assert(c.count > 0 && c.count <= L.rowsPerEntryMax, 'a decoded entry has spans within the limit');
  assert((c.spanEnds[c.count - 1] as number) < bytes.length, 'the spans end before the entry does');
  return true;
}

function readEntry(s: Scan, c: SpanEntryColumns, peeked: EntryHeader | null): boolean {
  // A peeked header was read by the same readEntryHeader, and the scan stands where it left it.
  const h = peeked ?? readEntryHeader(s);
  if (h === null) return false;
  const { tenant, idempotencyKey: key, part, parts, leaderTimeMs, resourcesAt, resources, scopesAt, scopes } = h;
  const contextEnd = s.at;
  const n = s.arrayHeader();
  if (n < 1 || n > L.rowsPerEntryMax) return false;
  // decodeShardEntry refuses table entries past the row count.
  if (resources > n || scopes > n) return false;
  c.tenant = tenant;
  c.idempotencyKey = key;
  c.part = part;
  c.parts = parts;
  c.leaderTimeMs = leaderTimeMs;
  c.contextStart = resourcesAt;
  c.scopesStart = scopesAt;
  c.contextEnd = contextEnd;
  c.reserve(n);
  const spansAt = s.at;
  // Tables: checked now, in the fast grammar or by the regular readers (which throw on a defect).
  s.at = resourcesAt;
  s.arrayHeader();
  for (let i = 0; i < resources; i++) {
    const at = s.at;
    if (!readResourceFast(s)) {
      s.at = at;
      if (!s.skip(0)) return false;
      readResource(c.reader(), unpackRange(c.bytes, at, s.at));
    }
  }
  assert(s.at === scopesAt, 'resources end where scopes start');
  s.arrayHeader();
  for (let i = 0; i < scopes; i++) {
    const at = s.at;
    if (!readScopeFast(s)) {
      s.at = at;
      if (!s.skip(0)) return false;
      readScope(c.reader(), unpackRange(c.bytes, at, s.at));
    }
  }
  assert(s.at === contextEnd, 'scopes end where spans start');
  s.at = spansAt;
  for (let i = 0; i < n; i++) {
    const at = s.at;
    c.spanStarts[i] = at;
    if (!readSpanFast(s, c, i, resources, scopes)) {
      s.at = at;
      if (!s.skip(0)) return false;
      c.setRow(i, readSpan(c.reader(), unpackRange(c.bytes, at, s.at), c.context()));
      c.rowSpans++;
    }
    c.spanEnds[i] = s.at;
  }
  if (s.byte() !== 0x90) return false; // points: none
  if (s.byte() !== 0x90) return false; // logs: none
  if (s.at !== s.end || s.bad) return false;
  c.count = n;
  return true;
}

/** copyBytes copies n bytes (an id) without a subarray view per call. */
function copyBytes(src: Uint8Array, at: number, dst: Uint8Array, to: number, n: number): void {
  for (let k = 0; k < n; k++) dst[to + k] = src[at + k] as number;
}

/** readSpanFast reads span i in the fast grammar into the columns, or returns false (the caller rewinds). */
function readSpanFast(s: Scan, c: SpanEntryColumns, i: number, resources: number, scopes: number): boolean {
  if (s.arrayHeader() !== SPAN_FIELDS) return false;
  const ri = s.uint();
  if (ri < 0 || ri >= resources) return false;
  const si = s.uint();
  if (si < 0 || si >= scopes) return false;
  const traceAt = s.binAt(TRACE_ID_BYTES);
  if (traceAt < 0) return false;
  const spanAt = s.binAt(SPAN_ID_BYTES);
  if (spanAt < 0) return false;
  const parentLength = s.at + 1 < s.end ? s.b[s.at + 1] : -1;
  if (s.binAt(parentLength === 0 ? 0 : SPAN_ID_BYTES) < 0) return false;
  const b = s.b;
  if (!s.string()) return false; // traceState
  let chars = utf16Length(b, s.strAt, s.at);
  if (s.uint() < 0) return false; // flags
  if (!s.string()) return false; // name
  chars += utf16Length(b, s.strAt, s.at);
  const kind = s.uint();
  if (kind < 0 || kind > SPAN_KIND_MAX) return false;
  if (!s.u64()) return false;
  const startHi = s.hi;
  const startLo = s.lo;
  if (!s.u64()) return false;
  const endHi = s.hi;
  const endLo = s.lo;
  const status = s.uint();
  if (status < 0 || status > STATUS_CODE_MAX) return false;
  if (!s.string()) return false; // status message
  chars += utf16Length(b, s.strAt, s.at);
  if (!s.attributes()) return false;
  let items = s.pairs;
  if (s.uint() < 0) return false; // droppedAttributesCount
  const events = s.arrayHeader();
  if (events < 0 || events > L.eventsPerSpanMax) return false;
  for (let e = 0; e < events; e++) {
    if (s.arrayHeader() !== EVENT_FIELDS || !s.u64() || !s.string() || !s.attributes() || s.uint() < 0) return false;
  }
  if (s.uint() < 0) return false; // droppedEventsCount
  const links = s.arrayHeader();
  if (links < 0 || links > L.linksPerSpanMax) return false;
  for (let l = 0; l < links; l++) {
    if (s.arrayHeader() !== LINK_FIELDS || s.binAt(TRACE_ID_BYTES) < 0 || s.binAt(SPAN_ID_BYTES) < 0) return false;
    if (!s.string() || !s.attributes() || s.uint() < 0 || s.uint() < 0) return false;
  }
  if (s.uint() < 0) return false; // droppedLinksCount
  if (s.bad) return false;
  items += events + links;
  copyBytes(b, traceAt, c.traceIds, i * TRACE_ID_BYTES, TRACE_ID_BYTES);
  copyBytes(b, spanAt, c.spanIds, i * SPAN_ID_BYTES, SPAN_ID_BYTES);
  c.kindStatus[i] = kind | (status << 4);
  c.startNs32[2 * i + LO] = startLo;
  c.startNs32[2 * i + HI] = startHi;
  c.endNs32[2 * i + LO] = endLo;
  c.endNs32[2 * i + HI] = endHi;
  c.estimates[i] = spanEstimateBytes(chars, items);
  return true;
}
