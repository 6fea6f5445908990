/**
 * wal-damage.test.ts — the disk nemesis's two WAL faults have the outcome
 * DESIGN.md §3 promises, on a real WAL written by src/raft/wal on the real
 * file system: a torn tail is truncated and every synced entry survives;
 * a flipped byte before the tail stops recovery with ERR_CORRUPTION, and
 * restoring it makes the log open again with every entry. A planted bug (a
 * recovery that never truncates: the WAL is not reopened) is caught by
 * tornTailGone.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { NodeFileSystem } from '../../src/fs/node-file-system.js';
import { Wal } from '../../src/raft/wal/wal.js';
import { ents } from '../../src/raft/wal/wal-test-util.js';
import { Prng } from '../sim/prng.js';
import { corruptBeforeTail, recordStarts, restoreCorruption, tearTail, tornTailGone, walSegments } from './wal-damage.js';

const GROUP = 3;
const LAST = 40;

async function writtenWal(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-wal-damage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { wal } = await Wal.open(new NodeFileSystem(), dir);
  for (let i = 1; i <= LAST; i += 10) {
    wal.appendEntries(GROUP, ents(i, i + 9, 1));
    await wal.sync();
  }
  await wal.close();
  return dir;
}

async function lastIndex(dir: string): Promise<number> {
  const { wal, recovery } = await Wal.open(new NodeFileSystem(), dir);
  await wal.close();
  const g = recovery.groups.get(GROUP);
  return g === undefined ? 0 : g.entries.length === 0 ? 0 : (g.entries[g.entries.length - 1]?.index ?? 0);
}

t.test('a torn tail is truncated by recovery and every synced entry survives', async (t) => {
  const dir = await writtenWal(t);
  const d = await tearTail(dir, new Prng(7));
  t.equal(d.kind, 'torn-tail');
  t.notOk(await tornTailGone(d), 'the torn record is on disk before recovery');
  const { wal, recovery } = await Wal.open(new NodeFileSystem(), dir);
  await wal.close();
  t.match(recovery.tailTruncation, { offsetBytes: d.offsetBytes }, 'recovery cut exactly the torn record');
  t.ok(await tornTailGone(d), 'and it is gone from the file');
  t.equal(await lastIndex(dir), LAST, 'every synced entry is still there');
});

t.test('planted bug: a recovery that never truncates leaves the torn record, and tornTailGone says so', async (t) => {
  const dir = await writtenWal(t);
  const d = await tearTail(dir, new Prng(8));
  // The "recovery" under test does nothing at all.
  t.notOk(await tornTailGone(d), 'caught');
});

t.test('a flipped byte before the tail stops recovery with ERR_CORRUPTION; restoring it opens the log whole', async (t) => {
  const dir = await writtenWal(t);
  const [seg] = await walSegments(dir);
  t.ok(seg !== undefined);
  const before = recordStarts(await readFile(seg as string));
  t.ok(before.length >= 2, 'the segment has records to damage');
  const d = await corruptBeforeTail(dir, new Prng(9));
  t.ok(d !== null && d.kind === 'corrupt', 'a byte was flipped');
  if (d === null) return;
  t.ok(d.offsetBytes < (before[before.length - 1] as number), 'before the last record');
  await t.rejects(Wal.open(new NodeFileSystem(), dir), { code: 'ERR_CORRUPTION' }, 'recovery refuses the damaged log');
  const size = (await stat(d.file)).size;
  await restoreCorruption(d);
  t.equal((await stat(d.file)).size, size, 'the refused open changed nothing');
  t.equal(await lastIndex(dir), LAST, 'restored: every entry is back');
});

t.test('a WAL with one record has nothing before its tail to corrupt', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-wal-damage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { wal } = await Wal.open(new NodeFileSystem(), dir);
  wal.appendEntries(GROUP, ents(1, 1, 1));
  await wal.sync();
  await wal.close();
  t.equal(await corruptBeforeTail(dir, new Prng(1)), null);
});
