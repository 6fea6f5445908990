/**
 * group-replay.ts — rebuilds one Raft group's persisted state from the
 * manifest and the WAL records that survive, in WAL order.
 *
 * Invariants (after every apply):
 * - `entries` is contiguous: entries[k].index === entries[0].index + k.
 * - every entry has index > compactedIndex.
 * - `hardState` and `snapshot` only move to records at or after the
 *   manifest's covered position (older records are superseded by the
 *   manifest's copy; see manifest.ts).
 * - After a GroupRemoved record the replay is back at its starting point:
 *   the manifest's copy when the record lies before the manifest's covered
 *   position (the manifest was written after the removal, so it describes
 *   the new incarnation or nothing), an empty group otherwise.
 * After the last record, `finish()` also requires entries to start right
 * after compactedIndex; anything else means records are missing, and is
 * corruption rather than a log silently shorter than what was acknowledged.
 * Owner: recovery in wal.ts creates one per group and discards it after open.
 */
import { OtlpdbError, assert } from '../../errors.js';
import type { Entry, GroupId, HardState, SnapshotMetadata } from '../types.js';
import type { ManifestGroup, WalPosition } from './manifest.js';
import { comparePositions } from './manifest.js';

/** RecoveredGroup is what the WAL returns for one group at open: enough to rebuild its Storage. */
export interface RecoveredGroup {
  readonly group: GroupId;
  /** hardState is the last hard state written, or null if the group never wrote one. */
  readonly hardState: HardState | null;
  /** snapshot is the metadata of the latest saved or applied snapshot, or null. */
  readonly snapshot: SnapshotMetadata | null;
  /** compactedIndex: entries up to it are gone (compacted, or replaced by an applied snapshot). */
  readonly compactedIndex: number;
  /** entries are the surviving log entries, contiguous from compactedIndex + 1. */
  readonly entries: readonly Entry[];
}

/** GroupReplay applies one group's records in WAL order; see the invariants at the top of this file. */
export class GroupReplay {
  readonly group: GroupId;
  readonly #covered: WalPosition;
  readonly #fromManifest: ManifestGroup | null;
  /** removed is true while the last record of the group was a GroupRemoved (recovery then forgets the group). */
  removed = false;
  hardState: HardState | null = null;
  snapshot: SnapshotMetadata | null = null;
  compactedIndex = 0;
  #entries: Entry[] = [];

  constructor(group: GroupId, covered: WalPosition, fromManifest: ManifestGroup | null) {
    this.group = group;
    this.#covered = covered;
    this.#fromManifest = fromManifest;
    if (fromManifest !== null) {
      assert(fromManifest.group === group, 'manifest group matches');
      this.hardState = fromManifest.hardState;
      this.snapshot = fromManifest.snapshot;
      this.compactedIndex = fromManifest.compactedIndex;
    }
  }

  /**
   * applyGroupRemoved voids every earlier record of the group (see the
   * invariants above): the replay restarts from the manifest's copy when the
   * record is older than the manifest, from nothing otherwise.
   */
  applyGroupRemoved(pos: WalPosition): void {
    const m = comparePositions(pos, this.#covered) < 0 ? this.#fromManifest : null;
    this.hardState = m?.hardState ?? null;
    this.snapshot = m?.snapshot ?? null;
    this.compactedIndex = m?.compactedIndex ?? 0;
    this.#entries = [];
    this.removed = m === null;
  }

  /** lastIndex is the index of the last entry, or compactedIndex when there are none. */
  lastIndex(): number {
    const last = this.#entries[this.#entries.length - 1];
    return last === undefined ? this.compactedIndex : last.index;
  }

  /**
   * applyEntries appends a batch with Raft's append semantics: a batch
   * starting at or before the last index replaces the suffix from there.
   * The truncation uses the batch's own first index even when that is at or
   * below compactedIndex: during replay compactedIndex may come from a
   * manifest written after this record, and the suffix the record replaced
   * must stay replaced.
   */
  applyEntries(ents: readonly Entry[]): void {
    this.removed = false;
    const first = (ents[0] as Entry).index;
    const head = this.#entries[0];
    if (head !== undefined) {
      if (first <= head.index) this.#entries = [];
      else if (first <= this.lastIndex()) this.#entries.length = first - head.index;
    }
    let from = 0;
    while (from < ents.length && (ents[from] as Entry).index <= this.compactedIndex) from++;
    if (from === ents.length) return; // Everything else is compacted already.
    if (this.#entries.length > 0 && (ents[from] as Entry).index !== this.lastIndex() + 1) {
      // A gap: legal here only when a later SnapshotApplied record voids it; finish() rejects one that survives.
      this.#entries = [];
    }
    for (let k = from; k < ents.length; k++) this.#entries.push(ents[k] as Entry);
    assert(this.lastIndex() === (ents[ents.length - 1] as Entry).index, 'the log ends at the batch');
  }

  /** applyHardState records a hard state written at `pos`. */
  applyHardState(hs: HardState, pos: WalPosition): void {
    this.removed = false;
    if (comparePositions(pos, this.#covered) >= 0) this.hardState = hs;
  }

  /** applyCompact drops entries up to `index`. */
  applyCompact(index: number): void {
    this.removed = false;
    if (index <= this.compactedIndex) return;
    this.compactedIndex = index;
    const head = this.#entries[0];
    if (head !== undefined) this.#entries.splice(0, Math.min(this.#entries.length, index - head.index + 1));
    assert(this.#entries.length === 0 || (this.#entries[0] as Entry).index > index, 'no entry at or below the compacted index');
  }

  /** applySnapshotSaved records a snapshot of the node's own state machine; the log is untouched. */
  applySnapshotSaved(meta: SnapshotMetadata, pos: WalPosition): void {
    this.removed = false;
    if (comparePositions(pos, this.#covered) >= 0) this.snapshot = meta;
  }

  /** applySnapshotApplied records a snapshot installed from the leader: it replaces the whole log (Raft paper Figure 13, step 7). */
  applySnapshotApplied(meta: SnapshotMetadata, pos: WalPosition): void {
    this.removed = false;
    if (comparePositions(pos, this.#covered) >= 0) this.snapshot = meta;
    this.#entries = [];
    this.compactedIndex = Math.max(this.compactedIndex, meta.index);
  }

  /** finish checks the final log and returns the recovered group; missing entries are ERR_CORRUPTION. */
  finish(): RecoveredGroup {
    const head = this.#entries[0];
    if (head !== undefined && head.index !== this.compactedIndex + 1) {
      throw new OtlpdbError(
        'ERR_CORRUPTION',
        `WAL group ${this.group}: entries resume at ${head.index} after compacted index ${this.compactedIndex}; records are missing`,
        { group: this.group, firstIndex: head.index, compactedIndex: this.compactedIndex },
      );
    }
    return {
      group: this.group,
      hardState: this.hardState,
      snapshot: this.snapshot,
      compactedIndex: this.compactedIndex,
      entries: this.#entries,
    };
  }
}
