/**
 * kv-plan.ts — the pure part of `bench/kv.ts`: its flags, how a concurrency
 * level is split over the members of a cluster, the request bodies, and the
 * arithmetic of the figures (requests/s, the otlpdb/etcd ratio). No I/O and
 * no clock here, so `bench/kv.test.ts` checks it exactly.
 */
import { assert } from '../src/errors.js';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { KvBenchLimits } from '../src/limits.js';

/** KvBenchConfig is what the flags of `bench/kv.ts` ask for. */
export interface KvBenchConfig {
  readonly durationSec: number;
  /** connections are the concurrency levels, each the total over all members. */
  readonly connections: readonly number[];
  readonly json: boolean;
  /** etcd false skips the etcd cluster (--no-etcd): otlpdb figures only, no ratio. */
  readonly etcd: boolean;
  /** wal false skips running bench/wal.js for the group-commit figure (--no-wal). */
  readonly wal: boolean;
}

function positiveInt(flag: string, raw: string | undefined, max: number): number {
  const v = Number(raw);
  if (raw === undefined || !/^[0-9]+$/.test(raw) || !Number.isSafeInteger(v) || v < 1 || v > max) {
    throw new Error(`${flag} must be an integer in [1, ${max}], got ${raw ?? 'nothing'}`);
  }
  return v;
}

/** parseKvArgs reads `[--duration S] [--connections 1,16,256] [--json] [--no-etcd] [--no-wal]`; anything else is an error, not ignored. */
export function parseKvArgs(argv: readonly string[]): KvBenchConfig {
  let durationSec: number = KvBenchLimits.durationSecDefault;
  let connections: readonly number[] = KvBenchLimits.connectionsDefault;
  let json = false;
  let etcd = true;
  let wal = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--duration') {
      durationSec = positiveInt('--duration', argv[++i], KvBenchLimits.durationSecMax);
    } else if (a === '--connections') {
      const raw = argv[++i];
      const parts = (raw ?? '').split(',');
      if (raw === undefined || parts.length > KvBenchLimits.levelsMax) {
        throw new Error(`--connections must be 1 to ${KvBenchLimits.levelsMax} comma-separated integers, got ${raw ?? 'nothing'}`);
      }
      connections = parts.map((p) => positiveInt('--connections', p, KvBenchLimits.connectionsMax));
    } else if (a === '--json') {
      json = true;
    } else if (a === '--no-etcd') {
      etcd = false;
    } else if (a === '--no-wal') {
      wal = false;
    } else {
      throw new Error(`unknown argument ${a ?? ''}; usage: kv.js [--duration S] [--connections 1,16,256] [--json] [--no-etcd] [--no-wal]`);
    }
  }
  assert(connections.length >= 1, 'at least one concurrency level');
  return { durationSec, connections, json, etcd, wal };
}

/**
 * splitConnections spreads `total` connections over `members` targets as
 * evenly as possible, first members first (16 over 3 is 6, 5, 5); a level
 * below the member count uses only the first members (1 connection goes to
 * member 1 alone). Zero shares are dropped, so every share starts a load
 * generator.
 */
export function splitConnections(total: number, members: number): number[] {
  assert(Number.isSafeInteger(total) && total >= 1, 'splitConnections total >= 1');
  assert(Number.isSafeInteger(members) && members >= 1, 'splitConnections members >= 1');
  const out: number[] = [];
  for (let m = 0; m < members; m++) {
    const share = Math.floor(total / members) + (m < total % members ? 1 : 0);
    if (share > 0) out.push(share);
  }
  assert(out.reduce((s, c) => s + c, 0) === total, 'the shares add up to the level');
  return out;
}

/** benchValue is the one value every request writes: `valueBytes` printable characters from a seeded source, so both systems store the same bytes. */
export function benchValue(seed: number): string {
  const rand = new SeededRand(seed);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < KvBenchLimits.valueBytes; i++) s += alphabet[rand.intn(alphabet.length)];
  assert(Buffer.byteLength(s) === KvBenchLimits.valueBytes, 'the value has valueBytes bytes');
  return s;
}

/**
 * benchKey is the key of request n: `bench-<n mod keySpace>`. Requests in
 * flight together always write distinct keys (keySpace > connectionsMax), and
 * the key count stays under the control KV's kvKeysMax however long the run.
 */
export function benchKey(n: number): string {
  assert(Number.isSafeInteger(n) && n >= 0, 'benchKey n >= 0');
  return `bench-${n % KvBenchLimits.keySpace}`;
}

/** etcdPutBody is the v3 JSON gateway body of a put (`POST /v3/kv/put`): key and value base64, as grpc-gateway maps `bytes`. */
export function etcdPutBody(key: string, value: string): string {
  return JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') });
}

/** LoadCounts are the raw counts of one concurrency level, summed over its load generators. */
export interface LoadCounts {
  /** ok2xx counts responses with a 2xx status: the only ones that count as writes. */
  readonly ok2xx: number;
  readonly non2xx: number;
  /** errors counts connection errors and timeouts (autocannon counts timeouts among errors). */
  readonly errors: number;
  readonly timeouts: number;
  /** elapsedSec is the wall time of the level (the longest of its generators). */
  readonly elapsedSec: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** statusCodes counts every status seen, to print the non-2xx ones. */
  readonly statusCodes: Readonly<Record<string, number>>;
}

/** LevelFigures are the printed figures of one system at one concurrency level. */
export interface LevelFigures {
  readonly connections: number;
  readonly requestsPerSec: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodes: Readonly<Record<string, number>>;
}

/** levelFigures turns counts into figures; requests/s counts 2xx answers only, so a system cannot look fast by failing fast. */
export function levelFigures(connections: number, c: LoadCounts): LevelFigures {
  assert(c.elapsedSec > 0, 'levelFigures elapsedSec > 0');
  assert(c.ok2xx >= 0 && c.non2xx >= 0 && c.errors >= 0, 'levelFigures counts >= 0');
  return {
    connections,
    requestsPerSec: Math.round(c.ok2xx / c.elapsedSec),
    latencyP50Ms: c.latencyP50Ms,
    latencyP99Ms: c.latencyP99Ms,
    non2xx: c.non2xx,
    errors: c.errors,
    timeouts: c.timeouts,
    statusCodes: c.statusCodes,
  };
}

/** throughputRatio is otlpdb/etcd requests/s to two decimals; null when etcd did nothing (no division by zero dressed up as a number). */
export function throughputRatio(otlpdbPerSec: number, etcdPerSec: number): number | null {
  assert(otlpdbPerSec >= 0 && etcdPerSec >= 0, 'throughputRatio rates >= 0');
  if (etcdPerSec === 0) return null;
  return Math.round((otlpdbPerSec / etcdPerSec) * 100) / 100;
}

/** ratioTargetMet is the target: otlpdb at least as fast as etcd at the highest concurrency level, with no failed writes on otlpdb's side. */
export function ratioTargetMet(ratio: number | null, otlpdb: LevelFigures): boolean {
  return ratio !== null && ratio >= 1 && otlpdb.non2xx === 0 && otlpdb.errors === 0;
}
