/**
 * log-store-format.ts — the LevelDB keys and the small values of the logs
 * store (log-store.ts). Logs own key spaces 0x30-0x3f (shard/keys.ts). Keys
 * are big-endian (KeyBuilder), so a prefix scan runs by tenant, then time
 * bucket, then flush. Pure code, no I/O.
 *
 * A block id is (bucket, flushIndex, part): bucket = floor(timeUnixNano /
 * StoreLimits.logBucketNs), flushIndex the flush that wrote it (unique and
 * increasing per replica), part its number among the blocks that flush cut
 * from one (tenant, bucket).
 *
 *   space  key                                                 value
 *   0x30   tenant 00 | bucket u64 | flushIndex u64 | part u16    sealed log block (log-block.ts)
 *   0x31   tenant 00 | bucket u64 | flushIndex u64 | part u16    sealed term/stream postings (term-index.ts)
 *   0x32   tenant 00 | bucket u64 | flushIndex u64 | part u16    sealed term bloom (term-index.ts)
 *   0x33   tenant 00 | bucket u64 | flushIndex u64 | part u16    sealed block meta: time range, rows, streams
 *   0x34   tenant 00 | bucket u64 | name* 00 | value* 00 |       empty, or a sealed label pair when
 *            flushIndex u64 | part u16                           name or value was cut in the key
 *   0x35   tenant 00 | bucket u64 | flushIndex u64 | part u16    sealed stream table: label sets, rows each
 *   0x36   tenant 00 | bucket u64 | flushIndex u64 | part u16 |  sealed term entry chunk c of a version 3
 *            chunk u16                                         index (term-entries.ts)
 *   0x3f   tenant 00                                           sealed tenant stats: records, dataBytes, indexBytes
 *
 * `name*` and `value*` are the label's UTF-8 bytes cut to
 * LogStoreLimits.labelKeyStringBytesMax and escaped so 00 ends them and byte
 * order is kept: 00 -> 01 01, 01 -> 01 02. So `0x34 tenant bucket name* 00`
 * is the prefix of every key of one label name in one bucket, and the label
 * reads answer from keys of the buckets in their range only.
 *
 * Every value but the 0x34 empties is sealed in the block envelope
 * (block.ts, CRC-32C): the small ones as BlockKind.blockMeta with a leading
 * tag byte (LogValueTag) naming which of them it is. A value that fails its
 * checks is ERR_CORRUPTION.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogBlockLimits, LogStoreLimits, StorageLimits, StoreLimits } from '../../limits.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { ByteReader, ByteWriter } from '../codec/index.js';
import { key, readU64 } from '../shard/keys.js';
import type { StreamLabel } from './log-line.js';

/** LogKeySpace names the key spaces of the logs store (first byte of the key). */
export const LogKeySpace = {
  block: 0x30,
  postings: 0x31,
  bloom: 0x32,
  meta: 0x33,
  label: 0x34,
  streams: 0x35,
  entries: 0x36,
  stats: 0x3f,
} as const;

/** LOG_BLOCK_SPACES are the spaces keyed by block id, in the order a retention pass deletes them. */
export const LOG_BLOCK_SPACES = [LogKeySpace.block, LogKeySpace.postings, LogKeySpace.entries, LogKeySpace.bloom, LogKeySpace.meta, LogKeySpace.label, LogKeySpace.streams] as const;

/** LogValueTag is the first payload byte of the store's small sealed values (all BlockKind.blockMeta). */
export const LogValueTag = { meta: 1, streams: 2, stats: 3, labelPair: 4 } as const;

/** LOG_STORE_FORMAT_VERSION is the second payload byte of every small value. */
export const LOG_STORE_FORMAT_VERSION = 1;

/** LogBlockId names one block of one tenant. */
export interface LogBlockId {
  readonly bucket: number;
  readonly flushIndex: number;
  readonly part: number;
}

/** LogBlockMeta is what a flush records about a block so a query prunes it by time without opening it. */
export interface LogBlockMeta {
  readonly minTimeNs: bigint;
  readonly maxTimeNs: bigint;
  readonly rows: number;
  readonly streams: number;
  /**
   * truncatedRows counts the rows whose line the tokenizer stopped short of
   * (StorageLimits.tokensPerLineMax): their later terms are not indexed, so
   * a term may prune the block only when it is 0. null: a meta written
   * before the field existed (unknown, so never pruned by terms).
   */
  readonly truncatedRows: number | null;
  /** lineBytes is the UTF-8 bytes of the block's lines (index/stats); null in a meta written before the field existed. */
  readonly lineBytes: number | null;
  /**
   * unindexed is true when the flush wrote no term index for the block (no
   * postings, no bloom: LogStoreOptions.termIndex false, a benchmark
   * baseline); a read then checks every row of the block. Absent: indexed.
   */
  readonly unindexed?: true;
}

/** LogStream is one stream of a block's stream table with its rows in that block. */
export interface LogStream {
  readonly labels: readonly StreamLabel[];
  readonly rows: number;
  /** lineBytes is the UTF-8 bytes of the stream's lines in the block; absent in a table written before the field existed. */
  readonly lineBytes?: number;
}

/** LogTenantStats are the durable counts of one tenant's logs. */
export interface LogTenantStats {
  readonly records: number;
  readonly dataBytes: number;
  readonly indexBytes: number;
}

const U64_MAX = (1n << 64n) - 1n;
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function corrupt(message: string, details?: Record<string, unknown>): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `logs store: ${message}`, details);
}

/** bucketOf is the time bucket of a record time. */
export function bucketOf(timeNs: bigint): number {
  assert(timeNs >= 0n && timeNs <= U64_MAX, 'a log time is u64');
  const b = timeNs / StoreLimits.logBucketNs;
  assert(b <= BigInt(Number.MAX_SAFE_INTEGER), 'a bucket is a safe integer');
  return Number(b);
}

/** bucketStartNs is the first nanosecond of a bucket. */
export function bucketStartNs(bucket: number): bigint {
  return BigInt(bucket) * StoreLimits.logBucketNs;
}

/** LogTimeRange bounds a read by record time, both ends inclusive. */
export interface LogTimeRange {
  readonly startNs: bigint;
  readonly endNs: bigint;
}

/** checkTimeRange checks an inclusive u64 time range and returns its first and last bucket (ERR_INVALID_ARGUMENT). */
export function checkTimeRange(startNs: bigint, endNs: bigint): { b0: number; b1: number } {
  if (!(startNs >= 0n && endNs <= U64_MAX && startNs <= endNs)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `log time range [${startNs}, ${endNs}] is not within u64 and ordered`);
  }
  return { b0: bucketOf(startNs), b1: bucketOf(endNs) };
}

/** tenantPrefix is `space tenant 00`, the prefix of every key of a tenant in a space. */
export function tenantPrefix(space: number, tenant: string): Uint8Array {
  return key(space).tenant(tenant).build();
}

/** bucketKey is `space tenant 00 bucket`: the prefix of a bucket's keys, and a range bound. */
export function bucketKey(space: number, tenant: string, bucket: number): Uint8Array {
  return key(space).tenant(tenant).u64(bucket).build();
}

/** blockKey is the key of a block-id keyed value. */
export function blockKey(space: number, tenant: string, id: LogBlockId): Uint8Array {
  return key(space).tenant(tenant).u64(id.bucket).u64(id.flushIndex).u16(id.part).build();
}

/** entryChunkKey is the key of chunk `chunk` of block `id`'s term entries (LogKeySpace.entries). */
export function entryChunkKey(tenant: string, id: LogBlockId, chunk: number): Uint8Array {
  assert(Number.isSafeInteger(chunk) && chunk >= 0 && chunk < 0x1_0000, 'an entry chunk number fits u16');
  return key(LogKeySpace.entries).tenant(tenant).u64(id.bucket).u64(id.flushIndex).u16(id.part).u16(chunk).build();
}

/** tenantKeyBytes is the length of `space tenant 00`. */
export function tenantKeyBytes(tenant: string): number {
  return 1 + enc.encode(tenant).length + 1;
}

/** parseBlockKey reads the block id of a block-id keyed key of `tenant` (ERR_CORRUPTION when it is not one). */
export function parseBlockKey(k: Uint8Array, tenant: string): LogBlockId {
  const at = tenantKeyBytes(tenant);
  if (k.length !== at + 18) throw corrupt(`block key of ${k.length} bytes, not ${at + 18}`);
  const bucket = readU64(k, at);
  const flushIndex = readU64(k, at + 8);
  const part = new DataView(k.buffer, k.byteOffset, k.byteLength).getUint16(at + 16);
  return { bucket, flushIndex, part };
}

/** parseKeyBucket reads the bucket of any bucketed key of `tenant`. */
export function parseKeyBucket(k: Uint8Array, tenant: string): number {
  const at = tenantKeyBytes(tenant);
  if (k.length < at + 8) throw corrupt(`bucketed key of ${k.length} bytes`);
  return readU64(k, at);
}

// ---------------------------------------------------------------- label keys

/** cutUtf8 returns the UTF-8 bytes of s cut to LogStoreLimits.labelKeyStringBytesMax, and whether it was cut. */
function cutUtf8(s: string): { bytes: Uint8Array; cut: boolean } {
  const b = enc.encode(s);
  if (b.length <= LogStoreLimits.labelKeyStringBytesMax) return { bytes: b, cut: false };
  return { bytes: b.subarray(0, LogStoreLimits.labelKeyStringBytesMax), cut: true };
}

function escape(b: Uint8Array): Uint8Array {
  let extra = 0;
  for (const x of b) if (x <= 1) extra++;
  const out = new Uint8Array(b.length + extra);
  let j = 0;
  for (const x of b) {
    if (x <= 1) {
      out[j++] = 1;
      out[j++] = x + 1;
    } else {
      out[j++] = x;
    }
  }
  assert(j === out.length, 'escape fills its output');
  return out;
}

/** readEscaped reads one escaped string ending in 00 from k at `at`; returns its bytes and the offset after the 00. */
function readEscaped(k: Uint8Array, at: number): { bytes: Uint8Array; next: number } {
  const out: number[] = [];
  let i = at;
  for (;;) {
    if (i >= k.length) throw corrupt('label key string has no terminator');
    const x = k[i++] as number;
    if (x === 0) return { bytes: Uint8Array.from(out), next: i };
    if (x === 1) {
      const y = k[i++];
      if (y !== 1 && y !== 2) throw corrupt('bad escape in a label key');
      out.push(y - 1);
    } else {
      out.push(x);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** labelNamePrefix is `0x34 tenant 00 bucket name* 00`: every key of one label name in one bucket. */
export function labelNamePrefix(tenant: string, bucket: number, name: string): Uint8Array {
  return key(LogKeySpace.label).tenant(tenant).u64(bucket).bytes(escape(cutUtf8(name).bytes)).u8(0).build();
}

/** labelPairEntry is the key and value of one (name, value) pair of one block; the value is empty unless a string was cut. */
export function labelPairEntry(tenant: string, id: LogBlockId, label: StreamLabel): { key: Uint8Array; value: Uint8Array } {
  const n = cutUtf8(label.name);
  const v = cutUtf8(label.value);
  const k = key(LogKeySpace.label).tenant(tenant).u64(id.bucket).bytes(escape(n.bytes)).u8(0).bytes(escape(v.bytes)).u8(0).u64(id.flushIndex).u16(id.part).build();
  if (!n.cut && !v.cut) return { key: k, value: new Uint8Array(0) };
  const w = new ByteWriter();
  w.u8(LogValueTag.labelPair);
  w.u8(LOG_STORE_FORMAT_VERSION);
  w.str(label.name);
  w.str(label.value);
  return { key: k, value: sealBlock(BlockKind.blockMeta, w.finish()) };
}

/** ParsedLabelEntry is one label key read back: its pair (whole, from the value when cut) and block id. */
export interface ParsedLabelEntry extends LogBlockId {
  readonly name: string;
  readonly value: string;
}

/** parseLabelEntry reads a 0x34 key and value of `tenant` (ERR_CORRUPTION on any defect). */
export function parseLabelEntry(k: Uint8Array, value: Uint8Array, tenant: string): ParsedLabelEntry {
  let at = tenantKeyBytes(tenant);
  if (k.length < at + 8 + 2 + 10 || k[0] !== LogKeySpace.label) throw corrupt(`label key of ${k.length} bytes`);
  const bucket = readU64(k, at);
  at += 8;
  const n = readEscaped(k, at);
  const v = readEscaped(k, n.next);
  if (k.length !== v.next + 10) throw corrupt('label key does not end in a block id');
  const flushIndex = readU64(k, v.next);
  const part = new DataView(k.buffer, k.byteOffset, k.byteLength).getUint16(v.next + 8);
  let name: string;
  let val: string;
  if (value.length === 0) {
    try {
      name = dec.decode(n.bytes);
      val = dec.decode(v.bytes);
    } catch {
      throw corrupt('label key string is not UTF-8');
    }
  } else {
    const r = smallReader(value, LogValueTag.labelPair);
    name = r.str(StorageLimits.stringBytesMax, 'label name');
    val = r.str(LogBlockLimits.renderedCharsMax * 3, 'label value');
    if (r.remaining !== 0) throw corrupt('trailing bytes in a label pair');
    if (!sameBytes(cutUtf8(name).bytes, n.bytes) || !sameBytes(cutUtf8(val).bytes, v.bytes)) throw corrupt('label pair value disagrees with its key');
  }
  return { bucket, flushIndex, part, name, value: val };
}

// ---------------------------------------------------------------- small values

function sealSmall(tag: number, fill: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  w.u8(tag);
  w.u8(LOG_STORE_FORMAT_VERSION);
  fill(w);
  return sealBlock(BlockKind.blockMeta, w.finish());
}

function smallReader(sealed: Uint8Array, tag: number): ByteReader {
  const payload = openBlock(sealed, BlockKind.blockMeta);
  const r = new ByteReader(payload);
  const got = r.u8();
  if (got !== tag) throw corrupt(`value tag ${got}, not ${tag}`);
  const version = r.u8();
  if (version !== LOG_STORE_FORMAT_VERSION) throw corrupt(`value version ${version}, not ${LOG_STORE_FORMAT_VERSION}`);
  return r;
}

/** META_FLAG_UNINDEXED marks a block meta whose block has no postings and no bloom (LogBlockMeta.unindexed). */
const META_FLAG_UNINDEXED = 1;

/**
 * encodeBlockMeta seals a block meta: u64 BE minTimeNs, u64 BE maxTimeNs,
 * uvarint rows, uvarint streams, then (since issue 8; absent in older
 * metas) uvarint truncatedRows, uvarint lineBytes, then (only for a block
 * written without its term index) uvarint flags = META_FLAG_UNINDEXED.
 */
export function encodeBlockMeta(m: LogBlockMeta): Uint8Array {
  assert(m.minTimeNs <= m.maxTimeNs, 'meta minTimeNs <= maxTimeNs');
  assert(m.rows >= 1 && m.streams >= 1 && m.streams <= m.rows, 'meta counts');
  assert((m.truncatedRows === null) === (m.lineBytes === null), 'the issue-8 fields come together');
  assert(m.truncatedRows === null || (m.truncatedRows >= 0 && m.truncatedRows <= m.rows), 'truncated rows within rows');
  return sealSmall(LogValueTag.meta, (w) => {
    const t = new Uint8Array(16);
    const view = new DataView(t.buffer);
    view.setBigUint64(0, m.minTimeNs);
    view.setBigUint64(8, m.maxTimeNs);
    w.raw(t);
    w.uvarint(m.rows);
    w.uvarint(m.streams);
    if (m.truncatedRows !== null && m.lineBytes !== null) {
      w.uvarint(m.truncatedRows);
      w.uvarint(m.lineBytes);
      if (m.unindexed === true) w.uvarint(META_FLAG_UNINDEXED);
    }
  });
}

/** decodeBlockMeta opens a sealed block meta (ERR_CORRUPTION). */
export function decodeBlockMeta(sealed: Uint8Array): LogBlockMeta {
  const r = smallReader(sealed, LogValueTag.meta);
  const t = r.take(16);
  const view = new DataView(t.buffer, t.byteOffset, 16);
  const minTimeNs = view.getBigUint64(0);
  const maxTimeNs = view.getBigUint64(8);
  const rows = r.uvarint();
  const streams = r.uvarint();
  const extended = r.remaining > 0;
  const truncatedRows = extended ? r.uvarint() : null;
  const lineBytes = extended ? r.uvarint() : null;
  const flags = r.remaining > 0 ? r.uvarint() : 0;
  if (flags !== 0 && flags !== META_FLAG_UNINDEXED) throw corrupt(`block meta flags ${flags}`);
  if (r.remaining !== 0) throw corrupt('trailing bytes in a block meta');
  if (minTimeNs > maxTimeNs) throw corrupt('block meta minTimeNs > maxTimeNs');
  if (rows < 1 || rows > LogBlockLimits.rowsPerBlockMax) throw corrupt(`block meta of ${rows} rows`);
  if (streams < 1 || streams > rows) throw corrupt(`block meta of ${streams} streams`);
  if (truncatedRows !== null && truncatedRows > rows) throw corrupt(`block meta of ${truncatedRows} truncated rows of ${rows}`);
  return { minTimeNs, maxTimeNs, rows, streams, truncatedRows, lineBytes, ...(flags === META_FLAG_UNINDEXED ? { unindexed: true as const } : {}) };
}

/**
 * encodeStreamTable seals a block's streams: uvarint count, then per stream
 * uvarint labels, labels × [str name][str value], uvarint rows; then (since
 * issue 8, when every stream has it) streams × uvarint lineBytes.
 */
export function encodeStreamTable(streams: readonly LogStream[]): Uint8Array {
  assert(streams.length >= 1, 'a block has a stream');
  const withBytes = streams.every((s) => s.lineBytes !== undefined);
  return sealSmall(LogValueTag.streams, (w) => {
    w.uvarint(streams.length);
    for (const s of streams) {
      assert(s.rows >= 1, 'a stream has a row');
      w.uvarint(s.labels.length);
      for (const l of s.labels) {
        w.str(l.name);
        w.str(l.value);
      }
      w.uvarint(s.rows);
    }
    if (withBytes) for (const s of streams) w.uvarint(s.lineBytes as number);
  });
}

/** decodeStreamTable opens a sealed stream table (ERR_CORRUPTION). */
export function decodeStreamTable(sealed: Uint8Array): LogStream[] {
  const r = smallReader(sealed, LogValueTag.streams);
  const count = r.uvarint();
  if (count < 1 || count > LogBlockLimits.streamsPerBlockMax) throw corrupt(`stream table of ${count} streams`);
  const out: LogStream[] = [];
  for (let s = 0; s < count; s++) {
    const k = r.uvarint();
    if (k > LogBlockLimits.labelsPerStreamMax) throw corrupt(`stream of ${k} labels`);
    const labels: StreamLabel[] = [];
    for (let j = 0; j < k; j++) {
      const name = r.str(StorageLimits.stringBytesMax, 'stream label name');
      const value = r.str(LogBlockLimits.renderedCharsMax * 3, 'stream label value');
      labels.push({ name, value });
    }
    const rows = r.uvarint();
    if (rows < 1) throw corrupt('a stream of no rows');
    out.push({ labels, rows });
  }
  if (r.remaining === 0) return out;
  const withBytes = out.map((st) => ({ ...st, lineBytes: r.uvarint() }));
  if (r.remaining !== 0) throw corrupt('trailing bytes in a stream table');
  return withBytes;
}

/** encodeTenantStats seals a tenant's stats: uvarint records, dataBytes, indexBytes. */
export function encodeTenantStats(s: LogTenantStats): Uint8Array {
  for (const v of [s.records, s.dataBytes, s.indexBytes]) assert(Number.isSafeInteger(v) && v >= 0, 'stats are counts');
  return sealSmall(LogValueTag.stats, (w) => {
    w.uvarint(s.records);
    w.uvarint(s.dataBytes);
    w.uvarint(s.indexBytes);
  });
}

/** decodeTenantStats opens sealed tenant stats (ERR_CORRUPTION). */
export function decodeTenantStats(sealed: Uint8Array): LogTenantStats {
  const r = smallReader(sealed, LogValueTag.stats);
  const records = r.uvarint();
  const dataBytes = r.uvarint();
  const indexBytes = r.uvarint();
  if (r.remaining !== 0) throw corrupt('trailing bytes in tenant stats');
  return { records, dataBytes, indexBytes };
}

/** parseStatsTenant reads the tenant of a 0x3f key. */
export function parseStatsTenant(k: Uint8Array): string {
  if (k.length < 3 || k[0] !== LogKeySpace.stats || k[k.length - 1] !== 0) throw corrupt('stats key is not 0x3f tenant 00');
  try {
    return dec.decode(k.subarray(1, k.length - 1));
  } catch {
    throw corrupt('stats key tenant is not UTF-8');
  }
}
