/**
 * waiters.ts — the bookkeeping of a group's waiting proposals and read
 * barriers: registering them, resolving them as entries are applied and
 * ReadStates arrive, expiring them at their deadline and failing them all
 * when the group or the driver goes away. Plain functions over the maps of a
 * GroupState (group-state.ts) and the driver's DriverStats.
 *
 * ## Proposals
 *
 * Only the leader accepts a proposal: followers refuse it with
 * ERR_NOT_LEADER and `details.leaderHint` (the core's proposal forwarding is
 * disabled). Chosen over forwarding because a forwarded proposal has no index
 * the follower could wait on without a request id inside the data, which
 * would make every state machine parse an envelope; the client (or the
 * router) retries at the hinted leader. After the leader's RawNode accepts
 * the proposal, the entry is the last in its log: the waiter is keyed by
 * that (index, term), etcd-style. When the entry at that index is applied on
 * this node the waiter resolves if the term matches and is rejected with
 * ERR_PROPOSAL_DROPPED (retryable) if another term's entry landed there. A
 * leader that steps down keeps its waiters: the entry may still commit, and
 * calling it dropped could make a client retry a write that happens. The
 * deadline (ERR_TIMEOUT, outcome unknown) bounds every wait; a snapshot
 * installed over a waiting index also ends it with ERR_TIMEOUT (outcome
 * unknown).
 *
 * ## Read barriers
 *
 * A read waiter is keyed by a request id the driver allocates, carried to
 * the leader as the ReadIndex context (READ_CONTEXT_BYTES, a float64 LE).
 * Its index is NOT_WAITING until the ReadState arrives; it resolves once the
 * group's applied index reaches that index. The core drops every request
 * not yet confirmed when its term or leader changes (raft.ts #reset, and a
 * request forwarded to a leader that is gone is lost with it). Each waiter
 * records the term and leader it was made under; a Ready with a new
 * SoftState or HardState fails the unconfirmed waiters of another term or
 * leader than the core's now with ERR_NOT_LEADER (retryable, hinting the
 * leader) instead of leaving them to their deadline (failUnconfirmedReads):
 * a query's shard part then fails over at once.
 *
 * ## Invariants
 *
 * - `g.proposals.size <= DriverLimits.proposalsPendingPerGroupMax` and
 *   `g.reads.size <= DriverLimits.readsPendingPerGroupMax`: callers check
 *   room (proposalRoom, readRoom) before registering.
 * - Every waiter leaves its map before it is settled, and is settled once.
 * Owner: the GroupState owns its maps; only the driver's iteration chain and
 * its synchronous entry points (propose, read, tick) call these functions.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { DriverLimits } from '../../limits.js';
import type { ConfState, Entry, GroupId, ReadState } from '../types.js';
import type { DriverStats } from './driver-types.js';

/** ProposalWaiter is one proposal this node accepted as leader, waiting for its (index, term) to be applied here. */
export interface ProposalWaiter {
  readonly term: number;
  readonly deadlineMs: number;
  /** resolve gets the state machine's result, and the membership after the entry when it is a ConfChange (else null). */
  readonly resolve: (index: number, term: number, result: Uint8Array, confState: ConfState | null) => void;
  readonly reject: (e: OtlpdbError) => void;
}

/**
 * ProposalBatch gathers the outcomes of one proposeBatch call: one slot per
 * proposed entry, each settled once with the entry's apply result or the
 * error that ended it; `done` runs once, when the last slot settles, and
 * never before (the caller acknowledges nothing until every slot has its
 * outcome). One object for the batch and one ProposalSlot per entry replace
 * a promise, its executor and resolve closures per entry.
 *
 * Invariants: 0 <= left <= results.length; a slot holds undefined until it
 * settles; done runs exactly once, when left reaches 0.
 */
export class ProposalBatch {
  readonly results: (Uint8Array | OtlpdbError | undefined)[];
  #left: number;
  readonly #done: (results: readonly (Uint8Array | OtlpdbError)[]) => void;

  constructor(size: number, done: (results: readonly (Uint8Array | OtlpdbError)[]) => void) {
    assert(Number.isSafeInteger(size) && size > 0 && size <= DriverLimits.proposalBatchEntriesMax, 'a proposal batch holds 1..proposalBatchEntriesMax entries');
    this.results = new Array<Uint8Array | OtlpdbError | undefined>(size).fill(undefined);
    this.#left = size;
    this.#done = done;
  }

  /** left is how many slots have not settled yet. */
  get left(): number {
    return this.#left;
  }

  /** settle records slot `slot`'s outcome; the last one to settle ends the batch. */
  settle(slot: number, outcome: Uint8Array | OtlpdbError): void {
    assert(slot >= 0 && slot < this.results.length, 'a batch slot is in range');
    assert(this.results[slot] === undefined, 'a batch slot settles once');
    assert(this.#left > 0, 'a settled batch gets no more outcomes');
    this.results[slot] = outcome;
    this.#left--;
    if (this.#left === 0) this.#done(this.results as (Uint8Array | OtlpdbError)[]);
  }
}

/** ProposalSlot is the waiter of one entry of a ProposalBatch: it settles its slot instead of a promise of its own. */
export class ProposalSlot implements ProposalWaiter {
  readonly #batch: ProposalBatch;
  readonly #slot: number;
  readonly term: number;
  readonly deadlineMs: number;

  constructor(batch: ProposalBatch, slot: number, term: number, deadlineMs: number) {
    this.#batch = batch;
    this.#slot = slot;
    this.term = term;
    this.deadlineMs = deadlineMs;
  }

  resolve(_index: number, _term: number, result: Uint8Array): void {
    this.#batch.settle(this.#slot, result);
  }

  reject(e: OtlpdbError): void {
    this.#batch.settle(this.#slot, e);
  }
}

/** ReadWaiter is one read barrier, waiting for its ReadState and then for the applied index to reach it. */
export interface ReadWaiter {
  index: number;
  readonly deadlineMs: number;
  /** term and lead are the core's when the request was made: a request of another term or leader than the core's now was dropped. */
  readonly term: number;
  readonly lead: number;
  readonly resolve: () => void;
  readonly reject: (e: OtlpdbError) => void;
}

/** WaiterMaps is the part of a GroupState this module works on. */
export interface WaiterMaps {
  readonly group: GroupId;
  /** proposals: waiting proposals by log index. Bounded by proposalsPendingPerGroupMax. */
  readonly proposals: Map<number, ProposalWaiter>;
  /** reads: waiting read barriers by request id; index is NOT_WAITING until the ReadState arrives. */
  readonly reads: Map<number, ReadWaiter>;
  readonly stats: { proposals: number; proposalsResolved: number; proposalsDropped: number };
}

/** READ_CONTEXT_BYTES is the size of a read barrier's ReadIndex context: its request id as a float64 LE. */
export const READ_CONTEXT_BYTES = 8;
/** NOT_WAITING is a read waiter's index before its ReadState arrived. */
export const NOT_WAITING = -1;

/** proposalRoom refuses a new proposal with ERR_UNAVAILABLE when the group has proposalsPendingPerGroupMax waiting; null when there is room. */
export function proposalRoom(g: WaiterMaps): OtlpdbError | null {
  if (g.proposals.size < DriverLimits.proposalsPendingPerGroupMax) return null;
  return new OtlpdbError('ERR_UNAVAILABLE', `group ${g.group} has ${g.proposals.size} proposals waiting (proposalsPendingPerGroupMax)`, {
    group: g.group,
  });
}

/** readRoom refuses a new read barrier with ERR_UNAVAILABLE when the group has readsPendingPerGroupMax waiting; null when there is room. */
export function readRoom(g: WaiterMaps): OtlpdbError | null {
  if (g.reads.size < DriverLimits.readsPendingPerGroupMax) return null;
  return new OtlpdbError('ERR_UNAVAILABLE', `group ${g.group} has ${g.reads.size} reads waiting (readsPendingPerGroupMax)`, { group: g.group });
}

/**
 * addProposalWaiter registers the waiter of a proposal the leader just
 * accepted as its last entry at (index, term). A waiter already at that
 * index proposed an entry a later leader replaced in our log, so it was
 * never committed (Leader Completeness): it is rejected ERR_PROPOSAL_DROPPED.
 */
export function addProposalWaiter(g: WaiterMaps, stats: DriverStats, index: number, waiter: ProposalWaiter): void {
  assert(Number.isSafeInteger(index) && index > 0, 'a proposal waits on a log index > 0');
  const prev = g.proposals.get(index);
  if (prev !== undefined) {
    g.proposals.delete(index);
    stats.proposalsDropped++;
    g.stats.proposalsDropped++;
    prev.reject(new OtlpdbError('ERR_PROPOSAL_DROPPED', `proposal at ${index} was overwritten by a later leader`, { group: g.group, index }));
  }
  g.proposals.set(index, waiter);
  g.stats.proposals++;
  assert(g.proposals.size <= DriverLimits.proposalsPendingPerGroupMax, 'proposal waiters within proposalsPendingPerGroupMax');
}

/** failSnapshottedProposals ends with ERR_TIMEOUT (outcome unknown) every proposal at or below a snapshot just installed over the log. */
export function failSnapshottedProposals(g: WaiterMaps, stats: DriverStats, snapshotIndex: number): void {
  for (const [index, w] of g.proposals) {
    if (index > snapshotIndex) continue;
    g.proposals.delete(index);
    stats.timeouts++;
    w.reject(new OtlpdbError('ERR_TIMEOUT', `proposal at ${index}: a snapshot replaced the log; outcome unknown`, { group: g.group, index }));
  }
}

/**
 * settleProposals resolves or drops the waiters of entries just applied:
 * `results[k]` is the state machine's answer to `ents[k]`, `confStates[k]`
 * the membership after it when it is a ConfChange (null otherwise, or no
 * array when none was applied).
 */
export function settleProposals(
  g: WaiterMaps,
  stats: DriverStats,
  ents: readonly Entry[],
  results: readonly Uint8Array[],
  confStates: readonly (ConfState | null)[] | null,
): void {
  assert(results.length === ents.length, 'one result per applied entry');
  if (g.proposals.size === 0) return;
  for (let k = 0; k < ents.length; k++) {
    const e = ents[k] as Entry;
    const w = g.proposals.get(e.index);
    if (w === undefined) continue;
    g.proposals.delete(e.index);
    if (e.term === w.term) {
      stats.proposalsResolved++;
      g.stats.proposalsResolved++;
      w.resolve(e.index, e.term, results[k] as Uint8Array, confStates?.[k] ?? null);
    } else {
      stats.proposalsDropped++;
      g.stats.proposalsDropped++;
      w.reject(
        new OtlpdbError('ERR_PROPOSAL_DROPPED', `proposal at ${e.index} (term ${w.term}) lost to an entry of term ${e.term}`, {
          group: g.group,
          index: e.index,
        }),
      );
    }
  }
}

/** readContext encodes a read barrier's request id as its ReadIndex context. */
export function readContext(id: number): Uint8Array {
  assert(Number.isSafeInteger(id) && id > 0, 'a read request id is a positive integer');
  const ctx = new Uint8Array(READ_CONTEXT_BYTES);
  new DataView(ctx.buffer).setFloat64(0, id, true);
  return ctx;
}

/** noteReadStates gives each waiting read barrier the index its ReadState confirmed; contexts not ours are ignored. */
export function noteReadStates(g: WaiterMaps, readStates: readonly ReadState[]): void {
  for (const rs of readStates) {
    if (rs.context.length !== READ_CONTEXT_BYTES) continue;
    const id = new DataView(rs.context.buffer, rs.context.byteOffset, READ_CONTEXT_BYTES).getFloat64(0, true);
    const w = g.reads.get(id);
    if (w !== undefined) w.index = rs.index;
  }
}

/** resolveReads resolves every read barrier whose confirmed index the group has applied. */
export function resolveReads(g: WaiterMaps, applied: number): void {
  if (g.reads.size === 0) return;
  for (const [id, w] of g.reads) {
    if (w.index === NOT_WAITING || w.index > applied) continue;
    g.reads.delete(id);
    w.resolve();
  }
}

/**
 * failUnconfirmedReads rejects with ERR_NOT_LEADER every read barrier of the
 * group whose ReadState has not arrived and that was made under another term
 * or leader than (`term`, `lead`), the core's now: the core dropped it (see
 * "Read barriers" above). Confirmed ones keep waiting for the applied index:
 * their ReadState stands. Returns how many failed.
 */
export function failUnconfirmedReads(g: WaiterMaps, term: number, lead: number): number {
  assert(Number.isSafeInteger(term) && term >= 0, 'a term is a non-negative integer');
  let failed = 0;
  for (const [id, w] of g.reads) {
    if (w.index !== NOT_WAITING || (w.term === term && w.lead === lead)) continue;
    assert(w.term <= term, 'a read was made in a term the core has reached');
    g.reads.delete(id);
    failed++;
    w.reject(new OtlpdbError('ERR_NOT_LEADER', `read barrier in group ${g.group} dropped: the group's leader changed before it was confirmed`, { group: g.group, leaderHint: lead }));
  }
  return failed;
}

/** expireWaiters rejects with ERR_TIMEOUT every proposal and read barrier of the group whose deadline is at or before nowMs. */
export function expireWaiters(g: WaiterMaps, stats: DriverStats, nowMs: number): void {
  for (const [index, w] of g.proposals) {
    if (w.deadlineMs > nowMs) continue;
    g.proposals.delete(index);
    stats.timeouts++;
    w.reject(new OtlpdbError('ERR_TIMEOUT', `proposal at ${index} in group ${g.group} not applied before its deadline`, { group: g.group, index }));
  }
  for (const [id, w] of g.reads) {
    if (w.deadlineMs > nowMs) continue;
    g.reads.delete(id);
    stats.timeouts++;
    w.reject(new OtlpdbError('ERR_TIMEOUT', `read barrier in group ${g.group} not confirmed before its deadline`, { group: g.group }));
  }
}

/** failWaiters rejects every waiter of the group with `err` (the group was removed, or the driver stopped or failed). */
export function failWaiters(g: WaiterMaps, err: OtlpdbError): void {
  for (const w of g.proposals.values()) w.reject(err);
  g.proposals.clear();
  for (const w of g.reads.values()) w.reject(err);
  g.reads.clear();
}
