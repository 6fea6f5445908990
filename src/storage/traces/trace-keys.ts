/**
 * trace-keys.ts — the LevelDB keys and small values of the traces store
 * (trace-store.ts) inside one shard replica, in the traces range 0x10-0x1f of
 * shard/keys.ts. Pure code, no I/O.
 *
 * A block is named by its BlockRef: the hour bucket of its spans' start
 * (bucket = floor(startTimeUnixNano / StoreLimits.traceBucketNs)), the flush
 * that wrote it (the applied Raft index, unique and increasing per replica)
 * and its part (a bucket of one flush is cut into blocks of at most
 * StoreLimits.blockRowsMax spans). All numbers are big-endian, so key order is
 * (tenant, bucket, flushIndex, part) order.
 *
 *   0x10 | tenant 0x00 | bucket u64 | flushIndex u64 | part u16              -> sealed span block (span-block.ts): formats 1
 *                                                                               and 2 whole; format 3 its head only
 *   0x11 | tenant 0x00 | bucket u64 | flushIndex u64 | part u16              -> sealed span block index (span-index.ts:
 *                                                                               postings + trace-id bloom)
 *   0x12 | tenant 0x00 | traceId 16 B | bucket u64 | flushIndex u64 | part u16 -> TraceEntry (the exact trace-id index)
 *   0x13 | tenant 0x00 | bucket u64 | flushIndex u64 | part u16              -> sealed BlockMeta (time pruning, expiry)
 *   0x14 | tenant 0x00 | bucket u64 | flushIndex u64 | part u16 | traceId 16 B -> empty: a shadow marker, "a later flush
 *                                                                               wrote spans of this trace", so a search
 *                                                                               checks this block's rows of the trace
 *                                                                               for newer versions (and no other rows)
 *   0x15 | tenant 0x00 | bucket u64 | flushIndex u64 | part u16 | page u16  -> page `page` of a format-3 block (span-block.ts:
 *                                                                               its chunks; checked by the head's page CRC32C)
 *   0x16 | tenant 0x00 | bucket u64 | flushIndex u64 | part u16              -> sealed trace summary table of a block
 *                                                                               (trace-summaries.ts: per trace its extent,
 *                                                                               root and first spans); absent in blocks
 *                                                                               written before it
 *   0x17 | tenant 0x00 | bucket u64 | flushIndex u64 | part u16              -> sealed page filters of a block (page-filters.ts:
 *                                                                               per page a bloom of its skipped-key terms;
 *                                                                               version 2 also the skipped keys, in place of
 *                                                                               the index's skipped-terms bloom); absent
 *                                                                               without skipped keys, in blocks written
 *                                                                               before it and, in version 1, in one-page blocks
 *   0x1f | tenant 0x00                                                       -> sealed TenantTraceStats (durable stats)
 *
 * Values:
 *
 *   TraceEntry   uvarint spans (>= 1), uvarint (minStart − bucketStart) (< traceBucketNs),
 *                bigvarint zigzag(maxEnd − minStart),
 *                then (written since s13; absent in older entries) the trace's pages in its format-3
 *                block: uvarint (firstPage × 2 + multi), and when multi is 1 uvarint (lastPage − firstPage)
 *                (>= 1): one byte for a trace on one of the first 64 pages. traceById then gets the
 *                block head and those pages in one getMany (block-read.ts); the reader checks the range
 *                against the head's trace directory (ERR_CORRUPTION on a mismatch).
 *                NB: code before s13 refuses an entry with the pages (trailing bytes).
 *                Not sealed (it would double its size): a reader checks `spans`
 *                against the block it names, which is sealed.
 *   BlockMeta    sealed (BlockKind.blockMeta) payload: u8 version 1, u8 record 1,
 *                uvarint rows, uvarint traces, uvarint dataBytes (block key + value, + page keys and values, + the summary table's key and value),
 *                uvarint indexBytes (index key + value, trace entries' keys + values, page filters' key + value;
 *                not the meta itself), bigvarint minStart, bigvarint maxStart, bigvarint maxEnd,
 *                then (written since the shadow flag; absent in older metas) u8 marked: 1 when the block
 *                has at least one shadow marker (0x14), 0 when it has none. A flush that writes the
 *                first marker on a block rewrites its meta with 1 in the same batch (same size, so the
 *                byte counts stay exact); a meta without the byte says "unknown" and a reader scans.
 *                NB: readable by this code from older databases, not the other way: code before the
 *                flag refuses a meta with it (trailing bytes), and would not set it when it writes a
 *                marker, so a database must not go back to older code and then forward again.
 *   Stats        sealed (BlockKind.blockMeta) payload: u8 version 1, u8 record 2,
 *                uvarint spans, uvarint traces, uvarint dataBytes, uvarint indexBytes
 *
 * bigvarint is span-block.ts's unsigned LEB128 of a bigint (times are u64).
 */
import { assert } from '../../errors.js';
import { StoreLimits } from '../../limits.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { corrupt } from '../codec/bits.js';
import type { ByteWriter } from '../codec/varint.js';
import { ByteReader } from '../codec/varint.js';
import { TRACE_ID_BYTES } from '../rows.js';
import { KeySpace, key, prefixEnd, readU64 } from '../shard/keys.js';
import { readBigUvarint, unzigzagBig, writeBigUvarint, zigzagBig } from './span-block.js';

/** TraceKeySpace names the first key byte of each kind of record the traces store writes. */
export const TraceKeySpace = {
  block: 0x10,
  index: 0x11,
  traceId: 0x12,
  meta: 0x13,
  shadow: 0x14,
  page: 0x15,
  summaries: 0x16,
  pageFilters: 0x17,
  stats: 0x1f,
} as const;
for (const v of Object.values(TraceKeySpace)) assert(v >= KeySpace.TracesFirst && v <= KeySpace.TracesLast, 'trace keys stay in the traces range');

const REF_BYTES = 18;
const META_VERSION = 1;
const RECORD_META = 1;
const RECORD_STATS = 2;
const U64_MAX = (1n << 64n) - 1n;
const dec = new TextDecoder('utf-8', { fatal: true });
const enc = new TextEncoder();

/** BlockRef names one span block of a tenant: its bucket, the flush that wrote it, and its part within that flush and bucket. */
export interface BlockRef {
  readonly bucket: number;
  readonly flushIndex: number;
  readonly part: number;
}

/** bucketOf is the hour bucket of a span start time. */
export function bucketOf(startTimeUnixNano: bigint): number {
  return Number(startTimeUnixNano / StoreLimits.traceBucketNs);
}

/** bucketStartNs is the first nanosecond of a bucket. */
export function bucketStartNs(bucket: number): bigint {
  return BigInt(bucket) * StoreLimits.traceBucketNs;
}

/** tenantPrefix is `space | tenant 0x00`, the prefix of every key of a tenant in one key space. */
export function tenantPrefix(space: number, tenant: string): Uint8Array {
  return key(space).tenant(tenant).build();
}

/** tenantPrefixBytes is the length of tenantPrefix(space, tenant). */
export function tenantPrefixBytes(tenant: string): number {
  return enc.encode(tenant).length + 2;
}

/** blockKey is the key of a block, its index or its meta (`space` picks which). */
export function blockKey(space: number, tenant: string, ref: BlockRef): Uint8Array {
  return key(space).tenant(tenant).u64(ref.bucket).u64(ref.flushIndex).u16(ref.part).build();
}

/** bucketKey is the first key of `bucket` in `space` for a tenant (a range bound). */
export function bucketKey(space: number, tenant: string, bucket: number): Uint8Array {
  return key(space).tenant(tenant).u64(bucket).build();
}

/** tracePrefix is the prefix of every trace-id index entry of one trace. */
export function tracePrefix(tenant: string, traceId: Uint8Array): Uint8Array {
  assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
  return key(TraceKeySpace.traceId).tenant(tenant).bytes(traceId).build();
}

/** traceEntryKey is the key of one trace-id index entry. */
export function traceEntryKey(tenant: string, traceId: Uint8Array, ref: BlockRef): Uint8Array {
  assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
  return key(TraceKeySpace.traceId).tenant(tenant).bytes(traceId).u64(ref.bucket).u64(ref.flushIndex).u16(ref.part).build();
}

/** pageKey is the key of page `page` of the format-3 block `ref`. */
export function pageKey(tenant: string, ref: BlockRef, page: number): Uint8Array {
  assert(Number.isInteger(page) && page >= 0 && page <= 0xffff, 'a page number is a u16');
  return key(TraceKeySpace.page).tenant(tenant).u64(ref.bucket).u64(ref.flushIndex).u16(ref.part).u16(page).build();
}

/** shadowKey is the key of the shadow marker of `traceId` in the older block `ref`. */
export function shadowKey(tenant: string, ref: BlockRef, traceId: Uint8Array): Uint8Array {
  assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
  return key(TraceKeySpace.shadow).tenant(tenant).u64(ref.bucket).u64(ref.flushIndex).u16(ref.part).bytes(traceId).build();
}

/** readShadowTrace reads the trace id that ends a shadow marker key whose tenant prefix is `offset` bytes. */
export function readShadowTrace(k: Uint8Array, offset: number): Uint8Array {
  if (k.length !== offset + REF_BYTES + TRACE_ID_BYTES) throw corrupt(`shadow marker key of ${k.length} bytes`);
  return k.subarray(offset + REF_BYTES);
}

/** statsKey is the key of a tenant's durable stats. */
export function statsKey(tenant: string): Uint8Array {
  return tenantPrefix(TraceKeySpace.stats, tenant);
}

/** spaceRange is the scan range of every key of `space`. */
export function spaceRange(space: number): { gte: Uint8Array; lt: Uint8Array } {
  const gte = Uint8Array.of(space);
  const lt = prefixEnd(gte);
  assert(lt !== null, 'a key space has an end');
  return { gte, lt };
}

/** prefixRange is the scan range of every key starting with `prefix`. */
export function prefixRange(prefix: Uint8Array): { gte: Uint8Array; lt: Uint8Array } {
  const lt = prefixEnd(prefix);
  assert(lt !== null, 'a trace key prefix has an end');
  return { gte: prefix, lt };
}

/** readRef reads the BlockRef that ends a key (ERR_CORRUPTION when the key is not exactly `offset` + 18 bytes). */
export function readRef(k: Uint8Array, offset: number): BlockRef {
  if (k.length !== offset + REF_BYTES) throw corrupt(`trace store key of ${k.length} bytes, expected ${offset + REF_BYTES}`);
  const part = ((k[offset + 16] as number) << 8) | (k[offset + 17] as number);
  return { bucket: readU64(k, offset), flushIndex: readU64(k, offset + 8), part };
}

/** tenantOfStatsKey reads the tenant out of a stats key. */
export function tenantOfStatsKey(k: Uint8Array): string {
  if (k.length < 3 || k[0] !== TraceKeySpace.stats || k[k.length - 1] !== 0) throw corrupt('trace stats key is malformed');
  try {
    return dec.decode(k.subarray(1, k.length - 1));
  } catch {
    throw corrupt('trace stats key tenant is not UTF-8');
  }
}

/** TracePages are the pages first ..= last of a format-3 block that hold a trace's rows. */
export interface TracePages {
  readonly first: number;
  readonly last: number;
}

/** TraceEntry is the value of one trace-id index entry: the trace's spans in that block, their time span and (since s13) their pages. */
export interface TraceEntry {
  readonly spans: number;
  readonly minStartNs: bigint;
  readonly maxEndNs: bigint;
  readonly pages?: TracePages;
}

/** encodeTraceEntry writes a TraceEntry of a block of `bucket`. */
export function encodeTraceEntry(w: ByteWriter, bucket: number, e: TraceEntry): Uint8Array {
  const offset = e.minStartNs - bucketStartNs(bucket);
  assert(e.spans >= 1, 'a trace entry names at least one span');
  assert(offset >= 0n && offset < StoreLimits.traceBucketNs, 'the trace starts inside the bucket');
  w.reset();
  w.uvarint(e.spans);
  w.uvarint(Number(offset));
  writeBigUvarint(w, zigzagBig(e.maxEndNs - e.minStartNs));
  if (e.pages !== undefined) {
    assert(e.pages.first >= 0 && e.pages.last >= e.pages.first && e.pages.last <= 0xffff, 'a trace entry names pages first ..= last (u16)');
    const multi = e.pages.last > e.pages.first;
    w.uvarint(e.pages.first * 2 + (multi ? 1 : 0));
    if (multi) w.uvarint(e.pages.last - e.pages.first);
  }
  return w.finish();
}

/** decodeTraceEntry reads a TraceEntry (ERR_CORRUPTION on a bad byte). */
export function decodeTraceEntry(bytes: Uint8Array, bucket: number): TraceEntry {
  const r = new ByteReader(bytes);
  const spans = r.uvarint();
  if (spans < 1 || spans > StoreLimits.blockRowsMax) throw corrupt(`trace entry of ${spans} spans`);
  const offset = r.uvarint();
  if (BigInt(offset) >= StoreLimits.traceBucketNs) throw corrupt('trace entry start is past its bucket');
  const minStartNs = bucketStartNs(bucket) + BigInt(offset);
  const maxEndNs = minStartNs + unzigzagBig(readBigUvarint(r));
  if (maxEndNs < 0n || maxEndNs > U64_MAX) throw corrupt('trace entry end is outside u64');
  if (r.remaining === 0) return { spans, minStartNs, maxEndNs };
  const at = r.uvarint();
  const first = Math.floor(at / 2);
  const last = at % 2 === 1 ? first + r.uvarint() : first;
  if (at % 2 === 1 && last === first) throw corrupt('trace entry names a multi-page range of one page');
  if (last > 0xffff) throw corrupt(`trace entry names page ${last}`);
  if (r.remaining !== 0) throw corrupt(`trace entry has ${r.remaining} trailing bytes`);
  return { spans, minStartNs, maxEndNs, pages: { first, last } };
}

/** BlockMeta is what time pruning and expiry need of a block without opening it. */
export interface BlockMeta {
  readonly rows: number;
  readonly traces: number;
  /** dataBytes is the block's key and value, plus its page keys and values (format 3). */
  readonly dataBytes: number;
  /** indexBytes is the block index's key and value plus its trace entries' keys and values (not this meta). */
  readonly indexBytes: number;
  readonly minStartNs: bigint;
  readonly maxStartNs: bigint;
  readonly maxEndNs: bigint;
  /**
   * marked says whether the block has shadow markers: false means none (a search skips the
   * marker scan), true means some, undefined (a meta written before the flag) means unknown.
   */
  readonly marked?: boolean;
}

/** encodeBlockMeta seals a BlockMeta. */
export function encodeBlockMeta(w: ByteWriter, m: BlockMeta): Uint8Array {
  assert(m.rows >= 1 && m.traces >= 1 && m.traces <= m.rows, 'a block meta counts rows and traces');
  assert(m.minStartNs <= m.maxStartNs, 'minStart <= maxStart');
  w.reset();
  w.u8(META_VERSION);
  w.u8(RECORD_META);
  w.uvarint(m.rows);
  w.uvarint(m.traces);
  w.uvarint(m.dataBytes);
  w.uvarint(m.indexBytes);
  writeBigUvarint(w, m.minStartNs);
  writeBigUvarint(w, m.maxStartNs);
  writeBigUvarint(w, m.maxEndNs);
  if (m.marked !== undefined) w.u8(m.marked ? 1 : 0);
  return sealBlock(BlockKind.blockMeta, w.finish());
}

function openRecord(bytes: Uint8Array, record: number, what: string): ByteReader {
  const r = new ByteReader(openBlock(bytes, BlockKind.blockMeta));
  const version = r.u8();
  if (version !== META_VERSION) throw corrupt(`${what} version ${version} is not ${META_VERSION}`);
  const type = r.u8();
  if (type !== record) throw corrupt(`${what} record type ${type} is not ${record}`);
  return r;
}

/** decodeBlockMeta opens a sealed BlockMeta (ERR_CORRUPTION on any bad byte). */
export function decodeBlockMeta(bytes: Uint8Array): BlockMeta {
  const r = openRecord(bytes, RECORD_META, 'span block meta');
  const rows = r.uvarint();
  const traces = r.uvarint();
  const dataBytes = r.uvarint();
  const indexBytes = r.uvarint();
  const minStartNs = readBigUvarint(r);
  const maxStartNs = readBigUvarint(r);
  const maxEndNs = readBigUvarint(r);
  let marked: boolean | undefined;
  if (r.remaining > 0) {
    const flag = r.u8();
    if (flag > 1) throw corrupt(`span block meta shadow flag ${flag} is not 0 or 1`);
    marked = flag === 1;
  }
  if (r.remaining !== 0) throw corrupt(`span block meta has ${r.remaining} trailing bytes`);
  if (rows < 1 || rows > StoreLimits.blockRowsMax || traces < 1 || traces > rows) throw corrupt(`span block meta of ${rows} rows, ${traces} traces`);
  if (minStartNs > maxStartNs || maxStartNs > U64_MAX || maxEndNs > U64_MAX) throw corrupt('span block meta times are out of order');
  const meta = { rows, traces, dataBytes, indexBytes, minStartNs, maxStartNs, maxEndNs };
  return marked === undefined ? meta : { ...meta, marked };
}

/** TenantTraceStats are one tenant's durable counts. */
export interface TenantTraceStats {
  /** spans counts stored span rows: a span rewritten in a later flush counts once per block holding a version of it. */
  spans: number;
  /** traces counts distinct trace ids in the tenant's blocks (exact). */
  traces: number;
  dataBytes: number;
  indexBytes: number;
}

/** encodeTenantStats seals a tenant's stats. */
export function encodeTenantStats(w: ByteWriter, s: TenantTraceStats): Uint8Array {
  assert(s.spans >= 0 && s.traces >= 0 && s.traces <= s.spans, 'tenant stats are counts');
  w.reset();
  w.u8(META_VERSION);
  w.u8(RECORD_STATS);
  w.uvarint(s.spans);
  w.uvarint(s.traces);
  w.uvarint(s.dataBytes);
  w.uvarint(s.indexBytes);
  return sealBlock(BlockKind.blockMeta, w.finish());
}

/** decodeTenantStats opens a tenant's sealed stats (ERR_CORRUPTION on any bad byte). */
export function decodeTenantStats(bytes: Uint8Array): TenantTraceStats {
  const r = openRecord(bytes, RECORD_STATS, 'trace stats');
  const s = { spans: r.uvarint(), traces: r.uvarint(), dataBytes: r.uvarint(), indexBytes: r.uvarint() };
  if (r.remaining !== 0) throw corrupt(`trace stats have ${r.remaining} trailing bytes`);
  if (s.traces > s.spans) throw corrupt(`trace stats count ${s.traces} traces for ${s.spans} spans`);
  return s;
}
