import t from 'tap';
import { PipelinedPhases } from './driver.js';
import { runSeed } from './run.js';
import { SweepStepsPerSeed } from './seed-range.js';

// The real driver's pipelined cut (src/raft/driver/multi-raft.ts,
// "Pipelining"): Readies cut stableCommittedOnly, their committed entries
// applied before the Ready's own entries are synced. Under the simulator's
// whole fault schedule (crashes between phases drop what was not synced) no
// invariant may break. The planted bug "apply the Ready's own, unsynced
// entries" (the same order without stableCommittedOnly) is harmless on the
// simulator's 3-7 voter clusters, where a leader cannot commit an entry it
// has not sent yet; src/raft/driver/pipelining.test.ts catches it on a
// single voter, the shape where it loses acknowledged writes.
t.test('pipelined phases (apply durable entries before the sync) keep every invariant, seeds 0..29', async (t) => {
  let ops = 0;
  let phaseCrashes = 0;
  for (let seed = 0; seed < 30; seed++) {
    const report = runSeed({ seed, steps: SweepStepsPerSeed, driverHooks: { phaseOrder: PipelinedPhases, stableCommittedOnly: true } });
    ops += report.opsChecked;
    phaseCrashes += report.stats.nemesis.phaseCrashes;
    for (const v of report.violations) {
      t.fail(`seed ${seed}: ${v.invariant} at step ${v.step}: ${v.detail}\nreproduce with: runSeed({ seed: ${seed}, steps: ${SweepStepsPerSeed}, driverHooks: { phaseOrder: PipelinedPhases, stableCommittedOnly: true } })`);
    }
  }
  t.ok(ops > 3000, `the clients' histories were checked (${ops} ops)`);
  t.ok(phaseCrashes > 0, `crashes fell between phases (${phaseCrashes})`);
});
