/**
 * term-entries.ts — the term entries of a version 3 or 4 log index stored apart
 * from its dictionary (layout in term-index.ts's file comment): where the
 * build cuts them (cutEntryChunks: whole terms, in term order, a chunk
 * closed once it reaches LogBlockLimits.termEntriesChunkBytesTarget), how a
 * chunk is sealed (sealEntryChunk) and checked against the dictionary that
 * names it (openEntryChunk), and EntryChunks, what a lookup reads chunks
 * from. Pure code, no I/O: the logs store fetches the chunks a query names
 * (log-block-read.ts), a pure caller hands them all (entryChunksOf).
 *
 * Why: a block's entries (postings and positions) were ~90% of its index
 * value, read and checksummed whole on every cache miss, though a query
 * reads a few terms' entries and a prune by hint often none (bench/README.md
 * "## query-logs", s16: 45 MB a status=5 query at 1M lines, of which it
 * used a tenth).
 *
 * A chunk value: BlockKind.postings envelope (CRC-32C), payload
 *   u8       LOG_INDEX_ENTRIES_TAG
 *   uvarint  rows of the block (as the dictionary's)
 *   uvarint  chunk number
 *   uvarint  first term id
 *   uvarint  term count
 *   bytes    the entries of those terms, back to back (section 3 of version 2)
 * so a chunk stored under another block's key, another chunk's key, or cut
 * short is ERR_CORRUPTION, never entries of other terms.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogBlockLimits } from '../../limits.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { ByteReader, ByteWriter } from '../codec/index.js';

/** LOG_INDEX_ENTRIES_TAG is byte 0 of an entry chunk's payload (never an index version, so a chunk is not opened as a dictionary). */
export const LOG_INDEX_ENTRIES_TAG = 0xe3;

/** ENTRY_CHUNK_HEADER_BYTES_MAX bounds a chunk's header: the tag and four uvarints of at most 5 bytes. */
const ENTRY_CHUNK_HEADER_BYTES_MAX = 1 + 4 * 5;

function corrupt(message: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `log index entries: ${message}`);
}

/**
 * EntryChunks is where an index lookup finds its entry chunks: chunk c's
 * entries (checked by openEntryChunk), or undefined when it is not at hand
 * (the lookup answers with no rows and the chunk is noted as wanted; the
 * caller fetches it and runs the lookup again).
 */
export interface EntryChunks {
  chunk(c: number): Uint8Array | undefined;
  /** want notes chunk c as needed soon (a lookup about to read several terms asks for all their chunks at once). */
  want(c: number): void;
}

/** ChunkExpect is what a dictionary says of chunk c: its rows, first term id, term count and entry bytes. */
export interface ChunkExpect {
  readonly rows: number;
  readonly chunk: number;
  readonly firstTerm: number;
  readonly terms: number;
  readonly bytes: number;
}

/**
 * cutEntryChunks is the term counts of the chunks the entries of terms of
 * `sizes` (entry bytes per term, in term order) are cut into: a chunk takes
 * terms until its bytes reach `targetBytes` (the last may be smaller; a
 * term larger than the target is a chunk alone). Empty for no terms.
 */
export function cutEntryChunks(sizes: ArrayLike<number>, targetBytes: number = LogBlockLimits.termEntriesChunkBytesTarget): number[] {
  assert(targetBytes >= 1, 'a chunk target of at least one byte');
  const out: number[] = [];
  let terms = 0;
  let bytes = 0;
  for (let i = 0; i < sizes.length; i++) {
    terms++;
    bytes += sizes[i] as number;
    if (bytes >= targetBytes) {
      out.push(terms);
      terms = 0;
      bytes = 0;
    }
  }
  if (terms > 0) out.push(terms);
  return out;
}

/** sealEntryChunk seals the entries `body` of chunk `e` (see the file comment). */
export function sealEntryChunk(e: ChunkExpect, body: Uint8Array): Uint8Array {
  assert(body.length === e.bytes, 'a chunk body of the bytes its dictionary says');
  const w = new ByteWriter();
  w.ensure(ENTRY_CHUNK_HEADER_BYTES_MAX + body.length);
  w.u8(LOG_INDEX_ENTRIES_TAG);
  w.uvarint(e.rows);
  w.uvarint(e.chunk);
  w.uvarint(e.firstTerm);
  w.uvarint(e.terms);
  w.raw(body);
  return sealBlock(BlockKind.postings, w.finish());
}

/** openEntryChunk checks a sealed chunk against what its dictionary says (`e`) and returns its entries (a view). Throws ERR_CORRUPTION. */
export function openEntryChunk(sealed: Uint8Array, e: ChunkExpect): Uint8Array {
  const r = new ByteReader(openBlock(sealed, BlockKind.postings));
  const tag = r.u8();
  if (tag !== LOG_INDEX_ENTRIES_TAG) throw corrupt(`tag ${tag} is not an entry chunk's`);
  const rows = r.uvarint();
  const chunk = r.uvarint();
  const firstTerm = r.uvarint();
  const terms = r.uvarint();
  if (rows !== e.rows || chunk !== e.chunk || firstTerm !== e.firstTerm || terms !== e.terms) {
    throw corrupt(`chunk ${chunk} (rows ${rows}, terms ${firstTerm}+${terms}) where chunk ${e.chunk} (rows ${e.rows}, terms ${e.firstTerm}+${e.terms}) belongs`);
  }
  if (r.remaining !== e.bytes) throw corrupt(`chunk ${chunk} holds ${r.remaining} entry bytes, its dictionary says ${e.bytes}`);
  return r.take(e.bytes);
}

/**
 * entryChunksOf is EntryChunks over every sealed chunk of an index, in
 * chunk order (a pure caller: encodeLogIndex's output, a test), each opened
 * and checked on first use by `open` (OpenedIndex.openChunk).
 */
export function entryChunksOf(sealed: readonly Uint8Array[], open: (c: number, sealed: Uint8Array) => Uint8Array): EntryChunks {
  const opened = new Map<number, Uint8Array>();
  return {
    chunk: (c) => {
      let b = opened.get(c);
      if (b === undefined) {
        const s = sealed[c];
        if (s === undefined) throw corrupt(`chunk ${c} of ${sealed.length} is missing`);
        b = open(c, s);
        opened.set(c, b);
      }
      return b;
    },
    want: () => {},
  };
}
