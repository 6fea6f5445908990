/**
 * cluster-differential.test.ts — the TraceQL randomized differential test on
 * a real 3-node cluster (issue 6, "Tests"): seeded random traces sent over
 * OTLP/HTTP (protobuf), flushed into blocks in three rounds (so block
 * indexes of several blocks and the heads both answer), then seeded random
 * TraceQL queries (traceql-test-gen.ts: grammar-random, conjunctions, and
 * queries targeted at an attribute value one span holds) through
 * `GET /api/search?q=` on nodes 1, 2 and 3 in turn, each compared with the
 * naive reference evaluator (traceql-reference.ts) run over every trace as
 * sent: the same traces, and for each the same number of matched spans.
 *
 * Planted bug: a second cluster whose nodes run with the test-only plant
 * `traceql-pushdown-drops-resource-matches` (node.ts TEST_PLANTS: the span
 * match ignores resource attributes) must fail the same comparison, so
 * this test can fail.
 *
 * Every failure names the seed and the query. Reproduce:
 *   OTLPDB_TRACEQL_SEED=<seed> npx tap src/query/traceql/cluster-differential.test.ts
 * OTLPDB_TRACEQL_QUERIES=<n> runs more queries (default 70).
 */
import { performance } from 'node:perf_hooks';
import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { OtlpdbNode } from '../../node.js';
import type { HostPort } from '../../node-config.js';
import type { InProcessCluster } from '../../node-test-util.js';
import { httpRequest, startThreeNodes } from '../../node-test-util.js';
import { traceProto } from '../../otlp/otlp-proto-writer.js';
import type { SpanRow } from '../../storage/rows.js';
import { formatTraceql } from './format.js';
import { parseTraceql } from './parser.js';
import { referenceEvaluate } from './traceql-reference.js';
import { caseRand, randomConjunctionQuery, randomQuery, randomTargetedQuery, randomTrace } from './traceql-test-gen.js';

const SEED = Number(process.env.OTLPDB_TRACEQL_SEED ?? 20261127);
const QUERIES = Number(process.env.OTLPDB_TRACEQL_QUERIES ?? 70);
const TRACES = 150;
/** PLANTED_TRACES is the smaller data set of the planted-bug cluster (it stops at the first failure). */
const PLANTED_TRACES = 60;
const ROUNDS = 3;
const TENANT = 'tql';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** tempoId is a trace id as Tempo's search prints it: lower-case hex without leading zeros. */
const tempoId = (b: Uint8Array): string => hex(b).replace(/^0+/, '');

interface SearchDoc {
  traces: { traceID: string; spanSet: { matched: number } }[];
  stats: { partial: boolean; failedShards: unknown[]; blocksPrunedIndex: number };
}

/**
 * makeTraces draws `count` random traces (randomTrace) with distinct trace ids
 * and, as the store keeps one span per (trace id, span id), without the
 * generator's odd duplicate span id; moved to the last minutes (the receiver
 * refuses old timestamps); a span the generator ends before its start ends
 * at its start instead (the receiver refuses it: OTLP_BAD_TIMESTAMP).
 */
function makeTraces(seed: number, nowNs: bigint, count: number): SpanRow[][] {
  const rand = new SeededRand(seed);
  const shift = nowNs - 5n * 60_000_000_000n - 1_000_000_000n;
  const traces: SpanRow[][] = [];
  for (let i = 0; i < count; i++) {
    const traceId = rand.bytes(16);
    traceId[0] = 0x80 | (i & 0x7f); // distinct and never with a leading zero byte
    traceId[1] = i >> 7;
    const seen = new Set<string>();
    const spans = randomTrace(rand)
      .filter((s) => !seen.has(hex(s.spanId)) && (seen.add(hex(s.spanId)), true))
      .map((s) => {
        const end = s.endTimeUnixNano < s.startTimeUnixNano ? s.startTimeUnixNano : s.endTimeUnixNano;
        return { ...s, tenant: TENANT, traceId, startTimeUnixNano: s.startTimeUnixNano + shift, endTimeUnixNano: end + shift };
      });
    traces.push(spans);
  }
  return traces;
}

/** startCluster starts 3 nodes (4 shards, R=3); `plant` names a test-only planted bug every node runs with. */
function startCluster(t: Test, seed: number, plant?: string): Promise<InProcessCluster> {
  return startThreeNodes(t, 'otlpdb-tqldiff-', seed, plant);
}

/** load sends the traces in ROUNDS rounds over OTLP/HTTP protobuf, each acknowledged in full; every round but the last is flushed into blocks. */
async function load(t: Test, c: InProcessCluster, traces: readonly SpanRow[][]): Promise<void> {
  const per = Math.ceil(traces.length / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    const spans = traces.slice(round * per, (round + 1) * per).flat();
    const web = (c.nodes.get(1 + (round % 3)) as OtlpdbNode).otlpHttpAddress() as HostPort;
    const r = await httpRequest(web, '/v1/traces', 'POST', Buffer.from(traceProto(spans)), { 'content-type': 'application/x-protobuf', 'x-scope-orgid': TENANT });
    t.equal(r.status, 200, `round ${round}: ${spans.length} spans acknowledged`);
    t.equal(r.body, '', `round ${round}: no partial success (nothing refused)`);
    if (round < ROUNDS - 1) t.equal((await httpRequest(c.api(1), '/api/v1/admin/flush', 'POST')).status, 200, `round ${round} flushed`);
  }
}

/** queryOf is query `i` of the run: grammar-random, a conjunction, or targeted at a value of a random trace. */
function queryOf(seed: number, i: number, traces: readonly SpanRow[][]): string {
  const r = caseRand(seed, i);
  for (;;) {
    const roll = r.intn(3);
    const ast = roll === 0 ? randomQuery(r) : roll === 1 ? randomConjunctionQuery(r) : randomTargetedQuery(r, traces[r.intn(traces.length)] as SpanRow[]);
    if (ast !== null) return formatTraceql(ast);
  }
}

/** DiffOutcome is one run of the comparison: the first failures (each naming seed and query) and how many queries matched something. */
interface DiffOutcome {
  readonly failures: string[];
  readonly nonEmpty: number;
  readonly ran: number;
  /** pruned counts the queries whose answer says the block indexes excluded a block. */
  readonly pruned: number;
}

/** CONCURRENT is how many queries run at once, spread over the nodes (the shards' ReadIndex waits overlap). */
const CONCURRENT = 6;

/** compareOne runs query i on node 1 + i % 3 and compares its answer with the reference; a failure message, or null. */
async function compareOne(c: InProcessCluster, traces: readonly SpanRow[][], seed: number, i: number, range: string): Promise<{ failure: string | null; nonEmpty: boolean; pruned: boolean }> {
  const text = queryOf(seed, i, traces);
  const node = 1 + (i % 3);
  const want = new Map<string, number>();
  const ast = parseTraceql(text);
  for (const spans of traces) {
    const ref = referenceEvaluate(ast, spans);
    if (ref !== null && ref.length > 0) want.set(tempoId((spans[0] as SpanRow).traceId), ref.length);
  }
  const r = await httpRequest(c.api(node), `/api/search?q=${encodeURIComponent(text)}&${range}&limit=1000&spss=1000`, 'GET', undefined, { 'x-scope-orgid': TENANT });
  const label = `seed ${seed} query ${i} on node ${node}: ${text}`;
  if (r.status !== 200) return { failure: `${label}: status ${r.status} ${r.body.slice(0, 200)}`, nonEmpty: want.size > 0, pruned: false };
  const doc = JSON.parse(r.body) as SearchDoc;
  const got = new Map(doc.traces.map((x) => [x.traceID, x.spanSet.matched]));
  const missing = [...want.keys()].filter((id) => !got.has(id));
  const extra = [...got.keys()].filter((id) => !want.has(id));
  const counts = [...want].filter(([id, n]) => got.has(id) && got.get(id) !== n).map(([id, n]) => `${id}: ${got.get(id)} spans, want ${n}`);
  const pruned = doc.stats.blocksPrunedIndex > 0;
  if (!doc.stats.partial && missing.length + extra.length + counts.length === 0) return { failure: null, nonEmpty: want.size > 0, pruned };
  return {
    failure: `${label}: ${missing.length} traces missing ${JSON.stringify(missing.slice(0, 3))}, ${extra.length} extra ${JSON.stringify(extra.slice(0, 3))}, ${counts.length} with other span counts ${JSON.stringify(counts.slice(0, 3))}${doc.stats.partial ? ', partial' : ''}`,
    nonEmpty: want.size > 0,
    pruned,
  };
}

/**
 * differential runs `queries` queries through /api/search on nodes 1, 2, 3
 * in turn (CONCURRENT at a time) and compares each answer with the
 * reference; it stops after the batch in which `failuresMax` failures were
 * reached.
 */
async function differential(c: InProcessCluster, traces: readonly SpanRow[][], seed: number, queries: number, failuresMax: number): Promise<DiffOutcome> {
  const range = `start=${Math.floor(Date.now() / 1000) - 3600}&end=${Math.floor(Date.now() / 1000) + 60}`;
  const failures: string[] = [];
  let nonEmpty = 0;
  let ran = 0;
  let pruned = 0;
  for (let i = 0; i < queries && failures.length < failuresMax; i += CONCURRENT) {
    const batch = Array.from({ length: Math.min(CONCURRENT, queries - i) }, (_, k) => compareOne(c, traces, seed, i + k, range));
    for (const o of await Promise.all(batch)) {
      ran++;
      if (o.nonEmpty) nonEmpty++;
      if (o.pruned) pruned++;
      if (o.failure !== null) failures.push(o.failure);
    }
  }
  return { failures: failures.slice(0, failuresMax), nonEmpty, ran, pruned };
}

t.test('TraceQL through /api/search on a 3-node cluster equals the reference evaluator', async (t) => {
  const t0 = performance.now();
  const c = await startCluster(t, SEED);
  const t1 = performance.now();
  const traces = makeTraces(SEED, BigInt(Date.now()) * 1_000_000n, TRACES);
  await load(t, c, traces);
  const t2 = performance.now();
  const out = await differential(c, traces, SEED, QUERIES, 10);
  t.comment(`start ${Math.round(t1 - t0)} ms, load ${Math.round(t2 - t1)} ms, ${out.ran} queries ${Math.round(performance.now() - t2)} ms (informational)`);
  t.same(out.failures, [], `reproduce: OTLPDB_TRACEQL_SEED=${SEED}`);
  t.equal(out.ran, QUERIES, `${out.ran} queries compared`);
  t.ok(out.nonEmpty >= QUERIES / 4, `${out.nonEmpty} of ${out.ran} queries match some trace`);
  t.ok(out.pruned > 0, `the block indexes pruned blocks in ${out.pruned} of ${out.ran} queries (the flushed rounds are searched through them)`);
});

t.test('planted bug: a pushdown that ignores resource attributes loses traces, and the cluster differential sees it', async (t) => {
  const seed = SEED + 1;
  const c = await startCluster(t, seed, 'traceql-pushdown-drops-resource-matches');
  const traces = makeTraces(seed, BigInt(Date.now()) * 1_000_000n, PLANTED_TRACES);
  await load(t, c, traces);
  const out = await differential(c, traces, seed, QUERIES, 1);
  t.equal(out.failures.length, 1, `the differential caught the plant within ${out.ran} queries`);
  t.match(out.failures[0] ?? '', /traces missing/, 'as missing traces');
  t.comment(out.failures[0] ?? '');
});
