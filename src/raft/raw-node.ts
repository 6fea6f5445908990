/**
 * raw-node.ts — the public API of the Raft core (etcd's RawNode): inputs
 * (tick, step, propose, readIndex, ...) and the Ready/advance protocol by
 * which a driver persists, sends and applies.
 *
 * Invariants:
 * - At most one Ready is outstanding: ready() may be called again only after
 *   advance() (a programmer error otherwise, asserted).
 * - hasReady() is false when a Ready would be empty, so a driver loop
 *   `while (rn.hasReady()) { ... }` terminates.
 * - Input from the network (step) is validated and refused with an
 *   OtlpdbError; it never throws for malformed input.
 * Owner: the driver owns the RawNode; the RawNode owns its Raft.
 */
import { OtlpdbError, assert } from '../errors.js';
import { RaftLimits } from '../limits.js';
import { validateConfChange } from './conf-change.js';
import { checkMessage, isResponseMessageType, newMessage } from './message.js';
import { Raft } from './raft.js';
import { READ_CONTEXT_BYTES_MAX } from './read-only.js';
import { MessageType, NONE, StateRole } from './types.js';
import type {
  BasicStatus,
  ConfChange,
  ConfState,
  Config,
  Entry,
  HardState,
  Message,
  NodeId,
  ProgressStatus,
  RaftStatus,
  Ready,
  SoftState,
} from './types.js';

const NO_ENTRIES: readonly Entry[] = Object.freeze([]) as readonly Entry[];

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * ReadyOptions say how ready() cuts a Ready. `stableCommittedOnly` limits
 * its committedEntries to entries already persisted (reported by an earlier
 * advance()): a driver that applies committed entries while the Ready's own
 * entries are still being fsynced (multi-raft.ts, "Pipelining") must never
 * apply, and so acknowledge, an entry that is not yet durable on this node.
 * The leader counts its own entries toward the commit index when it appends
 * them; with this option that count shows nowhere before the fsync: not in
 * an apply (this option) and not in a message (sent after the fsync).
 * hasReady() needs no option: committed entries that are not stable are
 * unstable entries, which make a Ready non-empty by themselves.
 */
export interface ReadyOptions {
  readonly stableCommittedOnly?: boolean;
}

/** RawNode drives one Raft replica through the Ready/advance protocol (see types.ts for the driver's order). */
export class RawNode {
  readonly #raft: Raft;
  #prevSoft: SoftState;
  #prevHard: HardState;
  #outstanding: Ready | null = null;

  /** makeRaft lets test code inject a Raft subclass (a planted bug); production code omits it. */
  constructor(config: Config, makeRaft?: (config: Config) => Raft) {
    this.#raft = makeRaft === undefined ? new Raft(config) : makeRaft(config);
    assert(this.#raft.id === config.id, 'makeRaft builds the configured replica');
    this.#prevSoft = this.#raft.softState();
    this.#prevHard = this.#raft.hardState();
  }

  /** raft exposes the state machine to tests in this folder. */
  get raft(): Raft {
    return this.#raft;
  }

  /** tick advances logical time by one tick (elections, heartbeats, timeouts). */
  tick(): void {
    this.#raft.tick();
  }

  /**
   * step feeds a message from the network. It returns an error for messages
   * it refuses: another group, a local-only type, malformed fields, a
   * response from a non-member, or a refused forwarded proposal.
   */
  step(m: Message): OtlpdbError | null {
    const bad = checkMessage(m, this.#raft.group, this.#raft.id);
    if (bad !== null) return bad;
    if (isResponseMessageType(m.type) && !this.#raft.tracker.progress.has(m.from)) {
      return new OtlpdbError('ERR_INVALID_ARGUMENT', `response from ${m.from}, which is not a member`, { from: m.from });
    }
    if (m.type === MessageType.Prop && m.entries.length > RaftLimits.proposalEntriesMax) {
      return new OtlpdbError('ERR_LIMIT_EXCEEDED', `a proposal carries more than ${RaftLimits.proposalEntriesMax} entries`);
    }
    return this.#raft.step(m);
  }

  /**
   * propose appends data as one batch (one append, one broadcast). On a
   * follower it is forwarded to the leader, unless forwarding is disabled
   * (ERR_NOT_LEADER with details.leaderHint). No leader, a transfer in
   * progress, or too many uncommitted bytes: ERR_PROPOSAL_DROPPED.
   */
  propose(data: Uint8Array | readonly Uint8Array[]): OtlpdbError | null {
    const datas: readonly Uint8Array[] = data instanceof Uint8Array ? [data] : data;
    if (!Array.isArray(datas) || datas.length === 0) return new OtlpdbError('ERR_INVALID_ARGUMENT', 'propose needs at least one entry');
    if (datas.length > RaftLimits.proposalEntriesMax) {
      return new OtlpdbError('ERR_LIMIT_EXCEEDED', `a batch has more than ${RaftLimits.proposalEntriesMax} entries`, {
        entries: datas.length,
      });
    }
    for (let k = 0; k < datas.length; k++) {
      if (!(datas[k] instanceof Uint8Array)) return new OtlpdbError('ERR_INVALID_ARGUMENT', `proposal entry ${k} is not a Uint8Array`);
    }
    return this.#raft.propose(datas);
  }

  /** proposeConfChange proposes one membership change (refused while another is pending). */
  proposeConfChange(cc: ConfChange): OtlpdbError | null {
    const bad = validateConfChange(cc);
    if (bad !== null) return bad;
    return this.#raft.proposeConfChange(cc);
  }

  /** applyConfChange makes a committed ConfChange take effect; call it when applying that entry. Returns the membership in force. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.#raft.applyConfChange(cc);
  }

  /** readIndex starts a linearizable read; the answer arrives in a Ready's readStates carrying `context`. */
  readIndex(context: Uint8Array): OtlpdbError | null {
    if (!(context instanceof Uint8Array) || context.length === 0 || context.length > READ_CONTEXT_BYTES_MAX) {
      return new OtlpdbError('ERR_INVALID_ARGUMENT', `read context must be 1..${READ_CONTEXT_BYTES_MAX} bytes`);
    }
    return this.#raft.readIndex(context);
  }

  /** transferLeader asks the leader (this node, or the one it knows) to hand leadership to `to` (thesis §3.10). */
  transferLeader(to: NodeId): void {
    const r = this.#raft;
    r.step(newMessage(r.group, to, { type: MessageType.TransferLeader, to: r.id, from: to }));
  }

  /** campaign starts an election now (with pre-vote when enabled). */
  campaign(): void {
    const r = this.#raft;
    r.step(newMessage(r.group, r.id, { type: MessageType.LocalHup, to: r.id }));
  }

  /** reportUnreachable tells the leader that a message to `id` could not be delivered. */
  reportUnreachable(id: NodeId): void {
    const r = this.#raft;
    r.step(newMessage(r.group, id, { type: MessageType.LocalUnreachable, to: r.id, from: id }));
  }

  /** reportSnapshot tells the leader how sending a snapshot to `id` went (failed: fall back to probing). */
  reportSnapshot(id: NodeId, failed: boolean): void {
    const r = this.#raft;
    r.step(newMessage(r.group, id, { type: MessageType.LocalSnapStatus, to: r.id, from: id, reject: failed }));
  }

  /** hasReady says whether there is anything for the driver to do. */
  hasReady(): boolean {
    const r = this.#raft;
    const soft = r.softState();
    if (soft.leader !== this.#prevSoft.leader || soft.role !== this.#prevSoft.role) return true;
    if (!hardStateEqual(r.hardState(), this.#prevHard)) return true;
    const log = r.raftLog;
    if (log.hasPendingSnapshot()) return true;
    if (log.unstable.entries.length > 0) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    return log.hasNextCommittedEnts();
  }

  /**
   * ready returns the work to do now; carry it out in the documented order,
   * then call advance(). With `opts.stableCommittedOnly` its committedEntries
   * are only entries an earlier advance() reported persisted, never entries
   * of this Ready (see ReadyOptions).
   */
  ready(opts?: ReadyOptions): Ready {
    assert(this.#outstanding === null, 'advance() the previous Ready before asking for another');
    const r = this.#raft;
    const log = r.raftLog;
    const soft = r.softState();
    const softChanged = soft.leader !== this.#prevSoft.leader || soft.role !== this.#prevSoft.role;
    const hard = r.hardState();
    const hardChanged = !hardStateEqual(hard, this.#prevHard);
    const snapshot = log.unstable.snapshot;
    const entries = log.unstable.entries.length === 0 ? NO_ENTRIES : log.unstableEntries();
    const stableOnly = opts?.stableCommittedOnly === true;
    const committedEntries = log.hasNextCommittedEnts() ? log.nextCommittedEnts(r.committedEntriesBytesMax, stableOnly) : NO_ENTRIES;
    const messages = r.msgs;
    r.msgs = [];
    const readStates = r.readStates;
    r.readStates = [];
    assert(messages.length <= RaftLimits.msgsPerReadyMax, 'messages per Ready within msgsPerReadyMax');
    // The peer transport accepts a message only from the node that sent it (its Hello): a Ready never asks to send in another node's name.
    for (const m of messages) assert(m.from === r.id, 'a Ready sends messages from this replica only');
    const mustSync =
      entries.length > 0 || snapshot !== null || hard.term !== this.#prevHard.term || hard.vote !== this.#prevHard.vote;
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      snapshot,
      entries,
      mustSync,
      messages,
      committedEntries,
      readStates,
    };
    if (softChanged) this.#prevSoft = soft;
    this.#outstanding = rd;
    return rd;
  }

  /** advance tells the core the last Ready was persisted, sent and applied. */
  advance(): void {
    const rd = this.#outstanding;
    if (rd === null) return;
    this.#outstanding = null;
    const r = this.#raft;
    const log = r.raftLog;
    if (rd.hardState !== null) this.#prevHard = rd.hardState;
    if (rd.snapshot !== null) {
      log.stableSnapTo(rd.snapshot.metadata.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1] as Entry;
      log.stableTo(last.index, last.term);
    }
    let applied = 0;
    if (rd.committedEntries.length > 0) {
      applied = (rd.committedEntries[rd.committedEntries.length - 1] as Entry).index;
      r.reduceUncommittedBytes(rd.committedEntries);
    } else if (rd.snapshot !== null) {
      applied = rd.snapshot.metadata.index;
    }
    if (applied > log.applied) log.appliedTo(applied);
    assert(log.applied <= log.committed, 'applied <= committed after advance');
  }

  /**
   * basicStatus is status() without the per-peer progress and membership
   * (etcd's BasicStatus): cheap enough for a driver's per-proposal path, e.g.
   * to learn the index and term a leader just appended a proposal at.
   */
  basicStatus(): BasicStatus {
    const r = this.#raft;
    const log = r.raftLog;
    return { term: r.term, lead: r.lead, role: r.role, commit: log.committed, applied: log.applied, lastIndex: log.lastIndex() };
  }

  /** status reports this replica's state (with per-peer progress on the leader). */
  status(): RaftStatus {
    const r = this.#raft;
    const log = r.raftLog;
    let progress: Record<NodeId, ProgressStatus> | undefined;
    if (r.role === StateRole.Leader) {
      progress = {};
      for (const [id, pr] of r.tracker.progress) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner };
      }
    }
    const base = {
      id: r.id,
      group: r.group,
      term: r.term,
      vote: r.vote,
      commit: log.committed,
      applied: log.applied,
      lead: r.lead,
      role: r.role,
      lastIndex: log.lastIndex(),
      firstIndex: log.firstIndex(),
      confState: r.tracker.confState(),
      leadTransferee: r.role === StateRole.Leader ? r.leadTransferee : NONE,
    };
    return progress === undefined ? base : { ...base, progress };
  }
}
