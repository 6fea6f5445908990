import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { initHash } from '../partition/hash.js';
import { LabelIndex } from '../storage/metrics/label-index.js';
import type { Matcher } from '../storage/metrics/label-index.js';
import { MetricStore } from '../storage/metrics/metric-store.js';
import { Flusher, openTempDb, removeTempDb, stringKv, testPointRow } from '../storage/metrics/store-test-util.js';
import type { MetricPointRow } from '../storage/rows.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { PromView } from './metrics-prom-view.js';
import type { ShardReadContext, ShardReadResult } from './metrics-shard-read.js';
import { readShardSeries } from './metrics-shard-read.js';
import type { FloatSeries, SelectRollup } from './promql/source.js';

// metrics-shard-read.ts lists a tenant's series with `otel_type != ""`
// instead of `otel_type =~ ".+"` (no regex compiled per shard part). The two
// select the same series on any index: every series carrying otel_type, in
// this tenant only. Seeded random series, some without otel_type.

const NOT_EMPTY: readonly Matcher[] = [{ name: 'otel_type', op: '!=', value: '' }];
const ANY_VALUE: readonly Matcher[] = [{ name: 'otel_type', op: '=~', value: '.+' }];

t.test('otel_type != "" selects exactly what otel_type =~ ".+" does', async (t) => {
  const rand = new SeededRand(15);
  const idx = new LabelIndex();
  const carrying: number[] = [];
  for (let id = 1; id <= 400; id++) {
    const tenant = rand.intn(4) === 0 ? 'other' : 'acme';
    const labels = [{ name: 'pod', value: `p-${rand.intn(20)}` }];
    const typed = rand.intn(5) !== 0;
    if (typed) labels.push({ name: 'otel_type', value: ['gauge', 'sum', 'histogram'][rand.intn(3)] as string });
    labels.sort((a, b) => (a.name < b.name ? -1 : 1));
    idx.add(id, tenant, 'm', labels);
    if (typed && tenant === 'acme') carrying.push(id);
  }
  t.ok(carrying.length > 100 && carrying.length < 400, 'some series carry otel_type, some do not');
  t.same([...idx.select('acme', NOT_EMPTY)], carrying, 'every acme series carrying otel_type');
  t.same([...idx.select('acme', NOT_EMPTY)], [...idx.select('acme', ANY_VALUE)], 'the same as the regex');
  // Planted bug: a narrower listing (one type only) would lose series; the check above would catch it.
  t.not([...idx.select('acme', [{ name: 'otel_type', op: '=', value: 'gauge' }])].length, carrying.length, 'a wrong matcher is seen');
});

// A selective read reads only its series: readShardSeries passes its
// candidates to the store (`only`), so `c_total{pod="p7"}` reads one chunk
// page and one series' head rows, not the whole name's 400 series (4 pages
// of 128). Raw, rollup (5m) and record (histogram) paths, part flushed, part
// in the head. Planted: a store that ignores `only` (the whole name read,
// the other series dropped after) answers the same series but is caught by
// the counts.

const H = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % H);
const PODS = 400;
const BUDGET = { seriesMax: 100_000, samplesMax: 100_000_000 };

function rowsAt(tMs: number, rand: SeededRand): MetricPointRow[] {
  const out: MetricPointRow[] = [];
  for (let i = 0; i < PODS; i++) {
    const attrs = [stringKv('pod', `p${i}`)];
    out.push(testPointRow('c', { type: 'sum', temporality: 2, monotonic: true, value: { type: 'double', value: tMs / 1000 + i } }, attrs, tMs));
    const n = rand.intn(10);
    out.push(testPointRow('h', { type: 'histogram', temporality: 2, count: n, sum: n, min: null, max: null, bounds: [1], bucketCounts: [0, n] }, attrs, tMs));
  }
  return out;
}

function key(series: readonly FloatSeries[]): string {
  return JSON.stringify(series.map((s) => [s.labels, [...s.timestampsMs], [...s.values]]));
}

/** ignoringOnly is the planted bug: the store reads every series of the name (its `only` dropped). */
function ignoringOnly(store: MetricStore): MetricStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'select') return (kv: never, tenant: string, m: never, a: number, b: number, opts: object, st: ScanStats) => target.select(kv, tenant, m, a, b, { ...opts, only: undefined }, st);
      if (prop === 'selectRecords') return (kv: never, tenant: string, m: never, a: number, b: number, st: ScanStats) => target.selectRecords(kv, tenant, m, a, b, st);
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

t.test('a selective read reads only its series (raw, rollup, records); a store ignoring `only` is caught', async (t) => {
  const tmp = await openTempDb();
  t.teardown(() => removeTempDb(tmp));
  const store = new MetricStore({ hasher: await initHash() });
  const flusher = new Flusher(store, tmp.db);
  const rand = new SeededRand(2);
  for (let tMs = T0; tMs < T0 + 3 * H; tMs += 60_000) {
    store.add('default', rowsAt(tMs, rand), 0);
    if (tMs === T0 + 2 * H) await flusher.flush();
  }
  const view = new PromView({ promoteResourceAttributes: [] });
  const read = async (s: MetricStore, matchers: Matcher[], rollup?: SelectRollup): Promise<{ r: ShardReadResult; stats: ScanStats }> => {
    const c: ShardReadContext = { shard: 0, store: s, kv: tmp.db, tenant: 'default', view, stats: newScanStats() };
    const r = await readShardSeries(c, matchers, T0, T0 + 3 * H, BUDGET, true, rollup);
    return { r, stats: c.stats };
  };
  const cases: [string, string, SelectRollup | undefined][] = [
    ['raw', 'c_total', undefined],
    ['rollup 5m', 'c_total', { resolution: '5m', aggregate: 'max' }],
    ['records', 'h_bucket', undefined],
  ];
  /** check answers whether a selective read on `s` answers the series the whole name's read does and reads a small part of what it reads. */
  const check = async (s: MetricStore, what: string, name: string, rollup?: SelectRollup): Promise<string[]> => {
    const all = await read(store, [{ name: '__name__', op: '=', value: name }], rollup);
    const one = await read(s, [{ name: '__name__', op: '=', value: name }, { name: 'pod', op: '=', value: 'p7' }], rollup);
    const wrong: string[] = [];
    const want = all.r.series.filter((x) => x.labels.some((l) => l.name === 'pod' && l.value === 'p7'));
    if (want.length === 0 || key(one.r.series) !== key(want)) wrong.push(`${what}: answer`);
    if (!(one.stats.headRowsScanned > 0 && one.stats.headRowsScanned * 100 <= all.stats.headRowsScanned)) wrong.push(`${what}: head rows ${one.stats.headRowsScanned} of ${all.stats.headRowsScanned}`);
    if (!(one.stats.bytesRead > 0 && one.stats.bytesRead * 2 <= all.stats.bytesRead)) wrong.push(`${what}: bytes ${one.stats.bytesRead} of ${all.stats.bytesRead}`);
    if (rollup === undefined && name === 'c_total') {
      // samplesDecoded counts what the read took from storage: at least what it answers, and one series' share of the whole name's.
      const [d1, dAll] = [one.stats.samplesDecoded ?? 0, all.stats.samplesDecoded ?? 0];
      if (!(d1 >= one.r.samplesRead && one.r.samplesRead > 0 && dAll >= all.r.samplesRead)) wrong.push(`${what}: decoded ${d1} / ${dAll} below read ${one.r.samplesRead} / ${all.r.samplesRead}`);
      if (!(d1 * 100 <= dAll)) wrong.push(`${what}: decoded ${d1} of ${dAll}`);
    }
    return wrong;
  };
  for (const [what, name, rollup] of cases) t.same(await check(store, what, name, rollup), [], `${what}: the answer of the whole name's read, a small part of its reading`);
  for (const [what, name, rollup] of cases) {
    const wrong = await check(ignoringOnly(store), what, name, rollup);
    t.ok(wrong.length > 0 && !wrong.some((w) => w.endsWith('answer')), `planted (${what}): the same answer, caught by the counts: ${wrong.join('; ')}`);
  }
});

t.test('samplesDecoded counts the samples taken from storage, not those answered: a range cut inside a block decodes more than it answers', async (t) => {
  const tmp = await openTempDb();
  t.teardown(() => removeTempDb(tmp));
  const store = new MetricStore({ hasher: await initHash() });
  const flusher = new Flusher(store, tmp.db);
  const rand = new SeededRand(3);
  for (let tMs = T0; tMs < T0 + 2 * H; tMs += 60_000) store.add('default', rowsAt(tMs, rand), 0);
  await flusher.flush();
  const view = new PromView({ promoteResourceAttributes: [] });
  const read = async (fromMs: number, toMs: number): Promise<{ r: ShardReadResult; stats: ScanStats }> => {
    const c: ShardReadContext = { shard: 0, store, kv: tmp.db, tenant: 'default', view, stats: newScanStats() };
    const r = await readShardSeries(c, [{ name: '__name__', op: '=', value: 'c_total' }, { name: 'pod', op: '=', value: 'p3' }], fromMs, toMs, BUDGET, true);
    return { r, stats: c.stats };
  };
  const whole = await read(T0, T0 + 2 * H);
  const cut = await read(T0 + H - 5 * 60_000, T0 + H);
  t.equal(whole.r.samplesRead, 120, 'the whole range answers its 120 samples');
  t.equal(whole.stats.samplesDecoded, 120, 'and decodes exactly those');
  t.equal(cut.r.samplesRead, 6, 'five minutes answer 6 samples');
  t.ok((cut.stats.samplesDecoded ?? 0) > cut.r.samplesRead, `but the read decoded the block's ${cut.stats.samplesDecoded ?? 0}`);
});
