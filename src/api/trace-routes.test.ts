/**
 * Tempo's trace by id and echo on the API server, against a source that holds
 * one trace: JSON and protobuf answers of v1 and v2 (the protobuf decoded by
 * protobufjs and compared with the JSON answer), the PARTIAL status of a cut
 * trace, short ids left-padded as Tempo pads them, and the refusals.
 */
import t from 'tap';
import { serveApi } from './api-test-util.js';
import type { ApiSource, GroupView } from './types.js';
import { newMetrics } from '../transport/transport-types.js';
import type { HostPort } from '../node-config.js';
import type { SpanRow } from '../storage/rows.js';
import { canonical, loadTempoTypes, toObject } from '../otlp/tempo-proto-test-util.js';

const TRACE_HEX = '00000000000000000000abcdef012345';
const TRACE_ID = Uint8Array.from(Buffer.from(TRACE_HEX, 'hex'));

function span(name: string, spanIdHex: string, parentHex: string, service: string, statusCode: 0 | 1 | 2): SpanRow {
  return {
    tenant: 'default',
    traceId: TRACE_ID,
    spanId: Uint8Array.from(Buffer.from(spanIdHex, 'hex')),
    parentSpanId: Uint8Array.from(Buffer.from(parentHex, 'hex')),
    traceState: '',
    flags: 1,
    name,
    kind: 2,
    startTimeUnixNano: 1_750_000_000_000_000_000n,
    endTimeUnixNano: 1_750_000_000_250_000_000n,
    status: { code: statusCode, message: statusCode === 2 ? 'boom' : '' },
    attributes: [
      { key: 'http.status_code', value: { type: 'int', value: -7n } },
      { key: 'ratio', value: { type: 'double', value: 0.5 } },
    ],
    droppedAttributesCount: 0,
    events: [{ timeUnixNano: 1_750_000_000_100_000_000n, name: 'exception', attributes: [], droppedAttributesCount: 1 }],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 2,
    resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: service } }], droppedAttributesCount: 0, schemaUrl: '' },
    scope: { name: 'lib', version: '1.0', attributes: [], droppedAttributesCount: 0, schemaUrl: 'https://schema' },
  };
}

const SPANS = [span('GET /', '0000000000000001', '', 'front', 0), span('SELECT', '0000000000000002', '0000000000000001', 'db', 2)];

/** TraceSource serves SPANS for TRACE_ID in tenant `default`, cut when `truncated`. */
class TraceSource implements ApiSource {
  readonly nodeId = 1;
  readonly metaGroup = 0;
  truncated = false;
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
    const found = tenant === 'default' && Buffer.from(traceId).equals(Buffer.from(TRACE_ID));
    return Promise.resolve({ spans: found ? SPANS : [], truncated: found && this.truncated });
  }
}


async function get(a: HostPort, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: Buffer }> {
  const r = await fetch(`http://${a.host}:${a.port}${path}`, { headers });
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: Buffer.from(await r.arrayBuffer()) };
}

const PROTO = { accept: 'application/protobuf' };

t.test('GET /api/echo answers 200 echo, as Tempo', async (t) => {
  const a = await serveApi(t, new TraceSource());
  const r = await get(a, '/api/echo');
  t.equal(r.status, 200);
  t.equal(r.body.toString(), 'echo\n', "Go's http.Error(w, \"echo\", 200) ends with a newline");
  t.match(r.type, /^text\/plain/);
  t.equal((await fetch(`http://${a.host}:${a.port}/api/echo`, { method: 'POST' })).status, 405, 'only GET');
});

t.test('trace by id: v1 and v2, JSON and protobuf, say the same', async (t) => {
  const source = new TraceSource();
  const a = await serveApi(t, source);
  const types = loadTempoTypes();

  const v1 = await get(a, `/api/traces/${TRACE_HEX}`);
  t.equal(v1.status, 200);
  t.equal(v1.type, 'application/json');
  const v1Json = JSON.parse(v1.body.toString()) as { batches: unknown[] };
  t.same(Object.keys(v1Json), ['batches'], 'v1 JSON is {"batches":[...]}');
  t.equal(v1Json.batches.length, 2, 'one ResourceSpans per service');

  const v1Proto = await get(a, `/api/traces/${TRACE_HEX}`, PROTO);
  t.equal(v1Proto.status, 200);
  t.equal(v1Proto.type, 'application/protobuf');
  t.same(canonical(toObject(types.trace, v1Proto.body).resourceSpans), canonical(v1Json.batches), 'v1 protobuf (tempopb.Trace) = v1 JSON');

  const v2 = await get(a, `/api/v2/traces/${TRACE_HEX}`);
  t.equal(v2.status, 200);
  const v2Json = JSON.parse(v2.body.toString()) as { trace: { resourceSpans: unknown[] } };
  t.same(Object.keys(v2Json), ['trace'], 'a complete v2 answer has no status (jsonpb leaves COMPLETE out)');
  t.same(v2Json.trace.resourceSpans, v1Json.batches, 'v2 JSON is {"trace":{"resourceSpans":[...]}}');

  const v2Proto = await get(a, `/api/v2/traces/${TRACE_HEX}`, { accept: 'application/json;q=0.5, Application/Protobuf' });
  t.equal(v2Proto.type, 'application/protobuf', 'an Accept list naming protobuf gets protobuf');
  const decoded = toObject(types.byId, v2Proto.body);
  t.same(Object.keys(decoded), ['trace']);
  t.same(canonical((decoded.trace as { resourceSpans: unknown }).resourceSpans), canonical(v1Json.batches), 'v2 protobuf (TraceByIDResponse) = v2 JSON');

  source.truncated = true;
  const cut = JSON.parse((await get(a, `/api/v2/traces/${TRACE_HEX}`)).body.toString()) as Record<string, unknown>;
  t.equal(cut.status, 'PARTIAL', 'a cut trace is PARTIAL, the enum by name as Tempo writes it');
  t.type(cut.message, 'string');
  const cutProto = toObject(types.byId, (await get(a, `/api/v2/traces/${TRACE_HEX}`, PROTO)).body);
  t.equal(cutProto.status, 1, 'PARTIAL in protobuf');
  t.equal(cutProto.message, cut.message);
  t.same(Object.keys(JSON.parse((await get(a, `/api/traces/${TRACE_HEX}`)).body.toString()) as object), ['batches'], 'v1 has no status to carry');
});

t.test('trace by id: short ids are left-padded; refusals', async (t) => {
  const a = await serveApi(t, new TraceSource());
  for (const id of ['abcdef012345', 'ABCDEF012345', '0abcdef012345', TRACE_HEX]) {
    t.equal((await get(a, `/api/traces/${id}`)).status, 200, `${id} names the trace`);
  }
  const missing = await get(a, '/api/v2/traces/1', PROTO);
  t.equal(missing.status, 404, 'an unknown trace is 404');
  t.equal(missing.type, 'application/json', 'errors stay JSON');
  t.equal((await get(a, `/api/traces/${TRACE_HEX}`, { 'x-scope-orgid': 'other' })).status, 404, 'another tenant does not see it');
  for (const bad of [`${TRACE_HEX}0`, '12xz', '%zz', '']) {
    const r = await get(a, `/api/traces/${bad}`);
    t.equal(r.status, 400, `${JSON.stringify(bad)} is refused`);
    t.match(JSON.parse(r.body.toString()), { error: { code: 'ERR_INVALID_ARGUMENT' } });
  }
});
