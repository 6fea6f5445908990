/**
 * raw-identity-memo.ts — a memo from a point's identity as the bytes of its
 * shard entry (metric-entry.ts columns) to its series id, so the store's
 * columnar path resolves a known series without decoding a row, building a
 * string or touching the registry.
 *
 * Key of a point: (tenant number, resource number, scope number, kind (type,
 * temporality, monotonicity), the msgpack bytes of the metric name,
 * description and unit (metric-entry.ts identAt..identEnd: the unit is part
 * of a series' identity; the description is not, but equal bytes still mean
 * one identity, so it only makes a second key of the same id), the attribute
 * list's msgpack bytes). Resources
 * and scopes are first interned by their whole msgpack bytes to numbers
 * (`part`, once per table entry per shard entry); tenants by their string.
 * Equal bytes decode to equal values (metric-entry.ts only takes well-formed
 * UTF-8), so equal keys mean one series identity; two encodings of one
 * identity are two keys of the same id, which is harmless. Lookups hash the
 * key (rawIdentityHash: MurmurHash3's 32-bit block mix over 4-byte words)
 * into an open-addressing table and then compare the stored key in full: a hash collision costs a comparison, never a wrong id
 * (raw-identity-memo.test.ts plants one).
 *
 * It is a pure memo: a miss goes to the regular path (decode the row, the
 * registry), which gives the same id, so the memo never changes what the
 * store accepts. Bounds: at most MetricStoreLimits.identityMemoEntriesMax
 * series and as many parts, and MetricStoreLimits.rawIdentityMemoKeyBytesMax
 * key bytes in each table; `beginEntry` clears everything when an entry could
 * overflow a table, so the numbers `part` gives stay valid for the whole entry,
 * and a key that does not fit is simply not remembered.
 *
 * Invariants: every slot holds 0 (empty) or 1 + an entry index < size; an
 * entry's key bytes are keys[keyAt, keyAt + len1 + len2) (its record's fields); the slot table's
 * load is at most one half; a part number names one byte string until the
 * next clear, and no series entry outlives the part numbers in its key.
 */
import { MetricStoreLimits } from '../../limits.js';
import { assert } from '../../errors.js';

const FNV_OFFSET = 0x811c9dc5;
const EMPTY = new Uint8Array(0);
const FNV_PRIME = 0x01000193;
/** M1, M2 and the rest are MurmurHash3 x86_32's constants. */
const M1 = 0xcc9e2d51;
const M2 = 0x1b873593;
const M_ADD = 0xe6546b64;
const FMIX1 = 0x85ebca6b;
const FMIX2 = 0xc2b2ae35;

/**
 * hashBytes continues hash h over b[at, end): MurmurHash3 x86_32's block step
 * over each 4-byte little-endian word, then its tail step over the 1-3 bytes
 * left, then the length. NB: it replaced byte-at-a-time FNV-1a (one multiply
 * per byte in one dependency chain), which was about a quarter of a metric
 * point's apply CPU on a node's main thread (bench/README.md, issue 5 s19).
 */
function hashBytes(h: number, b: Uint8Array, v: DataView, at: number, end: number): number {
  let i = at;
  const end4 = at + ((end - at) & ~3);
  for (; i < end4; i += 4) {
    let k = v.getInt32(i, true);
    k = Math.imul(k, M1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, M2);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + M_ADD) | 0;
  }
  const left = end - i;
  if (left > 0) {
    let k = b[i] as number;
    if (left > 1) k |= (b[i + 1] as number) << 8;
    if (left > 2) k |= (b[i + 2] as number) << 16;
    k = Math.imul(k, M1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, M2);
  }
  return h ^ (end - at);
}

function mix(h: number, x: number): number {
  return Math.imul(h ^ x, FNV_PRIME);
}

/** viewBytes and view are the one-slot cache of viewOf. */
let viewBytes: Uint8Array = EMPTY;
let view: DataView = new DataView(EMPTY.buffer);

/**
 * viewOf is a DataView of `b` (the last one made, when `b` is the array it
 * was made for): word reads through a DataView are one load where four byte
 * reads and shifts were, and a point's keys come from one entry's bytes, so
 * one view serves all of them. NB: the cache keeps the last array reachable
 * until a key of another array is hashed (one entry's bytes per thread).
 */
function viewOf(b: Uint8Array): DataView {
  if (b !== viewBytes) {
    viewBytes = b;
    view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  return view;
}

/** sameWords says whether a[ai, ai + n) equals b[bi, bi + n), reading 4-byte words through their views, then the tail bytes. */
function sameWords(a: Uint8Array, av: DataView, ai: number, b: Uint8Array, bv: DataView, bi: number, n: number): boolean {
  const n4 = n & ~3;
  let j = 0;
  for (; j < n4; j += 4) if (av.getInt32(ai + j) !== bv.getInt32(bi + j)) return false;
  for (; j < n; j++) if (a[ai + j] !== b[bi + j]) return false;
  return true;
}

/** fmix is MurmurHash3's finalizer: every input bit reaches the low bits a table's slot is taken from. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, FMIX1);
  h ^= h >>> 13;
  h = Math.imul(h, FMIX2);
  return h ^ (h >>> 16);
}

/** R_* are the fields of a ByteKeyTable entry's record, R_STRIDE int32 words each (one record in half a cache line). */
const R_HASH = 0;
const R_A = 1;
const R_B = 2;
const R_C = 3;
const R_LEN1 = 4;
const R_LEN2 = 5;
const R_KEY_AT = 6;
const R_VALUE = 7;
const R_STRIDE = 8;

/**
 * ByteKeyTable maps keys of three integers and two byte ranges to an integer,
 * in one Int32Array of records (R_STRIDE words an entry: hash, the three
 * integers, the two lengths, where the key bytes are, the value) and one byte
 * slab: no object per entry. NB: the records were eight parallel arrays (one
 * per field) until s21; a hit then touched eight cache lines besides the slot
 * and the key bytes, and the tables of a node's 16 shards do not stay in cache
 * together (bench/README.md, issue 5 s21). Now a hit touches the slot, one
 * record and the key bytes.
 */
export class ByteKeyTable {
  readonly #entriesMax: number;
  readonly #keyBytesMax: number;
  #slots = new Int32Array(64);
  /** #rec holds entry e's fields at e * R_STRIDE + R_*. */
  #rec = new Int32Array(32 * R_STRIDE);
  #keys = new Uint8Array(4096);
  /** #keysView is a DataView of #keys (made again when #keys grows). */
  #keysView: DataView = new DataView(this.#keys.buffer);
  #keysUsed = 0;
  #size = 0;

  constructor(entriesMax: number, keyBytesMax: number) {
    assert(Number.isSafeInteger(entriesMax) && entriesMax >= 1, 'entriesMax >= 1');
    assert(Number.isSafeInteger(keyBytesMax) && keyBytesMax >= 1, 'keyBytesMax >= 1');
    this.#entriesMax = entriesMax;
    this.#keyBytesMax = keyBytesMax;
  }

  /** size is the number of entries. */
  get size(): number {
    return this.#size;
  }

  /** keyBytes is the bytes of key held. */
  get keyBytes(): number {
    return this.#keysUsed;
  }

  clear(): void {
    this.#slots.fill(0);
    this.#size = 0;
    this.#keysUsed = 0;
  }

  /** find is the value of the key hashed as `h` (see `hash`), or -1. */
  find(h: number, a: number, b: number, c: number, bytes: Uint8Array, x0: number, x1: number, y0: number, y1: number): number {
    const slots = this.#slots;
    const rec = this.#rec;
    const mask = slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = (slots[s] as number) - 1;
      if (e < 0) return -1;
      const r = e * R_STRIDE;
      if (rec[r + R_HASH] === h && rec[r + R_A] === a && rec[r + R_B] === b && rec[r + R_C] === c && this.#sameKey(r, bytes, x0, x1, y0, y1)) return rec[r + R_VALUE] as number;
    }
  }

  /** #sameKey compares the key bytes of the record at `r` with bytes[x0, x1) and bytes[y0, y1). */
  #sameKey(r: number, bytes: Uint8Array, x0: number, x1: number, y0: number, y1: number): boolean {
    const rec = this.#rec;
    const n1 = x1 - x0;
    const n2 = y1 - y0;
    if (rec[r + R_LEN1] !== n1 || rec[r + R_LEN2] !== n2) return false;
    const at = rec[r + R_KEY_AT] as number;
    const v = viewOf(bytes);
    return sameWords(this.#keys, this.#keysView, at, bytes, v, x0, n1) && sameWords(this.#keys, this.#keysView, at + n1, bytes, v, y0, n2);
  }

  /** insert adds a key find did not find; false when the table or its key bytes are full (nothing added). */
  insert(h: number, a: number, b: number, c: number, bytes: Uint8Array, x0: number, x1: number, y0: number, y1: number, value: number): boolean {
    const n1 = x1 - x0;
    const n2 = y1 - y0;
    if (this.#size >= this.#entriesMax || this.#keysUsed + n1 + n2 > this.#keyBytesMax) return false;
    if (2 * (this.#size + 1) > this.#slots.length) this.#rehash(this.#slots.length * 2);
    const e = this.#size;
    if ((e + 1) * R_STRIDE > this.#rec.length) {
      const grown = new Int32Array(2 * this.#rec.length);
      grown.set(this.#rec);
      this.#rec = grown;
    }
    if (this.#keysUsed + n1 + n2 > this.#keys.length) {
      const grown = new Uint8Array(Math.min(this.#keyBytesMax, Math.max(2 * this.#keys.length, this.#keysUsed + n1 + n2)));
      grown.set(this.#keys.subarray(0, this.#keysUsed));
      this.#keys = grown;
      this.#keysView = new DataView(grown.buffer);
    }
    const at = this.#keysUsed;
    this.#keys.set(bytes.subarray(x0, x1), at);
    this.#keys.set(bytes.subarray(y0, y1), at + n1);
    this.#keysUsed += n1 + n2;
    const rec = this.#rec;
    const r = e * R_STRIDE;
    rec[r + R_HASH] = h;
    rec[r + R_A] = a;
    rec[r + R_B] = b;
    rec[r + R_C] = c;
    rec[r + R_LEN1] = n1;
    rec[r + R_LEN2] = n2;
    rec[r + R_KEY_AT] = at;
    rec[r + R_VALUE] = value;
    this.#size++;
    this.#place(e);
    assert(this.#keysUsed <= this.#keyBytesMax, 'key bytes within their bound');
    return true;
  }

  #place(e: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let s = (this.#rec[e * R_STRIDE + R_HASH] as number) & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = e + 1;
  }

  #rehash(slotCount: number): void {
    this.#slots = new Int32Array(slotCount);
    for (let e = 0; e < this.#size; e++) this.#place(e);
  }
}

/** RawIdentityHash is the hash function of the memo (tests inject a colliding one). */
export type RawIdentityHash = (a: number, b: number, c: number, bytes: Uint8Array, x0: number, x1: number, y0: number, y1: number) => number;

/** rawIdentityHash hashes the two byte ranges (hashBytes, each with its length), then mixes in the three integers and finalizes (fmix). */
export const rawIdentityHash: RawIdentityHash = (a, b, c, bytes, x0, x1, y0, y1) => {
  const v = viewOf(bytes);
  let h = hashBytes(FNV_OFFSET, bytes, v, x0, x1);
  h = mix(h, 0xff); // separates the ranges (their lengths are hashed too): ("ab", "c") and ("a", "bc") hash apart
  h = hashBytes(h, bytes, v, y0, y1);
  return fmix(mix(mix(mix(h, a), b), c));
};

/** PART_RESOURCE and PART_SCOPE tell the two kinds of parts apart in the parts table. */
export const PART_RESOURCE = 0;
/** PART_SCOPE marks a scope in the parts table. */
export const PART_SCOPE = 1;

/** RawIdentityMemo maps entry bytes of point identities to series ids (see the file comment). */
export class RawIdentityMemo {
  readonly #series: ByteKeyTable;
  readonly #parts: ByteKeyTable;
  readonly #tenants = new Map<string, number>();
  readonly #entriesMax: number;
  readonly #keyBytesMax: number;
  readonly #hash: RawIdentityHash;
  /** #h, #a, #b, #c, #bytes and the ranges are the last `get`'s key, which `set` inserts. */
  #h = 0;
  #a = 0;
  #b = 0;
  #c = 0;
  #bytes: Uint8Array = EMPTY;
  #x0 = 0;
  #x1 = 0;
  #y0 = 0;
  #y1 = 0;
  #pending = false;

  constructor(entriesMax: number = MetricStoreLimits.identityMemoEntriesMax, keyBytesMax: number = MetricStoreLimits.rawIdentityMemoKeyBytesMax, hash: RawIdentityHash = rawIdentityHash) {
    this.#entriesMax = entriesMax;
    this.#keyBytesMax = keyBytesMax;
    this.#series = new ByteKeyTable(entriesMax, keyBytesMax);
    this.#parts = new ByteKeyTable(entriesMax, keyBytesMax);
    this.#hash = hash;
  }

  /** size is the number of series remembered. */
  get size(): number {
    return this.#series.size;
  }

  /**
   * beginEntry is called before the parts and points of one shard entry:
   * it clears the memo when `points` more series or `parts` more parts might
   * not fit, so no part number goes stale within the entry.
   */
  beginEntry(points: number, parts: number): void {
    const full =
      this.#series.size + points > this.#entriesMax ||
      this.#parts.size + parts > this.#entriesMax ||
      this.#tenants.size >= this.#entriesMax ||
      4 * this.#series.keyBytes > 3 * this.#keyBytesMax ||
      4 * this.#parts.keyBytes > 3 * this.#keyBytesMax;
    if (full) {
      this.#series.clear();
      this.#parts.clear();
      this.#tenants.clear();
    }
    this.#pending = false;
  }

  /** tenant is the number of a tenant id. */
  tenant(tenant: string): number {
    let n = this.#tenants.get(tenant);
    if (n === undefined) {
      n = this.#tenants.size;
      this.#tenants.set(tenant, n);
    }
    return n;
  }

  /** part is the number of the resource or scope (`which`: PART_*) encoded as bytes[at, end), or -1 when it cannot be remembered. */
  part(which: number, bytes: Uint8Array, at: number, end: number): number {
    const h = this.#hash(which, 0, 0, bytes, at, end, end, end);
    const found = this.#parts.find(h, which, 0, 0, bytes, at, end, end, end);
    if (found >= 0) return found;
    const n = this.#parts.size;
    return this.#parts.insert(h, which, 0, 0, bytes, at, end, end, end, n) ? n : -1;
  }

  /**
   * get is the series id of the point whose tenant, resource and scope numbers,
   * kind, name bytes[nameAt, nameEnd) and attribute bytes[attrsAt, attrsEnd)
   * are given, or -1; after a miss, `set` may remember the id the regular path found.
   */
  get(tenant: number, res: number, scope: number, kind: number, bytes: Uint8Array, nameAt: number, nameEnd: number, attrsAt: number, attrsEnd: number): number {
    assert(res >= 0 && scope >= 0 && kind >= 0 && kind < 64, 'interned parts and a kind');
    const c = scope * 64 + kind;
    const h = this.#hash(tenant, res, c, bytes, nameAt, nameEnd, attrsAt, attrsEnd);
    const found = this.#series.find(h, tenant, res, c, bytes, nameAt, nameEnd, attrsAt, attrsEnd);
    if (found >= 0) return found;
    this.#h = h;
    this.#a = tenant;
    this.#b = res;
    this.#c = c;
    this.#bytes = bytes;
    this.#x0 = nameAt;
    this.#x1 = nameEnd;
    this.#y0 = attrsAt;
    this.#y1 = attrsEnd;
    this.#pending = true;
    return -1;
  }

  /** set remembers `id` for the key of the last get, which missed. */
  set(id: number): void {
    assert(this.#pending, 'set follows a missed get');
    assert(id >= 0, 'a series id');
    this.#pending = false;
    this.#series.insert(this.#h, this.#a, this.#b, this.#c, this.#bytes, this.#x0, this.#x1, this.#y0, this.#y1, id);
    this.#bytes = EMPTY; // The entry's bytes are not pinned past their entry.
  }
}
