/**
 * cluster.ts — `otlpdb cluster up|down|status` (DESIGN.md §8): a local
 * cluster of `otlpdb start` processes, one per node. Node i listens on
 * 127.0.0.i with the standard ports, or with --port-step all nodes share
 * 127.0.0.1 with offset ports. DIR/cluster.json records every node's PID and
 * addresses; `down` stops the nodes it lists, `status` asks one of them for
 * GET /api/v1/cluster.
 *
 * Nodes are spawned as `process.execPath` running this CLI's own entry script
 * (with the same execArgv, so `--import tsx` carries over), never through a
 * shell, so the recorded PID is the node's own.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OtlpdbError, isErrorCode } from '../../src/errors.js';
import { ClusterLimits, NodeDefaults, PartitionLimits, ReceiveWorkerLimits } from '../../src/limits.js';
import { requestText } from '../../src/http-client.js';
import type { TextResponse } from '../../src/http-client.js';
import { formatHostPort, parseHostPort, parseNodeId } from '../../src/node-config.js';
import type { HostPort } from '../../src/node-config.js';
import { parseIntegerFlag, parseLogTermIndex } from '../flags.js';


/** CLUSTER_FILE is the name of the pid file inside the cluster directory. */
export const CLUSTER_FILE = 'cluster.json';

/** ClusterNodeEntry is one node of DIR/cluster.json (addresses as host:port). */
export interface ClusterNodeEntry {
  readonly id: number;
  readonly pid: number;
  readonly peer: string;
  readonly api: string;
  /** otlpGrpc and otlpHttp are the node's OTLP receivers (null in files written before nodes served OTLP). */
  readonly otlpGrpc: string | null;
  readonly otlpHttp: string | null;
  readonly dataDir: string;
  readonly log: string;
}

/** ClusterFile is the document of DIR/cluster.json, also what `up --json` prints. */
export interface ClusterFile {
  readonly dir: string;
  readonly nodes: readonly ClusterNodeEntry[];
}

/** ClusterIo is where the cluster commands write and how `up` learns to stop; injected for tests. */
export interface ClusterIo {
  out(line: string): void;
  err(line: string): void;
  untilSignal(): Promise<string>;
}

/** ClusterUpOptions are the raw flag values of `otlpdb cluster up`. */
export interface ClusterUpOptions {
  readonly nodes?: string;
  readonly shards?: string;
  readonly replicas?: string;
  readonly dir?: string;
  readonly detach?: boolean;
  readonly json?: boolean;
  readonly portStep?: string;
  readonly peerPort?: string;
  readonly apiPort?: string;
  readonly otlpGrpcPort?: string;
  readonly otlpHttpPort?: string;
  readonly tickMs?: string;
  readonly receiveWorkers?: string;
  readonly logTermIndex?: string;
}

/** ClusterDownOptions are the raw flag values of `otlpdb cluster down`. */
export interface ClusterDownOptions {
  readonly dir?: string;
  readonly timeoutMs?: string;
  readonly json?: boolean;
}

/** ClusterStatusOptions are the raw flag values of `otlpdb cluster status`. */
export interface ClusterStatusOptions {
  readonly api?: string;
  readonly dir?: string;
  readonly json?: boolean;
}

/** PlannedNode is where one node of `up` will listen. */
export interface PlannedNode {
  readonly id: number;
  readonly peer: HostPort;
  readonly api: HostPort;
  readonly otlpGrpc: HostPort;
  readonly otlpHttp: HostPort;
}

/** ClusterUpPlan is a checked `cluster up` command line. */
export interface ClusterUpPlan {
  readonly dir: string;
  readonly nodes: readonly PlannedNode[];
  readonly shards: number | undefined;
  readonly replicas: number | undefined;
  readonly tickMs: number | undefined;
  /** receiveWorkers is passed to every node's `--receive-workers` when set. */
  readonly receiveWorkers: number | undefined;
  /** logTermIndex is passed to every node's `--log-term-index` when set. */
  readonly logTermIndex?: boolean;
  readonly detach: boolean;
  readonly json: boolean;
}

function invalid(message: string, details: Record<string, unknown> = {}): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', message, details);
}

function parseDir(raw: string | undefined): string {
  if (raw === undefined) return resolve(ClusterLimits.dirDefault);
  if (raw === '') throw invalid('--dir must not be empty', { flag: '--dir' });
  return resolve(raw);
}

/** parseClusterUpOptions checks every flag of `cluster up` and returns where each node will listen. */
export function parseClusterUpOptions(o: ClusterUpOptions): ClusterUpPlan {
  const count = o.nodes === undefined ? ClusterLimits.nodesDefault : parseIntegerFlag('--nodes', o.nodes, 1, ClusterLimits.nodesMax);
  const shards = o.shards === undefined ? undefined : parseIntegerFlag('--shards', o.shards, 1, NodeDefaults.shardCountMax);
  const replicas = o.replicas === undefined ? undefined : parseIntegerFlag('--replicas', o.replicas, 1, PartitionLimits.replicationFactorMax);
  const tickMs =
    o.tickMs === undefined ? undefined : parseIntegerFlag('--tick-ms', o.tickMs, NodeDefaults.tickMsMin, NodeDefaults.tickMsMax);
  const receiveWorkers =
    o.receiveWorkers === undefined ? undefined : parseIntegerFlag('--receive-workers', o.receiveWorkers, 0, ReceiveWorkerLimits.workersMax);
  const step = o.portStep === undefined ? undefined : parseIntegerFlag('--port-step', o.portStep, 1, ClusterLimits.portStepMax);
  const peerBase = o.peerPort === undefined ? NodeDefaults.peerPort : parseIntegerFlag('--peer-port', o.peerPort, 1, ClusterLimits.portMax);
  const apiBase = o.apiPort === undefined ? NodeDefaults.apiPort : parseIntegerFlag('--api-port', o.apiPort, 1, ClusterLimits.portMax);
  const grpcBase = o.otlpGrpcPort === undefined ? NodeDefaults.otlpGrpcPort : parseIntegerFlag('--otlp-grpc-port', o.otlpGrpcPort, 1, ClusterLimits.portMax);
  const httpBase = o.otlpHttpPort === undefined ? NodeDefaults.otlpHttpPort : parseIntegerFlag('--otlp-http-port', o.otlpHttpPort, 1, ClusterLimits.portMax);
  const nodes: PlannedNode[] = [];
  for (let id = 1; id <= count; id++) {
    const host = step === undefined ? `127.0.0.${id}` : '127.0.0.1';
    const offset = step === undefined ? 0 : step * (id - 1);
    const peer = { host, port: peerBase + offset };
    const api = { host, port: apiBase + offset };
    const otlpGrpc = { host, port: grpcBase + offset };
    const otlpHttp = { host, port: httpBase + offset };
    for (const [flag, a] of [['--peer-port', peer], ['--api-port', api], ['--otlp-grpc-port', otlpGrpc], ['--otlp-http-port', otlpHttp]] as const) {
      if (a.port > ClusterLimits.portMax) {
        throw invalid(`${flag} plus --port-step puts node ${id} on port ${a.port}, past ${ClusterLimits.portMax}`, { flag });
      }
    }
    nodes.push({ id, peer, api, otlpGrpc, otlpHttp });
  }
  const seen = new Set<string>();
  for (const n of nodes) {
    for (const a of [n.peer, n.api, n.otlpGrpc, n.otlpHttp]) {
      const key = formatHostPort(a);
      if (seen.has(key)) throw invalid(`two listeners would share ${key}; change --peer-port, --api-port, --otlp-grpc-port, --otlp-http-port or --port-step`, { flag: '--port-step' });
      seen.add(key);
    }
  }
  const logTermIndex = parseLogTermIndex(o.logTermIndex);
  return { dir: parseDir(o.dir), nodes, shards, replicas, tickMs, receiveWorkers, ...(logTermIndex === undefined ? {} : { logTermIndex }), detach: o.detach === true, json: o.json === true };
}

// ---------------------------------------------------------------------------
// cluster.json

function clusterFilePath(dir: string): string {
  return join(dir, CLUSTER_FILE);
}

function isEntry(v: unknown): v is ClusterNodeEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  const addrOrNull = (x: unknown): boolean => x === null || typeof x === 'string';
  return (
    Number.isSafeInteger(e.id) &&
    Number.isSafeInteger(e.pid) &&
    (e.pid as number) > 0 &&
    typeof e.peer === 'string' &&
    typeof e.api === 'string' &&
    addrOrNull(e.otlpGrpc) &&
    addrOrNull(e.otlpHttp) &&
    typeof e.dataDir === 'string' &&
    typeof e.log === 'string'
  );
}

/** readClusterFile reads DIR/cluster.json; a missing or malformed file is ERR_INVALID_ARGUMENT naming the file. */
export async function readClusterFile(dir: string): Promise<ClusterFile> {
  const file = clusterFilePath(dir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw invalid(`no cluster in ${dir}: ${file} does not exist (start one with \`otlpdb cluster up --dir ${dir}\`)`, { file });
    }
    throw err;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalid(`${file} is not valid JSON; remove it after checking no node of that cluster still runs`, { file });
  }
  const d = doc as Record<string, unknown>;
  if (typeof d !== 'object' || d === null || typeof d.dir !== 'string' || !Array.isArray(d.nodes) || !d.nodes.every(isEntry)) {
    throw invalid(`${file} is not an otlpdb cluster file; remove it after checking no node of that cluster still runs`, { file });
  }
  return { dir: d.dir, nodes: d.nodes as ClusterNodeEntry[] };
}

async function writeClusterFile(dir: string, doc: ClusterFile): Promise<void> {
  const file = clusterFilePath(dir);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`);
  await rename(tmp, file);
}

// ---------------------------------------------------------------------------
// processes

/**
 * isNodeAlive says whether `pid` is still the node process recorded for
 * `dataDir`. On Linux a zombie counts as gone, and a PID whose command line
 * does not name the data dir was reused by another process and counts as
 * gone too (so `down` never signals a stranger).
 */
export function isNodeAlive(pid: number, dataDir: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let stat: string;
  let cmdline: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    // No /proc (not Linux), or the process vanished in between: trust kill(0) when /proc is absent.
    try {
      readFileSync('/proc/self/stat');
      return false;
    } catch {
      return true;
    }
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X') return false;
  return cmdline.split('\0').includes(dataDir);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** StopOutcome is what happened to one node on the way down. */
export type StopOutcome = 'not-running' | 'stopped' | 'killed' | 'survived';

/**
 * stopNodes sends SIGTERM to every live node, waits up to `timeoutMs` for
 * them to exit, then SIGKILLs what is left (and waits a little for that too).
 */
export async function stopNodes(nodes: readonly ClusterNodeEntry[], timeoutMs: number): Promise<Map<number, StopOutcome>> {
  const outcome = new Map<number, StopOutcome>();
  const live = nodes.filter((n) => isNodeAlive(n.pid, n.dataDir));
  for (const n of nodes) if (!live.includes(n)) outcome.set(n.id, 'not-running');
  for (const n of live) signal(n.pid, 'SIGTERM');
  const waitGone = async (pending: ClusterNodeEntry[], ms: number, done: StopOutcome): Promise<ClusterNodeEntry[]> => {
    const polls = Math.max(1, Math.ceil(ms / ClusterLimits.stopPollMs));
    for (let i = 0; i <= polls && pending.length > 0; i++) {
      pending = pending.filter((n) => {
        if (isNodeAlive(n.pid, n.dataDir)) return true;
        outcome.set(n.id, done);
        return false;
      });
      if (pending.length > 0 && i < polls) await sleep(ClusterLimits.stopPollMs);
    }
    return pending;
  };
  const left = await waitGone(live, timeoutMs, 'stopped');
  for (const n of left) signal(n.pid, 'SIGKILL');
  const stuck = await waitGone(left, ClusterLimits.stopTimeoutMsDefault, 'killed');
  for (const n of stuck) outcome.set(n.id, 'survived');
  return outcome;
}

// ---------------------------------------------------------------------------
// HTTP

function httpGet(a: HostPort, path: string): Promise<TextResponse> {
  return httpCall(a, 'GET', path);
}

function httpCall(a: HostPort, method: string, path: string): Promise<TextResponse> {
  return requestText(a, method, path, null, ClusterLimits.httpTimeoutMs, ClusterLimits.httpBodyBytesMax);
}

/** isReady says whether node `id` answers 200 on /readyz at `api` (the X-Otlpdb-Node header tells a stranger on the port apart). */
async function isReady(api: HostPort, id: number): Promise<boolean> {
  try {
    const r = await httpGet(api, '/readyz');
    return r.status === 200 && r.node === String(id);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// up

function liveNodes(doc: ClusterFile): ClusterNodeEntry[] {
  return doc.nodes.filter((n) => isNodeAlive(n.pid, n.dataDir));
}

function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

/** DEMO_TRACE_ID is the trace id of the span the printed curl command sends. */
export const DEMO_TRACE_ID = '5b8efff798038103d269b633813fc60c';

/** demoSpanJson is an OTLP/JSON export request of one span that ended just now (so it is inside the accepted time window). */
export function demoSpanJson(nowMs: number): string {
  const end = BigInt(nowMs) * 1_000_000n;
  const start = end - 25_000_000n;
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'demo' } }] },
        scopeSpans: [{ spans: [{ traceId: DEMO_TRACE_ID, spanId: 'eee19b7ec3c1b174', name: 'hello', kind: 2, startTimeUnixNano: String(start), endTimeUnixNano: String(end) }] }],
      },
    ],
  });
}

/** tryItLines tells a new user what the running cluster answers, with commands to paste. */
function tryItLines(entries: readonly ClusterNodeEntry[], dir: string): string[] {
  const a = entries[0]?.api ?? `127.0.0.1:${NodeDefaults.apiPort}`;
  const b = entries[entries.length - 1]?.api ?? a;
  const otlpHttp = entries[0]?.otlpHttp ?? `127.0.0.1:${NodeDefaults.otlpHttpPort}`;
  const otlpGrpc = entries[0]?.otlpGrpc ?? `127.0.0.1:${NodeDefaults.otlpGrpcPort}`;
  return [
    '',
    'Send telemetry (any node accepts it; an answer means a majority of the shard replicas fsynced it):',
    `  OTEL_EXPORTER_OTLP_ENDPOINT=http://${otlpHttp}   # OpenTelemetry SDKs over OTLP/HTTP (or http://${otlpGrpc} with the gRPC exporters)`,
    `  curl -H 'Content-Type: application/json' http://${otlpHttp}/v1/traces -d '${demoSpanJson(Date.now())}'`,
    `  curl http://${b}/api/traces/${DEMO_TRACE_ID}   # read it back (Tempo's trace by id) through another node`,
    `  npx otlpdb trace ${DEMO_TRACE_ID} --target http://${b}   # the same trace drawn as a waterfall`,
    `  curl -X POST http://${a}/api/v1/admin/flush; curl http://${a}/api/v1/stats   # flush every head to blocks, then count what is stored`,
    '',
    'Look around (in another terminal):',
    `  npx otlpdb cluster status --dir ${dir}          # members, the meta leader, every shard's leader and replicas`,
    `  curl -X PUT --data-binary hello http://${a}/api/v1/kv/greeting   # a control-KV write, committed by a majority`,
    `  curl http://${b}/api/v1/kv/greeting                        # a linearizable read through another node`,
    `  curl http://${a}/metrics                                   # Prometheus metrics of node 1`,
    `  kill -9 <a PID above>   then   npx otlpdb cluster status --dir ${dir}   # the survivors elect new leaders`,
    '',
    'Find traces (Tempo\'s API, so Grafana\'s Tempo data source works against any node):',
    `  npx otlpdb query traces '{ status = error }' --since 1h --target http://${a}   # TraceQL, one line per trace`,
    `  curl 'http://${a}/api/search?tags=service.name%3Dcart&minDuration=10ms'   # Tempo's tag search`,
    '',
    'Query metrics and logs (Prometheus\'s and Loki\'s APIs on the same port, so Grafana\'s data sources and promtool work):',
    `  curl http://${a}/api/v1/label/__name__/values   # your metric names, as Prometheus translates OTLP (http.server.requests, a monotonic sum: http_server_requests_total)`,
    `  npx otlpdb query metrics 'sum by (job) (rate(http_server_requests_total[5m]))' --range 1h --target http://${a}   # PromQL, a sparkline per series`,
    `  npx otlpdb query logs '{service_name="cart"} |= "error"' --since 1h --target http://${a}   # LogQL, matches highlighted`,
    `  curl -G http://${a}/loki/api/v1/query_range --data-urlencode 'query={service_name="cart"}'   # Loki's range query`,
    '',
  ];
}

/** runClusterUp starts the cluster, waits until every node is ready, and either returns (--detach) or runs until a signal. */
export async function runClusterUp(o: ClusterUpOptions, io: ClusterIo): Promise<number> {
  const plan = parseClusterUpOptions(o);
  // Listen for Ctrl-C/SIGTERM from the start, so a signal during startup still stops the nodes spawned so far.
  let signalled: string | undefined;
  const stopSignal = io.untilSignal().then((s) => (signalled = s));
  await mkdir(plan.dir, { recursive: true });
  let previous: ClusterFile | undefined;
  try {
    previous = await readClusterFile(plan.dir);
  } catch (err) {
    const missing = err instanceof OtlpdbError && /does not exist/.test(err.message);
    if (!missing) throw err;
  }
  if (previous !== undefined) {
    const live = liveNodes(previous);
    if (live.length > 0) {
      throw invalid(
        `a cluster already runs in ${plan.dir} (live PIDs ${live.map((n) => n.pid).join(', ')}); stop it with \`otlpdb cluster down --dir ${plan.dir}\``,
        { flag: '--dir', pids: live.map((n) => n.pid) },
      );
    }
    // A stale file whose PIDs are all dead is replaced below.
  }

  const initialCluster = plan.nodes.map((n) => `${n.id}=${formatHostPort(n.peer)}`).join(',');
  const entry = process.argv[1];
  if (entry === undefined) throw new OtlpdbError('ERR_INTERNAL', 'cannot tell which script runs this CLI (process.argv[1] is missing)');
  const entries: ClusterNodeEntry[] = [];
  const exited = new Map<number, string>();
  const stopStarted = (): Promise<Map<number, StopOutcome>> => stopNodes(entries, ClusterLimits.stopTimeoutMsDefault);
  try {
    for (const n of plan.nodes) {
      const dataDir = join(plan.dir, `n${n.id}`);
      const log = join(plan.dir, `n${n.id}.log`);
      await mkdir(dataDir, { recursive: true });
      const args = [
        ...process.execArgv,
        entry,
        'start',
        '--id',
        String(n.id),
        '--data',
        dataDir,
        '--peer',
        formatHostPort(n.peer),
        '--api',
        formatHostPort(n.api),
        '--otlp-grpc',
        formatHostPort(n.otlpGrpc),
        '--otlp-http',
        formatHostPort(n.otlpHttp),
        '--initial-cluster',
        initialCluster,
      ];
      if (plan.shards !== undefined) args.push('--shards', String(plan.shards));
      if (plan.replicas !== undefined) args.push('--replicas', String(plan.replicas));
      if (plan.tickMs !== undefined) args.push('--tick-ms', String(plan.tickMs));
      if (plan.receiveWorkers !== undefined) args.push('--receive-workers', String(plan.receiveWorkers));
      if (plan.logTermIndex !== undefined) args.push('--log-term-index', plan.logTermIndex ? 'on' : 'off');
      const fd = openSync(log, 'a');
      let child;
      try {
        // detached: its own process group, so a terminal's Ctrl-C reaches only
        // this command, which then stops the nodes in order.
        child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], detached: true });
      } finally {
        closeSync(fd);
      }
      const pid = child.pid;
      if (pid === undefined) {
        throw new OtlpdbError('ERR_INTERNAL', `node ${n.id} could not be spawned (see ${log})`, { node: n.id });
      }
      child.once('exit', (code, sig) => exited.set(n.id, sig === null ? `exit code ${code}` : `signal ${sig}`));
      child.on('error', (err) => exited.set(n.id, String(err)));
      if (plan.detach) child.unref();
      entries.push({ id: n.id, pid, peer: formatHostPort(n.peer), api: formatHostPort(n.api), otlpGrpc: formatHostPort(n.otlpGrpc), otlpHttp: formatHostPort(n.otlpHttp), dataDir, log });
    }
    const doc: ClusterFile = { dir: plan.dir, nodes: entries };
    await writeClusterFile(plan.dir, doc);

    const pending = new Set(plan.nodes.map((n) => n.id));
    const polls = Math.ceil(ClusterLimits.readyDeadlineMs / ClusterLimits.readyPollMs);
    for (let i = 0; i < polls && pending.size > 0; i++) {
      for (const n of plan.nodes) {
        if (pending.has(n.id) && !exited.has(n.id) && (await isReady(n.api, n.id))) pending.delete(n.id);
      }
      if ([...pending].some((id) => exited.has(id)) || signalled !== undefined) break;
      if (pending.size > 0) await sleep(ClusterLimits.readyPollMs);
    }
    if (signalled !== undefined) {
      io.err(`otlpdb: cluster up interrupted by ${signalled}; stopping the nodes started`);
      await stopStarted();
      await rm(clusterFilePath(plan.dir), { force: true });
      return 1;
    }
    if (pending.size > 0) {
      const why = [...pending].map((id) => {
        const e = entries.find((x) => x.id === id);
        const reason = exited.get(id);
        return `node ${id} ${reason === undefined ? `not ready after ${ClusterLimits.readyDeadlineMs} ms` : `exited (${reason})`} (log: ${e?.log})`;
      });
      io.err(`otlpdb: cluster up failed: ${why.join('; ')}; stopping the nodes started`);
      await stopStarted();
      await rm(clusterFilePath(plan.dir), { force: true });
      return 1;
    }

    if (plan.json) {
      io.out(JSON.stringify(doc));
    } else {
      io.out(`cluster of ${entries.length} node(s) ready in ${plan.dir}`);
      for (const l of renderTable(
        ['ID', 'PID', 'PEER', 'API', 'OTLP-GRPC', 'OTLP-HTTP', 'DATA', 'LOG'],
        entries.map((e) => [String(e.id), String(e.pid), e.peer, e.api, e.otlpGrpc ?? '-', e.otlpHttp ?? '-', e.dataDir, e.log]),
      )) {
        io.out(l);
      }
      for (const l of tryItLines(entries, plan.dir)) io.out(l);
      io.out(plan.detach ? `stop it with: npx otlpdb cluster down --dir ${plan.dir}` : 'press Ctrl-C to stop every node');
    }
    if (plan.detach) return 0;

    const sig = await stopSignal;
    if (!plan.json) io.out(`${sig}: stopping ${entries.length} node(s)`);
    const outcome = await stopStarted();
    await rm(clusterFilePath(plan.dir), { force: true });
    const survived = [...outcome].filter(([, r]) => r === 'survived').map(([id]) => id);
    if (plan.json) io.out(JSON.stringify({ dir: plan.dir, stopped: Object.fromEntries(outcome) }));
    else io.out(`stopped: ${[...outcome].map(([id, r]) => `node ${id} ${r}`).join(', ')}`);
    return survived.length === 0 ? 0 : 1;
  } catch (err) {
    await stopStarted();
    await rm(clusterFilePath(plan.dir), { force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------
// down

/** runClusterDown stops every live node listed in DIR/cluster.json and removes the file. */
export async function runClusterDown(o: ClusterDownOptions, io: Pick<ClusterIo, 'out' | 'err'>): Promise<number> {
  const dir = parseDir(o.dir);
  const timeoutMs =
    o.timeoutMs === undefined
      ? ClusterLimits.stopTimeoutMsDefault
      : parseIntegerFlag('--timeout-ms', o.timeoutMs, 0, ClusterLimits.stopTimeoutMsMax);
  const doc = await readClusterFile(dir);
  const outcome = await stopNodes(doc.nodes, timeoutMs);
  const survived = [...outcome].filter(([, r]) => r === 'survived').map(([id]) => id);
  if (survived.length === 0) await rm(clusterFilePath(dir), { force: true });
  if (o.json === true) {
    io.out(
      JSON.stringify({
        dir,
        removed: survived.length === 0,
        nodes: doc.nodes.map((n) => ({ id: n.id, pid: n.pid, outcome: outcome.get(n.id) })),
      }),
    );
  } else {
    for (const n of doc.nodes) io.out(`node ${n.id} (pid ${n.pid}): ${outcome.get(n.id)}`);
    io.out(survived.length === 0 ? `removed ${clusterFilePath(dir)}` : `kept ${clusterFilePath(dir)}: nodes ${survived.join(', ')} survived SIGKILL`);
  }
  return survived.length === 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------
// status

interface ClusterDoc {
  nodes?: { id: number; address: string; state: string; member?: string }[];
  meta?: { leader: number; term: number };
  shards?: {
    id: number;
    leader: number;
    replicas: number[];
    term: number;
    commitIndex: number;
    appliedIndex: number;
    move?: { adding: number[]; removing: number[] } | null;
  }[];
  movesInProgress?: number;
}

/** renderMove shows a replica move as `+4 -1` (nodes being added, removed), or `-` when there is none. */
export function renderMove(move: { adding: readonly number[]; removing: readonly number[] } | null | undefined): string {
  if (move === null || move === undefined) return '-';
  return [...move.adding.map((n) => `+${n}`), ...move.removing.map((n) => `-${n}`)].join(' ');
}

/** resolveApi picks the node to ask: --api, else the first live node of DIR/cluster.json. */
async function resolveApi(o: { readonly api?: string; readonly dir?: string }): Promise<HostPort> {
  if (o.api !== undefined && o.dir !== undefined) throw invalid('give --api or --dir, not both', { flag: '--api' });
  if (o.api !== undefined) return parseHostPort('--api', o.api, NodeDefaults.apiPort);
  const dir = parseDir(o.dir);
  const first = liveNodes(await readClusterFile(dir))[0];
  if (first === undefined) {
    throw invalid(`no node listed in ${clusterFilePath(dir)} is running; start the cluster with \`otlpdb cluster up --dir ${dir}\``, {
      flag: '--dir',
    });
  }
  return parseHostPort('--api', first.api, NodeDefaults.apiPort);
}

/** runClusterStatus prints GET /api/v1/cluster of --api, or of the first live node of DIR/cluster.json. */
export async function runClusterStatus(o: ClusterStatusOptions, io: Pick<ClusterIo, 'out' | 'err'>): Promise<number> {
  const api = await resolveApi(o);
  let res: { status: number; body: string };
  try {
    res = await httpGet(api, '/api/v1/cluster');
  } catch (err) {
    throw new OtlpdbError('ERR_UNAVAILABLE', `cannot reach ${formatHostPort(api)}: ${String(err)}`, { api: formatHostPort(api) });
  }
  if (res.status !== 200) {
    throw new OtlpdbError('ERR_UNAVAILABLE', `${formatHostPort(api)}/api/v1/cluster answered ${res.status}: ${res.body.slice(0, 200)}`);
  }
  if (o.json === true) {
    io.out(res.body.trimEnd());
    return 0;
  }
  const doc = JSON.parse(res.body) as ClusterDoc;
  const none = (leader: number): string => (leader === 0 ? '-' : String(leader));
  io.out(`asked ${formatHostPort(api)}`);
  io.out('');
  for (const l of renderTable(
    ['NODE', 'ADDRESS', 'LINK', 'MEMBER'],
    (doc.nodes ?? []).map((n) => [String(n.id), n.address, n.state, n.member ?? '-']),
  )) {
    io.out(l);
  }
  io.out('');
  io.out(`meta leader ${none(doc.meta?.leader ?? 0)}, term ${doc.meta?.term ?? 0}`);
  io.out('');
  for (const l of renderTable(
    ['SHARD', 'LEADER', 'TERM', 'COMMIT', 'APPLIED', 'REPLICAS', 'MOVE'],
    (doc.shards ?? []).map((s) => [
      String(s.id),
      none(s.leader),
      String(s.term),
      String(s.commitIndex),
      String(s.appliedIndex),
      s.replicas.join(','),
      renderMove(s.move),
    ]),
  )) {
    io.out(l);
  }
  const moves = doc.movesInProgress ?? 0;
  io.out('');
  io.out(moves === 0 ? 'no replica moves in progress' : `${moves} shard(s) moving replicas (MOVE: +node being added, -node being removed)`);
  return 0;
}

// ---------------------------------------------------------------------------
// remove

/** ClusterRemoveOptions are the raw flag values of `otlpdb cluster remove <id>`. */
export interface ClusterRemoveOptions {
  readonly api?: string;
  readonly dir?: string;
  readonly json?: boolean;
  readonly timeoutMs?: string;
}

/**
 * runClusterRemove asks a member to remove node `idRaw` (DELETE
 * /api/v1/cluster/nodes/{id}: the node is marked leaving, its shard replicas
 * move to the other nodes, then the meta group forgets it), waits until the
 * cluster no longer lists it, and, when the node is listed in
 * DIR/cluster.json, stops its process and drops it from the file.
 */
export async function runClusterRemove(idRaw: string, o: ClusterRemoveOptions, io: Pick<ClusterIo, 'out' | 'err'>): Promise<number> {
  const id = parseNodeId('<id>', idRaw);
  const timeoutMs =
    o.timeoutMs === undefined ? ClusterLimits.removeTimeoutMsDefault : parseIntegerFlag('--timeout-ms', o.timeoutMs, 0, ClusterLimits.stopTimeoutMsMax);
  let api = await resolveApi(o);
  const doc = o.api === undefined ? await readClusterFile(parseDir(o.dir)) : null;
  if (doc !== null) {
    // Ask a node other than the one leaving, so the wait below keeps an answer.
    const other = liveNodes(doc).find((n) => n.id !== id);
    if (other !== undefined) api = parseHostPort('--api', other.api, NodeDefaults.apiPort);
  }
  const t0 = performance.now();
  let res: { status: number; body: string };
  try {
    res = await httpCall(api, 'DELETE', `/api/v1/cluster/nodes/${id}`);
  } catch (err) {
    throw new OtlpdbError('ERR_UNAVAILABLE', `cannot reach ${formatHostPort(api)}: ${String(err)}`, { api: formatHostPort(api) });
  }
  if (res.status !== 200) {
    let code = 'ERR_UNAVAILABLE';
    let message = res.body.slice(0, 300);
    try {
      const e = (JSON.parse(res.body) as { error?: { code?: string; message?: string } }).error;
      code = e?.code ?? code;
      message = e?.message ?? message;
    } catch {
      // Not JSON: keep the raw text.
    }
    throw new OtlpdbError(isErrorCode(code) ? code : 'ERR_UNAVAILABLE', `removing node ${id}: ${message}`, { id });
  }
  if (o.json !== true) io.out(`node ${id} is leaving; its shard replicas move to the other nodes`);
  const polls = Math.max(1, Math.ceil(timeoutMs / ClusterLimits.removePollMs));
  let gone = false;
  let lastReplicas = -1;
  for (let i = 0; i < polls && !gone; i++) {
    await sleep(ClusterLimits.removePollMs);
    try {
      const r = await httpGet(api, '/api/v1/cluster');
      if (r.status !== 200) continue;
      const c = JSON.parse(r.body) as ClusterDoc;
      gone = !(c.nodes ?? []).some((n) => n.id === id);
      const replicas = (c.shards ?? []).filter((s) => s.replicas.includes(id)).length;
      if (!gone && replicas !== lastReplicas && o.json !== true) io.out(`node ${id}: ${replicas} shard replica(s) still to move`);
      lastReplicas = replicas;
    } catch {
      // A transient failure: poll again.
    }
  }
  const ms = Math.round(performance.now() - t0);
  if (!gone) {
    io.err(`otlpdb: node ${id} is still listed after ${timeoutMs} ms; the cluster keeps moving it out (see \`otlpdb cluster status\`)`);
    if (o.json === true) io.out(JSON.stringify({ id, removed: false, ms }));
    return 1;
  }
  let stopped: StopOutcome | null = null;
  if (doc !== null) {
    const entry = doc.nodes.find((n) => n.id === id);
    if (entry !== undefined) {
      stopped = (await stopNodes([entry], ClusterLimits.stopTimeoutMsDefault)).get(id) ?? null;
      await writeClusterFile(doc.dir, { dir: doc.dir, nodes: doc.nodes.filter((n) => n.id !== id) });
    }
  }
  if (o.json === true) io.out(JSON.stringify({ id, removed: true, ms, process: stopped }));
  else io.out(`node ${id} removed in ${ms} ms${stopped === null ? '' : `; its process: ${stopped}`}`);
  return 0;
}
