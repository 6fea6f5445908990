/**
 * log-block-read.ts — a log block's read side opened once and kept in the
 * node-wide block cache (traces/block-cache.ts, the same byte-bounded LRU
 * the traces stores share): the term index (postings opened, the bloom
 * decoded) and the block (envelope checked, time and line columns decoded).
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
 * Accounting: an entry counts the LevelDB bytes it was opened from times
 * LOG_CACHE_OVERHEAD_FACTOR for an index, LOG_CACHE_BLOCK_FACTOR for a
 * block, plus BlockCacheLimits.entryOverheadBytes.
 */
import { assert } from '../../errors.js';
import { OtlpdbError } from '../../errors.js';
import { BlockCacheLimits } from '../../limits.js';
import { BlockKind, openBlock } from '../block.js';
import type { KvRead } from '../shard/shard-db.js';
import type { ScanStats } from '../shard/signal-store.js';
import type { SpanBlockCache } from '../traces/block-cache.js';
import type { LogColumns, OpenedLogBlock } from './log-block-decode.js';
import { decodeLogColumns, openLogBlock } from './log-block-decode.js';
import type { LogBlockId, LogBlockMeta } from './log-store-format.js';
import { LogKeySpace, blockKey } from './log-store-format.js';
import type { TermBloom } from './term-bloom.js';
import { decodeTermBloom } from './term-bloom.js';
import type { LogBlockIndex } from './term-index.js';
import { openLogBlockIndex } from './term-index.js';

/** LOG_CACHE_OVERHEAD_FACTOR is what an opened log index is taken to weigh, per encoded byte, in the block cache. */
export const LOG_CACHE_OVERHEAD_FACTOR = 3;
/**
 * LOG_CACHE_BLOCK_FACTOR is what a block with every column decoded is taken
 * to weigh per encoded byte: its lines inflate about 3-4x from the deflated
 * column, and the unpacked rest section is JavaScript objects.
 * NB: an estimate, not measured per block; the cache's byte bound holds
 * only as well as it does.
 */
export const LOG_CACHE_BLOCK_FACTOR = 8;

/** OpenedLogIndex is a block's term index opened: postings and decoded bloom. */
export interface OpenedLogIndex {
  readonly index: LogBlockIndex;
  readonly bloom: TermBloom;
}

/** OpenedLogBlockColumns is a block opened and checked, with every column decoded (rows are built from them one by one, log-block.ts logRowsAt). */
export interface OpenedLogBlockColumns {
  readonly opened: OpenedLogBlock;
  readonly columns: LogColumns;
  readonly timesNs: readonly bigint[];
  readonly lines: readonly string[];
}

function corrupt(message: string, details?: Record<string, unknown>): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `logs store: ${message}`, details);
}

function own(v: Uint8Array | undefined): Uint8Array | undefined {
  return v === undefined ? undefined : new Uint8Array(v);
}

function cacheKey(space: string, kind: 'i' | 'b', key: Uint8Array): string {
  return `${space}${kind}${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')}`;
}

function weigh(encodedBytes: number, factor: number): number {
  return encodedBytes * factor + BlockCacheLimits.entryOverheadBytes;
}

/**
 * LogBlockReads opens blocks for one LogStore, through the node's block
 * cache when it has one (null: every read opens anew, as before the cache).
 * Owner: the LogStore; newLineage at each load.
 */
export class LogBlockReads {
  readonly #cache: SpanBlockCache | null;
  #space: string;

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
    if (ck !== null) this.#cache?.set(ck, { value, bytes }, weigh(bytes, LOG_CACHE_OVERHEAD_FACTOR));
    return value;
  }

  /** block is a block opened, checked against its meta, with its time and line columns. Throws ERR_CORRUPTION. */
  async block(kv: KvRead, tenant: string, id: LogBlockId, meta: LogBlockMeta, stats: ScanStats): Promise<OpenedLogBlockColumns> {
    const bkey = blockKey(LogKeySpace.block, tenant, id);
    const ck = this.#cache === null ? null : cacheKey(this.#space, 'b', bkey);
    const hit = ck === null ? undefined : this.#cache?.get<{ value: OpenedLogBlockColumns; bytes: number }>(ck);
    if (hit !== undefined) {
      stats.bytesRead += hit.bytes;
      return hit.value;
    }
    const block = own(await kv.get(bkey));
    if (block === undefined) throw corrupt('a block meta without its block', { tenant, ...id });
    stats.bytesRead += block.length;
    const opened = openLogBlock(block);
    if (opened.tenant !== tenant || opened.rows !== meta.rows || opened.minTimeNs !== meta.minTimeNs || opened.maxTimeNs !== meta.maxTimeNs) {
      throw corrupt('a block disagrees with its meta', { tenant, ...id });
    }
    const columns = decodeLogColumns(opened, null);
    const value: OpenedLogBlockColumns = { opened, columns, timesNs: columns.timesNs, lines: columns.lines };
    assert(value.timesNs.length === meta.rows && value.lines.length === meta.rows, 'one time and one line a row');
    if (ck !== null) this.#cache?.set(ck, { value, bytes: block.length }, weigh(block.length, LOG_CACHE_BLOCK_FACTOR));
    return value;
  }
}
