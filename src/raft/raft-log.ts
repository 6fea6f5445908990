/**
 * raft-log.ts — the replica's view of its log: what is in stable Storage,
 * what is still unstable, and the committed and applied indexes (etcd's
 * raftLog).
 *
 * Invariants:
 * - applied <= committed <= lastIndex().
 * - firstIndex() - 1 <= applied (nothing below the snapshot is unapplied).
 * - Entries at or below `committed` are never truncated (Log Matching, §5.3;
 *   a conflict there is a safety bug and trips an assertion).
 * Owner: Raft. The driver observes it only through Ready and reports back
 * through stableTo / stableSnapTo / appliedTo (RawNode.advance).
 */
import { assert, isOtlpdbError } from '../errors.js';
import { entrySizeBytes, prefixCountWithinBytes } from './entry-size.js';
import { Unstable } from './log-unstable.js';
import type { Entry, Snapshot, Storage } from './types.js';

/** TERM_COMPACTED is what RaftLog.term returns for an index below the first index - 1. */
export const TERM_COMPACTED = -1;
/** TERM_UNAVAILABLE is what RaftLog.term returns for an index beyond the last index. */
export const TERM_UNAVAILABLE = -2;

/** RaftLog combines stable Storage and the Unstable tail into one log with commit and apply cursors. */
export class RaftLog {
  /** storage holds the persisted log; the core only reads it. */
  readonly storage: Storage;
  /** unstable holds entries and a snapshot not yet persisted. */
  readonly unstable: Unstable;
  /** committed is the highest index known to be committed. Invariant: applied <= committed <= lastIndex(). */
  committed: number;
  /** applied is the highest index the driver reported applied. */
  applied: number;

  constructor(storage: Storage) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    assert(first >= 1, 'storage firstIndex >= 1');
    assert(last >= first - 1, 'storage lastIndex >= firstIndex - 1');
    this.storage = storage;
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  /** firstIndex is the first index still available (after the latest snapshot). */
  firstIndex(): number {
    const i = this.unstable.maybeFirstIndex();
    return i !== 0 ? i : this.storage.firstIndex();
  }

  /** lastIndex is the index of the last entry in the log. */
  lastIndex(): number {
    const i = this.unstable.maybeLastIndex();
    return i !== 0 ? i : this.storage.lastIndex();
  }

  /** lastTerm is the term of the last entry in the log. */
  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t >= 0, 'the last entry has a term');
    return t;
  }

  /**
   * term is the term of entry i, TERM_COMPACTED below firstIndex()-1, or
   * TERM_UNAVAILABLE beyond lastIndex(). It never throws for out-of-range i,
   * so hot paths do not pay for exceptions.
   */
  term(i: number): number {
    const t = this.unstable.maybeTerm(i);
    if (t >= 0) return t;
    const dummy = this.firstIndex() - 1;
    if (i < dummy) return TERM_COMPACTED;
    if (i > this.lastIndex()) return TERM_UNAVAILABLE;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (isOtlpdbError(err, 'ERR_COMPACTED')) return TERM_COMPACTED;
      if (isOtlpdbError(err, 'ERR_UNAVAILABLE_INDEX')) return TERM_UNAVAILABLE;
      throw err;
    }
  }

  /** matchTerm says whether entry i exists with term t. */
  matchTerm(i: number, t: number): boolean {
    const got = this.term(i);
    return got >= 0 && got === t;
  }

  /** isUpToDate says whether a log ending at (lasti, term) is at least as up to date as this one (§5.4.1). */
  isUpToDate(lasti: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && lasti >= this.lastIndex());
  }

  /**
   * findConflict returns the index of the first entry of `ents` whose term
   * differs from the log (or that the log lacks), or 0 when all match.
   * Cost: O(entries that overlap the log) + 1.
   */
  findConflict(ents: readonly Entry[]): number {
    for (let k = 0; k < ents.length; k++) {
      const e = ents[k] as Entry;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * findConflictByTerm returns the largest index <= `index` whose term is
   * <= `term` (or the first unavailable index): no entry in between can
   * match a log whose entry at `index` has term `term`, so the leader can skip
   * a whole term per round trip (etcd's fast backtracking).
   */
  findConflictByTerm(index: number, term: number): number {
    const li = this.lastIndex();
    if (index > li) return index;
    for (;;) {
      const t = this.term(index);
      if (t < 0 || t <= term) break;
      index--;
    }
    assert(index >= 0, 'findConflictByTerm stays >= 0');
    return index;
  }

  /**
   * maybeAppend appends `ents` (which follow entry `index` of term `logTerm`)
   * if the log matches at `index`, truncating any conflicting suffix, and
   * advances the commit to min(committed, last new index). It returns the
   * last new index, or -1 when the log does not match (§5.3, AppendEntries
   * receiver steps 2-5).
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, 'never truncate a committed entry (Log Matching)');
      this.unstable.truncateAndAppend(ents, ci - (index + 1));
    }
    this.commitTo(Math.min(committed, lastNew));
    assert(this.lastIndex() >= lastNew, 'log reaches the last new index');
    return lastNew;
  }

  /** append appends entries a leader created, taking ownership of the array; returns the new last index. */
  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = (ents[0] as Entry).index - 1;
    assert(after >= this.committed, 'append never truncates a committed entry');
    this.unstable.appendOwned(ents);
    return this.lastIndex();
  }

  /** commitTo advances the commit index (never backwards). */
  commitTo(toCommit: number): void {
    if (this.committed >= toCommit) return;
    assert(toCommit <= this.lastIndex(), 'commit index within the log');
    this.committed = toCommit;
  }

  /** maybeCommit commits `maxIndex` if entry `maxIndex` has term `term` (the caller passes its current term, §5.4.2). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  /** appliedTo records that the driver applied everything up to index i. */
  appliedTo(i: number): void {
    if (i === 0) return;
    assert(i <= this.committed, 'applied <= committed');
    assert(i >= this.applied, 'applied never moves backwards');
    this.applied = i;
  }

  /** stableTo records that the driver persisted entries up to (i, t). */
  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  /** stableSnapTo records that the driver persisted the unstable snapshot at index i. */
  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** unstableEntries are the entries the driver must persist next (shared copy-on-write with the unstable log). */
  unstableEntries(): readonly Entry[] {
    return this.unstable.takeEntries();
  }

  /** hasNextCommittedEnts says whether committed entries wait to be applied. */
  hasNextCommittedEnts(): boolean {
    const off = Math.max(this.applied + 1, this.firstIndex());
    return this.committed + 1 > off;
  }

  /**
   * nextCommittedEnts returns the committed, unapplied entries, at most
   * `bytesMax` bytes (at least one). With `stableOnly` it returns only
   * entries the driver has already reported persisted (below the unstable
   * offset, and none while an unstable snapshot waits): etcd's rule for
   * async storage writes, so a driver may apply them while it fsyncs newer
   * ones (multi-raft.ts, "Pipelining").
   */
  nextCommittedEnts(bytesMax: number, stableOnly = false): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    let hi = this.committed;
    if (stableOnly) hi = this.unstable.snapshot !== null ? 0 : Math.min(hi, this.unstable.offset - 1);
    if (hi + 1 <= off) return [];
    return this.slice(off, hi + 1, bytesMax);
  }

  /** snapshot returns the unstable snapshot if there is one, else the storage's. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** hasPendingSnapshot says whether an unstable snapshot waits to be persisted. */
  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  /** restore resets the log to a snapshot (the follower side of InstallSnapshot). */
  restore(s: Snapshot): void {
    assert(s.metadata.index > this.committed, 'restore only moves the log forward');
    this.committed = s.metadata.index;
    this.unstable.restore(s);
    assert(this.lastIndex() === s.metadata.index, 'restored log ends at the snapshot');
  }

  /**
   * slice returns entries [lo, hi), at most `bytesMax` bytes but at least
   * one. It throws OtlpdbError ERR_COMPACTED when lo is below firstIndex()
   * (the leader then sends a snapshot instead).
   */
  slice(lo: number, hi: number, bytesMax: number): Entry[] {
    assert(lo <= hi, 'slice lo <= hi');
    assert(hi <= this.lastIndex() + 1, 'slice hi <= lastIndex + 1');
    if (lo === hi) return [];
    const off = this.unstable.offset;
    if (lo >= off) {
      const u = this.unstable.entries;
      const n = prefixCountWithinBytes(u, lo - off, hi - off, bytesMax);
      return u.slice(lo - off, lo - off + n);
    }
    const storedHi = Math.min(hi, off);
    const stored = this.storage.entries(lo, storedHi, bytesMax);
    if (hi <= off || stored.length < storedHi - lo) return stored;
    let size = 0;
    for (let k = 0; k < stored.length; k++) size += entrySizeBytes(stored[k] as Entry);
    const u = this.unstable.entries;
    for (let k = 0; k < hi - off; k++) {
      const e = u[k] as Entry;
      size += entrySizeBytes(e);
      if (size > bytesMax) break;
      stored.push(e);
    }
    return stored;
  }
}
