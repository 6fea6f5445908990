/**
 * run.ts — runSeed and runSeeds: run one seed (or a range) to completion and
 * report every violation with the seed that reproduces it.
 *
 * A seed runs `steps` steps with faults, stopping at the first violation.
 * Then it heals: the nemesis stops, partitions heal, crashed members
 * restart, clients stop issuing; within SimLimits.healTicksMax ticks a
 * leader must appear and every acknowledged write must be applied on every
 * live member, and members at the same applied index must hold the same
 * state machine. Last, the client history goes to the linearizability
 * checker.
 *
 * Pure and synchronous: no I/O, no clock, no Math.random().
 */
import { OtlpdbError, assert } from '../../src/errors.js';
import { SimLimits } from '../../src/limits.js';
import { checkOperations, registerModel } from '../checker/index.js';
import { Cluster } from './cluster.js';
import type { ClusterStats } from './cluster.js';
import type { DriverHooks, MakeRaft, SimNode } from './driver.js';
import type { DiskStats } from './disk.js';
import { InvariantName } from './invariants.js';
import type { Violation } from './invariants.js';
import type { NemesisStats } from './nemesis.js';
import type { NetworkStats } from './network.js';
import { Prng } from './prng.js';
import { makeScenario } from './scenario.js';
import type { Scenario } from './scenario.js';
import type { WorkloadStats } from './workload.js';

/**
 * SimCheckSearchStepsMax bounds the linearizability search of one seed's
 * history per key. 2,000-step seeds need at most ~2.5M (p99 ~150k); long
 * runs with hundreds of unknown writes on one key can need far more, and
 * past this bound the verdict is 'unknown' (counted, never a guess), not a
 * violation.
 */
export const SimCheckSearchStepsMax = SimLimits.checkSearchStepsMax;

/** RunSeedOptions selects a seed, its length and any planted bug (tests only). */
export interface RunSeedOptions {
  readonly seed: number;
  readonly steps: number;
  /** makeRaft injects a Raft subclass (TEST code plants core bugs with it). */
  readonly makeRaft?: MakeRaft;
  /** driverHooks changes the driver (TEST code plants driver bugs with it). */
  readonly driverHooks?: DriverHooks;
  /** scenario overrides parts of the seed's scenario (tests use it to force a shape). */
  readonly scenario?: (s: Scenario) => Scenario;
}

/** SeedStats is what happened during one seed. */
export interface SeedStats {
  readonly messages: NetworkStats;
  readonly nemesis: NemesisStats;
  readonly cluster: ClusterStats;
  readonly disk: DiskStats;
  readonly clients: WorkloadStats;
  /** ticks is the number of steps run, heal included. */
  readonly ticks: number;
  /** healTicks is how long the cluster took to recover after faults stopped (-1 if it did not get there). */
  readonly healTicks: number;
  /** linearizability is the checker's verdict ('skipped' when an earlier violation stopped the seed). */
  readonly linearizability: 'ok' | 'illegal' | 'unknown' | 'skipped';
  /** traceHash fingerprints every event of the run: equal seeds give equal hashes. */
  readonly traceHash: string;
}

/** SeedReport is the outcome of one seed. */
export interface SeedReport {
  readonly seed: number;
  readonly steps: number;
  readonly clusterSize: number;
  /** violations holds at most one entry: a seed stops at its first violation. */
  readonly violations: readonly Violation[];
  readonly opsChecked: number;
  readonly stats: SeedStats;
}

/** RunSeedsOptions selects a range of seeds. */
export interface RunSeedsOptions {
  readonly start: number;
  readonly count: number;
  readonly steps: number;
  readonly makeRaft?: MakeRaft;
  readonly driverHooks?: DriverHooks;
  /** stopAtFirstFailure ends the run at the first seed with a violation. */
  readonly stopAtFirstFailure?: boolean;
  onProgress?(done: number, total: number, violationsSoFar: number): void;
}

/** RunSeedsReport aggregates a range of seeds. */
export interface RunSeedsReport {
  readonly seeds: number;
  readonly steps: number;
  readonly violations: number;
  readonly opsChecked: number;
  readonly failures: readonly Violation[];
}

function isMember(leader: SimNode, id: number): boolean {
  return leader.confState.voters.includes(id) || leader.confState.learners.includes(id);
}

/** healed says whether a leader exists and every live member applied every acknowledged write. */
function healed(c: Cluster): boolean {
  const leader = c.leader();
  if (leader === null) return false;
  const target = Math.max(c.workload.ackedIndexMax, 0);
  for (const id of c.nodeIds()) {
    const node = c.node(id);
    if (node === undefined || !isMember(leader, id)) continue;
    if (!node.up || node.applied < target) return false;
  }
  return c.workload.inFlight === 0;
}

/** converged says whether every live member has applied the same index (then their state machines must match). */
function convergence(c: Cluster): { equalApplied: boolean; detail: string | null } {
  const leader = c.leader();
  if (leader === null) return { equalApplied: false, detail: null };
  let applied = -1;
  let fp = 0;
  let first = 0;
  for (const id of c.nodeIds()) {
    const node = c.node(id);
    if (node === undefined || !node.up || !isMember(leader, id)) continue;
    if (applied < 0) {
      applied = node.applied;
      fp = node.kv.fingerprint();
      first = id;
    } else if (node.applied !== applied) {
      return { equalApplied: false, detail: null };
    } else if (node.kv.fingerprint() !== fp) {
      return { equalApplied: true, detail: `nodes ${first} and ${id} applied up to ${applied} but hold different state` };
    }
  }
  return { equalApplied: true, detail: null };
}

function describe(err: unknown): string {
  if (err instanceof OtlpdbError) return `${err.code}: ${err.message} @ ${(err.stack ?? '').split('\n').slice(1, 4).join(' | ')}`;
  if (err instanceof Error) return `${err.name}: ${err.message} @ ${(err.stack ?? '').split('\n').slice(1, 4).join(' | ')}`;
  return String(err);
}

/**
 * runSeed runs one seed: `steps` steps under faults, then the heal, then the
 * linearizability check. Everything (cluster size, Raft options, faults,
 * workload) follows from the seed, so the same options give the same report.
 */
export function runSeed(options: RunSeedOptions): SeedReport {
  assert(Number.isInteger(options.seed) && options.seed >= 0 && options.seed <= 0xffffffff, 'seed is a 32-bit unsigned integer');
  assert(Number.isInteger(options.steps) && options.steps >= 0 && options.steps <= SimLimits.stepsMax, 'steps within SimLimits.stepsMax');
  const base = makeScenario(new Prng(options.seed).fork('scenario'));
  const scenario = options.scenario === undefined ? base : options.scenario(base);
  const c = new Cluster({ seed: options.seed, scenario, makeRaft: options.makeRaft, driverHooks: options.driverHooks });
  const inv = c.invariants;
  let healTicks = -1;
  let linearizability: SeedStats['linearizability'] = 'skipped';
  let opsChecked = 0;
  try {
    for (let i = 0; i < options.steps && inv.violation === null; i++) c.step();
    if (inv.violation === null) {
      c.heal();
      const healStart = c.now;
      for (let i = 0; i < SimLimits.healTicksMax && inv.violation === null; i++) {
        c.step();
        if (healed(c)) {
          healTicks = c.now - healStart;
          break;
        }
      }
      if (inv.violation === null && healTicks < 0) {
        const leader = c.leader();
        const lagging = c
          .nodeIds()
          .map((id) => c.node(id) as SimNode)
          .filter((n) => leader !== null && isMember(leader, n.id) && (!n.up || n.applied < c.workload.ackedIndexMax))
          .map((n) => `${n.id}${n.up ? '' : ' (down)'} at ${n.applied}`);
        inv.fail(
          InvariantName.liveness,
          leader === null
            ? `no leader ${SimLimits.healTicksMax} ticks after every fault healed`
            : `acknowledged writes up to ${c.workload.ackedIndexMax} not applied on ${lagging.join(', ') || 'in-flight clients'} ${SimLimits.healTicksMax} ticks after healing`,
        );
      }
      // Let the members catch up to one applied index, then compare them.
      for (let i = 0; i < SimLimits.healTicksMax && inv.violation === null; i++) {
        const conv = convergence(c);
        if (conv.detail !== null) inv.fail(InvariantName.convergence, conv.detail);
        if (conv.equalApplied) break;
        c.step();
      }
    }
    if (inv.violation === null) {
      c.workload.finish();
      const result = checkOperations(registerModel, c.workload.history, { searchStepsMax: SimCheckSearchStepsMax });
      linearizability = result.outcome;
      opsChecked = result.opsChecked;
      if (result.outcome === 'illegal') inv.fail(InvariantName.linearizability, result.explanation);
    }
  } catch (err) {
    inv.fail(InvariantName.exception, describe(err));
  }
  const disk: DiskStats = { writes: 0, syncs: 0, lostWrites: 0 };
  for (const n of c.nodes.values()) {
    disk.writes += n.disk.stats.writes;
    disk.syncs += n.disk.stats.syncs;
    disk.lostWrites += n.disk.stats.lostWrites;
  }
  const violation = inv.violation;
  return {
    seed: options.seed,
    steps: options.steps,
    clusterSize: scenario.clusterSize,
    violations: violation === null ? [] : [violation],
    opsChecked,
    stats: {
      messages: c.network.stats,
      nemesis: c.nemesis.stats,
      cluster: c.stats,
      disk,
      clients: c.workload.stats,
      ticks: c.now,
      healTicks,
      linearizability,
      traceHash: c.traceHash,
    },
  };
}

/** runSeeds runs seeds start .. start+count-1 and aggregates their violations. */
export function runSeeds(options: RunSeedsOptions): RunSeedsReport {
  assert(Number.isInteger(options.count) && options.count >= 0 && options.count <= SimLimits.seedsMax, 'count within SimLimits.seedsMax');
  assert(options.start + options.count - 1 <= 0xffffffff, 'seeds fit in 32 bits');
  const failures: Violation[] = [];
  let opsChecked = 0;
  let seeds = 0;
  for (let i = 0; i < options.count; i++) {
    const report = runSeed({
      seed: options.start + i,
      steps: options.steps,
      makeRaft: options.makeRaft,
      driverHooks: options.driverHooks,
    });
    seeds++;
    opsChecked += report.opsChecked;
    failures.push(...report.violations);
    options.onProgress?.(seeds, options.count, failures.length);
    if (options.stopAtFirstFailure === true && failures.length > 0) break;
  }
  return { seeds, steps: options.steps, violations: failures.length, opsChecked, failures };
}
