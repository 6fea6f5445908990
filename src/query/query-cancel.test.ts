import http from 'node:http';
import t from 'tap';
import { OtlpdbNode } from '../node.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';
import { TraceSearchLimits } from '../limits.js';

// Cancellation on a real node (DESIGN.md §7 step 5): a 3-node cluster in
// this process loses two nodes, so a linearizable search on the survivor
// can only retry and back off until its wall time (15 s) runs out. Its
// client goes away: the search is cancelled at once — the node counts it
// cancelled and holds no search in flight — long before the wall time
// (the poll bound below is a tenth of it), and the node answers the next
// request as before. The same for a trace-by-id lookup.

const POLLS_MAX = 1500;
const POLL_MS = 40;
const CANCEL_POLLS_MAX = TraceSearchLimits.wallMsMax / 10 / 20;

t.test('a search and a trace lookup are cancelled when their client disconnects', async (t) => {
  const c = await inProcessCluster(t, { n: 3, founders: 3, prefix: 'otlpdb-qcancel-', seedBase: 6161, extra: { shards: 4, replicas: 3, tickMs: 20 } });
  for (const id of [1, 2, 3]) c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders }));
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, POLLS_MAX, POLL_MS), `node ${id} ready`);
  const node = c.nodes.get(1) as OtlpdbNode;
  t.same(node.searchStats(), { inflight: 0, cancelled: 0 });
  for (const id of [2, 3]) {
    await (c.nodes.get(id) as OtlpdbNode).stop();
    c.nodes.delete(id);
  }

  const a = c.api(1);
  let answered = false;
  const req = http.request({ host: a.host, port: a.port, path: '/api/search?limit=5', method: 'GET', agent: false }, () => {
    answered = true;
  });
  req.on('error', () => undefined);
  req.end();
  t.ok(await pollUntil(async () => node.searchStats().inflight === 1, POLLS_MAX, 5), 'the search is in flight, waiting for shard leaders');
  req.destroy();
  t.ok(
    await pollUntil(async () => node.searchStats().inflight === 0 && node.searchStats().cancelled === 1, CANCEL_POLLS_MAX, 20),
    `cancelled within ${CANCEL_POLLS_MAX} polls of 20 ms, far inside the ${TraceSearchLimits.wallMsMax} ms wall time`,
  );
  t.equal(answered, false, 'the client got no answer: it left');
  const health = await httpRequest(a, '/healthz');
  t.equal(health.status, 200, 'the node serves on');
  const stale = await httpRequest(a, '/api/search?limit=5&consistency=stale');
  t.equal(stale.status, 200, 'a stale search on the survivor still answers');
  t.equal(node.searchStats().cancelled, 1, 'an answered search is not counted cancelled');

  // A trace lookup, too: its shard has no leader, so it waits until its client leaves.
  t.same(node.lookupStats(), { inflight: 0, cancelled: 0 });
  const lookup = http.request({ host: a.host, port: a.port, path: '/api/traces/5b8efff798038103d269b633813fc60c', method: 'GET', agent: false }, () => {
    answered = true;
  });
  lookup.on('error', () => undefined);
  lookup.end();
  t.ok(await pollUntil(async () => node.lookupStats().inflight === 1, POLLS_MAX, 5), 'the lookup is in flight, waiting for its shard leader');
  lookup.destroy();
  t.ok(
    await pollUntil(async () => node.lookupStats().inflight === 0 && node.lookupStats().cancelled === 1, CANCEL_POLLS_MAX, 20),
    `the lookup is cancelled within ${CANCEL_POLLS_MAX} polls of 20 ms`,
  );
  t.equal(answered, false, 'its client got no answer either');
});
