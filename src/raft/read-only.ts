/**
 * read-only.ts — the leader's bookkeeping for ReadIndex reads (thesis §6.4;
 * etcd's readOnly with ReadOnlySafe): each request remembers the commit index
 * at the time it arrived and waits until a quorum of voters acknowledges a
 * heartbeat that carried its context (or a later one).
 *
 * Invariants:
 * - `#queue` lists the keys of `#pending` in arrival order, with no duplicates.
 * - `#pending.size === #queue.length <= pendingMax`.
 * - The indexes recorded in `#queue` order never decrease (the commit index
 *   never moves backwards within a term; the structure is reset on role change).
 * Owner: Raft (leader only).
 *
 * NB: a request whose leader never reaches a quorum is dropped silently when
 * the leader steps down (as etcd): the requester learns nothing and must time
 * out and retry. Answering with an explicit refusal needs a response message
 * type the wire format does not have yet.
 */
import { assert } from '../errors.js';
import type { NodeId } from './types.js';

/** READ_CONTEXT_BYTES_MAX bounds the context of one ReadIndex request. */
export const READ_CONTEXT_BYTES_MAX = 4096;

/** ReadIndexRequest is one pending read: who asked, its context and the commit index when it arrived. */
export interface ReadIndexRequest {
  readonly from: NodeId;
  readonly context: Uint8Array;
  readonly index: number;
  readonly acks: Set<NodeId>;
}

/** contextKey turns a context into a Map key (one char per byte). */
export function contextKey(ctx: Uint8Array): string {
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i] as number);
  return s;
}

/** ReadOnly tracks ReadIndex requests waiting for quorum confirmation. */
export class ReadOnly {
  readonly #pending = new Map<string, ReadIndexRequest>();
  #queue: string[] = [];
  readonly pendingMax: number;

  constructor(pendingMax: number) {
    assert(pendingMax > 0, 'readIndexPendingMax > 0');
    this.pendingMax = pendingMax;
  }

  /** size is the number of pending requests. */
  get size(): number {
    return this.#queue.length;
  }

  /** isFull says whether a new request must be refused. */
  isFull(): boolean {
    return this.#queue.length >= this.pendingMax;
  }

  /**
   * addRequest records a read at commit index `index`; a duplicate context is
   * ignored (the first request with that context stays; as etcd). Returns
   * false when the request was not added.
   */
  addRequest(index: number, from: NodeId, context: Uint8Array, selfId: NodeId): boolean {
    const key = contextKey(context);
    if (this.#pending.has(key)) return false;
    assert(!this.isFull(), 'caller checks isFull before addRequest');
    const acks = new Set<NodeId>([selfId]);
    this.#pending.set(key, { from, context, index, acks });
    this.#queue.push(key);
    assert(this.#pending.size === this.#queue.length, 'pending and queue agree');
    return true;
  }

  /** recvAck records that `id` acknowledged the heartbeat carrying `context`; returns that request's ack set. */
  recvAck(id: NodeId, context: Uint8Array): Set<NodeId> | null {
    const rs = this.#pending.get(contextKey(context));
    if (rs === undefined) return null;
    rs.acks.add(id);
    return rs.acks;
  }

  /**
   * advance releases the request with `context` and every request queued
   * before it (a quorum acknowledging a later heartbeat confirms the
   * leadership for earlier reads too). Returns them in arrival order.
   */
  advance(context: Uint8Array): ReadIndexRequest[] {
    const key = contextKey(context);
    const at = this.#queue.indexOf(key);
    if (at < 0) return [];
    const released = this.#queue.slice(0, at + 1);
    this.#queue = this.#queue.slice(at + 1);
    const out: ReadIndexRequest[] = [];
    for (const k of released) {
      const rs = this.#pending.get(k);
      assert(rs !== undefined, 'queued request is pending');
      out.push(rs);
      this.#pending.delete(k);
    }
    assert(this.#pending.size === this.#queue.length, 'pending and queue agree after advance');
    return out;
  }

  /** lastPendingContext is the context of the newest request (heartbeats carry it), or null. */
  lastPendingContext(): Uint8Array | null {
    const k = this.#queue[this.#queue.length - 1];
    if (k === undefined) return null;
    return (this.#pending.get(k) as ReadIndexRequest).context;
  }

  /** reset drops every pending request (on losing leadership). */
  reset(): void {
    this.#pending.clear();
    this.#queue = [];
  }
}
