/**
 * cleanup.test.ts — `otlpdb jepsen cleanup` undoes what a crashed run left:
 * a node process listed in the state file (even a paused one) is stopped by
 * its PID, a PID now held by another process is left alone, the iptables
 * chain named in the state file is removed (where iptables works), a
 * full-disk mount it lists is unmounted (as root), and the state file goes. The "node" is a stand-in process whose command line
 * names its data dir, as a real node's does.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { isNodeAlive } from '../../cli/commands/cluster.js';
import { IptablesPartitioner, probeIptables } from '../nemeses/index.js';
import { isMountPoint, probeMount, unmount } from '../nemeses/small-disk.js';
import { cleanupJepsen, readState, writeState } from './index.js';

t.test('cleanup stops the listed node PIDs (resuming a paused one), spares a reused PID, removes the chain and the state file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-jepsen-cleanup-'));
  const dataDir = join(dir, 'cluster', 'n1');
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', dataDir], { stdio: 'ignore', detached: true });
  const pid = child.pid;
  t.ok(pid !== undefined, 'stand-in node spawned');
  if (pid === undefined) return;
  t.teardown(async () => {
    if (isNodeAlive(pid, dataDir)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 50 && !isNodeAlive(pid, dataDir); i++) await sleep(20);
  process.kill(pid, 'SIGSTOP');

  const iptables = probeIptables();
  const chain = `OTLPDB-JT-${process.pid}`.slice(0, 28);
  if (iptables.available) {
    const p = new IptablesPartitioner(chain, 65_000);
    p.setup();
    p.partition([[201], [202]]);
    t.match(execFileSync('iptables', ['-w', '-S', chain], { encoding: 'utf8' }), /127\.0\.0\.201/, 'the planted rule exists');
  }
  const mountable = probeMount();
  const mountPoint = join(dir, 'cluster', 'n3');
  if (mountable.available) {
    await mkdir(mountPoint, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=65536', 'tmpfs', mountPoint]);
    t.teardown(() => {
      if (isMountPoint(mountPoint)) unmount(mountPoint);
    });
  }
  await writeState(dir, {
    version: 1,
    runnerPid: 999_999,
    clusterDir: join(dir, 'cluster'),
    nodes: [
      { id: 1, pid, dataDir, paused: true },
      // A PID reused by a stranger (this test's own process, whose command line does not name the data dir) must not be signalled.
      { id: 2, pid: process.pid, dataDir: join(dir, 'cluster', 'n2'), paused: false },
    ],
    iptablesChain: iptables.available ? chain : null,
    mounts: mountable.available ? [mountPoint] : [],
  });

  const s = await cleanupJepsen(dir);
  t.same(s.stopped, [pid], 'the stand-in node was stopped, and only it');
  t.same(s.survived, []);
  t.notOk(isNodeAlive(pid, dataDir), 'its process is gone');
  t.equal(readState(dir), null, 'the state file is gone');
  if (iptables.available) {
    t.equal(s.chainRemoved, chain);
    t.notMatch(execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' }), new RegExp(chain), 'the chain and its jump are gone');
  } else {
    t.equal(s.chainRemoved, null, `iptables unavailable here (${iptables.reason})`);
  }
  if (mountable.available) {
    t.same(s.unmounted, [mountPoint], 'the full-disk mount was removed');
    t.notOk(isMountPoint(mountPoint), 'no mount left');
  } else {
    t.same(s.unmounted, [], `no mounts here (${mountable.reason})`);
  }
  t.same((await cleanupJepsen(dir)).stopped, [], 'a second cleanup finds nothing to do');
});

t.test('cleanup without a state file leaves every chain alone (another run may own it)', { skip: probeIptables().available ? false : 'iptables unavailable here' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-jepsen-cleanup-nostate-'));
  const chain = `OTLPDB-JN-${process.pid}`.slice(0, 28);
  const p = new IptablesPartitioner(chain, 65_001);
  t.teardown(async () => {
    p.teardown();
    await rm(dir, { recursive: true, force: true });
  });
  p.setup();
  const s = await cleanupJepsen(dir);
  t.equal(s.stateFile, false);
  t.equal(s.chainRemoved, null, 'nothing removed');
  t.match(execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' }), new RegExp(`-N ${chain}`), 'the other run\'s chain is still there');
});
