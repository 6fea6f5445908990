/**
 * signal-store.ts — the contract between the shard state machine
 * (shard-state-machine.ts) and the store of each signal (traces, metrics,
 * logs). The state machine owns the LevelDB, the idempotency window, the
 * applied index and the flush schedule; a store owns its rows: an in-memory
 * head, the blocks and indexes it writes at a flush, and the reads over both.
 *
 * Life cycle of one store, driven by the state machine only:
 *
 *   load(kv)                 once, after open or after a snapshot install:
 *                            rebuild whatever in-memory index the store keeps
 *                            from what earlier flushes wrote
 *   add(...)*                committed rows, in log order
 *   freeze()                 at a flush: the head becomes the frozen head
 *                            (still read by queries) and an empty head starts
 *   writeFrozen(ctx)         puts the frozen head's blocks and indexes into the
 *                            flush's batch (one batch for every store + meta)
 *   dropFrozen()             after the batch is durable
 *   expire(ctx, cutoffs)     at a retention pass: deletes whole time buckets
 *
 * Determinism rule (every replica must answer every entry alike): what add()
 * accepts or refuses depends only on the rows applied so far, never on when
 * flushes or retention ran on this replica. So a store never refuses because
 * its head is full (the state machine flushes before that point), and
 * anything a refusal consults (series counts, a series' last timestamp) is
 * kept across flushes.
 */
import type { LogRow, MetricPointRow, SpanRow } from '../rows.js';
import type { KvRead, KvWriteBatch } from './shard-db.js';

/** Signal names the three kinds of data a shard stores. */
export type Signal = 'traces' | 'metrics' | 'logs';

/**
 * RowRefusal is one row a store would not keep, with a stable code and a
 * reason; identical on every replica (it becomes part of the entry's result).
 */
export interface RowRefusal {
  /** row is the index of the refused row among the rows passed to add(). */
  readonly row: number;
  readonly code: string;
  readonly reason: string;
}

/** AddResult says what one add() kept. refusals lists at most StoreLimits.refusalsReportedMax rows; refused counts all. */
export interface AddResult {
  readonly accepted: number;
  readonly refused: number;
  readonly refusals: readonly RowRefusal[];
}

/** FlushContext is what a store gets to write one flush. */
export interface FlushContext {
  /** batch is the flush's one LevelDB batch; the state machine adds its meta record and writes it with fsync. */
  readonly batch: KvWriteBatch;
  /** kv reads the state as of the previous flush (nothing of this flush is visible yet). */
  readonly kv: KvRead;
  /**
   * flushIndex is the applied Raft index this flush makes durable: unique and
   * increasing per replica, so it names this flush's blocks (`...bucket, flushIndex`).
   */
  readonly flushIndex: number;
  /**
   * pace, when given, resolves when the flush may run its next step (a
   * block); a store awaits it before each block, so a large flush leaves the
   * event loop between its blocks (flush-pacer.ts). Absent: no pause.
   */
  readonly pace?: () => Promise<void>;
}

/** FlushReport says what a store wrote in one flush. */
export interface FlushReport {
  readonly rows: number;
  readonly blocks: number;
  /** dataBytes are the bytes of blocks (rows); indexBytes of everything that only finds rows (postings, blooms, id indexes, series tables). */
  readonly dataBytes: number;
  readonly indexBytes: number;
}

/** RetentionCutoffs gives, per tenant, the time (ns since the epoch) before which whole buckets may go; `default` applies to tenants not listed. */
export interface RetentionCutoffs {
  readonly defaultBeforeNs: bigint | null;
  readonly byTenant: ReadonlyMap<string, bigint | null>;
}

/** ExpireReport says what one retention pass deleted. */
export interface ExpireReport {
  readonly buckets: number;
  readonly keys: number;
}

/**
 * SignalStats are a store's durable counts after the last flush, per the
 * `/api/v1/stats` shape: rows (spans, samples or records), a secondary
 * count (traces or series; 0 for logs), and on-disk bytes of blocks and
 * indexes.
 */
export interface SignalStats {
  readonly rows: number;
  readonly secondary: number;
  readonly dataBytes: number;
  readonly indexBytes: number;
}

/** SignalStore is one signal's storage inside one shard replica. */
export interface SignalStore<Row> {
  readonly signal: Signal;
  /** load rebuilds the store's in-memory state from LevelDB (after open or a snapshot install); the head starts empty. */
  load(kv: KvRead): Promise<void>;
  /** add applies rows of one committed entry of `tenant` (idempotency already checked), `entryTimeMs` being the leader's time. */
  add(tenant: string, rows: readonly Row[], entryTimeMs: number): AddResult;
  /**
   * addEntry, when a store has it, is what the state machine calls instead of
   * add: the same rows and result rules, plus the entry bytes decodeShardEntry
   * read them from, so the store can keep (a copy of) the bytes instead of
   * the row objects. The store must not keep `entryBytes` itself (the caller
   * may reuse them).
   */
  addEntry?(tenant: string, rows: readonly Row[], entryBytes: Uint8Array, entryTimeMs: number): AddResult;
  /** headBytes is the accounted memory of the head and the frozen head. */
  headBytes(): number;
  /** headRows is the number of rows in the head (not the frozen head). */
  headRows(): number;
  /** freeze turns the head into the frozen head; at most one frozen head exists (asserted). */
  freeze(): void;
  /** writeFrozen puts the frozen head's blocks and indexes into ctx.batch. */
  writeFrozen(ctx: FlushContext): Promise<FlushReport>;
  /** dropFrozen forgets the frozen head once the batch is durable. */
  dropFrozen(): void;
  /** expire puts deletions of whole buckets older than the cutoffs into ctx.batch. */
  expire(ctx: FlushContext, cutoffs: RetentionCutoffs): Promise<ExpireReport>;
  /** stats is the store's durable counts as of the last flush (or load). */
  stats(): SignalStats;
}

/** SpanStore, MetricStore and LogStore name the three stores' row types. */
export type SpanStoreContract = SignalStore<SpanRow>;
export type MetricStoreContract = SignalStore<MetricPointRow>;
export type LogStoreContract = SignalStore<LogRow>;

/**
 * ScanStats are the statistics every shard-local read returns with its rows
 * (the query engine sums them into a response's stats).
 */
export interface ScanStats {
  /** blocksScanned counts blocks (or chunks) opened and read. */
  blocksScanned: number;
  /** blocksPrunedTime counts blocks skipped because their time range misses the query's. */
  blocksPrunedTime: number;
  /** blocksPrunedBloom counts blocks skipped because their bloom filter excludes the query's ids or terms. */
  blocksPrunedBloom: number;
  /** blocksPrunedIndex counts blocks skipped because their postings had no match. */
  blocksPrunedIndex: number;
  /** bytesRead counts the bytes of values read from LevelDB. */
  bytesRead: number;
  /** headRowsScanned counts rows checked in the in-memory heads. */
  headRowsScanned: number;
  /**
   * samplesDecoded counts the metric samples a read took from storage —
   * decoded from chunk blocks, copied from the heads — before cutting them
   * to its time range (samplesRead, what the read answers, is at most
   * this). Only metric reads count it; absent, none were.
   */
  samplesDecoded?: number;
}

/** newScanStats returns a ScanStats with every counter at zero. */
export function newScanStats(): ScanStats {
  return { blocksScanned: 0, blocksPrunedTime: 0, blocksPrunedBloom: 0, blocksPrunedIndex: 0, bytesRead: 0, headRowsScanned: 0 };
}

/** addScanStats adds `from` into `into`, field by field (a merge of shard parts' stats). */
export function addScanStats(into: ScanStats, from: ScanStats): void {
  into.blocksScanned += from.blocksScanned;
  into.blocksPrunedTime += from.blocksPrunedTime;
  into.blocksPrunedBloom += from.blocksPrunedBloom;
  into.blocksPrunedIndex += from.blocksPrunedIndex;
  into.bytesRead += from.bytesRead;
  into.headRowsScanned += from.headRowsScanned;
  if (from.samplesDecoded !== undefined) into.samplesDecoded = (into.samplesDecoded ?? 0) + from.samplesDecoded;
}

/** scanStatsTuple is the stats as the peer frames carry them: [blocksScanned, blocksPrunedTime, blocksPrunedBloom, blocksPrunedIndex, bytesRead, headRowsScanned]. */
export function scanStatsTuple(s: ScanStats): number[] {
  return [s.blocksScanned, s.blocksPrunedTime, s.blocksPrunedBloom, s.blocksPrunedIndex, s.bytesRead, s.headRowsScanned];
}

/** readScanStatsTuple checks a scanStatsTuple from a peer; `fail` makes the frame's error (never trusted as data). */
export function readScanStatsTuple(v: unknown, fail: (why: string) => Error): ScanStats {
  if (!Array.isArray(v) || v.length !== 6) throw fail('stats is not a 6-tuple');
  const names = ['blocksScanned', 'blocksPrunedTime', 'blocksPrunedBloom', 'blocksPrunedIndex', 'bytesRead', 'headRowsScanned'] as const;
  const out = newScanStats();
  names.forEach((name, i) => {
    const x: unknown = v[i];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw fail(`${name} is not an integer in [0, ${Number.MAX_SAFE_INTEGER}]`);
    out[name] = x;
  });
  return out;
}
