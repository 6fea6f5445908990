import t from 'tap';
import { parseQueryTracesArgs } from './query-traces.js';
import { buildQueryTracesData } from './query-traces-data.js';
import { runQueryTracesBench } from './query-traces-run.js';

// Not a timed test: it checks the bench's flags and data, and that one tiny
// real run on 3 nodes answers every query correctly, so the published
// figures mean something. It asserts no timing.

t.test('flags: defaults, every flag, refusals', async (t) => {
  t.same(parseQueryTracesArgs([]), { nodes: 3, traces: 100_000, byIdQueries: 200, searchQueries: 100, scanQueries: 10, connections: 8, arrival: 'time', portBase: null, nodeArgs: [], queryLog: null, json: false });
  t.same(parseQueryTracesArgs(['--nodes', '1', '--traces', '50', '--by-id', '5', '--searches', '6', '--scans', '2', '--connections', '4', '--arrival', 'random', '--port-base', '31400', '--node-arg', '--trace-gc', '--node-arg', '--import=/tmp/p.mjs', '--query-log', '/tmp/q.jsonl', '--json']), {
    nodes: 1, traces: 50, byIdQueries: 5, searchQueries: 6, scanQueries: 2, connections: 4, arrival: 'random', portBase: 31_400, nodeArgs: ['--trace-gc', '--import=/tmp/p.mjs'], queryLog: '/tmp/q.jsonl', json: true,
  });
  t.throws(() => parseQueryTracesArgs(['--node-arg', 'trace-gc']), /--node-arg/);
  t.throws(() => parseQueryTracesArgs(['--query-log']), /--query-log/);
  t.throws(() => parseQueryTracesArgs(['--nodes', '2']), /--nodes/);
  t.throws(() => parseQueryTracesArgs(['--traces', '0']), /--traces/);
  t.throws(() => parseQueryTracesArgs(['--by-id']), /--by-id/);
  t.throws(() => parseQueryTracesArgs(['--trace', '5']), /unknown argument/);
});

t.test('the data: seeded, 10-30 spans a trace, in the hour before now', async (t) => {
  const now = 1_790_000_000_000;
  const a = buildQueryTracesData(120, now, 1);
  const b = buildQueryTracesData(120, now, 1);
  t.same(a.traces, b.traces, 'the same seed gives the same data');
  t.equal(a.traces.length, 120);
  t.equal(a.bodies.length, 3, '50 traces a request');
  t.ok(a.traces.every((f) => f.spans >= 10 && f.spans <= 30));
  t.equal(a.spans, a.traces.reduce((n, f) => n + f.spans, 0));
  t.ok(a.traces.every((f) => f.startNs >= BigInt(a.windowStartS) * 1_000_000_000n && f.startNs < BigInt(a.windowEndS) * 1_000_000_000n));
  t.ok(a.windowEndS * 1000 <= now && a.windowStartS * 1000 >= now - 3_600_000);
});

t.test('a tiny real run on 3 nodes answers every query correctly', async (t) => {
  const lines: string[] = [];
  const r = await runQueryTracesBench(
    { nodes: 3, traces: 150, byIdQueries: 10, searchQueries: 5, scanQueries: 2, connections: 4, arrival: 'time', portBase: null, nodeArgs: [], queryLog: null, json: false },
    { ports: { api: 26_200, peer: 26_400, otlpGrpc: 26_317, otlpHttp: 26_318 }, log: (l) => lines.push(l) },
  );
  t.equal(r.traces, 150);
  for (const [k, f] of Object.entries({ byId: r.byId, attribute: r.attribute, duration: r.duration, attributeScan: r.attributeScan, durationScan: r.durationScan })) {
    t.equal(f.wrong, 0, `${k}: no wrong answers (${f.firstWrong ?? ''}); log: ${lines.slice(-3).join(' | ')}`);
    t.ok(f.queries > 0, `${k} ran`);
  }
});
