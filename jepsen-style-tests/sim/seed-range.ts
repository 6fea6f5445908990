/**
 * seed-range.ts — the body of the seed-sweep tests (sim*.test.ts), shared so
 * tap can run ranges of seeds in parallel files. Each failing seed fails the
 * test with the command that reproduces it.
 */
import type { Test } from 'tap';
import { runSeed } from './run.js';

/** SweepStepsPerSeed is how many steps each seed of the sweep runs. */
export const SweepStepsPerSeed = 2000;

/** sweepSeeds runs seeds [start, start+count) and asserts that none violates an invariant. */
export function sweepSeeds(t: Test, start: number, count: number): void {
  const t0 = performance.now();
  let ops = 0;
  let failures = 0;
  const seen = { crashes: 0, phaseCrashes: 0, partitions: 0, confChanges: 0, snapshotsInstalled: 0, snapshotChunks: 0, transfers: 0, rejoins: 0, lostWrites: 0, unknownOps: 0 };
  for (let seed = start; seed < start + count; seed++) {
    const report = runSeed({ seed, steps: SweepStepsPerSeed });
    ops += report.opsChecked;
    const st = report.stats;
    seen.crashes += st.nemesis.crashes;
    seen.phaseCrashes += st.nemesis.phaseCrashes;
    seen.partitions += st.nemesis.partitions;
    seen.confChanges += st.cluster.confChangesApplied;
    seen.snapshotsInstalled += st.cluster.snapshotsInstalled;
    seen.snapshotChunks += st.cluster.snapshotChunksSent;
    seen.transfers += st.nemesis.transfers;
    seen.rejoins += st.cluster.nodesRejoined;
    seen.lostWrites += st.disk.lostWrites;
    seen.unknownOps += st.clients.unknown;
    for (const v of report.violations) {
      failures++;
      t.fail(`seed ${seed}: ${v.invariant} at step ${v.step}: ${v.detail}\nreproduce with: otlpdb sim --seed ${seed} --steps ${SweepStepsPerSeed}`);
    }
  }
  t.equal(failures, 0, `seeds ${start}..${start + count - 1} (${SweepStepsPerSeed} steps each) violate no invariant`);
  // A sweep that injected no faults, or checked no history, would pass vacuously.
  t.ok(ops > count * 100, `the clients' histories were checked (${ops} ops)`);
  for (const [what, n] of Object.entries(seen)) t.ok(n > 0, `the sweep exercised ${what} (${n})`);
  t.ok(seen.snapshotChunks > seen.snapshotsInstalled, 'snapshots took several chunks');
  t.comment(`${count} seeds x ${SweepStepsPerSeed} steps, ${ops} ops checked, ${Math.round(performance.now() - t0)} ms`);
}
