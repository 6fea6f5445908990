/**
 * trace-tags-wire.ts — the peer frames of a tag read (Tempo's tag routes):
 *
 *   shard.readTags  request  [group, tenant, consistency, query]
 *                   answer   [partial, stats, entries]
 *
 *   query   = [startNs, endNs, target, valuesMax, staleValuesMax | nil]   (ns as decimal strings)
 *   target  = ['names', [scope...]] | ['values', scope | 'any', key] | ['intrinsic', 'name' | 'kind' | 'status']
 *   stats   = [blocksScanned, blocksPrunedTime, blocksPrunedBloom, blocksPrunedIndex, bytesRead, headRowsScanned]
 *   entries = [[kind, text]...], kind an index into ENTRY_KINDS, sorted by (kind, text), distinct
 *
 * A peer's frame is outside input: the request decoder throws
 * ERR_INVALID_ARGUMENT and the answer decoder ERR_CORRUPTION on anything
 * malformed: wrong shapes, an entry kind the target cannot have, an int or
 * bool text that is not one, unsorted or repeated entries, more than the
 * query's valuesMax entries or TraceTagLimits.valueBytesMax bytes.
 */
import { Packr } from 'msgpackr';
import { OtlpdbError } from '../errors.js';
import { TraceTagLimits as L } from '../limits.js';
import { readScanStatsTuple, scanStatsTuple } from '../storage/shard/signal-store.js';
import type { TagEntry, TagRead, TagReadAnswer, TagTarget } from '../storage/traces/tag-read.js';
import { SPAN_KIND_KEYWORDS, STATUS_KEYWORDS, compareEntries } from '../storage/traces/tag-read.js';
import type { Consistency } from './trace-search-wire.js';

/** SHARD_READ_TAGS is the peer method of a shard's part of a tag read. */
export const SHARD_READ_TAGS = 'shard.readTags';

/** ENTRY_KINDS are the entry kinds by their wire number. Stable: append only. */
export const ENTRY_KINDS = ['span', 'resource', 'string', 'int', 'bool', 'keyword'] as const;

/** ShardTagsRequest is one shard.readTags call. */
export interface ShardTagsRequest {
  readonly group: number;
  readonly tenant: string;
  readonly consistency: Consistency;
  readonly query: TagRead;
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
const NS_TEXT = /^\d{1,20}$/;
const INT_TEXT = /^-?\d{1,20}$/;

function badRequest(why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `${SHARD_READ_TAGS} request: ${why}`);
}
function badAnswer(why: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `${SHARD_READ_TAGS} answer: ${why}`);
}

function unpack(b: Uint8Array, fail: (why: string) => OtlpdbError): unknown {
  try {
    return packr.unpack(b);
  } catch {
    throw fail('not msgpack');
  }
}
function str(v: unknown, what: string, maxBytes: number, fail: (why: string) => OtlpdbError): string {
  if (typeof v !== 'string' || v.length > maxBytes || Buffer.byteLength(v) > maxBytes) throw fail(`${what} is not a string of at most ${maxBytes} bytes`);
  return v;
}
function int(v: unknown, what: string, min: number, max: number, fail: (why: string) => OtlpdbError): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw fail(`${what} is not an integer in [${min}, ${max}]`);
  return v;
}
function nsOf(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !NS_TEXT.test(v)) throw badRequest(`${what} is not a decimal ns count`);
  const n = BigInt(v);
  if (n >= 1n << 64n) throw badRequest(`${what} exceeds u64`);
  return n;
}

function encodeTarget(t: TagTarget): unknown[] {
  switch (t.kind) {
    case 'names':
      return ['names', [...t.scopes]];
    case 'values':
      return ['values', t.scope, t.key];
    case 'intrinsic':
      return ['intrinsic', t.field];
  }
}

function decodeTarget(v: unknown): TagTarget {
  if (!Array.isArray(v) || v.length < 2) throw badRequest('target is not a tuple');
  if (v[0] === 'names' && v.length === 2) {
    const scopes: unknown = v[1];
    if (!Array.isArray(scopes) || scopes.length < 1 || scopes.length > 2 || new Set(scopes).size !== scopes.length || !scopes.every((s) => s === 'span' || s === 'resource')) {
      throw badRequest('names target scopes are not distinct span or resource');
    }
    return { kind: 'names', scopes: scopes as ('span' | 'resource')[] };
  }
  if (v[0] === 'values' && v.length === 3) {
    if (v[1] !== 'span' && v[1] !== 'resource' && v[1] !== 'any') throw badRequest('values target scope is not span, resource or any');
    return { kind: 'values', scope: v[1], key: str(v[2], 'values target key', L.tagBytesMax, badRequest) };
  }
  if (v[0] === 'intrinsic' && v.length === 2) {
    if (v[1] !== 'name' && v[1] !== 'kind' && v[1] !== 'status') throw badRequest('intrinsic target is not name, kind or status');
    return { kind: 'intrinsic', field: v[1] };
  }
  throw badRequest('target is not names, values or intrinsic');
}

/** encodeTagsRequest packs a shard.readTags request. */
export function encodeTagsRequest(r: ShardTagsRequest): Uint8Array {
  const q = r.query;
  return packr.pack([r.group, r.tenant, r.consistency, [q.startNs.toString(), q.endNs.toString(), encodeTarget(q.target), q.valuesMax, q.staleValuesMax ?? null]]);
}

/** decodeTagsRequest checks a shard.readTags request (ERR_INVALID_ARGUMENT when malformed). */
export function decodeTagsRequest(b: Uint8Array): ShardTagsRequest {
  const v = unpack(b, badRequest);
  if (!Array.isArray(v) || v.length !== 4) throw badRequest('not [group, tenant, consistency, query]');
  const group = int(v[0], 'group', 1, 0xffff_ffff, badRequest);
  const tenant = str(v[1], 'tenant', 1024, badRequest);
  const consistency = v[2];
  if (consistency !== 'linearizable' && consistency !== 'stale') throw badRequest('consistency is not linearizable or stale');
  const q: unknown = v[3];
  if (!Array.isArray(q) || q.length !== 5) throw badRequest('query is not a 5-field tuple');
  const startNs = nsOf(q[0], 'startNs');
  const endNs = nsOf(q[1], 'endNs');
  if (startNs >= endNs) throw badRequest('startNs is not before endNs');
  const target = decodeTarget(q[2]);
  const valuesMax = int(q[3], 'valuesMax', 1, L.valuesMax, badRequest);
  const stale = q[4] === null || q[4] === undefined ? undefined : int(q[4], 'staleValuesMax', 1, L.staleValuesMax, badRequest);
  return { group, tenant, consistency, query: { startNs, endNs, target, valuesMax, ...(stale !== undefined ? { staleValuesMax: stale } : {}) } };
}

/** encodeTagsAnswer packs a shard's answer; one past TraceTagLimits.answerBytesMax keeps fewer entries and says partial. */
export function encodeTagsAnswer(a: TagReadAnswer): Uint8Array {
  const s = a.stats;
  const entries = a.entries.map((e) => [ENTRY_KINDS.indexOf(e.kind), e.text]);
  let partial = a.partial;
  for (;;) {
    const out = packr.pack([partial, scanStatsTuple(s), entries]);
    if (out.length <= L.answerBytesMax || entries.length === 0) return out;
    entries.length = Math.floor(entries.length / 2);
    partial = true;
  }
}

/** kindFits says whether an entry of `kind` can answer `target`. */
function kindFits(target: TagTarget, kind: TagEntry['kind']): boolean {
  if (target.kind === 'names') return (target.scopes as readonly string[]).includes(kind);
  if (target.kind === 'values') return kind === 'string' || kind === 'int' || kind === 'bool';
  return target.field === 'name' ? kind === 'string' : kind === 'keyword';
}

/** decodeTagsAnswer checks a shard's answer to `q` (ERR_CORRUPTION when malformed). */
export function decodeTagsAnswer(b: Uint8Array, q: TagRead): TagReadAnswer {
  const v = unpack(b, badAnswer);
  if (!Array.isArray(v) || v.length !== 3 || typeof v[0] !== 'boolean') throw badAnswer('not [partial, stats, entries]');
  const stats = readScanStatsTuple(v[1], badAnswer);
  const raw: unknown = v[2];
  if (!Array.isArray(raw) || raw.length > q.valuesMax) throw badAnswer(`entries is not a list of at most ${q.valuesMax}`);
  let bytes = 0;
  const entries: TagEntry[] = [];
  for (let i = 0; i < raw.length; i++) {
    const e: unknown = raw[i];
    if (!Array.isArray(e) || e.length !== 2) throw badAnswer(`entry ${i} is not [kind, text]`);
    const kind = ENTRY_KINDS[int(e[0], `entry ${i} kind`, 0, ENTRY_KINDS.length - 1, badAnswer)] as TagEntry['kind'];
    if (!kindFits(q.target, kind)) throw badAnswer(`entry ${i} of kind ${kind} does not answer a ${q.target.kind} read`);
    const text = str(e[1], `entry ${i} text`, L.valueBytesMax, badAnswer);
    if (kind === 'int' && !INT_TEXT.test(text)) throw badAnswer(`entry ${i} is not an int`);
    if (kind === 'bool' && text !== 'true' && text !== 'false') throw badAnswer(`entry ${i} is not a bool`);
    if (kind === 'keyword' && !(q.target.kind === 'intrinsic' && q.target.field === 'kind' ? (SPAN_KIND_KEYWORDS as readonly string[]) : STATUS_KEYWORDS).includes(text)) {
      throw badAnswer(`entry ${i} is not a ${q.target.kind === 'intrinsic' ? q.target.field : ''} keyword`);
    }
    bytes += Buffer.byteLength(text);
    if (bytes > L.valueBytesMax) throw badAnswer(`entries exceed ${L.valueBytesMax} bytes`);
    const entry = { kind, text };
    const prev = entries[entries.length - 1];
    if (prev !== undefined && compareEntries(prev, entry) >= 0) throw badAnswer(`entry ${i} is out of order or repeated`);
    entries.push(entry);
  }
  return { partial: v[0], stats, entries };
}
