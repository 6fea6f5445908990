/**
 * log-search-eval.ts — what a search query (log-search-query.ts) means for
 * one log line, and how it prunes a block before any line is read. Pure
 * code.
 *
 * Row semantics (matchesSearch), over the line's terms as the storage
 * tokenizer makes them (lower-cased tokens with positions; nothing after
 * StorageLimits.tokensPerLineMax tokens, which is also all the index holds):
 * - term: some token of the line equals it;
 * - phrase: its tokens occur at consecutive positions;
 * - fuzzy: some token is within Levenshtein distance `distance` of it,
 *   counted in Unicode code points (insertions, deletions, substitutions;
 *   a transposition counts 2: this is not Damerau's distance);
 * - range: the field's number lies within the bounds. source "line": when
 *   the line is a JSON object, its top-level key (a number, or a string
 *   that is a decimal number); otherwise the first logfmt pair `key=value`
 *   of that key (a value bare or double-quoted, at most
 *   LogSearchLimits.fieldsPerLineMax pairs read). source "metadata": the
 *   structured metadata label of that name (logs-view.ts metadataOf), a
 *   decimal number. A missing or non-numeric field fails the range (so
 *   `not range` keeps such lines);
 * - and / or / not as usual (an empty `and` holds).
 *
 * Block pruning (searchPrune): the bloom test holds a term or phrase only
 * when the bloom may hold its terms; fuzzy and range nodes, and `not` of
 * anything, cannot be ruled out by a bloom (a `not` of an absent term is
 * true on every row). The postings give per node a row set and whether it
 * is exact: term and phrase exact; fuzzy the union of the postings of the
 * dictionary terms within the distance (exact) unless more than
 * LogSearchLimits.fuzzyExpansionsMax qualify (then every row, inexact);
 * range every row (inexact); and / or intersect / unite (exact when every
 * child is); not of an exact set is its complement, of an inexact one every
 * row. The result only ever over-admits; the store checks every row it
 * returns with matchesSearch.
 */
import { LogSearchLimits as S } from '../limits.js';
import { difference, intersect, union } from '../storage/codec/index.js';
import type { BlockSearchPrune, LogIndexReader } from '../storage/logs/term-index.js';
import { tokenize } from '../storage/tokenizer.js';
import type { LogLabel } from './logql/source.js';
import type { RangeBounds, SearchNode } from './log-search-query.js';

/** SearchPlants are bugs a test plants to show its differential catches them; production passes none. */
export interface SearchPlants {
  /** fuzzyOffByOne: fuzzy matching allows one edit fewer than asked. */
  readonly fuzzyOffByOne?: boolean;
  /** notBeforeSkip: a `not` is tested against the bloom as if it were its child, so blocks are skipped wrongly. */
  readonly notBeforeSkip?: boolean;
}

/** levenshteinWithin says whether `a` and `b` (compared by code points) are within `d` edits: a bounded DP with length pruning. */
export function levenshteinWithin(a: string, b: string, d: number): boolean {
  if (d < 0) return false;
  const x = Array.from(a);
  const y = Array.from(b);
  if (Math.abs(x.length - y.length) > d) return false;
  let prev = new Array<number>(y.length + 1);
  let cur = new Array<number>(y.length + 1);
  for (let j = 0; j <= y.length; j++) prev[j] = j;
  for (let i = 1; i <= x.length; i++) {
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      const v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > d) return false;
    [prev, cur] = [cur, prev];
  }
  return (prev[y.length] as number) <= d;
}

const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const LOGFMT_PAIR = /(?:^|\s)([^\s="]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))/g;

/** numberOf reads a field value as a number: a finite JSON number, or a decimal number's text. */
function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && NUMBER_TEXT.test(v)) {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** lineFieldNumber is the numeric value of `field` in a line (see the file comment), or undefined. */
export function lineFieldNumber(line: string, field: string): number | undefined {
  const t = line.trimStart();
  if (t.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      v = undefined;
    }
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      return Object.prototype.hasOwnProperty.call(v, field) ? numberOf((v as Record<string, unknown>)[field]) : undefined;
    }
  }
  const re = new RegExp(LOGFMT_PAIR.source, 'g');
  let pairs = 0;
  for (const m of line.matchAll(re)) {
    if (++pairs > S.fieldsPerLineMax) return undefined;
    if (m[1] !== field) continue;
    const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    return numberOf(raw);
  }
  return undefined;
}

/** inRange says whether `n` satisfies `b`. */
export function inRange(n: number, b: RangeBounds): boolean {
  if (b.gt !== undefined && !(n > b.gt)) return false;
  if (b.gte !== undefined && !(n >= b.gte)) return false;
  if (b.lt !== undefined && !(n < b.lt)) return false;
  if (b.lte !== undefined && !(n <= b.lte)) return false;
  return true;
}

/** SearchableLine is one record as a search sees it: its line and structured metadata. */
export interface SearchableLine {
  readonly line: string;
  readonly metadata: readonly LogLabel[];
}

/** matchesSearch says whether a record satisfies `node` (see the file comment). */
export function matchesSearch(node: SearchNode, rec: SearchableLine, plants: SearchPlants = {}): boolean {
  let terms: string[] | null = null;
  const tokens = (): string[] => (terms ??= tokenize(rec.line).terms);
  const fuzzyD = (d: number): number => (plants.fuzzyOffByOne === true ? d - 1 : d);
  const ev = (n: SearchNode): boolean => {
    switch (n.kind) {
      case 'and':
        return n.children.every(ev);
      case 'or':
        return n.children.some(ev);
      case 'not':
        return !ev(n.child);
      case 'term':
        return tokens().includes(n.term);
      case 'phrase': {
        const ts = tokens();
        const k = n.terms.length;
        for (let i = 0; i + k <= ts.length; i++) {
          let j = 0;
          while (j < k && ts[i + j] === n.terms[j]) j++;
          if (j === k) return true;
        }
        return false;
      }
      case 'fuzzy':
        return tokens().some((t) => levenshteinWithin(t, n.term, fuzzyD(n.distance)));
      case 'range': {
        let v: number | undefined;
        if (n.source === 'line') v = lineFieldNumber(rec.line, n.field);
        else {
          const m = rec.metadata.find((l) => l.name === n.field);
          v = m === undefined ? undefined : numberOf(m.value);
        }
        return v !== undefined && inRange(v, n.bounds);
      }
    }
  };
  return ev(node);
}

/** fuzzyExpansion lists the dictionary terms within the node's distance, or null past LogSearchLimits.fuzzyExpansionsMax. */
export function fuzzyExpansion(dictionary: readonly string[], term: string, distance: number): string[] | null {
  const out: string[] = [];
  const len = Array.from(term).length;
  for (const t of dictionary) {
    // Length pruning before the DP: UTF-16 length bounds the code point count from above, and from below by half.
    if (t.length < len - distance || Math.ceil(t.length / 2) > len + distance) continue;
    if (!levenshteinWithin(t, term, distance)) continue;
    out.push(t);
    if (out.length > S.fuzzyExpansionsMax) return null;
  }
  return out;
}

/** searchPrune is the block pruning of a search (see the file comment), for LogScanQuery.search. */
export function searchPrune(node: SearchNode, plants: SearchPlants = {}): BlockSearchPrune {
  const fuzzyD = (d: number): number => (plants.fuzzyOffByOne === true ? d - 1 : d);
  const bloomMay = (n: SearchNode, has: (t: string) => boolean): boolean => {
    switch (n.kind) {
      case 'and':
        return n.children.every((c) => bloomMay(c, has));
      case 'or':
        return n.children.some((c) => bloomMay(c, has));
      case 'not':
        return plants.notBeforeSkip === true ? bloomMay(n.child, has) : true;
      case 'term':
        return has(n.term);
      case 'phrase':
        return n.terms.every(has);
      case 'fuzzy':
      case 'range':
        return true;
    }
  };
  const rowsOf = (n: SearchNode, idx: LogIndexReader, all: Uint32Array): { rows: Uint32Array; exact: boolean } => {
    switch (n.kind) {
      case 'and': {
        let rows = all;
        let exact = true;
        for (const c of n.children) {
          const r = rowsOf(c, idx, all);
          rows = intersect(rows, r.rows);
          exact &&= r.exact;
        }
        return { rows, exact };
      }
      case 'or': {
        let rows: Uint32Array = new Uint32Array(0);
        let exact = true;
        for (const c of n.children) {
          const r = rowsOf(c, idx, all);
          rows = union(rows, r.rows);
          exact &&= r.exact;
        }
        return { rows, exact };
      }
      case 'not': {
        const r = rowsOf(n.child, idx, all);
        return r.exact ? { rows: difference(all, r.rows), exact: true } : { rows: all, exact: false };
      }
      case 'term':
        return { rows: idx.termRows(n.term), exact: true };
      case 'phrase':
        return { rows: idx.phraseRows(n.terms), exact: true };
      case 'fuzzy': {
        const terms = fuzzyExpansion(idx.terms, n.term, fuzzyD(n.distance));
        if (terms === null) return { rows: all, exact: false };
        let rows: Uint32Array = new Uint32Array(0);
        for (const t of terms) rows = union(rows, idx.termRows(t));
        return { rows, exact: true };
      }
      case 'range':
        return { rows: all, exact: false };
    }
  };
  return {
    bloomMay: (has) => bloomMay(node, has),
    candidates: (idx) => rowsOf(node, idx, Uint32Array.from({ length: idx.rows }, (_, i) => i)).rows,
  };
}

/** positiveTerms lists what a search looks for outside any `not` (terms, phrase texts, fuzzy terms), for highlighting. */
export function positiveTerms(node: SearchNode): { terms: string[]; phrases: string[][]; fuzzy: { term: string; distance: number }[] } {
  const out = { terms: [] as string[], phrases: [] as string[][], fuzzy: [] as { term: string; distance: number }[] };
  const walk = (n: SearchNode): void => {
    switch (n.kind) {
      case 'and':
      case 'or':
        n.children.forEach(walk);
        return;
      case 'not':
        return;
      case 'term':
        out.terms.push(n.term);
        return;
      case 'phrase':
        out.phrases.push([...n.terms]);
        return;
      case 'fuzzy':
        out.fuzzy.push({ term: n.term, distance: n.distance });
        return;
      case 'range':
        return;
    }
  };
  walk(node);
  return out;
}
