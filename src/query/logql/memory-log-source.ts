/**
 * memory-log-source.ts — a LogSource over an in-memory array of entries, for
 * tests (and for anyone needing a LogSource without storage). `select`
 * honours the selector, the inclusive time range, the direction (ties in
 * array order, reversed for backward), the limit and the hints (an entry no
 * hint admits is skipped, as a pruned block would be: so a wrong hint loses
 * entries and the differential test sees it). Optional `shardEval` for
 * sharded test sources.
 *
 * Invariant: `entries` is never mutated; stats only grow.
 */
import { LogqlLimits } from '../../limits.js';
import { hintsAdmit } from './hints.js';
import { compileSelector } from './pipeline.js';
import type { LogEntry, LogShardAnswer, LogShardEvalRequest, LogSource, LogSourceStats, SelectLogsRequest } from './source.js';

/** newLogSourceStats makes zeroed stats. */
export function newLogSourceStats(): LogSourceStats {
  return { shardsAsked: 0, blocksScanned: 0, blocksPruned: 0, entriesRead: 0, bytesRead: 0, partialFailures: [] };
}

/** MemoryLogSource is a LogSource over an array; `hintFilter` can be swapped by tests that plant a wrong hint check. */
export class MemoryLogSource implements LogSource {
  readonly stats: LogSourceStats = newLogSourceStats();
  readonly #entries: readonly LogEntry[];
  readonly #hintFilter: typeof hintsAdmit;
  shardEval?: (req: LogShardEvalRequest, signal: AbortSignal) => Promise<LogShardAnswer>;

  constructor(entries: readonly LogEntry[], hintFilter: typeof hintsAdmit = hintsAdmit) {
    this.#entries = entries;
    this.#hintFilter = hintFilter;
  }

  async *select(req: SelectLogsRequest, signal: AbortSignal): AsyncIterable<readonly LogEntry[]> {
    const idx: number[] = [];
    const selected = compileSelector(req.matchers);
    for (let i = 0; i < this.#entries.length; i++) {
      const e = this.#entries[i] as LogEntry;
      if (e.timeNs < req.startNs || e.timeNs > req.endNs) continue;
      if (!selected(e.stream)) continue;
      if (!this.#hintFilter(req.hints, e.line)) {
        this.stats.blocksPruned++;
        continue;
      }
      idx.push(i);
    }
    idx.sort((a, b) => {
      const x = (this.#entries[a] as LogEntry).timeNs;
      const y = (this.#entries[b] as LogEntry).timeNs;
      return x !== y ? (x < y ? -1 : 1) : a - b;
    });
    if (req.direction === 'backward') idx.reverse();
    const n = req.limit === null ? idx.length : Math.min(req.limit, idx.length);
    for (let i = 0; i < n; i += LogqlLimits.selectBatchEntriesMax) {
      if (signal.aborted) return;
      const batch = idx.slice(i, Math.min(n, i + LogqlLimits.selectBatchEntriesMax)).map((j) => this.#entries[j] as LogEntry);
      this.stats.entriesRead += batch.length;
      this.stats.blocksScanned++;
      yield batch;
    }
  }
}
