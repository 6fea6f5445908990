import t from 'tap';
import { CrashFileSystem, FsCrashedError } from './crash-file-system.js';
import { SeededRand } from './seeded-rand.js';
import { fileSystemConformance } from './file-system-conformance.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function newFs(seed = 1): CrashFileSystem {
  return new CrashFileSystem(new SeededRand(seed));
}

async function text(fs: CrashFileSystem, path: string): Promise<string> {
  return dec.decode(await fs.readFile(path, 1 << 20));
}

t.test('CrashFileSystem meets the FileSystem contract', async (t) => {
  const fs = newFs();
  await fs.mkdirp('/root');
  await fileSystemConformance(t, fs, '/root');
});

t.test('unsynced appends are lost; synced ones survive', async (t) => {
  const fs = newFs();
  const f = await fs.open('/f', 'append');
  await fs.fsyncDir('/');
  await f.append(enc.encode('durable'));
  await f.sync();
  await f.append(enc.encode('-volatile'));
  t.equal(await text(fs, '/f'), 'durable-volatile', 'reads see the page cache');
  fs.crash();
  t.equal(await text(fs, '/f'), 'durable', 'the crash drops the unsynced tail');
  await t.rejects(f.append(enc.encode('x')), FsCrashedError, 'a handle from before the crash is dead');
});

t.test('a new file whose directory was not fsynced vanishes even if the file was fsynced', async (t) => {
  const fs = newFs();
  const f = await fs.open('/f', 'append');
  await f.append(enc.encode('data'));
  await f.sync();
  fs.crash();
  t.notOk(await fs.exists('/f'), 'the name was never durable');
});

t.test('rename and unlink are volatile until the directory is fsynced', async (t) => {
  const fs = newFs();
  await fs.mkdirp('/d');
  await fs.fsyncDir('/');
  for (const [name, body] of [
    ['old', 'old'],
    ['tmp', 'new'],
    ['gone', 'gone'],
  ] as const) {
    const f = await fs.open(`/d/${name}`, 'append');
    await f.append(enc.encode(body));
    await f.sync();
  }
  await fs.fsyncDir('/d');
  await fs.rename('/d/tmp', '/d/old');
  await fs.unlink('/d/gone');
  fs.crash();
  t.same(await fs.readdir('/d'), ['gone', 'old', 'tmp'], 'without fsyncDir the rename and unlink are undone');
  t.equal(await text(fs, '/d/old'), 'old', 'the old file is back');

  await fs.rename('/d/tmp', '/d/old');
  await fs.unlink('/d/gone');
  await fs.fsyncDir('/d');
  fs.crash();
  t.same(await fs.readdir('/d'), ['old'], 'after fsyncDir the rename and unlink survive');
  t.equal(await text(fs, '/d/old'), 'new', 'the renamed bytes are there');
});

t.test('a directory made by mkdirp needs its parent fsynced', async (t) => {
  const fs = newFs();
  await fs.mkdirp('/a/b');
  const f = await fs.open('/a/b/f', 'append');
  await f.append(enc.encode('x'));
  await f.sync();
  await fs.fsyncDir('/a/b');
  await fs.fsyncDir('/a');
  fs.crash();
  t.notOk(await fs.exists('/a'), 'the root entry for /a was never fsynced, so the whole tree is gone');
});

t.test('truncate is volatile until the file is fsynced', async (t) => {
  const fs = newFs();
  const f = await fs.open('/f', 'append');
  await fs.fsyncDir('/');
  await f.append(enc.encode('0123456789'));
  await f.sync();
  await fs.truncate('/f', 3);
  fs.crash();
  t.equal(await text(fs, '/f'), '0123456789', 'unsynced truncate undone');
  await fs.truncate('/f', 3);
  const g = await fs.open('/f', 'append');
  await g.sync();
  fs.crash();
  t.equal(await text(fs, '/f'), '012', 'synced truncate kept');
});

t.test('torn writes keep a seeded random prefix of the unsynced tail, and every prefix length occurs', async (t) => {
  const lengths = new Set<number>();
  for (let seed = 0; seed < 200; seed++) {
    const fs = newFs(seed);
    const f = await fs.open('/f', 'append');
    await fs.fsyncDir('/');
    await f.append(enc.encode('base'));
    await f.sync();
    await f.append(enc.encode('abcdef'));
    fs.crash({ tornWrites: true });
    const got = await text(fs, '/f');
    t.ok('baseabcdef'.startsWith(got) && got.length >= 4, `seed ${seed}: a prefix of the written bytes, never less than the synced part`);
    lengths.add(got.length);
    const again = newFs(seed);
    const g = await again.open('/f', 'append');
    await again.fsyncDir('/');
    await g.append(enc.encode('base'));
    await g.sync();
    await g.append(enc.encode('abcdef'));
    again.crash({ tornWrites: true });
    t.equal(await text(again, '/f'), got, `seed ${seed}: the same seed tears the same way`);
  }
  t.same([...lengths].sort((a, b) => a - b), [4, 5, 6, 7, 8, 9, 10], 'every prefix from synced to whole occurs');
});

t.test('an armed crash fires on the n-th mutating call and the file system stays down until reboot', async (t) => {
  const fs = newFs();
  const f = await fs.open('/f', 'append'); // op 0 (not armed yet)
  await fs.fsyncDir('/');
  fs.crashAfterOps(3);
  await f.append(enc.encode('a')); // 1
  await f.sync(); // 2
  await t.rejects(f.append(enc.encode('b')), FsCrashedError, 'the third mutating call crashes');
  t.ok(fs.isDown, 'down after the crash');
  await t.rejects(fs.exists('/f'), FsCrashedError, 'reads fail while down');
  fs.reboot();
  t.equal(await text(fs, '/f'), 'a', 'what was synced before the crash survived');
  t.equal(fs.stats.crashes, 1, 'the crash is counted');
});
