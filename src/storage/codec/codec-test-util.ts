/**
 * codec-test-util.ts — the chunk tests' shared checker and helpers. Test code only.
 */
import { ChunkIterator, decodeChunk } from './chunk.js';

/** Encode encodes one chunk, or answers null when the encoding declines the input. */
export type Encode = (ts: ArrayLike<number>, values: Float64Array) => Uint8Array | null;
/** Decode decodes one chunk into columns. */
export type Decode = (bytes: Uint8Array) => { ts: Float64Array; values: Float64Array };

/** fromBits builds a float64 column from [hi, lo] bit patterns without passing the values through JS numbers. */
export function fromBits(pairs: readonly (readonly [number, number])[]): Float64Array {
  const out = new Float64Array(pairs.length);
  const u = new Uint32Array(out.buffer);
  pairs.forEach(([hi, lo], i) => {
    u[2 * i + 1] = hi >>> 0;
    u[2 * i] = lo >>> 0;
  });
  return out;
}

/**
 * roundTripMismatch is the checker of every chunk test: encode, decode both
 * as columns and with the iterator, and compare timestamps and value bit
 * patterns. It returns the first difference, "skipped" when the encoder
 * declines (null), or null.
 */
export function roundTripMismatch(ts: ArrayLike<number>, values: Float64Array, encode: Encode, decode: Decode = decodeChunk): string | null {
  let bytes: Uint8Array | null;
  let out: { ts: Float64Array; values: Float64Array };
  try {
    bytes = encode(ts, values);
    if (bytes === null) return 'skipped';
    out = decode(bytes);
  } catch (err) {
    return `threw ${String(err)}`;
  }
  if (out.ts.length !== ts.length) return `decoded ${out.ts.length} samples, want ${ts.length}`;
  const a = new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
  const b = new Uint32Array(out.values.buffer, out.values.byteOffset, out.values.length * 2);
  for (let i = 0; i < ts.length; i++) {
    if (out.ts[i] !== ts[i]) return `ts[${i}] = ${out.ts[i]}, want ${ts[i]}`;
    if (a[2 * i] !== b[2 * i] || a[2 * i + 1] !== b[2 * i + 1]) return `values[${i}] bits differ: ${out.values[i]} vs ${values[i]}`;
  }
  // The iterator must agree with the columns.
  const it = new ChunkIterator(bytes);
  let i = 0;
  while (it.next()) {
    if (it.t !== ts[i] || it.vHi !== a[2 * i + 1] || it.vLo !== a[2 * i]) return `iterator differs at ${i}`;
    i++;
  }
  if (i !== ts.length) return `iterator produced ${i} samples`;
  return null;
}
