import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { PartitionLimits } from '../limits.js';
import { initHash } from '../partition/hash.js';
import type { GroupId } from '../raft/types.js';
import type { KeyValue, LogRow, MetricPointRow, Resource, SpanRow } from '../storage/rows.js';
import { randomAttributes, randomRows } from '../storage/rows-test-util.js';
import { routeReference, splitByShard } from './shard-parts.js';
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
