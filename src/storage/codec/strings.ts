/**
 * strings.ts — a string column (span names, service names, attribute values
 * of one block): plain, dictionary, or dictionary with run-length ids,
 * whichever is smallest for this column.
 *
 *   byte 0: STRING_COLUMN_FORMAT_VERSION (1)
 *   byte 1: StringLayout (0 plain, 1 dict, 2 dict+rle)
 *   uvarint rows
 *   Plain (0):   rows × [uvarint byteLength][UTF-8 bytes]
 *   Dict (1):    uvarint dictSize, dictSize × [uvarint byteLength][UTF-8 bytes]   (first-seen order)
 *                rows × uvarint id                                                 (id < dictSize)
 *   DictRle (2): uvarint dictSize, dictSize × [uvarint byteLength][UTF-8 bytes]
 *                uvarint runs, runs × [uvarint id][uvarint runLength >= 1]          (Σ runLength = rows)
 *
 * Every varint is LEB128 (varint.ts). Strings must be well-formed UTF-16 (no
 * lone surrogates: they could not round-trip through UTF-8) and at most
 * CodecLimits.stringBytesMax bytes of UTF-8. The decoder checks versions,
 * bounds, ids, run sums, UTF-8 validity and that no byte is left over: any
 * failure is ERR_CORRUPTION. Decoded rows share the dictionary's strings.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { CodecLimits } from '../../limits.js';
import { corrupt } from './bits.js';
import { ByteReader, ByteWriter, uvarintBytes } from './varint.js';

/** STRING_COLUMN_FORMAT_VERSION is byte 0 of every string column. */
export const STRING_COLUMN_FORMAT_VERSION = 1;

/** StringLayout is byte 1 of a string column: how its rows are stored. */
export const StringLayout = {
  /** Plain stores every row's bytes (best when nearly all rows differ). */
  Plain: 0,
  /** Dict stores each distinct string once, then one id per row. */
  Dict: 1,
  /** DictRle stores the dictionary, then (id, run length) pairs (best for sorted or repetitive columns). */
  DictRle: 2,
} as const;

/** StringLayoutValue is one of the StringLayout numbers. */
export type StringLayoutValue = (typeof StringLayout)[keyof typeof StringLayout];

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** StringColumnStats says what the encoder chose and what each layout would have cost. */
export interface StringColumnStats {
  layout: StringLayoutValue;
  plainBytes: number;
  dictBytes: number;
  rleBytes: number;
}

/**
 * encodeStringColumn encodes rows in the smallest layout. Throws
 * ERR_INVALID_ARGUMENT for a lone surrogate, ERR_LIMIT_EXCEEDED past
 * stringColumnValuesMax rows or stringBytesMax bytes in one string. Pass
 * stats to learn the choice; pass a writer to reuse its buffer; pass
 * rowBytes (at least rows.length long) to learn each row's UTF-8 length,
 * which the encoder measures anyway (a logs flush counts a stream's line
 * bytes with them).
 */
export function encodeStringColumn(rows: readonly string[], w: ByteWriter = new ByteWriter(), stats?: StringColumnStats, rowBytes?: Uint32Array): Uint8Array {
  const n = rows.length;
  assert(rowBytes === undefined || rowBytes.length >= n, 'a byte count per row');
  if (n > CodecLimits.stringColumnValuesMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `codec: ${n} rows in one string column, past ${CodecLimits.stringColumnValuesMax}`);
  }
  // Dictionary in first-seen order, ids per row, runs.
  const idOf = new Map<string, number>();
  const dict: string[] = [];
  const lens: number[] = [];
  const ids = new Uint32Array(n);
  let idBytes = 0;
  let runs = 0;
  let runBytes = 0;
  let plainBytes = 0;
  let runStart = 0;
  for (let i = 0; i < n; i++) {
    const s = rows[i] as string;
    let id = idOf.get(s);
    if (id === undefined) {
      if (!isWellFormed(s)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `codec: string row ${i} has a lone surrogate`, { index: i });
      const len = Buffer.byteLength(s, 'utf8');
      if (len > CodecLimits.stringBytesMax) {
        throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `codec: string row ${i} is ${len} bytes, past ${CodecLimits.stringBytesMax}`, {
          index: i,
        });
      }
      id = dict.length;
      idOf.set(s, id);
      dict.push(s);
      lens.push(len);
    }
    ids[i] = id;
    const len = lens[id] as number;
    if (rowBytes !== undefined) rowBytes[i] = len;
    plainBytes += uvarintBytes(len) + len;
    idBytes += uvarintBytes(id);
    if (i > 0 && ids[i - 1] !== id) {
      runs++;
      runBytes += uvarintBytes(ids[i - 1] as number) + uvarintBytes(i - runStart);
      runStart = i;
    }
  }
  if (n > 0) {
    runs++;
    runBytes += uvarintBytes(ids[n - 1] as number) + uvarintBytes(n - runStart);
  }
  let dictBytes = uvarintBytes(dict.length);
  for (const len of lens) dictBytes += uvarintBytes(len) + len;
  const costPlain = plainBytes;
  const costDict = dictBytes + idBytes;
  const costRle = dictBytes + uvarintBytes(runs) + runBytes;
  let layout: StringLayoutValue = StringLayout.Plain;
  if (costDict < costPlain) layout = StringLayout.Dict;
  if (costRle < Math.min(costPlain, costDict)) layout = StringLayout.DictRle;
  if (stats !== undefined) {
    stats.layout = layout;
    stats.plainBytes = costPlain + 2 + uvarintBytes(n);
    stats.dictBytes = costDict + 2 + uvarintBytes(n);
    stats.rleBytes = costRle + 2 + uvarintBytes(n);
  }

  w.reset();
  w.u8(STRING_COLUMN_FORMAT_VERSION);
  w.u8(layout);
  w.uvarint(n);
  if (layout === StringLayout.Plain) {
    for (let i = 0; i < n; i++) {
      const id = ids[i] as number;
      writeString(w, dict[id] as string, lens[id] as number);
    }
  } else {
    w.uvarint(dict.length);
    for (let id = 0; id < dict.length; id++) writeString(w, dict[id] as string, lens[id] as number);
    if (layout === StringLayout.Dict) {
      for (let i = 0; i < n; i++) w.uvarint(ids[i] as number);
    } else {
      w.uvarint(runs);
      let start = 0;
      for (let i = 1; i <= n; i++) {
        if (i === n || ids[i] !== ids[i - 1]) {
          w.uvarint(ids[i - 1] as number);
          w.uvarint(i - start);
          start = i;
        }
      }
    }
  }
  return w.finish();
}

function writeString(w: ByteWriter, s: string, len: number): void {
  w.uvarint(len);
  w.ensure(len);
  const { written } = utf8Encoder.encodeInto(s, w.bytes.subarray(w.length, w.length + len));
  if (written !== len) throw new OtlpdbError('ERR_INTERNAL', `codec: UTF-8 length ${written}, expected ${len}`);
  w.length += len;
}

function readString(r: ByteReader): string {
  const len = r.uvarint();
  if (len > CodecLimits.stringBytesMax) throw corrupt(`string of ${len} bytes, past ${CodecLimits.stringBytesMax}`);
  const bytes = r.take(len);
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw corrupt('invalid UTF-8 in a string column');
  }
}

/** decodeStringColumn decodes a string column of any layout. Throws ERR_CORRUPTION on bad bytes. */
export function decodeStringColumn(bytes: Uint8Array): string[] {
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (version !== STRING_COLUMN_FORMAT_VERSION) throw corrupt(`unknown string column version ${version}`);
  const layout = r.u8();
  const n = r.uvarint();
  if (n > CodecLimits.stringColumnValuesMax) throw corrupt(`string column claims ${n} rows`);
  let out: string[];
  if (layout === StringLayout.Plain) {
    // Every plain row takes at least one byte.
    if (n > r.remaining) throw corrupt(`string column claims ${n} rows in ${r.remaining} bytes`);
    out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = readString(r);
  } else if (layout === StringLayout.Dict || layout === StringLayout.DictRle) {
    const dictSize = r.uvarint();
    if (dictSize > n || dictSize > r.remaining) throw corrupt(`string dictionary of ${dictSize} entries for ${n} rows`);
    const dict = new Array<string>(dictSize);
    for (let id = 0; id < dictSize; id++) dict[id] = readString(r);
    if (layout === StringLayout.Dict) {
      if (n > r.remaining) throw corrupt(`string column claims ${n} ids in ${r.remaining} bytes`);
      out = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const id = r.uvarint();
        if (id >= dictSize) throw corrupt(`string id ${id} past the dictionary (${dictSize})`);
        out[i] = dict[id] as string;
      }
    } else {
      const runs = r.uvarint();
      if (runs > n || 2 * runs > r.remaining) throw corrupt(`string column claims ${runs} runs`);
      out = new Array<string>(n);
      let i = 0;
      for (let k = 0; k < runs; k++) {
        const id = r.uvarint();
        const len = r.uvarint();
        if (id >= dictSize) throw corrupt(`string id ${id} past the dictionary (${dictSize})`);
        if (len === 0 || len > n - i) throw corrupt(`string run of ${len} rows at row ${i} of ${n}`);
        out.fill(dict[id] as string, i, i + len);
        i += len;
      }
      if (i !== n) throw corrupt(`string runs cover ${i} of ${n} rows`);
    }
  } else {
    throw corrupt(`unknown string column layout ${layout}`);
  }
  if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes after a string column`);
  return out;
}

/**
 * StringColumnView is a string column whose rows are decoded one at a time,
 * when asked for (openStringColumn): what a reader that tests a few rows of
 * a column (a log page's line check: one or two lines of 256) needs without
 * making a string of every row. Opening it checks everything the whole
 * decode checks but the UTF-8 of the rows never asked for (the header,
 * every length and its bounds, that the bytes are consumed exactly); a row
 * asked for is checked as decodeStringColumn checks it, so every string
 * returned was checked. Dictionary layouts are decoded whole at open (their
 * rows share a few strings). Immutable once opened (rows are memoized).
 */
export class StringColumnView {
  readonly rows: number;
  readonly #bytes: Uint8Array;
  /** #at is row i's UTF-8 [#at[2i], #at[2i+1]) in #bytes (plain layout), or null when #all holds every row. */
  readonly #at: Int32Array | null;
  readonly #made: (string | undefined)[];
  #all: string[] | null;

  constructor(bytes: Uint8Array, rows: number, at: Int32Array | null, all: string[] | null) {
    assert((at === null) !== (all === null), 'offsets or every row');
    assert(at === null || at.length === 2 * rows, 'two offsets a row');
    assert(all === null || all.length === rows, 'one string a row');
    this.rows = rows;
    this.#bytes = bytes;
    this.#at = at;
    this.#all = all;
    this.#made = all === null ? new Array<string | undefined>(rows) : [];
  }

  /** at is row i's string. Throws ERR_CORRUPTION (invalid UTF-8). */
  at(i: number): string {
    assert(Number.isSafeInteger(i) && i >= 0 && i < this.rows, 'a row of the column');
    if (this.#all !== null) return this.#all[i] as string;
    let s = this.#made[i];
    if (s === undefined) {
      const at = this.#at as Int32Array;
      try {
        s = utf8Decoder.decode(this.#bytes.subarray(at[2 * i] as number, at[2 * i + 1] as number));
      } catch {
        throw corrupt('invalid UTF-8 in a string column');
      }
      this.#made[i] = s;
    }
    return s;
  }

  /** all is every row's string (each decoded once). Throws ERR_CORRUPTION. */
  all(): string[] {
    if (this.#all === null) {
      const out = new Array<string>(this.rows);
      for (let i = 0; i < this.rows; i++) out[i] = this.at(i);
      this.#all = out;
    }
    return this.#all;
  }
}

/** openStringColumn opens a string column for decoding a row at a time (StringColumnView). Throws ERR_CORRUPTION on bad bytes. */
export function openStringColumn(bytes: Uint8Array): StringColumnView {
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (version !== STRING_COLUMN_FORMAT_VERSION) throw corrupt(`unknown string column version ${version}`);
  const layout = r.u8();
  if (layout !== StringLayout.Plain) {
    const all = decodeStringColumn(bytes);
    return new StringColumnView(bytes, all.length, null, all);
  }
  const n = r.uvarint();
  if (n > CodecLimits.stringColumnValuesMax) throw corrupt(`string column claims ${n} rows`);
  // Every plain row takes at least one byte.
  if (n > r.remaining) throw corrupt(`string column claims ${n} rows in ${r.remaining} bytes`);
  const at = new Int32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const len = r.uvarint();
    if (len > CodecLimits.stringBytesMax) throw corrupt(`string of ${len} bytes, past ${CodecLimits.stringBytesMax}`);
    at[2 * i] = r.skip(len);
    at[2 * i + 1] = r.pos;
  }
  if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes after a string column`);
  return new StringColumnView(bytes, n, at, null);
}
