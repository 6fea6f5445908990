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

/** MsgpackCursor walks msgpack values by their headers; every read is bounds-checked against `end`. */
class MsgpackCursor {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  #need(n: number): void {
    if (this.pos + n > this.end) throw corrupt('shard entry walk ran past its bytes', { at: this.pos });
  }

  #u8(): number {
    this.#need(1);
    return this.b[this.pos++] as number;
  }

  #uint(n: 1 | 2 | 4): number {
    this.#need(n);
    const b = this.b;
    const p = this.pos;
    this.pos += n;
    if (n === 1) return b[p] as number;
    if (n === 2) return ((b[p] as number) << 8) | (b[p + 1] as number);
    return ((b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))) >>> 0;
  }

  /** arrayHeader reads an array header and returns its element count. */
  arrayHeader(): number {
    const c = this.#u8();
    if (c >= 0x90 && c <= 0x9f) return c & 0x0f;
    if (c === 0xdc) return this.#uint(2);
    if (c === 0xdd) return this.#uint(4);
    throw corrupt('shard entry walk expected an array', { at: this.pos - 1 });
  }

  /** skip moves past one whole value (nested arrays and maps included), without recursion. */
  skip(): void {
    let pending = 1;
    while (pending > 0) {
      pending--;
      const c = this.#u8();
      if (c <= 0x7f || c >= 0xe0 || c === 0xc0 || c === 0xc2 || c === 0xc3) continue; // fixints, nil, booleans
      if (c <= 0x8f) pending += 2 * (c & 0x0f); // fixmap
      else if (c <= 0x9f) pending += c & 0x0f; // fixarray
      else if (c <= 0xbf) this.#advance(c & 0x1f); // fixstr
      else {
        switch (c) {
          case 0xc4: // bin 8/16/32
          case 0xd9: // str 8/16/32
            this.#advance(this.#uint(1));
            break;
          case 0xc5:
          case 0xda:
            this.#advance(this.#uint(2));
            break;
          case 0xc6:
          case 0xdb:
            this.#advance(this.#uint(4));
            break;
          case 0xc7: // ext 8/16/32: length, type byte, data
            this.#advance(this.#uint(1) + 1);
            break;
          case 0xc8:
            this.#advance(this.#uint(2) + 1);
            break;
          case 0xc9:
            this.#advance(this.#uint(4) + 1);
            break;
          case 0xcc:
          case 0xd0:
            this.#advance(1);
            break;
          case 0xcd:
          case 0xd1:
            this.#advance(2);
            break;
          case 0xca:
          case 0xce:
          case 0xd2:
            this.#advance(4);
            break;
          case 0xcb:
          case 0xcf:
          case 0xd3:
            this.#advance(8);
            break;
          case 0xd4: // fixext 1/2/4/8/16: type byte, data
            this.#advance(2);
            break;
          case 0xd5:
            this.#advance(3);
            break;
          case 0xd6:
            this.#advance(5);
            break;
          case 0xd7:
            this.#advance(9);
            break;
          case 0xd8:
            this.#advance(17);
            break;
          case 0xdc:
            pending += this.#uint(2);
            break;
          case 0xdd:
            pending += this.#uint(4);
            break;
          case 0xde:
            pending += 2 * this.#uint(2);
            break;
          case 0xdf:
            pending += 2 * this.#uint(4);
            break;
          default:
            throw corrupt(`shard entry walk met the unused msgpack byte 0x${c.toString(16)}`, { at: this.pos - 1 });
        }
      }
    }
  }

  #advance(n: number): void {
    this.#need(n);
    this.pos += n;
  }
}

/**
 * locateEntrySpans fills `out` with the context range and the byte range of
 * every span of an entry decodeShardEntry accepted; `spans` is the number of
 * spans it decoded (a mismatch is ERR_CORRUPTION).
 */
export function locateEntrySpans(bytes: Uint8Array, spans: number, out: EntrySpanRanges): void {
  const c = new MsgpackCursor(bytes, 0, bytes.length);
  if (c.arrayHeader() !== ENTRY_TUPLE_FIELDS) throw corrupt('shard entry walk: the entry is not an 11-field tuple');
  for (let f = 0; f < ENTRY_RESOURCES_FIELD; f++) c.skip();
  out.contextStart = c.pos;
  c.skip();
  assert(ENTRY_SCOPES_FIELD === ENTRY_RESOURCES_FIELD + 1 && ENTRY_SPANS_FIELD === ENTRY_SCOPES_FIELD + 1, 'context and spans are adjacent');
  out.scopesStart = c.pos;
  c.skip();
  out.contextEnd = c.pos;
  const n = c.arrayHeader();
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
