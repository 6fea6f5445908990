/**
 * metric-store.ts — `node dist/bench/metric-store.js [--hosts 100] [--metrics 50] [--samples 360] [--json]`:
 * the metrics store of one shard replica (src/storage/metrics/metric-store.ts)
 * on TSBS-devops-shaped data (bench/compression-data): hosts × metrics
 * gauges, one sample per series every 10 s, applied time-major in entries of
 * one scrape (every series at t), then one flush into a real LevelDB.
 *
 * Figures: samples/s through MetricStore.add (OTLP rows to series lookups,
 * rules and head columns; the row objects are built outside the timed part):
 * without and with the identity memo over the first 36 entries (the series
 * are created in the first), and with it over every entry;
 * and the flush's FlushReport: dataBytes, indexBytes and their ratio, with
 * the data bytes split into chunks and rollups (keys and values). Timing
 * never gates anything.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { initHash } from '../src/partition/hash.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import type { KeyValue, MetricPointRow, Resource, Scope } from '../src/storage/rows.js';
import { MetricStore } from '../src/storage/metrics/metric-store.js';
import { MetricKeySpace } from '../src/storage/metrics/store-format.js';
import { tsbsDevopsSeriesAt } from './compression-data/index.js';
import { positiveIntArg } from './cli-args.js';

const HOSTS = positiveIntArg('hosts', 100);
const METRICS = positiveIntArg('metrics', 50);
const SAMPLES = positiveIntArg('samples', 360);
const JSON_OUT = process.argv.includes('--json');
const INTERVAL_MS = 10_000;
const START_MS = 1_700_000_000_000;
const HOST_TAGS = new Set(['hostname', 'region', 'datacenter', 'rack', 'os', 'arch', 'team', 'service', 'service_version', 'service_environment']);

interface BenchSeries {
  readonly name: string;
  readonly attributes: readonly KeyValue[];
  readonly resource: Resource;
  readonly values: Float64Array;
}

function buildSeries(): BenchSeries[] {
  const opts = { seed: 1, hosts: HOSTS, metricsPerHost: METRICS, intervalMs: INTERVAL_MS, durationMs: SAMPLES * INTERVAL_MS, startMs: START_MS };
  const out: BenchSeries[] = [];
  for (let h = 0; h < HOSTS; h++) {
    let resource: Resource | null = null;
    for (let m = 0; m < METRICS; m++) {
      const s = tsbsDevopsSeriesAt(opts, h, m);
      const kv = (k: string): KeyValue => ({ key: k === 'hostname' ? 'host.name' : k, value: { type: 'string', value: s.labels[k] as string } });
      resource ??= { attributes: Object.keys(s.labels).filter((k) => HOST_TAGS.has(k)).map(kv), droppedAttributesCount: 0, schemaUrl: '' };
      out.push({ name: s.name, attributes: Object.keys(s.labels).filter((k) => !HOST_TAGS.has(k)).map(kv), resource, values: s.values });
    }
  }
  return out;
}

const scope: Scope = { name: 'tsbs', version: '1', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };

function entryAt(series: readonly BenchSeries[], i: number): MetricPointRow[] {
  const tNs = BigInt(START_MS + i * INTERVAL_MS) * 1_000_000n;
  return series.map((s) => ({
    tenant: 'bench',
    name: s.name,
    description: '',
    unit: '',
    data: { type: 'gauge', value: { type: 'double', value: s.values[i] as number } },
    attributes: s.attributes,
    startTimeUnixNano: 0n,
    timeUnixNano: tNs,
    flags: 0,
    exemplars: [],
    resource: s.resource,
    scope,
  }));
}

/** applyAll adds every entry to a new store and returns it with the samples/s of add(). */
function applyAll(series: readonly BenchSeries[], identityMemo: boolean, entries: number): { store: MetricStore; samples: number; perSec: number } {
  const store = new MetricStore({ hasher, identityMemo });
  let addMs = 0;
  let samples = 0;
  for (let i = 0; i < entries; i++) {
    const rows = entryAt(series, i);
    const t0 = performance.now();
    const res = store.add('bench', rows, 0);
    addMs += performance.now() - t0;
    if (res.refused !== 0) throw new Error(`refused ${res.refused}: ${res.refusals[0]?.reason ?? ''}`);
    samples += rows.length;
  }
  return { store, samples, perSec: Math.round(samples / (addMs / 1000)) };
}

const hasher = await initHash();

async function main(): Promise<void> {
  const series = buildSeries();
  // Before: every row through label rendering and the registry (no memo), on a prefix of the entries (it is slow).
  const prefix = Math.min(SAMPLES, 36);
  const before = applyAll(series, false, prefix);
  const afterPrefix = applyAll(series, true, prefix);
  const { store, samples, perSec } = applyAll(series, true, SAMPLES);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-metric-store-'));
  const db = await ShardDb.open(dir);
  try {
    store.freeze();
    const batch = new KvWriteBatch();
    const t0 = performance.now();
    const report = await store.writeFrozen({ batch, kv: db, flushIndex: 1 });
    const encodeMs = performance.now() - t0;
    await db.write(batch);
    store.dropFrozen();
    const bySpace = new Map<number, number>();
    for (const op of batch.ops) bySpace.set(op.key[0] as number, (bySpace.get(op.key[0] as number) ?? 0) + op.key.length + (op.value?.length ?? 0));
    const chunkBytes = bySpace.get(MetricKeySpace.Chunks) ?? 0;
    const rollupBytes = bySpace.get(MetricKeySpace.Rollups) ?? 0;
    const figures = {
      series: series.length,
      samples,
      prefixEntries: prefix,
      addSamplesPerSecNoMemoPrefix: before.perSec,
      addSamplesPerSecMemoPrefix: afterPrefix.perSec,
      addSamplesPerSec: perSec,
      flushEncodeMs: Math.round(encodeMs),
      dataBytes: report.dataBytes,
      indexBytes: report.indexBytes,
      indexToData: report.indexBytes / report.dataBytes,
      chunkBytes,
      rollupBytes,
      indexToChunks: report.indexBytes / chunkBytes,
      chunkBytesPerSample: chunkBytes / samples,
      seriesTableBytes: bySpace.get(MetricKeySpace.Series) ?? 0,
      lastTBytes: bySpace.get(MetricKeySpace.LastT) ?? 0,
    };
    if (JSON_OUT) console.log(JSON.stringify(figures));
    else for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(22)} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v}`);
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
