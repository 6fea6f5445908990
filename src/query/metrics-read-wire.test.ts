import t from 'tap';
import { Packr } from 'msgpackr';
import { SeededRand } from '../fs/seeded-rand.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { decodeMetricsAnswer, decodeMetricsRequest, encodeMetricsAnswer, encodeMetricsRequest } from './metrics-read-wire.js';
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
