/**
 * proto-envelope.ts — the request > Resource{Spans,Metrics,Logs} >
 * Scope{Spans,Metrics,Logs} > item nesting all three OTLP requests share,
 * walked once for every signal: each resource and scope is decoded once and
 * shared by the rows under it, and each item is handed to the signal's
 * ItemSink with them.
 *
 * The envelopes are read in two passes because fields 1 (resource or scope)
 * and 3 (schema_url) may follow the repeated field 2 on the wire.
 */
import { assert } from '../errors.js';
import type { Resource, Scope } from '../storage/rows.js';
import type { DecodeContext, OtlpRejection } from './decode-result.js';
import { readResource, readScope } from './proto-common.js';
import { WT_LEN, fieldMask } from './proto-reader.js';
import type { ProtoReader } from './proto-reader.js';

/** Envelope is where the non-repeated fields of a Resource{Spans,Metrics,Logs} or Scope{...} message were found by the first pass. */
export interface Envelope {
  /** headStart/headEnd bound the resource or scope message (equal when absent). */
  headStart: number;
  headEnd: number;
  /** schemaStart/schemaEnd bound the schema URL (equal when absent). */
  schemaStart: number;
  schemaEnd: number;
}

/** newEnvelope is an Envelope to reuse across scanEnvelope calls. */
export function newEnvelope(): Envelope {
  return { headStart: 0, headEnd: 0, schemaStart: 0, schemaEnd: 0 };
}

const ENV_HEAD = (1 << 3) | WT_LEN;
const ENV_ITEMS = (2 << 3) | WT_LEN;
const ENV_SCHEMA = (3 << 3) | WT_LEN;
const ENV_MASK = fieldMask(1, 2, 3);

/**
 * scanEnvelope is the first pass over a Resource* or Scope* message in
 * [start, end): fields 1 (resource or scope) and 3 (schema_url) may follow
 * the repeated field 2, so they are found before field 2 is decoded.
 */
export function scanEnvelope(r: ProtoReader, start: number, end: number, out: Envelope): void {
  out.headStart = 0;
  out.headEnd = 0;
  out.schemaStart = 0;
  out.schemaEnd = 0;
  r.pos = start;
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag === ENV_ITEMS) {
      r.pos = r.len(end);
    } else if (tag === ENV_HEAD || tag === ENV_SCHEMA) {
      const e = r.len(end);
      if (tag === ENV_HEAD) {
        out.headStart = r.pos;
        out.headEnd = e;
      } else {
        out.schemaStart = r.pos;
        out.schemaEnd = e;
      }
      r.pos = e;
    } else {
      r.skip(tag, end, ENV_MASK);
    }
  }
}


/** EnvelopeNames name one signal's messages and fields, for error messages and item paths. */
export interface EnvelopeNames {
  readonly request: string;
  readonly resource: string;
  readonly scope: string;
  /** resourceField, scopeField and itemField are the JSON names used in item paths (resourceSpans, scopeSpans, spans). */
  readonly resourceField: string;
  readonly scopeField: string;
  readonly itemField: string;
}

/** ItemSink decodes one item (a span, a metric, a log record) in [r.pos, end) under its resource and scope. */
export interface ItemSink {
  item(end: number, resource: Resource, scope: Scope, inherited: OtlpRejection | null, path: ItemPath): void;
}

/** ItemPath locates an item in its request; `format` renders it only when an item is refused. */
export class ItemPath {
  ri = 0;
  si = 0;
  i = 0;
  readonly #names: EnvelopeNames;

  constructor(names: EnvelopeNames) {
    this.#names = names;
  }

  /** format is the item's path, e.g. resourceSpans[0].scopeSpans[1].spans[2]. */
  format(): string {
    const n = this.#names;
    return `${n.resourceField}[${this.ri}].${n.scopeField}[${this.si}].${n.itemField}[${this.i}]`;
  }
}

const REQ_ITEMS = (1 << 3) | WT_LEN;
const REQ_MASK = fieldMask(1);

/** walkRequest decodes a whole Export*ServiceRequest body, handing every item to `sink`. */
export function walkRequest(r: ProtoReader, ctx: DecodeContext, names: EnvelopeNames, sink: ItemSink): void {
  const end = r.buf.length;
  const envResource = newEnvelope();
  const envScope = newEnvelope();
  const path = new ItemPath(names);
  r.pos = 0;
  r.where = names.request;
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag !== REQ_ITEMS) {
      r.skip(tag, end, REQ_MASK);
      continue;
    }
    const rEnd = r.len(end);
    const rStart = r.pos;
    r.where = names.resource;
    scanEnvelope(r, rStart, rEnd, envResource);
    const res = readResource(r, ctx, envResource);
    r.pos = rStart;
    path.si = 0;
    while (r.pos < rEnd) {
      const rTag = r.tag(rEnd);
      if (rTag !== ENV_ITEMS) {
        r.skip(rTag, rEnd, 0); // fields 1 and 3, checked by the first pass, or unknown
        continue;
      }
      const sEnd = r.len(rEnd);
      const sStart = r.pos;
      r.where = names.scope;
      scanEnvelope(r, sStart, sEnd, envScope);
      const sc = readScope(r, ctx, envScope, res.problem);
      r.pos = sStart;
      path.i = 0;
      while (r.pos < sEnd) {
        const sTag = r.tag(sEnd);
        if (sTag !== ENV_ITEMS) {
          r.skip(sTag, sEnd, 0);
          continue;
        }
        const iEnd = r.len(sEnd);
        sink.item(iEnd, res.value, sc.value, sc.problem, path);
        assert(r.pos === iEnd, 'an item decoder stops at the end of its item');
        r.pos = iEnd;
        r.where = names.scope;
        path.i++;
      }
      r.pos = sEnd;
      r.where = names.resource;
      path.si++;
    }
    r.pos = rEnd;
    r.where = names.request;
    path.ri++;
  }
  assert(r.pos === end, 'the walk stops at the end of the body');
}
