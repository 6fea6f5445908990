import t from 'tap';
import { CrashFileSystem } from '../../fs/crash-file-system.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { Wal } from './wal.js';
import { ent, meta } from './wal-test-util.js';

const DIR = '/wal';
const OPTS = { segmentBytesMax: 256 };

function newFs(): CrashFileSystem {
  return new CrashFileSystem(new SeededRand(7));
}

async function segmentCount(fs: CrashFileSystem): Promise<number> {
  return (await fs.readdir(DIR)).filter((n) => n.endsWith('.wal')).length;
}

/** fill appends `n` entries to each group, one sync per round, so every group has entries in every segment. */
async function fill(wal: Wal, groups: readonly number[], n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    for (const g of groups) wal.appendEntries(g, [ent(wal.lastIndex(g) + 1, 1, `g${g}-payload-xxxxxxxx`)]);
    await wal.sync();
  }
}

/** compactAll snapshots and compacts a group at its last index, so only other groups can pin segments. */
function compactAll(wal: Wal, group: number): void {
  const last = wal.lastIndex(group);
  wal.saveSnapshot(group, meta(last, 1));
  wal.compact(group, last);
}

t.test('a forgotten group no longer pins segments, and recovery does not return it', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR, OPTS);
  await fill(wal, [1, 2], 20);
  compactAll(wal, 1);
  const before = await segmentCount(fs);
  t.same((await wal.purge()).deletedFiles, [], 'group 2 never compacted: it pins every segment');
  t.ok(wal.hasGroup(2), 'the WAL holds group 2');
  wal.forgetGroup(2);
  t.notOk(wal.hasGroup(2), 'forgotten at once in the buffered view');
  const deleted = (await wal.purge()).deletedFiles;
  t.ok(deleted.length >= before - 1, `${deleted.length} segments purged`);
  t.equal(await segmentCount(fs), 1, 'only the active segment is left');
  await wal.close();
  const { wal: w2, recovery } = await Wal.open(fs, DIR, OPTS);
  t.notOk(recovery.groups.has(2), 'recovery does not return the forgotten group');
  t.equal(recovery.groups.get(1)?.compactedIndex, 20, 'the other group is intact');
  await w2.close();
});

t.test('a GroupRemoved record voids the old incarnation in recovery; later records start afresh', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR, OPTS);
  await fill(wal, [1, 2], 6);
  wal.setHardState(2, { term: 3, vote: 1, commit: 6 });
  wal.forgetGroup(2);
  // New incarnation: a bootstrap-like snapshot at 1, then two entries (term 1 again, below the old term 3).
  wal.applySnapshot(2, meta(1, 1));
  wal.setHardState(2, { term: 1, vote: 0, commit: 1 });
  wal.appendEntries(2, [ent(2, 1, 'new-2'), ent(3, 1, 'new-3')]);
  await wal.sync();
  await wal.close();
  const { wal: w2, recovery } = await Wal.open(fs, DIR, OPTS);
  const g2 = recovery.groups.get(2);
  t.ok(g2 !== undefined, 'the new incarnation is recovered');
  t.same(g2?.hardState, { term: 1, vote: 0, commit: 1 }, 'the old hard state is void');
  t.same(
    g2?.entries.map((e) => e.index),
    [2, 3],
    'only the new entries',
  );
  t.equal(g2?.snapshot?.index, 1, 'the new snapshot');
  t.equal(recovery.groups.get(1)?.entries.length, 6, 'group 1 untouched');
  await w2.close();
});

t.test('a manifest written after a re-add is not undone by the older GroupRemoved record', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR, OPTS);
  await fill(wal, [1, 2], 10);
  wal.forgetGroup(2);
  wal.applySnapshot(2, meta(5, 2));
  wal.setHardState(2, { term: 2, vote: 0, commit: 5 });
  wal.appendEntries(2, [ent(6, 2, 'n6'), ent(7, 2, 'n7')]); // Live entries keep the segment of the GroupRemoved record.
  await wal.sync();
  // Group 1 pins the old segments until it compacts; then a purge writes a manifest covering all of the above.
  await fill(wal, [1], 10);
  wal.compact(1, 15); // Compact needs a snapshot only in WalStorage; the WAL allows it.
  const res = await wal.purge();
  t.ok(res.deletedFiles.length > 0, 'a manifest was written and some segments purged');
  await wal.close();
  const { wal: w2, recovery } = await Wal.open(fs, DIR, OPTS);
  const g2 = recovery.groups.get(2);
  t.equal(g2?.snapshot?.index, 5, 'the new incarnation survives the manifest');
  t.same(g2?.hardState, { term: 2, vote: 0, commit: 5 }, 'its hard state too');
  t.equal(g2?.compactedIndex, 5, 'compacted to its snapshot');
  t.same(
    g2?.entries.map((e) => e.index),
    [6, 7],
    'only the new entries: none of the old incarnation leaks back',
  );
  await w2.close();
});
