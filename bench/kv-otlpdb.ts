/**
 * kv-otlpdb.ts — the otlpdb side of `bench/kv.ts`: a 3-node cluster started
 * through the real CLI (`dist/cli/otlpdb.js cluster up --detach --json`), so
 * the bench measures what a user runs, and stopped by the PIDs that command
 * printed (the CLI's own stopNodes: SIGTERM, then SIGKILL after a deadline).
 *
 * Ownership: the caller owns the returned OtlpdbCluster and must call stop()
 * once, also on errors; stop() is idempotent.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stopNodes } from '../cli/commands/cluster.js';
import type { ClusterFile } from '../cli/commands/cluster.js';
import { assert } from '../src/errors.js';
import { KvBenchLimits } from '../src/limits.js';
import { builtCliPath } from '../src/repo-root.js';

/** repoRoot is re-exported for the benches that import it from here. */
export { repoRoot } from '../src/repo-root.js';

/** OtlpdbClusterOptions are the CLI flags the bench sets; ports are base ports on 127.0.0.i, away from a default cluster's. */
export interface OtlpdbClusterOptions {
  readonly dir: string;
  readonly nodes: number;
  readonly apiPort: number;
  readonly peerPort: number;
  /** extraArgs are further `cluster up` flags (bench/ingest.ts: --replicas and the OTLP ports). */
  readonly extraArgs?: readonly string[];
  /** nodeArgs are Node flags for `cluster up`, which its nodes inherit (bench/query-metrics: --cpu-prof). */
  readonly nodeArgs?: readonly string[];
}

/** OtlpdbCluster is a started cluster: the API origins to load, the node PIDs to sample and stop. */
export interface OtlpdbCluster {
  readonly file: ClusterFile;
  readonly targets: readonly string[];
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

function runCli(args: readonly string[], nodeArgs: readonly string[] = []): Promise<string> {
  const cli = builtCliPath();
  if (!existsSync(cli)) throw new Error(`bench/kv: ${cli} is missing; run npm run build first`);
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...nodeArgs, cli, ...args],
      { timeout: KvBenchLimits.startDeadlineMs, maxBuffer: KvBenchLimits.childOutputBytesMax, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`otlpdb ${args.slice(0, 2).join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/** startOtlpdb runs `cluster up --detach --json` and returns once every node answered /readyz (the CLI waits for that). */
export async function startOtlpdb(o: OtlpdbClusterOptions): Promise<OtlpdbCluster> {
  assert(o.nodes >= 1, 'startOtlpdb nodes >= 1');
  const stdout = await runCli([
    'cluster', 'up', '--detach', '--json', '--dir', o.dir, '--nodes', String(o.nodes),
    '--api-port', String(o.apiPort), '--peer-port', String(o.peerPort), ...(o.extraArgs ?? []),
  ], o.nodeArgs);
  const line = stdout.trim().split('\n').pop() ?? '';
  const file = JSON.parse(line) as ClusterFile;
  assert(file.nodes.length === o.nodes, 'cluster up printed every node');
  let stopped = false;
  return {
    file,
    targets: file.nodes.map((n) => `http://${n.api}`),
    pids: file.nodes.map((n) => n.pid),
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      const outcome = await stopNodes(file.nodes, KvBenchLimits.stopTimeoutMs);
      const survivors = [...outcome].filter(([, o]) => o === 'survived').map(([id]) => id);
      if (survivors.length > 0) throw new Error(`bench/kv: otlpdb node(s) ${survivors.join(', ')} survived SIGKILL; see ${o.dir}`);
    },
  };
}

/** otlpdbMetaLeader asks one node which node leads the meta group (the group every KV write goes through), or null. */
export async function otlpdbMetaLeader(target: string): Promise<number | null> {
  try {
    const res = await fetch(`${target}/api/v1/cluster`, { signal: AbortSignal.timeout(KvBenchLimits.stopTimeoutMs) });
    const doc = (await res.json()) as { meta?: { leader?: number } };
    return doc.meta?.leader ?? null;
  } catch {
    return null;
  }
}
