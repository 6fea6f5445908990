/**
 * flush-pacer.ts — spreads the CPU work of flushes over event-loop turns.
 *
 * A flush builds its blocks on the node's main thread, which also runs Raft,
 * the WAL, apply and the receivers' framing. A store that builds every block
 * of a large head in one synchronous run holds that thread for seconds (a
 * node that had taken 2.4M spans spent over 100 s in its traces flushes with
 * its event loop never idle, and answered almost nothing meanwhile:
 * bench/README.md "ingest"). So a store awaits `FlushContext.pace()` before
 * each block, and the replicas of one node share one pacer: at most one
 * flush step runs per event-loop turn, whichever replica it belongs to, and
 * the turn's I/O (requests, fsync completions, peer messages) runs between
 * two steps. A step is bounded by the stores' block bounds
 * (StoreLimits.blockBytesTarget, blockRowsMax).
 *
 * Invariant: turn() resolves callers in call order, each in a later
 * event-loop turn (a later setImmediate) than the previous caller.
 * Ownership: the node's ShardService owns one pacer and hands it to every
 * shard state machine it makes; a machine made without one makes its own.
 */
import { assert } from '../../errors.js';

const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** FlushPacer hands out flush steps, one per event-loop turn; see the top of this file. */
export class FlushPacer {
  #tail: Promise<void> = Promise.resolve();
  #turns = 0;

  /** turn resolves once every earlier caller's turn has come, in a later event-loop turn than the last of them. */
  turn(): Promise<void> {
    const turns = this.#turns;
    const p = this.#tail.then(nextTurn);
    this.#tail = p;
    this.#turns++;
    assert(this.#turns === turns + 1, 'one turn per call');
    return p;
  }

  /** turns counts the turns handed out (tests and diagnostics). */
  get turns(): number {
    return this.#turns;
  }
}
