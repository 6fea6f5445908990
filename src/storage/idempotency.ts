/**
 * idempotency.ts — the window of idempotency keys a shard replica has
 * applied, so that a retried OTLP request (same tenant and body, so the same
 * xxhash64 key) is not stored twice (DESIGN.md §1 promise 3).
 *
 * The window is replicated state: every replica applies the same committed
 * entries in the same order and must end with the same window. So it never
 * reads a clock; its only times are the entries' `leaderTimeMs`.
 *
 * Invariants:
 * - Every remembered pair's atMs is <= #highWaterMs, and pairs sit in the
 *   ring in non-decreasing atMs order (insertion order). `remember` clamps a
 *   leader time that went backwards (a new leader with a slower clock) up to
 *   the high-water mark, which keeps the order and lets expiry and eviction
 *   both take from the front.
 * - the pair count <= #keysMax; the oldest pairs are evicted first and counted
 *   in #evicted (an evicted key could be stored twice if retried: the metric
 *   says the window was too small for the load).
 *
 * The state machine owns one window per shard replica and calls, per entry:
 * expire(entry.leaderTimeMs), then seen(key, part), then remember(...) after
 * applying a fresh entry.
 */
import { randomBytes } from 'node:crypto';
import { OtlpdbError, assert } from '../errors.js';
import { StorageLimits } from '../limits.js';

/** IDEMPOTENCY_SNAPSHOT_VERSION is the snapshot format version. */
export const IDEMPOTENCY_SNAPSHOT_VERSION = 1;

/*
 * Snapshot layout, version 1 (big-endian), header 41 bytes then 20 per pair:
 *
 *   0        1           9         17           25         33          37        41
 *   +--------+-----------+---------+------------+----------+-----------+---------+
 *   |version | windowMs  |highWater| evicted    | expired  | keysMax   | count   |
 *   |  u8    |   u64     |Ms u64   | u64        | u64      |  u32      |  u32    |
 *   +--------+-----------+---------+------------+----------+-----------+---------+
 *   then count times, in window order (oldest first):
 *   +----------------------+----------+-----------+
 *   | key (8 bytes, the    | part u32 | atMs u64  |
 *   | hex key's bytes)     |          |           |
 *   +----------------------+----------+-----------+
 *
 * Millisecond and counter fields hold safe integers. Seal the snapshot with
 * block.ts (BlockKind.idempotencyWindow) when it is written to LevelDB.
 */
const HEADER_BYTES = 41;
const PAIR_BYTES = 20;
assert(
  HEADER_BYTES + PAIR_BYTES * StorageLimits.idempotencyKeysMax <= StorageLimits.blockPayloadBytesMax,
  'a full idempotency snapshot fits one block',
);

/** IdempotencyWindowOptions configure a window; both bounds default to StorageLimits. */
export interface IdempotencyWindowOptions {
  readonly windowMs?: number;
  readonly keysMax?: number;
  /**
   * pairHash replaces the pair table's hash, by default seededPairHash from
   * a random seed (tests inject a colliding one to exercise probing and
   * deletion; it never changes an answer, only how long a probe is).
   */
  readonly pairHash?: PairHash;
}

/** PairHash hashes a pair: the key's two 32-bit halves (big-endian order: hi first) and the part, each as an int32. */
export type PairHash = (hi: number, lo: number, part: number) => number;

/** IdempotencyStats are the window's counters, for metrics. */
export interface IdempotencyStats {
  readonly keys: number;
  readonly evicted: number;
  readonly expired: number;
  readonly highWaterMs: number;
}

/** M1, M2 and FMIX* are MurmurHash3 x86_32's constants (seededPairHash mixes three words with them). */
const M1 = 0xcc9e2d51;
const M2 = 0x1b873593;
const FMIX1 = 0x85ebca6b;
const FMIX2 = 0xc2b2ae35;

function mixWord(h: number, k: number): number {
  k = Math.imul(k, M1);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, M2);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * seededPairHash is MurmurHash3 x86_32's block and final mix over (hi, lo,
 * part), from `seed`. The keys are xxhash64 of request bodies, which a client
 * chooses: with a known hash, a client that searched offline for bodies
 * whose pairs share a slot (about 2^k tries per body for a table of 2^k
 * slots) could lengthen the probes of one shard's window (never change an
 * answer). Each window draws its seed at random (`randomPairHash`), so the
 * slots cannot be computed outside the process; the hash decides only where
 * a pair sits in the table, never an answer or anything stored, so replicas
 * with different seeds stay identical.
 */
export function seededPairHash(seed: number): PairHash {
  const s0 = seed | 0;
  return (hi, lo, part) => {
    let h = mixWord(mixWord(mixWord(s0, hi), lo), part) ^ 12;
    h ^= h >>> 16;
    h = Math.imul(h, FMIX1);
    h ^= h >>> 13;
    h = Math.imul(h, FMIX2);
    return h ^ (h >>> 16);
  };
}

/** randomPairHash is seededPairHash from a seed drawn by the operating system's random source. */
export function randomPairHash(): PairHash {
  return seededPairHash(randomBytes(4).readInt32LE(0));
}

/** RING_PAIRS_FIRST is the pair table's first capacity (a power of two; it doubles up to keysMax). NB: a layout constant, not a user limit. */
const RING_PAIRS_FIRST = 1024;

/**
 * IdempotencyWindow remembers applied (idempotency key, part) pairs for a
 * window of entry time.
 *
 * Layout: the pairs are a ring of typed columns in window order (#hi, #lo
 * and #part: the pair; #at: its atMs; #hash: its pairHash), oldest at
 * #head, and an open-addressing index over them (#slots: 0 empty, else 1 +
 * a ring position; linear probing, at most half full; a pair leaves by
 * backward-shift deletion, so no tombstones). NB: until s22 the window was a
 * Map from `${key}:${part}` strings: a string built and hashed per entry
 * (`seen` and `remember` were about 7% of a metric entry's apply, bench/README.md
 * issue 5 s22) and, at the default bound, 200,000 strings per shard replica
 * that every mark-compact of the main thread's heap marked; the columns are
 * off the JS heap and cost 24 B per pair of capacity plus 8 B of index.
 *
 * Invariants (besides those at the top of this file): 0 <= #count <= #cap,
 * #cap a power of two; ring positions (#head + k) mod #cap for k < #count
 * hold the pairs, oldest first; #slots.length === 2 * #cap and the index
 * holds exactly one slot per pair, reachable from its home slot (#hash &
 * mask) through occupied slots; no pair appears twice.
 */
export class IdempotencyWindow {
  #windowMs: number;
  #keysMax: number;
  readonly #hashOf: PairHash;
  #cap = RING_PAIRS_FIRST;
  #hi = new Int32Array(RING_PAIRS_FIRST);
  #lo = new Int32Array(RING_PAIRS_FIRST);
  #part = new Int32Array(RING_PAIRS_FIRST);
  #hash = new Int32Array(RING_PAIRS_FIRST);
  #at = new Float64Array(RING_PAIRS_FIRST);
  #slots = new Int32Array(2 * RING_PAIRS_FIRST);
  #head = 0;
  #count = 0;
  #highWaterMs = 0;
  #evicted = 0;
  #expired = 0;
  /**
   * #lastKey is the last key string parsed and #keyHi, #keyLo its halves
   * (the state machine asks seen, then remember, with one key). It only ever
   * holds a well-formed key (the first is the key of halves 0 and 0), so a
   * key equal to it needs no check.
   */
  #lastKey = '0000000000000000';
  #keyHi = 0;
  #keyLo = 0;

  constructor(options: IdempotencyWindowOptions = {}) {
    this.#windowMs = options.windowMs ?? StorageLimits.idempotencyWindowMsDefault;
    this.#keysMax = options.keysMax ?? StorageLimits.idempotencyKeysDefault;
    this.#hashOf = options.pairHash ?? randomPairHash();
    assert(Number.isSafeInteger(this.#windowMs) && this.#windowMs > 0, 'windowMs > 0');
    assert(this.#windowMs <= StorageLimits.idempotencyWindowMsMax, 'windowMs <= idempotencyWindowMsMax');
    assert(Number.isSafeInteger(this.#keysMax) && this.#keysMax >= 1, 'keysMax >= 1');
    assert(this.#keysMax <= StorageLimits.idempotencyKeysMax, 'keysMax <= idempotencyKeysMax');
  }

  /** seen says whether (key, part) was remembered and has not expired or been evicted. */
  seen(key: string, part: number): boolean {
    this.#parse(key, part);
    return this.#find(this.#keyHi, this.#keyLo, part | 0) >= 0;
  }

  /**
   * remember records (key, part) as applied at `atMs` (the entry's
   * leaderTimeMs). It returns false, changing nothing, if the pair is already
   * remembered. A full window evicts its oldest pair first.
   */
  remember(key: string, part: number, atMs: number): boolean {
    assert(Number.isSafeInteger(atMs) && atMs >= 0, 'remember atMs is a safe non-negative integer');
    this.#parse(key, part);
    const hi = this.#keyHi;
    const lo = this.#keyLo;
    if (this.#find(hi, lo, part | 0) >= 0) return false;
    this.#highWaterMs = Math.max(this.#highWaterMs, atMs);
    while (this.#count >= this.#keysMax) {
      assert(this.#count > 0, 'a full window has an oldest pair');
      this.#dropOldest();
      this.#evicted++;
    }
    this.#add(hi, lo, part | 0, this.#highWaterMs);
    assert(this.#count <= this.#keysMax, 'window size <= keysMax');
    return true;
  }

  /** #parse checks (key, part) and leaves the key's halves in #keyHi and #keyLo (parsed again only for a new key string). */
  #parse(key: string, part: number): void {
    assert(Number.isInteger(part) && part >= 0 && part <= 0xffff_ffff, 'part is a u32');
    if (key === this.#lastKey) return;
    assert(key.length === 16, 'idempotency key is 16 lower-case hex characters');
    const hi = hexWord(key, 0);
    const lo = hexWord(key, 8);
    assert(hi !== -1 && lo !== -1, 'idempotency key is 16 lower-case hex characters');
    this.#keyHi = hi | 0;
    this.#keyLo = lo | 0;
    this.#lastKey = key;
  }

  /** #find is the ring position of pair (hi, lo, part), or -1. */
  #find(hi: number, lo: number, part: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    for (let s = this.#hashOf(hi, lo, part) & mask; ; s = (s + 1) & mask) {
      const p = (slots[s] as number) - 1;
      if (p < 0) return -1;
      if (this.#lo[p] === lo && this.#hi[p] === hi && this.#part[p] === part) return p;
    }
  }

  /** #add appends a pair that is not in the window, growing the ring when it is full. */
  #add(hi: number, lo: number, part: number, atMs: number): void {
    if (this.#count === this.#cap) this.#grow(2 * this.#cap);
    const p = (this.#head + this.#count) & (this.#cap - 1);
    const h = this.#hashOf(hi, lo, part);
    this.#hi[p] = hi;
    this.#lo[p] = lo;
    this.#part[p] = part;
    this.#hash[p] = h;
    this.#at[p] = atMs;
    this.#count++;
    this.#place(p, h);
  }

  #place(p: number, h: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let s = h & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = p + 1;
  }

  /** #dropOldest removes the oldest pair: its index slot by backward-shift deletion, then the ring's head. */
  #dropOldest(): void {
    const p = this.#head;
    const slots = this.#slots;
    const mask = slots.length - 1;
    let i = (this.#hash[p] as number) & mask;
    while (slots[i] !== p + 1) {
      assert(slots[i] !== 0, 'a pair of the ring is in the index');
      i = (i + 1) & mask;
    }
    // Move back every later pair of the probe run whose home slot is not cyclically in (i, j].
    for (let j = i; ; ) {
      slots[i] = 0;
      let home: number;
      do {
        j = (j + 1) & mask;
        const q = (slots[j] as number) - 1;
        if (q < 0) {
          this.#head = (p + 1) & (this.#cap - 1);
          this.#count--;
          return;
        }
        home = (this.#hash[q] as number) & mask;
      } while (i <= j ? i < home && home <= j : i < home || home <= j);
      slots[i] = slots[j] as number;
      i = j;
    }
  }

  /** #grow moves the ring to `cap` pairs (oldest at 0) and builds the index again. */
  #grow(cap: number): void {
    assert(cap >= this.#count && (cap & (cap - 1)) === 0, 'a ring capacity is a power of two that holds every pair');
    const hi = new Int32Array(cap);
    const lo = new Int32Array(cap);
    const part = new Int32Array(cap);
    const hash = new Int32Array(cap);
    const at = new Float64Array(cap);
    const mask = this.#cap - 1;
    for (let k = 0; k < this.#count; k++) {
      const p = (this.#head + k) & mask;
      hi[k] = this.#hi[p] as number;
      lo[k] = this.#lo[p] as number;
      part[k] = this.#part[p] as number;
      hash[k] = this.#hash[p] as number;
      at[k] = this.#at[p] as number;
    }
    this.#hi = hi;
    this.#lo = lo;
    this.#part = part;
    this.#hash = hash;
    this.#at = at;
    this.#cap = cap;
    this.#head = 0;
    this.#slots = new Int32Array(2 * cap);
    for (let k = 0; k < this.#count; k++) this.#place(k, hash[k] as number);
  }

  /** expire forgets pairs remembered at or before nowMs - windowMs; nowMs is an entry's leaderTimeMs. Returns how many. */
  expire(nowMs: number): number {
    assert(Number.isSafeInteger(nowMs) && nowMs >= 0, 'expire nowMs is a safe non-negative integer');
    const cutoff = nowMs - this.#windowMs;
    let n = 0;
    while (this.#count > 0 && (this.#at[this.#head] as number) <= cutoff) {
      this.#dropOldest();
      n++;
    }
    this.#expired += n;
    return n;
  }

  /** stats returns the counters. */
  stats(): IdempotencyStats {
    return { keys: this.#count, evicted: this.#evicted, expired: this.#expired, highWaterMs: this.#highWaterMs };
  }

  /** snapshot encodes the whole window (layout above); equal windows give equal bytes. */
  snapshot(): Uint8Array {
    const out = new Uint8Array(HEADER_BYTES + PAIR_BYTES * this.#count);
    const v = new DataView(out.buffer);
    v.setUint8(0, IDEMPOTENCY_SNAPSHOT_VERSION);
    v.setBigUint64(1, BigInt(this.#windowMs));
    v.setBigUint64(9, BigInt(this.#highWaterMs));
    v.setBigUint64(17, BigInt(this.#evicted));
    v.setBigUint64(25, BigInt(this.#expired));
    v.setUint32(33, this.#keysMax);
    v.setUint32(37, this.#count);
    let at = HEADER_BYTES;
    const mask = this.#cap - 1;
    for (let k = 0; k < this.#count; k++) {
      const p = (this.#head + k) & mask;
      v.setUint32(at, (this.#hi[p] as number) >>> 0);
      v.setUint32(at + 4, (this.#lo[p] as number) >>> 0);
      v.setUint32(at + 8, (this.#part[p] as number) >>> 0);
      v.setBigUint64(at + 12, BigInt(this.#at[p] as number));
      at += PAIR_BYTES;
    }
    assert(at === out.length, 'snapshot filled exactly');
    return out;
  }

  /**
   * restore replaces this window's state with a snapshot's, including its
   * window length and key bound (they are replicated state: a replica
   * configured differently must still agree with its peers). Malformed bytes
   * throw ERR_CORRUPTION and leave the window unchanged.
   */
  restore(bytes: Uint8Array): void {
    const corrupt = (what: string): never => {
      throw new OtlpdbError('ERR_CORRUPTION', `idempotency snapshot: ${what}`);
    };
    if (bytes.length < HEADER_BYTES) corrupt(`${bytes.length} bytes is shorter than the header`);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (v.getUint8(0) !== IDEMPOTENCY_SNAPSHOT_VERSION) corrupt(`version ${v.getUint8(0)} is not ${IDEMPOTENCY_SNAPSHOT_VERSION}`);
    const safe = (off: number, what: string): number => {
      const x = v.getBigUint64(off);
      if (x > BigInt(Number.MAX_SAFE_INTEGER)) corrupt(`${what} is not a safe integer`);
      return Number(x);
    };
    const windowMs = safe(1, 'windowMs');
    const highWaterMs = safe(9, 'highWaterMs');
    const evicted = safe(17, 'evicted');
    const expired = safe(25, 'expired');
    const keysMax = v.getUint32(33);
    const count = v.getUint32(37);
    if (windowMs < 1 || windowMs > StorageLimits.idempotencyWindowMsMax) corrupt(`windowMs ${windowMs} is outside [1, ${StorageLimits.idempotencyWindowMsMax}]`);
    if (keysMax < 1 || keysMax > StorageLimits.idempotencyKeysMax) corrupt(`keysMax ${keysMax} is outside [1, ${StorageLimits.idempotencyKeysMax}]`);
    if (count > keysMax) corrupt(`count ${count} exceeds keysMax ${keysMax}`);
    if (bytes.length !== HEADER_BYTES + PAIR_BYTES * count) corrupt(`${bytes.length} bytes do not hold ${count} pairs`);
    // Built apart and swapped in only when every pair is read: a refusal leaves this window as it was.
    const w = new IdempotencyWindow({ windowMs, keysMax, pairHash: this.#hashOf });
    let cap = RING_PAIRS_FIRST;
    while (cap < count) cap *= 2;
    if (cap > w.#cap) w.#grow(cap);
    let prevMs = 0;
    for (let at = HEADER_BYTES; at < bytes.length; at += PAIR_BYTES) {
      const hi = v.getInt32(at);
      const lo = v.getInt32(at + 4);
      const part = v.getInt32(at + 8);
      const atMs = safe(at + 12, 'atMs');
      if (atMs < prevMs) corrupt('pairs are not in time order');
      if (atMs > highWaterMs) corrupt('a pair is newer than highWaterMs');
      if (w.#find(hi, lo, part) >= 0) corrupt(`pair ${hexKey(hi, lo)}:${part >>> 0} appears twice`);
      w.#add(hi, lo, part, atMs);
      prevMs = atMs;
    }
    assert(w.#count === count, 'restored every pair');
    this.#windowMs = windowMs;
    this.#keysMax = keysMax;
    this.#cap = w.#cap;
    this.#hi = w.#hi;
    this.#lo = w.#lo;
    this.#part = w.#part;
    this.#hash = w.#hash;
    this.#at = w.#at;
    this.#slots = w.#slots;
    this.#head = w.#head;
    this.#count = w.#count;
    this.#highWaterMs = highWaterMs;
    this.#evicted = evicted;
    this.#expired = expired;
  }
}

/** hexWord is the 32-bit value of key[from, from + 8) as lower-case hex (unsigned), or -1 when a character is not one. */
function hexWord(key: string, from: number): number {
  let x = 0;
  for (let i = from; i < from + 8; i++) {
    const c = key.charCodeAt(i);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else return -1;
    x = x * 16 + d;
  }
  return x;
}

/** hexKey is the key string of the halves (for messages). */
function hexKey(hi: number, lo: number): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}
