import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { QueryLimits, TraceSearchLimits } from '../limits.js';
import { initHash } from '../partition/hash.js';
import { shardForKey } from '../partition/key-to-shard.js';
import { spanPartitionKey } from '../partition/partition-key.js';
import { NONE } from '../raft/types.js';
import type { GroupId, NodeId } from '../raft/types.js';
import type { SpanKind, StatusCode } from '../storage/rows.js';
import { validateIr } from './ir.js';
import type { IrPredicate, QueryIr } from './ir.js';
import { planQuery, replicaChoice, splitAggregations } from './planner.js';
import type { LocalReplica, ShardMapSnapshot } from './planner.js';
import type { TraceSearchQuery } from './search-params.js';
import { lowerTraceSearch, tagReadIr, traceByIdIr, traceSearchIr } from './trace-ir.js';

// The planner is pure: IRs and shard-map snapshots in, plans out. Shard
// pruning (a trace id touches one shard), replica choice by consistency,
// the shard/coordinator split, the aggregate split, validation of every
// limit in one place, and the trace front ends' round trip through the IR
// (seeded; a planted lossy lowering is caught).

const SHARDS = 8;
const hasher = await initHash();

function snapshot(local: (shard: GroupId) => LocalReplica | null = () => null, shardCount = SHARDS): ShardMapSnapshot {
  return {
    self: 1,
    shardCount,
    replicasOf: (shard) => [((shard % 3) + 1) as NodeId, (((shard + 1) % 3) + 1) as NodeId, (((shard + 2) % 3) + 1) as NodeId],
    local,
    shardOfTrace: (tenant, id) => shardForKey(hasher, spanPartitionKey(tenant, id), shardCount),
  };
}

const HOUR_NS = 3_600_000_000_000n;
const Q: TraceSearchQuery = { startNs: 10n * HOUR_NS, endNs: 11n * HOUR_NS, predicate: { service: 'cart' }, limit: 20, spss: 3 };

t.test('a trace id touches one shard, the one its partition key hashes to; anything else fans out to every shard', async (t) => {
  const rand = new SeededRand(3);
  for (let i = 0; i < 50; i++) {
    const id = rand.bytes(16);
    const plan = planQuery(validateIr(traceByIdIr('acme', id)), snapshot());
    t.equal(plan.targets.length, 1);
    t.equal(plan.targets[0]?.shard, shardForKey(hasher, spanPartitionKey('acme', id), SHARDS));
    t.equal(plan.prunedShards, SHARDS - 1);
    t.same(plan.shardPart, { kind: 'traceById', traceId: id });
    t.equal(plan.coordinator.merge, 'single');
  }
  const search = planQuery(validateIr(traceSearchIr('acme', Q, 'linearizable')), snapshot());
  t.same(search.targets.map((x) => x.shard), [1, 2, 3, 4, 5, 6, 7, 8]);
  t.equal(search.prunedShards, 0);
  t.same(search.coordinator, { merge: 'kwayByTime', finals: [], order: { by: 'time', direction: 'desc' }, limit: 20 });
  const tags = planQuery(validateIr(tagReadIr('acme', { startNs: 0n, endNs: HOUR_NS, target: { kind: 'names', scopes: ['span'] }, valuesMax: 50 }, 'stale')), snapshot());
  t.equal(tags.targets.length, SHARDS);
  t.same(tags.coordinator.merge, 'distinctUnion');
  t.equal(tags.coordinator.limit, 50);
  t.throws(() => planQuery(validateIr(traceSearchIr('acme', Q, 'stale')), snapshot(undefined, 0)), { code: 'ERR_UNAVAILABLE' }, 'no placement yet');
});

t.test('replica choice: the leader for linearizable, this node\'s own replica for stale', async (t) => {
  const leads: Record<number, LocalReplica | null> = { 1: { leader: true, lead: 1 }, 2: { leader: false, lead: 3 }, 3: { leader: false, lead: NONE }, 4: null };
  const map = snapshot((s) => leads[s] ?? null);
  t.equal(replicaChoice(map, 1, 'linearizable'), 1, 'this node leads');
  t.equal(replicaChoice(map, 2, 'linearizable'), 3, 'the leader it knows');
  t.equal(replicaChoice(map, 3, 'linearizable'), map.replicasOf(3)[0], 'no leader known: the first placed replica');
  t.equal(replicaChoice(map, 4, 'linearizable'), map.replicasOf(4)[0], 'no local replica: the first placed replica');
  t.equal(replicaChoice(map, 2, 'stale'), 1, 'stale reads this node\'s follower');
  t.equal(replicaChoice(map, 3, 'stale'), 1);
  t.equal(replicaChoice(map, 4, 'stale'), map.replicasOf(4)[0], 'stale without a local replica: the first placed one');
  const plan = planQuery(validateIr(traceSearchIr('acme', Q, 'linearizable')), map);
  for (const target of plan.targets) t.same(target.replicas, map.replicasOf(target.shard), 'the placed replicas are the failover order');
});

t.test('aggregations split into shard partials (one state per field and grouping, a sketch only for quantiles) and coordinator finals', async (t) => {
  const lat = { kind: 'attribute', scope: 'span', key: 'latency' } as const;
  const by = [{ kind: 'label', name: 'job' }] as const;
  const s = splitAggregations([
    { fn: 'avg', field: lat, by },
    { fn: 'quantile', field: lat, by, quantile: 0.99 },
    { fn: 'count', field: null, by: [] },
    { fn: 'topk', k: 5, field: lat, by },
  ]);
  t.same(s.partials, [
    { field: lat, by, withSketch: true, topK: null },
    { field: null, by: [], withSketch: false, topK: null },
    { field: lat, by, withSketch: false, topK: { k: 5, desc: true } },
  ]);
  t.same(s.finals, [
    { partial: 0, fn: 'avg' },
    { partial: 0, fn: 'quantile', quantile: 0.99 },
    { partial: 1, fn: 'count' },
    { partial: 2, fn: 'topk', k: 5 },
  ]);
  const rows: QueryIr = { ...traceSearchIr('acme', Q, 'stale'), signal: 'metrics', predicates: [{ op: 'cmp', level: 'series', field: { kind: 'label', name: '__name__' }, cmp: '=', value: { type: 'string', value: 'up' } }], projection: { kind: 'rows' }, aggregations: [{ fn: 'sum', field: lat, by }], order: { by: 'key', direction: 'asc' } };
  const plan = planQuery(validateIr(rows), snapshot());
  t.equal(plan.shardPart.kind, 'rows');
  t.equal(plan.coordinator.merge, 'kwayByKey', 'grouped partials merge by key');
});

/** randomQuery draws a seeded Tempo search, every optional field present or not. */
function randomQuery(rand: SeededRand): TraceSearchQuery {
  const pick = <T>(v: T): T | undefined => (rand.intn(2) === 0 ? v : undefined);
  const startNs = BigInt(rand.intn(1_000_000)) * 1_000_000_000n;
  const attrs: [string, string][] = Array.from({ length: rand.intn(4) }, (_, i) => [`k${i}`, `v${rand.intn(9)}`]);
  const p = {
    service: pick(`svc${rand.intn(5)}`),
    name: pick(`op${rand.intn(5)}`),
    kind: pick(rand.intn(6) as SpanKind),
    status: pick(rand.intn(3) as StatusCode),
    attrs: attrs.length > 0 ? attrs : undefined,
    minDurationNs: pick(BigInt(rand.intn(1000))),
    maxDurationNs: pick(BigInt(1000 + rand.intn(1000))),
  };
  const q = { rootService: pick('root'), rootName: pick('GET /'), minTraceDurationNs: pick(5n), maxTraceDurationNs: pick(50n), traceql: pick('{ .a = 1 } | count() > 1'), fullScan: pick(true as const), bytesScannedMax: pick(1 + rand.intn(1_000_000)) };
  const strip = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return { startNs, endNs: startNs + BigInt(1 + rand.intn(3600)) * 1_000_000_000n, predicate: strip(p), ...strip(q), limit: 1 + rand.intn(TraceSearchLimits.limitMax), spss: 1 + rand.intn(TraceSearchLimits.spssMax) };
}

/** roundTripProblem checks that lowering the IR of q gives q back; `mutate` plants a bug in between. */
function roundTripProblem(seed: number, cases: number, mutate: (ir: QueryIr) => QueryIr = (ir) => ir): string | null {
  const rand = new SeededRand(seed);
  for (let i = 0; i < cases; i++) {
    const q = randomQuery(rand);
    const back = lowerTraceSearch(mutate(validateIr(traceSearchIr('acme', q, 'stale'))));
    const norm = (x: TraceSearchQuery): string => JSON.stringify(x, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v), 0);
    const sortKeys = (x: TraceSearchQuery): TraceSearchQuery => JSON.parse(JSON.stringify(Object.fromEntries(Object.entries({ ...x, predicate: Object.fromEntries(Object.entries(x.predicate).sort()) }).sort()), (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))) as TraceSearchQuery;
    if (norm(sortKeys(back)) !== norm(sortKeys(q))) return `case ${i}: ${norm(q)} came back as ${norm(back)}`;
  }
  return null;
}

t.test('every trace search survives the trip through the IR unchanged (1,000 seeded queries)', async (t) => {
  t.equal(roundTripProblem(77, 1_000), null);
});

t.test('planted: an IR that loses a predicate on the way is caught by the round trip', async (t) => {
  const dropLast = (ir: QueryIr): QueryIr => ({ ...ir, predicates: ir.predicates.slice(0, -1) });
  t.match(roundTripProblem(77, 1_000, dropLast), /came back as/);
});

t.test('a trace shard refuses what it cannot run, never drops it silently', async (t) => {
  const base = validateIr(traceSearchIr('acme', Q, 'stale'));
  const unsupported: IrPredicate[] = [
    { op: 'match', level: 'span', field: { kind: 'intrinsic', name: 'spanName' }, syntax: 'regex', pattern: 'GET.*', negate: false },
    { op: 'or', args: [{ op: 'cmp', level: 'span', field: { kind: 'intrinsic', name: 'spanName' }, cmp: '=', value: { type: 'string', value: 'a' } }] },
    { op: 'cmp', level: 'series', field: { kind: 'label', name: 'job' }, cmp: '=', value: { type: 'string', value: 'x' } },
    { op: 'cmp', level: 'span', field: { kind: 'intrinsic', name: 'spanName' }, cmp: '!=', value: { type: 'string', value: 'a' } },
    { op: 'cmp', level: 'span', field: { kind: 'intrinsic', name: 'service' }, cmp: '=', value: { type: 'string', value: 'twice' } },
  ];
  for (const p of unsupported) t.throws(() => lowerTraceSearch({ ...base, predicates: [...base.predicates, p] }), { code: 'ERR_INVALID_ARGUMENT' }, JSON.stringify(p).slice(0, 80));
});

t.test('validateIr refuses every limit in one place, naming the parameter', async (t) => {
  const ir = traceSearchIr('acme', Q, 'stale');
  const deep = (n: number): IrPredicate => (n === 0 ? { op: 'cmp', level: 'span', field: { kind: 'intrinsic', name: 'spanName' }, cmp: '=', value: { type: 'string', value: 'x' } } : { op: 'not', arg: deep(n - 1) });
  const cases: [string, QueryIr, string, string][] = [
    ['time range', { ...ir, range: { startNs: 0n, endNs: BigInt(QueryLimits.rangeMsMax + 2_000) * 1_000_000n } }, 'ERR_LIMIT_EXCEEDED', 'end'],
    ['empty range', { ...ir, range: { startNs: 5n, endNs: 5n } }, 'ERR_INVALID_ARGUMENT', 'start'],
    ['no range', { ...ir, range: null }, 'ERR_INVALID_ARGUMENT', 'range'],
    ['traces returned', { ...ir, limits: { ...ir.limits, resultsMax: TraceSearchLimits.limitMax + 1 } }, 'ERR_LIMIT_EXCEEDED', 'limit'],
    ['spans per trace', { ...ir, limits: { ...ir.limits, spansPerResultMax: TraceSearchLimits.spssMax + 1 } }, 'ERR_LIMIT_EXCEEDED', 'spss'],
    ['bytes scanned', { ...ir, limits: { ...ir.limits, bytesScannedMax: QueryLimits.bytesScannedMaxCeiling + 1 } }, 'ERR_LIMIT_EXCEEDED', 'bytesScannedMax'],
    ['wall time', { ...ir, limits: { ...ir.limits, wallMsMax: QueryLimits.wallMsCeiling + 1 } }, 'ERR_LIMIT_EXCEEDED', 'wallMsMax'],
    ['predicates', { ...ir, predicates: Array.from({ length: QueryLimits.predicatesMax + 1 }, () => deep(0)) }, 'ERR_LIMIT_EXCEEDED', 'predicates'],
    ['nesting', { ...ir, predicates: [deep(QueryLimits.predicateDepthMax)] }, 'ERR_LIMIT_EXCEEDED', 'predicates'],
    ['lookup without id', { ...traceByIdIr('acme', new Uint8Array(16)), predicates: [] }, 'ERR_INVALID_ARGUMENT', 'traceId'],
    ['lookup with a range', { ...traceByIdIr('acme', new Uint8Array(16)), range: { startNs: 0n, endNs: 1n } }, 'ERR_INVALID_ARGUMENT', 'range'],
    ['projection of another signal', { ...ir, signal: 'logs' }, 'ERR_INVALID_ARGUMENT', 'projection'],
    ['aggregations on traces', { ...ir, aggregations: [{ fn: 'count', field: null, by: [] }] }, 'ERR_INVALID_ARGUMENT', 'aggregations'],
    ['quantile out of range', { ...ir, signal: 'metrics', projection: { kind: 'rows' }, aggregations: [{ fn: 'quantile', field: { kind: 'label', name: 'x' }, by: [], quantile: 1.5 }] }, 'ERR_INVALID_ARGUMENT', 'aggregations'],
  ];
  for (const [what, bad, code, param] of cases) t.throws(() => validateIr(bad), { code, details: { param } }, what);
  t.equal(validateIr(ir), ir, 'a valid IR passes unchanged');
});
