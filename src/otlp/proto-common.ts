/**
 * proto-common.ts — protobuf decoding of OTLP's common messages (AnyValue,
 * KeyValue, Resource, InstrumentationScope) and of the resource/scope
 * envelope every signal shares, straight into row values.
 *
 * Field numbers are those of src/otlp/proto/opentelemetry/proto/common/v1/
 * common.proto and resource/v1/resource.proto. A non-repeated message field
 * sent twice: the last one wins (as protobufjs decodes; protobuf would merge —
 * no OTLP exporter sends that).
 */
import { StorageLimits } from '../limits.js';
import type { AnyValue, KeyValue, Resource, Scope } from '../storage/rows.js';
import type { DecodeContext, OtlpRejection } from './decode-result.js';
import { EMPTY_VALUE, NONE, checkStringBytes, droppedPlus, duplicateKey, finishAttributes, utf8CutEnd } from './item-values.js';
import { WT_I64, WT_LEN, WT_VARINT, fieldMask } from './proto-reader.js';
import type { ProtoReader } from './proto-reader.js';
import type { Envelope } from './proto-envelope.js';

const TRUE_VALUE: AnyValue = Object.freeze({ type: 'bool', value: true });
const FALSE_VALUE: AnyValue = Object.freeze({ type: 'bool', value: false });

const ANY_STRING = (1 << 3) | WT_LEN;
const ANY_BOOL = (2 << 3) | WT_VARINT;
const ANY_INT = (3 << 3) | WT_VARINT;
const ANY_DOUBLE = (4 << 3) | WT_I64;
const ANY_ARRAY = (5 << 3) | WT_LEN;
const ANY_KVLIST = (6 << 3) | WT_LEN;
const ANY_BYTES = (7 << 3) | WT_LEN;
const ANY_MASK = fieldMask(1, 2, 3, 4, 5, 6, 7);
const LIST_VALUES = (1 << 3) | WT_LEN;
const LIST_MASK = fieldMask(1);
const KV_KEY = (1 << 3) | WT_LEN;
const KV_VALUE = (2 << 3) | WT_LEN;
const KV_MASK = fieldMask(1, 2);

/**
 * readString decodes a string field in [start, end): refused (item problem)
 * over StorageLimits.stringBytesMax.
 */
export function readString(r: ProtoReader, ctx: DecodeContext, start: number, end: number, what: string): string {
  if (!checkStringBytes(ctx, end - start, what)) return '';
  return r.string(start, end);
}

/**
 * readAnyValue decodes the AnyValue message in [r.pos, end) at nesting
 * `depth` (1 at the top). `attr` says it is (part of) an attribute value,
 * whose strings are truncated instead of refused.
 */
export function readAnyValue(r: ProtoReader, ctx: DecodeContext, end: number, depth: number, attr: boolean): AnyValue {
  const where = r.where;
  r.where = 'AnyValue';
  let out = EMPTY_VALUE;
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case ANY_STRING: {
        const e = r.len(end);
        const s = attr ? readAttrString(r, ctx, r.pos, e) : readString(r, ctx, r.pos, e, 'string value');
        const slot = r.lastSlot;
        out = slot >= 0 ? r.values.stringValue(slot, s) : { type: 'string', value: s };
        r.pos = e;
        break;
      }
      case ANY_BOOL:
        out = r.bool(end) ? TRUE_VALUE : FALSE_VALUE;
        break;
      case ANY_INT: {
        const small = r.int64Small(end);
        out = small >= 0 ? r.values.intValue(small) : { type: 'int', value: r.int64Rest() };
        break;
      }
      case ANY_DOUBLE:
        out = { type: 'double', value: r.double(end) };
        break;
      case ANY_ARRAY:
      case ANY_KVLIST: {
        const e = r.len(end);
        if (depth >= StorageLimits.anyValueDepthMax) {
          // Not read further: the bytes below the deepest accepted level are skipped whole.
          ctx.reject('OTLP_ANY_VALUE_TOO_DEEP', `an AnyValue nests deeper than ${StorageLimits.anyValueDepthMax}`);
          out = EMPTY_VALUE;
        } else {
          out = tag === ANY_ARRAY ? readArray(r, ctx, e, depth, attr) : readKvList(r, ctx, e, depth, attr);
        }
        r.pos = e;
        break;
      }
      case ANY_BYTES: {
        const e = r.len(end);
        const n = e - r.pos;
        if (n > StorageLimits.bytesValueBytesMax) {
          ctx.reject('OTLP_VALUE_TOO_LONG', `a bytes value is ${n} bytes, more than ${StorageLimits.bytesValueBytesMax}`);
          out = EMPTY_VALUE;
        } else {
          out = { type: 'bytes', value: r.bytes(r.pos, e) };
        }
        r.pos = e;
        break;
      }
      default:
        r.skip(tag, end, ANY_MASK);
    }
  }
  r.where = where;
  return out;
}

/** readAttrString decodes an attribute string value, cut to the decode's attributeValueBytesMax at a character boundary (counted). */
function readAttrString(r: ProtoReader, ctx: DecodeContext, start: number, end: number): string {
  const e = utf8CutEnd(r.buf, start, end, ctx.limits.attributeValueBytesMax);
  if (e !== end) ctx.itemTruncated++;
  return r.string(start, e);
}

function readArray(r: ProtoReader, ctx: DecodeContext, end: number, depth: number, attr: boolean): AnyValue {
  const where = r.where;
  r.where = 'ArrayValue';
  const values: AnyValue[] = [];
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag === LIST_VALUES) {
      const e = r.len(end);
      const v = readAnyValue(r, ctx, e, depth + 1, attr);
      if (values.length < StorageLimits.anyValueArrayElementsMax) values.push(v);
      else ctx.reject('OTLP_LIMIT_EXCEEDED', `an array value has more than ${StorageLimits.anyValueArrayElementsMax} elements`);
      r.pos = e;
    } else {
      r.skip(tag, end, LIST_MASK);
    }
  }
  r.where = where;
  return { type: 'array', values: values.length === 0 ? NONE : values };
}

function readKvList(r: ProtoReader, ctx: DecodeContext, end: number, depth: number, attr: boolean): AnyValue {
  const where = r.where;
  r.where = 'KeyValueList';
  const values: KeyValue[] = [];
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag === LIST_VALUES) {
      const e = r.len(end);
      const kv = readKeyValue(r, ctx, e, depth + 1, attr);
      if (values.length < StorageLimits.attributesPerListMax) values.push(kv);
      else ctx.reject('OTLP_LIMIT_EXCEEDED', `a kvlist value has more than ${StorageLimits.attributesPerListMax} entries`);
      r.pos = e;
    } else {
      r.skip(tag, end, LIST_MASK);
    }
  }
  r.where = where;
  const dup = duplicateKey(values);
  if (dup !== null) ctx.reject('OTLP_DUPLICATE_ATTRIBUTE_KEY', `a kvlist value has the key ${JSON.stringify(dup)} twice`);
  return { type: 'kvlist', values: values.length === 0 ? NONE : values };
}

/** readKeyValue decodes the KeyValue message in [r.pos, end); its value is at nesting `depth`. */
export function readKeyValue(r: ProtoReader, ctx: DecodeContext, end: number, depth: number, attr: boolean): KeyValue {
  const where = r.where;
  r.where = 'KeyValue';
  let key = '';
  let keySlot = -1;
  let value = EMPTY_VALUE;
  let valueHash = 0;
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag === KV_KEY) {
      const e = r.len(end);
      key = readString(r, ctx, r.pos, e, 'an attribute key');
      keySlot = r.lastSlot;
      r.pos = e;
    } else if (tag === KV_VALUE) {
      const e = r.len(end);
      // A scalar value's first bytes identify it well enough to pick a pair slot (the pair cache checks identity).
      valueHash = (r.buf[r.pos + 1] as number) | ((r.buf[e - 1] as number) << 8);
      value = readAnyValue(r, ctx, e, depth, attr);
      r.pos = e;
    } else {
      r.skip(tag, end, KV_MASK);
    }
  }
  r.where = where;
  // A pair of a cached key and a shared value (cached string or int, bool, empty) is shared too.
  if (keySlot >= 0 && (value.type === 'string' || value.type === 'int' || value.type === 'bool' || value.type === 'empty')) {
    return r.values.pair(keySlot, key, value, valueHash);
  }
  return { key, value };
}

/**
 * AttrList collects the repeated KeyValue field of one item: the first
 * decode's attributesPerItemMax (OtlpItemLimits) are kept, the rest only counted in `cut`.
 * The kept ones gather in a scratch array reused from item to item; finish
 * copies them into a list of their exact length (a list grown by push keeps
 * room for 17, about 150 bytes per item; bench/README.md, ingest).
 */
export class AttrList {
  /** #kept holds the item's kept attributes in its first #n slots (later slots: stale, of earlier items). */
  readonly #kept: KeyValue[] = [];
  #n = 0;
  cut = 0;

  /** reset empties the list for the next item. */
  reset(): void {
    this.#n = 0;
    this.cut = 0;
  }

  /** add decodes one KeyValue in [r.pos, end) (or skips it, unread, past the limit). */
  add(r: ProtoReader, ctx: DecodeContext, end: number): void {
    if (this.#n < ctx.limits.attributesPerItemMax) {
      // Decoded before the slot is taken: readKeyValue never reenters this list.
      const kv = readKeyValue(r, ctx, end, 1, true);
      this.#kept[this.#n++] = kv;
    } else this.cut++;
  }

  /** finish returns the kept attributes (NONE when empty) after the duplicate-key check, as a new list of their exact length. */
  finish(ctx: DecodeContext, what: string): readonly KeyValue[] {
    const n = this.#n;
    if (n === 0) return NONE;
    return finishAttributes(ctx, this.#kept.slice(0, n), what);
  }

  /** refuseCut records OTLP_TOO_MANY_ATTRIBUTES when attributes were cut from an item that has no dropped count. */
  refuseCut(ctx: DecodeContext, what: string): void {
    if (this.cut > 0) {
      ctx.reject('OTLP_TOO_MANY_ATTRIBUTES', `${what} has more than ${ctx.limits.attributesPerItemMax} attributes`);
    }
  }
}

const RES_ATTR = (1 << 3) | WT_LEN;
const RES_DROPPED = (2 << 3) | WT_VARINT;
const RES_MASK = fieldMask(1, 2);
const SCOPE_NAME = (1 << 3) | WT_LEN;
const SCOPE_VERSION = (2 << 3) | WT_LEN;
const SCOPE_ATTR = (3 << 3) | WT_LEN;
const SCOPE_DROPPED = (4 << 3) | WT_VARINT;
const SCOPE_MASK = fieldMask(1, 2, 3, 4);

/** Decoded is a resource or scope with the problem that refuses every item under it (null if none). */
export interface Decoded<T> {
  readonly value: T;
  readonly problem: OtlpRejection | null;
}

/**
 * readResource decodes the Resource message and the schema URL an envelope's
 * first pass found (either may be absent). Truncations count once.
 */
export function readResource(r: ProtoReader, ctx: DecodeContext, env: Envelope): Decoded<Resource> {
  const where = r.where;
  r.where = 'Resource';
  ctx.problem = null;
  ctx.itemTruncated = 0;
  const schemaUrl = readString(r, ctx, env.schemaStart, env.schemaEnd, 'resource schema URL');
  const start = env.headStart;
  const end = env.headEnd;
  const attrs = new AttrList();
  let dropped = 0;
  r.pos = start;
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag === RES_ATTR) {
      const e = r.len(end);
      attrs.add(r, ctx, e);
      r.pos = e;
    } else if (tag === RES_DROPPED) {
      dropped = r.uint32(end);
    } else {
      r.skip(tag, end, RES_MASK);
    }
  }
  r.where = where;
  const value: Resource = {
    attributes: attrs.finish(ctx, 'resource attributes'),
    droppedAttributesCount: droppedPlus(dropped, attrs.cut),
    schemaUrl,
  };
  return envelopeDone(ctx, value);
}

function envelopeDone<T>(ctx: DecodeContext, value: T): Decoded<T> {
  ctx.truncatedValues += ctx.itemTruncated;
  ctx.itemTruncated = 0;
  const problem = ctx.problem;
  ctx.problem = null;
  return { value, problem };
}

/**
 * readScope decodes the InstrumentationScope message and the schema URL an
 * envelope's first pass found; `inherited` is the resource's problem.
 */
export function readScope(r: ProtoReader, ctx: DecodeContext, env: Envelope, inherited: OtlpRejection | null): Decoded<Scope> {
  const where = r.where;
  r.where = 'InstrumentationScope';
  ctx.problem = inherited;
  ctx.itemTruncated = 0;
  const schemaUrl = readString(r, ctx, env.schemaStart, env.schemaEnd, 'scope schema URL');
  const start = env.headStart;
  const end = env.headEnd;
  const attrs = new AttrList();
  let name = '';
  let version = '';
  let dropped = 0;
  r.pos = start;
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case SCOPE_NAME: {
        const e = r.len(end);
        name = readString(r, ctx, r.pos, e, 'scope name');
        r.pos = e;
        break;
      }
      case SCOPE_VERSION: {
        const e = r.len(end);
        version = readString(r, ctx, r.pos, e, 'scope version');
        r.pos = e;
        break;
      }
      case SCOPE_ATTR: {
        const e = r.len(end);
        attrs.add(r, ctx, e);
        r.pos = e;
        break;
      }
      case SCOPE_DROPPED:
        dropped = r.uint32(end);
        break;
      default:
        r.skip(tag, end, SCOPE_MASK);
    }
  }
  r.where = where;
  const value: Scope = {
    name,
    version,
    attributes: attrs.finish(ctx, 'scope attributes'),
    droppedAttributesCount: droppedPlus(dropped, attrs.cut),
    schemaUrl,
  };
  return envelopeDone(ctx, value);
}
