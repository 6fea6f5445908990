/**
 * shard-service.ts — the node-level side of shard storage: the state
 * machine each shard replica runs, the peer methods shard storage needs
 * (snapshot pages, flush, stats), the retention cutoffs from the meta
 * group's tenant settings, and the cluster-wide flush and stats behind
 * `POST /api/v1/admin/flush` and `GET /api/v1/stats`.
 *
 * Peer methods (unary calls over the peer transport; payloads msgpack):
 *   shard.snapshotPage  SnapshotPageRequest → SnapshotPage (shard-records.ts)
 *   node.flush          {} → {groups}: flushes every durable group of the node
 *   node.shardStats     {} → ShardStatsReport[]: one per hosted shard replica
 *   shard.propose       [group, shard entry] → encoded ShardApplyResult, once
 *                       the entry is applied on this node, its leader
 *
 * Invariants: every call has a deadline (ShardLimits / ShardServiceLimits);
 * a peer's answer is decoded with checks (ERR_INVALID_ARGUMENT), never
 * trusted; stats count each shard once (the report of its leader with the
 * highest term, else of the replica with the highest durable index).
 */
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { Packr } from 'msgpackr';
import { TenantDefaults } from './control/tenant.js';
import type { MetaStateMachine } from './control/index.js';
import { OtlpdbError, asOtlpdbError, assert } from './errors.js';
import { IngestLimits, ShardLimits, ShardServiceLimits } from './limits.js';
import { SHARD_PROPOSE } from './otlp/shard-writer.js';
import type { MultiRaftDriver } from './raft/driver/multi-raft.js';
import type { GroupId, NodeId } from './raft/types.js';
import { NONE, StateRole } from './raft/types.js';
import { FlushPacer } from './storage/shard/flush-pacer.js';
import { nodeHeadBudget } from './storage/shard/head-budget.js';
import { ShardInflight } from './shard-inflight.js';
import { ShardStateMachine } from './storage/shard/shard-state-machine.js';
import { restampLeaderTimeInPlace } from './storage/shard-entry.js';
import type { ShardStores } from './storage/shard/shard-state-machine.js';
import { decodeSnapshotPage, decodeSnapshotPageRequest, encodeSnapshotPage, encodeSnapshotPageRequest } from './storage/shard/shard-records.js';
import type { RetentionCutoffs, Signal, SignalStats } from './storage/shard/signal-store.js';
import type { PeerTransport } from './transport/peer-transport.js';

/** SHARD_SNAPSHOT_PAGE, NODE_FLUSH and NODE_SHARD_STATS are the peer methods of shard storage. */
export const SHARD_SNAPSHOT_PAGE = 'shard.snapshotPage';
export const NODE_FLUSH = 'node.flush';
export const NODE_SHARD_STATS = 'node.shardStats';

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
const SIGNALS: readonly Signal[] = ['traces', 'metrics', 'logs'];
const NS_PER_MS = 1_000_000n;

/** ShardStatsReport is one replica's durable counts, with what is needed to pick one replica per shard. */
export interface ShardStatsReport {
  readonly node: NodeId;
  readonly group: GroupId;
  readonly isLeader: boolean;
  readonly term: number;
  readonly durableIndex: number;
  readonly stats: Readonly<Record<Signal, SignalStats>>;
}

/** StatsDocument is the body of GET /api/v1/stats (the shape the shard storage issue names, plus coverage). */
export interface StatsDocument {
  readonly traces: { readonly spans: number; readonly traces: number; readonly bytes: number };
  readonly metrics: { readonly series: number; readonly samples: number; readonly bytes: number };
  readonly logs: { readonly records: number; readonly bytes: number };
  /** shards is how many shards were counted; shardsMissing lists shards no reachable replica reported. */
  readonly shards: number;
  readonly shardsMissing: readonly number[];
}

/** FlushDocument is the body of POST /api/v1/admin/flush. */
export interface FlushDocument {
  readonly nodes: readonly { readonly node: NodeId; readonly groups: number; readonly error?: string }[];
}

/** RetentionBySignal is each signal's cutoffs. */
export type RetentionBySignal = Readonly<Record<Signal, RetentionCutoffs>>;

/**
 * retentionCutoffs turns the meta group's tenant settings into cutoffs at
 * `nowMs`: data older than now − retention may go. Tenants nobody configured
 * get TenantDefaults.
 */
export function retentionCutoffs(meta: MetaStateMachine | null, nowMs: number): RetentionBySignal {
  assert(Number.isSafeInteger(nowMs) && nowMs >= 0, 'nowMs is a wall-clock time');
  const now = BigInt(nowMs) * NS_PER_MS;
  const cut = (ms: number): bigint | null => {
    const c = now - BigInt(ms) * NS_PER_MS;
    return c > 0n ? c : null;
  };
  const out = {} as Record<Signal, RetentionCutoffs>;
  for (const s of SIGNALS) {
    const byTenant = new Map<string, bigint | null>();
    for (const id of meta?.tenantIds() ?? []) byTenant.set(id, cut((meta as MetaStateMachine).tenant(id).retentionMs[s]));
    out[s] = { defaultBeforeNs: cut(TenantDefaults.retentionMs[s]), byTenant };
  }
  return out;
}

/** ShardServiceDeps are what the service needs from its node. */
export interface ShardServiceDeps {
  readonly self: NodeId;
  readonly dataDir: string;
  readonly transport: PeerTransport;
  readonly makeStores: () => ShardStores;
  /** meta is the node's meta state machine (local reads, no barrier), or null before the driver opened. */
  readonly meta: () => MetaStateMachine | null;
  /** driver is the node's driver, or null while it opens. */
  readonly driver: () => MultiRaftDriver | null;
  /** members lists the node ids to ask for cluster-wide answers. */
  readonly members: () => readonly NodeId[];
  /** wallMs is the node's wall clock (Node.clock: Date.now() plus the admin offset), for leader stamps and retention cutoffs. */
  readonly wallMs: () => number;
}

/** ShardService owns the node's shard-storage glue; see the top of this file. */
export class ShardService {
  readonly #d: ShardServiceDeps;
  /** inflight is the entry bytes this node proposed per shard and has not seen applied (bounded by IngestLimits.shardInflightBytesMax each). */
  readonly #inflight = new ShardInflight(IngestLimits.shardInflightBytesMax);
  /** flushPacer is shared by every replica of the node: one flush step (a block) per event-loop turn (flush-pacer.ts). */
  readonly #flushPacer = new FlushPacer();
  /** headBudget bounds the heads of every replica of the node together (head-budget.ts), sized from the V8 heap limit. */
  readonly #headBudget = nodeHeadBudget(getHeapStatistics().heap_size_limit);

  constructor(deps: ShardServiceDeps) {
    this.#d = deps;
  }

  /** makeStateMachine is the driver's factory for shard group `group`. */
  makeStateMachine(group: GroupId): ShardStateMachine {
    const transport = this.#d.transport;
    return new ShardStateMachine({
      group,
      dir: join(this.#d.dataDir, 'shards', String(group)),
      makeStores: this.#d.makeStores,
      nowMs: () => this.#d.wallMs(),
      flushPacer: this.#flushPacer,
      headBudget: this.#headBudget,
      retention: () => retentionCutoffs(this.#d.meta(), this.#d.wallMs()),
      peer: {
        fetchPage: async (peer, request) =>
          decodeSnapshotPage(await transport.call(peer, SHARD_SNAPSHOT_PAGE, encodeSnapshotPageRequest(request), ShardLimits.snapshotPageDeadlineMs)),
      },
    });
  }

  /** register installs the peer methods on the node's transport. */
  register(): void {
    const t = this.#d.transport;
    t.handle(SHARD_SNAPSHOT_PAGE, async (payload) => {
      const req = decodeSnapshotPageRequest(payload);
      const sm = this.#shard(req.group);
      return encodeSnapshotPage(await sm.serveSnapshotPage(req));
    });
    t.handle(NODE_FLUSH, async () => packr.pack({ groups: (await this.flushLocal()).groups }));
    t.handle(NODE_SHARD_STATS, () => packr.pack(this.localStats()));
    t.handle(SHARD_PROPOSE, (payload, ctx) => {
      const [group, entry] = decodeProposeRequest(payload);
      // The caller's deadline covers the round trip; the proposal gets what is left of it, less a margin for the answer.
      return this.proposeHere(group, entry, Math.max(1, Math.min(ctx.deadlineMs - IngestLimits.callMsMin, IngestLimits.partCallMsMax)));
    });
  }

  /**
   * proposeHere proposes a shard entry on this node, which must lead the
   * shard (else ERR_NOT_LEADER with details.leaderHint, NONE when this node
   * hosts no replica), and resolves with the encoded ShardApplyResult once
   * it is applied here. The entry gets this leader's clock, written into
   * `entry` itself (restampLeaderTimeInPlace): the caller hands the bytes
   * over, and they may end up in the Raft log, so a caller that proposes
   * the same bytes again (a retry) passes a copy (ShardWriter does; the
   * shard.propose handler's entry is its own request's bytes). A shard whose head is full, or with more than
   * IngestLimits.shardInflightBytesMax proposed and not applied, refuses
   * with a retryable ERR_UNAVAILABLE before proposing.
   */
  async proposeHere(group: GroupId, entry: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const driver = this.#d.driver();
    const refused = this.#refuseHere(driver, group, entry.length);
    if (refused !== null) throw refused;
    assert(driver !== null, 'an accepted entry has a driver');
    const took = this.#inflight.take(group, entry.length);
    assert(took, 'refuseHere checked the shard\'s in-flight bytes');
    try {
      const r = await driver.propose(group, restampLeaderTimeInPlace(entry, this.#d.wallMs()), timeoutMs);
      return r.result;
    } finally {
      this.#inflight.release(group, entry.length);
    }
  }

  /**
   * proposeHereBatch is proposeHere for several entries at once (one
   * request's parts whose shards this node leads): `entries[k]` goes to
   * shard `groups[k]` under proposeHere's checks, each entry on its own
   * (leadership, a full head, the shard's in-flight bytes, counted with the
   * batch's earlier entries to the same shard), and the accepted ones go to
   * the driver in one proposeBatch. Slot k of the answer holds entry k's
   * encoded ShardApplyResult, applied here, or the error that ended it; the
   * promise resolves once every slot has settled and never rejects. Each
   * accepted entry's bytes stay counted in flight until the whole batch has
   * settled (a few entries longer than proposeHere would: the bound holds).
   * The caller hands the bytes over, as with proposeHere.
   */
  proposeHereBatch(groups: readonly GroupId[], entries: readonly Uint8Array[], timeoutMs: number): Promise<readonly (Uint8Array | OtlpdbError)[]> {
    assert(groups.length === entries.length, 'one shard per entry');
    const n = groups.length;
    const out = new Array<Uint8Array | OtlpdbError>(n);
    const driver = this.#d.driver();
    const sentGroups: GroupId[] = [];
    const sentEntries: Uint8Array[] = [];
    const sentSlots: number[] = [];
    const wallMs = this.#d.wallMs();
    for (let k = 0; k < n; k++) {
      const group = groups[k] as GroupId;
      const entry = entries[k] as Uint8Array;
      let refused: OtlpdbError | null;
      let stamped: Uint8Array | null = null;
      try {
        refused = this.#refuseHere(driver, group, entry.length);
        if (refused === null) stamped = restampLeaderTimeInPlace(entry, wallMs);
      } catch (err) {
        // As proposeHere's rejection: a replica that is not a shard's, or bytes that are not a shard entry (a bug).
        refused = asOtlpdbError(err, 'proposing a shard entry failed');
      }
      if (refused !== null || stamped === null) {
        out[k] = refused ?? new OtlpdbError('ERR_INTERNAL', 'a shard entry was not stamped');
        continue;
      }
      // Taken entry by entry: the batch's later entries to the same shard are checked against its earlier ones.
      const took = this.#inflight.take(group, entry.length);
      assert(took, 'refuseHere checked the shard\'s in-flight bytes');
      sentGroups.push(group);
      sentEntries.push(stamped);
      sentSlots.push(k);
    }
    if (sentGroups.length === 0) return Promise.resolve(out);
    assert(driver !== null, 'an accepted entry has a driver');
    const settled = (results: readonly (Uint8Array | OtlpdbError)[]): readonly (Uint8Array | OtlpdbError)[] => {
      assert(results.length === sentSlots.length, 'one outcome per proposed entry');
      for (let j = 0; j < sentSlots.length; j++) {
        out[sentSlots[j] as number] = results[j] as Uint8Array | OtlpdbError;
        this.#inflight.release(sentGroups[j] as GroupId, (sentEntries[j] as Uint8Array).length);
      }
      return out;
    };
    let proposing: Promise<readonly (Uint8Array | OtlpdbError)[]>;
    try {
      proposing = driver.proposeBatch(sentGroups, sentEntries, timeoutMs);
    } catch (err) {
      // A bad timeout or a broken assertion: every accepted entry ends with that error, and gives its bytes back.
      const e = asOtlpdbError(err, 'proposing a shard entry failed');
      return Promise.resolve(settled(sentEntries.map(() => e)));
    }
    return proposing.then(settled);
  }

  /** refuseHere is proposeHere's refusal of an entry of `bytes` to `group` before it is proposed, or null when it may be. */
  #refuseHere(driver: MultiRaftDriver | null, group: GroupId, bytes: number): OtlpdbError | null {
    const st = driver?.basicStatus(group) ?? null;
    if (driver === null || st === null) return new OtlpdbError('ERR_NOT_LEADER', `node ${this.#d.self} hosts no replica of shard ${group}`, { group, leaderHint: NONE });
    if (st.role !== StateRole.Leader) return new OtlpdbError('ERR_NOT_LEADER', `node ${this.#d.self} does not lead shard ${group}`, { group, leaderHint: st.lead });
    const sm = this.#shard(group);
    if (sm.headFull()) return new OtlpdbError('ERR_UNAVAILABLE', `shard ${group}'s head, or this node's heads together (ShardLimits.nodeHeadHeapPercent of the heap), are full and flushing; retry`, { group, overloaded: true });
    const held = this.#inflight.held(group);
    if (held + bytes > this.#inflight.bytesMax) {
      return new OtlpdbError('ERR_UNAVAILABLE', `shard ${group} has ${held} bytes of proposals in flight (IngestLimits.shardInflightBytesMax); retry`, { group, overloaded: true });
    }
    return null;
  }

  #shard(group: GroupId): ShardStateMachine {
    const sm = this.#d.driver()?.stateMachine(group) ?? null;
    if (!(sm instanceof ShardStateMachine)) {
      throw new OtlpdbError('ERR_NOT_FOUND', `shard ${group} has no replica on node ${this.#d.self}`, { group });
    }
    return sm;
  }

  /** flushLocal flushes every shard replica of this node. */
  async flushLocal(): Promise<{ readonly groups: number }> {
    const driver = this.#d.driver();
    if (driver === null) throw new OtlpdbError('ERR_UNAVAILABLE', `node ${this.#d.self} is starting`);
    return driver.flush();
  }

  /** headBudget is the node's head budget: its bounds and the heads' bytes together now. */
  headBudget(): { readonly totalBytes: number; readonly softBytes: number; readonly hardBytes: number } {
    const b = this.#headBudget;
    return { totalBytes: b.totalBytes(), softBytes: b.softBytes, hardBytes: b.hardBytes };
  }

  /** localStats reports every shard replica of this node. */
  localStats(): ShardStatsReport[] {
    const driver = this.#d.driver();
    if (driver === null) return [];
    const out: ShardStatsReport[] = [];
    for (const group of driver.groups()) {
      const sm = driver.stateMachine(group);
      if (!(sm instanceof ShardStateMachine)) continue;
      const st = driver.status(group);
      out.push({
        node: this.#d.self,
        group,
        isLeader: st?.role === StateRole.Leader,
        term: st?.term ?? 0,
        durableIndex: sm.durableIndex(),
        stats: sm.stats(),
      });
    }
    return out;
  }

  /** flushCluster asks every member to flush (in parallel, each within flushDeadlineMs) and reports each one. */
  async flushCluster(): Promise<FlushDocument> {
    const ids = this.#d.members();
    const answers = await Promise.allSettled(
      ids.map(async (id) => {
        if (id === this.#d.self) return (await this.flushLocal()).groups;
        const got = packr.unpack(await this.#d.transport.call(id, NODE_FLUSH, new Uint8Array(0), ShardServiceLimits.flushDeadlineMs)) as { groups?: unknown };
        if (typeof got?.groups !== 'number') throw new OtlpdbError('ERR_INVALID_ARGUMENT', `node ${id} answered flush with a malformed body`);
        return got.groups;
      }),
    );
    return {
      nodes: ids.map((node, k) => {
        const a = answers[k] as PromiseSettledResult<number>;
        return a.status === 'fulfilled' ? { node, groups: a.value } : { node, groups: 0, error: String((a.reason as Error)?.message ?? a.reason) };
      }),
    };
  }

  /** clusterStats gathers every member's replica reports and sums one report per shard. */
  async clusterStats(shardCount: number): Promise<StatsDocument> {
    const ids = this.#d.members().filter((id) => id !== this.#d.self);
    const answers = await Promise.allSettled(
      ids.map(async (id) => decodeStatsReports(await this.#d.transport.call(id, NODE_SHARD_STATS, new Uint8Array(0), ShardServiceLimits.statsDeadlineMs))),
    );
    const reports = this.localStats();
    for (const a of answers) if (a.status === 'fulfilled') reports.push(...a.value);
    return sumStats(reports, shardCount);
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** encodeProposeRequest is the payload of a shard.propose call. */
export function encodeProposeRequest(group: GroupId, entry: Uint8Array): Uint8Array {
  return packr.pack([group, entry]);
}

/** decodeProposeRequest checks a shard.propose payload (ERR_INVALID_ARGUMENT when malformed). */
export function decodeProposeRequest(payload: Uint8Array): [GroupId, Uint8Array] {
  let v: unknown;
  try {
    v = packr.unpack(payload);
  } catch {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'shard.propose payload is not msgpack');
  }
  if (!Array.isArray(v) || v.length !== 2 || !isCount(v[0]) || !(v[1] instanceof Uint8Array)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'shard.propose payload is not [group, entry]');
  }
  return [v[0], v[1]];
}

/** decodeStatsReports checks a peer's node.shardStats answer. */
export function decodeStatsReports(bytes: Uint8Array): ShardStatsReport[] {
  const bad = (): OtlpdbError => new OtlpdbError('ERR_INVALID_ARGUMENT', 'malformed shard stats report');
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length > ShardServiceLimits.statsReportsMax) throw bad();
  return v.map((r: unknown) => {
    const o = r as Partial<ShardStatsReport> | null;
    if (typeof o !== 'object' || o === null || !isCount(o.node) || !isCount(o.group) || typeof o.isLeader !== 'boolean') throw bad();
    if (!isCount(o.term) || !isCount(o.durableIndex) || typeof o.stats !== 'object' || o.stats === null) throw bad();
    for (const s of SIGNALS) {
      const x = (o.stats as Record<string, Partial<SignalStats> | undefined>)[s];
      if (x === undefined || !isCount(x.rows) || !isCount(x.secondary) || !isCount(x.dataBytes) || !isCount(x.indexBytes)) throw bad();
    }
    return o as ShardStatsReport;
  });
}

/** pickOnePerShard keeps one report per shard: the leader with the highest term, else the replica with the highest durable index. */
export function pickOnePerShard(reports: readonly ShardStatsReport[]): Map<GroupId, ShardStatsReport> {
  const best = new Map<GroupId, ShardStatsReport>();
  const rank = (r: ShardStatsReport): [number, number, number] => [r.isLeader ? 1 : 0, r.isLeader ? r.term : 0, r.durableIndex];
  for (const r of reports) {
    const prev = best.get(r.group);
    if (prev === undefined) {
      best.set(r.group, r);
      continue;
    }
    const a = rank(r);
    const b = rank(prev);
    if (a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] > b[2])))) best.set(r.group, r);
  }
  return best;
}

/** sumStats sums one report per shard into the stats document. */
export function sumStats(reports: readonly ShardStatsReport[], shardCount: number): StatsDocument {
  const best = pickOnePerShard(reports);
  const t = { spans: 0, traces: 0, bytes: 0 };
  const m = { series: 0, samples: 0, bytes: 0 };
  const l = { records: 0, bytes: 0 };
  for (const r of best.values()) {
    t.spans += r.stats.traces.rows;
    t.traces += r.stats.traces.secondary;
    t.bytes += r.stats.traces.dataBytes + r.stats.traces.indexBytes;
    m.samples += r.stats.metrics.rows;
    m.series += r.stats.metrics.secondary;
    m.bytes += r.stats.metrics.dataBytes + r.stats.metrics.indexBytes;
    l.records += r.stats.logs.rows;
    l.bytes += r.stats.logs.dataBytes + r.stats.logs.indexBytes;
  }
  const missing: number[] = [];
  for (let g = 1; g <= shardCount; g++) if (!best.has(g)) missing.push(g);
  return { traces: t, metrics: m, logs: l, shards: best.size, shardsMissing: missing };
}
