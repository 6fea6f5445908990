import t from 'tap';
import { OtlpdbError } from '../../errors.js';
import { createPromqlEngine, evaluateShard, promqlEngine } from './engine.js';
import { formatGoFloat } from './labels.js';
import { MemorySeriesSource } from './memory-source.js';
import type { EvalRange, FloatSeries, PromResult } from './source.js';

function series(name: string, labels: Record<string, string>, points: [number, number][]): FloatSeries {
  const ls = Object.entries({ __name__: name, ...labels }).map(([n, value]) => ({ name: n, value })).sort((a, b) => (a.name < b.name ? -1 : 1));
  return { labels: ls, timestampsMs: Float64Array.from(points, (p) => p[0]), values: Float64Array.from(points, (p) => p[1]) };
}

const every15s = (values: number[], fromMs = 0): [number, number][] => values.map((v, i) => [fromMs + i * 15_000, v]);

/** staleSeries ends with Prometheus's staleness marker, written bit by bit (0x7ff0000000000002). */
function staleSeries(): FloatSeries {
  const s = series('stale', {}, every15s([1, 2, 0]));
  const words = new Uint32Array(s.values.buffer, s.values.byteOffset + 2 * 8, 2);
  words[0] = 0x00000002;
  words[1] = 0x7ff00000;
  return s;
}

const source = new MemorySeriesSource([
  staleSeries(),
  series('c_total', { job: 'a' }, every15s([0, 10, 20, 30, 40, 50])),
  series('r_total', { job: 'a' }, every15s([5, 10, 2, 7])),
  series('h_bucket', { job: 'a', le: '1' }, every15s([10])),
  series('h_bucket', { job: 'a', le: '2' }, every15s([20])),
  series('h_bucket', { job: 'a', le: '+Inf' }, every15s([20])),
  series('m', { job: 'a', instance: 'x', path: '/p' }, every15s([1])),
  series('m', { job: 'b', instance: 'x', path: '/q' }, every15s([2])),
  series('info', { instance: 'x', version: 'v1' }, every15s([1])),
  series('dup', { instance: 'x', k: '1' }, every15s([1])),
  series('dup', { instance: 'x', k: '2' }, every15s([1])),
  series('big', {}, every15s([1e21, 1e-7])),
]);

const opts = { lookbackMs: 300_000, signal: new AbortController().signal };
const at = (ms: number): EvalRange => ({ startMs: ms, endMs: ms, stepMs: 0 });

async function vector(q: string, ms: number): Promise<{ labels: Record<string, string>; value: number }[]> {
  const r: PromResult = await promqlEngine.evaluate(q, at(ms), source, opts);
  if (r.kind !== 'vector') throw new Error(`expected a vector, got ${r.kind}`);
  return r.samples.map((s) => ({ labels: Object.fromEntries(s.labels.map((l) => [l.name, l.value])), value: s.value }));
}

async function refused(q: string, range: EvalRange = at(60_000), engine = promqlEngine, signal = opts.signal): Promise<OtlpdbError> {
  try {
    await engine.evaluate(q, range, source, { ...opts, signal });
  } catch (err) {
    if (err instanceof OtlpdbError) return err;
    throw err;
  }
  throw new Error(`expected ${q} to be refused`);
}

t.test('rate extrapolates to the window edges as Prometheus does', async (t) => {
  // Window [5s, 65s] holds samples at 15..60 s (10..40): 30 over 45 s, extrapolated 10 s back and 5 s forward.
  const [r] = await vector('rate(c_total[1m])', 65_000);
  t.ok(Math.abs((r?.value ?? 0) - 2 / 3) < 1e-12, `rate ${r?.value}`);
  t.same(r?.labels, { job: 'a' }, 'rate drops the metric name');
  const [inc] = await vector('increase(r_total[1m])', 45_000);
  t.ok(Math.abs((inc?.value ?? 0) - 12 * (60 / 45)) < 1e-9, `a reset adds the value before it: ${inc?.value}`);
  t.same(await vector('rate(c_total[10s])', 65_000), [], 'fewer than two samples answer nothing');
});

t.test('lookback: an instant selector sees the latest sample at most 5 minutes old (inclusive)', async (t) => {
  t.equal((await vector('c_total', 75_000 + 300_000))[0]?.value, 50);
  t.same(await vector('c_total', 75_000 + 300_001), []);
  t.equal((await vector('c_total offset 1m', 75_000))[0]?.value, 10);
  t.equal((await vector('c_total @ 30', 999_000))[0]?.value, 20);
  t.equal((await vector('timestamp(c_total)', 70_000))[0]?.value, 60, 'timestamp() of a selector is the sample time');
});

t.test('a staleness marker ends a series at once and never enters a range window', async (t) => {
  t.equal((await vector('stale', 20_000))[0]?.value, 2);
  t.same(await vector('stale', 40_000), [], 'no lookback past the marker');
  t.equal((await vector('count_over_time(stale[1m])', 40_000))[0]?.value, 2);
});

t.test('histogram_quantile interpolates inside the bucket holding the rank', async (t) => {
  t.same(await vector('histogram_quantile(0.5, h_bucket)', 0), [{ labels: { job: 'a' }, value: 1 }]);
  t.same(await vector('histogram_quantile(0.75, h_bucket)', 0), [{ labels: { job: 'a' }, value: 1.5 }]);
  t.same(await vector('histogram_quantile(1, h_bucket)', 0), [{ labels: { job: 'a' }, value: 2 }], 'the top rank answers the highest finite bound');
});

t.test('label_replace expands $1, ${1}, $name and $$ as Go does; label_join joins', async (t) => {
  const [r] = await vector('label_replace(m{job="a"}, "dst", "$1-${1}x-$$-$nope", "path", "/(?<nm>.*)")', 0);
  t.equal(r?.labels['dst'], 'p-px-$-');
  const [n] = await vector('label_replace(m{job="a"}, "dst", "$nm", "path", "/(?<nm>.*)")', 0);
  t.equal(n?.labels['dst'], 'p');
  const [j] = await vector('label_join(m{job="a"}, "dst", "/", "job", "instance")', 0);
  t.equal(j?.labels['dst'], 'a/x');
  t.equal(j?.labels['__name__'], 'm', 'label functions keep the name');
});

t.test('count_values prints values as Go does (no exponent)', async (t) => {
  t.equal(formatGoFloat(1e21), '1000000000000000000000');
  t.equal(formatGoFloat(1e-7), '0.0000001');
  t.equal(formatGoFloat(-1.5e-10), '-0.00000000015');
  t.equal(formatGoFloat(Infinity), '+Inf');
  const [v] = await vector('count_values("v", big)', 0);
  t.equal(v?.labels['v'], '1000000000000000000000');
});

t.test('vector matching: group_left copies labels from the one side; cardinality errors as Prometheus words them', async (t) => {
  const joined = await vector('m * on (instance) group_left (version) info', 0);
  t.same(joined.map((s) => s.labels).sort((a, b) => (a['job'] ?? '').localeCompare(b['job'] ?? '')), [
    { instance: 'x', job: 'a', path: '/p', version: 'v1' },
    { instance: 'x', job: 'b', path: '/q', version: 'v1' },
  ]);
  const many = await refused('m * on (instance) dup');
  t.match(many.message, /found duplicate series for the match group \{instance="x"\} on the right hand-side of the operation: .*many-to-many matching not allowed: matching labels must be unique on one side/);
  t.match((await refused('m * on (instance) info')).message, /multiple matches for labels: many-to-one matching must be explicit \(group_left\/group_right\)/);
  t.same((await vector('info * on (instance) group_right m', 0)).map((s) => [s.labels['job'], s.value]).sort(), [['a', 1], ['b', 2]], 'group_right keeps the many side (right) labels and values');
  t.same((await vector('m and on (job) m{job="b"}', 0)).map((s) => s.labels['job']), ['b']);
  t.same((await vector('m unless on (job) m{job="b"}', 0)).map((s) => s.labels['job']), ['a']);
  t.same((await vector('m{job="a"} or m', 0)).map((s) => s.labels['job']), ['a', 'b']);
  t.same((await vector('m > bool 1', 0)).map((s) => [s.labels['__name__'], s.value]), [[undefined, 0], [undefined, 1]], 'bool answers 0/1 and drops the name');
  t.same((await vector('m > 1', 0)).map((s) => [s.labels['__name__'], s.value]), [['m', 2]], 'a filter keeps the name');
});

t.test('bounds: samples held, steps per range query, and the abort signal', async (t) => {
  const small = createPromqlEngine({ samplesMax: 3 });
  t.equal((await refused('c_total[5m]', at(60_000), small)).code, 'ERR_LIMIT_EXCEEDED');
  t.equal((await refused('c_total', { startMs: 0, endMs: 11_000 * 1000, stepMs: 1000 })).code, 'ERR_LIMIT_EXCEEDED', '11,001 steps');
  const ac = new AbortController();
  ac.abort();
  t.equal((await refused('c_total', at(60_000), promqlEngine, ac.signal)).code, 'ERR_UNAVAILABLE');
  t.equal((await refused('c_total[5m]', { startMs: 0, endMs: 60_000, stepMs: 15_000 })).code, 'ERR_INVALID_ARGUMENT', 'a range query over a range vector');
});

t.test('evaluateShard answers one point per series per step, sorted by labels', async (t) => {
  const out = await evaluateShard('m', at(0), 300_000, source, opts.signal);
  t.same(out.map((s) => [s.labels.find((l) => l.name === 'job')?.value, Array.from(s.timestampsMs), Array.from(s.values)]), [['a', [0], [1]], ['b', [0], [2]]]);
  const range = await evaluateShard('sum(c_total)', { startMs: 0, endMs: 60_000, stepMs: 30_000 }, 300_000, source, opts.signal);
  t.same(range.map((s) => Array.from(s.values)), [[0, 20, 40]]);
});
