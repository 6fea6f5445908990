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
import { readBlockPageRows, readPageFilters } from './block-read.js';
import type { BlockCacheRef } from './block-read.js';
import { pagesMayMatch } from './page-filters.js';
import { serviceOf } from './span-block.js';
import type { SpanHead } from './span-head.js';
import type { SpanBlockIndex, SpanPredicate } from './span-index.js';
import { attrIndexValue, scanAttrsOf, spanMatchHolds, valueNeedle } from './span-index.js';
import type { BlockMeta, BlockRef } from './trace-keys.js';

/** BlockHits are a block's rows that match a search's predicate, before the latest-version checks (#blockMatches). */
export interface BlockHits {
  readonly count: number;
  readonly traceId: (i: number) => Uint8Array;
  readonly spanId: (i: number) => Uint8Array;
  readonly startNs: (i: number) => bigint;
  /** decode is the hits `keep` (indices, ascending) as rows. */
  readonly decode: (keep: readonly number[]) => SpanRow[];
}

/** BlockMatches are one block's part of a search: `count` rows, latest versions in the time range, in row order. */
export interface BlockMatches {
  readonly count: number;
  readonly traceId: (j: number) => Uint8Array;
  readonly startNs: (j: number) => bigint;
  readonly rows: () => SpanRow[];
}

/**
 * pageHits is a block's matching rows read through its page filters
 * (page-filters.ts) when the predicate's attribute equalities or span match
 * may involve a key the block does not index: 'none' when no page may hold the values,
 * the matching rows (spanMatches, every row of the pages that may) when some
 * pages may, or null when the filters do not narrow the read (no such key,
 * a block without filters or of another format, every page may hold them):
 * the caller then reads the whole block.
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
): Promise<BlockHits | 'none' | null> {
  // Only a skipped key's value or a span match asks the page filters (the block-level bloom said "maybe").
  if (index.skippedKeys.size === 0 && index.skippedValueKeys.size === 0) return null;
  if (q.predicate.match === undefined && scanAttrsOf(index, q.predicate).length === 0) return null;
  const filters = await readPageFilters(kv, tenant, ref, stats, cache);
  if (filters === null) return null;
  if (filters.filters.length !== Math.ceil(meta.rows / filters.pageRows)) throw corrupt(`page filters of ${filters.filters.length} pages for a block of ${meta.rows} rows`, { tenant, ...ref });
  const pages = pagesMayMatch(filters, index, q.predicate);
  if (pages.length === 0) return 'none';
  if (pages.length === filters.filters.length) return null;
  // A tag search's values (not a TraceQL match) also rule out pages whose bytes lack them.
  const needles: Uint8Array[] = [];
  if (q.predicate.match === undefined) {
    for (const [, v] of scanAttrsOf(index, q.predicate)) {
      const n = valueNeedle(v);
      if (n !== null) needles.push(n);
    }
  }
  const pageRows = await readBlockPageRows(kv, tenant, ref, pages, filters.pageRows, needles, stats, cache);
  if (pageRows === null) return null;
  const rows: SpanRow[] = [];
  for (const list of pageRows) for (const s of list) if (spanMatches(s, q.predicate, q.startNs, q.endNs)) rows.push(s);
  return {
    count: rows.length,
    traceId: (i) => (rows[i] as SpanRow).traceId,
    spanId: (i) => (rows[i] as SpanRow).spanId,
    startNs: (i) => (rows[i] as SpanRow).startTimeUnixNano,
    decode: (keep) => keep.map((i) => rows[i] as SpanRow),
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
