/**
 * scenario.ts — everything a seed decides before the first step: cluster
 * size, Raft options, network fault rates, the fault schedule's rates and
 * the workload mix. One seed gives one Scenario, always the same.
 */
import { RaftLimits, SimLimits } from '../../src/limits.js';
import type { NodeConfig } from './driver.js';
import type { NetworkOptions, PartitionShape } from './network.js';
import type { Prng } from './prng.js';
import type { WorkloadOptions } from './workload.js';

/** SimSnapshotChunkBytesChoices are the InstallSnapshot chunk sizes a seed picks from: tiny, so a snapshot takes several chunks. */
export const SimSnapshotChunkBytesChoices: readonly number[] = [64, 256, 1024];

/** SimNodesMax bounds the nodes alive at once (founders plus joiners). */
export const SimNodesMax = SimLimits.nodesMax;

/** SimVotersMin is the fewest voters the nemesis leaves when it removes one. */
export const SimVotersMin = 3;

/** FaultRates are the per-seed rates of the nemesis (probabilities per step unless named otherwise). */
export interface FaultRates {
  readonly crashPerStep: number;
  /** crashLeaderBias is the chance a crash picks the leader rather than a random live node. */
  readonly crashLeaderBias: number;
  readonly restartTicksMin: number;
  readonly restartTicksMax: number;
  /** crashedMax is how many nodes may be down at once (a minority, except in rare seeds). */
  readonly crashedMax: number;
  /**
   * newLeaderFaultPerElection is the chance a newly elected leader is crashed
   * or isolated within newLeaderFaultTicksMax ticks (Jepsen's "kill / partition
   * the leader"): often before its first entries leave it, which is what
   * leaves divergent uncommitted suffixes behind (Figure 8).
   */
  readonly newLeaderFaultPerElection: number;
  readonly newLeaderFaultTicksMax: number;
  /** newLeaderIsolateBias is the chance such a fault isolates the leader rather than crashing it. */
  readonly newLeaderIsolateBias: number;
  /**
   * leaderCommitIsolatePerReady is the chance a leader is cut off right after
   * a Ready that applied entries, dropping what it had in flight: a fault
   * timed to the moment a commit decision has been made but not yet spread.
   */
  readonly leaderCommitIsolatePerReady: number;
  /** phaseCrashPerReady is the chance a node crashes at one phase boundary of a Ready that must sync. */
  readonly phaseCrashPerReady: number;
  readonly partitionPerStep: number;
  readonly partitionTicksMin: number;
  readonly partitionTicksMax: number;
  readonly shapes: readonly PartitionShape[];
  readonly confChangePerStep: number;
  readonly transferPerStep: number;
  /** compactPerNodeStep is the chance a live node snapshots and compacts in a step. */
  readonly compactPerNodeStep: number;
  /** compactKeepEntriesMax is the most entries a compaction keeps below the snapshot index. */
  readonly compactKeepEntriesMax: number;
  /**
   * rejoinBias is the chance that adding a learner re-adds a removed node's
   * id instead of a new one: the node comes back as a new incarnation with
   * a wiped disk (what `otlpdb` does when a node leaves and later joins
   * again: its replica ids are its node id). A stale member whose log still
   * lists the id as a voter may ask the empty replica for its vote.
   */
  readonly rejoinBias: number;
}

/** Scenario is the whole per-seed setup. */
export interface Scenario {
  readonly clusterSize: number;
  readonly raft: NodeConfig;
  readonly network: NetworkOptions;
  readonly workload: WorkloadOptions;
  readonly faults: FaultRates;
}

/**
 * ReplicationProfiles pair a message size with an in-flight window. Tiny
 * messages (one entry each, as msgEntriesBytesMax is below any entry) make a
 * new leader's catch-up acknowledge old entries before its own no-op: the
 * window where the Figure 8 rule matters. Each profile still catches up a
 * lagging follower within SimLimits.healTicksMax.
 */
const ReplicationProfiles: readonly { inflightMsgsMax: number; msgEntriesBytesMax: number }[] = [
  { inflightMsgsMax: 256, msgEntriesBytesMax: 16 },
  { inflightMsgsMax: 4, msgEntriesBytesMax: 512 },
  { inflightMsgsMax: 2, msgEntriesBytesMax: 4096 },
  { inflightMsgsMax: 256, msgEntriesBytesMax: 1024 * 1024 },
];

const AllShapes: readonly PartitionShape[] = ['halves', 'isolate-leader', 'bridge', 'ring', 'one-way'];

/** between draws a uniform float in [lo, hi). */
function between(r: Prng, lo: number, hi: number): number {
  return lo + r.float() * (hi - lo);
}

/** makeScenario draws a Scenario from the seed's 'scenario' stream. */
export function makeScenario(r: Prng): Scenario {
  const clusterSize = r.pick([3, 5, 7]);
  const electionTicks = RaftLimits.electionTicks;
  const raft: NodeConfig = {
    electionTicks,
    heartbeatTicks: r.pick([1, 1, 2, 3]),
    preVote: r.chance(0.75),
    checkQuorum: r.chance(0.75),
    disableProposalForwarding: r.chance(0.5),
    snapshotChunkBytesMax: r.pick(SimSnapshotChunkBytesChoices),
    ...r.pick(ReplicationProfiles),
  };
  const network: NetworkOptions = {
    delayTicksMin: 1,
    delayTicksMax: r.range(1, 5),
    lossProbability: r.chance(0.2) ? 0 : between(r, 0, 0.06),
    duplicateProbability: r.chance(0.3) ? 0 : between(r, 0, 0.03),
    queueMax: SimLimits.networkQueueMax,
  };
  const workload: WorkloadOptions = {
    clients: r.range(3, 5),
    keys: r.range(1, 5),
    issueProbability: between(r, 0.05, 0.5),
    putWeight: between(r, 0.1, 1),
    getWeight: between(r, 0.1, 1),
    casWeight: between(r, 0, 1),
    timeoutTicks: r.range(2 * electionTicks, 8 * electionTicks),
    valuePaddingBytes: r.pick([0, 0, 32, 128]),
  };
  const chaos = r.chance(1 / 3);
  const faultsDrawn: FaultRates = {
    crashPerStep: between(r, 0.0005, 0.006),
    crashLeaderBias: between(r, 0, 0.8),
    restartTicksMin: 2,
    restartTicksMax: r.range(20, 200),
    crashedMax: r.chance(0.1) ? clusterSize : Math.floor(clusterSize / 2),
    // A third of the seeds are "leader chaos": most new leaders fail at once.
    newLeaderFaultPerElection: chaos ? between(r, 0.5, 0.9) : r.chance(0.4) ? 0 : between(r, 0, 0.5),
    newLeaderFaultTicksMax: chaos ? r.pick([0, 1, 2, 4]) : r.pick([0, 2, 5, 3 * electionTicks]),
    newLeaderIsolateBias: between(r, 0, 1),
    leaderCommitIsolatePerReady: chaos ? between(r, 0.05, 0.3) : r.chance(0.5) ? 0 : between(r, 0, 0.005),
    phaseCrashPerReady: r.chance(0.3) ? 0 : between(r, 0, 0.003),
    partitionPerStep: between(r, 0.001, 0.012),
    partitionTicksMin: 5,
    partitionTicksMax: r.range(30, 300),
    shapes: r.chance(0.5) ? AllShapes : r.shuffle([...AllShapes]).slice(0, r.range(1, AllShapes.length)),
    confChangePerStep: r.chance(0.25) ? 0 : between(r, 0.001, 0.01),
    transferPerStep: r.chance(0.4) ? 0 : between(r, 0, 0.004),
    compactPerNodeStep: between(r, 0.002, 0.03),
    compactKeepEntriesMax: r.pick([0, 5, 30]),
    // The last draw of the scenario, so adding it shifted no other field.
    rejoinBias: r.chance(0.3) ? 0 : between(r, 0.3, 1),
  };
  // A third of the seeds are "membership churn" (drawn last, so the draws
  // above are the same in every seed): members are swapped out and back in
  // often, while partitions leave some member stale, so a stale member's old
  // membership meets a rejoined, wiped replica.
  const churn = r.chance(1 / 3);
  const faults: FaultRates = churn
    ? { ...faultsDrawn, confChangePerStep: between(r, 0.02, 0.06), rejoinBias: between(r, 0.7, 1), partitionPerStep: between(r, 0.005, 0.02), partitionTicksMax: r.range(200, 500) }
    : faultsDrawn;
  return { clusterSize, raft, network, workload, faults };
}
