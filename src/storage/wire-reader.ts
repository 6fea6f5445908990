/**
 * wire-reader.ts — checked reads of values decoded by msgpackr, shared by the
 * decoders of stored formats (the shard entry, the idempotency window).
 *
 * A WireReader turns every failed check into one OtlpdbError: ERR_CORRUPTION
 * when it reads stored bytes, ERR_INVALID_ARGUMENT / ERR_LIMIT_EXCEEDED when
 * it checks input that is about to be written. Pure code.
 */
import { OtlpdbError } from '../errors.js';

/** WireMode says whose fault a failed check is: stored bytes ('stored') or a caller's input ('input'). */
export type WireMode = 'stored' | 'input';

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** WireReader checks decoded msgpack values field by field; `what` names the field in the error. */
export class WireReader {
  readonly mode: WireMode;

  constructor(mode: WireMode) {
    this.mode = mode;
  }

  /** fail throws the error of this mode; `overLimit` picks ERR_LIMIT_EXCEEDED for input. */
  fail(what: string, problem: string, overLimit = false): never {
    if (this.mode === 'stored') throw new OtlpdbError('ERR_CORRUPTION', `stored ${what}: ${problem}`, { field: what });
    throw new OtlpdbError(overLimit ? 'ERR_LIMIT_EXCEEDED' : 'ERR_INVALID_ARGUMENT', `${what}: ${problem}`, { field: what });
  }

  /** array checks an array of at most `max` elements. */
  array(v: unknown, what: string, max: number): unknown[] {
    if (!Array.isArray(v)) this.fail(what, 'is not an array');
    if (v.length > max) this.fail(what, `has ${v.length} elements, more than ${max}`, true);
    return v as unknown[];
  }

  /** tuple checks an array of exactly `n` elements. */
  tuple(v: unknown, what: string, n: number): unknown[] {
    if (!Array.isArray(v)) this.fail(what, 'is not an array');
    if (v.length !== n) this.fail(what, `has ${v.length} fields, not ${n}`);
    return v as unknown[];
  }

  /** string checks a string of at most `maxBytes` UTF-8 bytes. */
  string(v: unknown, what: string, maxBytes: number): string {
    if (typeof v !== 'string') this.fail(what, 'is not a string');
    // A UTF-16 code unit takes at most 3 UTF-8 bytes, so short strings skip the exact count.
    if (v.length * 3 > maxBytes && Buffer.byteLength(v, 'utf8') > maxBytes) this.fail(what, `is longer than ${maxBytes} bytes`, true);
    return v;
  }

  /** uint checks an integer in [0, max]. */
  uint(v: unknown, what: string, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(what, 'is not an integer');
    if (v < 0 || v > max) this.fail(what, `${v} is outside [0, ${max}]`);
    return v;
  }

  /** int checks an integer in [min, max]. */
  int(v: unknown, what: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(what, 'is not an integer');
    if (v < min || v > max) this.fail(what, `${v} is outside [${min}, ${max}]`);
    return v;
  }

  /** u32 checks an unsigned 32-bit integer. */
  u32(v: unknown, what: string): number {
    return this.uint(v, what, 0xffff_ffff);
  }

  /** count checks a non-negative safe integer. */
  count(v: unknown, what: string): number {
    return this.uint(v, what, Number.MAX_SAFE_INTEGER);
  }

  /** u64 checks a bigint in [0, 2^64). */
  u64(v: unknown, what: string): bigint {
    if (typeof v !== 'bigint') this.fail(what, 'is not a 64-bit integer');
    if (v < 0n || v > U64_MAX) this.fail(what, 'is outside the unsigned 64-bit range');
    return v;
  }

  /** i64 checks a bigint in [-2^63, 2^63). */
  i64(v: unknown, what: string): bigint {
    if (typeof v !== 'bigint') this.fail(what, 'is not a 64-bit integer');
    if (v < I64_MIN || v > I64_MAX) this.fail(what, 'is outside the signed 64-bit range');
    return v;
  }

  /** double checks a number (NaN and infinities are valid doubles). */
  double(v: unknown, what: string): number {
    if (typeof v !== 'number') this.fail(what, 'is not a number');
    return v;
  }

  /** nullableDouble checks a number or null. */
  nullableDouble(v: unknown, what: string): number | null {
    return v === null ? null : this.double(v, what);
  }

  /** bool checks a boolean. */
  bool(v: unknown, what: string): boolean {
    if (typeof v !== 'boolean') this.fail(what, 'is not a boolean');
    return v;
  }

  /** bytes checks a byte string of at most `maxBytes` bytes and returns it as a plain Uint8Array. */
  bytes(v: unknown, what: string, maxBytes: number): Uint8Array {
    if (!(v instanceof Uint8Array)) this.fail(what, 'is not a byte string');
    if (v.length > maxBytes) this.fail(what, `is longer than ${maxBytes} bytes`, true);
    return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }

  /** id checks a byte string of exactly `length` bytes, or of 0 bytes when `optional`. */
  id(v: unknown, what: string, length: number, optional: boolean): Uint8Array {
    const b = this.bytes(v, what, length);
    if (b.length !== length && !(optional && b.length === 0)) this.fail(what, `is ${b.length} bytes, not ${optional ? `0 or ${length}` : length}`);
    return b;
  }
}
