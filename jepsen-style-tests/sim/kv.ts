/**
 * kv.ts — the replicated state machine of the simulator's workload: a map of
 * registers (string keys to string values) changed by put and cas commands.
 *
 * Invariants:
 * - `apply` is deterministic: the same sequence of commands gives the same
 *   map and the same results on every replica.
 * - Each client has at most one operation in flight and numbers them
 *   increasingly, so `#last` (client -> last applied op and its result) is
 *   enough both to answer the client and to apply a duplicated proposal at
 *   most once (a forwarded proposal can be duplicated by the network).
 * - A snapshot carries the map and `#last`, so a replica restored from one
 *   answers and deduplicates exactly as one that applied every command.
 * - Bounded: keys are limited by the workload (KvKeysMax), `#last` by the
 *   number of clients.
 */
import { SimLimits } from '../../src/limits.js';
import { assert } from '../../src/errors.js';
import type { RegisterInput, RegisterOutput } from '../checker/index.js';

/** KvKeysMax bounds the number of distinct keys a workload may use. */
export const KvKeysMax = SimLimits.kvKeysMax;

/** KvCommand is one replicated write: a put or a compare-and-set, tagged with its client and op id. */
export interface KvCommand {
  readonly clientId: number;
  readonly opId: number;
  readonly input: Extract<RegisterInput, { type: 'put' } | { type: 'cas' }>;
}

/** KvWriteOutput is the result of applying a put or a cas. */
export type KvWriteOutput = Extract<RegisterOutput, { type: 'put' } | { type: 'cas' }>;

/** KvApplied tells the proposer of a command what became of it. */
export interface KvApplied {
  readonly clientId: number;
  readonly opId: number;
  readonly output: KvWriteOutput;
  /** duplicate is true when the command had already been applied (it changed nothing now). */
  readonly duplicate: boolean;
}

interface LastOp {
  readonly opId: number;
  readonly output: KvWriteOutput;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** encodeKvCommand encodes a command as the data of a Raft entry (compact JSON array). */
export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  const i = cmd.input;
  const body = i.type === 'put' ? [cmd.clientId, cmd.opId, 'p', i.key, i.value] : [cmd.clientId, cmd.opId, 'c', i.key, i.value, i.expected];
  return encoder.encode(JSON.stringify(body));
}

/** decodeKvCommand is the inverse of encodeKvCommand. */
export function decodeKvCommand(data: Uint8Array): KvCommand {
  const body = JSON.parse(decoder.decode(data)) as unknown[];
  assert(Array.isArray(body) && body.length >= 5, 'kv command is an array');
  const [clientId, opId, kind, key, value, expected] = body;
  assert(typeof clientId === 'number' && typeof opId === 'number', 'kv command ids are numbers');
  assert(typeof key === 'string' && typeof value === 'string', 'kv command key and value are strings');
  if (kind === 'p') return { clientId, opId, input: { type: 'put', key, value } };
  assert(kind === 'c', 'kv command kind is put or cas');
  assert(expected === null || typeof expected === 'string', 'cas expected is a string or null');
  return { clientId, opId, input: { type: 'cas', key, expected, value } };
}

/** KvStore is one replica's state machine. */
export class KvStore {
  readonly #map = new Map<string, string>();
  readonly #last = new Map<number, LastOp>();

  /** get reads a register (null when never written). */
  get(key: string): string | null {
    return this.#map.get(key) ?? null;
  }

  /** size is the number of keys written. */
  get size(): number {
    return this.#map.size;
  }

  /** apply executes one command, once: a command whose op id was already applied for its client is skipped. */
  apply(cmd: KvCommand): KvApplied {
    const prev = this.#last.get(cmd.clientId);
    if (prev !== undefined && prev.opId >= cmd.opId) {
      // Duplicate of an applied command; an older one than the last cannot be answered, and its client has moved on.
      return { clientId: cmd.clientId, opId: cmd.opId, output: prev.output, duplicate: true };
    }
    const i = cmd.input;
    let output: KvWriteOutput;
    if (i.type === 'put') {
      this.#map.set(i.key, i.value);
      output = { type: 'put' };
    } else {
      const ok = (this.#map.get(i.key) ?? null) === i.expected;
      if (ok) this.#map.set(i.key, i.value);
      output = { type: 'cas', ok };
    }
    assert(this.#map.size <= KvKeysMax, 'kv keys within KvKeysMax');
    this.#last.set(cmd.clientId, { opId: cmd.opId, output });
    return { clientId: cmd.clientId, opId: cmd.opId, output, duplicate: false };
  }

  /** resultOf returns the output of a client's op if it is the client's last applied op. */
  resultOf(clientId: number, opId: number): KvWriteOutput | undefined {
    const last = this.#last.get(clientId);
    return last !== undefined && last.opId === opId ? last.output : undefined;
  }

  /** snapshot encodes the whole state (map and per-client last results), in a canonical order. */
  snapshot(): Uint8Array {
    const map = [...this.#map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const last = [...this.#last.entries()].sort((a, b) => a[0] - b[0]).map(([c, l]) => [c, l.opId, l.output]);
    return encoder.encode(JSON.stringify({ map, last }));
  }

  /** restore builds a store from a snapshot (an empty snapshot is the empty store). */
  static restore(data: Uint8Array): KvStore {
    const kv = new KvStore();
    if (data.length === 0) return kv;
    const body = JSON.parse(decoder.decode(data)) as { map: [string, string][]; last: [number, number, KvWriteOutput][] };
    assert(Array.isArray(body.map) && Array.isArray(body.last), 'kv snapshot has map and last');
    for (const [k, v] of body.map) kv.#map.set(k, v);
    for (const [c, opId, output] of body.last) kv.#last.set(c, { opId, output });
    return kv;
  }

  /** fingerprint is a 32-bit hash of the canonical snapshot, for comparing replicas. */
  fingerprint(): number {
    return fnv1a(this.snapshot());
  }
}

/** fnv1a is the 32-bit FNV-1a hash of bytes, optionally continuing from `h`. */
export function fnv1a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
