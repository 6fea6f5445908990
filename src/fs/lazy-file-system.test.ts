/**
 * lazy-file-system.test.ts — the lazy file system meets the FileSystem
 * contract, and a "power cut" (dropping the process's LazyFileSystem and
 * opening a new one on the same directory, as a killed node's successor
 * does) keeps exactly what was synced. Planted: a sync that does not write
 * the pending bytes through is caught by the same check.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { FileSystem, WritableFile } from './file-system.js';
import { fileSystemConformance } from './file-system-conformance.js';
import { LazyFileSystem, LazyFsLimits } from './lazy-file-system.js';
import { NodeFileSystem } from './node-file-system.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-lazyfs-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** survivesPowerCut writes a synced part and an unsynced part through `fs`, then reads the file through a fresh file system on the same disk. */
async function survivesPowerCut(fs: FileSystem, dir: string): Promise<string> {
  const f: WritableFile = await fs.open(join(dir, 'wal'), 'append');
  await f.append(enc.encode('synced;'));
  await f.sync();
  await f.append(enc.encode('unsynced'));
  t.equal(dec.decode(await fs.readFile(join(dir, 'wal'), 1024)), 'synced;unsynced', 'the writer reads its unsynced bytes (the page cache)');
  // The process dies here: nothing closes or syncs f.
  return dec.decode(await new NodeFileSystem().readFile(join(dir, 'wal'), 1024));
}

t.test('LazyFileSystem meets the FileSystem contract on a real directory', async (t) => {
  await withTempDir((dir) => fileSystemConformance(t, new LazyFileSystem(new NodeFileSystem()), dir));
});

t.test('a power cut keeps what was synced and loses what was not', async (t) => {
  await withTempDir(async (dir) => {
    const fs = new LazyFileSystem(new NodeFileSystem());
    t.equal(await survivesPowerCut(fs, dir), 'synced;', 'only the synced bytes reached the disk');
    t.equal(fs.pendingBytes, 'unsynced'.length, 'the rest was pending');
  });
  await withTempDir(async (dir) => {
    t.equal(await survivesPowerCut(new NodeFileSystem(), dir), 'synced;unsynced', 'the real file system cannot tell (why the fixture exists)');
  });
});

t.test('planted: a sync that forgets the pending bytes is caught by the power-cut check', async (t) => {
  class ForgetfulSync extends LazyFileSystem {
    override async open(path: string, mode: 'append' | 'truncate'): Promise<WritableFile> {
      const f = await super.open(path, mode);
      return { path, append: (d) => f.append(d), close: () => f.close(), sync: () => Promise.resolve() };
    }
  }
  await withTempDir(async (dir) => {
    t.not(await survivesPowerCut(new ForgetfulSync(new NodeFileSystem()), dir), 'synced;', 'the synced bytes are missing after the cut');
  });
});

t.test('reads, renames and truncates see and carry the pending bytes', async (t) => {
  await withTempDir(async (dir) => {
    const fs = new LazyFileSystem(new NodeFileSystem());
    const a = join(dir, 'a');
    const f = await fs.open(a, 'append');
    await f.append(enc.encode('0123'));
    await f.sync();
    await f.append(enc.encode('4567'));
    t.equal(await fs.sizeBytes(a), 8, 'size counts pending bytes');
    t.equal(dec.decode(await fs.readRange(a, 2, 4)), '2345', 'a range across the synced/pending boundary');
    t.equal(dec.decode(await fs.readRange(a, 5, 100)), '567', 'a range in the pending bytes, cut at the end');
    t.equal((await fs.readRange(a, 9, 1)).length, 0, 'past the end');
    await t.rejects(fs.readFile(a, 7), { code: 'ERR_LIMIT_EXCEEDED' }, 'the bound counts pending bytes');
    await fs.truncate(a, 6);
    t.equal(dec.decode(await fs.readFile(a, 100)), '012345', 'a cut inside the pending bytes');
    await fs.truncate(a, 8);
    t.same(await fs.readFile(a, 100), enc.encode('012345\0\0'), 'extended with zeros');
    await fs.truncate(a, 3);
    t.equal(dec.decode(await fs.readFile(a, 100)), '012', 'a cut inside the synced bytes drops the pending ones');
    t.equal(fs.pendingBytes, 0);
    await f.append(enc.encode('x'));
    await f.close();
    await fs.rename(a, join(dir, 'b'));
    t.equal(dec.decode(await fs.readFile(join(dir, 'b'), 100)), '012x', 'rename carries the pending bytes');
    await fs.unlink(join(dir, 'b'));
    t.equal(fs.pendingBytes, 0, 'unlink drops them');
    await t.rejects(f.append(enc.encode('y')), { code: 'ERR_INTERNAL' }, 'a closed handle refuses appends');
  });
});

t.test('the pending bytes are bounded', async (t) => {
  await withTempDir(async (dir) => {
    const fs = new LazyFileSystem(new NodeFileSystem());
    const f = await fs.open(join(dir, 'big'), 'append');
    const chunk = new Uint8Array(LazyFsLimits.pendingBytesMax / 4);
    for (let i = 0; i < 4; i++) await f.append(chunk);
    t.throws(() => fs.hold(join(dir, 'big'), new Uint8Array(1)), { code: 'ERR_LIMIT_EXCEEDED' }, 'one byte past LazyFsLimits.pendingBytesMax is refused');
    await f.close();
  });
});
