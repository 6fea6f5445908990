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
import { MsgpackWalk } from '../codec/msgpack-walk.js';
import { SPAN_ID_BYTES, TRACE_ID_BYTES } from '../rows.js';
import type { OpenedLogBlock } from './log-block-open.js';
import { MASK_SPAN, MASK_TRACE, SEC_IDS, SEC_REST, blockCorrupt as corrupt } from './log-block-format.js';

/** REST_ROW_FIELDS is the arity of a row's rest tuple; ATTRIBUTES_FIELD the index of its attributes (log-block-format.ts section 7). */
const REST_ROW_FIELDS = 7;
const ATTRIBUTES_FIELD = 5;

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
  const w = new MsgpackWalk(page.payload, rest[0], rest[1], 'log block: rest section');
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
