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
 * Routing: this node when it leads the shard; else the leader it knows,
 * else the shard's placed replicas in order, following ERR_NOT_LEADER hints
 * (at most TraceLookupLimits.attemptsMax calls).
 */
import { Packr } from 'msgpackr';
import { OtlpdbError, assert } from './errors.js';
import { TraceLookupLimits } from './limits.js';
import type { Hasher } from './partition/hash.js';
import { shardForKey } from './partition/key-to-shard.js';
import { spanPartitionKey } from './partition/partition-key.js';
import type { MultiRaftDriver } from './raft/driver/multi-raft.js';
import { NONE, StateRole } from './raft/types.js';
import type { GroupId, NodeId, Rand } from './raft/types.js';
import { reconnectDelayMs } from './transport/backoff.js';
import { encodeParts } from './otlp/shard-parts.js';
import type { SpanRow } from './storage/rows.js';
import { TRACE_ID_BYTES } from './storage/rows.js';
import { decodeShardEntry } from './storage/shard-entry.js';
import { ShardStateMachine } from './storage/shard/shard-state-machine.js';
import { TraceStore } from './storage/traces/trace-store.js';
import type { PeerTransport } from './transport/peer-transport.js';

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

/** TraceLookupDeps are what the lookup needs from its node. */
export interface TraceLookupDeps {
  readonly self: NodeId;
  readonly hasher: Hasher;
  readonly transport: PeerTransport;
  readonly driver: () => MultiRaftDriver | null;
  /** shardCount is the recorded shard count (0 before the placement is known). */
  readonly shardCount: () => number;
  readonly replicasOf: (shard: GroupId) => readonly NodeId[];
  /** nowMs is a monotonic clock in ms; rand jitters the backoff between calls and sleep waits it out. */
  readonly nowMs: () => number;
  readonly rand: Rand;
  readonly sleep: (ms: number) => Promise<void>;
}

const BACKOFF = { baseMs: TraceLookupLimits.retryBackoffBaseMs, maxMs: TraceLookupLimits.retryBackoffMaxMs, jitterPercent: 50 } as const;

/** TraceLookup finds a trace by id; see the top of this file. */
export class TraceLookup {
  readonly #d: TraceLookupDeps;

  constructor(deps: TraceLookupDeps) {
    this.#d = deps;
  }

  /** register installs shard.traceById on the node's transport. */
  register(): void {
    this.#d.transport.handle(SHARD_TRACE_BY_ID, async (payload, ctx) => {
      const [group, tenant, traceId] = decodeTraceRequest(payload);
      // ctx.deadlineMs is the caller's budget for this call, in ms from its arrival.
      return encodeTraceAnswer(tenant, await this.readHere(group, tenant, traceId, Math.min(ctx.deadlineMs, TraceLookupLimits.callMs)));
    });
  }

  /** traceById looks a trace up on its shard's leader; ERR_UNAVAILABLE when no leader answers in time. */
  async traceById(tenant: string, traceId: Uint8Array): Promise<TraceAnswer> {
    const shardCount = this.#d.shardCount();
    if (shardCount < 1) throw new OtlpdbError('ERR_UNAVAILABLE', 'the cluster is bootstrapping: no shard placement yet; retry');
    const shard = shardForKey(this.#d.hasher, spanPartitionKey(tenant, traceId), shardCount);
    const replicas = this.#d.replicasOf(shard);
    const local = this.#d.driver()?.status(shard) ?? null;
    let target: NodeId = local?.role === StateRole.Leader ? this.#d.self : local !== null && local.lead !== NONE ? local.lead : (replicas[0] ?? NONE);
    let last: OtlpdbError | null = null;
    const deadline = this.#d.nowMs() + TraceLookupLimits.lookupMsMax;
    let failures = 0;
    const tried = new Set<NodeId>();
    for (let attempt = 0; attempt < TraceLookupLimits.attemptsMax; attempt++) {
      if (target === NONE) target = replicas[attempt % Math.max(1, replicas.length)] ?? NONE;
      const leftMs = Math.floor(deadline - this.#d.nowMs());
      if (target === NONE || leftMs < 1) break;
      tried.add(target);
      try {
        if (target === this.#d.self) return { ...(await this.readHere(shard, tenant, traceId, Math.min(leftMs, TraceLookupLimits.callMs))), shard };
        const bytes = await this.#d.transport.call(target, SHARD_TRACE_BY_ID, packr.pack([shard, tenant, traceId]), Math.min(leftMs, TraceLookupLimits.callMs));
        return { ...decodeTraceAnswer(bytes), shard };
      } catch (err) {
        if (!(err instanceof OtlpdbError) || !err.retryable) throw err;
        last = err;
        const hint = Number(err.details['leaderHint'] ?? NONE);
        // A hint is followed once a round: after a leader dies its followers keep naming it until they elect another.
        if (err.code === 'ERR_NOT_LEADER' && hint !== NONE && hint !== target && !tried.has(hint)) {
          target = hint;
          continue;
        }
        // The next replica not tried this round; when every one was, a pause (an election, a replica down) and a new round.
        const untried = replicas.find((r) => !tried.has(r));
        const i = replicas.indexOf(target);
        target = untried ?? replicas[(i + 1) % Math.max(1, replicas.length)] ?? NONE;
        if (untried === undefined) {
          failures++;
          const pauseMs = Math.min(reconnectDelayMs(failures, this.#d.rand, BACKOFF), Math.floor(deadline - this.#d.nowMs()));
          if (pauseMs < 1) break;
          await this.#d.sleep(pauseMs);
          tried.clear();
        }
      }
    }
    throw new OtlpdbError('ERR_UNAVAILABLE', `no leader of shard ${shard} answered the trace lookup${last === null ? '' : `: ${last.message}`}`, { shard });
  }

  /** readHere reads a trace on this node, which must lead the shard, after a ReadIndex barrier of at most `timeoutMs`. */
  async readHere(group: GroupId, tenant: string, traceId: Uint8Array, timeoutMs: number): Promise<{ spans: SpanRow[]; truncated: boolean }> {
    assert(traceId.length === TRACE_ID_BYTES, 'readHere takes a 16-byte trace id');
    const driver = this.#d.driver();
    const st = driver?.status(group) ?? null;
    if (driver === null || st === null) throw new OtlpdbError('ERR_NOT_LEADER', `node ${this.#d.self} hosts no replica of shard ${group}`, { group, leaderHint: NONE });
    if (st.role !== StateRole.Leader) throw new OtlpdbError('ERR_NOT_LEADER', `node ${this.#d.self} does not lead shard ${group}`, { group, leaderHint: st.lead });
    await driver.read(group, Math.max(1, timeoutMs));
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

/** encodeTraceAnswer packs spans as shard entries, cut at TraceLookupLimits.answerBytesMax. */
function encodeTraceAnswer(tenant: string, a: { spans: SpanRow[]; truncated: boolean }): Uint8Array {
  const entries: Uint8Array[] = [];
  let truncated = a.truncated;
  if (a.spans.length > 0) {
    let bytes = 0;
    for (const p of encodeParts(tenant, NO_KEY, Date.now(), new Map([[1, { spans: a.spans, points: [], logs: [] }]]))) {
      if (bytes + p.bytes.length > TraceLookupLimits.answerBytesMax) {
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
function decodeTraceAnswer(bytes: Uint8Array): { spans: SpanRow[]; truncated: boolean } {
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

