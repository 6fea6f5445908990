/**
 * check.ts — checkOperations, the entry point of the linearizability checker:
 * validate a history, split it into independent partitions with the model,
 * refuse partitions past opsPerKeyMax, search each one within its limits and
 * explain the verdict in one paragraph. Pure: no clocks, no I/O.
 */
import { OtlpdbError } from '../../src/errors.js';
import { CheckerLimits } from '../../src/limits.js';
import type { CheckOptions, CheckOutcome, CheckResult, Model, Operation, PartitionResult } from './types.js';
import { searchPartition } from './wgl-search.js';

/**
 * CHECKER_CACHE_BYTES_MAX is the default bound on the estimated memory of one
 * partition's search cache (CheckerLimits.cacheBytesMax).
 */
export const CHECKER_CACHE_BYTES_MAX = CheckerLimits.cacheBytesMax;

/** EXPLANATION_OPS_MAX bounds the operations an explanation lists. */
const EXPLANATION_OPS_MAX = 6;

/** EXPLANATION_PREFIX_OPS is how many of the last operations of the longest prefix an explanation lists. */
const EXPLANATION_PREFIX_OPS = 3;

/**
 * checkOperations decides whether `history` is linearizable with respect to
 * `model`. Each partition is searched separately; the verdict is 'illegal' if
 * any partition is, else 'unknown' if any search hit a limit, else 'ok'. It
 * throws ERR_INVALID_ARGUMENT for malformed times or options and
 * ERR_LIMIT_EXCEEDED for a partition larger than opsPerKeyMax.
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  const searchStepsMax = positiveLimit('searchStepsMax', options.searchStepsMax, CheckerLimits.searchStepsMax);
  const opsPerKeyMax = positiveLimit('opsPerKeyMax', options.opsPerKeyMax, CheckerLimits.opsPerKeyMax);
  const cacheBytesMax = positiveLimit('cacheBytesMax', options.cacheBytesMax, CHECKER_CACHE_BYTES_MAX);
  history.forEach(validateOperation);

  const partitions = model.partition !== undefined ? model.partition(history) : [history.slice()];
  partitions.forEach((partition, index) => {
    if (partition.length > opsPerKeyMax) {
      throw new OtlpdbError(
        'ERR_LIMIT_EXCEEDED',
        `partition ${index + 1} has ${partition.length} operations, more than opsPerKeyMax=${opsPerKeyMax}`,
        { partition: index, ops: partition.length, opsPerKeyMax },
      );
    }
  });

  const results = partitions.map((partition) => searchPartition(model, partition, { searchStepsMax, cacheBytesMax }));
  const opsChecked = results.reduce((sum, r) => sum + r.ops, 0);
  const outcome: CheckOutcome = results.some((r) => r.outcome === 'illegal')
    ? 'illegal'
    : results.some((r) => r.outcome === 'unknown')
      ? 'unknown'
      : 'ok';
  return {
    outcome,
    opsChecked,
    partitions: results,
    explanation: explain(model, outcome, partitions, results, { searchStepsMax, cacheBytesMax }),
  };
}

function positiveLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${name} must be a positive integer, got ${String(value)}`, { [name]: value });
  }
  return value;
}

function validateOperation<I, O>(op: Operation<I, O>, index: number): void {
  if (typeof op.call !== 'number' || !Number.isFinite(op.call)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `operation ${index}: call must be a finite number`, { index });
  }
  const ret = op.return;
  if (ret === undefined || ret === Infinity) return;
  if (typeof ret !== 'number' || Number.isNaN(ret)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `operation ${index}: return must be a number or undefined`, { index });
  }
  if (ret < op.call) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `operation ${index}: return ${ret} is before call ${op.call}`, {
      index,
    });
  }
}

/** describe renders one operation with its client and times. */
function describe<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  const body =
    model.describeOperation !== undefined
      ? model.describeOperation(op.input, op.output)
      : `${JSON.stringify(op.input)} -> ${op.output === undefined ? 'unknown' : JSON.stringify(op.output)}`;
  const returned = op.output === undefined ? 'outcome unknown' : `returned ${op.return ?? 'never'}`;
  return `${body} (client ${op.clientId}, called ${op.call}, ${returned})`;
}

function explain<S, I, O>(
  model: Model<S, I, O>,
  outcome: CheckOutcome,
  partitions: readonly (readonly Operation<I, O>[])[],
  results: readonly PartitionResult<I, O>[],
  limits: { searchStepsMax: number; cacheBytesMax: number },
): string {
  const total = results.reduce((sum, r) => sum + r.ops, 0);
  const steps = results.reduce((sum, r) => sum + r.searchSteps, 0);
  if (outcome === 'ok') {
    return `Linearizable: all ${total} operations in ${results.length} partition(s) have a linearization (${steps} search steps).`;
  }
  if (outcome === 'unknown') {
    const undecided = results.flatMap((r, i) => (r.outcome === 'unknown' ? [i] : []));
    const parts = undecided.slice(0, EXPLANATION_OPS_MAX).map((i) => {
      const r = results[i] as PartitionResult<I, O>;
      const limit =
        r.unknownReason === 'cache-bytes'
          ? `cacheBytesMax=${limits.cacheBytesMax}`
          : `searchStepsMax=${limits.searchStepsMax}`;
      const firstOp = partitions[i]?.[0];
      const first = firstOp !== undefined ? `, whose first operation is ${describe(model, firstOp)}` : '';
      return `partition ${i + 1} (${r.ops} ops${first}) reached ${limit}`;
    });
    return (
      `Undecided: ${undecided.length} of ${results.length} partition(s) could not be decided within the search limits ` +
      `(${parts.join('; ')}); no violation was found in the others. This is not a proof either way.`
    );
  }
  const illegal = results.flatMap((r, i) => (r.outcome === 'illegal' ? [i] : []));
  const index = illegal[0] as number;
  const r = results[index] as PartitionResult<I, O>;
  const prefix = r.longestPrefix ?? [];
  const stuck = r.stuckAt ?? [];
  const tail = prefix.slice(-EXPLANATION_PREFIX_OPS).map((op) => describe(model, op));
  const blocking = stuck[0];
  const others = stuck.slice(1, EXPLANATION_OPS_MAX).map((op) => describe(model, op));
  return (
    `Not linearizable: ${illegal.length} of ${results.length} partition(s) have no linearization. ` +
    `In partition ${index + 1} (${r.ops} ops), the longest linearizable prefix has ${prefix.length} operation(s)` +
    (tail.length > 0 ? `, ending with ${tail.join('; then ')}` : '') +
    '. After it none of the pending operations can take effect next' +
    (blocking !== undefined ? `, yet ${describe(model, blocking)} had to take effect before it returned` : '') +
    (others.length > 0 ? `; the other candidates were ${others.join('; ')}` : '') +
    '.'
  );
}
