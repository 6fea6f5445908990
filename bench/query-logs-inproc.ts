/**
 * query-logs-inproc.ts — `node dist/bench/query-logs-inproc.js [--lines N]
 * [--shards S] [--queries Q] [--flush-rows F] [--cache-mib M] [--kinds a,b] [--two-rounds] [--per-query]
 * [--data-dir D] [--in-memory] [--json]`: what one log query costs the shards
 * that answer it, in one process, without a cluster's network, Raft reads or
 * other nodes' noise: the work an A/B of a storage change moves.
 *
 * The lines are bench/query-logs.ts's own (buildQueryLogsData, the same
 * seed), decoded from their OTLP/HTTP bodies by the node's decoder, and
 * split over S shards (default 16, the cluster's) by (stream, request), as
 * the cluster places records without a trace id. Each shard is a LogStore
 * on its own real LevelDB (ShardDb, under TMPDIR, removed at the end); all
 * share one node block cache of M MiB (BlockCacheLimits.bytesMaxDefault by
 * default; 0 turns it off, so every query pays every decode), as the shard
 * replicas of one node do. Each shard's rows go in with one flush,
 * line pages of P rows (LogStoreLimits.linePageRows by default). The lines'
 * times are fixed (FIXED_NOW_MS), so two runs' digests compare.
 *
 * The queries are bench/query-logs-queries.ts's (buildQuerySpec: keyword,
 * phrase, regex, count, keyword + 5 min; limit 100, backward), each run as
 * the shard part the coordinator pushes (logqlEngine.evaluateShardPart over
 * a ShardLogSource) on every shard in turn, after one unrecorded warm-up of
 * every query. Printed per kind: wall p50 / p99 and mean CPU ms of a query
 * (all shards), and per query the LevelDB bytes read, blocks scanned and
 * pruned (ScanStats), and an answer digest (FNV-1a over every
 * shard's answer) so two builds' runs are shown to answer alike. Timing
 * never gates anything; compare two builds run back to back.
 *
 * `--data-dir D` keeps the loaded shards in D (not removed at the end) and,
 * when D already holds a load of the same lines, shards and flush size
 * (D/inproc-load.json says so), opens them instead of loading again: an
 * A/B of two builds whose block format is the same then pays the load
 * (minutes at 1,000,000 lines) once. The caller removes D.
 *
 * `--in-memory` reads every shard's LevelDB into memory once loaded
 * (MemKv) and runs the queries over those copies: no libuv thread pool, so
 * `valgrind --tool=callgrind` counts a run's instructions in minutes (over
 * LevelDB it waits on the pool's threads, s21) and the count leaves out
 * LevelDB's own reads. A get still returns a copy of its value, as
 * LevelDB's binding does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { assert } from '../src/errors.js';
import { BlockCacheLimits } from '../src/limits.js';
import { decodeLogsProto } from '../src/otlp/proto-logs.js';
import { logqlEngine } from '../src/query/logql/engine.js';
import type { LogEntry, LogShardAnswer } from '../src/query/logql/source.js';
import { ShardLogSource } from '../src/query/logs-shard-source.js';
import { streamKey } from '../src/storage/logs/log-block.js';
import { streamLabels } from '../src/storage/logs/log-line.js';
import { LogStore } from '../src/storage/logs/log-store.js';
import type { LogRow } from '../src/storage/rows.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import type { KeyRange, KvEntry, KvRead } from '../src/storage/shard/shard-db.js';
import { SpanBlockCache } from '../src/storage/traces/block-cache.js';
import { WINDOW_MS, buildQueryLogsData } from './query-logs-data.js';
import type { QueryLogsData } from './query-logs-data.js';
import type { QueryKind } from './query-logs-queries.js';
import { COUNT_STEP_S, LOG_LIMIT, buildQuerySpec, logqlOf } from './query-logs-queries.js';

/** DATA_SEED is bench/query-logs-run.ts's seed: the same lines. */
const DATA_SEED = 8_008;
const TENANT = 'bench';
/** FIXED_NOW_MS is the "now" the lines are drawn before (2026-11-18): fixed, so answers compare across runs. */
const FIXED_NOW_MS = 1_795_000_000_000;
const KINDS: readonly QueryKind[] = ['keyword', 'phrase', 'regex', 'count', 'keywordRange'];

/** InprocConfig is one run's shape (the flags). */
export interface InprocConfig {
  readonly lines: number;
  readonly shards: number;
  readonly queries: number;
  readonly flushRows: number;
  readonly cacheBytes: number;
  readonly kinds: readonly QueryKind[];
  /** twoRounds runs a log query's shard parts in the coordinator's two rounds (query/logs-query.ts shardEval) instead of one. */
  readonly twoRounds: boolean;
  /** perQuery prints every measured query's figures (stderr): its LogQL, CPU ms, MB read, blocks scanned and pruned. */
  readonly perQuery?: boolean;
  /** dataDir keeps (and reuses) the loaded shards there, or null for a temp dir removed at the end. */
  readonly dataDir?: string | null;
  /** inMemory runs the queries over in-memory copies of the shards (MemKv) instead of their LevelDBs. */
  readonly inMemory?: boolean;
}

/**
 * MemKv is a shard's LevelDB read into memory (KvRead over sorted entries):
 * gets return copies, pages are slices in key order or reverse. Read-only;
 * bounded by the shard's size (the bench holds it for the run).
 */
class MemKv implements KvRead {
  readonly #entries: KvEntry[];
  readonly #byKey = new Map<string, Uint8Array>();

  constructor(entries: KvEntry[]) {
    this.#entries = entries;
    for (const e of entries) this.#byKey.set(Buffer.from(e.key).toString('latin1'), e.value);
  }

  /** read copies every entry of `db`. */
  static async read(db: ShardDb): Promise<MemKv> {
    const entries: KvEntry[] = [];
    for await (const page of db.pages({})) for (const e of page) entries.push({ key: Uint8Array.from(e.key), value: Uint8Array.from(e.value) });
    return new MemKv(entries);
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const v = this.#byKey.get(Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1'));
    return v === undefined ? undefined : Uint8Array.from(v);
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    const out: (Uint8Array | undefined)[] = [];
    for (const k of keys) out.push(await this.get(k));
    return out;
  }

  #lowerBound(key: Uint8Array, inclusive: boolean): number {
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = Buffer.compare((this.#entries[mid] as KvEntry).key, key);
      if (c < 0 || (!inclusive && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  async *pages(range: KeyRange, pageEntries = 1024): AsyncGenerator<readonly KvEntry[]> {
    const from = range.gte !== undefined ? this.#lowerBound(range.gte, true) : range.gt !== undefined ? this.#lowerBound(range.gt, false) : 0;
    const to = range.lt !== undefined ? this.#lowerBound(range.lt, true) : range.lte !== undefined ? this.#lowerBound(range.lte, false) : this.#entries.length;
    let picked = this.#entries.slice(from, Math.max(from, to));
    if (range.reverse === true) picked.reverse();
    if (range.limit !== undefined) picked = picked.slice(0, range.limit);
    for (let i = 0; i < picked.length; i += pageEntries) yield picked.slice(i, i + pageEntries);
  }
}

/** KindFigures are one query kind's figures over its queries. */
export interface KindFigures {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuMs: number;
  readonly bytesRead: number;
  readonly blocksScanned: number;
  readonly blocksPruned: number;
  readonly p99CpuMs: number;
  readonly digest: string;
}

function flag(argv: readonly string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(argv[i + 1]);
  assert(Number.isSafeInteger(v) && v >= 1, `${name} is a positive integer`);
  return v;
}

/** parseInprocArgs reads the flags (see the file comment). */
export function parseInprocArgs(argv: readonly string[]): InprocConfig {
  return {
    lines: flag(argv, '--lines', 200_000),
    shards: flag(argv, '--shards', 16),
    queries: flag(argv, '--queries', 30),
    flushRows: flag(argv, '--flush-rows', 20_000),
    cacheBytes: argv.includes('--cache-mib') ? Number(argv[argv.indexOf('--cache-mib') + 1]) * 1024 * 1024 : BlockCacheLimits.bytesMaxDefault,
    twoRounds: argv.includes('--two-rounds'),
    perQuery: argv.includes('--per-query'),
    dataDir: argv.includes('--data-dir') ? (argv[argv.indexOf('--data-dir') + 1] ?? null) : null,
    inMemory: argv.includes('--in-memory'),
    kinds: argv.includes('--kinds') ? ((argv[argv.indexOf('--kinds') + 1] ?? '').split(',') as QueryKind[]) : KINDS,
  };
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

/** fnv folds a string into a 32-bit FNV-1a hash. */
function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function answerText(a: LogShardAnswer): string {
  if (a.kind === 'entries') return a.entries.map((e) => `${e.timeNs} ${e.line}`).join('\n');
  // Sorted: the order of a shard's partial series is not part of its answer (a count and a gather list them differently).
  return a.series.map((s) => `${JSON.stringify(s.labels)} ${s.stepsNs.join(',')} ${JSON.stringify(s.values)}`).sort().join('\n');
}

/** runInproc loads the shards and runs every kind's queries (see the file comment). */
export async function runInproc(config: InprocConfig): Promise<{ loadMs: number; figures: Map<QueryKind, KindFigures> }> {
  const t0 = performance.now();
  const nowMs = FIXED_NOW_MS;
  // The window as buildQueryLogsData makes it: a query needs only the window (buildQuerySpec), so no line is held.
  const windowEndNs = BigInt(nowMs - 2 * 60_000) * 1_000_000n;
  const data: QueryLogsData = {
    lines: [], offsetsNs: new Float64Array(0), streamOf: new Uint16Array(0), streams: [], bodies: [], bytes: 0, lineBytes: 0,
    windowStartNs: windowEndNs - BigInt(WINDOW_MS) * 1_000_000n, windowEndNs,
  };
  const marker = JSON.stringify({ lines: config.lines, shards: config.shards, flushRows: config.flushRows, seed: DATA_SEED, nowMs });
  const keep = config.dataDir !== undefined && config.dataDir !== null;
  const dir = keep ? (config.dataDir as string) : fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-query-logs-inproc-'));
  const markerPath = path.join(dir, 'inproc-load.json');
  const reuse = keep && fs.existsSync(markerPath) && fs.readFileSync(markerPath, 'utf8') === marker;
  if (keep && !reuse) {
    // Another load (or none) is there: only what this bench writes goes, never the rest of D.
    fs.mkdirSync(dir, { recursive: true });
    fs.rmSync(markerPath, { force: true });
    for (const name of fs.readdirSync(dir)) if (/^s\d+$/.test(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
  assert(Number.isSafeInteger(config.cacheBytes) && config.cacheBytes >= 0, '--cache-mib is a count');
  const cache = new SpanBlockCache(config.cacheBytes);
  const shards: { store: LogStore; db: ShardDb }[] = [];
  try {
    if (!reuse) {
      const built = buildQueryLogsData(config.lines, nowMs, DATA_SEED);
      assert(built.windowStartNs === data.windowStartNs && built.windowEndNs === data.windowEndNs, 'the window is buildQueryLogsData\'s');
      const perShard: LogRow[][] = Array.from({ length: config.shards }, () => []);
      const streamIds = new Map<string, number>();
      built.bodies.forEach((body, req) => {
        const res = decodeLogsProto(body, { tenant: TENANT, nowMs });
        assert(res.rejected === 0, 'every bench line is accepted');
        for (const row of res.rows) {
          const k = streamKey(streamLabels(row));
          let sid = streamIds.get(k);
          if (sid === undefined) {
            sid = streamIds.size;
            streamIds.set(k, sid);
          }
          (perShard[(sid * 31 + req * 7) % config.shards] as LogRow[]).push(row);
        }
      });
      for (let s = 0; s < config.shards; s++) {
        const db = await ShardDb.open(path.join(dir, `s${s}`));
        const store = new LogStore({ cache });
        await store.load(db);
        shards.push({ store, db });
        const rows = perShard[s] as LogRow[];
        for (let at = 0, flushIndex = 1; at < rows.length; at += config.flushRows, flushIndex++) {
          store.add(TENANT, rows.slice(at, at + config.flushRows), 0);
          store.freeze();
          const batch = new KvWriteBatch();
          await store.writeFrozen({ batch, kv: db, flushIndex });
          await db.write(batch);
          store.dropFrozen();
        }
        // The rows are in blocks now: drop them, so the queries' garbage collections do not mark a million dead rows.
        perShard[s] = [];
      }
      if (keep) fs.writeFileSync(markerPath, marker);
    } else {
      for (let s = 0; s < config.shards; s++) {
        const db = await ShardDb.open(path.join(dir, `s${s}`));
        const store = new LogStore({ cache });
        await store.load(db);
        shards.push({ store, db });
      }
    }
    // --in-memory: the queries read copies (MemKv), not the LevelDBs.
    const kvs: KvRead[] = [];
    for (const { db } of shards) kvs.push(config.inMemory === true ? await MemKv.read(db) : db);
    const loadMs = performance.now() - t0;
    const runOne = async (kind: QueryKind, i: number, warmUp = false): Promise<{ ms: number; cpuMs: number; bytes: number; blocks: number; pruned: number; text: string }> => {
      const spec = buildQuerySpec(kind, i, data);
      const text = logqlOf(spec);
      // The shard part of `sum(count_over_time(...))` is the range aggregation (the coordinator sums).
      const expr = kind === 'count' ? text.slice('sum('.length, -1) : text;
      const stepNs = kind === 'count' ? BigInt(COUNT_STEP_S) * 1_000_000_000n : 0n;
      let bytes = 0;
      let blocks = 0;
      let pruned = 0;
      let h = 0x811c9dc5;
      const cpu0 = process.cpuUsage();
      const w0 = performance.now();
      const part = async (s: number, limit: number): Promise<LogShardAnswer> => {
        const { store } = shards[s] as (typeof shards)[number];
        const src = new ShardLogSource({ store, kv: kvs[s] as KvRead, tenant: TENANT, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: () => 0 });
        const a = await logqlEngine.evaluateShardPart({ expr, startNs: spec.startNs, endNs: spec.endNs, stepNs, direction: 'backward', limit }, src, new AbortController().signal);
        bytes += src.scan.bytesRead;
        blocks += src.scan.blocksScanned;
        pruned += src.scan.blocksPrunedTime + src.scan.blocksPrunedBloom + src.scan.blocksPrunedIndex;
        return a;
      };
      // A log query's shard parts as the coordinator runs them: one round of LOG_LIMIT, or (--two-rounds) logs-query.ts's two.
      const k = config.twoRounds && kind !== 'count' ? Math.min(LOG_LIMIT, Math.max(16, Math.ceil((2 * LOG_LIMIT) / shards.length))) : LOG_LIMIT;
      const answers: LogShardAnswer[] = [];
      for (let s = 0; s < shards.length; s++) answers.push(await part(s, k));
      if (k < LOG_LIMIT) {
        const entriesOf = (a: LogShardAnswer): readonly LogEntry[] => (a.kind === 'entries' ? a.entries : []);
        const merged = answers.flatMap(entriesOf).sort((x, y) => (x.timeNs < y.timeNs ? 1 : x.timeNs > y.timeNs ? -1 : 0));
        const bound = merged.length >= LOG_LIMIT ? (merged[LOG_LIMIT - 1] as LogEntry).timeNs : null;
        for (let s = 0; s < shards.length; s++) {
          const es = entriesOf(answers[s] as LogShardAnswer);
          if (es.length < k || (bound !== null && (es[es.length - 1] as LogEntry).timeNs < bound)) continue;
          answers[s] = await part(s, LOG_LIMIT);
        }
      }
      if (kind === 'count') {
        for (const a of answers) h = fnv(h, answerText(a));
      } else {
        // The coordinator's answer: the newest LOG_LIMIT of every shard's (the bench's times are distinct).
        const merged = answers.flatMap((a) => (a.kind === 'entries' ? a.entries : [])).sort((x, y) => (x.timeNs < y.timeNs ? 1 : x.timeNs > y.timeNs ? -1 : 0));
        h = fnv(h, answerText({ kind: 'entries', entries: merged.slice(0, LOG_LIMIT) }));
      }
      const ms = performance.now() - w0;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      if (config.perQuery === true && !warmUp) console.error(`${kind} ${i} ${text}: cpu ${cpuMs.toFixed(1)} ms, ${(bytes / 1e6).toFixed(2)} MB, ${blocks} blocks scanned, ${pruned} pruned`);
      return { ms, cpuMs, bytes, blocks, pruned, text: h.toString(16) };
    };
    for (const kind of config.kinds) for (let i = 0; i < config.queries; i++) await runOne(kind, i, true);
    const figures = new Map<QueryKind, KindFigures>();
    for (const kind of config.kinds) {
      const runs: Awaited<ReturnType<typeof runOne>>[] = [];
      for (let i = 0; i < config.queries; i++) runs.push(await runOne(kind, i));
      const mean = (f: (r: (typeof runs)[number]) => number): number => runs.reduce((n, r) => n + f(r), 0) / runs.length;
      figures.set(kind, {
        p50Ms: quantile(runs.map((r) => r.ms), 0.5),
        p99Ms: quantile(runs.map((r) => r.ms), 0.99),
        cpuMs: mean((r) => r.cpuMs),
        p99CpuMs: quantile(runs.map((r) => r.cpuMs), 0.99),
        bytesRead: mean((r) => r.bytes),
        blocksScanned: mean((r) => r.blocks),
        blocksPruned: mean((r) => r.pruned),
        digest: fnv(0x811c9dc5, runs.map((r) => r.text).join(',')).toString(16),
      });
    }
    return { loadMs, figures };
  } finally {
    for (const { db } of shards) await db.close();
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const config = parseInprocArgs(process.argv.slice(2));
  const r = await runInproc(config);
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ ...config, loadMs: r.loadMs, figures: Object.fromEntries(r.figures), load: os.loadavg() }));
    return;
  }
  console.log(`${config.lines} lines, ${config.shards} shards, ${config.queries} queries a kind, flushes of ${config.flushRows} rows, ${config.twoRounds ? 'two rounds' : 'one round'}, cache ${(config.cacheBytes / 1048576).toFixed(0)} MiB; loaded in ${(r.loadMs / 1000).toFixed(1)} s; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('kind           p50 ms   p99 ms   cpu ms  cpu p99   MB read  blocks  pruned  digest');
  for (const [kind, f] of r.figures) {
    console.log(
      `${kind.padEnd(13)} ${f.p50Ms.toFixed(1).padStart(7)} ${f.p99Ms.toFixed(1).padStart(8)} ${f.cpuMs.toFixed(1).padStart(8)} ${f.p99CpuMs.toFixed(1).padStart(8)} ${(f.bytesRead / 1e6).toFixed(2).padStart(9)} ${f.blocksScanned.toFixed(1).padStart(7)} ${f.blocksPruned.toFixed(1).padStart(7)}  ${f.digest}`,
    );
  }
}

if (process.argv[1]?.endsWith('query-logs-inproc.js') === true) await main();
