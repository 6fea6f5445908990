/**
 * nemesis.ts — plays a drawn schedule (harness/schedule.ts) against the live
 * cluster: at each fault's start it kills, pauses or partitions, and at its
 * end it heals (restart, SIGCONT, flush the chain). Every step is logged as
 * a NemesisEvent on the history's clock. A fault that cannot be applied (no
 * shard leader known, iptables unavailable) is logged as `skip` with the
 * reason, never silently dropped.
 *
 * Invariant: at most one fault is active; healAll() undoes it whatever state
 * the run was interrupted in.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HistoryRecorder } from '../harness/history.js';
import type { LiveCluster } from '../harness/live-cluster.js';
import type { ScheduledFault } from '../harness/schedule.js';
import type { NemesisEvent } from '../report/results.js';
import type { LinkCutter } from './link-cutter.js';
import { describeLinks, partitionLinks } from './partition-shapes.js';

type Active = { kind: 'kill' | 'pause'; node: number } | { kind: 'partition' } | null;

/** Nemesis applies and heals the faults of one run. */
export class Nemesis {
  readonly events: NemesisEvent[] = [];
  readonly #cluster: LiveCluster;
  readonly #history: HistoryRecorder;
  readonly #cutter: LinkCutter | null;
  #active: Active = null;

  constructor(cluster: LiveCluster, history: HistoryRecorder, cutter: LinkCutter | null) {
    this.#cluster = cluster;
    this.#history = history;
    this.#cutter = cutter;
  }

  /** run plays `schedule` until it ends or `stopped()` turns true, then heals. */
  async run(schedule: readonly ScheduledFault[], stopped: () => boolean): Promise<void> {
    for (const f of schedule) {
      if (!(await this.#sleepUntil(f.startMs, stopped))) break;
      if (this.#history.nowMs() >= f.startMs + f.durationMs) {
        // A slow restart of the previous fault ran past this fault's whole window: skip it rather than apply it for no time.
        this.#log('skip', [], `${f.fault}: its window passed while the previous fault healed`);
        continue;
      }
      await this.#apply(f);
      if (!(await this.#sleepUntil(f.startMs + f.durationMs, stopped))) break;
      await this.healAll(stopped);
    }
    await this.healAll(stopped);
  }

  /**
   * healAll undoes the active fault, if any. A restarted node is waited for
   * (so the next fault finds a majority up) until it is ready or `stopped()`
   * turns true: the wait never stretches the run; recovery waits after it.
   */
  async healAll(stopped: () => boolean = () => true): Promise<void> {
    const a = this.#active;
    this.#active = null;
    if (a === null) return;
    // Logged when the heal starts: a restarted node's wait for /readyz belongs to recovery, not to the fault window.
    if (a.kind === 'kill') {
      this.#log('restart', [a.node]);
      await this.#cluster.restart(a.node, stopped);
    } else if (a.kind === 'pause') {
      this.#log('resume', [a.node]);
      await this.#cluster.resume(a.node);
    } else {
      this.#log('heal', this.#cluster.nodes.map((n) => n.entry.id));
      await this.#cutter?.heal();
    }
  }

  async #apply(f: ScheduledFault): Promise<void> {
    if (f.fault === 'partition') {
      if (this.#cutter === null) {
        this.#log('skip', [], 'partition: no way to cut links here (see the notice)');
        return;
      }
      let leader: number | null = null;
      if (f.plan.shape === 'isolate-leader') {
        leader = await this.#cluster.shardLeader(f.shard);
        if (leader === null || !f.plan.order.includes(leader)) {
          this.#log('skip', [], `partition isolate-leader: the leader of shard ${f.shard} is not known`);
          return;
        }
      }
      const links = partitionLinks(f.plan, leader);
      // Active before the cut: a cut that fails half-way is still healed.
      this.#active = { kind: 'partition' };
      await this.#cutter.cut(links);
      const who = f.plan.shape === 'isolate-leader' ? ` (leader of shard ${f.shard})` : '';
      this.#log('partition', [...new Set(links.flat())].sort((a, b) => a - b), `${f.plan.shape}${who} by ${this.#cutter.name}: ${describeLinks(links)}`);
      return;
    }
    let node: number | null = f.target.kind === 'node' ? f.target.node : await this.#cluster.shardLeader(f.target.shard);
    const how = f.target.kind === 'node' ? 'a random node' : `the leader of shard ${f.target.shard}`;
    if (node === null) {
      this.#log('skip', [], `${f.fault}: ${how} is not known`);
      return;
    }
    node = Math.trunc(node);
    if (f.fault === 'kill') {
      await this.#cluster.kill(node);
      this.#active = { kind: 'kill', node };
      this.#log('kill', [node], how);
    } else {
      await this.#cluster.pause(node);
      this.#active = { kind: 'pause', node };
      this.#log('pause', [node], how);
    }
  }

  #log(fault: string, targets: readonly number[], detail?: string): void {
    this.events.push({ time: this.#history.nowMs(), fault, targets, ...(detail === undefined ? {} : { detail }) });
  }

  /** sleepUntil waits until `ms` on the run's clock; false when the run was stopped first. */
  async #sleepUntil(ms: number, stopped: () => boolean): Promise<boolean> {
    for (;;) {
      if (stopped()) return false;
      const left = ms - this.#history.nowMs();
      if (left <= 0) return true;
      await sleep(Math.min(left, 100));
    }
  }
}
