import t from 'tap';
import { sweepSeeds } from './seed-range.js';

// Seeds 0..99; sim.test.ts, sim-2.test.ts and sim-3.test.ts
// together sweep 300 seeds, in parallel files.
t.test('seeds 0..99 keep every invariant', async (t) => {
  sweepSeeds(t, 0, 100);
});
