/**
 * sole-view.ts — a LevelDB value made a Uint8Array the caller may keep,
 * copying it only when it shares its memory.
 *
 * classic-level hands out Node Buffers; a small Buffer may be a slice of a
 * pooled ArrayBuffer (Node's 8 KiB pool, for allocations under 4 KiB), and
 * Buffer#slice is a view, not a copy: the codecs' `slice()` (postings
 * bitmaps, ids) and the block cache would then keep or read the pool. A
 * value whose view covers its whole ArrayBuffer shares it with nothing
 * (napi_create_buffer_copy gives every value read its own), so it is kept
 * as it is: a block or index value read on a cache miss (up to a megabyte)
 * is then not copied a second time. Pure code.
 */

/** soleView is `v` itself when it spans its whole ArrayBuffer, else a copy of it (see the file comment). */
export function soleView(v: Uint8Array): Uint8Array {
  if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) return new Uint8Array(v.buffer, 0, v.byteLength);
  return new Uint8Array(v);
}
