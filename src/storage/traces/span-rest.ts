/**
 * span-rest.ts — the `rest` column of a span block (layout in span-block.ts):
 * the structured fields that queries do not filter on directly — resource,
 * scope, attributes, events, links and their dropped counts — as
 * deduplicated resource and scope tables, a block dictionary of attribute
 * keys, and one length-prefixed msgpack record per row, so that a scan
 * decodes only the rows it checks. Pure code, no I/O.
 */
import { STORAGE_PACKR } from '../storage-packr.js';
import { OtlpdbError, assert } from '../../errors.js';
import { SpanBlockLimits, StorageLimits as L } from '../../limits.js';
import { corrupt } from '../codec/bits.js';
import { ByteReader } from '../codec/varint.js';
import type { ByteWriter } from '../codec/varint.js';
import { anyValueToWire, readAnyValue, readResource, readScope, resourceToWire, scopeToWire } from '../row-wire.js';
import type { KeyValue, Resource, Scope, SpanEvent, SpanLink, SpanRow } from '../rows.js';
import { SPAN_ID_BYTES, TRACE_ID_BYTES } from '../rows.js';
import { WireReader } from '../wire-reader.js';


function pack(v: unknown): Uint8Array {
  try {
    return STORAGE_PACKR.pack(v);
  } catch (err) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `span fields cannot be encoded: ${(err as Error).message}`);
  }
}


/** KeyDictionary assigns block-local ids to attribute keys in first-seen order (bounded by SpanBlockLimits.attributeKeysMax). */
class KeyDictionary {
  readonly keys: string[] = [];
  readonly #ids = new Map<string, number>();

  /** keyed is the KeyedAttrs wire form of an attribute list. */
  keyed(attrs: readonly KeyValue[]): unknown[] {
    const out: unknown[] = new Array(attrs.length * 2);
    for (let i = 0; i < attrs.length; i++) {
      const kv = attrs[i] as KeyValue;
      let id = this.#ids.get(kv.key);
      if (id === undefined) {
        id = this.keys.length;
        if (id >= SpanBlockLimits.attributeKeysMax) {
          throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `span block of more than SpanBlockLimits.attributeKeysMax (${SpanBlockLimits.attributeKeysMax}) attribute keys`);
        }
        this.#ids.set(kv.key, id);
        this.keys.push(kv.key);
      }
      out[2 * i] = id;
      out[2 * i + 1] = anyValueToWire(kv.value);
    }
    return out;
  }
}

/** encodeRest writes the rest column: deduplicated resource and scope tables, the key dictionary, then one msgpack record per row. */
export function encodeRest(spans: readonly SpanRow[], w: ByteWriter): Uint8Array {
  const b = new RestBuilder();
  const records: Uint8Array[] = spans.map((s) => b.record(s));
  const tables = b.tables();
  w.reset();
  w.uvarint(tables.length);
  w.raw(tables);
  for (const r of records) {
    w.uvarint(r.length);
    w.raw(r);
  }
  return w.finish();
}

/**
 * RestBuilder is encodeRest row by row: record(s) packs one row's record
 * (interning its resource and scope and its attribute keys, first-seen
 * order), tables() the tables of every row recorded so far. A flush encodes
 * a block page by page with it (SplitBlockBuilder, span-block.ts) so no
 * decoded row outlives its page; the bytes are encodeRest's.
 */
export class RestBuilder {
  readonly #resources = new Interner<Resource>(resourceToWire);
  readonly #scopes = new Interner<Scope>(scopeToWire);
  readonly #keys = new KeyDictionary();

  /** record packs row s's msgpack record. */
  record(s: SpanRow): Uint8Array {
    return pack([
      this.#resources.intern(s.resource),
      this.#scopes.intern(s.scope),
      this.#keys.keyed(s.attributes),
      s.droppedAttributesCount,
      s.events.map((e) => [e.timeUnixNano, e.name, this.#keys.keyed(e.attributes), e.droppedAttributesCount]),
      s.droppedEventsCount,
      s.links.map((l) => [l.traceId, l.spanId, l.traceState, this.#keys.keyed(l.attributes), l.droppedAttributesCount, l.flags]),
      s.droppedLinksCount,
    ]);
  }

  /** tables packs the resource and scope tables and the key dictionary (the column's head, without its length). */
  tables(): Uint8Array {
    return pack([this.#resources.table, this.#scopes.table, this.#keys.keys]);
  }
}

/** Interner deduplicates resources or scopes by identity, then by their packed wire bytes (bounded by the block's rows). */
class Interner<T extends object> {
  readonly table: unknown[] = [];
  readonly #byObject = new Map<T, number>();
  readonly #byBytes = new Map<string, number>();
  readonly #toWire: (v: T) => unknown[];

  constructor(toWire: (v: T) => unknown[]) {
    this.#toWire = toWire;
  }

  intern(v: T): number {
    const known = this.#byObject.get(v);
    if (known !== undefined) return known;
    const wire = this.#toWire(v);
    const key = Buffer.from(pack(wire)).toString('latin1');
    let index = this.#byBytes.get(key);
    if (index === undefined) {
      index = this.table.length;
      this.table.push(wire);
      this.#byBytes.set(key, index);
    }
    this.#byObject.set(v, index);
    assert(index < this.table.length, 'interned index in table');
    return index;
  }
}

/** SpanRest is the decoded rest column: the resource and scope tables and each row's record bytes. */
export interface SpanRest {
  readonly resources: readonly Resource[];
  readonly scopes: readonly Scope[];
  /** keys is the block's attribute key dictionary. */
  readonly keys: readonly string[];
  /** records[i] is row i's msgpack record (a view into the block); decode with readRestRecord. */
  readonly records: readonly Uint8Array[];
}

function unpack(bytes: Uint8Array, what: string): unknown {
  try {
    return STORAGE_PACKR.unpack(bytes);
  } catch (err) {
    throw corrupt(`${what} is not msgpack: ${(err as Error).message}`);
  }
}

/** readRest decodes the resource and scope tables of the rest column and splits the per-row records. */
export function readRest(column: Uint8Array, rows: number): SpanRest {
  const r = new ByteReader(column);
  const tables = readTables(r, rows);
  const records = readRecords(r, rows);
  if (r.remaining !== 0) throw corrupt(`span column rest has ${r.remaining} trailing bytes`);
  return { ...tables, records };
}

/** RestTables is the shared part of a rest column: the resource, scope and key tables. */
export type RestTables = Omit<SpanRest, 'records'>;

/**
 * readRestTables decodes the tables part of a rest column cut in pages (a
 * paged span block, span-block.ts format 2): `head` is uvarint tablesBytes
 * and the msgpack, nothing after; `blockRows` bounds the tables as readRest's
 * `rows` does.
 */
export function readRestTables(head: Uint8Array, blockRows: number): RestTables {
  const r = new ByteReader(head);
  const tables = readTables(r, blockRows);
  if (r.remaining !== 0) throw corrupt(`span column rest head has ${r.remaining} trailing bytes`);
  return tables;
}

/** readRestRecords splits one page's part of a rest column into its `rows` records (nothing may be left over). */
export function readRestRecords(chunk: Uint8Array, rows: number): Uint8Array[] {
  const r = new ByteReader(chunk);
  const out = readRecords(r, rows);
  if (r.remaining !== 0) throw corrupt(`span column rest page has ${r.remaining} trailing bytes`);
  return out;
}

/** restHeadBytes is the length of the rest column's tables part (uvarint tablesBytes and the msgpack), so a writer can cut the column. */
export function restHeadBytes(column: Uint8Array): number {
  const r = new ByteReader(column);
  r.take(r.uvarint());
  return r.pos;
}

function readTables(r: ByteReader, rows: number): RestTables {
  const w = new WireReader('stored');
  const tables = w.tuple(unpack(r.take(r.uvarint()), 'span block tables'), 'span block tables', 3);
  const resources = w.array(tables[0], 'span block resources', rows).map((v) => readResource(w, v));
  const scopes = w.array(tables[1], 'span block scopes', rows).map((v) => readScope(w, v));
  const keys = w.array(tables[2], 'span block attribute keys', SpanBlockLimits.attributeKeysMax).map((v) => w.string(v, 'attribute key', L.stringBytesMax));
  return { resources, scopes, keys };
}

function readRecords(r: ByteReader, rows: number): Uint8Array[] {
  const records: Uint8Array[] = new Array(rows);
  for (let i = 0; i < rows; i++) records[i] = r.take(r.uvarint());
  return records;
}

/** RestRecord is one row's structured fields. */
export interface RestRecord {
  readonly resource: Resource;
  readonly scope: Scope;
  readonly attributes: KeyValue[];
  readonly droppedAttributesCount: number;
  readonly events: SpanEvent[];
  readonly droppedEventsCount: number;
  readonly links: SpanLink[];
  readonly droppedLinksCount: number;
}

/** readKeyed checks a KeyedAttrs list against the block's key dictionary. */
function readKeyed(w: WireReader, v: unknown, keys: readonly string[], what: string): KeyValue[] {
  const flat = w.array(v, what, 2 * L.attributesPerListMax);
  if (flat.length % 2 !== 0) w.fail(what, 'has an odd number of key/value elements');
  const out: KeyValue[] = new Array(flat.length / 2);
  for (let i = 0; i < flat.length; i += 2) {
    out[i / 2] = { key: keys[w.uint(flat[i], `${what} key id`, keys.length - 1)] as string, value: readAnyValue(w, flat[i + 1], what, 1) };
  }
  return out;
}

/** readRestRecord decodes and checks row i's record. */
export function readRestRecord(rest: SpanRest, i: number): RestRecord {
  const w = new WireReader('stored');
  const t = w.tuple(unpack(rest.records[i] as Uint8Array, 'span record'), 'span record', 8);
  const ri = w.uint(t[0], 'span resourceIndex', rest.resources.length - 1);
  const si = w.uint(t[1], 'span scopeIndex', rest.scopes.length - 1);
  const events: SpanEvent[] = w.array(t[4], 'span events', L.eventsPerSpanMax).map((ev) => {
    const e = w.tuple(ev, 'span event', 4);
    return {
      timeUnixNano: w.u64(e[0], 'event timeUnixNano'),
      name: w.string(e[1], 'event name', L.stringBytesMax),
      attributes: readKeyed(w, e[2], rest.keys, 'event attributes'),
      droppedAttributesCount: w.u32(e[3], 'event droppedAttributesCount'),
    };
  });
  const links: SpanLink[] = w.array(t[6], 'span links', L.linksPerSpanMax).map((lv) => {
    const l = w.tuple(lv, 'span link', 6);
    return {
      traceId: w.id(l[0], 'link traceId', TRACE_ID_BYTES, false),
      spanId: w.id(l[1], 'link spanId', SPAN_ID_BYTES, false),
      traceState: w.string(l[2], 'link traceState', L.stringBytesMax),
      attributes: readKeyed(w, l[3], rest.keys, 'link attributes'),
      droppedAttributesCount: w.u32(l[4], 'link droppedAttributesCount'),
      flags: w.u32(l[5], 'link flags'),
    };
  });
  return {
    resource: rest.resources[ri] as Resource,
    scope: rest.scopes[si] as Scope,
    attributes: readKeyed(w, t[2], rest.keys, 'span attributes'),
    droppedAttributesCount: w.u32(t[3], 'span droppedAttributesCount'),
    events,
    droppedEventsCount: w.u32(t[5], 'span droppedEventsCount'),
    links,
    droppedLinksCount: w.u32(t[7], 'span droppedLinksCount'),
  };
}
