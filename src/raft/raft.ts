/**
 * raft.ts — the Raft state machine of one replica (etcd's raft.go): roles,
 * elections (pre-vote, check-quorum, lease), replication, commitment,
 * chunked snapshots, single-server membership changes, leader transfer and
 * ReadIndex. Pure: no I/O, no clock, no ambient randomness; time is tick()
 * and randomness is `config.rand`.
 *
 * Invariants:
 * - term never decreases; vote is reset only when term increases.
 * - At most one leader per term (a vote is granted once per term, §5.2).
 * - A leader commits an index only if the entry there has the current term
 *   (§5.4.2 / Figure 8); older entries commit indirectly (maybeCommit).
 * - raftLog.applied <= raftLog.committed <= raftLog.lastIndex().
 * - At most one membership change is uncommitted or unapplied at a time:
 *   a leader accepts a ConfChange only when pendingConfIndex <= applied.
 * - Messages in `msgs` may be sent only after the Ready that carries them has
 *   been persisted (the RawNode/driver contract in types.ts).
 *
 * Message field conventions beyond types.ts:
 * - AppResp: `index` is the last index now matching (accept) or the rejected
 *   append's prev index (reject, with rejectHint/rejectTerm for backtracking).
 * - SnapResp: `index`/`logTerm` name the snapshot; `rejectHint` is the number
 *   of bytes received so far (the offset of the next chunk); `reject` asks the
 *   leader to restart the transfer from offset 0.
 * - TransferLeader: `from` is the transfer target.
 * - Prop / ReadIndex forwarded by a follower carry term 0 (treated as local,
 *   as etcd), so a term change in flight does not drop them.
 *
 * NB: this file is longer than the ~500-line guideline; the role step
 * functions share too much private state to split cleanly without exposing
 * it. The helpers with their own state live in progress.ts, tracker.ts,
 * read-only.ts, raft-log.ts and snapshot-receiver.ts.
 */
import { OtlpdbError, assert } from '../errors.js';
import { RaftLimits } from '../limits.js';
import { applyChangeToConfState, encodeConfChange, validateConfChange } from './conf-change.js';
import { entrySizeBytes, payloadSizeBytes } from './entry-size.js';
import { newMessage } from './message.js';
import type { MessageFields } from './message.js';
import { VoteResult } from './quorum.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly } from './read-only.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import { NO_FLOOR, floorAtLeast } from './tombstone.js';
import { ProgressTracker } from './tracker.js';
import type { Progress } from './progress.js';
import { EntryType, MessageType, NONE, ProgressState, StateRole } from './types.js';
import type {
  ConfChange,
  ConfState,
  Config,
  Entry,
  GroupId,
  HardState,
  Message,
  NodeId,
  Rand,
  ReadState,
  Snapshot,
  SoftState,
  VoteFloor,
} from './types.js';

/** CAMPAIGN_TRANSFER is the context of votes caused by a leader transfer; it bypasses the leader lease (thesis §3.10, §4.2.3). */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');

/** CampaignType says why a node campaigns. */
export const CampaignType = {
  PreElection: 0,
  Election: 1,
  Transfer: 2,
} as const;
export type CampaignType = (typeof CampaignType)[keyof typeof CampaignType];

const EMPTY_DATA = new Uint8Array(0);

/**
 * SNAPSHOT_CHUNK_RESENDS_MAX bounds how often a leader resends an
 * unacknowledged snapshot chunk (every electionTicks/2 ticks) before it gives
 * up and probes the follower again.
 */
export const SNAPSHOT_CHUNK_RESENDS_MAX = 4;

function bytesEqual(a: Uint8Array | null, b: Uint8Array): boolean {
  if (a === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function configNumber(v: number | undefined, dflt: number, name: string, min: number): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `raft config ${name} must be an integer >= ${min}`, { [name]: v });
  }
  return n;
}

function dropped(why: string, details: Record<string, unknown> = {}): OtlpdbError {
  return new OtlpdbError('ERR_PROPOSAL_DROPPED', `proposal dropped: ${why}`, details);
}

/** Raft is one replica's Raft state machine; RawNode wraps it with the Ready/advance protocol. */
export class Raft {
  /** id is this replica. */
  readonly id: NodeId;
  /** group is the Raft group this replica belongs to. */
  readonly group: GroupId;
  /** term is the current term (persisted in HardState). */
  term = 0;
  /** vote is who this replica voted for in `term` (persisted), or NONE. */
  vote: NodeId = NONE;
  /** raftLog is the log with its commit and apply cursors (subclass hooks read raftLog.committed, raftLog.term(i), call raftLog.commitTo(i)). */
  readonly raftLog: RaftLog;
  /** tracker is the membership and per-peer progress (subclass hooks call tracker.committed() for the quorum match index). */
  readonly tracker: ProgressTracker;
  /** role is Follower, PreCandidate, Candidate or Leader. */
  role: StateRole = StateRole.Follower;
  /** lead is the known leader of `term`, or NONE. */
  lead: NodeId = NONE;
  /** leadTransferee is the target of a leadership transfer in progress, or NONE. */
  leadTransferee: NodeId = NONE;
  /** pendingConfIndex is the index of the latest ConfChange a leader may have appended; a new one waits until applied >= it. */
  pendingConfIndex = 0;
  /** uncommittedBytes is the payload a leader appended but has not seen applied (bounded by uncommittedEntriesBytesMax). */
  uncommittedBytes = 0;
  /** msgs are the outgoing messages of the next Ready. */
  msgs: Message[] = [];
  /** readStates are the answered ReadIndex requests of the next Ready. */
  readStates: ReadState[] = [];

  /** electionTicks is the base election timeout. */
  readonly electionTicks: number;
  /** heartbeatTicks is the heartbeat interval. */
  readonly heartbeatTicks: number;
  /** checkQuorum enables leader step-down and the leader lease (thesis §6.2, §4.2.3). */
  readonly checkQuorum: boolean;
  /** voteFloor is the removed predecessor's last log position (tombstone.ts); NO_FLOOR for a first incarnation. */
  readonly voteFloor: VoteFloor;
  /** preVote enables the pre-vote phase (thesis §9.6). */
  readonly preVote: boolean;
  /** disableProposalForwarding makes followers refuse proposals instead of forwarding them. */
  readonly disableProposalForwarding: boolean;
  readonly #rand: Rand;
  readonly #msgEntriesBytesMax: number;
  readonly #uncommittedEntriesBytesMax: number;
  /** committedEntriesBytesMax bounds the committed entries of one Ready. */
  readonly committedEntriesBytesMax: number;
  readonly #snapshotChunkBytesMax: number;
  readonly #transferLeaderTicks: number;
  readonly #readIndexPendingMax: number;

  /** electionElapsed counts ticks since the last reset (follower: since hearing from a leader; leader: since the last check-quorum). */
  electionElapsed = 0;
  #heartbeatElapsed = 0;
  #transferElapsed = 0;
  /** randomizedElectionTimeout is in [electionTicks, 2*electionTicks), drawn from config.rand on every reset (§5.2). */
  randomizedElectionTimeout = 0;
  readonly #readOnly: ReadOnly;
  /** Reads that arrived before this leader committed an entry of its term (postponed, thesis §6.4 step 1). */
  #postponedReads: { from: NodeId; context: Uint8Array }[] = [];
  readonly #snapRecv: SnapshotReceiver;

  constructor(config: Config) {
    if (!Number.isSafeInteger(config.id) || config.id < 1) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'raft config id must be >= 1');
    if (!Number.isSafeInteger(config.group) || config.group < 0) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'raft config group must be >= 0');
    this.id = config.id;
    this.group = config.group;
    this.#rand = config.rand;
    this.electionTicks = configNumber(config.electionTicks, RaftLimits.electionTicks, 'electionTicks', 2);
    this.heartbeatTicks = configNumber(config.heartbeatTicks, RaftLimits.heartbeatTicks, 'heartbeatTicks', 1);
    if (this.electionTicks <= this.heartbeatTicks) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'raft config electionTicks must exceed heartbeatTicks');
    }
    const inflightMsgsMax = configNumber(config.inflightMsgsMax, RaftLimits.inflightMsgsMax, 'inflightMsgsMax', 1);
    const inflightBytesMax = configNumber(config.inflightBytesMax, RaftLimits.inflightBytesMax, 'inflightBytesMax', 0);
    this.#msgEntriesBytesMax = configNumber(config.msgEntriesBytesMax, RaftLimits.msgEntriesBytesMax, 'msgEntriesBytesMax', 1);
    this.#uncommittedEntriesBytesMax = configNumber(
      config.uncommittedEntriesBytesMax,
      RaftLimits.uncommittedEntriesBytesMax,
      'uncommittedEntriesBytesMax',
      1,
    );
    this.committedEntriesBytesMax = configNumber(
      config.committedEntriesBytesMax,
      RaftLimits.committedEntriesBytesMax,
      'committedEntriesBytesMax',
      1,
    );
    this.#snapshotChunkBytesMax = configNumber(config.snapshotChunkBytesMax, RaftLimits.snapshotChunkBytesMax, 'snapshotChunkBytesMax', 1);
    this.#transferLeaderTicks = configNumber(config.transferLeaderTicks, RaftLimits.transferLeaderTicks, 'transferLeaderTicks', 1);
    this.#readIndexPendingMax = configNumber(config.readIndexPendingMax, RaftLimits.readIndexPendingMax, 'readIndexPendingMax', 1);
    const snapshotBytesMax = configNumber(config.snapshotBytesMax, RaftLimits.snapshotBytesMax, 'snapshotBytesMax', 1);
    this.checkQuorum = config.checkQuorum ?? true;
    const floor = config.voteFloor ?? NO_FLOOR;
    if (!Number.isSafeInteger(floor.index) || floor.index < 0 || !Number.isSafeInteger(floor.term) || floor.term < 0) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'raft config voteFloor needs a non-negative index and term');
    }
    this.voteFloor = floor;
    this.preVote = config.preVote ?? true;
    this.disableProposalForwarding = config.disableProposalForwarding ?? false;

    this.raftLog = new RaftLog(config.storage);
    this.tracker = new ProgressTracker(inflightMsgsMax, inflightBytesMax);
    this.#readOnly = new ReadOnly(this.#readIndexPendingMax);
    this.#snapRecv = new SnapshotReceiver(snapshotBytesMax);

    const { hardState, confState } = config.storage.initialState();
    this.tracker.setConfState(confState, this.raftLog.lastIndex() + 1);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.#loadState(hardState);
    const applied = config.applied ?? 0;
    if (applied > 0) this.raftLog.appliedTo(applied);
    this.becomeFollower(this.term, NONE);
    assert(this.raftLog.applied <= this.raftLog.committed, 'applied <= committed at start');
    assert(this.randomizedElectionTimeout >= this.electionTicks, 'election timeout drawn');
  }

  #loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new OtlpdbError(
        'ERR_CORRUPTION',
        `hard state commit ${hs.commit} is outside [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---------------------------------------------------------------- state

  /** softState is the volatile state a driver may observe. */
  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  /** hardState is the state that must be durable before dependent messages are sent. */
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** promotable says whether this replica may campaign: it is a voter in the membership in force. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id);
  }

  /**
   * mayVote says whether this replica may grant a vote or a pre-vote at all.
   * Every replica may, as in etcd: a voter that has not yet applied the
   * entry promoting it must still vote, or a group that counts it cannot
   * elect a leader once another voter is down. A hook so a test can plant the
   * earlier rule (only a voter of its own membership votes), which the
   * simulator caught deadlocking (seed 480); safety against a stale
   * candidate and a re-added replica comes from the vote floor instead.
   */
  protected mayVote(): boolean {
    return true;
  }

  #send(f: MessageFields): void {
    const needsExplicitTerm =
      f.type === MessageType.Vote ||
      f.type === MessageType.VoteResp ||
      f.type === MessageType.PreVote ||
      f.type === MessageType.PreVoteResp;
    if (needsExplicitTerm) {
      assert(f.term !== undefined && f.term > 0, 'vote messages carry an explicit term');
      this.msgs.push(newMessage(this.group, this.id, f));
      return;
    }
    assert(f.term === undefined, 'only vote messages set their term');
    const localish = f.type === MessageType.Prop || f.type === MessageType.ReadIndex;
    this.msgs.push(newMessage(this.group, this.id, localish ? f : { ...f, term: this.term }));
  }

  // ---------------------------------------------------------------- role changes

  #resetRandomizedElectionTimeout(): void {
    const r = this.#rand.intn(this.electionTicks);
    assert(Number.isInteger(r) && r >= 0 && r < this.electionTicks, 'rand.intn(n) is in [0, n)');
    this.randomizedElectionTimeout = this.electionTicks + r;
  }

  #reset(term: number): void {
    if (this.term !== term) {
      assert(term > this.term, 'term never decreases');
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#resetRandomizedElectionTimeout();
    this.#abortLeaderTransfer();
    this.tracker.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.tracker.progress) {
      pr.reset(last + 1);
      if (id === this.id) pr.match = last;
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.#readOnly.reset();
    this.#postponedReads = [];
  }

  /** becomeFollower makes this replica a follower of `lead` (or of nobody) in `term`. */
  becomeFollower(term: number, lead: NodeId): void {
    this.#reset(term);
    this.lead = lead;
    this.role = StateRole.Follower;
    assert(this.term === term, 'follower term set');
  }

  /** becomePreCandidate starts a pre-vote: no term change, no vote (thesis §9.6). */
  becomePreCandidate(): void {
    assert(this.role !== StateRole.Leader, 'a leader does not pre-campaign');
    this.tracker.resetVotes();
    this.lead = NONE;
    this.role = StateRole.PreCandidate;
    assert(this.tracker.votes.size === 0, 'pre-vote tally starts empty');
  }

  /** becomeCandidate starts an election in term + 1, voting for itself (§5.2). */
  becomeCandidate(): void {
    assert(this.role !== StateRole.Leader, 'a leader does not campaign');
    this.#reset(this.term + 1);
    this.vote = this.id;
    this.role = StateRole.Candidate;
  }

  /** becomeLeader takes leadership of the current term and appends an empty entry of that term (§5.4.2, §8). */
  becomeLeader(): void {
    assert(this.role !== StateRole.Follower, 'only a candidate becomes leader');
    this.#reset(this.term);
    this.lead = this.id;
    this.role = StateRole.Leader;
    const self = this.tracker.progress.get(this.id);
    assert(self !== undefined, 'a leader is a member');
    self.becomeReplicate();
    self.recentActive = true;
    const ok = this.#appendEntries([{ term: this.term, index: this.raftLog.lastIndex() + 1, type: EntryType.Normal, data: EMPTY_DATA }]);
    assert(ok, 'the empty entry is never refused');
    // Thesis §4.1 fix (2015): no membership change until an entry of this
    // term (the empty entry just appended) is committed and applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
  }

  // ---------------------------------------------------------------- ticks

  /** tick advances logical time by one tick. */
  tick(): void {
    if (this.role === StateRole.Leader) this.#tickHeartbeat();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(CampaignType.Election);
    }
  }

  #tickHeartbeat(): void {
    this.#heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        if (!this.tracker.quorumActive(this.id)) {
          // Thesis §6.2: a leader that cannot hear from a quorum steps down.
          this.becomeFollower(this.term, NONE);
          return;
        }
        this.tracker.resetRecentActive(this.id);
      }
    }
    if (this.leadTransferee !== NONE) {
      this.#transferElapsed++;
      if (this.#transferElapsed >= Math.min(this.#transferLeaderTicks, this.electionTicks)) this.#abortLeaderTransfer();
    }
    this.#tickSnapshotSends();
    if (this.#heartbeatElapsed >= this.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  #tickSnapshotSends(): void {
    const resendTicks = Math.max(1, Math.floor(this.electionTicks / 2));
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id || pr.state !== ProgressState.Snapshot) continue;
      pr.snapshotIdleTicks++;
      if (!pr.snapshotChunkInflight) {
        this.#sendSnapshotChunk(id, pr); // Restart after a reject, paced by ticks.
        continue;
      }
      if (pr.snapshotIdleTicks < resendTicks) continue;
      if (pr.snapshotResends >= SNAPSHOT_CHUNK_RESENDS_MAX) {
        // The follower has not answered for several resends (down, or cut
        // off): stop, and probe again once it is heard from.
        pr.becomeProbe();
        continue;
      }
      // The chunk or its acknowledgement was lost: resend the same chunk
      // rather than restart the image (the receiver acknowledges duplicates).
      pr.snapshotResends++;
      pr.snapshotChunkInflight = false;
      this.#sendSnapshotChunk(id, pr);
    }
  }

  // ---------------------------------------------------------------- elections

  /** hup starts a campaign if this replica may (etcd's hup). */
  hup(t: CampaignType): void {
    if (this.role === StateRole.Leader) return;
    if (!this.promotable()) return;
    if (this.#hasUnappliedConfChanges()) return; // Its membership may be about to change.
    if (this.preVote && t !== CampaignType.Transfer) this.campaign(CampaignType.PreElection);
    else this.campaign(t);
  }

  #hasUnappliedConfChanges(): boolean {
    const log = this.raftLog;
    if (log.applied >= log.committed) return false;
    // NB: scans every committed, unapplied entry; bounded by how far apply
    // lags commit and run only when an election starts.
    const ents = log.slice(Math.max(log.applied + 1, log.firstIndex()), log.committed + 1, Number.MAX_SAFE_INTEGER);
    for (const e of ents) if (e.type === EntryType.ConfChange) return true;
    return false;
  }

  /** campaign asks every voter for a (pre-)vote; a single voter wins at once. */
  campaign(t: CampaignType): void {
    let voteType: MessageType;
    let term: number;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1; // Ask as if in the next term, without moving to it.
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    if (this.#poll(this.id, true) === VoteResult.Won) {
      if (t === CampaignType.PreElection) this.campaign(CampaignType.Election);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.tracker.voters) {
      if (id === this.id) continue;
      this.#send({
        type: voteType,
        to: id,
        term,
        index: lastIndex,
        logTerm: lastTerm,
        context: t === CampaignType.Transfer ? CAMPAIGN_TRANSFER : null,
      });
    }
  }

  #poll(id: NodeId, granted: boolean): VoteResult {
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes().result;
  }

  /**
   * isLogUpToDate is a hook (tests plant bugs by overriding it): whether a
   * candidate whose log ends at (candidateLastIndex, candidateLastTerm) is at
   * least as up to date as ours, the condition for granting a vote or
   * pre-vote (§5.4.1 Election restriction).
   */
  protected isLogUpToDate(candidateLastIndex: number, candidateLastTerm: number): boolean {
    return this.raftLog.isUpToDate(candidateLastIndex, candidateLastTerm) && floorAtLeast(this.voteFloor, candidateLastIndex, candidateLastTerm);
  }

  // ---------------------------------------------------------------- step

  /**
   * step processes one message (local or from the network) and returns an
   * error when it refuses it (dropped proposals, forwarding disabled).
   */
  step(m: Message): OtlpdbError | null {
    if (m.term === 0) {
      // Local message (or a forwarded proposal / read / transfer).
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
        // Leader lease (thesis §4.2.3 with §6.2 check-quorum, and the
        // pre-vote rule of §9.6): having heard from a leader within the
        // minimum election timeout, ignore the request; do not bump the term.
        const leaseApplies = this.checkQuorum || m.type === MessageType.PreVote;
        const inLease = leaseApplies && this.lead !== NONE && this.electionElapsed < this.electionTicks;
        if (!force && inLease) return null;
      }
      if (m.type === MessageType.PreVote) {
        // Never change term in response to a PreVote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the term we would campaign in; we move there only on winning.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote || !this.promotable()) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. after a partition healed, with pre-vote/lease
        // keeping our term from spreading) learns the new term from this and
        // steps down. A replica that cannot campaign (a learner; a replica
        // re-added at its tombstone's term, tombstone.ts) has no other way to
        // spread its term, so it answers even without pre-vote and lease, or
        // the leader's appends would never reach it.
        this.#send({ type: MessageType.AppResp, to: m.from });
      } else if (m.type === MessageType.PreVote) {
        this.#send({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true });
      }
      return null;
    }

    switch (m.type) {
      case MessageType.LocalHup:
        this.hup(CampaignType.Election);
        return null;
      case MessageType.Vote:
      case MessageType.PreVote: {
        // A node id names a replica across incarnations: a replica removed
        // from a group and added again may be asked for its vote by a stale
        // member whose membership still counts the old incarnation. The new
        // incarnation votes as if it still held its predecessor's last entry
        // (the vote floor, tombstone.ts), so that candidate cannot win
        // without the entries the old incarnation acknowledged (found by the
        // jepsen suite, mix C seed 2).
        const canVote =
          this.mayVote() &&
          (this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (m.type === MessageType.PreVote && m.term > this.term));
        const respType = m.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
        if (canVote && this.isLogUpToDate(m.index, m.logTerm)) {
          this.#send({ type: respType, to: m.from, term: m.term });
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else if (this.term > 0) {
          this.#send({ type: respType, to: m.from, term: this.term, reject: true });
        }
        // A replica at term 0 (a new incarnation that has heard nothing yet) refuses a pre-vote by silence: it has no term to answer with.
        return null;
      }
      default:
        break;
    }
    switch (this.role) {
      case StateRole.Leader:
        return this.stepLeader(m);
      case StateRole.Candidate:
      case StateRole.PreCandidate:
        return this.stepCandidate(m);
      case StateRole.Follower:
        return this.stepFollower(m);
    }
  }

  /** stepLeader handles a message in the Leader role. */
  protected stepLeader(m: Message): OtlpdbError | null {
    switch (m.type) {
      case MessageType.LocalBeat:
        this.bcastHeartbeat();
        return null;
      case MessageType.Prop:
        return this.#leaderPropose(m.entries);
      case MessageType.ReadIndex:
        return this.#leaderReadIndex(m.from, m.context ?? EMPTY_DATA);
      default:
        break;
    }
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return null; // Not (or no longer) a member.
    switch (m.type) {
      case MessageType.AppResp:
        this.#handleAppendResponse(m, pr);
        return null;
      case MessageType.HeartbeatResp:
        this.#handleHeartbeatResponse(m, pr);
        return null;
      case MessageType.SnapResp:
        this.#handleSnapshotChunkResponse(m, pr);
        return null;
      case MessageType.LocalSnapStatus:
        // Chunk acknowledgements drive the transfer; a reported failure
        // stops it and probes again after a heartbeat interval.
        // NB: a reported success is ignored: the core, not the transport,
        // knows when the last chunk was acknowledged (by the AppResp).
        if (pr.state === ProgressState.Snapshot && m.reject) {
          pr.becomeProbe();
          pr.probeSent = true;
        }
        return null;
      case MessageType.LocalUnreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        return null;
      case MessageType.TransferLeader:
        this.#handleTransferLeader(m.from, pr);
        return null;
      default:
        return null;
    }
  }

  /** stepCandidate handles a message in the PreCandidate or Candidate role. */
  protected stepCandidate(m: Message): OtlpdbError | null {
    const myVoteResp = this.role === StateRole.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        return dropped('no leader (election in progress)', { leaderHint: NONE });
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return null;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return null;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return null;
      case MessageType.ReadIndex:
        return dropped('no leader to confirm a read', { leaderHint: NONE });
      default:
        break;
    }
    if (m.type === myVoteResp) {
      const res = this.#poll(m.from, !m.reject);
      if (res === VoteResult.Won) {
        if (this.role === StateRole.PreCandidate) {
          this.campaign(CampaignType.Election);
        } else {
          this.becomeLeader();
          this.bcastAppend();
        }
      } else if (res === VoteResult.Lost) {
        // A PreVoteResp rejection carries our term (or a higher one, handled above).
        this.becomeFollower(this.term, NONE);
      }
    }
    return null;
  }

  /** stepFollower handles a message in the Follower role. */
  protected stepFollower(m: Message): OtlpdbError | null {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE) return dropped('no leader', { leaderHint: NONE });
        if (this.disableProposalForwarding) {
          return new OtlpdbError('ERR_NOT_LEADER', `replica ${this.id} is not the leader of group ${this.group}`, {
            leaderHint: this.lead,
          });
        }
        this.#send({ type: MessageType.Prop, to: this.lead, entries: m.entries });
        return null;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return null;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return null;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return null;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return dropped('no leader to transfer from', { leaderHint: NONE });
        // Only a transfer to this replica is forwarded: a forwarded message
        // keeps `from` (the leader reads the transferee from it), and the peer
        // transport accepts a message only from the node that sent it. A
        // transfer to another node is asked of the leader itself.
        if (m.from !== this.id) return dropped('a follower forwards only a transfer to itself', { leaderHint: this.lead });
        this.msgs.push(newMessage(this.group, m.from, { ...m, to: this.lead, term: this.term }));
        return null;
      case MessageType.TimeoutNow:
        // Thesis §3.10: the transfer target campaigns at once, skipping pre-vote.
        this.hup(CampaignType.Transfer);
        return null;
      case MessageType.ReadIndex:
        if (this.lead === NONE) return dropped('no leader to confirm a read', { leaderHint: NONE });
        // Only this replica's own reads are forwarded (`from` is kept, so the
        // leader answers the replica that asked, and the peer transport
        // accepts a message only from its sender): a read another replica
        // forwarded here when this one led is dropped; that replica retries.
        if (m.from !== this.id) return dropped('a follower forwards only its own reads', { leaderHint: this.lead });
        this.msgs.push(newMessage(this.group, m.from, { ...m, to: this.lead, term: 0 }));
        return null;
      case MessageType.ReadIndexResp:
        if (m.context !== null) this.readStates.push({ index: m.index, context: m.context });
        return null;
      default:
        return null;
    }
  }

  // ---------------------------------------------------------------- proposals

  /**
   * propose appends a batch of data entries (one append, one broadcast) on
   * the leader, or forwards it to the leader as one Prop message.
   */
  propose(datas: readonly Uint8Array[], type: EntryType = EntryType.Normal): OtlpdbError | null {
    assert(datas.length > 0, 'propose needs at least one entry');
    if (this.role === StateRole.Leader) {
      if (this.leadTransferee !== NONE) return dropped('leadership transfer in progress', { leaderHint: this.lead });
      if (!this.tracker.progress.has(this.id)) return dropped('this leader was removed from the group');
      let li = this.raftLog.lastIndex();
      const ents: Entry[] = new Array<Entry>(datas.length);
      for (let k = 0; k < datas.length; k++) ents[k] = { term: this.term, index: ++li, type, data: datas[k] as Uint8Array };
      if (type === EntryType.ConfChange) this.pendingConfIndex = li;
      if (!this.#appendEntries(ents)) {
        return dropped('uncommitted bytes over uncommittedEntriesBytesMax', { uncommittedBytes: this.uncommittedBytes });
      }
      this.bcastAppend();
      return null;
    }
    const ents: Entry[] = new Array<Entry>(datas.length);
    for (let k = 0; k < datas.length; k++) ents[k] = { term: 0, index: 0, type, data: datas[k] as Uint8Array };
    if (this.role !== StateRole.Follower) return dropped('no leader (election in progress)', { leaderHint: NONE });
    return this.stepFollower(newMessage(this.group, this.id, { type: MessageType.Prop, to: this.id, entries: ents }));
  }

  /** proposeConfChange proposes one membership change; refused while another is pending (thesis §4.1). */
  proposeConfChange(cc: ConfChange): OtlpdbError | null {
    const bad = validateConfChange(cc);
    if (bad !== null) return bad;
    if (this.role === StateRole.Leader) {
      if (this.pendingConfIndex > this.raftLog.applied) {
        return dropped('a membership change is still pending', { pendingConfIndex: this.pendingConfIndex, applied: this.raftLog.applied });
      }
      const next = applyChangeToConfState(this.tracker.confState(), cc);
      if (next instanceof OtlpdbError) return next;
    }
    return this.propose([encodeConfChange(cc)], EntryType.ConfChange);
  }

  /** #leaderPropose handles a Prop forwarded by a follower. */
  #leaderPropose(entries: readonly Entry[]): OtlpdbError | null {
    if (entries.length === 0) return new OtlpdbError('ERR_INVALID_ARGUMENT', 'empty proposal');
    if (this.leadTransferee !== NONE) return dropped('leadership transfer in progress', { leaderHint: this.lead });
    if (!this.tracker.progress.has(this.id)) return dropped('this leader was removed from the group');
    let li = this.raftLog.lastIndex();
    const ents: Entry[] = new Array<Entry>(entries.length);
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k] as Entry;
      let type = e.type;
      let data = e.data;
      if (type === EntryType.ConfChange) {
        // Refused changes become empty entries, keeping the batch whole (as etcd).
        if (this.pendingConfIndex > this.raftLog.applied) {
          type = EntryType.Normal;
          data = EMPTY_DATA;
        } else {
          this.pendingConfIndex = li + 1;
        }
      }
      ents[k] = { term: this.term, index: ++li, type, data };
    }
    if (!this.#appendEntries(ents)) return dropped('uncommitted bytes over uncommittedEntriesBytesMax');
    this.bcastAppend();
    return null;
  }

  /** #appendEntries appends entries this leader created (indexes and term already set). */
  #appendEntries(ents: Entry[]): boolean {
    const size = payloadSizeBytes(ents);
    if (this.uncommittedBytes > 0 && size > 0 && this.uncommittedBytes + size > this.#uncommittedEntriesBytesMax) {
      return false;
    }
    this.uncommittedBytes += size;
    const li = this.raftLog.append(ents);
    const self = this.tracker.progress.get(this.id);
    if (self !== undefined) self.maybeUpdate(li);
    // A single voter commits at once.
    if (this.maybeCommit()) this.#onLeaderCommitted();
    assert(li === (ents[ents.length - 1] as Entry).index, 'append ends at the last new entry');
    return true;
  }

  /** reduceUncommittedBytes subtracts applied entries from the uncommitted budget (called on advance). */
  reduceUncommittedBytes(applied: readonly Entry[]): void {
    if (this.uncommittedBytes === 0) return;
    const s = payloadSizeBytes(applied);
    this.uncommittedBytes = s > this.uncommittedBytes ? 0 : this.uncommittedBytes - s;
    assert(this.uncommittedBytes >= 0, 'uncommittedBytes >= 0');
  }

  // ---------------------------------------------------------------- replication (leader)

  /**
   * maybeCommit is a hook (tests plant the Figure 8 bug by overriding it):
   * commit the quorum-match index, but only if the entry there has the
   * current term (§5.4.2 / Figure 8). Returns whether the commit advanced.
   */
  protected maybeCommit(): boolean {
    const mci = this.tracker.committed();
    if (mci <= this.raftLog.committed) return false;
    if (this.raftLog.term(mci) !== this.term) return false; // Figure 8: never by counting an older term.
    this.raftLog.commitTo(mci);
    return true;
  }

  #committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  #onLeaderCommitted(): void {
    if (this.#postponedReads.length === 0 || !this.#committedEntryInCurrentTerm()) return;
    const reads = this.#postponedReads;
    this.#postponedReads = [];
    for (const r of reads) this.#leaderReadIndex(r.from, r.context);
  }

  /** bcastAppend sends appends (or commit updates) to every peer. */
  bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /** sendAppend sends an append (even an empty one carrying the commit index) to a peer if not paused. */
  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * maybeSendAppend sends the next append to a peer, or a snapshot when the
   * entries it needs are compacted. Returns whether a message was sent.
   * In Replicate state it advances `next` optimistically (pipelining).
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    assert(pr !== undefined, 'sendAppend to a member');
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    const lastIndex = this.raftLog.lastIndex();
    assert(pr.next <= lastIndex + 1, 'next <= lastIndex + 1');
    let ents: Entry[] | null = null;
    if (prevTerm >= 0 && pr.next <= lastIndex) {
      try {
        ents = this.raftLog.slice(pr.next, lastIndex + 1, this.#msgEntriesBytesMax);
      } catch (err) {
        if (!(err instanceof OtlpdbError) || err.code !== 'ERR_COMPACTED') throw err;
      }
    } else if (prevTerm >= 0) {
      ents = [];
    }
    if (ents === null) {
      // The entries (or the term before them) were compacted: send a snapshot.
      if (!pr.recentActive) return false;
      return this.#sendSnapshot(to, pr);
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.msgs.push(
      newMessage(this.group, this.id, {
        type: MessageType.App,
        to,
        term: this.term,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.raftLog.committed,
      }),
    );
    if (ents.length !== 0) {
      const last = (ents[ents.length - 1] as Entry).index;
      if (pr.state === ProgressState.Replicate) {
        let bytes = 0;
        for (let k = 0; k < ents.length; k++) bytes += entrySizeBytes(ents[k] as Entry);
        pr.optimisticUpdate(last);
        pr.inflights.add(last, bytes);
      } else if (pr.state === ProgressState.Probe) {
        pr.probeSent = true;
      }
    }
    return true;
  }

  #sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snap = this.raftLog.snapshot();
    assert(snap.metadata.index > 0, 'a compacted log has a snapshot');
    pr.becomeSnapshot(snap);
    this.#sendSnapshotChunk(to, pr);
    return true;
  }

  /** #sendSnapshotChunk sends the chunk at pr.snapshotOffset (Figure 13: offset, data, done). */
  #sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = pr.snapshot;
    assert(snap !== null, 'a snapshot is being sent');
    assert(!pr.snapshotChunkInflight, 'one chunk in flight per follower');
    const total = snap.data.length;
    const offset = pr.snapshotOffset;
    const end = Math.min(total, offset + this.#snapshotChunkBytesMax);
    this.#send({
      type: MessageType.Snap,
      to,
      snapshot: { metadata: snap.metadata, offset, totalBytes: total, data: snap.data.subarray(offset, end), done: end === total },
    });
    pr.snapshotChunkInflight = true;
    pr.snapshotIdleTicks = 0;
  }

  #handleSnapshotChunkResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (pr.state !== ProgressState.Snapshot || m.index !== pr.pendingSnapshot) return; // Stale.
    const snap = pr.snapshot;
    assert(snap !== null, 'snapshot state holds its image');
    pr.snapshotChunkInflight = false;
    pr.snapshotIdleTicks = 0;
    if (m.reject) {
      // The follower lost the partial image or refused it: restart from 0 at the next tick.
      pr.snapshotOffset = 0;
      return;
    }
    if (m.rejectHint <= pr.snapshotOffset || m.rejectHint > snap.data.length) return; // Not an advance; wait for the timeout.
    pr.snapshotOffset = m.rejectHint;
    pr.snapshotResends = 0;
    if (pr.snapshotOffset < snap.data.length) this.#sendSnapshotChunk(m.from, pr);
  }

  #handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      // Fast backtracking (etcd): skip every entry of the follower's
      // conflicting term in one round trip.
      let nextProbeIdx = m.rejectHint;
      if (m.rejectTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.rejectTerm);
      if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    if (m.index > this.raftLog.lastIndex()) return; // Cannot match what we do not have; ignore.
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    switch (pr.state) {
      case ProgressState.Probe:
        pr.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        if (pr.match + 1 >= this.raftLog.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case ProgressState.Replicate:
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.#onLeaderCommitted();
      this.bcastAppend();
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // Fill the pipeline while the in-flight limits allow.
    while (this.maybeSendAppend(m.from, false)) {
      // Each iteration sends one more append.
    }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.#send({ type: MessageType.TimeoutNow, to: m.from });
    }
  }

  #handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
    if (m.context === null || m.context.length === 0) return;
    const acks = this.#readOnly.recvAck(m.from, m.context);
    if (acks === null) return;
    let voterAcks = 0;
    for (const id of acks) if (this.tracker.isVoter(id)) voterAcks++;
    if (voterAcks < Math.floor(this.tracker.voters.length / 2) + 1) return;
    for (const rs of this.#readOnly.advance(m.context)) this.#respondToRead(rs.from, rs.context, rs.index);
  }

  /** bcastHeartbeat sends a heartbeat to every peer, carrying the newest pending read context. */
  bcastHeartbeat(): void {
    const ctx = this.#readOnly.lastPendingContext();
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      this.#send({ type: MessageType.Heartbeat, to: id, commit: Math.min(pr.match, this.raftLog.committed), context: ctx });
    }
  }

  // ---------------------------------------------------------------- receiving (follower)

  /** handleAppendEntries is the AppendEntries receiver (§5.3), answering with a hint for fast backtracking on a mismatch. */
  protected handleAppendEntries(m: Message): void {
    const log = this.raftLog;
    if (m.index < log.committed) {
      this.#send({ type: MessageType.AppResp, to: m.from, index: log.committed });
      return;
    }
    const lastNew = log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      this.#send({ type: MessageType.AppResp, to: m.from, index: lastNew });
      return;
    }
    // Reject: hint the largest index whose term is <= the leader's term at
    // m.index, so the leader can skip a whole term per round trip.
    const hintIndex = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm);
    const hintTerm = Math.max(0, log.term(hintIndex));
    this.#send({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: hintIndex, rejectTerm: hintTerm });
  }

  /** handleHeartbeat advances the commit index the leader vouches for and acknowledges (echoing a read context). */
  protected handleHeartbeat(m: Message): void {
    // The leader sends min(match, committed), so m.commit <= our last index;
    // a larger value is ignored rather than trusted.
    if (m.commit <= this.raftLog.lastIndex()) this.raftLog.commitTo(m.commit);
    this.#send({ type: MessageType.HeartbeatResp, to: m.from, context: m.context });
  }

  /** handleSnapshot accumulates an InstallSnapshot chunk and restores the log on the last one (Figure 13). */
  protected handleSnapshot(m: Message): void {
    const chunk = m.snapshot;
    assert(chunk !== null, 'checked Snap messages carry a chunk');
    const md = chunk.metadata;
    if (md.index <= this.raftLog.committed) {
      // Older than what we have: tell the leader where we are (as etcd).
      this.#snapRecv.discard();
      this.#send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed });
      return;
    }
    const r = this.#snapRecv.receive(chunk);
    if (r === null) {
      this.#send({ type: MessageType.SnapResp, to: m.from, index: md.index, logTerm: md.term, reject: true });
      return;
    }
    if (!chunk.done) {
      this.#send({ type: MessageType.SnapResp, to: m.from, index: md.index, logTerm: md.term, rejectHint: r.receivedBytes });
      return;
    }
    assert(r.snapshot !== null, 'the last chunk completes the image');
    if (this.restore(r.snapshot)) {
      this.#send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.lastIndex() });
    } else {
      this.#send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed });
    }
  }

  /**
   * restore installs a snapshot into the log (follower side). Returns false
   * when it is not newer than the commit index, or when the log already
   * holds its last entry (then only the commit index moves).
   */
  restore(s: Snapshot): boolean {
    const md = s.metadata;
    if (md.index <= this.raftLog.committed) return false;
    if (this.role !== StateRole.Follower) {
      // Defensive, as etcd: only followers install snapshots.
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    if (this.raftLog.matchTerm(md.index, md.term)) {
      this.raftLog.commitTo(md.index);
      return false;
    }
    this.raftLog.restore(s);
    // NB: a snapshot whose membership omits this replica is still installed:
    // the ConfChange entries after it will add us (etcd refuses such a
    // snapshot; with compaction racing a membership change that can strand a
    // new learner).
    this.tracker.setConfState(md.confState, this.raftLog.lastIndex() + 1);
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.tracker.progress) {
      pr.reset(last + 1);
      if (id === this.id) pr.match = last;
    }
    assert(this.raftLog.committed === md.index, 'restore commits the snapshot');
    return true;
  }

  // ---------------------------------------------------------------- membership

  /**
   * applyConfChange makes a committed membership change take effect (etcd's
   * v1 ApplyConfChange); a refused change (see applyChangeToConfState)
   * changes nothing on every replica alike. Returns the membership in force.
   */
  applyConfChange(cc: ConfChange): ConfState {
    const next = applyChangeToConfState(this.tracker.confState(), cc);
    if (next instanceof OtlpdbError) return this.tracker.confState();
    this.tracker.setConfState(next, this.raftLog.lastIndex() + 1);
    if (this.role === StateRole.Leader) {
      if (!this.tracker.isVoter(this.id)) {
        // A removed leader steps down (thesis §4.2.2); it no longer campaigns.
        this.becomeFollower(this.term, NONE);
        return this.tracker.confState();
      }
      if (this.leadTransferee !== NONE && !this.tracker.progress.has(this.leadTransferee)) this.#abortLeaderTransfer();
      if (this.maybeCommit()) {
        this.#onLeaderCommitted();
        this.bcastAppend();
      }
      for (const id of this.tracker.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    }
    const cs = this.tracker.confState();
    assert(cs.voters.length >= 1, 'a group keeps a voter');
    return cs;
  }

  // ---------------------------------------------------------------- leader transfer

  #handleTransferLeader(target: NodeId, pr: Progress): void {
    if (pr.isLearner) return; // A learner cannot lead.
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === target) return; // Already in progress.
      this.#abortLeaderTransfer();
    }
    if (target === this.id) return; // Already the leader.
    this.#transferElapsed = 0;
    this.leadTransferee = target;
    if (pr.match === this.raftLog.lastIndex()) this.#send({ type: MessageType.TimeoutNow, to: target });
    else this.sendAppend(target);
  }

  #abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
    this.#transferElapsed = 0;
  }

  // ---------------------------------------------------------------- ReadIndex

  /**
   * readIndexNeedsQuorum is a hook (tests plant the stale-read bug by making
   * it return false): whether a ReadIndex must be confirmed by a heartbeat
   * round acknowledged by a quorum (thesis §6.4 step 3). Only a single-voter
   * group may answer at once.
   */
  protected readIndexNeedsQuorum(): boolean {
    return !this.tracker.isSingleton();
  }

  /** readIndex starts a linearizable read (thesis §6.4); the answer arrives as a ReadState. */
  readIndex(context: Uint8Array): OtlpdbError | null {
    if (this.role === StateRole.Leader) return this.#leaderReadIndex(this.id, context);
    if (this.role !== StateRole.Follower) return dropped('no leader to confirm a read', { leaderHint: NONE });
    return this.stepFollower(newMessage(this.group, this.id, { type: MessageType.ReadIndex, to: this.id, context }));
  }

  #leaderReadIndex(from: NodeId, context: Uint8Array): OtlpdbError | null {
    if (!this.readIndexNeedsQuorum()) {
      this.#respondToRead(from, context, this.raftLog.committed);
      return null;
    }
    if (!this.#committedEntryInCurrentTerm()) {
      // Thesis §6.4 step 1: our commit index may be stale until an entry of
      // this term commits; postpone (released by #onLeaderCommitted).
      if (this.#postponedReads.length >= this.#readIndexPendingMax) {
        return new OtlpdbError('ERR_UNAVAILABLE', 'too many reads waiting for the leader to commit in its term', {
          readIndexPendingMax: this.#readIndexPendingMax,
        });
      }
      this.#postponedReads.push({ from, context });
      return null;
    }
    if (this.#readOnly.isFull()) {
      return new OtlpdbError('ERR_UNAVAILABLE', 'too many reads waiting for quorum confirmation', {
        readIndexPendingMax: this.#readIndexPendingMax,
      });
    }
    if (!this.#readOnly.addRequest(this.raftLog.committed, from, context, this.id)) return null; // Duplicate context.
    this.bcastHeartbeat();
    return null;
  }

  #respondToRead(from: NodeId, context: Uint8Array, index: number): void {
    if (from === NONE || from === this.id) {
      this.readStates.push({ index, context });
      return;
    }
    this.#send({ type: MessageType.ReadIndexResp, to: from, index, context });
  }

  /** pendingReadCount is the number of reads waiting (postponed or for quorum); for tests and status. */
  pendingReadCount(): number {
    return this.#postponedReads.length + this.#readOnly.size;
  }
}
