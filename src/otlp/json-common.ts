/**
 * json-common.ts — OTLP/JSON decoding of the common messages (AnyValue,
 * KeyValue, Resource, InstrumentationScope), the ids, and the
 * request > resource > scope > item walk all three signals share. Rows come
 * out identical to the protobuf decoders' (same checks from item-values.ts,
 * same shared empty values, same item paths).
 */
import { StorageLimits } from '../limits.js';
import type { AnyValue, KeyValue, Resource, Scope } from '../storage/rows.js';
import type { DecodeContext, OtlpRejection } from './decode-result.js';
import { EMPTY_ID, EMPTY_VALUE, NONE, checkStringBytes, droppedPlus, duplicateKey, finishAttributes, optionalId, requiredId, utf8CutEnd } from './item-values.js';
import type { IdSlab } from './item-values.js';
import { JsonShapeError, arr, asObj, base64, bool, double, field, i64, obj, rethrowWithin, str, u32 } from './json-fields.js';
import type { HexIds, JObj } from './json-fields.js';
import { ItemPath } from './proto-envelope.js';
import type { EnvelopeNames } from './proto-envelope.js';

const TRUE_VALUE: AnyValue = Object.freeze({ type: 'bool', value: true });
const FALSE_VALUE: AnyValue = Object.freeze({ type: 'bool', value: false });

/** checkedString reads a string field that is refused (item problem) over StorageLimits.stringBytesMax. */
export function checkedString(ctx: DecodeContext, o: JObj, camel: string, snake: string, what: string): string {
  const s = str(o, camel, snake);
  if (s.length * 3 <= StorageLimits.stringBytesMax) return s;
  return checkStringBytes(ctx, Buffer.byteLength(s, 'utf8'), what) ? s : '';
}

function attrString(ctx: DecodeContext, s: string): string {
  const max = ctx.limits.attributeValueBytesMax;
  if (s.length * 3 <= max) return s;
  const b = Buffer.from(s, 'utf8');
  const e = utf8CutEnd(b, 0, b.length, max);
  if (e === b.length) return s;
  ctx.itemTruncated++;
  return b.toString('utf8', 0, e);
}

/** anyValue decodes a JSON AnyValue at nesting `depth`; `attr` marks attribute values (strings truncated, not refused). */
export function anyValue(ctx: DecodeContext, v: JObj | undefined, depth: number, attr: boolean): AnyValue {
  if (v === undefined) return EMPTY_VALUE;
  let x = field(v, 'stringValue', 'string_value');
  if (x !== undefined) {
    if (typeof x !== 'string') throw new JsonShapeError('stringValue', 'is not a string');
    if (attr) return { type: 'string', value: attrString(ctx, x) };
    return { type: 'string', value: checkedString(ctx, v, 'stringValue', 'string_value', 'string value') };
  }
  x = field(v, 'boolValue', 'bool_value');
  if (x !== undefined) return bool(v, 'boolValue', 'bool_value') ? TRUE_VALUE : FALSE_VALUE;
  x = field(v, 'intValue', 'int_value');
  if (x !== undefined) return { type: 'int', value: i64(x, 'intValue') };
  x = field(v, 'doubleValue', 'double_value');
  if (x !== undefined) return { type: 'double', value: double(x, 'doubleValue') };
  const array = obj(v, 'arrayValue', 'array_value');
  const kvlist = array === undefined ? obj(v, 'kvlistValue', 'kvlist_value') : undefined;
  if (array !== undefined || kvlist !== undefined) {
    if (depth >= StorageLimits.anyValueDepthMax) {
      ctx.reject('OTLP_ANY_VALUE_TOO_DEEP', `an AnyValue nests deeper than ${StorageLimits.anyValueDepthMax}`);
      return EMPTY_VALUE;
    }
    if (array !== undefined) {
      try {
        return arrayValue(ctx, array, depth, attr);
      } catch (err) {
        return rethrowWithin(err, 'arrayValue');
      }
    }
    try {
      return kvlistValue(ctx, kvlist as JObj, depth, attr);
    } catch (err) {
      return rethrowWithin(err, 'kvlistValue');
    }
  }
  x = field(v, 'bytesValue', 'bytes_value');
  if (x !== undefined) {
    const b = base64(x, 'bytesValue');
    if (b.length > StorageLimits.bytesValueBytesMax) {
      ctx.reject('OTLP_VALUE_TOO_LONG', `a bytes value is ${b.length} bytes, more than ${StorageLimits.bytesValueBytesMax}`);
      return EMPTY_VALUE;
    }
    return { type: 'bytes', value: b };
  }
  return EMPTY_VALUE;
}

function arrayValue(ctx: DecodeContext, a: JObj, depth: number, attr: boolean): AnyValue {
  const raw = arr(a, 'values', 'values');
  if (raw.length > StorageLimits.anyValueArrayElementsMax) {
    ctx.reject('OTLP_LIMIT_EXCEEDED', `an array value has more than ${StorageLimits.anyValueArrayElementsMax} elements`);
  }
  const n = Math.min(raw.length, StorageLimits.anyValueArrayElementsMax);
  const values: AnyValue[] = [];
  for (let i = 0; i < n; i++) {
    try {
      values.push(anyValue(ctx, asObj(raw[i], ''), depth + 1, attr));
    } catch (err) {
      rethrowWithin(err, `values[${i}]`);
    }
  }
  return { type: 'array', values: values.length === 0 ? NONE : values };
}

function kvlistValue(ctx: DecodeContext, l: JObj, depth: number, attr: boolean): AnyValue {
  const raw = arr(l, 'values', 'values');
  if (raw.length > StorageLimits.attributesPerListMax) {
    ctx.reject('OTLP_LIMIT_EXCEEDED', `a kvlist value has more than ${StorageLimits.attributesPerListMax} entries`);
  }
  const n = Math.min(raw.length, StorageLimits.attributesPerListMax);
  const values: KeyValue[] = [];
  for (let i = 0; i < n; i++) {
    try {
      values.push(keyValue(ctx, asObj(raw[i], ''), depth + 1, attr));
    } catch (err) {
      rethrowWithin(err, `values[${i}]`);
    }
  }
  const dup = duplicateKey(values);
  if (dup !== null) ctx.reject('OTLP_DUPLICATE_ATTRIBUTE_KEY', `a kvlist value has the key ${JSON.stringify(dup)} twice`);
  return { type: 'kvlist', values: values.length === 0 ? NONE : values };
}

/** keyValue decodes a JSON KeyValue whose value is at nesting `depth`. */
export function keyValue(ctx: DecodeContext, kv: JObj, depth: number, attr: boolean): KeyValue {
  const key = checkedString(ctx, kv, 'key', 'key', 'an attribute key');
  let value: AnyValue;
  try {
    value = anyValue(ctx, obj(kv, 'value', 'value'), depth, attr);
  } catch (err) {
    return rethrowWithin(err, 'value');
  }
  return { key, value };
}

/** Attrs is an item's decoded attributes and how many were cut by the decode's attributesPerItemMax. */
export interface Attrs {
  readonly attributes: readonly KeyValue[];
  readonly cut: number;
}

const NO_ATTRS: Attrs = Object.freeze({ attributes: NONE, cut: 0 });

/** attributes decodes a repeated KeyValue field: the first ctx.limits.attributesPerItemMax are kept (duplicates refused), the rest counted in `cut`, unread. */
export function attributes(ctx: DecodeContext, o: JObj, camel: string, snake: string, what: string): Attrs {
  const raw = arr(o, camel, snake);
  if (raw.length === 0) return NO_ATTRS;
  const n = Math.min(raw.length, ctx.limits.attributesPerItemMax);
  const list: KeyValue[] = new Array(n);
  for (let i = 0; i < n; i++) {
    try {
      list[i] = keyValue(ctx, asObj(raw[i], ''), 1, true);
    } catch (err) {
      rethrowWithin(err, `${camel}[${i}]`);
    }
  }
  return { attributes: finishAttributes(ctx, list, what), cut: raw.length - n };
}

/** IdCode is the rejection code of an id field. */
type IdCode = 'OTLP_BAD_TRACE_ID' | 'OTLP_BAD_SPAN_ID' | 'OTLP_BAD_PARENT_SPAN_ID';

/** hexId decodes a hex id field and checks it like the protobuf decoders check a bytes id. */
export function hexId(
  ctx: DecodeContext,
  hex: HexIds,
  slab: IdSlab,
  o: JObj,
  camel: string,
  snake: string,
  length: number,
  required: boolean,
  code: IdCode,
  what: string,
): Uint8Array {
  const n = hex.decode(o, camel, snake);
  if (n < 0) {
    ctx.reject(code, `${what} is not hex`);
    return EMPTY_ID;
  }
  if (required) return requiredId(ctx, slab, hex.scratch, 0, n, length, code as 'OTLP_BAD_TRACE_ID' | 'OTLP_BAD_SPAN_ID', what);
  return optionalId(ctx, slab, hex.scratch, 0, n, length, code, what);
}

/** Decoded is a resource or scope with the problem that refuses every item under it (null if none). */
export interface JsonDecoded<T> {
  readonly value: T;
  readonly problem: OtlpRejection | null;
}

function envelopeDone<T>(ctx: DecodeContext, value: T): JsonDecoded<T> {
  ctx.truncatedValues += ctx.itemTruncated;
  ctx.itemTruncated = 0;
  const problem = ctx.problem;
  ctx.problem = null;
  return { value, problem };
}

/** resource decodes the resource and schema URL of a Resource{Spans,Metrics,Logs} object. */
export function resource(ctx: DecodeContext, env: JObj): JsonDecoded<Resource> {
  ctx.problem = null;
  ctx.itemTruncated = 0;
  const schemaUrl = checkedString(ctx, env, 'schemaUrl', 'schema_url', 'resource schema URL');
  const r = obj(env, 'resource', 'resource');
  if (r === undefined) return envelopeDone(ctx, { attributes: NONE, droppedAttributesCount: 0, schemaUrl });
  let a: Attrs;
  let dropped: number;
  try {
    a = attributes(ctx, r, 'attributes', 'attributes', 'resource attributes');
    dropped = u32(r, 'droppedAttributesCount', 'dropped_attributes_count');
  } catch (err) {
    return rethrowWithin(err, 'resource');
  }
  return envelopeDone(ctx, { attributes: a.attributes, droppedAttributesCount: droppedPlus(dropped, a.cut), schemaUrl });
}

/** scope decodes the scope and schema URL of a Scope{Spans,Metrics,Logs} object; `inherited` is its resource's problem. */
export function scope(ctx: DecodeContext, env: JObj, inherited: OtlpRejection | null): JsonDecoded<Scope> {
  ctx.problem = inherited;
  ctx.itemTruncated = 0;
  const schemaUrl = checkedString(ctx, env, 'schemaUrl', 'schema_url', 'scope schema URL');
  const s = obj(env, 'scope', 'scope');
  if (s === undefined) return envelopeDone(ctx, { name: '', version: '', attributes: NONE, droppedAttributesCount: 0, schemaUrl });
  try {
    const name = checkedString(ctx, s, 'name', 'name', 'scope name');
    const version = checkedString(ctx, s, 'version', 'version', 'scope version');
    const a = attributes(ctx, s, 'attributes', 'attributes', 'scope attributes');
    const dropped = u32(s, 'droppedAttributesCount', 'dropped_attributes_count');
    return envelopeDone(ctx, { name, version, attributes: a.attributes, droppedAttributesCount: droppedPlus(dropped, a.cut), schemaUrl });
  } catch (err) {
    return rethrowWithin(err, 'scope');
  }
}

/** JsonItemSink decodes one JSON item under its resource and scope; `path` locates it, for a rejection. */
export interface JsonItemSink {
  item(o: JObj, resource: Resource, scope: Scope, inherited: OtlpRejection | null, path: ItemPath): void;
}

/**
 * walkJson hands every item of a parsed request to `sink`, throwing
 * JsonShapeError with the path of a framing error. `snake` are the
 * snake_case names of the three repeated fields (resource_spans...).
 */
export function walkJson(ctx: DecodeContext, req: JObj, names: EnvelopeNames, snake: readonly [string, string, string], sink: JsonItemSink): void {
  const rc = names.resourceField;
  const sc = names.scopeField;
  const ic = names.itemField;
  const path = new ItemPath(names);
  const resources = arr(req, rc, snake[0]);
  for (let ri = 0; ri < resources.length; ri++) {
    path.ri = ri;
    try {
      const rEnv = asObj(resources[ri], '');
      const res = resource(ctx, rEnv);
      const scopes = arr(rEnv, sc, snake[1]);
      for (let si = 0; si < scopes.length; si++) {
        path.si = si;
        try {
          const sEnv = asObj(scopes[si], '');
          const scp = scope(ctx, sEnv, res.problem);
          const items = arr(sEnv, ic, snake[2]);
          for (let i = 0; i < items.length; i++) {
            path.i = i;
            try {
              sink.item(asObj(items[i], ''), res.value, scp.value, scp.problem, path);
            } catch (err) {
              rethrowWithin(err, `${ic}[${i}]`);
            }
          }
        } catch (err) {
          rethrowWithin(err, `${sc}[${si}]`);
        }
      }
    } catch (err) {
      rethrowWithin(err, `${rc}[${ri}]`);
    }
  }
}
