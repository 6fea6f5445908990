/**
 * workload.ts — the simulated clients: each issues one register operation at
 * a time (put, get, cas) to the node it believes leads, and records what it
 * saw as a history for the linearizability checker.
 *
 * Invariants:
 * - A client has at most one operation in flight; op ids per client only
 *   increase (the state machine deduplicates by them).
 * - An operation enters the history only with an outcome the client really
 *   knows: a returned result, or "unknown" (a write whose node crashed or
 *   that timed out). A write refused by `propose` (or sent to a node that is
 *   down) definitely never entered the log, so it is left out, as Jepsen
 *   leaves out :fail operations. A read that got no answer is left out too:
 *   it changed nothing.
 * - Clients learn of a new leader only from a refusal's leader hint or by
 *   trying another node after a timeout, never from the simulator's global
 *   view, so a client can keep talking to a deposed leader for a while.
 * - `history` is bounded by the number of steps times the number of clients
 *   (one operation per client per step at most).
 */
import { SimLimits } from '../../src/limits.js';
import { assert } from '../../src/errors.js';
import type { OtlpdbError } from '../../src/errors.js';
import type { NodeId } from '../../src/raft/types.js';
import type { Operation, RegisterInput, RegisterOutput } from '../checker/index.js';
import type { SimNode } from './driver.js';
import { KvKeysMax, encodeKvCommand } from './kv.js';
import type { KvApplied } from './kv.js';
import type { Prng } from './prng.js';

/** WorkloadClientsMax bounds the number of simulated clients. */
export const WorkloadClientsMax = SimLimits.clientsMax;

/** WorkloadValuePaddingBytesMax bounds the padding of written values. */
export const WorkloadValuePaddingBytesMax = SimLimits.valuePaddingBytesMax;

/** CasCandidatesMax is how many recent values per key a cas may expect. */
const CasCandidatesMax = 4;

/** ReadContextBytes is the size of a ReadIndex context: client id and op id, 32 bits each. */
const ReadContextBytes = 8;

/** WorkloadOptions is the per-seed shape of the workload. */
export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: number;
  /** issueProbability is the chance an idle client starts an operation in a step. */
  readonly issueProbability: number;
  /** putWeight, getWeight and casWeight set the operation mix. */
  readonly putWeight: number;
  readonly getWeight: number;
  readonly casWeight: number;
  /** timeoutTicks is how long a client waits before the outcome is unknown. */
  readonly timeoutTicks: number;
  /** valuePaddingBytes pads every written value, so entries fill messages and snapshots take many chunks. */
  readonly valuePaddingBytes: number;
}

/** RegisterOp is one history entry. */
export type RegisterOp = Operation<RegisterInput, RegisterOutput>;

/** ClusterView is what clients may do with the cluster: look a node up by id, list node ids. */
export interface ClusterView {
  node(id: NodeId): SimNode | undefined;
  nodeIds(): readonly NodeId[];
}

interface InFlight {
  readonly opId: number;
  readonly input: RegisterInput;
  readonly node: NodeId;
  readonly call: number;
  readonly deadline: number;
}

interface Client {
  readonly id: number;
  leader: NodeId;
  nextOpId: number;
  op: InFlight | null;
}

/** WorkloadStats counts client outcomes. */
export interface WorkloadStats {
  issued: number;
  ok: number;
  failed: number;
  unknown: number;
  readsLost: number;
}

/** readContext encodes a read's identity as its ReadIndex context. */
export function readContext(clientId: number, opId: number): Uint8Array {
  const ctx = new Uint8Array(ReadContextBytes);
  const v = new DataView(ctx.buffer);
  v.setUint32(0, clientId);
  v.setUint32(4, opId);
  return ctx;
}

function parseReadContext(ctx: Uint8Array): { clientId: number; opId: number } | null {
  if (ctx.length !== ReadContextBytes) return null;
  const v = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  return { clientId: v.getUint32(0), opId: v.getUint32(4) };
}

/** Workload runs the clients of one seed. */
export class Workload {
  readonly #options: WorkloadOptions;
  readonly #rand: Prng;
  readonly #clock: () => number;
  readonly #clients: Client[] = [];
  readonly #recent = new Map<string, string[]>();
  readonly #padding: string;
  /** history is every operation with a known or unknown outcome, in completion order. */
  readonly history: RegisterOp[] = [];
  /** stats counts outcomes. */
  readonly stats: WorkloadStats = { issued: 0, ok: 0, failed: 0, unknown: 0, readsLost: 0 };
  /** ackedIndexMax is the highest log index of a write a client saw succeed. */
  ackedIndexMax = 0;
  /** stopped clients issue nothing new (while the cluster heals). */
  stopped = false;

  constructor(options: WorkloadOptions, rand: Prng, clock: () => number, initialNodes: readonly NodeId[]) {
    assert(options.clients >= 1 && options.clients <= WorkloadClientsMax, 'clients within WorkloadClientsMax');
    assert(options.keys >= 1 && options.keys <= KvKeysMax, 'keys within KvKeysMax');
    assert(options.timeoutTicks > 0, 'client timeout > 0');
    this.#options = options;
    this.#rand = rand;
    this.#clock = clock;
    assert(options.valuePaddingBytes >= 0 && options.valuePaddingBytes <= WorkloadValuePaddingBytesMax, 'padding within bounds');
    this.#padding = options.valuePaddingBytes === 0 ? '' : '/' + '.'.repeat(options.valuePaddingBytes - 1);
    for (let id = 1; id <= options.clients; id++) {
      this.#clients.push({ id, leader: rand.pick(initialNodes), nextOpId: 1, op: null });
    }
  }

  /** inFlight is the number of clients waiting for an answer. */
  get inFlight(): number {
    let n = 0;
    for (const c of this.#clients) if (c.op !== null) n++;
    return n;
  }

  /** step expires timed-out operations, then lets idle clients issue new ones. */
  step(now: number, cluster: ClusterView): void {
    for (const c of this.#clients) {
      if (c.op !== null && now >= c.op.deadline) {
        this.#unknown(c);
        c.leader = this.#rand.pick(cluster.nodeIds());
      }
    }
    if (this.stopped) return;
    for (const c of this.#clients) {
      if (c.op === null && this.#rand.chance(this.#options.issueProbability)) this.#issue(c, now, cluster);
    }
  }

  #pickInput(c: Client): RegisterInput {
    const o = this.#options;
    const key = `k${this.#rand.intn(o.keys)}`;
    const value = `${c.id}.${c.nextOpId}${this.#padding}`;
    const x = this.#rand.float() * (o.putWeight + o.getWeight + o.casWeight);
    if (x < o.putWeight) return { type: 'put', key, value };
    if (x < o.putWeight + o.getWeight) return { type: 'get', key };
    const recent = this.#recent.get(key);
    const expected = recent === undefined || this.#rand.chance(0.2) ? null : this.#rand.pick(recent);
    return { type: 'cas', key, expected, value };
  }

  #remember(key: string, value: string): void {
    let r = this.#recent.get(key);
    if (r === undefined) {
      r = [];
      this.#recent.set(key, r);
    }
    r.push(value);
    if (r.length > CasCandidatesMax) r.shift();
  }

  #issue(c: Client, now: number, cluster: ClusterView): void {
    const input = this.#pickInput(c);
    const opId = c.nextOpId++;
    this.stats.issued++;
    const node = cluster.node(c.leader);
    const raw = node?.raw ?? null;
    if (node === undefined || raw === null) {
      // Connection refused: the operation never reached a node.
      this.stats.failed++;
      c.leader = this.#rand.pick(cluster.nodeIds());
      return;
    }
    let err: OtlpdbError | null;
    if (input.type === 'get') {
      err = raw.readIndex(readContext(c.id, opId));
    } else {
      this.#remember(input.key, input.value);
      err = raw.propose(encodeKvCommand({ clientId: c.id, opId, input }));
    }
    if (err !== null) {
      // propose/readIndex refused synchronously: nothing entered the log.
      this.stats.failed++;
      const hint = err.details['leaderHint'];
      c.leader = typeof hint === 'number' && hint > 0 ? hint : this.#rand.pick(cluster.nodeIds());
      return;
    }
    c.op = { opId, input, node: node.id, call: this.#clock(), deadline: now + this.#options.timeoutTicks };
  }

  #unknown(c: Client): void {
    const op = c.op;
    assert(op !== null, 'an unknown outcome belongs to an operation in flight');
    c.op = null;
    if (op.input.type === 'get') {
      this.stats.readsLost++;
      return;
    }
    this.stats.unknown++;
    this.history.push({ clientId: c.id, input: op.input, call: op.call, output: undefined, return: undefined });
  }

  #complete(c: Client, output: RegisterOutput): void {
    const op = c.op;
    assert(op !== null, 'a result belongs to an operation in flight');
    c.op = null;
    this.stats.ok++;
    this.history.push({ clientId: c.id, input: op.input, call: op.call, output, return: this.#clock() });
  }

  /** writeApplied hears that `node` applied a command at `index`; it answers the client waiting on that node. */
  writeApplied(node: SimNode, index: number, result: KvApplied): void {
    const c = this.#clients[result.clientId - 1];
    if (c === undefined || c.op === null || c.op.opId !== result.opId || c.op.node !== node.id) return;
    if (index > this.ackedIndexMax) this.ackedIndexMax = index;
    this.#complete(c, result.output);
  }

  /** snapshotInstalled answers clients waiting on `node` whose write the snapshot already holds. */
  snapshotInstalled(node: SimNode, index: number): void {
    for (const c of this.#clients) {
      if (c.op === null || c.op.node !== node.id || c.op.input.type === 'get') continue;
      const output = node.kv.resultOf(c.id, c.op.opId);
      if (output === undefined) continue;
      if (index > this.ackedIndexMax) this.ackedIndexMax = index;
      this.#complete(c, output);
    }
  }

  /** readServed answers the client whose ReadIndex context this is, with the node's local value. */
  readServed(node: SimNode, ctx: Uint8Array): void {
    const id = parseReadContext(ctx);
    if (id === null) return;
    const c = this.#clients[id.clientId - 1];
    if (c === undefined || c.op === null || c.op.opId !== id.opId || c.op.node !== node.id) return;
    const input = c.op.input;
    assert(input.type === 'get', 'a read context belongs to a get');
    this.#complete(c, { type: 'get', value: node.kv.get(input.key) });
  }

  /** nodeDown ends every operation waiting on a node that crashed or left: writes become unknown, reads are lost. */
  nodeDown(id: NodeId, nodeIds: readonly NodeId[]): void {
    for (const c of this.#clients) {
      if (c.op !== null && c.op.node === id) {
        this.#unknown(c);
        c.leader = this.#rand.pick(nodeIds);
      }
    }
  }

  /** finish ends every operation still in flight as unknown (the run is over). */
  finish(): void {
    for (const c of this.#clients) if (c.op !== null) this.#unknown(c);
  }
}
