/**
 * trace-summaries.ts — the per-block table of trace summaries: for every
 * trace of a span block, what a trace search answers about it (first start,
 * last start, last end, span count, root service and root name when the root
 * span is in the block, and the first few spans by start), written by the
 * flush beside the block (trace-keys.ts key 0x16) so a search can settle a
 * trace that lies wholly in one block without reading its pages.
 *
 * Why: Tempo's minDuration/maxDuration are trace durations, which no span
 * index holds; before this table a duration search read every candidate
 * trace's pages (traceById) only to take its extent, its root and its first
 * `spss` spans. A summary is answered from one small value per block, read
 * once through the block cache.
 *
 * Exactness: the table is computed from the block's rows in traceById's
 * order (compareSpans: start, then span id), and the root is chosen exactly
 * as summarizeTrace chooses it (the first span without a parent of the
 * earliest start). A summary speaks for the whole trace only when the
 * trace-id index says this block is its only block and no head holds it
 * (TraceStore.traceExtent); the reader also checks its count and times
 * against that index entry and refuses (ERR_CORRUPTION) a disagreement.
 *
 * Layout (sealed: BlockKind.blockMeta envelope with its CRC32C; the same
 * version byte and record tags as trace-keys.ts's small values):
 *
 *   u8 version (1 | 2) | u8 record 3
 *   u8 idBytes (4: every trace's first 4 id bytes differ within the block; else 16)
 *   bigvarint baseStart (the block's first span start)
 *   uvarint strings, then per string: uvarint len | UTF-8 bytes     (dictionary: services and names)
 *   uvarint traces, then per trace (in the block's first-row order):
 *     traceId's first idBytes bytes | uvarint spans (>= 1)
 *     bigvarint (firstStart − baseStart) | bigvarint (lastStart − firstStart) | bigvarint zigzag(lastEnd − firstStart)
 *     u8 flags: bit 0 root in the block, bit 1 every kept span's service.name is a string or absent,
 *               bit 2 (version 2) sole: when the flush wrote the block, no other block held a span of the trace
 *     [bit 0] uvarint rootService string# | uvarint rootName string#
 *     uvarint kept (= min(spans, TraceStoreLimits.summarySpansKept)), then per kept span:
 *       uvarint spanId length | spanId bytes | uvarint name string#
 *       bigvarint (start − firstStart) | bigvarint zigzag(end − start)
 *       uvarint service: 0 absent (or not a string: then bit 1 is clear), else string# + 1
 *
 * Trace ids are cut to 4 bytes when that keeps them apart within the block:
 * a reader looks up only a trace the trace-id index says this block holds,
 * so a unique prefix names it exactly (the decoder refuses two equal ones).
 *
 * Size (bench trace-store, realistic spans): about 5 bytes a span, counted
 * as the block's data (it copies span fields: ids, names, times), not index.
 *
 * Pure code, no I/O. Blocks written before this table have none: readers
 * treat a missing table as "no summaries" and read the trace as before.
 */
import { assert } from '../../errors.js';
import { ShardDbLimits, StoreLimits, TraceStoreLimits } from '../../limits.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { corrupt } from '../codec/bits.js';
import type { ByteWriter } from '../codec/varint.js';
import { ByteReader } from '../codec/varint.js';
import type { SpanRow } from '../rows.js';
import { TRACE_ID_BYTES } from '../rows.js';
import { idKey } from './span-head.js';
import { readBigUvarint, serviceOf, unzigzagBig, writeBigUvarint, zigzagBig } from './span-block.js';

/** SUMMARY_VERSION is the version written: 2 may set FLAG_SOLE; version 1 tables (written before it) are still read, never sole. */
const SUMMARY_VERSION = 2;
const SUMMARY_VERSION_NO_SOLE = 1;
const RECORD_SUMMARIES = 3;
const FLAG_ROOT = 1;
const FLAG_SERVICES_EXACT = 2;
const FLAG_SOLE = 4;
const SERVICE_NAME_KEY = 'service.name';
/** SPAN_ID_BYTES_MAX bounds a kept span id's length on read (OTLP span ids are 8 bytes; longer ones are refused as corrupt). */
const SPAN_ID_BYTES_MAX = 64;

/** KeptSpan is one of a summary's first spans by start: what a search answer lists of it. */
export interface KeptSpan {
  readonly spanId: Uint8Array;
  readonly name: string;
  readonly startNs: bigint;
  readonly endNs: bigint;
  /** service is the span's resource `service.name` when it is a string; undefined when absent. */
  readonly service: string | undefined;
}

/** TraceSummaryEntry is one trace's summary within one block. */
export interface TraceSummaryEntry {
  /** traceId is the trace id (16 bytes) or, decoded from a table that cut them, its first ID_PREFIX_BYTES bytes. */
  readonly traceId: Uint8Array;
  readonly spans: number;
  readonly firstStartNs: bigint;
  readonly lastStartNs: bigint;
  readonly lastEndNs: bigint;
  /** root is the root span's service (serviceOf) and name, or null when no span of the trace in the block lacks a parent. */
  readonly root: { readonly service: string; readonly name: string } | null;
  /** kept are the first min(spans, summarySpansKept) spans in compareSpans order. */
  readonly kept: readonly KeptSpan[];
  /** servicesExact says every kept span's service.name is a string or absent (else a search reads the trace for it). */
  readonly servicesExact: boolean;
  /**
   * sole says that when the flush wrote the block no other block held a span
   * of the trace (no older block, no other block of the flush). While the
   * block's meta says "no shadow markers" (no later flush wrote the trace)
   * and no head holds it, the block holds the whole trace, so a search
   * settles it from this entry without scanning the trace-id index.
   * Undefined (version 1) and false: unknown.
   */
  readonly sole?: boolean;
}

/** ID_PREFIX_BYTES is the trace-id prefix a table stores when the prefixes of its traces differ. */
const ID_PREFIX_BYTES = 4;

/** TraceSummaryTable is a block's decoded table: its traces by trace-id prefix (idBytes bytes, idKey). */
export interface TraceSummaryTable {
  readonly idBytes: number;
  readonly entries: ReadonlyMap<string, TraceSummaryEntry>;
}

/** summaryOf is the entry of a trace the trace-id index says `table`'s block holds, or undefined when the table lacks it. */
export function summaryOf(table: TraceSummaryTable, traceId: Uint8Array): TraceSummaryEntry | undefined {
  assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
  return table.entries.get(idKey(traceId.subarray(0, table.idBytes)));
}

/** idBytesFor is how many id bytes a table of these ids stores: ID_PREFIX_BYTES when those prefixes all differ, else every byte. */
function idBytesFor(ids: readonly Uint8Array[]): number {
  const len = ids[0]?.length ?? TRACE_ID_BYTES;
  assert(len === ID_PREFIX_BYTES || len === TRACE_ID_BYTES, 'trace ids or their prefixes');
  if (len === ID_PREFIX_BYTES) return len;
  const seen = new Set<string>();
  for (const id of ids) {
    assert(id.length === len, 'ids of one length');
    const k = idKey(id.subarray(0, ID_PREFIX_BYTES));
    if (seen.has(k)) return TRACE_ID_BYTES;
    seen.add(k);
  }
  return ID_PREFIX_BYTES;
}

/** compareSpans is traceById's order of a trace's spans: start, then span id. */
export function compareSpans(a: SpanRow, b: SpanRow): number {
  if (a.startTimeUnixNano !== b.startTimeUnixNano) return a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1;
  return Buffer.compare(a.spanId, b.spanId);
}

/** serviceAttr is what a search lists as a span's service.name: a string, absent, or 'inexact' (an int or bool value). */
function serviceAttr(s: SpanRow): string | undefined | 'inexact' {
  const kv = s.resource.attributes.find((r) => r.key === SERVICE_NAME_KEY);
  if (kv === undefined) return undefined;
  if (kv.value.type === 'string') return kv.value.value;
  return kv.value.type === 'int' || kv.value.type === 'bool' ? 'inexact' : undefined;
}

/** summarizeBlockTraces computes the table of a block's rows (pure; the flush encodes it). */
export function summarizeBlockTraces(spans: readonly SpanRow[], sole: (traceId: Uint8Array) => boolean = () => false): TraceSummaryEntry[] {
  const byTrace = new Map<string, SpanRow[]>();
  for (const s of spans) {
    const k = idKey(s.traceId);
    const list = byTrace.get(k);
    if (list === undefined) byTrace.set(k, [s]);
    else list.push(s);
  }
  const out: TraceSummaryEntry[] = [];
  for (const list of byTrace.values()) {
    list.sort(compareSpans);
    const first = list[0] as SpanRow;
    let lastStartNs = first.startTimeUnixNano;
    let lastEndNs = first.endTimeUnixNano;
    let root: SpanRow | null = null;
    for (const s of list) {
      if (s.startTimeUnixNano > lastStartNs) lastStartNs = s.startTimeUnixNano;
      if (s.endTimeUnixNano > lastEndNs) lastEndNs = s.endTimeUnixNano;
      // The same choice as summarizeTrace: the first parentless span of the earliest start.
      if (s.parentSpanId.length === 0 && (root === null || s.startTimeUnixNano < root.startTimeUnixNano)) root = s;
    }
    let servicesExact = true;
    const kept: KeptSpan[] = [];
    for (const s of list.slice(0, TraceStoreLimits.summarySpansKept)) {
      const service = serviceAttr(s);
      if (service === 'inexact') servicesExact = false;
      kept.push({ spanId: s.spanId, name: s.name, startNs: s.startTimeUnixNano, endNs: s.endTimeUnixNano, service: service === 'inexact' ? undefined : service });
    }
    out.push({
      traceId: first.traceId,
      spans: list.length,
      firstStartNs: first.startTimeUnixNano,
      lastStartNs,
      lastEndNs,
      root: root === null ? null : { service: serviceOf(root.resource), name: root.name },
      kept,
      servicesExact,
      sole: sole(first.traceId),
    });
  }
  assert(out.reduce((n, e) => n + e.spans, 0) === spans.length, 'the summaries count every row of the block');
  return out;
}

/** SummaryDraft is one trace's summary being built by TraceSummaryBuilder: only what the entry needs, no row. */
interface SummaryDraft {
  readonly traceId: Uint8Array;
  spans: number;
  lastStartNs: bigint;
  lastEndNs: bigint;
  /** root is the parentless span first in compareSpans order so far (its start and id to compare, its service and name). */
  root: { readonly startNs: bigint; readonly spanId: Uint8Array; readonly service: string; readonly name: string } | null;
  /** kept are the first summarySpansKept spans so far in compareSpans order (equal ones in arrival order), with serviceAttr's answer. */
  readonly kept: { readonly span: KeptSpan; readonly inexact: boolean }[];
}

/** spanBefore is compareSpans(a, b) < 0 over a span's start and id. */
function spanBefore(startNs: bigint, spanId: Uint8Array, otherStartNs: bigint, otherSpanId: Uint8Array): boolean {
  if (startNs !== otherStartNs) return startNs < otherStartNs;
  return Buffer.compare(spanId, otherSpanId) < 0;
}

/**
 * TraceSummaryBuilder is summarizeBlockTraces batch by batch: add(spans)
 * takes the block's next rows and keeps per trace only counts, times, the
 * root's service and name and the first summarySpansKept spans (bounded by
 * the block's traces), so a flush that adds a page at a time holds no
 * decoded row past its page; entries() gives the same table as
 * summarizeBlockTraces of every row added.
 */
export class TraceSummaryBuilder {
  readonly #byTrace = new Map<string, SummaryDraft>();
  #rows = 0;

  /** add takes `spans` as the block's next rows. */
  add(spans: readonly SpanRow[]): void {
    for (const s of spans) {
      const k = idKey(s.traceId);
      let d = this.#byTrace.get(k);
      if (d === undefined) {
        d = { traceId: s.traceId, spans: 0, lastStartNs: s.startTimeUnixNano, lastEndNs: s.endTimeUnixNano, root: null, kept: [] };
        this.#byTrace.set(k, d);
      }
      d.spans++;
      if (s.startTimeUnixNano > d.lastStartNs) d.lastStartNs = s.startTimeUnixNano;
      if (s.endTimeUnixNano > d.lastEndNs) d.lastEndNs = s.endTimeUnixNano;
      // summarizeBlockTraces takes the first parentless span of a stable sort: a later equal one does not replace it.
      if (s.parentSpanId.length === 0 && (d.root === null || spanBefore(s.startTimeUnixNano, s.spanId, d.root.startNs, d.root.spanId))) {
        d.root = { startNs: s.startTimeUnixNano, spanId: s.spanId, service: serviceOf(s.resource), name: s.name };
      }
      let at = d.kept.length;
      while (at > 0) {
        const k = (d.kept[at - 1] as { span: KeptSpan }).span;
        if (!spanBefore(s.startTimeUnixNano, s.spanId, k.startNs, k.spanId)) break;
        at--;
      }
      if (at < TraceStoreLimits.summarySpansKept) {
        const service = serviceAttr(s);
        const span: KeptSpan = { spanId: s.spanId, name: s.name, startNs: s.startTimeUnixNano, endNs: s.endTimeUnixNano, service: service === 'inexact' ? undefined : service };
        d.kept.splice(at, 0, { span, inexact: service === 'inexact' });
        if (d.kept.length > TraceStoreLimits.summarySpansKept) d.kept.pop();
      }
      assert(d.kept.length <= TraceStoreLimits.summarySpansKept, 'a draft keeps at most summarySpansKept spans');
    }
    this.#rows += spans.length;
  }

  /** entries are the table of the rows added, in the order their traces first came; sole as summarizeBlockTraces's. */
  entries(sole: (traceId: Uint8Array) => boolean = () => false): TraceSummaryEntry[] {
    const out: TraceSummaryEntry[] = [];
    for (const d of this.#byTrace.values()) {
      const first = d.kept[0];
      assert(first !== undefined, 'a trace of the block keeps its first span');
      out.push({
        traceId: d.traceId,
        spans: d.spans,
        firstStartNs: first.span.startNs,
        lastStartNs: d.lastStartNs,
        lastEndNs: d.lastEndNs,
        root: d.root === null ? null : { service: d.root.service, name: d.root.name },
        kept: d.kept.map((k) => k.span),
        servicesExact: d.kept.every((k) => !k.inexact),
        sole: sole(d.traceId),
      });
    }
    assert(out.reduce((n, e) => n + e.spans, 0) === this.#rows, 'the summaries count every row added');
    return out;
  }
}

/** encodeTraceSummaries seals a block's table (layout at the top of this file). */
export function encodeTraceSummaries(w: ByteWriter, entries: readonly TraceSummaryEntry[]): Uint8Array {
  assert(entries.length >= 1 && entries.length <= StoreLimits.blockRowsMax, 'a block summarises 1 ..= blockRowsMax traces');
  const strings = new Map<string, number>();
  const str = (s: string): number => {
    let n = strings.get(s);
    if (n === undefined) {
      n = strings.size;
      strings.set(s, n);
    }
    return n;
  };
  // Number the strings first: the dictionary is written before the traces.
  for (const e of entries) {
    if (e.root !== null) {
      str(e.root.service);
      str(e.root.name);
    }
    for (const k of e.kept) {
      str(k.name);
      if (k.service !== undefined) str(k.service);
    }
  }
  const idBytes = idBytesFor(entries.map((e) => e.traceId));
  let baseStartNs = (entries[0] as TraceSummaryEntry).firstStartNs;
  for (const e of entries) if (e.firstStartNs < baseStartNs) baseStartNs = e.firstStartNs;
  w.reset();
  w.u8(SUMMARY_VERSION);
  w.u8(RECORD_SUMMARIES);
  w.u8(idBytes);
  writeBigUvarint(w, baseStartNs);
  w.uvarint(strings.size);
  for (const s of strings.keys()) w.str(s);
  w.uvarint(entries.length);
  for (const e of entries) {
    assert(e.spans >= 1 && e.kept.length === Math.min(e.spans, TraceStoreLimits.summarySpansKept), 'a summary keeps min(spans, summarySpansKept) spans');
    assert(e.lastStartNs >= e.firstStartNs, 'a trace starts before its last span starts');
    w.raw(e.traceId.subarray(0, idBytes));
    w.uvarint(e.spans);
    writeBigUvarint(w, e.firstStartNs - baseStartNs);
    writeBigUvarint(w, e.lastStartNs - e.firstStartNs);
    writeBigUvarint(w, zigzagBig(e.lastEndNs - e.firstStartNs));
    w.u8((e.root !== null ? FLAG_ROOT : 0) | (e.servicesExact ? FLAG_SERVICES_EXACT : 0) | (e.sole === true ? FLAG_SOLE : 0));
    if (e.root !== null) {
      w.uvarint(strings.get(e.root.service) as number);
      w.uvarint(strings.get(e.root.name) as number);
    }
    w.uvarint(e.kept.length);
    for (const k of e.kept) {
      assert(k.startNs >= e.firstStartNs && k.startNs <= e.lastStartNs, 'a kept span starts within its trace');
      w.uvarint(k.spanId.length);
      w.raw(k.spanId);
      w.uvarint(strings.get(k.name) as number);
      writeBigUvarint(w, k.startNs - e.firstStartNs);
      writeBigUvarint(w, zigzagBig(k.endNs - k.startNs));
      w.uvarint(k.service === undefined ? 0 : (strings.get(k.service) as number) + 1);
    }
  }
  return sealBlock(BlockKind.blockMeta, w.finish());
}

/** decodeTraceSummaries opens a sealed table, every byte checked (ERR_CORRUPTION on a bad one). */
export function decodeTraceSummaries(bytes: Uint8Array): TraceSummaryTable {
  const r = new ByteReader(openBlock(bytes, BlockKind.blockMeta));
  const version = r.u8();
  if (version !== SUMMARY_VERSION && version !== SUMMARY_VERSION_NO_SOLE) throw corrupt(`trace summaries version ${version} is not ${SUMMARY_VERSION_NO_SOLE} or ${SUMMARY_VERSION}`);
  const flagsKnown = FLAG_ROOT | FLAG_SERVICES_EXACT | (version === SUMMARY_VERSION ? FLAG_SOLE : 0);
  const record = r.u8();
  if (record !== RECORD_SUMMARIES) throw corrupt(`trace summaries record type ${record} is not ${RECORD_SUMMARIES}`);
  const idBytes = r.u8();
  if (idBytes !== ID_PREFIX_BYTES && idBytes !== TRACE_ID_BYTES) throw corrupt(`trace summaries keep ${idBytes} id bytes`);
  const baseStartNs = readBigUvarint(r);
  const stringCount = r.uvarint();
  if (stringCount > r.remaining) throw corrupt(`trace summaries name ${stringCount} strings in ${r.remaining} bytes`);
  const strings: string[] = [];
  for (let i = 0; i < stringCount; i++) strings.push(r.str(ShardDbLimits.valueBytesMax, 'trace summary string'));
  const str = (): string => {
    const n = r.uvarint();
    const s = strings[n];
    if (s === undefined) throw corrupt(`trace summary string #${n} of ${strings.length}`);
    return s;
  };
  const traces = r.uvarint();
  if (traces < 1 || traces > StoreLimits.blockRowsMax) throw corrupt(`trace summaries of ${traces} traces`);
  const out = new Map<string, TraceSummaryEntry>();
  for (let t = 0; t < traces; t++) {
    const traceId = r.take(idBytes);
    const spans = r.uvarint();
    if (spans < 1 || spans > StoreLimits.blockRowsMax) throw corrupt(`trace summary of ${spans} spans`);
    const firstStartNs = baseStartNs + readBigUvarint(r);
    const lastStartNs = firstStartNs + readBigUvarint(r);
    const lastEndNs = firstStartNs + unzigzagBig(readBigUvarint(r));
    const flags = r.u8();
    if ((flags & ~flagsKnown) !== 0) throw corrupt(`trace summary flags ${flags}`);
    const root = (flags & FLAG_ROOT) !== 0 ? { service: str(), name: str() } : null;
    const keptCount = r.uvarint();
    if (keptCount !== Math.min(spans, TraceStoreLimits.summarySpansKept)) throw corrupt(`trace summary keeps ${keptCount} of ${spans} spans`);
    const kept: KeptSpan[] = [];
    for (let k = 0; k < keptCount; k++) {
      const idBytes = r.uvarint();
      if (idBytes > SPAN_ID_BYTES_MAX) throw corrupt(`kept span id of ${idBytes} bytes`);
      const spanId = Uint8Array.from(r.take(idBytes));
      const name = str();
      const startNs = firstStartNs + readBigUvarint(r);
      const endNs = startNs + unzigzagBig(readBigUvarint(r));
      const service = r.uvarint();
      const s = service === 0 ? undefined : strings[service - 1];
      if (service !== 0 && s === undefined) throw corrupt(`kept span service string #${service - 1} of ${strings.length}`);
      if (startNs > lastStartNs) throw corrupt('a kept span starts after its trace');
      kept.push({ spanId, name, startNs, endNs, service: s });
    }
    const k = idKey(traceId);
    if (out.has(k)) throw corrupt('trace summaries name one trace (or id prefix) twice');
    out.set(k, { traceId: Uint8Array.from(traceId), spans, firstStartNs, lastStartNs, lastEndNs, root, kept, servicesExact: (flags & FLAG_SERVICES_EXACT) !== 0, sole: (flags & FLAG_SOLE) !== 0 });
  }
  if (r.remaining !== 0) throw corrupt(`trace summaries have ${r.remaining} trailing bytes`);
  return { idBytes, entries: out };
}
