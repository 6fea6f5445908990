/**
 * kv-etcd.ts — the etcd side of `bench/kv.ts`: a 3-member etcd 3.4 cluster on
 * loopback, member i on 127.0.0.i (as otlpdb's node i), data dirs in the
 * bench's temp dir, default durability (etcd fsyncs its WAL on every commit
 * batch, as otlpdb does). If `etcd` is not on PATH the bench installs Debian's
 * `etcd-server` with apt-get, says so, and fails with a clear message when it
 * cannot (not root, no apt-get, no network).
 *
 * Ownership: the members are children of this process; the caller owns the
 * returned EtcdCluster and must call stop() once, also on errors; stop() is
 * idempotent and signals each member by its PID.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { assert } from '../src/errors.js';
import { KvBenchLimits } from '../src/limits.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** findEtcd returns the path of an `etcd` binary on PATH (or Debian's /usr/bin/etcd), or null. */
export function findEtcd(): string | null {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin']);
  for (const d of dirs) {
    if (d !== '' && existsSync(join(d, 'etcd'))) return join(d, 'etcd');
  }
  return null;
}

/** ensureEtcd finds etcd or installs etcd-server with apt-get, logging every step through `log`; it throws with the reason when it cannot. */
export function ensureEtcd(log: (line: string) => void): string {
  const found = findEtcd();
  if (found !== null) return found;
  if (process.platform !== 'linux' || typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('bench/kv: etcd is not on PATH and this is not root on Linux; install etcd 3.4 (Debian: apt-get install etcd-server) or run with --no-etcd');
  }
  for (const args of [['update'], ['install', '-y', 'etcd-server']]) {
    log(`bench/kv: etcd not found; running apt-get ${args.join(' ')}`);
    const r = spawnSync('apt-get', args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: KvBenchLimits.installTimeoutMs,
    });
    if (r.error !== undefined || r.status !== 0) {
      throw new Error(`bench/kv: apt-get ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}); install etcd 3.4 by hand or run with --no-etcd`);
    }
  }
  const installed = findEtcd();
  if (installed === null) throw new Error('bench/kv: apt-get installed etcd-server but no etcd binary is on PATH or in /usr/bin');
  log(`bench/kv: installed ${installed}`);
  return installed;
}

/** etcdVersion is the first line of `etcd --version` ("etcd Version: 3.4.23"). */
export function etcdVersion(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: KvBenchLimits.stopTimeoutMs });
  return (r.stdout ?? '').split('\n')[0]?.trim() ?? 'unknown';
}

/** EtcdClusterOptions are the member count, the directory for data and logs, and the client/peer ports on 127.0.0.i. */
export interface EtcdClusterOptions {
  readonly bin: string;
  readonly dir: string;
  readonly members: number;
  readonly clientPort: number;
  readonly peerPort: number;
}

/** EtcdCluster is a started cluster: the client origins to load, the member PIDs to sample and stop. */
export interface EtcdCluster {
  readonly targets: readonly string[];
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

async function healthy(origin: string): Promise<boolean> {
  try {
    const res = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(KvBenchLimits.stopTimeoutMs) });
    const body = (await res.json()) as { health?: string };
    return res.status === 200 && body.health === 'true';
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const deadline = sleep(KvBenchLimits.stopTimeoutMs).then(() => 'timeout' as const);
  if ((await Promise.race([exited.then(() => 'exited' as const), deadline])) === 'timeout' && child.exitCode === null) {
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
}

/** startEtcd starts the members with `--initial-cluster-state new` and returns when every member's /health says true. */
export async function startEtcd(o: EtcdClusterOptions): Promise<EtcdCluster> {
  assert(o.members >= 1 && o.members <= 254, 'startEtcd members in [1, 254]');
  const host = (i: number): string => `127.0.0.${i}`;
  const ids = Array.from({ length: o.members }, (_, k) => k + 1);
  const initialCluster = ids.map((i) => `m${i}=http://${host(i)}:${o.peerPort}`).join(',');
  const children: ChildProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(children.map(stopChild));
  };
  try {
    for (const i of ids) {
      // A member already answering here belongs to someone else; its health would pass for ours.
      if (await healthy(`http://${host(i)}:${o.clientPort}`)) {
        throw new Error(`bench/kv: an etcd already serves ${host(i)}:${o.clientPort}; stop it or change the bench's ports`);
      }
    }
    for (const i of ids) {
      const client = `http://${host(i)}:${o.clientPort}`;
      const peer = `http://${host(i)}:${o.peerPort}`;
      const logFd = openSync(join(o.dir, `m${i}.log`), 'a');
      const child = spawn(
        o.bin,
        [
          '--name', `m${i}`,
          '--data-dir', join(o.dir, `m${i}`),
          '--listen-client-urls', client,
          '--advertise-client-urls', client,
          '--listen-peer-urls', peer,
          '--initial-advertise-peer-urls', peer,
          '--initial-cluster', initialCluster,
          '--initial-cluster-state', 'new',
          '--initial-cluster-token', 'otlpdb-bench-kv',
          '--logger', 'zap',
          '--log-level', 'warn',
        ],
        { stdio: ['ignore', logFd, logFd] },
      );
      closeSync(logFd);
      children.push(child);
    }
    const targets = ids.map((i) => `http://${host(i)}:${o.clientPort}`);
    const deadline = Date.now() + KvBenchLimits.startDeadlineMs;
    for (const t of targets) {
      while (!(await healthy(t))) {
        const dead = children.find((c) => c.exitCode !== null);
        if (dead !== undefined) throw new Error(`bench/kv: etcd member pid ${dead.pid ?? '?'} exited with ${dead.exitCode}; see ${o.dir}/m*.log`);
        if (Date.now() > deadline) throw new Error(`bench/kv: etcd ${t} not healthy within ${KvBenchLimits.startDeadlineMs} ms`);
        await sleep(KvBenchLimits.pollMs);
      }
    }
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead !== undefined) throw new Error(`bench/kv: etcd member pid ${dead.pid ?? '?'} exited during start-up; see ${o.dir}/m*.log`);
    const pids = children.map((c) => c.pid ?? -1);
    assert(pids.every((p) => p > 0), 'every etcd member has a pid');
    return { targets, pids, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
