/**
 * logs-shard-source.ts — a LogSource over one shard replica's LogStore
 * (query/logql/source.ts): what the LogQL engine reads on the node serving
 * a shard part (a pushed-down query, LogqlEngine.evaluateShardPart), and
 * what the select shard handler answers from.
 *
 * select: `=` and `!=` matchers go to the store's stream postings; regex
 * matchers are checked once per stream (the store's row filter, cached by
 * the stream's shared label list); line hints prune blocks (log-hints.ts:
 * only ever over-admitting; the engine re-checks every entry). Entries come
 * in the store's order (time, ties in apply order; backward is the exact
 * reverse), in batches of at most LogsQueryLimits.batchEntriesMax, each
 * batch yielded as soon as the store settled it (so a consumer that stops at
 * its limit stops the store's block reads too). A select
 * of every entry (limit null) reads at most LogsQueryLimits.shardEntriesMax
 * and refuses with ERR_LIMIT_EXCEEDED past it, so a metric query is never
 * computed from a silent cut. Between batches the source checks its signal
 * (ERR_UNAVAILABLE, cancelled) and its deadline (ERR_TIMEOUT).
 *
 * Owner: one source per shard part; it lives for one read (the caller's
 * pinned ShardRead) and fills its own `stats`.
 */
import { OtlpdbError } from '../errors.js';
import { LogsQueryLimits as L } from '../limits.js';
import { compileLineHints } from '../storage/logs/log-hints.js';
import { streamLabels } from '../storage/logs/log-line.js';
import type { LogStore } from '../storage/logs/log-store.js';
import type { LogRow } from '../storage/rows.js';
import type { KvRead } from '../storage/shard/shard-db.js';
import { addScanStats, newScanStats } from '../storage/shard/signal-store.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import type { CountEntriesRequest, CountEntriesVisitor, LogEntry, LogSource, LogSourceStats, SelectLogsRequest } from './logql/source.js';
import { splitMatchers } from './logs-selector.js';
import { logEntryOf, metadataOf } from './logs-view.js';

/** newLogSourceStats is a LogSourceStats with every counter at zero. */
export function newLogSourceStats(): LogSourceStats {
  return { shardsAsked: 0, blocksScanned: 0, blocksPruned: 0, entriesRead: 0, bytesRead: 0, partialFailures: [] };
}

/** addScanToSourceStats adds a store's ScanStats into a LogSourceStats (pruned = by time, bloom and index). */
export function addScanToSourceStats(into: LogSourceStats, s: ScanStats): void {
  into.blocksScanned += s.blocksScanned;
  into.blocksPruned += s.blocksPrunedTime + s.blocksPrunedBloom + s.blocksPrunedIndex;
  into.bytesRead += s.bytesRead;
}

/** ShardSourceDeps are one shard part's store, pinned read, tenant and deadline. */
export interface ShardSourceDeps {
  readonly store: LogStore;
  readonly kv: KvRead;
  readonly tenant: string;
  /** deadlineMs is when the part must stop, on the nowMs clock. */
  readonly deadlineMs: number;
  readonly nowMs: () => number;
  /** compileHints compiles line hints (log-hints.ts compileLineHints by default; a test plants a broken one). */
  readonly compileHints?: typeof compileLineHints;
}

/** checkSelect refuses a malformed request (ERR_INVALID_ARGUMENT). */
export function checkSelect(req: SelectLogsRequest): void {
  if (req.startNs < 0n || req.endNs >= 1n << 64n || req.startNs > req.endNs) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'select: start must not be after end, both u64');
  if (req.direction !== 'forward' && req.direction !== 'backward') throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'select: direction is forward or backward');
  if (req.limit !== null && !(Number.isSafeInteger(req.limit) && req.limit >= 1 && req.limit <= L.shardEntriesMax)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `select: limit must be in [1, ${L.shardEntriesMax}] or null`);
  }
  if (req.matchers.length > L.matchersMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `select: more than ${L.matchersMax} matchers`);
}

/** ShardLogSource is a LogSource over one shard replica; see the top of this file. */
export class ShardLogSource implements LogSource {
  readonly stats: LogSourceStats = newLogSourceStats();
  /** scan is the store's own counters over every select of this source (what a shard answer carries). */
  readonly scan: ScanStats = newScanStats();
  readonly #d: ShardSourceDeps;

  constructor(deps: ShardSourceDeps) {
    this.#d = deps;
    this.stats.shardsAsked = 1;
  }

  async *select(req: SelectLogsRequest, signal: AbortSignal): AsyncGenerator<readonly LogEntry[]> {
    checkSelect(req);
    const split = splitMatchers(req.matchers);
    const check = split.check;
    const verdicts = new WeakMap<object, boolean>();
    const rowFilter =
      check === null
        ? undefined
        : (row: LogRow): boolean => {
            const labels = streamLabels(row);
            let v = verdicts.get(labels);
            if (v === undefined) {
              v = check(labels);
              verdicts.set(labels, v);
            }
            return v;
          };
    const all = req.limit === null;
    const limit = all ? L.shardEntriesMax + 1 : req.limit;
    const scan: ScanStats = newScanStats();
    let seen = 0;
    let batch: LogEntry[] = [];
    const gen = this.#d.store.selectLogs(
      this.#d.kv,
      this.#d.tenant,
      {
        startNs: req.startNs,
        endNs: req.endNs,
        streamMatchers: split.postings,
        direction: req.direction,
        limit,
        ...(rowFilter !== undefined ? { rowFilter } : {}),
        hints: (this.#d.compileHints ?? compileLineHints)(req.hints),
        ...(req.want !== undefined && Number.isSafeInteger(req.want) && req.want >= 1 ? { firstChunkRows: req.want } : {}),
      },
      scan,
    );
    try {
      for await (const hits of gen) {
        this.#checkGoing(signal);
        for (const h of hits) {
          seen++;
          if (all && seen > L.shardEntriesMax) {
            throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a query that reads every entry read more than LogsQueryLimits.shardEntriesMax (${L.shardEntriesMax}) on one shard; narrow its range or selector`);
          }
          const e = logEntryOf(h.row);
          this.stats.entriesRead++;
          batch.push(e);
          if (batch.length === L.batchEntriesMax) {
            yield batch;
            batch = [];
          }
        }
        // What the store settled is handed on now, not held for a full batch: the store reads blocks lazily
        // from the query's end, and a consumer with a limit (collectLogEntries) stops pulling once it has
        // enough; holding hits back until 256 arrived made it read every block of a shard with fewer matches.
        if (batch.length > 0) {
          yield batch;
          batch = [];
        }
      }
    } finally {
      addScanToSourceStats(this.stats, scan);
      addScanStats(this.scan, scan);
      await gen.return(undefined);
    }
  }

  /**
   * countEntries visits the entries `req` selects without building them
   * (LogStore.countLogs, storage/logs/log-count.ts): the same matchers
   * (`=`/`!=` by the postings, regexes once per stream), hints and range as
   * `select`; metadata (logs-view.ts metadataOf) only for a row that has
   * some. No entry is held, so shardEntriesMax does not bound it; the
   * signal and the deadline are checked between blocks.
   */
  async countEntries(req: CountEntriesRequest, visit: CountEntriesVisitor, signal: AbortSignal): Promise<void> {
    checkSelect({ ...req, direction: 'forward', limit: null });
    const split = splitMatchers(req.matchers);
    const check = split.check;
    const scan: ScanStats = newScanStats();
    try {
      await this.#d.store.countLogs(
        this.#d.kv,
        this.#d.tenant,
        {
          startNs: req.startNs,
          endNs: req.endNs,
          streamMatchers: split.postings,
          ...(check !== null ? { streamFilter: check } : {}),
          hints: (this.#d.compileHints ?? compileLineHints)(req.hints),
          lineTest: req.lineTest,
          lineBytes: req.lineBytes,
        },
        scan,
        {
          row: (stream, offsetNs, lineBytes, row) => {
            this.stats.entriesRead++;
            visit.entry(stream, offsetNs, lineBytes, row === null ? null : metadataOf(row));
          },
        },
        () => this.#checkGoing(signal),
      );
      this.#checkGoing(signal);
    } finally {
      addScanToSourceStats(this.stats, scan);
      addScanStats(this.scan, scan);
    }
  }

  #checkGoing(signal: AbortSignal): void {
    if (signal.aborted) throw new OtlpdbError('ERR_UNAVAILABLE', 'the log query was cancelled');
    if (this.#d.nowMs() > this.#d.deadlineMs) throw new OtlpdbError('ERR_TIMEOUT', 'the shard part of the log query ran out of time');
  }
}
