import t from 'tap';
import { parseLogFlushArgs, runLogFlush, shardRows } from './log-flush.js';

t.test('flags: defaults and values', async (t) => {
  t.same(parseLogFlushArgs([]), { lines: 200_000, shards: 4, rounds: 3, profileFile: null });
  t.same(parseLogFlushArgs(['--lines', '500', '--shards', '2', '--rounds', '1', '--profile', 'p.cpuprofile']), { lines: 500, shards: 2, rounds: 1, profileFile: 'p.cpuprofile' });
  t.throws(() => parseLogFlushArgs(['--lines', '0']), 'a non-positive count is refused');
});

t.test('the rows: every line once, split by stream, every stream in one shard', async (t) => {
  const shards = shardRows(3_000, 4);
  t.equal(shards.reduce((n, s) => n + s.length, 0), 3_000, 'every line is in a shard');
  t.ok(shards.every((s) => s.length > 0), 'no shard is empty at this size');
  const streamShard = new Map<string, number>();
  shards.forEach((rows, i) => {
    for (const r of rows) {
      const key = JSON.stringify(r.resource.attributes) + r.severityNumber;
      const seen = streamShard.get(key);
      if (seen !== undefined && seen !== i) t.fail(`stream ${key} in shards ${seen} and ${i}`);
      streamShard.set(key, i);
    }
  });
});

t.test('a tiny run: both modes flush, the index-on side writes more bytes (its postings and bloom)', async (t) => {
  const r = await runLogFlush({ lines: 2_000, shards: 2, rounds: 1, profileFile: null });
  t.ok(r.on.bytes > r.off.bytes, `index on writes ${r.on.bytes} B per 100k lines, off ${r.off.bytes} B`);
  t.ok(r.on.cpuMs > 0 && r.off.cpuMs > 0 && r.on.wallMs > 0 && r.off.wallMs > 0, 'figures are measured');
  t.equal(r.ratio.cpu, r.on.cpuMs / r.off.cpuMs, 'the ratio is on over off');
});
