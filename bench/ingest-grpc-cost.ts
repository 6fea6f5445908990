/**
 * ingest-grpc-cost.ts — `node dist/bench/ingest-grpc-cost.js [--seconds N]
 * [--rounds N] [--calls N] [--body-bytes N] [--port P]`: the receiving
 * process's CPU per request of the OTLP transports alone, without the write
 * path: bench/ingest's 512-span trace request (171,501 bytes) sent by
 * `--calls` concurrent loops for `--seconds`, into
 *
 * - `grpc`: a grpc-js server built as OtlpGrpcReceiver builds it
 *   (grpcServerOptions, widenReceiveWindows), an Export handler that answers
 *   an empty response as soon as the message arrived whole;
 * - `h2`: node:http2 alone, the floor of any OTLP/gRPC server on it: the
 *   same windows, the body's DATA concatenated, the 5-byte prefix read, an
 *   empty message and `grpc-status: 0` trailers (no timeout, metadata,
 *   gzip or status handling: what grpc-js does beyond framing);
 * - `http`: a node:http server that reads the body whole (chunks concatenated,
 *   as the OTLP/HTTP receiver does) and answers 200 with an empty body.
 *
 * The server runs in a forked child process, so its CPU (process.cpuUsage
 * between the start and the end of the timed load, all its threads) is the
 * server's only; the client is this process (grpc-js's client, as in
 * bench/ingest; node:http with keep-alive). Rounds alternate the three
 * kinds; the figure is each kind's median ms of server CPU per request, and
 * its ratio to `http`. Loopback, no TLS.
 */
import * as grpc from '@grpc/grpc-js';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { assert } from '../src/errors.js';
import { IngestBenchLimits, IngestLimits } from '../src/limits.js';
import { OTLP_GRPC_SERVICES, grpcServerOptions, widenReceiveWindows } from '../src/otlp/grpc-receiver.js';

/** GrpcCostBenchLimits bound this bench's flags (bench-only; the defaults are bench/ingest's traces phase). */
const GrpcCostBenchLimits = {
  secondsDefault: 5,
  secondsMax: 120,
  roundsDefault: 3,
  roundsMax: 50,
  /** bodyBytesDefault is bench/ingest's 512-span trace request. */
  bodyBytesDefault: 171_501,
  /** warmupCalls are answered before the clock starts (JIT, connections). */
  warmupCalls: 32,
  /** serverStartMs bounds the wait for the child's listening message. */
  serverStartMs: 30_000,
} as const;

const KINDS = ['grpc', 'h2', 'http'] as const;
type Kind = (typeof KINDS)[number];
const identity = (b: Buffer): Buffer => b;
const TRACES_PATH = OTLP_GRPC_SERVICES[0]?.path ?? '';

/** serve runs in the child: one server of `kind` on 127.0.0.1:port; it reports its port, then its CPU between 'start' and 'stop'. */
async function serve(kind: Kind, port: number): Promise<void> {
  let bound: number;
  if (kind === 'http') {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      req.on('data', (c: Buffer) => {
        chunks.push(c);
        n += c.length;
      });
      req.on('end', () => {
        assert(Buffer.concat(chunks, n).length === n, 'the body was read whole');
        res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
        res.end();
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const a = server.address();
    bound = typeof a === 'object' && a !== null ? a.port : port;
  } else if (kind === 'h2') {
    const server = http2.createServer({ settings: { initialWindowSize: IngestLimits.grpcStreamWindowBytes } });
    server.on('session', (session: http2.ServerHttp2Session) => session.setLocalWindowSize(IngestLimits.grpcConnectionWindowBytes));
    server.on('stream', (stream: http2.ServerHttp2Stream) => {
      const chunks: Buffer[] = [];
      let n = 0;
      stream.on('data', (c: Buffer) => {
        chunks.push(c);
        n += c.length;
      });
      stream.on('end', () => {
        const framed = Buffer.concat(chunks, n);
        assert(framed.length >= 5 && framed.readUInt32BE(1) === framed.length - 5, 'one whole length-prefixed message');
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.alloc(5));
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const a = server.address();
    bound = typeof a === 'object' && a !== null ? a.port : port;
  } else {
    const server = new grpc.Server(grpcServerOptions(IngestLimits.requestBytesMax));
    widenReceiveWindows(server, IngestLimits.grpcStreamWindowBytes, IngestLimits.grpcConnectionWindowBytes);
    server.addService(
      { Export: { path: TRACES_PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
      { Export: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0)) },
    );
    bound = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))));
  }
  let c0 = process.cpuUsage();
  process.on('message', (m) => {
    if (m === 'start') c0 = process.cpuUsage();
    else if (m === 'stop') {
      const u = process.cpuUsage(c0);
      process.send?.({ cpuMs: (u.user + u.system) / 1000 });
    }
  });
  process.send?.({ port: bound });
}

function flag(argv: readonly string[], name: string, dflt: number, min: number, max: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return dflt;
  const raw = argv[i + 1];
  const v = Number(raw);
  if (raw === undefined || !/^[0-9]+$/.test(raw) || v < min || v > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got ${raw ?? 'nothing'}`);
  return v;
}

function nextMessage<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ingest-grpc-cost: no ${what} from the server within ${GrpcCostBenchLimits.serverStartMs} ms`)), GrpcCostBenchLimits.serverStartMs);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as T);
    });
  });
}

/** RoundResult is one kind's round: requests answered per second and the server's CPU ms per request. */
interface RoundResult {
  readonly perSec: number;
  readonly serverCpuMsPerRequest: number;
}

async function oneRound(kind: Kind, port: number, seconds: number, calls: number, body: Buffer): Promise<RoundResult> {
  const child = fork(new URL(import.meta.url), ['--serve', kind, String(port)], { stdio: 'inherit' });
  try {
    const { port: bound } = await nextMessage<{ port: number }>(child, 'port');
    let send: () => Promise<void>;
    let close: () => void;
    if (kind === 'http') {
      const agent = new http.Agent({ keepAlive: true, maxSockets: calls });
      send = () =>
        new Promise((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port: bound, method: 'POST', path: '/v1/traces', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode ?? 0}`))));
          });
          req.on('error', reject);
          req.end(body);
        });
      close = () => agent.destroy();
    } else {
      const client = new grpc.Client(`127.0.0.1:${bound}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': IngestLimits.requestBytesMax });
      send = () =>
        new Promise((resolve, reject) => {
          client.makeUnaryRequest(TRACES_PATH, identity, identity, body, new grpc.Metadata(), { deadline: Date.now() + IngestBenchLimits.requestTimeoutSec * 1000 }, (err) => (err === null ? resolve() : reject(err)));
        });
      close = () => client.close();
    }
    try {
      for (let i = 0; i < GrpcCostBenchLimits.warmupCalls; i++) await send();
      child.send('start');
      let answered = 0;
      const t0 = performance.now();
      const endAt = t0 + seconds * 1000;
      await Promise.all(
        Array.from({ length: calls }, async () => {
          while (performance.now() < endAt) {
            await send();
            answered++;
          }
        }),
      );
      const elapsedSec = (performance.now() - t0) / 1000;
      child.send('stop');
      const { cpuMs } = await nextMessage<{ cpuMs: number }>(child, 'CPU figure');
      assert(answered > 0, 'a round answers requests');
      return { perSec: answered / elapsedSec, serverCpuMsPerRequest: cpuMs / answered };
    } finally {
      close();
    }
  } finally {
    child.kill();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const v = s[Math.floor(s.length / 2)];
  assert(v !== undefined, 'a median of at least one value');
  return v;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const L = GrpcCostBenchLimits;
  const seconds = flag(argv, '--seconds', L.secondsDefault, 1, L.secondsMax);
  const rounds = flag(argv, '--rounds', L.roundsDefault, 1, L.roundsMax);
  const calls = flag(argv, '--calls', IngestBenchLimits.connectionsDefault, 1, IngestLimits.grpcConcurrentStreamsMax);
  const bodyBytes = flag(argv, '--body-bytes', L.bodyBytesDefault, 1, IngestLimits.requestBytesMax);
  const port = flag(argv, '--port', 0, 0, 65_535);
  const body = Buffer.alloc(bodyBytes, 0x5a);
  console.log(`ingest-grpc-cost: ${calls} concurrent requests of ${bodyBytes} bytes, ${seconds} s per kind and round, ${rounds} round(s), kinds alternated`);
  const results = new Map<Kind, RoundResult[]>(KINDS.map((k) => [k, []]));
  for (let r = 1; r <= rounds; r++) {
    const order = r % 2 === 1 ? KINDS : [...KINDS].reverse();
    for (const kind of order) {
      const x = await oneRound(kind, port, seconds, calls, body);
      results.get(kind)?.push(x);
      console.log(`  round ${r} ${kind.padEnd(4)} ${Math.round(x.perSec)} requests/s, server CPU ${x.serverCpuMsPerRequest.toFixed(3)} ms/request`);
    }
  }
  const httpMs = median((results.get('http') ?? []).map((x) => x.serverCpuMsPerRequest));
  for (const kind of KINDS) {
    const ms = median((results.get(kind) ?? []).map((x) => x.serverCpuMsPerRequest));
    console.log(`  median ${kind.padEnd(4)} server CPU ${ms.toFixed(3)} ms/request, ${(ms / httpMs).toFixed(2)}x http`);
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt >= 0) {
  const kind = process.argv[serveAt + 1] as Kind;
  assert((KINDS as readonly string[]).includes(kind), 'a known server kind');
  await serve(kind, Number(process.argv[serveAt + 2] ?? 0));
} else {
  process.exitCode = await main().then(
    () => 0,
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    },
  );
}
