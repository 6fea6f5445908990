/**
 * report.test.ts — results.json has the shape issue 9 prescribes (one
 * invalid workload makes the run invalid; no workload is not valid), the
 * report directory holds results.json, history.jsonl and index.html, and
 * the timeline pairs each fault with its heal.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { HistoryOp } from '../harness/history.js';
import { buildResults, capAnomalies, faultWindows, writeReport } from './index.js';
import type { WorkloadResult } from './index.js';
import { JepsenLimits } from '../../src/limits.js';

const ok: WorkloadResult = { valid: true, ops: 2, ok: 1, fail: 0, unknown: 1, lost: 0, unexpected: 0, duplicates: 0, anomalies: [] };
const bad: WorkloadResult = { ...ok, valid: false, lost: 1, anomalies: ['acknowledged span a/b was not found'] };
const ops: HistoryOp[] = [
  { workload: 'register', process: 0, f: 'put', start: 10, end: 900, outcome: 'ok', value: { input: { type: 'put', key: 'k', value: 'v' } }, node: 1 },
  { workload: 'set', process: 1, f: 'send', start: 20, end: 3000, outcome: 'unknown', value: {}, node: 2, error: 'ERR_TIMEOUT' },
];
const nemesis = [
  { time: 1, fault: 'kill', targets: [2] },
  { time: 2, fault: 'restart', targets: [2] },
  { time: 3, fault: 'partition', targets: [1, 2, 3], detail: 'isolate: 1 | 2,3' },
];

t.test('results.json: valid only when every workload is', async (t) => {
  const r = buildResults({ register: ok, set: ok }, nemesis);
  t.equal(r.valid, true);
  t.same(Object.keys(r), ['valid', 'workloads', 'nemesis', 'nemesisAnomalies']);
  t.same(Object.keys(r.workloads['register'] ?? {}).sort(), ['anomalies', 'duplicates', 'fail', 'lost', 'ok', 'ops', 'unexpected', 'unknown', 'valid']);
  t.equal(buildResults({ register: ok, set: bad }, nemesis).valid, false, 'one invalid workload');
  t.equal(buildResults({}, nemesis).valid, false, 'nothing checked is not valid');
  t.equal(buildResults({ register: ok, set: ok }, nemesis, ['node 2 started on a corrupt WAL']).valid, false, 'a fault outcome that breaks a promise');
  const many = Array.from({ length: JepsenLimits.anomaliesShownMax + 5 }, (_, i) => `a${i}`);
  t.equal(capAnomalies(many).length, JepsenLimits.anomaliesShownMax + 1);
  t.match(capAnomalies(many).at(-1), /and 5 more/);
});

t.test('fault windows pair each fault with its heal; an open one lasts to the end', async (t) => {
  t.same(faultWindows(nemesis, 10), [
    { startMs: 1, endMs: 2, label: 'kill 2' },
    { startMs: 3, endMs: 10, label: 'partition 1,2,3' },
  ]);
});

t.test('the report directory: results.json, history.jsonl, index.html with an SVG timeline', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-jepsen-report-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const results = buildResults({ register: ok, set: bad }, nemesis);
  const p = await writeReport(dir, results, ops, 'test run');
  t.same(JSON.parse(await readFile(p.results, 'utf8')), results);
  const lines = (await readFile(p.history, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as HistoryOp);
  t.same(lines, ops, 'history.jsonl holds every operation, one per line');
  const html = await readFile(p.html, 'utf8');
  t.match(html, /<svg /);
  t.match(html, /INVALID/);
  t.match(html, /acknowledged span a\/b was not found/);
  t.equal((html.match(/fill="#bbb"/g) ?? []).length, 2, 'two fault windows shaded');
});
