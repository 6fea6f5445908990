/**
 * head-budget.ts — one bound on the heads of all a node's shard replicas
 * together.
 *
 * Each replica bounds its own head (ShardLimits.headBytesSoftMax asks for a
 * flush, headBytesHardMax refuses proposals and makes apply wait for a
 * flush). A node hosts up to one replica of every shard, so those bounds
 * alone allow 16 × 256 MiB = 4 GiB of heads: V8's whole default heap on a
 * 24 GiB machine. Replicas that fill at the same rate while flushes fall
 * behind (a flush takes at most a share of the main thread, flush-pacer.ts)
 * would reach that together and the process would die of an out-of-memory
 * error instead of refusing writes. The budget closes that gap:
 *
 * - past `softBytes` in total, a replica whose head is at least the average
 *   of the members' heads asks for a flush (the largest always qualifies, so
 *   a flush is always asked for);
 * - past `hardBytes` in total, every replica refuses proposals with a
 *   retryable error (headFull), and one whose head is at least the average
 *   flushes before applying more (apply cannot refuse a committed entry, so
 *   a follower's heads are bounded this way).
 *
 * The node sizes the budget from its heap (ShardLimits.nodeHeadHeapPercent
 * of V8's heap_size_limit, shard-service.ts), so `--max-old-space-size`
 * moves it. A replica's head bytes include its frozen head (a flush in
 * progress), as its own bounds do, so the budget falls when a flush ends.
 *
 * Invariant: 0 < softBytes < hardBytes. Ownership: the node's ShardService
 * owns one budget; each replica joins it when it opens and leaves it when it
 * closes, so the members are exactly the open replicas.
 */
import { assert } from '../../errors.js';
import { ShardLimits } from '../../limits.js';

/** HeadMember is what the budget reads of a replica: its head's accounted bytes. */
export interface HeadMember {
  headBytes(): number;
}

/** HeadBudget bounds the sum of a node's shard heads; see the top of this file. */
export class HeadBudget {
  readonly softBytes: number;
  readonly hardBytes: number;
  readonly #members = new Set<HeadMember>();

  constructor(softBytes: number, hardBytes: number) {
    assert(Number.isSafeInteger(softBytes) && softBytes > 0, 'softBytes is a positive integer');
    assert(Number.isSafeInteger(hardBytes) && softBytes < hardBytes, 'softBytes < hardBytes');
    this.softBytes = softBytes;
    this.hardBytes = hardBytes;
  }

  /** join makes `m` a member (idempotent). */
  join(m: HeadMember): void {
    this.#members.add(m);
  }

  /** leave removes `m` (idempotent). */
  leave(m: HeadMember): void {
    this.#members.delete(m);
  }

  /** members is the number of members. */
  get members(): number {
    return this.#members.size;
  }

  /** totalBytes is the sum of the members' heads. */
  totalBytes(): number {
    let n = 0;
    for (const m of this.#members) n += m.headBytes();
    assert(n >= 0, 'head bytes are counts');
    return n;
  }

  /** full says every member should refuse proposals: the heads together are at the hard bound. */
  full(): boolean {
    return this.totalBytes() >= this.hardBytes;
  }

  /** flushDue says member `m` should flush now: the heads together are past the soft bound and m's is at least the average. */
  flushDue(m: HeadMember): boolean {
    return this.#largeOver(m, this.softBytes);
  }

  /** mustFlushBeforeApply says member `m` should flush before applying more: past the hard bound, and m's head is at least the average. */
  mustFlushBeforeApply(m: HeadMember): boolean {
    return this.#largeOver(m, this.hardBytes);
  }

  #largeOver(m: HeadMember, bound: number): boolean {
    assert(this.#members.has(m), 'asked by a member');
    const total = this.totalBytes();
    if (total < bound) return false;
    const mine = m.headBytes();
    // mine >= total / members, without the division.
    return mine > 0 && mine * this.#members.size >= total;
  }
}

/** nodeHeadBudget is a node's budget for a heap of `heapLimitBytes` (V8's heap_size_limit): ShardLimits.nodeHeadHeapPercent of it, soft at nodeHeadSoftPercent of that. */
export function nodeHeadBudget(heapLimitBytes: number): HeadBudget {
  assert(Number.isFinite(heapLimitBytes) && heapLimitBytes > 0, 'a heap limit is positive');
  // A heap far smaller than a replica's own bounds still gets a working budget: its heads then flush early.
  const hard = Math.max(2, Math.floor((heapLimitBytes * ShardLimits.nodeHeadHeapPercent) / 100));
  const soft = Math.max(1, Math.floor((hard * ShardLimits.nodeHeadSoftPercent) / 100));
  return new HeadBudget(soft, hard);
}
