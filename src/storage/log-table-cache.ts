/**
 * log-table-cache.ts — the resource and scope tables of logs-only entries,
 * decoded once and shared by later entries with the same table bytes
 * (log-entry-decode.ts). The rows of one OTLP request's shard parts, and of
 * every request from one SDK, carry the same few resources: sharing one
 * Resource object between them lets a flush find a stream's labels (the
 * streamLabels memo, log-line.ts, is keyed by the resource object) and the
 * block's resource table slot (log-block.ts Dedup, by identity first) once
 * per resource instead of once per entry, and the head keeps one copy.
 *
 * Invariants: a table is cached only after it decoded completely in the
 * fast grammar, keyed by its exact bytes, so a hit returns what decoding
 * those bytes returns (rows are read-only: sharing a value changes nothing
 * a reader of it sees). At most StorageLimits.logTableCacheEntriesMax tables
 * per kind are kept; a full cache is emptied and starts over. One cache per
 * thread: a decode runs synchronously to its end. Pure code.
 */
import { StorageLimits as L } from '../limits.js';

/** TableCache maps a table's bytes (as a latin1 string: one char per byte) to its decoded rows. */
export class TableCache<T> {
  readonly #byBytes = new Map<string, readonly T[]>();

  /** get is the decoded table of these bytes, or undefined. */
  get(key: string): readonly T[] | undefined {
    return this.#byBytes.get(key);
  }

  /** set remembers a table decoded from the bytes `key` stands for. */
  set(key: string, table: readonly T[]): void {
    if (this.#byBytes.size >= L.logTableCacheEntriesMax) this.#byBytes.clear();
    this.#byBytes.set(key, table);
  }

  /** size is the number of tables kept (tests). */
  get size(): number {
    return this.#byBytes.size;
  }
}
