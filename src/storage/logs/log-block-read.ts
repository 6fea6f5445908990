/**
 * log-block-read.ts — a log block's read side opened once and kept in the
 * node-wide block cache (traces/block-cache.ts, the same byte-bounded LRU
 * the traces stores share): the term index (postings opened, the bloom
 * decoded) and the block (envelope and page table checked, times decoded).
 * A block's columns are decoded a page at a time for one read only
 * (LogBlockView): the cache keeps what is cheap to keep (the block's bytes,
 * its page table, 8 bytes a row of times), never megabytes of inflated lines
 * and unpacked objects per block, which made the cache cost more than it
 * saved (bench/README.md "## query-logs", s13 and s14).
 *
 * Why: a log query visits every block of its time range that the bloom and
 * the postings admit. Each visit was two or three LevelDB gets (a trip
 * through libuv's thread pool each), a CRC32C over the block, the term
 * dictionary parsed and the time and line columns decoded, on every query:
 * on the bench's 200,000 lines that was most of a keyword query's time
 * while the rows it kept were a handful (bench/README.md "## query-logs").
 * Blocks are immutable once written, so what was opened and checked once
 * serves every later query of the same block.
 *
 * Keys: the cache space of the LogStore's database lineage (a new one at
 * every LogStore.load: a reloaded or replaced database never finds the old
 * entries, which age out) + a kind letter + the block's LevelDB key, which
 * names (tenant, bucket, flushIndex, part): within one lineage it never
 * names two different blocks. Values are immutable and shared.
 *
 * Term entries (a version 3 index, term-entries.ts): a lookup runs over the
 * opened dictionary with the entry chunks at hand (withEntries); the chunks
 * it names and lacks are fetched (the node cache first, then one LevelDB
 * getMany for the rest) and the lookup runs again, until it lacks none. A
 * chunk is cached as an entry of its own (kind letter `e`).
 *
 * Pages: a read's decoded pages are left in the cache only when the read
 * found the block itself there (read before and still cached): a block a
 * read opens on a miss is cached opened, and its pages are decoded for that
 * read alone. A query over the whole hour reads the newest blocks, as every
 * such query does, so from the second one on its pages are cached and
 * served as before; a query over five minutes in the middle of the hour
 * reads blocks no query read lately, and caching their decoded pages
 * (weighed LOG_CACHE_PAGE_FACTOR times their bytes; measured ~13x in heap)
 * pushed the shared entries out and gave the garbage collector a cache of
 * values read once to mark: in one process at 1,000,000 lines that query
 * cost more CPU with the 64 MiB cache than with none (bench/README.md
 * "## query-logs", s18). The block entry is the admission test: a page is
 * cached on the block's second read, while the block is still cached.
 *
 * Accounting: an entry counts what it holds plus
 * BlockCacheLimits.entryOverheadBytes: an index what OpenedIndex.heldBytes
 * says (the stored value it views, offsets, decoded pairs, the dictionary's
 * strings once decoded: re-weighed when a lookup decoded them) and its
 * bloom's bytes; an entry chunk its stored bytes; a block the LevelDB bytes
 * it was opened from times LOG_CACHE_BLOCK_FACTOR.
 */
import { assert } from '../../errors.js';
import { OtlpdbError } from '../../errors.js';
import { soleView } from './sole-view.js';
import { BlockCacheLimits } from '../../limits.js';
import { BlockKind, openBlock } from '../block.js';
import type { KvRead } from '../shard/shard-db.js';
import type { ScanStats } from '../shard/signal-store.js';
import type { SpanBlockCache } from '../traces/block-cache.js';
import type { LogRow } from '../rows.js';
import type { LogColumns, LogTables } from './log-block-decode.js';
import { decodeBlockTables, decodePageColumns, decodePageColumnsAt, logRowsAt, openPageLines } from './log-block-decode.js';
import type { StringColumnView } from '../codec/index.js';
import type { BlockTimes, OpenedLogBlock } from './log-block-open.js';
import { decodeBlockTimes, openLogBlock } from './log-block-open.js';
import type { LogBlockId, LogBlockMeta } from './log-store-format.js';
import { LogKeySpace, blockKey, entryChunkKey } from './log-store-format.js';
import type { TermBloom } from './term-bloom.js';
import { decodeTermBloom } from './term-bloom.js';
import type { EntryChunks } from './term-entries.js';
import type { LogBlockIndex, LogBlockIndexView } from './term-index.js';
import { openLogBlockIndex } from './term-index.js';

/** LOG_CACHE_BLOCK_FACTOR is what an opened block (its bytes, page table and header objects) is taken to weigh per encoded byte; its decoded times are added at their size. */
export const LOG_CACHE_BLOCK_FACTOR = 1.25;
/**
 * LOG_CACHE_PAGE_FACTOR is what a page with every column decoded is taken to
 * weigh per encoded byte (lines inflate 3-4x, the rest is JavaScript
 * objects). NB: an estimate, as the whole-block factor before it was; on
 * the bench's lines a decoded page held 13.3x its encoded bytes of heap
 * (92 KB for 6.9 KB, s18).
 */
export const LOG_CACHE_PAGE_FACTOR = 8;

/** PageCache is where a view finds and leaves a block's decoded pages across reads (the node cache, entries of their own). */
export interface PageCache {
  get(p: number): LogColumns | undefined;
  set(p: number, c: LogColumns): void;
}

/** OpenedLogIndex is a block's term index opened: postings and decoded bloom. */
export interface OpenedLogIndex {
  readonly index: LogBlockIndex;
  readonly bloom: TermBloom;
}

/** OpenedLogBlockPages is what the cache keeps of a block: opened and checked against its meta, with its times decoded. Immutable and shared. */
export interface OpenedLogBlockPages {
  readonly opened: OpenedLogBlock;
  readonly times: BlockTimes;
  /** tables are the block's resources and scopes (null: version 2), decoded with the block. */
  readonly tables: LogTables | null;
}

/**
 * SPARSE_ROWS_SHARE: a page of a view without a page cache (a block read on
 * a miss) whose rows a read builds are at most 1 in SPARSE_ROWS_SHARE of
 * its rows is decoded for those rows alone (decodePageColumnsAt), not whole:
 * a rare word's candidates are one or two rows a page of 256, and a whole
 * page of decoded columns (its rest section unpacked, a bigint a row) made
 * for one row was most of what such a read allocated (bench/README.md
 * "## query-logs", s21).
 */
export const SPARSE_ROWS_SHARE = 4;

/**
 * LogBlockView is one read's view of a block: its columns decoded a page at
 * a time, on the first row of the page asked for, kept for this read (the
 * candidates of the read hold the view; it goes when they do) and, when
 * the read found the block in the node cache, left there as an entry of
 * its own per page (`pageCache`; null on a miss: see "Pages" above), so a
 * later read of the same rows decodes nothing; a page whose line alone was
 * checked is not cached. A line is made only for the row asked for (the
 * page's line column opened: codec/strings.ts StringColumnView). On a view
 * without a page cache, a page whose rows a read builds are few
 * (SPARSE_ROWS_SHARE) is decoded for those rows alone, each time, and not
 * kept. Otherwise at most the block's pages are decoded once each.
 */
export class LogBlockView {
  readonly opened: OpenedLogBlock;
  readonly times: BlockTimes;
  readonly tables: LogTables | null;
  readonly #pages = new Map<number, LogColumns>();
  /** #lines are the line columns of pages whose other columns are not decoded (a line check needs only them). */
  readonly #lines = new Map<number, StringColumnView>();
  /** #sparse are the pages decoded for a few rows only (decodePageColumnsAt), not kept. */
  readonly #sparse = new Set<number>();

  readonly #pageCache: PageCache | null;

  constructor(b: OpenedLogBlockPages, pageCache: PageCache | null = null) {
    this.#pageCache = pageCache;
    this.opened = b.opened;
    this.times = b.times;
    this.tables = b.tables;
  }

  /** pagesDecoded is how many distinct pages this view decoded, whole, for a few rows or their lines only. */
  get pagesDecoded(): number {
    let n = this.#pages.size;
    for (const p of new Set([...this.#lines.keys(), ...this.#sparse])) if (!this.#pages.has(p)) n++;
    return n;
  }

  /** columns are page p's decoded columns (ordinals local to the page). Throws ERR_CORRUPTION. */
  columns(p: number): LogColumns {
    let c = this.#pages.get(p) ?? this.#pageCache?.get(p);
    if (c === undefined) {
      c = decodePageColumns(this.opened, p, this.times, this.#lines.get(p) ?? null, this.tables);
      this.#pageCache?.set(p, c);
    }
    this.#pages.set(p, c);
    this.#lines.delete(p);
    return c;
  }

  /** line is row o's line. */
  line(o: number): string {
    const p = Math.floor(o / this.opened.pageRows);
    const local = o - p * this.opened.pageRows;
    let lines = this.#pages.get(p)?.lines;
    if (lines === undefined && !this.#lines.has(p)) {
      const cached = this.#pageCache?.get(p);
      if (cached !== undefined) this.#pages.set(p, cached);
      lines = cached?.lines;
    }
    if (lines !== undefined) return lines.at(local);
    let col = this.#lines.get(p);
    if (col === undefined) {
      col = openPageLines(this.opened, p);
      this.#lines.set(p, col);
    }
    return col.at(local);
  }

  /** rowsAt builds the rows at `ordinals` (each < rows, increasing), in that order, decoding only their pages. */
  rowsAt(ordinals: readonly number[]): LogRow[] {
    const size = this.opened.pageRows;
    const out: LogRow[] = [];
    for (let k = 0; k < ordinals.length; ) {
      const p = Math.floor((ordinals[k] as number) / size);
      const local: number[] = [];
      for (; k < ordinals.length && Math.floor((ordinals[k] as number) / size) === p; k++) {
        const o = ordinals[k] as number;
        assert(Number.isSafeInteger(o) && o >= 0 && o < this.opened.rows, 'an ordinal names a row of the block');
        assert(local.length === 0 || o - p * size > (local[local.length - 1] as number), 'ordinals increase');
        local.push(o - p * size);
      }
      for (const row of logRowsAt(this.#columnsFor(p, local), local)) out.push(row);
    }
    return out;
  }

  /** #columnsFor is page p's columns holding at least rows `local`: decoded for those rows alone when the view keeps no pages across reads and they are few (SPARSE_ROWS_SHARE), else whole (columns). */
  #columnsFor(p: number, local: readonly number[]): LogColumns {
    const pageRows = (this.opened.pages[p] as { rows: number }).rows;
    if (this.#pageCache !== null || this.tables === null || this.#pages.has(p) || local.length * SPARSE_ROWS_SHARE > pageRows) return this.columns(p);
    this.#sparse.add(p);
    return decodePageColumnsAt(this.opened, p, this.times, this.#lines.get(p) ?? null, this.tables, local);
  }
}

function corrupt(message: string, details?: Record<string, unknown>): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `logs store: ${message}`, details);
}

/** own is a value read from LevelDB as a Uint8Array of its own (sole-view.ts: copied only when it shares a pooled ArrayBuffer). */
function own(v: Uint8Array | undefined): Uint8Array | undefined {
  return v === undefined ? undefined : soleView(v);
}

function cacheKey(space: string, kind: 'i' | 'b' | 'e', key: Uint8Array): string {
  return `${space}${kind}${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')}`;
}

function weigh(encodedBytes: number, factor: number): number {
  return Math.ceil(encodedBytes * factor) + BlockCacheLimits.entryOverheadBytes;
}

/** weighIndex is what an opened index holds (OpenedIndex.heldBytes) with its bloom of `bloomBytes`, as a cache entry. */
function weighIndex(ix: OpenedLogIndex, bloomBytes: number): number {
  return weigh(ix.index.opened.heldBytes() + bloomBytes, 1);
}

/**
 * LogBlockReads opens blocks for one LogStore, through the node's block
 * cache when it has one (null: every read opens anew, as before the cache).
 * Owner: the LogStore; newLineage at each load.
 */
export class LogBlockReads {
  readonly #cache: SpanBlockCache | null;
  #space: string;
  /** #weighed is each cached index's key and accounted bytes (withEntries re-weighs one whose dictionary a lookup decoded). */
  readonly #weighed = new WeakMap<OpenedLogIndex, { key: string; bytes: number; bloomBytes: number; weight: number }>();

  constructor(cache: SpanBlockCache | null) {
    this.#cache = cache;
    this.#space = cache === null ? '' : cache.newSpace();
  }

  /** newLineage forgets every block of the database read so far (it was reloaded or replaced). */
  newLineage(): void {
    if (this.#cache !== null) this.#space = this.#cache.newSpace();
  }

  /** index is a block's opened term index. Fills stats.bytesRead with the encoded bytes either way (cached or read). Throws ERR_CORRUPTION. */
  async index(kv: KvRead, tenant: string, id: LogBlockId, meta: LogBlockMeta, stats: ScanStats): Promise<OpenedLogIndex> {
    const pkey = blockKey(LogKeySpace.postings, tenant, id);
    const ck = this.#cache === null ? null : cacheKey(this.#space, 'i', pkey);
    const hit = ck === null ? undefined : this.#cache?.get<{ value: OpenedLogIndex; bytes: number }>(ck);
    if (hit !== undefined) {
      stats.bytesRead += hit.bytes;
      return hit.value;
    }
    const [postings, bloom] = (await kv.getMany([pkey, blockKey(LogKeySpace.bloom, tenant, id)])).map(own);
    if (postings === undefined) throw corrupt('a block meta without its postings', { tenant, ...id });
    if (bloom === undefined) throw corrupt('a block meta without its bloom', { tenant, ...id });
    const bytes = postings.length + bloom.length;
    stats.bytesRead += bytes;
    const value: OpenedLogIndex = { index: openLogBlockIndex(postings, meta.rows), bloom: decodeTermBloom(openBlock(bloom, BlockKind.bloom)) };
    if (ck !== null) {
      const weight = weighIndex(value, bloom.length);
      this.#cache?.set(ck, { value, bytes }, weight);
      this.#weighed.set(value, { key: ck, bytes, bloomBytes: bloom.length, weight });
    }
    return value;
  }

  /**
   * withEntries is `lookup` run over block `id`'s opened index `ix` with the
   * entry chunks it reads (see the file comment): run, fetch what it lacked,
   * run again. `lookup` must be a function of the index alone (it may run
   * more than once); its last answer is returned. Fills stats.bytesRead
   * with the chunks' stored bytes. Throws ERR_CORRUPTION.
   */
  async withEntries<T>(kv: KvRead, tenant: string, id: LogBlockId, ix: OpenedLogIndex, stats: ScanStats, lookup: (view: LogBlockIndexView) => T): Promise<T> {
    const idx = ix.index.opened;
    if (idx.chunks === 0) return this.#reweighed(ix, lookup(ix.index.view(null)));
    const have = new Map<number, Uint8Array>();
    const wanted = new Set<number>();
    const chunks: EntryChunks = {
      chunk: (c) => {
        const b = have.get(c);
        if (b === undefined) wanted.add(c);
        return b;
      },
      want: (c) => {
        if (!have.has(c)) wanted.add(c);
      },
    };
    const view = ix.index.view(chunks);
    for (let pass = 0; ; pass++) {
      wanted.clear();
      const out = lookup(view);
      if (wanted.size === 0) return this.#reweighed(ix, out);
      assert(pass < idx.chunks, 'each pass fetches a chunk it lacked');
      await this.#fetchChunks(kv, tenant, id, ix, [...wanted].sort((a, b) => a - b), have, stats);
    }
  }

  /** #fetchChunks puts chunks `cs` of block `id` into `have`: from the node cache, the rest with one getMany. */
  async #fetchChunks(kv: KvRead, tenant: string, id: LogBlockId, ix: OpenedLogIndex, cs: readonly number[], have: Map<number, Uint8Array>, stats: ScanStats): Promise<void> {
    const idx = ix.index.opened;
    const base = this.#weighed.get(ix)?.key ?? null;
    const missing: number[] = [];
    for (const c of cs) {
      const hit = base === null ? undefined : this.#cache?.get<{ value: Uint8Array; bytes: number }>(`${base}e${c}`);
      if (hit === undefined) {
        missing.push(c);
        continue;
      }
      stats.bytesRead += hit.bytes;
      have.set(c, hit.value);
    }
    if (missing.length === 0) return;
    const got = (await kv.getMany(missing.map((c) => entryChunkKey(tenant, id, c)))).map(own);
    missing.forEach((c, k) => {
      const sealed = got[k];
      if (sealed === undefined) throw corrupt(`a block index without its entry chunk ${c}`, { tenant, ...id });
      stats.bytesRead += sealed.length;
      const value = idx.openChunk(c, sealed);
      have.set(c, value);
      if (base !== null) this.#cache?.set(`${base}e${c}`, { value, bytes: sealed.length }, weigh(sealed.length, 1));
    });
  }

  /** #reweighed is `out`, after re-weighing `ix` in the cache when a lookup made it hold more (its dictionary decoded whole). */
  #reweighed<T>(ix: OpenedLogIndex, out: T): T {
    const w = this.#weighed.get(ix);
    if (w === undefined) return out;
    const weight = weighIndex(ix, w.bloomBytes);
    if (weight > w.weight) {
      this.#cache?.set(w.key, { value: ix, bytes: w.bytes }, weight);
      this.#weighed.set(ix, { ...w, weight });
    }
    return out;
  }

  /** block is a block opened, checked against its meta, with its times: a view for one read. Throws ERR_CORRUPTION. */
  async block(kv: KvRead, tenant: string, id: LogBlockId, meta: LogBlockMeta, stats: ScanStats): Promise<LogBlockView> {
    const bkey = blockKey(LogKeySpace.block, tenant, id);
    const ck = this.#cache === null ? null : cacheKey(this.#space, 'b', bkey);
    const hit = ck === null ? undefined : this.#cache?.get<{ value: OpenedLogBlockPages; bytes: number }>(ck);
    if (hit !== undefined) {
      stats.bytesRead += hit.bytes;
      return new LogBlockView(hit.value, this.pageCacheOf(ck as string, hit.value.opened));
    }
    const block = own(await kv.get(bkey));
    if (block === undefined) throw corrupt('a block meta without its block', { tenant, ...id });
    stats.bytesRead += block.length;
    const opened = openLogBlock(block);
    if (opened.tenant !== tenant || opened.rows !== meta.rows || opened.minTimeNs !== meta.minTimeNs || opened.maxTimeNs !== meta.maxTimeNs) {
      throw corrupt('a block disagrees with its meta', { tenant, ...id });
    }
    const value: OpenedLogBlockPages = { opened, times: decodeBlockTimes(opened), tables: decodeBlockTables(opened) };
    assert(value.times.length === meta.rows, 'one time a row');
    if (ck !== null) this.#cache?.set(ck, { value, bytes: block.length }, weigh(block.length, LOG_CACHE_BLOCK_FACTOR) + value.times.bytes);
    // A block opened on a miss leaves its opened entry, not its decoded pages: see "Pages" in the file comment.
    return new LogBlockView(value, ck === null ? null : this.pagesOnMiss(ck, opened));
  }

  /**
   * pagesOnMiss is the page cache of a read that opened the block cached
   * under `ck` on a miss: none (see "Pages" in the file comment). Protected
   * so a test can plant the caching of every read's pages and show its
   * check fails.
   */
  protected pagesOnMiss(_ck: string, _opened: OpenedLogBlock): PageCache | null {
    return null;
  }

  /** pageCacheOf is the page cache of the block cached under `ck`: page p under `ck` + "p" + p, weighed by its encoded bytes. */
  protected pageCacheOf(ck: string, opened: OpenedLogBlock): PageCache | null {
    const cache = this.#cache;
    if (cache === null) return null;
    return {
      get: (p) => cache.get<LogColumns>(`${ck}p${p}`),
      set: (p, c) => {
        const b = opened.pages[p]?.bounds ?? [];
        const encoded = b.reduce((n, x) => n + (x[1] - x[0]), 0);
        cache.set(`${ck}p${p}`, c, weigh(encoded, LOG_CACHE_PAGE_FACTOR));
      },
    };
  }
}
