/**
 * history.ts — the history of one run as the clients saw it: every operation
 * with its start and end on the monotonic clock (integer microseconds since
 * the run started), its outcome (ok, fail, unknown) and its value. Written
 * as JSON lines (history.jsonl), one operation per line, in end order.
 */
import { performance } from 'node:perf_hooks';
import { OtlpdbError, assert } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';

/** Outcome is what a client knows of one operation: it took effect (ok), it did not (fail), or it may have (unknown). */
export type Outcome = 'ok' | 'fail' | 'unknown';

/** HistoryOp is one line of history.jsonl. */
export interface HistoryOp {
  readonly workload: string;
  /** process is the client loop (0..clients-1), or -1 for the final reads after recovery. */
  readonly process: number;
  /** f is the operation: put, get, cas, send. */
  readonly f: string;
  /** start and end are microseconds since the run started (monotonic). */
  readonly start: number;
  readonly end: number;
  readonly outcome: Outcome;
  /** value is the operation's input and what came back (workload-specific). */
  readonly value: unknown;
  /** node is the node the last attempt went to. */
  readonly node: number;
  /** error is the failure the client saw, when it did not see a success. */
  readonly error?: string;
}

/** HistoryRecorder collects the operations of one run (bounded by JepsenLimits.historyOpsMax). */
export class HistoryRecorder {
  readonly #t0: number;
  readonly #ops: HistoryOp[] = [];

  constructor(t0 = performance.now()) {
    this.#t0 = t0;
  }

  /** nowUs is the monotonic time since the run started, in whole microseconds. */
  nowUs(): number {
    return Math.round((performance.now() - this.#t0) * 1000);
  }

  /** nowMs is nowUs in milliseconds (for the nemesis log). */
  nowMs(): number {
    return Math.round(performance.now() - this.#t0);
  }

  /** full says whether the history reached its bound (the clients then stop issuing operations). */
  full(): boolean {
    return this.#ops.length >= JepsenLimits.historyOpsMax;
  }

  /** record appends one finished operation. */
  record(op: HistoryOp): void {
    assert(op.end >= op.start, 'an operation ends after it starts');
    if (this.full()) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a run records at most ${JepsenLimits.historyOpsMax} operations`);
    this.#ops.push(op);
  }

  /** ops returns the operations recorded so far (of one workload, when named). */
  ops(workload?: string): readonly HistoryOp[] {
    return workload === undefined ? this.#ops : this.#ops.filter((o) => o.workload === workload);
  }
}

/** historyJsonLines renders operations as JSON lines, each ending in a newline. */
export function historyJsonLines(ops: readonly HistoryOp[]): string {
  return ops.map((o) => `${JSON.stringify(o)}\n`).join('');
}
