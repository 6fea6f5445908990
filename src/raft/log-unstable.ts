/**
 * log-unstable.ts — the tail of the log (and possibly a snapshot) that the
 * core has accepted but the driver has not yet persisted (etcd's unstable).
 *
 * Invariants:
 * - `entries[i]` has index `offset + i`; indexes are contiguous.
 * - If `snapshot` is set, `offset === snapshot.metadata.index + 1` when it was
 *   restored; entries after it start at `offset`.
 * - The unstable log owns its `entries` array: entries handed in are copied
 *   by push (never aliased), so a caller's array is never mutated. An array
 *   handed out by `takeEntries` (to a Ready) is shared: the next mutation
 *   copies it first (copy-on-write), so the Ready's array never changes.
 * Owner: RaftLog. The driver learns of these entries through Ready.entries
 * and reports them persisted through stableTo / stableSnapTo.
 */
import { assert } from '../errors.js';
import type { Entry, Snapshot } from './types.js';

/** PUSH_CHUNK bounds the arguments of one spread push (engines cap argument counts). */
const PUSH_CHUNK = 8192;

/** pushAll appends src[from..] to dst; spread pushes in chunks beat a per-element loop for large batches. */
export function pushAll(dst: Entry[], src: readonly Entry[], from: number): void {
  if (from === 0 && src.length <= PUSH_CHUNK) {
    dst.push(...src);
    return;
  }
  for (let i = from; i < src.length; i += PUSH_CHUNK) {
    dst.push(...src.slice(i, Math.min(src.length, i + PUSH_CHUNK)));
  }
}

/** Unstable holds entries and a snapshot not yet written to stable storage. */
export class Unstable {
  /** snapshot is an incoming snapshot not yet persisted, or null. */
  snapshot: Snapshot | null = null;
  /** entries are the unpersisted entries; entries[0] has index `offset`. */
  entries: Entry[] = [];
  /** offset is the index of entries[0] (or where the next entry would go). */
  offset: number;
  /** #shared says `entries` was handed out by takeEntries and must be copied before any mutation. */
  #shared = false;

  constructor(offset: number) {
    assert(Number.isSafeInteger(offset) && offset >= 1, 'unstable offset >= 1');
    this.offset = offset;
  }

  /** maybeFirstIndex is the first index after an unstable snapshot, or 0 when there is none. */
  maybeFirstIndex(): number {
    return this.snapshot !== null ? this.snapshot.metadata.index + 1 : 0;
  }

  /** maybeLastIndex is the last unstable index, or 0 when nothing is unstable. */
  maybeLastIndex(): number {
    if (this.entries.length !== 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== null) return this.snapshot.metadata.index;
    return 0;
  }

  /** maybeTerm is the term of entry i when the unstable part knows it, or -1. */
  maybeTerm(i: number): number {
    if (i < this.offset) {
      if (this.snapshot !== null && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return -1;
    }
    const k = i - this.offset;
    if (k >= this.entries.length) return -1;
    return (this.entries[k] as Entry).term;
  }

  /** stableTo drops entries up to index i once the driver has persisted them, if entry i still has term t. */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt < 0 || gt !== t || i < this.offset) return; // Replaced meanwhile by a newer leader's entries.
    const k = i + 1 - this.offset;
    assert(k <= this.entries.length, 'stableTo within unstable entries');
    if (k === this.entries.length) this.entries = [];
    else if (this.#shared) this.entries = this.entries.slice(k);
    else this.entries.splice(0, k);
    this.#shared = false;
    this.offset = i + 1;
    assert(this.offset >= 1, 'unstable offset stays >= 1');
  }

  /** stableSnapTo drops the unstable snapshot once the driver has persisted it. */
  stableSnapTo(i: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === i) this.snapshot = null;
  }

  /** restore replaces everything unstable with a snapshot. */
  restore(s: Snapshot): void {
    assert(s.metadata.index >= 0, 'snapshot index >= 0');
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.#shared = false;
    this.snapshot = s;
  }

  /** truncateAndAppend appends `ents[from..]`, first truncating any unstable suffix they replace. */
  truncateAndAppend(ents: readonly Entry[], from: number): void {
    if (from >= ents.length) return;
    if (this.#shared) {
      this.entries = this.entries.slice();
      this.#shared = false;
    }
    const after = (ents[from] as Entry).index;
    const end = this.offset + this.entries.length;
    if (after === end) {
      // The common case: a contiguous append.
    } else if (after <= this.offset) {
      // Replace everything unstable; the log below `after` is in storage.
      this.offset = after;
      this.entries = [];
    } else {
      assert(after < end, 'truncateAndAppend leaves no gap');
      this.entries.length = after - this.offset;
    }
    pushAll(this.entries, ents, from);
    assert(this.offset + this.entries.length - 1 === (ents[ents.length - 1] as Entry).index, 'unstable indexes contiguous');
  }

  /** appendOwned appends a batch the caller built and gives up (a leader's proposal): adopted without copying when nothing is unstable. */
  appendOwned(ents: Entry[]): void {
    if (ents.length === 0) return;
    const first = (ents[0] as Entry).index;
    if (this.entries.length === 0 && first === this.offset) {
      this.entries = ents;
      this.#shared = false;
      return;
    }
    this.truncateAndAppend(ents, 0);
  }

  /** takeEntries hands the unstable entries to a Ready without copying; they stay unstable until stableTo. */
  takeEntries(): readonly Entry[] {
    this.#shared = this.entries.length > 0;
    return this.entries;
  }

  /** slice returns a copy of the unstable entries [lo, hi) (or up to `count` of them). */
  slice(lo: number, hi: number): Entry[] {
    assert(lo >= this.offset && lo <= hi, 'unstable slice lo in range');
    assert(hi <= this.offset + this.entries.length, 'unstable slice hi in range');
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
