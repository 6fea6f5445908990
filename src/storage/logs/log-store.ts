/**
 * log-store.ts — the logs store of one shard replica (SignalStore<LogRow>,
 * shard/signal-store.ts): an in-memory head of applied log records, the
 * blocks and indexes a flush writes (key layout in log-store-format.ts), the
 * retention pass, and the shard-local reads the LogQL engine uses.
 *
 * Ownership: the shard state machine drives the life cycle (load, add,
 * freeze, writeFrozen, dropFrozen, expire) and owns the LevelDB; reads get a
 * KvRead and may run between those calls (they are async generators).
 *
 * Invariants:
 * - The head and the frozen head keep each tenant's records in apply order;
 *   nothing is deduplicated (identical records are distinct records; retries
 *   are dropped upstream by idempotency keys).
 * - At most one frozen head exists. writeFrozen stamps it with the flush's
 *   flushIndex; a read that captured a head or frozen head skips the blocks
 *   of that flushIndex, so a record is never seen twice while the batch is
 *   being written and before dropFrozen.
 * - Inside a block, rows are sorted by time, ties kept in apply order; the
 *   parts of one (tenant, bucket, flush) follow each other in that order; a
 *   higher flushIndex was applied later. So (timeNs, flushIndex, part,
 *   ordinal) is the apply order among equal times, and the head and frozen
 *   head rank after every block (frozen before head).
 * - #stats is what the 0x3f keys hold once the last batch this store filled
 *   is written: writeFrozen stages the new counts, dropFrozen makes them
 *   current; expire updates them at once (NB: it assumes its batch is
 *   written, as the state machine does right after).
 *
 * Head accounting (headBytes) is documented in log-head.ts.
 *
 * NB: a read scans block metas from one LevelDB snapshot but gets blooms,
 * postings and blocks with point reads (KvRead has no snapshot handle), so a
 * retention pass that deletes a bucket while a read is inside it makes the
 * read fail with ERR_CORRUPTION ("a block meta without its block") rather
 * than skip the bucket.
 * NB: expire learns the bytes it frees from the values it pages over (KvRead
 * has no keys-only scan), so it reads the blocks it deletes.
 * NB: a read keeps every head match of its range in memory (the head is in
 * apply order, not time order); the head's size bounds that, not `limit`.
 *
 * Reads (ordering guarantee): queryLogs yields hits in time order, ties in
 * apply order; 'backward' is exactly the reverse of 'forward'; the first
 * `limit` hits of that order and no others. Memory per query is bounded by
 * the head's matches plus, per bucket, limit hits per block. Time ranges are
 * inclusive at both ends. The label reads (labelNames, labelValues, series)
 * answer at bucket granularity (log-labels.ts).
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogStoreLimits, StoreLimits } from '../../limits.js';
import type { LogRow } from '../rows.js';
import type { KvRead } from '../shard/shard-db.js';
import type {
  AddResult,
  ExpireReport,
  FlushContext,
  FlushReport,
  RetentionCutoffs,
  ScanStats,
  SignalStats,
  SignalStore,
} from '../shard/signal-store.js';
import { LogBlockReads } from './log-block-read.js';
import type { SpanBlockCache } from '../traces/block-cache.js';
import type { StreamLabel } from './log-line.js';
import { attributesBytes, logRowBytes, logRowMatches } from './log-head.js';
import { readIndexStats, readLabelNames, readLabelValues, readSeries } from './log-labels.js';
import type { IndexStats } from './log-labels.js';
import type { LogBlockId, LogBlockMeta, LogTenantStats, LogTimeRange } from './log-store-format.js';
import {
  LOG_BLOCK_SPACES,
  LogKeySpace,
  bucketKey,
  bucketOf,
  checkTimeRange,
  decodeBlockMeta,
  decodeTenantStats,
  encodeTenantStats,
  parseKeyBucket,
  parseStatsTenant,
  tenantPrefix,
} from './log-store-format.js';
import type { LogQuery, NormalizedLogQuery, StreamMatcher } from './term-index.js';
import { normalizeLogQuery } from './term-index.js';
import type { BlockScanContext, Candidate, HeadView, LogHit, LogScanQuery } from './log-scan.js';
import { DECODE_CHUNK_ROWS_MIN, FROZEN_RANK, HEAD_RANK, blockMetaGroups, compareCandidates, materialize, scanLogBlock } from './log-scan.js';
import { ZERO_STATS, addStats, writeTenantFlush } from './log-flush-write.js';
import type { LogCountContext, LogCountQuery, LogCountSink } from './log-count.js';
import { countLogRows } from './log-count.js';
import { lineAdmits } from './log-hints.js';
import { logLine } from './log-line.js';


const U64_MAX = (1n << 64n) - 1n;

/** Head is a head or frozen head: each tenant's records in apply order. */
class Head {
  readonly byTenant = new Map<string, LogRow[]>();
  rows = 0;
  bytes = 0;
  /** flushIndex is set by writeFrozen on the frozen head. */
  flushIndex: number | null = null;
}


function corrupt(message: string, details?: Record<string, unknown>): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `logs store: ${message}`, details);
}


/**
 * LogStoreOptions configure a LogStore.
 */
export interface LogStoreOptions {
  /**
   * termIndex (default true) says whether a flush writes each block's term
   * index (postings and bloom). false exists for one purpose: the ingest
   * baseline of bench/query-logs (what the index costs a flush). Blocks
   * written without it are marked in their meta (LogBlockMeta.unindexed)
   * and answered by checking every row, so queries stay correct, only
   * slower.
   */
  readonly termIndex?: boolean;
  /** cache is the node's block cache (log-block-read.ts; shared with the traces stores), or null to open every block anew. */
  readonly cache?: SpanBlockCache | null;
}


/** cmpNs orders two nanosecond times. */
function cmpNs(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** LogStore is the logs store of one shard replica (see the file comment). */
export class LogStore implements SignalStore<LogRow> {
  readonly signal = 'logs' as const;
  #head = new Head();
  #frozen: Head | null = null;
  /** #stats are the per-tenant counts the 0x3f keys hold (see the invariants). */
  #stats = new Map<string, LogTenantStats>();
  /** #staged are the counts writeFrozen put into the flush's batch, current at dropFrozen. */
  #staged: Map<string, LogTenantStats> | null = null;
  /** #termIndex is LogStoreOptions.termIndex: false writes blocks without postings and bloom. */
  readonly #termIndex: boolean;

  /** #reads opens blocks for queries, through the node's block cache (a new lineage at each load). */
  readonly #reads: LogBlockReads;

  constructor(options: LogStoreOptions = {}) {
    this.#termIndex = options.termIndex ?? true;
    this.#reads = new LogBlockReads(options.cache ?? null);
  }

  // ------------------------------------------------------------ life cycle

  async load(kv: KvRead): Promise<void> {
    assert(this.#frozen === null, 'load runs with no frozen head');
    const stats = new Map<string, LogTenantStats>();
    const gte = new Uint8Array([LogKeySpace.stats]);
    const lt = new Uint8Array([LogKeySpace.stats + 1]);
    for await (const page of kv.pages({ gte, lt }, LogStoreLimits.scanPageEntries)) {
      for (const e of page) stats.set(parseStatsTenant(e.key), decodeTenantStats(e.value));
    }
    this.#stats = stats;
    this.#staged = null;
    this.#head = new Head();
    this.#reads.newLineage();
  }

  add(tenant: string, rows: readonly LogRow[], entryTimeMs: number): AddResult {
    assert(tenant.length > 0, 'a tenant is named');
    assert(Number.isFinite(entryTimeMs), 'entry time is a number');
    let list = this.#head.byTenant.get(tenant);
    if (list === undefined) {
      list = [];
      this.#head.byTenant.set(tenant, list);
    }
    const shared = new Set<object>();
    let bytes = 0;
    for (const row of rows) {
      assert(row.tenant === tenant, 'a row is of the entry tenant');
      assert(row.timeUnixNano >= 0n && row.timeUnixNano <= U64_MAX, 'a log time is u64');
      list.push(row);
      bytes += logRowBytes(row);
      // Two explicit checks, not a loop over [resource, scope]: no array per row on the apply path.
      if (!shared.has(row.resource)) {
        shared.add(row.resource);
        bytes += LogStoreLimits.headRowOverheadBytes + attributesBytes(row.resource.attributes);
      }
      if (!shared.has(row.scope)) {
        shared.add(row.scope);
        bytes += LogStoreLimits.headRowOverheadBytes + attributesBytes(row.scope.attributes);
      }
    }
    this.#head.rows += rows.length;
    this.#head.bytes += bytes;
    return { accepted: rows.length, refused: 0, refusals: [] };
  }

  headBytes(): number {
    return this.#head.bytes + (this.#frozen?.bytes ?? 0);
  }

  headRows(): number {
    return this.#head.rows;
  }

  freeze(): void {
    assert(this.#frozen === null, 'at most one frozen head');
    this.#frozen = this.#head;
    this.#head = new Head();
  }

  async writeFrozen(ctx: FlushContext): Promise<FlushReport> {
    const frozen = this.#frozen;
    assert(frozen !== null, 'writeFrozen needs a frozen head');
    assert(frozen.flushIndex === null, 'a frozen head is written once');
    assert(Number.isSafeInteger(ctx.flushIndex) && ctx.flushIndex >= 0 && ctx.flushIndex < FROZEN_RANK, 'flushIndex ranks before the heads');
    frozen.flushIndex = ctx.flushIndex;
    const staged = new Map(this.#stats);
    let blocks = 0;
    let dataBytes = 0;
    let indexBytes = 0;
    for (const tenant of [...frozen.byTenant.keys()].sort()) {
      const rows = frozen.byTenant.get(tenant) as LogRow[];
      if (rows.length === 0) continue;
      const written = await writeTenantFlush(ctx.batch, tenant, rows, ctx.flushIndex, this.#termIndex, ctx.pace);
      blocks += written.blocks;
      const tData = written.dataBytes;
      const tIndex = written.indexBytes;
      const next = addStats(staged.get(tenant) ?? ZERO_STATS, { records: rows.length, dataBytes: tData, indexBytes: tIndex });
      staged.set(tenant, next);
      ctx.batch.put(tenantPrefix(LogKeySpace.stats, tenant), encodeTenantStats(next));
      dataBytes += tData;
      indexBytes += tIndex;
    }
    this.#staged = staged;
    assert(dataBytes >= 0 && indexBytes >= 0, 'flush bytes are counts');
    return { rows: frozen.rows, blocks, dataBytes, indexBytes };
  }

  dropFrozen(): void {
    assert(this.#frozen !== null, 'dropFrozen needs a frozen head');
    assert(this.#frozen.flushIndex !== null && this.#staged !== null, 'dropFrozen follows writeFrozen');
    this.#stats = this.#staged;
    this.#staged = null;
    this.#frozen = null;
  }

  async expire(ctx: FlushContext, cutoffs: RetentionCutoffs): Promise<ExpireReport> {
    const base = this.#staged ?? this.#stats;
    const next = new Map(base);
    let buckets = 0;
    let keys = 0;
    for (const tenant of [...base.keys()].sort()) {
      const cutoff = cutoffs.byTenant.has(tenant) ? (cutoffs.byTenant.get(tenant) ?? null) : cutoffs.defaultBeforeNs;
      if (cutoff === null || cutoff < StoreLimits.logBucketNs) continue;
      // A bucket b ends at (b + 1) * logBucketNs; it goes when that end is <= cutoff, i.e. b < endBucket.
      const endBucket = bucketOf(cutoff > U64_MAX ? U64_MAX : cutoff);
      const victims: number[] = [];
      pages: for await (const page of ctx.kv.pages({ gte: tenantPrefix(LogKeySpace.meta, tenant), lt: bucketKey(LogKeySpace.meta, tenant, endBucket) }, LogStoreLimits.scanPageEntries)) {
        for (const e of page) {
          const b = parseKeyBucket(e.key, tenant);
          if (victims[victims.length - 1] === b) continue;
          if (buckets + victims.length >= LogStoreLimits.expireBucketsMax) break pages;
          victims.push(b);
        }
      }
      let s = next.get(tenant) ?? ZERO_STATS;
      for (const b of victims) {
        for (const space of LOG_BLOCK_SPACES) {
          for await (const page of ctx.kv.pages({ gte: bucketKey(space, tenant, b), lt: bucketKey(space, tenant, b + 1) }, LogStoreLimits.scanPageEntries)) {
            for (const e of page) {
              ctx.batch.del(e.key);
              keys++;
              const bytes = e.key.length + e.value.length;
              const records = space === LogKeySpace.meta ? decodeBlockMeta(e.value).rows : 0;
              s = {
                records: s.records - records,
                dataBytes: s.dataBytes - (space === LogKeySpace.block ? bytes : 0),
                indexBytes: s.indexBytes - (space === LogKeySpace.block ? 0 : bytes),
              };
            }
          }
        }
      }
      buckets += victims.length;
      if (victims.length === 0) continue;
      if (!(s.records >= 0 && s.dataBytes >= 0 && s.indexBytes >= 0)) throw corrupt(`tenant ${tenant} stats go negative at expiry`, { tenant });
      next.set(tenant, s);
      ctx.batch.put(tenantPrefix(LogKeySpace.stats, tenant), encodeTenantStats(s));
    }
    if (this.#staged !== null) this.#staged = next;
    else this.#stats = next;
    return { buckets, keys };
  }

  stats(): SignalStats {
    let rows = 0;
    let dataBytes = 0;
    let indexBytes = 0;
    for (const s of this.#stats.values()) {
      rows += s.records;
      dataBytes += s.dataBytes;
      indexBytes += s.indexBytes;
    }
    return { rows, secondary: 0, dataBytes, indexBytes };
  }

  /** tenantStats is one tenant's durable counts (zero for an unknown tenant). */
  tenantStats(tenant: string): LogTenantStats {
    return this.#stats.get(tenant) ?? ZERO_STATS;
  }

  // ------------------------------------------------------------ reads

  /**
   * headViews is what a read sees of the heads for `tenant`, captured at the
   * read's start: the frozen head, then the head. Protected so a test can
   * plant a read that misses part of it and show its checker fails.
   */
  protected headViews(tenant: string): HeadView[] {
    const out: HeadView[] = [];
    const frozen = this.#frozen;
    const fr = frozen?.byTenant.get(tenant);
    if (frozen !== null && fr !== undefined) out.push({ rows: fr, count: fr.length, rank: FROZEN_RANK, flushIndex: () => frozen.flushIndex });
    const head = this.#head;
    const hr = head.byTenant.get(tenant);
    // The head captured here may be frozen and written while the read runs: its flushIndex is read late too.
    if (hr !== undefined) out.push({ rows: hr, count: hr.length, rank: HEAD_RANK, flushIndex: () => head.flushIndex });
    return out;
  }

  /**
   * queryLogs finds `tenant`'s records that match `q` in the head, the frozen
   * head and the blocks, and yields them in batches of at most
   * LogStoreLimits.queryBatchRowsMax in the order the file comment states,
   * stopping at q.limit. Blocks are visited bucket by bucket in the query's
   * direction; each is pruned by its meta's time range, then its term bloom,
   * then its postings (queryLogBlock's steps: bloomAdmits, queryLogIndex),
   * and only a block the postings admit is read and decoded.
   * Fills `stats`. Throws ERR_INVALID_ARGUMENT, ERR_LIMIT_EXCEEDED (query
   * shape) and ERR_CORRUPTION (a damaged value).
   */
  queryLogs(kv: KvRead, tenant: string, q: LogScanQuery, stats: ScanStats): AsyncGenerator<LogHit[]> {
    return this.#query(kv, tenant, q, stats, LogStoreLimits.queryRowsMax);
  }

  /**
   * selectLogs is queryLogs for the LogQL engine's shard-local source
   * (query/logs-shard-source.ts): the same order and batches, a limit up to
   * LogStoreLimits.selectRowsMax (a metric query reads every entry), the
   * query's rowFilter and line hints applied.
   */
  selectLogs(kv: KvRead, tenant: string, q: LogScanQuery, stats: ScanStats): AsyncGenerator<LogHit[]> {
    return this.#query(kv, tenant, q, stats, LogStoreLimits.selectRowsMax);
  }

  async *#query(kv: KvRead, tenant: string, q: LogScanQuery, stats: ScanStats, limitMax: number): AsyncGenerator<LogHit[]> {
    const { b0, b1 } = checkTimeRange(q.startNs, q.endNs);
    if (!(Number.isSafeInteger(q.limit) && q.limit >= 1 && q.limit <= limitMax)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `log query limit ${q.limit} is not in 1..${limitMax}`);
    }
    if (q.direction !== 'forward' && q.direction !== 'backward') throw new OtlpdbError('ERR_INVALID_ARGUMENT', `log query direction ${String(q.direction)}`);
    const backward = q.direction === 'backward';
    const blockQuery: LogQuery = { streamMatchers: q.streamMatchers ?? [], terms: q.terms ?? [], phrases: q.phrases ?? [], minTimeNs: q.startNs, maxTimeNs: q.endNs };
    const nq = normalizeLogQuery(blockQuery);

    // The heads, captured now and filtered by the reference filter, by bucket.
    const views = this.headViews(tenant);
    // A block written from a head this read captured is served from the capture, never twice.
    const servedFromHead = (flushIndex: number): boolean => views.some((v) => v.flushIndex() === flushIndex);
    const headHits = new Map<number, Candidate[]>();
    const hintPlan = q.hints ?? null;
    for (const v of views) {
      for (let i = 0; i < v.count; i++) {
        const row = v.rows[i] as LogRow;
        stats.headRowsScanned++;
        if (!logRowMatches(row, nq, q.startNs, q.endNs)) continue;
        if (q.rowFilter !== undefined && !q.rowFilter(row)) continue;
        if (hintPlan !== null && !lineAdmits(hintPlan, logLine(row))) continue;
        const b = bucketOf(row.timeUnixNano);
        const c: Candidate = { row, src: null, timeNs: row.timeUnixNano, flushIndex: v.rank, part: 0, ordinal: i };
        const list = headHits.get(b);
        if (list === undefined) headHits.set(b, [c]);
        else list.push(c);
      }
    }
    const headBuckets = [...headHits.keys()].sort((a, b) => (backward ? b - a : a - b));
    const before = (a: number, b: number): boolean => (backward ? a > b : a < b);

    let remaining = q.limit;
    let hb = 0;
    // A bucket's candidates in the direction's order, decoded a growing chunk at a time: a consumer that stops early decodes little.
    const scanCtx: BlockScanContext = { kv, tenant, reads: this.#reads, unindexedRowMatches: (row, n, lo, hi) => this.unindexedRowMatches(row, n, lo, hi) };
    const scanBlock = (id: LogBlockId, meta: LogBlockMeta): Promise<Candidate[]> => scanLogBlock(scanCtx, id, meta, blockQuery, nq, stats, remaining, backward, q);
    // A bucket's blocks are read newest first (backward; oldest first forward), and after each block the
    // candidates no unread block can precede are settled and emitted: a limit-100 query over time-ordered
    // blocks (one flush cuts its sorted rows into consecutive blocks) reads the few blocks at its end.
    // Exact: an unread block holds no row later (backward) than its meta's maxTimeNs, and only candidates
    // strictly past that frontier are settled, so ties wait for every block that may hold them.
    async function* bucketHits(bucket: number, metas: readonly { id: LogBlockId; meta: LogBlockMeta }[]): AsyncGenerator<LogHit[]> {
      const order = metas
        .filter(({ id }) => !servedFromHead(id.flushIndex))
        .sort((a, b) => (backward ? cmpNs(b.meta.maxTimeNs, a.meta.maxTimeNs) : cmpNs(a.meta.minTimeNs, b.meta.minTimeNs)));
      let pending: Candidate[] = [...(headHits.get(bucket) ?? [])];
      for (let k = 0; k <= order.length && remaining > 0; k++) {
        const block = order[k];
        if (block !== undefined) for (const c of await scanBlock(block.id, block.meta)) pending.push(c);
        pending.sort(compareCandidates);
        if (backward) pending.reverse();
        const after = order[k + 1];
        const frontier = after === undefined || block === undefined ? null : backward ? after.meta.maxTimeNs : after.meta.minTimeNs;
        let settled = pending.length;
        if (frontier !== null) {
          settled = 0;
          while (settled < pending.length && (backward ? (pending[settled] as Candidate).timeNs > frontier : (pending[settled] as Candidate).timeNs < frontier)) settled++;
        }
        let chunk = Math.min(DECODE_CHUNK_ROWS_MIN, Math.max(1, q.firstChunkRows ?? DECODE_CHUNK_ROWS_MIN));
        for (let i = 0; i < settled && remaining > 0; i += chunk, chunk *= 2) {
          const hits = materialize(pending.slice(i, Math.min(i + chunk, settled)), q.rowFilter).slice(0, remaining);
          for (let j = 0; j < hits.length; j += LogStoreLimits.queryBatchRowsMax) yield hits.slice(j, j + LogStoreLimits.queryBatchRowsMax);
          remaining -= hits.length;
          assert(remaining >= 0, 'no more hits than the limit');
        }
        pending = pending.slice(settled);
      }
    }

    const groups = blockMetaGroups(kv, tenant, b0, b1, backward, stats);
    try {
      for (;;) {
        const g = await groups.next();
        const nextBlockBucket = g.done === true ? null : g.value.bucket;
        // Buckets only the heads hold, before the next block bucket.
        while (hb < headBuckets.length && (nextBlockBucket === null || before(headBuckets[hb] as number, nextBlockBucket))) {
          yield* bucketHits(headBuckets[hb++] as number, []);
          if (remaining === 0) return;
        }
        if (g.done === true) return;
        if (headBuckets[hb] === g.value.bucket) hb++;
        yield* bucketHits(g.value.bucket, g.value.blocks);
        if (remaining === 0) return;
      }
    } finally {
      await groups.return(undefined);
    }
  }

  /**
   * countLogs calls `sink.row` once with every record of `tenant` that
   * matches `q`, in the heads and the blocks, without building a block row
   * that carries no structured metadata (log-count.ts). `between` runs
   * between blocks (a deadline check that throws). Fills `stats`. Throws
   * ERR_INVALID_ARGUMENT, ERR_LIMIT_EXCEEDED, ERR_CORRUPTION.
   */
  async countLogs(kv: KvRead, tenant: string, q: LogCountQuery, stats: ScanStats, sink: LogCountSink, between?: () => void): Promise<void> {
    const ctx: LogCountContext = {
      kv,
      tenant,
      reads: this.#reads,
      views: this.headViews(tenant),
      unindexedRowMatches: (row, n, lo, hi) => this.unindexedRowMatches(row, n, lo, hi),
      ...(between !== undefined ? { between } : {}),
    };
    await countLogRows(ctx, q, stats, sink);
  }

  /**
   * unindexedRowMatches is the row check of a block without its term index:
   * the head's reference filter (logRowMatches). Protected so a test can
   * plant a wrong check and show its differential catches it.
   */
  protected unindexedRowMatches(row: LogRow, nq: NormalizedLogQuery, minTimeNs: bigint, maxTimeNs: bigint): boolean {
    return logRowMatches(row, nq, minTimeNs, maxTimeNs);
  }


  /** #headRowsIn calls `f` with every head and frozen-head record of `tenant` in buckets [b0, b1]. */
  #headRowsIn(tenant: string, b0: number, b1: number, stats: ScanStats, f: (row: LogRow) => void): void {
    for (const v of this.headViews(tenant)) {
      for (let i = 0; i < v.count; i++) {
        const row = v.rows[i] as LogRow;
        stats.headRowsScanned++;
        const b = bucketOf(row.timeUnixNano);
        if (b >= b0 && b <= b1) f(row);
      }
    }
  }

  /** labelNames lists the stream label names of `tenant` in the buckets that overlap the range (readLabelNames, log-labels.ts). */
  async labelNames(kv: KvRead, tenant: string, range: LogTimeRange, stats: ScanStats): Promise<string[]> {
    return readLabelNames(kv, tenant, range, stats, (b0, b1, f) => this.#headRowsIn(tenant, b0, b1, stats, f));
  }

  /** labelValues lists the values of label `name` of `tenant` in the buckets that overlap the range (readLabelValues, log-labels.ts). */
  async labelValues(kv: KvRead, tenant: string, name: string, range: LogTimeRange, stats: ScanStats): Promise<string[]> {
    return readLabelValues(kv, tenant, name, range, stats, (b0, b1, f) => this.#headRowsIn(tenant, b0, b1, stats, f));
  }

  /** series lists the distinct streams of `tenant` that satisfy every matcher in the buckets that overlap the range (readSeries, log-labels.ts). */
  async series(kv: KvRead, tenant: string, matchers: readonly StreamMatcher[], range: LogTimeRange, stats: ScanStats): Promise<StreamLabel[][]> {
    return readSeries(kv, tenant, matchers, range, stats, (b0, b1, f) => this.#headRowsIn(tenant, b0, b1, stats, f));
  }

  /** indexStats counts the streams `keep` admits, their blocks, entries and line bytes in the buckets that overlap the range (readIndexStats, log-labels.ts). */
  async indexStats(kv: KvRead, tenant: string, keep: (labels: readonly StreamLabel[]) => boolean, range: LogTimeRange, stats: ScanStats): Promise<IndexStats> {
    return readIndexStats(kv, tenant, keep, range, stats, (b0, b1, f) => this.#headRowsIn(tenant, b0, b1, stats, f));
  }
}

