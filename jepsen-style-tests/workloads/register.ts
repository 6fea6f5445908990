/**
 * register.ts — the register workload: put, get and compare-and-set on a few
 * keys of the control KV (/api/v1/kv/{key}, served by the meta Raft group),
 * sent to random nodes, checked for linearizability by
 * checkOperations(registerModel, history) from ../checker.
 *
 * Classification: a 200 is ok; a compare-and-set answered 409 is ok with
 * "not swapped"; a get answered 404 is ok with null; a refused connection or
 * a 4xx that refuses the request is fail; anything else (timeouts, 5xx) of a
 * write is unknown, because it may commit later. A read that did not
 * answer is fail: it changed nothing. After recovery each key is read once
 * more (process -1), so a lost write shows up as an illegal final read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { assert } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';
import { checkOperations, registerModel } from '../checker/index.js';
import type { Operation, RegisterInput, RegisterOutput } from '../checker/index.js';
import type { HistoryOp, Outcome } from '../harness/history.js';
import { capAnomalies, countOutcomes } from '../report/results.js';
import type { WorkloadResult } from '../report/results.js';
import { attempt } from './client-http.js';
import type { Workload, WorkloadContext } from './types.js';

/** RegisterValue is the `value` of a register operation in history.jsonl. */
export interface RegisterValue {
  readonly input: RegisterInput;
  /** output is what came back; absent unless the outcome is ok. */
  readonly output?: RegisterOutput;
}

/** REGISTER_KEY_PREFIX starts every key of the register workload; keys are REGISTER_KEY_PREFIX + 0..registerKeys-1, each read back at the end. */
export const REGISTER_KEY_PREFIX = 'jepsen-register-';

function kvPath(key: string, query = ''): string {
  return `/api/v1/kv/${encodeURIComponent(key)}${query}`;
}

/** registerOutcome classifies one answer (or no answer) of a register request. */
export function registerOutcome(
  input: RegisterInput,
  a: { kind: 'answer'; status: number; body: string } | { kind: 'refused' | 'unknown' },
): { outcome: Outcome; output?: RegisterOutput } {
  if (a.kind !== 'answer') return { outcome: a.kind === 'refused' || input.type === 'get' ? 'fail' : 'unknown' };
  const { status } = a;
  switch (input.type) {
    case 'get':
      if (status === 200) {
        const v = (JSON.parse(a.body) as { value?: unknown }).value;
        assert(typeof v === 'string', 'a KV read answers a string value');
        return { outcome: 'ok', output: { type: 'get', value: v } };
      }
      if (status === 404) return { outcome: 'ok', output: { type: 'get', value: null } };
      return { outcome: 'fail' };
    case 'put':
      if (status === 200) return { outcome: 'ok', output: { type: 'put' } };
      break;
    case 'cas':
      if (status === 200) return { outcome: 'ok', output: { type: 'cas', ok: true } };
      if (status === 409) return { outcome: 'ok', output: { type: 'cas', ok: false } };
      break;
  }
  // A write refused before it was proposed (bad request, too large, rate limited) did nothing; anything else may commit later.
  return status === 400 || status === 413 || status === 429 ? { outcome: 'fail' } : { outcome: 'unknown' };
}

/** performRegister sends one register operation as client `process` to node `node`, records it in the history and returns it (the planted-bug tests aim operations at chosen nodes with it). */
export async function performRegister(ctx: WorkloadContext, process: number, node: number, input: RegisterInput): Promise<HistoryOp> {
  const start = ctx.history.nowUs();
  const api = ctx.cluster.node(node).api;
  let a;
  switch (input.type) {
    case 'get':
      a = await attempt(api, 'GET', kvPath(input.key), null);
      break;
    case 'put':
      a = await attempt(api, 'PUT', kvPath(input.key), input.value);
      break;
    case 'cas': {
      const q = input.expected === null ? '?prevExist=false' : `?prevValue=${encodeURIComponent(input.expected)}`;
      a = await attempt(api, 'PUT', kvPath(input.key, q), input.value);
      break;
    }
  }
  const c = registerOutcome(input, a);
  const end = ctx.history.nowUs();
  const value: RegisterValue = c.output === undefined ? { input } : { input, output: c.output };
  const error = c.outcome === 'ok' ? undefined : a.kind === 'answer' ? `HTTP ${a.status}: ${a.body.slice(0, 200)}` : a.error;
  const op: HistoryOp = { workload: 'register', process, f: input.type, start, end, outcome: c.outcome, value, node, ...(error === undefined ? {} : { error }) };
  ctx.history.record(op);
  return op;
}

/** toCheckerHistory turns register operations into the checker's: fails are dropped (they did nothing), unknowns keep no output and no return. */
export function toCheckerHistory(ops: readonly HistoryOp[]): Operation<RegisterInput, RegisterOutput>[] {
  const out: Operation<RegisterInput, RegisterOutput>[] = [];
  for (const o of ops) {
    if (o.outcome === 'fail') continue;
    const v = o.value as RegisterValue;
    if (o.outcome === 'ok') {
      assert(v.output !== undefined, 'an ok register operation has an output');
      out.push({ clientId: o.process + 1, input: v.input, call: o.start, output: v.output, return: o.end });
    } else {
      out.push({ clientId: o.process + 1, input: v.input, call: o.start, output: undefined, return: undefined });
    }
  }
  return out;
}

/** registerWorkload is the control-KV linearizability workload. */
export const registerWorkload: Workload = {
  name: 'register',

  async runClient(clientId: number, ctx: WorkloadContext): Promise<void> {
    const rng = ctx.rng.fork(`client-${clientId}`);
    const intervalMs = (1000 * ctx.clients) / ctx.rateOpsPerSec;
    const perKey = new Map<string, number>();
    const lastSeen = new Map<string, string | null>();
    let n = 0;
    while (!ctx.stopped() && !ctx.history.full()) {
      const t0 = performance.now();
      const key = `${REGISTER_KEY_PREFIX}${rng.intn(JepsenLimits.registerKeys)}`;
      const count = perKey.get(key) ?? 0;
      if (count < JepsenLimits.registerOpsPerKeyMax) {
        perKey.set(key, count + 1);
        const value = `c${clientId}-${n++}`;
        const roll = rng.float();
        const input: RegisterInput =
          roll < 0.4 ? { type: 'get', key } : roll < 0.7 ? { type: 'put', key, value } : { type: 'cas', key, expected: lastSeen.get(key) ?? null, value };
        const node = rng.range(1, ctx.cluster.nodes.length);
        const op = await performRegister(ctx, clientId, node, input);
        const v = op.value as RegisterValue;
        if (v.output?.type === 'get') lastSeen.set(key, v.output.value);
        else if (op.outcome === 'ok' && input.type !== 'get') lastSeen.set(key, input.value);
      }
      const left = intervalMs - (performance.now() - t0);
      if (left > 0) await sleep(left);
    }
  },

  async check(ctx: WorkloadContext): Promise<WorkloadResult> {
    const clientOps = ctx.history.ops('register');
    const counts = countOutcomes(clientOps);
    const anomalies: string[] = [];
    // Final reads: each key once, through the nodes in turn until one answers.
    for (let k = 0; k < JepsenLimits.registerKeys; k++) {
      const key = `${REGISTER_KEY_PREFIX}${k}`;
      let read = false;
      for (let i = 0; i < JepsenLimits.readBackAttemptsMax && !read; i++) {
        const op = await performRegister(ctx, -1, (i % ctx.cluster.nodes.length) + 1, { type: 'get', key });
        read = op.outcome === 'ok';
        if (!read) await sleep(JepsenLimits.recoveryPollMs);
      }
      if (!read) anomalies.push(`final read of ${key} failed on every node after recovery`);
    }
    const history = toCheckerHistory(ctx.history.ops('register'));
    const r = checkOperations(registerModel, history);
    if (r.outcome === 'illegal') anomalies.push(`not linearizable: ${r.explanation}`);
    if (r.outcome === 'unknown') anomalies.push(`linearizability undecided (a search limit was reached): ${r.explanation}`);
    return { valid: anomalies.length === 0, ...counts, lost: 0, unexpected: 0, duplicates: 0, anomalies: capAnomalies(anomalies) };
  },
};
