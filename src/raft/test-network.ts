/**
 * test-network.ts — a test-only harness for the Raft core, in the manner of
 * etcd's newNetwork: in-memory replicas over MemoryStorage, a synchronous
 * network that delivers every message until the cluster is quiet, links
 * that can be cut, and a seeded random source. Not exported from index.ts.
 *
 * Invariants: a node's Ready is carried out in the documented order
 * (persist, send, apply, advance); delivery is deterministic for a seed;
 * every loop is bounded (deliverStepsMax) so a livelock fails the test.
 */
import { assert } from '../errors.js';
import { decodeConfChange } from './conf-change.js';
import { MemoryStorage } from './memory-storage.js';
import type { Raft } from './raft.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { RawNode } from './raw-node.js';
import { incarnationHardState, tombstoneOf } from './tombstone.js';
import { EntryType, StateRole } from './types.js';
import type { Config, ConfState, Entry, Message, NodeId, ReadState, Snapshot, VoteFloor } from './types.js';

/** TestNode is one replica of a TestNetwork and what its driver observed. */
export interface TestNode {
  readonly id: NodeId;
  storage: MemoryStorage;
  raw: RawNode;
  /** applied lists the applied Normal entries with data (no-ops excluded). */
  applied: Entry[];
  /** readStates lists every ReadState delivered. */
  readStates: ReadState[];
  /** confState is the membership the driver last saw take effect. */
  confState: ConfState;
  /** snapshots lists every snapshot the driver installed from a Ready. */
  snapshots: Snapshot[];
  /** readyMustSync records mustSync of every non-empty Ready. */
  readies: { mustSync: boolean; entries: number; termChanged: boolean; voteChanged: boolean }[];
}

/** TestNetworkOptions configure every replica of a TestNetwork. */
export interface TestNetworkOptions {
  readonly seed?: number;
  readonly learners?: readonly NodeId[];
  readonly config?: Partial<Omit<Config, 'id' | 'group' | 'storage' | 'rand'>>;
  readonly makeRaft?: (config: Config) => Raft;
  /** preload gives a replica log entries (after the bootstrap index 1) and a hard-state term before it starts. */
  readonly preload?: (id: NodeId) => { readonly terms: readonly number[]; readonly term: number } | undefined;
}

/** TestNetwork is an in-memory cluster with a synchronous, cuttable network. */
export class TestNetwork {
  readonly nodes = new Map<NodeId, TestNode>();
  /** delivered lists every message delivered (for counting round trips). */
  delivered: Message[] = [];
  /** dropped lists every message dropped by a cut link or the filter. */
  dropped: Message[] = [];
  /** filter, when set, drops messages for which it returns false. */
  filter: ((m: Message) => boolean) | null = null;
  readonly #cut = new Set<string>();
  readonly #opts: TestNetworkOptions;
  #seed: number;
  static readonly deliverStepsMax = 100_000;

  constructor(voters: readonly NodeId[], opts: TestNetworkOptions = {}) {
    this.#opts = opts;
    this.#seed = opts.seed ?? 1;
    const cs: ConfState = { voters: [...voters], learners: [...(opts.learners ?? [])] };
    for (const id of [...voters, ...(opts.learners ?? [])]) {
      const storage = new MemoryStorage(cs);
      const pre = opts.preload?.(id);
      if (pre !== undefined) {
        storage.append(pre.terms.map((term, k) => ({ term, index: k + 2, type: EntryType.Normal, data: new Uint8Array([k & 0xff]) })));
        storage.setHardState({ term: pre.term, vote: 0, commit: 1 });
      }
      this.#addNode(id, storage);
    }
  }

  #addNode(id: NodeId, storage: MemoryStorage, voteFloor?: VoteFloor): TestNode {
    const config: Config = {
      electionTicks: 10,
      heartbeatTicks: 1,
      ...this.#opts.config,
      id,
      group: 7,
      storage,
      rand: new SeededRand(this.#seed * 7919 + id * 104729),
      applied: storage.snapshot().metadata.index,
      ...(voteFloor === undefined ? {} : { voteFloor }),
    };
    const raw = this.#opts.makeRaft === undefined ? new RawNode(config) : new RawNode(config, this.#opts.makeRaft);
    const node: TestNode = {
      id,
      storage,
      raw,
      applied: [],
      readStates: [],
      confState: storage.initialState().confState,
      snapshots: [],
      readies: [],
    };
    this.nodes.set(id, node);
    return node;
  }

  /** addEmptyNode starts a replica that joins later: empty storage, no membership. */
  addEmptyNode(id: NodeId): TestNode {
    assert(!this.nodes.has(id), 'new node id');
    return this.#addNode(id, new MemoryStorage());
  }

  /** replaceWithEmpty drops replica id and starts a new, empty incarnation under the same id (removed, its state wiped, added again). */
  replaceWithEmpty(id: NodeId): TestNode {
    assert(this.nodes.has(id), 'an existing node id');
    this.nodes.delete(id);
    return this.#addNode(id, new MemoryStorage());
  }

  /**
   * replaceFromTombstone drops replica id and starts a new, empty incarnation
   * under the same id from the tombstone the old one leaves (its durable
   * hard state and last log position, tombstone.ts), as a node does when a
   * group's replica is removed and later added back.
   */
  replaceFromTombstone(id: NodeId): TestNode {
    const old = this.node(id);
    const last = old.storage.lastIndex();
    const t = tombstoneOf(old.storage.initialState().hardState, last, old.storage.term(last), old.raw.raft.voteFloor);
    this.nodes.delete(id);
    const storage = new MemoryStorage();
    storage.setHardState(incarnationHardState(t, storage.initialState().hardState));
    return this.#addNode(id, storage, t.floor);
  }

  /** node returns replica id. */
  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    assert(n !== undefined, `node ${id} exists`);
    return n;
  }

  /** raft returns replica id's state machine. */
  raft(id: NodeId): Raft {
    return this.node(id).raw.raft;
  }

  /** cut drops messages in both directions between a and b. */
  cut(a: NodeId, b: NodeId): void {
    this.#cut.add(`${a}-${b}`);
    this.#cut.add(`${b}-${a}`);
  }

  /** isolate cuts every link of id. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  /** heal restores every link and removes the filter. */
  heal(): void {
    this.#cut.clear();
    this.filter = null;
  }

  /** leaders lists the replicas that believe they lead, with their terms. */
  leaders(): { id: NodeId; term: number }[] {
    const out: { id: NodeId; term: number }[] = [];
    for (const n of this.nodes.values()) {
      const st = n.raw.status();
      if (st.role === StateRole.Leader) out.push({ id: n.id, term: st.term });
    }
    return out;
  }

  /** processReadies carries out every pending Ready of node id; returns the messages to send. */
  #processReadies(node: TestNode, out: Message[]): boolean {
    let worked = false;
    for (let n = 0; n < 1000 && node.raw.hasReady(); n++) {
      worked = true;
      const prevHard = node.storage.hardState();
      const rd = node.raw.ready();
      node.readies.push({
        mustSync: rd.mustSync,
        entries: rd.entries.length,
        termChanged: rd.hardState !== null && rd.hardState.term !== prevHard.term,
        voteChanged: rd.hardState !== null && rd.hardState.vote !== prevHard.vote,
      });
      if (rd.snapshot !== null) {
        node.storage.applySnapshot(rd.snapshot);
        node.snapshots.push(rd.snapshot);
        node.confState = rd.snapshot.metadata.confState;
      }
      if (rd.entries.length > 0) node.storage.append(rd.entries);
      if (rd.hardState !== null) node.storage.setHardState(rd.hardState);
      for (const m of rd.messages) out.push(m);
      for (const e of rd.committedEntries) {
        if (e.type === EntryType.ConfChange) {
          const cs = node.raw.applyConfChange(decodeConfChange(e.data));
          node.storage.setConfState(cs);
          node.confState = cs;
        } else if (e.data.length > 0) {
          node.applied.push(e);
        }
      }
      for (const rs of rd.readStates) node.readStates.push(rs);
      node.raw.advance();
    }
    assert(!node.raw.hasReady(), 'node quiesces');
    return worked;
  }

  /** deliverAll runs Readies and delivers messages until nothing is left to do. Returns the messages delivered. */
  deliverAll(): Message[] {
    const start = this.delivered.length;
    for (let step = 0; step < TestNetwork.deliverStepsMax; step++) {
      const queue: Message[] = [];
      let worked = false;
      for (const node of this.nodes.values()) if (this.#processReadies(node, queue)) worked = true;
      for (const m of queue) {
        if (this.#cut.has(`${m.from}-${m.to}`) || (this.filter !== null && !this.filter(m)) || !this.nodes.has(m.to)) {
          this.dropped.push(m);
          continue;
        }
        this.delivered.push(m);
        this.node(m.to).raw.step(m);
      }
      if (!worked && queue.length === 0) return this.delivered.slice(start);
    }
    throw new Error('TestNetwork.deliverAll did not quiesce');
  }

  /** tick ticks the given replicas (default: all) `times` times, delivering after each round. */
  tick(times = 1, ids: readonly NodeId[] = [...this.nodes.keys()]): void {
    for (let k = 0; k < times; k++) {
      for (const id of ids) this.node(id).raw.tick();
      this.deliverAll();
    }
  }

  /** campaign makes id campaign now and delivers until quiet. */
  campaign(id: NodeId): void {
    this.node(id).raw.campaign();
    this.deliverAll();
  }

  /** propose proposes data on id and delivers until quiet; returns the error, if any. */
  propose(id: NodeId, data: Uint8Array | readonly Uint8Array[]): ReturnType<RawNode['propose']> {
    const err = this.node(id).raw.propose(data);
    this.deliverAll();
    return err;
  }

  /** compact snapshots node id at its applied index (with `data`) and compacts its log up to it. */
  compact(id: NodeId, data: Uint8Array): number {
    const node = this.node(id);
    const st = node.raw.status();
    node.storage.createSnapshot(st.applied, node.confState, data);
    node.storage.compact(st.applied);
    return st.applied;
  }
}

/** bytes encodes a string as UTF-8 (test payloads). */
export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** text decodes UTF-8 bytes (test payloads). */
export function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

