/**
 * wal.ts — `npx tsx bench/wal.ts [--groups N] [--entry-bytes B] [--ms T] [--json]`:
 * entries per second the shared WAL makes durable on the real file system
 * (NodeFileSystem in a temp dir under os.tmpdir(), removed afterwards), two
 * ways over the same work:
 *
 * - group commit: each iteration every group appends one entry and a hard
 *   state, then ONE `sync()` (one fsync) covers them all, as the driver does;
 * - fsync per append: the same appends, each followed by its own `sync()`.
 *
 * It prints both rates and their ratio (the figure to compare across
 * machines), plus the encode-and-checksum rate with no I/O (the CPU floor of
 * a sync). Never a CI gate: timing lives here, not in tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from '../src/fs/node-file-system.js';
import { Wal } from '../src/raft/wal/wal.js';
import { ByteWriter, beginRecord, encodeEntriesPayload, finishRecord, RecordType } from '../src/raft/wal/record-format.js';
import type { Entry } from '../src/raft/types.js';
import { positiveIntArg } from './cli-args.js';

interface Config {
  groups: number;
  entryBytes: number;
  durationMs: number;
}

function entry(index: number, bytes: Uint8Array): Entry {
  return { index, term: 1, type: 0, data: bytes };
}

/** run measures entries made durable per second; perAppendSync chooses the baseline. */
async function run(config: Config, perAppendSync: boolean): Promise<{ entries: number; syncs: number; elapsedMs: number }> {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-bench-wal-'));
  try {
    const { wal } = await Wal.open(new NodeFileSystem(), join(root, 'wal'));
    const data = new Uint8Array(config.entryBytes).fill(0xab);
    const next = new Array<number>(config.groups).fill(1);
    let entries = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < config.durationMs) {
      for (let g = 0; g < config.groups; g++) {
        const i = next[g] as number;
        wal.appendEntries(g, [entry(i, data)]);
        wal.setHardState(g, { term: 1, vote: 1, commit: i });
        next[g] = i + 1;
        entries++;
        if (perAppendSync) await wal.sync();
      }
      if (!perAppendSync) await wal.sync();
      elapsed = performance.now() - start;
    }
    const syncs = wal.stats.fileSyncs;
    await wal.close();
    return { entries, syncs, elapsedMs: elapsed };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** encodeRate is the bytes per second of framing and checksumming records in memory (no I/O). */
function encodeRate(entryBytes: number, durationMs: number): number {
  const w = new ByteWriter(1 << 20, 256 << 20);
  const batch: Entry[] = [];
  for (let i = 1; i <= 64; i++) batch.push(entry(i, new Uint8Array(entryBytes).fill(i)));
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < durationMs) {
    for (let k = 0; k < 100; k++) {
      w.reset();
      const s = beginRecord(w, 1, RecordType.Entries);
      encodeEntriesPayload(w, batch, 0, batch.length);
      bytes += finishRecord(w, s, 32 << 20);
    }
  }
  return (bytes / (performance.now() - start)) * 1000;
}

async function main(): Promise<void> {
  const config: Config = { groups: positiveIntArg('groups', 16), entryBytes: positiveIntArg('entry-bytes', 256), durationMs: positiveIntArg('ms', 3000) };
  await run({ ...config, durationMs: 300 }, false); // Warm up the JIT and the file system.
  const grouped = await run(config, false);
  const single = await run(config, true);
  const groupedPerSec = (grouped.entries / grouped.elapsedMs) * 1000;
  const singlePerSec = (single.entries / single.elapsedMs) * 1000;
  const encodeBytesPerSec = encodeRate(config.entryBytes, 1000);
  const result = {
    bench: 'wal',
    groups: config.groups,
    entryBytes: config.entryBytes,
    groupCommitEntriesPerSec: Math.round(groupedPerSec),
    groupCommitFsyncsPerSec: Math.round((grouped.syncs / grouped.elapsedMs) * 1000),
    fsyncPerAppendEntriesPerSec: Math.round(singlePerSec),
    fsyncPerAppendFsyncsPerSec: Math.round((single.syncs / single.elapsedMs) * 1000),
    ratio: Number((groupedPerSec / singlePerSec).toFixed(2)),
    encodeMiBPerSec: Math.round(encodeBytesPerSec / (1024 * 1024)),
  };
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`wal: ${config.groups} groups, ${config.entryBytes}-byte entries, NodeFileSystem in ${tmpdir()}`);
  console.log(`  group commit     ${result.groupCommitEntriesPerSec.toLocaleString()} entries/s  (${result.groupCommitFsyncsPerSec} fsyncs/s)`);
  console.log(`  fsync per append ${result.fsyncPerAppendEntriesPerSec.toLocaleString()} entries/s  (${result.fsyncPerAppendFsyncsPerSec} fsyncs/s)`);
  console.log(`  ratio group/single: ${result.ratio}x`);
  console.log(`  encode + CRC-32C (no I/O): ${result.encodeMiBPerSec} MiB/s`);
}

await main();
