/**
 * memory-storage.ts — an in-memory Storage (etcd's MemoryStorage), used by
 * the simulator, the benchmark and the tests as the "stable" storage a driver
 * writes a Ready into.
 *
 * Invariants:
 * - The entries live in an EntryLog (see entry-log.ts for its invariants).
 * - term(i) is defined for firstIndex()-1 <= i <= lastIndex().
 * - #snap.metadata.index <= lastIndex().
 * NB: as etcd, compact() does not insist on a snapshot covering the index
 * (the benchmark compacts without snapshots). A driver that compacts past its
 * latest snapshot cannot catch up a follower that lags behind the compaction
 * point; real drivers snapshot first (createSnapshot, then compact).
 * Owner: the driver writes (append, setHardState, applySnapshot,
 * createSnapshot, compact); the core only reads.
 *
 * Bootstrap: `new MemoryStorage(confState)` is the storage of a founding
 * member of a new group: it holds a snapshot at index 1, term 1 carrying the
 * initial membership (as etcd's Bootstrap commits the initial ConfChanges),
 * and hard state {term 1, commit 1}. `new MemoryStorage()` is the storage of
 * a node that will join later: index 0, no members; the leader then sends it
 * a snapshot, which carries the membership.
 */
import { OtlpdbError, assert } from '../errors.js';
import type { ConfState, Entry, HardState, Snapshot, Storage } from './types.js';
import { EntryLog } from './entry-log.js';

const EMPTY_BYTES = new Uint8Array(0);

/** MemoryStorage keeps the log in one array with an index offset, and the latest snapshot. */
export class MemoryStorage implements Storage {
  #hardState: HardState;
  #confState: ConfState;
  #snap: Snapshot;
  readonly #log: EntryLog;

  constructor(bootstrap?: ConfState) {
    if (bootstrap !== undefined) {
      assert(bootstrap.voters.length > 0, 'bootstrap needs at least one voter');
      const confState = { voters: [...bootstrap.voters], learners: [...bootstrap.learners] };
      this.#snap = { metadata: { index: 1, term: 1, confState }, data: EMPTY_BYTES };
      this.#hardState = { term: 1, vote: 0, commit: 1 };
      this.#confState = confState;
      this.#log = new EntryLog(1, 1);
    } else {
      const confState = { voters: [], learners: [] };
      this.#snap = { metadata: { index: 0, term: 0, confState }, data: EMPTY_BYTES };
      this.#hardState = { term: 0, vote: 0, commit: 0 };
      this.#confState = confState;
      this.#log = new EntryLog(0, 0);
    }
  }

  /** initialState returns the persisted hard state and the latest persisted membership. */
  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.#hardState, confState: this.#confState };
  }

  /** hardState returns the persisted hard state. */
  hardState(): HardState {
    return this.#hardState;
  }

  /** setHardState persists the hard state of a Ready. */
  setHardState(hs: HardState): void {
    assert(hs.term >= this.#hardState.term, 'hard state term never decreases');
    assert(hs.commit >= 0, 'hard state commit >= 0');
    this.#hardState = hs;
  }

  /** setConfState persists the membership after the driver applied a ConfChange (returned by applyConfChange). */
  setConfState(cs: ConfState): void {
    assert(Array.isArray(cs.voters), 'confState voters is an array');
    assert(Array.isArray(cs.learners), 'confState learners is an array');
    this.#confState = cs;
  }

  /** entries returns entries [lo, hi), at most `bytesMax` bytes but always at least one. */
  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    return this.#log.entries(lo, hi, bytesMax);
  }

  /** term returns the term of entry i, for firstIndex()-1 <= i <= lastIndex(). */
  term(i: number): number {
    return this.#log.term(i);
  }

  /** firstIndex is the index of the first entry still in the log. */
  firstIndex(): number {
    return this.#log.firstIndex();
  }

  /** lastIndex is the index of the last stored entry (firstIndex()-1 when there are none). */
  lastIndex(): number {
    return this.#log.lastIndex();
  }

  /** snapshot returns the most recent snapshot. */
  snapshot(): Snapshot {
    return this.#snap;
  }

  /** applySnapshot replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.#snap.metadata.index) {
      throw new OtlpdbError(
        'ERR_SNAPSHOT_OUT_OF_DATE',
        `snapshot ${snap.metadata.index} is not newer than stored ${this.#snap.metadata.index}`,
      );
    }
    this.#snap = snap;
    this.#log.reset(snap.metadata.index, snap.metadata.term);
    this.#confState = snap.metadata.confState;
    assert(this.lastIndex() === snap.metadata.index, 'log ends at the applied snapshot');
  }

  /** createSnapshot records a state-machine image at applied index `index`; compact() may then drop the log up to it. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.#snap.metadata.index) {
      throw new OtlpdbError('ERR_SNAPSHOT_OUT_OF_DATE', `snapshot ${index} is not newer than ${this.#snap.metadata.index}`);
    }
    if (index > this.lastIndex()) {
      throw new OtlpdbError('ERR_UNAVAILABLE_INDEX', `snapshot ${index} beyond last index ${this.lastIndex()}`);
    }
    if (index < this.#log.compactedIndex()) {
      throw new OtlpdbError('ERR_COMPACTED', `snapshot ${index} is below the compacted index ${this.#log.compactedIndex()}`);
    }
    const term = this.term(index);
    this.#snap = { metadata: { index, term, confState }, data };
    assert(this.#snap.metadata.index <= this.lastIndex(), 'snapshot within the log');
    return this.#snap;
  }

  /** compact discards the entries up to and including `index` (take a snapshot covering it first; see NB above). */
  compact(index: number): void {
    this.#log.compact(index);
  }

  /** append writes entries of a Ready, first truncating a conflicting suffix; older entries are ignored. */
  append(entries: readonly Entry[]): void {
    this.#log.append(entries);
  }
}
