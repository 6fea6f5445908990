/**
 * frame.ts — the wire framing of the peer transport: length-prefixed frames
 * on a TCP stream, and an incremental reader that never buffers more than one
 * frame plus one socket chunk.
 *
 * Frame layout (all integers big-endian):
 *
 *   +----------------+---------+----------------------------+
 *   | length (u32)   | type u8 | payload (length - 1 bytes) |
 *   +----------------+---------+----------------------------+
 *
 * `length` counts the type byte and the payload, so 1 <= length <=
 * TransportLimits.frameBytesMax. A length outside that range is refused
 * before any payload is buffered (an attacker cannot make us allocate it).
 *
 * Invariants of FrameReader: `#buffered` equals the summed length of
 * `#chunks`; it never exceeds frameBytesMax + 4 + the size of the last chunk
 * pushed; once it has failed it stays failed and returns no more frames.
 */
import { assert } from '../errors.js';
import { TransportLimits } from '../limits.js';

/** FrameType lists the frame types; an unknown type closes the connection. */
export const FrameType = {
  /** Hello is the first frame of a connection, sent by the dialer: [version, clusterId, nodeId]. */
  Hello: 1,
  /** Messages carries one batch of Raft messages (see codec.ts). */
  Messages: 2,
  /** CallRequest carries one unary call: [callId, method, deadlineMs, payload]. */
  CallRequest: 3,
  /** CallResponse answers one unary call on the connection it arrived on: [callId, code, message, payload]. */
  CallResponse: 4,
  /**
   * CallCancel tells the callee that the caller gave up one unary call it
   * sent on this connection: [version, callId] (codec.ts). Protocol version
   * 2 on (the Hello's): a version 1 node would refuse the frame type.
   */
  CallCancel: 5,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** FRAME_HEADER_BYTES is the length prefix plus the type byte. */
export const FRAME_HEADER_BYTES = 5;

/** isFrameType says whether a received type byte names a known frame type. */
export function isFrameType(t: number): t is FrameType {
  return t >= FrameType.Hello && t <= FrameType.CallCancel;
}

/** encodeFrame builds one frame around `payload` (copied, so the caller may reuse its buffer). */
export function encodeFrame(type: FrameType, payload: Uint8Array): Buffer {
  const length = payload.length + 1;
  assert(length <= TransportLimits.frameBytesMax, 'encodeFrame: frame within frameBytesMax');
  const out = Buffer.allocUnsafe(4 + length);
  out.writeUInt32BE(length, 0);
  out.writeUInt8(type, 4);
  out.set(payload, FRAME_HEADER_BYTES);
  assert(out.length === FRAME_HEADER_BYTES + payload.length, 'encodeFrame: size');
  return out;
}

/** Frame is one decoded frame; `payload` may be a view into a socket chunk. */
export interface Frame {
  readonly type: number;
  readonly payload: Buffer;
}

/** FrameReadResult is what FrameReader.push returns: the complete frames, or the reason the stream is refused. */
export type FrameReadResult = { readonly ok: true; readonly frames: Frame[] } | { readonly ok: false; readonly reason: 'frame_too_large' | 'frame_empty' };

/** FrameReader turns a byte stream into frames, refusing lengths outside [1, frameBytesMax]. */
export class FrameReader {
  readonly #frameBytesMax: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #failed = false;

  constructor(frameBytesMax: number = TransportLimits.frameBytesMax) {
    assert(Number.isSafeInteger(frameBytesMax) && frameBytesMax >= 1, 'frameBytesMax >= 1');
    assert(frameBytesMax <= TransportLimits.frameBytesMax, 'frameBytesMax within the transport limit');
    this.#frameBytesMax = frameBytesMax;
  }

  /** bufferedBytes is how many bytes wait for the rest of their frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** push adds one socket chunk and returns every frame it completes. */
  push(chunk: Buffer): FrameReadResult {
    if (this.#failed) return { ok: false, reason: 'frame_too_large' };
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Frame[] = [];
    while (this.#buffered >= 4) {
      const length = this.#peekLength();
      if (length === 0) {
        this.#fail();
        return { ok: false, reason: 'frame_empty' };
      }
      if (length > this.#frameBytesMax) {
        this.#fail();
        return { ok: false, reason: 'frame_too_large' };
      }
      if (this.#buffered < 4 + length) break;
      const whole = this.#take(4 + length);
      const type = whole[4];
      assert(type !== undefined, 'frame has a type byte');
      frames.push({ type, payload: whole.subarray(FRAME_HEADER_BYTES) });
    }
    assert(this.#buffered >= 0, 'buffered >= 0');
    return { ok: true, frames };
  }

  #fail(): void {
    this.#failed = true;
    this.#chunks = [];
    this.#buffered = 0;
  }

  #peekLength(): number {
    const first = this.#chunks[0];
    assert(first !== undefined, 'a chunk is buffered');
    if (first.length >= 4) return first.readUInt32BE(0);
    return this.#take(4, true).readUInt32BE(0);
  }

  /** #take removes (or with peek, copies without removing) the first n buffered bytes. */
  #take(n: number, peek = false): Buffer {
    assert(n <= this.#buffered, 'take within buffered');
    const first = this.#chunks[0];
    assert(first !== undefined, 'a chunk is buffered');
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (!peek) {
        if (first.length === n) this.#chunks.shift();
        else this.#chunks[0] = first.subarray(n);
        this.#buffered -= n;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const c = this.#chunks[i];
      assert(c !== undefined, 'enough chunks');
      const part = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, part);
      filled += part;
      if (!peek) {
        if (part === c.length) {
          this.#chunks.shift();
          i = 0;
        } else {
          this.#chunks[0] = c.subarray(part);
        }
      } else {
        i++;
      }
    }
    if (!peek) this.#buffered -= n;
    return out;
  }
}
