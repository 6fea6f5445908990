/**
 * planted-bugs-rate.ts — measures how often the simulator catches each
 * planted bug: for seeds start..start+count-1 it runs every bug of
 * planted-bugs.ts and prints, per bug, the first catching seed, how many of
 * the seeds caught it, and which invariants fired. Test code (it imports the
 * planted bugs); run it with:
 *
 *   npx tsx jepsen-style-tests/sim/planted-bugs-rate.ts [--seeds 200] [--start 0] [--steps 2000]
 */
import { parseArgs } from 'node:util';
import { PlantedBugs } from './planted-bugs.js';
import { runSeed } from './run.js';

const { values } = parseArgs({
  options: { seeds: { type: 'string', default: '200' }, start: { type: 'string', default: '0' }, steps: { type: 'string', default: '2000' } },
});
const count = Number(values.seeds);
const start = Number(values.start);
const steps = Number(values.steps);
for (const [name, n] of [['--seeds', count], ['--start', start], ['--steps', steps]] as const) {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
}

for (const bug of PlantedBugs) {
  let caught = 0;
  let first: number | null = null;
  const invariants = new Map<string, number>();
  for (let seed = start; seed < start + count; seed++) {
    const report = runSeed({ seed, steps, makeRaft: bug.makeRaft, driverHooks: bug.driverHooks });
    const v = report.violations[0];
    if (v === undefined) continue;
    caught++;
    first ??= seed;
    invariants.set(v.invariant, (invariants.get(v.invariant) ?? 0) + 1);
  }
  const seedsToFirst = first === null ? 'never' : String(first - start + 1);
  const by = [...invariants.entries()].map(([k, v]) => `${k} ${v}`).join(', ');
  process.stdout.write(
    `${bug.name}: caught by ${caught}/${count} seeds (${((100 * caught) / count).toFixed(1)}%); ` +
      `seeds needed for the first catch: ${seedsToFirst}; invariants: ${by || 'none'}\n`,
  );
}
