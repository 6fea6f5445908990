/**
 * item-values.ts — the checks and shared values both OTLP decoders apply to
 * one item's fields, so that protobuf and JSON input give identical rows:
 * ids (copied into a slab), attribute lists (cut and deduplicated), string
 * truncation, enum ranges, and the frozen empty values rows share.
 *
 * An IdSlab is owned by one decode call. Invariant: 0 <= at <= slab.length.
 */
import { assert } from '../errors.js';
import { StorageLimits } from '../limits.js';
import type { AnyValue, KeyValue, SpanRow, StatusCode } from '../storage/rows.js';
import type { DecodeContext } from './decode-result.js';

/** NONE is the one frozen empty list rows share for absent attributes, events, links, exemplars and buckets. */
export const NONE: readonly never[] = Object.freeze([]);
/** EMPTY_ID is the one empty id rows share for an absent optional id (length 0: nothing can change it). */
export const EMPTY_ID = new Uint8Array(0);
/** EMPTY_VALUE is the one empty AnyValue rows share. */
export const EMPTY_VALUE: AnyValue = Object.freeze({ type: 'empty' });
/** STATUSES_NO_MESSAGE are the shared statuses without a message, by code. */
export const STATUSES_NO_MESSAGE: readonly SpanRow['status'][] = [0, 1, 2].map((code) => Object.freeze({ code: code as StatusCode, message: '' }));
/** U32_MAX is the largest uint32 (dropped counts saturate there). */
export const U32_MAX = 0xffff_ffff;

/** isAllZero says whether bytes [start, end) of `buf` are all zero. */
export function isAllZero(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * IdSlab copies ids out of the request into shared 4 KiB slabs (like
 * WireReader's): the rows must not pin the request body, and one ArrayBuffer
 * per id would cost more than the id.
 */
export class IdSlab {
  #slab: Uint8Array = EMPTY_ID;
  #at = 0;

  /** copy returns a copy of bytes [start, start + length) of `buf`. */
  copy(buf: Uint8Array, start: number, length: number): Uint8Array {
    assert(length > 0 && length <= StorageLimits.idSlabBytes, 'an id fits one slab');
    if (this.#at + length > this.#slab.length) {
      this.#slab = new Uint8Array(StorageLimits.idSlabBytes);
      this.#at = 0;
    }
    const out = new Uint8Array(this.#slab.buffer, this.#at, length);
    for (let i = 0; i < length; i++) out[i] = buf[start + i] as number;
    this.#at += length;
    assert(this.#at <= this.#slab.length, 'slab cursor within the slab');
    return out;
  }
}

/**
 * requiredId checks an id that must be `length` non-zero bytes (a span's or a
 * link's trace and span ids) and returns its copy, or EMPTY_ID after
 * recording `code` on the current item.
 */
export function requiredId(
  ctx: DecodeContext,
  slab: IdSlab,
  buf: Uint8Array,
  start: number,
  end: number,
  length: number,
  code: 'OTLP_BAD_TRACE_ID' | 'OTLP_BAD_SPAN_ID',
  what: string,
): Uint8Array {
  const n = end - start;
  if (n !== length) {
    ctx.reject(code, `${what} is ${n} bytes, not ${length}`);
    return EMPTY_ID;
  }
  if (isAllZero(buf, start, end)) {
    ctx.reject(code, `${what} is all zero`);
    return EMPTY_ID;
  }
  return slab.copy(buf, start, length);
}

/**
 * optionalId checks an id that may be absent: empty or all zero (the
 * Collector's "empty id") gives EMPTY_ID, `length` bytes a copy, anything
 * else records `code` on the current item.
 */
export function optionalId(
  ctx: DecodeContext,
  slab: IdSlab,
  buf: Uint8Array,
  start: number,
  end: number,
  length: number,
  code: 'OTLP_BAD_TRACE_ID' | 'OTLP_BAD_SPAN_ID' | 'OTLP_BAD_PARENT_SPAN_ID',
  what: string,
): Uint8Array {
  const n = end - start;
  if (n === 0) return EMPTY_ID;
  if (n !== length) {
    ctx.reject(code, `${what} is ${n} bytes, not 0 or ${length}`);
    return EMPTY_ID;
  }
  if (isAllZero(buf, start, end)) return EMPTY_ID;
  return slab.copy(buf, start, length);
}

/**
 * utf8CutEnd is where a UTF-8 string in [start, end) is cut to at most
 * `maxBytes` bytes without splitting a character: the end itself if it fits.
 */
export function utf8CutEnd(buf: Uint8Array, start: number, end: number, maxBytes: number): number {
  if (end - start <= maxBytes) return end;
  let e = start + maxBytes;
  // Back off over continuation bytes (10xxxxxx) so that buf[e] starts a character.
  while (e > start && ((buf[e] as number) & 0xc0) === 0x80) e--;
  return e;
}

/**
 * finishAttributes applies the per-item rules to a decoded attribute list:
 * duplicate keys refuse the item. (The count limit is applied while decoding:
 * the decoder keeps the first attributesPerItemMax (OtlpItemLimits) and counts the
 * rest, see droppedPlus.)
 */
export function finishAttributes(ctx: DecodeContext, attrs: readonly KeyValue[], what: string): readonly KeyValue[] {
  const dup = duplicateKey(attrs);
  if (dup !== null) ctx.reject('OTLP_DUPLICATE_ATTRIBUTE_KEY', `${what} have the key ${JSON.stringify(dup)} twice`);
  return attrs;
}

/** duplicateKey returns a key that appears twice in `attrs`, or null. */
export function duplicateKey(attrs: readonly KeyValue[]): string | null {
  const n = attrs.length;
  if (n < 2) return null;
  if (n <= 16) {
    for (let i = 1; i < n; i++) {
      const k = (attrs[i] as KeyValue).key;
      for (let j = 0; j < i; j++) if ((attrs[j] as KeyValue).key === k) return k;
    }
    return null;
  }
  const seen = new Set<string>();
  for (const kv of attrs) {
    if (seen.has(kv.key)) return kv.key;
    seen.add(kv.key);
  }
  return null;
}

/** droppedPlus adds the attributes (events, links) cut by a limit to the dropped count sent, saturating at 2^32 - 1. */
export function droppedPlus(sent: number, cut: number): number {
  const n = sent + cut;
  return n > U32_MAX ? U32_MAX : n;
}


/** checkEnum records OTLP_BAD_ENUM on the current item unless 0 <= v <= max. */
export function checkEnum(ctx: DecodeContext, v: number, max: number, what: string): void {
  if (!(v >= 0 && v <= max)) ctx.reject('OTLP_BAD_ENUM', `${what} ${v} is outside [0, ${max}]`);
}

/** checkStringBytes records OTLP_VALUE_TOO_LONG when a string of `bytes` UTF-8 bytes is over StorageLimits.stringBytesMax. */
export function checkStringBytes(ctx: DecodeContext, bytes: number, what: string): boolean {
  if (bytes <= StorageLimits.stringBytesMax) return true;
  ctx.reject('OTLP_VALUE_TOO_LONG', `${what} is ${bytes} bytes, more than ${StorageLimits.stringBytesMax}`);
  return false;
}

/**
 * checkLogTime applies the window to a log record's time, or to its observed
 * time when the time is unset (0); a record with neither is refused.
 */
export function checkLogTime(ctx: DecodeContext, time: bigint, observed: bigint): void {
  if (time !== 0n) ctx.checkTime(time, 'time');
  else if (observed !== 0n) ctx.checkTime(observed, 'observed time');
  else ctx.reject('OTLP_BAD_TIMESTAMP', 'the record has neither a time nor an observed time');
}
