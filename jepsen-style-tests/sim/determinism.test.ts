import t from 'tap';
import { PlantedBugs } from './planted-bugs.js';
import { runSeed } from './run.js';

t.test('the same seed twice gives the same report and the same event trace', async (t) => {
  for (const seed of [0, 1, 42, 4_000_000_000]) {
    const a = runSeed({ seed, steps: 600 });
    const b = runSeed({ seed, steps: 600 });
    t.equal(a.stats.traceHash, b.stats.traceHash, `seed ${seed}: trace hashes match (${a.stats.traceHash})`);
    t.same(a, b, `seed ${seed}: reports are identical`);
  }
});

t.test('different seeds give different runs', async (t) => {
  const hashes = new Set<string>();
  for (let seed = 100; seed < 110; seed++) hashes.add(runSeed({ seed, steps: 300 }).stats.traceHash);
  t.equal(hashes.size, 10);
});

t.test('a planted bug is caught at the same seed, step and detail every time', async (t) => {
  const bug = PlantedBugs.find((b) => b.name.startsWith('vote granted'));
  t.ok(bug);
  const run = (seed: number) => runSeed({ seed, steps: 2000, makeRaft: bug?.makeRaft });
  let seed = 0;
  while (seed < 50 && run(seed).violations.length === 0) seed++;
  const a = run(seed);
  const b = run(seed);
  t.equal(a.violations.length, 1, `the bug is caught (seed ${seed})`);
  t.same(a.violations, b.violations);
  t.equal(a.stats.traceHash, b.stats.traceHash);
});

t.test('the sim refuses seeds and step counts out of range', async (t) => {
  t.throws(() => runSeed({ seed: -1, steps: 10 }), { code: 'ERR_INTERNAL' });
  t.throws(() => runSeed({ seed: 2 ** 32, steps: 10 }), { code: 'ERR_INTERNAL' });
  t.throws(() => runSeed({ seed: 1, steps: -5 }), { code: 'ERR_INTERNAL' });
});
