/**
 * prepare-parts.ts — the CPU-bound half of one OTLP request's write path
 * (DESIGN.md §5 steps 1–2): decode the body to rows, apply the tenant's head
 * sampling, compute the idempotency key, split the rows by shard and encode
 * each shard's part as a shard entry. Everything after (proposing, waiting
 * for commits, the answer) stays with the Ingester (ingest.ts).
 *
 * It is a pure function of its job and its deps, so the same code runs on
 * the node's main thread (InlinePreparer, the default and what tests use)
 * and on the receive workers (ingest-workers.ts), which only copy the job in
 * and the parts out.
 */
import { OtlpdbError } from '../errors.js';
import { IngestLimits } from '../limits.js';
import type { Hasher } from '../partition/hash.js';
import type { LogRow, MetricPointRow, SpanRow } from '../storage/rows.js';
import type { OtlpItemLimits, OtlpSignal } from './decode-result.js';
import { keepTrace, sampleUpperBound } from './head-sampling.js';
import type { BodyFormat, DecodedRows, Decoders } from './ingest.js';
import { SeriesShardMemo } from './series-shard-memo.js';
import { encodeParts, splitByShard } from './shard-parts.js';
import type { RowBatch, ShardPart } from './shard-parts.js';

/** PrepareJob is one decompressed request and the node state its preparation depends on, as plain cloneable data. */
export interface PrepareJob {
  readonly signal: OtlpSignal;
  readonly tenant: string;
  readonly format: BodyFormat;
  readonly body: Uint8Array;
  /** shardCount is the cluster's shard count (>= 1). */
  readonly shardCount: number;
  /** traceSampleRatio is the tenant's head-sampling ratio in [0, 1] (head-sampling.ts). */
  readonly traceSampleRatio: number;
  /** wallMs is the receiving node's wall clock (ms since the epoch): the decoders' timestamp window and the entries' leaderTimeMs. */
  readonly wallMs: number;
}

/** PreparedParts is a request ready to write: its shard parts and what decoding refused, cut or sampled out. */
export interface PreparedParts {
  readonly parts: ShardPart[];
  /** rejected counts the items the decoder refused. */
  readonly rejected: number;
  /** reasons are the decoder's first refusals as `code: message`. */
  readonly reasons: string[];
  readonly truncatedValues: number;
  /** sampledOut counts the spans head sampling left out. */
  readonly sampledOut: number;
}

/**
 * PrepareFailure wraps the error of a request that cannot be prepared;
 * `invalidBody` says the decoder refused the body as a whole (the Ingester
 * counts it in IngestStats.refusedInvalid). Only ever thrown by preparers.
 */
export class PrepareFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly invalidBody: boolean,
  ) {
    super(error instanceof Error ? error.message : String(error));
    this.name = 'PrepareFailure';
  }
}

/** PrepareDeps are what preparation needs besides the job. */
export interface PrepareDeps {
  readonly hasher: Hasher;
  readonly decoders: Decoders;
  /** itemLimits are the node's per-item decode limits (undefined: OtlpLimits). */
  readonly itemLimits?: OtlpItemLimits;
}

/** Preparer runs prepareParts somewhere: on the calling thread (InlinePreparer) or on a worker (IngestWorkerPool). Failures reject with a PrepareFailure. */
export interface Preparer {
  prepare(job: PrepareJob): Promise<PreparedParts>;
}

/**
 * prepareParts decodes, samples, splits and encodes one request; see the top
 * of this file. Failures throw a PrepareFailure around the OtlpdbError (or
 * the bug) that ended it.
 */
export function prepareParts(job: PrepareJob, deps: PrepareDeps): PreparedParts {
  let decoded: DecodedRows<SpanRow | MetricPointRow | LogRow>;
  try {
    const o = { tenant: job.tenant, nowMs: job.wallMs, ...(deps.itemLimits === undefined ? {} : { limits: deps.itemLimits }) };
    decoded = deps.decoders[job.signal][job.format](job.body, o);
  } catch (err) {
    throw new PrepareFailure(err, err instanceof OtlpdbError);
  }
  try {
    // The decoder's rows array itself, not a copy (nothing else holds it).
    let rows: RowBatch;
    let sampledOut = 0;
    if (job.signal === 'traces') {
      const spans = decoded.rows as SpanRow[];
      const kept = job.traceSampleRatio >= 1 ? spans : sample(spans, job.traceSampleRatio);
      sampledOut = spans.length - kept.length;
      rows = { spans: kept, points: [], logs: [] };
    } else if (job.signal === 'metrics') rows = { spans: [], points: decoded.rows as MetricPointRow[], logs: [] };
    else rows = { spans: [], points: [], logs: decoded.rows as LogRow[] };
    const key = idempotencyKeyOf(deps.hasher, job.signal, job.tenant, job.body);
    const ranges = job.signal === 'metrics' ? decoded.pointAttributeRanges : undefined;
    const raw = ranges !== undefined && ranges.length === 2 * rows.points.length ? { memo: seriesShardMemoOf(deps), body: job.body, ranges } : undefined;
    const parts = encodeParts(job.tenant, key, job.wallMs, splitByShard(deps.hasher, job.shardCount, job.tenant, key, rows, raw));
    if (parts.length > IngestLimits.partsPerRequestMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `request splits into ${parts.length} shard entries, more than IngestLimits.partsPerRequestMax (${IngestLimits.partsPerRequestMax})`);
    }
    const reasons = decoded.rejections.map((r) => `${r.code}: ${r.message}`);
    return { parts, rejected: decoded.rejected, reasons, truncatedValues: decoded.truncatedValues, sampledOut };
  } catch (err) {
    throw new PrepareFailure(err, false);
  }
}

/**
 * SERIES_SHARD_MEMOS holds one SeriesShardMemo per PrepareDeps: the deps fix
 * the hasher and the decoders' limits, which the memo's keys assume. A
 * WeakMap, so a memo lives as long as the deps (a worker, a node).
 */
const SERIES_SHARD_MEMOS = new WeakMap<PrepareDeps, SeriesShardMemo>();

function seriesShardMemoOf(deps: PrepareDeps): SeriesShardMemo {
  let memo = SERIES_SHARD_MEMOS.get(deps);
  if (memo === undefined) {
    memo = new SeriesShardMemo();
    SERIES_SHARD_MEMOS.set(deps, memo);
  }
  return memo;
}

/** idempotencyKeyOf is xxhash64 of the request body seeded with its signal and tenant, as 16 hex digits (DESIGN.md §1 promise 3). */
export function idempotencyKeyOf(hasher: Hasher, signal: OtlpSignal, tenant: string, body: Uint8Array): string {
  const seed = hasher.h64(`${signal}\u0000${tenant}`);
  return hasher.h64(body, seed).toString(16).padStart(16, '0');
}

function sample(spans: SpanRow[], ratio: number): SpanRow[] {
  const bound = sampleUpperBound(ratio);
  return spans.filter((s) => keepTrace(s.traceId, bound));
}

/** InlinePreparer prepares on the calling thread: the Ingester's default, and the fallback of a worker pool without live workers. */
export class InlinePreparer implements Preparer {
  readonly #deps: PrepareDeps;

  constructor(deps: PrepareDeps) {
    this.#deps = deps;
  }

  prepare(job: PrepareJob): Promise<PreparedParts> {
    try {
      return Promise.resolve(prepareParts(job, this.#deps));
    } catch (err) {
      return Promise.reject(err instanceof PrepareFailure ? err : new PrepareFailure(err, false));
    }
  }
}
