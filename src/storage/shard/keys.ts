/**
 * keys.ts — the LevelDB key layout of one shard replica, shared by the
 * signal stores. Keys are binary and big-endian, so a LevelDB prefix scan
 * is an ordered scan (by tenant, then time bucket, then flush).
 *
 *   byte 0            the key space (KeySpace below); each signal owns a range
 *   tenant + 0x00     the tenant id (ASCII [A-Za-z0-9_.-], never NUL) and a terminator
 *   ...               the store's own fields (u64 big-endian for times, buckets
 *                     and flush indexes; raw bytes for ids)
 *
 * KeySpace ranges: 0x00-0x0f shard metadata (this folder), 0x10-0x1f traces,
 * 0x20-0x2f metrics, 0x30-0x3f logs. A store never writes outside its range,
 * so a snapshot or a retention pass can treat each range on its own.
 */
import { assert } from '../../errors.js';

/** KeySpace names the first byte of every key a shard replica writes. */
export const KeySpace = {
  /** Meta is the shard's own record: format version, applied (durable) index, flush counter. */
  Meta: 0x00,
  /** Idempotency holds the idempotency window as of the durable index. */
  Idempotency: 0x01,
  /** TracesFirst..TracesLast is the traces store's range. */
  TracesFirst: 0x10,
  TracesLast: 0x1f,
  /** MetricsFirst..MetricsLast is the metrics store's range. */
  MetricsFirst: 0x20,
  MetricsLast: 0x2f,
  /** LogsFirst..LogsLast is the logs store's range. */
  LogsFirst: 0x30,
  LogsLast: 0x3f,
} as const;

const enc = new TextEncoder();

/**
 * KeyBuilder appends key fields into a growable buffer. Big-endian numbers keep
 * LevelDB's byte order equal to numeric order.
 */
export class KeyBuilder {
  #buf: Uint8Array;
  #dv: DataView;
  #len = 0;

  constructor(space: number, capacity = 64) {
    assert(Number.isInteger(space) && space >= 0 && space <= 0xff, 'key space is a byte');
    this.#buf = new Uint8Array(Math.max(capacity, 16));
    this.#dv = new DataView(this.#buf.buffer);
    this.#buf[0] = space;
    this.#len = 1;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#dv = new DataView(next.buffer);
  }

  /** u8 appends one byte. */
  u8(v: number): this {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xff, 'u8 in [0, 255]');
    this.#reserve(1);
    this.#buf[this.#len++] = v;
    return this;
  }

  /** u16 appends a big-endian u16. */
  u16(v: number): this {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffff, 'u16 in range');
    this.#reserve(2);
    this.#dv.setUint16(this.#len, v);
    this.#len += 2;
    return this;
  }

  /** u32 appends a big-endian u32. */
  u32(v: number): this {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff, 'u32 in range');
    this.#reserve(4);
    this.#dv.setUint32(this.#len, v);
    this.#len += 4;
    return this;
  }

  /** u64 appends a big-endian u64 given as a safe non-negative integer or a bigint in [0, 2^64). */
  u64(v: number | bigint): this {
    const b = typeof v === 'bigint' ? v : BigInt(v);
    assert(b >= 0n && b < 1n << 64n, 'u64 in [0, 2^64)');
    assert(typeof v === 'bigint' || Number.isSafeInteger(v), 'a number u64 is a safe integer');
    this.#reserve(8);
    this.#dv.setBigUint64(this.#len, b);
    this.#len += 8;
    return this;
  }

  /** tenant appends a tenant id and its 0x00 terminator. */
  tenant(id: string): this {
    assert(id.length > 0 && !id.includes('\0'), 'tenant id is non-empty and has no NUL');
    return this.str(id).u8(0);
  }

  /** str appends UTF-8 bytes without a length or terminator (use it last, or follow it with a terminator). */
  str(s: string): this {
    const b = enc.encode(s);
    return this.bytes(b);
  }

  /** bytes appends raw bytes. */
  bytes(b: Uint8Array): this {
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** build returns a copy of the key so far (the builder can go on). */
  build(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** key starts a KeyBuilder in `space`. */
export function key(space: number): KeyBuilder {
  return new KeyBuilder(space);
}

/**
 * prefixEnd returns the smallest key greater than every key starting with
 * `prefix` (for an `lt` bound), or null when no such key exists (all 0xff).
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  const out = prefix.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if ((out[i] as number) < 0xff) {
      out[i] = (out[i] as number) + 1;
      return out.subarray(0, i + 1).slice();
    }
  }
  return null;
}

/** compareKeys orders keys as LevelDB does (bytewise). */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** readU64 reads a big-endian u64 at `offset` as a number (asserting it is safe). */
export function readU64(key: Uint8Array, offset: number): number {
  assert(offset + 8 <= key.length, 'u64 inside the key');
  const v = new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(offset);
  assert(v <= BigInt(Number.MAX_SAFE_INTEGER), 'u64 field is a safe integer');
  return Number(v);
}

/** readU32 reads a big-endian u32 at `offset`. */
export function readU32(key: Uint8Array, offset: number): number {
  assert(offset + 4 <= key.length, 'u32 inside the key');
  return new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(offset);
}
