import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CrashFileSystem } from '../../fs/crash-file-system.js';
import { NodeFileSystem } from '../../fs/node-file-system.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { Entry } from '../types.js';
import { Wal } from './wal.js';
import type { Model, Op } from './wal-test-util.js';
import { applyOp, applyToWal, ent, ents, meta, normalModel, randomOp } from './wal-test-util.js';

const DIR = '/node/wal';

function newFs(seed = 1): CrashFileSystem {
  return new CrashFileSystem(new SeededRand(seed));
}

t.test('several groups interleaved: restart recovers the same state', async (t) => {
  const fs = newFs();
  const { wal, recovery } = await Wal.open(fs, DIR, { segmentBytesMax: 400 });
  t.equal(recovery.groups.size, 0, 'a new WAL recovers nothing');
  const rand = new SeededRand(7);
  const model: Model = new Map();
  for (let iter = 0; iter < 60; iter++) {
    for (let k = 0; k < 4; k++) {
      const op = randomOp(rand, model, 5);
      applyToWal(wal, op);
      applyOp(model, op);
    }
    await wal.sync();
  }
  t.ok(wal.segmentCount > 3, `the workload spans several segments (${wal.segmentCount})`);
  await wal.close();
  fs.crash(); // Nothing unsynced exists, so a crash must not change anything.
  const again = await Wal.open(fs, DIR, { segmentBytesMax: 400 });
  t.equal(normalModel(again.recovery.groups), normalModel(model), 'every group recovers exactly');
  t.equal(again.recovery.tailTruncation, null, 'no torn tail after a clean close');
});

t.test('a conflicting suffix overwrite survives restart (Raft append semantics)', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR);
  wal.appendEntries(1, ents(1, 10, 1));
  wal.appendEntries(2, ents(1, 3, 1));
  await wal.sync();
  wal.appendEntries(1, ents(6, 8, 2)); // Replaces 6..10 of term 1 with 6..8 of term 2.
  wal.setHardState(1, { term: 2, vote: 3, commit: 5 });
  await wal.sync();
  fs.crash();
  const { recovery } = await Wal.open(fs, DIR);
  const g1 = recovery.groups.get(1);
  t.same(
    g1?.entries.map((e) => `${e.index}/${e.term}`),
    ['1/1', '2/1', '3/1', '4/1', '5/1', '6/2', '7/2', '8/2'],
    'the suffix from index 6 is replaced, entries 9 and 10 are gone',
  );
  t.same(g1?.hardState, { term: 2, vote: 3, commit: 5 }, 'the hard state is the last one written');
  t.equal(recovery.groups.get(2)?.entries.length, 3, 'the other group is untouched');
});

t.test('group commit: one sync of many groups costs one fsync', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR);
  const before = fs.stats.fileSyncs;
  for (let g = 0; g < 32; g++) {
    wal.appendEntries(g, [ent(1, 1)]);
    wal.setHardState(g, { term: 1, vote: g, commit: 0 });
  }
  t.equal(fs.stats.fileSyncs, before, 'buffering does no I/O');
  await wal.sync();
  t.equal(fs.stats.fileSyncs - before, 1, 'one fsync for 64 records of 32 groups');
  await wal.sync();
  t.equal(fs.stats.fileSyncs - before, 1, 'a sync with nothing buffered does not fsync');
  t.equal(wal.stats.recordsWritten, 64, 'every record written');
});

t.test('unsynced records are lost on a crash; synced ones are not', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR);
  wal.appendEntries(1, ents(1, 3, 1));
  await wal.sync();
  wal.appendEntries(1, ents(4, 6, 1));
  fs.crash();
  const { recovery } = await Wal.open(fs, DIR);
  t.equal(recovery.groups.get(1)?.entries.length, 3, 'only the synced entries survive');
});

t.test('snapshots: applySnapshot replaces the log, saveSnapshot keeps it, compact drops a prefix', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR);
  wal.appendEntries(1, ents(1, 10, 1));
  wal.saveSnapshot(1, meta(6, 1));
  wal.compact(1, 4);
  wal.appendEntries(2, ents(1, 10, 1));
  wal.applySnapshot(2, meta(20, 3));
  wal.appendEntries(2, ents(21, 22, 3));
  await wal.sync();
  fs.crash();
  const { recovery } = await Wal.open(fs, DIR);
  const g1 = recovery.groups.get(1);
  const g2 = recovery.groups.get(2);
  t.same(g1?.snapshot, meta(6, 1), 'saved snapshot metadata recovered');
  t.equal(g1?.compactedIndex, 4, 'compacted index recovered');
  t.same(g1?.entries.map((e) => e.index), [5, 6, 7, 8, 9, 10], 'entries after the compaction point, including those the snapshot covers');
  t.same(g2?.snapshot, meta(20, 3), 'applied snapshot metadata recovered');
  t.equal(g2?.compactedIndex, 20, 'an applied snapshot moves the compacted index');
  t.same(g2?.entries.map((e) => e.index), [21, 22], 'the log before the applied snapshot is gone');
});

t.test('a batch larger than a record is split and read back whole; a single oversized entry is refused', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR, { recordBytesMax: 256 });
  const batch: Entry[] = [];
  for (let i = 1; i <= 20; i++) batch.push(ent(i, 1, 'x'.repeat(50)));
  wal.appendEntries(1, batch);
  await wal.sync();
  t.ok(wal.stats.recordsWritten >= 5, `the batch took several records (${wal.stats.recordsWritten})`);
  t.throws(() => wal.appendEntries(1, [ent(21, 1, 'y'.repeat(300))]), { code: 'ERR_LIMIT_EXCEEDED' }, 'one entry over the record bound');
  t.equal(wal.pendingBytes, 0, 'a refused append leaves nothing buffered');
  t.equal(wal.lastIndex(1), 20, 'and does not move the last index');
  await wal.close();
  const { recovery } = await Wal.open(fs, DIR);
  t.same(
    recovery.groups.get(1)?.entries.map((e) => e.index),
    batch.map((e) => e.index),
    'the split batch reads back as one log',
  );
});

t.test('bad arguments are refused with stable codes and change nothing', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR);
  wal.appendEntries(1, ents(1, 5, 2));
  wal.setHardState(1, { term: 2, vote: 1, commit: 3 });
  t.throws(() => wal.appendEntries(1, ents(7, 8, 2)), { code: 'ERR_INVALID_ARGUMENT' }, 'a gap after the last index');
  t.throws(() => wal.appendEntries(1, [ent(6, 2), ent(8, 2)]), { code: 'ERR_INVALID_ARGUMENT' }, 'non-contiguous entries');
  t.throws(() => wal.appendEntries(1, [ent(6, 3), ent(7, 2)]), { code: 'ERR_INVALID_ARGUMENT' }, 'a term going down in a batch');
  t.throws(() => wal.setHardState(1, { term: 1, vote: 0, commit: 0 }), { code: 'ERR_INVALID_ARGUMENT' }, 'a hard state term going down');
  t.throws(() => wal.compact(1, 9), { code: 'ERR_UNAVAILABLE_INDEX' }, 'compacting past the last index');
  wal.compact(1, 2);
  t.throws(() => wal.compact(1, 2), { code: 'ERR_COMPACTED' }, 'compacting twice');
  t.throws(() => wal.saveSnapshot(1, meta(9, 2)), { code: 'ERR_UNAVAILABLE_INDEX' }, 'a snapshot past the last index');
  wal.saveSnapshot(1, meta(4, 2));
  t.throws(() => wal.saveSnapshot(1, meta(4, 2)), { code: 'ERR_SNAPSHOT_OUT_OF_DATE' }, 'a snapshot that is not newer');
  t.throws(() => wal.appendEntries(-1, ents(1, 1, 1)), { code: 'ERR_INVALID_ARGUMENT' }, 'a group id outside u32');
  t.equal(wal.lastIndex(1), 5, 'the last index did not move');
  await wal.sync();
  fs.crash();
  const { recovery } = await Wal.open(fs, DIR);
  t.same(recovery.groups.get(1)?.entries.map((e) => e.index), [3, 4, 5], 'only the valid calls reached the log');
});

t.test('a failed sync poisons the WAL: every later call rethrows', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR);
  wal.appendEntries(1, ents(1, 2, 1));
  fs.crashAfterOps(1);
  await t.rejects(wal.sync(), { name: 'FsCrashedError' }, 'the sync fails');
  fs.reboot();
  t.throws(() => wal.appendEntries(1, ents(3, 3, 1)), { name: 'FsCrashedError' }, 'appends rethrow the failure');
  await t.rejects(wal.sync(), { name: 'FsCrashedError' }, 'syncs rethrow the failure');
});

t.test('records buffered while a sync is in flight go to the next sync', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR);
  wal.appendEntries(1, ents(1, 2, 1));
  const first = wal.sync();
  wal.appendEntries(1, ents(3, 4, 1));
  const second = wal.sync();
  await Promise.all([first, second]);
  t.ok(wal.stats.syncs >= 1 && wal.stats.syncs <= 2, 'the syncs ran one after the other');
  await wal.close();
  const { recovery } = await Wal.open(fs, DIR);
  t.equal(recovery.groups.get(1)?.entries.length, 4, 'all four entries are durable');
});

t.test('round trip on the real file system (NodeFileSystem, temp dir)', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-wal-'));
  try {
    const fs = new NodeFileSystem();
    const dir = join(root, 'wal');
    const { wal } = await Wal.open(fs, dir, { segmentBytesMax: 1024 });
    const rand = new SeededRand(3);
    const model: Model = new Map();
    const ops: Op[] = [];
    for (let iter = 0; iter < 40; iter++) {
      for (let k = 0; k < 3; k++) {
        const op = randomOp(rand, model, 3);
        ops.push(op);
        applyToWal(wal, op);
        applyOp(model, op);
      }
      await wal.sync();
    }
    await wal.purge();
    await wal.close();
    const again = await Wal.open(fs, dir, { segmentBytesMax: 1024 });
    t.equal(normalModel(again.recovery.groups), normalModel(model), `${ops.length} ops recovered from real files`);
    await again.wal.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
