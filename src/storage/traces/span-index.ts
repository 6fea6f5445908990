/**
 * span-index.ts — the per-block index of a span block (DESIGN.md §6):
 * postings of row ordinals for service, span name, kind, status code and
 * attribute key=value, plus a bloom filter of the block's trace ids; and
 * querySpanBlock, which narrows rows with the postings, then checks what the
 * index cannot answer on the block's columns. Pure code, no I/O.
 *
 * Attribute terms come from span attributes and resource attributes alike
 * (a term matches a row when either list has the key with that value);
 * string, int and bool values are indexed by their string form
 * (attrIndexValue). A key is not indexed — it is recorded in `skippedKeys`
 * and a query on it scans the candidate rows instead — when it has more than
 * SpanBlockLimits.attrValuesPerKeyMax distinct values in the block, a value
 * longer than attrValueBytesMax, or arrives after indexedKeysMax keys.
 * Since format 2 the skipped keys' key=value terms go into a second bloom
 * filter, so a query on a skipped key skips a block that cannot hold the
 * value without reading the block (indexExcludes). The traces store now
 * writes that filter empty and keeps the terms in the block's page filters
 * of version 2 instead (page-filters.ts), which a tag search on a skipped
 * key reads without this index.
 *
 * Format 2 also records, for the tag routes (Tempo's /api/v2/search/tags),
 * each attribute term's scopes and value types: a flags byte per term and
 * per skipped key, bit (scope × 3 + type) for scope span 0 / resource 1 and
 * type string 0 / int 1 / bool 2 (TermFlag). One term may carry several bits
 * (the same string form as a span string and a resource int, say); the bits
 * are exact: a bit is set iff some row has that key=value in that scope with
 * that type. Other fields' terms have flags 0.
 *
 * Since format 3 the index also answers TraceQL attribute equalities
 * exactly at block level (query/traceql/pushdown.ts): TraceQL's `.x = v`
 * also holds when x is an array with an element equal to v, and its numbers
 * compare by value across int and double (`= 200` finds 200.0, `= 200.0`
 * finds 200). The tag-form terms above hold scalar strings, ints and bools
 * only and stay as they were (the tag routes read them); the values they
 * miss — scalar doubles and the scalar elements of arrays — are indexed as
 * IndexField.value terms under their TraceQL form (traceqlIndexForm): a
 * string as itself, a bool as true/false, any number (int or double) as
 * canonicalNumber (decimal integer when integral and in int64 range, else
 * JavaScript's shortest round-trip form; NaN, which equals nothing, is not
 * indexed). Their flags byte uses the same bits, type int meaning
 * "number". Value terms have their own key accounting (the same limits)
 * and their own skipped keys, whose key=value terms share the
 * skipped-terms bloom filter (as termKey(value, key, value)).
 *
 * Sealed with block.ts (BlockKind.postings). Payload, SPAN_INDEX_FORMAT_VERSION 3
 * (formats 1 and 2 are still read; format 1 lacks the skipped-terms filter
 * and the flags bytes — NB: its terms and skipped keys are reported with
 * FORMAT1_ATTR_FLAGS, scope span and type string, since the format cannot
 * tell; formats 1 and 2 lack the value terms, so a TraceQL attribute
 * equality never prunes their blocks or rows):
 *
 *   u8       formatVersion (3)
 *   uvarint  rows                           (must equal the block's rows)
 *   uvarint  bloomBytes, bloom (bloom.ts compact form, trace ids, 1% target)
 *   uvarint  skippedKeys, skippedKeys × [str key][u8 flags (format >= 2; != 0)]
 *            (str = uvarint utf8Length, UTF-8)
 *   uvarint  skippedValueKeys, skippedValueKeys × [str key]   (format 3 only;
 *            keys whose value terms are not indexed)
 *   uvarint  skippedTermsBytes, bloom       (format >= 2; 0 bytes = no filter:
 *            no skipped keys, or more than skippedTermsMax terms) of
 *            termKey(attr, key, value) for every value of every skipped key
 *            and termKey(value, key, value) for every value term of every
 *            skipped value key, skippedTermsFalsePositiveTarget
 *   uvarint  lists, lists × [uvarint postingsBytes][postings]   (distinct postings lists)
 *   uvarint  terms, terms × [u8 IndexField][str key][str value][u8 flags (format >= 2;
 *            != 0 iff IndexField.attr or .value)][uvarint listId < lists]
 *            (IndexField.value only in format 3)
 *
 * key is '' except for IndexField.attr and .value; kind and status values are decimal.
 * Postings are codec/postings lists of row ordinals. Terms with identical row
 * sets share one stored list: resource attributes partition rows like the
 * service does (service.name, service.version, host.name), which on the
 * realistic test data took the index from 5.3 to 3.8 bytes per span.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { SpanBlockLimits, StorageLimits as L } from '../../limits.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import type { BlockBloom } from '../bloom.js';
import { bloomHas, buildBloom, decodeBloom, encodeBloom } from '../bloom.js';
import { corrupt } from '../codec/bits.js';
import { decodePostings, encodePostings, intersect as codecIntersect, union } from '../codec/postings.js';
import { ByteReader, ByteWriter } from '../codec/varint.js';
import type { AnyValue, KeyValue, SpanKind, SpanRow, StatusCode } from '../rows.js';
import type { BlockColumnName, SpanBlockView } from './span-block.js';
import { SpanColumn, openSpanBlock, readBlockColumns, serviceOf } from './span-block.js';
import type { SpanRest } from './span-rest.js';
import { readRest, readRestRecord } from './span-rest.js';

/** SPAN_INDEX_FORMAT_VERSION is byte 0 of a span block index's payload. */
export const SPAN_INDEX_FORMAT_VERSION = 3;
/** SPAN_INDEX_FORMAT_VERSION_NO_VALUE_TERMS is the older format still read: no value terms (TraceQL attribute equalities do not prune it). */
export const SPAN_INDEX_FORMAT_VERSION_NO_VALUE_TERMS = 2;
/** SPAN_INDEX_FORMAT_VERSION_NO_TERMS_BLOOM is the oldest format still read: no skipped-terms filter, no flags. */
const SPAN_INDEX_FORMAT_VERSION_NO_TERMS_BLOOM = 1;

/** IndexField is the field byte of an index term. Stable: append only. */
export const IndexField = {
  service: 0,
  name: 1,
  kind: 2,
  status: 3,
  attr: 4,
  /** value: since format 3, a TraceQL form of a scalar double or of an array element (traceqlIndexForm) that the attr terms lack. */
  value: 5,
} as const;

/** IndexFieldValue is one of the IndexField numbers. */
export type IndexFieldValue = (typeof IndexField)[keyof typeof IndexField];

const FIELD_MAX = IndexField.value;

/** TagScope is an attribute's scope in Tempo's terms: the span's own attributes or its resource's. */
export type TagScope = 'span' | 'resource';
/** TagType is an indexed attribute value's type (attrIndexValue holds only these). */
export type TagType = 'string' | 'int' | 'bool';
const SCOPES: readonly TagScope[] = ['span', 'resource'];
const TYPES: readonly TagType[] = ['string', 'int', 'bool'];

/** termFlag is the flags bit of one (scope, type): bit scope × 3 + type. */
export function termFlag(scope: TagScope, type: TagType): number {
  return 1 << (SCOPES.indexOf(scope) * 3 + TYPES.indexOf(type));
}
/** TERM_FLAGS_ALL are the six defined bits; others are corruption. */
export const TERM_FLAGS_ALL = 0x3f;
/** SCOPE_FLAGS are the three bits of each scope. */
export const SCOPE_FLAGS: Readonly<Record<TagScope, number>> = { span: 0x07, resource: 0x38 };
/** FORMAT1_ATTR_FLAGS is what a format-1 term or skipped key reports: scope span, type string (the format has no flags). */
export const FORMAT1_ATTR_FLAGS = 0x01;

/** flagPairs lists the (scope, type) pairs of a flags byte, span before resource, string, int, bool. */
export function flagPairs(flags: number): { scope: TagScope; type: TagType }[] {
  const out: { scope: TagScope; type: TagType }[] = [];
  for (let s = 0; s < 2; s++) for (let t = 0; t < 3; t++) if ((flags & (1 << (s * 3 + t))) !== 0) out.push({ scope: SCOPES[s] as TagScope, type: TYPES[t] as TagType });
  return out;
}


/** attrIndexValue is the indexed string form of an attribute value, or undefined for types the index does not hold. */
export function attrIndexValue(v: AnyValue): string | undefined {
  switch (v.type) {
    case 'string':
      return v.value;
    case 'int':
      return v.value.toString();
    case 'bool':
      return v.value ? 'true' : 'false';
    default:
      return undefined;
  }
}

/** attrTagType is the TagType of an indexable value (undefined for the others, as attrIndexValue). */
export function attrTagType(v: AnyValue): TagType | undefined {
  return v.type === 'string' || v.type === 'int' || v.type === 'bool' ? v.type : undefined;
}

/** INT64_MIN_DOUBLE and INT64_END_DOUBLE bound the doubles an int64 can equal: [-2^63, 2^63). */
const INT64_MIN_DOUBLE = -(2 ** 63);
const INT64_END_DOUBLE = 2 ** 63;

/**
 * canonicalNumber is the one term form of a TraceQL number, so that two
 * numbers have the same form iff TraceQL finds them equal (values.ts
 * compareNumeric: exact across int and double): an int, and a double with an
 * integral value in int64 range, as a decimal integer (`200`, `-0` → `0`);
 * any other double as JavaScript's shortest round-trip form (`0.5`,
 * `1e+300`, `Infinity`), which no int64 can equal. Not defined for NaN,
 * which equals nothing (asserted).
 */
export function canonicalNumber(n: bigint | number): string {
  if (typeof n === 'bigint') return n.toString();
  assert(!Number.isNaN(n), 'canonicalNumber of NaN');
  if (Number.isInteger(n) && n >= INT64_MIN_DOUBLE && n < INT64_END_DOUBLE) return BigInt(n).toString();
  return String(n);
}

/** TraceqlIndexForm is a scalar attribute value as TraceQL compares it: its type (int means any number) and its term form. */
export interface TraceqlIndexForm {
  readonly type: TagType;
  readonly value: string;
}

/**
 * traceqlIndexForm is the TraceQL form of a scalar AnyValue (undefined for
 * NaN, bytes, key-value lists, empty values and arrays, which no TraceQL
 * equality with a literal can hold; arrays match by element, see
 * traceqlElementForms).
 */
export function traceqlIndexForm(v: AnyValue): TraceqlIndexForm | undefined {
  switch (v.type) {
    case 'string':
      return { type: 'string', value: v.value };
    case 'int':
      return { type: 'int', value: canonicalNumber(v.value) };
    case 'double':
      return Number.isNaN(v.value) ? undefined : { type: 'int', value: canonicalNumber(v.value) };
    case 'bool':
      return { type: 'bool', value: v.value ? 'true' : 'false' };
    default:
      return undefined;
  }
}

function termKey(field: number, key: string, value: string): string {
  // JSON keeps any key or value (NUL, '=' included) unambiguous.
  return JSON.stringify([field, key, value]);
}

/** valueTermKey is the skipped-terms item of a TraceQL value term key = value (traceqlIndexForm), as the blooms and page filters hold it. */
export function valueTermKey(key: string, value: string): string {
  return termKey(IndexField.value, key, value);
}

/** attrTermKey is the skipped-terms item of the attribute equality key = value (tag form, attrIndexValue), as the blooms and page filters hold it. */
export function attrTermKey(key: string, value: string): string {
  return termKey(IndexField.attr, key, value);
}

/** TermCollector gathers ordinal lists per term while rows are added in order. Bounded by the limits it enforces. */
class TermCollector {
  /**
   * #byField maps field, then key, then value to the term: a flush adds one term per row and
   * attribute, and a JSON termKey for each lookup was a fifth of a flush's allocation (2 arrays
   * and a string per call); nested maps look a term up without building a key.
   */
  readonly #byField = new Map<number, Map<string, Map<string, CollectedTerm>>>();
  /** #order holds the terms in first-added order, removed ones (skip) marked dead; the index writes them in this order. */
  readonly #order: CollectedTerm[] = [];
  #live = 0;
  /** keyFlags are the OR of the flags of every indexable value of each attribute key (kept for the skipped keys' flags). */
  readonly keyFlags = new Map<string, number>();
  readonly attrValues = new Map<string, Set<string>>();
  readonly skipped = new Set<string>();
  /** skippedTerms are termKey(attr, key, value) of every indexable value of a skipped key, and termKey(value, key, value) of a skipped value key (for the skipped-terms bloom). */
  readonly skippedTerms = new Set<string>();
  /** valueValues and valueSkipped are attrValues and skipped for the value terms (their own accounting, the same limits). */
  readonly valueValues = new Map<string, Set<string>>();
  readonly valueSkipped = new Set<string>();
  /**
   * #pageTerms, when the collector was given pageRows, are skippedTerms page by page: page p's set
   * holds what skippedTermsOfRow gives for its rows once the skipped sets are final (a key skipped
   * late puts its earlier values' terms on the pages of their rows). Bounded by the block's rows.
   */
  readonly #pageTerms: Set<string>[] | null;
  readonly #pageRows: number;

  constructor(pageRows = 0) {
    assert(Number.isSafeInteger(pageRows) && pageRows >= 0, 'pageRows is 0 (no page terms) or a page size');
    this.#pageRows = pageRows;
    this.#pageTerms = pageRows === 0 ? null : [];
  }

  /** pageTerms are page p's skipped terms (empty for a page without any); only for a collector given pageRows. */
  pageTerms(p: number): Set<string> {
    assert(this.#pageTerms !== null, 'page terms are kept when asked for');
    return this.#pageTerms[p] ?? new Set();
  }

  /** #skippedAt notes that `row` carries the skipped term tk: the block-level set and, when kept, its page's. */
  #skippedAt(row: number, tk: string): void {
    this.skippedTerms.add(tk);
    if (this.#pageTerms === null) return;
    const p = Math.floor(row / this.#pageRows);
    let terms = this.#pageTerms[p];
    if (terms === undefined) {
      terms = new Set();
      this.#pageTerms[p] = terms;
    }
    terms.add(tk);
  }

  /** #skipTerm drops the term (field, key, value) as its key is skipped: its rows carry a skipped term now. */
  #skipTerm(field: number, key: string, value: string): void {
    const tk = termKey(field, key, value);
    const t = this.#remove(field, key, value);
    this.skippedTerms.add(tk);
    if (t !== undefined) for (const row of termRows(t)) this.#skippedAt(row, tk);
  }

  /** terms are the live terms in first-added order. */
  terms(): CollectedTerm[] {
    const out = this.#order.filter((t) => !t.dead);
    assert(out.length === this.#live, 'the live count follows the terms');
    return out;
  }

  add(field: number, key: string, value: string, row: number, flags = 0): void {
    let byKey = this.#byField.get(field);
    if (byKey === undefined) {
      byKey = new Map();
      this.#byField.set(field, byKey);
    }
    let byValue = byKey.get(key);
    if (byValue === undefined) {
      byValue = new Map();
      byKey.set(key, byValue);
    }
    let t = byValue.get(value);
    if (t === undefined) {
      t = { field, key, value, flags: 0, rows: new Uint32Array(TERM_ROWS_FIRST), n: 0, dead: false };
      byValue.set(value, t);
      this.#order.push(t);
      this.#live++;
    }
    t.flags |= flags;
    // A row may carry one term twice (the same key=value on span and resource): keep ordinals strictly increasing.
    if (t.n > 0 && t.rows[t.n - 1] === row) return;
    assert(t.n === 0 || (t.rows[t.n - 1] as number) < row, 'rows are added in order');
    if (t.n === t.rows.length) {
      const grown = new Uint32Array(t.rows.length * 2);
      grown.set(t.rows);
      t.rows = grown;
    }
    t.rows[t.n++] = row;
  }

  addAttr(kv: KeyValue, row: number, scope: TagScope): void {
    const value = attrIndexValue(kv.value);
    const type = attrTagType(kv.value);
    const flags = type === undefined ? 0 : termFlag(scope, type);
    if (flags !== 0) this.keyFlags.set(kv.key, (this.keyFlags.get(kv.key) ?? 0) | flags);
    if (this.skipped.has(kv.key)) {
      if (value !== undefined) this.#skippedAt(row, termKey(IndexField.attr, kv.key, value));
      return;
    }
    if (value === undefined) return;
    let values = this.attrValues.get(kv.key);
    if (values === undefined) {
      if (this.attrValues.size >= SpanBlockLimits.indexedKeysMax) {
        this.skipped.add(kv.key);
        this.#skippedAt(row, termKey(IndexField.attr, kv.key, value));
        return;
      }
      values = new Set();
      this.attrValues.set(kv.key, values);
    }
    values.add(value);
    if (values.size > SpanBlockLimits.attrValuesPerKeyMax || value.length > SpanBlockLimits.attrValueBytesMax) {
      this.skip(kv.key, values);
      // This row's value has no term (it made the key skipped): its term is the row's own.
      this.#skippedAt(row, termKey(IndexField.attr, kv.key, value));
      return;
    }
    this.add(IndexField.attr, kv.key, value, row, flags);
  }

  /**
   * addValueTerms indexes what TraceQL finds in kv and the tag-form term
   * does not hold: a scalar double, or the scalar elements of an array, as
   * value terms (traceqlIndexForm).
   */
  addValueTerms(kv: KeyValue, row: number, scope: TagScope): void {
    const v = kv.value;
    if (v.type === 'double') {
      const f = traceqlIndexForm(v);
      if (f !== undefined) this.addValue(kv.key, f, row, scope);
    } else if (v.type === 'array') {
      for (const e of v.values) {
        const f = traceqlIndexForm(e);
        if (f !== undefined) this.addValue(kv.key, f, row, scope);
      }
    }
  }

  addValue(key: string, f: TraceqlIndexForm, row: number, scope: TagScope): void {
    const tk = termKey(IndexField.value, key, f.value);
    if (this.valueSkipped.has(key)) {
      this.#skippedAt(row, tk);
      return;
    }
    let values = this.valueValues.get(key);
    if (values === undefined) {
      if (this.valueValues.size >= SpanBlockLimits.indexedKeysMax) {
        this.valueSkipped.add(key);
        this.#skippedAt(row, tk);
        return;
      }
      values = new Set();
      this.valueValues.set(key, values);
    }
    values.add(f.value);
    if (values.size > SpanBlockLimits.attrValuesPerKeyMax || f.value.length > SpanBlockLimits.attrValueBytesMax) {
      for (const x of values) this.#skipTerm(IndexField.value, key, x);
      this.valueValues.delete(key);
      this.valueSkipped.add(key);
      this.#skippedAt(row, tk);
      return;
    }
    this.add(IndexField.value, key, f.value, row, termFlag(scope, f.type));
  }

  skip(key: string, values: Set<string>): void {
    for (const v of values) this.#skipTerm(IndexField.attr, key, v);
    this.attrValues.delete(key);
    this.skipped.add(key);
    assert(!this.attrValues.has(key), 'a skipped key has no values');
  }

  /** #remove drops a term (a key skipped after some of its values were indexed) and returns it; a term not added is no-op (undefined). */
  #remove(field: number, key: string, value: string): CollectedTerm | undefined {
    const byValue = this.#byField.get(field)?.get(key);
    const t = byValue?.get(value);
    if (byValue === undefined || t === undefined) return undefined;
    byValue.delete(value);
    assert(!t.dead, 'a term is removed once');
    t.dead = true;
    this.#live--;
    return t;
  }
}

/**
 * CollectedTerm is one term of a block being indexed: its rows (ordinals, increasing) and flags.
 * The rows are a typed list grown by doubling (`rows[0..n)` used), not a JS array: a block's
 * postings live from its first page to its last, so as JS arrays (8 B an element, and each
 * growth's old store) nearly all of them were promoted to the old generation in every flush;
 * a list past 16 rows keeps its elements outside the JS heap.
 */
interface CollectedTerm {
  readonly field: number;
  readonly key: string;
  readonly value: string;
  flags: number;
  rows: Uint32Array;
  n: number;
  dead: boolean;
}

/** TERM_ROWS_FIRST is a new term's row capacity (most terms of a block hold a few rows). */
const TERM_ROWS_FIRST = 4;

/** termRows are the term's rows in order (a view, no copy). */
function termRows(t: CollectedTerm): Uint32Array {
  assert(t.n <= t.rows.length, 'a term holds at most its capacity');
  return t.rows.subarray(0, t.n);
}



/**
 * encodeSpanBlockIndex builds and seals the index of the block
 * encodeSpanBlock(spans) makes (row ordinal i is spans[i]). With
 * `skippedTermsFilter` false the skipped-terms bloom is left out (0 bytes,
 * as for a block without skipped keys): the traces store does so since its
 * page filters of version 2 (page-filters.ts) hold the same terms page by
 * page, so the block-level filter would store them twice.
 */
export function encodeSpanBlockIndex(spans: readonly SpanRow[], options: { readonly skippedTermsFilter?: boolean } = {}): Uint8Array {
  const b = new SpanIndexBuilder();
  b.add(spans);
  return b.finish(options);
}

/**
 * SpanIndexBuilder is encodeSpanBlockIndex batch by batch: add(spans)
 * indexes the next rows of the block (ordinals continue from the rows added
 * before), finish seals the index of every row added, in the same bytes
 * encodeSpanBlockIndex writes for them in one array. A flush adds a page at
 * a time so no decoded row outlives its page (block-write.ts).
 */
export class SpanIndexBuilder {
  readonly #c: TermCollector;
  readonly #traceIds: Uint8Array[] = [];
  readonly #seen = new Set<string>();
  #rows = 0;
  #sealed = false;

  /**
   * With `pageRows` the builder also keeps each page's skipped terms (pageTerms), the items the page
   * filters hold (page-filters.ts), so a flush builds them without decoding the block's rows again.
   */
  constructor(pageRows = 0) {
    this.#c = new TermCollector(pageRows);
  }

  /** pageTerms are page p's skipped-terms items, what skippedTermsOfRow gives for its rows under the finished index's skipped sets (a builder given pageRows, after finish). */
  pageTerms(p: number): Set<string> {
    assert(this.#sealed, 'page terms are final once the index is');
    return this.#c.pageTerms(p);
  }

  /** add indexes `spans` as the block's next rows. */
  add(spans: readonly SpanRow[]): void {
    assert(!this.#sealed, 'rows are added before finish');
    if (this.#rows + spans.length > SpanBlockLimits.rowsMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `span block of ${this.#rows + spans.length} rows exceeds SpanBlockLimits.rowsMax (${SpanBlockLimits.rowsMax})`);
    }
    const c = this.#c;
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i] as SpanRow;
      const row = this.#rows + i;
      c.add(IndexField.service, '', serviceOf(s.resource), row);
      c.add(IndexField.name, '', s.name, row);
      c.add(IndexField.kind, '', String(s.kind), row);
      c.add(IndexField.status, '', String(s.status.code), row);
      for (const kv of s.attributes) {
        c.addAttr(kv, row, 'span');
        c.addValueTerms(kv, row, 'span');
      }
      for (const kv of s.resource.attributes) {
        c.addAttr(kv, row, 'resource');
        c.addValueTerms(kv, row, 'resource');
      }
      const idKey = Buffer.from(s.traceId.buffer, s.traceId.byteOffset, s.traceId.byteLength).toString('latin1');
      if (!this.#seen.has(idKey)) {
        this.#seen.add(idKey);
        this.#traceIds.push(s.traceId);
      }
    }
    this.#rows += spans.length;
  }

  /** finish seals the index of the rows added (see encodeSpanBlockIndex for `skippedTermsFilter`). */
  finish(options: { readonly skippedTermsFilter?: boolean } = {}): Uint8Array {
    assert(!this.#sealed, 'an index is sealed once');
    this.#sealed = true;
    return sealIndex(this.#c, this.#traceIds, this.#rows, options);
  }
}

function sealIndex(c: TermCollector, traceIds: readonly Uint8Array[], rows: number, options: { readonly skippedTermsFilter?: boolean }): Uint8Array {
  const bloom = encodeBloom(buildBloom(traceIds, SpanBlockLimits.bloomFalsePositiveTarget));
  const w = new ByteWriter();
  const pw = new ByteWriter();
  w.u8(SPAN_INDEX_FORMAT_VERSION);
  w.uvarint(rows);
  w.uvarint(bloom.length);
  w.raw(bloom);
  const skipped = [...c.skipped].sort();
  w.uvarint(skipped.length);
  for (const k of skipped) {
    const flags = c.keyFlags.get(k) ?? 0;
    assert(flags !== 0 && flags <= TERM_FLAGS_ALL, 'a skipped key had an indexable value');
    w.str(k);
    w.u8(flags);
  }
  const skippedValueKeys = [...c.valueSkipped].sort();
  w.uvarint(skippedValueKeys.length);
  for (const k of skippedValueKeys) w.str(k);
  if (options.skippedTermsFilter === false || c.skippedTerms.size === 0 || c.skippedTerms.size > SpanBlockLimits.skippedTermsMax) {
    w.uvarint(0);
  } else {
    const terms = encodeBloom(buildBloom([...c.skippedTerms], SpanBlockLimits.skippedTermsFalsePositiveTarget));
    w.uvarint(terms.length);
    w.raw(terms);
  }
  const lists: Uint8Array[] = [];
  const listIds = new Map<string, number>();
  const termList: number[] = [];
  const terms = c.terms();
  for (const t of terms) {
    const p = encodePostings(termRows(t), pw);
    const key = Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('latin1');
    let id = listIds.get(key);
    if (id === undefined) {
      id = lists.length;
      listIds.set(key, id);
      lists.push(p);
    }
    termList.push(id);
  }
  assert(termList.length === terms.length, 'every term has a list');
  w.uvarint(lists.length);
  for (const p of lists) {
    w.uvarint(p.length);
    w.raw(p);
  }
  w.uvarint(terms.length);
  let i = 0;
  for (const t of terms) {
    assert((t.flags !== 0) === (t.field === IndexField.attr || t.field === IndexField.value), 'attribute and value terms and only they have flags');
    w.u8(t.field);
    w.str(t.key);
    w.str(t.value);
    w.u8(t.flags);
    w.uvarint(termList[i++] as number);
  }
  return sealBlock(BlockKind.postings, w.finish());
}

/** SpanBlockIndex is a decoded index; postings stay encoded until a query decodes the few it needs. */
export interface SpanBlockIndex {
  readonly rows: number;
  readonly bloom: BlockBloom;
  /** skippedKeys are the attribute keys this block does not index (too many values, too long a value, too many keys). */
  readonly skippedKeys: ReadonlySet<string>;
  /** skippedKeyFlags maps each skipped key to its TermFlag bits (FORMAT1_ATTR_FLAGS in a format-1 index). */
  readonly skippedKeyFlags: ReadonlyMap<string, number>;
  /** terms lists every term with its TermFlag bits (attribute terms only; FORMAT1_ATTR_FLAGS in a format-1 index), in stored order. */
  readonly terms: readonly IndexTerm[];
  /** skippedTerms may hold each termKey(attr, key, value) of a skipped key's values; null: no filter (format 1, or none was built), so every skipped-key value may be present. */
  readonly skippedTerms: BlockBloom | null;
  /** postings maps termKey(field, key, value) to its encoded postings. */
  readonly postings: ReadonlyMap<string, Uint8Array>;
  /** formatVersion is the index's format: below 3 it has no value terms, so TraceQL attribute equalities never prune it. */
  readonly formatVersion: number;
  /** skippedValueKeys are the keys whose value terms this block does not index (format 3; empty before). */
  readonly skippedValueKeys: ReadonlySet<string>;
  /** termFlags maps termKey of every attribute and value term to its TermFlag bits. */
  readonly termFlags: ReadonlyMap<string, number>;
}

/** IndexTerm is one stored term of an index: its field, key ('' but for attributes), value and flags. */
export interface IndexTerm {
  readonly field: IndexFieldValue;
  readonly key: string;
  readonly value: string;
  readonly flags: number;
}

/** decodeSpanBlockIndex opens a sealed index (ERR_CORRUPTION on any bad byte). */
export function decodeSpanBlockIndex(bytes: Uint8Array): SpanBlockIndex {
  const r = new ByteReader(openBlock(bytes, BlockKind.postings));
  const version = r.u8();
  if (version !== SPAN_INDEX_FORMAT_VERSION && version !== SPAN_INDEX_FORMAT_VERSION_NO_VALUE_TERMS && version !== SPAN_INDEX_FORMAT_VERSION_NO_TERMS_BLOOM) {
    throw corrupt(`span index format version ${version} is not one of ${SPAN_INDEX_FORMAT_VERSION_NO_TERMS_BLOOM}..${SPAN_INDEX_FORMAT_VERSION}`);
  }
  const rows = r.uvarint();
  if (rows > SpanBlockLimits.rowsMax) throw corrupt(`span index of ${rows} rows is past rowsMax`);
  const bloom = decodeBloom(r.take(r.uvarint()));
  const skippedCount = r.uvarint();
  if (skippedCount > r.remaining) throw corrupt(`span index claims ${skippedCount} skipped keys`);
  const skippedKeys = new Set<string>();
  const skippedKeyFlags = new Map<string, number>();
  const flagged = version >= SPAN_INDEX_FORMAT_VERSION_NO_VALUE_TERMS;
  const valued = version >= SPAN_INDEX_FORMAT_VERSION;
  for (let i = 0; i < skippedCount; i++) {
    const key = r.str(L.stringBytesMax, 'skipped key');
    const flags = flagged ? r.u8() : FORMAT1_ATTR_FLAGS;
    if (flags === 0 || flags > TERM_FLAGS_ALL) throw corrupt(`span index skipped key flags ${flags}`);
    skippedKeys.add(key);
    skippedKeyFlags.set(key, flags);
  }
  const skippedValueKeys = new Set<string>();
  if (valued) {
    const n = r.uvarint();
    if (n > r.remaining) throw corrupt(`span index claims ${n} skipped value keys`);
    for (let i = 0; i < n; i++) skippedValueKeys.add(r.str(L.stringBytesMax, 'skipped value key'));
    if (skippedValueKeys.size !== n) throw corrupt('span index names a skipped value key twice');
  }
  let skippedTerms: BlockBloom | null = null;
  if (flagged) {
    const n = r.uvarint();
    if (n > r.remaining) throw corrupt(`span index claims a ${n}-byte skipped-terms filter`);
    if (n > 0) skippedTerms = decodeBloom(r.take(n));
    if (skippedTerms !== null && skippedKeys.size === 0 && skippedValueKeys.size === 0) throw corrupt('span index has a skipped-terms filter without skipped keys');
  }
  const listCount = r.uvarint();
  if (listCount > r.remaining) throw corrupt(`span index claims ${listCount} postings lists`);
  const lists: Uint8Array[] = [];
  for (let i = 0; i < listCount; i++) lists.push(r.take(r.uvarint()));
  const termCount = r.uvarint();
  if (termCount > r.remaining) throw corrupt(`span index claims ${termCount} terms`);
  const postings = new Map<string, Uint8Array>();
  const terms: IndexTerm[] = [];
  const termFlags = new Map<string, number>();
  for (let i = 0; i < termCount; i++) {
    const field = r.u8();
    if (field > (valued ? FIELD_MAX : IndexField.attr)) throw corrupt(`span index term field ${field}`);
    const key = r.str(L.stringBytesMax, 'term key');
    const value = r.str(L.stringBytesMax, 'term value');
    const isAttr = field === IndexField.attr || field === IndexField.value;
    const flags = flagged ? r.u8() : isAttr ? FORMAT1_ATTR_FLAGS : 0;
    if (flags > TERM_FLAGS_ALL || (flags !== 0) !== isAttr) throw corrupt(`span index term flags ${flags} for field ${field}`);
    const list = r.uvarint();
    if (list >= listCount) throw corrupt(`span index term names list ${list} of ${listCount}`);
    const k = termKey(field, key, value);
    if (postings.has(k)) throw corrupt('span index names a term twice');
    postings.set(k, lists[list] as Uint8Array);
    if (isAttr) termFlags.set(k, flags);
    terms.push({ field: field as IndexFieldValue, key, value, flags });
  }
  if (r.remaining !== 0) throw corrupt(`span index has ${r.remaining} trailing bytes`);
  assert(terms.length === postings.size, 'one postings entry per term');
  assert(termFlags.size <= terms.length, 'flags only for terms');
  return { rows, bloom, skippedKeys, skippedKeyFlags, skippedTerms, postings, terms, formatVersion: version, skippedValueKeys, termFlags };
}

/** SpanPredicate is a conjunction: a row matches when every given field matches. */
export interface SpanPredicate {
  readonly service?: string;
  readonly name?: string;
  readonly kind?: SpanKind;
  readonly status?: StatusCode;
  /** attrs match a span or resource attribute whose key is equal and whose attrIndexValue is equal. */
  readonly attrs?: readonly (readonly [string, string])[];
  readonly traceId?: Uint8Array;
  /** minDurationNs and maxDurationNs bound end − start, inclusive. */
  readonly minDurationNs?: bigint;
  readonly maxDurationNs?: bigint;
  /** match is a further condition (TraceQL's pushdown, query/traceql/pushdown.ts): a span matches only where it may hold (see SpanMatch). */
  readonly match?: SpanMatch;
}

/**
 * spanPredicate is `p` in the one shape every SpanPredicate a query path
 * makes has: all its fields, in one order (an absent one undefined). A
 * predicate built from a URL, lowered from the query IR, decoded from a
 * peer's frame or extended with TraceQL's match would otherwise be an
 * object of another map each (other fields present, other literal sites):
 * the searches' code optimised on one deoptimises ("wrong map") at the
 * first of another, which is a node's first searches after a restart
 * (bench/README.md, query-traces, s23).
 */
export function spanPredicate(p: SpanPredicate): SpanPredicate {
  return {
    service: p.service,
    name: p.name,
    kind: p.kind,
    status: p.status,
    attrs: p.attrs,
    traceId: p.traceId,
    minDurationNs: p.minDurationNs,
    maxDurationNs: p.maxDurationNs,
    match: p.match,
  };
}

/**
 * SpanMatch is a positive formula (no negation) over span conditions, so
 * TraceQL can push `&&`, `||` and attribute equalities into the indexes.
 * Its meaning is an over-approximation, the same on every path (index,
 * block scan, head, spanMatchHolds): `attr` holds when some attribute of the
 * scope ('any': span or resource) with that key has, as a scalar or as an
 * element of an array, the TraceQL form (traceqlIndexForm) `type`, `value`.
 * An empty `and` holds, an empty `or` does not. The index may answer more
 * rows than hold (postings merge scopes and types), never fewer.
 */
export type SpanMatch =
  | { readonly kind: 'and' | 'or'; readonly args: readonly SpanMatch[] }
  | { readonly kind: 'attr'; readonly scope: TagScope | 'any'; readonly key: string; readonly type: TagType; readonly value: string }
  | { readonly kind: 'name'; readonly value: string }
  | { readonly kind: 'status'; readonly code: StatusCode }
  | { readonly kind: 'spanKind'; readonly value: SpanKind };

/** valueHolds says whether an attribute value is, or holds as an array element, the TraceQL form (type, value). */
function valueHolds(v: AnyValue, type: TagType, value: string): boolean {
  if (v.type === 'array') {
    for (const e of v.values) {
      const f = traceqlIndexForm(e);
      if (f !== undefined && f.type === type && f.value === value) return true;
    }
    return false;
  }
  const f = traceqlIndexForm(v);
  return f !== undefined && f.type === type && f.value === value;
}

function listHolds(list: readonly KeyValue[], key: string, type: TagType, value: string): boolean {
  for (const kv of list) if (kv.key === key && valueHolds(kv.value, type, value)) return true;
  return false;
}

/** SpanMatchFacts are what spanMatchHolds reads of a span; intrinsics null: unknown (their atoms hold, as an over-approximation). */
interface SpanMatchFacts {
  readonly attributes: readonly KeyValue[];
  readonly resourceAttributes: readonly KeyValue[];
  readonly intrinsics: { readonly name: string; readonly status: StatusCode; readonly kind: SpanKind } | null;
}

function holds(m: SpanMatch, f: SpanMatchFacts): boolean {
  switch (m.kind) {
    case 'and':
      return m.args.every((a) => holds(a, f));
    case 'or':
      return m.args.some((a) => holds(a, f));
    case 'attr':
      return (
        (m.scope !== 'resource' && listHolds(f.attributes, m.key, m.type, m.value)) ||
        (m.scope !== 'span' && listHolds(f.resourceAttributes, m.key, m.type, m.value))
      );
    case 'name':
      return f.intrinsics === null || f.intrinsics.name === m.value;
    case 'status':
      return f.intrinsics === null || f.intrinsics.status === m.code;
    case 'spanKind':
      return f.intrinsics === null || f.intrinsics.kind === m.value;
  }
}

/** spanMatchHolds evaluates a SpanMatch on one whole span (the head's and a full scan's path). */
export function spanMatchHolds(s: SpanRow, m: SpanMatch): boolean {
  return holds(m, { attributes: s.attributes, resourceAttributes: s.resource.attributes, intrinsics: { name: s.name, status: s.status.code, kind: s.kind } });
}

function scopeFlags(scope: TagScope | 'any', type: TagType): number {
  return scope === 'any' ? termFlag('span', type) | termFlag('resource', type) : termFlag(scope, type);
}

function mayBeSkippedTerm(idx: SpanBlockIndex, field: number, key: string, value: string): boolean {
  return idx.skippedTerms === null || bloomHas(idx.skippedTerms, termKey(field, key, value));
}

/**
 * AtomPlan is how the index answers one attr atom in one block: `lists` are
 * the postings to unite (terms whose flags say the scope and type occur),
 * `scan` says a skipped key may hold the value, so every row may (the rows
 * are then checked on the block's columns), `exact` false says the index
 * cannot tell at all (format < 3): the block is never skipped for it, and
 * its rows are checked on the columns.
 */
interface AtomPlan {
  readonly lists: Uint8Array[];
  readonly scan: boolean;
  readonly exact: boolean;
}

function planAtom(idx: SpanBlockIndex, m: Extract<SpanMatch, { kind: 'attr' }>): AtomPlan {
  if (idx.formatVersion < SPAN_INDEX_FORMAT_VERSION) return { lists: [], scan: false, exact: false };
  const want = scopeFlags(m.scope, m.type);
  const lists: Uint8Array[] = [];
  let scan = false;
  // The tag-form terms hold scalar strings, ints and bools under the same form (a double is never there).
  if (idx.skippedKeys.has(m.key)) {
    if (((idx.skippedKeyFlags.get(m.key) ?? 0) & want) !== 0 && mayBeSkippedTerm(idx, IndexField.attr, m.key, m.value)) scan = true;
  } else {
    const k = termKey(IndexField.attr, m.key, m.value);
    const p = idx.postings.get(k);
    if (p !== undefined && ((idx.termFlags.get(k) ?? 0) & want) !== 0) lists.push(p);
  }
  if (idx.skippedValueKeys.has(m.key)) {
    if (mayBeSkippedTerm(idx, IndexField.value, m.key, m.value)) scan = true;
  } else {
    const k = termKey(IndexField.value, m.key, m.value);
    const p = idx.postings.get(k);
    if (p !== undefined && ((idx.termFlags.get(k) ?? 0) & want) !== 0) lists.push(p);
  }
  return { lists, scan, exact: true };
}

/** matchMayHold says from the index alone whether some row of the block may satisfy m (false: skip the block). */
function matchMayHold(idx: SpanBlockIndex, m: SpanMatch): boolean {
  switch (m.kind) {
    case 'and':
      return m.args.every((a) => matchMayHold(idx, a));
    case 'or':
      return m.args.some((a) => matchMayHold(idx, a));
    case 'attr': {
      const plan = planAtom(idx, m);
      return !plan.exact || plan.scan || plan.lists.length > 0;
    }
    case 'name':
      return idx.postings.has(termKey(IndexField.name, '', m.value));
    case 'status':
      return idx.postings.has(termKey(IndexField.status, '', String(m.code)));
    case 'spanKind':
      return idx.postings.has(termKey(IndexField.kind, '', String(m.value)));
  }
}

/** MatchRows are the candidate rows of a SpanMatch in one block: null is every row; check says rows must still be checked on the columns. */
interface MatchRows {
  readonly rows: Uint32Array | null;
  readonly check: boolean;
}

function postingsRows(p: Uint8Array, rows: number): Uint32Array {
  const ids = decodePostings(p);
  if (ids.length > 0 && (ids[ids.length - 1] as number) >= rows) throw corrupt(`span index postings name row ${ids[ids.length - 1]} of a ${rows}-row block`);
  return ids;
}

/**
 * matchRows are the rows the postings leave for m: an atom's united
 * postings (all rows when a skipped key may hold it, or when the format
 * cannot tell); `and` intersects, `or` unites. check is set when such an
 * atom took every row, so the caller checks rows on the columns.
 */
function matchRows(idx: SpanBlockIndex, m: SpanMatch, intersect: (a: Uint32Array, b: Uint32Array) => Uint32Array): MatchRows {
  switch (m.kind) {
    case 'and': {
      let rows: Uint32Array | null = null;
      let check = false;
      for (const a of m.args) {
        const r = matchRows(idx, a, intersect);
        check ||= r.check;
        if (r.rows !== null) rows = rows === null ? r.rows : intersect(rows, r.rows);
        if (rows !== null && rows.length === 0) return { rows, check: false };
      }
      return { rows, check };
    }
    case 'or': {
      let rows: Uint32Array = new Uint32Array(0);
      let check = false;
      for (const a of m.args) {
        const r = matchRows(idx, a, intersect);
        check ||= r.check;
        if (r.rows === null) return { rows: null, check };
        rows = union(rows, r.rows);
      }
      return { rows, check };
    }
    case 'attr': {
      const plan = planAtom(idx, m);
      // A skipped key, or a format that cannot tell: every row may hold, so the rows are checked on the columns.
      if (!plan.exact || plan.scan) return { rows: null, check: true };
      let rows: Uint32Array = new Uint32Array(0);
      for (const p of plan.lists) rows = union(rows, postingsRows(p, idx.rows));
      return { rows, check: false };
    }
    case 'name':
    case 'status':
    case 'spanKind': {
      const k = m.kind === 'name' ? termKey(IndexField.name, '', m.value) : m.kind === 'status' ? termKey(IndexField.status, '', String(m.code)) : termKey(IndexField.kind, '', String(m.value));
      const p = idx.postings.get(k);
      return { rows: p === undefined ? new Uint32Array(0) : postingsRows(p, idx.rows), check: false };
    }
  }
}

/** SpanQueryStats says how much work the index saved. */
export interface SpanQueryStats {
  /** rowsScanned is how many candidate rows were checked against columns (0 when the postings answered alone). */
  rowsScanned: number;
  /** prunedByIndex is how many of the block's rows the postings (or the bloom filter) excluded. */
  prunedByIndex: number;
  /** bloomSkipped says the trace-id bloom filter excluded the whole block. */
  bloomSkipped: boolean;
}

/** SpanQueryResult is the matching row ordinals, ascending, and the stats. */
export interface SpanQueryResult {
  readonly rows: Uint32Array;
  readonly stats: SpanQueryStats;
}

/**
 * SpanQueryOptions inject the postings intersection (the codec's by
 * default), so a test can plant a broken one and see the oracle catch it.
 */
export interface SpanQueryOptions {
  readonly intersect?: (a: Uint32Array, b: Uint32Array) => Uint32Array;
}

function idEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hasAttr(list: readonly KeyValue[], key: string, value: string): boolean {
  for (const kv of list) if (kv.key === key && attrIndexValue(kv.value) === value) return true;
  return false;
}

/** splitTerms sorts a predicate into the index terms its postings answer and the attribute pairs of skipped keys. */
function splitTerms(idx: SpanBlockIndex, predicate: SpanPredicate): { terms: string[]; scanAttrs: (readonly [string, string])[] } {
  const terms: string[] = [];
  if (predicate.service !== undefined) terms.push(termKey(IndexField.service, '', predicate.service));
  if (predicate.name !== undefined) terms.push(termKey(IndexField.name, '', predicate.name));
  if (predicate.kind !== undefined) terms.push(termKey(IndexField.kind, '', String(predicate.kind)));
  if (predicate.status !== undefined) terms.push(termKey(IndexField.status, '', String(predicate.status)));
  const scanAttrs: (readonly [string, string])[] = [];
  for (const [key, value] of predicate.attrs ?? []) {
    if (idx.skippedKeys.has(key)) scanAttrs.push([key, value]);
    else terms.push(termKey(IndexField.attr, key, value));
  }
  return { terms, scanAttrs };
}

/**
 * skippedTermsOfRow are the items a span adds to its block's skipped-terms
 * bloom, given the block's skipped keys and skipped value keys: key=value
 * (attrIndexValue) of each span and resource attribute of a skipped key,
 * and the value terms (traceqlIndexForm of a double or of an array's
 * elements) of a skipped value key — what TermCollector adds for the row
 * once the block's skipped sets are final. page-filters.ts builds each
 * page's filter of its rows' items, the block's filter restricted to the page.
 */
export function skippedTermsOfRow(s: SpanRow, skippedKeys: ReadonlySet<string>, skippedValueKeys: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const attrs of [s.attributes, s.resource.attributes]) {
    for (const kv of attrs) {
      if (skippedKeys.has(kv.key)) {
        const v = attrIndexValue(kv.value);
        if (v !== undefined) out.push(termKey(IndexField.attr, kv.key, v));
      }
      if (!skippedValueKeys.has(kv.key)) continue;
      const v = kv.value;
      const elements = v.type === 'double' ? [v] : v.type === 'array' ? v.values : [];
      for (const e of elements) {
        const f = traceqlIndexForm(e);
        if (f !== undefined) out.push(termKey(IndexField.value, kv.key, f.value));
      }
    }
  }
  return out;
}

/** scanAttrsOf are the predicate's attribute equalities whose key the block does not index (the ones its skipped-terms bloom answers). */
export function scanAttrsOf(idx: SpanBlockIndex, predicate: SpanPredicate): (readonly [string, string])[] {
  return splitTerms(idx, predicate).scanAttrs;
}

/**
 * indexExcludes says from the index alone that no row of the block can match
 * `predicate`, so a caller can skip reading the block: 'bloom' when the
 * trace-id filter lacks the trace or the skipped-terms filter lacks a skipped
 * key's value; 'index' when an indexed term has no postings; null when rows
 * may match.
 */
export function indexExcludes(idx: SpanBlockIndex, predicate: SpanPredicate): 'bloom' | 'index' | null {
  if (predicate.traceId !== undefined && !bloomHas(idx.bloom, predicate.traceId)) return 'bloom';
  const { terms, scanAttrs } = splitTerms(idx, predicate);
  for (const t of terms) if (!idx.postings.has(t)) return 'index';
  if (idx.skippedTerms !== null) {
    for (const [key, value] of scanAttrs) if (!bloomHas(idx.skippedTerms, termKey(IndexField.attr, key, value))) return 'bloom';
  }
  if (predicate.match !== undefined && !matchMayHold(idx, predicate.match)) return 'index';
  return null;
}

/** INT_OR_BOOL_FORM matches the values an int or bool attribute can have as attrIndexValue: their bytes need not appear in a record. */
const INT_OR_BOOL_FORM = /^(-?\d+|true|false)$/;
/** SURROGATE matches any UTF-16 surrogate: a value holding one is not byte-searched (its UTF-8 form is not certain). */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * valueNeedle is the UTF-8 bytes a span record holds when one of its span
 * attributes equals `value` (as attrIndexValue), or null when the bytes
 * cannot decide (empty, an int or bool form, a UTF-16 surrogate): the same
 * rule rowsHolding sweeps by. page-filters.ts skips a page whose value lacks
 * them (unless the block's head holds them: a resource may).
 */
export function valueNeedle(value: string): Uint8Array | null {
  if (value.length === 0 || INT_OR_BOOL_FORM.test(value) || SURROGATE.test(value)) return null;
  return Buffer.from(value, 'utf8');
}

/**
 * rowsHolding marks the rows whose rest record holds the UTF-8 bytes of
 * `value` (one Buffer.indexOf sweep over the whole rest column), or returns
 * null when the bytes cannot decide (see below). Sound because a span
 * attribute equal to `value` as attrIndexValue is a string attribute (int
 * and bool forms are excluded) stored as a msgpack str, whose UTF-8 bytes
 * sit whole inside the row's record; the record's key is a dictionary id,
 * so the key is checked by decoding the marked rows only. A resource
 * attribute is not in the record but in the block's resource table: if any
 * resource holds key=value, every row is kept (null). A mark is a
 * necessary condition only (a value may be a substring of another, or
 * straddle two records): marked rows are still decoded and checked.
 */
function rowsHolding(rest: SpanRest, column: Uint8Array, key: string, value: string): Uint8Array | null {
  if (value.length === 0 || INT_OR_BOOL_FORM.test(value) || SURROGATE.test(value)) return null;
  for (const r of rest.resources) if (hasAttr(r.attributes, key, value)) return null;
  return sweepMarks(rest, column, value);
}

/**
 * matchBytes is rowsHolding for a SpanMatch: marks the rows whose record
 * may satisfy m, or null when the bytes cannot decide (every row may). An
 * attr atom of type string, non-empty and surrogate-free, needs its UTF-8
 * bytes in the record of a span holding it (a string attribute or array
 * element is a msgpack str in the record), unless a resource holds it (for
 * scope span the resources do not count; for scope resource the record
 * never does). `and` keeps rows marked by every decided part, `or` rows
 * marked by some part (null if a part is undecided). Other atoms are
 * undecided.
 */
function matchBytes(rest: SpanRest, column: Uint8Array, m: SpanMatch): Uint8Array | null {
  switch (m.kind) {
    case 'and': {
      let out: Uint8Array | null = null;
      for (const a of m.args) {
        const marks = matchBytes(rest, column, a);
        if (marks === null) continue;
        if (out === null) out = marks;
        else for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) & (marks[i] as number);
      }
      return out;
    }
    case 'or': {
      const out = new Uint8Array(rest.records.length);
      for (const a of m.args) {
        const marks = matchBytes(rest, column, a);
        if (marks === null) return null;
        for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) | (marks[i] as number);
      }
      return out;
    }
    case 'attr': {
      if (m.type !== 'string' || m.value.length === 0 || SURROGATE.test(m.value)) return null;
      if (m.scope !== 'span') {
        for (const r of rest.resources) if (listHolds(r.attributes, m.key, 'string', m.value)) return null;
        if (m.scope === 'resource') return new Uint8Array(rest.records.length);
      }
      return sweepMarks(rest, column, m.value);
    }
    default:
      return null;
  }
}

/** sweepMarks marks the rows whose record holds the UTF-8 bytes of value (one Buffer.indexOf sweep over the rest column). */
function sweepMarks(rest: SpanRest, column: Uint8Array, value: string): Uint8Array {
  assert(value.length > 0, 'sweepMarks needs a non-empty value');
  const rows = rest.records.length;
  const marks = new Uint8Array(rows);
  if (rows === 0) return marks;
  const hay = Buffer.from(column.buffer, column.byteOffset, column.byteLength);
  const needle = Buffer.from(value, 'utf8');
  const base = column.byteOffset;
  assert((rest.records[0] as Uint8Array).buffer === column.buffer, 'records are views of the rest column');
  let row = 0;
  for (let at = hay.indexOf(needle, 0); at !== -1; at = hay.indexOf(needle, at + 1)) {
    // Records are in column order: advance to the record holding offset `at` (before the first record: the tables, no row).
    while (row + 1 < rows && (rest.records[row + 1] as Uint8Array).byteOffset - base <= at) row++;
    const rec = rest.records[row] as Uint8Array;
    const start = rec.byteOffset - base;
    if (at >= start && at < start + rec.byteLength) marks[row] = 1;
  }
  return marks;
}

/**
 * querySpanBlock returns the rows of `block` matching `predicate`: the bloom
 * filters first (indexExcludes: a traceId, or a skipped key's value, the
 * block cannot hold skips it), then the
 * intersection of the postings of every indexed term, then a check of the
 * remaining predicates (trace id, durations, attributes of skipped keys) on
 * the columns of the candidate rows only. Pass an opened block
 * (openSpanBlock) to check its checksum once for many queries: a sealed
 * block's CRC covers all of it, so opening is the bulk of a small query.
 */
export function querySpanBlock(
  block: Uint8Array | SpanBlockView,
  index: Uint8Array | SpanBlockIndex,
  predicate: SpanPredicate,
  options: SpanQueryOptions = {},
): SpanQueryResult {
  const intersect = options.intersect ?? codecIntersect;
  const idx = index instanceof Uint8Array ? decodeSpanBlockIndex(index) : index;
  const view = block instanceof Uint8Array ? openSpanBlock(block) : block;
  if (idx.rows !== view.rows) throw corrupt(`span index of ${idx.rows} rows does not belong to a block of ${view.rows}`);
  const stats: SpanQueryStats = { rowsScanned: 0, prunedByIndex: 0, bloomSkipped: false };
  const none = (): SpanQueryResult => {
    stats.prunedByIndex = view.rows;
    return { rows: new Uint32Array(0), stats };
  };
  const excluded = indexExcludes(idx, predicate);
  if (excluded !== null) {
    stats.bloomSkipped = excluded === 'bloom';
    return none();
  }
  const { terms, scanAttrs } = splitTerms(idx, predicate);

  let candidates: Uint32Array | undefined;
  for (const t of terms) {
    const p = idx.postings.get(t);
    assert(p !== undefined, 'indexExcludes found every term');
    const ids = decodePostings(p);
    if (ids.length > 0 && (ids[ids.length - 1] as number) >= view.rows) throw corrupt(`span index postings name row ${ids[ids.length - 1]} of a ${view.rows}-row block`);
    candidates = candidates === undefined ? ids : intersect(candidates, ids);
    if (candidates.length === 0) return none();
  }
  const matched = predicate.match === undefined ? null : matchRows(idx, predicate.match, intersect);
  if (matched !== null && matched.rows !== null) {
    candidates = candidates === undefined ? matched.rows : intersect(candidates, matched.rows);
    if (candidates.length === 0) return none();
  }
  const checkMatch = matched !== null && matched.check ? (predicate.match as SpanMatch) : null;
  if (candidates === undefined) candidates = Uint32Array.from({ length: view.rows }, (_, i) => i);
  stats.prunedByIndex = view.rows - candidates.length;

  const needed: BlockColumnName[] = [];
  if (predicate.traceId !== undefined) needed.push('traceId');
  if (predicate.minDurationNs !== undefined || predicate.maxDurationNs !== undefined) needed.push('duration');
  if (needed.length === 0 && scanAttrs.length === 0 && checkMatch === null) return { rows: candidates, stats };

  const cols = readBlockColumns(view, needed);
  const restColumn = view.columns[SpanColumn.rest] as Uint8Array;
  const rest: SpanRest | undefined = scanAttrs.length > 0 || checkMatch !== null ? readRest(restColumn, view.rows) : undefined;
  const present = rest === undefined ? [] : scanAttrs.map(([k, v]) => rowsHolding(rest, restColumn, k, v)).filter((m): m is Uint8Array => m !== null);
  const matchMarks = rest === undefined || checkMatch === null ? null : matchBytes(rest, restColumn, checkMatch);
  const out: number[] = [];
  for (const row of candidates) {
    stats.rowsScanned++;
    if (predicate.traceId !== undefined && !idEqual(cols.traceId?.[row] as Uint8Array, predicate.traceId)) continue;
    const d = cols.duration?.[row];
    if (predicate.minDurationNs !== undefined && (d as bigint) < predicate.minDurationNs) continue;
    if (predicate.maxDurationNs !== undefined && (d as bigint) > predicate.maxDurationNs) continue;
    // A row whose record lacks a value's bytes cannot hold it: only the rest are decoded.
    if (present.some((m) => m[row] === 0)) continue;
    if (matchMarks !== null && matchMarks[row] === 0) continue;
    if (rest !== undefined) {
      const rec = readRestRecord(rest, row);
      if (!scanAttrs.every(([k, v]) => hasAttr(rec.attributes, k, v) || hasAttr(rec.resource.attributes, k, v))) continue;
      if (checkMatch !== null && !holds(checkMatch, { attributes: rec.attributes, resourceAttributes: rec.resource.attributes, intrinsics: null })) continue;
    }
    out.push(row);
  }
  assert(stats.rowsScanned === candidates.length, 'every candidate row was checked');
  return { rows: Uint32Array.from(out), stats };
}
