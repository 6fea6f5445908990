/**
 * tokenizer.ts — the log tokenizer (DESIGN.md §6): it turns a log line into
 * lower-cased terms with their token positions, for the per-block term
 * postings (positions make phrase queries possible) and term blooms. A query
 * string is tokenized by the same function, so whatever this does to a line
 * (splitting, truncation) it does to the query the same way.
 *
 * Terms, tried in this order at each token start:
 * 1. UUID: 8-4-4-4-12 hex digits, one term ("550e8400-e29b-41d4-a716-446655440000").
 * 2. IPv6: colon-separated hex groups with one "::" (at most 7 groups) or
 *    exactly 8 groups, optionally ending in a dotted IPv4; one term. Anything
 *    else with colons (times such as 12:34:56, "key:value") is not IPv6 and
 *    falls through.
 * 3. Dotted number: digits with dot-separated digit groups, one term — IPv4
 *    addresses, versions and decimals ("10.0.0.1", "1.2.3", "0.25").
 * 4. Word: a run of Unicode letters, digits, combining marks and "_".
 *    Hex ids (trace and span ids, hashes, >= 8 hex digits) are words; any
 *    other punctuation separates words ("GET /api/v1" -> get, api, v1).
 * Everything else (punctuation, spaces, symbols, emoji) separates tokens.
 *
 * Bounds (StorageLimits): a token longer than tokenCharsMax UTF-16 code units
 * (after lower-casing) is truncated to that prefix, never splitting a
 * surrogate pair, and counted; after tokensPerLineMax tokens the rest of the
 * line is not scanned and the line is reported as truncated. Work is linear
 * in the line length. Pure code.
 *
 * tokenizeLine gives each term as a string; tokenizeLineIds gives each
 * term's id in a TermIds (an index build's dictionary) and, for an ASCII
 * word seen before, makes no string at all. Both are one scan (scanLine),
 * so they cannot disagree.
 */
import { OtlpdbError, assert } from '../errors.js';
import { StorageLimits } from '../limits.js';
import { sortTermIds } from './term-sort.js';

/** TokenSink receives each term with its token position (0, 1, 2, ...). */
export type TokenSink = (term: string, position: number) => void;

/** TokenizeCounts say what tokenizeLine emitted and cut. */
export interface TokenizeCounts {
  /** tokens is the number of terms emitted. */
  tokens: number;
  /** truncatedTokens counts the terms cut to tokenCharsMax. */
  truncatedTokens: number;
  /** lineTruncated is true when tokensPerLineMax stopped the scan before the end of the line. */
  lineTruncated: boolean;
}

/** Tokens is the allocating form of tokenizeLine's output. */
export interface Tokens extends TokenizeCounts {
  readonly terms: string[];
  readonly positions: number[];
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\p{L}\p{N}\p{M}_])/iuy;
const IPV6_CANDIDATE = /(?:[0-9a-f]{0,4}:){2,8}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9a-f]{1,4})?(?![\p{L}\p{N}\p{M}_:])/iuy;
const WORD = /[\p{L}\p{N}\p{M}_]+/uy;

function isHexOrColon(c: number): boolean {
  return (c >= 0x30 && c <= 0x3a) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** isIpv6 checks a candidate matched by IPV6_CANDIDATE against the group rules. */
function isIpv6(s: string): boolean {
  const dc = s.indexOf('::');
  if (dc !== s.lastIndexOf('::') || s.includes(':::')) return false;
  // A single leading or trailing colon (not part of "::") is not an address.
  if ((s.startsWith(':') && dc !== 0) || (s.endsWith(':') && dc !== s.length - 2)) return false;
  let groups = 0;
  for (const g of s.split(':')) {
    if (g.length === 0) continue;
    groups += g.includes('.') ? 2 : 1;
  }
  return dc >= 0 ? groups <= 7 : groups === 8;
}

function match(re: RegExp, line: string, at: number): string | undefined {
  re.lastIndex = at;
  const m = re.exec(line);
  return m === null ? undefined : m[0];
}

/** UUID_CHARS is the length of a UUID token (8-4-4-4-12 hex digits and four dashes). */
const UUID_CHARS = 36;
/** IPV6_FIRST_GROUP_CHARS_MAX is the most hex digits before an IPv6 candidate's first colon. */
const IPV6_FIRST_GROUP_CHARS_MAX = 4;

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** ASCII_WORD and ASCII_UPPER are the bits of ASCII_CLASS: a WORD character (letters, digits, "_"), an upper-case letter. */
const ASCII_WORD = 1;
const ASCII_UPPER = 2;
/** ASCII_CLASS classifies the 128 ASCII code units for wordEnd's scan (one load instead of four comparisons). */
const ASCII_CLASS = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const upper = c >= 0x41 && c <= 0x5a;
    if ((c >= 0x61 && c <= 0x7a) || upper || (c >= 0x30 && c <= 0x39) || c === 0x5f) t[c] = ASCII_WORD | (upper ? ASCII_UPPER : 0);
  }
  return t;
})();
/** ASCII_LOWER_BIT is what lower-cases each ASCII code unit when or-ed into it (0x20 for "A".."Z", else 0). */
const ASCII_LOWER_BIT = (() => {
  const t = new Uint8Array(128);
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 0x20;
  return t;
})();
/** TOKENS_PER_LINE_MAX and TOKEN_CHARS_MAX are the StorageLimits the scan reads per token, read once. */
const TOKENS_PER_LINE_MAX = StorageLimits.tokensPerLineMax;
const TOKEN_CHARS_MAX = StorageLimits.tokenCharsMax;

/**
 * mayBeIpv6 is a cheap necessary condition for IPV6_CANDIDATE at `at`: its
 * first group is at most four hex digits followed by a colon. When it is
 * false the regex cannot match, so skipping it changes nothing.
 */
function mayBeIpv6(line: string, at: number): boolean {
  for (let k = 0; k <= IPV6_FIRST_GROUP_CHARS_MAX; k++) {
    const c = line.charCodeAt(at + k);
    if (c === 0x3a) return colonRunMayBeIpv6(line, at);
    if (!isHex(c)) return false;
  }
  return false;
}

/** IPV6_RUN_SCAN_CHARS_MAX bounds colonRunMayBeIpv6's scan (more than IPV6_CANDIDATE can match: 8 groups of 5 and a dotted quad). */
const IPV6_RUN_SCAN_CHARS_MAX = 64;
/** IPV6_COLONS_MIN is the fewest colons of an address without "::" (six groups and a dotted quad). */
const IPV6_COLONS_MIN = 6;

/**
 * colonRunMayBeIpv6 is mayBeIpv6's second necessary condition: an address
 * has "::" or at least six colons, all inside the run of hex digits and
 * colons at `at`. When that run ends within the scan bound with neither,
 * no candidate at `at` (nor at any later start inside the run, whose run is
 * a part of this one) is an address, so the regex and the rejected-candidate
 * bookkeeping it would do (noIpv6Before) change nothing: times such as
 * 12:34:56 and "key:value" skip the regex.
 */
function colonRunMayBeIpv6(line: string, at: number): boolean {
  let colons = 0;
  let prevColon = false;
  const end = Math.min(line.length, at + IPV6_RUN_SCAN_CHARS_MAX);
  for (let j = at; j < end; j++) {
    const c = line.charCodeAt(j);
    if (c === 0x3a) {
      if (prevColon) return true;
      colons++;
      prevColon = true;
    } else if (isHex(c)) {
      prevColon = false;
    } else {
      return colons >= IPV6_COLONS_MIN;
    }
  }
  return end < line.length || colons >= IPV6_COLONS_MIN;
}

/** dottedNumberEnd is where the dotted number /\d+(?:\.\d+)+/ (greedy, ASCII digits) matched at `at` ends (`at` holds a digit), or -1 when it does not match. */
function dottedNumberEnd(line: string, at: number): number {
  let j = at;
  while (isDigit(line.charCodeAt(j))) j++;
  if (!(line.charCodeAt(j) === 0x2e && isDigit(line.charCodeAt(j + 1)))) return -1;
  do {
    j++;
    while (isDigit(line.charCodeAt(j))) j++;
  } while (line.charCodeAt(j) === 0x2e && isDigit(line.charCodeAt(j + 1)));
  return j;
}

/**
 * wordLower says whether the last ASCII word wordEnd scanned had no
 * upper-case letter (so lower-casing it changes nothing).
 * NB: wordLower and wordHash are module-level scratch, wordEnd's second and
 * third results (so the hot scan returns one number and allocates nothing);
 * scanLine reads them right after the call, in synchronous code only.
 */
let wordLower = false;
/** wordHash is termHash of the last ASCII word wordEnd scanned, lower-cased. */
let wordHash = 0;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** termHash is FNV-1a over a term's UTF-16 code units (TermIds' hash; wordEnd computes the same while it scans). */
function termHash(term: string): number {
  let h = FNV_OFFSET;
  for (let k = 0; k < term.length; k++) h = Math.imul(h ^ term.charCodeAt(k), FNV_PRIME);
  return h;
}

/** asciiHash is termHash(line.slice(start, end)) without the slice (a term taken from the line as it is). */
function asciiHash(line: string, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let k = start; k < end; k++) h = Math.imul(h ^ line.charCodeAt(k), FNV_PRIME);
  return h;
}

/**
 * wordEnd scans an ASCII WORD match at `at` by hand and returns where it
 * ends (`at` itself when no word starts there), setting wordLower and
 * wordHash; or -1 when the word meets a non-ASCII code unit, which is left
 * to the regex (Unicode letters, marks, surrogate pairs), so the token is
 * always the regex's.
 */
function wordEnd(line: string, at: number): number {
  let j = at;
  let upper = false;
  let h = FNV_OFFSET;
  const n = line.length;
  while (j < n) {
    const c = line.charCodeAt(j);
    if (c >= 0x80) return -1;
    const k = ASCII_CLASS[c] as number;
    if (k === 0) break;
    if (k === (ASCII_WORD | ASCII_UPPER)) {
      upper = true;
      h = Math.imul(h ^ (c | 0x20), FNV_PRIME);
    } else {
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    j++;
  }
  wordLower = !upper;
  wordHash = h;
  return j;
}

/** UUID_FIRST_GROUP_CHARS is the hex digits of a UUID before its first "-". */
const UUID_FIRST_GROUP_CHARS = 8;

/**
 * wordFollowerMayClaim says whether a rule tried before WORD may match at
 * `start`, where an ASCII word run `line[start, end)` starts: each such rule
 * has a prefix inside the run that ends the run at a "-", ":" or ".", and
 * only runs of that prefix's shape can start one:
 * - a UUID has "-" right after its first 8 hex digits: the run is exactly
 *   UUID_FIRST_GROUP_CHARS long and followed by "-";
 * - an IPv6 candidate has ":" after a first group of at most four hex
 *   digits: the run is at most IPV6_FIRST_GROUP_CHARS_MAX long and followed
 *   by ":";
 * - a dotted number is digits, ".", a digit: the run starts with a digit,
 *   is followed by "." and that by a digit.
 * Any other run (a separator or the line's end after it: NaN; "2026-",
 * "http.", "failed:") is left to WORD, as the regexes would, and no rejected
 * IPv6 candidate is left to remember (IPV6_CANDIDATE cannot match there).
 * The checks are necessary conditions only; the rules themselves decide.
 */
function wordFollowerMayClaim(line: string, start: number, end: number): boolean {
  const c = line.charCodeAt(end);
  if (c === 0x2d) return end - start === UUID_FIRST_GROUP_CHARS;
  if (c === 0x3a) return end - start <= IPV6_FIRST_GROUP_CHARS_MAX;
  if (c === 0x2e) return isDigit(line.charCodeAt(start)) && isDigit(line.charCodeAt(end + 1));
  return false;
}

/** TermIdSink receives each term's id (TermIds) with its token position. */
export type TermIdSink = (id: number, position: number) => void;

/** TERM_IDS_SLOTS_INITIAL is the first table size of a TermIds (a power of two; it doubles at half full). */
const TERM_IDS_SLOTS_INITIAL = 1 << 12;
/** TERM_IDS_POOL_UNITS_PER_SLOT_INITIAL sizes a TermIds' first code-unit pool (four code units a slot, eight a term at half full; it doubles when full). */
const TERM_IDS_POOL_UNITS_PER_SLOT_INITIAL = 4;

/**
 * TermIds numbers the distinct terms of one index build 0, 1, 2, ... in
 * first-seen order (term-index-build.ts). It exists for speed: tokenizeLineIds
 * finds an ASCII word's id from the line's characters (an open-addressing
 * table of FNV-1a hashes, compared lower-cased in place against the term's
 * code units kept in one typed pool), so a word seen before costs no string,
 * no lower-casing, no Map lookup and no load of the term's string.
 * Invariants: terms[id] is distinct per id; #slots holds each id once, at
 * the first free slot from its hash's home (linear probing); at most half
 * the slots are used; #pool[#starts[id] .. #starts[id + 1]) are the UTF-16
 * code units of terms[id] (#starts[0] = 0, non-decreasing).
 */
export class TermIds {
  /** terms are the terms by id. */
  readonly terms: string[] = [];
  readonly #termsMax: number;
  #slots = new Int32Array(TERM_IDS_SLOTS_INITIAL).fill(-1);
  #shift = 32 - Math.log2(TERM_IDS_SLOTS_INITIAL);
  #hashes = new Int32Array(TERM_IDS_SLOTS_INITIAL / 2);
  #starts = new Int32Array(TERM_IDS_SLOTS_INITIAL / 2 + 1);
  #pool = new Uint16Array(TERM_IDS_SLOTS_INITIAL * TERM_IDS_POOL_UNITS_PER_SLOT_INITIAL);

  /** The constructor takes the most distinct terms (ERR_LIMIT_EXCEEDED past it, naming `what`). */
  constructor(termsMax: number, readonly what: string) {
    assert(Number.isSafeInteger(termsMax) && termsMax >= 1, 'TermIds termsMax >= 1');
    this.#termsMax = termsMax;
  }

  #home(h: number): number {
    return Math.imul(h, 0x9e3779b1) >>> this.#shift;
  }

  /** idOf is the id of `term` (a term as the tokenizer emits it), adding it when new. */
  idOf(term: string): number {
    const h = termHash(term) | 0;
    const mask = this.#slots.length - 1;
    for (let s = this.#home(h); ; s = (s + 1) & mask) {
      const id = this.#slots[s] as number;
      if (id < 0) return this.#add(term, h, s);
      if (this.#hashes[id] === h && this.terms[id] === term) return id;
    }
  }

  /** idOfAscii is idOf(line.slice(start, end).toLowerCase()) for an ASCII word whose lower-cased hash is `h`, without building the string unless it is new. */
  idOfAscii(line: string, start: number, end: number, h: number, lower: boolean): number {
    h |= 0;
    const mask = this.#slots.length - 1;
    const len = end - start;
    for (let s = this.#home(h); ; s = (s + 1) & mask) {
      const id = this.#slots[s] as number;
      if (id < 0) {
        const raw = line.slice(start, end);
        return this.#add(lower ? raw : raw.toLowerCase(), h, s);
      }
      if (this.#hashes[id] !== h) continue;
      const at = this.#starts[id] as number;
      if ((this.#starts[id + 1] as number) - at !== len) continue;
      const pool = this.#pool;
      let k = 0;
      while (k < len) {
        // The word is ASCII (wordEnd, dottedNumberEnd), so ASCII_LOWER_BIT folds it.
        const c = line.charCodeAt(start + k);
        if ((c | (ASCII_LOWER_BIT[c] as number)) !== pool[at + k]) break;
        k++;
      }
      if (k === len) return id;
    }
  }

  /** sortedIds is every id ordered by its term's UTF-16 code units (the order of `terms.slice().sort()`), found from the pool without the strings (term-sort.ts). */
  sortedIds(): Int32Array {
    return sortTermIds(this.#pool, this.#starts, this.terms.length);
  }

  #add(term: string, h: number, slot: number): number {
    const id = this.terms.length;
    if (id >= this.#termsMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `${this.what} of more than ${this.#termsMax} distinct terms`);
    this.terms.push(term);
    if (id === this.#hashes.length) {
      const grown = new Int32Array(this.#hashes.length * 2);
      grown.set(this.#hashes);
      this.#hashes = grown;
    }
    this.#hashes[id] = h;
    this.#keep(id, term);
    this.#slots[slot] = id;
    if (this.terms.length * 2 > this.#slots.length) this.#rehash();
    return id;
  }

  /** #keep appends the code units of `term` (the new id `id`) to #pool. */
  #keep(id: number, term: string): void {
    if (id + 2 > this.#starts.length) {
      const grown = new Int32Array(this.#starts.length * 2);
      grown.set(this.#starts);
      this.#starts = grown;
    }
    const at = this.#starts[id] as number;
    const end = at + term.length;
    if (end > this.#pool.length) {
      const grown = new Uint16Array(Math.max(this.#pool.length * 2, end));
      grown.set(this.#pool);
      this.#pool = grown;
    }
    const pool = this.#pool;
    for (let k = 0; k < term.length; k++) pool[at + k] = term.charCodeAt(k);
    this.#starts[id + 1] = end;
    assert(end >= at, 'the pool only grows');
  }

  #rehash(): void {
    const slots = new Int32Array(this.#slots.length * 2).fill(-1);
    this.#shift--;
    const mask = slots.length - 1;
    for (let id = 0; id < this.terms.length; id++) {
      let s = this.#home(this.#hashes[id] as number);
      while ((slots[s] as number) >= 0) s = (s + 1) & mask;
      slots[s] = id;
    }
    this.#slots = slots;
  }
}

/**
 * scanLine is the tokenizer (tokenizeLine, tokenizeLineIds): with `ids`
 * null it gives `sink` each term; otherwise it gives `idSink` each term's
 * id in `ids`. The regexes above define the tokens; the scans beside them
 * (mayBeIpv6, dottedNumberEnd, wordEnd, the UUID dash check) only skip
 * regex calls that cannot match or do an ASCII match by hand
 * (tokenizer.test.ts checks them against the regexes alone on random lines).
 */
function scanLine(line: string, sink: TokenSink | null, ids: TermIds | null, idSink: TermIdSink | null, counts: TokenizeCounts): TokenizeCounts {
  let tokens = 0;
  let truncatedTokens = 0;
  let lineTruncated = false;
  let i = 0;
  const n = line.length;
  // A rejected IPv6 candidate is split into words; no address may start inside it ("a::b::c" is not "a", "b::c").
  let noIpv6Before = 0;
  while (i < n) {
    if (tokens >= TOKENS_PER_LINE_MAX) {
      lineTruncated = true;
      break;
    }
    const c = line.charCodeAt(i);
    // An ASCII separator (not a word character, not a colon) starts no token.
    if (c < 0x80 && ASCII_CLASS[c] === 0 && c !== 0x3a) {
      i++;
      continue;
    }
    let tok: string | undefined;
    // wordAt is wordEnd(line, i) when the fast path below scanned it (wordHash and wordLower still its), else -2.
    let wordAt = -2;
    // The common case first: an ASCII word that no earlier rule can claim (see wordFollowerMayClaim).
    if (c < 0x80 && c !== 0x3a) {
      const end = wordEnd(line, i);
      wordAt = end;
      if (end > i && end - i <= TOKEN_CHARS_MAX && !wordFollowerMayClaim(line, i, end)) {
        if (ids !== null) (idSink as TermIdSink)(ids.idOfAscii(line, i, end, wordHash, wordLower), tokens);
        else {
          const raw = line.slice(i, end);
          (sink as TokenSink)(wordLower ? raw : raw.toLowerCase(), tokens);
        }
        tokens++;
        i = end;
        continue;
      }
    }
    if (isHexOrColon(c)) {
      if (i + UUID_CHARS <= n && line.charCodeAt(i + 8) === 0x2d) tok = match(UUID, line, i);
      if (tok === undefined && i >= noIpv6Before && mayBeIpv6(line, i)) {
        const cand = match(IPV6_CANDIDATE, line, i);
        if (cand !== undefined) {
          if (isIpv6(cand)) tok = cand;
          else noIpv6Before = i + cand.length;
        }
      }
      if (tok === undefined && isDigit(c)) {
        const end = dottedNumberEnd(line, i);
        if (end >= 0 && ids !== null && end - i <= TOKEN_CHARS_MAX) {
          // Digits and dots: the term is the code units as they are (an IPv4 address, a version), found without a string.
          (idSink as TermIdSink)(ids.idOfAscii(line, i, end, asciiHash(line, i, end), true), tokens);
          tokens++;
          i = end;
          continue;
        }
        if (end >= 0) tok = line.slice(i, end);
      }
    }
    let lower = false;
    if (tok === undefined) {
      // No rule above calls wordEnd, so a fast-path scan at i is still this one.
      const end = wordAt === -2 ? wordEnd(line, i) : wordAt;
      if (end < 0) {
        tok = match(WORD, line, i);
      } else if (end > i && ids !== null && end - i <= TOKEN_CHARS_MAX) {
        (idSink as TermIdSink)(ids.idOfAscii(line, i, end, wordHash, wordLower), tokens);
        tokens++;
        i = end;
        continue;
      } else if (end > i) {
        tok = line.slice(i, end);
        lower = wordLower;
      }
    }
    if (tok === undefined) {
      i++;
      continue;
    }
    i += tok.length;
    let term = lower ? tok : tok.toLowerCase();
    if (term.length > TOKEN_CHARS_MAX) {
      let cut = TOKEN_CHARS_MAX;
      const last = term.charCodeAt(cut - 1);
      if (last >= 0xd800 && last <= 0xdbff) cut--; // keep surrogate pairs whole
      term = term.slice(0, cut);
      truncatedTokens++;
    }
    if (ids !== null) (idSink as TermIdSink)(ids.idOf(term), tokens);
    else (sink as TokenSink)(term, tokens);
    tokens++;
  }
  counts.tokens = tokens;
  counts.truncatedTokens = truncatedTokens;
  counts.lineTruncated = lineTruncated;
  return counts;
}

/** tokenizeLine calls `sink` for each term of `line`, in order, and returns the counts. It allocates only the term strings. */
export function tokenizeLine(line: string, sink: TokenSink): TokenizeCounts {
  return scanLine(line, sink, null, null, { tokens: 0, truncatedTokens: 0, lineTruncated: false });
}

/**
 * tokenizeLineIds is tokenizeLine giving each term's id in `ids` instead of
 * the term (ids.terms[id] is the term tokenizeLine would give): what an
 * index build wants, at a fraction of the cost for words and dotted numbers
 * seen before. `counts`, when given, receives the counts and is returned
 * (a build reuses one instead of an object per line).
 * Throws ERR_LIMIT_EXCEEDED when `ids` would pass its most terms.
 */
export function tokenizeLineIds(line: string, ids: TermIds, sink: TermIdSink, counts?: TokenizeCounts): TokenizeCounts {
  return scanLine(line, null, ids, sink, counts ?? { tokens: 0, truncatedTokens: 0, lineTruncated: false });
}

/** tokenize is tokenizeLine collecting terms and positions into arrays. */
export function tokenize(line: string): Tokens {
  const terms: string[] = [];
  const positions: number[] = [];
  const counts = tokenizeLine(line, (term, position) => {
    terms.push(term);
    positions.push(position);
  });
  return { ...counts, terms, positions };
}
