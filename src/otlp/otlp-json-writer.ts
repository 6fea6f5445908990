/**
 * otlp-json-writer.ts — stored spans back to OTLP JSON (the OTLP/HTTP
 * "JSON Protobuf Encoding": lowerCamelCase names, trace and span ids as hex,
 * 64-bit integers as decimal strings, enums as integers, bytes as base64,
 * fields at their default value left out), grouped into ResourceSpans and
 * ScopeSpans as an exporter would have sent them. Tempo's
 * `GET /api/traces/{id}` answers `{"batches": [ResourceSpans...]}` with it.
 *
 * Grouping: spans share a ResourceSpans when their resources are equal in
 * value (attributes in order, dropped count, schema URL), and a ScopeSpans
 * when their scopes are too; groups keep the order of their first span.
 */
import type { AnyValue, KeyValue, Resource, Scope, SpanRow } from '../storage/rows.js';

type Json = Record<string, unknown>;

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** anyValueJson renders an AnyValue. */
export function anyValueJson(v: AnyValue): Json {
  switch (v.type) {
    case 'empty':
      return {};
    case 'string':
      return { stringValue: v.value };
    case 'bool':
      return { boolValue: v.value };
    case 'int':
      return { intValue: v.value.toString() };
    case 'double':
      return { doubleValue: Number.isFinite(v.value) ? v.value : String(v.value) };
    case 'bytes':
      return { bytesValue: Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).toString('base64') };
    case 'array':
      return { arrayValue: { values: v.values.map(anyValueJson) } };
    case 'kvlist':
      return { kvlistValue: { values: attributesJson(v.values) } };
  }
}

/** attributesJson renders a KeyValue list. */
export function attributesJson(kvs: readonly KeyValue[]): Json[] {
  return kvs.map((kv) => ({ key: kv.key, value: anyValueJson(kv.value) }));
}

function put(o: Json, key: string, value: unknown, isDefault: boolean): void {
  if (!isDefault) o[key] = value;
}

function resourceJson(r: Resource): Json {
  const o: Json = { attributes: attributesJson(r.attributes) };
  put(o, 'droppedAttributesCount', r.droppedAttributesCount, r.droppedAttributesCount === 0);
  return o;
}

function scopeJson(s: Scope): Json {
  const o: Json = {};
  put(o, 'name', s.name, s.name === '');
  put(o, 'version', s.version, s.version === '');
  put(o, 'attributes', attributesJson(s.attributes), s.attributes.length === 0);
  put(o, 'droppedAttributesCount', s.droppedAttributesCount, s.droppedAttributesCount === 0);
  return o;
}

/** spanJson renders one span (without its resource and scope). */
export function spanJson(s: SpanRow): Json {
  const o: Json = { traceId: hex(s.traceId), spanId: hex(s.spanId) };
  put(o, 'traceState', s.traceState, s.traceState === '');
  put(o, 'parentSpanId', hex(s.parentSpanId), s.parentSpanId.length === 0);
  put(o, 'flags', s.flags, s.flags === 0);
  o['name'] = s.name;
  put(o, 'kind', s.kind, s.kind === 0);
  o['startTimeUnixNano'] = s.startTimeUnixNano.toString();
  o['endTimeUnixNano'] = s.endTimeUnixNano.toString();
  put(o, 'attributes', attributesJson(s.attributes), s.attributes.length === 0);
  put(o, 'droppedAttributesCount', s.droppedAttributesCount, s.droppedAttributesCount === 0);
  put(
    o,
    'events',
    s.events.map((e) => {
      const ev: Json = { timeUnixNano: e.timeUnixNano.toString(), name: e.name };
      put(ev, 'attributes', attributesJson(e.attributes), e.attributes.length === 0);
      put(ev, 'droppedAttributesCount', e.droppedAttributesCount, e.droppedAttributesCount === 0);
      return ev;
    }),
    s.events.length === 0,
  );
  put(o, 'droppedEventsCount', s.droppedEventsCount, s.droppedEventsCount === 0);
  put(
    o,
    'links',
    s.links.map((l) => {
      const lk: Json = { traceId: hex(l.traceId), spanId: hex(l.spanId) };
      put(lk, 'traceState', l.traceState, l.traceState === '');
      put(lk, 'attributes', attributesJson(l.attributes), l.attributes.length === 0);
      put(lk, 'droppedAttributesCount', l.droppedAttributesCount, l.droppedAttributesCount === 0);
      put(lk, 'flags', l.flags, l.flags === 0);
      return lk;
    }),
    s.links.length === 0,
  );
  put(o, 'droppedLinksCount', s.droppedLinksCount, s.droppedLinksCount === 0);
  const status: Json = {};
  put(status, 'message', s.status.message, s.status.message === '');
  put(status, 'code', s.status.code, s.status.code === 0);
  o['status'] = status;
  return o;
}

/** SpanGroup is one ResourceSpans-to-be: a resource and its scopes, each with its spans, in first-seen order. */
export interface SpanGroup {
  readonly resource: Resource;
  readonly scopes: { readonly scope: Scope; readonly spans: SpanRow[] }[];
}

/**
 * groupSpans groups spans by resource, then scope, as an exporter would have
 * sent them (see the top of this file). The JSON and the protobuf writers
 * (otlp-proto-writer.ts) both group with it, so their answers agree.
 */
export function groupSpans(spans: readonly SpanRow[]): SpanGroup[] {
  const resources = new Map<string, { group: SpanGroup; scopes: Map<string, { scope: Scope; spans: SpanRow[] }> }>();
  // Spans decoded from one block or entry share their resource and scope objects: each is rendered
  // to its grouping key once (a trace's lookup spent half its JSON time re-rendering them per span).
  const resourceKeys = new Map<Resource, string>();
  const scopeKeys = new Map<Scope, string>();
  for (const s of spans) {
    let rk = resourceKeys.get(s.resource);
    if (rk === undefined) {
      rk = JSON.stringify([resourceJson(s.resource), s.resource.schemaUrl]);
      resourceKeys.set(s.resource, rk);
    }
    let r = resources.get(rk);
    if (r === undefined) {
      r = { group: { resource: s.resource, scopes: [] }, scopes: new Map() };
      resources.set(rk, r);
    }
    let sk = scopeKeys.get(s.scope);
    if (sk === undefined) {
      sk = JSON.stringify([scopeJson(s.scope), s.scope.schemaUrl]);
      scopeKeys.set(s.scope, sk);
    }
    let sc = r.scopes.get(sk);
    if (sc === undefined) {
      sc = { scope: s.scope, spans: [] };
      r.scopes.set(sk, sc);
      r.group.scopes.push(sc);
    }
    sc.spans.push(s);
  }
  return [...resources.values()].map((r) => r.group);
}

/** resourceSpansJson groups spans into OTLP JSON ResourceSpans (see the top of this file). */
export function resourceSpansJson(spans: readonly SpanRow[]): Json[] {
  return groupSpans(spans).map((g) => ({
    resource: resourceJson(g.resource),
    ...(g.resource.schemaUrl === '' ? {} : { schemaUrl: g.resource.schemaUrl }),
    scopeSpans: g.scopes.map((sc) => ({
      scope: scopeJson(sc.scope),
      ...(sc.scope.schemaUrl === '' ? {} : { schemaUrl: sc.scope.schemaUrl }),
      spans: sc.spans.map(spanJson),
    })),
  }));
}
