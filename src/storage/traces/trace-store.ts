/**
 * trace-store.ts — the traces store of one shard replica (DESIGN.md §6):
 * SignalStore<SpanRow> (shard/signal-store.ts) plus the shard-local reads the
 * query engine uses (traceById, searchSpans, readTags in tag-read.ts). The key layout and the small
 * values are drawn in trace-keys.ts.
 *
 * Ownership: the shard state machine owns the LevelDB and drives load, add,
 * freeze, writeFrozen, dropFrozen and expire; this class owns the head, the
 * frozen head and the in-memory copy of the tenants' durable stats. Reads take
 * a KvRead (one snapshot per scan) and never write.
 *
 * The head and the frozen head hold one SpanHead (span-head.ts) per tenant:
 * the spans' entry bytes and a few columns, no SpanRow objects. A span is
 * decoded from them (and checked) when a flush or a head read needs it.
 *
 * Invariants:
 * - A span is unique in a head by (traceId, spanId): a later add replaces it
 *   (last write wins). So the spans of one flush are unique too, and a span
 *   seen in several places is resolved by recency: head > frozen head >
 *   blocks by decreasing flushIndex. Every read applies that order.
 * - #headBytes and #frozenBytes are the sums of SpanHead.bytes() over the
 *   tenants of the head and the frozen head (what they hold: entry bytes,
 *   columns, per-trace and per-entry costs); #headRows counts the head's
 *   distinct spans.
 * - #stats is what the last durable flush (or load, or expire) wrote under
 *   0x1f; a flush's new stats wait in #pending until dropFrozen (the batch
 *   is then durable).
 * - Every block has its index (0x11), its meta (0x13), one trace-id entry
 *   (0x12) per distinct trace id in it and, in format 3, one page value
 *   (0x15) per page its head lists and, since the table exists, its trace
 *   summaries (0x16, trace-summaries.ts) and, with skipped keys, its page
 *   filters (0x17, page-filters.ts); all are written and deleted together
 *   (with the shadow markers on the block). A block's dataBytes count its
 *   block key and value, its page keys and values and its summary table.
 * - A trace written by a flush while older blocks already hold it gets one
 *   shadow marker (0x14) per such older block: a search drops a stale block
 *   row by looking for newer versions only for the traces its block has
 *   markers for, which is the rare case (a trace flushed in pieces, a span
 *   sent again). A block's meta says whether it has any marker (its
 *   `marked` flag, set by the flush that writes the first one, in the same
 *   batch); a meta written before the flag says "unknown".
 *
 * Costs (bench/trace-store.ts prints them):
 * - add copies the spans' part of the entry (resources to last span), walks
 *   it once (entry-spans.ts) and CRCs it; per span it writes the columns.
 * - A flush and every head read decode the spans they touch from the head's
 *   bytes (about the cost of decodeShardEntry per span). searchSpans
 *   filters head spans on their columns (time, kind, status, duration,
 *   trace) first and decodes only the rest.
 * - writeFrozen reads the trace-id index for every distinct trace of the
 *   flush, to keep the trace count exact and to write the shadow markers:
 *   while the tenant's stored traces are at most
 *   TraceStoreLimits.flushScanIndexPerTraceMax per trace of the flush, in
 *   one ordered scan merged with the sorted ids; past that, one iterator
 *   seek per trace (TraceStoreLimits.flushProbesInflightMax at a time).
 * - searchSpans scans the markers of every block it opens whose meta does
 *   not say "none" (so a block without markers costs no iterator), and for
 *   a marked trace its trace-id entries; it opens a newer block only when
 *   the trace has one. A flush that writes a block's first marker reads and
 *   rewrites that block's meta (#markMetas).
 * - A flush writes blocks in format 3 (span-block.ts): a head under the
 *   block key and each page under its own key (block-read.ts reads every
 *   format). A search opens a block whole (the head and every page, each
 *   checked) and decodes its columns whole; only the msgpack records of the
 *   rows returned are unpacked (decodeSpanRows). traceById reads the head
 *   and only the pages that hold its trace (one or two), so LevelDB returns
 *   a few KiB instead of the whole block. A search on a skipped key's
 *   value reads only the head and the pages whose page filter may hold it
 *   (page-filters.ts), and decodes those pages' rows. A duration search
 *   answers a trace that lies wholly in one block from that block's trace
 *   summaries (trace-summaries.ts, TraceStore.traceSummary), and takes a
 *   block's candidates from the same table and the block's head when they
 *   say exactly what its rows say (summary-refs.ts): no index or page read.
 * - With the node's block cache (block-cache.ts, given to the constructor)
 *   a block's index, its whole view and its format-3 head are read and
 *   checked once and then served from memory until evicted (tag reads
 *   too); the trace-id entries and the markers of marked blocks are still
 *   read from LevelDB. The block metas are kept decoded in the store's
 *   block meta table (block-meta-table.ts): a search reads them from
 *   memory, or from LevelDB while the table is unknown. A duration search scans a candidate's
 *   trace-id entries once (traceRefs) for its extent and its read.
 *
 * NB: this file is past ~500 lines; what a search is and its pure parts
 * (span-search.ts) moved out, and the reads (traceById, searchSpans and
 * their shadow checks) could move to their own file over a small read view
 * of the heads, once the query engine shows which reads stay.
 */
import { performance } from 'node:perf_hooks';
import { assert } from '../../errors.js';
import { SpanPageLimits, StoreLimits, TraceStoreLimits } from '../../limits.js';
import { ByteWriter } from '../codec/varint.js';
import type { SpanRow } from '../rows.js';
import { TRACE_ID_BYTES } from '../rows.js';
import { decodeShardEntry, encodeShardEntry, SHARD_ENTRY_VERSION } from '../shard-entry.js';
import type { KvRead } from '../shard/shard-db.js';
import type {
  AddResult,
  ExpireReport,
  FlushContext,
  FlushReport,
  RetentionCutoffs,
  ScanStats,
  Signal,
  SignalStats,
  SignalStore,
} from '../shard/signal-store.js';
import { newScanStats } from '../shard/signal-store.js';
import { corrupt } from '../codec/bits.js';
import { readBlockColumns, readTraceIds } from './span-block.js';
import { blockPageKeys, readBlockTrace, readBlockView, readTraceSummaries } from './block-read.js';
import type { TraceSummaryEntry } from './trace-summaries.js';
import { compareSpans, summaryOf } from './trace-summaries.js';
import type { BlockCacheRef } from './block-read.js';
import { FlushCacheFill } from './flush-cache-fill.js';
import { BlockMetaTable } from './block-meta-table.js';
import type { BlockMetas } from './block-meta-table.js';
import type { FillKind } from './flush-cache-fill.js';
import { PrefetchKv } from './prefetch-kv.js';
import type { SpanBlockCache } from './block-cache.js';
import { locateEntrySpans } from './entry-spans.js';
import { summaryBlockRefs } from './summary-refs.js';
import type { BlockHits, BlockMatches, SpanRefBatch, SpanSearch } from './span-search.js';
import { headMayMatch, indexHits, pageTermHits, spanMatches } from './span-search.js';
import type { TagRead, TagReadAnswer, TagReadBounds } from './tag-read.js';
import { readTags } from './tag-read.js';
import type { TraceWriteLayout } from './block-write.js';
import { writeBlockByPages } from './block-write.js';
import { SpanEntryColumns } from '../span-entry.js';
import { SpanHead, idKey } from './span-head.js';
import type { TracePages } from './trace-keys.js';
import type { BlockMeta, BlockRef, TenantTraceStats } from './trace-keys.js';
import {
  TraceKeySpace as K,
  blockKey,
  bucketKey,
  bucketOf,
  bucketStartNs,
  decodeBlockMeta,
  decodeTenantStats,
  decodeTraceEntry,
  encodeBlockMeta,
  encodeTenantStats,
  prefixRange,
  readRef,
  readShadowTrace,
  shadowKey,
  spaceRange,
  statsKey,
  tenantOfStatsKey,
  tenantPrefixBytes,
  traceEntryKey,
  tracePrefix,
} from './trace-keys.js';

const EMPTY = new Uint8Array(0);

/** OlderMarkers is what a flush learns of one of its traces from the trace-id index: the older blocks holding it, and the shadow markers they lack. */
interface OlderMarkers {
  blocks: number;
  readonly missing: { key: Uint8Array; ref: BlockRef }[];
}

/** Head is the applied spans of every tenant: tenant -> its compact head. */
type Head = Map<string, SpanHead>;

/** ADD_ENTRY_ROWS is how many rows add() encodes into one entry (it makes entries for callers without entry bytes). */
const ADD_ENTRY_ROWS = 256;

/** TraceReadLimits are the read bounds of one TraceStore (TraceStoreLimits' by default). */
export interface TraceReadLimits {
  readonly spansPerTraceMax: number;
  readonly traceBlocksMax: number;
  readonly searchBatchRowsMax: number;
  readonly searchBucketBlocksMax: number;
  /** searchSliceMs is the main-thread time a search spends on blocks between event-loop turns (TraceStoreLimits.searchSliceMs). */
  readonly searchSliceMs: number;
}

/** nextTurn resolves in a later event-loop turn (after the I/O and timers due now). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * TraceRefs is what the trace-id index (0x12) says of one trace: the blocks
 * holding it with each one's entry, in key order, at most traceBlocksMax of
 * them (`truncated` when there were more). A caller that needs both the
 * extent and the spans scans the index once (traceRefs) and passes it to
 * traceExtent and traceById.
 */
export interface TraceRefs {
  readonly refs: readonly { readonly ref: BlockRef; readonly spans: number; readonly minStartNs: bigint; readonly maxEndNs: bigint; readonly pages?: TracePages }[];
  readonly truncated: boolean;
}

/** TraceExtent is a trace's first span start and last span end (traceExtent). */
export interface TraceExtent {
  readonly minStartNs: bigint;
  readonly maxEndNs: bigint;
}

/** TraceResult is traceById's answer: the latest version of each span, ordered by start time then span id. */
export interface TraceResult {
  readonly spans: SpanRow[];
  /** truncated says spans stopped at TraceStoreLimits.spansPerTraceMax or the blocks at traceBlocksMax. */
  readonly truncated: boolean;
  readonly stats: ScanStats;
}

/** SpanSearch, SpanRefBatch and spanMatches live in span-search.ts; re-exported for the store's callers. */
export type { SpanRefBatch, SpanSearch } from './span-search.js';
export type { TraceWriteLayout } from './block-write.js';
export { spanMatches } from './span-search.js';
/** estimateSpanBytes lives with the span columns (span-entry.ts), which compute it from entry bytes too; re-exported for the store's callers. */
export { estimateSpanBytes } from '../span-entry.js';


function emptyStats(): TenantTraceStats {
  return { spans: 0, traces: 0, dataBytes: 0, indexBytes: 0 };
}

/** TraceStore is the traces SignalStore of one shard replica, with its shard-local reads. */
export class TraceStore implements SignalStore<SpanRow> {
  readonly signal: Signal = 'traces';
  #head: Head = new Map();
  #frozen: Head | null = null;
  #headBytes = 0;
  #frozenBytes = 0;
  #headRows = 0;
  /** #stats are the durable per-tenant counts (as of the last durable flush, load or expire). */
  readonly #stats = new Map<string, TenantTraceStats>();
  /** #pending are the counts of the frozen head's flush, applied by dropFrozen. */
  #pending: Map<string, TenantTraceStats> | null = null;
  readonly #w = new ByteWriter();
  readonly #limits: TraceReadLimits;
  /** #columns is addEntry's scratch (the rows' columns and ranges), reused from entry to entry. */
  readonly #columns = new SpanEntryColumns();
  /** #cache is the node's block cache (block-cache.ts) or null; #cacheRef its space for the database last loaded (a new one per load: a new lineage). */
  readonly #cache: SpanBlockCache | null;
  #cacheRef: BlockCacheRef | null;
  /** #layout is how a flush writes a block's skipped-key terms (TraceWriteLayout). */
  readonly #layout: TraceWriteLayout;
  /** #flushScanIndexPerTraceMax: see TraceStoreLimits.flushScanIndexPerTraceMax (0 turns the scan off). */
  readonly #flushScanIndexPerTraceMax: number;
  /** #fill keeps the heads and page filters a flush wrote for the cache until the flush is durable (flush-cache-fill.ts); null: a flush fills nothing. */
  readonly #fill: FlushCacheFill | null;
  /** #metas keeps every block's meta decoded (block-meta-table.ts) so a search starts from memory; null: every search scans them in LevelDB. */
  readonly #metas: BlockMetaTable | null;

  /**
   * The constructor takes read limits below TraceStoreLimits' (tests reach
   * truncation and batching with them), the node's block cache (null:
   * every read opens its blocks from LevelDB) and the flush's scan bound
   * (TraceStoreLimits.flushScanIndexPerTraceMax; 0: always one seek per
   * trace, which tests compare the scan with), the block layout, and
   * whether a durable flush puts the heads and page filters it wrote into
   * the cache (flush-cache-fill.ts; false: the reads fill it, as before —
   * tests' and benches' reference), and the block meta table (null: every
   * search reads the metas from LevelDB, the tests' and benches' reference;
   * tests pass one with a planted bug).
   */
  constructor(
    limits: Partial<TraceReadLimits> = {},
    cache: SpanBlockCache | null = null,
    flushScanIndexPerTraceMax: number = TraceStoreLimits.flushScanIndexPerTraceMax,
    layout: TraceWriteLayout = 'pageTerms',
    fillOnFlush = true,
    metaTable: BlockMetaTable | null = new BlockMetaTable(),
  ) {
    this.#layout = layout;
    this.#metas = metaTable;
    this.#fill = fillOnFlush && cache !== null ? new FlushCacheFill() : null;
    assert(Number.isSafeInteger(flushScanIndexPerTraceMax) && flushScanIndexPerTraceMax >= 0, 'flushScanIndexPerTraceMax >= 0');
    assert(flushScanIndexPerTraceMax <= TraceStoreLimits.flushScanIndexPerTraceMax, 'flushScanIndexPerTraceMax within TraceStoreLimits');
    this.#flushScanIndexPerTraceMax = flushScanIndexPerTraceMax;
    this.#cache = cache;
    this.#cacheRef = cache === null ? null : { cache, space: cache.newSpace() };
    this.#limits = {
      spansPerTraceMax: limits.spansPerTraceMax ?? TraceStoreLimits.spansPerTraceMax,
      traceBlocksMax: limits.traceBlocksMax ?? TraceStoreLimits.traceBlocksMax,
      searchBatchRowsMax: limits.searchBatchRowsMax ?? TraceStoreLimits.searchBatchRowsMax,
      searchBucketBlocksMax: limits.searchBucketBlocksMax ?? TraceStoreLimits.searchBucketBlocksMax,
      searchSliceMs: limits.searchSliceMs ?? TraceStoreLimits.searchSliceMs,
    };
    assert(this.#limits.searchSliceMs >= 0, 'searchSliceMs >= 0');
    assert(this.#limits.searchBucketBlocksMax >= 2, 'a search group orders at least two blocks');
    for (const k of ['spansPerTraceMax', 'traceBlocksMax', 'searchBatchRowsMax', 'searchBucketBlocksMax'] as const) {
      assert(Number.isSafeInteger(this.#limits[k]) && this.#limits[k] >= 1, `${k} >= 1`);
      assert(this.#limits[k] <= TraceStoreLimits[k], `${k} within TraceStoreLimits`);
    }
  }

  // ------------------------------------------------------------ life cycle

  async load(kv: KvRead): Promise<void> {
    assert(this.#frozen === null && this.#pending === null, 'load runs outside a flush');
    this.#head = new Map();
    this.#headBytes = 0;
    this.#headRows = 0;
    this.#stats.clear();
    // A (re)loaded database may be another lineage (a snapshot installed): its block keys may name other blocks.
    this.#cacheRef = this.#cache === null ? null : { cache: this.#cache, space: this.#cache.newSpace() };
    for await (const page of kv.pages(spaceRange(K.stats))) {
      for (const e of page) this.#stats.set(tenantOfStatsKey(e.key), decodeTenantStats(e.value));
    }
    await this.#metas?.load(kv);
  }

  /**
   * add is the contract's add for callers without entry bytes (tests,
   * tools): it encodes the rows as shard entries of ADD_ENTRY_ROWS rows and
   * adds those. The state machine calls addEntry.
   */
  add(tenant: string, rows: readonly SpanRow[], entryTimeMs: number): AddResult {
    assert(tenant.length > 0, 'add names a tenant');
    for (const s of rows) assert(s.tenant === tenant, 'a row belongs to the entry tenant');
    if (rows.length === 0) this.#tenantHead(tenant);
    for (let at = 0; at < rows.length; at += ADD_ENTRY_ROWS) {
      const bytes = encodeShardEntry({
        version: SHARD_ENTRY_VERSION,
        tenant,
        idempotencyKey: '0000000000000000',
        part: 0,
        parts: 1,
        leaderTimeMs: Math.max(0, Math.floor(entryTimeMs)),
        spans: rows.slice(at, at + ADD_ENTRY_ROWS),
        points: [],
        logs: [],
      });
      this.addEntry(tenant, decodeShardEntry(bytes).spans, bytes, entryTimeMs);
    }
    return { accepted: rows.length, refused: 0, refusals: [] };
  }

  /**
   * addEntry keeps the spans of one entry in the tenant's head: a copy of the
   * entry's bytes from its resources to its last span (so the head pins
   * neither the caller's buffer nor the points and logs), located by
   * entry-spans.ts before anything changes, and the rows' columns.
   */
  addEntry(tenant: string, rows: readonly SpanRow[], entryBytes: Uint8Array, entryTimeMs: number): AddResult {
    assert(tenant.length > 0, 'add names a tenant');
    assert(Number.isFinite(entryTimeMs), 'entryTimeMs is a number');
    const head = this.#tenantHead(tenant);
    if (rows.length === 0) return { accepted: 0, refused: 0, refusals: [] };
    // Rows arrive validated by decodeShardEntry: a mismatch here is a programmer error.
    const c = this.#columns;
    locateEntrySpans(entryBytes, rows.length, c);
    c.reserve(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const s = rows[i] as SpanRow;
      assert(s.tenant === tenant, 'a row belongs to the entry tenant');
      c.setRow(i, s);
    }
    this.#keep(head, entryBytes, c);
    return { accepted: rows.length, refused: 0, refusals: [] };
  }

  /**
   * addSpanColumns is addEntry for a spans-only entry decodeSpanEntry (span-entry.ts)
   * checked into columns: the same head state, without a SpanRow per span.
   */
  addSpanColumns(c: SpanEntryColumns, entryTimeMs: number): AddResult {
    assert(Number.isFinite(entryTimeMs), 'entryTimeMs is a number');
    assert(c.count > 0, 'decodeSpanEntry gives at least one span');
    this.#keep(this.#tenantHead(c.tenant), c.bytes, c);
    return { accepted: c.count, refused: 0, refusals: [] };
  }

  #keep(head: SpanHead, entryBytes: Uint8Array, c: SpanEntryColumns): void {
    const bytesBefore = head.bytes();
    const rowsBefore = head.spanCount;
    head.add(entryBytes, c);
    this.#headBytes += head.bytes() - bytesBefore;
    this.#headRows += head.spanCount - rowsBefore;
    assert(head.spanCount >= rowsBefore && head.bytes() > bytesBefore, 'a head only grows');
  }

  #tenantHead(tenant: string): SpanHead {
    let head = this.#head.get(tenant);
    if (head === undefined) {
      head = new SpanHead(tenant);
      this.#head.set(tenant, head);
      this.#headBytes += head.bytes();
    }
    return head;
  }

  headBytes(): number {
    return this.#headBytes + this.#frozenBytes;
  }

  headRows(): number {
    return this.#headRows;
  }

  freeze(): void {
    assert(this.#frozen === null, 'at most one frozen head');
    this.#frozen = this.#head;
    this.#frozenBytes = this.#headBytes;
    this.#head = new Map();
    this.#headBytes = 0;
    this.#headRows = 0;
  }

  async writeFrozen(ctx: FlushContext): Promise<FlushReport> {
    const frozen = this.#frozen;
    assert(frozen !== null, 'writeFrozen needs a frozen head');
    assert(this.#pending === null, 'one flush at a time');
    assert(Number.isSafeInteger(ctx.flushIndex) && ctx.flushIndex >= 0, 'flushIndex is a safe integer');
    // What an earlier flush noted and never committed (its batch failed) is dropped here.
    this.#fill?.begin(this.#cacheRef);
    // The same for the metas a failed flush staged; an unknown table is rebuilt here when it may be.
    await this.#metas?.beginFlush(ctx.kv);
    const metas = this.#metas;
    const fill = this.#fill;
    const note = fill === null ? undefined : (kind: FillKind, key: Uint8Array, bytes: Uint8Array): void => fill.note(kind, key, bytes);
    const pending = new Map<string, TenantTraceStats>();
    let rows = 0;
    let blocks = 0;
    let dataBytes = 0;
    let indexBytes = 0;
    for (const tenant of [...frozen.keys()].sort()) {
      const th = frozen.get(tenant) as SpanHead;
      if (th.traceCount === 0) continue; // add() of no rows: nothing to write.
      const st = { ...(this.#stats.get(tenant) ?? emptyStats()) };
      // Exact distinct traces: a trace counts once, in the first flush that writes it. A trace
      // some older block holds gets shadow markers on those blocks instead (see #olderMarkers).
      const traceIds: Uint8Array[] = [];
      for (const [, t] of th.traces()) traceIds.push(th.traceId(t));
      // The blocks that get a marker in this flush: their metas say so (see #markMetas).
      const marked = new Map<string, BlockRef>();
      // The traces some older block holds (idKey): their summaries are not "sole" (trace-summaries.ts).
      const olderHeld = new Set<string>();
      const noteOlder = (o: OlderMarkers, traceId: Uint8Array): void => {
        if (o.blocks === 0) st.traces++;
        else olderHeld.add(idKey(traceId));
        for (const { key: k, ref } of o.missing) {
          ctx.batch.put(k, EMPTY);
          st.indexBytes += k.length;
          indexBytes += k.length;
          marked.set(`${ref.bucket}/${ref.flushIndex}/${ref.part}`, ref);
        }
      };
      // The tenant's index is small next to this flush's traces (the stored distinct traces estimate its entries):
      // one ordered scan of it answers every trace, instead of one iterator seek per trace.
      if (this.#flushScanIndexPerTraceMax > 0 && st.traces <= this.#flushScanIndexPerTraceMax * traceIds.length) {
        (await this.#olderMarkersScan(ctx.kv, tenant, traceIds)).forEach((o, i) => noteOlder(o, traceIds[i] as Uint8Array));
      } else {
        for (let at = 0; at < traceIds.length; at += TraceStoreLimits.flushProbesInflightMax) {
          const chunk = traceIds.slice(at, at + TraceStoreLimits.flushProbesInflightMax);
          (await Promise.all(chunk.map((id) => this.#olderMarkers(ctx.kv, tenant, id)))).forEach((o, i) => noteOlder(o, chunk[i] as Uint8Array));
        }
      }
      await this.#markMetas(ctx, tenant, marked.values());
      // Group slots by bucket; spans of one trace stay together (the head keeps them together).
      // The plan is kept in slot numbers and per-trace typed columns (the head's trace numbers), not in
      // maps keyed per slot: it lives through the whole flush, so anything it holds outlives the
      // young generation, and a map entry per span was ~200 B of old-generation garbage per span.
      // The slots, trace after trace, are grouped by bucket into one Int32Array a bucket (the order of the old
      // per-bucket lists), and a block's slots are a view of it: no JS array of every slot, twice, lives through the flush.
      const slotCount = th.spanCount;
      const bucketAt = new Float64Array(slotCount);
      const inOrder = new Int32Array(slotCount);
      const counts = new Map<number, number>();
      let seen = 0;
      // blocksOf[t] counts the blocks of this flush that hold trace t; lastPart[t] is the last part counted (1-based, 0: none).
      const blocksOf = new Uint32Array(th.traceCount);
      const lastPart = new Uint32Array(th.traceCount);
      let partNo = 0;
      for (const [, t] of th.traces()) {
        for (let slot = th.firstSlot(t); slot !== -1; slot = th.nextSlot(slot)) {
          assert(seen < slotCount, 'the traces hold spanCount slots');
          const b = bucketOf(th.startNs(slot));
          inOrder[seen] = slot;
          bucketAt[seen] = b;
          seen++;
          counts.set(b, (counts.get(b) ?? 0) + 1);
        }
      }
      assert(seen === slotCount, 'every slot belongs to a trace');
      const byBucket = new Map<number, Int32Array>();
      const filled = new Map<number, number>();
      for (const [b, n] of counts) {
        byBucket.set(b, new Int32Array(n));
        filled.set(b, 0);
      }
      for (let i = 0; i < slotCount; i++) {
        const b = bucketAt[i] as number;
        const at = filled.get(b) as number;
        (byBucket.get(b) as Int32Array)[at] = inOrder[i] as number;
        filled.set(b, at + 1);
      }
      // Blocks are cut by rows and by estimated bytes, so every value stays under ShardDbLimits.valueBytesMax.
      const partsOf = new Map<number, Int32Array[]>();
      for (const bucket of [...byBucket.keys()].sort((a, b) => a - b)) {
        const list = byBucket.get(bucket) as Int32Array;
        assert(filled.get(bucket) === list.length, 'a bucket list is filled');
        const parts: Int32Array[] = [];
        let from = 0;
        let curBytes = 0;
        for (let i = 0; i < list.length; i++) {
          const b = th.estimate(list[i] as number);
          if (i > from && (i - from >= StoreLimits.blockRowsMax || curBytes + b > StoreLimits.blockBytesTarget)) {
            parts.push(list.subarray(from, i));
            from = i;
            curBytes = 0;
          }
          curBytes += b;
        }
        if (list.length > from) parts.push(list.subarray(from));
        assert(parts.length <= 0xffff, 'parts of one bucket fit a u16');
        partsOf.set(bucket, parts);
        for (const slots of parts) {
          partNo++;
          for (const slot of slots) {
            const t = th.traceOf(slot);
            if (lastPart[t] === partNo) continue;
            lastPart[t] = partNo;
            blocksOf[t] = (blocksOf[t] as number) + 1;
          }
        }
      }
      // A trace is "sole" in its block when no older block holds it and this flush writes it into one block only.
      const sole = (traceId: Uint8Array): boolean => {
        const tk = idKey(traceId);
        const t = th.traceNo(tk);
        assert(t >= 0, 'a block written by this flush holds traces of its head');
        return !olderHeld.has(tk) && blocksOf[t] === 1;
      };
      // Spans are decoded one page of a block at a time (writeBlockByPages): a flush holds one page's rows,
      // dropped before the next page is decoded, so they die in the young generation instead of being promoted.
      const reader = th.reader();
      const pageRows = SpanPageLimits.pageRowsDefault;
      for (const [bucket, parts] of partsOf) {
        for (let part = 0; part < parts.length; part++) {
          // One block per step: a large flush leaves the event loop between its blocks (flush-pacer.ts).
          if (ctx.pace !== undefined) await ctx.pace();
          const slots = parts[part] as Int32Array;
          const pageOf = (p: number): SpanRow[] => Array.from(slots.subarray(p * pageRows, (p + 1) * pageRows), (slot) => reader.row(slot));
          const ref = { bucket, flushIndex: ctx.flushIndex, part };
          const w = writeBlockByPages(this.#w, this.#layout, ctx, tenant, ref, slots.length, pageOf, sole, note);
          metas?.notePut(tenant, ref, w.meta, w.metaBytes);
          rows += slots.length;
          blocks++;
          dataBytes += w.dataBytes;
          indexBytes += w.indexBytes;
          st.spans += slots.length;
          st.dataBytes += w.dataBytes;
          st.indexBytes += w.indexBytes;
        }
      }
      ctx.batch.put(statsKey(tenant), encodeTenantStats(this.#w, st));
      pending.set(tenant, st);
    }
    this.#pending = pending;
    return { rows, blocks, dataBytes, indexBytes };
  }

  /**
   * #markMetas rewrites, in the flush's batch, the meta of every block in
   * `refs` (blocks that get a shadow marker in this flush) whose flag says
   * "no markers", so a search never skips the marker scan of a marked block.
   * The flag is one byte either way, so the meta's size and the byte counts
   * do not change; a meta written before the flag (unknown) stays as it is.
   * Memory: one meta at a time (the refs are at most one per marker written).
   */
  async #markMetas(ctx: FlushContext, tenant: string, refs: Iterable<BlockRef>): Promise<void> {
    for (const ref of refs) {
      const mk = blockKey(K.meta, tenant, ref);
      const mv = await ctx.kv.get(mk);
      if (mv === undefined) throw corrupt('a span block named by the trace-id index has no meta', { tenant, ...ref });
      const meta = decodeBlockMeta(mv);
      if (meta.marked !== false) continue;
      const marked = { ...meta, marked: true };
      const next = encodeBlockMeta(this.#w, marked);
      assert(next.length === mv.length, 'setting the shadow flag keeps the meta size');
      ctx.batch.put(mk, next);
      this.#metas?.notePut(tenant, ref, marked, mk.length + next.length);
    }
  }

  /**
   * #olderMarkers scans the trace-id entries of a trace of this flush: the
   * blocks already holding it, and the shadow markers those blocks lack (a
   * marker is written once, so the byte counts stay exact). Bounded by one
   * scan page of memory per trace; probes of one flush run
   * TraceStoreLimits.flushProbesInflightMax at a time.
   */
  async #olderMarkers(kv: KvRead, tenant: string, traceId: Uint8Array): Promise<OlderMarkers> {
    const offset = tenantPrefixBytes(tenant) + TRACE_ID_BYTES;
    let blocks = 0;
    const missing: { key: Uint8Array; ref: BlockRef }[] = [];
    for await (const page of kv.pages(prefixRange(tracePrefix(tenant, traceId)))) {
      blocks += page.length;
      const refs = page.map((e) => readRef(e.key, offset));
      const keys = refs.map((r) => shadowKey(tenant, r, traceId));
      const have = await kv.getMany(keys);
      keys.forEach((k, i) => {
        if (have[i] === undefined) missing.push({ key: k, ref: refs[i] as BlockRef });
      });
    }
    return { blocks, missing };
  }

  /**
   * #olderMarkersScan answers #olderMarkers for every trace of `traceIds` (distinct ids; the order of the
   * answers is theirs) from one ordered scan of the tenant's trace-id index between the smallest and the
   * largest id: the ids are sorted and merged with the index's keys page by page, and the shadow markers
   * of the blocks found are looked up one page at a time. Memory: the sorted ids, the answers and one page.
   * It pays when the index is not much larger than the flush (TraceStoreLimits.flushScanIndexPerTraceMax).
   */
  async #olderMarkersScan(kv: KvRead, tenant: string, traceIds: readonly Uint8Array[]): Promise<OlderMarkers[]> {
    const answers: OlderMarkers[] = traceIds.map(() => ({ blocks: 0, missing: [] }));
    if (traceIds.length === 0) return answers;
    const order = traceIds.map((_, i) => i).sort((a, b) => Buffer.compare(traceIds[a] as Uint8Array, traceIds[b] as Uint8Array));
    const tenantBytes = tenantPrefixBytes(tenant);
    const offset = tenantBytes + TRACE_ID_BYTES;
    const first = traceIds[order[0] as number] as Uint8Array;
    const last = traceIds[order[order.length - 1] as number] as Uint8Array;
    const range = { gte: tracePrefix(tenant, first), lt: prefixRange(tracePrefix(tenant, last)).lt };
    let j = 0; // order[j] is the smallest id not below the current entry's
    for await (const page of kv.pages(range)) {
      const found: { at: number; key: Uint8Array; ref: BlockRef }[] = [];
      for (const e of page) {
        const id = e.key.subarray(tenantBytes, offset);
        let c = -1;
        while (j < order.length && (c = Buffer.compare(traceIds[order[j] as number] as Uint8Array, id)) < 0) j++;
        if (j === order.length) break;
        if (c !== 0) continue; // an entry of a trace this flush does not hold
        const at = order[j] as number;
        const ref = readRef(e.key, offset);
        (answers[at] as OlderMarkers).blocks++;
        found.push({ at, key: shadowKey(tenant, ref, traceIds[at] as Uint8Array), ref });
      }
      if (found.length > 0) {
        const have = await kv.getMany(found.map((f) => f.key));
        found.forEach((f, i) => {
          if (have[i] === undefined) (answers[f.at] as OlderMarkers).missing.push({ key: f.key, ref: f.ref });
        });
      }
      if (j === order.length) break;
    }
    return answers;
  }

  dropFrozen(): void {
    assert(this.#frozen !== null, 'dropFrozen needs a frozen head');
    assert(this.#pending !== null, 'dropFrozen follows writeFrozen');
    for (const [tenant, st] of this.#pending) this.#stats.set(tenant, st);
    // The batch is durable: what it wrote may now serve reads from the cache, and its metas searches.
    this.#fill?.commit(this.#cacheRef);
    this.#metas?.commitFlush();
    this.#pending = null;
    this.#frozen = null;
    this.#frozenBytes = 0;
  }

  /**
   * expire deletes every block of the buckets that end at or before the
   * tenant's cutoff, with its index, meta and trace-id entries (found by
   * reading the block's trace ids), and rewrites the tenant's stats. A trace
   * stops counting when its first remaining entry (in key order, which is the
   * order blocks are expired in) is expired and no entry of a later bucket
   * remains. Memory is one scan page plus one block's trace ids.
   * NB: the stats change in memory at once (the contract has no commit
   * hook for a retention pass); expire runs outside a flush (asserted).
   */
  async expire(ctx: FlushContext, cutoffs: RetentionCutoffs): Promise<ExpireReport> {
    assert(this.#pending === null, 'expire runs outside a flush');
    this.#metas?.expireStart();
    let deletedBlock = false;
    try {
      return await this.#expire(ctx, cutoffs, () => {
        // Before the first delete enters the batch: from here the metas in memory cannot say what is published.
        if (!deletedBlock) this.#metas?.expireDeletes();
        deletedBlock = true;
      });
    } finally {
      this.#metas?.expireEnd(deletedBlock);
    }
  }

  /** #expire is expire's pass; `deleting` is called before each block's deletes enter the batch. */
  async #expire(ctx: FlushContext, cutoffs: RetentionCutoffs, deleting: () => void): Promise<ExpireReport> {
    let buckets = 0;
    let keys = 0;
    for (const tenant of [...this.#stats.keys()].sort()) {
      const cutoff = cutoffs.byTenant.has(tenant) ? (cutoffs.byTenant.get(tenant) ?? null) : cutoffs.defaultBeforeNs;
      if (cutoff === null) continue;
      // Buckets 0 ..= lastBucket end at or before the cutoff.
      const endBucket = Number(cutoff / StoreLimits.traceBucketNs);
      if (endBucket < 1) continue;
      const lastBucket = endBucket - 1;
      const st = { ...(this.#stats.get(tenant) as TenantTraceStats) };
      const offset = tenantPrefixBytes(tenant);
      let bucketSeen = -1;
      let deleted = 0;
      for await (const page of ctx.kv.pages({ gte: bucketKey(K.meta, tenant, 0), lt: bucketKey(K.meta, tenant, endBucket) })) {
        for (const e of page) {
          const ref = readRef(e.key, offset);
          assert(ref.bucket <= lastBucket, 'the scan stays below the cutoff');
          const meta = decodeBlockMeta(e.value);
          deleting();
          if (ref.bucket !== bucketSeen) {
            buckets++;
            bucketSeen = ref.bucket;
          }
          const bk = blockKey(K.block, tenant, ref);
          const block = await ctx.kv.get(bk);
          if (block === undefined) throw corrupt('a span block named by its meta is missing', { tenant, ...ref });
          const pageKeys = blockPageKeys(tenant, ref, block);
          const { dict } = readTraceIds(await readBlockView(ctx.kv, tenant, ref, newScanStats()));
          if (dict.length !== meta.traces) throw corrupt(`span block holds ${dict.length} traces, its meta says ${meta.traces}`);
          for (const traceId of dict) {
            ctx.batch.del(traceEntryKey(tenant, traceId, ref));
            if (await this.#traceGoneWith(ctx.kv, tenant, traceId, ref, lastBucket)) st.traces--;
          }
          for await (const marks of ctx.kv.pages(prefixRange(blockKey(K.shadow, tenant, ref)))) {
            for (const m of marks) {
              ctx.batch.del(m.key);
              st.indexBytes -= m.key.length + m.value.length;
              deleted++;
            }
          }
          ctx.batch.del(bk);
          for (const pk of pageKeys) ctx.batch.del(pk);
          ctx.batch.del(blockKey(K.index, tenant, ref));
          // Blocks written before the summary table or page filters (and blocks without filters) have
          // none: only an existing key counts as deleted.
          for (const space of [K.summaries, K.pageFilters]) {
            const k = blockKey(space, tenant, ref);
            if ((await ctx.kv.get(k)) === undefined) continue;
            ctx.batch.del(k);
            deleted++;
          }
          ctx.batch.del(e.key);
          deleted += 3 + pageKeys.length + dict.length;
          st.spans -= meta.rows;
          st.dataBytes -= meta.dataBytes;
          st.indexBytes -= meta.indexBytes + e.key.length + e.value.length;
        }
      }
      if (deleted === 0) continue;
      keys += deleted;
      if (st.spans < 0 || st.traces < 0 || st.traces > st.spans || st.dataBytes < 0 || st.indexBytes < 0) {
        throw corrupt('trace stats went negative during expiry: a meta disagrees with the stats', { tenant });
      }
      if (st.spans === 0) {
        assert(st.traces === 0, 'no spans, no traces');
        ctx.batch.del(statsKey(tenant));
        this.#stats.delete(tenant);
      } else {
        ctx.batch.put(statsKey(tenant), encodeTenantStats(this.#w, st));
        this.#stats.set(tenant, st);
      }
      keys++;
    }
    return { buckets, keys };
  }

  /** #traceGoneWith says whether expiring `ref` removes the trace: ref is its first entry and every entry is in an expiring bucket. */
  async #traceGoneWith(kv: KvRead, tenant: string, traceId: Uint8Array, ref: BlockRef, lastBucket: number): Promise<boolean> {
    const offset = tenantPrefixBytes(tenant) + TRACE_ID_BYTES;
    let first = true;
    for await (const page of kv.pages(prefixRange(tracePrefix(tenant, traceId)))) {
      for (const e of page) {
        const r = readRef(e.key, offset);
        if (first && (r.bucket !== ref.bucket || r.flushIndex !== ref.flushIndex || r.part !== ref.part)) return false;
        first = false;
        if (r.bucket > lastBucket) return false;
      }
    }
    if (first) throw corrupt('a trace of an expiring block has no trace-id entry', { tenant });
    return true;
  }

  stats(): SignalStats {
    let rows = 0;
    let secondary = 0;
    let dataBytes = 0;
    let indexBytes = 0;
    for (const s of this.#stats.values()) {
      rows += s.spans;
      secondary += s.traces;
      dataBytes += s.dataBytes;
      indexBytes += s.indexBytes;
    }
    return { rows, secondary, dataBytes, indexBytes };
  }

  /** tenantStats is one tenant's durable counts (zeros for a tenant without blocks). */
  tenantStats(tenant: string): SignalStats {
    const s = this.#stats.get(tenant) ?? emptyStats();
    return { rows: s.spans, secondary: s.traces, dataBytes: s.dataBytes, indexBytes: s.indexBytes };
  }

  // ------------------------------------------------------------ reads

  /**
   * traceById returns the latest version of every span of one trace: the
   * head, the frozen head, then the blocks the exact trace-id index (0x12)
   * names, newest flush first; a span already found is not taken again.
   * No time hint is needed. Bounded by TraceStoreLimits.spansPerTraceMax
   * spans and traceBlocksMax blocks (`truncated` says so).
   */
  async traceById(kv: KvRead, tenant: string, traceId: Uint8Array, known?: TraceRefs): Promise<TraceResult> {
    assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
    const stats = newScanStats();
    const found = new Map<string, SpanRow>();
    let truncated = false;
    const tk = idKey(traceId);
    const cache = this.#cacheRef;
    for (const head of this.#frozen === null ? [this.#head] : [this.#head, this.#frozen]) {
      const h = head.get(tenant);
      const t = h === undefined ? -1 : h.traceNo(tk);
      if (h === undefined || t < 0) continue;
      const reader = h.reader();
      for (let slot = h.firstSlot(t); slot !== -1; slot = h.nextSlot(slot)) {
        stats.headRowsScanned++;
        const sk = h.spanKey(slot);
        if (found.has(sk)) continue;
        if (found.size >= this.#limits.spansPerTraceMax) truncated = true;
        else found.set(sk, reader.row(slot));
      }
    }
    // A caller's scan of the index (same snapshot) was counted in its own stats.
    const index = known ?? (await this.traceRefs(kv, tenant, traceId, stats));
    if (index.truncated) truncated = true;
    const refs = [...index.refs];
    refs.sort((a, b) => b.ref.flushIndex - a.ref.flushIndex || a.ref.bucket - b.ref.bucket || a.ref.part - b.ref.part);
    for (const { ref, spans, pages } of refs) {
      if (found.size >= this.#limits.spansPerTraceMax) {
        truncated = true;
        break;
      }
      stats.blocksScanned++;
      // A paged block is checked and decoded only in the pages of this trace (format 3: only those are read).
      const rows = await readBlockTrace(kv, tenant, ref, traceId, stats, cache, pages);
      if (rows.length !== spans) throw corrupt(`trace-id entry says ${spans} spans, its block holds ${rows.length}`, { tenant, ...ref });
      for (const s of rows) {
        const sk = idKey(s.spanId);
        if (found.has(sk)) continue;
        if (found.size >= this.#limits.spansPerTraceMax) truncated = true;
        else found.set(sk, s);
      }
    }
    const out = [...found.values()].sort(compareSpans);
    assert(out.length <= this.#limits.spansPerTraceMax, 'a trace answer stays within spansPerTraceMax');
    return { spans: out, truncated, stats };
  }

  /**
   * traceRefs scans the trace-id index of one trace (one iterator), at most
   * traceBlocksMax entries, counting the bytes read into `stats`.
   */
  async traceRefs(kv: KvRead, tenant: string, traceId: Uint8Array, stats: ScanStats): Promise<TraceRefs> {
    assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
    const refs: { ref: BlockRef; spans: number; minStartNs: bigint; maxEndNs: bigint; pages?: TracePages }[] = [];
    const offset = tenantPrefixBytes(tenant) + TRACE_ID_BYTES;
    for await (const page of kv.pages(prefixRange(tracePrefix(tenant, traceId)))) {
      for (const e of page) {
        if (refs.length >= this.#limits.traceBlocksMax) return { refs, truncated: true };
        stats.bytesRead += e.key.length + e.value.length;
        const ref = readRef(e.key, offset);
        const entry = decodeTraceEntry(e.value, ref.bucket);
        refs.push(entry.pages === undefined ? { ref, spans: entry.spans, minStartNs: entry.minStartNs, maxEndNs: entry.maxEndNs } : { ref, ...entry });
      }
    }
    return { refs, truncated: false };
  }

  /**
   * traceExtent is the first start and last end of a trace's spans when the
   * trace-id index alone answers them exactly: no head holds the trace and
   * exactly one block does (so every span there is the latest version),
   * with no more spans than traceById returns. Otherwise null: read the
   * trace (traceById). A search uses it to drop a trace whose duration
   * fails without reading any of its pages. With `known` (traceRefs of the
   * same snapshot) it reads nothing.
   */
  async traceExtent(kv: KvRead, tenant: string, traceId: Uint8Array, stats: ScanStats, known?: TraceRefs): Promise<TraceExtent | null> {
    assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
    const tk = idKey(traceId);
    for (const head of this.#frozen === null ? [this.#head] : [this.#head, this.#frozen]) {
      const h = head.get(tenant);
      if (h !== undefined && h.traceNo(tk) >= 0) return null;
    }
    if (known !== undefined) {
      const only = known.refs[0];
      if (known.truncated || known.refs.length !== 1 || only === undefined) return null;
      return only.spans <= this.#limits.spansPerTraceMax ? { minStartNs: only.minStartNs, maxEndNs: only.maxEndNs } : null;
    }
    const offset = tenantPrefixBytes(tenant) + TRACE_ID_BYTES;
    let found: TraceExtent | null = null;
    let entries = 0;
    // Two entries are enough to say "more than one block": the scan reads at most that.
    for await (const page of kv.pages(prefixRange(tracePrefix(tenant, traceId)), 2)) {
      for (const e of page) {
        stats.bytesRead += e.key.length + e.value.length;
        entries++;
        const ref = readRef(e.key, offset);
        const entry = decodeTraceEntry(e.value, ref.bucket);
        found = entry.spans <= this.#limits.spansPerTraceMax ? { minStartNs: entry.minStartNs, maxEndNs: entry.maxEndNs } : null;
      }
      break;
    }
    assert(entries <= 2, 'the extent scan reads at most two entries');
    return entries === 1 ? found : null;
  }

  /**
   * traceSummary is the summary (trace-summaries.ts) of a trace that lies
   * wholly in one block, read from that block's table (through the block
   * cache), when traceExtent answers for the trace (no head holds it, the
   * trace-id index names exactly one block); null otherwise, or when the
   * block has no table (written before it). `known` is traceRefs of the same
   * snapshot. The entry's span count and times must equal the trace-id
   * index entry's (ERR_CORRUPTION otherwise).
   */
  async traceSummary(kv: KvRead, tenant: string, traceId: Uint8Array, stats: ScanStats, known: TraceRefs): Promise<TraceSummaryEntry | null> {
    if ((await this.traceExtent(kv, tenant, traceId, stats, known)) === null) return null;
    const only = known.refs[0];
    assert(only !== undefined && known.refs.length === 1, 'an extent names one block');
    const table = await readTraceSummaries(kv, tenant, only.ref, stats, this.#cacheRef);
    if (table === null) return null;
    const entry = summaryOf(table, traceId);
    if (entry === undefined) throw corrupt('a block the trace-id index names has no summary of the trace', { tenant, ...only.ref });
    if (entry.spans !== only.spans || entry.firstStartNs !== only.minStartNs || entry.lastEndNs !== only.maxEndNs) {
      throw corrupt('a block trace summary disagrees with the trace-id index', { tenant, ...only.ref });
    }
    return entry;
  }

  /**
   * soleSummary is `entry` (a summary that says "sole", from a block whose
   * meta said "no shadow markers" in the snapshot the search reads: see
   * summary-refs.ts) when no head holds a span of the trace: then that block
   * holds the whole trace, and the summary answers for it without a
   * trace-id index scan. Null when a head holds the trace (read it).
   */
  soleSummary(tenant: string, traceId: Uint8Array, entry: TraceSummaryEntry): TraceSummaryEntry | null {
    assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
    assert(entry.sole === true, 'a sole summary');
    const tk = idKey(traceId);
    for (const head of this.#frozen === null ? [this.#head] : [this.#head, this.#frozen]) {
      if ((head.get(tenant)?.traceNo(tk) ?? -1) >= 0) return null;
    }
    return entry;
  }

  /**
   * searchSpans yields the latest versions of the tenant's spans that start in
   * [startNs, endNs) and match the predicate, in batches of at most
   * TraceStoreLimits.searchBatchRowsMax, at most `limit` in all: head spans
   * first (a plain filter with querySpanBlock's semantics), then the frozen
   * head's (unless the head has a newer version), then the blocks of the
   * overlapping buckets in key order: pruned by their meta's start times,
   * then by the trace-id bloom (without reading the block), then by
   * querySpanBlock; the surviving rows are checked against the time range,
   * dropped when a newer version exists (head, frozen head, or a block of a
   * later flush found through the trace-id index), and only they are decoded
   * (#blockMatches). `stats` is filled as the scan goes.
   */
  async *searchSpans(kv: KvRead, tenant: string, q: SpanSearch, stats: ScanStats): AsyncGenerator<SpanRow[]> {
    // First, in the step that pinned kv: the metas of the same state (block-meta-table.ts).
    const metas = this.#metas?.current() ?? null;
    assert(Number.isSafeInteger(q.limit) && q.limit >= 1 && q.limit <= TraceStoreLimits.searchLimitMax, 'search limit in [1, searchLimitMax]');
    if (q.startNs >= q.endNs) return;
    let emitted = 0;
    let batch: SpanRow[] = [];
    const batchMax = this.#limits.searchBatchRowsMax;
    const take = function* (s: SpanRow): Generator<SpanRow[]> {
      batch.push(s);
      emitted++;
      if (batch.length >= batchMax) {
        const out = batch;
        batch = [];
        yield out;
      }
    };
    if (emitted < q.limit) {
      for (const s of this.#headMatches(tenant, q, stats)) {
        yield* take(s);
        if (emitted >= q.limit) break;
      }
    }

    const newer = new Map<string, Set<string>>();
    const cache = this.#cacheRef;
    // A block's rows are decoded a page at a time: past searchSliceMs the next page waits one event-loop turn,
    // so a whole block's decode (a full scan's, ~5,000 rows) never holds the thread, nor keeps a cancel frame
    // from being read; the consumer checks its budget (and so the cancel) at each batch, as before.
    const sliceMs = this.#limits.searchSliceMs;
    let sliceStartMs = performance.now();
    for await (const { ref, meta } of this.#blocksInTime(kv, metas, tenant, q, stats, false, () => emitted >= q.limit)) {
      const m = await this.#blockMatches(kv, tenant, ref, meta, q, stats, newer, q.limit - emitted, cache);
      if (m === null) continue;
      for (const rows of m.rowsByPage()) {
        for (const s of rows) yield* take(s);
        if (performance.now() - sliceStartMs < sliceMs) continue;
        await nextTurn();
        sliceStartMs = performance.now();
      }
    }
    if (batch.length > 0) yield batch;
    assert(emitted <= q.limit, 'a search yields at most limit spans');
  }

  /**
   * searchSpanRefs is searchSpans for a caller that needs only each matching
   * span's trace id and start (the candidate stage of a trace search): the
   * same spans (latest versions, same predicate, same `limit`), but block
   * rows are never decoded — their trace ids and starts come from the
   * block's columns — and the blocks are read newest first: buckets in
   * descending order, and a bucket's blocks by descending meta maxStartNs.
   * Every batch carries `frontierNs`: no span yielded later starts after it
   * (null: nothing is left), so a caller that wants the most recent matches
   * can stop early (trace-search-shard.ts). Head spans come first, under
   * the frontier endNs − 1. Memory: at most
   * TraceStoreLimits.searchBucketBlocksMax block metas at a time (a bucket
   * with more is read in groups, with a frontier at the bucket's end until
   * its last group).
   */
  async *searchSpanRefs(kv: KvRead, tenant: string, q: SpanSearch, stats: ScanStats): AsyncGenerator<SpanRefBatch> {
    // First, in the step that pinned kv: the metas of the same state (block-meta-table.ts).
    const metas = this.#metas?.current() ?? null;
    assert(Number.isSafeInteger(q.limit) && q.limit >= 1 && q.limit <= TraceStoreLimits.searchLimitMax, 'search limit in [1, searchLimitMax]');
    if (q.startNs >= q.endNs) return;
    const top = q.endNs - 1n;
    const batchMax = this.#limits.searchBatchRowsMax;
    let emitted = 0;
    let traceIds: Uint8Array[] = [];
    let startsNs: bigint[] = [];
    let soles: (TraceSummaryEntry | null)[] = [];
    const cut = (frontierNs: bigint | null): SpanRefBatch => {
      assert(traceIds.length === startsNs.length && traceIds.length === soles.length, 'one start and one sole summary (or null) per trace id');
      const out = { traceIds, startsNs, frontierNs, soles };
      traceIds = [];
      startsNs = [];
      soles = [];
      return out;
    };
    for (const s of this.#headMatches(tenant, q, stats)) {
      traceIds.push(s.traceId);
      startsNs.push(s.startTimeUnixNano);
      soles.push(null);
      emitted++;
      if (traceIds.length >= batchMax) yield cut(top);
      if (emitted >= q.limit) break;
    }
    if (traceIds.length > 0) yield cut(top);

    const firstBucket = bucketOf(q.startNs);
    const newer = new Map<string, Set<string>>();
    const cache = this.#cacheRef;
    // The heads as #blockMatches sees them, asked at each call.
    const held = (tk: string): boolean => (this.#head.get(tenant)?.traceNo(tk) ?? -1) >= 0 || (this.#frozen?.get(tenant)?.traceNo(tk) ?? -1) >= 0;
    // One bucket's metas at a time, newest bucket first (the reverse scan meets a bucket's keys together).
    let group: { ref: BlockRef; meta: BlockMeta }[] = [];
    /**
     * runGroup reads a group of one bucket's blocks by descending maxStartNs. When the group is
     * the bucket's last (`last`), every block left is in the group or in an older bucket, so the
     * frontier after a block is the next one's maxStartNs; otherwise unread blocks of the bucket
     * may start as late as the bucket's end, and the frontier stays there.
     */
    const runGroup = async function* (this: TraceStore, list: { ref: BlockRef; meta: BlockMeta }[], last: boolean): AsyncGenerator<SpanRefBatch> {
      if (list.length === 0) return;
      const bucket = (list[0] as { ref: BlockRef }).ref.bucket;
      list.sort((a, b) => (a.meta.maxStartNs !== b.meta.maxStartNs ? (a.meta.maxStartNs > b.meta.maxStartNs ? -1 : 1) : b.ref.flushIndex - a.ref.flushIndex || a.ref.part - b.ref.part));
      // Past the bucket's last block, every span left starts in an older bucket.
      const below = bucketStartNs(bucket) - 1n;
      const afterBucket = bucket <= firstBucket || below < q.startNs ? null : below < top ? below : top;
      const bucketEnd = bucketStartNs(bucket + 1) - 1n;
      const capped = bucketEnd < top ? bucketEnd : top;
      // A search that asks blocks for their page filters gets a run of them in one getMany (prefetch-kv.ts).
      const prefetch = q.pageFilters !== false && ((q.predicate.attrs?.length ?? 0) > 0 || q.predicate.match !== undefined) ? new PrefetchKv(kv) : null;
      const ahead = TraceStoreLimits.prefetchBlocksMax;
      for (let i = 0; i < list.length; i++) {
        if (emitted >= q.limit) return;
        const { ref, meta } = list[i] as { ref: BlockRef; meta: BlockMeta };
        if (prefetch !== null && i % ahead === 0) await prefetch.prefetchPageFilters(tenant, list.slice(i, i + ahead).map((b) => b.ref), cache);
        assert(ref.bucket === bucket, 'a group holds one bucket');
        const next = list[i + 1];
        const frontierNs = !last ? capped : next === undefined ? afterBucket : next.meta.maxStartNs < top ? next.meta.maxStartNs : top;
        // A time-only search takes the block's pairs from its trace summaries when they say exactly what the rows would (summary-refs.ts).
        const fromSummaries = q.summaries === false ? null : await summaryBlockRefs(kv, tenant, ref, meta, q, held, q.limit - emitted, stats, cache);
        const m = fromSummaries ?? (await this.#blockMatches(prefetch ?? kv, tenant, ref, meta, q, stats, newer, q.limit - emitted, cache));
        if (m !== null) {
          for (let j = 0; j < m.count; j++) {
            traceIds.push(m.traceId(j));
            startsNs.push(m.startNs(j));
            soles.push(fromSummaries === null ? null : fromSummaries.sole(j));
            emitted++;
            if (traceIds.length >= batchMax) yield cut(!last ? capped : meta.maxStartNs < top ? meta.maxStartNs : top);
          }
        }
        yield cut(frontierNs);
      }
    };
    for await (const b of this.#blocksInTime(kv, metas, tenant, q, stats, true, () => emitted >= q.limit)) {
      if (group.length > 0 && (group[0] as { ref: BlockRef }).ref.bucket !== b.ref.bucket) {
        assert((group[0] as { ref: BlockRef }).ref.bucket > b.ref.bucket, 'buckets come newest first');
        yield* runGroup.call(this, group, true);
        group = [];
        if (emitted >= q.limit) break;
      }
      if (group.length >= this.#limits.searchBucketBlocksMax) {
        // A bucket of more blocks than the bound is read in groups; a group that is not its
        // bucket's last cannot say how late the bucket's unread blocks start (see runGroup).
        yield* runGroup.call(this, group, false);
        group = [];
        if (emitted >= q.limit) break;
      }
      group.push(b);
      assert(group.length <= this.#limits.searchBucketBlocksMax, 'a group holds at most searchBucketBlocksMax metas');
    }
    if (emitted < q.limit) yield* runGroup.call(this, group, true);
    // Cut short by `limit`, the scan cannot say nothing is left.
    yield cut(emitted >= q.limit ? top : null);
    assert(emitted <= q.limit, 'a search yields at most limit spans');
  }

  /**
   * #headMatches yields the matching spans of the head, then of the frozen
   * head (unless the head has a newer version): the columns answer the
   * cheap parts of the predicate (headMayMatch), only the spans they leave
   * are decoded and checked (spanMatches).
   */
  *#headMatches(tenant: string, q: SpanSearch, stats: ScanStats): Generator<SpanRow> {
    const head = this.#head.get(tenant);
    const frozen = this.#frozen?.get(tenant);
    const traceKey = q.predicate.traceId === undefined ? null : idKey(q.predicate.traceId);
    for (const [src, shadow] of [
      [head, undefined],
      [frozen, head],
    ] as const) {
      if (src === undefined) continue;
      const reader = src.reader();
      for (const [tk, t] of src.traces()) {
        for (let slot = src.firstSlot(t); slot !== -1; slot = src.nextSlot(slot)) {
          stats.headRowsScanned++;
          if (shadow !== undefined && shadow.slotOf(tk, src.spanId(slot)) !== -1) continue;
          if (!headMayMatch(src, slot, tk, q, traceKey)) continue;
          const s = reader.row(slot);
          if (spanMatches(s, q.predicate, q.startNs, q.endNs)) yield s;
        }
      }
    }
  }

  /**
   * #blockMatches is one block's part of a search, or null when the block
   * cannot match: its index first (a trace id or a skipped key's value its
   * blooms lack, a term without postings: the block is never read), then
   * for a skipped key's value its page filters (pageHits: only the pages
   * that may hold it are read and their rows checked with spanMatches, or
   * none), else querySpanBlock over the opened block; the surviving rows in the time
   * range that are the latest versions of their spans (not in the head or
   * the frozen head, not in a later flush's block — looked for only for
   * the traces with shadow markers on this block), at most `room` of them.
   * `newer` caches the span keys of the later blocks read (#anyHas).
   */
  async #blockMatches(
    kv: KvRead,
    tenant: string,
    ref: BlockRef,
    meta: BlockMeta,
    q: SpanSearch,
    stats: ScanStats,
    newer: Map<string, Set<string>>,
    room: number,
    cache: BlockCacheRef | null,
  ): Promise<BlockMatches | null> {
    assert(room >= 1, 'a block is read only when the search has room');
    const head = this.#head.get(tenant);
    const frozen = this.#frozen?.get(tenant);
    const offset = tenantPrefixBytes(tenant);
    // A tag search on a key the block skips: its page filters of version 2 decide, the index is not read.
    const first = q.pageFilters === false ? {} : await pageTermHits(kv, tenant, ref, meta, q, stats, cache);
    if (first === 'none') {
      stats.blocksPrunedBloom++;
      return null;
    }
    let hits: BlockHits;
    if ('count' in first) hits = first;
    else {
      const read = await indexHits(kv, tenant, ref, meta, q, stats, cache, first.filters);
      if (read === null) return null;
      hits = read;
    }
    stats.blocksScanned++;
    const shadowed = new Set<string>();
    // A meta that says "no markers" (read from the same snapshot as the markers) spares the scan.
    if (meta.marked !== false) {
      for await (const marks of kv.pages(prefixRange(blockKey(K.shadow, tenant, ref)))) {
        for (const m of marks) {
          stats.bytesRead += m.key.length + m.value.length;
          shadowed.add(idKey(readShadowTrace(m.key, offset)));
        }
      }
    }
    const later = new Map<string, BlockRef[]>();
    const keep: number[] = [];
    for (let i = 0; i < hits.count; i++) {
      if (keep.length >= room) break;
      const start = hits.startNs(i);
      if (start < q.startNs || start >= q.endNs) continue;
      const traceId = hits.traceId(i);
      const tk = idKey(traceId);
      const spanId = hits.spanId(i);
      if ((head !== undefined && head.slotOf(tk, spanId) !== -1) || (frozen !== undefined && frozen.slotOf(tk, spanId) !== -1)) continue;
      const sk = idKey(spanId);
      if (shadowed.has(tk)) {
        let refs = later.get(tk);
        if (refs === undefined) {
          refs = await this.#laterRefs(kv, tenant, traceId, ref.flushIndex, stats);
          later.set(tk, refs);
        }
        if (await this.#anyHas(kv, tenant, refs, tk + sk, newer, stats)) continue;
      }
      keep.push(i);
    }
    assert(keep.length <= room, 'a block yields at most room rows');
    return {
      count: keep.length,
      traceId: (j) => hits.traceId(keep[j] as number),
      startNs: (j) => hits.startNs(keep[j] as number),
      rows: () => hits.decode(keep),
      rowsByPage: () => (hits.decodeByPage === undefined ? [hits.decode(keep)] : hits.decodeByPage(keep)),
    };
  }


  /**
   * #blocksInTime yields the blocks of `tenant` whose meta says a span may
   * start in [q.startNs, q.endNs), oldest bucket first or, with `reverse`,
   * newest first; it counts the meta bytes read and the blocks pruned by
   * time. `done` is asked before each meta entry, so a caller that has
   * enough reads (and counts) no further entry. With `metas` (the table's
   * generation the search pinned with kv) the entries come from memory, in
   * the same order and counted the same; null: one LevelDB scan.
   */
  async *#blocksInTime(
    kv: KvRead,
    metas: BlockMetas | null,
    tenant: string,
    q: { readonly startNs: bigint; readonly endNs: bigint },
    stats: ScanStats,
    reverse: boolean,
    done: () => boolean,
  ): AsyncGenerator<{ ref: BlockRef; meta: BlockMeta }> {
    // Time-sliced: the consumer's work on a block (cache reads, decode, match) runs in this generator's turn;
    // past searchSliceMs the next block waits one event-loop turn (TraceStoreLimits.searchSliceMs).
    const sliceMs = this.#limits.searchSliceMs;
    let sliceStartMs = performance.now();
    const slice = async (): Promise<void> => {
      if (performance.now() - sliceStartMs < sliceMs) return;
      await nextTurn();
      sliceStartMs = performance.now();
    };
    if (metas !== null) {
      const list = metas.tenant(tenant);
      const { lo, hi } = metas.bucketRange(list, bucketOf(q.startNs), bucketOf(q.endNs - 1n));
      for (let j = 0; j < hi - lo; j++) {
        const e = list[reverse ? hi - 1 - j : lo + j] as { ref: BlockRef; meta: BlockMeta; bytes: number };
        if (done()) return;
        stats.bytesRead += e.bytes;
        if (e.meta.maxStartNs < q.startNs || e.meta.minStartNs >= q.endNs) {
          stats.blocksPrunedTime++;
          continue;
        }
        await slice();
        if (done()) return;
        yield { ref: e.ref, meta: e.meta };
      }
      return;
    }
    const offset = tenantPrefixBytes(tenant);
    const range = { gte: bucketKey(K.meta, tenant, bucketOf(q.startNs)), lt: bucketKey(K.meta, tenant, bucketOf(q.endNs - 1n) + 1), reverse };
    for await (const page of kv.pages(range)) {
      for (const e of page) {
        if (done()) return;
        stats.bytesRead += e.key.length + e.value.length;
        const meta = decodeBlockMeta(e.value);
        if (meta.maxStartNs < q.startNs || meta.minStartNs >= q.endNs) {
          stats.blocksPrunedTime++;
          continue;
        }
        await slice();
        if (done()) return;
        yield { ref: readRef(e.key, offset), meta };
      }
    }
  }
  /**
   * readTags is the tenant's bounded read of tag names or of one tag's
   * values over the head, the frozen head and the blocks (tag-read.ts).
   */
  async readTags(kv: KvRead, tenant: string, q: TagRead, expired: () => boolean, bounds?: TagReadBounds): Promise<TagReadAnswer> {
    const heads: SpanHead[] = [];
    for (const h of [this.#head.get(tenant), this.#frozen?.get(tenant)]) if (h !== undefined) heads.push(h);
    return readTags(heads, kv, tenant, q, expired, bounds, this.#cacheRef);
  }

  /** #laterRefs lists the blocks of flushes after `flushIndex` that hold spans of the trace. */
  async #laterRefs(kv: KvRead, tenant: string, traceId: Uint8Array, flushIndex: number, stats: ScanStats): Promise<BlockRef[]> {
    const offset = tenantPrefixBytes(tenant) + TRACE_ID_BYTES;
    const later: BlockRef[] = [];
    for await (const page of kv.pages(prefixRange(tracePrefix(tenant, traceId)))) {
      for (const e of page) {
        stats.bytesRead += e.key.length + e.value.length;
        const r = readRef(e.key, offset);
        if (r.flushIndex > flushIndex) later.push(r);
      }
    }
    return later;
  }

  /**
   * #anyHas says whether one of the blocks `refs` holds the span `spanKey`
   * (trace key + span key). The span keys of a block read here stay in
   * `cache` (at most shadowBlocksMax blocks, then it starts over).
   */
  async #anyHas(kv: KvRead, tenant: string, refs: readonly BlockRef[], spanKey: string, cache: Map<string, Set<string>>, stats: ScanStats): Promise<boolean> {
    for (const r of refs) {
      const ck = `${r.bucket}/${r.flushIndex}/${r.part}`;
      let keys = cache.get(ck);
      if (keys === undefined) {
        stats.blocksScanned++;
        const cols = readBlockColumns(await readBlockView(kv, tenant, r, stats), ['traceId', 'spanId']);
        keys = new Set();
        for (let i = 0; i < cols.rows; i++) keys.add(idKey(cols.traceId?.[i] as Uint8Array) + idKey(cols.spanId?.[i] as Uint8Array));
        if (cache.size >= TraceStoreLimits.shadowBlocksMax) cache.clear();
        cache.set(ck, keys);
      }
      if (keys.has(spanKey)) return true;
    }
    return false;
  }
}
