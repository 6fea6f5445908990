/**
 * types.ts — the plain data that crosses the boundary of the pure Raft core:
 * entries, messages, hard state, snapshots, the Ready a driver must carry out,
 * and the Storage interface the core pulls from.
 *
 * The core never does I/O. A driver (the simulator, or a real node) calls
 * `tick`/`step`/`propose`/`readIndex`, then, while `hasReady()`, takes a
 * `Ready` and carries it out strictly in this order:
 *   1. persist `hardState`, `snapshot` and `entries` (fsync when `mustSync`);
 *   2. send `messages`;
 *   3. apply `committedEntries` to the state machine (a ConfChange entry is
 *      applied by calling `applyConfChange`), and serve `readStates` once the
 *      applied index reaches each one's index;
 *   4. call `advance()`.
 * A Ready cut with `ready({ stableCommittedOnly: true })` holds only
 * committed entries an earlier advance() reported persisted; a driver may
 * apply those while it persists and syncs the Ready's own entries, before
 * it sends (multi-raft.ts, "Pipelining").
 */

/** NodeId names a replica. 0 (NONE) means "no node". */
export type NodeId = number;
/** GroupId names a Raft group (0 is the meta group; 1..S are shards). */
export type GroupId = number;
/** NONE is the NodeId meaning "nobody" (no vote, no leader). */
export const NONE: NodeId = 0;

/** EntryType distinguishes application data from configuration changes. */
export const EntryType = {
  Normal: 0,
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** Entry is one Raft log entry. An empty `data` Normal entry is the no-op a new leader appends. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** ConfChangeType lists the single-server membership changes (thesis §4.1, §4.2.1). */
export const ConfChangeType = {
  AddNode: 0,
  AddLearner: 1,
  RemoveNode: 2,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** ConfChange is the decoded payload of a ConfChange entry. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** context is opaque to Raft (a node address, for example). */
  readonly context?: Uint8Array;
}

/** ConfState is the membership in force: voters and non-voting learners (disjoint). */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** HardState is what must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

/** SnapshotMetadata says which prefix of the log a snapshot replaces and the membership at that point. */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** Snapshot is a state-machine image covering the log up to `metadata.index`. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** MessageType lists every Raft message. Local* types never cross the network. */
export const MessageType = {
  /** LocalHup asks a node to start an election (local only). */
  LocalHup: 0,
  /** LocalBeat asks a leader to send heartbeats (local only). */
  LocalBeat: 1,
  /** LocalProp carries proposals from the driver or a forwarding follower. */
  Prop: 2,
  App: 3,
  AppResp: 4,
  Vote: 5,
  VoteResp: 6,
  PreVote: 7,
  PreVoteResp: 8,
  /** Snap carries one chunk of an InstallSnapshot (Figure 13: offset, data, done). */
  Snap: 9,
  /** SnapResp acknowledges a chunk (or, with reject, asks to restart from offset 0). */
  SnapResp: 10,
  Heartbeat: 11,
  HeartbeatResp: 12,
  /** TransferLeader asks the leader to hand leadership to `from` (or to the node named in it). */
  TransferLeader: 13,
  /** TimeoutNow tells the transfer target to campaign at once, skipping pre-vote. */
  TimeoutNow: 14,
  ReadIndex: 15,
  ReadIndexResp: 16,
  /** LocalUnreachable reports that a peer could not be reached (local only). */
  LocalUnreachable: 17,
  /** LocalSnapStatus reports that sending a snapshot to a peer failed (local only). */
  LocalSnapStatus: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * Message is the one message shape of the core. Fields a type does not use
 * are 0 / empty. Every message carries its group, so one transport serves
 * every group of a node.
 */
export interface Message {
  readonly group: GroupId;
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** logTerm: for App, the term of entry `index`; for votes, the candidate's last log term. */
  readonly logTerm: number;
  /** index: for App, the index before `entries`; for votes, the candidate's last index; for responses, see raft.ts. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** rejectHint: on a rejected AppResp, the follower's hint for fast backtracking. */
  readonly rejectHint: number;
  /** rejectTerm: on a rejected AppResp, the term of the follower's entry at rejectHint (etcd's LogTerm on reject). */
  readonly rejectTerm: number;
  /** context: opaque bytes for ReadIndex requests, heartbeats confirming them, and campaign transfers. */
  readonly context: Uint8Array | null;
  /** snapshot: on Snap, the metadata of the snapshot being installed and this chunk. */
  readonly snapshot: SnapshotChunk | null;
}

/** SnapshotChunk is one piece of an InstallSnapshot (Raft paper Figure 13). */
export interface SnapshotChunk {
  readonly metadata: SnapshotMetadata;
  /** offset is the byte position of `data` in the snapshot image. */
  readonly offset: number;
  /** totalBytes is the size of the whole image. */
  readonly totalBytes: number;
  readonly data: Uint8Array;
  /** done is true on the last chunk. */
  readonly done: boolean;
}

/** StateRole is the role of a node in its group. */
export const StateRole = {
  Follower: 0,
  Candidate: 1,
  Leader: 2,
  PreCandidate: 3,
} as const;
export type StateRole = (typeof StateRole)[keyof typeof StateRole];

/** SoftState is volatile state a driver may want to observe (not persisted). */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: StateRole;
}

/** ReadState answers one ReadIndex request: the read is linearizable once applied >= index. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/** Ready is the work a driver must carry out, in the order documented at the top of this file. */
export interface Ready {
  /** softState is set when the leader or role changed since the last Ready. */
  readonly softState: SoftState | null;
  /** hardState is set when it changed since the last Ready; persist it. */
  readonly hardState: HardState | null;
  /** snapshot, when set, must be persisted (and installed into the state machine) before `entries`. */
  readonly snapshot: Snapshot | null;
  /** entries must be appended to stable storage (replacing any conflicting suffix). */
  readonly entries: readonly Entry[];
  /** mustSync says whether the persisted state must be fsynced before messages are sent. */
  readonly mustSync: boolean;
  /** messages are sent only after the persistence above is done. */
  readonly messages: readonly Message[];
  /** committedEntries are applied, in order, after messages are sent (or, when the Ready was cut stableCommittedOnly, while its own entries are synced). */
  readonly committedEntries: readonly Entry[];
  /** readStates are served once the state machine has applied up to each index. */
  readonly readStates: readonly ReadState[];
}

/**
 * Storage is what the core reads from stable storage. The driver writes to
 * it (append, applySnapshot, setHardState, compact) when carrying out a
 * Ready; the core only reads. Index arguments outside the stored range are
 * refused with OtlpdbError ERR_COMPACTED (below firstIndex) or
 * ERR_UNAVAILABLE_INDEX (above lastIndex).
 */
export interface Storage {
  /** initialState returns the persisted hard state and membership. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** entries returns entries [lo, hi), at most `bytesMax` bytes but always at least one. */
  entries(lo: number, hi: number, bytesMax: number): Entry[];
  /** term returns the term of entry i, for firstIndex()-1 <= i <= lastIndex(). */
  term(i: number): number;
  /** firstIndex is the index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  /** lastIndex is the index of the last stored entry. */
  lastIndex(): number;
  /** snapshot returns the most recent snapshot. */
  snapshot(): Snapshot;
}

/** Rand is the injected random source of the core: a uniform integer in [0, n). */
export interface Rand {
  intn(n: number): number;
}

/**
 * VoteFloor is a log position (index, term) below which this replica grants
 * no vote: the last entry of a removed predecessor under the same node id
 * (tombstone.ts). { index: 0, term: 0 } is no floor.
 */
export interface VoteFloor {
  readonly index: number;
  readonly term: number;
}

/** Config configures one Raft group replica. Limits default to src/limits.ts RaftLimits. */
export interface Config {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly storage: Storage;
  readonly rand: Rand;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** applied is the index already applied to the state machine when restarting. */
  readonly applied?: number;
  readonly inflightMsgsMax?: number;
  readonly inflightBytesMax?: number;
  readonly msgEntriesBytesMax?: number;
  readonly uncommittedEntriesBytesMax?: number;
  readonly committedEntriesBytesMax?: number;
  readonly snapshotChunkBytesMax?: number;
  readonly readIndexPendingMax?: number;
  /** preVote enables the pre-vote phase (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** checkQuorum makes a leader step down when it has not heard from a quorum for an election timeout (thesis §6.2). Default true. */
  readonly checkQuorum?: boolean;
  /** disableProposalForwarding makes followers reject proposals with ERR_NOT_LEADER instead of forwarding them. Default false. */
  readonly disableProposalForwarding?: boolean;
  /** snapshotBytesMax bounds the snapshot image a follower accepts in chunks (added by the raft core; default RaftLimits). */
  readonly snapshotBytesMax?: number;
  /** transferLeaderTicks aborts a leadership transfer not finished within this many ticks (added by the raft core; default RaftLimits). */
  readonly transferLeaderTicks?: number;
  /** voteFloor is the removed predecessor's last log position (tombstone.ts); a candidate's log must reach it to get this replica's vote. Default none. */
  readonly voteFloor?: VoteFloor;
}

/** ProgressState is how a leader replicates to one peer (etcd's tracker.StateType). */
export const ProgressState = {
  /** Probe sends one append per heartbeat interval until the peer's match index is found. */
  Probe: 0,
  /** Replicate pipelines appends optimistically, bounded by the in-flight limits. */
  Replicate: 1,
  /** Snapshot sends an InstallSnapshot in chunks and no appends until it is acknowledged. */
  Snapshot: 2,
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** ProgressStatus is the leader's view of one peer, as reported by `status()`. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
}

/** RaftStatus is a read-only snapshot of one replica's state, for drivers, tests and the CLI. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lead: NodeId;
  readonly role: StateRole;
  readonly lastIndex: number;
  readonly firstIndex: number;
  readonly confState: ConfState;
  /** progress is set only on the leader: every voter and learner, keyed by node id. */
  readonly progress?: Readonly<Record<NodeId, ProgressStatus>>;
  /** leadTransferee is the target of a leadership transfer in progress, or NONE. */
  readonly leadTransferee: NodeId;
}

/** BasicStatus is the cheap part of RaftStatus (RawNode.basicStatus): no per-peer progress, no membership. */
export interface BasicStatus {
  readonly term: number;
  readonly lead: NodeId;
  readonly role: StateRole;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
}
