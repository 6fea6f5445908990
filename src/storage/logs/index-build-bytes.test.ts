/**
 * index-build-bytes.test.ts — encodeLogIndex's bytes are pinned: a change to
 * how the build works inside (term-index-build.ts: packed occurrences,
 * positions and one-row postings written in place, the term sort) must not
 * change one byte of what a flush writes, so blocks written before and after
 * read the same. The pins were taken from the build before those changes
 * (main at 992b18e), then re-taken for index version 2 (term-dict.ts) from
 * branch logsq15, whose build has the old internals: the merged build gives
 * the same bytes. Three kinds of block: the test corpus's realistic rows;
 * long lines whose terms repeat (position counts and deltas of two varint
 * bytes); and 20,000 rows each with a term of its own (one-row postings
 * whose row ids take three varint bytes). Version 3 (entries in chunks of
 * their own, term-entries.ts) is pinned beside: its pins were taken at its
 * introduction (branch logs17), and term-entries.test.ts checks it holds the
 * version 2 bytes, cut. Version 4 (a row's positions coded short) is pinned
 * beside from its introduction (branch logidx19, s19); term-entries.test.ts
 * checks it answers as version 2.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { LogRow } from '../rows.js';
import { realisticLogs } from './log-test-util.js';
import { LOG_INDEX_VERSION, LOG_INDEX_VERSION_CHUNKS, LOG_INDEX_VERSION_WHOLE } from './term-index.js';
import { encodeLogIndex } from './term-index-build.js';

/** digest is the first 16 hex digits of the sha256 of each version 2 index's postings then bloom. */
function digest(blocks: readonly (readonly LogRow[])[]): string {
  const h = createHash('sha256');
  for (const rows of blocks) {
    const idx = encodeLogIndex(rows, undefined, LOG_INDEX_VERSION_WHOLE);
    h.update(idx.postings);
    h.update(idx.bloom);
  }
  return h.digest('hex').slice(0, 16);
}

/** digest3 is digest of version 3 (or `version`) indexes: postings, each entry chunk, bloom. */
function digest3(blocks: readonly (readonly LogRow[])[], version: typeof LOG_INDEX_VERSION | typeof LOG_INDEX_VERSION_CHUNKS = LOG_INDEX_VERSION_CHUNKS): string {
  const h = createHash('sha256');
  for (const rows of blocks) {
    const idx = encodeLogIndex(rows, undefined, version);
    h.update(idx.postings);
    for (const e of idx.entries) h.update(e);
    h.update(idx.bloom);
  }
  return h.digest('hex').slice(0, 16);
}

function withLines(base: LogRow, lines: readonly string[]): LogRow[] {
  return lines.map((line, i) => ({ ...base, timeUnixNano: base.timeUnixNano + BigInt(i), body: { type: 'string', value: line } }));
}

t.test('realistic rows: the bytes are the pinned ones', async (t) => {
  t.equal(digest([1, 2, 3].map((seed) => realisticLogs(new SeededRand(seed), 5_000))), '4b373f8508134afd');
  t.equal(digest3([1, 2, 3].map((seed) => realisticLogs(new SeededRand(seed), 5_000))), '6872daa3c7e0b629', 'version 3');
  t.equal(digest3([1, 2, 3].map((seed) => realisticLogs(new SeededRand(seed), 5_000)), LOG_INDEX_VERSION), 'd51ffa7423f73bd4', 'version 4');
});

t.test('long lines with repeated terms: the bytes are the pinned ones', async (t) => {
  const base = realisticLogs(new SeededRand(4), 1)[0] as LogRow;
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) {
    const words: string[] = [];
    for (let j = 0; j < 200 + (i % 7) * 40; j++) words.push(i % 5 === 0 && j % 2 === 0 ? 'x' : `w${(i * 7 + j * 13) % 50}`);
    lines.push(words.join(' '));
  }
  t.equal(digest([withLines(base, lines)]), '695b5f952bdc07f4');
  t.equal(digest3([withLines(base, lines)]), 'c805771154e54bcf', 'version 3');
  t.equal(digest3([withLines(base, lines)], LOG_INDEX_VERSION), '9753bae7d0036a7c', 'version 4');
});

t.test('a term per row over 20,000 rows: the bytes are the pinned ones', async (t) => {
  const base = realisticLogs(new SeededRand(5), 1)[0] as LogRow;
  const lines = Array.from({ length: 20_000 }, (_, i) => `request u${i} served in ${i % 97} ms`);
  t.equal(digest([withLines(base, lines)]), 'a692d3542aae2f3f');
  t.equal(digest3([withLines(base, lines)]), 'a7eb2a61bbcb750a', 'version 3');
  t.equal(digest3([withLines(base, lines)], LOG_INDEX_VERSION), '0a0c777f65595711', 'version 4');
});
