/**
 * index.ts — the public surface of the deterministic simulator. Explicit
 * named exports only; README.md says what a step is, the fault model and
 * every invariant.
 */
export { runSeed, runSeeds, SimCheckSearchStepsMax } from './run.js';
export type { RunSeedOptions, RunSeedsOptions, RunSeedsReport, SeedReport, SeedStats } from './run.js';
export { InvariantName, Invariants } from './invariants.js';
export type { Violation } from './invariants.js';
export { DriverPhases } from './driver.js';
export type { DriverHooks, DriverPhase, MakeRaft } from './driver.js';
export { Prng } from './prng.js';
export { makeScenario } from './scenario.js';
export type { Scenario, FaultRates } from './scenario.js';
