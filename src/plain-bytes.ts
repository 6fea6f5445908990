/**
 * plain-bytes.ts — one object map for the bytes the decoders read.
 *
 * Node hands a reader Buffers from two places: classic-level answers every
 * read with a Buffer made in C++ (storage), and a socket's chunks are
 * Buffers whose `subarray` (Buffer's own, in JavaScript) makes FastBuffers
 * (the peer transport's frames). The flush's writers, the block cache and
 * msgpackr's bins of a plain source hand the same decoders plain
 * Uint8Arrays. Code V8 optimised while a load or a flush fed it one map
 * deoptimises ("wrong map") when the first read after it brings another:
 * the cold tail of the first searches after a restart or a bulk flush
 * (bench/README.md, query-traces, s21-s23). msgpackr's `unpack` also adds a
 * `dataView` property to every source it reads (a map of its own per
 * source class), and its bins are `subarray`s of the source (so a Buffer
 * source makes Buffer bins, and those make the next unpack's source).
 * `plainBytes` at each boundary where outside bytes enter (ShardDb's reads,
 * the peer frame decoder, the shard wire decoders) keeps them one map.
 */

/**
 * plainBytes is `b` as a plain Uint8Array over the same bytes (no copy:
 * one small object). The answer shares `b`'s memory, so it is valid as
 * long as `b` is.
 */
export function plainBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
