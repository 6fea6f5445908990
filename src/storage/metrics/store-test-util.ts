/**
 * store-test-util.ts — helpers of the metrics store tests: a row builder, a
 * flush driver (freeze, writeFrozen, ShardDb.write, dropFrozen with an
 * increasing flushIndex), a naive reference model of the store's rules
 * (last write wins, out-of-order refused, seriesMax), read collectors and a
 * differential checker that names the first difference.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvWriteBatch, ShardDb } from '../shard/shard-db.js';
import type { AddResult, FlushReport } from '../shard/signal-store.js';
import { newScanStats } from '../shard/signal-store.js';
import type { Exemplar, KeyValue, MetricData, MetricPointRow } from '../rows.js';
import type { Matcher } from './label-index.js';
import type { MetricStore } from './metric-store.js';
import { seriesLabels, timestampMs } from './series-identity.js';
import type { RollupPoint } from './rollup.js';
import type { RecordRollupPoint } from './record-rollup.js';
import type { RecordPoint } from './store-format.js';

/** RowSpec is the few fields a test varies in a metric point. */
export interface RowSpec {
  readonly name: string;
  readonly host: string;
  readonly tMs: number;
  readonly data: MetricData;
  readonly exemplars?: readonly Exemplar[];
  readonly extraAttr?: string;
}

/** row builds a MetricPointRow of tenant `tenant` (resource host.name, one point attribute). */
export function row(tenant: string, s: RowSpec): MetricPointRow {
  return {
    tenant,
    name: s.name,
    description: '',
    unit: '1',
    data: s.data,
    attributes: [{ key: 'cpu', value: { type: 'string', value: s.extraAttr ?? 'total' } }],
    startTimeUnixNano: 0n,
    timeUnixNano: BigInt(s.tMs) * 1_000_000n + 123n,
    flags: 0,
    exemplars: s.exemplars ?? [],
    resource: { attributes: [{ key: 'host.name', value: { type: 'string', value: s.host } }], droppedAttributesCount: 0, schemaUrl: '' },
    scope: { name: 'test-scope', version: '1.0', attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
  };
}

/** stringKv is a string-valued attribute. */
export function stringKv(key: string, value: string): KeyValue {
  return { key, value: { type: 'string', value } };
}

/** PointRowOptions are the optional parts of testPointRow's row. */
export interface PointRowOptions {
  readonly unit?: string;
  readonly description?: string;
  /** resource is the resource's attributes (default: service.name=api). */
  readonly resource?: KeyValue[];
  /** scope is the instrumentation scope's name (default: lib). */
  readonly scope?: string;
}

/** testPointRow builds a MetricPointRow of tenant `t` with the given point attributes, for query tests that vary resource, unit and description. */
export function testPointRow(name: string, data: MetricData, attrs: KeyValue[], tMs: number, o: PointRowOptions = {}): MetricPointRow {
  return {
    tenant: 't',
    name,
    description: o.description ?? '',
    unit: o.unit ?? '',
    data,
    attributes: attrs,
    startTimeUnixNano: 0n,
    timeUnixNano: BigInt(tMs) * 1_000_000n,
    flags: 0,
    exemplars: [],
    resource: { attributes: o.resource ?? [stringKv('service.name', 'api')], droppedAttributesCount: 0, schemaUrl: '' },
    scope: { name: o.scope ?? 'lib', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
  };
}

/** gauge is a gauge's data. */
export function gauge(v: number): MetricData {
  return { type: 'gauge', value: { type: 'double', value: v } };
}

/** TempDb is a ShardDb in a fresh temporary directory. */
export interface TempDb {
  db: ShardDb;
  readonly dir: string;
}

/** openTempDb opens a ShardDb in a new directory under os.tmpdir(). */
export async function openTempDb(): Promise<TempDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-metric-store-'));
  return { db: await ShardDb.open(dir), dir };
}

/** removeTempDb closes the db and removes its directory. */
export async function removeTempDb(t: TempDb): Promise<void> {
  await t.db.close().catch(() => undefined);
  fs.rmSync(t.dir, { recursive: true, force: true });
}

/** Flusher drives flushes of one store into one db, with an increasing flushIndex. */
export class Flusher {
  flushIndex = 0;
  constructor(
    readonly store: MetricStore,
    public db: ShardDb,
  ) {}

  async flush(): Promise<FlushReport> {
    this.flushIndex += 1 + (this.flushIndex % 3);
    this.store.freeze();
    const batch = new KvWriteBatch();
    const report = await this.store.writeFrozen({ batch, kv: this.db, flushIndex: this.flushIndex });
    await this.db.write(batch);
    this.store.dropFrozen();
    return report;
  }
}

/** seriesKeyOf is a test's identity of a row's series: name and sorted labels as JSON. */
export function seriesKeyOf(r: MetricPointRow): string {
  const labels = seriesLabels(r)
    .filter((l) => l.value !== '')
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return JSON.stringify([r.name, labels.map((l) => [l.name, l.value])]);
}

/** keyOfLabels is seriesKeyOf for a read's name and labels. */
export function keyOfLabels(name: string, labels: readonly { name: string; value: string }[]): string {
  return JSON.stringify([name, labels.map((l) => [l.name, l.value])]);
}

/** NaiveMetrics is the obvious model of the store: per series a map t → last value written. */
export class NaiveMetrics {
  readonly series = new Map<string, { lastT: number; points: Map<number, MetricData> }>();
  constructor(readonly seriesMax: number) {}

  /** add applies rows and returns what the store must answer (codes only; reasons are the store's). */
  add(rows: readonly MetricPointRow[]): { accepted: number; refused: number; codes: string[] } {
    const codes: string[] = [];
    let refused = 0;
    for (const r of rows) {
      const k = seriesKeyOf(r);
      const t = timestampMs(r.timeUnixNano);
      let s = this.series.get(k);
      if (s === undefined) {
        if (this.series.size >= this.seriesMax) {
          refused++;
          codes.push('ERR_LIMIT_EXCEEDED');
          continue;
        }
        this.series.set(k, (s = { lastT: -Infinity, points: new Map() }));
      }
      if (t < s.lastT) {
        refused++;
        codes.push('ERR_INVALID_ARGUMENT');
        continue;
      }
      s.lastT = t;
      s.points.set(t, r.data);
    }
    return { accepted: rows.length - refused, refused, codes };
  }

  /** floats is every float series' samples in [minMs, maxMs], sorted, by series key. */
  floats(minMs: number, maxMs: number): Map<string, [number, number][]> {
    const out = new Map<string, [number, number][]>();
    for (const [k, s] of this.series) {
      const pts: [number, number][] = [];
      for (const [t, d] of s.points) {
        if (t < minMs || t > maxMs) continue;
        if (d.type !== 'gauge' && d.type !== 'sum') continue;
        pts.push([t, d.value.type === 'double' ? d.value.value : Number(d.value.value)]);
      }
      if (pts.length === 0) continue;
      out.set(
        k,
        pts.sort((a, b) => a[0] - b[0]),
      );
    }
    return out;
  }

  /** rollups is every float series' naive aggregation per window whose start is in [floor(minMs/W)W, maxMs]. */
  rollups(minMs: number, maxMs: number, windowMs: number): Map<string, RollupPoint[]> {
    const from = Math.floor(minMs / windowMs) * windowMs;
    const out = new Map<string, RollupPoint[]>();
    for (const [k, pts] of this.floats(from, Infinity)) {
      const byWindow = new Map<number, [number, number][]>();
      for (const p of pts) {
        const w = Math.floor(p[0] / windowMs) * windowMs;
        if (w > maxMs) continue;
        const list = byWindow.get(w) ?? [];
        list.push(p);
        byWindow.set(w, list);
      }
      if (byWindow.size === 0) continue;
      const points: RollupPoint[] = [...byWindow.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([w, list]) => {
          const vs = list.map((p) => p[1]);
          const last = list[list.length - 1] as [number, number];
          return { startMs: w, min: Math.min(...vs), max: Math.max(...vs), sum: vs.reduce((a, b) => a + b, 0), count: vs.length, last: last[1], lastT: last[0] };
        });
      out.set(k, points);
    }
    return out;
  }

  /**
   * recordRollups is every histogram/summary series' naive aggregation per
   * window: points, count, sum, and bucket sums while every point of the
   * window has the same bounds (mixed otherwise).
   */
  recordRollups(minMs: number, maxMs: number, windowMs: number): Map<string, RecordRollupPoint[]> {
    const from = Math.floor(minMs / windowMs) * windowMs;
    const out = new Map<string, RecordRollupPoint[]>();
    for (const [k, pts] of this.records(from, Infinity)) {
      const byWindow = new Map<number, { t: number; data: MetricData }[]>();
      for (const p of pts) {
        const w = Math.floor(p.t / windowMs) * windowMs;
        if (w > maxMs) continue;
        byWindow.set(w, [...(byWindow.get(w) ?? []), p]);
      }
      if (byWindow.size === 0) continue;
      const points = [...byWindow.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([w, list]): RecordRollupPoint => {
          let count = 0;
          let sum = 0;
          const layouts = new Set<string>();
          let buckets: number[] | null = null;
          let bounds: number[] | null = null;
          for (const { data } of list) {
            if (data.type === 'gauge' || data.type === 'sum') throw new Error('not a record');
            count += data.count;
            sum += data.sum ?? 0;
            if (data.type === 'histogram') {
              layouts.add(JSON.stringify(data.bounds));
              bounds = data.bounds.slice();
              buckets = buckets === null ? data.bucketCounts.slice() : buckets.map((c, i) => c + (data.bucketCounts[i] ?? NaN));
            }
          }
          const mixed = layouts.size > 1;
          return { startMs: w, lastT: (list[list.length - 1] as { t: number }).t, points: list.length, count, sum, bounds: mixed ? null : bounds, buckets: mixed ? null : buckets, mixed };
        });
      out.set(k, points);
    }
    return out;
  }

  /** records is every histogram/summary series' points in [minMs, maxMs], sorted, by series key. */
  records(minMs: number, maxMs: number): Map<string, { t: number; data: MetricData }[]> {
    const out = new Map<string, { t: number; data: MetricData }[]>();
    for (const [k, s] of this.series) {
      const pts = [...s.points]
        .filter(([t, d]) => t >= minMs && t <= maxMs && d.type !== 'gauge' && d.type !== 'sum')
        .sort((a, b) => a[0] - b[0])
        .map(([t, data]) => ({ t, data }));
      if (pts.length > 0) out.set(k, pts);
    }
    return out;
  }
}

/** readFloats collects a raw select into series key → [t, v][]. */
export async function readFloats(store: MetricStore, db: ShardDb, tenant: string, matchers: readonly Matcher[], minMs: number, maxMs: number): Promise<Map<string, [number, number][]>> {
  const out = new Map<string, [number, number][]>();
  for await (const batch of store.select(db, tenant, matchers, minMs, maxMs, { resolution: 'raw' }, newScanStats())) {
    for (const s of batch) {
      if (s.kind !== 'samples') throw new Error('raw select returned rollups');
      // A series may come in several batches (time slices), in time order.
      const k = keyOfLabels(s.name, s.labels);
      out.set(k, [...(out.get(k) ?? []), ...Array.from(s.timestamps, (t, i): [number, number] => [t, s.values[i] as number])]);
    }
  }
  return out;
}

/** readRollups collects a rollup select into series key → points. */
export async function readRollups(
  store: MetricStore,
  db: ShardDb,
  tenant: string,
  matchers: readonly Matcher[],
  minMs: number,
  maxMs: number,
  resolution: '5m' | '1h',
): Promise<Map<string, RollupPoint[]>> {
  const out = new Map<string, RollupPoint[]>();
  for await (const batch of store.select(db, tenant, matchers, minMs, maxMs, { resolution }, newScanStats())) {
    for (const s of batch) {
      if (s.kind !== 'rollups') throw new Error('rollup select returned samples');
      const k = keyOfLabels(s.name, s.labels);
      out.set(k, [...(out.get(k) ?? []), ...s.points]);
    }
  }
  return out;
}

/** readRecords collects a record select into series key → points. */
export async function readRecords(store: MetricStore, db: ShardDb, tenant: string, matchers: readonly Matcher[], minMs: number, maxMs: number): Promise<Map<string, RecordPoint[]>> {
  const out = new Map<string, RecordPoint[]>();
  for await (const batch of store.selectRecords(db, tenant, matchers, minMs, maxMs, newScanStats())) {
    for (const s of batch) {
      if (s.points.length === 0) continue;
      const k = keyOfLabels(s.name, s.labels);
      out.set(k, [...(out.get(k) ?? []), ...s.points]);
    }
  }
  return out;
}

/** readRecordRollups collects a record rollup select into series key → points. */
export async function readRecordRollups(
  store: MetricStore,
  db: ShardDb,
  tenant: string,
  matchers: readonly Matcher[],
  minMs: number,
  maxMs: number,
  resolution: '5m' | '1h',
): Promise<Map<string, RecordRollupPoint[]>> {
  const out = new Map<string, RecordRollupPoint[]>();
  for await (const batch of store.selectRecordRollups(db, tenant, matchers, minMs, maxMs, resolution, newScanStats())) {
    for (const s of batch) {
      const k = keyOfLabels(s.name, s.labels);
      out.set(k, [...(out.get(k) ?? []), ...s.points]);
    }
  }
  return out;
}

/** diff names the first difference between two JSON-able values (null when equal). */
export function diff(expected: unknown, actual: unknown, where = '$'): string | null {
  if (expected instanceof Map && actual instanceof Map) {
    const keys = [...new Set([...expected.keys(), ...actual.keys()])].sort();
    for (const k of keys) {
      if (!expected.has(k)) return `${where}: unexpected ${String(k)}`;
      if (!actual.has(k)) return `${where}: missing ${String(k)}`;
      const d = diff(expected.get(k), actual.get(k), `${where}[${String(k)}]`);
      if (d !== null) return d;
    }
    return null;
  }
  const a = JSON.stringify(expected, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  const b = JSON.stringify(actual, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return a === b ? null : `${where}: expected ${a.slice(0, 300)} got ${b.slice(0, 300)}`;
}

/** addSummary is an AddResult without reasons (the model predicts codes, not wording). */
export function addSummary(r: AddResult): { accepted: number; refused: number; codes: string[] } {
  return { accepted: r.accepted, refused: r.refused, codes: r.refusals.map((x) => x.code) };
}
