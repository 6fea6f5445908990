import t from 'tap';
import { isOtlpdbError } from '../errors.js';
import { TestNetwork, bytes, text } from './test-network.js';
import { MessageType } from './types.js';

t.test('§5.3 batching: propose(array) appends the batch as one append and one broadcast', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  const before = net.delivered.length;
  t.equal(net.node(1).raw.propose([bytes('a'), bytes('b'), bytes('c')]), null);
  const rd = net.node(1).raw.ready();
  t.equal(rd.entries.length, 3, 'one Ready with the whole batch');
  const apps = rd.messages.filter((m) => m.type === MessageType.App);
  t.equal(apps.length, 2, 'one append per follower');
  t.ok(apps.every((m) => m.entries.length === 3), 'each carries the batch');
  net.node(1).storage.append(rd.entries);
  net.node(1).raw.advance();
  for (const m of rd.messages) net.node(m.to).raw.step(m);
  net.deliverAll();
  t.same(net.node(3).applied.map((e) => text(e.data)), ['a', 'b', 'c']);
  t.ok(net.delivered.length > before);
});

t.test('a follower forwards proposals to the leader', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  t.equal(net.node(2).raw.propose([bytes('via2'), bytes('via2b')]), null);
  const fwd = net.node(2).raw.ready().messages.filter((m) => m.type === MessageType.Prop);
  net.node(2).raw.advance();
  t.equal(fwd.length, 1);
  t.equal(fwd[0]!.to, 1);
  t.equal(fwd[0]!.entries.length, 2, 'the batch stays one message');
  net.node(1).raw.step(fwd[0]!);
  net.deliverAll();
  for (const n of net.nodes.values()) t.same(n.applied.map((e) => text(e.data)), ['via2', 'via2b']);
});

t.test('disableProposalForwarding: a follower refuses with ERR_NOT_LEADER and a leader hint', async (t) => {
  const net = new TestNetwork([1, 2, 3], { config: { disableProposalForwarding: true } });
  net.campaign(1);
  const err = net.node(2).raw.propose(bytes('x'));
  t.ok(isOtlpdbError(err, 'ERR_NOT_LEADER'));
  t.equal(err?.details.leaderHint, 1);
  t.equal(err?.retryable, true);
  t.equal(net.node(2).raw.ready().messages.length, 0, 'nothing forwarded');
  net.node(2).raw.advance();
});

t.test('no leader known: proposals are dropped with ERR_PROPOSAL_DROPPED', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  t.ok(isOtlpdbError(net.node(2).raw.propose(bytes('x')), 'ERR_PROPOSAL_DROPPED'));
});

t.test('uncommittedEntriesBytesMax: a leader drops proposals over its uncommitted budget, then accepts again after commit', async (t) => {
  const net = new TestNetwork([1, 2, 3], { config: { uncommittedEntriesBytesMax: 1000 } });
  net.campaign(1);
  net.isolate(1);
  t.equal(net.node(1).raw.propose(new Uint8Array(600)), null, 'first proposal always fits');
  const err = net.node(1).raw.propose(new Uint8Array(600));
  t.ok(isOtlpdbError(err, 'ERR_PROPOSAL_DROPPED'), 'over budget: dropped');
  net.heal();
  net.tick(2);
  t.equal(net.node(1).raw.propose(new Uint8Array(600)), null, 'budget freed once applied');
});

t.test('malformed proposals are refused', async (t) => {
  const net = new TestNetwork([1]);
  net.campaign(1);
  t.ok(isOtlpdbError(net.node(1).raw.propose([]), 'ERR_INVALID_ARGUMENT'));
  t.ok(isOtlpdbError(net.node(1).raw.propose(['x' as unknown as Uint8Array]), 'ERR_INVALID_ARGUMENT'));
  t.ok(isOtlpdbError(net.node(1).raw.propose(Array.from({ length: 5000 }, () => new Uint8Array(1))), 'ERR_LIMIT_EXCEEDED'));
});
