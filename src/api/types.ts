/**
 * types.ts — what the HTTP API reads from a node. The API never touches
 * Raft or the transport directly: a node implements ApiSource, so the
 * server can be tested with any source and the node stays the only owner
 * of its driver and transport.
 */
import type { KvEntry, KvListResult, MetaCommand, MetaResult, NodeInfo, TenantSettings } from '../control/index.js';
import type { GroupId, NodeId } from '../raft/types.js';
import type { Faults, PeerMetrics, TransportMetrics } from '../transport/index.js';
import type { SpanRow } from '../storage/rows.js';
import type { TraceSearchQuery } from '../query/search-params.js';
import type { Consistency } from '../query/trace-search-wire.js';
import type { TagsResult } from '../query/trace-tags.js';
import type { TagRead } from '../storage/traces/tag-read.js';
import type { FloatSeries, PromMatcher, PromqlEngine, SeriesSource, SourceStats } from '../query/promql/source.js';
import type { LokiSource } from './loki-routes.js';
import type { LogSearchAnswer } from '../query/log-search.js';
import type { LogSearchRequest } from '../query/log-search-query.js';

/** NodeView is one cluster member as this node sees it. */
export interface NodeView {
  readonly id: NodeId;
  /** address is the member's peer address (`host:port`). */
  readonly address: string;
  /** state is `self` for this node, else the transport link's state (`connected`, `connecting`, `backoff`, `idle`). */
  readonly state: string;
  /** member is the node's life-cycle state as the meta group records it (`joining`, `active`, `leaving`), or `initial` before it is recorded. */
  readonly member?: string;
}

/** GroupView is one hosted Raft group as this replica sees it. */
export interface GroupView {
  readonly group: GroupId;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  /** leader is the known leader, or 0 (NONE). */
  readonly leader: NodeId;
  readonly isLeader: boolean;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** leaderChanges counts the leader changes this node observed since it started. */
  readonly leaderChanges: number;
  /** proposals counts this node's proposals to the group since it started; absent when the node does not track them. */
  readonly proposals?: ProposalCounts;
}

/** ProposalCounts are the proposal counters of one group on one node (all monotonic). */
export interface ProposalCounts {
  /** total counts proposals made (or forwarded) through this node. */
  readonly total: number;
  /** resolved counts proposals that committed and were applied, answering their caller. */
  readonly resolved: number;
  /** dropped counts proposals Raft refused or that failed (no leader, transfer, timeout). */
  readonly dropped: number;
}

/**
 * WalSyncHistogram is the WAL fsync latency distribution since the node
 * started. counts is NOT cumulative: counts[i] is the number of syncs with
 * bucketsMs[i-1] < duration <= bucketsMs[i], and counts[bucketsMs.length]
 * the number above the last bound (+Inf). So counts has bucketsMs.length + 1
 * entries, bucketsMs is strictly increasing, and the counts sum to count.
 */
export interface WalSyncHistogram {
  readonly bucketsMs: readonly number[];
  readonly counts: readonly number[];
  readonly sumMs: number;
  readonly count: number;
}

/** ApiSource is the read-only view of a node the API serves. */
export interface ApiSource {
  readonly nodeId: NodeId;
  /** metaGroup is the id of the meta group (0). */
  readonly metaGroup: GroupId;
  nodes(): readonly NodeView[];
  /** groups lists every hosted group, in ascending id order. */
  groups(): readonly GroupView[];
  transportMetrics(): TransportMetrics;
  /** driverStats returns the driver's numeric counters by name. */
  driverStats(): Readonly<Record<string, number>>;
  /** control serves the control KV and locks; absent, those routes answer 503 ERR_UNAVAILABLE. */
  readonly control?: ControlSource;
  /** walSyncHistogram returns the WAL fsync latencies; absent or undefined, /metrics omits them. */
  walSyncHistogram?(): WalSyncHistogram | undefined;
  /** peerMetrics returns the transport's per-peer counters (PeerTransport.peerMetrics); absent, /metrics omits them. */
  peerMetrics?(): ReadonlyMap<NodeId, PeerMetrics>;
  /** shardParts counts the node's shard parts running and those their caller cancelled; absent, /metrics omits them. */
  shardParts?(): { readonly running: number; readonly cancelled: number };
  /** inboxDropped counts messages the node dropped because its receive inbox was full; absent, /metrics omits it. */
  inboxDropped?(): number;
  /** admin serves the fault-injection admin routes; absent, they answer 503 ERR_UNAVAILABLE. */
  readonly admin?: AdminSource;
  /** clock is the node's wall clock with its admin offset (PUT/GET/DELETE /api/v1/admin/clock); absent: 503. */
  readonly clock?: WallClockSource;
  /**
   * clusterGroups gathers every reachable node's view of its groups (not
   * only the local ones), for GET /api/v1/cluster; absent, the document shows
   * the local groups.
   */
  clusterGroups?(): Promise<readonly GroupView[]>;
  /** placement maps each shard to the node ids its recorded placement names, or null before one is recorded. */
  placement?(): ReadonlyMap<number, readonly NodeId[]> | null;
  /** flushCluster flushes every shard replica on every reachable node (POST /api/v1/admin/flush); absent: 404. */
  flushCluster?(): Promise<{ readonly nodes: readonly { readonly node: number; readonly groups: number; readonly error?: string }[] }>;
  /** clusterStats sums every shard's durable counts once (GET /api/v1/stats); absent: 404. */
  clusterStats?(): Promise<unknown>;
  /** processMemory is the process's memory (Node's process.memoryUsage()); absent, /metrics omits it. */
  processMemory?(): ProcessMemoryView;
  /** ingestMetrics are the OTLP write path's counters and limits; absent, /metrics omits them. */
  ingestMetrics?(): IngestMetricsView;
  /**
   * traceById finds a trace by id for `tenant` across the cluster (GET
   * /api/traces/{id}); absent: 404. Resolves with the trace's spans (the
   * server writes them as OTLP JSON or protobuf), none when the trace is
   * unknown, and whether a bound cut the answer. `signal` aborts when the
   * client goes away.
   */
  traceById?(tenant: string, traceId: Uint8Array, signal?: AbortSignal): Promise<{ readonly spans: readonly SpanRow[]; readonly truncated: boolean }>;
  /**
   * searchTraces runs a Tempo search for `tenant` across the cluster (GET
   * /api/search) and resolves with the answer in Tempo's JSON shape; absent: 404.
   */
  searchTraces?(tenant: string, q: TraceSearchQuery, consistency: Consistency, signal: AbortSignal): Promise<unknown>;
  /** readTags reads tag names or one tag's values for `tenant` across the cluster (Tempo's tag routes, api/tag-routes.ts); absent: 404. */
  readTags?(tenant: string, q: TagRead, consistency: Consistency, signal: AbortSignal): Promise<TagsResult>;
  /** searchLogs runs otlpdb's native JSON log search for `tenant` across the cluster (api/log-search-routes.ts); absent: 404. */
  searchLogs?(tenant: string, req: LogSearchRequest, signal: AbortSignal): Promise<LogSearchAnswer>;
  /** prometheus serves the Prometheus API (api/prom-routes.ts, api/prom-remote-write.ts); absent: those routes answer 404. */
  readonly prometheus?: PromApiSource;
  /** loki serves Loki's query, label and push routes (api/loki-routes.ts); absent: they answer 404. */
  readonly loki?: LokiSource;
  /** notReadyReason says why this node must not serve although its groups are fine (it was removed), or null. */
  notReadyReason?(): string | null;
}

/**
 * WallClockSource is a node's wall clock with an offset an admin sets (the
 * jepsen clock nemesis): it stamps lock leases and expiries and the
 * received time of ingested data. Raft never reads it (it runs on ticks).
 */
export interface WallClockSource {
  /** offsetMs is the offset added to Date.now(). */
  offsetMs(): number;
  /** setOffsetMs replaces the offset (checked by the route: |ms| <= AdminApiLimits.clockOffsetMsMax). */
  setOffsetMs(ms: number): void;
  /** wallMs is Date.now() + offsetMs(). */
  wallMs(): number;
}

/**
 * AdminSource is what the admin routes change on a node: the send-path
 * faults of its transport (PeerTransport.setFaults, clearFaults, faults).
 * It exists for fault tests on machines where iptables is unavailable.
 */
export interface AdminSource {
  /** setFaults replaces the faults towards one peer; ERR_INVALID_ARGUMENT for an unknown peer or bad values. */
  setFaults(peer: NodeId, faults: Faults): void;
  /** clearFaults removes every fault. */
  clearFaults(): void;
  /** faults returns the faults set, per peer (peers without faults are absent). */
  faults(): ReadonlyMap<NodeId, Faults>;
  /** peers lists the configured peer ids, so an unknown id is told apart from a bad value (404, not 400). */
  peers(): readonly NodeId[];
}

/**
 * ControlSource is the meta group's control KV and locks as the API uses
 * them. A node implements it: propose runs a command on the meta group
 * (forwarding to its leader when this node does not lead; the leader stamps
 * lock commands with its own clock), and the reads follow a linearizable
 * read barrier on this node.
 */
export interface ControlSource {
  /** propose commits one meta command and resolves with its result (a refusal is a result, not a rejection). */
  propose(command: MetaCommand): Promise<MetaResult>;
  /** kvGet reads one key after a read barrier; null when absent. `revision` is the KV revision at the read. */
  kvGet(key: string): Promise<{ readonly entry: KvEntry | null; readonly revision: number }>;
  /** kvList lists keys with a prefix after a read barrier. */
  kvList(prefix: string, limit: number): Promise<KvListResult & { readonly revision: number }>;
  /** tenant reads one tenant's settings after a read barrier (defaults when nobody configured it). */
  tenant?(id: string): Promise<{ readonly settings: TenantSettings; readonly configured: boolean }>;
  /** tenantIds lists the configured tenants after a read barrier. */
  tenantIds?(): Promise<readonly string[]>;
  /** join records a node that asks to join (POST /api/v1/cluster/nodes) and resolves with the recorded nodes. */
  join?(req: JoinRequest): Promise<readonly NodeInfo[]>;
  /** leave marks a node leaving (DELETE /api/v1/cluster/nodes/{id}); its replicas then move away. */
  leave?(id: NodeId): Promise<NodeInfo>;
}

/** JoinRequest is the body of POST /api/v1/cluster/nodes: the joining node's id and addresses (`host:port`). */
export interface JoinRequest {
  readonly id: number;
  readonly peer: string;
  readonly api: string;
}

/** ProcessMemoryView is a process's memory in bytes, as Node's process.memoryUsage() names it. */
export interface ProcessMemoryView {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** IngestMetricsView is what /metrics shows of the OTLP write path (src/otlp/ingest.ts, shard-writer.ts). */
export interface IngestMetricsView {
  /** bySignal: per signal, requests admitted or refused, items accepted and items rejected. */
  readonly bySignal: Readonly<Record<'traces' | 'metrics' | 'logs', { readonly requests: number; readonly accepted: number; readonly rejected: number }>>;
  /** refused counts whole requests refused, by reason (rate, overload, invalid, uncommitted). */
  readonly refused: Readonly<Record<string, number>>;
  readonly truncatedValues: number;
  /** sampledOut counts spans dropped by head sampling. */
  readonly sampledOut: number;
  readonly inflightBytes: number;
  /** headBytes is the accounted bytes of every shard replica's head on the node together (the node's HeadBudget, storage/shard/head-budget.ts); absent when unknown. */
  readonly headBytes?: number;
  /** writer is the shard writer's counters (parts, partsFailed, forwarded, notLeader, retries, breakerSkips). */
  readonly writer: Readonly<Record<string, number>>;
  /** breakersOpen counts peers whose breaker is not closed. */
  readonly breakersOpen: number;
  /** limits are the named limits in force (IngestLimits and the decoders' OtlpLimits), by name. */
  readonly limits: Readonly<Record<string, number>>;
}

/**
 * PromApiSource is what the Prometheus routes read from a node: the PromQL
 * engine (null until it is wired: the query routes then answer 503
 * `unavailable`), the cluster SeriesSource it evaluates over, the series
 * and metadata listings, and the remote-write path.
 */
export interface PromApiSource {
  readonly engine: PromqlEngine | null;
  /** sourceFor is a fresh cluster source for one query of `tenant` (its stats count that query's shard calls). */
  sourceFor(tenant: string, consistency: 'linearizable' | 'stale'): SeriesSource;
  /** series lists the label sets any matcher set selects in [startMs, endMs], distinct, sorted; stats accumulate into `stats`. */
  series(tenant: string, matcherSets: readonly (readonly PromMatcher[])[], startMs: number, endMs: number, consistency: 'linearizable' | 'stale', signal: AbortSignal, stats: SourceStats): Promise<readonly FloatSeries[]>;
  /** metadata lists metric families as label sets `__name__`, `type`, `unit`, `help` (empty ones absent). */
  metadata(tenant: string, matchers: readonly PromMatcher[], consistency: 'linearizable' | 'stale', signal: AbortSignal, stats: SourceStats): Promise<readonly FloatSeries[]>;
  /**
   * remoteWrite stores a Prometheus remote-write request (its body as sent:
   * snappy-compressed protobuf) for `tenant` through the OTLP write path,
   * resolving once every part committed; absent: 404.
   */
  remoteWrite?(tenant: string, wire: Uint8Array): Promise<{ readonly accepted: number; readonly rejected: number; readonly message: string }>;
}
