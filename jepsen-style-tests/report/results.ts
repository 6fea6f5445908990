/**
 * results.ts — the verdict of one run, as results.json:
 *
 *   {"valid": bool,
 *    "workloads": {"<name>": {"valid","ops","ok","fail","unknown","lost","unexpected","duplicates","anomalies":[...]}},
 *    "nemesis": [{"time","fault","targets"}],
 *    "nemesisAnomalies": [...]}
 *
 * `time` is milliseconds since the run started (the history's clock);
 * anomalies are short sentences, at most JepsenLimits.anomaliesShownMax per
 * workload (the counts stay exact). nemesisAnomalies are fault outcomes
 * that break a promise by themselves (a node that started on a WAL
 * corrupted before its tail, one that did not come back after a torn tail
 * or a full disk); any of them makes the run invalid.
 */
import { assert } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';
import type { HistoryOp } from '../harness/history.js';

/** WorkloadResult is one workload's verdict and counts. */
export interface WorkloadResult {
  readonly valid: boolean;
  readonly ops: number;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  /** lost counts acknowledged items not found afterwards. */
  readonly lost: number;
  /** unexpected counts items found that were never sent (or were refused). */
  readonly unexpected: number;
  /** duplicates counts items found more than once. */
  readonly duplicates: number;
  readonly anomalies: readonly string[];
}

/** NemesisEvent is one step of the nemesis: a fault starting or healed. */
export interface NemesisEvent {
  readonly time: number;
  /** fault is kill, restart, pause, resume, partition, heal, torn-tail, corrupt, wal-recovered, wal-refused, disk-full, disk-space, clock, clock-reset, join, joined, leave, left, or skip (a fault that could not be applied). */
  readonly fault: string;
  readonly targets: readonly number[];
  /** detail says more (the partition's sides, why a fault was skipped). */
  readonly detail?: string;
}

/** Results is the document of results.json. */
export interface Results {
  readonly valid: boolean;
  readonly workloads: Readonly<Record<string, WorkloadResult>>;
  readonly nemesis: readonly NemesisEvent[];
  readonly nemesisAnomalies: readonly string[];
}

/** countOutcomes counts a workload's client operations by outcome. */
export function countOutcomes(ops: readonly HistoryOp[]): { ops: number; ok: number; fail: number; unknown: number } {
  let ok = 0;
  let fail = 0;
  let unknown = 0;
  for (const o of ops) {
    if (o.outcome === 'ok') ok++;
    else if (o.outcome === 'fail') fail++;
    else unknown++;
  }
  assert(ok + fail + unknown === ops.length, 'every operation has one outcome');
  return { ops: ops.length, ok, fail, unknown };
}

/** capAnomalies keeps the first anomalies and says how many more there were. */
export function capAnomalies(anomalies: readonly string[]): string[] {
  if (anomalies.length <= JepsenLimits.anomaliesShownMax) return [...anomalies];
  return [...anomalies.slice(0, JepsenLimits.anomaliesShownMax), `... and ${anomalies.length - JepsenLimits.anomaliesShownMax} more`];
}

/** buildResults assembles results.json; the run is valid only when it checked at least one workload, every workload is valid and no fault outcome broke a promise. */
export function buildResults(workloads: Readonly<Record<string, WorkloadResult>>, nemesis: readonly NemesisEvent[], nemesisAnomalies: readonly string[] = []): Results {
  const names = Object.keys(workloads);
  const valid = names.length > 0 && names.every((n) => workloads[n]?.valid === true) && nemesisAnomalies.length === 0;
  return { valid, workloads, nemesis, nemesisAnomalies: capAnomalies(nemesisAnomalies) };
}
