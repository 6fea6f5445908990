/**
 * `otlpdb trace` end to end: a real one-node cluster in this process (real
 * sockets, WAL, LevelDB) takes spans over OTLP/HTTP JSON, and the built CLI
 * (node dist/cli/otlpdb.js, as `npx otlpdb` runs it; `npm test` builds
 * first) draws the trace, prints it with --json, and fails clearly for an
 * unknown trace and a bad id. The CLI runs as an asynchronous child so the
 * node in this process keeps serving while it waits.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';
import { OtlpdbNode } from '../../src/node.js';
import { builtCliPath, repoRoot } from '../../src/repo-root.js';
import type { HostPort } from '../../src/node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../../src/node-test-util.js';

const ROOT = repoRoot();
const CLI = builtCliPath();
const POLLS_MAX = 1500;
const POLL_MS = 40;
const CLI_TIMEOUT_MS = 60_000;
const TRACE_HEX = '5b8efff798038103d269b633813fc60c';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** otlpdb runs the built CLI with no terminal (stdout is a pipe) and NO_COLOR unset. */
function otlpdb(...args: string[]): Promise<Run> {
  const env = { ...process.env };
  delete env['NO_COLOR'];
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env, timeout: CLI_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** tracesJson is an OTLP/JSON export of one trace: a root, a child with status ERROR, and a grandchild in another service. */
function tracesJson(nowMs: number): string {
  const ns = (ms: number): string => (BigInt(nowMs - 1000 + ms) * 1_000_000n).toString();
  const span = (spanId: string, parentSpanId: string, name: string, from: number, to: number, code = 0) => ({
    traceId: TRACE_HEX,
    spanId,
    ...(parentSpanId === '' ? {} : { parentSpanId }),
    name,
    kind: 2,
    startTimeUnixNano: ns(from),
    endTimeUnixNano: ns(to),
    status: code === 0 ? {} : { code, message: 'card declined' },
  });
  const service = (name: string) => ({ attributes: [{ key: 'service.name', value: { stringValue: name } }] });
  return JSON.stringify({
    resourceSpans: [
      { resource: service('checkout'), scopeSpans: [{ scope: { name: 'e2e' }, spans: [span('00f067aa0ba902b7', '', 'POST /checkout', 0, 300), span('00f067aa0ba902b8', '00f067aa0ba902b7', 'charge', 50, 250, 2)] }] },
      { resource: service('payments'), scopeSpans: [{ scope: { name: 'e2e' }, spans: [span('00f067aa0ba902b9', '00f067aa0ba902b8', 'bank call', 60, 240)] }] },
    ],
  });
}

t.test('otlpdb trace draws a trace sent over OTLP/HTTP JSON to a real node', async (t) => {
  if (!existsSync(CLI)) {
    t.fail(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    return;
  }
  const c = await inProcessCluster(t, { n: 1, founders: 1, prefix: 'otlpdb-trace-e2e-', seedBase: 8181, extra: { shards: 2, replicas: 1, tickMs: 20 }, otlp: true });
  c.nodes.set(1, await OtlpdbNode.start({ ...c.options(1), initialCluster: c.founders }));
  t.ok(await pollUntil(async () => (await httpRequest(c.api(1), '/readyz')).status === 200, POLLS_MAX, POLL_MS), 'node ready');
  const otlpHttp = c.nodes.get(1)?.otlpHttpAddress() as HostPort;
  const sent = await httpRequest(otlpHttp, '/v1/traces', 'POST', Buffer.from(tracesJson(Date.now())), { 'content-type': 'application/json' });
  t.equal(sent.status, 200, `OTLP/HTTP JSON export accepted: ${sent.body}`);
  const target = `http://${c.api(1).host}:${c.api(1).port}`;

  const run = await otlpdb('trace', TRACE_HEX, '--target', target);
  t.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  t.match(lines[0], new RegExp(`^trace ${TRACE_HEX}  3 spans  2 services  300ms  1 error$`), 'the title counts spans, services, duration and errors');
  t.match(lines[1], /^ {3}SERVICE +SPAN +0 +300ms {2}DURATION$/, 'the header shows the time scale');
  t.match(lines[2], /^ {3}checkout {2}POST \/checkout +█+ +300ms$/, 'the root first, at the left edge');
  t.match(lines[3], /^! {2}checkout {4}charge +█+ +200ms$/, 'its child indented, marked as an error');
  t.match(lines[4], /^ {3}payments {6}bank call +█+ +180ms$/, 'the grandchild in another service, indented again');
  t.equal(lines.at(-1), '! status ERROR', 'the legend');
  t.ok(lines.slice(1, 5).every((l) => Array.from(l).length === 120), 'piped: 120 columns');
  t.notOk(run.stdout.includes('\u001b'), 'piped: no colour');
  const bar = (l: string | undefined): [number, number] => [(l ?? '').indexOf('█'), (l ?? '').lastIndexOf('█')];
  const [rootFrom, rootTo] = bar(lines[2]);
  const [childFrom, childTo] = bar(lines[3]);
  t.ok(rootFrom < childFrom && childTo < rootTo, 'the child bar lies inside the root bar');

  const short = await otlpdb('trace', TRACE_HEX.toUpperCase(), '--target', target, '--width', '80');
  t.equal(short.code, 0, short.stderr);
  t.ok(short.stdout.split('\n').slice(1, 5).every((l) => Array.from(l).length === 80), '--width 80');

  const json = await otlpdb('trace', TRACE_HEX, '--target', target, '--json');
  t.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout) as { batches: { scopeSpans: { spans: { name: string }[] }[] }[] };
  t.same(doc.batches.flatMap((b) => b.scopeSpans.flatMap((s) => s.spans.map((x) => x.name))).sort(), ['POST /checkout', 'bank call', 'charge'], '--json prints the OTLP JSON');

  const missing = await otlpdb('trace', 'abc', '--target', target);
  t.equal(missing.code, 1, 'an unknown trace exits 1');
  t.match(missing.stderr, /^otlpdb: ERR_NOT_FOUND: trace abc not found/);
  t.equal(missing.stdout, '');
  const tenant = await otlpdb('trace', TRACE_HEX, '--target', target, '--tenant', 'other');
  t.equal(tenant.code, 1, 'another tenant does not see it');
  const bad = await otlpdb('trace', 'not-hex', '--target', target);
  t.equal(bad.code, 2, 'a bad id exits 2');
  t.match(bad.stderr, /ERR_INVALID_ARGUMENT: trace id "not-hex" is not 1 to 32 hex digits/);

  // otlpdb query traces: TraceQL through the same node.
  const found = await otlpdb('query', 'traces', '{ resource.service.name = "checkout" } >> { status = error }', '--target', target);
  t.equal(found.code, 0, found.stderr);
  const rows = found.stdout.trimEnd().split('\n');
  t.match(rows[0], /^TRACE ID +START \(UTC\) +DURATION +ROOT SERVICE +ROOT NAME +MATCHED$/);
  t.match(rows[1], new RegExp(`^${TRACE_HEX}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}  +300ms  checkout +POST /checkout +1$`), 'one line: the trace, its root, one matched span');
  t.equal(rows[2], '1 trace(s)');
  const none = await otlpdb('query', 'traces', '{ name = "no such span" }', '--target', target);
  t.equal(none.code, 0, none.stderr);
  t.equal(none.stdout.trimEnd().split('\n').at(-1), '0 trace(s)');
  const asJson = await otlpdb('query', 'traces', '{ status = error }', '--target', target, '--json', '--since', '15m');
  t.equal(asJson.code, 0, asJson.stderr);
  t.same((JSON.parse(asJson.stdout) as { traces: { traceID: string }[] }).traces.map((x) => x.traceID), [TRACE_HEX], '--json prints the search answer');
  const syntax = await otlpdb('query', 'traces', '{ status = }', '--target', target);
  t.equal(syntax.code, 2, 'a TraceQL syntax error exits 2');
  t.match(syntax.stderr, /ERR_INVALID_ARGUMENT: .*refused the query: invalid q: TraceQL: .* at 1:\d+/);
  const since = await otlpdb('query', 'traces', '{ }', '--target', target, '--since', 'yesterday');
  t.equal(since.code, 2, 'a bad --since exits 2');
});
