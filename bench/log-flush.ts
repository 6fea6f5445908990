/**
 * log-flush.ts — `node dist/bench/log-flush.js [--lines N] [--shards S]
 * [--rounds R] [--profile FILE] [--json]`: what the term index costs a logs
 * flush, in one process, without a cluster's noise.
 *
 * The lines are bench/query-logs.ts's own (buildQueryLogsData, the same
 * seed), decoded from their OTLP/HTTP bodies by the node's decoder
 * (decodeLogsProto), so the rows are what a node applies. They are split
 * over S shards by stream (as the cluster routes them; default 4, the
 * cluster's default), and each round flushes every shard's rows once into a
 * LogStore with the term index on and once into one with it off
 * (`termIndex: false`, what `--log-term-index off` sets), each store on its
 * own real LevelDB (ShardDb) in a temp dir. The order alternates every
 * round (on first, then off first) so drift in the machine's load falls on
 * both sides. A flush here is what a node's flush does for the logs store:
 * add, freeze, writeFrozen (encode blocks, index, metas into one batch),
 * the batch written with fsync, dropFrozen.
 *
 * Printed per mode: wall ms and CPU ms (process.cpuUsage, user + system)
 * per 100,000 lines, the median over the rounds, and the on/off ratios
 * (the target of issue 8: ingest on/off <= 1.3; a flush is the part of
 * ingest the index touches). `--profile FILE` writes a V8 CPU profile
 * (.cpuprofile, node:inspector) of the index-on flushes only. Timing never
 * gates anything.
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { assert } from '../src/errors.js';
import { decodeLogsProto } from '../src/otlp/proto-logs.js';
import { streamKey } from '../src/storage/logs/log-block.js';
import { streamLabels } from '../src/storage/logs/log-line.js';
import { LogStore } from '../src/storage/logs/log-store.js';
import type { LogRow } from '../src/storage/rows.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import { buildQueryLogsData } from './query-logs-data.js';

/** DATA_SEED is bench/query-logs-run.ts's seed: the same lines. */
const DATA_SEED = 8_008;
const TENANT = 'bench';
const LINES_PER_REPORT = 100_000;

/** Sample is one mode's cost in one round. */
interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly encodeMs: number;
  readonly bytes: number;
}

/** shardRows decodes the bench's bodies into rows and splits them over `shards` by stream, in arrival order; the lines' times end near `nowMs`. */
export function shardRows(lines: number, shards: number, nowMs: number = Date.now()): LogRow[][] {
  const data = buildQueryLogsData(lines, nowMs, DATA_SEED);
  const out: LogRow[][] = Array.from({ length: shards }, () => []);
  const shardOf = new Map<string, number>();
  for (const body of data.bodies) {
    const res = decodeLogsProto(body, { tenant: TENANT, nowMs });
    assert(res.rejected === 0, 'every bench line is accepted');
    for (const row of res.rows) {
      const key = streamKey(streamLabels(row));
      let s = shardOf.get(key);
      if (s === undefined) {
        s = shardOf.size % shards;
        shardOf.set(key, s);
      }
      (out[s] as LogRow[]).push(row);
    }
  }
  assert(out.reduce((n, r) => n + r.length, 0) === lines, 'every line is in one shard');
  return out;
}

/** Mode is one side of the comparison: a store and its LevelDB. */
class Mode {
  readonly name: string;
  readonly store: LogStore;
  readonly db: ShardDb;
  #flushIndex = 0;

  constructor(name: string, store: LogStore, db: ShardDb) {
    this.name = name;
    this.store = store;
    this.db = db;
  }

  /** flush flushes each shard's rows once (one flush each) and returns the cost. */
  async flush(shards: readonly LogRow[][]): Promise<Sample> {
    let encodeMs = 0;
    let bytes = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const rows of shards) {
      if (rows.length === 0) continue;
      this.store.add(TENANT, rows, 0);
      this.store.freeze();
      const batch = new KvWriteBatch();
      const e0 = performance.now();
      const report = await this.store.writeFrozen({ batch, kv: this.db, flushIndex: ++this.#flushIndex });
      encodeMs += performance.now() - e0;
      bytes += report.dataBytes + report.indexBytes;
      await this.db.write(batch);
      this.store.dropFrozen();
    }
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, encodeMs, bytes };
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >>> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Profiler wraps node:inspector's CPU profiler around chosen stretches of the run. */
class Profiler {
  readonly #session = new inspector.Session();

  async #post(method: string, params?: object): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#session.post(method, params ?? {}, (err, res) => (err === null ? resolve(res) : reject(err)));
    });
  }

  async start(): Promise<void> {
    this.#session.connect();
    await this.#post('Profiler.enable');
    await this.#post('Profiler.start');
  }

  async stop(file: string): Promise<void> {
    const res = (await this.#post('Profiler.stop')) as { profile: unknown };
    fs.writeFileSync(file, JSON.stringify(res.profile));
    this.#session.disconnect();
  }
}

/** LogFlushConfig is one run's shape (the flags). */
export interface LogFlushConfig {
  readonly lines: number;
  readonly shards: number;
  readonly rounds: number;
  /** profileFile, when set, receives a CPU profile of the first round's index-on flushes. */
  readonly profileFile: string | null;
}

/** ModeFigures are one mode's medians per LINES_PER_REPORT lines. */
export interface ModeFigures {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly encodeMs: number;
  readonly bytes: number;
}

/** LogFlushResult is a run's figures: each mode's, and on/off. */
export interface LogFlushResult {
  readonly on: ModeFigures;
  readonly off: ModeFigures;
  readonly ratio: { readonly wall: number; readonly cpu: number; readonly encode: number };
}

/** parseLogFlushArgs reads the flags (see the file comment). */
export function parseLogFlushArgs(argv: readonly string[]): LogFlushConfig {
  const flag = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    if (i < 0) return fallback;
    const v = Number(argv[i + 1]);
    assert(Number.isSafeInteger(v) && v >= 1, `${name} is a positive integer`);
    return v;
  };
  const p = argv.indexOf('--profile');
  return { lines: flag('--lines', 200_000), shards: flag('--shards', 4), rounds: flag('--rounds', 3), profileFile: p < 0 ? null : (argv[p + 1] ?? null) };
}

/** runLogFlush runs the comparison (see the file comment) in temp dirs it removes. */
export async function runLogFlush(config: LogFlushConfig): Promise<LogFlushResult> {
  const shards = shardRows(config.lines, config.shards);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-log-flush-'));
  const dbOn = await ShardDb.open(path.join(dir, 'on'));
  const dbOff = await ShardDb.open(path.join(dir, 'off'));
  try {
    const on = new Mode('index on', new LogStore({ termIndex: true }), dbOn);
    const off = new Mode('index off', new LogStore({ termIndex: false }), dbOff);
    await on.store.load(dbOn);
    await off.store.load(dbOff);
    // One unrecorded warm-up flush each (JIT), then the rounds.
    await on.flush(shards);
    await off.flush(shards);
    const samples = new Map<Mode, Sample[]>([
      [on, []],
      [off, []],
    ]);
    const profiler = config.profileFile === null ? null : new Profiler();
    for (let r = 0; r < config.rounds; r++) {
      for (const m of r % 2 === 0 ? [on, off] : [off, on]) {
        const profiled = profiler !== null && m === on && r === 0;
        if (profiled) await profiler.start();
        (samples.get(m) as Sample[]).push(await m.flush(shards));
        if (profiled) await profiler.stop(config.profileFile as string);
      }
    }
    const per = LINES_PER_REPORT / config.lines;
    const figures = (m: Mode): ModeFigures => {
      const s = samples.get(m) as Sample[];
      return {
        wallMs: median(s.map((x) => x.wallMs)) * per,
        cpuMs: median(s.map((x) => x.cpuMs)) * per,
        encodeMs: median(s.map((x) => x.encodeMs)) * per,
        bytes: median(s.map((x) => x.bytes)) * per,
      };
    };
    const a = figures(on);
    const b = figures(off);
    return { on: a, off: b, ratio: { wall: a.wallMs / b.wallMs, cpu: a.cpuMs / b.cpuMs, encode: a.encodeMs / b.encodeMs } };
  } finally {
    await dbOn.close();
    await dbOff.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const config = parseLogFlushArgs(process.argv.slice(2));
  const r = await runLogFlush(config);
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ ...config, perLines: LINES_PER_REPORT, ...r, load: os.loadavg() }));
    return;
  }
  console.log(`${config.lines} lines, ${config.shards} shards, ${config.rounds} rounds (median), per ${LINES_PER_REPORT} lines; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const [name, s] of [
    ['index on', r.on],
    ['index off', r.off],
  ] as const) {
    console.log(`${name.padEnd(10)} wall ${s.wallMs.toFixed(0).padStart(6)} ms  cpu ${s.cpuMs.toFixed(0).padStart(6)} ms  writeFrozen ${s.encodeMs.toFixed(0).padStart(6)} ms  bytes ${(s.bytes / 1e6).toFixed(2)} MB`);
  }
  console.log(`on/off     wall ${r.ratio.wall.toFixed(2)}  cpu ${r.ratio.cpu.toFixed(2)}  writeFrozen ${r.ratio.encode.toFixed(2)}`);
  if (config.profileFile !== null) console.log(`profile of the first index-on round: ${config.profileFile}`);
}

if (process.argv[1]?.endsWith('log-flush.js') === true) await main();
