/**
 * identity-memo.ts — a memo from a metric point's raw identity (tenant, name,
 * point type and temporality, scope name/version, point attributes in given
 * order, resource attributes) to its series id, so the store's hot path skips
 * label rendering, escaping, sorting and the registry's validation and
 * canonical-key hashing for a series it has seen.
 *
 * Lookup: a 32-bit FNV-1a hash (cut to 30 bits) over the parts (strings char by char, each
 * followed by its length), then a part-by-part comparison with the entry (a
 * hash collision costs a comparison, never a wrong id). The parts of a
 * Resource or a Scope are hashed once per object (a WeakMap), since the rows
 * of one OTLP request share them.
 *
 * It is a pure memo: a miss goes to the registry, which gives the same answer,
 * so the memo never changes what the store accepts. It holds at most
 * MetricStoreLimits.identityMemoEntriesMax entries and is cleared when full.
 *
 * Invariant: an entry's parts are exactly those of a row whose series is entry.id.
 */
import { MetricStoreLimits } from '../../limits.js';
import { assert } from '../../errors.js';
import type { KeyValue, MetricPointRow } from '../rows.js';
import { renderAnyValue } from './series-identity.js';

interface MemoEntry {
  readonly tenant: string;
  readonly name: string;
  readonly kind: number;
  readonly scope: string;
  readonly resource: string;
  /** attrs is [key, rendered value, …] of the point attributes, in the row's order. */
  readonly attrs: readonly string[];
  readonly id: number;
}

interface Hashed {
  readonly hash: number;
  /** key is an injective string of the parts (compared on a hit). */
  readonly key: string;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function hashStr(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return Math.imul(h ^ s.length, FNV_PRIME);
}

function valueOf(kv: KeyValue): string {
  return kv.value.type === 'string' ? kv.value.value : renderAnyValue(kv.value);
}

function hashAttrs(attrs: readonly KeyValue[]): Hashed {
  let h = FNV_OFFSET;
  let key = '';
  for (const kv of attrs) {
    const v = valueOf(kv);
    h = hashStr(hashStr(h, kv.key), v);
    key += `${kv.key.length}:${kv.key}${v.length}:${v}`;
  }
  return { hash: h >>> 0, key };
}

/** kindOf packs the point type and temporality, the two parts of identity the data carries. */
function kindOf(row: MetricPointRow): number {
  const d = row.data;
  const type = d.type === 'gauge' ? 1 : d.type === 'sum' ? 2 : d.type === 'histogram' ? 3 : d.type === 'exponentialHistogram' ? 4 : 5;
  const temporality = d.type === 'sum' || d.type === 'histogram' || d.type === 'exponentialHistogram' ? d.temporality : 0;
  return type * 4 + temporality;
}

/** IdentityMemo maps a row's raw identity to a series id (see the file comment). */
export class IdentityMemo {
  readonly #byHash = new Map<number, MemoEntry | MemoEntry[]>();
  readonly #resources = new WeakMap<object, Hashed>();
  readonly #scopes = new WeakMap<object, Hashed>();
  readonly #entriesMax: number;
  #size = 0;
  /** #hash, #resource, #scope and #kind are the parts of the last lookup, reused by set(). */
  #hash = 0;
  #resource: Hashed = { hash: 0, key: '' };
  #scope: Hashed = { hash: 0, key: '' };
  #kind = 0;
  #lastResourceObj: object | null = null;
  #lastScopeObj: object | null = null;
  #lastTenant = '';
  #lastName = '';
  #lastNameHash = FNV_OFFSET;

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
    // Consecutive rows mostly share a resource and scope (one OTLP ResourceMetrics / ScopeMetrics), and often a
    // metric name (the points of one Metric): the last of each is kept with its hash before the WeakMaps.
    let res: Hashed;
    if (row.resource === this.#lastResourceObj) res = this.#resource;
    else {
      const known = this.#resources.get(row.resource);
      if (known === undefined) this.#resources.set(row.resource, (res = hashAttrs(row.resource.attributes)));
      else res = known;
      this.#lastResourceObj = row.resource;
    }
    let scope: Hashed;
    if (row.scope === this.#lastScopeObj) scope = this.#scope;
    else {
      const known = this.#scopes.get(row.scope);
      if (known === undefined) {
        const s = row.scope;
        scope = { hash: hashStr(hashStr(FNV_OFFSET, s.name), s.version) >>> 0, key: `${s.name.length}:${s.name}${s.version}` };
        this.#scopes.set(row.scope, scope);
      } else scope = known;
      this.#lastScopeObj = row.scope;
    }
    const kind = kindOf(row);
    if (tenant !== this.#lastTenant || row.name !== this.#lastName) {
      this.#lastTenant = tenant;
      this.#lastName = row.name;
      this.#lastNameHash = hashStr(hashStr(FNV_OFFSET, tenant), row.name);
    }
    let h = this.#lastNameHash;
    h = Math.imul(h ^ kind, FNV_PRIME);
    h = Math.imul(h ^ scope.hash, FNV_PRIME);
    h = Math.imul(h ^ res.hash, FNV_PRIME);
    for (const kv of row.attributes) h = hashStr(hashStr(h, kv.key), valueOf(kv));
    // 30 bits: a small integer (Smi) key is much faster in a Map than a heap number.
    h &= 0x3fffffff;
    this.#hash = h;
    this.#resource = res;
    this.#scope = scope;
    this.#kind = kind;
    const found = this.#byHash.get(h);
    if (found === undefined) return -1;
    if (!Array.isArray(found)) return matches(found, tenant, row, kind, scope.key, res.key) ? found.id : -1;
    for (const e of found) if (matches(e, tenant, row, kind, scope.key, res.key)) return e.id;
    return -1;
  }

  /** set remembers the id of the row the last get() looked up (and missed). */
  set(tenant: string, row: MetricPointRow, id: number): void {
    if (this.#size >= this.#entriesMax) {
      this.#byHash.clear();
      this.#size = 0;
    }
    const attrs: string[] = [];
    for (const kv of row.attributes) attrs.push(kv.key, valueOf(kv));
    const e: MemoEntry = { tenant, name: row.name, kind: this.#kind, scope: this.#scope.key, resource: this.#resource.key, attrs, id };
    const found = this.#byHash.get(this.#hash);
    if (found === undefined) this.#byHash.set(this.#hash, e);
    else if (Array.isArray(found)) found.push(e);
    else this.#byHash.set(this.#hash, [found, e]);
    this.#size++;
  }
}

function matches(e: MemoEntry, tenant: string, row: MetricPointRow, kind: number, scope: string, resource: string): boolean {
  if (e.kind !== kind || e.tenant !== tenant || e.name !== row.name || e.scope !== scope || e.resource !== resource) return false;
  const attrs = row.attributes;
  if (e.attrs.length !== attrs.length * 2) return false;
  for (let i = 0; i < attrs.length; i++) {
    const kv = attrs[i] as KeyValue;
    if (e.attrs[2 * i] !== kv.key || e.attrs[2 * i + 1] !== valueOf(kv)) return false;
  }
  return true;
}
