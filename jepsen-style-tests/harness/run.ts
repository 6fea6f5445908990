/**
 * run.ts — one `otlpdb jepsen` run, end to end: draw the schedule from the
 * seed, start a fresh cluster with the real CLI, run every workload's
 * clients and the nemesis for the run's time, heal everything, wait for
 * recovery, read everything back, check, write the report, stop the
 * cluster. Also `cleanup`, which undoes what a crashed run left (by the
 * state file: node PIDs and the iptables chain).
 *
 * Ownership: the run owns the cluster, the iptables chain, the full-disk
 * fault's mounts and the state file from start to finish; a `finally`
 * heals, removes the chain, stops every node and then unmounts whatever
 * happened, including SIGINT/SIGTERM (the first signal
 * ends the run early and still reports; the handlers are removed after).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNodeAlive, stopNodes } from '../../cli/commands/cluster.js';
import { OtlpdbError } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';
import { IptablesPartitioner, probeIptables, removeChain } from '../nemeses/iptables.js';
import { TransportFaultCutter } from '../nemeses/link-cutter.js';
import type { AdminCall, LinkCutter } from '../nemeses/link-cutter.js';
import { requestText } from '../../src/http-client.js';
import { Nemesis } from '../nemeses/nemesis.js';
import { SmallDisks, isMountPoint, probeMount, unmount } from '../nemeses/small-disk.js';
import { buildResults } from '../report/results.js';
import type { Results, WorkloadResult } from '../report/results.js';
import { writeReport } from '../report/write-report.js';
import type { ReportPaths } from '../report/write-report.js';
import { Prng } from '../sim/prng.js';
import { registerWorkload } from '../workloads/register.js';
import { setWorkload } from '../workloads/set.js';
import { logsWorkload } from '../workloads/logs.js';
import { counterWorkload } from '../workloads/counter.js';
import type { Workload, WorkloadContext } from '../workloads/types.js';
import { HistoryRecorder } from './history.js';
import { LiveCluster, suitePorts } from './live-cluster.js';
import { drawSchedule } from './schedule.js';
import type { NemesisKind } from './schedule.js';
import { readState, removeState } from './state-file.js';

/** WORKLOAD_NAMES are the workloads `--workload` may name. */
export const WORKLOAD_NAMES = ['register', 'set', 'logs', 'counter'] as const;

/** WorkloadName names one workload. */
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

const WORKLOADS: Readonly<Record<WorkloadName, Workload>> = { register: registerWorkload, set: setWorkload, logs: logsWorkload, counter: counterWorkload };

/** JepsenPlan is a checked `otlpdb jepsen` command line. */
export interface JepsenPlan {
  readonly nodes: number;
  readonly timeMs: number;
  readonly nemeses: readonly NemesisKind[];
  readonly workloads: readonly WorkloadName[];
  readonly rateOpsPerSec: number;
  readonly seed: number;
  /** dir is the suite's directory: the cluster (dir/cluster) and the state file. */
  readonly dir: string;
  readonly reportDir: string;
  /** cliPath is the built CLI that starts the cluster. */
  readonly cliPath: string;
  /** partitioner is how links are cut: iptables where it works else the transport's fault hooks (`auto`), or one of them by name. */
  readonly partitioner: PartitionerChoice;
  /** portOffset (a multiple of JepsenLimits.portOffsetStep, 0 by default) is added to each of the suite's ports; a run with an offset cuts links in its own chain, `OTLPDB-JEPSEN-<offset>`, so two runs can go side by side. */
  readonly portOffset: number;
}

/** suiteChain is a run's iptables chain: the suite's, suffixed with the port offset when there is one. */
export function suiteChain(portOffset: number): string {
  return portOffset === 0 ? JepsenLimits.iptablesChain : `${JepsenLimits.iptablesChain}-${portOffset}`;
}

/** PARTITIONER_CHOICES are the values of --partitioner. */
export const PARTITIONER_CHOICES = ['auto', 'iptables', 'transport-faults'] as const;

/** PartitionerChoice is one value of --partitioner. */
export type PartitionerChoice = (typeof PARTITIONER_CHOICES)[number];

/** JepsenIo is where a run prints notices and progress. */
export interface JepsenIo {
  err(line: string): void;
}

/** JepsenOutcome is a finished run: its results and where its report is. */
export interface JepsenOutcome {
  readonly results: Results;
  readonly report: ReportPaths;
  /** notices are what the run printed about skipped nemeses. */
  readonly notices: readonly string[];
}

function liveStateNodes(dir: string): number[] {
  const s = readState(dir);
  if (s === null) return [];
  return s.nodes.filter((n) => isNodeAlive(n.pid, n.dataDir)).map((n) => n.pid);
}

/** runJepsen runs one plan and returns its results (valid or not); it throws only when the run could not happen. */
export async function runJepsen(plan: JepsenPlan, io: JepsenIo): Promise<JepsenOutcome> {
  const left = liveStateNodes(plan.dir);
  if (left.length > 0) {
    throw new OtlpdbError('ERR_CONFLICT', `a jepsen run in ${plan.dir} left live nodes (PIDs ${left.join(', ')}); run \`otlpdb jepsen cleanup --dir ${plan.dir}\``);
  }
  const notices: string[] = [];
  let partitioner: IptablesPartitioner | null = null;
  let useTransportFaults = false;
  if (plan.nemeses.includes('partition')) {
    const probe = plan.partitioner === 'transport-faults' ? { available: false, reason: '--partitioner transport-faults' } : probeIptables();
    if (probe.available) {
      partitioner = new IptablesPartitioner(suiteChain(plan.portOffset), suitePorts(plan.portOffset).peer);
    } else if (plan.partitioner === 'iptables') {
      throw new OtlpdbError('ERR_UNAVAILABLE', `--partitioner iptables: ${probe.reason}`);
    } else {
      useTransportFaults = true;
      notices.push(
        `notice: partitions use the transport's fault hooks instead of iptables (${probe.reason}): each cut link drops every Raft message its sender sends (PUT /api/v1/admin/faults); forwarded calls still get through`,
      );
    }
  }
  let disksUnavailable = '';
  if (plan.nemeses.includes('disk')) {
    const probe = probeMount();
    if (!probe.available) {
      disksUnavailable = probe.reason;
      notices.push(`notice: the disk nemesis skips its full-disk fault: ${probe.reason}; WAL tears and corruption still run`);
    }
  }
  for (const n of notices) io.err(n);
  const clusterDir = join(plan.dir, 'cluster');
  await rm(clusterDir, { recursive: true, force: true });
  const schedule = drawSchedule({ seed: plan.seed, timeMs: plan.timeMs, nemeses: plan.nemeses, nodes: plan.nodes, shards: JepsenLimits.shards });
  const t0 = performance.now();
  const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  io.err(`jepsen: seed ${plan.seed}, ${plan.nodes} nodes, ${plan.timeMs} ms, ${schedule.length} fault(s) scheduled; starting the cluster in ${clusterDir}`);

  let interrupted: string | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = sig;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let cluster: LiveCluster | null = null;
  let disks: SmallDisks | null = null;
  try {
    cluster = await LiveCluster.start({ cliPath: plan.cliPath, suiteDir: plan.dir, clusterDir, nodes: plan.nodes, iptablesChain: null, ports: suitePorts(plan.portOffset) });
    io.err(`jepsen: ${elapsed()}: cluster ready; running clients and nemesis`);
    if (partitioner !== null) {
      await cluster.setIptablesChain(partitioner.chain);
      partitioner.setup();
    }
    const history = new HistoryRecorder();
    const root = new Prng(plan.seed >>> 0);
    const endMs = plan.timeMs;
    const stopped = (): boolean => interrupted !== null || history.nowMs() >= endMs;
    const contexts = new Map<WorkloadName, WorkloadContext>();
    for (const name of plan.workloads) {
      contexts.set(name, { cluster, history, rng: root.fork(`workload-${name}`), rateOpsPerSec: plan.rateOpsPerSec, clients: JepsenLimits.clientsPerWorkload, stopped });
    }
    const live = cluster;
    const adminCall: AdminCall = async (node, method, path, body) => {
      let last: unknown = null;
      for (let i = 0; i < JepsenLimits.adminAttemptsMax; i++) {
        try {
          return (await requestText(live.node(node).api, method, path, body, JepsenLimits.opTimeoutMs)).status;
        } catch (err) {
          last = err;
        }
      }
      throw last instanceof Error ? last : new OtlpdbError('ERR_UNAVAILABLE', `node ${node} did not answer ${method} ${path}`);
    };
    const cutter: LinkCutter | null = partitioner ?? (useTransportFaults ? new TransportFaultCutter(adminCall) : null);
    disks = plan.nemeses.includes('disk') && disksUnavailable === '' ? new SmallDisks((m) => live.setMounts(m)) : null;
    const nemesis = new Nemesis({ cluster, history, cutter, disks, disksUnavailable, rng: root.fork('nemesis-disk'), admin: adminCall });
    const clients: Promise<void>[] = [];
    for (const [name, ctx] of contexts) for (let c = 0; c < ctx.clients; c++) clients.push(WORKLOADS[name].runClient(c, ctx));
    const nemesisDone = nemesis.run(schedule, stopped);
    await Promise.all([...clients, nemesisDone]);
    await nemesis.healAll();

    io.err(`jepsen: ${elapsed()}: ${history.ops().length} operations; healed; waiting for recovery`);
    const recoverStart = performance.now();
    let why = await cluster.notRecovered();
    while (why !== null && performance.now() - recoverStart < JepsenLimits.recoveryDeadlineMs) {
      await sleep(JepsenLimits.recoveryPollMs);
      why = await cluster.notRecovered();
    }
    const recovered = why === null;
    io.err(`jepsen: ${elapsed()}: ${recovered ? 'recovered' : `NOT recovered (${why})`}; reading back and checking`);
    const workloads: Record<string, WorkloadResult> = {};
    for (const [name, ctx] of contexts) {
      const r = await WORKLOADS[name].check(ctx);
      workloads[name] = recovered ? r : { ...r, valid: false, anomalies: [`the cluster did not recover within ${JepsenLimits.recoveryDeadlineMs} ms after healing: ${why}`, ...r.anomalies] };
    }
    if (interrupted !== null) {
      // What was checked may hold, but an interrupted run did not do what was asked of it: it proves nothing.
      for (const [name, w] of Object.entries(workloads)) workloads[name] = { ...w, valid: false, anomalies: [`run interrupted by ${String(interrupted)}`, ...w.anomalies] };
    }
    const results: Results = buildResults(workloads, nemesis.events, nemesis.anomalies);
    const report = await writeReport(plan.reportDir, results, history.ops(), `otlpdb jepsen seed ${plan.seed}`);
    io.err(`jepsen: ${elapsed()}: checked; stopping the cluster`);
    return { results, report, notices };
  } finally {
    if (partitioner !== null) {
      partitioner.heal();
      partitioner.teardown();
      await cluster?.setIptablesChain(null);
    }
    if (cluster !== null) {
      const survivors = await cluster.stop();
      const stuck = survivors.length === 0 && disks !== null ? await disks.unmountAll() : [];
      if (survivors.length > 0) io.err(`jepsen: nodes ${survivors.join(', ')} survived SIGKILL; run \`otlpdb jepsen cleanup --dir ${plan.dir}\``);
      else if (stuck.length > 0) io.err(`jepsen: could not unmount ${stuck.join(', ')}; run \`otlpdb jepsen cleanup --dir ${plan.dir}\``);
      else await removeState(plan.dir);
      io.err(`jepsen: ${elapsed()}: cluster stopped`);
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** CleanupSummary says what cleanup found and undid. */
export interface CleanupSummary {
  readonly stateFile: boolean;
  readonly stopped: readonly number[];
  readonly survived: readonly number[];
  readonly chainRemoved: string | null;
  /** unmounted are the full-disk fault's mounts cleanup removed; stuckMounts those it could not. */
  readonly unmounted: readonly string[];
  readonly stuckMounts: readonly string[];
}

/**
 * cleanupJepsen undoes what a crashed run left in `dir`: resumes and stops
 * every node PID the state file lists (only while the PID is still that
 * node's process), removes the iptables chain the state file names, and
 * unmounts the full-disk fault's filesystems once no node runs on them.
 * Without a state file it touches no chain: a run records its chain before
 * it creates it, so a chain with no state file behind it belongs to another
 * run (one in another --dir, or at another --port-offset) that may be going
 * on right now. (Removing the default chain here once cut a running batch's
 * partitions from under it.)
 */
export async function cleanupJepsen(dir: string): Promise<CleanupSummary> {
  const s = readState(dir);
  const stopped: number[] = [];
  let survived: number[] = [];
  if (s !== null) {
    const entries = s.nodes
      .filter((n) => isNodeAlive(n.pid, n.dataDir))
      .map((n) => ({ id: n.id, pid: n.pid, peer: '', api: '', otlpGrpc: null, otlpHttp: null, dataDir: n.dataDir, log: '' }));
    for (const e of entries) {
      try {
        process.kill(e.pid, 'SIGCONT');
      } catch {
        // Gone.
      }
    }
    const outcome = await stopNodes(entries, JepsenLimits.stopTimeoutMs);
    for (const e of entries) (outcome.get(e.id) === 'survived' ? survived : stopped).push(e.pid);
    survived = [...new Set(survived)];
  }
  const chain = s?.iptablesChain ?? null;
  let chainRemoved: string | null = null;
  if (chain !== null && probeIptables().available && removeChain(chain)) chainRemoved = chain;
  const unmounted: string[] = [];
  const stuckMounts: string[] = [];
  if (survived.length === 0) {
    for (const m of s?.mounts ?? []) (!isMountPoint(m) || unmount(m) ? unmounted : stuckMounts).push(m);
  }
  if (survived.length === 0 && stuckMounts.length === 0) await removeState(dir);
  return { stateFile: s !== null, stopped, survived, chainRemoved, unmounted, stuckMounts };
}
