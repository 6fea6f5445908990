import { readFile } from 'node:fs/promises';
import t from 'tap';
import { repoPath } from '../../src/repo-root.js';
import { collectNodeRuntime, parseDurationMs } from './node-runtime.js';
import { SERIES_FILE_FORMAT, seriesFromFile, seriesToFile } from './series.js';
import type { Series } from './series.js';

// A real collection of a few seconds: the test asserts what the bench relies
// on (series exist, timestamps increase, cumulative counters do not go down,
// a saved capture reads back bit for bit), never how long anything took.

const FIXTURE = repoPath('bench', 'compression-data', 'fixtures', 'node-runtime-60s.json');

function strictlyIncreasing(xs: Float64Array): boolean {
  for (let i = 1; i < xs.length; i++) if (!(xs[i]! > xs[i - 1]!)) return false;
  return true;
}

t.test('a short real collection yields series with increasing timestamps', async (t) => {
  const capture = await collectNodeRuntime({ durationMs: 2_500, intervalMs: 250, workload: true });
  t.equal(capture.collections, 10);
  t.ok(capture.workloadTicks > 0, 'the workload ran');
  t.equal(capture.seriesDropped, 0);
  t.ok(capture.series.length >= 5, `${capture.series.length} series`);
  for (const s of capture.series) {
    t.ok(s.values.length >= 1 && s.values.length <= capture.collections, `${s.name} has 1..collections samples`);
    t.equal(s.timestampsMs.length, s.values.length);
    t.ok(strictlyIncreasing(s.timestampsMs), `${s.name} timestamps increase`);
    t.type(s.labels.otel_scope_name, 'string');
  }
  const names = new Set(capture.series.map((s) => s.name));
  for (const name of ['process.cpu.time', 'v8js.memory.heap.used', 'nodejs.eventloop.utilization']) t.ok(names.has(name), `has ${name}`);
  const cpu = capture.series.filter((s) => s.name === 'process.cpu.time');
  t.ok(cpu.length >= 1);
  for (const s of cpu) t.ok(s.values.every((v, i) => i === 0 || v >= s.values[i - 1]!), `cumulative ${s.name} ${s.labels['process.cpu.state']} never decreases`);

  const file = JSON.stringify(seriesToFile(capture.series, { source: 'test' }));
  const back = seriesFromFile(file);
  t.equal(back.meta.source, 'test');
  t.equal(back.series.length, capture.series.length);
  const bytes = (x: Float64Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  t.ok(
    back.series.every((s: Series, i) => {
      const o = capture.series[i]!;
      return s.name === o.name && bytes(s.values).equals(bytes(o.values)) && bytes(s.timestampsMs).equals(bytes(o.timestampsMs));
    }),
    'a saved capture reads back bit for bit',
  );
});

t.test('bad options and bad files are refused with a code', async (t) => {
  await t.rejects(collectNodeRuntime({ durationMs: 1_000, intervalMs: 1 }), { code: 'ERR_INVALID_ARGUMENT' });
  await t.rejects(collectNodeRuntime({ durationMs: 10, intervalMs: 100 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => seriesFromFile('{'), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => seriesFromFile(JSON.stringify({ format: 'other', series: [] })), { code: 'ERR_INVALID_ARGUMENT' });
  const decreasing = { format: SERIES_FILE_FORMAT, meta: {}, series: [{ name: 'x', labels: {}, timestampsMs: [2, 1], values: [0, 0] }] };
  t.throws(() => seriesFromFile(JSON.stringify(decreasing)), { code: 'ERR_INVALID_ARGUMENT' });
  const ragged = { format: SERIES_FILE_FORMAT, meta: {}, series: [{ name: 'x', labels: {}, timestampsMs: [1, 2], values: [0] }] };
  t.throws(() => seriesFromFile(JSON.stringify(ragged)), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('parseDurationMs reads ms, s and m and refuses a bare number', async (t) => {
  t.equal(parseDurationMs('500ms'), 500);
  t.equal(parseDurationMs('60s'), 60_000);
  t.equal(parseDurationMs('2m'), 120_000);
  t.throws(() => parseDurationMs('60'), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => parseDurationMs('1.5s'), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('the committed 60 s capture reads back and is a real capture', async (t) => {
  const { meta, series } = seriesFromFile(await readFile(FIXTURE, 'utf8'));
  t.equal(meta.source, 'node-runtime');
  t.equal(meta.intervalMs, 1_000);
  t.ok(series.length >= 20, `${series.length} series`);
  t.ok(series.every((s) => s.values.length >= 1 && strictlyIncreasing(s.timestampsMs)), 'every series has increasing timestamps');
  // Some series are intermittent by nature (an active-resource type exists only while a file operation is in flight).
  const full = series.filter((s) => s.values.length >= 55).length;
  t.ok(full >= 0.8 * series.length, `${full} of ${series.length} series have at least 55 of 60 samples`);
});
