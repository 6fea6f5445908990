/**
 * wgl-search.ts — the Wing & Gong / Lowe ("WGL") linearizability search over
 * one partition, as in Porcupine (Athalye, github.com/anishathalye/porcupine),
 * extended with a dominance rule for operations with unknown outcome.
 *
 * The history becomes a doubly linked list of call and return events sorted
 * by time. The search walks the list from the head: at a call event it tries
 * to linearize that operation now (step the model; if legal and the resulting
 * configuration is new to the cache, push it on the stack, lift its events
 * out of the list and restart from the head); at a return event it is stuck,
 * because that operation had to take effect before its return, so it pops the
 * last linearized operation, puts its events back and tries the next
 * candidate after it. The history is linearizable iff every operation with a
 * known output gets linearized.
 *
 * Event order. Events are sorted by time; at equal times calls come before
 * returns. So an operation that returns at t and one called at t are
 * concurrent: real-time order A < B is only established when A returned
 * strictly before B was called. This never invents a constraint the clocks
 * did not show, so it never reports a false violation.
 *
 * Unknown outcomes (output undefined). Such an operation may take effect at
 * any instant after its call, or never (Knossos's :info, Porcupine's unknown
 * outputs): its return is at +Infinity whatever the client recorded. Nothing
 * follows +Infinity, so it gets no return event. Its call event lives in a
 * second list, and at each configuration the search tries the known-output
 * candidates first (the "known phase") and the unknown ones, those called
 * before the first pending return, last (the "unknown phase"). When the
 * unknown phase begins, every new child configuration is registered in the
 * cache before any is explored, so a child reached through a run of several
 * unknown operations (u1 then u2) is dominated by the direct child (u2 alone)
 * with the same state (see search-cache.ts); without this, every subset of
 * the pending unknown writes would be explored. Registered children count as
 * explored because the configuration that registered them stays on the stack
 * until it has pushed each one. The search succeeds as soon as every
 * known-output operation is linearized: unknown ones left over "never took
 * effect", which is the same as taking effect after everything else. An operation with a
 * known output but no return time gets a return event at +Infinity.
 *
 * Invariants (all state is local to one call of searchPartition):
 * - The stack holds the linearized operations in linearization order; their
 *   events are lifted out of the lists, and exactly their ids are in `known`
 *   and `unknown`.
 * - `state` is the model state after applying the stack in order.
 * - Lifts and unlifts happen in stack (LIFO) order, so unlift restores the
 *   lists exactly (dancing links).
 * - mustRemaining counts the known-output operations not on the stack, and
 *   while it is positive the main list holds a return event.
 * - bestOps[0, lowWater) equals the current stack's first lowWater ops.
 * - childNode/childState[0, childTop) hold one region per configuration on
 *   the stack that is in its unknown phase, nested in stack order; so their
 *   length is at most (stack depth + 1) * (unknown operations).
 */
import { assert } from '../../src/errors.js';
import { LinearizedSet } from './linearized-set.js';
import { SearchCache } from './search-cache.js';
import type { Model, Operation, PartitionResult, UnknownReason } from './types.js';

/** STUCK_OPS_MAX bounds the candidate operations recorded for the explanation of a violation. */
export const STUCK_OPS_MAX = 16;

/** SearchLimits bound one partition's search; past either, the outcome is 'unknown'. */
export interface SearchLimits {
  readonly searchStepsMax: number;
  readonly cacheBytesMax: number;
}

/**
 * searchPartition decides whether one partition of a history is linearizable
 * with respect to `model`. Times must already be validated (finite calls,
 * returns at or after calls); checkOperations does that.
 */
export function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  partition: readonly Operation<I, O>[],
  limits: SearchLimits,
): PartitionResult<I, O> {
  assert(limits.searchStepsMax > 0, 'searchStepsMax > 0');
  assert(limits.cacheBytesMax > 0, 'cacheBytesMax > 0');
  const n = partition.length;

  // Operations in call order (Array.prototype.sort is stable), so each
  // linearized set stays a dense prefix plus a small window.
  const ops = partition.slice().sort((a, b) => a.call - b.call);
  const isKnown = new Uint8Array(n);
  const setId = new Int32Array(n); // the op's id within `known` or `unknown`
  let knownCount = 0;
  let unknownCount = 0;
  const events: number[] = []; // op * 2 + kind, kind 0 = call, 1 = return
  for (let op = 0; op < n; op++) {
    events.push(op * 2);
    if ((ops[op] as Operation<I, O>).output !== undefined) {
      isKnown[op] = 1;
      setId[op] = knownCount++;
      events.push(op * 2 + 1);
    } else {
      setId[op] = unknownCount++;
    }
  }
  if (knownCount === 0) return { outcome: 'ok', ops: n, searchSteps: 0 };

  const eventTime = (event: number): number => {
    const op = ops[event >>> 1] as Operation<I, O>;
    return (event & 1) === 0 ? op.call : (op.return ?? Infinity);
  };
  events.sort((a, b) => {
    const ta = eventTime(a);
    const tb = eventTime(b);
    if (ta !== tb) return ta < tb ? -1 : 1;
    const kindOrder = (a & 1) - (b & 1); // calls before returns: equal times are concurrent
    if (kindOrder !== 0) return kindOrder;
    return a - b;
  });

  // Nodes: HEAD = 0, events at 1..E in sorted order (so node numbers compare
  // like times), TAIL = E + 1, then the unknown list's UHEAD and UTAIL.
  const eventCount = events.length;
  const HEAD = 0;
  const TAIL = eventCount + 1;
  const UHEAD = eventCount + 2;
  const UTAIL = eventCount + 3;
  const next = new Int32Array(eventCount + 4);
  const prev = new Int32Array(eventCount + 4);
  const nodeOp = new Int32Array(eventCount + 4).fill(-1);
  const isCall = new Uint8Array(eventCount + 4);
  const match = new Int32Array(eventCount + 4).fill(-1);
  const callNode = new Int32Array(n).fill(-1);
  let mainLast = HEAD;
  let unknownLast = UHEAD;
  for (let node = 1; node <= eventCount; node++) {
    const event = events[node - 1] as number;
    const op = event >>> 1;
    nodeOp[node] = op;
    if ((event & 1) === 0) {
      isCall[node] = 1;
      callNode[op] = node;
    } else {
      const call = callNode[op] as number;
      assert(call > 0, 'a return event sorts after its call event');
      match[call] = node;
    }
    if (isKnown[op] === 1) {
      next[mainLast] = node;
      prev[node] = mainLast;
      mainLast = node;
    } else {
      next[unknownLast] = node;
      prev[node] = unknownLast;
      unknownLast = node;
    }
  }
  next[mainLast] = TAIL;
  prev[TAIL] = mainLast;
  next[unknownLast] = UTAIL;
  prev[UTAIL] = unknownLast;

  const lift = (node: number): void => {
    next[prev[node] as number] = next[node] as number;
    prev[next[node] as number] = prev[node] as number;
    const ret = match[node] as number;
    if (ret >= 0) {
      next[prev[ret] as number] = next[ret] as number;
      prev[next[ret] as number] = prev[ret] as number;
    }
  };
  const unlift = (node: number): void => {
    const ret = match[node] as number;
    if (ret >= 0) {
      next[prev[ret] as number] = ret;
      prev[next[ret] as number] = ret;
    }
    next[prev[node] as number] = node;
    prev[next[node] as number] = node;
  };

  const known = new LinearizedSet(knownCount);
  const unknown = new LinearizedSet(unknownCount);
  const cache = new SearchCache<S>(model.equal?.bind(model));
  const stackNode = new Int32Array(n);
  const stackState = new Array<S>(n);
  // For an unknown op, the parent's unknown phase to resume on backtrack.
  const stackBound = new Int32Array(n);
  const stackPhaseStart = new Int32Array(n);
  const stackCursor = new Int32Array(n);
  const stackPhaseEnd = new Int32Array(n);
  let stackLength = 0;

  // The unknown-phase children of the configurations on the stack, one region
  // per configuration in its unknown phase, nested like the stack.
  const childNode: number[] = [];
  const childState: S[] = [];
  let childTop = 0;

  // The longest linearizable prefix seen, for the explanation of a violation.
  const bestOps = new Int32Array(n);
  let bestLength = -1;
  let lowWater = 0;
  const stuck: number[] = [];
  const recordIfLongest = (firstReturn: number): void => {
    if (stackLength <= bestLength) return;
    for (let k = lowWater; k < stackLength; k++) bestOps[k] = nodeOp[stackNode[k] as number] as number;
    bestLength = stackLength;
    lowWater = stackLength;
    const blocking = nodeOp[firstReturn] as number;
    stuck.length = 0;
    stuck.push(blocking);
    for (let node = next[HEAD] as number; node !== firstReturn && stuck.length < STUCK_OPS_MAX; node = next[node] as number) {
      if (nodeOp[node] !== blocking) stuck.push(nodeOp[node] as number);
    }
    for (let node = next[UHEAD] as number; node < firstReturn && stuck.length < STUCK_OPS_MAX; node = next[node] as number) {
      stuck.push(nodeOp[node] as number);
    }
  };

  const unknownResult = (reason: UnknownReason, steps: number): PartitionResult<I, O> => ({
    outcome: 'unknown',
    ops: n,
    searchSteps: steps,
    unknownReason: reason,
  });

  let state = model.init();
  cache.addIfNew(known, unknown, model.stateKey(state), state);
  let mustRemaining = knownCount;
  // The cursor. In the known phase `node` walks the main list. In the unknown
  // phase the children of the current configuration are in
  // childNode[cursor, phaseEnd) (registered in the cache when the phase
  // began), and `bound` is the first pending return.
  let inUnknownPhase = false;
  let node = next[HEAD] as number;
  let bound = TAIL;
  let phaseStart = 0;
  let cursor = 0;
  let phaseEnd = 0;
  let steps = 0;
  while (mustRemaining > 0) {
    if (steps >= limits.searchStepsMax) return unknownResult('search-steps', steps);
    steps++;
    if (!inUnknownPhase) {
      if (isCall[node] === 1) {
        // Try to linearize the known-output operation of call event `node` now.
        const op = nodeOp[node] as number;
        const operation = ops[op] as Operation<I, O>;
        const result = model.step(state, operation.input, operation.output);
        let pushed = false;
        if (result.ok) {
          known.set(setId[op] as number);
          pushed = cache.addIfNew(known, unknown, model.stateKey(result.state), result.state);
          if (!pushed) known.clear(setId[op] as number);
        }
        if (!pushed) {
          node = next[node] as number;
          continue;
        }
        if (cache.bytesEstimate > limits.cacheBytesMax) return unknownResult('cache-bytes', steps);
        stackNode[stackLength] = node;
        stackState[stackLength] = state;
        stackLength++;
        state = result.state;
        mustRemaining--;
        lift(node);
        node = next[HEAD] as number;
        continue;
      }
      // Every known candidate failed. Begin the unknown phase: register every
      // new child now, before exploring any, so that a child reached through
      // a longer run of unknown operations is dominated by the direct one.
      assert(node !== TAIL, 'a known-output operation remains, so a return event precedes the tail');
      bound = node;
      inUnknownPhase = true;
      phaseStart = childTop;
      for (let u = next[UHEAD] as number; u < bound; u = next[u] as number) {
        if (steps >= limits.searchStepsMax) return unknownResult('search-steps', steps);
        steps++;
        const op = nodeOp[u] as number;
        const operation = ops[op] as Operation<I, O>;
        const result = model.step(state, operation.input, operation.output);
        if (!result.ok) continue;
        unknown.set(setId[op] as number);
        if (cache.addIfNew(known, unknown, model.stateKey(result.state), result.state)) {
          childNode[childTop] = u;
          childState[childTop] = result.state;
          childTop++;
        }
        unknown.clear(setId[op] as number);
      }
      if (cache.bytesEstimate > limits.cacheBytesMax) return unknownResult('cache-bytes', steps);
      cursor = phaseStart;
      phaseEnd = childTop;
      continue;
    }
    if (cursor < phaseEnd) {
      // Linearize the next registered child: an unknown-outcome operation.
      const u = childNode[cursor] as number;
      const op = nodeOp[u] as number;
      stackNode[stackLength] = u;
      stackState[stackLength] = state;
      stackBound[stackLength] = bound;
      stackPhaseStart[stackLength] = phaseStart;
      stackCursor[stackLength] = cursor + 1;
      stackPhaseEnd[stackLength] = phaseEnd;
      stackLength++;
      state = childState[cursor] as S;
      unknown.set(setId[op] as number);
      lift(u);
      inUnknownPhase = false;
      node = next[HEAD] as number;
      continue;
    }
    // Every candidate before the first pending return failed: backtrack.
    childTop = phaseStart;
    childNode.length = childTop;
    childState.length = childTop;
    recordIfLongest(bound);
    if (stackLength === 0) {
      return {
        outcome: 'illegal',
        ops: n,
        searchSteps: steps,
        longestPrefix: Array.from(bestOps.subarray(0, bestLength), (op) => ops[op] as Operation<I, O>),
        stuckAt: stuck.map((op) => ops[op] as Operation<I, O>),
      };
    }
    stackLength--;
    if (stackLength < lowWater) lowWater = stackLength;
    const top = stackNode[stackLength] as number;
    const op = nodeOp[top] as number;
    state = stackState[stackLength] as S;
    unlift(top);
    if (isKnown[op] === 1) {
      known.clear(setId[op] as number);
      mustRemaining++;
      inUnknownPhase = false;
      node = next[top] as number;
    } else {
      unknown.clear(setId[op] as number);
      inUnknownPhase = true;
      bound = stackBound[stackLength] as number;
      phaseStart = stackPhaseStart[stackLength] as number;
      cursor = stackCursor[stackLength] as number;
      phaseEnd = stackPhaseEnd[stackLength] as number;
      assert(childTop === phaseEnd, 'the child regions nest like the stack');
    }
  }
  assert(known.count + unknown.count === stackLength, 'the linearized sets hold exactly the stack');
  return { outcome: 'ok', ops: n, searchSteps: steps };
}
