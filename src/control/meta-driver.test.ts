/**
 * meta-driver.test.ts — the meta state machine under the real driver: three
 * MultiRaftDrivers in one process (each on a CrashFileSystem, joined by an
 * in-memory network, manual ticks), group 0 only. Commands go through the
 * leader, results come back through propose(); a follower crashes (power
 * cut) and restarts from its WAL and snapshot; in the end all three
 * replicas hold byte-identical snapshots.
 * NB: src/raft/driver/test-cluster.ts hard-wires KvStateMachine, so this
 * file builds its own small cluster the same way.
 */
import t from 'tap';
import { CrashFileSystem } from '../fs/crash-file-system.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { MultiRaftDriver } from '../raft/driver/multi-raft.js';
import type { MultiRaftDriverOptions } from '../raft/driver/multi-raft.js';
import { StateRole } from '../raft/types.js';
import type { Message, NodeId } from '../raft/types.js';
import { decodeMetaResult, encodeMetaCommand } from './meta-command.js';
import type { MetaCommand, MetaResult } from './meta-command.js';
import { MetaStateMachine } from './meta-state-machine.js';

const META_GROUP = 0;
const TICK_MS = 100;
const ROUNDS_MAX = 20_000;

/** MetaCluster runs N drivers hosting group 0 with MetaStateMachines. */
class MetaCluster {
  readonly ids: readonly NodeId[];
  readonly fs = new Map<NodeId, CrashFileSystem>();
  readonly drivers = new Map<NodeId, MultiRaftDriver | null>();
  readonly rand: SeededRand;
  nowMs = 1_000_000;
  #queue: Message[] = [];
  readonly #seed: number;

  constructor(seed: number, ids: readonly NodeId[]) {
    this.#seed = seed;
    this.ids = ids;
    this.rand = new SeededRand(seed);
    for (const id of ids) {
      this.fs.set(id, new CrashFileSystem(new SeededRand(seed * 31 + id)));
      this.drivers.set(id, null);
    }
  }

  async start(id: NodeId): Promise<void> {
    const options: MultiRaftDriverOptions = {
      nodeId: id,
      fs: this.fs.get(id) as CrashFileSystem,
      dir: '/node',
      transport: { send: (msgs) => void this.#queue.push(...msgs) },
      rand: new SeededRand(this.#seed * 7919 + id * 104729 + this.rand.intn(1000)),
      clock: { nowMs: () => this.nowMs },
      groups: [{ group: META_GROUP, voters: [...this.ids] }],
      makeStateMachine: () => new MetaStateMachine(),
      tickMs: TICK_MS,
      raft: { electionTicks: 10, heartbeatTicks: 1 },
      snapshotEntries: 16,
      compactKeepEntries: 4,
    };
    this.drivers.set(id, await MultiRaftDriver.open(options));
  }

  driver(id: NodeId): MultiRaftDriver {
    const d = this.drivers.get(id);
    if (d === undefined || d === null) throw new Error(`node ${id} is down`);
    return d;
  }

  sm(id: NodeId): MetaStateMachine {
    const sm = this.driver(id).stateMachine(META_GROUP);
    if (!(sm instanceof MetaStateMachine)) throw new Error('group 0 runs a MetaStateMachine');
    return sm;
  }

  crash(id: NodeId): void {
    const fs = this.fs.get(id) as CrashFileSystem;
    fs.crash({ tornWrites: true });
    fs.reboot();
    this.drivers.set(id, null);
  }

  async settle(): Promise<void> {
    for (let r = 0; r < ROUNDS_MAX; r++) {
      let worked = false;
      for (const d of this.drivers.values()) if (d !== null && (await d.runIteration())) worked = true;
      const q = this.#queue;
      this.#queue = [];
      for (const m of q) this.drivers.get(m.to)?.receive(m.from, [m]);
      if (!worked && q.length === 0) return;
    }
    throw new Error('cluster did not quiesce');
  }

  async tick(times = 1): Promise<void> {
    for (let k = 0; k < times; k++) {
      this.nowMs += TICK_MS;
      for (const d of this.drivers.values()) d?.tick();
      await this.settle();
    }
  }

  leader(): NodeId | null {
    let best: { id: NodeId; term: number } | null = null;
    for (const [id, d] of this.drivers) {
      const st = d?.status(META_GROUP);
      if (st === undefined || st === null || st.role !== StateRole.Leader) continue;
      if (best === null || st.term > best.term) best = { id, term: st.term };
    }
    return best?.id ?? null;
  }

  async untilLeader(): Promise<NodeId> {
    for (let k = 0; k < 500; k++) {
      const l = this.leader();
      if (l !== null) return l;
      await this.tick();
    }
    throw new Error('no leader');
  }

  /** propose sends a command through the leader, stamping lock commands with the leader's clock, and drives the cluster until it resolves. */
  async propose(c: MetaCommand): Promise<MetaResult> {
    const lead = await this.untilLeader();
    const p = this.driver(lead).propose(META_GROUP, encodeMetaCommand(c));
    await this.settle();
    for (let k = 0; k < 50; k++) {
      const done = await Promise.race([p.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);
      if (done) break;
      await this.tick();
    }
    return decodeMetaResult((await p).result);
  }

  caughtUp(): boolean {
    const l = this.leader();
    if (l === null) return false;
    const commit = this.driver(l).status(META_GROUP)?.commit ?? 0;
    return [...this.drivers.values()].every((d) => d === null || (d.status(META_GROUP)?.applied ?? 0) >= commit);
  }

  async untilCaughtUp(): Promise<void> {
    for (let k = 0; k < 1000 && !this.caughtUp(); k++) await this.tick();
    if (!this.caughtUp()) throw new Error('not caught up');
  }
}

t.test('meta commands through the real driver; a follower crashes and restarts; replicas agree', async (t) => {
  const c = new MetaCluster(42, [1, 2, 3]);
  for (const id of c.ids) await c.start(id);
  const lead = await c.untilLeader();
  t.comment(`leader ${lead}`);

  const put = await c.propose({ op: 'kvPut', key: 'cfg/a', value: '1', requestId: 'put-1' });
  t.equal(put.kind === 'kv' && put.ok, true, 'put applied');
  const cas = await c.propose({ op: 'kvCas', key: 'cfg/a', expected: '0', value: '2' });
  t.equal(cas.kind === 'kv' && cas.ok, false, 'CAS with a stale expectation fails (409)');
  const retry = await c.propose({ op: 'kvPut', key: 'cfg/a', value: '1', requestId: 'put-1' });
  t.same(retry, put, 'a retried request id gets the first result');

  // The leader stamps lock commands with its own clock.
  const lock = await c.propose({ op: 'lockAcquire', name: 'rebalance', owner: 'node-a', ttlMs: 10_000, nowMs: c.nowMs });
  t.equal(lock.kind === 'lock' && lock.ok && lock.token, 1, 'token 1');
  const held = await c.propose({ op: 'lockAcquire', name: 'rebalance', owner: 'node-b', ttlMs: 10_000, nowMs: c.nowMs });
  t.equal(held.ok, false, 'held → refused (409)');

  // A linearizable read on a follower: read barrier, then the local state.
  const follower = c.ids.find((id) => id !== lead) as NodeId;
  const rp = c.driver(follower).read(META_GROUP);
  await c.tick(3);
  await rp;
  t.equal(c.sm(follower).get('cfg/a')?.value, '1', 'the follower serves the write after a read barrier');

  // Crash a follower (power cut, torn writes), keep writing past several snapshots, restart it.
  c.crash(follower);
  for (let i = 0; i < 40; i++) {
    const r = await c.propose({ op: 'kvPut', key: `k${i % 7}`, value: `v${i}` });
    t.equal(r.ok, true, `put ${i} with a node down`);
  }
  const expired = await c.propose({ op: 'lockExpire', nowMs: c.nowMs + 60_000 });
  t.same(expired, { kind: 'expire', ok: true, expired: 1 });
  const again = await c.propose({ op: 'lockAcquire', name: 'rebalance', owner: 'node-b', ttlMs: 10_000, nowMs: c.nowMs + 60_000 });
  t.equal(again.kind === 'lock' && again.token, 2, 'the next token is 2');
  await c.start(follower);
  await c.untilCaughtUp();
  t.ok(c.driver(follower).stats.snapshotsInstalled >= 1, 'the restarted follower caught up through a meta snapshot (restore)');
  t.ok(c.driver(lead).stats.snapshotsTaken >= 1, 'the leader snapshotted its MetaStateMachine');

  const snaps = c.ids.map((id) => c.sm(id).snapshot());
  const applied = c.ids.map((id) => c.sm(id).appliedIndex());
  t.ok(applied.every((a) => a === applied[0]), `every replica applied ${String(applied[0])}`);
  for (let k = 1; k < snaps.length; k++) t.equal(Buffer.compare(snaps[0] as Uint8Array, snaps[k] as Uint8Array), 0, `replica ${String(c.ids[k])} matches byte for byte`);
  t.equal(c.sm(follower).lockTokenLast(), 2, 'the restarted replica has the token counter');
  t.equal(c.sm(follower).get('k6')?.value, 'v34');
  for (const id of c.ids) await c.driver(id).stop();
});
