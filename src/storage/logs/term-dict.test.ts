/**
 * term-dict.test.ts — the term index read by term (version 2, term-dict.ts):
 * queries over a version 2 index equal the oracle and a version 1 index of
 * the same rows (old blocks still read); lookups and hint-piece holders of
 * ByteTermDict equal the string scan of the decoded terms; damaged
 * dictionaries are ERR_CORRUPTION. Each comparison is shown failing on a
 * planted bug.
 */
import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { OtlpdbError } from '../../errors.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { ByteReader, ByteWriter, encodeStringColumn } from '../codec/index.js';
import type { LogRow } from '../rows.js';
import { logLine } from './log-line.js';
import { oracleQuery, randomLine, randomQuery, realisticLogs } from './log-test-util.js';
import { ByteTermDict, StringTermDict, encodeTermDict } from './term-dict.js';
import type { TermDict } from './term-dict.js';
import { LOG_INDEX_VERSION_WHOLE, LOG_INDEX_VERSION_STRINGS, openLogIndex, queryLogIndex } from './term-index.js';
import { encodeLogIndex } from './term-index-build.js';

const SEED = Number(process.env.SEED ?? 0xd1c7);

/** sectionsOf splits a sealed version 2 index into its rows and seven sections. */
function sectionsOf(sealed: Uint8Array): { rows: number; secs: Uint8Array[] } {
  const r = new ByteReader(openBlock(sealed, BlockKind.postings));
  if (r.u8() !== LOG_INDEX_VERSION_WHOLE) throw new Error('not a version 2 index');
  const rows = r.uvarint();
  const secs: Uint8Array[] = [];
  for (let s = 0; s < 7; s++) secs.push(r.take(r.uvarint()));
  return { rows, secs };
}

function seal(version: number, rows: number, secs: readonly Uint8Array[]): Uint8Array {
  const w = new ByteWriter();
  w.u8(version);
  w.uvarint(rows);
  for (const s of secs) {
    w.uvarint(s.length);
    w.raw(s);
  }
  return sealBlock(BlockKind.postings, w.finish());
}

/** toVersion1 rewrites a version 2 index as the version 1 encoder wrote it: the terms as one string column. */
function toVersion1(sealed: Uint8Array): Uint8Array {
  const { rows, secs } = sectionsOf(sealed);
  const terms = new ByteTermDict(secs[0] as Uint8Array, secs[1] as Uint8Array).all();
  return seal(LOG_INDEX_VERSION_STRINGS, rows, [encodeStringColumn([...terms]), ...secs.slice(2)]);
}

function rowsWithLines(rand: SeededRand, n: number): LogRow[] {
  const base = realisticLogs(rand, n);
  // Some lines of non-ASCII and long words, so the byte search meets multi-byte characters and cut terms.
  return base.map((row, i) => {
    if (i % 5 !== 0) return row;
    const extra = i % 10 === 0 ? ` ${'é'.repeat(70)}x${'z'.repeat(140)} Grüße ßtraße` : ` ${randomLine(rand)} ünïcödé 日本語テキスト`;
    return { ...row, body: { type: 'string' as const, value: logLine(row) + extra } };
  });
}

t.test('version 2 and version 1 indexes answer alike, and as the oracle', async (t) => {
  const rand = new SeededRand(SEED);
  const rows = rowsWithLines(rand, 300);
  const v2 = encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_WHOLE).postings;
  const v1 = toVersion1(v2);
  t.equal(openBlock(v1, BlockKind.postings)[0], LOG_INDEX_VERSION_STRINGS, 'a version 1 index');
  t.equal(openBlock(v2, BlockKind.postings)[0], LOG_INDEX_VERSION_WHOLE, 'a version 2 index');
  let mismatches = 0;
  for (let k = 0; k < 200; k++) {
    const q = randomQuery(rand, rows);
    const want = oracleQuery(rows, { ...q, minTimeNs: undefined, maxTimeNs: undefined });
    const a = [...queryLogIndex(v2, rows.length, { ...q, minTimeNs: undefined, maxTimeNs: undefined })];
    const b = [...queryLogIndex(v1, rows.length, { ...q, minTimeNs: undefined, maxTimeNs: undefined })];
    if (JSON.stringify(a) !== JSON.stringify(want) || JSON.stringify(b) !== JSON.stringify(want)) mismatches++;
  }
  t.equal(mismatches, 0, 'every query');
  const r2 = openLogIndex(v2, rows.length);
  const r1 = openLogIndex(v1, rows.length);
  t.same(r2.terms, r1.terms, 'the same dictionary');
  for (const term of r1.terms.filter((_, i) => i % 7 === 0)) t.same([...r2.termRows(term)], [...r1.termRows(term)], `rows of ${term}`);
});

type Holding = (dict: ByteTermDict, terms: readonly string[], piece: string, max: number) => number[] | null;

/** holdingMismatches compares `holding` with a string scan of the decoded terms over seeded pieces. */
function holdingMismatches(seed: number, holding: Holding): string[] {
  const rand = new SeededRand(seed);
  const rows = rowsWithLines(rand, 200);
  const { secs } = sectionsOf(encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_WHOLE).postings);
  const dict = new ByteTermDict(secs[0] as Uint8Array, secs[1] as Uint8Array);
  const terms = dict.all();
  const reference = new StringTermDict(encodeStringColumn([...terms]));
  const out: string[] = [];
  for (let c = 0; c < 400 && out.length < 5; c++) {
    const src = [...(terms[rand.intn(terms.length)] as string)];
    // A piece: part of one term, or the end of one and the start of the next (a match across a boundary must not count).
    let piece = src.slice(rand.intn(src.length), rand.intn(src.length) + 1 + rand.intn(4)).join('');
    if (rand.intn(4) === 0) piece = `${src.slice(-2).join('')}${(terms[rand.intn(terms.length)] as string).slice(0, 2)}`;
    if (piece === '') continue;
    const max = rand.intn(3) === 0 ? 3 : 64;
    const want = reference.idsHolding(piece, false, max);
    const got = holding(dict, terms, piece, max);
    if (JSON.stringify(got) !== JSON.stringify(want)) out.push(`seed ${seed} piece ${JSON.stringify(piece)} max ${max}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
    const prefix = src.slice(0, 1 + rand.intn(3)).join('');
    const starting = terms.flatMap((term, i) => (term.startsWith(prefix) || term.length >= 127 ? [i] : []));
    const wantStarting = starting.length > max ? null : starting;
    for (const d of [dict, reference]) {
      if (JSON.stringify(d.idsStarting(prefix, max)) !== JSON.stringify(wantStarting)) out.push(`seed ${seed} prefix ${JSON.stringify(prefix)} max ${max}`);
    }
    const id = rand.intn(terms.length);
    if (dict.termId(terms[id] as string) !== id) out.push(`termId of ${JSON.stringify(terms[id])}`);
    if (dict.termId(`${terms[id] as string}\u0000`) !== reference.termId(`${terms[id] as string}\u0000`)) out.push('termId of an absent term');
  }
  return out;
}

t.test('ByteTermDict: lookups, piece holders and prefixes equal the string scan (seeded; multi-byte, cut terms)', async (t) => {
  for (let s = 0; s < 3; s++) t.same(holdingMismatches(SEED + s, (d, _terms, p, max) => d.idsHolding(p, false, max)), [], `SEED=${SEED + s}`);
  t.same(new ByteTermDict(encodeTermDict([]).lengths, encodeTermDict([]).bytes).termId('a'), -1, 'an empty dictionary');
});

t.test('a planted byte search that counts a match across two terms is caught', async (t) => {
  const across: Holding = (_d, terms, piece, max) => {
    const joined = terms.join('');
    const starts: number[] = [];
    let at = 0;
    for (const term of terms) {
      starts.push(at);
      at += term.length;
    }
    const ids = new Set<number>();
    for (let from = joined.indexOf(piece); from >= 0; from = joined.indexOf(piece, from + 1)) {
      let id = 0;
      while (id + 1 < starts.length && (starts[id + 1] as number) <= from) id++;
      ids.add(id);
    }
    terms.forEach((term, i) => {
      if (term.length >= 127) ids.add(i);
    });
    const out = [...ids].sort((a, b) => a - b);
    return out.length > max ? null : out;
  };
  let caught = 0;
  for (let s = 0; s < 3; s++) caught += holdingMismatches(SEED + s, across).length;
  t.ok(caught > 0, `the planted search admits terms that do not hold the piece (${caught})`);
});

t.test('a planted holder search that forgets cut terms is caught', async (t) => {
  const noCut: Holding = (_d, terms, piece, max) => {
    const out = terms.flatMap((term, i) => (term.includes(piece) ? [i] : []));
    return out.length > max ? null : out;
  };
  let caught = 0;
  for (let s = 0; s < 3; s++) caught += holdingMismatches(SEED + s, noCut).length;
  t.ok(caught > 0, `the planted search leaves out a term that may have been cut (${caught})`);
});

t.test('a damaged version 2 dictionary is ERR_CORRUPTION', async (t) => {
  const rows = rowsWithLines(new SeededRand(SEED), 40);
  const sealed = encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_WHOLE).postings;
  const { rows: n, secs } = sectionsOf(sealed);
  const expectCorrupt = (t: Test, f: () => unknown, what: string): void => {
    try {
      f();
      t.fail(`${what}: no error`);
    } catch (err) {
      t.ok(err instanceof OtlpdbError && err.code === 'ERR_CORRUPTION', `${what}: ${(err as Error).message}`);
    }
  };
  const open = (s: Uint8Array[]): (() => unknown) => () => openLogIndex(seal(LOG_INDEX_VERSION_WHOLE, n, s), n).termRows('get');
  const bytes = secs[1] as Uint8Array;
  expectCorrupt(t, open([secs[0] as Uint8Array, bytes.subarray(0, bytes.length - 1), ...secs.slice(2)]), 'term bytes one short');
  expectCorrupt(t, open([secs[0] as Uint8Array, Uint8Array.of(...bytes, 0x61), ...secs.slice(2)]), 'a trailing term byte');
  expectCorrupt(t, open([Uint8Array.of(...(secs[0] as Uint8Array), 1), ...secs.slice(1)]), 'a trailing term length');
  const many = new ByteWriter();
  many.uvarint(bytes.length + 1);
  expectCorrupt(t, open([many.finish(), ...secs.slice(1)]), 'more terms than bytes');
  const bad = Uint8Array.from(bytes);
  bad.fill(0xff);
  const badDict = seal(LOG_INDEX_VERSION_WHOLE, n, [secs[0] as Uint8Array, bad, ...secs.slice(2)]);
  expectCorrupt(t, () => openLogIndex(badDict, n).termRows('get'), 'terms that are not UTF-8 (a lookup)');
  expectCorrupt(t, () => openLogIndex(badDict, n).terms, 'terms that are not UTF-8 (the whole dictionary)');
  const d = new ByteTermDict(secs[0] as Uint8Array, secs[1] as Uint8Array);
  const rev = encodeTermDict([...d.all()].reverse());
  expectCorrupt(t, () => openLogIndex(seal(LOG_INDEX_VERSION_WHOLE, n, [rev.lengths, rev.bytes, ...secs.slice(2)]), n).terms, 'terms out of order');
  expectCorrupt(t, () => openLogIndex(seal(7, n, secs), n), 'an unknown version');
});

t.test('the dictionary a version 2 index opens with decodes no term until asked', async (t) => {
  const rows = rowsWithLines(new SeededRand(SEED + 9), 100);
  const { secs } = sectionsOf(encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_WHOLE).postings);
  const dict: TermDict = new ByteTermDict(secs[0] as Uint8Array, secs[1] as Uint8Array);
  t.ok(dict.count > 100, `${dict.count} terms`);
  const stale = Uint8Array.from(secs[1] as Uint8Array);
  stale.fill(0xff, 0, 1);
  const lazy = new ByteTermDict(secs[0] as Uint8Array, stale);
  t.equal(lazy.count, dict.count, 'opening reads numbers only: a damaged first term is found when read, not before');
});

t.test('encodeTermDict writes each term as Buffer would in UTF-8 (ASCII by hand; non-ASCII, lone surrogates through Buffer)', async (t) => {
  const rand = new SeededRand(0xd1c7);
  const units = ['a', 'z', '0', '_', '\u007f', '\u0080', '\u00e9', '\u07ff', '\u0800', '\u6771', '\uffff', '\ud83d\ude00', '\ud83d', '\ude00'];
  const terms = new Set<string>();
  while (terms.size < 3_000) {
    let term = '';
    const len = 1 + rand.intn(12);
    // Half the terms ASCII only (the hand-written path), half anything.
    const pool = terms.size % 2 === 0 ? units.slice(0, 5) : units;
    for (let k = 0; k < len; k++) term += pool[rand.intn(pool.length)];
    terms.add(term);
  }
  const sorted = [...terms].sort();
  const got = encodeTermDict(sorted);
  const want = Buffer.concat(sorted.map((term) => Buffer.from(term, 'utf8')));
  t.ok(Buffer.from(got.bytes).equals(want), 'the bytes are Buffer\'s UTF-8 of each term, in order');
  const lengths = new ByteWriter();
  lengths.uvarint(sorted.length);
  for (const term of sorted) lengths.uvarint(Buffer.byteLength(term, 'utf8'));
  t.ok(Buffer.from(got.lengths).equals(Buffer.from(lengths.finish())), 'the lengths are Buffer\'s byte lengths');
  // Not vacuous: every term written by hand, a code unit a byte (as if all were ASCII), is told apart.
  const planted = Buffer.concat(sorted.map((term) => Buffer.from(term, 'latin1')));
  t.notOk(Buffer.from(got.bytes).equals(planted), 'a planted all-ASCII writer is caught');
});
