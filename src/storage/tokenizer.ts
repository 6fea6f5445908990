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
 */
import { StorageLimits } from '../limits.js';

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

/** isAsciiWord says whether an ASCII code unit is a WORD character (letters, digits, "_"). */
function isAsciiWord(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

/**
 * mayBeIpv6 is a cheap necessary condition for IPV6_CANDIDATE at `at`: its
 * first group is at most four hex digits followed by a colon. When it is
 * false the regex cannot match, so skipping it changes nothing.
 */
function mayBeIpv6(line: string, at: number): boolean {
  for (let k = 0; k <= IPV6_FIRST_GROUP_CHARS_MAX; k++) {
    const c = line.charCodeAt(at + k);
    if (c === 0x3a) return true;
    if (!isHex(c)) return false;
  }
  return false;
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

/** wordLower says whether the last ASCII word wordAt scanned by hand had no upper-case letter (so lower-casing it changes nothing). */
let wordLower = false;

/**
 * wordAt is WORD's match at `at`, or undefined: ASCII words are scanned by
 * hand (setting wordLower), and any word that meets a non-ASCII code unit
 * is left to the regex (Unicode letters, marks, surrogate pairs), so the
 * result is the regex's.
 */
function wordAt(line: string, at: number): string | undefined {
  let j = at;
  let upper = false;
  for (;;) {
    const c = line.charCodeAt(j);
    if (c >= 0x80) {
      wordLower = false;
      return match(WORD, line, at);
    }
    if (!isAsciiWord(c)) break; // NaN past the end is not a word character either
    if (c >= 0x41 && c <= 0x5a) upper = true;
    j++;
  }
  wordLower = !upper;
  return j === at ? undefined : line.slice(at, j);
}

/**
 * tokenizeLine calls `sink` for each term of `line`, in order, and returns
 * the counts. It allocates only the term strings. The regexes above define
 * the tokens; the scans beside them (mayBeIpv6, dottedNumberEnd, wordAt,
 * the UUID dash check) only skip regex calls that cannot match or do an
 * ASCII match by hand (tokenizer.test.ts checks them against the regexes
 * alone on random lines).
 */
export function tokenizeLine(line: string, sink: TokenSink): TokenizeCounts {
  const counts: TokenizeCounts = { tokens: 0, truncatedTokens: 0, lineTruncated: false };
  let i = 0;
  const n = line.length;
  // A rejected IPv6 candidate is split into words; no address may start inside it ("a::b::c" is not "a", "b::c").
  let noIpv6Before = 0;
  while (i < n) {
    if (counts.tokens >= StorageLimits.tokensPerLineMax) {
      counts.lineTruncated = true;
      break;
    }
    const c = line.charCodeAt(i);
    let tok: string | undefined;
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
        if (end >= 0) tok = line.slice(i, end);
      }
    }
    let lower = false;
    if (tok === undefined) {
      tok = wordAt(line, i);
      lower = wordLower;
    }
    if (tok === undefined) {
      i++;
      continue;
    }
    i += tok.length;
    let term = lower ? tok : tok.toLowerCase();
    if (term.length > StorageLimits.tokenCharsMax) {
      let cut = StorageLimits.tokenCharsMax;
      const last = term.charCodeAt(cut - 1);
      if (last >= 0xd800 && last <= 0xdbff) cut--; // keep surrogate pairs whole
      term = term.slice(0, cut);
      counts.truncatedTokens++;
    }
    sink(term, counts.tokens);
    counts.tokens++;
  }
  return counts;
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
