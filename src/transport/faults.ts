/**
 * faults.ts — fault injection on the send path of the peer transport, for
 * tests and the admin endpoint: per peer delay, drop, duplicate and reorder,
 * all driven by one injected seeded random source so a seed reproduces the
 * same decisions for the same sequence of sends.
 *
 * Invariants: a FaultInjector holds back at most faultReorderHeldMax
 * messages per peer; it only reorders, drops or duplicates whole messages,
 * never alters one; with no faults set it returns its input unchanged.
 */
import { OtlpdbError, assert } from '../errors.js';
import type { Message, NodeId, Rand } from '../raft/types.js';
import { TransportLimits } from '../limits.js';

/** Faults are the faults applied to messages sent to one peer. Probabilities are in [0, 1]. */
export interface Faults {
  /** delayMs holds every frame to this peer for this long before it is queued. */
  readonly delayMs?: number;
  /** dropProbability drops each message with this probability. */
  readonly dropProbability?: number;
  /** duplicateProbability sends each message twice with this probability. */
  readonly duplicateProbability?: number;
  /** reorderProbability holds a message back with this probability and releases it after the next send to the peer. */
  readonly reorderProbability?: number;
}

/** FaultCounters count what the injector did. */
export interface FaultCounters {
  dropped: number;
  duplicated: number;
  reordered: number;
}

const PROBABILITY_SCALE = 1_000_000;

/** checkFaults refuses out-of-range fault settings with ERR_INVALID_ARGUMENT. */
export function checkFaults(f: Faults): void {
  const probs: Array<[string, number | undefined]> = [
    ['dropProbability', f.dropProbability],
    ['duplicateProbability', f.duplicateProbability],
    ['reorderProbability', f.reorderProbability],
  ];
  for (const [name, p] of probs) {
    if (p !== undefined && !(typeof p === 'number' && p >= 0 && p <= 1)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${name} must be in [0, 1]`, { [name]: p });
    }
  }
  const d = f.delayMs;
  if (d !== undefined && !(Number.isSafeInteger(d) && d >= 0 && d <= TransportLimits.faultDelayMsMax)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `delayMs must be an integer in [0, ${TransportLimits.faultDelayMsMax}]`, { delayMs: d });
  }
}

/** FaultInjector applies per-peer Faults to outgoing messages. */
export class FaultInjector {
  readonly #rand: Rand;
  readonly #faults = new Map<NodeId, Faults>();
  readonly #held = new Map<NodeId, Message[]>();
  readonly counters: FaultCounters = { dropped: 0, duplicated: 0, reordered: 0 };

  constructor(rand: Rand) {
    this.#rand = rand;
  }

  /** set replaces the faults for one peer (checked first). */
  set(peer: NodeId, faults: Faults): void {
    checkFaults(faults);
    this.#faults.set(peer, { ...faults });
  }

  /** clear removes every fault; held-back messages are returned to the caller per peer for sending. */
  clear(): Map<NodeId, Message[]> {
    this.#faults.clear();
    const released = new Map(this.#held);
    this.#held.clear();
    return released;
  }

  /** forget drops the state of a peer that left the membership. */
  forget(peer: NodeId): void {
    this.#faults.delete(peer);
    this.#held.delete(peer);
  }

  /** faults returns a copy of the faults set, per peer. */
  faults(): Map<NodeId, Faults> {
    const out = new Map<NodeId, Faults>();
    for (const [peer, f] of this.#faults) out.set(peer, { ...f });
    return out;
  }

  /** delayMs is the injected delay for a peer (0 when none). */
  delayMs(peer: NodeId): number {
    return this.#faults.get(peer)?.delayMs ?? 0;
  }

  /** active says whether any fault is set for a peer. */
  active(peer: NodeId): boolean {
    return this.#faults.has(peer) || this.#held.has(peer);
  }

  #roll(p: number | undefined): boolean {
    if (p === undefined || p <= 0) return false;
    if (p >= 1) return true;
    return this.#rand.intn(PROBABILITY_SCALE) < p * PROBABILITY_SCALE;
  }

  /** apply returns the messages to actually send to `peer`, in order, for one batch. */
  apply(peer: NodeId, msgs: readonly Message[]): Message[] {
    const f = this.#faults.get(peer);
    const heldBefore = this.#held.get(peer) ?? [];
    if (f === undefined) {
      this.#held.delete(peer);
      return heldBefore.length === 0 ? [...msgs] : [...msgs, ...heldBefore];
    }
    const out: Message[] = [];
    const heldNow: Message[] = [];
    for (const m of msgs) {
      if (this.#roll(f.dropProbability)) {
        this.counters.dropped++;
        continue;
      }
      const copies = this.#roll(f.duplicateProbability) ? 2 : 1;
      if (copies === 2) this.counters.duplicated++;
      for (let c = 0; c < copies; c++) {
        if (heldNow.length < TransportLimits.faultReorderHeldMax && this.#roll(f.reorderProbability)) {
          this.counters.reordered++;
          heldNow.push(m);
        } else {
          out.push(m);
        }
      }
    }
    // Messages held back by the previous batch go out after this batch's: out of order.
    out.push(...heldBefore);
    if (heldNow.length > 0) this.#held.set(peer, heldNow);
    else this.#held.delete(peer);
    assert(heldNow.length <= TransportLimits.faultReorderHeldMax, 'held within faultReorderHeldMax');
    return out;
  }
}
