import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { isNodeAlive } from '../cli/commands/cluster.js';
import { KvBenchLimits } from '../src/limits.js';
import { runLevel } from './kv-load.js';
import { startOtlpdb } from './kv-otlpdb.js';
import { benchKey, benchValue, etcdPutBody, levelFigures, parseKvArgs, ratioTargetMet, splitConnections, throughputRatio } from './kv-plan.js';
import type { LoadCounts } from './kv-plan.js';

// Not a timed test: it checks the bench's flags and arithmetic exactly, and
// that its otlpdb harness really writes what it claims (one connection, one
// second), so the published figures mean something. It needs no etcd.

const counts = (over: Partial<LoadCounts>): LoadCounts => ({
  ok2xx: 0, non2xx: 0, errors: 0, timeouts: 0, elapsedSec: 1, latencyP50Ms: 1, latencyP99Ms: 2, statusCodes: {}, ...over,
});

t.test('parseKvArgs: defaults, every flag, and refusals', async (t) => {
  t.same(parseKvArgs([]), { durationSec: 10, connections: [1, 16, 256], json: false, etcd: true, wal: true });
  t.same(parseKvArgs(['--duration', '3', '--connections', '2,64', '--json', '--no-etcd', '--no-wal']), {
    durationSec: 3, connections: [2, 64], json: true, etcd: false, wal: false,
  });
  t.throws(() => parseKvArgs(['--duration', '0']), /--duration/);
  t.throws(() => parseKvArgs(['--duration', '1.5']), /--duration/);
  t.throws(() => parseKvArgs(['--duration']), /--duration/);
  t.throws(() => parseKvArgs(['--connections', '1,,2']), /--connections/);
  t.throws(() => parseKvArgs(['--connections', String(KvBenchLimits.connectionsMax + 1)]), /--connections/);
  t.throws(() => parseKvArgs(['--conections', '1']), /unknown argument/);
});

t.test('splitConnections spreads a level over the members, first members first', async (t) => {
  t.same(splitConnections(1, 3), [1]);
  t.same(splitConnections(2, 3), [1, 1]);
  t.same(splitConnections(16, 3), [6, 5, 5]);
  t.same(splitConnections(256, 3), [86, 85, 85]);
  t.same(splitConnections(9, 3), [3, 3, 3]);
});

t.test('requests/s counts 2xx answers only, and the ratio and target follow', async (t) => {
  const ok = levelFigures(256, counts({ ok2xx: 5000, elapsedSec: 10 }));
  t.equal(ok.requestsPerSec, 500);
  // A system that fails fast must not look fast: 9,000 non-2xx answers add nothing.
  const failing = levelFigures(256, counts({ ok2xx: 5000, non2xx: 9000, elapsedSec: 10 }));
  t.equal(failing.requestsPerSec, 500);
  t.equal(throughputRatio(500, 400), 1.25);
  t.equal(throughputRatio(1, 3), 0.33);
  t.equal(throughputRatio(500, 0), null, 'no ratio against a system that wrote nothing');
  t.ok(ratioTargetMet(1.0, ok));
  t.notOk(ratioTargetMet(0.99, ok));
  t.notOk(ratioTargetMet(1.25, failing), 'failed writes void the target');
  t.notOk(ratioTargetMet(null, ok));
});

t.test('request bodies: a 64-byte seeded value, distinct keys, the etcd gateway encoding', async (t) => {
  const v = benchValue(64);
  t.equal(Buffer.byteLength(v), KvBenchLimits.valueBytes);
  t.equal(benchValue(64), v, 'the value is the same for the same seed');
  t.not(benchKey(1), benchKey(2));
  t.equal(benchKey(KvBenchLimits.keySpace + 1), benchKey(1), 'keys cycle so the control KV stays under kvKeysMax');
  const inFlight = new Set(Array.from({ length: KvBenchLimits.connectionsMax }, (_, i) => benchKey(KvBenchLimits.keySpace - 7 + i)));
  t.equal(inFlight.size, KvBenchLimits.connectionsMax, 'connectionsMax consecutive requests write distinct keys, also across the wrap');
  const body = JSON.parse(etcdPutBody('bench-7', v)) as { key: string; value: string };
  t.equal(Buffer.from(body.key, 'base64').toString(), 'bench-7');
  t.equal(Buffer.from(body.value, 'base64').toString(), v);
});

t.test('the otlpdb harness writes distinct keys through every node and stops the cluster by PID', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-bench-kv-test-'));
  // Ports of their own, away from the bench (13200/17400) and other tests.
  // 21200/21400: not the jepsen suite's 23200+ (a user's or CI's jepsen run took a port clash from this test: a restarted node failed with EADDRINUSE).
  const cluster = await startOtlpdb({ dir: join(root, 'c'), nodes: 3, apiPort: 21_200, peerPort: 21_400 });
  t.teardown(async () => {
    await cluster.stop();
    await rm(root, { recursive: true, force: true });
  });
  const value = benchValue(64);
  let n = 0;
  const shape = { method: 'PUT' as const, headers: {}, path: (k: string) => `/api/v1/kv/${k}`, body: () => value };
  const r = await runLevel(cluster.targets, 3, 1, shape, () => benchKey(n++), cluster.pids);
  t.equal(r.counts.non2xx, 0, `no non-2xx answers (${JSON.stringify(r.counts.statusCodes)})`);
  t.equal(r.counts.statusCodes['200'], r.counts.ok2xx, 'the status code counts agree with the 2xx count');
  t.equal(r.counts.errors, 0, 'no connection errors');
  t.ok(r.counts.ok2xx >= 3, `every connection wrote (${r.counts.ok2xx} writes)`);
  t.ok(n >= r.counts.ok2xx, 'one fresh key per request');
  t.equal(r.serverCpuSec.length, 3, 'CPU sampled for every node');
  // The writes are really there, readable from another node than the one written to.
  const res = await fetch(`${cluster.targets[2]}/api/v1/kv/${benchKey(0)}`);
  t.equal(res.status, 200);
  t.equal(((await res.json()) as { value: string }).value, value);
  await cluster.stop();
  for (const n of cluster.file.nodes) {
    t.notOk(isNodeAlive(n.pid, n.dataDir), `node ${n.id} (pid ${n.pid}) is gone (a zombie not yet reaped counts as gone)`);
  }
});
