/**
 * metric-store.ts — the metrics store of one shard replica
 * (SignalStore<MetricPointRow>): series identity and last timestamps kept for
 * the replica's life, a head of unflushed points, and at each flush chunk
 * blocks (one per id page, shared timestamp columns), histogram and summary
 * records, exemplars, 5m and 1h rollups, the new series and the durable
 * stats, all in the flush's batch.
 *
 * Key layout (keys.ts conventions: big-endian, tenant then NUL):
 *
 *   0x20 tenant\0 firstId:u32                         → series page: ids (firstId, …) and their name + labels,
 *                                                        the series one flush created for one tenant
 *   0x21 page:u32                                     → lastT page: last accepted timestamp of series
 *                                                        page×1024 … +1023 (rewritten by each flush touching it;
 *                                                        series ids are shard-wide, so no tenant)
 *   0x22 tenant\0 bucket:u64 page:u32 flush:u64 part:u16 → chunk block: float samples (gauges, sums) of the series
 *                                                        page×128 … +127, sharing timestamp columns (chunk-block.ts)
 *   0x23 tenant\0 bucket:u64 seriesId:u32 flush:u64   → records (histogram, exponential histogram, summary points)
 *   0x24 tenant\0 bucket:u64 seriesId:u32 flush:u64   → exemplars of the points
 *   0x25 tenant\0 res:u8 bucket:u64 seriesId:u32 flush:u64 → float rollup partials (res 1 = 5m, 2 = 1h)
 *   0x26 tenant\0 res:u8 bucket:u64 seriesId:u32 flush:u64 → record rollup partials (histograms, summaries)
 *   0x27 page:u32                                     → description page: the descriptions of series
 *                                                        page×1024 … +1023 (series-descriptions.ts; rewritten by
 *                                                        each flush that changed one; not part of any identity)
 *   0x2e tenant\0 bucket:u64 flush:u64                → bucket stat: samples, bytes and keys one flush wrote in
 *                                                        the bucket (retention reads these, not the data)
 *   0x2f tenant\0                                     → tenant stats: series, samples, dataBytes, indexBytes
 *
 * Store format 2: float samples are chunk blocks (chunk-block.ts); a value of
 * format 1 (one chunk run per series, BlockKind.metricChunk) is refused with
 * ERR_CORRUPTION naming the format, as no deployed data has it.
 *
 * bucket = floor(ms / MetricStoreLimits.bucketMs); flush = the flushIndex. A
 * read over [minMs, maxMs] seeks only the buckets that hold data (known from
 * the bucket stats) and, inside one, only the series id range of its batch;
 * retention deletes whole buckets. Values are sealed blocks (store-format.ts).
 * The labels → id direction of the series table is not stored: load() rebuilds
 * it (SeriesRegistry, LabelIndex) by replaying the pages in id order, so ids
 * survive a restart. NB: postings are in memory only (rebuilt at load); a
 * series is never deleted (retention drops its data, not its id), which keeps
 * series counting independent of retention timing.
 *
 * Append rules (per series; identical on every replica, whatever the flush
 * and retention timing — the determinism rule of signal-store.ts):
 * - t < the series' last accepted timestamp → refused, ERR_INVALID_ARGUMENT
 *   "out of order sample" (Prometheus); the last timestamp outlives flushes
 *   (lastT pages) and retention;
 * - t == last → accepted, the new point replaces the old one (last write
 *   wins): in the head in place; across a flush both copies are stored and
 *   reads keep the later one;
 * - a new series past seriesMax → ERR_LIMIT_EXCEEDED; seriesMax counts every
 *   series ever created in this replica;
 * - a malformed identity → the registry's ERR_INVALID_ARGUMENT or ERR_LIMIT_EXCEEDED.
 * Nothing is refused because the head is big: the state machine flushes.
 * Exemplars are kept as they come (a replaced point's exemplars stay).
 *
 * Why not MetricHead: MetricHead owns its registry (ids restart per head),
 * refuses a changed value at the last timestamp and refuses when full — three
 * things the store contract forbids. The store keeps one SeriesRegistry and
 * one LabelIndex for its life, float columns per head, and encodes chunks with
 * the codec's SeriesEncoder at flush.
 *
 * Stats: samples count the points each flush wrote (a last-write-wins
 * rewrite of a point an earlier flush wrote counts again, and both copies stay
 * until their bucket expires); dataBytes are the keys and values of chunk
 * runs, records, exemplars and rollups; indexBytes those of series pages,
 * lastT pages and bucket stats. NB: the in-memory stats move at writeFrozen
 * and expire (when the deletions and puts enter the batch), not when the batch
 * is durable; the state machine writes the batch or stops the replica.
 * A read holds one batch: at most selectSeriesPerBatchMax series over at most
 * selectBucketsPerBatchMax buckets. Retention skips a bucket the frozen head's flush writes into (its
 * keys may not be in ctx.kv yet); the next pass deletes it.
 *
 * NB: this file is past the ~500-line mark: the reads share the store's
 * private indexes (registry, label index, bucket sets, heads); splitting them
 * out wants a small read-only view interface first. The head generation and
 * its merge helpers are in store-head.ts, value formats in store-format.ts.
 * The columnar add (addColumns: points-only entries decoded by metric-entry.ts,
 * series found by raw-identity-memo.ts) stays here because it shares #addRow's
 * steps and the registry, last-timestamp and head state; its decoder and memo
 * are their own files.
 *
 * Invariants: #lastT.length >= registry.size; #tenantOf.length === #isFloat.length
 * === #descs.size === registry.size; a head's float columns per series are strictly
 * increasing in t; at most one frozen head.
 */
import { joinFacts } from '../codec/value-facts.js';
import type { ColumnAlloc } from './column-pool.js';
import { CodecLimits, MetricStoreLimits, StoreLimits } from '../../limits.js';
import { type ErrorCode, OtlpdbError, assert } from '../../errors.js';
import { ChunkIterator, SeriesEncoder } from '../codec/index.js';
import { KeySpace, key, prefixEnd } from '../shard/keys.js';
import type { KvRead, KvWriteBatch } from '../shard/shard-db.js';
import type {
  AddResult,
  ExpireReport,
  FlushContext,
  FlushReport,
  RetentionCutoffs,
  RowRefusal,
  ScanStats,
  SignalStats,
  SignalStore,
} from '../shard/signal-store.js';
import type { MetricPointRow } from '../rows.js';
import { LabelIndex, METRIC_NAME_LABEL, type Matcher } from './label-index.js';
import { type Labels, PREPARE_NEW, PREPARE_REFUSED, type SeriesHasher, SeriesRegistry, compareCodePoints } from './series-registry.js';
import { isFloatPoint, numberValue, seriesLabels, timestampMs } from './series-identity.js';
import { IdentityMemo } from './identity-memo.js';
import { SeriesDescriptions, decodeDescriptionPage, descriptionPageKey, encodeDescriptionPage } from './series-descriptions.js';
import { ChunkBlockDecoder, ChunkBlockEncoder, type ChunkBlockSeries, type OpenChunkBlock } from './chunk-block.js';
import { PART_RESOURCE, PART_SCOPE, RawIdentityMemo, type RawIdentityHash, rawIdentityHash } from './raw-identity-memo.js';
import { KIND_ROW, type MetricEntryColumns } from '../metric-entry.js';
import { type FloatColumns, Head, type SampleRun, forEachBucket, lastWins, mergeRuns } from './store-head.js';
import { SharedTimes } from './shared-times.js';
import { type RecordRollupPartial, type RecordRollupPoint, mergeRecordInto, recordPartialsOf, recordPointOf } from './record-rollup.js';
import { STALE_NAN, noRecordedValue } from './staleness.js';
import { ROLLUP_RESOLUTIONS, ROLLUP_WINDOW_MS, type Resolution, type RollupPartial, type RollupPoint, mergeInto, partialsOf, pickResolution, pointOf } from './rollup.js';
import {
  LAST_T_PAGE_SERIES,
  MetricKeySpace,
  type RecordData,
  type RecordPoint,
  type StatCounts,
  type StoredExemplar,
  bucketStatKey,
  chunkBlockKey,
  chunkBlockPage,
  dataKey,
  dataKeyPrefix,
  decodeExemplars,
  decodeLastTPage,
  decodeRecordRollups,
  decodeRecords,
  decodeRollups,
  decodeSeriesPage,
  decodeStats,
  encodeExemplars,
  encodeLastTPage,
  encodeRecordRollups,
  encodeRecords,
  encodeRollups,
  encodeSeriesPage,
  encodeStats,
  lastTPageKey,
  parseChunkBlockKey,
  parseDataKey,
  rollupKey,
  rollupKeyPrefix,
  seriesPageKey,
  tenantPrefix,
  tenantStatsKey,
} from './store-format.js';

/** MetricStoreOptions configures a store (tests use small bounds). */
export interface MetricStoreOptions {
  readonly hasher: SeriesHasher;
  /** seriesMax defaults to MetricStoreLimits.seriesMax. */
  readonly seriesMax?: number;
  /** chunkSamples defaults to CodecLimits.chunkSamplesDefault. */
  readonly chunkSamples?: number;
  /** selectBucketsPerBatch defaults to MetricStoreLimits.selectBucketsPerBatchMax (tests use 1 to split reads). */
  readonly selectBucketsPerBatch?: number;
  /** identityMemo (default true) turns the identity memo off when false (the bench's before/after figure). */
  readonly identityMemo?: boolean;
  /** rawIdentityHash replaces the raw identity memo's hash (tests plant a colliding one). */
  readonly rawIdentityHash?: RawIdentityHash;
}

/** SelectOptions chooses a read's resolution (pickResolution in rollup.ts maps a step to one). */
export interface SelectOptions {
  /** resolution, when given, is used as is. */
  readonly resolution?: Resolution;
  /** stepMs, when no resolution is given, picks one: the coarsest rollup whose window is ≤ the step (pickResolution). */
  readonly stepMs?: number;
  /**
   * columns, when given, lends the columns a raw read decodes into
   * (column-pool.ts): the samples yielded are then views of them, valid
   * until the lender takes them back.
   */
  readonly columns?: ColumnAlloc;
  /**
   * only, when given, narrows the read to these series ids (among those the
   * matchers select): a caller that already knows its series reads only
   * their chunks, not every series of the name.
   */
  readonly only?: ReadonlySet<number>;
}

/** SeriesSamples is one series' float samples in a read: sorted, one per timestamp (the latest write). */
export interface SeriesSamples {
  readonly kind: 'samples';
  readonly seriesId: number;
  readonly name: string;
  readonly labels: Labels;
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
  /** facts, when present, is what the chunks' headers prove about values (codec/value-facts.ts); absent or 0: nothing. */
  readonly facts?: number;
}

/** SeriesRollups is one series' rollup points in a read, one per window, sorted by window. */
export interface SeriesRollups {
  readonly kind: 'rollups';
  readonly seriesId: number;
  readonly name: string;
  readonly labels: Labels;
  readonly resolution: Exclude<Resolution, 'raw'>;
  readonly points: readonly RollupPoint[];
}

/** SeriesRecords is one histogram or summary series' points in a read, sorted, one per timestamp, with exemplars. */
export interface SeriesRecords {
  readonly seriesId: number;
  readonly name: string;
  readonly labels: Labels;
  readonly points: readonly RecordPoint[];
  readonly exemplars: readonly StoredExemplar[];
}

/** SeriesRecordRollups is one histogram or summary series' rollup points in a read, one per window, sorted. */
export interface SeriesRecordRollups {
  readonly seriesId: number;
  readonly name: string;
  readonly labels: Labels;
  readonly resolution: Exclude<Resolution, 'raw'>;
  readonly points: readonly RecordRollupPoint[];
}

/** SeriesExemplars is one series' exemplars in a read, sorted by point time. */
export interface SeriesExemplars {
  readonly seriesId: number;
  readonly name: string;
  readonly labels: Labels;
  readonly exemplars: readonly StoredExemplar[];
}

/** TenantStats are one tenant's durable counts. */
export type TenantStats = SignalStats;


/** Refusal is why one point is refused (a RowRefusal without its row number). */
type Refusal = { readonly code: ErrorCode; readonly reason: string };

function emptyCounts(): StatCounts {
  return { series: 0, samples: 0, dataBytes: 0, indexBytes: 0, keys: 0 };
}

/** MetricStore is the metrics store of one shard replica. */
export class MetricStore implements SignalStore<MetricPointRow> {
  readonly signal = 'metrics' as const;
  readonly #hasher: SeriesHasher;
  readonly #seriesMax: number;
  readonly #chunkSamples: number;
  readonly #encoder = new SeriesEncoder();
  readonly #blockEncoder = new ChunkBlockEncoder(this.#encoder);
  #registry: SeriesRegistry;
  #index = new LabelIndex();
  /** #tenantOf[id] and #isFloat[id] are per series; #lastT[0, size) the last accepted timestamps (-Infinity: none). */
  #tenantOf: string[] = [];
  #isFloat: boolean[] = [];
  #lastT = new Float64Array(1024);
  /** #descs is every series' description, kept beside (not in) its identity. */
  readonly #descs = new SeriesDescriptions();
  /** #descBytes, #descAt and #descEnd cache the last description decoded from the current entry's bytes (most points of an entry share one); null outside addColumns. */
  #descBytes: Uint8Array | null = null;
  #descAt = 0;
  #descEnd = 0;
  #desc = '';
  #head: Head = new Head(0);
  #frozen: Head | null = null;
  /** #stats is the durable counts per tenant; #lastTPageBytes the size of each lastT page on disk. */
  #stats = new Map<string, StatCounts>();
  #lastTPageBytes = new Map<number, number>();
  /**
   * #idMemo maps a point's raw identity to its series id (identity-memo.ts),
   * so the hot path skips label rendering and the registry for a known series.
   */
  #idMemo = new IdentityMemo();
  /** #rawMemo maps a column point's identity bytes to its series id (raw-identity-memo.ts); #resNums and #scopeNums are its part numbers for the current entry. */
  #rawMemo: RawIdentityMemo;
  readonly #rawHash: RawIdentityHash;
  #resNums = new Int32Array(64);
  #scopeNums = new Int32Array(16);
  /** #colIds[i] is column point i's series id found by #checkColumns (-1: not found there), for the current entry only. */
  #colIds = new Int32Array(64);
  readonly #useMemo: boolean;
  readonly #bucketsPerBatch: number;
  /** #lastNs and #lastMs cache the last point time converted (rows of one request mostly share a time). */
  #lastNs = -1n;
  #lastMs = 0;
  /** #floatT and #floatV carry #appendFloat's sample into #appendAt (one slot each). */
  readonly #floatT = new Float64Array(1);
  readonly #floatV = new Float64Array(1);
  /** #buckets is, per tenant, the buckets holding data on disk. */
  #buckets = new Map<string, Set<number>>();

  constructor(opts: MetricStoreOptions) {
    const seriesMax = opts.seriesMax ?? MetricStoreLimits.seriesMax;
    const chunkSamples = opts.chunkSamples ?? CodecLimits.chunkSamplesDefault;
    assert(Number.isSafeInteger(seriesMax) && seriesMax >= 0 && seriesMax <= MetricStoreLimits.seriesMax, 'seriesMax in range');
    assert(Number.isSafeInteger(chunkSamples) && chunkSamples >= 1 && chunkSamples <= CodecLimits.chunkSamplesMax, 'chunkSamples in range');
    this.#hasher = opts.hasher;
    this.#seriesMax = seriesMax;
    this.#chunkSamples = chunkSamples;
    this.#registry = new SeriesRegistry(opts.hasher, seriesMax);
    this.#useMemo = opts.identityMemo ?? true;
    this.#rawHash = opts.rawIdentityHash ?? rawIdentityHash;
    this.#rawMemo = this.#newRawMemo();
    this.#bucketsPerBatch = opts.selectBucketsPerBatch ?? MetricStoreLimits.selectBucketsPerBatchMax;
    assert(Number.isSafeInteger(this.#bucketsPerBatch) && this.#bucketsPerBatch >= 1, 'selectBucketsPerBatch >= 1');
    assert(this.#bucketsPerBatch <= MetricStoreLimits.selectBucketsPerBatchMax, 'selectBucketsPerBatch within its limit');
  }

  #newRawMemo(): RawIdentityMemo {
    return new RawIdentityMemo(MetricStoreLimits.identityMemoEntriesMax, MetricStoreLimits.rawIdentityMemoKeyBytesMax, this.#rawHash);
  }

  // ---------------------------------------------------------------- apply

  async load(kv: KvRead): Promise<void> {
    assert(this.#frozen === null, 'load without a frozen head');
    this.#registry = new SeriesRegistry(this.#hasher, this.#seriesMax);
    this.#index = new LabelIndex();
    this.#idMemo = new IdentityMemo();
    this.#rawMemo = this.#newRawMemo();
    this.#tenantOf = [];
    this.#isFloat = [];
    this.#descs.reset();
    this.#stats = new Map();
    this.#lastTPageBytes = new Map();
    this.#buckets = new Map();
    const all: { id: number; tenant: string; name: string; labels: Labels }[] = [];
    for await (const page of kv.pages(spaceRange(MetricKeySpace.Series))) {
      for (const e of page) {
        const tenant = tenantOfKey(e.key);
        const p = decodeSeriesPage(e.value);
        p.ids.forEach((id, i) => all.push({ id, tenant, name: (p.series[i] as { name: string }).name, labels: (p.series[i] as { labels: Labels }).labels }));
      }
    }
    all.sort((a, b) => a.id - b.id);
    this.#lastT = new Float64Array(Math.max(1024, all.length));
    this.#lastT.fill(-Infinity);
    for (let i = 0; i < all.length; i++) {
      const s = all[i] as (typeof all)[number];
      if (s.id !== i) throw new OtlpdbError('ERR_CORRUPTION', `metrics store: series ids are not contiguous at ${i} (found ${s.id})`);
      const got = this.#registry.prepare(s.tenant, s.name, s.labels);
      if (got !== PREPARE_NEW || this.#registry.create() !== i) throw new OtlpdbError('ERR_CORRUPTION', `metrics store: series ${i} does not replay`);
      const info = this.#registry.info(i);
      this.#index.add(i, info.tenant, info.name, info.labels);
      this.#register(i, s.tenant);
    }
    for await (const page of kv.pages(spaceRange(MetricKeySpace.LastT))) {
      for (const e of page) {
        const p = new DataView(e.key.buffer, e.key.byteOffset).getUint32(1);
        const values = decodeLastTPage(e.value);
        const first = p * LAST_T_PAGE_SERIES;
        for (let j = 0; j < values.length && first + j < all.length; j++) this.#lastT[first + j] = values[j] as number;
        this.#lastTPageBytes.set(p, e.key.length + e.value.length);
      }
    }
    for await (const page of kv.pages(spaceRange(MetricKeySpace.Descriptions))) {
      for (const e of page) this.#descs.loadPage(new DataView(e.key.buffer, e.key.byteOffset).getUint32(1), decodeDescriptionPage(e.value));
    }
    for await (const page of kv.pages(spaceRange(MetricKeySpace.TenantStats))) {
      for (const e of page) this.#stats.set(tenantOfKey(e.key), decodeStats(e.value));
    }
    for await (const page of kv.pages(spaceRange(MetricKeySpace.BucketStats))) {
      for (const e of page) {
        const tenant = tenantOfKey(e.key);
        const bucket = new DataView(e.key.buffer, e.key.byteOffset).getBigUint64(e.key.length - 16);
        this.#bucketSet(tenant).add(Number(bucket));
      }
    }
    this.#head = new Head(this.#registry.size);
    assert(this.#tenantOf.length === this.#registry.size, 'one tenant per series');
  }

  add(tenant: string, rows: readonly MetricPointRow[], entryTimeMs: number): AddResult {
    void entryTimeMs; // Point times come from the points; the entry's time decides nothing here.
    const refusals: RowRefusal[] = [];
    let refused = 0;
    const head = this.#head;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as MetricPointRow;
      const why = this.#addRow(head, tenant, row);
      if (why === null) continue;
      refused++;
      if (refusals.length < StoreLimits.refusalsReportedMax) refusals.push({ row: i, code: why.code, reason: why.reason });
    }
    head.rows += rows.length - refused;
    return { accepted: rows.length - refused, refused, refusals };
  }

  /**
   * addColumns is `add` for a points-only entry decoded by decodeMetricEntry
   * (metric-entry.ts): the same rules, refusals and stored state as `add` of
   * the entry's rows, without a row per float point. A float point's series
   * is found by the raw identity memo (raw-identity-memo.ts) from the entry's
   * bytes; on a miss, the point is decoded as a row and resolved as in `add`.
   * Points the decoder kept as rows (histograms, exemplars, …) go through `add`'s path.
   * When the decoder left the identity strings' UTF-8 check to this call
   * (c.keysUnchecked), #checkColumns makes it first, and a malformed string
   * anywhere means null: nothing stored, the caller decodes the entry again
   * with decodeShardEntry, which reports it as before.
   */
  addColumns(c: MetricEntryColumns, entryTimeMs: number): AddResult | null {
    void entryTimeMs; // As in add.
    const tenant = c.tenant;
    const refusals: RowRefusal[] = [];
    let refused = 0;
    const head = this.#head;
    this.#descBytes = null; // the cache compares bytes of this entry only
    let tenantNum = -1;
    if (this.#useMemo) {
      this.#rawMemo.beginEntry(c.n, c.resourceCount + c.scopeCount);
      tenantNum = this.#rawMemo.tenant(tenant);
      this.#internParts(c);
    }
    const found = c.keysUnchecked;
    if (found && !this.#checkColumns(c, tenantNum)) {
      this.#descBytes = null;
      return null;
    }
    for (let i = 0; i < c.n; i++) {
      const why = c.kind[i] === KIND_ROW ? this.#addRow(head, tenant, c.row(i)) : this.#addColumn(head, c, i, tenantNum, found ? (this.#colIds[i] as number) : -1);
      if (why === null) continue;
      refused++;
      if (refusals.length < StoreLimits.refusalsReportedMax) refusals.push({ row: i, code: why.code, reason: why.reason });
    }
    head.rows += c.n - refused;
    this.#descBytes = null;
    return { accepted: c.n - refused, refused, refusals };
  }

  /** #internParts numbers the entry's resources and scopes in the raw memo (#resNums, #scopeNums; -1: not remembered). */
  #internParts(c: MetricEntryColumns): void {
    if (this.#resNums.length < c.resourceCount) this.#resNums = new Int32Array(Math.max(c.resourceCount, 2 * this.#resNums.length));
    if (this.#scopeNums.length < c.scopeCount) this.#scopeNums = new Int32Array(Math.max(c.scopeCount, 2 * this.#scopeNums.length));
    for (let r = 0; r < c.resourceCount; r++) this.#resNums[r] = this.#rawMemo.part(PART_RESOURCE, c.bytes, c.resourceAt[r] as number, c.resourceEnd[r] as number);
    for (let s = 0; s < c.scopeCount; s++) this.#scopeNums[s] = this.#rawMemo.part(PART_SCOPE, c.bytes, c.scopeAt[s] as number, c.scopeEnd[s] as number);
  }

  /**
   * #checkColumns looks every column point of an entry up in the raw identity
   * memo (#colIds) and checks the identity strings of those it does not find
   * as UTF-8 (c.keyUtf8), before anything of the entry is stored; false at
   * the first malformed one. Then c.keysUnchecked is false.
   *
   * Why a point the memo finds needs no check: (1) a key enters the memo
   * only through RawIdentityMemo.set in #addColumn, after a miss, for a
   * point whose strings were checked: by the decoder (without deferKeyUtf8),
   * or here, since this pass runs over the whole entry before the pass that
   * sets; the memo is cleared, never loaded from disk or a peer. (2) A hit
   * means the point's key bytes equal a stored key's in full: its lengths
   * and every byte are compared (ByteKeyTable.find: a hash match alone never
   * answers). (3) The key bytes are the msgpack of name, description and unit
   * with their headers, and of the attribute list, so equal bytes scan into
   * the same strings at the same offsets: every string of a found point is
   * byte for byte a string that was checked when its key was stored.
   * Resources, scopes and row points are checked by the decoder, always.
   * Tested by shard-apply-columns.test.ts (malformed strings next to keys
   * the memo holds, and a planted check that trusts misses too).
   */
  #checkColumns(c: MetricEntryColumns, tenantNum: number): boolean {
    if (this.#colIds.length < c.n) this.#colIds = new Int32Array(Math.max(c.n, 2 * this.#colIds.length));
    const ids = this.#colIds;
    for (let i = 0; i < c.n; i++) {
      if (c.kind[i] === KIND_ROW) continue;
      const res = tenantNum < 0 ? -1 : (this.#resNums[c.res[i] as number] as number);
      const scope = tenantNum < 0 ? -1 : (this.#scopeNums[c.scope[i] as number] as number);
      const id = res >= 0 && scope >= 0 ? this.#rawMemo.get(tenantNum, res, scope, c.kind[i] as number, c.bytes, c.identAt[i] as number, c.identEnd[i] as number, c.attrsAt[i] as number, c.attrsEnd[i] as number) : -1;
      ids[i] = id;
      if (id < 0 && !c.keyUtf8(i)) return false;
    }
    c.keysUnchecked = false;
    return true;
  }

  /**
   * #addColumn adds float point i of the columns (the steps of #addRow, in its
   * order). NB: it reads the point's time from c.tMs at each use instead of
   * keeping it in a local: a float local that lives across the calls below was
   * boxed as a 16-byte heap number per point, as is a float argument of a call
   * V8 does not inline (#appendAt, FloatHead.pushAt); together 32 B per point of
   * the apply (bench/README.md, issue 5 s18).
   */
  #addColumn(head: Head, c: MetricEntryColumns, i: number, tenantNum: number, foundId: number): Refusal | null {
    if (!((c.tMs[i] as number) <= CodecLimits.timestampMsAbsMax)) return { code: 'ERR_INVALID_ARGUMENT', reason: `timestamp ${c.tMs[i]} ms past ${CodecLimits.timestampMsAbsMax}` };
    const res = tenantNum < 0 ? -1 : (this.#resNums[c.res[i] as number] as number);
    const scope = tenantNum < 0 ? -1 : (this.#scopeNums[c.scope[i] as number] as number);
    const memo = res >= 0 && scope >= 0;
    // foundId >= 0: #checkColumns found it (a series id stays one while the store lives); else look up (again) so a miss can `set`.
    let id = foundId >= 0 ? foundId : memo ? this.#rawMemo.get(tenantNum, res, scope, c.kind[i] as number, c.bytes, c.identAt[i] as number, c.identEnd[i] as number, c.attrsAt[i] as number, c.attrsEnd[i] as number) : -1;
    if (id < 0) {
      const got = this.#seriesOf(c.tenant, c.row(i));
      if (typeof got !== 'number') return got;
      id = got;
      if (memo) this.#rawMemo.set(id);
    }
    assert(this.#isFloat[id] === true, 'a column point is a float point, and so is its series');
    if ((c.tMs[i] as number) < (this.#lastT[id] as number)) return { code: 'ERR_INVALID_ARGUMENT', reason: `out of order sample: timestamp ${c.tMs[i]} < last ${this.#lastT[id]}` };
    this.#descs.set(id, this.#columnDescription(c, i));
    this.#appendAt(head, id, c.tMs, c.value, i);
    return null;
  }

  /** #columnDescription is point i's description, decoded once per run of points with equal description bytes. */
  #columnDescription(c: MetricEntryColumns, i: number): string {
    const at = c.descAt[i] as number;
    const end = c.descEnd[i] as number;
    if (at === end) return '';
    const b = c.bytes;
    const prev = this.#descBytes;
    if (prev !== null && this.#descEnd - this.#descAt === end - at) {
      let same = true;
      for (let k = 0; k < end - at && same; k++) same = prev[this.#descAt + k] === b[at + k];
      if (same) {
        this.#descBytes = b;
        this.#descAt = at;
        this.#descEnd = end;
        return this.#desc;
      }
    }
    this.#desc = Buffer.from(b.buffer, b.byteOffset + at, end - at).toString('utf8');
    this.#descBytes = b;
    this.#descAt = at;
    this.#descEnd = end;
    return this.#desc;
  }

  #addRow(head: Head, tenant: string, row: MetricPointRow): Refusal | null {
    if (row.timeUnixNano !== this.#lastNs) {
      this.#lastNs = row.timeUnixNano;
      this.#lastMs = timestampMs(row.timeUnixNano);
    }
    const t = this.#lastMs;
    if (!(t <= CodecLimits.timestampMsAbsMax)) return { code: 'ERR_INVALID_ARGUMENT', reason: `timestamp ${t} ms past ${CodecLimits.timestampMsAbsMax}` };
    const id = this.#seriesOf(tenant, row);
    if (typeof id !== 'number') return id;
    // A new series has no last timestamp (-Infinity), so only a known one can refuse here.
    const last = this.#lastT[id] as number;
    if (t < last) return { code: 'ERR_INVALID_ARGUMENT', reason: `out of order sample: timestamp ${t} < last ${last}` };
    assert((this.#isFloat[id] as boolean) === isFloatPoint(row.data), 'a series keeps its point type (otel_type is in its labels)');
    this.#descs.set(id, row.description);
    const d = row.data;
    if (d.type === 'gauge' || d.type === 'sum') this.#appendFloat(head, id, t, noRecordedValue(row.flags) ? STALE_NAN : numberValue(d.value));
    else {
      this.#touch(head, id, t);
      let recs = head.records.get(id);
      if (recs === undefined) head.records.set(id, (recs = []));
      const p: RecordPoint = { t, startMs: timestampMs(row.startTimeUnixNano), flags: row.flags, data: d };
      const lastRec = recs[recs.length - 1];
      if (lastRec !== undefined && lastRec.t === t) recs[recs.length - 1] = p;
      else {
        recs.push(p);
        head.points++;
        head.bytes += MetricStoreLimits.headRecordBytes + 8 * recordWidth(d);
      }
    }
    if (row.exemplars.length > 0) {
      let ex = head.exemplars.get(id);
      if (ex === undefined) head.exemplars.set(id, (ex = []));
      for (const e of row.exemplars) {
        ex.push({ pointT: t, exemplar: e });
        head.bytes += MetricStoreLimits.headExemplarBytes;
      }
    }
    return null;
  }

  /**
   * #seriesOf is the series id of a row (creating the series when new), or why
   * it is refused: the identity memo, then the registry.
   */
  #seriesOf(tenant: string, row: MetricPointRow): number | Refusal {
    const reg = this.#registry;
    const known = this.#useMemo ? this.#idMemo.get(tenant, row) : -1;
    if (known >= 0) return known;
    let id = reg.prepare(tenant, row.name, seriesLabels(row));
    if (id === PREPARE_REFUSED) {
      const err = reg.refusal;
      assert(err !== null, 'a refused prepare says why');
      return { code: err.code, reason: err.message };
    }
    if (id === PREPARE_NEW) {
      if (reg.size >= this.#seriesMax) return { code: 'ERR_LIMIT_EXCEEDED', reason: `series limit ${this.#seriesMax} reached, new series refused` };
      id = reg.create();
      assert(id >= 0, 'create succeeds under seriesMax');
      const info = reg.info(id);
      this.#index.add(id, info.tenant, info.name, info.labels);
      this.#register(id, tenant, isFloatPoint(row.data));
    }
    if (this.#useMemo) this.#idMemo.set(tenant, row, id);
    return id;
  }

  /** #touch records that series id got a point at t in `head` (last timestamp, head time bounds). */
  #touch(head: Head, id: number, t: number): void {
    this.#lastT[id] = t;
    if (t < head.minT) head.minT = t;
    if (t > head.maxT) head.maxT = t;
  }

  /** #appendFloat adds (t, v) to series id's float column in `head` (t >= its last timestamp: replaces at equal t). */
  #appendFloat(head: Head, id: number, t: number, v: number): void {
    this.#floatT[0] = t;
    this.#floatV[0] = v;
    this.#appendAt(head, id, this.#floatT, this.#floatV, 0);
  }

  /**
   * #appendAt is #appendFloat of (ts[i], vs[i]): the columnar add passes its
   * entry's columns and an index, never a float, down the calls V8 may not
   * inline, where a float argument is boxed (FloatHead.pushAt).
   */
  #appendAt(head: Head, id: number, ts: Float64Array, vs: Float64Array, i: number): void {
    const t = ts[i] as number;
    this.#lastT[id] = t;
    if (t < head.minT) head.minT = t;
    if (t > head.maxT) head.maxT = t;
    if (head.floats.pushAt(id, ts, vs, i)) {
      head.points++;
      head.bytes += MetricStoreLimits.headSampleBytes;
    }
  }

  #register(id: number, tenant: string, isFloat?: boolean): void {
    assert(id === this.#tenantOf.length, 'series ids are registered in order');
    this.#tenantOf.push(tenant);
    this.#descs.register(id);
    if (isFloat === undefined) {
      const type = this.#registry.info(id).labels.find((l) => l.name === 'otel_type')?.value;
      isFloat = type === 'gauge' || type === 'sum';
    }
    this.#isFloat.push(isFloat);
    if (id >= this.#lastT.length) {
      const grown = new Float64Array(this.#lastT.length * 2);
      grown.fill(-Infinity);
      grown.set(this.#lastT);
      this.#lastT = grown;
    }
    this.#lastT[id] = -Infinity;
  }

  headBytes(): number {
    return this.#head.bytes + (this.#frozen?.bytes ?? 0);
  }

  headRows(): number {
    return this.#head.rows;
  }

  // ---------------------------------------------------------------- flush

  freeze(): void {
    assert(this.#frozen === null, 'at most one frozen head');
    const h = this.#head;
    h.seriesTo = this.#registry.size;
    const pages = new Set<number>();
    for (const id of h.floats.keys()) pages.add(Math.floor(id / LAST_T_PAGE_SERIES));
    for (const id of h.records.keys()) pages.add(Math.floor(id / LAST_T_PAGE_SERIES));
    for (let id = h.seriesFrom; id < h.seriesTo; id++) pages.add(Math.floor(id / LAST_T_PAGE_SERIES));
    for (const p of [...pages].sort((a, b) => a - b)) {
      const from = p * LAST_T_PAGE_SERIES;
      const to = Math.min(from + LAST_T_PAGE_SERIES, h.seriesTo);
      h.lastTPages.set(p, this.#lastT.slice(from, to));
    }
    h.descPages = this.#descs.freeze(h.seriesTo);
    this.#frozen = h;
    this.#head = new Head(h.seriesTo);
  }

  async writeFrozen(ctx: FlushContext): Promise<FlushReport> {
    const h = this.#frozen;
    assert(h !== null, 'writeFrozen after freeze');
    assert(Number.isSafeInteger(ctx.flushIndex) && ctx.flushIndex >= 0, 'flushIndex is a safe integer');
    h.flushIndex = ctx.flushIndex;
    const batch = ctx.batch;
    const fi = ctx.flushIndex;
    const B = MetricStoreLimits.bucketMs;
    let dataBytes = 0;
    let indexBytes = 0;
    let blocks = 0;
    const perTenant = new Map<string, StatCounts>();
    const perBucket = new Map<string, Map<number, StatCounts>>();
    const tenantCounts = (tenant: string): StatCounts => {
      let c = perTenant.get(tenant);
      if (c === undefined) perTenant.set(tenant, (c = emptyCounts()));
      return c;
    };
    const bucketCounts = (tenant: string, bucket: number): StatCounts => {
      let m = perBucket.get(tenant);
      if (m === undefined) perBucket.set(tenant, (m = new Map()));
      let c = m.get(bucket);
      if (c === undefined) m.set(bucket, (c = emptyCounts()));
      return c;
    };
    const putData = (tenant: string, bucket: number, k: Uint8Array, v: Uint8Array, samples: number): void => {
      batch.put(k, v);
      const bytes = k.length + v.length;
      dataBytes += bytes;
      blocks++;
      const tc = tenantCounts(tenant);
      tc.dataBytes += bytes;
      tc.samples += samples;
      const bc = bucketCounts(tenant, bucket);
      bc.dataBytes += bytes;
      bc.samples += samples;
      bc.keys++;
    };

    // New series: one page per tenant.
    const newByTenant = new Map<string, number[]>();
    for (let id = h.seriesFrom; id < h.seriesTo; id++) {
      const tenant = this.#tenantOf[id] as string;
      let ids = newByTenant.get(tenant);
      if (ids === undefined) newByTenant.set(tenant, (ids = []));
      ids.push(id);
    }
    for (const [tenant, ids] of newByTenant) {
      const v = encodeSeriesPage(ids, ids.map((id) => this.#registry.info(id)));
      const k = seriesPageKey(tenant, ids[0] as number);
      batch.put(k, v);
      indexBytes += k.length + v.length;
      const tc = tenantCounts(tenant);
      tc.indexBytes += k.length + v.length;
      tc.series += ids.length;
    }
    // Last timestamps of every series the head touched or created.
    let lastTBytes = 0;
    for (const [p, values] of h.lastTPages) {
      const k = lastTPageKey(p);
      const v = encodeLastTPage(values);
      batch.put(k, v);
      lastTBytes += k.length + v.length;
      this.#lastTPageBytes.set(p, k.length + v.length);
    }
    indexBytes += lastTBytes;
    for (const [p, descs] of h.descPages) {
      const k = descriptionPageKey(p);
      const v = encodeDescriptionPage(descs);
      batch.put(k, v);
      indexBytes += k.length + v.length;
    }

    // Float samples: rollups per series and bucket; chunk blocks per (tenant, bucket, id page), with shared timestamp
    // columns. Series come in id order, so a page's blocks are complete (and written, and their columns() copies
    // dropped) when the next page starts: at most one page of copies is held.
    const chunkBlocks = new Map<string, { tenant: string; bucket: number; page: number; series: ChunkBlockSeries[]; samples: number }>();
    const writeChunkBlocks = (): void => {
      for (const b of chunkBlocks.values()) {
        const parts = this.#blockEncoder.encode(b.page, b.series, this.#chunkSamples);
        // The bucket's samples are counted once, with part 0.
        parts.forEach((v, part) => putData(b.tenant, b.bucket, chunkBlockKey(b.tenant, b.bucket, b.page, fi, part), v, part === 0 ? b.samples : 0));
      }
      chunkBlocks.clear();
    };
    let openPage = -1;
    for (const id of sortedKeys(h.floats)) {
      const cols = h.floats.get(id) as FloatColumns;
      const tenant = this.#tenantOf[id] as string;
      const page = chunkBlockPage(id);
      if (page !== openPage) {
        writeChunkBlocks();
        // One id page per step: a large flush leaves the event loop between its pages (flush-pacer.ts).
        if (ctx.pace !== undefined) await ctx.pace();
      }
      openPage = page;
      const all = cols.columns();
      forEachBucket(all.ts, cols.n, B, (bucket, from, to) => {
        const ts = all.ts.subarray(from, to);
        const vs = all.vs.subarray(from, to);
        const blockId = `${bucket}:${tenant}`;
        let block = chunkBlocks.get(blockId);
        if (block === undefined) chunkBlocks.set(blockId, (block = { tenant, bucket, page, series: [], samples: 0 }));
        block.series.push({ id, ts, vs });
        block.samples += to - from;
        for (const { res, tag } of ROLLUP_RESOLUTIONS) {
          const W = ROLLUP_WINDOW_MS[res];
          const partials = partialsOf(ts, vs, to - from, W);
          putData(tenant, bucket, rollupKey(MetricKeySpace.Rollups, tenant, tag, bucket, id, fi), encodeRollups(partials, bucket * B, W, this.#encoder), 0);
        }
      });
    }
    writeChunkBlocks();
    // Histogram and summary records.
    for (const id of sortedKeys(h.records)) {
      const recs = h.records.get(id) as RecordPoint[];
      const tenant = this.#tenantOf[id] as string;
      const ts = recs.map((r) => r.t);
      forEachBucket(ts, ts.length, B, (bucket, from, to) => {
        const part = recs.slice(from, to);
        putData(tenant, bucket, dataKey(MetricKeySpace.Records, tenant, bucket, id, fi), encodeRecords(part), to - from);
        for (const { res, tag } of ROLLUP_RESOLUTIONS) {
          const partials = recordPartialsOf(part, ROLLUP_WINDOW_MS[res]);
          putData(tenant, bucket, rollupKey(MetricKeySpace.RecordRollups, tenant, tag, bucket, id, fi), encodeRecordRollups(partials, bucket * B), 0);
        }
      });
    }
    // Exemplars, by the bucket of their point.
    for (const id of sortedKeys(h.exemplars)) {
      const ex = h.exemplars.get(id) as StoredExemplar[];
      const tenant = this.#tenantOf[id] as string;
      const ts = ex.map((e) => e.pointT);
      forEachBucket(ts, ts.length, B, (bucket, from, to) => {
        putData(tenant, bucket, dataKey(MetricKeySpace.Exemplars, tenant, bucket, id, fi), encodeExemplars(ex.slice(from, to)), 0);
      });
    }
    // Bucket stats and tenant stats.
    for (const [tenant, buckets] of perBucket) {
      for (const [bucket, c] of buckets) {
        c.keys++; // the stat key itself
        const k = bucketStatKey(tenant, bucket, fi);
        const v = encodeStats(c);
        batch.put(k, v);
        indexBytes += k.length + v.length;
        tenantCounts(tenant).indexBytes += k.length + v.length;
        this.#bucketSet(tenant).add(bucket);
        let mine = h.buckets.get(tenant);
        if (mine === undefined) h.buckets.set(tenant, (mine = new Set()));
        mine.add(bucket);
      }
    }
    for (const [tenant, c] of perTenant) {
      const s = this.#tenantStatsOf(tenant);
      s.series += c.series;
      s.samples += c.samples;
      s.dataBytes += c.dataBytes;
      s.indexBytes += c.indexBytes;
      const k = tenantStatsKey(tenant);
      const v = encodeStats(s);
      batch.put(k, v);
      indexBytes += k.length + v.length;
    }
    return { rows: h.points, blocks, dataBytes, indexBytes };
  }

  dropFrozen(): void {
    assert(this.#frozen !== null, 'dropFrozen after freeze');
    this.#frozen = null;
  }

  async expire(ctx: FlushContext, cutoffs: RetentionCutoffs): Promise<ExpireReport> {
    const B = MetricStoreLimits.bucketMs;
    let buckets = 0;
    let keys = 0;
    for (const tenant of [...this.#stats.keys()].sort()) {
      const cutoffNs = cutoffs.byTenant.has(tenant) ? cutoffs.byTenant.get(tenant) : cutoffs.defaultBeforeNs;
      if (cutoffNs === null || cutoffNs === undefined) continue;
      const cutoffMs = timestampMs(cutoffNs < 0n ? 0n : cutoffNs);
      // A bucket goes when all of it is before the cutoff.
      const firstKept = Math.floor(cutoffMs / B);
      const set = this.#buckets.get(tenant);
      if (set === undefined) continue;
      // A bucket the frozen head's flush writes into may not be visible in ctx.kv yet: it waits for a later pass.
      const frozenBuckets = this.#frozen?.buckets.get(tenant);
      for (const bucket of [...set].filter((b) => b < firstKept && frozenBuckets?.has(b) !== true).sort((a, b) => a - b)) {
        if (keys >= MetricStoreLimits.expireKeysPerPassMax) return { buckets, keys };
        const gone = emptyCounts();
        const statPrefix = key(MetricKeySpace.BucketStats).tenant(tenant).u64(bucket).build();
        for await (const page of ctx.kv.pages(prefixRange(statPrefix))) {
          for (const e of page) {
            const c = decodeStats(e.value);
            gone.samples += c.samples;
            gone.dataBytes += c.dataBytes;
            gone.indexBytes += e.key.length + e.value.length;
            ctx.batch.del(e.key);
            keys++;
          }
        }
        const prefixes = [
          dataKeyPrefix(MetricKeySpace.Chunks, tenant, bucket),
          dataKeyPrefix(MetricKeySpace.Records, tenant, bucket),
          dataKeyPrefix(MetricKeySpace.Exemplars, tenant, bucket),
          ...ROLLUP_RESOLUTIONS.map(({ tag }) => rollupKeyPrefix(MetricKeySpace.Rollups, tenant, tag, bucket)),
          ...ROLLUP_RESOLUTIONS.map(({ tag }) => rollupKeyPrefix(MetricKeySpace.RecordRollups, tenant, tag, bucket)),
        ];
        for (const p of prefixes) {
          for await (const page of ctx.kv.pages(prefixRange(p))) {
            for (const e of page) {
              ctx.batch.del(e.key);
              keys++;
            }
          }
        }
        const s = this.#tenantStatsOf(tenant);
        s.samples -= gone.samples;
        s.dataBytes -= gone.dataBytes;
        s.indexBytes -= gone.indexBytes;
        assert(s.samples >= 0 && s.dataBytes >= 0 && s.indexBytes >= 0, 'stats stay non-negative');
        ctx.batch.put(tenantStatsKey(tenant), encodeStats(s));
        set.delete(bucket);
        buckets++;
      }
    }
    return { buckets, keys };
  }

  stats(): SignalStats {
    let rows = 0;
    let series = 0;
    let dataBytes = 0;
    let indexBytes = 0;
    for (const s of this.#stats.values()) {
      rows += s.samples;
      series += s.series;
      dataBytes += s.dataBytes;
      indexBytes += s.indexBytes;
    }
    for (const b of this.#lastTPageBytes.values()) indexBytes += b;
    return { rows, secondary: series, dataBytes, indexBytes };
  }

  /** tenantStats is one tenant's durable counts (shard-wide lastT pages are not split by tenant). */
  tenantStats(tenant: string): TenantStats {
    const s = this.#stats.get(tenant);
    if (s === undefined) return { rows: 0, secondary: 0, dataBytes: 0, indexBytes: 0 };
    return { rows: s.samples, secondary: s.series, dataBytes: s.dataBytes, indexBytes: s.indexBytes };
  }

  #tenantStatsOf(tenant: string): StatCounts {
    let s = this.#stats.get(tenant);
    if (s === undefined) this.#stats.set(tenant, (s = emptyCounts()));
    return s;
  }

  #bucketSet(tenant: string): Set<number> {
    let s = this.#buckets.get(tenant);
    if (s === undefined) this.#buckets.set(tenant, (s = new Set()));
    return s;
  }

  // ---------------------------------------------------------------- reads

  /** labelNames is the tenant's label names (with `__name__`), of the series matching `matchers` when given; sorted. */
  labelNames(tenant: string, matchers?: readonly Matcher[]): string[] {
    if (matchers === undefined) return this.#index.labelNames(tenant);
    const names = new Set<string>();
    for (const id of this.#index.select(tenant, matchers)) {
      names.add(METRIC_NAME_LABEL);
      for (const l of this.#registry.info(id).labels) names.add(l.name);
    }
    return [...names].sort(compareCodePoints);
  }

  /** labelValues is the tenant's values of one label, of the series matching `matchers` when given; sorted. */
  labelValues(tenant: string, name: string, matchers?: readonly Matcher[]): string[] {
    if (matchers === undefined) return this.#index.labelValues(tenant, name);
    const values = new Set<string>();
    for (const id of this.#index.select(tenant, matchers)) {
      const info = this.#registry.info(id);
      const v = name === METRIC_NAME_LABEL ? info.name : info.labels.find((l) => l.name === name)?.value;
      if (v !== undefined) values.add(v);
    }
    return [...values].sort(compareCodePoints);
  }

  /**
   * seriesInfo is a series' identity (its raw OTLP name and stored labels),
   * its description (series-descriptions.ts: its latest point's) and whether it holds float samples (gauges, sums) rather than records:
   * the query layer's Prometheus view (query/metrics-prom-view.ts) maps it
   * without reading data. The id must be one seriesIds answered.
   */
  seriesInfo(id: number): { readonly name: string; readonly labels: Labels; readonly isFloat: boolean; readonly description: string } {
    const info = this.#registry.info(id);
    return { name: info.name, labels: info.labels, isFloat: this.#isFloat[id] === true, description: this.#descs.get(id) };
  }

  /** seriesIds is the sorted ids of the tenant's series matching every matcher (label-index.ts semantics). */
  seriesIds(tenant: string, matchers: readonly Matcher[]): Uint32Array {
    return this.#index.select(tenant, matchers);
  }

  /**
   * select yields the float series (gauges, sums) matching `matchers`, in
   * batches of at most selectSeriesPerBatchMax series, with their samples in
   * [minMs, maxMs] merged across flushed chunks, the frozen head and the head
   * (sorted, one per timestamp, the latest write winning) — or, with
   * resolution 5m or 1h, one rollup point per window whose start is in
   * [floor(minMs / window) × window, maxMs]. A series without data in range
   * is left out. A damaged value throws ERR_CORRUPTION.
   *
   * Batches are bounded in series and in time: the range is cut into slices
   * of at most selectBucketsPerBatchMax buckets (those holding data, on disk
   * or in a head), so one series may come in several consecutive batches, each
   * with a later, disjoint slice of its samples; a batch is never empty.
   */
  async *select(
    kv: KvRead,
    tenant: string,
    matchers: readonly Matcher[],
    minMs: number,
    maxMs: number,
    opts: SelectOptions,
    stats: ScanStats,
  ): AsyncGenerator<(SeriesSamples | SeriesRollups)[]> {
    const resolution = opts.resolution ?? (opts.stepMs === undefined ? 'raw' : pickResolution(opts.stepMs));
    const ids = [...this.#index.select(tenant, matchers)].filter((id) => this.#isFloat[id] === true && (opts.only === undefined || opts.only.has(id)));
    const slices = this.#slices(tenant, minMs, maxMs, stats);
    for (const group of batches(ids)) {
      for (const [lo, hi, buckets] of slices) {
        const out =
          resolution === 'raw' ? await this.#selectRaw(kv, tenant, group, lo, hi, buckets, stats, opts.columns) : await this.#selectRollups(kv, tenant, group, lo, hi, buckets, resolution, stats);
        if (out.length > 0) yield out;
      }
    }
  }

  /** selectRecords yields the histogram and summary series matching `matchers` (and in `only`, when given) with their points (and exemplars) in [minMs, maxMs]. */
  async *selectRecords(kv: KvRead, tenant: string, matchers: readonly Matcher[], minMs: number, maxMs: number, stats: ScanStats, only?: ReadonlySet<number>): AsyncGenerator<SeriesRecords[]> {
    const ids = [...this.#index.select(tenant, matchers)].filter((id) => this.#isFloat[id] === false && (only === undefined || only.has(id)));
    const slices = this.#slices(tenant, minMs, maxMs, stats);
    for (const group of batches(ids)) for (const [lo, hi, buckets] of slices) {
      const parts = await this.#readDurable(kv, MetricKeySpace.Records, tenant, group, buckets, stats, (v) => decodeRecords(v));
      const exParts = await this.#readDurable(kv, MetricKeySpace.Exemplars, tenant, group, buckets, stats, (v) => decodeExemplars(v));
      const out: SeriesRecords[] = [];
      for (const id of group) {
        const all: RecordPoint[] = [];
        for (const p of parts.get(id) ?? []) all.push(...p);
        for (const h of this.#heads()) {
          const r = h.records.get(id);
          if (r !== undefined) {
            stats.headRowsScanned += r.length;
            all.push(...r);
          }
        }
        const points = lastWins(all, (p) => p.t).filter((p) => p.t >= lo && p.t <= hi);
        const exemplars = this.#exemplarsOf(id, exParts.get(id), lo, hi, stats);
        if (points.length === 0 && exemplars.length === 0) continue;
        const info = this.#registry.info(id);
        out.push({ seriesId: id, name: info.name, labels: info.labels, points, exemplars });
      }
      if (out.length > 0) yield out;
    }
  }

  /**
   * selectRecordRollups yields the histogram and summary series matching
   * `matchers` with one rollup point per window (count, sum, bucket sums of
   * explicit histograms; record-rollup.ts) whose start is in
   * [floor(minMs / window) × window, maxMs].
   */
  async *selectRecordRollups(
    kv: KvRead,
    tenant: string,
    matchers: readonly Matcher[],
    minMs: number,
    maxMs: number,
    resolution: Exclude<Resolution, 'raw'>,
    stats: ScanStats,
  ): AsyncGenerator<SeriesRecordRollups[]> {
    const W = ROLLUP_WINDOW_MS[resolution];
    const tag = (ROLLUP_RESOLUTIONS.find((r) => r.res === resolution) as { tag: number }).tag;
    const B = MetricStoreLimits.bucketMs;
    const ids = [...this.#index.select(tenant, matchers)].filter((id) => this.#isFloat[id] === false);
    const slices = this.#slices(tenant, minMs, maxMs, stats);
    for (const group of batches(ids)) for (const [lo, hi, buckets] of slices) {
      // Slices start at bucket starts (multiples of every window) except the first, which starts at minMs.
      const fromMs = Math.floor(lo / W) * W;
      const parts = await this.#readDurable(kv, MetricKeySpace.RecordRollups, tenant, group, buckets, stats, (v, bucket) => decodeRecordRollups(v, bucket * B), tag);
      const out: SeriesRecordRollups[] = [];
      for (const id of group) {
        const byWindow = new Map<number, RecordRollupPartial>();
        const merge = (ps: readonly RecordRollupPartial[]): void => {
          for (const p of ps) {
            if (p.startMs < fromMs || p.startMs > hi) continue;
            const cur = byWindow.get(p.startMs);
            if (cur === undefined) byWindow.set(p.startMs, p);
            else mergeRecordInto(cur, p);
          }
        };
        for (const p of parts.get(id) ?? []) merge(p);
        for (const h of this.#heads()) {
          const recs = h.records.get(id);
          if (recs === undefined) continue;
          stats.headRowsScanned += recs.length;
          merge(recordPartialsOf(recs, W));
        }
        if (byWindow.size === 0) continue;
        const info = this.#registry.info(id);
        const points = [...byWindow.values()].sort((a, b) => a.startMs - b.startMs).map(recordPointOf);
        out.push({ seriesId: id, name: info.name, labels: info.labels, resolution, points });
      }
      if (out.length > 0) yield out;
    }
  }

  /** selectExemplars yields the exemplars, in [minMs, maxMs] by their point's time, of every series matching `matchers`. */
  async *selectExemplars(kv: KvRead, tenant: string, matchers: readonly Matcher[], minMs: number, maxMs: number, stats: ScanStats): AsyncGenerator<SeriesExemplars[]> {
    const ids = [...this.#index.select(tenant, matchers)];
    const slices = this.#slices(tenant, minMs, maxMs, stats);
    for (const group of batches(ids)) for (const [lo, hi, buckets] of slices) {
      const exParts = await this.#readDurable(kv, MetricKeySpace.Exemplars, tenant, group, buckets, stats, (v) => decodeExemplars(v));
      const out: SeriesExemplars[] = [];
      for (const id of group) {
        const exemplars = this.#exemplarsOf(id, exParts.get(id), lo, hi, stats);
        if (exemplars.length === 0) continue;
        const info = this.#registry.info(id);
        out.push({ seriesId: id, name: info.name, labels: info.labels, exemplars });
      }
      if (out.length > 0) yield out;
    }
  }

  #exemplarsOf(id: number, durable: StoredExemplar[][] | undefined, minMs: number, maxMs: number, stats: ScanStats): StoredExemplar[] {
    const all: StoredExemplar[] = [];
    for (const p of durable ?? []) all.push(...p);
    for (const h of this.#heads()) {
      const e = h.exemplars.get(id);
      if (e !== undefined) {
        stats.headRowsScanned += e.length;
        all.push(...e);
      }
    }
    // Stable: exemplars of one point time keep their write order.
    return all.filter((e) => e.pointT >= minMs && e.pointT <= maxMs).sort((a, b) => a.pointT - b.pointT);
  }

  /** #heads is the frozen head (if any) and the head, in write order. */
  #heads(): Head[] {
    return this.#frozen === null ? [this.#head] : [this.#frozen, this.#head];
  }

  async #selectRaw(kv: KvRead, tenant: string, group: number[], minMs: number, maxMs: number, buckets: readonly number[], stats: ScanStats, columns?: ColumnAlloc): Promise<SeriesSamples[]> {
    const parts = await this.#readChunkBlocks(kv, tenant, group, buckets, stats, columns);
    const out: SeriesSamples[] = [];
    for (const id of group) {
      // The decoded parts and the heads' copies are this read's own: mergeRuns may answer views of them.
      const durable = parts.get(id);
      const runs: SampleRun[] = durable === undefined ? [] : [durable];
      for (const h of this.#heads()) {
        const cols = h.floats.get(id);
        if (cols === undefined) continue;
        stats.headRowsScanned += cols.n;
        stats.samplesDecoded = (stats.samplesDecoded ?? 0) + cols.n;
        runs.push(cols.columns());
      }
      const merged = mergeRuns(runs, minMs, maxMs, columns);
      if (merged.timestamps.length === 0) continue;
      const info = this.#registry.info(id);
      out.push({ kind: 'samples', seriesId: id, name: info.name, labels: info.labels, ...merged });
    }
    return out;
  }

  async #selectRollups(
    kv: KvRead,
    tenant: string,
    group: number[],
    minMs: number,
    maxMs: number,
    buckets: readonly number[],
    resolution: Exclude<Resolution, 'raw'>,
    stats: ScanStats,
  ): Promise<SeriesRollups[]> {
    const W = ROLLUP_WINDOW_MS[resolution];
    const tag = (ROLLUP_RESOLUTIONS.find((r) => r.res === resolution) as { tag: number }).tag;
    const B = MetricStoreLimits.bucketMs;
    const fromMs = Math.floor(minMs / W) * W;
    const it = new ChunkIterator();
    const parts = await this.#readDurable(kv, MetricKeySpace.Rollups, tenant, group, buckets, stats, (v, bucket) => decodeRollups(v, bucket * B, W, it), tag);
    const out: SeriesRollups[] = [];
    for (const id of group) {
      const byWindow = new Map<number, RollupPartial>();
      const merge = (ps: readonly RollupPartial[]): void => {
        for (const p of ps) {
          if (p.startMs < fromMs || p.startMs > maxMs) continue;
          const cur = byWindow.get(p.startMs);
          if (cur === undefined) byWindow.set(p.startMs, { ...p });
          else mergeInto(cur, p);
        }
      };
      for (const p of parts.get(id) ?? []) merge(p);
      for (const h of this.#heads()) {
        const cols = h.floats.get(id);
        if (cols === undefined) continue;
        stats.headRowsScanned += cols.n;
        const c = cols.columns();
        merge(partialsOf(c.ts, c.vs, cols.n, W));
      }
      if (byWindow.size === 0) continue;
      const points = [...byWindow.values()].sort((a, b) => a.startMs - b.startMs).map(pointOf);
      const info = this.#registry.info(id);
      out.push({ kind: 'rollups', seriesId: id, name: info.name, labels: info.labels, resolution, points });
    }
    return out;
  }

  /**
   * #slices cuts [minMs, maxMs] into time slices of at most #bucketsPerBatch
   * buckets that hold data (on disk for the tenant, or in a head), each with
   * its durable buckets: [lo, hi, buckets]. Buckets on disk outside the range
   * count as blocksPrunedTime.
   */
  #slices(tenant: string, minMs: number, maxMs: number, stats: ScanStats): [number, number, number[]][] {
    if (!(minMs <= maxMs)) return [];
    const B = MetricStoreLimits.bucketMs;
    const lo = Math.floor(minMs / B);
    const hi = Math.floor(maxMs / B);
    const durable = new Set<number>();
    for (const b of this.#buckets.get(tenant) ?? []) {
      if (b < lo || b > hi) stats.blocksPrunedTime++;
      else durable.add(b);
    }
    const all = new Set(durable);
    for (const h of this.#heads()) {
      if (!(h.minT <= h.maxT)) continue;
      const from = Math.max(lo, Math.floor(h.minT / B));
      const to = Math.min(hi, Math.floor(h.maxT / B));
      for (let b = from; b <= to; b++) all.add(b);
    }
    const sorted = [...all].sort((a, b) => a - b);
    const out: [number, number, number[]][] = [];
    for (let i = 0; i < sorted.length; i += this.#bucketsPerBatch) {
      const part = sorted.slice(i, i + this.#bucketsPerBatch);
      const first = part[0] as number;
      const last = part[part.length - 1] as number;
      out.push([Math.max(minMs, first * B), Math.min(maxMs, (last + 1) * B - 1), part.filter((b) => durable.has(b))]);
    }
    return out;
  }

  /**
   * #readChunkBlocks reads the float samples of the series `group` (sorted
   * ids) in `buckets` (sorted) from the chunk blocks of their id pages: per
   * series one run holding its blocks' samples in (bucket, flushIndex) order
   * — write order — with `increasing` false when they do not strictly
   * increase across blocks (a time rewritten by a later flush). Every block
   * is opened first (ChunkBlockDecoder.open: verified, sample counts known)
   * and then decoded straight into its series' run, sized once. The durable
   * copy of the frozen head is skipped, as in #readDurable. The columns
   * come from `columns` when given (column-pool.ts), else are allocated.
   */
  async #readChunkBlocks(kv: KvRead, tenant: string, group: number[], buckets: readonly number[], stats: ScanStats, columns?: ColumnAlloc): Promise<Map<number, SampleRun>> {
    const out = new Map<number, SampleRun>();
    if (group.length === 0) return out;
    const wanted = new Set(group);
    const skipFlush = this.#frozen?.flushIndex ?? -1;
    const firstPage = chunkBlockPage(group[0] as number);
    const lastPage = chunkBlockPage(group[group.length - 1] as number);
    const prefixBytes = tenantPrefix(MetricKeySpace.Chunks, tenant).length;
    const dec = new ChunkBlockDecoder();
    const blocks: OpenChunkBlock[] = [];
    const totals = new Map<number, number>();
    const times = new SharedTimes(columns);
    for (const bucket of buckets) {
      const range = { gte: dataKeyPrefix(MetricKeySpace.Chunks, tenant, bucket, firstPage), lt: dataKeyPrefix(MetricKeySpace.Chunks, tenant, bucket, lastPage + 1) };
      for await (const page of kv.pages(range)) {
        for (const e of page) {
          const f = parseChunkBlockKey(e.key, prefixBytes);
          if (f.flushIndex === skipFlush) continue;
          stats.blocksScanned++;
          stats.bytesRead += e.value.length;
          const block = dec.open(e.value, f.page, wanted);
          blocks.push(block);
          for (let k = 0; k < block.ids.length; k++) {
            const id = block.ids[k] as number;
            totals.set(id, (totals.get(id) ?? 0) + (block.counts[k] as number));
            times.note(id, blocks.length - 1, block.refs[k] as number);
          }
        }
      }
    }
    const runs = new Map<number, { ts: Float64Array; vs: Float64Array; bits: Uint32Array; filled: number; increasing: boolean; facts: number }>();
    // Series that read the same column in every block share one times array (shared-times.ts).
    for (const [id, n] of totals) {
      const vs = columns?.take(n) ?? new Float64Array(n);
      runs.set(id, { ts: times.timesFor(id, n), vs, bits: new Uint32Array(vs.buffer, vs.byteOffset, 2 * n), filled: 0, increasing: true, facts: 0 });
    }
    // How far each times array is decoded: a series sharing its times array (shared-times.ts) with one decoded before it in this block decodes values only.
    const timesTo = new Map<Float64Array, number>();
    for (const block of blocks) {
      for (let k = 0; k < block.ids.length; k++) {
        const run = runs.get(block.ids[k] as number);
        assert(run !== undefined, 'every opened series has a run');
        const at = run.filled;
        const to = at + (block.counts[k] as number);
        const held = (timesTo.get(run.ts) ?? 0) >= to;
        const facts = dec.decodeInto(block, k, run.ts, run.vs, at, run.bits, held);
        if (!held) timesTo.set(run.ts, to);
        run.facts = at === 0 ? facts : joinFacts(run.facts, facts, run.vs, at, to - at);
        run.filled = to;
        if (at > 0 && run.filled > at && !((run.ts[at] as number) > (run.ts[at - 1] as number))) run.increasing = false;
      }
    }
    let decoded = 0;
    for (const [id, run] of runs) {
      assert(run.filled === run.ts.length, 'every counted sample decoded');
      decoded += run.filled;
      // Facts in time order only: runs whose times go back are sorted by mergeRuns, which drops them.
      out.set(id, run.increasing ? { ts: run.ts, vs: run.vs, facts: run.facts } : { ts: run.ts, vs: run.vs, increasing: false });
    }
    stats.samplesDecoded = (stats.samplesDecoded ?? 0) + decoded;
    return out;
  }

  /**
   * #readDurable reads the values of `space` (or of rollup `tag`) of the
   * series `group` (sorted ids) in `buckets` (sorted), decoded per value, per
   * series in (bucket, flushIndex) order — that is, in write order. Inside a
   * bucket it seeks the id range of the group only. The durable copy of the
   * frozen head (written, not yet dropped) is skipped: the frozen head is read
   * from memory.
   */
  async #readDurable<T>(
    kv: KvRead,
    space: number,
    tenant: string,
    group: number[],
    buckets: readonly number[],
    stats: ScanStats,
    decode: (value: Uint8Array, bucket: number) => T,
    tag?: number,
  ): Promise<Map<number, T[]>> {
    const out = new Map<number, T[]>();
    if (group.length === 0) return out;
    const wanted = new Set(group);
    const skipFlush = this.#frozen?.flushIndex ?? -1;
    const firstId = group[0] as number;
    const lastId = group[group.length - 1] as number;
    const prefixBytes = tenantPrefix(space, tenant).length + (tag === undefined ? 0 : 1);
    for (const bucket of buckets) {
      const start = tag === undefined ? dataKeyPrefix(space, tenant, bucket, firstId) : rollupKeyPrefix(space, tenant, tag, bucket, firstId);
      const end = tag === undefined ? dataKeyPrefix(space, tenant, bucket, lastId + 1) : rollupKeyPrefix(space, tenant, tag, bucket, lastId + 1);
      for await (const page of kv.pages({ gte: start, lt: end })) {
        for (const e of page) {
          const f = parseDataKey(e.key, prefixBytes);
          if (f.flushIndex === skipFlush) continue;
          if (!wanted.has(f.seriesId)) {
            stats.blocksPrunedIndex++;
            continue;
          }
          stats.blocksScanned++;
          stats.bytesRead += e.value.length;
          let list = out.get(f.seriesId);
          if (list === undefined) out.set(f.seriesId, (list = []));
          list.push(decode(e.value, bucket));
        }
      }
    }
    return out;
  }
}

function recordWidth(d: RecordData): number {
  if (d.type === 'histogram') return d.bucketCounts.length + d.bounds.length;
  if (d.type === 'summary') return d.quantiles.length * 2;
  return d.positive.bucketCounts.length + d.negative.bucketCounts.length;
}

function sortedKeys(m: { keys(): Iterable<number> }): number[] {
  return [...m.keys()].sort((a, b) => a - b);
}


function* batches(ids: number[]): Generator<number[]> {
  const n = MetricStoreLimits.selectSeriesPerBatchMax;
  for (let i = 0; i < ids.length; i += n) yield ids.slice(i, i + n);
}


function spaceRange(space: number): { gte: Uint8Array; lt: Uint8Array } {
  assert(space >= KeySpace.MetricsFirst && space <= KeySpace.MetricsLast, 'a metrics key space');
  return { gte: Uint8Array.of(space), lt: Uint8Array.of(space + 1) };
}

function prefixRange(prefix: Uint8Array): { gte: Uint8Array; lt: Uint8Array } {
  const end = prefixEnd(prefix);
  assert(end !== null, 'a metrics prefix has an end');
  return { gte: prefix, lt: end };
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** tenantOfKey reads the tenant of a `space tenant\0 …` key. */
function tenantOfKey(k: Uint8Array): string {
  const nul = k.indexOf(0, 1);
  if (nul < 0) throw new OtlpdbError('ERR_CORRUPTION', 'metrics key without a tenant terminator');
  return utf8.decode(k.subarray(1, nul));
}

/** batchBytes is a helper for tests and reports: the bytes a batch puts under the metrics key spaces. */
export function metricsBatchBytes(batch: KvWriteBatch): number {
  let n = 0;
  for (const op of batch.ops) if (op.type === 'put' && (op.key[0] as number) >= KeySpace.MetricsFirst && (op.key[0] as number) <= KeySpace.MetricsLast) n += op.key.length + (op.value?.length ?? 0);
  return n;
}
