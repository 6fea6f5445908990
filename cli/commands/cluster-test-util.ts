/**
 * cluster-test-util.ts — a fixture for tests that drive a real local cluster
 * through the CLI (`otlpdb cluster up --detach`, `otlpdb start`, `cluster
 * down`) on 127.0.0.1 with --port-step, and the small probes they need: the
 * cluster document, the meta group's Raft indexes from /metrics, control-KV
 * reads and writes with a caller's deadline, and process liveness by PID.
 * Test-only; nothing in src or cli imports it.
 *
 * Ownership: a LocalCluster owns its temp dir and every PID it learns of
 * (from cluster.json and from the nodes it spawns itself). Its teardown,
 * registered on the tap test that created it, SIGKILLs each of those PIDs
 * that still runs that node (checked with isNodeAlive, so a reused PID is
 * never signalled) and removes the dir, whether the test passed or not.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { ClusterDocument } from '../../src/api/views.js';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseHostPort } from '../../src/node-config.js';
import type { HostPort } from '../../src/node-config.js';
import { RaftLimits } from '../../src/limits.js';
import { builtCliPath, repoRoot } from '../../src/repo-root.js';
import { isNodeAlive } from './cluster.js';
import type { ClusterFile, ClusterNodeEntry } from './cluster.js';

/** ROOT is the repository root, the working directory of every CLI run. */
export const ROOT = repoRoot();
/** CLI_RUN_TIMEOUT_MS bounds one synchronous CLI run (`cluster up` waits for readiness itself). */
export const CLI_RUN_TIMEOUT_MS = 120_000;
/** LOG_TAIL_LINES is how many last lines of each node log a failure message shows. */
export const LOG_TAIL_LINES = 40;
/** KILL_WAIT_POLLS_MAX bounds the polls teardown waits for SIGKILLed nodes to vanish. */
const KILL_WAIT_POLLS_MAX = 250;
const KILL_WAIT_POLL_MS = 20;

/** electionTimeoutMs is the base election timeout (electionTicks × tickMs) of a cluster run with `tickMs`. */
export function electionTimeoutMs(tickMs: number): number {
  return RaftLimits.electionTicks * tickMs;
}

/** CliRun is the outcome of one synchronous CLI run. */
export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** otlpdbSync runs the built CLI, as the other CLI tests do, and waits for it. */
export function otlpdbSync(args: readonly string[]): CliRun {
  const run = spawnSync(process.execPath, [builtCliPath(), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: CLI_RUN_TIMEOUT_MS,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/**
 * pidGone says whether `pid` has exited: kill(pid, 0) fails with ESRCH, or
 * /proc shows it as a zombie (a detached node's exit is reaped by whoever
 * adopted it, not by us, so a zombie is a process that already exited).
 */
export function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/**
 * pidsMentioning lists the PIDs (Linux /proc) other than this process whose
 * command line mentions `text`. Teardown uses it with a cluster's unique temp
 * dir to find nodes it never learnt the PID of (a test that timed out while
 * `cluster up` was still running).
 */
export function pidsMentioning(text: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^[0-9]+$/.test(e));
  } catch {
    return out;
  }
  for (const e of entries) {
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(text)) out.push(pid);
    } catch {
      // Gone in between.
    }
  }
  return out;
}

/** portFree says whether `port` can be listened on at `host` right now. */
export async function portFree(host: string, port: number): Promise<boolean> {
  const server = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ host, port }, () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

/** startedSince says whether `log` has a `started` event line past byte `offset` (the CLI prints it once the node serves). */
export function startedSince(log: string, offset: number): boolean {
  try {
    return readFileSync(log).subarray(offset).toString('utf8').includes('"event":"started"');
  } catch {
    return false;
  }
}

/** logTails renders the last LOG_TAIL_LINES lines of every *.log file in `dir`, for failure messages. */
export function logTails(dir: string): string {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.log')).sort();
  } catch (err) {
    return `(cannot list ${dir}: ${String(err)})`;
  }
  const parts: string[] = [];
  for (const name of names) {
    let lines: string[];
    try {
      lines = readFileSync(join(dir, name), 'utf8').trimEnd().split('\n');
    } catch (err) {
      parts.push(`--- ${name}: unreadable (${String(err)})`);
      continue;
    }
    parts.push(`--- last ${Math.min(lines.length, LOG_TAIL_LINES)} lines of ${join(dir, name)}`, ...lines.slice(-LOG_TAIL_LINES));
  }
  return parts.join('\n');
}

/** HttpOutcome is a whole HTTP response, or `null` status when the request failed or missed its deadline. */
export interface HttpOutcome {
  readonly status: number | null;
  readonly body: string;
}

/**
 * requestWithin sends one request and gives up after `deadlineMs`. It exists
 * beside node-test-util's httpRequest because a write forwarded to a dead
 * leader may hang for the node's forward deadline (longer than a test
 * wants to wait); a request that misses the deadline has an unknown outcome.
 * `headers` go with the request (a tenant, an OTLP content type).
 */
export function requestWithin(
  a: HostPort,
  path: string,
  method: string,
  body: string | undefined,
  deadlineMs: number,
  headers: Readonly<Record<string, string>> = {},
): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (o: HttpOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const req = http.request({ host: a.host, port: a.port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => settle({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => settle({ status: null, body: String(err) }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      settle({ status: null, body: `no answer within ${deadlineMs} ms` });
    }, deadlineMs);
    req.on('error', (err) => settle({ status: null, body: String(err) }));
    req.end(body);
  });
}

/** ClusterView is the body of GET /api/v1/cluster (the API's own ClusterDocument). */
export type ClusterView = ClusterDocument;

/** META_GROUP is the Raft group id of the meta group (it is not listed among the shards). */
export const META_GROUP = 0;

/** RaftIndexes are one group's commit and applied index as one node reports them. */
export interface RaftIndexes {
  readonly commit: number;
  readonly applied: number;
}

function metricSample(text: string, name: string, group: number): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!line.includes(`group="${group}"`)) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    return Number.isFinite(v) ? v : null;
  }
  return null;
}

/** StartedNode is a node process this fixture spawned itself, with its exit once known. */
export interface StartedNode {
  readonly id: number;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly log: string;
  /** logOffset is the size of `log` before this process wrote to it. */
  readonly logOffset: number;
  /** exited resolves with the exit code (null when a signal ended it) and the signal. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
}

/** ClusterSpec says how `cluster up` is run: the port slot, the tick and the shard count. */
export interface ClusterSpec {
  /** peerPort is node 1's peer port; node i uses peerPort + i - 1 (--port-step 1). */
  readonly peerPort: number;
  /** apiPort is node 1's API port; node i uses apiPort + i - 1. */
  readonly apiPort: number;
  readonly tickMs: number;
  readonly shards: number;
  readonly nodes: number;
}

/** otlpPorts are node 1's OTLP gRPC and HTTP ports of a spec: its peer and API ports plus OTLP_PORT_OFFSET (node i adds i - 1). */
export function otlpPorts(spec: ClusterSpec): { grpc: number; http: number } {
  return { grpc: spec.peerPort + OTLP_PORT_OFFSET, http: spec.apiPort + OTLP_PORT_OFFSET };
}

/** OTLP_PORT_OFFSET keeps a test cluster's OTLP ports in a range of their own, away from the fixed OTLP ports 4317/4318. */
export const OTLP_PORT_OFFSET = 1000;

/** TapLike is the part of a tap test a LocalCluster needs: a teardown that runs whether the test passed or not. */
export interface TapLike {
  teardown(fn: () => unknown): void;
}

/** LocalCluster is one `cluster up --detach` cluster in a temp dir, torn down with its test. */
export class LocalCluster {
  readonly dir: string;
  readonly spec: ClusterSpec;
  /** doc is cluster.json as `up --json` printed it. */
  readonly doc: ClusterFile;
  /** Invariant: every PID in #pids belongs to a node of this cluster (by data dir) or is already gone. */
  readonly #pids: Map<number, string>;

  private constructor(dir: string, spec: ClusterSpec, doc: ClusterFile, pids: Map<number, string>) {
    this.dir = dir;
    this.spec = spec;
    this.doc = doc;
    this.#pids = pids;
  }

  /**
   * up creates a temp dir, runs `cluster up --detach --json` in it and
   * registers the teardown before anything can throw. It throws (with the
   * log tails) when `up` does not exit 0.
   */
  static async up(t: TapLike, spec: ClusterSpec, prefix: string): Promise<LocalCluster> {
    if (!(spec.nodes >= 1 && spec.tickMs >= 1 && spec.shards >= 1)) throw new Error(`bad cluster spec ${JSON.stringify(spec)}`);
    // Fixed ports: a listener left on one (a leaked node of an earlier run) would
    // answer for our node, so refuse to start rather than test someone else's cluster.
    for (let i = 0; i < spec.nodes; i++) {
      for (const port of [spec.peerPort + i, spec.apiPort + i, otlpPorts(spec).grpc + i, otlpPorts(spec).http + i]) {
        if (!(await portFree('127.0.0.1', port))) throw new Error(`port 127.0.0.1:${port} is taken: a process from an earlier run may hold it`);
      }
    }
    const dir = await mkdtemp(join(tmpdir(), prefix));
    const pids = new Map<number, string>();
    t.teardown(() => LocalCluster.#cleanUp(dir, pids));
    const run = otlpdbSync([
      'cluster', 'up', '--detach', '--json', '--dir', dir,
      '--nodes', String(spec.nodes), '--shards', String(spec.shards), '--tick-ms', String(spec.tickMs),
      '--port-step', '1', '--peer-port', String(spec.peerPort), '--api-port', String(spec.apiPort),
      '--otlp-grpc-port', String(otlpPorts(spec).grpc), '--otlp-http-port', String(otlpPorts(spec).http),
    ]);
    // Learn the PIDs from the file even when stdout is not what we expect, so teardown can kill them.
    try {
      const onDisk = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterFile;
      for (const n of onDisk.nodes) pids.set(n.pid, n.dataDir);
    } catch {
      // No file: `up` left nothing running, or failed before writing it.
    }
    if (run.status !== 0) {
      throw new Error(`cluster up in ${dir} exited ${run.status}\nstderr: ${run.stderr}\n${logTails(dir)}`);
    }
    const doc = JSON.parse(run.stdout) as ClusterFile;
    for (const n of doc.nodes) pids.set(n.pid, n.dataDir);
    if (doc.nodes.length !== spec.nodes) throw new Error(`cluster up printed ${doc.nodes.length} nodes, want ${spec.nodes}`);
    // `up` judges readiness by the API address alone (see the report on
    // cluster-recovery.test.ts), so check that our own processes serve.
    for (const n of doc.nodes) {
      if (!isNodeAlive(n.pid, n.dataDir) || !startedSince(n.log, 0)) {
        throw new Error(`cluster up reported node ${n.id} ready, but pid ${n.pid} is not running or never printed its started line\ncluster dir ${dir}\n${logTails(dir)}`);
      }
    }
    // The instance shares the map teardown reads, so the nodes the test spawns later are killed too.
    return new LocalCluster(dir, spec, doc, pids);
  }

  static async #cleanUp(dir: string, pids: ReadonlyMap<number, string>): Promise<void> {
    const all = new Map(pids);
    for (const pid of pidsMentioning(dir)) if (!all.has(pid)) all.set(pid, dir);
    const live = [...all].filter(([pid, path]) => LocalCluster.#runs(pid, path));
    for (const [pid] of live) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    for (let i = 0; i < KILL_WAIT_POLLS_MAX && live.some(([pid, path]) => LocalCluster.#runs(pid, path)); i++) {
      await sleep(KILL_WAIT_POLL_MS);
    }
    await rm(dir, { recursive: true, force: true });
  }

  /** #runs says whether `pid` is alive and its command line mentions `path` (a data dir, or the cluster dir). */
  static #runs(pid: number, path: string): boolean {
    if (pidGone(pid)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path);
    } catch {
      return false;
    }
  }

  /** diag is the text every failure message carries: the cluster dir and the tails of its node logs. */
  diag(): string {
    return `cluster dir ${this.dir}\n${logTails(this.dir)}`;
  }

  /** explain returns `what` when `ok`, else `what` followed by diag(), so only failures pay for reading logs. */
  explain(ok: boolean, what: string): string {
    return ok ? what : `${what}\n${this.diag()}`;
  }

  /** entry is node `id`'s line of cluster.json. */
  entry(id: number): ClusterNodeEntry {
    const e = this.doc.nodes.find((n) => n.id === id);
    if (e === undefined) throw new Error(`no node ${id} in ${this.dir}/cluster.json`);
    return e;
  }

  /** ids lists the node ids in cluster.json order. */
  ids(): number[] {
    return this.doc.nodes.map((n) => n.id);
  }

  /** api is node `id`'s API address. */
  api(id: number): HostPort {
    return parseHostPort('api', this.entry(id).api, 0);
  }

  /** view fetches node `id`'s GET /api/v1/cluster, or null when it does not answer 200. */
  async view(id: number, deadlineMs = 2000): Promise<ClusterView | null> {
    const r = await requestWithin(this.api(id), '/api/v1/cluster', 'GET', undefined, deadlineMs);
    return r.status === 200 ? (JSON.parse(r.body) as ClusterView) : null;
  }

  /** metaIndexes reads the meta group's commit and applied index of node `id` from its /metrics. */
  async metaIndexes(id: number, deadlineMs = 2000): Promise<RaftIndexes | null> {
    const r = await requestWithin(this.api(id), '/metrics', 'GET', undefined, deadlineMs);
    if (r.status !== 200) return null;
    const commit = metricSample(r.body, 'otlpdb_raft_commit_index', META_GROUP);
    const applied = metricSample(r.body, 'otlpdb_raft_applied_index', META_GROUP);
    return commit === null || applied === null ? null : { commit, applied };
  }

  /** put writes one control-KV key through node `id`. */
  put(id: number, key: string, value: string, deadlineMs = 5000): Promise<HttpOutcome> {
    return requestWithin(this.api(id), `/api/v1/kv/${encodeURIComponent(key)}`, 'PUT', value, deadlineMs);
  }

  /** get reads one control-KV key through node `id`; the value is null when the answer is not 200. */
  async get(id: number, key: string, deadlineMs = 5000): Promise<{ readonly status: number | null; readonly value: string | null; readonly body: string }> {
    const r = await requestWithin(this.api(id), `/api/v1/kv/${encodeURIComponent(key)}`, 'GET', undefined, deadlineMs);
    const value = r.status === 200 ? (JSON.parse(r.body) as { value: string }).value : null;
    return { status: r.status, value, body: r.body };
  }

  /**
   * startNode runs `otlpdb start` for node `id` with the same id, data dir,
   * addresses, initial cluster, tick and shard count as `up` gave it, its
   * output appended to `logName` in the cluster dir. The PID is tracked
   * for teardown.
   */
  startNode(id: number, logName: string): StartedNode {
    const e = this.entry(id);
    const initialCluster = this.doc.nodes.map((n) => `${n.id}=${n.peer}`).join(',');
    const otlp = [...(e.otlpGrpc === null ? [] : ['--otlp-grpc', e.otlpGrpc]), ...(e.otlpHttp === null ? [] : ['--otlp-http', e.otlpHttp])];
    return this.#spawn(id, e.dataDir, logName, ['--peer', e.peer, '--api', e.api, ...otlp, '--initial-cluster', initialCluster]);
  }

  /**
   * startJoiner spawns a node that is not in cluster.json and joins the
   * cluster through the API of node `via` (`otlpdb start --join`); its data
   * dir is `n<id>` in the cluster dir. Recorded for teardown.
   */
  startJoiner(id: number, peer: HostPort, api: HostPort, via: number, logName: string): StartedNode {
    const dataDir = join(this.dir, `n${id}`);
    const viaApi = this.api(via);
    return this.#spawn(id, dataDir, logName, [
      '--peer', `${peer.host}:${peer.port}`, '--api', `${api.host}:${api.port}`, '--join', `${viaApi.host}:${viaApi.port}`,
      '--otlp-grpc', `${peer.host}:${peer.port + OTLP_PORT_OFFSET}`, '--otlp-http', `${api.host}:${api.port + OTLP_PORT_OFFSET}`,
    ]);
  }

  #spawn(id: number, dataDir: string, logName: string, addressArgs: readonly string[]): StartedNode {
    const log = join(this.dir, logName);
    const fd = openSync(log, 'a');
    const logOffset = statSync(log).size;
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [
          builtCliPath(), 'start',
          '--id', String(id), '--data', dataDir, ...addressArgs,
          '--tick-ms', String(this.spec.tickMs), '--shards', String(this.spec.shards),
        ],
        { cwd: ROOT, stdio: ['ignore', fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error(`node ${id} could not be spawned (see ${log})`);
    this.#pids.set(pid, dataDir);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    return { id, child, pid, log, logOffset, exited };
  }

  /**
   * ready polls node `id`'s /readyz until 200, at most `pollsMax` times
   * `pollMs` apart. Given the node this fixture spawned, it also waits for
   * that process's own `started` line and gives up once it has exited, so
   * an answer from another process on the same address does not count.
   */
  async ready(id: number, pollsMax: number, pollMs: number, spawned?: StartedNode): Promise<boolean> {
    for (let i = 0; i < pollsMax; i++) {
      if (spawned !== undefined && (spawned.child.exitCode !== null || spawned.child.signalCode !== null)) return false;
      const ours = spawned === undefined || startedSince(spawned.log, spawned.logOffset);
      if (ours && (await requestWithin(this.api(id), '/readyz', 'GET', undefined, 1000)).status === 200) return true;
      await sleep(pollMs);
    }
    return false;
  }
}
