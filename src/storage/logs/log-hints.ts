/**
 * log-hints.ts — block pruning by line hints (LogQL `|=` literals the engine
 * hands a LogSource, query/logql/source.ts LineHint): which terms a block
 * must hold for one of its lines to contain a literal. Pure code.
 *
 * Soundness is the whole point: a block may be skipped only when no line in
 * it can contain the literal; the engine re-checks every entry it is given,
 * so over-admitting costs time and nothing else. What the index holds of a
 * line is tokenizer.ts's terms (lower-cased tokens, each cut to
 * tokenCharsMax, and none after tokensPerLineMax tokens), so:
 *
 * - Hard separators are the characters no token contains: anything but a
 *   word character (\p{L}\p{N}\p{M}_) and "-", ":", "." (UUIDs, IPv6 and
 *   dotted numbers span those three). A chunk of the literal with a hard
 *   separator on both sides inside the literal is a whole chunk of any line
 *   that contains the literal, and the tokenizer cuts it there exactly as it
 *   cuts it alone (no token spans a hard separator; its look-aheads see a
 *   hard separator or the end alike). Its terms are exact: the bloom and
 *   the dictionary must have each of them.
 * - Anything else (the partial chunks at either end, or a literal with no
 *   hard separator) gives pieces: each maximal run of word characters, its
 *   leading digits dropped when something else follows (a dotted number may
 *   end inside a word run, "1.23abc" -> "1.23", "abc", and only there), must
 *   be contained in some term of the block. A term of tokenCharsMax - 1 or
 *   more units may have been cut, so it admits every piece.
 * - A block whose meta does not say that no line was truncated
 *   (LogBlockMeta.truncatedRows !== 0) is never pruned by terms.
 * - Lower-casing: a piece whose lower-casing depends on context (a capital
 *   sigma) is not used. Case-insensitive literals give pieces only, ASCII
 *   only, compared with "ſ" (U+017F, which case-folds to "s" but does not
 *   lower-case to it) read as "s"; the Kelvin sign lower-cases to "k".
 *
 * Alternatives (an `or` of filters) admit a block when any one does; a
 * hint with no usable term admits every block.
 *
 * Rows: a hint is a contract on the stored line itself (a kept line
 * contains every literal of some alternative), so lineAdmits drops a row
 * whose line holds no alternative's literals, exactly, before the row is
 * decoded. A case-insensitive alternative admits every line there (case
 * folding is the engine's to decide; only its block pruning uses pieces).
 */
import { StorageLimits } from '../../limits.js';
import { tokenize } from '../tokenizer.js';

/** HintLiteral is the shape of one LineHint (query/logql/source.ts), restated here so storage does not import the query layer. */
export interface HintLiteral {
  readonly contains: readonly string[];
  readonly caseInsensitive: boolean;
}

/** HintAlternative is what one alternative needs of a block: every exact term, and a term containing each piece. */
export interface HintAlternative {
  readonly exact: readonly string[];
  readonly pieces: readonly string[];
  /** foldLongS: compare pieces with "ſ" read as "s" (a case-insensitive literal). */
  readonly foldLongS: boolean;
  /** literals are the hint's own substrings (HintLiteral.contains): a line the alternative admits contains each; lineAdmits checks them when case-sensitive. */
  readonly literals: readonly string[];
}

/** LineHintPlan is a compiled hint list: a block is admitted when some alternative admits it. */
export interface LineHintPlan {
  readonly alternatives: readonly HintAlternative[];
}

const WORD_CHAR = /[\p{L}\p{N}\p{M}_]/u;
const WORD_RUNS = /[\p{L}\p{N}\p{M}_]+/gu;
const SOFT_SEPARATORS = new Set(['-', ':', '.']);
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function isHard(c: string): boolean {
  return !WORD_CHAR.test(c) && !SOFT_SEPARATORS.has(c);
}

/** segments splits a literal at its hard separators; `interior` when a hard separator bounds it on both sides inside the literal. */
export function segments(s: string): { text: string; interior: boolean }[] {
  const out: { text: string; interior: boolean }[] = [];
  let leftBounded = false;
  let buf = '';
  for (const c of s) {
    if (isHard(c)) {
      out.push({ text: buf, interior: leftBounded });
      buf = '';
      leftBounded = true;
    } else {
      buf += c;
    }
  }
  out.push({ text: buf, interior: false });
  return out.filter((x) => x.text !== '');
}

/** piecesOf is the usable pieces of a text: its word runs, leading digits dropped when something else follows, lower-cased. */
export function piecesOf(text: string, caseInsensitive: boolean): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(WORD_RUNS)) {
    let r = m[0];
    const stripped = r.replace(/^\p{Nd}+/u, '');
    if (stripped !== '') r = stripped;
    if (r.includes('\u03a3') || r.includes('\u03c3') || r.includes('\u03c2')) continue;
    if (caseInsensitive && !isAscii(r)) continue;
    const lower = r.toLowerCase();
    if (lower !== '') out.push(lower);
  }
  return out;
}

/**
 * compileLineHints turns hints into a plan, or null when they cannot prune
 * anything (no hints, or an alternative with no usable term).
 */
export function compileLineHints(hints: readonly HintLiteral[]): LineHintPlan | null {
  if (hints.length === 0) return null;
  const alternatives: HintAlternative[] = [];
  for (const h of hints) {
    const exact = new Set<string>();
    const pieces = new Set<string>();
    for (const s of h.contains) {
      if (h.caseInsensitive) {
        for (const p of piecesOf(s, true)) pieces.add(p);
        continue;
      }
      for (const seg of segments(s)) {
        if (seg.interior) {
          for (const term of tokenize(seg.text).terms) if (!term.includes('\u03c3') && !term.includes('\u03c2')) exact.add(term);
        } else {
          for (const p of piecesOf(seg.text, false)) pieces.add(p);
        }
      }
    }
    if (exact.size === 0 && pieces.size === 0) return null;
    alternatives.push({ exact: [...exact].sort(), pieces: [...pieces].sort(), foldLongS: h.caseInsensitive, literals: h.contains });
  }
  return { alternatives };
}

/** bloomAlternatives says whether some alternative's exact terms may all be in a block's bloom (the first, cheapest check). */
export function bloomAlternatives(plan: LineHintPlan, bloomHas: (term: string) => boolean): boolean {
  return plan.alternatives.some((a) => a.exact.every((t) => bloomHas(t)));
}

function hasSorted(sorted: readonly string[], x: string): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < x) lo = mid + 1;
    else hi = mid;
  }
  return sorted[lo] === x;
}

/**
 * termsAdmit says whether a block whose sorted term dictionary is `terms`
 * may hold a line satisfying some alternative (see the file comment).
 */
export function termsAdmit(plan: LineHintPlan, terms: readonly string[]): boolean {
  const cutAt = StorageLimits.tokenCharsMax - 1;
  return plan.alternatives.some((a) => {
    if (!a.exact.every((t) => hasSorted(terms, t))) return false;
    return a.pieces.every((p) =>
      terms.some((t) => t.length >= cutAt || (a.foldLongS ? t.replaceAll('\u017f', 's') : t).includes(p)),
    );
  });
}

/**
 * lineAdmits says whether a stored line may be kept under the plan: some
 * alternative is case-insensitive (not checked here) or the line contains
 * every one of its literals. Exact for case-sensitive alternatives; the
 * engine still applies every filter to what is admitted.
 */
export function lineAdmits(plan: LineHintPlan, line: string): boolean {
  return plan.alternatives.some((a) => a.foldLongS || a.literals.every((lit) => line.includes(lit)));
}
