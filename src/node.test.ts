import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { ClusterDocument } from './api/views.js';
import { bootstrapPlacement, groupSpecs, OtlpdbNode } from './node.js';
import { initHash } from './partition/hash.js';
import type { HostPort } from './node-config.js';
import { badPrometheusLines, clusterAddresses, httpRequest, pollUntil } from './node-test-util.js';

// Three real nodes in this process, on 127.0.0.1-3 with real sockets and
// real disks. No assertion is about speed: every wait is a bounded number
// of polls, and the tap timeout bounds the file.

const NODES = [1, 2, 3] as const;
const SHARDS = 2;
const TICK_MS = 20;
const POLLS_MAX = 1500;
const POLL_MS = 20;

t.test('groupSpecs puts the first five ids in the meta group as voters and exactly the placed shards on each node', async (t) => {
  const hasher = await initHash();
  const members = [7, 3, 1, 2, 5, 4];
  const placement = bootstrapPlacement(hasher, members, 8, 3);
  let replicas = 0;
  for (const id of members) {
    const specs = groupSpecs(id, members, placement);
    t.same(specs[0], { group: 0, voters: [1, 2, 3, 4, 5], learners: [7] }, 'meta group on every member');
    for (const s of specs.slice(1)) {
      t.same(s.voters, placement.shards[s.group - 1]?.replicas.map(Number), `shard ${s.group} bootstraps with its placed replicas`);
      t.ok(s.voters.includes(id), `node ${id} hosts shard ${s.group} only when placed there`);
    }
    replicas += specs.length - 1;
  }
  t.equal(replicas, 8 * 3, 'every shard has R replicas over the members');
});

t.test('OtlpdbNode.start refuses an id missing from the cluster or a peer address that differs', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-node-bad-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const cluster = new Map<number, HostPort>([[1, { host: '127.0.0.1', port: 7400 }]]);
  const base = { dataDir: root, api: { host: '127.0.0.1', port: 0 }, initialCluster: cluster };
  for (const opts of [
    { ...base, id: 2, peer: { host: '127.0.0.1', port: 7400 } },
    { ...base, id: 1, peer: { host: '127.0.0.1', port: 7401 } },
    { ...base, id: 0, peer: { host: '127.0.0.1', port: 7400 } },
    { ...base, id: 1, peer: { host: '127.0.0.1', port: 7400 }, shards: 0 },
  ]) {
    await t.rejects(OtlpdbNode.start(opts), { code: 'ERR_INVALID_ARGUMENT' });
  }
});

t.test('three nodes become ready, agree on one leader per group, serve metrics, and recover from their data dirs', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-node-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const { peers, apis } = await clusterAddresses(NODES.length);
  const nodes = new Map<number, OtlpdbNode>();
  t.teardown(async () => {
    for (const n of nodes.values()) await n.stop();
  });
  const start = async (id: number): Promise<OtlpdbNode> => {
    const node = await OtlpdbNode.start({
      id,
      dataDir: join(root, `n${id}`),
      peer: peers.get(id) as HostPort,
      api: apis.get(id) as HostPort,
      initialCluster: peers,
      shards: SHARDS,
      tickMs: TICK_MS,
      seed: 100 + id,
    });
    nodes.set(id, node);
    return node;
  };
  const ready = (id: number): Promise<boolean> =>
    pollUntil(async () => (await httpRequest(apis.get(id) as HostPort, '/readyz')).status === 200, POLLS_MAX, POLL_MS);
  const cluster = async (id: number): Promise<ClusterDocument> =>
    JSON.parse((await httpRequest(apis.get(id) as HostPort, '/api/v1/cluster')).body) as ClusterDocument;
  // Every node names the same leader for every group, and exactly one node leads each.
  const agreed = async (): Promise<boolean> => {
    const views = await Promise.all(NODES.map((id) => cluster(id)));
    const leaders = (d: ClusterDocument): number[] => [d.meta.leader, ...d.shards.map((s) => s.leader)];
    const first = leaders(views[0] as ClusterDocument);
    if (first.some((l) => l === 0)) return false;
    if (!views.every((v) => JSON.stringify(leaders(v)) === JSON.stringify(first))) return false;
    for (let g = 0; g <= SHARDS; g++) {
      const leading = [...nodes.values()].filter((n) => n.groups().find((v) => v.group === g)?.isLeader === true);
      if (leading.length !== 1) return false;
    }
    return true;
  };

  for (const id of NODES) await start(id);
  for (const id of NODES) t.ok(await ready(id), `node ${id} becomes ready`);
  t.ok(await pollUntil(agreed, POLLS_MAX, POLL_MS), 'one agreed leader per group');

  const doc = await cluster(1);
  t.same(
    doc.nodes.map((n) => [n.id, n.address]),
    NODES.map((id) => [id, `${peers.get(id)?.host}:${peers.get(id)?.port}`]),
  );
  t.equal(doc.nodes[0]?.state, 'self');
  t.same(
    doc.shards.map((s) => [s.id, s.replicas]),
    [
      [1, [1, 2, 3]],
      [2, [1, 2, 3]],
    ],
  );
  t.ok(doc.meta.term >= 1, 'the meta group has a term');

  const metrics = await httpRequest(apis.get(2) as HostPort, '/metrics');
  t.equal(metrics.status, 200);
  t.same(badPrometheusLines(metrics.body), [], 'every sample line is Prometheus text');
  t.match(metrics.body, /^otlpdb_raft_commit_index\{node="2",group="0"\} [1-9]/m);
  t.match(metrics.body, /^otlpdb_transport_messages_sent_total\{node="2"\} [1-9]/m);
  t.match(metrics.body, /^otlpdb_wal_fsync_duration_seconds_bucket\{node="2",le="\+Inf"\} [1-9]/m, 'the WAL fsync latency histogram');
  t.match(metrics.body, /^otlpdb_wal_fsync_duration_seconds_count\{node="2"\} [1-9]/m);
  t.match(metrics.body, /^otlpdb_transport_peer_bytes_sent_total\{node="2",peer="1"\} [1-9]/m, 'bytes per peer');
  t.match(metrics.body, /^otlpdb_raft_proposals_total\{node="2",group="0"\} \d/m, 'proposals per group');

  // The transport's fault hooks through the admin API of a real node.
  const api2 = apis.get(2) as HostPort;
  const set = await httpRequest(api2, '/api/v1/admin/faults/3', 'PUT', Buffer.from(JSON.stringify({ delayMs: 5 })));
  t.equal(set.status, 200, `PUT /api/v1/admin/faults/3 (${set.body})`);
  t.match(JSON.parse((await httpRequest(api2, '/api/v1/admin/faults')).body), { faults: { 3: { delayMs: 5 } } });
  t.equal((await httpRequest(api2, '/api/v1/admin/faults/9', 'PUT', Buffer.from('{}'))).status, 404, 'an unknown peer');
  t.equal((await httpRequest(api2, '/api/v1/admin/faults', 'DELETE')).status, 200);
  t.same(JSON.parse((await httpRequest(api2, '/api/v1/admin/faults')).body), { faults: {} });

  // One node restarts from its data dir while the others run.
  const before = (nodes.get(3) as OtlpdbNode).groups().find((g) => g.group === 0);
  await (nodes.get(3) as OtlpdbNode).stop();
  nodes.delete(3);
  const again = await start(3);
  const recovered = again.groups().find((g) => g.group === 0);
  t.ok(recovered !== undefined && before !== undefined && recovered.term >= before.term, 'the restarted node recovered its term');
  t.ok(await ready(3), 'the restarted node becomes ready again');

  // The whole cluster restarts from its data dirs.
  for (const id of NODES) {
    await (nodes.get(id) as OtlpdbNode).stop();
    nodes.delete(id);
  }
  for (const id of NODES) await start(id);
  for (const id of NODES) t.ok(await ready(id), `node ${id} is ready after a full restart`);
  t.ok(await pollUntil(agreed, POLLS_MAX, POLL_MS), 'one agreed leader per group after a full restart');
  for (const n of nodes.values()) t.equal(n.driver.failure, null, `node ${n.nodeId} never failed`);
});
