import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import type { HostPort } from '../../src/node-config.js';
import { builtCliPath, repoRoot } from '../../src/repo-root.js';
import { clusterAddresses, freePort, httpRequest, initialClusterFlag, pollUntil } from '../../src/node-test-util.js';
import { ReceiveWorkerLimits } from '../../src/limits.js';
import { parseStartOptions } from './start.js';

// Real `otlpdb start` processes. No assertion is about speed: waits are
// bounded polls and generous deadlines, and every child is killed by PID in
// teardown if a test leaves it behind.

const root = repoRoot();
const NODES = [1, 2, 3] as const;
const POLLS_MAX = 3000;
const POLL_MS = 20;
const STARTED_DEADLINE_MS = 120_000;
const EXIT_DEADLINE_MS = 60_000;

const CLUSTER = '1=127.0.0.1:7400,2=127.0.0.2:7400,3=127.0.0.3:7400';
const GOOD = { id: '1', data: '/tmp/x', peer: '127.0.0.1:7400', api: '127.0.0.1:3200', initialCluster: CLUSTER };

t.test('parseStartOptions accepts a good command line and applies defaults', async (t) => {
  const o = parseStartOptions({ id: '2', data: '/d', peer: '127.0.0.2', initialCluster: CLUSTER });
  t.equal(o.id, 2);
  t.same(o.peer, { host: '127.0.0.2', port: 7400 });
  t.same(o.api, { host: '127.0.0.2', port: 3200 });
  t.equal(o.shards, 16);
  t.equal(o.replicas, 3);
  t.equal(o.initialCluster.size, 3);
  t.equal(o.join, undefined);
  const j = parseStartOptions({ id: 'n4', data: '/d', peer: '127.0.0.4', join: '127.0.0.1:3200' });
  t.equal(j.id, 4, 'nN ids');
  t.same(j.join, { host: '127.0.0.1', port: 3200 });
  t.equal(j.initialCluster.size, 0);
});

t.test('parseStartOptions refuses every malformed flag with ERR_INVALID_ARGUMENT', async (t) => {
  for (const [what, over] of [
    ['a missing id', { id: undefined }],
    ['a zero id', { id: '0' }],
    ['a non-numeric id', { id: 'one' }],
    ['a missing data dir', { data: undefined }],
    ['a peer without a host', { peer: ':7400' }],
    ['a peer with a bad port', { peer: '127.0.0.1:99999' }],
    ['a peer with a non-numeric port', { peer: '127.0.0.1:http' }],
    ['a malformed api', { api: '127.0.0.1:' }],
    ['an api equal to the peer', { api: '127.0.0.1:7400' }],
    ['a cluster without --id', { initialCluster: '2=127.0.0.2:7400,3=127.0.0.3:7400' }],
    ['a cluster whose address for --id differs', { peer: '127.0.0.1:7401' }],
    ['duplicate ids', { initialCluster: `${CLUSTER},1=127.0.0.4:7400` }],
    ['duplicate addresses', { initialCluster: '1=127.0.0.1:7400,2=127.0.0.1:7400' }],
    ['a malformed cluster item', { initialCluster: '1=127.0.0.1:7400,127.0.0.2:7400' }],
    ['zero shards', { shards: '0' }],
    ['zero replicas', { replicas: '0' }],
    ['too many replicas', { replicas: '8' }],
    ['both --initial-cluster and --join', { join: '127.0.0.1:3200' }],
    ['neither --initial-cluster nor --join', { initialCluster: undefined }],
    ['a malformed --join', { initialCluster: undefined, join: '127.0.0.1:x' }],
    ['a negative tick', { tickMs: '-5' }],
    ['an OTLP gRPC address equal to the API', { otlpGrpc: '127.0.0.1:3200' }],
    ['a malformed --otlp-http', { otlpHttp: 'localhost:' }],
    ['a request bound below 64 KiB', { otlpMaxRequestBytes: '1000' }],
    ['a request bound past its ceiling', { otlpMaxRequestBytes: String(2 ** 40) }],
    ['an in-flight bound below one request', { otlpMaxInflightBytes: '100000' }],
    ['a non-numeric deadline', { otlpDeadlineMs: 'soon' }],
    ['zero attributes per item', { otlpMaxAttributes: '0' }],
    ['an attribute value bound past what storage keeps', { otlpMaxAttributeBytes: String(2 ** 30) }],
    ['an age window under a minute', { otlpMaxAgeMs: '10' }],
    ['negative receive workers', { receiveWorkers: '-1' }],
    ['receive workers past their bound', { receiveWorkers: String(ReceiveWorkerLimits.workersMax + 1) }],
  ] as const) {
    t.throws(() => parseStartOptions({ ...GOOD, ...over }), { code: 'ERR_INVALID_ARGUMENT' }, what);
  }
});

t.test('parseStartOptions puts OTLP on the peer host at 4317 and 4318 and takes the ingest settings', async (t) => {
  const o = parseStartOptions({ ...GOOD, otlpMaxRequestBytes: '1048576', otlpDeadlineMs: '2000', otlpMaxAttributes: '16', otlpMaxAgeMs: '86400000' });
  t.same(o.otlpItemLimits, { attributesPerItemMax: 16, timestampPastMsMax: 86400000 });
  t.same([o.otlpGrpc, o.otlpHttp], [{ host: '127.0.0.1', port: 4317 }, { host: '127.0.0.1', port: 4318 }]);
  t.same(o.ingest, { requestBytesMax: 1048576, requestDeadlineMs: 2000 });
  t.equal(o.receiveWorkers, undefined, 'the node default unless --receive-workers says');
  t.equal(parseStartOptions({ ...GOOD, receiveWorkers: '0' }).receiveWorkers, 0, '--receive-workers 0 prepares on the main thread');
});

t.test('otlpdb start exits 2 with ERR_INVALID_ARGUMENT on a bad command line', async (t) => {
  for (const args of [
    ['--id', 'x', '--data', '/tmp/none', '--peer', '127.0.0.1:7400', '--initial-cluster', CLUSTER],
    ['--id', '4', '--data', '/tmp/none', '--peer', '127.0.0.1:7400', '--initial-cluster', CLUSTER],
  ]) {
    const run = spawnSync(process.execPath, [builtCliPath(), 'start', ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    t.equal(run.status, 2, `${args.join(' ')} exits 2`);
    t.match(run.stderr, /ERR_INVALID_ARGUMENT/);
  }
});

t.test('three `otlpdb start` processes serve, become ready, and exit 0 on SIGTERM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-start-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { peers, apis } = await clusterAddresses(NODES.length);
  const children = new Map<number, ChildProcess>();
  t.teardown(() => {
    for (const c of children.values()) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  });
  const otlpPorts = new Map<number, [number, number]>();
  for (const id of NODES) {
    const host = (apis.get(id) as HostPort).host;
    const taken = new Set([peers.get(id)?.port, apis.get(id)?.port]);
    const pick = async (): Promise<number> => {
      let p = await freePort(host);
      while (taken.has(p)) p = await freePort(host);
      taken.add(p);
      return p;
    };
    otlpPorts.set(id, [await pick(), await pick()]);
  }
  const started = new Map<number, Promise<Record<string, unknown>>>();
  const exited = new Map<number, Promise<number | null>>();
  for (const id of NODES) {
    const peer = peers.get(id) as HostPort;
    const api = apis.get(id) as HostPort;
    const child = spawn(
      process.execPath,
      [
        builtCliPath(),
        'start',
        '--id',
        String(id),
        '--data',
        join(dir, `n${id}`),
        '--peer',
        `${peer.host}:${peer.port}`,
        '--api',
        `${api.host}:${api.port}`,
        '--otlp-grpc',
        `${api.host}:${otlpPorts.get(id)?.[0]}`,
        '--otlp-http',
        `${api.host}:${otlpPorts.get(id)?.[1]}`,
        '--initial-cluster',
        initialClusterFlag(peers),
        '--shards',
        '2',
        '--tick-ms',
        '20',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.set(id, child);
    exited.set(id, new Promise((resolve) => child.once('exit', (code) => resolve(code))));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    started.set(
      id,
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`node ${id} did not print a started line`)), STARTED_DEADLINE_MS);
        lines.on('line', (line) => {
          const ev = JSON.parse(line) as Record<string, unknown>;
          if (ev.event === 'started') {
            clearTimeout(timer);
            resolve(ev);
          }
        });
        child.once('exit', () => reject(new Error(`node ${id} exited before starting`)));
      }),
    );
  }
  for (const id of NODES) {
    const ev = await started.get(id);
    const peer = peers.get(id) as HostPort;
    const api = apis.get(id) as HostPort;
    t.match(ev, { event: 'started', id, peer: `${peer.host}:${peer.port}`, api: `${api.host}:${api.port}`, otlpGrpc: `${api.host}:${otlpPorts.get(id)?.[0]}`, otlpHttp: `${api.host}:${otlpPorts.get(id)?.[1]}` }, `node ${id} started`);
  }
  for (const id of NODES) {
    const ok = await pollUntil(async () => (await httpRequest(apis.get(id) as HostPort, '/readyz')).status === 200, POLLS_MAX, POLL_MS);
    t.ok(ok, `node ${id} is ready`);
  }
  const missing = await httpRequest(apis.get(1) as HostPort, '/api/v1/nope');
  t.equal(missing.status, 404);
  t.match(JSON.parse(missing.body), { error: { code: 'ERR_INVALID_ARGUMENT' } });

  for (const id of NODES) {
    const pid = children.get(id)?.pid;
    t.ok(pid !== undefined, `node ${id} has a pid`);
    process.kill(pid as number, 'SIGTERM');
  }
  for (const id of NODES) {
    const code = await Promise.race([
      exited.get(id),
      new Promise<string>((resolve) => setTimeout(() => resolve('deadline'), EXIT_DEADLINE_MS).unref()),
    ]);
    t.equal(code, 0, `node ${id} exits 0 after SIGTERM`);
  }
  for (const c of children.values()) t.not(c.exitCode, null, `process ${c.pid} is gone`);
});
