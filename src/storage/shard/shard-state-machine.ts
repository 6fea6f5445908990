/**
 * shard-state-machine.ts — one shard replica: the DurableStateMachine the
 * multi-raft driver runs for groups 1..S (DESIGN.md §5, §6). It applies
 * committed shard entries (shard-entry.ts) into the in-memory heads of the
 * three signal stores, flushes them into LevelDB, restarts from its durable
 * index, and streams its durable state to a lagging replica.
 *
 * ## Files (under `dir`, one directory per replica)
 *
 *   db/                    the replica's LevelDB (ShardDb)
 *   stage-<index>/         a LevelDB being filled from a peer for the Raft snapshot at <index>
 *   stage-<index>.done     the marker: that stage is complete and synced
 *   old/                   the previous db/ during a swap
 *
 * ## Apply
 *
 * Per committed entry after appliedIndex: decode (a malformed entry stores
 * nothing and says so in its result), expire and consult the idempotency
 * window (a (key, part) it holds is a duplicate: nothing stored), hand the
 * rows to the stores, remember (key, part). The result (shard-records.ts
 * ShardApplyResult) is identical on every replica because every input to it
 * is replicated: the window uses entry time only, and stores never refuse
 * because of flush timing (signal-store.ts).
 *
 * ## Flush (driver-started; see "Durable state machines" in multi-raft.ts)
 *
 *   1. synchronously: freeze every store's head, snapshot the idempotency
 *      window, note index = appliedIndex (entries go on into new heads);
 *   2. build one batch: every store's blocks and indexes, the window and
 *      the meta record {appliedIndex: index};
 *   3. write it with fsync; then, in one synchronous step, drop the frozen
 *      heads and publish a new read view (so no reader sees a frozen head
 *      and the flushed blocks together, or neither);
 *   4. when a retention pass is due (every ShardLimits.retentionIntervalMs),
 *      the stores' deletions of expired buckets in a second fsynced batch.
 *
 * ## Restart
 *
 * open(): finish or discard a swap a crash interrupted (a complete stage is
 * swapped in only when the WAL's snapshot index says Raft accepted it), open
 * db/, read the meta record → durableIndex = appliedIndex, load the stores
 * and the window. Raft replays entries after it from the WAL.
 *
 * ## Snapshots
 *
 * Serving: a page request opens a session on an explicit LevelDB snapshot
 * (all of db/ from one point in time, at durableIndex >= the index asked
 * for) and returns bounded pages in key order; sessions are bounded in
 * number and closed when done or idle. Receiving: pages are written into
 * stage-<index>/, the last one with fsync, then the marker is written and
 * synced; installSnapshot swaps stage → db (rename, fsync the directory),
 * reopens and reloads. The installed state's own meta record says which
 * index it holds (>= the Raft snapshot's); later entries at or below it are
 * skipped.
 *
 * ## Invariants
 *
 * - durableIndex <= appliedIndex; the meta record in db/ says durableIndex.
 * - At most one flush runs (#flushing); installSnapshot and close wait for it.
 * - Head bytes <= headBytesHardMax + one entry's rows: the driver flushes
 *   before applying past the hard bound (mustFlushBeforeApply). With a node's
 *   HeadBudget (head-budget.ts), the replicas' heads together stay near its
 *   hard bound the same way, and proposals are refused past it.
 * - Serving sessions <= ShardLimits.snapshotSessionsMax; one stage at a time.
 * Owner: the driver owns the state machine's life cycle; the node's query
 * and ingest paths read through acquireRead() and headFull().
 */
import { mkdir, open as openFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtlpdbError, assert, isOtlpdbError } from '../../errors.js';
import { ShardLimits } from '../../limits.js';
import { EntryType } from '../../raft/types.js';
import type { Entry } from '../../raft/types.js';
import type { DurableStateMachine } from '../../raft/driver/state-machine.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { IdempotencyWindow } from '../idempotency.js';
import type { IdempotencyWindowOptions } from '../idempotency.js';
import type { LogRow, MetricPointRow, SpanRow } from '../rows.js';
import { decodeLogsOnlyEntry, decodeShardEntry } from '../shard-entry.js';
import { MetricEntryColumns, decodeMetricEntry, hasAddColumns } from '../metric-entry.js';
import { SpanEntryColumns, decodeSpanEntry, hasAddSpanColumns } from '../span-entry.js';
import { peekEntry } from '../entry-header.js';
import type { EntryPeek } from '../entry-header.js';
import { FlushPacer } from './flush-pacer.js';
import type { HeadBudget } from './head-budget.js';
import { KvWriteBatch, ShardDb } from './shard-db.js';
import type { KvView } from './shard-db.js';
import {
  IDEMPOTENCY_KEY,
  META_KEY,
  decodeShardMeta,
  decodeSnapshotDescriptor,
  encodeApplyResult,
  encodeShardMeta,
  encodeSnapshotDescriptor,
  streamDigest,
} from './shard-records.js';
import type { ApplyRefusal, ShardApplyResult, SnapshotPage, SnapshotPageRequest } from './shard-records.js';
import type { AddResult, FlushReport, RetentionCutoffs, Signal, SignalStats, SignalStore } from './signal-store.js';

/** ShardStores are the three signal stores of one replica. */
export interface ShardStores {
  readonly traces: SignalStore<SpanRow>;
  readonly metrics: SignalStore<MetricPointRow>;
  readonly logs: SignalStore<LogRow>;
}

/** SnapshotPeer is how a replica asks a peer for pages of its durable state (the node's peer transport). */
export interface SnapshotPeer {
  fetchPage(peer: number, request: SnapshotPageRequest): Promise<SnapshotPage>;
}

/** ShardStateMachineOptions configure one replica. */
export interface ShardStateMachineOptions {
  readonly group: number;
  readonly dir: string;
  readonly makeStores: () => ShardStores;
  readonly peer: SnapshotPeer;
  /** nowMs is the local wall clock: head age and retention only (never apply). */
  readonly nowMs: () => number;
  /** retention gives each signal's cutoffs now, or null when retention is off. */
  readonly retention?: () => Readonly<Record<Signal, RetentionCutoffs>> | null;
  readonly headBytesSoftMax?: number;
  readonly headBytesHardMax?: number;
  readonly headAgeMsMax?: number;
  readonly idempotency?: IdempotencyWindowOptions;
  /** flushPacer spreads flush steps over event-loop turns, shared by a node's replicas (flush-pacer.ts); default: one of its own. */
  readonly flushPacer?: FlushPacer;
  /** headBudget bounds the heads of a node's replicas together (head-budget.ts), shared by them; default: none. */
  readonly headBudget?: HeadBudget;
}

/** FlushSummary is what the last flush wrote, per signal. */
export interface FlushSummary {
  readonly index: number;
  readonly reports: Readonly<Record<Signal, FlushReport>>;
  readonly batchBytes: number;
  readonly expiredKeys: number;
}

/** ShardRead is a consistent read of a replica: the stores (heads included) and a LevelDB view from the same instant. */
export interface ShardRead {
  readonly stores: ShardStores;
  readonly kv: KvView;
  /** release must be called once when the read is done. */
  release(): Promise<void>;
}

const NO_RESULT = new Uint8Array(0);
const SIGNALS: readonly Signal[] = ['traces', 'metrics', 'logs'];
const DB = 'db';
const OLD = 'old';
const STAGE_PREFIX = 'stage-';
const DONE_SUFFIX = '.done';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const h = await openFile(path, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

interface ServingSession {
  readonly view: KvView;
  readonly it: AsyncGenerator<readonly { key: Uint8Array; value: Uint8Array }[]>;
  readonly durableIndex: number;
  lastUsedMs: number;
  /** pending is the iterator's current page and pendingAt the next entry of it to send. */
  pending: readonly { key: Uint8Array; value: Uint8Array }[];
  pendingAt: number;
  digest: { count: number; crc: number };
}

/** addRows hands one entry's rows of a signal to its store: with the entry bytes when the store keeps bytes (SignalStore.addEntry). */
function addRows<Row>(store: SignalStore<Row>, tenant: string, rows: readonly Row[], data: Uint8Array, entryTimeMs: number): AddResult {
  return store.addEntry !== undefined ? store.addEntry(tenant, rows, data, entryTimeMs) : store.add(tenant, rows, entryTimeMs);
}

/** ShardStateMachine is one shard replica on LevelDB; see the design at the top of this file. */
export class ShardStateMachine implements DurableStateMachine {
  readonly durable = true as const;
  readonly group: number;
  readonly dir: string;
  readonly #o: ShardStateMachineOptions;
  readonly #softMax: number;
  readonly #hardMax: number;
  readonly #ageMax: number;
  readonly #budget: HeadBudget | undefined;
  /** #inBudget: the replica is a member of #budget (from the end of open to close). */
  #inBudget = false;
  #db: ShardDb | null = null;
  #stores: ShardStores;
  #window: IdempotencyWindow;
  /** #metricColumns is reused by every points-only entry this replica applies (#applyMetricColumns). */
  readonly #metricColumns = new MetricEntryColumns();
  /** #spanColumns is reused by every spans-only entry this replica applies (#applySpanColumns). */
  readonly #spanColumns = new SpanEntryColumns();
  #applied = 0;
  #durable = 0;
  #flushes = 0;
  /** #pace is the flush steps' pacer's turn (flush-pacer.ts), handed to the stores in every FlushContext. */
  readonly #pace: () => Promise<void>;
  #flushing: Promise<number> | null = null;
  #headSinceMs: number | null = null;
  #lastRetentionMs = 0;
  #published: KvView | null = null;
  #lastFlush: FlushSummary | null = null;
  readonly #sessions = new Map<number, ServingSession>();
  #sessionSeq = 0;
  #staged: number | null = null;
  #closed = false;

  constructor(options: ShardStateMachineOptions) {
    assert(Number.isSafeInteger(options.group) && options.group >= 1, 'a shard group is >= 1');
    this.group = options.group;
    this.dir = options.dir;
    this.#o = options;
    this.#softMax = options.headBytesSoftMax ?? ShardLimits.headBytesSoftMax;
    this.#hardMax = options.headBytesHardMax ?? ShardLimits.headBytesHardMax;
    this.#ageMax = options.headAgeMsMax ?? ShardLimits.headAgeMsMax;
    assert(this.#softMax > 0 && this.#softMax < this.#hardMax, '0 < headBytesSoftMax < headBytesHardMax');
    assert(this.#ageMax > 0, 'headAgeMsMax > 0');
    this.#stores = options.makeStores();
    this.#window = new IdempotencyWindow(options.idempotency);
    const pacer = options.flushPacer ?? new FlushPacer();
    this.#pace = () => pacer.turn();
    this.#budget = options.headBudget;
  }

  // ---- life cycle -------------------------------------------------------

  async open(snapshot: { readonly index: number; readonly data: Uint8Array }): Promise<void> {
    assert(this.#db === null && !this.#closed, 'open once');
    await mkdir(this.dir, { recursive: true });
    await this.#recoverSwap(snapshot.index);
    await this.#openDb();
    if (this.#applied < snapshot.index) {
      // Raft's snapshot is ahead of the files. Only an empty image (a bootstrap at index 1) may be: it describes the empty state.
      const desc = decodeSnapshotDescriptor(snapshot.data);
      if (snapshot.data.length !== 0 || desc !== null || this.#applied !== 0) {
        throw new OtlpdbError(
          'ERR_CORRUPTION',
          `shard ${this.group}: durable state at ${this.#applied} is behind the Raft snapshot at ${snapshot.index}`,
          { group: this.group },
        );
      }
      this.#applied = snapshot.index;
    }
    if (this.#budget !== undefined) {
      this.#budget.join(this);
      this.#inBudget = true;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#budget?.leave(this);
    this.#inBudget = false;
    if (this.#flushing !== null) await this.#flushing.catch(() => undefined);
    await this.#closeSessions();
    await this.#closeDb();
  }

  async destroy(): Promise<void> {
    await this.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  // ---- apply --------------------------------------------------------------

  apply(entries: readonly Entry[]): readonly Uint8Array[] {
    assert(this.#db !== null, 'apply on an open replica');
    const out = new Array<Uint8Array>(entries.length);
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k] as Entry;
      out[k] = NO_RESULT;
      if (e.index <= this.#applied) continue; // Already in a state installed from a peer.
      assert(e.index === this.#applied + 1, 'entries are applied in order without gaps');
      this.#applied = e.index;
      if (e.type !== EntryType.Normal || e.data.length === 0) continue;
      out[k] = encodeApplyResult(this.#applyEntry(e.data));
    }
    return out;
  }

  #applyEntry(data: Uint8Array): ShardApplyResult {
    // One header read picks the one fast decoder that may take the entry (a log entry is tried by neither).
    const peek = peekEntry(data);
    const columnar = peek === null ? null : peek.rows === 'points' ? this.#applyMetricColumns(data, peek) : peek.rows === 'spans' ? this.#applySpanColumns(data, peek) : null;
    if (columnar !== null) return columnar;
    const zero = { accepted: 0, refused: 0 };
    // A logs-only entry is read from its bytes when it is in the fast grammar (log-entry-decode.ts); anything else by decodeShardEntry.
    let entry = peek !== null && peek.rows === 'other' ? decodeLogsOnlyEntry(data, peek) : null;
    if (entry === null) {
      try {
        entry = decodeShardEntry(data);
      } catch (err) {
        const why = isOtlpdbError(err) ? err.message : String(err);
        return { duplicate: false, invalid: why, spans: zero, points: zero, logs: zero, refusals: [] };
      }
    }
    this.#window.expire(entry.leaderTimeMs);
    if (this.#window.seen(entry.idempotencyKey, entry.part)) {
      return { duplicate: true, invalid: null, spans: zero, points: zero, logs: zero, refusals: [] };
    }
    const refusals: ApplyRefusal[] = [];
    const take = (signal: Signal, r: AddResult): { accepted: number; refused: number } => {
      for (const f of r.refusals) {
        if (refusals.length >= ShardLimits.refusalsPerResultMax) break;
        refusals.push({ signal, row: f.row, code: f.code, reason: f.reason });
      }
      return { accepted: r.accepted, refused: r.refused };
    };
    const t = entry.leaderTimeMs;
    const none: AddResult = { accepted: 0, refused: 0, refusals: [] };
    const spans = take('traces', entry.spans.length > 0 ? addRows(this.#stores.traces, entry.tenant, entry.spans, data, t) : none);
    const points = take('metrics', entry.points.length > 0 ? this.#stores.metrics.add(entry.tenant, entry.points, t) : none);
    const logs = take('logs', entry.logs.length > 0 ? this.#stores.logs.add(entry.tenant, entry.logs, t) : none);
    assert(spans.accepted + spans.refused === entry.spans.length, 'every span is accepted or refused');
    assert(points.accepted + points.refused === entry.points.length, 'every point is accepted or refused');
    assert(logs.accepted + logs.refused === entry.logs.length, 'every log record is accepted or refused');
    this.#window.remember(entry.idempotencyKey, entry.part, t);
    this.#headSinceMs ??= this.#o.nowMs();
    return { duplicate: false, invalid: null, spans, points, logs, refusals };
  }

  /**
   * #applyMetricColumns applies a points-only entry through the metrics
   * store's columnar path (metric-entry.ts; the same result and stored state
   * as the rows path below, without a row object per point), or returns null
   * when the entry is not one that path takes: #applyEntry then decodes it
   * with decodeShardEntry, which also reports any defect. The decode leaves
   * the UTF-8 check of the points' identity strings to addColumns (which
   * skips it for series its memo finds: the argument is at
   * MetricStore.#checkColumns), or, for a duplicate, to allKeysUtf8 here: a
   * duplicate with a malformed string is answered as decodeShardEntry answers it.
   */
  #applyMetricColumns(data: Uint8Array, peek: EntryPeek): ShardApplyResult | null {
    const metrics = this.#stores.metrics;
    if (!hasAddColumns(metrics)) return null;
    const c = this.#metricColumns;
    if (!decodeMetricEntry(data, c, peek, true)) return null;
    const zero = { accepted: 0, refused: 0 };
    this.#window.expire(c.leaderTimeMs);
    if (this.#window.seen(c.idempotencyKey, c.part)) {
      const wellFormed = c.allKeysUtf8();
      c.release();
      return wellFormed ? { duplicate: true, invalid: null, spans: zero, points: zero, logs: zero, refusals: [] } : null;
    }
    const t = c.leaderTimeMs;
    const r = metrics.addColumns(c, t);
    if (r === null) {
      c.release(); // A malformed identity string: nothing was stored.
      return null;
    }
    assert(r.accepted + r.refused === c.n, 'every point is accepted or refused');
    const refusals: ApplyRefusal[] = [];
    for (const f of r.refusals) {
      if (refusals.length >= ShardLimits.refusalsPerResultMax) break;
      refusals.push({ signal: 'metrics', row: f.row, code: f.code, reason: f.reason });
    }
    this.#window.remember(c.idempotencyKey, c.part, t);
    this.#headSinceMs ??= this.#o.nowMs();
    c.release();
    return { duplicate: false, invalid: null, spans: zero, points: { accepted: r.accepted, refused: r.refused }, logs: zero, refusals };
  }

  /**
   * #applySpanColumns applies a spans-only entry through the traces store's
   * columnar path (span-entry.ts: the entry checked from its bytes into the
   * columns the span head keeps; the same result and head state as the rows
   * path, without a SpanRow per span), or returns null when the entry is not
   * one that path takes: #applyEntry then decodes it with decodeShardEntry,
   * which also reports any defect.
   */
  #applySpanColumns(data: Uint8Array, peek: EntryPeek): ShardApplyResult | null {
    const traces = this.#stores.traces;
    if (!hasAddSpanColumns(traces)) return null;
    const c = this.#spanColumns;
    if (!decodeSpanEntry(data, c, peek)) return null;
    const zero = { accepted: 0, refused: 0 };
    this.#window.expire(c.leaderTimeMs);
    if (this.#window.seen(c.idempotencyKey, c.part)) {
      c.release();
      return { duplicate: true, invalid: null, spans: zero, points: zero, logs: zero, refusals: [] };
    }
    const t = c.leaderTimeMs;
    const n = c.count;
    const r = traces.addSpanColumns(c, t);
    assert(r.accepted + r.refused === n, 'every span is accepted or refused');
    const refusals: ApplyRefusal[] = [];
    for (const f of r.refusals) {
      if (refusals.length >= ShardLimits.refusalsPerResultMax) break;
      refusals.push({ signal: 'traces', row: f.row, code: f.code, reason: f.reason });
    }
    this.#window.remember(c.idempotencyKey, c.part, t);
    this.#headSinceMs ??= this.#o.nowMs();
    c.release();
    return { duplicate: false, invalid: null, spans: { accepted: r.accepted, refused: r.refused }, points: zero, logs: zero, refusals };
  }

  appliedIndex(): number {
    return this.#applied;
  }

  durableIndex(): number {
    return this.#durable;
  }

  // ---- flush ----------------------------------------------------------------

  /** headBytes is the memory of every store's head and frozen head. */
  headBytes(): number {
    let n = 0;
    for (const s of SIGNALS) n += this.#stores[s].headBytes();
    return n;
  }

  /** headFull says a proposer should refuse new writes with a retryable error (the head, or the node's heads together, at the hard bound). */
  headFull(): boolean {
    return this.headBytes() >= this.#hardMax || (this.#budget?.full() ?? false);
  }

  flushDue(nowMs: number): boolean {
    if (this.#applied === this.#durable) return false;
    if (this.headBytes() >= this.#softMax) return true;
    if (this.#inBudget && this.#budget?.flushDue(this) === true) return true;
    return this.#headSinceMs !== null && nowMs - this.#headSinceMs >= this.#ageMax;
  }

  mustFlushBeforeApply(): boolean {
    if (this.headBytes() >= this.#hardMax) return true;
    return this.#inBudget && this.#budget?.mustFlushBeforeApply(this) === true;
  }

  get flushing(): boolean {
    return this.#flushing !== null;
  }

  /** lastFlush says what the last flush wrote (null before the first). */
  get lastFlush(): FlushSummary | null {
    return this.#lastFlush;
  }

  flush(): Promise<number> {
    assert(this.#flushing === null, 'one flush at a time');
    const db = this.#db;
    assert(db !== null && !this.#closed, 'flush an open replica');
    // Step 1, synchronous: freeze at the applied index.
    const index = this.#applied;
    const windowBytes = sealBlock(BlockKind.idempotencyWindow, this.#window.snapshot());
    for (const s of SIGNALS) this.#stores[s].freeze();
    this.#headSinceMs = null;
    const p = this.#writeFlush(db, index, windowBytes).finally(() => {
      this.#flushing = null;
    });
    this.#flushing = p;
    return p;
  }

  async #writeFlush(db: ShardDb, index: number, windowBytes: Uint8Array): Promise<number> {
    // The flush's operations go to LevelDB's native batch as the stores add them (shard-db.ts KvWriteBatch).
    const batch = db.batch();
    const ctx = { batch, kv: db, flushIndex: index, pace: this.#pace };
    const reports = {} as Record<Signal, FlushReport>;
    try {
      for (const s of SIGNALS) reports[s] = await this.#stores[s].writeFrozen(ctx);
      batch.put(IDEMPOTENCY_KEY, windowBytes);
      batch.put(META_KEY, encodeShardMeta({ appliedIndex: index, flushes: this.#flushes + 1, group: this.group }));
    } catch (err) {
      await batch.discard();
      throw err;
    }
    await db.write(batch, true);
    // Step 3, synchronous: the flushed blocks become visible as the frozen heads go.
    for (const s of SIGNALS) this.#stores[s].dropFrozen();
    this.#flushes++;
    this.#durable = index;
    this.#publish(db.view());
    // Retention, when due, in a batch of its own right after (a store's expire runs outside a flush).
    let expiredKeys = 0;
    const nowMs = this.#o.nowMs();
    if (this.#o.retention !== undefined && nowMs - this.#lastRetentionMs >= ShardLimits.retentionIntervalMs) {
      expiredKeys = await this.#expireNow(db, index);
    }
    this.#lastFlush = { index, reports, batchBytes: batch.bytes, expiredKeys };
    assert(this.#durable <= this.#applied, 'durable <= applied');
    return index;
  }

  /** #expireNow runs one retention pass in its own fsynced batch and publishes the result; returns the keys deleted. */
  async #expireNow(db: ShardDb, flushIndex: number): Promise<number> {
    this.#lastRetentionMs = this.#o.nowMs();
    const cutoffs = this.#o.retention?.() ?? null;
    if (cutoffs === null) return 0;
    const batch = db.batch();
    const ctx = { batch, kv: db, flushIndex };
    let keys = 0;
    try {
      for (const s of SIGNALS) keys += (await this.#stores[s].expire(ctx, cutoffs[s])).keys;
    } catch (err) {
      await batch.discard();
      throw err;
    }
    await db.write(batch, true);
    this.#publish(db.view());
    return keys;
  }

  /**
   * runRetention runs a retention pass now (for tests and the admin API):
   * it is written with the next flush's batch otherwise. Resolves with the
   * keys deleted; a flush in progress is waited for.
   */
  async runRetention(): Promise<number> {
    if (this.#flushing !== null) await this.#flushing;
    const db = this.#db;
    assert(db !== null, 'retention on an open replica');
    return this.#expireNow(db, this.#durable);
  }

  // ---- reads --------------------------------------------------------------------

  /** stores are the replica's signal stores (their heads are part of every read). */
  get stores(): ShardStores {
    return this.#stores;
  }

  /**
   * acquireRead pins a consistent read: the stores and the LevelDB view
   * published with the last flush, taken in one synchronous step. Release it.
   */
  acquireRead(): ShardRead {
    const view = this.#published;
    assert(view !== null, 'an open replica has a published view');
    view.retain();
    return { stores: this.#stores, kv: view, release: () => view.release() };
  }

  /** stats are the durable counts of every signal as of the last flush. */
  stats(): Readonly<Record<Signal, SignalStats>> {
    return { traces: this.#stores.traces.stats(), metrics: this.#stores.metrics.stats(), logs: this.#stores.logs.stats() };
  }

  #publish(view: KvView): void {
    const old = this.#published;
    this.#published = view;
    if (old !== null) void old.release();
  }

  // ---- snapshots: serving ------------------------------------------------------

  snapshotDescriptor(index: number): Uint8Array {
    assert(index <= this.#durable, 'a snapshot names durable state');
    return encodeSnapshotDescriptor(this.group, index);
  }

  /**
   * serveSnapshotPage answers a peer's page request (the node's transport
   * handler). ERR_UNAVAILABLE when this replica's durable state is older
   * than asked or it serves too many streams; ERR_NOT_FOUND for an unknown
   * (expired) session.
   */
  async serveSnapshotPage(req: SnapshotPageRequest): Promise<SnapshotPage> {
    const db = this.#db;
    if (db === null || this.#closed) throw new OtlpdbError('ERR_UNAVAILABLE', `shard ${this.group} is not open here`);
    const nowMs = this.#o.nowMs();
    await this.#expireSessions(nowMs);
    let id = req.session;
    let s: ServingSession | undefined;
    if (id === 0) {
      if (this.#durable < req.minIndex) {
        throw new OtlpdbError('ERR_UNAVAILABLE', `shard ${this.group}: durable index ${this.#durable} is below ${req.minIndex}`, {
          group: this.group,
        });
      }
      if (this.#sessions.size >= ShardLimits.snapshotSessionsMax) {
        throw new OtlpdbError('ERR_UNAVAILABLE', `shard ${this.group}: ${this.#sessions.size} snapshot streams already open`);
      }
      const view = db.view();
      id = ++this.#sessionSeq;
      s = { view, it: view.pages({}), durableIndex: this.#durable, lastUsedMs: nowMs, pending: [], pendingAt: 0, digest: { count: 0, crc: 0 } };
      this.#sessions.set(id, s);
    } else {
      s = this.#sessions.get(id);
      if (s === undefined) throw new OtlpdbError('ERR_NOT_FOUND', `shard ${this.group}: snapshot session ${id} is not open`);
    }
    s.lastUsedMs = nowMs;
    const entries: [Uint8Array, Uint8Array][] = [];
    let bytes = 0;
    let done = false;
    while (entries.length < ShardLimits.snapshotPageEntriesMax && bytes < ShardLimits.snapshotPageBytesMax) {
      if (s.pendingAt === s.pending.length) {
        const next = await s.it.next();
        if (next.done === true) {
          done = true;
          break;
        }
        s.pending = next.value;
        s.pendingAt = 0;
        continue; // A page may be empty in principle; look again.
      }
      const e = s.pending[s.pendingAt++];
      assert(e !== undefined, 'a pending entry');
      entries.push([e.key, e.value]);
      bytes += e.key.length + e.value.length;
    }
    s.digest = streamDigest(s.digest, entries);
    if (done) await this.#closeSession(id);
    return { session: id, durableIndex: s.durableIndex, entries, done, count: s.digest.count, crc: s.digest.crc };
  }

  async #closeSession(id: number): Promise<void> {
    const s = this.#sessions.get(id);
    if (s === undefined) return;
    this.#sessions.delete(id);
    await s.it.return(undefined);
    await s.view.release();
  }

  async #expireSessions(nowMs: number): Promise<void> {
    for (const [id, s] of [...this.#sessions]) {
      if (nowMs - s.lastUsedMs >= ShardLimits.snapshotSessionIdleMsMax) await this.#closeSession(id);
    }
  }

  async #closeSessions(): Promise<void> {
    for (const id of [...this.#sessions.keys()]) await this.#closeSession(id);
  }

  // ---- snapshots: receiving --------------------------------------------------------

  stagedFor(index: number): boolean {
    return this.#staged === index;
  }

  async stageSnapshot(from: number, index: number, descriptor: Uint8Array): Promise<void> {
    const desc = decodeSnapshotDescriptor(descriptor);
    if (desc === null || desc.group !== this.group || desc.index !== index) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `shard ${this.group}: snapshot ${index} from node ${from} does not name shard state`);
    }
    const stageDir = join(this.dir, `${STAGE_PREFIX}${index}`);
    await this.#removeStages();
    let stage: ShardDb | null = await ShardDb.open(stageDir);
    try {
      let session = 0;
      let digest = { count: 0, crc: 0 };
      let durableIndex = -1;
      for (let pages = 0; ; pages++) {
        if (pages >= ShardLimits.snapshotPagesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `snapshot stream past ${ShardLimits.snapshotPagesMax} pages`);
        const page = await this.#o.peer.fetchPage(from, { group: this.group, session, minIndex: index });
        if (page.durableIndex < index) {
          throw new OtlpdbError('ERR_UNAVAILABLE', `node ${from} streamed state at ${page.durableIndex}, below snapshot ${index}`);
        }
        if (durableIndex !== -1 && page.durableIndex !== durableIndex) {
          throw new OtlpdbError('ERR_CORRUPTION', `snapshot stream from node ${from} changed its index mid-stream`);
        }
        durableIndex = page.durableIndex;
        digest = streamDigest(digest, page.entries);
        if (digest.count !== page.count || digest.crc !== page.crc) {
          throw new OtlpdbError('ERR_CORRUPTION', `snapshot stream from node ${from}: page ${pages} does not match the sender's digest (lost or altered data)`);
        }
        const batch = new KvWriteBatch();
        for (const [k, v] of page.entries) batch.put(k, v);
        await stage.write(batch, page.done);
        if (page.done) break;
        session = page.session;
      }
      // The stage must hold a meta record at or past the snapshot's index.
      const metaBytes = await stage.get(META_KEY);
      if (metaBytes === undefined || decodeShardMeta(metaBytes).appliedIndex < index) {
        throw new OtlpdbError('ERR_CORRUPTION', `snapshot stream from node ${from} lacks a meta record covering ${index}`);
      }
      await stage.close();
      stage = null;
      await writeFile(join(this.dir, `${STAGE_PREFIX}${index}${DONE_SUFFIX}`), String(index));
      await fsyncPath(join(this.dir, `${STAGE_PREFIX}${index}${DONE_SUFFIX}`));
      await fsyncPath(this.dir);
      this.#staged = index;
    } finally {
      if (stage !== null) {
        await stage.close().catch(() => undefined);
        await rm(stageDir, { recursive: true, force: true });
      }
    }
  }

  async installSnapshot(index: number, data: Uint8Array): Promise<void> {
    const empty = data.length === 0;
    assert(empty || this.#staged === index, 'a snapshot with data is installed from its own stage');
    if (this.#flushing !== null) await this.#flushing.catch(() => undefined);
    await this.#closeSessions();
    await this.#closeDb();
    if (empty) {
      // The bootstrap image: the empty state at `index`.
      await this.#removeStages();
      await rm(join(this.dir, DB), { recursive: true, force: true });
      await fsyncPath(this.dir);
    } else {
      await this.#swapIn(index);
    }
    this.#staged = null;
    this.#stores = this.#o.makeStores();
    this.#headSinceMs = null;
    await this.#openDb();
    if (empty) this.#applied = index;
    assert(this.#applied >= index, 'the installed state covers the snapshot');
  }

  /** #swapIn replaces db/ by stage-<index>/ (see the file comment), crash-safe by the marker. */
  async #swapIn(index: number): Promise<void> {
    const db = join(this.dir, DB);
    const old = join(this.dir, OLD);
    const stageDir = join(this.dir, `${STAGE_PREFIX}${index}`);
    const marker = `${stageDir}${DONE_SUFFIX}`;
    assert(await exists(marker), 'a swapped stage is complete');
    if (await exists(db)) {
      await rm(old, { recursive: true, force: true });
      await rename(db, old);
    }
    await rename(stageDir, db);
    await fsyncPath(this.dir);
    await rm(marker, { force: true });
    await rm(old, { recursive: true, force: true });
    await fsyncPath(this.dir);
  }

  /** #recoverSwap finishes a swap of a stage Raft accepted (its index <= the WAL's snapshot) and drops any other stage. */
  async #recoverSwap(walSnapshotIndex: number): Promise<void> {
    const names = await readdir(this.dir);
    let swapped = false;
    for (const name of names) {
      if (!name.startsWith(STAGE_PREFIX) || !name.endsWith(DONE_SUFFIX)) continue;
      const index = Number(name.slice(STAGE_PREFIX.length, -DONE_SUFFIX.length));
      if (!swapped && Number.isSafeInteger(index) && index >= 1 && index <= walSnapshotIndex && (await exists(join(this.dir, `${STAGE_PREFIX}${index}`)))) {
        await this.#swapIn(index);
        swapped = true;
      }
    }
    await this.#removeStages();
    if (!(await exists(join(this.dir, DB))) && (await exists(join(this.dir, OLD)))) await rename(join(this.dir, OLD), join(this.dir, DB));
    await rm(join(this.dir, OLD), { recursive: true, force: true });
  }

  async #removeStages(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(STAGE_PREFIX)) await rm(join(this.dir, name), { recursive: true, force: true });
    }
    this.#staged = null;
  }

  // ---- files ------------------------------------------------------------------------

  async #openDb(): Promise<void> {
    const db = await ShardDb.open(join(this.dir, DB));
    this.#db = db;
    const metaBytes = await db.get(META_KEY);
    const meta = metaBytes === undefined ? null : decodeShardMeta(metaBytes);
    if (meta !== null && meta.group !== this.group) {
      throw new OtlpdbError('ERR_CORRUPTION', `shard directory ${this.dir} holds group ${meta.group}, not ${this.group}`);
    }
    this.#applied = meta?.appliedIndex ?? 0;
    this.#durable = this.#applied;
    this.#flushes = meta?.flushes ?? 0;
    const windowBytes = await db.get(IDEMPOTENCY_KEY);
    this.#window = new IdempotencyWindow(this.#o.idempotency);
    if (windowBytes !== undefined) this.#window.restore(openBlock(windowBytes, BlockKind.idempotencyWindow));
    for (const s of SIGNALS) await this.#stores[s].load(db);
    this.#publish(db.view());
  }

  async #closeDb(): Promise<void> {
    const view = this.#published;
    this.#published = null;
    if (view !== null) await view.release();
    const db = this.#db;
    this.#db = null;
    if (db !== null) await db.close();
  }
}
