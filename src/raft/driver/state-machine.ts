/**
 * state-machine.ts — what a Raft group's application implements for the
 * driver, and a small in-memory KV state machine for tests.
 *
 * The driver hands every committed entry to `apply`, in log order, exactly
 * once per process lifetime (after a restart, again from the snapshot on).
 * Normal entries with data are commands; empty Normal entries (a new
 * leader's no-op) and ConfChange entries (already applied to Raft by the
 * driver) only advance the applied index.
 * Invariant: appliedIndex() is the index of the last entry applied or the
 * index of the snapshot restored, whichever came last.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { EntryType } from '../types.js';
import type { Entry } from '../types.js';

/** StateMachine is a group's application: the driver applies committed entries to it and snapshots it. */
export interface StateMachine {
  /**
   * apply applies entries in log order and returns one result per entry (an
   * empty array for entries that are not commands). A command the
   * application refuses is a result, not a throw: every replica must reach
   * the same state.
   */
  apply(entries: readonly Entry[]): readonly Uint8Array[];
  /** snapshot returns an image of the state at appliedIndex(). */
  snapshot(): Uint8Array;
  /** restore replaces the whole state with an image taken at `index` (an empty image: the empty state). */
  restore(data: Uint8Array, index: number): void;
  /** appliedIndex is the index of the last entry the state reflects. */
  appliedIndex(): number;
}

/**
 * DurableStateMachine is a state machine that keeps its own state on disk
 * (a shard replica's LevelDB) instead of in driver snapshot images. The
 * driver then follows a different contract (see "Durable state machines" in
 * multi-raft.ts):
 * - open(snapshotIndex) loads the durable state before Raft starts; Raft
 *   restarts at appliedIndex() = the durable index, and replays the log after it.
 * - apply() is handed committed entries; entries at or below appliedIndex()
 *   (already in a state installed from a peer) are skipped with an empty result.
 * - flush() makes the state at appliedIndex() durable; only then does the
 *   driver take a Raft snapshot there (its image is snapshotDescriptor()) and
 *   compact the log up to it. The log is never compacted past durableIndex().
 * - A Raft snapshot received from the leader names a descriptor, not data: the
 *   driver holds the message back until stageSnapshot() has pulled the
 *   leader's durable state into a staging area, steps it, and the install
 *   (installSnapshot) swaps the staged state in.
 * snapshot() and restore() of StateMachine are not used for durable state machines.
 */
export interface DurableStateMachine {
  readonly durable: true;
  /** apply is StateMachine.apply, except that entries at or below appliedIndex() are skipped with an empty result. */
  apply(entries: readonly Entry[]): readonly Uint8Array[];
  /** appliedIndex is the index of the last entry the state reflects (in memory or on disk). */
  appliedIndex(): number;
  /** open loads the durable state; `snapshotIndex` is the WAL's snapshot of the group (0: none). */
  open(snapshot: { readonly index: number; readonly data: Uint8Array }): Promise<void>;
  /** durableIndex is the index whose state is on disk. */
  durableIndex(): number;
  /** flushDue says whether the head wants a flush (size or age) at `nowMs`. */
  flushDue(nowMs: number): boolean;
  /** headBytes is the memory its in-memory state takes (head and frozen head): the flush-ahead policy flushes the larger heads first. */
  headBytes(): number;
  /** mustFlushBeforeApply says the head is at its hard bound: the driver flushes before applying more. */
  mustFlushBeforeApply(): boolean;
  /** flushing says whether a flush is in progress. */
  readonly flushing: boolean;
  /** flush freezes the state at appliedIndex() synchronously, writes it, and resolves with the index made durable. */
  flush(): Promise<number>;
  /** snapshotDescriptor is the Raft snapshot image naming durable state at `index`. */
  snapshotDescriptor(index: number): Uint8Array;
  /** stagedFor says whether a staged state fetched for the Raft snapshot at `index` is complete. */
  stagedFor(index: number): boolean;
  /** stageSnapshot pulls the durable state of `from` (which sent a Raft snapshot at `index`) into the staging area. */
  stageSnapshot(from: number, index: number, descriptor: Uint8Array): Promise<void>;
  /**
   * installSnapshot swaps in the state staged for `index`; appliedIndex() is
   * then the staged state's index (>= index). An empty image (a group's
   * bootstrap snapshot) needs no stage: it is the empty state at `index`.
   */
  installSnapshot(index: number, data: Uint8Array): Promise<void>;
  /** close waits for a flush in progress and closes the files. */
  close(): Promise<void>;
  /** destroy closes and deletes every file of the replica (the group left this node). */
  destroy(): Promise<void>;
}

/** AnyStateMachine is what a driver's caller may give a group: in-memory (snapshotted by the driver) or durable. */
export type AnyStateMachine = StateMachine | DurableStateMachine;

/** isDurable says whether a state machine follows the DurableStateMachine contract. */
export function isDurable(sm: AnyStateMachine): sm is DurableStateMachine {
  return (sm as Partial<DurableStateMachine>).durable === true;
}

/** KvCommand is a command of the test KV state machine. */
export type KvCommand =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

/** KvResult is the result of one KV command: ok, and the value before it. */
export interface KvResult {
  readonly ok: boolean;
  readonly prev: string | null;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const NO_RESULT = new Uint8Array(0);

/** encodeKvCommand encodes a KV command as proposal data. */
export function encodeKvCommand(c: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

/** decodeKvResult decodes the result a KV proposal resolved with. */
export function decodeKvResult(b: Uint8Array): KvResult {
  return JSON.parse(dec.decode(b)) as KvResult;
}

function parseCommand(data: Uint8Array): KvCommand | null {
  try {
    const c = JSON.parse(dec.decode(data)) as Partial<KvCommand> & { op?: unknown; key?: unknown };
    if (typeof c !== 'object' || c === null || typeof c.key !== 'string') return null;
    if (c.op === 'put' && typeof (c as { value?: unknown }).value === 'string') return c as KvCommand;
    if (c.op === 'delete') return c as KvCommand;
    if (c.op === 'cas') return c as KvCommand;
    return null;
  } catch {
    return null;
  }
}

/** KvStateMachine is a string map with put/delete/cas, for driver tests (the real control KV comes later). */
export class KvStateMachine implements StateMachine {
  readonly #map = new Map<string, string>();
  #applied = 0;
  /** commandsApplied counts the commands applied by this instance (not restored ones). */
  commandsApplied = 0;

  get(key: string): string | undefined {
    return this.#map.get(key);
  }

  /** entries returns the whole map, sorted by key. */
  entries(): [string, string][] {
    return [...this.#map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  apply(entries: readonly Entry[]): readonly Uint8Array[] {
    const out: Uint8Array[] = new Array<Uint8Array>(entries.length);
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k] as Entry;
      assert(e.index === this.#applied + 1, 'entries are applied in order without gaps');
      this.#applied = e.index;
      out[k] = NO_RESULT;
      if (e.type !== EntryType.Normal || e.data.length === 0) continue;
      const c = parseCommand(e.data);
      if (c === null) {
        out[k] = enc.encode(JSON.stringify({ ok: false, prev: null }));
        continue;
      }
      this.commandsApplied++;
      const prev = this.#map.get(c.key) ?? null;
      let ok = true;
      if (c.op === 'put') this.#map.set(c.key, c.value);
      else if (c.op === 'delete') this.#map.delete(c.key);
      else if (prev === c.expected) this.#map.set(c.key, c.value);
      else ok = false;
      out[k] = enc.encode(JSON.stringify({ ok, prev } satisfies KvResult));
    }
    return out;
  }

  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify({ applied: this.#applied, entries: this.entries() }));
  }

  restore(data: Uint8Array, index: number): void {
    this.#map.clear();
    this.#applied = index;
    if (data.length === 0) return;
    const img = JSON.parse(dec.decode(data)) as { applied?: unknown; entries?: unknown };
    if (img.applied !== index || !Array.isArray(img.entries)) {
      throw new OtlpdbError('ERR_CORRUPTION', `KV snapshot image does not describe index ${index}`);
    }
    for (const kv of img.entries as unknown[]) {
      if (!Array.isArray(kv) || typeof kv[0] !== 'string' || typeof kv[1] !== 'string') {
        throw new OtlpdbError('ERR_CORRUPTION', 'KV snapshot entry malformed');
      }
      this.#map.set(kv[0], kv[1]);
    }
  }

  appliedIndex(): number {
    return this.#applied;
  }
}
