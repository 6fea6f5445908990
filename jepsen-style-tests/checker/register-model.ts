/**
 * register-model.ts — the sequential specification of the KV workload: one
 * read/write/compare-and-set register per key, initially absent (null). The
 * simulator's KV workload and the control KV are checked against it.
 */
import type { Model, Operation } from './types.js';

/** RegisterInput is one request to the register of `key`. */
export type RegisterInput =
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'get'; readonly key: string }
  | { readonly type: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

/** RegisterOutput is the reply to a RegisterInput of the same type; a get's null means the key is absent. */
export type RegisterOutput =
  | { readonly type: 'put' }
  | { readonly type: 'get'; readonly value: string | null }
  | { readonly type: 'cas'; readonly ok: boolean };

/** ABSENT_STATE_KEY is the cache key of the absent register; a number, so no string value can collide with it. */
const ABSENT_STATE_KEY = -1;

type RegisterStep = { ok: boolean; state: string | null };

/**
 * registerModel is one register per key (initial null), partitioned by key.
 * A reply of the wrong type for its request is illegal; a missing reply
 * (unknown outcome) allows whatever the register would have done.
 */
export const registerModel: Model<string | null, RegisterInput, RegisterOutput> = {
  init(): string | null {
    return null;
  },

  step(state: string | null, input: RegisterInput, output: RegisterOutput | undefined): RegisterStep {
    switch (input.type) {
      case 'put':
        return { ok: output === undefined || output.type === 'put', state: input.value };
      case 'get':
        return { ok: output === undefined || (output.type === 'get' && output.value === state), state };
      case 'cas': {
        const swapped = state === input.expected;
        const next = swapped ? input.value : state;
        return { ok: output === undefined || (output.type === 'cas' && output.ok === swapped), state: next };
      }
    }
  },

  partition(ops: readonly Operation<RegisterInput, RegisterOutput>[]): Operation<RegisterInput, RegisterOutput>[][] {
    const byKey = new Map<string, Operation<RegisterInput, RegisterOutput>[]>();
    for (const op of ops) {
      const list = byKey.get(op.input.key);
      if (list === undefined) byKey.set(op.input.key, [op]);
      else list.push(op);
    }
    return [...byKey.values()];
  },

  stateKey(state: string | null): string | number {
    return state === null ? ABSENT_STATE_KEY : state;
  },

  describeOperation(input: RegisterInput, output: RegisterOutput | undefined): string {
    const key = `key=${JSON.stringify(input.key)}`;
    switch (input.type) {
      case 'put':
        return `put(${key}, value=${JSON.stringify(input.value)}) -> ${output === undefined ? 'unknown' : describeOutput(output)}`;
      case 'get':
        return `get(${key}) -> ${output === undefined ? 'unknown' : describeOutput(output)}`;
      case 'cas':
        return (
          `cas(${key}, expected=${JSON.stringify(input.expected)}, value=${JSON.stringify(input.value)}) -> ` +
          (output === undefined ? 'unknown' : describeOutput(output))
        );
    }
  },
};

function describeOutput(output: RegisterOutput): string {
  switch (output.type) {
    case 'put':
      return 'ok';
    case 'get':
      return JSON.stringify(output.value);
    case 'cas':
      return output.ok ? 'swapped' : 'not swapped';
  }
}

/** isRegisterInput checks untrusted data (a JSON line) against RegisterInput. */
export function isRegisterInput(value: unknown): value is RegisterInput {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (typeof v['key'] !== 'string') return false;
  switch (v['type']) {
    case 'put':
      return hasOnlyKeys(v, ['type', 'key', 'value']) && typeof v['value'] === 'string';
    case 'get':
      return hasOnlyKeys(v, ['type', 'key']);
    case 'cas':
      return (
        hasOnlyKeys(v, ['type', 'key', 'expected', 'value']) &&
        (typeof v['expected'] === 'string' || v['expected'] === null) &&
        typeof v['value'] === 'string'
      );
    default:
      return false;
  }
}

/** isRegisterOutput checks untrusted data (a JSON line) against RegisterOutput. */
export function isRegisterOutput(value: unknown): value is RegisterOutput {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  switch (v['type']) {
    case 'put':
      return hasOnlyKeys(v, ['type']);
    case 'get':
      return hasOnlyKeys(v, ['type', 'value']) && (typeof v['value'] === 'string' || v['value'] === null);
    case 'cas':
      return hasOnlyKeys(v, ['type', 'ok']) && typeof v['ok'] === 'boolean';
    default:
      return false;
  }
}

function hasOnlyKeys(v: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(v).every((k) => allowed.includes(k)) && allowed.every((k) => k in v);
}
