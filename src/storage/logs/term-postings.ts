/**
 * term-postings.ts — a log block's term index payload opened for reading
 * (layout in term-index.ts's file comment): the envelope and the section
 * bounds checked once, the term dictionary opened by term (term-dict.ts;
 * version 1's string column decoded whole), each term's entry located by
 * the prefix sums of its size, and the stream-pair table decoded; a term's
 * rows (and positions) are decoded only when asked (termEntry). Versions 3
 * and 4 hold no entries: each term's entry is in the chunk its chunk table names
 * (term-entries.ts), which the caller hands in (EntryChunks). term-index.ts
 * queries it. Pure code, no I/O.
 *
 * Invariants of an OpenedIndex: termStarts is increasing from 0 to the
 * entries' length (version 3: the chunks' lengths summed), one more than
 * the dictionary's terms; chunkFirst is increasing from 0 to the terms,
 * one more than the chunks; pair names and values are as many, sorted by
 * name then value, distinct.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogBlockLimits, StorageLimits } from '../../limits.js';
import { BlockKind, openBlock } from '../block.js';
import { ByteReader, PostingsContainer, PostingsCursor, decodePostings, decodeStringColumn, intersect, union } from '../codec/index.js';
import type { TermDict } from './term-dict.js';
import type { ChunkExpect, EntryChunks } from './term-entries.js';
import { openEntryChunk } from './term-entries.js';
import { ByteTermDict, StringTermDict } from './term-dict.js';

/**
 * LOG_INDEX_VERSION is byte 0 of a log index payload (what encodeLogIndex
 * writes): version 3's layout, with a row's positions coded shorter (one
 * position, the common case, is one uvarint: position << 1; more are
 * count << 1 | 1 and the deltas; term-index.ts's layout).
 */
export const LOG_INDEX_VERSION = 4;
/** LOG_INDEX_VERSION_CHUNKS is the version whose entries are in chunks of their own, each posted row's positions a count then deltas (written s17-s18; still read, and written on request). */
export const LOG_INDEX_VERSION_CHUNKS = 3;
/** LOG_INDEX_VERSION_WHOLE is the version whose entries are a section of the one value (written until s17; still read, and written on request). */
export const LOG_INDEX_VERSION_WHOLE = 2;
/** LOG_INDEX_VERSION_STRINGS is the version whose terms are one string column, decoded whole at open (older blocks; still read). */
export const LOG_INDEX_VERSION_STRINGS = 1;

function corrupt(message: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `log index: ${message}`);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** PAIR_HELD_BYTES is what one decoded stream pair is taken to hold beside its strings' characters (two string headers, a postings view). */
const PAIR_HELD_BYTES = 160;

/** TermEntry is one term's rows and, when asked, each row's positions. */
export interface TermEntry {
  rows: Uint32Array;
  positions: Uint32Array[];
}

/** OpenedIndex is a checked index payload with its dictionary opened and entries located (see the file comment). */
export class OpenedIndex {
  readonly version: number;
  readonly rows: number;
  readonly dict: TermDict;
  readonly #termStarts: Uint32Array;
  /** #entries is the entries section (versions 1 and 2), null for version 3. */
  readonly #entries: Uint8Array | null;
  /** #chunkFirst[c] is chunk c's first term id (version 3; empty otherwise). */
  readonly #chunkFirst: Uint32Array;
  readonly pairNames: string[];
  readonly pairValues: string[];
  readonly #pairPostings: Uint8Array[];
  readonly #payloadBytes: number;
  /** #cursor is reset for each pair list pairRowsAmong reads (one lookup at a time: JavaScript runs one). */
  readonly #cursor = new PostingsCursor();

  constructor(sealed: Uint8Array) {
    const payload = openBlock(sealed, BlockKind.postings);
    this.#payloadBytes = sealed.length;
    const r = new ByteReader(payload);
    const version = r.u8();
    if (version !== LOG_INDEX_VERSION && version !== LOG_INDEX_VERSION_CHUNKS && version !== LOG_INDEX_VERSION_WHOLE && version !== LOG_INDEX_VERSION_STRINGS) {
      throw corrupt(`version ${version} is not ${LOG_INDEX_VERSION_STRINGS}, ${LOG_INDEX_VERSION_WHOLE}, ${LOG_INDEX_VERSION_CHUNKS} or ${LOG_INDEX_VERSION}`);
    }
    const chunked = version === LOG_INDEX_VERSION || version === LOG_INDEX_VERSION_CHUNKS;
    this.version = version;
    this.rows = r.uvarint();
    if (this.rows < 1 || this.rows > LogBlockLimits.rowsPerBlockMax) throw corrupt(`${this.rows} rows`);
    const secs: Uint8Array[] = [];
    for (let s = 0; s < (version === LOG_INDEX_VERSION_STRINGS ? 6 : 7); s++) secs.push(r.take(r.uvarint()));
    if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes`);
    if (version === LOG_INDEX_VERSION_STRINGS) {
      this.dict = new StringTermDict(secs[0] as Uint8Array);
      secs.splice(0, 1);
    } else {
      this.dict = new ByteTermDict(secs[0] as Uint8Array, secs[1] as Uint8Array);
      secs.splice(0, 2);
    }
    const [sizesSec, entriesSec, namesSec, valuesSec, pairSec] = secs as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    const sr = new ByteReader(sizesSec);
    const count = this.dict.count;
    // Versions 3 and 4: section 3 is the chunk table; the entries' length is the sizes' sum (each chunk is checked against its part).
    const entriesMax = chunked ? 0xffff_ffff : entriesSec.length;
    this.#termStarts = new Uint32Array(count + 1);
    let at = 0;
    for (let i = 0; i < count; i++) {
      at += sr.uvarint();
      if (at > entriesMax) throw corrupt('term sizes past the entries');
      this.#termStarts[i + 1] = at;
    }
    if (sr.remaining !== 0) throw corrupt('trailing bytes after the term sizes');
    if (chunked) {
      this.#entries = null;
      this.#chunkFirst = chunkTable(entriesSec, count);
    } else {
      if (at !== entriesSec.length) throw corrupt('term sizes do not add up to the entries');
      this.#entries = entriesSec;
      this.#chunkFirst = new Uint32Array(0);
    }
    this.pairNames = decodeStringColumn(namesSec);
    this.pairValues = decodeStringColumn(valuesSec);
    if (this.pairNames.length !== this.pairValues.length) throw corrupt('pair names and values differ in count');
    for (let i = 1; i < this.pairNames.length; i++) {
      const c = cmp(this.pairNames[i - 1] as string, this.pairNames[i] as string) || cmp(this.pairValues[i - 1] as string, this.pairValues[i] as string);
      if (c >= 0) throw corrupt('stream pairs are not sorted and distinct');
    }
    const pr = new ByteReader(pairSec);
    this.#pairPostings = this.pairNames.map(() => pr.take(pr.uvarint()));
    if (pr.remaining !== 0) throw corrupt('trailing bytes after the pair postings');
  }

  /** chunks is the number of entry chunks (0 unless version 3). */
  get chunks(): number {
    return Math.max(0, this.#chunkFirst.length - 1);
  }

  /** chunkOf is the chunk holding term `id`'s entry (version 3). */
  chunkOf(id: number): number {
    const f = this.#chunkFirst;
    let lo = 0;
    let hi = f.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((f[mid] as number) <= id) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** chunkExpect is what this dictionary says of chunk c (term-entries.ts checks a chunk against it). */
  chunkExpect(c: number): ChunkExpect {
    assert(Number.isSafeInteger(c) && c >= 0 && c < this.chunks, 'a chunk of the index');
    const first = this.#chunkFirst[c] as number;
    const end = this.#chunkFirst[c + 1] as number;
    return { rows: this.rows, chunk: c, firstTerm: first, terms: end - first, bytes: (this.#termStarts[end] as number) - (this.#termStarts[first] as number) };
  }

  /** openChunk checks sealed chunk c against this dictionary and returns its entries. Throws ERR_CORRUPTION. */
  openChunk(c: number, sealed: Uint8Array): Uint8Array {
    return openEntryChunk(sealed, this.chunkExpect(c));
  }

  /** wantTerms notes, in `chunks`, the chunks of the terms `ids` (ids < 0 skipped): a lookup about to read them all fetches them at once. */
  wantTerms(ids: readonly number[], chunks: EntryChunks | null): void {
    if (this.#entries !== null || chunks === null) return;
    for (const id of ids) if (id >= 0) chunks.want(this.chunkOf(id));
  }

  /**
   * heldBytes estimates what the opened index holds: the stored value it
   * views, the entry offsets and chunk table, the decoded pairs, and the
   * dictionary's own (term-dict.ts heldBytes: its strings once decoded).
   */
  heldBytes(): number {
    let pairs = 0;
    for (let i = 0; i < this.pairNames.length; i++) pairs += PAIR_HELD_BYTES + 2 * ((this.pairNames[i] as string).length + (this.pairValues[i] as string).length);
    return this.#payloadBytes + this.#termStarts.byteLength + this.#chunkFirst.byteLength + pairs + this.dict.heldBytes();
  }

  /** terms is the whole dictionary, sorted (decoded on first use). */
  get terms(): readonly string[] {
    return this.dict.all();
  }

  /** termId is the index of `term` in the dictionary, or -1. */
  termId(term: string): number {
    return this.dict.termId(term);
  }

  /**
   * termEntry decodes the rows of term `id`, and, when `withPositions`, each
   * row's positions. A version 3 entry is read from its chunk in `chunks`;
   * when the chunk is not at hand the answer is no rows (and `chunks` has
   * noted it wanted): the caller must fetch it and ask again.
   */
  termEntry(id: number, withPositions: boolean, chunks: EntryChunks | null = null): TermEntry {
    let bytes = this.#entries;
    let base = 0;
    if (bytes === null) {
      assert(chunks !== null, 'a version 3 index is read with its entry chunks');
      const c = this.chunkOf(id);
      const got = chunks.chunk(c);
      if (got === undefined) return { rows: new Uint32Array(0), positions: [] };
      bytes = got;
      base = this.#termStarts[this.#chunkFirst[c] as number] as number;
    }
    const end = (this.#termStarts[id + 1] as number) - base;
    if (end > bytes.length) throw corrupt(`term ${id}'s entry ends past its ${bytes.length} bytes`);
    const r = new ByteReader(bytes, (this.#termStarts[id] as number) - base, end);
    const rows = decodePostings(r.take(r.uvarint()));
    if (rows.length === 0) throw corrupt('a term with no rows');
    if ((rows[rows.length - 1] as number) >= this.rows) throw corrupt('a term posts a row past the block');
    const positions: Uint32Array[] = [];
    if (!withPositions) return { rows, positions };
    const merged = this.version === LOG_INDEX_VERSION;
    for (let i = 0; i < rows.length; i++) {
      let count = r.uvarint();
      if (merged) {
        // Version 4: an even head is one position (head / 2); an odd one is count * 2 + 1, a count of at least 2.
        // Arithmetic, not 32-bit shifts: a head is a uvarint up to 2^53, and a shift would wrap a damaged one into range.
        const half = Math.floor(count / 2);
        if (count % 2 === 0) {
          if (half >= StorageLimits.tokensPerLineMax) throw corrupt(`position ${half}`);
          positions.push(Uint32Array.of(half));
          continue;
        }
        count = half;
        if (count < 2) throw corrupt(`${count} positions in an odd head`);
      }
      if (count < 1 || count > StorageLimits.tokensPerLineMax) throw corrupt(`${count} positions in a row`);
      const ps = new Uint32Array(count);
      let p = -1;
      for (let k = 0; k < count; k++) {
        const d = r.uvarint();
        if (k > 0 && d === 0) throw corrupt('repeated position');
        p = k === 0 ? d : p + d;
        if (p >= StorageLimits.tokensPerLineMax) throw corrupt(`position ${p}`);
        ps[k] = p;
      }
      positions.push(ps);
    }
    if (r.remaining !== 0) throw corrupt('trailing bytes in a term entry');
    return { rows, positions };
  }

  /** pairRows decodes the rows of every pair with label `name` whose value satisfies `keep`, unioned. */
  pairRows(name: string, keep: (value: string) => boolean): Uint32Array {
    let acc: Uint32Array | null = null;
    for (let i = 0; i < this.pairNames.length; i++) {
      if (this.pairNames[i] !== name || !keep(this.pairValues[i] as string)) continue;
      const rows = decodePostings(this.#pairPostings[i] as Uint8Array);
      if (rows.length > 0 && (rows[rows.length - 1] as number) >= this.rows) throw corrupt('a pair posts a row past the block');
      acc = acc === null ? rows : union(acc, rows);
    }
    return acc ?? new Uint32Array(0);
  }

  /** hasPair says whether the block holds stream pair name=value (the pair table is sorted by name, then value). */
  hasPair(name: string, value: string): boolean {
    let lo = 0;
    let hi = this.pairNames.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = cmp(this.pairNames[mid] as string, name) || cmp(this.pairValues[mid] as string, value);
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.pairNames.length && this.pairNames[lo] === name && this.pairValues[lo] === value;
  }

  /**
   * pairRowsAmong is `among` ∩ pairRows(name, keep) (`among` increasing,
   * rows of the block): what a lookup that already holds a few candidate
   * rows (a hint's, a term's) needs of a stream matcher. A pair whose list
   * is a bitmap (a common stream's: a third of the block's rows, s22) is
   * not decoded: each row of `among` is a bit test, after the cursor's
   * checks of the whole bitmap (its count and edge words) and the same
   * "past the block" check as pairRows; a delta list is decoded whole,
   * with every check, as pairRows does. Same answer as
   * intersect(among, pairRows(name, keep)).
   */
  pairRowsAmong(name: string, keep: (value: string) => boolean, among: Uint32Array): Uint32Array {
    let acc: Uint32Array | null = null;
    for (let i = 0; i < this.pairNames.length; i++) {
      if (this.pairNames[i] !== name || !keep(this.pairValues[i] as string)) continue;
      const got = this.#pairAmong(i, among);
      acc = acc === null ? got : union(acc, got);
    }
    return acc ?? new Uint32Array(0);
  }

  /** #pairAmong is `among` ∩ pair i's rows (see pairRowsAmong). Throws ERR_CORRUPTION. */
  #pairAmong(i: number, among: Uint32Array): Uint32Array {
    const bytes = this.#pairPostings[i] as Uint8Array;
    const cursor = this.#cursor;
    cursor.reset(bytes);
    const bitmap = cursor.container === PostingsContainer.Bitmap ? cursor.bitmapWords() : null;
    if (bitmap === null) {
      const rows = decodePostings(bytes, cursor);
      if (rows.length > 0 && (rows[rows.length - 1] as number) >= this.rows) throw corrupt('a pair posts a row past the block');
      return intersect(among, rows);
    }
    const { words, baseWord } = bitmap;
    // The cursor checked the words (set bits = count, non-zero edge words): the last word's top bit is the last row.
    const lastWord = words[words.length - 1] as number;
    if ((baseWord + words.length - 1) * 32 + (31 - Math.clz32(lastWord)) >= this.rows) throw corrupt('a pair posts a row past the block');
    const out = new Uint32Array(among.length);
    let k = 0;
    const first = baseWord * 32;
    for (let j = 0; j < among.length; j++) {
      const rel = (among[j] as number) - first;
      if (rel < 0) continue;
      const w = rel >>> 5;
      if (w >= words.length) break;
      if (((words[w] as number) >>> (rel & 31)) & 1) out[k++] = among[j] as number;
    }
    return out.subarray(0, k);
  }
}


/** chunkTable decodes a version 3 chunk table (uvarint chunks, then each chunk's term count >= 1) into each chunk's first term id, and the terms' count last. */
function chunkTable(sec: Uint8Array, terms: number): Uint32Array {
  const r = new ByteReader(sec);
  const n = r.uvarint();
  if (n > terms || (terms > 0 && n === 0)) throw corrupt(`${n} entry chunks for ${terms} terms`);
  const first = new Uint32Array(n + 1);
  let at = 0;
  for (let c = 0; c < n; c++) {
    const k = r.uvarint();
    if (k < 1 || k > terms - at) throw corrupt(`entry chunk ${c} of ${k} terms past the dictionary`);
    first[c] = at;
    at += k;
  }
  if (at !== terms) throw corrupt('entry chunks do not cover the dictionary');
  if (r.remaining !== 0) throw corrupt('trailing bytes after the chunk table');
  first[n] = at;
  return first;
}
