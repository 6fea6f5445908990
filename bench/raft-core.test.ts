import t from 'tap';
import { runBaseline, runRaft } from './raft-core-cluster.js';

// Not a timed test: it checks that the benchmark's workload is what it claims
// (entries really commit on every node), so the published figure means something.
t.test('the raft-core bench workload commits the same entries on all three nodes', async (t) => {
  const run = runRaft({ entryBytes: 256, batchEntries: 64, batchesInFlight: 2, durationMs: 30 });
  t.ok(run.entries >= 128, `at least one round of batches committed (${run.entries})`);
  t.equal(new Set(run.appliedPerNode).size, 1, `every node applied the same index (${run.appliedPerNode.join(', ')})`);
  const baseline = runBaseline({ entryBytes: 256, batchEntries: 64, batchesInFlight: 2, durationMs: 5 });
  t.ok(baseline.entries > 0);
});
