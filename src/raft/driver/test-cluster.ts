/**
 * test-cluster.ts — a test-only harness: N MultiRaftDrivers in one process,
 * each on its own FileSystem, joined by an in-memory network (the injected
 * Transport interface), with manual ticks and manual iterations so a seed
 * reproduces a whole run. Not exported from index.ts.
 *
 * Invariants: every loop is bounded (a livelock fails the test); messages to
 * a node that is down are dropped; a crashed node's driver is abandoned
 * without stop(), as a power cut would.
 */
import { assert } from '../../errors.js';
import { CrashFileSystem } from '../../fs/crash-file-system.js';
import type { FileSystem } from '../../fs/file-system.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { StateRole } from '../types.js';
import type { GroupId, Message, MessageType, NodeId } from '../types.js';
import { MultiRaftDriver } from './multi-raft.js';
import type { DriverInit, GroupSpec, MultiRaftDriverOptions, RaftTuning } from './multi-raft.js';
import type { WalOptions } from '../wal/wal.js';
import { KvStateMachine, encodeKvCommand } from './state-machine.js';
import type { AnyStateMachine } from './state-machine.js';

/** AckedPut is a KV put that a leader acknowledged: what every node must apply. */
export interface AckedPut {
  readonly group: GroupId;
  readonly key: string;
  readonly value: string;
}

/** TestClusterOptions configure a TestCluster. */
export interface TestClusterOptions {
  readonly seed: number;
  readonly nodes: readonly NodeId[];
  readonly groups: readonly GroupId[];
  /** makeFs returns each node's file system (default: a CrashFileSystem). */
  readonly makeFs?: (id: NodeId) => FileSystem;
  readonly dirFor?: (id: NodeId) => string;
  readonly driverClass?: new (init: DriverInit) => MultiRaftDriver;
  readonly raft?: RaftTuning;
  readonly snapshotEntries?: number;
  readonly compactKeepEntries?: number;
  /** compactKeepBytesMax is the drivers' option of that name. */
  readonly compactKeepBytesMax?: number;
  /** walSegmentsSoftMax is the drivers' option of that name. */
  readonly walSegmentsSoftMax?: number;
  /** walSegmentsFlushAhead is the drivers' option of that name. */
  readonly walSegmentsFlushAhead?: number;
  /** makeStateMachine, when set, makes node id's state machine of a group (default: a KvStateMachine). */
  readonly makeStateMachine?: (id: NodeId, group: GroupId) => AnyStateMachine;
  /** specsFor, when set, gives node id's configured groups (default: every group of `groups`, every node a voter). */
  readonly specsFor?: (id: NodeId) => GroupSpec[];
  /** wal tunes each node's WAL (tests of purging use tiny segments). */
  readonly wal?: WalOptions;
  /** dropPercent drops that share of messages at random. */
  readonly dropPercent?: number;
  /** pipelined is the drivers' option of that name (default true here, so every driver test runs the pipelined order). */
  readonly pipelined?: boolean;
}

/** TestClusterNode is one node: its file system and, while it is up, its driver. */
export interface TestClusterNode {
  readonly id: NodeId;
  readonly fs: FileSystem;
  driver: MultiRaftDriver | null;
}

const TICK_MS = 100;

/** TestCluster runs MultiRaftDrivers over an in-memory network; see the top of this file. */
export class TestCluster {
  readonly nodes = new Map<NodeId, TestClusterNode>();
  readonly rand: SeededRand;
  /** sentByType counts every message handed to the network, by type. */
  readonly sentByType = new Map<MessageType, number>();
  nowMs = 0;
  #queue: Message[] = [];
  readonly #opts: TestClusterOptions;
  static readonly roundsMax = 20_000;

  constructor(opts: TestClusterOptions) {
    this.#opts = opts;
    this.rand = new SeededRand(opts.seed);
    for (const id of opts.nodes) {
      const fs = opts.makeFs?.(id) ?? new CrashFileSystem(new SeededRand(opts.seed * 31 + id));
      this.nodes.set(id, { id, fs, driver: null });
    }
  }

  node(id: NodeId): TestClusterNode {
    const n = this.nodes.get(id);
    assert(n !== undefined, `node ${id} exists`);
    return n;
  }

  driver(id: NodeId): MultiRaftDriver {
    const d = this.node(id).driver;
    assert(d !== null, `node ${id} is up`);
    return d;
  }

  /** start opens node id's driver (recovering from its file system). */
  async start(id: NodeId): Promise<MultiRaftDriver> {
    const n = this.node(id);
    assert(n.driver === null, 'start a node that is down');
    const o = this.#opts;
    const options: MultiRaftDriverOptions = {
      nodeId: id,
      fs: n.fs,
      dir: o.dirFor?.(id) ?? '/node',
      transport: { send: (msgs) => this.#send(msgs) },
      rand: new SeededRand(o.seed * 7919 + id * 104729 + this.rand.intn(1000)),
      clock: { nowMs: () => this.nowMs },
      groups: o.specsFor?.(id) ?? o.groups.map((group) => ({ group, voters: [...o.nodes] })),
      makeStateMachine: (group) => o.makeStateMachine?.(id, group) ?? new KvStateMachine(),
      tickMs: TICK_MS,
      raft: { electionTicks: 10, heartbeatTicks: 1, ...o.raft },
      ...(o.snapshotEntries === undefined ? {} : { snapshotEntries: o.snapshotEntries }),
      ...(o.compactKeepEntries === undefined ? {} : { compactKeepEntries: o.compactKeepEntries }),
      ...(o.walSegmentsSoftMax === undefined ? {} : { walSegmentsSoftMax: o.walSegmentsSoftMax }),
      ...(o.walSegmentsFlushAhead === undefined ? {} : { walSegmentsFlushAhead: o.walSegmentsFlushAhead }),
      ...(o.compactKeepBytesMax === undefined ? {} : { compactKeepBytesMax: o.compactKeepBytesMax }),
      ...(o.wal === undefined ? {} : { wal: o.wal }),
      pipelined: o.pipelined ?? true,
    };
    const cls = o.driverClass ?? MultiRaftDriver;
    const d = await (cls as unknown as typeof MultiRaftDriver).open.call(cls as typeof MultiRaftDriver, options);
    n.driver = d;
    return d;
  }

  async startAll(): Promise<void> {
    for (const id of this.nodes.keys()) if (this.node(id).driver === null) await this.start(id);
  }

  /** crash cuts node id's power: unsynced writes are lost and its driver is abandoned without stop(). */
  crash(id: NodeId, tornWrites = false): void {
    const n = this.node(id);
    assert(n.fs instanceof CrashFileSystem, 'crash needs a CrashFileSystem');
    if (!n.fs.isDown) n.fs.crash({ tornWrites });
    n.fs.reboot();
    n.driver = null;
  }

  /** stop stops node id cleanly. */
  async stop(id: NodeId): Promise<void> {
    await this.driver(id).stop();
    this.node(id).driver = null;
  }

  #send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      this.sentByType.set(m.type, (this.sentByType.get(m.type) ?? 0) + 1);
      if (this.#opts.dropPercent !== undefined && this.rand.intn(100) < this.#opts.dropPercent) continue;
      this.#queue.push(m);
    }
  }

  /** iterate runs one iteration on every node that is up; a node whose file system fails is crashed. */
  async iterate(): Promise<boolean> {
    let worked = false;
    for (const n of this.nodes.values()) {
      if (n.driver === null) continue;
      try {
        if (await n.driver.runIteration()) worked = true;
      } catch (err) {
        if (n.fs instanceof CrashFileSystem && n.fs.isDown) {
          this.crash(n.id);
          continue;
        }
        throw err;
      }
    }
    return worked;
  }

  /** deliver hands every queued message to its destination (dropped when it is down). */
  deliver(): number {
    const q = this.#queue;
    this.#queue = [];
    for (const m of q) {
      const d = this.nodes.get(m.to)?.driver ?? null;
      if (d !== null) d.receive(m.from, [m]);
    }
    return q.length;
  }

  /** settle iterates and delivers until nothing is left to do. */
  async settle(): Promise<void> {
    for (let r = 0; r < TestCluster.roundsMax; r++) {
      const worked = await this.iterate();
      const delivered = this.deliver();
      if (!worked && delivered === 0) return;
    }
    throw new Error('TestCluster.settle did not quiesce');
  }

  /** tick advances the clock by one tick on every node that is up, then settles. */
  async tick(times = 1): Promise<void> {
    for (let k = 0; k < times; k++) {
      this.nowMs += TICK_MS;
      for (const n of this.nodes.values()) n.driver?.tick();
      await this.settle();
    }
  }

  /** leaderOf returns the node that leads `group` in the highest term among nodes that are up, or null. */
  leaderOf(group: GroupId): NodeId | null {
    let best: { id: NodeId; term: number } | null = null;
    for (const n of this.nodes.values()) {
      const st = n.driver?.status(group);
      if (st === undefined || st === null || st.role !== StateRole.Leader) continue;
      if (best === null || st.term > best.term) best = { id: n.id, term: st.term };
    }
    return best?.id ?? null;
  }

  /** untilLeaders ticks until every group has a leader (bounded). */
  async untilLeaders(ticksMax = 500): Promise<void> {
    for (let k = 0; k < ticksMax; k++) {
      if (this.#opts.groups.every((g) => this.leaderOf(g) !== null)) return;
      await this.tick();
    }
    throw new Error(`no leader in every group after ${ticksMax} ticks`);
  }

  /** caughtUp says whether every up node has applied its group's leader commit index in every group. */
  caughtUp(): boolean {
    for (const g of this.#opts.groups) {
      const lead = this.leaderOf(g);
      if (lead === null) return false;
      const commit = this.driver(lead).status(g)?.commit ?? 0;
      for (const n of this.nodes.values()) {
        if (n.driver !== null && (n.driver.status(g)?.applied ?? 0) < commit) return false;
      }
    }
    return true;
  }

  /** untilCaughtUp ticks until every node applied everything its leaders committed (bounded). */
  async untilCaughtUp(ticksMax = 1000): Promise<void> {
    for (let k = 0; k < ticksMax; k++) {
      if (this.caughtUp()) return;
      await this.tick();
    }
    throw new Error(`nodes did not catch up after ${ticksMax} ticks`);
  }

  /** kv returns node id's KV state machine of `group`. */
  kv(id: NodeId, group: GroupId): KvStateMachine {
    const sm = this.driver(id).stateMachine(group);
    assert(sm instanceof KvStateMachine, 'the cluster runs KV state machines');
    return sm;
  }

  /**
   * proposeRandomPut proposes key=value to the leader of a random group of
   * `groups` (nothing when it has none) and records it in `acked` once the
   * leader acknowledges it; a refusal is legal and not recorded.
   */
  proposeRandomPut(groups: readonly GroupId[], key: string, value: string, acked: AckedPut[]): void {
    const group = groups[this.rand.intn(groups.length)];
    assert(group !== undefined, 'groups is not empty');
    const lead = this.leaderOf(group);
    if (lead === null) return;
    this.driver(lead)
      .propose(group, encodeKvCommand({ op: 'put', key, value }))
      .then(
        () => acked.push({ group, key, value }),
        () => undefined,
      );
  }

  /**
   * durabilityProblems checks, on every node of `ids` (all up and caught
   * up), that every acknowledged put is applied and that no two nodes'
   * state machines of a group differ; it returns what it found, prefixed
   * with `tag` (the seed that reproduces it).
   */
  durabilityProblems(tag: string, ids: readonly NodeId[], groups: readonly GroupId[], acked: readonly AckedPut[]): string[] {
    assert(ids.length > 0, 'at least one node to check');
    const problems: string[] = [];
    for (const a of acked) {
      for (const id of ids) {
        const got = this.kv(id, a.group).get(a.key);
        if (got !== a.value) problems.push(`${tag}: node ${id} group ${a.group} lost acknowledged ${a.key}=${a.value} (has ${got})`);
      }
    }
    for (const g of groups) {
      const ref = JSON.stringify(this.kv(ids[0] as NodeId, g).entries());
      for (const id of ids) if (JSON.stringify(this.kv(id, g).entries()) !== ref) problems.push(`${tag}: node ${id} group ${g} diverged`);
    }
    return problems;
  }
}
