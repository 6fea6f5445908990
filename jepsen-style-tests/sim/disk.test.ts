import t from 'tap';
import type { Entry } from '../../src/raft/types.js';
import { SimDisk } from './disk.js';

const conf = { voters: [1, 2, 3], learners: [] };
function ents(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: 0, data: new Uint8Array([i & 255]) });
  return out;
}

t.test('a crash drops exactly the writes not synced', async (t) => {
  const d = new SimDisk(conf);
  d.setHardState({ term: 2, vote: 1, commit: 1 });
  d.append(ents(2, 4, 2));
  d.sync();
  d.setHardState({ term: 3, vote: 2, commit: 3 });
  d.append(ents(5, 6, 3));
  t.equal(d.live.lastIndex(), 6, 'the live node sees unsynced writes');
  t.equal(d.unsynced, 2);
  d.crash();
  const s = d.recover();
  t.equal(s.lastIndex(), 4);
  t.same(s.hardState(), { term: 2, vote: 1, commit: 1 });
  t.equal(d.stats.lostWrites, 2);
});

t.test('a synced conflicting append truncates the durable suffix too', async (t) => {
  const d = new SimDisk(conf);
  d.append(ents(2, 6, 2));
  d.sync();
  d.append(ents(4, 4, 3));
  d.sync();
  d.crash();
  const s = d.recover();
  t.equal(s.lastIndex(), 4);
  t.equal(s.term(4), 3);
});

t.test('compaction is durable and recovery starts from the snapshot', async (t) => {
  const d = new SimDisk(conf);
  d.setHardState({ term: 2, vote: 1, commit: 8 });
  d.append(ents(2, 10, 2));
  d.sync();
  t.ok(d.compact(8, conf, new Uint8Array([42]), 6));
  t.equal(d.live.firstIndex(), 7);
  d.crash();
  const s = d.recover();
  t.equal(s.snapshot().metadata.index, 8);
  t.same([...s.snapshot().data], [42]);
  t.equal(s.firstIndex(), 9);
  t.equal(s.lastIndex(), 10);
  t.notOk(d.compact(7, conf, new Uint8Array(0), 7), 'an older snapshot is refused');
});

t.test('an installed snapshot survives only once synced', async (t) => {
  const d = new SimDisk();
  const snap = { metadata: { index: 20, term: 4, confState: conf }, data: new Uint8Array([1]) };
  d.applySnapshot(snap);
  d.crash();
  t.equal(d.recover().lastIndex(), 0, 'unsynced snapshot lost');
  d.applySnapshot(snap);
  d.sync();
  d.crash();
  const s = d.recover();
  t.equal(s.snapshot().metadata.index, 20);
  t.same(s.initialState().confState, conf);
});
