/**
 * durable-kv-test-util.ts — a test-only DurableStateMachine: the KV state
 * machine of state-machine.ts whose state is made durable by flush() into a
 * "disk" (DurableKvDisk) that the test keeps across a crash of its node, as
 * a shard replica's LevelDB survives kill -9. Driver tests use it to check
 * the driver's contract with durable groups (the log is compacted only up
 * to durable state) without LevelDB.
 *
 * A flush copies the state at the applied index and writes it to the disk
 * `flushTurns` microtask turns later (a flush is asynchronous, like a
 * LevelDB batch), then resolves. The planted bug `lieAboutDurable` resolves
 * the flush first and writes the disk only at the next flush: the driver
 * then compacts the log past what the disk holds, and a crash in between
 * loses acknowledged entries.
 *
 * Invariants: durableIndex() <= appliedIndex(); the disk holds the state at
 * durableIndex() (except under lieAboutDurable); one flush at a time.
 * Owner: the driver owns the state machine; the test owns the disk.
 */
import { OtlpdbError, assert } from '../../errors.js';
import type { Entry } from '../types.js';
import { KvStateMachine } from './state-machine.js';
import type { DurableStateMachine } from './state-machine.js';

/** DurableKvDisk is what survives a crash of a DurableKv: its image and the index it holds. */
export interface DurableKvDisk {
  index: number;
  image: Uint8Array;
}

/** DurableKvOptions configure a DurableKv. */
export interface DurableKvOptions {
  /** flushTurns: the microtask turns a flush takes before its write lands (default 2). */
  readonly flushTurns?: number;
  /** lieAboutDurable plants the bug above: flush() claims the index durable before the disk holds it. */
  readonly lieAboutDurable?: boolean;
}

/** ENTRY_HEAD_BYTES is the head memory a DurableKv counts per applied entry (its headBytes). */
const ENTRY_HEAD_BYTES = 64;

/** turn is one microtask turn: the TestCluster drives its nodes by promises alone, so a macrotask (setImmediate) would wait for the whole test. */
async function turn(): Promise<void> {
  await Promise.resolve();
}

/** DurableKv is a KvStateMachine made durable by flushes into a test-owned disk; see the top of this file. */
export class DurableKv implements DurableStateMachine {
  readonly durable = true as const;
  readonly #kv = new KvStateMachine();
  readonly #disk: DurableKvDisk;
  readonly #o: DurableKvOptions;
  #durable = 0;
  #flushing: Promise<number> | null = null;
  /** #owed is the image a lying flush has not written yet (lieAboutDurable). */
  #owed: DurableKvDisk | null = null;
  /** flushes counts the flushes that completed. */
  flushes = 0;

  constructor(disk: DurableKvDisk, o: DurableKvOptions = {}) {
    this.#disk = disk;
    this.#o = o;
  }

  /** get reads a key (applied state). */
  get(key: string): string | undefined {
    return this.#kv.get(key);
  }

  apply(entries: readonly Entry[]): readonly Uint8Array[] {
    const from = entries.findIndex((e) => e.index > this.#kv.appliedIndex());
    if (from === -1) return entries.map(() => new Uint8Array(0));
    const out = this.#kv.apply(entries.slice(from));
    return [...entries.slice(0, from).map(() => new Uint8Array(0)), ...out];
  }

  appliedIndex(): number {
    return this.#kv.appliedIndex();
  }

  open(snapshot: { readonly index: number; readonly data: Uint8Array }): Promise<void> {
    // A disk behind the bootstrap image (empty data) is the empty state at its index.
    if (this.#disk.index < snapshot.index && snapshot.data.length === 0 && this.#disk.image.length === 0) this.#disk.index = snapshot.index;
    this.#kv.restore(this.#disk.image, this.#disk.index);
    this.#durable = this.#disk.index;
    if (this.#durable < snapshot.index) return Promise.reject(new OtlpdbError('ERR_CORRUPTION', `durable kv at ${this.#durable} is behind the log's snapshot ${snapshot.index}`));
    return Promise.resolve();
  }

  durableIndex(): number {
    return this.#durable;
  }

  flushDue(): boolean {
    return false; // Only the driver's WAL policies (and snapshotEntries) flush it.
  }

  headBytes(): number {
    return (this.appliedIndex() - this.#durable) * ENTRY_HEAD_BYTES;
  }

  mustFlushBeforeApply(): boolean {
    return false;
  }

  get flushing(): boolean {
    return this.#flushing !== null;
  }

  flush(): Promise<number> {
    assert(this.#flushing === null, 'one flush at a time');
    const at: DurableKvDisk = { index: this.appliedIndex(), image: this.#kv.snapshot() };
    const p = this.#write(at).finally(() => {
      this.#flushing = null;
    });
    this.#flushing = p;
    return p;
  }

  async #write(at: DurableKvDisk): Promise<number> {
    for (let k = 0; k < (this.#o.flushTurns ?? 2); k++) await turn();
    if (this.#o.lieAboutDurable === true) {
      // Planted: what the last flush claimed lands only now; this one's lands at the next flush.
      if (this.#owed !== null) this.#land(this.#owed);
      this.#owed = at;
    } else {
      this.#land(at);
    }
    this.#durable = at.index;
    this.flushes++;
    assert(this.#durable <= this.appliedIndex(), 'durable <= applied');
    return at.index;
  }

  #land(at: DurableKvDisk): void {
    this.#disk.index = at.index;
    this.#disk.image = at.image;
  }

  snapshotDescriptor(index: number): Uint8Array {
    assert(index <= this.#durable, 'a snapshot names durable state');
    return new TextEncoder().encode(`durable-kv@${index}`);
  }

  stagedFor(): boolean {
    return false;
  }

  stageSnapshot(): Promise<void> {
    return Promise.reject(new OtlpdbError('ERR_UNAVAILABLE', 'DurableKv serves single-node tests only'));
  }

  installSnapshot(index: number, data: Uint8Array): Promise<void> {
    assert(data.length === 0, 'DurableKv installs only the empty bootstrap image');
    this.#kv.restore(new Uint8Array(0), index);
    this.#durable = index;
    this.#land({ index, image: this.#kv.snapshot() });
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.#flushing !== null) await this.#flushing;
  }

  async destroy(): Promise<void> {
    await this.close();
    this.#land({ index: 0, image: new Uint8Array(0) });
  }
}
