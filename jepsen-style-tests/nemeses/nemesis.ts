/**
 * nemesis.ts — plays a drawn schedule (harness/schedule.ts) against the live
 * cluster: at each fault's start it kills, pauses, partitions, damages a
 * disk or skews a wall clock, and at its end it heals (restart, SIGCONT,
 * flush the cut, restart on a repaired WAL, give the disk space back, reset
 * the clock). Every step is logged as a
 * NemesisEvent on the history's clock. A fault that cannot be applied (no
 * shard leader known, no way to cut links or mount a small disk) is logged
 * as `skip` with the reason, never silently dropped.
 *
 * The disk faults check their own outcome (DESIGN.md §3): a node must start
 * after a torn WAL tail and have cut it; it must refuse to start with
 * ERR_CORRUPTION on a WAL damaged before its tail (then the byte is put back
 * and it must start); a node whose disk filled must come back once space
 * returns, without ERR_CORRUPTION. A different outcome is an anomaly
 * (`anomalies`), which makes the run invalid.
 *
 * Invariant: at most one fault is active; healAll() undoes it whatever state
 * the run was interrupted in. A kill of a majority is one fault: its nodes
 * are killed together and restarted together (spawned all at once, since a
 * restarted node of a cluster without quorum cannot become ready alone).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HistoryRecorder } from '../harness/history.js';
import type { LiveCluster } from '../harness/live-cluster.js';
import type { ScheduledFault } from '../harness/schedule.js';
import type { NemesisEvent } from '../report/results.js';
import { join } from 'node:path';
import { assert } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';
import type { Prng } from '../sim/prng.js';
import type { AdminCall, LinkCutter } from './link-cutter.js';
import type { SmallDisks } from './small-disk.js';
import { corruptBeforeTail, restoreCorruption, tearTail, tornTailGone } from './wal-damage.js';
import type { WalDamage } from './wal-damage.js';
import { describeLinks, partitionLinks } from './partition-shapes.js';

type Active =
  | { kind: 'kill'; nodes: readonly number[] }
  | { kind: 'pause'; node: number }
  | { kind: 'partition' }
  | { kind: 'wal'; node: number; damage: WalDamage }
  | { kind: 'disk-full'; node: number; logOffset: number }
  | { kind: 'clock'; node: number }
  | { kind: 'member'; node: number }
  | null;

/** NemesisOptions are what the nemesis acts with; a null tool skips its faults with `skip` and the reason. */
export interface NemesisOptions {
  readonly cluster: LiveCluster;
  readonly history: HistoryRecorder;
  readonly cutter: LinkCutter | null;
  /** disks mounts the full-disk fault's filesystems; null when mounting is impossible here (`disksUnavailable` says why). */
  readonly disks: SmallDisks | null;
  readonly disksUnavailable: string;
  /** rng draws the bytes of WAL damage (forked from the run's seed). */
  readonly rng: Prng;
  /** admin sends an admin request to a node (the clock offset). */
  readonly admin: AdminCall;
}

/** LOG_EXCERPT_CHARS bounds the node log quoted in an anomaly. */
const LOG_EXCERPT_CHARS = 300;

/** Nemesis applies and heals the faults of one run. */
export class Nemesis {
  readonly events: NemesisEvent[] = [];
  /** anomalies are fault outcomes that break a promise (bounded by the schedule's faults). */
  readonly anomalies: string[] = [];
  readonly #cluster: LiveCluster;
  readonly #history: HistoryRecorder;
  readonly #cutter: LinkCutter | null;
  readonly #o: NemesisOptions;
  #active: Active = null;
  /** #joined counts the nodes the membership fault added (at most JepsenLimits.joinersMax). */
  #joined = 0;

  constructor(o: NemesisOptions) {
    this.#cluster = o.cluster;
    this.#history = o.history;
    this.#cutter = o.cutter;
    this.#o = o;
  }

  /** run plays `schedule` until it ends or `stopped()` turns true, then heals. */
  async run(schedule: readonly ScheduledFault[], stopped: () => boolean): Promise<void> {
    for (const f of schedule) {
      if (!(await this.#sleepUntil(f.startMs, stopped))) break;
      if (this.#history.nowMs() + JepsenLimits.faultLeftMsMin > f.startMs + f.durationMs) {
        // A slow heal of the previous fault (a restart, a node leaving) ran past nearly all of this fault's window: skip it rather than apply it for no time.
        this.#log('skip', [], `${f.fault}: its window passed while the previous fault healed`);
        continue;
      }
      await this.#apply(f, stopped);
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
      this.#log('restart', a.nodes);
      for (const n of a.nodes) await this.#cluster.spawn(n);
      await Promise.all(a.nodes.map((n) => this.#cluster.waitReadyOrExit(n, stopped)));
    } else if (a.kind === 'pause') {
      this.#log('resume', [a.node]);
      await this.#cluster.resume(a.node);
    } else if (a.kind === 'partition') {
      this.#log('heal', this.#cluster.nodes.map((n) => n.entry.id));
      await this.#cutter?.heal();
    } else if (a.kind === 'clock') {
      this.#log('clock-reset', [a.node]);
      try {
        const status = await this.#o.admin(a.node, 'DELETE', '/api/v1/admin/clock', null);
        if (status !== 200) this.anomalies.push(`node ${a.node} refused to reset its clock offset (HTTP ${status})`);
      } catch (err) {
        // A node that cannot be reached keeps its offset: the run would go on with a skew it did not schedule.
        this.anomalies.push(`node ${a.node} could not be asked to reset its clock offset: ${String(err)}`);
      }
    } else if (a.kind === 'member') {
      this.#log('leave', [a.node], `otlpdb cluster remove ${a.node}`);
      const r = await this.#cluster.leave(a.node);
      if (r.ok) this.#log('left', [a.node], r.output);
      else this.anomalies.push(`node ${a.node} could not be removed within ${JepsenLimits.leaveTimeoutMs} ms: ${r.output.slice(0, LOG_EXCERPT_CHARS)}`);
    } else if (a.kind === 'wal') {
      await this.#healWal(a.node, a.damage, stopped);
    } else {
      await this.#healDiskFull(a.node, a.logOffset, stopped);
    }
  }

  /** healWal restarts a node on its damaged WAL and checks the outcome; a corrupted byte is then restored and the node restarted. */
  async #healWal(node: number, d: WalDamage, stopped: () => boolean): Promise<void> {
    const where = `${d.file} at byte ${d.offsetBytes}`;
    const offset = this.#cluster.logBytes(node);
    this.#log('restart', [node], `on a WAL with a ${d.kind === 'torn-tail' ? 'torn tail' : 'byte flipped before the tail'}`);
    await this.#cluster.spawn(node);
    // Bounded by restartReadyDeadlineMs alone: the outcome is the check, so it is waited for even past the run's end.
    const r = await this.#cluster.waitReadyOrExit(node);
    const excerpt = (): string => this.#cluster.logSince(node, offset).trim().slice(-LOG_EXCERPT_CHARS);
    if (d.kind === 'torn-tail') {
      if (r === 'exited') {
        this.anomalies.push(`node ${node} did not start after a torn WAL tail (${where}): ${excerpt()}`);
        await this.#cluster.restart(node, stopped);
      } else if (r === 'ready' && !(await tornTailGone(d))) {
        this.anomalies.push(`node ${node} started but the torn WAL tail (${where}) is still in its log`);
      } else if (r === 'ready') {
        this.#log('wal-recovered', [node], `torn tail cut at ${where}`);
      }
      return;
    }
    if (r === 'exited' && excerpt().includes('ERR_CORRUPTION')) {
      this.#log('wal-refused', [node], `stopped with ERR_CORRUPTION (${where})`);
    } else {
      this.anomalies.push(
        r === 'exited'
          ? `node ${node} stopped on a WAL corrupted before its tail (${where}) without ERR_CORRUPTION: ${excerpt()}`
          : `node ${node} did not stop with ERR_CORRUPTION on a WAL corrupted before its tail (${where}); it is ${r === 'ready' ? 'serving' : 'neither ready nor stopped'}`,
      );
      if (r !== 'exited') await this.#cluster.kill(node);
    }
    await restoreCorruption(d);
    this.#log('restart', [node], `the flipped byte restored (${where})`);
    await this.#cluster.restart(node, stopped);
  }

  /** healDiskFull gives the node's filesystem its space back, restarts the node if the full disk stopped it, and checks it did not stop on corruption. */
  async #healDiskFull(node: number, logOffset: number, stopped: () => boolean): Promise<void> {
    const disks = this.#o.disks;
    assert(disks !== null, 'a disk-full fault was applied with a disk');
    const dataDir = this.#cluster.node(node).entry.dataDir;
    const freeBytes = await disks.freeBytes(dataDir);
    await disks.grow(dataDir);
    // A node that failed on ENOSPC stops gracefully (seconds): wait for it to be ready again or gone before judging,
    // even past the run's end (bounded by restartReadyDeadlineMs), so that a stopped node is restarted.
    const r = await this.#cluster.waitReadyOrExit(node);
    const said = this.#cluster.logSince(node, logOffset);
    const how = r === 'exited' ? (/ENOSPC|no space left/i.test(said) ? 'it had stopped on ENOSPC' : 'it had stopped') : r === 'ready' ? 'it kept running' : 'it is neither ready nor stopped yet';
    this.#log('disk-space', [node], `space returned; ${freeBytes} bytes were free; ${how}`);
    if (said.includes('ERR_CORRUPTION')) this.anomalies.push(`node ${node} reported ERR_CORRUPTION while its disk was full: ${said.trim().slice(-LOG_EXCERPT_CHARS)}`);
    if (r === 'exited') {
      const offset = this.#cluster.logBytes(node);
      await this.#cluster.restart(node, stopped);
      const after = this.#cluster.logSince(node, offset);
      if (after.includes('ERR_CORRUPTION')) this.anomalies.push(`node ${node} could not restart after its disk was full: ${after.trim().slice(-LOG_EXCERPT_CHARS)}`);
    }
  }

  async #apply(f: ScheduledFault, stopped: () => boolean): Promise<void> {
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
    if (f.fault === 'membership') {
      if (this.#joined >= JepsenLimits.joinersMax) {
        this.#log('skip', [], `membership: ${JepsenLimits.joinersMax} nodes have joined already (JepsenLimits.joinersMax)`);
        return;
      }
      const id = this.#cluster.nodes.length + ++this.#joined;
      this.#active = { kind: 'member', node: id };
      this.#log('join', [id], `node ${id} starts with --join through node ${f.via}`);
      const offset = 0;
      const r = await this.#cluster.join(id, f.via, stopped);
      if (r === 'exited') this.anomalies.push(`node ${id} stopped while joining through node ${f.via}: ${this.#cluster.logSince(id, offset).trim().slice(-LOG_EXCERPT_CHARS)}`);
      else this.#log('joined', [id], r === 'ready' ? 'ready' : 'not ready yet');
      return;
    }
    if (f.fault === 'kill' && f.target.kind === 'majority') {
      const nodes = f.target.nodes;
      assert(nodes.length * 2 > this.#cluster.nodes.length, 'a majority kill takes a majority of the founders');
      const down = nodes.filter((n) => this.#cluster.node(n).down);
      if (down.length > 0) {
        this.#log('skip', [], `kill: a majority, but node ${down.join(', ')} is down (it did not come back from an earlier fault)`);
        return;
      }
      // Active before the first kill: a kill that fails half-way still restarts what it killed.
      const killed: number[] = [];
      this.#active = { kind: 'kill', nodes: killed };
      for (const n of nodes) {
        await this.#cluster.kill(n);
        killed.push(n);
      }
      this.#log('kill', nodes, `a majority (${nodes.length} of ${this.#cluster.nodes.length} founders) for the fault's window`);
      return;
    }
    const target = f.target;
    let node: number | null =
      target.kind === 'node' ? target.node : target.kind === 'shard-leader' ? await this.#cluster.shardLeader(target.shard) : await this.#cluster.metaLeader();
    const how = target.kind === 'node' ? 'a random node' : target.kind === 'shard-leader' ? `the leader of shard ${target.shard}` : 'the meta leader';
    if (node === null) {
      this.#log('skip', [], `${f.fault}: ${how} is not known`);
      return;
    }
    node = Math.trunc(node);
    if (this.#cluster.node(node).down) {
      this.#log('skip', [], `${f.fault}: ${how}, node ${node}, is down (it did not come back from an earlier fault)`);
      return;
    }
    if (f.fault === 'clock') {
      const status = await this.#o.admin(node, 'PUT', '/api/v1/admin/clock', JSON.stringify({ offsetMs: f.offsetMs }));
      if (status !== 200) {
        this.#log('skip', [], `clock: node ${node} refused the offset (HTTP ${status})`);
        return;
      }
      this.#active = { kind: 'clock', node };
      this.#log('clock', [node], `${how}: wall clock ${f.offsetMs > 0 ? '+' : ''}${f.offsetMs} ms`);
    } else if (f.fault !== 'disk') {
      if (f.fault === 'kill') {
        await this.#cluster.kill(node);
        this.#active = { kind: 'kill', nodes: [node] };
      } else {
        await this.#cluster.pause(node);
        this.#active = { kind: 'pause', node };
      }
      this.#log(f.fault, [node], how);
    } else if (f.mode === 'full') {
      await this.#applyDiskFull(node, how, stopped);
    } else {
      await this.#cluster.kill(node);
      this.#active = { kind: 'kill', nodes: [node] };
      const walDir = join(this.#cluster.node(node).entry.dataDir, 'wal');
      const damage = f.mode === 'torn-tail' ? await tearTail(walDir, this.#o.rng) : await corruptBeforeTail(walDir, this.#o.rng);
      if (damage === null) {
        this.#log('kill', [node], `${how}; disk corrupt: no WAL segment has two records, so nothing before the tail to damage`);
        return;
      }
      this.#active = { kind: 'wal', node, damage };
      this.#log(f.mode, [node], `${how}: killed; ${damage.kind === 'torn-tail' ? `${damage.bytes.length} torn bytes appended to` : 'one byte flipped in'} ${damage.file} at byte ${damage.offsetBytes}`);
    }
  }

  /**
   * applyDiskFull moves the node onto a tmpfs (killed and restarted on it,
   * the first time), then, with the node running, leaves its filesystem no
   * free byte.
   */
  async #applyDiskFull(node: number, how: string, stopped: () => boolean): Promise<void> {
    const disks = this.#o.disks;
    if (disks === null) {
      this.#log('skip', [], `disk full: ${this.#o.disksUnavailable}`);
      return;
    }
    const dataDir = this.#cluster.node(node).entry.dataDir;
    if (!disks.mounts.includes(dataDir)) {
      await this.#cluster.kill(node);
      this.#active = { kind: 'kill', nodes: [node] };
      await disks.move(dataDir);
      this.#log('disk-move', [node], `${how}: killed, its data dir moved onto a tmpfs, restarted`);
      await this.#cluster.restart(node, stopped);
    }
    const logOffset = this.#cluster.logBytes(node);
    this.#active = { kind: 'disk-full', node, logOffset };
    const sizeBytes = await disks.fill(dataDir, JepsenLimits.diskFullHeadroomBytes);
    this.#log('disk-full', [node], `${how}: its ${sizeBytes}-byte tmpfs has no free byte left`);
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
