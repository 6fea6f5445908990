import t from 'tap';
import { MemoryStorage } from './memory-storage.js';
import { RaftLog, TERM_COMPACTED, TERM_UNAVAILABLE } from './raft-log.js';
import { EntryType } from './types.js';
import type { Entry } from './types.js';

const ent = (index: number, term: number, n = 10): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(n) });

function log(terms: number[]): RaftLog {
  const s = new MemoryStorage({ voters: [1], learners: [] });
  s.append(terms.map((term, k) => ent(k + 2, term)));
  return new RaftLog(s);
}

t.test('§5.3 findConflict finds the first entry that differs', async (t) => {
  const l = log([1, 2, 3]); // 2@1 3@2 4@3
  t.equal(l.findConflict([]), 0);
  t.equal(l.findConflict([ent(2, 1), ent(3, 2), ent(4, 3)]), 0, 'all match');
  t.equal(l.findConflict([ent(3, 2), ent(4, 3), ent(5, 4)]), 5, 'first new entry');
  t.equal(l.findConflict([ent(3, 2), ent(4, 4)]), 4, 'first conflict');
});

t.test('§5.3 maybeAppend: match check, truncation of a conflicting uncommitted suffix, commit = min(leaderCommit, last new)', async (t) => {
  const l = log([1, 2, 3]);
  t.equal(l.maybeAppend(4, 2, 4, [ent(5, 4)]), -1, 'prev term mismatch refused');
  t.equal(l.maybeAppend(6, 3, 4, [ent(7, 4)]), -1, 'prev beyond last refused');
  t.equal(l.maybeAppend(3, 2, 10, [ent(4, 4), ent(5, 4)]), 5, 'conflict at 4 replaced');
  t.equal(l.term(4), 4);
  t.equal(l.committed, 5, 'commit capped at last new index');
  t.throws(() => l.maybeAppend(2, 1, 5, [ent(3, 9)]), { code: 'ERR_INTERNAL' }, 'never truncates a committed entry');
});

t.test('findConflictByTerm skips a whole term (etcd fast backtracking)', async (t) => {
  const l = log([1, 1, 2, 2, 2, 5, 5]); // 2@1 3@1 4@2 5@2 6@2 7@5 8@5
  t.equal(l.findConflictByTerm(8, 3), 6, 'largest index with term <= 3');
  t.equal(l.findConflictByTerm(8, 1), 3);
  t.equal(l.findConflictByTerm(8, 5), 8);
  t.equal(l.findConflictByTerm(20, 5), 20, 'beyond the log: unchanged');
  t.equal(l.findConflictByTerm(8, 0), 0, 'down to the start');
});

t.test('§5.4.1 isUpToDate compares last term, then last index', async (t) => {
  const l = log([1, 2, 3]);
  t.ok(l.isUpToDate(4, 3));
  t.ok(l.isUpToDate(2, 4), 'higher term wins even if shorter');
  t.notOk(l.isUpToDate(3, 3), 'same term, shorter');
  t.notOk(l.isUpToDate(9, 2), 'lower term loses even if longer');
});

t.test('term never throws out of range; slice honours byte limits across storage and unstable', async (t) => {
  const l = log([1, 2, 3]);
  t.equal(l.term(0), TERM_COMPACTED);
  t.equal(l.term(9), TERM_UNAVAILABLE);
  l.append([ent(5, 3), ent(6, 3)]);
  t.same(l.slice(3, 7, 1e9).map((e) => e.index), [3, 4, 5, 6], 'storage then unstable');
  t.same(l.slice(3, 7, 34 * 3).map((e) => e.index), [3, 4, 5], 'byte limit spans the boundary');
  t.same(l.slice(5, 7, 1).map((e) => e.index), [5], 'at least one');
  t.throws(() => l.slice(1, 3, 1e9), { code: 'ERR_COMPACTED' });
});

t.test('stableTo, appliedTo and nextCommittedEnts', async (t) => {
  const l = log([1, 2]);
  l.append([ent(4, 3), ent(5, 3)]);
  l.commitTo(5);
  t.same(l.nextCommittedEnts(1e9).map((e) => e.index), [2, 3, 4, 5]);
  t.same(l.nextCommittedEnts(34 * 2).map((e) => e.index), [2, 3]);
  l.appliedTo(3);
  t.same(l.nextCommittedEnts(1e9).map((e) => e.index), [4, 5]);
  l.stableTo(4, 2); // Wrong term: ignored.
  t.equal(l.unstable.entries.length, 2);
  l.stableTo(4, 3);
  t.equal(l.unstable.entries.length, 1);
  t.throws(() => l.appliedTo(2), { code: 'ERR_INTERNAL' }, 'applied never moves backwards');
  t.throws(() => l.commitTo(9), { code: 'ERR_INTERNAL' }, 'commit within the log');
});

t.test('restore resets to a snapshot', async (t) => {
  const l = log([1, 2]);
  l.restore({ metadata: { index: 10, term: 4, confState: { voters: [1], learners: [] } }, data: new Uint8Array() });
  t.equal(l.firstIndex(), 11);
  t.equal(l.lastIndex(), 10);
  t.equal(l.lastTerm(), 4);
  t.equal(l.committed, 10);
  t.ok(l.hasPendingSnapshot());
});
