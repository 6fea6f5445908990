/**
 * disk.ts — the simulated disk of one node: a volatile layer in front of a
 * durable image, so that a crash loses exactly what was not fsynced.
 *
 * Invariants:
 * - `live` is what the running node sees: every write lands there at once.
 * - The durable image holds exactly the writes that preceded the last
 *   `sync()`; `#pending` holds the writes since, in order.
 * - `crash()` discards `#pending`; `recover()` builds a fresh `live` storage
 *   from the durable image alone.
 * - The durable hard-state term never decreases (checked on every sync).
 *
 * Membership: the durable membership is the one in the durable snapshot. On
 * restart the node's Config.applied is the snapshot index, so every
 * configuration change after it is applied again from the log (as etcd's
 * raftexample does); `setConfState` on the live storage is therefore not a
 * durable write.
 *
 * Compaction writes its snapshot and truncates the log in one durable step
 * (a real node writes and fsyncs the snapshot file before it drops WAL
 * segments); it first syncs everything pending, so the image stays a prefix
 * of the writes.
 */
import { assert } from '../../src/errors.js';
import { MemoryStorage } from '../../src/raft/memory-storage.js';
import type { ConfState, Entry, HardState, Snapshot } from '../../src/raft/types.js';

/** DiskWrite is one write to the log store, kept until it is synced. */
type DiskWrite =
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] };

/** DiskStats counts what one disk did over a run. */
export interface DiskStats {
  writes: number;
  syncs: number;
  lostWrites: number;
}

/** DurableImage is what survives a crash. */
export interface DurableImage {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  readonly entries: readonly Entry[];
}

/**
 * SimDisk is one node's log store. The driver writes through it (never to
 * `live` directly) so that every write is also queued for the durable image.
 */
export class SimDisk {
  readonly #bootstrap: ConfState | undefined;
  #durable: MemoryStorage;
  #pending: DiskWrite[] = [];
  #live: MemoryStorage;
  /** stats counts writes, syncs and writes lost to crashes. */
  readonly stats: DiskStats = { writes: 0, syncs: 0, lostWrites: 0 };

  /** A founding member passes the initial membership; a joining node passes nothing. */
  constructor(bootstrap?: ConfState) {
    this.#bootstrap = bootstrap;
    this.#durable = new MemoryStorage(bootstrap);
    this.#live = new MemoryStorage(bootstrap);
  }

  /** live is the storage the running Raft node reads. */
  get live(): MemoryStorage {
    return this.#live;
  }

  /** unsynced is the number of writes a crash would lose now. */
  get unsynced(): number {
    return this.#pending.length;
  }

  /** setHardState writes a hard state (volatile until sync). */
  setHardState(hardState: HardState): void {
    this.#live.setHardState(hardState);
    this.#pending.push({ kind: 'hardState', hardState });
    this.stats.writes++;
  }

  /** applySnapshot installs a snapshot received from the leader (volatile until sync). */
  applySnapshot(snapshot: Snapshot): void {
    this.#live.applySnapshot(snapshot);
    this.#pending.push({ kind: 'snapshot', snapshot });
    this.stats.writes++;
  }

  /** append writes entries, truncating a conflicting suffix (volatile until sync). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.#live.append(entries);
    this.#pending.push({ kind: 'entries', entries });
    this.stats.writes++;
  }

  /** sync makes every pending write durable (fsync). */
  sync(): void {
    const before = this.#durable.hardState().term;
    for (const w of this.#pending) {
      switch (w.kind) {
        case 'hardState':
          this.#durable.setHardState(w.hardState);
          break;
        case 'snapshot':
          this.#durable.applySnapshot(w.snapshot);
          break;
        case 'entries':
          this.#durable.append(w.entries);
          break;
      }
    }
    this.#pending = [];
    this.stats.syncs++;
    assert(this.#durable.hardState().term >= before, 'durable term never decreases');
  }

  /**
   * compact snapshots the state machine at `index` (its applied index, with
   * the membership in force there) and drops the log up to `compactIndex`
   * (<= index), durably. Returns false when the log no longer allows it
   * (a newer snapshot is already stored, or the index is not in the log).
   */
  compact(index: number, confState: ConfState, data: Uint8Array, compactIndex: number): boolean {
    assert(compactIndex <= index, 'compaction stays within the snapshot');
    const live = this.#live;
    if (index <= live.snapshot().metadata.index || index > live.lastIndex()) return false;
    this.sync();
    const durable = this.#durable;
    if (index <= durable.snapshot().metadata.index || index > durable.lastIndex()) return false;
    if (live.term(index) !== durable.term(index)) return false;
    live.createSnapshot(index, confState, data);
    durable.createSnapshot(index, confState, data);
    if (compactIndex >= live.firstIndex()) live.compact(compactIndex);
    if (compactIndex >= durable.firstIndex()) durable.compact(compactIndex);
    this.stats.writes++;
    this.stats.syncs++;
    return true;
  }

  /** durable returns the durable image (what a crash right now would leave). */
  durable(): DurableImage {
    const d = this.#durable;
    const first = d.firstIndex();
    const last = d.lastIndex();
    return {
      hardState: d.hardState(),
      snapshot: d.snapshot(),
      entries: last >= first ? d.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : [],
    };
  }

  /** crash discards every write not yet synced. */
  crash(): void {
    this.stats.lostWrites += this.#pending.length;
    this.#pending = [];
  }

  /** recover rebuilds the live storage from the durable image only, after a crash. */
  recover(): MemoryStorage {
    assert(this.#pending.length === 0, 'recover follows a crash');
    const image = this.durable();
    const s = new MemoryStorage(this.#bootstrap);
    if (image.snapshot.metadata.index > s.snapshot().metadata.index) s.applySnapshot(image.snapshot);
    s.setHardState(image.hardState);
    const snapIndex = image.snapshot.metadata.index;
    s.append(image.entries.filter((e) => e.index > snapIndex));
    assert(s.lastIndex() === Math.max(snapIndex, this.#durable.lastIndex()), 'recovered log ends where the durable one does');
    this.#live = s;
    return s;
  }
}
