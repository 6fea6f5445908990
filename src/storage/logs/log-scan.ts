/**
 * log-scan.ts — one shard-local log read (the logs store's queryLogs and
 * selectLogs, log-store.ts): the query's shape (LogScanQuery), what the
 * heads show it (HeadView), the candidates it collects and how they are
 * ordered and turned into hits (materialize), and how one block is scanned
 * (scanLogBlock: meta time range, bloom, postings, then the block).
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogStoreLimits } from '../../limits.js';
import type { LogRow } from '../rows.js';
import type { KvRead } from '../shard/shard-db.js';
import type { ScanStats } from '../shard/signal-store.js';
import { intersect } from '../codec/index.js';
import { soleView } from './sole-view.js';
import { decodeLogBlock } from './log-block-decode.js';
import type { LogBlockReads, LogBlockView } from './log-block-read.js';
import type { LineHintPlan } from './log-hints.js';
import { bloomAlternatives, lineAdmits } from './log-hints.js';
import { hintCandidates } from './log-hint-rows.js';
import type { LogBlockId, LogBlockMeta } from './log-store-format.js';
import { LogKeySpace, blockKey, bucketKey, decodeBlockMeta, parseBlockKey } from './log-store-format.js';
import type { BlockSearchPrune, LogQuery, NormalizedLogQuery, StreamMatcher } from './term-index.js';

/** LogScanQuery is one shard-local log query (see the file comment for ordering and ranges). */
export interface LogScanQuery {
  /** startNs and endNs bound the record time, both inclusive. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly streamMatchers?: readonly StreamMatcher[];
  readonly terms?: readonly string[];
  readonly phrases?: readonly (readonly string[])[];
  readonly direction: 'forward' | 'backward';
  /** limit is the most hits returned, 1..LogStoreLimits.queryRowsMax (selectLogs: 1..selectRowsMax). */
  readonly limit: number;
  /** rowFilter, when given, must also hold for a hit (regex stream matchers); it runs before the limit is counted. */
  readonly rowFilter?: (row: LogRow) => boolean;
  /** hints prune blocks that cannot hold a line the query keeps (log-hints.ts), and rows whose line no case-sensitive alternative admits (lineAdmits). */
  readonly hints?: LineHintPlan | null;
  /** search, when given, prunes blocks by a boolean search's bloom and postings tests (term-index.ts BlockSearchPrune); rows are still checked by rowFilter. */
  readonly search?: BlockSearchPrune | null;
  /**
   * firstChunkRows, when given, is the first chunk of candidates a bucket
   * builds (then doubling; DECODE_CHUNK_ROWS_MIN when absent, at most
   * that): a consumer that reads every hit (limit past what it needs) but
   * stops after about this many builds about this many. Work only, never
   * the answer.
   */
  readonly firstChunkRows?: number;
}

/** LogHit is one record a query found, with its time. */
export interface LogHit {
  readonly row: LogRow;
  readonly timeNs: bigint;
}

/**
 * HeadView is one part of the in-memory state a read sees: the first `count`
 * records of a tenant in the head or the frozen head, in apply order.
 */
export interface HeadView {
  readonly rows: readonly LogRow[];
  readonly count: number;
  /** rank orders equal times after every block: FROZEN_RANK before HEAD_RANK. */
  readonly rank: number;
  /** flushIndex is the flush writing these rows (a read skips that flush's blocks), or null. */
  flushIndex(): number | null;
}

/** HEAD_RANK and FROZEN_RANK stand in for a flushIndex in the order of equal times. */
export const HEAD_RANK = Number.MAX_SAFE_INTEGER;
export const FROZEN_RANK = Number.MAX_SAFE_INTEGER - 1;

/**
 * Candidate is a row a query may return: a head or unindexed block row
 * (row set, filters passed), or an indexed block's row not decoded yet (row
 * null, `src` its block's view; the row filter, and the line hints when
 * `lineHints` is set, are still to run).
 */
export interface Candidate {
  readonly row: LogRow | null;
  readonly src: LogBlockView | null;
  /** lineHints, when set, must admit the candidate's line (log-hints.ts lineAdmits) before its row is built. */
  readonly lineHints?: LineHintPlan | null;
  readonly timeNs: bigint;
  readonly flushIndex: number;
  readonly part: number;
  readonly ordinal: number;
}

/** DECODE_CHUNK_ROWS_MIN is the first chunk of candidates a bucket decodes; each next chunk doubles (a limit-100 query decodes one chunk, a full read O(log n) chunks). */
export const DECODE_CHUNK_ROWS_MIN = 256;

/** materialize builds the candidates without a row (from their block's pages, LogBlockView.rowsAt) and keeps those their line hints and the row filter admit, in order. */
export function materialize(cs: readonly Candidate[], rowFilter: ((row: LogRow) => boolean) | undefined): LogHit[] {
  const rows: (LogRow | null)[] = cs.map((c) => c.row);
  const bySrc = new Map<LogBlockView, number[]>();
  cs.forEach((c, i) => {
    if (c.row !== null) return;
    assert(c.src !== null, 'an undecoded candidate names its block');
    const hints = c.lineHints ?? null;
    if (hints !== null && !lineAdmits(hints, c.src.line(c.ordinal))) return;
    const list = bySrc.get(c.src);
    if (list === undefined) bySrc.set(c.src, [i]);
    else list.push(i);
  });
  const decoded = new Set<number>();
  for (const [src, at] of bySrc) {
    at.sort((a, b) => (cs[a] as Candidate).ordinal - (cs[b] as Candidate).ordinal);
    const got = src.rowsAt(at.map((i) => (cs[i] as Candidate).ordinal));
    at.forEach((i, k) => {
      rows[i] = got[k] as LogRow;
      decoded.add(i);
    });
  }
  const out: LogHit[] = [];
  for (let i = 0; i < cs.length; i++) {
    const row = rows[i];
    if (row === null || row === undefined) continue; // its line hints ruled it out
    if (decoded.has(i) && rowFilter !== undefined && !rowFilter(row)) continue;
    out.push({ row, timeNs: (cs[i] as Candidate).timeNs });
  }
  return out;
}

/** compareCandidates orders candidates as the file comment of log-store.ts says: time, then flushIndex, part, ordinal. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  if (a.timeNs !== b.timeNs) return a.timeNs < b.timeNs ? -1 : 1;
  return a.flushIndex - b.flushIndex || a.part - b.part || a.ordinal - b.ordinal;
}
function corrupt(message: string, details?: Record<string, unknown>): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `logs store: ${message}`, details);
}

/** BlockScanContext is what scanLogBlock needs of its store: the read's LevelDB and tenant, the store's block reads, and its row check of unindexed blocks. */
export interface BlockScanContext {
  readonly kv: KvRead;
  readonly tenant: string;
  readonly reads: LogBlockReads;
  readonly unindexedRowMatches: (row: LogRow, nq: NormalizedLogQuery, minTimeNs: bigint, maxTimeNs: bigint) => boolean;
}

/**
 * scanLogBlock answers the query over one block with queryLogBlock's steps
 * and semantics, in the order that reads least: the meta's time range (no
 * read), the bloom (only when the query names terms), the postings
 * (queryLogIndex), and only then the block: time row by row when the block
 * straddles the range, then the matching rows, at most `keep` from the
 * direction's end, their lines checked here. With a row filter, or a `keep`
 * past DECODE_CHUNK_ROWS_MIN (a read of every hit whose consumer stops when
 * it has enough), every candidate in the range is returned with its line
 * check left to materialize, which runs it on the chunks it builds.
 */
export async function scanLogBlock(
  c: BlockScanContext,
  id: LogBlockId,
  meta: LogBlockMeta,
  q: LogQuery,
  nq: NormalizedLogQuery,
  stats: ScanStats,
  keep: number,
  backward: boolean,
  scan: Pick<LogScanQuery, 'rowFilter' | 'hints' | 'search'>,
): Promise<Candidate[]> {
  const { kv, tenant, reads } = c;
  if (meta.maxTimeNs < (q.minTimeNs as bigint) || meta.minTimeNs > (q.maxTimeNs as bigint)) {
    stats.blocksPrunedTime++;
    return [];
  }
  if (meta.unindexed === true) return scanUnindexedBlock(c, id, meta, q, nq, stats, keep, backward, scan.rowFilter);
  let cand = await indexedCandidates(c, id, meta, nq, stats, scan);
  if (cand === null) return [];
  const bv = await reads.block(kv, tenant, id, meta, stats);
  stats.blocksScanned++;
  const opened = bv.opened;
  const lo = q.minTimeNs as bigint;
  const hi = q.maxTimeNs as bigint;
  // Times first: they are decoded with the block (cheap, cached); a page is decoded only for a line or a row.
  if (opened.minTimeNs < lo || opened.maxTimeNs > hi) {
    const inRange = bv.times.inRange(lo, hi);
    cand = cand.filter(inRange);
    if (cand.length === 0) return [];
  }
  const lineHints = scan.hints ?? null;
  const made = (o: number, hints: LineHintPlan | null): Candidate => ({ row: null, src: bv, lineHints: hints, timeNs: bv.times.at(o), flushIndex: id.flushIndex, part: id.part, ordinal: o });
  if (scan.rowFilter !== undefined || keep > DECODE_CHUNK_ROWS_MIN) {
    // Every candidate may be a hit (a row filter, or a read of every hit whose consumer stops when it likes): the
    // line hints run when (and if) materialize reaches the candidate, a chunk at a time from the direction's end,
    // not over every candidate of the block here (s18: a five-minute range decoded every page it held a candidate in).
    return Array.from(cand, (o) => made(o, lineHints));
  }
  // Without a row filter only the `keep` candidates at the direction's end whose lines the hints admit
  // (log-hints.ts lineAdmits: exact) can be hits: walk from that end, so only their pages are decoded.
  const kept: number[] = [];
  for (let k = 0; k < cand.length && kept.length < keep; k++) {
    const o = cand[backward ? cand.length - 1 - k : k] as number;
    if (lineHints === null || lineAdmits(lineHints, bv.line(o))) kept.push(o);
  }
  if (backward) kept.reverse();
  return kept.map((o) => made(o, null));
}

/**
 * indexedCandidates is the index side of scanLogBlock over an indexed block
 * (LogBlockMeta.unindexed not set) whose meta overlaps the query's time: the
 * bloom (only when the query names terms or exact hint terms), the postings
 * (terms, phrases, stream matchers), a search's candidates and the hint
 * candidate rows (log-hint-rows.ts), without reading the block. Null when
 * they prune it (stats.blocksPrunedBloom or blocksPrunedIndex counted);
 * else a superset of its matching rows, increasing, not yet cut by time.
 * Shared by reads (scanLogBlock) and counts (log-count.ts), so both prune
 * alike. Throws ERR_CORRUPTION.
 */
export async function indexedCandidates(
  c: Pick<BlockScanContext, 'kv' | 'tenant' | 'reads'>,
  id: LogBlockId,
  meta: LogBlockMeta,
  nq: NormalizedLogQuery,
  stats: ScanStats,
  scan: Pick<LogScanQuery, 'hints' | 'search'>,
): Promise<Uint32Array | null> {
  assert(meta.unindexed !== true, 'an indexed block');
  // Hints prune only a block whose every line was tokenized whole (log-hints.ts).
  const hints = scan.hints !== undefined && scan.hints !== null && meta.truncatedRows === 0 ? scan.hints : null;
  const hintExact = hints !== null && hints.alternatives.every((a) => a.exact.length > 0);
  const search = scan.search ?? null;
  const ix = await c.reads.index(c.kv, c.tenant, id, meta, stats);
  if (nq.terms.length > 0 || nq.phrases.length > 0 || hintExact || search !== null) {
    const has = (t: string): boolean => ix.bloom.has(t);
    const wanted = [...nq.terms, ...nq.phrases.flat()];
    if (!wanted.every(has) || (hints !== null && hintExact && !bloomAlternatives(hints, has)) || (search !== null && !search.bloomMay(has))) {
      stats.blocksPrunedBloom++;
      return null;
    }
  }
  // A lookup of the index alone (it may run again once the entry chunks it named are fetched: log-block-read.ts withEntries).
  const cand = await c.reads.withEntries(c.kv, c.tenant, id, ix, stats, (view) => {
    // The rows whose terms may hold a hint's literals (log-hint-rows.ts: exact terms, and the terms holding each piece),
    // before the stream matchers: an empty answer prunes the block as termsAdmit did, the pages of the other rows are
    // never decoded, and the matchers test these few rows instead of decoding a common stream's whole list (s22: 6.5%
    // of keyword + 5 min's CPU). The terms' entry chunks and the hint's are asked for in the same pass.
    let rows = view.candidates(nq, hints === null ? null : () => hintCandidates(hints, view.reader));
    if (search !== null && rows.length > 0) rows = intersect(rows, search.candidates(view.reader));
    return rows;
  });
  if (cand.length === 0) {
    stats.blocksPrunedIndex++;
    return null;
  }
  return cand;
}

/**
 * scanUnindexedBlock answers the query over a block written without its
 * term index (LogBlockMeta.unindexed): it decodes the block and keeps the
 * rows the head's reference filter admits (logRowMatches: time, stream
 * matchers, terms, phrases), then the row filter, at most `keep` from the
 * direction's end, in block order, as scanLogBlock does.
 */
async function scanUnindexedBlock(
  c: BlockScanContext,
  id: LogBlockId,
  meta: LogBlockMeta,
  q: LogQuery,
  nq: NormalizedLogQuery,
  stats: ScanStats,
  keep: number,
  backward: boolean,
  filter: LogScanQuery['rowFilter'],
): Promise<Candidate[]> {
  const { kv, tenant } = c;
  const block = own(await kv.get(blockKey(LogKeySpace.block, tenant, id)));
  if (block === undefined) throw corrupt('a block meta without its block', { tenant, ...id });
  stats.bytesRead += block.length;
  stats.blocksScanned++;
  const rows = decodeLogBlock(block);
  if (rows.length !== meta.rows) throw corrupt('a block disagrees with its meta', { tenant, ...id });
  const lo = q.minTimeNs as bigint;
  const hi = q.maxTimeNs as bigint;
  const out: Candidate[] = [];
  for (let k = 0; k < rows.length && out.length < keep; k++) {
    const o = backward ? rows.length - 1 - k : k;
    const row = rows[o] as LogRow;
    if (!c.unindexedRowMatches(row, nq, lo, hi)) continue;
    if (filter !== undefined && !filter(row)) continue;
    out.push({ row, src: null, timeNs: row.timeUnixNano, flushIndex: id.flushIndex, part: id.part, ordinal: o });
  }
  if (backward) out.reverse();
  return out;
}

/** own is a value read from LevelDB as a Uint8Array of its own (sole-view.ts: copied only when it shares a pooled ArrayBuffer). */
function own(v: Uint8Array | undefined): Uint8Array | undefined {
  return v === undefined ? undefined : soleView(v);
}


/** blockMetaGroups yields the block metas of `tenant` in buckets [b0, b1], grouped by bucket, in direction order (`reverse`: newest bucket first). */
export async function* blockMetaGroups(
  kv: KvRead,
  tenant: string,
  b0: number,
  b1: number,
  reverse: boolean,
  stats: ScanStats,
): AsyncGenerator<{ bucket: number; blocks: { id: LogBlockId; meta: LogBlockMeta }[] }> {
  let group: { bucket: number; blocks: { id: LogBlockId; meta: LogBlockMeta }[] } | null = null;
  const range = { gte: bucketKey(LogKeySpace.meta, tenant, b0), lt: bucketKey(LogKeySpace.meta, tenant, b1 + 1), reverse };
  for await (const page of kv.pages(range, LogStoreLimits.scanPageEntries)) {
    for (const e of page) {
      const id = parseBlockKey(e.key, tenant);
      stats.bytesRead += e.value.length;
      const meta = decodeBlockMeta(e.value);
      if (group !== null && group.bucket !== id.bucket) {
        yield group;
        group = null;
      }
      group ??= { bucket: id.bucket, blocks: [] };
      group.blocks.push({ id, meta });
    }
  }
  if (group !== null) yield group;
}
