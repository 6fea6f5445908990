import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { pollUntil } from '../../src/node-test-util.js';
import { LocalCluster, otlpdbSync, pidGone, requestWithin } from './cluster-test-util.js';
import type { ClusterView } from './cluster-test-util.js';

// A real cluster through the CLI on 127.0.0.1 (--port-step 1): a fourth
// node joins with `otlpdb start --join`, then `otlpdb cluster remove`
// takes a founder out and stops its process. Ports 28460-28479, apart from
// cluster-recovery.test.ts (28400-28459) and cluster.test.ts (27410-27610).
// No assertion is about speed; every wait is a bounded number of polls.

const TICK_MS = 20;
const SHARDS = 4;
const PEER_PORT = 28_460;
const API_PORT = 28_470;
const POLL_MS = 50;
const POLLS_MAX = 1200;

/** placedOn lists the shards whose replicas include `id`, in a cluster document. */
function placedOn(v: ClusterView, id: number): number[] {
  return v.shards.filter((s) => s.replicas.includes(id)).map((s) => s.id);
}

t.test('otlpdb start --join adds a node, and otlpdb cluster remove moves a founder out and stops it', async (t) => {
  const c = await LocalCluster.up(t, { peerPort: PEER_PORT, apiPort: API_PORT, tickMs: TICK_MS, shards: SHARDS, nodes: 3 }, 'otlpdb-members-');
  for (const id of c.ids()) {
    const ok = await c.ready(id, POLLS_MAX, POLL_MS);
    t.ok(ok, c.explain(ok, `node ${id} is ready`));
  }
  const w = await c.put(1, 'k', 'v');
  t.equal(w.status, 200, c.explain(w.status === 200, 'a write before the changes'));

  // Node 4 joins through node 2; its ports follow the --port-step layout.
  const joiner = c.startJoiner(4, { host: '127.0.0.1', port: PEER_PORT + 3 }, { host: '127.0.0.1', port: API_PORT + 3 }, 2, 'n4.log');
  const api4 = { host: '127.0.0.1', port: API_PORT + 3 };
  let view: ClusterView | null = null;
  const joined = await pollUntil(
    async () => {
      view = await c.view(1);
      return view !== null && view.nodes.some((n) => n.id === 4) && placedOn(view, 4).length > 0 && view.shards.every((s) => s.replicas.length === 3);
    },
    POLLS_MAX,
    POLL_MS,
  );
  t.ok(joined, c.explain(joined, `node 4 is a member holding shard replicas (${JSON.stringify(view)})`));
  const ready4 = await pollUntil(async () => (await requestWithin(api4, '/readyz', 'GET', undefined, 1000)).status === 200, POLLS_MAX, POLL_MS);
  t.ok(ready4, c.explain(ready4, 'node 4 becomes ready'));
  const read4 = await requestWithin(api4, '/api/v1/kv/k', 'GET', undefined, 5000);
  t.equal(read4.status, 200, c.explain(read4.status === 200, 'node 4 reads the earlier write'));

  // Remove founder 3 through the CLI: it waits until the node is gone, then stops its process.
  const pid3 = c.entry(3).pid;
  const run = otlpdbSync(['cluster', 'remove', 'n3', '--dir', c.dir, '--json']);
  t.equal(run.status, 0, c.explain(run.status === 0, `cluster remove exits 0 (stdout ${run.stdout} stderr ${run.stderr})`));
  const out = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { id?: number; removed?: boolean; process?: string };
  t.match(out, { id: 3, removed: true });
  t.ok(['stopped', 'killed'].includes(out.process ?? ''), `its process was stopped (${out.process})`);
  t.ok(pidGone(pid3), 'the removed node process is gone');
  const v = await c.view(1);
  t.ok(v !== null && !v.nodes.some((n) => n.id === 3) && v.shards.every((s) => !s.replicas.includes(3) && s.replicas.length === 3), c.explain(v !== null, 'node 3 holds no replica and is no member'));
  const doc = JSON.parse(readFileSync(join(c.dir, 'cluster.json'), 'utf8')) as { nodes: { id: number }[] };
  t.same(doc.nodes.map((n) => n.id), [1, 2], 'cluster.json no longer lists node 3');
  const after = await requestWithin(api4, '/api/v1/kv/k', 'GET', undefined, 5000);
  t.equal(after.status, 200, 'the data survived both changes');
  t.ok(await c.put(2, 'k2', 'v2').then((r) => r.status === 200), 'writes go on');

  // Refusals: an unknown node, and the command line.
  const unknown = otlpdbSync(['cluster', 'remove', '9', '--dir', c.dir]);
  t.equal(unknown.status, 1);
  t.match(unknown.stderr, /ERR_NOT_FOUND/);
  const bad = otlpdbSync(['cluster', 'remove', 'x', '--dir', c.dir]);
  t.equal(bad.status, 2, 'a malformed id is a usage error');

  joiner.child.kill('SIGTERM');
  const code = await joiner.exited;
  t.same(code, { code: 0, signal: null }, 'the joined node stops cleanly on SIGTERM');
  t.ok(existsSync(join(c.dir, 'n4')), 'the joined node kept its data dir');
});
