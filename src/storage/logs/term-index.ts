/**
 * term-index.ts — the search index of one log block (DESIGN.md §6): term
 * postings with token positions (so phrases can be checked without reading
 * lines), stream-label postings, and a bloom filter of the block's terms so a
 * query skips a block that lacks a term without opening anything else. Row
 * ids are the block's row ordinals (log-block.ts). This file queries an
 * index; term-postings.ts opens one for reading (OpenedIndex), and
 * term-index-build.ts builds one. Pure code, no I/O.
 *
 * encodeLogIndex (term-index-build.ts) returns sealed values stored under
 * separate keys (log-store-format.ts: 0x31 postings, 0x32 bloom, 0x36 entry
 * chunks) so the bloom is read alone and a lookup reads the dictionary and
 * only the entry chunks of the terms it names:
 *
 *   bloom     BlockKind.bloom: term-bloom.ts's filter of every distinct term
 *             (version 2; version 1 blooms of older blocks still read),
 *             sized for StorageLimits.bloomFalsePositiveTarget (1%)
 *   postings  BlockKind.postings, payload version 4 (LOG_INDEX_VERSION), 3 or 2:
 *     u8       version
 *     uvarint  rows (as in the block; a query checks they agree)
 *     then seven sections, each [uvarint byteLength][bytes]:
 *     0 term lengths and
 *     1 term bytes   the distinct terms, sorted by UTF-16 code units, as
 *                    term-dict.ts lays them out: read by term, no string
 *                    decoded at open
 *     2 term sizes   terms × uvarint byteLength of the term's entry in section 3
 *     3 term entries per term: [uvarint postingsBytes][postings (codec/postings.ts)]
 *                    then per posted row, in row order: [uvarint count >= 1]
 *                    [count × uvarint position delta] (first delta from 0; the
 *                    positions of the term in that row's line, strictly increasing)
 *                    Version 4 codes a posted row's count and positions shorter:
 *                    [uvarint head]; an even head is one position, head >> 1
 *                    (1 byte below 64, the common case); an odd head is
 *                    count << 1 | 1 (count >= 2), then [count × uvarint
 *                    position delta] as above. Both bounded by tokensPerLineMax.
 *                    Versions 3 and 4: the chunk table instead, [uvarint chunks]
 *                    [chunks × uvarint terms >= 1]: the entries, in term order,
 *                    are cut into chunks of whole terms (term-entries.ts, about
 *                    LogBlockLimits.termEntriesChunkBytesTarget bytes each), chunk
 *                    c sealed under its own key (entries, below)
 *     4 pair names   string column of the stream label names of each distinct
 *                    (name, value) pair, pairs sorted by name then value
 *     5 pair values  string column of their values
 *     6 pair postings pairs × [uvarint postingsBytes][postings]
 *   entries   versions 3 and 4 only: the chunks, each BlockKind.postings with a
 *             header naming its block's rows, its number and its terms
 *             (term-entries.ts), so a chunk out of place is ERR_CORRUPTION
 *   Version 2 (blocks written until s17, still read): section 3 holds the
 *   entries, one value. Version 1 (older blocks, still read): six sections, the terms as one
 *   string column (codec/strings.ts) in place of sections 0 and 1, decoded
 *   whole at open.
 *
 * Opening an index decodes the term lengths and entry sizes (numbers; prefix
 * sums give each term's bytes and entry), a lookup decodes the terms of its
 * binary search and the entries the query names, and a hint piece is found
 * by a byte search over the term bytes (term-dict.ts). The whole dictionary
 * is decoded only for a query that walks it (fuzzy search, a case-insensitive
 * piece), then kept with the opened index. Measured in term-index.test.ts.
 * A version 3 lookup names the chunks of its terms (EntryChunks): the store
 * fetches the missing ones and runs the lookup again (log-block-read.ts
 * withEntries). A query opens
 * (and checksums) the index and the block each time, about 1.4 + 2.2 ms of
 * a ~6 ms query over 10,000 rows; a block cache would keep them open.
 * NB: the index records the block's row count only; an index of another
 * block with the same count would answer with that block's rows.
 *
 * Query semantics (queryLogBlock): a row matches when every stream matcher
 * holds (Prometheus semantics: a missing label equals ""), every term is
 * among its line's terms, every phrase's terms occur at consecutive token
 * positions, and minTimeNs <= time <= maxTimeNs (each bound optional). Terms
 * are normalized by the tokenizer (each must be exactly one token), so "GET"
 * finds "get".
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogBlockLimits } from '../../limits.js';
import { BlockKind, openBlock } from '../block.js';
import { difference, intersect, union } from '../codec/index.js';
import { tokenize } from '../tokenizer.js';
import { openLogBlock, readTimes } from './log-block-decode.js';
import { decodeTermBloom } from './term-bloom.js';
import type { EntryChunks } from './term-entries.js';
import { entryChunksOf } from './term-entries.js';
import { OpenedIndex } from './term-postings.js';

export { LOG_INDEX_VERSION, LOG_INDEX_VERSION_CHUNKS, LOG_INDEX_VERSION_STRINGS, LOG_INDEX_VERSION_WHOLE } from './term-postings.js';

/** EncodedLogIndex is a block's index as stored: sealed values. */
export interface EncodedLogIndex {
  /** postings is sealed as BlockKind.postings (dictionary, chunk table, stream postings; version 2: with the entries). */
  readonly postings: Uint8Array;
  /** entries are the sealed entry chunks of a version 3 index, in chunk order (empty for version 2). */
  readonly entries: readonly Uint8Array[];
  /** bloom is sealed as BlockKind.bloom (the block's terms). */
  readonly bloom: Uint8Array;
  /** truncatedRows counts the rows whose line the tokenizer stopped short of (tokensPerLineMax): their later terms are not indexed. */
  readonly truncatedRows: number;
}

/** StreamMatcher is one stream selector condition (LogQL `{name="value"}` / `{name!="value"}`). */
export interface StreamMatcher {
  readonly name: string;
  readonly op: '=' | '!=';
  readonly value: string;
}

/** LogQuery is what one block query asks (see the file comment for semantics). */
export interface LogQuery {
  readonly streamMatchers?: readonly StreamMatcher[];
  readonly terms?: readonly string[];
  readonly phrases?: readonly (readonly string[])[];
  readonly minTimeNs?: bigint;
  readonly maxTimeNs?: bigint;
}

/** LogQueryStats says how much of a block a query touched. */
export interface LogQueryStats {
  /** prunedByBloom is true when the bloom ruled out a term and nothing else was opened. */
  prunedByBloom: boolean;
  /** prunedByTime is true when the block's time range missed the query's and no index was read. */
  prunedByTime: boolean;
  /** prunedByPostings counts the block's rows the postings (terms, phrases, streams) excluded. */
  prunedByPostings: number;
  /** rowsScanned counts the rows whose time was read from the block to check the query's time range. */
  rowsScanned: number;
}

/** LogQueryResult is the matching row ordinals (increasing) and the stats. */
export interface LogQueryResult {
  readonly rows: Uint32Array;
  readonly stats: LogQueryStats;
}

/**
 * PhraseCheck says whether one row's positions hold a phrase: lists[k] are
 * the sorted positions of the phrase's k-th term in the row's line. It is a
 * parameter of queryLogBlockWith so a test can plant a broken one.
 */
export type PhraseCheck = (lists: readonly Uint32Array[]) => boolean;

/** consecutivePositions is the phrase check: some p in lists[0] with p + k in lists[k] for every k. */
export const consecutivePositions: PhraseCheck = (lists) => {
  const first = lists[0];
  assert(first !== undefined, 'a phrase has a term');
  for (const p of first) {
    let k = 1;
    while (k < lists.length && has(lists[k] as Uint32Array, p + k)) k++;
    if (k === lists.length) return true;
  }
  return false;
};

function has(sorted: Uint32Array, x: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] === x;
}

function corrupt(message: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `log index: ${message}`);
}


/** normalizeTerm turns a query term into the one term the tokenizer makes of it (ERR_INVALID_ARGUMENT otherwise). */
function normalizeTerm(s: string): string {
  const t = tokenize(s);
  if (t.terms.length !== 1) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `query term ${JSON.stringify(s)} is ${t.terms.length} tokens, not one`);
  return t.terms[0] as string;
}

/** NormalizedLogQuery is a LogQuery checked against the limits, its terms and phrases normalized by the tokenizer. */
export interface NormalizedLogQuery {
  readonly terms: string[];
  readonly phrases: string[][];
  readonly matchers: readonly StreamMatcher[];
}

/**
 * normalizeLogQuery checks `q` and normalizes its terms exactly as
 * queryLogBlock does, so a filter over rows that are not in a block yet (the
 * logs store's head) answers with the same semantics. Throws
 * ERR_INVALID_ARGUMENT, ERR_LIMIT_EXCEEDED.
 */
export function normalizeLogQuery(q: LogQuery): NormalizedLogQuery {
  const tooMany = (what: string, n: number, max: number): void => {
    if (n > max) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a log query of ${n} ${what}, more than ${max}`);
  };
  const terms = (q.terms ?? []).map(normalizeTerm);
  tooMany('terms', terms.length, LogBlockLimits.queryTermsMax);
  const phrases = (q.phrases ?? []).map((p) => p.map(normalizeTerm));
  tooMany('phrases', phrases.length, LogBlockLimits.queryPhrasesMax);
  for (const p of phrases) {
    if (p.length === 0) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'an empty phrase');
    tooMany('phrase terms', p.length, LogBlockLimits.phraseTermsMax);
  }
  const matchers = q.streamMatchers ?? [];
  tooMany('stream matchers', matchers.length, LogBlockLimits.streamMatchersMax);
  for (const m of matchers) {
    if (m.op !== '=' && m.op !== '!=') throw new OtlpdbError('ERR_INVALID_ARGUMENT', `stream matcher op ${String(m.op)}`);
    if (m.name === '') throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'a stream matcher with an empty name');
  }
  if (q.minTimeNs !== undefined && q.maxTimeNs !== undefined && q.minTimeNs > q.maxTimeNs) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'minTimeNs > maxTimeNs');
  }
  return { terms, phrases, matchers };
}

/** StoredLogIndex is an index's postings value, with its entry chunks (version 3), or alone (version 2, or a caller that reads no entry). */
export type StoredLogIndex = Uint8Array | Pick<EncodedLogIndex, 'postings' | 'entries'>;

/** openStored opens a stored index and its chunks (null: none given). */
function openStored(index: StoredLogIndex): { idx: OpenedIndex; chunks: EntryChunks | null } {
  const postings = index instanceof Uint8Array ? index : index.postings;
  const idx = new OpenedIndex(postings);
  const chunks = index instanceof Uint8Array ? null : entryChunksOf(index.entries, (c, sealed) => idx.openChunk(c, sealed));
  return { idx, chunks };
}

/** readIndexTerms is a block index's term dictionary, sorted (the line-hint pruning scans it; log-hints.ts). Throws ERR_CORRUPTION. */
export function readIndexTerms(postings: Uint8Array): readonly string[] {
  return new OpenedIndex(postings).terms;
}

/** queryLogBlock answers `q` over one block and its index (see the file comment). Throws ERR_CORRUPTION, ERR_INVALID_ARGUMENT, ERR_LIMIT_EXCEEDED. */
export function queryLogBlock(block: Uint8Array, index: EncodedLogIndex, q: LogQuery): LogQueryResult {
  return queryLogBlockWith(block, index, q, consecutivePositions);
}

/** queryLogBlockWith is queryLogBlock with the phrase check given (tests plant broken ones). */
export function queryLogBlockWith(block: Uint8Array, index: EncodedLogIndex, q: LogQuery, phraseCheck: PhraseCheck): LogQueryResult {
  const nq = normalizeLogQuery(q);
  const stats: LogQueryStats = { prunedByBloom: false, prunedByTime: false, prunedByPostings: 0, rowsScanned: 0 };
  const none = new Uint32Array(0);

  // 1. The bloom alone: an absent term rules the block out.
  if (!bloomAdmits(index.bloom, nq)) {
    stats.prunedByBloom = true;
    return { rows: none, stats };
  }

  // 2. The block's time range.
  const header = openLogBlock(block);
  const lo = q.minTimeNs ?? 0n;
  const hi = q.maxTimeNs ?? (1n << 64n) - 1n;
  if (header.maxTimeNs < lo || header.minTimeNs > hi) {
    stats.prunedByTime = true;
    return { rows: none, stats };
  }

  // 3. Postings: terms, phrases (with positions), streams.
  let cand = postingsCandidates(index, header.rows, nq, phraseCheck);
  stats.prunedByPostings = header.rows - cand.length;

  // 4. Time, row by row, unless the block lies inside the query's range.
  if (cand.length > 0 && (header.minTimeNs < lo || header.maxTimeNs > hi)) {
    const times = readTimes(header);
    stats.rowsScanned = cand.length;
    cand = cand.filter((row) => {
      const t = times[row] as bigint;
      return t >= lo && t <= hi;
    });
  }
  assert(cand.length <= header.rows, 'no more matches than rows');
  return { rows: cand, stats };
}

/** bloomAdmits says whether a block's sealed bloom may hold every term of the query's terms and phrases (true when it names none). */
export function bloomAdmits(sealedBloom: Uint8Array, nq: NormalizedLogQuery): boolean {
  const wanted = [...nq.terms, ...nq.phrases.flat()];
  if (wanted.length === 0) return true;
  const bloom = decodeTermBloom(openBlock(sealedBloom, BlockKind.bloom));
  return wanted.every((t) => bloom.has(t));
}

/**
 * queryLogIndex is step 3 of queryLogBlock alone: the rows of a block of
 * `blockRows` rows that the postings admit (terms, stream matchers,
 * phrases), ignoring time, without reading the block. A caller that knows
 * the block's row count and time range from elsewhere (the logs store's
 * block meta) reads the block only when this is not empty. Throws
 * ERR_CORRUPTION, ERR_INVALID_ARGUMENT, ERR_LIMIT_EXCEEDED.
 */
export function queryLogIndex(index: StoredLogIndex, blockRows: number, q: LogQuery): Uint32Array {
  return postingsCandidates(index, blockRows, normalizeLogQuery(q), consecutivePositions);
}

/**
 * LogIndexReader is one block index opened for a boolean search
 * (query/log-search-*.ts): its sorted term dictionary, and the rows of a
 * term or of a phrase (consecutive positions), all without reading the
 * block. Row sets are increasing row ordinals.
 */
export interface LogIndexReader {
  /** rows is the block's row count. */
  readonly rows: number;
  /** terms is the block's distinct terms, sorted by UTF-16 code units. */
  readonly terms: readonly string[];
  /** termRows is the rows whose line holds `term` (a normalized term), empty when the block lacks it. */
  termRows(term: string): Uint32Array;
  /** phraseRows is the rows whose line holds `phrase`'s normalized terms at consecutive positions. */
  phraseRows(phrase: readonly string[]): Uint32Array;
  /** termIdsHolding is TermDict.idsHolding: the ids (ranks in `terms`) of the terms that may hold a hint piece, or null past `max`. */
  termIdsHolding(piece: string, foldLongS: boolean, max: number): number[] | null;
  /** termRowsById is the rows of the term of rank `id`. */
  termRowsById(id: number): Uint32Array;
  /** termIdsStarting is TermDict.idsStarting: the ids of the terms that may start with `prefix`, or null past `max`. */
  termIdsStarting(prefix: string, max: number): number[] | null;
  /** termPositionsById is the rows of the term of rank `id` and, per row, its token positions (increasing). */
  termPositionsById(id: number): { readonly rows: Uint32Array; readonly positions: readonly Uint32Array[] };
  /** prefetch says the lookup will read the entries of `terms` (normalized) and of the terms of ranks `ids`: a version 3 index fetches their chunks at once. Answers nothing. */
  prefetch(terms: readonly string[], ids: readonly number[]): void;
}

/**
 * BlockSearchPrune is what a boolean search gives the logs store to skip
 * blocks (log-scan.ts scanLogBlock) before any line is read: a test of the
 * block's term bloom, and a superset of the matching rows from its index.
 * Both may only over-admit; the store still runs the search's row filter
 * on every row it returns.
 */
export interface BlockSearchPrune {
  /** bloomMay is false only when no row of a block whose bloom answers `has` can match. */
  bloomMay(has: (term: string) => boolean): boolean;
  /** candidates is a superset of the block's matching rows. */
  candidates(index: LogIndexReader): Uint32Array;
}

/** openLogIndex opens a block's sealed postings (and entry chunks) for a boolean search. Throws ERR_CORRUPTION (also when it indexes another row count). */
export function openLogIndex(index: StoredLogIndex, blockRows: number, phraseCheck: PhraseCheck = consecutivePositions): LogIndexReader {
  const { idx, chunks } = openStored(index);
  if (idx.rows !== blockRows) throw corrupt(`index of ${idx.rows} rows for a block of ${blockRows}`);
  return readerOf(idx, blockRows, phraseCheck, chunks);
}

function readerOf(idx: OpenedIndex, blockRows: number, phraseCheck: PhraseCheck, chunks: EntryChunks | null): LogIndexReader {
  return {
    rows: idx.rows,
    get terms() {
      return idx.terms;
    },
    termIdsHolding: (piece, foldLongS, max) => idx.dict.idsHolding(piece, foldLongS, max),
    termRowsById: (id) => {
      assert(Number.isSafeInteger(id) && id >= 0 && id < idx.dict.count, 'a term id of the block');
      return idx.termEntry(id, false, chunks).rows;
    },
    termIdsStarting: (prefix, max) => idx.dict.idsStarting(prefix, max),
    termPositionsById: (id) => {
      assert(Number.isSafeInteger(id) && id >= 0 && id < idx.dict.count, 'a term id of the block');
      return idx.termEntry(id, true, chunks);
    },
    termRows: (term) => {
      const id = idx.termId(term);
      return id < 0 ? new Uint32Array(0) : idx.termEntry(id, false, chunks).rows;
    },
    prefetch: (terms, ids) => idx.wantTerms([...terms.map((t) => idx.termId(t)), ...ids], chunks),
    phraseRows: (phrase) => candidatesIn(idx, blockRows, { terms: [], phrases: [[...phrase]], matchers: [] }, phraseCheck, chunks),
  };
}

/** LogBlockIndexView is one lookup's view of a block index: the boolean-search reader, and the rows a normalized query's terms, stream matchers and phrases admit (what queryLogIndex answers). */
export interface LogBlockIndexView {
  readonly reader: LogIndexReader;
  /**
   * candidates is the rows `nq` admits; among the rows `within` answers
   * only, when given (increasing rows a caller can name, a hint's; null
   * for every row): the answer is then within() ∩ candidates(nq), found
   * without decoding a stream matcher's whole list. `within` is not
   * called when a `=` matcher names a stream pair the block lacks.
   */
  candidates(nq: NormalizedLogQuery, within?: (() => Uint32Array | null) | null): Uint32Array;
}

/**
 * LogBlockIndex is a block's postings opened once for every later query
 * (log-block-read.ts caches it). A lookup views it with the entry chunks at
 * hand (null: version 2, the entries are in the value). Immutable; shared
 * by readers.
 */
export interface LogBlockIndex {
  readonly opened: OpenedIndex;
  view(chunks: EntryChunks | null): LogBlockIndexView;
}

/** openLogBlockIndex opens a block's sealed postings (see LogBlockIndex). Throws ERR_CORRUPTION (also when it indexes another row count). */
export function openLogBlockIndex(postings: Uint8Array, blockRows: number): LogBlockIndex {
  const idx = new OpenedIndex(postings);
  if (idx.rows !== blockRows) throw corrupt(`index of ${idx.rows} rows for a block of ${blockRows}`);
  return {
    opened: idx,
    view: (chunks) => ({ reader: readerOf(idx, blockRows, consecutivePositions, chunks), candidates: (nq, within) => candidatesIn(idx, blockRows, nq, consecutivePositions, chunks, within ?? null) }),
  };
}

function postingsCandidates(index: StoredLogIndex, blockRows: number, nq: NormalizedLogQuery, phraseCheck: PhraseCheck): Uint32Array {
  const { idx, chunks } = openStored(index);
  if (idx.rows !== blockRows) throw corrupt(`index of ${idx.rows} rows for a block of ${blockRows}`);
  return candidatesIn(idx, blockRows, nq, phraseCheck, chunks);
}

function allRows(n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

function candidatesIn(idx: OpenedIndex, blockRows: number, nq: NormalizedLogQuery, phraseCheck: PhraseCheck, chunks: EntryChunks | null, within: (() => Uint32Array | null) | null = null): Uint32Array {
  const { terms, phrases, matchers } = nq;
  const none = new Uint32Array(0);
  // Every entry this may read, asked for at once (a version 3 index fetches their chunks in one read).
  idx.wantTerms([...terms, ...phrases.flat()].map((t) => idx.termId(t)), chunks);
  // A `=` matcher no pair of the block satisfies admits no row: answered before `within` is asked (it may cost more).
  if (matchers.some((m) => m.op === '=' && m.value !== '' && !idx.hasPair(m.name, m.value))) return none;
  // null: every row (no array of every row is made unless it is the answer or a `!=` matcher needs it).
  let cand: Uint32Array | null = within === null ? null : within();
  if (cand !== null && cand.length === 0) return none;
  for (const term of terms) {
    const id = idx.termId(term);
    if (id < 0) return none;
    const rows = idx.termEntry(id, false, chunks).rows;
    cand = cand === null ? rows : intersect(cand, rows);
  }
  for (const m of matchers) {
    const keep = m.op === '=' ? (v: string): boolean => v === m.value : (v: string): boolean => v !== m.value;
    const matchesMissing = (m.op === '=') === (m.value === '');
    if (cand !== null && !matchesMissing) {
      // Rows in hand: test them against the pairs' lists instead of decoding a common stream's whole list (pairRowsAmong).
      cand = idx.pairRowsAmong(m.name, keep, cand);
      continue;
    }
    let matched = idx.pairRows(m.name, keep);
    if (matchesMissing) matched = union(matched, difference(allRows(blockRows), idx.pairRows(m.name, () => true)));
    cand = cand === null ? matched : intersect(cand, matched);
  }
  for (const phrase of phrases) {
    if (cand !== null && cand.length === 0) break;
    const ids = phrase.map((t) => idx.termId(t));
    if (ids.some((id) => id < 0)) return none;
    const entries = ids.map((id) => idx.termEntry(id, true, chunks));
    for (const e of entries) cand = cand === null ? e.rows : intersect(cand, e.rows);
    const kept: number[] = [];
    const cursors = entries.map(() => 0);
    for (const row of cand as Uint32Array) {
      const lists = entries.map((e, k) => {
        let c = cursors[k] as number;
        while ((e.rows[c] as number) < row) c++;
        cursors[k] = c;
        assert(e.rows[c] === row, 'a candidate row is in every phrase term');
        return e.positions[c] as Uint32Array;
      });
      if (phraseCheck(lists)) kept.push(row);
    }
    cand = Uint32Array.from(kept);
  }
  const out = cand ?? allRows(blockRows);
  assert(out.length <= blockRows, 'no more candidates than rows');
  return out;
}
