import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { isOtlpdbError } from '../../errors.js';
import { NodeFileSystem } from '../../fs/node-file-system.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { StateRole } from '../types.js';
import type { GroupId, Message, NodeId } from '../types.js';
import { MultiRaftDriver } from './multi-raft.js';
import { KvStateMachine, decodeKvResult, encodeKvCommand } from './state-machine.js';

// The mode a node process runs in: the driver ticks itself on a real timer
// and runs iterations whenever there is work, on the real file system. No
// assertion is about speed; waiting loops are bounded in count, and the tap
// timeout bounds the whole file.

const NODES: readonly NodeId[] = [1, 2, 3];
const GROUPS: readonly GroupId[] = [0, 1, 2];
const TICK_MS = 10;
const WAIT_ROUNDS_MAX = 1000;

/** openSelfRunning opens node `id`'s driver on the real disk under `root`, ticking itself on a real timer. */
function openSelfRunning(root: string, id: NodeId, seed: number, groups: readonly GroupId[], send: (msgs: readonly Message[]) => void): Promise<MultiRaftDriver> {
  return MultiRaftDriver.open({
    nodeId: id,
    fs: new NodeFileSystem(),
    dir: join(root, `n${id}`),
    transport: { send },
    rand: new SeededRand(seed),
    clock: { nowMs: () => performance.now() },
    groups: groups.map((group) => ({ group, voters: NODES })),
    makeStateMachine: () => new KvStateMachine(),
    scheduler: {
      every: (ms, fn) => {
        const timer = setInterval(fn, ms);
        return { cancel: () => clearInterval(timer) };
      },
    },
    tickMs: TICK_MS,
  });
}

t.test('self-running drivers on real disks elect leaders, apply proposals everywhere, and stop cleanly', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-driver-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const drivers = new Map<NodeId, MultiRaftDriver>();
  const deliver = (msgs: readonly Message[]): void => {
    // Asynchronous delivery, as a socket would do it.
    setImmediate(() => {
      const byTo = new Map<NodeId, Message[]>();
      for (const m of msgs) byTo.set(m.to, [...(byTo.get(m.to) ?? []), m]);
      for (const [to, batch] of byTo) drivers.get(to)?.receive(batch[0]?.from ?? 0, batch);
    });
  };
  for (const id of NODES) {
    const d = await openSelfRunning(root, id, 1000 + id, GROUPS, deliver);
    drivers.set(id, d);
  }
  t.teardown(async () => {
    for (const d of drivers.values()) await d.stop();
  });

  // Propose through whichever node leads, following ERR_NOT_LEADER hints.
  const propose = async (group: GroupId, key: string, value: string): Promise<void> => {
    let target: NodeId = 1;
    for (let round = 0; round < WAIT_ROUNDS_MAX; round++) {
      try {
        const r = await (drivers.get(target) as MultiRaftDriver).propose(group, encodeKvCommand({ op: 'put', key, value }));
        t.equal(decodeKvResult(r.result).ok, true);
        return;
      } catch (err) {
        if (!isOtlpdbError(err) || !err.retryable) throw err;
        const hint = err.details.leaderHint;
        target = typeof hint === 'number' && drivers.has(hint) ? hint : ((target % NODES.length) + 1);
        await sleep(TICK_MS);
      }
    }
    t.fail(`no leader accepted ${key} in group ${group}`);
  };
  for (let k = 0; k < 20; k++) for (const g of GROUPS) await propose(g, `k${k}`, `v${k}`);

  // Every node applies everything (followers learn the commit index by heartbeat).
  let applied = false;
  for (let round = 0; round < WAIT_ROUNDS_MAX && !applied; round++) {
    applied = [...drivers.values()].every((d) =>
      GROUPS.every((g) => (d.stateMachine(g) as KvStateMachine).get('k19') === 'v19'),
    );
    if (!applied) await sleep(TICK_MS);
  }
  t.ok(applied, 'every node applied every group');
  for (const d of drivers.values()) t.equal(d.failure, null, `node ${d.nodeId} never failed`);
  // A timer stall on a loaded machine may start an election; wait it out.
  const oneLeaderEach = (): boolean =>
    GROUPS.every((g) => [...drivers.values()].filter((d) => d.status(g)?.role === StateRole.Leader).length === 1);
  let stable = oneLeaderEach();
  for (let round = 0; round < WAIT_ROUNDS_MAX && !stable; round++) {
    await sleep(TICK_MS);
    stable = oneLeaderEach();
  }
  t.ok(stable, 'every group has exactly one leader');
});

t.test('a driver stopped by an error says so through whenFailed (a node fails stop on it), and refuses proposals after', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-driver-fail-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  // The first message this node sends (its pre-vote) breaks the transport's contract.
  const d = await openSelfRunning(root, 1, 7, [0], () => {
    throw new Error('planted: the transport refuses the batch');
  });
  t.teardown(() => d.stop());
  t.equal(d.campaign(0), null, 'a campaign is accepted');
  const err = await d.whenFailed();
  t.match(String(err), /planted: the transport refuses the batch/, 'whenFailed resolves with the error that stopped the driver');
  t.equal(d.failure, err, 'and failure names the same error');
  const p = await d.propose(0, encodeKvCommand({ op: 'put', key: 'k', value: 'v' })).catch((e: unknown) => e);
  t.ok(isOtlpdbError(p, 'ERR_UNAVAILABLE'), 'a proposal after the failure is refused, retryable');
});
