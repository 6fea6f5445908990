/**
 * term-index-build.ts — building a log block's term index (encodeLogIndex;
 * layout and query semantics in term-index.ts, the bloom in term-bloom.ts).
 * The build tokenizes every line once (tokenizeLineIds: a word seen before
 * costs no string), keeps each token occurrence in two columns (term id;
 * row and position packed in one u32) reused from build to build instead of
 * an object per term and row, groups them by term with one stable counting
 * sort, orders the terms by their ids (TermIds.sortedIds: no string sort,
 * no lookup back), and writes each term's entry from its run, postings
 * and positions straight into the entries' bytes (putPostings), then
 * (version 3) cuts the entries into chunks of whole terms (term-entries.ts)
 * sealed apart from the dictionary. index-build-bytes.test.ts pins the
 * bytes; bench/log-flush.ts measures what this costs a flush and
 * bench/log-index-build.ts counts its instructions. Pure code, no I/O.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogBlockLimits, StorageLimits } from '../../limits.js';
import { BlockKind, sealBlock } from '../block.js';
import { ByteWriter, POSTINGS_FORMAT_VERSION, PostingsContainer, encodePostings, encodeStringColumn } from '../codec/index.js';
import type { LogRow } from '../rows.js';
import type { TokenizeCounts } from '../tokenizer.js';
import { TermIds, tokenizeLineIds } from '../tokenizer.js';
import type { RowLabels, RowLines } from './log-block.js';
import { streamKey } from './log-block.js';
import type { StreamLabel } from './log-line.js';
import { logLine, streamLabels } from './log-line.js';
import { buildTermBloom } from './term-bloom.js';
import type { EncodedLogIndex, LOG_INDEX_VERSION_CHUNKS } from './term-index.js';
import { LOG_INDEX_VERSION, LOG_INDEX_VERSION_WHOLE } from './term-index.js';
import { cutEntryChunks, sealEntryChunk } from './term-entries.js';
import { encodeTermDict } from './term-dict.js';

/** cmp orders strings by UTF-16 code units (the order of the sorted sections). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** OCCURRENCES_PER_ROW_INITIAL sizes the occurrence columns of a build at first (they double when full). */
const OCCURRENCES_PER_ROW_INITIAL = 16;

/**
 * POS_BITS is the bits of a token position in an occurrence's packed
 * (row, position) word: row << POS_BITS | position. Positions are below
 * tokensPerLineMax and rows below rowsPerBlockMax, so the word fits a u32.
 */
const POS_BITS = Math.ceil(Math.log2(StorageLimits.tokensPerLineMax));
const POS_MASK = (1 << POS_BITS) - 1;
assert(StorageLimits.tokensPerLineMax <= 1 << POS_BITS, 'a token position fits POS_BITS');
assert(LogBlockLimits.rowsPerBlockMax * 2 ** POS_BITS <= 2 ** 32, 'a (row, position) word fits a u32');
/** TWO_BYTE_VARINT_MAX is the largest value a 2-byte uvarint holds: every per-row position count and position delta (below tokensPerLineMax). */
const TWO_BYTE_VARINT_MAX = (1 << 14) - 1;
assert(2 * StorageLimits.tokensPerLineMax + 1 <= TWO_BYTE_VARINT_MAX, 'position counts and deltas, and version 4 heads (twice either, plus 1), are at most 2-byte uvarints');
/**
 * SINGLE_POSTING_BYTES_MAX bounds encodePostings' bytes for one row id:
 * version, container, count 1, the id as a uvarint (at most 3 bytes below
 * rowsPerBlockMax). encodePostings picks the delta container for one id
 * (a bitmap of one word costs at least 6 bytes); the write in place equals
 * its bytes (index-build-bytes.test.ts pins them), and the total, below
 * 0x80, is its own 1-byte length.
 */
const SINGLE_POSTING_BYTES_MAX = 6;
assert(LogBlockLimits.rowsPerBlockMax <= 1 << 21, 'a row id is at most a 3-byte uvarint');
/** POSTINGS_LENGTH_VARINT_BYTES_MAX bounds the uvarint of one term's postings length (a u32). */
const POSTINGS_LENGTH_VARINT_BYTES_MAX = 5;

/**
 * Occurrences are one index build's token occurrences as two columns (term
 * id; row and position packed, see POS_BITS), in tokenizing order: rows
 * increasing, positions increasing within a row. Columns instead of an
 * object or array per term and row; and the columns of one module-level
 * instance (SCRATCH) are reused by every build, which is synchronous, so a
 * flush does not allocate and zero them per block.
 */
class Occurrences {
  term: Uint32Array = new Uint32Array(0);
  rowPos: Uint32Array = new Uint32Array(0);
  /** sorted is the counting sort's output column (rowPos grouped by term). */
  sorted: Uint32Array = new Uint32Array(0);
  length = 0;

  /** reset empties the columns, sized for at least `capacity` occurrences. */
  reset(capacity: number): void {
    this.length = 0;
    if (this.term.length < capacity) {
      this.term = new Uint32Array(capacity);
      this.rowPos = new Uint32Array(capacity);
    }
  }

  push(term: number, rowPos: number): void {
    if (this.length === this.term.length) this.#grow();
    const k = this.length++;
    this.term[k] = term;
    this.rowPos[k] = rowPos;
  }

  /** sortedColumn is `sorted` with room for every occurrence pushed. */
  sortedColumn(): Uint32Array {
    if (this.sorted.length < this.length) this.sorted = new Uint32Array(this.term.length);
    return this.sorted;
  }

  #grow(): void {
    const cap = Math.max(1, this.term.length * 2);
    const grown = (a: Uint32Array): Uint32Array => {
      const b = new Uint32Array(cap);
      b.set(a);
      return b;
    };
    this.term = grown(this.term);
    this.rowPos = grown(this.rowPos);
  }
}

/** SCRATCH is the occurrence columns every build reuses (see Occurrences). NB: encodeLogIndex must stay synchronous. */
const SCRATCH = new Occurrences();

/** putVarint14 writes `v` (0..TWO_BYTE_VARINT_MAX) as a uvarint at `p` of `buf` (room checked by the caller); returns the next offset. */
function putVarint14(buf: Uint8Array, p: number, v: number): number {
  if (v < 0x80) {
    buf[p] = v;
    return p + 1;
  }
  buf[p] = (v & 0x7f) | 0x80;
  buf[p + 1] = v >>> 7;
  return p + 2;
}

/** putVarint32 writes a u32 `v` as a uvarint at `p` of `buf` (room checked by the caller); returns the next offset. */
function putVarint32(buf: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p] = v;
  return p + 1;
}

/** uvarintLength is the bytes of a u32 `v` as a uvarint. */
function uvarintLength(v: number): number {
  let k = 1;
  while (v >= 0x80) {
    v >>>= 7;
    k++;
  }
  return k;
}

/**
 * putPostings writes encodePostings' bytes for the `count` (>= 2) strictly
 * increasing row ids `ids[0 .. count)`, preceded by their length as a uvarint,
 * at `p` of `buf`, which has room for POSTINGS_LENGTH_VARINT_BYTES_MAX +
 * postingsBytes(...) bytes; returns the next offset. It is encodePostings'
 * 'auto' container choice and layout written in place (the bitmap's u32
 * words little-endian, so bit `rel` is bit rel & 7 of byte rel >>> 3), without
 * a writer, a copy or a subarray per term; index-build-bytes.test.ts pins the
 * bytes and term-index-build.test.ts compares them with encodePostings'.
 */
export function putPostings(buf: Uint8Array, p: number, ids: Uint32Array, count: number): number {
  assert(count >= 2, 'a single row is written apart');
  let deltaBytes = 0;
  let prev = 0;
  for (let i = 0; i < count; i++) {
    const id = ids[i] as number;
    deltaBytes += uvarintLength(id - prev);
    prev = id;
  }
  const baseWord = (ids[0] as number) >>> 5;
  const words = (prev >>> 5) - baseWord + 1;
  const bitmapBytes = uvarintLength(baseWord) + uvarintLength(words) + 4 * words;
  const bitmap = bitmapBytes < deltaBytes;
  p = putVarint32(buf, p, 2 + uvarintLength(count) + (bitmap ? bitmapBytes : deltaBytes));
  buf[p++] = POSTINGS_FORMAT_VERSION;
  buf[p++] = bitmap ? PostingsContainer.Bitmap : PostingsContainer.DeltaVarint;
  p = putVarint32(buf, p, count);
  if (!bitmap) {
    prev = 0;
    for (let i = 0; i < count; i++) {
      const id = ids[i] as number;
      p = putVarint32(buf, p, id - prev);
      prev = id;
    }
    return p;
  }
  p = putVarint32(buf, p, baseWord);
  p = putVarint32(buf, p, words);
  buf.fill(0, p, p + 4 * words);
  const base = baseWord * 32;
  for (let i = 0; i < count; i++) {
    const rel = (ids[i] as number) - base;
    const at = p + (rel >>> 3);
    buf[at] = (buf[at] as number) | (1 << (rel & 7));
  }
  return p + 4 * words;
}

/** postingsBytesMax bounds putPostings' bytes after the length for `count` row ids below `rowsMax`: the delta container's, which it writes only when no longer than the bitmap's. */
export function postingsBytesMax(count: number, rowsMax: number): number {
  return 2 + uvarintLength(count) + count * uvarintLength(rowsMax);
}

/** StreamPair is one distinct stream label (name, value) of a block and the rows that carry it. */
interface StreamPair {
  readonly name: string;
  readonly value: string;
  /** rows is filled once the scan has counted them (encodeLogIndex). */
  rows: Uint32Array;
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
 * order), and writes each term's entry from its run. `labelsOf`, when
 * given, is streamLabels of each row (as encodeLogBlock's `labels`);
 * `lines`, when given, is logLine of each row (as encodeLogBlock's `lines`).
 * `version` is LOG_INDEX_VERSION (entries in chunks of their own, a row's
 * positions coded short), LOG_INDEX_VERSION_CHUNKS (the same with count and
 * deltas, as blocks written in s17-s18) or LOG_INDEX_VERSION_WHOLE (one
 * value, as blocks written until s17): the older two for tests of old
 * blocks and benches.
 */
export function encodeLogIndex(
  rows: readonly LogRow[],
  labelsOf?: RowLabels,
  version: typeof LOG_INDEX_VERSION | typeof LOG_INDEX_VERSION_CHUNKS | typeof LOG_INDEX_VERSION_WHOLE = LOG_INDEX_VERSION,
  lines?: RowLines,
): EncodedLogIndex {
  const n = rows.length;
  if (n === 0 || n > LogBlockLimits.rowsPerBlockMax) {
    throw new OtlpdbError(n === 0 ? 'ERR_INVALID_ARGUMENT' : 'ERR_LIMIT_EXCEEDED', `a log index of ${n} rows`);
  }
  assert(lines === undefined || lines.length === n, 'a line per row');
  const ids = new TermIds(LogBlockLimits.termsPerBlockMax, 'a log block');
  const occ = SCRATCH;
  occ.reset(n * OCCURRENCES_PER_ROW_INITIAL);
  let rowBase = 0;
  const sink = (id: number, position: number): void => occ.push(id, rowBase | position);
  // Stream pairs: each distinct stream's pair ids are found once, and each row's stream noted (a run of rows with one label list looks it up once); the pairs' rows are filled after the scan.
  const streamIdOf = new Map<string, number>();
  const streamIdOfList = new Map<readonly StreamLabel[], number>();
  const streamPairs: number[][] = [];
  const streamRows: number[] = [];
  const rowStream = new Uint32Array(n);
  const pairIdOf = new Map<string, number>();
  const pairs: StreamPair[] = [];
  let lastLabels: readonly StreamLabel[] | null = null;
  let lastSid = -1;
  let truncatedRows = 0;
  const counts: TokenizeCounts = { tokens: 0, truncatedTokens: 0, lineTruncated: false };
  for (let row = 0; row < n; row++) {
    rowBase = row << POS_BITS;
    const line = lines === undefined ? logLine(rows[row] as LogRow) : (lines[row] as string);
    if (tokenizeLineIds(line, ids, sink, counts).lineTruncated) truncatedRows++;
    const labels = labelsOf === undefined ? streamLabels(rows[row] as LogRow) : (labelsOf[row] as readonly StreamLabel[]);
    let sid = labels === lastLabels ? lastSid : undefined;
    // By identity first: rows of one resource share one frozen label list (streamLabels' memo); by value otherwise.
    if (sid === undefined) sid = streamIdOfList.get(labels);
    if (sid === undefined) {
      const key = streamKey(labels);
      sid = streamIdOf.get(key);
      if (sid !== undefined) streamIdOfList.set(labels, sid);
    }
    if (sid === undefined) {
      sid = streamPairs.length;
      streamIdOf.set(streamKey(labels), sid);
      streamIdOfList.set(labels, sid);
      streamRows.push(0);
      streamPairs.push(
        labels.map((l) => {
          const pk = JSON.stringify([l.name, l.value]);
          let pid = pairIdOf.get(pk);
          if (pid === undefined) {
            pid = pairs.length;
            pairIdOf.set(pk, pid);
            pairs.push({ name: l.name, value: l.value, rows: new Uint32Array(0) });
          }
          return pid;
        }),
      );
    }
    lastLabels = labels;
    lastSid = sid;
    rowStream[row] = sid;
    streamRows[sid] = (streamRows[sid] as number) + 1;
  }
  // Each pair's rows: sized from its streams' row counts, filled in row order.
  const pairRowCount = new Uint32Array(pairs.length);
  for (let s = 0; s < streamPairs.length; s++) for (const pid of streamPairs[s] as number[]) pairRowCount[pid] = (pairRowCount[pid] as number) + (streamRows[s] as number);
  for (let pid = 0; pid < pairs.length; pid++) (pairs[pid] as StreamPair).rows = new Uint32Array(pairRowCount[pid] as number);
  pairRowCount.fill(0);
  for (let row = 0; row < n; row++) {
    for (const pid of streamPairs[rowStream[row] as number] as number[]) {
      const at = pairRowCount[pid] as number;
      ((pairs[pid] as StreamPair).rows as Uint32Array)[at] = row;
      pairRowCount[pid] = at + 1;
    }
  }

  // Group the occurrences by term: a counting sort by term id, stable.
  const termStrs = ids.terms;
  const termCount = termStrs.length;
  const m = occ.length;
  const occTerm = occ.term;
  const occRowPos = occ.rowPos;
  const start = new Uint32Array(termCount + 1);
  for (let k = 0; k < m; k++) {
    const t = (occTerm[k] as number) + 1;
    start[t] = (start[t] as number) + 1;
  }
  for (let t = 0; t < termCount; t++) start[t + 1] = (start[t + 1] as number) + (start[t] as number);
  const cursor = start.slice(0, termCount);
  const rowPos = occ.sortedColumn();
  for (let k = 0; k < m; k++) {
    const t = occTerm[k] as number;
    const at = cursor[t] as number;
    cursor[t] = at + 1;
    rowPos[at] = occRowPos[k] as number;
  }

  // The ids in their terms' code-unit order (the default sort's order, as cmp's: terms are distinct), sorted from TermIds' pool.
  const order = ids.sortedIds();
  const sortedTerms: string[] = [];
  for (let rank = 0; rank < termCount; rank++) sortedTerms.push(termStrs[order[rank] as number] as string);
  const w = new ByteWriter();
  const entries = new ByteWriter();
  const sizes = new ByteWriter();
  const pw = new ByteWriter();
  const termRows = new Uint32Array(n);
  const termSizes = new Uint32Array(termCount);
  const headed = version === LOG_INDEX_VERSION;
  for (let rank = 0; rank < termCount; rank++) {
    const id = order[rank] as number;
    const from = start[id] as number;
    const to = start[id + 1] as number;
    assert(to > from, 'a term occurs');
    let count = 0;
    for (let k = from; k < to; k++) {
      const r = (rowPos[k] as number) >>> POS_BITS;
      if (count === 0 || termRows[count - 1] !== r) termRows[count++] = r;
    }
    const entryStart = entries.length;
    let p: number;
    let buf: Uint8Array;
    if (count === 1) {
      // Most terms are in one row: encodePostings' bytes for one id, written in place (see SINGLE_POSTING_BYTES_MAX).
      entries.ensure(1 + SINGLE_POSTING_BYTES_MAX + 2 * (1 + (to - from)));
      buf = entries.bytes;
      const at = entryStart + 1;
      buf[at] = POSTINGS_FORMAT_VERSION;
      buf[at + 1] = PostingsContainer.DeltaVarint;
      buf[at + 2] = 1;
      p = putVarint32(buf, at + 3, termRows[0] as number);
      buf[entryStart] = p - at;
    } else {
      // Room for the postings and their length, then per posted row a count and per occurrence a delta, each at most 2 bytes.
      entries.ensure(POSTINGS_LENGTH_VARINT_BYTES_MAX + postingsBytesMax(count, n) + 2 * (count + (to - from)));
      buf = entries.bytes;
      p = putPostings(buf, entryStart, termRows, count);
    }
    // Per posted row: its positions' count, then their deltas (the first from 0); version 4 codes one position as position << 1, more as count << 1 | 1.
    for (let k = from; k < to; ) {
      const r = (rowPos[k] as number) >>> POS_BITS;
      let end = k + 1;
      while (end < to && (rowPos[end] as number) >>> POS_BITS === r) end++;
      if (!headed) {
        p = putVarint14(buf, p, end - k);
      } else if (end - k === 1) {
        p = putVarint14(buf, p, ((rowPos[k] as number) & POS_MASK) << 1);
        k = end;
        continue;
      } else {
        p = putVarint14(buf, p, ((end - k) << 1) | 1);
      }
      let prev = 0;
      for (let j = k; j < end; j++) {
        const pos = (rowPos[j] as number) & POS_MASK;
        p = putVarint14(buf, p, pos - prev);
        prev = pos;
      }
      k = end;
    }
    entries.length = p;
    sizes.uvarint(p - entryStart);
    termSizes[rank] = p - entryStart;
  }
  const sortedPairs = pairs.slice().sort((a, b) => cmp(a.name, b.name) || cmp(a.value, b.value));
  const pairPostings = new ByteWriter();
  for (const p of sortedPairs) {
    const postings = encodePostings(p.rows, pw);
    pairPostings.uvarint(postings.length);
    pairPostings.raw(postings);
  }
  const out = new ByteWriter();
  out.u8(version);
  out.uvarint(n);
  const dict = encodeTermDict(sortedTerms);
  section(out, dict.lengths);
  section(out, dict.bytes);
  section(out, sizes.finish());
  const sealedEntries: Uint8Array[] = [];
  if (version !== LOG_INDEX_VERSION_WHOLE) {
    // The chunk table, and each chunk's entries sealed apart (term-entries.ts).
    const cut = cutEntryChunks(termSizes);
    const table = new ByteWriter();
    table.uvarint(cut.length);
    const all = entries.bytes;
    let firstTerm = 0;
    let at = 0;
    for (let c = 0; c < cut.length; c++) {
      const terms = cut[c] as number;
      table.uvarint(terms);
      let bytes = 0;
      for (let t = firstTerm; t < firstTerm + terms; t++) bytes += termSizes[t] as number;
      sealedEntries.push(sealEntryChunk({ rows: n, chunk: c, firstTerm, terms, bytes }, all.subarray(at, at + bytes)));
      firstTerm += terms;
      at += bytes;
    }
    assert(firstTerm === termCount && at === entries.length, 'the chunks hold every entry');
    section(out, table.finish());
  } else {
    section(out, entries.finish());
  }
  section(out, encodeStringColumn(sortedPairs.map((p) => p.name), w));
  section(out, encodeStringColumn(sortedPairs.map((p) => p.value), w));
  section(out, pairPostings.finish());
  const bloom = buildTermBloom(termStrs, StorageLimits.bloomFalsePositiveTarget);
  return { postings: sealBlock(BlockKind.postings, out.finish()), entries: sealedEntries, bloom: sealBlock(BlockKind.bloom, bloom), truncatedRows };
}

