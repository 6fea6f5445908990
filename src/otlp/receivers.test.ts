import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import http2 from 'node:http2';
import { createGzip, gzipSync } from 'node:zlib';
import { SeededRand } from '../fs/seeded-rand.js';
import { IngestLimits, OtlpLimits } from '../limits.js';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';
import type { StatsDocument } from '../shard-service.js';
import { deadlineOf } from './grpc-receiver.js';
import { loadOtlpTypes } from './otlp-test-gen.js';
import type { Obj } from './otlp-test-gen.js';
import { decodeExportResponse, decodeRpcStatus, GRPC_PATHS, postRaw, RawGrpcClient, rssBytes } from './receiver-test-util.js';
import type { RawHttpAnswer } from './receiver-test-util.js';

// The OTLP receivers' answers to bad input, as the OTLP specification's
// OTLP/HTTP and OTLP/gRPC sections prescribe (the "OTLP ingest" issue;
// DESIGN.md §1 promises 4 and 5), against a real 3-node cluster in this
// process: 404/405/415/400/413/429 and their google.rpc.Status bodies; a
// gzip bomb cut off at IngestLimits.requestBytesMax without inflating it
// (process RSS bounded); partial success naming the refused spans while the
// good ones read back; gRPC INVALID_ARGUMENT, RESOURCE_EXHAUSTED with
// RetryInfo, and partial_success; and last, with 2 of 3 nodes stopped,
// UNAVAILABLE / 503 with retry info before the client's deadline.
// Reproduce: npx tap src/otlp/receivers.test.ts (SEED below fixes every id).

const SEED = 7207;
const SHARDS = 2;
const TICK_MS = 20;
const POLLS_MAX = 1500;
const POLL_MS = 40;
const MIB = 1024 * 1024;
/** BOMB_INFLATED_BYTES is what the gzip bomb would inflate to (1 GiB of zeros). */
const BOMB_INFLATED_BYTES = 1024 * MIB;
/** BOMB_MEMBER_BYTES is what one gzip member of the bomb inflates to. */
const BOMB_MEMBER_BYTES = 64 * MIB;
/** RSS_GROWTH_BYTES_MAX bounds the process RSS growth while the bomb is refused (a memory bound, not a timing one). */
const RSS_GROWTH_BYTES_MAX = 200 * MIB;
const PROTO = { 'content-type': 'application/x-protobuf' };
const JSON_CT = { 'content-type': 'application/json' };
const types = loadOtlpTypes();
const rand = new SeededRand(SEED);
const NS_PER_MS = 1_000_000n;

/** SpanSpec is one span of a test request. */
interface SpanSpec {
  readonly traceId: Uint8Array;
  readonly spanId: Uint8Array;
  readonly name: string;
  readonly startNs: bigint;
}

function id(bytes: number): Uint8Array {
  const b = rand.bytes(bytes);
  b[0] = (b[0] as number) | 1;
  return b;
}

function goodSpan(name: string, traceId = id(16)): SpanSpec {
  return { traceId, spanId: id(8), name, startNs: BigInt(Date.now() - 60_000) * NS_PER_MS };
}

function tracesRequest(spans: readonly SpanSpec[]): Buffer {
  const obj: Obj = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'receivers-test' } }] },
        scopeSpans: [
          {
            scope: { name: 'receivers-test' },
            spans: spans.map((s) => ({ traceId: s.traceId, spanId: s.spanId, name: s.name, kind: 1, startTimeUnixNano: String(s.startNs), endTimeUnixNano: String(s.startNs + 1000n) })),
          },
        ],
      },
    ],
  };
  return Buffer.from(types.traces.encode(types.traces.fromObject(obj)).finish());
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** streamChunked sends `totalBytes` of body in 1 MiB chunks without a Content-Length and resolves with the answer (the server may cut it short). */
function streamChunked(a: HostPort, path: string, totalBytes: number): Promise<RawHttpAnswer> {
  return new Promise((resolve) => {
    let done = false;
    const settle = (r: RawHttpAnswer): void => {
      if (!done) {
        done = true;
        resolve(r);
      }
    };
    const req = http.request({ host: a.host, port: a.port, path, method: 'POST', headers: { ...PROTO, 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => settle({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err) => settle({ status: 0, headers: {}, body: Buffer.alloc(0), error: err.message }));
    });
    req.on('error', (err) => settle({ status: 0, headers: {}, body: Buffer.alloc(0), error: err.message }));
    const chunk = Buffer.alloc(MIB, 0x0a);
    let sent = 0;
    const pump = (): void => {
      while (!done && sent < totalBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!done) req.end();
    };
    pump();
  });
}

/**
 * gzipBomb is a gzip body that inflates to `bytes` zeros: one gzip member of
 * BOMB_MEMBER_BYTES zeros, compressed by streaming them through zlib (never
 * holding them), repeated — concatenated members are one valid gzip stream
 * (RFC 1952 §2.2), and repeating a member costs nothing to compress.
 */
async function gzipBomb(bytes: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    gz.on('end', () => resolve());
    gz.on('error', reject);
  });
  const zeros = Buffer.alloc(4 * MIB);
  for (let sent = 0; sent < BOMB_MEMBER_BYTES; sent += zeros.length) {
    if (!gz.write(zeros)) await new Promise<void>((resolve) => gz.once('drain', () => resolve()));
  }
  gz.end();
  await ended;
  const member = Buffer.concat(out);
  return Buffer.concat(Array.from({ length: Math.ceil(bytes / BOMB_MEMBER_BYTES) }, () => member));
}

/** grpcCompressedCall sends one gRPC message whose bytes are already gzip-compressed (flag 1, grpc-encoding: gzip) over a raw HTTP/2 stream, and returns grpc-status and grpc-message. */
function grpcCompressedCall(a: HostPort, path: string, compressed: Buffer): Promise<{ status: number; message: string; error?: string }> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://${a.host}:${a.port}`);
    const done = (r: { status: number; message: string; error?: string }): void => {
      session.close();
      resolve(r);
    };
    session.on('error', (err) => done({ status: -1, message: '', error: err.message }));
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'grpc-encoding': 'gzip', 'grpc-accept-encoding': 'identity,gzip' });
    let status = -1;
    let message = '';
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
      if (typeof h['grpc-message'] === 'string') message = decodeURIComponent(h['grpc-message']);
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('data', () => {});
    stream.on('end', () => done({ status, message }));
    stream.on('error', (err) => done({ status, message, error: err.message }));
    const prefix = Buffer.alloc(5);
    prefix[0] = 1;
    prefix.writeUInt32BE(compressed.length, 1);
    stream.end(Buffer.concat([prefix, compressed]));
  });
}

/** traceSpanNames reads a trace back through the API: its span names, or null when it is not found. */
async function traceSpanNames(api: HostPort, traceId: Uint8Array): Promise<string[] | null> {
  const r = await httpRequest(api, `/api/traces/${hex(traceId)}`);
  if (r.status === 404) return null;
  const doc = JSON.parse(r.body) as { batches: { scopeSpans: { spans: { name: string }[] }[] }[] };
  return doc.batches.flatMap((b) => b.scopeSpans.flatMap((s) => s.spans.map((x) => x.name))).sort();
}

t.test('deadlineOf keeps a reply margin of the client deadline, so UNAVAILABLE arrives before the client gives up', async (t) => {
  const at = (wallDeadline: number | Date): number => deadlineOf({ getDeadline: () => wallDeadline }, IngestLimits.requestDeadlineMsDefault, 1_000, 50_000);
  t.equal(at(52_000), 1_000 + 2_000 - 400, 'a 2 s deadline leaves the write path 1.6 s (replyMarginPercent 20)');
  t.equal(at(new Date(60_000)), 1_000 + 10_000 - IngestLimits.replyMarginMsMax, 'a 10 s deadline keeps back replyMarginMsMax');
  t.equal(at(Infinity), 1_000 + IngestLimits.requestDeadlineMsDefault, 'no deadline: the default, in full');
  t.equal(at(40_000), 1_000, 'a deadline already past: nothing left');
  t.equal(at(50_000 + 600_000), 1_000 + IngestLimits.requestDeadlineMsMax - IngestLimits.replyMarginMsMax, 'a far deadline is capped at requestDeadlineMsMax');
});

t.test('the OTLP receivers refuse bad input as the specification prescribes', async (t) => {
  const c = await inProcessCluster(t, { n: 3, founders: 3, prefix: 'otlpdb-receivers-', seedBase: SEED, extra: { shards: SHARDS, replicas: 3, tickMs: TICK_MS }, otlp: true });
  for (const id of [1, 2, 3]) c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders }));
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, POLLS_MAX, POLL_MS), `node ${id} ready`);
  const node1 = c.nodes.get(1) as OtlpdbNode;
  const web = node1.otlpHttpAddress() as HostPort;
  const rpc = new RawGrpcClient(node1.otlpGrpcAddress() as HostPort);
  t.teardown(() => rpc.close());
  const valid = tracesRequest([goodSpan('warm-up')]);

  await t.test('HTTP: path, method, content type and encoding', async (t) => {
    const notFound = await postRaw(web, '/v1/spans', valid, PROTO);
    t.equal(notFound.status, 404, 'unknown path is 404');
    t.match(decodeRpcStatus(notFound.body).message, /no OTLP endpoint at \/v1\/spans/, 'the Status says which paths exist');
    for (const method of ['GET', 'PUT']) {
      const r = await postRaw(web, '/v1/traces', method === 'GET' ? Buffer.alloc(0) : valid, PROTO, { method });
      t.equal(r.status, 405, `${method} is 405`);
      t.equal(r.headers.allow, 'POST', 'with Allow: POST');
    }
    const text = await postRaw(web, '/v1/traces', valid, { 'content-type': 'text/plain' });
    t.equal(text.status, 415, 'text/plain is 415');
    t.match(text.headers['content-type'], /application\/json/, 'an unknown content type is answered in JSON');
    t.match((JSON.parse(text.body.toString('utf8')) as { message: string }).message, /text\/plain/);
    const br = await postRaw(web, '/v1/traces', valid, { ...PROTO, 'content-encoding': 'br' });
    t.equal(br.status, 415, 'Content-Encoding: br is 415');
    t.match(decodeRpcStatus(br.body).message, /content encoding "br"/);
  });

  await t.test('HTTP: a body that is no OTLP request is 400 with a Status in the request content type', async (t) => {
    for (const path of ['/v1/traces', '/v1/metrics', '/v1/logs']) {
      const r = await postRaw(web, path, Buffer.from('this is not protobuf'), PROTO);
      t.equal(r.status, 400, `${path}: garbage protobuf is 400`);
      t.equal(r.headers['content-type'], 'application/x-protobuf', 'answered in protobuf');
      const st = decodeRpcStatus(r.body);
      t.equal(st.code, grpc.status.INVALID_ARGUMENT, 'Status.code INVALID_ARGUMENT');
      t.not(st.message, '', 'with a message');
      t.equal(st.retryDelayMs, null, 'and no RetryInfo: a retry cannot help');
      const j = await postRaw(web, path, Buffer.from('{"resourceSpans": [ nope'), JSON_CT);
      t.ok(j.status >= 400 && j.status < 500, `${path}: broken JSON is a 4xx (${j.status})`);
      t.equal(j.headers['content-type'], 'application/json', 'answered in JSON');
      const js = JSON.parse(j.body.toString('utf8')) as { code: number; message: string };
      t.equal(js.code, grpc.status.INVALID_ARGUMENT, 'JSON Status code INVALID_ARGUMENT');
      t.not(js.message, '', 'with a message');
    }
    const otlpJson = await postRaw(web, '/v1/traces', Buffer.from(JSON.stringify({ resourceSpans: [] })), JSON_CT);
    if (otlpJson.status !== 200) t.equal(otlpJson.status, 415, `a well-formed OTLP/JSON request is decoded (200) or, while this build refuses OTLP/JSON, 415 as decoders.ts promises (${otlpJson.body.toString('utf8')})`);
    const empty = await postRaw(web, '/v1/traces', Buffer.alloc(0), PROTO);
    t.equal(empty.status, 200, 'an empty body is an empty request: nothing to store, nothing refused');
    const badGzip = await postRaw(web, '/v1/traces', Buffer.from('not gzip at all'), { ...PROTO, 'content-encoding': 'gzip' });
    t.equal(badGzip.status, 400, 'a body that is not gzip is 400');
    t.match(decodeRpcStatus(badGzip.body).message, /not valid gzip/);
  });

  await t.test('HTTP: a bad X-Scope-OrgID is 400', async (t) => {
    for (const tenant of ['-leading-dash', 'has/slash', 'x'.repeat(300)]) {
      const r = await postRaw(web, '/v1/traces', valid, { ...PROTO, 'x-scope-orgid': tenant });
      t.equal(r.status, 400, `tenant ${JSON.stringify(tenant.slice(0, 20))} is 400`);
      t.match(decodeRpcStatus(r.body).message, /X-Scope-OrgID/);
    }
  });

  await t.test('HTTP: bodies over 16 MiB are 413, declared or chunked', async (t) => {
    const declared = await postRaw(web, '/v1/traces', Buffer.from('x'), { ...PROTO, 'content-length': String(IngestLimits.requestBytesMax + 1) });
    t.equal(declared.status, 413, 'Content-Length over the limit is 413 before the body is read');
    t.match(decodeRpcStatus(declared.body).message, /requestBytesMax/);
    const chunked = await streamChunked(web, '/v1/traces', IngestLimits.requestBytesMax + 2 * MIB);
    t.equal(chunked.status, 413, `a chunked body over the limit is cut off with 413 (${chunked.error ?? 'answered'})`);
    t.equal((await postRaw(web, '/v1/traces', valid, PROTO)).status, 200, 'the receiver still takes a valid request');
  });

  await t.test('a gzip bomb is cut off at the limit, not inflated, over HTTP and gRPC', async (t) => {
    const bomb = await gzipBomb(BOMB_INFLATED_BYTES);
    t.ok(bomb.length < IngestLimits.requestBytesMax, `the bomb is ${bomb.length} bytes on the wire, under the wire limit`);
    const before = rssBytes();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes())), 5);
    const r = await postRaw(web, '/v1/traces', bomb, { ...PROTO, 'content-encoding': 'gzip' });
    clearInterval(sampler);
    peak = Math.max(peak, rssBytes());
    t.equal(r.status, 413, 'the bomb is 413');
    t.match(decodeRpcStatus(r.body).message, /inflates past/);
    t.ok(peak - before < RSS_GROWTH_BYTES_MAX, `RSS grew by ${Math.round((peak - before) / MIB)} MiB, under ${RSS_GROWTH_BYTES_MAX / MIB} MiB`);
    const viaGrpc = await grpcCompressedCall(node1.otlpGrpcAddress() as HostPort, GRPC_PATHS.traces, bomb);
    peak = Math.max(peak, rssBytes());
    t.equal(viaGrpc.status, grpc.status.RESOURCE_EXHAUSTED, `gRPC: the bomb as a gzip message is RESOURCE_EXHAUSTED (${viaGrpc.message}${viaGrpc.error ?? ''})`);
    t.ok(peak - before < RSS_GROWTH_BYTES_MAX, `RSS grew by ${Math.round((peak - before) / MIB)} MiB over both, under ${RSS_GROWTH_BYTES_MAX / MIB} MiB`);
    const small = await grpcCompressedCall(node1.otlpGrpcAddress() as HostPort, GRPC_PATHS.traces, gzipSync(tracesRequest([goodSpan('grpc-gzipped')])));
    t.equal(small.status, grpc.status.OK, `gRPC: a valid gzip message is OK (${small.message})`);
    const ok = await postRaw(web, '/v1/traces', gzipSync(tracesRequest([goodSpan('gzipped')])), { ...PROTO, 'content-encoding': 'gzip' });
    t.equal(ok.status, 200, 'a valid gzip body is accepted');
    t.equal(decodeExportResponse(ok.body).rejected, 0, 'with nothing refused');
  });

  await t.test('partial success: bad items are counted and named, good ones stored', async (t) => {
    const good = [goodSpan('good-a'), goodSpan('good-b')];
    const sibling = goodSpan('good-c', good[0]?.traceId);
    const bad: SpanSpec[] = [
      { ...goodSpan('zero-trace-id'), traceId: new Uint8Array(16) },
      { ...goodSpan('short-span-id'), spanId: id(7) },
      { ...goodSpan('30-days-old'), startNs: BigInt(Date.now() - 30 * 86_400_000) * NS_PER_MS },
    ];
    for (const via of ['http', 'grpc'] as const) {
      const fresh = via === 'http' ? [...good, sibling] : [goodSpan('grpc-a'), goodSpan('grpc-b')];
      const badFresh = via === 'http' ? bad : bad.map((s) => ({ ...s, spanId: s.name === 'short-span-id' ? id(7) : id(8), name: `${s.name}-grpc` }));
      const body = tracesRequest([fresh[0] as SpanSpec, ...badFresh, ...fresh.slice(1)]);
      let ps;
      if (via === 'http') {
        const r = await postRaw(web, '/v1/traces', body, PROTO);
        t.equal(r.status, 200, 'HTTP: 200 with partial success');
        ps = decodeExportResponse(r.body);
      } else {
        const r = await rpc.exportRaw('traces', body);
        t.equal(r.code, grpc.status.OK, 'gRPC: OK with partial_success');
        ps = decodeExportResponse(r.response ?? Buffer.alloc(0));
      }
      t.equal(ps.rejected, bad.length, `${via}: rejected_spans is exactly the bad count`);
      for (const code of ['OTLP_BAD_TRACE_ID', 'OTLP_BAD_SPAN_ID', 'OTLP_TIMESTAMP_OUT_OF_RANGE']) t.match(ps.message, code, `${via}: the message names ${code}`);
      const byTrace = new Map<string, { traceId: Uint8Array; names: string[] }>();
      for (const s of fresh) {
        const e = byTrace.get(hex(s.traceId)) ?? { traceId: s.traceId, names: [] };
        e.names.push(s.name);
        byTrace.set(hex(s.traceId), e);
      }
      for (const { traceId, names } of byTrace.values()) t.same(await traceSpanNames(c.api(2), traceId), names.sort(), `${via}: trace ${hex(traceId)} reads back with its good spans only`);
      for (const s of badFresh.filter((x) => x.name.startsWith('30-days-old'))) t.equal(await traceSpanNames(c.api(2), s.traceId), null, `${via}: the old span was not stored`);
    }
  });

  await t.test('429 / RESOURCE_EXHAUSTED with retry info over a tenant rate', async (t) => {
    const put = await httpRequest(c.api(1), '/api/v1/tenants/slow', 'PUT', Buffer.from(JSON.stringify({ ingestBytesPerSecondMax: 1, ingestBurstBytesMax: 1000 })), { 'content-type': 'application/json' });
    t.equal(put.status, 200, `tenant settings stored (${put.body})`);
    t.equal((await httpRequest(c.api(1), '/api/v1/tenants/slow')).status, 200, 'read back through node 1 (a read barrier: node 1 applied them)');
    const body = tracesRequest(Array.from({ length: 10 }, (_, i) => goodSpan(`slow-${i}`)));
    t.ok(body.length > 500 && body.length <= 1000, `a request of ${body.length} bytes fits the burst once, not twice`);
    const first = await postRaw(web, '/v1/traces', body, { ...PROTO, 'x-scope-orgid': 'slow' });
    t.equal(first.status, 200, 'the first request takes the burst');
    const second = await postRaw(web, '/v1/traces', tracesRequest(Array.from({ length: 10 }, (_, i) => goodSpan(`slow2-${i}`))), { ...PROTO, 'x-scope-orgid': 'slow' });
    t.equal(second.status, 429, 'the second is 429');
    t.ok(Number(second.headers['retry-after']) >= 1, `with Retry-After (${second.headers['retry-after']} s)`);
    const st = decodeRpcStatus(second.body);
    t.equal(st.code, grpc.status.RESOURCE_EXHAUSTED, 'the Status is RESOURCE_EXHAUSTED');
    t.ok(st.retryDelayMs !== null && st.retryDelayMs > 0, 'with a RetryInfo');
    const g = await rpc.exportRaw('traces', body, { tenant: 'slow' });
    t.equal(g.code, grpc.status.RESOURCE_EXHAUSTED, 'gRPC: RESOURCE_EXHAUSTED');
    t.ok(g.statusDetails !== null, 'with grpc-status-details-bin');
    const gs = decodeRpcStatus(g.statusDetails ?? Buffer.alloc(0));
    t.equal(gs.code, grpc.status.RESOURCE_EXHAUSTED, 'the trailer Status has the same code');
    t.ok(gs.retryDelayMs !== null && gs.retryDelayMs > 0, `and a RetryInfo of ${gs.retryDelayMs} ms`);
    const chunked = await postRaw(web, '/v1/traces', tracesRequest(Array.from({ length: 10 }, (_, i) => goodSpan(`slow3-${i}`))), { ...PROTO, 'x-scope-orgid': 'slow' }, { chunked: true });
    t.equal(chunked.status, 429, 'a chunked body (no Content-Length) is charged to the tenant too: 429 (regression: it was admitted at 0 bytes)');
    t.ok(Number(chunked.headers['retry-after']) >= 1, 'with Retry-After');
    const over = await postRaw(web, '/v1/traces', tracesRequest(Array.from({ length: 20 }, (_, i) => goodSpan(`big-${i}`))), { ...PROTO, 'x-scope-orgid': 'slow' });
    t.equal(over.status, 413, 'a request larger than the tenant burst can never pass: 413, not 429');
    t.equal(over.headers['retry-after'], undefined, 'without Retry-After');
    const other = await postRaw(web, '/v1/traces', valid, PROTO);
    t.equal(other.status, 200, 'another tenant is not limited');
  });

  await t.test('gRPC: INVALID_ARGUMENT for garbage and a bad tenant', async (t) => {
    for (const signal of ['traces', 'metrics', 'logs'] as const) {
      const r = await rpc.exportRaw(signal, Buffer.from('this is not protobuf'));
      t.equal(r.code, grpc.status.INVALID_ARGUMENT, `${signal}: garbage is INVALID_ARGUMENT`);
      t.not(r.details, '', 'with a message');
      t.equal(r.statusDetails === null ? null : decodeRpcStatus(r.statusDetails).retryDelayMs, null, 'and no RetryInfo');
    }
    const tenant = await rpc.exportRaw('traces', valid, { tenant: 'has/slash' });
    t.equal(tenant.code, grpc.status.INVALID_ARGUMENT, 'a bad x-scope-orgid is INVALID_ARGUMENT');
    const ok = await rpc.exportRaw('traces', tracesRequest([goodSpan('grpc-ok')]));
    t.equal(ok.code, grpc.status.OK, 'a valid request is OK');
    t.equal(ok.response?.length, 0, 'with an empty response: nothing refused');
  });

  await t.test('a log record with only an observed time is stored and stays stored (regression: it was expired as if from 1970)', async (t) => {
    const before = JSON.parse((await httpRequest(c.api(1), '/api/v1/stats')).body) as StatsDocument;
    const nowNs = BigInt(Date.now() - 60_000) * NS_PER_MS;
    const records = [
      { observedTimeUnixNano: String(nowNs), severityNumber: 9, body: { stringValue: 'observed time only' } },
      { timeUnixNano: String(nowNs), observedTimeUnixNano: String(nowNs), severityNumber: 9, body: { stringValue: 'both times' } },
    ];
    const body = Buffer.from(types.logs.encode(types.logs.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] })).finish());
    const r = await postRaw(web, '/v1/logs', body, PROTO);
    t.equal(r.status, 200, 'accepted');
    t.equal(decodeExportResponse(r.body).rejected, 0, 'nothing refused');
    t.equal((await httpRequest(c.api(1), '/api/v1/admin/flush', 'POST')).status, 200, 'flushed (a retention pass may run with the flush)');
    const after = JSON.parse((await httpRequest(c.api(1), '/api/v1/stats')).body) as StatsDocument;
    t.equal(after.logs.records - before.logs.records, records.length, 'both acknowledged records are counted after the flush');
  });

  await t.test('item limits: a long attribute value is truncated and counted, attributes past the limit are dropped and counted', async (t) => {
    const metricsBefore = (await httpRequest(c.api(1), '/metrics')).body;
    const truncatedBefore = Number(/otlpdb_ingest_truncated_values_total\{node="1"\} (\d+)/.exec(metricsBefore)?.[1] ?? 'NaN');
    const s = goodSpan('limits');
    const attributes = [
      { key: 'long', value: { stringValue: 'v'.repeat(OtlpLimits.attributeValueBytesMax + 1000) } },
      ...Array.from({ length: OtlpLimits.attributesPerItemMax + 10 }, (_, i) => ({ key: `a${i}`, value: { intValue: i } })),
    ];
    const obj: Obj = {
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: s.traceId, spanId: s.spanId, name: s.name, kind: 1, startTimeUnixNano: String(s.startNs), endTimeUnixNano: String(s.startNs + 1000n), attributes }] }] }],
    };
    const r = await postRaw(web, '/v1/traces', Buffer.from(types.traces.encode(types.traces.fromObject(obj)).finish()), PROTO);
    t.equal(r.status, 200, 'accepted');
    t.equal(decodeExportResponse(r.body).rejected, 0, 'nothing refused: cutting is not refusing');
    const truncatedAfter = Number(/otlpdb_ingest_truncated_values_total\{node="1"\} (\d+)/.exec((await httpRequest(c.api(1), '/metrics')).body)?.[1] ?? 'NaN');
    t.equal(truncatedAfter - truncatedBefore, 1, 'otlpdb_ingest_truncated_values_total counted the cut value');
    const doc = JSON.parse((await httpRequest(c.api(2), `/api/traces/${hex(s.traceId)}`)).body) as {
      batches: { scopeSpans: { spans: { attributes: { key: string; value: { stringValue?: string } }[]; droppedAttributesCount?: number }[] }[] }[];
    };
    const span = doc.batches[0]?.scopeSpans[0]?.spans[0];
    t.equal(span?.attributes.length, OtlpLimits.attributesPerItemMax, 'attributesPerItemMax attributes kept');
    t.equal(span?.droppedAttributesCount, attributes.length - OtlpLimits.attributesPerItemMax, 'the rest counted in droppedAttributesCount');
    t.equal(span?.attributes.find((a) => a.key === 'long')?.value.stringValue?.length, OtlpLimits.attributeValueBytesMax, 'the long value cut to attributeValueBytesMax');
  });

  await t.test('the minority side refuses: UNAVAILABLE / 503 with retry info before the deadline', async (t) => {
    for (const id of [2, 3]) {
      await c.nodes.get(id)?.stop();
      c.nodes.delete(id);
    }
    const g = await rpc.exportRaw('traces', tracesRequest([goodSpan('minority-grpc')]), { deadlineMs: 2_000 });
    t.equal(g.code, grpc.status.UNAVAILABLE, `gRPC: UNAVAILABLE before the 2 s deadline, not ${grpc.status[g.code]} (${g.details})`);
    const gs = g.statusDetails === null ? null : decodeRpcStatus(g.statusDetails);
    t.ok(gs !== null && gs.retryDelayMs !== null && gs.retryDelayMs > 0, `with a RetryInfo (${gs?.retryDelayMs ?? 'none'} ms)`);
    const h = await postRaw(web, '/v1/traces', tracesRequest([goodSpan('minority-http')]), PROTO, { timeoutMs: IngestLimits.requestDeadlineMsDefault + 10_000 });
    t.equal(h.status, 503, `HTTP: 503 within the default deadline (${h.error ?? decodeRpcStatus(h.body).message})`);
    t.ok(Number(h.headers['retry-after']) >= 1, `with Retry-After (${h.headers['retry-after']})`);
    t.equal((await httpRequest(c.api(1), '/healthz')).status, 200, 'the node itself stays healthy');
  });
});
