/**
 * log-hint-rows.ts — the row side of line hints (log-hints.ts): from a
 * block's term index alone, a superset of the rows whose line some
 * alternative of a hint may admit, so a read decodes only the pages of
 * those rows (a log query's `|=` and `|~` literals, and a metric query's
 * count_over_time and the other range aggregations, which select every
 * entry with the same hints). The idea is branch logs2's hintCandidates,
 * on the paged blocks. Pure code.
 *
 * Soundness, line by line (log-hints.ts argues it block by block; a block's
 * terms are its lines' terms): a line that contains an alternative's
 * literals, when the tokenizer cut none of its tokens short of the line's
 * end (the caller uses this only where LogBlockMeta.truncatedRows is 0),
 * holds each exact term of the alternative and, for each piece, a term
 * that contains the piece (a term of tokenCharsMax − 1 or more units may
 * have been cut and holds every piece). So the alternative's rows are the
 * rows of every exact term intersected with, per piece, the union of the
 * rows of the terms that hold it; a hint's rows are the union over its
 * alternatives. A piece held by more than
 * LogStoreLimits.hintTermsPerPieceMax terms (a digit, a common syllable) is
 * left out: it requires nothing, and reading that many postings would cost
 * more than the pages it saves.
 *
 * Adjacent pairs: a literal of two word runs joined by hard separators
 * (`status=5`, from `|~ "status=5[0-9][0-9]"`) also needs the terms at two
 * consecutive positions (adjacentPairOf says why), which a piece alone
 * cannot say when the right run is a digit every block holds.
 */
import { LogStoreLimits } from '../../limits.js';
import { intersect } from '../codec/index.js';
import type { HintAlternative, LineHintPlan } from './log-hints.js';
import { piecesOf, segments } from './log-hints.js';
import type { LogIndexReader } from './term-index.js';

/**
 * hintCandidates is a superset of the rows of the block behind `index` whose
 * line some alternative of `plan` admits, increasing; null when some
 * alternative requires nothing of the index (every row is a candidate).
 * Empty: no row can hold the hint, the block is pruned. Throws
 * ERR_CORRUPTION (a damaged index).
 */
export function hintCandidates(plan: LineHintPlan, index: LogIndexReader): Uint32Array | null {
  return hintCandidatesWith(plan, index, 1);
}

/** hintCandidatesWith is hintCandidates with an adjacent pair's position step given (1; a test plants others). */
export function hintCandidatesWith(plan: LineHintPlan, index: LogIndexReader, step: number): Uint32Array | null {
  // The dictionary side first: every term id the alternatives may read, asked for at once (a version 3 index fetches their chunks in one read).
  // A lookup that runs again over the same reader (log-block-read.ts withEntries) finds them in IDS_MEMO.
  let memo = IDS_MEMO.get(index);
  if (memo === undefined) IDS_MEMO.set(index, (memo = new Map()));
  let ids = memo.get(plan);
  if (ids === undefined) memo.set(plan, (ids = plan.alternatives.map((a) => termIdsOf(a, index))));
  index.prefetch(
    plan.alternatives.flatMap((a) => a.exact),
    ids.flatMap((x) => [...x.pieces.flatMap((p) => p ?? []), ...x.pairs.flatMap((p) => (p === null ? [] : [...p.left, ...p.right]))]),
  );
  // One alternative (a single `|=`, the common case) is its rows: no mark array of the block's rows to union them.
  if (plan.alternatives.length === 1) return alternativeRows(plan.alternatives[0] as HintAlternative, ids[0] as AlternativeIds, index, step);
  let mark: Uint8Array | null = null;
  for (let k = 0; k < plan.alternatives.length; k++) {
    const rows = alternativeRows(plan.alternatives[k] as HintAlternative, ids[k] as AlternativeIds, index, step);
    if (rows === null) return null;
    mark ??= new Uint8Array(index.rows);
    for (const r of rows) mark[r] = 1;
  }
  return mark === null ? null : rowsOf(mark);
}

function rowsOf(mark: Uint8Array): Uint32Array {
  let n = 0;
  for (let i = 0; i < mark.length; i++) n += mark[i] as number;
  const out = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < mark.length; i++) if (mark[i] === 1) out[k++] = i;
  return out;
}

/** IDS_MEMO keeps each reader's AlternativeIds per plan while the reader lives (one block lookup: its passes share them). */
const IDS_MEMO = new WeakMap<LogIndexReader, Map<LineHintPlan, readonly AlternativeIds[]>>();

/** AlternativeIds are the dictionary ids an alternative's pieces (each: the terms holding it, null past the bound) and adjacent pairs (null: no pair, or past the bound) read. */
interface AlternativeIds {
  readonly pieces: (number[] | null)[];
  readonly pairs: ({ readonly left: number[]; readonly right: number[] } | null)[];
}

/** termIdsOf is what alternative `a` reads of `index`'s dictionary (AlternativeIds; the pairs in `a.literals` order). */
function termIdsOf(a: HintAlternative, index: LogIndexReader): AlternativeIds {
  const pieces = a.pieces.map((piece) => index.termIdsHolding(piece, a.foldLongS, LogStoreLimits.hintTermsPerPieceMax));
  const pairs = a.foldLongS
    ? []
    : a.literals.map((literal) => {
        const pair = adjacentPairOf(literal);
        if (pair === null) return null;
        const max = LogStoreLimits.hintAdjacentTermsMax;
        const left = index.termIdsHolding(pair.left, false, max);
        const right = left === null ? null : index.termIdsStarting(pair.right, max);
        return left === null || right === null ? null : { left, right };
      });
  return { pieces, pairs };
}

/** alternativeRows is one alternative's rows (see the file comment), or null when it requires nothing. */
function alternativeRows(a: HintAlternative, x: AlternativeIds, index: LogIndexReader, step: number): Uint32Array | null {
  let rows: Uint32Array | null = null;
  for (const t of a.exact) {
    rows = rows === null ? index.termRows(t) : intersect(rows, index.termRows(t));
    if (rows.length === 0) return rows;
  }
  for (const ids of x.pieces) {
    if (ids === null) continue;
    if (ids.length === 0) return new Uint32Array(0);
    // A piece one term holds (a whole word, most often) is that term's rows; several terms' rows are unioned by a mark.
    let u: Uint32Array;
    if (ids.length === 1) u = index.termRowsById(ids[0] as number);
    else {
      const mark = new Uint8Array(index.rows);
      for (const id of ids) for (const r of index.termRowsById(id)) mark[r] = 1;
      u = rowsOf(mark);
    }
    rows = rows === null ? u : intersect(rows, u);
    if (rows.length === 0) return rows;
  }
  if (a.foldLongS) return rows;
  for (const pair of x.pairs) {
    if (pair === null) continue;
    rows = adjacentRows(pair, index, rows, step);
    if (rows.length === 0) return rows;
  }
  return rows;
}

/** AdjacentPair is a literal `A` + hard separators + `B`: a term holding `left` at some position, one starting with `right` at the next. */
export interface AdjacentPair {
  readonly left: string;
  readonly right: string;
}

const PURE_WORD = /^[\p{L}\p{N}\p{M}_]+$/u;
const SIGMA = /[\u03a3\u03c3\u03c2]/u;

/**
 * adjacentPairOf is the pair a case-sensitive literal makes when it is two
 * runs of word characters joined by hard separators only (`status=5`,
 * `user: 42` is not: ":" is soft), or null. Why it holds of every untruncated
 * line that contains the literal: no token spans a hard separator, and only
 * hard separators lie between the two runs, so the token holding A's last
 * character ends there (its term holds A's piece, as log-hints.ts argues for
 * a piece) and the next token starts at B's first character (a word, or a
 * UUID, IPv6 or dotted number, which all start with the characters they
 * cover; a term cut to tokenCharsMax is taken to hold and start with
 * anything), at the next position.
 */
export function adjacentPairOf(literal: string): AdjacentPair | null {
  const segs = segments(literal);
  if (segs.length !== 2) return null;
  const [a, b] = segs as [{ text: string; interior: boolean }, { text: string; interior: boolean }];
  if (a.interior || b.interior || !literal.startsWith(a.text) || !literal.endsWith(b.text)) return null;
  if (!PURE_WORD.test(a.text) || !PURE_WORD.test(b.text) || SIGMA.test(literal)) return null;
  const left = piecesOf(a.text, false);
  if (left.length !== 1) return null;
  return { left: left[0] as string, right: b.text.toLowerCase() };
}

/**
 * adjacentRows narrows `rows` (null: every row) to those where a term of
 * `ids.left` (the terms holding an AdjacentPair's left) sits right before
 * a term of `ids.right` (those starting with its right), from the terms'
 * positions. (termIdsOf leaves out a pair with more than
 * LogStoreLimits.hintAdjacentTermsMax terms on either side: it requires
 * nothing.)
 */
function adjacentRows(ids: { readonly left: number[]; readonly right: number[] }, index: LogIndexReader, rows: Uint32Array | null, step: number): Uint32Array {
  const leftIds = ids.left;
  const rightIds = ids.right;
  const allowed = rows === null ? null : new Set(rows);
  // Per candidate row, the positions right after a left term.
  const after = new Map<number, Set<number>>();
  for (const id of leftIds) {
    const e = index.termPositionsById(id);
    e.rows.forEach((r, k) => {
      if (allowed !== null && !allowed.has(r)) return;
      let set = after.get(r);
      if (set === undefined) after.set(r, (set = new Set()));
      for (const p of e.positions[k] as Uint32Array) set.add(p + step);
    });
  }
  const mark = new Uint8Array(index.rows);
  for (const id of rightIds) {
    if (after.size === 0) break;
    const e = index.termPositionsById(id);
    e.rows.forEach((r, k) => {
      const set = after.get(r);
      if (set === undefined || mark[r] === 1) return;
      for (const p of e.positions[k] as Uint32Array) {
        if (set.has(p)) {
          mark[r] = 1;
          return;
        }
      }
    });
  }
  return rowsOf(mark);
}
