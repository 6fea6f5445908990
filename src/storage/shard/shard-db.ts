/**
 * shard-db.ts — one shard replica's LevelDB (the `level` package; classic-level
 * underneath), behind the small surface the signal stores use: point reads,
 * bounded page scans, and write batches written with fsync.
 *
 * Invariants:
 * - Every read of a scan comes from one LevelDB snapshot (the iterator's
 *   implicit snapshot), so a scan never sees half of a flush.
 * - A scan page holds at most ShardDbLimits.scanPageEntriesMax entries and
 *   stops early past scanPageBytesMax: memory per scan is bounded.
 * - write() with sync (the default) returns only after LevelDB's log is fsynced.
 * - Every key and value a read returns is a plain Uint8Array (never a Node
 *   Buffer): see `plainBytes`.
 * - A batch from ShardDb.batch() hands each operation to LevelDB's native
 *   batch as it is added and keeps none in JS (a flush's thousands of keys
 *   and values die young instead of living until the write); it is written
 *   only to the ShardDb that made it, at most once, and a batch given up
 *   before its write is closed (discard) so its native memory goes.
 * Owner: the shard state machine (one ShardDb per replica directory).
 */
import { ClassicLevel } from 'classic-level';
import type { AbstractBatchOperation } from 'abstract-level';
import { OtlpdbError, assert } from '../../errors.js';
import { ShardDbLimits } from '../../limits.js';
import { plainBytes } from '../../plain-bytes.js';

/** KvEntry is one key and value read from a shard's LevelDB. */
export interface KvEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** KeyRange bounds a scan (LevelDB's range options; absent bounds are open). */
export interface KeyRange {
  readonly gte?: Uint8Array;
  readonly gt?: Uint8Array;
  readonly lte?: Uint8Array;
  readonly lt?: Uint8Array;
  readonly reverse?: boolean;
  /** limit bounds the entries of the whole scan (default: no bound beyond the pages). */
  readonly limit?: number;
}

/** KvRead is the read surface of a shard's LevelDB that stores and scans use. */
export interface KvRead {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
  /** pages yields the range in key order (or reverse), one bounded page at a time, all from one snapshot. */
  pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]>;
}

/** KvBatchOp is one operation of a recorded batch. */
export interface KvBatchOp {
  type: 'put' | 'del';
  key: Uint8Array;
  value?: Uint8Array;
}

type LevelChainedBatch = ReturnType<ClassicLevel<Uint8Array, Uint8Array>['batch']>;

/**
 * KvWriteBatch collects puts and deletes written atomically by ShardDb.write.
 * `new KvWriteBatch()` records its operations in `ops` (tests, benches, the
 * snapshot stage); ShardDb.batch() makes one that passes each operation to
 * LevelDB's native batch at once and records none (the flush's batch: its
 * keys and values would otherwise live in a JS array until the write and be
 * copied once more by abstract-level's array batch, tens of MB a node promoted
 * to the old generation in a bulk flush).
 */
export class KvWriteBatch {
  readonly #ops: KvBatchOp[] | null;
  readonly #native: LevelChainedBatch | null;
  /** owner is the ShardDb whose batch() made this batch (null: a recorded batch). */
  readonly owner: ShardDb | null;
  #bytes = 0;
  #size = 0;
  #done = false;

  constructor(native?: { readonly batch: LevelChainedBatch; readonly owner: ShardDb }) {
    this.#native = native?.batch ?? null;
    this.owner = native?.owner ?? null;
    this.#ops = native === undefined ? [] : null;
  }

  /** ops are the operations in order; only a recorded batch has them (a native batch keeps none). */
  get ops(): readonly KvBatchOp[] {
    assert(this.#ops !== null, 'a native batch (ShardDb.batch) keeps no operations to list');
    return this.#ops;
  }

  /** native says the operations went to LevelDB's native batch as they were added. */
  get native(): boolean {
    return this.#native !== null;
  }

  /** put stores value at key. */
  put(key: Uint8Array, value: Uint8Array): void {
    assert(!this.#done, 'no put after the batch was written or discarded');
    assert(key.length > 0, 'a key is not empty');
    assert(key.length <= ShardDbLimits.keyBytesMax, 'key within keyBytesMax');
    assert(value.length <= ShardDbLimits.valueBytesMax, 'value within valueBytesMax');
    if (this.#native !== null) this.#native.put(key, value);
    else (this.#ops as KvBatchOp[]).push({ type: 'put', key, value });
    this.#bytes += key.length + value.length;
    this.#size++;
  }

  /** del removes key. */
  del(key: Uint8Array): void {
    assert(!this.#done, 'no del after the batch was written or discarded');
    assert(key.length > 0, 'a key is not empty');
    if (this.#native !== null) this.#native.del(key);
    else (this.#ops as KvBatchOp[]).push({ type: 'del', key });
    this.#bytes += key.length;
    this.#size++;
  }

  /** takeNative hands the native batch to ShardDb.write, once. */
  takeNative(): LevelChainedBatch {
    assert(this.#native !== null, 'takeNative of a native batch');
    assert(!this.#done, 'a native batch is written at most once');
    this.#done = true;
    return this.#native;
  }

  /** discard gives up a batch before its write (a failed flush): a native batch is closed, its memory freed. */
  async discard(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    if (this.#native !== null) await this.#native.close();
  }

  /** bytes is the sum of the keys and values in the batch. */
  get bytes(): number {
    return this.#bytes;
  }

  /** size is the number of operations. */
  get size(): number {
    return this.#size;
  }
}

type LevelSnapshot = ReturnType<ClassicLevel<Uint8Array, Uint8Array>['snapshot']>;

/**
 * plainBytes (src/plain-bytes.ts) makes every read's answer a plain
 * Uint8Array: classic-level's C++ Buffers would give the decoders
 * (`crc32c`, `ByteReader`, `idKey`, the block and index decoders) a second
 * object map besides the flush's and the block cache's plain arrays.
 */
export { plainBytes };

/** plainMany is plainBytes over a getMany answer, in place (absent values stay undefined). */
function plainMany(values: (Uint8Array | undefined)[]): (Uint8Array | undefined)[] {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== undefined) values[i] = plainBytes(v);
  }
  return values;
}

/**
 * KvView is a KvRead pinned to one LevelDB snapshot: every read through it
 * sees the database as it was when the view was made. Close it when done
 * (an open view keeps old data alive in LevelDB).
 */
export class KvView implements KvRead {
  readonly #read: KvRead;
  readonly #snap: LevelSnapshot;
  #refs = 1;

  constructor(db: ShardDb, snap: LevelSnapshot) {
    this.#read = db.readAt(snap);
    this.#snap = snap;
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#read.get(key);
  }

  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return this.#read.getMany(keys);
  }

  pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]> {
    return this.#read.pages(range, pageEntries);
  }

  /** retain adds a holder; each holder calls release once. */
  retain(): this {
    assert(this.#refs > 0, 'a released view is not retained again');
    this.#refs++;
    return this;
  }

  /** release drops a holder; the snapshot closes with the last one. */
  async release(): Promise<void> {
    assert(this.#refs > 0, 'a view is released once per holder');
    this.#refs--;
    if (this.#refs === 0) await this.#snap.close();
  }
}

/** ShardDb is one replica's LevelDB, opened on a directory it owns. */
export class ShardDb implements KvRead {
  readonly dir: string;
  readonly #db: ClassicLevel<Uint8Array, Uint8Array>;

  private constructor(dir: string, db: ClassicLevel<Uint8Array, Uint8Array>) {
    this.dir = dir;
    this.#db = db;
  }

  /** open opens (creating when absent) the LevelDB in `dir`. A damaged database is ERR_CORRUPTION. */
  static async open(dir: string): Promise<ShardDb> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (err) {
      const cause = err instanceof Error ? ((err as Error & { cause?: unknown }).cause ?? err) : err;
      const msg = cause instanceof Error ? cause.message : String(cause);
      const code = /corrupt/i.test(msg) ? 'ERR_CORRUPTION' : 'ERR_INTERNAL';
      throw new OtlpdbError(code, `shard LevelDB ${dir}: ${msg}`, { dir });
    }
    return new ShardDb(dir, db);
  }

  /** view pins the database as it is now (a LevelDB snapshot, made synchronously). */
  view(): KvView {
    return new KvView(this, this.#db.snapshot());
  }

  /** readAt is a KvRead at `snap` (undefined: the latest state). */
  readAt(snap: LevelSnapshot | undefined): KvRead {
    return {
      get: async (key) => {
        const v = await this.#db.get(key, snap === undefined ? {} : { snapshot: snap });
        return v === undefined ? undefined : plainBytes(v);
      },
      getMany: async (keys) => (keys.length === 0 ? [] : plainMany(await this.#db.getMany(keys as Uint8Array[], snap === undefined ? {} : { snapshot: snap }))),
      pages: (range, pageEntries) => this.#pages(range, pageEntries, snap),
    };
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const v = await this.#db.get(key);
    return v === undefined ? undefined : plainBytes(v);
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return [];
    return plainMany(await this.#db.getMany(keys as Uint8Array[]));
  }

  pages(range: KeyRange, pageEntries: number = ShardDbLimits.scanPageEntriesMax): AsyncGenerator<readonly KvEntry[]> {
    return this.#pages(range, pageEntries, undefined);
  }

  async *#pages(range: KeyRange, pageEntries: number = ShardDbLimits.scanPageEntriesMax, snap: LevelSnapshot | undefined): AsyncGenerator<readonly KvEntry[]> {
    assert(Number.isSafeInteger(pageEntries) && pageEntries >= 1, 'pageEntries >= 1');
    const size = Math.min(pageEntries, ShardDbLimits.scanPageEntriesMax);
    const opts: Record<string, unknown> = { keys: true, values: true };
    for (const k of ['gte', 'gt', 'lte', 'lt'] as const) if (range[k] !== undefined) opts[k] = range[k];
    if (range.reverse === true) opts.reverse = true;
    if (snap !== undefined) opts.snapshot = snap;
    if (range.limit !== undefined) {
      assert(Number.isSafeInteger(range.limit) && range.limit >= 0, 'limit >= 0');
      opts.limit = range.limit;
    }
    const it = this.#db.iterator(opts);
    try {
      for (;;) {
        const batch = await it.nextv(size);
        if (batch.length === 0) return;
        // nextv bounds the entries; values are bounded by valueBytesMax, so a page is bounded in bytes too.
        yield batch.map(([key, value]) => ({ key: plainBytes(key), value: plainBytes(value) }));
      }
    } finally {
      await it.close();
    }
  }

  /** batch is an empty batch that goes to LevelDB's native batch as it is filled (see KvWriteBatch); write it here, or discard it. */
  batch(): KvWriteBatch {
    return new KvWriteBatch({ batch: this.#db.batch(), owner: this });
  }

  /** write applies a batch atomically; with sync (the default) it returns after LevelDB's log is fsynced. */
  async write(batch: KvWriteBatch, sync = true): Promise<void> {
    if (batch.native) {
      assert(batch.owner === this, 'a native batch is written to the ShardDb that made it');
      const native = batch.takeNative();
      if (batch.size === 0) {
        await native.close();
        return;
      }
      await native.write({ sync });
      return;
    }
    if (batch.size === 0) return;
    await this.#db.batch(batch.ops as unknown as AbstractBatchOperation<ClassicLevel<Uint8Array, Uint8Array>, Uint8Array, Uint8Array>[], { sync });
  }

  /** clear deletes every key in the range. */
  async clear(range: KeyRange): Promise<void> {
    const opts: Record<string, unknown> = {};
    for (const k of ['gte', 'gt', 'lte', 'lt'] as const) if (range[k] !== undefined) opts[k] = range[k];
    await this.#db.clear(opts);
  }

  /** approximateBytes is LevelDB's estimate of the on-disk bytes of [gte, lt). */
  async approximateBytes(gte: Uint8Array, lt: Uint8Array): Promise<number> {
    return this.#db.approximateSize(gte, lt);
  }

  /** compactRange asks LevelDB to compact [gte, lt) (after a retention pass). */
  async compactRange(gte: Uint8Array, lt: Uint8Array): Promise<void> {
    await this.#db.compactRange(gte, lt);
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
