import t from 'tap';
import type { Test } from 'tap';
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { IngestLimits } from '../limits.js';
import { initHash } from '../partition/hash.js';
import { OTLP_DECODERS } from './decoders.js';
import { OtlpGrpcReceiver } from './grpc-receiver.js';
import { Ingester, resolveIngestSettings } from './ingest.js';
import type { IngestSettings } from './ingest.js';
import { RawGrpcClient } from './receiver-test-util.js';
import { ShardWriter } from './shard-writer.js';

// The OTLP/gRPC receiver's HTTP/2 flow control (grpc-receiver.ts, "Flow
// control"): a client is granted IngestLimits.grpcStreamWindowBytes per call
// and grpcConnectionWindowBytes per connection before it sends anything,
// not HTTP/2's 65,535 bytes, which let 16 concurrent 141 KB log requests of
// bench/ingest share 64 KiB per turn of a busy node's event loop and all end
// in DEADLINE_EXCEEDED. Planted bug: without widenReceiveWindows in
// OtlpGrpcReceiver.start, both windows read 65,535 here and the first test
// fails. No timing is asserted.

const HTTP2_DEFAULT_WINDOW_BYTES = 65_535;
const LARGE_BODY_BYTES = 2 * 1024 * 1024;

/** startReceiver starts a receiver on an ephemeral port over an Ingester whose writer is never reached (shard writes refuse). */
async function startReceiver(t: Test, settings?: IngestSettings): Promise<{ host: string; port: number }> {
  const hasher = await initHash();
  const refuse = (): Promise<never> => Promise.reject(new OtlpdbError('ERR_UNAVAILABLE', 'no shard in this test'));
  const writer = new ShardWriter({
    self: 1,
    nowMs: () => performance.now(),
    rand: new SeededRand(5),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    replicasOf: () => [],
    localLeader: () => 0,
    proposeHere: refuse,
    call: refuse,
  });
  const ingester = new Ingester({
    hasher,
    writer,
    decoders: OTLP_DECODERS,
    shardCount: () => 1,
    tenantIngest: () => ({ bytesPerSecond: 1024 * 1024 * 1024, burstBytes: 1024 * 1024 * 1024, traceSampleRatio: 1 }),
    nowMs: () => performance.now(),
    wallMs: () => Date.now(),
    ...(settings === undefined ? {} : { settings }),
  });
  const receiver = await OtlpGrpcReceiver.start({ host: '127.0.0.1', port: 0, ingester });
  t.teardown(() => receiver.stop());
  return receiver.address();
}

t.test('a gRPC client is granted the large call and connection windows before it sends', async (t) => {
  const a = await startReceiver(t);
  const session = http2.connect(`http://${a.host}:${a.port}`);
  t.teardown(() => session.destroy());
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  // The server sends its connection WINDOW_UPDATE right after its SETTINGS; a ping's answer comes after both.
  await new Promise<void>((resolve, reject) => session.ping((err) => (err === null ? resolve() : reject(err))));
  t.equal(session.remoteSettings.initialWindowSize, IngestLimits.grpcStreamWindowBytes, 'each call may send grpcStreamWindowBytes unacknowledged');
  t.equal(session.state.remoteWindowSize, IngestLimits.grpcConnectionWindowBytes, 'the connection may send grpcConnectionWindowBytes unacknowledged');
  t.ok((session.state.remoteWindowSize ?? 0) > HTTP2_DEFAULT_WINDOW_BYTES, 'more than HTTP/2\'s default window');
});

t.test('a call larger than the windows still arrives whole and is answered', async (t) => {
  const a = await startReceiver(t);
  const rpc = new RawGrpcClient(a);
  t.teardown(() => rpc.close());
  // 0xff bytes are no protobuf message (a tag varint that never ends): the decoder refuses the request once it arrived.
  const r = await rpc.exportRaw('logs', Buffer.alloc(LARGE_BODY_BYTES + 1, 0xff), { tenant: 'flow' });
  t.equal(r.code, grpc.status.INVALID_ARGUMENT, `answered INVALID_ARGUMENT after ${LARGE_BODY_BYTES + 1} bytes arrived (${r.details})`);
  const more = await Promise.all([1, 2, 3, 4].map(() => rpc.exportRaw('logs', Buffer.alloc(LARGE_BODY_BYTES, 0xff))));
  t.same(more.map((m) => m.code), [3, 3, 3, 3].map(() => grpc.status.INVALID_ARGUMENT), 'four concurrent large calls on one connection are all answered');
});

// The message bound (grpcServerOptions): a message of exactly requestBytesMax
// bytes reaches the decoder, one byte more is RESOURCE_EXHAUSTED. Planted
// bug: with `'grpc.max_receive_message_length': requestBytesMax - 1` in
// grpcServerOptions the first call is RESOURCE_EXHAUSTED and the test fails.
// (With `+ 1` it passes: Ingester.admit refuses the body past
// requestBytesMax as well, the second bound.)
t.test('a message of requestBytesMax bytes is read, one byte more is RESOURCE_EXHAUSTED', async (t) => {
  const bytesMax = 64 * 1024;
  const a = await startReceiver(t, resolveIngestSettings({ requestBytesMax: bytesMax }));
  const rpc = new RawGrpcClient(a);
  t.teardown(() => rpc.close());
  // 0xff bytes are no protobuf message: a body that reaches the decoder is INVALID_ARGUMENT.
  const atBound = await rpc.exportRaw('traces', Buffer.alloc(bytesMax, 0xff));
  t.equal(atBound.code, grpc.status.INVALID_ARGUMENT, `${bytesMax} bytes reach the decoder (${atBound.details})`);
  const past = await rpc.exportRaw('traces', Buffer.alloc(bytesMax + 1, 0xff));
  t.equal(past.code, grpc.status.RESOURCE_EXHAUSTED, `${bytesMax + 1} bytes are refused before decoding (${past.details})`);
});

/** rawCall sends one uncompressed gRPC message to `path` over a raw HTTP/2 stream and returns grpc-status (from the headers of a trailers-only answer, else the trailers). */
async function rawCall(a: { host: string; port: number }, path: string, message: Buffer): Promise<string | undefined> {
  const session = http2.connect(`http://${a.host}:${a.port}`);
  try {
    return await new Promise<string | undefined>((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
      let status: string | undefined;
      stream.on('response', (h) => {
        if (typeof h['grpc-status'] === 'string') status = h['grpc-status'];
      });
      stream.on('trailers', (h) => {
        if (typeof h['grpc-status'] === 'string') status = h['grpc-status'];
      });
      stream.on('error', reject);
      stream.on('close', () => resolve(status));
      stream.resume();
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(message.length, 1);
      stream.end(Buffer.concat([prefix, message]));
    });
  } finally {
    session.destroy();
  }
}

// Unknown methods: only the three Export paths are served. Planted bug: a
// service registered for a fourth path (e.g. the traces handler also under
// `/opentelemetry.proto.collector.trace.v1.TraceService/Exports`) answers it
// and the first assertion fails.
t.test('a method other than the three Export methods is UNIMPLEMENTED', async (t) => {
  const a = await startReceiver(t);
  for (const path of ['/opentelemetry.proto.collector.trace.v1.TraceService/Exports', '/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export', '/grpc.health.v1.Health/Check']) {
    t.equal(await rawCall(a, path, Buffer.alloc(0)), String(grpc.status.UNIMPLEMENTED), `${path}: UNIMPLEMENTED`);
  }
  t.equal(await rawCall(a, '/opentelemetry.proto.collector.trace.v1.TraceService/Export', Buffer.alloc(0)), String(grpc.status.OK), 'the traces Export method itself is served (an empty request has nothing to write: OK)');
});
