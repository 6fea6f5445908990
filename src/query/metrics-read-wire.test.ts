import t from 'tap';
import { Packr } from 'msgpackr';
import { SeededRand } from '../fs/seeded-rand.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { MetricsQueryLimits as L } from '../limits.js';
import { answerBytes, decodeMetricsAnswer, decodeMetricsRequest, encodeMetricsAnswer, encodeMetricsRequest } from './metrics-read-wire.js';
import type { GridPartials } from './promql/grid-partials.js';
import { strideBytes } from './promql/grid-partials.js';
import { scanStatsTuple } from '../storage/shard/signal-store.js';
import type { MetricsShardAnswer, MetricsShardRequest } from './metrics-read-wire.js';

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
const budget = { seriesMax: 10, samplesMax: 100 };
const answer: MetricsShardAnswer = {
  stats: { ...newScanStats(), bytesRead: 42 },
  seriesRead: 2,
  samplesRead: 3,
  rollupPointsRead: 1,
  series: [
    { labels: [{ name: '__name__', value: 'a' }, { name: 'x', value: '1' }], timestampsMs: Float64Array.of(1, 2), values: Float64Array.of(0.5, NaN) },
    { labels: [{ name: '__name__', value: 'b' }], timestampsMs: Float64Array.of(7), values: Float64Array.of(-Infinity) },
  ],
};

t.test('requests and answers round-trip', async (t) => {
  const reqs: MetricsShardRequest[] = [
    { op: 'select', group: 3, tenant: 'acme', consistency: 'stale', budget, matchers: [{ name: '__name__', op: '=~', value: 'a.*' }], startMs: 0, endMs: 10 },
    { op: 'series', group: 1, tenant: 'acme', consistency: 'linearizable', budget, matchers: [{ name: 'x', op: '!=', value: '' }], startMs: -5, endMs: 5 },
    { op: 'eval', group: 2, tenant: 'acme', consistency: 'linearizable', budget, expr: 'sum(rate(a[5m]))', startMs: 0, endMs: 60_000, stepMs: 15_000, lookbackMs: 300_000, maxSourceResolution: 'auto' },
    { op: 'select', group: 3, tenant: 'acme', consistency: 'stale', budget, matchers: [{ name: '__name__', op: '=', value: 'a' }], startMs: 0, endMs: 10, rollup: { resolution: '1h', aggregate: 'count' } },
    { op: 'eval', group: 2, tenant: 'acme', consistency: 'linearizable', budget, expr: 'sum_over_time(a[1h])', startMs: 0, endMs: 7_200_000, stepMs: 3_600_000, lookbackMs: 300_000, maxSourceResolution: 'raw' },
    { op: 'eval', group: 2, tenant: 'acme', consistency: 'linearizable', budget, expr: 'sum(rate(a[5m]))', startMs: 0, endMs: 60_000, stepMs: 15_000, lookbackMs: 300_000, maxSourceResolution: 'auto', answerForm: 'grid' },
  ];
  for (const r of reqs) t.same(decodeMetricsRequest(encodeMetricsRequest(r)), r, r.op);
  const back = decodeMetricsAnswer(encodeMetricsAnswer(answer), budget);
  t.same(back.series[0]?.labels, answer.series[0]?.labels);
  t.ok(Number.isNaN(back.series[0]?.values[1]), 'NaN survives');
  t.equal(back.series[1]?.values[0], -Infinity);
  t.equal(back.rollupPointsRead, 1, 'rollup points counted');
  t.equal(back.stats.bytesRead, 42);
});

t.test('planted corruption in answers is caught as ERR_CORRUPTION', async (t) => {
  const v = packr.unpack(encodeMetricsAnswer(answer)) as unknown[];
  const plant = (f: (x: unknown[]) => void): Uint8Array => {
    const c = structuredClone(v);
    f(c);
    return packr.pack(c);
  };
  const series = (x: unknown[]): unknown[][] => x[3] as unknown[][];
  const cases: [string, Uint8Array][] = [
    ['not msgpack', Uint8Array.of(0xc1, 0xc1)],
    ['wrong arity', plant((x) => x.push(0))],
    ['more rollup points than samples', plant((x) => (x[4] = 4))],
    ['unsorted labels', plant((x) => ((series(x)[0] as unknown[])[0] = ['x', '1', '__name__', 'a']))],
    ['empty label value', plant((x) => ((series(x)[0] as unknown[])[0] = ['__name__', '']))],
    ['misaligned values', plant((x) => ((series(x)[0] as unknown[])[2] = new Uint8Array(8)))],
    ['ragged float bytes', plant((x) => ((series(x)[0] as unknown[])[1] = new Uint8Array(9)))],
    ['timestamps out of order', plant((x) => ((series(x)[0] as unknown[])[1] = new Uint8Array(new Float64Array([2, 1]).buffer)))],
    ['fractional timestamp', plant((x) => ((series(x)[1] as unknown[])[1] = new Uint8Array(new Float64Array([1.5]).buffer)))],
    ['more series than the budget', plant((x) => (x[3] = Array.from({ length: 11 }, (_, i) => [['__name__', `s${i}`], new Uint8Array(0), new Uint8Array(0)])))],
    ['bad stats', plant((x) => (x[0] = 'nope'))],
    ['negative samplesDecoded', plant((x) => ((x[0] as unknown[])[6] = -1))],
    ['stats of 8', plant((x) => (x[0] as unknown[]).push(0))],
  ];
  for (const [name, bytes] of cases) t.throws(() => decodeMetricsAnswer(bytes, budget), { code: 'ERR_CORRUPTION' }, name);
  t.throws(() => decodeMetricsAnswer(encodeMetricsAnswer(answer), { seriesMax: 10, samplesMax: 2 }), { code: 'ERR_CORRUPTION' }, 'more samples than the budget');
});

t.test('random byte flips never crash the decoders (seeded)', async (t) => {
  const seed = 0x5eed;
  const rand = new SeededRand(seed);
  const good = encodeMetricsAnswer(answer);
  const req = encodeMetricsRequest({ op: 'select', group: 1, tenant: 'a', consistency: 'stale', budget, matchers: [{ name: 'a', op: '=', value: 'b' }], startMs: 0, endMs: 1 });
  for (let i = 0; i < 300; i++) {
    for (const [bytes, decode, code] of [
      [good, (b: Uint8Array) => decodeMetricsAnswer(b, budget), 'ERR_CORRUPTION'],
      [req, (b: Uint8Array) => decodeMetricsRequest(b), 'ERR_INVALID_ARGUMENT'],
    ] as const) {
      const b = Uint8Array.from(bytes);
      const at = rand.intn(b.length);
      b[at] = (b[at] as number) ^ (1 << rand.intn(8));
      try {
        decode(b);
      } catch (err) {
        if ((err as { code?: string }).code !== code) t.fail(`seed ${seed} flip ${i}: unexpected ${String(err)}`);
      }
    }
  }
  t.pass('no crash');
});

t.test('bad requests are ERR_INVALID_ARGUMENT', async (t) => {
  const bad = [
    ['unknown op', ['drop', 1, 't', 'stale', []]],
    ['bad consistency', ['select', 1, 't', 'eventual', [[['a', '=', 'b']], 0, 1, 1, 1]]],
    ['no matchers', ['select', 1, 't', 'stale', [[], 0, 1, 1, 1]]],
    ['bad match op', ['select', 1, 't', 'stale', [[['a', '~', 'b']], 0, 1, 1, 1]]],
    ['end before start', ['select', 1, 't', 'stale', [[['a', '=', 'b']], 5, 1, 1, 1]]],
    ['instant eval with a range', ['eval', 1, 't', 'stale', ['x', 0, 10, 0, 1, 1, 1]]],
    ['budget over the limit', ['select', 1, 't', 'stale', [[['a', '=', 'b']], 0, 1, 1e9, 1]]],
    ['unknown resolution', ['select', 1, 't', 'stale', [[['a', '=', 'b']], 0, 1, 1, 1, '10m', 'sum']]],
    ['unknown aggregate', ['select', 1, 't', 'stale', [[['a', '=', 'b']], 0, 1, 1, 1, '5m', 'avg']]],
    ['unknown max resolution', ['eval', 1, 't', 'stale', ['x', 0, 0, 0, 1, 1, 1, 'hourly']]],
    ['unknown answer form', ['eval', 1, 't', 'stale', ['x', 0, 0, 0, 1, 1, 1, 'auto', 'columns']]],
    ['a 10-field eval body', ['eval', 1, 't', 'stale', ['x', 0, 0, 0, 1, 1, 1, 'auto', 'grid', 0]]],
  ] as const;
  for (const [name, v] of bad) t.throws(() => decodeMetricsRequest(packr.pack(v)), { code: 'ERR_INVALID_ARGUMENT' }, name);
});

t.test('float64 columns cross the wire bit for bit: staleness markers, -0, ±Inf; from a subarray at an odd offset too', async (t) => {
  const bits = new Float64Array(6);
  const words = new Uint32Array(bits.buffer);
  words[0] = 0x00000002; // Prometheus's staleness marker 0x7ff0000000000002
  words[1] = 0x7ff00000;
  bits.set([-0, Infinity, -Infinity, 1e-310, 0.1], 1);
  const backing = new Float64Array(8);
  backing.set(bits, 1);
  const values = backing.subarray(1, 7);
  const timestampsMs = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const a = { ...answer, series: [{ labels: [{ name: '__name__', value: 'm' }], timestampsMs, values }] };
  const back = decodeMetricsAnswer(encodeMetricsAnswer(a), budget).series[0];
  t.ok(back !== undefined, 'one series');
  const got = new Uint8Array((back?.values ?? new Float64Array(0)).slice().buffer);
  t.same([...got], [...new Uint8Array(bits.buffer)], 'the same 48 bytes');
  t.ok(Object.is(back?.values[1], -0), '-0 stays -0');
});

t.test('samplesDecoded crosses the wire; an older node\'s answer (the 6-tuple of scan stats) decodes with 0', async (t) => {
  const a: MetricsShardAnswer = { ...answer, stats: { ...newScanStats(), bytesRead: 42, samplesDecoded: 480 } };
  t.equal(decodeMetricsAnswer(encodeMetricsAnswer(a), budget).stats.samplesDecoded, 480, 'counted on the shard, read on the coordinator');
  const v = packr.unpack(encodeMetricsAnswer(a)) as unknown[];
  v[0] = (v[0] as unknown[]).slice(0, 6);
  const old = decodeMetricsAnswer(packr.pack(v), budget);
  t.equal(old.stats.samplesDecoded, 0, 'absent: 0');
  t.equal(old.stats.bytesRead, 42, 'the rest of the stats as sent');
});

/** seededGrid is a grid answer of `count` series over `steps` steps, about `fill` of the steps present, values from the seed (NaN payloads and -0 among them). */
function seededGrid(rand: SeededRand, count: number, steps: number, fill: number): GridPartials {
  const stride = strideBytes(steps);
  const present = new Uint8Array(count * stride);
  const values: number[] = [];
  for (let k = 0; k < count; k++) {
    for (let i = 0; i < steps; i++) {
      if (rand.intn(1000) >= fill * 1000) continue;
      present[k * stride + (i >>> 3)] = (present[k * stride + (i >>> 3)] as number) | (1 << (i & 7));
      const r = rand.intn(10);
      values.push(r === 0 ? -0 : r === 1 ? Infinity : rand.intn(1_000_000_007) / 1024 - 5e5);
    }
  }
  const labels = Array.from({ length: count }, (_, k) => [{ name: '__name__', value: 'm' }, { name: 'app', value: `a-${String(k).padStart(4, '0')}` }]);
  return { steps, labels, present, values: Float64Array.from(values) };
}

t.test('a grid answer written straight from its columns is the bytes packr.pack made of the whole tuple; read back bit for bit from any offset', async (t) => {
  const rand = new SeededRand(2107);
  // Values of 0 and about 24 bytes (bin8), 2,048 (bin16), 65,536 (the first bin32) and more: every bin header size.
  for (const [count, steps, fill] of [[0, 10, 0], [1, 10, 0.3], [4, 64, 1], [40, 1440, 0.9], [8, 1024, 1], [40, 1440, 1]] as const) {
    const g = seededGrid(rand, count, steps, fill);
    const a: MetricsShardAnswer = { stats: { ...newScanStats(), bytesRead: 9, samplesDecoded: 77 }, seriesRead: count, samplesRead: 5_000, series: [], rollupPointsRead: 3, grid: g };
    const flat = g.labels.map((l) => l.flatMap((x) => [x.name, x.value]));
    const old = packr.pack([[...scanStatsTuple(a.stats), 77], a.seriesRead, a.samplesRead, [], a.rollupPointsRead, [g.steps, ...flat, g.present, new Uint8Array(g.values.buffer)]]);
    const bytes = encodeMetricsAnswer(a);
    t.ok(Buffer.compare(Buffer.from(bytes), Buffer.from(old)) === 0, `${count} series × ${steps} steps (${g.values.length} values): the same ${old.length} bytes`);
    const b = answerBytes(a);
    t.equal(b.byteLength, old.length, 'answerBytes says its exact length');
    for (let offset = 0; offset < 9; offset++) {
      const frame = new Uint8Array(offset + b.byteLength + 3);
      b.writeInto(frame, offset);
      const back = decodeMetricsAnswer(frame.subarray(offset, offset + b.byteLength), { seriesMax: 100, samplesMax: 100_000 }, steps).grid;
      const same = back !== undefined && Buffer.compare(Buffer.from(back.values.buffer, back.values.byteOffset, back.values.byteLength), Buffer.from(g.values.buffer)) === 0 && Buffer.compare(Buffer.from(back.present), Buffer.from(g.present)) === 0;
      if (!same || offset === 0) t.ok(same, `written at offset ${offset}: the values and bitmaps read back bit for bit`);
    }
  }
});

t.test('a grid answer past answerBytesMax is refused with ERR_LIMIT_EXCEEDED, as packing it whole was', async (t) => {
  const steps = Math.ceil(L.answerBytesMax / 8) + 8;
  const present = new Uint8Array(strideBytes(steps)).fill(0xff);
  if (steps % 8 !== 0) present[present.length - 1] = (1 << (steps % 8)) - 1;
  const g: GridPartials = { steps, labels: [[{ name: 'app', value: 'a' }]], present, values: new Float64Array(steps) };
  const a: MetricsShardAnswer = { stats: newScanStats(), seriesRead: 1, samplesRead: steps, series: [], rollupPointsRead: 0, grid: g };
  t.throws(() => answerBytes(a), { code: 'ERR_LIMIT_EXCEEDED' });
  t.throws(() => encodeMetricsAnswer(a), { code: 'ERR_LIMIT_EXCEEDED' });
});
