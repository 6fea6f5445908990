/**
 * driver-loop.ts — how a driver's work is sequenced and how it stops: the
 * iteration chain (iterations and runtime group changes run one at a time,
 * in call order), the self-running loop that runs iterations while there is
 * work (autoRun), and the run state (failed or stopped) every entry point
 * checks before it touches a group.
 *
 * ## Invariants
 *
 * - At most one chain step (an iteration or a group change) runs at a time:
 *   every step is appended to `#chain`, whose rejections are swallowed so a
 *   failed step does not skip the next one (the caller still sees it).
 * - Once `#failure` is set no iteration runs again: runIteration rethrows
 *   it. A failure is recorded once; `onFailure` hears it once.
 * - Once `#stopped` is set, iterations do nothing and kick does not start
 *   the loop.
 * - One `kick` runs at most DriverLimits.iterationsPerKickMax iterations
 *   before it yields to the event loop.
 * Owner: the MultiRaftDriver owns its DriverLoop; the loop calls back into
 * the driver (iterate, runIteration, onFailure) and owns nothing else.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { DriverLimits } from '../../limits.js';
import type { NodeId } from '../types.js';

/** DriverLoopHooks is what a DriverLoop calls back into its driver. */
export interface DriverLoopHooks {
  readonly nodeId: NodeId;
  /** autoRun: kick starts the self-running loop (else tests call runIteration). */
  readonly autoRun: boolean;
  /** iterate carries out one iteration and resolves to whether there was work; a rejection fails the driver. */
  readonly iterate: () => Promise<boolean>;
  /** runIteration is the driver's public runIteration, which the self-running loop calls. */
  readonly runIteration: () => Promise<boolean>;
  /** onFailure stops the driver's timer and fails its waiters when the loop records a failure. */
  readonly onFailure: (err: unknown) => void;
}

/** DriverLoop sequences a driver's iterations and group changes, runs them by itself when asked to, and records failure and stop. */
export class DriverLoop {
  readonly #hooks: DriverLoopHooks;
  #chain: Promise<unknown> = Promise.resolve();
  #loopRunning = false;
  #loopAgain = false;
  #failure: unknown = null;
  #stopped = false;

  constructor(hooks: DriverLoopHooks) {
    assert(Number.isSafeInteger(hooks.nodeId) && hooks.nodeId >= 1, 'a driver loop belongs to a node');
    this.#hooks = hooks;
  }

  /** failure is the error that stopped the driver, or null. */
  get failure(): unknown {
    return this.#failure;
  }

  /** stopped says whether stop began. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** idle says the driver failed or stopped: entry points then do nothing. */
  get idle(): boolean {
    return this.#failure !== null || this.#stopped;
  }

  /** refusal is the ERR_UNAVAILABLE a request or group change gets from a failed or stopped driver, or null. */
  refusal(): OtlpdbError | null {
    const nodeId = this.#hooks.nodeId;
    if (this.#failure !== null) return new OtlpdbError('ERR_UNAVAILABLE', `node ${nodeId} driver failed`, { cause: String(this.#failure) });
    if (this.#stopped) return new OtlpdbError('ERR_UNAVAILABLE', `node ${nodeId} driver stopped`);
    return null;
  }

  /** runIteration appends one guarded iteration to the chain (see MultiRaftDriver.runIteration). */
  runIteration(): Promise<boolean> {
    return this.enqueue(() => this.#iterateGuarded());
  }

  /** enqueue runs `fn` in the iteration chain, after any iteration or group change in progress. */
  enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** poisonOnError runs I/O whose failure leaves the node's files unknown: the driver stops, as after a failed iteration. */
  async poisonOnError(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (this.#failure === null) this.#fail(err);
      throw err;
    }
  }

  /** markStopped begins a stop; false when one already began. */
  markStopped(): boolean {
    if (this.#stopped) return false;
    this.#stopped = true;
    return true;
  }

  /** settled resolves once every chain step queued so far finished. */
  async settled(): Promise<void> {
    await this.#chain;
  }

  /** kick starts the self-running loop when autoRun is on, or tells a running loop to look again. */
  kick(): void {
    if (!this.#hooks.autoRun || this.idle) return;
    if (this.#loopRunning) {
      this.#loopAgain = true;
      return;
    }
    this.#loopRunning = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    try {
      for (let n = 0; n < DriverLimits.iterationsPerKickMax; n++) {
        this.#loopAgain = false;
        const worked = await this.#hooks.runIteration();
        if (!worked && !this.#loopAgain) return;
      }
      // Bounded: yield to the event loop, then go on.
      setImmediate(() => this.kick());
    } catch {
      // The failure is recorded in #failure and every waiter was rejected with it.
    } finally {
      this.#loopRunning = false;
    }
  }

  async #iterateGuarded(): Promise<boolean> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#stopped) return false;
    try {
      return await this.#hooks.iterate();
    } catch (err) {
      this.#fail(err);
      throw err;
    }
  }

  /** fail stops the driver with `err` (work outside the chain, such as a background flush, failed); the first failure wins. */
  fail(err: unknown): void {
    if (this.#failure === null) this.#fail(err);
  }

  #fail(err: unknown): void {
    this.#failure = err;
    this.#hooks.onFailure(err);
  }
}
