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
 * - Every remembered pair's atMs is <= #highWaterMs, and pairs sit in #byKey
 *   in non-decreasing atMs order (insertion order). `remember` clamps a
 *   leader time that went backwards (a new leader with a slower clock) up to
 *   the high-water mark, which keeps the order and lets expiry and eviction
 *   both take from the front.
 * - #byKey.size <= #keysMax; the oldest pairs are evicted first and counted
 *   in #evicted (an evicted key could be stored twice if retried: the metric
 *   says the window was too small for the load).
 *
 * The state machine owns one window per shard replica and calls, per entry:
 * expire(entry.leaderTimeMs), then seen(key, part), then remember(...) after
 * applying a fresh entry.
 */
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
const KEY_HEX = /^[0-9a-f]{16}$/;
assert(
  HEADER_BYTES + PAIR_BYTES * StorageLimits.idempotencyKeysMax <= StorageLimits.blockPayloadBytesMax,
  'a full idempotency snapshot fits one block',
);

/** IdempotencyWindowOptions configure a window; both default to StorageLimits. */
export interface IdempotencyWindowOptions {
  readonly windowMs?: number;
  readonly keysMax?: number;
}

/** IdempotencyStats are the window's counters, for metrics. */
export interface IdempotencyStats {
  readonly keys: number;
  readonly evicted: number;
  readonly expired: number;
  readonly highWaterMs: number;
}

/** IdempotencyWindow remembers applied (idempotency key, part) pairs for a window of entry time. */
export class IdempotencyWindow {
  #windowMs: number;
  #keysMax: number;
  /** #byKey maps `${key}:${part}` to atMs, oldest first (see the invariants above). */
  #byKey = new Map<string, number>();
  #highWaterMs = 0;
  #evicted = 0;
  #expired = 0;
  /**
   * The last pair `seen` checked and its map key: the state machine calls
   * remember(key, part) right after seen(key, part) for a fresh entry, and
   * building and checking the key once per entry instead of twice was a
   * share of apply. A cache of one pair: it holds no state of the window.
   */
  #lastKey = '';
  #lastPart = -1;
  #lastPair = '';

  constructor(options: IdempotencyWindowOptions = {}) {
    this.#windowMs = options.windowMs ?? StorageLimits.idempotencyWindowMsDefault;
    this.#keysMax = options.keysMax ?? StorageLimits.idempotencyKeysDefault;
    assert(Number.isSafeInteger(this.#windowMs) && this.#windowMs > 0, 'windowMs > 0');
    assert(this.#windowMs <= StorageLimits.idempotencyWindowMsMax, 'windowMs <= idempotencyWindowMsMax');
    assert(Number.isSafeInteger(this.#keysMax) && this.#keysMax >= 1, 'keysMax >= 1');
    assert(this.#keysMax <= StorageLimits.idempotencyKeysMax, 'keysMax <= idempotencyKeysMax');
  }

  /** seen says whether (key, part) was remembered and has not expired or been evicted. */
  seen(key: string, part: number): boolean {
    return this.#byKey.has(this.#pair(key, part));
  }

  /**
   * remember records (key, part) as applied at `atMs` (the entry's
   * leaderTimeMs). It returns false, changing nothing, if the pair is already
   * remembered. A full window evicts its oldest pair first.
   */
  remember(key: string, part: number, atMs: number): boolean {
    assert(Number.isSafeInteger(atMs) && atMs >= 0, 'remember atMs is a safe non-negative integer');
    const k = this.#pair(key, part);
    if (this.#byKey.has(k)) return false;
    this.#highWaterMs = Math.max(this.#highWaterMs, atMs);
    while (this.#byKey.size >= this.#keysMax) {
      const oldest = this.#byKey.keys().next();
      assert(oldest.done !== true, 'a full window has an oldest pair');
      this.#byKey.delete(oldest.value);
      this.#evicted++;
    }
    this.#byKey.set(k, this.#highWaterMs);
    assert(this.#byKey.size <= this.#keysMax, 'window size <= keysMax');
    return true;
  }

  /** pair is (key, part)'s map key, checked; the last pair asked for is answered again without building or checking it twice. */
  #pair(key: string, part: number): string {
    if (key === this.#lastKey && part === this.#lastPart) return this.#lastPair;
    checkPair(key, part);
    const k = pairKey(key, part);
    this.#lastKey = key;
    this.#lastPart = part;
    this.#lastPair = k;
    return k;
  }

  /** expire forgets pairs remembered at or before nowMs - windowMs; nowMs is an entry's leaderTimeMs. Returns how many. */
  expire(nowMs: number): number {
    assert(Number.isSafeInteger(nowMs) && nowMs >= 0, 'expire nowMs is a safe non-negative integer');
    const cutoff = nowMs - this.#windowMs;
    let n = 0;
    for (const [k, atMs] of this.#byKey) {
      if (atMs > cutoff) break;
      this.#byKey.delete(k);
      n++;
    }
    this.#expired += n;
    return n;
  }

  /** stats returns the counters. */
  stats(): IdempotencyStats {
    return { keys: this.#byKey.size, evicted: this.#evicted, expired: this.#expired, highWaterMs: this.#highWaterMs };
  }

  /** snapshot encodes the whole window (layout above); equal windows give equal bytes. */
  snapshot(): Uint8Array {
    const out = new Uint8Array(HEADER_BYTES + PAIR_BYTES * this.#byKey.size);
    const v = new DataView(out.buffer);
    v.setUint8(0, IDEMPOTENCY_SNAPSHOT_VERSION);
    v.setBigUint64(1, BigInt(this.#windowMs));
    v.setBigUint64(9, BigInt(this.#highWaterMs));
    v.setBigUint64(17, BigInt(this.#evicted));
    v.setBigUint64(25, BigInt(this.#expired));
    v.setUint32(33, this.#keysMax);
    v.setUint32(37, this.#byKey.size);
    let at = HEADER_BYTES;
    for (const [k, atMs] of this.#byKey) {
      const colon = k.indexOf(':');
      v.setBigUint64(at, BigInt(`0x${k.slice(0, colon)}`));
      v.setUint32(at + 8, Number(k.slice(colon + 1)));
      v.setBigUint64(at + 12, BigInt(atMs));
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
    const byKey = new Map<string, number>();
    let prevMs = 0;
    for (let at = HEADER_BYTES; at < bytes.length; at += PAIR_BYTES) {
      const key = v.getBigUint64(at).toString(16).padStart(16, '0');
      const part = v.getUint32(at + 8);
      const atMs = safe(at + 12, 'atMs');
      if (atMs < prevMs) corrupt('pairs are not in time order');
      if (atMs > highWaterMs) corrupt('a pair is newer than highWaterMs');
      const k = pairKey(key, part);
      if (byKey.has(k)) corrupt(`pair ${k} appears twice`);
      byKey.set(k, atMs);
      prevMs = atMs;
    }
    assert(byKey.size === count, 'restored every pair');
    this.#windowMs = windowMs;
    this.#keysMax = keysMax;
    this.#byKey = byKey;
    this.#highWaterMs = highWaterMs;
    this.#evicted = evicted;
    this.#expired = expired;
  }
}

function checkPair(key: string, part: number): void {
  assert(KEY_HEX.test(key), 'idempotency key is 16 lower-case hex characters');
  assert(Number.isInteger(part) && part >= 0 && part <= 0xffff_ffff, 'part is a u32');
}

function pairKey(key: string, part: number): string {
  return `${key}:${part}`;
}
