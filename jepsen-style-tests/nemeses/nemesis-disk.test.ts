/**
 * nemesis-disk.test.ts — the disk nemesis judges a node's restart on a
 * damaged WAL the way DESIGN.md §3 asks, against a stand-in cluster whose
 * "node" is scripted (ready or exited, with a log) over a real WAL written
 * by src/raft/wal: a node that stops with ERR_CORRUPTION on a byte flipped
 * before the tail is what must happen (then the byte is restored and the
 * node restarted); planted bugs — a node that starts on that log anyway, or
 * one that keeps a torn tail — are reported as anomalies.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { NodeFileSystem } from '../../src/fs/node-file-system.js';
import { Wal } from '../../src/raft/wal/wal.js';
import { ents } from '../../src/raft/wal/wal-test-util.js';
import { HistoryRecorder } from '../harness/history.js';
import type { LiveCluster } from '../harness/live-cluster.js';
import type { ScheduledFault } from '../harness/schedule.js';
import { Prng } from '../sim/prng.js';
import { Nemesis } from './nemesis.js';

/** Script is how the stand-in node behaves when restarted on its damaged WAL. */
interface Script {
  readonly onDamaged: 'ready' | 'exited';
  readonly log: string;
  /** truncates says whether the stand-in's "recovery" opens the WAL (which cuts a torn tail). */
  readonly opensWal: boolean;
}

/** standIn is the part of LiveCluster the disk nemesis uses, over node 1 with data dir `dataDir`. */
function standIn(dataDir: string, script: Script): { cluster: LiveCluster; restarts: () => number } {
  let log = '';
  let restarts = 0;
  const node = { entry: { id: 1, dataDir, log: '' }, down: false, paused: false, pid: 1 };
  const fake = {
    nodes: [node],
    node: () => node,
    kill: async () => {
      node.down = true;
    },
    spawn: async () => {
      node.down = false;
      restarts++;
    },
    restart: async () => {
      node.down = false;
      restarts++;
    },
    waitReadyOrExit: async () => {
      if (restarts === 1) {
        log += script.log;
        if (script.opensWal) await (await Wal.open(new NodeFileSystem(), join(dataDir, 'wal'))).wal.close();
        if (script.onDamaged === 'exited') node.down = true;
        return script.onDamaged;
      }
      return 'ready';
    },
    logBytes: () => log.length,
    logSince: (offset: number) => log.slice(offset),
    save: async () => undefined,
  };
  return { cluster: fake as unknown as LiveCluster, restarts: () => restarts };
}

async function walDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-nemesis-disk-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'wal'));
  const { wal } = await Wal.open(new NodeFileSystem(), join(dir, 'wal'));
  for (let i = 1; i <= 30; i += 10) {
    wal.appendEntries(2, ents(i, i + 9, 1));
    await wal.sync();
  }
  await wal.close();
  return dir;
}

async function play(cluster: LiveCluster, mode: 'torn-tail' | 'corrupt'): Promise<Nemesis> {
  const history = new HistoryRecorder();
  const n = new Nemesis({ cluster, history, cutter: null, disks: null, disksUnavailable: 'test', rng: new Prng(3), admin: async () => 200 });
  const f: ScheduledFault = { fault: 'disk', startMs: 0, durationMs: 1500, mode, target: { kind: 'node', node: 1 } };
  await n.run([f], () => false);
  return n;
}

t.test('corrupt: a node that stops with ERR_CORRUPTION is right; the byte is restored and the node restarted', async (t) => {
  const dir = await walDir(t);
  const s = standIn(dir, { onDamaged: 'exited', log: 'otlpdb: ERR_CORRUPTION: WAL x is corrupt at byte 99\n', opensWal: false });
  const n = await play(s.cluster, 'corrupt');
  t.same(n.anomalies, []);
  t.same(n.events.map((e) => e.fault), ['corrupt', 'restart', 'wal-refused', 'restart']);
  t.equal(s.restarts(), 2, 'restarted on the damaged log, then on the restored one');
  const { wal } = await Wal.open(new NodeFileSystem(), join(dir, 'wal'));
  await wal.close();
  t.pass('the restored WAL opens');
});

t.test('planted bug: a node that starts on a WAL corrupted before its tail is an anomaly', async (t) => {
  const dir = await walDir(t);
  const n = await play(standIn(dir, { onDamaged: 'ready', log: 'started\n', opensWal: false }).cluster, 'corrupt');
  t.equal(n.anomalies.length, 1);
  t.match(n.anomalies[0], /did not stop with ERR_CORRUPTION/);
});

t.test('planted bug: a node that stops without ERR_CORRUPTION is an anomaly', async (t) => {
  const dir = await walDir(t);
  const n = await play(standIn(dir, { onDamaged: 'exited', log: 'segfault\n', opensWal: false }).cluster, 'corrupt');
  t.match(n.anomalies[0], /without ERR_CORRUPTION/);
});

t.test('torn tail: a node whose recovery cut the tail is right; one that kept it is an anomaly', async (t) => {
  const good = await play(standIn(await walDir(t), { onDamaged: 'ready', log: 'started\n', opensWal: true }).cluster, 'torn-tail');
  t.same(good.anomalies, []);
  t.same(good.events.map((e) => e.fault), ['torn-tail', 'restart', 'wal-recovered']);
  const bad = await play(standIn(await walDir(t), { onDamaged: 'ready', log: 'started\n', opensWal: false }).cluster, 'torn-tail');
  t.match(bad.anomalies[0], /still in its log/, 'planted bug: the torn tail was never cut');
  const dead = await play(standIn(await walDir(t), { onDamaged: 'exited', log: 'ERR_CORRUPTION\n', opensWal: false }).cluster, 'torn-tail');
  t.match(dead.anomalies[0], /did not start after a torn WAL tail/, 'planted bug: a torn tail refused');
});
