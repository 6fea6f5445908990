/**
 * live-cluster.ts — the real cluster a jepsen run works on: started by the
 * real CLI (`otlpdb cluster up --detach --json`, one loopback address per
 * node), then owned by the run. Each node's exact command line is read back
 * from /proc when the cluster starts, so a killed node restarts on its data
 * dir with the very flags `cluster up` gave it.
 *
 * Invariants: `nodes` always holds the PID of the latest process of each
 * founding node, `joiners` each node the membership nemesis added and has
 * not removed yet (at most JepsenLimits.joinersMax); the state file (state-file.ts) and DIR/cluster.json are rewritten
 * after every kill, restart, pause and resume, so `otlpdb jepsen cleanup`
 * and `otlpdb cluster down` both find the live PIDs. A paused node is resumed
 * before it is stopped (SIGTERM is not handled while stopped).
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLUSTER_FILE, isNodeAlive, stopNodes } from '../../cli/commands/cluster.js';
import type { ClusterFile, ClusterNodeEntry } from '../../cli/commands/cluster.js';
import { OtlpdbError, assert } from '../../src/errors.js';
import { requestText } from '../../src/http-client.js';
import { JepsenLimits } from '../../src/limits.js';
import { parseHostPort } from '../../src/node-config.js';
import type { HostPort } from '../../src/node-config.js';
import { writeState } from './state-file.js';
import type { JepsenState } from './state-file.js';

/** LiveNode is one node of the cluster as the run knows it. */
export interface LiveNode {
  readonly entry: ClusterNodeEntry;
  readonly api: HostPort;
  readonly otlpHttp: HostPort;
  /** argv is the node's command line (node binary first), read from /proc when the cluster started. */
  readonly argv: readonly string[];
  pid: number;
  down: boolean;
  paused: boolean;
}

/** LiveClusterOptions say where the cluster lives and how the CLI is run. */
export interface LiveClusterOptions {
  readonly cliPath: string;
  readonly suiteDir: string;
  readonly clusterDir: string;
  readonly nodes: number;
  /** iptablesChain is recorded in the state file while the run owns the chain. */
  iptablesChain: string | null;
  /** ports are node i's ports on 127.0.0.i (default: JepsenLimits.peerPort, apiPort, otlpGrpcPort, otlpHttpPort); the planted-bug tests use their own so they can run beside a run. */
  readonly ports?: LiveClusterPorts;
  /**
   * testNodeEnv is added to the environment of every node process (at
   * `cluster up` and at each restart). Test-only: the planted-bug tests pass
   * OTLPDB_TEST_HOOKS and OTLPDB_TEST_PLANT through it (src/node.ts
   * readTestPlants); `otlpdb jepsen` has no flag that sets it.
   */
  readonly testNodeEnv?: Readonly<Record<string, string>>;
  /** portsFreeWaitMs is how long start waits for its ports to be free before ERR_CONFLICT (default JepsenLimits.portsFreeWaitMs). */
  readonly portsFreeWaitMs?: number;
}

/** LiveClusterPorts are the ports every node of a live cluster listens on, each on its own loopback address. */
export interface LiveClusterPorts {
  readonly peer: number;
  readonly api: number;
  readonly otlpGrpc: number;
  readonly otlpHttp: number;
}

/** KILL_POLL_MS is how often a kill or a restart looks whether a killed process is gone. */
const KILL_POLL_MS = 20;
/** PORTS_FREE_POLL_MS is how often start asks whether its ports are free again (JepsenLimits.portsFreeWaitMs). */
const PORTS_FREE_POLL_MS = 250;

/** suitePorts are a run's ports: the suite's (JepsenLimits) plus the run's --port-offset. */
export function suitePorts(portOffset: number): LiveClusterPorts {
  assert(Number.isInteger(portOffset) && portOffset >= 0 && portOffset <= JepsenLimits.portOffsetMax, 'a port offset within JepsenLimits.portOffsetMax');
  assert(portOffset % JepsenLimits.portOffsetStep === 0, 'a port offset is a multiple of JepsenLimits.portOffsetStep');
  return { peer: JepsenLimits.peerPort + portOffset, api: JepsenLimits.apiPort + portOffset, otlpGrpc: JepsenLimits.otlpGrpcPort + portOffset, otlpHttp: JepsenLimits.otlpHttpPort + portOffset };
}

function nodeEnv(o: LiveClusterOptions): NodeJS.ProcessEnv {
  return o.testNodeEnv === undefined ? process.env : { ...process.env, ...o.testNodeEnv };
}

function runCli(cliPath: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { timeout: JepsenLimits.cliDeadlineMs, maxBuffer: JepsenLimits.childOutputBytesMax, encoding: 'utf8', env },
      (err, stdout, stderr) => {
        if (err !== null) reject(new OtlpdbError('ERR_UNAVAILABLE', `otlpdb ${args.slice(0, 2).join(' ')} failed: ${err.message.split('\n')[0] ?? ''} ${stderr.trim()}`));
        else resolve(stdout);
      },
    );
  });
}

/** portAnswers says whether something accepts TCP connections on host:port (bounded by JepsenLimits.portProbeMs). */
function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    const done = (answered: boolean): void => {
      sock.destroy();
      resolve(answered);
    };
    sock.setTimeout(JepsenLimits.portProbeMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function readArgv(pid: number): string[] {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    throw new OtlpdbError('ERR_UNAVAILABLE', `node process ${pid} exited right after \`cluster up\` (see its log in the cluster directory)`);
  }
  const argv = raw.split('\0').filter((s, i, all) => !(s === '' && i === all.length - 1));
  assert(argv.length >= 2, 'a node command line has a binary and a script');
  return argv;
}

/** LiveCluster is the started cluster and the process-level faults on it. */
export class LiveCluster {
  readonly nodes: readonly LiveNode[];
  readonly #o: LiveClusterOptions;
  readonly #joiners: LiveNode[] = [];
  #mounts: readonly string[] = [];

  private constructor(o: LiveClusterOptions, nodes: LiveNode[]) {
    this.#o = o;
    this.nodes = nodes;
  }

  /** start runs `otlpdb cluster up --detach --json` with the suite's ports and returns once every node is ready. */
  static async start(o: LiveClusterOptions): Promise<LiveCluster> {
    if (!existsSync(o.cliPath)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${o.cliPath} is missing; run npm run build first`);
    const ports = o.ports ?? suitePorts(0);
    // cluster up judges readiness over HTTP: a node that failed to bind would look ready if another cluster answered on its address.
    const freeByMs = performance.now() + (o.portsFreeWaitMs ?? JepsenLimits.portsFreeWaitMs);
    for (let i = 1; i <= o.nodes; i++) {
      for (const port of [ports.peer, ports.api]) {
        while (await portAnswers(`127.0.0.${i}`, port)) {
          if (performance.now() >= freeByMs) {
            throw new OtlpdbError('ERR_CONFLICT', `127.0.0.${i}:${port} is already in use: another cluster runs on these ports (another otlpdb jepsen run? give each its own --port-offset)`);
          }
          await sleep(PORTS_FREE_POLL_MS);
        }
      }
    }
    const stdout = await runCli(o.cliPath, [
      'cluster', 'up', '--detach', '--json', '--dir', o.clusterDir, '--nodes', String(o.nodes), '--shards', String(JepsenLimits.shards),
      '--tick-ms', String(JepsenLimits.tickMs), '--peer-port', String(ports.peer), '--api-port', String(ports.api),
      '--otlp-grpc-port', String(ports.otlpGrpc), '--otlp-http-port', String(ports.otlpHttp),
    ], nodeEnv(o));
    const file = JSON.parse(stdout.trim().split('\n').pop() ?? '') as ClusterFile;
    assert(file.nodes.length === o.nodes, 'cluster up started every node');
    const nodes = file.nodes.map((entry): LiveNode => {
      assert(entry.otlpHttp !== null, 'every node serves OTLP/HTTP');
      return {
        entry,
        api: parseHostPort('api', entry.api, ports.api),
        otlpHttp: parseHostPort('otlpHttp', entry.otlpHttp, ports.otlpHttp),
        argv: readArgv(entry.pid),
        pid: entry.pid,
        down: false,
        paused: false,
      };
    });
    const c = new LiveCluster(o, nodes);
    await c.save();
    return c;
  }

  /** node returns node `id` (1-based): a founder, or a node that joined during the run (membership nemesis). */
  node(id: number): LiveNode {
    const n = this.nodes[id - 1] ?? this.#joiners.find((j) => j.entry.id === id);
    assert(n !== undefined && n.entry.id === id, 'node ids are 1..N in order, then the joiners');
    return n;
  }

  /** joiners are the nodes that joined during the run and have not been removed yet; the workloads do not aim at them. */
  get joiners(): readonly LiveNode[] {
    return this.#joiners;
  }

  /**
   * join starts node `id` (not a founder) on 127.0.0.id with the suite's
   * ports and `otlpdb start --join` through node `via`'s API, with the
   * founders' CLI, tick and shard count; then waits (waitReadyOrExit).
   */
  async join(id: number, via: number, giveUp: () => boolean): Promise<'ready' | 'exited' | 'waiting'> {
    assert(id > this.nodes.length && this.#joiners.every((j) => j.entry.id !== id), 'a joiner has a new id');
    assert(this.#joiners.length < JepsenLimits.joinersMax, 'a bounded number of joiners');
    const ports = this.#o.ports ?? suitePorts(0);
    const founder = this.node(1);
    const [bin, script] = founder.argv;
    assert(bin !== undefined && script !== undefined, 'a founder command line names the binary and the CLI');
    const host = `127.0.0.${id}`;
    const entry: ClusterNodeEntry = {
      id,
      pid: 0,
      peer: `${host}:${ports.peer}`,
      api: `${host}:${ports.api}`,
      otlpGrpc: `${host}:${ports.otlpGrpc}`,
      otlpHttp: `${host}:${ports.otlpHttp}`,
      dataDir: join(this.#o.clusterDir, `n${id}`),
      log: join(this.#o.clusterDir, `n${id}.log`),
    };
    const viaApi = this.node(via).entry.api;
    const argv = [
      bin, script, 'start', '--id', String(id), '--data', entry.dataDir, '--peer', entry.peer, '--api', entry.api,
      '--otlp-grpc', entry.otlpGrpc ?? '', '--otlp-http', entry.otlpHttp ?? '', '--join', viaApi,
      '--shards', String(JepsenLimits.shards), '--tick-ms', String(JepsenLimits.tickMs),
    ];
    const n: LiveNode = {
      entry,
      api: parseHostPort('api', entry.api, ports.api),
      otlpHttp: parseHostPort('otlpHttp', entry.otlpHttp ?? '', ports.otlpHttp),
      argv,
      pid: 0,
      down: true,
      paused: false,
    };
    this.#joiners.push(n);
    await this.spawn(id);
    return this.waitReadyOrExit(id, giveUp);
  }

  /**
   * leave removes joiner `id` with the real CLI (`otlpdb cluster remove
   * --dir`: its replicas move away, the meta group forgets it, its process
   * is stopped and cluster.json drops it). A joiner that could not be
   * removed is stopped anyway (SIGKILL) and reported; either way it is no
   * longer a joiner of the run.
   */
  async leave(id: number): Promise<{ ok: boolean; output: string }> {
    const n = this.node(id);
    assert(this.#joiners.includes(n), 'only a joiner leaves');
    let out: { ok: boolean; output: string };
    try {
      const stdout = await runCli(this.#o.cliPath, ['cluster', 'remove', String(id), '--dir', this.#o.clusterDir, '--json', '--timeout-ms', String(JepsenLimits.leaveTimeoutMs)], nodeEnv(this.#o));
      out = { ok: true, output: stdout.trim().split('\n').pop() ?? '' };
    } catch (err) {
      out = { ok: false, output: String(err) };
    }
    if (isNodeAlive(n.pid, n.entry.dataDir)) {
      try {
        process.kill(n.pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    n.down = true;
    this.#joiners.splice(this.#joiners.indexOf(n), 1);
    await this.save();
    return out;
  }

  /** state is the state-file document for the current PIDs. */
  state(): JepsenState {
    return {
      version: 1,
      runnerPid: process.pid,
      clusterDir: this.#o.clusterDir,
      nodes: [...this.nodes, ...this.#joiners].map((n) => ({ id: n.entry.id, pid: n.pid, dataDir: n.entry.dataDir, paused: n.paused })),
      iptablesChain: this.#o.iptablesChain,
      mounts: [...this.#mounts],
    };
  }

  /** setIptablesChain records (or clears) the chain the run owns, before it is created and after it is removed. */
  async setIptablesChain(chain: string | null): Promise<void> {
    this.#o.iptablesChain = chain;
    await this.save();
  }

  /** setMounts records the full-disk fault's mount points, before one is made and after one is removed. */
  async setMounts(mounts: readonly string[]): Promise<void> {
    this.#mounts = [...mounts];
    await this.save();
  }

  /** save rewrites the state file and DIR/cluster.json with the current PIDs. */
  async save(): Promise<void> {
    await writeState(this.#o.suiteDir, this.state());
    const doc: ClusterFile = { dir: this.#o.clusterDir, nodes: [...this.nodes, ...this.#joiners].map((n) => ({ ...n.entry, pid: n.pid })) };
    const file = join(this.#o.clusterDir, CLUSTER_FILE);
    await writeFile(`${file}.tmp`, `${JSON.stringify(doc, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }

  /** kill sends SIGKILL to node `id` and waits until the process is gone. */
  async kill(id: number): Promise<void> {
    const n = this.node(id);
    assert(!n.down, 'kill a node that is up');
    if (n.paused) await this.resume(id);
    try {
      process.kill(n.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    for (let i = 0; i < 100 && isNodeAlive(n.pid, n.entry.dataDir); i++) await sleep(KILL_POLL_MS);
    n.down = true;
    await this.save();
  }

  /** restart starts node `id` again on its data dir with its original command line and waits for /readyz, bounded, and no longer than `giveUp()` stays false. */
  async restart(id: number, giveUp: () => boolean = () => false): Promise<void> {
    await this.spawn(id);
    await this.waitReadyOrExit(id, giveUp);
  }

  /** spawn starts node `id` again on its data dir with its original command line (its output appended to its log) and returns at once. */
  async spawn(id: number): Promise<void> {
    const n = this.node(id);
    assert(n.down, 'restart a node that is down');
    // A killed process can outlive SIGKILL for a while (a write or fsync in progress), still holding its
    // ports: wait until it is gone, bounded, so the new one does not fail with EADDRINUSE for that reason.
    for (let waited = 0; waited < JepsenLimits.killGoneWaitMsMax && isNodeAlive(n.pid, n.entry.dataDir); waited += KILL_POLL_MS) await sleep(KILL_POLL_MS);
    const [bin, ...args] = n.argv;
    assert(bin !== undefined, 'a node command line names its binary');
    const fd = openSync(n.entry.log, 'a');
    let pid: number | undefined;
    try {
      const child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: true, env: nodeEnv(this.#o) });
      child.on('error', () => undefined);
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(fd);
    }
    if (pid === undefined) throw new OtlpdbError('ERR_INTERNAL', `node ${id} could not be restarted (see ${n.entry.log})`);
    n.pid = pid;
    n.down = false;
    await this.save();
  }

  /**
   * waitReadyOrExit waits until node `id` answers /readyz (`ready`), its
   * process ends (`exited`: the node is then marked down), or
   * JepsenLimits.restartReadyDeadlineMs passes or `giveUp()` turns true
   * (`waiting`).
   */
  async waitReadyOrExit(id: number, giveUp: () => boolean = () => false): Promise<'ready' | 'exited' | 'waiting'> {
    const n = this.node(id);
    const deadline = performance.now() + JepsenLimits.restartReadyDeadlineMs;
    while (performance.now() < deadline && !giveUp()) {
      if (!this.alive(id)) {
        n.down = true;
        await this.save();
        return 'exited';
      }
      if (await this.isReady(id)) return 'ready';
      await sleep(JepsenLimits.recoveryPollMs);
    }
    return 'waiting';
  }

  /**
   * alive says whether node `id`'s latest process is still running. Not
   * isNodeAlive: right after spawn the child may not have exec'd yet, so its
   * command line does not name the data dir; the run spawned this PID
   * itself, so "exists and is not a zombie" is the test.
   */
  alive(id: number): boolean {
    const n = this.node(id);
    if (n.down) return false;
    try {
      process.kill(n.pid, 0);
    } catch {
      return false;
    }
    try {
      const stat = readFileSync(`/proc/${n.pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }

  /** logBytes is the current size of node `id`'s log, so that logSince can read what a restart wrote. */
  logBytes(id: number): number {
    try {
      return statSync(this.node(id).entry.log).size;
    } catch {
      return 0;
    }
  }

  /** logSince returns node `id`'s log from byte `offset` on (at most JepsenLimits.childOutputBytesMax bytes). */
  logSince(id: number, offset: number): string {
    const fd = openSync(this.node(id).entry.log, 'r');
    try {
      const buf = Buffer.alloc(JepsenLimits.childOutputBytesMax);
      const n = readSync(fd, buf, 0, buf.length, offset);
      return buf.subarray(0, n).toString('utf8');
    } finally {
      closeSync(fd);
    }
  }

  /** pause sends SIGSTOP to node `id`. */
  async pause(id: number): Promise<void> {
    const n = this.node(id);
    assert(!n.down && !n.paused, 'pause a running node');
    process.kill(n.pid, 'SIGSTOP');
    n.paused = true;
    await this.save();
  }

  /** resume sends SIGCONT to node `id`. */
  async resume(id: number): Promise<void> {
    const n = this.node(id);
    assert(n.paused, 'resume a paused node');
    try {
      process.kill(n.pid, 'SIGCONT');
    } catch {
      // Gone: nothing to resume.
    }
    n.paused = false;
    await this.save();
  }

  /** isReady says whether node `id` answers 200 on /readyz. */
  async isReady(id: number): Promise<boolean> {
    try {
      const r = await requestText(this.node(id).api, 'GET', '/readyz', null, JepsenLimits.opTimeoutMs);
      return r.status === 200;
    } catch {
      return false;
    }
  }

  /** clusterView asks any running node for GET /api/v1/cluster; null when none answers. */
  async clusterView(): Promise<ClusterView | null> {
    for (const n of this.nodes) {
      if (n.down || n.paused) continue;
      try {
        const r = await requestText(n.api, 'GET', '/api/v1/cluster', null, JepsenLimits.opTimeoutMs, JepsenLimits.responseBytesMax);
        if (r.status === 200) return JSON.parse(r.body) as ClusterView;
      } catch {
        // Ask the next node.
      }
    }
    return null;
  }

  /** shardLeader returns the node leading `shard` as some running node sees it, or null when none is known. */
  async shardLeader(shard: number): Promise<number | null> {
    const v = await this.clusterView();
    const s = v?.shards?.find((x) => x.id === shard);
    return s === undefined || s.leader === 0 ? null : s.leader;
  }

  /** metaLeader returns the node leading the meta group as some running node sees it, or null when none is known. */
  async metaLeader(): Promise<number | null> {
    const v = await this.clusterView();
    const l = v?.meta?.leader ?? 0;
    return l === 0 ? null : l;
  }

  /** notRecovered says why the cluster has not recovered yet (a node not ready, the meta group or a shard without a leader), or null once every node is ready and, as a node sees it, every group has a leader. */
  async notRecovered(): Promise<string | null> {
    for (const n of this.nodes) {
      if (n.down || n.paused) return `node ${n.entry.id} is ${n.down ? 'down' : 'paused'}`;
      if (!(await this.isReady(n.entry.id))) return `node ${n.entry.id} does not answer 200 on /readyz`;
    }
    const v = await this.clusterView();
    if (v === null) return 'no node answers GET /api/v1/cluster';
    if ((v.meta?.leader ?? 0) === 0) return 'the meta group has no leader';
    const leaderless = (v.shards ?? []).filter((s) => s.leader === 0).map((s) => s.id);
    if ((v.shards ?? []).length === 0) return 'no shard is listed';
    return leaderless.length === 0 ? null : `shards ${leaderless.join(', ')} have no leader`;
  }

  /** stop resumes paused nodes, then stops every node (SIGTERM, SIGKILL past the deadline); returns the ids that survived. */
  async stop(): Promise<number[]> {
    for (const n of [...this.nodes, ...this.#joiners]) {
      if (n.paused) {
        try {
          process.kill(n.pid, 'SIGCONT');
        } catch {
          // Gone.
        }
        n.paused = false;
      }
    }
    const outcome = await stopNodes(
      [...this.nodes, ...this.#joiners].filter((n) => !n.down).map((n) => ({ ...n.entry, pid: n.pid })),
      JepsenLimits.stopTimeoutMs,
    );
    for (const n of [...this.nodes, ...this.#joiners]) n.down = true;
    return [...outcome].filter(([, r]) => r === 'survived').map(([id]) => id);
  }
}

/** ClusterView is the part of GET /api/v1/cluster the suite reads. */
export interface ClusterView {
  readonly meta?: { readonly leader: number };
  readonly shards?: readonly { readonly id: number; readonly leader: number }[];
}
