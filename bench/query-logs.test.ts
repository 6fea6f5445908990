import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FULL_LINES, parseQueryLogsArgs, ratio } from './query-logs.js';
import { buildQueryLogsData, LINES_PER_REQUEST } from './query-logs-data.js';
import { Fts5Baseline, loadFts5 } from './query-logs-fts5.js';
import { levenshteinWithin } from '../src/query/log-search-eval.js';
import { tokenize } from '../src/storage/tokenizer.js';
import { COUNT_STEP_S, LOG_LIMIT, QUERY_KINDS, bruteCount, bruteLog, buildQuerySpec, editDistance, fuzzyTest, lineTest, logqlOf, queryText, searchBodyOf, selectorText } from './query-logs-queries.js';
import type { CountAnswer, FuzzyTerm, LogAnswer } from './query-logs-queries.js';
import { parseCountAnswer, parseLogAnswer, runQueryLogsBench, sameCount, sameLog } from './query-logs-run.js';

// Not a timed test: it checks the bench's flags, its data, that the three
// forms of every query (LogQL's meaning as the brute-force scan, FTS5, and
// the answer parsers) agree on a small corpus, that the comparison catches
// planted wrong answers, and (OTLPDB_BENCH_RUN=1) that one tiny real run
// on one node (index off, then on) answers every query correctly. It asserts
// no timing.

const NOW_MS = 1_795_000_000_000;

t.test('flags: defaults, every flag, refusals', async (t) => {
  t.same(parseQueryLogsArgs([]), { nodes: 3, lines: FULL_LINES, queries: 100, connections: 8, ingestBaseline: true, ingestRounds: 2, fts5: true, json: false, slowMs: 1_000 });
  t.equal(parseQueryLogsArgs(['--ingest-rounds', '3']).ingestRounds, 3);
  t.equal(parseQueryLogsArgs(['--no-ingest-baseline']).ingestRounds, 1, 'one side: nothing to alternate');
  t.throws(() => parseQueryLogsArgs(['--no-ingest-baseline', '--ingest-rounds', '2']), /--ingest-rounds above 1 needs/);
  t.throws(() => parseQueryLogsArgs(['--ingest-rounds', '0']), /--ingest-rounds/);
  t.throws(() => parseQueryLogsArgs(['--ingest-rounds', '6']), /--ingest-rounds/);
  t.equal(parseQueryLogsArgs(['--scale', '0.1']).lines, 500_000);
  t.same(parseQueryLogsArgs(['--lines', '300', '--nodes', '1', '--queries', '4', '--connections', '2', '--no-ingest-baseline', '--no-fts5', '--json', '--slow-ms', '0']), {
    nodes: 1, lines: 300, queries: 4, connections: 2, ingestBaseline: false, ingestRounds: 1, fts5: false, json: true, slowMs: 0,
  });
  t.throws(() => parseQueryLogsArgs(['--slow-ms', '-1']), /--slow-ms/);
  t.throws(() => parseQueryLogsArgs(['--scale', '0']), /--scale/);
  t.throws(() => parseQueryLogsArgs(['--scale', 'x']), /--scale/);
  t.throws(() => parseQueryLogsArgs(['--nodes', '2']), /--nodes/);
  t.throws(() => parseQueryLogsArgs(['--lines', '5']), /--lines/);
  t.throws(() => parseQueryLogsArgs(['--fts']), /unknown argument/);
  t.equal(ratio(3, 2), 1.5);
  t.equal(ratio(3, 0), null);
  t.equal(ratio(undefined, 2), null);
});

t.test('the data: seeded, realistic kinds, distinct increasing times in the hour, bodies of LINES_PER_REQUEST lines', async (t) => {
  const a = buildQueryLogsData(1_500, NOW_MS, 5);
  const b = buildQueryLogsData(1_500, NOW_MS, 5);
  t.same(a.lines, b.lines, 'the same seed gives the same lines');
  t.same([...a.offsetsNs], [...b.offsetsNs]);
  t.equal(a.bodies.length, Math.ceil(1_500 / LINES_PER_REQUEST));
  t.ok(a.offsetsNs.every((v, i) => i === 0 || v > (a.offsetsNs[i - 1] as number)), 'times strictly increase');
  t.ok(a.windowEndNs <= BigInt(NOW_MS) * 1_000_000n && a.windowStartNs + BigInt(a.offsetsNs[a.offsetsNs.length - 1] as number) <= a.windowEndNs);
  const formats = new Set(a.streams.map((s) => s.format));
  t.same([...formats].sort(), ['access', 'app', 'json', 'logfmt'], 'access, application, JSON and logfmt lines');
  t.ok(a.lines.some((l) => l.includes('\n    at ')), 'stack traces');
});

t.test('every query kind: LogQL text, brute force and FTS5 agree; counts add up', async (t) => {
  const d = buildQueryLogsData(4_000, NOW_MS, 9);
  const lib = loadFts5();
  let dir: string | null = null;
  let fts: Fts5Baseline | null = null;
  if (lib.ctor === null) t.comment(`FTS5 part skipped: ${lib.reason}`);
  else {
    dir = mkdtempSync(join(tmpdir(), 'otlpdb-query-logs-test-'));
    fts = Fts5Baseline.load(lib.ctor, join(dir, 'f.sqlite'), d);
    t.equal(fts.rows(), d.lines.length);
  }
  t.teardown(() => {
    fts?.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  });
  let nonEmpty = 0;
  for (const kind of QUERY_KINDS) {
    if (kind === 'fuzzy') {
      // No FTS5 side (it has no fuzzy query): the JSON request, and brute force against otlpdb's own token distance.
      let fuzzyHits = 0;
      for (let i = 0; i < 16; i++) {
        const q = buildQuerySpec(kind, i, d);
        const body = JSON.parse(searchBodyOf(q, LOG_LIMIT)) as { query: { fuzzy: { term: string; distance: number } }; selector: string; start: string; end: string; limit: number; direction: string };
        t.same(body.query, { fuzzy: q.fuzzy }, 'one fuzzy node');
        t.same([body.selector, body.start, body.end, body.limit, body.direction], [selectorText(q.selector), String(q.startNs), String(q.endNs), LOG_LIMIT, 'backward']);
        const want = bruteLog(d, q);
        t.ok(want.lines.length <= LOG_LIMIT && want.timesNs.every((x) => x >= q.startNs && x <= q.endNs), 'at most the limit, in range');
        const f = q.fuzzy as FuzzyTerm;
        const near = (line: string): boolean => tokenize(line).terms.some((tok) => levenshteinWithin(tok, f.term, f.distance));
        t.ok(want.lines.every(near), `${queryText(q)}: every brute-force line has a token within ${f.distance} by otlpdb's distance`);
        if (want.lines.length < LOG_LIMIT) t.equal(d.lines.filter((l, j) => near(l) && ((s) => (q.selector.label === 'env' ? s.env : q.selector.label === 'service_name' ? s.service : s.format) === q.selector.value)(d.streams[d.streamOf[j] as number] as (typeof d.streams)[number])).length, want.lines.length, `${queryText(q)}: none missed`);
        if (want.lines.length > 0) fuzzyHits++;
      }
      t.ok(fuzzyHits >= 12, `fuzzy terms find lines (${fuzzyHits} of 16)`);
      continue;
    }
    for (let i = 0; i < 16; i++) {
      const q = buildQuerySpec(kind, i, d);
      const text = logqlOf(q);
      t.match(text, kind === 'count' ? /^sum\(count_over_time\(\{\w+="\w+"\} \|= ".+" \[60s\]\)\)$/ : kind === 'regex' ? /^\{\w+="\w+"\} \|~ ".+"$/ : /^\{\w+="\w+"\} \|= ".+"$/);
      if (kind === 'count') {
        const want = bruteCount(d, q);
        const test = lineTest(q);
        const total = d.lines.filter((l, j) => test(l) && ((s) => (q.selector.label === 'env' ? s.env : q.selector.label === 'service_name' ? s.service : s.format) === q.selector.value)(d.streams[d.streamOf[j] as number] as (typeof d.streams)[number])).length;
        t.equal([...want.values()].reduce((n, v) => n + v, 0), total, `${text}: every match counted once`);
        t.ok([...want.keys()].every((k) => (k - q.startNs) % (BigInt(COUNT_STEP_S) * 1_000_000_000n) === 0n && k <= q.endNs), 'counts sit on steps');
        if (fts !== null) t.equal(sameCount(fts.count(q), want), null, `FTS5 = brute force: ${text}`);
        if (total > 0) nonEmpty++;
      } else {
        const want = bruteLog(d, q);
        t.ok(want.lines.length <= LOG_LIMIT);
        t.ok(want.timesNs.every((x) => x >= q.startNs && x <= q.endNs), 'in range');
        if (fts !== null) t.equal(sameLog(fts.log(q), want), null, `FTS5 = brute force: ${text} [${q.startNs}, ${q.endNs}]`);
        if (want.lines.length > 0) nonEmpty++;
      }
    }
  }
  t.ok(nonEmpty > 40, `most queries match something (${nonEmpty})`);
});

t.test('editDistance is Levenshtein by code points (a transposition is two edits); a planted off-by-one fuzzy test is caught', async (t) => {
  const cases: [string, string, number][] = [['kitten', 'sitting', 3], ['ab', 'ba', 2], ['', 'abc', 3], ['timeout', 'timout', 1], ['payment', 'paymet', 1], ['payments', 'paymet', 2], ['caf\u00e9', 'cafe', 1], ['\u{1f600}a', 'a', 1]];
  for (const [a, b, want] of cases) {
    t.equal(editDistance(a, b), want, `${a} / ${b}`);
    t.equal(editDistance(b, a), want, 'symmetric');
  }
  const test = fuzzyTest({ term: 'timout', distance: 1 });
  t.ok(test('upstream timeout after 30s'));
  t.ok(test('GET /TIMOUT 200'), 'tokens are lower-cased');
  t.notOk(test('timeouts everywhere'), 'two edits away');
  // Planted: an answer computed with one edit fewer allowed (otlpdb's own planted fuzzyOffByOne) differs from the true one: the comparison flags it.
  const d = buildQueryLogsData(4_000, NOW_MS, 9);
  let caught = 0;
  for (let i = 0; i < 4; i++) {
    const q = buildQuerySpec('fuzzy', i * 4, d);
    const f = q.fuzzy as FuzzyTerm;
    if (sameLog(bruteLog(d, { ...q, fuzzy: { term: f.term, distance: (f.distance - 1) as FuzzyTerm['distance'] } }), bruteLog(d, q)) !== null) caught++;
  }
  t.equal(caught, 4, 'an off-by-one distance gives a wrong answer sameLog catches, for every fuzzy term');
});

t.test('the answer parsers and comparisons: equal answers pass, planted wrong answers are caught', async (t) => {
  const want: LogAnswer = { timesNs: [30n, 20n, 10n], lines: ['c', 'b', 'a'] };
  const doc = { data: { result: [{ values: [['10', 'a'], ['30', 'c']] as [string, string][] }, { values: [['20', 'b']] as [string, string][] }] } };
  t.equal(sameLog(parseLogAnswer(doc), want), null, 'streams merged newest first');
  t.not(sameLog({ timesNs: [30n, 20n], lines: ['c', 'b'] }, want), null, 'a dropped line');
  t.not(sameLog({ timesNs: [30n, 21n, 10n], lines: ['c', 'b', 'a'] }, want), null, 'a wrong time');
  t.not(sameLog({ timesNs: [30n, 20n, 10n], lines: ['c', 'B', 'a'] }, want), null, 'a wrong line');
  const counts: CountAnswer = new Map([[1_795_000_060_000_000_000n, 4], [1_795_000_120_000_000_000n, 1]]);
  const matrix = { data: { result: [{ values: [['1795000060', '4'], ['1795000120', '1']] as [string, string][] }] } };
  t.equal(sameCount(parseCountAnswer(matrix), counts), null);
  t.not(sameCount(new Map([[1_795_000_060_000_000_000n, 4]]), counts), null, 'a missing step');
  t.not(sameCount(new Map([[1_795_000_060_000_000_000n, 5], [1_795_000_120_000_000_000n, 1]]), counts), null, 'an off-by-one count');
});

// Four real clusters (index off and on, two rounds) take minutes on a loaded 2-core machine, past CI's budget for a new test:
// opt in with OTLPDB_BENCH_RUN=1 (the bench itself checks every answer on every run).
const REAL_RUN = process.env.OTLPDB_BENCH_RUN === '1';

t.test('a tiny real run on one node (index off and on, two rounds) answers every query correctly', { skip: REAL_RUN ? false : 'set OTLPDB_BENCH_RUN=1 to start two real one-node clusters' }, async (t) => {
  const lines: string[] = [];
  const r = await runQueryLogsBench(
    { nodes: 1, lines: 3_000, queries: 3, connections: 2, ingestBaseline: true, ingestRounds: 2, fts5: true, json: false },
    { ports: { api: 31_550, peer: 31_560, otlpGrpc: 31_570, otlpHttp: 31_580 }, log: (l) => lines.push(l) },
  );
  t.equal(r.lines, 3_000);
  t.equal(r.ingest.length, 2, 'two rounds');
  t.ok(r.ingest.every((x) => x.off !== null), 'each round\'s index-off cluster loaded the same bodies');
  for (const k of r.kinds) {
    t.equal(k.wrong, 0, `${k.kind}: no wrong answers (${k.firstWrong ?? ''}); log: ${lines.slice(-3).join(' | ')}`);
    t.ok(k.otlpdb !== null && k.otlpdb.queries === 3, `${k.kind} ran`);
    t.equal(k.fts5 === null, k.kind === 'fuzzy' || 'notice' in r.fts5, `${k.kind}: FTS5 measured unless fuzzy or not installed`);
  }
});
