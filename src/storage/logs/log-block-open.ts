/**
 * log-block-open.ts — a log block opened (layouts in log-block-format.ts):
 * the envelope's CRC-32C, the header and the section bounds checked once
 * (openLogBlock), its time column decoded on its own (decodeBlockTimes), and
 * its pages found by the page table (version 3) so that a reader decodes the
 * columns of only the pages it needs (log-block-decode.ts decodePageColumns).
 * A version 2 block is one page of every row.
 *
 * Invariants of an OpenedLogBlock: pages tile [0, rows) in order, each of
 * `pageRows` rows but the last (1..pageRows); every page's seven column
 * bounds lie inside the payload, consecutive, and the last page ends where
 * the payload does. Pure code, no I/O.
 */
import { assert } from '../../errors.js';
import { LogBlockLimits, StorageLimits } from '../../limits.js';
import { BlockKind, openBlock } from '../block.js';
import { ByteReader } from '../codec/index.js';
import type { LogBlockHeader } from './log-block-format.js';
import {
  LOG_BLOCK_VERSION,
  LOG_BLOCK_VERSION_UNPAGED,
  SECTIONS,
  SEC_TIME,
  TIME_BIG,
  TIME_OFFSETS,
  TIME_OFFSETS_SPAN_NS_MAX,
  blockCorrupt as corrupt,
  readBigUvarint,
  unzigzag,
} from './log-block-format.js';

/** LogSections is a run of rows whose sections are known by their bounds in `payload`: a version 2 block, or one page of a version 3 block (rows are the page's; its time bound is empty: times are the block's). */
export interface LogSections extends LogBlockHeader {
  readonly payload: Uint8Array;
  readonly bounds: readonly (readonly [number, number])[];
}

/** OpenedLogBlock is a checked block (envelope, header, section bounds, page table) whose sections are decoded on demand. */
export interface OpenedLogBlock extends LogSections {
  readonly version: number;
  /** pageRows is the rows of every page but the last (a version 2 block: rows). */
  readonly pageRows: number;
  /** pages are the block's pages in row order (a version 2 block: itself). */
  readonly pages: readonly LogSections[];
  /** tables bounds a version 3 block's resource and scope tables (null: version 2, whose rest section holds them). */
  readonly tables: readonly [number, number] | null;
  /** streams bounds a version 3 block's stream table (null: version 2, whose stream section holds it). */
  readonly streams: readonly [number, number] | null;
}

/** STR_BYTES_MAX bounds a length-prefixed string of a log block (a stored string, or a rendered line). */
export const STR_BYTES_MAX = Math.max(StorageLimits.stringBytesMax, LogBlockLimits.renderedCharsMax * 3);

function readSections(r: ByteReader, from: number): [number, number][] {
  const bounds: [number, number][] = [];
  for (let s = from; s < SECTIONS; s++) {
    const len = r.uvarint();
    const start = r.pos;
    r.take(len);
    bounds.push([start, r.pos]);
  }
  return bounds;
}

/** openLogBlock checks a sealed block's envelope, header and page table once, for several section reads. Throws ERR_CORRUPTION. */
export function openLogBlock(bytes: Uint8Array): OpenedLogBlock {
  const payload = openBlock(bytes, BlockKind.logs);
  const r = new ByteReader(payload);
  const version = r.u8();
  if (version !== LOG_BLOCK_VERSION && version !== LOG_BLOCK_VERSION_UNPAGED) throw corrupt(`version ${version} is not ${LOG_BLOCK_VERSION_UNPAGED} or ${LOG_BLOCK_VERSION}`);
  const tenant = r.str(STR_BYTES_MAX, 'tenant');
  const rows = r.uvarint();
  if (rows < 1 || rows > LogBlockLimits.rowsPerBlockMax) throw corrupt(`${rows} rows`);
  const head = r.take(16);
  const view = new DataView(head.buffer, head.byteOffset, 16);
  const minTimeNs = view.getBigUint64(0);
  const maxTimeNs = view.getBigUint64(8);
  if (minTimeNs > maxTimeNs) throw corrupt('minTimeNs > maxTimeNs');
  const header = { tenant, rows, minTimeNs, maxTimeNs };
  if (version === LOG_BLOCK_VERSION_UNPAGED) {
    const bounds = readSections(r, 0);
    if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes`);
    const o: OpenedLogBlock = { ...header, payload, bounds, version, pageRows: rows, pages: [], tables: null, streams: null };
    return { ...o, pages: [o] };
  }
  const [timeBound, tables, streams] = readSections(r, SECTIONS - 3) as [[number, number], [number, number], [number, number]];
  const pageRows = r.uvarint();
  if (pageRows < 1 || pageRows > LogBlockLimits.pageRowsMax) throw corrupt(`${pageRows} rows a page`);
  const count = Math.ceil(rows / pageRows);
  const sizes: number[] = [];
  for (let p = 0; p < count; p++) sizes.push(r.uvarint());
  // Every page's section bounds are checked here, into one column of offsets; a page's bounds are made when read (PageSections).
  const at = new Int32Array(count * PAGE_BOUNDS);
  const pages: LogSections[] = [];
  for (let p = 0; p < count; p++) {
    const size = sizes[p] as number;
    if (size > r.remaining) throw corrupt(`page ${p} of ${size} bytes past the block's end`, { page: p });
    const pr = new ByteReader(payload, r.pos, r.pos + size);
    const base = p * PAGE_BOUNDS;
    at[base] = pr.pos;
    for (let k = 1; k < PAGE_BOUNDS; k += 2) {
      const len = pr.uvarint();
      at[k + base] = pr.skip(len);
      at[k + base + 1] = pr.pos;
    }
    if (pr.remaining !== 0) throw corrupt(`${pr.remaining} trailing bytes in page ${p}`, { page: p });
    r.take(size);
    pages.push(new PageSections(header, Math.min(pageRows, rows - p * pageRows), payload, at, base));
  }
  if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes`);
  const empty: [number, number] = [timeBound[1], timeBound[1]];
  const bounds = [timeBound, ...new Array<[number, number]>(SECTIONS - 1).fill(empty)];
  assert(pages.reduce((n, pg) => n + pg.rows, 0) === rows, 'pages tile the rows');
  return { ...header, payload, bounds, version, pageRows, pages, tables, streams };
}

/** PAGE_BOUNDS is the offsets a version 3 page's sections take in PageSections' column: its start (the empty time section), then each of sections 1-7's start and end. */
const PAGE_BOUNDS = 1 + 2 * (SECTIONS - 1);

/**
 * PageSections is one page of a version 3 block whose section bounds were
 * checked at open (openLogBlock) into a column of offsets shared by the
 * block's pages: its `bounds` are made on first read, so a block opened
 * to read a few of its pages (a read on a cache miss) makes no objects for
 * the others (s21: the page table's objects were half of a miss's open
 * after the CRC). Immutable. NB: a class, so a copy made by spreading a
 * page (`{ ...page }`, as a test that damages one does) must name `bounds`.
 */
class PageSections implements LogSections {
  readonly tenant: string;
  readonly rows: number;
  readonly minTimeNs: bigint;
  readonly maxTimeNs: bigint;
  readonly payload: Uint8Array;
  readonly #at: Int32Array;
  readonly #base: number;
  #bounds: readonly (readonly [number, number])[] | null = null;

  constructor(header: LogBlockHeader, rows: number, payload: Uint8Array, at: Int32Array, base: number) {
    assert(rows >= 1 && rows <= header.rows, 'a page holds some of its block\'s rows');
    assert(base >= 0 && base + PAGE_BOUNDS <= at.length, 'a page\'s offsets lie in the column');
    this.tenant = header.tenant;
    this.rows = rows;
    this.minTimeNs = header.minTimeNs;
    this.maxTimeNs = header.maxTimeNs;
    this.payload = payload;
    this.#at = at;
    this.#base = base;
  }

  /** bounds are the page's sections' [start, end) in payload, section 0 (the times: the block's) empty. */
  get bounds(): readonly (readonly [number, number])[] {
    if (this.#bounds === null) {
      const at = this.#at;
      const b = this.#base;
      const start = at[b] as number;
      const out: (readonly [number, number])[] = [[start, start]];
      for (let k = 1; k < PAGE_BOUNDS; k += 2) out.push([at[b + k] as number, at[b + k + 1] as number]);
      this.#bounds = out;
    }
    return this.#bounds;
  }
}

/**
 * BlockTimes is a block's time column decoded once: offsets from minTimeNs
 * as doubles (exact: the span is under 2^52 ns, about 52 days, which every
 * bucketed block is) or, for a wider block, bigints. Bigints are made only
 * for the rows a read returns. Immutable; kept in the node cache (8 bytes
 * a row).
 */
export class BlockTimes {
  readonly minTimeNs: bigint;
  readonly #offsets: Float64Array | null;
  readonly #big: readonly bigint[] | null;

  constructor(minTimeNs: bigint, offsets: Float64Array | null, big: readonly bigint[] | null) {
    assert((offsets === null) !== (big === null), 'offsets or bigints');
    this.minTimeNs = minTimeNs;
    this.#offsets = offsets;
    this.#big = big;
  }

  /** length is the block's rows. */
  get length(): number {
    return this.#offsets !== null ? this.#offsets.length : (this.#big as readonly bigint[]).length;
  }

  /** bytes is what the decoded column weighs. */
  get bytes(): number {
    return this.#offsets !== null ? this.#offsets.byteLength : this.length * 64;
  }

  /** at is row i's time. */
  at(i: number): bigint {
    assert(i >= 0 && i < this.length, 'a row of the block');
    return this.#offsets !== null ? this.minTimeNs + BigInt(this.#offsets[i] as number) : ((this.#big as readonly bigint[])[i] as bigint);
  }

  /** inRange returns a test of whether a row's time lies in [lo, hi], both inclusive. */
  inRange(lo: bigint, hi: bigint): (i: number) => boolean {
    const off = this.#offsets;
    if (off === null) {
      const big = this.#big as readonly bigint[];
      return (i) => {
        const t = big[i] as bigint;
        return t >= lo && t <= hi;
      };
    }
    // Exact: every offset is below 2^52; a bound's offset at or past 2^53 may round but stays above every offset.
    const loOff = lo <= this.minTimeNs ? -1 : Number(lo - this.minTimeNs);
    const hiOff = hi < this.minTimeNs ? -1 : Number(hi - this.minTimeNs);
    return (i) => {
      const t = off[i] as number;
      return t >= loOff && t <= hiOff;
    };
  }

  /**
   * offsetsFrom returns each row's time minus `originNs` as a number: exact
   * for the rows whose time lies in [originNs, originNs + 2^53) (a caller
   * that counts rows of a range starting at originNs asks for those only).
   */
  offsetsFrom(originNs: bigint): (i: number) => number {
    const off = this.#offsets;
    if (off === null) {
      const big = this.#big as readonly bigint[];
      return (i) => Number((big[i] as bigint) - originNs);
    }
    // minTimeNs - originNs is exact: the block holds a row at or past originNs, so it starts less than 2^52 ns before.
    const base = Number(this.minTimeNs - originNs);
    return (i) => base + (off[i] as number);
  }

  /** bigints is every row's time (for callers that want the whole column). */
  bigints(): bigint[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }
}

/**
 * readTimeOffsets reads `rows` svarint deltas from `r` as offsets from the
 * block's minTimeNs, each in [0, spanNs] (ERR_CORRUPTION otherwise). A
 * delta of up to four bytes (under 2^28 ns, every row of a block but a
 * wide gap's) is read inline, with ByteReader.uvarint's checks; a longer
 * one by ByteReader.uvarint itself: the same values and errors as
 * `r.svarint()` a row, at a third of its cost (s21: the time column was
 * a quarter of a block's open on a cache miss).
 */
function readTimeOffsets(r: ByteReader, rows: number, spanNs: number): Float64Array {
  const buf = r.bytes;
  const end = r.end;
  let pos = r.pos;
  const offsets = new Float64Array(rows);
  let prev = 0;
  for (let i = 0; i < rows; i++) {
    let z = -1;
    let v = 0;
    for (let shift = 0, p = pos; shift < 28 && p < end; shift += 7) {
      const b = buf[p++] as number;
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        if (b === 0 && shift > 0) break; // non-canonical: uvarint below says so
        z = v >>> 0;
        pos = p;
        break;
      }
    }
    if (z < 0) {
      r.pos = pos;
      z = r.uvarint();
      pos = r.pos;
    }
    prev += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    if (!(prev >= 0 && prev <= spanNs)) throw corrupt(`row ${i} time outside the block's range`, { index: i });
    offsets[i] = prev;
  }
  r.pos = pos;
  return offsets;
}

/** decodeBlockTimes decodes only a block's time column; a time outside the block's range is ERR_CORRUPTION. */
export function decodeBlockTimes(o: OpenedLogBlock): BlockTimes {
  const b = o.bounds[SEC_TIME] as readonly [number, number];
  const r = new ByteReader(o.payload, b[0], b[1]);
  const span = o.maxTimeNs - o.minTimeNs;
  const layout = o.version === LOG_BLOCK_VERSION_UNPAGED ? TIME_BIG : r.u8();
  let times: BlockTimes;
  if (layout === TIME_OFFSETS) {
    if (span >= TIME_OFFSETS_SPAN_NS_MAX) throw corrupt('time offsets in a block wider than 2^52 ns');
    times = new BlockTimes(o.minTimeNs, readTimeOffsets(r, o.rows, Number(span)), null);
  } else if (layout === TIME_BIG) {
    const big: bigint[] = new Array(o.rows);
    let prev = o.minTimeNs;
    for (let i = 0; i < o.rows; i++) {
      prev += unzigzag(readBigUvarint(r));
      if (prev < o.minTimeNs || prev > o.maxTimeNs) throw corrupt(`row ${i} time outside the block's range`, { index: i });
      big[i] = prev;
    }
    times =
      span < TIME_OFFSETS_SPAN_NS_MAX ? new BlockTimes(o.minTimeNs, Float64Array.from(big, (t) => Number(t - o.minTimeNs)), null) : new BlockTimes(o.minTimeNs, null, big);
  } else {
    throw corrupt(`time layout ${layout}`);
  }
  if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes in the time section`);
  return times;
}
