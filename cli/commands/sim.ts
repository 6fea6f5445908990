/**
 * sim.ts — `otlpdb sim`: runs the deterministic Raft cluster simulator over
 * one seed or a range of seeds and reports every invariant violation with the
 * command that reproduces it.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { OtlpdbError } from '../../src/errors.js';
import { SimLimits } from '../../src/limits.js';
import { runSeed } from '../../jepsen-style-tests/sim/index.js';
import type { Violation } from '../../jepsen-style-tests/sim/index.js';
import { parseIntegerFlag } from '../flags.js';
import { createProgress } from '../progress.js';

/** SimCommandOptions are the raw flag values of `otlpdb sim`, as commander gives them. */
export interface SimCommandOptions {
  readonly seed?: string;
  readonly seeds?: string;
  readonly start?: string;
  readonly steps?: string;
  readonly json?: boolean;
  readonly quiet?: boolean;
}

/** SimSummary is the `--json` output of `otlpdb sim`. */
export interface SimSummary {
  readonly seeds: number;
  readonly steps: number;
  readonly violations: number;
  readonly opsChecked: number;
  readonly failures: readonly Violation[];
}

/** SimIo is where `otlpdb sim` writes; injected so tests can capture it. */
export interface SimIo {
  out(line: string): void;
  err(line: string): void;
}

/** SEED_MAX is the largest seed the simulator's PRNG accepts (32-bit seeds). */
export const SEED_MAX = 0xffff_ffff;

/** YIELD_INTERVAL_MS is how often the seed loop yields so a progress bar and Ctrl-C stay responsive. */
const YIELD_INTERVAL_MS = 50;

/** runSimCommand runs `otlpdb sim` and returns the process exit code (0 clean, 1 violations). */
export async function runSimCommand(options: SimCommandOptions, io: SimIo): Promise<number> {
  if (options.seed !== undefined && (options.seeds !== undefined || options.start !== undefined)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', '--seed cannot be combined with --seeds or --start');
  }
  const steps =
    options.steps === undefined ? SimLimits.stepsDefault : parseIntegerFlag('--steps', options.steps, 1, SimLimits.stepsMax);
  let start: number;
  let count: number;
  if (options.seed !== undefined) {
    start = parseIntegerFlag('--seed', options.seed, 0, SEED_MAX);
    count = 1;
  } else {
    start = options.start === undefined ? 1 : parseIntegerFlag('--start', options.start, 0, SEED_MAX);
    count = options.seeds === undefined ? 100 : parseIntegerFlag('--seeds', options.seeds, 1, SimLimits.seedsMax);
    if (start + count - 1 > SEED_MAX) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--start + --seeds - 1 must not exceed ${SEED_MAX}`);
    }
  }

  const failures: Violation[] = [];
  let opsChecked = 0;
  const progress = createProgress('sim', count, options.json === true || options.quiet === true);
  let lastYieldMs = performance.now();
  for (let i = 0; i < count; i++) {
    const seed = start + i;
    const report = runSeed({ seed, steps });
    opsChecked += report.opsChecked;
    for (const violation of report.violations) {
      failures.push(violation);
      if (options.json !== true) {
        io.err(`seed ${seed}: ${violation.invariant} violated at step ${violation.step}: ${violation.detail}`);
        io.err(`reproduce with: otlpdb sim --seed ${seed} --steps ${steps}`);
      }
    }
    progress.update(i + 1, failures.length === 0 ? '' : `${failures.length} violation(s)`);
    if (performance.now() - lastYieldMs > YIELD_INTERVAL_MS) {
      await yieldToEventLoop();
      lastYieldMs = performance.now();
    }
  }
  progress.stop();

  const summary: SimSummary = { seeds: count, steps, violations: failures.length, opsChecked, failures };
  if (options.json === true) {
    io.out(JSON.stringify(summary));
  } else {
    const seedsText = count === 1 ? `seed ${start}` : `seeds ${start}..${start + count - 1}`;
    io.out(
      `sim: ${count} seed(s) (${seedsText}) x ${steps} steps: ${failures.length} violation(s), ` +
        `${opsChecked} client operations checked for linearizability`,
    );
  }
  return failures.length === 0 ? 0 : 1;
}
