import t from 'tap';
import type { CrashFileSystem } from '../../fs/crash-file-system.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { MemoryStorage } from '../memory-storage.js';
import { RawNode } from '../raw-node.js';
import type { ReadyOptions } from '../raw-node.js';
import type { NodeId } from '../types.js';
import { MultiRaftDriver } from './multi-raft.js';
import { encodeKvCommand } from './state-machine.js';
import { TestCluster } from './test-cluster.js';
import type { AckedPut, TestClusterOptions } from './test-cluster.js';

// Pipelining (multi-raft.ts): committed entries that were durable before an
// iteration apply while its fsync is in flight; nothing of the iteration's
// own entries is applied, acknowledged or sent before that fsync completes.

function put(key: string, value: string): Uint8Array {
  return encodeKvCommand({ op: 'put', key, value });
}

/**
 * AckBeforeSyncDriver is a planted bug: it cuts its Readies without
 * stableCommittedOnly, so a single-voter leader applies (and acknowledges)
 * the entries it has just written while their fsync is still in flight.
 */
class AckBeforeSyncDriver extends MultiRaftDriver {
  protected override readyOptions(): ReadyOptions {
    return {};
  }
}

/** GatedSyncDriver holds every WAL sync until the test opens the gate (a slow disk, deterministic). */
class GatedSyncDriver extends MultiRaftDriver {
  static gate: Promise<void> = Promise.resolve();
  protected override async syncWal(): Promise<void> {
    await GatedSyncDriver.gate;
    await super.syncWal();
  }
}

t.test('RawNode.ready({ stableCommittedOnly }): a single voter applies an entry only after an advance reported it persisted', async (t) => {
  const storage = new MemoryStorage({ voters: [1], learners: [] });
  const raw = new RawNode({ id: 1, group: 3, storage, rand: new SeededRand(5), applied: 1 });
  raw.campaign();
  const opts = { stableCommittedOnly: true };
  const drive = (): void => {
    while (raw.hasReady()) {
      const rd = raw.ready(opts);
      if (rd.entries.length > 0) storage.append(rd.entries);
      if (rd.hardState !== null) storage.setHardState(rd.hardState);
      raw.advance();
    }
  };
  drive();
  t.equal(raw.propose(new TextEncoder().encode('x')), null);
  const st = raw.basicStatus();
  t.equal(st.commit, st.lastIndex, 'a single voter commits its entry at once (it counts itself when it appends)');
  const rd = raw.ready(opts);
  t.equal(rd.entries.length, 1, 'the Ready carries the new entry to persist');
  t.same(rd.committedEntries, [], 'but not to apply: it is not persisted yet');
  storage.append(rd.entries);
  raw.advance();
  t.equal(raw.hasReady(), true, 'the committed, now persisted entry makes the next Ready');
  const next = raw.ready(opts);
  t.same(
    next.committedEntries.map((e) => e.index),
    [st.lastIndex],
    'the next Ready applies it',
  );
  raw.advance();
  t.equal(raw.hasReady(), false, 'and the node quiesces');
  // Without the option the same entry would be applied from its own Ready (the serial driver's cut).
  raw.propose(new TextEncoder().encode('y'));
  const plain = raw.ready();
  t.same(
    plain.committedEntries.map((e) => e.index),
    plain.entries.map((e) => e.index),
    'the default cut hands out the unpersisted entry to apply',
  );
});

t.test('driver: no proposal is acknowledged while the fsync of its entry is in flight; older entries apply meanwhile', async (t) => {
  const c = new TestCluster({ seed: 21, nodes: [1], groups: [0, 1, 2], driverClass: GatedSyncDriver });
  await c.startAll();
  await c.untilLeaders();
  const d = c.driver(1);
  let open: () => void = () => undefined;
  const acked: string[] = [];
  const first = [0, 1, 2].map((g) => d.propose(g, put(`a${g}`, '1')).then(() => acked.push(`a${g}`)));
  GatedSyncDriver.gate = new Promise((resolve) => {
    open = resolve;
  });
  const it1 = d.runIteration();
  for (let k = 0; k < 20; k++) await new Promise((resolve) => setImmediate(resolve));
  t.same(acked, [], 'nothing acknowledged while the first fsync is held');
  open();
  await it1;
  await new Promise((resolve) => setImmediate(resolve));
  t.same(acked, [], 'still nothing: the entries apply in the next iteration, once their advance reported them durable');
  // Second iteration: new proposals are written and fsynced while the first ones apply.
  const second = [0, 1, 2].map((g) => d.propose(g, put(`b${g}`, '2')).then(() => acked.push(`b${g}`)));
  GatedSyncDriver.gate = new Promise((resolve) => {
    open = resolve;
  });
  const during = d.stats.appliesDuringSync;
  const it2 = d.runIteration();
  for (let k = 0; k < 20; k++) await new Promise((resolve) => setImmediate(resolve));
  t.same(acked.sort(), ['a0', 'a1', 'a2'], 'the durable entries applied and were acknowledged during the held fsync');
  t.ok(d.stats.appliesDuringSync - during >= 3, 'counted as applies during the sync');
  open();
  await it2;
  await c.settle();
  await Promise.all([...first, ...second]);
  t.same(acked.sort(), ['a0', 'a1', 'a2', 'b0', 'b1', 'b2'], 'every proposal acknowledged in the end');
  GatedSyncDriver.gate = Promise.resolve();
});

interface CrashRun {
  readonly acked: number;
  readonly crashesInIteration: number;
  readonly problems: string[];
}

/**
 * crashRun drives a random workload with power cuts armed inside the file
 * system (`crashAfterOps`: the cut falls on a WAL write or fsync in the
 * middle of an iteration, after the overlapped apply ran), restarts, a final
 * power cut of every node, and then checks that every acknowledged proposal
 * is applied on every node and no two nodes diverge.
 */
async function crashRun(
  seed: number,
  nodes: readonly NodeId[],
  driverClass?: TestClusterOptions['driverClass'],
  pipelined = true,
): Promise<CrashRun> {
  const groups = [0, 1, 2];
  const c = new TestCluster({ seed, nodes, groups, pipelined, ...(driverClass === undefined ? {} : { driverClass }) });
  const acked: AckedPut[] = [];
  const problems: string[] = [];
  let crashesInIteration = 0;
  const fsOf = (id: NodeId): CrashFileSystem => c.node(id).fs as CrashFileSystem;
  try {
    await c.startAll();
    await c.untilLeaders();
    let n = 0;
    for (let step = 0; step < 160; step++) {
      const r = c.rand.intn(100);
      if (r < 45) {
        c.proposeRandomPut(groups, `s${seed}-${n++}`, `v${step}`, acked);
      } else if (r < 60) {
        c.nowMs += 100;
        for (const node of c.nodes.values()) node.driver?.tick();
      } else if (r < 90) {
        const up = [...c.nodes.values()].filter((x) => x.driver !== null).length;
        await c.iterate();
        crashesInIteration += up - [...c.nodes.values()].filter((x) => x.driver !== null).length;
        c.deliver();
      } else if (r < 95) {
        const id = nodes[c.rand.intn(nodes.length)] as NodeId;
        if (c.node(id).driver !== null) fsOf(id).crashAfterOps(1 + c.rand.intn(3));
      } else {
        for (const x of c.nodes.values()) {
          if (x.driver !== null) continue;
          fsOf(x.id).disarm();
          await c.start(x.id);
        }
      }
    }
    for (const id of nodes) fsOf(id).disarm();
    for (const x of c.nodes.values()) if (x.driver === null) await c.start(x.id);
    await c.settle();
    // Power cut of every node: only what was fsynced survives.
    for (const id of nodes) c.crash(id);
    const ackedAtCrash = [...acked];
    await c.startAll();
    await c.untilLeaders();
    await c.untilCaughtUp();
    problems.push(...c.durabilityProblems(`seed ${seed}`, nodes, groups, ackedAtCrash));
    return { acked: ackedAtCrash.length, crashesInIteration, problems };
  } catch (err) {
    problems.push(`seed ${seed}: ${String(err)}`);
    return { acked: acked.length, crashesInIteration, problems };
  }
}

t.test('crashes inside an iteration (1 node and 3 nodes): every acknowledged proposal survives (seeded)', async (t) => {
  for (const nodes of [[1], [1, 2, 3]]) {
    let acked = 0;
    let cuts = 0;
    for (const seed of [31, 32, 33, 34, 35]) {
      const run = await crashRun(seed, nodes);
      acked += run.acked;
      cuts += run.crashesInIteration;
      t.same(run.problems, [], `${nodes.length} node(s), seed ${seed} (${run.acked} acknowledged, ${run.crashesInIteration} cuts inside an iteration)`);
    }
    t.ok(acked > 30, `${acked} acknowledged proposals checked on ${nodes.length} node(s)`);
    t.ok(cuts > 3, `${cuts} power cuts fell inside an iteration on ${nodes.length} node(s)`);
  }
});

t.test('the serial order (pipelined: false) passes the same crash test', async (t) => {
  for (const nodes of [[1], [1, 2, 3]]) {
    for (const seed of [31, 32]) {
      const run = await crashRun(seed, nodes, undefined, false);
      t.same(run.problems, [], `${nodes.length} node(s), seed ${seed}, serial (${run.acked} acknowledged)`);
    }
  }
});

t.test('planted bug: acknowledging before the fsync completes is caught by the crash test', async (t) => {
  let caught = 0;
  const seeds = [31, 32, 33, 34, 35];
  for (const seed of seeds) {
    const run = await crashRun(seed, [1], AckBeforeSyncDriver);
    if (run.problems.length > 0) caught++;
    t.comment(`seed ${seed}: ${run.problems.length} problems, e.g. ${run.problems[0] ?? 'none'}`);
  }
  t.ok(caught > 0, `the crash test failed ${caught} of ${seeds.length} seeds with the planted bug (reproduce: crashRun(seed, [1], AckBeforeSyncDriver))`);
});
