/**
 * kv-load.ts — one concurrency level of `bench/kv.ts`: autocannon instances
 * in this process, one per cluster member, the level's connections split over
 * them (kv-plan's splitConnections), all started together and aggregated into
 * one latency histogram. It also samples the CPU time of the server processes
 * (Linux /proc) and of this process, to say where the time went.
 *
 * Every request writes the next key of the caller's `nextKey` (a counter
 * that advances once per request, across members and levels; see kv-plan's
 * benchKey for why it cycles).
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { assert } from '../src/errors.js';
import { KvBenchLimits } from '../src/limits.js';
import { splitConnections } from './kv-plan.js';
import type { LoadCounts } from './kv-plan.js';

/** KvRequestShape is how one system spells a put: method, fixed headers, and path and body of key k. */
export interface KvRequestShape {
  readonly method: 'PUT' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  path(key: string): string;
  body(key: string): string;
}

/** LoadLevelResult is one level's counts plus the CPU seconds each server process and the load generator used during it. */
export interface LoadLevelResult {
  readonly counts: LoadCounts;
  /** serverCpuSec is indexed like the `pids` argument; null when /proc could not be read. */
  readonly serverCpuSec: readonly (number | null)[];
  readonly loadGenCpuSec: number;
}

/** AggregateFn is autocannon.aggregateResult, exported by autocannon 9 but missing from @types/autocannon 7. */
type AggregateFn = (results: unknown[], opts: { url: string; connections: number }) => autocannon.Result;

const CLOCK_TICKS_PER_SEC = 100; // USER_HZ on Linux (getconf CLK_TCK); /proc/<pid>/stat counts in it.

/** cpuSec reads utime + stime of a process from /proc (every thread), or null if it is gone or this is not Linux. */
export function cpuSec(pid: number): number | null {
  return statCpuSec(`/proc/${pid}/stat`);
}

/** mainThreadCpuSec reads utime + stime of a process's main thread alone (its task whose id is the pid): the JavaScript event loop of a node process. */
export function mainThreadCpuSec(pid: number): number | null {
  return statCpuSec(`/proc/${pid}/task/${pid}/stat`);
}

/** sumCpuSec sums `read` (cpuSec by default) over the processes, or null when one could not be read. */
export function sumCpuSec(pids: readonly number[], read: (pid: number) => number | null = cpuSec): number | null {
  let sum = 0;
  for (const pid of pids) {
    const c = read(pid);
    if (c === null) return null;
    sum += c;
  }
  return sum;
}

function statCpuSec(path: string): number | null {
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3; utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SEC : null;
  } catch {
    return null;
  }
}

/**
 * runLevel loads `targets` (http://host:port origins) with `connections`
 * in total for `durationSec`, every request a put of a fresh key.
 */
export async function runLevel(
  targets: readonly string[],
  connections: number,
  durationSec: number,
  shape: KvRequestShape,
  nextKey: () => string,
  pids: readonly number[],
): Promise<LoadLevelResult> {
  assert(targets.length >= 1, 'runLevel needs a target');
  assert(connections >= 1 && connections <= KvBenchLimits.connectionsMax, 'runLevel connections in [1, connectionsMax]');
  const shares = splitConnections(connections, targets.length);
  const cpuBefore = pids.map(cpuSec);
  const selfBefore = process.cpuUsage();
  const runs = shares.map((share, i) => {
    const url = targets[i];
    assert(url !== undefined, 'a share has a target');
    return autocannon({
      url,
      connections: share,
      duration: durationSec,
      timeout: KvBenchLimits.requestTimeoutSec,
      skipAggregateResult: true,
      requests: [
        {
          method: shape.method,
          headers: { ...shape.headers },
          setupRequest: (req) => {
            const key = nextKey();
            return { ...req, path: shape.path(key), body: shape.body(key) };
          },
        },
      ],
    });
  });
  const raw = await Promise.all(runs);
  const self = process.cpuUsage(selfBefore);
  const cpuAfter = pids.map(cpuSec);
  // Count status codes before aggregating: aggregateResult adds into the first result's statusCodeStats in place.
  const statusCodes: Record<string, number> = {};
  for (const r of raw) {
    const stats = (r as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats;
    for (const [code, s] of Object.entries(stats)) statusCodes[code] = (statusCodes[code] ?? 0) + s.count;
  }
  const aggregate = (autocannon as unknown as { aggregateResult: AggregateFn }).aggregateResult;
  const merged = aggregate(raw, { url: targets[0] ?? '', connections });
  const elapsedSec = Math.max(...raw.map((r) => r.duration));
  assert(elapsedSec > 0, 'a level ran for some time');
  return {
    counts: {
      ok2xx: merged['2xx'],
      non2xx: merged.non2xx,
      errors: merged.errors,
      timeouts: merged.timeouts,
      elapsedSec,
      latencyP50Ms: merged.latency.p50,
      latencyP99Ms: merged.latency.p99,
      statusCodes,
    },
    serverCpuSec: pids.map((_, i) => {
      const b = cpuBefore[i];
      const a = cpuAfter[i];
      return a === null || a === undefined || b === null || b === undefined ? null : Math.round((a - b) * 100) / 100;
    }),
    loadGenCpuSec: Math.round(((self.user + self.system) / 1e6) * 100) / 100,
  };
}
