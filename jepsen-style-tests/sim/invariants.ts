/**
 * invariants.ts — the safety properties of Raft (paper Figure 3) and of the
 * replicated state machine, checked by the simulator at every step from what
 * the drivers observe.
 *
 * Invariants of this file's own state:
 * - `#leaders` maps a term to the one node seen leading it, over the whole
 *   run (restarts included).
 * - `#log` maps an index to every (term, fingerprint, previous term) any node
 *   ever persisted there; two records with one term must agree.
 * - `#appliedTerm[i]`/`#appliedFp[i]` describe the entry some node applied at
 *   index i: "committed" below means exactly this.
 * - `#first` is the first violation; later ones are ignored (a seed stops at
 *   its first violation).
 *
 * Each check names the invariant it enforces (InvariantName); the README
 * lists them and where the simulator calls them.
 */
import { assert } from '../../src/errors.js';
import type { Entry, HardState, Message, NodeId, Snapshot } from '../../src/raft/types.js';
import { MessageType } from '../../src/raft/types.js';
import type { DurableImage } from './disk.js';
import { fnv1a } from './kv.js';

/** InvariantName lists every property the simulator checks. */
export const InvariantName = {
  /** electionSafety: at most one leader per term (Figure 3). */
  electionSafety: 'election-safety',
  /** logMatching: entries with the same index and term carry the same data and follow the same previous term (Figure 3). */
  logMatching: 'log-matching',
  /** leaderCompleteness: a new leader's log holds every entry committed so far (Figure 3). */
  leaderCompleteness: 'leader-completeness',
  /** stateMachineSafety: no two nodes apply different entries at one index (Figure 3). */
  stateMachineSafety: 'state-machine-safety',
  /** monotonicity: term, commit and applied index never go backwards within a node's life. */
  monotonicity: 'monotonicity',
  /** durableTerm: the durable term never goes backwards, across restarts too. */
  durableTerm: 'durable-term',
  /** durablePromises: after a restart, a node remembers every term it announced and every vote it granted. */
  durablePromises: 'durable-promises',
  /** committedDurability: after a restart, a node's durable log and snapshot contradict no committed entry. */
  committedDurability: 'committed-durability',
  /** liveness: after every fault heals, a leader appears and every acknowledged write applies on every member within SimLimits.healTicksMax. */
  liveness: 'liveness-after-heal',
  /** convergence: members that applied the same index hold the same state machine. */
  convergence: 'replica-convergence',
  /** linearizability: the client history is linearizable (the checker says illegal otherwise). */
  linearizability: 'linearizability',
  /** exception: the core or the simulator threw (an assertion is a bug). */
  exception: 'exception',
} as const;
export type InvariantName = (typeof InvariantName)[keyof typeof InvariantName];

/** Violation is one broken invariant, with the seed and step that reproduce it. */
export interface Violation {
  readonly seed: number;
  readonly invariant: string;
  readonly step: number;
  readonly detail: string;
}

/** LogRecord is what one (index, term) was seen to hold. */
interface LogRecord {
  readonly term: number;
  readonly fp: number;
  /** prevTerm is the term of the entry before it in the same log, or -1 when unknown (compacted). */
  prevTerm: number;
  readonly node: NodeId;
}

/** entryFingerprint hashes an entry's type and data (its identity, given index and term). */
export function entryFingerprint(e: Entry): number {
  return fnv1a(e.data, (0x811c9dc5 ^ (e.type * 0x9e3779b1)) >>> 0);
}

/** VoteGrant is the last vote a node granted. */
interface VoteGrant {
  readonly term: number;
  readonly to: NodeId;
}

/** LogView is the part of a node's storage the invariants read. */
export interface LogView {
  firstIndex(): number;
  lastIndex(): number;
  term(i: number): number;
  entries(lo: number, hi: number, bytesMax: number): Entry[];
  snapshot(): Snapshot;
}

/** Invariants accumulates what the drivers observe and reports the first broken property. */
export class Invariants {
  readonly #seed: number;
  #step = 0;
  #first: Violation | null = null;
  readonly #leaders = new Map<number, NodeId>();
  readonly #log = new Map<number, LogRecord[]>();
  readonly #appliedTerm: number[] = [];
  readonly #appliedFp: number[] = [];
  readonly #appliedBy: NodeId[] = [];
  #appliedMax = 0;
  readonly #termSent = new Map<NodeId, number>();
  readonly #voteGranted = new Map<NodeId, VoteGrant>();
  readonly #durableTerm = new Map<NodeId, number>();
  readonly #progress = new Map<NodeId, { term: number; commit: number; applied: number }>();

  constructor(seed: number) {
    this.#seed = seed;
  }

  /** violation is the first broken invariant, or null. */
  get violation(): Violation | null {
    return this.#first;
  }

  /** appliedMax is the highest index any node applied. */
  get appliedMax(): number {
    return this.#appliedMax;
  }

  /** setStep tells the invariants which step the next observations belong to. */
  setStep(step: number): void {
    assert(step >= this.#step, 'steps never go backwards');
    this.#step = step;
  }

  /** fail records a violation (only the first one is kept). */
  fail(invariant: InvariantName, detail: string): void {
    if (this.#first === null) this.#first = { seed: this.#seed, invariant, step: this.#step, detail };
  }

  /** leaderObserved records that `node` leads `term`; a second leader of one term breaks election safety. */
  leaderObserved(node: NodeId, term: number): void {
    const prev = this.#leaders.get(term);
    if (prev === undefined) this.#leaders.set(term, node);
    else if (prev !== node) this.fail(InvariantName.electionSafety, `nodes ${prev} and ${node} both led term ${term}`);
  }

  /**
   * entriesPersisted records entries a node wrote to its log. `prevTerm` is
   * the term of the entry just before the first one in that node's log (-1
   * when compacted away).
   */
  entriesPersisted(node: NodeId, entries: readonly Entry[], prevTerm: number): void {
    let prev = prevTerm;
    for (const e of entries) {
      const fp = entryFingerprint(e);
      let records = this.#log.get(e.index);
      if (records === undefined) {
        records = [];
        this.#log.set(e.index, records);
      }
      let found = false;
      for (const r of records) {
        if (r.term !== e.term) continue;
        found = true;
        if (r.fp !== fp) {
          this.fail(InvariantName.logMatching, `index ${e.index} term ${e.term}: node ${node} holds different data than node ${r.node}`);
        }
        if (prev >= 0 && r.prevTerm >= 0 && r.prevTerm !== prev) {
          this.fail(
            InvariantName.logMatching,
            `index ${e.index} term ${e.term}: node ${node} has previous term ${prev}, node ${r.node} has ${r.prevTerm}`,
          );
        }
        if (r.prevTerm < 0) r.prevTerm = prev;
      }
      if (!found) records.push({ term: e.term, fp, prevTerm: prev, node });
      prev = e.term;
    }
  }

  /** entryApplied records that `node` applied `e`; a different entry applied at the same index breaks state-machine safety. */
  entryApplied(node: NodeId, e: Entry): void {
    const fp = entryFingerprint(e);
    const term = this.#appliedTerm[e.index];
    if (term === undefined) {
      this.#appliedTerm[e.index] = e.term;
      this.#appliedFp[e.index] = fp;
      this.#appliedBy[e.index] = node;
      if (e.index > this.#appliedMax) this.#appliedMax = e.index;
      return;
    }
    if (term !== e.term || this.#appliedFp[e.index] !== fp) {
      this.fail(
        InvariantName.stateMachineSafety,
        `index ${e.index}: node ${node} applied term ${e.term}, node ${this.#appliedBy[e.index]} applied term ${term}` +
          (term === e.term ? ' with different data' : ''),
      );
    }
  }

  /** snapshotApplied checks a snapshot installed by a node against the committed entry at its index. */
  snapshotApplied(node: NodeId, snap: Snapshot): void {
    const i = snap.metadata.index;
    const term = this.#appliedTerm[i];
    if (term !== undefined && term !== snap.metadata.term) {
      this.fail(InvariantName.stateMachineSafety, `node ${node} installed a snapshot at ${i} term ${snap.metadata.term}, committed term is ${term}`);
    }
  }

  /** becameLeader checks leader completeness: every committed entry above the leader's snapshot is in its log. */
  becameLeader(node: NodeId, term: number, log: LogView): void {
    this.leaderObserved(node, term);
    const snapIndex = log.firstIndex() - 1;
    const last = log.lastIndex();
    if (this.#appliedMax > last) {
      this.fail(
        InvariantName.leaderCompleteness,
        `node ${node} became leader of term ${term} with last index ${last}, but index ${this.#appliedMax} is committed`,
      );
      return;
    }
    const lo = snapIndex + 1;
    if (lo > this.#appliedMax) return;
    const ents = log.entries(lo, this.#appliedMax + 1, Number.MAX_SAFE_INTEGER);
    for (const e of ents) {
      const t = this.#appliedTerm[e.index];
      if (t === undefined) continue;
      if (t !== e.term || this.#appliedFp[e.index] !== entryFingerprint(e)) {
        this.fail(
          InvariantName.leaderCompleteness,
          `node ${node} became leader of term ${term} holding term ${e.term} at index ${e.index}, but term ${t} is committed there`,
        );
        return;
      }
    }
  }

  /** hardStateObserved checks that term and commit never go backwards within a node's life. */
  hardStateObserved(node: NodeId, hs: HardState): void {
    const p = this.#progress.get(node);
    if (p === undefined) {
      this.#progress.set(node, { term: hs.term, commit: hs.commit, applied: 0 });
      return;
    }
    if (hs.term < p.term) this.fail(InvariantName.monotonicity, `node ${node} term went from ${p.term} to ${hs.term}`);
    if (hs.commit < p.commit) this.fail(InvariantName.monotonicity, `node ${node} commit went from ${p.commit} to ${hs.commit}`);
    p.term = hs.term;
    p.commit = hs.commit;
  }

  /** appliedObserved checks that the applied index never goes backwards within a node's life. */
  appliedObserved(node: NodeId, applied: number): void {
    let p = this.#progress.get(node);
    if (p === undefined) {
      p = { term: 0, commit: 0, applied };
      this.#progress.set(node, p);
    }
    if (applied < p.applied) this.fail(InvariantName.monotonicity, `node ${node} applied went from ${p.applied} to ${applied}`);
    p.applied = applied;
  }

  /** messageSent records the terms a node announced and the votes it granted (PreVote traffic announces nothing). */
  messageSent(m: Message): void {
    if (m.type === MessageType.PreVote || m.type === MessageType.PreVoteResp) return;
    if (m.term > (this.#termSent.get(m.from) ?? 0)) this.#termSent.set(m.from, m.term);
    if (m.type === MessageType.VoteResp && !m.reject) this.#voteGranted.set(m.from, { term: m.term, to: m.to });
  }

  /** synced records a node's durable term after an fsync; it must never decrease. */
  synced(node: NodeId, durableTerm: number): void {
    const prev = this.#durableTerm.get(node) ?? 0;
    if (durableTerm < prev) this.fail(InvariantName.durableTerm, `node ${node} durable term went from ${prev} to ${durableTerm}`);
    else this.#durableTerm.set(node, durableTerm);
  }

  /** crashed forgets the in-memory progress of a node's life (a new life starts at restart). */
  crashed(node: NodeId): void {
    this.#progress.delete(node);
  }

  /**
   * wiped starts a new incarnation of a node id: it left the group, its disk
   * was wiped, and it was added back. It may legally forget every term and
   * vote of the old incarnation, so the per-node promises start over; what
   * protects committed entries then is that the empty replica grants no vote
   * until it knows itself a voter (`Raft.mayVote`), which the global
   * invariants (election safety, leader completeness, state-machine safety)
   * check.
   */
  wiped(node: NodeId): void {
    this.#progress.delete(node);
    this.#termSent.delete(node);
    this.#voteGranted.delete(node);
    this.#durableTerm.delete(node);
  }

  /**
   * restarted checks what a node recovered from its disk: its durable term,
   * the terms and votes it announced before the crash, and that its durable
   * snapshot and the durable log up to its durable commit index contradict no
   * committed entry.
   */
  restarted(node: NodeId, image: DurableImage): void {
    const hs = image.hardState;
    const durable = this.#durableTerm.get(node) ?? 0;
    if (hs.term < durable) this.fail(InvariantName.durableTerm, `node ${node} restarted at term ${hs.term} below its durable term ${durable}`);
    const sent = this.#termSent.get(node) ?? 0;
    if (hs.term < sent) {
      this.fail(InvariantName.durablePromises, `node ${node} restarted at term ${hs.term} after announcing term ${sent}`);
    }
    const grant = this.#voteGranted.get(node);
    if (grant !== undefined && hs.term === grant.term && hs.vote !== grant.to) {
      this.fail(
        InvariantName.durablePromises,
        `node ${node} restarted in term ${hs.term} with vote ${hs.vote} after granting its vote to ${grant.to}`,
      );
    }
    this.snapshotApplied(node, image.snapshot);
    // Entries above the durable commit index may legally differ from the
    // committed ones (a lagging follower's stale suffix); those at or below it
    // the node itself knew to be committed.
    for (const e of image.entries) {
      if (e.index > hs.commit) break;
      const t = this.#appliedTerm[e.index];
      if (t === undefined) continue;
      if (t !== e.term || this.#appliedFp[e.index] !== entryFingerprint(e)) {
        this.fail(
          InvariantName.committedDurability,
          `node ${node} restarted holding term ${e.term} at index ${e.index}, but term ${t} is committed there`,
        );
        return;
      }
    }
  }

  /** appliedAt returns the term committed at an index (undefined when nobody applied it). */
  appliedAt(index: number): number | undefined {
    return this.#appliedTerm[index];
  }
}
