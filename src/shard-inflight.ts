/**
 * shard-inflight.ts — the entry bytes a node has proposed per shard and not
 * yet seen applied (DESIGN.md §5 step 6: in-flight bytes are bounded per
 * shard). ShardService holds one for the node; proposeHere takes an entry's
 * bytes before proposing and gives them back once it settles, and
 * proposeHereBatch takes each entry of a batch in turn, so a batch's
 * entries to one shard count together.
 *
 * Invariants: every held count is > 0 and <= bytesMax (a shard with
 * nothing in flight has no map entry, so the map holds at most one entry
 * per shard with proposals in flight); `take` never lets a count pass
 * bytesMax; `release` never takes a count below 0.
 */
import { assert } from './errors.js';
import type { GroupId } from './raft/types.js';

/** ShardInflight counts proposed, unapplied entry bytes per shard against a bound; see the top of this file. */
export class ShardInflight {
  readonly #held = new Map<GroupId, number>();
  readonly bytesMax: number;

  constructor(bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax > 0, 'an in-flight bound is a positive integer');
    this.bytesMax = bytesMax;
  }

  /** held is the bytes in flight for `group`. */
  held(group: GroupId): number {
    return this.#held.get(group) ?? 0;
  }

  /** take counts `bytes` more for `group` and returns true, or returns false (changing nothing) when that would pass bytesMax. */
  take(group: GroupId, bytes: number): boolean {
    assert(Number.isSafeInteger(bytes) && bytes >= 0, 'entry bytes are a non-negative integer');
    const held = this.held(group);
    if (held + bytes > this.bytesMax) return false;
    if (held + bytes > 0) this.#held.set(group, held + bytes);
    return true;
  }

  /** release gives back `bytes` that take counted for `group`. */
  release(group: GroupId, bytes: number): void {
    const left = this.held(group) - bytes;
    assert(left >= 0, 'shard in-flight bytes never negative');
    if (left === 0) this.#held.delete(group);
    else this.#held.set(group, left);
  }
}
