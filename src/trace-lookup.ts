/**
 * trace-lookup.ts — trace by id across the cluster, for Tempo's
 * `GET /api/traces/{id}` (and the ingest tests that read back what they
 * wrote). A trace lives in one shard (DESIGN.md §4), so the lookup asks one
 * shard: its leader, after a ReadIndex barrier (promise 2: the read sees
 * every write acknowledged before it started), through the trace store's
 * exact trace-id index (no time hint needed).
 *
 * Peer method:
 *   shard.traceById  [group, tenant, traceId] → [truncated, [shard entry...]]
 * The spans travel as shard entries (storage/shard-entry.ts: a checked row
 * codec, each entry at most StorageLimits.entryBytesMax); an answer is cut
 * at TraceLookupLimits.answerBytesMax with `truncated` set.
 *
 * Routing: the query planner's (query/planner.ts: the one shard, its
 * leader first) and the shared fan-out's (query/shard-fanout.ts: this node
 * when it leads the shard, else the leader it knows, else the placed
 * replicas in order, following ERR_NOT_LEADER hints, backing off between
 * rounds; at most TraceLookupLimits.attemptsMax calls within lookupMsMax).
 *
 * Replica reads: a node that follows the shard's leader reads its own
 * replica instead (readReplica): the ReadIndex barrier is still the
 * leader's — the driver forwards it, the leader confirms its commit index
 * with a quorum's heartbeats and answers it — and the read waits until this
 * replica has applied that index (Raft thesis §6.4), so the answer holds
 * every write acknowledged before the lookup began (promise 2), as a read
 * on the leader does. It saves the peer call that carried the spans back
 * (encoded as shard entries, decoded here). A replica read that fails
 * retryably or outlasts TraceLookupLimits.replicaReadMs falls back to the
 * route above.
 */
import { QueryCounters } from './query/query-counters.js';
import type { QueryCounts } from './query/query-counters.js';
import { Packr } from 'msgpackr';
import { OtlpdbError, assert } from './errors.js';
import { TraceLookupLimits } from './limits.js';
import type { Hasher } from './partition/hash.js';
import { validateIr } from './query/ir.js';
import { planQuery } from './query/planner.js';
import { fanOut, shardMapOf } from './query/shard-fanout.js';
import type { FanoutBounds, FanoutDeps } from './query/shard-fanout.js';
import { traceByIdIr } from './query/trace-ir.js';
import type { MultiRaftDriver } from './raft/driver/multi-raft.js';
import { NONE, StateRole } from './raft/types.js';
import type { GroupId } from './raft/types.js';
import { encodeParts } from './otlp/shard-parts.js';
import type { SpanRow } from './storage/rows.js';
import { TRACE_ID_BYTES } from './storage/rows.js';
import { decodeShardEntry } from './storage/shard-entry.js';
import { ShardStateMachine } from './storage/shard/shard-state-machine.js';
import { TraceStore } from './storage/traces/trace-store.js';

/** SHARD_TRACE_BY_ID is the peer method of a trace lookup on a shard leader. */
export const SHARD_TRACE_BY_ID = 'shard.traceById';

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
/** NO_KEY is the idempotency key of the entries that only carry an answer (they are never proposed). */
const NO_KEY = '0000000000000000';

/** TraceAnswer is a trace's spans (latest version of each) and whether a bound cut it. */
export interface TraceAnswer {
  readonly spans: SpanRow[];
  readonly truncated: boolean;
  /** shard is the shard asked. */
  readonly shard: GroupId;
}

/** TraceLookupDeps are what the lookup needs from its node: a fan-out's deps and the hasher that maps a trace id to its shard. */
export interface TraceLookupDeps extends FanoutDeps {
  readonly hasher: Hasher;
}

/** TraceLookupOptions choose how a node looks traces up; the answer is the same either way. */
export interface TraceLookupOptions {
  /** replicaReads: a follower of the trace's shard reads its own replica after the leader's ReadIndex (see the top of this file); false: always the leader. */
  readonly replicaReads: boolean;
  /**
   * plantReplicaReadWithoutBarrier is a planted bug for tests only (node.ts
   * TEST_PLANTS `trace-replica-read-without-readindex`): a follower reads
   * its replica without the barrier, so a lookup right after an
   * acknowledged write can miss it on a follower that has not applied it.
   */
  readonly plantReplicaReadWithoutBarrier?: boolean;
}

/** BOUNDS are a lookup's fan-out bounds: one shard, its calls, retries and backoff within lookupMsMax. */
const BOUNDS: FanoutBounds = {
  wallMsMax: TraceLookupLimits.lookupMsMax,
  shardCallMs: TraceLookupLimits.callMs,
  attemptsPerShardMax: TraceLookupLimits.attemptsMax,
  retryBackoffBaseMs: TraceLookupLimits.retryBackoffBaseMs,
  retryBackoffMaxMs: TraceLookupLimits.retryBackoffMaxMs,
};

/** TraceLookup finds a trace by id; see the top of this file. */
export class TraceLookup {
  readonly #d: TraceLookupDeps;
  readonly #o: TraceLookupOptions;
  readonly #counters = new QueryCounters();
  #replicaReads = 0;

  constructor(deps: TraceLookupDeps, options: TraceLookupOptions = { replicaReads: true }) {
    this.#d = deps;
    this.#o = options;
  }

  /** replicaReads counts the lookups this node answered from its own follower replica (readReplica) since start. */
  get replicaReads(): number {
    return this.#replicaReads;
  }

  /** register installs shard.traceById on the node's transport. */
  register(): void {
    this.#d.transport.handle(SHARD_TRACE_BY_ID, async (payload, ctx) => {
      const [group, tenant, traceId] = decodeTraceRequest(payload);
      // ctx.deadlineMs is the caller's budget for this call, in ms from its arrival.
      return encodeTraceAnswer(tenant, await this.readHere(group, tenant, traceId, Math.min(ctx.deadlineMs, TraceLookupLimits.callMs)));
    });
  }

  /**
   * traceById looks a trace up on its shard's leader: the query is a
   * QueryIr (query/trace-ir.ts traceByIdIr), validated and planned
   * (query/planner.ts prunes to the one shard the trace id hashes to, and
   * starts at its leader), and run on the shared fan-out with
   * TraceLookupLimits' bounds. ERR_UNAVAILABLE when no leader answers in
   * time or `signal` cancels it (its client went away); a refusal (any
   * error not worth a retry elsewhere) as it is.
   */
  async traceById(tenant: string, traceId: Uint8Array, signal?: AbortSignal): Promise<TraceAnswer> {
    return this.#counters.track(signal, () => this.#lookup(tenant, traceId, signal));
  }

  /** counters are the lookups in flight and those cancelled by their client since start. */
  counters(): QueryCounts {
    return this.#counters.counts();
  }

  async #lookup(tenant: string, traceId: Uint8Array, signal: AbortSignal | undefined): Promise<TraceAnswer> {
    const plan = planQuery(validateIr(traceByIdIr(tenant, traceId)), shardMapOf(this.#d, this.#d.hasher));
    assert(plan.targets.length === 1 && plan.shardPart.kind === 'traceById', 'a trace lookup asks one shard');
    const target = plan.targets[0];
    assert(target !== undefined, 'one target');
    if (this.#o.replicaReads) {
      const here = await this.#replicaFirst(target.shard, tenant, traceId);
      if (here !== null) return here;
    }
    const [outcome] = await fanOut(this.#d, BOUNDS, plan.targets, {
      what: 'trace lookup',
      here: (shard, deadlineMs) => this.readHere(shard, tenant, traceId, Math.max(1, Math.floor(deadlineMs - this.#d.nowMs()))),
      remote: async (peer, shard, timeoutMs, parts) => decodeTraceAnswer(await this.#d.transport.call(peer, SHARD_TRACE_BY_ID, packr.pack([shard, tenant, traceId]), timeoutMs, parts)),
    }, signal);
    assert(outcome !== undefined, 'one outcome');
    if ('answer' in outcome) return { ...outcome.answer, shard: outcome.shard };
    const e = outcome.error;
    if (!e.retryable && e.code !== 'ERR_CORRUPTION' && e.code !== 'ERR_TIMEOUT') throw e;
    throw new OtlpdbError('ERR_UNAVAILABLE', `no leader of shard ${outcome.shard} answered the trace lookup: ${e.message}`, { shard: outcome.shard });
  }

  /** replicaFirst is readReplica's answer, or null when this node is no follower with a known leader or the replica read failed retryably (the caller routes to the leader). */
  async #replicaFirst(group: GroupId, tenant: string, traceId: Uint8Array): Promise<TraceAnswer | null> {
    const st = this.#d.driver()?.basicStatus(group) ?? null;
    if (st === null || st.role !== StateRole.Follower || st.lead === NONE) return null;
    try {
      const r = await this.readReplica(group, tenant, traceId, TraceLookupLimits.replicaReadMs);
      this.#replicaReads++;
      return { ...r, shard: group };
    } catch (err) {
      if (err instanceof OtlpdbError && (err.retryable || err.code === 'ERR_TIMEOUT')) return null;
      throw err;
    }
  }

  /**
   * readReplica reads a trace on this node's own replica of `group`, which
   * must follow a known leader: the leader's ReadIndex barrier (forwarded by
   * the driver) of at most `timeoutMs`, then this replica's store once it
   * has applied the barrier's index. ERR_NOT_LEADER when this node is no
   * such follower; the barrier's errors (ERR_NOT_LEADER when the leader
   * changed before it confirmed, ERR_TIMEOUT) as they are.
   */
  async readReplica(group: GroupId, tenant: string, traceId: Uint8Array, timeoutMs: number): Promise<{ spans: SpanRow[]; truncated: boolean }> {
    assert(traceId.length === TRACE_ID_BYTES, 'readReplica takes a 16-byte trace id');
    const driver = this.#d.driver();
    const st = driver?.basicStatus(group) ?? null;
    if (driver === null || st === null || st.role !== StateRole.Follower || st.lead === NONE) {
      throw new OtlpdbError('ERR_NOT_LEADER', `node ${this.#d.self} does not follow a known leader of shard ${group}`, { group, leaderHint: st?.lead ?? NONE });
    }
    if (this.#o.plantReplicaReadWithoutBarrier !== true) await driver.read(group, Math.max(1, timeoutMs));
    return this.#readStore(driver, group, tenant, traceId);
  }

  /** readHere reads a trace on this node, which must lead the shard, after a ReadIndex barrier of at most `timeoutMs`. */
  async readHere(group: GroupId, tenant: string, traceId: Uint8Array, timeoutMs: number): Promise<{ spans: SpanRow[]; truncated: boolean }> {
    assert(traceId.length === TRACE_ID_BYTES, 'readHere takes a 16-byte trace id');
    const driver = this.#d.driver();
    const st = driver?.basicStatus(group) ?? null;
    if (driver === null || st === null) throw new OtlpdbError('ERR_NOT_LEADER', `node ${this.#d.self} hosts no replica of shard ${group}`, { group, leaderHint: NONE });
    if (st.role !== StateRole.Leader) throw new OtlpdbError('ERR_NOT_LEADER', `node ${this.#d.self} does not lead shard ${group}`, { group, leaderHint: st.lead });
    await driver.read(group, Math.max(1, timeoutMs));
    return this.#readStore(driver, group, tenant, traceId);
  }

  /** readStore reads a trace from this node's replica of `group` as it has applied it, over a pinned read. */
  async #readStore(driver: MultiRaftDriver, group: GroupId, tenant: string, traceId: Uint8Array): Promise<{ spans: SpanRow[]; truncated: boolean }> {
    const sm = driver.stateMachine(group);
    assert(sm instanceof ShardStateMachine, 'a shard group runs the shard state machine');
    const read = sm.acquireRead();
    try {
      const store = read.stores.traces;
      assert(store instanceof TraceStore, 'the traces store is a TraceStore');
      const r = await store.traceById(read.kv, tenant, traceId);
      return { spans: r.spans, truncated: r.truncated };
    } finally {
      await read.release();
    }
  }
}

/** decodeTraceRequest checks a shard.traceById payload. */
function decodeTraceRequest(payload: Uint8Array): [GroupId, string, Uint8Array] {
  let v: unknown;
  try {
    v = packr.unpack(payload);
  } catch {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'shard.traceById payload is not msgpack');
  }
  if (!Array.isArray(v) || v.length !== 3 || !Number.isSafeInteger(v[0]) || typeof v[1] !== 'string' || !(v[2] instanceof Uint8Array) || v[2].length !== TRACE_ID_BYTES) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'shard.traceById payload is not [group, tenant, 16-byte trace id]');
  }
  return [v[0] as GroupId, v[1], v[2]];
}

/** encodeTraceAnswer packs spans as shard entries, cut at `bytesMax` (TraceLookupLimits.answerBytesMax) with `truncated` set. */
export function encodeTraceAnswer(tenant: string, a: { spans: SpanRow[]; truncated: boolean }, bytesMax: number = TraceLookupLimits.answerBytesMax): Uint8Array {
  const entries: Uint8Array[] = [];
  let truncated = a.truncated;
  if (a.spans.length > 0) {
    let bytes = 0;
    for (const p of encodeParts(tenant, NO_KEY, Date.now(), new Map([[1, { spans: a.spans, points: [], logs: [] }]]))) {
      if (bytes + p.bytes.length > bytesMax) {
        truncated = true;
        break;
      }
      bytes += p.bytes.length;
      entries.push(p.bytes);
    }
  }
  return packr.pack([truncated, entries]);
}

/** decodeTraceAnswer checks a peer's answer (a malformed one is ERR_INVALID_ARGUMENT; a bad entry ERR_CORRUPTION). */
export function decodeTraceAnswer(bytes: Uint8Array): { spans: SpanRow[]; truncated: boolean } {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'shard.traceById answer is not msgpack');
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'boolean' || !Array.isArray(v[1]) || !v[1].every((e) => e instanceof Uint8Array)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'shard.traceById answer is not [truncated, entries]');
  }
  const spans: SpanRow[] = [];
  for (const e of v[1] as Uint8Array[]) spans.push(...decodeShardEntry(e).spans);
  return { spans, truncated: v[0] };
}

