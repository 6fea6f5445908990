/**
 * metrics-column-pool.test.ts — a shard's pushed-down evaluation over
 * columns lent by a ColumnPool (storage/metrics/column-pool.ts,
 * metrics-shard-read.ts evalOnShard) answers exactly what it answers over
 * columns of its own, evaluation after evaluation and with evaluations
 * interleaved (one lease each, the pool's buffers going from one to the
 * next), over a real MetricStore (flushed twice, the rest in the head). The
 * pool: capacity classes, reuse, its bytes bound, one release a lease. The
 * grid form (evalOnShard with `grid`) of an aggregation comes straight from
 * its columns and holds the points of the series form laid on the grid.
 * Planted: a reader that outlives its lease (the series read under a lease,
 * used after its release while another lease reads the same series) reads
 * other samples, with the pool poisoning what comes back (NaN) and without
 * (another series' samples) — what evalOnShard's release after the answer
 * is built prevents; a lease refuses to lend after its release.
 * The lease also lends the evaluation its scratch (an aggregation's group
 * rows, EvalScratch): every column op answers the same bits with the rows
 * lent (poisoned pool, rows reused from one evaluation to the next) as
 * allocated, and under a scratch bound of one group's rows (the rest
 * allocated); a lease never lends scratch past its bound. Planted: group
 * rows read after their lease went back (GroupColumns.grid after the
 * release) answer other numbers.
 */
import t from 'tap';
import { initHash } from '../partition/hash.js';
import { ColumnPool, capacityOf } from '../storage/metrics/column-pool.js';
import type { ColumnLease } from '../storage/metrics/column-pool.js';
import { MetricStore } from '../storage/metrics/metric-store.js';
import { Flusher, openTempDb, removeTempDb, stringKv, testPointRow } from '../storage/metrics/store-test-util.js';
import type { MetricPointRow } from '../storage/rows.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { MetricStoreLimits } from '../limits.js';
import { PromView } from './metrics-prom-view.js';
import type { ShardReadContext } from './metrics-shard-read.js';
import { ShardSeriesSource, evalOnShard } from './metrics-shard-read.js';
import { promqlEngine } from './promql/engine.js';
import { GroupColumns } from './promql/aggregate-columns.js';
import type { AggregateNode } from './promql/ast.js';
import { parsePromql } from './promql/parser.js';
import type { GridPartials } from './promql/grid-partials.js';
import { seriesToGrid } from './promql/grid-partials.js';
import type { FloatSeries } from './promql/source.js';
import { SeededRand } from '../fs/seeded-rand.js';

const H = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % H);
const HOURS = 6;
const BUDGET = { seriesMax: 10_000, samplesMax: 10_000_000 };

function rowsOf(seed: number): MetricPointRow[] {
  const rand = new SeededRand(seed);
  const out: MetricPointRow[] = [];
  const c = Array.from({ length: 12 }, () => rand.intn(100));
  for (let t = T0; t < T0 + HOURS * H; t += 15_000) {
    for (let i = 0; i < c.length; i++) {
      c[i] = rand.intn(500) === 0 ? 0 : (c[i] as number) + rand.intn(40);
      out.push(testPointRow('c', { type: 'sum', temporality: 2, monotonic: true, value: { type: 'double', value: c[i] as number } }, [stringKv('app', `a${i % 3}`), stringKv('pod', `p${i}`)], t));
    }
  }
  return out;
}

function flat(series: readonly FloatSeries[]): number[] {
  const out: number[] = [];
  for (const s of series) for (let j = 0; j < s.values.length; j++) out.push(s.timestampsMs[j] as number, s.values[j] as number);
  return out;
}

t.test('the pool: capacity classes, reuse, the bytes bound, one release a lease', async (t) => {
  const min = MetricStoreLimits.readColumnSamplesMin;
  for (const n of [0, 1, min, min + 1, 5_780, 23_040, 100_001]) {
    const c = capacityOf(n);
    t.ok(c >= n && c >= min && (n <= min || c <= 1.25 * n), `${n} samples: capacity ${c}`);
  }
  const pool = new ColumnPool({ bytesMax: 3 * 8 * capacityOf(5_000) });
  const a = pool.lease();
  const cols = [a.take(5_000), a.take(5_000), a.take(5_000), a.take(5_000)];
  t.ok(a.holds(cols[0] as Float64Array) && a.holds((cols[1] as Float64Array).subarray(3)), 'a lease holds its columns and their views');
  t.notOk(a.holds(new Float64Array(5_000)), 'and nothing else');
  a.release();
  t.equal(pool.freeBytes, 3 * 8 * capacityOf(5_000), 'the pool keeps three, its bound');
  t.throws(() => a.take(1), 'a released lease lends nothing');
  t.throws(() => a.release(), 'nor releases twice');
  const b = pool.lease();
  for (let i = 0; i < 4; i++) b.take(4_990);
  t.equal(pool.reused, 3, 'three columns reused from the pool');
  t.equal(pool.allocated, 5, 'the fourth of the second lease allocated');
  b.release();
});

t.test('evaluations over pooled columns answer what they answer over their own, one after another and interleaved', async (t) => {
  const tmp = await openTempDb();
  t.teardown(() => removeTempDb(tmp));
  const store = new MetricStore({ hasher: await initHash() });
  const flusher = new Flusher(store, tmp.db);
  const rows = rowsOf(7);
  const third = Math.floor(rows.length / 3);
  store.add('default', rows.slice(0, third), 0);
  await flusher.flush();
  store.add('default', rows.slice(third, 2 * third), 0);
  await flusher.flush();
  store.add('default', rows.slice(2 * third), 0);
  const ctx = (): ShardReadContext => ({ shard: 0, store, kv: tmp.db, tenant: 'default', view: new PromView({ promoteResourceAttributes: [] }), stats: newScanStats() });
  const signal = new AbortController().signal;
  // A monotonic sum `c` is `c_total` to PromQL.
  const queries = ['sum by (app) (rate(c_total[5m]))', 'rate(c_total[5m])', 'c_total', 'max(increase(c_total[10m]))', 'c_total offset 1h'];
  const ranges = [{ startMs: T0, endMs: T0 + HOURS * H, stepMs: 60_000 }, { startMs: T0 + H, endMs: T0 + 3 * H, stepMs: 15_000 }];
  const req = (expr: string, r: { startMs: number; endMs: number; stepMs: number }): Parameters<typeof evalOnShard>[2] => ({ expr, ...r, lookbackMs: 300_000, maxSourceResolution: 'raw' });
  const pool = new ColumnPool({ poison: true });
  let compared = 0;
  for (let round = 0; round < 2; round++) {
    for (const q of queries) {
      for (const r of ranges) {
        const want = flat((await evalOnShard(promqlEngine, ctx(), req(q, r), BUDGET, signal)).series);
        const [x, y] = await Promise.all([evalOnShard(promqlEngine, ctx(), req(q, r), BUDGET, signal, pool), evalOnShard(promqlEngine, ctx(), req(queries[0] as string, ranges[1] as typeof r), BUDGET, signal, pool)]);
        t.ok(y.series.length > 0 && want.length > 0, 'both evaluations answer');
        t.same(flat(x.series), want, `round ${round} ${q} step ${r.stepMs}`);
        // The grid form a coordinator asks for (answerForm 'grid'): an aggregation's straight from its columns, the same points as the series laid on the grid.
        const g = await evalOnShard(promqlEngine, ctx(), req(q, r), BUDGET, signal, pool, true);
        const laid = seriesToGrid(x.series, r);
        const got = g.grid ?? seriesToGrid(g.series, r);
        t.equal(g.grid !== undefined, /^(sum|max)\b/.test(q), `${q}: a grid from the columns for an aggregation only`);
        t.same(got === null ? null : [got.labels, [...got.present], [...got.values]], laid === null ? null : [laid.labels, [...laid.present], [...laid.values]], `round ${round} ${q} step ${r.stepMs}: the grid form holds the same points`);
        compared++;
      }
    }
  }
  t.ok(pool.reused > 0, `the pool lent back ${pool.reused} columns (${pool.allocated} allocated)`);
  t.equal(pool.freeBytes > 0, true, 'every lease gave its columns back');

  // Planted: a reader that outlives its lease. Its series are views of lent columns; once released, another read takes them.
  for (const poison of [true, false]) {
    const p = new ColumnPool({ poison });
    const range = ranges[0] as (typeof ranges)[number];
    const sel = { matchers: [{ name: '__name__', op: '=' as const, value: 'c_total' }], startMs: range.startMs - 300_000, endMs: range.endMs, stepMs: range.stepMs };
    const mine = new ShardSeriesSource(ctx(), BUDGET);
    const want = flat(await mine.select(sel, signal));
    t.ok(want.length > 1000, `${want.length / 2} samples read`);
    const early = p.lease();
    const kept = await new ShardSeriesSource({ ...ctx(), columns: early }, BUDGET).select(sel, signal);
    early.release();
    const other = p.lease();
    await new ShardSeriesSource({ ...ctx(), columns: other }, BUDGET).select(sel, signal);
    t.not(JSON.stringify(flat(kept)), JSON.stringify(want), `poison ${poison}: a reader past its lease reads other samples`);
    other.release();
  }
  t.ok(compared === queries.length * ranges.length * 2, `${compared} answers compared`);
});

/** gridBits is a grid answer as comparable text: labels, bitmaps, and its values' bytes (bit for bit, NaN payloads included). */
function gridBits(g: GridPartials | undefined): string {
  if (g === undefined) return 'no grid';
  return JSON.stringify([g.steps, g.labels, [...g.present], Buffer.from(g.values.buffer, g.values.byteOffset, g.values.byteLength).toString('hex')]);
}

t.test('a shard part\'s group rows lent by its lease: the same bits for every column op, within the scratch bound', async (t) => {
  const tmp = await openTempDb();
  t.teardown(() => removeTempDb(tmp));
  const store = new MetricStore({ hasher: await initHash() });
  const flusher = new Flusher(store, tmp.db);
  const rows = rowsOf(11);
  store.add('default', rows.slice(0, rows.length >> 1), 0);
  await flusher.flush();
  store.add('default', rows.slice(rows.length >> 1), 0);
  const ctx = (): ShardReadContext => ({ shard: 0, store, kv: tmp.db, tenant: 'default', view: new PromView({ promoteResourceAttributes: [] }), stats: newScanStats() });
  const signal = new AbortController().signal;
  const range = { startMs: T0 + H, endMs: T0 + 5 * H, stepMs: 60_000 };
  const req = (expr: string): Parameters<typeof evalOnShard>[2] => ({ expr, ...range, lookbackMs: 300_000, maxSourceResolution: 'raw' });
  const pool = new ColumnPool({ poison: true });
  // One group's rows of a sum (value and firstK) is the bound: the first group's are lent, the others allocated.
  const tight = new ColumnPool({ poison: true, scratchBytesMax: 8 * capacityOf(241 + 121) });
  let compared = 0;
  for (const op of ['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar']) {
    for (const grouping of [' by (app)', ' without (pod)', '']) {
      const q = `${op}${grouping} (rate(c_total[5m]))`;
      const want = await evalOnShard(promqlEngine, ctx(), req(q), BUDGET, signal, undefined, true);
      t.ok(want.grid !== undefined && want.grid.values.length > 0, `${q}: a grid from the columns`);
      for (let round = 0; round < 2; round++) {
        for (const p of [pool, tight]) {
          const got = await evalOnShard(promqlEngine, ctx(), req(q), BUDGET, signal, p, true);
          t.equal(gridBits(got.grid), gridBits(want.grid), `${q} round ${round}${p === tight ? ' (tight scratch bound)' : ''}: the same bits`);
          compared++;
        }
      }
    }
  }
  t.ok(pool.reused > 0, `the pool lent back ${pool.reused} columns (${pool.allocated} allocated)`);
  t.equal(compared, 8 * 3 * 4, `${compared} grids compared`);

  // The bound: a lease lends scratch up to it, then answers null (the caller allocates).
  const lease = tight.lease();
  t.ok(lease.takeScratch(241 + 121) !== null, 'one group\'s rows lent');
  t.equal(lease.takeScratch(1), null, 'nothing past the bound');
  t.ok(lease.scratchBytes <= tight.scratchBytesMax, `${lease.scratchBytes} scratch bytes lent, bound ${tight.scratchBytesMax}`);
  t.ok(lease.take(5_000).length === 5_000, 'read columns are not scratch: still lent');
  lease.release();
  t.throws(() => lease.takeScratch(1), 'a released lease lends no scratch');

  // Planted: group rows read after their lease went back (another lease took the buffers, or the pool poisoned them).
  const e = parsePromql('sum by (app) (rate(c_total[5m]))') as AggregateNode;
  const n = 241;
  const column = (app: string, k: number): Parameters<GroupColumns['add']>[0] => ({ k, labels: [{ name: 'app', value: app }], key: app, values: Float64Array.from({ length: n }, (_, i) => i + k), present: new Uint8Array(n).fill(1), count: n });
  const fold = (scratch: ColumnLease | null): GroupColumns => {
    const g = new GroupColumns(e, n, scratch);
    g.add(column('a', 0));
    g.add(column('b', 1));
    g.add(column('a', 2));
    return g;
  };
  const ownRows = gridBits(fold(null).grid(null));
  for (const poison of [true, false]) {
    const p = new ColumnPool({ poison });
    const early = p.lease();
    const groups = fold(early);
    t.equal(gridBits(groups.grid(null)), ownRows, `poison ${poison}: lent rows answer as allocated ones while the lease is open`);
    early.release();
    const other = p.lease();
    fold(other);
    t.not(gridBits(groups.grid(null)), ownRows, `poison ${poison}: rows read after their lease went back answer other numbers`);
    other.release();
  }
});
