/**
 * tracker.ts — the leader's (and a candidate's) view of the group: the
 * membership in force, one Progress per member, and the votes of the
 * current election (etcd's tracker.ProgressTracker).
 *
 * Invariants:
 * - `voters` and `learners` are disjoint; `progress` has exactly one entry
 *   per voter and learner.
 * - Learners never count towards a quorum (commit, elections, check-quorum).
 * Owner: Raft. Membership changes go through `setConfState` only.
 */
import { assert } from '../errors.js';
import { Progress } from './progress.js';
import { majorityIndex, majoritySize, voteResultOf } from './quorum.js';
import type { VoteResult } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

/** ProgressTracker holds the membership, each member's Progress, and the election tally. */
export class ProgressTracker {
  /** voters is the voting membership, sorted by id. */
  voters: NodeId[] = [];
  /** learners is the non-voting membership, sorted by id. */
  learners: NodeId[] = [];
  /** progress maps every member to its Progress. */
  readonly progress = new Map<NodeId, Progress>();
  /** votes maps a voter to whether it granted this node's (pre-)vote. */
  readonly votes = new Map<NodeId, boolean>();
  readonly #inflightMsgsMax: number;
  readonly #inflightBytesMax: number;
  readonly #scratch: number[] = [];

  constructor(inflightMsgsMax: number, inflightBytesMax: number) {
    assert(inflightMsgsMax > 0, 'inflightMsgsMax > 0');
    assert(inflightBytesMax >= 0, 'inflightBytesMax >= 0');
    this.#inflightMsgsMax = inflightMsgsMax;
    this.#inflightBytesMax = inflightBytesMax;
  }

  /** confState returns the membership in force. */
  confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  /** isVoter says whether id votes. */
  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  /** isSingleton says whether the group has exactly one voter. */
  isSingleton(): boolean {
    return this.voters.length === 1;
  }

  /**
   * setConfState installs a membership: keeps the Progress of members that
   * stay (updating their learner flag), creates Progress for new members with
   * next = `nextIndex`, and drops Progress of removed members.
   */
  setConfState(cs: ConfState, nextIndex: number): void {
    const voters = [...new Set(cs.voters)].sort((a, b) => a - b);
    const learners = [...new Set(cs.learners)].sort((a, b) => a - b);
    for (const l of learners) assert(!voters.includes(l), 'voters and learners are disjoint');
    for (const id of [...this.progress.keys()]) {
      if (!voters.includes(id) && !learners.includes(id)) this.progress.delete(id);
    }
    for (const id of voters) this.#ensure(id, nextIndex, false);
    for (const id of learners) this.#ensure(id, nextIndex, true);
    this.voters = voters;
    this.learners = learners;
    for (const id of [...this.votes.keys()]) if (!voters.includes(id)) this.votes.delete(id);
    assert(this.progress.size === voters.length + learners.length, 'one progress per member');
  }

  #ensure(id: NodeId, nextIndex: number, isLearner: boolean): void {
    const pr = this.progress.get(id);
    if (pr !== undefined) {
      pr.isLearner = isLearner;
      return;
    }
    const fresh = new Progress(nextIndex, this.#inflightMsgsMax, this.#inflightBytesMax, isLearner);
    // A new member is assumed active so that adding it does not make a
    // check-quorum leader step down at once (as etcd).
    fresh.recentActive = true;
    this.progress.set(id, fresh);
  }

  /** committed is the largest index replicated on a majority of voters (the quorum median of match). */
  committed(): number {
    const s = this.#scratch;
    s.length = 0;
    for (let i = 0; i < this.voters.length; i++) {
      const pr = this.progress.get(this.voters[i] as NodeId);
      s.push(pr === undefined ? 0 : pr.match);
    }
    return majorityIndex(s);
  }

  /** resetVotes clears the tally for a new election. */
  resetVotes(): void {
    this.votes.clear();
  }

  /** recordVote records a voter's answer (the first answer counts). */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** tallyVotes counts granted and rejected votes of voters and decides the election. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: voteResultOf(this.voters.length, granted, rejected) };
  }

  /** quorumActive says whether a majority of voters was recently active (thesis §6.2 check-quorum). */
  quorumActive(selfId: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) {
      const pr = this.progress.get(id);
      if (id === selfId || (pr !== undefined && pr.recentActive)) active++;
    }
    return active >= majoritySize(this.voters.length);
  }

  /** resetRecentActive clears every peer's recentActive flag for the next check-quorum round. */
  resetRecentActive(selfId: NodeId): void {
    for (const [id, pr] of this.progress) pr.recentActive = id === selfId;
  }
}
