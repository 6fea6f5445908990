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
 */
import { LogStoreLimits } from '../../limits.js';
import { intersect } from '../codec/index.js';
import type { HintAlternative, LineHintPlan } from './log-hints.js';
import type { LogIndexReader } from './term-index.js';

/** HintRowsFn is hintCandidates' shape (a test plants broken ones). */
export type HintRowsFn = (plan: LineHintPlan, index: LogIndexReader) => Uint32Array | null;

/**
 * hintCandidates is a superset of the rows of the block behind `index` whose
 * line some alternative of `plan` admits, increasing; null when some
 * alternative requires nothing of the index (every row is a candidate).
 * Empty: no row can hold the hint, the block is pruned. Throws
 * ERR_CORRUPTION (a damaged index).
 */
export function hintCandidates(plan: LineHintPlan, index: LogIndexReader): Uint32Array | null {
  let mark: Uint8Array | null = null;
  for (const a of plan.alternatives) {
    const rows = alternativeRows(a, index);
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

/** alternativeRows is one alternative's rows (see the file comment), or null when it requires nothing. */
function alternativeRows(a: HintAlternative, index: LogIndexReader): Uint32Array | null {
  let rows: Uint32Array | null = null;
  for (const t of a.exact) {
    rows = rows === null ? index.termRows(t) : intersect(rows, index.termRows(t));
    if (rows.length === 0) return rows;
  }
  for (const piece of a.pieces) {
    const ids = index.termIdsHolding(piece, a.foldLongS, LogStoreLimits.hintTermsPerPieceMax);
    if (ids === null) continue;
    if (ids.length === 0) return new Uint32Array(0);
    const mark = new Uint8Array(index.rows);
    for (const id of ids) for (const r of index.termRowsById(id)) mark[r] = 1;
    const u = rowsOf(mark);
    rows = rows === null ? u : intersect(rows, u);
    if (rows.length === 0) return rows;
  }
  return rows;
}
