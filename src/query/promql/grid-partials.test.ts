/**
 * grid-partials.test.ts — the grid form of pushed partial aggregates
 * (grid-partials.ts, carried by metrics-read-wire.ts) answers exactly what
 * the series form answers: a sharded in-memory source whose shardEvalGrid
 * lays each shard's evaluateShard answer on the grid and sends it through
 * the real peer frame (encodeMetricsAnswer / decodeMetricsAnswer) is
 * compared, bit for bit, with the engine taking the same partials as
 * series (gridPartials false), over seeded series with gaps, resets, NaN,
 * ±Inf and stale markers, on grids that do and do not line up with the
 * samples. The frame keeps every value's bits (NaN payloads, -0).
 * Planted: a grid whose points sit one step late, and one that lost an
 * absent marker (a step with no point marked present, or the reverse), are
 * caught — by the answer comparison or by the decoder's ERR_CORRUPTION.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { newScanStats } from '../../storage/shard/signal-store.js';
import { decodeMetricsAnswer, encodeMetricsAnswer } from '../metrics-read-wire.js';
import { createPromqlEngine, evaluateShard } from './engine.js';
import { STALE_NAN, makeGrid } from './eval-types.js';
import type { GridPartials } from './grid-partials.js';
import { gridSteps, gridToSeries, seriesToGrid, strideBytes } from './grid-partials.js';
import { outcomeDiff, runOutcome as run, valuesColumn } from './outcome-test-util.js';
import { MemorySeriesSource } from './memory-source.js';
import type { EvalRange, FloatSeries, SeriesSource } from './source.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;
const BUDGET = { seriesMax: 1000, samplesMax: 10_000_000 };

/** seededSeries are counters `m` over 4 apps with gaps, resets, NaN, ±Inf and stale markers, some starting late or ending early. */
function seededSeries(seed: number): FloatSeries[] {
  const rand = new SeededRand(seed);
  const out: FloatSeries[] = [];
  for (let i = 0; i < 18; i++) {
    const ts: number[] = [];
    const vs: number[] = [];
    const staleAt: number[] = [];
    let v = rand.intn(100);
    const from = T0 + (i % 5 === 3 ? rand.intn(30) * 60_000 : rand.intn(15_000));
    const to = T0 + HOUR - (i % 7 === 2 ? rand.intn(20) * 60_000 : 0);
    for (let t = from; t < to; t += 15_000 + (rand.intn(8) === 0 ? rand.intn(400_000) : 0)) {
      const r = rand.intn(300);
      if (r === 0) v = 0;
      else v += rand.intn(50);
      if (r === 4) staleAt.push(ts.length);
      ts.push(t);
      vs.push(r === 1 ? NaN : r === 2 ? Infinity : r === 3 ? -Infinity : v);
    }
    out.push({ labels: [{ name: '__name__', value: 'm' }, { name: 'app', value: `a${i % 4}` }, { name: 'pod', value: `p${i}` }], timestampsMs: Float64Array.from(ts), values: valuesColumn(vs, staleAt) });
  }
  return out;
}

/** Mutate changes a shard's grid before it is sent (planted bugs); identity for the real path. */
type Mutate = (g: GridPartials) => GridPartials;

/** shardedOver spreads series over n in-memory shards; shardEval answers series, shardEvalGrid the same answers laid on the grid and sent through the peer frame. */
function shardedOver(series: readonly FloatSeries[], n: number, mutate: Mutate = (g) => g): SeriesSource {
  const shards = Array.from({ length: n }, (_, k) => new MemorySeriesSource(series.filter((_, i) => i % n === k)));
  const whole = new MemorySeriesSource(series);
  const perShard = (req: Parameters<NonNullable<SeriesSource['shardEval']>>[0], signal: AbortSignal): Promise<FloatSeries[][]> =>
    Promise.all(shards.map((s) => evaluateShard(req.expr, req.range, req.lookbackMs, s, signal, {}, req.maxSourceResolution)));
  return {
    stats: whole.stats,
    select: (req, signal) => whole.select(req, signal),
    shardEval: async (req, signal) => (await perShard(req, signal)).flat(),
    shardEvalGrid: async (req, signal) => {
      const grids: GridPartials[] = [];
      for (const answer of await perShard(req, signal)) {
        const g = seriesToGrid(answer, req.range);
        if (g === null) throw new Error('an evaluateShard answer is always on the grid');
        const frame = encodeMetricsAnswer({ stats: newScanStats(), seriesRead: 0, samplesRead: 0, series: [], rollupPointsRead: 0, grid: mutate(g) });
        const back = decodeMetricsAnswer(frame, BUDGET, gridSteps(req.range)).grid;
        if (back === undefined) throw new Error('a grid answer decodes to a grid');
        grids.push(back);
      }
      return { grids };
    },
  };
}

const QUERIES = [
  'sum by (app) (rate(m[5m]))', 'sum(rate(m[5m]))', 'max by (app) (m)', 'min without (pod) (last_over_time(m[10m]))', 'count by (app) (m)',
  'group by (app) (m)', 'sum by (app) (increase(m[10m] offset 3m))', 'max(irate(m[2m]))', 'sum by (pod) (changes(m[5m]))',
];

const RANGES: readonly EvalRange[] = [
  { startMs: T0, endMs: T0 + HOUR, stepMs: 60_000 },
  { startMs: T0 + 7_500, endMs: T0 + HOUR - 7_500, stepMs: 15_000 },
  { startMs: T0 - 10 * 60_000, endMs: T0 + HOUR + 10 * 60_000, stepMs: 210_000 },
  { startMs: T0 + 1_000, endMs: T0 + 1_000 + 8 * 60_000, stepMs: 60_000 },
];

const grid = createPromqlEngine();
const series = createPromqlEngine({ gridPartials: false });

t.test('the grid form answers what the series form answers, through the peer frame, bit for bit', async (t) => {
  for (const seed of [1, 2, 3]) {
    const data = seededSeries(seed);
    let compared = 0;
    let points = 0;
    for (const q of QUERIES) {
      for (const range of RANGES) {
        const want = await run(series, q, range, shardedOver(data, 3));
        const got = await run(grid, q, range, shardedOver(data, 3));
        const d = outcomeDiff(got, want);
        if (d !== null) {
          t.fail(`seed ${seed} ${q} ${JSON.stringify(range)}: ${d}`);
          return;
        }
        compared++;
        if ('result' in want && want.result.kind === 'matrix') for (const s of want.result.series) points += s.values.length;
      }
    }
    t.equal(compared, QUERIES.length * RANGES.length, `seed ${seed}: ${compared} answers compared (${points} points)`);
    t.ok(points > 1000, 'the answers are not trivial');
  }
});

t.test('the frame keeps every bit: NaN payloads, stale markers, -0, ±Inf; absent steps stay absent', async (t) => {
  const range = { startMs: 0, endMs: 9 * 60_000, stepMs: 60_000 };
  const odd = new Float64Array(1);
  new Uint32Array(odd.buffer).set([0x1234, 0x7ff80000]);
  const s: FloatSeries[] = [
    { labels: [{ name: 'a', value: '1' }], timestampsMs: Float64Array.of(0, 120_000, 540_000), values: Float64Array.of(-0, odd[0] as number, STALE_NAN) },
    { labels: [{ name: 'a', value: '2' }], timestampsMs: new Float64Array(0), values: new Float64Array(0) },
    { labels: [{ name: 'a', value: '3' }], timestampsMs: Float64Array.of(60_000, 480_000), values: Float64Array.of(Infinity, -Infinity) },
  ];
  const g = seriesToGrid(s, range);
  t.ok(g !== null, 'on the grid');
  if (g === null) return;
  t.equal(g.present.length, 3 * strideBytes(10), 'a 2-byte bitmap a series');
  const back = decodeMetricsAnswer(encodeMetricsAnswer({ stats: newScanStats(), seriesRead: 3, samplesRead: 5, series: [], rollupPointsRead: 0, grid: g }), BUDGET, 10).grid;
  t.ok(back !== undefined, 'a grid answer');
  if (back === undefined) return;
  const again = gridToSeries(back, makeGrid(range.startMs, range.endMs, range.stepMs));
  t.same(again.map((x) => [...x.timestampsMs]), s.map((x) => [...x.timestampsMs]), 'the same steps, none added');
  const bits = (a: Float64Array): number[] => [...new Uint32Array(a.buffer, a.byteOffset, a.length * 2)];
  t.same(again.map((x) => bits(x.values)), s.map((x) => bits(x.values)), 'the same value bits');
  t.equal(seriesToGrid([{ labels: [], timestampsMs: Float64Array.of(30_000), values: Float64Array.of(1) }], range), null, 'a point between steps keeps the series form');
  t.equal(seriesToGrid([{ labels: [], timestampsMs: Float64Array.of(600_000), values: Float64Array.of(1) }], range), null, 'a point past the last step keeps the series form');
});

t.test('the decoder refuses a grid that does not fit its request', async (t) => {
  const range = { startMs: 0, endMs: 9 * 60_000, stepMs: 60_000 };
  const g = seriesToGrid([{ labels: [{ name: 'a', value: '1' }], timestampsMs: Float64Array.of(0, 60_000), values: Float64Array.of(1, 2) }], range) as GridPartials;
  const frame = (x: GridPartials): Uint8Array => encodeMetricsAnswer({ stats: newScanStats(), seriesRead: 1, samplesRead: 2, series: [], rollupPointsRead: 0, grid: x });
  t.ok(decodeMetricsAnswer(frame(g), BUDGET, 10).grid, 'the grid itself decodes');
  t.throws(() => decodeMetricsAnswer(frame(g), BUDGET, 11), { code: 'ERR_CORRUPTION' }, 'other steps than the request\'s');
  t.throws(() => decodeMetricsAnswer(frame(g), BUDGET), { code: 'ERR_CORRUPTION' }, 'a grid to a request that asked for series');
  const past = Uint8Array.from(g.present);
  past[1] = (past[1] as number) | 0x04;
  t.throws(() => decodeMetricsAnswer(frame({ ...g, present: past, values: Float64Array.of(1, 2, 3) }), BUDGET, 10), { code: 'ERR_CORRUPTION' }, 'a point past the last step');
  t.throws(() => decodeMetricsAnswer(frame(g), { seriesMax: 10, samplesMax: 1 }, 10), { code: 'ERR_CORRUPTION' }, 'more points than the budget');
});

t.test('planted: a grid one step late, and lost absent markers, are caught', async (t) => {
  const data = seededSeries(2);
  const range = RANGES[0] as EvalRange;
  const q = 'sum by (app) (rate(m[5m]))';
  const want = await run(series, q, range, shardedOver(data, 3));
  t.equal(outcomeDiff(await run(grid, q, range, shardedOver(data, 3)), want), null, 'the real grid agrees');
  const stride = strideBytes(gridSteps(range));
  const n = gridSteps(range);
  const bit = (p: Uint8Array, base: number, i: number): number => ((p[base + (i >>> 3)] as number) >>> (i & 7)) & 1;
  const setBit = (p: Uint8Array, base: number, i: number, on: number): void => {
    const b = base + (i >>> 3);
    p[b] = on === 1 ? (p[b] as number) | (1 << (i & 7)) : (p[b] as number) & ~(1 << (i & 7));
  };
  // Every point one step later: the last step's point falls off (its value dropped with it).
  const late: Mutate = (g) => {
    const present = new Uint8Array(g.present.length);
    const values: number[] = [];
    let at = 0;
    for (let k = 0; k < g.labels.length; k++) {
      for (let i = 0; i < n; i++) {
        if (bit(g.present, k * stride, i) === 0) continue;
        if (i + 1 < n) { setBit(present, k * stride, i + 1, 1); values.push(g.values[at] as number); }
        at++;
      }
    }
    return { ...g, present, values: Float64Array.from(values) };
  };
  t.match(outcomeDiff(await run(grid, q, range, shardedOver(data, 3, late)), want), /point|series/, 'a one-step offset changes the answer');
  // An absent step marked present, its value made up (the bits and values still agree, so only the answer shows it).
  const filled: Mutate = (g) => {
    const present = Uint8Array.from(g.present);
    const values: number[] = [];
    let at = 0;
    let done = false;
    for (let k = 0; k < g.labels.length; k++) {
      for (let i = 0; i < n; i++) {
        if (bit(g.present, k * stride, i) === 1) values.push(g.values[at++] as number);
        else if (!done) { setBit(present, k * stride, i, 1); values.push(0); done = true; }
      }
    }
    return { ...g, present, values: Float64Array.from(values) };
  };
  t.match(outcomeDiff(await run(grid, q, range, shardedOver(data, 3, filled)), want), /point|series/, 'a lost absent marker changes the answer');
  // A present step's bit cleared but its value kept: bits and values disagree, the frame is refused.
  const dropped: Mutate = (g) => {
    const present = Uint8Array.from(g.present);
    for (let i = 0; i < n; i++) if (bit(present, 0, i) === 1) { setBit(present, 0, i, 0); break; }
    return { ...g, present };
  };
  t.match(await run(grid, q, range, shardedOver(data, 3, dropped)), { error: /ERR_CORRUPTION/ }, 'a bit lost beside its value is ERR_CORRUPTION');
});
