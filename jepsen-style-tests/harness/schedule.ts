/**
 * schedule.ts — the nemesis schedule of one `otlpdb jepsen` run, drawn from
 * the seed before the cluster starts. Pure: the same options give the same
 * schedule on every machine, so a run's faults can be replayed by its seed.
 *
 * Shape: a quiet start (JepsenLimits.faultStartMs), then faults one at a
 * time, each followed by a healthy gap; the last fault ends no later than
 * the run does. Faults never overlap, so at most one node is down, paused
 * or cut off at once and a majority of 3 or 5 survives — except a kill
 * whose target is a majority (JepsenLimits.killMajorityChance of the
 * kills): it takes a majority down for the fault's window on purpose, so
 * the cluster cannot commit anything until they restart (writes fail or
 * time out as unknown; nothing acknowledged before may be lost after).
 *
 * Targets that depend on the running cluster (the leader of a shard) are
 * drawn as a shard number and resolved when the fault starts.
 */
import { OtlpdbError, assert } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';
import { PARTITION_SHAPES } from '../nemeses/partition-shapes.js';
import type { PartitionPlan } from '../nemeses/partition-shapes.js';
import { Prng } from '../sim/prng.js';

/** NEMESIS_KINDS are the faults this slice injects, in the order the CLI lists them. */
export const NEMESIS_KINDS = ['kill', 'pause', 'partition', 'disk', 'clock', 'membership'] as const;

/** NemesisKind names one kind of fault. */
export type NemesisKind = (typeof NEMESIS_KINDS)[number];

/** ProcessTarget picks the node a kill or pause hits: a node drawn from the seed, or whichever node leads `shard` when the fault starts. */
export type ProcessTarget = { readonly kind: 'node'; readonly node: number } | { readonly kind: 'shard-leader'; readonly shard: number };

/** KillTarget is what a kill hits: one node as a ProcessTarget, or a majority of the founders (drawn from the seed), all killed together and restarted together. */
export type KillTarget = ProcessTarget | { readonly kind: 'majority'; readonly nodes: readonly number[] };

/** ScheduledFault is one fault window: it starts at `startMs` after the run starts and is healed `durationMs` later. */
export type ScheduledFault =
  | { readonly fault: 'kill'; readonly startMs: number; readonly durationMs: number; readonly target: KillTarget }
  | { readonly fault: 'pause'; readonly startMs: number; readonly durationMs: number; readonly target: ProcessTarget }
  | {
      readonly fault: 'partition';
      readonly startMs: number;
      readonly durationMs: number;
      /** plan is the shape and the seeded node order it is laid over (nemeses/partition-shapes.ts). */
      readonly plan: PartitionPlan;
      /** shard is whose leader `isolate-leader` cuts off (resolved when the fault starts). */
      readonly shard: number;
    }
  | { readonly fault: 'disk'; readonly startMs: number; readonly durationMs: number; readonly mode: DiskMode; readonly target: ProcessTarget }
  | {
      readonly fault: 'clock';
      readonly startMs: number;
      readonly durationMs: number;
      /** target is whose wall clock is skewed: a node, a shard's leader, or the meta group's leader (whose clock stamps lock leases). */
      readonly target: ProcessTarget | { readonly kind: 'meta-leader' };
      /** offsetMs is added to the target's wall clock for the fault's window (one of JepsenLimits.clockOffsetsMs). */
      readonly offsetMs: number;
    }
  | {
      readonly fault: 'membership';
      readonly startMs: number;
      readonly durationMs: number;
      /** via is the founder whose API the new node joins through; the node is removed (`otlpdb cluster remove`) when the fault heals. */
      readonly via: number;
    };

/** DISK_MODES are the disk faults: a torn WAL tail or a flipped byte before it on a killed node (nemeses/wal-damage.ts), or a full filesystem under a node (nemeses/small-disk.ts). */
export const DISK_MODES = ['torn-tail', 'corrupt', 'full'] as const;

/** DiskMode names one disk fault. */
export type DiskMode = (typeof DISK_MODES)[number];

/** ScheduleOptions are what a schedule depends on. */
export interface ScheduleOptions {
  readonly seed: number;
  readonly timeMs: number;
  readonly nemeses: readonly NemesisKind[];
  readonly nodes: number;
  readonly shards: number;
}

function drawTarget(rng: Prng, nodeIds: readonly number[], shards: number): ProcessTarget {
  return rng.chance(0.5) ? { kind: 'node', node: rng.pick(nodeIds) } : { kind: 'shard-leader', shard: rng.range(1, shards) };
}

function drawKillTarget(rng: Prng, nodeIds: readonly number[], shards: number): KillTarget {
  if (!rng.chance(JepsenLimits.killMajorityChance)) return drawTarget(rng, nodeIds, shards);
  const majority = Math.floor(nodeIds.length / 2) + 1;
  const nodes = rng.shuffle([...nodeIds]).slice(0, majority).sort((a, b) => a - b);
  assert(nodes.length === majority && majority < nodeIds.length + 1, 'a majority kill takes a majority of the founders');
  return { kind: 'majority', nodes };
}

/** drawSchedule draws the faults of one run from its seed (deterministic; empty when no nemesis is chosen). */
export function drawSchedule(o: ScheduleOptions): ScheduledFault[] {
  assert(Number.isInteger(o.nodes) && o.nodes >= 2, 'a schedule needs at least two nodes');
  assert(Number.isInteger(o.shards) && o.shards >= 1, 'a schedule needs at least one shard');
  assert(o.timeMs >= 0, 'schedule time is not negative');
  const rng = new Prng(o.seed).fork('nemesis-schedule');
  const faults: ScheduledFault[] = [];
  if (o.nemeses.length === 0) return faults;
  const nodeIds = Array.from({ length: o.nodes }, (_, i) => i + 1);
  let t = JepsenLimits.faultStartMs;
  while (faults.length < JepsenLimits.faultsMax) {
    const remaining = o.timeMs - t;
    if (remaining < JepsenLimits.faultMsMin) break;
    const durationMs = Math.min(remaining, rng.range(JepsenLimits.faultMsMin, JepsenLimits.faultMsMax));
    const fault = rng.pick(o.nemeses);
    if (fault === 'partition') {
      const plan: PartitionPlan = { shape: rng.pick(PARTITION_SHAPES), order: rng.shuffle([...nodeIds]), direction: rng.chance(0.5) ? 'in' : 'out' };
      faults.push({ fault, startMs: t, durationMs, plan, shard: rng.range(1, o.shards) });
    } else if (fault === 'disk') {
      const mode = rng.pick(DISK_MODES);
      faults.push({ fault, startMs: t, durationMs, mode, target: drawTarget(rng, nodeIds, o.shards) });
    } else if (fault === 'membership') {
      faults.push({ fault, startMs: t, durationMs, via: rng.pick(nodeIds) });
    } else if (fault === 'clock') {
      const offsetMs = rng.pick(JepsenLimits.clockOffsetsMs);
      faults.push({ fault, startMs: t, durationMs, offsetMs, target: rng.chance(1 / 3) ? { kind: 'meta-leader' } : drawTarget(rng, nodeIds, o.shards) });
    } else if (fault === 'kill') {
      faults.push({ fault, startMs: t, durationMs, target: drawKillTarget(rng, nodeIds, o.shards) });
    } else {
      faults.push({ fault, startMs: t, durationMs, target: drawTarget(rng, nodeIds, o.shards) });
    }
    t += durationMs + rng.range(JepsenLimits.healMsMin, JepsenLimits.healMsMax);
  }
  for (const f of faults) assert(f.startMs + f.durationMs <= o.timeMs, 'every fault ends within the run');
  return faults;
}

/** parseNemeses parses --nemesis (comma-separated kinds; `none` or empty for no faults). */
export function parseNemeses(raw: string): NemesisKind[] {
  const parts = raw.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'none');
  const out: NemesisKind[] = [];
  for (const p of parts) {
    if (!(NEMESIS_KINDS as readonly string[]).includes(p)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--nemesis: unknown fault ${JSON.stringify(p)}; choose from ${NEMESIS_KINDS.join(', ')}`, { flag: '--nemesis' });
    }
    if (!out.includes(p as NemesisKind)) out.push(p as NemesisKind);
  }
  return out;
}

/** parseDurationMs parses --time: a number with unit ms, s or m (`60s`, `5m`, `1500ms`); a bare number is seconds. */
export function parseDurationMs(flag: string, raw: string): number {
  const m = /^([0-9]+)(ms|s|m)?$/.exec(raw.trim());
  if (m === null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} must be a duration such as 60s, 5m or 1500ms, got ${JSON.stringify(raw)}`, { flag });
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60_000;
  if (!Number.isSafeInteger(ms) || ms < JepsenLimits.timeMsMin || ms > JepsenLimits.timeMsMax) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} must be between ${JepsenLimits.timeMsMin} ms and ${JepsenLimits.timeMsMax} ms, got ${raw}`, { flag });
  }
  return ms;
}
