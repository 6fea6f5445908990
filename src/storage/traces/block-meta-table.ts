/**
 * block-meta-table.ts — the decoded block metas (0x13, trace-keys.ts) of one
 * TraceStore kept in memory, so a search starts from memory instead of one
 * LevelDB iterator per shard per search and a decode per meta.
 *
 * Ownership: the TraceStore owns one table and drives it from the calls that
 * write or delete blocks: load (a database opened or a snapshot installed),
 * writeFrozen / dropFrozen (a flush's new blocks and the metas it rewrites to
 * set the shadow flag) and expire (retention deletes blocks). Reads take the
 * current generation (`current`) and never write.
 *
 * Invariants:
 * - A generation (BlockMetas) is immutable; every change makes a new one.
 *   While the table holds one, it is exactly the metas of the LevelDB state
 *   the shard last published: a flush's changes land in dropFrozen, in the
 *   same synchronous step in which the state machine publishes the view that
 *   holds them (shard-state-machine.ts #writeFlush), so a search that takes
 *   the generation in the synchronous step that pinned its view
 *   (acquireRead, then the search's first step) reads the metas of its view.
 * - null ("unknown") whenever that cannot be said: from an expire that
 *   deletes a block (before its batch is written: the deletes are not yet
 *   published) until a flush rebuilds the table, and while a store holds
 *   more than `blocksMax` blocks. A reader then scans LevelDB as before.
 * - A rebuild (a scan of every meta, at a flush's start) waits until no
 *   expire runs and one whole flush has committed since the last expire that
 *   deleted blocks ended (its batch is written after it returns). A staged
 *   change commits only if nothing invalidated the table meanwhile (#epoch).
 * Memory: at most blocksMax entries (TraceStoreLimits.blockMetasMax), one
 * staged flush's puts, and during a commit one copy of a tenant's array.
 */
import { assert } from '../../errors.js';
import { TraceStoreLimits } from '../../limits.js';
import { corrupt } from '../codec/bits.js';
import type { KvRead } from '../shard/shard-db.js';
import type { BlockMeta, BlockRef } from './trace-keys.js';
import { TraceKeySpace as K, decodeBlockMeta, readRef, spaceRange } from './trace-keys.js';

/** BlockMetaEntry is one block's meta as a search reads it, with the bytes its key and value take in LevelDB (a search counts them as read). */
export interface BlockMetaEntry {
  readonly ref: BlockRef;
  readonly meta: BlockMeta;
  readonly bytes: number;
}

/** REF_BYTES is a block ref's size at the end of a meta key (bucket u64, flushIndex u64, part u16). */
const REF_BYTES = 18;

/** compareRefs orders refs as their keys sort: bucket, flush index, part. */
export function compareRefs(a: BlockRef, b: BlockRef): number {
  return a.bucket - b.bucket || a.flushIndex - b.flushIndex || a.part - b.part;
}

function refKey(r: BlockRef): string {
  return `${r.bucket}/${r.flushIndex}/${r.part}`;
}

/** BlockMetas is one immutable generation of the table: per tenant its blocks' metas in key order. */
export class BlockMetas {
  readonly #byTenant: ReadonlyMap<string, readonly BlockMetaEntry[]>;
  /** blocks counts the entries of every tenant. */
  readonly blocks: number;

  constructor(byTenant: ReadonlyMap<string, readonly BlockMetaEntry[]>) {
    let n = 0;
    for (const list of byTenant.values()) {
      n += list.length;
      for (let i = 1; i < list.length; i++) assert(compareRefs((list[i - 1] as BlockMetaEntry).ref, (list[i] as BlockMetaEntry).ref) < 0, 'a tenant lists its blocks once, in key order');
    }
    this.#byTenant = byTenant;
    this.blocks = n;
  }

  /** tenant is the tenant's blocks in key order (empty when it has none). */
  tenant(tenant: string): readonly BlockMetaEntry[] {
    return this.#byTenant.get(tenant) ?? [];
  }

  /**
   * bucketRange is the half-open index range [lo, hi) of the tenant's blocks
   * whose bucket is in [firstBucket, lastBucket] (the range a search's
   * meta scan covers).
   */
  bucketRange(list: readonly BlockMetaEntry[], firstBucket: number, lastBucket: number): { lo: number; hi: number } {
    const lo = lowerBound(list, firstBucket);
    const hi = lowerBound(list, lastBucket + 1);
    assert(lo <= hi && hi <= list.length, 'a bucket range lies in the list');
    return { lo, hi };
  }

  /** entries are every tenant's lists (tests compare them with LevelDB). */
  entries(): IterableIterator<[string, readonly BlockMetaEntry[]]> {
    return this.#byTenant.entries();
  }
}

/** lowerBound is the first index whose bucket is at least `bucket`. */
function lowerBound(list: readonly BlockMetaEntry[], bucket: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as BlockMetaEntry).ref.bucket < bucket) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** BlockMetaPlant is a planted bug for tests only: 'staleMarks' commits a flush's new blocks but not the metas it rewrote (the shadow flag); 'keepExpired' never forgets a block retention deletes. */
export type BlockMetaPlant = 'staleMarks' | 'keepExpired';

interface Staged {
  readonly epoch: number;
  /** base is the generation the flush started from (rebuilt when the table was unknown), or null: commit nothing. */
  readonly base: BlockMetas | null;
  readonly puts: Map<string, Map<string, BlockMetaEntry>>;
  /** rewrites are the puts of refs the base already holds (the shadow flag set). */
  rewrites: number;
}

/** BlockMetaTable keeps a TraceStore's block metas decoded in memory (see the file comment for its invariants). */
export class BlockMetaTable {
  readonly #blocksMax: number;
  readonly #plant: BlockMetaPlant | null;
  #current: BlockMetas | null = null;
  /** #epoch changes with every load and every invalidation; a staged flush commits only within its epoch. */
  #epoch = 0;
  /** #commits counts the flushes committed (dropFrozen). */
  #commits = 0;
  #expiring = 0;
  /** #expireEndCommit is #commits when the last expire that deleted a block ended (-1: none). */
  #expireEndCommit = -1;
  #staged: Staged | null = null;

  /** The constructor takes the bound (TraceStoreLimits.blockMetasMax, or less for tests) and, for tests only, a planted bug. */
  constructor(blocksMax: number = TraceStoreLimits.blockMetasMax, plant: BlockMetaPlant | null = null) {
    assert(Number.isSafeInteger(blocksMax) && blocksMax >= 1 && blocksMax <= TraceStoreLimits.blockMetasMax, 'blocksMax in [1, TraceStoreLimits.blockMetasMax]');
    this.#blocksMax = blocksMax;
    this.#plant = plant;
  }

  /** current is the generation a read takes (null: unknown, read the metas from LevelDB). */
  current(): BlockMetas | null {
    return this.#current;
  }

  /** load builds the table from a (re)loaded database: every meta, or unknown past blocksMax. */
  async load(kv: KvRead): Promise<void> {
    this.#staged = null;
    this.#current = null;
    const epoch = ++this.#epoch;
    const built = await this.#scan(kv);
    if (epoch === this.#epoch) this.#current = built;
  }

  /**
   * beginFlush starts a flush's changes (writeFrozen); what an earlier flush
   * staged and never committed (its batch failed) is dropped. An unknown
   * table is rebuilt here from `kv` (the latest state, before this flush's
   * batch) when no expire could still be writing.
   */
  async beginFlush(kv: KvRead): Promise<void> {
    this.#staged = null;
    const epoch = this.#epoch;
    let base = this.#current;
    if (base === null && this.#expiring === 0 && this.#expireEndCommit < this.#commits) base = await this.#scan(kv);
    this.#staged = { epoch, base, puts: new Map(), rewrites: 0 };
  }

  /** notePut records a meta the flush puts in its batch (a new block, or a rewrite of an older one's). */
  notePut(tenant: string, ref: BlockRef, meta: BlockMeta, bytes: number): void {
    const s = this.#staged;
    assert(s !== null, 'notePut within a flush (beginFlush first)');
    assert(bytes > 0, 'a meta takes bytes');
    let m = s.puts.get(tenant);
    if (m === undefined) {
      m = new Map();
      s.puts.set(tenant, m);
    }
    m.set(refKey(ref), { ref, meta, bytes });
  }

  /** commitFlush makes the flush's metas current (dropFrozen: its batch is durable and about to be published). */
  commitFlush(): void {
    const s = this.#staged;
    this.#staged = null;
    this.#commits++;
    if (s === null || s.base === null || s.epoch !== this.#epoch) return;
    const byTenant = new Map<string, readonly BlockMetaEntry[]>(s.base.entries());
    let blocks = s.base.blocks;
    for (const [tenant, puts] of s.puts) {
      const old = byTenant.get(tenant) ?? [];
      const merged = new Map<string, BlockMetaEntry>();
      for (const e of old) merged.set(refKey(e.ref), e);
      for (const [k, e] of puts) {
        if (merged.has(k) && this.#plant === 'staleMarks') continue;
        merged.set(k, e);
      }
      blocks += merged.size - old.length;
      byTenant.set(tenant, [...merged.values()].sort((a, b) => compareRefs(a.ref, b.ref)));
    }
    if (blocks > this.#blocksMax) {
      this.#current = null;
      return;
    }
    const next = new BlockMetas(byTenant);
    assert(next.blocks === blocks, 'the committed count is the entries');
    this.#current = next;
  }

  /** expireStart marks a retention pass running (expire); a rebuild waits for it. */
  expireStart(): void {
    this.#expiring++;
  }

  /** expireDeletes says the pass deletes a block: the table is unknown from now until a rebuild (the delete is not yet written). */
  expireDeletes(): void {
    if (this.#plant === 'keepExpired') return;
    this.#current = null;
    this.#epoch++;
  }

  /** expireEnd ends a pass (`deleted`: it deleted a block); its batch is written after it. */
  expireEnd(deleted: boolean): void {
    assert(this.#expiring > 0, 'expireEnd follows expireStart');
    this.#expiring--;
    if (deleted) this.#expireEndCommit = this.#commits;
  }

  /** #scan reads every meta of `kv` into a generation, or null past blocksMax. */
  async #scan(kv: KvRead): Promise<BlockMetas | null> {
    const byTenant = new Map<string, BlockMetaEntry[]>();
    const dec = new TextDecoder('utf-8', { fatal: true });
    let n = 0;
    let lastTenantBytes: Uint8Array | null = null;
    let list: BlockMetaEntry[] = [];
    for await (const page of kv.pages(spaceRange(K.meta))) {
      for (const e of page) {
        if (++n > this.#blocksMax) return null;
        const offset = e.key.length - REF_BYTES;
        if (offset < 3 || e.key[offset - 1] !== 0) throw corrupt('trace block meta key is malformed');
        const tb = e.key.subarray(1, offset - 1);
        if (lastTenantBytes === null || Buffer.compare(lastTenantBytes, tb) !== 0) {
          let tenant: string;
          try {
            tenant = dec.decode(tb);
          } catch {
            throw corrupt('trace block meta key tenant is not UTF-8');
          }
          lastTenantBytes = tb;
          list = byTenant.get(tenant) ?? [];
          byTenant.set(tenant, list);
        }
        list.push({ ref: readRef(e.key, offset), meta: decodeBlockMeta(e.value), bytes: e.key.length + e.value.length });
      }
    }
    return new BlockMetas(byTenant);
  }
}
