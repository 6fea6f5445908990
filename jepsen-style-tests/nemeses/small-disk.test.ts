/**
 * small-disk.test.ts — the full-disk fault's filesystem: a data dir moved
 * onto a tmpfs keeps its files, refuses a write past the headroom with
 * ENOSPC (a ballast takes the headroom), takes it again once grown, and is unmounted at the end (the state
 * callback sees every change). Needs root and tmpfs; skipped with the
 * probe's reason elsewhere. A planted bug (a "grow" that does nothing) is
 * caught by the same write.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SmallDisks, isMountPoint, probeMount, roundUpPages } from './small-disk.js';

const probe = probeMount();

t.test('roundUpPages rounds to tmpfs pages', async (t) => {
  t.equal(roundUpPages(0), 0);
  t.equal(roundUpPages(1), 4096);
  t.equal(roundUpPages(8192), 8192);
});

t.test('a data dir on a small tmpfs fills, grows back, and is unmounted', { skip: probe.available ? false : probe.reason }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-small-disk-'));
  const dataDir = join(root, 'n1');
  const seen: string[][] = [];
  const disks = new SmallDisks(async (m) => {
    seen.push([...m]);
  });
  t.teardown(async () => {
    await disks.unmountAll();
    await rm(root, { recursive: true, force: true });
  });
  await mkdir(join(dataDir, 'wal'), { recursive: true });
  await writeFile(join(dataDir, 'wal', 'kept'), 'acknowledged');
  const size = await disks.fill(dataDir, 16 * 1024);
  t.ok(isMountPoint(dataDir), 'the data dir is a mount point');
  t.same(seen[0], [dataDir], 'the mount was recorded before it was made');
  t.equal(await readFile(join(dataDir, 'wal', 'kept'), 'utf8'), 'acknowledged', 'the files came along');
  t.ok(size >= 16 * 1024, `a ${size}-byte filesystem`);
  await t.rejects(writeFile(join(dataDir, 'big'), Buffer.alloc(64 * 1024)), { code: 'ENOSPC' }, 'a write past the headroom is refused');
  t.equal(await disks.freeBytes(dataDir), 0, 'nothing is free');
  await t.rejects(writeFile(join(dataDir, 'small'), 'x'), { code: 'ENOSPC' }, 'not even one byte');
  await disks.grow(dataDir);
  await writeFile(join(dataDir, 'big'), Buffer.alloc(64 * 1024));
  t.pass('after grow the same write succeeds');
  t.same(await disks.unmountAll(), [], 'unmounted');
  t.notOk(isMountPoint(dataDir), 'no mount left');
  t.same(seen[seen.length - 1], [], 'the state callback saw the mount go');
});

t.test('planted bug: a grow that gives no space back is caught by the same write', { skip: probe.available ? false : probe.reason }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-small-disk-'));
  const dataDir = join(root, 'n1');
  const disks = new SmallDisks(async () => undefined);
  t.teardown(async () => {
    await disks.unmountAll();
    await rm(root, { recursive: true, force: true });
  });
  await mkdir(dataDir);
  await disks.fill(dataDir, 16 * 1024);
  // The bug: grow is not called.
  await t.rejects(writeFile(join(dataDir, 'big'), Buffer.alloc(64 * 1024)), { code: 'ENOSPC' }, 'caught');
});
