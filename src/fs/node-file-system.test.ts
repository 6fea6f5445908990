import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { NodeFileSystem } from './node-file-system.js';
import { fileSystemConformance } from './file-system-conformance.js';

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-fs-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

t.test('NodeFileSystem meets the FileSystem contract on a real directory', async (t) => {
  await withTempDir((dir) => fileSystemConformance(t, new NodeFileSystem(), dir));
});

t.test('NodeFileSystem fsyncs files and directories without error', async (t) => {
  await withTempDir(async (dir) => {
    const fs = new NodeFileSystem();
    const f = await fs.open(join(dir, 'f'), 'append');
    await f.append(new Uint8Array(100_000).fill(7));
    await f.sync();
    await f.close();
    await fs.fsyncDir(dir);
    t.equal(await fs.sizeBytes(join(dir, 'f')), 100_000, 'a large append is written whole');
    await t.rejects(f.append(new Uint8Array(1)), { code: 'ERR_INTERNAL' }, 'a closed file refuses appends');
  });
});
