/**
 * ingest-run.ts — one run of `bench/ingest.ts`, callable from its test:
 *
 *  1. templates: one realistic request per signal (ingest-payloads.ts),
 *     times around the run's start;
 *  2. the decode ceiling: the same bodies decoded by the node's own decoders
 *     (decodeTracesProto, decodeMetricsProto, decodeLogsProto) in this
 *     process, one thread, for IngestBenchLimits.decodeSec per signal, before
 *     the cluster starts;
 *  3. a real cluster through the CLI (`cluster up --detach --json`, 1 node
 *     with --replicas 1 or 3 nodes with --replicas 3, kv-otlpdb.ts), its
 *     tenant `bench` given an ingest rate the token bucket never reaches;
 *  4. per signal and protocol: a warm-up of warmupSec (not measured), the
 *     measured phase, then the resend of bodies left unanswered or refused
 *     (ingest-load.ts); the phases run one after the other;
 *  5. the check: POST /api/v1/admin/flush, GET /api/v1/stats, and per signal
 *     stored == acknowledged (warm-ups, measured phases and resends). A
 *     mismatch is reported, loudly, by the caller;
 *  6. the cluster stopped by PID and its directory removed, also on errors
 *     and SIGINT/SIGTERM; with --keep-dir the directory stays. Every node's
 *     /metrics is sampled during each phase (ingest-diag.ts); when a phase
 *     had errors or non-2xx answers, the check failed or the run threw, the
 *     node logs and those samples are copied out first and the copy's path
 *     is printed (IngestReport.keptDir).
 *
 * Ownership: runIngestBench owns the cluster and the temp dir it creates.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { assert } from '../src/errors.js';
import { IngestBenchLimits } from '../src/limits.js';
import type { OtlpSignal } from '../src/otlp/ingest.js';
import { decodeLogsProto } from '../src/otlp/proto-logs.js';
import { decodeMetricsProto } from '../src/otlp/proto-metrics.js';
import { decodeTracesProto } from '../src/otlp/proto-traces.js';
import { resendBodies, runGrpcLoad, runHttpLoad, slotPool } from './ingest-load.js';
import type { LoadResult, LoadSlot, ResendOutcome } from './ingest-load.js';
import { buildTemplate, makeBody } from './ingest-payloads.js';
import type { BodyTemplate } from './ingest-payloads.js';
import { decodeRate, ingestDecodeRatio, itemsPerCpuSec, phaseFigures, targetItemsPerSec, targetMet } from './ingest-plan.js';
import type { IngestBenchConfig, IngestProtocol, PhaseFigures } from './ingest-plan.js';
import { MetricsSampler, diagDir, keepDiagnostics } from './ingest-diag.js';
import { startOtlpdb } from './kv-otlpdb.js';
import type { OtlpdbCluster } from './kv-otlpdb.js';

/** BENCH_TENANT is the tenant every request names (X-Scope-OrgID / x-scope-orgid). */
export const BENCH_TENANT = 'bench';
const TEMPLATE_SEED = 4318;

/** IngestPorts are the base ports of the cluster (node i listens on 127.0.0.i). */
export interface IngestPorts {
  readonly api: number;
  readonly peer: number;
  readonly otlpGrpc: number;
  readonly otlpHttp: number;
}

/** DecodeCeiling is one signal's decode rate on one thread. */
export interface DecodeCeiling {
  readonly itemsPerSec: number;
  readonly mbPerSec: number;
}

/** PhaseReport is one signal over one protocol. */
export interface PhaseReport {
  readonly signal: OtlpSignal;
  readonly protocol: IngestProtocol;
  readonly figures: PhaseFigures;
  readonly elapsedSec: number;
  /** serverCpuPercent is each node's CPU over the measured phase, in percent of one core (null: unreadable). */
  readonly serverCpuPercent: readonly (number | null)[];
  /** serverWaitPercent is how long each node's main thread waited for a CPU while runnable, in percent of the phase. */
  readonly serverWaitPercent: readonly (number | null)[];
  /** itemsPerCpuSec is the phase's acknowledged items per CPU-second of all its nodes (itemsPerCpuSec in ingest-plan.ts). */
  readonly itemsPerCpuSec: number | null;
  readonly loadGenCpuPercent: number;
  readonly ingestToDecode: number | null;
  readonly targetItemsPerSec: number;
  readonly targetMet: boolean;
  /** resend is the after-phase resend of bodies of the warm-up and the phase left unanswered or refused. */
  readonly resend: ResendOutcome;
  readonly latenciesDropped: number;
}

/** SignalCheck compares what the cluster stored with what it acknowledged. */
export interface SignalCheck {
  readonly signal: OtlpSignal;
  readonly acknowledged: number;
  readonly stored: number;
  /** unresolved counts bodies never answered 200, even after the resend: their items may be stored in part. */
  readonly unresolvedBodies: number;
  readonly match: boolean;
}

/** IngestReport is everything a run measured. */
export interface IngestReport {
  readonly config: IngestBenchConfig;
  readonly replicas: number;
  readonly bodies: Readonly<Partial<Record<OtlpSignal, { readonly bytes: number; readonly items: number; readonly bytesPerItem: number }>>>;
  readonly decode: Readonly<Partial<Record<OtlpSignal, DecodeCeiling>>>;
  readonly phases: readonly PhaseReport[];
  readonly checks: readonly SignalCheck[];
  readonly shardsMissing: readonly number[];
  readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
  /** keptDir is where the node logs and /metrics samples were kept (a failed phase or --keep-dir), else null. */
  readonly keptDir: string | null;
}

/** IngestRunOptions are what the CLI and the test choose besides the flags. */
export interface IngestRunOptions {
  readonly ports: IngestPorts;
  readonly log: (line: string) => void;
  /** decodeSec overrides IngestBenchLimits.decodeSec (the test decodes briefly). */
  readonly decodeSec?: number;
  /** warmupSec overrides IngestBenchLimits.warmupSec. */
  readonly warmupSec?: number;
}

const DECODERS = { traces: decodeTracesProto, metrics: decodeMetricsProto, logs: decodeLogsProto } as const;

/** measureDecode decodes distinct bodies of `t` for `sec` seconds on this thread; every row must decode. */
function measureDecode(t: BodyTemplate, sec: number, baseMs: number): DecodeCeiling {
  const bodies: Buffer[] = [];
  for (let i = 0; i < IngestBenchLimits.decodeBodies; i++) bodies.push(makeBody(t, 0, i, baseMs));
  const decode = DECODERS[t.signal];
  const nowMs = Date.now();
  let items = 0;
  let bytes = 0;
  const start = performance.now();
  const end = start + sec * 1000;
  let i = 0;
  while (performance.now() < end) {
    const body = bodies[i++ % bodies.length] as Buffer;
    const r = decode(body, { tenant: BENCH_TENANT, nowMs });
    assert(r.rejected === 0, `the decode ceiling decodes every ${t.signal} item (${JSON.stringify(r.rejections.slice(0, 1))})`);
    items += r.rows.length;
    bytes += body.length;
  }
  const elapsedSec = (performance.now() - start) / 1000;
  return { itemsPerSec: decodeRate(items, elapsedSec), mbPerSec: Math.round((bytes / 1e6 / elapsedSec) * 100) / 100 };
}

async function fetchJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(IngestBenchLimits.verifyDeadlineMs) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    // Not JSON: keep the text for the error message.
  }
  return { status: res.status, body };
}

/** configureTenant gives BENCH_TENANT an ingest rate the bench never reaches, and waits until every node applied it. */
async function configureTenant(apis: readonly string[]): Promise<void> {
  const first = apis[0];
  assert(first !== undefined, 'configureTenant needs a node');
  const settings = { ingestBytesPerSecondMax: IngestBenchLimits.tenantBytesPerSecond, ingestBurstBytesMax: 2 * IngestBenchLimits.tenantBytesPerSecond };
  const put = await fetchJson(`http://${first}/api/v1/tenants/${BENCH_TENANT}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(settings) });
  if (put.status !== 200) throw new Error(`bench/ingest: PUT /api/v1/tenants/${BENCH_TENANT} answered ${put.status}: ${JSON.stringify(put.body)}`);
  for (const api of apis) {
    // A linearizable read on each node returns once that node applied the write, so its ingester sees the new rate.
    const got = await fetchJson(`http://${api}/api/v1/tenants/${BENCH_TENANT}`);
    const s = (got.body as { settings?: { ingestBytesPerSecondMax?: number } }).settings;
    if (got.status !== 200 || s?.ingestBytesPerSecondMax !== settings.ingestBytesPerSecondMax) {
      throw new Error(`bench/ingest: node ${api} does not show the bench tenant's settings: ${got.status} ${JSON.stringify(got.body)}`);
    }
  }
}

/** StatsCounts are the stored rows GET /api/v1/stats reports per signal, and the shards it could not count. */
interface StatsCounts {
  readonly rows: Readonly<Record<OtlpSignal, number>>;
  readonly shardsMissing: readonly number[];
}

/** flushAndCount flushes every shard replica and reads the cluster's stored counts. */
async function flushAndCount(api: string): Promise<StatsCounts> {
  const flush = await fetchJson(`http://${api}/api/v1/admin/flush`, { method: 'POST' });
  if (flush.status !== 200) throw new Error(`bench/ingest: POST /api/v1/admin/flush answered ${flush.status}: ${JSON.stringify(flush.body)}`);
  const stats = await fetchJson(`http://${api}/api/v1/stats`);
  if (stats.status !== 200) throw new Error(`bench/ingest: GET /api/v1/stats answered ${stats.status}: ${JSON.stringify(stats.body)}`);
  const s = stats.body as { traces: { spans: number }; metrics: { samples: number }; logs: { records: number }; shardsMissing: number[] };
  return { rows: { traces: s.traces.spans, metrics: s.metrics.samples, logs: s.logs.records }, shardsMissing: s.shardsMissing };
}

const percentOf = (sec: number | null, elapsedSec: number): number | null => (sec === null ? null : Math.round((sec / elapsedSec) * 100));

/** runIngestBench runs the whole bench once; see the top of this file. */
export async function runIngestBench(config: IngestBenchConfig, o: IngestRunOptions): Promise<IngestReport> {
  const loadBefore = loadavg();
  const startMs = Date.now();
  const baseMs = startMs - IngestBenchLimits.metricTimeBackMs;
  const templates = new Map<OtlpSignal, BodyTemplate>();
  const bodies: Partial<Record<OtlpSignal, { bytes: number; items: number; bytesPerItem: number }>> = {};
  const decode: Partial<Record<OtlpSignal, DecodeCeiling>> = {};
  for (const signal of config.signals) {
    const t = buildTemplate(signal, config.batch, startMs, TEMPLATE_SEED);
    templates.set(signal, t);
    bodies[signal] = { bytes: t.bytes.length, items: t.items, bytesPerItem: Math.round((t.bytes.length / t.items) * 10) / 10 };
    o.log(`decode ceiling: ${signal}, ${o.decodeSec ?? IngestBenchLimits.decodeSec} s on one thread`);
    decode[signal] = measureDecode(t, o.decodeSec ?? IngestBenchLimits.decodeSec, baseMs);
  }

  const root = await mkdtemp(join(tmpdir(), 'otlpdb-bench-ingest-'));
  let cluster: OtlpdbCluster | null = null;
  let cleaning: Promise<void> | null = null;
  // failed: something the node logs may explain happened (a phase's errors, a check mismatch, a throw).
  let failed = false;
  let keptDir: string | null = null;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      await cluster?.stop().catch((e: unknown) => o.log(`bench/ingest: stopping the cluster: ${String(e)}`));
      if (config.keepDir) {
        keptDir = root;
        o.log(`bench/ingest: kept the run's directory (--keep-dir): ${root} (node logs in cluster/, /metrics samples in diag/)`);
        return;
      }
      if (failed) {
        keptDir = await keepDiagnostics(root).catch((e: unknown) => {
          o.log(`bench/ingest: keeping the node logs: ${String(e)}`);
          return null;
        });
        if (keptDir !== null) o.log(`bench/ingest: a phase failed: node logs and /metrics samples kept in ${keptDir}`);
      }
      await rm(root, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    o.log(`bench/ingest: ${sig}, stopping the cluster; no figures`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const replicas = config.nodes;
    o.log(`starting ${config.nodes} node(s), R=${replicas}, in ${root}`);
    cluster = await startOtlpdb({
      dir: join(root, 'cluster'),
      nodes: config.nodes,
      apiPort: o.ports.api,
      peerPort: o.ports.peer,
      extraArgs: [
        '--replicas', String(replicas), '--otlp-grpc-port', String(o.ports.otlpGrpc), '--otlp-http-port', String(o.ports.otlpHttp),
        ...(config.receiveWorkers === undefined ? [] : ['--receive-workers', String(config.receiveWorkers)]),
      ],
      nodeArgs: config.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', config.cpuProfDir],
    });
    const nodes = cluster.file.nodes;
    const apis = nodes.map((n) => n.api);
    const grpcTargets = nodes.map((n) => n.otlpGrpc ?? '');
    const httpTargets = nodes.map((n) => n.otlpHttp ?? '');
    assert(grpcTargets.every((t) => t !== '') && httpTargets.every((t) => t !== ''), 'cluster up printed every node\'s OTLP addresses');
    await configureTenant(apis);
    const samples = await diagDir(root);

    let slotCounter = 0;
    const nextSlot = (): number => slotCounter++;
    const acknowledged: Record<OtlpSignal, number> = { traces: 0, metrics: 0, logs: 0 };
    const unresolved: Record<OtlpSignal, number> = { traces: 0, metrics: 0, logs: 0 };
    const phases: PhaseReport[] = [];
    for (const signal of config.signals) {
      const template = templates.get(signal);
      assert(template !== undefined, 'a template per signal');
      const pool: LoadSlot[] = [];
      for (const protocol of config.protocols) {
        const run = protocol === 'http' ? runHttpLoad : runGrpcLoad;
        const targets = protocol === 'http' ? httpTargets : grpcTargets;
        const spec = (durationSec: number) => ({
          targets,
          connections: config.connections,
          durationSec,
          template,
          tenant: BENCH_TENANT,
          baseMs,
          takeSlot: slotPool(pool, nextSlot),
          pids: cluster?.pids ?? [],
        });
        const warmupSec = o.warmupSec ?? IngestBenchLimits.warmupSec;
        const sampler = new MetricsSampler(samples, `${String(phases.length + 1).padStart(2, '0')}-${signal}-${protocol}`, apis);
        sampler.start();
        let warm: LoadResult | null = null;
        let r: LoadResult;
        try {
          if (warmupSec > 0) {
            o.log(`${signal} over ${protocol}: warm-up ${warmupSec} s`);
            warm = await run(spec(warmupSec));
          }
          o.log(`${signal} over ${protocol}: ${config.connections} connection(s), batch ${config.batch}, ${config.durationSec} s`);
          r = await run(spec(config.durationSec));
        } finally {
          await sampler.stop();
        }
        const f = phaseFigures(r.counts, config.batch);
        const warmFailed = warm !== null && (warm.counts.non2xx > 0 || warm.counts.errors > 0);
        if (f.non2xx > 0 || f.errors > 0 || warmFailed) {
          failed = true;
          o.log(`${signal} over ${protocol}: failed answers: phase ${JSON.stringify(f.statusCodes)}${warm === null ? '' : `, warm-up ${JSON.stringify(warm.counts.statusCodes)}`}`);
        }
        const toResend = [...(warm?.resend ?? []), ...r.resend];
        if (toResend.length > 0) o.log(`${signal} over ${protocol}: resending ${toResend.length} unanswered or refused bodies`);
        const resend = await resendBodies(httpTargets[0] as string, signal, BENCH_TENANT, config.batch, toResend);
        const warmItems = warm === null ? 0 : warm.counts.ok * config.batch - warm.counts.rejectedItems;
        acknowledged[signal] += warmItems + f.itemsAcknowledged + resend.itemsAcknowledged;
        unresolved[signal] += resend.unresolved;
        const decodePerSec = decode[signal]?.itemsPerSec ?? 0;
        phases.push({
          signal,
          protocol,
          figures: f,
          elapsedSec: Math.round(r.counts.elapsedSec * 100) / 100,
          serverCpuPercent: r.serverCpuSec.map((s) => percentOf(s, r.counts.elapsedSec)),
          serverWaitPercent: r.serverWaitSec.map((s) => percentOf(s, r.counts.elapsedSec)),
          itemsPerCpuSec: itemsPerCpuSec(f.itemsAcknowledged, r.serverCpuSec),
          loadGenCpuPercent: percentOf(r.loadGenCpuSec, r.counts.elapsedSec) ?? 0,
          ingestToDecode: ingestDecodeRatio(f.itemsPerSec, decodePerSec),
          targetItemsPerSec: targetItemsPerSec(signal, config.nodes),
          targetMet: targetMet(signal, config.nodes, f),
          resend,
          latenciesDropped: r.latenciesDropped,
        });
        // The figures again at once: a check that fails or times out afterwards then does not take them with it.
        o.log(`${signal} over ${protocol}: ${Math.round(f.itemsPerSec)} items/s, ${phases.at(-1)?.itemsPerCpuSec ?? '-'} items per node CPU-s, node CPU ${r.serverCpuSec.map((s) => percentOf(s, r.counts.elapsedSec)).join('/')}%`);
      }
    }

    o.log('check: flush every shard replica, then read /api/v1/stats');
    const stats = await flushAndCount(apis[0] as string);
    const checks: SignalCheck[] = config.signals.map((signal) => ({
      signal,
      acknowledged: acknowledged[signal],
      stored: stats.rows[signal],
      unresolvedBodies: unresolved[signal],
      match: acknowledged[signal] === stats.rows[signal] && stats.shardsMissing.length === 0,
    }));
    if (checks.some((k) => !k.match)) failed = true;
    await cleanup();
    return { config, replicas, bodies, decode, phases, checks, shardsMissing: stats.shardsMissing, loadAverage: { before: loadBefore, after: loadavg() }, keptDir };
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
}

