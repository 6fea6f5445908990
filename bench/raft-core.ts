/**
 * raft-core.ts — `npm run bench`: entries per second the pure Raft core
 * commits through a 3-node in-memory cluster (see raft-core-cluster.ts for the
 * workload and the baseline), with `--profile` for the top frames and
 * `--json` for one machine-readable line.
 */
import { Session } from 'node:inspector/promises';
import { DEFAULTS, TARGET_ENTRIES_PER_SEC, runBaseline, runRaft, topFrames } from './raft-core-cluster.js';

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const profile = process.argv.includes('--profile');
  const config = DEFAULTS;
  // Warm up both paths so the JIT has compiled them before measuring.
  runRaft({ ...config, durationMs: 500 });
  runBaseline({ ...config, durationMs: 300 });

  const raft = runRaft(config);
  const baseline = runBaseline(config);
  const raftPerSec = (raft.entries / raft.elapsedMs) * 1000;
  const baselinePerSec = (baseline.entries / baseline.elapsedMs) * 1000;

  let frames: string[] = [];
  if (profile) {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    runRaft({ ...config, durationMs: 2000 });
    const { profile: cpuProfile } = await session.post('Profiler.stop');
    session.disconnect();
    frames = topFrames(cpuProfile, 15);
  }

  const result = {
    bench: 'raft-core',
    entryBytes: config.entryBytes,
    batchEntries: config.batchEntries,
    batchesInFlight: config.batchesInFlight,
    entriesPerSec: Math.round(raftPerSec),
    baselineEntriesPerSec: Math.round(baselinePerSec),
    ratioToBaseline: Number((raftPerSec / baselinePerSec).toFixed(4)),
    targetEntriesPerSec: TARGET_ENTRIES_PER_SEC,
    meetsTarget: raftPerSec >= TARGET_ENTRIES_PER_SEC,
    topFrames: frames,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  process.stdout.write(
    `raft-core: ${fmt(raftPerSec)} entries/s committed (3 nodes, ${config.entryBytes}-byte entries, ` +
      `batches of ${config.batchEntries}, ${config.batchesInFlight} in flight)\n` +
      `baseline:  ${fmt(baselinePerSec)} entries/s (build each entry, append to 3 arrays)\n` +
      `ratio raft/baseline: ${result.ratioToBaseline}; target ${fmt(TARGET_ENTRIES_PER_SEC)} entries/s: ` +
      `${result.meetsTarget ? 'met' : 'NOT met'}\n`,
  );
  if (frames.length > 0) process.stdout.write(`top frames (self time):\n${frames.map((f) => `  ${f}`).join('\n')}\n`);
}

await main();
