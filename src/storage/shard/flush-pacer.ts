/**
 * flush-pacer.ts — spreads the CPU work of flushes over event-loop turns.
 *
 * A flush builds its blocks on the node's main thread, which also runs Raft,
 * the WAL, apply and the receivers' framing. A store that builds every block
 * of a large head in one synchronous run holds that thread for seconds (a
 * node that had taken 2.4M spans spent over 100 s in its traces flushes with
 * its event loop never idle, and answered almost nothing meanwhile:
 * bench/README.md "ingest"). So a store awaits `FlushContext.pace()` before
 * each block, and the replicas of one node share one pacer:
 *
 * - at most one flush step runs per event-loop turn, whichever replica it
 *   belongs to, and the turn's I/O (requests, fsync completions, peer
 *   messages) runs between two steps;
 * - while steps queue, a step that took s ms earns a pause of
 *   s·(1 − share)/share ms (ShardLimits.flushStepShareMax, at most
 *   flushPauseMsMax), so flushes take at most about that share of the
 *   thread and the rest stays with the write path. A step is bounded by the
 *   stores' block bounds (StoreLimits.blockBytesTarget, blockRowsMax).
 * - the pause is only taken when something else wants the thread: before
 *   each turn the pacer yields one event-loop turn (setImmediate) and times
 *   the other work that ran in it (I/O callbacks, timers, other
 *   immediates) as the lesser of the wall time and the process's CPU time
 *   of that turn (on a busy machine the wall time alone counts the time the
 *   process was descheduled as work). Under ShardLimits.flushIdleWorkMsMax
 *   the loop is idle and the step runs at once; otherwise the step waits
 *   what is left of its pause. An idle node's admin flush then takes its unpaced time, not
 *   about 1.6x it (bench/README.md "query-logs", s13).
 *
 * Flushes then take longer in wall time; a head that grows meanwhile meets
 * the explicit backpressure of ShardLimits.headBytesHardMax (DESIGN.md §5).
 *
 * Invariant: turn() resolves callers in call order, each in a later
 * event-loop turn (a later setImmediate or timer) than the previous caller.
 * Ownership: the node's ShardService owns one pacer and hands it to every
 * shard state machine it makes; a machine made without one makes its own.
 */
import { performance } from 'node:perf_hooks';
import { assert } from '../../errors.js';
import { ShardLimits } from '../../limits.js';

/** processCpuMs is the process's user + system CPU time in ms. */
function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** FlushPacerOptions tune a pacer (tests inject a clock). */
export interface FlushPacerOptions {
  /** nowMs is a monotonic clock in ms (default performance.now). */
  readonly nowMs?: () => number;
  /** cpuMs is the process's CPU time in ms, every thread (default process.cpuUsage). */
  readonly cpuMs?: () => number;
  readonly stepShareMax?: number;
  readonly pauseMsMax?: number;
  /** idleWorkMsMax: other work under this in the yielded turn means an idle loop (default ShardLimits.flushIdleWorkMsMax). */
  readonly idleWorkMsMax?: number;
}

/** FlushPacer hands out flush steps, one per event-loop turn, within a share of the thread; see the top of this file. */
export class FlushPacer {
  #tail: Promise<void> = Promise.resolve();
  #turns = 0;
  #pauses = 0;
  /** #resolvedMs is when the last turn was handed out (null before the first). */
  #resolvedMs: number | null = null;
  /** #stepEndMs is when the step of the last turn handed out ended (null while it runs). */
  #stepEndMs: number | null = null;
  #lastPauseMs = 0;
  readonly #nowMs: () => number;
  readonly #cpuMs: () => number;
  readonly #share: number;
  readonly #pauseMsMax: number;
  readonly #idleWorkMsMax: number;

  constructor(o: FlushPacerOptions = {}) {
    this.#nowMs = o.nowMs ?? (() => performance.now());
    this.#cpuMs = o.cpuMs ?? processCpuMs;
    this.#share = o.stepShareMax ?? ShardLimits.flushStepShareMax;
    this.#pauseMsMax = o.pauseMsMax ?? ShardLimits.flushPauseMsMax;
    this.#idleWorkMsMax = o.idleWorkMsMax ?? ShardLimits.flushIdleWorkMsMax;
    assert(this.#share > 0 && this.#share <= 1, 'stepShareMax in (0, 1]');
    assert(this.#pauseMsMax >= 0, 'pauseMsMax >= 0');
    assert(this.#idleWorkMsMax >= 0, 'idleWorkMsMax >= 0');
  }

  /** turn resolves once every earlier caller's turn has come, in a later event-loop turn than the last of them. */
  turn(): Promise<void> {
    this.#endStep();
    const p = this.#tail.then(() => this.#next());
    this.#tail = p;
    this.#turns++;
    return p;
  }

  /**
   * #endStep notes the end of the step of the last turn handed out: the
   * first turn() call or queued hand-out after it. NB: when no step follows
   * at once (the last block of a flush, then the batch write), the time
   * until the next request counts as the step; the pause it causes is capped
   * by pauseMsMax.
   */
  #endStep(): void {
    if (this.#resolvedMs !== null && this.#stepEndMs === null) this.#stepEndMs = this.#nowMs();
  }

  /**
   * #next hands out one turn: it yields one event-loop turn, then, if other
   * work ran in it, waits what is left of the pause the previous step earned.
   */
  #next(): Promise<void> {
    this.#endStep();
    const stepMs = this.#resolvedMs === null || this.#stepEndMs === null ? 0 : Math.max(0, this.#stepEndMs - this.#resolvedMs);
    const earnedMs = Math.min(this.#pauseMsMax, (stepMs * (1 - this.#share)) / this.#share);
    assert(earnedMs >= 0 && earnedMs <= this.#pauseMsMax, 'a pause within its bound');
    const yieldedMs = this.#nowMs();
    const yieldedCpuMs = this.#cpuMs();
    return new Promise<void>((resolve) => {
      const go = (): void => {
        this.#resolvedMs = this.#nowMs();
        this.#stepEndMs = null;
        resolve();
      };
      setImmediate(() => {
        const otherWorkMs = Math.max(0, Math.min(this.#nowMs() - yieldedMs, this.#cpuMs() - yieldedCpuMs));
        const idle = otherWorkMs < this.#idleWorkMsMax;
        this.#lastPauseMs = idle ? 0 : earnedMs;
        if (!idle && earnedMs > 0) this.#pauses++;
        const restMs = idle ? 0 : earnedMs - otherWorkMs;
        if (restMs >= 1) setTimeout(go, restMs);
        else go();
      });
    });
  }

  /** turns counts the turns handed out (tests and diagnostics). */
  get turns(): number {
    return this.#turns;
  }

  /** pauses counts the turns handed out after a pause, not at once (tests and diagnostics). */
  get pauses(): number {
    return this.#pauses;
  }

  /** lastPauseMs is the pause taken before the last turn handed out: 0 when the loop was idle (tests and diagnostics). */
  get lastPauseMs(): number {
    return this.#lastPauseMs;
  }
}
