import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BlockCacheLimits } from '../src/limits.js';
import { parseInprocArgs, runInproc } from './query-logs-inproc.js';

const KINDS = ['keyword', 'phrase', 'regex', 'count', 'keywordRange'];

t.test('flags: defaults and values', async (t) => {
  t.same(parseInprocArgs([]), { lines: 200_000, shards: 16, queries: 30, flushRows: 20_000, cacheBytes: BlockCacheLimits.bytesMaxDefault, kinds: KINDS, twoRounds: false, perQuery: false, dataDir: null, inMemory: false });
  t.same(parseInprocArgs(['--lines', '500', '--shards', '2', '--queries', '3', '--flush-rows', '64', '--cache-mib', '0', '--kinds', 'keyword,count', '--two-rounds', '--per-query', '--in-memory']), {
    lines: 500,
    shards: 2,
    queries: 3,
    flushRows: 64,
    cacheBytes: 0,
    kinds: ['keyword', 'count'],
    twoRounds: true,
    perQuery: true,
    dataDir: null,
    inMemory: true,
  });
  t.equal(parseInprocArgs(['--data-dir', '/tmp/x']).dataDir, '/tmp/x');
  t.throws(() => parseInprocArgs(['--queries', '0']), 'a non-positive count is refused');
});

t.test('a tiny run: every kind measured, and the answers do not depend on the flushes, the cache or the rounds', async (t) => {
  const a = await runInproc({ lines: 3_000, shards: 8, queries: 2, flushRows: 20_000, cacheBytes: BlockCacheLimits.bytesMaxDefault, kinds: parseInprocArgs([]).kinds, twoRounds: false });
  const b = await runInproc({ lines: 3_000, shards: 8, queries: 2, flushRows: 100, cacheBytes: 0, kinds: parseInprocArgs([]).kinds, twoRounds: true });
  const m = await runInproc({ lines: 3_000, shards: 8, queries: 2, flushRows: 100, cacheBytes: 0, kinds: parseInprocArgs([]).kinds, twoRounds: false, inMemory: true });
  t.same([...a.figures.keys()], KINDS);
  for (const [kind, f] of a.figures) {
    t.ok(f.blocksScanned >= 0 && f.bytesRead > 0 && f.cpuMs >= 0, `${kind}: figures are measured`);
    t.equal(f.digest, b.figures.get(kind)?.digest, `${kind}: same answers with 100-row flushes, no cache and two rounds`);
    t.equal(f.digest, m.figures.get(kind)?.digest, `${kind}: same answers over in-memory copies of the shards (--in-memory)`);
  }
});

t.test('--data-dir keeps the loaded shards and a second run reuses them, answering alike', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-inproc-dir-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const config = { lines: 2_000, shards: 4, queries: 2, flushRows: 20_000, cacheBytes: 0, kinds: ['keyword', 'count'] as const, twoRounds: false, dataDir: dir };
  const a = await runInproc({ ...config, kinds: [...config.kinds] });
  t.ok(fs.existsSync(path.join(dir, 'inproc-load.json')) && fs.existsSync(path.join(dir, 's0')), 'the load is kept');
  const mtime = fs.statSync(path.join(dir, 'inproc-load.json')).mtimeMs;
  const b = await runInproc({ ...config, kinds: [...config.kinds] });
  t.equal(fs.statSync(path.join(dir, 'inproc-load.json')).mtimeMs, mtime, 'the second run reused the load (its marker was not rewritten)');
  for (const [kind, f] of a.figures) t.equal(f.digest, b.figures.get(kind)?.digest, `${kind}: the same answers from the reused load`);
});
