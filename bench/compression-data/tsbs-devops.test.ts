import t from 'tap';
import type { Series } from './series.js';
import {
  TSBS_DEVOPS_DEFAULTS,
  TSBS_DEVOPS_FIELDS,
  TSBS_DEVOPS_METRICS_PER_HOST,
  tsbsDevopsSeries,
  tsbsDevopsSeriesAt,
  tsbsDevopsSeriesCount,
} from './tsbs-devops.js';
import type { TsbsDevopsOptions, TsbsFieldKind } from './tsbs-devops.js';

// Small runs (one hour, a few hosts) so the whole file takes a second; one
// test builds a single series of the full default day to pin its length.

const HOUR: TsbsDevopsOptions = { ...TSBS_DEVOPS_DEFAULTS, hosts: 3, durationMs: 3_600_000 };
const HOST_TAGS = ['hostname', 'region', 'datacenter', 'rack', 'os', 'arch', 'team', 'service', 'service_version', 'service_environment'];

function sameSeries(a: Series, b: Series): boolean {
  const bytes = (x: Float64Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return a.name === b.name && JSON.stringify(a.labels) === JSON.stringify(b.labels) && bytes(a.timestampsMs).equals(bytes(b.timestampsMs)) && bytes(a.values).equals(bytes(b.values));
}

/** kindViolation returns why a series breaks its field kind's promise, or undefined. */
function kindViolation(kind: TsbsFieldKind, values: Float64Array): string | undefined {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) return `value ${i} is not finite`;
    if (kind === 'counter' && i > 0 && v < values[i - 1]!) return `counter decreases at ${i}`;
    if (kind === 'percent' && (v < 0 || v > 100)) return `percent ${v} out of [0, 100] at ${i}`;
    if (kind === 'constant' && v !== values[0]) return `constant changes at ${i}`;
  }
  return undefined;
}

t.test('the field table is TSBS devops: 101 fields, per-measurement counts, TSBS order', async (t) => {
  t.equal(TSBS_DEVOPS_FIELDS.length, 101);
  const counts: Record<string, number> = {};
  for (const f of TSBS_DEVOPS_FIELDS) counts[f.measurement] = (counts[f.measurement] ?? 0) + 1;
  t.same(counts, { cpu: 10, diskio: 7, disk: 7, kernel: 6, mem: 9, net: 8, nginx: 7, postgresl: 16, redis: 31 });
  t.same(Object.keys(counts), ['cpu', 'diskio', 'disk', 'kernel', 'mem', 'net', 'nginx', 'postgresl', 'redis']);
  t.same(TSBS_DEVOPS_FIELDS.slice(0, 10).map((f) => f.field), [
    'usage_user', 'usage_system', 'usage_idle', 'usage_nice', 'usage_iowait', 'usage_irq', 'usage_softirq', 'usage_steal', 'usage_guest', 'usage_guest_nice',
  ]);
  t.equal(new Set(TSBS_DEVOPS_FIELDS.map((f) => `${f.measurement}_${f.field}`)).size, 101, 'series names are unique per host');
});

t.test('same seed gives the identical first series; another seed a different one', async (t) => {
  const first = (seed: number): Series => {
    const next = tsbsDevopsSeries({ ...HOUR, seed }).next();
    t.notOk(next.done);
    return next.value as Series;
  };
  t.ok(sameSeries(first(7), first(7)), 'seed 7 twice');
  t.notOk(sameSeries(first(7), first(8)), 'seed 7 vs seed 8');
  // A counter starts at 0 for every seed, so compare a whole host's values too.
  const host = (seed: number): Series[] => [...tsbsDevopsSeries({ ...HOUR, hosts: 1, seed })];
  const a = host(7);
  const b = host(7);
  const c = host(8);
  t.ok(a.every((s, i) => sameSeries(s, b[i]!)), 'every series of seed 7 repeats');
  t.ok(a.filter((s, i) => !sameSeries(s, c[i]!)).length > 90, 'nearly every series of seed 8 differs');
});

t.test('any one series can be built alone and equals its place in the stream', async (t) => {
  const all = [...tsbsDevopsSeries(HOUR)];
  for (const [host, metric] of [[0, 0], [2, 100], [1, 34], [1, 26], [2, 57]] as const) {
    t.ok(sameSeries(tsbsDevopsSeriesAt(HOUR, host, metric), all[host * TSBS_DEVOPS_METRICS_PER_HOST + metric]!), `host ${host} metric ${metric}`);
  }
});

t.test('shapes: 101 series per host, duration / interval samples, regular timestamps, host tags', async (t) => {
  const all = [...tsbsDevopsSeries(HOUR)];
  t.equal(all.length, 3 * 101);
  t.equal(tsbsDevopsSeriesCount(HOUR), 3 * 101);
  t.equal(tsbsDevopsSeriesCount(TSBS_DEVOPS_DEFAULTS), 100 * 101, 'the default run is 100 hosts x 101');
  for (const [i, s] of all.entries()) {
    const host = Math.floor(i / 101);
    t.equal(s.name, `${TSBS_DEVOPS_FIELDS[i % 101]!.measurement}_${TSBS_DEVOPS_FIELDS[i % 101]!.field}`);
    t.equal(s.values.length, 360);
    t.equal(s.timestampsMs.length, 360);
    t.equal(s.timestampsMs[0], HOUR.startMs);
    t.equal(s.timestampsMs[359], HOUR.startMs + 359 * 10_000);
    t.equal(s.labels.hostname, `host_${host}`);
    for (const tag of HOST_TAGS) t.type(s.labels[tag], 'string', `${s.name} has tag ${tag}`);
  }
  t.equal(all[0]!.labels.datacenter!.startsWith(all[0]!.labels.region!), true, 'a datacenter lies in its region');
  const day = tsbsDevopsSeriesAt(TSBS_DEVOPS_DEFAULTS, 99, 100);
  t.equal(day.values.length, 8640, 'one default day at 10 s is 8640 samples');
  t.equal(day.name, 'redis_used_cpu_user_children');
});

t.test('values keep their kind: counters never decrease, percentages stay in range, constants stay', async (t) => {
  for (const s of tsbsDevopsSeries({ ...HOUR, seed: 42, durationMs: 6 * 3_600_000 })) {
    const spec = TSBS_DEVOPS_FIELDS.find((f) => `${f.measurement}_${f.field}` === s.name)!;
    const violation = kindViolation(spec.kind, s.values);
    if (violation !== undefined) t.fail(`${s.labels.hostname} ${s.name}: ${violation}`);
    const floatField = s.name.startsWith('mem_') && s.name.endsWith('_percent');
    if (!floatField && !s.values.every((v) => Number.isInteger(v) && !Object.is(v, -0))) t.fail(`${s.name} is written as int64`);
  }
  t.pass('checked every series of 3 hosts over 6 hours');
});

t.test('the kind checker catches a planted bug', async (t) => {
  t.match(kindViolation('counter', Float64Array.of(1, 2, 1)), /decreases/);
  t.match(kindViolation('percent', Float64Array.of(50, 100.5)), /out of/);
  t.match(kindViolation('constant', Float64Array.of(3, 3, 4)), /changes/);
  t.equal(kindViolation('gauge', Float64Array.of(3, 1, 4)), undefined);
});

t.test('cpuValues: int64 as TSBS writes it, or full-precision float64 from the same walk', async (t) => {
  const asInt = tsbsDevopsSeriesAt(HOUR, 0, 0);
  const asFloat = tsbsDevopsSeriesAt({ ...HOUR, cpuValues: 'float64' }, 0, 0);
  t.ok(asInt.values.every((v) => Number.isInteger(v)));
  t.ok(asFloat.values.some((v) => !Number.isInteger(v)));
  t.ok(asFloat.values.every((v, i) => Math.trunc(v) === asInt.values[i]), 'the int64 series truncates the float one');
});

t.test('metricsPerHost takes a prefix: 10 is TSBS cpu-only', async (t) => {
  const names = [...tsbsDevopsSeries({ ...HOUR, hosts: 2, metricsPerHost: 10 })].map((s) => s.name);
  t.equal(names.length, 20);
  t.ok(names.every((n) => n.startsWith('cpu_usage_')));
});

t.test('a nonsensical run is refused (an assertion: a bad option is a bug in the bench)', async (t) => {
  t.throws(() => [...tsbsDevopsSeries({ ...HOUR, hosts: 0 })], { code: 'ERR_INTERNAL' });
  t.throws(() => tsbsDevopsSeriesCount({ ...HOUR, metricsPerHost: 102 }), { code: 'ERR_INTERNAL' });
  t.throws(() => tsbsDevopsSeriesAt(HOUR, 3, 0), { code: 'ERR_INTERNAL' });
});
