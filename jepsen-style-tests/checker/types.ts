/**
 * types.ts — the data the linearizability checker reads (operations, models)
 * and the results it returns. Plain data only: the simulator, the CLI and
 * real-cluster runs build these values and hand them to checkOperations.
 */

/**
 * Operation is one client request as the client saw it: when it was invoked,
 * when (if ever) it returned, and what it returned. `output === undefined`
 * means the outcome is unknown (the client timed out or crashed); such an
 * operation may have taken effect at any instant after its call, or never, so
 * the checker ignores its `return` time. `return === undefined` means the
 * client never saw a reply; it is treated as +Infinity.
 */
export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  /** call is the time of invocation (any monotonic number: ticks or ns, exactly representable below 2^53). */
  readonly call: number;
  /** output is what the operation returned; undefined = outcome unknown. */
  readonly output: O | undefined;
  /** return is when the reply arrived; undefined = never returned (treated as +Infinity). */
  readonly return: number | undefined;
}

/**
 * Model is the sequential specification a history is checked against. The
 * checker never looks inside states or inputs; it only steps the model and
 * compares states through `stateKey` (and `equal`, when given).
 */
export interface Model<S, I, O> {
  /** init returns the state before any operation. */
  init(): S;
  /** step returns the next state if `output` is a legal result of applying `input` to `state`; when output is undefined (unknown outcome) any result the model would produce is legal. */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** partition splits a history into independent sub-histories (e.g. by key); default: one partition. */
  partition?(ops: readonly Operation<I, O>[]): Operation<I, O>[][];
  /** key of a state for the cache (states equal iff keys equal). */
  stateKey(state: S): string | number;
  /** equal, when given, is consulted in addition to `stateKey` before the search treats two states as the same. */
  equal?(a: S, b: S): boolean;
  /** describeOperation renders one operation for explanations (default: JSON of input and output). */
  describeOperation?(input: I, output: O | undefined): string;
}

/**
 * CheckOutcome is the verdict: 'ok' (a linearization exists), 'illegal' (none
 * exists) or 'unknown' (a search limit was reached first; never a guess).
 */
export type CheckOutcome = 'ok' | 'illegal' | 'unknown';

/** UnknownReason names the limit that stopped an undecided search. */
export type UnknownReason = 'search-steps' | 'cache-bytes';

/** PartitionResult is the verdict for one independent sub-history (one key, for the register model). */
export interface PartitionResult<I, O> {
  readonly outcome: CheckOutcome;
  readonly ops: number;
  /** for 'illegal': the longest linearizable prefix found and the operations that could not be linearized after it, for a human-readable explanation */
  readonly longestPrefix?: readonly Operation<I, O>[];
  readonly stuckAt?: readonly Operation<I, O>[];
  readonly searchSteps: number;
  /** for 'unknown': which limit stopped the search. */
  readonly unknownReason?: UnknownReason;
}

/** CheckResult is the verdict for a whole history. */
export interface CheckResult<I, O> {
  /** outcome is illegal if any partition is illegal; else unknown if any unknown; else ok. */
  readonly outcome: CheckOutcome;
  readonly opsChecked: number;
  readonly partitions: readonly PartitionResult<I, O>[];
  /** explanation is one paragraph; for illegal, it names the key and the offending ops with times. */
  readonly explanation: string;
}

/**
 * CheckOptions override the defaults of CheckerLimits for one check (tests use
 * tiny values to show that each limit is honoured).
 */
export interface CheckOptions {
  /** searchStepsMax bounds the search of each partition; past it the partition is 'unknown'. */
  readonly searchStepsMax?: number;
  /** opsPerKeyMax refuses (ERR_LIMIT_EXCEEDED) a history with a larger partition. */
  readonly opsPerKeyMax?: number;
  /** cacheBytesMax bounds the estimated memory of the search cache of each partition; past it the partition is 'unknown'. */
  readonly cacheBytesMax?: number;
}
