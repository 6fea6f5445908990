/**
 * file-system-conformance.ts — the behaviour every FileSystem must have,
 * run by the tests of each implementation against a fresh root directory.
 * Only tests import this file.
 */
import type { Test } from 'tap';
import type { FileSystem } from './file-system.js';
import { isNotFoundError } from './file-system.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** fileSystemConformance runs the shared FileSystem checks under `root` (an existing, empty directory). */
export async function fileSystemConformance(t: Test, fs: FileSystem, root: string): Promise<void> {
  const dir = `${root}/a/b`;
  await fs.mkdirp(dir);
  await fs.mkdirp(dir); // mkdir -p is idempotent.
  t.ok(await fs.exists(dir), 'mkdirp creates nested directories');
  t.same(await fs.readdir(`${root}/a`), ['b'], 'readdir lists the new directory');

  const f = await fs.open(`${dir}/x.log`, 'append');
  await f.append(enc.encode('hello '));
  await f.append(enc.encode('world'));
  await f.sync();
  await f.close();
  t.equal(dec.decode(await fs.readFile(`${dir}/x.log`, 1024)), 'hello world', 'appends are read back in order');
  t.equal(await fs.sizeBytes(`${dir}/x.log`), 11, 'sizeBytes is the byte count');
  t.equal(dec.decode(await fs.readRange(`${dir}/x.log`, 6, 100)), 'world', 'readRange stops at the end of the file');
  t.equal((await fs.readRange(`${dir}/x.log`, 50, 10)).length, 0, 'readRange past the end is empty');

  const g = await fs.open(`${dir}/x.log`, 'append');
  await g.append(enc.encode('!'));
  await g.close();
  t.equal(dec.decode(await fs.readFile(`${dir}/x.log`, 1024)), 'hello world!', 'append mode keeps existing bytes');

  await t.rejects(fs.readFile(`${dir}/x.log`, 5), { code: 'ERR_LIMIT_EXCEEDED' }, 'readFile refuses a file over its bound');

  await fs.truncate(`${dir}/x.log`, 5);
  t.equal(dec.decode(await fs.readFile(`${dir}/x.log`, 1024)), 'hello', 'truncate shortens');
  const h = await fs.open(`${dir}/x.log`, 'truncate');
  await h.append(enc.encode('new'));
  await h.close();
  t.equal(dec.decode(await fs.readFile(`${dir}/x.log`, 1024)), 'new', 'truncate mode starts empty');

  await fs.rename(`${dir}/x.log`, `${dir}/y.log`);
  t.notOk(await fs.exists(`${dir}/x.log`), 'rename removes the old name');
  t.equal(dec.decode(await fs.readFile(`${dir}/y.log`, 1024)), 'new', 'rename keeps the bytes');
  const z = await fs.open(`${dir}/z.log`, 'append');
  await z.append(enc.encode('zzz'));
  await z.close();
  await fs.rename(`${dir}/z.log`, `${dir}/y.log`);
  t.equal(dec.decode(await fs.readFile(`${dir}/y.log`, 1024)), 'zzz', 'rename replaces an existing file');
  await fs.fsyncDir(dir);

  t.same(await fs.readdir(dir), ['y.log'], 'readdir is sorted and current');
  await fs.unlink(`${dir}/y.log`);
  t.same(await fs.readdir(dir), [], 'unlink removes the entry');

  const missing = `${dir}/missing`;
  t.notOk(await fs.exists(missing), 'exists is false for a missing path');
  for (const [name, call] of [
    ['readFile', () => fs.readFile(missing, 10)],
    ['readRange', () => fs.readRange(missing, 0, 1)],
    ['sizeBytes', () => fs.sizeBytes(missing)],
    ['unlink', () => fs.unlink(missing)],
    ['open in a missing directory', () => fs.open(`${missing}/f`, 'append')],
  ] as const) {
    try {
      await call();
      t.fail(`${name} of a missing path rejects`);
    } catch (err) {
      t.ok(isNotFoundError(err), `${name} of a missing path rejects with ENOENT`);
    }
  }
}
