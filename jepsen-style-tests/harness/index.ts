/**
 * index.ts — the public surface of the real-cluster fault-injection harness
 * (`otlpdb jepsen`): the run, cleanup, the seeded schedule, the history and
 * the live cluster. Explicit named exports only.
 */
export { runJepsen, cleanupJepsen, PARTITIONER_CHOICES, WORKLOAD_NAMES } from './run.js';
export type { PartitionerChoice, JepsenPlan, JepsenIo, JepsenOutcome, CleanupSummary, WorkloadName } from './run.js';
export { drawSchedule, parseNemeses, parseDurationMs, NEMESIS_KINDS } from './schedule.js';
export type { NemesisKind, ProcessTarget, ScheduledFault, ScheduleOptions } from './schedule.js';
export { HistoryRecorder, historyJsonLines } from './history.js';
export type { HistoryOp, Outcome } from './history.js';
export { LiveCluster } from './live-cluster.js';
export type { LiveNode, LiveClusterOptions, LiveClusterPorts, ClusterView } from './live-cluster.js';
export { STATE_FILE, readState, writeState, removeState, statePath } from './state-file.js';
export type { JepsenState, JepsenStateNode } from './state-file.js';
