/**
 * summary-refs.ts — one block's part of a search's candidate stage
 * (TraceStore.searchSpanRefs) from the block's trace summaries
 * (trace-summaries.ts) and its head's trace-id dictionary, without reading
 * its index or any of its pages, when that gives exactly what reading the
 * block gives.
 *
 * The candidate stage wants, for every span of the block that starts in
 * [startNs, endNs), matches the predicate and is the latest version of its
 * span, the span's trace id and start; its caller (trace-search-shard.ts)
 * keeps, per trace, only the latest start and the count. A summary entry
 * holds exactly those for the block's spans of one trace (its span count
 * and last start), so when
 *  - the predicate is the time range alone (Tempo's duration search),
 *  - the block has no shadow marker (meta.marked false: no later flush wrote
 *    spans of any of its traces, so none of its rows is an old version),
 *  - no head (live or frozen) holds a span of any of its traces, and
 *  - every trace of the block lies wholly in the range (first start >=
 *    startNs, last start < endNs: then every span of it matches),
 * the block's answer is, per trace, its span count times (trace id, last
 * start). Otherwise null: the caller reads the block as before. Formats 1
 * and 2 and blocks written before the table answer null too.
 *
 * Each trace's last start stands for all of its spans' starts: the caller
 * keeps only the latest per trace, and counts spans, so the answer (traces,
 * order, early stop, inspectedSpans) is the same. The table is checked
 * against the head and the meta (every dictionary trace has an entry, the
 * counts add up to the block's rows), ERR_CORRUPTION otherwise.
 *
 * Stateless: reads go through the caller's KvRead and block cache.
 */
import { assert } from '../../errors.js';
import { corrupt } from '../codec/bits.js';
import type { KvRead } from '../shard/shard-db.js';
import type { ScanStats } from '../shard/signal-store.js';
import type { BlockCacheRef } from './block-read.js';
import { readSplitHead, readTraceSummaries } from './block-read.js';
import { splitBlockTraceIds } from './span-block.js';
import type { SpanPredicate } from './span-index.js';
import { idKey } from './span-head.js';
import type { TraceSummaryEntry } from './trace-summaries.js';
import { summaryOf } from './trace-summaries.js';
import type { BlockMeta, BlockRef } from './trace-keys.js';

/** SummaryRefs are one block's candidate spans as (trace id, start) pairs: pair j is traceId(j), startNs(j). */
export interface SummaryRefs {
  readonly count: number;
  readonly traceId: (j: number) => Uint8Array;
  readonly startNs: (j: number) => bigint;
  /** sole is pair j's trace summary when it says "sole" (the block held the whole trace when written), else null. */
  readonly sole: (j: number) => TraceSummaryEntry | null;
}

/** timeOnlyPredicate says a span predicate sets no condition (every span in the range matches). */
export function timeOnlyPredicate(p: SpanPredicate): boolean {
  for (const v of Object.values(p) as unknown[]) {
    if (v === undefined) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    return false;
  }
  return true;
}

/**
 * summaryBlockRefs is the block's candidate spans from its trace summaries,
 * at most `room` of them, or null when the summaries cannot say (see the
 * top of this file). `held(tk)` says a head (live or frozen) holds a span
 * of the trace whose idKey is tk.
 */
export async function summaryBlockRefs(
  kv: KvRead,
  tenant: string,
  ref: BlockRef,
  meta: BlockMeta,
  q: { readonly startNs: bigint; readonly endNs: bigint; readonly predicate: SpanPredicate },
  held: (tk: string) => boolean,
  room: number,
  stats: ScanStats,
  cache: BlockCacheRef | null,
): Promise<SummaryRefs | null> {
  assert(room >= 1, 'a block is read only when the search has room');
  if (meta.marked !== false || !timeOnlyPredicate(q.predicate)) return null;
  // The whole block must lie in the range: a cheap first check from the meta, before any read.
  if (meta.minStartNs < q.startNs || meta.maxStartNs >= q.endNs) return null;
  // The table first: a block without one (written before tables, so also every format-1 or 2 block) costs one missed get.
  const table = await readTraceSummaries(kv, tenant, ref, stats, cache);
  if (table === null) return null;
  const head = await readSplitHead(kv, tenant, ref, stats, cache);
  if (head === null) return null;
  const ids = splitBlockTraceIds(head);
  if (ids.length !== table.entries.size || ids.length !== meta.traces) {
    throw corrupt(`a block of ${ids.length} traces has ${table.entries.size} trace summaries, its meta says ${meta.traces}`, { tenant, ...ref });
  }
  const entries: TraceSummaryEntry[] = [];
  let spans = 0;
  for (const id of ids) {
    const e = summaryOf(table, id);
    if (e === undefined) throw corrupt('a block trace summary table lacks a trace of the block', { tenant, ...ref });
    if (held(idKey(id))) return null;
    if (e.firstStartNs < q.startNs || e.lastStartNs >= q.endNs) return null;
    entries.push(e);
    spans += e.spans;
  }
  if (spans !== meta.rows) throw corrupt(`block trace summaries count ${spans} spans, its meta says ${meta.rows}`, { tenant, ...ref });
  // Pair j belongs to trace owner[j]: each trace's span count times, in dictionary order, at most `room` pairs.
  const owner: number[] = [];
  for (let t = 0; t < entries.length && owner.length < room; t++) {
    const n = (entries[t] as TraceSummaryEntry).spans;
    for (let k = 0; k < n && owner.length < room; k++) owner.push(t);
  }
  assert(owner.length <= room && owner.length <= meta.rows, 'at most room pairs, one per span');
  stats.blocksScanned++;
  return {
    count: owner.length,
    traceId: (j) => ids[owner[j] as number] as Uint8Array,
    startNs: (j) => (entries[owner[j] as number] as TraceSummaryEntry).lastStartNs,
    sole: (j) => {
      const e = entries[owner[j] as number] as TraceSummaryEntry;
      return e.sole === true ? e : null;
    },
  };
}
