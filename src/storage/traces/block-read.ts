/**
 * block-read.ts — how the traces store reads a span block out of LevelDB,
 * whatever its format (span-block.ts): formats 1 and 2 are one value under
 * the block key; format 3 is a head under the block key and one value per
 * page under the page keys (trace-keys.ts), so a lookup fetches only the
 * pages of its trace. Stateless: every function takes the KvRead of one
 * snapshot and counts the bytes it reads into the caller's ScanStats. A
 * caller may pass a BlockCacheRef (block-cache.ts): an opened block view, a
 * format-3 head or a decoded index found there is used instead of reading
 * and checking the bytes again (blocks are immutable), and its bytes are
 * still counted in ScanStats.bytesRead (the bytes the read covered).
 */
import { OtlpdbError, assert } from '../../errors.js';
import type { SpanRow } from '../rows.js';
import { TRACE_ID_BYTES } from '../rows.js';
import type { KvRead } from '../shard/shard-db.js';
import type { ScanStats } from '../shard/signal-store.js';
import { corrupt } from '../codec/bits.js';
import type { SpanBlockView, SplitBlockHead } from './span-block.js';
import { isSplitHead, joinSplitBlock, openSpanBlock, openSplitHead, readSplitPageRows, readSplitTraceSpans, readTraceSpans, splitTracePages } from './span-block.js';
import type { PageFilters } from './page-filters.js';
import { decodePageFilters } from './page-filters.js';
import { BlockCacheLimits } from '../../limits.js';
import type { SpanBlockCache } from './block-cache.js';
import { spanBlockCacheKey } from './block-cache.js';
import type { SpanBlockIndex } from './span-index.js';
import { decodeSpanBlockIndex } from './span-index.js';
import type { TraceSummaryTable } from './trace-summaries.js';
import { decodeTraceSummaries } from './trace-summaries.js';
import type { BlockRef, TracePages } from './trace-keys.js';
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

/** BlockCacheRef is a cache and the key space of one database lineage in it (TraceStore takes a new space per load). */
export interface BlockCacheRef {
  readonly cache: SpanBlockCache;
  readonly space: string;
}

/** Cached is a value kept in the cache with the LevelDB bytes it was opened from (counted again on every hit). */
interface Cached<V> {
  readonly value: V;
  readonly bytesRead: number;
}

/**
 * CACHE_FACTORS are the decoded size of each kind of cached value, in
 * multiples of its bytes, as the cache accounts it (reads and
 * cacheWritten agree): an index or page filters keep views and a small
 * object a term or page (2), a format-3 head its bytes (1), trace summaries
 * an object, strings and bigints a trace (3).
 */
const CACHE_FACTORS = { i: 2, v: 1, h: 1, s: 3, p: 2 } as const;

/**
 * cacheWritten keeps in `c` the value a flush wrote under `key`, opened
 * from `bytes` exactly as the read of that key opens it, so the first
 * search after a flush finds it instead of reading it back: 'h' the value
 * under a block key (a format-3 head), 'p' a block's page filters.
 * `bytes` must be what the durable batch holds under `key` in `c`'s
 * lineage (flush-cache-fill.ts commits only after the batch is durable) and
 * must not be mutated later (a decoded value keeps views of it). Bytes that
 * do not open (ERR_CORRUPTION) are not kept: the read then finds and
 * reports them.
 */
export function cacheWritten(c: BlockCacheRef, kind: 'h' | 'p', key: Uint8Array, bytes: Uint8Array): boolean {
  let value: Uint8Array | SplitBlockHead | PageFilters;
  try {
    value = kind === 'h' ? (isSplitHead(bytes) ? openSplitHead(bytes) : bytes) : decodePageFilters(bytes);
  } catch (err) {
    if (err instanceof OtlpdbError && err.code === 'ERR_CORRUPTION') return false;
    throw err;
  }
  const cached: Cached<typeof value> = { value, bytesRead: bytes.length };
  c.cache.set(spanBlockCacheKey(c.space, kind, key), cached, Math.ceil(bytes.length * CACHE_FACTORS[kind]) + BlockCacheLimits.entryOverheadBytes);
  return true;
}

/**
 * cachedRead is `open()` through the cache: a hit counts the entry's bytes
 * into stats.bytesRead and returns it; a miss opens (counting what it reads)
 * and keeps the result, accounted at its bytes times `factor` plus
 * BlockCacheLimits.entryOverheadBytes.
 */
async function cachedRead<V>(c: BlockCacheRef | null, kind: 'i' | 'v' | 'h' | 's' | 'p', key: Uint8Array, stats: ScanStats, factor: number, open: () => Promise<V>): Promise<V> {
  assert(factor === CACHE_FACTORS[kind], 'a read accounts its kind\'s factor');
  if (c === null) return open();
  const k = spanBlockCacheKey(c.space, kind, key);
  const hit = c.cache.get<Cached<V>>(k);
  if (hit !== undefined) {
    stats.bytesRead += hit.bytesRead;
    return hit.value;
  }
  const before = stats.bytesRead;
  const value = await open();
  const bytesRead = stats.bytesRead - before;
  assert(bytesRead >= 0, 'an open counts what it reads');
  c.cache.set(k, { value, bytesRead }, Math.ceil(bytesRead * factor) + BlockCacheLimits.entryOverheadBytes);
  return value;
}

/** readBlockIndex opens a block's index (0x11), every byte checked; a block its meta names must have one. */
export async function readBlockIndex(kv: KvRead, tenant: string, ref: BlockRef, stats: ScanStats, c: BlockCacheRef | null = null): Promise<SpanBlockIndex> {
  const key = blockKey(K.index, tenant, ref);
  // The decoded index keeps views into its bytes plus a string and a map slot per term: twice the bytes.
  return cachedRead(c, 'i', key, stats, 2, async () => {
    const bytes = await kv.get(key);
    if (bytes === undefined) throw corrupt('a span block index named by its meta is missing', { tenant, ...ref });
    stats.bytesRead += bytes.length;
    return decodeSpanBlockIndex(bytes);
  });
}

/**
 * readOptional reads a block's optional value through the cache (`kind`,
 * decoded size about `factor` times its bytes): null when the block was
 * written without it (that answer is cached too), else `decode` of it.
 */
function readOptional<V>(kv: KvRead, key: Uint8Array, stats: ScanStats, c: BlockCacheRef | null, kind: 's' | 'p', factor: number, decode: (bytes: Uint8Array) => V): Promise<V | null> {
  return cachedRead(c, kind, key, stats, factor, async () => {
    const bytes = await kv.get(key);
    if (bytes === undefined) return null;
    stats.bytesRead += bytes.length;
    return decode(bytes);
  });
}

/**
 * readTraceSummaries opens a block's trace summary table (0x16,
 * trace-summaries.ts), every byte checked, or null for a block written
 * before the table existed (the "none" answer is cached too).
 */
export async function readTraceSummaries(kv: KvRead, tenant: string, ref: BlockRef, stats: ScanStats, c: BlockCacheRef | null = null): Promise<TraceSummaryTable | null> {
  // The decoded table holds an object, a few strings and bigints per trace: about three times its bytes.
  return readOptional(kv, blockKey(K.summaries, tenant, ref), stats, c, 's', 3, decodeTraceSummaries);
}

/**
 * readPageFilters opens a block's page filters (0x17, page-filters.ts),
 * every byte checked, or null for a block without them (the "none" answer
 * is cached too).
 */
export async function readPageFilters(kv: KvRead, tenant: string, ref: BlockRef, stats: ScanStats, c: BlockCacheRef | null = null): Promise<PageFilters | null> {
  // The decoded filters hold their bit arrays and a small object per page: about twice the bytes.
  return readOptional(kv, blockKey(K.pageFilters, tenant, ref), stats, c, 'p', 2, decodePageFilters);
}

/**
 * readSplitHead opens a block's head (through the cache), or null for a
 * block of format 1 or 2 (one value: the caller reads it whole).
 */
export async function readSplitHead(kv: KvRead, tenant: string, ref: BlockRef, stats: ScanStats, c: BlockCacheRef | null = null): Promise<SplitBlockHead | null> {
  const opened = await cachedRead(c, 'h', blockKey(K.block, tenant, ref), stats, 1, async (): Promise<Uint8Array | SplitBlockHead> => {
    const bytes = await readBlockValue(kv, tenant, ref, stats);
    return isSplitHead(bytes) ? openSplitHead(bytes) : bytes;
  });
  return opened instanceof Uint8Array ? null : opened;
}

/**
 * readBlockPageRows decodes the rows of `pages` (ascending) of a format-3
 * block of `pageRows`-row pages: its head and those pages' values only
 * (both through the cache), each checked; out[i] are
 * page pages[i]'s rows, or none when some `needles` (span-index.ts
 * valueNeedle: bytes every matching row's record holds) are in neither the
 * page's nor the head's bytes: such a page is checked, not decoded; and of
 * a page decoded, only the rows whose record holds every needle the head
 * lacks (the others cannot match). Null for a block of another format (the caller
 * reads it whole).
 */
export async function readBlockPageRows(
  kv: KvRead,
  tenant: string,
  ref: BlockRef,
  pages: readonly number[],
  pageRows: number,
  needles: readonly Uint8Array[],
  stats: ScanStats,
  c: BlockCacheRef | null = null,
): Promise<SpanRow[][] | null> {
  // Page values are kept in the cache as read (checked by their CRC32C on every decode); only the missing ones are fetched,
  // in one getMany with the block's head when the cache lacks it too.
  const keys = pages.map((p) => pageKey(tenant, ref, p));
  const values: (Uint8Array | undefined)[] = keys.map((k) => (c === null ? undefined : c.cache.get<Uint8Array>(spanBlockCacheKey(c.space, 'g', k))));
  const missing = keys.flatMap((k, i) => (values[i] === undefined ? [i] : []));
  const bk = blockKey(K.block, tenant, ref);
  const headCached = c !== null && c.cache.get(spanBlockCacheKey(c.space, 'h', bk)) !== undefined;
  let fetched: (Uint8Array | undefined)[] = [];
  let opened: SplitBlockHead | null;
  if (headCached || missing.length === 0) opened = await readSplitHead(kv, tenant, ref, stats, c);
  else {
    const got = await kv.getMany([bk, ...missing.map((i) => keys[i] as Uint8Array)]);
    assert(got.length === missing.length + 1, 'getMany answers every key');
    fetched = got.slice(1);
    // The head through the cache as readSplitHead would open it (counted, kept), from the value just got.
    opened = await readSplitHead({ get: () => Promise.resolve(got[0]), getMany: (ks) => kv.getMany(ks), pages: (r, n) => kv.pages(r, n) }, tenant, ref, stats, c);
  }
  if (opened === null) return null;
  if (opened.dir.pageRows !== pageRows) throw corrupt(`span block of ${opened.dir.pageRows}-row pages, its page filters say ${pageRows}`, { tenant, ...ref });
  for (const p of pages) if (p >= opened.pageCount) throw corrupt(`span block page ${p} of ${opened.pageCount}`, { tenant, ...ref });
  if (missing.length > 0) {
    if (headCached) fetched = await kv.getMany(missing.map((i) => keys[i] as Uint8Array));
    assert(fetched.length === missing.length, 'getMany answers every key');
    missing.forEach((i, j) => {
      const b = fetched[j];
      values[i] = b;
      if (b !== undefined && c !== null) c.cache.set(spanBlockCacheKey(c.space, 'g', keys[i] as Uint8Array), b, b.length + BlockCacheLimits.entryOverheadBytes);
    });
  }
  for (const b of values) stats.bytesRead += b?.length ?? 0;
  // A needle neither the head nor a page's bytes hold rules the page out without decoding it (its CRC is still checked).
  const head = Buffer.from(opened.payload.buffer, opened.payload.byteOffset, opened.payload.byteLength);
  const open = needles.filter((n) => head.indexOf(n) < 0);
  const decode = pages.flatMap((p, i) => {
    const b = values[i];
    if (b === undefined || open.length === 0) return [i];
    const page = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    return open.every((n) => page.indexOf(n) >= 0) ? [i] : [];
  });
  const skipped = pages.flatMap((p, i) => (decode.includes(i) ? [] : [i]));
  if (skipped.length > 0) readSplitPageRows(opened, skipped.map((i) => pages[i] as number), skipped.map((i) => values[i]), true);
  // The needles the head lacks rule out rows too: only rows whose record holds them all are decoded.
  const rows = readSplitPageRows(opened, decode.map((i) => pages[i] as number), decode.map((i) => values[i]), false, open);
  const out: SpanRow[][] = pages.map(() => []);
  decode.forEach((i, j) => (out[i] = rows[j] as SpanRow[]));
  return out;
}

/** readBlockView opens a whole span block of any format (format 3: its head and every page, joined), every byte checked. */
export async function readBlockView(kv: KvRead, tenant: string, ref: BlockRef, stats: ScanStats, c: BlockCacheRef | null = null): Promise<SpanBlockView> {
  // The view holds the block's bytes once (format 3: the head and pages joined into one buffer).
  return cachedRead(c, 'v', blockKey(K.block, tenant, ref), stats, 1, async () => {
    const bytes = await readBlockValue(kv, tenant, ref, stats);
    if (!isSplitHead(bytes)) return openSpanBlock(bytes);
    const head = openSplitHead(bytes);
    return joinSplitBlock(head, await readPages(kv, tenant, ref, 0, head.pageCount - 1, stats));
  });
}

/**
 * readBlockTrace decodes the rows of one trace from one block, reading as
 * little as the format allows: format 3 fetches the head and the trace's
 * pages only; format 2 checks and decodes only those pages (LevelDB still
 * returns the whole value); format 1 opens the whole block.
 */
export async function readBlockTrace(
  kv: KvRead,
  tenant: string,
  ref: BlockRef,
  traceId: Uint8Array,
  stats: ScanStats,
  c: BlockCacheRef | null = null,
  pages?: TracePages,
): Promise<SpanRow[]> {
  assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
  if (pages !== undefined) {
    const rows = await readBlockTracePages(kv, tenant, ref, traceId, pages, stats, c);
    if (rows !== null) return rows;
  }
  // Format 3's head is the common case and the one worth keeping (checked and parsed once); formats 1 and 2 read as before.
  const opened = await cachedRead(c, 'h', blockKey(K.block, tenant, ref), stats, 1, async (): Promise<Uint8Array | SplitBlockHead> => {
    const bytes = await readBlockValue(kv, tenant, ref, stats);
    return isSplitHead(bytes) ? openSplitHead(bytes) : bytes;
  });
  if (opened instanceof Uint8Array) return readTraceSpans(opened, traceId).spans;
  const head = opened;
  const at = splitTracePages(head, traceId);
  if (at === null) return [];
  return readSplitTraceSpans(head, traceId, await readPages(kv, tenant, ref, at.first, at.last, stats)).spans;
}

/**
 * readBlockTracePages is readBlockTrace for a trace whose trace-id entry
 * names its pages (trace-keys.ts TraceEntry): when the block's head is not
 * in the cache, the head and those pages come in one getMany (one LevelDB
 * call instead of two). The range must equal the head's trace directory's
 * (ERR_CORRUPTION otherwise). Null for a block of format 1 or 2 (the caller
 * reads it as before).
 */
async function readBlockTracePages(kv: KvRead, tenant: string, ref: BlockRef, traceId: Uint8Array, pages: TracePages, stats: ScanStats, c: BlockCacheRef | null): Promise<SpanRow[] | null> {
  assert(pages.first >= 0 && pages.last >= pages.first, 'a page range');
  const bk = blockKey(K.block, tenant, ref);
  const pageKeys: Uint8Array[] = [];
  for (let p = pages.first; p <= pages.last; p++) pageKeys.push(pageKey(tenant, ref, p));
  let head = c === null ? undefined : c.cache.get<Cached<Uint8Array | SplitBlockHead>>(spanBlockCacheKey(c.space, 'h', bk));
  let values: (Uint8Array | undefined)[];
  if (head !== undefined) {
    if (head.value instanceof Uint8Array) return null;
    stats.bytesRead += head.bytesRead;
    values = await kv.getMany(pageKeys);
  } else {
    const got = await kv.getMany([bk, ...pageKeys]);
    const bytes = got[0];
    if (bytes === undefined) throw corrupt('a span block named by the trace-id index is missing', { tenant, ...ref });
    stats.bytesRead += bytes.length;
    head = { value: isSplitHead(bytes) ? openSplitHead(bytes) : bytes, bytesRead: bytes.length };
    if (c !== null) c.cache.set(spanBlockCacheKey(c.space, 'h', bk), head, bytes.length + BlockCacheLimits.entryOverheadBytes);
    values = got.slice(1);
  }
  assert(values.length === pageKeys.length, 'getMany answers every key');
  const opened = head.value;
  if (opened instanceof Uint8Array) return null;
  for (const b of values) stats.bytesRead += b?.length ?? 0;
  const at = splitTracePages(opened, traceId);
  if (at === null || at.first !== pages.first || at.last !== pages.last) {
    throw corrupt(`the trace-id index names pages ${pages.first}..${pages.last} of a trace its block holds ${at === null ? 'nowhere' : `on ${at.first}..${at.last}`}`, { tenant, ...ref });
  }
  return readSplitTraceSpans(opened, traceId, values).spans;
}

/** blockPageKeys are the page keys a block owns besides its block key (none for formats 1 and 2), from the value under its block key. */
export function blockPageKeys(tenant: string, ref: BlockRef, blockValue: Uint8Array): Uint8Array[] {
  if (!isSplitHead(blockValue)) return [];
  const head: SplitBlockHead = openSplitHead(blockValue);
  const keys: Uint8Array[] = [];
  for (let p = 0; p < head.pageCount; p++) keys.push(pageKey(tenant, ref, p));
  return keys;
}
