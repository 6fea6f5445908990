/**
 * entry-log.ts — the in-memory part of a Raft Storage: a compacted prefix
 * (its last index and term) followed by contiguous entries in one array.
 * MemoryStorage and the driver's WalStorage both keep their log in one.
 *
 * Invariants:
 * - `#ents[k]` has index `#compactedIndex + 1 + k`; the entry at
 *   `#compactedIndex` (compacted) had term `#compactedTerm`.
 * - firstIndex() = #compactedIndex + 1; lastIndex() = #compactedIndex + #ents.length.
 * Owner: the Storage that holds it; it does no I/O.
 */
import { OtlpdbError, assert } from '../errors.js';
import { prefixCountWithinBytes } from './entry-size.js';
import { pushAll } from './log-unstable.js';
import type { Entry } from './types.js';

/** EntryLog is a log array with an index offset; refusals use ERR_COMPACTED / ERR_UNAVAILABLE_INDEX as Storage does. */
export class EntryLog {
  #compactedIndex: number;
  #compactedTerm: number;
  #ents: Entry[];

  constructor(compactedIndex: number, compactedTerm: number, entries: Entry[] = []) {
    assert(compactedIndex >= 0 && compactedTerm >= 0, 'compacted index and term >= 0');
    assert(entries.length === 0 || (entries[0] as Entry).index === compactedIndex + 1, 'entries follow the compacted prefix');
    this.#compactedIndex = compactedIndex;
    this.#compactedTerm = compactedTerm;
    this.#ents = entries;
  }

  /** entries returns entries [lo, hi), at most `bytesMax` bytes but always at least one. */
  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    const ci = this.#compactedIndex;
    if (lo <= ci) throw new OtlpdbError('ERR_COMPACTED', `entry ${lo} is compacted (first index ${ci + 1})`);
    if (hi > this.lastIndex() + 1 || lo > hi) {
      throw new OtlpdbError('ERR_UNAVAILABLE_INDEX', `entries [${lo}, ${hi}) beyond last index ${this.lastIndex()}`);
    }
    const from = lo - ci - 1;
    const count = prefixCountWithinBytes(this.#ents, from, hi - ci - 1, bytesMax);
    const out = this.#ents.slice(from, from + count);
    assert(out.length === 0 || (out[0] as Entry).index === lo, 'storage entries start at lo');
    return out;
  }

  /** term returns the term of entry i, for firstIndex()-1 <= i <= lastIndex(). */
  term(i: number): number {
    const ci = this.#compactedIndex;
    if (i < ci) throw new OtlpdbError('ERR_COMPACTED', `term of ${i} is compacted (first index ${ci + 1})`);
    if (i === ci) return this.#compactedTerm;
    const e = this.#ents[i - ci - 1];
    if (e === undefined) throw new OtlpdbError('ERR_UNAVAILABLE_INDEX', `term of ${i} beyond last index ${this.lastIndex()}`);
    return e.term;
  }

  /** firstIndex is the index of the first entry still in the log. */
  firstIndex(): number {
    return this.#compactedIndex + 1;
  }

  /** lastIndex is the index of the last stored entry (firstIndex()-1 when there are none). */
  lastIndex(): number {
    return this.#compactedIndex + this.#ents.length;
  }

  /** compactedIndex is the index of the last compacted entry. */
  compactedIndex(): number {
    return this.#compactedIndex;
  }

  /** reset drops every entry: the log now starts after (index, term), e.g. a snapshot received from a leader. */
  reset(index: number, term: number): void {
    this.#ents = [];
    this.#compactedIndex = index;
    this.#compactedTerm = term;
    assert(this.lastIndex() === index, 'log ends at the reset point');
  }

  /** checkCompact refuses a compaction point outside (compactedIndex, lastIndex]. */
  checkCompact(index: number): void {
    if (index <= this.#compactedIndex) throw new OtlpdbError('ERR_COMPACTED', `index ${index} already compacted`);
    if (index > this.lastIndex()) {
      throw new OtlpdbError('ERR_UNAVAILABLE_INDEX', `compact ${index} beyond last index ${this.lastIndex()}`);
    }
  }

  /** compact discards the entries up to and including `index`. */
  compact(index: number): void {
    this.checkCompact(index);
    const term = this.term(index);
    this.#ents = this.#ents.slice(index - this.#compactedIndex);
    this.#compactedIndex = index;
    this.#compactedTerm = term;
    assert(this.firstIndex() === index + 1, 'compact moves firstIndex past index');
  }

  /**
   * append writes entries, first truncating a conflicting suffix; entries
   * already compacted are ignored. Returns the entries actually kept (a
   * suffix of `entries`), for a caller that also writes them elsewhere.
   */
  append(entries: readonly Entry[]): readonly Entry[] {
    if (entries.length === 0) return entries;
    const first = this.firstIndex();
    const e0 = (entries[0] as Entry).index;
    const last = e0 + entries.length - 1;
    if (last < first) return []; // Everything is already compacted.
    const skip = first > e0 ? first - e0 : 0;
    const start = e0 + skip; // Index of the first entry to keep.
    const pos = start - first; // Its position in #ents.
    if (pos > this.#ents.length) {
      throw new OtlpdbError('ERR_UNAVAILABLE_INDEX', `append at ${start} leaves a gap after last index ${this.lastIndex()}`);
    }
    if (pos < this.#ents.length) this.#ents.length = pos; // Truncate the conflicting suffix.
    pushAll(this.#ents, entries, skip);
    assert(this.lastIndex() === last, 'append ends at the last appended index');
    return skip === 0 ? entries : entries.slice(skip);
  }
}
