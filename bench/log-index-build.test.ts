import t from 'tap';
import { LogStoreLimits } from '../src/limits.js';
import { bucketOf } from '../src/storage/logs/log-store-format.js';
import { shardRows } from './log-flush.js';
import { flushBlocks, parseLogIndexBuildArgs, runLogIndexBuild } from './log-index-build.js';

t.test('flags: defaults and values', async (t) => {
  t.same(parseLogIndexBuildArgs([]), { lines: 200_000, shards: 4, what: 'build', reps: 1, nowMs: Date.UTC(2026, 10, 29, 12) });
  t.same(parseLogIndexBuildArgs(['--lines', '500', '--shards', '2', '--what', 'on', '--reps', '3', '--now-ms', '0']), { lines: 500, shards: 2, what: 'on', reps: 3, nowMs: 0 });
  t.throws(() => parseLogIndexBuildArgs(['--what', 'both']), 'an unknown --what is refused');
  t.throws(() => parseLogIndexBuildArgs(['--reps', '0']), 'a non-positive count is refused');
});

t.test('the blocks: every row once, in time order, one bucket each, at most blockRowsMax', async (t) => {
  const shards = shardRows(3_000, 2, Date.UTC(2026, 10, 29, 12));
  const blocks = flushBlocks(shards);
  t.equal(blocks.reduce((n, b) => n + b.rows.length, 0), 3_000, 'every row');
  for (const b of blocks) {
    t.ok(b.rows.length >= 1 && b.rows.length <= LogStoreLimits.blockRowsMax, 'a block fits');
    t.equal(b.labels.length, b.rows.length, 'labels per row');
    const bucket = bucketOf((b.rows[0] as (typeof b.rows)[0]).timeUnixNano);
    t.ok(
      b.rows.every((r, i) => bucketOf(r.timeUnixNano) === bucket && (i === 0 || (b.rows[i - 1] as typeof r).timeUnixNano <= r.timeUnixNano)),
      'one bucket, time order',
    );
  }
});

t.test('tiny runs: the same rows every run; build, on and off run; the index adds bytes', async (t) => {
  const cfg = { lines: 1_500, shards: 2, reps: 2, nowMs: Date.UTC(2026, 10, 29, 12) };
  const none = await runLogIndexBuild({ ...cfg, what: 'none' });
  t.equal(none.bytes, 0, 'the setup alone builds nothing');
  const a = await runLogIndexBuild({ ...cfg, what: 'build' });
  const b = await runLogIndexBuild({ ...cfg, what: 'build' });
  t.ok(a.blocks >= 2 && a.bytes > 0, `${a.blocks} blocks, ${a.bytes} B`);
  t.same(b, a, 'a second run builds the same bytes (fixed times)');
  const on = await runLogIndexBuild({ ...cfg, what: 'on' });
  const off = await runLogIndexBuild({ ...cfg, what: 'off' });
  t.ok(on.bytes > off.bytes, `index on writes ${on.bytes} B, off ${off.bytes} B`);
});
