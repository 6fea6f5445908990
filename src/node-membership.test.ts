import t from 'tap';
import type { ClusterDocument } from './api/views.js';
import { OtlpdbNode } from './node.js';
import { httpRequest, inProcessCluster, pollUntil, shardLeaderView } from './node-test-util.js';

// Real nodes in this process on 127.0.0.1-4 with real sockets and disks:
// three found a cluster, a fourth joins, then the first leaves. No
// assertion is about speed: every wait is a bounded number of polls.

const SHARDS = 6;
const REPLICAS = 3;
const TICK_MS = 20;
const POLLS_MAX = 1500;
const POLL_MS = 40;


t.test('a node joins (learner, voter, shard replicas move onto it) and another leaves (replicas move off, it is forgotten)', async (t) => {
  const c = await inProcessCluster(t, { n: 4, founders: 3, prefix: 'otlpdb-members-', seedBase: 300, extra: { shards: SHARDS, replicas: REPLICAS, tickMs: TICK_MS } });
  const { peers, founders, nodes } = c;
  const base = c.options;
  for (const id of [1, 2, 3]) nodes.set(id, await OtlpdbNode.start({ ...base(id), initialCluster: founders }));
  const api = c.api;
  const ready = (id: number): Promise<boolean> => pollUntil(async () => (await httpRequest(api(id), '/readyz')).status === 200, POLLS_MAX, POLL_MS);
  for (const id of [1, 2, 3]) t.ok(await ready(id), `founder ${id} is ready`);

  const put = async (via: number, key: string, value: string): Promise<boolean> =>
    (await httpRequest(api(via), `/api/v1/kv/${key}`, 'PUT', Buffer.from(value))).status === 200;
  const get = async (via: number, key: string): Promise<string | null> => {
    const r = await httpRequest(api(via), `/api/v1/kv/${key}`);
    return r.status === 200 ? (JSON.parse(r.body) as { value: string }).value : null;
  };
  t.ok(await pollUntil(() => put(1, 'before', 'join'), POLLS_MAX, POLL_MS), 'a write before the join');

  // Shard leadership is spread: no founder leads every shard.
  const n1 = nodes.get(1) as OtlpdbNode;
  t.ok(
    await pollUntil(
      async () => {
        const v = shardLeaderView(await n1.clusterReports());
        if (v.size < SHARDS) return false;
        const per = new Map<number, number>();
        for (const r of v.values()) per.set(r.node, (per.get(r.node) ?? 0) + 1);
        return [...per.values()].every((c) => c <= Math.ceil(SHARDS / 3) + 1) && per.size === 3;
      },
      POLLS_MAX,
      POLL_MS,
    ),
    'every founder leads some shard, none more than ceil(S/N)+1',
  );

  let viewer = 1;
  const n1ForView = (): OtlpdbNode => nodes.get(viewer) as OtlpdbNode;

  // Node 4 joins through node 2's API.
  const n4 = await OtlpdbNode.start({ ...base(4), initialCluster: new Map(), join: api(2) });
  nodes.set(4, n4);
  const settled = async (members: readonly number[]): Promise<boolean> => {
    const reports = await n1ForView().clusterReports();
    const meta = reports.find((r) => r.group === 0 && r.isLeader);
    if (meta === undefined || meta.learners.length > 0 || [...meta.voters].sort().join() !== [...members].sort().join()) return false;
    const v = shardLeaderView(reports);
    if (v.size < SHARDS) return false;
    let replicas = 0;
    const holding = new Set<number>();
    for (const r of v.values()) {
      for (const n of r.voters) holding.add(n);
      if (r.learners.length > 0 || r.voters.length !== Math.min(REPLICAS, members.length)) return false;
      if (r.voters.some((n) => !members.includes(n))) return false;
      replicas += r.voters.length;
    }
    return replicas === SHARDS * Math.min(REPLICAS, members.length) && members.every((n) => holding.has(n));
  };
  t.ok(await pollUntil(() => settled([1, 2, 3, 4]), POLLS_MAX, POLL_MS), 'node 4 is a meta voter, holds shard replicas, and every shard has R voters over 1..4');
  const hosted4 = n4.driver.groups().filter((g) => g !== 0);
  t.ok(hosted4.length > 0, `node 4 hosts shard replicas after the join (${hosted4.join(',')})`);
  t.ok(await ready(4), 'node 4 becomes ready');
  // A linearizable read answers 503 while the meta group changes leader (the join may move leadership); clients retry.
  t.ok(await pollUntil(async () => (await get(4, 'before')) === 'join', POLLS_MAX, POLL_MS), 'a write from before the join reads back through node 4');
  t.ok(await put(4, 'after', 'join'), 'node 4 accepts writes');

  // Node 1 leaves; it may lead the meta group, so watch through node 2.
  viewer = 2;
  const del = await httpRequest(api(2), '/api/v1/cluster/nodes/1', 'DELETE');
  t.equal(del.status, 200, `DELETE /api/v1/cluster/nodes/1 answers 200 (${del.body})`);
  t.ok(await pollUntil(() => settled([2, 3, 4]), POLLS_MAX, POLL_MS), 'node 1 is out of the meta group and of every shard');
  t.ok(
    await pollUntil(
      async () => !(JSON.parse((await httpRequest(api(2), '/api/v1/cluster')).body) as ClusterDocument).nodes.some((n) => n.id === 1),
      POLLS_MAX,
      POLL_MS,
    ),
    'the cluster no longer lists node 1',
  );
  t.ok(await pollUntil(async () => nodes.get(1)?.removed === true, POLLS_MAX, POLL_MS), 'node 1 knows it was removed');
  t.equal(await get(3, 'before'), 'join', 'data written before both changes is still there');
  t.equal(await get(2, 'after'), 'join', 'data written between them too');

  // Bad requests are refused with clear codes.
  const unknown = await httpRequest(api(2), '/api/v1/cluster/nodes/99', 'DELETE');
  t.equal(unknown.status, 404);
  t.match(JSON.parse(unknown.body), { error: { code: 'ERR_NOT_FOUND' } });
  const bad = await httpRequest(api(2), '/api/v1/cluster/nodes', 'POST', Buffer.from('{"id":"x"}'));
  t.equal(bad.status, 400);
  const clash = await httpRequest(api(2), '/api/v1/cluster/nodes', 'POST', Buffer.from(JSON.stringify({ id: 9, peer: `${peers.get(3)?.host}:${peers.get(3)?.port}`, api: '127.0.0.9:1' })));
  t.equal(clash.status, 409, 'a second node with an address in use is refused');
  for (const n of nodes.values()) t.equal(n.driver.failure, null, `node ${n.nodeId} never failed`);
});
