/**
 * positional-memo.ts — the series ids of the last points-only entry of each
 * (tenant, resource), by point position, so that the store's columnar path
 * resolves a point that repeats the point at the same position of that entry
 * with one byte comparison instead of a hash and a probe of the raw identity
 * memo (raw-identity-memo.ts).
 *
 * Why positions: an exporter (an OpenTelemetry SDK, a collector, the ingest
 * bench) sends the same metrics of one resource in the same order at every
 * export, and the receiver's split keeps their order within a shard, so a
 * shard's entry from one resource usually has the series of that resource's
 * previous entry at the same positions, with new times and values.
 *
 * What a hit needs: the same tenant and resource (the raw memo's numbers, the
 * key of the record), the same position, the same scope number and kind, and
 * byte-equal name/description/unit and attribute msgpack (metric-entry.ts
 * identAt..identEnd, attrsAt..attrsEnd) as the remembered point, which the
 * regular path resolved to that id. Equal bytes under equal numbers are the
 * raw memo's own key, so a hit gives the id the raw memo would give: the memo
 * never changes what the store accepts. The record keeps a copy of its entry
 * (so it pins no request buffer) when the entry is at most
 * MetricStoreLimits.positionalMemoEntryBytesMax bytes; at most
 * positionalMemoResourcesMax records, cleared together when one more is
 * needed, or when the raw memo renumbers its parts (`generation`).
 *
 * Invariants: a record's n <= its capacity and its ranges lie in its copy;
 * id[i] is -1 for a position that did not resolve to a series (a row point,
 * a refusal); between `begin` and `end` the positions below the current one
 * describe the current entry and the others the previous one (each position
 * is read before it is written).
 */
import { MetricStoreLimits } from '../../limits.js';
import { assert } from '../../errors.js';

/**
 * MISS_RUN_MAX is how many misses in a row make an entry stop probing: an
 * entry whose order differs from its resource's last one then costs a few
 * comparisons, not one per point. NB: a layout constant of this memo, not a
 * user limit (it bounds work, not memory), so it is not in limits.ts.
 */
const MISS_RUN_MAX = 4;

/** SameBytes compares a[aAt, aEnd) with b[bAt, bEnd) (tests plant a wrong one). */
export type SameBytes = (a: Uint8Array, aAt: number, aEnd: number, b: Uint8Array, bAt: number, bEnd: number) => boolean;

/** sameBytes is the byte comparison of the memo. */
export const sameBytes: SameBytes = (a, aAt, aEnd, b, bAt, bEnd) => {
  if (aEnd - aAt !== bEnd - bAt) return false;
  for (let i = aAt, k = bAt; i < aEnd; i++, k++) if (a[i] !== b[k]) return false;
  return true;
};

/** PositionalRecord is one (tenant, resource)'s last entry: a copy of its bytes and, per position, its key ranges and id. */
class PositionalRecord {
  tenant: number;
  n = 0;
  copy = new Uint8Array(0);
  kind = new Uint8Array(0);
  scope = new Int32Array(0);
  identAt = new Int32Array(0);
  identEnd = new Int32Array(0);
  attrsAt = new Int32Array(0);
  attrsEnd = new Int32Array(0);
  id = new Int32Array(0);

  constructor(tenant: number) {
    this.tenant = tenant;
  }

  /** reserve makes room for `n` positions, keeping the first `keep`. */
  reserve(n: number, keep: number): void {
    if (this.id.length >= n) return;
    const cap = Math.max(n, 2 * this.id.length, 16);
    const grow = <A extends Int32Array | Uint8Array>(a: A, make: (len: number) => A): A => {
      const g = make(cap);
      g.set(a.subarray(0, keep));
      return g;
    };
    this.kind = grow(this.kind, (len) => new Uint8Array(len));
    this.scope = grow(this.scope, (len) => new Int32Array(len));
    this.identAt = grow(this.identAt, (len) => new Int32Array(len));
    this.identEnd = grow(this.identEnd, (len) => new Int32Array(len));
    this.attrsAt = grow(this.attrsAt, (len) => new Int32Array(len));
    this.attrsEnd = grow(this.attrsEnd, (len) => new Int32Array(len));
    this.id = grow(this.id, (len) => new Int32Array(len));
  }
}

/** PositionalMemo is the per-store memo of the file comment. */
export class PositionalMemo {
  readonly #records = new Map<number, PositionalRecord>();
  readonly #same: SameBytes;
  #generation = -1;
  /** #cur is the record of the entry being applied (null: the entry is not remembered); #prevN its previous entry's point count. */
  #cur: PositionalRecord | null = null;
  #prevN = 0;
  /** #missRun is the current entry's misses since its last hit: past MISS_RUN_MAX the entry stops probing (its order changed). */
  #missRun = 0;
  /** hits counts the points resolved here (for tests and the bench). */
  hits = 0;

  constructor(same: SameBytes = sameBytes) {
    this.#same = same;
  }

  /** records is the number of (tenant, resource) records kept. */
  get records(): number {
    return this.#records.size;
  }

  /**
   * begin starts an entry of `n` points whose only resource has the raw
   * memo's number `resource` under its `tenant` number, with the raw memo at
   * `generation`; an entry too large to keep is not remembered.
   */
  begin(generation: number, tenant: number, resource: number, n: number, entryBytes: number): void {
    assert(this.#cur === null, 'begin after end');
    assert(tenant >= 0 && resource >= 0 && n >= 0, 'interned numbers and a count');
    if (generation !== this.#generation) {
      this.#records.clear();
      this.#generation = generation;
    }
    if (entryBytes > MetricStoreLimits.positionalMemoEntryBytesMax) return;
    let rec = this.#records.get(resource);
    if (rec !== undefined && rec.tenant !== tenant) {
      rec.tenant = tenant;
      rec.n = 0;
    }
    if (rec === undefined) {
      if (this.#records.size >= MetricStoreLimits.positionalMemoResourcesMax) this.#records.clear();
      rec = new PositionalRecord(tenant);
      this.#records.set(resource, rec);
    }
    rec.reserve(n, rec.n);
    this.#prevN = rec.n;
    this.#missRun = 0;
    this.#cur = rec;
  }

  /** get is the id of point i if it repeats position i of the previous entry (see the file comment), else -1. */
  get(i: number, kind: number, scope: number, bytes: Uint8Array, identAt: number, identEnd: number, attrsAt: number, attrsEnd: number): number {
    const rec = this.#cur;
    if (rec === null || i >= this.#prevN || this.#missRun >= MISS_RUN_MAX) return -1;
    const id = rec.id[i] as number;
    const old = rec.copy;
    const hit =
      id >= 0 &&
      rec.kind[i] === kind &&
      rec.scope[i] === scope &&
      this.#same(old, rec.identAt[i] as number, rec.identEnd[i] as number, bytes, identAt, identEnd) &&
      this.#same(old, rec.attrsAt[i] as number, rec.attrsEnd[i] as number, bytes, attrsAt, attrsEnd);
    if (!hit) {
      this.#missRun++;
      return -1;
    }
    this.#missRun = 0;
    this.hits++;
    return id;
  }

  /** set records point i of the current entry (id -1: not resolved to a series); call it once per point, in order, after get. */
  set(i: number, kind: number, scope: number, identAt: number, identEnd: number, attrsAt: number, attrsEnd: number, id: number): void {
    const rec = this.#cur;
    if (rec === null) return;
    rec.kind[i] = kind;
    rec.scope[i] = scope;
    rec.identAt[i] = identAt;
    rec.identEnd[i] = identEnd;
    rec.attrsAt[i] = attrsAt;
    rec.attrsEnd[i] = attrsEnd;
    rec.id[i] = id;
  }

  /** end closes the entry of `n` points: the record now describes it, with a copy of its `bytes`. */
  end(n: number, bytes: Uint8Array): void {
    const rec = this.#cur;
    this.#cur = null;
    if (rec === null) return;
    assert(n <= rec.id.length, 'every position was reserved');
    if (rec.copy.length < bytes.length) rec.copy = new Uint8Array(Math.max(bytes.length, 2 * rec.copy.length));
    rec.copy.set(bytes);
    rec.n = n;
  }

  /** abandon drops the current entry's record (an entry left half recorded must not be trusted). */
  abandon(): void {
    const rec = this.#cur;
    this.#cur = null;
    if (rec !== null) rec.n = 0;
  }

  /** clear forgets every record (the store reloads). */
  clear(): void {
    assert(this.#cur === null, 'clear between entries');
    this.#records.clear();
  }
}
