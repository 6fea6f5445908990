/**
 * log-index-build.ts — `node --single-threaded dist/bench/log-index-build.js
 * [--lines N] [--shards S] [--what none|build|on|off] [--reps R] [--now-ms T]`:
 * a fixed, repeatable piece of the log term index's cost, sized for an
 * instruction count (callgrind; bench/README.md, "## log-flush"):
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/x.%p \
 *     node --single-threaded dist/bench/log-index-build.js --what build --reps 5
 *
 * The rows are bench/log-flush.ts's (shardRows: query-logs' lines, seed
 * 8008, decoded by the node's decoder, split over S shards by stream), with
 * their times taken from `--now-ms` (a fixed default), so two runs, or two
 * builds of the code, see the same rows. What runs after that setup:
 * - `none`: nothing (the setup's own count, to subtract);
 * - `build`: encodeLogIndex over every block a flush would cut (each
 *   shard's rows in time order, cut at log buckets and at
 *   LogStoreLimits.blockRowsMax), with each row's stream labels given as a
 *   flush gives them, `--reps` times (later reps amortise the JIT's
 *   warm-up: compare totals of several reps, or the step between two rep
 *   counts);
 * - `on` / `off`: `--reps` whole flushes of every shard into a LogStore with
 *   the term index on / off on a real LevelDB (ShardDb) in a temp dir, as
 *   log-flush.ts's Mode.flush does (add, freeze, writeFrozen, the batch
 *   written, dropFrozen); on − off is what the index costs a flush.
 * It prints one JSON line (what ran, blocks, bytes built: a check that two
 * builds built the same). Timing is not its purpose; it asserts no time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assert } from '../src/errors.js';
import { LogStoreLimits } from '../src/limits.js';
import { encodeLogIndex } from '../src/storage/logs/term-index-build.js';
import { bucketOf } from '../src/storage/logs/log-store-format.js';
import { streamLabels } from '../src/storage/logs/log-line.js';
import type { StreamLabel } from '../src/storage/logs/log-line.js';
import { LogStore } from '../src/storage/logs/log-store.js';
import type { LogRow } from '../src/storage/rows.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import { shardRows } from './log-flush.js';

const TENANT = 'bench';
/** NOW_MS_DEFAULT fixes the lines' times (2026-11-29T12:00:00Z) so every run sees the same rows and blocks. */
const NOW_MS_DEFAULT = Date.UTC(2026, 10, 29, 12);

/** LogIndexBuildWhat is what runs after the setup (see the file comment). */
export type LogIndexBuildWhat = 'none' | 'build' | 'on' | 'off';

/** LogIndexBuildConfig is one run's shape (the flags). */
export interface LogIndexBuildConfig {
  readonly lines: number;
  readonly shards: number;
  readonly what: LogIndexBuildWhat;
  readonly reps: number;
  readonly nowMs: number;
}

/** LogIndexBuildResult says what ran: blocks built (or flushed shards) and bytes, per rep. */
export interface LogIndexBuildResult {
  readonly what: LogIndexBuildWhat;
  readonly reps: number;
  readonly blocks: number;
  /** bytes is one rep's bytes: the index's values (build), or the flush's data and index bytes (on, off). */
  readonly bytes: number;
}

/** parseLogIndexBuildArgs reads the flags (see the file comment). */
export function parseLogIndexBuildArgs(argv: readonly string[]): LogIndexBuildConfig {
  const flag = (name: string, fallback: number, min: number): number => {
    const i = argv.indexOf(name);
    if (i < 0) return fallback;
    const v = Number(argv[i + 1]);
    assert(Number.isSafeInteger(v) && v >= min, `${name} is an integer >= ${min}`);
    return v;
  };
  const w = argv.indexOf('--what');
  const what = w < 0 ? 'build' : argv[w + 1];
  assert(what === 'none' || what === 'build' || what === 'on' || what === 'off', '--what is none, build, on or off');
  return { lines: flag('--lines', 200_000, 1), shards: flag('--shards', 4, 1), what, reps: flag('--reps', 1, 1), nowMs: flag('--now-ms', NOW_MS_DEFAULT, 0) };
}

/** IndexBlock is one block's rows and their stream labels, as a flush hands them to encodeLogIndex. */
interface IndexBlock {
  readonly rows: LogRow[];
  readonly labels: (readonly StreamLabel[])[];
}

/** flushBlocks cuts each shard's rows as a flush does: in time order (stable), at log buckets and at LogStoreLimits.blockRowsMax. */
export function flushBlocks(shards: readonly LogRow[][]): IndexBlock[] {
  const out: IndexBlock[] = [];
  for (const shard of shards) {
    const rows = [...shard].sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
    let from = 0;
    while (from < rows.length) {
      const bucket = bucketOf((rows[from] as LogRow).timeUnixNano);
      let to = from + 1;
      while (to < rows.length && to - from < LogStoreLimits.blockRowsMax && bucketOf((rows[to] as LogRow).timeUnixNano) === bucket) to++;
      const part = rows.slice(from, to);
      out.push({ rows: part, labels: part.map(streamLabels) });
      from = to;
    }
  }
  return out;
}

/** runLogIndexBuild runs the setup and then `config.what` (see the file comment), in a temp dir it removes. */
export async function runLogIndexBuild(config: LogIndexBuildConfig): Promise<LogIndexBuildResult> {
  const shards = shardRows(config.lines, config.shards, config.nowMs);
  if (config.what === 'none') return { what: 'none', reps: config.reps, blocks: 0, bytes: 0 };
  if (config.what === 'build') {
    const blocks = flushBlocks(shards);
    let bytes = 0;
    for (let r = 0; r < config.reps; r++) {
      let repBytes = 0;
      for (const b of blocks) {
        const ix = encodeLogIndex(b.rows, b.labels);
        repBytes += ix.postings.length + ix.bloom.length + ix.entries.reduce((n, e) => n + e.length, 0);
      }
      assert(r === 0 || repBytes === bytes, 'every rep builds the same bytes');
      bytes = repBytes;
    }
    return { what: 'build', reps: config.reps, blocks: blocks.length, bytes };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-log-index-build-'));
  const db = await ShardDb.open(dir);
  try {
    const store = new LogStore({ termIndex: config.what === 'on' });
    await store.load(db);
    let bytes = 0;
    let flushIndex = 0;
    for (let r = 0; r < config.reps; r++) {
      let repBytes = 0;
      for (const rows of shards) {
        if (rows.length === 0) continue;
        store.add(TENANT, rows, 0);
        store.freeze();
        const batch = new KvWriteBatch();
        const report = await store.writeFrozen({ batch, kv: db, flushIndex: ++flushIndex });
        repBytes += report.dataBytes + report.indexBytes;
        await db.write(batch);
        store.dropFrozen();
      }
      bytes = repBytes;
    }
    return { what: config.what, reps: config.reps, blocks: shards.length, bytes };
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const config = parseLogIndexBuildArgs(process.argv.slice(2));
  const r = await runLogIndexBuild(config);
  console.log(JSON.stringify({ ...config, ...r }));
}

if (process.argv[1]?.endsWith('log-index-build.js') === true) await main();
