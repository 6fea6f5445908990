/**
 * network.ts — the simulated network between Raft nodes, keyed by simulated
 * time in ticks.
 *
 * Invariants:
 * - A message is delivered at a tick strictly after the tick it was sent at,
 *   never before; ties are broken by send order, so delivery is a pure
 *   function of the seed.
 * - At most `queueMax` messages are in flight; a send past that is dropped
 *   (and counted), never queued.
 * - Messages are delivered as the very objects that were sent (zero copy).
 *   A duplicated message is the same object delivered twice, so nobody may
 *   mutate a message (the core's Message is readonly throughout).
 * - A message across a blocked link or to a node that is down is dropped, at
 *   send time and again at delivery time (the link or the receiver may have
 *   failed while it was in flight). A message whose sender crashes after
 *   sending is still delivered: it was already on the wire.
 *
 * The network owns its queue and its partition; the cluster owns which nodes
 * are up and tells the network through `setUp`.
 */
import { SimLimits } from '../../src/limits.js';
import { assert } from '../../src/errors.js';
import type { Message, NodeId } from '../../src/raft/types.js';
import type { Prng } from './prng.js';

/** NodeIdMax bounds node ids so that a directed link fits in one number key. */
export const NodeIdMax = SimLimits.nodeIdMax;

/** NetworkOptions are the per-seed fault rates of the network. */
export interface NetworkOptions {
  /** delayTicksMin is the smallest delivery delay (>= 1). */
  readonly delayTicksMin: number;
  /** delayTicksMax is the largest delivery delay; random delays reorder messages. */
  readonly delayTicksMax: number;
  /** lossProbability is the chance a message is silently lost. */
  readonly lossProbability: number;
  /** duplicateProbability is the chance a message is delivered a second time (later). */
  readonly duplicateProbability: number;
  /** queueMax bounds messages in flight (SimLimits.networkQueueMax). */
  readonly queueMax: number;
}

/** DropReason says why the network did not deliver a message. */
export type DropReason = 'loss' | 'partition' | 'down' | 'overflow';

/** NetworkStats counts what the network did over a run. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  duplicated: number;
  dropped: Record<DropReason, number>;
}

/** PartitionShape names the partition layouts the nemesis can impose. */
export type PartitionShape = 'halves' | 'isolate-leader' | 'bridge' | 'ring' | 'one-way';

/** Partition is a set of blocked directed links, with the shape that produced it. */
export interface Partition {
  readonly shape: PartitionShape;
  /** blocked holds linkKey(from, to) for every link that drops messages. */
  readonly blocked: ReadonlySet<number>;
}

/** linkKey packs a directed link into one number. */
export function linkKey(from: NodeId, to: NodeId): number {
  assert(from >= 0 && from <= NodeIdMax, 'link from within NodeIdMax');
  assert(to >= 0 && to <= NodeIdMax, 'link to within NodeIdMax');
  return from * (NodeIdMax + 1) + to;
}

/** blockBetween returns the links that cut every node of `a` from every node of `b` (both directions). */
function blockBetween(a: readonly NodeId[], b: readonly NodeId[], blocked: Set<number>): void {
  for (const x of a) {
    for (const y of b) {
      if (x === y) continue;
      blocked.add(linkKey(x, y));
      blocked.add(linkKey(y, x));
    }
  }
}

/**
 * makePartition builds one partition of `shape` over `nodes` (sorted ids of
 * the current members). `leader` is used by 'isolate-leader' (a random node
 * when there is no leader). Every shape blocks at least one link when there
 * are at least two nodes.
 */
export function makePartition(shape: PartitionShape, nodes: readonly NodeId[], leader: NodeId, rand: Prng): Partition {
  assert(nodes.length >= 2, 'a partition needs two nodes');
  const blocked = new Set<number>();
  const shuffled = rand.shuffle([...nodes]);
  switch (shape) {
    case 'halves': {
      const cut = rand.range(1, shuffled.length - 1);
      blockBetween(shuffled.slice(0, cut), shuffled.slice(cut), blocked);
      break;
    }
    case 'isolate-leader': {
      const alone = nodes.includes(leader) ? leader : rand.pick(nodes);
      blockBetween(
        [alone],
        nodes.filter((n) => n !== alone),
        blocked,
      );
      break;
    }
    case 'bridge': {
      // Two halves that both see one bridge node: the bridge can talk to
      // everyone, the halves cannot talk to each other.
      if (shuffled.length < 3) {
        blockBetween(shuffled.slice(0, 1), shuffled.slice(1), blocked);
        break;
      }
      const bridge = shuffled[0] as NodeId;
      const rest = shuffled.slice(1);
      const cut = rand.range(1, rest.length - 1);
      blockBetween(rest.slice(0, cut), rest.slice(cut), blocked);
      assert(!blocked.has(linkKey(bridge, rest[0] as NodeId)), 'bridge keeps its links');
      break;
    }
    case 'ring': {
      // Each node sees only its two neighbours in a random cycle.
      const n = shuffled.length;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const d = Math.min((i - j + n) % n, (j - i + n) % n);
          if (i !== j && d > 1) blocked.add(linkKey(shuffled[i] as NodeId, shuffled[j] as NodeId));
        }
      }
      if (blocked.size === 0) blockBetween(shuffled.slice(0, 1), shuffled.slice(1), blocked);
      break;
    }
    case 'one-way': {
      // A few directed links fail in one direction only (A -> B blocked, B -> A fine).
      const links = rand.range(1, Math.max(1, nodes.length - 1));
      for (let k = 0; k < links; k++) {
        const from = rand.pick(nodes);
        const to = rand.pick(nodes.filter((n) => n !== from));
        if (!blocked.has(linkKey(to, from))) blocked.add(linkKey(from, to));
      }
      if (blocked.size === 0) blocked.add(linkKey(shuffled[0] as NodeId, shuffled[1] as NodeId));
      break;
    }
  }
  assert(blocked.size > 0, 'a partition blocks at least one link');
  return { shape, blocked };
}

/** InFlight is one queued delivery. */
interface InFlight {
  readonly at: number;
  readonly seq: number;
  readonly msg: Message;
}

/**
 * Network queues messages until their delivery tick. It is a binary heap
 * ordered by (delivery tick, send sequence).
 */
export class Network {
  #options: NetworkOptions;
  readonly #rand: Prng;
  readonly #heap: InFlight[] = [];
  readonly #down = new Set<NodeId>();
  #partition: Partition | null = null;
  #seq = 0;
  /** stats counts sends, deliveries, duplicates and drops by reason. */
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    duplicated: 0,
    dropped: { loss: 0, partition: 0, down: 0, overflow: 0 },
  };
  /** onDrop, when set, hears about every dropped message (the cluster reports failed snapshots). */
  onDrop: ((msg: Message, reason: DropReason) => void) | null = null;

  constructor(options: NetworkOptions, rand: Prng) {
    assert(options.delayTicksMin >= 1, 'network delay >= 1 tick');
    assert(options.delayTicksMax >= options.delayTicksMin, 'delayTicksMax >= delayTicksMin');
    assert(options.queueMax > 0, 'network queueMax > 0');
    this.#options = options;
    this.#rand = rand;
  }

  /** inFlight is the number of queued deliveries. */
  get inFlight(): number {
    return this.#heap.length;
  }

  /** partition is the partition in force, or null when every link works. */
  get partition(): Partition | null {
    return this.#partition;
  }

  /** setPartition imposes (or, with null, heals) a partition. */
  setPartition(partition: Partition | null): void {
    this.#partition = partition;
  }

  /** calm stops loss and duplication from now on (the run is healing); delays and reordering stay. */
  calm(): void {
    this.#options = { ...this.#options, lossProbability: 0, duplicateProbability: 0 };
  }

  /** setUp marks a node up or down; traffic from or to a down node is dropped. */
  setUp(id: NodeId, up: boolean): void {
    if (up) this.#down.delete(id);
    else this.#down.add(id);
  }

  /** connected says whether a message from `from` to `to` would cross right now. */
  connected(from: NodeId, to: NodeId): boolean {
    if (this.#down.has(from) || this.#down.has(to)) return false;
    return this.#partition === null || !this.#partition.blocked.has(linkKey(from, to));
  }

  #drop(msg: Message, reason: DropReason): void {
    this.stats.dropped[reason]++;
    if (this.onDrop !== null) this.onDrop(msg, reason);
  }

  #reason(msg: Message, atDelivery: boolean): DropReason | null {
    // A message already on the wire still arrives if its sender crashes
    // afterwards: that is exactly what makes "send before persist" unsafe.
    if (this.#down.has(msg.to) || (!atDelivery && this.#down.has(msg.from))) return 'down';
    if (this.#partition !== null && this.#partition.blocked.has(linkKey(msg.from, msg.to))) return 'partition';
    return null;
  }

  /** send queues `msg` at tick `now` for delivery after a random delay, or drops it. */
  send(msg: Message, now: number): void {
    assert(msg.from !== msg.to, 'no message to self crosses the network');
    this.stats.sent++;
    const reason = this.#reason(msg, false);
    if (reason !== null) return this.#drop(msg, reason);
    if (this.#rand.chance(this.#options.lossProbability)) return this.#drop(msg, 'loss');
    this.#push(msg, now);
    if (this.#rand.chance(this.#options.duplicateProbability)) {
      this.stats.duplicated++;
      this.#push(msg, now);
    }
  }

  #push(msg: Message, now: number): void {
    if (this.#heap.length >= this.#options.queueMax) return this.#drop(msg, 'overflow');
    const at = now + this.#rand.range(this.#options.delayTicksMin, this.#options.delayTicksMax);
    const item: InFlight = { at, seq: this.#seq++, msg };
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as InFlight;
      if (less(p, item)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  }

  #pop(): InFlight {
    const heap = this.#heap;
    const top = heap[0] as InFlight;
    const last = heap.pop() as InFlight;
    if (heap.length > 0) {
      let i = 0;
      const n = heap.length;
      while (true) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && less(heap[r] as InFlight, heap[l] as InFlight)) c = r;
        const child = heap[c] as InFlight;
        if (less(last, child)) break;
        heap[i] = child;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }

  /**
   * deliver returns, in delivery order, every message due at or before tick
   * `now` that can still cross (receiver up, link open). Others are dropped.
   */
  deliver(now: number): Message[] {
    const out: Message[] = [];
    while (this.#heap.length > 0 && (this.#heap[0] as InFlight).at <= now) {
      const { msg } = this.#pop();
      const reason = this.#reason(msg, true);
      if (reason !== null) {
        this.#drop(msg, reason);
        continue;
      }
      this.stats.delivered++;
      out.push(msg);
    }
    return out;
  }

  /** clear drops everything in flight (used by tests). */
  clear(): void {
    this.#heap.length = 0;
  }
}

function less(a: InFlight, b: InFlight): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
