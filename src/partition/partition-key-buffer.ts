/**
 * partition-key-buffer.ts — the partition keys of partition-key.ts written
 * byte for byte into one reused buffer, for the ingest hot path (see
 * PartitionKeyBuffer). The encoding is partition-key.ts's; this file only
 * writes it faster, and the tests compare the two.
 */
import { assert } from '../errors.js';
import { PartitionLimits } from '../limits.js';
import { PartitionKeyKind, TRACE_ID_BYTES } from './partition-key.js';
import { compareStrings } from './validate.js';

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
 * PartitionKeyBuffer writes the partition keys of partition-key.ts, byte
 * for byte, into one reused buffer: no TextEncoder call, no array per string
 * and no key array per row. It exists for the ingest hot path
 * (src/otlp/shard-parts.ts), where one key per row is hashed and dropped.
 *
 * Each method returns a view of the buffer, valid until the next call, or
 * null when the input is not on this fast path: then the caller uses the
 * matching function of partition-key.ts, which gives the key or throws the error (a key
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

function uvarintBytes(n: number): number {
  let bytes = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) bytes++;
  return bytes;
}

function isAllZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}
