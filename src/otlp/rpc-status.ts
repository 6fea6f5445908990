/**
 * rpc-status.ts — the error bodies the OTLP specification prescribes:
 * `google.rpc.Status` (code, message, details), with a
 * `google.rpc.RetryInfo` detail when the client should retry after a delay.
 * OTLP/HTTP sends it as the response body (protobuf or JSON, the request's
 * content type); OTLP/gRPC sends it in the `grpc-status-details-bin`
 * trailer.
 *
 * Wire layout (proto3; field numbers from googleapis google/rpc/status.proto,
 * error_details.proto, google/protobuf/any.proto and duration.proto):
 *
 *   Status    { int32 code = 1; string message = 2; repeated Any details = 3; }
 *   Any       { string type_url = 1; bytes value = 2; }
 *   RetryInfo { Duration retry_delay = 1; }
 *   Duration  { int64 seconds = 1; int32 nanos = 2; }
 */
import { assert } from '../errors.js';

/** RETRY_INFO_TYPE_URL is the Any type URL of google.rpc.RetryInfo. */
export const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/** RpcStatus is a google.rpc.Status with at most a RetryInfo detail. */
export interface RpcStatus {
  /** code is the gRPC status code (src/errors.ts GrpcStatus). */
  readonly code: number;
  readonly message: string;
  /** retryAfterMs, when set, becomes a RetryInfo detail. */
  readonly retryAfterMs?: number;
}

/** encodeRpcStatus writes a Status as protobuf bytes. */
export function encodeRpcStatus(s: RpcStatus): Uint8Array {
  assert(Number.isSafeInteger(s.code) && s.code >= 0 && s.code <= 16, 'a gRPC status code');
  const w = new ProtoWriter();
  if (s.code !== 0) w.varintField(1, s.code);
  if (s.message !== '') w.bytesField(2, new TextEncoder().encode(s.message));
  if (s.retryAfterMs !== undefined) {
    const any = new ProtoWriter();
    any.bytesField(1, new TextEncoder().encode(RETRY_INFO_TYPE_URL));
    any.bytesField(2, encodeRetryInfo(s.retryAfterMs));
    w.bytesField(3, any.finish());
  }
  return w.finish();
}

/** encodeRetryInfo writes a RetryInfo whose retry_delay is `ms`. */
export function encodeRetryInfo(ms: number): Uint8Array {
  assert(Number.isSafeInteger(ms) && ms >= 0, 'a retry delay in whole ms');
  const d = new ProtoWriter();
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms % 1000) * 1_000_000;
  if (seconds !== 0) d.varintField(1, seconds);
  if (nanos !== 0) d.varintField(2, nanos);
  const r = new ProtoWriter();
  r.bytesField(1, d.finish());
  return r.finish();
}

/** rpcStatusJson is a Status in the protobuf JSON mapping (OTLP/HTTP with application/json). */
export function rpcStatusJson(s: RpcStatus): Record<string, unknown> {
  const out: Record<string, unknown> = { code: s.code, message: s.message };
  if (s.retryAfterMs !== undefined) {
    out['details'] = [{ '@type': RETRY_INFO_TYPE_URL, retryDelay: `${(s.retryAfterMs / 1000).toFixed(3).replace(/\.?0+$/, '')}s` }];
  }
  return out;
}

/**
 * ProtoWriter appends protobuf fields to a growing buffer: status bodies,
 * export responses and trace-by-id answers. A nested message is written whole
 * and copied into its parent (bytesField), so a message of depth d costs d
 * copies; the answers it writes are bounded (TraceLookupLimits.answerBytesMax).
 */
export class ProtoWriter {
  #buf = new Uint8Array(64);
  #len = 0;

  /** varintField writes field `no` with wire type 0 and a non-negative safe integer value. */
  varintField(no: number, v: number): void {
    this.#varint(no * 8);
    this.#varint(v);
  }

  /** bytesField writes field `no` with wire type 2 (length-delimited). */
  bytesField(no: number, b: Uint8Array): void {
    this.#varint(no * 8 + 2);
    this.#varint(b.length);
    this.#ensure(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  /** int64Field writes field `no` with wire type 0 and a signed 64-bit value (negative ones take ten bytes, as proto int64 does). */
  int64Field(no: number, v: bigint): void {
    assert(v >= -(1n << 63n) && v < 1n << 63n, 'an int64 is in [-2^63, 2^63)');
    this.#varint(no * 8);
    let u = BigInt.asUintN(64, v);
    this.#ensure(10);
    while (u >= 0x80n) {
      this.#buf[this.#len++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.#buf[this.#len++] = Number(u);
  }

  /** fixed64Field writes field `no` with wire type 1 and an unsigned 64-bit value (proto fixed64: times in nanoseconds). */
  fixed64Field(no: number, v: bigint): void {
    assert(v >= 0n && v < 1n << 64n, 'a fixed64 is in [0, 2^64)');
    this.#varint(no * 8 + 1);
    this.#ensure(8);
    new DataView(this.#buf.buffer, this.#buf.byteOffset).setBigUint64(this.#len, v, true);
    this.#len += 8;
  }

  /** fixed32Field writes field `no` with wire type 5 and an unsigned 32-bit value (proto fixed32: span flags). */
  fixed32Field(no: number, v: number): void {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff, 'a fixed32 is in [0, 2^32)');
    this.#varint(no * 8 + 5);
    this.#ensure(4);
    new DataView(this.#buf.buffer, this.#buf.byteOffset).setUint32(this.#len, v, true);
    this.#len += 4;
  }

  /** doubleField writes field `no` with wire type 1 and an IEEE 754 double. */
  doubleField(no: number, v: number): void {
    this.#varint(no * 8 + 1);
    this.#ensure(8);
    new DataView(this.#buf.buffer, this.#buf.byteOffset).setFloat64(this.#len, v, true);
    this.#len += 8;
  }

  /** finish returns the bytes written. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }

  #varint(v: number): void {
    assert(Number.isSafeInteger(v) && v >= 0, 'a varint is a non-negative safe integer');
    this.#ensure(10);
    while (v >= 0x80) {
      this.#buf[this.#len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#len++] = v;
  }

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }
}
