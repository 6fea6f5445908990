/**
 * identity-memo.ts — a memo from a metric point's raw identity (tenant, name,
 * unit, point type, temporality and monotonicity, scope name/version, point attributes in given
 * order, resource attributes) to its series id, so the store's hot path skips
 * label rendering, escaping, sorting and the registry's validation and
 * canonical-key hashing for a series it has seen.
 *
 * Lookup: the string parts of a row are first turned into small numbers by
 * four interning tables (an FNV-1a hash, cut to 30 bits, of the strings char
 * by char, each followed by its length; then a part-by-part comparison): the
 * resource's rendered attributes and the scope's name and version (once per
 * run of rows sharing the Resource or Scope object: the rows of one OTLP
 * ResourceMetrics / ScopeMetrics, or of one host in a decoded entry), the
 * tenant and name (once per run of rows sharing them), and the point's
 * rendered attributes. The series entry is then found by a hash of five small
 * numbers (and the kind) and checked by comparing them: a hash collision costs
 * a comparison, never a wrong id. The interning tables are small and stay in
 * cache (few names and attribute sets, many series), so a lookup touches one
 * cold entry instead of the entry and its strings. No key strings are built
 * and no per-object table (WeakMap) is kept: the decoder makes new Resource
 * objects per entry, and a WeakMap of them cost a hash of the rendered
 * attributes per object and ephemeron work in every GC.
 *
 * It is a pure memo: a miss goes to the registry, which gives the same answer,
 * so the memo never changes what the store accepts. It holds at most
 * MetricStoreLimits.identityMemoEntriesMax entries, and as many interned
 * resources, scopes, names and attribute lists; all tables are cleared together when one is full (at the start
 * of a get, so the numbers a get gave to set() are never stale).
 *
 * Invariants: an entry's parts are exactly those of a row whose series is
 * entry.id; an interned number names one list of strings until the tables
 * are cleared, and no entry outlives that.
 */
import { MetricStoreLimits } from '../../limits.js';
import { assert } from '../../errors.js';
import type { KeyValue, MetricPointRow } from '../rows.js';
import { renderAnyValue } from './series-identity.js';

/** Interned is one interned list of strings and its number. */
interface Interned {
  readonly parts: readonly string[];
  readonly num: number;
}

/** MemoEntry is a series identity as interned numbers. */
interface MemoEntry {
  /** name is the number of [tenant, name]; res, scope and attrs of the resource, scope and point attributes. */
  readonly name: number;
  readonly kind: number;
  readonly res: number;
  readonly scope: number;
  readonly attrs: number;
  readonly id: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** HASH_MASK keeps 30 bits: a small integer (Smi) key is much faster in a Map than a heap number. */
const HASH_MASK = 0x3fffffff;

function hashStr(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return Math.imul(h ^ s.length, FNV_PRIME);
}

function valueOf(kv: KeyValue): string {
  return kv.value.type === 'string' ? kv.value.value : renderAnyValue(kv.value);
}

/** KIND_NON_MONOTONIC is added to kindOf for a non-monotonic sum (series-identity.ts's otel_monotonic label). */
export const KIND_NON_MONOTONIC = 32;

/** kindOf packs the point type, temporality and (sums) monotonicity, the parts of identity the data carries. */
function kindOf(row: MetricPointRow): number {
  const d = row.data;
  const type = d.type === 'gauge' ? 1 : d.type === 'sum' ? 2 : d.type === 'histogram' ? 3 : d.type === 'exponentialHistogram' ? 4 : 5;
  const temporality = d.type === 'sum' || d.type === 'histogram' || d.type === 'exponentialHistogram' ? d.temporality : 0;
  return type * 4 + temporality + (d.type === 'sum' && !d.monotonic ? KIND_NON_MONOTONIC : 0);
}

function hashAttrs(attrs: readonly KeyValue[]): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < attrs.length; i++) {
    const kv = attrs[i] as KeyValue;
    h = hashStr(hashStr(h, kv.key), valueOf(kv));
  }
  return h & HASH_MASK;
}

function samePair(parts: readonly string[], a: string, b: string): boolean {
  return parts.length === 2 && parts[0] === a && parts[1] === b;
}

function sameTriple(parts: readonly string[], a: string, b: string, c: string): boolean {
  return parts.length === 3 && parts[0] === a && parts[1] === b && parts[2] === c;
}

function sameAttrs(parts: readonly string[], attrs: readonly KeyValue[]): boolean {
  if (parts.length !== attrs.length * 2) return false;
  for (let i = 0; i < attrs.length; i++) {
    const kv = attrs[i] as KeyValue;
    if (parts[2 * i] !== kv.key || parts[2 * i + 1] !== valueOf(kv)) return false;
  }
  return true;
}

function attrParts(attrs: readonly KeyValue[]): string[] {
  const out: string[] = [];
  for (const kv of attrs) out.push(kv.key, valueOf(kv));
  return out;
}

/** InternTable gives a number to each distinct list of strings; lookups allocate only for a new list. */
class InternTable {
  readonly #byHash = new Map<number, Interned | Interned[]>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  clear(): void {
    this.#byHash.clear();
    this.#size = 0;
  }

  /** pair is the number of [a, b] (hashed as `hash`). */
  pair(hash: number, a: string, b: string): number {
    const found = this.#byHash.get(hash);
    if (found !== undefined) {
      if (!Array.isArray(found)) {
        if (samePair(found.parts, a, b)) return found.num;
      } else for (const x of found) if (samePair(x.parts, a, b)) return x.num;
    }
    return this.#add(hash, found, [a, b]);
  }

  /** triple is the number of [a, b, c] (hashed as `hash`). */
  triple(hash: number, a: string, b: string, c: string): number {
    const found = this.#byHash.get(hash);
    if (found !== undefined) {
      if (!Array.isArray(found)) {
        if (sameTriple(found.parts, a, b, c)) return found.num;
      } else for (const x of found) if (sameTriple(x.parts, a, b, c)) return x.num;
    }
    return this.#add(hash, found, [a, b, c]);
  }

  /** attrs is the number of the rendered [key, value, …] of `attrs` (hashed as `hash`, hashAttrs). */
  attrs(hash: number, attrs: readonly KeyValue[]): number {
    const found = this.#byHash.get(hash);
    if (found !== undefined) {
      if (!Array.isArray(found)) {
        if (sameAttrs(found.parts, attrs)) return found.num;
      } else for (const x of found) if (sameAttrs(x.parts, attrs)) return x.num;
    }
    return this.#add(hash, found, attrParts(attrs));
  }

  #add(hash: number, found: Interned | Interned[] | undefined, parts: string[]): number {
    const e: Interned = { parts, num: this.#size++ };
    if (found === undefined) this.#byHash.set(hash, e);
    else if (Array.isArray(found)) found.push(e);
    else this.#byHash.set(hash, [found, e]);
    return e.num;
  }
}

/** IdentityMemo maps a row's raw identity to a series id (see the file comment). */
export class IdentityMemo {
  readonly #byHash = new Map<number, MemoEntry | MemoEntry[]>();
  readonly #resources = new InternTable();
  readonly #scopes = new InternTable();
  readonly #names = new InternTable();
  readonly #attrs = new InternTable();
  readonly #entriesMax: number;
  #size = 0;
  /** #hash, #name, #kind, #res, #scope and #attrNum are the parts of the last lookup, reused by set(). */
  #hash = 0;
  #name = -1;
  #kind = 0;
  #res = -1;
  #scope = -1;
  #attrNum = -1;
  /** #lastResourceObj and #lastScopeObj are the objects #res and #scope were found for (null: none, or cleared). */
  #lastResourceObj: object | null = null;
  #lastScopeObj: object | null = null;
  /** #lastTenant, #lastName and #lastUnit are the strings #name was found for (#name -1: none, or cleared). */
  #lastTenant = '';
  #lastName = '';
  #lastUnit = '';
  #lastRow: MetricPointRow | null = null;

  constructor(entriesMax: number = MetricStoreLimits.identityMemoEntriesMax) {
    assert(Number.isSafeInteger(entriesMax) && entriesMax >= 1, 'entriesMax >= 1');
    this.#entriesMax = entriesMax;
  }

  /** size is the number of entries. */
  get size(): number {
    return this.#size;
  }

  /** get is the series id of the row's identity, or -1 when unknown; set(id) may follow for the same row. */
  get(tenant: string, row: MetricPointRow): number {
    const max = this.#entriesMax;
    if (this.#size >= max || this.#resources.size >= max || this.#scopes.size >= max || this.#names.size >= max || this.#attrs.size >= max) this.#clear();
    if (row.resource !== this.#lastResourceObj) {
      const attrs = row.resource.attributes;
      this.#res = this.#resources.attrs(hashAttrs(attrs), attrs);
      this.#lastResourceObj = row.resource;
    }
    if (row.scope !== this.#lastScopeObj) {
      const s = row.scope;
      this.#scope = this.#scopes.pair(hashStr(hashStr(FNV_OFFSET, s.name), s.version) & HASH_MASK, s.name, s.version);
      this.#lastScopeObj = row.scope;
    }
    if (this.#name < 0 || tenant !== this.#lastTenant || row.name !== this.#lastName || row.unit !== this.#lastUnit) {
      this.#name = this.#names.triple(hashStr(hashStr(hashStr(FNV_OFFSET, tenant), row.name), row.unit) & HASH_MASK, tenant, row.name, row.unit);
      this.#lastTenant = tenant;
      this.#lastName = row.name;
      this.#lastUnit = row.unit;
    }
    const attrs = row.attributes;
    const attrNum = this.#attrs.attrs(hashAttrs(attrs), attrs);
    const kind = kindOf(row);
    const name = this.#name;
    const res = this.#res;
    const scope = this.#scope;
    let h = Math.imul(FNV_OFFSET ^ name, FNV_PRIME);
    h = Math.imul(h ^ attrNum, FNV_PRIME);
    h = Math.imul(h ^ res, FNV_PRIME);
    h = Math.imul(h ^ scope, FNV_PRIME);
    h = Math.imul(h ^ kind, FNV_PRIME) & HASH_MASK;
    this.#hash = h;
    this.#kind = kind;
    this.#attrNum = attrNum;
    this.#lastRow = row;
    const found = this.#byHash.get(h);
    if (found === undefined) return -1;
    if (!Array.isArray(found)) return matches(found, name, kind, res, scope, attrNum) ? found.id : -1;
    for (const e of found) if (matches(e, name, kind, res, scope, attrNum)) return e.id;
    return -1;
  }

  /** set remembers the id of the row the last get() looked up (and missed). */
  set(tenant: string, row: MetricPointRow, id: number): void {
    assert(row === this.#lastRow && tenant === this.#lastTenant, 'set follows a get of the same row');
    assert(this.#size < this.#entriesMax, 'get made room');
    const e: MemoEntry = { name: this.#name, kind: this.#kind, res: this.#res, scope: this.#scope, attrs: this.#attrNum, id };
    const found = this.#byHash.get(this.#hash);
    if (found === undefined) this.#byHash.set(this.#hash, e);
    else if (Array.isArray(found)) found.push(e);
    else this.#byHash.set(this.#hash, [found, e]);
    this.#size++;
  }

  #clear(): void {
    this.#byHash.clear();
    this.#size = 0;
    this.#resources.clear();
    this.#scopes.clear();
    this.#names.clear();
    this.#attrs.clear();
    this.#lastResourceObj = null;
    this.#lastScopeObj = null;
    this.#name = -1;
  }
}

function matches(e: MemoEntry, name: number, kind: number, res: number, scope: number, attrs: number): boolean {
  return e.name === name && e.attrs === attrs && e.res === res && e.scope === scope && e.kind === kind;
}
