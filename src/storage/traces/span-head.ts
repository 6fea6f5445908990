/**
 * span-head.ts — the applied spans of one tenant that no flush has written
 * yet, kept compact: the msgpack bytes of each span as the shard entry
 * carried them, plus typed-array columns for what the store looks up and
 * filters on. No SpanRow lives in the head; a span is decoded (and checked)
 * only when a flush or a head read needs it (SpanHeadReader).
 *
 * Why: a head of SpanRow objects (nested attribute arrays, events, links,
 * bigints, one span-id view each) cost ~893 B per span and ~70% of the apply
 * time went to garbage collection of those objects (bench/apply.ts). The
 * bytes of a span in an entry are ~185 B and hold no heap object.
 *
 * Layout:
 *
 *   slabs     the copied bytes: per added entry, its bytes [resources ..
 *             last span] (entry-spans.ts), the context (resource and scope
 *             tables) then the span tuples, back to back in slabs of
 *             TraceStoreLimits.headSlabBytesMin doubling to headSlabBytesMax
 *             (one ArrayBuffer per slab, not per entry); per entry its slab,
 *             where its context starts, ends and its scopes start, and the
 *             CRC-32C of the context
 *   traces    trace key (16-char string) -> trace number t, in first-seen
 *             order; per t: trace id (16 B), first and last slot
 *   slots     one per distinct (trace, span id), in first-seen order within
 *             their trace (a singly linked list by slotNext); per slot: the
 *             entry and byte range of its latest version, that range's
 *             CRC-32C, span id (8 B), start and end time, kind and status
 *             code, and estimateSpanBytes of the latest version (the flush
 *             cuts blocks by it, as before)
 *   table     open addressing over (trace, span id) -> slot + 1 (0 = empty),
 *             linear probing, at most half full
 *
 * Invariants:
 * - A (trace, span id) has at most one slot; a later add of it points the
 *   slot at the new version and keeps the slot's place in its trace (the
 *   head's "last write wins, first position kept", as a Map.set).
 * - 0 <= slotEntry[s] < entry count and that entry's context end <=
 *   slotStart[s] < slotEnd[s] <= its slab's length; slotCrc[s] is CRC-32C of
 *   those bytes, written at add and checked at every decode (so a changed
 *   byte is ERR_CORRUPTION, never a wrong span).
 * - bytes() is what the head holds: the slabs' capacity (a replaced version
 *   stays until the head is dropped), the columns' allocated capacity, and a
 *   fixed cost per trace and per entry (TraceStoreLimits.headTraceBytes,
 *   headEntryBytes: the map entry and key string, the entry's array slots).
 *
 * Owner: TraceStore (one SpanHead per tenant in its head and frozen head).
 * add mutates; every other method reads. Pure code, no I/O.
 */
import { assert } from '../../errors.js';
import { TraceStoreLimits } from '../../limits.js';
import { crc32c } from '../../raft/wal/index.js';
import { corrupt } from '../codec/bits.js';
import { readResource, readScope, readSpan } from '../row-wire.js';
import type { RowContext } from '../row-wire.js';
import type { SpanRow } from '../rows.js';
import { SPAN_ID_BYTES, TRACE_ID_BYTES } from '../rows.js';
import { WireReader } from '../wire-reader.js';
import type { SpanEntryColumns } from '../span-entry.js';
import { unpackRange } from './entry-spans.js';

const NONE = -1;

/**
 * idKey is the map key of an id (one char per byte). It reads the bytes by
 * index: going through `id.buffer` would move a small on-heap Uint8Array (what
 * decodeShardEntry gives) to an off-heap backing store, which costs more than
 * the key and makes every later GC slower.
 */
export function idKey(id: Uint8Array): string {
  const b = id as unknown as number[]; // In bounds below: the lengths are checked first.
  if (id.length === SPAN_ID_BYTES) return String.fromCharCode(b[0] as number, b[1] as number, b[2] as number, b[3] as number, b[4] as number, b[5] as number, b[6] as number, b[7] as number);
  return String.fromCharCode.apply(null, b);
}

/** traceKeyAt is idKey of the trace id at ids[at, at + 16), without a view of it. */
function traceKeyAt(ids: Uint8Array, at: number): string {
  const b = ids;
  return String.fromCharCode(
    b[at] as number, b[at + 1] as number, b[at + 2] as number, b[at + 3] as number,
    b[at + 4] as number, b[at + 5] as number, b[at + 6] as number, b[at + 7] as number,
    b[at + 8] as number, b[at + 9] as number, b[at + 10] as number, b[at + 11] as number,
    b[at + 12] as number, b[at + 13] as number, b[at + 14] as number, b[at + 15] as number,
  );
}

/** sameId says whether a[ai, ai + n) equals b[bi, bi + n). */
function sameId(a: Uint8Array, ai: number, b: Uint8Array, bi: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a[ai + k] !== b[bi + k]) return false;
  return true;
}

function growI32(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

function growU32(a: Uint32Array, n: number): Uint32Array {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}

function growU8(a: Uint8Array, n: number): Uint8Array {
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}

function growU64(a: BigUint64Array, n: number): BigUint64Array {
  const b = new BigUint64Array(n);
  b.set(a);
  return b;
}

/** SpanHead is one tenant's head of applied spans in compact form; see the layout at the top of this file. */
export class SpanHead {
  readonly tenant: string;
  /** #slabs hold the copied bytes; #slab is the last one, filled up to #slabAt. */
  readonly #slabs: Uint8Array[] = [];
  #slab: Uint8Array = new Uint8Array(0);
  #slabAt = 0;
  #slabBytes = 0;
  /** Entry e's context is #slabs[#entrySlab[e]] [#entryBase[e], #entryContextEnd[e]), its scopes from #entryScopesAt[e]; #entryCrc[e] is its CRC-32C. */
  readonly #entrySlab: number[] = [];
  readonly #entryBase: number[] = [];
  readonly #entryScopesAt: number[] = [];
  readonly #entryContextEnd: number[] = [];
  readonly #entryCrc: number[] = [];

  readonly #traceNos = new Map<string, number>();
  #traceIds: Uint8Array = new Uint8Array(0);
  #traceFirst: Int32Array = new Int32Array(0);
  #traceLast: Int32Array = new Int32Array(0);

  #slots = 0;
  #slotTrace: Int32Array = new Int32Array(0);
  #slotNext: Int32Array = new Int32Array(0);
  #slotEntry: Int32Array = new Int32Array(0);
  #slotStart: Uint32Array = new Uint32Array(0);
  #slotEnd: Uint32Array = new Uint32Array(0);
  #slotCrc: Uint32Array = new Uint32Array(0);
  #slotEstimate: Uint32Array = new Uint32Array(0);
  #slotKindStatus: Uint8Array = new Uint8Array(0);
  #slotSpanIds: Uint8Array = new Uint8Array(0);
  #slotStartNs: BigUint64Array = new BigUint64Array(0);
  #slotEndNs: BigUint64Array = new BigUint64Array(0);
  /** #slotStartNs32 and #slotEndNs32 alias the two time columns as 32-bit halves (add copies through them). */
  #slotStartNs32: Uint32Array = new Uint32Array(0);
  #slotEndNs32: Uint32Array = new Uint32Array(0);
  /** #table maps (trace, span id) to slot + 1; its length is a power of two, at least twice the slots. */
  #table: Int32Array = new Int32Array(TraceStoreLimits.headTableSlotsMin);
  /** #missAt is the empty table position of #find's last miss (NONE once used or stale). */
  #missAt = NONE;
  #columnBytes = 0;
  #estimateSum = 0;

  constructor(tenant: string) {
    assert(tenant.length > 0, 'a span head belongs to a tenant');
    this.tenant = tenant;
    this.#growTraces(TraceStoreLimits.headInitialTraces);
    this.#growSlots(TraceStoreLimits.headInitialSpans);
    this.#columnBytes = this.#measureColumns();
  }

  /** spanCount is the number of distinct spans (slots). */
  get spanCount(): number {
    return this.#slots;
  }

  /** traceCount is the number of distinct traces. */
  get traceCount(): number {
    return this.#traceNos.size;
  }

  /** estimateSum is the sum of estimateSpanBytes over the latest versions (the old head's accounting, kept for comparison). */
  get estimateSum(): number {
    return this.#estimateSum;
  }

  /** bytes is the memory the head holds (see the invariants at the top of this file). */
  bytes(): number {
    return (
      this.#slabBytes +
      this.#columnBytes +
      this.#traceNos.size * TraceStoreLimits.headTraceBytes +
      this.#entrySlab.length * TraceStoreLimits.headEntryBytes
    );
  }

  /**
   * add keeps the spans of one entry: `entry` is the entry's bytes (copied
   * here: the head keeps no reference to them) and `c` its context and span
   * ranges with each span's columns (span-entry.ts: filled by decodeSpanEntry
   * from the bytes, or by TraceStore.addEntry from decoded rows).
   */
  add(entry: Uint8Array, c: SpanEntryColumns): void {
    const n = c.count;
    assert(n > 0, 'at least one span');
    const from = c.contextStart;
    const to = c.spanEnds[n - 1] as number;
    assert(from < c.contextEnd && c.contextEnd < to && to <= entry.length, 'the ranges lie in the entry');
    const e = this.#entrySlab.length;
    assert(e < 0x7fff_ffff, 'entry numbers fit an int32');
    const base = this.#place(entry, from, to);
    const region = this.#slab;
    // Offsets below are in the slab: entry offset - from + base.
    const shift = base - from;
    const contextEnd = c.contextEnd + shift;
    this.#entrySlab.push(this.#slabs.length - 1);
    this.#entryBase.push(base);
    this.#entryScopesAt.push(c.scopesStart + shift);
    this.#entryContextEnd.push(contextEnd);
    this.#entryCrc.push(crc32c(region, base, contextEnd));
    const traceIds = c.traceIds;
    const spanIds = c.spanIds;
    const start32 = c.startNs32;
    const end32 = c.endNs32;
    let t = NONE;
    for (let i = 0; i < n; i++) {
      const ta = i * TRACE_ID_BYTES;
      // Consecutive spans of one trace (the usual order) look the trace up once per run.
      if (i === 0 || !sameId(traceIds, ta, traceIds, ta - TRACE_ID_BYTES, TRACE_ID_BYTES)) t = this.#trace(traceIds, ta);
      const start = (c.spanStarts[i] as number) + shift;
      const end = (c.spanEnds[i] as number) + shift;
      assert(start >= contextEnd && start < end && end <= this.#slabAt, 'a span range lies in the copied bytes, after the context');
      const sa = i * SPAN_ID_BYTES;
      let slot = this.#find(t, spanIds, sa);
      if (slot === NONE) slot = this.#newSlot(t, spanIds, sa);
      else this.#estimateSum -= this.#slotEstimate[slot] as number;
      const estimate = c.estimates[i] as number;
      this.#slotEntry[slot] = e;
      this.#slotStart[slot] = start;
      this.#slotEnd[slot] = end;
      this.#slotCrc[slot] = crc32c(region, start, end);
      this.#slotEstimate[slot] = estimate;
      this.#slotKindStatus[slot] = c.kindStatus[i] as number;
      // The times are copied as two 32-bit halves: the same 8 bytes, without a bigint per span.
      this.#slotStartNs32[2 * slot] = start32[2 * i] as number;
      this.#slotStartNs32[2 * slot + 1] = start32[2 * i + 1] as number;
      this.#slotEndNs32[2 * slot] = end32[2 * i] as number;
      this.#slotEndNs32[2 * slot + 1] = end32[2 * i + 1] as number;
      this.#estimateSum += estimate;
    }
    assert(this.#slots * 2 <= this.#table.length, 'the table stays at most half full');
  }

  // ---- lookups

  /** traceNo is the number of a trace by its key (idKey of the id), or -1. */
  traceNo(traceKey: string): number {
    return this.#traceNos.get(traceKey) ?? NONE;
  }

  /** traces lists [trace key, trace number] in first-seen order. */
  traces(): IterableIterator<[string, number]> {
    return this.#traceNos.entries();
  }

  /** traceId is a copy of trace t's id. */
  traceId(t: number): Uint8Array {
    assert(t >= 0 && t < this.#traceNos.size, 'a trace number of this head');
    return this.#traceIds.slice(t * TRACE_ID_BYTES, (t + 1) * TRACE_ID_BYTES);
  }

  /** firstSlot is trace t's first slot (every trace has one). */
  firstSlot(t: number): number {
    assert(t >= 0 && t < this.#traceNos.size, 'a trace number of this head');
    return this.#traceFirst[t] as number;
  }

  /** nextSlot is the slot after `slot` in its trace, or -1. */
  nextSlot(slot: number): number {
    return this.#slotNext[slot] as number;
  }

  /** slotOf is the slot of (trace key, span id), or -1. */
  slotOf(traceKey: string, spanId: Uint8Array): number {
    const t = this.#traceNos.get(traceKey);
    return t === undefined ? NONE : this.#find(t, spanId, 0);
  }

  /** spanKey is idKey of a slot's span id. */
  spanKey(slot: number): string {
    const b = this.#slotSpanIds;
    const o = slot * SPAN_ID_BYTES;
    return String.fromCharCode(b[o] as number, b[o + 1] as number, b[o + 2] as number, b[o + 3] as number, b[o + 4] as number, b[o + 5] as number, b[o + 6] as number, b[o + 7] as number);
  }

  /** spanId is a view of a slot's span id (valid until the head grows). */
  spanId(slot: number): Uint8Array {
    assert(slot >= 0 && slot < this.#slots, 'a slot of this head');
    return this.#slotSpanIds.subarray(slot * SPAN_ID_BYTES, (slot + 1) * SPAN_ID_BYTES);
  }

  /** traceOf is a slot's trace number. */
  traceOf(slot: number): number {
    return this.#slotTrace[slot] as number;
  }

  /** startNs is the start time of a slot's latest version. */
  startNs(slot: number): bigint {
    return this.#slotStartNs[slot] as bigint;
  }

  /** endNs is the end time of a slot's latest version. */
  endNs(slot: number): bigint {
    return this.#slotEndNs[slot] as bigint;
  }

  /** kind is the span kind of a slot's latest version. */
  kind(slot: number): number {
    return (this.#slotKindStatus[slot] as number) & 0x0f;
  }

  /** statusCode is the status code of a slot's latest version. */
  statusCode(slot: number): number {
    return (this.#slotKindStatus[slot] as number) >>> 4;
  }

  /** estimate is estimateSpanBytes of a slot's latest version (the flush cuts blocks by it). */
  estimate(slot: number): number {
    return this.#slotEstimate[slot] as number;
  }

  /** reader decodes spans of this head; use one per read or flush (it caches each entry's context). */
  reader(): SpanHeadReader {
    return new SpanHeadReader(this);
  }

  /**
   * decode is SpanHeadReader.row's work: the latest version of a slot,
   * checked (see SpanHeadReader). `contexts` caches the decoded context of
   * each entry for one reader.
   */
  decode(slot: number, w: WireReader, contexts: Map<number, RowContext>): SpanRow {
    assert(slot >= 0 && slot < this.#slots, 'a slot of this head');
    const e = this.#slotEntry[slot] as number;
    const bytes = this.#slabs[this.#entrySlab[e] as number] as Uint8Array;
    const start = this.#slotStart[slot] as number;
    const end = this.#slotEnd[slot] as number;
    if (end > bytes.length || crc32c(bytes, start, end) !== this.#slotCrc[slot]) {
      throw corrupt('a span in the head changed after it was added (CRC-32C mismatch)', { tenant: this.tenant, slot });
    }
    let ctx = contexts.get(e);
    if (ctx === undefined) {
      ctx = this.#context(e, w);
      contexts.set(e, ctx);
    }
    const s = readSpan(w, unpackRange(bytes, start, end), ctx);
    const t = this.#slotTrace[slot] as number;
    if (!sameBytes(s.traceId, this.#traceIds, t * TRACE_ID_BYTES) || !sameBytes(s.spanId, this.#slotSpanIds, slot * SPAN_ID_BYTES)) {
      throw corrupt('a span in the head does not carry the ids it was added under', { tenant: this.tenant, slot });
    }
    return s;
  }

  #context(e: number, w: WireReader): RowContext {
    const bytes = this.#slabs[this.#entrySlab[e] as number] as Uint8Array;
    const base = this.#entryBase[e] as number;
    const scopesAt = this.#entryScopesAt[e] as number;
    const end = this.#entryContextEnd[e] as number;
    if (crc32c(bytes, base, end) !== this.#entryCrc[e]) {
      throw corrupt('the resources and scopes of a head entry changed after it was added (CRC-32C mismatch)', { tenant: this.tenant, entry: e });
    }
    return {
      tenant: this.tenant,
      resources: w.array(unpackRange(bytes, base, scopesAt), 'resources', Number.MAX_SAFE_INTEGER).map((r) => readResource(w, r)),
      scopes: w.array(unpackRange(bytes, scopesAt, end), 'scopes', Number.MAX_SAFE_INTEGER).map((sc) => readScope(w, sc)),
    };
  }

  /**
   * recordViews are views of the head's own bytes of a slot's latest version
   * and of its entry's context. Nothing writes through them but tests, which
   * plant corruption with them to show that decode catches it.
   */
  recordViews(slot: number): { readonly span: Uint8Array; readonly context: Uint8Array } {
    assert(slot >= 0 && slot < this.#slots, 'a slot of this head');
    const e = this.#slotEntry[slot] as number;
    const bytes = this.#slabs[this.#entrySlab[e] as number] as Uint8Array;
    return {
      span: bytes.subarray(this.#slotStart[slot] as number, this.#slotEnd[slot] as number),
      context: bytes.subarray(this.#entryBase[e] as number, this.#entryContextEnd[e] as number),
    };
  }

  // ---- internals

  /** #place copies src [from, to) into the last slab (a new one when it does not fit) and returns where it starts there. */
  #place(src: Uint8Array, from: number, to: number): number {
    const n = to - from;
    if (this.#slabAt + n > this.#slab.length) {
      const grown = Math.min(TraceStoreLimits.headSlabBytesMax, Math.max(TraceStoreLimits.headSlabBytesMin, 2 * this.#slab.length));
      this.#slab = new Uint8Array(Math.max(n, grown));
      this.#slabs.push(this.#slab);
      this.#slabAt = 0;
      this.#slabBytes += this.#slab.length;
    }
    const at = this.#slabAt;
    this.#slab.set(src.subarray(from, to), at);
    this.#slabAt = at + n;
    assert(this.#slabAt <= this.#slab.length, 'the slab cursor stays in the slab');
    return at;
  }


  /** #trace is the number of the trace whose id is ids[at, at + 16), added when new. */
  #trace(ids: Uint8Array, at: number): number {
    const key = traceKeyAt(ids, at);
    const known = this.#traceNos.get(key);
    if (known !== undefined) return known;
    const t = this.#traceNos.size;
    if (t >= this.#traceFirst.length) this.#growTraces(2 * this.#traceFirst.length);
    const col = this.#traceIds;
    for (let k = 0; k < TRACE_ID_BYTES; k++) col[t * TRACE_ID_BYTES + k] = ids[at + k] as number;
    this.#traceFirst[t] = NONE;
    this.#traceLast[t] = NONE;
    this.#traceNos.set(key, t);
    return t;
  }

  /** #hash mixes a trace number and the 8 bytes of a span id at `at` in `id`. */
  #hash(t: number, id: Uint8Array, at: number): number {
    const lo = ((id[at] as number) | ((id[at + 1] as number) << 8) | ((id[at + 2] as number) << 16) | ((id[at + 3] as number) << 24)) ^ Math.imul(t, 0x9e3779b1);
    const hi = (id[at + 4] as number) | ((id[at + 5] as number) << 8) | ((id[at + 6] as number) << 16) | ((id[at + 7] as number) << 24);
    let h = Math.imul(lo ^ (hi >>> 15), 0x85ebca6b) ^ Math.imul(hi, 0xc2b2ae35);
    h ^= h >>> 13;
    return Math.imul(h, 0x27d4eb2f) ^ (h >>> 16);
  }

  /**
   * #find is the slot of (trace t, the span id at id[at, at + 8)), or -1; a
   * miss leaves the empty table position it stopped at in #missAt, where
   * #newSlot puts the new slot unless the table grows first.
   */
  #find(t: number, id: Uint8Array, at: number): number {
    const table = this.#table;
    const mask = table.length - 1;
    const ids = this.#slotSpanIds;
    for (let i = this.#hash(t, id, at) & mask; ; i = (i + 1) & mask) {
      const v = table[i] as number;
      if (v === 0) {
        this.#missAt = i;
        return NONE;
      }
      const s = v - 1;
      if (this.#slotTrace[s] !== t) continue;
      const o = s * SPAN_ID_BYTES;
      if (
        ids[o] === id[at] && ids[o + 1] === id[at + 1] && ids[o + 2] === id[at + 2] && ids[o + 3] === id[at + 3] &&
        ids[o + 4] === id[at + 4] && ids[o + 5] === id[at + 5] && ids[o + 6] === id[at + 6] && ids[o + 7] === id[at + 7]
      ) {
        return s;
      }
    }
  }

  /** #newSlot adds (trace t, the span id at id[at, at + 8)) right after #find missed it. */
  #newSlot(t: number, id: Uint8Array, at: number): number {
    const s = this.#slots;
    assert(s < 0x7fff_ffff, 'slot numbers fit an int32');
    if (s >= this.#slotTrace.length) this.#growSlots(2 * this.#slotTrace.length);
    let missAt = this.#missAt;
    if (2 * (s + 1) > this.#table.length) {
      this.#rehash(2 * this.#table.length);
      missAt = NONE;
    }
    this.#slots = s + 1;
    this.#slotTrace[s] = t;
    this.#slotNext[s] = NONE;
    const col = this.#slotSpanIds;
    for (let k = 0; k < SPAN_ID_BYTES; k++) col[s * SPAN_ID_BYTES + k] = id[at + k] as number;
    const last = this.#traceLast[t] as number;
    if (last === NONE) this.#traceFirst[t] = s;
    else this.#slotNext[last] = s;
    this.#traceLast[t] = s;
    if (missAt === NONE) this.#insert(s);
    else {
      assert(this.#table[missAt] === 0, 'the position #find stopped at is still empty');
      this.#table[missAt] = s + 1;
    }
    this.#missAt = NONE;
    return s;
  }

  /** #insert puts slot s (its trace and span id already in the columns) into the table. */
  #insert(s: number): void {
    const table = this.#table;
    const mask = table.length - 1;
    let i = this.#hash(this.#slotTrace[s] as number, this.#slotSpanIds, s * SPAN_ID_BYTES) & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = s + 1;
  }

  #rehash(n: number): void {
    this.#table = new Int32Array(n);
    for (let s = 0; s < this.#slots; s++) this.#insert(s);
    this.#columnBytes = this.#measureColumns();
  }

  #growTraces(n: number): void {
    this.#traceIds = growU8(this.#traceIds, n * TRACE_ID_BYTES);
    this.#traceFirst = growI32(this.#traceFirst, n);
    this.#traceLast = growI32(this.#traceLast, n);
    this.#columnBytes = this.#measureColumns();
  }

  #growSlots(n: number): void {
    this.#slotTrace = growI32(this.#slotTrace, n);
    this.#slotNext = growI32(this.#slotNext, n);
    this.#slotEntry = growI32(this.#slotEntry, n);
    this.#slotStart = growU32(this.#slotStart, n);
    this.#slotEnd = growU32(this.#slotEnd, n);
    this.#slotCrc = growU32(this.#slotCrc, n);
    this.#slotEstimate = growU32(this.#slotEstimate, n);
    this.#slotKindStatus = growU8(this.#slotKindStatus, n);
    this.#slotSpanIds = growU8(this.#slotSpanIds, n * SPAN_ID_BYTES);
    this.#slotStartNs = growU64(this.#slotStartNs, n);
    this.#slotEndNs = growU64(this.#slotEndNs, n);
    this.#slotStartNs32 = new Uint32Array(this.#slotStartNs.buffer);
    this.#slotEndNs32 = new Uint32Array(this.#slotEndNs.buffer);
    this.#columnBytes = this.#measureColumns();
  }

  #measureColumns(): number {
    return (
      this.#traceIds.byteLength + this.#traceFirst.byteLength + this.#traceLast.byteLength +
      this.#slotTrace.byteLength + this.#slotNext.byteLength + this.#slotEntry.byteLength +
      this.#slotStart.byteLength + this.#slotEnd.byteLength + this.#slotCrc.byteLength +
      this.#slotEstimate.byteLength + this.#slotKindStatus.byteLength + this.#slotSpanIds.byteLength +
      this.#slotStartNs.byteLength + this.#slotEndNs.byteLength + this.#table.byteLength
    );
  }
}

/**
 * SpanHeadReader decodes spans of a SpanHead, checking each: the CRC-32C of
 * its bytes and of its entry's context against what add wrote, then every
 * field (readSpan, the entry decoder's checks), then its trace and span id
 * against the columns. Any mismatch is ERR_CORRUPTION. It caches the decoded
 * context of each entry it touched (a few resources and scopes per entry),
 * so it lives for one read or one flush.
 */
export class SpanHeadReader {
  readonly #head: SpanHead;
  readonly #w = new WireReader('stored');
  readonly #contexts = new Map<number, RowContext>();

  constructor(head: SpanHead) {
    this.#head = head;
  }

  /** row decodes the latest version of a slot. */
  row(slot: number): SpanRow {
    return this.#head.decode(slot, this.#w, this.#contexts);
  }
}

function sameBytes(a: Uint8Array, col: Uint8Array, at: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== col[at + i]) return false;
  return true;
}
