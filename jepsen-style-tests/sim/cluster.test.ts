import t from 'tap';
import { runSeed } from './run.js';
import type { Scenario } from './scenario.js';

/** calm removes every fault from a scenario: a healthy cluster must serve every client. */
function calm(s: Scenario): Scenario {
  return {
    ...s,
    network: { ...s.network, lossProbability: 0, duplicateProbability: 0 },
    faults: {
      ...s.faults,
      crashPerStep: 0,
      phaseCrashPerReady: 0,
      newLeaderFaultPerElection: 0,
      leaderCommitIsolatePerReady: 0,
      partitionPerStep: 0,
      confChangePerStep: 0,
      transferPerStep: 0,
    },
  };
}

t.test('without faults every operation completes and the history is linearizable', async (t) => {
  for (const seed of [1, 2, 3]) {
    const r = runSeed({ seed, steps: 1000, scenario: calm });
    t.same(r.violations, [], `seed ${seed}: no violation`);
    t.equal(r.stats.linearizability, 'ok');
    t.ok(r.opsChecked > 50, `seed ${seed}: ${r.opsChecked} operations checked`);
    t.equal(r.stats.clients.unknown, 0, 'no unknown outcome without faults');
    t.equal(r.stats.nemesis.crashes, 0);
    t.ok(r.stats.healTicks >= 0 && r.stats.healTicks < 50, `healed in ${r.stats.healTicks} ticks`);
    t.ok(r.stats.cluster.leaderChanges >= 1, 'a leader was elected');
  }
});

t.test('crashes lose unsynced writes, and the cluster still recovers', async (t) => {
  let lost = 0;
  for (let seed = 0; seed < 20; seed++) {
    const r = runSeed({
      seed,
      steps: 1500,
      scenario: (s) => ({ ...s, faults: { ...s.faults, crashPerStep: 0.01, phaseCrashPerReady: 0.01 } }),
    });
    t.same(r.violations, [], `seed ${seed}: no violation`);
    lost += r.stats.disk.lostWrites;
  }
  t.ok(lost > 0, `crashes dropped ${lost} unsynced writes`);
});

t.test('a planted phase order must list every phase', async (t) => {
  const r = runSeed({ seed: 1, steps: 50, driverHooks: { phaseOrder: ['send', 'apply', 'advance'] } });
  t.equal(r.violations[0]?.invariant, 'exception', 'the driver refuses an incomplete phase order');
});
