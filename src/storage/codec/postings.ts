/**
 * postings.ts — postings lists: sorted unique u32 ids (series ids of one
 * label=value, span ids of one attribute), their encoding, set operations on
 * decoded lists, and an intersection that walks encoded lists directly.
 *
 *   byte 0: POSTINGS_FORMAT_VERSION (1)
 *   byte 1: PostingsContainer (0 = delta varint, 1 = bitmap)
 *   uvarint count
 *   DeltaVarint (0):  uvarint(id_0), then uvarint(id_i − id_{i−1}) for i >= 1   (every gap >= 1)
 *   Bitmap (1):       uvarint baseWord, uvarint W, then W × u32 little-endian words:
 *                     bit k (LSB = 0) of word j set <=> id 32 × (baseWord + j) + k is in the list;
 *                     word 0 and word W−1 are non-zero; the set bits number exactly count
 *
 *   word j:   bit 31 ............................ bit 0
 *             id 32(b+j)+31            ...          id 32(b+j)
 *
 * The encoder picks the smaller container (ties: delta varint). Bench
 * (bench/codec.ts, 2^20 universe, random lists): delta varint is smaller up
 * to a density of about 1/9 (1.0-2.3 bytes/id, 0.64-0.88 × roaring's
 * portable size); above it roaring's bitmap containers were 4× smaller at
 * density 0.5 and 7× at 0.9 and intersected 10-20× faster, hence the bitmap
 * container here, with word-AND intersection when both lists are bitmaps.
 *
 * Ids are strictly increasing integers in [0, 2^32−1]; at most
 * CodecLimits.postingsIdsMax of them. The decoder refuses a zero gap, an id
 * past 2^32−1, a count that the bytes cannot hold or that differs from the
 * bitmap's set bits, zero edge words, and trailing bytes (ERR_CORRUPTION).
 *
 * Set operations take sorted unique Uint32Arrays and return sorted unique
 * results written into `out` when given (a reused buffer; the result is a
 * subarray of it), else into a new array. Intersection gallops (exponential
 * then binary search) when one side is GALLOP_RATIO times longer than the
 * other, and merges linearly otherwise.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { CodecLimits } from '../../limits.js';
import { corrupt, ctz32 } from './bits.js';
import { ByteReader, ByteWriter, uvarintBytes } from './varint.js';

/** POSTINGS_FORMAT_VERSION is byte 0 of every encoded postings list. */
export const POSTINGS_FORMAT_VERSION = 1;

/** PostingsContainer is byte 1 of an encoded postings list. */
export const PostingsContainer = {
  /** DeltaVarint stores gaps between successive ids as LEB128 varints (sparse lists). */
  DeltaVarint: 0,
  /** Bitmap stores one bit per id of the list's word-aligned span (dense lists). */
  Bitmap: 1,
} as const;

/** PostingsContainerValue is one of the PostingsContainer numbers. */
export type PostingsContainerValue = (typeof PostingsContainer)[keyof typeof PostingsContainer];

/** popcount32 counts the set bits of a 32-bit word. */
function popcount32(x: number): number {
  // Every step wraps to int32 (| 0) so the engine stays on small integers instead of doubles.
  x = (x - ((x >>> 1) & 0x5555_5555)) | 0;
  x = ((x & 0x3333_3333) + ((x >>> 2) & 0x3333_3333)) | 0;
  x = (x + (x >>> 4)) & 0x0f0f_0f0f;
  return Math.imul(x, 0x0101_0101) >>> 24;
}

/** GALLOP_RATIO is the length ratio above which intersect gallops through the longer list instead of merging. */
export const GALLOP_RATIO = 32;

const U32_MAX = 0xffff_ffff;

/**
 * encodePostings encodes strictly increasing u32 ids in the smaller container
 * (or the one forced by `container`). Throws ERR_INVALID_ARGUMENT (unsorted,
 * duplicate, not u32) or ERR_LIMIT_EXCEEDED.
 */
export function encodePostings(
  ids: ArrayLike<number>,
  w: ByteWriter = new ByteWriter(),
  container: PostingsContainerValue | 'auto' = 'auto',
): Uint8Array {
  const n = ids.length;
  if (n > CodecLimits.postingsIdsMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `codec: ${n} postings, past ${CodecLimits.postingsIdsMax}`);
  }
  let prev = -1;
  let deltaBytes = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i] as number;
    if (!(id >>> 0 === id && id > prev)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `codec: postings need strictly increasing u32 ids (index ${i}: ${id})`, { index: i });
    }
    deltaBytes += uvarintBytes(i === 0 ? id : id - prev);
    prev = id;
  }
  const baseWord = n > 0 ? Math.floor((ids[0] as number) / 32) : 0;
  const words = n > 0 ? Math.floor(prev / 32) - baseWord + 1 : 0;
  const bitmapBytes = uvarintBytes(baseWord) + uvarintBytes(words) + 4 * words;
  const chosen = container === 'auto' ? (n > 0 && bitmapBytes < deltaBytes ? PostingsContainer.Bitmap : PostingsContainer.DeltaVarint) : container;
  w.reset();
  w.u8(POSTINGS_FORMAT_VERSION);
  w.u8(chosen);
  w.uvarint(n);
  if (chosen === PostingsContainer.DeltaVarint) {
    prev = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i] as number;
      w.uvarint(id - prev);
      prev = id;
    }
  } else if (n > 0) {
    w.uvarint(baseWord);
    w.uvarint(words);
    const bits = new Uint32Array(words);
    const base = baseWord * 32;
    for (let i = 0; i < n; i++) {
      const rel = (ids[i] as number) - base;
      const j = rel >>> 5;
      bits[j] = ((bits[j] as number) | (1 << (rel & 31))) >>> 0;
    }
    // Little-endian host (asserted in bits.ts): the words' bytes are the format's bytes.
    w.raw(new Uint8Array(bits.buffer));
  }
  return w.finish();
}

/**
 * PostingsCursor walks an encoded postings list one id at a time, without
 * decoding it whole or allocating per id (a bitmap whose words are not
 * 4-byte aligned in the input is copied once at reset).
 *
 * Invariants: delta varint: 0 <= #index <= count is the ids produced; bitmap:
 * #cur holds the not-yet-produced bits of word #word, and #index = count once
 * the words are exhausted.
 */
export class PostingsCursor {
  /** value is the current id (valid after next() or seek() returned true). */
  value = -1;
  #r: ByteReader = new ByteReader(new Uint8Array(0));
  #count = 0;
  #index = 0;
  #container: PostingsContainerValue = PostingsContainer.DeltaVarint;
  #words: Uint32Array = new Uint32Array(0);
  #baseWord = 0;
  #word = 0;
  #cur = 0;

  constructor(bytes?: Uint8Array) {
    if (bytes !== undefined) this.reset(bytes);
  }

  /** reset points the cursor at an encoded list (ERR_CORRUPTION on a bad header). */
  reset(bytes: Uint8Array): void {
    this.#count = 0;
    this.#index = 0;
    this.value = -1;
    const r = new ByteReader(bytes);
    const version = r.u8();
    if (version !== POSTINGS_FORMAT_VERSION) throw corrupt(`unknown postings version ${version}`);
    const container = r.u8();
    if (container !== PostingsContainer.DeltaVarint && container !== PostingsContainer.Bitmap) {
      throw corrupt(`unknown postings container ${container}`);
    }
    const n = r.uvarint();
    if (n > CodecLimits.postingsIdsMax) throw corrupt(`postings claim ${n} ids`);
    this.#container = container;
    this.#r = r;
    if (n === 0) {
      if (r.remaining !== 0) throw corrupt('trailing bytes after an empty postings list');
      this.#words = new Uint32Array(0);
      return;
    }
    if (container === PostingsContainer.DeltaVarint) {
      if (n > r.remaining) throw corrupt(`postings claim ${n} ids in ${r.remaining} bytes`);
    } else {
      const baseWord = r.uvarint();
      const words = r.uvarint();
      if (words === 0 || baseWord + words > 2 ** 27) throw corrupt(`postings bitmap of ${words} words at word ${baseWord}`);
      if (r.remaining !== 4 * words) throw corrupt(`postings bitmap of ${words} words in ${r.remaining} bytes`);
      const at = bytes.byteOffset + r.pos;
      const ws = at % 4 === 0 ? new Uint32Array(bytes.buffer, at, words) : new Uint32Array(new Uint8Array(bytes.subarray(r.pos, r.end)).buffer);
      let pop = 0;
      for (let j = 0; j < words; j++) pop += popcount32((ws[j] as number) | 0);
      if (pop !== n) throw corrupt(`postings bitmap has ${pop} ids, header says ${n}`);
      if (ws[0] === 0 || ws[words - 1] === 0) throw corrupt('postings bitmap with an empty edge word');
      this.#words = ws;
      this.#baseWord = baseWord;
      this.#word = 0;
      this.#cur = ws[0] as number;
    }
    this.#count = n;
  }

  /** container is the list's container. */
  get container(): PostingsContainerValue {
    return this.#container;
  }

  /** bodyStart is the offset of the first id's bytes (delta varint) right after reset. */
  get bodyStart(): number {
    return this.#r.pos;
  }

  /** count is the number of ids in the list. */
  get count(): number {
    return this.#count;
  }

  /** next moves to the next id; false at the end (after checking that no byte is left over). */
  next(): boolean {
    const i = this.#index;
    if (i >= this.#count) return false;
    if (this.#container === PostingsContainer.Bitmap) {
      // #index only marks the end here: the words themselves say where the ids are.
      let cur = this.#cur;
      let w = this.#word;
      const words = this.#words;
      while (cur === 0) {
        if (++w >= words.length) {
          this.#word = w;
          this.#index = this.#count;
          return false;
        }
        cur = words[w] as number;
      }
      this.#word = w;
      this.value = (this.#baseWord + w) * 32 + ctz32(cur);
      this.#cur = (cur & (cur - 1)) >>> 0;
      return true;
    }
    const r = this.#r;
    // Fast path: a one-byte gap read straight from the buffer; longer ones go through the checked reader.
    let gap: number;
    const p = r.pos;
    const b = p < r.end ? (r.bytes[p] as number) : 0x80;
    if (b < 0x80) {
      gap = b;
      r.pos = p + 1;
    } else {
      gap = r.uvarint();
    }
    let v: number;
    if (i === 0) {
      v = gap;
    } else {
      if (gap === 0) throw corrupt('zero gap in a postings list (a duplicate id)', { index: i });
      v = this.value + gap;
    }
    if (v > U32_MAX) throw corrupt('postings id past 2^32-1', { index: i });
    this.value = v;
    this.#index = i + 1;
    if (i + 1 === this.#count && r.pos !== r.end) throw corrupt(`${r.remaining} trailing bytes after a postings list`);
    return true;
  }

  /** seek moves to the first id >= target at or after the current one (staying put when the current id is >= target); false when there is none. */
  seek(target: number): boolean {
    if (this.value >= target) return true; // value is -1 before the first id
    if (this.#container === PostingsContainer.Bitmap && this.#index < this.#count) {
      // Jump to target's word and drop the bits below it.
      const rel = target - this.#baseWord * 32;
      if (rel > 0) {
        const j = Math.floor(rel / 32);
        if (j >= this.#words.length) {
          this.#word = this.#words.length;
          this.#index = this.#count;
          return false;
        }
        if (j > this.#word) {
          this.#word = j;
          this.#cur = this.#words[j] as number;
        }
        if (j === this.#word) this.#cur = (this.#cur & ~((1 << (rel & 31)) - 1)) >>> 0;
      }
    }
    while (this.next()) if (this.value >= target) return true;
    return false;
  }

  /** bitmapWords exposes a bitmap list's words and first word (for word-AND intersection); null for delta varint. */
  bitmapWords(): { words: Uint32Array; baseWord: number } | null {
    return this.#container === PostingsContainer.Bitmap ? { words: this.#words, baseWord: this.#baseWord } : null;
  }
}

/** decodePostings decodes a whole encoded list. Throws ERR_CORRUPTION. */
export function decodePostings(bytes: Uint8Array, cursor: PostingsCursor = new PostingsCursor()): Uint32Array {
  cursor.reset(bytes);
  if (cursor.container === PostingsContainer.DeltaVarint) return decodeDeltaBody(bytes, cursor.bodyStart, cursor.count);
  const out = new Uint32Array(cursor.count);
  let i = 0;
  while (cursor.next()) out[i++] = cursor.value;
  return out;
}

/**
 * decodeDeltaBody decodes count delta varint ids from bytes[start..] in one
 * tight loop over locals (the cursor's per-id field traffic costs ~10× more),
 * with the same checks as the cursor: canonical varints, gaps >= 1, u32 ids,
 * no trailing bytes.
 */
function decodeDeltaBody(bytes: Uint8Array, start: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  const end = bytes.length;
  let p = start;
  let v = 0;
  for (let i = 0; i < count; i++) {
    if (p >= end) throw corrupt('postings truncated', { index: i });
    let b = bytes[p++] as number;
    let gap = b & 0x7f;
    if (b >= 0x80) {
      // Up to 5 groups for a u32 gap; the fifth may only hold 4 bits.
      let scale = 0x80;
      for (let g = 1; ; g++) {
        if (g === 5 || p >= end) throw corrupt('bad postings varint', { index: i });
        b = bytes[p++] as number;
        gap += (b & 0x7f) * scale;
        if (b < 0x80) {
          if (b === 0) throw corrupt('non-canonical postings varint', { index: i });
          break;
        }
        scale *= 0x80;
      }
    }
    if (i > 0 && gap === 0) throw corrupt('zero gap in a postings list (a duplicate id)', { index: i });
    v += gap;
    if (v > U32_MAX) throw corrupt('postings id past 2^32-1', { index: i });
    out[i] = v;
  }
  if (p !== end) throw corrupt(`${end - p} trailing bytes after a postings list`);
  return out;
}

function output(out: Uint32Array | undefined, need: number): Uint32Array {
  if (out === undefined) return new Uint32Array(need);
  assert(out.length >= need, `set operation out has room for ${need} ids`);
  return out;
}

/** gallop returns the first index j in [lo, b.length) with b[j] >= x (b.length when none), by exponential then binary search. */
export function gallop(b: Uint32Array, lo: number, x: number): number {
  const n = b.length;
  let step = 1;
  let hi = lo;
  while (hi < n && (b[hi] as number) < x) {
    lo = hi + 1;
    hi += step;
    step *= 2;
  }
  if (hi > n) hi = n;
  // Invariant: b[lo-1] < x (or lo is the start), and hi == n or b[hi] >= x.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((b[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** intersect returns a ∩ b (sorted unique inputs); out, when given, needs min(a, b) room. */
export function intersect(a: Uint32Array, b: Uint32Array, out?: Uint32Array): Uint32Array {
  if (a.length > b.length) {
    const s = a;
    a = b;
    b = s;
  }
  const res = output(out, a.length);
  let k = 0;
  if (a.length === 0) return res.subarray(0, 0);
  if (b.length / a.length >= GALLOP_RATIO) {
    let j = 0;
    for (let i = 0; i < a.length && j < b.length; i++) {
      const x = a[i] as number;
      j = gallop(b, j, x);
      if (j < b.length && b[j] === x) {
        res[k++] = x;
        j++;
      }
    }
    return res.subarray(0, k);
  }
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x < y) i++;
    else if (x > y) j++;
    else {
      res[k++] = x;
      i++;
      j++;
    }
  }
  return res.subarray(0, k);
}

/** union returns a ∪ b (sorted unique inputs); out, when given, needs a.length + b.length room. */
export function union(a: Uint32Array, b: Uint32Array, out?: Uint32Array): Uint32Array {
  const res = output(out, a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x < y) {
      res[k++] = x;
      i++;
    } else if (x > y) {
      res[k++] = y;
      j++;
    } else {
      res[k++] = x;
      i++;
      j++;
    }
  }
  while (i < a.length) res[k++] = a[i++] as number;
  while (j < b.length) res[k++] = b[j++] as number;
  return res.subarray(0, k);
}

/** difference returns a \ b (sorted unique inputs); out, when given, needs a.length room. Gallops through b when it is much longer. */
export function difference(a: Uint32Array, b: Uint32Array, out?: Uint32Array): Uint32Array {
  const res = output(out, a.length);
  let k = 0;
  let j = 0;
  const galloping = a.length > 0 && b.length / a.length >= GALLOP_RATIO;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    if (galloping) j = gallop(b, j, x);
    else while (j < b.length && (b[j] as number) < x) j++;
    if (j < b.length && b[j] === x) j++;
    else res[k++] = x;
  }
  return res.subarray(0, k);
}

/**
 * intersectEncoded intersects two encoded lists by walking both with cursors
 * (leapfrog), never decoding either whole. out, when given, needs room for
 * the shorter list. Throws ERR_CORRUPTION on bad bytes in the part it reads.
 * NB: it stops at the end of the shorter walk, so trailing garbage after the
 * last id it needs goes unnoticed there; decodePostings checks the whole list.
 */
export function intersectEncoded(a: Uint8Array, b: Uint8Array, out?: Uint32Array, ca = new PostingsCursor(), cb = new PostingsCursor()): Uint32Array {
  ca.reset(a);
  cb.reset(b);
  const res = output(out, Math.min(ca.count, cb.count));
  let k = 0;
  const wa = ca.bitmapWords();
  const wb = cb.bitmapWords();
  if (wa !== null && wb !== null) {
    // Both bitmaps: AND the overlapping words.
    const lo = Math.max(wa.baseWord, wb.baseWord);
    const hi = Math.min(wa.baseWord + wa.words.length, wb.baseWord + wb.words.length);
    for (let g = lo; g < hi; g++) {
      let x = ((wa.words[g - wa.baseWord] as number) & (wb.words[g - wb.baseWord] as number)) >>> 0;
      while (x !== 0) {
        res[k++] = g * 32 + ctz32(x);
        x = (x & (x - 1)) >>> 0;
      }
    }
    return res.subarray(0, k);
  }
  if (!ca.next() || !cb.next()) return res.subarray(0, 0);
  for (;;) {
    if (ca.value < cb.value) {
      if (!ca.seek(cb.value)) break;
    } else if (ca.value > cb.value) {
      if (!cb.seek(ca.value)) break;
    } else {
      res[k++] = ca.value;
      if (!ca.next() || !cb.next()) break;
    }
  }
  return res.subarray(0, k);
}
