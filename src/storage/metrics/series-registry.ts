/**
 * series-registry.ts — the identity of a metric series in one shard replica's
 * head: (tenant, metric name, label pairs sorted by name) → a shard-local u32
 * series id, assigned 0, 1, 2, … in the order series first appear.
 *
 * Canonical byte form (the key that is hashed and compared):
 *
 * ```
 * uvarint len | tenant UTF-8 | uvarint len | metric name UTF-8 |
 * uvarint label count | { uvarint len | name | uvarint len | value }*  (names ascending)
 * ```
 *
 * Lookup is by xxhash64 of that form; two different series whose keys hash
 * alike (a collision) are told apart by comparing the stored keys byte for
 * byte, so a collision costs a comparison, never a wrong id.
 *
 * Validation (Prometheus rules where Prometheus has one):
 * - a label name matches `[a-zA-Z_][a-zA-Z0-9_]*`, does not start with `__`
 *   (reserved; the metric name is indexed as `__name__`) and appears once;
 * - a label with an empty value is the same as no label (Prometheus), so it is
 *   dropped before the key is built;
 * - the metric name is any non-empty well-formed UTF-8 string (OpenTelemetry
 *   names contain dots; the PromQL front end quotes them);
 * - lengths and the label count are bounded by MetricHeadLimits.
 * A malformed input is ERR_INVALID_ARGUMENT; one past a bound is
 * ERR_LIMIT_EXCEEDED. Both are reported, not thrown (see `prepare`).
 *
 * Invariants: #keys.length === #series.length === the next id; every id in
 * #byHash and #collided is < #keys.length; the series ids of one hash are
 * distinct and their keys are pairwise different.
 */
import { MetricHeadLimits } from '../../limits.js';
import { OtlpdbError, assert } from '../../errors.js';
import type { Hasher } from '../../partition/hash.js';

/** Label is one label pair of a series. */
export interface Label {
  readonly name: string;
  readonly value: string;
}

/** Labels is a series' label pairs; the registry stores them sorted by name, without empty values. */
export type Labels = readonly Label[];

/** SeriesInfo is what the registry remembers of a series: its identity, labels sorted by name. */
export interface SeriesInfo {
  readonly tenant: string;
  readonly name: string;
  readonly labels: Labels;
}

/** SeriesHasher is the one Hasher method the registry needs (tests plant a colliding one). */
export type SeriesHasher = Pick<Hasher, 'h64'>;

/** PREPARE_NEW is what `prepare` returns when the series is valid and unknown: `create` may add it. */
export const PREPARE_NEW = -1;
/** PREPARE_REFUSED is what `prepare` returns when the series is invalid or too large: `refusal` says why. */
export const PREPARE_REFUSED = -2;

/** LABEL_NAME_RE is Prometheus's label name charset. */
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const utf8 = new TextEncoder();

/** isWellFormed says whether a string has no lone surrogates, i.e. has a UTF-8 form. */
export function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** compareCodePoints orders strings by Unicode code point, which is UTF-8 byte order (Prometheus sorts by bytes). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 order differs from code point order only when one side is a surrogate (>= 0xd800 and < 0xe000).
    const xs = x >= 0xd800 && x < 0xe000;
    const ys = y >= 0xd800 && y < 0xe000;
    if (xs !== ys) return xs ? (y >= 0xe000 ? 1 : x - y) : x >= 0xe000 ? -1 : x - y;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * SeriesRegistry maps series identities to shard-local ids. It is a pure
 * data structure (the hasher is injected) and allocates per call only the
 * sorted copy of unsorted labels and, for a new series, the stored key.
 */
export class SeriesRegistry {
  readonly #hasher: SeriesHasher;
  readonly #seriesMax: number;
  /** #keys[id] is the canonical byte form of series id. */
  readonly #keys: Uint8Array[] = [];
  readonly #series: SeriesInfo[] = [];
  /** #byHash holds the first series id of each key hash. */
  readonly #byHash = new Map<bigint, number>();
  /** #collided holds the further ids of a hash shared by different keys (rare; planted in tests). */
  readonly #collided = new Map<bigint, number[]>();
  /** #scratch is the reused buffer the key of the current `prepare` is built in. */
  readonly #scratch = new Uint8Array(MetricHeadLimits.seriesKeyBytesMax + 16);
  #preparedBytes = 0;
  #preparedHash = 0n;
  #prepared: SeriesInfo | null = null;
  #keyBytes = 0;

  /** refusal is why the last `prepare` returned PREPARE_REFUSED (null otherwise). */
  refusal: OtlpdbError | null = null;

  constructor(hasher: SeriesHasher, seriesMax: number = MetricHeadLimits.seriesMax) {
    assert(Number.isSafeInteger(seriesMax) && seriesMax >= 0, 'seriesMax is an integer >= 0');
    assert(seriesMax <= MetricHeadLimits.seriesMax, 'seriesMax <= MetricHeadLimits.seriesMax');
    this.#hasher = hasher;
    this.#seriesMax = seriesMax;
  }

  /** size is the number of series registered. */
  get size(): number {
    return this.#keys.length;
  }

  /** seriesMax is this registry's bound on series. */
  get seriesMax(): number {
    return this.#seriesMax;
  }

  /** keyBytes is the sum of the canonical key lengths of every series (for memory accounting). */
  get keyBytes(): number {
    return this.#keyBytes;
  }

  /** preparedKeyBytes is the canonical key length of the series the last `prepare` found new. */
  get preparedKeyBytes(): number {
    return this.#preparedBytes;
  }

  /** info is the identity of series id. */
  info(id: number): SeriesInfo {
    const s = this.#series[id];
    assert(s !== undefined, 'info of a registered series id');
    return s;
  }

  /** key is the canonical byte form of series id (do not modify). */
  key(id: number): Uint8Array {
    const k = this.#keys[id];
    assert(k !== undefined, 'key of a registered series id');
    return k;
  }

  /**
   * prepare validates a series identity and looks it up: the id when known,
   * PREPARE_NEW when valid and unknown (then `create` adds exactly it), or
   * PREPARE_REFUSED with `refusal` set. It never throws for bad input, so a
   * batch can report per sample. It does not check seriesMax: `create` does.
   */
  prepare(tenant: string, name: string, labels: Labels): number {
    this.#prepared = null;
    this.#preparedBytes = 0;
    this.refusal = null;
    const sorted = this.#validate(tenant, name, labels);
    if (sorted === null) return PREPARE_REFUSED;
    const n = this.#encode(tenant, name, sorted);
    if (n < 0) return PREPARE_REFUSED;
    const key = this.#scratch.subarray(0, n);
    const hash = this.#hasher.h64(key);
    const first = this.#byHash.get(hash);
    if (first !== undefined) {
      if (equalBytes(this.key(first), key)) return first;
      const more = this.#collided.get(hash);
      if (more !== undefined) {
        for (const id of more) if (equalBytes(this.key(id), key)) return id;
      }
    }
    this.#prepared = { tenant, name, labels: sorted };
    this.#preparedHash = hash;
    this.#preparedBytes = n;
    return PREPARE_NEW;
  }

  /**
   * create registers the series the last `prepare` found new and returns its
   * id, or PREPARE_REFUSED with `refusal` set (ERR_LIMIT_EXCEEDED, not
   * retryable) when the registry holds seriesMax series already.
   */
  create(): number {
    const info = this.#prepared;
    assert(info !== null, 'create follows a prepare that returned PREPARE_NEW');
    this.#prepared = null;
    if (this.#keys.length >= this.#seriesMax) {
      this.refusal = new OtlpdbError('ERR_LIMIT_EXCEEDED', `metrics head: series limit ${this.#seriesMax} reached, new series refused`, {
        seriesMax: this.#seriesMax,
      });
      return PREPARE_REFUSED;
    }
    const id = this.#keys.length;
    const key = this.#scratch.slice(0, this.#preparedBytes);
    this.#keys.push(key);
    this.#series.push(Object.freeze({ tenant: info.tenant, name: info.name, labels: Object.freeze(info.labels) }));
    this.#keyBytes += key.length;
    const hash = this.#preparedHash;
    if (!this.#byHash.has(hash)) this.#byHash.set(hash, id);
    else {
      const more = this.#collided.get(hash);
      if (more === undefined) this.#collided.set(hash, [id]);
      else more.push(id);
    }
    assert(this.#keys.length === this.#series.length, 'one key per series');
    return id;
  }

  /** collisions is the number of series whose key hash an earlier, different series already had. */
  get collisions(): number {
    let n = 0;
    for (const more of this.#collided.values()) n += more.length;
    return n;
  }

  #refuse(code: 'ERR_INVALID_ARGUMENT' | 'ERR_LIMIT_EXCEEDED', message: string, details: Record<string, unknown> = {}): null {
    this.refusal = new OtlpdbError(code, `metrics head: ${message}`, details);
    return null;
  }

  /** #validate checks the identity and returns the labels sorted by name without empty values (the input when already so). */
  #validate(tenant: string, name: string, labels: Labels): Labels | null {
    const L = MetricHeadLimits;
    if (typeof tenant !== 'string' || tenant.length === 0 || !isWellFormed(tenant)) return this.#refuse('ERR_INVALID_ARGUMENT', 'tenant must be a non-empty UTF-8 string');
    if (Buffer.byteLength(tenant, 'utf8') > L.tenantBytesMax) return this.#refuse('ERR_LIMIT_EXCEEDED', `tenant longer than ${L.tenantBytesMax} bytes`);
    if (typeof name !== 'string' || name.length === 0 || !isWellFormed(name)) return this.#refuse('ERR_INVALID_ARGUMENT', 'metric name must be a non-empty UTF-8 string');
    if (Buffer.byteLength(name, 'utf8') > L.metricNameBytesMax) {
      return this.#refuse('ERR_LIMIT_EXCEEDED', `metric name longer than ${L.metricNameBytesMax} bytes`, { name: name.slice(0, 64) });
    }
    if (!Array.isArray(labels)) return this.#refuse('ERR_INVALID_ARGUMENT', 'labels must be an array of {name, value}');
    if (labels.length > L.labelsPerSeriesMax) {
      return this.#refuse('ERR_LIMIT_EXCEEDED', `${labels.length} labels, past ${L.labelsPerSeriesMax}`, { labels: labels.length });
    }
    let sorted = true;
    let dropped = false;
    let prev = '';
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i] as Label | undefined;
      if (l === null || typeof l !== 'object' || typeof l.name !== 'string' || typeof l.value !== 'string') {
        return this.#refuse('ERR_INVALID_ARGUMENT', `label ${i} must be {name: string, value: string}`);
      }
      if (l.name.length > L.labelNameBytesMax) return this.#refuse('ERR_LIMIT_EXCEEDED', `label name longer than ${L.labelNameBytesMax} bytes`);
      if (!LABEL_NAME_RE.test(l.name)) return this.#refuse('ERR_INVALID_ARGUMENT', `label name ${JSON.stringify(l.name)} is not [a-zA-Z_][a-zA-Z0-9_]*`);
      if (l.name.startsWith('__')) return this.#refuse('ERR_INVALID_ARGUMENT', `label name ${JSON.stringify(l.name)} is reserved (starts with __)`);
      if (!isWellFormed(l.value)) return this.#refuse('ERR_INVALID_ARGUMENT', `value of label ${l.name} is not well-formed UTF-8`);
      if (Buffer.byteLength(l.value, 'utf8') > L.labelValueBytesMax) {
        return this.#refuse('ERR_LIMIT_EXCEEDED', `value of label ${l.name} longer than ${L.labelValueBytesMax} bytes`);
      }
      if (l.value.length === 0) dropped = true;
      if (i > 0 && l.name <= prev) sorted = false;
      prev = l.name;
    }
    if (sorted && !dropped) return labels;
    const out = labels.filter((l) => l.value.length > 0).map((l) => ({ name: l.name, value: l.value }));
    // Names are ASCII by the charset rule, so `<` is byte order.
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (let i = 1; i < out.length; i++) {
      if ((out[i] as Label).name === (out[i - 1] as Label).name) {
        return this.#refuse('ERR_INVALID_ARGUMENT', `label name ${JSON.stringify((out[i] as Label).name)} appears twice`);
      }
    }
    if (dropped) {
      // An empty-valued duplicate of a name is still a duplicate in the input.
      const names = new Set<string>();
      for (const l of labels) {
        if (names.has(l.name)) return this.#refuse('ERR_INVALID_ARGUMENT', `label name ${JSON.stringify(l.name)} appears twice`);
        names.add(l.name);
      }
    }
    return out;
  }

  /** #encode writes the canonical form into #scratch and returns its length, or -1 (refusal set) when too long. */
  #encode(tenant: string, name: string, labels: Labels): number {
    let p = this.#put(0, tenant);
    if (p >= 0) p = this.#put(p, name);
    if (p < 0) return this.#tooLong();
    p = putUvarint(this.#scratch, p, labels.length);
    for (const l of labels) {
      p = this.#put(p, l.name);
      if (p >= 0) p = this.#put(p, l.value);
      if (p < 0) return this.#tooLong();
    }
    assert(p <= MetricHeadLimits.seriesKeyBytesMax, 'series key within seriesKeyBytesMax');
    return p;
  }

  /** #put appends a length-prefixed UTF-8 string at p and returns the new position, -1 past seriesKeyBytesMax. */
  #put(p: number, s: string): number {
    const len = Buffer.byteLength(s, 'utf8');
    if (p + len + 8 > MetricHeadLimits.seriesKeyBytesMax) return -1;
    const b = this.#scratch;
    p = putUvarint(b, p, len);
    if (len === s.length) {
      // ASCII (one byte per UTF-16 unit): written in place, without the view and result object encodeInto costs per string.
      for (let i = 0; i < len; i++) b[p + i] = s.charCodeAt(i);
      return p + len;
    }
    const { written } = utf8.encodeInto(s, b.subarray(p, p + len));
    assert(written === len, 'encodeInto writes byteLength bytes');
    return p + len;
  }

  #tooLong(): number {
    this.#refuse('ERR_LIMIT_EXCEEDED', `series key longer than ${MetricHeadLimits.seriesKeyBytesMax} bytes`);
    return -1;
  }
}

/** putUvarint writes an unsigned LEB128 varint of a small integer and returns the new position. */
function putUvarint(buf: Uint8Array, p: number, v: number): number {
  assert(Number.isSafeInteger(v) && v >= 0 && v < 2 ** 31, 'putUvarint takes a u31');
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p++] = v;
  return p;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
