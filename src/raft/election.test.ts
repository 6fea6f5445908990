import t from 'tap';
import { CAMPAIGN_TRANSFER } from './raft.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { TestNetwork } from './test-network.js';
import { MessageType, NONE, StateRole } from './types.js';
import { newMessage } from './message.js';

t.test('§5.2: randomized election timeouts are drawn in [electionTicks, 2*electionTicks) from the injected rand', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  const seen = new Set<number>();
  for (let k = 0; k < 200; k++) {
    const r = net.raft(1);
    r.becomeFollower(r.term + 1, NONE);
    t.ok(r.randomizedElectionTimeout >= 10 && r.randomizedElectionTimeout < 20, 'in range');
    seen.add(r.randomizedElectionTimeout);
  }
  t.ok(seen.size >= 5, `timeouts vary (${seen.size} distinct values)`);
  // Same seed, same sequence: determinism.
  const a = new SeededRand(42);
  const b = new SeededRand(42);
  t.same([a.intn(10), a.intn(10), a.intn(10)], [b.intn(10), b.intn(10), b.intn(10)]);
});

t.test('§5.2: a node whose election timeout elapses becomes leader of a healthy group', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.tick(25);
  const leaders = net.leaders();
  t.equal(leaders.length, 1, 'exactly one leader');
  const lead = leaders[0]!.id;
  for (const n of net.nodes.values()) t.equal(n.raw.status().lead, lead, `node ${n.id} knows the leader`);
});

t.test('§5.2: split votes are resolved by randomized timeouts', async (t) => {
  // Force a split vote: with preVote off, 1 and 3 campaign at once in a
  // 4-node group; 2 votes for 1 and 4 for 3, so nobody wins term 2.
  const net = new TestNetwork([1, 2, 3, 4], { config: { preVote: false, checkQuorum: false } });
  net.node(1).raw.campaign();
  net.node(3).raw.campaign();
  // Deliver 1's request to 2 first and 3's request to 4 first.
  net.filter = (m) => !(m.type === MessageType.Vote && ((m.from === 1 && m.to === 4) || (m.from === 3 && m.to === 2)));
  net.deliverAll();
  t.equal(net.leaders().length, 0, 'term 2 had a split vote');
  t.equal(net.raft(1).term, 2);
  t.equal(net.raft(3).term, 2);
  net.heal();
  net.tick(60);
  const leaders = net.leaders();
  t.equal(leaders.length, 1, 'one leader after randomized retries');
  t.ok(leaders[0]!.term > 2, 'in a later term');
});

t.test('§5.4.1: a vote is refused to a candidate whose log is less up to date', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  net.isolate(3);
  net.propose(1, new TextEncoder().encode('x'));
  net.heal();
  // 3 lacks the entry; with pre-vote off it asks for votes in a higher term.
  const r3 = net.raft(3);
  const before = net.raft(2).vote;
  r3.becomeFollower(r3.term, NONE);
  net.node(2).raw.raft.becomeFollower(net.raft(2).term, NONE);
  net.raft(2).electionElapsed = 100; // Out of lease.
  net.node(2).raw.step(
    newMessage(7, 3, { type: MessageType.Vote, to: 2, term: r3.term + 1, index: 1, logTerm: 1 }),
  );
  const rd = net.node(2).raw.ready();
  const resp = rd.messages.find((m) => m.type === MessageType.VoteResp);
  t.ok(resp?.reject, 'vote refused: candidate log is behind');
  t.not(net.raft(2).vote, 3, 'did not vote for 3');
  t.equal(before, 1);
});

t.test('thesis §9.6 pre-vote: a partitioned node does not bump its term and does not disrupt the leader when it rejoins', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  const term = net.raft(1).term;
  net.isolate(3);
  net.tick(100, [3]); // 3 times out many times, pre-campaigning.
  t.equal(net.raft(3).term, term, 'isolated pre-candidate kept its term');
  t.equal(net.raft(3).role, StateRole.PreCandidate);
  net.heal();
  net.tick(1, [1]); // Heartbeat brings 3 back.
  net.tick(3);
  t.equal(net.raft(1).role, StateRole.Leader, 'leader undisturbed');
  t.equal(net.raft(1).term, term, 'term unchanged');
  t.equal(net.raft(3).role, StateRole.Follower);
  t.equal(net.raft(3).lead, 1);
});

t.test('without pre-vote, a rejoining partitioned node does disrupt (control for the test above)', async (t) => {
  const net = new TestNetwork([1, 2, 3], { config: { preVote: false, checkQuorum: false } });
  net.campaign(1);
  const term = net.raft(1).term;
  net.isolate(3);
  net.tick(100, [3]);
  t.ok(net.raft(3).term > term, 'isolated candidate bumped its term');
  net.heal();
  net.tick(30);
  t.ok(net.raft(1).term > term, 'the group moved to a higher term');
});

t.test('thesis §9.6: pre-votes are granted only to an up-to-date log and only out of a leader lease', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  const r2 = net.raft(2);
  const term = r2.term;
  // In lease (2 just heard from leader 1): the pre-vote is ignored and 2's term stays.
  net.node(2).raw.step(newMessage(7, 3, { type: MessageType.PreVote, to: 2, term: term + 1, index: 100, logTerm: term }));
  let rd = net.node(2).raw.ready();
  t.equal(rd.messages.filter((m) => m.type === MessageType.PreVoteResp).length, 0, 'no answer inside the lease');
  net.node(2).raw.advance();
  t.equal(r2.term, term, 'term not bumped');
  // Out of lease: granted when up to date, refused when behind.
  r2.electionElapsed = 10;
  net.node(2).raw.step(newMessage(7, 3, { type: MessageType.PreVote, to: 2, term: term + 1, index: 100, logTerm: term }));
  net.node(2).raw.step(newMessage(7, 1, { type: MessageType.PreVote, to: 2, term: term + 1, index: 0, logTerm: 0 }));
  rd = net.node(2).raw.ready();
  const resps = rd.messages.filter((m) => m.type === MessageType.PreVoteResp);
  t.equal(resps.length, 2);
  t.equal(resps[0]!.reject, false, 'up-to-date pre-candidate granted');
  t.equal(resps[0]!.term, term + 1, 'grant carries the future term');
  t.equal(resps[1]!.reject, true, 'stale log refused');
  net.node(2).raw.advance();
  t.equal(r2.term, term, 'granting a pre-vote never changes our term');
  t.equal(r2.vote, 1, 'nor our vote');
});

t.test('thesis §6.2 check-quorum: a leader that has not heard from a quorum within an election timeout steps down', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  net.isolate(1);
  net.tick(9, [1]);
  t.equal(net.raft(1).role, StateRole.Leader, 'still leader within the first timeout');
  net.tick(12, [1]);
  t.equal(net.raft(1).role, StateRole.Follower, 'stepped down');
  t.equal(net.raft(1).lead, NONE);
});

t.test('check-quorum off: an isolated leader stays leader (control)', async (t) => {
  const net = new TestNetwork([1, 2, 3], { config: { checkQuorum: false } });
  net.campaign(1);
  net.isolate(1);
  net.tick(50, [1]);
  t.equal(net.raft(1).role, StateRole.Leader);
});

t.test('thesis §4.2.3: a node that heard from its leader within the minimum election timeout ignores Vote requests (no grant, no term bump)', async (t) => {
  const net = new TestNetwork([1, 2, 3], { config: { preVote: false } });
  net.campaign(1);
  const r2 = net.raft(2);
  const term = r2.term;
  net.node(2).raw.step(newMessage(7, 3, { type: MessageType.Vote, to: 2, term: term + 5, index: 100, logTerm: term }));
  const rd = net.node(2).raw.ready();
  t.equal(rd.messages.length, 0, 'no vote response at all');
  net.node(2).raw.advance();
  t.equal(r2.term, term, 'term not bumped');
  t.equal(r2.lead, 1, 'still following 1');
  // A transfer campaign (context CampaignTransfer) bypasses the lease.
  net.node(2).raw.step(
    newMessage(7, 3, { type: MessageType.Vote, to: 2, term: term + 5, index: 100, logTerm: term, context: CAMPAIGN_TRANSFER }),
  );
  const rd2 = net.node(2).raw.ready();
  const resp = rd2.messages.find((m) => m.type === MessageType.VoteResp);
  t.equal(resp?.reject, false, 'a transfer vote is granted despite the lease');
  t.equal(r2.term, term + 5);
  t.equal(r2.vote, 3);
});

t.test('learners never campaign', async (t) => {
  const net = new TestNetwork([1, 2], { learners: [3] });
  net.tick(200, [3]);
  t.equal(net.raft(3).role, StateRole.Follower);
  t.equal(net.raft(3).term, 1, 'a learner never starts an election');
});
