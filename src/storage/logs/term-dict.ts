/**
 * term-dict.ts — a log index's term dictionary read by term (index version
 * 2, term-index.ts): the sorted terms stored as one run of UTF-8 bytes and
 * their byte lengths, so opening an index decodes numbers only (no string),
 * a lookup decodes the ~log2(n) terms of its binary search, and a hint
 * piece (log-hint-rows.ts) is found by a native byte search over the run
 * instead of a string test of every decoded term. Version 1 indexes keep
 * their string column, decoded whole at open (StringTermDict); both answer
 * through TermDict. Pure code.
 *
 * Version 2 layout, two sections of the index payload (term-index.ts):
 *   term lengths  uvarint count, then count × uvarint byteLength (>= 1)
 *   term bytes    the terms' UTF-8 bytes, concatenated, sorted by UTF-16
 *                 code units (as version 1) and distinct
 *
 * Checks: the count is at most termsPerBlockMax, lengths add up to the byte
 * run, and every decoded term is valid UTF-8 (ERR_CORRUPTION otherwise);
 * order and distinctness are checked when the dictionary is decoded whole
 * (`all`); a lookup over an unsorted run (which the block checksum already
 * rules out) can miss a term, never throw past its bounds.
 */
import { OtlpdbError } from '../../errors.js';
import { LogBlockLimits, StorageLimits } from '../../limits.js';
import { ByteReader, ByteWriter, decodeStringColumn } from '../codec/index.js';

/** TermDict is a block index's sorted, distinct term dictionary: ids are ranks. */
export interface TermDict {
  /** count is the number of terms. */
  readonly count: number;
  /** termId is `term`'s rank, or -1. */
  termId(term: string): number;
  /** all is every term, sorted (decoded once, then kept). */
  all(): readonly string[];
  /** heldBytes estimates what the dictionary holds beside the stored bytes it views: its offsets, and its strings once decoded (STRING_HELD_BYTES each plus 2 a UTF-16 unit). */
  heldBytes(): number;
  /**
   * idsHolding lists, increasing, the ids of the terms that contain `piece`
   * (read with "ſ" as "s" when `foldLongS`) or have tokenCharsMax − 1 or
   * more UTF-16 units (a term that may have been cut holds every piece);
   * null when more than `max` do.
   */
  idsHolding(piece: string, foldLongS: boolean, max: number): number[] | null;
  /** idsStarting lists, increasing, the ids of the terms that start with `prefix` or have tokenCharsMax − 1 or more UTF-16 units; null when more than `max` do. */
  idsStarting(prefix: string, max: number): number[] | null;
}

function corrupt(message: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `log index: ${message}`);
}

const CUT_AT = StorageLimits.tokenCharsMax - 1;

function holds(term: string, piece: string, foldLongS: boolean): boolean {
  return term.length >= CUT_AT || (foldLongS ? term.replaceAll('\u017f', 's') : term).includes(piece);
}

function checkSorted(terms: readonly string[]): void {
  for (let i = 1; i < terms.length; i++) if (!((terms[i - 1] as string) < (terms[i] as string))) throw corrupt('terms are not sorted and distinct');
}

/** scanHolding is idsHolding over decoded terms. */
function scanHolding(terms: readonly string[], piece: string, foldLongS: boolean, max: number): number[] | null {
  const out: number[] = [];
  for (let i = 0; i < terms.length; i++) {
    if (!holds(terms[i] as string, piece, foldLongS)) continue;
    if (out.length === max) return null;
    out.push(i);
  }
  return out;
}

/** STRING_HELD_BYTES is what one decoded JavaScript string is taken to weigh beside its characters (header and array slot). */
const STRING_HELD_BYTES = 32;

function stringsHeldBytes(terms: readonly string[]): number {
  let n = 0;
  for (const t of terms) n += STRING_HELD_BYTES + 2 * t.length;
  return n;
}

/** StringTermDict is a version 1 dictionary: a string column decoded whole at open. */
export class StringTermDict implements TermDict {
  readonly #terms: string[];

  constructor(column: Uint8Array) {
    this.#terms = decodeStringColumn(column);
    checkSorted(this.#terms);
  }

  get count(): number {
    return this.#terms.length;
  }

  termId(term: string): number {
    const terms = this.#terms;
    let lo = 0;
    let hi = terms.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((terms[mid] as string) < term) lo = mid + 1;
      else hi = mid;
    }
    return terms[lo] === term ? lo : -1;
  }

  all(): readonly string[] {
    return this.#terms;
  }

  heldBytes(): number {
    return stringsHeldBytes(this.#terms);
  }

  idsHolding(piece: string, foldLongS: boolean, max: number): number[] | null {
    return scanHolding(this.#terms, piece, foldLongS, max);
  }

  idsStarting(prefix: string, max: number): number[] | null {
    return startingIn(this, (i) => this.#terms[i] as string, prefix, max, () => longIdsOf(this.#terms));
  }
}

function longIdsOf(terms: readonly string[]): number[] {
  return terms.flatMap((t, i) => (t.length >= CUT_AT ? [i] : []));
}

/** startingIn is idsStarting over a dictionary whose term i is termAt(i): the sorted run from prefix's lower bound, and the long terms. */
function startingIn(dict: { readonly count: number }, termAt: (i: number) => string, prefix: string, max: number, longIds: () => number[]): number[] | null {
  let lo = 0;
  let hi = dict.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (termAt(mid) < prefix) lo = mid + 1;
    else hi = mid;
  }
  const ids: number[] = [];
  for (let i = lo; i < dict.count && termAt(i).startsWith(prefix); i++) {
    if (ids.length === max) return null;
    ids.push(i);
  }
  const long = longIds();
  const out = long.length === 0 ? ids : [...new Set([...ids, ...long])].sort((a, b) => a - b);
  return out.length > max ? null : out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** ByteTermDict is a version 2 dictionary (see the file comment): numbers decoded at open, terms on demand. */
export class ByteTermDict implements TermDict {
  readonly #bytes: Buffer;
  /** #starts[i] is term i's first byte; #starts[count] is the run's length. */
  readonly #starts: Uint32Array;
  #all: string[] | null = null;
  /** #longIds are the ids of the terms of CUT_AT bytes or more (only they can be CUT_AT UTF-16 units long), found once. */
  #longIds: number[] | null = null;

  constructor(lengths: Uint8Array, bytes: Uint8Array) {
    const r = new ByteReader(lengths);
    const count = r.uvarint();
    if (count > LogBlockLimits.termsPerBlockMax || count > bytes.length) throw corrupt(`${count} terms in ${bytes.length} bytes`);
    const starts = new Uint32Array(count + 1);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const len = r.uvarint();
      if (len < 1 || len > bytes.length - at) throw corrupt(`term ${i} of ${len} bytes past the dictionary`);
      at += len;
      starts[i + 1] = at;
    }
    if (r.remaining !== 0) throw corrupt('trailing bytes after the term lengths');
    if (at !== bytes.length) throw corrupt('term lengths do not add up to the term bytes');
    this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#starts = starts;
  }

  get count(): number {
    return this.#starts.length - 1;
  }

  /** termAt decodes term `i`. */
  termAt(i: number): string {
    try {
      return utf8.decode(this.#bytes.subarray(this.#starts[i] as number, this.#starts[i + 1] as number));
    } catch {
      throw corrupt(`term ${i} is not UTF-8`);
    }
  }

  termId(term: string): number {
    let lo = 0;
    let hi = this.count;
    let found = -1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.termAt(mid);
      if (t < term) lo = mid + 1;
      else {
        if (t === term) found = mid;
        hi = mid;
      }
    }
    return found;
  }

  all(): readonly string[] {
    if (this.#all === null) {
      const terms = Array.from({ length: this.count }, (_, i) => this.termAt(i));
      checkSorted(terms);
      this.#all = terms;
    }
    return this.#all;
  }

  heldBytes(): number {
    return this.#starts.byteLength + (this.#all === null ? 0 : stringsHeldBytes(this.#all)) + 8 * (this.#longIds?.length ?? 0);
  }

  idsHolding(piece: string, foldLongS: boolean, max: number): number[] | null {
    // "ſ" read as "s" needs the strings; so does an empty piece (every term holds it).
    if (foldLongS || piece === '') return scanHolding(this.all(), piece, foldLongS, max);
    const needle = Buffer.from(piece, 'utf8');
    const starts = this.#starts;
    const ids: number[] = [];
    // UTF-8 is self-synchronizing: a byte match of a whole piece starts on a character boundary, so it is a substring match.
    for (let from = 0; ; ) {
      const hit = this.#bytes.indexOf(needle, from);
      if (hit < 0) break;
      const id = this.#idAt(hit);
      if (hit + needle.length <= (starts[id + 1] as number)) {
        ids.push(id);
        from = starts[id + 1] as number;
      } else {
        from = hit + 1;
      }
    }
    const merged = this.#withLong(ids);
    return merged.length > max ? null : merged;
  }

  idsStarting(prefix: string, max: number): number[] | null {
    return startingIn(this, (i) => this.termAt(i), prefix, max, () => this.#long());
  }

  /** #idAt is the id of the term holding byte `at`. */
  #idAt(at: number): number {
    const starts = this.#starts;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((starts[mid] as number) <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** #withLong merges into `ids` (increasing) the ids of the terms of CUT_AT or more UTF-16 units. */
  #withLong(ids: number[]): number[] {
    const long = this.#long();
    if (long.length === 0) return ids;
    return [...new Set([...ids, ...long])].sort((a, b) => a - b);
  }

  /** #long is the ids of the terms of CUT_AT or more UTF-16 units, found once. */
  #long(): number[] {
    if (this.#longIds === null) {
      const long: number[] = [];
      for (let i = 0; i < this.count; i++) {
        if ((this.#starts[i + 1] as number) - (this.#starts[i] as number) >= CUT_AT && this.termAt(i).length >= CUT_AT) long.push(i);
      }
      this.#longIds = long;
    }
    return this.#longIds;
  }
}

/**
 * asciiLength is the length of `term` when every code unit of it is ASCII
 * (its UTF-8 bytes are then its code units), else -1. encodeTermDict writes
 * such a term byte by byte instead of calling into Buffer twice per term
 * (most terms are short ASCII words; the calls cost more than the copy).
 */
function asciiLength(term: string): number {
  for (let k = 0; k < term.length; k++) if (term.charCodeAt(k) >= 0x80) return -1;
  return term.length;
}

/** encodeTermDict writes a version 2 dictionary's two sections of `sorted` (sorted, distinct terms). */
export function encodeTermDict(sorted: readonly string[]): { lengths: Uint8Array; bytes: Uint8Array } {
  const lengths = new ByteWriter();
  lengths.uvarint(sorted.length);
  let total = 0;
  // sizes[i] is term i's UTF-8 bytes; ascii[i] is 1 when they are its code units.
  const sizes = new Uint32Array(sorted.length);
  const ascii = new Uint8Array(sorted.length);
  for (let i = 0; i < sorted.length; i++) {
    const term = sorted[i] as string;
    let n = asciiLength(term);
    if (n >= 0) ascii[i] = 1;
    else n = Buffer.byteLength(term, 'utf8');
    sizes[i] = n;
    total += n;
    lengths.uvarint(n);
  }
  const bytes = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < sorted.length; i++) {
    const term = sorted[i] as string;
    if (ascii[i] === 1) {
      for (let k = 0; k < term.length; k++) bytes[at + k] = term.charCodeAt(k);
      at += term.length;
    } else {
      at += bytes.write(term, at, 'utf8');
    }
  }
  if (at !== total) throw new OtlpdbError('ERR_INTERNAL', `term dictionary: wrote ${at} bytes, expected ${total}`);
  return { lengths: lengths.finish(), bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}
