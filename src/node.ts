/**
 * node.ts — one otlpdb node process: the multi-raft driver on the real file
 * system, the peer transport that carries its messages, the HTTP API, and
 * the OTLP receivers (gRPC and HTTP) with the write path behind them
 * (src/otlp: Ingester, ShardWriter) and trace lookups (trace-lookup.ts).
 *
 * Groups: group 0 is the meta group, on every initial member, with the
 * first NodeDefaults.metaVotersMax ids (ascending) as voters and the rest as
 * learners. Shard groups 1..S are placed by src/partition's computePlacement
 * over the initial members (R replicas each, the first the preferred
 * leader): a node bootstraps exactly the shards the placement names it in.
 * From then on the placement recorded in the meta group rules, and the
 * ClusterController (cluster-controller.ts) moves replicas, membership and
 * leadership towards it. A node started with `join` instead of an initial
 * cluster asks a member to record it, and learns every group it hosts from
 * the groups' leaders.
 * Group 0 runs the MetaStateMachine (control KV, locks, membership);
 * shard groups run the ShardStateMachine on LevelDB (shard-service.ts).
 *
 * Ownership and invariants:
 * - the node owns its driver, transport, API server, OTLP receivers and
 *   observer timer; stop() ends them in that order (API and receivers first, so nothing new is served;
 *   then the driver, which syncs the WAL; then the transport);
 * - the transport's onMessages runs inside a socket read, so messages are
 *   queued (#inbox, at most inboxMessagesMax messages; the excess dropped
 *   and counted, Raft retransmits) and handed to driver.receive from a
 *   setImmediate callback;
 * - meta commands (the HTTP control routes) are proposed on the meta
 *   leader: a follower forwards them with the `meta.propose` call, and the
 *   leader stamps lock commands with its own wall clock (Date.now() plus the
 *   admin clock offset, `clock`) just
 *   before proposing, so every stamp comes from the proposing leader;
 *   while it leads, the node proposes lockExpire every lockExpireIntervalMs
 *   when a held lock's lease has ended (at most one such proposal at a time);
 * - recovery is the WAL's: starting again with the same id and data dir
 *   restores every group's log, hard state and snapshot.
 */
import { randomInt } from 'node:crypto';
import { OtlpdbError, assert } from './errors.js';
import { ApiServer } from './api/server.js';
import type { AdminSource, WallClockSource, ApiSource, ControlSource, GroupView, IngestMetricsView, NodeView, ProcessMemoryView, PromApiSource, ProposalCounts, WalSyncHistogram } from './api/types.js';
import { MetaStateMachine, checkMetaCommand, decodeMetaCommand, decodeMetaResult, encodeMetaCommand, encodeMetaResult } from './control/index.js';
import type { KvEntry, KvListResult, MetaCommand, MetaResult } from './control/index.js';
import { NodeFileSystem } from './fs/node-file-system.js';
import { LazyFileSystem } from './fs/lazy-file-system.js';
import { SeededRand } from './fs/seeded-rand.js';
import { ClusterController, NODE_REPORT, encodeReports } from './cluster-controller.js';
import type { GroupReport } from './cluster-controller.js';
import { admitNode, joinThrough, retireNode } from './node-membership.js';
import type { MembershipDeps } from './node-membership.js';
import { AdminApiLimits, DriverLimits, IngestLimits, NodeDefaults, NodeLimits, PartitionLimits, ReceiveWorkerLimits, ReconcileLimits } from './limits.js';
import { checkMembership, formatHostPort } from './node-config.js';
import type { HostPort } from './node-config.js';
import { NodeLog, silentLog } from './node-log.js';
import type { LogSink } from './node-log.js';
import { initHash } from './partition/hash.js';
import type { Hasher } from './partition/hash.js';
import { TenantDefaults } from './control/tenant.js';
import { computePlacement } from './partition/placement.js';
import type { Placement } from './partition/placement.js';
import { MultiRaftDriver } from './raft/driver/multi-raft.js';
import type { GroupSpec } from './raft/driver/multi-raft.js';
import { ShardService, encodeProposeRequest } from './shard-service.js';
import { Ingester, resolveIngestSettings } from './otlp/ingest.js';
import type { IngestSettings } from './otlp/ingest.js';
import { resolveItemLimits } from './otlp/decode-result.js';
import type { OtlpItemLimits } from './otlp/decode-result.js';
import { OtlpGrpcReceiver } from './otlp/grpc-receiver.js';
import { OtlpHttpReceiver } from './otlp/http-receiver.js';
import { OTLP_DECODERS, OTLP_LIMITS } from './otlp/decoders.js';
import { IngestWorkerPool } from './otlp/ingest-workers.js';
import { InlinePreparer } from './otlp/prepare-parts.js';
import { SHARD_PROPOSE, ShardWriter } from './otlp/shard-writer.js';
import { TraceLookup } from './trace-lookup.js';
import { TraceSearch, tempoSearchJson } from './query/trace-search.js';
import { ShardPartCounters } from './query/shard-fanout.js';
import type { FanoutDeps } from './query/shard-fanout.js';
import { TraceTags } from './query/trace-tags.js';
import type { TagsResult } from './query/trace-tags.js';
import { ClusterSeriesSource, MetricsRead } from './query/metrics-read.js';
import type { MetricsReadLimits } from './query/metrics-read.js';
import { PromView } from './query/metrics-prom-view.js';
import type { PromqlEngine } from './query/promql/source.js';
import { remoteWriteVia } from './api/prom-remote-write.js';
import type { TagRead } from './storage/traces/tag-read.js';
import type { TraceSearchQuery } from './query/search-params.js';
import type { Consistency } from './query/trace-search-wire.js';
import type { FlushDocument, StatsDocument } from './shard-service.js';
import { shardStoresFactory } from './storage/shard/stores.js';
import { NONE, StateRole } from './raft/types.js';
import type { GroupId, Message, NodeId } from './raft/types.js';
import { PeerTransport } from './transport/peer-transport.js';
import type { PeerMetrics, TransportMetrics } from './transport/transport-types.js';
import type { GroupStats } from './raft/driver/multi-raft.js';
import type { SpanRow } from './storage/rows.js';
import { logqlEngine } from './query/logql/index.js';
import { promqlEngine } from './query/promql/index.js';
import { LogsQuery } from './query/logs-query.js';
import { LogSearch } from './query/log-search.js';
import type { LogSearchAnswer } from './query/log-search.js';
import type { LogSearchRequest } from './query/log-search-query.js';
import type { LogqlEngine } from './query/logql/source.js';
import type { LokiSource } from './api/loki-routes.js';


/** OtlpdbNodeOptions configure OtlpdbNode.start. */
export interface OtlpdbNodeOptions {
  readonly id: NodeId;
  /** dataDir holds the driver's WAL and snapshots. */
  readonly dataDir: string;
  /** peer is where this node listens for and dials from for peers; it must match its initialCluster entry. */
  readonly peer: HostPort;
  /** api is where the HTTP API listens (port 0: the OS chooses; see apiAddress()). */
  readonly api: HostPort;
  /** initialCluster bootstraps a new cluster (empty when the node joins one). */
  readonly initialCluster: ReadonlyMap<NodeId, HostPort>;
  /** join is the API address of a member to ask for admission; exclusive with a non-empty initialCluster. */
  readonly join?: HostPort;
  /** shards is the number of shard groups at bootstrap (default NodeDefaults.shardCount). */
  readonly shards?: number;
  /** replicas is the replication factor R at bootstrap (default NodeDefaults.replicas; at most the node count). */
  readonly replicas?: number;
  readonly tickMs?: number;
  readonly clusterId?: string;
  /** seed seeds election jitter and reconnect backoff (default: random, logged). */
  readonly seed?: number;
  readonly log?: LogSink;
  /** snapshotEntries and compactKeepEntries tune the driver's log compaction (tests make it frequent). */
  readonly snapshotEntries?: number;
  readonly compactKeepEntries?: number;
  /** walSegmentsSoftMax and walSegmentBytesMax tune when quiet groups are compacted by force and the WAL's segment size (tests make them small). */
  readonly walSegmentsSoftMax?: number;
  readonly walSegmentBytesMax?: number;
  /** walSegmentsFlushAhead is the driver's flush-ahead watermark (multi-raft.ts "Pacing the WAL"; default 75% of walSegmentsSoftMax, Infinity: off). */
  readonly walSegmentsFlushAhead?: number;
  /** otlpGrpc and otlpHttp are where the OTLP receivers listen (port 0: the OS chooses); absent, that receiver is not started. */
  readonly otlpGrpc?: HostPort;
  readonly otlpHttp?: HostPort;
  /** ingest overrides the write path's settable limits (resolveIngestSettings checks them). */
  readonly ingest?: Partial<IngestSettings>;
  /** otlpItemLimits overrides the per-item decode limits (resolveItemLimits checks them). */
  readonly otlpItemLimits?: Partial<OtlpItemLimits>;
  /**
   * receiveWorkers is the number of worker threads that decode, split and
   * encode OTLP requests (otlp/ingest-workers.ts), in [0,
   * ReceiveWorkerLimits.workersMax]; 0 does it on the main thread. Default
   * ReceiveWorkerLimits.workersDefault.
   */
  readonly receiveWorkers?: number;
  /**
   * promql is the PromQL engine the Prometheus query routes and the shard
   * parts of pushed-down subexpressions run; absent, query/promql's engine;
   * null switches PromQL off (/api/v1/query and /api/v1/query_range answer
   * 503 "PromQL engine not wired" and eval parts are refused). The one
   * place it is passed in.
   */
  readonly promql?: PromqlEngine | null;
  /**
   * promoteResourceAttributes are the OTLP resource attribute keys shown as
   * Prometheus labels (query/metrics-prom-view.ts; Prometheus's
   * otlp.promote_resource_attributes); default none (job and instance come
   * from service.* always).
   */
  readonly promoteResourceAttributes?: readonly string[];
  /** metricsQueryLimits override a Prometheus query's sample bounds (query/metrics-read.ts; tests use small ones); absent, MetricsQueryLimits's. */
  readonly metricsQueryLimits?: MetricsReadLimits;
  /**
   * logqlEngine is the LogQL engine (query/logql) Loki's query routes and
   * the pushed shard parts (shard.logsEval) run; absent, query/logql's
   * engine; null switches LogQL off (those routes answer 503 "LogQL engine
   * not wired"). The one wiring point of the engine.
   */
  readonly logqlEngine?: LogqlEngine | null;
  /**
   * logTermIndex (default true) says whether log flushes write the term
   * index (postings and bloom) of each block; false only serves
   * bench/query-logs' ingest baseline (what the index costs). Queries stay
   * correct on blocks written without it: they check every row.
   */
  readonly logTermIndex?: boolean;
}

/**
 * TEST_PLANTS are the bugs a test may plant in a node process so that the
 * jepsen suite can show it catches them (issue 9, "Planted bugs"):
 * - `ack-before-commit`: the OTLP write path answers success as soon as a
 *   request is split into shard parts, before any part commits;
 * - `read-without-readindex`: GET /api/v1/kv/{key} answers from the node's
 *   local meta state without the ReadIndex barrier, even on a follower;
 * - `traceql-pushdown-drops-resource-matches`: a TraceQL search's span match
 *   ignores resource attributes on this node's shard parts (the TraceQL
 *   cluster differential test must catch it);
 * - `logql-shard-drops-metadata`: a pushed LogQL log query loses the
 *   entries' structured metadata on this node's shard parts (the LogQL
 *   cluster differential test must catch it);
 * - `trace-replica-read-without-readindex`: a trace lookup on a follower of
 *   the trace's shard reads its replica without the leader's ReadIndex
 *   (trace-lookup.ts; src/trace-lookup.test.ts must catch it);
 * - `wal-skip-fsync`: the WAL does not fsync the segment after appending
 *   records (WalOptions.plantSkipRecordSync); only a power cut can show it,
 *   so the jepsen test runs it with the fixture `wal-lazy-fs`.
 * They exist only to be caught; see readTestPlants for why no production
 * node can run with one.
 */
export const TEST_PLANTS = ['ack-before-commit', 'read-without-readindex', 'traceql-pushdown-drops-resource-matches', 'logql-shard-drops-metadata', 'wal-skip-fsync', 'trace-replica-read-without-readindex'] as const;

/**
 * TEST_FIXTURES are test-only ways a node process may run that are not bugs,
 * named in the same environment variable as the plants and under the same
 * marker: `wal-lazy-fs` puts the node's WAL, snapshots and group registry on
 * a LazyFileSystem (src/fs/lazy-file-system.ts), whose unsynced bytes die
 * with the process, so kill -9 of every node is a power cut.
 */
export const TEST_FIXTURES = ['wal-lazy-fs'] as const;

/** TestFixture names one test fixture. */
export type TestFixture = (typeof TEST_FIXTURES)[number];

/** TestPlant names one planted bug. */
export type TestPlant = (typeof TEST_PLANTS)[number];

/** TEST_HOOKS_ENV is the test marker: plants are honoured only while it equals TEST_HOOKS_TOKEN. */
export const TEST_HOOKS_ENV = 'OTLPDB_TEST_HOOKS';
/** TEST_HOOKS_TOKEN is the marker's only accepted value: a sentence nobody sets by accident (not `1` or `true`). */
export const TEST_HOOKS_TOKEN = 'plant-bugs-that-lose-acknowledged-data';
/** TEST_PLANT_ENV names the plants (comma-separated TEST_PLANTS) a test asks for. */
export const TEST_PLANT_ENV = 'OTLPDB_TEST_PLANT';

/** TestPlants is what a node read from its environment at start. */
export interface TestPlants {
  readonly active: ReadonlySet<TestPlant>;
  /** fixtures are the test fixtures named beside the plants (TEST_FIXTURES). */
  readonly fixtures: ReadonlySet<TestFixture>;
  /** ignored explains a TEST_PLANT_ENV that was set without the marker (logged as a warning), or is null. */
  readonly ignored: string | null;
}

/**
 * readTestPlants reads the planted bugs of a node from its environment, once,
 * at start. Why production cannot switch one on by accident: there is no
 * CLI flag, config key or API for it; both TEST_PLANT_ENV and
 * TEST_HOOKS_ENV must be set, the marker to the exact TEST_HOOKS_TOKEN
 * sentence (a generic `OTLPDB_TEST_HOOKS=1` does nothing); a plant without
 * the marker is ignored and logged; an unknown plant name refuses to start
 * (ERR_INVALID_ARGUMENT); and a node with an active plant logs it at error
 * level when it starts. Only the jepsen harness's tests set these
 * (LiveClusterOptions.testNodeEnv).
 */
export function readTestPlants(env: Readonly<Record<string, string | undefined>>): TestPlants {
  const raw = env[TEST_PLANT_ENV];
  if (raw === undefined || raw.trim() === '') return { active: new Set(), fixtures: new Set(), ignored: null };
  if (env[TEST_HOOKS_ENV] !== TEST_HOOKS_TOKEN) {
    return { active: new Set(), fixtures: new Set(), ignored: `${TEST_PLANT_ENV}=${raw} is ignored: ${TEST_HOOKS_ENV} is not set to the test marker` };
  }
  const active = new Set<TestPlant>();
  const fixtures = new Set<TestFixture>();
  for (const name of raw.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    if ((TEST_FIXTURES as readonly string[]).includes(name)) {
      fixtures.add(name as TestFixture);
    } else if ((TEST_PLANTS as readonly string[]).includes(name)) {
      active.add(name as TestPlant);
    } else {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${TEST_PLANT_ENV}: unknown plant ${JSON.stringify(name)}; known: ${[...TEST_PLANTS, ...TEST_FIXTURES].join(', ')}`);
    }
  }
  assert(active.size <= TEST_PLANTS.length, 'plants are distinct known names');
  assert(fixtures.size <= TEST_FIXTURES.length, 'fixtures are distinct known names');
  return { active, fixtures, ignored: null };
}

/** META_PROPOSE is the transport method a follower forwards a meta command with. */
const META_PROPOSE = 'meta.propose';
/** lockExpireIntervalMs is how often the meta leader checks for ended leases. */
const lockExpireIntervalMs = 1000;
/** forwardDeadlineMs bounds one forwarded proposal: the leader's proposal deadline plus slack for the call. */
const forwardDeadlineMs = DriverLimits.proposalTimeoutMsDefault + 2000;

/** stamp gives a lock command the proposing leader's clock. */
function stamp(c: MetaCommand, nowMs: number): MetaCommand {
  if (c.op === 'lockAcquire' || c.op === 'lockExpire') return { ...c, nowMs };
  return c;
}

interface InboxBatch {
  readonly from: NodeId;
  readonly msgs: Message[];
}

/**
 * bootstrapPlacement is the placement an initial cluster starts with: a pure
 * function of its member ids, S and R, so every initial member computes the
 * same one without talking to the others.
 */
export function bootstrapPlacement(hasher: Hasher, members: readonly NodeId[], shards: number, replicas: number): Placement {
  assert(members.length >= 1, 'a cluster has a member');
  return computePlacement(
    hasher,
    members.map((id) => String(id)),
    shards,
    replicas,
  );
}

/**
 * groupSpecs returns the groups node `self` bootstraps in an initial
 * cluster: meta group 0 on every member (the first metaVotersMax ids vote)
 * and every shard the placement names `self` in, with the placement's
 * replicas as voters.
 */
export function groupSpecs(self: NodeId, members: readonly NodeId[], placement: Placement): GroupSpec[] {
  assert(members.includes(self), 'a node bootstraps only clusters it is in');
  const ids = [...members].sort((a, b) => a - b);
  const specs: GroupSpec[] = [
    { group: NodeDefaults.metaGroup, voters: ids.slice(0, NodeDefaults.metaVotersMax), learners: ids.slice(NodeDefaults.metaVotersMax) },
  ];
  for (const sp of placement.shards) {
    if (sp.replicas.includes(String(self))) specs.push({ group: sp.shard, voters: sp.replicas.map(Number) });
  }
  return specs;
}

/** numericLimits keeps the numeric entries of a limits table (for /metrics). */
function numericLimits(table: Readonly<Record<string, unknown>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(table)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** proposalCounts renders a group's proposal counters for the API. */
function proposalCounts(st: GroupStats | null): ProposalCounts | undefined {
  if (st === null) return undefined;
  return { total: st.proposals, resolved: st.proposalsResolved, dropped: st.proposalsDropped };
}

/** OtlpdbNode is one running otlpdb node. */
export class OtlpdbNode implements ApiSource {
  readonly nodeId: NodeId;
  readonly metaGroup: GroupId = NodeDefaults.metaGroup;
  readonly log: NodeLog;
  /** seed is the seed of this run's election jitter and reconnect backoff (logged, so a run can be replayed). */
  readonly seed: number;
  readonly #opts: OtlpdbNodeOptions;
  readonly #driver: MultiRaftDriver;
  readonly #transport: PeerTransport;
  readonly #shardParts = new ShardPartCounters();
  readonly #shards: ShardService;
  readonly #writer: ShardWriter;
  readonly #ingester: Ingester;
  /** receivePool is the receive worker threads (null: requests are prepared on the main thread). */
  readonly #receivePool: IngestWorkerPool | null;
  readonly #traces: TraceLookup;
  readonly #search: TraceSearch;
  readonly #tags: TraceTags;
  readonly #metricsRead: MetricsRead;
  /** prometheus serves the Prometheus API routes (api/prom-routes.ts) over the cluster. */
  readonly prometheus: PromApiSource;
  readonly #logs: LogsQuery;
  readonly #logSearch: LogSearch;
  readonly #itemLimits: OtlpItemLimits;
  /** placementMap is placement()'s answer for the placement object it was built from. */
  #placementMap: { readonly of: object; readonly map: ReadonlyMap<number, readonly NodeId[]> } | null = null;
  #api: ApiServer | null = null;
  #otlpGrpc: OtlpGrpcReceiver | null = null;
  #otlpHttp: OtlpHttpReceiver | null = null;
  #inbox: InboxBatch[] = [];
  #inboxMessages = 0;
  #inboxDropped = 0;
  #drainScheduled: NodeJS.Immediate | null = null;
  #observer: NodeJS.Timeout | null = null;
  #expirer: NodeJS.Timeout | null = null;
  #expiring = false;
  #reconciler: NodeJS.Timeout | null = null;
  #controller: ClusterController | null = null;
  readonly #leaders = new Map<GroupId, { leader: NodeId; term: number; changes: number }>();
  #stopping: Promise<void> | null = null;
  /** plants are the test-only planted bugs (readTestPlants); empty in every production node. */
  readonly #plants: ReadonlySet<TestPlant>;

  private constructor(
    opts: OtlpdbNodeOptions,
    driver: MultiRaftDriver,
    transport: PeerTransport,
    log: NodeLog,
    seed: number,
    shards: ShardService,
    hasher: Hasher,
    plants: ReadonlySet<TestPlant>,
  ) {
    this.#plants = plants;
    this.#shards = shards;
    this.#itemLimits = resolveItemLimits(opts.otlpItemLimits);
    this.#writer = new ShardWriter({
      self: opts.id,
      nowMs: () => performance.now(),
      rand: new SeededRand(seed ^ 0x07e1),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      replicasOf: (shard) => this.placement()?.get(shard) ?? [],
      localLeader: (shard) => {
        const st = driver.basicStatus(shard);
        return st === null ? NONE : st.role === StateRole.Leader ? opts.id : st.lead;
      },
      proposeHere: (shard, entry, timeoutMs) => shards.proposeHere(shard, entry, timeoutMs),
      proposeHereBatch: (groups, entries, timeoutMs) => shards.proposeHereBatch(groups, entries, timeoutMs),
      call: (peer, shard, entry, timeoutMs) => transport.call(peer, SHARD_PROPOSE, encodeProposeRequest(shard, entry), timeoutMs),
    });
    const receiveWorkers = opts.receiveWorkers ?? ReceiveWorkerLimits.workersDefault;
    const inline = new InlinePreparer({ hasher, decoders: OTLP_DECODERS, itemLimits: this.#itemLimits });
    this.#receivePool =
      receiveWorkers === 0
        ? null
        : new IngestWorkerPool({
            workers: receiveWorkers,
            itemLimits: this.#itemLimits,
            fallback: inline,
            onWorkerExit: (info) => this.log.event('receive_worker_exited', info),
          });
    this.#ingester = new Ingester({
      hasher,
      writer: this.#writer,
      decoders: OTLP_DECODERS,
      preparer: this.#receivePool ?? inline,
      shardCount: () => this.#shardCount(),
      tenantIngest: (tenant) => {
        const meta = driver.stateMachine(NodeDefaults.metaGroup);
        const s = meta instanceof MetaStateMachine ? meta.tenant(tenant) : TenantDefaults;
        return { bytesPerSecond: s.ingestBytesPerSecondMax, burstBytes: s.ingestBurstBytesMax, traceSampleRatio: s.traceSampleRatio };
      },
      nowMs: () => performance.now(),
      wallMs: () => this.clock.wallMs(),
      settings: resolveIngestSettings(opts.ingest),
      itemLimits: this.#itemLimits,
      plantAckBeforeCommit: plants.has('ack-before-commit'),
    });
    // Every shard-wide read routes the same way; each gets its own seeded jitter; one count of their shard parts.
    const parts = this.#shardParts;
    const readDeps = (salt: number): FanoutDeps => ({
      parts,
      self: opts.id,
      transport,
      driver: () => driver,
      shardCount: () => this.#shardCount(),
      replicasOf: (shard) => this.placement()?.get(shard) ?? [],
      nowMs: () => performance.now(),
      rand: new SeededRand(seed ^ salt),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    });
    this.#traces = new TraceLookup({ ...readDeps(0x7ace1d), hasher }, { replicaReads: true, plantReplicaReadWithoutBarrier: plants.has('trace-replica-read-without-readindex') });
    this.#search = new TraceSearch(readDeps(0x5ea5c4), { earlyStop: true, plantDropResourceMatches: plants.has('traceql-pushdown-drops-resource-matches') });
    this.#tags = new TraceTags(readDeps(0x7a65));
    const promql = opts.promql === undefined ? promqlEngine : opts.promql;
    const metricsRead = new MetricsRead({
      ...readDeps(0x9e7c),
      view: new PromView({ promoteResourceAttributes: opts.promoteResourceAttributes ?? [] }),
      engine: promql,
      ...(opts.metricsQueryLimits === undefined ? {} : { limits: opts.metricsQueryLimits }),
    });
    this.#metricsRead = metricsRead;
    const ingester = this.#ingester;
    this.prometheus = {
      engine: promql,
      sourceFor: (tenant, consistency) => new ClusterSeriesSource(metricsRead, tenant, consistency),
      series: (tenant, sets, startMs, endMs, consistency, signal, stats) => metricsRead.series(tenant, sets, startMs, endMs, consistency, signal, stats),
      metadata: (tenant, matchers, consistency, signal, stats) => metricsRead.metadata(tenant, matchers, consistency, signal, stats),
      remoteWrite: (tenant, wire) => remoteWriteVia(ingester, tenant, wire),
    };
    this.#logs = new LogsQuery(readDeps(0x10c5), opts.logqlEngine === undefined ? logqlEngine : opts.logqlEngine, { plantDropMetadata: plants.has('logql-shard-drops-metadata') });
    this.#logSearch = new LogSearch(readDeps(0x5ea4c5));
    this.nodeId = opts.id;
    this.seed = seed;
    this.#opts = opts;
    this.#driver = driver;
    this.#transport = transport;
    this.log = log;
  }

  /**
   * start opens (or recovers) the node's groups from its data dir, starts
   * the peer transport and the HTTP API. Bad options are ERR_INVALID_ARGUMENT;
   * an address in use is ERR_UNAVAILABLE. On failure nothing is left running.
   */
  static async start(opts: OtlpdbNodeOptions): Promise<OtlpdbNode> {
    if (!Number.isSafeInteger(opts.id) || opts.id < 1 || opts.id > NodeDefaults.nodeIdMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'node id must be a positive integer', { id: opts.id });
    }
    const joining = opts.join !== undefined;
    if (joining && opts.initialCluster.size > 0) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'give an initial cluster or a member to join, not both', { id: opts.id });
    }
    if (!joining) checkMembership(opts.id, opts.peer, opts.initialCluster);
    const shards = opts.shards ?? NodeDefaults.shardCount;
    if (!Number.isSafeInteger(shards) || shards < 1 || shards > NodeDefaults.shardCountMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `shards must be in [1, ${NodeDefaults.shardCountMax}]`, { shards });
    }
    const replicas = opts.replicas ?? NodeDefaults.replicas;
    if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > PartitionLimits.replicationFactorMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `replicas must be in [1, ${PartitionLimits.replicationFactorMax}]`, { replicas });
    }
    const receiveWorkers = opts.receiveWorkers ?? ReceiveWorkerLimits.workersDefault;
    if (!Number.isSafeInteger(receiveWorkers) || receiveWorkers < 0 || receiveWorkers > ReceiveWorkerLimits.workersMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `receive workers must be in [0, ${ReceiveWorkerLimits.workersMax}]`, { receiveWorkers });
    }
    const tickMs = opts.tickMs ?? NodeDefaults.tickMs;
    if (!Number.isSafeInteger(tickMs) || tickMs < NodeDefaults.tickMsMin || tickMs > NodeDefaults.tickMsMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `tick ms must be in [${NodeDefaults.tickMsMin}, ${NodeDefaults.tickMsMax}]`, { tickMs });
    }
    resolveIngestSettings(opts.ingest);
    resolveItemLimits(opts.otlpItemLimits);
    const seed = opts.seed ?? randomInt(0, 0x7fff_ffff);
    const log = new NodeLog(opts.id, opts.log ?? silentLog);
    const plants = readTestPlants(process.env);
    if (plants.ignored !== null) log.event('test_plant_ignored', { reason: plants.ignored }, undefined, 'warn');
    if (plants.active.size > 0) {
      log.event('TEST_PLANT_ACTIVE', { plants: [...plants.active], warning: 'this node has bugs planted ON PURPOSE for a test: it may lose acknowledged data and serve stale reads' }, undefined, 'error');
    }
    if (plants.fixtures.size > 0) {
      log.event('test_fixture_active', { fixtures: [...plants.fixtures], warning: 'test-only: unsynced WAL bytes are held in this process and die with it (a power cut on kill -9)' }, undefined, 'warn');
    }
    const hasher = await initHash();
    const members = [...opts.initialCluster.keys()];
    const placement = joining ? null : bootstrapPlacement(hasher, members, shards, Math.min(replicas, members.length));
    const peers = new Map<NodeId, HostPort>();
    for (const [id, a] of opts.initialCluster) if (id !== opts.id) peers.set(id, a);
    const transport = new PeerTransport({
      clusterId: opts.clusterId ?? NodeDefaults.clusterId,
      nodeId: opts.id,
      host: opts.peer.host,
      port: opts.peer.port,
      peers,
      rand: new SeededRand(seed ^ 0x5eed),
    });
    let opened: MultiRaftDriver | null = null;
    let controllerRef: ClusterController | null = null;
    // The node's wall clock (with its admin offset) once the node exists; the plain wall clock while it opens.
    let nodeRef: OtlpdbNode | null = null;
    const shardService = new ShardService({
      self: opts.id,
      dataDir: opts.dataDir,
      transport,
      makeStores: shardStoresFactory(hasher, { logTermIndex: opts.logTermIndex ?? true }),
      meta: () => {
        const sm = opened?.stateMachine(NodeDefaults.metaGroup) ?? null;
        return sm instanceof MetaStateMachine ? sm : null;
      },
      driver: () => opened,
      members: () => controllerRef?.memberIds() ?? [opts.id],
      wallMs: () => nodeRef?.clock.wallMs() ?? Date.now(),
    });
    // A joining node opens the meta group as an empty replica that learns its membership from the leader.
    const specs = placement === null ? [{ group: NodeDefaults.metaGroup, voters: [] }] : groupSpecs(opts.id, members, placement);
    const driver = await MultiRaftDriver.open({
      nodeId: opts.id,
      fs: plants.fixtures.has('wal-lazy-fs') ? new LazyFileSystem(new NodeFileSystem()) : new NodeFileSystem(),
      dir: opts.dataDir,
      wal: {
        ...(plants.active.has('wal-skip-fsync') ? { plantSkipRecordSync: true } : {}),
        ...(opts.walSegmentBytesMax === undefined ? {} : { segmentBytesMax: opts.walSegmentBytesMax }),
      },
      transport: { send: (msgs) => transport.send(msgs) },
      rand: new SeededRand(seed),
      clock: { nowMs: () => performance.now() },
      groups: specs,
      makeStateMachine: (group) => (group === NodeDefaults.metaGroup ? new MetaStateMachine() : shardService.makeStateMachine(group)),
      ...(opts.snapshotEntries === undefined ? {} : { snapshotEntries: opts.snapshotEntries }),
      ...(opts.compactKeepEntries === undefined ? {} : { compactKeepEntries: opts.compactKeepEntries }),
      ...(opts.walSegmentsSoftMax === undefined ? {} : { walSegmentsSoftMax: opts.walSegmentsSoftMax }),
      ...(opts.walSegmentsFlushAhead === undefined ? {} : { walSegmentsFlushAhead: opts.walSegmentsFlushAhead }),
      scheduler: {
        every: (ms, fn) => {
          const timer = setInterval(fn, ms);
          return { cancel: () => clearInterval(timer) };
        },
      },
      tickMs,
    });
    opened = driver;
    const node = new OtlpdbNode(opts, driver, transport, log, seed, shardService, hasher, plants.active);
    nodeRef = node;
    node.#controller = new ClusterController({
      self: opts.id,
      peer: opts.peer,
      api: () => node.apiAddress(),
      driver,
      transport,
      log,
      hasher,
      initial: opts.initialCluster,
      bootstrapPlacement: placement,
      proposeMeta: (c) => node.#proposeMeta(c),
    });
    const controller = node.#controller;
    controllerRef = controller;
    shardService.register();
    node.#traces.register();
    node.#search.register();
    node.#tags.register();
    node.#metricsRead.register();
    node.#logs.register();
    node.#logSearch.register();
    transport.onMessages((from, msgs) => node.#enqueue(from, msgs));
    transport.handle(META_PROPOSE, async (payload) => {
      const c = decodeMetaCommand(payload);
      if ('kind' in c) return encodeMetaResult(c);
      return node.#proposeAsLeader(c);
    });
    transport.handle(NODE_REPORT, () => encodeReports(controller.localReports()));
    transport.onUnreachable((peer) => {
      driver.reportUnreachable(peer);
      log.event('peer_unreachable', { peer }, undefined, 'warn');
    });
    try {
      await transport.start();
      node.#api = await ApiServer.start({ host: opts.api.host, port: opts.api.port, source: node });
      if (opts.otlpGrpc !== undefined) node.#otlpGrpc = await OtlpGrpcReceiver.start({ ...opts.otlpGrpc, ingester: node.#ingester });
      if (opts.otlpHttp !== undefined) node.#otlpHttp = await OtlpHttpReceiver.start({ ...opts.otlpHttp, ingester: node.#ingester });
      if (opts.join !== undefined) {
        const members = await joinThrough(opts.join, { id: opts.id, peer: formatHostPort(opts.peer), api: formatHostPort(node.apiAddress()) }, () => node.#stopping !== null);
        node.#controller.learnPeers(members);
        log.event('joined', { via: formatHostPort(opts.join), members: [...members.keys()] });
      }
    } catch (err) {
      await node.stop();
      throw err;
    }
    node.#observer = setInterval(() => node.#observe(), tickMs);
    node.#observer.unref();
    node.#expirer = setInterval(() => node.#expireLocks(), lockExpireIntervalMs);
    node.#expirer.unref();
    node.#reconciler = setInterval(() => void controller.round(), ReconcileLimits.reconcileIntervalMs);
    node.#reconciler.unref();
    // The caller logs the start (the CLI prints its `started` line first).
    return node;
  }

  /** placement is the recorded shard placement (shard → node ids), or null before the meta leader recorded one. */
  placement(): ReadonlyMap<number, readonly NodeId[]> | null {
    const meta = this.#driver.stateMachine(NodeDefaults.metaGroup);
    const p = meta instanceof MetaStateMachine ? meta.placement() : null;
    if (p === null) return null;
    // The write path asks once per shard part: the map is rebuilt only when the meta group records a new placement.
    if (this.#placementMap?.of !== p) this.#placementMap = { of: p, map: new Map(p.shards.map((sp) => [sp.shard, sp.replicas.map(Number)])) };
    return this.#placementMap.map;
  }


  /** otlpGrpcAddress and otlpHttpAddress are where the OTLP receivers listen, or null when not started. */
  otlpGrpcAddress(): HostPort | null {
    return this.#otlpGrpc?.address() ?? null;
  }

  /** otlpHttpAddress: see otlpGrpcAddress. */
  otlpHttpAddress(): HostPort | null {
    return this.#otlpHttp?.address() ?? null;
  }

  /** traceById finds a trace across the cluster (GET /api/traces/{id}; the API server writes it as OTLP JSON or protobuf). */
  async traceById(tenant: string, traceId: Uint8Array, signal?: AbortSignal): Promise<{ spans: SpanRow[]; truncated: boolean }> {
    const t = await this.#traces.traceById(tenant, traceId, signal);
    return { spans: t.spans, truncated: t.truncated };
  }

  /** searchTraces runs a Tempo search across the cluster and renders Tempo's JSON (GET /api/search). */
  async searchTraces(tenant: string, q: TraceSearchQuery, consistency: Consistency, signal: AbortSignal): Promise<unknown> {
    return tempoSearchJson(await this.#search.search(tenant, q, consistency, signal));
  }

  /** searchLogs runs otlpdb's native JSON log search across the cluster (api/log-search-routes.ts renders it). */
  async searchLogs(tenant: string, req: LogSearchRequest, signal: AbortSignal): Promise<LogSearchAnswer> {
    return this.#logSearch.search(tenant, req, signal);
  }

  /** searchStats counts this node's searches in flight and those their client cancelled (tests and operators watch cancellation). */
  searchStats(): { readonly inflight: number; readonly cancelled: number } {
    return this.#search.counters();
  }

  /** lookupStats counts this node's trace-by-id lookups in flight and those their client cancelled. */
  lookupStats(): { readonly inflight: number; readonly cancelled: number } {
    return this.#traces.counters();
  }

  /** readTags reads tag names or one tag's values across the cluster (Tempo's tag routes; api/tag-routes.ts renders them). */
  async readTags(tenant: string, q: TagRead, consistency: Consistency, signal: AbortSignal): Promise<TagsResult> {
    return this.#tags.read(tenant, q, consistency, signal);
  }

  /**
   * loki serves Loki's API (api/loki-routes.ts): queries through the
   * injected LogQL engine over a cluster LogSource, label reads, and Loki
   * push through the OTLP write path (admission, decoding, idempotency,
   * commit wait).
   */
  readonly loki: LokiSource = this.#lokiSource();

  #lokiSource(): LokiSource {
    // Read late: the field is initialised before the constructor sets #logs.
    const engine = (): LogqlEngine | null => this.#logs.engine;
    return {
      get engine() {
        return engine();
      },
      source: (tenant, consistency) => this.#logs.source(tenant, consistency),
      labels: (tenant, read, consistency, signal) => this.#logs.labels(tenant, read, consistency, signal),
      push: async (tenant, wireBytes, convert) => {
        const admission = this.#ingester.admit('logs', tenant, wireBytes);
        try {
          const body = await convert(this.#ingester.settings.requestBytesMax);
          this.#ingester.grow(admission, body.length);
          return await this.#ingester.ingest({ signal: 'logs', tenant, format: 'proto', body, deadlineMs: performance.now() + this.#ingester.settings.requestDeadlineMs });
        } finally {
          this.#ingester.release(admission);
        }
      },
    };
  }

  /** processMemory is this process's memory for /metrics. */
  processMemory(): ProcessMemoryView {
    return process.memoryUsage();
  }

  /** ingestMetrics are the OTLP write path's counters and limits for /metrics. */
  ingestMetrics(): IngestMetricsView {
    const st = this.#ingester.stats;
    const heads = this.#shards.headBudget();
    const by = (signal: 'traces' | 'metrics' | 'logs'): { requests: number; accepted: number; rejected: number } => ({
      requests: st.requests[signal],
      accepted: st.accepted[signal],
      rejected: st.rejected[signal],
    });
    return {
      bySignal: { traces: by('traces'), metrics: by('metrics'), logs: by('logs') },
      refused: { rate: st.refusedRate, overload: st.refusedOverload, invalid: st.refusedInvalid, uncommitted: st.failedUncommitted },
      truncatedValues: st.truncatedValues,
      sampledOut: st.sampledOut,
      inflightBytes: this.#ingester.inflightBytes,
      headBytes: heads.totalBytes,
      writer: { ...this.#writer.stats },
      breakersOpen: [...this.#writer.breakerStates().values()].filter((s) => s !== 'closed').length,
      limits: {
        ...numericLimits(IngestLimits),
        ...numericLimits({ ...this.#ingester.settings }),
        ...OTLP_LIMITS,
        ...numericLimits({ ...this.#itemLimits }),
        nodeHeadBytesSoftMax: heads.softBytes,
        nodeHeadBytesHardMax: heads.hardBytes,
      },
    };
  }

  #shardCount(): number {
    const meta = this.#driver.stateMachine(NodeDefaults.metaGroup);
    return meta instanceof MetaStateMachine ? (meta.placement()?.shardCount ?? 0) : 0;
  }

  /** flushCluster flushes every shard replica on every reachable node (POST /api/v1/admin/flush). */
  flushCluster(): Promise<FlushDocument> {
    return this.#shards.flushCluster();
  }

  /** clusterStats sums every shard's durable counts once (GET /api/v1/stats). */
  clusterStats(): Promise<StatsDocument> {
    return this.#shards.clusterStats(this.#shardCount());
  }

  /** apiAddress is where the HTTP API listens. */
  apiAddress(): HostPort {
    assert(this.#api !== null, 'the API is started');
    return this.#api.address();
  }

  /** driver is the node's multi-raft driver (for tests and in-process tools). */
  get driver(): MultiRaftDriver {
    return this.#driver;
  }

  /** stop stops serving, stops the driver (syncing the WAL), then the transport; idempotent. */
  stop(): Promise<void> {
    return this.#stop(false);
  }

  /**
   * shutdown is the graceful stop of SIGTERM/SIGINT: stop serving the API,
   * hand every group this node leads to a caught-up voter (within
   * drainDeadlineMs), then stop the driver (a final WAL sync) and the
   * transport. Idempotent; a plain stop() already in progress wins.
   */
  shutdown(): Promise<void> {
    return this.#stop(true);
  }

  #stop(drain: boolean): Promise<void> {
    if (this.#stopping !== null) return this.#stopping;
    this.#stopping = (async () => {
      for (const t of [this.#observer, this.#expirer, this.#reconciler]) if (t !== null) clearInterval(t);
      this.#observer = null;
      this.#expirer = null;
      this.#reconciler = null;
      await this.#api?.stop();
      await this.#otlpGrpc?.stop();
      await this.#otlpHttp?.stop();
      await this.#receivePool?.stop();
      if (this.#controller !== null) {
        if (drain) {
          const t0 = performance.now();
          const still = await this.#controller.drain(ReconcileLimits.drainDeadlineMs);
          this.log.event('drained', { ms: Math.round(performance.now() - t0), stillLeading: still });
        }
        this.#controller.stop();
      }
      await this.#driver.stop();
      if (this.#drainScheduled !== null) clearImmediate(this.#drainScheduled);
      this.#drainScheduled = null;
      this.#inbox = [];
      this.#inboxMessages = 0;
      await this.#transport.stop();
      this.log.event('node_stopped', { failure: this.#driver.failure === null ? null : String(this.#driver.failure) });
    })();
    return this.#stopping;
  }

  /**
   * clusterReports gathers every reachable node's view of its groups (this
   * node's included), for the cluster document and `cluster status`.
   */
  clusterReports(): Promise<GroupReport[]> {
    assert(this.#controller !== null, 'the controller exists once started');
    return this.#controller.gatherReports();
  }

  /** removed says whether the meta group no longer records this node. */
  get removed(): boolean {
    return this.#controller?.removed ?? false;
  }

  /**
   * nodes lists the members with their link state as seen from here: the
   * nodes the meta group records (with their life-cycle state as `member`),
   * or the initial members before anything is recorded.
   */
  nodes(): readonly NodeView[] {
    const sm = this.#controller?.metaState() ?? null;
    const byId = new Map<NodeId, { id: NodeId; address: string; member: string }>();
    // Until the placement is recorded the initial members count too (some may not have recorded themselves yet).
    if (sm?.placement() == null) for (const [id, a] of this.#opts.initialCluster) byId.set(id, { id, address: formatHostPort(a), member: 'initial' });
    for (const n of sm?.nodes() ?? []) byId.set(Number(n.id), { id: Number(n.id), address: n.peerAddress, member: n.state });
    return [...byId.values()]
      .sort((a, b) => a.id - b.id)
      .map((r) => ({
        id: r.id,
        address: r.address,
        state: r.id === this.nodeId ? 'self' : (this.#transport.peerStatus(r.id)?.state ?? 'unknown'),
        member: r.member,
      }));
  }

  /** groups reports every hosted group, in ascending id order. */
  groups(): readonly GroupView[] {
    const out: GroupView[] = [];
    for (const group of this.#driver.groups().sort((a, b) => a - b)) {
      const s = this.#driver.status(group);
      if (s === null) continue;
      out.push({
        group,
        term: s.term,
        commit: s.commit,
        applied: s.applied,
        leader: s.lead,
        isLeader: s.role === StateRole.Leader,
        voters: [...s.confState.voters],
        learners: [...s.confState.learners],
        leaderChanges: this.#leaders.get(group)?.changes ?? 0,
        proposals: proposalCounts(this.#driver.groupStats(group)),
      });
    }
    return out;
  }

  /** transportMetrics returns the transport's counters. */
  /** shardParts counts this node's shard parts running now and those their caller cancelled (otlpdb_shard_parts_*). */
  shardParts(): { readonly running: number; readonly cancelled: number } {
    return { running: this.#shardParts.running, cancelled: this.#shardParts.cancelled };
  }

  transportMetrics(): TransportMetrics {
    return this.#transport.metrics();
  }

  /** driverStats returns the driver's counters. */
  driverStats(): Readonly<Record<string, number>> {
    return { ...this.#driver.stats };
  }

  /** inboxDropped counts messages dropped because the receive inbox was full. */
  inboxDropped(): number {
    return this.#inboxDropped;
  }

  /** walSyncHistogram returns the WAL fsync latencies measured by the driver. */
  walSyncHistogram(): WalSyncHistogram {
    return this.#driver.walSyncHistogram();
  }

  /** peerMetrics returns the transport's per-peer counters. */
  peerMetrics(): ReadonlyMap<NodeId, PeerMetrics> {
    return this.#transport.peerMetrics();
  }

  /** clusterGroups gathers every reachable node's view of its groups, for GET /api/v1/cluster. */
  async clusterGroups(): Promise<readonly GroupView[]> {
    const reports = await this.clusterReports();
    return reports.map((r) => ({
      group: r.group,
      term: r.term,
      commit: r.commit,
      applied: r.applied,
      leader: r.leader,
      isLeader: r.isLeader,
      voters: r.voters,
      learners: r.learners,
      leaderChanges: r.node === this.nodeId ? (this.#leaders.get(r.group)?.changes ?? 0) : 0,
    }));
  }

  /**
   * notReadyReason says why the node must not serve although its groups are
   * fine: the meta group has not recorded the placement and this node yet
   * (bootstrap or join in progress), or it no longer records this node.
   */
  notReadyReason(): string | null {
    if (this.removed) return 'this node was removed from the cluster; stop it';
    const sm = this.#controller?.metaState() ?? null;
    if (sm === null) return 'the meta group is not hosted yet';
    if (sm.placement() === null) return 'the cluster is bootstrapping: the shard placement is not recorded yet';
    if (sm.node(String(this.nodeId)) === null) return 'this node is not recorded in the meta group yet';
    return null;
  }

  /** admin sets the transport's fault hooks (PUT/GET/DELETE /api/v1/admin/faults). */
  readonly admin: AdminSource = {
    setFaults: (peer, faults) => this.#transport.setFaults(peer, faults),
    clearFaults: () => this.#transport.clearFaults(),
    faults: () => this.#transport.faults(),
    peers: () => this.nodes().map((n) => n.id).filter((id) => id !== this.nodeId && this.#transport.peerStatus(id) !== undefined),
  };

  /** #wallOffsetMs is the admin offset of this node's wall clock (the jepsen clock nemesis); 0 unless PUT /api/v1/admin/clock set one. */
  #wallOffsetMs = 0;

  /**
   * clock is this node's wall clock, Date.now() plus the admin offset: it
   * stamps lock commands and lock expiry (the proposing leader's clock, see
   * meta-state-machine.ts), the received time of ingested data, the leader
   * time of shard entries, and the retention cutoffs (ShardService). Raft
   * never reads it; its elections and heartbeats run on ticks.
   */
  readonly clock: WallClockSource = {
    offsetMs: () => this.#wallOffsetMs,
    setOffsetMs: (ms) => {
      assert(Number.isSafeInteger(ms) && Math.abs(ms) <= AdminApiLimits.clockOffsetMsMax, 'a bounded integer clock offset');
      this.#wallOffsetMs = ms;
      this.log.event('clock_offset', { offsetMs: ms });
    },
    wallMs: () => Date.now() + this.#wallOffsetMs,
  };

  /** control serves the control KV and locks of the meta group to the HTTP API. */
  readonly control: ControlSource = {
    propose: (c) => this.#proposeMeta(c),
    kvGet: async (key) => {
      const sm = this.#plants.has('read-without-readindex') ? this.#metaLocal() : await this.#metaRead();
      const entry: KvEntry | null = sm.get(key);
      return { entry, revision: sm.kvRevision() };
    },
    kvList: async (prefix, limit) => {
      const sm = await this.#metaRead();
      const l: KvListResult = sm.list(prefix, limit);
      return { ...l, revision: sm.kvRevision() };
    },
    tenant: async (id) => {
      const sm = await this.#metaRead();
      return { settings: sm.tenant(id), configured: sm.tenantIds().includes(id) };
    },
    tenantIds: async () => (await this.#metaRead()).tenantIds(),
    join: (req) => admitNode(this.#membershipDeps(), req),
    leave: (id) => retireNode(this.#membershipDeps(), id),
  };

  #membershipDeps(): MembershipDeps {
    return { metaRead: () => this.#metaRead(), proposeMeta: (c) => this.#proposeMeta(c), log: this.log, metaGroup: this.metaGroup };
  }

  /** metaRead passes a linearizable read barrier on the meta group and returns its state machine. */
  async #metaRead(): Promise<MetaStateMachine> {
    await this.#driver.read(this.metaGroup);
    const sm = this.#driver.stateMachine(this.metaGroup);
    assert(sm instanceof MetaStateMachine, 'group 0 runs the meta state machine');
    return sm;
  }

  /** metaLocal returns the meta state machine as this replica has applied it, without a read barrier: only the planted bug `read-without-readindex` reads it this way. */
  #metaLocal(): MetaStateMachine {
    const sm = this.#driver.stateMachine(this.metaGroup);
    assert(sm instanceof MetaStateMachine, 'group 0 runs the meta state machine');
    return sm;
  }

  /**
   * proposeAsLeader stamps a command with this node's clock, proposes it on
   * the meta group (this node must lead it: else ERR_NOT_LEADER) and
   * resolves with the encoded result.
   */
  async #proposeAsLeader(c: MetaCommand): Promise<Uint8Array> {
    const stamped = stamp(c, this.clock.wallMs());
    const refused = checkMetaCommand(stamped);
    if (refused !== null) return encodeMetaResult(refused);
    const r = await this.#driver.propose(this.metaGroup, encodeMetaCommand(stamped));
    return r.result;
  }

  /**
   * proposeMeta runs a command on the meta group: here when this node leads
   * it, else forwarded to the leader it knows. A refusal by a stale leader
   * (ERR_NOT_LEADER: the proposal was not taken) is retried once with the
   * leader known then; any other failure is the caller's.
   */
  async #proposeMeta(c: MetaCommand): Promise<MetaResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        const st = this.#driver.status(this.metaGroup);
        const leader = st === null ? NONE : st.role === StateRole.Leader ? this.nodeId : st.lead;
        if (leader === NONE) throw new OtlpdbError('ERR_UNAVAILABLE', 'the meta group has no known leader', { group: this.metaGroup });
        const bytes =
          leader === this.nodeId
            ? await this.#proposeAsLeader(c)
            : await this.#transport.call(leader, META_PROPOSE, encodeMetaCommand(c), forwardDeadlineMs);
        return decodeMetaResult(bytes);
      } catch (err) {
        if (attempt === 0 && err instanceof OtlpdbError && err.code === 'ERR_NOT_LEADER') continue;
        throw err;
      }
    }
  }

  /** expireLocks proposes lockExpire while this node leads the meta group and a lease has ended. */
  #expireLocks(): void {
    if (this.#expiring || this.#stopping !== null) return;
    if (this.#driver.status(this.metaGroup)?.role !== StateRole.Leader) return;
    const sm = this.#driver.stateMachine(this.metaGroup);
    if (!(sm instanceof MetaStateMachine)) return;
    const now = this.clock.wallMs();
    if (!sm.locks().some((l) => l.expiresAtMs <= now)) return;
    this.#expiring = true;
    this.#proposeAsLeader({ op: 'lockExpire', nowMs: now })
      .catch((err: unknown) => this.log.event('lock_expire_failed', { error: String(err) }, this.metaGroup))
      .finally(() => {
        this.#expiring = false;
      });
  }

  #enqueue(from: NodeId, msgs: Message[]): void {
    if (this.#stopping !== null) return;
    if (this.#inboxMessages + msgs.length > NodeLimits.inboxMessagesMax) {
      this.#inboxDropped += msgs.length;
      return;
    }
    this.#inbox.push({ from, msgs });
    this.#inboxMessages += msgs.length;
    this.#drainScheduled ??= setImmediate(() => this.#drain());
  }

  #drain(): void {
    this.#drainScheduled = null;
    const batches = this.#inbox;
    this.#inbox = [];
    this.#inboxMessages = 0;
    for (const b of batches) this.#driver.receive(b.from, b.msgs);
    assert(this.#inboxMessages <= NodeLimits.inboxMessagesMax, 'inbox bound');
  }

  /** observe logs leader changes and counts them per group. */
  #observe(): void {
    for (const group of this.#driver.groups()) {
      const s = this.#driver.status(group);
      if (s === null) continue;
      const prev = this.#leaders.get(group);
      if (prev === undefined) {
        this.#leaders.set(group, { leader: s.lead, term: s.term, changes: s.lead === NONE ? 0 : 1 });
        if (s.lead !== NONE) this.log.event('leader_changed', { leader: s.lead, term: s.term }, group);
      } else if (prev.leader !== s.lead) {
        const changes = prev.changes + (s.lead === NONE ? 0 : 1);
        this.#leaders.set(group, { leader: s.lead, term: s.term, changes });
        this.log.event(s.lead === NONE ? 'leader_lost' : 'leader_changed', { leader: s.lead, term: s.term }, group);
      }
    }
  }
}
