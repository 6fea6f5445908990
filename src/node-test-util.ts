/**
 * node-test-util.ts — helpers for tests that run real nodes: free ports on
 * per-node loopback addresses, a small HTTP client, bounded polling, and a
 * Prometheus text line check. Test-only; nothing in src imports it.
 */
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostPort } from './node-config.js';
import { OtlpdbNode, TEST_HOOKS_ENV, TEST_HOOKS_TOKEN, TEST_PLANT_ENV } from './node.js';
import type { OtlpdbNodeOptions } from './node.js';

/** freePort asks the OS for a port free on `host` right now (listen on 0, close). */
export async function freePort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => resolve());
  });
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (port === 0) throw new Error(`no free port on ${host}`);
  return port;
}

/** ClusterAddresses are the peer and API addresses of node i (1-based) on 127.0.0.i. */
export interface ClusterAddresses {
  readonly peers: Map<number, HostPort>;
  readonly apis: Map<number, HostPort>;
}

/** clusterAddresses picks free peer and API ports for nodes 1..n on 127.0.0.1..127.0.0.n. */
export async function clusterAddresses(n: number): Promise<ClusterAddresses> {
  const peers = new Map<number, HostPort>();
  const apis = new Map<number, HostPort>();
  for (let i = 1; i <= n; i++) {
    const host = `127.0.0.${i}`;
    peers.set(i, { host, port: await freePort(host) });
    let api = await freePort(host);
    while (api === peers.get(i)?.port) api = await freePort(host);
    apis.set(i, { host, port: api });
  }
  return { peers, apis };
}

/** initialClusterFlag renders peers as an --initial-cluster value. */
export function initialClusterFlag(peers: ReadonlyMap<number, HostPort>): string {
  return [...peers].map(([id, a]) => `${id}=${a.host}:${a.port}`).join(',');
}

/** HttpResult is a whole HTTP response. */
export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** httpRequest sends one request; errors after a response arrived (a server closing on a big upload) are ignored. */
export function httpRequest(
  a: HostPort,
  path: string,
  method = 'GET',
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ host: a.host, port: a.port, path, method, headers, agent: false, timeout: 15_000 }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** pollUntil calls `check` up to `attemptsMax` times, `intervalMs` apart, until it returns true. */
export async function pollUntil(check: () => Promise<boolean>, attemptsMax: number, intervalMs: number): Promise<boolean> {
  for (let i = 0; i < attemptsMax; i++) {
    try {
      if (await check()) return true;
    } catch {
      // Not listening yet, or a connection cut by a restart: try again.
    }
    await sleep(intervalMs);
  }
  return false;
}

const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*"';
/** PROM_SAMPLE_RE matches one Prometheus text sample line: `name{labels} value` or `name value`. */
export const PROM_SAMPLE_RE = new RegExp(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{${LABEL}(,${LABEL})*\\})? (-?[0-9]+(\\.[0-9]+)?(e[+-]?[0-9]+)?|NaN|[+-]Inf)$`);

/** badPrometheusLines returns the non-comment, non-empty lines that are not valid samples. */
export function badPrometheusLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !PROM_SAMPLE_RE.test(l));
}

/** shardLeaderView keeps, per shard (group > 0), the report of its leader with the highest term. */
export function shardLeaderView<R extends { readonly group: number; readonly isLeader: boolean; readonly term: number }>(reports: readonly R[]): Map<number, R> {
  const out = new Map<number, R>();
  for (const r of reports) {
    if (r.group === 0 || !r.isLeader) continue;
    const prev = out.get(r.group);
    if (prev === undefined || r.term > prev.term) out.set(r.group, r);
  }
  return out;
}

/** InProcessCluster is a test's real nodes in this process on 127.0.0.1..n: their addresses, root data dir and option factory. */
export interface InProcessCluster {
  readonly peers: Map<number, HostPort>;
  readonly apis: Map<number, HostPort>;
  /** founders are nodes 1..foundersCount, the initial cluster. */
  readonly founders: Map<number, HostPort>;
  /** nodes are the started nodes; every one is stopped at teardown. */
  readonly nodes: Map<number, OtlpdbNode>;
  /** options are node `id`'s start options (without initialCluster or join). */
  options(id: number): Omit<OtlpdbNodeOptions, 'initialCluster'>;
  api(id: number): HostPort;
}

/**
 * inProcessCluster picks addresses for n nodes, a temporary root (removed at
 * teardown) and the options every node starts with; `extra` adds options
 * (shards, replicas, compaction...). Nodes the test starts go in `nodes`.
 */
export async function inProcessCluster(
  t: { teardown(fn: () => unknown): void },
  o: {
    readonly n: number;
    readonly founders: number;
    readonly prefix: string;
    readonly seedBase: number;
    readonly extra: Partial<OtlpdbNodeOptions>;
    /** otlp gives every node OTLP gRPC and HTTP receivers on free ports of its address. */
    readonly otlp?: boolean;
  },
): Promise<InProcessCluster> {
  const root = await mkdtemp(join(tmpdir(), o.prefix));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const { peers, apis } = await clusterAddresses(o.n);
  const founders = new Map([...peers].filter(([id]) => id <= o.founders));
  const otlp = new Map<number, { otlpGrpc: HostPort; otlpHttp: HostPort }>();
  if (o.otlp === true) {
    for (const [id, a] of peers) {
      const taken = new Set([a.port, apis.get(id)?.port]);
      const pick = async (): Promise<number> => {
        let p = await freePort(a.host);
        while (taken.has(p)) p = await freePort(a.host);
        taken.add(p);
        return p;
      };
      otlp.set(id, { otlpGrpc: { host: a.host, port: await pick() }, otlpHttp: { host: a.host, port: await pick() } });
    }
  }
  const nodes = new Map<number, OtlpdbNode>();
  t.teardown(async () => {
    for (const node of nodes.values()) await node.stop();
  });
  const options = (id: number): Omit<OtlpdbNodeOptions, 'initialCluster'> => ({
    id,
    dataDir: join(root, `n${id}`),
    peer: peers.get(id) as HostPort,
    api: apis.get(id) as HostPort,
    seed: o.seedBase + id,
    ...(otlp.get(id) ?? {}),
    log: (line: string) => {
      if (process.env.OTLPDB_TEST_LOG === '1' && !line.includes('"leader_changed"')) console.error(line);
    },
    ...o.extra,
  });
  return { peers, apis, founders, nodes, options, api: (id) => apis.get(id) as HostPort };
}

/**
 * startThreeNodes starts a 3-node cluster in this process (4 shards, R=3,
 * OTLP receivers) and waits until every node is ready; `plant` names a
 * test-only planted bug (node.ts TEST_PLANTS) every node runs with. The
 * cluster differential tests use it for their clean and planted clusters.
 */
export async function startThreeNodes(
  t: { teardown(fn: () => unknown): void; ok(v: unknown, msg: string): void },
  prefix: string,
  seedBase: number,
  plant?: string,
): Promise<InProcessCluster> {
  const c = await inProcessCluster(t, { n: 3, founders: 3, prefix, seedBase, extra: { shards: 4, replicas: 3, tickMs: 20 }, otlp: true });
  // A node reads its plants from the environment once, at start: set them only around the starts.
  const saved = [process.env[TEST_PLANT_ENV], process.env[TEST_HOOKS_ENV]];
  try {
    if (plant !== undefined) {
      process.env[TEST_PLANT_ENV] = plant;
      process.env[TEST_HOOKS_ENV] = TEST_HOOKS_TOKEN;
    }
    for (const id of [1, 2, 3]) c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders }));
  } finally {
    for (const [name, value] of [
      [TEST_PLANT_ENV, saved[0]],
      [TEST_HOOKS_ENV, saved[1]],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, 1500, 40), `node ${id} is ready`);
  return c;
}
