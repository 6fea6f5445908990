/**
 * span-search.ts — what a span search is (SpanSearch, its batches of
 * SpanRefBatch) and the pure parts of running one that the traces store
 * (trace-store.ts) shares between its head and block paths: the predicate
 * on one span (spanMatches), what a head's columns answer of it
 * (headMayMatch), and a block's matching rows through its page filters
 * (pageHits). Moved out of trace-store.ts unchanged; no state.
 */
import { corrupt } from '../codec/bits.js';
import type { SpanRow } from '../rows.js';
import type { KvRead } from '../shard/shard-db.js';
import type { ScanStats } from '../shard/signal-store.js';
import { readBlockIndex, readBlockPageRows, readBlockView, readPageFilters } from './block-read.js';
import type { BlockCacheRef } from './block-read.js';
import type { PageFilters } from './page-filters.js';
import { matchDecidable, pagesMayHoldAttrs, pagesMayMatch } from './page-filters.js';
import { decodeSpanRows, decodeSpanRowsByPage, readBlockColumns, serviceOf } from './span-block.js';
import type { SpanHead } from './span-head.js';
import type { SpanBlockIndex, SpanPredicate } from './span-index.js';
import { attrIndexValue, indexExcludes, querySpanBlock, scanAttrsOf, spanMatchHolds, valueNeedle } from './span-index.js';
import type { BlockMeta, BlockRef } from './trace-keys.js';
import type { TraceSummaryEntry } from './trace-summaries.js';

/** BlockHits are a block's rows that match a search's predicate, before the latest-version checks (#blockMatches). */
export interface BlockHits {
  readonly count: number;
  readonly traceId: (i: number) => Uint8Array;
  readonly spanId: (i: number) => Uint8Array;
  readonly startNs: (i: number) => bigint;
  /** decode is the hits `keep` (indices, ascending) as rows. */
  readonly decode: (keep: readonly number[]) => SpanRow[];
  /** decodeByPage, when given, is decode in parts, a page at a time (span-block.ts decodeSpanRowsByPage); concatenated, decode's rows. */
  readonly decodeByPage?: (keep: readonly number[]) => Iterable<SpanRow[]>;
}

/** BlockMatches are one block's part of a search: `count` rows, latest versions in the time range, in row order. */
export interface BlockMatches {
  readonly count: number;
  readonly traceId: (j: number) => Uint8Array;
  readonly startNs: (j: number) => bigint;
  readonly rows: () => SpanRow[];
  /** rowsByPage is rows in parts (a page of the block at a time where the hits can), concatenated rows(). */
  readonly rowsByPage: () => Iterable<SpanRow[]>;
}

/**
 * pageTermHits is a block's matching rows decided by its page filters of
 * version 2 alone (page-filters.ts), without its index: when the search has
 * an attribute equality whose key the block skips, or a TraceQL span match
 * with such an atom (matchDecidable), 'none' when no page may hold it, else
 * the matching rows (spanMatches) of the pages that may. Otherwise
 * `{ filters }`: the block's page filters as read (null: none), or `{}`
 * when not read, for pageHits on the index path.
 */
export async function pageTermHits(
  kv: KvRead,
  tenant: string,
  ref: BlockRef,
  meta: BlockMeta,
  q: SpanSearch,
  stats: ScanStats,
  cache: BlockCacheRef | null,
): Promise<BlockHits | 'none' | { readonly filters?: PageFilters | null }> {
  const attrs = q.predicate.attrs ?? [];
  const match = q.predicate.match;
  if (attrs.length === 0 && match === undefined) return {};
  const filters = await readPageFilters(kv, tenant, ref, stats, cache);
  if (filters?.skipped === undefined) return { filters };
  const skippedKeys = filters.skipped.skippedKeys;
  const skippedAttrs = attrs.filter(([k]) => skippedKeys.has(k));
  if (skippedAttrs.length === 0 && (match === undefined || !matchDecidable(match, filters.skipped))) return { filters };
  checkPageCount(filters, meta, tenant, ref);
  const pages = pagesMayHoldAttrs(filters, skippedAttrs, match);
  if (pages.length === 0) return 'none';
  // A tag search's values (not a TraceQL match) also rule out pages whose bytes lack them.
  const needles = match === undefined ? needlesOf(skippedAttrs) : [];
  const hits = await pageRowHits(kv, tenant, ref, pages, filters.pageRows, needles, q, stats, cache);
  if (hits === null) throw corrupt('a span block with page filters of version 2 is not paged', { tenant, ...ref });
  return hits;
}

function checkPageCount(filters: PageFilters, meta: BlockMeta, tenant: string, ref: BlockRef): void {
  if (filters.filters.length !== Math.ceil(meta.rows / filters.pageRows)) throw corrupt(`page filters of ${filters.filters.length} pages for a block of ${meta.rows} rows`, { tenant, ...ref });
}

/** needlesOf are the valueNeedle bytes of a tag search's attribute values (a page whose bytes lack one is not decoded). */
function needlesOf(attrs: readonly (readonly [string, string])[]): Uint8Array[] {
  const needles: Uint8Array[] = [];
  for (const [, v] of attrs) {
    const n = valueNeedle(v);
    if (n !== null) needles.push(n);
  }
  return needles;
}

/** pageRowHits are the rows of `pages` of a format-3 block that match the search (spanMatches); null for a block of another format. */
async function pageRowHits(
  kv: KvRead,
  tenant: string,
  ref: BlockRef,
  pages: readonly number[],
  pageRows: number,
  needles: readonly Uint8Array[],
  q: SpanSearch,
  stats: ScanStats,
  cache: BlockCacheRef | null,
): Promise<BlockHits | null> {
  const pageRowLists = await readBlockPageRows(kv, tenant, ref, pages, pageRows, needles, stats, cache);
  if (pageRowLists === null) return null;
  const rows: SpanRow[] = [];
  for (const list of pageRowLists) for (const s of list) if (spanMatches(s, q.predicate, q.startNs, q.endNs)) rows.push(s);
  return {
    count: rows.length,
    traceId: (i) => (rows[i] as SpanRow).traceId,
    spanId: (i) => (rows[i] as SpanRow).spanId,
    startNs: (i) => (rows[i] as SpanRow).startTimeUnixNano,
    decode: (keep) => keep.map((i) => rows[i] as SpanRow),
  };
}

/**
 * pageHits is a block's matching rows read through its page filters
 * (page-filters.ts) when the predicate's attribute equalities or span match
 * may involve a key the block does not index: 'none' when no page may hold the values,
 * the matching rows (spanMatches, every row of the pages that may) when some
 * pages may, or null when the filters do not narrow the read (no such key,
 * a block without filters or of another format, every page may hold them):
 * the caller then reads the whole block. `known` are the block's filters
 * when the caller has read them (pageTermHits), undefined to read them here.
 */
export async function pageHits(
  kv: KvRead,
  tenant: string,
  ref: BlockRef,
  meta: BlockMeta,
  index: SpanBlockIndex,
  q: SpanSearch,
  stats: ScanStats,
  cache: BlockCacheRef | null,
  known?: PageFilters | null,
): Promise<BlockHits | 'none' | null> {
  // Only a skipped key's value or a span match asks the page filters (the block-level bloom said "maybe").
  if (index.skippedKeys.size === 0 && index.skippedValueKeys.size === 0) return null;
  if (q.predicate.match === undefined && scanAttrsOf(index, q.predicate).length === 0) return null;
  const filters = known !== undefined ? known : await readPageFilters(kv, tenant, ref, stats, cache);
  if (filters === null) return null;
  checkPageCount(filters, meta, tenant, ref);
  const pages = pagesMayMatch(filters, index, q.predicate);
  if (pages.length === 0) return 'none';
  if (pages.length === filters.filters.length) return null;
  // A tag search's values (not a TraceQL match) also rule out pages whose bytes lack them.
  const needles = q.predicate.match === undefined ? needlesOf(scanAttrsOf(index, q.predicate)) : [];
  return pageRowHits(kv, tenant, ref, pages, filters.pageRows, needles, q, stats, cache);
}

/**
 * indexHits is a block's matching rows found through its index: null when
 * the index rules the block out (its blooms, a term without postings; the
 * stats count why); else, for a skipped key's value, the rows of the pages
 * its page filters let through (pageHits; `known` as there), or the rows
 * querySpanBlock finds in the whole block.
 */
export async function indexHits(
  kv: KvRead,
  tenant: string,
  ref: BlockRef,
  meta: BlockMeta,
  q: SpanSearch,
  stats: ScanStats,
  cache: BlockCacheRef | null,
  known?: PageFilters | null,
): Promise<BlockHits | null> {
  const index = await readBlockIndex(kv, tenant, ref, stats, cache);
  const excluded = indexExcludes(index, q.predicate);
  if (excluded !== null) {
    if (excluded === 'bloom') stats.blocksPrunedBloom++;
    else stats.blocksPrunedIndex++;
    return null;
  }
  // A skipped key's value: the page filters may name the few pages that can hold it.
  const paged = q.pageFilters === false ? null : await pageHits(kv, tenant, ref, meta, index, q, stats, cache, known);
  if (paged === 'none') {
    stats.blocksPrunedBloom++;
    return null;
  }
  if (paged !== null) return paged;
  const view = await readBlockView(kv, tenant, ref, stats, cache);
  if (view.rows !== meta.rows) throw corrupt(`span block of ${view.rows} rows, its meta says ${meta.rows}`, { tenant, ...ref });
  const res = querySpanBlock(view, index, q.predicate);
  if (res.rows.length === 0 && res.stats.prunedByIndex === view.rows) {
    if (res.stats.bloomSkipped) stats.blocksPrunedBloom++;
    else stats.blocksPrunedIndex++;
    return null;
  }
  const cols = readBlockColumns(view, ['startTime', 'traceId', 'spanId']);
  const rows = res.rows;
  return {
    count: rows.length,
    traceId: (i) => cols.traceId?.[rows[i] as number] as Uint8Array,
    spanId: (i) => cols.spanId?.[rows[i] as number] as Uint8Array,
    startNs: (i) => cols.startTime?.[rows[i] as number] as bigint,
    decode: (keep) => decodeSpanRows(view, keep.map((i) => rows[i] as number)),
    decodeByPage: (keep) => decodeSpanRowsByPage(view, keep.map((i) => rows[i] as number)),
  };
}

/** SpanSearch is the query of searchSpans: a span matches when its start is in [startNs, endNs) and the predicate holds. */
export interface SpanSearch {
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly predicate: SpanPredicate;
  /** limit bounds the spans yielded in all (1 ..= TraceStoreLimits.searchLimitMax). */
  readonly limit: number;
  /**
   * pageFilters false reads a block whose skipped-terms bloom may hold a
   * skipped key's value whole, as before page filters (page-filters.ts); the
   * answer is the same. For the benches' "before" and the tests' reference.
   */
  readonly pageFilters?: boolean;
  /**
   * summaries false never takes a block's candidate pairs from its trace
   * summaries (summary-refs.ts; searchSpanRefs only): every block is read as
   * before. The answer is the same. For the benches' "before" and the tests'
   * reference.
   */
  readonly summaries?: boolean;
}

/**
 * SpanRefBatch is one batch of searchSpanRefs: the matching spans' trace ids
 * and starts (startsNs[i] is traceIds[i]'s span's), and how late a span not
 * yet yielded may start.
 */
export interface SpanRefBatch {
  readonly traceIds: Uint8Array[];
  readonly startsNs: bigint[];
  /** frontierNs: every matching span yielded after this batch starts at or before it; null: none is left. */
  readonly frontierNs: bigint | null;
  /**
   * soles[i], when set, is the summary of traceIds[i]'s trace from the
   * block that yielded the span (summary-refs.ts), which says the block held
   * the whole trace when written and which no later flush marked: with no
   * head holding the trace, it is the whole trace (TraceStore.soleSummary).
   */
  readonly soles: (TraceSummaryEntry | null)[];
}

function hasAttr(list: SpanRow['attributes'], key: string, value: string): boolean {
  for (const kv of list) if (kv.key === key && attrIndexValue(kv.value) === value) return true;
  return false;
}

function idEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** spanMatches is querySpanBlock's predicate on one in-memory span (same semantics), plus the start-time range. */
export function spanMatches(s: SpanRow, p: SpanPredicate, startNs: bigint, endNs: bigint): boolean {
  if (s.startTimeUnixNano < startNs || s.startTimeUnixNano >= endNs) return false;
  if (p.service !== undefined && serviceOf(s.resource) !== p.service) return false;
  if (p.name !== undefined && s.name !== p.name) return false;
  if (p.kind !== undefined && s.kind !== p.kind) return false;
  if (p.status !== undefined && s.status.code !== p.status) return false;
  if (p.traceId !== undefined && !idEqual(s.traceId, p.traceId)) return false;
  const d = s.endTimeUnixNano - s.startTimeUnixNano;
  if (p.minDurationNs !== undefined && d < p.minDurationNs) return false;
  if (p.maxDurationNs !== undefined && d > p.maxDurationNs) return false;
  for (const [k, v] of p.attrs ?? []) if (!hasAttr(s.attributes, k, v) && !hasAttr(s.resource.attributes, k, v)) return false;
  if (p.match !== undefined && !spanMatchHolds(s, p.match)) return false;
  return true;
}

/**
 * headMayMatch is the part of spanMatches a head answers from its columns
 * (start range, kind, status, duration, trace): false means the span cannot
 * match; true means decode it and ask spanMatches.
 */
export function headMayMatch(h: SpanHead, slot: number, tk: string, q: SpanSearch, traceKey: string | null): boolean {
  const p = q.predicate;
  if (traceKey !== null && tk !== traceKey) return false;
  if (p.kind !== undefined && h.kind(slot) !== p.kind) return false;
  if (p.status !== undefined && h.statusCode(slot) !== p.status) return false;
  const start = h.startNs(slot);
  if (start < q.startNs || start >= q.endNs) return false;
  if (p.minDurationNs === undefined && p.maxDurationNs === undefined) return true;
  const d = h.endNs(slot) - start;
  if (p.minDurationNs !== undefined && d < p.minDurationNs) return false;
  if (p.maxDurationNs !== undefined && d > p.maxDurationNs) return false;
  return true;
}
