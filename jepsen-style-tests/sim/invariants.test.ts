import t from 'tap';
import { MemoryStorage } from '../../src/raft/memory-storage.js';
import { MessageType } from '../../src/raft/types.js';
import type { Entry, Message } from '../../src/raft/types.js';
import { InvariantName, Invariants } from './invariants.js';

const enc = new TextEncoder();
function e(index: number, term: number, data = `d${index}.${term}`): Entry {
  return { index, term, type: 0, data: enc.encode(data) };
}
function msg(type: Message['type'], from: number, to: number, term: number, reject = false): Message {
  return {
    group: 0,
    type,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject,
    rejectHint: 0,
    rejectTerm: 0,
    context: null,
    snapshot: null,
  };
}
const conf = { voters: [1, 2, 3], learners: [] };

t.test('election safety: two leaders in one term are caught, across restarts too', async (t) => {
  const inv = new Invariants(7);
  inv.setStep(3);
  inv.leaderObserved(1, 5);
  inv.leaderObserved(1, 5);
  inv.crashed(1);
  inv.leaderObserved(2, 6);
  t.equal(inv.violation, null, 'one leader per term is fine');
  inv.leaderObserved(3, 5);
  t.equal(inv.violation?.invariant, InvariantName.electionSafety);
  t.equal(inv.violation?.seed, 7);
  t.equal(inv.violation?.step, 3);
});

t.test('log matching: same index and term with different data is caught', async (t) => {
  const inv = new Invariants(1);
  inv.entriesPersisted(1, [e(2, 1), e(3, 1)], 1);
  inv.entriesPersisted(2, [e(2, 1), e(3, 1)], 1);
  inv.entriesPersisted(3, [e(3, 2, 'other')], 1);
  t.equal(inv.violation, null, 'a different term at an index is not a conflict by itself');
  inv.entriesPersisted(3, [e(3, 1, 'evil')], 1);
  t.equal(inv.violation?.invariant, InvariantName.logMatching);
});

t.test('log matching: same (index, term) after different previous terms is caught', async (t) => {
  const inv = new Invariants(1);
  inv.entriesPersisted(1, [e(5, 3)], 2);
  inv.entriesPersisted(2, [e(5, 3)], -1);
  t.equal(inv.violation, null, 'an unknown previous term is not a conflict');
  inv.entriesPersisted(3, [e(4, 1), e(5, 3)], 1);
  t.equal(inv.violation?.invariant, InvariantName.logMatching);
  t.match(inv.violation?.detail ?? '', /previous term/);
});

t.test('state machine safety: a divergent applied entry is caught', async (t) => {
  const inv = new Invariants(1);
  inv.entryApplied(1, e(2, 1));
  inv.entryApplied(2, e(2, 1));
  t.equal(inv.violation, null);
  inv.entryApplied(3, e(2, 2));
  t.equal(inv.violation?.invariant, InvariantName.stateMachineSafety);
  const inv2 = new Invariants(1);
  inv2.entryApplied(1, e(2, 1));
  inv2.entryApplied(2, e(2, 1, 'same term, other data'));
  t.equal(inv2.violation?.invariant, InvariantName.stateMachineSafety);
  const inv3 = new Invariants(1);
  inv3.entryApplied(1, e(9, 4));
  inv3.snapshotApplied(2, { metadata: { index: 9, term: 3, confState: conf }, data: new Uint8Array(0) });
  t.equal(inv3.violation?.invariant, InvariantName.stateMachineSafety, 'a snapshot contradicting a committed entry');
});

t.test('leader completeness: a leader missing or contradicting a committed entry is caught', async (t) => {
  const inv = new Invariants(1);
  for (const x of [e(2, 1), e(3, 1), e(4, 2)]) inv.entryApplied(1, x);
  const good = new MemoryStorage(conf);
  good.append([e(2, 1), e(3, 1), e(4, 2), e(5, 3)]);
  inv.becameLeader(1, 3, good);
  t.equal(inv.violation, null);
  const short = new MemoryStorage(conf);
  short.append([e(2, 1), e(3, 1)]);
  const inv2 = new Invariants(1);
  for (const x of [e(2, 1), e(3, 1), e(4, 2)]) inv2.entryApplied(1, x);
  inv2.becameLeader(2, 3, short);
  t.equal(inv2.violation?.invariant, InvariantName.leaderCompleteness);
  const wrong = new MemoryStorage(conf);
  wrong.append([e(2, 1), e(3, 2), e(4, 2)]);
  const inv3 = new Invariants(1);
  for (const x of [e(2, 1), e(3, 1), e(4, 2)]) inv3.entryApplied(1, x);
  inv3.becameLeader(3, 3, wrong);
  t.equal(inv3.violation?.invariant, InvariantName.leaderCompleteness);
  const compacted = new MemoryStorage(conf);
  compacted.applySnapshot({ metadata: { index: 4, term: 2, confState: conf }, data: new Uint8Array(0) });
  const inv4 = new Invariants(1);
  for (const x of [e(2, 1), e(3, 1), e(4, 2)]) inv4.entryApplied(1, x);
  inv4.becameLeader(3, 3, compacted);
  t.equal(inv4.violation, null, 'entries covered by the leader snapshot are not looked up');
});

t.test('monotonicity: term, commit or applied going backwards is caught', async (t) => {
  for (const [hs2, applied2] of [
    [{ term: 2, vote: 0, commit: 5 }, 5],
    [{ term: 3, vote: 0, commit: 4 }, 5],
    [{ term: 3, vote: 0, commit: 5 }, 4],
  ] as const) {
    const inv = new Invariants(1);
    inv.hardStateObserved(1, { term: 3, vote: 0, commit: 5 });
    inv.appliedObserved(1, 5);
    inv.hardStateObserved(1, hs2);
    inv.appliedObserved(1, applied2);
    t.equal(inv.violation?.invariant, InvariantName.monotonicity);
  }
  const inv = new Invariants(1);
  inv.hardStateObserved(1, { term: 3, vote: 0, commit: 5 });
  inv.crashed(1);
  inv.hardStateObserved(1, { term: 3, vote: 0, commit: 1 });
  t.equal(inv.violation, null, 'a restarted node may have a lower (volatile) commit');
});

t.test('durable term: a term going backwards across a restart is caught', async (t) => {
  const inv = new Invariants(1);
  inv.synced(1, 4);
  inv.crashed(1);
  const empty = new MemoryStorage(conf);
  inv.restarted(1, { hardState: { term: 3, vote: 0, commit: 1 }, snapshot: empty.snapshot(), entries: [] });
  t.equal(inv.violation?.invariant, InvariantName.durableTerm);
  const inv2 = new Invariants(1);
  inv2.synced(1, 4);
  inv2.synced(1, 3);
  t.equal(inv2.violation?.invariant, InvariantName.durableTerm);
});

t.test('durable promises: a forgotten term or vote is caught; pre-votes do not count', async (t) => {
  const snap = new MemoryStorage(conf).snapshot();
  const inv = new Invariants(1);
  inv.messageSent(msg(MessageType.PreVote, 1, 2, 9));
  inv.messageSent(msg(MessageType.App, 1, 2, 4));
  inv.restarted(1, { hardState: { term: 4, vote: 0, commit: 1 }, snapshot: snap, entries: [] });
  t.equal(inv.violation, null);
  inv.restarted(1, { hardState: { term: 3, vote: 0, commit: 1 }, snapshot: snap, entries: [] });
  t.equal(inv.violation?.invariant, InvariantName.durablePromises);
  const inv2 = new Invariants(1);
  inv2.messageSent(msg(MessageType.VoteResp, 2, 3, 5));
  inv2.restarted(2, { hardState: { term: 5, vote: 1, commit: 1 }, snapshot: snap, entries: [] });
  t.equal(inv2.violation?.invariant, InvariantName.durablePromises);
  const inv3 = new Invariants(1);
  inv3.messageSent(msg(MessageType.VoteResp, 2, 3, 5, true));
  inv3.restarted(2, { hardState: { term: 5, vote: 1, commit: 1 }, snapshot: snap, entries: [] });
  t.equal(inv3.violation, null, 'a rejected vote promises nothing');
});

t.test('committed durability: a restarted log contradicting a committed entry is caught', async (t) => {
  const snap = new MemoryStorage(conf).snapshot();
  const inv = new Invariants(1);
  inv.entryApplied(1, e(2, 1));
  inv.entryApplied(1, e(3, 1));
  inv.restarted(2, { hardState: { term: 2, vote: 0, commit: 2 }, snapshot: snap, entries: [e(2, 1), e(3, 2)] });
  t.equal(inv.violation, null, 'a stale suffix above the durable commit index is legal');
  inv.restarted(2, { hardState: { term: 2, vote: 0, commit: 3 }, snapshot: snap, entries: [e(2, 1), e(3, 2)] });
  t.equal(inv.violation?.invariant, InvariantName.committedDurability);
});

t.test('only the first violation is kept', async (t) => {
  const inv = new Invariants(1);
  inv.setStep(1);
  inv.leaderObserved(1, 1);
  inv.leaderObserved(2, 1);
  inv.setStep(2);
  inv.entryApplied(1, e(2, 1));
  inv.entryApplied(2, e(2, 2));
  t.equal(inv.violation?.invariant, InvariantName.electionSafety);
  t.equal(inv.violation?.step, 1);
  t.throws(() => inv.setStep(1), { code: 'ERR_INTERNAL' });
});
