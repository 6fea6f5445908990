/**
 * compression-store.ts — the compression bench's store measure: a capture's
 * series through the real metrics store (MetricStore.add, one flush with
 * writeFrozen into a real LevelDB in a temporary directory, reads back with
 * MetricStore.select), counting the bytes of the values the store wrote under
 * the chunk key space 0x22: the chunk blocks of store format 2
 * (src/storage/metrics/chunk-block.ts) — block envelope (12 B), payload
 * framing, shared timestamp columns and value chunks. Keys are reported
 * apart (LevelDB prefix-compresses them; one per block of up to
 * chunkBlockSeries series), rollups and the series index are not counted, as
 * in the per-chunk measure.
 *
 * Every series is read back through the store and compared with the capture
 * bit for bit (timestamps and float64 patterns); a difference throws
 * ERR_CORRUPTION and aborts the run.
 *
 * Series map onto rows as an OTLP exporter would send them: one gauge point
 * per sample (double), the `otel_scope_name` label as the scope, the other
 * labels as point attributes, plus `bench_series` = the series' index so the
 * read-back can pair them; rows go in time order (one entry per scrape time),
 * so ids are given in order of first appearance, as on a real replica.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OtlpdbError, assert } from '../src/errors.js';
import { MetricStoreLimits } from '../src/limits.js';
import { initHash } from '../src/partition/hash.js';
import { BLOCK_HEADER_BYTES } from '../src/storage/block.js';
import { ByteReader, timestampColumnShape } from '../src/storage/codec/index.js';
import { MetricStore } from '../src/storage/metrics/metric-store.js';
import { MetricKeySpace } from '../src/storage/metrics/store-format.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import { newScanStats } from '../src/storage/shard/signal-store.js';
import type { MetricPointRow } from '../src/storage/rows.js';
import type { Series } from './compression-data/index.js';

/** StoreBlockFigures are the bytes the store wrote for a capture's float samples, split by part. */
export interface StoreBlockFigures {
  readonly chunkSamples: number;
  readonly series: number;
  readonly samples: number;
  /** blocks is the number of chunk block values (one per tenant, bucket and id page). */
  readonly blocks: number;
  /** columns is the number of shared timestamp columns over all blocks. */
  readonly columns: number;
  /** valueBytes is every byte of the chunk block values: the measure. */
  readonly valueBytes: number;
  readonly envelopeBytes: number;
  readonly columnBytes: number;
  /** chunkBytes are the value chunks (2-byte header and sample count included). */
  readonly chunkBytes: number;
  /** framingBytes are the rest of the payloads: format byte, counts, id deltas, column refs, length prefixes. */
  readonly framingBytes: number;
  /** keyBytes are the chunk block keys (not in valueBytes). */
  readonly keyBytes: number;
  readonly bytesPerSample: number;
}

const TENANT = 'bench';
const SCOPE_LABEL = 'otel_scope_name';

/** rowsOf turns series into gauge rows in time order (stable in series order for equal times). */
function rowsOf(series: readonly Series[]): MetricPointRow[] {
  const rows: { t: number; s: number; row: MetricPointRow }[] = [];
  series.forEach((s, index) => {
    const attributes = Object.entries(s.labels)
      .filter(([k]) => k !== SCOPE_LABEL)
      .map(([key, value]) => ({ key, value: { type: 'string' as const, value } }));
    attributes.push({ key: 'bench_series', value: { type: 'string', value: String(index) } });
    const scope = { name: s.labels[SCOPE_LABEL] ?? '', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
    const resource = { attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
    for (let i = 0; i < s.values.length; i++) {
      const t = s.timestampsMs[i] as number;
      rows.push({
        t,
        s: index,
        row: {
          tenant: TENANT,
          name: s.name,
          description: '',
          unit: '',
          data: { type: 'gauge', value: { type: 'double', value: s.values[i] as number } },
          attributes,
          startTimeUnixNano: 0n,
          timeUnixNano: BigInt(t) * 1_000_000n,
          flags: 0,
          exemplars: [],
          resource,
          scope,
        },
      });
    }
  });
  rows.sort((a, b) => a.t - b.t || a.s - b.s);
  return rows.map((r) => r.row);
}

/** splitBlock reads the part sizes of one chunk block value (layout in chunk-block.ts; the store already verified it on read). */
function splitBlock(value: Uint8Array): { columns: number; columnBytes: number; chunkBytes: number } {
  const r = new ByteReader(value.subarray(BLOCK_HEADER_BYTES));
  r.u8();
  const columns = r.uvarint();
  let columnBytes = 0;
  const chunksPerColumn: number[] = [];
  for (let c = 0; c < columns; c++) {
    const bytes = r.take(r.uvarint());
    columnBytes += bytes.length;
    const shape = timestampColumnShape(bytes);
    chunksPerColumn.push(Math.ceil(shape.count / shape.pieceSamples));
  }
  const nSeries = r.uvarint();
  for (let runs = r.uvarint(); runs > 0; runs--) {
    r.uvarint();
    r.uvarint();
  }
  const refs: number[] = [];
  for (let runs = r.uvarint(); runs > 0; runs--) {
    const ref = r.uvarint();
    for (let j = r.uvarint(); j > 0; j--) refs.push(ref);
  }
  assert(refs.length === nSeries, 'the column ref runs of a verified block cover its series');
  let chunkBytes = 0;
  for (let s = 0; s < nSeries; s++) {
    const ref = refs[s] as number;
    const k = ref === 0 ? r.uvarint() : (chunksPerColumn[ref - 1] as number);
    for (let j = 0; j < k; j++) chunkBytes += r.take(r.uvarint()).length;
  }
  assert(r.remaining === 0, 'a verified chunk block has no trailing bytes');
  return { columns, columnBytes, chunkBytes };
}

/**
 * measureStoreBlocks adds `series` to a fresh MetricStore (chunkSamples per
 * chunk), flushes once into a temporary LevelDB, reads every series back and
 * checks it bit for bit, and returns the chunk block bytes.
 */
export async function measureStoreBlocks(series: readonly Series[], chunkSamples: number): Promise<StoreBlockFigures> {
  assert(series.length >= 1, 'measureStoreBlocks: series to store');
  const hasher = await initHash();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-compression-'));
  const db = await ShardDb.open(dir);
  try {
    const store = new MetricStore({ hasher, seriesMax: series.length, chunkSamples });
    const rows = rowsOf(series);
    const added = store.add(TENANT, rows, 0);
    if (added.accepted !== rows.length) throw new OtlpdbError('ERR_INTERNAL', `compression bench: the store refused ${rows.length - added.accepted} of ${rows.length} rows`);
    store.freeze();
    const batch = new KvWriteBatch();
    await store.writeFrozen({ batch, kv: db, flushIndex: 1 });
    await db.write(batch);
    store.dropFrozen();

    let blocks = 0;
    let valueBytes = 0;
    let keyBytes = 0;
    let columns = 0;
    let columnBytes = 0;
    let chunkBytes = 0;
    for await (const page of db.pages({ gte: Uint8Array.of(MetricKeySpace.Chunks), lt: Uint8Array.of(MetricKeySpace.Chunks + 1) })) {
      for (const e of page) {
        blocks++;
        valueBytes += e.value.length;
        keyBytes += e.key.length;
        const parts = splitBlock(e.value);
        columns += parts.columns;
        columnBytes += parts.columnBytes;
        chunkBytes += parts.chunkBytes;
      }
    }

    // Read back through the store and compare bit for bit.
    const seen = new Set<number>();
    const matchers = [{ name: '__name__', op: '=~' as const, value: '.+' }];
    for await (const out of store.select(db, TENANT, matchers, 0, Infinity, { resolution: 'raw' }, newScanStats())) {
      for (const s of out) {
        if (s.kind !== 'samples') throw new OtlpdbError('ERR_INTERNAL', 'compression bench: a raw read returned rollups');
        const index = Number(s.labels.find((l) => l.name === 'bench_series')?.value);
        const want = series[index];
        if (want === undefined || seen.has(index)) throw new OtlpdbError('ERR_CORRUPTION', `compression bench: store read returned series ${index} again or unknown`);
        seen.add(index);
        verifySeries(want, s.timestamps, s.values, index);
      }
    }
    if (seen.size !== series.length) throw new OtlpdbError('ERR_CORRUPTION', `compression bench: the store read back ${seen.size} of ${series.length} series`);
    const samples = series.reduce((a, s) => a + s.values.length, 0);
    const envelopeBytes = blocks * BLOCK_HEADER_BYTES;
    return {
      chunkSamples,
      series: series.length,
      samples,
      blocks,
      columns,
      valueBytes,
      envelopeBytes,
      columnBytes,
      chunkBytes,
      framingBytes: valueBytes - envelopeBytes - columnBytes - chunkBytes,
      keyBytes,
      bytesPerSample: valueBytes / samples,
    };
  } finally {
    await db.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function verifySeries(want: Series, ts: Float64Array, vs: Float64Array, index: number): void {
  const fail = (what: string): OtlpdbError => new OtlpdbError('ERR_CORRUPTION', `compression bench: series ${index} (${want.name}) read back from the store: ${what}`);
  if (ts.length !== want.values.length) throw fail(`${ts.length} samples, want ${want.values.length}`);
  const a = new Uint32Array(want.values.buffer, want.values.byteOffset, want.values.length * 2);
  const b = new Uint32Array(vs.buffer, vs.byteOffset, vs.length * 2);
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] !== want.timestampsMs[i]) throw fail(`timestamp ${i} differs`);
    if (a[2 * i] !== b[2 * i] || a[2 * i + 1] !== b[2 * i + 1]) throw fail(`value ${i} bits differ`);
  }
}

/** formatStoreBlocks renders the store measure as lines under a workload's table. */
export function formatStoreBlocks(f: StoreBlockFigures): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  return [
    `store (chunk blocks of ${f.chunkSamples}-sample chunks, as MetricStore.writeFrozen wrote them to LevelDB and select read them back, bit for bit):`,
    `  ${n(f.blocks)} block(s) of <= ${MetricStoreLimits.chunkBlockSeries} series, ${n(f.columns)} shared timestamp column(s): ${n(f.valueBytes)} B = envelope ${n(f.envelopeBytes)} + framing ${n(f.framingBytes)} + columns ${n(f.columnBytes)} + chunks ${n(f.chunkBytes)} (keys ${n(f.keyBytes)} B, not counted)`,
    `  store B/sample: ${f.bytesPerSample.toFixed(3)}`,
  ].join('\n');
}
