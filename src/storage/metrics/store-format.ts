/**
 * store-format.ts — the LevelDB keys and values of the metrics store of one
 * shard replica (metric-store.ts draws the key layout). Pure encode/decode
 * functions; every value is a sealed block (block.ts: magic, kind, length,
 * CRC-32C), so a damaged value is ERR_CORRUPTION and never data.
 *
 * Value payloads:
 *
 *   series page   deflateRaw(msgpack {ids: [first, deltas…], series: [[name, [labelName, labelValue, …]], …]})
 *                 the series of one tenant created by one flush
 *   lastT page    uvarint n | n × svarint (lastT+1, or 0 for none; delta from the previous entry)
 *                 the last accepted timestamps of series page×1024 … +1023
 *   chunk block   the float samples of one id page of series in one bucket written by one flush,
 *                 with shared timestamp columns (store format 2; layout drawn in chunk-block.ts)
 *   records       msgpack of columns (encodeRecords): t as deltas, start as t - start,
 *                 counts, sum/min/max, bucket bounds once per run of equal bounds,
 *                 bucket counts as deltas from the previous point's (when the layout
 *                 is the same); exponential: scale, zero count/threshold, offset and
 *                 delta counts per side; summary: quantile list once per run, values
 *   exemplars     msgpack [[pointT, Exemplar], …]
 *   rollup        uvarint n | n × (uvarint window index delta | svarint deltas from the
 *                 previous window of bodyCount, firstT-start and lastT-firstT) | u8 layout |
 *                 layout 0: 4 × n × f64; layout 1: 4 × (uvarint len | codec chunk over
 *                 the window indexes), for bodyMin, bodyMax, bodySum, last
 *   record rollup msgpack [[start-bucketStart, firstT-start, lastT-firstT, body, last], …],
 *                 an aggregate being [points, count, sum, bounds|null, bucket sums|null, mixed]
 *   bucket stat   msgpack {samples, dataBytes, indexBytes, keys}
 *   tenant stats  msgpack {series, samples, dataBytes, indexBytes}
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { BlockKind, type BlockKindValue, openBlock, sealBlock } from '../block.js';
import { OtlpdbError, assert } from '../../errors.js';
import { ByteReader, ByteWriter, ChunkIterator, SeriesEncoder, corrupt } from '../codec/index.js';
import { MetricStoreLimits } from '../../limits.js';
import { STORAGE_PACKR } from '../storage-packr.js';
import { key, readU32, readU64 } from '../shard/keys.js';
import type { Exemplar, MetricData } from '../rows.js';
import type { Label } from './series-registry.js';
import type { RollupPartial } from './rollup.js';
import type { RecordAgg, RecordRollupPartial } from './record-rollup.js';

/** MetricKeySpace names the metrics store's key spaces (inside KeySpace.MetricsFirst..MetricsLast). */
export const MetricKeySpace = {
  Series: 0x20,
  LastT: 0x21,
  Chunks: 0x22,
  Records: 0x23,
  Exemplars: 0x24,
  Rollups: 0x25,
  RecordRollups: 0x26,
  /** Descriptions: the series' descriptions, per page of 1024 ids (series-descriptions.ts). */
  Descriptions: 0x27,
  BucketStats: 0x2e,
  TenantStats: 0x2f,
} as const;

/** ROLLUP_WINDOWS_PER_VALUE_MAX bounds the windows of one rollup value (a bucket's worth of the finest window). */
const ROLLUP_WINDOWS_PER_VALUE_MAX = 1 << 20;

/** LAST_T_PAGE_SERIES is the number of series whose last timestamps share one lastT page. */
export const LAST_T_PAGE_SERIES = 1024;

/** seal wraps a payload; open checks and unwraps (ERR_CORRUPTION on any mismatch). */
function seal(kind: BlockKindValue, payload: Uint8Array): Uint8Array {
  return sealBlock(kind, payload);
}

function unpack(bytes: Uint8Array, what: string): unknown {
  try {
    return STORAGE_PACKR.unpack(bytes);
  } catch (err) {
    throw corrupt(`metrics ${what}: undecodable msgpack (${err instanceof Error ? err.message : String(err)})`);
  }
}

function pack(v: unknown): Uint8Array {
  const b = STORAGE_PACKR.pack(v);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// ---- keys ----

/** tenantPrefix is `space tenant\0`. */
export function tenantPrefix(space: number, tenant: string): Uint8Array {
  return key(space).tenant(tenant).build();
}

/** seriesPageKey is `0x20 tenant\0 first:u32`. */
export function seriesPageKey(tenant: string, first: number): Uint8Array {
  return key(MetricKeySpace.Series).tenant(tenant).u32(first).build();
}

/** lastTPageKey is `0x21 page:u32` (series ids are shard-wide, so the page is not per tenant). */
export function lastTPageKey(page: number): Uint8Array {
  return key(MetricKeySpace.LastT).u32(page).build();
}

/** dataKey is `space tenant\0 bucket:u64 seriesId:u32 flushIndex:u64` (chunks, records, exemplars). */
export function dataKey(space: number, tenant: string, bucket: number, seriesId: number, flushIndex: number): Uint8Array {
  return key(space).tenant(tenant).u64(bucket).u32(seriesId).u64(flushIndex).build();
}

/** dataKeyPrefix is `space tenant\0 bucket:u64 [seriesId:u32]`, the start of a bucket (or of one series in it). */
export function dataKeyPrefix(space: number, tenant: string, bucket: number, seriesId?: number): Uint8Array {
  const b = key(space).tenant(tenant).u64(bucket);
  if (seriesId !== undefined) b.u32(seriesId);
  return b.build();
}

/** rollupKey is `space tenant\0 tag:u8 bucket:u64 seriesId:u32 flushIndex:u64` (space 0x25 floats, 0x26 records). */
export function rollupKey(space: number, tenant: string, tag: number, bucket: number, seriesId: number, flushIndex: number): Uint8Array {
  return key(space).tenant(tenant).u8(tag).u64(bucket).u32(seriesId).u64(flushIndex).build();
}

/** rollupKeyPrefix is `space tenant\0 tag:u8 bucket:u64 [seriesId:u32]`. */
export function rollupKeyPrefix(space: number, tenant: string, tag: number, bucket: number, seriesId?: number): Uint8Array {
  const b = key(space).tenant(tenant).u8(tag).u64(bucket);
  if (seriesId !== undefined) b.u32(seriesId);
  return b.build();
}

/** bucketStatKey is `0x2e tenant\0 bucket:u64 flushIndex:u64`. */
export function bucketStatKey(tenant: string, bucket: number, flushIndex: number): Uint8Array {
  return key(MetricKeySpace.BucketStats).tenant(tenant).u64(bucket).u64(flushIndex).build();
}

/** tenantStatsKey is `0x2f tenant\0`. */
export function tenantStatsKey(tenant: string): Uint8Array {
  return key(MetricKeySpace.TenantStats).tenant(tenant).build();
}

/** DataKeyFields are the fields after `tenant\0` of a data or rollup key. */
export interface DataKeyFields {
  readonly bucket: number;
  readonly seriesId: number;
  readonly flushIndex: number;
}

/** parseDataKey reads bucket, seriesId and flushIndex of a data key whose `space tenant\0 [tag]` prefix is `prefixBytes` long. */
export function parseDataKey(k: Uint8Array, prefixBytes: number): DataKeyFields {
  if (k.length !== prefixBytes + 20) throw corrupt(`metrics key of ${k.length} bytes, expected ${prefixBytes + 20}`);
  return { bucket: readU64(k, prefixBytes), seriesId: readU32(k, prefixBytes + 8), flushIndex: readU64(k, prefixBytes + 12) };
}

// ---- series pages ----

/** SeriesPageEntry is one series of a series page. */
export interface SeriesPageEntry {
  readonly name: string;
  readonly labels: readonly Label[];
}

/** encodeSeriesPage seals series of one tenant created by one flush (ids increasing, stored as deltas). */
export function encodeSeriesPage(ids: readonly number[], series: readonly SeriesPageEntry[]): Uint8Array {
  assert(ids.length === series.length && ids.length > 0, 'one entry per id');
  const deltas = ids.map((id, i) => (i === 0 ? id : id - (ids[i - 1] as number)));
  const flat = series.map((s) => [s.name, s.labels.flatMap((l) => [l.name, l.value])]);
  return seal(BlockKind.metricSeries, deflateRawSync(pack({ ids: deltas, series: flat })));
}

/** decodeSeriesPage opens a series page. */
export function decodeSeriesPage(bytes: Uint8Array): { ids: number[]; series: SeriesPageEntry[] } {
  const payload = openBlock(bytes, BlockKind.metricSeries);
  let raw: Uint8Array;
  try {
    raw = inflateRawSync(payload);
  } catch {
    throw corrupt('metrics series page: bad deflate stream');
  }
  const v = unpack(raw, 'series page') as { ids?: unknown; series?: unknown };
  if (typeof v !== 'object' || v === null || !Array.isArray(v.ids) || !Array.isArray(v.series) || v.ids.length !== v.series.length) {
    throw corrupt('metrics series page: bad shape');
  }
  const ids: number[] = [];
  let prev = 0;
  for (const d of v.ids as unknown[]) {
    if (!Number.isSafeInteger(d) || (d as number) < 0) throw corrupt('metrics series page: bad id');
    prev += d as number;
    ids.push(prev);
  }
  const series: SeriesPageEntry[] = [];
  for (const s of v.series as unknown[]) {
    if (!Array.isArray(s) || typeof s[0] !== 'string' || !Array.isArray(s[1])) throw corrupt('metrics series page: bad series');
    const flat = s[1] as unknown[];
    const labels: Label[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = flat[i];
      const value = flat[i + 1];
      if (typeof name !== 'string' || typeof value !== 'string') throw corrupt('metrics series page: bad label');
      labels.push({ name, value });
    }
    series.push({ name: s[0], labels });
  }
  return { ids, series };
}

// ---- lastT pages ----

/** encodeLastTPage seals the last timestamps of one page (NaN or -Infinity = none). */
export function encodeLastTPage(lastT: ArrayLike<number>): Uint8Array {
  const w = new ByteWriter(16 + lastT.length * 2);
  w.uvarint(lastT.length);
  let prev = 0;
  for (let i = 0; i < lastT.length; i++) {
    const t = lastT[i] as number;
    const v = Number.isFinite(t) ? t + 1 : 0;
    assert(v >= 0, 'timestamps are >= 0 ms');
    w.svarint(v - prev);
    prev = v;
  }
  return seal(BlockKind.metricLastT, w.finish());
}

/** decodeLastTPage opens a lastT page (-Infinity for none). */
export function decodeLastTPage(bytes: Uint8Array): Float64Array {
  const r = new ByteReader(openBlock(bytes, BlockKind.metricLastT));
  const n = r.uvarint();
  if (n > LAST_T_PAGE_SERIES) throw corrupt(`metrics lastT page of ${n} entries`);
  const out = new Float64Array(n);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    prev += r.svarint();
    out[i] = prev === 0 ? -Infinity : prev - 1;
  }
  if (r.remaining !== 0) throw corrupt('metrics lastT page: trailing bytes');
  return out;
}

// ---- chunk blocks (layout in chunk-block.ts) ----

/** chunkBlockPage is the id page of a series: its chunk block in a bucket holds the series page × chunkBlockSeries … + chunkBlockSeries − 1. */
export function chunkBlockPage(seriesId: number): number {
  return Math.floor(seriesId / MetricStoreLimits.chunkBlockSeries);
}

/** chunkBlockKey is `0x22 tenant\0 bucket:u64 page:u32 flushIndex:u64 part:u16`. */
export function chunkBlockKey(tenant: string, bucket: number, page: number, flushIndex: number, part: number): Uint8Array {
  return key(MetricKeySpace.Chunks).tenant(tenant).u64(bucket).u32(page).u64(flushIndex).u16(part).build();
}

/** ChunkBlockKeyFields are the fields after `tenant\0` of a chunk block key. */
export interface ChunkBlockKeyFields {
  readonly bucket: number;
  readonly page: number;
  readonly flushIndex: number;
  readonly part: number;
}

/** parseChunkBlockKey reads a chunk block key whose `0x22 tenant\0` prefix is `prefixBytes` long. */
export function parseChunkBlockKey(k: Uint8Array, prefixBytes: number): ChunkBlockKeyFields {
  if (k.length !== prefixBytes + 22) throw corrupt(`metrics chunk block key of ${k.length} bytes, expected ${prefixBytes + 22}`);
  const part = ((k[prefixBytes + 20] as number) << 8) | (k[prefixBytes + 21] as number);
  return { bucket: readU64(k, prefixBytes), page: readU32(k, prefixBytes + 8), flushIndex: readU64(k, prefixBytes + 12), part };
}

// ---- histogram and summary records ----

/** RecordData is the data of a point that is stored as a record. */
export type RecordData = Extract<MetricData, { type: 'histogram' | 'exponentialHistogram' | 'summary' }>;

/** RecordPoint is one histogram, exponential histogram or summary point of a series. */
export interface RecordPoint {
  readonly t: number;
  readonly startMs: number;
  readonly flags: number;
  readonly data: RecordData;
}

function deltas(cur: readonly number[], prev: readonly number[] | null): number[] {
  if (prev === null || prev.length !== cur.length) return cur.slice();
  return cur.map((c, i) => c - (prev[i] as number));
}

function undeltas(cur: number[], prev: number[] | null, isDelta: boolean): number[] {
  if (!isDelta || prev === null) return cur;
  if (prev.length !== cur.length) throw corrupt('metrics records: delta counts of a different layout');
  return cur.map((c, i) => c + (prev[i] as number));
}

function sameList(a: readonly number[], b: readonly number[] | null): boolean {
  if (b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * encodeRecords seals the points (sorted by t, one type) of one series in one
 * bucket written by one flush, as columns (see the file comment).
 */
export function encodeRecords(points: readonly RecordPoint[]): Uint8Array {
  assert(points.length > 0, 'a record block has points');
  const type = (points[0] as RecordPoint).data.type;
  const t: number[] = [];
  const s: number[] = [];
  const f: number[] = [];
  const c: number[] = [];
  const sum: (number | null)[] = [];
  const min: (number | null)[] = [];
  const max: (number | null)[] = [];
  const tp: number[] = [];
  const runs: [number, number[]][] = [];
  const counts: number[][] = [];
  const countsDelta: boolean[] = [];
  const extra: number[][] = [];
  let prevT = 0;
  let prevRun: number[] | null = null;
  let prevCounts: number[] | null = null;
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as RecordPoint;
    assert(p.data.type === type, 'one type per series');
    t.push(p.t - prevT);
    prevT = p.t;
    s.push(p.t - p.startMs);
    f.push(p.flags);
    const d = p.data;
    c.push(d.count);
    sum.push(d.sum);
    if (d.type === 'histogram' || d.type === 'exponentialHistogram') {
      min.push(d.min);
      max.push(d.max);
      tp.push(d.temporality);
    }
    if (d.type === 'histogram' || d.type === 'summary') {
      const layout = d.type === 'histogram' ? (d.bounds as number[]) : d.quantiles.map((q) => q.quantile);
      const vals = d.type === 'histogram' ? (d.bucketCounts as number[]) : d.quantiles.map((q) => q.value);
      if (!sameList(layout, prevRun)) {
        runs.push([i, layout.slice()]);
        prevRun = layout;
        prevCounts = null;
      }
      const isDelta = d.type === 'histogram' && prevCounts !== null && prevCounts.length === vals.length;
      counts.push(d.type === 'histogram' ? deltas(vals, prevCounts) : vals.slice());
      countsDelta.push(isDelta);
      prevCounts = vals;
    } else {
      extra.push([d.scale, d.zeroCount, d.zeroThreshold, d.positive.offset, d.negative.offset, d.positive.bucketCounts.length]);
      counts.push([...d.positive.bucketCounts, ...d.negative.bucketCounts]);
      countsDelta.push(false);
    }
  }
  return seal(BlockKind.metricRecords, pack({ type, t, s, f, c, sum, min, max, tp, runs, counts, cd: countsDelta, extra }));
}

/** decodeRecords opens a record block. */
export function decodeRecords(bytes: Uint8Array): RecordPoint[] {
  const v = unpack(openBlock(bytes, BlockKind.metricRecords), 'records') as Record<string, unknown>;
  try {
    return decodeRecordColumns(v);
  } catch (err) {
    if (err instanceof OtlpdbError) throw err;
    throw corrupt(`metrics records: bad shape (${err instanceof Error ? err.message : String(err)})`);
  }
}

function decodeRecordColumns(v: Record<string, unknown>): RecordPoint[] {
  const type = v.type as string;
  const t = v.t as number[];
  const s = v.s as number[];
  const f = v.f as number[];
  const c = v.c as number[];
  const sum = v.sum as (number | null)[];
  const min = v.min as (number | null)[];
  const max = v.max as (number | null)[];
  const tp = v.tp as number[];
  const runs = v.runs as [number, number[]][];
  const counts = v.counts as number[][];
  const cd = v.cd as boolean[];
  const extra = v.extra as number[][];
  if (!Array.isArray(t) || ![t, s, f, c, sum, counts, cd].every((col) => Array.isArray(col) && col.length === t.length)) {
    throw corrupt('metrics records: columns differ in length');
  }
  const out: RecordPoint[] = [];
  let prevT = 0;
  let run = -1;
  let prevCounts: number[] | null = null;
  for (let i = 0; i < t.length; i++) {
    const ti = prevT + (t[i] as number);
    prevT = ti;
    const base = { t: ti, startMs: ti - (s[i] as number), flags: f[i] as number };
    let data: RecordData;
    if (type === 'histogram' || type === 'summary') {
      if (run + 1 < runs.length && (runs[run + 1] as [number, number[]])[0] === i) {
        run++;
        prevCounts = null;
      }
      const layout = runs[run];
      if (layout === undefined) throw corrupt('metrics records: no layout run');
      const vals = undeltas((counts[i] as number[]).slice(), prevCounts, cd[i] === true);
      prevCounts = vals;
      if (type === 'histogram') {
        data = {
          type: 'histogram',
          temporality: tp[i] as 1 | 2,
          count: c[i] as number,
          sum: sum[i] as number | null,
          min: min[i] as number | null,
          max: max[i] as number | null,
          bounds: layout[1],
          bucketCounts: vals,
        };
      } else {
        data = { type: 'summary', count: c[i] as number, sum: sum[i] as number, quantiles: layout[1].map((q, j) => ({ quantile: q, value: vals[j] as number })) };
      }
    } else if (type === 'exponentialHistogram') {
      const e = extra[i];
      const all = counts[i];
      if (e === undefined || all === undefined) throw corrupt('metrics records: missing exponential fields');
      const np = e[5] as number;
      data = {
        type: 'exponentialHistogram',
        temporality: tp[i] as 1 | 2,
        count: c[i] as number,
        sum: sum[i] as number | null,
        min: min[i] as number | null,
        max: max[i] as number | null,
        scale: e[0] as number,
        zeroCount: e[1] as number,
        zeroThreshold: e[2] as number,
        positive: { offset: e[3] as number, bucketCounts: all.slice(0, np) },
        negative: { offset: e[4] as number, bucketCounts: all.slice(np) },
      };
    } else {
      throw corrupt(`metrics records: unknown type ${String(type)}`);
    }
    out.push({ ...base, data });
  }
  return out;
}

// ---- exemplars ----

/** StoredExemplar is an exemplar with the timestamp (ms) of the point it came with. */
export interface StoredExemplar {
  readonly pointT: number;
  readonly exemplar: Exemplar;
}

/** encodeExemplars seals the exemplars of one series in one bucket written by one flush. */
export function encodeExemplars(exemplars: readonly StoredExemplar[]): Uint8Array {
  return seal(BlockKind.metricExemplars, pack(exemplars.map((e) => [e.pointT, e.exemplar])));
}

/** decodeExemplars opens an exemplar block. */
export function decodeExemplars(bytes: Uint8Array): StoredExemplar[] {
  const v = unpack(openBlock(bytes, BlockKind.metricExemplars), 'exemplars');
  if (!Array.isArray(v)) throw corrupt('metrics exemplars: not an array');
  return v.map((e: unknown) => {
    if (!Array.isArray(e) || typeof e[0] !== 'number' || typeof e[1] !== 'object') throw corrupt('metrics exemplars: bad entry');
    return { pointT: e[0], exemplar: e[1] as Exemplar };
  });
}

// ---- rollups ----

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const ROLLUP_RAW = 0;
const ROLLUP_CHUNKS = 1;

/**
 * encodeRollups seals the partials (sorted by window) of one series in one
 * bucket written by one flush: the integer columns as varints, the four float
 * columns (bodyMin, bodyMax, bodySum, last) either raw (8 bytes each) or as
 * codec chunks over the window indexes (Gorilla XOR or decimal), whichever is
 * smaller (a flag byte says which).
 */
export function encodeRollups(partials: readonly RollupPartial[], bucketStartMs: number, windowMs: number, enc: SeriesEncoder = new SeriesEncoder()): Uint8Array {
  const n = partials.length;
  const w = new ByteWriter(16 + n * 40);
  const idx = new Float64Array(n);
  const cols = [new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n)] as const;
  partials.forEach((p, i) => {
    const x = (p.startMs - bucketStartMs) / windowMs;
    assert(Number.isSafeInteger(x) && x >= 0, 'the window is inside the bucket');
    assert(i === 0 || x > (idx[i - 1] as number), 'windows are sorted');
    idx[i] = x;
    cols[0][i] = p.bodyMin;
    cols[1][i] = p.bodyMax;
    cols[2][i] = p.bodySum;
    cols[3][i] = p.last;
  });
  const chunks = cols.map((c) => enc.encodeChunk(idx, c));
  let chunkBytes = 0;
  for (const c of chunks) chunkBytes += c.length + 2;
  w.uvarint(n);
  // Regular scrapes give every window about the same first offset and span: each is a delta from the previous window's.
  let prevFirst = 0;
  let prevSpan = 0;
  let prevCount = 0;
  for (let i = 0; i < n; i++) {
    const p = partials[i] as RollupPartial;
    const first = p.firstT - p.startMs;
    const span = p.lastT - p.firstT;
    w.uvarint((idx[i] as number) - (i === 0 ? 0 : (idx[i - 1] as number)));
    w.svarint(p.bodyCount - prevCount);
    w.svarint(first - prevFirst);
    w.svarint(span - prevSpan);
    prevCount = p.bodyCount;
    prevFirst = first;
    prevSpan = span;
  }
  if (chunkBytes < n * 32) {
    w.u8(ROLLUP_CHUNKS);
    for (const c of chunks) {
      w.uvarint(c.length);
      w.raw(c);
    }
  } else {
    w.u8(ROLLUP_RAW);
    for (const c of cols) {
      for (let i = 0; i < n; i++) {
        f64[0] = c[i] as number;
        w.raw(f64Bytes);
      }
    }
  }
  return seal(BlockKind.metricRollup, w.finish());
}

/** decodeRollups opens a rollup block. */
export function decodeRollups(bytes: Uint8Array, bucketStartMs: number, windowMs: number, it: ChunkIterator = new ChunkIterator()): RollupPartial[] {
  const r = new ByteReader(openBlock(bytes, BlockKind.metricRollup));
  const n = r.uvarint();
  if (n > ROLLUP_WINDOWS_PER_VALUE_MAX) throw corrupt(`metrics rollups: ${n} windows`);
  const out: RollupPartial[] = [];
  let x = 0;
  let first = 0;
  let span = 0;
  let bodyCount = 0;
  for (let i = 0; i < n; i++) {
    x += r.uvarint();
    bodyCount += r.svarint();
    first += r.svarint();
    span += r.svarint();
    if (bodyCount < 0 || first < 0 || first >= windowMs || span < 0 || first + span >= windowMs) throw corrupt('metrics rollups: a window field out of range');
    const startMs = bucketStartMs + x * windowMs;
    const firstT = startMs + first;
    out.push({ startMs, firstT, lastT: firstT + span, last: 0, bodyCount, bodyMin: 0, bodyMax: 0, bodySum: 0 });
  }
  const flag = r.u8();
  const fields = ['bodyMin', 'bodyMax', 'bodySum', 'last'] as const;
  for (const field of fields) {
    if (flag === ROLLUP_CHUNKS) {
      it.reset(r.take(r.uvarint()));
      if (it.count !== n) throw corrupt(`metrics rollups: a column of ${it.count} values for ${n} windows`);
      for (let i = 0; i < n; i++) {
        if (!it.next()) throw corrupt('metrics rollups: short column');
        (out[i] as RollupPartial)[field] = it.v;
      }
    } else if (flag === ROLLUP_RAW) {
      for (let i = 0; i < n; i++) {
        f64Bytes.set(r.take(8));
        (out[i] as RollupPartial)[field] = f64[0] as number;
      }
    } else {
      throw corrupt(`metrics rollups: unknown layout ${flag}`);
    }
  }
  if (r.remaining !== 0) throw corrupt('metrics rollups: trailing bytes');
  return out;
}

// ---- record rollups ----

function aggToArray(a: RecordAgg): unknown[] {
  return [a.points, a.count, a.sum, a.bounds, a.buckets, a.mixed ? 1 : 0];
}

function aggFromArray(v: unknown): RecordAgg {
  if (!Array.isArray(v) || v.length !== 6) throw corrupt('metrics record rollups: bad aggregate');
  const [points, count, sum, bounds, buckets, mixed] = v as unknown[];
  if (typeof points !== 'number' || typeof count !== 'number' || typeof sum !== 'number') throw corrupt('metrics record rollups: bad counts');
  if (!(bounds === null || Array.isArray(bounds)) || !(buckets === null || Array.isArray(buckets))) throw corrupt('metrics record rollups: bad buckets');
  return { points, count, sum, bounds: bounds as number[] | null, buckets: buckets as number[] | null, mixed: mixed === 1 };
}

/** encodeRecordRollups seals record partials (sorted by window) of one series in one bucket written by one flush: msgpack rows. */
export function encodeRecordRollups(partials: readonly RecordRollupPartial[], bucketStartMs: number): Uint8Array {
  return seal(BlockKind.metricRollup, pack(partials.map((p) => [p.startMs - bucketStartMs, p.firstT - p.startMs, p.lastT - p.firstT, aggToArray(p.body), aggToArray(p.last)])));
}

/** decodeRecordRollups opens a record rollup block. */
export function decodeRecordRollups(bytes: Uint8Array, bucketStartMs: number): RecordRollupPartial[] {
  const v = unpack(openBlock(bytes, BlockKind.metricRollup), 'record rollups');
  if (!Array.isArray(v)) throw corrupt('metrics record rollups: not an array');
  return v.map((row: unknown) => {
    if (!Array.isArray(row) || row.length !== 5 || typeof row[0] !== 'number' || typeof row[1] !== 'number' || typeof row[2] !== 'number') {
      throw corrupt('metrics record rollups: bad row');
    }
    const startMs = bucketStartMs + row[0];
    const firstT = startMs + row[1];
    return { startMs, firstT, lastT: firstT + row[2], body: aggFromArray(row[3]), last: aggFromArray(row[4]) };
  });
}

// ---- stats ----

/** StatCounts are durable counts (of a tenant, or of one bucket written by one flush). */
export interface StatCounts {
  series: number;
  samples: number;
  dataBytes: number;
  indexBytes: number;
  keys: number;
}

/** encodeStats seals stat counts. */
export function encodeStats(s: StatCounts): Uint8Array {
  return seal(BlockKind.metricStats, pack({ series: s.series, samples: s.samples, dataBytes: s.dataBytes, indexBytes: s.indexBytes, keys: s.keys }));
}

/** decodeStats opens stat counts. */
export function decodeStats(bytes: Uint8Array): StatCounts {
  const v = unpack(openBlock(bytes, BlockKind.metricStats), 'stats') as Record<string, unknown>;
  const out = { series: v.series, samples: v.samples, dataBytes: v.dataBytes, indexBytes: v.indexBytes, keys: v.keys };
  for (const x of Object.values(out)) if (!Number.isSafeInteger(x) || (x as number) < 0) throw corrupt('metrics stats: bad count');
  return out as StatCounts;
}
