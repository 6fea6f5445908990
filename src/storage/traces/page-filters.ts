/**
 * page-filters.ts — per-page bloom filters of a span block's skipped-key
 * terms, written by the flush beside the block (trace-keys.ts key 0x17), so
 * an attribute search on a key the block does not index reads only the
 * pages that may hold the value.
 *
 * Why: a key with more than SpanBlockLimits.attrValuesPerKeyMax values in a
 * block (a customer id, a request id) gets no postings; the block's
 * skipped-terms bloom (span-index.ts) tells whether the block may hold
 * key=value, and when it says "maybe" the search read the whole block: the
 * head and every page. With these filters it reads the head and the pages
 * whose filter says "maybe" (the value's traces usually sit on one or two
 * of a block's ~32 pages).
 *
 * Exactness: a page's filter holds skippedTermsOfRow (span-index.ts) of
 * every row of the page — the same items the block's skipped-terms bloom
 * holds, restricted to the page's rows. Whatever the block bloom rules out
 * for a block (indexExcludes: a skipped key's value, a TraceQL span match),
 * the page's filter rules out for the page's rows, so a page it excludes
 * has no matching row. A page with more than
 * TraceStoreLimits.pageFilterTermsMax terms keeps no filter and is always
 * read.
 *
 * In version 1 the block-level bloom (10% false positives) stays in the
 * index and is asked first: it drops most blocks lacking the value with no
 * further read. The page filters are asked only for a block it lets
 * through, so they are coarse (TraceStoreLimits.pageFilterFalsePositiveTarget,
 * 25%: about 2.9 bits an item) and keep the index within its 10% of the data.
 *
 * Version 2 (written since s13): the page filters replace the block-level
 * bloom. The block's index is written without its skipped-terms filter
 * (span-index.ts encodeSpanBlockIndex `skippedTermsFilter` false) and the
 * value carries the block's skipped keys and skipped value keys, so an
 * attribute search on a skipped key decides a block from this one small
 * value — no page may hold the value: the block is not read; else the
 * pages that may — without reading the block's index (which holds every
 * postings list, ~16 KB a block in bench/query-traces-shard). The bits the
 * block-level filter took (10% false positives, 4.8 bits a term) go to the
 * page filters instead (TraceStoreLimits.pageTermsFalsePositiveTarget),
 * so a block that holds the value reads fewer pages that do not.
 * A block is ruled out when every page's filter lacks the value, which
 * happens for a block without it with probability (1 - p)^pages.
 * One-page blocks get a value too; blocks without skipped keys get none.
 *
 * Version 3 (written since s14): version 2 plus one block-level filter of
 * the same items (the union of the pages'), asked first. Version 2's block
 * was ruled out only when all of its pages' filters lacked the value, so a
 * block of P pages lacking it was opened (head and a page read) with
 * probability 1 - 0.975^P (43% for 22 pages; the 2M-span bench opened 187 of 433),
 * against the 10% block bloom of version 1 (bench/README.md, s13 → s14).
 * Version 3 splits the bits as version 1 did
 * (TraceStoreLimits.blockTermsFalsePositiveTarget 10%, then
 * pageTermsV3FalsePositiveTarget 25% a page) but keeps them all in this one
 * value, so the index is still not read. Since s15 a block with few
 * skipped-key terms for its bytes gets 1% filters instead, when they add at
 * most 0.1% of its data (filter-targets.ts); the layout is the same.
 *
 * Layout (sealed: BlockKind.blockMeta envelope with its CRC32C; record tag
 * 4 beside trace-keys.ts's 1 and 2 and trace-summaries.ts's 3):
 *
 *   u8 version (1 | 2 | 3) | u8 record 4 | uvarint pageRows | uvarint pages
 *   versions 2, 3: uvarint skippedKeys, skippedKeys × str | uvarint skippedValueKeys, skippedValueKeys × str
 *                   | uvarint valueKeys, valueKeys × str (the keys of the index's value terms:
 *                   a TraceQL equality on another key has no postings of value terms there)
 *                   (str = uvarint utf8Length, UTF-8; sorted and distinct)
 *   version 3 only: uvarint blockFilterBytes (0: no filter, more than SpanBlockLimits.skippedTermsMax
 *                   terms) | filter (bloom.ts encodeBloom) of every page's terms
 *   per page: uvarint filterBytes (0: no filter, the page may hold anything) | filter (bloom.ts encodeBloom)
 *
 * Version 1: at least two pages, no key lists; the index keeps its
 * skipped-terms bloom. Blocks written before this file have no value: a
 * search reads them as before. NB: code before version 2 refuses a version-2
 * value, and code before version 3 a version-3 one (ERR_CORRUPTION), so a
 * database must not go back to it. Pure code, no I/O.
 */
import { assert } from '../../errors.js';
import { SpanBlockLimits, SpanPageLimits, StorageLimits, TraceStoreLimits } from '../../limits.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import type { BlockBloom } from '../bloom.js';
import { bloomHas, buildBloom, decodeBloom, encodeBloom } from '../bloom.js';
import { corrupt } from '../codec/bits.js';
import type { ByteWriter } from '../codec/varint.js';
import { ByteReader } from '../codec/varint.js';
import type { SpanRow } from '../rows.js';
import type { SpanBlockIndex, SpanPredicate } from './span-index.js';
import type { SpanMatch } from './span-index.js';
import { IndexField, attrTermKey, indexExcludes, skippedTermsOfRow, valueTermKey } from './span-index.js';
import { chooseFilterTargets } from './filter-targets.js';

const FILTERS_VERSION_BESIDE_BLOOM = 1;
const FILTERS_VERSION_PAGES_ONLY = 2;
/** PAGE_FILTERS_VERSION is the version the traces store writes: a block-level filter and the page filters replace the index's skipped-terms bloom. */
export const PAGE_FILTERS_VERSION = 3;
const RECORD_PAGE_FILTERS = 4;

/**
 * PageFilters are a block's decoded page filters: filters[p] is page p's, or
 * null when the page keeps none (read it); `skipped` (version 2) the block's
 * skipped keys and skipped value keys, the keys whose terms the filters hold.
 */
export interface PageFilters {
  readonly pageRows: number;
  readonly filters: readonly (BlockBloom | null)[];
  readonly skipped?: PageTermKeys;
  /** block (version 3, with `skipped`) holds every page's terms, asked before them; null: none was built (too many terms), the block may hold anything. */
  readonly block?: BlockBloom | null;
}

/** PageTermKeys are what version 2 says of a block's index: its skipped sets and the keys of its value terms. */
export interface PageTermKeys extends SkippedSets {
  readonly valueKeys: ReadonlySet<string>;
}

/** SkippedSets are a block index's skipped keys and skipped value keys (span-index.ts). */
export type SkippedSets = Pick<SpanBlockIndex, 'skippedKeys' | 'skippedValueKeys'>;

/** pageTerms are the skipped-terms items of rows [from, to) of `spans`. */
function pageTerms(spans: readonly SpanRow[], from: number, to: number, skipped: SkippedSets): Set<string> {
  const terms = new Set<string>();
  for (let row = from; row < to; row++) for (const t of skippedTermsOfRow(spans[row] as SpanRow, skipped.skippedKeys, skipped.skippedValueKeys)) terms.add(t);
  return terms;
}

/**
 * PageTermsOf gives the skipped-terms items of page p (pageTerms of its
 * rows under `skipped`); the encoders below ask for pages 0, 1, ... in
 * order. A flush's writeBlockByPages (block-write.ts) answers from the
 * index builder, which kept them page by page (SpanIndexBuilder.pageTerms).
 */
export type PageTermsOf = (p: number, skipped: SkippedSets) => Set<string>;

function termsOfSpans(spans: readonly SpanRow[], pageRows: number): PageTermsOf {
  return (p, skipped) => pageTerms(spans, p * pageRows, Math.min(spans.length, (p + 1) * pageRows), skipped);
}

/**
 * encodePageFilters seals the page filters of a block of `spans` (row i is
 * spans[i]) cut in pages of `pageRows`, whose index lists `skippedKeys`;
 * null when there is nothing to filter (no skipped key, or one page).
 */
export function encodePageFilters(w: ByteWriter, spans: readonly SpanRow[], pageRows: number, skipped: SkippedSets): Uint8Array | null {
  return encodePageFiltersBy(w, Math.ceil(spans.length / pageRows), termsOfSpans(spans, pageRows), pageRows, skipped);
}

/** encodePageFiltersBy is encodePageFilters of a block of `pages` pages whose terms `termsOf` gives (asked in page order). */
export function encodePageFiltersBy(w: ByteWriter, pages: number, termsOf: PageTermsOf, pageRows: number, skipped: SkippedSets): Uint8Array | null {
  assert(pageRows >= 1 && pageRows <= SpanPageLimits.pageRowsMax, 'pageRows in [1, pageRowsMax]');
  if ((skipped.skippedKeys.size === 0 && skipped.skippedValueKeys.size === 0) || pages <= 1) return null;
  const filters: (BlockBloom | null)[] = [];
  for (let p = 0; p < pages; p++) {
    const terms = termsOf(p, skipped);
    filters.push(terms.size > TraceStoreLimits.pageFilterTermsMax ? null : buildBloom([...terms], TraceStoreLimits.pageFilterFalsePositiveTarget));
  }
  return sealPageFilters(w, { pageRows, filters });
}

/**
 * encodePageTerms seals page filters of `version` 3 (the default; 2 for the
 * tests' and benches' older blocks) of a block of `spans` cut in pages of
 * `pageRows` (the layout above): the skipped sets, version 3's block-level
 * filter at TraceStoreLimits.blockTermsFalsePositiveTarget and one filter per
 * page (version 3: pageTermsV3FalsePositiveTarget; 2:
 * pageTermsFalsePositiveTarget); null when the block has no skipped key (a
 * search then reads its index). Version 3's targets are tighter (1%) when
 * that adds at most TraceStoreLimits.tightFiltersDataShareMax of
 * `dataBytes`, the block's head and pages (filter-targets.ts); 0 (tests)
 * keeps the loose ones unless the tight ones add nothing.
 */
export function encodePageTerms(
  w: ByteWriter,
  spans: readonly SpanRow[],
  pageRows: number,
  index: SpanBlockIndex,
  version: 2 | 3 = PAGE_FILTERS_VERSION,
  dataBytes = 0,
): Uint8Array | null {
  return encodePageTermsBy(w, Math.ceil(spans.length / pageRows), termsOfSpans(spans, pageRows), pageRows, index, version, dataBytes);
}

/** encodePageTermsBy is encodePageTerms of a block of `pages` pages whose terms `termsOf` gives (asked in page order). */
export function encodePageTermsBy(
  w: ByteWriter,
  pages: number,
  termsOf: PageTermsOf,
  pageRows: number,
  index: SpanBlockIndex,
  version: 2 | 3 = PAGE_FILTERS_VERSION,
  dataBytes = 0,
): Uint8Array | null {
  const valueKeys = new Set<string>();
  for (const term of index.terms) if (term.field === IndexField.value) valueKeys.add(term.key);
  const skipped: PageTermKeys = { skippedKeys: index.skippedKeys, skippedValueKeys: index.skippedValueKeys, valueKeys };
  assert(pageRows >= 1 && pageRows <= SpanPageLimits.pageRowsMax, 'pageRows in [1, pageRowsMax]');
  if (skipped.skippedKeys.size === 0 && skipped.skippedValueKeys.size === 0) return null;
  const termsOfPages: (Set<string> | null)[] = [];
  const all = new Set<string>();
  for (let p = 0; p < pages; p++) {
    const terms = termsOf(p, skipped);
    if (version === PAGE_FILTERS_VERSION && all.size <= SpanBlockLimits.skippedTermsMax) for (const t of terms) all.add(t);
    termsOfPages.push(terms.size > TraceStoreLimits.pageFilterTermsMax ? null : terms);
  }
  if (version !== PAGE_FILTERS_VERSION) {
    const filters = termsOfPages.map((terms) => (terms === null ? null : buildBloom([...terms], TraceStoreLimits.pageTermsFalsePositiveTarget)));
    return sealPageFilters(w, { pageRows, filters, skipped });
  }
  // filter-targets.ts: 1% filters when they add at most 0.1% of the block's data bytes, else 10% / 25%.
  const blockTerms = all.size > SpanBlockLimits.skippedTermsMax ? null : all.size;
  const targets = chooseFilterTargets(
    blockTerms,
    termsOfPages.map((terms) => (terms === null ? null : terms.size)),
    dataBytes,
  );
  const filters = termsOfPages.map((terms) => (terms === null ? null : buildBloom([...terms], targets.page)));
  const block = blockTerms === null ? null : buildBloom([...all], targets.block);
  return sealPageFilters(w, { pageRows, filters, skipped, block });
}

/**
 * sealPageFilters writes page filters in the layout above: version 3 when
 * `f.block` is given (with `f.skipped`), else 2 when `f.skipped` is, else 1
 * (the encoders' last step; tests plant wrong filters with it).
 */
export function sealPageFilters(w: ByteWriter, f: PageFilters): Uint8Array {
  assert(f.filters.length >= (f.skipped === undefined ? 2 : 1), 'page filters of two or more pages (version 1) or one or more (versions 2, 3)');
  assert(f.block === undefined || f.skipped !== undefined, 'a block-level filter (version 3) comes with the skipped keys');
  w.reset();
  w.u8(f.skipped === undefined ? FILTERS_VERSION_BESIDE_BLOOM : f.block === undefined ? FILTERS_VERSION_PAGES_ONLY : PAGE_FILTERS_VERSION);
  w.u8(RECORD_PAGE_FILTERS);
  w.uvarint(f.pageRows);
  w.uvarint(f.filters.length);
  if (f.skipped !== undefined) {
    for (const set of [f.skipped.skippedKeys, f.skipped.skippedValueKeys, f.skipped.valueKeys]) {
      const keys = [...set].sort();
      w.uvarint(keys.length);
      for (const k of keys) w.str(k);
    }
  }
  if (f.block !== undefined) writeBloomOrNone(w, f.block);
  for (const bloom of f.filters) writeBloomOrNone(w, bloom);
  return sealBlock(BlockKind.blockMeta, w.finish());
}

/** writeBloomOrNone writes uvarint filterBytes (0 for none) and the filter. */
function writeBloomOrNone(w: ByteWriter, bloom: BlockBloom | null): void {
  if (bloom === null) {
    w.uvarint(0);
    return;
  }
  const bytes = encodeBloom(bloom);
  w.uvarint(bytes.length);
  w.raw(bytes);
}

/** decodePageFilters opens sealed page filters, every byte checked (ERR_CORRUPTION on a bad one). */
export function decodePageFilters(bytes: Uint8Array): PageFilters {
  const r = new ByteReader(openBlock(bytes, BlockKind.blockMeta));
  const version = r.u8();
  if (version !== FILTERS_VERSION_BESIDE_BLOOM && version !== FILTERS_VERSION_PAGES_ONLY && version !== PAGE_FILTERS_VERSION) throw corrupt(`page filters version ${version} is not 1, 2 or 3`);
  const record = r.u8();
  if (record !== RECORD_PAGE_FILTERS) throw corrupt(`page filters record type ${record} is not ${RECORD_PAGE_FILTERS}`);
  const pageRows = r.uvarint();
  if (pageRows < 1 || pageRows > SpanPageLimits.pageRowsMax) throw corrupt(`page filters of ${pageRows}-row pages`);
  const pages = r.uvarint();
  const pagesMin = version === FILTERS_VERSION_BESIDE_BLOOM ? 2 : 1;
  if (pages < pagesMin || pages > r.remaining) throw corrupt(`page filters of ${pages} pages in ${r.remaining} bytes`);
  let skipped: PageTermKeys | undefined;
  let block: BlockBloom | null | undefined;
  if (version !== FILTERS_VERSION_BESIDE_BLOOM) {
    const sets: Set<string>[] = [];
    for (const what of ['skipped key', 'skipped value key', 'value term key']) {
      const n = r.uvarint();
      if (n > r.remaining) throw corrupt(`page filters claim ${n} ${what}s in ${r.remaining} bytes`);
      const set = new Set<string>();
      let prev: string | null = null;
      for (let i = 0; i < n; i++) {
        const k = r.str(StorageLimits.stringBytesMax, what);
        if (prev !== null && !(prev < k)) throw corrupt(`page filters ${what}s are not sorted and distinct`);
        set.add(k);
        prev = k;
      }
      sets.push(set);
    }
    skipped = { skippedKeys: sets[0] as Set<string>, skippedValueKeys: sets[1] as Set<string>, valueKeys: sets[2] as Set<string> };
    if (skipped.skippedKeys.size === 0 && skipped.skippedValueKeys.size === 0) throw corrupt(`page filters of version ${version} without skipped keys`);
    if (version === PAGE_FILTERS_VERSION) {
      const n = r.uvarint();
      if (n > r.remaining) throw corrupt(`page filters claim a ${n}-byte block filter in ${r.remaining} bytes`);
      block = n === 0 ? null : decodeBloom(r.take(n));
    }
  }
  const filters: (BlockBloom | null)[] = [];
  for (let p = 0; p < pages; p++) {
    const n = r.uvarint();
    // Versions 2 and 3: a page's filter is decoded when first asked (lazyBloom); version 1's at once.
    filters.push(n === 0 ? null : version === FILTERS_VERSION_BESIDE_BLOOM ? decodeBloom(r.take(n)) : lazyBloom(r.take(n)));
  }
  if (r.remaining !== 0) throw corrupt(`page filters have ${r.remaining} trailing bytes`);
  if (skipped === undefined) return { pageRows, filters };
  return block === undefined ? { pageRows, filters, skipped } : { pageRows, filters, skipped, block };
}

/**
 * lazyBloom is a page's filter decoded (bloom.ts decodeBloom, ERR_CORRUPTION
 * on a bad one) when one of its fields is first asked. Why: a search reads
 * ~100 blocks' values of ~20 filters and asks only the block-level filter of
 * most of them; decoding each one made a bloom-filters BloomFilter, whose
 * constructor seeds seedrandom, about a third of its CPU
 * (bench/query-traces-fp.ts --profile, bench/README.md s15). decodeBloom no
 * longer does that, but a damaged page filter still fails only the searches
 * that ask that page (page-filters-block.test.ts). The value around it is
 * CRC-sealed and its lengths checked at once; only a filter's own header
 * waits for its first use. It keeps a view of the value's bytes, which must
 * not be reused (LevelDB gives each get and getMany a fresh buffer; the block
 * cache keeps the decoded value).
 */
function lazyBloom(bytes: Uint8Array): BlockBloom {
  let decoded: BlockBloom | null = null;
  const get = (): BlockBloom => (decoded ??= decodeBloom(bytes));
  return {
    get bits() {
      return get().bits;
    },
    get sizeBits() {
      return get().sizeBits;
    },
    get hashes() {
      return get().hashes;
    },
  };
}

/**
 * pagesMayHoldAttrs are the pages (ascending) of a version-2 block on which
 * a row may hold every attribute equality of `attrs` (tag form: key and
 * attrIndexValue) whose key the block skips; the other pairs are not asked
 * (the caller checks every row it reads with spanMatches). Sound because a
 * page's filter holds the skipped-key terms of all its rows.
 */
export function pagesMayHoldAttrs(f: PageFilters, attrs: readonly (readonly [string, string])[], match?: SpanMatch): number[] {
  assert(f.skipped !== undefined, 'pagesMayHoldAttrs asks page filters of version 2 or 3');
  const keys = f.skipped;
  const terms = attrs.flatMap(([k, v]) => (keys.skippedKeys.has(k) ? [attrTermKey(k, v)] : []));
  const out: number[] = [];
  // Version 3: the block-level filter holds every page's terms; lacking them, no page holds them.
  const block = f.block ?? null;
  if (block !== null && !(terms.every((t) => bloomHas(block, t)) && (match === undefined || matchMayHoldOnPage(match, keys, block)))) return out;
  f.filters.forEach((bloom, p) => {
    if (bloom === null || (terms.every((t) => bloomHas(bloom, t)) && (match === undefined || matchMayHoldOnPage(match, keys, bloom)))) out.push(p);
  });
  return out;
}

/**
 * matchMayHoldOnPage is span-index.ts matchMayHold asked of one page's
 * filter with the index's answers unknown: an attr atom on a key the block
 * skips may hold when the page's filter may hold its tag-form term or its
 * value term (skipped value key) or the index has value terms of the key
 * (unknown here: may); any other atom may hold. Sound because the filter
 * holds every skipped-key term of the page's rows.
 */
function matchMayHoldOnPage(m: SpanMatch, keys: PageTermKeys, bloom: BlockBloom): boolean {
  switch (m.kind) {
    case 'and':
      return m.args.every((a) => matchMayHoldOnPage(a, keys, bloom));
    case 'or':
      return m.args.some((a) => matchMayHoldOnPage(a, keys, bloom));
    case 'attr': {
      if (!keys.skippedKeys.has(m.key)) return true;
      if (bloomHas(bloom, attrTermKey(m.key, m.value))) return true;
      if (keys.skippedValueKeys.has(m.key)) return bloomHas(bloom, valueTermKey(m.key, m.value));
      return keys.valueKeys.has(m.key);
    }
    default:
      return true;
  }
}

/** matchDecidable says whether the page filters can rule rows out for `m`: some atom whose key the block skips (and whose value terms it does not index). */
export function matchDecidable(m: SpanMatch, keys: PageTermKeys): boolean {
  switch (m.kind) {
    case 'and':
    case 'or':
      return m.args.some((a) => matchDecidable(a, keys));
    case 'attr':
      return keys.skippedKeys.has(m.key) && (keys.skippedValueKeys.has(m.key) || !keys.valueKeys.has(m.key));
    default:
      return false;
  }
}

/**
 * pagesMayMatch are the pages (ascending) on which a row may match
 * `predicate`: indexExcludes asked of the block's index with the page's
 * filter as its skipped-terms bloom (a page without a filter may hold
 * anything). Sound because a page's filter holds every skipped-terms item
 * of its rows.
 */
export function pagesMayMatch(f: PageFilters, idx: SpanBlockIndex, predicate: SpanPredicate): number[] {
  const out: number[] = [];
  // Version 3: the block-level filter, asked as the index's skipped-terms bloom (it holds the same items).
  if (f.block !== undefined && f.block !== null && indexExcludes({ ...idx, skippedTerms: f.block }, predicate) !== null) return out;
  f.filters.forEach((bloom, p) => {
    if (bloom === null || indexExcludes({ ...idx, skippedTerms: bloom }, predicate) === null) out.push(p);
  });
  return out;
}
