/**
 * live-cluster-ports.test.ts — a run refuses to start its cluster on ports
 * something already answers on (ERR_CONFLICT, naming --port-offset), instead
 * of `cluster up` taking another cluster's answers for its own nodes'
 * readiness (seen: a second run on the same ports crashed reading a dead
 * node's command line).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { builtCliPath } from '../../src/repo-root.js';
import { LiveCluster } from './live-cluster.js';

t.test('LiveCluster.start refuses ports that already answer', async (t) => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const taken = (server.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-jepsen-ports-'));
  t.teardown(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  await t.rejects(
    LiveCluster.start({ cliPath: builtCliPath(), suiteDir: dir, clusterDir: join(dir, 'cluster'), nodes: 1, iptablesChain: null, ports: { peer: 1, api: taken, otlpGrpc: 2, otlpHttp: 3 }, portsFreeWaitMs: 300 }),
    { code: 'ERR_CONFLICT', message: /already in use.*--port-offset/ },
    'the API port is taken (and stays taken past the wait): refused before cluster up',
  );
});
