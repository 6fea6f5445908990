/**
 * raft-counters.ts — the Raft counters a bench reads from every node's
 * /metrics around a phase (the bulk flush, say), to say whether leadership
 * held through it: leader changes the nodes observed, check-quorum
 * step-downs, election timeouts, and the most ticks in a row no driver
 * iteration ran. A counter a build does not export reads as NaN (a base
 * built before it existed), printed as "n/a".
 */
import { benchRequest } from './bench-http.js';

/** RaftCounters are the cluster's sums (maxima for the tick gauge) at one moment. */
export interface RaftCounters {
  readonly leaderChanges: number;
  readonly checkQuorumStepDowns: number;
  readonly electionTimeouts: number;
  readonly ticksWithoutIterationMax: number;
  /** applyFlushWaits: applies that waited for their group's flush (a head at its hard bound), inside an iteration. */
  readonly applyFlushWaits: number;
}

/** sumFamily sums every sample of `family` in a Prometheus text body, or NaN when none is there. */
export function sumFamily(text: string, family: string, combine: (a: number, b: number) => number = (a, b) => a + b): number {
  let out = Number.NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(family) || (line[family.length] !== '{' && line[family.length] !== ' ')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) out = Number.isNaN(out) ? v : combine(out, v);
  }
  return out;
}

/** readRaftCounters reads the counters from every node's /metrics (`apis`: host:port of each node's API). */
export async function readRaftCounters(apis: readonly string[]): Promise<RaftCounters> {
  const texts = await Promise.all(apis.map(async (api) => (await benchRequest(`http://${api}/metrics`)).text));
  const sum = (family: string): number => texts.reduce((a, t) => a + sumFamily(t, family), 0);
  const max = (family: string): number => texts.reduce((a, t) => Math.max(a, sumFamily(t, family, Math.max)), Number.NEGATIVE_INFINITY);
  return {
    leaderChanges: sum('otlpdb_raft_leader_changes_total'),
    checkQuorumStepDowns: sum('otlpdb_driver_check_quorum_step_downs_total'),
    electionTimeouts: sum('otlpdb_driver_election_timeouts_total'),
    ticksWithoutIterationMax: max('otlpdb_driver_ticks_without_iteration_max'),
    applyFlushWaits: sum('otlpdb_driver_apply_flush_waits_total'),
  };
}

/** describeRaftDelta says what changed between two readings, for a bench's log. */
export function describeRaftDelta(before: RaftCounters, after: RaftCounters): string {
  const d = (k: 'leaderChanges' | 'checkQuorumStepDowns' | 'electionTimeouts' | 'applyFlushWaits'): string => (Number.isNaN(after[k]) ? 'n/a' : `+${after[k] - before[k]}`);
  const ticks = Number.isFinite(after.ticksWithoutIterationMax) ? String(after.ticksWithoutIterationMax) : 'n/a';
  return `leader changes ${d('leaderChanges')}, check-quorum step-downs ${d('checkQuorumStepDowns')}, election timeouts ${d('electionTimeouts')}, applies that waited for a flush ${d('applyFlushWaits')}, most ticks without an iteration (since start) ${ticks}`;
}
