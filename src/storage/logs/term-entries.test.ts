/**
 * term-entries.test.ts — a version 3 log index (entries in chunks of their
 * own, term-entries.ts): it holds exactly the version 2 index's bytes, cut
 * at term boundaries near the target; it and version 4 (positions coded
 * short) answer as version 2 and the oracle, version 4 on long lines too,
 * and a version 4 head of a count below 2 is ERR_CORRUPTION; a lookup opens only the chunks of the terms it names; a damaged,
 * missing, swapped, foreign or cut chunk is ERR_CORRUPTION. Planted: a
 * chunk sealed one term short, and a reader that picks the next chunk for
 * a term, are each caught.
 */
import type { Test } from 'tap';
import t from 'tap';
import { OtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { LogBlockLimits } from '../../limits.js';
import { BlockKind, openBlock } from '../block.js';
import { ByteReader } from '../codec/index.js';
import type { LogRow } from '../rows.js';
import { oracleQuery, randomQuery, realisticLogs } from './log-test-util.js';
import type { EntryChunks } from './term-entries.js';
import { LOG_INDEX_ENTRIES_TAG, cutEntryChunks, sealEntryChunk } from './term-entries.js';
import type { EncodedLogIndex } from './term-index.js';
import { LOG_INDEX_VERSION, LOG_INDEX_VERSION_CHUNKS, LOG_INDEX_VERSION_WHOLE, openLogIndex, queryLogIndex } from './term-index.js';
import { encodeLogIndex } from './term-index-build.js';
import { OpenedIndex } from './term-postings.js';

const SEED = Number(process.env.SEED ?? 0xe3e3);

/** sectionsOf splits a sealed index of version `v` into its seven sections. */
function sectionsOf(sealed: Uint8Array, v: number): Uint8Array[] {
  const r = new ByteReader(openBlock(sealed, BlockKind.postings));
  if (r.u8() !== v) throw new Error(`not a version ${v} index`);
  r.uvarint();
  const secs: Uint8Array[] = [];
  for (let s = 0; s < 7; s++) secs.push(r.take(r.uvarint()));
  return secs;
}

/** bodyOf is a sealed chunk's entry bytes (after its header). */
function bodyOf(sealed: Uint8Array): Uint8Array {
  const r = new ByteReader(openBlock(sealed, BlockKind.postings));
  if (r.u8() !== LOG_INDEX_ENTRIES_TAG) throw new Error('not a chunk');
  for (let k = 0; k < 4; k++) r.uvarint();
  return r.take(r.remaining);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'no error';
  } catch (err) {
    return err instanceof OtlpdbError ? err.code : `not an OtlpdbError: ${(err as Error).message}`;
  }
}

const ROWS = 4_000;
const rowsOf = (seed: number): LogRow[] => realisticLogs(new SeededRand(seed), ROWS);

t.test('version 3 is the version 2 index cut: the same dictionary and pairs, the entries back to back in chunks of whole terms near the target', async (t) => {
  for (const seed of [SEED, SEED + 1]) {
    const rows = rowsOf(seed);
    const v2 = encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_WHOLE);
    const v3 = encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_CHUNKS);
    t.same(v2.entries, [], 'version 2: no chunks');
    t.ok(v3.entries.length >= 3, `${v3.entries.length} chunks`);
    const s2 = sectionsOf(v2.postings, LOG_INDEX_VERSION_WHOLE);
    const s3 = sectionsOf(v3.postings, LOG_INDEX_VERSION_CHUNKS);
    for (const s of [0, 1, 2, 4, 5, 6]) t.same(Buffer.from(s3[s] as Uint8Array), Buffer.from(s2[s] as Uint8Array), `section ${s} equal`);
    t.ok(Buffer.from(concat(v3.entries.map(bodyOf))).equals(Buffer.from(s2[3] as Uint8Array)), 'the chunks hold the version 2 entries, in order');
    const target = LogBlockLimits.termEntriesChunkBytesTarget;
    const idx = new OpenedIndex(v3.postings);
    for (let c = 0; c < idx.chunks; c++) {
      const e = idx.chunkExpect(c);
      if (c < idx.chunks - 1) t.ok(e.bytes >= target, `chunk ${c}: ${e.bytes} bytes reach the target`);
      // Without its last term a chunk is below the target, unless it is that one term.
      t.ok(e.terms === 1 || e.bytes - sizeOfTerm(e.firstTerm + e.terms - 1, v3) < target, `chunk ${c} closes at the first term that reaches the target`);
    }
    t.ok(v3.postings.length < v2.postings.length / 2, `the dictionary value (${v3.postings.length} B) is under half of version 2's (${v2.postings.length} B)`);
  }
  t.same(cutEntryChunks([5, 5, 5, 20, 1], 10), [2, 2, 1], 'cut: two to reach 10, a large term closes the next, a small tail');
  t.same(cutEntryChunks([], 10), [], 'no terms, no chunks');
});

/** sizeOfTerm is term `id`'s entry bytes in a version 3 or 4 index (section 2, the sizes). */
function sizeOfTerm(id: number, v3: EncodedLogIndex): number {
  const sizes = new ByteReader(sectionsOf(v3.postings, openBlock(v3.postings, BlockKind.postings)[0] as number)[2] as Uint8Array);
  let size = 0;
  for (let i = 0; i <= id; i++) size = sizes.uvarint();
  return size;
}

/** spyChunks is EntryChunks over `index`'s chunks that records which it opened. */
function spyChunks(index: EncodedLogIndex, idx: OpenedIndex, opened: Set<number>, pick: (c: number) => number = (c) => c): EntryChunks {
  return {
    chunk: (c) => {
      opened.add(c);
      const d = pick(c);
      const sealed = index.entries[d];
      if (sealed === undefined) throw new OtlpdbError('ERR_CORRUPTION', `no chunk ${d}`);
      return idx.openChunk(d, sealed);
    },
    want: () => {},
  };
}

t.test('versions 3 and 4 answer as version 2 and the oracle; a term lookup opens its one chunk', async (t) => {
  for (const version of [LOG_INDEX_VERSION_CHUNKS, LOG_INDEX_VERSION] as const) {
    await t.test(`version ${version}`, async (t) => answersAsVersion2(t, version));
  }
});

async function answersAsVersion2(t: Test, version: typeof LOG_INDEX_VERSION | typeof LOG_INDEX_VERSION_CHUNKS): Promise<void> {
  const rand = new SeededRand(SEED + 2);
  const rows = rowsOf(SEED + 2);
  const v2 = encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_WHOLE);
  const v3 = encodeLogIndex(rows, undefined, version);
  const bad: string[] = [];
  for (let k = 0; k < 150; k++) {
    const { minTimeNs: _min, maxTimeNs: _max, ...q } = randomQuery(rand, rows);
    const want = JSON.stringify(oracleQuery(rows, q));
    const a = JSON.stringify([...queryLogIndex(v3, rows.length, q)]);
    const b = JSON.stringify([...queryLogIndex(v2, rows.length, q)]);
    if (a !== want || b !== want) bad.push(`query ${k}`);
  }
  t.same(bad, [], `SEED=${SEED}`);
  const r2 = openLogIndex(v2, rows.length);
  const r3 = openLogIndex(v3, rows.length);
  t.same(r3.terms, r2.terms, 'the same dictionary');
  const idx = new OpenedIndex(v3.postings);
  for (let id = 0; id < idx.dict.count; id += 37) {
    t.same(r3.termPositionsById(id), r2.termPositionsById(id), `term ${id}: rows and positions`);
    const opened = new Set<number>();
    const rowsOfTerm = idx.termEntry(id, false, spyChunks(v3, idx, opened)).rows;
    t.same([...rowsOfTerm], [...r2.termRowsById(id)], `term ${id}: rows through its chunk`);
    t.same([...opened], [idx.chunkOf(id)], `term ${id}: only chunk ${idx.chunkOf(id)} of ${idx.chunks} opened`);
  }
  t.equal(codeOf(() => openLogIndex(v3.postings, rows.length).termRowsById(0)), 'ERR_INTERNAL', 'a version 3 lookup without its chunks is a bug, not an empty answer');
}

t.test('version 4: positions coded short read as version 2 on long lines (two-byte heads and deltas), and the entries are smaller', async (t) => {
  const base = rowsOf(SEED + 5)[0] as LogRow;
  const lines: string[] = [];
  for (let i = 0; i < 400; i++) {
    const words: string[] = [];
    // Up to 1,300 words: positions past 63 (two-byte heads) and past tokensPerLineMax (the line cut).
    for (let j = 0; j < 100 + (i % 13) * 100; j++) words.push(j % 3 === 0 ? `w${(i + j) % 40}` : j % 3 === 1 ? `u${i}x${j}` : 'x');
    lines.push(words.join(' '));
  }
  const rows = lines.map((line, i) => ({ ...base, timeUnixNano: base.timeUnixNano + BigInt(i), body: { type: 'string' as const, value: line } }));
  const v2 = encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_WHOLE);
  const v3 = encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_CHUNKS);
  const v4 = encodeLogIndex(rows);
  const r2 = openLogIndex(v2, rows.length);
  const r4 = openLogIndex(v4, rows.length);
  const idx = new OpenedIndex(v4.postings);
  const differ: number[] = [];
  for (let id = 0; id < idx.dict.count; id++) {
    if (JSON.stringify(r4.termPositionsById(id)) !== JSON.stringify(r2.termPositionsById(id))) differ.push(id);
  }
  t.same(differ, [], `every one of ${idx.dict.count} terms: the same rows and positions`);
  t.ok(r4.phraseRows(['x', 'w1']).length > 0, 'a phrase over the short heads finds rows');
  t.same([...r4.phraseRows(['x', 'w1'])], [...r2.phraseRows(['x', 'w1'])], 'and the same rows as version 2');
  const bytes = (e: EncodedLogIndex): number => e.entries.reduce((n, c) => n + c.length, 0);
  t.ok(bytes(v4) < bytes(v3), `entries ${bytes(v4)} B < version 3's ${bytes(v3)} B`);
});

t.test('version 4: an odd head of fewer than 2 positions is ERR_CORRUPTION', async (t) => {
  const base = rowsOf(SEED + 6)[0] as LogRow;
  // One term, "a", twice in row 0: head 2 << 1 | 1 = 5, then deltas 0 and 1.
  const rows = [{ ...base, body: { type: 'string' as const, value: 'a a' } }];
  const v4 = encodeLogIndex(rows);
  const idx = new OpenedIndex(v4.postings);
  t.equal(idx.dict.count, 1, 'one term');
  const body = bodyOf(v4.entries[0] as Uint8Array);
  t.same([...body.subarray(body.length - 3)], [5, 0, 1], 'the head and deltas as the layout says');
  const chunksWith = (last3: number[]): EntryChunks => {
    const b = Uint8Array.from(body);
    b.set(last3, b.length - 3);
    const sealed = sealEntryChunk(idx.chunkExpect(0), b);
    return { chunk: (c) => idx.openChunk(c, sealed), want: () => {} };
  };
  t.same([...(idx.termEntry(0, true, chunksWith([5, 0, 1])).positions[0] as Uint32Array)], [0, 1], 'resealed unchanged, it reads');
  t.equal(codeOf(() => idx.termEntry(0, true, chunksWith([3, 0, 1]))), 'ERR_CORRUPTION', 'count 1 in an odd head');
  t.equal(codeOf(() => idx.termEntry(0, true, chunksWith([1, 0, 1]))), 'ERR_CORRUPTION', 'count 0 in an odd head');
});

t.test('a damaged, missing, swapped, foreign or cut entry chunk is ERR_CORRUPTION', async (t) => {
  const rand = new SeededRand(SEED + 3);
  const rows = rowsOf(SEED + 3);
  const v3 = encodeLogIndex(rows);
  const idx = new OpenedIndex(v3.postings);
  const n = v3.entries.length;
  // A term of each chunk: its first.
  const firstOf = (c: number): number => idx.chunkExpect(c).firstTerm;
  const lookup = (entries: readonly Uint8Array[], c: number) => (): unknown => openLogIndex({ postings: v3.postings, entries }, rows.length).termRowsById(firstOf(c));
  for (let k = 0; k < 40; k++) {
    const c = rand.intn(n);
    const sealed = (v3.entries[c] as Uint8Array).slice();
    const at = rand.intn(sealed.length);
    sealed[at] = (sealed[at] as number) ^ (1 << rand.intn(8));
    const entries = v3.entries.slice();
    entries[c] = sealed;
    t.equal(codeOf(lookup(entries, c)), 'ERR_CORRUPTION', `chunk ${c}: a bit flipped at ${at}`);
  }
  const swapped = v3.entries.slice();
  [swapped[0], swapped[1]] = [swapped[1] as Uint8Array, swapped[0] as Uint8Array];
  t.equal(codeOf(lookup(swapped, 0)), 'ERR_CORRUPTION', 'chunks 0 and 1 swapped');
  t.equal(codeOf(lookup(v3.entries.slice(0, n - 1), n - 1)), 'ERR_CORRUPTION', 'the last chunk missing');
  const other = encodeLogIndex(rowsOf(SEED + 4));
  const foreign = v3.entries.slice();
  foreign[0] = other.entries[0] as Uint8Array;
  t.equal(codeOf(lookup(foreign, 0)), 'ERR_CORRUPTION', "another block's chunk 0");
  const cut = v3.entries.slice();
  cut[1] = (v3.entries[1] as Uint8Array).subarray(0, (v3.entries[1] as Uint8Array).length - 1);
  t.equal(codeOf(lookup(cut, 1)), 'ERR_CORRUPTION', 'a chunk one byte short');
});

t.test('planted: a chunk sealed one term short (its header agreeing) is caught', async (t) => {
  const rows = rowsOf(SEED + 5);
  const v3 = encodeLogIndex(rows);
  const idx = new OpenedIndex(v3.postings);
  const c = 1;
  const e = idx.chunkExpect(c);
  const lastSize = sizeOfTerm(e.firstTerm + e.terms - 1, v3);
  const body = bodyOf(v3.entries[c] as Uint8Array);
  // The build's bug: the chunk ends a term early, its own header saying so (the dictionary's table does not).
  const short = sealEntryChunk({ ...e, terms: e.terms - 1, bytes: e.bytes - lastSize }, body.subarray(0, body.length - lastSize));
  const entries = v3.entries.slice();
  entries[c] = short;
  const reader = openLogIndex({ postings: v3.postings, entries }, rows.length);
  t.equal(codeOf(() => reader.termRowsById(e.firstTerm)), 'ERR_CORRUPTION', "a term the short chunk still holds: the chunk disagrees with its dictionary's table");
  t.equal(codeOf(() => reader.termRowsById(e.firstTerm + e.terms - 1)), 'ERR_CORRUPTION', 'the term it lost');
});

t.test('planted: a reader that takes the next chunk for a term is caught (ERR_CORRUPTION or answers that differ)', async (t) => {
  const rows = rowsOf(SEED + 6);
  const v3 = encodeLogIndex(rows);
  const idx = new OpenedIndex(v3.postings);
  const r2 = openLogIndex(encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_WHOLE), rows.length);
  let caught = 0;
  let tried = 0;
  for (let id = 0; id < idx.dict.count; id += 11) {
    if (idx.chunkOf(id) + 1 >= idx.chunks) continue;
    tried++;
    const wrong = spyChunks(v3, idx, new Set(), (c) => c + 1);
    try {
      const got = idx.termEntry(id, true, wrong);
      if (JSON.stringify([...got.rows]) !== JSON.stringify([...r2.termRowsById(id)])) caught++;
    } catch (err) {
      if (err instanceof OtlpdbError && err.code === 'ERR_CORRUPTION') caught++;
      else t.fail(`term ${id}: ${(err as Error).message}`);
    }
  }
  t.ok(tried > 10, `${tried} terms tried`);
  t.equal(caught, tried, 'every lookup through the wrong chunk fails or differs from version 2');
});
