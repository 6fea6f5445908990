import t from 'tap';
import { MemoryStorage } from './memory-storage.js';
import { newMessage } from './message.js';
import { RawNode } from './raw-node.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { TestNetwork, bytes, text } from './test-network.js';
import { EntryType, MessageType, StateRole } from './types.js';
import type { Message } from './types.js';

function single(): { raw: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage({ voters: [1], learners: [] });
  const raw = new RawNode({ id: 1, group: 3, storage, rand: new SeededRand(5), applied: 1 });
  return { raw, storage };
}

function drive(raw: RawNode, storage: MemoryStorage): void {
  while (raw.hasReady()) {
    const rd = raw.ready();
    if (rd.entries.length > 0) storage.append(rd.entries);
    if (rd.hardState !== null) storage.setHardState(rd.hardState);
    raw.advance();
  }
}

t.test('Ready: hasReady is false when idle, so a driver loop terminates', async (t) => {
  const { raw, storage } = single();
  t.equal(raw.hasReady(), false, 'a fresh replica has nothing to do');
  raw.tick();
  t.equal(raw.hasReady(), false, 'a tick below the timeout changes nothing');
  raw.campaign();
  t.equal(raw.hasReady(), true);
  drive(raw, storage);
  t.equal(raw.hasReady(), false, 'quiet after carrying out every Ready');
});

t.test('Ready: mustSync is true when term, vote or entries change (as etcd), and false for a commit-only change', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  for (const n of net.nodes.values()) {
    for (const r of n.readies) {
      if (r.entries > 0 || r.termChanged || r.voteChanged) t.equal(r.mustSync, true, `node ${n.id}: sync needed`);
    }
  }
  // A follower learning only a new commit index does not need to sync.
  const n2 = net.node(2);
  net.propose(1, bytes('x'));
  n2.readies = [];
  net.node(1).raw.readIndex(bytes('nudge')); // Heartbeats carry the commit to followers.
  net.deliverAll();
  t.ok(n2.readies.length > 0);
  t.ok(n2.readies.every((r) => r.entries > 0 || r.termChanged || r.voteChanged || !r.mustSync), 'commit-only Readies skip fsync');
});

t.test('Ready: carries soft state on role change, hard state on change, entries before their messages', async (t) => {
  const { raw, storage } = single();
  raw.campaign();
  const rd = raw.ready();
  t.same(rd.softState, { leader: 1, role: StateRole.Leader });
  t.equal(rd.hardState?.term, 2);
  t.equal(rd.hardState?.vote, 1);
  t.equal(rd.entries.length, 1, 'the empty entry of the term');
  t.equal(rd.mustSync, true);
  t.equal(rd.committedEntries.length, 1, 'a single voter commits at once; applied after persisting');
  storage.append(rd.entries);
  raw.advance();
  t.equal(raw.status().applied, 2);
  const rd2 = raw.ready();
  t.equal(rd2.softState, null, 'no soft state change');
  t.equal(rd2.hardState, null, 'no hard state change');
  raw.advance();
  t.throws(() => {
    raw.ready();
    raw.ready();
  }, { code: 'ERR_INTERNAL' }, 'a second Ready before advance is a programmer error');
});

t.test('Ready: committedEntries are bounded by committedEntriesBytesMax', async (t) => {
  const storage = new MemoryStorage({ voters: [1], learners: [] });
  const raw = new RawNode({ id: 1, group: 3, storage, rand: new SeededRand(5), applied: 1, committedEntriesBytesMax: 250 });
  raw.campaign();
  drive(raw, storage);
  raw.propose(Array.from({ length: 10 }, () => new Uint8Array(100)));
  const sizes: number[] = [];
  while (raw.hasReady()) {
    const rd = raw.ready();
    if (rd.entries.length > 0) storage.append(rd.entries);
    if (rd.committedEntries.length > 0) sizes.push(rd.committedEntries.length);
    raw.advance();
  }
  t.same(sizes, [2, 2, 2, 2, 2], '124-byte entries, two per 250-byte Ready');
});

t.test('step refuses, without throwing, messages of another group, local types, malformed fields, and responses from non-members', async (t) => {
  const { raw } = single();
  const ok = newMessage(3, 2, { type: MessageType.Heartbeat, to: 1, term: 5 });
  const cases: [string, unknown][] = [
    ['wrong group', { ...ok, group: 4 }],
    ['local LocalHup', { ...ok, type: MessageType.LocalHup }],
    ['local LocalSnapStatus', { ...ok, type: MessageType.LocalSnapStatus }],
    ['unknown type', { ...ok, type: 99 }],
    ['wrong recipient', { ...ok, to: 9 }],
    ['negative term', { ...ok, term: -1 }],
    ['fractional index', { ...ok, index: 1.5 }],
    ['NaN commit', { ...ok, commit: Number.NaN }],
    ['entries not array', { ...ok, entries: 'x' }],
    ['non-contiguous append', newMessage(3, 2, {
      type: MessageType.App, to: 1, term: 5, index: 1, logTerm: 1,
      entries: [{ term: 5, index: 3, type: EntryType.Normal, data: new Uint8Array(0) }],
    })],
    ['entry term above message term', newMessage(3, 2, {
      type: MessageType.App, to: 1, term: 5, index: 1, logTerm: 1,
      entries: [{ term: 6, index: 2, type: EntryType.Normal, data: new Uint8Array(0) }],
    })],
    ['entry data not bytes', newMessage(3, 2, {
      type: MessageType.App, to: 1, term: 5, index: 1, logTerm: 1,
      entries: [{ term: 5, index: 2, type: EntryType.Normal, data: 'x' as unknown as Uint8Array }],
    })],
    ['Snap without chunk', newMessage(3, 2, { type: MessageType.Snap, to: 1, term: 5 })],
    ['Snap chunk past total', newMessage(3, 2, {
      type: MessageType.Snap, to: 1, term: 5,
      snapshot: { metadata: { index: 5, term: 5, confState: { voters: [1], learners: [] } }, offset: 3, totalBytes: 4, data: new Uint8Array(2), done: true },
    })],
    ['response from a non-member', newMessage(3, 9, { type: MessageType.AppResp, to: 1, term: 5 })],
    ['null', null],
    ['string', 'hello'],
  ];
  const before = raw.status();
  for (const [name, m] of cases) {
    let err: unknown;
    t.doesNotThrow(() => {
      err = raw.step(m as Message);
    }, name);
    t.match(err, { code: 'ERR_INVALID_ARGUMENT' }, `${name}: refused`);
  }
  t.same(raw.status(), before, 'nothing changed');
  t.equal(raw.step(ok), null, 'a well-formed heartbeat is accepted');
});

t.test('status reports progress only on the leader', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  const s1 = net.node(1).raw.status();
  t.equal(s1.role, StateRole.Leader);
  t.same(Object.keys(s1.progress ?? {}).sort(), ['1', '2', '3']);
  t.equal(s1.progress?.[2]?.match, s1.lastIndex);
  t.equal(net.node(2).raw.status().progress, undefined);
  t.same(s1.confState, { voters: [1, 2, 3], learners: [] });
  t.equal(s1.firstIndex, 2);
});

t.test('basicStatus agrees with status and names where a leader appended a proposal', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  const leader = net.node(1).raw;
  t.equal(leader.propose(bytes('where')), null);
  const basic = leader.basicStatus();
  const full = leader.status();
  t.same(basic, { term: full.term, lead: full.lead, role: full.role, commit: full.commit, applied: full.applied, lastIndex: full.lastIndex });
  net.deliverAll();
  const entry = net.node(2).applied.find((e) => text(e.data) === 'where');
  t.equal(entry?.index, basic.lastIndex, 'the proposal landed at the lastIndex basicStatus reported');
  t.equal(entry?.term, basic.term, 'in the term basicStatus reported');
});

t.test('a restarted replica resumes from storage: term, vote, commit and log', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  net.propose(1, bytes('durable'));
  const n2 = net.node(2);
  const st = n2.raw.status();
  const again = new RawNode({ id: 2, group: 7, storage: n2.storage, rand: new SeededRand(1), applied: st.applied });
  const s = again.status();
  t.equal(s.term, st.term);
  t.equal(s.vote, st.vote);
  t.equal(s.commit, st.commit);
  t.equal(s.lastIndex, st.lastIndex);
  t.equal(s.role, StateRole.Follower);
  t.equal(again.hasReady(), false, 'nothing to redo');
});
