/**
 * log-count-page.ts — what counting a page's rows needs of it, read from the
 * page's bytes without building a row (log-count.ts): each row's stream id
 * (section 5) and whether the row carries structured metadata (a trace or
 * span id in section 6, or attributes in the rest section 7: msgpack,
 * walked here value by value without unpacking it). A row that carries
 * metadata is then built whole by the caller (its metadata is part of its
 * series); every other row is counted from its stream alone. Layout in
 * log-block-format.ts. Pure code, no I/O.
 *
 * The walk reads plain msgpack only (STORAGE_PACKR: records and
 * extensions off, so every value is one of the format's base types); any
 * other byte, a length past the section, a tuple of the wrong arity or
 * trailing bytes is ERR_CORRUPTION, as the full decoder's would be.
 */
import { assert } from '../../errors.js';
import { ByteReader } from '../codec/index.js';
import { SPAN_ID_BYTES, TRACE_ID_BYTES } from '../rows.js';
import type { OpenedLogBlock } from './log-block-open.js';
import { MASK_SPAN, MASK_TRACE, SEC_IDS, SEC_REST, blockCorrupt as corrupt } from './log-block-format.js';

/** REST_ROW_FIELDS is the arity of a row's rest tuple; ATTRIBUTES_FIELD the index of its attributes (log-block-format.ts section 7). */
const REST_ROW_FIELDS = 7;
const ATTRIBUTES_FIELD = 5;

/**
 * MsgpackWalk reads msgpack headers and skips values between `pos` and
 * `end` without building them. Invariant: pos <= end.
 */
class MsgpackWalk {
  readonly #b: Uint8Array;
  #pos: number;
  readonly #end: number;

  constructor(b: Uint8Array, pos: number, end: number) {
    assert(pos >= 0 && pos <= end && end <= b.length, 'a walk inside its bytes');
    this.#b = b;
    this.#pos = pos;
    this.#end = end;
  }

  get done(): boolean {
    return this.#pos === this.#end;
  }

  #take(n: number): number {
    if (n > this.#end - this.#pos) throw corrupt('rest section: a value runs past the section');
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  #uint(bytes: 1 | 2 | 4): number {
    const at = this.#take(bytes);
    const b = this.#b;
    if (bytes === 1) return b[at] as number;
    if (bytes === 2) return ((b[at] as number) << 8) | (b[at + 1] as number);
    return (((b[at] as number) << 24) >>> 0) + (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number));
  }

  /** arrayLength reads an array header and answers its element count (ERR_CORRUPTION when the next value is not an array). */
  arrayLength(): number {
    const t = this.#b[this.#take(1)] as number;
    if (t >= 0x90 && t <= 0x9f) return t - 0x90;
    if (t === 0xdc) return this.#uint(2);
    if (t === 0xdd) return this.#uint(4);
    throw corrupt(`rest section: 0x${t.toString(16)} where an array was expected`);
  }

  /** skip passes over `count` whole values. */
  skip(count: number): void {
    let pending = count;
    while (pending > 0) {
      // Every value takes at least one byte: more pending values than bytes left is a damaged section.
      if (pending > this.#end - this.#pos) throw corrupt('rest section: more values than bytes');
      pending--;
      const t = this.#b[this.#take(1)] as number;
      if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) continue;
      if (t <= 0x8f) pending += 2 * (t - 0x80);
      else if (t <= 0x9f) pending += t - 0x90;
      else if (t <= 0xbf) this.#take(t - 0xa0);
      else {
        switch (t) {
          case 0xc4:
          case 0xd9:
            this.#take(this.#uint(1));
            break;
          case 0xc5:
          case 0xda:
            this.#take(this.#uint(2));
            break;
          case 0xc6:
          case 0xdb:
            this.#take(this.#uint(4));
            break;
          case 0xc7:
            this.#take(this.#uint(1) + 1);
            break;
          case 0xc8:
            this.#take(this.#uint(2) + 1);
            break;
          case 0xc9:
            this.#take(this.#uint(4) + 1);
            break;
          case 0xca:
          case 0xce:
          case 0xd2:
            this.#take(4);
            break;
          case 0xcb:
          case 0xcf:
          case 0xd3:
            this.#take(8);
            break;
          case 0xcc:
          case 0xd0:
            this.#take(1);
            break;
          case 0xcd:
          case 0xd1:
            this.#take(2);
            break;
          case 0xd4:
          case 0xd5:
          case 0xd6:
          case 0xd7:
          case 0xd8:
            this.#take(1 + (1 << (t - 0xd4)));
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
            throw corrupt(`rest section: msgpack type byte 0x${t.toString(16)}`);
        }
      }
    }
  }
}

/**
 * pageMetadataRows marks, for each row of page `p` of an opened block, 1
 * when the row carries structured metadata (a trace id, a span id, or at
 * least one attribute), else 0. Reads the page's id and rest sections only.
 * Throws ERR_CORRUPTION.
 */
export function pageMetadataRows(o: OpenedLogBlock, p: number): Uint8Array {
  assert(Number.isSafeInteger(p) && p >= 0 && p < o.pages.length, 'a page of the block');
  const page = o.pages[p] as OpenedLogBlock['pages'][number];
  const n = page.rows;
  const out = new Uint8Array(n);
  const ids = page.bounds[SEC_IDS] as readonly [number, number];
  const r = new ByteReader(page.payload, ids[0], ids[1]);
  for (let i = 0; i < n; i++) {
    const mask = r.u8();
    if (mask > (MASK_TRACE | MASK_SPAN)) throw corrupt(`row ${i} id mask ${mask}`, { index: i });
    if (mask !== 0) out[i] = 1;
    r.take(((mask & MASK_TRACE) !== 0 ? TRACE_ID_BYTES : 0) + ((mask & MASK_SPAN) !== 0 ? SPAN_ID_BYTES : 0));
  }
  if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes in the ids section`);
  const rest = page.bounds[SEC_REST] as readonly [number, number];
  const w = new MsgpackWalk(page.payload, rest[0], rest[1]);
  if (w.arrayLength() !== 3) throw corrupt('rest section: not [resources, scopes, rows]');
  w.skip(2);
  if (w.arrayLength() !== n) throw corrupt(`rest section: not ${n} rows`);
  for (let i = 0; i < n; i++) {
    if (w.arrayLength() !== REST_ROW_FIELDS) throw corrupt(`rest section: row ${i} is not a ${REST_ROW_FIELDS}-tuple`, { index: i });
    w.skip(ATTRIBUTES_FIELD);
    const attrs = w.arrayLength();
    if (attrs > 0) out[i] = 1;
    w.skip(attrs + REST_ROW_FIELDS - ATTRIBUTES_FIELD - 1);
  }
  if (!w.done) throw corrupt('rest section: trailing bytes');
  return out;
}
