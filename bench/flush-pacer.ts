/**
 * flush-pacer.ts — `node dist/bench/flush-pacer.js [--lines N] [--shards S]
 * [--rounds R] [--json]`: what the flush pacer (src/storage/shard/
 * flush-pacer.ts) costs a flush on an idle node, and what it leaves the
 * write path on a busy one, in one process.
 *
 * The rows are bench/log-flush.ts's (the query-logs bench's lines, decoded
 * by the node's decoder, split over S shards by stream). A run flushes every
 * shard's rows at once, each shard its own LogStore on its own LevelDB, all
 * sharing one pacer as a node's replicas do, in one of three modes:
 *
 * - `unpaced`: no pace function (each shard's flush one synchronous run);
 * - `paced`: the pacer as a node makes it (pauses only when other work ran
 *   in the turn it yields, ShardLimits.flushIdleWorkMsMax);
 * - `always`: the pacer with that idle test off (`idleWorkMsMax: 0`), the
 *   behaviour before it: every queued step waits out its pause.
 *
 * Each mode runs idle (nothing else on the event loop) and busy (a
 * competitor, standing for requests, Raft and apply, that wants the
 * thread all the time: a setImmediate loop of BUSY_TURN_MS of CPU a turn).
 * Printed per mode and condition, the median over the rounds (the order of
 * the modes rotates each round): the flush's wall ms and, when busy, the
 * competitor's share of that wall time. Timing never gates anything.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { assert } from '../src/errors.js';
import { LogStore } from '../src/storage/logs/log-store.js';
import type { LogRow } from '../src/storage/rows.js';
import { FlushPacer } from '../src/storage/shard/flush-pacer.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import { shardRows } from './log-flush.js';

const TENANT = 'bench';
/** BUSY_TURN_MS is the CPU the busy competitor spends in each of its event-loop turns. */
const BUSY_TURN_MS = 2;
const MODES = ['unpaced', 'paced', 'always'] as const;
type ModeName = (typeof MODES)[number];

/** Run is one flush of every shard in one mode and condition. */
interface Run {
  readonly wallMs: number;
  /** competitorMs is the CPU the competitor spent during the flush (0 when idle). */
  readonly competitorMs: number;
  /** pausedShare is the share of the pacer's turns that waited a pause (0 unpaced). */
  readonly pausedShare: number;
}

/** Competitor is the busy condition's stand-in for the write path: it takes BUSY_TURN_MS of every turn it gets. */
class Competitor {
  #on = true;
  #busyMs = 0;

  constructor() {
    const turn = (): void => {
      if (!this.#on) return;
      const t0 = performance.now();
      while (performance.now() - t0 < BUSY_TURN_MS) {
        // spin: CPU work the flush competes with
      }
      this.#busyMs += performance.now() - t0;
      setImmediate(turn);
    };
    setImmediate(turn);
  }

  /** stop ends the loop and returns the CPU ms it spent. */
  stop(): number {
    this.#on = false;
    return this.#busyMs;
  }
}

/** flushAll flushes every shard's rows into fresh stores in `dir`, all at once, sharing one pacer (or none). */
async function flushAll(dir: string, shards: readonly LogRow[][], mode: ModeName, busy: boolean): Promise<Run> {
  const dbs = await Promise.all(shards.map((_, i) => ShardDb.open(path.join(dir, `s${i}`))));
  try {
    const stores = dbs.map(() => new LogStore({ termIndex: true }));
    await Promise.all(stores.map((s, i) => s.load(dbs[i] as ShardDb)));
    const pacer = mode === 'unpaced' ? null : new FlushPacer(mode === 'always' ? { idleWorkMsMax: 0 } : {});
    const competitor = busy ? new Competitor() : null;
    const t0 = performance.now();
    await Promise.all(
      stores.map(async (store, i) => {
        const db = dbs[i] as ShardDb;
        store.add(TENANT, shards[i] as LogRow[], 0);
        store.freeze();
        const batch = new KvWriteBatch();
        await store.writeFrozen(pacer === null ? { batch, kv: db, flushIndex: 1 } : { batch, kv: db, flushIndex: 1, pace: () => pacer.turn() });
        await db.write(batch);
        store.dropFrozen();
      }),
    );
    const wallMs = performance.now() - t0;
    const competitorMs = competitor === null ? 0 : competitor.stop();
    return { wallMs, competitorMs, pausedShare: pacer === null || pacer.turns === 0 ? 0 : pacer.pauses / pacer.turns };
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >>> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** FlushPacerFigures are one mode and condition's medians. */
export interface FlushPacerFigures {
  readonly mode: ModeName;
  readonly busy: boolean;
  readonly wallMs: number;
  /** competitorShare is the competitor's CPU over the flush's wall time (0 when idle). */
  readonly competitorShare: number;
  /** pausedShare is the share of turns that waited a pause. */
  readonly pausedShare: number;
}

/** runFlushPacer runs every mode idle and busy, `rounds` times each, in temp dirs it removes. */
export async function runFlushPacer(lines: number, shardCount: number, rounds: number): Promise<FlushPacerFigures[]> {
  const shards = shardRows(lines, shardCount);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-flush-pacer-'));
  const runs = new Map<string, Run[]>();
  try {
    let n = 0;
    // One unrecorded warm-up flush (JIT), then the rounds.
    await flushAll(path.join(root, `r${n++}`), shards, 'unpaced', false);
    for (let r = 0; r < rounds; r++) {
      for (const busy of [false, true]) {
        for (let k = 0; k < MODES.length; k++) {
          const mode = MODES[(k + r) % MODES.length] as ModeName;
          const run = await flushAll(path.join(root, `r${n++}`), shards, mode, busy);
          const key = `${mode}/${busy}`;
          runs.set(key, [...(runs.get(key) ?? []), run]);
        }
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  const out: FlushPacerFigures[] = [];
  for (const busy of [false, true]) {
    for (const mode of MODES) {
      const rs = runs.get(`${mode}/${busy}`) ?? [];
      assert(rs.length === rounds, 'one run a round');
      out.push({ mode, busy, wallMs: median(rs.map((x) => x.wallMs)), competitorShare: median(rs.map((x) => x.competitorMs / x.wallMs)), pausedShare: median(rs.map((x) => x.pausedShare)) });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    if (i < 0) return fallback;
    const v = Number(argv[i + 1]);
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} takes a positive integer; usage: flush-pacer.js [--lines N] [--shards S] [--rounds R] [--json]`);
    return v;
  };
  const lines = flag('--lines', 200_000);
  const shards = flag('--shards', 4);
  const rounds = flag('--rounds', 3);
  const figures = await runFlushPacer(lines, shards, rounds);
  if (argv.includes('--json')) {
    console.log(JSON.stringify({ lines, shards, rounds, figures }));
    return;
  }
  console.log(`flush-pacer: ${lines.toLocaleString('en-US')} log lines over ${shards} shards, flushed at once; median of ${rounds} rounds; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const base = (busy: boolean): number => figures.find((f) => f.mode === 'unpaced' && f.busy === busy)?.wallMs ?? NaN;
  console.log('  condition  mode        wall ms   /unpaced   competitor share   turns paused');
  for (const f of figures) {
    const cond = f.busy ? 'busy' : 'idle';
    const share = f.busy ? `${(100 * f.competitorShare).toFixed(0)}%` : '-';
    console.log(`  ${cond.padEnd(9)}  ${f.mode.padEnd(9)}  ${f.wallMs.toFixed(0).padStart(8)}  ${(f.wallMs / base(f.busy)).toFixed(2).padStart(8)}x  ${share.padStart(16)}  ${`${(100 * f.pausedShare).toFixed(0)}%`.padStart(13)}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === `file://${path.resolve(process.argv[1])}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
