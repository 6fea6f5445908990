import { performance } from 'node:perf_hooks';
import t from 'tap';
import { checkOperations, registerModel } from './index.js';
import type { Operation, RegisterInput, RegisterOutput } from './index.js';

type Op = Operation<RegisterInput, RegisterOutput>;

/** Rng is a seeded xorshift32 PRNG: one seed reproduces one history. */
class Rng {
  #x: number;
  constructor(seed: number) {
    this.#x = seed >>> 0 || 0x9e3779b9;
  }
  /** u32 returns the next 32-bit value. */
  u32(): number {
    let x = this.#x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#x = x >>> 0;
    return this.#x;
  }
  /** int returns an integer in [0, n). */
  int(n: number): number {
    return this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

/** SEED_BASE can be set (CHECKER_SEED=n) to reproduce a failure printed by these tests. */
const SEED_BASE = Number(process.env['CHECKER_SEED'] ?? 1);

interface GenOptions {
  readonly clients: number;
  readonly ops: number;
  readonly keys: number;
  readonly durationMax: number;
  readonly unknownRate: number;
}

/**
 * linearizableHistory simulates a real register per key: every operation takes
 * effect at a random instant inside [call, return] (an unknown-outcome one
 * takes effect after its call, or never), and its output is the register's
 * real answer. Every written value is unique.
 */
function linearizableHistory(rng: Rng, o: GenOptions): Op[] {
  interface Pending {
    readonly clientId: number;
    readonly input: RegisterInput;
    readonly call: number;
    readonly ret: number;
    readonly at: number; // when it takes effect; -1 = never
    readonly tieBreak: number;
    readonly unknown: boolean;
  }
  const clientFree = new Array<number>(o.clients).fill(0);
  const written = new Map<string, string[]>();
  const pending: Pending[] = [];
  for (let i = 0; i < o.ops; i++) {
    const clientId = rng.int(o.clients);
    const call = (clientFree[clientId] as number) + rng.int(3);
    const ret = call + rng.int(o.durationMax + 1);
    clientFree[clientId] = ret + 1;
    const key = `k${rng.int(o.keys)}`;
    const values = written.get(key) ?? [];
    written.set(key, values);
    const roll = rng.int(10);
    let input: RegisterInput;
    if (roll < 4) {
      input = { type: 'get', key };
    } else if (roll < 8) {
      input = { type: 'put', key, value: `v${i}` };
      values.push(`v${i}`);
    } else {
      const expected = values.length === 0 || rng.chance(0.2) ? null : (values[values.length - 1 - rng.int(Math.min(2, values.length))] as string);
      input = { type: 'cas', key, expected, value: `v${i}` };
      values.push(`v${i}`);
    }
    const unknown = rng.chance(o.unknownRate);
    const at = unknown ? (rng.chance(0.5) ? call + rng.int(3 * o.durationMax + 1) : -1) : call + rng.int(ret - call + 1);
    pending.push({ clientId, input, call, ret, at, tieBreak: rng.u32(), unknown });
  }
  const outputs = new Map<Pending, RegisterOutput>();
  const registers = new Map<string, string | null>();
  const effective = pending.filter((p) => p.at >= 0).sort((a, b) => a.at - b.at || a.tieBreak - b.tieBreak);
  for (const p of effective) {
    const state = registers.get(p.input.key) ?? null;
    const { ok, state: next } = registerModel.step(state, p.input, undefined);
    if (!ok) throw new Error('the register accepts every input');
    registers.set(p.input.key, next);
    const output: RegisterOutput =
      p.input.type === 'put'
        ? { type: 'put' }
        : p.input.type === 'get'
          ? { type: 'get', value: state }
          : { type: 'cas', ok: state === p.input.expected };
    outputs.set(p, output);
  }
  return pending.map((p) => ({
    clientId: p.clientId,
    input: p.input,
    call: p.call,
    return: p.unknown ? undefined : p.ret,
    output: p.unknown ? undefined : outputs.get(p),
  }));
}

const writtenValue = (op: Op): string | undefined => (op.input.type === 'get' ? undefined : op.input.value);
const isKnownWrite = (op: Op): boolean =>
  op.output !== undefined && (op.output.type === 'put' || (op.output.type === 'cas' && op.output.ok));
const before = (a: Op, b: Op): boolean => a.output !== undefined && a.return !== undefined && a.return < b.call;

/**
 * impossibleValue returns a value that `get` cannot legally return in any
 * linearization: a value written strictly after it returned, a value
 * overwritten by a known write that completed before it was called (or null
 * once such a write completed), or a value never written.
 */
function impossibleValue(rng: Rng, history: readonly Op[], get: Op): string | null {
  const sameKey = history.filter((op) => op.input.key === get.input.key && op !== get);
  const future = sameKey.filter((p) => p.call > (get.return as number)).flatMap((p) => writtenValue(p) ?? []);
  const overwriters = sameKey.filter((q) => isKnownWrite(q) && before(q, get));
  const stale = sameKey
    .filter((p) => p.output !== undefined && overwriters.some((q) => before(p, q)))
    .flatMap((p) => writtenValue(p) ?? []);
  const choices: (string | null)[][] = [['never-written']];
  if (future.length > 0) choices.push(future);
  if (stale.length > 0) choices.push(stale);
  if (overwriters.length > 0) choices.push([null]);
  return rng.pick(rng.pick(choices));
}

t.test('random linearizable histories are ok; one impossible read makes them illegal', async (t) => {
  const seeds = 300;
  let illegalChecked = 0;
  for (let seed = SEED_BASE; seed < SEED_BASE + seeds; seed++) {
    const rng = new Rng(seed);
    const history = linearizableHistory(rng, {
      clients: 2 + rng.int(6),
      ops: 20 + rng.int(150),
      keys: 1 + rng.int(3),
      durationMax: 1 + rng.int(12),
      unknownRate: rng.pick([0, 0.05, 0.2]),
    });
    const ok = checkOperations(registerModel, history);
    if (ok.outcome !== 'ok') {
      t.fail(`seed ${seed}: a linearizable history was judged ${ok.outcome}: ${ok.explanation}`);
      continue;
    }
    const gets = history.flatMap((op, i) => (op.input.type === 'get' && op.output !== undefined ? [i] : []));
    if (gets.length === 0) continue;
    const index = rng.pick(gets);
    const victim = history[index] as Op;
    const value = impossibleValue(rng, history, victim);
    const mutated = history.slice();
    mutated[index] = { ...victim, output: { type: 'get', value } };
    const bad = checkOperations(registerModel, mutated);
    illegalChecked++;
    if (bad.outcome !== 'illegal') {
      t.fail(`seed ${seed}: reading ${JSON.stringify(value)} at op ${index} was judged ${bad.outcome}`);
      continue;
    }
    if (!bad.explanation.includes(`key=${JSON.stringify(victim.input.key)}`)) {
      t.fail(`seed ${seed}: the explanation does not name key ${victim.input.key}: ${bad.explanation}`);
    }
  }
  t.ok(illegalChecked > seeds * 0.9, `${illegalChecked} mutated histories were checked`);
  t.pass(`seeds ${SEED_BASE}..${SEED_BASE + seeds - 1} passed`);
});

/**
 * bruteForce decides linearizability by trying every order of the operations
 * that respects real time (a before b iff a has a known output and returned
 * strictly before b was called). Operations with an unknown outcome may be
 * placed anywhere after everything they follow, or left out.
 */
function bruteForce(history: readonly Op[]): boolean {
  const n = history.length;
  const placed = new Array<boolean>(n).fill(false);
  const mustCount = history.filter((op) => op.output !== undefined).length;
  const search = (state: string | null, mustPlaced: number): boolean => {
    if (mustPlaced === mustCount) return true;
    for (let i = 0; i < n; i++) {
      if (placed[i]) continue;
      const op = history[i] as Op;
      if (history.some((p, j) => !placed[j] && j !== i && before(p, op))) continue;
      const { ok, state: next } = registerModel.step(state, op.input, op.output);
      if (!ok) continue;
      placed[i] = true;
      const found = search(next, mustPlaced + (op.output === undefined ? 0 : 1));
      placed[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(null, 0);
}

/** randomSmallHistory draws arbitrary (often non-linearizable) one-key histories with many equal timestamps. */
function randomSmallHistory(rng: Rng): Op[] {
  const values = ['a', 'b', 'c'];
  const n = 1 + rng.int(7);
  const unknownRate = rng.pick([0.1, 0.4]);
  const history: Op[] = [];
  for (let i = 0; i < n; i++) {
    const call = rng.int(8);
    const ret = call + rng.int(4);
    const unknown = rng.chance(unknownRate);
    const roll = rng.int(3);
    let input: RegisterInput;
    let output: RegisterOutput;
    if (roll === 0) {
      input = { type: 'put', key: 'k', value: rng.pick(values) };
      output = { type: 'put' };
    } else if (roll === 1) {
      input = { type: 'get', key: 'k' };
      output = { type: 'get', value: rng.pick([null, ...values]) };
    } else {
      input = { type: 'cas', key: 'k', expected: rng.pick([null, ...values]), value: rng.pick(values) };
      output = { type: 'cas', ok: rng.chance(0.5) };
    }
    history.push({
      clientId: i,
      input,
      call,
      return: unknown && rng.chance(0.5) ? undefined : ret,
      output: unknown ? undefined : output,
    });
  }
  return history;
}

t.test('the search agrees with an exhaustive permutation checker on small histories', async (t) => {
  const trials = 5000;
  const counts = { ok: 0, illegal: 0 };
  for (let seed = SEED_BASE; seed < SEED_BASE + trials; seed++) {
    const history = randomSmallHistory(new Rng(seed));
    const expected = bruteForce(history) ? 'ok' : 'illegal';
    const actual = checkOperations(registerModel, history).outcome;
    counts[expected]++;
    if (actual !== expected) {
      t.fail(`seed ${seed}: search says ${actual}, brute force says ${expected}: ${JSON.stringify(history)}`);
      return;
    }
  }
  t.ok(counts.ok > trials / 10, `${counts.ok} linearizable histories`);
  t.ok(counts.illegal > trials / 10, `${counts.illegal} non-linearizable histories`);
});

t.test('performance sanity: 2,000 ops on one key with moderate concurrency', async (t) => {
  const rng = new Rng(SEED_BASE + 424242);
  const history = linearizableHistory(rng, { clients: 8, ops: 2000, keys: 1, durationMax: 10, unknownRate: 0.01 });
  const start = performance.now();
  const r = checkOperations(registerModel, history);
  const ms = performance.now() - start;
  t.equal(r.outcome, 'ok', r.explanation);
  t.comment(`2,000 ops, 8 clients, 1% unknown: ${r.outcome} in ${ms.toFixed(1)} ms, ${r.partitions[0]?.searchSteps} search steps`);

  const index = history.findIndex((op, i) => i > 1500 && op.input.type === 'get' && op.output !== undefined);
  const mutated = history.slice();
  mutated[index] = { ...(history[index] as Op), output: { type: 'get', value: 'never-written' } };
  const start2 = performance.now();
  const bad = checkOperations(registerModel, mutated);
  const ms2 = performance.now() - start2;
  t.equal(bad.outcome, 'illegal');
  t.comment(`the same history with one impossible read: ${bad.outcome} in ${ms2.toFixed(1)} ms, ${bad.partitions[0]?.searchSteps} search steps`);
});
