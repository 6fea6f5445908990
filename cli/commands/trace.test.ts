/**
 * `otlpdb trace` against a real API server (src/api/server.ts) whose source
 * holds one trace: the waterfall, --json, the tenant header, width and colour
 * choices, and each error with the code and message a user sees. The flag
 * parsers are checked on their own first.
 */
import t from 'tap';
import type { Test } from 'tap';
import { ApiServer } from '../../src/api/server.js';
import type { ApiSource, GroupView } from '../../src/api/types.js';
import { OtlpdbError } from '../../src/errors.js';
import { TraceCliLimits } from '../../src/limits.js';
import { freePort } from '../../src/node-test-util.js';
import type { SpanRow } from '../../src/storage/rows.js';
import { newMetrics } from '../../src/transport/transport-types.js';
import { parseTarget, parseTraceId, renderWidth, runTraceCommand, useColor } from './trace.js';
import type { TraceIo } from './trace.js';

const TRACE_HEX = '0000000000000000000000000000beef';
const MS = 1_000_000n;
const T0 = 1_750_000_000_000_000_000n;

function row(spanIdHex: string, parentHex: string, name: string, fromMs: bigint, toMs: bigint, error: boolean): SpanRow {
  return {
    tenant: 'acme',
    traceId: Uint8Array.from(Buffer.from(TRACE_HEX, 'hex')),
    spanId: Uint8Array.from(Buffer.from(spanIdHex, 'hex')),
    parentSpanId: Uint8Array.from(Buffer.from(parentHex, 'hex')),
    traceState: '',
    flags: 0,
    name,
    kind: 1,
    startTimeUnixNano: T0 + fromMs * MS,
    endTimeUnixNano: T0 + toMs * MS,
    status: { code: error ? 2 : 0, message: '' },
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: 'shop' } }], droppedAttributesCount: 0, schemaUrl: '' },
    scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
  };
}

const ROWS = [row('0000000000000001', '', 'GET /cart', 0n, 100n, false), row('0000000000000002', '0000000000000001', 'redis GET', 40n, 90n, true)];

/** OneTrace serves ROWS for TRACE_HEX in tenant acme only, and remembers the tenants it was asked for. */
class OneTrace implements ApiSource {
  readonly nodeId = 1;
  readonly metaGroup = 0;
  readonly asked: string[] = [];
  nodes() {
    return [{ id: 1, address: '127.0.0.1:7400', state: 'self' }];
  }
  groups(): GroupView[] {
    return [];
  }
  transportMetrics() {
    return newMetrics();
  }
  driverStats() {
    return {};
  }
  traceById(tenant: string, traceId: Uint8Array): Promise<{ spans: SpanRow[]; truncated: boolean }> {
    this.asked.push(tenant);
    const found = tenant === 'acme' && Buffer.from(traceId).toString('hex') === TRACE_HEX;
    return Promise.resolve({ spans: found ? ROWS : [], truncated: false });
  }
}

async function serve(t: Test): Promise<{ url: string; source: OneTrace }> {
  const source = new OneTrace();
  const api = await ApiServer.start({ host: '127.0.0.1', port: 0, source });
  t.teardown(() => api.stop());
  const a = api.address();
  return { url: `http://${a.host}:${a.port}`, source };
}

/** captured is a TraceIo that keeps what is printed; `tty` pretends stdout is a terminal. */
function captured(tty = false, env: Record<string, string> = {}): TraceIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(`err: ${l}`), isTTY: tty, columns: tty ? 90 : undefined, env };
}

async function refusal(t: Test, p: Promise<unknown>, code: string, message: RegExp, what: string): Promise<void> {
  try {
    await p;
    t.fail(`${what}: no error`);
  } catch (err) {
    t.ok(err instanceof OtlpdbError, `${what}: an OtlpdbError`);
    t.match(err, { code, message }, what);
  }
}

t.test('flag parsing: ids, targets, width, colour', async (t) => {
  t.equal(parseTraceId('BEEF'), TRACE_HEX, 'short ids are left-padded and lowercased');
  t.equal(parseTraceId('f'.repeat(32)), 'f'.repeat(32));
  for (const bad of ['', 'xyz', 'f'.repeat(33), '12 34', '-1']) t.throws(() => parseTraceId(bad), { code: 'ERR_INVALID_ARGUMENT' }, `id ${JSON.stringify(bad)}`);
  t.same(parseTarget('http://127.0.0.1:3200'), { address: { host: '127.0.0.1', port: 3200 }, basePath: '', text: 'http://127.0.0.1:3200' });
  t.same(parseTarget('127.0.0.2:3201'), { address: { host: '127.0.0.2', port: 3201 }, basePath: '', text: 'http://127.0.0.2:3201' }, 'host:port without a scheme');
  t.same(parseTarget('http://tempo.example/prefix/'), { address: { host: 'tempo.example', port: 80 }, basePath: '/prefix', text: 'http://tempo.example/prefix' });
  t.same(parseTarget('http://[::1]:3200').address, { host: '::1', port: 3200 });
  for (const bad of ['https://x:1', 'http://', 'http://x:1/?q=1', 'http://u:p@x:1', ':::']) t.throws(() => parseTarget(bad), { code: 'ERR_INVALID_ARGUMENT' }, `target ${bad}`);
  t.equal(renderWidth({}, { isTTY: false, columns: undefined }), TraceCliLimits.widthPiped, 'piped: 120');
  t.equal(renderWidth({}, { isTTY: true, columns: 100 }), 100, 'a terminal: its width');
  t.equal(renderWidth({}, { isTTY: true, columns: 20 }), TraceCliLimits.widthMin, 'a tiny terminal: the minimum');
  t.equal(renderWidth({ width: '77' }, { isTTY: true, columns: 100 }), 77, '--width wins');
  t.throws(() => renderWidth({ width: '10' }, { isTTY: false, columns: undefined }), { code: 'ERR_INVALID_ARGUMENT' });
  t.equal(useColor({ isTTY: true, env: {} }), true);
  t.equal(useColor({ isTTY: true, env: { NO_COLOR: '1' } }), false, 'NO_COLOR');
  t.equal(useColor({ isTTY: true, env: { NO_COLOR: '' } }), true, 'an empty NO_COLOR does not count (no-color.org)');
  t.equal(useColor({ isTTY: false, env: {} }), false, 'piped');
});

t.test('the waterfall, --json and the tenant header against a real API server', async (t) => {
  const { url, source } = await serve(t);
  const io = captured();
  t.equal(await runTraceCommand('beef', { target: url, tenant: 'acme' }, io), 0);
  t.same(io.lines, [
    `trace ${TRACE_HEX}  2 spans  1 service  100ms  1 error`,
    '   SERVICE  SPAN         0                                                                               100ms  DURATION',
    '   shop     GET /cart    █████████████████████████████████████████████████████████████████████████████████████     100ms',
    '!  shop       redis GET                                    ███████████████████████████████████████████            50.0ms',
    '! status ERROR',
  ], 'piped: 120 columns, no colour');
  t.same(source.asked, ['acme'], 'the tenant went as X-Scope-OrgID');

  const json = captured();
  t.equal(await runTraceCommand(TRACE_HEX, { target: url, tenant: 'acme', json: true }, json), 0);
  const doc = JSON.parse(json.lines.join('\n')) as { batches: { scopeSpans: { spans: { name: string }[] }[] }[] };
  t.same(doc.batches.flatMap((b) => b.scopeSpans.flatMap((s) => s.spans.map((x) => x.name))), ['GET /cart', 'redis GET'], '--json prints the raw OTLP JSON');

  const tty = captured(true);
  await runTraceCommand('beef', { target: url, tenant: 'acme' }, tty);
  t.ok(tty.lines.some((l) => l.startsWith('\u001b[31m') && l.includes('redis GET')), 'on a terminal the error row is red');
  const visible = (l: string): number => Array.from(l.replaceAll('\u001b[31m', '').replaceAll('\u001b[0m', '')).length;
  t.ok(tty.lines.every((l) => visible(l) <= 90 || l.startsWith('trace ')), 'and fits the terminal width');
  const noColor = captured(true, { NO_COLOR: '1' });
  await runTraceCommand('beef', { target: url, tenant: 'acme' }, noColor);
  t.notOk(noColor.lines.some((l) => l.includes('\u001b')), 'NO_COLOR: no escapes');
});

t.test('errors name the trace or the target', async (t) => {
  const { url } = await serve(t);
  await refusal(t, runTraceCommand('beef', { target: url }, captured()), 'ERR_NOT_FOUND', /^trace beef not found \(asked http:\/\/127\.0\.0\.1:\d+\)$/, 'another tenant: 404');
  await refusal(t, runTraceCommand('dead', { target: url, tenant: 'acme' }, captured()), 'ERR_NOT_FOUND', /^trace dead not found in tenant acme/, 'unknown id: 404');
  await refusal(t, runTraceCommand('nothex', { target: url }, captured()), 'ERR_INVALID_ARGUMENT', /not 1 to 32 hex digits/, 'a bad id is refused before any request');
  await refusal(t, runTraceCommand('beef', { target: url, tenant: 'no spaces' }, captured()), 'ERR_INVALID_ARGUMENT', /^--tenant: /, 'a bad tenant');
  const port = await freePort('127.0.0.1');
  await refusal(t, runTraceCommand('beef', { target: `http://127.0.0.1:${port}` }, captured()), 'ERR_UNAVAILABLE', new RegExp(`^cannot reach http://127\\.0\\.0\\.1:${port}: connection refused`), 'nothing listening: says which target');
  await refusal(t, runTraceCommand('beef', { target: `${url}/elsewhere` }, captured()), 'ERR_INVALID_ARGUMENT', /serves no trace by id \(no such path: \/elsewhere\/api\/traces\//, 'a wrong path prefix: the target is wrong, not the trace');
});
