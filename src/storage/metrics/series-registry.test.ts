import t from 'tap';
import { MetricHeadLimits } from '../../limits.js';
import { initHash } from '../../partition/hash.js';
import { PREPARE_NEW, PREPARE_REFUSED, type SeriesHasher, SeriesRegistry, compareCodePoints } from './series-registry.js';

const hasher = await initHash();

/** collidingHasher sends every key to one hash, so every lookup depends on the byte comparison. */
const collidingHasher: SeriesHasher = { h64: () => 42n };

function getOrCreate(r: SeriesRegistry, tenant: string, name: string, labels: { name: string; value: string }[]): number {
  const id = r.prepare(tenant, name, labels);
  if (id !== PREPARE_NEW) return id;
  return r.create();
}

t.test('ids are assigned sequentially and found again whatever the label order', async (t) => {
  const r = new SeriesRegistry(hasher);
  const a = getOrCreate(r, 't1', 'up', [{ name: 'job', value: 'api' }, { name: 'instance', value: 'a:1' }]);
  const b = getOrCreate(r, 't1', 'up', [{ name: 'job', value: 'db' }]);
  t.equal(a, 0);
  t.equal(b, 1);
  t.equal(r.prepare('t1', 'up', [{ name: 'instance', value: 'a:1' }, { name: 'job', value: 'api' }]), 0, 'order of labels does not matter');
  t.equal(r.prepare('t2', 'up', [{ name: 'job', value: 'db' }]), PREPARE_NEW, 'another tenant is another series');
  t.equal(r.prepare('t1', 'down', [{ name: 'job', value: 'db' }]), PREPARE_NEW, 'another name is another series');
  t.same(r.info(0).labels, [{ name: 'instance', value: 'a:1' }, { name: 'job', value: 'api' }], 'labels are stored sorted');
  t.equal(r.size, 2);
});

t.test('an empty label value is the same as no label', async (t) => {
  const r = new SeriesRegistry(hasher);
  const a = getOrCreate(r, 't', 'm', [{ name: 'a', value: '1' }]);
  t.equal(r.prepare('t', 'm', [{ name: 'b', value: '' }, { name: 'a', value: '1' }]), a);
  t.same(r.info(a).labels, [{ name: 'a', value: '1' }]);
});

t.test('canonical keys are unambiguous (length-prefixed)', async (t) => {
  const r = new SeriesRegistry(collidingHasher);
  const a = getOrCreate(r, 't', 'm', [{ name: 'a', value: 'bc' }]);
  const b = getOrCreate(r, 't', 'm', [{ name: 'ab', value: 'c' }]);
  const c = getOrCreate(r, 'tm', '', [{ name: 'a', value: 'bc' }]);
  t.not(a, b);
  t.equal(c, PREPARE_REFUSED, 'an empty metric name is refused');
});

t.test('hash collisions are resolved by comparing canonical keys', async (t) => {
  const r = new SeriesRegistry(collidingHasher);
  const ids: number[] = [];
  for (let i = 0; i < 50; i++) ids.push(getOrCreate(r, 't', 'm', [{ name: 'i', value: String(i) }]));
  t.same(ids, [...Array(50).keys()], 'fifty colliding series get fifty ids');
  t.equal(r.collisions, 49);
  for (let i = 49; i >= 0; i--) t.equal(r.prepare('t', 'm', [{ name: 'i', value: String(i) }]), i, `series ${i} is found again`);
  t.equal(r.prepare('t', 'm', [{ name: 'i', value: '50' }]), PREPARE_NEW);
});

t.test('validation: malformed is ERR_INVALID_ARGUMENT, too large is ERR_LIMIT_EXCEEDED, never a throw', async (t) => {
  const r = new SeriesRegistry(hasher);
  const cases: [string, string, { name: string; value: string }[], string][] = [
    ['', 'm', [], 'ERR_INVALID_ARGUMENT'],
    ['t', '', [], 'ERR_INVALID_ARGUMENT'],
    ['t', 'm', [{ name: '1abc', value: 'x' }], 'ERR_INVALID_ARGUMENT'],
    ['t', 'm', [{ name: 'a-b', value: 'x' }], 'ERR_INVALID_ARGUMENT'],
    ['t', 'm', [{ name: '__name__', value: 'x' }], 'ERR_INVALID_ARGUMENT'],
    ['t', 'm', [{ name: 'a', value: 'x' }, { name: 'a', value: 'y' }], 'ERR_INVALID_ARGUMENT'],
    ['t', 'm', [{ name: 'a', value: 'x' }, { name: 'a', value: '' }], 'ERR_INVALID_ARGUMENT'],
    ['t', 'm', [{ name: 'a', value: '\ud800' }], 'ERR_INVALID_ARGUMENT'],
    ['t', 'm', [{ name: 'a', value: 'é'.repeat(MetricHeadLimits.labelValueBytesMax / 2 + 1) }], 'ERR_LIMIT_EXCEEDED'],
    ['t', 'm', [{ name: 'a'.repeat(MetricHeadLimits.labelNameBytesMax + 1), value: 'x' }], 'ERR_LIMIT_EXCEEDED'],
    ['t', 'x'.repeat(MetricHeadLimits.metricNameBytesMax + 1), [], 'ERR_LIMIT_EXCEEDED'],
    ['t'.repeat(MetricHeadLimits.tenantBytesMax + 1), 'm', [], 'ERR_LIMIT_EXCEEDED'],
    [
      't',
      'm',
      Array.from({ length: MetricHeadLimits.labelsPerSeriesMax + 1 }, (_, i) => ({ name: `l${i}`, value: 'v' })),
      'ERR_LIMIT_EXCEEDED',
    ],
    [
      't',
      'm',
      Array.from({ length: 20 }, (_, i) => ({ name: `l${i}`, value: 'v'.repeat(MetricHeadLimits.labelValueBytesMax) })),
      'ERR_LIMIT_EXCEEDED',
    ],
  ];
  for (const [tenant, name, labels, code] of cases) {
    t.equal(r.prepare(tenant, name, labels), PREPARE_REFUSED, `refused: ${tenant.slice(0, 8)} ${name.slice(0, 8)} ${JSON.stringify(labels).slice(0, 60)}`);
    t.equal(r.refusal?.code, code);
  }
  t.equal(r.prepare('t', 'http.server.duration', [{ name: 'a', value: 'é' }]), PREPARE_NEW, 'OTel names with dots and UTF-8 values are fine');
  t.equal(r.size, 0);
});

t.test('series limit: create past seriesMax is ERR_LIMIT_EXCEEDED, not retryable', async (t) => {
  const r = new SeriesRegistry(hasher, 3);
  for (let i = 0; i < 3; i++) t.equal(getOrCreate(r, 't', 'm', [{ name: 'i', value: String(i) }]), i);
  t.equal(r.prepare('t', 'm', [{ name: 'i', value: '3' }]), PREPARE_NEW);
  t.equal(r.create(), PREPARE_REFUSED);
  t.equal(r.refusal?.code, 'ERR_LIMIT_EXCEEDED');
  t.equal(r.refusal?.retryable, false);
  t.equal(r.prepare('t', 'm', [{ name: 'i', value: '1' }]), 1, 'existing series are still found');
});

t.test('compareCodePoints is UTF-8 byte order', async (t) => {
  const words = ['b', 'a', '\uffff', '\u{10000}', 'é', '', 'ab', '\ue000', 'z'];
  const byBytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  t.same([...words].sort(compareCodePoints), byBytes);
});
