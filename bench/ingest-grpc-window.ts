/**
 * ingest-grpc-window.ts — `node dist/bench/ingest-grpc-window.js [--block-ms
 * N] [--calls N] [--body-bytes N] [--rounds N]`: how long `--calls`
 * concurrent unary gRPC calls of `--body-bytes` each take to arrive at a
 * grpc-js server whose event loop is busy for `--block-ms` out of every turn
 * (a loaded node: apply, flush and GC on its main thread), with HTTP/2's
 * default receive windows (65,535 bytes) and with the receiver's
 * (widenReceiveWindows, src/otlp/grpc-receiver.ts), alternated round by
 * round in one process. The default body is bench/ingest's log request
 * (512 records, 141,317 bytes) and 16 calls its gRPC phase: the shape whose
 * calls all ended in DEADLINE_EXCEEDED at the end of a full ingest run.
 *
 * The server runs in a worker thread (its own event loop, blocked by a busy
 * wait), the client on the main thread; the server's handler answers as soon
 * as a message arrived whole, so the figure is transport time only.
 */
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { assert } from '../src/errors.js';
import { IngestBenchLimits, IngestLimits } from '../src/limits.js';
import { widenReceiveWindows } from '../src/otlp/grpc-receiver.js';

const METHOD = '/otlpdb.bench.Window/Send';
const identity = (b: Buffer): Buffer => b;

/** WindowServerData is what the server thread is started with. */
interface WindowServerData {
  readonly widen: boolean;
  readonly blockMs: number;
}

/** serve runs in the worker: a grpc-js server (windows widened or not) whose loop is held blockMs per turn. */
async function serve(d: WindowServerData): Promise<void> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': IngestLimits.requestBytesMax });
  if (d.widen) widenReceiveWindows(server, IngestLimits.grpcStreamWindowBytes, IngestLimits.grpcConnectionWindowBytes);
  server.addService(
    { Send: { path: METHOD, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
    { Send: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0)) },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))));
  setInterval(() => {
    const end = performance.now() + d.blockMs;
    while (performance.now() < end) {
      // Busy: the thread does not return to its event loop.
    }
  }, 1);
  parentPort?.postMessage(port);
}

function flag(argv: readonly string[], name: string, dflt: number, max: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return dflt;
  const raw = argv[i + 1];
  const v = Number(raw);
  if (raw === undefined || !/^[0-9]+$/.test(raw) || v < 1 || v > max) throw new Error(`${name} must be an integer in [1, ${max}], got ${raw ?? 'nothing'}`);
  return v;
}

/** RoundResult is one round: the ms until every call ended, and the status of every call that did not end OK. */
interface RoundResult {
  readonly ms: number;
  readonly failed: readonly string[];
}

/** oneRound starts a server thread, sends `calls` concurrent calls once and returns when all ended (OK or not). */
async function oneRound(widen: boolean, blockMs: number, calls: number, body: Buffer): Promise<RoundResult> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { widen, blockMs } satisfies WindowServerData });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': IngestLimits.requestBytesMax });
    try {
      // One call first, so the connection is up before the clock starts.
      const call = (): Promise<grpc.status> =>
        new Promise((resolve) => {
          client.makeUnaryRequest(METHOD, identity, identity, body, new grpc.Metadata(), { deadline: Date.now() + IngestBenchLimits.requestTimeoutSec * 1000 }, (err) => resolve(err === null ? grpc.status.OK : err.code));
        });
      assert((await call()) === grpc.status.OK, 'the warm-up call is answered');
      const t0 = performance.now();
      const codes = await Promise.all(Array.from({ length: calls }, call));
      const ms = performance.now() - t0;
      return { ms, failed: codes.filter((c) => c !== grpc.status.OK).map((c) => grpc.status[c] ?? String(c)) };
    } finally {
      client.close();
    }
  } finally {
    await worker.terminate();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const L = IngestBenchLimits;
  const blockMs = flag(argv, '--block-ms', L.windowBenchBlockMsDefault, L.windowBenchBlockMsMax);
  const calls = flag(argv, '--calls', L.connectionsDefault, IngestLimits.grpcConcurrentStreamsMax);
  const bodyBytes = flag(argv, '--body-bytes', L.windowBenchBodyBytesDefault, IngestLimits.requestBytesMax);
  const rounds = flag(argv, '--rounds', L.windowBenchRoundsDefault, L.windowBenchRoundsMax);
  const body = Buffer.alloc(bodyBytes, 0x5a);
  console.log(`ingest-grpc-window: ${calls} concurrent calls of ${bodyBytes} bytes, server loop busy ${blockMs} ms per turn; windows: HTTP/2 default 65,535 B vs ${IngestLimits.grpcStreamWindowBytes} B per call and ${IngestLimits.grpcConnectionWindowBytes} B per connection`);
  const ratios: number[] = [];
  const show = (x: RoundResult): string => `${Math.round(x.ms)} ms${x.failed.length === 0 ? '' : ` (${x.failed.length} of ${calls} calls failed: ${[...new Set(x.failed)].join(', ')})`}`;
  for (let r = 1; r <= rounds; r++) {
    const plain = await oneRound(false, blockMs, calls, body);
    const widened = await oneRound(true, blockMs, calls, body);
    ratios.push(plain.ms / widened.ms);
    console.log(`  round ${r}: default windows ${show(plain)}, widened ${show(widened)}, ratio ${(plain.ms / widened.ms).toFixed(1)}`);
  }
  ratios.sort((a, b) => a - b);
  console.log(`  median ratio default/widened: ${(ratios[Math.floor(ratios.length / 2)] as number).toFixed(1)}`);
}

if (isMainThread) {
  process.exitCode = await main().then(
    () => 0,
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    },
  );
} else {
  await serve(workerData as WindowServerData);
}
