/**
 * shard-fanout.ts — one query part on every shard, in parallel, over peer
 * RPC (DESIGN.md §7 step 3): the routing, failover, backoff, deadline and
 * cancellation every shard-wide read shares (trace-search.ts, trace-tags.ts).
 *
 * The shards and the replica each is asked first come from the query's
 * plan (planner.ts: shard pruning, and replica choice by consistency —
 * the leader after a ReadIndex barrier for `linearizable`, this node's own
 * replica for `stale`); shardMapOf takes the snapshot the planner reads.
 * A retryable failure (or ERR_CORRUPTION: a damaged answer) hands the shard
 * on: to the leader an ERR_NOT_LEADER names, once a round (after a leader
 * stops, its followers keep naming it until they elect another); else to
 * the next placed replica not tried this round; when every one was tried, a
 * pause (exponential backoff with jitter) and a new round. All of it within
 * the fan-out's deadline and attemptsMax calls a shard. Any other error ends
 * the shard (a refusal would be refused everywhere).
 *
 * A read that gives a batch call (ShardCall.batch) asks each peer that is
 * the first replica of two or more shards for all of them in one call
 * (metrics-read-batch.ts says why); a shard whose item failed is routed on
 * from that error as above.
 *
 * A cancelled fan-out (its client went away) rejects at once and no further
 * call or retry starts. Every shard part a fan-out starts gets its `parts`
 * signal, which aborts when the fan-out settles (answered, failed, or
 * cancelled) — so a part still running then (a call past its time, the
 * client gone) stops: a peer's through a CallCancel frame
 * (peer-transport.ts), this node's own directly; either stops at its next
 * deadline check (DESIGN.md §7.5).
 *
 * runHere is the shard side: the checks and the pinned read every shard
 * part runs under on the node that serves it.
 */
import { ErrorCodes, OtlpdbError, assert } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { MultiRaftDriver } from '../raft/driver/multi-raft.js';
import { NONE, StateRole } from '../raft/types.js';
import type { GroupId, NodeId, Rand } from '../raft/types.js';
import { ShardStateMachine } from '../storage/shard/shard-state-machine.js';
import type { ShardRead } from '../storage/shard/shard-state-machine.js';
import { reconnectDelayMs } from '../transport/backoff.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import type { Hasher } from '../partition/hash.js';
import { shardForKey } from '../partition/key-to-shard.js';
import { spanPartitionKey } from '../partition/partition-key.js';
import { replicaChoice } from './planner.js';
import type { ShardMapSnapshot, ShardTarget } from './planner.js';
import type { Consistency } from './trace-search-wire.js';

/** FanoutDeps are what a fan-out needs from its node; injected so tests can run it over fake peers. */
export interface FanoutDeps {
  readonly self: NodeId;
  readonly transport: PeerTransport;
  readonly driver: () => MultiRaftDriver | null;
  /** shardCount is the recorded shard count (0 before the placement is known). */
  readonly shardCount: () => number;
  readonly replicasOf: (shard: GroupId) => readonly NodeId[];
  /** nowMs is a monotonic clock in ms (deadlines). */
  readonly nowMs: () => number;
  /** rand jitters the backoff between shard calls; sleep waits it out. */
  readonly rand: Rand;
  readonly sleep: (ms: number) => Promise<void>;
  /** parts counts the shard parts this node serves (runHere); absent in tests that do not look. */
  readonly parts?: ShardPartCounters;
}

/** FanoutBounds are one kind of read's bounds (TraceSearchLimits for the trace reads). */
export interface FanoutBounds {
  readonly wallMsMax: number;
  readonly shardCallMs: number;
  readonly attemptsPerShardMax: number;
  readonly retryBackoffBaseMs: number;
  readonly retryBackoffMaxMs: number;
}

/** ShardCall is how one kind of read runs a shard's part: here, or on a peer. */
export interface ShardCall<A> {
  /** what names the read in messages ("search", "tag read"). */
  readonly what: string;
  /**
   * here runs the part on this node, which must serve it (else
   * ERR_NOT_LEADER); deadlineMs is on the nowMs clock; `signal` aborts when
   * the fan-out no longer wants the answer (the part should stop where it
   * checks its deadline).
   */
  here(shard: GroupId, deadlineMs: number, signal: AbortSignal): Promise<A>;
  /** remote calls a peer and decodes its answer; timeoutMs is the call's budget; `signal` is given to the call (the peer is told when it aborts). */
  remote(peer: NodeId, shard: GroupId, timeoutMs: number, signal: AbortSignal): Promise<A>;
  /**
   * batch, when given, asks a peer for several shards' parts in one call
   * (at most batchPartsMax): one answer or error per shard, in order. A
   * fan-out's first attempt on every shard whose first replica is a peer
   * goes through it; a shard whose item failed goes on as after a failed
   * single call (an item whose details say askAlone: asked alone of the same replica).
   */
  readonly batch?: (peer: NodeId, shards: readonly GroupId[], timeoutMs: number, signal: AbortSignal) => Promise<(A | OtlpdbError)[]>;
  readonly batchPartsMax?: number;
}

/** isAskAlone says whether a batch item's error asks for the part alone, from the same replica. */
function isAskAlone(e: OtlpdbError): boolean {
  return e.details['askAlone'] === true;
}

/** ShardOutcome is one shard's part: its answer, or the last error when no replica answered. */
export type ShardOutcome<A> = { readonly shard: GroupId; readonly answer: A } | { readonly shard: GroupId; readonly error: OtlpdbError };

/** FailedShard names a shard no replica answered, and the last error. */
export interface FailedShard {
  readonly shard: GroupId;
  readonly code: string;
  readonly message: string;
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ErrorCodes, code);
}

/**
 * isQueryRefusal is true of a shard's error that refuses the query itself
 * (ERR_INVALID_ARGUMENT: a bad regex or pipeline; ERR_LIMIT_EXCEEDED: a bound
 * passed). Every shard would refuse alike, so the read fails with it instead
 * of answering from the other shards with a `partial` flag.
 */
export function isQueryRefusal(err: { readonly code: string }): boolean {
  return err.code === 'ERR_INVALID_ARGUMENT' || err.code === 'ERR_LIMIT_EXCEEDED';
}

/**
 * allFailedError is the error of a read no shard answered: every shard
 * refusing the same way (a query a shard cannot run) is that refusal;
 * anything else is the cluster being unavailable.
 */
export function allFailedError(failed: readonly FailedShard[], what: string): OtlpdbError {
  const first = failed[0];
  assert(first !== undefined, 'allFailedError takes the failed shards');
  const same = failed.every((f) => f.code === first.code) && isErrorCode(first.code) && !ErrorCodes[first.code].retryable;
  const code: ErrorCode = same && isErrorCode(first.code) ? first.code : 'ERR_UNAVAILABLE';
  return new OtlpdbError(code, `no shard answered the ${what} (shard ${first.shard}: ${first.message})`, { shards: failed.length });
}

/**
 * shardMapOf is the planner's snapshot of the cluster as this node sees it
 * now: placement, shard count, its own replicas' roles. `hasher` maps a
 * trace id to its shard (only trace lookups need it).
 */
export function shardMapOf(d: FanoutDeps, hasher: Hasher | null): ShardMapSnapshot {
  const shardCount = d.shardCount();
  return {
    self: d.self,
    shardCount,
    replicasOf: (shard) => d.replicasOf(shard),
    local: (shard) => {
      const st = d.driver()?.basicStatus(shard) ?? null;
      return st === null ? null : { leader: st.role === StateRole.Leader, lead: st.lead };
    },
    shardOfTrace: (tenant, traceId) => {
      assert(hasher !== null, 'a trace-pinned plan needs the hasher');
      return shardForKey(hasher, spanPartitionKey(tenant, traceId), shardCount);
    },
  };
}

/**
 * everyShard is the targets of a read of every shard at `consistency`
 * (planner.ts replicaChoice on this node's snapshot), for callers that
 * have no plan of their own. ERR_UNAVAILABLE when there is no placement.
 */
export function everyShard(d: FanoutDeps, consistency: Consistency): ShardTarget[] {
  const map = shardMapOf(d, null);
  if (map.shardCount < 1) throw new OtlpdbError('ERR_UNAVAILABLE', 'the cluster is bootstrapping: no shard placement yet; retry');
  const out: ShardTarget[] = [];
  for (let shard = 1; shard <= map.shardCount; shard++) out.push({ shard, first: replicaChoice(map, shard, consistency), replicas: map.replicasOf(shard) });
  return out;
}

/**
 * fanOut runs `call` on every planned shard target (or, given a
 * consistency instead of a plan's targets, on every shard: everyShard), in
 * parallel, and resolves with one outcome per target in target order.
 * ERR_UNAVAILABLE when `signal` cancels it (its client went away).
 */
export async function fanOut<A>(d: FanoutDeps, bounds: FanoutBounds, plan: readonly ShardTarget[] | Consistency, call: ShardCall<A>, signal?: AbortSignal): Promise<ShardOutcome<A>[]> {
  const targets = typeof plan === 'string' ? everyShard(d, plan) : plan;
  assert(targets.length >= 1, 'a fan-out asks at least one shard');
  const cancelled = (): OtlpdbError => new OtlpdbError('ERR_UNAVAILABLE', `the ${call.what} was cancelled: its client went away`);
  const isAborted = (): boolean => signal?.aborted === true;
  if (isAborted()) throw cancelled();
  const deadline = d.nowMs() + bounds.wallMsMax;
  // parts aborts every part still running once the fan-out is settled (see the top of this file).
  const parts = new AbortController();
  let onAbort: (() => void) | null = null;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      parts.abort();
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    const outcomes = await Promise.race([Promise.all(startShards(d, bounds, targets, call, deadline, isAborted, parts.signal)), aborted]);
    if (isAborted()) throw cancelled();
    assert(outcomes.length === targets.length, 'one outcome a target');
    return outcomes;
  } finally {
    if (onAbort !== null) signal?.removeEventListener('abort', onAbort);
    parts.abort();
  }
}

/**
 * startShards starts every target's route: with call.batch, one batch call
 * per peer named first by two or more targets (split at batchPartsMax),
 * each shard then routed on from its item's error; the rest one call each.
 */
function startShards<A>(
  d: FanoutDeps,
  bounds: FanoutBounds,
  targets: readonly ShardTarget[],
  call: ShardCall<A>,
  deadline: number,
  isAborted: () => boolean,
  parts: AbortSignal,
): Promise<ShardOutcome<A>>[] {
  const out: (Promise<ShardOutcome<A>> | null)[] = targets.map(() => null);
  const batch = call.batch;
  if (batch !== undefined) {
    const partsMax = call.batchPartsMax ?? 1;
    assert(Number.isSafeInteger(partsMax) && partsMax >= 1, 'batchPartsMax >= 1');
    const byPeer = new Map<NodeId, number[]>();
    targets.forEach((t, i) => {
      if (t.first === NONE || t.first === d.self) return;
      const list = byPeer.get(t.first) ?? [];
      list.push(i);
      byPeer.set(t.first, list);
    });
    for (const [peer, all] of byPeer) {
      if (all.length < 2) continue;
      for (let from = 0; from < all.length; from += partsMax) {
        const idx = all.slice(from, from + partsMax);
        const leftMs = Math.floor(deadline - d.nowMs());
        const items: Promise<(A | OtlpdbError)[]> =
          leftMs < 1 || isAborted()
            ? Promise.reject(new OtlpdbError('ERR_TIMEOUT', `the ${call.what}'s time ran out`))
            : batch(peer, idx.map((i) => (targets[i] as ShardTarget).shard), Math.min(leftMs, bounds.shardCallMs), parts);
        idx.forEach((i, k) => {
          const t = targets[i] as ShardTarget;
          out[i] = items.then(
            (res) => {
              assert(res.length === idx.length, 'one batch item a part');
              const r = res[k] as A | OtlpdbError;
              if (!(r instanceof OtlpdbError)) return { shard: t.shard, answer: r };
              return routeShard(d, bounds, t, call, deadline, isAborted, parts, isAskAlone(r) ? null : r);
            },
            (err: unknown) => routeShard(d, bounds, t, call, deadline, isAborted, parts, err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', String(err))),
          );
        });
      }
    }
  }
  return targets.map((t, i) => out[i] ?? routeShard(d, bounds, t, call, deadline, isAborted, parts, null));
}

/**
 * routeShard asks a shard's replicas in turn until one answers (see the top
 * of this file). `prior` is the error its first replica already answered
 * (a batch item): the route goes on from it as after that failed call.
 */
async function routeShard<A>(
  d: FanoutDeps,
  bounds: FanoutBounds,
  plan: ShardTarget,
  call: ShardCall<A>,
  deadline: number,
  isAborted: () => boolean,
  parts: AbortSignal,
  prior: OtlpdbError | null,
): Promise<ShardOutcome<A>> {
  const backoff = { baseMs: bounds.retryBackoffBaseMs, maxMs: bounds.retryBackoffMaxMs, jitterPercent: 50 };
  const { shard, replicas } = plan;
  let target = plan.first;
  // Built only when needed: an Error captures a stack, and every shard of every read would pay for one.
  let last: OtlpdbError | null = null;
  const lastError = (): OtlpdbError => last ?? new OtlpdbError('ERR_UNAVAILABLE', `shard ${shard} has no known replica`, { shard });
  const tried = new Set<NodeId>();
  let failures = 0;
  /** failedOn moves `target` on after its call failed with `e`; false ends the route. */
  const failedOn = async (e: OtlpdbError): Promise<boolean> => {
    last = e;
    if (!e.retryable && e.code !== 'ERR_CORRUPTION') return false;
    const hint = Number(e.details['leaderHint'] ?? NONE);
    // A hint is followed once a round: after a leader stops, its followers name it until they elect another.
    if (e.code === 'ERR_NOT_LEADER' && hint !== NONE && hint !== target && !tried.has(hint)) {
      target = hint;
      return true;
    }
    // The next placed replica not tried this round; when every one was, a pause and a new round.
    const untried = replicas.find((r) => !tried.has(r));
    const i = replicas.indexOf(target);
    target = untried ?? replicas[(i + 1) % Math.max(1, replicas.length)] ?? NONE;
    if (untried === undefined) {
      failures++;
      const pauseMs = Math.min(reconnectDelayMs(failures, d.rand, backoff), Math.floor(deadline - d.nowMs()));
      if (pauseMs < 1) return false;
      await d.sleep(pauseMs);
      tried.clear();
    }
    return true;
  };
  let attempt = 0;
  if (prior !== null) {
    assert(target !== NONE, 'a batch item came from a named replica');
    tried.add(target);
    attempt++;
    if (!(await failedOn(prior))) return { shard, error: lastError() };
  }
  for (; attempt < bounds.attemptsPerShardMax; attempt++) {
    if (target === NONE) target = replicas[attempt % Math.max(1, replicas.length)] ?? NONE;
    if (target === NONE) break;
    const leftMs = Math.floor(deadline - d.nowMs());
    if (leftMs < 1 || isAborted()) {
      last = new OtlpdbError('ERR_TIMEOUT', `shard ${shard}: the ${call.what}'s time ran out; last error: ${lastError().message}`, { shard });
      break;
    }
    tried.add(target);
    try {
      const budgetMs = Math.min(leftMs, bounds.shardCallMs);
      const answer = target === d.self ? await call.here(shard, d.nowMs() + budgetMs, parts) : await call.remote(target, shard, budgetMs, parts);
      return { shard, answer };
    } catch (err) {
      if (!(await failedOn(err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', String(err))))) break;
    }
  }
  return { shard, error: lastError() };
}

/**
 * runHere runs a shard part on this node: as the shard's leader after a
 * ReadIndex barrier bounded by `deadlineMs` (linearizable), or on whatever
 * replica it hosts (stale), over a pinned read of the shard's stores,
 * released afterwards.
 * ERR_NOT_LEADER (with a leader hint) when this node cannot serve it.
 * `signal` is the part's cancel (its caller gave up: CallContext.signal on
 * a peer, the fan-out's parts signal here); `fn` checks it where it checks
 * its deadline. A part that settles after it fired is counted in
 * `counters` (ShardPartCounters.cancelled) and fails with ERR_UNAVAILABLE
 * (details.cancelled): its answer may be cut short, and no one reads it.
 */
export async function runHere<T>(
  d: Pick<FanoutDeps, 'self' | 'driver' | 'nowMs' | 'parts'>,
  group: GroupId,
  consistency: Consistency,
  deadlineMs: number,
  fn: (read: ShardRead) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const gone = (): boolean => signal?.aborted === true;
  if (gone()) throw partCancelled(group);
  const counters = d.parts;
  if (counters !== undefined) counters.running++;
  try {
    const out = await runHereUncounted(d, group, consistency, deadlineMs, fn);
    if (gone()) throw partCancelled(group);
    return out;
  } catch (err) {
    if (!gone()) throw err;
    if (counters !== undefined) counters.cancelled++;
    throw partCancelled(group);
  } finally {
    if (counters !== undefined) counters.running--;
    assert(counters === undefined || counters.running >= 0, 'running parts >= 0');
  }
}

function partCancelled(group: GroupId): OtlpdbError {
  return new OtlpdbError('ERR_UNAVAILABLE', `shard ${group}: the part was cancelled by its caller`, { group, cancelled: true });
}

/**
 * ShardPartCounters count one node's shard parts (every read's, served for
 * a peer or for this node): those running now, and those that stopped
 * because their caller cancelled them (/metrics: otlpdb_shard_parts_*).
 * Invariant: running >= 0; cancelled only grows.
 */
export class ShardPartCounters {
  running = 0;
  cancelled = 0;
}

/**
 * cancellableCheck folds a part's cancel into a deadline check: true once
 * `expired()` says so or `signal` aborted, so a part stops at its next check
 * either way.
 */
export function cancellableCheck(expired: () => boolean, signal: AbortSignal | undefined): () => boolean {
  if (signal === undefined) return expired;
  return () => signal.aborted || expired();
}

async function runHereUncounted<T>(
  d: Pick<FanoutDeps, 'self' | 'driver' | 'nowMs'>,
  group: GroupId,
  consistency: Consistency,
  deadlineMs: number,
  fn: (read: ShardRead) => Promise<T>,
): Promise<T> {
  const driver = d.driver();
  const st = driver?.basicStatus(group) ?? null;
  if (driver === null || st === null) throw new OtlpdbError('ERR_NOT_LEADER', `node ${d.self} hosts no replica of shard ${group}`, { group, leaderHint: NONE });
  if (consistency === 'linearizable') {
    if (st.role !== StateRole.Leader) throw new OtlpdbError('ERR_NOT_LEADER', `node ${d.self} does not lead shard ${group}`, { group, leaderHint: st.lead });
    // The barrier gets what is left of the part's budget, not the driver's default: a stalled barrier must not outlive the caller.
    const leftMs = Math.floor(deadlineMs - d.nowMs());
    if (leftMs < 1) throw new OtlpdbError('ERR_TIMEOUT', `shard ${group}: no time left for the read barrier`, { group });
    await driver.read(group, leftMs);
  }
  const sm = driver.stateMachine(group);
  assert(sm instanceof ShardStateMachine, 'a shard group runs the shard state machine');
  const read = sm.acquireRead();
  try {
    return await fn(read);
  } finally {
    await read.release();
  }
}
