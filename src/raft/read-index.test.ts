import t from 'tap';
import { isOtlpdbError } from '../errors.js';
import { Raft } from './raft.js';
import { newMessage } from './message.js';
import { TestNetwork, bytes, text } from './test-network.js';
import { MessageType } from './types.js';

t.test('thesis §6.4: a ReadIndex on the leader is answered after a quorum acknowledges a heartbeat, with the commit index', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  net.propose(1, bytes('w'));
  const commit = net.node(1).raw.status().commit;
  const before = net.delivered.length;
  t.equal(net.node(1).raw.readIndex(bytes('r1')), null);
  net.deliverAll();
  const rs = net.node(1).readStates;
  t.equal(rs.length, 1);
  t.equal(text(rs[0]!.context), 'r1');
  t.equal(rs[0]!.index, commit);
  const hbs = net.delivered.slice(before).filter((m) => m.type === MessageType.Heartbeat);
  t.ok(hbs.length >= 2 && hbs.every((m) => m.context !== null && text(m.context) === 'r1'), 'confirmed by a heartbeat round carrying the context');
});

t.test('thesis §6.4: a leader that cannot reach a quorum does not answer a ReadIndex', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  net.isolate(1);
  net.node(1).raw.readIndex(bytes('stale?'));
  net.deliverAll();
  net.tick(5, [1]);
  t.equal(net.node(1).readStates.length, 0, 'no answer without a quorum');
});

t.test('readIndexNeedsQuorum is a hook: the planted stale-read bug answers at once from a partitioned leader (the test above can fail)', async (t) => {
  class StaleReads extends Raft {
    protected override readIndexNeedsQuorum(): boolean {
      return false; // BUG: no leadership confirmation.
    }
  }
  const net = new TestNetwork([1, 2, 3], { makeRaft: (c) => new StaleReads(c) });
  net.campaign(1);
  net.isolate(1);
  net.node(1).raw.readIndex(bytes('stale'));
  net.deliverAll();
  t.equal(net.node(1).readStates.length, 1, 'the planted bug answers without a quorum');
});

t.test('thesis §6.4 step 1: a new leader postpones reads until it commits an entry of its term', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.filter = (m) => m.type !== MessageType.App; // The empty entry cannot commit.
  net.campaign(1);
  t.equal(net.node(1).raw.readIndex(bytes('early')), null, 'accepted (postponed), not refused');
  net.tick(2, [1]);
  t.equal(net.node(1).readStates.length, 0, 'not answered before the term commits');
  t.equal(net.raft(1).pendingReadCount(), 1);
  net.heal();
  net.tick(2);
  t.equal(net.node(1).readStates.length, 1, 'answered once the leader committed in its term');
  t.equal(net.node(1).readStates[0]!.index, net.node(1).raw.status().commit);
});

t.test('thesis §6.4: a ReadIndex on a follower is forwarded to the leader and delivered as a ReadState', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  net.propose(1, bytes('w1'));
  t.equal(net.node(2).raw.readIndex(bytes('f1')), null);
  net.deliverAll();
  const rs = net.node(2).readStates;
  t.equal(rs.length, 1);
  t.equal(text(rs[0]!.context), 'f1');
  t.equal(rs[0]!.index, net.node(1).raw.status().commit, 'the leader commit index at the time of the read');
  t.equal(net.node(1).readStates.length, 0, 'the leader does not keep the follower read');
});

t.test('a follower without a leader refuses a ReadIndex', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  t.ok(isOtlpdbError(net.node(2).raw.readIndex(bytes('x')), 'ERR_PROPOSAL_DROPPED'));
});

t.test('a single-voter group answers a ReadIndex at once', async (t) => {
  const net = new TestNetwork([1]);
  net.campaign(1);
  net.node(1).raw.readIndex(bytes('solo'));
  const rd = net.node(1).raw.ready();
  t.equal(rd.readStates.length, 1);
  t.equal(rd.messages.length, 0, 'no heartbeat round');
  net.node(1).raw.advance();
});

t.test('ReadIndex requests are bounded by readIndexPendingMax', async (t) => {
  const net = new TestNetwork([1, 2, 3], { config: { readIndexPendingMax: 2 } });
  net.campaign(1);
  net.isolate(1);
  t.equal(net.node(1).raw.readIndex(bytes('a')), null);
  t.equal(net.node(1).raw.readIndex(bytes('b')), null);
  t.ok(isOtlpdbError(net.node(1).raw.readIndex(bytes('c')), 'ERR_UNAVAILABLE'), 'third refused');
  t.ok(isOtlpdbError(net.node(1).raw.readIndex(new Uint8Array(0)), 'ERR_INVALID_ARGUMENT'), 'empty context refused');
});

t.test('a follower drops a ReadIndex another replica forwarded to it (the transport authenticates senders): nothing is sent in another name', async (t) => {
  // Node 3 forwarded its read to node 2 while it believed node 2 led; node 2
  // is a follower of node 1. Forwarding it on would send a message "from 3"
  // over node 2's links, which every receiving transport refuses (and which
  // stopped a real node's driver in a jepsen run: see raw-node ready()).
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  net.deliverAll();
  const stray = newMessage(net.raft(2).group, 3, { type: MessageType.ReadIndex, to: 2, context: bytes('r3') });
  const err = net.node(2).raw.step(stray);
  t.ok(isOtlpdbError(err, 'ERR_PROPOSAL_DROPPED'), 'dropped, with an error the caller can retry on');
  t.same((err as { details?: Record<string, unknown> } | null)?.details, { leaderHint: 1 }, 'names the leader');
  t.notOk(net.node(2).raw.hasReady() && net.node(2).raw.ready().messages.some((m) => m.from !== 2), 'no message leaves in another replica\'s name');
});

t.test('planted: a follower that forwards others\' reads is stopped by the Ready check (the test above can fail)', async (t) => {
  class ForwardsAnyRead extends Raft {
    protected override stepFollower(m: Parameters<Raft['stepFollower']>[0]): ReturnType<Raft['stepFollower']> {
      if (m.type === MessageType.ReadIndex && m.from !== this.id) {
        this.msgs.push(newMessage(this.group, m.from, { ...m, to: this.lead, term: 0 }));
        return null;
      }
      return super.stepFollower(m);
    }
  }
  const net = new TestNetwork([1, 2, 3], { makeRaft: (c) => new ForwardsAnyRead(c) });
  net.campaign(1);
  net.deliverAll();
  net.node(2).raw.step(newMessage(net.raft(2).group, 3, { type: MessageType.ReadIndex, to: 2, context: bytes('r3') }));
  t.throws(() => net.node(2).raw.ready(), /a Ready sends messages from this replica only/);
});
