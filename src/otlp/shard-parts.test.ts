import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { PartitionLimits, StorageLimits } from '../limits.js';
import { codeOf } from '../storage/storage-test-util.js';
import { initHash } from '../partition/hash.js';
import type { GroupId } from '../raft/types.js';
import type { KeyValue, LogRow, MetricPointRow, Resource, SpanRow } from '../storage/rows.js';
import { randomAttributes, randomRows } from '../storage/rows-test-util.js';
import { encodeParts, routeReference, splitByShard } from './shard-parts.js';
import type { RowBatch } from './shard-parts.js';

const SHARDS = 64;
const KEY = '0123456789abcdef';

/** shardsOf maps every row of a split back to its shard. */
function shardsOf(split: Map<GroupId, RowBatch>): Map<object, GroupId> {
  const out = new Map<object, GroupId>();
  for (const [shard, b] of split) for (const r of [...b.spans, ...b.points, ...b.logs]) out.set(r, shard);
  return out;
}

const str = (key: string, value: string): KeyValue => ({ key, value: { type: 'string', value } });

/** trickyResources are resources whose labels a Record and a list hold differently, or that escape and sort at the edges. */
function trickyResources(rand: SeededRand): Resource[] {
  const lists: KeyValue[][] = [
    [str('service.name', 'a'), str('service.name', 'b')],
    [str('service.name', 'a'), str('service.name', '')],
    [str('__proto__', 'x'), str('host.name', 'h')],
    [str('', 'empty key'), str('resource_x', 'y'), str('otel_type', 'gauge')],
    [str('a', ''), str('b', '')],
    [str('日本語', '🚀'), str('lone', '\ud800'), str('long', 'x'.repeat(300))],
    [],
    randomAttributes(rand, 2, 40),
  ];
  return lists.map((attributes) => ({ attributes, droppedAttributesCount: 0, schemaUrl: '' }));
}

t.test('splitByShard puts every row on the shard the reference definition gives (seeded rows, shared and tricky resources)', async (t) => {
  const hasher = await initHash();
  let checked = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const rand = new SeededRand(seed);
    const rows = randomRows(rand, { spans: 200, points: 400, logs: 300 });
    const tricky = trickyResources(rand);
    const points: MetricPointRow[] = rows.points.map((p, i) => (i % 3 === 0 ? { ...p, resource: tricky[i % tricky.length] as Resource } : p));
    // Point attributes that collide with resource and otel label names, or repeat.
    points.push({ ...(rows.points[0] as MetricPointRow), attributes: [str('resource_service.name', 'p'), str('otel_scope_name', 's'), str('k', '1'), str('k', '2')] });
    const logs: LogRow[] = rows.logs.map((r, i) => {
      const traceId = i % 4 === 0 ? new Uint8Array(16) : i % 4 === 1 ? new Uint8Array(0) : r.traceId;
      return { ...r, traceId, resource: i % 2 === 0 ? (tricky[i % tricky.length] as Resource) : r.resource };
    });
    // Runs of spans of one trace, as exporters send them.
    const spans: SpanRow[] = rows.spans.map((s, i) => (i % 3 === 0 ? s : { ...s, traceId: (rows.spans[i - (i % 3)] as SpanRow).traceId.slice() }));
    const batch: RowBatch = { spans, points, logs };
    const got = shardsOf(splitByShard(hasher, SHARDS, 'tenant-é', KEY, batch));
    for (const row of spans) t.equal(got.get(row), routeReference(hasher, SHARDS, 'tenant-é', KEY, { kind: 'span', row }));
    for (const row of points) t.equal(got.get(row), routeReference(hasher, SHARDS, 'tenant-é', KEY, { kind: 'point', row }));
    for (const row of logs) t.equal(got.get(row), routeReference(hasher, SHARDS, 'tenant-é', KEY, { kind: 'log', row }));
    checked += spans.length + points.length + logs.length;
  }
  t.equal(checked, 12 * 901);
});

t.test('splitByShard refuses what the reference refuses, with its code', async (t) => {
  const hasher = await initHash();
  const rows = randomRows(new SeededRand(9), { spans: 3, points: 3, logs: 3 });
  const span = rows.spans[0] as SpanRow;
  const point = rows.points[0] as MetricPointRow;
  const log = rows.logs[0] as LogRow;
  const split = (b: Partial<RowBatch>, tenant = 'default'): unknown => splitByShard(hasher, 16, tenant, KEY, { spans: [], points: [], logs: [], ...b });
  t.throws(() => split({ spans: [span, { ...span, traceId: new Uint8Array(8).fill(1) }] }), { code: 'ERR_INVALID_ARGUMENT' }, 'a short trace id');
  t.throws(() => split({ spans: [span] }, ''), { code: 'ERR_INVALID_ARGUMENT' }, 'an empty tenant');
  t.throws(() => split({ points: [{ ...point, name: '' }] }), { code: 'ERR_INVALID_ARGUMENT' }, 'an empty metric name');
  const huge: MetricPointRow = { ...point, attributes: [str('a', 'x'.repeat(PartitionLimits.partitionKeyBytesMax))] };
  t.throws(() => split({ points: [huge] }), { code: 'ERR_LIMIT_EXCEEDED' }, 'a series key over its bound');
  t.throws(() => split({ logs: [{ ...log, traceId: new Uint8Array(5).fill(1) }] }), { code: 'ERR_INVALID_ARGUMENT' }, 'a log trace id of a bad length');
  t.throws(() => split({ logs: [{ ...log, traceId: new Uint8Array(0) }] }, ''), { code: 'ERR_INVALID_ARGUMENT' }, 'a trace-less log of an empty tenant');
});

t.test('planted defects: a row the decoder would refuse is refused by encodeParts, before any part exists to propose', async (t) => {
  const hasher = await initHash();
  const rows = randomRows(new SeededRand(13), { spans: 20, points: 20, logs: 20 });
  const gauge: MetricPointRow = { ...(rows.points[0] as MetricPointRow), data: { type: 'gauge', value: { type: 'double', value: 1.5 } }, exemplars: [] };
  const encode = (b: Partial<RowBatch>, tenant = 'default'): unknown =>
    encodeParts(tenant, KEY, 1_790_000_000_000, splitByShard(hasher, 16, tenant, KEY, { spans: [...rows.spans], points: [gauge], logs: [...rows.logs], ...b }));
  t.equal(codeOf(() => encode({})), 'ok', 'the rows without a defect encode');
  const span = rows.spans[1] as SpanRow;
  const log = rows.logs[1] as LogRow;
  const cases: [string, Partial<RowBatch>, string][] = [
    ['a span id of 7 bytes', { spans: [...rows.spans, { ...span, spanId: new Uint8Array(7).fill(1) }] }, 'ERR_INVALID_ARGUMENT'],
    ['a span name over stringBytesMax', { spans: [{ ...span, name: 'x'.repeat(StorageLimits.stringBytesMax + 1) }] }, 'ERR_LIMIT_EXCEEDED'],
    ['a severity number of 99', { logs: [...rows.logs, { ...log, severityNumber: 99 }] }, 'ERR_INVALID_ARGUMENT'],
    ['a row of another tenant', { logs: [{ ...log, tenant: 'other' }] }, 'ERR_INVALID_ARGUMENT'],
    // Points only: the fast check reads these entries with decodeMetricEntry, which must decline them.
    ['a gauge point with flags -1', { spans: [], logs: [], points: [gauge, { ...gauge, flags: -1 }] }, 'ERR_INVALID_ARGUMENT'],
    ['a gauge point time past 64 bits', { spans: [], logs: [], points: [{ ...gauge, timeUnixNano: 1n << 64n }] }, 'ERR_INVALID_ARGUMENT'],
    ['a point with more attributes than attributesPerListMax', { spans: [], logs: [], points: [{ ...gauge, attributes: Array.from({ length: StorageLimits.attributesPerListMax + 1 }, (_, i) => str(`k${i}`, 'v')) }] }, 'ERR_LIMIT_EXCEEDED'],
    ['an exemplar trace id of 3 bytes', { spans: [], logs: [], points: [{ ...gauge, exemplars: [{ timeUnixNano: 1n, value: { type: 'double', value: 1 }, traceId: new Uint8Array(3), spanId: new Uint8Array(0), filteredAttributes: [] }] }] }, 'ERR_INVALID_ARGUMENT'],
  ];
  for (const [what, b, code] of cases) t.equal(codeOf(() => encode(b)), code, what);
  t.equal(codeOf(() => encode({ spans: [], logs: [], points: [{ ...gauge, tenant: 'bad tenant!' }] }, 'bad tenant!')), 'ERR_INVALID_ARGUMENT', 'an invalid tenant');
});
