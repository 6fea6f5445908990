/**
 * json-fields.ts — typed reads of the fields of a parsed OTLP/JSON request
 * (the protobuf JSON mapping as the OTLP/HTTP specification narrows it):
 * lowerCamelCase names with the original snake_case accepted too, null as
 * absent, 64-bit integers as decimal strings or numbers, doubles as numbers or
 * "NaN"/"Infinity"/"-Infinity", enums as integers or names, trace and span
 * ids as hex, bytes values as base64.
 *
 * A value of the wrong JSON type is a framing error of the whole request: it
 * throws JsonShapeError, which the decoders turn into ERR_INVALID_ARGUMENT
 * naming the path (resourceSpans[0].scopeSpans[1].spans[2].kind). Problems of
 * one item (an id of the wrong length, a kind out of range) are not thrown:
 * they are recorded on the DecodeContext like the protobuf decoders do.
 */
import { OtlpdbError } from '../errors.js';
import { OtlpLimits } from '../limits.js';
import { COUNT_TOO_LARGE } from './proto-reader.js';

/** JObj is a parsed JSON object. */
export type JObj = Readonly<Record<string, unknown>>;

/** JsonShapeError is a framing error of an OTLP/JSON request at `path` (inner segments first are prepended as it unwinds). */
export class JsonShapeError extends Error {
  path: string;

  constructor(field: string, problem: string) {
    super(problem);
    this.name = 'JsonShapeError';
    this.path = field;
  }

  /** within prepends a path segment (`spans[2]`) as the error unwinds through a container. */
  within(segment: string): JsonShapeError {
    const p = this.path;
    this.path = p === '' ? segment : p.startsWith('[') ? segment + p : `${segment}.${p}`;
    return this;
  }
}

/** rethrowWithin prepends `segment` to a JsonShapeError and rethrows any error. */
export function rethrowWithin(err: unknown, segment: string): never {
  if (err instanceof JsonShapeError) throw err.within(segment);
  throw err;
}

/** toInvalidArgument turns a JsonShapeError into the decoders' ERR_INVALID_ARGUMENT (other errors pass through). */
export function toInvalidArgument(err: unknown): unknown {
  if (!(err instanceof JsonShapeError)) return err;
  const path = err.path.length > OtlpLimits.jsonFieldPathCharsMax ? `${err.path.slice(0, OtlpLimits.jsonFieldPathCharsMax)}...` : err.path;
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `malformed OTLP/JSON at ${path}: ${err.message}`, { path });
}

/** parseJsonBody parses a request body as UTF-8 JSON whose top level is an object. */
export function parseJsonBody(body: Uint8Array): JObj {
  let text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `malformed OTLP/JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'malformed OTLP/JSON: the body is not a JSON object');
  return v as JObj;
}

/** field is the value of `camel` (or `snake`) in `o`; undefined when absent or null. */
export function field(o: JObj, camel: string, snake: string): unknown {
  const v = o[camel];
  if (v !== undefined && v !== null) return v;
  const s = o[snake];
  return s === null ? undefined : s;
}

/** str reads a string field ('' when absent). */
export function str(o: JObj, camel: string, snake: string): string {
  const v = field(o, camel, snake);
  if (v === undefined) return '';
  if (typeof v !== 'string') throw new JsonShapeError(camel, 'is not a string');
  return v;
}

/** obj reads a message field (undefined when absent). */
export function obj(o: JObj, camel: string, snake: string): JObj | undefined {
  const v = field(o, camel, snake);
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new JsonShapeError(camel, 'is not an object');
  return v as JObj;
}

const EMPTY_ARRAY: readonly unknown[] = Object.freeze([]);

/** arr reads a repeated field (empty when absent). */
export function arr(o: JObj, camel: string, snake: string): readonly unknown[] {
  const v = field(o, camel, snake);
  if (v === undefined) return EMPTY_ARRAY;
  if (!Array.isArray(v)) throw new JsonShapeError(camel, 'is not an array');
  return v;
}

/** asObj checks that an element of a repeated message field is an object. */
export function asObj(v: unknown, segment: string): JObj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new JsonShapeError(segment, 'is not an object');
  return v as JObj;
}

/** bool reads a boolean field (false when absent). */
export function bool(o: JObj, camel: string, snake: string): boolean {
  const v = field(o, camel, snake);
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new JsonShapeError(camel, 'is not a boolean');
  return v;
}

const DECIMAL = /^-?[0-9]+$/;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

function integer(v: unknown, name: string): bigint {
  if (typeof v === 'number') {
    // NB: a JSON number above 2^53 has already been rounded by JSON.parse; exporters send 64-bit values as strings.
    if (!Number.isInteger(v)) throw new JsonShapeError(name, `${v} is not an integer`);
    return BigInt(v);
  }
  if (typeof v === 'string' && DECIMAL.test(v) && v.length <= 21) return BigInt(v);
  throw new JsonShapeError(name, 'is not an integer or a decimal string');
}

/** u64 reads a fixed64/uint64 field as a bigint (0 when absent). */
export function u64(o: JObj, camel: string, snake: string): bigint {
  const v = field(o, camel, snake);
  if (v === undefined) return 0n;
  const n = integer(v, camel);
  if (n < 0n || n > U64_MAX) throw new JsonShapeError(camel, `${n} is outside the unsigned 64-bit range`);
  return n;
}

/** i64 reads an int64/sfixed64 value as a bigint. */
export function i64(v: unknown, name: string): bigint {
  const n = integer(v, name);
  if (n < I64_MIN || n > I64_MAX) throw new JsonShapeError(name, `${n} is outside the signed 64-bit range`);
  return n;
}

/** count reads a fixed64/uint64 count: a number, or COUNT_TOO_LARGE above 2^53 - 1 (the item check refuses it). */
export function count(v: unknown, name: string): number {
  if (v === undefined || v === null) return 0;
  const n = integer(v, name);
  if (n < 0n || n > U64_MAX) throw new JsonShapeError(name, `${n} is outside the unsigned 64-bit range`);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? COUNT_TOO_LARGE : Number(n);
}

function int32(v: unknown, name: string, min: number, max: number): number {
  const n = integer(v, name);
  if (n < BigInt(min) || n > BigInt(max)) throw new JsonShapeError(name, `${n} is outside [${min}, ${max}]`);
  return Number(n);
}

/** u32 reads a uint32/fixed32 field (0 when absent). */
export function u32(o: JObj, camel: string, snake: string): number {
  const v = field(o, camel, snake);
  return v === undefined ? 0 : int32(v, camel, 0, 0xffff_ffff);
}

/** s32 reads an int32/sint32 field (0 when absent). */
export function s32(o: JObj, camel: string, snake: string): number {
  const v = field(o, camel, snake);
  return v === undefined ? 0 : int32(v, camel, -(2 ** 31), 2 ** 31 - 1);
}

/** enumField reads an enum field given as an integer or as one of `names` (index = value); 0 when absent. */
export function enumField(o: JObj, camel: string, snake: string, names: readonly string[]): number {
  const v = field(o, camel, snake);
  if (v === undefined) return 0;
  if (typeof v === 'string' && !DECIMAL.test(v)) {
    const i = names.indexOf(v);
    if (i < 0) throw new JsonShapeError(camel, `${JSON.stringify(v.slice(0, 64))} is not a known enum name`);
    return i;
  }
  return int32(v, camel, -(2 ** 31), 2 ** 31 - 1);
}

/** double reads a double value: a number or "NaN", "Infinity", "-Infinity" or a numeric string; -0 becomes 0. */
export function double(v: unknown, name: string): number {
  let d: number;
  if (typeof v === 'number') d = v;
  else if (typeof v === 'string') {
    if (v === 'NaN') return Number.NaN;
    if (v === 'Infinity') return Number.POSITIVE_INFINITY;
    if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
    d = v.trim() === '' ? Number.NaN : Number(v);
    if (Number.isNaN(d)) throw new JsonShapeError(name, 'is not a number');
  } else throw new JsonShapeError(name, 'is not a number');
  return d === 0 ? 0 : d;
}

/** doubleField reads a double field (0 when absent). */
export function doubleField(o: JObj, camel: string, snake: string): number {
  const v = field(o, camel, snake);
  return v === undefined ? 0 : double(v, camel);
}

/** optionalDouble reads an `optional double` field: null when absent. */
export function optionalDouble(o: JObj, camel: string, snake: string): number | null {
  const v = field(o, camel, snake);
  return v === undefined ? null : double(v, camel);
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** base64 decodes a bytes value (standard or URL-safe alphabet, padding optional) into a plain Uint8Array. */
export function base64(v: unknown, name: string): Uint8Array {
  if (typeof v !== 'string' || !BASE64.test(v)) throw new JsonShapeError(name, 'is not base64');
  const b = Buffer.from(v, 'base64');
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

/** HEX_SCRATCH_BYTES bounds the ids decoded from hex into the scratch buffer (longer ones are wrong anyway). */
const HEX_SCRATCH_BYTES = 64;

/**
 * HexIds decodes hex ids into one scratch buffer per decode call; the id
 * checks then copy what a row keeps (item-values.ts).
 */
export class HexIds {
  readonly scratch = new Uint8Array(HEX_SCRATCH_BYTES);

  /**
   * decode reads a hex id field into the scratch buffer and returns its byte
   * length, or -1 when it is not hex (the caller refuses the item), or
   * HEX_SCRATCH_BYTES + 1 when it is longer than any id.
   */
  decode(o: JObj, camel: string, snake: string): number {
    const v = field(o, camel, snake);
    if (v === undefined) return 0;
    if (typeof v !== 'string') throw new JsonShapeError(camel, 'is not a hex string');
    if (v.length % 2 !== 0) return -1;
    const n = v.length / 2;
    if (n > HEX_SCRATCH_BYTES) return HEX_SCRATCH_BYTES + 1;
    for (let i = 0; i < n; i++) {
      const hi = hexDigit(v.charCodeAt(2 * i));
      const lo = hexDigit(v.charCodeAt(2 * i + 1));
      if (hi < 0 || lo < 0) return -1;
      this.scratch[i] = (hi << 4) | lo;
    }
    return n;
  }
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
