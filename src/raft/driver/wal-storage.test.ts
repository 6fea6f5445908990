import t from 'tap';
import { CrashFileSystem } from '../../fs/crash-file-system.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { EntryType } from '../types.js';
import type { ConfState, Entry } from '../types.js';
import { Wal } from '../wal/wal.js';
import { FileSnapshotStore } from './snapshot-store.js';
import { WalStorage } from './wal-storage.js';

const ent = (index: number, term: number, n = 10): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(n).fill(index) });
const CS: ConfState = { voters: [1], learners: [] };
const G = 3;

async function open(fs: CrashFileSystem, bootstrap: ConfState | null = CS): Promise<{ wal: Wal; s: WalStorage }> {
  const { wal, recovery } = await Wal.open(fs, '/n/wal');
  const store = new FileSnapshotStore(fs, '/n/snap');
  const s = await WalStorage.recover(wal, store, G, recovery.groups.get(G), bootstrap ?? undefined);
  await wal.sync();
  return { wal, s };
}

async function filled(fs = new CrashFileSystem(new SeededRand(1))): Promise<{ wal: Wal; s: WalStorage; fs: CrashFileSystem }> {
  const { wal, s } = await open(fs);
  s.append([ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 3)]);
  return { wal, s, fs };
}

t.test('bootstrap and joining storages (as MemoryStorage)', async (t) => {
  const { s: b } = await open(new CrashFileSystem(new SeededRand(1)), { voters: [1, 2], learners: [3] });
  t.same(b.initialState().confState, { voters: [1, 2], learners: [3] });
  t.same(b.hardState(), { term: 1, vote: 0, commit: 1 });
  t.equal(b.firstIndex(), 2);
  t.equal(b.lastIndex(), 1);
  t.equal(b.term(1), 1);
  const { s: j } = await open(new CrashFileSystem(new SeededRand(1)), null);
  t.equal(j.firstIndex(), 1);
  t.equal(j.lastIndex(), 0);
  t.same(j.initialState().confState, { voters: [], learners: [] });
});

t.test('entries, term and their range errors', async (t) => {
  const { s } = await filled();
  t.same(s.entries(2, 6, 1e9).map((e) => e.index), [2, 3, 4, 5]);
  t.same(s.entries(2, 6, 40).map((e) => e.index), [2], 'byte limit');
  t.same(s.entries(2, 6, 1).map((e) => e.index), [2], 'always at least one');
  t.same(s.entries(3, 3, 1e9), []);
  t.throws(() => s.entries(1, 3, 1e9), { code: 'ERR_COMPACTED' });
  t.throws(() => s.entries(3, 7, 1e9), { code: 'ERR_UNAVAILABLE_INDEX' });
  t.equal(s.term(1), 1);
  t.equal(s.term(5), 3);
  t.throws(() => s.term(0), { code: 'ERR_COMPACTED' });
  t.throws(() => s.term(6), { code: 'ERR_UNAVAILABLE_INDEX' });
});

t.test('append truncates a conflicting suffix, ignores compacted entries, refuses a gap; survives reopen', async (t) => {
  const { s, wal, fs } = await filled();
  s.append([ent(4, 4), ent(5, 4), ent(6, 4)]);
  t.same(s.entries(2, 7, 1e9).map((e) => `${e.index}@${e.term}`), ['2@1', '3@2', '4@4', '5@4', '6@4']);
  s.append([ent(1, 1), ent(2, 1)]);
  t.equal(s.lastIndex(), 2, 'a shorter overlapping append truncates after it, as etcd');
  t.throws(() => s.append([ent(9, 5)]), { code: 'ERR_UNAVAILABLE_INDEX' });
  s.append([ent(3, 5), ent(4, 5)]);
  s.setHardState({ term: 5, vote: 1, commit: 3 });
  await wal.sync();
  s.append([ent(5, 5)]); // Not synced: lost in the crash.
  fs.crash();
  fs.reboot();
  const { s: r } = await open(fs);
  t.same(r.entries(2, r.lastIndex() + 1, 1e9).map((e) => `${e.index}@${e.term}`), ['2@1', '3@5', '4@5']);
  t.same(r.hardState(), { term: 5, vote: 1, commit: 3 });
  t.same(r.initialState().confState, CS);
});

t.test('createSnapshot, compact, applySnapshot and their refusals; snapshots survive reopen', async (t) => {
  const { s, wal, fs } = await filled();
  const snap = await s.createSnapshot(4, CS, Uint8Array.of(9));
  t.equal(snap.metadata.term, 2);
  await t.rejects(s.createSnapshot(3, CS, new Uint8Array()), { code: 'ERR_SNAPSHOT_OUT_OF_DATE' });
  await t.rejects(s.createSnapshot(9, CS, new Uint8Array()), { code: 'ERR_UNAVAILABLE_INDEX' });
  s.compact(4);
  t.equal(s.firstIndex(), 5);
  t.equal(s.term(4), 2, 'the compaction point keeps its term');
  t.same(s.entries(5, 6, 1e9).map((e) => e.index), [5]);
  t.throws(() => s.compact(3), { code: 'ERR_COMPACTED' });
  t.throws(() => s.compact(9), { code: 'ERR_UNAVAILABLE_INDEX' });
  await t.rejects(s.applySnapshot(snap), { code: 'ERR_SNAPSHOT_OUT_OF_DATE' });
  await wal.sync();
  fs.crash();
  fs.reboot();
  const { s: r, wal: w2 } = await open(fs);
  t.equal(r.firstIndex(), 5);
  t.equal(r.lastIndex(), 5);
  t.same(r.snapshot().data, Uint8Array.of(9), 'the image comes back from the snapshot store');
  t.equal(r.snapshot().metadata.index, 4);
  await r.applySnapshot({ metadata: { index: 10, term: 5, confState: { voters: [1, 2], learners: [] } }, data: Uint8Array.of(7, 7) });
  t.equal(r.firstIndex(), 11);
  t.equal(r.lastIndex(), 10);
  t.same(r.initialState().confState.voters, [1, 2]);
  r.append([ent(11, 5)]);
  r.setHardState({ term: 5, vote: 0, commit: 10 });
  await w2.sync();
  fs.crash();
  fs.reboot();
  const { s: r2 } = await open(fs);
  t.equal(r2.lastIndex(), 11);
  t.equal(r2.term(10), 5);
  t.same(r2.snapshot().data, Uint8Array.of(7, 7));
  t.same(r2.initialState().confState.voters, [1, 2]);
});

t.test('a snapshot record whose compaction was torn off is compacted again at recovery', async (t) => {
  const { s, wal, fs } = await filled();
  await s.createSnapshot(4, CS, Uint8Array.of(1));
  await wal.sync(); // SnapshotSaved durable, no Compact record.
  fs.crash();
  fs.reboot();
  const { s: r } = await open(fs);
  t.equal(r.firstIndex(), 5, 'compacted to the snapshot');
  t.equal(r.term(4), 2);
  t.equal(r.lastIndex(), 5);
});

t.test('a WAL naming a snapshot whose image is gone refuses with ERR_CORRUPTION', async (t) => {
  const { s, wal, fs } = await filled();
  await s.createSnapshot(4, CS, Uint8Array.of(1));
  s.compact(4);
  await wal.sync();
  await fs.unlink('/n/snap/3/0000000000000004.snap');
  await fs.fsyncDir('/n/snap/3');
  fs.crash();
  fs.reboot();
  await t.rejects(open(fs), { code: 'ERR_CORRUPTION' });
});
