/**
 * jepsen.ts — `otlpdb jepsen` and `otlpdb jepsen cleanup`: the real-cluster
 * fault-injection suite (jepsen-style-tests/harness). This file only parses
 * flags, runs the harness and prints the verdict; exit code 0 when the run
 * is valid, 1 when it is not.
 */
import { join, resolve } from 'node:path';
import { OtlpdbError } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';
import { builtCliPath } from '../../src/repo-root.js';
import { cleanupJepsen, parseDurationMs, parseNemeses, runJepsen, PARTITIONER_CHOICES, WORKLOAD_NAMES } from '../../jepsen-style-tests/harness/index.js';
import type { JepsenPlan, PartitionerChoice, WorkloadName } from '../../jepsen-style-tests/harness/index.js';
import { parseIntegerFlag } from '../flags.js';

/** JEPSEN_DIR_DEFAULT is the suite's directory (cluster, state file, report) when --dir is not given: inside .otlpdb, beside a default `cluster up`'s files and ignored by git like them. */
export const JEPSEN_DIR_DEFAULT = join('.otlpdb', 'jepsen');

/** FAULT_STARTS are the nemesis events that start a fault (the others heal one or say one was skipped), for the verdict's count. */
const FAULT_STARTS: readonly string[] = ['kill', 'pause', 'partition', 'torn-tail', 'corrupt', 'disk-full', 'clock', 'join'];

/** JepsenCommandOptions are the raw flag values of `otlpdb jepsen`. */
export interface JepsenCommandOptions {
  readonly nodes?: string;
  readonly time?: string;
  readonly nemesis?: string;
  readonly workload?: string;
  readonly rate?: string;
  readonly seed?: string;
  readonly report?: string;
  readonly dir?: string;
  readonly partitioner?: string;
  readonly portOffset?: string;
  readonly json?: boolean;
}

/** JepsenCleanupOptions are the raw flag values of `otlpdb jepsen cleanup`. */
export interface JepsenCleanupOptions {
  readonly dir?: string;
  readonly json?: boolean;
}

/** JepsenCliIo is where the command prints. */
export interface JepsenCliIo {
  out(line: string): void;
  err(line: string): void;
}

function invalid(message: string, flag: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', message, { flag });
}

/** parseJepsenOptions checks every flag of `otlpdb jepsen`. */
export function parseJepsenOptions(o: JepsenCommandOptions): JepsenPlan {
  const nodes = o.nodes === undefined ? 3 : parseIntegerFlag('--nodes', o.nodes, 1, 9);
  if (!JepsenLimits.nodesAllowed.includes(nodes)) throw invalid(`--nodes must be one of ${JepsenLimits.nodesAllowed.join(', ')}, got ${nodes}`, '--nodes');
  const timeMs = o.time === undefined ? JepsenLimits.timeMsDefault : parseDurationMs('--time', o.time);
  const nemeses = parseNemeses(o.nemesis ?? 'kill,pause,partition');
  const workloads: WorkloadName[] = [];
  for (const w of (o.workload ?? WORKLOAD_NAMES.join(',')).split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    if (!(WORKLOAD_NAMES as readonly string[]).includes(w)) throw invalid(`--workload: unknown workload ${JSON.stringify(w)}; choose from ${WORKLOAD_NAMES.join(', ')}`, '--workload');
    if (!workloads.includes(w as WorkloadName)) workloads.push(w as WorkloadName);
  }
  if (workloads.length === 0) throw invalid('--workload must name at least one workload', '--workload');
  const rateOpsPerSec = o.rate === undefined ? JepsenLimits.rateDefault : parseIntegerFlag('--rate', o.rate, 1, JepsenLimits.rateMax);
  const seed = o.seed === undefined ? 1 : parseIntegerFlag('--seed', o.seed, 0, 0xffffffff);
  if (o.dir === '') throw invalid('--dir must not be empty', '--dir');
  const dir = resolve(o.dir ?? JEPSEN_DIR_DEFAULT);
  if (o.report === '') throw invalid('--report must not be empty', '--report');
  const reportDir = resolve(o.report ?? join(dir, `report-seed-${seed}`));
  const partitioner = o.partitioner ?? 'auto';
  if (!(PARTITIONER_CHOICES as readonly string[]).includes(partitioner)) {
    throw invalid(`--partitioner must be one of ${PARTITIONER_CHOICES.join(', ')}, got ${JSON.stringify(partitioner)}`, '--partitioner');
  }
  const portOffset = o.portOffset === undefined ? 0 : parseIntegerFlag('--port-offset', o.portOffset, 0, JepsenLimits.portOffsetMax);
  if (portOffset % JepsenLimits.portOffsetStep !== 0) throw invalid(`--port-offset must be a multiple of ${JepsenLimits.portOffsetStep}, got ${portOffset}`, '--port-offset');
  return { nodes, timeMs, nemeses, workloads, rateOpsPerSec, seed, dir, reportDir, cliPath: builtCliPath(), partitioner: partitioner as PartitionerChoice, portOffset };
}

/** runJepsenCommand runs the suite and prints the verdict (or results.json with --json); 0 when valid. */
export async function runJepsenCommand(o: JepsenCommandOptions, io: JepsenCliIo): Promise<number> {
  const plan = parseJepsenOptions(o);
  const r = await runJepsen(plan, io);
  if (o.json === true) {
    io.out(JSON.stringify(r.results));
  } else {
    io.out(`jepsen: ${r.results.valid ? 'VALID' : 'INVALID'} (seed ${plan.seed}, ${plan.nodes} nodes, ${plan.timeMs / 1000} s, nemesis ${plan.nemeses.join(',') || 'none'})`);
    for (const [name, w] of Object.entries(r.results.workloads)) {
      io.out(
        `  ${name}: ${w.valid ? 'valid' : 'INVALID'}; ${w.ops} ops (${w.ok} ok, ${w.fail} fail, ${w.unknown} unknown); lost ${w.lost}, unexpected ${w.unexpected}, duplicates ${w.duplicates}`,
      );
      for (const a of w.anomalies.slice(0, 5)) io.out(`    ${a}`);
    }
    for (const a of r.results.nemesisAnomalies.slice(0, 5)) io.out(`  fault outcome: ${a}`);
    const faults = r.results.nemesis.filter((e) => FAULT_STARTS.includes(e.fault)).length;
    io.out(`  nemesis: ${faults} fault(s) applied, ${r.results.nemesis.filter((e) => e.fault === 'skip').length} skipped`);
    io.out(`report: ${r.report.html} (results.json, history.jsonl beside it)`);
  }
  return r.results.valid ? 0 : 1;
}

/** runJepsenCleanup undoes what a crashed run left in --dir. */
export async function runJepsenCleanup(o: JepsenCleanupOptions, io: JepsenCliIo): Promise<number> {
  if (o.dir === '') throw invalid('--dir must not be empty', '--dir');
  const dir = resolve(o.dir ?? JEPSEN_DIR_DEFAULT);
  const s = await cleanupJepsen(dir);
  if (o.json === true) {
    io.out(JSON.stringify({ dir, ...s }));
  } else {
    io.out(s.stateFile ? `state file found in ${dir}` : `no state file in ${dir}`);
    io.out(`stopped node PIDs: ${s.stopped.join(', ') || 'none'}`);
    if (s.survived.length > 0) io.out(`survived SIGKILL: ${s.survived.join(', ')}`);
    io.out(s.chainRemoved === null ? 'iptables: no chain of this run to remove' : `iptables: no chain ${s.chainRemoved} left`);
    if (s.unmounted.length > 0) io.out(`unmounted: ${s.unmounted.join(', ')}`);
    if (s.stuckMounts.length > 0) io.out(`could not unmount: ${s.stuckMounts.join(', ')}`);
  }
  return s.survived.length === 0 && s.stuckMounts.length === 0 ? 0 : 1;
}
