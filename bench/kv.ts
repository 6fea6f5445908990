/**
 * kv.ts — `node dist/bench/kv.js [--duration 10] [--connections 1,16,256] [--json] [--no-etcd] [--no-wal]`:
 * replicated KV writes per second through the HTTP API of a real 3-node
 * otlpdb cluster (`PUT /api/v1/kv/bench-<n>`, started by `otlpdb cluster up`)
 * against a real 3-member etcd 3.4 cluster (`POST /v3/kv/put`, its JSON
 * gateway), same machine, same load generator, same 64-byte values, the
 * same key sequence (kv-plan's benchKey: distinct keys for requests in
 * flight, cycling through keySpace keys because the control KV is bounded).
 *
 * The systems run one after the other, never together: each gets the whole
 * machine while it is measured. For each concurrency level autocannon runs
 * for --duration seconds with the level's connections split over the three
 * members (kv-plan's splitConnections: every member accepts writes; otlpdb
 * followers forward to the meta leader, etcd followers to the etcd leader).
 * It prints requests/s (2xx answers only), p50/p99 latency, non-2xx and
 * errors, the CPU seconds each server process and the load generator used,
 * and the ratio otlpdb/etcd; the target is ratio >= 1.0 at the
 * highest level. It also runs bench/wal.js for the WAL figure (group commit
 * against one fsync per append) rather than measuring it twice.
 *
 * Both clusters live in one temp dir under os.tmpdir(); both are stopped by
 * PID and the dir removed on success, on error and on SIGINT/SIGTERM. Never a
 * CI gate: timing lives here, not in tests.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvBenchLimits } from '../src/limits.js';
import { ensureEtcd, etcdVersion, startEtcd } from './kv-etcd.js';
import type { EtcdCluster } from './kv-etcd.js';
import { runLevel } from './kv-load.js';
import type { KvRequestShape } from './kv-load.js';
import { otlpdbMetaLeader, repoRoot, startOtlpdb } from './kv-otlpdb.js';
import type { OtlpdbCluster } from './kv-otlpdb.js';
import { benchKey, benchValue, etcdPutBody, levelFigures, parseKvArgs, ratioTargetMet, throughputRatio } from './kv-plan.js';
import type { KvBenchConfig, LevelFigures } from './kv-plan.js';

/** Ports on 127.0.0.i, away from a default otlpdb cluster (3200/7400) and a default etcd (2379/2380). */
const OTLPDB_API_PORT = 13_200;
const OTLPDB_PEER_PORT = 17_400;
const ETCD_CLIENT_PORT = 12_379;
const ETCD_PEER_PORT = 12_380;
const MEMBERS = 3;
const VALUE_SEED = 64;

/** SystemRun is one system's figures per level, with where its CPU went. */
interface SystemRun {
  readonly system: 'otlpdb' | 'etcd';
  readonly version: string;
  readonly leader: string;
  readonly levels: readonly (LevelFigures & { serverCpuSec: readonly (number | null)[]; loadGenCpuSec: number; elapsedSec: number })[];
}

/** interrupted is the signal that asked the bench to stop, or null; after it no figure is printed (the load ran against clusters being stopped). */
let interrupted: NodeJS.Signals | null = null;

function checkInterrupted(): void {
  if (interrupted !== null) throw new Error(`bench/kv: interrupted by ${interrupted}; no figures`);
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function otlpdbShape(value: string): KvRequestShape {
  return {
    method: 'PUT',
    headers: { 'content-type': 'text/plain' },
    path: (key) => `/api/v1/kv/${key}`,
    body: () => value,
  };
}

function etcdShape(value: string): KvRequestShape {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    path: () => '/v3/kv/put',
    body: (key) => etcdPutBody(key, value),
  };
}

async function loadSystem(
  system: SystemRun['system'],
  version: string,
  cluster: { readonly targets: readonly string[]; readonly pids: readonly number[] },
  shape: KvRequestShape,
  config: KvBenchConfig,
  leader: () => Promise<string>,
): Promise<SystemRun> {
  let n = 0;
  const nextKey = (): string => benchKey(n++);
  log(`${system}: warm-up ${KvBenchLimits.warmupSec} s`);
  await runLevel(cluster.targets, Math.min(16, KvBenchLimits.connectionsMax), KvBenchLimits.warmupSec, shape, nextKey, cluster.pids);
  checkInterrupted();
  const levels: SystemRun['levels'][number][] = [];
  for (const c of config.connections) {
    log(`${system}: ${c} connection(s), ${config.durationSec} s`);
    const r = await runLevel(cluster.targets, c, config.durationSec, shape, nextKey, cluster.pids);
    checkInterrupted();
    levels.push({ ...levelFigures(c, r.counts), serverCpuSec: r.serverCpuSec, loadGenCpuSec: r.loadGenCpuSec, elapsedSec: r.counts.elapsedSec });
  }
  return { system, version, leader: await leader(), levels };
}

function runWalBench(): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(repoRoot(), 'dist', 'bench', 'wal.js'), '--json'],
      { maxBuffer: KvBenchLimits.childOutputBytesMax, encoding: 'utf8', timeout: KvBenchLimits.startDeadlineMs },
      (err, stdout) => {
        if (err !== null) reject(new Error(`bench/wal.js failed: ${err.message}`));
        else resolve(JSON.parse(stdout.trim().split('\n').pop() ?? 'null'));
      },
    );
  });
}

function cpuText(cpu: readonly (number | null)[], elapsedSec: number): string {
  return cpu.map((s) => (s === null ? '?' : `${Math.round((s / elapsedSec) * 100)}%`)).join('/');
}

const loadText = (l: readonly number[]): string => l.map((x) => x.toFixed(1)).join(' ');

interface LoadAverages {
  readonly before: readonly number[];
  readonly after: readonly number[];
}

function printText(config: KvBenchConfig, runs: readonly SystemRun[], ratios: readonly (number | null)[], wal: unknown, load: LoadAverages): void {
  console.log(`kv: ${MEMBERS}-member clusters on loopback, ${KvBenchLimits.valueBytes}-byte values, keys cycle through ${KvBenchLimits.keySpace}, ${config.durationSec} s per level`);
  console.log(`  load average before/after: ${loadText(load.before)} / ${loadText(load.after)} (other work on the machine skews both systems)`);
  for (const r of runs) {
    console.log(`\n${r.system} (${r.version}; leader ${r.leader})`);
    console.log('  conns   req/s    p50 ms   p99 ms   non2xx  errors   server CPU n1/n2/n3   loadgen CPU');
    for (const l of r.levels) {
      console.log(
        `  ${String(l.connections).padStart(5)} ${String(l.requestsPerSec).padStart(7)} ${String(l.latencyP50Ms).padStart(8)} ${String(l.latencyP99Ms).padStart(8)} ` +
          `${String(l.non2xx).padStart(8)} ${String(l.errors).padStart(7)}   ${cpuText(l.serverCpuSec, l.elapsedSec).padEnd(20)} ${Math.round((l.loadGenCpuSec / l.elapsedSec) * 100)}%`,
      );
      if (l.non2xx > 0) console.log(`        status codes: ${JSON.stringify(l.statusCodes)}`);
    }
  }
  if (ratios.length > 0) {
    console.log('\nratio otlpdb/etcd req/s: ' + config.connections.map((c, i) => `${c} conns ${ratios[i] ?? 'n/a'}x`).join(', '));
  }
  if (wal !== null) console.log(`\nwal (bench/wal.js): ${JSON.stringify(wal)}`);
}

async function main(): Promise<number> {
  const config = parseKvArgs(process.argv.slice(2));
  const etcdBin = config.etcd ? ensureEtcd(log) : null;
  const wal = config.wal ? await runWalBench() : null;
  const loadBefore = loadavg();
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-bench-kv-'));
  let otlpdb: OtlpdbCluster | null = null;
  let etcd: EtcdCluster | null = null;
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      await otlpdb?.stop().catch((e: unknown) => log(`bench/kv: stopping otlpdb: ${String(e)}`));
      await etcd?.stop().catch((e: unknown) => log(`bench/kv: stopping etcd: ${String(e)}`));
      await rm(root, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = sig;
    log(`bench/kv: ${sig}, stopping both clusters`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const value = benchValue(VALUE_SEED);
    const runs: SystemRun[] = [];
    log(`otlpdb: starting ${MEMBERS} nodes in ${root}/otlpdb`);
    otlpdb = await startOtlpdb({ dir: join(root, 'otlpdb'), nodes: MEMBERS, apiPort: OTLPDB_API_PORT, peerPort: OTLPDB_PEER_PORT });
    const o = otlpdb;
    runs.push(
      await loadSystem('otlpdb', 'this tree', o, otlpdbShape(value), config, async () => {
        const id = await otlpdbMetaLeader(o.targets[0] ?? '');
        return id === null ? 'unknown' : `meta group: node ${id}`;
      }),
    );
    await otlpdb.stop();
    if (etcdBin !== null) {
      const dir = join(root, 'etcd');
      await mkdir(dir);
      log(`etcd: starting ${MEMBERS} members in ${dir}`);
      etcd = await startEtcd({ bin: etcdBin, dir, members: MEMBERS, clientPort: ETCD_CLIENT_PORT, peerPort: ETCD_PEER_PORT });
      const e = etcd;
      runs.push(await loadSystem('etcd', etcdVersion(etcdBin), e, etcdShape(value), config, () => etcdLeader(e.targets)));
      await etcd.stop();
    }
    checkInterrupted();
    const [mine, theirs] = runs;
    const ratios = mine !== undefined && theirs !== undefined ? mine.levels.map((l, i) => throughputRatio(l.requestsPerSec, theirs.levels[i]?.requestsPerSec ?? 0)) : [];
    const top = mine?.levels[mine.levels.length - 1];
    const targetMet = top !== undefined && ratios.length > 0 ? ratioTargetMet(ratios[ratios.length - 1] ?? null, top) : null;
    const load: LoadAverages = { before: loadBefore, after: loadavg() };
    if (config.json) {
      console.log(JSON.stringify({ bench: 'kv', durationSec: config.durationSec, valueBytes: KvBenchLimits.valueBytes, runs, ratios, targetMet, wal, load }));
    } else {
      printText(config, runs, ratios, wal, load);
      if (targetMet !== null) console.log(`target ratio >= 1.0 at ${top?.connections} connections: ${targetMet ? 'met' : 'NOT met'}`);
    }
    const failed = runs.some((r) => r.levels.some((l) => l.non2xx > 0 || l.errors > 0));
    if (failed) log('bench/kv: some requests failed (non-2xx or errors above); the figures count 2xx answers only');
    return 0;
  } finally {
    await cleanup();
  }
}

/** etcdLeader names the member that leads, from the gateway's maintenance status (member ids are etcd's, printed as the target). */
async function etcdLeader(targets: readonly string[]): Promise<string> {
  for (const t of targets) {
    try {
      const res = await fetch(`${t}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(KvBenchLimits.stopTimeoutMs) });
      const s = (await res.json()) as { header?: { member_id?: string }; leader?: string };
      if (s.leader !== undefined && s.header?.member_id === s.leader) return t;
    } catch {
      // Try the next member.
    }
  }
  return 'unknown';
}

process.exitCode = await main().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  return 1;
});
