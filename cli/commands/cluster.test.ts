import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { builtCliPath, repoRoot } from '../../src/repo-root.js';
import { httpRequest, pollUntil } from '../../src/node-test-util.js';
import { parseHostPort } from '../../src/node-config.js';
import { isNodeAlive, parseClusterUpOptions } from './cluster.js';
import type { ClusterFile } from './cluster.js';

// Real `otlpdb cluster` processes on 127.0.0.1 with --port-step and high base
// ports. No assertion is about speed: waits are bounded polls, and every node
// PID the test learns of is SIGKILLed in teardown if it is still alive.

const root = repoRoot();
const POLLS_MAX = 3000;
const POLL_MS = 20;
const RUN_TIMEOUT_MS = 300_000;
const PEER_BASE = 27_410;
const API_BASE = 27_510;
const GRPC_BASE = 27_710;
const HTTP_BASE = 27_910;

function otlpdb(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [builtCliPath(), ...args], { cwd: root, encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** pidsMentioning lists the PIDs (Linux /proc) whose command line mentions `text`, to clean up by PID. */
function pidsMentioning(text: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^[0-9]+$/.test(e));
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(text)) out.push(Number(e));
    } catch {
      // Gone in between.
    }
  }
  return out;
}

t.test('parseClusterUpOptions places nodes on 127.0.0.i, or on 127.0.0.1 with --port-step', async (t) => {
  const a = parseClusterUpOptions({ dir: '/tmp/c' });
  t.same(
    a.nodes.map((n) => [n.id, n.peer, n.api]),
    [1, 2, 3].map((i) => [i, { host: `127.0.0.${i}`, port: 7400 }, { host: `127.0.0.${i}`, port: 3200 }]),
  );
  const b = parseClusterUpOptions({ nodes: '2', portStep: '10' });
  t.same(
    b.nodes.map((n) => [n.peer, n.api]),
    [
      [{ host: '127.0.0.1', port: 7400 }, { host: '127.0.0.1', port: 3200 }],
      [{ host: '127.0.0.1', port: 7410 }, { host: '127.0.0.1', port: 3210 }],
    ],
  );
  t.equal(b.detach, false);
  t.equal(a.logTermIndex, undefined, 'no --log-term-index: the node default');
  t.equal(parseClusterUpOptions({ logTermIndex: 'off' }).logTermIndex, false, '--log-term-index off is passed on');
  t.same(
    a.nodes.map((n) => [n.otlpGrpc, n.otlpHttp]),
    [1, 2, 3].map((i) => [{ host: `127.0.0.${i}`, port: 4317 }, { host: `127.0.0.${i}`, port: 4318 }]),
    'OTLP on the specification ports of each node address',
  );
  t.same(b.nodes.map((n) => [n.otlpGrpc.port, n.otlpHttp.port]), [[4317, 4318], [4327, 4328]]);
  t.throws(() => parseClusterUpOptions({ nodes: '2', portStep: '1' }), { code: 'ERR_INVALID_ARGUMENT', message: /two listeners would share 127\.0\.0\.1:4318/ }, 'step 1 puts node 2 gRPC on node 1 HTTP');
});

t.test('parseClusterUpOptions refuses every bad flag with ERR_INVALID_ARGUMENT', async (t) => {
  for (const [what, o] of [
    ['zero nodes', { nodes: '0' }],
    ['too many nodes', { nodes: '255' }],
    ['non-numeric nodes', { nodes: 'three' }],
    ['zero shards', { shards: '0' }],
    ['too many shards', { shards: '100000' }],
    ['zero port step', { portStep: '0' }],
    ['ports past 65535', { portStep: '1000', nodes: '9', peerPort: '65000' }],
    ['colliding listeners', { portStep: '1', peerPort: '5000', apiPort: '5001' }],
    ['an empty dir', { dir: '' }],
    ['a bad tick', { tickMs: '0' }],
    ['a bad log term index', { logTermIndex: 'no' }],
  ] as const) {
    t.throws(() => parseClusterUpOptions(o), { code: 'ERR_INVALID_ARGUMENT' }, what);
  }
});

t.test('otlpdb cluster exits 2 with ERR_INVALID_ARGUMENT on bad flags and missing cluster files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-cluster-bad-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const args of [
    ['cluster', 'up', '--nodes', '0', '--dir', dir],
    ['cluster', 'up', '--shards', 'x', '--dir', dir],
    ['cluster', 'up', '--port-step', '-1', '--dir', dir],
    ['cluster', 'down', '--dir', dir],
    ['cluster', 'down', '--dir', dir, '--timeout-ms', 'soon'],
    ['cluster', 'status', '--dir', dir],
    ['cluster', 'status', '--api', '127.0.0.1:'],
  ]) {
    const run = otlpdb(args);
    t.equal(run.status, 2, `${args.join(' ')} exits 2`);
    t.match(run.stderr, /ERR_INVALID_ARGUMENT/);
  }
  t.notOk(existsSync(join(dir, 'n1')), 'a refused `up` starts no node');
});

t.test('cluster up --detach, status, a refused second up, and down on real processes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-cluster-'));
  const pids = new Set<number>();
  t.teardown(async () => {
    for (const pid of pids) {
      if (pidAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    await rm(dir, { recursive: true, force: true });
  });
  const upArgs = ['cluster', 'up', '--detach', '--json', '--dir', dir, '--nodes', '3', '--shards', '2', '--tick-ms', '20'];
  const portArgs = ['--port-step', '1', '--peer-port', String(PEER_BASE), '--api-port', String(API_BASE), '--otlp-grpc-port', String(GRPC_BASE), '--otlp-http-port', String(HTTP_BASE)];
  const up = otlpdb([...upArgs, ...portArgs]);
  // Learn the PIDs from cluster.json even if stdout is not what we expect, so teardown can kill them.
  try {
    const onDisk = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterFile;
    for (const n of onDisk.nodes) pids.add(n.pid);
  } catch {
    // No file: nothing was left running.
  }
  t.equal(up.status, 0, `cluster up exits 0 (stderr: ${up.stderr})`);
  const doc = JSON.parse(up.stdout) as ClusterFile;
  for (const n of doc.nodes) pids.add(n.pid);
  t.same(Object.keys(doc), ['dir', 'nodes']);
  t.equal(doc.dir, dir);
  t.equal(doc.nodes.length, 3);
  doc.nodes.forEach((n, i) => {
    const id = i + 1;
    t.same(Object.keys(n), ['id', 'pid', 'peer', 'api', 'otlpGrpc', 'otlpHttp', 'dataDir', 'log'], `node ${id} keys`);
    t.match(n, {
      id,
      pid: Number,
      peer: `127.0.0.1:${PEER_BASE + i}`,
      api: `127.0.0.1:${API_BASE + i}`,
      otlpGrpc: `127.0.0.1:${GRPC_BASE + i}`,
      otlpHttp: `127.0.0.1:${HTTP_BASE + i}`,
      dataDir: join(dir, `n${id}`),
      log: join(dir, `n${id}.log`),
    });
    t.ok(pidAlive(n.pid), `node ${id} pid ${n.pid} is alive`);
    t.ok(isNodeAlive(n.pid, n.dataDir), `pid ${n.pid} runs node ${id}`);
  });
  t.same(JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')), doc, 'cluster.json is the printed document');
  for (const n of doc.nodes) {
    const api = parseHostPort('api', n.api, 0);
    t.ok(await pollUntil(async () => (await httpRequest(api, '/readyz')).status === 200, POLLS_MAX, POLL_MS), `node ${n.id} /readyz 200`);
  }

  const status = otlpdb(['cluster', 'status', '--json', '--dir', dir]);
  t.equal(status.status, 0, `status exits 0 (stderr: ${status.stderr})`);
  const cluster = JSON.parse(status.stdout) as { meta: { leader: number; term: number }; nodes: unknown[]; shards: unknown[] };
  t.ok(cluster.meta.leader >= 1 && cluster.meta.leader <= 3, `a meta leader is known (${cluster.meta.leader})`);
  t.equal(cluster.nodes.length, 3);
  t.equal(cluster.shards.length, 2);
  const table = otlpdb(['cluster', 'status', '--api', doc.nodes[1]?.api ?? '']);
  t.equal(table.status, 0);
  t.match(table.stdout, /meta leader [123], term [0-9]+/);

  const again = otlpdb([...upArgs, ...portArgs]);
  t.equal(again.status, 2, 'a second up on a live cluster exits 2');
  t.match(again.stderr, /ERR_INVALID_ARGUMENT.*already runs/);
  t.same(JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')), doc, 'the refused up left cluster.json alone');

  const down = otlpdb(['cluster', 'down', '--dir', dir, '--json']);
  t.equal(down.status, 0, `down exits 0 (stderr: ${down.stderr})`);
  const summary = JSON.parse(down.stdout) as { removed: boolean; nodes: { id: number; outcome: string }[] };
  t.equal(summary.removed, true);
  t.same(
    summary.nodes.map((n) => n.id),
    [1, 2, 3],
  );
  for (const n of summary.nodes) t.match(n.outcome, /^(stopped|killed)$/, `node ${n.id} ${n.outcome}`);
  for (const n of doc.nodes) t.notOk(isNodeAlive(n.pid, n.dataDir), `node ${n.id} pid ${n.pid} is gone`);
  t.notOk(existsSync(join(dir, 'cluster.json')), 'cluster.json is removed');

  const stale = otlpdb(['cluster', 'down', '--dir', dir]);
  t.equal(stale.status, 2, 'down without cluster.json exits 2');
});

t.test('cluster up exits 1 naming the node that could not come up, and stops the others', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-cluster-fail-'));
  const blocker = net.createServer();
  await new Promise<void>((resolve, reject) => {
    blocker.once('error', reject);
    blocker.listen({ host: '127.0.0.1', port: API_BASE + 101 }, () => resolve());
  });
  t.teardown(async () => {
    for (const pid of pidsMentioning(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  const up = otlpdb([
    'cluster', 'up', '--detach', '--dir', dir, '--nodes', '3', '--tick-ms', '20',
    '--port-step', '1', '--peer-port', String(PEER_BASE + 100), '--api-port', String(API_BASE + 100),
    '--otlp-grpc-port', String(GRPC_BASE + 100), '--otlp-http-port', String(HTTP_BASE + 100),
  ]);
  t.equal(up.status, 1, 'up exits 1');
  t.match(up.stderr, /node 2 exited/, 'the failed node is named');
  t.notOk(existsSync(join(dir, 'cluster.json')), 'no cluster.json is left');
  t.ok(await pollUntil(async () => pidsMentioning(dir).length === 0, POLLS_MAX, POLL_MS), 'no node process is left');
});
