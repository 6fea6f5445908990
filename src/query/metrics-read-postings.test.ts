/**
 * metrics-read-postings.test.ts — the view's postings narrow a shard's
 * Prometheus read without changing its answer. A real MetricStore holds
 * series the view renames: dotted keys (`http.method` → `http_method`),
 * keys that sanitize alike (`a.b`, `a_b` → `a_b="x;y"`), `job`/`instance`
 * from resource attributes, a promoted resource attribute, name suffixes
 * (`_total`, `_bucket`/`_sum`/`_count`), a histogram's `le`. For seeded
 * matcher sets: (a) readShardSeries answers exactly the series of the whole
 * tenant's read that the matchers select (no narrowing there), and (b) the
 * postings' candidates hold every id the matchers select. A series added
 * after a read is found by the next. Planted: postings built from the
 * stored labels (what a prefilter on the store's label index would use)
 * miss selected series, and (b) catches it.
 */
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { initHash } from '../partition/hash.js';
import type { Matcher } from '../storage/metrics/label-index.js';
import { compileMatchers } from '../storage/metrics/label-index.js';
import { MetricStore } from '../storage/metrics/metric-store.js';
import { stringKv, testPointRow } from '../storage/metrics/store-test-util.js';
import type { MetricPointRow } from '../storage/rows.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import type { PromFamily } from './metrics-prom-view.js';
import { PromView, familyNames, withName } from './metrics-prom-view.js';
import { ViewPostings, candidateIdsOf, postingsOf } from './metrics-read-postings.js';
import type { ShardReadContext } from './metrics-shard-read.js';
import { readShardSeries } from './metrics-shard-read.js';
import type { FloatSeries } from './promql/source.js';

const T0 = 1_700_000_000_000;
const BUDGET = { seriesMax: 100_000, samplesMax: 100_000_000 };
const ALL: Matcher[] = [{ name: '__name__', op: '=~', value: '.+' }];

function rowsOf(i: number, tMs: number): MetricPointRow[] {
  const resource = [stringKv('service.name', `svc-${i % 3}`), stringKv('service.instance.id', `inst-${i % 5}`), stringKv('k8s.pod.name', `pod-${i % 7}`)];
  const attrs = [stringKv('http.method', ['GET', 'POST'][i % 2] as string), stringKv('a.b', `x${i % 2}`), stringKv('a_b', `y${i % 3}`)];
  return [
    testPointRow('http.requests', { type: 'sum', temporality: 2, monotonic: true, value: { type: 'double', value: i } }, attrs, tMs, { resource }),
    testPointRow('mem', { type: 'gauge', value: { type: 'double', value: i } }, [stringKv('pod', `p${i}`)], tMs, { resource }),
    testPointRow('lat', { type: 'histogram', temporality: 2, count: i, sum: i, min: null, max: null, bounds: [1], bucketCounts: [0, i] }, attrs, tMs, { resource }),
  ];
}

function matcherSets(rand: SeededRand): Matcher[][] {
  const eq = (name: string, value: string): Matcher => ({ name, op: '=', value });
  const out: Matcher[][] = [
    [eq('__name__', 'http_requests_total'), eq('job', 'svc-1')],
    [eq('http_method', 'GET')],
    [eq('a_b', 'x1;y2')],
    [eq('k8s_pod_name', 'pod-3'), eq('__name__', 'mem')],
    [eq('__name__', 'lat_bucket'), eq('le', '+Inf'), eq('instance', 'inst-2')],
    [eq('__name__', 'lat_count'), { name: 'job', op: '!=', value: 'svc-0' }],
    [eq('pod', 'p4')],
    [eq('http.method', 'GET')],
  ];
  const names = ['job', 'instance', 'http_method', 'a_b', 'k8s_pod_name', 'pod'];
  for (let k = 0; k < 12; k++) {
    const n = names[rand.intn(names.length)] as string;
    const v = n === 'job' ? `svc-${rand.intn(3)}` : n === 'instance' ? `inst-${rand.intn(5)}` : n === 'a_b' ? `x${rand.intn(2)};y${rand.intn(3)}` : n === 'k8s_pod_name' ? `pod-${rand.intn(7)}` : n === 'pod' ? `p${rand.intn(30)}` : 'POST';
    out.push([eq('__name__', ['http_requests_total', 'mem', 'lat_sum', 'lat_bucket'][rand.intn(4)] as string), eq(n, v)]);
  }
  return out;
}

function key(series: readonly FloatSeries[]): string {
  return JSON.stringify(series.map((s) => [s.labels, [...s.timestampsMs], [...s.values]]).sort());
}

/** selectedIds are the ids some name of whose family the matchers select, `le` and `quantile` left to the points. */
function selectedIds(ids: Uint32Array, familyOf: (id: number) => PromFamily, matchers: readonly Matcher[]): number[] {
  const compiled = compileMatchers(matchers);
  return [...ids].filter((id) => {
    const f = familyOf(id);
    return familyNames(f).some((n) => {
      const labels = withName(f.labels, n.name);
      return compiled.every((m) => m.name === n.extra || m.matches(labels.find((l) => l.name === m.name)?.value ?? ''));
    });
  });
}

t.test('the view postings narrow a read without changing its answer; stored-label postings are caught', async (t) => {
  const store = new MetricStore({ hasher: await initHash() });
  for (let i = 0; i < 30; i++) store.add('t', rowsOf(i, T0 + i * 1000), 0);
  const view = new PromView({ promoteResourceAttributes: ['k8s.pod.name'] });
  const c: ShardReadContext = { shard: 0, store, kv: undefined as never, tenant: 't', view, stats: newScanStats() };
  const familyOf = (id: number): PromFamily => {
    const info = store.seriesInfo(id);
    return view.familyOf(0, id, info.name, info.labels, info.description);
  };
  // All data is in the head: the reads never touch kv.
  const whole = (await readShardSeries(c, ALL, T0, T0 + 60_000, BUDGET, true)).series;
  t.equal(whole.length, 30 * (2 + 4), 'every series of the tenant: 60 floats, 30 histograms as 2 buckets (le 1, +Inf), sum, count');
  const ids = store.seriesIds('t', [{ name: 'otel_type', op: '!=', value: '' }]);
  const planted = new ViewPostings();
  planted.add(ids, (id) => {
    const info = store.seriesInfo(id);
    return { kind: 'float', name: info.name, labels: info.labels, type: 'unknown', unit: '', help: '' };
  });
  let narrowed = 0;
  let plantedCaught = 0;
  for (const ms of matcherSets(new SeededRand(9))) {
    const compiled = compileMatchers(ms);
    const want = whole.filter((s) => compiled.every((m) => m.matches(s.labels.find((l) => l.name === m.name)?.value ?? '')));
    const got = (await readShardSeries(c, ms, T0, T0 + 60_000, BUDGET, true)).series;
    const label = JSON.stringify(ms.map((m) => `${m.name}${m.op}${m.value}`));
    t.equal(key(got), key(want), `${label}: ${want.length} series, the whole read's`);
    const p = postingsOf(store, view, 0, 't', ids, familyOf);
    const sel = selectedIds(ids, familyOf, ms);
    const cands = p === undefined ? undefined : candidateIdsOf(p, ms);
    t.ok(cands !== undefined && sel.every((id) => cands.includes(id)), `${label}: the postings hold all ${sel.length} selected ids`);
    if (cands !== undefined && cands.length < ids.length) narrowed++;
    const wrong = candidateIdsOf(planted, ms);
    if (wrong === undefined || !sel.every((id) => wrong.includes(id))) plantedCaught++;
  }
  t.ok(narrowed >= 15, `${narrowed} of 20 matcher sets narrowed by the postings`);
  t.ok(plantedCaught >= 10, `planted: stored-label postings miss selected series in ${plantedCaught} of 20 matcher sets`);

  // A series added after a read is found by the next.
  const before = (await readShardSeries(c, [{ name: 'pod', op: '=', value: 'p99' }], T0, T0 + 200_000, BUDGET, true)).series;
  store.add('t', rowsOf(99, T0 + 100_000), 0);
  const after = (await readShardSeries(c, [{ name: 'pod', op: '=', value: 'p99' }], T0, T0 + 200_000, BUDGET, true)).series;
  t.same([before.length, after.length], [0, 1], 'a new series is indexed by the next read');
});
