/**
 * ingest.ts — the protocol-independent OTLP write path of a node (DESIGN.md
 * §5): admission before decoding, decoding to rows, the split into shard
 * parts, the wait for every part's commit, and the answer. The gRPC and HTTP
 * receivers (grpc-receiver.ts, http-receiver.ts) only translate to and from
 * their protocols.
 *
 * Admission (`admit`, before the body is decompressed or decoded):
 * - the tenant's token bucket, in wire bytes per second (the tenant settings
 *   of the meta group: ingestBytesPerSecondMax, ingestBurstBytesMax) →
 *   ERR_RATE_LIMITED (429 / RESOURCE_EXHAUSTED) with a retry delay;
 * - the node's in-flight request bytes (IngestSettings.nodeInflightBytesMax),
 *   shed by priority: with the default priority (metrics, traces, logs) logs
 *   are refused above 60% of the bound, traces above 80%, metrics at 100% →
 *   ERR_UNAVAILABLE (503 / UNAVAILABLE), retryable.
 * An admission holds its bytes until `release`; `growWire` extends it to a
 * body whose length was not declared (chunked), charging the tenant's bucket
 * for it then; `grow` extends it to the decompressed size (refused like
 * admission when that passes the bound).
 *
 * Decoding, head sampling, the idempotency key, the split by shard and the
 * encoding of the parts are prepare-parts.ts's prepareParts, run by the
 * injected Preparer: the node's receive workers (ingest-workers.ts), or the
 * calling thread (InlinePreparer, the default). Either gives the same parts,
 * refusals and errors; admission, the writes and the answer stay here.
 *
 * Head sampling (optional per tenant, TenantSettings.traceSampleRatio):
 * spans of traces the TraceIdRatioBased decision drops are left out before
 * the split; they count as accepted by the client's measure (nothing is
 * wrong with them) and in IngestStats.sampledOut.
 *
 * Answer: success with partial_success when the decoder or a shard refused
 * items (their count and the first reasons); a retryable ERR_UNAVAILABLE
 * when a part did not commit by the deadline (parts that did commit are
 * kept, and the client's retry is deduplicated by the idempotency key);
 * ERR_INVALID_ARGUMENT when the body is not an OTLP request at all.
 *
 * Invariants: inflightBytes equals the sum of live admissions' bytes and
 * never exceeds nodeInflightBytesMax; the tenant bucket map holds at most
 * tenantBucketsMax buckets.
 */
import { OtlpdbError, assert } from '../errors.js';
import { IngestLimits } from '../limits.js';
import type { Hasher } from '../partition/hash.js';
import type { LogRow, MetricPointRow, SpanRow } from '../storage/rows.js';
import type { ShardApplyResult } from '../storage/shard/shard-records.js';
import { InlinePreparer, PrepareFailure, idempotencyKeyOf } from './prepare-parts.js';
import type { PreparedParts, Preparer } from './prepare-parts.js';
import type { ShardWriter } from './shard-writer.js';
import { TokenBucket } from './token-bucket.js';

import type { OtlpDecodeOptions, OtlpItemLimits, OtlpSignal } from './decode-result.js';

export type { OtlpSignal };
/** OTLP_SIGNALS lists them in the default shedding priority (kept first → shed last). */
export const OTLP_SIGNALS: readonly OtlpSignal[] = ['metrics', 'traces', 'logs'];

/** BodyFormat is the encoding of a request body. */
export type BodyFormat = 'proto' | 'json';

/** DecodedRows is what a decoder gives the write path (the shape of src/otlp's decoders). */
export interface DecodedRows<Row> {
  readonly rows: Row[];
  readonly rejected: number;
  readonly rejections: readonly { readonly code: string; readonly message: string }[];
  readonly truncatedValues: number;
  /** pointAttributeRanges are the metric protobuf decoder's raw attribute ranges per row (MetricsDecodeResult), absent from other decoders. */
  readonly pointAttributeRanges?: Int32Array;
}

/** Decoder decodes one request body of one signal; a body that is not such a request throws ERR_INVALID_ARGUMENT. */
export type Decoder<Row> = (body: Uint8Array, o: OtlpDecodeOptions) => DecodedRows<Row>;

/** Decoders are the six decoders, by signal and format. */
export interface Decoders {
  readonly traces: Readonly<Record<BodyFormat, Decoder<SpanRow>>>;
  readonly metrics: Readonly<Record<BodyFormat, Decoder<MetricPointRow>>>;
  readonly logs: Readonly<Record<BodyFormat, Decoder<LogRow>>>;
}

/** TenantIngest is a tenant's ingest settings: its token bucket, in bytes, and its head-sampling ratio for spans. */
export interface TenantIngest {
  readonly bytesPerSecond: number;
  readonly burstBytes: number;
  /** traceSampleRatio in [0, 1]; 1 keeps every span (head-sampling.ts). */
  readonly traceSampleRatio: number;
}

/** IngestSettings are the write path's limits a node may set (flags of `otlpdb start`); the rest of IngestLimits is fixed. */
export interface IngestSettings {
  /** requestBytesMax bounds a body on the wire and after decompression (default IngestLimits.requestBytesMax). */
  readonly requestBytesMax: number;
  /** nodeInflightBytesMax bounds the request bytes the node holds at once (default IngestLimits.nodeInflightBytesMax). */
  readonly nodeInflightBytesMax: number;
  /** requestDeadlineMs bounds a request whose client gave no deadline (default IngestLimits.requestDeadlineMsDefault). */
  readonly requestDeadlineMs: number;
}

/** INGEST_SETTINGS_RANGES are the allowed ranges of IngestSettings. */
export const INGEST_SETTINGS_RANGES: Readonly<Record<keyof IngestSettings, readonly [number, number]>> = {
  requestBytesMax: [64 * 1024, IngestLimits.requestBytesCeiling],
  nodeInflightBytesMax: [64 * 1024, IngestLimits.nodeInflightBytesCeiling],
  requestDeadlineMs: [IngestLimits.callMsMin * 4, IngestLimits.requestDeadlineMsMax],
};

/**
 * resolveIngestSettings fills a node's partial settings with the defaults and
 * checks them: a value outside its range, or an in-flight bound below one
 * request, is ERR_INVALID_ARGUMENT naming the setting.
 */
export function resolveIngestSettings(p: Partial<IngestSettings> = {}): IngestSettings {
  const s: IngestSettings = {
    requestBytesMax: p.requestBytesMax ?? IngestLimits.requestBytesMax,
    nodeInflightBytesMax: p.nodeInflightBytesMax ?? IngestLimits.nodeInflightBytesMax,
    requestDeadlineMs: p.requestDeadlineMs ?? IngestLimits.requestDeadlineMsDefault,
  };
  for (const [k, [lo, hi]] of Object.entries(INGEST_SETTINGS_RANGES)) {
    const v = s[k as keyof IngestSettings];
    if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `ingest setting ${k} must be an integer in [${lo}, ${hi}], got ${v}`, { setting: k });
  }
  if (s.nodeInflightBytesMax < s.requestBytesMax) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `ingest setting nodeInflightBytesMax (${s.nodeInflightBytesMax}) must hold one request of requestBytesMax (${s.requestBytesMax})`, { setting: 'nodeInflightBytesMax' });
  }
  return s;
}

/** IngesterDeps are what the write path needs from its node. */
export interface IngesterDeps {
  readonly hasher: Hasher;
  readonly writer: ShardWriter;
  readonly decoders: Decoders;
  /** shardCount is the cluster's shard count, or 0 while the placement is not known (requests are then refused, retryable). */
  readonly shardCount: () => number;
  /** tenantIngest reads a tenant's settings (the meta group's, or the defaults). */
  readonly tenantIngest: (tenant: string) => TenantIngest;
  /** nowMs is a monotonic clock (ms); wallMs the wall clock (ms since the epoch). */
  readonly nowMs: () => number;
  readonly wallMs: () => number;
  /** priority orders the signals from kept-longest to shed-first (default OTLP_SIGNALS). */
  readonly priority?: readonly OtlpSignal[];
  /** settings are the node's ingest limits (resolveIngestSettings; default: IngestLimits). */
  readonly settings?: IngestSettings;
  /** itemLimits are the node's per-item decode limits (resolveItemLimits; default: OtlpLimits). */
  readonly itemLimits?: OtlpItemLimits;
  /**
   * preparer runs decode, split and encode (prepare-parts.ts): the node's
   * receive workers (ingest-workers.ts), or by default the calling thread
   * with `decoders` and `itemLimits`. A worker pool always uses the
   * production decoders and must be given the same itemLimits.
   */
  readonly preparer?: Preparer;
  /**
   * plantAckBeforeCommit is a planted bug for the jepsen suite's tests only
   * (node.ts readTestPlants: never set by a production node): answer
   * success before any part commits.
   */
  readonly plantAckBeforeCommit?: boolean;
}

/** IngestRequest is one decompressed request. */
export interface IngestRequest {
  readonly signal: OtlpSignal;
  readonly tenant: string;
  readonly format: BodyFormat;
  readonly body: Uint8Array;
  /** deadlineMs is when the client stops waiting, on the nowMs clock. */
  readonly deadlineMs: number;
}

/** IngestOutcome is a successful answer: how many items were stored and refused, and why (partial_success). */
export interface IngestOutcome {
  readonly accepted: number;
  readonly rejected: number;
  /** message names the first reasons items were refused (empty when none was). */
  readonly message: string;
  readonly parts: number;
}

/** Admission is the in-flight reservation of one request. Invariant: 0 <= chargedWireBytes <= bytes. */
export interface Admission {
  readonly signal: OtlpSignal;
  readonly tenant: string;
  bytes: number;
  /** chargedWireBytes is what the tenant's token bucket was charged for this request so far (wire bytes). */
  chargedWireBytes: number;
  released: boolean;
}

/** IngestStats are the write path's counters (exported in /metrics). */
export interface IngestStats {
  requests: Record<OtlpSignal, number>;
  accepted: Record<OtlpSignal, number>;
  rejected: Record<OtlpSignal, number>;
  truncatedValues: number;
  /** sampledOut counts spans dropped by the tenant's head sampling (neither stored nor reported as rejected). */
  sampledOut: number;
  refusedRate: number;
  refusedOverload: number;
  refusedInvalid: number;
  failedUncommitted: number;
}

const zero = (): Record<OtlpSignal, number> => ({ traces: 0, metrics: 0, logs: 0 });
const NOUN: Readonly<Record<OtlpSignal, string>> = { traces: 'spans', metrics: 'data points', logs: 'log records' };

/** Ingester is a node's OTLP write path; see the top of this file. */
export class Ingester {
  readonly #d: IngesterDeps;
  readonly #preparer: Preparer;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #rank: Readonly<Record<OtlpSignal, number>>;
  /** settings are the limits in force (the receivers read requestBytesMax and requestDeadlineMs from here). */
  readonly settings: IngestSettings;
  #inflightBytes = 0;
  readonly stats: IngestStats = {
    requests: zero(),
    accepted: zero(),
    rejected: zero(),
    truncatedValues: 0,
    sampledOut: 0,
    refusedRate: 0,
    refusedOverload: 0,
    refusedInvalid: 0,
    failedUncommitted: 0,
  };

  constructor(deps: IngesterDeps) {
    const priority = deps.priority ?? OTLP_SIGNALS;
    assert(priority.length === 3 && new Set(priority).size === 3, 'priority orders the three signals');
    this.#d = deps;
    this.#preparer = deps.preparer ?? new InlinePreparer({ hasher: deps.hasher, decoders: deps.decoders, ...(deps.itemLimits === undefined ? {} : { itemLimits: deps.itemLimits }) });
    this.settings = deps.settings ?? resolveIngestSettings();
    this.#rank = { [priority[0] as OtlpSignal]: 0, [priority[1] as OtlpSignal]: 1, [priority[2] as OtlpSignal]: 2 } as Record<OtlpSignal, number>;
  }

  /** inflightBytes is the bytes of requests admitted and not yet answered. */
  get inflightBytes(): number {
    return this.#inflightBytes;
  }

  /**
   * admit reserves `wireBytes` for a request of `signal` from `tenant`
   * before anything else is done with it: ERR_LIMIT_EXCEEDED when the body
   * is over IngestSettings.requestBytesMax, ERR_RATE_LIMITED over the tenant's
   * rate, ERR_UNAVAILABLE when the node is too busy for this signal.
   */
  admit(signal: OtlpSignal, tenant: string, wireBytes: number): Admission {
    assert(Number.isSafeInteger(wireBytes) && wireBytes >= 0, 'admit wireBytes is a byte count');
    if (wireBytes > this.settings.requestBytesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `request body of ${wireBytes} bytes exceeds requestBytesMax (${this.settings.requestBytesMax})`);
    }
    this.stats.requests[signal]++;
    this.#checkLevel(signal, wireBytes);
    const waitMs = this.#bucket(tenant).take(wireBytes, this.#d.nowMs());
    if (waitMs === Infinity) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `request body of ${wireBytes} bytes exceeds tenant ${JSON.stringify(tenant)}'s ingest burst (ingestBurstBytesMax)`);
    }
    if (waitMs > 0) {
      this.stats.refusedRate++;
      throw new OtlpdbError('ERR_RATE_LIMITED', `tenant ${JSON.stringify(tenant)} is over its ingest rate; retry in ${waitMs} ms`, { retryAfterMs: waitMs });
    }
    this.#inflightBytes += wireBytes;
    return { signal, tenant, bytes: wireBytes, chargedWireBytes: wireBytes, released: false };
  }

  /**
   * growWire extends an admission to the body's `wireBytes` once it has been
   * read, and charges the tenant's bucket for the wire bytes admit was not
   * told about (a chunked OTLP/HTTP body declares no length, so it is admitted
   * at 0 bytes): refused like admit (ERR_RATE_LIMITED, ERR_LIMIT_EXCEEDED),
   * so that leaving out Content-Length does not bypass the tenant's rate.
   */
  growWire(a: Admission, wireBytes: number): void {
    assert(!a.released, 'growWire a live admission');
    assert(Number.isSafeInteger(wireBytes) && wireBytes >= 0, 'growWire wireBytes is a byte count');
    const uncharged = wireBytes - a.chargedWireBytes;
    if (uncharged > 0) {
      const waitMs = this.#bucket(a.tenant).take(uncharged, this.#d.nowMs());
      if (waitMs === Infinity) {
        throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `request body of ${wireBytes} bytes exceeds tenant ${JSON.stringify(a.tenant)}'s ingest burst (ingestBurstBytesMax)`);
      }
      if (waitMs > 0) {
        this.stats.refusedRate++;
        throw new OtlpdbError('ERR_RATE_LIMITED', `tenant ${JSON.stringify(a.tenant)} is over its ingest rate; retry in ${waitMs} ms`, { retryAfterMs: waitMs });
      }
      a.chargedWireBytes = wireBytes;
    }
    this.grow(a, wireBytes);
    assert(a.chargedWireBytes <= a.bytes, 'charged wire bytes within the admission');
  }

  /** grow extends an admission to `bytes` (the decompressed size), refused like admit when the node is too busy. */
  grow(a: Admission, bytes: number): void {
    assert(!a.released, 'grow a live admission');
    if (bytes <= a.bytes) return;
    if (bytes > this.settings.requestBytesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `decompressed request of more than requestBytesMax (${this.settings.requestBytesMax}) bytes`);
    }
    this.#checkLevel(a.signal, bytes - a.bytes);
    this.#inflightBytes += bytes - a.bytes;
    a.bytes = bytes;
  }

  /** release ends an admission (idempotent). */
  release(a: Admission): void {
    if (a.released) return;
    a.released = true;
    this.#inflightBytes -= a.bytes;
    assert(this.#inflightBytes >= 0, 'in-flight bytes never negative');
  }

  /**
   * ingest decodes, splits, writes and waits; see the top of this file. The
   * caller holds an admission for the request and releases it afterwards.
   */
  async ingest(req: IngestRequest): Promise<IngestOutcome> {
    const shardCount = this.#d.shardCount();
    if (shardCount < 1) throw new OtlpdbError('ERR_UNAVAILABLE', 'the cluster is bootstrapping: no shard placement yet; retry');
    const traceSampleRatio = req.signal === 'traces' ? this.#d.tenantIngest(req.tenant).traceSampleRatio : 1;
    let prepared: PreparedParts;
    try {
      prepared = await this.#preparer.prepare({ signal: req.signal, tenant: req.tenant, format: req.format, body: req.body, shardCount, traceSampleRatio, wallMs: this.#d.wallMs() });
    } catch (err) {
      if (!(err instanceof PrepareFailure)) throw err;
      if (err.invalidBody) this.stats.refusedInvalid++;
      throw err.error;
    }
    this.stats.truncatedValues += prepared.truncatedValues;
    this.stats.sampledOut += prepared.sampledOut;
    const parts = prepared.parts;
    const writing = this.#d.writer.write(parts, req.deadlineMs);
    if (this.#d.plantAckBeforeCommit === true) return ackBeforeCommit(writing, prepared, parts.length);
    const outcomes = await writing;
    const failed = outcomes.find((o) => !o.ok);
    if (failed !== undefined && !failed.ok) {
      this.stats.failedUncommitted++;
      throw failed.error;
    }
    let accepted = 0;
    let refused = 0;
    const reasons: string[] = prepared.reasons;
    for (const o of outcomes) {
      if (!o.ok) continue;
      const c = countsOf(o.result, req.signal);
      accepted += c.accepted;
      refused += c.refused;
      if (o.result.invalid !== null) reasons.push(`shard ${o.part.shard}: ${o.result.invalid}`);
      for (const f of o.result.refusals) reasons.push(`${f.code}: ${f.reason}`);
    }
    const rejected = prepared.rejected + refused;
    this.stats.accepted[req.signal] += accepted;
    this.stats.rejected[req.signal] += rejected;
    return { accepted, rejected, message: rejected === 0 ? '' : rejectionMessage(rejected, NOUN[req.signal], reasons), parts: parts.length };
  }

  /** idempotencyKey is xxhash64 of the request body seeded with its signal and tenant, as 16 hex digits (DESIGN.md §1 promise 3). */
  idempotencyKey(signal: OtlpSignal, tenant: string, body: Uint8Array): string {
    return idempotencyKeyOf(this.#d.hasher, signal, tenant, body);
  }

  /** checkLevel refuses `more` bytes for `signal` when the node's in-flight level would pass the signal's shed level. */
  #checkLevel(signal: OtlpSignal, more: number): void {
    const levelPercent = IngestLimits.shedLevelsPercent[this.#rank[signal]] as number;
    const bound = Math.floor((this.settings.nodeInflightBytesMax * levelPercent) / 100);
    if (this.#inflightBytes + more > bound) {
      this.stats.refusedOverload++;
      throw new OtlpdbError('ERR_UNAVAILABLE', `node is busy: ${this.#inflightBytes} request bytes in flight, ${signal} are refused above ${levelPercent}% of nodeInflightBytesMax (${this.settings.nodeInflightBytesMax}); retry`, {
        retryAfterMs: IngestLimits.retryAfterSecondsDefault * 1000,
        overloaded: true,
      });
    }
  }

  #bucket(tenant: string): TokenBucket {
    const rate = this.#d.tenantIngest(tenant);
    const now = this.#d.nowMs();
    let b = this.#buckets.get(tenant);
    if (b === undefined) {
      if (this.#buckets.size >= IngestLimits.tenantBucketsMax) {
        // Drop the oldest-inserted bucket: it refills to full when that tenant comes back, which only errs towards admitting.
        const oldest = this.#buckets.keys().next().value as string;
        this.#buckets.delete(oldest);
      }
      b = new TokenBucket(rate.bytesPerSecond, rate.burstBytes, now);
      this.#buckets.set(tenant, b);
    } else {
      b.configure(rate.bytesPerSecond, rate.burstBytes, now);
    }
    assert(this.#buckets.size <= IngestLimits.tenantBucketsMax, 'tenant buckets within tenantBucketsMax');
    return b;
  }
}

/** ackBeforeCommit is the planted bug `ack-before-commit` (see IngesterDeps.plantAckBeforeCommit): the answer does not wait for `writing`. */
function ackBeforeCommit(writing: Promise<unknown>, prepared: PreparedParts, parts: number): IngestOutcome {
  writing.catch(() => undefined);
  return { accepted: 0, rejected: prepared.rejected, message: '', parts };
}

function countsOf(r: ShardApplyResult, signal: OtlpSignal): { accepted: number; refused: number } {
  return signal === 'traces' ? r.spans : signal === 'metrics' ? r.points : r.logs;
}

/** rejectionMessage is partial_success.error_message: the count and the first reasons, at most IngestLimits.messageCharsMax characters. */
function rejectionMessage(rejected: number, noun: string, reasons: readonly string[]): string {
  let msg = `${rejected} ${noun} rejected`;
  const shown = reasons.slice(0, IngestLimits.reasonsShownMax);
  if (shown.length > 0) msg += `: ${shown.join('; ')}`;
  if (reasons.length > shown.length) msg += `; and ${reasons.length - shown.length} more reasons`;
  return msg.length > IngestLimits.messageCharsMax ? `${msg.slice(0, IngestLimits.messageCharsMax - 3)}...` : msg;
}

