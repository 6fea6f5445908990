/**
 * wal-storage.ts — the Storage of one Raft group on a node, backed by the
 * node's shared WAL (entries, hard state, snapshot metadata) and its
 * SnapshotStore (snapshot images).
 *
 * It keeps the group's log in memory exactly as MemoryStorage does (an array
 * with an index offset) and writes every change through to the WAL's buffer;
 * nothing is durable until the driver's next `wal.sync()`. Snapshot images
 * are different: `applySnapshot` and `createSnapshot` first make the image
 * durable in the SnapshotStore, then buffer the metadata in the WAL, so a
 * WAL that names a snapshot always finds its image.
 *
 * Invariants (as MemoryStorage):
 * - The entries live in an EntryLog (see ../entry-log.ts for its invariants).
 * - #snap.metadata.index >= log.compactedIndex() and <= lastIndex().
 * - The WAL's view of the group (wal.lastIndex(group)) equals lastIndex().
 * Owner: the driver writes; the Raft core only reads.
 *
 * Recovery (`WalStorage.recover`): the WAL's RecoveredGroup gives hard
 * state, snapshot metadata, compacted index and entries; the image is loaded
 * from the SnapshotStore at exactly the WAL's snapshot index (missing or
 * damaged: ERR_CORRUPTION). If a torn tail kept a SnapshotSaved record but
 * lost the Compact after it, the log is compacted to the snapshot again.
 * NB: membership is persisted only inside snapshots; ConfChange entries after
 * the snapshot are re-applied by the driver when they are replayed (as etcd).
 */
import { OtlpdbError, assert } from '../../errors.js';
import { EntryLog } from '../entry-log.js';
import type { ConfState, Entry, GroupId, HardState, Snapshot, Storage } from '../types.js';
import type { RecoveredGroup } from '../wal/group-replay.js';
import type { Wal } from '../wal/wal.js';
import type { SnapshotStore } from './snapshot-store.js';

const EMPTY_BYTES = new Uint8Array(0);

interface WalStorageState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  readonly compactedIndex: number;
  readonly compactedTerm: number;
  readonly entries: Entry[];
}

/** WalStorage is one group's Storage over the shared WAL and the SnapshotStore (see the top of this file). */
export class WalStorage implements Storage {
  readonly group: GroupId;
  readonly #wal: Wal;
  readonly #store: SnapshotStore;
  #hardState: HardState;
  #confState: ConfState;
  #snap: Snapshot;
  readonly #log: EntryLog;

  private constructor(wal: Wal, store: SnapshotStore, group: GroupId, st: WalStorageState) {
    this.group = group;
    this.#wal = wal;
    this.#store = store;
    this.#hardState = st.hardState;
    this.#snap = st.snapshot;
    this.#confState = st.snapshot.metadata.confState;
    this.#log = new EntryLog(st.compactedIndex, st.compactedTerm, st.entries);
    assert(this.#snap.metadata.index >= this.#log.compactedIndex(), 'snapshot covers the compacted prefix');
    assert(this.#snap.metadata.index <= this.lastIndex(), 'snapshot within the log');
  }

  /**
   * recover rebuilds a group's storage from what `Wal.open` found. A group
   * the WAL has never seen is bootstrapped with `bootstrap` (as
   * MemoryStorage(confState): snapshot at index 1, term 1, hard state
   * {term 1, commit 1}) — buffered: the caller syncs the WAL — or, without
   * it, starts empty (a replica that will join later).
   */
  static async recover(
    wal: Wal,
    store: SnapshotStore,
    group: GroupId,
    rec: RecoveredGroup | undefined,
    bootstrap?: ConfState,
  ): Promise<WalStorage> {
    if (rec === undefined || (rec.snapshot === null && rec.hardState === null && rec.entries.length === 0)) {
      const empty: Snapshot = { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: EMPTY_BYTES };
      const s = new WalStorage(wal, store, group, {
        hardState: { term: 0, vote: 0, commit: 0 },
        snapshot: empty,
        compactedIndex: 0,
        compactedTerm: 0,
        entries: [],
      });
      if (bootstrap !== undefined) {
        assert(bootstrap.voters.length > 0, 'bootstrap needs at least one voter');
        const confState = { voters: [...bootstrap.voters], learners: [...bootstrap.learners] };
        await s.applySnapshot({ metadata: { index: 1, term: 1, confState }, data: EMPTY_BYTES });
        s.setHardState({ term: 1, vote: 0, commit: 1 });
      }
      return s;
    }
    assert(rec.group === group, 'recovered group matches');
    let snapshot: Snapshot = { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: EMPTY_BYTES };
    if (rec.snapshot !== null) {
      const loaded = await store.load(group, rec.snapshot.index);
      if (loaded === null) {
        throw new OtlpdbError('ERR_CORRUPTION', `group ${group}: the WAL names snapshot ${rec.snapshot.index}, whose image is missing`, {
          group,
          index: rec.snapshot.index,
        });
      }
      if (loaded.metadata.term !== rec.snapshot.term) {
        throw new OtlpdbError('ERR_CORRUPTION', `group ${group}: snapshot ${rec.snapshot.index} has another term than the WAL says`, { group });
      }
      snapshot = { metadata: rec.snapshot, data: loaded.data };
    }
    const snapIndex = snapshot.metadata.index;
    let compactedIndex = rec.compactedIndex;
    let compactedTerm: number;
    let entries = [...rec.entries];
    if (compactedIndex < snapIndex) {
      // A SnapshotSaved survived without the Compact after it: compact to the snapshot again (keeps the term known).
      const drop = snapIndex - compactedIndex;
      if (drop > entries.length) {
        throw new OtlpdbError('ERR_CORRUPTION', `group ${group}: snapshot ${snapIndex} lies beyond the recovered log`, { group });
      }
      entries = entries.slice(drop);
      wal.compact(group, snapIndex);
      compactedIndex = snapIndex;
      compactedTerm = snapshot.metadata.term;
    } else if (compactedIndex === snapIndex) {
      compactedTerm = snapshot.metadata.term;
    } else {
      throw new OtlpdbError('ERR_CORRUPTION', `group ${group}: compacted index ${compactedIndex} is past snapshot ${snapIndex}`, { group });
    }
    const hs = rec.hardState ?? { term: 0, vote: 0, commit: 0 };
    // A torn tail may keep an applied snapshot's record without the hard state after it: commit covers the snapshot.
    const hardState = hs.commit >= snapIndex ? hs : { term: hs.term, vote: hs.vote, commit: snapIndex };
    return new WalStorage(wal, store, group, { hardState, snapshot, compactedIndex, compactedTerm, entries });
  }

  /** initialState returns the persisted hard state and the membership of the latest snapshot (see NB above). */
  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.#hardState, confState: this.#confState };
  }

  /** hardState returns the hard state as last written. */
  hardState(): HardState {
    return this.#hardState;
  }

  /** setHardState writes a Ready's hard state through to the WAL buffer. */
  setHardState(hs: HardState): void {
    assert(hs.term >= this.#hardState.term, 'hard state term never decreases');
    assert(hs.commit >= 0, 'hard state commit >= 0');
    this.#wal.setHardState(this.group, hs);
    this.#hardState = hs;
  }

  /** setConfState records the membership after the driver applied a ConfChange (persisted with the next snapshot). */
  setConfState(cs: ConfState): void {
    assert(Array.isArray(cs.voters), 'confState voters is an array');
    assert(Array.isArray(cs.learners), 'confState learners is an array');
    this.#confState = cs;
  }

  /** confState is the membership in force as the driver last recorded it. */
  confState(): ConfState {
    return this.#confState;
  }

  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    return this.#log.entries(lo, hi, bytesMax);
  }

  term(i: number): number {
    return this.#log.term(i);
  }

  firstIndex(): number {
    return this.#log.firstIndex();
  }

  lastIndex(): number {
    return this.#log.lastIndex();
  }

  /** snapshot returns the most recent snapshot, metadata and image. */
  snapshot(): Snapshot {
    return this.#snap;
  }

  /**
   * applySnapshot replaces the whole log with a snapshot received from the
   * leader: the image is made durable in the SnapshotStore first, then the
   * WAL record is buffered (durable at the next sync).
   */
  async applySnapshot(snap: Snapshot): Promise<void> {
    if (snap.metadata.index <= this.#snap.metadata.index) {
      throw new OtlpdbError(
        'ERR_SNAPSHOT_OUT_OF_DATE',
        `snapshot ${snap.metadata.index} is not newer than stored ${this.#snap.metadata.index}`,
      );
    }
    await this.#store.save(this.group, snap.metadata, snap.data);
    this.#wal.applySnapshot(this.group, snap.metadata);
    this.#snap = snap;
    this.#log.reset(snap.metadata.index, snap.metadata.term);
    this.#confState = snap.metadata.confState;
    assert(this.lastIndex() === snap.metadata.index, 'log ends at the applied snapshot');
    assert(this.#wal.lastIndex(this.group) === this.lastIndex(), 'WAL and storage agree on the last index');
  }

  /**
   * createSnapshot records a state-machine image at applied index `index`:
   * the image is saved durably, the metadata buffered in the WAL. compact()
   * may then drop the log up to it.
   */
  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    if (index <= this.#snap.metadata.index) {
      throw new OtlpdbError('ERR_SNAPSHOT_OUT_OF_DATE', `snapshot ${index} is not newer than ${this.#snap.metadata.index}`);
    }
    if (index > this.lastIndex()) {
      throw new OtlpdbError('ERR_UNAVAILABLE_INDEX', `snapshot ${index} beyond last index ${this.lastIndex()}`);
    }
    if (index < this.#log.compactedIndex()) {
      throw new OtlpdbError('ERR_COMPACTED', `snapshot ${index} is below the compacted index ${this.#log.compactedIndex()}`);
    }
    const metadata = { index, term: this.term(index), confState };
    await this.#store.save(this.group, metadata, data);
    // The log may have changed while the image was written; the index must still be in it.
    if (index > this.lastIndex() || index <= this.#snap.metadata.index) {
      throw new OtlpdbError('ERR_SNAPSHOT_OUT_OF_DATE', `snapshot ${index} was overtaken while it was saved`);
    }
    this.#wal.saveSnapshot(this.group, metadata);
    this.#snap = { metadata, data };
    assert(this.#snap.metadata.index <= this.lastIndex(), 'snapshot within the log');
    return this.#snap;
  }

  /** compact discards entries up to and including `index` (snapshot first; at most the snapshot index). */
  compact(index: number): void {
    this.#log.checkCompact(index);
    if (index > this.#snap.metadata.index) {
      // Unlike MemoryStorage: recovery needs a snapshot covering the compacted prefix.
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `compact ${index} beyond snapshot ${this.#snap.metadata.index}`);
    }
    this.#wal.compact(this.group, index);
    this.#log.compact(index);
  }

  /** append writes a Ready's entries, first truncating a conflicting suffix; compacted entries are ignored. */
  append(entries: readonly Entry[]): void {
    const kept = this.#log.append(entries);
    if (kept.length > 0) this.#wal.appendEntries(this.group, kept);
    assert(kept.length === 0 || this.#wal.lastIndex(this.group) === this.#log.lastIndex(), 'WAL and storage agree on the last index');
  }
}
