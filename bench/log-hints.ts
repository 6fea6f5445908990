/**
 * log-hints.ts — `node dist/bench/log-hints.js [--rows N] [--json]`: what
 * line-hint block pruning (src/storage/logs/log-hints.ts) saves a LogQL
 * select on one shard: N seeded realistic log rows flushed into blocks on a
 * real LevelDB, then for a few `|=` literals (a rare hex id, a rare word, a
 * common word, a case-insensitive word) the shard-local select of every
 * entry whose line contains the literal, with the hint (blocks pruned) and
 * without it (the baseline: every block read, the engine filters), in the
 * same run. Prints blocks scanned and pruned, matches, and the time ratio.
 * Timing never gates anything.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { LogStore } from '../src/storage/logs/log-store.js';
import { logLine } from '../src/storage/logs/log-line.js';
import { realisticLogs } from '../src/storage/logs/log-test-util.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import type { LineHint, LogEntry } from '../src/query/logql/source.js';
import { ShardLogSource } from '../src/query/logs-shard-source.js';

const ROWS = (() => {
  const i = process.argv.indexOf('--rows');
  return i >= 0 ? Number(process.argv[i + 1]) : 60_000;
})();
const JSON_OUT = process.argv.includes('--json');

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-hints-'));
  const db = await ShardDb.open(dir);
  try {
    const store = new LogStore();
    await store.load(db);
    const rows = realisticLogs(new SeededRand(0xbe5c), ROWS, 'bench');
    const perFlush = 2_000;
    for (let i = 0, f = 1; i < rows.length; i += perFlush, f++) {
      store.add('bench', rows.slice(i, i + perFlush), 0);
      store.freeze();
      const batch = new KvWriteBatch();
      await store.writeFrozen({ batch, kv: db, flushIndex: f });
      await db.write(batch);
      store.dropFrozen();
    }
    const rareId = (/[0-9a-f]{32}/.exec(rows.map(logLine).find((l) => /[0-9a-f]{32}/.test(l)) ?? '') ?? [''])[0].slice(4, 20);
    const cases: { name: string; hint: LineHint }[] = [
      { name: 'rare hex id', hint: { contains: [rareId], caseInsensitive: false } },
      { name: 'rare word', hint: { contains: ['declined'], caseInsensitive: false } },
      { name: 'common word', hint: { contains: ['GET '], caseInsensitive: false } },
      { name: 'case-insensitive', hint: { contains: ['CARD DECLINED'], caseInsensitive: true } },
    ];
    const out: Record<string, unknown>[] = [];
    for (const c of cases) {
      const run = async (hints: LineHint[]): Promise<{ ms: number; matches: number; scanned: number; pruned: number }> => {
        const src = new ShardLogSource({ store, kv: db, tenant: 'bench', deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: () => 0 });
        const t0 = performance.now();
        let matches = 0;
        const has = c.hint.caseInsensitive ? (e: LogEntry) => e.line.toLowerCase().includes((c.hint.contains[0] as string).toLowerCase()) : (e: LogEntry) => e.line.includes(c.hint.contains[0] as string);
        for await (const b of src.select({ matchers: [{ name: 'service_name', op: '=~', value: '.+' }], startNs: 0n, endNs: (1n << 64n) - 1n, direction: 'backward', limit: null, hints }, new AbortController().signal)) {
          for (const e of b) if (has(e)) matches++;
        }
        return { ms: performance.now() - t0, matches, scanned: src.stats.blocksScanned, pruned: src.stats.blocksPruned };
      };
      const base = await run([]);
      const hinted = await run([c.hint]);
      if (base.matches !== hinted.matches) throw new Error(`${c.name}: the hint lost matches (${hinted.matches} of ${base.matches})`);
      out.push({ case: c.name, matches: hinted.matches, blocks: base.scanned, scannedWithHint: hinted.scanned, prunedWithHint: hinted.pruned, baselineMs: Math.round(base.ms), hintMs: Math.round(hinted.ms), speedup: Number((base.ms / hinted.ms).toFixed(2)) });
    }
    if (JSON_OUT) console.log(JSON.stringify({ rows: ROWS, cases: out }));
    else for (const o of out) console.log(`${String(o.case).padEnd(18)} matches ${String(o.matches).padStart(6)}  blocks ${o.blocks} -> scanned ${o.scannedWithHint}, pruned ${o.prunedWithHint}  ${o.baselineMs} ms -> ${o.hintMs} ms  (x${o.speedup} vs no hint)`);
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
