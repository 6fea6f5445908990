/**
 * metrics-rollup-read.test.ts — coarse steps read rollups, end to end in
 * process: a real MetricStore (part flushed, so rollup partials on disk;
 * part still in the head) read by the PromQL engine through a shard's
 * ShardSeriesSource, against (a) rollup-eval.ts's reference (rollupRangeValue
 * over the raw samples rolled up by the store's own code) and (b) raw
 * answers (the same samples in a MemorySeriesSource, max_source_resolution=raw).
 * Planted bugs: a shard that ignores the resolution, and one that answers
 * the wrong aggregate, must both be caught. Seeded data (SEED).
 */
import t from 'tap';
import { initHash } from '../partition/hash.js';
import { MetricStore } from '../storage/metrics/metric-store.js';
import { ROLLUP_WINDOW_MS, partialsOf, pointOf } from '../storage/metrics/rollup.js';
import { Flusher, type TempDb, openTempDb, removeTempDb, stringKv, testPointRow } from '../storage/metrics/store-test-util.js';
import type { KeyValue, MetricData, MetricPointRow } from '../storage/rows.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { PromView } from './metrics-prom-view.js';
import { ShardSeriesSource, evalOnShard, readShardSeries } from './metrics-shard-read.js';
import { promqlEngine } from './promql/engine.js';
import { MemorySeriesSource } from './promql/memory-source.js';
import type { MaxSourceResolution } from './promql/rollup-eval.js';
import { chooseRollup, rollupRangeValue } from './promql/rollup-eval.js';
import type { EvalRange, FloatSeries, PromResult, SelectRequest, SeriesSource } from './promql/source.js';

const SEED = 20261128;
const H = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % H); // an hour boundary
const HOURS = 6;
const kv = stringKv;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function row(name: string, data: MetricData, attrs: KeyValue[], tMs: number): MetricPointRow {
  return testPointRow(name, data, attrs, tMs);
}

function rowsOf(seed: number): MetricPointRow[] {
  const r = rng(seed);
  const out: MetricPointRow[] = [];
  const g = [100, 200, 300];
  const c = [0, 0];
  for (let t = T0 + 7_000; t < T0 + HOURS * H; t += 15_000) {
    for (let i = 0; i < g.length; i++) {
      g[i] = (g[i] as number) + (r() - 0.5) * 10;
      if (r() < 0.03) continue;
      out.push(row('g', { type: 'gauge', value: { type: 'double', value: g[i] as number } }, [kv('i', String(i))], t));
    }
    for (let i = 0; i < c.length; i++) {
      c[i] = (c[i] as number) + r() * 5;
      if (r() < 0.03) continue;
      out.push(row('c', { type: 'sum', temporality: 2, monotonic: true, value: { type: 'double', value: c[i] as number } }, [kv('i', String(i))], t));
    }
  }
  return out.sort((a, b) => Number(a.timeUnixNano - b.timeUnixNano));
}

/** StripRollup is a planted bug: a shard source that ignores the resolution (reads raw for every select). */
class StripRollup implements SeriesSource {
  constructor(readonly inner: SeriesSource) {}
  get stats(): SeriesSource['stats'] {
    return this.inner.stats;
  }
  select(req: SelectRequest, signal: AbortSignal): Promise<readonly FloatSeries[]> {
    return this.inner.select({ matchers: req.matchers, startMs: req.startMs, endMs: req.endMs, stepMs: req.stepMs }, signal);
  }
}

/** WrongAggregate is a planted bug: a shard source that answers `max` where `min` was asked. */
class WrongAggregate implements SeriesSource {
  constructor(readonly inner: SeriesSource) {}
  get stats(): SeriesSource['stats'] {
    return this.inner.stats;
  }
  select(req: SelectRequest, signal: AbortSignal): Promise<readonly FloatSeries[]> {
    const r = req.rollup;
    return this.inner.select(r === undefined || r.aggregate !== 'min' ? req : { ...req, rollup: { ...r, aggregate: 'max' } }, signal);
  }
}

const key = (s: FloatSeries): string => s.labels.filter((l) => l.name !== '__name__').map((l) => `${l.name}=${l.value}`).join(',');

function matrixOf(r: PromResult): Map<string, Map<number, number>> {
  if (r.kind !== 'matrix') throw new Error(`expected a matrix, got ${r.kind}`);
  return new Map(r.series.map((s) => [key(s), new Map([...s.timestampsMs].map((t, i) => [t, s.values[i] as number]))]));
}

/** diff is the first disagreement of two matrices beyond a relative tolerance, or null. */
function diff(a: Map<string, Map<number, number>>, b: Map<string, Map<number, number>>, tol: number): string | null {
  if (a.size !== b.size) return `${a.size} series vs ${b.size}`;
  for (const [k, pa] of a) {
    const pb = b.get(k);
    if (pb === undefined) return `series ${k} missing`;
    if (pa.size !== pb.size) return `series ${k}: ${pa.size} points vs ${pb.size}`;
    for (const [ts, va] of pa) {
      const vb = pb.get(ts);
      if (vb === undefined || Math.abs(va - vb) > tol * Math.max(1, Math.abs(vb))) return `series ${k} at ${ts}: ${va} vs ${vb}`;
    }
  }
  return null;
}

/** reference answers a range function per rollup-eval.ts: rollupRangeValue over the raw samples rolled up with the store's code. */
function reference(raw: readonly FloatSeries[], metric: string, func: string, rangeMs: number, range: EvalRange, res: '5m' | '1h'): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const s of raw) {
    if (s.labels.find((l) => l.name === '__name__')?.value !== metric) continue;
    const pts = partialsOf(s.timestampsMs, s.values, s.values.length, ROLLUP_WINDOW_MS[res]).map(pointOf);
    const m = new Map<number, number>();
    for (let t = range.startMs; t <= range.endMs; t += range.stepMs) {
      const v = rollupRangeValue(func, pts, t - rangeMs, t);
      if (v !== null) m.set(t, v);
    }
    if (m.size > 0) out.set(key(s), m);
  }
  return out;
}

t.test('coarse steps read rollups: equal to the rollup-eval reference, to raw on boundaries; planted bugs caught', async (t) => {
  const hasher = await initHash();
  const tmp: TempDb = await openTempDb();
  t.teardown(() => removeTempDb(tmp));
  const store = new MetricStore({ hasher });
  const rows = rowsOf(SEED);
  const cut = Math.floor((rows.length * 2) / 3);
  store.add('t', rows.slice(0, cut), 0);
  await new Flusher(store, tmp.db).flush(); // rollup partials on disk
  store.add('t', rows.slice(cut), 0); // the rest stays in the head
  const ctx = { shard: 1, store, kv: tmp.db, tenant: 't', view: new PromView({ promoteResourceAttributes: [] }), stats: newScanStats() };
  const budget = { seriesMax: 1000, samplesMax: 10_000_000 };
  const raw = (await readShardSeries(ctx, [{ name: '__name__', op: '=~', value: 'g|c_total' }], T0 - H, T0 + (HOURS + 1) * H, budget, true)).series;
  t.equal(raw.length, 5, `5 series (seed ${SEED})`);
  const signal = new AbortController().signal;
  const run = (q: string, range: EvalRange, src: SeriesSource, max: MaxSourceResolution): Promise<PromResult> =>
    promqlEngine.evaluate(q, range, src, { lookbackMs: 300_000, signal, maxSourceResolution: max });
  const shard = (): ShardSeriesSource => new ShardSeriesSource(ctx, budget);
  const mem = (): MemorySeriesSource => new MemorySeriesSource(raw);

  const onBoundary: EvalRange = { startMs: T0 + H, endMs: T0 + HOURS * H, stepMs: H };
  const offBoundary: EvalRange = { startMs: T0 + H + 150_000, endMs: T0 + (HOURS - 1) * H + 150_000, stepMs: H };
  const funcs = ['min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'avg_over_time', 'last_over_time'];
  let offDiffers = 0;
  for (const f of funcs) {
    const q = `${f}(g[1h])`;
    t.equal(chooseRollup(f, H, H, 'auto'), '1h');
    const src = shard();
    const got = matrixOf(await run(q, onBoundary, src, 'auto'));
    t.ok(src.stats.rollupPointsRead > 0, `${q}: read rollup points (${src.stats.rollupPointsRead})`);
    t.equal(diff(got, reference(raw, 'g', f, H, onBoundary, '1h'), 1e-9), null, `${q} on 1h boundaries equals the rollup-eval reference`);
    t.equal(diff(got, matrixOf(await run(q, onBoundary, mem(), 'raw')), 1e-9), null, `${q} on boundaries equals raw (README: equal)`);
    const off = matrixOf(await run(q, offBoundary, shard(), 'auto'));
    t.equal(diff(off, reference(raw, 'g', f, H, offBoundary, '1h'), 1e-9), null, `${q} off boundaries equals the rollup-eval reference`);
    if (diff(off, matrixOf(await run(q, offBoundary, mem(), 'raw')), 1e-9) !== null) offDiffers++;
    const five = matrixOf(await run(q, offBoundary, shard(), '5m'));
    t.equal(diff(five, reference(raw, 'g', f, H, offBoundary, '5m'), 1e-9), null, `${q} with max_source_resolution=5m equals the 5m reference`);
  }
  t.ok(offDiffers > 0, `off window boundaries rollups differ from raw as documented (${offDiffers} functions)`);

  // Plain selectors at a 1h step read the 5m windows' lasts on request (never under auto): equal to raw on boundaries.
  const selSrc = shard();
  t.equal(diff(matrixOf(await run('g', onBoundary, selSrc, '1h')), matrixOf(await run('g', onBoundary, mem(), 'raw')), 0), null, 'a plain selector on boundaries equals raw');
  t.ok(selSrc.stats.rollupPointsRead > 0, 'the selector read rollups');
  const selAuto = shard();
  await run('g', onBoundary, selAuto, 'auto');
  t.equal(selAuto.stats.rollupPointsRead, 0, 'a plain selector reads raw under auto');

  // rate from 5m rollups on request: the reference exactly, raw within the documented bound (counters without resets).
  const rateQ = 'rate(c_total[1h])';
  const rate5 = matrixOf(await run(rateQ, onBoundary, shard(), '5m'));
  t.equal(diff(rate5, reference(raw, 'c_total', 'rate', H, onBoundary, '5m'), 1e-9), null, 'rate from 5m rollups equals the reference');
  t.equal(diff(rate5, matrixOf(await run(rateQ, onBoundary, mem(), 'raw')), 0.037), null, 'rate from 5m rollups within 3.7 % of raw');
  const rateAuto = shard();
  await run(rateQ, onBoundary, rateAuto, 'auto');
  t.equal(rateAuto.stats.rollupPointsRead, 0, 'rate never reads rollups under auto');

  // max_source_resolution=raw: exactly raw, no rollup point read.
  for (const q of ['sum_over_time(g[1h])', 'avg_over_time(g[1h])', 'g']) {
    const src = shard();
    const got = matrixOf(await run(q, offBoundary, src, 'raw'));
    t.equal(diff(got, matrixOf(await run(q, offBoundary, mem(), 'raw')), 0), null, `${q} with max_source_resolution=raw equals raw exactly`);
    t.equal(src.stats.rollupPointsRead, 0, `${q}: raw reads no rollup point`);
  }

  // Steps under 5m (the oracle's 1m and 37 s) never read rollups under auto.
  for (const stepMs of [60_000, 37_000]) {
    const src = shard();
    const range = { startMs: T0 + H, endMs: T0 + 2 * H, stepMs };
    const got = matrixOf(await run('sum_over_time(g[1h])', range, src, 'auto'));
    t.equal(src.stats.rollupPointsRead, 0, `step ${stepMs} ms reads raw under auto`);
    t.equal(diff(got, matrixOf(await run('sum_over_time(g[1h])', range, mem(), 'raw')), 0), null, `step ${stepMs} ms equals raw exactly`);
  }

  // A pushed-down part on a shard (evalOnShard, what shard.metricsRead 'eval' runs) honours the query's max_source_resolution.
  const shardPart = async (max: MaxSourceResolution): Promise<Map<string, Map<number, number>>> => {
    const r = await evalOnShard(promqlEngine, ctx, { expr: 'sum_over_time(g[1h])', ...offBoundary, lookbackMs: 300_000, maxSourceResolution: max }, budget, signal);
    t.equal(r.rollupPointsRead > 0, max !== 'raw', `shard eval at ${max} reads ${r.rollupPointsRead} rollup points`);
    return matrixOf({ kind: 'matrix', series: r.series });
  };
  t.equal(diff(await shardPart('auto'), reference(raw, 'g', 'sum_over_time', H, offBoundary, '1h'), 1e-9), null, 'shard eval (auto) equals the reference');
  t.equal(diff(await shardPart('raw'), matrixOf(await run('sum_over_time(g[1h])', offBoundary, mem(), 'raw')), 0), null, 'shard eval (raw) equals raw');

  // Planted bugs: the comparison must catch them.
  const stripped = matrixOf(await run('sum_over_time(g[1h])', offBoundary, new StripRollup(shard()), 'auto'));
  t.not(diff(stripped, reference(raw, 'g', 'sum_over_time', H, offBoundary, '1h'), 1e-9), null, 'planted: a shard ignoring the resolution is caught');
  const wrong = matrixOf(await run('min_over_time(g[1h])', onBoundary, new WrongAggregate(shard()), 'auto'));
  t.not(diff(wrong, reference(raw, 'g', 'min_over_time', H, onBoundary, '1h'), 1e-9), null, 'planted: a shard answering the wrong aggregate is caught');
});
