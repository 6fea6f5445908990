/**
 * flush-liveness.test.ts — a node's bulk flush (`MultiRaftDriver.flush`,
 * POST /api/v1/admin/flush) does not cost it its leaderships: while a
 * flush runs, iterations go on, so the leader's heartbeats go out and its
 * followers' answers are counted, and check-quorum (thesis §6.2) does not
 * step it down; and flush still covers everything applied before it was
 * called, also when a flush of the group was already running.
 *
 * Three nodes, one durable group (durable-kv-test-util.ts) whose flushes
 * a gate holds for as many ticks as the test likes; every node flushes at
 * once, as the admin flush has them do. The planted bug
 * (flushWaitsInChain: the flush awaited inside the iteration chain, as
 * before s23) must be caught: the leader steps down by check-quorum, its
 * followers' election timers run out, and the driver's counters say so.
 */
import t from 'tap';
import { RaftLimits } from '../../limits.js';
import { StateRole } from '../types.js';
import type { GroupId, NodeId } from '../types.js';
import { DurableKv } from './durable-kv-test-util.js';
import type { DurableKvDisk } from './durable-kv-test-util.js';
import { MultiRaftDriver } from './multi-raft.js';
import type { DriverInit } from './multi-raft.js';
import { encodeKvCommand } from './state-machine.js';
import { TestCluster } from './test-cluster.js';

const SEED = Number(process.env['FLUSH_LIVENESS_SEED'] ?? 23);
const NODES: readonly NodeId[] = [1, 2, 3];
const GROUP: GroupId = 1;
const ELECTION_TICKS = 10;
/** HELD_TICKS is how long a flush is held: three election timeouts, past any randomized one. */
const HELD_TICKS = 3 * 2 * ELECTION_TICKS;
/** ROUNDS_PER_TICK bounds the iterate-and-deliver rounds after each tick. */
const ROUNDS_PER_TICK = 8;

/** Gate holds every flush while `held`, and lets them all go at release(). */
class Gate {
  held = false;
  #waiting: (() => void)[] = [];
  wait = (): Promise<void> => (this.held ? new Promise<void>((resolve) => this.#waiting.push(resolve)) : Promise.resolve());
  release(): void {
    this.held = false;
    for (const w of this.#waiting.splice(0)) w();
  }
}

/** FlushInChainDriver is the planted bug: flush() awaits each group's flush inside the iteration chain. */
class FlushInChainDriver extends MultiRaftDriver {
  protected override flushWaitsInChain(): boolean {
    return true;
  }
}

function immediate(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Setup {
  readonly c: TestCluster;
  readonly gate: Gate;
  readonly sm: (id: NodeId) => DurableKv;
  readonly leader: NodeId;
}

async function setup(driverClass?: new (init: DriverInit) => MultiRaftDriver): Promise<Setup> {
  const gate = new Gate();
  const sms = new Map<NodeId, DurableKv>();
  const disks = new Map<NodeId, DurableKvDisk>(NODES.map((id) => [id, { index: 0, image: new Uint8Array(0) }]));
  const c = new TestCluster({
    seed: SEED,
    nodes: NODES,
    groups: [GROUP],
    snapshotEntries: 100_000,
    raft: { electionTicks: ELECTION_TICKS, heartbeatTicks: 1 },
    ...(driverClass === undefined ? {} : { driverClass }),
    makeStateMachine: (id) => {
      const sm = new DurableKv(disks.get(id) as DurableKvDisk, { flushGate: gate.wait });
      sms.set(id, sm);
      return sm;
    },
  });
  await c.startAll();
  await c.untilLeaders();
  const leader = c.leaderOf(GROUP);
  if (leader === null) throw new Error('no leader');
  for (let k = 0; k < 20; k++) {
    const p = c.driver(leader).propose(GROUP, encodeKvCommand({ op: 'put', key: `k${k}`, value: `v${k}` }));
    await c.settle();
    await p;
  }
  return { c, gate, sm: (id) => sms.get(id) as DurableKv, leader };
}

/**
 * tickHeld ticks every node `times` times, then iterates and delivers, but
 * never waits for an iteration that a held chain keeps from starting (it
 * runs once the chain frees). Returns the errors iterations threw.
 */
async function tickHeld(c: TestCluster, times: number, pending: Map<NodeId, Promise<void>>, errors: unknown[]): Promise<void> {
  for (let k = 0; k < times; k++) {
    c.nowMs += 100;
    for (const id of NODES) c.driver(id).tick();
    for (let r = 0; r < ROUNDS_PER_TICK; r++) {
      for (const id of NODES) {
        if (pending.has(id)) continue;
        const done = (): void => {
          pending.delete(id);
        };
        pending.set(
          id,
          c
            .driver(id)
            .runIteration()
            .then(done, (err: unknown) => {
              errors.push(err);
              done();
            }),
        );
      }
      await immediate();
      c.deliver();
    }
  }
}

interface HeldOutcome {
  readonly stepDowns: number;
  readonly electionTimeouts: number;
  readonly leaderTicksWithoutIteration: number;
  readonly stillLeads: boolean;
  readonly termMoved: boolean;
  readonly proposalDuringFlush: boolean;
}

async function flushHeld(s: Setup): Promise<HeldOutcome> {
  const { c, gate, leader } = s;
  const d = c.driver(leader);
  const before = NODES.map((id) => ({ ...c.driver(id).stats }));
  const term = d.status(GROUP)?.term ?? 0;
  gate.held = true;
  // Every node flushes at once, as POST /api/v1/admin/flush has them do (shard-service.ts flushCluster).
  const flushed = Promise.all(NODES.map((id) => c.driver(id).flush()));
  const pending = new Map<NodeId, Promise<void>>();
  const errors: unknown[] = [];
  // A write during the flush commits when the leader's iterations go on.
  let committed = false;
  d.propose(GROUP, encodeKvCommand({ op: 'put', key: 'during', value: 'flush' })).then(
    () => {
      committed = true;
    },
    () => undefined,
  );
  await tickHeld(c, HELD_TICKS, pending, errors);
  const proposalDuringFlush = committed;
  const stepDowns = NODES.reduce((n, id, k) => n + c.driver(id).stats.checkQuorumStepDowns - (before[k]?.checkQuorumStepDowns ?? 0), 0);
  const electionTimeouts = NODES.reduce((n, id, k) => n + c.driver(id).stats.electionTimeouts - (before[k]?.electionTimeouts ?? 0), 0);
  const st = d.status(GROUP);
  const out: HeldOutcome = {
    stepDowns,
    electionTimeouts,
    leaderTicksWithoutIteration: d.stats.ticksWithoutIterationMax,
    stillLeads: st?.role === StateRole.Leader,
    termMoved: (st?.term ?? 0) !== term,
    proposalDuringFlush,
  };
  gate.release();
  const res = await flushed;
  await Promise.all(pending.values());
  t.same(errors, [], 'no iteration failed');
  t.same(
    res.map((r) => r.groups),
    NODES.map(() => 1),
    'every node\'s flush reports its durable group',
  );
  await c.tick(2 * ELECTION_TICKS);
  return out;
}

t.test('a leader keeps its group through a long flush: heartbeats go on, check-quorum holds', async (t) => {
  const s = await setup();
  const appliedAtCall = s.c.driver(s.leader).status(GROUP)?.applied ?? 0;
  const o = await flushHeld(s);
  t.comment(JSON.stringify(o));
  t.equal(o.stepDowns, 0, 'no leader stepped down by check-quorum');
  t.equal(o.electionTimeouts, 0, 'no election timer ran out');
  t.ok(o.stillLeads && !o.termMoved, 'the leader still leads, in the same term');
  t.ok(o.leaderTicksWithoutIteration < ELECTION_TICKS, `iterations ran during the flush (at most ${o.leaderTicksWithoutIteration} ticks without one)`);
  t.ok(o.proposalDuringFlush, 'a write made during the flush committed before it ended');
  t.ok(s.sm(s.leader).durableIndex() >= appliedAtCall, 'the flush covers what was applied before it was called');
  t.ok(ELECTION_TICKS <= RaftLimits.electionTicks, 'the test runs at most the product election timeout');
});

t.test('planted: a flush awaited inside the iteration chain costs the leadership, and the counters say so', async (t) => {
  const s = await setup(FlushInChainDriver);
  const o = await flushHeld(s);
  t.comment(JSON.stringify(o));
  t.ok(o.stepDowns >= 1, 'the leader stepped down by check-quorum (counted)');
  t.ok(o.electionTimeouts >= 1, 'followers\' election timers ran out (counted)');
  t.ok(o.leaderTicksWithoutIteration >= ELECTION_TICKS, `the leader went ${o.leaderTicksWithoutIteration} ticks without an iteration`);
  t.notOk(o.proposalDuringFlush, 'a write made during the flush waited for it');
  t.ok(!o.stillLeads || o.termMoved, 'the leadership was lost');
});

t.test('flush waits out a flush already running, then covers what was applied at the call', async (t) => {
  const s = await setup();
  const { c, gate, leader } = s;
  const d = c.driver(leader);
  gate.held = true;
  const first = d.flush(); // Its group flush starts at the applied index of now, and is held.
  const pending = new Map<NodeId, Promise<void>>();
  const errors: unknown[] = [];
  await tickHeld(c, 1, pending, errors);
  for (let k = 0; k < 5; k++) {
    const p = d.propose(GROUP, encodeKvCommand({ op: 'put', key: `later${k}`, value: 'x' }));
    await tickHeld(c, 1, pending, errors);
    await p;
  }
  const appliedAtCall = d.status(GROUP)?.applied ?? 0;
  t.ok(s.sm(leader).durableIndex() < appliedAtCall, 'the running flush does not cover the later writes');
  const second = d.flush();
  await tickHeld(c, 1, pending, errors);
  gate.release();
  await first;
  await second;
  await Promise.all(pending.values());
  t.same(errors, [], 'no iteration failed');
  t.ok(s.sm(leader).durableIndex() >= appliedAtCall, `the second flush covers index ${appliedAtCall} (durable ${s.sm(leader).durableIndex()})`);
});

t.test('a head at its hard bound pauses only its own apply: its group keeps its leader, other groups keep writing', async (t) => {
  const BOUND = 8;
  const OTHER: GroupId = 2;
  const gate = new Gate();
  const disks = new Map<string, DurableKvDisk>();
  const sms = new Map<string, DurableKv>();
  const c = new TestCluster({
    seed: SEED,
    nodes: NODES,
    groups: [GROUP, OTHER],
    snapshotEntries: 100_000,
    raft: { electionTicks: ELECTION_TICKS, heartbeatTicks: 1 },
    makeStateMachine: (id, group) => {
      const key = `${id}/${group}`;
      if (!disks.has(key)) disks.set(key, { index: 0, image: new Uint8Array(0) });
      const sm = new DurableKv(disks.get(key) as DurableKvDisk, { flushGate: gate.wait, ...(group === GROUP ? { headEntriesHardMax: BOUND } : {}) });
      sms.set(key, sm);
      return sm;
    },
  });
  await c.startAll();
  await c.untilLeaders();
  const lead = c.leaderOf(GROUP) as NodeId;
  const otherLead = c.leaderOf(OTHER) as NodeId;
  const term = c.driver(lead).status(GROUP)?.term;
  gate.held = true;
  const pending = new Map<NodeId, Promise<void>>();
  const errors: unknown[] = [];
  // Fill group 1's head past its bound: its apply pauses while the (held) flush runs.
  const full: Promise<unknown>[] = [];
  for (let k = 0; k < 3 * BOUND; k++) {
    full.push(c.driver(lead).propose(GROUP, encodeKvCommand({ op: 'put', key: `g${k}`, value: 'x' }), 60_000).catch((err: unknown) => err));
    await tickHeld(c, 1, pending, errors);
  }
  const before = NODES.map((id) => c.driver(id).stats.checkQuorumStepDowns + c.driver(id).stats.electionTimeouts);
  let otherWrites = 0;
  for (let k = 0; k < HELD_TICKS; k++) {
    void c
      .driver(otherLead)
      .propose(OTHER, encodeKvCommand({ op: 'put', key: `o${k}`, value: 'y' }))
      .then(() => otherWrites++, () => undefined);
    await tickHeld(c, 1, pending, errors);
  }
  const applied = c.driver(lead).status(GROUP)?.applied ?? 0;
  const st = c.driver(lead).status(GROUP);
  const o = {
    applied,
    durable: sms.get(`${lead}/${GROUP}`)?.durableIndex() ?? -1,
    waits: c.driver(lead).stats.applyFlushWaits,
    ticksWithoutIteration: c.driver(lead).stats.ticksWithoutIterationMax,
    lostQuorumOrTimedOut: NODES.reduce((n, id, k) => n + c.driver(id).stats.checkQuorumStepDowns + c.driver(id).stats.electionTimeouts - (before[k] ?? 0), 0),
    otherWrites,
  };
  t.comment(JSON.stringify(o));
  t.ok(o.waits >= 1, 'the apply paused for the flush (counted)');
  t.ok(o.applied - o.durable <= 2 * BOUND, 'the paused group applied at most one Ready past its bound while its flush ran');
  t.ok(st?.role === StateRole.Leader && st.term === term, 'its leader still leads, in the same term');
  t.equal(o.lostQuorumOrTimedOut, 0, 'no step-down, no election timeout');
  t.ok(o.ticksWithoutIteration < ELECTION_TICKS, 'iterations went on');
  t.ok(o.otherWrites >= HELD_TICKS - 2, `the other group kept writing (${o.otherWrites} of ${HELD_TICKS})`);
  gate.release();
  await Promise.all(pending.values());
  await c.tick(2 * ELECTION_TICKS);
  const results = await Promise.all(full);
  t.same(results.filter((r) => r instanceof Error), [], 'every write to the paused group committed once its flush ended');
  t.ok((c.driver(lead).status(GROUP)?.applied ?? 0) > applied, 'and its apply went on');
  t.same(errors, [], 'no iteration failed');
});
