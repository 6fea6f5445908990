/**
 * chunk-block.ts — the chunk block: the float samples of up to
 * MetricStoreLimits.chunkBlockSeries series (one id page) in one bucket
 * written by one flush, as one sealed LevelDB value (store format 2). Series
 * whose timestamps in the block are identical — every series scraped together
 * by one exporter — reference one shared timestamp column instead of each
 * coding its own: their chunks carry values only (CHUNK_TIMESTAMPS_EXTERNAL,
 * src/storage/codec/chunk-format.ts).
 *
 * Key (store-format.ts chunkBlockKey): `0x22 tenant\0 bucket:u64 page:u32 flush:u64 part:u16`,
 * page = floor(seriesId / chunkBlockSeries); a page whose encoded samples
 * pass MetricStoreLimits.chunkBlockBytesTarget is cut into parts 0, 1, …
 * (series in id order, each part with the columns its series use), so a
 * value stays well under ShardDbLimits.valueBytesMax.
 *
 * Value: a sealed block (block.ts: magic, version, kind metricChunkBlock,
 * length, CRC-32C over header and payload) whose payload is
 *
 *   0        1
 *   +--------+-----------+---------------------------+-----------+---------+----------+------------------+
 *   | format | uvarint C | C × (uvarint len | column) | uvarint S | id runs | ref runs | S × series entry |
 *   | u8 = 2 | columns   | timestamp-column.ts       | series    |         |          |                  |
 *   +--------+-----------+---------------------------+-----------+---------+----------+------------------+
 *
 *   id runs:  uvarint R, R × (uvarint gap | uvarint length)   ids in runs of consecutive ids; a run
 *             starts gap ids after the previous run's last id + 1 (the first: after page × chunkBlockSeries);
 *             the lengths (>= 1) sum to S
 *   ref runs: uvarint R, R × (uvarint ref | uvarint length)   the column ref of each series, in runs
 *             (lengths >= 1, summing to S): 0 = the chunks carry their own timestamps (a run longer
 *             than timestampColumnSamplesMax); r >= 1: column r − 1
 *
 *   series entry, in id order:
 *     uvarint K                       only without a column: the number of chunks
 *     K × (uvarint len | chunk)       codec chunks in time order; with a column K = ceil(column
 *                                     count / its pieceSamples) (the store's chunk size), chunk j
 *                                     holds the times of piece j, only compact encodings with
 *                                     external timestamps, each stored without its byte 0
 *                                     (CHUNK_FORMAT_VERSION, implied by the block format, read in
 *                                     place: ChunkIterator.resetRange); its sample count stays, a cross-check
 *                                     against the column's piece
 *
 * Invariants, checked on read (ERR_CORRUPTION otherwise): format 2; 1 <= S <=
 * chunkBlockSeries; the runs cover exactly S series; ids strictly increase
 * inside the page; every column ref
 * names a column and every column is referenced; chunk j of a series with a
 * column holds exactly the times of the column's piece j; columns strictly
 * increase. The block's CRC-32C is verified before any of that, so a flipped
 * bit in a shared column is caught even when it would still decode. A value of the
 * per-series chunk runs of store format 1 (BlockKind.metricChunk) is refused
 * with ERR_CORRUPTION naming the format: no deployed data uses it.
 *
 * NB: a read of one series opens its page's whole block (at most
 * chunkBlockSeries series of one bucket, about chunkBlockBytesTarget per
 * part): that is the price of the shared column and of one block header per
 * page instead of per series.
 */
import { joinFacts } from '../codec/value-facts.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { OtlpdbError, assert } from '../../errors.js';
import { CodecLimits, MetricStoreLimits } from '../../limits.js';
import {
  ByteReader,
  ByteWriter,
  CHUNK_FORMAT_VERSION,
  CHUNK_TIMESTAMPS_EXTERNAL,
  ChunkIterator,
  SeriesEncoder,
  TimestampColumnDecoder,
  TimestampColumnEncoder,
  type TimestampColumnShape,
  corrupt,
  timestampColumnShape,
} from '../codec/index.js';

/** CHUNK_BLOCK_FORMAT is payload byte 0 of a chunk block: store format 2 (format 1 was one chunk run per series). */
export const CHUNK_BLOCK_FORMAT = 2;

/** ChunkBlockSeries is one series' samples of a block: strictly increasing integer times, any float64 values. */
export interface ChunkBlockSeries {
  readonly id: number;
  readonly ts: Float64Array;
  readonly vs: Float64Array;
}

/** ChunkBlockSizes splits the bytes of the last encode call (all its parts), for reports and the compression bench. */
export interface ChunkBlockSizes {
  /** columns is the number of distinct timestamp columns. */
  columns: number;
  /** columnBytes are the columns' bytes (without their length prefixes). */
  columnBytes: number;
  /** chunkBytes are the chunks' bytes (without their length prefixes). */
  chunkBytes: number;
  /** sealedBytes is the whole value: envelope, payload framing, columns and chunks. */
  sealedBytes: number;
}

function columnHash(ts: Float64Array): string {
  let sum = 0;
  for (let i = 0; i < ts.length; i++) sum = (sum + (ts[i] as number)) % 4_294_967_291;
  return `${ts.length}:${ts[0]}:${ts[ts.length - 1]}:${sum}`;
}

function sameTimes(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * ChunkBlockEncoder writes chunk blocks; it keeps its chunk and column
 * encoders between blocks. sizes sums the parts of the last encode call.
 */
export class ChunkBlockEncoder {
  readonly #enc: SeriesEncoder;
  readonly #cols = new TimestampColumnEncoder();
  /** sizes splits the bytes of the last encode call, over all its parts (ChunkBlockSizes). */
  readonly sizes: ChunkBlockSizes = { columns: 0, columnBytes: 0, chunkBytes: 0, sealedBytes: 0 };

  constructor(enc: SeriesEncoder = new SeriesEncoder()) {
    this.#enc = enc;
  }

  /**
   * encode seals the blocks of `series` (sorted by id, all in `page`, each
   * with at least one sample) cut into chunks of chunkSamples samples: one
   * block, or several parts (in id order) when the encoded bytes pass
   * MetricStoreLimits.chunkBlockBytesTarget, each part with the columns its
   * series use. NB: one series whose run alone passes the target gets a part
   * of its own, which may still pass ShardDbLimits.valueBytesMax, as a
   * per-series chunk run of store format 1 could.
   */
  encode(page: number, series: readonly ChunkBlockSeries[], chunkSamples: number): Uint8Array[] {
    const P = MetricStoreLimits.chunkBlockSeries;
    assert(series.length >= 1 && series.length <= P, 'a chunk block holds 1 to chunkBlockSeries series');
    assert(Number.isSafeInteger(chunkSamples) && chunkSamples >= 1 && chunkSamples <= CodecLimits.chunkSamplesMax, 'chunkSamples in [1, chunkSamplesMax]');
    // Columns: one per distinct timestamp array (a run too long for a column keeps its own timestamps).
    const columns: Float64Array[] = [];
    const byHash = new Map<string, number[]>();
    const refs: number[] = [];
    for (const s of series) {
      assert(s.ts.length === s.vs.length && s.ts.length >= 1, 'a block series has samples');
      if (s.ts.length > CodecLimits.timestampColumnSamplesMax) {
        refs.push(-1);
        continue;
      }
      const h = columnHash(s.ts);
      let list = byHash.get(h);
      if (list === undefined) byHash.set(h, (list = []));
      let ref = list.find((c) => sameTimes(columns[c] as Float64Array, s.ts));
      if (ref === undefined) {
        ref = columns.length;
        columns.push(s.ts);
        list.push(ref);
      }
      refs.push(ref);
    }
    const columnBytes = columns.map((ts) => this.#cols.encode(ts, chunkSamples));
    const chunks: Uint8Array[][] = series.map((s, i) => {
      const external = refs[i] !== -1;
      const out: Uint8Array[] = [];
      for (let from = 0; from < s.ts.length; from += chunkSamples) {
        const to = Math.min(s.ts.length, from + chunkSamples);
        out.push(this.#enc.encodeChunk(s.ts.subarray(from, to), s.vs.subarray(from, to), external));
      }
      return out;
    });
    // Parts: series in id order, cut before the series that would take a part past the byte target.
    const sizes = this.sizes;
    sizes.columns = 0;
    sizes.columnBytes = 0;
    sizes.chunkBytes = 0;
    sizes.sealedBytes = 0;
    const parts: Uint8Array[] = [];
    let from = 0;
    let partBytes = 0;
    const used = new Set<number>();
    for (let i = 0; i <= series.length; i++) {
      let bytes = 0;
      if (i < series.length) {
        for (const c of chunks[i] as Uint8Array[]) bytes += c.length + 3;
        const ref = refs[i] as number;
        if (ref >= 0 && !used.has(ref)) bytes += (columnBytes[ref] as Uint8Array).length + 3;
      }
      if (i === series.length || (i > from && partBytes + bytes > MetricStoreLimits.chunkBlockBytesTarget)) {
        parts.push(this.#part(page, series, refs, columnBytes, chunks, from, i, chunkSamples));
        from = i;
        partBytes = 0;
        used.clear();
        if (i < series.length) {
          bytes = 0;
          for (const c of chunks[i] as Uint8Array[]) bytes += c.length + 3;
          if ((refs[i] as number) >= 0) bytes += (columnBytes[refs[i] as number] as Uint8Array).length + 3;
        }
      }
      partBytes += bytes;
      if (i < series.length && (refs[i] as number) >= 0) used.add(refs[i] as number);
    }
    assert(parts.length >= 1 && parts.length <= series.length, 'one to chunkBlockSeries parts');
    return parts;
  }

  /** #part seals series [from, to) with the columns they use, renumbered in order of first use. */
  #part(
    page: number,
    series: readonly ChunkBlockSeries[],
    refs: readonly number[],
    columnBytes: readonly Uint8Array[],
    chunks: readonly Uint8Array[][],
    from: number,
    to: number,
    chunkSamples: number,
  ): Uint8Array {
    const P = MetricStoreLimits.chunkBlockSeries;
    const local = new Map<number, number>();
    for (let i = from; i < to; i++) {
      const ref = refs[i] as number;
      if (ref >= 0 && !local.has(ref)) local.set(ref, local.size);
    }
    let bytes = 16;
    for (const ref of local.keys()) bytes += (columnBytes[ref] as Uint8Array).length + 8;
    for (let i = from; i < to; i++) for (const c of chunks[i] as Uint8Array[]) bytes += c.length + 8;
    bytes += 32 * (to - from);
    const w = new ByteWriter(bytes);
    w.u8(CHUNK_BLOCK_FORMAT);
    w.uvarint(local.size);
    for (const ref of local.keys()) {
      const c = columnBytes[ref] as Uint8Array;
      w.uvarint(c.length);
      w.raw(c);
      this.sizes.columnBytes += c.length;
    }
    w.uvarint(to - from);
    // Id runs, then column ref runs.
    const idRuns: number[] = [];
    let prev = page * P - 1;
    for (let i = from; i < to; i++) {
      const id = (series[i] as ChunkBlockSeries).id;
      assert(id > prev && id < (page + 1) * P, 'block series are sorted and inside the page');
      if (id === prev + 1 && idRuns.length > 0) idRuns[idRuns.length - 1] = (idRuns[idRuns.length - 1] as number) + 1;
      else idRuns.push(id - prev - 1, 1);
      prev = id;
    }
    const refRuns: number[] = [];
    let prevRef = -2;
    for (let i = from; i < to; i++) {
      const ref = refs[i] as number;
      const stored = ref < 0 ? 0 : (local.get(ref) as number) + 1;
      if (stored === prevRef) refRuns[refRuns.length - 1] = (refRuns[refRuns.length - 1] as number) + 1;
      else refRuns.push(stored, 1);
      prevRef = stored;
    }
    for (const runs of [idRuns, refRuns]) {
      w.uvarint(runs.length / 2);
      for (const x of runs) w.uvarint(x);
    }
    for (let i = from; i < to; i++) {
      const s = series[i] as ChunkBlockSeries;
      const ref = refs[i] as number;
      const list = chunks[i] as Uint8Array[];
      if (ref < 0) {
        w.uvarint(list.length);
        for (const c of list) {
          w.uvarint(c.length);
          w.raw(c);
          this.sizes.chunkBytes += c.length;
        }
      } else {
        assert(list.length === Math.ceil(s.ts.length / chunkSamples), 'a column series has one chunk per piece');
        for (const c of list) {
          assert(c[0] === CHUNK_FORMAT_VERSION && ((c[1] as number) & CHUNK_TIMESTAMPS_EXTERNAL) !== 0, 'a column series chunk has external timestamps');
          w.uvarint(c.length - 1);
          w.raw(c.subarray(1));
          this.sizes.chunkBytes += c.length - 1;
        }
      }
    }
    const sealed = sealBlock(BlockKind.metricChunkBlock, w.finish());
    this.sizes.columns += local.size;
    this.sizes.sealedBytes += sealed.length;
    return sealed;
  }
}

/** DecodedSeries is one series' samples read from a block. */
export interface DecodedSeries {
  readonly ts: Float64Array;
  readonly vs: Float64Array;
}

/**
 * OpenChunkBlock is a verified chunk block's layout (ChunkBlockDecoder.open):
 * the wanted series, in id order, with their sample counts and chunk bytes,
 * before any sample is decoded — so a reader sizes one column per series
 * over every block it reads and decodes each block straight into it
 * (ChunkBlockDecoder.decodeInto). It holds views of the block's bytes.
 */
export interface OpenChunkBlock {
  /** ids are the wanted series of the block, in id order; counts[k] is series ids[k]'s samples. */
  readonly ids: readonly number[];
  readonly counts: readonly number[];
  /**
   * bytes is the block's payload; series ids[k]'s stored chunks are
   * bytes[spans[2 j], spans[2 j + 1]) for j in [spanFrom[k], spanFrom[k + 1])
   * (offsets, not views: an open makes no object per chunk). refs[k] is its
   * column ref (0: none, r: column r − 1).
   */
  readonly bytes: Uint8Array;
  readonly spans: readonly number[];
  readonly spanFrom: readonly number[];
  readonly refs: readonly number[];
  readonly columnBytes: readonly Uint8Array[];
  readonly shapes: readonly TimestampColumnShape[];
  /** columns caches the decoded timestamp columns (null until a series of the column is decoded). */
  readonly columns: (Float64Array | null)[];
}

/**
 * ChunkBlockDecoder opens chunk blocks; it keeps its chunk iterator and
 * column decoder between blocks.
 */
export class ChunkBlockDecoder {
  readonly #it = new ChunkIterator();
  readonly #cols = new TimestampColumnDecoder();
  readonly #ids = new Uint32Array(MetricStoreLimits.chunkBlockSeries);
  readonly #refs = new Uint32Array(MetricStoreLimits.chunkBlockSeries);

  /**
   * decode verifies the block (envelope CRC, then every invariant in the file
   * comment) and returns the samples of the series in `wanted` (all when
   * null), by id. Throws ERR_CORRUPTION.
   */
  decode(bytes: Uint8Array, page: number, wanted: ReadonlySet<number> | null): Map<number, DecodedSeries> {
    const block = this.open(bytes, page, wanted);
    const out = new Map<number, DecodedSeries>();
    for (let k = 0; k < block.ids.length; k++) {
      const n = block.counts[k] as number;
      const ts = new Float64Array(n);
      const vs = new Float64Array(n);
      this.decodeInto(block, k, ts, vs, 0);
      out.set(block.ids[k] as number, { ts, vs });
    }
    return out;
  }

  /**
   * open verifies the block (envelope CRC, then every invariant in the file
   * comment that needs no sample decoded) and answers the layout of the
   * series in `wanted` (all when null). Throws ERR_CORRUPTION; decodeInto
   * checks the rest (chunk against column piece, increasing times).
   */
  open(bytes: Uint8Array, page: number, wanted: ReadonlySet<number> | null): OpenChunkBlock {
    if (bytes.length >= 4 && bytes[3] === BlockKind.metricChunk) {
      throw new OtlpdbError('ERR_CORRUPTION', 'metrics: a per-series chunk run of store format 1; this build reads chunk blocks (store format 2) only');
    }
    const P = MetricStoreLimits.chunkBlockSeries;
    const r = new ByteReader(openBlock(bytes, BlockKind.metricChunkBlock));
    const format = r.u8();
    if (format !== CHUNK_BLOCK_FORMAT) throw corrupt(`metrics chunk block of format ${format}, expected ${CHUNK_BLOCK_FORMAT}`);
    const nColumns = r.uvarint();
    if (nColumns > P) throw corrupt(`metrics chunk block of ${nColumns} timestamp columns`);
    const columnBytes: Uint8Array[] = [];
    const shapes: TimestampColumnShape[] = [];
    for (let c = 0; c < nColumns; c++) {
      const bytes = r.take(r.uvarint());
      columnBytes.push(bytes);
      shapes.push(timestampColumnShape(bytes));
    }
    const referenced = new Uint8Array(nColumns);
    const nSeries = r.uvarint();
    if (nSeries < 1 || nSeries > P) throw corrupt(`metrics chunk block of ${nSeries} series`);
    const ids = this.#ids.subarray(0, nSeries);
    const refs = this.#refs.subarray(0, nSeries);
    let next = page * P;
    let at = 0;
    for (let runs = r.uvarint(); runs > 0; runs--) {
      next += r.uvarint();
      const length = r.uvarint();
      if (length < 1 || length > nSeries - at) throw corrupt(`metrics chunk block: an id run of ${length} past ${nSeries} series`);
      if (next + length > (page + 1) * P) throw corrupt(`metrics chunk block: series ${next + length - 1} outside page ${page}`);
      for (let j = 0; j < length; j++) ids[at++] = next++;
    }
    if (at !== nSeries) throw corrupt(`metrics chunk block: id runs cover ${at} of ${nSeries} series`);
    at = 0;
    for (let runs = r.uvarint(); runs > 0; runs--) {
      const ref = r.uvarint();
      const length = r.uvarint();
      if (length < 1 || length > nSeries - at) throw corrupt(`metrics chunk block: a column ref run of ${length} past ${nSeries} series`);
      if (ref > nColumns) throw corrupt(`metrics chunk block: timestamp column ${ref - 1} of ${nColumns} named`);
      refs.fill(ref, at, at + length);
      at += length;
    }
    if (at !== nSeries) throw corrupt(`metrics chunk block: column ref runs cover ${at} of ${nSeries} series`);
    const payload = r.bytes;
    const block = { ids: [] as number[], counts: [] as number[], bytes: payload, spans: [] as number[], spanFrom: [0], refs: [] as number[], columnBytes, shapes, columns: columnBytes.map(() => null) };
    const spans = block.spans;
    const it = this.#it;
    for (let s = 0; s < nSeries; s++) {
      const id = ids[s] as number;
      const ref = refs[s] as number;
      let k: number;
      if (ref > 0) {
        referenced[ref - 1] = 1;
        const shape = shapes[ref - 1] as TimestampColumnShape;
        k = Math.ceil(shape.count / shape.pieceSamples);
      } else {
        k = r.uvarint();
      }
      if (k > r.remaining) throw corrupt(`metrics chunk block: series ${id} claims ${k} chunks`);
      if (wanted !== null && !wanted.has(id)) {
        for (let j = 0; j < k; j++) r.skip(r.uvarint());
        continue;
      }
      let n = 0;
      for (let j = 0; j < k; j++) {
        const len = r.uvarint();
        const start = r.skip(len);
        spans.push(start, start + len);
        if (ref === 0) {
          it.resetRange(payload, start, start + len, false);
          n += it.count;
        }
      }
      if (ref > 0) n = (shapes[ref - 1] as TimestampColumnShape).count;
      block.ids.push(id);
      block.counts.push(n);
      block.spanFrom.push(spans.length / 2);
      block.refs.push(ref);
    }
    if (r.remaining !== 0) throw corrupt('metrics chunk block: trailing bytes');
    for (let c = 0; c < nColumns; c++) if (referenced[c] === 0) throw corrupt(`metrics chunk block: timestamp column ${c} is not referenced`);
    return block;
  }

  /**
   * decodeInto decodes series block.ids[k]'s samples into ts and vs from
   * index `at` (block.counts[k] of them; the caller sized the columns) and
   * checks that its times strictly increase. `vsBits`, when given, is a
   * Uint32Array over vs's bytes (a caller decoding many blocks into one
   * column makes it once). `timesHeld` says that ts[at ..] holds the
   * series' times already — another series of the same column decoded
   * them into the same array (shared-times.ts) — so only the values are
   * decoded; it is ignored for a series without a column. It answers what
   * the chunks' headers prove about vs[at .. at + n) (value-facts.ts: the
   * chunks' facts joined, one compare at each seam). Throws ERR_CORRUPTION.
   */
  decodeInto(block: OpenChunkBlock, k: number, ts: Float64Array, vs: Float64Array, at: number, vsBits?: Uint32Array, timesHeld = false): number {
    const id = block.ids[k] as number;
    const n = block.counts[k] as number;
    const ref = block.refs[k] as number;
    assert(at >= 0 && at + n <= ts.length && ts.length === vs.length, 'decodeInto: the columns hold the series');
    const it = this.#it;
    const bits = vsBits ?? new Uint32Array(vs.buffer, vs.byteOffset, vs.length * 2);
    const bytes = block.bytes;
    const spans = block.spans;
    const to = block.spanFrom[k + 1] as number;
    let i = 0;
    // facts are vs[at .. at + i)'s (the first chunk's own, then each next one joined at its seam).
    let facts = 0;
    if (ref > 0) {
      // A column series: its times are the column's, copied once (not per chunk), and its chunks carry values only.
      let column = block.columns[ref - 1] ?? undefined;
      if (column === undefined) {
        column = this.#cols.decode(block.columnBytes[ref - 1] as Uint8Array);
        block.columns[ref - 1] = column;
      }
      if (column.length !== n) throw corrupt(`metrics chunk block: series ${id} has a column of ${column.length} times for ${n} samples`);
      if (!timesHeld) ts.set(column, at);
      const pieceSamples = (block.shapes[ref - 1] as TimestampColumnShape).pieceSamples;
      for (let j = block.spanFrom[k] as number; j < to; j++) {
        it.resetRange(bytes, spans[2 * j] as number, spans[2 * j + 1] as number, true, column, Math.min(i, n));
        const piece = Math.min(pieceSamples, n - i);
        if (it.count !== piece) throw corrupt(`metrics chunk block: series ${id} has a chunk of ${it.count} samples for a column piece of ${piece}`);
        const got = it.decodeInto(null, vs, bits, at + i);
        facts = i === 0 ? it.facts : joinFacts(facts, it.facts, vs, at + i, got);
        i += got;
      }
      if (i !== n) throw corrupt(`metrics chunk block: series ${id} has ${i} samples for ${n}`);
      // A series with a column holds exactly the column's times, which its decoder found strictly increasing.
      return facts;
    }
    for (let j = block.spanFrom[k] as number; j < to; j++) {
      it.resetRange(bytes, spans[2 * j] as number, spans[2 * j + 1] as number, false);
      if (it.count > n - i) throw corrupt(`metrics chunk block: series ${id} has more than ${n} samples`);
      const got = it.decodeInto(ts, vs, bits, at + i);
      facts = i === 0 ? it.facts : joinFacts(facts, it.facts, vs, at + i, got);
      i += got;
    }
    if (i !== n) throw corrupt(`metrics chunk block: series ${id} has ${i} samples for ${n}`);
    for (let j = at + 1; j < at + n; j++) if (!((ts[j] as number) > (ts[j - 1] as number))) throw corrupt(`metrics chunk block: series ${id} times do not increase`);
    return facts;
  }
}
