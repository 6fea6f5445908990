/**
 * query-frames.ts — `node dist/bench/query-frames.js [--queries N]
 * [--warmups N] [--port-base P] [--cpu-prof DIR] [--perf DIR]
 * [--idle-ms MS]`: the fixed cost of a selective PromQL instant query on
 * a real 3-node cluster (R=3): peer frames the three nodes send and the
 * CPU they spend a query (and its kernel share), with p50/p99. It writes 200 series × 1 h of
 * query-metrics' data (query-metrics-data.ts), sends `--warmups`
 * (default 100) warm-up queries, measures the idle rate of frames and
 * CPU (Raft ticks) over IDLE_MS, then sends N linearizable
 * `bench_requests_total{pod="p-N"}` queries one at a time to nodes 1-3 in
 * turn, and subtracts the idle rate over their wall time. Minutes, not
 * the half hour of query-metrics: run it base and branch back to back, in
 * both orders (bench/README.md, query-metrics, s16 and s17). Never a CI
 * gate.
 *
 * Warm-up matters: after 100 queries V8 is still compiling the query path
 * (about 3 of 8.6 ms a query were TurboFan's in s17); after 1,000 the
 * figure is the steady state's.
 *
 * `--cpu-prof DIR` runs the nodes under `node --cpu-prof` (one profile a
 * node in DIR when they stop) and prints the idle and query windows'
 * bounds in the monotonic clock of the profiles' timestamps (µs), so
 * bench/cpuprofile-window.ts can subtract the idle window's samples from
 * the queries'. A V8 profile's samples count time a thread waited for a
 * core too; on a loaded machine `--perf DIR` is the truer one: it runs
 * the nodes with `--perf-basic-prof` and Linux `perf record` over each
 * window (DIR/idle.data, DIR/queries.data). `--idle-ms MS` sets the idle
 * window (default IDLE_MS); with a profile, make it about as long as the
 * queries take.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startOtlpdb } from './kv-otlpdb.js';
import { METRIC_NAME, MetricsBodies, planBodies } from './query-metrics-data.js';

/** SERIES and HOURS are the data written (small: the query reads one series). */
const SERIES = 200;
const HOURS = 1;
/** WARMUPS are the queries before the measurement; IDLE_MS the idle window measured before it. */
const WARMUPS = 100;
const IDLE_MS = 5_000;
/** WRITE_ATTEMPTS bound the retries of one body while the cluster elects its first leaders. */
const WRITE_ATTEMPTS = 30;

function args(argv: readonly string[]): { queries: number; warmups: number; portBase: number; cpuProfDir: string | null; perfDir: string | null; idleMs: number } {
  const out = { queries: 300, warmups: WARMUPS, portBase: 31_150, cpuProfDir: null as string | null, perfDir: null as string | null, idleMs: IDLE_MS };
  for (let i = 0; i < argv.length; i++) {
    const v = Number(argv[i + 1]);
    if (argv[i] === '--queries' && Number.isSafeInteger(v) && v >= 10) out.queries = v;
    else if (argv[i] === '--warmups' && Number.isSafeInteger(v) && v >= 0) out.warmups = v;
    else if (argv[i] === '--port-base' && Number.isSafeInteger(v) && v > 1024) out.portBase = v;
    else if (argv[i] === '--cpu-prof' && argv[i + 1] !== undefined && !String(argv[i + 1]).startsWith('--')) out.cpuProfDir = resolve(String(argv[i + 1]));
    else if (argv[i] === '--perf' && argv[i + 1] !== undefined && !String(argv[i + 1]).startsWith('--')) out.perfDir = resolve(String(argv[i + 1]));
    else if (argv[i] === '--idle-ms' && Number.isSafeInteger(v) && v >= 1_000) out.idleMs = v;
    else throw new Error(`usage: query-frames.js [--queries N>=10] [--warmups N] [--port-base P] [--cpu-prof DIR] [--perf DIR] [--idle-ms MS>=1000]; bad ${String(argv[i])}`);
    i++;
  }
  return out;
}

/** monoUs is the monotonic clock in µs, the clock of a V8 CPU profile's timestamps (both CLOCK_MONOTONIC on Linux). */
function monoUs(): number {
  return Number(process.hrtime.bigint() / 1_000n);
}

/**
 * perfRecord samples the processes' on-CPU stacks with Linux `perf record`
 * (user and kernel time alike, unlike a V8 profile, whose samples also
 * count time spent waiting for a core) until stop. Nodes run with
 * `--perf-basic-prof`, so JIT frames get names (`perf report -i FILE`).
 */
function perfRecord(pids: readonly number[], file: string): { stop: () => Promise<void> } {
  const p = spawn('perf', ['record', '-F', '997', '-g', '-o', file, '-p', pids.join(',')], { stdio: 'ignore' });
  const done = new Promise<void>((res) => p.once('exit', () => res()));
  return {
    stop: async () => {
      p.kill('SIGINT');
      await done;
    },
  };
}

/** cpuMs is the CPU time (user + system, every thread) of the processes, from /proc. */
function cpuMs(pids: readonly number[]): number {
  return sysCpuMs(pids) + userCpuMs(pids);
}

/** sysCpuMs is the kernel's share of cpuMs (syscalls: socket writes and reads, epoll, fsync). */
function sysCpuMs(pids: readonly number[]): number {
  return statTicks(pids, 12) * 10;
}

function userCpuMs(pids: readonly number[]): number {
  return statTicks(pids, 11) * 10;
}

function statTicks(pids: readonly number[], field: number): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    ticks += Number(f[field]);
  }
  return ticks;
}

async function main(): Promise<void> {
  const o = args(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-bench-qframes-'));
  const ports = { api: o.portBase, peer: o.portBase + 10, grpc: o.portBase + 20, http: o.portBase + 30 };
  const c = await startOtlpdb({
    dir: join(dir, 'cluster'), nodes: 3, apiPort: ports.api, peerPort: ports.peer,
    nodeArgs: [...(o.cpuProfDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir]), ...(o.perfDir === null ? [] : ['--perf-basic-prof'])],
    extraArgs: ['--replicas', '3', '--port-step', '1', '--otlp-grpc-port', String(ports.grpc), '--otlp-http-port', String(ports.http)],
  });
  try {
    const apis = c.file.nodes.map((n) => n.api);
    const web = c.file.nodes[0]?.otlpHttp ?? '';
    const put = await fetch(`http://${apis[0] ?? ''}/api/v1/tenants/default`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ingestBytesPerSecondMax: 2 ** 30, ingestBurstBytesMax: 2 ** 31 }) });
    if (put.status !== 200) throw new Error(`PUT tenant answered ${put.status}`);
    const t0 = Date.now() - 2 * 3_600_000;
    const shape = { series: SERIES, hours: HOURS, seed: 1, t0Ms: t0 - (t0 % 60_000) };
    const bodies = new MetricsBodies(shape, planBodies(shape, 8_000));
    for (let w = 0; w < bodies.windows; w++) {
      for (let b = 0; b < bodies.blocks; b++) {
        const body = bodies.body(w, b).bytes;
        for (let a = 0; ; a++) {
          const r = await fetch(`http://${web}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
          if (r.status === 200) break;
          if (a >= WRITE_ATTEMPTS) throw new Error(`a write answered ${r.status}`);
          await new Promise((res) => setTimeout(res, 1_000));
        }
      }
    }
    const frames = async (): Promise<number> => {
      let n = 0;
      for (const api of apis) n += Number(/^otlpdb_transport_frames_sent_total\{[^}]*\} (\d+)/m.exec(await (await fetch(`http://${api}/metrics`)).text())?.[1] ?? NaN);
      return n;
    };
    const atS = (shape.t0Ms + 30 * 60_000) / 1000;
    const query = async (i: number): Promise<void> => {
      const body = `query=${encodeURIComponent(`${METRIC_NAME}{pod="p-${i % SERIES}"}`)}&time=${atS}`;
      const r = await fetch(`http://${apis[i % 3] ?? ''}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      const doc = (await r.json()) as { status: string; data?: { result: unknown[] } };
      if (doc.status !== 'success' || doc.data?.result.length !== 1) throw new Error(`query ${i}: ${JSON.stringify(doc).slice(0, 200)}`);
    };
    for (let i = 0; i < o.warmups; i++) await query(i);
    const [idleF0, idleC0, idleS0, idle0] = [await frames(), cpuMs(c.pids), sysCpuMs(c.pids), performance.now()];
    const idleUs0 = monoUs();
    const idlePerf = o.perfDir === null ? null : perfRecord(c.pids, join(o.perfDir, 'idle.data'));
    await new Promise((res) => setTimeout(res, o.idleMs));
    const idleUs1 = monoUs();
    await idlePerf?.stop();
    const idleS = (performance.now() - idle0) / 1000;
    const idleFramesPerS = ((await frames()) - idleF0) / idleS;
    const idleCpuMsPerS = (cpuMs(c.pids) - idleC0) / idleS;
    const idleSysMsPerS = (sysCpuMs(c.pids) - idleS0) / idleS;
    const [f0, c0, s0, w0] = [await frames(), cpuMs(c.pids), sysCpuMs(c.pids), performance.now()];
    const queryUs0 = monoUs();
    const queryPerf = o.perfDir === null ? null : perfRecord(c.pids, join(o.perfDir, 'queries.data'));
    const ms: number[] = [];
    for (let i = 0; i < o.queries; i++) {
      const s = performance.now();
      await query(i);
      ms.push(performance.now() - s);
    }
    const queryUs1 = monoUs();
    await queryPerf?.stop();
    const wallS = (performance.now() - w0) / 1000;
    const [f1, c1, s1] = [await frames(), cpuMs(c.pids), sysCpuMs(c.pids)];
    ms.sort((a, b) => a - b);
    const q = (p: number): number => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? NaN;
    console.log(JSON.stringify({
      queries: o.queries,
      framesPerQuery: +((f1 - f0 - idleFramesPerS * wallS) / o.queries).toFixed(2),
      framesPerQueryRaw: +((f1 - f0) / o.queries).toFixed(2),
      cpuMsPerQuery: +((c1 - c0 - idleCpuMsPerS * wallS) / o.queries).toFixed(2),
      cpuMsPerQueryRaw: +((c1 - c0) / o.queries).toFixed(2),
      sysCpuMsPerQuery: +((s1 - s0 - idleSysMsPerS * wallS) / o.queries).toFixed(2),
      idleFramesPerS: +idleFramesPerS.toFixed(1),
      p50Ms: +q(0.5).toFixed(1),
      p99Ms: +q(0.99).toFixed(1),
      loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
      ...(o.cpuProfDir === null ? {} : { idleWindowUs: [idleUs0, idleUs1], queryWindowUs: [queryUs0, queryUs1], pids: c.pids }),
    }));
  } finally {
    await c.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
