/**
 * ingest.ts — `node dist/bench/ingest.js [--signal traces|metrics|logs|all]
 * [--nodes 1|3] [--duration S] [--connections N] [--batch 512|1000]
 * [--grpc | --http | --grpc-first] [--receive-workers N] [--keep-dir] [--cpu-prof DIR] [--json]`: OTLP items per second acknowledged by a real
 * otlpdb cluster (1 node with R=1, or 3 nodes with R=3, started by `otlpdb
 * cluster up`), over OTLP/HTTP (autocannon) and OTLP/gRPC (grpc-js unary
 * calls), against the decode rate of the same bodies on one thread as the
 * ceiling; then a check that the cluster stored exactly what it
 * acknowledged. ingest-run.ts runs it, ingest-load.ts drives the load,
 * ingest-payloads.ts makes the bodies, ingest-plan.ts holds the flags and
 * the arithmetic. Never a CI gate: timing lives here, not in tests.
 */
import { parseIngestArgs } from './ingest-plan.js';
import { runIngestBench } from './ingest-run.js';
import type { IngestReport } from './ingest-run.js';
import { ReceiveWorkerLimits } from '../src/limits.js';

/** INGEST_PORTS are base ports on 127.0.0.i, away from a default cluster's and the kv bench's (13200/17400). */
const INGEST_PORTS = { api: 14_200, peer: 18_400, otlpGrpc: 14_317, otlpHttp: 14_318 } as const;

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const n = (v: number): string => v.toLocaleString('en-US');

function printText(r: IngestReport): void {
  const c = r.config;
  console.log(
    `ingest: ${c.nodes} node(s), R=${r.replicas}, batch ${c.batch}, ${c.connections} connection(s) (HTTP) / concurrent calls (gRPC) split over the nodes, ${c.durationSec} s per phase, receive workers per node: ${c.receiveWorkers ?? `default (${ReceiveWorkerLimits.workersDefault})`}`,
  );
  console.log(`  load average before/after: ${r.loadAverage.before.map((x) => x.toFixed(1)).join(' ')} / ${r.loadAverage.after.map((x) => x.toFixed(1)).join(' ')}`);
  for (const [signal, b] of Object.entries(r.bodies)) {
    const d = r.decode[signal as keyof typeof r.decode];
    console.log(`  ${signal}: ${n(b.bytes)}-byte bodies (${b.bytesPerItem} B/item); decode ceiling ${n(d?.itemsPerSec ?? 0)} items/s (${d?.mbPerSec ?? 0} MB/s) on one thread`);
  }
  console.log('\n  signal   proto     items/s     MB/s   p50 ms   p99 ms  non2xx  errors  ingest/decode  node CPU %      CPU wait %     items/CPU-s  loadgen %  target');
  for (const p of r.phases) {
    const f = p.figures;
    console.log(
      `  ${p.signal.padEnd(8)} ${p.protocol.padEnd(5)} ${n(f.itemsPerSec).padStart(11)} ${String(f.mbPerSec).padStart(8)} ${String(f.latencyP50Ms).padStart(8)} ${String(f.latencyP99Ms).padStart(8)} ` +
        `${String(f.non2xx).padStart(7)} ${String(f.errors).padStart(7)} ${String(p.ingestToDecode ?? 'n/a').padStart(14)}  ${p.serverCpuPercent.map((x) => x ?? '?').join('/').padEnd(14)} ${p.serverWaitPercent.map((x) => x ?? '?').join('/').padEnd(14)} ${(p.itemsPerCpuSec === null ? '?' : n(p.itemsPerCpuSec)).padStart(11)}  ${String(p.loadGenCpuPercent).padStart(9)}  ` +
        `${p.targetMet ? 'met' : 'NOT met'} (>= ${n(p.targetItemsPerSec)})`,
    );
    if (f.non2xx > 0 || f.errors > 0) console.log(`        status codes: ${JSON.stringify(f.statusCodes)}`);
    if (p.resend.bodies > 0) console.log(`        resent after the phase: ${p.resend.bodies} bodies, ${n(p.resend.itemsAcknowledged)} items acknowledged then, ${p.resend.unresolved} never answered 200`);
  }
  console.log('\n  check after flush (acknowledged = warm-ups + phases + resends; stored = GET /api/v1/stats):');
  for (const k of r.checks) {
    console.log(`  ${k.signal.padEnd(8)} acknowledged ${n(k.acknowledged).padStart(12)}  stored ${n(k.stored).padStart(12)}  ${k.match ? 'ok' : 'MISMATCH'}`);
  }
}

async function main(): Promise<number> {
  const config = parseIngestArgs(process.argv.slice(2));
  const report = await runIngestBench(config, { ports: INGEST_PORTS, log });
  if (config.json) console.log(JSON.stringify({ bench: 'ingest', ...report }));
  else printText(report);
  let failed = false;
  for (const k of report.checks) {
    if (!k.match) {
      failed = true;
      log(
        `bench/ingest: FAILURE: ${k.signal}: the cluster stored ${k.stored} but acknowledged ${k.acknowledged}` +
          (k.unresolvedBodies > 0 ? ` (${k.unresolvedBodies} bodies never answered 200 may be stored in part)` : '') +
          (report.shardsMissing.length > 0 ? `; shards missing from the stats: ${report.shardsMissing.join(', ')}` : ''),
      );
    }
  }
  if (report.keptDir !== null) log(`bench/ingest: node logs and /metrics samples: ${report.keptDir}`);
  if (report.phases.some((p) => p.figures.non2xx > 0 || p.figures.errors > 0)) log('bench/ingest: some requests failed (non-2xx or errors above); items/s counts acknowledged items only');
  return failed ? 1 : 0;
}

process.exitCode = await main().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  return 1;
});
