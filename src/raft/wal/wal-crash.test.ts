import t from 'tap';
import type { CrashWorkloadConfig } from './wal-test-util.js';
import { noDirFsync, noFileFsync, runCrashWorkload } from './wal-test-util.js';

// Tiny segments and records so a short workload rolls segments, splits batches into several records and purges often.
const CONFIG: CrashWorkloadConfig = { steps: 300, options: { segmentBytesMax: 300, recordBytesMax: 160 } };
const SEEDS = 300;

t.test(`crash at random points of a seeded workload (${SEEDS} seeds): every synced record survives, nothing else appears`, async (t) => {
  let failures = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const failure = await runCrashWorkload(seed, CONFIG);
    if (failure !== null) {
      failures++;
      t.fail(`seed ${seed}: ${failure}`);
      if (failures >= 3) break;
    }
  }
  t.equal(failures, 0, 'no seed lost an acknowledged record or invented one');
});

t.test('the crash test catches a planted bug: sync() that skips the file fsync', async (t) => {
  let caught: number | null = null;
  for (let seed = 1; seed <= 50 && caught === null; seed++) {
    const failure = await runCrashWorkload(seed, { ...CONFIG, wrap: noFileFsync });
    if (failure !== null) caught = seed;
  }
  t.not(caught, null, `lost acknowledged records detected (first at seed ${caught})`);
});

t.test('the crash test catches a planted bug: directory fsyncs skipped (new segments and renames not durable)', async (t) => {
  let caught: number | null = null;
  for (let seed = 1; seed <= 50 && caught === null; seed++) {
    const failure = await runCrashWorkload(seed, { ...CONFIG, wrap: noDirFsync });
    if (failure !== null) caught = seed;
  }
  t.not(caught, null, `lost segments detected (first at seed ${caught})`);
});
