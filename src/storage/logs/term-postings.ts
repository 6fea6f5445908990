/**
 * term-postings.ts — a log block's term index payload opened for reading
 * (layout in term-index.ts's file comment): the envelope and the section
 * bounds checked once, the term dictionary opened by term (term-dict.ts;
 * version 1's string column decoded whole), each term's entry located by
 * the prefix sums of its size, and the stream-pair table decoded; a term's
 * rows (and positions) are decoded only when asked (termEntry). term-index.ts
 * queries it. Pure code, no I/O.
 *
 * Invariants of an OpenedIndex: termStarts is increasing from 0 to the
 * entries' length, one more than the dictionary's terms; pair names and
 * values are as many, sorted by name then value, distinct.
 */
import { OtlpdbError } from '../../errors.js';
import { LogBlockLimits, StorageLimits } from '../../limits.js';
import { BlockKind, openBlock } from '../block.js';
import { ByteReader, decodePostings, decodeStringColumn, union } from '../codec/index.js';
import type { TermDict } from './term-dict.js';
import { ByteTermDict, StringTermDict } from './term-dict.js';

/** LOG_INDEX_VERSION is byte 0 of a log index payload (what encodeLogIndex writes). */
export const LOG_INDEX_VERSION = 2;
/** LOG_INDEX_VERSION_STRINGS is the version whose terms are one string column, decoded whole at open (older blocks; still read). */
export const LOG_INDEX_VERSION_STRINGS = 1;

function corrupt(message: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `log index: ${message}`);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** OpenedIndex is a checked index payload with its dictionary opened and entries located (see the file comment). */
export class OpenedIndex {
  readonly rows: number;
  readonly dict: TermDict;
  readonly #termStarts: Uint32Array;
  readonly #entries: Uint8Array;
  readonly pairNames: string[];
  readonly pairValues: string[];
  readonly #pairPostings: Uint8Array[];

  constructor(sealed: Uint8Array) {
    const payload = openBlock(sealed, BlockKind.postings);
    const r = new ByteReader(payload);
    const version = r.u8();
    if (version !== LOG_INDEX_VERSION && version !== LOG_INDEX_VERSION_STRINGS) throw corrupt(`version ${version} is not ${LOG_INDEX_VERSION_STRINGS} or ${LOG_INDEX_VERSION}`);
    this.rows = r.uvarint();
    if (this.rows < 1 || this.rows > LogBlockLimits.rowsPerBlockMax) throw corrupt(`${this.rows} rows`);
    const secs: Uint8Array[] = [];
    for (let s = 0; s < (version === LOG_INDEX_VERSION ? 7 : 6); s++) secs.push(r.take(r.uvarint()));
    if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes`);
    if (version === LOG_INDEX_VERSION) {
      this.dict = new ByteTermDict(secs[0] as Uint8Array, secs[1] as Uint8Array);
      secs.splice(0, 2);
    } else {
      this.dict = new StringTermDict(secs[0] as Uint8Array);
      secs.splice(0, 1);
    }
    const [sizesSec, entriesSec, namesSec, valuesSec, pairSec] = secs as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    const sr = new ByteReader(sizesSec);
    const count = this.dict.count;
    this.#termStarts = new Uint32Array(count + 1);
    let at = 0;
    for (let i = 0; i < count; i++) {
      at += sr.uvarint();
      if (at > entriesSec.length) throw corrupt('term sizes past the entries');
      this.#termStarts[i + 1] = at;
    }
    if (sr.remaining !== 0) throw corrupt('trailing bytes after the term sizes');
    if (at !== entriesSec.length) throw corrupt('term sizes do not add up to the entries');
    this.#entries = entriesSec;
    this.pairNames = decodeStringColumn(namesSec);
    this.pairValues = decodeStringColumn(valuesSec);
    if (this.pairNames.length !== this.pairValues.length) throw corrupt('pair names and values differ in count');
    for (let i = 1; i < this.pairNames.length; i++) {
      const c = cmp(this.pairNames[i - 1] as string, this.pairNames[i] as string) || cmp(this.pairValues[i - 1] as string, this.pairValues[i] as string);
      if (c >= 0) throw corrupt('stream pairs are not sorted and distinct');
    }
    const pr = new ByteReader(pairSec);
    this.#pairPostings = this.pairNames.map(() => pr.take(pr.uvarint()));
    if (pr.remaining !== 0) throw corrupt('trailing bytes after the pair postings');
  }

  /** terms is the whole dictionary, sorted (decoded on first use). */
  get terms(): readonly string[] {
    return this.dict.all();
  }

  /** termId is the index of `term` in the dictionary, or -1. */
  termId(term: string): number {
    return this.dict.termId(term);
  }

  /** termEntry decodes the rows of term `id`, and, when `withPositions`, each row's positions. */
  termEntry(id: number, withPositions: boolean): { rows: Uint32Array; positions: Uint32Array[] } {
    const r = new ByteReader(this.#entries, this.#termStarts[id] as number, this.#termStarts[id + 1] as number);
    const rows = decodePostings(r.take(r.uvarint()));
    if (rows.length === 0) throw corrupt('a term with no rows');
    if ((rows[rows.length - 1] as number) >= this.rows) throw corrupt('a term posts a row past the block');
    const positions: Uint32Array[] = [];
    if (!withPositions) return { rows, positions };
    for (let i = 0; i < rows.length; i++) {
      const count = r.uvarint();
      if (count < 1 || count > StorageLimits.tokensPerLineMax) throw corrupt(`${count} positions in a row`);
      const ps = new Uint32Array(count);
      let p = -1;
      for (let k = 0; k < count; k++) {
        const d = r.uvarint();
        if (k > 0 && d === 0) throw corrupt('repeated position');
        p = k === 0 ? d : p + d;
        if (p >= StorageLimits.tokensPerLineMax) throw corrupt(`position ${p}`);
        ps[k] = p;
      }
      positions.push(ps);
    }
    if (r.remaining !== 0) throw corrupt('trailing bytes in a term entry');
    return { rows, positions };
  }

  /** pairRows decodes the rows of every pair with label `name` whose value satisfies `keep`, unioned. */
  pairRows(name: string, keep: (value: string) => boolean): Uint32Array {
    let acc: Uint32Array = new Uint32Array(0);
    for (let i = 0; i < this.pairNames.length; i++) {
      if (this.pairNames[i] !== name || !keep(this.pairValues[i] as string)) continue;
      const rows = decodePostings(this.#pairPostings[i] as Uint8Array);
      if (rows.length > 0 && (rows[rows.length - 1] as number) >= this.rows) throw corrupt('a pair posts a row past the block');
      acc = union(acc, rows);
    }
    return acc;
  }
}

