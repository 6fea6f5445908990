// The frames queued for a peer in one event loop turn leave in one socket write (peer-transport.ts #flush), in order.
import t from 'tap';
import { MessageType } from '../raft/types.js';
import { msg, receivedFrom, startCluster, waitFor } from './transport-test-util.js';

t.test('frames queued for a peer in one turn leave in one socket write, in send order', async (t) => {
  const nodes = await startCluster(2, 31);
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  const [n1, n2] = nodes;
  if (n1 === undefined || n2 === undefined) throw new Error('two nodes');
  // Connected first: the Hello and the dial are not what is counted.
  n1.transport.send([msg({ group: 1, from: 1, to: 2, index: 0 }, MessageType.Heartbeat)]);
  await waitFor(() => receivedFrom(n2, 1).length === 1, 'the link is up');
  const before = n1.transport.metrics();
  // Three sends in one synchronous turn (three frames: each send is a frame for one peer), and a call in a later microtask of the same turn.
  for (let i = 1; i <= 3; i++) n1.transport.send([msg({ group: i, from: 1, to: 2, index: i }, MessageType.Heartbeat)]);
  await Promise.resolve();
  n1.transport.send([msg({ group: 4, from: 1, to: 2, index: 4 }, MessageType.Heartbeat)]);
  t.equal(n1.transport.metrics().framesSent, before.framesSent, 'nothing is written before the turn ends');
  await waitFor(() => receivedFrom(n2, 1).length === 5, 'four more deliveries');
  const after = n1.transport.metrics();
  t.equal(after.framesSent - before.framesSent, 4, 'four frames');
  t.equal(after.socketWrites - before.socketWrites, 1, 'in one socket write');
  t.same(receivedFrom(n2, 1).map((m) => m.index), [0, 1, 2, 3, 4], 'in send order');
  // A later turn is a later write.
  await new Promise((r) => setImmediate(r));
  n1.transport.send([msg({ group: 5, from: 1, to: 2, index: 5 }, MessageType.Heartbeat)]);
  await waitFor(() => receivedFrom(n2, 1).length === 6, 'one more delivery');
  t.equal(n1.transport.metrics().socketWrites - after.socketWrites, 1, 'one write for the next turn');
});
