/**
 * partition-key.ts — the partition key of each kind of row (DESIGN.md §4), as
 * bytes ready for `Hasher.h64ToShard`. Pure functions for the ingest path.
 *
 * - A span is keyed by (tenant, trace id): a whole trace lives in one shard, so
 *   trace-by-id touches one shard and tail sampling sees whole traces.
 * - A metric point is keyed by its series: (tenant, metric name, labels sorted
 *   by name). Labels with an empty value are dropped first, because Prometheus
 *   treats `{a="b", c=""}` and `{a="b"}` as the same series.
 * - A log record with a trace id is keyed exactly like that trace's spans, so a
 *   trace and its logs share a shard. Without one it is keyed by (tenant,
 *   stream labels, request id): one hot stream spreads over the shards request
 *   by request, while the records of one request stay together.
 *
 * Encoding — unambiguous by construction (every field is length-prefixed, and
 * the label count is explicit), so no choice of label names or values can make
 * two different rows' keys collide except through the 64-bit hash itself:
 *
 *   key    = kind (u8) field...
 *   field  = length (unsigned LEB128) bytes
 *   labels = count (unsigned LEB128) (name field, value field)...
 *
 *   kind 0x01 trace:  tenant, trace id (16 bytes)
 *   kind 0x02 series: tenant, metric name, labels
 *   kind 0x03 stream: tenant, stream labels, request id
 *
 * Strings are UTF-8. Labels are sorted by name in UTF-16 code-unit order (what
 * JavaScript's `<` gives; any fixed order works as long as it never changes).
 */
import { OtlpdbError, assert } from '../errors.js';
import { PartitionLimits } from '../limits.js';
import { compareStrings } from './validate.js';

/** PartitionKeyKind tags the first byte of a partition key; the values are part of the stored format. */
export const PartitionKeyKind = {
  trace: 0x01,
  series: 0x02,
  stream: 0x03,
} as const;

/** TRACE_ID_BYTES is the length of an OTLP trace id. */
export const TRACE_ID_BYTES = 16;

const utf8 = new TextEncoder();

function uvarintBytes(n: number): number {
  let bytes = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) bytes++;
  return bytes;
}

/**
 * KeyWriter collects a key's items (varints and byte fields), then writes them
 * into one exactly-sized buffer: one allocation per key besides UTF-8 encoding.
 */
class KeyWriter {
  readonly #items: (number | Uint8Array)[] = [];
  #bytes = 1;

  constructor(readonly kind: number) {}

  field(bytes: Uint8Array): void {
    this.uvarint(bytes.length);
    this.#items.push(bytes);
    this.#bytes += bytes.length;
  }

  text(s: string): void {
    this.field(utf8.encode(s));
  }

  uvarint(n: number): void {
    assert(Number.isSafeInteger(n) && n >= 0, 'uvarint takes a non-negative safe integer');
    this.#items.push(n);
    this.#bytes += uvarintBytes(n);
  }

  labels(what: string, labels: Readonly<Record<string, string>>): void {
    const names = Object.keys(labels)
      .filter((name) => labels[name] !== '')
      .sort(compareStrings);
    this.uvarint(names.length);
    for (const name of names) {
      const value = labels[name];
      if (name === '') invalid(`${what} has an empty label name: label names must be non-empty`);
      if (typeof value !== 'string') invalid(`${what} label ${JSON.stringify(name)} has a non-string value`);
      this.text(name);
      this.text(value);
    }
  }

  finish(): Uint8Array {
    if (this.#bytes > PartitionLimits.partitionKeyBytesMax) {
      throw new OtlpdbError(
        'ERR_LIMIT_EXCEEDED',
        `partition key is ${this.#bytes} bytes: the limit is ${PartitionLimits.partitionKeyBytesMax} bytes ` +
          '(tenant, metric name and labels together)',
        { bytes: this.#bytes, max: PartitionLimits.partitionKeyBytesMax },
      );
    }
    const out = new Uint8Array(this.#bytes);
    out[0] = this.kind;
    let at = 1;
    for (const item of this.#items) {
      if (typeof item === 'number') {
        let v = item;
        while (v >= 0x80) {
          out[at++] = (v % 0x80) | 0x80;
          v = Math.floor(v / 0x80);
        }
        out[at++] = v;
      } else {
        out.set(item, at);
        at += item.length;
      }
    }
    assert(at === out.length, 'partition key size computed exactly');
    return out;
  }
}

function invalid(message: string): never {
  throw new OtlpdbError('ERR_INVALID_ARGUMENT', message);
}

function checkTenant(tenant: string): void {
  if (typeof tenant !== 'string' || tenant.length === 0) invalid('tenant is empty: expected a non-empty tenant id');
}

function isAllZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

function traceKey(tenant: string, traceId: Uint8Array): Uint8Array {
  const w = new KeyWriter(PartitionKeyKind.trace);
  w.text(tenant);
  w.field(traceId);
  return w.finish();
}

/**
 * spanPartitionKey is the partition key of a span: its tenant and trace id.
 * The trace id must be 16 bytes and not all zero (the OTLP rule for a valid
 * trace id).
 */
export function spanPartitionKey(tenant: string, traceId: Uint8Array): Uint8Array {
  checkTenant(tenant);
  if (traceId.length !== TRACE_ID_BYTES || isAllZero(traceId)) {
    invalid(`span trace id has ${traceId.length} bytes${traceId.length === TRACE_ID_BYTES ? ', all zero' : ''}: ` +
      `expected ${TRACE_ID_BYTES} bytes, not all zero`);
  }
  return traceKey(tenant, traceId);
}

/**
 * seriesPartitionKey is the partition key of a metric point: tenant, metric
 * name and labels sorted by name (empty-valued labels dropped).
 */
export function seriesPartitionKey(
  tenant: string,
  metricName: string,
  labels: Readonly<Record<string, string>>,
): Uint8Array {
  checkTenant(tenant);
  if (typeof metricName !== 'string' || metricName.length === 0) invalid('metric name is empty: expected a non-empty name');
  const w = new KeyWriter(PartitionKeyKind.series);
  w.text(tenant);
  w.text(metricName);
  w.labels(`series ${JSON.stringify(metricName)}`, labels);
  return w.finish();
}

/**
 * logPartitionKey is the partition key of a log record. With a trace id (16
 * bytes, not all zero) it equals `spanPartitionKey(tenant, traceId)`. A null,
 * empty or all-zero trace id means "none" (OTLP logs leave it empty), and the
 * key is (tenant, stream labels, requestId); `requestId` identifies the ingest
 * request (the receiver passes the request's idempotency key).
 */
export function logPartitionKey(
  tenant: string,
  traceId: Uint8Array | null,
  streamLabels: Readonly<Record<string, string>>,
  requestId: Uint8Array | string,
): Uint8Array {
  checkTenant(tenant);
  if (traceId !== null && traceId.length > 0 && !isAllZero(traceId)) {
    if (traceId.length !== TRACE_ID_BYTES) {
      invalid(`log trace id has ${traceId.length} bytes: expected ${TRACE_ID_BYTES} bytes, or none`);
    }
    return traceKey(tenant, traceId);
  }
  const w = new KeyWriter(PartitionKeyKind.stream);
  w.text(tenant);
  w.labels('log stream', streamLabels);
  if (typeof requestId === 'string') w.text(requestId);
  else w.field(requestId);
  return w.finish();
}

/** SHORT_TEXT_CHARS_MAX is the longest string whose UTF-8 length (at most 3 bytes per UTF-16 unit) surely fits a 1-byte varint. */
const SHORT_TEXT_CHARS_MAX = 42;
const PROTO_NAME = '__proto__';

/**
 * LabelBlock is a set of labels encoded once as the sorted run of fields a
 * key holds for them (PartitionKeyBuffer.labelBlock): `kept` labels with a
 * value, every name of the set (empty-valued ones too) within
 * [firstName, lastName].
 */
export interface LabelBlock {
  readonly bytes: Uint8Array;
  readonly kept: number;
  readonly firstName: string;
  readonly lastName: string;
}

/**
 * PartitionKeyBuffer writes the partition keys of the functions above, byte
 * for byte, into one reused buffer: no TextEncoder call, no array per string
 * and no key array per row. It exists for the ingest hot path
 * (src/otlp/shard-parts.ts), where one key per row is hashed and dropped.
 *
 * Each method returns a view of the buffer, valid until the next call, or
 * null when the input is not on this fast path: then the caller uses the
 * matching function above, which gives the key or throws the error (a key
 * over PartitionLimits.partitionKeyBytesMax, an empty tenant or label name,
 * a bad trace id), so both paths agree on every input. Null is returned for
 * exactly those inputs and for the label sets a Record holds differently
 * from a list (a duplicate name: the Record keeps the last; `__proto__`: a
 * Record drops it). The test in partition-key.test.ts compares the two over
 * randomized input.
 *
 * Invariants: 0 <= #at <= #buf.length = partitionKeyBytesMax; bytes
 * [0, #prefixEnd) hold the key prefix of (#prefixKind, #prefixTenant,
 * #prefixName) when #prefixEnd > 0, so consecutive rows of one tenant (and
 * one metric) rewrite only what follows it.
 */
export class PartitionKeyBuffer {
  readonly #buf = new Uint8Array(PartitionLimits.partitionKeyBytesMax);
  #at = 0;
  #prefixEnd = 0;
  #prefixKind = 0;
  #prefixTenant = '';
  #prefixName = '';
  /** #order is the scratch of label indexes sorted by name (grows to the largest label set seen). */
  readonly #order: number[] = [];

  /** traceKey is spanPartitionKey(tenant, traceId), or null (see the class comment). */
  traceKey(tenant: string, traceId: Uint8Array): Uint8Array | null {
    if (traceId.length !== TRACE_ID_BYTES || isAllZero(traceId)) return null;
    if (!this.#prefix(PartitionKeyKind.trace, tenant, '')) return null;
    this.#at = this.#prefixEnd;
    this.#field(traceId);
    return this.#view();
  }

  /**
   * seriesKey is seriesPartitionKey(tenant, metricName, labels) for the
   * labels names[i] = values[i], i < count (any order), plus those of
   * `block` when given, or null (see the class comment).
   */
  seriesKey(tenant: string, metricName: string, names: readonly string[], values: readonly string[], count: number, block: LabelBlock | null = null): Uint8Array | null {
    assert(count <= names.length && count <= values.length, 'seriesKey count within the label arrays');
    if (metricName.length === 0) return null;
    if (!this.#prefix(PartitionKeyKind.series, tenant, metricName)) return null;
    this.#at = this.#prefixEnd;
    if (!this.#labels(names, values, count, block)) return null;
    return this.#view();
  }

  /**
   * labelBlock encodes labels (any order) as the sorted run of (name, value)
   * fields a key holds for them, to be copied into many keys (seriesKey's
   * `block`): a resource's labels, rendered once per request. Null when
   * seriesKey would leave such labels to the reference path.
   */
  labelBlock(names: readonly string[], values: readonly string[], count: number): LabelBlock | null {
    assert(count <= names.length && count <= values.length, 'labelBlock count within the label arrays');
    if (count === 0) return null;
    this.#prefixEnd = 0; // the block is written over the prefix
    this.#at = 0;
    const kept = this.#sortLabels(names, values, count);
    if (kept < 0) return null;
    const order = this.#order;
    for (let k = 0; k < count; k++) {
      const i = order[k] as number;
      const value = values[i] as string;
      if (value === '') continue;
      this.#text(names[i] as string);
      this.#text(value);
    }
    if (this.#at < 0) return null;
    const block: LabelBlock = {
      bytes: this.#buf.slice(0, this.#at),
      kept,
      firstName: names[order[0] as number] as string,
      lastName: names[order[count - 1] as number] as string,
    };
    this.#at = 0;
    return block;
  }

  /** #prefix makes bytes [0, #prefixEnd) the key's kind, tenant and (series only) metric name; false when the tenant is empty. */
  #prefix(kind: number, tenant: string, name: string): boolean {
    if (tenant.length === 0) return false;
    if (this.#prefixEnd > 0 && this.#prefixKind === kind && this.#prefixTenant === tenant && this.#prefixName === name) return true;
    this.#prefixEnd = 0;
    this.#buf[0] = kind;
    this.#at = 1;
    this.#text(tenant);
    if (kind === PartitionKeyKind.series) this.#text(name);
    if (this.#at < 0) return false;
    this.#prefixKind = kind;
    this.#prefixTenant = tenant;
    this.#prefixName = name;
    this.#prefixEnd = this.#at;
    return true;
  }

  /**
   * #sortLabels sorts label indexes by name into #order and returns how many
   * have a non-empty value, or -1 for a set left to the reference path (a
   * duplicate name, `__proto__`, an empty name with a value).
   */
  #sortLabels(names: readonly string[], values: readonly string[], count: number): number {
    const order = this.#order;
    // Insertion sort of the indexes by name: label sets are small (tens), and it is stable.
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const name = names[i] as string;
      let j = i;
      while (j > 0 && compareStrings(names[order[j - 1] as number] as string, name) > 0) {
        order[j] = order[j - 1] as number;
        j--;
      }
      order[j] = i;
      if ((values[i] as string) !== '') kept++;
    }
    for (let k = 0; k < count; k++) {
      const name = names[order[k] as number] as string;
      if (k > 0 && name === names[order[k - 1] as number]) return -1;
      if (name === PROTO_NAME) return -1;
      if (name === '' && values[order[k] as number] !== '') return -1;
    }
    return kept;
  }

  /**
   * #labels writes the label list as KeyWriter.labels does, the block's run
   * in its sorted place; false for input the fast path leaves to the
   * reference (also a label name within the block's name range: it may
   * repeat one of the block's names).
   */
  #labels(names: readonly string[], values: readonly string[], count: number, block: LabelBlock | null): boolean {
    const kept = this.#sortLabels(names, values, count);
    if (kept < 0) return false;
    const order = this.#order;
    let blockAt = count;
    if (block !== null) {
      for (let k = 0; k < count; k++) {
        const name = names[order[k] as number] as string;
        if (compareStrings(name, block.firstName) >= 0 && compareStrings(name, block.lastName) <= 0) return false;
        if (blockAt === count && compareStrings(name, block.lastName) > 0) blockAt = k;
      }
    }
    this.#uvarint(kept + (block === null ? 0 : block.kept));
    for (let k = 0; k <= count; k++) {
      if (k === blockAt && block !== null) this.#raw(block.bytes);
      if (k === count) break;
      const i = order[k] as number;
      const value = values[i] as string;
      if (value === '') continue;
      this.#text(names[i] as string);
      this.#text(value);
    }
    return this.#at >= 0;
  }

  #raw(bytes: Uint8Array): void {
    if (this.#at < 0) return;
    if (this.#at + bytes.length > this.#buf.length) {
      this.#at = -1;
      return;
    }
    this.#buf.set(bytes, this.#at);
    this.#at += bytes.length;
  }

  #view(): Uint8Array | null {
    if (this.#at < 0) return null;
    return this.#buf.subarray(0, this.#at);
  }

  /** #uvarint appends an unsigned LEB128 varint; #at becomes -1 when it does not fit (the key is over its bound). */
  #uvarint(n: number): void {
    if (this.#at < 0) return;
    if (this.#at + uvarintBytes(n) > this.#buf.length) {
      this.#at = -1;
      return;
    }
    let v = n;
    while (v >= 0x80) {
      this.#buf[this.#at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#at++] = v;
  }

  #field(bytes: Uint8Array): void {
    this.#uvarint(bytes.length);
    this.#raw(bytes);
  }

  /** #text appends a length-prefixed string in UTF-8 as TextEncoder writes it (a lone surrogate becomes U+FFFD). */
  #text(s: string): void {
    if (this.#at < 0) return;
    const buf = this.#buf;
    if (s.length <= SHORT_TEXT_CHARS_MAX && this.#at + 1 + 3 * s.length <= buf.length) {
      // The length fits one byte: write the bytes after it, then the length.
      const start = this.#at + 1;
      const end = writeUtf8(buf, start, s);
      buf[this.#at] = end - start;
      this.#at = end;
      return;
    }
    const bytes = utf8Length(s);
    if (this.#at + uvarintBytes(bytes) + bytes > buf.length) {
      this.#at = -1;
      return;
    }
    this.#uvarint(bytes);
    const end = writeUtf8(buf, this.#at, s);
    assert(end - this.#at === bytes, 'utf8Length agrees with writeUtf8');
    this.#at = end;
  }
}

/** utf8Length is the number of bytes TextEncoder gives for `s`. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLowSurrogate(s.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** writeUtf8 writes `s` at `at` as TextEncoder would (the caller made room) and returns the end offset. */
function writeUtf8(buf: Uint8Array, at: number, s: string): number {
  let p = at;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[p++] = c;
    } else if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && isLowSurrogate(d)) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        buf[p++] = 0xf0 | (cp >> 18);
        buf[p++] = 0x80 | ((cp >> 12) & 0x3f);
        buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
        buf[p++] = 0x80 | (cp & 0x3f);
        i++;
      } else {
        // A lone surrogate: U+FFFD, as TextEncoder (and the WHATWG encoding standard) writes it.
        buf[p++] = 0xef;
        buf[p++] = 0xbf;
        buf[p++] = 0xbd;
      }
    } else {
      buf[p++] = 0xe0 | (c >> 12);
      buf[p++] = 0x80 | ((c >> 6) & 0x3f);
      buf[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}
