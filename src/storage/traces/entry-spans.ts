/**
 * entry-spans.ts — where the spans of an encoded shard entry sit in its
 * bytes, so the trace store's head (span-head.ts) can keep the bytes of each
 * span instead of its decoded SpanRow, and decode one span alone later.
 *
 * It walks the entry's msgpack without building values (shard-entry.ts draws
 * the layout; row-wire.ts the tuples):
 *
 *   [ version, tenant, idempotencyKey, part, parts, leaderTimeMs,
 *     resources, scopes, spans, points, logs ]
 *     ^ element 6 ^ 7     ^ 8: array header, then one Span tuple per span
 *
 *   context    = bytes [start of resources, end of scopes): the two tables a
 *                span's resourceIndex and scopeIndex point into
 *   span i     = bytes [spanStarts[i], spanEnds[i]): one msgpack Span tuple
 *
 * Only entries decodeShardEntry has already accepted are walked, so a
 * failure here is a disagreement between this walker and msgpackr: it throws
 * ERR_CORRUPTION all the same (and never reads past the bytes). The test
 * checks the walker against decodeShardEntry, so a change of the entry
 * layout fails it.
 *
 * Pure code. The ranges go into a caller-owned EntrySpanRanges that is
 * reused from entry to entry (no allocation per span).
 */
import { assert } from '../../errors.js';
import { StorageLimits } from '../../limits.js';
import { corrupt } from '../codec/bits.js';
import { MsgpackWalk } from '../codec/msgpack-walk.js';
import { STORAGE_UNPACKR_VIEWS } from '../storage-packr.js';

/** ENTRY_TUPLE_FIELDS is the arity of the shard entry tuple (shard-entry.ts, version 1). */
const ENTRY_TUPLE_FIELDS = 11;
/** ENTRY_RESOURCES_FIELD, ENTRY_SCOPES_FIELD and ENTRY_SPANS_FIELD are their tuple positions. */
const ENTRY_RESOURCES_FIELD = 6;
const ENTRY_SCOPES_FIELD = 7;
const ENTRY_SPANS_FIELD = 8;

/**
 * EntrySpanRanges receives the byte ranges of one entry's context and spans
 * (offsets into the entry's bytes). Invariant after locateEntrySpans:
 * contextStart < scopesStart < contextEnd <= spanStarts[0], and
 * spanStarts[i] < spanEnds[i] <= spanStarts[i + 1] for i < count.
 */
export class EntrySpanRanges {
  contextStart = 0;
  scopesStart = 0;
  contextEnd = 0;
  count = 0;
  /** spanStarts and spanEnds hold `count` offsets each; they grow to the largest entry seen (<= StorageLimits.rowsPerEntryMax). */
  spanStarts = new Uint32Array(512);
  spanEnds = new Uint32Array(512);

  /** reserve makes room for `n` spans. */
  reserve(n: number): void {
    assert(n <= StorageLimits.rowsPerEntryMax, 'an entry holds at most rowsPerEntryMax spans');
    if (n <= this.spanStarts.length) return;
    const cap = Math.min(StorageLimits.rowsPerEntryMax, Math.max(n, 2 * this.spanStarts.length));
    this.spanStarts = new Uint32Array(cap);
    this.spanEnds = new Uint32Array(cap);
  }
}

/**
 * locateEntrySpans fills `out` with the context range and the byte range of
 * every span of an entry decodeShardEntry accepted; `spans` is the number of
 * spans it decoded (a mismatch is ERR_CORRUPTION).
 */
export function locateEntrySpans(bytes: Uint8Array, spans: number, out: EntrySpanRanges): void {
  const c = new MsgpackWalk(bytes, 0, bytes.length, 'shard entry walk');
  if (c.arrayLength() !== ENTRY_TUPLE_FIELDS) throw corrupt('shard entry walk: the entry is not an 11-field tuple');
  for (let f = 0; f < ENTRY_RESOURCES_FIELD; f++) c.skip();
  out.contextStart = c.pos;
  c.skip();
  assert(ENTRY_SCOPES_FIELD === ENTRY_RESOURCES_FIELD + 1 && ENTRY_SPANS_FIELD === ENTRY_SCOPES_FIELD + 1, 'context and spans are adjacent');
  out.scopesStart = c.pos;
  c.skip();
  out.contextEnd = c.pos;
  const n = c.arrayLength();
  if (n !== spans) throw corrupt(`shard entry walk found ${n} spans, the decoder ${spans}`);
  out.reserve(n);
  for (let i = 0; i < n; i++) {
    out.spanStarts[i] = c.pos;
    c.skip();
    out.spanEnds[i] = c.pos;
  }
  out.count = n;
  assert(out.contextStart < out.scopesStart && out.scopesStart < out.contextEnd, 'context ranges are ordered');
  assert(n === 0 || (out.spanStarts[0] as number) > out.contextEnd, 'spans follow the context');
}

/**
 * unpackRange decodes the one msgpack value at bytes [start, end) with the
 * entry decoder's options (byte strings as views: the readers copy what they
 * keep). A value that does not end exactly at `end` is ERR_CORRUPTION.
 */
export function unpackRange(bytes: Uint8Array, start: number, end: number): unknown {
  assert(start >= 0 && start < end && end <= bytes.length, 'an unpacked range is inside its bytes');
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
  let v: unknown;
  try {
    v = STORAGE_UNPACKR_VIEWS.unpack(view);
  } catch (err) {
    throw corrupt(`a span head record is not valid msgpack (${(err as Error).message})`);
  }
  return v;
}
