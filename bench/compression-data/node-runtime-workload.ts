/**
 * node-runtime-workload.ts — a small, bounded CPU + allocation + file I/O load
 * that runs in the collecting process, so the runtime metrics of
 * node-runtime.ts move the way a busy server's do (GC pauses, heap spaces
 * growing and shrinking, event-loop delay, process CPU) instead of sitting
 * flat.
 *
 * Invariants: at most one file operation is in flight; the retained garbage is
 * a ring of at most `retainedBatchesMax` batches; stop() clears the timer,
 * waits for the in-flight I/O and removes the temporary directory. The load
 * pattern is seeded; its timing is the machine's, which is the point.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert } from '../../src/errors.js';
import { SeededRand } from '../../src/fs/seeded-rand.js';

/** WorkloadLimits are the workload's sizes: each tick hashes, allocates and sometimes writes this much. */
export const WorkloadLimits = {
  tickMs: 20,
  hashBlockBytes: 64 * 1024,
  hashRoundsPerTickMax: 12,
  objectsPerBatch: 2_000,
  retainedBatchesMax: 64,
  ioBytes: 256 * 1024,
  ioEveryTicks: 5,
} as const;

/** Workload is a running load; stop() ends it and cleans up. */
export interface Workload {
  stop(): Promise<void>;
  /** ticks counts the ticks run so far, for a report. */
  readonly ticks: number;
}

/** startWorkload starts the load in this process and returns its handle. */
export async function startWorkload(seed = 1): Promise<Workload> {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-cdata-'));
  const file = join(dir, 'io.bin');
  const rand = new SeededRand(seed);
  const block = Buffer.from(rand.bytes(WorkloadLimits.hashBlockBytes));
  const payload = Buffer.from(rand.bytes(WorkloadLimits.ioBytes));
  const retained: unknown[][] = [];
  let ticks = 0;
  let io: Promise<void> | undefined;
  let ioBytesRead = 0;

  const tick = (): void => {
    ticks++;
    // CPU: a varying number of hash rounds, so process CPU and event-loop delay wander.
    const rounds = 1 + rand.intn(WorkloadLimits.hashRoundsPerTickMax);
    let digest = block;
    for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(block).update(digest).digest();
    // Allocation: a batch of small objects into a bounded ring; evicted batches become garbage.
    const batch: unknown[] = [];
    for (let i = 0; i < WorkloadLimits.objectsPerBatch; i++) batch.push({ i, tick: ticks, tag: `t${i % 97}` });
    if (retained.length >= WorkloadLimits.retainedBatchesMax) retained.splice(0, 1 + rand.intn(retained.length));
    retained.push(batch);
    assert(retained.length <= WorkloadLimits.retainedBatchesMax, 'retained ring is bounded');
    // I/O: write then read a file, one operation at a time.
    if (io === undefined && ticks % WorkloadLimits.ioEveryTicks === 0) {
      io = (async () => {
        await writeFile(file, payload);
        ioBytesRead += (await readFile(file)).length;
      })().finally(() => {
        io = undefined;
      });
    }
  };
  const timer = setInterval(tick, WorkloadLimits.tickMs);

  return {
    get ticks() {
      return ticks;
    },
    async stop() {
      clearInterval(timer);
      if (io !== undefined) await io;
      retained.length = 0;
      await rm(dir, { recursive: true, force: true });
      assert(ioBytesRead % WorkloadLimits.ioBytes === 0, 'every read returned the whole file');
    },
  };
}
