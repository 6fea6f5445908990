/**
 * identity-memo.ts — a memo from a metric point's raw identity (tenant, name,
 * point type and temporality, scope name/version, point attributes in given
 * order, resource attributes) to its series id, so the store's hot path skips
 * label rendering, escaping, sorting and the registry's validation and
 * canonical-key hashing for a series it has seen.
 *
 * Lookup: a resource's attributes (rendered) and a scope's name and version
 * are first turned into small numbers, a resource number and a scope number
 * (two interning tables: an FNV-1a hash, then a part-by-part comparison), once
 * per run of rows sharing the Resource or Scope object (the rows of one OTLP
 * ResourceMetrics / ScopeMetrics, or of one host in a decoded entry). A row's
 * key is then a 32-bit FNV-1a hash (cut to 30 bits) of the tenant, the name,
 * the kind, the two numbers and the point attributes (strings char by char,
 * each followed by its length), and a hit compares every part with the entry
 * (a hash collision costs a comparison, never a wrong id). No key strings are
 * built and no per-object table (WeakMap) is kept: the decoder makes new
 * Resource objects per entry, and a WeakMap of them cost a hash of the
 * rendered attributes per object and ephemeron work in every GC.
 *
 * It is a pure memo: a miss goes to the registry, which gives the same answer,
 * so the memo never changes what the store accepts. It holds at most
 * MetricStoreLimits.identityMemoEntriesMax entries, and as many resources and
 * scopes; the three tables are cleared together when one is full (at the start
 * of a get, so the numbers a get gave to set() are never stale).
 *
 * Invariants: an entry's parts are exactly those of a row whose series is
 * entry.id; a resource (scope) number names one rendered attribute list (one
 * name and version) until the tables are cleared, and no entry outlives that.
 */
import { MetricStoreLimits } from '../../limits.js';
import { assert } from '../../errors.js';
import type { KeyValue, MetricPointRow } from '../rows.js';
import { renderAnyValue } from './series-identity.js';

/** Interned is one resource's rendered attributes ([key, value, …]) or one scope's [name, version], and its number. */
interface Interned {
  readonly parts: readonly string[];
  readonly num: number;
}

interface MemoEntry {
  readonly tenant: string;
  readonly name: string;
  readonly kind: number;
  /** res and scope are the resource and scope numbers (Interned.num). */
  readonly res: number;
  readonly scope: number;
  /** attrs is [key, rendered value, …] of the point attributes, in the row's order. */
  readonly attrs: readonly string[];
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

/** kindOf packs the point type and temporality, the two parts of identity the data carries. */
function kindOf(row: MetricPointRow): number {
  const d = row.data;
  const type = d.type === 'gauge' ? 1 : d.type === 'sum' ? 2 : d.type === 'histogram' ? 3 : d.type === 'exponentialHistogram' ? 4 : 5;
  const temporality = d.type === 'sum' || d.type === 'histogram' || d.type === 'exponentialHistogram' ? d.temporality : 0;
  return type * 4 + temporality;
}

/** InternTable gives a number to each distinct list of strings (a resource's attributes, a scope's name and version). */
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

  /** num is the number of `parts` (hashed as `hash`), a new one when unseen; `parts` is kept as is when new. */
  num(hash: number, parts: string[]): number {
    const found = this.#byHash.get(hash);
    if (found === undefined) {
      const e: Interned = { parts, num: this.#size++ };
      this.#byHash.set(hash, e);
      return e.num;
    }
    if (!Array.isArray(found)) {
      if (sameParts(found.parts, parts)) return found.num;
      const e: Interned = { parts, num: this.#size++ };
      this.#byHash.set(hash, [found, e]);
      return e.num;
    }
    for (const x of found) if (sameParts(x.parts, parts)) return x.num;
    const e: Interned = { parts, num: this.#size++ };
    found.push(e);
    return e.num;
  }
}

function sameParts(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** IdentityMemo maps a row's raw identity to a series id (see the file comment). */
export class IdentityMemo {
  readonly #byHash = new Map<number, MemoEntry | MemoEntry[]>();
  readonly #resources = new InternTable();
  readonly #scopes = new InternTable();
  readonly #entriesMax: number;
  #size = 0;
  /** #hash, #res, #scope and #kind are the parts of the last lookup, reused by set(). */
  #hash = 0;
  #res = -1;
  #scope = -1;
  #kind = 0;
  /** #lastResourceObj and #lastScopeObj are the objects #res and #scope were found for (null: none, or cleared). */
  #lastResourceObj: object | null = null;
  #lastScopeObj: object | null = null;
  #lastTenant = '';
  #lastName = '';
  #lastNameHash = hashStr(hashStr(FNV_OFFSET, ''), '');

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
    if (this.#size >= this.#entriesMax || this.#resources.size >= this.#entriesMax || this.#scopes.size >= this.#entriesMax) this.#clear();
    // Consecutive rows mostly share a resource and scope object, and often a metric name (the points of one Metric).
    if (row.resource !== this.#lastResourceObj) {
      this.#res = this.#resourceNum(row.resource.attributes);
      this.#lastResourceObj = row.resource;
    }
    if (row.scope !== this.#lastScopeObj) {
      const s = row.scope;
      this.#scope = this.#scopes.num(hashStr(hashStr(FNV_OFFSET, s.name), s.version) & HASH_MASK, [s.name, s.version]);
      this.#lastScopeObj = row.scope;
    }
    if (tenant !== this.#lastTenant || row.name !== this.#lastName) {
      this.#lastTenant = tenant;
      this.#lastName = row.name;
      this.#lastNameHash = hashStr(hashStr(FNV_OFFSET, tenant), row.name);
    }
    const kind = kindOf(row);
    const res = this.#res;
    const scope = this.#scope;
    let h = this.#lastNameHash;
    h = Math.imul(h ^ kind, FNV_PRIME);
    h = Math.imul(h ^ scope, FNV_PRIME);
    h = Math.imul(h ^ res, FNV_PRIME);
    const attrs = row.attributes;
    for (let i = 0; i < attrs.length; i++) {
      const kv = attrs[i] as KeyValue;
      h = hashStr(hashStr(h, kv.key), valueOf(kv));
    }
    h &= HASH_MASK;
    this.#hash = h;
    this.#kind = kind;
    const found = this.#byHash.get(h);
    if (found === undefined) return -1;
    if (!Array.isArray(found)) return matches(found, tenant, row, kind, scope, res) ? found.id : -1;
    for (const e of found) if (matches(e, tenant, row, kind, scope, res)) return e.id;
    return -1;
  }

  /** set remembers the id of the row the last get() looked up (and missed). */
  set(tenant: string, row: MetricPointRow, id: number): void {
    assert(row.resource === this.#lastResourceObj && row.scope === this.#lastScopeObj, 'set follows a get of the same row');
    assert(this.#size < this.#entriesMax, 'get made room');
    const attrs: string[] = [];
    for (const kv of row.attributes) attrs.push(kv.key, valueOf(kv));
    const e: MemoEntry = { tenant, name: row.name, kind: this.#kind, res: this.#res, scope: this.#scope, attrs, id };
    const found = this.#byHash.get(this.#hash);
    if (found === undefined) this.#byHash.set(this.#hash, e);
    else if (Array.isArray(found)) found.push(e);
    else this.#byHash.set(this.#hash, [found, e]);
    this.#size++;
  }

  #resourceNum(attributes: readonly KeyValue[]): number {
    let h = FNV_OFFSET;
    const parts: string[] = [];
    for (let i = 0; i < attributes.length; i++) {
      const kv = attributes[i] as KeyValue;
      const v = valueOf(kv);
      h = hashStr(hashStr(h, kv.key), v);
      parts.push(kv.key, v);
    }
    return this.#resources.num(h & HASH_MASK, parts);
  }

  #clear(): void {
    this.#byHash.clear();
    this.#size = 0;
    this.#resources.clear();
    this.#scopes.clear();
    this.#lastResourceObj = null;
    this.#lastScopeObj = null;
  }
}

function matches(e: MemoEntry, tenant: string, row: MetricPointRow, kind: number, scope: number, res: number): boolean {
  if (e.res !== res || e.scope !== scope || e.kind !== kind || e.name !== row.name || e.tenant !== tenant) return false;
  const attrs = row.attributes;
  if (e.attrs.length !== attrs.length * 2) return false;
  for (let i = 0; i < attrs.length; i++) {
    const kv = attrs[i] as KeyValue;
    if (e.attrs[2 * i] !== kv.key || e.attrs[2 * i + 1] !== valueOf(kv)) return false;
  }
  return true;
}
