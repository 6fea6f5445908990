/**
 * series-shard-memo.ts — the shard of a metric series remembered across
 * requests by the raw bytes of its identity, so that the receiver's split
 * (shard-parts.ts) builds, sorts, encodes and hashes a series' partition key
 * once per memo lifetime instead of once per point.
 *
 * Key of a point: (its head number, the shard count, the bytes of its point
 * attribute fields in the request body: decodeMetricsProto's
 * pointAttributeRanges). A head is everything of a point's series identity
 * besides its attributes (tenant, metric name, the `otel_` labels, the
 * resource's labels); heads are numbered by the bytes of the partition key
 * the point would have without attributes (PartitionKeyBuffer.seriesKey),
 * which encodes them injectively. Equal attribute bytes decode to equal
 * attributes (the decoder gives no range for a point whose values it
 * truncated), so equal keys mean one label set, hence one partition key and
 * one shard. Two encodings of one identity are two keys of one shard, which
 * is harmless.
 *
 * It is a pure memo: a miss goes to the regular path (the key buffer, or
 * the reference functions) and remembers what it gives, so the memo never
 * changes a shard (shard-parts.test.ts compares every row with
 * routeReference over many requests through one memo, and plants a stale
 * entry and a colliding hash).
 *
 * Lookups hash the key (FNV-1a, 32 bits) into ByteKeyTable (the store's
 * open-addressing table of typed arrays) and compare the stored key in full:
 * a hash collision costs a comparison, never a wrong shard.
 *
 * Bounds: IngestLimits.seriesShardMemoEntriesMax series,
 * seriesShardMemoHeadsMax heads and seriesShardMemoKeyBytesMax key bytes per
 * table. `beginRequest` clears both tables together when a request could
 * overflow either, so a head number stays valid for every series entry
 * that holds it; an insert that does not fit is simply not remembered.
 *
 * Invariants: every series entry's head number names a head entry of the
 * same lifetime (the tables are only ever cleared together); a series entry
 * maps to a shard in [1, its key's shard count]. Owned by one thread: a
 * receive worker, or the node's main thread (one memo per PrepareDeps,
 * prepare-parts.ts).
 */
import { assert } from '../errors.js';
import { IngestLimits } from '../limits.js';
import { ByteKeyTable, rawIdentityHash } from '../storage/metrics/raw-identity-memo.js';
import type { RawIdentityHash } from '../storage/metrics/raw-identity-memo.js';

/** SeriesShardMemoBounds are a memo's bounds (tests shrink them). */
export interface SeriesShardMemoBounds {
  readonly entriesMax: number;
  readonly headsMax: number;
  readonly keyBytesMax: number;
}

/** SERIES_SHARD_MEMO_BOUNDS are the bounds of IngestLimits. */
export const SERIES_SHARD_MEMO_BOUNDS: SeriesShardMemoBounds = {
  entriesMax: IngestLimits.seriesShardMemoEntriesMax,
  headsMax: IngestLimits.seriesShardMemoHeadsMax,
  keyBytesMax: IngestLimits.seriesShardMemoKeyBytesMax,
};

/**
 * SeriesShardLookup is what splitByShard asks of a memo (SeriesShardMemo;
 * tests plant broken ones).
 */
export interface SeriesShardLookup {
  beginRequest(points: number): void;
  head(key: Uint8Array): number;
  shard(head: number, shardCount: number, body: Uint8Array, at: number, end: number): number;
  remember(head: number, shardCount: number, body: Uint8Array, at: number, end: number, shard: number): boolean;
}

/** SeriesShardMemo remembers series' shards by their raw identity bytes (see the file comment). */
export class SeriesShardMemo implements SeriesShardLookup {
  readonly #series: ByteKeyTable;
  readonly #heads: ByteKeyTable;
  readonly #bounds: SeriesShardMemoBounds;
  readonly #hash: RawIdentityHash;
  #clears = 0;
  #hits = 0;

  constructor(bounds: SeriesShardMemoBounds = SERIES_SHARD_MEMO_BOUNDS, hash: RawIdentityHash = rawIdentityHash) {
    assert(bounds.entriesMax >= 1 && bounds.headsMax >= 1 && bounds.keyBytesMax >= 1, 'series shard memo bounds >= 1');
    this.#bounds = bounds;
    this.#series = new ByteKeyTable(bounds.entriesMax, bounds.keyBytesMax);
    this.#heads = new ByteKeyTable(bounds.headsMax, bounds.keyBytesMax);
    this.#hash = hash;
  }

  /** size is the number of series remembered. */
  get size(): number {
    return this.#series.size;
  }

  /** hits counts the lookups that found a shard (for tests and the bench). */
  get hits(): number {
    return this.#hits;
  }

  /** clears counts the times the memo was emptied (for tests and the bench). */
  get clears(): number {
    return this.#clears;
  }

  /**
   * beginRequest is called before the points of one request: it empties the
   * memo when `points` more series or heads, or a quarter more key bytes,
   * might not fit.
   */
  beginRequest(points: number): void {
    const b = this.#bounds;
    const full =
      this.#series.size + points > b.entriesMax ||
      this.#heads.size + points > b.headsMax ||
      4 * this.#series.keyBytes > 3 * b.keyBytesMax ||
      4 * this.#heads.keyBytes > 3 * b.keyBytesMax;
    if (full) this.clear();
  }

  /** clear empties both tables together (never one alone: series entries hold head numbers). */
  clear(): void {
    this.#series.clear();
    this.#heads.clear();
    this.#clears++;
  }

  /** head is the number of the head whose attribute-less partition key is `key`, or -1 when it cannot be remembered. */
  head(key: Uint8Array): number {
    const h = this.#hash(0, 0, 0, key, 0, key.length, 0, 0);
    const found = this.#heads.find(h, 0, 0, 0, key, 0, key.length, 0, 0);
    if (found >= 0) return found;
    const n = this.#heads.size;
    return this.#heads.insert(h, 0, 0, 0, key, 0, key.length, 0, 0, n) ? n : -1;
  }

  /** shard is the remembered shard of the series of head `head` whose attribute fields are body[at, end), at `shardCount` shards, or -1. */
  shard(head: number, shardCount: number, body: Uint8Array, at: number, end: number): number {
    assert(head >= 0 && at >= 0 && at <= end, 'a head number and an attribute range');
    const h = this.#hash(head, shardCount, 0, body, at, end, 0, 0);
    const shard = this.#series.find(h, head, shardCount, 0, body, at, end, 0, 0);
    if (shard >= 0) this.#hits++;
    return shard;
  }

  /** remember records `shard` for the key `shard` just missed; false when it does not fit (nothing is kept). */
  remember(head: number, shardCount: number, body: Uint8Array, at: number, end: number, shard: number): boolean {
    assert(shard >= 1 && shard <= shardCount, 'a shard within the shard count');
    const h = this.#hash(head, shardCount, 0, body, at, end, 0, 0);
    return this.#series.insert(h, head, shardCount, 0, body, at, end, 0, 0, shard);
  }
}
