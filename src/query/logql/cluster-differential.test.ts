/**
 * cluster-differential.test.ts — LogQL on a real 3-node cluster (in this
 * process: 4 shards, R=3) against the naive reference (logql-reference.ts).
 * A seeded corpus that looks like real logs (logql-test-gen.ts: access
 * logs, application logs with stack traces, JSON and logfmt lines, trace ids
 * as structured metadata), moved to the last hours so the write path takes
 * it, is pushed through Loki's push API (JSON, its streams and metadata
 * kept as pushed) in two rounds with a flush between, so queries read
 * blocks and heads. Then seeded random log and metric queries go through
 * /loki/api/v1/query_range and /loki/api/v1/query, rotating over the nodes;
 * each answer must equal the reference's answer rendered the same way
 * (loki-routes.ts resultJson), or both must be refusals.
 *
 * The queries run as the cluster runs them: log queries and the pushable
 * range aggregations pushed to every shard's leader over peer calls, the
 * rest gathered through the cluster select (k-way merge by time).
 *
 * Planted bug: a second cluster whose nodes run with the test-only plant
 * `logql-shard-drops-metadata` (node.ts TEST_PLANTS: pushed log queries lose
 * structured metadata on the shards) must disagree with the reference.
 *
 * OTLPDB_LOGQL_CLUSTER_CASES sets the number of queries (default 100);
 * LOGQL_SEED the base seed. A failure prints both, the case and the query.
 */
import t from 'tap';
import type { Test } from 'tap';
import { httpRequest, startThreeNodes } from '../../node-test-util.js';
import type { InProcessCluster } from '../../node-test-util.js';
import { resultJson } from '../../api/loki-routes.js';
import type { LogqlExpr } from './ast.js';
import { formatLogql } from './format.js';
import { referenceEvaluate } from './logql-reference.js';
import { CORPUS_SPAN_NS, CORPUS_START_NS, caseRand, envInt, pick, randomCorpus, randomLogExpr, randomMetric } from './logql-test-gen.js';
import { parseLogql } from './parser.js';
import type { LogEntry, LogqlParams } from './source.js';

const BASE_SEED = envInt('LOGQL_SEED', 20261127);
const CASES = envInt('OTLPDB_LOGQL_CLUSTER_CASES', 100);
const TENANT = 'logql-diff';
const SEC = 1_000_000_000n;
/** SHIFT_NS moves the generated corpus (which starts on 2026-11-18) to two hours ago, inside the write path's timestamp window. */
const SHIFT_NS = (BigInt(Date.now()) * 1_000_000n - 2n * 3600n * SEC) / SEC * SEC - CORPUS_START_NS;
const START_NS = CORPUS_START_NS + SHIFT_NS;

/** pushBody is a Loki push request (JSON) of `entries`: one stream per distinct label set, metadata as the third value. */
function pushBody(entries: readonly LogEntry[]): Buffer {
  const streams = new Map<string, { stream: Record<string, string>; values: [string, string, Record<string, string>][] }>();
  for (const e of entries) {
    const key = JSON.stringify(e.stream);
    let s = streams.get(key);
    if (s === undefined) streams.set(key, (s = { stream: Object.fromEntries(e.stream.map((l) => [l.name, l.value])), values: [] }));
    s.values.push([e.timeNs.toString(), e.line, Object.fromEntries(e.metadata.map((l) => [l.name, l.value]))]);
  }
  return Buffer.from(JSON.stringify({ streams: [...streams.values()] }));
}

type Params = Omit<LogqlParams, 'signal'>;

/** randomParams draws a range for `expr` over the shifted corpus; a metric query with step 0 is an instant query at endNs. */
function randomParams(r: ReturnType<typeof caseRand>, expr: LogqlExpr): Params {
  const tick = SEC / 10n;
  if (expr.kind === 'log') {
    const a = BigInt(r.intn(Number(CORPUS_SPAN_NS / tick))) * tick;
    const b = BigInt(r.intn(Number(CORPUS_SPAN_NS / tick))) * tick;
    return { startNs: START_NS + (a < b ? a : b), endNs: START_NS + (a < b ? b : a), stepNs: 0n, direction: pick(r, ['forward', 'backward'] as const), limit: pick(r, [1, 5, 20, 100, 1000]) };
  }
  const stepNs = pick(r, [0n, 10n * SEC, 30n * SEC, 60n * SEC, 90n * SEC]);
  const startNs = START_NS + BigInt(r.intn(500)) * SEC;
  if (stepNs === 0n) return { startNs, endNs: startNs, stepNs, direction: 'backward', limit: 100 };
  return { startNs, endNs: startNs + BigInt(1 + r.intn(14)) * stepNs, stepNs, direction: 'backward', limit: 100 };
}

function close(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string' && a !== b && /^-?[\d.e+-]+$/i.test(a) && /^-?[\d.e+-]+$/i.test(b)) return close(Number(a), Number(b));
  if (typeof a === 'number' && typeof b === 'number') return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => close(x, b[i]));
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/** expectedOf is the reference's answer as the route renders it, or 'refused'. */
function expectedOf(expr: LogqlExpr, corpus: readonly LogEntry[], p: Params): unknown {
  try {
    return JSON.parse(JSON.stringify(resultJson(referenceEvaluate(expr, corpus, p), true).result)) as unknown;
  } catch {
    return 'refused';
  }
}

/** startCluster starts 3 nodes (4 shards, R=3); `plant` names a test-only planted bug every node runs with. */
function startCluster(t: Test, seed: number, plant?: string): Promise<InProcessCluster> {
  return startThreeNodes(t, 'otlpdb-logql-diff-', seed, plant);
}

/** loadCorpus pushes `corpus` through Loki's push API in two rounds with a flush between (blocks and heads). */
async function loadCorpus(t: Test, c: InProcessCluster, corpus: readonly LogEntry[]): Promise<void> {
  const push = async (part: readonly LogEntry[], node: number): Promise<void> => {
    // A write may meet a shard still electing its first leader: retry the same bytes (the idempotency key dedupes).
    const body = pushBody(part);
    let status = 0;
    for (let i = 0; i < 20 && status !== 204; i++) {
      const w = await httpRequest(c.api(node), '/loki/api/v1/push', 'POST', body, { 'content-type': 'application/json', 'x-scope-orgid': TENANT });
      status = w.status;
      if (status !== 204) await new Promise((res) => setTimeout(res, 250));
    }
    t.equal(status, 204, `push of ${part.length} lines through node ${node}`);
  };
  const half = Math.floor((corpus.length * 2) / 3);
  await push(corpus.slice(0, half), 1);
  t.equal((await httpRequest(c.api(2), '/api/v1/admin/flush', 'POST')).status, 200, 'flush: the first round is in blocks');
  await push(corpus.slice(half), 3);
}

interface RunOutcome {
  readonly agreed: number;
  readonly nonEmpty: number;
  readonly refused: number;
  /** failure describes the first disagreement (how to reproduce it, both answers), or null. */
  readonly failure: string | null;
}

/** runQueries sends `cases` seeded random queries, rotating over the nodes, and compares each answer with the reference's; it stops at the first disagreement. */
async function runQueries(c: InProcessCluster, corpus: readonly LogEntry[], cases: number): Promise<RunOutcome> {
  let agreed = 0;
  let nonEmpty = 0;
  let refused = 0;
  for (let caseNo = 0; caseNo < cases; caseNo++) {
    const r = caseRand(BASE_SEED, caseNo);
    const expr = r.intn(100) < 45 ? randomLogExpr(r) : randomMetric(r);
    const text = formatLogql(expr);
    const parsed = parseLogql(text);
    const p = randomParams(r, parsed);
    const node = (caseNo % 3) + 1;
    const q = new URLSearchParams({ query: text, limit: String(p.limit), direction: p.direction });
    let path: string;
    if (parsed.kind !== 'log' && p.stepNs === 0n) {
      q.set('time', p.endNs.toString());
      path = `/loki/api/v1/query?${q.toString()}`;
    } else {
      q.set('start', p.startNs.toString());
      q.set('end', p.endNs.toString());
      if (p.stepNs > 0n) q.set('step', `${p.stepNs / SEC}s`);
      path = `/loki/api/v1/query_range?${q.toString()}`;
    }
    const expected = expectedOf(parsed, corpus, p);
    const res = await httpRequest(c.api(node), path, 'GET', undefined, { 'x-scope-orgid': TENANT, 'x-loki-response-encoding-flags': 'categorize-labels' });
    const actual: unknown = res.status === 200 ? (JSON.parse(res.body) as { data: { result: unknown } }).data.result : res.status >= 400 && res.status < 500 ? 'refused' : `HTTP ${res.status}: ${res.body.slice(0, 300)}`;
    if (!close(expected, actual)) {
      const repro = `LOGQL_SEED=${BASE_SEED} case ${caseNo} (node ${node}): ${text}\nparams: start=${p.startNs} end=${p.endNs} step=${p.stepNs} direction=${p.direction} limit=${p.limit}`;
      return { agreed, nonEmpty, refused, failure: `${repro}\nexpected: ${JSON.stringify(expected).slice(0, 3000)}\nactual:   ${JSON.stringify(actual).slice(0, 3000)}` };
    }
    agreed++;
    if (expected === 'refused') refused++;
    else if (JSON.stringify(expected) !== '[]') nonEmpty++;
  }
  return { agreed, nonEmpty, refused, failure: null };
}

function shiftedCorpus(): LogEntry[] {
  return randomCorpus(caseRand(BASE_SEED, 1_000_000), 600).map((e) => ({ ...e, timeNs: e.timeNs + SHIFT_NS }));
}

t.test('LogQL on a 3-node cluster equals the naive reference on random queries', async (t) => {
  const c = await startCluster(t, 0x10d1);
  const corpus = shiftedCorpus();
  await loadCorpus(t, c, corpus);
  const o = await runQueries(c, corpus, CASES);
  if (o.failure !== null) t.fail(`disagreement: ${o.failure}`);
  t.equal(o.agreed, CASES, `${CASES} queries agree with the reference`);
  t.comment(`non-empty answers ${o.nonEmpty}, refusals ${o.refused}`);
  // Agreement proves little if most answers are empty or refusals.
  t.ok(o.nonEmpty > CASES / 3, `most queries find something (${o.nonEmpty} of ${CASES})`);
});

t.test('the cluster differential catches a planted bug: logql-shard-drops-metadata', async (t) => {
  const c = await startCluster(t, 0x10d9, 'logql-shard-drops-metadata');
  const corpus = shiftedCorpus();
  await loadCorpus(t, c, corpus);
  const o = await runQueries(c, corpus, CASES);
  t.ok(o.failure !== null, 'a disagreement is found');
  t.comment(`caught after ${o.agreed} agreeing queries`);
});
