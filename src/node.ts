/**
 * node.ts — one otlpdb node process: the multi-raft driver on the real file
 * system, the peer transport that carries its messages, and the HTTP API.
 *
 * Groups: group 0 is the meta group, on every initial member, with the
 * first NodeDefaults.metaVotersMax ids (ascending) as voters and the rest as
 * learners; shard groups 1..S are on every member, all voters.
 * Group 0 runs the MetaStateMachine (control KV, locks, membership);
 * shard groups run the test KvStateMachine for now.
 * NB: every node hosts every shard until src/partition places shards.
 *
 * Ownership and invariants:
 * - the node owns its driver, transport, API server and observer timer;
 *   stop() ends them in that order (API first, so nothing new is served;
 *   then the driver, which syncs the WAL; then the transport);
 * - the transport's onMessages runs inside a socket read, so messages are
 *   queued (#inbox, at most inboxMessagesMax messages; the excess dropped
 *   and counted, Raft retransmits) and handed to driver.receive from a
 *   setImmediate callback;
 * - meta commands (the HTTP control routes) are proposed on the meta
 *   leader: a follower forwards them with the `meta.propose` call, and the
 *   leader stamps lock commands with its own wall clock (Date.now()) just
 *   before proposing, so every stamp comes from the proposing leader;
 *   while it leads, the node proposes lockExpire every lockExpireIntervalMs
 *   when a held lock's lease has ended (at most one such proposal at a time);
 * - recovery is the WAL's: starting again with the same id and data dir
 *   restores every group's log, hard state and snapshot.
 */
import { randomInt } from 'node:crypto';
import { OtlpdbError, assert } from './errors.js';
import { ApiServer } from './api/server.js';
import type { ApiSource, ControlSource, GroupView, NodeView } from './api/types.js';
import { MetaStateMachine, checkMetaCommand, decodeMetaCommand, decodeMetaResult, encodeMetaCommand, encodeMetaResult } from './control/index.js';
import type { KvEntry, KvListResult, MetaCommand, MetaResult } from './control/index.js';
import { NodeFileSystem } from './fs/node-file-system.js';
import { SeededRand } from './fs/seeded-rand.js';
import { DriverLimits, NodeDefaults, NodeLimits } from './limits.js';
import { checkMembership, formatHostPort } from './node-config.js';
import type { HostPort } from './node-config.js';
import { NodeLog, silentLog } from './node-log.js';
import type { LogSink } from './node-log.js';
import { MultiRaftDriver } from './raft/driver/multi-raft.js';
import type { GroupSpec } from './raft/driver/multi-raft.js';
import { KvStateMachine } from './raft/driver/state-machine.js';
import { NONE, StateRole } from './raft/types.js';
import type { GroupId, Message, NodeId } from './raft/types.js';
import { PeerTransport } from './transport/peer-transport.js';
import type { TransportMetrics } from './transport/transport-types.js';


/** OtlpdbNodeOptions configure OtlpdbNode.start. */
export interface OtlpdbNodeOptions {
  readonly id: NodeId;
  /** dataDir holds the driver's WAL and snapshots. */
  readonly dataDir: string;
  /** peer is where this node listens for and dials from for peers; it must match its initialCluster entry. */
  readonly peer: HostPort;
  /** api is where the HTTP API listens (port 0: the OS chooses; see apiAddress()). */
  readonly api: HostPort;
  readonly initialCluster: ReadonlyMap<NodeId, HostPort>;
  /** shards is the number of shard groups (default NodeDefaults.shardCount). */
  readonly shards?: number;
  readonly tickMs?: number;
  readonly clusterId?: string;
  /** seed seeds election jitter and reconnect backoff (default: random, logged). */
  readonly seed?: number;
  readonly log?: LogSink;
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

/** groupSpecs returns the groups a node hosts for an initial cluster: meta group 0 and shards 1..shards. */
export function groupSpecs(members: readonly NodeId[], shards: number): GroupSpec[] {
  assert(members.length >= 1, 'a cluster has a member');
  assert(Number.isSafeInteger(shards) && shards >= 1, 'shards >= 1');
  const ids = [...members].sort((a, b) => a - b);
  const metaVoters = ids.slice(0, NodeDefaults.metaVotersMax);
  const metaLearners = ids.slice(NodeDefaults.metaVotersMax);
  const specs: GroupSpec[] = [{ group: NodeDefaults.metaGroup, voters: metaVoters, learners: metaLearners }];
  for (let g = 1; g <= shards; g++) specs.push({ group: g, voters: ids });
  return specs;
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
  #api: ApiServer | null = null;
  #inbox: InboxBatch[] = [];
  #inboxMessages = 0;
  #inboxDropped = 0;
  #drainScheduled: NodeJS.Immediate | null = null;
  #observer: NodeJS.Timeout | null = null;
  #expirer: NodeJS.Timeout | null = null;
  #expiring = false;
  readonly #leaders = new Map<GroupId, { leader: NodeId; term: number; changes: number }>();
  #stopping: Promise<void> | null = null;

  private constructor(opts: OtlpdbNodeOptions, driver: MultiRaftDriver, transport: PeerTransport, log: NodeLog, seed: number) {
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
    checkMembership(opts.id, opts.peer, opts.initialCluster);
    const shards = opts.shards ?? NodeDefaults.shardCount;
    if (!Number.isSafeInteger(shards) || shards < 1 || shards > NodeDefaults.shardCountMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `shards must be in [1, ${NodeDefaults.shardCountMax}]`, { shards });
    }
    const tickMs = opts.tickMs ?? NodeDefaults.tickMs;
    if (!Number.isSafeInteger(tickMs) || tickMs < NodeDefaults.tickMsMin || tickMs > NodeDefaults.tickMsMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `tick ms must be in [${NodeDefaults.tickMsMin}, ${NodeDefaults.tickMsMax}]`, { tickMs });
    }
    const seed = opts.seed ?? randomInt(0, 0x7fff_ffff);
    const log = new NodeLog(opts.id, opts.log ?? silentLog);
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
    const specs = groupSpecs([...opts.initialCluster.keys()], shards);
    const driver = await MultiRaftDriver.open({
      nodeId: opts.id,
      fs: new NodeFileSystem(),
      dir: opts.dataDir,
      transport: { send: (msgs) => transport.send(msgs) },
      rand: new SeededRand(seed),
      clock: { nowMs: () => performance.now() },
      groups: specs,
      makeStateMachine: (group) => (group === NodeDefaults.metaGroup ? new MetaStateMachine() : new KvStateMachine()),
      scheduler: {
        every: (ms, fn) => {
          const timer = setInterval(fn, ms);
          return { cancel: () => clearInterval(timer) };
        },
      },
      tickMs,
    });
    const node = new OtlpdbNode(opts, driver, transport, log, seed);
    transport.onMessages((from, msgs) => node.#enqueue(from, msgs));
    transport.handle(META_PROPOSE, async (payload) => {
      const c = decodeMetaCommand(payload);
      if ('kind' in c) return encodeMetaResult(c);
      return node.#proposeAsLeader(c);
    });
    // NB: the driver does not expose RawNode.reportUnreachable yet; the
    // leader's probes find the peer again on their own, so only log it.
    transport.onUnreachable((peer) => log.event('peer_unreachable', { peer }));
    try {
      await transport.start();
      node.#api = await ApiServer.start({ host: opts.api.host, port: opts.api.port, source: node });
    } catch (err) {
      await node.stop();
      throw err;
    }
    node.#observer = setInterval(() => node.#observe(), tickMs);
    node.#observer.unref();
    node.#expirer = setInterval(() => node.#expireLocks(), lockExpireIntervalMs);
    node.#expirer.unref();
    // The caller logs the start (the CLI prints its `started` line first).
    return node;
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
    if (this.#stopping !== null) return this.#stopping;
    this.#stopping = (async () => {
      if (this.#observer !== null) clearInterval(this.#observer);
      this.#observer = null;
      if (this.#expirer !== null) clearInterval(this.#expirer);
      this.#expirer = null;
      await this.#api?.stop();
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

  /** nodes lists the initial members with their link state as seen from here. */
  nodes(): readonly NodeView[] {
    return [...this.#opts.initialCluster]
      .sort(([a], [b]) => a - b)
      .map(([id, a]) => ({
        id,
        address: formatHostPort(a),
        state: id === this.nodeId ? 'self' : (this.#transport.peerStatus(id)?.state ?? 'unknown'),
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
      });
    }
    return out;
  }

  /** transportMetrics returns the transport's counters. */
  transportMetrics(): TransportMetrics {
    return this.#transport.metrics();
  }

  /** driverStats returns the driver's counters plus the node's inbox drops. */
  driverStats(): Readonly<Record<string, number>> {
    return { ...this.#driver.stats, inboxDropped: this.#inboxDropped };
  }

  /** control serves the control KV and locks of the meta group to the HTTP API. */
  readonly control: ControlSource = {
    propose: (c) => this.#proposeMeta(c),
    kvGet: async (key) => {
      const sm = await this.#metaRead();
      const entry: KvEntry | null = sm.get(key);
      return { entry, revision: sm.kvRevision() };
    },
    kvList: async (prefix, limit) => {
      const sm = await this.#metaRead();
      const l: KvListResult = sm.list(prefix, limit);
      return { ...l, revision: sm.kvRevision() };
    },
  };

  /** metaRead passes a linearizable read barrier on the meta group and returns its state machine. */
  async #metaRead(): Promise<MetaStateMachine> {
    await this.#driver.read(this.metaGroup);
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
    const stamped = stamp(c, Date.now());
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
    const now = Date.now();
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
