/**
 * ingest-load.ts — the two load drivers of `bench/ingest.ts`, both in the
 * bench process, and the resend of bodies they left unanswered.
 *
 * A load slot is one HTTP connection (an autocannon client) or one
 * concurrent gRPC call loop. Each slot gets a run-wide unique number and
 * sends its requests one after the other, request `seq` being
 * makeBody(template, slot, seq): every body of a run is distinct, and a
 * slot's metric timestamps strictly increase (ingest-payloads.ts).
 *
 * - HTTP: one autocannon instance per node, the connections split over the
 *   nodes (kv-plan's splitConnections), `POST /v1/<signal>` with
 *   application/x-protobuf. Each client's requests are replaced in
 *   setupClient by one whose setupRequest makes the slot's next body and
 *   whose onResponse counts the answer. NB: autocannon 9 accumulates a
 *   response body as a string by `+=` of Buffer chunks (UTF-8), which would
 *   mangle partial_success's varint; setupClient makes that client's queue
 *   append latin1 instead, so the bytes survive (Buffer.from(s, 'latin1')).
 * - gRPC: one @grpc/grpc-js client (one HTTP/2 connection) per node, the
 *   OTLP Export method called with raw bytes (identity serializers), one
 *   loop per slot. At the end of the duration no new call starts and the
 *   calls in flight are awaited, so none is abandoned.
 *
 * Unanswered bodies (in flight when autocannon stopped, timed out, or on a
 * dropped connection) and bodies answered with an error may have been
 * stored in part or whole; they are returned in `resend`, and resendBodies
 * sends each again until it is answered 200. The receiver deduplicates a
 * body it already committed (its idempotency key is a hash of the body), so
 * after the resend every body is stored exactly once or refused, and the
 * stored counts can be compared with the acknowledged ones exactly.
 */
import * as grpc from '@grpc/grpc-js';
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { assert } from '../src/errors.js';
import { IngestBenchLimits, IngestLimits } from '../src/limits.js';
import type { OtlpSignal } from '../src/otlp/ingest.js';
import { OTLP_GRPC_SERVICES } from '../src/otlp/grpc-receiver.js';
import { readFileSync } from 'node:fs';
import { cpuSec } from './kv-load.js';
import { splitConnections } from './kv-plan.js';
import { makeBody } from './ingest-payloads.js';
import type { BodyTemplate } from './ingest-payloads.js';
import { decodeExportResponse } from './ingest-plan.js';
import type { PhaseCounts } from './ingest-plan.js';

/** LoadSpec is one phase's load: where, how much, for how long, of what. */
export interface LoadSpec {
  /** targets are the nodes' OTLP addresses, host:port (HTTP or gRPC by driver). */
  readonly targets: readonly string[];
  readonly connections: number;
  readonly durationSec: number;
  readonly template: BodyTemplate;
  readonly tenant: string;
  /** baseMs is the metric time of every slot's request 0. */
  readonly baseMs: number;
  /** takeSlot hands out the phase's load slots, the same ones again in the next phase of the signal (so series and sequence numbers continue). */
  takeSlot(): LoadSlot;
  /** pids are the node processes whose CPU time is sampled over the phase. */
  readonly pids: readonly number[];
}

/** LoadSlot is one load slot: its run-wide unique number and the sequence number of its next request. */
export interface LoadSlot {
  readonly slot: number;
  seq: number;
}

/**
 * slotPool returns a taker that hands out pool[0], pool[1], ... and appends
 * a new slot (numbered by `nextSlot`) when the pool runs out; call it once per
 * phase over the same pool to reuse the slots in order.
 */
export function slotPool(pool: LoadSlot[], nextSlot: () => number): () => LoadSlot {
  let i = 0;
  return () => {
    let s = pool[i];
    if (s === undefined) {
      s = { slot: nextSlot(), seq: 0 };
      pool.push(s);
    }
    i++;
    assert(pool.length >= i, 'slotPool hands out pool slots in order');
    return s;
  };
}

/** LoadResult is a phase's counts, the bodies to resend, and where the CPU went. */
export interface LoadResult {
  readonly counts: PhaseCounts;
  readonly resend: readonly Buffer[];
  /** serverCpuSec is indexed like LoadSpec.pids; null when /proc could not be read. */
  readonly serverCpuSec: readonly (number | null)[];
  /** serverWaitSec is the time each node's main thread waited for a CPU while runnable (runQueueWaitSec), like serverCpuSec. */
  readonly serverWaitSec: readonly (number | null)[];
  readonly loadGenCpuSec: number;
  /** latenciesDropped counts ok answers whose latency was not kept (past IngestBenchLimits.latenciesMax). */
  readonly latenciesDropped: number;
}

/**
 * runQueueWaitSec is how long the main thread of process `pid` has waited
 * for a CPU while runnable (the second field of /proc/<pid>/schedstat, in
 * ns), or null when it cannot be read. Next to the CPU time it tells a node
 * that waits for work from one that waits for a core.
 */
export function runQueueWaitSec(pid: number): number | null {
  try {
    const wait = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
    return Number.isFinite(wait) ? wait / 1e9 : null;
  } catch {
    return null;
  }
}

/** sample reads one figure of every process. */
export const sample = (pids: readonly number[], read: (pid: number) => number | null): (number | null)[] => pids.map(read);

/** delta is after − before per process, to two decimals; null where either is unknown. */
export function delta(before: readonly (number | null)[], after: readonly (number | null)[]): (number | null)[] {
  return before.map((b, i) => {
    const a = after[i];
    return a === null || a === undefined || b === null ? null : Math.round((a - b) * 100) / 100;
  });
}

/** HTTP_PATHS are the OTLP/HTTP paths by signal. */
export const HTTP_PATHS: Readonly<Record<OtlpSignal, string>> = { traces: '/v1/traces', metrics: '/v1/metrics', logs: '/v1/logs' };

/** ProcessSample is the CPU and run-queue figures of the nodes and this process at a phase's start. */
interface ProcessSample {
  readonly cpu: readonly (number | null)[];
  readonly wait: readonly (number | null)[];
  readonly self: NodeJS.CpuUsage;
}

function sampleProcesses(pids: readonly number[]): ProcessSample {
  return { cpu: sample(pids, cpuSec), wait: sample(pids, runQueueWaitSec), self: process.cpuUsage() };
}

/** Tally accumulates one phase's answers. */
class Tally {
  ok = 0;
  rejectedItems = 0;
  okBodyBytes = 0;
  non2xx = 0;
  errors = 0;
  readonly statusCodes: Record<string, number> = {};
  readonly latenciesMs: number[] = [];
  latenciesDropped = 0;
  readonly resend: Buffer[] = [];

  answer(status: string, ok: boolean, body: Buffer, response: Uint8Array | null): void {
    this.statusCodes[status] = (this.statusCodes[status] ?? 0) + 1;
    if (!ok) {
      this.non2xx++;
      this.keepForResend(body);
      return;
    }
    this.ok++;
    this.okBodyBytes += body.length;
    this.rejectedItems += response === null ? 0 : decodeExportResponse(response).rejected;
  }

  latency(ms: number): void {
    if (this.latenciesMs.length < IngestBenchLimits.latenciesMax) this.latenciesMs.push(ms);
    else this.latenciesDropped++;
  }

  keepForResend(body: Buffer): void {
    if (this.resend.length >= IngestBenchLimits.resendBodiesMax) throw new Error(`bench/ingest: more than ${IngestBenchLimits.resendBodiesMax} bodies to resend; the cluster is failing`);
    this.resend.push(body);
  }

  result(spec: LoadSpec, elapsedSec: number, before: ProcessSample): LoadResult {
    const self = process.cpuUsage(before.self);
    const cpuAfter = sample(spec.pids, cpuSec);
    const waitAfter = sample(spec.pids, runQueueWaitSec);
    return {
      counts: {
        ok: this.ok,
        rejectedItems: this.rejectedItems,
        okBodyBytes: this.okBodyBytes,
        non2xx: this.non2xx,
        errors: this.errors,
        statusCodes: this.statusCodes,
        elapsedSec,
        latenciesMs: this.latenciesMs,
      },
      resend: this.resend,
      serverCpuSec: delta(before.cpu, cpuAfter),
      serverWaitSec: delta(before.wait, waitAfter),
      loadGenCpuSec: Math.round(((self.user + self.system) / 1e6) * 100) / 100,
      latenciesDropped: this.latenciesDropped,
    };
  }
}

/** AutocannonClient is the part of autocannon 9's client setupClient uses (not in @types/autocannon 7). */
interface AutocannonClient {
  setRequests(requests: autocannon.Request[]): void;
  pipelinedRequests: { peek(): { body: string } | undefined; addBody(data: Buffer): void };
}

/** runHttpLoad drives OTLP/HTTP with autocannon; see the top of this file. */
export async function runHttpLoad(spec: LoadSpec): Promise<LoadResult> {
  assert(spec.targets.length >= 1, 'runHttpLoad needs a target');
  assert(spec.connections >= 1 && spec.connections <= IngestBenchLimits.connectionsMax, 'runHttpLoad connections in [1, connectionsMax]');
  const tally = new Tally();
  const outstanding: { body: Buffer | null }[] = [];
  const path = HTTP_PATHS[spec.template.signal];
  const headers = { 'content-type': 'application/x-protobuf', 'x-scope-orgid': spec.tenant };
  const setupClient = (raw: unknown): void => {
    const client = raw as AutocannonClient;
    const q = client.pipelinedRequests;
    q.addBody = function addBodyLatin1(data: Buffer): void {
      const req = this.peek();
      if (req !== undefined) req.body += data.toString('latin1');
    };
    const slot = spec.takeSlot();
    const state = { body: null as Buffer | null };
    outstanding.push(state);
    client.setRequests([
      {
        method: 'POST',
        path,
        headers,
        setupRequest: (req) => {
          // The previous body was never answered (timeout, dropped connection): it may be stored.
          if (state.body !== null) tally.keepForResend(state.body);
          const body = makeBody(spec.template, slot.slot, slot.seq++, spec.baseMs);
          state.body = body;
          return { ...req, body };
        },
        onResponse: (status, body) => {
          const sent = state.body;
          state.body = null;
          if (sent === null) return; // an answer autocannon matched to no request of ours (after a reconnect)
          tally.answer(String(status), status === 200, sent, status === 200 ? Buffer.from(body, 'latin1') : null);
        },
      },
    ]);
  };
  const before = sampleProcesses(spec.pids);
  const shares = splitConnections(spec.connections, spec.targets.length);
  const runs = shares.map((share, i) => {
    const target = spec.targets[i];
    assert(target !== undefined, 'a share has a target');
    const instance = autocannon({
      url: `http://${target}`,
      connections: share,
      duration: spec.durationSec,
      timeout: IngestBenchLimits.requestTimeoutSec,
      skipAggregateResult: true,
      requests: [{ method: 'POST', path, headers }],
      setupClient: setupClient as unknown as autocannon.Options['setupClient'],
    }) as unknown as EventEmitter & PromiseLike<autocannon.Result>; // autocannon 9 returns its tracker, an EventEmitter that is also a promise
    instance.on('response', (_client: unknown, statusCode: number, _resBytes: number, responseTimeMs: number) => {
      if (statusCode === 200) tally.latency(responseTimeMs);
    });
    return instance;
  });
  const raw = await Promise.all(runs);
  for (const r of raw) tally.errors += r.errors;
  for (const s of outstanding) {
    if (s.body !== null) tally.keepForResend(s.body); // in flight when autocannon stopped
    s.body = null;
  }
  const elapsedSec = Math.max(...raw.map((r) => r.duration));
  assert(elapsedSec > 0, 'a phase ran for some time');
  return tally.result(spec, elapsedSec, before);
}

const identity = (b: Buffer): Buffer => b;

/** grpcPathOf is the Export method path of `signal`. */
function grpcPathOf(signal: OtlpSignal): string {
  const svc = OTLP_GRPC_SERVICES.find((s) => s.signal === signal);
  assert(svc !== undefined, 'every signal has an Export method');
  return svc.path;
}

/** runGrpcLoad drives OTLP/gRPC with unary raw-bytes calls, `connections` loops split over the nodes; see the top of this file. */
export async function runGrpcLoad(spec: LoadSpec): Promise<LoadResult> {
  assert(spec.targets.length >= 1, 'runGrpcLoad needs a target');
  assert(spec.connections >= 1 && spec.connections <= IngestBenchLimits.connectionsMax, 'runGrpcLoad connections in [1, connectionsMax]');
  const tally = new Tally();
  const path = grpcPathOf(spec.template.signal);
  const clients = spec.targets.map(
    (t) =>
      new grpc.Client(t, grpc.credentials.createInsecure(), {
        // The receiver's own bounds: a request it would refuse for size is not a load this bench sends.
        'grpc.max_send_message_length': IngestLimits.requestBytesMax,
        'grpc.max_receive_message_length': IngestLimits.requestBytesMax,
      }),
  );
  const metadata = new grpc.Metadata();
  metadata.set('x-scope-orgid', spec.tenant);
  const call = (client: grpc.Client, body: Buffer): Promise<{ status: grpc.status; response: Buffer | null }> =>
    new Promise((resolve) => {
      const deadline = Date.now() + IngestBenchLimits.requestTimeoutSec * 1000;
      client.makeUnaryRequest(path, identity, identity, body, metadata, { deadline }, (err, response) => {
        if (err !== null) resolve({ status: err.code, response: null });
        else resolve({ status: grpc.status.OK, response: response ?? Buffer.alloc(0) });
      });
    });
  const before = sampleProcesses(spec.pids);
  const start = performance.now();
  const endAt = start + spec.durationSec * 1000;
  const loops: Promise<void>[] = [];
  try {
    splitConnections(spec.connections, spec.targets.length).forEach((share, i) => {
      const client = clients[i];
      assert(client !== undefined, 'a share has a client');
      for (let c = 0; c < share; c++) {
        const slot = spec.takeSlot();
        loops.push(
          (async () => {
            while (performance.now() < endAt) {
              const body = makeBody(spec.template, slot.slot, slot.seq++, spec.baseMs);
              const t0 = performance.now();
              const r = await call(client, body);
              const ms = performance.now() - t0;
              tally.answer(grpc.status[r.status] ?? String(r.status), r.status === grpc.status.OK, body, r.response);
              if (r.status === grpc.status.OK) tally.latency(ms);
            }
          })(),
        );
      }
    });
    await Promise.all(loops);
  } finally {
    for (const c of clients) c.close();
  }
  const elapsedSec = (performance.now() - start) / 1000;
  return tally.result(spec, elapsedSec, before);
}

/** ResendOutcome is what the resend achieved: items acknowledged on a later try, and bodies never answered 200. */
export interface ResendOutcome {
  readonly bodies: number;
  readonly itemsAcknowledged: number;
  readonly unresolved: number;
}

/** resendBodies posts each body again over OTLP/HTTP to `target` until it is answered 200 (at most resendAttemptsMax tries). */
export async function resendBodies(target: string, signal: OtlpSignal, tenant: string, items: number, bodies: readonly Buffer[]): Promise<ResendOutcome> {
  let itemsAcknowledged = 0;
  let unresolved = 0;
  for (const body of bodies) {
    let done = false;
    for (let attempt = 0; attempt < IngestBenchLimits.resendAttemptsMax && !done; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, IngestBenchLimits.resendPauseMs));
      try {
        const res = await fetch(`http://${target}${HTTP_PATHS[signal]}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf', 'x-scope-orgid': tenant },
          body,
          signal: AbortSignal.timeout(IngestBenchLimits.requestTimeoutSec * 1000),
        });
        const answer = new Uint8Array(await res.arrayBuffer());
        if (res.status === 200) {
          itemsAcknowledged += items - decodeExportResponse(answer).rejected;
          done = true;
        }
      } catch {
        // No answer: try again after the pause.
      }
    }
    if (!done) unresolved++;
  }
  return { bodies: bodies.length, itemsAcknowledged, unresolved };
}
