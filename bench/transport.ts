/**
 * transport.ts — `npx tsx bench/transport.ts [--batches N] [--msgs M] [--entry-bytes B] [--rounds R] [--json]`:
 * Raft message batches per second from 127.0.0.2 to 127.0.0.3 on loopback,
 * two ways over the same seeded batches and the same msgpack codec:
 *
 * - raw TCP: src/transport's PeerTransport (length-prefixed frames, a
 *   connection dialed from the node's own address, field validation on
 *   receive);
 * - grpc-js: one @grpc/grpc-js bidi stream carrying the same encoded batches
 *   (HTTP/2 + gRPC framing), decoded with the same decodeMessages on receive.
 *
 * Both sides keep at most `window` batches in flight (the raw transport's
 * send queue is bounded and drops past it, so an unpaced sender would
 * measure drops, not throughput). It prints messages/s and payload bytes/s
 * for each, and the ratio raw/grpc — the figure the design asks for before
 * keeping a raw TCP transport. Never a CI gate.
 */
import * as grpc from '@grpc/grpc-js';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { MessageType } from '../src/raft/types.js';
import type { Message } from '../src/raft/types.js';
import { decodeMessages, encodeMessages } from '../src/transport/codec.js';
import { PeerTransport } from '../src/transport/peer-transport.js';
import { positiveIntArg } from './cli-args.js';

interface Config {
  batches: number;
  msgs: number;
  entryBytes: number;
  rounds: number;
  window: number;
}

function makeBatches(cfg: Config): Message[][] {
  const rand = new SeededRand(42);
  const out: Message[][] = [];
  for (let b = 0; b < cfg.batches; b++) {
    const batch: Message[] = [];
    for (let i = 0; i < cfg.msgs; i++) {
      const data = new Uint8Array(cfg.entryBytes);
      for (let j = 0; j < data.length; j += 8) data[j] = rand.intn(256);
      batch.push({
        group: 1 + (i % 16),
        type: MessageType.App,
        from: 2,
        to: 3,
        term: 5,
        logTerm: 5,
        index: b * cfg.msgs + i,
        entries: [{ term: 5, index: b * cfg.msgs + i + 1, type: 0, data }],
        commit: b,
        reject: false,
        rejectHint: 0,
        rejectTerm: 0,
        context: null,
        snapshot: null,
      });
    }
    out.push(batch);
  }
  return out;
}

interface Result {
  readonly seconds: number;
  readonly msgsPerSec: number;
  readonly bytesPerSec: number;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** paced sends every batch keeping at most `window` in flight and resolves when all arrived. */
async function paced(batches: readonly Message[][], window: number, sendOne: (b: readonly Message[]) => void, arrived: () => number): Promise<void> {
  const total = batches.reduce((n, b) => n + b.length, 0);
  const per = batches[0]?.length ?? 1;
  let next = 0;
  while (arrived() < total) {
    while (next < batches.length && next - Math.floor(arrived() / per) < window) {
      const b = batches[next++];
      if (b !== undefined) sendOne(b);
    }
    await tick();
  }
}

async function runRaw(batches: readonly Message[][], payloadBytes: number, window: number): Promise<Result> {
  const rand = new SeededRand(1);
  const a = new PeerTransport({ clusterId: 'bench', nodeId: 2, host: '127.0.0.2', port: 0, peers: new Map(), rand });
  const b = new PeerTransport({ clusterId: 'bench', nodeId: 3, host: '127.0.0.3', port: 0, peers: new Map(), rand });
  let got = 0;
  b.onMessages((_from, msgs) => {
    got += msgs.length;
  });
  await a.start();
  await b.start();
  b.setPeers(new Map([[2, a.address()]]));
  a.setPeers(new Map([[3, b.address()]]));
  while (a.peerStatus(3)?.state !== 'connected') await tick();
  const t0 = process.hrtime.bigint();
  await paced(batches, window, (batch) => a.send(batch), () => got);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const drops = a.metrics().dropsQueueFull;
  await a.stop();
  await b.stop();
  if (drops !== 0) throw new Error(`raw transport dropped ${drops} messages; lower --window`);
  return { seconds, msgsPerSec: got / seconds, bytesPerSec: payloadBytes / seconds };
}

const identity = (b: Buffer): Buffer => b;

async function runGrpc(batches: readonly Message[][], payloadBytes: number, window: number): Promise<Result> {
  const path = '/otlpdb.Peer/Messages';
  let got = 0;
  const server = new grpc.Server();
  server.addService(
    {
      Messages: {
        path,
        requestStream: true,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Messages: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on('data', (buf: Buffer) => {
          const d = decodeMessages(buf);
          if (!d.ok) throw new Error(d.reason);
          for (const it of d.items) if (it.ok && it.message.to === 3) got++;
        });
        call.on('end', () => call.end());
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.3:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new grpc.Client(`127.0.0.3:${port}`, grpc.credentials.createInsecure());
  const stream = client.makeBidiStreamRequest(path, identity, identity);
  stream.on('error', () => {});
  // Warm the stream so connection setup is outside the measurement, as for raw.
  stream.write(encodeMessages([]));
  await new Promise<void>((r) => setTimeout(r, 50));
  const t0 = process.hrtime.bigint();
  await paced(batches, window, (batch) => stream.write(encodeMessages(batch)), () => got);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  stream.end();
  client.close();
  await new Promise<void>((r) => server.tryShutdown(() => r()));
  return { seconds, msgsPerSec: got / seconds, bytesPerSec: payloadBytes / seconds };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const cfg: Config = {
    batches: positiveIntArg('batches', 2000),
    msgs: positiveIntArg('msgs', 64),
    entryBytes: positiveIntArg('entry-bytes', 256),
    rounds: positiveIntArg('rounds', 3),
    window: positiveIntArg('window', 64),
  };
  const batches = makeBatches(cfg);
  const payloadBytes = batches.reduce((n, b) => n + encodeMessages(b).length, 0);
  const raw: Result[] = [];
  const rpc: Result[] = [];
  // Warm-up round of each (JIT), then alternate so drift hits both alike.
  await runRaw(batches.slice(0, 200), 0, cfg.window);
  await runGrpc(batches.slice(0, 200), 0, cfg.window);
  for (let r = 0; r < cfg.rounds; r++) {
    raw.push(await runRaw(batches, payloadBytes, cfg.window));
    rpc.push(await runGrpc(batches, payloadBytes, cfg.window));
  }
  const rawMsgs = median(raw.map((x) => x.msgsPerSec));
  const rpcMsgs = median(rpc.map((x) => x.msgsPerSec));
  const rawBytes = median(raw.map((x) => x.bytesPerSec));
  const rpcBytes = median(rpc.map((x) => x.bytesPerSec));
  const out = {
    config: cfg,
    payloadBytes,
    raw: { msgsPerSec: Math.round(rawMsgs), bytesPerSec: Math.round(rawBytes) },
    grpc: { msgsPerSec: Math.round(rpcMsgs), bytesPerSec: Math.round(rpcBytes) },
    ratioRawOverGrpc: Number((rawMsgs / rpcMsgs).toFixed(2)),
  };
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(out));
    return;
  }
  const mb = (b: number): string => (b / 1e6).toFixed(1);
  console.log(`batches=${cfg.batches} msgs/batch=${cfg.msgs} entry=${cfg.entryBytes}B window=${cfg.window} rounds=${cfg.rounds} (median)`);
  console.log(`raw TCP   ${Math.round(rawMsgs).toLocaleString('en')} msgs/s  ${mb(rawBytes)} MB/s`);
  console.log(`grpc-js   ${Math.round(rpcMsgs).toLocaleString('en')} msgs/s  ${mb(rpcBytes)} MB/s`);
  console.log(`ratio raw/grpc: ${out.ratioRawOverGrpc}x`);
}

await main();
