/**
 * term-index-build.ts — building a log block's term index (encodeLogIndex;
 * layout and query semantics in term-index.ts, the bloom in term-bloom.ts).
 * The build tokenizes every line once (tokenizeLineIds: a word seen before
 * costs no string), keeps each token occurrence in three columns instead of
 * an object per term and row, groups them by term with one stable counting
 * sort, and writes each term's entry from its run. bench/log-flush.ts
 * measures what this costs a flush. Pure code, no I/O.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogBlockLimits, StorageLimits } from '../../limits.js';
import { BlockKind, sealBlock } from '../block.js';
import { ByteWriter, encodePostings, encodeStringColumn } from '../codec/index.js';
import type { LogRow } from '../rows.js';
import { TermIds, tokenizeLineIds } from '../tokenizer.js';
import { streamKey } from './log-block.js';
import type { StreamLabel } from './log-line.js';
import { logLine, streamLabels } from './log-line.js';
import { buildTermBloom } from './term-bloom.js';
import type { EncodedLogIndex } from './term-index.js';
import { LOG_INDEX_VERSION } from './term-index.js';
import { encodeTermDict } from './term-dict.js';

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** OCCURRENCES_PER_ROW_INITIAL sizes the occurrence columns of a build at first (they double when full). */
const OCCURRENCES_PER_ROW_INITIAL = 16;

/**
 * Occurrences are one index build's token occurrences as three columns
 * (term id, row, position), in tokenizing order: rows increasing, positions
 * increasing within a row. Columns instead of an object or array per term
 * and row: a block's build allocates a handful of typed arrays, not one
 * array per (term, row).
 */
class Occurrences {
  term: Uint32Array;
  row: Uint32Array;
  pos: Uint32Array;
  length = 0;

  constructor(capacity: number) {
    this.term = new Uint32Array(capacity);
    this.row = new Uint32Array(capacity);
    this.pos = new Uint32Array(capacity);
  }

  push(term: number, row: number, pos: number): void {
    if (this.length === this.term.length) this.#grow();
    const k = this.length++;
    this.term[k] = term;
    this.row[k] = row;
    this.pos[k] = pos;
  }

  #grow(): void {
    const cap = this.term.length * 2;
    const grown = (a: Uint32Array): Uint32Array => {
      const b = new Uint32Array(cap);
      b.set(a);
      return b;
    };
    this.term = grown(this.term);
    this.row = grown(this.row);
    this.pos = grown(this.pos);
  }
}

/** StreamPair is one distinct stream label (name, value) of a block and the rows that carry it. */
interface StreamPair {
  readonly name: string;
  readonly value: string;
  readonly rows: number[];
}

function section(out: ByteWriter, body: Uint8Array): void {
  out.uvarint(body.length);
  out.raw(body);
}

/**
 * encodeLogIndex builds the index of a block of `rows` (the rows given to
 * encodeLogBlock, in the same order). The layout is the file comment's;
 * the build tokenizes every line once into Occurrences, groups them by term
 * with one counting sort (stable, so each term's rows and positions stay in
 * order), and writes each term's entry from its run.
 */
export function encodeLogIndex(rows: readonly LogRow[]): EncodedLogIndex {
  const n = rows.length;
  if (n === 0 || n > LogBlockLimits.rowsPerBlockMax) {
    throw new OtlpdbError(n === 0 ? 'ERR_INVALID_ARGUMENT' : 'ERR_LIMIT_EXCEEDED', `a log index of ${n} rows`);
  }
  const ids = new TermIds(LogBlockLimits.termsPerBlockMax, 'a log block');
  const occ = new Occurrences(n * OCCURRENCES_PER_ROW_INITIAL);
  let row = 0;
  const sink = (id: number, position: number): void => occ.push(id, row, position);
  // Stream pairs: each distinct stream's pair ids are found once; a row then appends itself to its stream's pairs.
  const streamIdOf = new Map<string, number>();
  const streamIdOfList = new Map<readonly StreamLabel[], number>();
  const streamPairs: number[][] = [];
  const pairIdOf = new Map<string, number>();
  const pairs: StreamPair[] = [];
  let truncatedRows = 0;
  for (row = 0; row < n; row++) {
    const r = rows[row] as LogRow;
    if (tokenizeLineIds(logLine(r), ids, sink).lineTruncated) truncatedRows++;
    const labels = streamLabels(r);
    // By identity first: rows of one resource share one frozen label list (streamLabels' memo); by value otherwise.
    let sid = streamIdOfList.get(labels);
    if (sid === undefined) {
      const key = streamKey(labels);
      sid = streamIdOf.get(key);
      if (sid !== undefined) streamIdOfList.set(labels, sid);
    }
    if (sid === undefined) {
      sid = streamPairs.length;
      streamIdOf.set(streamKey(labels), sid);
      streamIdOfList.set(labels, sid);
      streamPairs.push(
        labels.map((l) => {
          const pk = JSON.stringify([l.name, l.value]);
          let pid = pairIdOf.get(pk);
          if (pid === undefined) {
            pid = pairs.length;
            pairIdOf.set(pk, pid);
            pairs.push({ name: l.name, value: l.value, rows: [] });
          }
          return pid;
        }),
      );
    }
    for (const pid of streamPairs[sid] as number[]) (pairs[pid] as StreamPair).rows.push(row);
  }

  // Group the occurrences by term: a counting sort by term id, stable.
  const termStrs = ids.terms;
  const termCount = termStrs.length;
  const m = occ.length;
  const start = new Uint32Array(termCount + 1);
  for (let k = 0; k < m; k++) {
    const t = (occ.term[k] as number) + 1;
    start[t] = (start[t] as number) + 1;
  }
  for (let t = 0; t < termCount; t++) start[t + 1] = (start[t + 1] as number) + (start[t] as number);
  const cursor = start.slice(0, termCount);
  const rowOf = new Uint32Array(m);
  const posOf = new Uint32Array(m);
  for (let k = 0; k < m; k++) {
    const t = occ.term[k] as number;
    const at = cursor[t] as number;
    cursor[t] = at + 1;
    rowOf[at] = occ.row[k] as number;
    posOf[at] = occ.pos[k] as number;
  }

  const order = Array.from({ length: termCount }, (_, i) => i).sort((a, b) => cmp(termStrs[a] as string, termStrs[b] as string));
  const sortedTerms = order.map((id) => termStrs[id] as string);
  const w = new ByteWriter();
  const entries = new ByteWriter();
  const sizes = new ByteWriter();
  const pw = new ByteWriter();
  const termRows = new Uint32Array(n);
  for (const id of order) {
    const from = start[id] as number;
    const to = start[id + 1] as number;
    assert(to > from, 'a term occurs');
    let count = 0;
    for (let k = from; k < to; k++) {
      const r = rowOf[k] as number;
      if (count === 0 || termRows[count - 1] !== r) termRows[count++] = r;
    }
    const entryStart = entries.length;
    const postings = encodePostings(termRows.subarray(0, count), pw);
    entries.uvarint(postings.length);
    entries.raw(postings);
    // Per posted row: its positions' count, then their deltas (the first from 0).
    for (let k = from; k < to; ) {
      const r = rowOf[k] as number;
      let end = k + 1;
      while (end < to && rowOf[end] === r) end++;
      entries.uvarint(end - k);
      let prev = 0;
      for (let j = k; j < end; j++) {
        const p = posOf[j] as number;
        entries.uvarint(p - prev);
        prev = p;
      }
      k = end;
    }
    sizes.uvarint(entries.length - entryStart);
  }
  const sortedPairs = pairs.slice().sort((a, b) => cmp(a.name, b.name) || cmp(a.value, b.value));
  const pairPostings = new ByteWriter();
  for (const p of sortedPairs) {
    const postings = encodePostings(p.rows, pw);
    pairPostings.uvarint(postings.length);
    pairPostings.raw(postings);
  }
  const out = new ByteWriter();
  out.u8(LOG_INDEX_VERSION);
  out.uvarint(n);
  const dict = encodeTermDict(sortedTerms);
  section(out, dict.lengths);
  section(out, dict.bytes);
  section(out, sizes.finish());
  section(out, entries.finish());
  section(out, encodeStringColumn(sortedPairs.map((p) => p.name), w));
  section(out, encodeStringColumn(sortedPairs.map((p) => p.value), w));
  section(out, pairPostings.finish());
  const bloom = buildTermBloom(termStrs, StorageLimits.bloomFalsePositiveTarget);
  return { postings: sealBlock(BlockKind.postings, out.finish()), bloom: sealBlock(BlockKind.bloom, bloom), truncatedRows };
}

