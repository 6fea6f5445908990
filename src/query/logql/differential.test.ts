/**
 * differential.test.ts — seeded random LogQL (log and metric queries) over a
 * seeded corpus that looks like real logs, evaluated by the engine over (a)
 * one in-memory LogSource and (b) a "sharded" source (the corpus split over
 * three in-memory shards, shardEval = the union of evaluateShardPart on each,
 * so log queries and pushable range aggregations run as the cluster runs
 * them), both equal to the naive reference (logql-reference.ts). Every
 * generated query also prints and reparses to itself. Planted bugs (avg
 * partials averaged on the shards, a hint's case-insensitivity dropped, a
 * window closed on the left, and misreadings of group_left/right, sort_desc,
 * label_replace, pattern line filters and decolorize) must be caught. LOGQL_SEED and LOGQL_CASES
 * override the base seed and the number of cases; a failure prints both,
 * the case and the query.
 */
import t from 'tap';
import { OtlpdbError, isOtlpdbError } from '../../errors.js';
import type { LogExpr, LogqlExpr, MetricExpr, Stage } from './ast.js';
import { logqlEngine } from './engine.js';
import { formatLogql } from './format.js';
import { hintsAdmit } from './hints.js';
import { referenceEvaluate } from './logql-reference.js';
import { CORPUS_SPAN_NS, CORPUS_START_NS, caseRand, envInt, pick, randomCorpus, randomLogExpr, randomMetric } from './logql-test-gen.js';
import { MemoryLogSource } from './memory-log-source.js';
import { parseLogql } from './parser.js';
import { parseLinePattern } from './pattern.js';
import type { LogEntry, LogShardAnswer, LogShardEvalRequest, LogSource, LogqlParams } from './source.js';

const BASE_SEED = envInt('LOGQL_SEED', 20261127);
const CASES = envInt('LOGQL_CASES', 300);
const SEC = 1_000_000_000n;

/** Plant names a deliberate bug the differential must catch. */
type Plant = 'none' | 'avgAveragedOnShards' | 'hintCaseSensitive' | 'windowClosedLeft' | RewritePlant;

/**
 * RewritePlant is a bug in how the engine reads a new operator, planted by
 * handing the engine a rewritten query (the reference reads the original):
 * group_left read as group_right; sort_desc read as sort; label_replace's
 * regex not anchored at the end; a pattern line filter read as substring
 * filters of its literals (order and line ends ignored); decolorize skipped.
 */
type RewritePlant = 'groupSideSwapped' | 'sortDescAsSort' | 'labelReplaceUnanchored' | 'patternFilterAsSubstrings' | 'decolorizeSkipped';

const REWRITE_PLANTS: readonly RewritePlant[] = ['groupSideSwapped', 'sortDescAsSort', 'labelReplaceUnanchored', 'patternFilterAsSubstrings', 'decolorizeSkipped'];

function rewriteLog(log: LogExpr, plant: RewritePlant): LogExpr {
  const stages: Stage[] = [];
  for (const s of log.stages) {
    if (plant === 'decolorizeSkipped' && s.kind === 'decolorize') continue;
    if (plant === 'patternFilterAsSubstrings' && s.kind === 'lineFilter' && s.op === '|>' && s.values.length === 1) {
      const parts = parseLinePattern(s.values[0] as string);
      if (typeof parts !== 'string') for (const p of parts) if (p.kind === 'literal') stages.push({ kind: 'lineFilter', op: '|=', values: [p.text] });
      continue;
    }
    stages.push(s);
  }
  return { ...log, stages };
}

function rewrite(e: LogqlExpr, plant: RewritePlant): LogqlExpr {
  switch (e.kind) {
    case 'log':
      return rewriteLog(e, plant);
    case 'range':
      return { ...e, log: rewriteLog(e.log, plant) };
    case 'vector':
      return { ...e, op: plant === 'sortDescAsSort' && e.op === 'sort_desc' ? 'sort' : e.op, expr: rewrite(e.expr, plant) as MetricExpr };
    case 'binary': {
      const m = e.matching;
      const matching = plant === 'groupSideSwapped' && m !== null && m.group !== null ? { ...m, group: { ...m.group, side: m.group.side === 'left' ? ('right' as const) : ('left' as const) } } : m;
      return { ...e, matching, lhs: rewrite(e.lhs, plant) as MetricExpr, rhs: rewrite(e.rhs, plant) as MetricExpr };
    }
    case 'labelReplace':
      return { ...e, regex: plant === 'labelReplaceUnanchored' ? `${e.regex}.*` : e.regex, expr: rewrite(e.expr, plant) as MetricExpr };
    default:
      return e;
  }
}

function shardedSource(corpus: readonly LogEntry[], shards: number, plant: Plant): LogSource {
  const parts: LogEntry[][] = Array.from({ length: shards }, () => []);
  corpus.forEach((e, i) => (parts[(i * 7 + 3) % shards] as LogEntry[]).push(e));
  const hintFilter: typeof hintsAdmit = plant === 'hintCaseSensitive' ? (hints, line) => hintsAdmit(hints.map((h) => ({ ...h, caseInsensitive: false })), line) : hintsAdmit;
  const shardSources = parts.map((p) => new MemoryLogSource(p, hintFilter));
  // The coordinator's own select (non-pushable range aggregations) reads every shard: a source over the whole corpus in another tie order.
  const whole = new MemoryLogSource([...corpus].reverse(), hintFilter);
  whole.shardEval = async (req: LogShardEvalRequest, signal: AbortSignal): Promise<LogShardAnswer> => {
    let sent = req;
    if (plant === 'windowClosedLeft') {
      const e = parseLogql(req.expr);
      if (e.kind === 'range') sent = { ...req, expr: formatLogql({ ...e, rangeNs: e.rangeNs + 1n }) };
    }
    const answers = await Promise.all(shardSources.map((s) => logqlEngine.evaluateShardPart(sent, s, signal)));
    if (answers.every((a) => a.kind === 'entries')) return { kind: 'entries', entries: answers.flatMap((a) => (a.kind === 'entries' ? a.entries : [])) };
    const series = answers.flatMap((a) => (a.kind === 'partials' ? a.series : []));
    if (plant === 'avgAveragedOnShards') {
      return { kind: 'partials', series: series.map((s) => ({ ...s, values: s.values.map((v) => (v.length === 2 ? [(v[0] as number) / (v[1] as number), 1] : v)) })) };
    }
    return { kind: 'partials', series };
  };
  return whole;
}

function normalize(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : typeof x === 'number' && !Number.isFinite(x) ? String(x) : x))) as unknown;
}

function close(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => close(x, b[i]));
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

async function outcome(f: () => Promise<unknown>): Promise<unknown> {
  try {
    return normalize(await f());
  } catch (err) {
    if (isOtlpdbError(err) && err.code !== 'ERR_INTERNAL') return { error: err.code };
    throw err;
  }
}

interface Failure {
  readonly caseNo: number;
  readonly query: string;
  readonly params: string;
  readonly which: string;
  readonly expected: unknown;
  readonly actual: unknown;
}

function randomParams(r: ReturnType<typeof caseRand>, expr: LogqlExpr): Omit<LogqlParams, 'signal'> {
  const tick = SEC / 10n;
  if (expr.kind === 'log') {
    const a = BigInt(r.intn(Number(CORPUS_SPAN_NS / tick))) * tick;
    const b = BigInt(r.intn(Number(CORPUS_SPAN_NS / tick))) * tick;
    return { startNs: CORPUS_START_NS + (a < b ? a : b), endNs: CORPUS_START_NS + (a < b ? b : a), stepNs: 0n, direction: pick(r, ['forward', 'backward'] as const), limit: pick(r, [1, 5, 20, 100, 1000]) };
  }
  const stepNs = pick(r, [0n, 10n * SEC, 30n * SEC, 60n * SEC, 90n * SEC]);
  const startNs = CORPUS_START_NS + BigInt(r.intn(500)) * SEC;
  const steps = BigInt(r.intn(15));
  return { startNs, endNs: stepNs === 0n ? startNs + BigInt(r.intn(100)) * SEC : startNs + steps * stepNs, stepNs, direction: 'forward', limit: 100 };
}

async function runDifferential(baseSeed: number, cases: number, plant: Plant, stats?: { errors: number; empty: number; log: number }): Promise<Failure | null> {
  for (let caseNo = 0; caseNo < cases; caseNo++) {
    const r = caseRand(baseSeed, caseNo);
    const corpus = randomCorpus(r, 120 + r.intn(250));
    const generated: LogqlExpr = r.intn(100) < 45 ? randomLogExpr(r) : randomMetric(r);
    const text = formatLogql(generated);
    const parsed = parseLogql(text);
    const p = randomParams(r, parsed);
    const paramsText = `start=${p.startNs} end=${p.endNs} step=${p.stepNs} direction=${p.direction} limit=${p.limit}`;
    if (JSON.stringify(normalize(parsed)) !== JSON.stringify(normalize(generated))) {
      return { caseNo, query: text, params: paramsText, which: 'round trip', expected: normalize(generated), actual: normalize(parsed) };
    }
    const expected = await outcome(async () => referenceEvaluate(parsed, corpus, p));
    const signal = new AbortController().signal;
    const sources: [string, LogSource][] = [
      ['one source', new MemoryLogSource(plant === 'hintCaseSensitive' ? [...corpus] : corpus, plant === 'hintCaseSensitive' ? (h, l) => hintsAdmit(h.map((x) => ({ ...x, caseInsensitive: false })), l) : hintsAdmit)],
      ['sharded', shardedSource(corpus, 3, plant)],
    ];
    const engineText = plant === 'none' || !(REWRITE_PLANTS as readonly string[]).includes(plant) ? text : formatLogql(rewrite(parsed, plant as RewritePlant));
    for (const [which, source] of sources) {
      const actual = await outcome(() => logqlEngine.evaluate(engineText, { ...p, signal }, source));
      if (!close(expected, actual)) return { caseNo, query: text, params: paramsText, which, expected, actual };
    }
    if (stats !== undefined) {
      if (typeof expected === 'object' && expected !== null && 'error' in expected) stats.errors++;
      const s = JSON.stringify(expected);
      if (s.includes('"streams":[]') || s.includes('"series":[]') || s.includes('"samples":[]')) stats.empty++;
      if (parsed.kind === 'log') stats.log++;
    }
  }
  return null;
}

function report(seed: number, f: Failure): string {
  return (
    `disagreement (${f.which}): LOGQL_SEED=${seed} case ${f.caseNo}\nquery: ${f.query}\nparams: ${f.params}\n` +
    `expected: ${JSON.stringify(f.expected).slice(0, 3000)}\nactual:   ${JSON.stringify(f.actual).slice(0, 3000)}`
  );
}

t.test('the engine (one source and sharded) equals the naive reference on random queries over a random corpus', async (t) => {
  const stats = { errors: 0, empty: 0, log: 0 };
  const failure = await runDifferential(BASE_SEED, CASES, 'none', stats);
  if (failure !== null) t.fail(report(BASE_SEED, failure));
  else t.pass(`${CASES} cases agree`);
  t.comment(`cases: ${CASES}, log queries ${stats.log}, errors ${stats.errors}, empty answers ${stats.empty}`);
  // Agreement proves little if most answers are empty or errors.
  t.ok(stats.errors < CASES / 4, `few cases are errors (${stats.errors}/${CASES})`);
  t.ok(stats.empty < CASES / 2, `most answers are not empty (${stats.empty}/${CASES})`);
});

for (const plant of ['avgAveragedOnShards', 'hintCaseSensitive', 'windowClosedLeft', ...REWRITE_PLANTS] as const) {
  t.test(`the differential test catches a planted bug: ${plant}`, async (t) => {
    // A planted run stops at its first disagreement; it may look further than the clean run (up to 4 × LOGQL_CASES).
    const failure = await runDifferential(BASE_SEED, 4 * CASES, plant);
    t.ok(failure !== null, 'a disagreement is found');
    if (failure !== null) t.comment(`caught at case ${failure.caseNo} (${failure.which}): ${failure.query}`);
  });
}

t.test('evaluate refuses bad parameters and honours the abort signal', async (t) => {
  const source = new MemoryLogSource([]);
  const base = { startNs: 0n, endNs: 10n, stepNs: 0n, direction: 'forward' as const, limit: 10, signal: new AbortController().signal };
  await t.rejects(logqlEngine.evaluate('{a="b"}', { ...base, limit: 0 }, source), { code: 'ERR_INVALID_ARGUMENT' });
  await t.rejects(logqlEngine.evaluate('{a="b"}', { ...base, limit: 1_000_000 }, source), { code: 'ERR_LIMIT_EXCEEDED' });
  await t.rejects(logqlEngine.evaluate('{a="b"}', { ...base, endNs: -1n }, source), { code: 'ERR_INVALID_ARGUMENT' });
  await t.rejects(logqlEngine.evaluate('count_over_time({a="b"}[1m])', { ...base, endNs: 10n ** 15n, stepNs: 1n }, source), { code: 'ERR_LIMIT_EXCEEDED' });
  const ac = new AbortController();
  ac.abort();
  await t.rejects(logqlEngine.evaluate('{a="b"}', { ...base, signal: ac.signal }, source), { code: 'ERR_UNAVAILABLE' });
  t.ok(new OtlpdbError('ERR_UNAVAILABLE', 'x').retryable, 'a cancelled query is retryable');
});
