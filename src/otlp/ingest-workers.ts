/**
 * ingest-workers.ts — a node's receive workers: worker threads that run
 * prepareParts (decode, head sampling, idempotency key, split by shard,
 * encode; prepare-parts.ts) for the Ingester, so that the main thread keeps
 * the HTTP/gRPC framing, Raft, the WAL and apply (DESIGN.md §5). The workers
 * use the production decoders; nothing about a request's outcome changes
 * (refusals, partial success, error codes and messages are those of
 * InlinePreparer: the failure crosses the thread boundary as its code,
 * message and details).
 *
 * Protocol (ingest-worker.ts is the other side): the pool posts
 * `{ id, job }` with a copy of the body transferred (never the receiver's
 * buffer, which may be a slice of Node's shared pool); the worker answers
 * `{ id, ok: true, ... }` with every part's bytes in one transferred
 * ArrayBuffer and the parts' fields in plain arrays, or `{ id, ok: false,
 * ... }` with the failure.
 *
 * Invariants: `#queued` is the number of jobs posted and not yet settled,
 * the sum of the slots' pending maps, at most ReceiveWorkerLimits.jobsQueuedMax
 * (past it a job is refused with a retryable ERR_UNAVAILABLE, never queued);
 * every job settles exactly once (answer, worker exit, or stop); a worker
 * that exits is replaced at most ReceiveWorkerLimits.restartsMax times per
 * pool, after which, and while no worker lives, jobs run on the calling
 * thread (the fallback preparer). Workers are spawned on the first job, so
 * a node that receives nothing starts none.
 */
import { Worker } from 'node:worker_threads';
import { OtlpdbError, assert, isErrorCode } from '../errors.js';
import { IngestLimits, ReceiveWorkerLimits } from '../limits.js';
import type { OtlpItemLimits } from './decode-result.js';
import { PrepareFailure } from './prepare-parts.js';
import type { PrepareJob, PreparedParts, Preparer } from './prepare-parts.js';
import type { ShardPart } from './shard-parts.js';

/** WorkerData is what a receive worker is started with. */
export interface WorkerData {
  readonly itemLimits: OtlpItemLimits;
}

/** JobMessage is one job as posted to a worker. */
interface JobMessage {
  readonly id: number;
  readonly job: PrepareJob;
}

/** AnswerMessage is a worker's answer to one job. */
type AnswerMessage =
  | {
      readonly id: number;
      readonly ok: true;
      /** per part: shard, part, parts, rows, byte length (5 numbers each, in part order). */
      readonly fields: number[];
      readonly bytes: ArrayBuffer;
      readonly rejected: number;
      readonly reasons: string[];
      readonly truncatedValues: number;
      readonly sampledOut: number;
    }
  | {
      readonly id: number;
      readonly ok: false;
      readonly invalidBody: boolean;
      /** code is an OtlpdbError's code, or null for any other error (a bug). */
      readonly code: string | null;
      readonly message: string;
      readonly details: Record<string, unknown>;
    };

const PART_FIELDS = 5;

/** readJob checks a message a worker received (only the pool posts to it). */
export function readJob(m: unknown): JobMessage {
  const j = m as JobMessage;
  assert(typeof j === 'object' && j !== null && Number.isSafeInteger(j.id), 'receive worker job has an id');
  assert(j.job.body instanceof Uint8Array, 'receive worker job has a body');
  return j;
}

/** encodeJobAnswer is a worker's answer to a prepared job and the buffer to transfer with it (all parts' bytes, copied into one). */
export function encodeJobAnswer(id: number, p: PreparedParts): { message: AnswerMessage; transfer: ArrayBuffer[] } {
  let total = 0;
  for (const part of p.parts) total += part.bytes.byteLength;
  const out = new Uint8Array(total);
  const fields: number[] = [];
  let at = 0;
  for (const part of p.parts) {
    out.set(part.bytes, at);
    at += part.bytes.byteLength;
    fields.push(part.shard, part.part, part.parts, part.rows, part.bytes.byteLength);
  }
  assert(at === total, 'every part copied');
  const message: AnswerMessage = { id, ok: true, fields, bytes: out.buffer, rejected: p.rejected, reasons: p.reasons, truncatedValues: p.truncatedValues, sampledOut: p.sampledOut };
  return { message, transfer: [out.buffer] };
}

/** encodeJobFailure is a worker's answer to a job that failed: a PrepareFailure's error as plain data. */
export function encodeJobFailure(id: number, err: unknown): AnswerMessage {
  const invalidBody = err instanceof PrepareFailure && err.invalidBody;
  const e = err instanceof PrepareFailure ? err.error : err;
  if (e instanceof OtlpdbError) return { id, ok: false, invalidBody, code: e.code, message: e.message, details: { ...e.details } };
  return { id, ok: false, invalidBody, code: null, message: e instanceof Error ? e.message : String(e), details: {} };
}

/** decodeAnswer turns a worker's answer back into what InlinePreparer would have returned or thrown. */
function decodeAnswer(a: AnswerMessage): PreparedParts | PrepareFailure {
  if (!a.ok) {
    const error = a.code !== null && isErrorCode(a.code) ? new OtlpdbError(a.code, a.message, a.details) : new Error(a.message);
    return new PrepareFailure(error, a.invalidBody);
  }
  assert(a.fields.length % PART_FIELDS === 0, 'receive worker answer has whole parts');
  const all = new Uint8Array(a.bytes);
  const parts: ShardPart[] = [];
  let at = 0;
  for (let i = 0; i < a.fields.length; i += PART_FIELDS) {
    const len = a.fields[i + 4] as number;
    parts.push({ shard: a.fields[i] as number, part: a.fields[i + 1] as number, parts: a.fields[i + 2] as number, rows: a.fields[i + 3] as number, bytes: all.subarray(at, at + len) });
    at += len;
  }
  assert(at === all.byteLength, 'receive worker answer bytes are the parts');
  return { parts, rejected: a.rejected, reasons: a.reasons, truncatedValues: a.truncatedValues, sampledOut: a.sampledOut };
}

interface Pending {
  readonly resolve: (p: PreparedParts) => void;
  readonly reject: (e: PrepareFailure) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  /** error is the uncaught error the worker died of, if any (named in the refusals of its jobs). */
  error: string | null;
}

/**
 * sourceWorker starts the worker from the TypeScript sources (tests run
 * them under tsx): Node 20 does not apply the parent's `--import=tsx` loader
 * hooks to a worker, so the worker registers tsx before importing its entry.
 */
function sourceWorker(workerData: WorkerData): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./ingest-worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData, execArgv: [] });
}

/** IngestWorkerPoolOptions configure a pool. */
export interface IngestWorkerPoolOptions {
  /** workers is the thread count, in [1, ReceiveWorkerLimits.workersMax]. */
  readonly workers: number;
  readonly itemLimits: OtlpItemLimits;
  /** fallback prepares when no worker lives (an InlinePreparer over the production decoders and the same item limits). */
  readonly fallback: Preparer;
  /** onWorkerExit is told when a worker exits unasked (for the node's log). */
  readonly onWorkerExit?: (info: { code: number; restarts: number; error: string | null }) => void;
}

/** IngestWorkerPool is a node's receive workers; see the top of this file. */
export class IngestWorkerPool implements Preparer {
  readonly #o: IngestWorkerPoolOptions;
  readonly #slots: Slot[] = [];
  #started = false;
  #stopped = false;
  #restarts = 0;
  #nextId = 1;
  #queued = 0;

  constructor(o: IngestWorkerPoolOptions) {
    assert(Number.isSafeInteger(o.workers) && o.workers >= 1 && o.workers <= ReceiveWorkerLimits.workersMax, 'receive workers in [1, workersMax]');
    this.#o = o;
  }

  /** queued is the number of jobs handed to workers and not yet settled. */
  get queued(): number {
    return this.#queued;
  }

  /** workers is the number of live worker threads. */
  get workers(): number {
    return this.#slots.length;
  }

  prepare(job: PrepareJob): Promise<PreparedParts> {
    if (this.#stopped) return Promise.reject(new PrepareFailure(new OtlpdbError('ERR_UNAVAILABLE', 'the node is stopping; retry'), false));
    if (!this.#started) {
      this.#started = true;
      for (let i = 0; i < this.#o.workers; i++) this.#spawn();
    }
    if (this.#slots.length === 0) return this.#o.fallback.prepare(job);
    if (this.#queued >= ReceiveWorkerLimits.jobsQueuedMax) {
      const busy = new OtlpdbError('ERR_UNAVAILABLE', `node is busy: ${this.#queued} requests wait for its receive workers (ReceiveWorkerLimits.jobsQueuedMax); retry`, {
        retryAfterMs: IngestLimits.retryAfterSecondsDefault * 1000,
        overloaded: true,
      });
      return Promise.reject(new PrepareFailure(busy, false));
    }
    let slot = this.#slots[0] as Slot;
    for (const s of this.#slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.#nextId++;
    const body = new Uint8Array(job.body.byteLength);
    body.set(job.body);
    const message: JobMessage = { id, job: { ...job, body } };
    return new Promise<PreparedParts>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      if (slot.pending.size === 1) slot.worker.ref();
      this.#queued++;
      assert(this.#queued <= ReceiveWorkerLimits.jobsQueuedMax, 'queued jobs within jobsQueuedMax');
      slot.worker.postMessage(message, [body.buffer]);
    });
  }

  /** stop terminates the workers; jobs still pending are refused, retryable. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const slots = this.#slots.splice(0);
    for (const s of slots) this.#failAll(s, 'the node is stopping; retry');
    await Promise.all(slots.map((s) => s.worker.terminate()));
    assert(this.#queued === 0, 'no job pending after stop');
  }

  #spawn(): void {
    const data: WorkerData = { itemLimits: this.#o.itemLimits };
    const worker = import.meta.url.endsWith('.ts') ? sourceWorker(data) : new Worker(new URL('./ingest-worker.js', import.meta.url), { workerData: data });
    // A worker keeps the process alive only while it holds jobs: an idle pool must not.
    worker.unref();
    const slot: Slot = { worker, pending: new Map(), error: null };
    this.#slots.push(slot);
    worker.on('message', (m: AnswerMessage) => {
      const p = slot.pending.get(m.id);
      if (p === undefined) return;
      slot.pending.delete(m.id);
      if (slot.pending.size === 0) worker.unref();
      this.#queued--;
      const out = decodeAnswer(m);
      if (out instanceof PrepareFailure) p.reject(out);
      else p.resolve(out);
    });
    // 'error' (an uncaught exception in the worker) is followed by 'exit'; the exit handler settles the jobs.
    worker.on('error', (err) => {
      slot.error = err.message;
    });
    worker.on('exit', (code) => {
      const i = this.#slots.indexOf(slot);
      if (i < 0) return; // stopped: stop() settled its jobs
      this.#slots.splice(i, 1);
      this.#failAll(slot, `a receive worker exited (code ${code}${slot.error === null ? '' : `: ${slot.error}`}); retry`);
      this.#o.onWorkerExit?.({ code, restarts: this.#restarts, error: slot.error });
      if (!this.#stopped && this.#restarts < ReceiveWorkerLimits.restartsMax) {
        this.#restarts++;
        this.#spawn();
      }
    });
  }

  #failAll(slot: Slot, why: string): void {
    for (const p of slot.pending.values()) {
      this.#queued--;
      p.reject(new PrepareFailure(new OtlpdbError('ERR_UNAVAILABLE', why, { retryAfterMs: IngestLimits.retryAfterSecondsDefault * 1000 }), false));
    }
    slot.pending.clear();
    assert(this.#queued >= 0, 'queued jobs never negative');
  }
}
