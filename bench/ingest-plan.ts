/**
 * ingest-plan.ts — the pure part of `bench/ingest.ts`: its flags, the
 * decoding of an Export*ServiceResponse (to subtract partial_success
 * rejections), and the arithmetic of the figures (items/s, MB/s,
 * percentiles, the ingest/decode ratio, the targets). No I/O and no clock
 * here, so `bench/ingest.test.ts` checks it exactly.
 */
import { assert } from '../src/errors.js';
import { IngestBenchLimits, ReceiveWorkerLimits } from '../src/limits.js';
import type { OtlpSignal } from '../src/otlp/ingest.js';

/** IngestProtocol is a load driver: autocannon over OTLP/HTTP, or grpc-js unary calls over OTLP/gRPC. */
export type IngestProtocol = 'http' | 'grpc';

/** IngestBenchConfig is what the flags of `bench/ingest.ts` ask for. */
export interface IngestBenchConfig {
  readonly signals: readonly OtlpSignal[];
  /** nodes is 1 (replication factor 1) or 3 (replication factor 3). */
  readonly nodes: 1 | 3;
  readonly durationSec: number;
  /** connections is the total over the nodes: HTTP connections, or concurrent gRPC calls. */
  readonly connections: number;
  /** batch is the items per request. */
  readonly batch: number;
  readonly protocols: readonly IngestProtocol[];
  /** receiveWorkers is each node's `--receive-workers` (undefined: the node default). */
  readonly receiveWorkers: number | undefined;
  /** keepDir keeps the run's directory (data, node logs, /metrics samples) instead of removing it. */
  readonly keepDir: boolean;
  /** cpuProfDir, when set, runs the nodes under `node --cpu-prof` writing one profile per thread there when they stop (undefined: no profile). */
  readonly cpuProfDir?: string | undefined;
  readonly json: boolean;
}

/** INGEST_USAGE is the synopsis printed with a flag error. */
export const INGEST_USAGE =
  'usage: ingest.js [--signal traces|metrics|logs|all] [--nodes 1|3] [--duration S] [--connections N] [--batch 512|1000] [--grpc | --http | --grpc-first] [--receive-workers N] [--keep-dir] [--cpu-prof DIR] [--json]';

function positiveInt(flag: string, raw: string | undefined, max: number): number {
  const v = Number(raw);
  if (raw === undefined || !/^[0-9]+$/.test(raw) || !Number.isSafeInteger(v) || v < 1 || v > max) {
    throw new Error(`${flag} must be an integer in [1, ${max}], got ${raw ?? 'nothing'}; ${INGEST_USAGE}`);
  }
  return v;
}

/**
 * parseIngestArgs reads the flags (see INGEST_USAGE); anything else is an
 * error, not ignored. --grpc runs the gRPC driver only and --http the HTTP
 * driver only; without either both run, HTTP first.
 */
export function parseIngestArgs(argv: readonly string[]): IngestBenchConfig {
  let signals: readonly OtlpSignal[] = ['traces', 'metrics', 'logs'];
  let nodes: 1 | 3 = 1;
  let durationSec: number = IngestBenchLimits.durationSecDefault;
  let connections: number = IngestBenchLimits.connectionsDefault;
  let batch: number = IngestBenchLimits.batchSizeDefault;
  let grpcOnly = false;
  let httpOnly = false;
  let json = false;
  let keepDir = false;
  let receiveWorkers: number | undefined;
  let cpuProfDir: string | undefined;
  let grpcFirst = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--signal') {
      const raw = argv[++i];
      if (raw === 'all') signals = ['traces', 'metrics', 'logs'];
      else if (raw === 'traces' || raw === 'metrics' || raw === 'logs') signals = [raw];
      else throw new Error(`--signal must be traces, metrics, logs or all, got ${raw ?? 'nothing'}; ${INGEST_USAGE}`);
    } else if (a === '--nodes') {
      const raw = argv[++i];
      if (raw !== '1' && raw !== '3') throw new Error(`--nodes must be 1 (R=1) or 3 (R=3), got ${raw ?? 'nothing'}; ${INGEST_USAGE}`);
      nodes = raw === '1' ? 1 : 3;
    } else if (a === '--duration') {
      durationSec = positiveInt('--duration', argv[++i], IngestBenchLimits.durationSecMax);
    } else if (a === '--connections') {
      connections = positiveInt('--connections', argv[++i], IngestBenchLimits.connectionsMax);
    } else if (a === '--batch') {
      const raw = argv[++i];
      const v = Number(raw);
      if (raw === undefined || !/^[0-9]+$/.test(raw) || !(IngestBenchLimits.batchSizes as readonly number[]).includes(v)) {
        throw new Error(`--batch must be one of ${IngestBenchLimits.batchSizes.join(', ')}, got ${raw ?? 'nothing'}; ${INGEST_USAGE}`);
      }
      batch = v;
    } else if (a === '--grpc') {
      grpcOnly = true;
    } else if (a === '--http') {
      httpOnly = true;
    } else if (a === '--grpc-first') {
      grpcFirst = true;
    } else if (a === '--receive-workers') {
      const raw = argv[++i];
      receiveWorkers = raw === '0' ? 0 : positiveInt('--receive-workers', raw, ReceiveWorkerLimits.workersMax);
    } else if (a === '--keep-dir') {
      keepDir = true;
    } else if (a === '--cpu-prof') {
      const raw = argv[++i];
      if (raw === undefined || raw === '' || raw.startsWith('--')) throw new Error(`--cpu-prof needs a directory; ${INGEST_USAGE}`);
      cpuProfDir = raw;
    } else if (a === '--json') {
      json = true;
    } else {
      throw new Error(`unknown argument ${a ?? ''}; ${INGEST_USAGE}`);
    }
  }
  if (grpcOnly && httpOnly) throw new Error(`--grpc and --http exclude each other (give neither for both); ${INGEST_USAGE}`);
  if (grpcFirst && (grpcOnly || httpOnly)) throw new Error(`--grpc-first orders the two protocols' phases (give neither --grpc nor --http); ${INGEST_USAGE}`);
  // NB: the second phase of a signal inherits the first's data (heads, WAL; past ~1.7M spans on one node, the forced
  // compaction of walSegmentsSoftMaxDefault) and came out 10-39% lower per node CPU-second in s18 whichever protocol
  // it was. --grpc-first swaps the order, so each protocol can be compared in the same slot (bench/README.md, "OTLP/gRPC
  // against OTLP/HTTP per node CPU-second").
  const protocols: readonly IngestProtocol[] = grpcOnly ? ['grpc'] : httpOnly ? ['http'] : grpcFirst ? ['grpc', 'http'] : ['http', 'grpc'];
  assert(signals.length >= 1 && protocols.length >= 1, 'at least one phase');
  return { signals, nodes, durationSec, connections, batch, protocols, receiveWorkers, keepDir, cpuProfDir, json };
}

/** ExportResponse is the part of an Export*ServiceResponse the bench reads: partial_success's rejected count and message. */
export interface ExportResponse {
  readonly rejected: number;
  readonly message: string;
}

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

/** Cursor reads protobuf wire data; every read is bounds-checked and a malformed body throws. */
class Cursor {
  at = 0;
  constructor(readonly b: Uint8Array, readonly end: number) {}

  varint(): number {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.at >= this.end) throw new Error('export response: truncated varint');
      const byte = this.b[this.at++] as number;
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
    }
    throw new Error('export response: varint longer than 10 bytes');
  }

  skip(wireType: number): void {
    if (wireType === WT_VARINT) this.varint();
    else if (wireType === WT_I64) this.at += 8;
    else if (wireType === WT_I32) this.at += 4;
    else if (wireType === WT_LEN) this.at += this.varint();
    else throw new Error(`export response: wire type ${wireType} not supported`);
    if (this.at > this.end) throw new Error('export response: field past the end');
  }
}

/**
 * decodeExportResponse reads an Export{Trace,Metrics,Logs}ServiceResponse:
 * field 1 partial_success { field 1 rejected (varint), field 2
 * error_message }. The three responses share these numbers. An empty body
 * is full success (rejected 0).
 */
export function decodeExportResponse(body: Uint8Array): ExportResponse {
  const top = new Cursor(body, body.length);
  let rejected = 0;
  let message = '';
  while (top.at < top.end) {
    const tag = top.varint();
    if (tag === ((1 << 3) | WT_LEN)) {
      const len = top.varint();
      const end = top.at + len;
      if (end > top.end) throw new Error('export response: partial_success past the end');
      const inner = new Cursor(body, end);
      inner.at = top.at;
      while (inner.at < end) {
        const t = inner.varint();
        if (t === ((1 << 3) | WT_VARINT)) rejected = inner.varint();
        else if (t === ((2 << 3) | WT_LEN)) {
          const n = inner.varint();
          if (inner.at + n > end) throw new Error('export response: error_message past the end');
          message = Buffer.from(body.subarray(inner.at, inner.at + n)).toString('utf8');
          inner.at += n;
        } else inner.skip(t & 7);
      }
      top.at = end;
    } else top.skip(tag & 7);
  }
  assert(Number.isSafeInteger(rejected) && rejected >= 0, 'decodeExportResponse rejected is a count');
  return { rejected, message };
}

/** percentileMs is the nearest-rank percentile p (0 < p <= 100) of ascending `sortedMs`, or 0 when there are none. */
export function percentileMs(sortedMs: ArrayLike<number>, p: number): number {
  assert(p > 0 && p <= 100, 'percentileMs p in (0, 100]');
  const n = sortedMs.length;
  if (n === 0) return 0;
  const rank = Math.ceil((p / 100) * n);
  const v = sortedMs[Math.min(n, Math.max(1, rank)) - 1] as number;
  assert(Number.isFinite(v), 'percentileMs a recorded latency');
  return v;
}

/** PhaseCounts are the raw counts of one phase (one signal over one protocol), summed over its load slots. */
export interface PhaseCounts {
  /** ok counts requests answered 200 (HTTP) or OK (gRPC) inside the measured window. */
  readonly ok: number;
  /** rejectedItems sums partial_success.rejected over those answers. */
  readonly rejectedItems: number;
  /** okBodyBytes sums the request body bytes of those answers (wire bytes, no HTTP or gRPC framing). */
  readonly okBodyBytes: number;
  readonly non2xx: number;
  /** errors counts connection errors and timeouts (no answer at all). */
  readonly errors: number;
  /** statusCodes counts every answer by HTTP status or gRPC status name. */
  readonly statusCodes: Readonly<Record<string, number>>;
  readonly elapsedSec: number;
  /** latenciesMs are the latencies of the ok answers, in any order. */
  readonly latenciesMs: readonly number[];
}

/** PhaseFigures are the printed figures of one phase. */
export interface PhaseFigures {
  readonly requests: number;
  /** itemsAcknowledged = ok × batch − rejectedItems. */
  readonly itemsAcknowledged: number;
  readonly itemsPerSec: number;
  readonly mbPerSec: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly statusCodes: Readonly<Record<string, number>>;
}

/**
 * phaseFigures turns counts into figures. Items count only when their
 * request was answered with success, minus the items partial_success
 * rejected: a system cannot look fast by failing fast. MB/s is request body
 * megabytes (10^6 bytes) of those answers per second.
 */
export function phaseFigures(c: PhaseCounts, batch: number): PhaseFigures {
  assert(c.elapsedSec > 0, 'phaseFigures elapsedSec > 0');
  assert(c.ok >= 0 && c.rejectedItems >= 0 && c.non2xx >= 0 && c.errors >= 0, 'phaseFigures counts >= 0');
  assert(c.rejectedItems <= c.ok * batch, 'phaseFigures rejections within the items sent');
  const itemsAcknowledged = c.ok * batch - c.rejectedItems;
  const sorted = [...c.latenciesMs].sort((a, b) => a - b);
  return {
    requests: c.ok,
    itemsAcknowledged,
    itemsPerSec: Math.round(itemsAcknowledged / c.elapsedSec),
    mbPerSec: Math.round((c.okBodyBytes / 1e6 / c.elapsedSec) * 100) / 100,
    latencyP50Ms: Math.round(percentileMs(sorted, 50) * 10) / 10,
    latencyP99Ms: Math.round(percentileMs(sorted, 99) * 10) / 10,
    non2xx: c.non2xx,
    errors: c.errors,
    statusCodes: c.statusCodes,
  };
}

/**
 * itemsPerCpuSec is the items a phase acknowledged per CPU-second of its
 * nodes (all threads, summed over the nodes), rounded, or null when a node's
 * CPU time was unreadable or zero. Next to items/s it is the figure a loaded
 * machine disturbs least: a starved node does less per second, not more per
 * CPU-second.
 */
export function itemsPerCpuSec(items: number, cpuSec: readonly (number | null)[]): number | null {
  assert(items >= 0, 'itemsPerCpuSec items >= 0');
  let sum = 0;
  for (const s of cpuSec) {
    if (s === null) return null;
    sum += s;
  }
  return sum > 0 ? Math.round(items / sum) : null;
}

/** decodeRate is items decoded per second, rounded. */
export function decodeRate(items: number, elapsedSec: number): number {
  assert(items >= 0 && elapsedSec > 0, 'decodeRate items >= 0, elapsedSec > 0');
  return Math.round(items / elapsedSec);
}

/** ingestDecodeRatio is ingest items/s over decode items/s to three decimals; null when nothing was decoded. */
export function ingestDecodeRatio(ingestPerSec: number, decodePerSec: number): number | null {
  assert(ingestPerSec >= 0 && decodePerSec >= 0, 'ingestDecodeRatio rates >= 0');
  if (decodePerSec === 0) return null;
  return Math.round((ingestPerSec / decodePerSec) * 1000) / 1000;
}

/** TARGET_ITEMS_PER_SEC are the one-node (R=1) targets per signal. */
export const TARGET_ITEMS_PER_SEC: Readonly<Record<OtlpSignal, number>> = { traces: 100_000, metrics: 500_000, logs: 200_000 };

/** THREE_NODE_TARGET_PERCENT is the share of the one-node target three nodes with R=3 must reach on the same machine. */
export const THREE_NODE_TARGET_PERCENT = 40;

/** targetItemsPerSec is the target of `signal` on `nodes` nodes. */
export function targetItemsPerSec(signal: OtlpSignal, nodes: 1 | 3): number {
  const one = TARGET_ITEMS_PER_SEC[signal];
  return nodes === 1 ? one : (one * THREE_NODE_TARGET_PERCENT) / 100;
}

/** targetMet: the phase reached its target with no failed request (non-2xx answers or errors void it). */
export function targetMet(signal: OtlpSignal, nodes: 1 | 3, f: PhaseFigures): boolean {
  return f.itemsPerSec >= targetItemsPerSec(signal, nodes) && f.non2xx === 0 && f.errors === 0;
}
