/**
 * Pushdown differential: seeded series split over N in-memory shards; a
 * SeriesSource whose shardEval runs evaluateShard on every shard and answers
 * the union. Seeded random queries must answer the same with pushdown as by
 * gathering every series through `select`. A planted bug (count partials
 * combined by count instead of sum) must be caught.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { AggregateOp } from './ast.js';
import { createPromqlEngine, evaluateShard } from './engine.js';
import { compareLabels, labelsKey } from './labels.js';
import { MemorySeriesSource } from './memory-source.js';
import { isPerSeries, isPushableAggregate } from './pushdown.js';
import { parsePromql } from './parser.js';
import { compareResponses, engineRunner } from './prometheus-oracle-util.js';
import type { EvalRange, FloatSeries, SelectRequest, SeriesSource, ShardEvalRequest, SourceStats } from './source.js';

const T0 = 1_700_000_000_000;

/** ShardedSource spreads series over shards by a hash of their labels, as a cluster places them (a series lives whole in one shard). */
class ShardedSource implements SeriesSource {
  readonly shards: MemorySeriesSource[];
  shardEvals = 0;
  readonly stats: SourceStats = { shardsAsked: 0, seriesRead: 0, samplesRead: 0, samplesHeld: 0, rollupPointsRead: 0, bytesRead: 0, partialFailures: [] };

  constructor(series: readonly FloatSeries[], n: number) {
    const parts: FloatSeries[][] = Array.from({ length: n }, () => []);
    for (const s of series) {
      let h = 0;
      for (const c of labelsKey(s.labels)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
      parts[h % n]?.push(s);
    }
    this.shards = parts.map((p) => new MemorySeriesSource(p));
  }

  async select(req: SelectRequest, signal: AbortSignal): Promise<readonly FloatSeries[]> {
    const all: FloatSeries[] = [];
    for (const s of this.shards) all.push(...(await s.select(req, signal)));
    return all.sort((a, b) => compareLabels(a.labels, b.labels));
  }

  async shardEval(req: ShardEvalRequest, signal: AbortSignal): Promise<readonly FloatSeries[]> {
    this.shardEvals++;
    const out: FloatSeries[] = [];
    for (const s of this.shards) out.push(...(await evaluateShard(req.expr, req.range, req.lookbackMs, s, signal, {}, req.maxSourceResolution)));
    return out;
  }
}

function makeSeries(rand: SeededRand): FloatSeries[] {
  const out: FloatSeries[] = [];
  for (const job of ['a', 'b', 'c']) {
    for (let inst = 0; inst < 5; inst++) {
      for (const name of ['g', 'c_total']) {
        const ts: number[] = [];
        const vs: number[] = [];
        let v = rand.intn(1000) / 10;
        for (let t = T0; t < T0 + 3_600_000; t += 15_000) {
          if (rand.intn(40) === 0) continue;
          v = name === 'g' ? v + (rand.intn(2001) - 1000) / 313 : rand.intn(300) === 0 ? 0 : v + rand.intn(97) / 7;
          ts.push(t + rand.intn(100));
          vs.push(v);
        }
        const labels = [{ name: '__name__', value: name }, { name: 'instance', value: `i${inst}` }, { name: 'job', value: job }, { name: 'zone', value: inst % 2 === 0 ? 'x' : 'y' }];
        out.push({ labels, timestampsMs: Float64Array.from(ts), values: Float64Array.from(vs) });
      }
    }
  }
  return out;
}

function pick<T>(rand: SeededRand, xs: readonly T[]): T {
  return xs[rand.intn(xs.length)] as T;
}

/** randomQuery draws a query mixing pushable and non-pushable shapes. */
function randomQuery(rand: SeededRand): string {
  const sel = pick(rand, ['g', 'c_total', 'g{job="a"}', 'c_total{zone="x"}', '{__name__=~"g|c_total", job!="b"}']);
  const range = pick(rand, ['1m', '5m', '10m']);
  const inner = pick(rand, [
    sel, `rate(${sel}[${range}])`, `increase(${sel}[${range}])`, `avg_over_time(${sel}[${range}])`, `max_over_time(${sel}[${range}])`,
    `quantile_over_time(0.7, ${sel}[${range}])`, `last_over_time(${sel}[${range}])`, `deriv(${sel}[${range}])`, `predict_linear(${sel}[${range}], 60)`,
  ]);
  const grouping = pick(rand, ['', ' by (job)', ' by (job, zone)', ' without (instance)', ' by (__name__)', ' without (zone, instance)']);
  const op = pick(rand, ['sum', 'count', 'min', 'max', 'group', 'avg', 'topk', 'bottomk', 'stddev', 'quantile', 'count_values']);
  const param = op === 'topk' || op === 'bottomk' ? `${1 + rand.intn(3)}, ` : op === 'quantile' ? '0.3, ' : op === 'count_values' ? '"v", ' : '';
  const agg = `${op}${grouping} (${param}${op === 'count_values' ? `floor(${inner})` : inner})`;
  return pick(rand, [agg, agg, inner, `${agg} * 2`, `sum(${agg})`, `${agg} / on () group_left count(${sel})`, `max_over_time(${agg}[10m:1m])`, `${agg} > 1`]);
}

const ranges: readonly EvalRange[] = [
  { startMs: T0 + 2_000_000, endMs: T0 + 2_000_000, stepMs: 0 },
  { startMs: T0 + 600_000, endMs: T0 + 3_600_000, stepMs: 60_000 },
];

async function differential(seed: number, queries: number, combineOp?: (op: AggregateOp) => AggregateOp): Promise<{ mismatches: string[]; pushed: number; errors: number }> {
  const rand = new SeededRand(seed);
  const source = new ShardedSource(makeSeries(rand), 3);
  const gather = engineRunner(createPromqlEngine({ pushdown: false }), source);
  const push = engineRunner(combineOp === undefined ? createPromqlEngine() : createPromqlEngine({ combineOp }), source);
  const mismatches: string[] = [];
  let errors = 0;
  for (let i = 0; i < queries; i++) {
    const q = randomQuery(rand);
    for (const range of ranges) {
      const want = await gather(q, range);
      const got = await push(q, range);
      if (want.status === 'error') errors++;
      const d = compareResponses(want, got);
      if (d !== null) mismatches.push(`seed=${seed} query=${JSON.stringify(q)} range=${JSON.stringify(range)}: ${d}`);
    }
  }
  return { mismatches, pushed: source.shardEvals, errors };
}

t.test('the pushdown rules: per-series subtrees and exactly-merging aggregations only', async (t) => {
  t.ok(isPerSeries(parsePromql('rate(x[5m])')));
  t.ok(isPerSeries(parsePromql('predict_linear(x[5m], 60)')));
  t.notOk(isPerSeries(parsePromql('absent_over_time(x[5m])')), 'absent_over_time is not exact per shard');
  t.notOk(isPerSeries(parsePromql('rate(x[5m:1m])')), 'subqueries gather');
  t.ok(isPushableAggregate(parsePromql('sum by (a) (rate(x[5m]))')));
  t.ok(isPushableAggregate(parsePromql('topk(3, x)')));
  t.notOk(isPushableAggregate(parsePromql('quantile(0.5, x)')), 'quantile does not merge');
  t.notOk(isPushableAggregate(parsePromql('stddev(x)')), 'stddev does not merge');
  t.notOk(isPushableAggregate(parsePromql('sum(x + 1)')), 'an argument that is not per-series gathers');
  t.notOk(isPushableAggregate(parsePromql('topk(scalar(y), x)')), 'a computed k gathers');
});

t.test('pushdown answers as gathering does (seeded random queries over 3 shards)', async (t) => {
  for (const seed of [1, 2, 3]) {
    const { mismatches, pushed, errors } = await differential(seed, 60);
    for (const m of mismatches.slice(0, 10)) t.comment(m);
    t.equal(mismatches.length, 0, `seed ${seed}: 120 evaluations, ${pushed} shardEval calls, ${errors} refused by both (rerun: differential(${seed}, 60))`);
    t.ok(pushed > 50, 'the engine pushed subtrees down');
  }
});

t.test('planted bug: combining count partials with count instead of sum is caught', async (t) => {
  let caught = 0;
  for (const seed of [1, 2, 3]) caught += (await differential(seed, 60, (op) => op)).mismatches.length;
  t.ok(caught > 0, `${caught} mismatches with the planted combine`);
});
