/**
 * compact-xor.ts — the compact XOR chunk encoding (ChunkEncoding.XorCompact):
 * Gorilla XOR values (gorilla.ts) with the compact timestamps
 * (compact-timestamps.ts) instead of 64-bit t0 and delta-of-delta.
 *
 *   byte 0: CHUNK_FORMAT_VERSION (1)
 *   byte 1: ChunkEncoding.XorCompact (2)
 *   bit stream (MSB first, zero-padded to a byte):
 *     uvarint(count)                      8-bit groups (LEB128)
 *     if count >= 1:
 *       timestamp header                  uvarint(zigzag(t0)); count >= 2: mode, interval, k  (compact-timestamps.ts)
 *       v0                                64 raw bits of the float64
 *       for i in 1 .. count-1:
 *         Rice(zigzag(e_i), k)            timestamp jitter
 *         XOR value field                 '0' | '10' + m bits | '11' + 5 + 6 + m bits   (gorilla.ts)
 *
 * Values keep their exact bit patterns (NaN payloads, ±0, ±Inf), as in gorilla.ts.
 */
import type { BitWriter } from './bits.js';
import { CHUNK_FORMAT_VERSION, ChunkEncoding } from './chunk-format.js';
import type { CompactTimestampPlan } from './compact-timestamps.js';
import type { XorValueEncoder } from './gorilla.js';

/**
 * encodeCompactXorChunk encodes a chunk whose timestamps were already planned
 * (plan.plan(ts)) and checked (checkChunkInput) by the caller.
 */
export function encodeCompactXorChunk(ts: ArrayLike<number>, values: Float64Array, plan: CompactTimestampPlan, w: BitWriter, ve: XorValueEncoder): Uint8Array {
  writeCompactXorChunk(ts, values, plan, w, ve);
  return w.finish();
}

/** writeCompactXorChunk writes the chunk of encodeCompactXorChunk into w (reset first) without copying it out. */
export function writeCompactXorChunk(ts: ArrayLike<number>, values: Float64Array, plan: CompactTimestampPlan, w: BitWriter, ve: XorValueEncoder): void {
  w.reset();
  w.writeBits(CHUNK_FORMAT_VERSION, 8);
  w.writeBits(ChunkEncoding.XorCompact | plan.encodingFlags, 8);
  const n = ts.length;
  w.writeUvarint(n);
  if (n > 0) {
    const bits = new Uint32Array(values.buffer, values.byteOffset, n * 2);
    plan.writeHeader(w, ts);
    ve.first(w, bits[1] as number, bits[0] as number);
    for (let i = 1; i < n; i++) {
      plan.writeSample(w, i);
      ve.next(w, bits[2 * i + 1] as number, bits[2 * i] as number);
    }
  }
}
