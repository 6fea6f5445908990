import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { initHash } from '../../partition/hash.js';
import type { MetricPointRow } from '../rows.js';
import { PREPARE_NEW, SeriesRegistry } from './series-registry.js';
import { escapeLabelName, pointLabelsInto, renderAnyValue, resourceLabelsInto, seriesLabels, timestampMs } from './series-identity.js';
import { randomRows } from '../rows-test-util.js';
import { mergeInto, partialsOf, pickResolution, pointOf } from './rollup.js';
import { gauge, row } from './store-test-util.js';
import { IdentityMemo } from './identity-memo.js';

const hasher = await initHash();

t.test('escapeLabelName keeps plain names and escapes the rest injectively into valid label names', async (t) => {
  t.equal(escapeLabelName('http_method'), 'http_method');
  t.equal(escapeLabelName('host.name'), 'U__host_2e_name');
  t.equal(escapeLabelName('host_name'), 'host_name');
  t.equal(escapeLabelName('otel_type'), 'U__otel__type', 'a reserved prefix is escaped');
  t.equal(escapeLabelName('resource_x'), 'U__resource__x');
  t.equal(escapeLabelName('__x'), 'U______x');
  t.equal(escapeLabelName('U__a'), 'U__U____a');
  t.equal(escapeLabelName('é'), 'U___e9_');
  // Injective over a random set of keys mixing the characters that matter, and always valid for the registry.
  const rand = new SeededRand(11);
  const alphabet = ['a', 'b', '_', '.', 'U', '1', '-', 'é', 'o', 't', 'e', 'l'];
  const seen = new Map<string, string>();
  const reg = new SeriesRegistry(hasher);
  const problems: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const len = 1 + rand.intn(8);
    let k = '';
    for (let j = 0; j < len; j++) k += alphabet[rand.intn(alphabet.length)] as string;
    const e = escapeLabelName(k);
    const prev = seen.get(e);
    if (prev !== undefined && prev !== k) problems.push(`${k} and ${prev} both escape to ${e}`);
    seen.set(e, k);
    if (reg.prepare('t', 'm', [{ name: e, value: 'v' }]) === -2) problems.push(`${e} is not a valid label name`);
  }
  t.same(problems, [], 'seed 11');
});

t.test('renderAnyValue spells every AnyValue type', async (t) => {
  t.equal(renderAnyValue({ type: 'string', value: 'x' }), 'x');
  t.equal(renderAnyValue({ type: 'bool', value: true }), 'true');
  t.equal(renderAnyValue({ type: 'int', value: -(2n ** 63n) }), '-9223372036854775808');
  t.equal(renderAnyValue({ type: 'double', value: 0.1 }), '0.1');
  t.equal(renderAnyValue({ type: 'double', value: NaN }), 'NaN');
  t.equal(renderAnyValue({ type: 'double', value: -Infinity }), '-Inf');
  t.equal(renderAnyValue({ type: 'bytes', value: Uint8Array.of(1, 2, 255) }), 'AQL/');
  t.equal(renderAnyValue({ type: 'empty' }), '');
  t.equal(
    renderAnyValue({
      type: 'kvlist',
      values: [
        { key: 'a', value: { type: 'int', value: 1n } },
        { key: 'b', value: { type: 'array', values: [{ type: 'bool', value: false }] } },
      ],
    }),
    '{"a":"1","b":"[\\"false\\"]"}',
  );
});

t.test('seriesLabels: type, temporality, unit, monotonicity, scope, point attributes and prefixed resource attributes', async (t) => {
  const base = row('t', { name: 'x', host: 'web-1', tMs: 1000, data: gauge(1) });
  t.same(
    seriesLabels(base).map((l) => `${l.name}=${l.value}`),
    ['otel_type=gauge', 'otel_unit=1', 'otel_scope_name=test-scope', 'otel_scope_version=1.0', 'cpu=total', 'resource_U__host_2e_name=web-1'],
  );
  const upDown: MetricPointRow = { ...base, unit: '', data: { type: 'sum', temporality: 2, monotonic: false, value: { type: 'int', value: 1n } } };
  t.same(seriesLabels(upDown).slice(0, 3), [
    { name: 'otel_type', value: 'sum' },
    { name: 'otel_temporality', value: 'cumulative' },
    { name: 'otel_monotonic', value: 'false' },
  ], 'a non-monotonic sum says so; an empty unit is no label');
  const counter: MetricPointRow = { ...upDown, data: { type: 'sum', temporality: 2, monotonic: true, value: { type: 'int', value: 1n } } };
  t.notOk(seriesLabels(counter).some((l) => l.name === 'otel_monotonic'), 'a monotonic sum keeps the identity it had before the flag was recorded');
  const described: MetricPointRow = { ...base, description: 'a new wording' };
  t.same(seriesLabels(described), seriesLabels(base), 'the description is not part of the identity');
  const hist: MetricPointRow = {
    ...base,
    data: { type: 'histogram', temporality: 1, count: 0, sum: null, min: null, max: null, bounds: [], bucketCounts: [] },
  };
  t.same(seriesLabels(hist).slice(0, 2), [
    { name: 'otel_type', value: 'histogram' },
    { name: 'otel_temporality', value: 'delta' },
  ]);
  const reg = new SeriesRegistry(hasher);
  const a = reg.prepare('t', 'x', seriesLabels(base));
  t.equal(a, PREPARE_NEW);
  reg.create();
  t.equal(reg.prepare('t', 'x', seriesLabels(hist)), PREPARE_NEW, 'a gauge and a histogram of one name are two series');
});

t.test('timestampMs floors nanoseconds to milliseconds', async (t) => {
  t.equal(timestampMs(1_700_000_000_123_999_999n), 1_700_000_000_123);
  t.equal(timestampMs(0n), 0);
  t.equal(timestampMs(2n ** 64n - 1n), 18_446_744_073_709);
});

t.test('rollup partials merged in write order equal the aggregate of the last writes; pickResolution', async (t) => {
  const rand = new SeededRand(3);
  for (let round = 0; round < 200; round++) {
    // Write order: runs of increasing times; each run may start at the previous run's last time (a rewrite).
    const runs: [number, number][][] = [];
    let tm = 0;
    for (let r = 0; r < 1 + rand.intn(4); r++) {
      const run: [number, number][] = [];
      if (r > 0 && rand.intn(2) === 0) tm -= 1; // rewrite the last time
      for (let i = 0; i < 1 + rand.intn(5); i++) run.push([(tm += 1), rand.intn(100) - 50]);
      runs.push(run);
    }
    const final = new Map<number, number>();
    for (const run of runs) for (const [x, v] of run) final.set(x, v);
    const vs = [...final.values()];
    const merged = runs
      .map((run) => partialsOf(run.map((p) => p[0]), run.map((p) => p[1]), run.length, 1_000_000)[0])
      .reduce((a, b) => {
        if (a === undefined || b === undefined) return a ?? b;
        mergeInto(a, b);
        return a;
      });
    const p = pointOf(merged as NonNullable<typeof merged>);
    t.same(
      { min: p.min, max: p.max, sum: p.sum, count: p.count },
      { min: Math.min(...vs), max: Math.max(...vs), sum: vs.reduce((a, b) => a + b, 0), count: vs.length },
      `round ${round}`,
    );
  }
  t.equal(pickResolution(15_000), 'raw');
  t.equal(pickResolution(300_000), '5m');
  t.equal(pickResolution(1_800_000), '5m');
  t.equal(pickResolution(3_600_000), '1h');
  t.equal(pickResolution(86_400_000), '1h');
});

t.test('IdentityMemo finds a known identity through new objects and misses any changed part', async (t) => {
  const memo = new IdentityMemo();
  const base = row('t', { name: 'up', host: 'a', tMs: 1, data: gauge(1) });
  t.equal(memo.get('t', base), -1);
  memo.set('t', base, 7);
  t.equal(memo.get('t', row('t', { name: 'up', host: 'a', tMs: 2, data: gauge(5) })), 7, 'new row objects, same identity');
  t.equal(memo.get('u', base), -1, 'another tenant');
  t.equal(memo.get('t', row('t', { name: 'up', host: 'b', tMs: 2, data: gauge(5) })), -1, 'another resource');
  t.equal(memo.get('t', row('t', { name: 'up', host: 'a', tMs: 2, data: gauge(5), extraAttr: 'cpu1' })), -1, 'another attribute value');
  t.equal(memo.get('t', row('t', { name: 'up2', host: 'a', tMs: 2, data: gauge(5) })), -1, 'another name');
  t.equal(memo.get('t', { ...base, data: { type: 'sum', temporality: 2, monotonic: true, value: { type: 'double', value: 1 } } }), -1, 'another type');
  t.equal(memo.get('t', { ...base, scope: { ...base.scope, version: '2' } }), -1, 'another scope version');
  t.equal(memo.get('t', base), 7, 'the same row again');
  const small = new IdentityMemo(2);
  small.get('t', base);
  small.set('t', base, 1);
  const other = row('t', { name: 'x', host: 'a', tMs: 1, data: gauge(1) });
  small.get('t', other);
  small.set('t', other, 2);
  const third = row('t', { name: 'y', host: 'a', tMs: 1, data: gauge(1) });
  small.get('t', third);
  small.set('t', third, 3);
  t.equal(small.size, 1, 'cleared when full');
  t.equal(small.get('t', third), 3);
});

t.test('IdentityMemo keeps every identity of 5,000 series and misses an unseen one', async (t) => {
  const memo = new IdentityMemo();
  const rows = [];
  for (let i = 0; i < 5000; i++) rows.push(row('t', { name: `m${i % 10}`, host: `h${Math.floor(i / 10)}`, tMs: 1, data: gauge(1) }));
  let found = 0;
  for (let i = 0; i < rows.length; i++) {
    if (memo.get('t', rows[i] as (typeof rows)[number]) !== -1) found++;
    memo.set('t', rows[i] as (typeof rows)[number], i);
  }
  t.equal(found, 0, 'each identity is new when first seen');
  t.equal(memo.size, 5000);
  let wrong = 0;
  for (let i = rows.length - 1; i >= 0; i--) if (memo.get('t', rows[i] as (typeof rows)[number]) !== i) wrong++;
  t.equal(wrong, 0, 'every id found after the growth');
  t.equal(memo.get('t', row('t', { name: 'm0', host: 'h500', tMs: 1, data: gauge(1) })), -1, 'an unseen host');
});

t.test('pointLabelsInto then resourceLabelsInto give seriesLabels, in order (seeded rows)', (t) => {
  const rows = randomRows(new SeededRand(31), { points: 500 });
  for (const p of rows.points) {
    const names: string[] = [];
    const values: string[] = [];
    const n = resourceLabelsInto(p.resource, names, values, pointLabelsInto(p, names, values, 0, escapeLabelName));
    t.same(
      names.slice(0, n).map((name, i) => ({ name, value: values[i] })),
      seriesLabels(p),
    );
  }
  t.end();
});
