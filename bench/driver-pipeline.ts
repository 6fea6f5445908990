/**
 * driver-pipeline.ts — `node dist/bench/driver-pipeline.js [--groups 16]
 * [--inflight 32] [--entry-bytes 16384] [--apply-us 400] [--think-ms 2] [--ms 3000]
 * [--rounds 3] [--json]`: proposals per second acknowledged by one
 * MultiRaftDriver (one node, single-voter groups, the real file system: a
 * temp dir under os.tmpdir(), removed afterwards), serial (`pipelined:
 * false`: sync, send, then apply) against pipelined (durable entries apply
 * while the iteration's fsync is in flight), alternated round by round in
 * one process.
 *
 * `--inflight` closed-loop proposers, each proposing to group k mod groups
 * and waiting for the acknowledgement, then a seeded 0..`--think-ms` pause
 * (a client's turnaround: without it every proposer joins the same batch and
 * no batch ever meets an older one to overlap with), before the next; the state machine
 * spends `--apply-us` of CPU per entry (a hash loop standing in for a
 * shard's apply), so the figure isolates the driver's overlap of apply and
 * fsync from the receivers' work. It prints both rates, the process CPU per
 * acknowledged proposal, fsyncs per second, the applies that ran during a
 * sync, and the median per-round ratio pipelined/serial (the figure to
 * compare across machines). Never a CI gate: timing lives here, not in tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from '../src/fs/node-file-system.js';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { MultiRaftDriver } from '../src/raft/driver/multi-raft.js';
import type { StateMachine } from '../src/raft/driver/state-machine.js';
import { StateRole } from '../src/raft/types.js';
import type { Entry } from '../src/raft/types.js';
import { positiveIntArg, median } from './cli-args.js';

interface Config {
  readonly groups: number;
  readonly inflight: number;
  readonly entryBytes: number;
  readonly applyUs: number;
  readonly thinkMs: number;
  readonly durationMs: number;
  readonly rounds: number;
  readonly json: boolean;
}

const EMPTY = new Uint8Array(0);

/** BusyStateMachine spends `applyUs` of CPU per entry (an FNV loop over its bytes, repeated) and keeps only a checksum. */
class BusyStateMachine implements StateMachine {
  #applied = 0;
  #sum = 0;
  readonly #applyUs: number;

  constructor(applyUs: number) {
    this.#applyUs = applyUs;
  }

  apply(entries: readonly Entry[]): readonly Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const e of entries) {
      const until = performance.now() + this.#applyUs / 1000;
      let h = this.#sum;
      do {
        for (let k = 0; k < e.data.length; k += 64) h = Math.imul(h ^ (e.data[k] as number), 16_777_619);
      } while (performance.now() < until);
      this.#sum = h;
      this.#applied = e.index;
      out.push(EMPTY);
    }
    return out;
  }

  snapshot(): Uint8Array {
    return EMPTY;
  }

  restore(_data: Uint8Array, index: number): void {
    this.#applied = index;
  }

  appliedIndex(): number {
    return this.#applied;
  }
}

interface RoundFigures {
  readonly acked: number;
  readonly perSec: number;
  readonly cpuUsPerAck: number;
  readonly syncsPerSec: number;
  readonly appliesDuringSync: number;
}

async function round(c: Config, pipelined: boolean): Promise<RoundFigures> {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-bench-pipeline-'));
  const groups = Array.from({ length: c.groups }, (_, k) => ({ group: k + 1, voters: [1] }));
  const d = await MultiRaftDriver.open({
    nodeId: 1,
    fs: new NodeFileSystem(),
    dir: join(root, 'node'),
    transport: { send: () => undefined },
    rand: new SeededRand(7),
    clock: { nowMs: () => performance.now() },
    groups,
    makeStateMachine: () => new BusyStateMachine(c.applyUs),
    scheduler: {
      every: (ms, fn) => {
        const timer = setInterval(fn, ms);
        return { cancel: () => clearInterval(timer) };
      },
    },
    tickMs: 10,
    snapshotEntries: 1_000_000,
    pipelined,
  });
  try {
    for (const g of groups) d.campaign(g.group);
    while (!groups.every((g) => d.status(g.group)?.role === StateRole.Leader)) await new Promise((r) => setTimeout(r, 5));
    const data = new Uint8Array(c.entryBytes).fill(0x5a);
    const rand = new SeededRand(11);
    let acked = 0;
    let running = true;
    const loops: Promise<void>[] = [];
    const syncs0 = d.stats.walSyncs;
    const during0 = d.stats.appliesDuringSync;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let k = 0; k < c.inflight; k++) {
      const group = (k % c.groups) + 1;
      loops.push(
        (async () => {
          while (running) {
            await d.propose(group, data);
            if (running) acked++;
            // A client's turnaround (network, decode) differs per request: seeded, 0..thinkMs.
            await new Promise((r) => setTimeout(r, rand.intn(c.thinkMs + 1)));
          }
        })(),
      );
    }
    await new Promise((r) => setTimeout(r, c.durationMs));
    running = false;
    const elapsedMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const syncs = d.stats.walSyncs - syncs0;
    const during = d.stats.appliesDuringSync - during0;
    await Promise.all(loops);
    return {
      acked,
      perSec: Math.round((acked * 1000) / elapsedMs),
      cpuUsPerAck: Math.round((cpu.user + cpu.system) / Math.max(1, acked)),
      syncsPerSec: Math.round((syncs * 1000) / elapsedMs),
      appliesDuringSync: during,
    };
  } finally {
    await d.stop();
    await rm(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const c: Config = {
    groups: positiveIntArg('groups', 16),
    inflight: positiveIntArg('inflight', 32),
    entryBytes: positiveIntArg('entry-bytes', 16_384),
    applyUs: positiveIntArg('apply-us', 400),
    thinkMs: positiveIntArg('think-ms', 2),
    durationMs: positiveIntArg('ms', 3000),
    rounds: positiveIntArg('rounds', 3),
    json: process.argv.includes('--json'),
  };
  const serial: RoundFigures[] = [];
  const piped: RoundFigures[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < c.rounds; r++) {
    const s = await round(c, false);
    const p = await round(c, true);
    serial.push(s);
    piped.push(p);
    ratios.push(p.perSec / Math.max(1, s.perSec));
  }
  const report = { bench: 'driver-pipeline', config: c, serial, pipelined: piped, medianRatio: Number(median(ratios).toFixed(2)) };
  if (c.json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(
    `driver-pipeline: 1 node, ${c.groups} single-voter groups, ${c.inflight} proposers (think 0..${c.thinkMs} ms), ${c.entryBytes}-byte entries, apply ${c.applyUs} µs/entry, ${c.durationMs} ms x ${c.rounds} rounds`,
  );
  for (let r = 0; r < c.rounds; r++) {
    const s = serial[r] as RoundFigures;
    const p = piped[r] as RoundFigures;
    console.log(
      `  round ${r + 1}: serial ${s.perSec}/s (${s.cpuUsPerAck} µs CPU/ack, ${s.syncsPerSec} fsync/s)  pipelined ${p.perSec}/s (${p.cpuUsPerAck} µs CPU/ack, ${p.syncsPerSec} fsync/s, ${p.appliesDuringSync} applies during a sync)  ratio ${(ratios[r] as number).toFixed(2)}`,
    );
  }
  console.log(`  median ratio pipelined/serial: ${report.medianRatio}`);
}

await main();
