import t from 'tap';
import { MemoryStorage } from './memory-storage.js';
import { EntryType } from './types.js';
import type { Entry } from './types.js';

const ent = (index: number, term: number, n = 10): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(n) });

function filled(): MemoryStorage {
  const s = new MemoryStorage({ voters: [1], learners: [] });
  s.append([ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 3)]);
  return s;
}

t.test('bootstrap and joining storages', async (t) => {
  const b = new MemoryStorage({ voters: [1, 2], learners: [3] });
  t.same(b.initialState().confState, { voters: [1, 2], learners: [3] });
  t.same(b.hardState(), { term: 1, vote: 0, commit: 1 });
  t.equal(b.firstIndex(), 2);
  t.equal(b.lastIndex(), 1);
  t.equal(b.term(1), 1);
  const j = new MemoryStorage();
  t.equal(j.firstIndex(), 1);
  t.equal(j.lastIndex(), 0);
  t.same(j.initialState().confState, { voters: [], learners: [] });
});

t.test('entries, term and their range errors', async (t) => {
  const s = filled();
  t.same(s.entries(2, 6, 1e9).map((e) => e.index), [2, 3, 4, 5]);
  t.same(s.entries(2, 6, 40).map((e) => e.index), [2], 'byte limit (34 bytes per entry)');
  t.same(s.entries(2, 6, 1).map((e) => e.index), [2], 'always at least one');
  t.same(s.entries(3, 3, 1e9), []);
  t.throws(() => s.entries(1, 3, 1e9), { code: 'ERR_COMPACTED' });
  t.throws(() => s.entries(3, 7, 1e9), { code: 'ERR_UNAVAILABLE_INDEX' });
  t.equal(s.term(1), 1);
  t.equal(s.term(5), 3);
  t.throws(() => s.term(0), { code: 'ERR_COMPACTED' });
  t.throws(() => s.term(6), { code: 'ERR_UNAVAILABLE_INDEX' });
});

t.test('append truncates a conflicting suffix, ignores compacted entries, refuses a gap', async (t) => {
  const s = filled();
  s.append([ent(4, 4), ent(5, 4), ent(6, 4)]);
  t.same(s.entries(2, 7, 1e9).map((e) => `${e.index}@${e.term}`), ['2@1', '3@2', '4@4', '5@4', '6@4']);
  s.append([ent(1, 1), ent(2, 1)]); // Entirely old: no change.
  t.equal(s.lastIndex(), 2, 'a shorter overlapping append truncates after it, as etcd');
  t.throws(() => s.append([ent(9, 5)]), { code: 'ERR_UNAVAILABLE_INDEX' });
});

t.test('createSnapshot, compact, applySnapshot and their refusals', async (t) => {
  const s = filled();
  const snap = s.createSnapshot(4, { voters: [1], learners: [] }, Uint8Array.of(9));
  t.equal(snap.metadata.term, 2);
  t.throws(() => s.createSnapshot(3, { voters: [1], learners: [] }, new Uint8Array()), { code: 'ERR_SNAPSHOT_OUT_OF_DATE' });
  t.throws(() => s.createSnapshot(9, { voters: [1], learners: [] }, new Uint8Array()), { code: 'ERR_UNAVAILABLE_INDEX' });
  s.compact(4);
  t.equal(s.firstIndex(), 5);
  t.equal(s.term(4), 2, 'the compaction point keeps its term');
  t.same(s.entries(5, 6, 1e9).map((e) => e.index), [5]);
  t.throws(() => s.compact(3), { code: 'ERR_COMPACTED' });
  t.throws(() => s.compact(9), { code: 'ERR_UNAVAILABLE_INDEX' });
  t.throws(() => s.applySnapshot(snap), { code: 'ERR_SNAPSHOT_OUT_OF_DATE' });
  s.applySnapshot({ metadata: { index: 10, term: 5, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array() });
  t.equal(s.firstIndex(), 11);
  t.equal(s.lastIndex(), 10);
  t.same(s.initialState().confState.voters, [1, 2]);
  s.append([ent(11, 5)]);
  t.equal(s.lastIndex(), 11);
});
