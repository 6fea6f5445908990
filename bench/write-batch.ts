/**
 * write-batch.ts — `node dist/bench/write-batch.js [--groups 16]
 * [--requests 8] [--entry-bytes 2048] [--ms 3000] [--rounds 3] [--heap]
 * [--sequence bp...] [--json]`:
 * the main thread's CPU per request and per shard part of the write path
 * between a request's parts and their acknowledgement (ShardWriter, the
 * propose, the driver's waiters), each part proposed on its own against one
 * proposeHereBatch per request, alternated round by round in one process.
 *
 * One MultiRaftDriver (one node, `--groups` single-voter groups, the real
 * file system in a temp dir under os.tmpdir(), removed afterwards) whose
 * state machine does nothing but answer the common apply result (so the
 * figure is the write path's, not a shard's apply); `--requests` closed-loop
 * clients, each writing one part of `--entry-bytes` to every group and
 * waiting for every part, then the next. The per-part side goes through
 * `proposeHere` written as ShardService's (its checks, the shard's in-flight
 * bytes in a try/finally around driver.propose); the batch side through
 * `proposeHereBatch` written as ShardService's (the same checks per entry,
 * then driver.proposeBatch). Prints requests per second, process CPU µs per
 * request and per part, and the median per-round CPU ratio batch/per-part;
 * `--heap` adds the bytes allocated per part in the measured window (the
 * inspector's sampling heap profiler, collected objects included: what the
 * write path, the driver and the WAL allocate; the bench's parts share one
 * payload); `--sequence bbpp` runs those sides in that order, one line
 * each (for a profile of one side). Never a CI gate.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtlpdbError } from '../src/errors.js';
import { NodeFileSystem } from '../src/fs/node-file-system.js';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { IngestLimits } from '../src/limits.js';
import { ShardWriter } from '../src/otlp/shard-writer.js';
import type { ShardWriterDeps } from '../src/otlp/shard-writer.js';
import type { ShardPart } from '../src/otlp/shard-parts.js';
import { MultiRaftDriver } from '../src/raft/driver/multi-raft.js';
import type { StateMachine } from '../src/raft/driver/state-machine.js';
import { NONE, StateRole } from '../src/raft/types.js';
import type { Entry, GroupId } from '../src/raft/types.js';
import { encodeApplyResult } from '../src/storage/shard/shard-records.js';
import { positiveIntArg, median } from './cli-args.js';

interface Config {
  readonly groups: number;
  readonly requests: number;
  readonly entryBytes: number;
  readonly durationMs: number;
  readonly rounds: number;
  readonly json: boolean;
  readonly heap: boolean;
}

interface HeapNode {
  readonly selfSize: number;
  readonly children: readonly HeapNode[];
}

function heapBytes(n: HeapNode): number {
  let sum = n.selfSize;
  for (const c of n.children) sum += heapBytes(c);
  return sum;
}

const EMPTY = new Uint8Array(0);
/** WARM_MS is how long each round runs before it is measured. */
const WARM_MS = 1000;
const COUNTS = { accepted: 32, refused: 0 };
const ZERO = { accepted: 0, refused: 0 };
const RESULT = encodeApplyResult({ duplicate: false, invalid: null, spans: ZERO, points: COUNTS, logs: ZERO, refusals: [] });

/** AnswerStateMachine applies nothing and answers every entry with the common result of a 32-point part. */
class AnswerStateMachine implements StateMachine {
  #applied = 0;
  apply(entries: readonly Entry[]): readonly Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const e of entries) {
      this.#applied = e.index;
      out.push(RESULT);
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
  readonly requests: number;
  readonly perSec: number;
  readonly cpuUsPerRequest: number;
  readonly cpuUsPerPart: number;
  readonly syncsPerRequest: number;
  /** heapBytesPerPart: bytes allocated in the window per part (`--heap`: the sampling heap profiler, collected objects included), else null. */
  readonly heapBytesPerPart: number | null;
}

/** Shards is ShardService's propose side over a bare driver: its leadership and in-flight checks, then the driver. */
class Shards {
  readonly #inflight = new Map<GroupId, number>();
  constructor(readonly driver: MultiRaftDriver) {}

  #refuse(group: GroupId, bytes: number): OtlpdbError | null {
    const st = this.driver.basicStatus(group);
    if (st === null) return new OtlpdbError('ERR_NOT_LEADER', `no replica of ${group}`, { group, leaderHint: NONE });
    if (st.role !== StateRole.Leader) return new OtlpdbError('ERR_NOT_LEADER', `not leading ${group}`, { group, leaderHint: st.lead });
    const held = this.#inflight.get(group) ?? 0;
    if (held + bytes > IngestLimits.shardInflightBytesMax) return new OtlpdbError('ERR_UNAVAILABLE', 'in flight', { group });
    return null;
  }

  #release(group: GroupId, bytes: number): void {
    const left = (this.#inflight.get(group) ?? 0) - bytes;
    if (left === 0) this.#inflight.delete(group);
    else this.#inflight.set(group, left);
  }

  async proposeHere(group: GroupId, entry: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const refused = this.#refuse(group, entry.length);
    if (refused !== null) throw refused;
    this.#inflight.set(group, (this.#inflight.get(group) ?? 0) + entry.length);
    try {
      return (await this.driver.propose(group, entry, timeoutMs)).result;
    } finally {
      this.#release(group, entry.length);
    }
  }

  proposeHereBatch(groups: readonly GroupId[], entries: readonly Uint8Array[], timeoutMs: number): Promise<readonly (Uint8Array | OtlpdbError)[]> {
    const out = new Array<Uint8Array | OtlpdbError>(groups.length);
    const gs: GroupId[] = [];
    const es: Uint8Array[] = [];
    const slots: number[] = [];
    for (let k = 0; k < groups.length; k++) {
      const group = groups[k] as GroupId;
      const entry = entries[k] as Uint8Array;
      const refused = this.#refuse(group, entry.length);
      if (refused !== null) {
        out[k] = refused;
        continue;
      }
      this.#inflight.set(group, (this.#inflight.get(group) ?? 0) + entry.length);
      gs.push(group);
      es.push(entry);
      slots.push(k);
    }
    if (gs.length === 0) return Promise.resolve(out);
    return this.driver.proposeBatch(gs, es, timeoutMs).then((results) => {
      for (let j = 0; j < slots.length; j++) {
        out[slots[j] as number] = results[j] as Uint8Array | OtlpdbError;
        this.#release(gs[j] as GroupId, (es[j] as Uint8Array).length);
      }
      return out;
    });
  }
}

async function round(c: Config, batched: boolean): Promise<RoundFigures> {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-bench-write-batch-'));
  const groups = Array.from({ length: c.groups }, (_, k) => ({ group: k + 1, voters: [1] }));
  const d = await MultiRaftDriver.open({
    nodeId: 1,
    fs: new NodeFileSystem(),
    dir: join(root, 'node'),
    transport: { send: () => undefined },
    rand: new SeededRand(7),
    clock: { nowMs: () => performance.now() },
    groups,
    makeStateMachine: () => new AnswerStateMachine(),
    scheduler: {
      every: (ms, fn) => {
        const timer = setInterval(fn, ms);
        return { cancel: () => clearInterval(timer) };
      },
    },
    tickMs: 10,
    snapshotEntries: 1_000_000,
  });
  try {
    for (const g of groups) d.campaign(g.group);
    while (!groups.every((g) => d.status(g.group)?.role === StateRole.Leader)) await new Promise((r) => setTimeout(r, 5));
    const shards = new Shards(d);
    const deps: ShardWriterDeps = {
      self: 1,
      nowMs: () => performance.now(),
      rand: new SeededRand(3),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      replicasOf: () => [1],
      localLeader: (shard) => {
        const st = d.basicStatus(shard);
        return st === null ? NONE : st.role === StateRole.Leader ? 1 : st.lead;
      },
      proposeHere: (shard, entry, ms) => shards.proposeHere(shard, entry, ms),
      call: () => Promise.reject(new OtlpdbError('ERR_UNAVAILABLE', 'one node')),
      ...(batched ? { proposeHereBatch: (gs: readonly GroupId[], es: readonly Uint8Array[], ms: number) => shards.proposeHereBatch(gs, es, ms) } : {}),
    };
    const writer = new ShardWriter(deps);
    const payload = new Uint8Array(c.entryBytes).fill(0x5a);
    let done = 0;
    let running = true;
    const loops: Promise<void>[] = [];
    for (let r = 0; r < c.requests; r++) {
      loops.push(
        (async () => {
          while (running) {
            // A new request's parts. The bytes are shared (nothing here stamps them, unlike ShardService), so the
            // garbage measured is the write path's own and not the bench's 32 KB of copies per request.
            const parts: ShardPart[] = groups.map((g, k) => ({ shard: g.group, part: k, parts: groups.length, rows: 32, bytes: payload }));
            const outcomes = await writer.write(parts, performance.now() + 10_000);
            for (const o of outcomes) if (!o.ok) throw o.error;
            done++;
          }
        })(),
      );
    }
    // The first WARM_MS are not measured: the code is still being compiled.
    await new Promise((r) => setTimeout(r, WARM_MS));
    const done0 = done;
    const session = c.heap ? new Session() : null;
    if (session !== null) {
      session.connect();
      await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    }
    const syncs0 = d.stats.walSyncs;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, c.durationMs));
    const measured = done - done0;
    running = false;
    const elapsedMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const syncs = d.stats.walSyncs - syncs0;
    let heapBytesPerPart: number | null = null;
    if (session !== null) {
      const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: HeapNode } };
      session.disconnect();
      heapBytesPerPart = Math.round(heapBytes(profile.head) / Math.max(1, measured * c.groups));
    }
    await Promise.all(loops);
    const us = cpu.user + cpu.system;
    return {
      requests: measured,
      perSec: Math.round((measured * 1000) / elapsedMs),
      cpuUsPerRequest: Math.round(us / Math.max(1, measured)),
      cpuUsPerPart: Number((us / Math.max(1, measured * c.groups)).toFixed(2)),
      syncsPerRequest: Number((syncs / Math.max(1, measured)).toFixed(3)),
      heapBytesPerPart,
    };
  } finally {
    await d.stop();
    await rm(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const c: Config = {
    groups: positiveIntArg('groups', 16),
    requests: positiveIntArg('requests', 8),
    entryBytes: positiveIntArg('entry-bytes', 2048),
    durationMs: positiveIntArg('ms', 3000),
    rounds: positiveIntArg('rounds', 3),
    json: process.argv.includes('--json'),
    heap: process.argv.includes('--heap'),
  };
  const each: RoundFigures[] = [];
  const batch: RoundFigures[] = [];
  const ratios: number[] = [];
  const si = process.argv.indexOf('--sequence');
  if (si >= 0) {
    // Rounds in the given order (b: batch, p: per part), each printed: a side alone, for a profile of it, or an order to test.
    for (const ch of process.argv[si + 1] ?? '') {
      const f = await round(c, ch === 'b');
      console.log(JSON.stringify({ batched: ch === 'b', ...f }));
    }
    return;
  }
  await round({ ...c, durationMs: Math.min(c.durationMs, 1000) }, true); // warm-up, not recorded
  for (let r = 0; r < c.rounds; r++) {
    // Alternate which side goes first, so a drift in the machine's load favours neither.
    const batchFirst = r % 2 === 1;
    const a = await round(c, batchFirst);
    const b = await round(c, !batchFirst);
    const e = batchFirst ? b : a;
    const p = batchFirst ? a : b;
    each.push(e);
    batch.push(p);
    ratios.push(p.cpuUsPerRequest / Math.max(1, e.cpuUsPerRequest));
  }
  const report = { bench: 'write-batch', config: c, perPart: each, batch, medianCpuRatio: Number(median(ratios).toFixed(3)) };
  if (c.json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(`write-batch: 1 node, ${c.groups} single-voter groups, ${c.requests} clients, parts of ${c.entryBytes} bytes, ${c.durationMs} ms x ${c.rounds} rounds`);
  for (let r = 0; r < c.rounds; r++) {
    const e = each[r] as RoundFigures;
    const p = batch[r] as RoundFigures;
    console.log(
      `round ${r + 1}: per part ${e.perSec} req/s, ${e.cpuUsPerRequest} µs CPU/request (${e.cpuUsPerPart}/part, ${e.syncsPerRequest} syncs/request${e.heapBytesPerPart === null ? '' : `, ${e.heapBytesPerPart} B/part`}) | batch ${p.perSec} req/s, ${p.cpuUsPerRequest} µs CPU/request (${p.cpuUsPerPart}/part, ${p.syncsPerRequest} syncs/request${p.heapBytesPerPart === null ? '' : `, ${p.heapBytesPerPart} B/part`})`,
    );
  }
  console.log(`median CPU per request, batch / per part: ${report.medianCpuRatio}`);
}

await main();
