import t from 'tap';
import { PlantedBugs } from './planted-bugs.js';
import { runSeed } from './run.js';

/** SeedsToCatchMax is the most seeds a planted bug may survive; each must be caught within it. */
const SeedsToCatchMax = 200;
const StepsPerSeed = 2000;

for (const bug of PlantedBugs) {
  t.test(`the simulator catches: ${bug.name}`, async (t) => {
    let caught: { seed: number; invariant: string; step: number; detail: string } | null = null;
    let seeds = 0;
    for (let seed = 0; seed < SeedsToCatchMax && caught === null; seed++) {
      seeds++;
      const report = runSeed({ seed, steps: StepsPerSeed, makeRaft: bug.makeRaft, driverHooks: bug.driverHooks });
      const v = report.violations[0];
      if (v !== undefined) caught = v;
    }
    t.ok(caught !== null, `caught within ${SeedsToCatchMax} seeds`);
    if (caught !== null) {
      t.comment(`${bug.name}: first caught by seed ${caught.seed} (${seeds} seeds run), invariant ${caught.invariant} at step ${caught.step}: ${caught.detail}`);
    }
  });
}
