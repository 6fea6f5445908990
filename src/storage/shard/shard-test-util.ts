/**
 * shard-test-util.ts — test-only pieces for the shard state machine: a
 * simple SignalStore (every flush writes its rows as one msgpack value) so
 * the state machine's own rules (idempotency, flush, restart, snapshot
 * streams) are tested apart from the real stores, and entry builders.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert } from '../../errors.js';
import { EntryType } from '../../raft/types.js';
import type { Entry } from '../../raft/types.js';
import { STORAGE_PACKR } from '../storage-packr.js';
import { encodeShardEntry } from '../shard-entry.js';
import type { ShardEntry } from '../shard-entry.js';
import { key } from './keys.js';
import { ShardStateMachine } from './shard-state-machine.js';
import type { ShardStores } from './shard-state-machine.js';
import type { KvRead } from './shard-db.js';
import type { AddResult, ExpireReport, FlushContext, FlushReport, RetentionCutoffs, Signal, SignalStats, SignalStore } from './signal-store.js';

/** CountingStore keeps rows as opaque values; a flush writes each frozen row as one value at [space, flushIndex, row]. */
export class CountingStore<Row> implements SignalStore<Row> {
  readonly signal: Signal;
  readonly #space: number;
  #head: Row[] = [];
  #frozen: Row[] | null = null;
  #durableRows = 0;
  #bytes = 0;
  #pendingBytes = 0;

  constructor(signal: Signal, space: number) {
    this.signal = signal;
    this.#space = space;
  }

  async load(kv: KvRead): Promise<void> {
    this.#durableRows = 0;
    this.#bytes = 0;
    for await (const page of kv.pages({ gte: key(this.#space).build(), lt: key(this.#space + 1).build() })) {
      for (const e of page) {
        this.#durableRows++;
        this.#bytes += e.value.length;
      }
    }
  }

  add(_tenant: string, rows: readonly Row[]): AddResult {
    for (const r of rows) this.#head.push(r);
    return { accepted: rows.length, refused: 0, refusals: [] };
  }

  headBytes(): number {
    return 100 * (this.#head.length + (this.#frozen?.length ?? 0));
  }

  headRows(): number {
    return this.#head.length;
  }

  freeze(): void {
    assert(this.#frozen === null, 'one frozen head');
    this.#frozen = this.#head;
    this.#head = [];
  }

  async writeFrozen(ctx: FlushContext): Promise<FlushReport> {
    const rows = this.#frozen;
    assert(rows !== null, 'a frozen head');
    if (rows.length === 0) return { rows: 0, blocks: 0, dataBytes: 0, indexBytes: 0 };
    let bytes = 0;
    rows.forEach((r, i) => {
      const v = STORAGE_PACKR.pack(r);
      ctx.batch.put(key(this.#space).u64(ctx.flushIndex).u32(i).build(), v);
      bytes += v.length;
    });
    this.#pendingBytes = bytes;
    return { rows: rows.length, blocks: 1, dataBytes: bytes, indexBytes: 0 };
  }

  dropFrozen(): void {
    this.#durableRows += this.#frozen?.length ?? 0;
    this.#bytes += this.#pendingBytes;
    this.#pendingBytes = 0;
    this.#frozen = null;
  }

  async expire(_ctx: FlushContext, _cutoffs: RetentionCutoffs): Promise<ExpireReport> {
    return { buckets: 0, keys: 0 };
  }

  stats(): SignalStats {
    return { rows: this.#durableRows, secondary: 0, dataBytes: this.#bytes, indexBytes: 0 };
  }

  /** allRows counts durable + frozen + head rows. */
  allRows(): number {
    return this.#durableRows + (this.#frozen?.length ?? 0) + this.#head.length;
  }
}

/** entryOf wraps shard entry bytes as a committed Raft entry. */
export function entryOf(index: number, data: Uint8Array): Entry {
  return { index, term: 1, type: EntryType.Normal, data };
}

/** shardEntry encodes a ShardEntry with the given key, part and rows. */
export function shardEntry(e: Omit<ShardEntry, 'version'>): Uint8Array {
  return encodeShardEntry({ version: 1, ...e });
}

/** tempDir makes a fresh temporary directory and returns it with its cleanup. */
export function tempDir(prefix: string): { readonly dir: string; readonly cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** testMachine is a shard replica in `dir` with no peers and a fixed clock (1,000,000 ms). */
export function testMachine(dir: string, makeStores: () => ShardStores): ShardStateMachine {
  return new ShardStateMachine({ group: 1, dir, makeStores, peer: { fetchPage: () => Promise.reject(new Error('no peer')) }, nowMs: () => 1_000_000 });
}

/**
 * twinReplicas opens two replicas of one shard in fresh directories (removed
 * at the test's end): `columns` with the stores `real` makes, `rows` with
 * them passed through `rowsOnly` (a wrapper that takes only rows), so a test
 * can compare the two apply paths byte for byte.
 */
export async function twinReplicas(
  t: { teardown(fn: () => unknown): void },
  prefix: string,
  real: () => ShardStores,
  rowsOnly: (stores: ShardStores) => ShardStores,
): Promise<{ columns: ShardStateMachine; rows: ShardStateMachine }> {
  const a = tempDir(`${prefix}a-`);
  const b = tempDir(`${prefix}b-`);
  t.teardown(() => {
    a.cleanup();
    b.cleanup();
  });
  const columns = testMachine(a.dir, real);
  const rows = testMachine(b.dir, () => rowsOnly(real()));
  await columns.open({ index: 0, data: new Uint8Array(0) });
  await rows.open({ index: 0, data: new Uint8Array(0) });
  return { columns, rows };
}
