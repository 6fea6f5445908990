/**
 * block-read.ts — how the traces store reads a span block out of LevelDB,
 * whatever its format (span-block.ts): formats 1 and 2 are one value under
 * the block key; format 3 is a head under the block key and one value per
 * page under the page keys (trace-keys.ts), so a lookup fetches only the
 * pages of its trace. Stateless: every function takes the KvRead of one
 * snapshot and counts the bytes it reads into the caller's ScanStats.
 */
import { assert } from '../../errors.js';
import type { SpanRow } from '../rows.js';
import { TRACE_ID_BYTES } from '../rows.js';
import type { KvRead } from '../shard/shard-db.js';
import type { ScanStats } from '../shard/signal-store.js';
import { corrupt } from '../codec/bits.js';
import type { SpanBlockView, SplitBlockHead } from './span-block.js';
import { isSplitHead, joinSplitBlock, openSpanBlock, openSplitHead, readSplitTraceSpans, readTraceSpans, splitTracePages } from './span-block.js';
import type { BlockRef } from './trace-keys.js';
import { TraceKeySpace as K, blockKey, pageKey } from './trace-keys.js';

/** readBlockValue gets the value under a block's key (a whole block, or a format-3 head); a block its meta or the trace-id index names must exist. */
async function readBlockValue(kv: KvRead, tenant: string, ref: BlockRef, stats: ScanStats): Promise<Uint8Array> {
  const bytes = await kv.get(blockKey(K.block, tenant, ref));
  if (bytes === undefined) throw corrupt('a span block named by its meta or the trace-id index is missing', { tenant, ...ref });
  stats.bytesRead += bytes.length;
  return bytes;
}

/** readPages gets pages first ..= last of a format-3 block (undefined for a missing one: the reader refuses it). */
async function readPages(kv: KvRead, tenant: string, ref: BlockRef, first: number, last: number, stats: ScanStats): Promise<(Uint8Array | undefined)[]> {
  assert(first >= 0 && first <= last + 1, 'a page range');
  const keys: Uint8Array[] = [];
  for (let p = first; p <= last; p++) keys.push(pageKey(tenant, ref, p));
  const pages = await kv.getMany(keys);
  for (const b of pages) stats.bytesRead += b?.length ?? 0;
  assert(pages.length === keys.length, 'getMany answers every key');
  return pages;
}

/** readBlockView opens a whole span block of any format (format 3: its head and every page, joined), every byte checked. */
export async function readBlockView(kv: KvRead, tenant: string, ref: BlockRef, stats: ScanStats): Promise<SpanBlockView> {
  const bytes = await readBlockValue(kv, tenant, ref, stats);
  if (!isSplitHead(bytes)) return openSpanBlock(bytes);
  const head = openSplitHead(bytes);
  return joinSplitBlock(head, await readPages(kv, tenant, ref, 0, head.pageCount - 1, stats));
}

/**
 * readBlockTrace decodes the rows of one trace from one block, reading as
 * little as the format allows: format 3 fetches the head and the trace's
 * pages only; format 2 checks and decodes only those pages (LevelDB still
 * returns the whole value); format 1 opens the whole block.
 */
export async function readBlockTrace(kv: KvRead, tenant: string, ref: BlockRef, traceId: Uint8Array, stats: ScanStats): Promise<SpanRow[]> {
  assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
  const bytes = await readBlockValue(kv, tenant, ref, stats);
  if (!isSplitHead(bytes)) return readTraceSpans(bytes, traceId).spans;
  const head = openSplitHead(bytes);
  const at = splitTracePages(head, traceId);
  if (at === null) return [];
  return readSplitTraceSpans(head, traceId, await readPages(kv, tenant, ref, at.first, at.last, stats)).spans;
}

/** blockPageKeys are the page keys a block owns besides its block key (none for formats 1 and 2), from the value under its block key. */
export function blockPageKeys(tenant: string, ref: BlockRef, blockValue: Uint8Array): Uint8Array[] {
  if (!isSplitHead(blockValue)) return [];
  const head: SplitBlockHead = openSplitHead(blockValue);
  const keys: Uint8Array[] = [];
  for (let p = 0; p < head.pageCount; p++) keys.push(pageKey(tenant, ref, p));
  return keys;
}
