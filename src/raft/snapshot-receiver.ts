/**
 * snapshot-receiver.ts — the follower side of a chunked InstallSnapshot
 * (Raft paper Figure 13): chunks of one snapshot (index, term) accumulate in
 * order until the one marked `done`.
 *
 * Invariants:
 * - At most one partial image is held; a chunk of another snapshot discards it.
 * - receivedBytes <= totalBytes <= bytesMax: the buffer is bounded.
 * - Chunks are accepted only in order (offset === receivedBytes). A chunk
 *   already received (a resend after a lost acknowledgement) is acknowledged
 *   again with receivedBytes and changes nothing; anything else is refused,
 *   and the leader restarts from offset 0.
 * Owner: Raft (follower role).
 */
import { assert } from '../errors.js';
import type { Snapshot, SnapshotChunk, SnapshotMetadata } from './types.js';

interface Partial {
  readonly metadata: SnapshotMetadata;
  readonly totalBytes: number;
  readonly parts: Uint8Array[];
  receivedBytes: number;
}

/** SnapshotReceiveResult says how far an image has arrived, and the whole snapshot on the last chunk. */
export interface SnapshotReceiveResult {
  readonly receivedBytes: number;
  readonly snapshot: Snapshot | null;
}

/** SnapshotReceiver accumulates InstallSnapshot chunks into a bounded buffer. */
export class SnapshotReceiver {
  readonly bytesMax: number;
  #partial: Partial | null = null;

  constructor(bytesMax: number) {
    assert(bytesMax > 0, 'snapshotBytesMax > 0');
    this.bytesMax = bytesMax;
  }

  /** receivedBytes is how much of the current image has arrived (0 when none). */
  get receivedBytes(): number {
    return this.#partial?.receivedBytes ?? 0;
  }

  /** discard drops any partial image. */
  discard(): void {
    this.#partial = null;
  }

  /** receive takes one chunk; returns null when it is refused (the partial image, if any, is dropped). */
  receive(chunk: SnapshotChunk): SnapshotReceiveResult | null {
    if (chunk.totalBytes > this.bytesMax) {
      this.#partial = null;
      return null;
    }
    if (chunk.data.length === 0 && !chunk.done) return null; // An empty middle chunk makes no progress.
    const md = chunk.metadata;
    if (chunk.offset === 0) {
      this.#partial = { metadata: md, totalBytes: chunk.totalBytes, parts: [], receivedBytes: 0 };
    }
    const p = this.#partial;
    if (
      p !== null &&
      chunk.offset > 0 &&
      p.metadata.index === md.index &&
      p.metadata.term === md.term &&
      p.totalBytes === chunk.totalBytes &&
      chunk.offset + chunk.data.length <= p.receivedBytes
    ) {
      return { receivedBytes: p.receivedBytes, snapshot: null }; // A duplicate: acknowledge again.
    }
    if (
      p === null ||
      p.metadata.index !== md.index ||
      p.metadata.term !== md.term ||
      p.totalBytes !== chunk.totalBytes ||
      p.receivedBytes !== chunk.offset
    ) {
      this.#partial = null;
      return null;
    }
    p.parts.push(chunk.data);
    p.receivedBytes += chunk.data.length;
    assert(p.receivedBytes <= p.totalBytes, 'received bytes within the image');
    if (!chunk.done) return { receivedBytes: p.receivedBytes, snapshot: null };
    this.#partial = null;
    if (p.receivedBytes !== p.totalBytes) return null;
    const data = new Uint8Array(p.totalBytes);
    let at = 0;
    for (const part of p.parts) {
      data.set(part, at);
      at += part.length;
    }
    assert(at === p.totalBytes, 'assembled image has totalBytes');
    return { receivedBytes: at, snapshot: { metadata: md, data } };
  }
}
