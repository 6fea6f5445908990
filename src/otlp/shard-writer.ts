/**
 * shard-writer.ts — sends one request's shard parts to their shard leaders
 * and waits until each has committed (DESIGN.md §5 steps 3–5).
 *
 * Each part goes to the node believed to lead its shard: the last leader
 * hint for that shard, else this node's own view when it hosts a replica,
 * else the shard's first placed replica (its preferred leader). The leader
 * proposes it and answers the ShardApplyResult once the entry is applied
 * there, that is committed on a majority and fsynced (promise 1).
 *
 * Retries, all inside the request's deadline:
 * - ERR_NOT_LEADER with a leader hint: go to the hinted node at once (at
 *   most IngestLimits.leaderHopsMax hops in a row, then back off);
 * - no answer (unreachable, call timed out), a leader without quorum
 *   (ERR_TIMEOUT, ERR_PROPOSAL_DROPPED) or an overloaded shard
 *   (ERR_UNAVAILABLE): back off (exponential with jitter) and try the next
 *   replica; an ERR_TIMEOUT's outcome is unknown, and the retry is safe
 *   because the entry's (idempotency key, part) makes a second apply a
 *   duplicate;
 * - anything else (ERR_INVALID_ARGUMENT, ERR_CORRUPTION...) is a bug on one
 *   side and ends the part.
 * A circuit breaker per peer (circuit-breaker.ts) skips a peer that stopped
 * answering; it counts only calls the peer did not answer.
 *
 * Invariants: every call carries a deadline no later than the request's;
 * the leader-hint cache holds at most one entry per shard; a part settles
 * exactly once.
 */
import { OtlpdbError, assert } from '../errors.js';
import { IngestLimits } from '../limits.js';
import type { GroupId, NodeId, Rand } from '../raft/types.js';
import { NONE } from '../raft/types.js';
import { decodeApplyResult } from '../storage/shard/shard-records.js';
import type { ShardApplyResult } from '../storage/shard/shard-records.js';
import { reconnectDelayMs } from '../transport/backoff.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { BreakerState } from './circuit-breaker.js';
import type { ShardPart } from './shard-parts.js';

/** SHARD_PROPOSE is the peer method a node forwards a shard part to its leader with: payload [group, entry]. */
export const SHARD_PROPOSE = 'shard.propose';

/** ShardWriterDeps are what the writer needs from its node; injected so tests can run it over fakes. */
export interface ShardWriterDeps {
  readonly self: NodeId;
  /** nowMs is a monotonic clock in ms (deadlines, breakers). */
  readonly nowMs: () => number;
  readonly rand: Rand;
  readonly sleep: (ms: number) => Promise<void>;
  /** replicasOf lists the nodes placed for a shard (the recorded placement), preferred leader first. */
  readonly replicasOf: (shard: GroupId) => readonly NodeId[];
  /** localLeader is the leader this node sees for a shard it hosts, or NONE (not hosted, or no leader known). */
  readonly localLeader: (shard: GroupId) => NodeId;
  /**
   * proposeHere proposes on this node (it must lead the shard: else
   * ERR_NOT_LEADER with details.leaderHint). It takes the entry's bytes
   * over (ShardService stamps its clock into them and they may stay in the
   * Raft log even when the call fails), so the writer hands a part's own
   * bytes over once and copies for any later local attempt.
   */
  readonly proposeHere: (shard: GroupId, entry: Uint8Array, timeoutMs: number) => Promise<Uint8Array>;
  /**
   * proposeHereBatch, when given, is proposeHere for several entries at
   * once (`entries[k]` to shard `shards[k]`): it resolves once every entry
   * has settled, slot k holding entry k's encoded apply result or the error
   * proposeHere would have thrown for it, and never rejects. The writer
   * sends it, in one call, the first attempt of every part this node leads;
   * a part whose slot failed goes on as if its first attempt had (retries,
   * hints, backoff).
   */
  readonly proposeHereBatch?: (shards: readonly GroupId[], entries: readonly Uint8Array[], timeoutMs: number) => Promise<readonly (Uint8Array | OtlpdbError)[]>;
  /** call forwards to a peer (SHARD_PROPOSE). */
  readonly call: (peer: NodeId, shard: GroupId, entry: Uint8Array, timeoutMs: number) => Promise<Uint8Array>;
}

/** PartOutcome is one part's end: the shard's apply result, or the error that ended it (retryable or not). */
export type PartOutcome = { readonly ok: true; readonly part: ShardPart; readonly result: ShardApplyResult } | { readonly ok: false; readonly part: ShardPart; readonly error: OtlpdbError };

/** ShardWriterStats are the writer's counters (exported in /metrics). */
export interface ShardWriterStats {
  parts: number;
  partsFailed: number;
  forwarded: number;
  notLeader: number;
  retries: number;
  breakerSkips: number;
}

/** RETRYABLE_CODES are the error codes after which a part is tried again (on the same or another replica). */
const RETRYABLE_CODES: ReadonlySet<string> = new Set(['ERR_NOT_LEADER', 'ERR_UNAVAILABLE', 'ERR_TIMEOUT', 'ERR_PROPOSAL_DROPPED', 'ERR_RATE_LIMITED']);

/** ShardWriter routes parts to leaders; see the top of this file. */
export class ShardWriter {
  readonly #d: ShardWriterDeps;
  readonly #hints = new Map<GroupId, NodeId>();
  readonly #breakers = new Map<NodeId, CircuitBreaker>();
  readonly stats: ShardWriterStats = { parts: 0, partsFailed: 0, forwarded: 0, notLeader: 0, retries: 0, breakerSkips: 0 };

  constructor(deps: ShardWriterDeps) {
    this.#d = deps;
  }

  /** breakerStates reports every peer's breaker (for /metrics). */
  breakerStates(): Map<NodeId, BreakerState> {
    const now = this.#d.nowMs();
    return new Map([...this.#breakers].map(([id, b]) => [id, b.state(now)]));
  }

  /**
   * write sends every part and resolves with one outcome per part (in part
   * order) by `deadlineMs` (on the nowMs clock). With proposeHereBatch, the
   * parts this node leads go there together first; see #writeHere.
   */
  write(parts: readonly ShardPart[], deadlineMs: number): Promise<PartOutcome[]> {
    assert(parts.length <= IngestLimits.partsPerRequestMax, 'write parts within partsPerRequestMax');
    const batch = this.#d.proposeHereBatch;
    const leftMs = Math.floor(deadlineMs - this.#d.nowMs());
    if (batch === undefined || parts.length === 0 || leftMs < IngestLimits.callMsMin) return Promise.all(parts.map((p) => this.#writePart(p, deadlineMs, null)));
    return this.#writeHere(batch, parts, deadlineMs, Math.min(leftMs, IngestLimits.partCallMsMax));
  }

  /**
   * writeHere proposes every part whose first target is this node in one
   * proposeHereBatch call (the first attempt #writePart would make, with
   * the part's own bytes handed over), starts #writePart for the others at
   * once, and continues a part whose slot failed in #writePart from that
   * failure. A request whose shards all lead here (one node, or R=1) pays
   * one promise instead of a chain of frames and promises per part.
   */
  async #writeHere(
    batch: NonNullable<ShardWriterDeps['proposeHereBatch']>,
    parts: readonly ShardPart[],
    deadlineMs: number,
    timeoutMs: number,
  ): Promise<PartOutcome[]> {
    const self = this.#d.self;
    const out = new Array<PartOutcome | Promise<PartOutcome>>(parts.length);
    const slots: number[] = [];
    const shards: GroupId[] = [];
    const entries: Uint8Array[] = [];
    for (let k = 0; k < parts.length; k++) {
      const part = parts[k] as ShardPart;
      if (this.#leadsHere(part.shard)) {
        slots.push(k);
        shards.push(part.shard);
        entries.push(part.bytes);
      } else {
        out[k] = this.#writePart(part, deadlineMs, null);
      }
    }
    let waiting = slots.length < parts.length;
    if (slots.length > 0) {
      this.stats.parts += slots.length;
      let results: readonly (Uint8Array | OtlpdbError)[];
      try {
        results = await batch(shards, entries, timeoutMs);
      } catch (err) {
        // proposeHereBatch never rejects by contract; if it did (a bug), every part it held ends as a failed attempt would.
        const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', String(err));
        results = shards.map(() => e);
      }
      assert(results.length === slots.length, 'one outcome per part proposed here');
      for (let j = 0; j < slots.length; j++) {
        const k = slots[j] as number;
        const part = parts[k] as ShardPart;
        const r = results[j];
        if (r instanceof Uint8Array) {
          this.#hints.set(part.shard, self);
          out[k] = { ok: true, part, result: decodeApplyResult(r) };
        } else {
          assert(r instanceof OtlpdbError, 'a failed slot holds an OtlpdbError');
          out[k] = this.#writePart(part, deadlineMs, r);
          waiting = true;
        }
      }
    }
    return waiting ? Promise.all(out) : (out as PartOutcome[]);
  }

  /** leadsHere says whether a part for `shard` would go to this node first: its hint, else the leader this node sees. */
  #leadsHere(shard: GroupId): boolean {
    const hint = this.#hints.get(shard);
    return (hint === undefined ? this.#d.localLeader(shard) : hint) === this.#d.self;
  }

  /**
   * writePart sends one part until it commits, fails for good or the
   * deadline comes. `prior`, when set, is the failure of the part's first
   * attempt, made here by #writeHere with the part's own bytes: the loop
   * starts from it as from any failed attempt on this node.
   */
  async #writePart(part: ShardPart, deadlineMs: number, prior: OtlpdbError | null): Promise<PartOutcome> {
    if (prior === null) this.stats.parts++;
    let replicas = this.#d.replicasOf(part.shard);
    let target = prior === null ? this.#firstTarget(part.shard, replicas) : this.#d.self;
    let failures = 0;
    let hops = 0;
    // Built only when a part fails: an error (with its stack) per part was a measurable share of a node's ingest CPU.
    let last: OtlpdbError | null = null;
    let breakerOpenAt = NONE; // The last peer skipped for an open breaker, for the error when nothing else failed.
    let handedOver = prior !== null; // part.bytes went to proposeHere once: they may be in the log, so later local attempts send a copy.
    let failed = prior; // the error of the attempt just made, when it was made before this loop
    for (let attempt = 0; attempt < IngestLimits.partAttemptsMax; attempt++) {
      if (failed === null) {
        const leftMs = Math.floor(deadlineMs - this.#d.nowMs());
        if (leftMs < IngestLimits.callMsMin) break;
        if (target === NONE) {
          failures++;
          if (!(await this.#backoff(failures, deadlineMs))) break;
          // The placement may have become known meanwhile (a node that just started, a shard just placed).
          replicas = this.#d.replicasOf(part.shard);
          target = this.#firstTarget(part.shard, replicas);
          continue;
        }
        const breaker = this.#breaker(target);
        if (target !== this.#d.self && !breaker.tryAcquire(this.#d.nowMs())) {
          this.stats.breakerSkips++;
          breakerOpenAt = target;
          const next = this.#nextReplica(replicas, target, attempt);
          if (next === target || next === NONE) {
            failures++;
            if (!(await this.#backoff(failures, deadlineMs))) break;
          }
          target = next;
          continue;
        }
        const timeoutMs = Math.min(leftMs, IngestLimits.partCallMsMax);
        try {
          let bytes: Uint8Array;
          if (target === this.#d.self) {
            const entry = handedOver ? new Uint8Array(part.bytes) : part.bytes; // not slice(): a Buffer's slice is a view
            handedOver = true;
            bytes = await this.#d.proposeHere(part.shard, entry, timeoutMs);
          } else {
            bytes = await this.#forward(target, part, timeoutMs);
          }
          if (target !== this.#d.self) breaker.success();
          this.#hints.set(part.shard, target);
          return { ok: true, part, result: decodeApplyResult(bytes) };
        } catch (err) {
          const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', String(err));
          const answered = target === this.#d.self || e.details['remote'] === true;
          if (target !== this.#d.self) {
            if (answered) breaker.success();
            else breaker.failure(this.#d.nowMs());
          }
          failed = e;
        }
      }
      // The attempt just made (here or, for the first, by #writeHere) failed with `failed`.
      const e: OtlpdbError = failed;
      failed = null;
      last = e;
      if (!RETRYABLE_CODES.has(e.code)) break;
      this.stats.retries++;
      if (e.code === 'ERR_NOT_LEADER') {
        this.stats.notLeader++;
        const hint = Number(e.details['leaderHint'] ?? NONE);
        if (Number.isSafeInteger(hint) && hint !== NONE && hint !== target && hops < IngestLimits.leaderHopsMax) {
          hops++;
          this.#hints.set(part.shard, hint);
          target = hint;
          continue;
        }
      }
      hops = 0;
      this.#hints.delete(part.shard);
      failures++;
      if (!(await this.#backoff(failures, deadlineMs))) break;
      target = this.#nextReplica(replicas, target, attempt);
    }
    this.stats.partsFailed++;
    last ??=
      breakerOpenAt === NONE
        ? new OtlpdbError('ERR_UNAVAILABLE', `shard ${part.shard} has no known replica`, { shard: part.shard })
        : new OtlpdbError('ERR_UNAVAILABLE', `the circuit breaker to node ${breakerOpenAt} (shard ${part.shard}) stayed open`, { shard: part.shard, peer: breakerOpenAt });
    const retryable = RETRYABLE_CODES.has(last.code) || last.code === 'ERR_INTERNAL';
    const error = retryable
      ? new OtlpdbError('ERR_UNAVAILABLE', `shard ${part.shard} did not commit part ${part.part} before the deadline: ${last.message}`, { shard: part.shard, cause: last.code })
      : last;
    return { ok: false, part, error };
  }

  #forward(peer: NodeId, part: ShardPart, timeoutMs: number): Promise<Uint8Array> {
    this.stats.forwarded++;
    return this.#d.call(peer, part.shard, part.bytes, timeoutMs);
  }

  #firstTarget(shard: GroupId, replicas: readonly NodeId[]): NodeId {
    const hint = this.#hints.get(shard);
    if (hint !== undefined) return hint;
    const local = this.#d.localLeader(shard);
    if (local !== NONE) return local;
    return replicas[0] ?? NONE;
  }

  /** nextReplica is the replica after `current` in placement order (the attempt number breaks ties when `current` is not placed). */
  #nextReplica(replicas: readonly NodeId[], current: NodeId, attempt: number): NodeId {
    if (replicas.length === 0) return NONE;
    const i = replicas.indexOf(current);
    return replicas[(i < 0 ? attempt : i + 1) % replicas.length] as NodeId;
  }

  /** backoff sleeps the jittered delay of `failures`, or returns false when that would pass the deadline. */
  async #backoff(failures: number, deadlineMs: number): Promise<boolean> {
    const ms = reconnectDelayMs(failures, this.#d.rand, { baseMs: IngestLimits.retryBaseMs, maxMs: IngestLimits.retryMaxMs, jitterPercent: IngestLimits.retryJitterPercent });
    if (this.#d.nowMs() + ms + IngestLimits.callMsMin > deadlineMs) return false;
    await this.#d.sleep(ms);
    return true;
  }

  #breaker(peer: NodeId): CircuitBreaker {
    let b = this.#breakers.get(peer);
    if (b === undefined) {
      // One breaker per node id; ids come from the placement (bounded by the cluster's nodes).
      assert(this.#breakers.size < IngestLimits.breakersMax, 'breakers within breakersMax');
      b = new CircuitBreaker({ failuresToOpen: IngestLimits.breakerFailuresToOpen, openMs: IngestLimits.breakerOpenMs });
      this.#breakers.set(peer, b);
    }
    return b;
  }
}
