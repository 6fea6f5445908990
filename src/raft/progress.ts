/**
 * progress.ts — a leader's view of one follower (etcd's tracker.Progress).
 *
 * Invariants:
 * - 0 <= match < next: the follower holds the log up to `match`; the next
 *   append starts at `next`.
 * - In Probe, at most one append is outstanding (`probeSent`) until the
 *   follower answers or a heartbeat interval passes.
 * - In Replicate, `next` runs ahead of `match` optimistically; `inflights`
 *   bounds how far (messages and bytes).
 * - In Snapshot, `pendingSnapshot` is the index of the snapshot being sent;
 *   no appends are sent; at most one chunk is in flight (`snapshotChunkInflight`)
 *   and `snapshotOffset` is the byte position of the next chunk.
 * Owner: ProgressTracker (created, removed); Raft (every state change).
 */
import { assert } from '../errors.js';
import { Inflights } from './inflights.js';
import { ProgressState } from './types.js';
import type { Snapshot } from './types.js';

/** Progress tracks how far one peer's log is known to match the leader's, and how to send it more. */
export class Progress {
  /** match is the highest index known to be replicated on the peer. Invariant: 0 <= match < next. */
  match: number;
  /** next is the index of the next entry to send. Invariant: match < next. */
  next: number;
  /** state is Probe, Replicate or Snapshot. */
  state: ProgressState = ProgressState.Probe;
  /** pendingSnapshot is the index of the snapshot being sent in Snapshot state, else 0. */
  pendingSnapshot = 0;
  /** snapshot is the image being sent in chunks, held so every chunk comes from the same image. */
  snapshot: Snapshot | null = null;
  /** snapshotOffset is the byte offset of the next chunk to send. */
  snapshotOffset = 0;
  /** snapshotChunkInflight says a chunk was sent and not yet acknowledged. */
  snapshotChunkInflight = false;
  /** snapshotIdleTicks counts ticks since the last chunk was sent or acknowledged (a timeout resends the chunk). */
  snapshotIdleTicks = 0;
  /** snapshotResends counts resends of the chunk in flight without an advance (past SNAPSHOT_CHUNK_RESENDS_MAX: back to Probe). */
  snapshotResends = 0;
  /** recentActive says the peer was heard from since the last check-quorum round. */
  recentActive = false;
  /** probeSent says a probe is outstanding in Probe state (sending is paused until a reply or a heartbeat). */
  probeSent = false;
  /** inflights bounds the pipelined appends in Replicate state. */
  readonly inflights: Inflights;
  /** isLearner says the peer is a non-voting learner. */
  isLearner: boolean;

  constructor(next: number, inflightMsgsMax: number, inflightBytesMax: number, isLearner: boolean) {
    assert(next >= 1, 'progress next >= 1');
    this.match = 0;
    this.next = next;
    this.inflights = new Inflights(inflightMsgsMax, inflightBytesMax);
    this.isLearner = isLearner;
  }

  #resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshot = null;
    this.snapshotOffset = 0;
    this.snapshotChunkInflight = false;
    this.snapshotIdleTicks = 0;
    this.snapshotResends = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** reset forgets everything known about the peer (new term): Probe from `next`, match 0. */
  reset(next: number): void {
    assert(next >= 1, 'reset next >= 1');
    this.#resetState(ProgressState.Probe);
    this.match = 0;
    this.next = next;
    this.recentActive = false;
  }

  /** becomeProbe moves to Probe: send one append at a time until the match is found. */
  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      // The follower may have installed the snapshot; probe just past it.
      const pending = this.pendingSnapshot;
      this.#resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.#resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
    assert(this.match < this.next, 'match < next after becomeProbe');
  }

  /** becomeReplicate moves to Replicate: pipeline appends from match + 1. */
  becomeReplicate(): void {
    this.#resetState(ProgressState.Replicate);
    this.next = this.match + 1;
    assert(this.match < this.next, 'match < next after becomeReplicate');
  }

  /** becomeSnapshot moves to Snapshot: send `snap` in chunks from offset 0. */
  becomeSnapshot(snap: Snapshot): void {
    assert(snap.metadata.index > 0, 'snapshot index > 0');
    this.#resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snap.metadata.index;
    this.snapshot = snap;
    assert(this.snapshotOffset === 0, 'snapshot starts at offset 0');
  }

  /** maybeUpdate records an acknowledgement up to n; returns whether match advanced. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    assert(this.match < this.next, 'match < next after maybeUpdate');
    return updated;
  }

  /** optimisticUpdate advances next past an append just sent in Replicate state. */
  optimisticUpdate(n: number): void {
    assert(n >= this.match, 'optimistic next never below match');
    this.next = n + 1;
  }

  /**
   * maybeDecrTo handles a rejected append of index `rejected` with the
   * follower's hint; returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false; // Stale.
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false; // Stale: not the probe we sent last.
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    assert(this.match < this.next, 'match < next after maybeDecrTo');
    return true;
  }

  /** isPaused says whether the leader must not send appends now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }
}
