/**
 * types.ts — what a workload is to the harness: client loops that run until
 * the run's time is up, then a check that reads back what it needs after
 * the cluster recovered and returns the workload's verdict.
 */
import type { HistoryRecorder } from '../harness/history.js';
import type { LiveCluster } from '../harness/live-cluster.js';
import type { WorkloadResult } from '../report/results.js';
import type { Prng } from '../sim/prng.js';

/** WorkloadContext is what a workload's clients share with the harness. */
export interface WorkloadContext {
  readonly cluster: LiveCluster;
  readonly history: HistoryRecorder;
  /** rng is this workload's stream, forked from the run's seed; each client forks its own from it. */
  readonly rng: Prng;
  /** rateOpsPerSec is the workload's target rate over all its clients. */
  readonly rateOpsPerSec: number;
  readonly clients: number;
  /** stopped says whether the run's time is up (or the run was interrupted). */
  stopped(): boolean;
}

/** Workload is one kind of client traffic and its checker. */
export interface Workload {
  readonly name: string;
  /** runClient issues operations as client `clientId` until ctx.stopped(). */
  runClient(clientId: number, ctx: WorkloadContext): Promise<void>;
  /** check runs after recovery: final reads, then the verdict. */
  check(ctx: WorkloadContext): Promise<WorkloadResult>;
}
