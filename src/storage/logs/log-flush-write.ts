/**
 * log-flush-write.ts — what a logs flush writes for one tenant (the logs
 * store's writeFrozen calls it per tenant, log-store.ts): the frozen rows
 * bucketed by time, sorted (ties in apply order), cut into blocks that fit
 * every block limit (encodeParts), and per block the block, its term index
 * (postings, entry chunks and bloom, unless the index is off), meta, stream table and
 * label-pair entries, all put into the flush's one batch (key layout in
 * log-store-format.ts). Bytes are counted as data (blocks) or index
 * (everything else) for the tenant's stats.
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogStoreLimits, ShardDbLimits, StoreLimits } from '../../limits.js';
import { ByteWriter } from '../codec/index.js';
import type { LogRow } from '../rows.js';
import type { KvWriteBatch } from '../shard/shard-db.js';
import type { RowLabels, RowLines } from './log-block.js';
import { encodeLogBlock, streamKey } from './log-block.js';
import type { RestTails } from './log-block-rest.js';
import { encodeRestTails } from './log-block-rest.js';
import type { StreamLabel } from './log-line.js';
import { logLine, streamLabels } from './log-line.js';
import type { LogBlockId, LogBlockMeta, LogStream, LogTenantStats } from './log-store-format.js';
import { LogKeySpace, blockKey, bucketOf, encodeBlockMeta, entryChunkKey, encodeStreamTable, labelPairEntry } from './log-store-format.js';
import { encodeLogIndex } from './term-index-build.js';

/** NO_INDEX stands in for encodeLogIndex's output when the term index is off: nothing is written (empty postings). */
const NO_INDEX = { postings: new Uint8Array(0), entries: [], bloom: new Uint8Array(0), truncatedRows: 0 } as const;

/** EncodedPart is one block of a flush with everything written beside it. */
interface EncodedPart {
  readonly rows: readonly LogRow[];
  readonly block: Uint8Array;
  readonly postings: Uint8Array;
  /** entries are the index's sealed entry chunks (version 3), each under its own key. */
  readonly entries: readonly Uint8Array[];
  readonly bloom: Uint8Array;
  readonly streams: LogStream[];
  readonly truncatedRows: number;
  readonly lineBytes: number;
}

/** StreamCount is one stream of a part being counted by streamsOf. */
interface StreamCount {
  labels: StreamLabel[];
  rows: number;
  lineBytes: number;
}

/**
 * streamsOf counts the rows and line bytes of each stream of a part
 * (labelsOf[i] is row i's labels, lineBytes[i] its line's UTF-8 length as
 * the block's line column measured it), found by its frozen label list
 * first, then by key.
 */
function streamsOf(labelsOf: RowLabels, lineBytes: Uint32Array): LogStream[] {
  assert(labelsOf.length === lineBytes.length, 'a line length per row');
  const byKey = new Map<string, StreamCount>();
  const byList = new Map<readonly StreamLabel[], StreamCount>();
  for (let i = 0; i < labelsOf.length; i++) {
    const labels = labelsOf[i] as StreamLabel[];
    const bytes = lineBytes[i] as number;
    let s = byList.get(labels);
    if (s === undefined) {
      const k = streamKey(labels);
      s = byKey.get(k);
      if (s === undefined) {
        s = { labels, rows: 0, lineBytes: 0 };
        byKey.set(k, s);
      }
      if (Object.isFrozen(labels)) byList.set(labels, s);
    }
    s.rows++;
    s.lineBytes += bytes;
  }
  return [...byKey.values()];
}

/**
 * encodeParts encodes time-sorted rows as blocks, halving a run that a block
 * limit refuses (streams, terms, bytes) until each part fits: a flush must
 * never fail on data that was accepted. Each row's stream labels and line
 * are derived once (`labels`, `lines`: one read of each row and its body)
 * for the block, its index and its stream table.
 */
function encodeParts(rows: readonly LogRow[], out: EncodedPart[], termIndex: boolean, tails: RestTails | undefined, labels?: RowLabels, lines?: RowLines): void {
  assert(rows.length >= 1 && rows.length <= LogStoreLimits.blockRowsMax, 'a part is 1..blockRowsMax rows');
  assert(tails === undefined || (tails.starts.length === rows.length && tails.ends.length === rows.length), 'a rest tail per row');
  assert((labels === undefined) === (lines === undefined), 'labels and lines derived together');
  if (labels === undefined || lines === undefined) {
    const labelsOf = new Array<readonly StreamLabel[]>(rows.length);
    const linesOf = new Array<string>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as LogRow;
      labelsOf[i] = streamLabels(row);
      linesOf[i] = logLine(row);
    }
    labels = labelsOf;
    lines = linesOf;
  }
  try {
    const rowLineBytes = new Uint32Array(rows.length);
    const block = encodeLogBlock(rows, undefined, labels, tails, rowLineBytes, lines);
    const index = termIndex ? encodeLogIndex(rows, labels, undefined, lines) : NO_INDEX;
    for (const v of [block, index.postings, ...index.entries]) {
      if (v.length > ShardDbLimits.valueBytesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', 'a log block value past valueBytesMax');
    }
    const streams = streamsOf(labels, rowLineBytes);
    const lineBytes = streams.reduce((n, st) => n + (st.lineBytes as number), 0);
    out.push({ rows, block, postings: index.postings, entries: index.entries, bloom: index.bloom, streams, truncatedRows: index.truncatedRows, lineBytes });
  } catch (err) {
    if (!(err instanceof OtlpdbError && err.code === 'ERR_LIMIT_EXCEEDED') || rows.length === 1) throw err;
    const half = rows.length >>> 1;
    encodeParts(rows.slice(0, half), out, termIndex, tails && tailsIn(tails, 0, half), labels.slice(0, half), lines.slice(0, half));
    encodeParts(rows.slice(half), out, termIndex, tails && tailsIn(tails, half, rows.length), labels.slice(half), lines.slice(half));
  }
}

/** tailsIn is rows [from, to)'s part of `tails`. */
function tailsIn(tails: RestTails, from: number, to: number): RestTails {
  return { bytes: tails.bytes, starts: tails.starts.subarray(from, to), ends: tails.ends.subarray(from, to) };
}

/**
 * tailsInOrder is the rest tails of `rows` (apply order) permuted into
 * `order`, or null when their slab would pass the codec's writer bound
 * (a bucket of a head near V8's heap limit): the block then writes them
 * from the rows, as before, since a flush must never fail on data that was
 * accepted.
 */
function tailsInOrder(rows: readonly LogRow[], order: Uint32Array): RestTails | null {
  try {
    return permuted(encodeRestTails(rows, new ByteWriter()), order);
  } catch (err) {
    if (err instanceof OtlpdbError && err.code === 'ERR_LIMIT_EXCEEDED') return null;
    throw err;
  }
}

/** permuted is `tails` in `order` (row i's tail is the tail of row order[i]). */
function permuted(tails: RestTails, order: Uint32Array): RestTails {
  return { bytes: tails.bytes, starts: order.map((k) => tails.starts[k] as number), ends: order.map((k) => tails.ends[k] as number) };
}

/** BUCKET_OFFSET_NS_MAX bounds a time's offset in its bucket: below it, offsets are exact doubles (timeOrder sorts by them). */
const BUCKET_OFFSET_NS_MAX = 1n << 53n;
assert(StoreLimits.logBucketNs <= BUCKET_OFFSET_NS_MAX, 'a time offset in its bucket is an exact double');

/**
 * TAILS_DESCENT_SHARE_MIN is the share of rows that are earlier than the row
 * before them (in apply order) from which a flush writes the rest tails in
 * apply order (RestTails): rows mostly in time order keep their locality
 * when sorted, and the tails would only add a pass (measured in
 * bench/README.md, "## log-flush", s16: the ingest bench's rows, random
 * times, half descents; query-logs' rows, under 8% descents).
 */
const TAILS_DESCENT_SHARE_MIN = 0.25;

/** descentsOf counts the rows of `rows` earlier than the row before them. */
function descentsOf(rows: readonly LogRow[]): number {
  let descents = 0;
  for (let i = 1; i < rows.length; i++) if ((rows[i] as LogRow).timeUnixNano < (rows[i - 1] as LogRow).timeUnixNano) descents++;
  return descents;
}

/**
 * timeOrder is the permutation that sorts one bucket's `rows` by time,
 * equal times in their given (apply) order: the rows' times are read once,
 * in the given order, as offsets in the bucket, and the sort compares
 * numbers instead of reading each row's bigint per comparison (rows far
 * out of order lie all over memory once sorted).
 */
function timeOrder(rows: readonly LogRow[], bucket: number): Uint32Array {
  const n = rows.length;
  const start = BigInt(bucket) * StoreLimits.logBucketNs;
  if (n <= ORDER_INDEX_MAX + 1) return timeOrderPacked(rows, start);
  const key = new Float64Array(n);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const off = (rows[i] as LogRow).timeUnixNano - start;
    assert(off >= 0n && off < StoreLimits.logBucketNs, 'a row lies in its bucket');
    key[i] = Number(off);
    order[i] = i;
  }
  // Ties by index: the order is stable whatever the engine's sort.
  order.sort((a, b) => (key[a] as number) - (key[b] as number) || a - b);
  return order;
}

/** ORDER_INDEX_BITS is the low bits of timeOrderPacked's 64-bit keys that hold a row's index; the offset in the bucket takes the rest. */
const ORDER_INDEX_BITS = 21;
/** ORDER_INDEX_MAX is the largest row index a packed key holds. */
const ORDER_INDEX_MAX = 2 ** ORDER_INDEX_BITS - 1;
/** ORDER_LOW_OFFSET_SPAN is how many offsets a key's low word holds above its index bits (the offset's low part). */
const ORDER_LOW_OFFSET_SPAN = 2 ** (32 - ORDER_INDEX_BITS);
assert(StoreLimits.logBucketNs <= 1n << BigInt(64 - ORDER_INDEX_BITS), 'a bucket offset and a row index pack into 64 bits');
/** ORDER_LO and ORDER_HI are the Uint32Array positions of a 64-bit element's low and high words on this machine. */
const ORDER_LO = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
const ORDER_HI = 1 - ORDER_LO;

/**
 * timeOrderPacked is timeOrder for at most ORDER_INDEX_MAX + 1 rows: each
 * row's key is its offset in the bucket times 2^ORDER_INDEX_BITS plus its
 * index, written as two 32-bit words of a BigUint64Array (no bigint per
 * row), and the keys are sorted by the engine's native numeric sort (no
 * comparator call per comparison). Keys are distinct, and equal times sort
 * by index: the same stable order.
 */
function timeOrderPacked(rows: readonly LogRow[], start: bigint): Uint32Array {
  const n = rows.length;
  assert(n >= 1 && n <= ORDER_INDEX_MAX + 1, 'a row index fits its bits');
  const keys = new BigUint64Array(n);
  const words = new Uint32Array(keys.buffer);
  for (let i = 0; i < n; i++) {
    const off = (rows[i] as LogRow).timeUnixNano - start;
    assert(off >= 0n && off < StoreLimits.logBucketNs, 'a row lies in its bucket');
    const x = Number(off);
    const low = x % ORDER_LOW_OFFSET_SPAN;
    words[2 * i + ORDER_HI] = (x - low) / ORDER_LOW_OFFSET_SPAN;
    words[2 * i + ORDER_LO] = low * (ORDER_INDEX_MAX + 1) + i;
  }
  keys.sort();
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = (words[2 * k + ORDER_LO] as number) & ORDER_INDEX_MAX;
  return order;
}

/**
 * inMemoryOrder is rows [from, to) of `sorted` as fresh shallow copies,
 * allocated one after the other, so they lie in memory in the order the
 * block's passes read them. The head's rows lie in apply order, so a
 * bucket sorted by time (random times: half the rows earlier than the row
 * before them on the ingest bench) reads them all over the heap in each of
 * the encode's passes over a run (bounds, times, the pages' columns, the
 * index's tokenizer and stream pairs, the stream table): the first read of
 * each row was the top self-time line of the block encode. A copy shares
 * every field's value (bigints, strings, ids, attribute lists, resource
 * and scope objects), so the block, the index and the stream labels (the
 * streamLabels memo is keyed by the resource object) are the same; the
 * head keeps the originals for queries. Only runs sorted by a permutation
 * (timeOrder, rows far out of time order) are copied: rows mostly in time
 * order already lie in memory about in the order they are read. Measured
 * in bench/README.md ("## ingest", s18).
 */
function inMemoryOrder(sorted: readonly LogRow[], from: number, to: number): LogRow[] {
  assert(from >= 0 && from < to && to <= sorted.length, 'a run of the sorted rows');
  const out = new Array<LogRow>(to - from);
  for (let i = from; i < to; i++) out[i - from] = { ...(sorted[i] as LogRow) };
  return out;
}

/** addStats adds two tenants' counts. */
export function addStats(a: LogTenantStats, b: LogTenantStats): LogTenantStats {
  return { records: a.records + b.records, dataBytes: a.dataBytes + b.dataBytes, indexBytes: a.indexBytes + b.indexBytes };
}

/** ZERO_STATS are a tenant's counts before anything is written. */
export const ZERO_STATS: LogTenantStats = { records: 0, dataBytes: 0, indexBytes: 0 };

/** TenantFlush is what writeTenantFlush put into the batch for one tenant. */
export interface TenantFlush {
  readonly blocks: number;
  readonly dataBytes: number;
  readonly indexBytes: number;
}

/**
 * writeTenantFlush puts the blocks of one tenant's frozen `rows` (apply
 * order, at least one) into `batch` under `flushIndex`, with the term index
 * when `termIndex` (see the file comment). A flush never fails on data that
 * was accepted: a run a block limit refuses is halved until it fits. It
 * awaits `pace` (FlushContext.pace, flush-pacer.ts) before encoding each run
 * of at most blockRowsMax rows, so a large flush leaves the node's event loop
 * between its blocks instead of holding it for the whole head.
 */
export async function writeTenantFlush(
  batch: KvWriteBatch,
  tenant: string,
  rows: readonly LogRow[],
  flushIndex: number,
  termIndex: boolean,
  pace?: () => Promise<void>,
): Promise<TenantFlush> {
  assert(rows.length > 0, 'a tenant flush has rows');
  let blocks = 0;
  const byBucket = new Map<number, LogRow[]>();
  for (const row of rows) {
    const b = bucketOf(row.timeUnixNano);
    const list = byBucket.get(b);
    if (list === undefined) byBucket.set(b, [row]);
    else list.push(row);
  }
  let tData = 0;
  let tIndex = 0;
  for (const bucket of [...byBucket.keys()].sort((a, b) => a - b)) {
    const applied = byBucket.get(bucket) as LogRow[];
    // Stable: equal times keep apply order.
    // Rows far out of time order (see TAILS_DESCENT_SHARE_MIN): sorted by a permutation, and the rest sections' per-row bytes written in apply order and copied in time order.
    const descents = descentsOf(applied);
    const order = descents >= TAILS_DESCENT_SHARE_MIN * applied.length ? timeOrder(applied, bucket) : null;
    const tails = order === null ? null : tailsInOrder(applied, order);
    // Stable: equal times keep apply order.
    const sorted =
      order !== null
        ? Array.from(order, (k) => applied[k] as LogRow)
        : descents === 0
          ? applied
          : applied.slice().sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
    let part = 0;
    for (let i = 0; i < sorted.length; i += LogStoreLimits.blockRowsMax) {
      // One run per step: encoding is the flush's CPU work (flush-pacer.ts).
      if (pace !== undefined) await pace();
      const parts: EncodedPart[] = [];
      const j = Math.min(sorted.length, i + LogStoreLimits.blockRowsMax);
      // Sorted by the permutation: copies in read order (inMemoryOrder); otherwise the rows already lie about in time order.
      const run = order !== null ? inMemoryOrder(sorted, i, j) : sorted.slice(i, j);
      encodeParts(run, parts, termIndex, tails === null ? undefined : tailsIn(tails, i, j));
      for (const p of parts) {
        assert(part < 0x1_0000, 'parts of one bucket fit u16');
        part = putPart(p, { bucket, flushIndex, part });
      }
    }
  }
  assert(tData >= 0 && tIndex >= 0, 'flush bytes are counts');
  return { blocks, dataBytes: tData, indexBytes: tIndex };

  /** putPart puts block `id` of part `p` and everything written beside it; returns the next part number. */
  function putPart(p: EncodedPart, id: LogBlockId): number {
    const put = (space: number, k: Uint8Array, v: Uint8Array): void => {
      batch.put(k, v);
      if (space === LogKeySpace.block) tData += k.length + v.length;
      else tIndex += k.length + v.length;
    };
    const first = p.rows[0] as LogRow;
    const last = p.rows[p.rows.length - 1] as LogRow;
    put(LogKeySpace.block, blockKey(LogKeySpace.block, tenant, id), p.block);
    if (termIndex) {
      put(LogKeySpace.postings, blockKey(LogKeySpace.postings, tenant, id), p.postings);
      p.entries.forEach((e, c) => put(LogKeySpace.entries, entryChunkKey(tenant, id, c), e));
      put(LogKeySpace.bloom, blockKey(LogKeySpace.bloom, tenant, id), p.bloom);
    }
    const meta: LogBlockMeta = {
      minTimeNs: first.timeUnixNano,
      maxTimeNs: last.timeUnixNano,
      rows: p.rows.length,
      streams: p.streams.length,
      truncatedRows: p.truncatedRows,
      lineBytes: p.lineBytes,
      ...(termIndex ? {} : { unindexed: true as const }),
    };
    put(LogKeySpace.meta, blockKey(LogKeySpace.meta, tenant, id), encodeBlockMeta(meta));
    put(LogKeySpace.streams, blockKey(LogKeySpace.streams, tenant, id), encodeStreamTable(p.streams));
    const pairs = new Map<string, StreamLabel>();
    for (const s of p.streams) for (const l of s.labels) pairs.set(JSON.stringify([l.name, l.value]), l);
    for (const l of pairs.values()) {
      const e = labelPairEntry(tenant, id, l);
      put(LogKeySpace.label, e.key, e.value);
    }
    blocks++;
    return id.part + 1;
  }
}
